"""What an operator sees when a command fails for a reason outside the code: one line saying what
is wrong and what to do, and an exit code that scripts can test (documented in the README):

    0  done            1  the command ran and reports a failure (e.g. rejected rows)
    2  bad usage or configuration                3  a service is unreachable
    130 interrupted (Ctrl-C)
"""

import re
import sys

import pika.exceptions
import psycopg
import redis.exceptions
import sqlalchemy.exc

SERVICE_UNREACHABLE = 3
INTERRUPTED = 130
START_HINT = "is it running? `make services` starts the local services"


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0].removeprefix("connection failed: ")


def operator_message(exc: BaseException) -> tuple[str, int] | None:
    """(one line, exit code) for a failure an operator can fix; None for a bug (a traceback
    then tells a developer where it is)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", INTERRUPTED
    if isinstance(exc, sqlalchemy.exc.OperationalError | psycopg.OperationalError):
        problem = _first_line(exc)
        if "does not exist" in problem:
            hint = "`gympulse db upgrade` creates and migrates it; or check DATABASE_URL"
        elif "authentication failed" in problem:
            hint = "check the user and password in DATABASE_URL"
        else:
            hint = f"{START_HINT}; check DATABASE_URL"
        return f"PostgreSQL: {problem} ({hint})", SERVICE_UNREACHABLE
    if isinstance(exc, pika.exceptions.AMQPConnectionError):
        return f"RabbitMQ unreachable: {_first_line(exc)} ({START_HINT}; check RABBITMQ_URL)", (
            SERVICE_UNREACHABLE
        )
    if _mlflow_unreachable(exc):
        uri = _server_of(exc)
        return (
            f"MLflow unreachable at {uri}: {_connection_reason(exc)} (is the tracking server "
            "running? check MLFLOW_TRACKING_URI)",
            SERVICE_UNREACHABLE,
        )
    if isinstance(exc, redis.exceptions.ConnectionError):
        return f"Redis unreachable: {_first_line(exc)} ({START_HINT}; check REDIS_URL)", (
            SERVICE_UNREACHABLE
        )
    return None


def _mlflow_unreachable(exc: BaseException) -> bool:
    """MLflow's REST client gave up reaching the tracking server. Read from sys.modules: a
    command that never imported MLflow cannot have raised its error (and should not pay for
    importing it here)."""
    exceptions = sys.modules.get("mlflow.exceptions")
    return (
        exceptions is not None
        and isinstance(exc, exceptions.MlflowException)
        and "API request to" in str(exc)
        and "failed with exception" in str(exc)
    )


def _server_of(exc: BaseException) -> str:
    """The server the request went to, as MLflow's message names it."""
    found = re.search(r"API request to (\S+?)/api/", str(exc))
    return found.group(1) if found else "the tracking server"


def _connection_reason(exc: BaseException) -> str:
    """`Connection refused` and the like, out of the urllib3 retry message MLflow wraps."""
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    return found.group(1).strip() if found else "no answer"
