"""The drift monitor in MLflow: the training reference a registered run logs
(`monitoring_reference.json`, models.monitoring.training_reference), read back for the champion,
and one monitoring run per night with `psi.<variable>` metrics and the tables as artifacts."""

from datetime import date
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from models.monitoring import GAP_ALERT_PP, PSI_ALERT

REFERENCE_ARTIFACT = "monitoring_reference.json"


def log_reference(reference: dict[str, Any]) -> None:
    """Inside the training run: what tonight's rows will be compared with."""
    mlflow.log_dict(reference, REFERENCE_ARTIFACT)


def load_reference(run_id: str) -> dict[str, Any] | None:
    """The reference the champion's run logged, or None for a run from before the monitor."""
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{REFERENCE_ARTIFACT}")
    except (MlflowException, OSError):
        return None


def log_monitoring_run(
    *,
    as_of: date,
    model_name: str,
    model_version: str,
    model_run_id: str,
    drift: pd.DataFrame,
    calibration: pd.DataFrame,
) -> str:
    """One run per night named after the date and the version it watched; returns its id."""
    tags = {
        "kind": "monitoring",
        "as_of": as_of.isoformat(),
        "model_name": model_name,
        "model_version": model_version,
        "model_run_id": model_run_id,
        "psi_alerts": ",".join(drift.loc[drift["alerta"], "variavel"]) or "none",
        "calibration_alerts": str(int(calibration["alerta"].sum())) if len(calibration) else "0",
    }
    name = f"monitor-v{model_version}-{as_of.isoformat()}"
    # Under the nightly parent run when there is one.
    nested = mlflow.active_run() is not None
    with mlflow.start_run(run_name=name, tags=tags, nested=nested) as run:
        mlflow.log_params({"psi_alert": PSI_ALERT, "gap_alert_pp": GAP_ALERT_PP})
        mlflow.log_metrics(
            {
                f"psi.{name}": float(value)
                for name, value in zip(drift["variavel"], drift["psi"], strict=True)
            }
        )
        dated = [c for c in ("data_populacao", "data_base") if c in drift]
        mlflow.log_table(drift.astype(dict.fromkeys(dated, "string")), "monitoring/psi.json")
        if len(calibration):
            mlflow.log_table(
                calibration.assign(mes=calibration["mes"].astype(str)),
                "monitoring/realised_vs_predicted.json",
            )
        return run.info.run_id
