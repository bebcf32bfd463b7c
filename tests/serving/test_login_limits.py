"""Login floods (issue 10, item 2): failed logins and refused refresh tokens are limited per
username and per client address in Redis (stricter, in process, when Redis is down); argon2
checks run a few at a time; no database connection is held while a password is checked; an
exhausted connection pool answers 503, never 500.

Each test sets its own low limits on an app of its own; the counters live in the test Redis
database, which the `cache` fixture empties before every test."""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import create_async_engine

from serving.api import main, password_hashing
from serving.api.main import create_app
from serving.security import verify_password
from tests.support import PASSWORD, refused

CLOSED_PORT = 9  # nothing listens there: Redis "down" without stopping the shared one


@pytest.fixture
def open_app(settings, db, rabbit, cache) -> Iterator[Callable[..., TestClient]]:
    """An app over the test services with some settings changed (e.g. low limits)."""
    with ExitStack() as stack:

        def open_(**changes) -> TestClient:
            return stack.enter_context(TestClient(create_app(settings.model_copy(update=changes))))

        yield open_


def _login(client: TestClient, username: str, password: str = PASSWORD):
    return client.post("/auth/token", data={"username": username, "password": password})


def _refresh(client: TestClient, token: str):
    return client.post("/auth/refresh", json={"refresh_token": token})


def _assert_throttled(response) -> int:
    body = refused(response, 429, "muitas_tentativas")
    assert body["detail"].startswith("Muitas tentativas com falha")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    return retry_after


@pytest.fixture
def password_checks(monkeypatch) -> list[float]:
    """The real argon2 check, recording when each one ran."""
    started: list[float] = []

    def recorded(password_hash: str, password: str) -> bool:
        started.append(time.monotonic())
        return verify_password(password_hash, password)

    monkeypatch.setattr(password_hashing, "verify_password", recorded)
    return started


# --- per username -------------------------------------------------------------------------


def test_a_username_is_locked_after_its_failures_even_with_the_right_password(
    open_app, users, password_checks
):
    client = open_app(login_failures_per_user=3, login_failures_per_address=100)
    assert [_login(client, "admin.teste", "wrong-password").status_code for _ in range(3)] == [
        401
    ] * 3
    checks_before = len(password_checks)

    _assert_throttled(_login(client, "admin.teste"))
    _assert_throttled(_login(client, "ADMIN.Teste", "wrong-password"))  # case is one username

    assert len(password_checks) == checks_before  # refused before any argon2 check
    assert _login(client, "analista.teste").status_code == 200  # other users unaffected


def test_a_correct_login_clears_its_username_failures(open_app, users):
    client = open_app(login_failures_per_user=3, login_failures_per_address=100)
    for _ in range(2):
        assert _login(client, "recepcao.teste", "wrong-password").status_code == 401
    assert _login(client, "recepcao.teste").status_code == 200

    answers = [_login(client, "recepcao.teste", "wrong-password").status_code for _ in range(3)]

    assert answers == [401, 401, 401]
    _assert_throttled(_login(client, "recepcao.teste"))


def test_successful_logins_are_never_limited(open_app, users):
    """The dashboard logs every user in from its server's one address."""
    client = open_app(login_failures_per_user=2, login_failures_per_address=2)

    answers = [_login(client, "analista.teste").status_code for _ in range(6)]

    assert answers == [200] * 6


def test_a_burst_of_wrong_passwords_costs_at_most_the_limit_in_argon2_checks(
    open_app, users, password_checks
):
    """20 wrong passwords at once for one user: the limit is checked again once a hash slot is
    held, so the queued ones are refused instead of each costing 64 MiB and a core."""
    limit, slots = 3, 2
    client = open_app(
        login_failures_per_user=limit,
        login_failures_per_address=100,
        password_hash_slots=slots,
        password_hash_wait_seconds=30,
    )

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(lambda _: _login(client, "admin.teste", "wrong-password"), range(20))
        )

    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) == {401, 429}, statuses
    assert statuses.count(401) == len(password_checks)
    assert limit <= len(password_checks) <= limit + slots - 1


# --- per client address --------------------------------------------------------------------


def test_an_address_is_locked_after_failures_across_usernames(open_app, users):
    """Password spraying: one wrong guess for each of many usernames, from one address."""
    client = open_app(login_failures_per_user=100, login_failures_per_address=3)
    for username in ("admin.teste", "analista.teste", "ninguem.aqui"):
        assert _login(client, username, "wrong-password").status_code == 401

    _assert_throttled(_login(client, "recepcao.teste"))  # a user never tried, same address


def test_refused_refresh_tokens_count_against_the_address(open_app, users):
    client = open_app(login_failures_per_user=100, login_failures_per_address=3)
    pair = _login(client, "recepcao.teste").json()
    for guess in range(3):
        assert _refresh(client, f"guessed-refresh-token-{guess}").status_code == 401

    _assert_throttled(_refresh(client, pair["refresh_token"]))
    _assert_throttled(_login(client, "recepcao.teste", "wrong-password"))


def test_the_limits_are_shared_by_every_api_process_through_redis(open_app, users):
    first = open_app(login_failures_per_user=2, login_failures_per_address=100)
    second = open_app(login_failures_per_user=2, login_failures_per_address=100)

    assert _login(first, "admin.teste", "wrong-password").status_code == 401
    assert _login(second, "admin.teste", "wrong-password").status_code == 401

    _assert_throttled(_login(first, "admin.teste"))
    _assert_throttled(_login(second, "admin.teste"))


