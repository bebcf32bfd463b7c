"""The nightly chain as Prefect runs it: build ▶ train ▶ register ▶ promote ▶ score ▶ report,
with the training run traceable to the dbt build it read, and a night without retraining
scoring with the current champion."""

import pytest
from mlflow import MlflowClient

from tests.churn_support import AS_OF
from tests.flows.conftest import MODEL

pytestmark = pytest.mark.slow

MODELS = {"random_forest", "logistic_regression", "inactivity_rule", "hist_gradient_boosting"}


def test_nightly_flow_returns_training_scoring_and_report(nightly, gym):
    training, scoring, report = nightly["treino"], nightly["pontuacao"], nightly["relatorio"]
    active = gym.active_members()

    assert nightly["data_referencia"] == AS_OF.isoformat()
    assert training["promovido"] and training["modelo_versao"] == "1"
    assert training["motivo"].startswith("first model: becomes champion")
    assert set(training["metricas"]) == MODELS
    # the gate's intervals against every baseline travel with the job's result
    assert {c["rival"] for c in training["comparacoes"]} == MODELS - {"random_forest"}
    assert all(c["minimo"] <= c["diferenca"] <= c["maximo"] for c in training["comparacoes"])
    assert training["candidatos"] == 8
    forest = training["metricas"]["random_forest"]
    assert forest["roc_auc"] > training["metricas"]["inactivity_rule"]["roc_auc"]
    # no baseline beats the forest beyond the noise of a 600-member gym
    assert all(c["maximo"] > 0 for c in training["comparacoes"]), training["comparacoes"]
    assert training["tamanhos"]["rows_test"] > 0
    assert scoring == {
        "data_referencia": AS_OF.isoformat(),
        "modelo_versao": "1",
        "alunos_pontuados": len(active),
        "por_faixa": scoring["por_faixa"],
        "cache_atualizado": True,
    }
    assert sum(scoring["por_faixa"].values()) == len(active)
    assert report["data"] == AS_OF.isoformat()

    stored = gym.conn.execute(
        "select aluno_id from previsoes_churn where modelo_nome = %s and data_referencia = %s",
        (MODEL, AS_OF),
    ).fetchall()
    assert sorted(r[0] for r in stored) == sorted(active)
    assert (
        gym.conn.execute(
            "select count(*) from relatorios_diarios where data = %s", (AS_OF,)
        ).fetchone()[0]
        == 1
    )
    run = MlflowClient().get_run(training["run_id"])
    assert run.data.tags["dbt_invocation_id"] == nightly["dbt_invocation_id"]
    assert run.data.tags["as_of"] == AS_OF.isoformat()


def test_a_night_without_retraining_scores_with_the_champion(nightly, gym):
    from flows.churn import nightly_flow

    before = gym.conn.execute("select count(*) from previsoes_churn").fetchone()[0]

    outcome = nightly_flow(as_of=AS_OF, retrain=False)

    assert "treino" not in outcome
    assert outcome["pontuacao"]["modelo_versao"] == nightly["treino"]["modelo_versao"]
    assert outcome["pontuacao"]["alunos_pontuados"] == len(gym.active_members())
    after = gym.conn.execute("select count(*) from previsoes_churn").fetchone()[0]
    assert after == before + len(gym.active_members())
    assert [mv.version for mv in MlflowClient().search_model_versions(f"name = '{MODEL}'")] == [1]
