"""`gympulse dlq list|show|replay|purge` as an operator runs it, each in a process of its own,
against dead letters parked by the real consumer and by the broker's delivery limit.

Here rather than in tests/flows: that package shares one simulated gym and its tests must not
empty the app tables, which these do (the `db` fixture)."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pika

from serving.messaging.events import CheckinEvent, encode_checkins
from serving.messaging.topology import (
    CHECKIN_QUEUE,
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    dead_letter_queue,
)
from tests.support import Worker, count, wait_until

DLQ = dead_letter_queue(CHECKIN_QUEUE)
PERSISTENT = pika.BasicProperties(delivery_mode=2, content_type="application/json")
NEW_MEMBER_ID = 9_000_001


def _dlq(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "dlq", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _depth(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def _event(member: int, **fields) -> CheckinEvent:
    when = datetime.now(UTC) - timedelta(minutes=5)
    values = {"checkin_id": uuid.uuid4(), "tipo": "entrada", "ocorrido_em": when}
    return CheckinEvent(aluno_id=member, **(values | fields))


def _publish(channel, events: list[CheckinEvent] | bytes) -> None:
    body = events if isinstance(events, bytes) else encode_checkins(events)
    channel.basic_publish(EXCHANGE, CHECKIN_QUEUE, body, PERSISTENT)


def _exhaust_delivery_limit(channel) -> None:
    """Deliver the queue's one message until the broker dead-letters it (a worker that kept
    crashing on it would do the same)."""

    def deliver_once_more() -> bool:
        method, _properties, _body = channel.basic_get(CHECKIN_QUEUE)
        if method is not None:
            channel.basic_nack(method.delivery_tag, requeue=True)
        return _depth(channel, DLQ) == 1

    assert wait_until(deliver_once_more, timeout=30, interval=0.05)


def test_dlq_lists_shows_replays_what_can_be_stored_and_purges(rabbit, db, make_member, plan_id):
    stuck_member, owner, latecomer = make_member(), make_member(), make_member(nome="Zélia Q.")
    stuck = _event(stuck_member)
    _publish(rabbit, [stuck])
    _exhaust_delivery_limit(rabbit)
    worker = Worker().start()
    try:
        taken = _event(owner)
        unknown = _event(NEW_MEMBER_ID)
        conflict = taken.model_copy(update={"aluno_id": latecomer})
        _publish(rabbit, [taken])
        assert wait_until(lambda: count(db, "select count(*) from checkins") == 1)
        for body in ([unknown], [conflict], b"{not json"):
            _publish(rabbit, body)
        assert wait_until(lambda: _depth(rabbit, DLQ) == 4)

        listed = _dlq("list")
        assert listed.returncode == 0, listed.stderr
        assert f"{DLQ}: 4 dead letter(s)" in listed.stdout
        for reason in ("delivery_limit", "unknown_member", "checkin_id_conflict", "undecodable"):
            assert f"  {reason:<22} 1" in listed.stdout
        assert str(unknown.checkin_id) in listed.stdout and str(NEW_MEMBER_ID) in listed.stdout
        assert "Zélia" not in listed.stdout  # members by id only
        assert _depth(rabbit, DLQ) == 4  # looking takes nothing out

        shown = _dlq("show", str(conflict.checkin_id))
        assert shown.returncode == 0, shown.stderr
        assert "reason: checkin_id_conflict" in shown.stdout
        assert "(aluno_id)" in shown.stdout and f'"aluno_id": {latecomer}' in shown.stdout
        missing = _dlq("show", "nope")
        assert missing.returncode == 1 and "no dead letter with id nope" in missing.stderr

        db.execute(
            "insert into alunos (id, nome, email, plano_id, data_matricula) "
            "values (%s, 'Novo', 'novo@example.com', %s, now())",
            (NEW_MEMBER_ID, plan_id),
        )
        replayed = _dlq("replay")
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed 2 dead letter(s) to checkin_queue; 2 kept" in replayed.stdout
        assert "1 kept: not a check-in message" in replayed.stdout
        assert "--reissue-conflicts" in replayed.stdout
        assert wait_until(lambda: count(db, "select count(*) from checkins") == 3)
        stored_ids = {str(r[0]) for r in db.execute("select checkin_id from checkins")}
        assert {str(stuck.checkin_id), str(unknown.checkin_id)} <= stored_ids

        # A replay that crashed before its ack leaves the dead letter behind: replaying it again
        # stores nothing twice.
        rabbit.basic_publish(
            DEAD_LETTER_EXCHANGE, CHECKIN_QUEUE, encode_checkins([unknown]), PERSISTENT
        )
        again = _dlq("replay", "--reissue-conflicts")
        assert "replayed 2 dead letter(s) to checkin_queue; 1 kept" in again.stdout
        assert wait_until(lambda: count(db, "select count(*) from checkins") == 4)
        assert wait_until(lambda: _depth(rabbit, CHECKIN_QUEUE) == 0)
        rows = db.execute(
            "select aluno_id from checkins where aluno_id in (%s, %s)", (NEW_MEMBER_ID, latecomer)
        )
        assert sorted(r[0] for r in rows) == sorted([NEW_MEMBER_ID, latecomer])
        assert _depth(rabbit, DLQ) == 1
    finally:
        worker.stop()

    unconfirmed = _dlq("purge")
    assert unconfirmed.returncode == 2 and "pass --yes" in unconfirmed.stderr
    bad_reason = _dlq("purge", "--reason", "whatever", "--yes")
    assert bad_reason.returncode == 2 and "unknown reason 'whatever'" in bad_reason.stderr
    assert _depth(rabbit, DLQ) == 1
    purged = _dlq("purge", "--reason", "undecodable", "--yes")
    assert purged.returncode == 0 and "deleted 1 dead letter(s) (undecodable)" in purged.stdout
    assert _depth(rabbit, DLQ) == 0


def test_dlq_without_the_broker_is_one_clear_line(settings):
    unreachable = settings.rabbitmq_url.replace(":5672/", ":1/")
    answer = _dlq("list", env={"RABBITMQ_URL": unreachable})
    assert answer.returncode == 3  # a service is unreachable (README, exit codes)
    [line] = answer.stderr.strip().splitlines()
    assert line.startswith("error: RabbitMQ unreachable") and "RABBITMQ_URL" in line
