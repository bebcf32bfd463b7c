"""The churn pipeline as Prefect flows: thin recipes over plain functions in `models/` and
`serving/`. Retries only where a step talks to another service over the network (dbt and the
scorer's PostgreSQL/Redis writes); training is deterministic and would fail the same way twice.

Every flow takes an optional `job_id`: when a queue job started it, progress goes to the job's
row so `GET /admin/jobs/{id}` (and the dashboard) can show it.
"""

import uuid
from datetime import date, datetime
from typing import Any

from prefect import flow, get_run_logger, task

from flows.context import job_progress, resources
from flows.monitoring import monitor_champion
from flows.scoring import score_and_store
from models import registry
from models.features import load_labelled
from models.training import train_models
from models.tuning import GRID
from serving.reports import generate_daily_report
from serving.warehouse import dbt_build


def _today() -> date:
    return datetime.now(resources().settings.tz).date()


class WarehouseBuildError(RuntimeError):
    pass


@task(retries=1, retry_delay_seconds=15)
def build_warehouse(as_of: date | None, full_refresh: bool) -> str:
    """dbt build (models, unit tests, data tests); returns dbt's invocation id."""
    from dbt_common.invocation import get_invocation_id

    settings = resources().settings
    logger = get_run_logger()
    logger.info("dbt build as of %s%s", as_of or "today", " (full refresh)" if full_refresh else "")
    result = dbt_build(
        settings.database_url,
        as_of=as_of,
        full_refresh=full_refresh,
        quiet=True,
        progress=logger.info,
    )
    if not result.success:
        failed = [
            f"{r.node.name}: {r.message}"
            for r in (result.result or [])
            if str(getattr(r, "status", "")) in {"error", "fail"}
        ]
        raise WarehouseBuildError(
            "dbt build failed: " + ("; ".join(failed[:5]) or str(result.exception))
        )
    return get_invocation_id()


@task
def train(as_of: date, forest_params: dict[str, Any] | None, job_id: str | None):
    res = resources()
    labelled = load_labelled(res.engine, res.settings.dbt_schema, as_of=as_of)
    return train_models(
        labelled, forest_params=forest_params, progress=job_progress(job_id, 0.05, 0.75)
    )


@task
def register_and_promote(result, as_of: date, dbt_invocation_id: str | None) -> dict[str, Any]:
    settings = resources().use_mlflow()
    run_id, version = registry.log_training_run(
        result,
        model_name=settings.churn_model_name,
        as_of=as_of,
        dbt_invocation_id=dbt_invocation_id,
    )
    decision = registry.promote_if_better(settings.churn_model_name, version, run_id, result)
    return {
        "run_id": run_id,
        "modelo_versao": version,
        "promovido": decision.promoted,
        "motivo": decision.reason,
        # the gate's PR-AUC difference against each rival, with its bootstrap interval
        "comparacoes": [
            {"rival": c.rival, "diferenca": c.difference, "minimo": c.low, "maximo": c.high}
            for c in decision.comparisons
        ],
        "parametros": {key: result.params[key] for key in GRID},
        "candidatos": len(result.candidates),
        "metricas": result.metrics,
        "calibrado": result.calibrated,
        "tamanhos": result.sizes,
    }


def _worth_retrying(_task, _task_run, state) -> bool:
    """A second attempt may get past a network hiccup, not past a missing champion or missing
    feature rows (LookupError): those would fail the same way, only later."""
    return not isinstance(state.result(raise_on_failure=False), LookupError)


@task(retries=1, retry_delay_seconds=10, retry_condition_fn=_worth_retrying)
def score(as_of: date, job_id: str | None) -> dict[str, Any]:
    res = resources()
    settings = res.use_mlflow()
    summary = score_and_store(
        res.engine,
        res.redis,
        schema=settings.dbt_schema,
        model_name=settings.churn_model_name,
        as_of=as_of,
        cache_ttl=settings.churn_cache_seconds,
        risk_list_size=settings.risk_list_size,
        time_zone=settings.gym_timezone,
        job_id=uuid.UUID(job_id) if job_id else None,
        progress=job_progress(job_id, 0.0, 1.0),
    )
    return {
        "data_referencia": summary.as_of.isoformat(),
        "modelo_versao": summary.model_version,
        "alunos_pontuados": summary.scored,
        "por_faixa": summary.por_faixa,
        "cache_atualizado": summary.cache_refreshed,
    }


