"""`gympulse worker jobs` end to end: an admin asks the API for a retraining or a batch scoring,
the worker (a real subprocess) runs the flows, and `GET /admin/jobs/{id}` follows the job to
done with its result — or to failed with its error, once, without retrying it; a message the
worker cannot read is parked in the queue's dead-letter queue."""

import time
import uuid

import orjson
import pika
import pytest
from mlflow import MlflowClient

from serving.messaging.topology import (
    CHURN_PROBABILITIES_QUEUE,
    DAILY_REPORT_QUEUE,
    EXCHANGE,
    MODEL_UPDATE_QUEUE,
    dead_letter_queue,
)
from tests.churn_support import AS_OF, JobWorkerProcess, wait_for

pytestmark = pytest.mark.slow

# The worker's own registered model: no champion until its first retraining job.
WORKER_MODEL = "gympulse-churn-worker"
JOB_QUEUES = (MODEL_UPDATE_QUEUE, CHURN_PROBABILITIES_QUEUE, DAILY_REPORT_QUEUE)
JOB_TIMEOUT = 300


def queue_state(settings, queue: str) -> tuple[int, int]:
    """(messages ready, consumers) of a queue, from a connection of its own."""
    connection = pika.BlockingConnection(pika.URLParameters(settings.rabbitmq_url))
    try:
        declared = connection.channel().queue_declare(queue, passive=True).method
        return declared.message_count, declared.consumer_count
    finally:
        connection.close()


@pytest.fixture(scope="module")
def job_worker(gym, prefect_server, tmp_path_factory):
    log = tmp_path_factory.mktemp("job-worker") / "worker.log"
    worker = JobWorkerProcess(
        log, {"CHURN_MODEL_NAME": WORKER_MODEL, "PREFECT_API_URL": prefect_server}
    ).start()

    def consuming() -> bool:
        if not worker.alive():
            pytest.fail(f"the job worker exited:\n{worker.output()[-4000:]}")
        try:
            return all(queue_state(gym.settings, q)[1] >= 1 for q in JOB_QUEUES)
        except pika.exceptions.ChannelClosedByBroker:  # queues not declared yet
            return False

    try:
        wait_for(consuming, 120, 0.5, "the job worker to consume the job queues")
        yield worker
    finally:
        worker.stop()


