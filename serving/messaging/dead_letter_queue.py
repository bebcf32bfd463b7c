"""What `gympulse dlq` does with `checkin_queue.dlq`: read the dead letters, replay those that
can be stored now, delete them.

The queue is read with `basic_get` and nothing is acked while we look: a dead letter leaves the
queue only when it was replayed (republished to `checkin_queue` with a confirm, then acked) or
deleted; closing the channel hands every other one back. A crash between a replay's confirm and
its ack leaves it in both queues: the consumer stores it once (`checkin_id`), and a second replay
finds it stored.
"""

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import pika
import psycopg
from pika.adapters.blocking_connection import BlockingChannel

from serving.db.engine import libpq_url
from serving.messaging import topology
from serving.messaging.consumer import missing_members, stored_contents
from serving.messaging.dead_letters import (
    DETAIL_HEADER,
    PARKED_AT_HEADER,
    header_text,
    reason_of,
)
from serving.messaging.events import (
    CheckinContent,
    CheckinEvent,
    PoisonMessage,
    decode_checkins,
    encode_checkins,
)

# A conflicting event replayed with --reissue-conflicts gets an id derived from its own id and
# content: replaying it twice gives the same id, so it is still stored once.
REISSUE_NAMESPACE = uuid.UUID("5b0c1c52-92a5-4a4f-9f36-0c3e7d0d1a7e")


@dataclass
class DeadLetter:
    delivery_tag: int
    properties: pika.BasicProperties
    body: bytes

    @cached_property
    def events(self) -> list[CheckinEvent] | None:
        """The check-in events it carries; None when it cannot be read as a check-in message."""
        try:
            return decode_checkins(self.body)
        except PoisonMessage:
            return None

    @property
    def id(self) -> str:
        """Its message id (the first event's checkin_id), or else a digest of its body."""
        if self.properties.message_id:
            return str(self.properties.message_id)
        events = self.events
        if events:
            return str(events[0].checkin_id)
        return "sha256:" + hashlib.sha256(self.body).hexdigest()[:16]

    @property
    def reason(self) -> str:
        return reason_of(self.properties)

    @property
    def detail(self) -> str | None:
        return header_text(self.properties, DETAIL_HEADER)

    @property
    def parked_at(self) -> str | None:
        ours = header_text(self.properties, PARKED_AT_HEADER)
        if ours:
            return ours
        deaths = (self.properties.headers or {}).get("x-death") or []
        when = deaths[0].get("time") if deaths else None
        return when.isoformat() if isinstance(when, datetime) else None


class DeadLetterQueue:
    """The dead letters of one work queue, held on a channel of their own while we look."""

    def __init__(self, channel: BlockingChannel, queue: str = topology.CHECKIN_QUEUE) -> None:
        self.channel = channel
        self.queue = queue
        self.name = topology.dead_letter_queue(queue)

    def read(self) -> list[DeadLetter]:
        """Every dead letter in the queue, in order, each held (unacked) until replayed,
        deleted or handed back when the channel closes."""
        letters: list[DeadLetter] = []
        while True:
            method, properties, body = self.channel.basic_get(self.name, auto_ack=False)
            if method is None:
                return letters
            letters.append(DeadLetter(method.delivery_tag, properties, body))

    def delete(self, letter: DeadLetter) -> None:
        self.channel.basic_ack(letter.delivery_tag)

    def replay(self, letter: DeadLetter, events: list[CheckinEvent]) -> None:
        """Publish `events` to the work queue, wait for the broker's confirm, then take the dead
        letter out (raises, and takes nothing out, when the broker does not confirm)."""
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=str(events[0].checkin_id),
        )
        self.channel.basic_publish(
            topology.EXCHANGE, self.queue, encode_checkins(events), properties, mandatory=True
        )
        self.channel.basic_ack(letter.delivery_tag)


@contextmanager
def open_dead_letters(rabbitmq_url: str, delivery_limit: int) -> Iterator[DeadLetterQueue]:
    """The check-in dead-letter queue on a connection of its own (queues declared as the workers
    declare them, publisher confirms on). AMQP errors propagate: the caller names them."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        channel = connection.channel()
        topology.declare_with_pika(channel, delivery_limit)
        channel.confirm_delivery()
        yield DeadLetterQueue(channel)
    finally:
        if connection.is_open:
            connection.close()


# --- replay ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayDecision:
    letter: DeadLetter
    events: list[CheckinEvent] | None  # what to republish; None: keep it parked
    why_kept: str | None = None


def reissued(event: CheckinEvent) -> CheckinEvent:
    content = f"{event.checkin_id}/{event.aluno_id}/{event.tipo}/{event.ocorrido_em.isoformat()}"
    return event.model_copy(update={"checkin_id": uuid.uuid5(REISSUE_NAMESPACE, content)})


def plan_replay(
    letters: list[DeadLetter], database_url: str, *, reissue_conflicts: bool = False
) -> list[ReplayDecision]:
    """Which dead letters can be stored now, from what PostgreSQL holds (two queries for all):
    every member exists and no event's checkin_id is stored for another event. A conflicting
    event stays parked unless `reissue_conflicts`: it is then replayed under a new id derived
    from it (the stored event keeps the old one), for when both events really happened."""
    events = [e for letter in letters for e in letter.events or []]
    not_found, stored = _what_is_stored(database_url, events)
    decisions = []
    for letter in letters:
        batch = letter.events
        if batch is None:
            decisions.append(ReplayDecision(letter, None, "not a check-in message"))
            continue
        missing = sorted({e.aluno_id for e in batch} & not_found)
        if missing:
            named = ", ".join(str(m) for m in missing[:5])
            decisions.append(ReplayDecision(letter, None, f"aluno_id not found: {named}"))
            continue
        conflicting = {
            e.checkin_id
            for e in batch
            if e.checkin_id in stored and e.content.differences(stored[e.checkin_id])
        }
        if conflicting and not reissue_conflicts:
            why = "checkin_id stored for another event (--reissue-conflicts to store it)"
            decisions.append(ReplayDecision(letter, None, why))
            continue
        replayed = [reissued(e) if e.checkin_id in conflicting else e for e in batch]
        decisions.append(ReplayDecision(letter, replayed))
    return decisions


def _what_is_stored(
    database_url: str, events: list[CheckinEvent]
) -> tuple[set[int], dict[uuid.UUID, CheckinContent]]:
    """The members among the events' that do not exist, and what is stored under their ids."""
    if not events:
        return set(), {}
    with psycopg.connect(libpq_url(database_url), connect_timeout=3) as conn:
        missing = set(missing_members(conn, (e.aluno_id for e in events)))
        stored = stored_contents(conn, {e.checkin_id for e in events})
    return missing, stored
