"""Jobs: a row in `jobs` for state and progress, and a message on the job's queue. Errors are the
domain's (`JobNotQueued`, `JobQueueFull`, `DayOutsideData`); the API routes map them to status
codes.

The queue is bounded. A job is pending while queued or running; at most one is pending per kind
and arguments (`parametros`, jsonb, compared as values): asking again returns that job instead
of queueing a second one (the database's partial unique index `uq_jobs_one_pending`, migration
0007, holds it whatever the timing), and at most `max_pending_jobs` are pending in all. A
pending job that has not ended `stale_job_minutes` after it was queued or last started is stale
(its message was lost, or no worker has run since): the next request fails it, so it never
blocks its kind forever. The worker's own recovery is redelivery: a worker that dies mid-job
leaves its message unacked, the broker hands it to the next worker, which restarts the job
(flows/worker.py)."""

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from serving import audit
from serving.db.tables import Aluno, Checkin, Job
from serving.messaging.publisher import Publisher, PublishFailed
from serving.messaging.topology import (
    CHURN_PROBABILITIES_QUEUE,
    DAILY_REPORT_QUEUE,
    MODEL_UPDATE_QUEUE,
)
from serving.vocabulary import (
    CHURN_SCORING,
    DAILY_REPORT,
    DONE,
    FAILED,
    JOB_REQUESTED,
    MODEL_UPDATE,
    QUEUED,
    RUNNING,
    UNFINISHED_JOB_STATES,
    JobKind,
)

log = logging.getLogger(__name__)

# Each kind of job has its own queue; the job worker consumes all three.
QUEUE_OF: dict[JobKind, str] = {
    MODEL_UPDATE: MODEL_UPDATE_QUEUE,
    CHURN_SCORING: CHURN_PROBABILITIES_QUEUE,
    DAILY_REPORT: DAILY_REPORT_QUEUE,
}
ONE_PENDING_INDEX = "uq_jobs_one_pending"
# Requests that queue jobs take turns on this transaction lock, so the count of pending jobs
# they compare with the limit cannot change under them (any fixed number: it names the lock).
ENQUEUE_LOCK = 0x6A6F6273
# When a full queue is likely to have room: a report takes seconds, a retraining minutes.
QUEUE_FULL_RETRY_SECONDS = 60

# A job that ended stays as it ended: a redelivered message (the worker stopped after the job
# ended but before its ack) must neither run it again nor overwrite its outcome.
_UNFINISHED = Job.estado.in_(UNFINISHED_JOB_STATES)


class JobNotQueued(Exception):
    """The broker did not take the job's message; the job row is marked failed."""


