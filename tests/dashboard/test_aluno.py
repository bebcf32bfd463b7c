"""Aluno: a member opened by URL or found by name shows his profile, every score kept for him,
the reasons the API gives, his weekly visits, and his contact from the API (unavailable, and the
rest still shown, with the API down); only the front desk gets the action buttons."""

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from dashboard.ui import CACHE_DOWN
from tests.churn_support import AS_OF
from tests.dashboard.api_support import get
from tests.dashboard.chart_support import chart_data
from tests.dashboard.conftest import api_down, redis_down

PAGE = "pages/aluno.py"
ACTIONS = {"acao_entrada", "acao_saida", "acao_status"}
# Entries this many days ago: weeks with visits and weeks without, inside the page's 180 days,
# plus one outside them.
VISIT_DAYS_AGO = (1, 3, 15, 17, 29, 200)


@pytest.fixture(scope="module")
def member(gym) -> tuple[int, str, str]:
    """(id, name, plan) of the riskiest active member with at least two reasons."""
    return gym.conn.execute(
        "select a.id, a.nome, pl.nome from previsoes_churn_atuais p "
        "join alunos a on a.id = p.aluno_id join planos pl on pl.id = a.plano_id "
        "where a.ativo and jsonb_array_length(p.fatores) >= 2 "
        "order by p.probabilidade desc, a.id limit 1"
    ).fetchone()


@pytest.fixture
def earlier_score(gym, member):
    """A score of a week before the batch's, as last week's batch would have left it."""
    aluno_id = member[0]
    score_id = gym.conn.execute(
        "insert into previsoes_churn (aluno_id, data_referencia, probabilidade, faixa_risco, "
        "modelo_nome, modelo_versao, fatores, calculado_em) "
        "values (%s, %s, 0.2, 'baixo', %s, '1', '[]', now() - interval '8 days') returning id",
        (aluno_id, AS_OF - timedelta(days=7), gym.settings.churn_model_name),
    ).fetchone()[0]
    yield
    gym.conn.execute("delete from previsoes_churn where id = %s", (score_id,))


@pytest.fixture
def recent_visits(gym, member):
    """Entries (each with its exit) on VISIT_DAYS_AGO; the gym's own history ended long ago."""
    now = datetime.now(UTC).replace(microsecond=0)
    ids = []
    for days in VISIT_DAYS_AGO:
        entry = now - timedelta(days=days, hours=2)
        for tipo, at in (("entrada", entry), ("saida", entry + timedelta(hours=1))):
            ids.append(uuid.uuid4())
            gym.conn.execute(
                "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, origem) "
                "values (%s, %s, %s, %s, 'manual')",
                (ids[-1], member[0], tipo, at),
            )
    yield
    gym.conn.execute("delete from checkins where checkin_id = any(%s)", (ids,))


def _reasons(at) -> list[str]:
    return [m.value.removeprefix("- ") for m in at.markdown if m.value.startswith("- ")]


def test_opened_by_url_it_shows_the_member(gym, open_app, member):
    aluno_id, nome, plano = member
    at = open_app("analista", PAGE, aluno=str(aluno_id))

    assert not at.exception
    assert at.header[0].value == f"{nome} · #{aluno_id}"
    shown = {m.label: m.value for m in at.metric}
    assert (shown["Situação"], shown["Plano"]) == ("ativo", plano)


def test_the_risk_history_has_a_point_per_score_kept(gym, open_app, member, earlier_score):
    aluno_id = member[0]
    at = open_app("analista", PAGE, aluno=str(aluno_id))

    assert not at.exception
    kept = gym.conn.execute(
        "select data_referencia, probabilidade from previsoes_churn where aluno_id = %s "
        "order by data_referencia",
        (aluno_id,),
    ).fetchall()
    assert len(kept) == 2
    drawn = chart_data(at, "probabilidade")
    points = list(
        zip(pd.to_datetime(drawn["data_referencia"]).dt.date, drawn["probabilidade"], strict=True)
    )
    assert points == kept


