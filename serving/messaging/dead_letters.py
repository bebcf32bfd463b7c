"""Parking a check-in message in `checkin_queue.dlq` with a reason an operator can read.

The broker's own dead-lettering (`basic_reject(requeue=False)`, the delivery limit) records only
`x-death` with `rejected` or `delivery_limit`. The consumer instead publishes a copy to the
dead-letter exchange with `x-gympulse-reason` and `x-gympulse-detail` (never a member's personal
data: ids, field names and error messages only), waits for the broker's confirm, and only then
acks the original. A crash between the two leaves the original unacked: it is redelivered and
parked again, so the queue may hold a duplicate dead letter, never lose one.

Each parked message is also counted by reason in Redis (`/status` shows the counts); the count is
best effort, the queue itself is the record.
"""

import logging
from datetime import UTC, datetime

import pika
import redis
from pika.adapters.blocking_connection import BlockingChannel

from serving.cache import PREFIX
from serving.messaging import topology
from serving.vocabulary import DELIVERY_LIMIT, REJECTED, DeadLetterReason

log = logging.getLogger(__name__)

REASON_HEADER = "x-gympulse-reason"
DETAIL_HEADER = "x-gympulse-detail"
PARKED_AT_HEADER = "x-gympulse-parked-at"
# A header is not a log: long enough for a few ids and field names, no more.
DETAIL_MAX_CHARS = 500


def reason_counts_key(queue: str) -> str:
    return f"{PREFIX}dlq:{queue}"


def reason_of(properties: pika.BasicProperties) -> str:
    """Why a dead letter was parked: our header, or else what the broker wrote in `x-death`
    (`delivery_limit` when the queue's delivery limit was reached, `rejected` otherwise)."""
    headers = properties.headers or {}
    ours = headers.get(REASON_HEADER)
    if ours:
        return ours.decode() if isinstance(ours, bytes) else str(ours)
    deaths = headers.get("x-death") or []
    broker_reason = deaths[0].get("reason") if deaths else None
    if isinstance(broker_reason, bytes):
        broker_reason = broker_reason.decode()
    return DELIVERY_LIMIT if broker_reason == DELIVERY_LIMIT else REJECTED


def header_text(properties: pika.BasicProperties, name: str) -> str | None:
    value = (properties.headers or {}).get(name)
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class DeadLetters:
    """Parks messages consumed from `queue` on one channel, which it puts in confirm mode."""

    def __init__(
        self,
        channel: BlockingChannel,
        queue: str = topology.CHECKIN_QUEUE,
        counts: redis.Redis | None = None,
    ) -> None:
        channel.confirm_delivery()
        self.channel = channel
        self.queue = queue
        self.counts = counts

    def park(
        self,
        delivery_tag: int,
        body: bytes,
        properties: pika.BasicProperties,
        reason: DeadLetterReason,
        detail: str,
    ) -> None:
        """Park one consumed message: the copy first (confirmed), then the ack."""
        self.publish(body, properties, reason, detail)
        self.channel.basic_ack(delivery_tag=delivery_tag)

    def publish(
        self, body: bytes, properties: pika.BasicProperties, reason: DeadLetterReason, detail: str
    ) -> None:
        """Publish a dead letter and return once the broker has it on disk. The caller acks the
        original afterwards; an AMQP error propagates and leaves the original unacked."""
        headers = dict(properties.headers or {})
        headers[REASON_HEADER] = reason
        headers[DETAIL_HEADER] = detail[:DETAIL_MAX_CHARS]
        headers[PARKED_AT_HEADER] = datetime.now(UTC).isoformat()
        copy = pika.BasicProperties(
            content_type=properties.content_type or "application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=properties.message_id,
            headers=headers,
        )
        # Unroutable or refused (UnroutableError, NackError) is an AMQP error like a lost
        # connection: the worker's session restarts, declares the queues again (so a deleted
        # dead-letter queue comes back) and the original is redelivered.
        self.channel.basic_publish(
            topology.DEAD_LETTER_EXCHANGE, self.queue, body, copy, mandatory=True
        )
        log.warning("parked a message in %s: %s (%s)", self.dead_letter_queue, reason, detail)
        self._count(reason)

    @property
    def dead_letter_queue(self) -> str:
        return topology.dead_letter_queue(self.queue)

    def _count(self, reason: DeadLetterReason) -> None:
        if self.counts is None:
            return
        try:
            self.counts.hincrby(reason_counts_key(self.queue), reason, 1)
        except redis.RedisError as exc:
            log.warning("could not count a dead letter in Redis: %s", type(exc).__name__)
