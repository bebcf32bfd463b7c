"""`gympulse worker checkins`: lands check-in events in PostgreSQL exactly once.

- Batches: flush when `consumer_batch_size` events or `consumer_flush_ms` have accumulated.
- One transaction per batch with `ON CONFLICT (checkin_id) DO NOTHING`; ack (multiple) only
  after commit, so a crash at any point means redelivery, and redelivery means no duplicate.
- When the insert skipped rows, the skipped events are compared with the stored rows (one
  query, for those ids only: a batch of new events pays nothing). The same content is a retry
  or a redelivery; other content under a stored `checkin_id` is a conflict, parked in
  `checkin_queue.dlq` with the reason `checkin_id_conflict` (the conflicting events only).
- A message that cannot be decoded, or whose events PostgreSQL refuses on their own (unknown
  member...), is parked in `checkin_queue.dlq` with its reason (`serving/messaging/dead_letters`).
- PostgreSQL unreachable: keep the batch unacked and retry with backoff while pika keeps
  heartbeats going (`connection.sleep`), so no delivery attempt is burned. That holds in the
  message-by-message fallback too: an outage there is an outage, not a refusal, and what it
  has not settled yet is retried as a batch once PostgreSQL is back.
- After each commit, the cache entries of the members whose check-ins landed are dropped.
"""

import contextlib
import logging
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
import pika
import psycopg
import redis

from serving import vocabulary
from serving.cache import invalidate_members_sync
from serving.config import Settings
from serving.db.engine import libpq_url
from serving.messaging import topology
from serving.messaging.dead_letters import DeadLetters
from serving.messaging.events import (
    CheckinContent,
    CheckinEvent,
    PoisonMessage,
    decode_checkins,
    encode_checkins,
)
from serving.messaging.reconnect import broker_address, end_session, run_reconnecting
from serving.vocabulary import DeadLetterReason

log = logging.getLogger(__name__)

# Events go to PostgreSQL as one JSON document per batch: the server parses it, so Python does
# no per-event adaptation (the messages were validated already).
INSERT_SQL = """
insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, dispositivo, origem, aceito_em)
select e.checkin_id, e.aluno_id, e.tipo, e.ocorrido_em, e.dispositivo, e.origem, e.aceito_em
from jsonb_to_recordset(%s::jsonb) as e(
    checkin_id uuid, aluno_id bigint, tipo text, ocorrido_em timestamptz, dispositivo text,
    origem text, aceito_em timestamptz
)
on conflict (checkin_id) do nothing
returning checkin_id, aluno_id
"""
STORED_SQL = """
select checkin_id, aluno_id, tipo, ocorrido_em, aceito_em from checkins
where checkin_id = any(%s)
"""
MISSING_MEMBERS_SQL = """
select m.id from unnest(%s::bigint[]) as m(id) where not exists (select from alunos where id = m.id)
"""
MAX_BACKOFF_SECONDS = 10.0
# Ids named in a conflict's detail: enough to find the events, short enough for a header.
DETAIL_IDS = 5


@dataclass
class Pending:
    tags: list[int] = field(default_factory=list)
    events: list[list[CheckinEvent]] = field(default_factory=list)
    properties: list[pika.BasicProperties] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    started: float = 0.0

    @property
    def size(self) -> int:
        return sum(len(e) for e in self.events)

    def add(
        self,
        tag: int,
        events: list[CheckinEvent],
        properties: pika.BasicProperties | None = None,
        body: bytes | None = None,
    ) -> None:
        if not self.tags:
            self.started = time.monotonic()
        self.tags.append(tag)
        self.events.append(events)
        self.properties.append(properties or pika.BasicProperties())
        self.bodies.append(body if body is not None else encode_checkins(events))

    def pop_first(self) -> None:
        """Forget the oldest message (settled: acked or parked)."""
        for part in (self.tags, self.events, self.properties, self.bodies):
            del part[0]

    def clear(self) -> None:
        for part in (self.tags, self.events, self.properties, self.bodies):
            part.clear()


@dataclass
class Written:
    members: set[int]  # the members that got new rows
    inserted: int
    # Position in the events written -> the fields in which it differs from the stored row.
    conflicts: dict[int, list[str]]


def write_events(conn: psycopg.Connection, events: list[CheckinEvent]) -> Written:
    """Insert events, ignoring ones already stored, in one transaction; find the conflicts."""
    document = orjson.dumps([event.model_dump(mode="json") for event in events])
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(INSERT_SQL, (document.decode(),))
        rows = cur.fetchall()
        conflicts = {}
        if len(rows) < len(events):
            conflicts = _conflicts(cur, events, {row[0] for row in rows})
    return Written(members={row[1] for row in rows}, inserted=len(rows), conflicts=conflicts)


