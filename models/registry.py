"""MLflow: log a training run, register its model, and move `@champion` only when the new
version beats the champion on the same held-out data. Aliases, never stages."""

import logging
import subprocess
import sys
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.pandas_dataset import from_pandas
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from models import drift_tracking, gate, plots
from models.evaluation import calibration_table, metrics
from models.features import FEATURES, LABEL, NUMERIC
from models.gate import GATE_METRIC
from models.monitoring import training_reference
from models.training import TrainingResult
from models.tuning import GRID, search_params

log = logging.getLogger(__name__)

CHAMPION = "champion"
META_ARTIFACT = "churn_meta.json"
# MLflow's UI opens an experiment by this tag: the model-training view (runs, metrics) instead
# of the GenAI one (traces, latency) it picks for an experiment without it.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"
# The version tag naming the validation fit's logged model, which the next gate scores.
VALIDATION_MODEL_TAG = "validation_model_uri"
# skops refuses to load types it does not know; these are ours and scikit-learn's.
TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "models.features.FeatureFiller",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.model_selection._split.GroupKFold",
    "models.calibration.OutOfBagCalibrated",
]


@dataclass(frozen=True)
class Promotion:
    version: str
    promoted: bool
    reason: str
    champion_version: str | None
    champion_metrics: dict[str, float] | None
    comparisons: tuple[gate.Comparison, ...] = ()


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [
        f"{package}=={version(package)}"
        for package in ("scikit-learn", "skops", "pandas", "numpy", "gympulse")
    ]


def _environment() -> dict[str, Any]:
    """The model's environment, stated rather than inferred: inference shells out to uv/pip and
    takes ~15 s. Given as a conda env (MLflow writes requirements.txt from its pip list too)
    because `pip_requirements` makes MLflow look up the installed pip for conda.yaml and warn
    "Failed to resolve installed pip version" on every run: uv's virtualenvs have no pip."""
    python = ".".join(str(part) for part in sys.version_info[:2])
    return {
        "name": "gympulse-churn",
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": _requirements()}],
    }


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


def use_tracking(tracking_uri: str, experiment: str, artifact_root: str | None) -> str:
    """Point MLflow at the store and make sure the experiment exists, marked as model training;
    returns its id. Without `artifact_root` a new experiment keeps its artifacts wherever the
    tracking server's default artifact store is."""
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        experiment_id = mlflow.create_experiment(
            experiment,
            artifact_location=_experiment_location(artifact_root, experiment),
            tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND},
        )
    else:
        experiment_id = found.experiment_id
        if EXPERIMENT_KIND_TAG not in found.tags:  # created before the tag, or by someone else
            MlflowClient().set_experiment_tag(
                experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND
            )
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def _experiment_location(artifact_root: str | None, experiment: str) -> str | None:
    if artifact_root is None:
        return None
    if "://" in artifact_root:  # s3://, gs://, file://, mlflow-artifacts://: already a URI
        return f"{artifact_root.rstrip('/')}/{experiment}"
    return (Path(artifact_root).expanduser().resolve() / experiment).as_uri()


