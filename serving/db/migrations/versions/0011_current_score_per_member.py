"""each member's current score found by one index probe, not by sorting the whole history

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

`previsoes_churn` keeps every score: a nightly batch adds a row per active member (100,000
members: 36 million rows a year). `previsoes_vigentes(ate)` (migration 0004) found each
member's score in force with a DISTINCT ON over all of them, so every reader of the current
scores (the at-risk list a batch publishes, the API's risk routes, the daily report, the
dashboard) grew slower every night: after ten batches of 100,000 members, a sort of a million
rows spilled to disk for every list.

Same rule, now per member: for each member, the first row of an index scan backwards over his
own scores (newest as-of date on or before `ate`, then newest computation, then newest id), so
the cost follows the number of members, not the years of history. The index carries the whole
ordering, replacing the (aluno_id, data_referencia) one: still one index per member for a
batch's COPY to maintain. Still one SQL SELECT, which PostgreSQL inlines; the member id comes
from `alunos`, so a filter on `aluno_id` reaches its primary key and one probe.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# previsoes_churn's columns in table order (the function returns its row type), the member's
# id from the outer `alunos`.
LATEST_AS_OF = """
create or replace function previsoes_vigentes(ate date) returns setof previsoes_churn
language sql stable as $$
    select
        p.id, a.id, p.data_referencia, p.probabilidade, p.faixa_risco, p.modelo_nome,
        p.modelo_versao, p.fatores, p.job_id, p.calculado_em
    from alunos as a
    cross join lateral (
        select *
        from previsoes_churn as h
        where h.aluno_id = a.id and h.data_referencia <= ate
        order by h.data_referencia desc, h.calculado_em desc, h.id desc
        limit 1
    ) as p
$$
"""
HISTORY_SORT = """
create or replace function previsoes_vigentes(ate date) returns setof previsoes_churn
language sql stable as $$
    select distinct on (aluno_id) *
    from previsoes_churn
    where data_referencia <= ate
    order by aluno_id, data_referencia desc, calculado_em desc, id desc
$$
"""


def upgrade() -> None:
    op.create_index(
        "ix_previsoes_aluno_vigente",
        "previsoes_churn",
        ["aluno_id", "data_referencia", "calculado_em", "id"],
    )
    op.drop_index("ix_previsoes_aluno_referencia", table_name="previsoes_churn")
    op.execute(LATEST_AS_OF)


def downgrade() -> None:
    op.execute(HISTORY_SORT)
    op.create_index(
        "ix_previsoes_aluno_referencia", "previsoes_churn", ["aluno_id", "data_referencia"]
    )
    op.drop_index("ix_previsoes_aluno_vigente", table_name="previsoes_churn")