def _conflicts(
    cur: psycopg.Cursor, events: list[CheckinEvent], inserted: set[uuid.UUID]
) -> dict[int, list[str]]:
    """Compare the events the insert skipped with the rows stored under their ids. An id that
    came twice in this batch counts as skipped too: one copy was inserted, the other compared."""
    occurrences = Counter(event.checkin_id for event in events)
    skipped = {e.checkin_id for e in events if e.checkin_id not in inserted}
    skipped |= {checkin_id for checkin_id, n in occurrences.items() if n > 1}
    stored = stored_contents(cur, skipped)
    conflicts = {}
    for position, event in enumerate(events):
        row = stored.get(event.checkin_id)
        if event.checkin_id in skipped and row is not None:
            differing = event.content.differences(row)
            if differing:
                conflicts[position] = differing
    return conflicts


def stored_contents(
    conn: psycopg.Connection | psycopg.Cursor, checkin_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, CheckinContent]:
    """What is stored under these ids (ids not stored are absent)."""
    rows = conn.execute(STORED_SQL, (list(checkin_ids),)).fetchall()
    return {row[0]: CheckinContent.of(*row[1:]) for row in rows}


def missing_members(conn: psycopg.Connection, aluno_ids: Iterable[int]) -> list[int]:
    """The ids, in order, of members that do not exist."""
    rows = conn.execute(MISSING_MEMBERS_SQL, (sorted(set(aluno_ids)),)).fetchall()
    return [row[0] for row in rows]


def conflict_detail(conflicting: list[tuple[CheckinEvent, list[str]]]) -> str:
    """`checkin_id already stored with other content: <id> (aluno_id, tipo); ...`"""
    named = [f"{event.checkin_id} ({', '.join(fields)})" for event, fields in conflicting]
    more = f" and {len(named) - DETAIL_IDS} more" if len(named) > DETAIL_IDS else ""
    return "checkin_id already stored with other content: " + "; ".join(named[:DETAIL_IDS]) + more


