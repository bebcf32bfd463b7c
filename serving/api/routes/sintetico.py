"""`POST /aluno/sintetico`: a member with a chosen profile, history written before the answer."""

import dataclasses

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool

from serving.api import errors
from serving.api.deps import AdminDep, SettingsDep
from serving.api.errors import ApiError
from serving.api.schemas import AlunoSinteticoIn, AlunoSinteticoOut
from serving.simulator import (
    EmailTaken,
    PlanNotActive,
    StudentError,
    StudentProfile,
    create_synthetic_student,
)

router = APIRouter(tags=["simulador"])


@router.post(
    "/aluno/sintetico",
    response_model=AlunoSinteticoOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(
        *errors.AUTHENTICATED,
        409,
        s409="E-mail already registered (`email_ja_cadastrado`)",
        s422="Invalid profile (`dados_invalidos`, `perfil_sintetico_invalido`), or not an "
        "active plan (`plano_sintetico_inativo`)",
    ),
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
        raise ApiError("email_ja_cadastrado") from exc
    except PlanNotActive as exc:
        raise ApiError("plano_sintetico_inativo", plano=profile.plano) from exc
    except StudentError as exc:
        # The schema checks every field first: what is left is the profile as a whole.
        raise ApiError("perfil_sintetico_invalido") from exc
    return AlunoSinteticoOut(**dataclasses.asdict(created))
