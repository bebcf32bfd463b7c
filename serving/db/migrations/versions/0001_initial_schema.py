"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 02:01:43.312489
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Status history is the record churn labels are rebuilt from: it may only grow.
APPEND_ONLY_FUNCTION = """
create or replace function gympulse_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only: % refused', tg_table_name, tg_op
        using errcode = 'restrict_violation';
end;
$$
"""
APPEND_ONLY_TRIGGER = """
create trigger trg_status_historico_append_only
before update or delete on alunos_status_historico
for each row execute function gympulse_refuse_change()
"""


def upgrade() -> None:
    op.create_table(
        "dispositivos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nome", sa.String(length=120), nullable=False),
        sa.Column("local", sa.String(length=200), nullable=True),
        sa.Column("chave_prefixo", sa.String(length=16), nullable=False),
        sa.Column("chave_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "criado_em", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("revogado_em", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ultimo_uso_em", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chave_hash"),
        sa.UniqueConstraint("nome"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tipo", sa.String(length=40), nullable=False),
        sa.Column("estado", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("progresso", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("mensagem", sa.Text(), nullable=True),
        sa.Column(
            "parametros",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("resultado", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("erro", sa.Text(), nullable=True),
        sa.Column("solicitado_por", sa.String(length=120), nullable=True),
        sa.Column(
            "criado_em", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("iniciado_em", sa.DateTime(timezone=True), nullable=True),
        sa.Column("terminado_em", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "estado in ('queued', 'running', 'done', 'failed')", name="ck_jobs_estado"
        ),
        sa.CheckConstraint("progresso between 0 and 1", name="ck_jobs_progresso"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_criado", "jobs", ["criado_em"], unique=False)
    op.create_table(
        "planos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nome", sa.String(length=80), nullable=False),
        sa.Column("descricao", sa.Text(), nullable=True),
        sa.Column("valor_mensal", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("duracao_meses", sa.Integer(), nullable=False),
        sa.Column("ativo", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "criado_em", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("duracao_meses between 1 and 60", name="ck_planos_duracao"),
        sa.CheckConstraint("valor_mensal >= 0", name="ck_planos_valor_nao_negativo"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nome"),
    )
    op.create_table(
        "usuarios",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("nome", sa.String(length=200), nullable=True),
        sa.Column("senha_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("ativo", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "criado_em", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("role in ('admin', 'analista', 'recepcao')", name="ck_usuarios_role"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "alunos",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("aluno_ref", sa.String(length=64), nullable=True),
        sa.Column("nome", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("telefone", sa.String(length=40), nullable=True),
        sa.Column("data_nascimento", sa.Date(), nullable=True),
        sa.Column("plano_id", sa.Integer(), nullable=False),
        sa.Column(
            "data_matricula",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("ativo", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "criado_em", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "atualizado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["plano_id"],
            ["planos.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("aluno_ref"),
    )
    op.create_index(
        "ix_alunos_nome_lower", "alunos", [sa.literal_column("lower(nome)")], unique=False
    )
    op.create_index("ix_alunos_plano", "alunos", ["plano_id"], unique=False)
    op.create_index(
        "uq_alunos_email_lower", "alunos", [sa.literal_column("lower(email)")], unique=True
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("usuario_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("familia", sa.UUID(), nullable=False),
        sa.Column("expira_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("usado_em", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revogado_em", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "criado_em", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["usuario_id"],
            ["usuarios.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_refresh_familia", "refresh_tokens", ["familia"], unique=False)
    op.create_table(
        "alunos_status_historico",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("aluno_id", sa.BigInteger(), nullable=False),
        sa.Column("ativo", sa.Boolean(), nullable=False),
        sa.Column("ocorrido_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("motivo", sa.Text(), nullable=True),
        sa.Column("registrado_por", sa.String(length=120), nullable=True),
        sa.Column(
            "registrado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["aluno_id"],
            ["alunos.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_status_aluno_tempo",
        "alunos_status_historico",
        ["aluno_id", "ocorrido_em"],
        unique=False,
    )
    op.create_table(
        "checkins",
        sa.Column("checkin_id", sa.UUID(), nullable=False),
        sa.Column("aluno_id", sa.BigInteger(), nullable=False),
        sa.Column("tipo", sa.String(length=10), nullable=False),
        sa.Column("ocorrido_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispositivo", sa.String(length=120), nullable=True),
        sa.Column("origem", sa.String(length=20), server_default="api", nullable=False),
        sa.Column("aceito_em", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "gravado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("tipo in ('entrada', 'saida')", name="ck_checkins_tipo"),
        sa.ForeignKeyConstraint(
            ["aluno_id"],
            ["alunos.id"],
        ),
        sa.PrimaryKeyConstraint("checkin_id"),
    )
    op.create_index(
        "ix_checkins_aluno_tempo", "checkins", ["aluno_id", "ocorrido_em"], unique=False
    )
    op.create_index("ix_checkins_tempo", "checkins", ["ocorrido_em"], unique=False)
    op.create_table(
        "previsoes_churn",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("aluno_id", sa.BigInteger(), nullable=False),
        sa.Column("data_referencia", sa.Date(), nullable=False),
        sa.Column("probabilidade", sa.Float(), nullable=False),
        sa.Column("faixa_risco", sa.String(length=10), nullable=False),
        sa.Column("modelo_nome", sa.String(length=120), nullable=False),
        sa.Column("modelo_versao", sa.String(length=40), nullable=False),
        sa.Column(
            "fatores",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("job_id", sa.UUID(), nullable=True),
        sa.Column(
            "calculado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("faixa_risco in ('baixo', 'medio', 'alto')", name="ck_previsoes_faixa"),
        sa.CheckConstraint("probabilidade between 0 and 1", name="ck_previsoes_probabilidade"),
        sa.ForeignKeyConstraint(
            ["aluno_id"],
            ["alunos.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_previsoes_aluno_calculado",
        "previsoes_churn",
        ["aluno_id", "calculado_em"],
        unique=False,
    )
    op.create_index("ix_previsoes_referencia", "previsoes_churn", ["data_referencia"], unique=False)

    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    op.execute("drop trigger if exists trg_status_historico_append_only on alunos_status_historico")
    op.execute("drop function if exists gympulse_refuse_change()")
    op.drop_index("ix_previsoes_referencia", table_name="previsoes_churn")
    op.drop_index("ix_previsoes_aluno_calculado", table_name="previsoes_churn")
    op.drop_table("previsoes_churn")
    op.drop_index("ix_checkins_tempo", table_name="checkins")
    op.drop_index("ix_checkins_aluno_tempo", table_name="checkins")
    op.drop_table("checkins")
    op.drop_index("ix_status_aluno_tempo", table_name="alunos_status_historico")
    op.drop_table("alunos_status_historico")
    op.drop_index("ix_refresh_familia", table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index("uq_alunos_email_lower", table_name="alunos")
    op.drop_index("ix_alunos_plano", table_name="alunos")
    op.drop_index("ix_alunos_nome_lower", table_name="alunos")
    op.drop_table("alunos")
    op.drop_table("usuarios")
    op.drop_table("planos")
    op.drop_index("ix_jobs_criado", table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("dispositivos")
