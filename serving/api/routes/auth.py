import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from serving import audit
from serving.api import errors
from serving.api.deps import AdminDep, SessionDep, SettingsDep
from serving.api.errors import ApiError
from serving.api.login_guard import LoginGuardDep, client_address
from serving.api.password_hashing import PasswordHashingDep
from serving.api.schemas import (
    RefreshRequest,
    TokenPair,
    UsuarioCreate,
    UsuarioPublic,
    UsuarioUpdate,
)
from serving.config import Settings
from serving.db.tables import RefreshToken, Usuario
from serving.security import (
    create_access_token,
    hash_password,
    new_refresh_token,
    sha256_hex,
)
from serving.vocabulary import ADMIN, USER_CHANGED, USER_CREATED

router = APIRouter(prefix="/auth", tags=["auth"])

# Verifying a wrong username still costs one argon2 check, so timing does not reveal users.
_DUMMY_HASH = hash_password("not-a-real-password")

THROTTLED = (
    "Too many failed attempts from this client address (or, for a login, for this username) in "
    "the last minute (`muitas_tentativas`)"
)
HASHING_BUSY = (
    "Too many password checks at once (`senhas_em_excesso`), or PostgreSQL unavailable or busy"
)


async def _issue(
    session: AsyncSession,
    settings: Settings,
    *,
    user_id: int,
    username: str,
    role: str,
    family: uuid.UUID | None = None,
) -> TokenPair:
    refresh = new_refresh_token()
    session.add(
        RefreshToken(
            usuario_id=user_id,
            token_hash=sha256_hex(refresh),
            familia=family or uuid.uuid4(),
            expira_em=datetime.now(UTC) + timedelta(days=settings.refresh_token_days),
        )
    )
    await session.commit()
    return TokenPair(
        access_token=create_access_token(settings, user_id=user_id, username=username, role=role),
        refresh_token=refresh,
        expires_in=settings.access_token_minutes * 60,
        role=role,
    )


@router.post(
    "/token",
    response_model=TokenPair,
    responses=errors.responses(
        *errors.PUBLIC,
        401,
        429,
        s401="Wrong username or password (`credenciais_invalidas`)",
        s429=THROTTLED,
        s503=HASHING_BUSY,
    ),
)
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    guard: LoginGuardDep,
    hashing: PasswordHashingDep,
) -> TokenPair:
    """Exchange username and password (OAuth2 form) for an access and a refresh token.
    Failed attempts are limited per username and per client address (429)."""
    address = client_address(request)
    await guard.check_login(form.username, address)
    user = None
    if "\x00" not in form.username:  # PostgreSQL cannot even compare it: no such user
        user = (
            await session.execute(
                select(
                    Usuario.id, Usuario.username, Usuario.role, Usuario.ativo, Usuario.senha_hash
                ).where(func.lower(Usuario.username) == form.username.lower())
            )
        ).one_or_none()
    # Ends the read: its connection goes back to the pool while the password is checked.
    await session.rollback()
    valid = await hashing.verify(
        user.senha_hash if user else _DUMMY_HASH,
        form.password,
        # Checked again once the hash is ours: of a burst that queued together, only the
        # attempts still within the limits cost a hash.
        admit=lambda: guard.check_login(form.username, address),
    )
    if user is None or not valid or not user.ativo:
        await guard.login_failed(form.username, address)
        raise ApiError("credenciais_invalidas", headers={"WWW-Authenticate": "Bearer"})
    await guard.login_succeeded(form.username)
    return await _issue(session, settings, user_id=user.id, username=user.username, role=user.role)


class _Refused(Exception):
    """The refresh token is unknown, expired, revoked or reused, or its user cannot log in."""


