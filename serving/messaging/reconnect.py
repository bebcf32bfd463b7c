"""The workers' outer loop: run a consuming session, and when the broker connection drops,
reconnect with exponential backoff until asked to stop.

A session ended by the broker is one that raised an AMQP or socket error, or raised anything
while one of those was being handled: pika's teardown of a channel whose connection is gone can
raise, e.g., an `AssertionError` in `BlockingChannel`. Every such end is one log line and a
retry; the messages the session had not acked are redelivered by the broker, and both workers
are idempotent (check-ins by `checkin_id`, jobs by their row's state). Any other exception is a
bug: it propagates, the process exits with its traceback, and its supervisor restarts it
(deploy/systemd)."""

import logging
import time
from collections.abc import Callable

import pika
from pika.adapters.blocking_connection import BlockingConnection
from pika.exceptions import AMQPError, ChannelClosed

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0
# Sleeps are cut in slices so that SIGTERM during a long backoff stops the worker at once.
_SLEEP_SLICE_SECONDS = 0.2
BROKER_FAILURES = (AMQPError, OSError)


def broker_address(url: str) -> str:
    """HOST:PORT of an AMQP URL, for log lines (never the credentials in it)."""
    params = pika.URLParameters(url)
    return f"{params.host}:{params.port}"


def broker_failure(exc: BaseException) -> BaseException | None:
    """The AMQP or socket error that `exc` is, or was raised while handling; None for a bug."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BROKER_FAILURES):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def reason(exc: BaseException) -> str:
    """A short reason: pika wraps the socket error in exceptions of its own
    (`AMQPConnectionError(AMQPConnectorSocketConnectError(ConnectionRefusedError(...)))`)."""
    for _ in range(5):
        inner = getattr(exc, "exception", None)  # pika's connector errors keep it there
        if not isinstance(inner, BaseException) and exc.args:
            inner = exc.args[0]
        if not isinstance(inner, BaseException):
            break
        exc = inner
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = " ".join(str(arg) for arg in exc.args)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def end_session(connection: BlockingConnection) -> None:
    """Close a session's connection. One the broker already closed has nothing left to close,
    and tearing down its channels is where pika raises: leave it alone."""
    if connection.is_closed:
        return
    try:
        connection.close()
    except Exception:
        if not connection.is_closed:
            raise  # the connection is fine, so the failure is ours


def _sleep(seconds: float, stopping: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while not stopping() and time.monotonic() < deadline:
        time.sleep(min(_SLEEP_SLICE_SECONDS, max(0.0, deadline - time.monotonic())))


def run_reconnecting(
    session: Callable[[Callable[[], None]], None], stopping: Callable[[], bool], broker: str
) -> None:
    """Run `session` until `stopping()`; `broker` (HOST:PORT) names it in the log lines.

    `session` gets a callback to call once it is connected and consuming: the next outage's
    first retry is then quick again, instead of waiting as long as the last outage's last."""
    backoff = FIRST_BACKOFF_SECONDS
    connected = False

    def on_connected() -> None:
        nonlocal connected
        connected = True

    while not stopping():
        connected = False
        try:
            session(on_connected)
            backoff = FIRST_BACKOFF_SECONDS
        except Exception as exc:
            failure = broker_failure(exc)
            if failure is None:
                raise
            if connected:
                backoff = FIRST_BACKOFF_SECONDS
            log.warning(
                "%s (%s); retrying in %gs",
                _what(failure, broker, connected),
                reason(failure),
                backoff,
            )
            _sleep(backoff, stopping)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)


def _what(failure: BaseException, broker: str, connected: bool) -> str:
    if isinstance(failure, ChannelClosed):
        return f"RabbitMQ at {broker} closed the channel"
    if connected:
        return f"RabbitMQ connection to {broker} lost"
    return f"RabbitMQ unreachable at {broker}"
