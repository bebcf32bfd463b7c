"""Faults that restart the broker or the database under a stream of check-ins. They run on a
private RabbitMQ node and a private PostgreSQL cluster (tests/services.py), with a real API
process and real consumer processes pointed at them: restarting the machine's services would
break everyone else's tests.

- One combined stream, single and bulk posts, during which the consumer is killed three times,
  RabbitMQ is restarted once and PostgreSQL once: every check-in answered 202 is stored once.
- PostgreSQL going down while the consumer stores a refused batch message by message: the
  consumer holds what it has not settled, reconnects and goes on; only the refused event is
  parked."""

import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pika
import psycopg
import pytest

from serving.db.engine import libpq_url
from serving.db.migrate import upgrade
from serving.messaging.events import CheckinEvent, encode_checkins
from serving.messaging.topology import CHECKIN_QUEUE, EXCHANGE, dead_letter_queue
from serving.users import create_device_key
from tests.e2e.conftest import Server
from tests.services import PrivatePostgres, PrivateRabbit, free_port_pair, port_open
from tests.support import TEST_DATABASE, TEST_VHOST, Worker, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

PERSISTENT = pika.BasicProperties(delivery_mode=2, content_type="application/json")
API_PORTS = range(18480, 18500)  # this module's share of the suite's ports (18400-18499)
MEMBERS = 20


@dataclass
class Stack:
    broker: PrivateRabbit
    postgres: PrivatePostgres
    database_url: str
    env: dict[str, str]  # what points a process at the private services
    members: list[int] = field(default_factory=list)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(libpq_url(self.database_url), autocommit=True, connect_timeout=3)

    def stored_ids(self) -> list[str]:
        with self.connect() as conn:
            return [str(row[0]) for row in conn.execute("select checkin_id from checkins")]

    def depth(self, queue: str) -> int:
        connection = pika.BlockingConnection(pika.URLParameters(self.env["RABBITMQ_URL"]))
        try:
            return connection.channel().queue_declare(queue, passive=True).method.message_count
        finally:
            connection.close()


@pytest.fixture(scope="module")
def stack(settings) -> Iterator[Stack]:
    if not (PrivateRabbit.available() and PrivatePostgres.available()):
        pytest.skip("needs rabbitmq-server and PostgreSQL 15's initdb/pg_ctl on this machine")
    broker = PrivateRabbit(f"{TEST_VHOST}_stream_broker", free_port_pair(18472))
    postgres = PrivatePostgres(f"{TEST_VHOST}_stream_pg", free_port_pair(18432))
    try:
        broker.create().add_vhost(TEST_VHOST)
        postgres.create()
        database_url = postgres.url(TEST_DATABASE)
        upgrade(database_url)
        env = {
            "DATABASE_URL": database_url,
            "DASHBOARD_DATABASE_URL": database_url.replace("postgres@", "gympulse_dashboard@"),
            "RABBITMQ_URL": broker.url(TEST_VHOST),
        }
        yield Stack(broker, postgres, database_url, env)
    finally:
        postgres.destroy()
        broker.destroy()


@pytest.fixture
def members(stack) -> list[int]:
    """Fresh tables on the private cluster and MEMBERS active members."""
    with stack.connect() as conn:
        conn.execute("truncate checkins, alunos, planos, dispositivos restart identity cascade")
        plan = conn.execute(
            "insert into planos (nome, valor_mensal, duracao_meses) values ('Mensal', 129.9, 1) "
            "returning id"
        ).fetchone()[0]
        joined = datetime.now(UTC) - timedelta(days=200)
        ids = [
            conn.execute(
                "insert into alunos (nome, email, plano_id, ativo, data_matricula) "
                "values (%s, %s, %s, true, %s) returning id",
                (f"Aluno {n}", f"stream{n}@example.com", plan, joined),
            ).fetchone()[0]
            for n in range(MEMBERS)
        ]
    for queue in (CHECKIN_QUEUE, dead_letter_queue(CHECKIN_QUEUE)):
        connection = pika.BlockingConnection(pika.URLParameters(stack.env["RABBITMQ_URL"]))
        try:
            channel = connection.channel()
            # The queues exist once an API or a consumer has declared them.
            if channel.queue_declare(queue, passive=True):
                channel.queue_purge(queue)
        except pika.exceptions.ChannelClosedByBroker:
            pass
        finally:
            if connection.is_open:
                connection.close()
    return ids


