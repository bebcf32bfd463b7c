"""Data commands: a simulated gym, a gym's history imported from another system, the dbt
warehouse."""

import datetime
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.common import as_of_option, configure_logging, load_settings

if TYPE_CHECKING:
    from serving.history_import import ImportReport

simulate_app = typer.Typer(
    help="Simulated gym data: `gympulse simulate --members N --months M` loads a whole gym's "
    "history; `gympulse simulate student ...` creates one member with a chosen profile.",
    invoke_without_command=True,
)
dbt_app = typer.Typer(
    help="The dbt warehouse (dbt/): staging, visits, marts, features.", no_args_is_help=True
)


# Long for its options (typer declares one per flag); the body is short.
@simulate_app.callback()
def simulate(
    ctx: typer.Context,
    members: Annotated[int, typer.Option(min=1, help="Members who join over the period")] = 500,
    months: Annotated[int, typer.Option(min=1, max=120, help="Months of history")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same CSV files")] = 42,
    replay_days: Annotated[
        int,
        typer.Option(
            min=0,
            max=30,
            help="Post the last D days of check-ins through the live API (needs `gympulse api` "
            "and `gympulse worker checkins` running) instead of importing them",
        ),
    ] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Where to write the CSV files (default: a temp dir)")
    ] = None,
    generate_only: Annotated[
        bool, typer.Option(help="Write the CSV files without importing them")
    ] = False,
) -> None:
    """Simulate a gym (members joining, engagement, cancellations) and load it through the
    history import; see docs/simulator.md for the behavioural model."""
    if ctx.invoked_subcommand is not None:
        return
    configure_logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = load_settings()
    if generate_only:
        import tempfile

        from serving.simulator import generate

        folder = out or Path(tempfile.mkdtemp(prefix="gympulse-sim-"))
        summary, _ = generate(
            folder, members=members, months=months, seed=seed, tz=settings.gym_timezone
        )
        typer.echo(
            f"{summary.members} members ({summary.cancelled} cancelled), "
            f"{summary.checkin_rows} check-in rows in {summary.seconds:.1f} s -> {folder}"
        )
        return
    from serving.simulator import simulate_gym

    try:
        result = simulate_gym(
            members=members,
            months=months,
            seed=seed,
            replay_days=replay_days,
            database_url=settings.database_url,
            gym_timezone=settings.gym_timezone,
            redis_url=settings.redis_url,
            api_url=settings.api_url,
            out_dir=out,
            log=typer.echo,
        )
    except ImportError as exc:
        typer.secho(f"history import unavailable: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    except RuntimeError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    total = result.summary.seconds + result.import_seconds + result.replay_seconds
    typer.echo(f"done in {total:.1f} s")
    if replay_days and result.replay_stored != result.replay_accepted:
        raise typer.Exit(1)


@simulate_app.command("student")
def simulate_student(
    plano: Annotated[str, typer.Option(help="Name of an active plan")] = "Mensal",
    visitas_semana: Annotated[float, typer.Option(help="Visits per week")] = 2.0,
    duracao: Annotated[float, typer.Option(help="Average visit duration, minutes")] = 50.0,
    dias_desde_ultima: Annotated[int, typer.Option(help="Days since the last visit")] = 7,
    semanas: Annotated[int, typer.Option(help="Weeks of history")] = 16,
    nome: str | None = None,
    email: str | None = None,
    seed: Annotated[int | None, typer.Option(help="Random seed for visit times")] = None,
) -> None:
    """Create one member with this profile; its history is in PostgreSQL when this returns."""
    from serving.simulator import StudentError, StudentProfile, create_synthetic_student

    settings = load_settings()
    profile = StudentProfile(
        plano=plano,
        visitas_semana=visitas_semana,
        duracao=duracao,
        dias_desde_ultima=dias_desde_ultima,
        semanas=semanas,
        nome=nome,
        email=email,
    )
    try:
        created = create_synthetic_student(
            profile,
            database_url=settings.database_url,
            gym_timezone=settings.gym_timezone,
            seed=seed,
        )
        aluno_id, written = created.aluno_id, created.checkins
    except (StudentError, ValueError) as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"member {aluno_id} created with {written} check-ins")
    typer.echo(f"score it: GET /aluno/{aluno_id}/risco-churn")


