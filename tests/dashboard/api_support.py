"""The package's API as the tests read it: a route's answer for a staff role (the expected side
of a page's numbers), and a synthetic student made the way an admin makes one."""

import time
from typing import Any

import httpx

# Access tokens last 15 minutes; a test run reuses one for less than that.
TOKEN_REUSE_SECONDS = 600
_tokens: dict[tuple[str, str], tuple[float, str]] = {}


def headers(gym, role: str) -> dict[str, str]:
    # No "issued at 0.0" default: on a freshly booted machine the monotonic clock is itself
    # below the reuse window, and an empty token would look fresh.
    cached = _tokens.get((gym.api_url, role))
    token = cached[1] if cached else ""
    if cached is None or time.monotonic() - cached[0] > TOKEN_REUSE_SECONDS:
        token = gym.token(role)["access_token"]
        _tokens[(gym.api_url, role)] = (time.monotonic(), token)
    return {"Authorization": f"Bearer {token}"}


def get(gym, role: str, path: str, **params: Any) -> Any:
    answer = httpx.get(
        f"{gym.api_url}{path}", params=params, headers=headers(gym, role), timeout=60
    )
    answer.raise_for_status()
    return answer.json()


def synthetic_student(gym, **profile: Any) -> int:
    """A synthetic student (`POST /aluno/sintetico`), scored at once as Operações does. Its
    history reaches back past the package's as-of date, so the live features have its row."""
    body = {
        "plano": "Mensal",
        "visitas_semana": 0.5,
        "duracao": 45,
        "semanas": 100,
        "dias_desde_ultima": 40,
        **profile,
    }
    created = httpx.post(
        f"{gym.api_url}/aluno/sintetico", json=body, headers=headers(gym, "admin"), timeout=60
    )
    created.raise_for_status()
    aluno_id = created.json()["aluno_id"]
    get(gym, "admin", f"/aluno/{aluno_id}/risco-churn")
    return aluno_id
