"""A job that keeps killing its worker is not retried forever: the broker redelivers it to the
next worker, and the delivery after the third crash ends it as failed, with a message saying
so, instead of starting it again."""

import signal

import pytest

from flows.worker import MAX_ATTEMPTS
from serving.messaging.topology import MODEL_UPDATE_QUEUE, dead_letter_queue
from tests.churn_support import AS_OF, JobWorkerProcess, wait_for
from tests.flows.test_worker import queue_state

pytestmark = pytest.mark.slow


def test_a_job_that_kills_its_worker_three_times_ends_failed(
    gym, prefect_server, api, staff_headers, rabbit, tmp_path
):
    env = {"CHURN_MODEL_NAME": "gympulse-churn-crash", "PREFECT_API_URL": prefect_server}
    response = api.post(
        "/admin/atualizar-modelo",
        json={"data_referencia": AS_OF.isoformat()},
        headers=staff_headers["admin"],
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    def started_since(previous):
        row = gym.conn.execute(
            "select estado, iniciado_em from jobs where id = %s", (job_id,)
        ).fetchone()
        return row if row[0] == "running" and row[1] != previous else None

    started = None
    for crash in range(MAX_ATTEMPTS):
        worker = JobWorkerProcess(tmp_path / f"worker-{crash}.log", env).start()
        started = wait_for(
            lambda previous=started: started_since(previous),
            120,
            0.2,
            f"attempt {crash + 1} of the job to start",
        )[1]
        worker.process.send_signal(signal.SIGKILL)  # the job took the worker down
        worker.process.wait()

    survivor = JobWorkerProcess(tmp_path / "worker-last.log", env).start()
    try:
        ended = wait_for(
            lambda: gym.conn.execute(
                "select estado, erro, iniciado_em from jobs where id = %s and estado <> 'running'",
                (job_id,),
            ).fetchone(),
            120,
            0.3,
            "the job to be failed",
        )
        assert ended[0] == "failed"
        assert f"stopped {MAX_ATTEMPTS} times while running this job" in ended[1]
        assert ended[2] == started, "the fourth delivery must not start the job again"
        assert queue_state(gym.settings, MODEL_UPDATE_QUEUE)[0] == 0
        assert queue_state(gym.settings, dead_letter_queue(MODEL_UPDATE_QUEUE))[0] == 0
    finally:
        survivor.stop()
