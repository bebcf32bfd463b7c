"""The `gympulse` command line."""

import logging
import sys
from typing import Annotated

import typer

app = typer.Typer(help="gympulse: gym attendance and churn platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
users_app = typer.Typer(help="Staff users.", no_args_is_help=True)
devices_app = typer.Typer(help="Kiosk devices and their API keys.", no_args_is_help=True)
worker_app = typer.Typer(help="Queue consumers.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(devices_app, name="devices")
app.add_typer(worker_app, name="worker")


def _settings():
    from pydantic import ValidationError

    from serving.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            typer.secho(f"configuration error: {error['msg']}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create the database if needed and apply migrations."""
    from serving.db.migrate import current_revision, upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at revision {current_revision(settings.database_url)}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base")) -> None:
    """Roll migrations back to a revision."""
    from serving.db.migrate import downgrade

    downgrade(_settings().database_url, revision)
    typer.echo(f"downgraded to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the applied revision."""
    from serving.db.migrate import current_revision

    typer.echo(current_revision(_settings().database_url) or "no revision applied")


@app.command("api")
def serve_api(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes")] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    _settings()
    uvicorn.run(
        "serving.api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


@worker_app.command("checkins")
def worker_checkins(verbose: bool = False) -> None:
    """Consume checkin_queue and land events in PostgreSQL exactly once."""
    from serving.messaging.consumer import run_checkin_worker

    _logging(verbose)
    run_checkin_worker(_settings())


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

    settings = _settings()
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
        created = upsert_admin(username, password, email or settings.admin_email)
    except UserError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"admin '{username}' {'created' if created else 'updated'}")


@devices_app.command("create")
def create_device(name: str, local: str | None = None) -> None:
    """Register a kiosk and print its API key (shown once)."""
    from serving.users import UserError, create_device_key

    _settings()
    try:
        key = create_device_key(name, local)
    except UserError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(key)


@app.command("demo")
def demo(
    members: Annotated[int, typer.Option(help="Members to seed")] = 40,
    checkins: Annotated[int, typer.Option(help="Check-ins to post through the API")] = 400,
    port: int = 8000,
    serve: Annotated[bool, typer.Option(help="Keep API and consumer running at the end")] = True,
) -> None:
    """The main job: migrate, create the admin, seed, ingest through API + queue, serve."""
    from serving.demo import run_demo

    _logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    raise typer.Exit(
        run_demo(_settings(), members=members, checkins=checkins, port=port, serve=serve)
    )


if __name__ == "__main__":
    app()
