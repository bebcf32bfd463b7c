"""The at-risk list as the retention team reads it (API, Redis, export), and a member's risk
history: one definition, `alunos_em_risco` (migration 0006)."""

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta

import orjson
import pytest
import sqlalchemy as sa

from models.scoring import ScoredBatch, ScoredMember
from serving.cache import SCORE_GENERATION_KEY, Cache, churn_key, generation_field
from serving.db.engine import sync_engine
from serving.scores import (
    KPI_KEY,
    LATEST_FIELD,
    RISK_LIST_KEY,
    read_at_risk,
    save_batch,
    save_member_score,
)

REASONS = [
    {"fator": "inatividade", "descricao": "sem visitas há 23 dias", "valor": 23.0},
    {"fator": "fim_contrato", "descricao": "contrato vence em 9 dias", "valor": 9.0},
]


def _score(db, member: int, probability: float, tier: str, as_of: date, at: datetime) -> None:
    db.execute(
        "insert into previsoes_churn (aluno_id, data_referencia, probabilidade, faixa_risco, "
        "modelo_nome, modelo_versao, fatores, calculado_em) "
        "values (%s, %s, %s, %s, 'churn-rf', '4', %s, %s)",
        (member, as_of, probability, tier, json.dumps(REASONS), at),
    )


