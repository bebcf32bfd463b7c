"""The last line of the API: an unexpected exception answers a 500 (`erro_interno`) and is logged
by type and place only. Messages are left out because pydantic, SQLAlchemy and psycopg quote the input in
them (request bodies, passwords, personal data)."""

import logging
import traceback

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.errors import plain_response

log = logging.getLogger(__name__)


def log_unexpected(method: str, path: str, exc: BaseException) -> None:
    log.error(
        "unhandled %s on %s %s\n%s",
        type(exc).__name__,
        method,
        path,
        "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
    )


class TrackedSend:
    """An ASGI `send` that remembers whether the answer has started: after that, an error can
    no longer be answered, only the connection closed."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


class AnswerUnexpectedErrors:
    """Pure ASGI middleware. Starlette's own `Exception` handler re-raises after answering, and
    the server then logs the exception with its message: this one does not re-raise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log_unexpected(scope["method"], scope["path"], exc)
            if not tracked.started:  # otherwise the server closes the half-sent answer
                await plain_response("erro_interno")(scope, receive, send)
