"""dbt build on a simulated gym: the full build, then the nightly incremental runs after one
more day of check-ins each, and a night's run as a fraction of the full one.

    .venv/bin/python -m bench.dbt_build --members 100000 --months 12      # simulate + build
    .venv/bin/python -m bench.dbt_build --database gympulse_sim --no-simulate

Uses its own database (default gympulse_bench_dbt) and schema analytics_bench. Prints, and writes
to bench/results/dbt_build-latest.json, the times, what each night rewrote in int_visits, and the
slowest nodes (models and tests) of each build.
"""

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

RESULTS = Path(__file__).parent / "results"
TOP_NODES = 12

# One more day: the last 24 h of check-ins again, a day later, as new events (active members).
# gravado_em is left to its default, now(): the events are written after the previous build
# read checkins and before this one, which is what makes them a night's events for int_visits
# (it pairs again around events written since the previous run's read horizon, and from the
# last event it already has). That the previous build ended seconds rather than 24 h ago changes
# nothing: no model compares gravado_em with the clock or with ocorrido_em.
NEXT_DAY_SQL = """
insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, dispositivo, origem)
select gen_random_uuid(), c.aluno_id, c.tipo, c.ocorrido_em + interval '1 day', c.dispositivo,
       'simulador'
from checkins c
join alunos a on a.id = c.aluno_id and a.ativo
where c.ocorrido_em > (select max(ocorrido_em) from checkins) - interval '1 day'
"""

# What the last run rewrote in int_visits: rows, and the earliest visit (or orphan exit) among them.
REWRITTEN_SQL = """
select count(*), min(coalesce(entrada, saida)), (select count(*) from analytics_bench.int_visits)
from analytics_bench.int_visits
where processado_em = (select max(processado_em) from analytics_bench.int_visits)
"""


def slowest(result) -> list[dict]:
    nodes = sorted(result.result.results, key=lambda r: r.execution_time, reverse=True)
    return [
        {"node": r.node.name, "type": r.node.resource_type, "s": round(r.execution_time, 1)}
        for r in nodes[:TOP_NODES]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dbt_build",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database", default="gympulse_bench_dbt")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--nights", type=int, default=2, help="nightly runs after the full build")
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
        simulate_gym(
            members=args.members,
            months=args.months,
            seed=7,
            database_url=database_url,
            gym_timezone=get_settings().gym_timezone,
        )
        print(f"simulated and imported in {time.monotonic() - started:.0f} s")

    def sql(query: str):
        with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
            cursor = conn.execute(query)
            return cursor.fetchone() if cursor.description else cursor.rowcount

    members, events = sql("select (select count(*) from alunos), (select count(*) from checkins)")

    def timed(**kwargs) -> tuple[float, list[dict]]:
        started = time.monotonic()
        result = dbt_build(database_url, quiet=True, **kwargs)
        if not result.success:
            raise SystemExit("dbt build failed: run `gympulse dbt build` on this database")
        return time.monotonic() - started, slowest(result)

    full, full_nodes = timed(full_refresh=True)
    print(f"full build {full:.0f} s")
    nights = []
    for number in range(1, args.nights + 1):
        added = sql(NEXT_DAY_SQL)
        seconds, nodes = timed()
        rows, since, total = sql(REWRITTEN_SQL)
        nights.append(
            {
                "night": number,
                "events_added": added,
                "build_s": round(seconds, 1),
                "fraction": round(seconds / full, 3),
                "int_visits_rows_rewritten": rows,
                "int_visits_rows": total,
                "int_visits_rewritten_from": since.isoformat() if since else None,
                "slowest_nodes": nodes,
            }
        )
        print(f"night {number}: +{added} events, {seconds:.0f} s, rewrote {rows} of {total} visits")
    report = {
        "benchmark": "dbt_build",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "members": members,
        "checkin_events": events,
        "full_build_s": round(full, 1),
        "full_slowest_nodes": full_nodes,
        "nights": nights,
        "incremental_fraction": nights[-1]["fraction"] if nights else None,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dbt_build-latest.json").write_text(json.dumps(report, indent=2))
    print(f"\nmembers {members}, check-in events {events}")
    print(f"{'build':10} {'s':>6} {'fraction':>8}")
    print(f"{'full':10} {full:6.1f}")
    for night in nights:
        print(
            f"{'night ' + str(night['night']):10} {night['build_s']:6.1f} {night['fraction']:8.3f}"
        )
    for title, nodes in [("full", full_nodes)] + [
        (f"night {n['night']}", n["slowest_nodes"]) for n in nights
    ]:
        print(f"\nslowest nodes, {title}:")
        for node in nodes:
            print(f"  {node['s']:7.1f}  {node['type']:6}  {node['node']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
