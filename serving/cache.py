"""Redis cache with a short fuse: when Redis is down, callers get a miss at once and read
PostgreSQL, and `/status` reports the cache as degraded.

Answers live in one hash per member and kind (`gp:freq:<id>` with one field per query,
`gp:churn:<id>`), so a new check-in invalidates everything cached about that member with a
single DEL and no KEYS scan. A per-member version refuses answers computed before a change;
answers about scores are also filed under the score generation, which a new batch bumps once.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any, cast

import orjson
import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)

PREFIX = "gp:"
STATS_KEY = PREFIX + "stats"
# Bumped once after each batch of scores is committed. A member's churn answers are cached under
# the generation read before they were computed (`latest@7`), and looked up under the current
# one: one INCR retires every answer of the batches before (they age out with their TTL),
# instead of the batch writing an entry per member. An answer read from PostgreSQL before the
# commit is cached under the old generation, so it is never served after the bump.
SCORE_GENERATION_KEY = PREFIX + "scores:geracao"
# After a failure, skip Redis for this long instead of paying a timeout on every request.
CIRCUIT_OPEN_SECONDS = 5.0


def frequency_key(aluno_id: int) -> str:
    return f"{PREFIX}freq:{aluno_id}"


def churn_key(aluno_id: int) -> str:
    return f"{PREFIX}churn:{aluno_id}"


def generation_field(field: str, generation: bytes | str | None) -> str:
    """Where an answer about scores lives in the member's churn hash: under its generation."""
    if isinstance(generation, bytes):
        generation = generation.decode()
    return f"{field}@{generation or 0}"


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


# KEYS: the churn hash, the member's version, the score generation, the stats hash. ARGV: the
# field, the kind of answer (for the hit/miss counts). One round trip for what the route needs.
_READ_SCORE_SCRIPT = """
local generation = redis.call('GET', KEYS[3]) or '0'
local field = ARGV[1] .. '@' .. generation
local value = redis.call('HGET', KEYS[1], field)
redis.call('HINCRBY', KEYS[4], (value and 'hits:' or 'misses:') .. ARGV[2], 1)
return {field, value, redis.call('GET', KEYS[2])}
"""


@dataclass(frozen=True)
class ScoreRead:
    """A lookup of a cached answer about a member's scores."""

    value: Any | None  # the cached answer; None on a miss
    field: str  # where an answer computed now is cached: under the generation just read
    seen: bytes | None  # the member's version, for `set_field` / `replace_hash`


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
        self._read_score = self._client.register_script(_READ_SCORE_SCRIPT)

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

    async def read_score(self, aluno_id: int, field: str, kind: str) -> ScoreRead:
        """A member's cached answer about scores, under the current generation; on a miss, where
        and with which version to cache the answer PostgreSQL gives."""
        if not self._available():
            return ScoreRead(None, field, None)
        try:
            found_in, raw, seen = await self._read_score(
                keys=[churn_key(aluno_id), version_key(aluno_id), SCORE_GENERATION_KEY, STATS_KEY],
                args=[field, kind],
            )
        except redis.RedisError as exc:
            self._trip(exc)
            return ScoreRead(None, field, None)
        return ScoreRead(loads(raw) if raw else None, found_in.decode(), seen)

    async def keep_score(
        self, aluno_id: int, read: ScoreRead, value: Any, ttl: int, *, new_score: bool = False
    ) -> None:
        """Cache an answer about the member's scores where `read` says, unless the member changed
        since; after a new score (made on demand), the hash holds only this answer."""
        write = self.replace_hash if new_score else self.set_field
        await write(churn_key(aluno_id), read.field, value, ttl, aluno_id=aluno_id, seen=read.seen)

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


def retire_cached_scores(client: redis.Redis) -> int:
    """After a batch of scores is committed: no churn answer cached before it is served again.
    Returns the new generation."""
    return int(client.incr(SCORE_GENERATION_KEY))
