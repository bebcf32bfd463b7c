"""Request and response shapes. Field names are the seed's public contract (Portuguese)."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from serving import personal_data, rules, vocabulary
from serving.api import examples
from serving.vocabulary import Role

# The limits below are `serving.rules`, shared with the history import and the simulator.
# PostgreSQL text cannot hold NUL bytes: refuse them here (422), not in the database (500).
NO_NUL = r"^[^\x00]*$"
Name = Annotated[
    str,
    StringConstraints(
        pattern=NO_NUL, strip_whitespace=True, min_length=1, max_length=rules.NAME_MAX
    ),
]
Phone = Annotated[
    str, StringConstraints(pattern=NO_NUL, strip_whitespace=True, max_length=rules.PHONE_MAX)
]
# The import's e-mail check (`rules.normalize_email`), shown in OpenAPI as EmailStr was.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(rules.normalize_email),
    WithJsonSchema({"type": "string", "format": "email"}),
]
PlanName = Annotated[
    str,
    StringConstraints(
        pattern=NO_NUL, strip_whitespace=True, min_length=1, max_length=rules.PLAN_NAME_MAX
    ),
]
PlanPrice = Annotated[
    Decimal,
    Field(
        ge=0,
        le=rules.PLAN_PRICE_MAX,
        max_digits=rules.PLAN_PRICE_DIGITS,
        decimal_places=rules.PLAN_PRICE_PLACES,
    ),
]
PlanMonths = Annotated[int, Field(ge=rules.PLAN_MONTHS_MIN, le=rules.PLAN_MONTHS_MAX)]
PlanDescription = Annotated[
    str, StringConstraints(pattern=NO_NUL, max_length=rules.PLAN_DESCRIPTION_MAX)
]
BirthDate = Annotated[date, Field(ge=rules.BIRTH_DATE_MIN)]
# Strict in bodies: lax mode reads `true` as 1 and "7" as 7, i.e. another member's id.
Id = Annotated[StrictInt, Field(gt=0, le=2**62)]
# planos.id is a 4-byte integer: a larger id must be a 422, not a database error.
PlanoRef = Annotated[int, Field(gt=0, le=2**31 - 1)]
PlanoRefBody = Annotated[StrictInt, Field(gt=0, le=2**31 - 1)]  # PlanoRef is also a query
T = TypeVar("T")


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a client cannot set what it should not."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="Total rows matching the filters, across all pages.")
    page: int
    page_size: int


class ErroItem(BaseModel):
    """One problem of a refused request: a field of the body or query, or an event of a bulk."""

    local: list[str | int] = Field(
        description='Where the problem is, e.g. ["body", "checkins", 3, "aluno_id"].'
    )
    mensagem: str = Field(description="What is wrong, in pt-BR.")
    codigo: str = Field(description="Stable machine code of this problem (snake_case).")
    entrada: str | int | float | bool | None = Field(
        default=None,
        description="A short excerpt of the value sent (never a secret, never a long value).",
    )
    aluno_id: int | None = Field(default=None, description="For a bulk event: its member.")
    checkin_id: uuid.UUID | None = Field(
        default=None, description="For an id reused for a different event: that id."
    )


class ErroOut(BaseModel):
    """Every error the API answers, whatever its status (serving/api/errors.py builds them)."""

    detail: str = Field(description="What happened and what to do, one sentence in pt-BR.")
    codigo: str = Field(
        description="Stable machine code (snake_case), e.g. `aluno_nao_encontrado`; the list "
        "is in README.md (API errors)."
    )
    erros: list[ErroItem] | None = Field(
        default=None, description="Per-field or per-event problems, when there are several."
    )


# --- auth ---------------------------------------------------------------------------------


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    role: Role

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIs...",
                    "refresh_token": "Jr4w6...",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "role": "analista",
                }
            ]
        }
    )


class RefreshRequest(Strict):
    # No minimum: a short token is simply unknown (401), like any other wrong one.
    refresh_token: Annotated[str, StringConstraints(max_length=200)]

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.REFRESH]})


class UsuarioCreate(Strict):
    username: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=rules.USERNAME_PATTERN)
    ]
    password: Annotated[
        str, StringConstraints(min_length=rules.PASSWORD_MIN, max_length=rules.PASSWORD_MAX)
    ]
    role: Role
    email: Email | None = None
    nome: Name | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "ana.retencao",
                    "password": "uma-senha-longa-e-unica",
                    "role": "analista",
                    "email": "ana@academia.com.br",
                    "nome": "Ana Souza",
                }
            ]
        },
    )


class UsuarioUpdate(Strict):
    role: Role | None = None
    ativo: bool | None = None
    nome: Name | None = None
    email: Email | None = None

    @field_validator("role", "ativo", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Leave the field out to keep it; `null` would clear a required column.
        if value is None:
            raise ValueError("may be omitted but not null")
        return value

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.USUARIO_UPDATE]}
    )


class UsuarioPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [examples.USUARIO]}
    )

    id: int
    username: str
    email: str | None
    nome: str | None
    role: Role
    ativo: bool
    criado_em: datetime


# --- plans ----------------------------------------------------------------------------------


class PlanoCreate(Strict):
    nome: PlanName
    valor_mensal: PlanPrice
    duracao_meses: PlanMonths
    descricao: PlanDescription | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "nome": "Anual",
                    "valor_mensal": "99.90",
                    "duracao_meses": 12,
                    "descricao": "Contrato de 12 meses, acesso livre",
                }
            ]
        },
    )


class PlanoUpdate(Strict):
    nome: PlanName
    valor_mensal: PlanPrice
    duracao_meses: PlanMonths
    descricao: PlanDescription | None = None
    ativo: bool = True

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.PLANO_UPDATE]}
    )


class PlanoPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [examples.PLANO]}
    )

    id: int
    nome: str
    descricao: str | None
    valor_mensal: Decimal
    duracao_meses: int
    ativo: bool


# --- members --------------------------------------------------------------------------------


class AlunoCreate(Strict):
    nome: Name
    email: Email
    plano_id: PlanoRefBody
    telefone: Phone | None = None
    data_nascimento: BirthDate | None = None
    aluno_ref: (
        Annotated[
            str,
            StringConstraints(
                pattern=NO_NUL, strip_whitespace=True, max_length=rules.MEMBER_REF_MAX
            ),
        ]
        | None
    ) = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "nome": "Maria Oliveira",
                    "email": "maria.oliveira@example.com",
                    "plano_id": 1,
                    "telefone": "+55 11 91234-5678",
                    "data_nascimento": "1994-03-17",
                }
            ]
        },
    )


class AlunoUpdate(Strict):
    nome: Name
    email: Email
    plano_id: PlanoRefBody
    telefone: Phone | None = None
    data_nascimento: BirthDate | None = None

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.ALUNO_UPDATE]}
    )


class StatusChange(Strict):
    motivo: Annotated[str, StringConstraints(pattern=NO_NUL, max_length=500)] | None = None

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.STATUS_CHANGE]}
    )


class AlunoPublic(BaseModel):
    """A member as the caller's role may see it: e-mail, phone and birth date are full, masked
    (`m***@example.com`, `+55 11 *****-5678`) or null by role and view (docs/personal-data.md)."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [examples.ALUNO]}
    )

    id: int
    aluno_ref: str | None
    nome: str
    email: str | None = Field(
        description="Null when the member has none (members imported from another system) or "
        "the role may not see it. "
        + personal_data.describe("email", personal_data.LIST, personal_data.DETAIL)
    )
    telefone: str | None = Field(
        description=personal_data.describe("telefone", personal_data.LIST, personal_data.DETAIL)
    )
    data_nascimento: date | None = Field(
        description=personal_data.describe(
            "data_nascimento", personal_data.LIST, personal_data.DETAIL
        )
    )
    idade: int | None = Field(
        default=None,
        description="Age in whole years on the gym's calendar today, for the roles that see "
        "the birth date or its age (see data_nascimento); null otherwise.",
    )
    plano_id: int
    data_matricula: datetime
    ativo: bool
    atualizado_em: datetime


class StatusPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ativo: bool
    ocorrido_em: datetime
    motivo: str | None
    registrado_por: str | None


class AlunoDetail(AlunoPublic):
    plano: PlanoPublic
    historico_status: list[StatusPublic]

    model_config = ConfigDict(json_schema_extra={"examples": [examples.ALUNO_DETAIL]})


# --- check-ins ------------------------------------------------------------------------------


class CheckinIn(Strict):
    aluno_id: Id
    tipo: vocabulary.CheckinType = vocabulary.ENTRY
    checkin_id: uuid.UUID | None = Field(
        default=None,
        description="A new UUID for each new event, chosen by the kiosk when it records the "
        "event and sent again, with the same event, on every retry: a retry is never a second "
        "check-in. An id already used for another event (member, type or time) is not stored "
        "but parked as a conflict. Generated by the server when absent (manual entries).",
    )
    ocorrido_em: AwareDatetime | None = Field(
        default=None, description="When it happened, with time zone. Defaults to now."
    )
    dispositivo: Annotated[str, StringConstraints(pattern=NO_NUL, max_length=120)] | None = Field(
        default=None, description="Ignored for kiosks: their key names the device."
    )

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.CHECKIN]})


class CheckinAccepted(BaseModel):
    checkin_id: uuid.UUID
    aluno_id: int
    tipo: vocabulary.CheckinType
    ocorrido_em: datetime
    status: Literal["aceito"] = "aceito"

    model_config = ConfigDict(json_schema_extra={"examples": [examples.CHECKIN_ACCEPTED]})


