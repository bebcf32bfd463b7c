"""What every command does at the edge: read the settings once (a configuration error is one red
line, not a traceback), configure logging, and Prefect's defaults for this process; and the one
parser of the dates operators type."""

import datetime
import logging
import os
from urllib.parse import urlsplit

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
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_prefect_run_chatter)
    for chatty in ("httpx", "mlflow.utils", "alembic.runtime", "numexpr"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # MLflow draws a "Downloading artifacts" bar for every model it loads (a few files, under a
    # second): noise between our own progress lines, and a mess in a log file.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # pika logs every connection step, and ~8 errors with a traceback per failed attempt; each
    # failure reaches the workers as an exception, which their reconnect loop reports in one
    # line (serving/messaging/reconnect.py). --verbose shows pika's own account again.
    logging.getLogger("pika").setLevel(logging.WARNING if verbose else logging.CRITICAL)


def _prefect_run_chatter(record: logging.LogRecord) -> bool:
    """Prefect's INFO lines (every task run created and finished, the runs' own step lines) are
    for its UI, where the API log handler sends them; the console keeps its warnings and errors
    (a failed run's traceback) and our own progress lines."""
    return record.levelno >= logging.WARNING or not record.name.startswith("prefect")


# The temporary Prefect server (started when PREFECT_API_URL is unset) takes a port from these
# rather than from Prefect's own 8000–8999, where the API (8000) and the dashboard (8501) listen.
EPHEMERAL_PREFECT_PORTS = range(4300, 4400)


def prefect_defaults(settings: Settings | None = None) -> None:
    """Prefect's settings for a command's process. Call after `configure_logging` (so Prefect,
    imported here, keeps our console handler) and before the flows run."""
    # The temporary server's telemetry locks its SQLite database ("database is locked").
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # ...and the client announces its own telemetry on every run (three lines) unless told.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # INFO reaches the runs' logs in the UI; configure_logging keeps it off the console.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    # Our own progress lines (training, scoring, reports) go to the run's logs in the UI too;
    # outside a run (a worker waiting for jobs) they stay on the console only, without a warning.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "flows,models,serving")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    if not os.environ.get("PREFECT_API_URL"):
        pin_ephemeral_server_ports(settings or get_settings())


def pin_ephemeral_server_ports(settings: Settings) -> list[int]:
    """Prefect has no setting for its temporary server's port: it draws one at random from a
    range its server class holds. Give it ours, less any port our own services use."""
    from prefect.server.api.server import SubprocessASGIServer

    taken = {urlsplit(settings.api_url).port or 8000, settings.dashboard_port}
    ports = [port for port in EPHEMERAL_PREFECT_PORTS if port not in taken]
    SubprocessASGIServer._port_range = ports  # type: ignore[assignment]
    return ports


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
