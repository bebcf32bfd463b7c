"""`POST /aluno/sintetico`: a member with a chosen profile, history written before the answer."""

import dataclasses

from fastapi import APIRouter, HTTPException, status
from fastapi.concurrency import run_in_threadpool

from serving.api.deps import AdminDep, SettingsDep
from serving.api.schemas import AlunoSinteticoIn, AlunoSinteticoOut, BadInput, Message
from serving.simulator import EmailTaken, StudentError, StudentProfile, create_synthetic_student

router = APIRouter(tags=["simulador"])


@router.post(
    "/aluno/sintetico",
    response_model=AlunoSinteticoOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"model": Message, "description": "E-mail already registered"},
        422: {"model": BadInput, "description": "Invalid profile, or not an active plan"},
    },
)
async def create_synthetic_member(
    body: AlunoSinteticoIn, settings: SettingsDep, who: AdminDep
) -> AlunoSinteticoOut:
    """Create a synthetic member with the given plan, visits per week, visit duration, days since
    the last visit and weeks of history (admin). The member, its status history and its
    check-ins are written in one transaction before the answer, not through the queue, so
    `GET /aluno/{id}/risco-churn` can score it right away."""
    profile = StudentProfile(**body.model_dump(mode="json"))
    try:
        created = await run_in_threadpool(
            create_synthetic_student,
            profile,
            database_url=settings.database_url,
            registrado_por=who.name,
            gym_timezone=settings.gym_timezone,
            actor=who,
        )
    except EmailTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except StudentError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    return AlunoSinteticoOut(**dataclasses.asdict(created))
