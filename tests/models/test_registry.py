"""MLflow: a run an ML engineer can compare (lineage tags, the metrics of the candidate and of
both baselines, figures), a registered version per run, and `@champion` that moves only for a
model that beats the champion on the same held-out data. Aliases, never stages."""

import subprocess
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from models import registry
from models.features import FEATURES, load_scoring
from models.monitoring import PSI_ALERT, SCORE, drift, training_reference
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
    assert decision.reason.startswith("first model: becomes champion")
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
    # the version is the refit on every labelled snapshot, up to the newest labelled one
    labelled = trained.refit_data
    assert int(tags["rows_refit"]) == trained.sizes["rows_labelled"] == len(labelled)
    assert tags["refit_to"] == str(labelled["data_referencia"].max())
    assert run.info.run_name.startswith("refit · ")
    assert tags["gate.decision"] == "promoted" and tags["gate.reason"] == decision.reason

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


def test_one_parent_run_per_training_with_a_child_run_per_model(trained, model_name, warehouse):
    run_id, _version, decision = register(trained, model_name, warehouse)

    client = MlflowClient()
    refit = client.get_run(run_id)
    parent = client.get_run(refit.data.tags["mlflow.parentRunId"])
    assert parent.info.run_name.startswith(f"training as of {warehouse.as_of.isoformat()} · ")
    stamp = parent.info.run_name.rsplit(" · ", 1)[1]
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    names = {child.info.run_name for child in children}
    assert all(name.endswith(f" · {stamp}") for name in names)
    assert {f"{c.name} · {stamp}" for c in trained.candidates} <= names
    assert {
        f"refit · {stamp}",
        f"baseline-logistic-regression · {stamp}",
        f"baseline-inactivity-rule · {stamp}",
        f"baseline-hist-gradient-boosting · {stamp}",
    } <= names
    assert len(names) == len(children) == len(trained.candidates) + 4
    # the gate's verdict and its intervals, on the parent the UI lists first
    assert parent.data.tags["gate.decision"] == "promoted"
    assert parent.data.tags["gate.reason"] == decision.reason
    assert "gate_hist_gradient_boosting_low" in parent.data.metrics
    # the training data, as an MLflow dataset on the parent and on the registered run
    for run in (parent, refit):
        (logged,) = run.inputs.dataset_inputs
        assert logged.dataset.name == f"churn_features as of {warehouse.as_of.isoformat()}"
        assert logged.dataset.digest
        assert {t.key: t.value for t in logged.tags}["rows"] == str(len(trained.refit_data))


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


def test_beating_the_champion_is_not_enough_without_beating_the_baselines_beyond_noise(
    trained, worse, model_name, warehouse
):
    register(worse, model_name, warehouse)

    run_id, version, decision = register(trained, model_name, warehouse)

    champion_v1, *baselines = decision.comparisons
    assert champion_v1.rival == "champion v1" and champion_v1.beaten
    # on the small simulated gym (a few hundred held-out members) the forest's lead over the
    # baselines is positive but inside the bootstrap interval: the gate says so and keeps v1
    assert all(c.difference > 0 and not c.beaten for c in baselines)
    assert not decision.promoted
    assert decision.reason.startswith(
        "does not beat logistic_regression, inactivity_rule, hist_gradient_boosting beyond the noise"
    )
    client = MlflowClient()
    assert str(registry.champion(model_name).version) == "1" and version == "2"
    assert client.get_model_version(model_name, "2").tags["promotion"] == "rejected"
    tags = client.get_run(run_id).data.tags
    assert tags["gate.decision"] == "not promoted" and tags["gate.reason"] == decision.reason
    parent = client.get_run(tags["mlflow.parentRunId"]).data
    assert parent.tags["gate.decision"] == "not promoted"
    assert parent.metrics["gate_champion_low"] == pytest.approx(champion_v1.low)


def test_a_tie_keeps_the_champion(trained, model_name, warehouse):
    register(trained, model_name, warehouse)

    _, same, tie = register(trained, model_name, warehouse)

    (champion_v1, *_baselines) = tie.comparisons
    # the champion is judged through its validation fit: the same model, an exact tie
    assert (champion_v1.difference, champion_v1.low, champion_v1.high) == (0.0, 0.0, 0.0)
    assert not tie.promoted and "champion v1" in tie.reason
    assert str(registry.champion(model_name).version) == "1" and same == "2"
    assert MlflowClient().get_model_version(model_name, "2").tags["promotion"] == "rejected"


def test_the_drift_reference_is_the_newest_labelled_period_so_a_young_gym_ages_quietly(
    trained, warehouse
):
    """The simulated gym opened a year before the as-of date, so its members only grow older in
    tenure: against every training snapshot, tonight's tenure would look like drift each night."""
    tonight = load_scoring(warehouse.engine, warehouse.schema, as_of=warehouse.as_of)
    whole_history = training_reference(trained.refit_data[FEATURES], np.zeros(1))
    newest_period = registry.monitoring_reference(trained)

    def tenure_psi(reference):
        return drift(reference, tonight, None).set_index("variavel").loc["dias_de_casa", "psi"]

    assert tenure_psi(whole_history) > PSI_ALERT
    assert tenure_psi(newest_period) < PSI_ALERT
    held_out_scores = training_reference(tonight, trained.held_out_scores["random_forest"])
    assert newest_period[SCORE] == held_out_scores[SCORE]


def test_registering_a_training_says_nothing_about_integer_columns(trained, model_name, warehouse):
    """MLflow's hint that "integer columns cannot represent missing values", printed twice per
    training: every numeric feature may be missing, and the logged signature says double."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run_id, version, _decision = register(trained, model_name, warehouse)

    assert [str(w.message) for w in caught if "integer column" in str(w.message)] == []
    logged = mlflow.models.get_model_info(f"models:/{model_name}/{version}")
    inputs = {spec.name: spec.type.name for spec in logged.signature.inputs.inputs}
    assert inputs["visitas_7_dias"] == inputs["dias_desde_ultima_visita"] == "double"
    assert inputs["plano"] == "string"
