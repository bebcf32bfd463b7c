"""The logged-in user, kept in this browser session only (`st.session_state`): tokens from
`POST /auth/token`, refreshed shortly before the access token expires. When a refresh is refused
the session ends and the login form says why."""

import contextlib
import time
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from dashboard.data.api import ApiError, ApiUnavailable, Response, Tokens, Unauthorized, api

SESSION_KEY = "gympulse_session"
FLASH_KEY = "gympulse_flash"
# Refresh this long before expiry, so a page's API calls never carry a token about to lapse.
REFRESH_MARGIN_SECONDS = 60
EXPIRED_MESSAGE = "Sua sessão expirou. Entre novamente."


class SessionExpired(Exception):
    """The refresh token was refused: the user must log in again."""


@dataclass(frozen=True)
class User:
    username: str
    tokens: Tokens

    @property
    def role(self) -> str:
        return self.tokens.role


def current() -> User | None:
    return st.session_state.get(SESSION_KEY)


def log_in(username: str, password: str) -> User:
    user = User(username=username, tokens=api().login(username, password))
    st.session_state[SESSION_KEY] = user
    st.session_state.pop(FLASH_KEY, None)
    return user


def log_out(message: str | None = None) -> None:
    """Forget everything this session held: tokens, filters, cached per-user answers."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if message:
        st.session_state[FLASH_KEY] = message


def flash() -> str | None:
    return st.session_state.get(FLASH_KEY)


def _refresh(user: User) -> User:
    try:
        tokens = api().refresh(user.tokens.refresh_token)
    except ApiError as exc:  # refused (401), or not even a token (422): the session is over
        log_out(EXPIRED_MESSAGE)
        raise SessionExpired() from exc
    fresh = replace(user, tokens=tokens)
    st.session_state[SESSION_KEY] = fresh
    return fresh


def keep_fresh() -> None:
    """Refresh ahead of expiry. With the API down the user stays in: read pages need no token."""
    user = current()
    if user is None or user.tokens.expires_at - time.time() > REFRESH_MARGIN_SECONDS:
        return
    # Down: keep reading (read pages need no token). Expired: the login form says so.
    with contextlib.suppress(ApiUnavailable, SessionExpired):
        _refresh(user)


def call(method: str, path: str, **kwargs: Any) -> Response:
    """An API call as the logged-in user; a token refused mid-way is refreshed once."""
    user = current()
    if user is None:
        raise SessionExpired()
    if user.tokens.expires_at - time.time() <= REFRESH_MARGIN_SECONDS:
        user = _refresh(user)
    try:
        return api().call(method, path, user.tokens.access_token, **kwargs)
    except Unauthorized:
        user = _refresh(user)
        return api().call(method, path, user.tokens.access_token, **kwargs)
