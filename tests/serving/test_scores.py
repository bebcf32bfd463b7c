"""The one score writer and the one definition of a member's current score."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from models.scoring import ScoredMember
from serving.api.schemas import RiscoChurnOut
from serving.db.engine import sync_engine
from serving.scores import risk_answer, save_member_score, store_scores

REASONS = [{"fator": "inatividade", "descricao": "sem visitas há 23 dias", "valor": 23.0}]


def _insert(db, member: int, as_of: date, probability: float, computed_at: datetime) -> None:
    db.execute(
        "insert into previsoes_churn (aluno_id, data_referencia, probabilidade, faixa_risco, "
        "modelo_nome, modelo_versao, fatores, calculado_em) "
        "values (%s, %s, %s, 'medio', 'churn-rf', '4', %s, %s)",
        (member, as_of, probability, json.dumps(REASONS), computed_at),
    )


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 11, 28, 23, 30, tzinfo=UTC),
        datetime(2026, 11, 28, 23, 30, 1, 250_000, tzinfo=UTC),
    ],
)
def test_an_on_demand_answer_is_exactly_what_the_route_answers(at):
    score = ScoredMember(7, 0.734512, "alto", REASONS)

    body = risk_answer(score, as_of=date(2026, 11, 28), model_name="churn-rf", version="4", at=at)

    assert RiscoChurnOut.model_validate(body).model_dump(mode="json") == body


def test_a_backtest_scored_later_does_not_hide_todays_score(client, headers, member, db):
    today, last_month = date(2026, 11, 28), date(2026, 10, 28)
    _insert(db, member, today, 0.31, datetime(2026, 11, 28, 23, 30, tzinfo=UTC))
    # A backtest run afterwards writes scores for an older as-of date.
    _insert(db, member, last_month, 0.77, datetime(2026, 11, 29, 9, 0, tzinfo=UTC))

    risk = client.get(f"/aluno/{member}/risco-churn", headers=headers["analista"]).json()
    ranked = client.get("/alunos/risco", headers=headers["analista"]).json()["data"]

    assert (risk["data_referencia"], risk["probabilidade"]) == ("2026-11-28", 0.31)
    assert [(r["aluno_id"], r["probabilidade"]) for r in ranked] == [(member, 0.31)]


def test_scores_in_force_on_a_past_day(db, member):
    _insert(db, member, date(2026, 10, 28), 0.2, datetime(2026, 10, 28, 23, 0, tzinfo=UTC))
    _insert(db, member, date(2026, 11, 28), 0.6, datetime(2026, 11, 28, 23, 0, tzinfo=UTC))

    on = {
        day: db.execute(
            "select probabilidade from previsoes_vigentes(%s) where aluno_id = %s", (day, member)
        ).fetchone()
        for day in (date(2026, 10, 27), date(2026, 11, 1), date(2026, 12, 1))
    }

    assert on == {date(2026, 10, 27): None, date(2026, 11, 1): (0.2,), date(2026, 12, 1): (0.6,)}


def _current(db, member: int) -> tuple | None:
    return db.execute(
        "select data_referencia, probabilidade from previsoes_churn_atuais where aluno_id = %s",
        (member,),
    ).fetchone()


def test_the_current_score_follows_rescores_backtests_and_deletions(db, member, make_member):
    """Migration 0011 finds each member's current score by one index probe per member instead
    of sorting the whole history; the rule is the same: newest as-of date, then newest
    computation."""
    other = make_member()
    nov, oct_ = date(2026, 11, 28), date(2026, 10, 28)
    _insert(db, member, nov, 0.31, datetime(2026, 11, 28, 23, 30, tzinfo=UTC))
    # Same as-of date computed again later (a rescore): the newer computation is current.
    _insert(db, member, nov, 0.42, datetime(2026, 11, 29, 8, 0, tzinfo=UTC))
    # An older as-of date scored afterwards (a backtest): does not move it.
    _insert(db, member, oct_, 0.77, datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    _insert(db, other, oct_, 0.10, datetime(2026, 10, 28, 23, 0, tzinfo=UTC))
    assert (_current(db, member), _current(db, other)) == ((nov, 0.42), (oct_, 0.10))

    # The current row removed: the newest of what is left takes its place.
    db.execute("delete from previsoes_churn where probabilidade = 0.42")
    assert _current(db, member) == (nov, 0.31)
    db.execute(
        "delete from previsoes_churn where aluno_id = %s and data_referencia = %s", (member, nov)
    )
    assert _current(db, member) == (oct_, 0.77)
    db.execute("delete from previsoes_churn where aluno_id = %s", (other,))
    assert _current(db, other) is None and _current(db, member) == (oct_, 0.77)
    on_the_day_before = db.execute(
        "select count(*) from previsoes_vigentes(%s)", (oct_ - timedelta(days=1),)
    ).fetchone()
    assert on_the_day_before == (0,)


def test_a_batch_copy_moves_every_members_current_score(settings, db, member, make_member):
    engine = sync_engine(settings.database_url)
    members = [member, make_member(), make_member()]
    for as_of, probability in ((date(2026, 11, 27), 0.2), (date(2026, 11, 28), 0.6)):
        store_scores(
            engine,
            [ScoredMember(m, probability, "medio", REASONS) for m in members],
            as_of=as_of,
            model_name="churn-rf",
            model_version="4",
        )

    assert {m: _current(db, m) for m in members} == dict.fromkeys(
        members, (date(2026, 11, 28), 0.6)
    )
    on_the_27th = db.execute(
        "select aluno_id, probabilidade from previsoes_vigentes(%s)", (date(2026, 11, 27),)
    ).fetchall()
    assert sorted(on_the_27th) == sorted((m, 0.2) for m in members)


def test_on_demand_and_batch_scores_are_stored_alike(settings, db, make_member):
    engine = sync_engine(settings.database_url)
    batch_member, on_demand_member = make_member(), make_member()
    as_of = date(2026, 11, 28)
    store_scores(
        engine,
        [ScoredMember(batch_member, 0.5, "medio", REASONS)],
        as_of=as_of,
        model_name="churn-rf",
        model_version="4",
    )

    answer = save_member_score(
        engine,
        ScoredMember(on_demand_member, 0.5, "medio", REASONS),
        as_of=as_of,
        model_name="churn-rf",
        model_version="4",
    )

    rows = db.execute(
        "select aluno_id, data_referencia, probabilidade, faixa_risco, modelo_nome, "
        "modelo_versao, fatores, job_id from previsoes_churn order by aluno_id"
    ).fetchall()
    assert [row[1:] for row in rows] == [row[1:] for row in rows[:1]] * 2
    assert answer["aluno_id"] == on_demand_member and answer["data_referencia"] == "2026-11-28"


def test_the_models_tiers_are_the_platforms():
    from models.scoring import TIERS
    from serving.vocabulary import RISK_TIERS

    assert TIERS == RISK_TIERS


def test_every_vocabulary_matches_the_database_constraints(db):
    from serving import vocabulary

    expected = {
        "ck_checkins_tipo": vocabulary.CHECKIN_TYPES,
        "ck_usuarios_role": vocabulary.ROLES,
        "ck_jobs_estado": vocabulary.JOB_STATES,
        "ck_previsoes_faixa": vocabulary.RISK_TIERS,
        "ck_auditoria_acao": vocabulary.AUDIT_ACTIONS,
    }
    for name, values in expected.items():
        definition = db.execute(
            "select pg_get_constraintdef(oid) from pg_constraint where conname = %s", (name,)
        ).fetchone()[0]
        quoted = sorted(part.split("'")[1] for part in definition.split("'::")[:-1])
        assert quoted == sorted(values), (name, definition)
