"""Fixtures against the real services, isolated from the demo's data (see tests/support.py).
Every test package uses these; tests/models and tests/flows add the simulated gym they build."""

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pika
import psycopg
import pytest
import redis

from tests.support import APP_TABLES, PASSWORD, TEST_ENV, TEST_VHOST, Worker

os.environ.update(TEST_ENV)
# The user's .env must not leak into tests.
for name in ("GYMPULSE_ADMIN_USERNAME", "GYMPULSE_ADMIN_PASSWORD", "GYMPULSE_ADMIN_EMAIL"):
    os.environ.pop(name, None)

from serving.config import get_settings  # noqa: E402
from serving.db.engine import libpq_url  # noqa: E402
from serving.db.migrate import drop_database, upgrade  # noqa: E402
from serving.messaging import topology  # noqa: E402
from serving.messaging.vhosts import recreate_vhost  # noqa: E402
from serving.security import create_access_token, hash_password  # noqa: E402
from tests import services  # noqa: E402


@pytest.fixture(scope="session")
def settings():
    services.ensure_all()
    get_settings.cache_clear()
    settings = get_settings()
    drop_database(settings.database_url)
    upgrade(settings.database_url)
    recreate_vhost(TEST_VHOST)
    redis.Redis.from_url(settings.redis_url).flushdb()
    return settings


@pytest.fixture
def db(settings) -> Iterator[psycopg.Connection]:
    """A plain connection to the test database, tables emptied before each test."""
    services.ensure_all()
    with psycopg.connect(libpq_url(settings.database_url), autocommit=True) as conn:
        conn.execute(f"truncate {APP_TABLES} restart identity cascade")
        yield conn


@pytest.fixture
def rabbit(settings) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """A channel on the test vhost; every queue is declared and emptied before the test."""
    connection = pika.BlockingConnection(pika.URLParameters(settings.rabbitmq_url))
    channel = connection.channel()
    topology.declare_with_pika(channel, settings.queue_delivery_limit)
    for spec in topology.queue_specs(settings.queue_delivery_limit):
        channel.queue_purge(spec.name)
    yield channel
    with contextlib.suppress(pika.exceptions.AMQPError):  # a test may have restarted the broker
        connection.close()


@pytest.fixture
def cache(settings) -> redis.Redis:
    client = redis.Redis.from_url(settings.redis_url)
    client.flushdb()
    return client


@pytest.fixture
def client(settings, db, rabbit, cache):
    from fastapi.testclient import TestClient

    from serving.api.main import create_app

    with TestClient(create_app(settings)) as test_client:
        yield test_client


_HASH = None


def _password_hash() -> str:
    global _HASH
    if _HASH is None:
        _HASH = hash_password(PASSWORD)
    return _HASH


@pytest.fixture
def users(db) -> dict[str, int]:
    """One staff user per role, all with password PASSWORD."""
    ids = {}
    for role in ("admin", "analista", "recepcao"):
        ids[role] = db.execute(
            "insert into usuarios (username, role, senha_hash) values (%s, %s, %s) returning id",
            (f"{role}.teste", role, _password_hash()),
        ).fetchone()[0]
    return ids


@pytest.fixture
def headers(settings, users, kiosk_key) -> dict[str, dict[str, str]]:
    """Request headers per caller: admin, analista, recepcao, kiosk, and none."""
    result = {
        role: {
            "Authorization": "Bearer "
            + create_access_token(settings, user_id=uid, username=f"{role}.teste", role=role)
        }
        for role, uid in users.items()
    }
    result["kiosk"] = {"X-API-Key": kiosk_key}
    result["none"] = {}
    return result


@pytest.fixture
def kiosk_key(settings, db) -> str:
    from serving.users import create_device_key

    name = f"kiosk-{uuid.uuid4().hex[:8]}"
    return create_device_key(name, "Entrada", database_url=settings.database_url)


@pytest.fixture
def plan_id(db) -> int:
    return db.execute(
        "insert into planos (nome, valor_mensal, duracao_meses) values ('Mensal', 129.9, 1) "
        "returning id"
    ).fetchone()[0]


@pytest.fixture
def make_member(db, plan_id) -> Callable[..., int]:
    """Insert a member (active unless told) with its status history; returns its id."""

    def make(ativo: bool = True, nome: str | None = None, email: str | None = None) -> int:
        suffix = uuid.uuid4().hex[:10]
        joined = datetime.now(UTC) - timedelta(days=200)
        aluno_id = db.execute(
            "insert into alunos (nome, email, plano_id, ativo, data_matricula) "
            "values (%s, %s, %s, %s, %s) returning id",
            (nome or f"Aluno {suffix}", email or f"{suffix}@example.com", plan_id, ativo, joined),
        ).fetchone()[0]
        db.execute(
            "insert into alunos_status_historico (aluno_id, ativo, ocorrido_em) values (%s, true, %s)",
            (aluno_id, joined),
        )
        if not ativo:
            db.execute(
                "insert into alunos_status_historico (aluno_id, ativo, ocorrido_em) "
                "values (%s, false, now())",
                (aluno_id,),
            )
        return aluno_id

    return make


@pytest.fixture
def member(make_member) -> int:
    return make_member()


@pytest.fixture
def worker(rabbit) -> Iterator[Worker]:
    started = Worker().start()
    yield started
    started.stop()
