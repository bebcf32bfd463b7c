"""Batch scoring with `@champion`: one score per active member appended to `previsoes_churn`,
risk tiers from the model's thresholds, reasons; after each batch the API answers every member's
new score (the cached answers of the batch before are retired at once) and Redis holds the
at-risk list and the KPIs — or, with Redis down, the scores are safe in PostgreSQL anyway."""

from datetime import datetime, timedelta

import numpy as np
import orjson
import pytest
import redis
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from flows.scoring import score_and_store
from models import registry
from models.features import FEATURES, FeatureFiller, load_scoring
from models.reasons import FACTORS, reason_reference
from models.scoring import Champion, predict
from serving.cache import SCORE_GENERATION_KEY, churn_key, generation_field
from serving.scores import KPI_KEY, LATEST_FIELD, RISK_LIST_KEY
from tests.churn_support import PrivateRedis

MODEL = "churn-scoring"
TTL = 3600


@pytest.fixture(scope="module")
def champion(trained, mlflow_store, warehouse) -> dict:
    run_id, version = registry.log_training_run(trained, model_name=MODEL, as_of=warehouse.as_of)
    assert registry.promote_if_better(MODEL, version, run_id, trained).promoted
    return {"version": version, "thresholds": registry.load_meta(run_id)["thresholds"]}


@pytest.fixture
def no_scores(warehouse):
    warehouse.conn.execute("delete from previsoes_churn")


def score(warehouse, cache, as_of=None):
    return score_and_store(
        warehouse.engine,
        cache,
        schema=warehouse.schema,
        model_name=MODEL,
        as_of=as_of or warehouse.as_of,
        cache_ttl=TTL,
        time_zone=warehouse.settings.gym_timezone,
        risk_list_size=50,
    )


def stored(warehouse, where: str = "true", params=()) -> list[tuple]:
    return warehouse.conn.execute(
        "select aluno_id, probabilidade, faixa_risco, fatores, modelo_nome, modelo_versao, "
        f"data_referencia, calculado_em from previsoes_churn where {where} order by aluno_id",
        params,
    ).fetchall()


def test_every_active_member_gets_one_score_and_history_is_kept(
    warehouse, champion, cache, no_scores
):
    summary = score(warehouse, cache)

    rows = stored(warehouse)
    active = warehouse.feature_members(warehouse.as_of)
    assert active == warehouse.active_members()  # the as-of date is the simulation's last day
    assert [r[0] for r in rows] == sorted(active)
    assert summary.scored == len(active) and summary.model_version == champion["version"]
    assert sum(summary.por_faixa.values()) == len(active)
    assert summary.cache_refreshed

    alto, medio = champion["thresholds"]["alto"], champion["thresholds"]["medio"]
    for aluno_id, p, tier, factors, name, version, day, _ in rows:
        expected = "alto" if p >= alto else "medio" if p >= medio else "baixo"
        assert tier == expected, aluno_id
        assert (name, version, day) == (MODEL, champion["version"], warehouse.as_of)
        assert len(factors) <= 3
        assert all(set(f) == {"fator", "descricao", "valor"} and f["descricao"] for f in factors)
    tiers = {r[2] for r in rows}
    assert tiers == {"alto", "medio", "baixo"}
    high = [r for r in rows if r[2] == "alto"]
    assert sum(1 for r in high if r[3]) >= 0.8 * len(high), "high-risk members need reasons"

    # the stored probabilities are the champion's on the as-of date's feature rows
    features = load_scoring(warehouse.engine, warehouse.schema, as_of=warehouse.as_of)
    model = registry.load_model(MODEL)
    probabilities = model.predict_proba(features[FEATURES])[:, 1]
    expected = dict(zip(features["aluno_id"], probabilities, strict=True))
    np.testing.assert_allclose([r[1] for r in rows], [expected[r[0]] for r in rows], atol=1e-6)

    score(warehouse, cache)

    again = stored(warehouse)
    assert len(again) == 2 * len(rows)
    assert len({r[7] for r in again}) == 2
    first = sorted(again, key=lambda r: (r[7], r[0]))[: len(rows)]
    assert [r[:7] for r in first] == [r[:7] for r in rows], "the first batch is kept as it was"
    second = sorted(again, key=lambda r: (r[7], r[0]))[len(rows) :]
    assert [r[:7] for r in second] == [r[:7] for r in rows], "same model, same features"


def _cached_answer(cache, member: int) -> dict | None:
    """The risk route's answer cached under the current score generation."""
    field = generation_field(LATEST_FIELD, cache.get(SCORE_GENERATION_KEY))
    raw = cache.hget(churn_key(member), field)
    return orjson.loads(raw) if raw else None


