"""MLflow: log a training run, register its model, and move `@champion` only when the new
version beats the champion on the same held-out data. Aliases, never stages."""

import logging
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from models import plots
from models.evaluation import calibration_table, metrics
from models.features import FEATURES, LABEL
from models.training import TrainingResult

log = logging.getLogger(__name__)

CHAMPION = "champion"
META_ARTIFACT = "churn_meta.json"
# What `@champion` is judged on; ties keep the champion.
GATE_METRIC = "pr_auc"
# skops refuses to load types it does not know; these are ours and scikit-learn's.
TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "models.features.FeatureFiller",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.model_selection._split.GroupKFold",
]


@dataclass(frozen=True)
class Promotion:
    version: str
    promoted: bool
    reason: str
    champion_version: str | None
    champion_metrics: dict[str, float] | None


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [
        f"{package}=={version(package)}"
        for package in ("scikit-learn", "skops", "pandas", "numpy", "gympulse")
    ]


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def use_tracking(tracking_uri: str, experiment: str, artifact_root: str) -> str:
    """Point MLflow at the store and make sure the experiment exists; returns its id."""
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        location = Path(artifact_root).expanduser().resolve() / experiment
        experiment_id = mlflow.create_experiment(experiment, artifact_location=location.as_uri())
    else:
        experiment_id = found.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def _log_metrics(result: TrainingResult) -> None:
    for name, values in result.metrics.items():
        prefix = "" if name == "random_forest" else f"{name}_"
        mlflow.log_metrics({f"{prefix}{key}": value for key, value in values.items()})
    mlflow.log_metrics(
        {
            "brier_uncalibrated": result.brier_uncalibrated,
            "brier_calibrated": result.brier_calibrated,
            "rf_minus_best_baseline_roc_auc": result.forest_metrics["roc_auc"]
            - max(
                result.metrics["logistic_regression"]["roc_auc"],
                result.metrics["inactivity_rule"]["roc_auc"],
            ),
        }
    )


def _log_figures(result: TrainingResult) -> None:
    y_test = result.split.test[LABEL].to_numpy()
    roc = {k: v["roc_auc"] for k, v in result.metrics.items()}
    pr = {k: v["pr_auc"] for k, v in result.metrics.items()}
    for figure, name in (
        (plots.roc_figure(y_test, result.held_out_scores, roc), "plots/roc.png"),
        (plots.pr_figure(y_test, result.held_out_scores, pr), "plots/precision_recall.png"),
        (plots.calibration_figure(y_test, result.held_out_scores), "plots/calibration.png"),
        (plots.importance_figure(result.importances), "plots/feature_importance.png"),
    ):
        mlflow.log_figure(figure, name)
        plots.close(figure)
    mlflow.log_table(result.importances, "feature_importance.json")
    mlflow.log_dict(
        {k: v.round(4).to_dict("list") for k, v in _calibration_tables(result).items()},
        "calibration_curve.json",
    )


def _calibration_tables(result: TrainingResult) -> dict[str, pd.DataFrame]:
    y_test = result.split.test[LABEL].to_numpy()
    return {name: calibration_table(y_test, s) for name, s in result.held_out_scores.items()}


def log_training_run(
    result: TrainingResult,
    *,
    model_name: str,
    as_of: date,
    dbt_invocation_id: str | None = None,
    extra_tags: dict[str, str] | None = None,
) -> tuple[str, str]:
    """One MLflow run with metrics, figures and the registered model; returns (run_id, version)."""
    split = result.split
    tags = {
        "as_of": as_of.isoformat(),
        "git_commit": git_commit(),
        "dbt_invocation_id": dbt_invocation_id or "unknown",
        "held_out_from": str(split.test_from),
        "held_out_to": str(split.test_to),
        "train_to": str(split.train_to),
        "calibrated": str(result.calibrated).lower(),
        **{f"rows_{k.removeprefix('rows_')}": str(v) for k, v in result.sizes.items()},
        **(extra_tags or {}),
    }
    with mlflow.start_run(run_name=f"rf-{as_of.isoformat()}", tags=tags) as run:
        mlflow.log_params(result.params)
        mlflow.log_params({"gate_metric": GATE_METRIC, "features": ",".join(FEATURES)})
        _log_metrics(result)
        _log_figures(result)
        mlflow.log_dict(
            {
                "thresholds": result.thresholds,
                "reasons": result.reasons,
                "as_of": as_of.isoformat(),
            },
            META_ARTIFACT,
        )
        example = split.test[FEATURES].head(5)
        signature = infer_signature(example, result.model.predict_proba(example)[:, 1])
        info = mlflow.sklearn.log_model(
            result.model,
            name="model",
            signature=signature,
            input_example=example,
            registered_model_name=model_name,
            skops_trusted_types=TRUSTED_TYPES,
            pyfunc_predict_fn="predict_proba",
            # Stated, not inferred: inference shells out to uv/pip and takes ~15 s.
            pip_requirements=_requirements(),
        )
        return run.info.run_id, str(info.registered_model_version)


def champion(model_name: str) -> Any | None:
    """The champion's ModelVersion, or None before the first promotion."""
    try:
        return MlflowClient().get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def load_model(model_name: str, alias_or_version: str = CHAMPION):
    ref = f"@{alias_or_version}" if not alias_or_version.isdigit() else f"/{alias_or_version}"
    return mlflow.sklearn.load_model(f"models:/{model_name}{ref}")


def load_meta(run_id: str) -> dict[str, Any]:
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{META_ARTIFACT}")


def promote_if_better(
    model_name: str, version: str, run_id: str, result: TrainingResult
) -> Promotion:
    """Score the champion on this run's held-out set; the candidate must beat it there."""
    client = MlflowClient()
    current = champion(model_name)
    candidate = result.forest_metrics
    if current is None:
        reason = "first model: becomes champion"
        client.set_registered_model_alias(model_name, CHAMPION, version)
        decision = Promotion(version, True, reason, None, None)
    else:
        held_out = result.split.test
        scores = load_model(model_name).predict_proba(held_out[FEATURES])[:, 1]
        theirs = metrics(held_out[LABEL].to_numpy(), np.asarray(scores))
        better = candidate[GATE_METRIC] > theirs[GATE_METRIC]
        reason = (
            f"{GATE_METRIC} {candidate[GATE_METRIC]:.4f} vs champion v{current.version} "
            f"{theirs[GATE_METRIC]:.4f} on the same held-out data"
        )
        if better:
            client.set_registered_model_alias(model_name, CHAMPION, version)
        with mlflow.start_run(run_id=run_id):
            mlflow.log_metrics({f"champion_{k}": v for k, v in theirs.items()})
        decision = Promotion(version, better, reason, current.version, theirs)
    client.set_model_version_tag(
        model_name, version, "promotion", "champion" if decision.promoted else "rejected"
    )
    client.set_model_version_tag(model_name, version, "promotion_reason", decision.reason)
    client.set_tag(run_id, "promoted", str(decision.promoted).lower())
    log.info("model %s v%s: %s", model_name, version, decision.reason)
    return decision
