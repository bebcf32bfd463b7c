"""The application tables. Their names and columns are the seed's public contract (Portuguese)."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from serving.vocabulary import AUDIT_ACTIONS, QUEUED


class Base(DeclarativeBase):
    pass


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Plano(Base):
    __tablename__ = "planos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nome: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    descricao: Mapped[str | None] = mapped_column(Text)
    valor_mensal: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    duracao_meses: Mapped[int] = mapped_column(Integer, nullable=False)
    ativo: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    criado_em: Mapped[datetime] = _now_column()

    __table_args__ = (
        CheckConstraint("valor_mensal >= 0", name="ck_planos_valor_nao_negativo"),
        CheckConstraint("duracao_meses between 1 and 60", name="ck_planos_duracao"),
    )


class Aluno(Base):
    __tablename__ = "alunos"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    aluno_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    nome: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str | None] = mapped_column(String(320))
    telefone: Mapped[str | None] = mapped_column(String(40))
    data_nascimento: Mapped[date | None] = mapped_column(Date)
    plano_id: Mapped[int] = mapped_column(ForeignKey("planos.id"), nullable=False)
    data_matricula: Mapped[datetime] = _now_column()
    # Current state, kept in step with alunos_status_historico in the same transaction.
    ativo: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    criado_em: Mapped[datetime] = _now_column()
    atualizado_em: Mapped[datetime] = _now_column()

    __table_args__ = (
        Index("uq_alunos_email_lower", func.lower(email), unique=True),
        Index("ix_alunos_nome_lower", func.lower(nome)),
        Index("ix_alunos_plano", "plano_id"),
    )


class AlunoStatus(Base):
    """Append-only: a trigger refuses updates and deletes, so any past date can be rebuilt."""

    __tablename__ = "alunos_status_historico"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    aluno_id: Mapped[int] = mapped_column(ForeignKey("alunos.id"), nullable=False)
    ativo: Mapped[bool] = mapped_column(Boolean, nullable=False)
    ocorrido_em: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    motivo: Mapped[str | None] = mapped_column(Text)
    registrado_por: Mapped[str | None] = mapped_column(String(120))
    registrado_em: Mapped[datetime] = _now_column()

    __table_args__ = (
        Index("ix_status_aluno_tempo", "aluno_id", "ocorrido_em"),
        Index("uq_status_aluno_tempo_estado", "aluno_id", "ocorrido_em", "ativo", unique=True),
    )


class Checkin(Base):
    """One kiosk event. `checkin_id` is chosen by the kiosk and reused on retries."""

    __tablename__ = "checkins"

    checkin_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    aluno_id: Mapped[int] = mapped_column(ForeignKey("alunos.id"), nullable=False)
    tipo: Mapped[str] = mapped_column(String(10), nullable=False)
    ocorrido_em: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    dispositivo: Mapped[str | None] = mapped_column(String(120))
    origem: Mapped[str] = mapped_column(String(20), nullable=False, server_default="api")
    aceito_em: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    gravado_em: Mapped[datetime] = _now_column()

    __table_args__ = (
        CheckConstraint("tipo in ('entrada', 'saida')", name="ck_checkins_tipo"),
        Index("ix_checkins_aluno_tempo", "aluno_id", "ocorrido_em"),
        Index("ix_checkins_tempo", "ocorrido_em"),
    )


class Usuario(Base):
    __tablename__ = "usuarios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    email: Mapped[str | None] = mapped_column(String(320))
    nome: Mapped[str | None] = mapped_column(String(200))
    senha_hash: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    ativo: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    criado_em: Mapped[datetime] = _now_column()

    __table_args__ = (
        CheckConstraint("role in ('admin', 'analista', 'recepcao')", name="ck_usuarios_role"),
    )


class RefreshToken(Base):
    """Opaque refresh tokens, stored hashed and rotated on use; reuse revokes the family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    usuario_id: Mapped[int] = mapped_column(ForeignKey("usuarios.id"), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    familia: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    expira_em: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    usado_em: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revogado_em: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    criado_em: Mapped[datetime] = _now_column()

    __table_args__ = (Index("ix_refresh_familia", "familia"),)


class Dispositivo(Base):
    """A kiosk. Its API key is shown once and stored as a SHA-256 hash."""

    __tablename__ = "dispositivos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nome: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    local: Mapped[str | None] = mapped_column(String(200))
    chave_prefixo: Mapped[str] = mapped_column(String(16), nullable=False)
    chave_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    criado_em: Mapped[datetime] = _now_column()
    revogado_em: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ultimo_uso_em: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tipo: Mapped[str] = mapped_column(String(40), nullable=False)
    estado: Mapped[str] = mapped_column(String(10), nullable=False, server_default=QUEUED)
    progresso: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("0"))
    mensagem: Mapped[str | None] = mapped_column(Text)
    parametros: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    resultado: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    erro: Mapped[str | None] = mapped_column(Text)
    solicitado_por: Mapped[str | None] = mapped_column(String(120))
    criado_em: Mapped[datetime] = _now_column()
    iniciado_em: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    terminado_em: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("estado in ('queued', 'running', 'done', 'failed')", name="ck_jobs_estado"),
        CheckConstraint("progresso between 0 and 1", name="ck_jobs_progresso"),
        Index("ix_jobs_criado", "criado_em"),
        # At most one pending job per kind and arguments (migration 0007).
        Index(
            "uq_jobs_one_pending",
            "tipo",
            "parametros",
            unique=True,
            postgresql_where=text("estado in ('queued', 'running')"),
        ),
    )


