"""Coortes: the retention matrix is the warehouse's, and the survival curves are scikit-survival's
Kaplan–Meier estimate of members' current spell, computed here from the status history."""

import numpy as np
import pandas as pd
import pytest
from sksurv.nonparametric import kaplan_meier_estimator

from tests.dashboard.chart_support import chart_data
from tests.dashboard.conftest import redis_down

PAGE = "pages/coortes.py"


def _spells(gym) -> pd.DataFrame:
    """Per real member: plan, and the current spell (the last activation that followed a
    non-active state, to the first deactivation after it or the as-of date), in gym-local days."""
    schema = gym.settings.dbt_schema
    rows = gym.conn.execute(
        f"""
        with as_of as (select max(data_medicao) as dia from "{schema}".cohort_retention),
        eventos as (
            select h.aluno_id, h.ativo, (h.ocorrido_em at time zone %(tz)s)::date as dia,
                   h.ocorrido_em, h.id,
                   lag(h.ativo) over (partition by h.aluno_id order by h.ocorrido_em, h.id) as antes
            from alunos_status_historico h
        ),
        ativacao as (
            select distinct on (e.aluno_id) e.aluno_id, e.dia, e.ocorrido_em
            from eventos e, as_of
            where e.ativo and (e.antes is null or not e.antes) and e.dia <= as_of.dia
            order by e.aluno_id, e.ocorrido_em desc, e.id desc
        ),
        saida as (
            select at.aluno_id, min(e.dia) as dia
            from ativacao at
            join eventos e on e.aluno_id = at.aluno_id and not e.ativo and e.ocorrido_em > at.ocorrido_em
            group by at.aluno_id
        )
        select p.nome, least(coalesce(s.dia, as_of.dia), as_of.dia) - at.dia,
               coalesce(s.dia <= as_of.dia, false)
        from ativacao at
        cross join as_of
        join alunos a on a.id = at.aluno_id
        join planos p on p.id = a.plano_id
        left join saida s on s.aluno_id = at.aluno_id
        where coalesce(a.aluno_ref, '') not like 'SINT-%%'
        """,
        {"tz": gym.settings.gym_timezone},
    ).fetchall()
    return pd.DataFrame(rows, columns=["plano", "dias", "cancelou"])


@pytest.mark.parametrize("role", ["analista", "admin"])
def test_the_matrix_is_the_cohort_retention_mart(gym, open_app, role):
    at = open_app(role, PAGE)

    assert not at.exception
    assert at.title[0].value == "Coortes"
    cells = pd.DataFrame(
        gym.conn.execute(
            f"select mes_coorte, meses_desde_matricula, taxa_retencao, count_alunos_coorte "
            f'from "{gym.settings.dbt_schema}".cohort_retention'
        ).fetchall(),
        columns=["mes", "meses", "taxa", "alunos"],
    )
    matrix = at.dataframe[0].value.set_index("coorte")
    assert len(matrix) == cells["mes"].nunique()
    for cell in cells.itertuples():
        row = matrix.loc[cell.mes.strftime("%m/%Y")]
        assert row[f"mês {cell.meses}"] == pytest.approx(float(cell.taxa))
        assert row["alunos"] == cell.alunos
    heat = chart_data(at, "primeiros_90_dias")
    assert set(heat[heat["primeiros_90_dias"]]["meses_desde_matricula"]) == {0, 1, 2}


def test_each_plan_has_a_kaplan_meier_curve_with_its_95_percent_band(gym, open_app):
    at = open_app("analista", PAGE)

    assert not at.exception
    curves = chart_data(at, "sobrevivencia")
    spells = _spells(gym)
    assert set(curves["grupo"]) == set(spells["plano"])
    for plan, members in spells.groupby("plano"):
        time, survival, _band = kaplan_meier_estimator(
            members["cancelou"].to_numpy(bool), members["dias"].to_numpy(float), conf_type="log-log"
        )
        curve = curves[curves["grupo"] == plan]
        assert curve["alunos"].iloc[0] == len(members)
        day = 90
        expected = survival[time <= day][-1] if (time <= day).any() else 1.0
        shown = curve[curve["dias"] <= day].iloc[-1]
        assert shown["sobrevivencia"] == pytest.approx(expected), plan
        assert shown["inferior"] <= shown["sobrevivencia"] <= shown["superior"], plan
        assert np.all(np.diff(curve["sobrevivencia"].to_numpy()) <= 1e-12), plan
        if 0 < expected < 1:
            assert shown["inferior"] < shown["superior"], plan


def test_with_redis_down_the_page_still_renders(gym, open_app, monkeypatch):
    redis_down(monkeypatch)
    at = open_app("analista", PAGE)

    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 2
