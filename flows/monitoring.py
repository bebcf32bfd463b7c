"""The nightly drift and calibration monitor as the flows run it: the champion's training
reference from MLflow, the newest whole-day feature snapshot, tonight's scores against the
version's first batch, and the realised outcomes of closed scoring dates → PSI and calibration
gaps (models.monitoring) → PostgreSQL (serving.monitoring, the Modelo page reads it) and a
monitoring run in MLflow. A plain function, tested without Prefect.

Like for like: the training weeks are Sunday snapshots of whole days, so the features are
measured on the newest Sunday before the night's date, not on tonight's rows (run at 05:00, a
night's own rows have nobody "visited today", and a 30,000-member gym read PSI 3.1 on
recency from that alone). The score is compared with the same version's first batch: the
held-out scores of the training reference come from the validation fit, not the refit that
was registered."""

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import numpy as np
import pandas as pd
import sqlalchemy as sa

from models import drift_tracking, registry
from models.features import HORIZON_DAYS, load_scoring, newest_closed_snapshot
from models.monitoring import (
    GAP_ALERT_PP,
    PSI_ALERT,
    SCORE,
    calibration_gaps,
    drift,
    score_reference,
)
from models.scoring import NoChampionError
from serving.monitoring import (
    CALIBRATION_COLUMNS,
    batch_probabilities,
    first_batch_date,
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
    features_on: date | None  # the snapshot whose features were measured
    score_baseline_on: date | None  # the version's first batch, the score's reference
    calibration_rows: int
    calibration_alerts: list[str]
    warnings: list[str]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts of plain Python values (what the database driver takes)."""
    return cast(list[dict[str, Any]], frame.to_dict("records"))


def _probabilities(engine: sa.Engine, model_name: str, version: str, on: date) -> list[float]:
    return batch_probabilities(engine, model_name=model_name, model_version=version, as_of=on)


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
    """PSI per feature (the newest whole-day snapshot before `as_of` against the champion's
    training weeks) and of the score (tonight's batch against the version's first), and
    realised vs predicted churn of every closed scoring date; stored and logged to MLflow. The
    summary's `warnings` say what passed a line, for the flow's log."""
    champion = registry.champion(model_name)
    if champion is None:
        raise NoChampionError(f"no model registered as {model_name}@champion: nothing to monitor")
    version = str(champion.version)
    reference = drift_tracking.load_reference(champion.run_id)
    warnings: list[str] = []
    features_on = newest_closed_snapshot(engine, schema, before=as_of)
    baseline_on = first_batch_date(engine, model_name=model_name, model_version=version)
    if reference is None:
        psi_table = drift({}, pd.DataFrame(), None)
        warnings.append(
            f"{model_name} v{version} logged no training reference (trained before the "
            "monitor): no PSI until the next retraining"
        )
    else:
        features = (
            load_scoring(engine, schema, as_of=features_on)
            if features_on is not None
            else pd.DataFrame()
        )
        scores = np.asarray(_probabilities(engine, model_name, version, as_of))
        if baseline_on is not None:
            baseline = _probabilities(engine, model_name, version, baseline_on)
            reference = {**reference, SCORE: score_reference(np.asarray(baseline))}
        psi_table = drift(reference, features, scores)
    is_score = list(psi_table["variavel"] == SCORE)
    measured: list[Any] = [as_of if score else features_on for score in is_score]
    baselines: list[Any] = [baseline_on if score else None for score in is_score]
    psi_table = psi_table.assign(data_populacao=measured, data_base=baselines)
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
        f"PSI {row.psi:.3f} > {PSI_ALERT} for {row.variavel}: "
        + (
            f"tonight's scores have moved away from v{version}'s first batch ({baseline_on})"
            if row.variavel == SCORE
            else f"the members of {features_on} have moved away from v{version}'s newest "
            "training weeks"
        )
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
        features_on=features_on,
        score_baseline_on=baseline_on,
        calibration_rows=len(calibration),
        calibration_alerts=off_labels,
        warnings=warnings,
    )
