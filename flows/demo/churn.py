"""The churn half of `gympulse demo`: the Prefect, MLflow and dashboard UIs, the pipeline run once
(build ▶ train ▶ register ▶ promote ▶ score ▶ report), a synthetic student scored on demand, a
report job through the queue, and the processes that keep serving.

With the Prefect server up, the pipeline is a flow run of the `nightly` deployment that
`gympulse flows serve` (one of the demo's children) serves: the Prefect UI lists it under
`nightly`, with its logs. Without the server it runs in the demo's own process."""

import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import httpx
from rich.console import Console

from flows.demo.failures import DemoFailed
from serving.config import REPO_ROOT, Settings

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun, State

PREFECT_PORT = 4200
MLFLOW_PORT = 5000
BIN = Path(sys.executable).parent
LOG_DIR = REPO_ROOT / "var" / "log"
NIGHTLY_DEPLOYMENT = "nightly-pipeline/nightly"
# The spinner's words for the tasks of flows/churn.py's nightly_flow.
STEPS = {
    "build_warehouse": "dbt build",
    "train": "train",
    "register_and_promote": "register ▶ promote",
    "score": "score",
    "daily_report": "daily report",
    "monitor": "monitor",
}


def _spawn(
    args: list[str], log_name: str, env: Mapping[str, str], log_dir: Path = LOG_DIR
) -> subprocess.Popen:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{log_name}.log", "ab")  # noqa: SIM115 - child's
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
    """The nightly flow once, retraining, in this process (no Prefect server of the demo's: a
    temporary one); a failure raises (the demo reports it in one line)."""
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


def _flow_runner_env(env: Mapping[str, str]) -> dict[str, str]:
    """A child that runs flows logs at INFO, which reaches its runs' logs in the Prefect UI (its
    console is a file in var/log/), not at the WARNING that keeps the demo's console quiet."""
    return {name: value for name, value in env.items() if name != "PREFECT_LOGGING_LEVEL"}


def start_job_worker() -> subprocess.Popen:
    env = _flow_runner_env(os.environ)
    return _spawn([sys.executable, "-m", "flows.cli", "worker", "jobs"], "worker-jobs", env)


@dataclass
class FlowServer:
    """`gympulse flows serve` as the demo started it."""

    process: subprocess.Popen
    log: Path
    started: datetime


def start_flow_server(env: Mapping[str, str] | None = None, log_dir: Path = LOG_DIR) -> FlowServer:
    """`gympulse flows serve` in the background (`env`: the demo's own by default): the
    deployments with their schedules, and the runs of them, the demo's pipeline among them."""
    runner_env = {
        **_flow_runner_env(os.environ if env is None else env),
        # A flow's return value is persisted (under PREFECT_HOME/storage, a small dict), so
        # the demo reads the outcome of the run it asked for. Its tasks' are not: they would
        # inherit the flow's choice, and every training would pickle its models there.
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_TASKS_DEFAULT_PERSIST_RESULT": "false",
    }
    started = datetime.now(UTC)
    cli = [sys.executable, "-m", "flows.cli", "flows", "serve"]
    process = _spawn(cli, "flows-serve", runner_env, log_dir)
    return FlowServer(process, log_dir / "flows-serve.log", started)


def wait_until_served(server: FlowServer, console: Console, timeout: float = 120) -> None:
    """Until this server polls for runs of the nightly deployment (the deployment itself may
    be left from an earlier demo, served by nobody)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout
    with (
        console.status("serving the flows (gympulse flows serve)"),
        get_client(sync_client=True) as client,
    ):
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise DemoFailed(f"`gympulse flows serve` exited at startup: see {server.log}")
            try:
                polled = client.read_deployment_by_name(NIGHTLY_DEPLOYMENT).last_polled
            except ObjectNotFound:
                polled = None
            if polled is not None and polled >= server.started:
                return
            time.sleep(1)
    raise DemoFailed(
        f"`gympulse flows serve` did not serve {NIGHTLY_DEPLOYMENT} within {timeout:.0f} s: "
        f"see {server.log}"
    )


def run_served_pipeline(console: Console, server: FlowServer, as_of: date | None = None) -> None:
    """The nightly flow once, retraining, as a run of the served deployment; the spinner names
    the step it is at. A run that does not complete raises (the demo reports it in one line)."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.utilities.urls import url_for

    from flows.cli.churn import outcome_lines

    parameters: dict[str, Any] = {"retrain": True}
    if as_of is not None:  # the demo's is today; a test's gym ended earlier
        parameters["as_of"] = as_of
    # timeout=0: created, not awaited, so that the spinner can name each step. Called outside
    # an event loop, run_deployment is its synchronous self.
    created = cast("FlowRun", run_deployment(NIGHTLY_DEPLOYMENT, parameters=parameters, timeout=0))
    url = url_for("flow-run", obj_id=created.id)
    with get_client(sync_client=True) as client:
        state = _final_state(client, created.id, server, console, url)
    if not state.is_completed():
        why = (state.message or "").strip().splitlines()
        raise DemoFailed(
            f"the flow run {created.name} of {NIGHTLY_DEPLOYMENT} ended {state.name}"
            + (f" ({why[0][:200]})" if why else "")
            + f": its logs are at {url} and in {server.log}"
        )
    console.print(
        f"✔ churn pipeline ran: flow run {created.name} of {NIGHTLY_DEPLOYMENT}, {url}",
        highlight=False,
        soft_wrap=True,
    )
    for line in outcome_lines(state.result()):
        console.print(line, highlight=False)


def _final_state(
    client: "SyncPrefectClient",
    flow_run_id: UUID,
    server: FlowServer,
    console: Console,
    url: str | None,
) -> "State":
    """The flow run's state once it ended, read every second; meanwhile the spinner names the
    step it is at."""
    step = "waiting for `gympulse flows serve` to start it"
    with console.status(f"pipeline: {step}") as status:
        while True:
            state = client.read_flow_run(flow_run_id).state
            if state is not None and state.is_final():
                return state
            if server.process.poll() is not None:
                raise DemoFailed(
                    "`gympulse flows serve` exited during the pipeline's flow run: see "
                    f"{server.log} and {url}"
                )
            step = _current_step(client, flow_run_id) or step
            status.update(f"pipeline: {step}")
            time.sleep(1)


def _current_step(client: "SyncPrefectClient", flow_run_id: UUID) -> str | None:
    """The task of the flow run that is running now (or waits to retry), in the spinner's
    words; None between two tasks."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    runs = client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
        sort=TaskRunSort.EXPECTED_START_TIME_DESC,
    )
    task_run = next((run for run in runs if run.state and not run.state.is_final()), None)
    if task_run is None:
        return None
    task = task_run.name.rpartition("-")[0] or task_run.name  # "score-0": the task, its key
    step = STEPS.get(task, task)
    return f"{step} (failed once, retrying)" if task_run.state_name == "AwaitingRetry" else step
