"""How much of a request body the API reads, decided from its headers before a byte of it.

Every body has a limit (the table below). A body declared larger is refused with 413 at once;
one sent without a length (chunked) is counted as it streams and refused as soon as it passes
the limit. A request without credentials is never read past `ANONYMOUS_BODY_BYTES`: on a route
that needs credentials that is a 401, on a public one a 413 (none takes more). On a route that
takes more than `DEFAULT_BODY_BYTES` (the bulk), the credentials are also *checked* before the
body is read past that: a forged token or an unknown key is a 401 after 64 KiB, not after 10 MB
(a cheap check: a signature, then the routes' credential cache). Elsewhere only their presence
counts here; the routes' dependencies check them.

This middleware runs outside `StrictJsonBodies`, which buffers a body whole: with it in front,
nothing is buffered past the limit (plus the one network read that crossed it)."""

from typing import Final

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving import rules
from serving.api.deps import authenticate
from serving.api.docs import ASSETS_PATH, DOCS_PATH, OAUTH2_REDIRECT_PATH
from serving.api.errors import ApiError, error_response, number
from serving.api.failures import TrackedSend
from serving.api.headers import route_path

KIB: Final = 1024
# Every body but the bulk: the longest field is a plan's description (2,000 characters, 12 KB
# even with every character escaped as \uXXXX).
DEFAULT_BODY_BYTES: Final = 64 * KIB
# Enough for any body of a public route (a login form, a refresh token); also what anyone
# without credentials may make the API read.
ANONYMOUS_BODY_BYTES: Final = 4 * KIB
# The largest event CheckinIn accepts, as a standard encoder writes it (json.dumps, which
# escapes non-ASCII: a 120-character `dispositivo` alone is 720 bytes), is about 900 bytes;
# the dashboard's CSV upload sends about 140 per event (1.4 MB for a full batch).
BULK_EVENT_BYTES: Final = KIB
BULK_BODY_BYTES: Final = rules.BULK_MAX_EVENTS * BULK_EVENT_BYTES + KIB  # + the envelope

# (method, path) → limit, for the routes that take more than DEFAULT_BODY_BYTES.
ROUTE_BODY_BYTES: Final[dict[tuple[str, str], int]] = {
    ("POST", "/aluno/checkin/lote"): BULK_BODY_BYTES,
}
# The routes anyone may call (the test compares this with the OpenAPI security declarations).
PUBLIC_PATHS: Final = frozenset(
    {"/auth/token", "/auth/refresh", "/health", "/openapi.json", DOCS_PATH, OAUTH2_REDIRECT_PATH}
)
PUBLIC_PREFIXES: Final = (f"{ASSETS_PATH}/",)


class BodyRefused(ApiError):
    """Raised from `receive` when a streamed body passes its limit. An HTTPException, so the
    route's body parsing lets it through to the app's handler (FastAPI turns any other error
    there into a 400); the middleware answers it itself when it gets out of the app."""


def _too_large(limit: int) -> BodyRefused:
    return BodyRefused(
        "corpo_grande_demais",
        limite=number(limit),
        # The rest of the body is not wanted: do not keep the connection to read it.
        headers={"Connection": "close"},
    )


def _anonymous() -> BodyRefused:
    return BodyRefused(
        "corpo_sem_credenciais",
        limite=number(ANONYMOUS_BODY_BYTES),
        headers={"WWW-Authenticate": "Bearer", "Connection": "close"},
    )


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def body_limit(method: str, path: str) -> int:
    if is_public(path):
        return ANONYMOUS_BODY_BYTES
    return ROUTE_BODY_BYTES.get((method, path), DEFAULT_BODY_BYTES)


def _credentials(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    """(Bearer token, kiosk key) as the routes' dependencies read them; None when absent."""
    token = api_key = None
    for name, value in headers:
        if name == b"x-api-key" and value.strip():
            api_key = value.strip().decode("latin-1")
        if name == b"authorization":
            scheme, _, bearer = value.strip().partition(b" ")
            if scheme.lower() == b"bearer" and bearer.strip():
                token = bearer.strip().decode("latin-1")
    return token, api_key


def _has_credentials(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the request names a caller at all."""
    return _credentials(headers) != (None, None)


async def _unverified(scope: Scope) -> BodyRefused | None:
    """The routes' own 401 when the credentials do not check out, else None."""
    request = Request(scope)
    token, api_key = _credentials(scope["headers"])
    try:
        await authenticate(request, request.app.state.settings, token, api_key)
    except ApiError as refused:
        if refused.status_code != 401:
            return None
        headers = {**(refused.headers or {}), "Connection": "close"}
        return BodyRefused(refused.codigo, headers=headers)
    except Exception:  # the database is down or busy: the route answers that itself (503)
        return None
    return None


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses such a request before the app sees it
    return None


class BodyLimits:
    """Pure ASGI middleware: the limits above, before and while the body is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        limit = body_limit(scope["method"], path)
        anonymous = not is_public(path) and not _has_credentials(scope["headers"])
        declared = _declared_length(scope["headers"])
        refusal = _refusal(declared, limit, anonymous) if declared is not None else None
        # Without credentials the anonymous limit above applies; with some, they are checked
        # before a large body is read at all.
        large = declared is None or declared > DEFAULT_BODY_BYTES
        if refusal is None and limit > DEFAULT_BODY_BYTES and large and not anonymous:
            refusal = await _unverified(scope)
        if refusal is not None:
            await _answer(refusal, scope, receive, send)
            return

        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                refusal = _refusal(received, limit, anonymous)
                if refusal is not None:
                    raise refusal
            return message

        tracked = TrackedSend(send)
        try:
            await self.app(scope, counted, tracked)
        except BodyRefused as refused:
            if tracked.started:
                raise
            await _answer(refused, scope, receive, send)


def _refusal(size: int, limit: int, anonymous: bool) -> BodyRefused | None:
    # Without credentials the 401 comes first: the route would answer it for any body.
    if anonymous and size > ANONYMOUS_BODY_BYTES:
        return _anonymous()
    if size > limit:
        return _too_large(limit)
    return None


async def _answer(refusal: BodyRefused, scope: Scope, receive: Receive, send: Send) -> None:
    await error_response(refusal)(scope, receive, send)
