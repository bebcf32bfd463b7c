"""`gympulse worker jobs`: turns job messages into flow runs.

- `model_update_queue` → build ▶ train ▶ register ▶ promote; `churn_probabilities_queue` →
  build ▶ score; `daily_report_queue` → report. Each message carries the job id; the job's row
  goes queued → running → done (with its result) or failed (with its error).
- One job at a time (prefetch 1). The job runs in a thread while the main thread keeps the
  AMQP connection alive (heartbeats), and the message is acked when the job has ended.
- A job that raises ends as failed and is acked: it is not retried. A job that keeps killing
  the worker is redelivered at most `MAX_ATTEMPTS` times, then failed and acked; a message that
  cannot be decoded is parked in the queue's dead-letter queue.
"""

import logging
import signal
import threading
import traceback
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import orjson
import pika

from flows.context import job_progress, resources
from serving.config import Settings
from serving.jobs import fail_job, finish_job, start_job
from serving.messaging import topology
from serving.messaging.reconnect import broker_address, end_session, run_reconnecting

log = logging.getLogger(__name__)

JOB_QUEUES = (
    topology.MODEL_UPDATE_QUEUE,
    topology.CHURN_PROBABILITIES_QUEUE,
    topology.DAILY_REPORT_QUEUE,
)
MAX_ATTEMPTS = 3


def _date(parametros: dict, key: str) -> date | None:
    value = parametros.get(key)
    return date.fromisoformat(value) if value else None


def update_model(job_id: str, parametros: dict) -> dict[str, Any]:
    from flows.churn import build_flow, train_flow

    as_of = _date(parametros, "data_referencia")
    job_progress(job_id, 0.0, 0.05)(0.0, "building the warehouse (dbt)")
    built = build_flow(as_of=as_of)
    return train_flow(as_of=as_of, dbt_invocation_id=built["dbt_invocation_id"], job_id=job_id)


def compute_churn(job_id: str, parametros: dict) -> dict[str, Any]:
    from flows.churn import build_flow, score_flow

    as_of = _date(parametros, "data_referencia")
    job_progress(job_id, 0.0, 0.05)(0.0, "building the warehouse (dbt)")
    build_flow(as_of=as_of)
    return score_flow(as_of=as_of, job_id=job_id)


def daily_report(job_id: str, parametros: dict) -> dict[str, Any]:
    from flows.churn import report_flow

    return report_flow(dia=_date(parametros, "data"), job_id=job_id)


RECIPES: dict[str, Callable[[str, dict], dict[str, Any]]] = {
    topology.MODEL_UPDATE_QUEUE: update_model,
    topology.CHURN_PROBABILITIES_QUEUE: compute_churn,
    topology.DAILY_REPORT_QUEUE: daily_report,
}


def _json_safe(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY))


def run_job(queue: str, job_id: str, parametros: dict) -> None:
    """Run one job to its end state; never raises."""
    engine = resources().engine
    if start_job(engine, uuid.UUID(job_id)) is None:
        log.warning("job %s is unknown or has already ended; ignoring its message", job_id)
        return
    try:
        result = RECIPES[queue](job_id, parametros)
    except Exception as exc:
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        fail_job(engine, uuid.UUID(job_id), f"{type(exc).__name__}: {exc}")
        return
    finish_job(engine, uuid.UUID(job_id), _json_safe(result))
    log.info("job %s done", job_id)


def _attempts(properties) -> int:
    headers = properties.headers or {}
    return int(headers.get("x-delivery-count", 0)) + 1


class JobWorker:
    def __init__(self, settings: Settings, queues: tuple[str, ...] = JOB_QUEUES) -> None:
        self.settings = settings
        self.queues = queues
        self.stopping = False

    def _handle(self, connection, channel, queue: str, method, properties, body: bytes) -> None:
        try:
            message = orjson.loads(body)
            job_id = str(uuid.UUID(message["job_id"]))
            parametros = dict(message.get("parametros") or {})
        except (ValueError, KeyError, TypeError) as exc:
            log.error("parking undecodable job message on %s: %s", queue, exc)
            channel.basic_reject(delivery_tag=method.delivery_tag, requeue=False)
            return
        if _attempts(properties) > MAX_ATTEMPTS:
            fail_job(
                resources().engine,
                uuid.UUID(job_id),
                f"the worker stopped {MAX_ATTEMPTS} times while running this job; not retrying",
            )
            channel.basic_ack(delivery_tag=method.delivery_tag)
            return
        runner = threading.Thread(target=run_job, args=(queue, job_id, parametros), daemon=True)
        runner.start()
        try:
            while runner.is_alive():
                # Heartbeats and broker traffic keep flowing while the job runs.
                connection.process_data_events(time_limit=1)
        except Exception:
            # The connection dropped mid-job: the job ends first, so the redelivered message
            # finds it ended instead of starting a second run beside this one.
            runner.join()
            raise
        channel.basic_ack(delivery_tag=method.delivery_tag)

    def run_once(self, on_connected: Callable[[], None]) -> None:
        params = pika.URLParameters(self.settings.rabbitmq_url)
        params.heartbeat = 60
        connection = pika.BlockingConnection(params)
        try:
            topology.declare_with_pika(connection.channel(), self.settings.queue_delivery_limit)
            # One channel and consumer per queue, prefetch 1: a job waits on the broker, not us.
            consumers = []
            for queue in self.queues:
                channel = connection.channel()
                channel.basic_qos(prefetch_count=1)
                consumers.append((queue, channel, channel.consume(queue, inactivity_timeout=0.2)))
            log.info("consuming %s", ", ".join(self.queues))
            on_connected()
            while not self.stopping:
                for queue, channel, messages in consumers:
                    method, properties, body = next(messages)
                    if method is not None:
                        self._handle(connection, channel, queue, method, properties, body)
                    if self.stopping:
                        break
        finally:
            end_session(connection)

    def run(self) -> None:
        broker = broker_address(self.settings.rabbitmq_url)
        run_reconnecting(self.run_once, lambda: self.stopping, broker)

    def stop(self, *_args) -> None:
        self.stopping = True


def run_job_worker(settings: Settings) -> None:
    worker = JobWorker(settings)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()
