"""Both workers survive a broker restart: the same process (same PID) reconnects by itself and
consumes what is published afterwards, and while the broker is down it logs one line per retry,
without tracebacks.

The broker here is a private RabbitMQ node (tests/services.py `PrivateRabbit`, its own ports and
data under /tmp): restarting the machine's broker on 5672 would break everyone else's tests."""

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pika
import pytest

from serving.messaging.events import CheckinEvent, encode_checkins
from serving.messaging.topology import (
    CHECKIN_QUEUE,
    CHURN_PROBABILITIES_QUEUE,
    DAILY_REPORT_QUEUE,
    EXCHANGE,
    MODEL_UPDATE_QUEUE,
    dead_letter_queue,
)
from serving.vocabulary import DAILY_REPORT, QUEUED
from tests.churn_support import JobWorkerProcess
from tests.services import PrivateRabbit, free_port_pair
from tests.support import TEST_VHOST, Worker, count, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

PERSISTENT = pika.BasicProperties(delivery_mode=2, content_type="application/json")
OUTAGE_SECONDS = 5
JOB_QUEUES = (MODEL_UPDATE_QUEUE, CHURN_PROBABILITIES_QUEUE, DAILY_REPORT_QUEUE)


@pytest.fixture(scope="module")
def broker() -> Iterator[PrivateRabbit]:
    if not PrivateRabbit.available():
        pytest.skip("needs rabbitmq-server and rabbitmqctl on this machine")
    node = PrivateRabbit(f"{TEST_VHOST}_broker", free_port_pair(18572)).create()
    try:
        node.add_vhost(TEST_VHOST)
        yield node
    finally:
        node.destroy()


def _restart(broker: PrivateRabbit, outage: str) -> None:
    """`stop_app`/`start_app` (the broker application) or the whole node, down for a while."""
    if outage == "app":
        broker.stop_app()
        time.sleep(OUTAGE_SECONDS)
        broker.start_app()
    else:
        broker.stop()
        time.sleep(OUTAGE_SECONDS)
        broker.start()


def _consumers(url: str, queues: tuple[str, ...]) -> bool:
    """Whether every queue has a consumer (False while the worker has not declared them)."""
    try:
        connection = pika.BlockingConnection(pika.URLParameters(url))
    except pika.exceptions.AMQPError:
        return False
    try:
        channel = connection.channel()
        return all(channel.queue_declare(q, passive=True).method.consumer_count for q in queues)
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()


def _depth(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def _publish(url: str, routing_key: str, bodies: list[bytes]) -> None:
    """Publish with confirms: when this returns, the broker holds every message."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish(EXCHANGE, routing_key, body, PERSISTENT, mandatory=True)
    finally:
        connection.close()


def _checkins(member: int, how_many: int) -> list[CheckinEvent]:
    return [
        CheckinEvent(
            checkin_id=uuid.uuid4(), aluno_id=member, tipo="entrada", ocorrido_em=datetime.now(UTC)
        )
        for _ in range(how_many)
    ]


def _assert_one_line_per_retry(output: str, broker: PrivateRabbit) -> None:
    """Until it consumes again after the restart, no traceback and nothing from pika's own
    loggers; from the drop on, only the worker's retry lines."""
    lines = output.splitlines()
    first = next((i for i, line in enumerate(lines) if "retrying in" in line), None)
    assert first is not None, output[-4000:]
    back = next((i for i in range(first, len(lines)) if "consuming " in lines[i]), len(lines))
    until_back = "\n".join(lines[:back])
    assert "Traceback" not in until_back and "╭" not in until_back, until_back[-4000:]
    assert " pika." not in until_back, until_back[-4000:]
    outage = lines[first:back]
    assert all(
        f"RabbitMQ unreachable at 127.0.0.1:{broker.port}" in line
        or f"RabbitMQ connection to 127.0.0.1:{broker.port} lost" in line
        for line in outage
    ), "\n".join(outage)
    # Down ~5-15 s with waits of 0.5, 1, 2, 4, 8 s: a handful of attempts, each one line.
    assert 2 <= len(outage) <= 10, "\n".join(outage)


@pytest.mark.parametrize("outage", ["app", "node"])
def test_checkin_worker_keeps_consuming_after_a_broker_restart(broker, outage, db, make_member):
    url = broker.url(TEST_VHOST)
    member = make_member()
    worker = Worker({"RABBITMQ_URL": url}).start()
    try:
        assert wait_until(lambda: _consumers(url, (CHECKIN_QUEUE,)), timeout=30)
        # Some of these are still in flight (prefetched, or stored but not acked) at the drop.
        before = _checkins(member, 500)
        _publish(url, CHECKIN_QUEUE, [encode_checkins([event]) for event in before])
        _restart(broker, outage)
        after = _checkins(member, 50)
        _publish(url, CHECKIN_QUEUE, [encode_checkins([event]) for event in after])

        expected = {str(event.checkin_id) for event in before + after}
        landed = wait_until(
            lambda: count(db, "select count(*) from checkins") >= len(expected), timeout=60
        )
        alive = worker.process is not None and worker.process.poll() is None  # never restarted
    finally:
        output = worker.stop()
    assert alive, f"the worker exited at the restart:\n{output[-4000:]}"
    assert landed, output[-4000:]
    stored = [str(row[0]) for row in db.execute("select checkin_id from checkins")]
    assert sorted(stored) == sorted(expected)  # every one, once
    # The redelivered ones were recognised as the same events, not parked as conflicts.
    assert _depth(url, dead_letter_queue(CHECKIN_QUEUE)) == 0
    _assert_one_line_per_retry(output, broker)


@pytest.mark.parametrize("outage", ["app", "node"])
def test_job_worker_keeps_consuming_after_a_broker_restart(broker, outage, db, tmp_path):
    url = broker.url(TEST_VHOST)
    worker = JobWorkerProcess(
        tmp_path / "jobs.log", {"RABBITMQ_URL": url, "PREFECT_HOME": str(tmp_path / "prefect")}
    ).start()
    try:
        assert wait_until(lambda: _consumers(url, JOB_QUEUES), timeout=120), worker.output()
        _restart(broker, outage)
        # A report job whose date its recipe cannot read: it ends failed at once, so its row
        # going queued → failed shows the worker took the message, without running a flow.
        job_id = uuid.uuid4()
        parametros = {"data": "not-a-date"}
        db.execute(
            "insert into jobs (id, tipo, estado, parametros) values (%s, %s, %s, %s)",
            (job_id, DAILY_REPORT, QUEUED, orjson.dumps(parametros).decode()),
        )
        message = {"job_id": str(job_id), "tipo": DAILY_REPORT, "parametros": parametros}
        _publish(url, DAILY_REPORT_QUEUE, [orjson.dumps(message)])

        ended = wait_until(
            lambda: (
                db.execute("select estado from jobs where id = %s", (job_id,)).fetchone()[0]
                != QUEUED
            ),
            timeout=60,
        )
        alive = worker.alive()  # the process started above, never restarted
    finally:
        worker.stop()
    output = worker.output()
    assert alive, f"the worker exited at the restart:\n{output[-4000:]}"
    assert ended, output[-4000:]
    estado, erro = db.execute("select estado, erro from jobs where id = %s", (job_id,)).fetchone()
    assert (estado, erro.split(":")[0]) == ("failed", "ValueError"), erro
    _assert_one_line_per_retry(output, broker)
