"""Frequência: the charts carry the period's visits, and the engagement segments count the
members an analyst would count by hand (synthetic students left out)."""

from datetime import date, timedelta

import pytest

from dashboard import format as fmt
from tests.dashboard.chart_support import chart_data
from tests.dashboard.conftest import redis_down

PAGE = "pages/frequencia.py"
SEGMENT_EDGES = (
    (0, 0, "sem visitas"),
    (1, 3, "1–3 por mês"),
    (4, 11, "1–2 por semana"),
    (12, 10**6, "3+ por semana"),
)


def _visits(gym, start: date, end: date) -> int:
    return gym.conn.execute(
        f'select count(*) from "{gym.settings.dbt_schema}".int_visits v '
        "join alunos a on a.id = v.aluno_id "
        "where v.evento = 'visita' and coalesce(a.aluno_ref, '') not like 'SINT-%%' "
        "and v.data_local between %s and %s",
        (start, end),
    ).fetchone()[0]


def _last_day(gym) -> date:
    return gym.conn.execute(
        f'select max(data_local) from "{gym.settings.dbt_schema}".int_visits'
    ).fetchone()[0]


def _active_visits(gym, month: date) -> dict[int, int]:
    """Visits in `month` of each member whose latest status change by the month's last day
    (gym-local) was an activation: the status history read directly, not the warehouse's
    periods."""
    rows = gym.conn.execute(
        f"""
        with ultimo as (
            select distinct on (h.aluno_id) h.aluno_id, h.ativo
            from alunos_status_historico h
            where (h.ocorrido_em at time zone %(tz)s)::date
                <= (%(mes)s::date + interval '1 month' - interval '1 day')::date
            order by h.aluno_id, h.ocorrido_em desc, h.id desc
        ),
        visitas as (
            select aluno_id, count(*) as n from "{gym.settings.dbt_schema}".int_visits
            where evento = 'visita' and date_trunc('month', data_local) = %(mes)s::date
            group by aluno_id
        )
        select u.aluno_id, coalesce(v.n, 0)
        from ultimo u
        join alunos a on a.id = u.aluno_id
        left join visitas v on v.aluno_id = u.aluno_id
        where u.ativo and coalesce(a.aluno_ref, '') not like 'SINT-%%'
        """,
        {"tz": gym.settings.gym_timezone, "mes": month},
    ).fetchall()
    return dict(rows)


def _segment(visits: int) -> str:
    return next(name for low, high, name in SEGMENT_EDGES if low <= visits <= high)


@pytest.mark.parametrize("role", ["analista", "admin"])
def test_the_charts_carry_the_last_90_days_of_visits(gym, open_app, role):
    at = open_app(role, PAGE)

    assert not at.exception
    assert at.title[0].value == "Frequência"
    last = _last_day(gym)
    expected = _visits(gym, last - timedelta(days=89), last)
    assert at.metric[0].label == "Visitas no período"
    assert at.metric[0].value == fmt.inteiro(expected)
    assert chart_data(at, "visitas_por_dia")["visitas"].sum() == expected
    daily = chart_data(at, "medida")
    assert daily[daily["medida"] == "visitas"]["total"].sum() == expected
    assert len(daily[daily["medida"] == "visitas"]) == 90
    assert chart_data(at, "visitas_por_aluno")["visitas"].sum() == expected
    occupancy = chart_data(at, "ocupacao_media")
    assert len(occupancy) == 24 and occupancy["ocupacao_media"].max() > 0


def test_a_shorter_period_counts_only_its_days(gym, open_app):
    at = open_app("analista", PAGE)
    at.selectbox(key="periodo").set_value(30).run()

    assert not at.exception
    last = _last_day(gym)
    assert at.metric[0].value == fmt.inteiro(_visits(gym, last - timedelta(days=29), last))


def test_segments_and_moves_equal_a_count_from_the_status_history(gym, open_app):
    at = open_app("analista", PAGE)

    assert not at.exception
    month = at.selectbox(key="mes_engajamento").value
    last = _last_day(gym)
    assert month == (date(last.year, last.month, 1) - timedelta(days=1)).replace(day=1)
    now = _active_visits(gym, month)
    shown = {m.label: m.value for m in at.metric}
    for _low, _high, name in SEGMENT_EDGES:
        expected = sum(1 for visits in now.values() if _segment(visits) == name)
        assert shown[name] == fmt.inteiro(expected), name

    before = _active_visits(gym, (month - timedelta(days=1)).replace(day=1))
    both = now.keys() & before.keys()
    moves = at.dataframe[0].value
    assert moves.to_numpy().sum() == len(both)
    stayed_frequent = sum(
        1 for a in both if _segment(before[a]) == _segment(now[a]) == "3+ por semana"
    )
    assert moves.loc["3+ por semana", "3+ por semana"] == stayed_frequent


def test_with_redis_down_the_page_still_renders(gym, open_app, monkeypatch):
    redis_down(monkeypatch)
    at = open_app("analista", PAGE)

    assert not at.exception
    assert at.title[0].value == "Frequência"
    assert at.get("vega_lite_chart")
