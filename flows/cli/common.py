"""What every command does at the edge: read the settings once (a configuration error is one red
line, not a traceback), configure logging, and Prefect's defaults for this process; and the one
parser of the dates operators type."""

import datetime
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
            setting = "_".join(str(part) for part in error["loc"]).upper()
            message = error["msg"].removeprefix("Value error, ")
            where = f" in {setting}" if setting else ""
            typer.secho(f"configuration error{where}: {message}", fg="red", err=True)
        raise typer.Exit(2) from exc


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("httpx", "mlflow.utils", "alembic.runtime"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # pika logs every connection step, and ~8 errors with a traceback per failed attempt; each
    # failure reaches the workers as an exception, which their reconnect loop reports in one
    # line (serving/messaging/reconnect.py). --verbose shows pika's own account again.
    logging.getLogger("pika").setLevel(logging.WARNING if verbose else logging.CRITICAL)


def prefect_defaults() -> None:
    # The temporary server's telemetry locks its SQLite database ("database is locked").
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def parse_date(value: str | datetime.date) -> datetime.date:
    """A date option's value, read as AAAA-MM-DD; anything else is a usage error (exit 2) that
    names the expected form instead of strptime's pattern."""
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"data inválida '{value}': use AAAA-MM-DD") from None


def as_of_option(help_text: str) -> typer.models.OptionInfo:
    """`--as-of AAAA-MM-DD`, read by `parse_date`, for every command that takes an as-of date."""
    return typer.Option("--as-of", parser=parse_date, metavar="AAAA-MM-DD", help=help_text)