class CheckinConsumer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = False
        self.db: psycopg.Connection | None = None
        self.cache = redis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=settings.redis_timeout_seconds,
            socket_timeout=settings.redis_timeout_seconds,
        )
        self.stored = 0
        self.parked = 0
        self._dead_letters: DeadLetters | None = None

    # --- PostgreSQL -------------------------------------------------------------------------

    def _db(self) -> psycopg.Connection:
        if self.db is None or self.db.closed:
            self.db = psycopg.connect(libpq_url(self.settings.database_url), connect_timeout=3)
        return self.db

    def _drop_db(self) -> None:
        if self.db is not None:
            with contextlib.suppress(psycopg.Error):
                self.db.close()
        self.db = None

    # --- batches ----------------------------------------------------------------------------

    def flush(self, channel, pending: Pending) -> None:
        """Store the pending messages and ack them; empty `pending` once every one is settled.
        PostgreSQL unreachable, in the batch or in the message-by-message fallback: hold what is
        still unacked and retry it, until it is settled or the consumer stops."""
        members: set[int] = set()  # whose cache entries to drop: they got new rows
        backoff = 0.5
        while pending.tags:
            try:
                members |= self._flush_batch(channel, pending)
            except psycopg.OperationalError as exc:
                log.warning("PostgreSQL unavailable (%s); holding %d events", exc, pending.size)
                self._drop_db()
                channel.connection.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                if self.stopping:
                    break  # unacked: the broker redelivers them to the next consumer
        self._invalidate(members)

    def _flush_batch(self, channel, pending: Pending) -> set[int]:
        """One transaction for every pending message; message by message when PostgreSQL
        refuses the batch for its content. Returns the members that got new rows."""
        events = [e for batch in pending.events for e in batch]
        try:
            written = write_events(self._db(), events)
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            log.warning(
                "batch refused by PostgreSQL (%s); retrying message by message",
                type(exc).__name__,
            )
            return self._flush_one_by_one(channel, pending)
        messages = zip(pending.events, pending.properties, strict=True)
        self._park_conflicts(channel, list(messages), written.conflicts)
        # After the commit and after every conflict's dead letter was confirmed.
        channel.basic_ack(delivery_tag=pending.tags[-1], multiple=True)
        self.stored += written.inserted
        pending.clear()
        return written.members

    def _flush_one_by_one(self, channel, pending: Pending) -> set[int]:
        """Store, park or ack each message on its own; each one leaves `pending` once settled.
        Only a refusal for its content parks a message: an OperationalError (PostgreSQL went
        away midway) goes up to `flush` with the unsettled messages still pending, unacked."""
        members: set[int] = set()
        while pending.tags:
            tag, events = pending.tags[0], pending.events[0]
            properties, body = pending.properties[0], pending.bodies[0]
            try:
                written = write_events(self._db(), events)
            except psycopg.errors.ForeignKeyViolation:
                missing = self._missing_members(events)
                detail = "aluno_id not found: " + ", ".join(str(m) for m in missing)
                self._park(channel, tag, body, properties, vocabulary.UNKNOWN_MEMBER, detail)
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                # The class and constraint only: PostgreSQL's message quotes the values.
                where = exc.diag.constraint_name or exc.sqlstate or "?"
                detail = f"{type(exc).__name__} ({where})"
                self._park(channel, tag, body, properties, vocabulary.REFUSED_BY_DATABASE, detail)
            else:
                self._park_conflicts(channel, [(events, properties)], written.conflicts)
                channel.basic_ack(delivery_tag=tag)
                members |= written.members
                self.stored += written.inserted
            pending.pop_first()
        return members

    def _missing_members(self, events: list[CheckinEvent]) -> list[int]:
        conn = self._db()
        with conn.transaction():  # not left open: the next batch's transaction must commit
            return missing_members(conn, (event.aluno_id for event in events))

    # --- dead letters -----------------------------------------------------------------------

    def _parker(self, channel) -> DeadLetters:
        """One per channel: a new session (after a reconnect) gets a new channel."""
        if self._dead_letters is None or self._dead_letters.channel is not channel:
            self._dead_letters = DeadLetters(channel, topology.CHECKIN_QUEUE, counts=self.cache)
        return self._dead_letters

    def _park(
        self, channel, tag: int, body: bytes, properties, reason: DeadLetterReason, detail: str
    ) -> None:
        self._parker(channel).park(tag, body, properties, reason, detail)
        self.parked += 1

    def _park_conflicts(
        self,
        channel,
        messages: list[tuple[list[CheckinEvent], pika.BasicProperties]],
        conflicts: dict[int, list[str]],
    ) -> None:
        """A dead letter for each message that holds conflicting events, with those events only
        (the rest of it is stored). `conflicts` is keyed by position in all the messages' events.
        The caller acks the messages afterwards, once every dead letter is confirmed."""
        if not conflicts:
            return
        offset = 0
        for events, properties in messages:
            conflicting = [
                (event, conflicts[offset + i])
                for i, event in enumerate(events)
                if offset + i in conflicts
            ]
            offset += len(events)
            if not conflicting:
                continue
            body = encode_checkins([event for event, _fields in conflicting])
            copy = pika.BasicProperties(
                content_type="application/json",
                message_id=str(conflicting[0][0].checkin_id),
                headers=properties.headers,
            )
            reason, detail = vocabulary.CHECKIN_ID_CONFLICT, conflict_detail(conflicting)
            self._parker(channel).publish(body, copy, reason, detail)
            self.parked += 1

    def _invalidate(self, members: set[int]) -> None:
        try:
            invalidate_members_sync(self.cache, members)
        except redis.RedisError as exc:
            log.warning("could not invalidate cache for %d members: %s", len(members), exc)

    # --- loop -------------------------------------------------------------------------------

    def run_once(self, on_connected: Callable[[], None]) -> None:
        """Consume until stopped or the broker connection drops; `on_connected` once consuming."""
        params = pika.URLParameters(self.settings.rabbitmq_url)
        params.heartbeat = 30
        params.blocked_connection_timeout = 60
        connection = pika.BlockingConnection(params)
        try:
            channel = connection.channel()
            topology.declare_with_pika(channel, self.settings.queue_delivery_limit)
            channel.basic_qos(prefetch_count=max(2 * self.settings.consumer_batch_size, 100))
            flush_after = self.settings.consumer_flush_ms / 1000
            pending = Pending()
            log.info("consuming %s", topology.CHECKIN_QUEUE)
            on_connected()
            for method, properties, body in channel.consume(
                topology.CHECKIN_QUEUE, inactivity_timeout=flush_after / 2
            ):
                if method is not None:
                    try:
                        pending.add(method.delivery_tag, decode_checkins(body), properties, body)
                    except PoisonMessage as exc:
                        tag = method.delivery_tag
                        self._park(channel, tag, body, properties, exc.reason, exc.detail)
                full = pending.size >= self.settings.consumer_batch_size
                due = pending.tags and time.monotonic() - pending.started >= flush_after
                if full or due:
                    self.flush(channel, pending)
                if self.stopping:
                    break
            self.flush(channel, pending)
        finally:
            # Closing the connection hands the unacked (prefetched) messages back to the queue.
            end_session(connection)

    def run(self) -> None:
        broker = broker_address(self.settings.rabbitmq_url)
        run_reconnecting(self.run_once, lambda: self.stopping, broker)
        self._drop_db()
        log.info("stopped: %d events stored, %d messages parked", self.stored, self.parked)

    def stop(self, *_args) -> None:
        self.stopping = True


def run_checkin_worker(settings: Settings) -> None:
    consumer = CheckinConsumer(settings)
    signal.signal(signal.SIGTERM, consumer.stop)
    signal.signal(signal.SIGINT, consumer.stop)
    consumer.run()
