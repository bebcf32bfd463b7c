"""Connections shared by every session of the server process (`st.cache_resource`), keyed by
their URL so a test or a second gym's settings get their own."""

import time
from typing import Any, cast

import orjson
import redis
import sqlalchemy as sa
import streamlit as st

from serving.config import Settings, get_settings

# After Redis failed, pages read PostgreSQL for this long instead of paying a timeout per read.
CIRCUIT_OPEN_SECONDS = 5.0
REDIS_TIMEOUT_SECONDS = 0.25


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)


def engine() -> sa.Engine:
    return _engine(settings().dashboard_database_url)


class _Redis:
    """A Redis client that answers None while Redis is down (and for a few seconds after)."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._open_until = 0.0

    @property
    def down(self) -> bool:
        return time.monotonic() < self._open_until

    def get_raw(self, key: str, field: str | None = None) -> tuple[bytes | None, bool]:
        """(the stored bytes or None on a miss, whether Redis answered)."""
        if self.down:
            return None, False
        try:
            raw = self.client.hget(key, field) if field else self.client.get(key)
        except redis.RedisError:
            self._open_until = time.monotonic() + CIRCUIT_OPEN_SECONDS
            return None, False
        return cast(bytes | None, raw) or None, True

    def get_json(self, key: str, field: str | None = None) -> tuple[Any | None, bool]:
        """(value or None on a miss, whether Redis answered)."""
        raw, up = self.get_raw(key, field)
        return (orjson.loads(raw) if raw else None), up


@st.cache_resource(show_spinner=False)
def _redis(url: str) -> _Redis:
    return _Redis(url)


def cache() -> _Redis:
    return _redis(settings().redis_url)
