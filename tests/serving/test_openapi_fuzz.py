"""Property-based fuzzing of the HTTP contract: whatever schemathesis sends, generated from the
app's own OpenAPI document (valid and invalid data), the API never answers 5xx, answers only
the status codes and content types each operation documents, every answer matches the
documented schema for its status code, and every operation that declares authentication
refuses a request without it or with invalid credentials (`ignored_auth`). At least
MIN_CASES cases in all; the count is printed at the end of the module."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from serving.api.main import create_app

pytestmark = pytest.mark.fuzz

# Generated cases per operation (fuzzing phase; the examples and coverage phases add theirs).
MAX_EXAMPLES = 40
MIN_CASES = 1_000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]
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
OPERATIONS = sum(len(methods) for methods in APP.openapi()["paths"].values())

_cases: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def case_count(request):
    """Prints how many cases ran; when every operation ran, at least MIN_CASES must have."""
    yield _cases
    total = sum(_cases.values())
    line = f"schemathesis: {total:,} cases over {len(_cases)} of {OPERATIONS} operations"
    # Teardown output is captured: print past the capture, to the terminal.
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        print(f"\n{line}")
    if len(_cases) == OPERATIONS:
        assert total >= MIN_CASES, line


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
def test_api_answers_what_it_documents(case, headers):
    _cases[case.operation.label] = _cases.get(case.operation.label, 0) + 1
    case.call_and_validate(headers=headers["admin"], checks=CHECKS)