class CheckinBatchIn(Strict):
    checkins: list[CheckinIn] = Field(min_length=1, max_length=rules.BULK_MAX_EVENTS)

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.CHECKIN_BATCH]}
    )


class CheckinBatchAccepted(BaseModel):
    aceitos: int = Field(description="Distinct events accepted (repeats counted once).")
    checkin_ids: list[uuid.UUID] = Field(
        description="One per distinct event, in the order of their first occurrence."
    )
    duplicados: int = Field(
        default=0,
        description="Events that repeated an earlier event of the batch (same checkin_id, "
        "member, type and time) and were collapsed into it.",
    )
    checkin_ids_duplicados: list[uuid.UUID] = Field(
        default_factory=list, description="The checkin_ids that came more than once."
    )
    status: Literal["aceito"] = "aceito"

    model_config = ConfigDict(json_schema_extra={"examples": [examples.CHECKIN_BATCH_ACCEPTED]})


class VisitaOut(BaseModel):
    entrada: datetime
    saida: datetime | None
    duracao_minutos: float | None


class SemanaOut(BaseModel):
    semana: date
    visitas: int


class FrequenciaOut(BaseModel):
    aluno_id: int
    inicio: date
    fim: date
    total_visitas: int
    visitas_com_saida: int
    saidas_sem_entrada: int = Field(description="Exits with no matching entry (kiosk anomaly).")
    frequencia_semanal: float = Field(description="Visits per week over the period.")
    duracao_media_minutos: float | None
    ultima_visita: datetime | None
    semanas: list[SemanaOut]
    visitas: list[VisitaOut]
    page: int
    page_size: int

    model_config = ConfigDict(json_schema_extra={"examples": [examples.FREQUENCIA]})


# --- churn ----------------------------------------------------------------------------------


class Fator(BaseModel):
    fator: str
    descricao: str
    valor: float | None = None


class RiscoChurnOut(BaseModel):
    aluno_id: int
    probabilidade: float
    faixa_risco: vocabulary.RiskTier
    fatores: list[Fator]
    modelo_nome: str
    modelo_versao: str
    data_referencia: date
    calculado_em: datetime

    model_config = ConfigDict(json_schema_extra={"examples": [examples.RISCO]})


class RiscoItem(RiscoChurnOut):
    """A row of the at-risk list: the member's current score and what the retention team reads
    beside it. Dates in the gym's calendar."""

    nome: str
    telefone: str | None = Field(
        default=None,
        description="To call the member. "
        + personal_data.describe("telefone", personal_data.AT_RISK),
    )
    email: str | None = Field(
        default=None,
        description="To write to the member. "
        + personal_data.describe("email", personal_data.AT_RISK),
    )
    plano_id: int
    plano: str = Field(description="Plan name.")
    data_matricula: date
    fim_contrato: date = Field(description="End of the contract period running today.")
    dias_desde_ultima_visita: int | None = Field(
        description="Days since the last entry; null when the member never came."
    )
    visitas_4_semanas: int
    visitas_8_semanas_anteriores: int
    tendencia_visitas: float | None = Field(
        description="Visits a week in the last 4 weeks over visits a week in the 8 before "
        "(1 = steady, below 1 = coming less); null when the 8 weeks before had no visit."
    )
    sintetico: bool = Field(description="Made by POST /aluno/sintetico.")

    model_config = ConfigDict(json_schema_extra={"examples": [examples.RISCO_ITEM]})


class RiscoHistoricoItem(BaseModel):
    """One score of the member's history (every score is kept)."""

    data_referencia: date
    calculado_em: datetime
    probabilidade: float
    faixa_risco: vocabulary.RiskTier
    modelo_nome: str
    modelo_versao: str
    fatores: list[Fator]

    model_config = ConfigDict(json_schema_extra={"examples": [examples.RISCO_HISTORICO]})


