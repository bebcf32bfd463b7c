"""Reason codes a retention agent can act on, in Portuguese.

Each factor is judged on a value of the member's own (`factor_values`): windows count only the
days he was a member, and a value that cannot be measured (no completed visit, too little
history) is no reason at all. For each factor, how far the member sits on the risky side of
members who did NOT cancel (their distribution in the training set, kept with the model),
weighted by how much the model relies on the factor (the factor's features shuffled together on
the held-out set). The three strongest factors where the member is worse than most staying
members become the reasons. A member the caller must explain (the "alto" tier) for whom no
factor passes gets the one he is furthest out on among those whose sentence is true of him.
It is vectorised, so explaining 100,000 scores costs about as much as writing them.
"""

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.features import LABEL, fill_missing

GRID = np.linspace(0, 1, 101)
# A factor is a reason only when the member is worse than this share of members who stayed.
MIN_SIGNAL = 0.75
TOP_REASONS = 3
# The windows of the feature macro (dbt/macros/churn_feature_rows.sql): the last 4 weeks, the
# 8 weeks before them, and the 8 weeks of the regularity count.
RECENT_DAYS = 28
EARLIER_DAYS = 56
REGULARITY_WEEKS = 8
# A rate over fewer days than this says more about the calendar than about the member.
MIN_HISTORY_DAYS = 14


@dataclass(frozen=True)
class Factor:
    """`feature` is the one the factor's value is read from (`factor_values`: visits per week
    from the 28-day count, for instance); `features_weighted` are the related features the model
    may lean on instead, shuffled together to weigh the factor (`training.factor_importance`)."""

    code: str
    feature: str
    riskier_when: str  # "lower" or "higher"
    features_weighted: tuple[str, ...]


FACTORS = (
    Factor(
        "queda_visitas",
        "razao_tendencia",
        "lower",
        (
            "razao_tendencia",
            "razao_tendencia_7_28",
            "tendencia_visitas_semana",
            "visitas_8_semanas_anteriores",
        ),
    ),
    Factor("inatividade", "dias_desde_ultima_visita", "higher", ("dias_desde_ultima_visita",)),
    Factor(
        "baixa_frequencia",
        "visitas_28_dias",
        "lower",
        ("visitas_7_dias", "visitas_14_dias", "visitas_28_dias", "visitas_56_dias"),
    ),
    Factor(
        "fim_contrato",
        "dias_para_fim_contrato",
        "lower",
        ("dias_para_fim_contrato", "fracao_contrato_decorrida", "duracao_meses"),
    ),
    Factor("pouco_tempo_de_casa", "dias_de_casa", "lower", ("dias_de_casa",)),
    Factor(
        "irregularidade",
        "regularidade_8_semanas",
        "lower",
        ("regularidade_8_semanas", "regularidade_4_semanas"),
    ),
    Factor(
        "treinos_curtos",
        "duracao_media_minutos",
        "lower",
        ("duracao_media_minutos", "duracao_media_28_dias"),
    ),
)

Rule = Callable[[pd.Series], pd.Series]

# Beyond being unusual, a reason must be worth a call: a 4 % dip or 3 days away is not.
# Each rule reads the factor's value (`factor_values`).
ACTIONABLE: dict[str, Rule] = {
    "queda_visitas": lambda ratio: ratio <= 0.8,
    "inatividade": lambda days: days >= 7,
    "baixa_frequencia": lambda weekly: weekly < 2,
    "fim_contrato": lambda days: days <= 30,
    "pouco_tempo_de_casa": lambda days: days <= 120,
    "irregularidade": lambda share: share <= 0.5,
    "treinos_curtos": lambda minutes: minutes < 40,
}

# When the factor's sentence is true of the member, whatever the thresholds: the fallback for a
# high-risk member may only say these. Sentences comparing him with members who stay need him
# on the risky side of the typical (median) staying member.
TRUE_OF: dict[str, Callable[[pd.Series, float], pd.Series]] = {
    "queda_visitas": lambda ratio, _typical: ratio <= 0.99,  # fell, by at least 1 %
    "inatividade": lambda days, _typical: days >= 2,  # not "joined today, never came"
    "baixa_frequencia": lambda weekly, typical: weekly < typical,
    "fim_contrato": lambda days, _typical: days >= 1,
    # the sentence says "the first months"
    "pouco_tempo_de_casa": lambda days, _typical: ACTIONABLE["pouco_tempo_de_casa"](days),
    "irregularidade": lambda share, _typical: share < 1,
    "treinos_curtos": lambda minutes, typical: minutes < typical,
}


def _days_in_window(tenure: float, window_start: int, window_days: int) -> float:
    """Days of a window (starting `window_start` days back, `window_days` long) the member was a
    member of; his joining day counts (its visits are in the windows)."""
    return min(max(tenure + 1 - window_start, 0), window_days)


def _days_in_window_array(tenure: np.ndarray, window_start: int, window_days: int) -> np.ndarray:
    """`_days_in_window` of every member at once (a test holds the two equal)."""
    return np.clip(tenure + 1 - window_start, 0, window_days)


