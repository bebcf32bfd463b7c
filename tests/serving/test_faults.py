"""Fault injection against the real services: each test stops or kills something on purpose
and checks that nothing answered 202 is lost or stored twice."""

import random
import threading
import time
import uuid

import pytest

from serving.messaging.topology import CHECKIN_QUEUE, EXCHANGE, dead_letter_queue
from tests import services
from tests.support import Worker, count, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def _stored_ids(db) -> list[str]:
    return [str(row[0]) for row in db.execute("select checkin_id from checkins")]


def _post(client, headers, member: int, checkin_id: str):
    return client.post(
        "/aluno/checkin",
        json={"checkin_id": checkin_id, "aluno_id": member},
        headers=headers["kiosk"],
    )


def test_exactly_once_while_the_consumer_is_killed_mid_stream(
    client, headers, make_member, db, rabbit
):
    members = [make_member() for _ in range(20)]
    rng = random.Random(7)
    worker = Worker().start()
    accepted: set[str] = set()
    sent = 0
    done = threading.Event()
    kills = 0

    def chaos() -> None:
        nonlocal worker, kills
        while not done.is_set():
            time.sleep(1.2)
            worker.kill()
            kills += 1
            worker = Worker().start()

    killer = threading.Thread(target=chaos)
    killer.start()
    try:
        member_of: dict[str, int] = {}  # each check-in's member, so a retry resends its event
        for _ in range(2500):
            if member_of and rng.random() < 0.25:
                checkin_id = rng.choice(list(member_of))  # a kiosk retry: the same event again
            else:
                checkin_id = str(uuid.uuid4())
                member_of[checkin_id] = rng.choice(members)
            response = _post(client, headers, member_of[checkin_id], checkin_id)
            sent += 1
            if response.status_code == 202:
                accepted.add(checkin_id)
    finally:
        done.set()
        killer.join()

    assert kills >= 2
    assert sent > len(accepted) > 1500
    assert wait_until(
        lambda: count(db, "select count(*) from checkins") >= len(accepted), timeout=60
    )
    assert wait_until(
        lambda: rabbit.queue_declare(CHECKIN_QUEUE, passive=True).method.message_count == 0
    )
    time.sleep(0.5)
    stored = _stored_ids(db)
    worker.stop()
    assert sorted(stored) == sorted(accepted)
    assert (
        rabbit.queue_declare(dead_letter_queue(CHECKIN_QUEUE), passive=True).method.message_count
        == 0
    )


def test_broker_outage_answers_503_fast_and_loses_nothing_accepted(
    client, headers, member, db, worker
):
    sent, accepted, refused, slowest_refusal = [], [], 0, 0.0
    try:
        for i in range(300):
            if i == 100:
                services.stop_rabbitmq_app()
            if i == 110:
                services.start_rabbitmq_app()
            checkin_id = str(uuid.uuid4())
            sent.append(checkin_id)
            started = time.monotonic()
            response = _post(client, headers, member, checkin_id)
            elapsed = time.monotonic() - started
            if response.status_code == 202:
                accepted.append(checkin_id)
            else:
                assert response.status_code == 503, response.text
                refused += 1
                slowest_refusal = max(slowest_refusal, elapsed)
                time.sleep(0.2)  # the kiosk backs off while the broker comes back
    finally:
        if not services.port_open(5672):
            services.start_rabbitmq_app()

    assert refused >= 10
    assert slowest_refusal < 3.5  # publish timeout (2 s) + 1 s, not a hang
    assert len(accepted) >= 150
    # A 503 promises nothing either way (the kiosk retries with the same id); a 202 is a promise.
    landed = wait_until(lambda: set(accepted) <= set(_stored_ids(db)), timeout=60)
    missing = set(accepted) - set(_stored_ids(db))
    assert landed, (
        f"{len(missing)} accepted check-ins missing; worker log:\n{worker.stop()[-3000:]}"
    )
    assert set(_stored_ids(db)) <= set(sent)


def test_unroutable_publish_is_never_reported_as_accepted(client, headers, member, rabbit):
    rabbit.queue_unbind(CHECKIN_QUEUE, EXCHANGE, routing_key=CHECKIN_QUEUE)
    try:
        response = _post(client, headers, member, str(uuid.uuid4()))
    finally:
        rabbit.queue_bind(CHECKIN_QUEUE, EXCHANGE, routing_key=CHECKIN_QUEUE)
    assert response.status_code == 503


def test_postgres_outage_keeps_the_door_open_and_drains_afterwards(
    client, headers, member, db, worker, rabbit
):
    assert _post(client, headers, member, str(uuid.uuid4())).status_code == 202  # key now known
    accepted = []
    services.stop_postgres()
    try:
        staff_read = client.get(f"/aluno/{member}", headers=headers["admin"])
        assert staff_read.status_code == 503, staff_read.text
        assert staff_read.json()["codigo"] == "banco_indisponivel"
        for _ in range(200):
            checkin_id = str(uuid.uuid4())
            response = _post(client, headers, member, checkin_id)
            assert response.status_code == 202, response.text
            accepted.append(checkin_id)
        time.sleep(3)  # the consumer is holding a batch and retrying
        assert worker.process.poll() is None
    finally:
        services.start_postgres()

    with services_connection() as fresh:
        # 120 s: PostgreSQL's restart plus the consumer's backoff (up to 10 s) on a loaded host
        drained = wait_until(
            lambda: count(fresh, "select count(*) from checkins") == len(accepted) + 1, timeout=120
        )
        stored = count(fresh, "select count(*) from checkins")
    assert drained, f"{stored} stored of {len(accepted) + 1} accepted"
    assert (
        rabbit.queue_declare(dead_letter_queue(CHECKIN_QUEUE), passive=True).method.message_count
        == 0
    )


def services_connection():
    import psycopg

    from serving.config import get_settings
    from serving.db.engine import libpq_url

    return psycopg.connect(libpq_url(get_settings().database_url), autocommit=True)


def test_redis_outage_reads_still_answer_and_status_says_degraded(client, headers, member):
    services.stop_redis()
    try:
        started = time.monotonic()
        frequency = client.get(f"/aluno/{member}/frequencia", headers=headers["analista"])
        elapsed = time.monotonic() - started
        status = client.get("/status", headers=headers["admin"])
        cache_status = client.get("/status/cache", headers=headers["admin"])
    finally:
        services.start_redis()

    assert frequency.status_code == 200
    assert elapsed < 2
    assert status.status_code == 200
    assert status.json()["redis"]["status"] == "degraded"
    assert status.json()["status"] == "degraded"
    assert cache_status.json()["status"] == "degraded"
