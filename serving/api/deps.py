"""Dependencies shared by the routers: settings, DB session, publisher, cache and who is asking."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from serving import vocabulary
from serving.api.credentials import Principal, checked, lookup_kiosk, lookup_staff
from serving.api.errors import ApiError
from serving.cache import Cache
from serving.config import Settings
from serving.members import MemberDirectory
from serving.messaging.publisher import Publisher
from serving.security import InvalidToken, decode_access_token, sha256_hex

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)

__all__ = ["Principal"]  # the routes name who is asking through this module


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


def _unauthorized(codigo: str) -> ApiError:
    return ApiError(codigo, headers={"WWW-Authenticate": "Bearer"})


async def _kiosk_principal(request: Request, key: str) -> Principal:
    key_hash = sha256_hex(key)
    pool = request.app.state.pg
    principal = await checked(
        request.app.state.kiosk_keys, key_hash, lambda: lookup_kiosk(pool, key_hash)
    )
    if principal is None:
        raise _unauthorized("chave_invalida")
    return principal


async def _staff_principal(request: Request, settings: Settings, token: str) -> Principal:
    """The token's user as stored now: a valid signature is not enough, the user must exist and
    be active, and it acts with its current role (a demotion applies within seconds)."""
    try:
        claims = decode_access_token(settings, token)
    except InvalidToken as exc:
        raise _unauthorized("token_invalido") from exc
    pool = request.app.state.pg
    principal = await checked(
        request.app.state.staff_accounts, claims.user_id, lambda: lookup_staff(pool, claims.user_id)
    )
    if principal is None or principal.name != claims.username:
        raise _unauthorized("token_invalido")
    return principal


async def authenticate(
    request: Request, settings: Settings, token: str | None, api_key: str | None
) -> Principal:
    """The caller named by a Bearer token or a kiosk key, checked (signature, user active, key
    not revoked); an ApiError 401 otherwise."""
    if token:
        return await _staff_principal(request, settings, token)
    if api_key:
        return await _kiosk_principal(request, api_key)
    raise _unauthorized("nao_autenticado")


def _allowed(principal: Principal, roles: tuple[str, ...], kiosk: bool) -> Principal:
    if principal.role in roles or (kiosk and principal.is_kiosk):
        return principal
    raise ApiError("sem_permissao", perfil=principal.role)


def require(*roles: str, kiosk: bool = False) -> Callable:
    """A dependency that lets through only the given staff roles (and kiosks when `kiosk`).

    OpenAPI declares what a route takes: the Bearer token, and the kiosk key only where kiosks
    may call (a documented scheme that can never succeed would be a false promise). A kiosk key
    sent to a staff route is still read, so the kiosk is told 403 (its role), not 401."""

    if kiosk:

        async def staff_or_kiosk(
            request: Request,
            settings: SettingsDep,
            token: Annotated[str | None, Depends(oauth2_scheme)],
            api_key: Annotated[str | None, Depends(api_key_scheme)],
        ) -> Principal:
            principal = await authenticate(request, settings, token, api_key)
            return _allowed(principal, roles, kiosk)

        return staff_or_kiosk

    async def staff(
        request: Request,
        settings: SettingsDep,
        token: Annotated[str | None, Depends(oauth2_scheme)],
    ) -> Principal:
        api_key = None if token else request.headers.get(api_key_scheme.model.name)
        principal = await authenticate(request, settings, token, api_key)
        return _allowed(principal, roles, kiosk)

    return staff


AdminDep = Annotated[Principal, Depends(require(vocabulary.ADMIN))]
StaffDep = Annotated[Principal, Depends(require(*vocabulary.ROLES))]
FrontDeskDep = Annotated[Principal, Depends(require(*vocabulary.DESK_ROLES))]
ReaderDep = Annotated[Principal, Depends(require(*vocabulary.READER_ROLES))]
CheckinWriterDep = Annotated[Principal, Depends(require(*vocabulary.DESK_ROLES, kiosk=True))]
