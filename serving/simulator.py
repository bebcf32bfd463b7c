"""A gym simulated as a process, loaded through the real ingestion paths (`gympulse simulate`).

Churn here is an outcome, never an input: every member has a latent engagement (visits per week)
that moves week to week; a member may slide into a disengaging phase; the weekly cancellation
hazard is computed from the visits the member actually made in the last weeks, plus tenure,
contract renewal and a small abrupt-exit term. The model and its parameters are documented in
docs/simulator.md.

Two entry points:

- `generate(...)` writes planos.csv, alunos.csv and checkins.csv in the history-import format
  (streamed, deterministic for a seed and an end instant); `simulate_gym(...)` then loads them
  with `serving.history_import.import_history` and may replay the last days through the live
  bulk check-in route.
- `create_synthetic_student(...)` writes one member with a chosen profile and its history to
  PostgreSQL in one transaction, so its risk can be scored at once (the seed's "aluno sintético").
"""

from __future__ import annotations

import bisect
import csv
import math
import random
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from serving.history_import import ALUNOS_COLUMNS, CHECKINS_COLUMNS, PLANOS_COLUMNS

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


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


@dataclass
class Summary:
    members: int = 0
    cancelled: int = 0
    checkin_rows: int = 0
    replay_events: int = 0
    seed: int = 0
    seconds: float = 0.0
    joins_by_month: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplayVisit:
    aluno_ref: str
    entrada: datetime
    saida: datetime | None


def _month_start(day: date, months_back: int) -> date:
    month = day.month - 1 - months_back
    return date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


def _weighted(rng: random.Random, cumulative: list[float]) -> int:
    return bisect.bisect_right(cumulative, rng.random() * cumulative[-1])


def _cumulative(weights) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _months_between(start: date, day: date) -> int:
    return (day.year - start.year) * 12 + day.month - start.month - (day.day < start.day)