def _regularity_weeks(tenure: float) -> int:
    """Weeks of the regularity window he was a member in (a started week counts)."""
    return min(math.floor(tenure / 7) + 1, REGULARITY_WEEKS)


def _regularity_weeks_array(tenure: np.ndarray) -> np.ndarray:
    """`_regularity_weeks` of every member at once (a test holds the two equal)."""
    return np.minimum(np.floor(tenure / 7) + 1, REGULARITY_WEEKS)


def factor_values(features: pd.DataFrame) -> pd.DataFrame:
    """Each factor's value, as the reasons judge it (one column per factor code).

    Visits per week and their trend are rates over the days he was a member in each window;
    below `MIN_HISTORY_DAYS` of membership in a window they are not measured (NaN), so a member
    who joined last week is neither "low frequency" nor "irregular" for weeks before he joined.
    The mean duration of a member with no completed visit (a visit in progress, missed exits)
    stays unknown instead of the model's 0."""
    return _factor_values(features, fill_missing(features))


def _factor_values(features: pd.DataFrame, filled: pd.DataFrame) -> pd.DataFrame:
    """`factor_values`, given `fill_missing(features)` (`explain` needs both: filling once)."""
    tenure = filled["dias_de_casa"].to_numpy(float)
    recent_days = _days_in_window_array(tenure, 0, RECENT_DAYS)
    earlier_days = _days_in_window_array(tenure, RECENT_DAYS, EARLIER_DAYS)
    recent = filled["visitas_28_dias"].to_numpy(float)
    earlier = filled["visitas_8_semanas_anteriores"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        weekly_now = recent / (recent_days / 7)
        weekly_before = earlier / (earlier_days / 7)
        trend = np.where(
            (earlier_days >= MIN_HISTORY_DAYS) & (earlier > 0), weekly_now / weekly_before, np.nan
        )
        weeks_with_visit = filled["regularidade_8_semanas"].to_numpy(float) * REGULARITY_WEEKS
        regularity = np.minimum(weeks_with_visit / _regularity_weeks_array(tenure), 1.0)
    duration = pd.to_numeric(features["duracao_media_minutos"], errors="coerce")
    return pd.DataFrame(
        {
            "queda_visitas": trend.round(3),
            "inatividade": filled["dias_desde_ultima_visita"].to_numpy(float),
            "baixa_frequencia": np.where(
                recent_days >= MIN_HISTORY_DAYS, weekly_now.round(2), np.nan
            ),
            "fim_contrato": filled["dias_para_fim_contrato"].to_numpy(float),
            "pouco_tempo_de_casa": tenure,
            "irregularidade": np.where(
                recent_days >= MIN_HISTORY_DAYS, regularity.round(3), np.nan
            ),
            "treinos_curtos": duration.to_numpy(float),
        },
        index=features.index,
    )


def reason_reference(train: pd.DataFrame, factor_weights: dict[str, float]) -> dict[str, Any]:
    """What is stored with the model: quantiles of staying members and each factor's weight
    (how much the model relies on the factor: `training.factor_importance`). Staying members
    whose value is not measured are left out of that factor's quantiles."""
    stayed = factor_values(train[train[LABEL] == 0])
    weights = {f.code: max(0.0, float(factor_weights.get(f.code, 0.0))) for f in FACTORS}
    if sum(weights.values()) <= 0:
        weights = dict.fromkeys(weights, 1.0)
    known = {f.code: stayed[f.code].dropna().to_numpy(float) for f in FACTORS}
    return {
        "quantis": {
            code: np.quantile(values, GRID).round(4).tolist() if len(values) else []
            for code, values in known.items()
        },
        "medianas": {
            code: float(np.median(values)) if len(values) else None
            for code, values in known.items()
        },
        "pesos": weights,
    }


def _signal(values: np.ndarray, quantiles: list[float], riskier_when: str) -> np.ndarray:
    """Share of staying members the member is worse than (0..1); 0 where the value is unknown
    or no staying member had one."""
    grid = np.asarray(quantiles)
    if len(grid) == 0:
        return np.zeros(len(values))
    if riskier_when == "higher":
        share = np.searchsorted(grid, values, side="left") / len(grid)
    else:
        share = 1 - np.searchsorted(grid, values, side="right") / len(grid)
    return np.where(np.isnan(values), 0.0, share)


def _number(value: float, decimals: int = 1) -> str:
    return f"{value:.{decimals}f}".replace(".", ",")


def _whole(value: float) -> str:
    """An integer in Brazilian format: 1.234."""
    return f"{round(value):,}".replace(",", ".")


def _days(days: int) -> str:
    return "1 dia" if days == 1 else f"{_whole(days)} dias"


def describe(code: str, row: dict[str, float], typical: float) -> str:
    """The sentence for one factor. `row` holds the member's features and his factor values
    (`factor_values`, under the factor codes); `typical` is the staying members' median."""
    return _sentence(
        code, row[code], row["dias_de_casa"], row["regularidade_8_semanas"], typical=typical
    )


def _sentence(code: str, value: float, tenure: float, regularity: float, *, typical: float) -> str:
    """`describe`, from the only numbers a sentence reads: the factor's value, the member's
    `dias_de_casa` and `regularidade_8_semanas` (filled, as the model reads them), so `explain`
    need not build a row per member."""
    if code == "queda_visitas":
        return f"visitas caíram {1 - value:.0%} nas últimas 4 semanas"
    if code == "inatividade":
        days = int(value)
        if days > tenure:
            return "nenhuma visita desde a matrícula"
        return f"sem visitas há {_days(days)}"
    if code == "baixa_frequencia":
        since = (
            "no último mês"
            if _days_in_window(tenure, 0, RECENT_DAYS) == RECENT_DAYS
            else ("desde a matrícula")
        )
        return f"{_number(value)} visitas por semana {since} (quem fica faz {_number(typical)})"
    if code == "fim_contrato":
        days = int(value)
        return f"contrato vence em {_days(days)}" if days != 1 else "contrato vence amanhã"
    if code == "pouco_tempo_de_casa":
        days = int(value)
        since = "matriculado hoje" if days == 0 else f"matriculado há {_days(days)}"
        return f"{since} (os primeiros meses concentram os cancelamentos)"
    if code == "irregularidade":
        trained = round(regularity * REGULARITY_WEEKS)
        weeks = _regularity_weeks(tenure)
        if weeks == REGULARITY_WEEKS:
            return f"treinou em {trained} das últimas {weeks} semanas"
        return f"treinou em {trained} das {weeks} semanas desde a matrícula"
    if code == "treinos_curtos":
        return (
            f"treinos curtos: {round(value)} min em média (quem fica treina {round(typical)} min)"
        )
    raise ValueError(f"unknown factor {code}")


def _furthest_out(signals: np.ndarray, weights: np.ndarray, truthful: np.ndarray) -> np.ndarray:
    """Per row, the factor with a true sentence the member is furthest out on (ties: the one the
    model relies on more), or -1 when no sentence is true of him. Signals move in steps of 1 %,
    so the weight term below that step only breaks ties."""
    tie_break = 1e-3 * weights / max(float(weights.max()), 1e-12)
    key = np.where(truthful, signals + tie_break, -np.inf)
    return np.where(truthful.any(axis=1), key.argmax(axis=1), -1)


def explain(
    features: pd.DataFrame,
    reference: dict[str, Any],
    must_explain: np.ndarray | None = None,
) -> list[list[dict[str, Any]]]:
    """Up to three reasons per row, strongest first: [{"fator", "descricao", "valor"}].

    Rows where `must_explain` is true (the "alto" tier) get at least one reason when any
    factor's sentence is true of them (the contract end always is)."""
    filled = fill_missing(features)
    values = _factor_values(features, filled)
    codes = [f.code for f in FACTORS]
    judged = values[codes].to_numpy(float)
    signals = np.column_stack(
        [
            _signal(judged[:, j], reference["quantis"][f.code], f.riskier_when)
            for j, f in enumerate(FACTORS)
        ]
    )
    weights = np.array([reference["pesos"][c] for c in codes])
    typical = {
        c: np.nan if reference["medianas"][c] is None else reference["medianas"][c] for c in codes
    }
    truthful = np.column_stack([TRUE_OF[c](values[c], typical[c]).to_numpy(bool) for c in codes])
    actionable = np.column_stack([ACTIONABLE[c](values[c]).to_numpy(bool) for c in codes])
    passes = (signals >= MIN_SIGNAL) & actionable & truthful
    strength = np.where(passes, signals * weights, 0.0)
    unexplained = strength.max(axis=1, initial=0.0) <= 0
    if must_explain is not None:
        fallback = np.where(
            np.asarray(must_explain, bool) & unexplained,
            _furthest_out(signals, weights, truthful),
            -1,
        )
    else:
        fallback = np.full(len(filled), -1)
    top = np.argsort(-strength, axis=1, kind="stable")[:, :TOP_REASONS]
    # The factors each member is given, strongest first (-1: none): those that pass, else his
    # fallback (a member with a fallback has none that passes).
    given = np.where(np.take_along_axis(strength, top, axis=1) > 0, top, -1)
    given[:, 0] = np.where(fallback >= 0, fallback, given[:, 0])
    # Every reason of every member at once, member by member and strongest first (np.nonzero
    # reads row by row). The sentences are written one by one, from plain Python numbers
    # (`tolist`): indexing numpy arrays in the loop and formatting numpy scalars cost more than
    # the sentences themselves.
    member, rank = np.nonzero(given >= 0)
    factor = given[member, rank]
    reasons = [
        {
            "fator": codes[j],
            "descricao": _sentence(codes[j], value, tenure, regularity, typical=typical[codes[j]]),
            "valor": round(value, 3),
        }
        for j, value, tenure, regularity in zip(
            factor.tolist(),
            judged[member, factor].tolist(),
            filled["dias_de_casa"].to_numpy(float)[member].tolist(),
            filled["regularidade_8_semanas"].to_numpy(float)[member].tolist(),
            strict=True,
        )
    ]
    bounds = [0, *np.cumsum((given >= 0).sum(axis=1)).tolist()]
    return [reasons[start:end] for start, end in itertools.pairwise(bounds)]
