"""The platform's vocabularies, written once. Each is a `Literal` type (what pydantic validates and
OpenAPI shows) and the tuple of its values (what SQL check constraints, loops and tests read).

The words are the seed's public contract (Portuguese); the database's check constraints in the
migrations spell the same values, and a test compares them with these tuples."""

from typing import Final, Literal, get_args

Role = Literal["admin", "analista", "recepcao"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
ADMIN: Final[Role] = "admin"
ANALYST: Final[Role] = "analista"
FRONT_DESK: Final[Role] = "recepcao"
# The roles that register members, change their status and record manual check-ins.
DESK_ROLES: Final[tuple[Role, ...]] = (ADMIN, FRONT_DESK)
# The roles that read everything (reports, risk lists, jobs, status).
READER_ROLES: Final[tuple[Role, ...]] = (ADMIN, ANALYST)
# Not a staff role: who posts with a device key (X-API-Key); it may only record check-ins.
KIOSK: Final = "kiosk"

CheckinType = Literal["entrada", "saida"]
CHECKIN_TYPES: Final[tuple[CheckinType, ...]] = get_args(CheckinType)
ENTRY: Final[CheckinType] = "entrada"
EXIT: Final[CheckinType] = "saida"

# Where a check-in came from: a kiosk, the front desk, the bulk route, the history import, the
# simulator.
CheckinOrigin = Literal["kiosk", "manual", "lote", "import", "simulador"]
CHECKIN_ORIGINS: Final[tuple[CheckinOrigin, ...]] = get_args(CheckinOrigin)

JobState = Literal["queued", "running", "done", "failed"]
JOB_STATES: Final[tuple[JobState, ...]] = get_args(JobState)
QUEUED: Final[JobState] = "queued"
RUNNING: Final[JobState] = "running"
DONE: Final[JobState] = "done"
FAILED: Final[JobState] = "failed"
UNFINISHED_JOB_STATES: Final[tuple[JobState, ...]] = (QUEUED, RUNNING)

# The kinds of job, as stored in `jobs.tipo` and carried in queue messages.
JobKind = Literal["atualizar-modelo", "calcular-churn", "relatorio-diario"]
JOB_KINDS: Final[tuple[JobKind, ...]] = get_args(JobKind)
MODEL_UPDATE: Final[JobKind] = "atualizar-modelo"
CHURN_SCORING: Final[JobKind] = "calcular-churn"
DAILY_REPORT: Final[JobKind] = "relatorio-diario"

# What the audit log records (`auditoria.acao`, serving/audit.py): `<what>.<what happened to it>`.
AuditAction = Literal[
    "usuario.criado",
    "usuario.alterado",
    "dispositivo.criado",
    "dispositivo.revogado",
    "plano.criado",
    "plano.alterado",
    "job.solicitado",
    "aluno.registrado",
    "aluno.alterado",
    "aluno.ativado",
    "aluno.desativado",
    "aluno_sintetico.criado",
]
AUDIT_ACTIONS: Final[tuple[AuditAction, ...]] = get_args(AuditAction)
USER_CREATED: Final[AuditAction] = "usuario.criado"
USER_CHANGED: Final[AuditAction] = "usuario.alterado"
DEVICE_CREATED: Final[AuditAction] = "dispositivo.criado"
DEVICE_REVOKED: Final[AuditAction] = "dispositivo.revogado"
PLAN_CREATED: Final[AuditAction] = "plano.criado"
PLAN_CHANGED: Final[AuditAction] = "plano.alterado"
JOB_REQUESTED: Final[AuditAction] = "job.solicitado"
MEMBER_REGISTERED: Final[AuditAction] = "aluno.registrado"
MEMBER_CHANGED: Final[AuditAction] = "aluno.alterado"
MEMBER_ACTIVATED: Final[AuditAction] = "aluno.ativado"
MEMBER_DEACTIVATED: Final[AuditAction] = "aluno.desativado"
SYNTHETIC_MEMBER_CREATED: Final[AuditAction] = "aluno_sintetico.criado"

# Risk tiers, highest first.
RiskTier = Literal["alto", "medio", "baixo"]
RISK_TIERS: Final[tuple[RiskTier, ...]] = get_args(RiskTier)
HIGH: Final[RiskTier] = "alto"
MEDIUM: Final[RiskTier] = "medio"
LOW: Final[RiskTier] = "baixo"

ServiceHealth = Literal["ok", "degraded", "down"]

# Why a check-in message sits in the dead-letter queue. The consumer writes the first five into
# the message (`serving/messaging/dead_letters.py`); the broker's own dead-lettering only says
# `delivery_limit` (redelivered too often) or `rejected` (a reject without our reason).
DeadLetterReason = Literal[
    "undecodable",
    "invalid_fields",
    "unknown_member",
    "checkin_id_conflict",
    "refused_by_database",
    "delivery_limit",
    "rejected",
]
DEAD_LETTER_REASONS: Final[tuple[DeadLetterReason, ...]] = get_args(DeadLetterReason)
UNDECODABLE: Final[DeadLetterReason] = "undecodable"
INVALID_FIELDS: Final[DeadLetterReason] = "invalid_fields"
UNKNOWN_MEMBER: Final[DeadLetterReason] = "unknown_member"
CHECKIN_ID_CONFLICT: Final[DeadLetterReason] = "checkin_id_conflict"
REFUSED_BY_DATABASE: Final[DeadLetterReason] = "refused_by_database"
DELIVERY_LIMIT: Final[DeadLetterReason] = "delivery_limit"
REJECTED: Final[DeadLetterReason] = "rejected"
