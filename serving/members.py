"""Which members exist and are active, kept in each API process so a check-in needs no database
round trip.

- Loaded in full at startup (a gym chain's members fit in a few MB).
- A status change made through the API is applied locally and announced on the Redis channel
  `gp:alunos`; every API process listens and drops its copy at once.
- Every few seconds a delta query (`atualizado_em` moved) catches changes made elsewhere (the
  import, another process while Redis was down): that interval bounds staleness without Redis.
- A member not in the directory (registered a moment ago) is looked up in PostgreSQL.
"""

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

import redis
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

CHANNEL = "gp:alunos"
REFRESH_SECONDS = 5.0
# Rows updated this close to the last refresh are read again: commit times are not ordered.
REFRESH_OVERLAP = timedelta(seconds=30)


class DatabaseUnavailable(Exception):
    pass


class MemberDirectory:
    def __init__(self, pool: AsyncConnectionPool, redis_url: str, redis_client) -> None:
        self._pool = pool
        self._redis = redis_client
        # Listening blocks on reads, so it gets its own client without the cache's short timeout.
        self._listener = aioredis.Redis.from_url(
            redis_url, socket_connect_timeout=1, health_check_interval=30
        )
        self._active: dict[int, bool] = {}
        self._since: datetime | None = None
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        try:
            await self.refresh()
        except DatabaseUnavailable:
            log.warning("member directory empty at startup: PostgreSQL unavailable")
        self._tasks = [
            asyncio.create_task(self._refresh_forever()),
            asyncio.create_task(self._listen_forever()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._listener.aclose()

    async def refresh(self) -> int:
        """Read members changed since the last refresh (all of them the first time)."""
        query = "select id, ativo, atualizado_em from alunos"
        params: tuple = ()
        if self._since is not None:
            query += " where atualizado_em >= %s"
            params = (self._since - REFRESH_OVERLAP,)
        try:
            async with self._pool.connection(timeout=2) as conn:
                rows = await (await conn.execute(query, params)).fetchall()
        except Exception as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        for aluno_id, ativo, updated in rows:
            self._active[aluno_id] = ativo
            if self._since is None or updated > self._since:
                self._since = updated
        if self._since is None:
            self._since = datetime.now().astimezone()
        return len(rows)

    async def states(self, ids: set[int]) -> dict[int, bool]:
        """Active flag of each known member among `ids`; unknown ids are left out."""
        missing = [i for i in ids if i not in self._active]
        if missing:
            try:
                async with self._pool.connection(timeout=2) as conn:
                    cursor = await conn.execute(
                        "select id, ativo from alunos where id = any(%s)", (missing,)
                    )
                    for aluno_id, ativo in await cursor.fetchall():
                        self._active[aluno_id] = ativo
            except Exception as exc:
                raise DatabaseUnavailable(str(exc)) from exc
        return {i: self._active[i] for i in ids if i in self._active}

    def forget(self, aluno_id: int) -> None:
        self._active.pop(aluno_id, None)

    async def announce(self, aluno_id: int) -> None:
        """After a committed change: drop the local copy and tell the other processes."""
        self.forget(aluno_id)
        try:
            await self._redis.publish(CHANNEL, str(aluno_id))
        except redis.RedisError as exc:
            log.warning(
                "could not announce member %s change (%s); others catch up by refresh",
                aluno_id,
                exc,
            )

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.refresh()
            except DatabaseUnavailable as exc:
                log.debug("member refresh skipped: %s", exc)

    async def _listen_forever(self) -> None:
        while True:
            try:
                async with self._listener.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self.forget(int(message["data"]))
            except (redis.RedisError, OSError, ValueError) as exc:
                log.debug("member channel lost (%s); retrying", exc)
                await asyncio.sleep(REFRESH_SECONDS)
