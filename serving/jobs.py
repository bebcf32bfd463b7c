"""Jobs: a row in `jobs` for state and progress, and a message on the job's queue. Errors are the
domain's (`JobNotQueued`); the API routes map them to status codes."""

import uuid
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from serving.db.tables import Job
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
    MODEL_UPDATE,
    QUEUED,
    RUNNING,
    UNFINISHED_JOB_STATES,
    JobKind,
)

# Each kind of job has its own queue; the job worker consumes all three.
QUEUE_OF: dict[JobKind, str] = {
    MODEL_UPDATE: MODEL_UPDATE_QUEUE,
    CHURN_SCORING: CHURN_PROBABILITIES_QUEUE,
    DAILY_REPORT: DAILY_REPORT_QUEUE,
}


class JobNotQueued(Exception):
    """The broker did not take the job's message; the job row is marked failed."""


async def enqueue_job(
    session: AsyncSession,
    publisher: Publisher,
    *,
    tipo: JobKind,
    parametros: dict[str, Any],
    solicitado_por: str,
) -> Job:
    job = Job(
        id=uuid.uuid4(),
        tipo=tipo,
        estado=QUEUED,
        parametros=parametros,
        solicitado_por=solicitado_por,
        mensagem="waiting for a worker",
    )
    session.add(job)
    await session.commit()
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
    return job


# --- the worker's side: state transitions written with a plain (sync) engine -----------------


# A job that ended stays as it ended: a redelivered message (the worker stopped after the job
# ended but before its ack) must neither run it again nor overwrite its outcome.
_UNFINISHED = Job.estado.in_(UNFINISHED_JOB_STATES)


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
