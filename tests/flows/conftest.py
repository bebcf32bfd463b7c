"""The flows against a temporary Prefect server (one per session), the simulated gym imported
once for the package, and its own dbt schema and MLflow store.

Tests here must not request the `db` or `client` fixtures: they empty the app tables. They use
`gym.conn` (autocommit) and `api` (a TestClient over the same database) instead. The flows build
the warehouse themselves, as they do in production.
"""

import atexit
import os
import shutil
import tempfile

import pytest

from tests.churn_support import (
    AS_OF,
    BASE_SCHEMA,
    Warehouse,
    auth_headers,
    churn_environment,
    connect,
    drop_schema,
    simulate,
)

# Before Prefect is imported: its temporary server's telemetry locks its SQLite database, and
# its home (profiles, local storage) is the developer's unless told otherwise.
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
_PREFECT_HOME = tempfile.mkdtemp(prefix="gympulse-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
atexit.register(shutil.rmtree, _PREFECT_HOME, True)

SCHEMA = f"{BASE_SCHEMA}_flows"
MODEL = "gympulse-churn-flows"


@pytest.fixture(scope="session")
def prefect_server() -> str:
    """A temporary Prefect API for the flows of this process; its URL lets the CLI and the job
    worker subprocesses report their flow runs to it too."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="package")
def flow_settings(settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("churn-flows")
    with churn_environment(tmp, schema=SCHEMA, model_name=MODEL) as churn:
        yield churn


@pytest.fixture(scope="package")
def gym(flow_settings):
    drop_schema(flow_settings, SCHEMA)
    simulate(flow_settings)
    with connect(flow_settings) as conn:
        yield Warehouse(flow_settings, conn, SCHEMA, AS_OF)


@pytest.fixture(scope="package")
def nightly(gym, prefect_server) -> dict:
    """The nightly chain run once for the package: build ▶ train ▶ promote ▶ score ▶ report."""
    from flows.churn import nightly_flow

    return nightly_flow(as_of=AS_OF, retrain=True)


@pytest.fixture(scope="package")
def api(gym):
    from fastapi.testclient import TestClient

    from serving.api.main import create_app

    with TestClient(create_app(gym.settings)) as client:
        yield client


@pytest.fixture(scope="package")
def staff_headers(gym, flow_settings) -> dict[str, dict[str, str]]:
    # After the gym: loading it empties the users table, and a token's user must exist.
    return {role: auth_headers(flow_settings, role) for role in ("admin", "analista", "recepcao")}
