"""`GET /aluno/{id}/risco-churn` for a member the nightly batch never saw: a synthetic student
created a second ago is scored by the champion from its current features (the live view
`churn_features_atuais`), the score is stored like a batch score and cached."""

import pytest

from models import registry
from serving.cache import SCORE_GENERATION_KEY, churn_key, generation_field
from serving.scores import LATEST_FIELD
from serving.warehouse import dbt_build

STUDENT = {"duracao": 45, "semanas": 30}
# The package shares one gym: the students created here leave it (cancel) at the end.
CREATED: list[int] = []


@pytest.fixture(scope="module")
def live_today(warehouse, api, staff_headers):
    """The package's warehouse is as of a fixed past date; the view must be as of today, when
    the synthetic students' visits happen."""
    built = dbt_build(warehouse.settings.database_url, select="churn_features_atuais", quiet=True)
    assert built.success, built.exception
    yield
    for member in CREATED:
        api.patch(f"/aluno/{member}/desativar", headers=staff_headers["admin"])
    dbt_build(
        warehouse.settings.database_url,
        as_of=warehouse.as_of,
        select="churn_features_atuais",
        quiet=True,
    )


@pytest.fixture(scope="module")
def api_champion(trained, mlflow_store, warehouse, churn_settings) -> str:
    name = churn_settings.churn_model_name
    run_id, version = registry.log_training_run(trained, model_name=name, as_of=warehouse.as_of)
    registry.promote_if_better(name, version, run_id, trained)
    return str(registry.champion(name).version)


def _student(api, headers, plano: str, **profile) -> int:
    created = api.post(
        "/aluno/sintetico", json={"plano": plano, **STUDENT, **profile}, headers=headers
    )
    assert created.status_code == 201, created.text
    CREATED.append(created.json()["aluno_id"])
    return CREATED[-1]


def test_a_synthetic_student_is_scored_on_demand_by_the_champion(
    warehouse, live_today, api_champion, api, staff_headers, cache
):
    plano = warehouse.conn.execute("select nome from planos where ativo order by id").fetchone()[0]
    admin = staff_headers["admin"]
    leaving = _student(api, admin, plano, visitas_semana=0.5, dias_desde_ultima=25)
    staying = _student(api, admin, plano, visitas_semana=4, dias_desde_ultima=1)

    risky = api.get(f"/aluno/{leaving}/risco-churn", headers=staff_headers["recepcao"])
    safe = api.get(f"/aluno/{staying}/risco-churn", headers=staff_headers["recepcao"])

    assert risky.status_code == 200, risky.text
    assert safe.status_code == 200, safe.text
    risky, safe = risky.json(), safe.json()
    assert risky["modelo_versao"] == api_champion == safe["modelo_versao"]
    assert risky["probabilidade"] > safe["probabilidade"]
    assert risky["faixa_risco"] in {"medio", "alto"}
    assert any(
        f["fator"] == "inatividade" and "25 dias" in f["descricao"] for f in risky["fatores"]
    )
    # stored like a batch score, and cached for the next question
    stored = warehouse.conn.execute(
        "select probabilidade, modelo_versao from previsoes_churn where aluno_id = %s", (leaving,)
    ).fetchall()
    assert stored == [(risky["probabilidade"], api_champion)]
    field = generation_field(LATEST_FIELD, cache.get(SCORE_GENERATION_KEY))
    assert cache.hexists(churn_key(leaving), field)
    again = api.get(f"/aluno/{leaving}/risco-churn", headers=staff_headers["analista"])
    assert again.json() == risky
    assert (
        len(
            warehouse.conn.execute(
                "select 1 from previsoes_churn where aluno_id = %s", (leaving,)
            ).fetchall()
        )
        == 1
    )


def test_an_inactive_member_has_no_risk_to_score(
    warehouse, live_today, api_champion, api, staff_headers
):
    plano = warehouse.conn.execute("select nome from planos where ativo order by id").fetchone()[0]
    member = _student(api, staff_headers["admin"], plano, visitas_semana=2, dias_desde_ultima=3)
    assert (
        api.patch(f"/aluno/{member}/desativar", headers=staff_headers["admin"]).status_code == 200
    )

    response = api.get(f"/aluno/{member}/risco-churn", headers=staff_headers["admin"])

    assert response.status_code == 404
    assert response.json()["codigo"] == "aluno_sem_risco"


def test_with_mlflow_unreachable_the_loaded_champion_keeps_scoring_and_a_cold_api_says_503(
    warehouse, live_today, api_champion, api, staff_headers, churn_settings, monkeypatch
):
    from fastapi.testclient import TestClient

    from serving.api.main import create_app
    from tests.services import free_port_pair

    plano = warehouse.conn.execute("select nome from planos where ativo order by id").fetchone()[0]
    admin = staff_headers["admin"]
    before = _student(api, admin, plano, visitas_semana=2, dias_desde_ultima=3)
    assert api.get(f"/aluno/{before}/risco-churn", headers=admin).status_code == 200  # loaded

    unreachable = churn_settings.model_copy(
        update={"mlflow_tracking_uri": f"http://127.0.0.1:{free_port_pair(18460)}"}
    )
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # a user would wait longer
    monkeypatch.setattr("serving.on_demand.CHECK_SECONDS", 0.0)  # every score asks the registry
    monkeypatch.setattr(api.app.state.champions, "settings", unreachable)
    try:
        during = _student(api, admin, plano, visitas_semana=2, dias_desde_ultima=3)
        warm = api.get(f"/aluno/{during}/risco-churn", headers=admin)
        # an API process started while the store is down has no champion to fall back on
        with TestClient(create_app(unreachable)) as cold_api:
            cold = cold_api.get(f"/aluno/{during}/risco-churn", headers=admin)
            never = _student(cold_api, admin, plano, visitas_semana=2, dias_desde_ultima=3)
            refused = cold_api.get(f"/aluno/{never}/risco-churn", headers=admin)
    finally:
        registry.use_tracking(
            churn_settings.mlflow_tracking_uri,
            churn_settings.mlflow_experiment,
            churn_settings.mlflow_artifact_root,
        )

    assert warm.status_code == 200, warm.text
    assert warm.json()["modelo_versao"] == api_champion
    assert cold.status_code == 200  # already scored: read from the store, no model needed
    assert refused.status_code == 503, refused.text
    assert refused.json()["codigo"] == "registro_de_modelos_indisponivel"
    assert int(refused.headers["Retry-After"]) > 0
    assert not warehouse.conn.execute(
        "select 1 from previsoes_churn where aluno_id = %s", (never,)
    ).fetchall()
