import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from serving.api.deps import AdminDep, SessionDep, SettingsDep
from serving.api.schemas import (
    Message,
    RefreshRequest,
    TokenPair,
    UsuarioCreate,
    UsuarioPublic,
    UsuarioUpdate,
)
from serving.db.tables import RefreshToken, Usuario
from serving.security import (
    create_access_token,
    hash_password,
    new_refresh_token,
    sha256_hex,
    verify_password,
)
from serving.vocabulary import ADMIN

router = APIRouter(prefix="/auth", tags=["auth"])

# Verifying a wrong username still costs one argon2 check, so timing does not reveal users.
_DUMMY_HASH = hash_password("not-a-real-password")


async def _issue(session, settings, user: Usuario, family: uuid.UUID | None = None) -> TokenPair:
    refresh = new_refresh_token()
    session.add(
        RefreshToken(
            usuario_id=user.id,
            token_hash=sha256_hex(refresh),
            familia=family or uuid.uuid4(),
            expira_em=datetime.now(UTC) + timedelta(days=settings.refresh_token_days),
        )
    )
    await session.commit()
    return TokenPair(
        access_token=create_access_token(
            settings, user_id=user.id, username=user.username, role=user.role
        ),
        refresh_token=refresh,
        expires_in=settings.access_token_minutes * 60,
        role=user.role,
    )


@router.post(
    "/token",
    response_model=TokenPair,
    responses={401: {"model": Message, "description": "Wrong username or password"}},
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenPair:
    """Exchange username and password (OAuth2 form) for an access and a refresh token."""
    user = None
    if "\x00" not in form.username:  # PostgreSQL cannot even compare it: no such user
        user = (
            await session.execute(
                select(Usuario).where(func.lower(Usuario.username) == form.username.lower())
            )
        ).scalar_one_or_none()
    valid = await run_in_threadpool(
        verify_password, user.senha_hash if user else _DUMMY_HASH, form.password
    )
    if user is None or not valid or not user.ativo:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return await _issue(session, settings, user)


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses={401: {"model": Message, "description": "Unknown, expired or reused token"}},
)
async def refresh(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> TokenPair:
    """Rotate a refresh token: the old one stops working. Presenting a used token again
    revokes its whole family (it was probably stolen)."""
    now = datetime.now(UTC)
    token = (
        await session.execute(
            select(RefreshToken)
            .where(RefreshToken.token_hash == sha256_hex(body.refresh_token))
            .with_for_update()
        )
    ).scalar_one_or_none()
    denied = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="invalid or expired refresh token",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if token is None:
        raise denied
    if token.usado_em is not None or token.revogado_em is not None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.familia == token.familia, RefreshToken.revogado_em.is_(None))
            .values(revogado_em=now)
        )
        await session.commit()
        raise denied
    if token.expira_em <= now:
        raise denied
    user = await session.get(Usuario, token.usuario_id)
    if user is None or not user.ativo:
        raise denied
    token.usado_em = now
    return await _issue(session, settings, user, family=token.familia)


@router.get("/usuarios", response_model=list[UsuarioPublic])
async def list_users(session: SessionDep, _: AdminDep) -> list[Usuario]:
    """All staff users (admin)."""
    return list((await session.execute(select(Usuario).order_by(Usuario.id))).scalars())


@router.post(
    "/usuarios",
    response_model=UsuarioPublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": Message, "description": "Username already taken"}},
)
async def create_user(body: UsuarioCreate, session: SessionDep, _: AdminDep) -> Usuario:
    """Create a staff user with a role (admin)."""
    exists = await session.scalar(
        select(func.count()).where(func.lower(Usuario.username) == body.username.lower())
    )
    if exists:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="username already taken")
    user = Usuario(
        username=body.username,
        email=str(body.email) if body.email else None,
        nome=body.nome,
        role=body.role,
        senha_hash=await run_in_threadpool(hash_password, body.password),
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="username already taken") from exc
    await session.refresh(user)
    return user


@router.patch(
    "/usuarios/{usuario_id}",
    response_model=UsuarioPublic,
    responses={404: {"model": Message}, 409: {"model": Message}},
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
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="user not found")
    changes = body.model_dump(exclude_unset=True)
    if user.id == admin.user_id and (
        changes.get("ativo") is False or changes.get("role", ADMIN) != ADMIN
    ):
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="you cannot disable or demote yourself"
        )
    for field, value in changes.items():
        setattr(user, field, str(value) if field == "email" and value else value)
    if changes.get("ativo") is False:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.usuario_id == user.id, RefreshToken.revogado_em.is_(None))
            .values(revogado_em=func.now())
        )
    await session.commit()
    await session.refresh(user)
    return user
