"""The model monitor's tables (migration 0009): their one writer, and the reads the monitor
computes from.

- `batch_probabilities`: the probabilities a model version gave on one scoring date (each
  member's newest score of that date), for the score distribution's PSI; `first_batch_date`:
  the scoring date of the version's earliest batch, the score's reference.
- `realised_outcomes`: for every scoring date whose 30 days have closed by `as_of`
  (`data_referencia + horizon <= as_of`, the label rule of `churn_features`), each member's
  score of that date against whether his active period ended within those days, read from the
  warehouse's `int_alunos_status_periodos` (the periods dbt derives from the status history,
  the same ones the labels come from). Grouped per month of the scoring date and risk tier, and
  per month over every tier (`todas`). SQL rather than a dbt mart: the scores of tonight's batch
  are written after dbt has run, and only the monitor reads this.
- `save_monitoring`: tonight's rows replace any the same night and model wrote before.

Synthetic students (`POST /aluno/sintetico`) are left out: they never cancel.
"""

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

ALL_TIERS = "todas"
# data_populacao: the date whose rows were measured; data_base: the score's reference batch
# (null for a feature, compared with the training weeks).
DRIFT_COLUMNS = ("variavel", "psi", "alerta", "data_populacao", "data_base")
CALIBRATION_COLUMNS = (
    "mes",
    "faixa_risco",
    "datas_pontuacao",
    "pontuacoes",
    "prevista",
    "realizada",
    "diferenca_pp",
    "alerta",
)

_NEWEST_PER_MEMBER_AND_DATE = """
    select distinct on (p.aluno_id, p.data_referencia)
        p.aluno_id, p.data_referencia, p.probabilidade, p.faixa_risco
    from previsoes_churn as p
    inner join alunos as a on a.id = p.aluno_id
    where p.modelo_nome = :model_name and not aluno_sintetico(a.aluno_ref) {only}
    order by p.aluno_id, p.data_referencia, p.calculado_em desc, p.id desc
"""


def batch_probabilities(
    engine: sa.Engine, *, model_name: str, model_version: str, as_of: date
) -> list[float]:
    sql = _NEWEST_PER_MEMBER_AND_DATE.format(
        only="and p.data_referencia = :as_of and p.modelo_versao = :model_version"
    )
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(sql),
            {"model_name": model_name, "model_version": model_version, "as_of": as_of},
        )
        return [float(row.probabilidade) for row in rows]


def first_batch_date(engine: sa.Engine, *, model_name: str, model_version: str) -> date | None:
    """The scoring date of the version's first computed scores (backtests of older dates
    scored later do not move it)."""
    sql = """
        select data_referencia from previsoes_churn
        where modelo_nome = :model_name and modelo_versao = :model_version
        order by calculado_em, id
        limit 1
    """
    with engine.connect() as conn:
        return conn.execute(
            sa.text(sql), {"model_name": model_name, "model_version": model_version}
        ).scalar_one_or_none()


def realised_outcomes(
    engine: sa.Engine, *, warehouse_schema: str, model_name: str, as_of: date, horizon: int
) -> list[dict[str, Any]]:
    """mes, faixa_risco, datas_pontuacao, pontuacoes, prevista (mean probability) and realizada
    (share cancelled within `horizon` days), oldest month first, the month's `todas` row last."""
    scored = _NEWEST_PER_MEMBER_AND_DATE.format(only="and p.data_referencia + :horizon <= :as_of")
    sql = f"""
        with pontuacoes as ({scored}),
        desfechos as (
            select
                s.data_referencia,
                s.faixa_risco,
                s.probabilidade,
                case
                    when per.data_fim is not null
                        and per.data_fim <= s.data_referencia + :horizon then 1.0
                    else 0.0
                end as cancelou
            from pontuacoes as s
            inner join "{warehouse_schema}".int_alunos_status_periodos as per
                on per.aluno_id = s.aluno_id
                and per.data_inicio <= s.data_referencia
                and (per.data_fim is null or per.data_fim > s.data_referencia)
        )
        select
            cast(date_trunc('month', data_referencia) as date) as mes,
            coalesce(faixa_risco, :all_tiers) as faixa_risco,
            cast(count(distinct data_referencia) as integer) as datas_pontuacao,
            cast(count(*) as integer) as pontuacoes,
            avg(probabilidade) as prevista,
            cast(avg(cancelou) as double precision) as realizada
        from desfechos
        group by grouping sets ((1, faixa_risco), (1))
        order by 1, grouping(faixa_risco), 2
    """
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(sql),
            {"model_name": model_name, "as_of": as_of, "horizon": horizon, "all_tiers": ALL_TIERS},
        )
        return [dict(row._mapping) for row in rows]


def save_monitoring(
    engine: sa.Engine,
    *,
    as_of: date,
    model_name: str,
    model_version: str,
    drift: Sequence[Mapping[str, Any]],
    calibration: Sequence[Mapping[str, Any]],
) -> None:
    """Tonight's PSI and calibration rows, in one transaction, replacing the night's earlier
    ones for this model."""
    night = {"data_referencia": as_of, "modelo_nome": model_name, "modelo_versao": model_version}
    with engine.begin() as conn:
        for table, columns, rows in (
            ("monitoramento_drift", DRIFT_COLUMNS, drift),
            ("monitoramento_calibracao", CALIBRATION_COLUMNS, calibration),
        ):
            conn.execute(
                sa.text(
                    f"delete from {table} "
                    "where data_referencia = :data_referencia and modelo_nome = :modelo_nome"
                ),
                night,
            )
            if rows:
                names = (*night, *columns)
                conn.execute(
                    sa.text(
                        f"insert into {table} ({', '.join(names)}) "
                        f"values ({', '.join(':' + n for n in names)})"
                    ),
                    [night | {c: row[c] for c in columns} for row in rows],
                )
