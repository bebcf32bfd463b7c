from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on

from serving.api.deps import CacheDep, ReaderDep, SessionDep, SettingsDep, StaffDep
from serving.api.routes.alunos import AlunoId, member_or_404
from serving.api.schemas import Page, RiscoChurnOut, RiscoItem
from serving.cache import churn_key
from serving.db.tables import Aluno, PrevisaoChurn

router = APIRouter(tags=["churn"])
LATEST = "latest"


def _latest_scores():
    """The newest score of each member (score history is append-only)."""
    return (
        select(PrevisaoChurn)
        .ext(distinct_on(PrevisaoChurn.aluno_id))
        .order_by(
            PrevisaoChurn.aluno_id, PrevisaoChurn.calculado_em.desc(), PrevisaoChurn.id.desc()
        )
        .subquery()
    )


def _risk_out(row) -> dict:
    return {
        "aluno_id": row.aluno_id,
        "probabilidade": row.probabilidade,
        "faixa_risco": row.faixa_risco,
        "fatores": row.fatores,
        "modelo_nome": row.modelo_nome,
        "modelo_versao": row.modelo_versao,
        "data_referencia": row.data_referencia,
        "calculado_em": row.calculado_em,
    }


@router.get(
    "/aluno/{aluno_id}/risco-churn",
    response_model=RiscoChurnOut,
    responses={404: {"description": "Unknown member, or the member has no score yet"}},
)
async def member_churn_risk(
    aluno_id: AlunoId, session: SessionDep, cache: CacheDep, settings: SettingsDep, _: StaffDep
) -> dict:
    """The champion model's latest churn probability for the member, with its risk tier and the
    factors behind it (any staff role). Cached 24 h; a new batch of scores refreshes it."""
    cached = await cache.get_field(churn_key(aluno_id), LATEST, "risco-churn")
    if cached is not None:
        return cached
    seen = await cache.member_version(aluno_id)
    await member_or_404(session, aluno_id)
    row = (
        await session.execute(
            select(PrevisaoChurn)
            .where(PrevisaoChurn.aluno_id == aluno_id)
            .order_by(PrevisaoChurn.calculado_em.desc(), PrevisaoChurn.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail="no churn score yet for this member: the champion model has not scored it",
        )
    body = RiscoChurnOut.model_validate(_risk_out(row)).model_dump(mode="json")
    await cache.set_field(
        churn_key(aluno_id),
        LATEST,
        body,
        settings.churn_cache_seconds,
        aluno_id=aluno_id,
        seen=seen,
    )
    return body


@router.get("/alunos/risco", response_model=Page[RiscoItem])
async def at_risk_members(
    session: SessionDep,
    _: ReaderDep,
    faixa: Literal["baixo", "medio", "alto"] | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page:
    """Active members ranked by their latest churn probability (admin, analista). Empty until
    the first batch of scores."""
    latest = _latest_scores()
    query = (
        select(latest, Aluno.nome, Aluno.plano_id)
        .join(Aluno, Aluno.id == latest.c.aluno_id)
        .where(Aluno.ativo)
    )
    if faixa:
        query = query.where(latest.c.faixa_risco == faixa)
    count = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(latest.c.probabilidade.desc(), latest.c.aluno_id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    data = [RiscoItem(**_risk_out(row), nome=row.nome, plano_id=row.plano_id) for row in rows]
    return Page(data=data, count=count or 0, page=page, page_size=page_size)
