"""Property-based fuzzing of the HTTP contract: whatever schemathesis sends, generated from the
app's own OpenAPI document (valid and invalid data), the API never answers 5xx and every
answer matches the documented schema for its status code."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.python import asgi

from serving.api.main import create_app

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = 40
CONFIG = schemathesis.Config.from_dict(
    {
        # examples (from the schema), coverage (boundary values: deterministic, a few per
        # parameter) and fuzzing (MAX_EXAMPLES per operation). Stateful chains are too slow here.
        "phases": {"stateful": {"enabled": False}},
        "generation": {"deterministic": True},
    }
)


# The schema comes from the app's own OpenAPI document. Attaching the app makes schemathesis
# call it in-process (ASGI); its lifespan starts on the first call, inside the test, once the
# fixtures below have created the test database, vhost and data. (`from_asgi` would start the
# lifespan at collection, before those exist; `schemathesis.pytest.from_fixture` breaks on
# pytest 9, which no longer has `Node._nodeid`.)
APP = create_app()
schema = schemathesis.openapi.from_dict(APP.openapi(), config=CONFIG)
schema.app = APP


@pytest.fixture(autouse=True)
def seeded_app(settings, db, rabbit, cache, users, make_member, kiosk_key):
    """Rows for small ids (members 1..3, plan 1, users 1..3 with 1 the admin, device 1), so
    generated ids also reach the paths past the 404s. The app's lifespan (DB, RabbitMQ, Redis
    connections) is stopped after each operation."""
    for _ in range(3):
        make_member()
    yield
    asgi.shutdown_lifespans()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_answers_5xx_and_matches_its_schema(case, headers):
    case.call_and_validate(
        headers=headers["admin"], checks=[not_a_server_error, response_schema_conformance]
    )