def generate(
    out_dir: Path,
    *,
    members: int,
    months: int,
    seed: int,
    end: datetime | None = None,
    tz: str = "America/Sao_Paulo",
    replay_days: int = 0,
    progress: bool = True,
) -> tuple[Summary, list[ReplayVisit]]:
    """Write planos.csv, alunos.csv and checkins.csv to `out_dir`.

    Deterministic for (members, months, seed, end, tz, replay_days). Check-ins of still-active
    members in the last `replay_days` days are returned instead of written, for the live API.
    """
    started = time.monotonic()
    zone = ZoneInfo(tz)
    end = (end or datetime.now(UTC)).astimezone(zone).replace(microsecond=0)
    end_day = end.date()
    start_day = _month_start(end_day, months)
    # The API accepts events up to 30 days old: keep an hour of margin for the time it takes.
    replay_from = None
    if replay_days:
        replay_from = max(end - timedelta(days=replay_days), end - timedelta(days=30, hours=-1))
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = Summary(seed=seed)

    with (out_dir / "planos.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(PLANOS_COLUMNS)
        for nome, valor, meses, _ in PLANS:
            writer.writerow([nome, valor, meses])

    days = [start_day + timedelta(days=i) for i in range((end_day - start_day).days)]
    join_cumulative = _cumulative(JOIN_SEASON[d.month - 1] for d in days)
    plan_cumulative = _cumulative(p[3] for p in PLANS)
    profile_cumulative = _cumulative(p[1] for p in PROFILES)
    band_cumulative = _cumulative(b[1] for b in HOUR_BANDS)
    replay: list[ReplayVisit] = []

    bar = _progress(progress, members)
    with (
        (out_dir / "alunos.csv").open("w", newline="", encoding="utf-8") as fa,
        (out_dir / "checkins.csv").open("w", newline="", encoding="utf-8") as fc,
        bar as tracker,
    ):
        alunos = csv.writer(fa, lineterminator="\n")
        checkins = csv.writer(fc, lineterminator="\n")
        alunos.writerow(ALUNOS_COLUMNS)
        checkins.writerow(CHECKINS_COLUMNS)
        for index in range(1, members + 1):
            ref = f"SIM{seed}-{index:07d}"
            joined_day = days[_weighted(rng, join_cumulative)]
            plan = PLANS[_weighted(rng, plan_cumulative)]
            summary.joins_by_month[joined_day.month] = (
                summary.joins_by_month.get(joined_day.month, 0) + 1
            )
            joined_at, visits, cancelled_at = _member_history(
                rng,
                joined_day=joined_day,
                end=end,
                zone=zone,
                contract_months=plan[2],
                profile=PROFILES[_weighted(rng, profile_cumulative)],
                hour_centre=HOUR_BANDS[_weighted(rng, band_cumulative)][0],
            )
            first, last = rng.choice(FIRST), rng.choice(LAST)
            birth = end_day - timedelta(days=int(365.25 * (17 + rng.weibullvariate(14, 1.6))))
            alunos.writerow(
                [
                    ref,
                    f"{first} {last}",
                    f"{_ascii(first)}.{_ascii(last)}.{seed}.{index}@exemplo.com.br",
                    f"+55 11 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
                    min(birth, end_day - timedelta(days=365 * 16)).isoformat(),
                    plan[0],
                    joined_at.isoformat(),
                    cancelled_at.isoformat() if cancelled_at else "",
                ]
            )
            summary.members += 1
            summary.cancelled += cancelled_at is not None
            for entrada, saida, double_tap in visits:
                if replay_from and cancelled_at is None and entrada >= replay_from:
                    replay.append(ReplayVisit(ref, entrada, saida))
                    if double_tap:
                        replay.append(ReplayVisit(ref, entrada + double_tap, None))
                    continue
                checkins.writerow([ref, entrada.isoformat(), saida.isoformat() if saida else ""])
                summary.checkin_rows += 1
                if double_tap:
                    checkins.writerow([ref, (entrada + double_tap).isoformat(), ""])
                    summary.checkin_rows += 1
            if tracker is not None and index % 500 == 0:
                tracker.update(0, completed=index)
        if tracker is not None:
            tracker.update(0, completed=members)
    summary.replay_events = sum(2 if v.saida else 1 for v in replay)
    summary.seconds = time.monotonic() - started
    return summary, replay


class _NoBar:
    def __enter__(self):
        return None

    def __exit__(self, *exc) -> None:
        return None


class _Bar:
    def __init__(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("generating members"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self.total = total

    def __enter__(self):
        self.progress.__enter__()
        task = self.progress.add_task("generate", total=self.total)
        progress = self.progress

        class Tracker:
            @staticmethod
            def update(_unused: int, completed: int) -> None:
                progress.update(task, completed=completed)

        return Tracker

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)


def _progress(show: bool, total: int):
    return _Bar(total) if show else _NoBar()


def _member_history(
    rng: random.Random,
    *,
    joined_day: date,
    end: datetime,
    zone: ZoneInfo,
    contract_months: int,
    profile: tuple,
    hour_centre: float,
) -> tuple[datetime, list[tuple[datetime, datetime | None, timedelta | None]], datetime | None]:
    """One member from joining to cancelling (or to `end`): (joined_at, visits, cancelled_at).

    Each visit is (entrada, saida or None when the kiosk missed it, double-tap offset or None).
    """
    _, _, rate_range, minutes_range = profile
    base = rng.uniform(*rate_range)
    log_base = math.log(base)
    log_rate = log_base + rng.gauss(0, 0.15)
    median_minutes = rng.uniform(*minutes_range)
    hour = hour_centre + rng.gauss(0, 1.0)
    # Preferred weekdays: 3 to 5 days weigh 1, the others 0.25.
    preferred = set(rng.sample(range(7), rng.randint(3, 5)))
    day_weights = [1.0 if d in preferred else 0.25 for d in range(7)]
    weight_total = sum(day_weights)
    joined_at = datetime.combine(joined_day, datetime.min.time(), zone) + timedelta(
        seconds=rng.randrange(8 * 3600, 20 * 3600)
    )
    end_day = end.date()
    visits: list[tuple[datetime, datetime | None, timedelta | None]] = []
    weekly_counts: list[int] = []
    declining = False
    decline_factor = 1.0
    week_start = joined_day
    week = 0
    cancelled_at = None
    while week_start <= end_day:
        # 1. Behaviour: the latent engagement moves, maybe into (or out of) a decline.
        if week:
            log_rate += WALK_PULL * (log_base - log_rate) + rng.gauss(0, WALK_SIGMA)
            if declining:
                decline_factor *= rng.uniform(*DECLINE_FACTOR)
                if rng.random() < DECLINE_RECOVERY:
                    declining = False
            else:
                decline_factor = min(1.0, decline_factor * 1.25)
                start = DECLINE_START * (EARLY_MULT if week < EARLY_WEEKS else 1.0)
                start *= 2.0 if base < 1.2 else 1.0
                if rng.random() < start:
                    declining = True
        # 2. The cancellation hazard, driven by what the member did in the last 3 weeks.
        cancel_day = None
        if week >= 2:
            recent = sum(weekly_counts[-3:]) / 3
            hazard = HAZARD_ABRUPT + HAZARD_LOW_ATTENDANCE * math.exp(-HAZARD_VISIT_DECAY * recent)
            months_in = _months_between(joined_day, week_start)
            if _days_to_renewal(joined_day, week_start, contract_months) <= RENEWAL_DAYS:
                hazard *= RENEWAL_MULT
            elif contract_months >= 3:
                hazard *= MID_CONTRACT_MULT
            if months_in < 3:
                hazard *= 1.5
            if rng.random() < hazard:
                cancel_day = week_start + timedelta(days=rng.randrange(7))
        # 3. This week's visits, day by day, until the cancellation or the end.
        season = VISIT_SEASON[week_start.month - 1]
        rate = math.exp(log_rate) * decline_factor * season
        count = 0
        for offset in range(7):
            day = week_start + timedelta(days=offset)
            if day > end_day or (cancel_day and day >= cancel_day):
                break
            if rng.random() >= min(0.95, rate * day_weights[day.weekday()] / weight_total):
                continue
            if rng.random() < 0.15:
                start_hour = rng.uniform(6, 21.5)
            else:
                start_hour = min(22.0, max(5.5, hour + rng.gauss(0, 0.75)))
            entrada = datetime.combine(day, datetime.min.time(), zone) + timedelta(
                seconds=int(start_hour * 3600)
            )
            if entrada < joined_at or entrada >= end:
                continue
            minutes = min(240.0, max(10.0, median_minutes * math.exp(rng.gauss(0, DURATION_SIGMA))))
            saida: datetime | None = entrada + timedelta(seconds=int(minutes * 60))
            if saida >= end or rng.random() < MISSED_EXIT:
                saida = None
            tap = timedelta(seconds=rng.randint(3, 90)) if rng.random() < DOUBLE_TAP else None
            visits.append((entrada, saida, tap))
            count += 1
        weekly_counts.append(count)
        if cancel_day is not None:
            last = (visits[-1][1] or visits[-1][0]) if visits else joined_at
            cancelled_at = max(
                datetime.combine(cancel_day, datetime.min.time(), zone)
                + timedelta(seconds=rng.randrange(9 * 3600, 19 * 3600)),
                last + timedelta(hours=1),
            )
            if cancelled_at >= end:
                cancelled_at = None  # the decision falls after "now": still a member
            else:
                break
        week_start += WEEK
        week += 1
    return joined_at, visits, cancelled_at


def _days_to_renewal(joined: date, day: date, contract_months: int) -> int:
    months_in = _months_between(joined, day)
    cycles = months_in // contract_months + 1
    month = joined.month - 1 + cycles * contract_months
    renewal = date(joined.year + month // 12, month % 12 + 1, min(joined.day, 28))
    return (renewal - day).days


# --- loading ---------------------------------------------------------------------------------


@dataclass
class SimulationResult:
    out_dir: Path
    summary: Summary
    import_report: object | None = None
    import_seconds: float = 0.0
    replay_accepted: int = 0
    replay_stored: int | None = None
    replay_seconds: float = 0.0


def simulate_gym(
    *,
    members: int,
    months: int,
    seed: int,
    replay_days: int = 0,
    out_dir: Path | None = None,
    database_url: str | None = None,
    api_url: str | None = None,
    end: datetime | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> SimulationResult:
    """Generate, import the history, and replay the last days through the live API."""
    from serving.config import get_settings

    if not 0 <= replay_days <= 30:
        raise ValueError("replay_days must be between 0 and 30 (the API's window)")
    settings = get_settings()
    out_dir = out_dir or Path(tempfile.mkdtemp(prefix="gympulse-sim-"))
    summary, replay = generate(
        out_dir,
        members=members,
        months=months,
        seed=seed,
        end=end,
        tz=settings.gym_timezone,
        replay_days=replay_days,
        progress=progress,
    )
    log(
        f"generated {summary.members} members ({summary.cancelled} cancelled), "
        f"{summary.checkin_rows} check-in rows in {summary.seconds:.1f} s -> {out_dir}"
    )
    from serving.history_import import import_history

    started = time.monotonic()
    report = import_history(
        out_dir / "planos.csv",
        out_dir / "alunos.csv",
        out_dir / "checkins.csv",
        database_url=database_url,
        progress=progress,
    )
    result = SimulationResult(out_dir, summary, report, time.monotonic() - started)
    files = ", ".join(
        f"{f.file}: {f.inserted} {f.unit} inserted, {f.already_present} already there"
        for f in report.files
    )
    log(f"imported in {result.import_seconds:.1f} s ({files}; {len(report.rejects)} rejected)")
    if report.rejects:
        first = report.rejects[0]
        raise RuntimeError(f"the import rejected {len(report.rejects)} row(s), e.g. {first}")
    if replay:
        replay_through_api(
            result, replay, database_url or settings.database_url, api_url or settings.api_url, log
        )
    return result


def _replay_events(replay: list[ReplayVisit], ids: dict[str, int], seed: int) -> Iterator[dict]:
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"gympulse-simulator/{seed}")
    for visit in replay:
        aluno_id = ids[visit.aluno_ref]
        taps = [("entrada", visit.entrada)] + ([("saida", visit.saida)] if visit.saida else [])
        for tipo, when in taps:
            yield {
                "checkin_id": str(uuid.uuid5(namespace, f"{visit.aluno_ref}/{tipo}/{when}")),
                "aluno_id": aluno_id,
                "tipo": tipo,
                "ocorrido_em": when.isoformat(),
            }


def post_batches(
    client,
    events: list[dict],
    *,
    api_key: str,
    chunk: int = 10_000,
    attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Post events in chunks to `POST /aluno/checkin/lote` as a kiosk; a 503 or a lost
    connection is retried with the same body (same checkin_ids, so nothing is doubled).
    Returns how many events were accepted."""
    import httpx

    accepted = 0
    headers = {"X-API-Key": api_key}
    for i in range(0, len(events), chunk):
        batch = events[i : i + chunk]
        error = ""
        for attempt in range(attempts):
            try:
                response = client.post(
                    "/aluno/checkin/lote", json={"checkins": batch}, headers=headers
                )
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 202:
                    accepted += response.json()["aceitos"]
                    break
                if response.status_code != 503:
                    raise RuntimeError(
                        f"the API refused a batch: {response.status_code} {response.text[:500]}"
                    )
                error = response.text[:200]
            sleep(min(10.0, 0.5 * 2**attempt))
        else:
            raise RuntimeError(f"batch {i // chunk} not accepted after {attempts} tries: {error}")
    return accepted


def replay_through_api(
    result: SimulationResult,
    replay: list[ReplayVisit],
    database_url: str,
    api_url: str,
    log: Callable[[str], None] = print,
    *,
    client=None,
    chunk: int = 10_000,
    wait_seconds: float = 120,
) -> None:
    """Post the held-back check-ins as a kiosk through `POST /aluno/checkin/lote`, then wait
    until the consumer has written them. `client` (an httpx.Client with a base URL) defaults
    to one on `api_url`."""
    import httpx
    import psycopg

    from serving.db.engine import libpq_url
    from serving.users import create_device_key

    started = time.monotonic()
    refs = sorted({v.aluno_ref for v in replay})
    with psycopg.connect(libpq_url(database_url)) as conn:
        ids = dict(
            conn.execute(
                "select aluno_ref, id from alunos where aluno_ref = any(%s)", (refs,)
            ).fetchall()
        )
    missing = [r for r in refs if r not in ids]
    if missing:
        raise RuntimeError(f"{len(missing)} replay member(s) not imported, e.g. {missing[0]}")
    replay = sorted(replay, key=lambda v: v.entrada)
    events = list(_replay_events(replay, ids, result.summary.seed))
    key = create_device_key(f"simulador-{uuid.uuid4().hex[:8]}", "Simulador")
    if client is None:
        with httpx.Client(base_url=api_url, timeout=120) as own:
            accepted = post_batches(own, events, api_key=key, chunk=chunk)
    else:
        accepted = post_batches(client, events, api_key=key, chunk=chunk)
    result.replay_accepted = accepted
    log(f"replayed {accepted} check-ins through {api_url}/aluno/checkin/lote")
    checkin_ids = [e["checkin_id"] for e in events]
    deadline = time.monotonic() + wait_seconds
    stored = 0
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        while time.monotonic() < deadline:
            stored = conn.execute(
                "select count(*) from checkins where checkin_id = any(%s::uuid[])",
                (checkin_ids,),
            ).fetchone()[0]
            if stored >= len(checkin_ids):
                break
            time.sleep(1)
    result.replay_stored = stored
    result.replay_seconds = time.monotonic() - started
    hint = "" if stored >= accepted else " (is `gympulse worker checkins` running?)"
    log(f"{stored} of {accepted} replayed check-ins in PostgreSQL{hint}")


# --- the synthetic student ------------------------------------------------------------------


@dataclass(frozen=True)
class StudentProfile:
    plano: str
    visitas_semana: float
    duracao: float
    dias_desde_ultima: int
    semanas: int
    nome: str | None = None
    email: str | None = None

    def check(self) -> None:
        if not 0 < self.visitas_semana <= 14:
            raise StudentError("visitas_semana must be > 0 and <= 14")
        if not 10 <= self.duracao <= 300:
            raise StudentError("duracao must be between 10 and 300 minutes")
        if not 1 <= self.semanas <= 156:
            raise StudentError("semanas must be between 1 and 156")
        if not 0 <= self.dias_desde_ultima < self.semanas * 7:
            raise StudentError("dias_desde_ultima must be >= 0 and shorter than the history")


def student_history(
    profile: StudentProfile, *, now: datetime, tz: ZoneInfo, rng: random.Random
) -> tuple[datetime, list[tuple[datetime, datetime]]]:
    """(data_matricula, visits) for the profile: visits evenly spread from the start of the
    history to exactly `dias_desde_ultima` days ago (gym time), the last one on that day."""
    profile.check()
    now = now.astimezone(tz)
    today = now.date()
    joined_at = datetime.combine(
        today - timedelta(weeks=profile.semanas), datetime.min.time(), tz
    ) + timedelta(hours=7)
    span = profile.semanas * 7 - profile.dias_desde_ultima
    count = max(1, round(profile.visitas_semana * span / 7))
    last_day = today - timedelta(days=profile.dias_desde_ultima)
    visits = []
    for i in range(count):
        day = last_day - timedelta(days=int(i * span / count))
        minutes = max(10.0, profile.duracao * rng.uniform(0.8, 1.2))
        entrada = datetime.combine(day, datetime.min.time(), tz) + timedelta(
            seconds=int(rng.uniform(7, 20) * 3600)
        )
        if entrada + timedelta(minutes=minutes + 5) > now:  # a visit today: already over
            entrada = now - timedelta(minutes=minutes + 5)
        entrada = max(entrada, joined_at + timedelta(minutes=1))
        visits.append((entrada, entrada + timedelta(seconds=int(minutes * 60))))
    visits.sort()
    return joined_at, visits


def student_rows(
    profile: StudentProfile, plano_id: int, tz: ZoneInfo, seed: int | None = None
) -> tuple[dict, list[dict]]:
    """The member row and its check-in rows (without aluno_id) for a profile."""
    rng = random.Random(seed)
    joined_at, visits = student_history(profile, now=datetime.now(UTC), tz=tz, rng=rng)
    tag = uuid.uuid4().hex[:10]
    aluno = {
        "aluno_ref": f"SINT-{tag}",
        "nome": profile.nome or f"Aluno Sintético {tag[:6]}",
        "email": profile.email or f"sintetico.{tag}@exemplo.com.br",
        "plano_id": plano_id,
        "data_matricula": joined_at,
        "ativo": True,
    }
    checkins = []
    for entrada, saida in visits:
        for tipo, when in (("entrada", entrada), ("saida", saida)):
            checkins.append(
                {
                    "checkin_id": uuid.uuid4(),
                    "tipo": tipo,
                    "ocorrido_em": when,
                    "dispositivo": "simulador",
                    "origem": "simulador",
                }
            )
    return aluno, checkins


class StudentError(ValueError):
    """A profile that cannot be created (unknown plan, e-mail taken)."""


class EmailTaken(StudentError):
    pass


@dataclass(frozen=True)
class CreatedStudent:
    aluno_id: int
    aluno_ref: str
    checkins: int
    visitas: int
    ultima_visita: datetime | None
    data_matricula: datetime


def create_synthetic_student(
    profile: StudentProfile,
    *,
    database_url: str | None = None,
    registrado_por: str = "simulador",
    seed: int | None = None,
) -> CreatedStudent:
    """Write the member, its status history and check-ins in one transaction."""
    from sqlalchemy import func, insert, select

    from serving.config import get_settings
    from serving.db.engine import session_scope
    from serving.db.tables import Aluno, AlunoStatus, Checkin, Plano

    profile.check()
    tz = get_settings().tz
    with session_scope(database_url) as session:
        plano_id = session.scalar(
            select(Plano.id).where(func.lower(Plano.nome) == profile.plano.lower(), Plano.ativo)
        )
        if plano_id is None:
            raise StudentError(f"plano '{profile.plano}' is not an active plan")
        aluno, checkins = student_rows(profile, plano_id, tz, seed)
        if profile.email and session.scalar(
            select(func.count()).where(func.lower(Aluno.email) == profile.email.lower())
        ):
            raise EmailTaken("e-mail already registered")
        aluno_id = session.scalar(insert(Aluno).values(**aluno).returning(Aluno.id))
        session.execute(
            insert(AlunoStatus).values(
                aluno_id=aluno_id,
                ativo=True,
                ocorrido_em=aluno["data_matricula"],
                motivo="matrícula (aluno sintético)",
                registrado_por=registrado_por,
            )
        )
        if checkins:
            session.execute(insert(Checkin), [{**c, "aluno_id": aluno_id} for c in checkins])
    entries = [c["ocorrido_em"] for c in checkins if c["tipo"] == "entrada"]
    return CreatedStudent(
        aluno_id=aluno_id,
        aluno_ref=aluno["aluno_ref"],
        checkins=len(checkins),
        visitas=len(entries),
        ultima_visita=max(entries) if entries else None,
        data_matricula=aluno["data_matricula"],
    )
