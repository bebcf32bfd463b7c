"""What every page shares: the role check, the cache and API notices, the action runner."""

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard import auth
from dashboard.access import BY_URL
from dashboard.data.api import ApiError, ApiUnavailable, api

CACHE_DOWN = "cache indisponível: lendo do PostgreSQL"


def page(url_path: str) -> auth.User:
    """Stop the page unless the logged-in user's role may open it."""
    auth.keep_fresh()
    user = auth.current()
    spec = BY_URL[url_path]
    if user is None:
        st.warning(auth.flash() or "Entre para ver esta página.")
        st.stop()
    if user.role not in spec.roles:
        st.error(f"O perfil '{user.role}' não tem acesso à página {spec.title}.")
        st.stop()
    st.title(spec.title)
    return user


def cache_notice(*cache_down: bool) -> None:
    if any(cache_down):
        st.caption(f":orange[:material/cloud_off: {CACHE_DOWN}]")


def api_down_reason() -> str | None:
    """Why action buttons are disabled, or None when the API answers."""
    return None if api().healthy() else str(ApiUnavailable())


def run_action(label: str, action: Callable[[], Any], success: str) -> Any | None:
    """Run an API action and say what happened; never a traceback."""
    try:
        with st.spinner(label):
            result = action()
    except ApiUnavailable as exc:
        st.error(str(exc))
        return None
    except ApiError as exc:
        st.error(str(exc))
        return None
    st.success(success)
    return result