class PrevisaoChurn(Base):
    """Score history: every batch appends. The current score of each member is read from the
    view `previsoes_churn_atuais` (migrations 0004, 0011), never recomputed by a reader."""

    __tablename__ = "previsoes_churn"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    aluno_id: Mapped[int] = mapped_column(ForeignKey("alunos.id"), nullable=False)
    data_referencia: Mapped[date] = mapped_column(Date, nullable=False)
    probabilidade: Mapped[float] = mapped_column(Float, nullable=False)
    faixa_risco: Mapped[str] = mapped_column(String(10), nullable=False)
    modelo_nome: Mapped[str] = mapped_column(String(120), nullable=False)
    modelo_versao: Mapped[str] = mapped_column(String(40), nullable=False)
    fatores: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    calculado_em: Mapped[datetime] = _now_column()

    __table_args__ = (
        CheckConstraint("probabilidade between 0 and 1", name="ck_previsoes_probabilidade"),
        CheckConstraint("faixa_risco in ('baixo', 'medio', 'alto')", name="ck_previsoes_faixa"),
        Index("ix_previsoes_aluno_vigente", "aluno_id", "data_referencia", "calculado_em", "id"),
        Index("ix_previsoes_referencia", "data_referencia"),
    )


class RelatorioDiario(Base):
    """The daily attendance report of one gym-local day; generating a day again replaces it."""

    __tablename__ = "relatorios_diarios"

    data: Mapped[date] = mapped_column(Date, primary_key=True)
    gerado_em: Mapped[datetime] = _now_column()
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    resumo: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    csv: Mapped[str] = mapped_column(Text, nullable=False)
    html: Mapped[str] = mapped_column(Text, nullable=False)


class Auditoria(Base):
    """The audit log: who did what to users, kiosks, plans, jobs and members, and when. Written
    only by `serving/audit.py`, in the transaction of the change it records; append-only (a
    trigger, migration 0008)."""

    __tablename__ = "auditoria"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ocorrido_em: Mapped[datetime] = _now_column()
    usuario_id: Mapped[int | None] = mapped_column(ForeignKey("usuarios.id", ondelete="SET NULL"))
    # The username (or "cli") at the time: the row still says who after a rename.
    ator: Mapped[str] = mapped_column(String(120), nullable=False)
    acao: Mapped[str] = mapped_column(String(40), nullable=False)
    alvo: Mapped[str] = mapped_column(String(120), nullable=False)
    detalhes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )

    __table_args__ = (
        CheckConstraint(
            "acao in (" + ", ".join(f"'{action}'" for action in AUDIT_ACTIONS) + ")",
            name="ck_auditoria_acao",
        ),
        Index("ix_auditoria_ocorrido", text("ocorrido_em desc")),
    )