# --- devices and jobs -----------------------------------------------------------------------


class DispositivoCreate(Strict):
    nome: Annotated[
        str,
        StringConstraints(
            pattern=NO_NUL, strip_whitespace=True, min_length=1, max_length=rules.DEVICE_NAME_MAX
        ),
    ]
    local: (
        Annotated[str, StringConstraints(pattern=NO_NUL, max_length=rules.DEVICE_PLACE_MAX)] | None
    ) = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"nome": "catraca-entrada-1", "local": "Recepção"}]},
    )


class DispositivoPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [examples.DISPOSITIVO]}
    )

    id: int
    nome: str
    local: str | None
    chave_prefixo: str
    criado_em: datetime
    revogado_em: datetime | None
    ultimo_uso_em: datetime | None


class DispositivoCreated(DispositivoPublic):
    api_key: str = Field(description="Shown once. Send it as the X-API-Key header.")

    model_config = ConfigDict(json_schema_extra={"examples": [examples.DISPOSITIVO_CREATED]})


class AtualizarModeloIn(Strict):
    data_referencia: date | None = Field(
        default=None,
        description="Train as of this date (backtest); defaults to today. From the first stored "
        "check-in day to today (gym time).",
    )

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.ATUALIZAR_MODELO]}
    )


class CalcularChurnIn(Strict):
    data_referencia: date | None = Field(
        default=None,
        ge=date(1900, 1, 1),
        description="Score the members as of this date (gym time); defaults to today. From the "
        "first stored check-in day to today.",
    )

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.CALCULAR_CHURN]}
    )


class JobPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [examples.JOB, examples.JOB_RELATORIO]},
    )

    id: uuid.UUID
    tipo: str
    estado: vocabulary.JobState
    progresso: float
    mensagem: str | None
    parametros: dict
    resultado: dict | None
    erro: str | None
    solicitado_por: str | None
    criado_em: datetime
    iniciado_em: datetime | None
    terminado_em: datetime | None


# --- audit log ------------------------------------------------------------------------------


class AuditoriaPublic(BaseModel):
    """One admin action: who, what, when (serving/audit.py)."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [examples.AUDITORIA]}
    )

    id: int
    ocorrido_em: datetime
    usuario_id: int | None = Field(
        description="The staff user who acted; null for the command line (`ator` 'cli')."
    )
    ator: str = Field(description="The actor's username at the time, or 'cli'.")
    acao: vocabulary.AuditAction
    alvo: str = Field(description="What it was done to: `usuario:12`, `aluno:42`, `job:<id>`…")
    detalhes: dict = Field(
        description="The fields given or changed, with their new values; personal data and "
        "secrets only as 'informado', 'alterado' or 'removido', never their values."
    )


# --- daily reports --------------------------------------------------------------------------


class RelatorioDiarioIn(Strict):
    data: date | None = Field(
        default=None,
        ge=date(1900, 1, 1),
        description="The gym-local day to report on; defaults to today (gym time zone), which "
        "reports the day so far. From the first stored check-in day to today.",
    )

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.RELATORIO_DIARIO_IN]}
    )


class RelatorioTotais(BaseModel):
    eventos_checkin: int = Field(description="Check-in events (entries and exits) that day.")
    visitas: int = Field(description="Visits whose entry was that day (shared pairing rule).")
    alunos_presentes: int = Field(description="Distinct members with a visit that day.")
    duracao_media_minutos: float | None = Field(description="Over the visits with an exit.")
    visitas_sem_saida: int = Field(description="No exit within 6 h, or still in the gym.")
    saidas_sem_entrada: int = Field(description="Exits with no matching entry.")
    novos_alto_risco: int = Field(
        description="Members whose latest score that day is 'alto' and whose previous was not."
    )

    model_config = ConfigDict(json_schema_extra={"examples": [examples.RELATORIO_TOTAIS]})


class RelatorioHora(BaseModel):
    hora: int = Field(ge=0, le=23, description="Hour of the entry, gym time.")
    visitas: int = Field(description="Visits started in that hour.")
    alunos: int = Field(description="Distinct members who started a visit in that hour.")


class RelatorioPlano(BaseModel):
    plano_id: int
    plano: str
    visitas: int
    alunos: int


class RelatorioResumo(BaseModel):
    data: date
    fuso_horario: str
    totais: RelatorioTotais
    por_hora: list[RelatorioHora] = Field(description="Hours 0..23, every hour listed.")
    por_plano: list[RelatorioPlano] = Field(
        description="Each member's current plan; active plans listed even with no visit."
    )

    model_config = ConfigDict(json_schema_extra={"examples": [examples.RELATORIO_RESUMO]})


class RelatorioPublic(BaseModel):
    """A stored daily report: download it at `/relatorios/{data}/csv` or `/html`."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.RELATORIO]})

    data: date
    gerado_em: datetime
    job_id: uuid.UUID | None = Field(description="The job that generated it, if any.")
    totais: RelatorioTotais


