"""`POST /aluno/sintetico`: a member with a chosen profile, history written before the answer."""

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import func, insert, select

from serving.api.deps import AdminDep, SessionDep, SettingsDep
from serving.api.schemas import AlunoSinteticoIn, AlunoSinteticoOut, BadInput, Message
from serving.db.tables import Aluno, AlunoStatus, Checkin, Plano
from serving.simulator import StudentProfile, student_rows

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
    body: AlunoSinteticoIn, session: SessionDep, settings: SettingsDep, who: AdminDep
) -> AlunoSinteticoOut:
    """Create a synthetic member with the given plan, visits per week, visit duration, days since
    the last visit and weeks of history (admin). The member, its status history and its
    check-ins are written in one transaction before the answer, not through the queue, so
    `GET /aluno/{id}/risco-churn` can score it right away."""
    profile = StudentProfile(**body.model_dump(mode="json"))
    plano_id = await session.scalar(
        select(Plano.id).where(func.lower(Plano.nome) == body.plano.lower(), Plano.ativo)
    )
    if plano_id is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"plano '{body.plano}' is not an active plan",
        )
    if body.email and await session.scalar(
        select(func.count()).where(func.lower(Aluno.email) == str(body.email).lower())
    ):
        raise HTTPException(status.HTTP_409_CONFLICT, detail="e-mail already registered")
    aluno, checkins = student_rows(profile, plano_id, settings.tz)
    aluno_id = await session.scalar(insert(Aluno).values(**aluno).returning(Aluno.id))
    await session.execute(
        insert(AlunoStatus).values(
            aluno_id=aluno_id,
            ativo=True,
            ocorrido_em=aluno["data_matricula"],
            motivo="matrícula (aluno sintético)",
            registrado_por=who.name,
        )
    )
    if checkins:
        await session.execute(insert(Checkin), [{**c, "aluno_id": aluno_id} for c in checkins])
    await session.commit()
    entries = [c["ocorrido_em"] for c in checkins if c["tipo"] == "entrada"]
    return AlunoSinteticoOut(
        aluno_id=aluno_id,
        aluno_ref=aluno["aluno_ref"],
        checkins=len(checkins),
        visitas=len(entries),
        ultima_visita=max(entries) if entries else None,
        data_matricula=aluno["data_matricula"],
    )
