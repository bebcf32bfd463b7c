"""The warehouse the churn benchmarks read: the dbt benchmark's simulated gym (100,000 members
× 12 months, database gympulse_bench_dbt, schema analytics_bench), simulated and built here
when it is not there yet (about 12 minutes on 2 cores)."""

import os
import tempfile
import time

import psycopg

DATABASE = "gympulse_bench_dbt"
SCHEMA = os.environ.get("BENCH_DBT_SCHEMA", "analytics_bench")


def database_url(database: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"


def configure(database: str) -> str:
    """Environment for the bench: its database and schema, and a throwaway MLflow store."""
    url = database_url(database)
    store = tempfile.mkdtemp(prefix="gympulse-bench-mlflow-")
    os.environ.update(
        DATABASE_URL=url,
        DBT_SCHEMA=SCHEMA,
        MLFLOW_TRACKING_URI=f"sqlite:///{store}/mlflow.db",
        MLFLOW_ARTIFACT_ROOT=f"{store}/artifacts",
        REDIS_URL="redis://127.0.0.1:6379/12",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    from serving.config import get_settings

    get_settings.cache_clear()
    return url


def _has_features(database: str) -> bool:
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as conn:
            return bool(
                conn.execute(
                    "select to_regclass(%s) is not null", (f"{SCHEMA}.churn_features",)
                ).fetchone()[0]
            )
    except psycopg.OperationalError:
        return False


def ensure_warehouse(database: str, members: int, months: int) -> None:
    if _has_features(database):
        return
    from serving.config import get_settings
    from serving.db.migrate import drop_database, upgrade
    from serving.simulator import simulate_gym
    from serving.warehouse import dbt_build

    url = database_url(database)
    print(f"no warehouse in {database}: simulating {members:,} members × {months} months")
    started = time.monotonic()
    drop_database(url)
    upgrade(url)
    simulate_gym(
        members=members,
        months=months,
        seed=7,
        database_url=url,
        gym_timezone=get_settings().gym_timezone,
    )
    if not dbt_build(url, quiet=True).success:
        raise SystemExit("dbt build failed on the benchmark database")
    print(f"warehouse ready in {time.monotonic() - started:.0f} s")
