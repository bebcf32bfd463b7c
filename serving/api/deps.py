"""Dependencies shared by the routers: settings, DB session, publisher, cache and who is asking."""

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from psycopg_pool import PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from serving.cache import Cache
from serving.config import Settings
from serving.members import DatabaseUnavailable, MemberDirectory
from serving.messaging.publisher import Publisher
from serving.security import InvalidToken, decode_access_token, sha256_hex

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)

# A revoked kiosk key stops working within this many seconds.
KIOSK_KEY_CACHE_SECONDS = 5.0


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
    known: dict[str, tuple[float, Principal | None]] = request.app.state.kiosk_keys
    cached = known.get(key_hash)
    now = time.monotonic()
    if cached and cached[0] > now:
        principal = cached[1]
    else:
        try:
            principal = await _lookup_kiosk(request.app.state.pg, key_hash)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if cached is None:
                raise DatabaseUnavailable(str(exc)) from exc
            # PostgreSQL is down: a key we knew a moment ago keeps the door working.
            principal = cached[1]
        else:
            known[key_hash] = (now + KIOSK_KEY_CACHE_SECONDS, principal)
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


ADMIN = ("admin",)
STAFF = ("admin", "analista", "recepcao")
FRONT_DESK = ("admin", "recepcao")
READERS = ("admin", "analista")

AdminDep = Annotated[Principal, Depends(require(*ADMIN))]
StaffDep = Annotated[Principal, Depends(require(*STAFF))]
FrontDeskDep = Annotated[Principal, Depends(require(*FRONT_DESK))]
ReaderDep = Annotated[Principal, Depends(require(*READERS))]
CheckinWriterDep = Annotated[Principal, Depends(require(*FRONT_DESK, kiosk=True))]
