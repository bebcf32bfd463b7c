"""The simulator's parameters and the names its members get. Why each value: docs/simulator.md
(each constant is named in its table)."""

from datetime import timedelta

# --- parameters (why each value: docs/simulator.md) ------------------------------------------

PLANS = (
    # nome, valor_mensal, duracao_meses, share of new members
    ("Mensal", "129.90", 1, 0.45),
    ("Trimestral", "114.90", 3, 0.25),
    ("Semestral", "104.90", 6, 0.15),
    ("Anual", "89.90", 12, 0.15),
)
# Relative number of new members per calendar month (January resolutions, December holidays).
JOIN_SEASON = (1.8, 1.3, 1.2, 1.0, 0.95, 0.85, 1.0, 1.05, 1.0, 0.95, 0.85, 0.5)
# Attendance multiplier per calendar month.
VISIT_SEASON = (1.15, 1.08, 1.05, 1.0, 1.0, 0.95, 0.92, 1.0, 1.0, 1.0, 0.95, 0.8)
# The seed's behaviour profiles: share, base visits/week range, median visit minutes range.
PROFILES = (
    ("fiel", 0.25, (2.8, 4.5), (55, 90)),
    ("regular", 0.35, (1.8, 3.0), (45, 75)),
    ("casual", 0.20, (1.0, 2.0), (35, 60)),
    ("em_risco", 0.15, (0.7, 1.4), (30, 55)),
    ("desistente", 0.05, (0.4, 1.0), (25, 45)),
)
HOUR_BANDS = ((6.5, 0.30), (12.0, 0.20), (18.5, 0.50))  # centre hour, share of members
WALK_SIGMA = 0.12  # weekly random walk of log(engagement)
WALK_PULL = 0.08  # mean reversion towards the member's base engagement
DECLINE_START = 0.006  # weekly chance of starting to disengage, before multipliers
DECLINE_FACTOR = (0.55, 0.8)  # engagement multiplier per week while disengaging
DECLINE_RECOVERY = 0.07  # weekly chance that a disengaging member picks up again
EARLY_WEEKS = 13  # the first 3 months: more disengagement
EARLY_MULT = 2.5
HAZARD_LOW_ATTENDANCE = 0.22  # weekly cancellation hazard at zero visits in the last 3 weeks
HAZARD_VISIT_DECAY = 1.8  # each visit a week (3-week average) divides it by e^1.8, about 6
HAZARD_ABRUPT = 0.0012  # weekly hazard unrelated to attendance (moving, injury, money)
RENEWAL_DAYS = 10  # the window before a contract renewal when members decide
RENEWAL_MULT = 3.0  # hazard multiplier in that window
MID_CONTRACT_MULT = 0.35  # hazard multiplier mid-contract for plans of 3+ months
DURATION_SIGMA = 0.3  # lognormal spread of a visit around the member's median
MISSED_EXIT = 0.03  # kiosk misses the exit
DOUBLE_TAP = 0.015  # a second entry a few seconds after the first
DAY = timedelta(days=1)
WEEK = timedelta(days=7)

FIRST = [
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Elisa",
    "Fábio",
    "Gabriela",
    "Heitor",
    "Isabela",
    "João",
    "Karina",
    "Lucas",
    "Marina",
    "Nicolas",
    "Olívia",
    "Pedro",
    "Renata",
    "Sérgio",
    "Tatiane",
    "Vitor",
    "Beatriz",
    "Caio",
    "Daniela",
    "Eduardo",
    "Fernanda",
    "Gustavo",
    "Helena",
    "Igor",
    "Juliana",
    "Leonardo",
    "Mariana",
    "Rafael",
    "Sofia",
    "Thiago",
    "Larissa",
    "Mateus",
    "Camila",
    "André",
]
LAST = [
    "Silva",
    "Souza",
    "Oliveira",
    "Santos",
    "Pereira",
    "Lima",
    "Costa",
    "Ferreira",
    "Almeida",
    "Ribeiro",
    "Carvalho",
    "Gomes",
    "Martins",
    "Araújo",
    "Rocha",
    "Barbosa",
    "Cardoso",
    "Teixeira",
    "Moreira",
    "Mendes",
    "Nunes",
    "Vieira",
    "Monteiro",
    "Freitas",
]