def _api(stack: Stack, tmp_path) -> tuple[Server, str]:
    port = next(p for p in API_PORTS if not port_open(p))
    server = Server(["api", "--port", str(port)], tmp_path / "api.log", {**os.environ, **stack.env})
    url = f"http://127.0.0.1:{port}"
    server.wait_until(f"{url}/health", None, "the API on the private services")
    return server, url


def _event(member: int) -> dict:
    """A kiosk's event: its own id and time, resent unchanged on every retry."""
    return {
        "checkin_id": str(uuid.uuid4()),
        "aluno_id": member,
        "tipo": "entrada",
        "ocorrido_em": datetime.now(UTC).isoformat(),
    }


class Chaos(threading.Thread):
    """The faults, one after the other while the stream runs: the consumer killed three times,
    RabbitMQ restarted (the node, not only its app) and PostgreSQL restarted, each once."""

    def __init__(self, stack: Stack) -> None:
        super().__init__()
        self.stack = stack
        self.worker = Worker(stack.env).start()
        self.kills = 0
        self.done: list[str] = []
        self.failure: BaseException | None = None

    def kill_consumer(self) -> None:
        self.worker.kill()
        self.kills += 1
        self.worker = Worker(self.stack.env).start()
        self.done.append("consumer killed")

    def run(self) -> None:
        try:
            steps = (
                self.kill_consumer,
                self.restart_rabbitmq,
                self.kill_consumer,
                self.restart_postgres,
                self.kill_consumer,
            )
            for step in steps:
                time.sleep(2.5)
                step()
            time.sleep(2)
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.failure = exc

    def restart_rabbitmq(self) -> None:
        self.stack.broker.stop()
        time.sleep(3)
        self.stack.broker.start()
        self.done.append("RabbitMQ restarted")

    def restart_postgres(self) -> None:
        self.stack.postgres.stop()
        time.sleep(3)
        self.stack.postgres.start()
        self.done.append("PostgreSQL restarted")


def test_combined_stream_through_kills_and_restarts_stores_each_accepted_checkin_once(
    stack, members, tmp_path
):
    server, url = _api(stack, tmp_path)
    key = create_device_key("kiosk-stream", "Entrada", database_url=stack.database_url)
    kiosk = httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=10)
    rng = random.Random(10)
    accepted: set[str] = set()
    refused: list[dict] = []  # events a kiosk still has to retry (same id, same event)
    posts = {"single": 0, "bulk": 0, "refused": 0}

    def post(events: list[dict]) -> None:
        if len(events) == 1:
            posts["single"] += 1
            response = kiosk.post("/aluno/checkin", json=events[0])
        else:
            posts["bulk"] += 1
            response = kiosk.post("/aluno/checkin/lote", json={"checkins": events})
        if response.status_code == 202:
            accepted.update(str(event["checkin_id"]) for event in events)
            return
        assert response.status_code == 503, response.text  # an outage, never a 500
        posts["refused"] += 1
        refused.extend(events)
        time.sleep(0.2)  # the kiosk backs off

    # The API checks the kiosk key once while PostgreSQL is up; it stays valid in an outage.
    post([_event(members[0])])
    chaos = Chaos(stack)
    chaos.start()
    try:
        while chaos.is_alive():
            if refused and rng.random() < 0.3:
                # A 503 may come after the broker kept the event (its confirm was lost in the
                # restart): every refused event is retried, or it would be stored unaccepted.
                taken = rng.randint(1, 20)
                retry, refused[:] = refused[:taken], refused[taken:]
                post(retry)
            elif rng.random() < 0.15:
                post([_event(rng.choice(members)) for _ in range(rng.randint(2, 60))])
            else:
                post([_event(rng.choice(members))])
        chaos.join()
        assert chaos.failure is None, chaos.failure
        # Everything refused during the outages is retried until accepted, as kiosks do.
        while refused:
            retry, refused[:] = refused[:50], refused[50:]
            post(retry)
        landed = wait_until(lambda: set(stack.stored_ids()) >= accepted, timeout=90)
        drained = wait_until(lambda: stack.depth(CHECKIN_QUEUE) == 0, timeout=30)
        stored = stack.stored_ids()
        alive = chaos.worker.process is not None and chaos.worker.process.poll() is None
    finally:
        kiosk.close()
        log = chaos.worker.stop()
        server.stop()
    missing = accepted - set(stored)
    assert landed and drained, (
        f"{len(missing)} accepted check-ins missing; consumer:\n{log[-3000:]}"
    )
    assert alive, log[-3000:]
    assert chaos.kills == 3 and chaos.done.count("RabbitMQ restarted") == 1
    assert chaos.done.count("PostgreSQL restarted") == 1
    assert posts["refused"] >= 1  # the broker outage was seen by the kiosk
    assert len(stored) == len(set(stored)) and set(stored) == accepted  # each once, nothing else
    assert stack.depth(dead_letter_queue(CHECKIN_QUEUE)) == 0
    print(
        f"stream: {posts['single']} single and {posts['bulk']} bulk posts, "
        f"{posts['refused']} answered 503 and retried; {', '.join(chaos.done)}; "
        f"{len(accepted)} check-ins answered 202, {len(stored)} stored, 0 lost, 0 twice"
    )


