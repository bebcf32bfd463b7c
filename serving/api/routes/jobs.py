"""Jobs the admins queue (retraining, batch scoring), and every job's state. The queue is bounded
(serving/jobs.py): the same request while its job is pending answers that job (200, header
`X-Job-Already-Pending: true`) instead of a second one (202); a full queue answers 429."""

import uuid
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import func, select

from serving.api import errors
from serving.api.deps import (
    AdminDep,
    Principal,
    PublisherDep,
    ReaderDep,
    SessionDep,
    SettingsDep,
)
from serving.api.errors import ApiError
from serving.api.schemas import (
    NO_NUL,
    AtualizarModeloIn,
    CalcularChurnIn,
    JobPublic,
    Page,
)
from serving.config import Settings
from serving.db.tables import Job
from serving.jobs import (
    DayOutsideData,
    JobNotQueued,
    JobQueueFull,
    check_job_day,
    enqueue_job,
)
from serving.vocabulary import CHURN_SCORING, MODEL_UPDATE, JobKind, JobState

router = APIRouter(prefix="/admin", tags=["jobs"])

ALREADY_PENDING_HEADER = "X-Job-Already-Pending"
# What every route that queues a job may answer besides its 202 (and its own 422).
QUEUEING_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": JobPublic,
        "description": "A job of the same kind and arguments is already queued or running: "
        "that job, nothing new queued",
        "headers": {
            ALREADY_PENDING_HEADER: {
                "description": "`true`: the job was already pending",
                "schema": {"type": "string", "enum": ["true"]},
            }
        },
    },
    **errors.responses(
        *errors.AUTHENTICATED,
        429,
        s429="The job queue is full (`fila_de_jobs_cheia`: `max_pending_jobs` queued or "
        "running); nothing queued",
        s503="Broker unavailable (`job_nao_enfileirado`; the job is failed), or PostgreSQL "
        "unavailable or busy",
    ),
}
DAY_OUTSIDE_DATA = (
    "Invalid body (`dados_invalidos`), or a date outside the data (`dia_fora_dos_dados`): in the "
    "future (gym time) or before the first stored check-in; the message names the valid range"
)


async def queue_job(
    session: SessionDep,
    publisher: PublisherDep,
    settings: Settings,
    response: Response,
    *,
    tipo: JobKind,
    parametros: dict[str, Any],
    solicitado_por: Principal,
) -> Job:
    """Queue a job, or answer the one already pending (200 and ALREADY_PENDING_HEADER). A full
    queue is a 429; a broker that does not take the job is a 503 (the job row says failed)."""
    try:
        enqueued = await enqueue_job(
            session,
            publisher,
            tipo=tipo,
            parametros=parametros,
            solicitado_por=solicitado_por,
            max_pending=settings.max_pending_jobs,
            stale_after=timedelta(minutes=settings.stale_job_minutes),
        )
    except JobQueueFull as exc:
        raise ApiError(
            "fila_de_jobs_cheia",
            limite=exc.limit,
            headers={"Retry-After": str(exc.retry_after_seconds)},
        ) from exc
    except JobNotQueued as exc:
        raise ApiError("job_nao_enfileirado", headers={"Retry-After": "5"}) from exc
    if enqueued.already_pending:
        response.status_code = status.HTTP_200_OK
        response.headers[ALREADY_PENDING_HEADER] = "true"
    return enqueued.job


async def check_day_or_422(session: SessionDep, settings: Settings, name: str, day: date) -> None:
    try:
        await check_job_day(session, settings.tz, name, day)
    except DayOutsideData as exc:
        raise ApiError(
            "dia_fora_dos_dados",
            campo=exc.name,
            dia=exc.day.isoformat(),
            motivo="está no futuro" if exc.in_future else "é anterior ao primeiro dia com dados",
            primeiro=exc.days.first.isoformat(),
            hoje=exc.days.today.isoformat(),
            fuso=exc.timezone,
        ) from exc


# "No date" and an explicit date are different jobs on purpose, even when the date is today:
# without one, dbt builds incrementally as of today; with one, it is a backtest that rebuilds the
# features for that date (dbt/macros/churn_features_window.sql).
def _as_of(body: AtualizarModeloIn | CalcularChurnIn | None) -> dict[str, Any]:
    return (
        {"data_referencia": body.data_referencia.isoformat()}
        if body and body.data_referencia
        else {}
    )


@router.post(
    "/atualizar-modelo",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**QUEUEING_RESPONSES, **errors.responses(422, s422=DAY_OUTSIDE_DATA)},
)
async def update_model(
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    who: AdminDep,
    response: Response,
    body: AtualizarModeloIn | None = None,
) -> Job:
    """Queue a retraining of the churn model (admin): train, compare with the champion on the
    same out-of-time data, promote if better. Follow it at `GET /admin/jobs/{id}`. Asking again
    while it is pending answers the same job (200)."""
    if body and body.data_referencia:
        await check_day_or_422(session, settings, "data_referencia", body.data_referencia)
    return await queue_job(
        session,
        publisher,
        settings,
        response,
        tipo=MODEL_UPDATE,
        parametros=_as_of(body),
        solicitado_por=who,
    )


@router.post(
    "/calcular-churn",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**QUEUEING_RESPONSES, **errors.responses(422, s422=DAY_OUTSIDE_DATA)},
)
async def score_churn(
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    who: AdminDep,
    response: Response,
    body: CalcularChurnIn | None = None,
) -> Job:
    """Queue a batch scoring of every active member with the champion model (admin): the new
    scores are appended to the history and `GET /aluno/{id}/risco-churn` and `/alunos/risco`
    serve them. Follow it at `GET /admin/jobs/{id}`. Asking again while it is pending answers
    the same job (200)."""
    if body and body.data_referencia:
        await check_day_or_422(session, settings, "data_referencia", body.data_referencia)
    return await queue_job(
        session,
        publisher,
        settings,
        response,
        tipo=CHURN_SCORING,
        parametros=_as_of(body),
        solicitado_por=who,
    )


@router.get(
    "/jobs", response_model=Page[JobPublic], responses=errors.responses(*errors.AUTHENTICATED)
)
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


@router.get(
    "/jobs/{job_id}",
    response_model=JobPublic,
    responses=errors.responses(
        *errors.AUTHENTICATED, 404, s404="No such job (`job_nao_encontrado`)"
    ),
)
async def get_job(job_id: Annotated[uuid.UUID, Path()], session: SessionDep, _: ReaderDep) -> Job:
    """A job's state, progress (0..1), result or error (admin, analista)."""
    job = await session.get(Job, job_id)
    if job is None:
        raise ApiError("job_nao_encontrado")
    return job