def follow(api, headers, job_id: str, timeout: float = JOB_TIMEOUT) -> tuple[dict, list[float]]:
    """Poll the job until it ends; returns its last state and the progress values seen."""
    seen: list[float] = []

    def ended():
        response = api.get(f"/admin/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.append(body["progresso"])
        return body if body["estado"] in ("done", "failed") else None

    return wait_for(ended, timeout, 0.5, f"job {job_id} to end"), seen


def test_jobs_requested_through_the_api_run_on_the_worker(
    job_worker, api, staff_headers, gym, rabbit
):
    admin, analista = staff_headers["admin"], staff_headers["analista"]
    body = {"data_referencia": AS_OF.isoformat()}
    active = gym.active_members()

    # scoring before any model exists: failed, with the reason, and not retried
    response = api.post("/admin/calcular-churn", json=body, headers=admin)
    assert response.status_code == 202, response.text
    premature = response.json()["id"]
    failed, _ = follow(api, analista, premature)
    assert failed["estado"] == "failed", failed
    assert "NoChampionError" in failed["erro"]
    assert f"no model registered as {WORKER_MODEL}@champion" in failed["erro"]
    assert failed["resultado"] is None and failed["terminado_em"]

    # retraining: done, with the run's outcome
    response = api.post("/admin/atualizar-modelo", json=body, headers=admin)
    assert response.status_code == 202, response.text
    trained, progress = follow(api, analista, response.json()["id"])
    assert trained["estado"] == "done", trained.get("erro") or job_worker.output()[-4000:]
    assert trained["progresso"] == 1.0 and trained["erro"] is None
    assert progress == sorted(progress), "progress never goes backwards"
    result = trained["resultado"]
    assert result["modelo_versao"] == "1" and result["promovido"] is True
    baselines = {"logistic_regression", "inactivity_rule", "hist_gradient_boosting"}
    assert set(result["metricas"]) == {"random_forest", *baselines}
    # the gate's decision and its intervals are in the job's result, as the CLI prints them
    assert result["motivo"].startswith("first model: becomes champion")
    assert {c["rival"] for c in result["comparacoes"]} == baselines
    assert str(MlflowClient().get_model_version_by_alias(WORKER_MODEL, "champion").version) == "1"

    # batch scoring with the new champion: done, every active member scored under the job's id
    response = api.post("/admin/calcular-churn", json=body, headers=admin)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    scored, _ = follow(api, analista, job_id)
    assert scored["estado"] == "done", scored.get("erro") or job_worker.output()[-4000:]
    assert scored["progresso"] == 1.0
    assert scored["resultado"]["alunos_pontuados"] == len(active)
    assert scored["resultado"]["modelo_versao"] == "1"
    assert scored["resultado"]["data_referencia"] == AS_OF.isoformat()
    rows = gym.conn.execute(
        "select aluno_id, modelo_nome from previsoes_churn where job_id = %s", (job_id,)
    ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(active)
    assert {r[1] for r in rows} == {WORKER_MODEL}
    member = min(active)
    risk = api.get(f"/aluno/{member}/risco-churn", headers=staff_headers["recepcao"]).json()
    assert (risk["modelo_nome"], risk["modelo_versao"]) == (WORKER_MODEL, "1")

    # the failed job stayed failed: its message was acked, not requeued nor dead-lettered
    again = api.get(f"/admin/jobs/{premature}", headers=analista).json()
    assert again == failed
    for queue in JOB_QUEUES:
        assert queue_state(gym.settings, queue)[0] == 0, queue
        assert queue_state(gym.settings, dead_letter_queue(queue))[0] == 0, queue
    assert job_worker.alive()


def test_an_undecodable_job_message_is_parked_in_the_dead_letter_queue(
    job_worker, gym, rabbit, api, staff_headers
):
    unknown_job = orjson.dumps({"job_id": str(uuid.uuid4()), "tipo": "atualizar-modelo"})
    for body in (b"{not json", orjson.dumps({"tipo": "atualizar-modelo"}), unknown_job):
        rabbit.basic_publish(
            EXCHANGE,
            MODEL_UPDATE_QUEUE,
            body,
            pika.BasicProperties(delivery_mode=2, content_type="application/json"),
        )

    dlq = dead_letter_queue(MODEL_UPDATE_QUEUE)
    wait_for(lambda: queue_state(gym.settings, dlq)[0] == 2, 60, 0.5, "two parked messages")
    wait_for(
        lambda: queue_state(gym.settings, MODEL_UPDATE_QUEUE)[0] == 0, 30, 0.5, "an empty queue"
    )
    time.sleep(1)
    # the two unreadable ones are parked; a job id with no job is dropped, not parked
    assert queue_state(gym.settings, dlq)[0] == 2
    parked = [rabbit.basic_get(dlq, auto_ack=True)[2] for _ in range(2)]
    assert sorted(parked) == sorted([b"{not json", orjson.dumps({"tipo": "atualizar-modelo"})])
    assert job_worker.alive()
    assert "parking undecodable job message" in job_worker.output()


def test_daily_report_job(job_worker, gym, api, staff_headers):
    analista = staff_headers["analista"]

    response = api.post("/relatorios/diario", json={"data": AS_OF.isoformat()}, headers=analista)

    assert response.status_code == 202, response.text
    job, _ = follow(api, analista, response.json()["id"])
    assert job["estado"] == "done", job.get("erro") or job_worker.output()[-4000:]
    assert job["progresso"] == 1.0
    assert job["resultado"]["data"] == AS_OF.isoformat()
    assert job["resultado"]["resumo"]["visitas"] > 0
    report = api.get(f"/relatorios/{AS_OF.isoformat()}", headers=analista)
    assert report.status_code == 200, report.text


def test_a_redelivered_message_of_an_ended_job_does_not_run_it_again(job_worker, gym, rabbit):
    """The worker stopped after a job ended but before acking its message: the broker delivers
    the message again, and the job must stay as it ended — not retrained, not rescored."""
    ended = {
        MODEL_UPDATE_QUEUE: (uuid.uuid4(), "atualizar-modelo", "failed", None, "Boom: no disk"),
        CHURN_PROBABILITIES_QUEUE: (uuid.uuid4(), "calcular-churn", "done", '{"n": 1}', None),
    }
    for job_id, tipo, estado, resultado, erro in ended.values():
        gym.conn.execute(
            "insert into jobs (id, tipo, estado, progresso, resultado, erro, terminado_em) "
            "values (%s, %s, %s, 1, %s, %s, now() - interval '1 minute')",
            (job_id, tipo, estado, resultado, erro),
        )
    before = {
        job_id: gym.conn.execute("select * from jobs where id = %s", (job_id,)).fetchone()
        for job_id, *_ in ended.values()
    }

    for queue, (job_id, tipo, *_) in ended.items():
        message = {"job_id": str(job_id), "tipo": tipo, "parametros": {}}
        rabbit.basic_publish(
            EXCHANGE, queue, orjson.dumps(message), pika.BasicProperties(delivery_mode=2)
        )

    def ignored() -> bool:
        log = job_worker.output()
        return all(f"job {job_id} is unknown or has already ended" in log for job_id in before)

    wait_for(ignored, 60, 0.5, "the worker to skip both messages")
    for job_id, row in before.items():
        assert gym.conn.execute("select * from jobs where id = %s", (job_id,)).fetchone() == row
    for queue in ended:
        assert queue_state(gym.settings, queue)[0] == 0
        assert queue_state(gym.settings, dead_letter_queue(queue))[0] == 0