@task(retries=1, retry_delay_seconds=10, retry_condition_fn=_worth_retrying)
def monitor(as_of: date) -> dict[str, Any]:
    """The champion's drift (PSI) and realised-vs-predicted churn, stored and logged."""
    res = resources()
    settings = res.use_mlflow()
    summary = monitor_champion(
        res.engine, schema=settings.dbt_schema, model_name=settings.churn_model_name, as_of=as_of
    )
    logger = get_run_logger()
    for warning in summary.warnings:
        logger.warning(warning)
    return {
        "modelo_versao": summary.model_version,
        "run_id": summary.run_id,
        "psi": summary.psi,
        "alertas_psi": summary.psi_alerts,
        # the days compared: the features' whole-day snapshot, the score's reference batch
        "populacao_variaveis": summary.features_on and summary.features_on.isoformat(),
        "base_risco": summary.score_baseline_on and summary.score_baseline_on.isoformat(),
        "linhas_calibracao": summary.calibration_rows,
        "alertas_calibracao": summary.calibration_alerts,
    }


@task(retries=1, retry_delay_seconds=10)
def daily_report(dia: date, job_id: str | None) -> dict[str, Any]:
    res = resources()
    resumo = generate_daily_report(
        res.engine,
        dia,
        tz=res.settings.tz,
        warehouse_schema=res.settings.dbt_schema,
        job_id=uuid.UUID(job_id) if job_id else None,
        progress=job_progress(job_id, 0.0, 1.0),
    )
    return {"data": dia.isoformat(), "resumo": resumo.get("totais", resumo)}


@flow(name="build-warehouse", log_prints=True)
def build_flow(as_of: date | None = None, full_refresh: bool = False) -> dict[str, Any]:
    """dbt build of the warehouse (incremental unless `full_refresh`)."""
    invocation = build_warehouse(as_of, full_refresh)
    return {"dbt_invocation_id": invocation}


@flow(name="train-churn-model", log_prints=True)
def train_flow(
    as_of: date | None = None,
    forest_params: dict[str, Any] | None = None,
    dbt_invocation_id: str | None = None,
    job_id: str | None = None,
) -> dict[str, Any]:
    """Train the Random Forest and both baselines out of time, log and register the run in
    MLflow, and move @champion only if it beats the champion on the same held-out data."""
    as_of = as_of or _today()
    result = train(as_of, forest_params, job_id)
    outcome = register_and_promote(result, as_of, dbt_invocation_id)
    forest = outcome["metricas"]["random_forest"]
    get_run_logger().info(
        "v%s: ROC-AUC %.3f, PR-AUC %.3f — %s",
        outcome["modelo_versao"],
        forest["roc_auc"],
        forest["pr_auc"],
        outcome["motivo"],
    )
    return outcome


@flow(name="score-churn", log_prints=True)
def score_flow(as_of: date | None = None, job_id: str | None = None) -> dict[str, Any]:
    """Score every active member with models:/<name>@champion; store and cache the scores."""
    return score(as_of or _today(), job_id)


@flow(name="daily-report", log_prints=True)
def report_flow(dia: date | None = None, job_id: str | None = None) -> dict[str, Any]:
    """The day's attendance report (CSV + HTML), stored and listed by the API."""
    return daily_report(dia or _today(), job_id)


@flow(name="nightly-pipeline", log_prints=True)
def nightly_flow(
    as_of: date | None = None, retrain: bool = False, full_refresh: bool = False
) -> dict[str, Any]:
    """Build ▶ (train ▶ register ▶ promote, when asked or when there is no champion yet) ▶
    score ▶ daily report ▶ monitor (drift, realised vs predicted churn). With `as_of` nothing
    after that date is used: a backtest."""
    as_of = as_of or _today()
    # A past date rebuilds the features as of that date (dbt does a full rebuild for it).
    invocation = build_warehouse(as_of, full_refresh)
    outcome: dict[str, Any] = {
        "data_referencia": as_of.isoformat(),
        "dbt_invocation_id": invocation,
    }
    settings = resources().use_mlflow()
    if retrain or registry.champion(settings.churn_model_name) is None:
        result = train(as_of, None, None)
        outcome["treino"] = register_and_promote(result, as_of, invocation)
    outcome["pontuacao"] = score(as_of, None)
    outcome["relatorio"] = daily_report(as_of, None)
    # Last: a monitor that fails leaves the night's scores and report in place.
    outcome["monitoramento"] = monitor(as_of)
    return outcome
