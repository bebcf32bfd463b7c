"""Churn lifecycle commands: the pipeline run once, the flows served with their schedules, the job
worker, scores export."""

import datetime
import os
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import as_of_option, configure_logging, load_settings, prefect_defaults
from flows.cli.live_status import live_status

pipeline_app = typer.Typer(help="The nightly chain, run once.", no_args_is_help=True)
flows_app = typer.Typer(help="Prefect flows and their schedules.", no_args_is_help=True)
scores_app = typer.Typer(help="Churn scores.", no_args_is_help=True)

AsOf = Annotated[
    datetime.date | None,
    as_of_option("Use nothing after this date (a backtest); default: today in the gym's zone"),
]


@pipeline_app.command("run")
def pipeline_run(
    as_of: AsOf = None,
    retrain: Annotated[
        bool, typer.Option(help="Train and try to promote a new model before scoring")
    ] = True,
    full_refresh: Annotated[bool, typer.Option("--full-refresh")] = False,
) -> None:
    """Build ▶ train ▶ register ▶ promote ▶ score ▶ daily report, once."""

    settings = load_settings()
    configure_logging()
    prefect_defaults(settings)
    from flows.churn import nightly_flow

    try:
        with live_status("pipeline"):
            outcome = nightly_flow(as_of=as_of, retrain=retrain, full_refresh=full_refresh)
    except Exception as exc:  # the flow already logged the traceback
        typer.secho(f"pipeline failed: {type(exc).__name__}: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    for line in outcome_lines(outcome):
        typer.echo(line)


def outcome_lines(outcome: dict) -> list[str]:
    """What a pipeline run did, for people: metrics, the promotion decision, the scores."""
    lines = [f"as of {outcome['data_referencia']}"]
    training = outcome.get("treino")
    if training:
        lines.append("  out-of-time metrics on the held-out members and weeks:")
        for name, values in training["metricas"].items():
            lines.append(
                f"    {name:<22} ROC-AUC {values['roc_auc']:.3f}  PR-AUC {values['pr_auc']:.3f}  "
                f"Brier {values['brier']:.4f}  lift@10% {values['lift_top10']:.2f}"
            )
        chosen = ", ".join(f"{k}={v}" for k, v in training.get("parametros", {}).items())
        if training.get("candidatos"):
            lines.append(f"  forest chosen out of a grid of {training['candidatos']}: {chosen}")
        if training["promovido"]:
            lines.append(
                f"  model v{training['modelo_versao']} is @champion ({training['motivo']})"
            )
        else:
            lines.append(
                f"  model v{training['modelo_versao']} not promoted: {training['motivo']}; "
                "the champion keeps scoring"
            )
    scoring = outcome["pontuacao"]
    tiers = scoring["por_faixa"]
    lines.append(
        f"  {scoring['alunos_pontuados']:,} active members scored with "
        f"v{scoring['modelo_versao']}: {tiers['alto']} high risk, {tiers['medio']} medium, "
        f"{tiers['baixo']} low"
    )
    lines.append(f"  daily report for {outcome['relatorio']['data']} stored")
    return lines


@flows_app.command("serve")
def flows_serve() -> None:
    """Serve the flows with their schedules (nightly pipeline, weekly training) to the Prefect
    server at PREFECT_API_URL; they show up in its UI."""

    settings = load_settings()
    if not os.environ.get("PREFECT_API_URL"):
        typer.secho(
            "PREFECT_API_URL is not set: start a server (`prefect server start`) and export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api so the schedules have somewhere to live",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    prefect_defaults(settings)
    from flows.serve import serve_flows

    serve_flows(settings.gym_timezone)


def worker_jobs(verbose: bool = False) -> None:
    """Consume model_update_queue, churn_probabilities_queue and daily_report_queue."""
    from flows.worker import run_job_worker

    settings = load_settings()
    configure_logging(verbose)
    prefect_defaults(settings)
    run_job_worker(settings)


def _as_text(expression: str) -> str:
    """Free text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) starts with
    a quote, as in the daily report's CSV."""
    expression = f"({expression})"
    return (
        f"case when left({expression}, 1) in ('=', '+', '-', '@', E'\\t', E'\\r') "
        f"then '''' || {expression} else {expression} end"
    )


# The at-risk rows (migration 0006): the API's and the dashboard's, with the three reasons.
EXPORT_SQL = f"""
copy (
    select
        aluno_id, aluno_ref, {_as_text("nome")}, {_as_text("plano")}, data_referencia,
        round(probabilidade::numeric, 4), faixa_risco, modelo_versao,
        {_as_text("fatores -> 0 ->> 'descricao'")},
        {_as_text("fatores -> 1 ->> 'descricao'")},
        {_as_text("fatores -> 2 ->> 'descricao'")}
    from alunos_em_risco(%(fuso)s, %(dia)s)
    where (%(sinteticos)s or not sintetico) {{date_filter}}
    order by aluno_id
) to stdout with (format csv)
"""
EXPORT_HEADER = (
    "aluno_id,aluno_ref,nome,plano,data_referencia,probabilidade,faixa_risco,modelo_versao,"
    "motivo_1,motivo_2,motivo_3\n"
)


@scores_app.command("export")
def scores_export(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write")],
    as_of: Annotated[
        datetime.date | None,
        as_of_option("Scores of this as-of date only"),
    ] = None,
    incluir_sinteticos: Annotated[
        bool,
        typer.Option(
            "--incluir-sinteticos", help="Also the synthetic students (POST /aluno/sintetico)"
        ),
    ] = False,
) -> None:
    """Each active member's latest churn score with name, plan and the three reasons, as CSV for
    spreadsheets. Synthetic students are left out, as in the API's at-risk list."""
    import psycopg

    from serving.db.engine import libpq_url

    settings = load_settings()
    # The scores in force on that day, of that day only; else the current ones.
    date_filter = "and data_referencia = %(dia)s" if as_of else ""
    rows = 0
    try:
        with (
            psycopg.connect(libpq_url(settings.database_url)) as conn,
            conn.cursor() as cursor,
            out.open("w", encoding="utf-8", newline="") as handle,
        ):
            handle.write(EXPORT_HEADER)
            params = {
                "fuso": settings.gym_timezone,
                "dia": as_of or "infinity",
                "sinteticos": incluir_sinteticos,
            }
            sql = EXPORT_SQL.format(date_filter=date_filter)
            with cursor.copy(sql, params) as copy:
                for chunk in copy:
                    text = bytes(chunk).decode()
                    rows += text.count("\n")
                    handle.write(text)
    except OSError as exc:
        typer.secho(f"cannot write {out}: {exc.strerror}", fg="red", err=True)
        raise typer.Exit(2) from exc
    except psycopg.OperationalError as exc:
        typer.secho(f"database unavailable: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    if rows == 0:
        typer.secho("no scores yet: run `gympulse pipeline run` first", fg="yellow", err=True)
    typer.echo(f"{rows:,} members written to {out}")
