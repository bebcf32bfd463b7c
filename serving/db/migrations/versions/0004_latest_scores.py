"""the latest churn score per member, defined once in the database

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Every reader of "a member's current score" (the API's risk routes, the at-risk list, the daily
report, the scores export, the dashboard) selects from `previsoes_vigentes(date)` or its view
`previsoes_churn_atuais` instead of writing its own DISTINCT ON. Latest means: the newest as-of
date on or before the given day, then the newest computation of that date — so a backtest
scored today for a past date never hides today's score. The function is a single SQL SELECT, so
PostgreSQL inlines it and a filter on `aluno_id` reaches the (aluno_id, data_referencia) index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LATEST_AS_OF = """
create function previsoes_vigentes(ate date) returns setof previsoes_churn
language sql stable as $$
    select distinct on (aluno_id) *
    from previsoes_churn
    where data_referencia <= ate
    order by aluno_id, data_referencia desc, calculado_em desc, id desc
$$
"""
LATEST_VIEW = """
create view previsoes_churn_atuais as
select * from previsoes_vigentes('infinity'::date)
"""


def upgrade() -> None:
    # Replaces the (aluno_id, calculado_em) index, which only the readers' old ordering used:
    # one index per member still, so a batch's COPY maintains no more than before.
    op.drop_index("ix_previsoes_aluno_calculado", table_name="previsoes_churn")
    op.create_index(
        "ix_previsoes_aluno_referencia", "previsoes_churn", ["aluno_id", "data_referencia"]
    )
    op.execute(LATEST_AS_OF)
    op.execute(LATEST_VIEW)


def downgrade() -> None:
    op.execute("drop view previsoes_churn_atuais")
    op.execute("drop function previsoes_vigentes(date)")
    op.drop_index("ix_previsoes_aluno_referencia", table_name="previsoes_churn")
    op.create_index("ix_previsoes_aluno_calculado", "previsoes_churn", ["aluno_id", "calculado_em"])
