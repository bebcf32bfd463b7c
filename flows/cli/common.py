"""What every command does at the edge: read the settings once (a configuration error is one red
line, not a traceback), configure logging, and Prefect's defaults for this process."""

import logging
import os

import typer
from pydantic import ValidationError

from serving.config import Settings, get_settings


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            typer.secho(f"configuration error: {error['msg']}", fg="red", err=True)
        raise typer.Exit(2) from exc


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("httpx", "mlflow.utils", "alembic.runtime"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def prefect_defaults() -> None:
    # The temporary server's telemetry locks its SQLite database ("database is locked").
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
