"""One simulated gym and its warehouse for the whole package, built once.

Tests here must not request the `db` or `client` fixtures: they empty the app tables. They use
`warehouse.conn` (autocommit) and `api` (a TestClient over the same database) instead.
"""

from collections.abc import Iterator

import pandas as pd
import pytest

from models import registry
from models.features import load_labelled
from models.training import TrainingResult, train_models
from tests.churn_support import (
    AS_OF,
    BASE_SCHEMA,
    Warehouse,
    auth_headers,
    build_warehouse,
    churn_environment,
    connect,
    drop_schema,
    model_name_for,
    simulate,
)

SCHEMA = f"{BASE_SCHEMA}_models"
# Small forests where the test is not about model quality.
SMALL_FOREST = {"n_estimators": 60}


@pytest.fixture(scope="package")
def churn_settings(settings, tmp_path_factory):
    """`settings` (the session fixture) creates the test database; these are the same settings
    with the package's dbt schema and a temporary MLflow store."""
    tmp = tmp_path_factory.mktemp("churn-models")
    with churn_environment(tmp, schema=SCHEMA, model_name="churn-models") as churn:
        yield churn


@pytest.fixture(scope="package")
def warehouse(churn_settings) -> Iterator[Warehouse]:
    drop_schema(churn_settings, SCHEMA)
    simulate(churn_settings)
    build_warehouse(churn_settings, AS_OF)
    with connect(churn_settings) as conn:
        yield Warehouse(churn_settings, conn, SCHEMA, AS_OF)


@pytest.fixture(scope="package")
def labelled(warehouse) -> pd.DataFrame:
    return load_labelled(warehouse.engine, warehouse.schema, as_of=warehouse.as_of)


@pytest.fixture(scope="package")
def trained(labelled) -> TrainingResult:
    """The production recipe (default forest) on the simulated gym."""
    return train_models(labelled)


@pytest.fixture(scope="package")
def mlflow_store(churn_settings) -> str:
    """The package's MLflow store (SQLite in a temporary folder); returns the experiment id."""
    return registry.use_tracking(
        churn_settings.mlflow_tracking_uri,
        churn_settings.mlflow_experiment,
        churn_settings.mlflow_artifact_root,
    )


@pytest.fixture
def model_name(request, mlflow_store) -> str:
    """A registered-model name of the test's own, so each test starts with no champion."""
    return model_name_for(request.node.name)


@pytest.fixture(scope="package")
def api(warehouse):
    from fastapi.testclient import TestClient

    from serving.api.main import create_app

    with TestClient(create_app(warehouse.settings)) as client:
        yield client


@pytest.fixture(scope="package")
def staff_headers(warehouse, churn_settings) -> dict[str, dict[str, str]]:
    # After the gym: loading it empties the users table, and a token's user must exist.
    return {role: auth_headers(churn_settings, role) for role in ("admin", "analista", "recepcao")}
