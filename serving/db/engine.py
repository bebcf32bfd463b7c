"""Engines and sessions. The API uses the async engine; CLI, workers and tests the sync one."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker


def libpq_url(database_url: str) -> str:
    """SQLAlchemy URL (postgresql+psycopg://) to a plain libpq one, for psycopg directly."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


@lru_cache
def sync_engine(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=5)


def make_async_engine(url: str) -> AsyncEngine:
    # A pool big enough for the concurrency it sees: overflow connections are closed on return,
    # and opening one per request costs more than the query. A request that finds every
    # connection busy for 5 s answers 503 (serving/api/main.py) instead of waiting 30 s.
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=20, max_overflow=5, pool_timeout=5
    )


def async_sessions(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A transaction for CLI and worker code: commit on success, roll back on error."""
    factory = sessionmaker(sync_engine(url), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
