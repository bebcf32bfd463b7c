"""What tests share besides fixtures: the isolated test environment (database `gympulse_test`,
RabbitMQ vhost `gympulse_test`, Redis database 15), a real worker subprocess, and small waits."""

import os
import subprocess
import sys
import time
from collections.abc import Callable

# A suffix lets two test runs share the machine without dropping each other's database.
_SUFFIX = os.environ.get("GYMPULSE_TEST_SUFFIX", "")
TEST_DATABASE = f"gympulse_test{_SUFFIX}"
TEST_VHOST = f"gympulse_test{_SUFFIX}"
_REDIS_DB = os.environ.get("GYMPULSE_TEST_REDIS_DB", "15")
TEST_ENV = {
    "ENVIRONMENT": "test",
    "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{TEST_DATABASE}",
    "DASHBOARD_DATABASE_URL": (
        f"postgresql+psycopg://gympulse_dashboard@127.0.0.1:5432/{TEST_DATABASE}"
    ),
    "RABBITMQ_URL": f"amqp://guest:guest@127.0.0.1:5672/{TEST_VHOST}",
    "REDIS_URL": f"redis://127.0.0.1:6379/{_REDIS_DB}",
    "JWT_SECRET": "test-secret-" + "x" * 40,
    "PUBLISH_TIMEOUT_SECONDS": "2",
    "CONSUMER_FLUSH_MS": "100",
    # Tests never touch the developer's MLflow store; ML tests point it at their own.
    "MLFLOW_TRACKING_URI": f"sqlite:////tmp/gympulse-test{_SUFFIX}-mlflow/mlflow.db",
    "MLFLOW_ARTIFACT_ROOT": f"/tmp/gympulse-test{_SUFFIX}-mlflow/artifacts",
    "WARM_CHAMPION": "false",
}
APP_TABLES = (
    "previsoes_churn, checkins, alunos_status_historico, alunos, planos, refresh_tokens, "
    "usuarios, dispositivos, jobs, relatorios_diarios, auditoria"
)
PASSWORD = "correct-horse-battery"


class Worker:
    """`gympulse worker checkins` as a real subprocess, so tests can kill it."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        """`env` overrides the test environment (e.g. another broker's RABBITMQ_URL)."""
        self.process: subprocess.Popen | None = None
        self.env = env or {}

    def start(self) -> "Worker":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "worker", "checkins"],
            env={**os.environ, **TEST_ENV, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> str:
        """Graceful stop; returns what the worker logged."""
        if self.process is None:
            return ""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        output = self.process.stdout.read().decode() if self.process.stdout else ""
        self.process = None
        return output


def wait_until(predicate: Callable[[], bool], timeout: float = 20, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def count(db, sql: str, *params) -> int:
    return db.execute(sql, params).fetchone()[0]


def refused(response, status: int, codigo: str) -> dict:
    """Asserts the API's one error shape (ErroOut: a pt-BR `detail`, the machine `codigo`,
    `erros` per field or event) with this status and code; returns the body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "codigo", "erros"}, body
    assert body["codigo"] == codigo, body
    assert isinstance(body["detail"], str) and body["detail"], body
    return body
