"""How much of a request body the API reads (issue 10, item 4): a limit per route answered with
413 before the body is read (or as soon as a streamed one passes it), 401 before reading a large
body sent without credentials, and 422 answers that stay short however large the bad body.

The ASGI tests drive the app as a server does, with a body that never ends, and count what the
app pulled from it; the last tests do it to a real `gympulse api` process and watch its memory."""

import json
import re
import select
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from serving import rules
from serving.api.bad_input import EXCERPT_CHARS, MAX_ERRORS
from serving.api.body_limits import (
    ANONYMOUS_BODY_BYTES,
    BULK_BODY_BYTES,
    BULK_EVENT_BYTES,
    DEFAULT_BODY_BYTES,
    PUBLIC_PATHS,
    is_public,
)
from serving.security import create_access_token
from tests.serving.api_process import ApiProcess, api_fixture  # noqa: F401 (the fixture `api`)
from tests.support import refused

JSON = {"Content-Type": "application/json"}
CHUNK = 64 * 1024  # what a server hands the app per read
ENDLESS = 4 * BULK_BODY_BYTES  # "endless": a body the app must never read to its end
BULK = "/aluno/checkin/lote"
FLOOD_BYTES = 66 * 1024 * 1024  # the body of the adversarial run
RSS_GROWTH_MAX = 50 * 1024 * 1024
HEALTH_SECONDS_MAX = 0.5


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    read: int  # body bytes the app pulled

    def json(self):
        return json.loads(self.body)