def _log_metrics(result: TrainingResult) -> None:
    for name, values in result.metrics.items():
        prefix = "" if name == "random_forest" else f"{name}_"
        mlflow.log_metrics({f"{prefix}{key}": value for key, value in values.items()})
    mlflow.log_metrics(
        {
            "brier_uncalibrated": result.brier_uncalibrated,
            "brier_calibrated": result.brier_calibrated,
            "rf_minus_best_baseline_roc_auc": result.forest_metrics["roc_auc"]
            - max(result.metrics[name]["roc_auc"] for name in result.baselines),
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


def _stamp() -> str:
    """When, in run names: to the second, so two trainings of one day are told apart."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class WarehouseTable(DatasetSource):
    """Where the training rows come from: the warehouse's feature table as of a date (MLflow
    has no source for a PostgreSQL table; the digest says whether two runs saw the same rows)."""

    def __init__(self, table: str, as_of: str) -> None:
        self.table = table
        self.as_of = as_of

    @staticmethod
    def _get_source_type() -> str:
        return "warehouse_table"

    def load(self, **_kwargs: Any) -> Any:
        raise NotImplementedError("read it with models.features.load_labelled")

    @staticmethod
    def _can_resolve(_raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> "WarehouseTable":
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "as_of": self.as_of}

    @classmethod
    def from_dict(cls, source_dict: dict[str, Any]) -> "WarehouseTable":
        return cls(source_dict["table"], source_dict["as_of"])


def _refit_rows(result: TrainingResult) -> pd.DataFrame:
    return result.refit_data if result.refit_data is not None else result.split.train


def monitoring_reference(result: TrainingResult) -> dict[str, Any]:
    """What the drift monitor compares each night's rows and scores with: the held-out period
    (the newest labelled weeks), every member's snapshots of it for the features, the held-out
    scores (out of sample) for the score. The whole training history would flag what merely
    grows with time: in a gym a year old, tenure drifts every week."""
    newest = _refit_rows(result)
    newest = newest[newest["data_referencia"] >= result.split.test_from]
    return training_reference(newest[FEATURES], result.held_out_scores["random_forest"])


def _log_dataset(result: TrainingResult, as_of: date, table: str) -> None:
    frame = _refit_rows(result)
    with warnings.catch_warnings():
        # The dataset records the columns as read (counts are integers); its schema (inferred
        # when it is logged) enforces nothing, so MLflow's hint about integers and missing
        # values does not apply here.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        dataset = from_pandas(
            frame[["aluno_id", "data_referencia", *FEATURES, LABEL]],
            source=WarehouseTable(table, as_of.isoformat()),
            name=f"churn_features as of {as_of.isoformat()}",
            targets=LABEL,
        )
        mlflow.log_input(
            dataset,
            context="training",
            tags={"as_of": as_of.isoformat(), "rows": str(len(frame))},
        )


def _log_child(name: str, params: dict[str, Any], values: dict[str, float]) -> None:
    with mlflow.start_run(run_name=name, nested=True):
        mlflow.log_params(params)
        mlflow.log_metrics(values)


def _log_refit_run(
    result: TrainingResult, *, model_name: str, as_of: date, name: str, tags: dict[str, str]
) -> tuple[str, str]:
    """The registered version's run: the refit's model, with the validation fit's metrics,
    figures and meta (what the dashboard and the scorer read from a version's run)."""
    split = result.split
    with mlflow.start_run(run_name=name, nested=True, tags=tags) as run:
        mlflow.log_params(result.params)
        mlflow.log_params({"gate_metric": GATE_METRIC, "features": ",".join(FEATURES)})
        _log_dataset(result, as_of, tags.get("table", "churn_features"))
        _log_metrics(result)
        _log_figures(result)
        drift_tracking.log_reference(monitoring_reference(result))
        mlflow.log_dict(
            {
                "thresholds": result.thresholds,
                "reasons": result.reasons,
                "as_of": as_of.isoformat(),
            },
            META_ARTIFACT,
        )
        # Every numeric feature may be missing when scored (a member who never came, a window
        # without a completed visit) and the pipeline reads them as floats: the signature says
        # double, not integer (MLflow's "integer column(s)" hint, twice per training).
        example = split.test[FEATURES].head(5).astype(dict.fromkeys(NUMERIC, "float64"))
        signature = infer_signature(example, result.model.predict_proba(example)[:, 1])
        common = {
            "signature": signature,
            "input_example": example,
            "skops_trusted_types": TRUSTED_TYPES,
            "pyfunc_predict_fn": "predict_proba",
            "conda_env": _environment(),
        }
        # The validation fit never saw a held-out member (the held-out members are the same
        # run after run): the next training's gate scores it, not the refit, on its held-out
        # rows. Logged first: registering is the last write, so an artifact store that fails
        # (full, read-only) fails the run before any version exists.
        validation = mlflow.sklearn.log_model(
            result.validation_model, name="validation_model", **common
        )
        info = mlflow.sklearn.log_model(
            result.model, name="model", registered_model_name=model_name, **common
        )
        version = str(info.registered_model_version)
        MlflowClient().set_model_version_tag(
            model_name, version, VALIDATION_MODEL_TAG, validation.model_uri
        )
        return run.info.run_id, version


def log_training_run(
    result: TrainingResult,
    *,
    model_name: str,
    as_of: date,
    dbt_invocation_id: str | None = None,
    extra_tags: dict[str, str] | None = None,
) -> tuple[str, str]:
    """A parent run for the training, with a child run per model (each grid candidate, each
    baseline, the refit that is registered) so MLflow's UI compares them side by side; returns
    the refit run's id and the registered version."""
    split = result.split
    stamp = _stamp()
    tags = {
        "as_of": as_of.isoformat(),
        "git_commit": git_commit(),
        "dbt_invocation_id": dbt_invocation_id or "unknown",
        "held_out_from": str(split.test_from),
        "held_out_to": str(split.test_to),
        "train_to": str(split.train_to),
        # the registered model's newest training snapshot: the refit's, not the split's
        "refit_to": str(max(_refit_rows(result)["data_referencia"])),
        "calibrated": str(result.calibrated).lower(),
        **{f"rows_{k.removeprefix('rows_')}": str(v) for k, v in result.sizes.items()},
        **(extra_tags or {}),
    }
    parent_name = f"training as of {as_of.isoformat()} · {stamp}"
    with mlflow.start_run(run_name=parent_name, tags=tags):
        mlflow.log_params({**result.params, "grid_size": len(result.candidates)})
        _log_dataset(result, as_of, "churn_features")
        _log_metrics(result)
        for candidate in result.candidates:
            _log_child(
                f"{candidate.name} · {stamp}",
                {**search_params(candidate.params), "chosen": candidate.params == _chosen(result)},
                candidate.metrics,
            )
        for baseline in result.baselines:
            _log_child(
                f"baseline-{baseline.replace('_', '-')} · {stamp}",
                {"model": baseline},
                result.metrics[baseline],
            )
        return _log_refit_run(
            result, model_name=model_name, as_of=as_of, name=f"refit · {stamp}", tags=tags
        )


def _chosen(result: TrainingResult) -> dict[str, Any]:
    return {key: result.params[key] for key in GRID}


# The registry's answers when the model or its alias does not exist: no champion yet. Any other
# failure (the store unreachable...) is raised: "no champion, train one first" would send the
# operator the wrong way, and a pipeline would train instead of waiting for the store.
_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def champion(model_name: str) -> Any | None:
    """The champion's ModelVersion, or None before the first promotion."""
    try:
        return MlflowClient().get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException as exc:
        if exc.error_code in _NOT_FOUND_CODES:
            return None
        raise


def load_model(model_name: str, alias_or_version: str = CHAMPION):
    ref = f"@{alias_or_version}" if not alias_or_version.isdigit() else f"/{alias_or_version}"
    return mlflow.sklearn.load_model(f"models:/{model_name}{ref}")


def load_meta(run_id: str) -> dict[str, Any]:
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{META_ARTIFACT}")


def _champion_scores(model_name: str, current: Any, held_out: pd.DataFrame) -> np.ndarray:
    """The champion's validation fit scored on these held-out rows (the refit has seen them);
    a version logged before refits existed was its own validation fit."""
    uri = current.tags.get(VALIDATION_MODEL_TAG)
    model = mlflow.sklearn.load_model(uri) if uri else load_model(model_name)
    return np.asarray(model.predict_proba(held_out[FEATURES])[:, 1])


def promote_if_better(
    model_name: str, version: str, run_id: str, result: TrainingResult
) -> Promotion:
    """The gate (models/gate.py): the candidate must beat the champion and every baseline on
    this run's held-out rows beyond the noise; the decision is logged on the version, its run
    and the training's parent run."""
    client = MlflowClient()
    current = champion(model_name)
    held_out = result.split.test
    y = held_out[LABEL].to_numpy()
    rivals = {name: result.held_out_scores[name] for name in result.baselines}
    theirs = None
    if current is not None:
        champion_scores = _champion_scores(model_name, current, held_out)
        theirs = metrics(y, champion_scores)
        rivals = {f"champion v{current.version}": champion_scores, **rivals}
    verdict = gate.decide(
        y,
        result.held_out_scores["random_forest"],
        rivals,
        held_out["aluno_id"].to_numpy(),
        first_model=current is None,
    )
    if verdict.promoted:
        client.set_registered_model_alias(model_name, CHAMPION, version)
    decision = Promotion(
        version,
        verdict.promoted,
        verdict.reason,
        current.version if current is not None else None,
        theirs,
        verdict.comparisons,
    )
    gate_metrics = {
        f"gate_{_metric_key(c.rival)}_{part}": value
        for c in verdict.comparisons
        for part, value in (("diff", c.difference), ("low", c.low), ("high", c.high))
    }
    gate_tags = {
        "gate.decision": "promoted" if verdict.promoted else "not promoted",
        # MLflow caps a tag at 8,000 characters; the reason is a few hundred.
        "gate.reason": verdict.reason,
        "promoted": str(verdict.promoted).lower(),
        # What a reader in another language needs to say the same from the gate_* metrics.
        "gate.rivals": ",".join(_metric_key(c.rival) for c in verdict.comparisons),
        "gate.first_model": str(current is None).lower(),
        "gate.confidence": str(gate.CONFIDENCE),
        "gate.resamples": str(gate.RESAMPLES),
    }
    if current is not None:
        gate_tags["gate.champion_version"] = str(current.version)
    if theirs is not None:
        gate_metrics |= {f"champion_{k}": v for k, v in theirs.items()}
    parent = client.get_run(run_id).data.tags.get("mlflow.parentRunId")
    for target in filter(None, (run_id, parent)):
        for key, value in gate_metrics.items():
            client.log_metric(target, key, value)
        for key, text in gate_tags.items():
            client.set_tag(target, key, text)
    client.set_model_version_tag(
        model_name, version, "promotion", "champion" if decision.promoted else "rejected"
    )
    client.set_model_version_tag(model_name, version, "promotion_reason", decision.reason)
    log.info("model %s v%s: %s", model_name, version, decision.reason)
    return decision


def _metric_key(rival: str) -> str:
    """`champion v3` and the baselines' names as metric-name parts."""
    return "champion" if rival.startswith("champion") else rival