class RelatorioDetalhe(RelatorioPublic):
    resumo: RelatorioResumo

    model_config = ConfigDict(json_schema_extra={"examples": [examples.RELATORIO_DETALHE]})


# --- status ---------------------------------------------------------------------------------


class QueueDepth(BaseModel):
    fila: str
    mensagens: int
    consumidores: int
    dead_letter: int
    dead_letter_motivos: dict[str, int] = Field(
        default_factory=dict,
        description="Messages parked in the dead-letter queue, by reason (e.g. "
        "checkin_id_conflict, unknown_member), since the counts began; `gympulse dlq list` "
        "shows what the queue holds now.",
    )


class ServiceStatus(BaseModel):
    status: vocabulary.ServiceHealth
    detalhe: str | None = None
    latencia_ms: float | None = None


class StatusOut(BaseModel):
    status: vocabulary.ServiceHealth
    versao: str
    ambiente: str
    postgres: ServiceStatus
    rabbitmq: ServiceStatus
    redis: ServiceStatus
    filas: list[QueueDepth]
    migracao: str | None

    model_config = ConfigDict(json_schema_extra={"examples": [examples.STATUS_OUT]})


class CacheStatusOut(BaseModel):
    status: vocabulary.ServiceHealth
    hits: int
    misses: int
    taxa_acerto: float | None
    chaves: int
    memoria_usada: str | None
    por_tipo: dict[str, dict[str, int]]
    ttl_segundos: dict[str, int]
    detalhe: str | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [examples.CACHE_STATUS]})


# --- synthetic student (simulator) ----------------------------------------------------------


class AlunoSinteticoIn(Strict):
    """A member with a chosen attendance profile, to probe the churn model (the seed's
    "aluno sintético"). Its history is written before the answer, so its risk can be scored at
    once."""

    plano: PlanName = Field(description="Name of an active plan, e.g. Mensal.")
    visitas_semana: float = Field(
        gt=0, le=rules.STUDENT_VISITS_PER_WEEK_MAX, description="Average visits per week."
    )
    duracao: float = Field(
        ge=rules.STUDENT_MINUTES_MIN,
        le=rules.STUDENT_MINUTES_MAX,
        description="Average visit duration in minutes.",
    )
    # Before dias_desde_ultima: its validator reads it.
    semanas: int = Field(
        ge=rules.STUDENT_WEEKS_MIN,
        le=rules.STUDENT_WEEKS_MAX,
        description="Weeks of history (membership length).",
    )
    dias_desde_ultima: int = Field(
        ge=0,
        le=rules.STUDENT_WEEKS_MAX * 7,  # the validator below narrows it to the history
        description="Days since the last visit (gym time); 0 = today.",
    )
    nome: Name | None = None
    email: Email | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "plano": "Mensal",
                    "visitas_semana": 2,
                    "duracao": 50,
                    "dias_desde_ultima": 12,
                    "semanas": 16,
                }
            ]
        },
    )

    @field_validator("dias_desde_ultima")
    @classmethod
    def _inside_history(cls, value: int, info) -> int:
        semanas = info.data.get("semanas")
        if semanas is not None and value >= semanas * 7:
            raise ValueError("dias_desde_ultima must be shorter than the history (semanas * 7)")
        return value


class AlunoSinteticoOut(BaseModel):
    aluno_id: int
    aluno_ref: str
    checkins: int = Field(description="Check-in events written (one entry and one exit a visit).")
    visitas: int
    ultima_visita: datetime | None
    data_matricula: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "aluno_id": 812,
                    "aluno_ref": "SINT-3f9a1c0b7e",
                    "checkins": 58,
                    "visitas": 29,
                    "ultima_visita": "2026-11-17T15:00:06-03:00",
                    "data_matricula": "2026-08-09T07:00:00-03:00",
                }
            ]
        }
    )


class HealthOut(BaseModel):
    status: Literal["ok"]

    model_config = ConfigDict(json_schema_extra={"examples": [examples.HEALTH]})
