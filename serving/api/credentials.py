"""Who is asking: a staff user behind a valid token, or a kiosk behind a valid key. Both are
checked against PostgreSQL (through a short-lived in-process cache), so a disabled or demoted
user, a user that does not exist and a revoked key lose their rights within seconds, and the
kiosk path costs a database round trip only once per key per few seconds."""

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from serving.members import DatabaseUnavailable
from serving.vocabulary import KIOSK

# How long a credential's check is reused: a revoked key, a disabled or demoted user stop
# working within this many seconds.
CREDENTIAL_CACHE_SECONDS = 5.0
# Bounds per API process: valid credentials (a gym chain has a few dozen kiosks and staff) and
# invalid ones (anyone can send a random key) are bounded separately.
VALID_CREDENTIALS_MAX = 1_000
INVALID_CREDENTIALS_MAX = 1_000


@dataclass(frozen=True)
class Principal:
    """Who made the request: a staff user (JWT) or a kiosk (API key)."""

    role: str
    name: str
    user_id: int | None = None
    device_id: int | None = None

    @property
    def is_kiosk(self) -> bool:
        return self.role == KIOSK


class CredentialCache:
    """What the database said about a credential (a kiosk key's hash, a user id): its
    `Principal`, or None when it is unknown, revoked or disabled; fresh for `ttl` seconds, then
    asked again.

    Memory is bounded: at most `max_valid` valid and `max_invalid` invalid entries, the entry
    refreshed longest ago leaves first. The two are kept apart so that a flood of random keys
    (each one costs a database lookup, then is rejected from memory while fresh) cannot push
    the real kiosks out. A valid entry outlives its `ttl`: while PostgreSQL is down, a
    credential known a moment ago keeps the door working."""

    def __init__(
        self,
        ttl: float = CREDENTIAL_CACHE_SECONDS,
        max_valid: int = VALID_CREDENTIALS_MAX,
        max_invalid: int = INVALID_CREDENTIALS_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_valid = max_valid
        self.max_invalid = max_invalid
        self._clock = clock
        # credential -> (fresh until, principal); insertion order = refresh order
        self._valid: OrderedDict[Hashable, tuple[float, Principal]] = OrderedDict()
        self._invalid: OrderedDict[Hashable, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._valid) + len(self._invalid)

    def lookup(self, credential: Hashable) -> tuple[bool, bool, Principal | None]:
        """(known, fresh, principal): `known` when the credential has an entry, `fresh` when it
        needs no database lookup now."""
        now = self._clock()
        entry = self._valid.get(credential)
        if entry is not None:
            return True, entry[0] > now, entry[1]
        until = self._invalid.get(credential)
        if until is None:
            return False, False, None
        if until > now:
            return True, True, None
        del self._invalid[credential]
        return False, False, None

    def store(self, credential: Hashable, principal: Principal | None) -> None:
        until = self._clock() + self.ttl
        if principal is None:
            self._valid.pop(credential, None)
            self._put(self._invalid, credential, until, self.max_invalid)
        else:
            self._invalid.pop(credential, None)
            self._put(self._valid, credential, (until, principal), self.max_valid)

    @staticmethod
    def _put(entries: OrderedDict, credential: Hashable, value, limit: int) -> None:
        entries[credential] = value
        entries.move_to_end(credential)
        while len(entries) > limit:
            entries.popitem(last=False)

    def clear(self) -> None:
        self._valid.clear()
        self._invalid.clear()


async def lookup_kiosk(pool: AsyncConnectionPool, key_hash: str) -> Principal | None:
    # A read first: a random key costs no write. The last-use time is written only for a real
    # kiosk, and at most once per cache period.
    async with pool.connection(timeout=2) as conn:
        row = await (
            await conn.execute(
                "select id, nome from dispositivos where chave_hash = %s and revogado_em is null",
                (key_hash,),
            )
        ).fetchone()
        if row is None:
            return None
        await conn.execute("update dispositivos set ultimo_uso_em = now() where id = %s", (row[0],))
    return Principal(role=KIOSK, name=row[1], device_id=row[0])


async def lookup_staff(pool: AsyncConnectionPool, user_id: int) -> Principal | None:
    """The user as stored now: its current role, None when it is missing or disabled."""
    async with pool.connection(timeout=2) as conn:
        row = await (
            await conn.execute(
                "select username, role from usuarios where id = %s and ativo", (user_id,)
            )
        ).fetchone()
    return Principal(role=row[1], name=row[0], user_id=user_id) if row else None


async def checked(
    cache: CredentialCache,
    credential: Hashable,
    lookup: Callable[[], Awaitable[Principal | None]],
) -> Principal | None:
    """The credential's principal from the cache, or from PostgreSQL when the entry is stale.
    With PostgreSQL down, a credential known a moment ago stays valid; an unknown one cannot
    be checked (503)."""
    known, fresh, principal = cache.lookup(credential)
    if fresh:
        return principal
    try:
        principal = await lookup()
    except (psycopg.OperationalError, PoolTimeout) as exc:
        if not known:
            raise DatabaseUnavailable(str(exc)) from exc
        return principal
    cache.store(credential, principal)
    return principal
