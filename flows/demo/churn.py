"""The churn half of `gympulse demo`: the Prefect, MLflow and dashboard UIs, the pipeline run once
(build ▶ train ▶ register ▶ promote ▶ score ▶ report), a synthetic student scored on demand, a
report job through the queue, and the processes that keep serving."""

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console

from serving.config import REPO_ROOT, Settings

PREFECT_PORT = 4200
MLFLOW_PORT = 5000
BIN = Path(sys.executable).parent


def _spawn(args: list[str], log_name: str, env: dict[str, str]) -> subprocess.Popen:
    (REPO_ROOT / "var" / "log").mkdir(parents=True, exist_ok=True)
    log = open(REPO_ROOT / "var" / "log" / f"{log_name}.log", "ab")  # noqa: SIM115 - child's
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)


def prefect_env() -> dict[str, str]:
    return {
        "PREFECT_HOME": str(REPO_ROOT / "var" / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_API_URL": f"http://127.0.0.1:{PREFECT_PORT}/api",
    }


def start_uis(settings: Settings) -> list[subprocess.Popen]:
    """Prefect server (runs, schedules), MLflow UI (runs, registry) and the dashboard, in the
    background."""
    env = {**os.environ, **prefect_env()}
    prefect = _spawn(
        [
            str(BIN / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(PREFECT_PORT),
        ],
        "prefect-server",
        env,
    )
    mlflow = _spawn(
        [
            str(BIN / "mlflow"),
            "ui",
            "--backend-store-uri",
            settings.mlflow_tracking_uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(MLFLOW_PORT),
        ],
        "mlflow-ui",
        env,
    )
    # The dashboard reads the demo's database as its read-only role (DASHBOARD_DATABASE_URL).
    dashboard = _spawn(
        [sys.executable, "-m", "flows.cli", "dashboard", "--port", str(settings.dashboard_port)],
        "dashboard",
        env,
    )
    return [prefect, mlflow, dashboard]


def dashboard_up(settings: Settings) -> bool:
    try:
        url = f"http://127.0.0.1:{settings.dashboard_port}/_stcore/health"
        return httpx.get(url, timeout=2).text == "ok"
    except httpx.HTTPError:
        return False


def wait_for_prefect(console: Console, timeout: float = 90) -> bool:
    """Use the server when it answers; otherwise flows run on a temporary one (still work)."""
    url = prefect_env()["PREFECT_API_URL"]
    deadline = time.monotonic() + timeout
    with console.status("waiting for the Prefect server"):
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    os.environ.update(prefect_env())
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(1)
    console.print("[yellow]! Prefect server did not start (var/log/prefect-server.log)")
    return False


def run_pipeline(console: Console) -> None:
    """The nightly flow once, retraining; a failure raises (the demo reports it in one line)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # The spinner says what runs; step logs are for the worker's log files.
    for name in ("flows", "models", "serving.scores", "mlflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from flows.churn import nightly_flow

    with console.status("pipeline: dbt build ▶ train ▶ register ▶ promote ▶ score ▶ report"):
        outcome = nightly_flow(retrain=True)
    from flows.cli.churn import outcome_lines

    console.print("✔ churn pipeline ran")
    for line in outcome_lines(outcome):
        console.print(line, highlight=False)


def show_on_demand_score(admin: httpx.Client, console: Console) -> None:
    """A member created a second ago gets a score from the champion right away."""
    plan = admin.get("/planos").raise_for_status().json()[0]["nome"]
    student = admin.post(
        "/aluno/sintetico",
        json={
            "plano": plan,
            "visitas_semana": 0.5,
            "duracao": 35,
            "dias_desde_ultima": 18,
            "semanas": 20,
        },
    )
    if student.status_code != 201:
        console.print(f"[yellow]! synthetic student not created: {student.text}")
        return
    aluno_id = student.json()["aluno_id"]
    risk = admin.get(f"/aluno/{aluno_id}/risco-churn")
    if risk.status_code != 200:
        console.print(f"[yellow]! no score for the synthetic student: {risk.text}")
        return
    body = risk.json()
    console.print(
        f"✔ synthetic student {aluno_id} scored on demand: {body['probabilidade']:.0%} "
        f"({body['faixa_risco']}) — " + "; ".join(f["descricao"] for f in body["fatores"])
    )


def request_report(admin: httpx.Client, console: Console, timeout: float = 120) -> None:
    """POST /relatorios/diario → daily_report_queue → `gympulse worker jobs` → stored report."""
    job = admin.post("/relatorios/diario", json={}).raise_for_status().json()
    deadline = time.monotonic() + timeout
    with console.status("daily report job queued; waiting for the job worker"):
        while time.monotonic() < deadline:
            state = admin.get(f"/admin/jobs/{job['id']}").raise_for_status().json()
            if state["estado"] in {"done", "failed"}:
                break
            time.sleep(0.5)
    if state["estado"] == "done":
        console.print(f"✔ report job {job['id'][:8]} done through the queue: GET /relatorios")
    else:
        console.print(f"[yellow]! report job ended {state['estado']}: {state.get('erro')}")


def start_workers(serve_flows: bool) -> list[subprocess.Popen]:
    env = {**os.environ}
    cli = [sys.executable, "-m", "flows.cli"]
    children = [_spawn([*cli, "worker", "jobs"], "worker-jobs", env)]
    if serve_flows:
        children.append(_spawn([*cli, "flows", "serve"], "flows-serve", env))
    return children
