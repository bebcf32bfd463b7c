"""`import_history`: check every file, then load plans, members and check-ins in that order."""

import time
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from serving.history_import.alunos import import_alunos
from serving.history_import.cache import invalidate_cache
from serving.history_import.checkins import import_checkins
from serving.history_import.files import (
    ALUNOS_COLUMNS,
    CHECKINS_COLUMNS,
    PLANOS_COLUMNS,
    open_source,
)
from serving.history_import.planos import import_planos
from serving.history_import.progress import Progress
from serving.history_import.report import ImportReport


def import_history(
    planos: Path | None,
    alunos: Path | None,
    checkins: Path | None,
    *,
    database_url: str,
    gym_timezone: str,
    redis_url: str | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import the given files (any may be None) into the database; see the package docstring.
    Raises HistoryImportError for a whole-file problem, found before anything is written
    (except a CSV that turns unreadable mid-file: that file is rolled back, the files before it
    stay loaded). Database errors are psycopg's.

    Naive timestamps are in `gym_timezone`; `redis_url` is the cache whose entries for the
    imported members are dropped (None: no cache)."""
    from serving.db.engine import libpq_url

    started = time.monotonic()
    tz = ZoneInfo(gym_timezone)
    sources = {
        name: open_source(Path(path), columns)
        for name, path, columns in (
            ("planos", planos, PLANOS_COLUMNS),
            ("alunos", alunos, ALUNOS_COLUMNS),
            ("checkins", checkins, CHECKINS_COLUMNS),
        )
        if path is not None
    }
    report = ImportReport()
    if not sources:
        return report
    with Progress(progress) as bar, psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("select set_config('TimeZone', %s, false)", (gym_timezone,))
        conn.commit()
        if "planos" in sources:
            report.planos = import_planos(conn, sources["planos"], report.rejects, bar)
        if "alunos" in sources:
            report.alunos = import_alunos(conn, sources["alunos"], tz, report, bar)
        if "checkins" in sources:
            report.checkins, members = import_checkins(
                conn, sources["checkins"], tz, report.rejects, bar
            )
            if redis_url is not None:
                invalidate_cache(redis_url, members)
    order = {source.name: i for i, source in enumerate(sources.values())}
    report.rejects.sort(key=lambda r: (order.get(r.file, len(order)), r.line))
    report.seconds = time.monotonic() - started
    return report
