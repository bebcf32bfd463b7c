"""the dashboard's reads run without PostgreSQL's JIT

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

Every dashboard query answers a page: a few hundred rows at most, read through indexes. The
at-risk list (`alunos_em_risco`, migration 0006) is the one whose plan estimate misleads: its
attendance columns are subqueries costed for every active member, though only the rows past the
LIMIT run them, so at 100,000 members the estimate passes the JIT thresholds and compiling the
plan took 2.4 s of a 0.1 s query, on every page load that missed Redis. The API's at-risk reads
turn JIT off for their own transaction (`serving.scores.WITHOUT_JIT`); the dashboard's role
turns it off for all its sessions, beside its read-only and timeout settings (migration 0005).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "gympulse_dashboard"


def upgrade() -> None:
    op.execute(f"alter role {ROLE} set jit = off")


def downgrade() -> None:
    op.execute(f"alter role {ROLE} reset jit")