def test_after_a_batch_the_api_answers_each_members_new_score_and_caches_it(
    warehouse, champion, cache, no_scores, api, staff_headers
):
    summary = score(warehouse, cache)

    rows = stored(warehouse)
    by_tier = {}
    for row in sorted(rows, key=lambda r: -r[1]):
        by_tier.setdefault(row[2], row[0])
    members = [*by_tier.values(), rows[0][0], rows[-1][0]]
    answers = {}
    for member in members:
        url = f"/aluno/{member}/risco-churn"
        answers[member] = api.get(url, headers=staff_headers["recepcao"]).json()
        assert answers[member]["probabilidade"] == pytest.approx(
            next(r[1] for r in rows if r[0] == member)
        )
        assert _cached_answer(cache, member) == answers[member]  # cached on the way
        assert 0 < cache.ttl(churn_key(member)) <= warehouse.settings.churn_cache_seconds
        assert api.get(url, headers=staff_headers["analista"]).json() == answers[member]

    at_risk = orjson.loads(cache.get(RISK_LIST_KEY))
    names = dict(warehouse.conn.execute("select id, nome from alunos").fetchall())
    assert len(at_risk) == 50
    assert [i["probabilidade"] for i in at_risk] == sorted((r[1] for r in rows), reverse=True)[:50]
    assert all(i["nome"] == names[i["aluno_id"]] for i in at_risk)
    top = at_risk[0]["aluno_id"]
    latest = answers[top]
    assert {k: v for k, v in at_risk[0].items() if k in latest} == latest

    kpis = orjson.loads(cache.get(KPI_KEY))
    assert kpis == summary.kpis
    assert kpis["alunos_pontuados"] == len(rows)
    assert kpis["por_faixa"] == summary.por_faixa
    assert kpis["data_referencia"] == warehouse.as_of.isoformat()
    assert kpis["modelo_versao"] == champion["version"]
    assert kpis["cancelamentos_esperados_30d"] == pytest.approx(sum(r[1] for r in rows), abs=0.1)

    # A new batch: no answer cached before it is served again, without a write per member.
    again = score(warehouse, cache)
    assert not any(_cached_answer(cache, member) for member in members)
    for member in members:
        fresh = api.get(f"/aluno/{member}/risco-churn", headers=staff_headers["recepcao"]).json()
        computed = datetime.fromisoformat(fresh["calculado_em"].replace("Z", "+00:00"))
        assert computed == datetime.fromisoformat(again.kpis["calculado_em"])
        assert fresh == {**answers[member], "calculado_em": fresh["calculado_em"]}

    cache.flushdb()
    for member in members:
        from_postgres = api.get(f"/aluno/{member}/risco-churn", headers=staff_headers["recepcao"])
        assert from_postgres.status_code == 200
        assert from_postgres.json()["probabilidade"] == answers[member]["probabilidade"]


def test_rescoring_leaves_members_cancelled_since_out_and_keeps_their_history(
    warehouse, champion, cache, no_scores, api, staff_headers
):
    earlier = warehouse.conn.execute(
        f'select max(data_referencia) from "{warehouse.schema}".churn_features '
        "where tipo_linha = 'treino' and data_referencia <= %s",
        (warehouse.as_of - timedelta(days=21),),
    ).fetchone()[0]
    left = warehouse.feature_members(earlier) - warehouse.feature_members(warehouse.as_of)
    assert left, "the simulated gym has members who cancelled in the last weeks"
    assert not left & warehouse.active_members()
    score(warehouse, cache, as_of=earlier)
    for member in left:
        api.get(f"/aluno/{member}/risco-churn", headers=staff_headers["recepcao"])
    assert all(_cached_answer(cache, m) for m in left)

    score(warehouse, cache)

    assert not any(_cached_answer(cache, m) for m in left)
    listed = {i["aluno_id"] for i in orjson.loads(cache.get(RISK_LIST_KEY))}
    assert not listed & left
    # their history stays in PostgreSQL
    history = stored(warehouse, "aluno_id = any(%s)", (list(left),))
    assert {r[0] for r in history} == left and {r[6] for r in history} == {earlier}
    assert api.get(
        "/alunos/risco", params={"page_size": 500}, headers=staff_headers["analista"]
    ).json()["count"] == len(warehouse.active_members())


@pytest.mark.chaos
def test_scores_are_stored_when_redis_is_down(warehouse, champion, no_scores):
    server = PrivateRedis()
    try:
        client = redis.Redis.from_url(server.url, socket_connect_timeout=1, socket_timeout=2)
        assert score(warehouse, client).cache_refreshed
        assert client.exists(KPI_KEY)
    finally:
        server.stop()
    assert not server.is_up()

    summary = score(warehouse, client)

    assert summary.cache_refreshed is False and summary.kpis is None
    assert summary.scored == len(warehouse.active_members())
    rows = stored(warehouse)
    assert len(rows) == 2 * summary.scored
    assert len({r[7] for r in rows}) == 2


def test_a_champion_registered_before_the_feature_horizons_keeps_scoring(labelled, warehouse):
    # the forest's columns before visitas_semana and visitas_4_semanas were retired: a pickled
    # champion keeps its own column list, and scores until a training replaces it
    columns_then = [
        *("duracao_meses", "visitas_semana", "dias_desde_ultima_visita", "duracao_media_minutos"),
        *("dias_de_casa", "dias_para_fim_contrato", "visitas_4_semanas"),
        *("visitas_8_semanas_anteriores", "tendencia_visitas_semana", "razao_tendencia"),
        "regularidade_8_semanas",
    ]
    encoder = ColumnTransformer(
        [
            ("plano", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["plano"]),
            ("numericas", "passthrough", columns_then),
        ]
    )
    forest = RandomForestClassifier(n_estimators=20, min_samples_leaf=20, random_state=0)
    old = Pipeline([("preencher", FeatureFiller()), ("codificar", encoder), ("floresta", forest)])
    old.fit(labelled[FEATURES], labelled["churn_30d"])
    features = load_scoring(warehouse.engine, warehouse.schema, as_of=warehouse.as_of)
    reference = reason_reference(labelled, {f.code: 1.0 for f in FACTORS})

    scored = predict(Champion(MODEL, "1", old, {"alto": 0.5, "medio": 0.2}, reference), features)

    assert len(scored) == len(features)
    assert all(0 <= member.probabilidade <= 1 for member in scored)
