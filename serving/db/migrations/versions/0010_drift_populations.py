"""which days the drift monitor compared

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

`monitoramento_drift` rows say what was compared, so the Modelo page can say it too:

- `data_populacao`: the date whose rows were measured: for a feature, the newest whole-day
  training snapshot before the night (a Sunday, like the training weeks it is compared with;
  a night's own rows of a day still in progress would empty the "visited today" bin); for the
  score, the night's batch;
- `data_base`: for the score, the date of the model version's first batch, its reference;
  null for a feature (compared with the training weeks).

Rows written before this migration leave both null.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "alter table monitoramento_drift add column data_populacao date, add column data_base date"
    )


def downgrade() -> None:
    op.execute("alter table monitoramento_drift drop column data_populacao, drop column data_base")
