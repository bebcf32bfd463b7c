"""Redis cache with a short fuse: when Redis is down, callers get a miss at once and read
PostgreSQL, and `/status` reports the cache as degraded.

Answers live in one hash per member and kind (`gp:freq:<id>` with one field per query,
`gp:churn:<id>`), so a new check-in invalidates everything cached about that member with a
single DEL and no KEYS scan. A per-member version refuses answers computed before a change.
"""

import logging
import time
from typing import Any, cast

import orjson
import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)

PREFIX = "gp:"
STATS_KEY = PREFIX + "stats"
# Set while a batch of scores is being written: Redis takes the batch before PostgreSQL commits
# it, so an answer read from PostgreSQL meanwhile may miss a score the cache already announces.
SCORES_WRITING_KEY = PREFIX + "scores:gravando"
# After a failure, skip Redis for this long instead of paying a timeout on every request.
CIRCUIT_OPEN_SECONDS = 5.0


def frequency_key(aluno_id: int) -> str:
    return f"{PREFIX}freq:{aluno_id}"


def churn_key(aluno_id: int | str) -> str:
    return f"{PREFIX}churn:{aluno_id}"


def version_key(aluno_id: int) -> str:
    return f"{PREFIX}ver:{aluno_id}"


def member_keys(aluno_id: int) -> list[str]:
    """Everything cached about one member: dropped when the member or its check-ins change."""
    return [frequency_key(aluno_id), churn_key(aluno_id)]


# The member's version outlives any cached answer, so a stale write can always be detected.
VERSION_TTL_SECONDS = 26 * 3600


def _invalidate(pipe, aluno_id: int) -> None:
    """Drop the member's entries and bump its version, so an answer computed from data read
    before this change (and written after it) is refused by `set_field`."""
    pipe.delete(*member_keys(aluno_id))
    pipe.incr(version_key(aluno_id))
    pipe.expire(version_key(aluno_id), VERSION_TTL_SECONDS)


# KEYS: the hash, the member's version. ARGV: field, value, ttl, version ttl, the version read
# before computing the value ('' for none). The version is bumped and the hash emptied whether or
# not the value is kept, so nothing read before the new fact was written can be cached after it.
_REPLACE_SCRIPT = """
local seen = redis.call('GET', KEYS[2]) or ''
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
if seen == ARGV[5] then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
    redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
"""


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)


class Cache:
    def __init__(self, url: str, *, timeout: float) -> None:
        self._client = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._open_until = 0.0
        self.last_error: str | None = None

    @property
    def client(self) -> aioredis.Redis:
        return self._client

    def _available(self) -> bool:
        return time.monotonic() >= self._open_until

    def _trip(self, exc: Exception) -> None:
        self._open_until = time.monotonic() + CIRCUIT_OPEN_SECONDS
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("redis unavailable, serving from PostgreSQL: %s", self.last_error)

    async def get_field(self, key: str, field: str, kind: str) -> Any | None:
        if not self._available():
            return None
        try:
            raw = await self._client.hget(key, field)
            await self._client.hincrby(STATS_KEY, f"{'hits' if raw else 'misses'}:{kind}", 1)
        except redis.RedisError as exc:
            self._trip(exc)
            return None
        return loads(raw) if raw else None

    async def member_version(self, aluno_id: int) -> bytes | None:
        """Read before computing an answer from PostgreSQL; pass it back to `set_field`."""
        if not self._available():
            return None
        try:
            # The client answers bytes (decode_responses is off); `set_field` compares them.
            return cast(bytes | None, await self._client.get(version_key(aluno_id)))
        except redis.RedisError as exc:
            self._trip(exc)
            return None

    async def scores_being_written(self) -> bool:
        """Read after `member_version` and before PostgreSQL: when True, do not cache what
        PostgreSQL answers about scores (it may predate the batch Redis already holds)."""
        if not self._available():
            return True
        try:
            return bool(await self._client.exists(SCORES_WRITING_KEY))
        except redis.RedisError as exc:
            self._trip(exc)
            return True

    async def set_field(
        self, key: str, field: str, value: Any, ttl: int, *, aluno_id: int, seen: bytes | None
    ) -> None:
        """Cache an answer unless the member changed since `seen` was read."""
        if not self._available():
            return
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                await pipe.watch(version_key(aluno_id))
                if await pipe.get(version_key(aluno_id)) != seen:
                    return
                pipe.multi()
                pipe.hset(key, field, dumps(value))
                pipe.expire(key, ttl)
                await pipe.execute()
        except redis.WatchError:
            return
        except redis.RedisError as exc:
            self._trip(exc)

    async def replace_hash(
        self, key: str, field: str, value: Any, ttl: int, *, aluno_id: int, seen: bytes | None
    ) -> None:
        """After a new fact about the member was written (a score made on demand): the hash
        holds only this answer, or nothing when the member changed since `seen`."""
        if not self._available():
            return
        try:
            await self._client.eval(
                _REPLACE_SCRIPT,
                2,
                key,
                version_key(aluno_id),
                field,
                dumps(value),
                ttl,
                VERSION_TTL_SECONDS,
                seen or b"",
            )
        except redis.RedisError as exc:
            self._trip(exc)

    async def invalidate_member(self, aluno_id: int) -> None:
        if not self._available():
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                _invalidate(pipe, aluno_id)
                await pipe.execute()
        except redis.RedisError as exc:
            self._trip(exc)

    async def ping(self) -> float:
        """Round trip in milliseconds; raises when Redis does not answer."""
        started = time.perf_counter()
        await self._client.ping()
        self._open_until = 0.0
        return (time.perf_counter() - started) * 1000

    async def close(self) -> None:
        await self._client.aclose()


# One command for a whole batch of members instead of three per member. KEYS come in triples
# per member: its frequency hash, its churn hash, its version.
_INVALIDATE_SCRIPT = """
for i = 1, #KEYS, 3 do
    redis.call('DEL', KEYS[i], KEYS[i + 1])
    redis.call('INCR', KEYS[i + 2])
    redis.call('EXPIRE', KEYS[i + 2], tonumber(ARGV[1]))
end
return #KEYS / 3
"""


def invalidate_members_sync(client: redis.Redis, aluno_ids: set[int]) -> None:
    """Used by the check-in consumer after each committed batch."""
    if not aluno_ids:
        return
    keys = [key for i in aluno_ids for key in (*member_keys(i), version_key(i))]
    client.eval(_INVALIDATE_SCRIPT, len(keys), *keys, VERSION_TTL_SECONDS)
