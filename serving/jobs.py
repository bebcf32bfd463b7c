"""Jobs: a row in `jobs` for state and progress, and a message on the job's queue."""

import uuid

import orjson
from fastapi import HTTPException, status
from sqlalchemy.ext.asyncio import AsyncSession

from serving.db.tables import Job
from serving.messaging.publisher import Publisher, PublishFailed


async def enqueue_job(
    session: AsyncSession,
    publisher: Publisher,
    *,
    tipo: str,
    fila: str,
    parametros: dict,
    solicitado_por: str,
) -> Job:
    job = Job(
        id=uuid.uuid4(),
        tipo=tipo,
        estado="queued",
        parametros=parametros,
        solicitado_por=solicitado_por,
        mensagem="waiting for a worker",
    )
    session.add(job)
    await session.commit()
    body = orjson.dumps({"job_id": str(job.id), "tipo": tipo, "parametros": parametros})
    try:
        await publisher.publish(fila, body, message_id=str(job.id))
    except PublishFailed as exc:
        job.estado = "failed"
        job.erro = f"could not queue the job: {exc}"
        job.mensagem = None
        await session.commit()
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=job.erro) from exc
    await session.refresh(job)
    return job
