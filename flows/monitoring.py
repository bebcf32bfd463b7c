"""The nightly drift and calibration monitor as the flows run it: the champion's training
reference from MLflow, tonight's feature rows and scores, and the realised outcomes of closed
scoring dates → PSI and calibration gaps (models.monitoring) → PostgreSQL (serving.monitoring,
the Modelo page reads it) and a monitoring run in MLflow. A plain function, tested without
Prefect."""

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import numpy as np
import pandas as pd
import sqlalchemy as sa

from models import drift_tracking, registry
from models.features import HORIZON_DAYS, load_scoring
from models.monitoring import GAP_ALERT_PP, PSI_ALERT, calibration_gaps, drift
from models.scoring import NoChampionError
from serving.monitoring import (
    CALIBRATION_COLUMNS,
    batch_probabilities,
    realised_outcomes,
    save_monitoring,
)


@dataclass(frozen=True)
class MonitoringSummary:
    as_of: date
    model_version: str
    run_id: str
    psi: dict[str, float]
    psi_alerts: list[str]
    calibration_rows: int
    calibration_alerts: list[str]
    warnings: list[str]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts of plain Python values (what the database driver takes)."""
    return cast(list[dict[str, Any]], frame.to_dict("records"))


def _calibration(engine: sa.Engine, *, schema: str, model_name: str, as_of: date) -> pd.DataFrame:
    outcomes = pd.DataFrame(
        realised_outcomes(
            engine,
            warehouse_schema=schema,
            model_name=model_name,
            as_of=as_of,
            horizon=HORIZON_DAYS,
        ),
        columns=[c for c in CALIBRATION_COLUMNS if c not in ("diferenca_pp", "alerta")],
    )
    return calibration_gaps(outcomes.astype({"prevista": "float64", "realizada": "float64"}))


def monitor_champion(
    engine: sa.Engine, *, schema: str, model_name: str, as_of: date
) -> MonitoringSummary:
    """PSI per feature and of the score against the champion's training period, and realised vs
    predicted churn of every closed scoring date; stored and logged to MLflow. The summary's
    `warnings` say what passed a line, for the flow's log."""
    champion = registry.champion(model_name)
    if champion is None:
        raise NoChampionError(f"no model registered as {model_name}@champion: nothing to monitor")
    version = str(champion.version)
    reference = drift_tracking.load_reference(champion.run_id)
    warnings: list[str] = []
    if reference is None:
        psi_table = drift({}, pd.DataFrame(), None)
        warnings.append(
            f"{model_name} v{version} logged no training reference (trained before the "
            "monitor): no PSI until the next retraining"
        )
    else:
        scores = batch_probabilities(
            engine, model_name=model_name, model_version=version, as_of=as_of
        )
        features = load_scoring(engine, schema, as_of=as_of)
        psi_table = drift(reference, features, np.asarray(scores))
    calibration = _calibration(engine, schema=schema, model_name=model_name, as_of=as_of)
    save_monitoring(
        engine,
        as_of=as_of,
        model_name=model_name,
        model_version=version,
        drift=_records(psi_table),
        calibration=_records(calibration),
    )
    run_id = drift_tracking.log_monitoring_run(
        as_of=as_of,
        model_name=model_name,
        model_version=version,
        model_run_id=champion.run_id,
        drift=psi_table,
        calibration=calibration,
    )
    drifted = psi_table[psi_table["alerta"]]
    warnings += [
        f"PSI {row.psi:.3f} > {PSI_ALERT} for {row.variavel}: tonight's population has moved "
        f"away from v{version}'s newest training weeks"
        for row in drifted.itertuples()
    ]
    off = calibration[calibration["alerta"]]
    off_labels = [f"{row.mes:%Y-%m}/{row.faixa_risco}" for row in off.itertuples()]
    warnings += [
        f"realised churn {row.realizada:.1%} vs predicted {row.prevista:.1%} in "
        f"{row.mes:%Y-%m}, tier {row.faixa_risco}: gap over {GAP_ALERT_PP:g} points"
        for row in off.itertuples()
    ]
    return MonitoringSummary(
        as_of=as_of,
        model_version=version,
        run_id=run_id,
        psi={
            str(name): round(float(value), 4)
            for name, value in zip(psi_table["variavel"], psi_table["psi"], strict=True)
        },
        psi_alerts=[str(v) for v in drifted["variavel"]],
        calibration_rows=len(calibration),
        calibration_alerts=off_labels,
        warnings=warnings,
    )
