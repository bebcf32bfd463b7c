import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import func, select

from serving.api.deps import AdminDep, PublisherDep, ReaderDep, SessionDep, SettingsDep
from serving.api.schemas import (
    NO_NUL,
    AtualizarModeloIn,
    BadInput,
    CalcularChurnIn,
    JobPublic,
    Message,
    Page,
)
from serving.db.tables import Job
from serving.jobs import JobNotQueued, enqueue_job
from serving.vocabulary import CHURN_SCORING, MODEL_UPDATE, JobState

router = APIRouter(prefix="/admin", tags=["jobs"])


async def queue_or_503(session: SessionDep, publisher: PublisherDep, **job) -> Job:
    """Queue a job; a broker that does not take it is a 503 (the job row says failed)."""
    try:
        return await enqueue_job(session, publisher, **job)
    except JobNotQueued as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from exc


@router.post(
    "/atualizar-modelo",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={503: {"model": Message, "description": "Broker unavailable; the job is failed"}},
)
async def update_model(
    session: SessionDep,
    publisher: PublisherDep,
    who: AdminDep,
    body: AtualizarModeloIn | None = None,
) -> Job:
    """Queue a retraining of the churn model (admin): train, compare with the champion on the
    same out-of-time data, promote if better. Follow it at `GET /admin/jobs/{id}`."""
    parametros = (
        {"data_referencia": body.data_referencia.isoformat()}
        if body and body.data_referencia
        else {}
    )
    return await queue_or_503(
        session,
        publisher,
        tipo=MODEL_UPDATE,
        parametros=parametros,
        solicitado_por=who.name,
    )


@router.post(
    "/calcular-churn",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        422: {"model": BadInput, "description": "Invalid body, or a date in the future"},
        503: {"model": Message, "description": "Broker unavailable; the job is failed"},
    },
)
async def score_churn(
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    who: AdminDep,
    body: CalcularChurnIn | None = None,
) -> Job:
    """Queue a batch scoring of every active member with the champion model (admin): the new
    scores are appended to the history and `GET /aluno/{id}/risco-churn` and `/alunos/risco`
    serve them. Follow it at `GET /admin/jobs/{id}`."""
    data_referencia = body.data_referencia if body else None
    if data_referencia and data_referencia > datetime.now(settings.tz).date():
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"data_referencia {data_referencia.isoformat()} is in the future",
        )
    return await queue_or_503(
        session,
        publisher,
        tipo=CHURN_SCORING,
        parametros={"data_referencia": data_referencia.isoformat()} if data_referencia else {},
        solicitado_por=who.name,
    )


@router.get("/jobs", response_model=Page[JobPublic])
async def list_jobs(
    session: SessionDep,
    _: ReaderDep,
    estado: JobState | None = None,
    tipo: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page:
    """Jobs, newest first (admin, analista)."""
    query = select(Job)
    if estado:
        query = query.where(Job.estado == estado)
    if tipo:
        query = query.where(Job.tipo == tipo)
    count = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(Job.criado_em.desc()).limit(page_size).offset((page - 1) * page_size)
    )
    return Page(data=list(rows.scalars()), count=count or 0, page=page, page_size=page_size)


@router.get("/jobs/{job_id}", response_model=JobPublic, responses={404: {"model": Message}})
async def get_job(job_id: Annotated[uuid.UUID, Path()], session: SessionDep, _: ReaderDep) -> Job:
    """A job's state, progress (0..1), result or error (admin, analista)."""
    job = await session.get(Job, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="job not found")
    return job