def test_without_redis_the_limits_hold_in_process_and_stricter_with_one_warning(
    open_app, users, caplog
):
    caplog.set_level(logging.INFO, logger="serving.api.login_guard")
    client = open_app(
        redis_url=f"redis://127.0.0.1:{CLOSED_PORT}/0",
        login_failures_per_user=4,
        login_failures_per_address=100,
    )
    assert _login(client, "analista.teste").status_code == 200  # logins still work

    answers = [_login(client, "admin.teste", "wrong-password").status_code for _ in range(2)]

    assert answers == [401, 401]
    _assert_throttled(_login(client, "admin.teste"))  # half of 4, in process
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "login limits counted in process" in warnings[0].getMessage()


# --- argon2 slots ----------------------------------------------------------------------------


class SlowChecks:
    """The real argon2 check made to last `seconds` longer, so that checks overlap: records how
    many ran at once at most, and `hashing` is set once one is running."""

    def __init__(self) -> None:
        self.seconds = 0.5
        self.running = 0
        self.most = 0
        self.hashing = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.hashing.set()
        try:
            time.sleep(self.seconds)
            return verify_password(password_hash, password)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def slow_password_checks(monkeypatch) -> SlowChecks:
    checks = SlowChecks()
    monkeypatch.setattr(password_hashing, "verify_password", checks)
    return checks


def test_at_most_the_configured_number_of_argon2_checks_run_at_once(
    open_app, users, slow_password_checks
):
    client = open_app(
        login_failures_per_user=100,
        login_failures_per_address=100,
        password_hash_slots=2,
        password_hash_wait_seconds=30,
    )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _login(client, "analista.teste"), range(8)))

    assert [a.status_code for a in answers] == [200] * 8
    assert slow_password_checks.most == 2


def test_a_login_that_gets_no_hash_slot_in_time_answers_503_with_retry_after(
    open_app, users, slow_password_checks
):
    client = open_app(password_hash_slots=1, password_hash_wait_seconds=0.2)
    slow_password_checks.seconds = 1.5

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda _: _login(client, "analista.teste"), range(3)))

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 503, 503], statuses
    busy = next(a for a in answers if a.status_code == 503)
    refused(busy, 503, "senhas_em_excesso")
    assert busy.headers["retry-after"] == "2"


def test_creating_a_user_hashes_within_the_slots_too(open_app, headers, slow_password_checks):
    client = open_app(password_hash_slots=1, password_hash_wait_seconds=0.2)
    slow_password_checks.seconds = 1.5
    new_user = {"username": "nova.pessoa", "password": "uma-senha-longa", "role": "analista"}

    with ThreadPoolExecutor(max_workers=2) as pool:
        login = pool.submit(_login, client, "analista.teste")
        assert slow_password_checks.hashing.wait(10)
        created = client.post("/auth/usuarios", json=new_user, headers=headers["admin"])

    assert login.result().status_code == 200
    assert created.status_code == 503 and created.headers["retry-after"] == "2"


# --- database connections ------------------------------------------------------------------


@pytest.fixture
def one_connection_engine(monkeypatch) -> None:
    """The API's SQLAlchemy engine with a single connection, given up after 0.5 s of waiting."""
    monkeypatch.setattr(
        main,
        "make_async_engine",
        lambda url: create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.5),
    )


def test_a_login_holds_no_database_connection_while_the_password_is_checked(
    open_app, headers, member, one_connection_engine, slow_password_checks
):
    client = open_app()
    slow_password_checks.seconds = 2.0

    with ThreadPoolExecutor(max_workers=1) as pool:
        login = pool.submit(_login, client, "analista.teste")
        assert slow_password_checks.hashing.wait(10)
        started = time.monotonic()
        members = client.get("/alunos", headers=headers["admin"])
        waited = time.monotonic() - started

    assert members.status_code == 200, members.text
    assert waited < 1.0
    assert login.result().status_code == 200


def test_an_exhausted_sqlalchemy_pool_answers_503_with_retry_after(
    open_app, headers, member, one_connection_engine
):
    client = open_app()
    held = client.portal.call(client.app.state.engine.connect().start)
    try:
        response = client.get("/alunos", headers=headers["admin"])
    finally:
        client.portal.call(held.close)

    refused(response, 503, "servidor_ocupado")
    assert response.headers["retry-after"] == "2"
    assert client.get("/alunos", headers=headers["admin"]).status_code == 200


def test_an_exhausted_psycopg_pool_answers_503_with_retry_after(open_app, headers):
    """The check-in path's pool (psycopg_pool): a route that waits for one of its connections
    in vain gets the same 503."""
    client = open_app()
    app = client.app

    async def uses_the_pool(request: Request) -> dict:
        async with request.app.state.pg.connection(timeout=0.2):
            return {}

    app.add_api_route("/test-only/pool", uses_the_pool)
    pool = app.state.pg
    held = [client.portal.call(pool.getconn) for _ in range(pool.max_size)]
    try:
        response = client.get("/test-only/pool")
    finally:
        for connection in held:
            client.portal.call(pool.putconn, connection)

    refused(response, 503, "servidor_ocupado")
    assert response.headers["retry-after"] == "2"
