"""`simulate_gym`: generate a gym, load it through the history import, and replay the last
days through the live API."""

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from serving.simulator.generate import Summary, generate
from serving.simulator.replay import replay_through_api


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
    database_url: str,
    gym_timezone: str,
    redis_url: str | None = None,
    api_url: str | None = None,
    out_dir: Path | None = None,
    end: datetime | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> SimulationResult:
    """Generate, import the history (dropping the cache entries of the members it touches in
    `redis_url`'s cache, if given), and replay the last `replay_days` through the live API at
    `api_url`."""
    if not 0 <= replay_days <= 30:
        raise ValueError("replay_days must be between 0 and 30 (the API's window)")
    if replay_days and api_url is None:
        raise ValueError("replaying days needs the API's URL (api_url)")
    out_dir = out_dir or Path(tempfile.mkdtemp(prefix="gympulse-sim-"))
    summary, replay = generate(
        out_dir,
        members=members,
        months=months,
        seed=seed,
        end=end,
        tz=gym_timezone,
        replay_days=replay_days,
        progress=progress,
    )
    log(
        f"generated {summary.members} members ({summary.cancelled} cancelled), "
        f"{summary.checkin_rows} check-in rows in {summary.seconds:.1f} s -> {out_dir}"
    )
    result = _import(out_dir, summary, database_url, gym_timezone, redis_url, progress, log)
    if replay and api_url is not None:
        replay_through_api(result, replay, database_url, api_url, log)
    return result


def _import(
    out_dir: Path,
    summary: Summary,
    database_url: str,
    gym_timezone: str,
    redis_url: str | None,
    progress: bool,
    log: Callable[[str], None],
) -> SimulationResult:
    """Load the files through the history import; any reject is a simulator bug."""
    from serving.history_import import import_history

    started = time.monotonic()
    report = import_history(
        out_dir / "planos.csv",
        out_dir / "alunos.csv",
        out_dir / "checkins.csv",
        database_url=database_url,
        progress=progress,
        gym_timezone=gym_timezone,
        redis_url=redis_url,
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
    return result