def call(
    client,
    method: str,
    path: str,
    caller: dict[str, str],
    *,
    declared: int | None,
    content_type: str = "application/json",
):
    """`method path` straight into the app (inside the TestClient's event loop), with a body
    streamed in CHUNKs that ends only after ENDLESS bytes (or `declared`, when given)."""
    total = ENDLESS if declared is None else declared
    request_headers = {"Content-Type": content_type, **caller}
    headers = [(name.lower().encode(), value.encode()) for name, value in request_headers.items()]
    if declared is not None:
        headers.append((b"content-length", str(declared).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    read = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal read
        size = min(CHUNK, total - read)
        read += size
        return {"type": "http.request", "body": b" " * size, "more_body": read < total}

    async def send(message: dict) -> None:
        sent.append(message)

    async def run() -> None:
        await client.app(scope, receive, send)

    client.portal.call(run)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    answer_headers = {name.decode(): value.decode() for name, value in start["headers"]}
    return Answer(start["status"], answer_headers, body, read)


LIMITS = [
    pytest.param("/aluno/checkin", DEFAULT_BODY_BYTES, "kiosk", id="checkin"),
    pytest.param(BULK, BULK_BODY_BYTES, "kiosk", id="bulk"),
    pytest.param("/planos", DEFAULT_BODY_BYTES, "admin", id="plan"),
    pytest.param("/auth/refresh", ANONYMOUS_BODY_BYTES, "none", id="public-refresh"),
]


@pytest.mark.parametrize(("path", "limit", "caller"), LIMITS)
def test_a_body_declared_over_the_limit_is_413_before_a_byte_is_read(
    client, headers, path, limit, caller
):
    answer = call(client, "POST", path, headers[caller], declared=limit + 1)

    assert answer.status == 413
    assert answer.read == 0
    pt_limit = f"{limit:,}".replace(",", ".")
    assert answer.json() == {
        "detail": "Corpo da requisição grande demais: esta rota aceita no máximo "
        f"{pt_limit} bytes.",
        "codigo": "corpo_grande_demais",
        "erros": None,
    }
    assert answer.headers["connection"] == "close"


@pytest.mark.parametrize(("path", "limit", "caller"), LIMITS)
def test_a_streamed_body_is_cut_as_soon_as_it_passes_the_limit(
    client, headers, path, limit, caller
):
    answer = call(client, "POST", path, headers[caller], declared=None)

    assert answer.status == 413, answer.body
    assert limit < answer.read <= limit + CHUNK
    assert answer.json()["codigo"] == "corpo_grande_demais"


@pytest.mark.parametrize(
    ("path", "content_type", "caller"),
    [
        ("/aluno/checkin", "text/plain", "kiosk"),
        ("/auth/token", "application/x-www-form-urlencoded", "none"),
    ],
    ids=["checkin-as-text", "login-form"],
)
def test_a_streamed_body_the_route_parses_itself_is_cut_too(
    client, headers, path, content_type, caller
):
    # Not JSON, so StrictJsonBodies lets it by: FastAPI reads it and meets the limit.
    answer = call(client, "POST", path, headers[caller], declared=None, content_type=content_type)

    assert answer.status == 413, answer.body
    assert answer.read <= DEFAULT_BODY_BYTES + CHUNK
    assert answer.json()["codigo"] == "corpo_grande_demais"


@pytest.mark.parametrize("declared", [FLOOD_BYTES, None], ids=["declared", "streamed"])
@pytest.mark.parametrize(
    "caller",
    [{}, {"Authorization": "Basic YWRtaW46YWRtaW4="}, {"Authorization": "Bearer "}],
    ids=["nothing", "basic", "empty-bearer"],
)
def test_a_large_body_without_credentials_is_401_before_it_is_read(client, caller, declared):
    answer = call(client, "POST", BULK, caller, declared=declared)

    assert answer.status == 401
    assert answer.read <= (0 if declared else ANONYMOUS_BODY_BYTES + CHUNK)
    assert answer.json()["codigo"] == "corpo_sem_credenciais"
    assert answer.json()["detail"].startswith("Autenticação necessária")
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_large_body_with_a_wrong_token_is_still_bounded_by_the_limit(client):
    answer = call(client, "POST", BULK, {"Authorization": "Bearer forged"}, declared=FLOOD_BYTES)

    assert answer.status == 413 and answer.read == 0


@pytest.mark.parametrize("declared", [BULK_BODY_BYTES - 1, None], ids=["declared", "streamed"])
@pytest.mark.parametrize(
    ("caller", "codigo"),
    [
        ({"Authorization": "Bearer forged"}, "token_invalido"),
        ("ghost-user", "token_invalido"),
        ({"X-API-Key": "gpk_" + "0" * 32}, "chave_invalida"),
    ],
    ids=["forged-bearer", "signed-for-a-ghost", "unknown-kiosk-key"],
)
def test_a_bulk_with_credentials_that_do_not_check_out_is_401_before_it_is_read(
    client, settings, caller, codigo, declared
):
    if caller == "ghost-user":  # a good signature, a user that does not exist
        token = create_access_token(settings, user_id=999_999, username="ninguem", role="admin")
        caller = {"Authorization": f"Bearer {token}"}

    answer = call(client, "POST", BULK, caller, declared=declared)

    assert answer.status == 401, answer.body
    assert answer.read == 0
    assert answer.json()["codigo"] == codigo
    assert answer.headers["connection"] == "close"


def test_a_bulk_from_a_real_kiosk_is_read_past_the_default_limit(client, headers):
    # valid credentials: the body is read (and found not to be JSON) well past 64 KiB
    answer = call(client, "POST", BULK, headers["kiosk"], declared=BULK_BODY_BYTES - 1)

    assert answer.read == BULK_BODY_BYTES - 1
    assert answer.status == 422, answer.body


def test_bodies_up_to_the_limit_reach_the_route(client, headers, member):
    event = json.dumps({"aluno_id": member, "checkin_id": str(uuid.uuid4())}).encode()
    padded = event + b" " * (DEFAULT_BODY_BYTES - len(event))

    accepted = client.post("/aluno/checkin", content=padded, headers={**JSON, **headers["kiosk"]})
    anonymous = client.post("/aluno/checkin", content=event, headers=JSON)

    assert accepted.status_code == 202, accepted.text
    # A small body without credentials is the route's own 401, after the usual checks.
    refused(anonymous, 401, "nao_autenticado")


def test_every_route_anyone_may_call_is_public_here_and_no_other(client):
    operations = [
        (path, operation)
        for path, methods in client.get("/openapi.json").json()["paths"].items()
        for operation in methods.values()
    ]
    open_paths = {path for path, operation in operations if not operation.get("security")}
    guarded_paths = {path for path, operation in operations if operation.get("security")}

    assert open_paths <= PUBLIC_PATHS
    assert not guarded_paths & PUBLIC_PATHS
    assert is_public("/docs") and is_public("/static/swagger-ui/swagger-ui.css")


# --- the bulk route --------------------------------------------------------------------------


def largest_event(aluno_id: int) -> dict:
    """The longest event CheckinIn accepts: every field, the longest spellings, a device name
    that json.dumps escapes character by character."""
    return {
        "checkin_id": str(uuid.uuid4()),
        "aluno_id": aluno_id,
        "tipo": max(("entrada", "saida"), key=len),
        "ocorrido_em": datetime.now(UTC).astimezone().isoformat(timespec="microseconds"),
        "dispositivo": "ç" * 120,
    }


def full_bulk(aluno_id: int) -> bytes:
    events = [largest_event(aluno_id) for _ in range(rules.BULK_MAX_EVENTS)]
    return json.dumps({"checkins": events}).encode()


def test_the_largest_event_fits_the_per_event_budget():
    assert len(json.dumps(largest_event(2**62))) <= BULK_EVENT_BYTES
    assert len(full_bulk(2**62)) <= BULK_BODY_BYTES


def test_a_full_bulk_of_the_largest_events_is_accepted(client, headers, member, rabbit):
    body = full_bulk(member)

    response = client.post(BULK, content=body, headers={**JSON, **headers["recepcao"]})

    assert response.status_code == 202, response.text[:500]
    assert response.json()["aceitos"] == rules.BULK_MAX_EVENTS


def _bad_bulks(member: int) -> dict[str, bytes]:
    """About the limit, all wrong: each event with a long unknown key, or a long bad value."""
    key = "k" * 900
    value = "v" * 900
    return {
        "unknown-keys": json.dumps({"checkins": [{"aluno_id": member, key: 1}] * 10_000}),
        "bad-values": json.dumps({"checkins": [{"aluno_id": member, "tipo": value}] * 10_000}),
        "bad-ids": json.dumps({"checkins": [{"aluno_id": value}] * 10_000}),
    }


@pytest.mark.parametrize("kind", ["unknown-keys", "bad-values", "bad-ids"])
def test_a_limit_sized_invalid_bulk_answers_a_short_422(client, headers, member, kind):
    body = _bad_bulks(member)[kind].encode()
    assert BULK_BODY_BYTES * 0.85 < len(body) <= BULK_BODY_BYTES

    response = client.post(BULK, content=body, headers={**JSON, **headers["kiosk"]})

    erros = refused(response, 422, "dados_invalidos")["erros"]
    assert len(response.content) < 64 * 1024
    assert not re.search(rb"[kv]{%d}" % (EXCERPT_CHARS + 1), response.content)
    assert len(erros) == MAX_ERRORS + 1
    assert erros[0]["local"][:3] == ["body", "checkins", 0]
    assert erros[-1]["codigo"] == "erros_demais"
    assert erros[-1]["mensagem"].startswith(f"Mais {10_000 - MAX_ERRORS} problemas")


# --- a real server ---------------------------------------------------------------------------


def upload(port: int, head: str, size: int, *, chunked: bool = False) -> tuple[int, float]:
    """Send `head` and then up to `size` bytes of body (in chunked framing when `chunked`),
    reading all along as a hostile client (or curl) does; returns the answer's status (0: none)
    and the seconds it took to come."""
    started = time.monotonic()
    mib = b" " * (1024 * 1024)
    piece = b"%x\r\n%s\r\n" % (len(mib), mib) if chunked else mib
    pending = b""
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        writing = True
        while b"\r\n" not in answer:
            writable = [sock] if writing and sent < size else []
            can_read, can_write, _ = select.select([sock], writable, [], 10)
            if can_read:
                try:
                    received = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not received:
                    break
                answer += received
            elif can_write:
                pending = pending or piece
                try:
                    written = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    writing = False  # the server hung up: its answer may still be readable
                else:
                    pending, sent = pending[written:], sent + written
            else:
                break
    elapsed = time.monotonic() - started
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, elapsed


def _head(port: int, extra: str = "", length: int | None = FLOOD_BYTES) -> str:
    framing = f"Content-Length: {length}" if length else "Transfer-Encoding: chunked"
    return (
        f"POST {BULK} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{extra}{framing}\r\n\r\n"
    )


@pytest.mark.slow
def test_66_mb_floods_without_credentials_are_refused_at_once_and_cost_the_server_nothing(
    api: ApiProcess,
):
    port = api.port
    with httpx.Client(base_url=api.url, timeout=5) as http:
        for _ in range(20):
            http.get("/health")
        before = api.rss()
        slowest, checks = 0.0, 0
        done = threading.Event()

        def watch_health() -> None:
            nonlocal slowest, checks
            while not done.is_set():
                started = time.monotonic()
                assert http.get("/health").status_code == 200
                slowest, checks = max(slowest, time.monotonic() - started), checks + 1
                time.sleep(0.01)

        watcher = threading.Thread(target=watch_health)
        watcher.start()
        try:
            results: list[tuple[int, float]] = []

            def flood(chunked: bool) -> None:
                head = _head(port, length=None if chunked else FLOOD_BYTES)
                results.append(upload(port, head, FLOOD_BYTES, chunked=chunked))

            floods = [threading.Thread(target=flood, args=(c,)) for c in [False, True] * 4]
            for thread in floods:
                thread.start()
            for thread in floods:
                thread.join(60)
        finally:
            done.set()
            watcher.join(10)
        after = api.rss()

    print(
        f"8 x 66 MB without credentials: {sorted({s for s, _ in results})}, slowest answer "
        f"{max(t for _, t in results):.3f} s, API RSS {(after - before) / 2**20:+.1f} MiB, "
        f"{checks} /health meanwhile, slowest {slowest:.3f} s"
    )
    assert [status for status, _ in results] == [401] * 8
    assert max(seconds for _, seconds in results) < 1.0
    assert after - before < RSS_GROWTH_MAX, f"RSS grew by {(after - before) / 2**20:.0f} MiB"
    assert checks > 0 and slowest < HEALTH_SECONDS_MAX


@pytest.mark.slow
def test_a_real_server_refuses_a_too_large_bulk_and_accepts_a_full_one(
    api: ApiProcess, kiosk_key, member, rabbit
):
    port = api.port
    status, seconds = upload(port, _head(port, f"X-API-Key: {kiosk_key}\r\n"), FLOOD_BYTES)
    assert status == 413 and seconds < 1.0

    response = httpx.post(
        f"{api.url}{BULK}",
        content=full_bulk(member),
        headers={**JSON, "X-API-Key": kiosk_key},
        timeout=60,
    )

    assert response.status_code == 202, response.text[:500]
    assert response.json()["aceitos"] == rules.BULK_MAX_EVENTS
