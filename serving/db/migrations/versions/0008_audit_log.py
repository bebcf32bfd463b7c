"""the audit log of admin actions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

`auditoria` holds who did what, and when: one row per change made by a staff user (or by the
command line, `ator` 'cli') to users, kiosks, plans, jobs and members. `serving/audit.py` writes
it in the transaction of the change it records, so a refused change leaves no row and a stored
change always has one. `ator` is the username (or kiosk name) at the time, kept when the user is
renamed; `usuario_id` links to the user while it exists (set null if it is ever deleted).
`detalhes` names the fields changed with their new values, personal and secret ones only as the
word "alterado"/"informado" (docs/personal-data.md).

The log only grows: a trigger refuses deletes and changes to what a row says (the function of
migration 0001); only the foreign key's own `set null` may touch `usuario_id`. Admins read it
through `GET /admin/auditoria`; the dashboard's read-only role gets no grant on it (migration
0005), so the Operações page reads it through the API with the admin's token.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The actions spelled as serving.vocabulary.AUDIT_ACTIONS (a migration is frozen in time, so it
# does not import the vocabulary; a test compares them).
ACTIONS = (
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
)
APPEND_ONLY_TRIGGER = """
create trigger trg_auditoria_append_only
before delete or update of id, ocorrido_em, ator, acao, alvo, detalhes on auditoria
for each row execute function gympulse_refuse_change()
"""


def upgrade() -> None:
    op.create_table(
        "auditoria",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "ocorrido_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("usuario_id", sa.Integer(), nullable=True),
        sa.Column("ator", sa.String(length=120), nullable=False),
        sa.Column("acao", sa.String(length=40), nullable=False),
        sa.Column("alvo", sa.String(length=120), nullable=False),
        sa.Column(
            "detalhes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "acao in (" + ", ".join(f"'{action}'" for action in ACTIONS) + ")",
            name="ck_auditoria_acao",
        ),
        sa.ForeignKeyConstraint(["usuario_id"], ["usuarios.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_auditoria_ocorrido", "auditoria", [sa.text("ocorrido_em desc")])
    op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    op.drop_table("auditoria")  # its index and trigger go with it