# Long for its options (typer declares one per flag); the report is printed by _print_import.
def import_command(
    planos: Annotated[
        Path | None, typer.Option(help="CSV: nome, valor_mensal, duracao_meses")
    ] = None,
    alunos: Annotated[
        Path | None,
        typer.Option(
            help="CSV: aluno_ref, nome, email, telefone, data_nascimento, plano, "
            "data_matricula, data_cancelamento"
        ),
    ] = None,
    checkins: Annotated[Path | None, typer.Option(help="CSV: aluno_ref, entrada, saida")] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Where to write rejected rows [default: var/import-rejects-<time>.csv]"),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
) -> None:
    """Import a gym's history from another system (idempotent: running it twice adds nothing).
    Rejected rows are reported with file, line and every problem while the valid ones load.
    Exit 0: everything loaded; 1: some rows rejected (listed in the rejects file); 2: a file
    cannot be imported at all (nothing loaded); 3: PostgreSQL unreachable."""
    import psycopg

    from serving.history_import import HistoryImportError, import_history

    if planos is None and alunos is None and checkins is None:
        typer.secho(
            "nothing to import: pass --planos, --alunos and/or --checkins", fg="red", err=True
        )
        raise typer.Exit(2)
    settings = load_settings()
    try:
        report = import_history(
            planos,
            alunos,
            checkins,
            database_url=settings.database_url,
            gym_timezone=settings.gym_timezone,
            redis_url=settings.redis_url,
            progress=progress,
        )
    except HistoryImportError as exc:
        typer.secho(f"import refused: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    except psycopg.OperationalError:
        raise  # unreachable or refusing: one line and exit 3 (flows/cli/errors.py)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        typer.secho(f"import failed, database error: {first}", fg="red", err=True)
        raise typer.Exit(1) from None
    _print_import(report, rejects)
    if report.rejects:
        raise typer.Exit(1)


# What repeats a row in each file (a duplicate inside the file is skipped, not rejected).
_FILE_KEYS = {"planos": "nome", "alunos": "aluno_ref", "checkins": "member and time"}
_REJECTS_SHOWN = 20


def _print_import(report: "ImportReport", rejects: Path | None) -> None:
    """Counts per file, the first rejects without their cells' values (the rejects file has
    them), and a last line saying whether anything was rejected and where it is listed."""
    from datetime import UTC, datetime

    from serving.history_import import write_rejects

    for kind, key in _FILE_KEYS.items():
        rep = getattr(report, kind)
        if rep is None:
            continue
        line = (
            f"{rep.file}: {rep.read:,} rows read, {rep.rejected:,} rejected; "
            f"{rep.inserted:,} {rep.unit} inserted, {rep.already_present:,} already present"
        )
        if rep.duplicates:
            what = rep.unit if rep.duplicates > 1 else rep.unit.removesuffix("s")
            line += f"; {rep.duplicates:,} duplicate {what} in the file (same {key} twice), skipped"
        typer.echo(line)
        if rep.ignored_columns:
            typer.echo(f"  columns ignored: {', '.join(rep.ignored_columns)}")
        if rep.kept_as_stored:
            differing = ", ".join(f"{column} ({n:,})" for column, n in rep.kept_as_stored.items())
            typer.echo(
                f"  other values than stored in {differing}: kept as stored "
                "(an import never changes a stored row)"
            )
    if report.alunos is not None:
        typer.echo(
            f"status history: {report.status_inserted:,} rows inserted; "
            f"{report.members_updated:,} members updated"
        )
    if not report.rejects:
        typer.echo(f"done in {report.seconds:.1f} s")
        return
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = write_rejects(report.rejects, rejects or Path("var") / f"import-rejects-{stamp}.csv")
    rows = "row" if len(report.rejects) == 1 else "rows"
    typer.secho(f"{len(report.rejects):,} {rows} rejected:", fg="yellow")
    for reject in report.rejects[:_REJECTS_SHOWN]:
        typer.echo(f"  {reject.file} line {reject.line}: {reject.summary}")
    if len(report.rejects) > _REJECTS_SHOWN:
        typer.echo(f"  ... and {len(report.rejects) - _REJECTS_SHOWN:,} more")
    typer.secho(
        f"done in {report.seconds:.1f} s; {len(report.rejects):,} {rows} rejected: see {path}",
        fg="yellow",
    )


@dbt_app.command("build")
def dbt_build(
    as_of: Annotated[
        datetime.date | None,
        as_of_option("Scoring date of churn_features (default: today in the gym's time zone)"),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch")
    ] = False,
    select: Annotated[str | None, typer.Option("--select", "-s", help="dbt node selection")] = None,
) -> None:
    """Run `dbt build` (models, unit tests, data tests) against DATABASE_URL's database.
    The target schema comes from DBT_SCHEMA (default analytics)."""
    from serving.warehouse import dbt_build as run_dbt_build

    settings = load_settings()
    result = run_dbt_build(
        settings.database_url,
        as_of=as_of,
        full_refresh=full_refresh,
        select=select,
    )
    if not result.success:
        detail = f": {result.exception}" if result.exception is not None else ""
        typer.secho(f"dbt build failed{detail}", fg="red", err=True)
        raise typer.Exit(1)
