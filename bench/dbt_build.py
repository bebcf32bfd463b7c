"""dbt build on a simulated gym: the full build, then the nightly incremental runs after one
more day of check-ins each, and a night's run as a fraction of the full one.

    .venv/bin/python -m bench.dbt_build --members 100000 --months 12      # simulate + build
    .venv/bin/python -m bench.dbt_build --database gympulse_sim --no-simulate

Uses its own database (default gympulse_bench_dbt) and schema analytics_bench.
"""

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

RESULTS = Path(__file__).parent / "results"

# One more day: the last 24 h of check-ins again, a day later, as new events.
NEXT_DAY_SQL = """
insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, dispositivo, origem)
select gen_random_uuid(), c.aluno_id, c.tipo, c.ocorrido_em + interval '1 day', c.dispositivo,
       'simulador'
from checkins c
join alunos a on a.id = c.aluno_id and a.ativo
where c.ocorrido_em > (select max(ocorrido_em) from checkins) - interval '1 day'
"""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dbt_build", description=__doc__)
    parser.add_argument("--database", default="gympulse_bench_dbt")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--no-simulate", dest="simulate", action="store_false")
    args = parser.parse_args()

    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{args.database}"
    os.environ.update(DATABASE_URL=database_url, DBT_SCHEMA="analytics_bench")
    from serving.config import get_settings
    from serving.db.engine import libpq_url
    from serving.db.migrate import drop_database, upgrade
    from serving.warehouse import dbt_build

    get_settings.cache_clear()
    if args.simulate:
        from serving.simulator import simulate_gym

        drop_database(database_url)
        upgrade(database_url)
        started = time.monotonic()
        simulate_gym(members=args.members, months=args.months, seed=7, database_url=database_url)
        print(f"simulated and imported in {time.monotonic() - started:.0f} s")
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        members, events = conn.execute(
            "select (select count(*) from alunos), (select count(*) from checkins)"
        ).fetchone()

    def timed(**kwargs) -> float:
        started = time.monotonic()
        result = dbt_build(database_url, quiet=True, **kwargs)
        if not result.success:
            raise SystemExit("dbt build failed: run `gympulse dbt build` on this database")
        return time.monotonic() - started

    full = timed(full_refresh=True)
    # The first run after a bulk load re-pairs the load (its rows are all "recent"); the
    # figure that matters is a night like any other, so two days are added, one run each.
    nights = []
    for _ in range(2):
        with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
            added = conn.execute(NEXT_DAY_SQL).rowcount
        nights.append((added, timed()))
    report = {
        "benchmark": "dbt_build",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "members": members,
        "checkin_events": events,
        "full_build_s": round(full, 1),
        "first_night_events": nights[0][0],
        "first_night_build_s": round(nights[0][1], 1),
        "next_night_events": nights[1][0],
        "next_night_build_s": round(nights[1][1], 1),
        "incremental_fraction": round(nights[1][1] / full, 3),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dbt_build-latest.json").write_text(json.dumps(report, indent=2))
    for key, value in report.items():
        print(f"{key:24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