def test_the_reasons_are_the_apis(gym, open_app, member):
    aluno_id = member[0]
    at = open_app("analista", PAGE, aluno=str(aluno_id))

    assert not at.exception
    risk = get(gym, "analista", f"/aluno/{aluno_id}/risco-churn")
    assert _reasons(at) == [f["descricao"] for f in risk["fatores"]]
    assert f"Faixa: **{risk['faixa_risco']}**" in [c.value for c in at.caption]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def test_the_weekly_chart_counts_the_entries_of_the_last_180_days(
    gym, open_app, member, recent_visits
):
    aluno_id = member[0]
    at = open_app("analista", PAGE, aluno=str(aluno_id))

    assert not at.exception
    entries = [
        row[0].astimezone(gym.settings.tz).date()
        for row in gym.conn.execute(
            "select ocorrido_em from checkins where aluno_id = %s and tipo = 'entrada' "
            "and ocorrido_em >= now() - interval '180 days'",
            (aluno_id,),
        )
    ]
    assert len(entries) >= len(VISIT_DAYS_AGO) - 1
    per_week = Counter(_monday(day) for day in entries)
    first, last = min(per_week), max(per_week)
    weeks = [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    drawn = chart_data(at, "visitas")
    assert list(pd.to_datetime(drawn["semana"]).dt.date) == weeks
    assert drawn["visitas"].tolist() == [per_week.get(week, 0) for week in weeks]


def test_the_contact_comes_from_the_api(gym, open_app, member):
    aluno_id = member[0]
    at = open_app("analista", PAGE, aluno=str(aluno_id))

    assert not at.exception
    details = get(gym, "analista", f"/aluno/{aluno_id}")
    assert details["email"]
    assert f"E-mail: {details['email']} · Telefone: {details.get('telefone') or '—'}" in [
        c.value for c in at.caption
    ]


def test_with_the_api_down_the_contact_is_unavailable_and_the_rest_shown(
    gym, open_app, monkeypatch, member
):
    aluno_id, nome, _ = member
    api_down(monkeypatch)
    at = open_app("recepcao", PAGE, aluno=str(aluno_id))

    assert not at.exception
    captions = [c.value for c in at.caption]
    assert "Contato indisponível: a API não respondeu." in captions
    assert not any(c.startswith("E-mail:") for c in captions)
    assert at.header[0].value == f"{nome} · #{aluno_id}"
    assert _reasons(at)
    assert chart_data(at, "probabilidade").shape[0] >= 1
    assert {b.key for b in at.button if b.disabled} == ACTIONS


def test_with_redis_down_the_risk_comes_from_postgresql(gym, open_app, monkeypatch, member):
    aluno_id = member[0]
    cached = open_app("analista", PAGE, aluno=str(aluno_id))
    redis_down(monkeypatch)
    at = open_app("analista", PAGE, aluno=str(aluno_id))

    assert not at.exception
    assert any(CACHE_DOWN in c.value for c in at.caption)
    assert _reasons(at) == _reasons(cached)
    shown = {m.label: m.value for m in at.metric}
    assert shown == {m.label: m.value for m in cached.metric}


@pytest.mark.parametrize(("role", "actions"), [("recepcao", ACTIONS), ("analista", set())])
def test_only_the_front_desk_gets_the_actions(gym, open_app, member, role, actions):
    at = open_app(role, PAGE, aluno=str(member[0]))

    assert not at.exception
    assert {b.key for b in at.button} & ACTIONS == actions


def test_an_unknown_id_says_so(gym, open_app):
    unknown = gym.conn.execute("select max(id) + 1000 from alunos").fetchone()[0]
    at = open_app("analista", PAGE, aluno=str(unknown))

    assert not at.exception
    assert [e.value for e in at.error] == [f"Não há aluno com o ID {unknown}."]
    assert not at.metric


def test_a_name_search_finds_the_member(gym, open_app, member):
    aluno_id, nome, _ = member
    at = open_app("analista", PAGE)
    at.text_input(key="aluno_busca").set_value(nome.lower()).run()

    assert not at.exception
    picker = at.selectbox(key="aluno_aluno")
    assert f"{nome} (#{aluno_id})" in picker.options
    assert all(nome.lower() in option.lower() for option in picker.options)
    picker.set_value(aluno_id).run()

    assert not at.exception
    assert at.header[0].value == f"{nome} · #{aluno_id}"
    assert at.query_params["aluno"] == str(aluno_id)
