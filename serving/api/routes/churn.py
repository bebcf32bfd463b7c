from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.exc import ProgrammingError
from starlette.concurrency import run_in_threadpool

from serving.api.deps import CacheDep, ReaderDep, SessionDep, SettingsDep, StaffDep
from serving.api.routes.alunos import AlunoId, member_or_404
from serving.api.schemas import Page, RiscoChurnOut, RiscoItem
from serving.cache import churn_key
from serving.db.tables import Aluno, PrevisaoChurn
from serving.on_demand import ChampionCache, live_features_sql

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
    aluno_id: AlunoId,
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    _: StaffDep,
) -> dict:
    """The champion model's latest churn probability for the member, with its risk tier and the
    factors behind it (any staff role). Cached 24 h; a new batch of scores refreshes it. A member
    the nightly batch has not scored yet is scored now from its current features."""
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
        row = await _score_now(request.app.state.champions, session, settings, aluno_id)
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


def _no_score(reason: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND, detail=f"no churn score for this member: {reason}"
    )


async def _score_now(champions: ChampionCache, session, settings, aluno_id: int) -> PrevisaoChurn:
    """Score a never-scored member with the champion, store it like a batch score."""
    try:
        result = await session.execute(
            text(live_features_sql(settings.dbt_schema)), {"aluno_id": aluno_id}
        )
    except ProgrammingError as exc:
        await session.rollback()
        raise _no_score("the warehouse has not been built yet (gympulse dbt build)") from exc
    rows = result.mappings().all()
    if not rows:
        raise _no_score("the member is not active, so it has no churn risk")
    import pandas as pd  # only here: the API starts without the ML stack

    scored = await run_in_threadpool(champions.score, pd.DataFrame([dict(r) for r in rows]))
    if scored is None:
        raise _no_score("no champion model yet (POST /admin/atualizar-modelo trains one)")
    champion, member = scored
    row = PrevisaoChurn(
        aluno_id=aluno_id,
        data_referencia=rows[0]["data_referencia"],
        probabilidade=member.probabilidade,
        faixa_risco=member.faixa_risco,
        modelo_nome=champion.name,
        modelo_versao=champion.version,
        fatores=member.fatores,
    )
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return row


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
