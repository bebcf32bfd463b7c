"""The API, called with the logged-in user's token: every change the dashboard makes goes here,
so the API's role checks are the only ones that matter."""

import time
from dataclasses import dataclass
from typing import Any

import httpx
import streamlit as st

from dashboard.data.clients import settings

TIMEOUT_SECONDS = 15.0
Response = httpx.Response  # what `auth.call` hands back; pages need not know the client


class ApiUnavailable(Exception):
    """The API did not answer (down, or a network error)."""

    def __str__(self) -> str:
        return "API indisponível: a ação não pôde ser enviada. Tente de novo em instantes."


class ApiError(Exception):
    """The API answered with an error the user can act on (4xx, or 503 from a dependency)."""

    def __init__(self, status: int, detail: str, body: Any = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.body = body  # the decoded JSON answer: some refusals carry fields (e.g. /status)

    def __str__(self) -> str:
        return f"A API recusou ({self.status}): {self.detail}"


class Unauthorized(ApiError):
    """The token (or the refresh token, or the password) was refused."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    role: str
    expires_at: float  # epoch seconds

    @classmethod
    def from_answer(cls, body: dict[str, Any]) -> "Tokens":
        return cls(
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            role=body["role"],
            expires_at=time.time() + int(body["expires_in"]),
        )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _where(local: list[Any]) -> str:
    """An entry's place without the request part: `body.nome` → `nome`."""
    parts = [str(part) for part in local if part not in ("body", "query", "path")]
    return ".".join(parts)


def _detail(response: httpx.Response) -> str:
    """The API's sentence (ErroOut `detail`, pt-BR) and, for a refusal with several problems,
    each one with its field: "Dados inválidos: … — nome: Campo obrigatório."."""
    body = _json(response)
    if not isinstance(body, dict) or not body.get("detail"):
        return response.reason_phrase
    problems = [
        f"{where}: {entry.get('mensagem', '')}"
        if (where := _where(entry.get("local") or []))
        else str(entry.get("mensagem", ""))
        for entry in body.get("erros") or []
        if isinstance(entry, dict)
    ]
    return " — ".join([str(body["detail"]), "; ".join(problems)] if problems else [body["detail"]])


class Api:
    def __init__(self, base_url: str) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiUnavailable() from exc
        if response.status_code == 401:
            raise Unauthorized(401, _detail(response))
        if response.status_code in (502, 504) or (
            response.status_code == 503
            and not response.headers.get("content-type", "").startswith("application/json")
        ):
            raise ApiUnavailable()
        if response.status_code >= 400:
            raise ApiError(response.status_code, _detail(response), _json(response))
        return response

    def login(self, username: str, password: str) -> Tokens:
        answer = self._send(
            "POST", "/auth/token", data={"username": username, "password": password}
        )
        return Tokens.from_answer(answer.json())

    def refresh(self, refresh_token: str) -> Tokens:
        answer = self._send("POST", "/auth/refresh", json={"refresh_token": refresh_token})
        return Tokens.from_answer(answer.json())

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return self._send(method, path, headers=headers, **kwargs)

    def healthy(self) -> bool:
        try:
            return self._http.get("/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@st.cache_resource(show_spinner=False)
def _api(base_url: str) -> Api:
    return Api(base_url)


def api() -> Api:
    return _api(settings().api_url)