class JobQueueFull(Exception):
    """`limit` jobs are pending already; nothing was queued."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"{limit} jobs are already queued or running, the most allowed (max_pending_jobs): "
            "retry when one has ended"
        )
        self.limit = limit
        self.retry_after_seconds = QUEUE_FULL_RETRY_SECONDS


class DayOutsideData(Exception):
    """A job's day that the stored data cannot answer for: after today, or before the first day
    with data. The message names the valid range; the API words it from the attributes."""

    def __init__(self, name: str, day: date, days: "DataDays", tz: ZoneInfo) -> None:
        self.name, self.day, self.days, self.timezone = name, day, days, tz.key
        self.in_future = day > days.today
        why = "is in the future" if self.in_future else "is before the first day with data"
        super().__init__(
            f"{name} {day.isoformat()} {why}: pick a day from {days.first.isoformat()} (the "
            f"first check-in, or the first member's joining) to {days.today.isoformat()} "
            f"(today, {tz.key})"
        )


@dataclass(frozen=True)
class Enqueued:
    job: Job
    # True: a job of the same kind and arguments was pending, and `job` is that one.
    already_pending: bool


# --- the API's side: asking for a job -------------------------------------------------------


@dataclass(frozen=True)
class DataDays:
    """The gym-local days the stored data covers: from the first check-in (or, before any, the
    first member's joining; today when there is neither) to today."""

    first: date
    today: date


async def data_days(session: AsyncSession, tz: ZoneInfo) -> DataDays:
    """One query; both minima read an index (checkins' ocorrido_em) or a small table."""
    first_at: datetime | None = await session.scalar(
        sa.select(
            sa.func.coalesce(
                sa.select(sa.func.min(Checkin.ocorrido_em)).scalar_subquery(),
                sa.select(sa.func.min(Aluno.data_matricula)).scalar_subquery(),
            )
        )
    )
    today = datetime.now(tz).date()
    # A kiosk clock slightly ahead may date the first check-in tomorrow: today stays valid.
    first = min(first_at.astimezone(tz).date(), today) if first_at else today
    return DataDays(first=first, today=today)


async def check_job_day(session: AsyncSession, tz: ZoneInfo, name: str, day: date) -> None:
    """Raise DayOutsideData unless `day` (the job argument `name`) lies within the data."""
    days = await data_days(session, tz)
    if days.first <= day <= days.today:
        return
    raise DayOutsideData(name, day, days, tz)


async def _fail_stale_jobs(session: AsyncSession, stale_after: timedelta) -> None:
    minutes = int(stale_after.total_seconds() // 60)
    failed = await session.execute(
        sa.update(Job)
        .where(
            _UNFINISHED,
            sa.func.coalesce(Job.iniciado_em, Job.criado_em) < sa.func.now() - stale_after,
        )
        .values(
            estado=FAILED,
            mensagem=None,
            erro=f"stale: not ended {minutes} minutes after it was queued or last started (its "
            "message was lost, or no job worker ran); failed when a new job was requested",
            terminado_em=sa.func.now(),
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    for job_id in failed.scalars():
        log.warning("failed stale job %s", job_id)


async def _pending_job(session: AsyncSession, tipo: JobKind, parametros: dict) -> Job | None:
    return await session.scalar(
        sa.select(Job).where(Job.tipo == tipo, Job.parametros == parametros, _UNFINISHED)
    )


def _is_duplicate_pending(exc: IntegrityError) -> bool:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None) == ONE_PENDING_INDEX


async def _add_job(
    session: AsyncSession,
    *,
    tipo: JobKind,
    parametros: dict[str, Any],
    solicitado_por: audit.Actor,
    max_pending: int,
    stale_after: timedelta,
) -> Enqueued:
    """The job pending for these arguments, or a new queued row (committed either way)."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(ENQUEUE_LOCK)))
    await _fail_stale_jobs(session, stale_after)
    existing = await _pending_job(session, tipo, parametros)
    if existing is not None:
        await session.commit()
        return Enqueued(existing, already_pending=True)
    pending = await session.scalar(sa.select(sa.func.count()).select_from(Job).where(_UNFINISHED))
    if (pending or 0) >= max_pending:
        await session.commit()  # keeps the stale jobs failed
        raise JobQueueFull(max_pending)
    job = Job(
        id=uuid.uuid4(),
        tipo=tipo,
        estado=QUEUED,
        parametros=parametros,
        solicitado_por=solicitado_por.name,
        mensagem="waiting for a worker",
    )
    session.add(job)
    # Only a job queued now is an action of its requester: the answer with a pending job is not.
    audit.record(
        session,
        solicitado_por,
        JOB_REQUESTED,
        audit.target("job", job.id),
        {"tipo": tipo, "parametros": parametros},
    )
    try:
        await session.commit()
    except IntegrityError as exc:
        # A writer that does not take the lock queued the same job between our look and our
        # insert: the index refused ours, and theirs is the answer.
        await session.rollback()
        if not _is_duplicate_pending(exc):
            raise
        existing = await _pending_job(session, tipo, parametros)
        await session.commit()
        if existing is not None:
            return Enqueued(existing, already_pending=True)
        # Theirs has ended since: nothing is pending any more, so ours may be queued.
        return await _add_job(
            session,
            tipo=tipo,
            parametros=parametros,
            solicitado_por=solicitado_por,
            max_pending=max_pending,
            stale_after=stale_after,
        )
    return Enqueued(job, already_pending=False)


async def enqueue_job(
    session: AsyncSession,
    publisher: Publisher,
    *,
    tipo: JobKind,
    parametros: dict[str, Any],
    solicitado_por: audit.Actor,
    max_pending: int,
    stale_after: timedelta,
) -> Enqueued:
    """Queue a job, or return the one pending with the same kind and arguments. `parametros` is
    the job's identity: callers normalise it (same meaning, same dict). A job queued now enters
    the audit log as `solicitado_por`'s request, in the job's own transaction. Raises
    JobQueueFull when `max_pending` jobs are pending, JobNotQueued when the broker does not take
    it."""
    enqueued = await _add_job(
        session,
        tipo=tipo,
        parametros=parametros,
        solicitado_por=solicitado_por,
        max_pending=max_pending,
        stale_after=stale_after,
    )
    if enqueued.already_pending:
        return enqueued
    job = enqueued.job
    body = orjson.dumps({"job_id": str(job.id), "tipo": tipo, "parametros": parametros})
    try:
        await publisher.publish(QUEUE_OF[tipo], body, message_id=str(job.id))
    except PublishFailed as exc:
        job.estado = FAILED
        job.erro = f"could not queue the job: {exc}"
        job.mensagem = None
        await session.commit()
        raise JobNotQueued(job.erro) from exc
    await session.refresh(job)
    return enqueued


# --- the worker's side: state transitions written with a plain (sync) engine -----------------


def _update_job(engine: sa.Engine, job_id: uuid.UUID, *where, **values) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(Job).where(Job.id == job_id, *where).values(**values))


def start_job(engine: sa.Engine, job_id: uuid.UUID) -> dict | None:
    """Mark the job running; returns its row (None when no such job exists or it has already
    ended: done or failed)."""
    with engine.begin() as conn:
        row = conn.execute(
            sa.update(Job)
            .where(Job.id == job_id, _UNFINISHED)
            .values(
                estado=RUNNING,
                progresso=0.0,
                mensagem="started",
                erro=None,
                iniciado_em=sa.func.now(),
                terminado_em=None,
            )
            .returning(Job.tipo, Job.parametros)
        ).first()
    return dict(row._mapping) if row else None


def report_progress(engine: sa.Engine, job_id: uuid.UUID, fraction: float, message: str) -> None:
    _update_job(engine, job_id, progresso=min(1.0, max(0.0, fraction)), mensagem=message[:500])


def finish_job(engine: sa.Engine, job_id: uuid.UUID, result: dict) -> None:
    _update_job(
        engine,
        job_id,
        estado=DONE,
        progresso=1.0,
        mensagem="done",
        resultado=result,
        terminado_em=sa.func.now(),
    )


def fail_job(engine: sa.Engine, job_id: uuid.UUID, error: str) -> None:
    _update_job(
        engine,
        job_id,
        _UNFINISHED,
        estado=FAILED,
        mensagem=None,
        erro=error[:4000],
        terminado_em=sa.func.now(),
    )