async def _rotate(session: AsyncSession, settings: Settings, presented: str) -> TokenPair:
    now = datetime.now(UTC)
    token = (
        await session.execute(
            select(RefreshToken)
            .where(RefreshToken.token_hash == sha256_hex(presented))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if token is None:
        raise _Refused
    grace = timedelta(seconds=settings.refresh_reuse_grace_seconds)
    # A token rotated a moment ago is a second tab or a retry, not a thief: it gets a pair too.
    replayed = token.usado_em is not None and now - token.usado_em > grace
    if replayed or token.revogado_em is not None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.familia == token.familia, RefreshToken.revogado_em.is_(None))
            .values(revogado_em=now)
        )
        await session.commit()
        raise _Refused
    if token.expira_em <= now:
        raise _Refused
    user = await session.get(Usuario, token.usuario_id)
    if user is None or not user.ativo:
        raise _Refused
    if token.usado_em is None:
        token.usado_em = now
    return await _issue(
        session,
        settings,
        user_id=user.id,
        username=user.username,
        role=user.role,
        family=token.familia,
    )


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=errors.responses(
        *errors.PUBLIC,
        401,
        429,
        s401="Unknown, expired or reused token (`refresh_token_invalido`)",
        s429=THROTTLED,
    ),
)
async def refresh(
    request: Request,
    body: RefreshRequest,
    session: SessionDep,
    settings: SettingsDep,
    guard: LoginGuardDep,
) -> TokenPair:
    """Rotate a refresh token: the old one stops working. Presenting a used token again
    revokes its whole family (it was probably stolen), unless it was rotated less than
    `refresh_reuse_grace_seconds` ago (two tabs refreshing at once): then it gets a new pair
    too. Refused tokens are limited per client address (429)."""
    address = client_address(request)
    await guard.check_refresh(address)
    try:
        return await _rotate(session, settings, body.refresh_token)
    except _Refused:
        await guard.refresh_failed(address)
        raise ApiError("refresh_token_invalido", headers={"WWW-Authenticate": "Bearer"}) from None


@router.get(
    "/usuarios",
    response_model=list[UsuarioPublic],
    responses=errors.responses(*errors.AUTHENTICATED),
)
async def list_users(session: SessionDep, _: AdminDep) -> list[Usuario]:
    """All staff users (admin)."""
    return list((await session.execute(select(Usuario).order_by(Usuario.id))).scalars())


@router.post(
    "/usuarios",
    response_model=UsuarioPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(
        *errors.AUTHENTICATED,
        409,
        s409="Username already taken (`usuario_ja_existe`)",
        s503=HASHING_BUSY,
    ),
)
async def create_user(
    body: UsuarioCreate, session: SessionDep, hashing: PasswordHashingDep, admin: AdminDep
) -> Usuario:
    """Create a staff user with a role (admin)."""
    # Hashed before the session's first query, so no connection is held while it runs.
    password_hash = await hashing.hash(body.password)
    exists = await session.scalar(
        select(func.count()).where(func.lower(Usuario.username) == body.username.lower())
    )
    if exists:
        raise ApiError("usuario_ja_existe")
    user = Usuario(
        username=body.username,
        email=str(body.email) if body.email else None,
        nome=body.nome,
        role=body.role,
        senha_hash=password_hash,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ApiError("usuario_ja_existe") from exc
    audit.record(
        session,
        admin,
        USER_CREATED,
        audit.target("usuario", user.id),
        audit.given(
            {"username": user.username, "role": user.role, "nome": user.nome, "email": user.email},
            audit.USER_PERSONAL,
        ),
    )
    await session.commit()
    await session.refresh(user)
    return user


@router.patch(
    "/usuarios/{usuario_id}",
    response_model=UsuarioPublic,
    responses=errors.responses(
        *errors.AUTHENTICATED,
        404,
        409,
        s404="No such user (`usuario_nao_encontrado`)",
        s409="An admin may not disable or demote itself (`alteracao_de_si_mesmo`)",
    ),
)
async def update_user(
    usuario_id: Annotated[int, Path(gt=0, le=2**31 - 1)],
    body: UsuarioUpdate,
    session: SessionDep,
    admin: AdminDep,
) -> Usuario:
    """Change a user's role, name, e-mail or disable it (admin). Disabling also revokes its
    refresh tokens; an admin cannot disable or demote themself."""
    user = await session.get(Usuario, usuario_id)
    if user is None:
        raise ApiError("usuario_nao_encontrado")
    changes = body.model_dump(exclude_unset=True)
    before = {field: getattr(user, field) for field in changes}
    if user.id == admin.user_id and (
        changes.get("ativo") is False or changes.get("role", ADMIN) != ADMIN
    ):
        raise ApiError("alteracao_de_si_mesmo")
    for field, value in changes.items():
        setattr(user, field, str(value) if field == "email" and value else value)
    if changes.get("ativo") is False:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.usuario_id == user.id, RefreshToken.revogado_em.is_(None))
            .values(revogado_em=func.now())
        )
    audit.record(
        session,
        admin,
        USER_CHANGED,
        audit.target("usuario", user.id),
        audit.changes(before, {f: getattr(user, f) for f in changes}, audit.USER_PERSONAL),
    )
    await session.commit()
    await session.refresh(user)
    return user
