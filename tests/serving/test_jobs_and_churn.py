import json
import uuid
from datetime import date

from serving.messaging.topology import MODEL_UPDATE_QUEUE
from tests.support import refused


def _score(db, member: int, probability: float, tier: str, version: str = "3") -> None:
    db.execute(
        "insert into previsoes_churn (aluno_id, data_referencia, probabilidade, faixa_risco, "
        "modelo_nome, modelo_versao, fatores) values (%s, %s, %s, %s, 'churn-rf', %s, %s)",
        (
            member,
            date(2026, 11, 28),
            probability,
            tier,
            version,
            json.dumps(
                [{"fator": "tendencia", "descricao": "visitas caíram 60% nas últimas 4 semanas"}]
            ),
        ),
    )


def test_model_update_queues_a_job_that_can_be_followed(client, headers, rabbit, db, member):
    db.execute(  # the data starts before the day asked for
        "insert into checkins (checkin_id, aluno_id, tipo, ocorrido_em) "
        "values (%s, %s, 'entrada', '2026-01-05 09:00-03')",
        (uuid.uuid4(), member),
    )
    response = client.post(
        "/admin/atualizar-modelo", json={"data_referencia": "2026-10-31"}, headers=headers["admin"]
    )

    assert response.status_code == 202
    job = response.json()
    assert job["estado"] == "queued" and job["progresso"] == 0
    assert job["parametros"] == {"data_referencia": "2026-10-31"}
    message = rabbit.basic_get(MODEL_UPDATE_QUEUE, auto_ack=True)[2]
    assert json.loads(message)["job_id"] == job["id"]
    followed = client.get(f"/admin/jobs/{job['id']}", headers=headers["analista"])
    assert followed.status_code == 200 and followed.json()["estado"] == "queued"
    listed = client.get("/admin/jobs", params={"estado": "queued"}, headers=headers["analista"])
    assert [j["id"] for j in listed.json()["data"]] == [job["id"]]


def test_unknown_job_is_404(client, headers):
    response = client.get(f"/admin/jobs/{uuid.uuid4()}", headers=headers["admin"])
    assert response.status_code == 404


def test_risk_is_404_when_it_cannot_be_scored_never_invented(client, headers, member):
    # No warehouse in this schema and no model: nothing to score with, so nothing is made up.
    response = client.get(f"/aluno/{member}/risco-churn", headers=headers["recepcao"])
    assert refused(response, 404, "armazem_nao_construido")["detail"].startswith(
        "Sem risco de churn para este aluno"
    )
    assert client.get("/aluno/424242/risco-churn", headers=headers["admin"]).status_code == 404


def test_risk_returns_the_latest_score_and_is_cached(client, headers, member, db, cache):
    _score(db, member, 0.2, "baixo", version="2")
    _score(db, member, 0.81, "alto", version="3")

    body = client.get(f"/aluno/{member}/risco-churn", headers=headers["analista"]).json()

    assert body["probabilidade"] == 0.81 and body["faixa_risco"] == "alto"
    assert body["modelo_versao"] == "3"
    assert body["fatores"][0]["descricao"].startswith("visitas caíram")
    assert cache.ttl(f"gp:churn:{member}") > 23 * 3600


def test_at_risk_list_ranks_active_members_by_latest_score(client, headers, make_member, db):
    low, high, gone = make_member(), make_member(), make_member(ativo=False)
    _score(db, low, 0.1, "baixo")
    _score(db, high, 0.9, "alto")
    _score(db, gone, 0.95, "alto")

    ranked = client.get("/alunos/risco", headers=headers["analista"]).json()
    only_high = client.get(
        "/alunos/risco", params={"faixa": "alto"}, headers=headers["admin"]
    ).json()

    assert [item["aluno_id"] for item in ranked["data"]] == [high, low]
    assert ranked["count"] == 2
    assert [item["aluno_id"] for item in only_high["data"]] == [high]


def head_revision(database_url: str) -> str:
    from alembic.script import ScriptDirectory

    from serving.db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def test_status_reports_every_dependency_and_queue(settings, client, headers, worker):
    from tests.support import wait_until

    def consumer_seen() -> bool:
        body = client.get("/status", headers=headers["analista"]).json()
        queue = next(q for q in body["filas"] if q["fila"] == "checkin_queue")
        return queue["consumidores"] == 1

    assert wait_until(consumer_seen)
    body = client.get("/status", headers=headers["analista"]).json()
    assert body["postgres"]["status"] == "ok"
    assert body["redis"]["status"] == "ok"
    assert body["migracao"] == head_revision(settings.database_url)
    assert {q["fila"] for q in body["filas"]} == {
        "checkin_queue",
        "daily_report_queue",
        "model_update_queue",
        "churn_probabilities_queue",
    }
    assert body["versao"]
    # only the check-in consumer exists so far: the job queues have none
    assert body["status"] == "degraded"
    assert "model_update_queue" in body["rabbitmq"]["detalhe"]


def test_cache_status_counts_hits_and_misses(client, headers, member):
    client.get(f"/aluno/{member}/frequencia", headers=headers["admin"])
    client.get(f"/aluno/{member}/frequencia", headers=headers["admin"])
    body = client.get("/status/cache", headers=headers["admin"]).json()
    assert body["status"] == "ok"
    assert body["hits"] == 1 and body["misses"] == 1 and body["taxa_acerto"] == 0.5
    assert body["chaves"] >= 2
    assert body["ttl_segundos"] == {"frequencia": 43200, "risco-churn": 86400}
