"""The check-in consumer against the real broker and database: poison messages, refused rows,
and redelivery after a crash."""

import time
import uuid
from datetime import UTC, datetime

import pika

from serving.messaging.events import CheckinEvent, encode_checkins
from serving.messaging.topology import CHECKIN_QUEUE, EXCHANGE, dead_letter_queue
from tests.support import count, wait_until

PERSISTENT = pika.BasicProperties(delivery_mode=2, content_type="application/json")


def _event(member: int, **extra) -> CheckinEvent:
    return CheckinEvent(
        checkin_id=uuid.uuid4(),
        aluno_id=member,
        tipo="entrada",
        ocorrido_em=datetime.now(UTC),
        **extra,
    )


def _publish(channel, body: bytes) -> None:
    channel.basic_publish(EXCHANGE, CHECKIN_QUEUE, body, PERSISTENT)


def _depth(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def test_poison_messages_are_parked_and_the_rest_lands(rabbit, db, member, worker):
    poison = [b"{not json", b'{"v": 1, "eventos": []}', b'{"v": 9}', b"\xff\xfe", b"[]"]
    poison += [encode_checkins([_event(member)]).replace(b'"entrada"', b'"pulo"')] * 5
    for i in range(1000):
        _publish(rabbit, encode_checkins([_event(member)]))
        if i % 100 == 0:
            _publish(rabbit, poison[i // 100])

    assert wait_until(lambda: count(db, "select count(*) from checkins") == 1000, timeout=30)
    assert wait_until(lambda: _depth(rabbit, dead_letter_queue(CHECKIN_QUEUE)) == 10)
    assert wait_until(lambda: _depth(rabbit, CHECKIN_QUEUE) == 0)
    assert worker.process.poll() is None  # still consuming


def test_events_postgres_refuses_are_parked_without_blocking_their_batch(
    rabbit, db, member, worker
):
    good = [_event(member) for _ in range(50)]
    unknown_member = _event(9_999_999)
    for event in good[:25]:
        _publish(rabbit, encode_checkins([event]))
    _publish(rabbit, encode_checkins([unknown_member]))
    for event in good[25:]:
        _publish(rabbit, encode_checkins([event]))

    assert wait_until(lambda: count(db, "select count(*) from checkins") == 50)
    assert wait_until(lambda: _depth(rabbit, dead_letter_queue(CHECKIN_QUEUE)) == 1)
    parked = rabbit.basic_get(dead_letter_queue(CHECKIN_QUEUE), auto_ack=True)[2]
    assert str(unknown_member.checkin_id).encode() in parked


def test_redelivered_and_duplicated_messages_store_one_row_each(rabbit, db, member, worker):
    events = [_event(member) for _ in range(300)]
    for event in events:
        body = encode_checkins([event])
        _publish(rabbit, body)
        _publish(rabbit, body)  # the same message twice, as after a publisher retry
    _publish(rabbit, encode_checkins(events[:100]))  # and again inside a batch message

    assert wait_until(lambda: count(db, "select count(*) from checkins") == 300, timeout=30)
    assert wait_until(lambda: _depth(rabbit, CHECKIN_QUEUE) == 0)
    time.sleep(0.5)  # a few more flush intervals: nothing else may arrive
    assert count(db, "select count(*) from checkins") == 300
