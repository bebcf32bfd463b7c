from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select, text
from sqlalchemy.exc import ProgrammingError
from starlette.concurrency import run_in_threadpool

from serving import personal_data
from serving.api import errors
from serving.api.deps import CacheDep, Principal, ReaderDep, SessionDep, SettingsDep, StaffDep
from serving.api.errors import ApiError
from serving.api.routes.alunos import NOT_FOUND, AlunoId, member_or_404
from serving.api.schemas import Page, PlanoRef, RiscoChurnOut, RiscoHistoricoItem, RiscoItem
from serving.config import Settings
from serving.db.engine import sync_engine
from serving.db.tables import Aluno
from serving.on_demand import ChampionCache, ModelRegistryUnavailable, live_features_sql
from serving.scores import (
    HISTORY_ORDER,
    LATEST_FIELD,
    WITHOUT_JIT,
    AtRiskFilter,
    at_risk_count,
    at_risk_item,
    at_risk_query,
    current_scores,
    save_member_score,
    score_history,
)
from serving.vocabulary import RiskTier

router = APIRouter(tags=["churn"])


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
    responses=errors.responses(
        *errors.AUTHENTICATED,
        404,
        s404="Unknown member (`aluno_nao_encontrado`), or no score can be given yet: "
        "`armazem_nao_construido`, `aluno_sem_risco` (not active), `sem_modelo_campeao`",
    ),
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
    factors behind it (any staff role). Cached 24 h, until a new batch of scores. A member
    the nightly batch has not scored yet is scored now from its current features."""
    read = await cache.read_score(aluno_id, LATEST_FIELD, "risco-churn")
    if read.value is not None:
        return read.value
    await member_or_404(session, aluno_id)
    row = (
        await session.execute(select(current_scores).where(current_scores.c.aluno_id == aluno_id))
    ).first()
    if row is None:
        body = await _score_now(request.app.state.champions, session, settings, aluno_id)
    else:
        body = RiscoChurnOut.model_validate(_risk_out(row)).model_dump(mode="json")
    # Scored now: a new score, so the member's cached risk history no longer holds.
    await cache.keep_score(
        aluno_id, read, body, settings.churn_cache_seconds, new_score=row is None
    )
    return body


async def _score_now(champions: ChampionCache, session, settings: Settings, aluno_id: int) -> dict:
    """Score a never-scored member with the champion and store it through the score writer, like
    a batch score; returns the route's answer."""
    try:
        result = await session.execute(
            text(live_features_sql(settings.dbt_schema)), {"aluno_id": aluno_id}
        )
    except ProgrammingError as exc:
        await session.rollback()
        raise ApiError("armazem_nao_construido") from exc
    rows = result.mappings().all()
    if not rows:
        raise ApiError("aluno_sem_risco")
    import pandas as pd  # only here: the API starts without the ML stack

    try:
        scored = await run_in_threadpool(champions.score, pd.DataFrame([dict(r) for r in rows]))
    except ModelRegistryUnavailable as exc:
        raise ApiError(
            "registro_de_modelos_indisponivel",
            headers={"Retry-After": str(errors.MODEL_REGISTRY_RETRY_SECONDS)},
        ) from exc
    if scored is None:
        raise ApiError("sem_modelo_campeao")
    champion, member = scored
    return await run_in_threadpool(
        save_member_score,
        sync_engine(settings.database_url),
        member,
        as_of=rows[0]["data_referencia"],
        model_name=champion.name,
        model_version=champion.version,
    )


@router.get(
    "/aluno/{aluno_id}/risco-churn/historico",
    response_model=Page[RiscoHistoricoItem],
    responses=errors.responses(*errors.AUTHENTICATED, 404, s404=NOT_FOUND),
)
async def member_churn_history(
    aluno_id: AlunoId,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    _: StaffDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    """Every churn score the member was given, newest first: the current one, then the ones
    before it (any staff role). Cached with the member's risk until a new score or check-in."""
    read = await cache.read_score(aluno_id, f"hist:{page}:{page_size}", "risco-churn-historico")
    if read.value is not None:
        return read.value
    await member_or_404(session, aluno_id)
    history = select(score_history).where(score_history.c.aluno_id == aluno_id)
    count = await session.scalar(select(func.count()).select_from(history.subquery()))
    rows = await session.execute(
        history.order_by(*HISTORY_ORDER).limit(page_size).offset((page - 1) * page_size)
    )
    body = Page[RiscoHistoricoItem](
        data=[RiscoHistoricoItem.model_validate(_risk_out(row)) for row in rows],
        count=count or 0,
        page=page,
        page_size=page_size,
    ).model_dump(mode="json")
    await cache.keep_score(aluno_id, read, body, settings.churn_cache_seconds)
    return body


async def _contacts(
    session, who: Principal, settings: Settings, aluno_ids: list[int]
) -> dict[int, dict]:
    """E-mail and phone of the listed members, as the caller's role sees them in the at-risk
    list. Read here, not from `alunos_em_risco`: that function also feeds the Redis list and
    the dashboard, which hold no contact details."""
    if not aluno_ids:
        return {}
    rows = await session.execute(
        select(Aluno.id, Aluno.email, Aluno.telefone).where(Aluno.id.in_(aluno_ids))
    )
    today = datetime.now(settings.tz).date()
    contacts = {}
    for aluno_id, email, telefone in rows:
        shown = personal_data.disclose(
            who.role,
            personal_data.AT_RISK,
            email=email,
            telefone=telefone,
            data_nascimento=None,
            today=today,
        )
        contacts[aluno_id] = {"email": shown.email, "telefone": shown.telefone}
    return contacts


@router.get(
    "/alunos/risco",
    response_model=Page[RiscoItem],
    responses=errors.responses(*errors.AUTHENTICATED),
)
async def at_risk_members(
    session: SessionDep,
    settings: SettingsDep,
    who: ReaderDep,
    faixa: RiskTier | None = None,
    plano_id: PlanoRef | None = None,
    incluir_sinteticos: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page:
    """Active members ranked by their latest churn probability, with what the retention team
    reads beside it: plan, contract end, days since the last visit, visit trend (admin,
    analista), and the phone and e-mail to call or write to the member (the retention team's
    work). Synthetic members (POST /aluno/sintetico) are left out unless `incluir_sinteticos`.
    The Redis list `gp:risco:lista` holds the first rows, unfiltered and without contact
    details. Empty until the first batch of scores."""
    wanted = AtRiskFilter(faixa=faixa, plano_id=plano_id, incluir_sinteticos=incluir_sinteticos)
    query = at_risk_query(settings.gym_timezone, wanted)
    await session.execute(WITHOUT_JIT)
    rows = (await session.execute(query.limit(page_size).offset((page - 1) * page_size))).all()
    if rows:
        count = rows[0].total
    else:  # past the last page, or nothing matches
        count = await session.scalar(at_risk_count(settings.gym_timezone, wanted))
    contacts = await _contacts(session, who, settings, [row.aluno_id for row in rows])
    data = [
        RiscoItem.model_validate(at_risk_item(row) | contacts.get(row.aluno_id, {})) for row in rows
    ]
    return Page(data=data, count=count or 0, page=page, page_size=page_size)
