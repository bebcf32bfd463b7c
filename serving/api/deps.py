"""Dependencies shared by the routers: settings, DB session, publisher, cache and who is asking."""

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from psycopg_pool import PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from serving import vocabulary
from serving.cache import Cache
from serving.config import Settings
from serving.members import DatabaseUnavailable, MemberDirectory
from serving.messaging.publisher import Publisher
from serving.security import InvalidToken, decode_access_token, sha256_hex

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)

# A revoked kiosk key stops working within this many seconds.
KIOSK_KEY_CACHE_SECONDS = 5.0
# Bounds of the kiosk key cache, per API process: valid keys (a gym chain has a few dozen kiosks)
# and invalid ones (anyone can send a random key) are bounded separately.
KIOSK_VALID_KEYS_MAX = 1_000
KIOSK_INVALID_KEYS_MAX = 1_000


# Dependencies are `async def` even when trivial: a plain `def` costs a thread hop per request.
async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


async def get_publisher(request: Request) -> Publisher:
    return request.app.state.publisher


async def get_cache(request: Request) -> Cache:
    return request.app.state.cache


async def get_members(request: Request) -> MemberDirectory:
    return request.app.state.members


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
CacheDep = Annotated[Cache, Depends(get_cache)]
MembersDep = Annotated[MemberDirectory, Depends(get_members)]


@dataclass(frozen=True)
class Principal:
    """Who made the request: a staff user (JWT) or a kiosk (API key)."""

    role: str
    name: str
    user_id: int | None = None
    device_id: int | None = None

    @property
    def is_kiosk(self) -> bool:
        return self.role == "kiosk"


class KioskKeyCache:
    """What the database said about a kiosk key (by its hash): the kiosk's `Principal`, or None
    for an unknown or revoked key; fresh for `ttl` seconds, then asked again.

    Memory is bounded: at most `max_valid` valid and `max_invalid` invalid keys, the entry
    refreshed longest ago leaves first. The two are kept apart so that a flood of random keys
    (each one costs a database lookup, then is rejected from memory while fresh) cannot push
    the real kiosks out. A valid key's entry outlives its `ttl`: while PostgreSQL is down, a key
    known a moment ago keeps the door working."""

    def __init__(
        self,
        ttl: float = KIOSK_KEY_CACHE_SECONDS,
        max_valid: int = KIOSK_VALID_KEYS_MAX,
        max_invalid: int = KIOSK_INVALID_KEYS_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_valid = max_valid
        self.max_invalid = max_invalid
        self._clock = clock
        # key hash -> (fresh until, principal); insertion order = refresh order
        self._valid: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._invalid: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._valid) + len(self._invalid)

    def lookup(self, key_hash: str) -> tuple[bool, bool, Principal | None]:
        """(known, fresh, principal): `known` when the key has an entry, `fresh` when it needs
        no database lookup now."""
        now = self._clock()
        entry = self._valid.get(key_hash)
        if entry is not None:
            return True, entry[0] > now, entry[1]
        until = self._invalid.get(key_hash)
        if until is None:
            return False, False, None
        if until > now:
            return True, True, None
        del self._invalid[key_hash]
        return False, False, None

    def store(self, key_hash: str, principal: Principal | None) -> None:
        until = self._clock() + self.ttl
        if principal is None:
            self._valid.pop(key_hash, None)
            self._put(self._invalid, key_hash, until, self.max_invalid)
        else:
            self._invalid.pop(key_hash, None)
            self._put(self._valid, key_hash, (until, principal), self.max_valid)

    @staticmethod
    def _put(entries: OrderedDict, key_hash: str, value, limit: int) -> None:
        entries[key_hash] = value
        entries.move_to_end(key_hash)
        while len(entries) > limit:
            entries.popitem(last=False)

    def clear(self) -> None:
        self._valid.clear()
        self._invalid.clear()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def _lookup_kiosk(pool, key_hash: str) -> Principal | None:
    async with pool.connection(timeout=2) as conn:
        row = await (
            await conn.execute(
                "update dispositivos set ultimo_uso_em = now() "
                "where chave_hash = %s and revogado_em is null returning id, nome",
                (key_hash,),
            )
        ).fetchone()
    return Principal(role="kiosk", name=row[1], device_id=row[0]) if row else None


async def _kiosk_principal(request: Request, key: str) -> Principal:
    key_hash = sha256_hex(key)
    keys: KioskKeyCache = request.app.state.kiosk_keys
    known, fresh, principal = keys.lookup(key_hash)
    if not fresh:
        try:
            principal = await _lookup_kiosk(request.app.state.pg, key_hash)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if not known:
                raise DatabaseUnavailable(str(exc)) from exc
            # PostgreSQL is down: a key we knew a moment ago keeps the door working.
        else:
            keys.store(key_hash, principal)
    if principal is None:
        raise _unauthorized("invalid or revoked API key")
    return principal


def require(*roles: str, kiosk: bool = False) -> Callable:
    """A dependency that lets through only the given staff roles (and kiosks when `kiosk`)."""

    async def dependency(
        request: Request,
        settings: SettingsDep,
        token: Annotated[str | None, Depends(oauth2_scheme)],
        api_key: Annotated[str | None, Depends(api_key_scheme)],
    ) -> Principal:
        if token:
            try:
                claims = decode_access_token(settings, token)
            except InvalidToken as exc:
                raise _unauthorized("invalid or expired token") from exc
            principal = Principal(role=claims.role, name=claims.username, user_id=claims.user_id)
        elif api_key:
            principal = await _kiosk_principal(request, api_key)
        else:
            raise _unauthorized("not authenticated")
        allowed = principal.role in roles or (kiosk and principal.is_kiosk)
        if not allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail=f"role '{principal.role}' may not do this"
            )
        return principal

    return dependency


AdminDep = Annotated[Principal, Depends(require(vocabulary.ADMIN))]
StaffDep = Annotated[Principal, Depends(require(*vocabulary.ROLES))]
FrontDeskDep = Annotated[Principal, Depends(require(*vocabulary.DESK_ROLES))]
ReaderDep = Annotated[Principal, Depends(require(*vocabulary.READER_ROLES))]
CheckinWriterDep = Annotated[Principal, Depends(require(*vocabulary.DESK_ROLES, kiosk=True))]
