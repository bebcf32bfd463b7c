from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from serving import audit
from serving.api import errors
from serving.api.deps import AdminDep, SessionDep, StaffDep
from serving.api.errors import ApiError
from serving.api.schemas import PlanoCreate, PlanoPublic, PlanoUpdate
from serving.db.tables import Plano
from serving.vocabulary import PLAN_CHANGED, PLAN_CREATED

NOT_FOUND = "No such plan (`plano_nao_encontrado`)"
NAME_TAKEN = "A plan with this name exists (`plano_ja_existe`)"

router = APIRouter(prefix="/planos", tags=["planos"])
PlanoId = Annotated[int, Path(gt=0, le=2**31 - 1)]


async def _name_taken(session, nome: str, except_id: int | None = None) -> bool:
    query = select(func.count()).where(func.lower(Plano.nome) == nome.lower())
    if except_id is not None:
        query = query.where(Plano.id != except_id)
    return bool(await session.scalar(query))


@router.get("", response_model=list[PlanoPublic], responses=errors.responses(*errors.AUTHENTICATED))
async def list_plans(session: SessionDep, _: StaffDep, incluir_inativos: bool = False) -> list:
    """Plans offered by the gym (any staff role)."""
    query = select(Plano).order_by(Plano.id)
    if not incluir_inativos:
        query = query.where(Plano.ativo)
    return list((await session.execute(query)).scalars())


@router.get(
    "/{plano_id}",
    response_model=PlanoPublic,
    responses=errors.responses(*errors.AUTHENTICATED, 404, s404=NOT_FOUND),
)
async def get_plan(plano_id: PlanoId, session: SessionDep, _: StaffDep) -> Plano:
    plano = await session.get(Plano, plano_id)
    if plano is None:
        raise ApiError("plano_nao_encontrado")
    return plano


@router.post(
    "",
    response_model=PlanoPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(*errors.AUTHENTICATED, 409, s409=NAME_TAKEN),
)
async def create_plan(body: PlanoCreate, session: SessionDep, admin: AdminDep) -> Plano:
    """Create a plan (admin)."""
    if await _name_taken(session, body.nome):
        raise ApiError("plano_ja_existe")
    plano = Plano(**body.model_dump())
    session.add(plano)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ApiError("plano_ja_existe") from exc
    audit.record(
        session,
        admin,
        PLAN_CREATED,
        audit.target("plano", plano.id),
        audit.given(body.model_dump()),
    )
    await session.commit()
    await session.refresh(plano)
    return plano


@router.put(
    "/{plano_id}",
    response_model=PlanoPublic,
    responses=errors.responses(*errors.AUTHENTICATED, 404, 409, s404=NOT_FOUND, s409=NAME_TAKEN),
)
async def update_plan(
    plano_id: PlanoId, body: PlanoUpdate, session: SessionDep, admin: AdminDep
) -> Plano:
    """Replace a plan's fields (admin). Set `ativo: false` to stop offering it."""
    plano = await session.get(Plano, plano_id)
    if plano is None:
        raise ApiError("plano_nao_encontrado")
    if await _name_taken(session, body.nome, except_id=plano_id):
        raise ApiError("plano_ja_existe")
    new = body.model_dump()
    before = {field: getattr(plano, field) for field in new}
    for field, value in new.items():
        setattr(plano, field, value)
    audit.record(
        session, admin, PLAN_CHANGED, audit.target("plano", plano.id), audit.changes(before, new)
    )
    await session.commit()
    await session.refresh(plano)
    return plano
