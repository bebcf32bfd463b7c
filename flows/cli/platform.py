"""Platform commands: the database schema, the API server, the check-in consumer, the dashboard,
staff users and kiosk devices."""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import configure_logging, load_settings
from serving.config import REPO_ROOT

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
users_app = typer.Typer(help="Staff users.", no_args_is_help=True)
devices_app = typer.Typer(help="Kiosk devices and their API keys.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create the database if needed and apply migrations."""
    from serving.db.migrate import current_revision, upgrade

    settings = load_settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at revision {current_revision(settings.database_url)}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base")) -> None:
    """Roll migrations back to a revision."""
    from serving.db.migrate import downgrade

    downgrade(load_settings().database_url, revision)
    typer.echo(f"downgraded to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the applied revision."""
    from serving.db.migrate import current_revision

    typer.echo(current_revision(load_settings().database_url) or "no revision applied")


def serve_api(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes")] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    from serving.api.server import serve

    load_settings()
    serve(host=host, port=port, workers=workers)


DASHBOARD_APP = REPO_ROOT / "dashboard" / "app.py"


def streamlit_command(port: int, app: Path = DASHBOARD_APP) -> list[str]:
    """`streamlit run dashboard/app.py` as a server: no browser opened, no telemetry, no file
    watcher (a server does not reload code), on the loopback address only, and no developer
    menu (Deploy, Rerun, Clear cache) for the staff who use it."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
    ]


def serve_dashboard(
    port: Annotated[int | None, typer.Option(help="Default: DASHBOARD_PORT (8501)")] = None,
) -> None:
    """Serve the Streamlit dashboard (login with a staff user of the API)."""
    settings = load_settings()
    command = streamlit_command(port or settings.dashboard_port)
    # Replaced by Streamlit rather than wrapping it: the dashboard package never loads into the
    # command line, and a signal to this process (the demo stopping it) reaches the server.
    os.chdir(REPO_ROOT)
    # The Modelo page reads the runs' plots from MLflow: no download bars in the server's log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.execv(command[0], command)


def worker_checkins(verbose: bool = False) -> None:
    """Consume checkin_queue and land events in PostgreSQL exactly once."""
    from serving.messaging.consumer import run_checkin_worker

    configure_logging(verbose)
    run_checkin_worker(load_settings())


@users_app.command("create-admin")
def create_admin(
    username: Annotated[str | None, typer.Option(envvar="GYMPULSE_ADMIN_USERNAME")] = None,
    password: Annotated[
        str | None, typer.Option(envvar="GYMPULSE_ADMIN_PASSWORD", show_default=False)
    ] = None,
    email: Annotated[str | None, typer.Option(envvar="GYMPULSE_ADMIN_EMAIL")] = None,
) -> None:
    """Create (or reset the password of) an admin user. Reads GYMPULSE_ADMIN_USERNAME and
    GYMPULSE_ADMIN_PASSWORD, or asks."""
    from serving.users import UserError, upsert_admin

    settings = load_settings()
    username = username or settings.admin_username
    if password is None and settings.admin_password is not None:
        password = settings.admin_password.get_secret_value()
    if not username:
        if not sys.stdin.isatty():
            typer.secho("set GYMPULSE_ADMIN_USERNAME or pass --username", fg="red", err=True)
            raise typer.Exit(2)
        username = typer.prompt("admin username")
    if not password:
        if not sys.stdin.isatty():
            typer.secho("set GYMPULSE_ADMIN_PASSWORD or pass --password", fg="red", err=True)
            raise typer.Exit(2)
        password = typer.prompt("admin password", hide_input=True, confirmation_prompt=True)
    try:
        created = upsert_admin(
            username, password, email or settings.admin_email, database_url=settings.database_url
        )
    except UserError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"admin '{username}' {'created' if created else 'updated'}")


@devices_app.command("create")
def create_device(name: str, local: str | None = None) -> None:
    """Register a kiosk and print its API key (shown once)."""
    from serving.users import UserError, create_device_key

    settings = load_settings()
    try:
        key = create_device_key(name, local, database_url=settings.database_url)
    except UserError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(key)
