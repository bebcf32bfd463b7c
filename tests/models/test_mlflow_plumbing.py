"""What an ML engineer meets in MLflow before any metric: the experiment opens in the
model-training view, logging a model prints no warning about pip, and the artifacts go where the
tracking store is unless MLFLOW_ARTIFACT_ROOT says otherwise.

Each test has its own SQLite store under tmp_path: no simulated gym needed.
"""

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.tree import DecisionTreeClassifier

from models import registry
from serving.config import Settings


@pytest.fixture
def store(tmp_path) -> Iterator[str]:
    """A store of the test's own; MLflow's process-wide tracking, registry and experiment are
    put back afterwards, for the package's other tests (and the API they run in-process)."""
    from mlflow.tracking import fluent

    tracking, registry_uri = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    experiment = fluent._active_experiment_id
    experiment_env = os.environ.get("MLFLOW_EXPERIMENT_ID")
    yield f"sqlite:///{tmp_path / 'tracking' / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry_uri)
    fluent._active_experiment_id = experiment
    if experiment_env is None:
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    else:
        os.environ["MLFLOW_EXPERIMENT_ID"] = experiment_env


def test_a_new_experiment_opens_in_the_model_training_view(store, tmp_path):
    experiment_id = registry.use_tracking(store, "churn-kind", str(tmp_path / "artifacts"))
    tags = MlflowClient().get_experiment(experiment_id).tags
    assert tags[registry.EXPERIMENT_KIND_TAG] == "custom_model_development"


def test_an_experiment_created_before_the_tag_gets_it(store, tmp_path):
    mlflow.set_tracking_uri(store)
    (tmp_path / "tracking").mkdir()
    old = mlflow.create_experiment("churn-old", artifact_location=(tmp_path / "a").as_uri())
    assert registry.EXPERIMENT_KIND_TAG not in MlflowClient().get_experiment(old).tags

    assert registry.use_tracking(store, "churn-old", str(tmp_path / "a")) == old
    tags = MlflowClient().get_experiment(old).tags
    assert tags[registry.EXPERIMENT_KIND_TAG] == registry.MODEL_TRAINING_KIND


def test_logging_a_model_says_nothing_about_pip(store, tmp_path, caplog):
    """The warning MLflow printed on every training: "Failed to resolve installed pip version"
    (uv's virtualenvs have no pip). The environment is still stated, pinned, in the model."""
    registry.use_tracking(store, "churn-env", str(tmp_path / "artifacts"))
    model = DecisionTreeClassifier(random_state=0).fit(np.eye(4), [0, 1, 0, 1])
    with caplog.at_level(logging.WARNING, logger="mlflow"), mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            conda_env=registry._environment(),
            skops_trusted_types=registry.TRUSTED_TYPES,
        )
    assert not [r for r in caplog.records if "pip version" in r.getMessage()]
    where = MlflowClient().get_logged_model(info.model_id).artifact_location
    requirements = Path(
        mlflow.artifacts.download_artifacts(artifact_uri=f"{where}/requirements.txt")
    ).read_text()
    for pin in registry._requirements():
        assert pin in requirements


def test_artifacts_go_beside_a_sqlite_tracking_store(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_ARTIFACT_ROOT", raising=False)
    settings = Settings(
        _env_file=None, mlflow_tracking_uri=f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"
    )
    assert settings.mlflow_artifact_root == str(tmp_path / "elsewhere" / "mlflow-artifacts")


def test_a_tracking_server_keeps_its_own_artifact_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_ARTIFACT_ROOT", raising=False)
    settings = Settings(_env_file=None, mlflow_tracking_uri="http://mlflow.internal:5000")
    assert settings.mlflow_artifact_root is None


def test_an_explicit_artifact_root_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_ARTIFACT_ROOT", str(tmp_path / "mine"))
    settings = Settings(_env_file=None, mlflow_tracking_uri="http://mlflow.internal:5000")
    assert settings.mlflow_artifact_root == str(tmp_path / "mine")


def test_without_an_artifact_root_the_server_default_is_used(store, tmp_path, monkeypatch):
    """MLflow's default for a client-side SQLite store is ./mlruns under the working directory."""
    monkeypatch.chdir(tmp_path)
    experiment_id = registry.use_tracking(store, "churn-default", None)
    location = MlflowClient().get_experiment(experiment_id).artifact_location
    assert location.removeprefix("file://").startswith(str(tmp_path / "mlruns"))
