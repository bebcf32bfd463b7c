"""`GET /admin/auditoria`: the audit log of admin actions, newest first (admin)."""

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from serving.api import errors
from serving.api.deps import AdminDep, SessionDep, SettingsDep
from serving.api.errors import ApiError
from serving.api.routes.alunos import FIRST_DAY, LAST_DAY
from serving.api.schemas import AuditoriaPublic, Page
from serving.db.tables import Auditoria
from serving.vocabulary import AuditAction

router = APIRouter(prefix="/admin", tags=["auditoria"])
BAD_PERIOD = errors.responses(
    *errors.AUTHENTICATED,
    s422="Bad parameters (`dados_invalidos`), or `desde` after `ate` (`periodo_invertido`)",
)


@router.get("/auditoria", response_model=Page[AuditoriaPublic], responses=BAD_PERIOD)
async def list_audit_entries(
    session: SessionDep,
    settings: SettingsDep,
    _: AdminDep,
    acao: AuditAction | None = None,
    usuario_id: Annotated[
        int | None, Query(gt=0, le=2**31 - 1, description="The staff user who acted")
    ] = None,
    desde: Annotated[
        date | None, Query(ge=FIRST_DAY, le=LAST_DAY, description="First day (gym time)")
    ] = None,
    ate: Annotated[
        date | None, Query(ge=FIRST_DAY, le=LAST_DAY, description="Last day, inclusive")
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page:
    """Who changed users, kiosks, plans, members and asked for jobs, and when, newest first
    (admin). Filters: the action, the user who acted, gym-local days. Details name what changed;
    personal data and secrets appear only as 'informado', 'alterado' or 'removido'."""
    if desde and ate and desde > ate:
        raise ApiError("periodo_invertido", inicio="desde", fim="ate")
    query = select(Auditoria)
    if acao:
        query = query.where(Auditoria.acao == acao)
    if usuario_id is not None:
        query = query.where(Auditoria.usuario_id == usuario_id)
    if desde:
        query = query.where(Auditoria.ocorrido_em >= datetime.combine(desde, time(), settings.tz))
    if ate:
        next_day = datetime.combine(ate + timedelta(days=1), time(), settings.tz)
        query = query.where(Auditoria.ocorrido_em < next_day)
    count = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(Auditoria.ocorrido_em.desc(), Auditoria.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return Page(data=list(rows.scalars()), count=count or 0, page=page, page_size=page_size)
