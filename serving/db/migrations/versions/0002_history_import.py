"""history import: members without e-mail, idempotent status history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A gym's legacy system may not have every member's e-mail; the API still requires one.
    op.alter_column("alunos", "email", existing_type=sa.String(length=320), nullable=True)
    # The same status event imported twice is one event.
    op.create_index(
        "uq_status_aluno_tempo_estado",
        "alunos_status_historico",
        ["aluno_id", "ocorrido_em", "ativo"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_status_aluno_tempo_estado", table_name="alunos_status_historico")
    op.alter_column("alunos", "email", existing_type=sa.String(length=320), nullable=False)
