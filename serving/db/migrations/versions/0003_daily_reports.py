"""daily attendance reports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One row per gym-local day: generating a day again replaces its row (upsert on `data`).
    op.create_table(
        "relatorios_diarios",
        sa.Column("data", sa.Date(), nullable=False),
        sa.Column(
            "gerado_em", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("job_id", sa.UUID(), nullable=True),
        sa.Column("resumo", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("csv", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("data"),
    )


def downgrade() -> None:
    op.drop_table("relatorios_diarios")
