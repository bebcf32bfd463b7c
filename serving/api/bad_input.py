"""Bad input at the edge of the API: bodies that only Python's lenient JSON decoder accepts are
refused as 422 before any route sees them, and 422 answers (an ErroOut, serving/api/errors.py,
with one pt-BR entry per problem: serving/api/validation_messages.py) never echo secrets or long
values."""

import re
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.errors import ApiError, error_response, item, message
from serving.api.validation_messages import pt_br

# NaN, Infinity and an exponent that overflows a double are not JSON, yet `json.loads` makes
# floats of them; a lone surrogate decodes to a str that cannot be encoded again (response,
# PostgreSQL). Each used to cost a 500. The scan is one regex over the bytes, so the kiosk's
# small bodies are only parsed a second time when they look suspect.
_SUSPECT = re.compile(rb"NaN|Infinity|[eE][+-]?\d{3}|\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_SECRET_FIELD = re.compile(r"pass|senha|token|secret|segredo|key|chave", re.IGNORECASE)
EXCERPT_CHARS = 64
MAX_ERRORS = 100


def _json_content(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return b"json" in value.lower()
    return True  # FastAPI may read a body without a content type as JSON


class StrictJsonBodies:
    """Pure ASGI middleware: answers 422 (`json_invalido`) for JSON bodies holding
    NaN, ±Infinity, an overflowing number or a lone surrogate. It reads a body whole: BodyLimits
    (serving/api/body_limits.py) runs before it, so that is never more than the route's limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or not _json_content(scope)
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                await self.app(scope, _replay([*_as_messages(chunks), message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _SUSPECT.search(body):
            try:
                orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                await error_response(_json_invalid(exc))(scope, receive, send)
                return
        await self.app(scope, _replay(_as_messages([body]), receive), send)


def _as_messages(chunks: list[bytes]) -> list[Message]:
    return [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)
    if pending and pending[-1]["type"] == "http.request":
        pending[-1] = {**pending[-1], "more_body": False}

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _json_invalid(exc: orjson.JSONDecodeError) -> ApiError:
    text = message("json_invalido")
    return ApiError("json_invalido", erros=[item(["body", exc.pos], text, "json_invalido")])


async def validation_failed(_request: Request, exc: Exception) -> JSONResponse:
    """The 422 of a request that does not match its schema: one entry per problem, in pt-BR,
    where the input is only a short excerpt, and none at all for secrets or whole objects (a
    `missing` error carries the full body, password included); the client's own keys in `local`
    are cut as well, and at most MAX_ERRORS problems are listed (a bulk of 10,000 bad events
    would otherwise answer megabytes)."""
    assert isinstance(exc, RequestValidationError)
    found = exc.errors()
    erros = [_entry(error) for error in found[:MAX_ERRORS]]
    if len(found) > MAX_ERRORS:
        erros.append(
            item(
                ["body"],
                f"Mais {len(found) - MAX_ERRORS} problemas não listados: corrija estes e envie "
                "de novo.",
                "erros_demais",
            )
        )
    return error_response(ApiError("dados_invalidos", erros=erros))


def _entry(error: Any) -> dict[str, Any]:
    loc = error.get("loc", ())
    field = next((part for part in reversed(loc) if isinstance(part, str)), "")
    # An unknown key is the client's text: `extra_forbidden` names it in full.
    local = [_excerpt(part) if isinstance(part, str) else part for part in loc]
    codigo, mensagem = pt_br(error)
    entrada = None
    if "input" in error and not _SECRET_FIELD.search(field):
        entrada = _excerpt(error["input"])
    return item(local, mensagem, codigo, entrada=entrada)


def _excerpt(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= 64 else None
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        text = value.encode("utf-8", "replace").decode("utf-8")
        return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"
    return None  # objects and lists may hold anything
