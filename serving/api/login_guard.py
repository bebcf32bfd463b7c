"""Throttling of credential guesses: failed logins per username and per client address, refused
refresh tokens per client address, in a moving window of one minute (the `limits` library).

Only failures count, so a staff member who logs in correctly is never slowed down, and the
dashboard, which logs every user in from its own server's address, is not throttled by its
users' logins. A correct password clears its username's failures. A locked username or address
answers 429 with `Retry-After` (the seconds until its oldest failure leaves the window) before
any database read or password hash.

The counters live in Redis, so every API process shares them. When Redis does not answer, each
process counts in its own memory with half the limits: several processes then each count apart,
and an outage is when an attacker would push hardest. One warning line says so, one info line
says when Redis counts again; Redis is tried again every few seconds, as the cache does.

Usernames are hashed into the keys: a key's size does not depend on what was typed, and Redis
never holds a username. The address is the one the server sees (`request.client`); behind a
reverse proxy, run uvicorn with `--proxy-headers` and the proxy's address in
`--forwarded-allow-ips` so that it is the caller's."""

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import redis.asyncio as aioredis
from fastapi import Depends, Request
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from serving.api.errors import ApiError
from serving.cache import CIRCUIT_OPEN_SECONDS, PREFIX
from serving.config import Settings
from serving.security import sha256_hex

log = logging.getLogger(__name__)

KEY_PREFIX = PREFIX + "limits"
# Without Redis each process counts alone: this share of each limit (at least 1).
IN_PROCESS_SHARE = 0.5
UNKNOWN_ADDRESS = "unknown"

T = TypeVar("T")


class _Limits:
    """The per-username and per-address limits, at their Redis size or their in-process one."""

    def __init__(self, per_user: int, per_address: int) -> None:
        self.login_user = RateLimitItemPerMinute(per_user, namespace="login-user")
        self.address = RateLimitItemPerMinute(per_address, namespace="auth-address")

    @classmethod
    def in_process(cls, settings: Settings) -> "_Limits":
        def share(limit: int) -> int:
            return max(1, math.floor(limit * IN_PROCESS_SHARE))

        return cls(
            share(settings.login_failures_per_user), share(settings.login_failures_per_address)
        )


def _too_many(retry_after: int) -> ApiError:
    return ApiError(
        "muitas_tentativas", segundos=retry_after, headers={"Retry-After": str(retry_after)}
    )


def _username_id(username: str) -> str:
    # Logins ignore the username's case, so its failures do too.
    return sha256_hex(username.lower())


class LoginGuard:
    def __init__(self, settings: Settings, redis_client: aioredis.Redis) -> None:
        # The cache's connection pool: the same short timeouts, no second set of connections.
        shared = RedisStorage(
            "async+" + settings.redis_url,
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix=KEY_PREFIX,
            # limits types its options as scalars; its redis-py bridge hands this one on.
            connection_pool=redis_client.connection_pool,  # type: ignore[arg-type]
        )
        self._shared = MovingWindowRateLimiter(shared)
        self._shared_limits = _Limits(
            settings.login_failures_per_user, settings.login_failures_per_address
        )
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._local_limits = _Limits.in_process(settings)
        self._retry_shared_at = 0.0
        self.degraded = False  # counting in process because Redis did not answer

    async def _run(
        self, operation: Callable[[MovingWindowRateLimiter, _Limits], Awaitable[T]]
    ) -> T:
        if time.monotonic() >= self._retry_shared_at:
            try:
                result = await operation(self._shared, self._shared_limits)
            except StorageError as exc:
                self._retry_shared_at = time.monotonic() + CIRCUIT_OPEN_SECONDS
                if not self.degraded:
                    self.degraded = True
                    log.warning(
                        "redis unavailable, login limits counted in process (stricter): %s",
                        type(exc.storage_error).__name__,
                    )
            else:
                if self.degraded:
                    self.degraded = False
                    log.info("redis available again, login limits counted in redis")
                return result
        return await operation(self._local, self._local_limits)

    async def _refuse_when_spent(
        self, pairs: Callable[[_Limits], list[tuple[RateLimitItem, str]]]
    ) -> None:
        async def wait_seconds(limiter: MovingWindowRateLimiter, limits: _Limits) -> int:
            waits = [0]
            for item, identifier in pairs(limits):
                stats = await limiter.get_window_stats(item, identifier)
                if stats.remaining <= 0:  # free again when its oldest failure leaves the window
                    waits.append(max(1, math.ceil(stats.reset_time - time.time())))
            return max(waits)

        if retry_after := await self._run(wait_seconds):
            raise _too_many(retry_after)

    async def _count(self, pairs: Callable[[_Limits], list[tuple[RateLimitItem, str]]]) -> None:
        async def hit(limiter: MovingWindowRateLimiter, limits: _Limits) -> None:
            for item, identifier in pairs(limits):
                await limiter.hit(item, identifier)

        await self._run(hit)

    async def check_login(self, username: str, address: str) -> None:
        """429 when this username or this address has no failed attempt left."""
        user = _username_id(username)
        await self._refuse_when_spent(
            lambda limits: [(limits.login_user, user), (limits.address, address)]
        )

    async def login_failed(self, username: str, address: str) -> None:
        user = _username_id(username)
        await self._count(lambda limits: [(limits.login_user, user), (limits.address, address)])

    async def login_succeeded(self, username: str) -> None:
        user = _username_id(username)

        async def clear(limiter: MovingWindowRateLimiter, limits: _Limits) -> None:
            await limiter.clear(limits.login_user, user)

        await self._run(clear)

    async def check_refresh(self, address: str) -> None:
        """429 when this address has no failed attempt left."""
        await self._refuse_when_spent(lambda limits: [(limits.address, address)])

    async def refresh_failed(self, address: str) -> None:
        await self._count(lambda limits: [(limits.address, address)])


def client_address(request: Request) -> str:
    return request.client.host if request.client else UNKNOWN_ADDRESS


async def get_login_guard(request: Request) -> LoginGuard:
    return request.app.state.login_guard


LoginGuardDep = Annotated[LoginGuard, Depends(get_login_guard)]