HELD_DEVICE = "held-by-test"
HOLD_LOCK = 18_400
# PostgreSQL stops while the consumer is storing a refused batch message by message: the
# message from HELD_DEVICE waits on an advisory lock the test holds, and the test stops the
# server then. A statement trigger runs after the foreign-key checks, so the whole batch
# (refused for its unknown member) never waits: only the fallback's insert of that message.
HOLD_SQL = f"""
create or replace function hold_for_test() returns trigger language plpgsql as $$
begin
    if exists (select from inserted where dispositivo = '{HELD_DEVICE}') then
        perform pg_advisory_xact_lock({HOLD_LOCK});
    end if;
    return null;
end $$;
create or replace trigger hold_for_test after insert on checkins
referencing new table as inserted for each statement execute function hold_for_test();
"""


def _publish(stack: Stack, events: list[CheckinEvent]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(stack.env["RABBITMQ_URL"]))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for event in events:
            body = encode_checkins([event])
            channel.basic_publish(EXCHANGE, CHECKIN_QUEUE, body, PERSISTENT, mandatory=True)
    finally:
        connection.close()


def _waiting_on_the_hold(conn: psycopg.Connection) -> bool:
    return conn.execute(
        "select exists (select from pg_stat_activity where wait_event = 'advisory')"
    ).fetchone()[0]


def test_postgres_outage_in_the_message_by_message_fallback_is_held_not_fatal(
    stack, members, tmp_path
):
    now = datetime.now(UTC)

    def event(member: int, device: str | None = None) -> CheckinEvent:
        return CheckinEvent(
            checkin_id=uuid.uuid4(),
            aluno_id=member,
            tipo="entrada",
            ocorrido_em=now,
            dispositivo=device,
        )

    good = [event(members[n % MEMBERS]) for n in range(10)]
    unknown = event(10**9)  # no such member: PostgreSQL refuses it for its content
    held = event(members[0], HELD_DEVICE)
    after = [event(members[n % MEMBERS]) for n in range(10)]
    worker = Worker(stack.env).start()  # declares the queues
    assert wait_until(lambda: _has_consumer(stack), timeout=30)
    worker.stop()
    holder = stack.connect()
    holder.execute(HOLD_SQL)
    holder.execute("select pg_advisory_lock(%s)", (HOLD_LOCK,))
    # Published while no consumer runs, so the next one takes them as one batch.
    _publish(stack, [*good, unknown, held, *after])
    worker = Worker(stack.env).start()
    try:
        assert wait_until(lambda: _waiting_on_the_hold(holder), timeout=30)
        stack.postgres.stop()  # cuts the consumer's session mid-fallback (and the holder's)
        time.sleep(3)
        survived_outage = worker.process.poll() is None
        stack.postgres.start()
        expected = {str(e.checkin_id) for e in [*good, held, *after]}
        landed = wait_until(lambda: set(stack.stored_ids()) == expected, timeout=60)
        parked = wait_until(lambda: stack.depth(dead_letter_queue(CHECKIN_QUEUE)) == 1, 10)
        alive = worker.process.poll() is None
        with stack.connect() as conn:
            conn.execute("drop trigger hold_for_test on checkins")
    finally:
        output = worker.stop()
        holder.close()
    assert survived_outage and alive, f"the consumer exited at the outage:\n{output[-3000:]}"
    assert landed, output[-3000:]
    assert parked and stack.depth(CHECKIN_QUEUE) == 0, output[-3000:]
    assert "PostgreSQL unavailable" in output
    print(
        f"fallback outage: PostgreSQL stopped for 3 s while the consumer stored a refused batch "
        f"message by message; the consumer kept running, {len(expected)} events stored once, "
        "the 1 refused (unknown member) parked"
    )


def _has_consumer(stack: Stack) -> bool:
    try:
        connection = pika.BlockingConnection(pika.URLParameters(stack.env["RABBITMQ_URL"]))
    except pika.exceptions.AMQPError:
        return False
    try:
        return (
            connection.channel().queue_declare(CHECKIN_QUEUE, passive=True).method.consumer_count
            > 0
        )
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()
