"""the at-risk list, one row per member, defined once in the database

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

`alunos_em_risco(fuso, ate)` is every reader's at-risk row: the API's `GET /alunos/risco`, the
Redis list the batch writes, `gympulse scores export` and the dashboard (read-only role) select
from it and add their own filters, order and limit. Each active member's score in force on `ate`
(`previsoes_vigentes`, migration 0004; `infinity` for the current one) with its name, plan, join
date, contract end, and attendance as the gym's calendar (`fuso`) sees it on that day (today when
`ate` is later): days since the last entry, visits in the last 4 weeks and the 8 before, and
their trend. `sintetico` flags members made by `POST /aluno/sintetico` (aluno_ref `SINT-…`),
which every list leaves out by default; `aluno_sintetico(aluno_ref)` is that rule, for every
reader (the daily report, dbt staging, the dashboard).

Speed: the function is one SQL SELECT, so PostgreSQL inlines it into the caller's query; the
attendance columns are scalar subqueries, which the planner evaluates after the caller's ORDER BY
and LIMIT, so they read `checkins` (by its (aluno_id, ocorrido_em) index) only for the rows
returned — a lateral join would run them for every active member before the sort.

The rules are dbt's (`dbt/macros/churn_feature_rows.sql`, `serving/sql/pair_visits.sql`): a
visit is an entry that is not a double tap (an entry within 2 minutes of an entry just before
it), dated by the gym-local day of the entry; the contract ends on the first renewal
(`data_matricula + k × duracao_meses` months) strictly after the day, as
`dias_para_fim_contrato` counts it; the trend is the weekly rate of the last 4 weeks over the
weekly rate of the 8 before (null when those had no visit), rounded as `razao_tendencia` is.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "gympulse_dashboard"
SIGNATURE = "alunos_em_risco(text, date)"
# The one definition of "a synthetic student" in SQL (the prefix is serving/rules.py's
# SYNTHETIC_REF_PREFIX; a test holds them equal). Immutable and one expression, so inlined.
IS_SYNTHETIC = """
create function aluno_sintetico(aluno_ref text) returns boolean
language sql immutable parallel safe as $$
    select coalesce(aluno_ref like 'SINT-%', false)
$$
"""

# The day the attendance is seen from, and a gym-local day as the instant it starts.
DAY = "least(ate, cast(now() at time zone fuso as date))"


def _day_start(days_before: int) -> str:
    return f"(cast({DAY} - {days_before} as timestamp) at time zone fuso)"


def _visits(first_day_back: int, last_day_back: int) -> str:
    """Visits of the member on the local days DAY - first_day_back .. DAY - last_day_back. The
    previous event is read from 2 minutes before the range, which is all the double-tap rule
    looks at."""
    start, end = _day_start(first_day_back), _day_start(last_day_back - 1)
    return f"""(
        select cast(count(*) as integer)
        from (
            select
                c.tipo,
                c.ocorrido_em,
                lag(c.tipo) over eventos as tipo_anterior,
                lag(c.ocorrido_em) over eventos as anterior_em
            from checkins as c
            where c.aluno_id = p.aluno_id
                and c.ocorrido_em >= {start} - interval '2 minutes'
                and c.ocorrido_em < {end}
            window eventos as (order by c.ocorrido_em, c.checkin_id)
        ) as e
        where e.tipo = 'entrada'
            and e.ocorrido_em >= {start}
            and (
                e.tipo_anterior is distinct from 'entrada'
                or e.ocorrido_em - e.anterior_em > interval '2 minutes'
            )
    )"""


LAST_4_WEEKS = _visits(27, 0)
EIGHT_WEEKS_BEFORE = _visits(83, 28)
JOINED = "cast(a.data_matricula at time zone fuso as date)"
MONTHS_SINCE_JOINING = (
    f"(extract(year from age({DAY}, {JOINED})) * 12 + extract(month from age({DAY}, {JOINED})))"
)
# dbt's dias_para_fim_contrato: the renewal after the whole periods served, or the one after it
# when that lands on the day itself (joined Jan 31 → Feb 28).
RENEWALS = f"(floor({MONTHS_SINCE_JOINING} / pl.duracao_meses) + 1)"
CONTRACT_END = f"""cast(
        {JOINED}
        + (
            {RENEWALS}
            + case
                when cast(
                    {JOINED} + {RENEWALS} * pl.duracao_meses * interval '1 month' as date
                ) <= {DAY} then 1
                else 0
            end
        ) * pl.duracao_meses * interval '1 month'
        as date
    )"""

AT_RISK = f"""
create function alunos_em_risco(fuso text, ate date default 'infinity')
returns table (
    aluno_id bigint,
    aluno_ref text,
    nome text,
    plano_id integer,
    plano text,
    data_matricula date,
    fim_contrato date,
    dias_desde_ultima_visita integer,
    visitas_4_semanas integer,
    visitas_8_semanas_anteriores integer,
    tendencia_visitas double precision,
    sintetico boolean,
    probabilidade double precision,
    faixa_risco text,
    fatores jsonb,
    modelo_nome text,
    modelo_versao text,
    data_referencia date,
    calculado_em timestamptz
)
language sql stable as $$
    select
        p.aluno_id,
        cast(a.aluno_ref as text),
        cast(a.nome as text),
        a.plano_id,
        cast(pl.nome as text),
        {JOINED},
        {CONTRACT_END},
        (
            select {DAY} - cast(max(c.ocorrido_em) at time zone fuso as date)
            from checkins as c
            where c.aluno_id = p.aluno_id
                and c.tipo = 'entrada'
                and c.ocorrido_em < {_day_start(-1)}
        ),
        {LAST_4_WEEKS},
        {EIGHT_WEEKS_BEFORE},
        cast(
            round(
                cast({LAST_4_WEEKS} / 4.0 / nullif({EIGHT_WEEKS_BEFORE} / 8.0, 0) as numeric), 3
            ) as double precision
        ),
        aluno_sintetico(a.aluno_ref),
        p.probabilidade,
        cast(p.faixa_risco as text),
        p.fatores,
        cast(p.modelo_nome as text),
        cast(p.modelo_versao as text),
        p.data_referencia,
        p.calculado_em
    from previsoes_vigentes(ate) as p
    inner join alunos as a on a.id = p.aluno_id
    inner join planos as pl on pl.id = a.plano_id
    where a.ativo
$$
"""


def upgrade() -> None:
    op.execute(IS_SYNTHETIC)
    op.execute(AT_RISK)
    op.execute(f"grant execute on function {SIGNATURE} to {ROLE}")


def downgrade() -> None:
    op.execute(f"drop function {SIGNATURE}")
    op.execute("drop function aluno_sintetico(text)")
