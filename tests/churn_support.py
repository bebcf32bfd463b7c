"""What the churn lifecycle tests (tests/models, tests/flows) share: one simulated gym, its
warehouse in a test schema, MLflow in a temporary folder, API tokens, and a job worker process.

The simulated gym ends at a fixed instant, so its data (and so every metric) is the same on
every run and every day; the warehouse is built as of that instant's date (`AS_OF`).
"""

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
import sqlalchemy as sa

from serving.config import Settings, get_settings
from serving.db.engine import libpq_url, sync_engine
from serving.security import create_access_token

# tests/conftest.py puts the test environment (TEST_ENV) in os.environ; the churn environment
# below overrides parts of it, so subprocesses inherit os.environ as it is.
from tests.support import APP_TABLES

TZ = ZoneInfo("America/Sao_Paulo")
MEMBERS = 600
MONTHS = 12
SEED = 7
# A Wednesday evening, safely in the past (the API refuses as-of dates in the future), and not
# at a month's end: dbt's contract-end arithmetic gives 0 days there for members who joined on
# a later day of the month (e.g. joined Jul 31, as of Sep 30), which its data test rejects.
END = datetime(2025, 9, 24, 21, 0, tzinfo=TZ)
AS_OF: date = END.date()
BASE_SCHEMA = os.environ.get("DBT_TEST_SCHEMA", "analytics_test")


def refresh_settings() -> Settings:
    """Settings read the environment once; the flows cache their resources on top of them."""
    from flows.context import reset_resources

    get_settings.cache_clear()
    reset_resources()
    return get_settings()


@contextlib.contextmanager
def churn_environment(tmp: Path, *, schema: str, model_name: str) -> Iterator[Settings]:
    """The warehouse schema, MLflow store and model name every component (this process, the
    CLI and the job worker started from it) uses, undone at the end."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_SCHEMA", schema)
        patch.setenv("DBT_TARGET_PATH", str(tmp / "dbt-target"))
        patch.setenv("DBT_LOG_PATH", str(tmp / "dbt-logs"))
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
        patch.setenv("MLFLOW_ARTIFACT_ROOT", str(tmp / "mlflow-artifacts"))
        patch.setenv("CHURN_MODEL_NAME", model_name)
        patch.setenv("WARM_CHAMPION", "false")
        try:
            yield refresh_settings()
        finally:
            patch.undo()
            refresh_settings()


def connect(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(libpq_url(settings.database_url), autocommit=True)


def simulate(settings: Settings) -> None:
    """Empty the app tables (as the `db` fixture does) and import the simulated gym."""
    from serving.simulator import simulate_gym

    with connect(settings) as conn:
        conn.execute(f"truncate {APP_TABLES} restart identity cascade")
    simulate_gym(
        members=MEMBERS,
        months=MONTHS,
        seed=SEED,
        end=END,
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        progress=False,
        log=lambda _line: None,
    )


def build_warehouse(settings: Settings, as_of: date = AS_OF) -> None:
    """`dbt build` into the settings' schema (DBT_SCHEMA), as of a date; fails the test with
    dbt's own messages when a model or a test fails."""
    from serving.warehouse import dbt_build

    with connect(settings) as conn:
        conn.execute(f'create schema if not exists "{settings.dbt_schema}"')
    result = dbt_build(settings.database_url, as_of=as_of, quiet=True)
    failures = [
        f"{r.node.name}: {r.message}"
        for r in (result.result or [])
        if str(getattr(r, "status", "")) in {"error", "fail"}
    ]
    assert result.success, failures or result.exception


def drop_schema(settings: Settings, schema: str) -> None:
    with connect(settings) as conn:
        conn.execute(f'drop schema if exists "{schema}" cascade')


@dataclass
class Warehouse:
    settings: Settings
    conn: psycopg.Connection
    schema: str
    as_of: date = AS_OF

    @property
    def engine(self) -> sa.Engine:
        return sync_engine(self.settings.database_url)

    def feature_members(self, day: date) -> set[int]:
        """Members with a feature row on `day`: the members active on it."""
        rows = self.conn.execute(
            f'select distinct aluno_id from "{self.schema}".churn_features '
            "where data_referencia = %s",
            (day,),
        )
        return {row[0] for row in rows}

    def active_members(self) -> set[int]:
        return {row[0] for row in self.conn.execute("select id from alunos where ativo")}


def model_name_for(node_name: str) -> str:
    return "churn-" + re.sub(r"[^a-zA-Z0-9_-]+", "-", node_name)[:80]


def auth_headers(settings: Settings, role: str) -> dict[str, str]:
    """A staff token for a user `<role>.ml`, stored (the API checks the token's user exists and
    is active); the password is never used."""
    username = f"{role}.ml"
    with psycopg.connect(libpq_url(settings.database_url), autocommit=True) as conn:
        user_id = conn.execute(
            "insert into usuarios (username, role, senha_hash) values (%s, %s, 'unused') "
            "on conflict (username) do update set role = excluded.role, ativo = true "
            "returning id",
            (username, role),
        ).fetchone()[0]
    token = create_access_token(settings, user_id=user_id, username=username, role=role)
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.25, what: str = "condition"):
    """Poll until `predicate()` returns something truthy; returns it, or fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """`gympulse ...` as a user runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class PrivateRedis:
    """A Redis server of our own on a free port, so a test can stop it without taking the
    shared server (and everyone else's tests) down with it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.is_up, 15, 0.05, f"redis-server on port {self.port}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def is_up(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class JobWorkerProcess:
    """`gympulse worker jobs` as a real subprocess, logging to a file (a pipe nobody reads
    would fill up and block it)."""

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> "JobWorkerProcess":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flows.cli", "worker", "jobs"],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
