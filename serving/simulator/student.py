"""The synthetic student (the seed's "aluno sintético"): one member with a chosen attendance
profile, written to PostgreSQL with its history in one transaction, so its risk can be scored
at once. Its name and e-mail follow the same rules as a member registered through the API."""

import random
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from serving import rules
from serving.vocabulary import ENTRY, EXIT, SYNTHETIC_MEMBER_CREATED, CheckinOrigin

if TYPE_CHECKING:
    from serving.audit import Actor

ORIGEM: CheckinOrigin = "simulador"


class StudentError(ValueError):
    """A profile that cannot be created (bad field, unknown plan, e-mail taken)."""


class EmailTaken(StudentError):
    pass


class PlanNotActive(StudentError):
    pass


@dataclass(frozen=True)
class StudentProfile:
    plano: str
    visitas_semana: float
    duracao: float
    dias_desde_ultima: int
    semanas: int
    nome: str | None = None
    email: str | None = None

    def check(self) -> None:
        if not 0 < self.visitas_semana <= rules.STUDENT_VISITS_PER_WEEK_MAX:
            raise StudentError(
                f"visitas_semana must be > 0 and <= {rules.STUDENT_VISITS_PER_WEEK_MAX:g}"
            )
        if not rules.STUDENT_MINUTES_MIN <= self.duracao <= rules.STUDENT_MINUTES_MAX:
            raise StudentError(
                f"duracao must be between {rules.STUDENT_MINUTES_MIN:g} and "
                f"{rules.STUDENT_MINUTES_MAX:g} minutes"
            )
        if not rules.STUDENT_WEEKS_MIN <= self.semanas <= rules.STUDENT_WEEKS_MAX:
            raise StudentError(
                f"semanas must be between {rules.STUDENT_WEEKS_MIN} and {rules.STUDENT_WEEKS_MAX}"
            )
        if not 0 <= self.dias_desde_ultima < self.semanas * 7:
            raise StudentError("dias_desde_ultima must be >= 0 and shorter than the history")
        if self.nome and (problem := rules.name_problem(self.nome)):
            raise StudentError(problem)
        self.stored_email()

    def stored_email(self) -> str | None:
        """The e-mail as the API would store it, or None; StudentError when it is not one."""
        if not self.email:
            return None
        try:
            return rules.normalize_email(self.email)
        except ValueError as exc:
            raise StudentError(f"email: {exc}") from None


def student_history(
    profile: StudentProfile, *, now: datetime, tz: ZoneInfo, rng: random.Random
) -> tuple[datetime, list[tuple[datetime, datetime]]]:
    """(data_matricula, visits) for the profile: visits evenly spread from the start of the
    history to exactly `dias_desde_ultima` days ago (gym time), the last one on that day."""
    profile.check()
    now = now.astimezone(tz)
    today = now.date()
    joined_at = datetime.combine(
        today - timedelta(weeks=profile.semanas), datetime.min.time(), tz
    ) + timedelta(hours=7)
    span = profile.semanas * 7 - profile.dias_desde_ultima
    count = max(1, round(profile.visitas_semana * span / 7))
    last_day = today - timedelta(days=profile.dias_desde_ultima)
    visits = []
    for i in range(count):
        day = last_day - timedelta(days=int(i * span / count))
        minutes = max(10.0, profile.duracao * rng.uniform(0.8, 1.2))
        entrada = datetime.combine(day, datetime.min.time(), tz) + timedelta(
            seconds=int(rng.uniform(7, 20) * 3600)
        )
        if entrada + timedelta(minutes=minutes + 5) > now:  # a visit today: already over
            entrada = now - timedelta(minutes=minutes + 5)
        entrada = max(entrada, joined_at + timedelta(minutes=1))
        visits.append((entrada, entrada + timedelta(seconds=int(minutes * 60))))
    visits.sort()
    return joined_at, visits


def student_rows(
    profile: StudentProfile, plano_id: int, tz: ZoneInfo, seed: int | None = None
) -> tuple[dict, list[dict]]:
    """The member row and its check-in rows (without aluno_id) for a profile."""
    rng = random.Random(seed)
    joined_at, visits = student_history(profile, now=datetime.now(UTC), tz=tz, rng=rng)
    tag = uuid.uuid4().hex[:10]
    aluno = {
        "aluno_ref": f"{rules.SYNTHETIC_REF_PREFIX}{tag}",
        "nome": profile.nome or f"Aluno Sintético {tag[:6]}",
        "email": profile.stored_email() or f"sintetico.{tag}@exemplo.com.br",
        "plano_id": plano_id,
        "data_matricula": joined_at,
        "ativo": True,
    }
    checkins = []
    for entrada, saida in visits:
        for tipo, when in ((ENTRY, entrada), (EXIT, saida)):
            checkins.append(
                {
                    "checkin_id": uuid.uuid4(),
                    "tipo": tipo,
                    "ocorrido_em": when,
                    "dispositivo": "simulador",
                    "origem": ORIGEM,
                }
            )
    return aluno, checkins


@dataclass(frozen=True)
class CreatedStudent:
    aluno_id: int
    aluno_ref: str
    checkins: int
    visitas: int
    ultima_visita: datetime | None
    data_matricula: datetime


def create_synthetic_student(
    profile: StudentProfile,
    *,
    database_url: str,
    gym_timezone: str,
    registrado_por: str = "simulador",
    seed: int | None = None,
    actor: "Actor | None" = None,
) -> CreatedStudent:
    """Write the member, its status history and check-ins in one transaction, with its entry in
    the audit log as `actor`'s (by default `registrado_por`, without a user account)."""
    from sqlalchemy import func, insert, select

    from serving import audit
    from serving.db.engine import session_scope
    from serving.db.tables import Aluno, AlunoStatus, Checkin, Plano

    profile.check()
    tz = ZoneInfo(gym_timezone)
    with session_scope(database_url) as session:
        plano_id = session.scalar(
            select(Plano.id).where(func.lower(Plano.nome) == profile.plano.lower(), Plano.ativo)
        )
        if plano_id is None:
            raise PlanNotActive(f"plano '{profile.plano}' is not an active plan")
        aluno, checkins = student_rows(profile, plano_id, tz, seed)
        if profile.email and session.scalar(
            select(func.count()).where(func.lower(Aluno.email) == aluno["email"].lower())
        ):
            raise EmailTaken("e-mail already registered")
        aluno_id = session.execute(insert(Aluno).values(**aluno).returning(Aluno.id)).scalar_one()
        session.execute(
            insert(AlunoStatus).values(
                aluno_id=aluno_id,
                ativo=True,
                ocorrido_em=aluno["data_matricula"],
                motivo="matrícula (aluno sintético)",
                registrado_por=registrado_por,
            )
        )
        if checkins:
            session.execute(insert(Checkin), [{**c, "aluno_id": aluno_id} for c in checkins])
        audit.record(
            session,
            actor or audit.Operator(registrado_por),
            SYNTHETIC_MEMBER_CREATED,
            audit.target("aluno", aluno_id),
            audit.given(
                {"aluno_ref": aluno["aluno_ref"], **asdict(profile)},
                audit.MEMBER_PERSONAL,
            ),
        )
    entries = [c["ocorrido_em"] for c in checkins if c["tipo"] == ENTRY]
    return CreatedStudent(
        aluno_id=aluno_id,
        aluno_ref=aluno["aluno_ref"],
        checkins=len(checkins),
        visitas=len(entries),
        ultima_visita=max(entries) if entries else None,
        data_matricula=aluno["data_matricula"],
    )