def _add_months(day: date, months: int) -> date:
    """PostgreSQL's date + n months: the same day, or the month's last day when it has none."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError(day)


@pytest.fixture
def today(settings) -> date:
    return datetime.now(settings.tz).date()


@pytest.fixture
def quarterly(db) -> int:
    return db.execute(
        "insert into planos (nome, valor_mensal, duracao_meses) values ('Trimestral', 99.9, 3) "
        "returning id"
    ).fetchone()[0]


@pytest.fixture
def regular(db, settings, make_member, quarterly, today) -> int:
    """A quarterly member who joined 200 days ago and came 3 times in the last 4 weeks, 8 times
    in the 8 before, last 2 days ago (gym time)."""
    member = make_member(nome="Maria Oliveira")
    joined = datetime.combine(today - timedelta(days=200), time(10), settings.tz)
    db.execute(
        "update alunos set plano_id = %s, data_matricula = %s where id = %s",
        (quarterly, joined, member),
    )
    # 4 weeks: days 2, 9, 27 back; the 8 before: 28 to 83; day 84 is in neither.
    days_back = [2, 9, 27, 28, 35, 40, 45, 50, 60, 70, 83, 84]
    entries = [
        datetime.combine(today - timedelta(days=d), time(12), settings.tz) for d in days_back
    ]
    double_tap = entries[1] + timedelta(minutes=1)  # the same visit, tapped twice
    events = [(e, "entrada") for e in [*entries, double_tap]]
    events += [(e + timedelta(hours=1), "saida") for e in entries]
    for at, kind in events:
        db.execute(
            "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em, origem) "
            "values (%s, %s, %s, %s, 'api')",
            (uuid.uuid4(), member, kind, at),
        )
    return member


def _synthetic(db, member: int) -> int:
    db.execute("update alunos set aluno_ref = %s where id = %s", (f"SINT-{member}", member))
    return member


def _ranked(client, headers, **params) -> dict:
    response = client.get("/alunos/risco", params=params, headers=headers["analista"])
    assert response.status_code == 200, response.text
    return response.json()


def test_each_row_carries_what_the_retention_team_reads(
    client, headers, db, regular, today, plan_id, make_member
):
    never_came = make_member()
    _score(db, regular, 0.8, "alto", today, datetime.now(UTC))
    _score(db, never_came, 0.3, "medio", today, datetime.now(UTC))

    first, second = _ranked(client, headers)["data"]

    joined = today - timedelta(days=200)
    renewals = next(k for k in range(1, 100) if _add_months(joined, 3 * k) > today)
    assert first["aluno_id"] == regular and first["nome"] == "Maria Oliveira"
    assert (first["plano"], first["sintetico"]) == ("Trimestral", False)
    assert first["data_matricula"] == joined.isoformat()
    assert first["fim_contrato"] == _add_months(joined, 3 * renewals).isoformat()
    assert first["dias_desde_ultima_visita"] == 2
    assert (first["visitas_4_semanas"], first["visitas_8_semanas_anteriores"]) == (3, 8)
    assert first["tendencia_visitas"] == 0.75  # 3/4 a week against 8/8
    assert first["fatores"] == REASONS
    assert second["aluno_id"] == never_came and second["plano"] == "Mensal"
    assert second["dias_desde_ultima_visita"] is None
    assert (second["visitas_4_semanas"], second["visitas_8_semanas_anteriores"]) == (0, 0)
    assert second["tendencia_visitas"] is None


def test_synthetic_members_are_left_out_unless_asked_for(client, headers, db, make_member, today):
    member, synthetic = make_member(), _synthetic(db, make_member())
    _score(db, member, 0.4, "medio", today, datetime.now(UTC))
    _score(db, synthetic, 0.9, "alto", today, datetime.now(UTC))

    default = _ranked(client, headers)
    everyone = _ranked(client, headers, incluir_sinteticos=True)

    assert [i["aluno_id"] for i in default["data"]] == [member] and default["count"] == 1
    assert [(i["aluno_id"], i["sintetico"]) for i in everyone["data"]] == [
        (synthetic, True),
        (member, False),
    ]
    assert everyone["count"] == 2


def test_plan_and_tier_filters_and_the_filtered_count(
    client, headers, db, make_member, plan_id, quarterly, today
):
    monthly = [make_member() for _ in range(3)]
    other = make_member()
    db.execute("update alunos set plano_id = %s where id = %s", (quarterly, other))
    for i, member in enumerate([*monthly, other]):
        _score(db, member, 0.9 - i / 10, "alto" if i < 2 else "medio", today, datetime.now(UTC))

    by_plan = _ranked(client, headers, plano_id=quarterly)
    high_monthly = _ranked(client, headers, plano_id=plan_id, faixa="alto")
    past_the_end = _ranked(client, headers, page=3, page_size=2)

    assert [i["aluno_id"] for i in by_plan["data"]] == [other] and by_plan["count"] == 1
    assert [i["aluno_id"] for i in high_monthly["data"]] == monthly[:2]
    assert high_monthly["count"] == 2
    assert past_the_end["data"] == [] and past_the_end["count"] == 4
    bad = client.get("/alunos/risco", params={"plano_id": "x"}, headers=headers["analista"])
    assert bad.status_code == 422


def _batch(members: list[tuple[int, float, str]], as_of: date) -> ScoredBatch:
    return ScoredBatch(
        as_of, "churn-rf", "5", [ScoredMember(m, p, tier, REASONS) for m, p, tier in members]
    )


def test_the_cached_list_is_the_apis_list_item_for_item(
    settings, client, headers, db, cache, regular, make_member, today
):
    synthetic = _synthetic(db, make_member())
    others = [make_member() for _ in range(3)]
    batch = _batch(
        [(regular, 0.55, "medio"), (synthetic, 0.99, "alto")]
        + [(m, 0.7 - i / 10, "alto") for i, m in enumerate(others)],
        today,
    )

    saved = save_batch(
        sync_engine(settings.database_url),
        cache,
        batch,
        cache_ttl=600,
        risk_list_size=settings.risk_list_size,
        time_zone=settings.gym_timezone,
    )

    cached = orjson.loads(cache.get(RISK_LIST_KEY))
    listed = _ranked(client, headers, page_size=settings.risk_list_size)["data"]
    assert saved.cache_refreshed
    # The API adds the contact the caller's role may see; Redis (read by the dashboard) has none.
    contact = ("email", "telefone")
    assert all(i["email"] and i["telefone"] is None for i in listed)
    assert cached == [{k: v for k, v in i.items() if k not in contact} for i in listed]
    assert [i["aluno_id"] for i in cached] == [others[0], others[1], regular, others[2]]
    kpis = orjson.loads(cache.get(KPI_KEY))
    assert kpis["alunos_pontuados"] == 4 and kpis["por_faixa"]["alto"] == 3


def _history(client, headers, member: int, **params):
    return client.get(
        f"/aluno/{member}/risco-churn/historico", params=params, headers=headers["recepcao"]
    )


def test_risk_history_is_paginated_newest_first(client, headers, db, member):
    days = [date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 28)]
    for i, day in enumerate(days):
        at = datetime.combine(day, time(23, 30), UTC)
        _score(db, member, 0.2 + i / 10, "baixo", day, at)

    first = _history(client, headers, member, page_size=2).json()
    second = _history(client, headers, member, page=2, page_size=2).json()

    assert [r["data_referencia"] for r in first["data"]] == ["2026-11-28", "2026-11-27"]
    assert [r["data_referencia"] for r in second["data"]] == ["2026-11-26"]
    assert first["count"] == second["count"] == 3
    assert first["data"][0] == {
        "data_referencia": "2026-11-28",
        "calculado_em": "2026-11-28T23:30:00Z",
        "probabilidade": 0.4,
        "faixa_risco": "baixo",
        "modelo_nome": "churn-rf",
        "modelo_versao": "4",
        "fatores": REASONS,
    }
    assert _history(client, headers, 424242).status_code == 404
    assert _history(client, headers, member, page_size=501).status_code == 422


def _cached(cache, member: int, field: str) -> bool:
    """Whether an answer is cached under the current score generation."""
    return cache.hexists(
        churn_key(member), generation_field(field, cache.get(SCORE_GENERATION_KEY))
    )


def _new_batch(settings, cache, member: int, probability: float, as_of: date) -> None:
    save_batch(
        sync_engine(settings.database_url),
        cache,
        _batch([(member, probability, "medio")], as_of),
        cache_ttl=600,
        risk_list_size=settings.risk_list_size,
        time_zone=settings.gym_timezone,
    )


def test_a_new_batch_retires_the_cached_history(
    settings, client, headers, db, cache, member, today
):
    _score(db, member, 0.2, "baixo", today - timedelta(days=1), datetime.now(UTC))
    before = _history(client, headers, member).json()
    assert _cached(cache, member, "hist:1:50")
    assert _history(client, headers, member).json() == before  # from the cache

    _new_batch(settings, cache, member, 0.6, today)
    assert not _cached(cache, member, "hist:1:50")
    after = _history(client, headers, member).json()

    assert before["count"] == 1 and after["count"] == 2
    assert [r["probabilidade"] for r in after["data"]] == [0.6, 0.2]
    assert _cached(cache, member, "hist:1:50")


def test_history_read_before_a_batch_commits_is_never_served_after_it(
    settings, client, headers, db, cache, member, today
):
    """A reader that looked the cache up, then read PostgreSQL before another process's batch
    committed, caches its answer after the batch: it is filed under the old generation."""
    _score(db, member, 0.2, "baixo", today - timedelta(days=1), datetime.now(UTC))
    stale = _history(client, headers, member).json()
    cache.delete(churn_key(member))

    async def read_then_cache_after_the_batch() -> None:
        api_cache = Cache(settings.redis_url, timeout=1)
        read = await api_cache.read_score(member, "hist:1:50", "risco-churn-historico")
        assert read.value is None
        _new_batch(settings, cache, member, 0.6, today)
        await api_cache.set_field(
            churn_key(member), read.field, stale, 600, aluno_id=member, seen=read.seen
        )
        await api_cache.close()

    asyncio.run(read_then_cache_after_the_batch())

    assert _history(client, headers, member).json()["count"] == 2


def test_an_on_demand_score_drops_the_cached_history(
    settings, client, headers, db, cache, member, today
):
    _score(db, member, 0.2, "baixo", today - timedelta(days=1), datetime.now(UTC))
    assert _history(client, headers, member).json()["count"] == 1
    answer = save_member_score(
        sync_engine(settings.database_url),
        ScoredMember(member, 0.6, "medio", REASONS),
        as_of=today,
        model_name="churn-rf",
        model_version="5",
    )

    async def cache_as_the_route_does(seen_changed: bool) -> None:
        api_cache = Cache(settings.redis_url, timeout=1)
        read = await api_cache.read_score(member, LATEST_FIELD, "risco-churn")
        if seen_changed:
            await api_cache.invalidate_member(member)
        await api_cache.replace_hash(
            churn_key(member), read.field, answer, 600, aluno_id=member, seen=read.seen
        )
        await api_cache.close()

    asyncio.run(cache_as_the_route_does(seen_changed=False))

    history = _history(client, headers, member).json()
    assert [r["probabilidade"] for r in history["data"]] == [0.6, 0.2]
    risk = client.get(f"/aluno/{member}/risco-churn", headers=headers["recepcao"]).json()
    assert risk == answer  # the on-demand answer, cached

    # A member changed while it was being scored: nothing is cached, old history neither.
    assert _history(client, headers, member).json() == history
    assert _cached(cache, member, "hist:1:50")
    asyncio.run(cache_as_the_route_does(seen_changed=True))
    assert not cache.exists(churn_key(member))


def test_the_dashboard_role_reads_the_list_as_the_api_ranks_it(
    settings, client, headers, db, regular, make_member, today
):
    import psycopg

    from serving.db.engine import libpq_url

    _score(db, regular, 0.8, "alto", today, datetime.now(UTC))
    _score(db, _synthetic(db, make_member()), 0.9, "alto", today, datetime.now(UTC))

    with psycopg.connect(libpq_url(settings.dashboard_database_url)) as dashboard:
        rows = dashboard.execute(
            "select aluno_id, sintetico, dias_desde_ultima_visita from alunos_em_risco(%s) "
            "order by probabilidade desc, aluno_id",
            (settings.gym_timezone,),
        ).fetchall()

    listed = _ranked(client, headers, incluir_sinteticos=True)["data"]
    assert rows == [(i["aluno_id"], i["sintetico"], i["dias_desde_ultima_visita"]) for i in listed]


def test_the_databases_synthetic_rule_matches_the_simulators_prefix(db):
    from serving.rules import SYNTHETIC_REF_PREFIX

    checks = db.execute(
        "select aluno_sintetico(%s), aluno_sintetico(%s), aluno_sintetico(null)",
        (f"{SYNTHETIC_REF_PREFIX}abc123", "SIM42-00001"),
    ).fetchone()
    assert checks == (True, False, False)


def _plans_of_the_list(engine) -> list[dict]:
    """The plan PostgreSQL makes for each at-risk read on `engine`, explained on the same
    connection and in the same transaction, just before the read runs."""
    plans = []

    def explain(conn, cursor, statement, parameters, context, executemany):
        if "alunos_em_risco" in statement:
            explained = cursor.connection.execute(f"explain (format json) {statement}", parameters)
            plans.append(explained.fetchone()[0][0])

    sa.event.listen(engine, "before_cursor_execute", explain)
    return plans


def test_the_at_risk_read_is_planned_without_jit_and_leaves_the_session_as_it_was(
    settings, db, regular, today
):
    """At 100,000 members the list's estimate passes the JIT thresholds and compiling took
    2.4 s of a 0.1 s query. Here every plan would be compiled (threshold 0), as a precondition
    shows; the at-risk read's is not, and the next user of the pooled connection has JIT back."""
    _score(db, regular, 0.8, "alto", today, datetime.now(UTC))
    engine = sa.create_engine(
        settings.database_url, pool_size=1, connect_args={"options": "-c jit_above_cost=0"}
    )
    try:
        with engine.connect() as conn:
            assert conn.scalar(sa.text("select pg_jit_available()")), "PostgreSQL without LLVM"
            jit_plan = conn.exec_driver_sql("explain (format json) select count(*) from alunos")
            assert "JIT" in jit_plan.scalar()[0]
        plans = _plans_of_the_list(engine)

        (row,) = read_at_risk(engine, settings.gym_timezone, 10)

        assert row["aluno_id"] == regular
        assert plans and all("JIT" not in plan for plan in plans)
        with engine.connect() as conn:
            assert conn.scalar(sa.text("show jit")) == "on"
    finally:
        engine.dispose()


def test_the_dashboard_role_plans_without_jit(settings):
    """Its pages read a few hundred rows each; the at-risk list misleads the JIT estimate."""
    import psycopg

    from serving.db.engine import libpq_url

    with psycopg.connect(libpq_url(settings.dashboard_database_url)) as dashboard:
        dashboard.execute("set jit_above_cost = 0")
        (plan,) = dashboard.execute(
            "explain (format json) select * from alunos_em_risco(%s) limit 10",
            (settings.gym_timezone,),
        ).fetchone()
    assert "JIT" not in plan[0]
