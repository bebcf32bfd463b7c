"""A whole gym as planos.csv, alunos.csv and checkins.csv in the history-import format:
streamed member by member, deterministic for a seed and an end instant."""

import csv
import random
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from serving import rules
from serving.history_import import ALUNOS_COLUMNS, CHECKINS_COLUMNS, PLANOS_COLUMNS
from serving.simulator.model import cumulative, member_history, month_start, weighted
from serving.simulator.params import FIRST, HOUR_BANDS, JOIN_SEASON, LAST, PLANS, PROFILES
from serving.simulator.progress import progress_bar


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


@dataclass
class _Gym:
    """What every member is drawn from, and where the rows go."""

    rng: random.Random
    seed: int
    end: datetime
    zone: ZoneInfo
    days: list[date]
    replay_from: datetime | None
    summary: Summary
    replay: list[ReplayVisit]
    join_cumulative: list[float] = field(default_factory=list)
    plan_cumulative: list[float] = field(default_factory=list)
    profile_cumulative: list[float] = field(default_factory=list)
    band_cumulative: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.join_cumulative = cumulative(JOIN_SEASON[d.month - 1] for d in self.days)
        self.plan_cumulative = cumulative(p[3] for p in PLANS)
        self.profile_cumulative = cumulative(p[1] for p in PROFILES)
        self.band_cumulative = cumulative(b[1] for b in HOUR_BANDS)


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
    start_day = month_start(end_day, months)
    # The API accepts events up to 30 days old: keep an hour of margin for the time it takes.
    replay_from = None
    if replay_days:
        replay_from = max(end - timedelta(days=replay_days), end - timedelta(days=30, hours=-1))
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = Summary(seed=seed)
    _write_plans(out_dir / "planos.csv")
    days = [start_day + timedelta(days=i) for i in range((end_day - start_day).days)]
    gym = _Gym(rng, seed, end, zone, days, replay_from, summary, [])
    with (
        (out_dir / "alunos.csv").open("w", newline="", encoding="utf-8") as fa,
        (out_dir / "checkins.csv").open("w", newline="", encoding="utf-8") as fc,
        progress_bar(progress, members) as tracker,
    ):
        alunos = csv.writer(fa, lineterminator="\n")
        checkins = csv.writer(fc, lineterminator="\n")
        alunos.writerow(ALUNOS_COLUMNS)
        checkins.writerow(CHECKINS_COLUMNS)
        for index in range(1, members + 1):
            _write_member(gym, index, alunos, checkins)
            if tracker is not None and index % 500 == 0:
                tracker.update(0, completed=index)
        if tracker is not None:
            tracker.update(0, completed=members)
    summary.replay_events = sum(2 if v.saida else 1 for v in gym.replay)
    summary.seconds = time.monotonic() - started
    return summary, gym.replay


def _write_plans(path: Path) -> None:
    """The plans, checked by the rules the import will apply to them."""
    for nome, valor, meses, _ in PLANS:
        problem = (
            rules.plan_name_problem(nome)
            or rules.plan_price_problem(Decimal(valor))
            or rules.plan_months_problem(meses)
        )
        if problem:
            raise ValueError(f"simulator plan {nome!r}: {problem}")
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(PLANOS_COLUMNS)
        for nome, valor, meses, _ in PLANS:
            writer.writerow([nome, valor, meses])


def _write_member(gym: _Gym, index: int, alunos, checkins) -> None:
    """One member: its alunos.csv row, then its visits (or held back for the replay)."""
    rng, seed, end, summary = gym.rng, gym.seed, gym.end, gym.summary
    end_day = end.date()
    ref = f"SIM{seed}-{index:07d}"
    joined_day = gym.days[weighted(rng, gym.join_cumulative)]
    plan = PLANS[weighted(rng, gym.plan_cumulative)]
    summary.joins_by_month[joined_day.month] = summary.joins_by_month.get(joined_day.month, 0) + 1
    joined_at, visits, cancelled_at = member_history(
        rng,
        joined_day=joined_day,
        end=end,
        zone=gym.zone,
        contract_months=plan[2],
        profile=PROFILES[weighted(rng, gym.profile_cumulative)],
        hour_centre=HOUR_BANDS[weighted(rng, gym.band_cumulative)][0],
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
        if gym.replay_from and cancelled_at is None and entrada >= gym.replay_from:
            gym.replay.append(ReplayVisit(ref, entrada, saida))
            if double_tap:
                gym.replay.append(ReplayVisit(ref, entrada + double_tap, None))
            continue
        checkins.writerow([ref, entrada.isoformat(), saida.isoformat() if saida else ""])
        summary.checkin_rows += 1
        if double_tap:
            checkins.writerow([ref, (entrada + double_tap).isoformat(), ""])
            summary.checkin_rows += 1
