"""MLflow: a run an ML engineer can compare (lineage tags, the metrics of the candidate and of
both baselines, figures), a registered version per run, and `@champion` that moves only for a
model that beats the champion on the same held-out data. Aliases, never stages."""

import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from models import registry
from models.features import FEATURES
from models.training import train_models

pytestmark = pytest.mark.slow

METRICS = ("roc_auc", "pr_auc", "brier", "lift_top10", "recall_top10")
PLOTS = {
    "plots/roc.png",
    "plots/precision_recall.png",
    "plots/calibration.png",
    "plots/feature_importance.png",
}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def worse(labelled):
    """A deliberately poor model: one tree of depth one."""
    return train_models(labelled, forest_params={"n_estimators": 1, "max_depth": 1})


def register(result, model_name, warehouse, invocation="dbt-invocation-1"):
    run_id, version = registry.log_training_run(
        result, model_name=model_name, as_of=warehouse.as_of, dbt_invocation_id=invocation
    )
    return run_id, version, registry.promote_if_better(model_name, version, run_id, result)


def test_first_model_becomes_champion_with_a_complete_run(trained, model_name, warehouse, tmp_path):
    run_id, version, decision = register(trained, model_name, warehouse)

    assert (version, decision.promoted) == ("1", True)
    assert decision.reason == "first model: becomes champion"
    client = MlflowClient()
    assert str(registry.champion(model_name).version) == "1"
    assert client.get_registered_model(model_name).aliases == {"champion": 1}
    assert client.get_model_version(model_name, "1").tags["promotion"] == "champion"

    run = client.get_run(run_id)
    tags = run.data.tags
    head = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert tags["as_of"] == warehouse.as_of.isoformat()
    assert tags["git_commit"] == head
    assert tags["dbt_invocation_id"] == "dbt-invocation-1"
    assert tags["promoted"] == "true"
    assert tags["calibrated"] == str(trained.calibrated).lower()
    assert tags["held_out_from"] == str(trained.split.test_from)
    for size in ("rows_labelled", "rows_train", "rows_test", "rows_members_train"):
        assert int(tags[size]) > 0, size
    assert int(tags["rows_train"]) == len(trained.split.train)
    assert int(tags["rows_test"]) == len(trained.split.test)

    logged = run.data.metrics
    for prefix, name in (
        ("", "random_forest"),
        ("logistic_regression_", "logistic_regression"),
        ("inactivity_rule_", "inactivity_rule"),
    ):
        for metric in METRICS:
            assert logged[prefix + metric] == pytest.approx(trained.metrics[name][metric])
    assert run.data.params["n_estimators"] == "300"

    artifacts = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert artifacts == PLOTS
    for plot in PLOTS:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=plot, dst_path=str(tmp_path)
        )
        assert Path(local).read_bytes().startswith(PNG), plot
    meta = registry.load_meta(run_id)
    assert meta["thresholds"] == pytest.approx(trained.thresholds)
    assert set(meta["reasons"]) == {"quantis", "medianas", "pesos"}

    # no stages anywhere: the registry speaks in aliases
    for mv in client.search_model_versions(f"name = '{model_name}'"):
        assert mv.current_stage in (None, "None")

    # what the scorer loads is the model that was trained
    test = trained.split.test[FEATURES]
    loaded = registry.load_model(model_name)
    np.testing.assert_allclose(
        loaded.predict_proba(test)[:, 1], trained.model.predict_proba(test)[:, 1]
    )


def test_a_worse_model_is_registered_but_champion_stays(trained, worse, model_name, warehouse):
    register(trained, model_name, warehouse)

    run_id, version, decision = register(worse, model_name, warehouse, "dbt-invocation-2")

    assert version == "2" and not decision.promoted
    assert str(decision.champion_version) == "1"
    assert "pr_auc" in decision.reason and "champion v1" in decision.reason
    client = MlflowClient()
    assert str(registry.champion(model_name).version) == "1"
    assert client.get_registered_model(model_name).aliases == {"champion": 1}
    rejected = client.get_model_version(model_name, "2")
    assert rejected.tags["promotion"] == "rejected"
    assert rejected.tags["promotion_reason"] == decision.reason
    run = client.get_run(run_id)
    assert run.data.tags["promoted"] == "false"
    # the champion was judged on the candidate's held-out data: it scores there what it scored
    # when it was trained (the same snapshots, the same members)
    assert run.data.metrics["champion_pr_auc"] == pytest.approx(
        trained.metrics["random_forest"]["pr_auc"]
    )
    assert run.data.metrics["pr_auc"] < run.data.metrics["champion_pr_auc"]


def test_a_better_model_takes_over_and_ties_keep_the_champion(
    trained, worse, model_name, warehouse
):
    register(worse, model_name, warehouse)

    _, better, promoted = register(trained, model_name, warehouse)
    _, same, tie = register(trained, model_name, warehouse)

    assert promoted.promoted and str(promoted.champion_version) == "1"
    assert not tie.promoted
    client = MlflowClient()
    assert str(registry.champion(model_name).version) == better == "2"
    assert same == "3"
    assert client.get_model_version(model_name, "2").tags["promotion"] == "champion"
    assert client.get_model_version(model_name, "3").tags["promotion"] == "rejected"
