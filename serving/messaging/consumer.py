"""`gympulse worker checkins`: lands check-in events in PostgreSQL exactly once.

- Batches: flush when `consumer_batch_size` events or `consumer_flush_ms` have accumulated.
- One transaction per batch with `ON CONFLICT (checkin_id) DO NOTHING`; ack (multiple) only
  after commit, so a crash at any point means redelivery, and redelivery means no duplicate.
- A message that cannot be decoded, or whose events PostgreSQL refuses on their own, is
  rejected without requeue: the queue's dead-letter exchange parks it in `checkin_queue.dlq`.
- PostgreSQL unreachable: keep the batch unacked and retry with backoff while pika keeps
  heartbeats going (`connection.sleep`), so no delivery attempt is burned.
- After each commit, the cache entries of the members whose check-ins landed are dropped.
"""

import contextlib
import logging
import signal
import time
from dataclasses import dataclass, field

import orjson
import pika
import psycopg
import redis
from pika.exceptions import AMQPError

from serving.cache import invalidate_members_sync
from serving.config import Settings
from serving.db.engine import libpq_url
from serving.messaging import topology
from serving.messaging.events import CheckinEvent, PoisonMessage, decode_checkins
from serving.messaging.reconnect import run_reconnecting

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
returning aluno_id
"""
MAX_BACKOFF_SECONDS = 10.0


@dataclass
class Pending:
    tags: list[int] = field(default_factory=list)
    events: list[list[CheckinEvent]] = field(default_factory=list)
    started: float = 0.0

    @property
    def size(self) -> int:
        return sum(len(e) for e in self.events)

    def add(self, tag: int, events: list[CheckinEvent]) -> None:
        if not self.tags:
            self.started = time.monotonic()
        self.tags.append(tag)
        self.events.append(events)


def write_events(conn: psycopg.Connection, events: list[CheckinEvent]) -> set[int]:
    """Insert events, ignoring ones already stored. Returns the members that got new rows."""
    document = orjson.dumps([event.model_dump(mode="json") for event in events])
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(INSERT_SQL, (document.decode(),))
        return {row[0] for row in cur.fetchall()}


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
        if not pending.tags:
            return
        events = [e for batch in pending.events for e in batch]
        backoff = 0.5
        while True:
            try:
                members = write_events(self._db(), events)
                channel.basic_ack(delivery_tag=pending.tags[-1], multiple=True)
                break
            except psycopg.OperationalError as exc:
                log.warning("PostgreSQL unavailable (%s); holding %d events", exc, len(events))
                self._drop_db()
                channel.connection.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                if self.stopping:
                    return  # unacked: the broker redelivers them to the next consumer
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                log.warning("batch refused by PostgreSQL (%s); retrying message by message", exc)
                members = self._flush_one_by_one(channel, pending)
                break
        self.stored += len(events)
        self._invalidate(members)
        pending.tags.clear()
        pending.events.clear()

    def _flush_one_by_one(self, channel, pending: Pending) -> set[int]:
        members: set[int] = set()
        for tag, events in zip(pending.tags, pending.events, strict=True):
            try:
                members |= write_events(self._db(), events)
                channel.basic_ack(delivery_tag=tag)
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                log.error("parking message %d in the dead-letter queue: %s", tag, exc)
                channel.basic_reject(delivery_tag=tag, requeue=False)
                self.parked += 1
        return members

    def _invalidate(self, members: set[int]) -> None:
        try:
            invalidate_members_sync(self.cache, members)
        except redis.RedisError as exc:
            log.warning("could not invalidate cache for %d members: %s", len(members), exc)

    # --- loop -------------------------------------------------------------------------------

    def run_once(self) -> None:
        """Consume until stopped or the broker connection drops."""
        params = pika.URLParameters(self.settings.rabbitmq_url)
        params.heartbeat = 30
        params.blocked_connection_timeout = 60
        connection = pika.BlockingConnection(params)
        channel = connection.channel()
        topology.declare_with_pika(channel, self.settings.queue_delivery_limit)
        channel.basic_qos(prefetch_count=max(2 * self.settings.consumer_batch_size, 100))
        flush_after = self.settings.consumer_flush_ms / 1000
        pending = Pending()
        log.info("consuming %s", topology.CHECKIN_QUEUE)
        try:
            for method, _props, body in channel.consume(
                topology.CHECKIN_QUEUE, inactivity_timeout=flush_after / 2
            ):
                if method is not None:
                    try:
                        pending.add(method.delivery_tag, decode_checkins(body))
                    except PoisonMessage as exc:
                        log.error("parking undecodable message: %s", exc)
                        channel.basic_reject(delivery_tag=method.delivery_tag, requeue=False)
                        self.parked += 1
                full = pending.size >= self.settings.consumer_batch_size
                due = pending.tags and time.monotonic() - pending.started >= flush_after
                if full or due:
                    self.flush(channel, pending)
                if self.stopping:
                    break
            self.flush(channel, pending)
        finally:
            try:
                channel.cancel()
                connection.close()
            except AMQPError:
                pass

    def run(self) -> None:
        run_reconnecting(self.run_once, lambda: self.stopping)
        self._drop_db()
        log.info("stopped: %d events stored, %d messages parked", self.stored, self.parked)

    def stop(self, *_args) -> None:
        self.stopping = True


def run_checkin_worker(settings: Settings) -> None:
    consumer = CheckinConsumer(settings)
    signal.signal(signal.SIGTERM, consumer.stop)
    signal.signal(signal.SIGINT, consumer.stop)
    consumer.run()
