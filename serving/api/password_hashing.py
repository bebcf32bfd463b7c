"""Password hashes (argon2id, serving/security.py) computed a few at a time.

Each hash or check takes 64 MiB and tens of milliseconds of a core. Run as they come, 60
parallel logins ran 40 at once in the server's thread pool (2.1 GB) and left no thread for
other requests. Here at most `password_hash_slots` run at once per process (memory stays under
slots × 64 MiB, and the thread pool keeps the rest of its threads for the other routes); a
request that gets no slot within `password_hash_wait_seconds` answers 503 with `Retry-After`.
503, not 429: the server is busy, the caller did nothing wrong (its quota is login_guard's).

A caller holds no database connection while it waits or hashes: with 20 connections in the
pool, a login flood would otherwise take them all from the other staff requests."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from serving.api.errors import ApiError
from serving.config import Settings
from serving.security import hash_password, verify_password

BUSY_RETRY_AFTER_SECONDS = 2


class PasswordHashing:
    def __init__(self, settings: Settings) -> None:
        self._slots = asyncio.Semaphore(settings.password_hash_slots)
        self._wait_seconds = settings.password_hash_wait_seconds

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the slots (503 when none frees up in time)."""
        try:
            async with asyncio.timeout(self._wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise ApiError(
                "senhas_em_excesso", headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)}
            ) from None
        try:
            yield
        finally:
            self._slots.release()

    async def verify(
        self,
        password_hash: str,
        password: str,
        *,
        admit: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """`admit` runs once a slot is held, just before the check, and may refuse (raise):
        of the requests that queued together, only those still within their limits then hash."""
        async with self.slot():
            if admit is not None:
                await admit()
            return await run_in_threadpool(verify_password, password_hash, password)

    async def hash(self, password: str) -> str:
        async with self.slot():
            return await run_in_threadpool(hash_password, password)


async def get_password_hashing(request: Request) -> PasswordHashing:
    return request.app.state.password_hashing


PasswordHashingDep = Annotated[PasswordHashing, Depends(get_password_hashing)]
