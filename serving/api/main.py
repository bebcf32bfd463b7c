"""The FastAPI application: `gympulse api` serves `create_app()` (through
serving/api/server.py, which also tunes the server process's garbage collector; the app itself
leaves the interpreter alone)."""

import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from psycopg_pool import AsyncConnectionPool

from serving.api import errors
from serving.api.bad_input import StrictJsonBodies, validation_failed
from serving.api.body_limits import BodyLimits
from serving.api.credentials import CredentialCache
from serving.api.docs import ASSETS_PATH, add_swagger_ui
from serving.api.failures import AnswerUnexpectedErrors
from serving.api.headers import SecurityHeaders
from serving.api.login_guard import LoginGuard
from serving.api.password_hashing import PasswordHashing
from serving.api.routes import (
    alunos,
    auditoria,
    auth,
    checkins,
    churn,
    dispositivos,
    jobs,
    planos,
    relatorios,
    sintetico,
    status,
)
from serving.cache import Cache
from serving.config import Settings, get_settings
from serving.db.engine import async_sessions, libpq_url, make_async_engine
from serving.members import MemberDirectory
from serving.messaging.publisher import Publisher
from serving.on_demand import ChampionCache

log = logging.getLogger(__name__)

DESCRIPTION = """
Ingestion and serving API of **gympulse**: kiosks post check-ins, the front desk manages
members, analysts read attendance and churn risk.

Authenticate staff with `POST /auth/token` (Bearer JWT, 15 min, renew with `/auth/refresh`).
Kiosks send their device key as `X-API-Key` and may only post check-ins.
Roles: `admin` (everything), `analista` (read everything, request reports), `recepcao` (members,
manual check-ins).
"""


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    engine = make_async_engine(settings.database_url)
    app.state.engine = engine
    app.state.sessions = async_sessions(engine)
    app.state.cache = Cache(settings.redis_url, timeout=settings.redis_timeout_seconds)
    app.state.login_guard = LoginGuard(settings, app.state.cache.client)
    app.state.password_hashing = PasswordHashing(settings)
    app.state.kiosk_keys = CredentialCache()
    app.state.staff_accounts = CredentialCache()
    long_lived_ready: Callable[[], None] | None = app.state.long_lived_ready
    app.state.champions = ChampionCache(settings, on_loaded=long_lived_ready)
    if settings.warm_champion:
        app.state.champions.warm_in_background()
    # The check-in path talks to PostgreSQL through this small pool, without the ORM.
    app.state.pg = AsyncConnectionPool(
        libpq_url(settings.database_url),
        min_size=1,
        max_size=4,
        open=False,
        kwargs={"autocommit": True},
        check=AsyncConnectionPool.check_connection,
    )
    await app.state.pg.open(wait=False)
    app.state.members = MemberDirectory(app.state.pg, settings.redis_url, app.state.cache.client)
    await app.state.members.start()
    if long_lived_ready is not None:
        # The startup objects live as long as the app (the server freezes them out of the GC).
        long_lived_ready()
    publisher = Publisher(
        settings.rabbitmq_url,
        timeout=settings.publish_timeout_seconds,
        delivery_limit=settings.queue_delivery_limit,
    )
    app.state.publisher = publisher
    try:
        await publisher.connect()
    except Exception as exc:
        # Start anyway: check-ins answer 503 until the broker is back, everything else works.
        log.warning("RabbitMQ unreachable at startup (%r); will retry on first publish", exc)
    yield
    await app.state.members.stop()
    await app.state.pg.close()
    await publisher.close()
    await app.state.cache.close()
    await engine.dispose()


def create_app(
    settings: Settings | None = None, *, long_lived_ready: Callable[[], None] | None = None
) -> FastAPI:
    """The app. `long_lived_ready` is called once startup is done and after each load of the
    champion model, when a batch of objects that live as long as the process has been created:
    the server process uses it to freeze them out of the garbage collector's view."""
    settings = settings or get_settings()
    app = FastAPI(
        title="gympulse API",
        version=version("gympulse"),
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served from the installed package by add_swagger_ui: the default pages load a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.long_lived_ready = long_lived_ready
    # Starlette tries the routes in order: the kiosks' check-ins, by far the most frequent
    # request, are matched first.
    routers = (
        checkins,
        auth,
        alunos,
        churn,
        planos,
        dispositivos,
        jobs,
        auditoria,
        relatorios,
        status,
        sintetico,
    )
    for module in routers:
        app.include_router(module.router)
    # Each add_middleware wraps the ones before it: the last one added sees a request first.
    app.add_middleware(StrictJsonBodies)  # buffers a body whole: only after BodyLimits
    app.add_middleware(BodyLimits)
    app.add_middleware(AnswerUnexpectedErrors)  # also covers the ones above
    if settings.cors_origins:  # closed unless configured; its answers, even a 500, carry CORS
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
            expose_headers=["Retry-After"],
        )
    app.add_middleware(SecurityHeaders, cacheable=(f"{ASSETS_PATH}/",))  # on every answer
    errors.install(app)
    app.add_exception_handler(RequestValidationError, validation_failed)
    add_swagger_ui(app)

    return app
