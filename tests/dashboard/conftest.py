"""The dashboard against one simulated gym (warehouse built, a champion trained and every member
scored, as after `make demo`), a real API process and the test Redis. Pages run in AppTest.

Tests here must not request the `db` or `client` fixtures: they empty the app tables."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from streamlit.testing.v1 import AppTest

from serving.config import Settings, get_settings
from tests.churn_support import (
    AS_OF,
    BASE_SCHEMA,
    build_warehouse,
    churn_environment,
    connect,
    drop_schema,
    free_port,
    simulate,
    wait_for,
)
from tests.support import PASSWORD

SCHEMA = f"{BASE_SCHEMA}_dashboard"
MODEL = "churn-dashboard"
APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
ROLES = ("admin", "analista", "recepcao")
# A port nothing listens on: "Redis down" / "API down" as the dashboard sees them, without
# stopping the services other tests use.
CLOSED_PORT = 9


@dataclass
class Gym:
    settings: Settings
    conn: psycopg.Connection
    api_url: str

    def token(self, role: str) -> dict:
        answer = httpx.post(
            f"{self.api_url}/auth/token",
            data={"username": f"{role}.painel", "password": PASSWORD},
            timeout=30,
        )
        answer.raise_for_status()
        return answer.json()


def _staff(conn: psycopg.Connection) -> None:
    from serving.security import hash_password

    digest = hash_password(PASSWORD)
    for role in ROLES:
        conn.execute(
            "insert into usuarios (username, role, senha_hash) values (%s, %s, %s)",
            (f"{role}.painel", role, digest),
        )


def _champion_scores(settings: Settings) -> None:
    """Train a small forest, register and promote it, score every member: the state `make demo`
    leaves."""
    from flows.scoring import score_and_store
    from models import registry
    from models.features import load_labelled
    from models.training import train_models
    from serving.db.engine import sync_engine

    engine = sync_engine(settings.database_url)
    result = train_models(
        load_labelled(engine, settings.dbt_schema, as_of=AS_OF), forest_params={"n_estimators": 60}
    )
    registry.use_tracking(
        settings.mlflow_tracking_uri, settings.mlflow_experiment, settings.mlflow_artifact_root
    )
    run_id, version = registry.log_training_run(
        result, model_name=settings.churn_model_name, as_of=AS_OF, dbt_invocation_id=None
    )
    registry.promote_if_better(settings.churn_model_name, version, run_id, result)
    score_and_store(
        engine,
        redis.Redis.from_url(settings.redis_url),
        schema=settings.dbt_schema,
        model_name=settings.churn_model_name,
        as_of=AS_OF,
        cache_ttl=settings.churn_cache_seconds,
        time_zone=settings.gym_timezone,
        risk_list_size=settings.risk_list_size,
    )


@pytest.fixture(scope="package")
def dashboard_settings(settings, tmp_path_factory) -> Iterator[Settings]:
    tmp = tmp_path_factory.mktemp("dashboard")
    with churn_environment(tmp, schema=SCHEMA, model_name=MODEL) as churn:
        yield churn


@pytest.fixture(scope="package")
def gym(dashboard_settings) -> Iterator[Gym]:
    settings = dashboard_settings
    drop_schema(settings, SCHEMA)
    simulate(settings)
    build_warehouse(settings, AS_OF)
    redis.Redis.from_url(settings.redis_url).flushdb()
    _champion_scores(settings)
    port = free_port()
    log = open(tmp_log := Path(settings.mlflow_artifact_root).parent / "api.log", "ab")  # noqa: SIM115
    api = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "api", "--port", str(port)],
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, 90, what=f"the API on port {port} (log: {tmp_log})")
        with connect(settings) as conn:
            _staff(conn)
            yield Gym(settings, conn, url)
    finally:
        api.terminate()
        api.wait(timeout=30)
        log.close()


@pytest.fixture(autouse=True)
def dashboard_env(request, monkeypatch) -> Iterator[None]:
    """Each test starts with the dashboard pointed at the package's API and with empty
    Streamlit caches (they are per process, and AppTest runs pages in this one)."""
    import streamlit as st

    if "gym" in request.fixturenames:
        gym = request.getfixturevalue("gym")
        monkeypatch.setenv("API_URL", gym.api_url)
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    get_settings.cache_clear()


def redis_down(monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{CLOSED_PORT}/0")
    get_settings.cache_clear()


def api_down(monkeypatch) -> None:
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{CLOSED_PORT}")
    get_settings.cache_clear()


@pytest.fixture
def open_app(gym) -> Callable[..., AppTest]:
    """The app as a role sees it, logged in through the API (or not logged in at all), on a page.

    AppTest runs the entry script (app.py: token refresh, navigation) on the first run only;
    after that, and after `switch_page`, it runs the page script alone. `tokens` adjusts the
    session's tokens before that first run (e.g. an access token about to expire)."""
    from dashboard.auth import SESSION_KEY, User
    from dashboard.data.api import Tokens

    def open_(
        role: str | None = None,
        page: str | None = None,
        tokens: Callable[[Tokens], Tokens] | None = None,
        app: Path = APP,
        **query: str,
    ) -> AppTest:
        at = AppTest.from_file(str(app), default_timeout=60)
        if role is not None:
            issued = Tokens.from_answer(gym.token(role))
            at.session_state[SESSION_KEY] = User(
                username=f"{role}.painel", tokens=tokens(issued) if tokens else issued
            )
        for key, value in query.items():
            at.query_params[key] = value
        at.run()
        if page is not None:
            at.switch_page(page).run()
        return at

    return open_
