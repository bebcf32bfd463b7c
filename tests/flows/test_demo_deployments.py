"""`gympulse demo` with its Prefect server up: `gympulse flows serve` starts before the pipeline,
and the pipeline is a flow run of the served `nightly` deployment, so the Prefect UI lists it
under `nightly` with its INFO logs, while the demo's console shows its spinner and the outcome
lines only. A flow run that fails is one line pointing at its page in the UI and the serve log.

A Prefect server of the module's own (a port in 18100–18199, its own PREFECT_HOME); the
package's simulated gym, warehouse schema and MLflow store, under a model name of this module's
(the nightly tests expect v1 of theirs).
"""

import io
import logging
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from flows.cli.churn import outcome_lines
from flows.demo.churn import (
    BIN,
    NIGHTLY_DEPLOYMENT,
    FlowServer,
    run_served_pipeline,
    start_flow_server,
    wait_until_served,
)
from flows.demo.failures import DemoFailed, report_failure
from tests.churn_support import AS_OF, wait_for
from tests.services import port_open

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SERVED_MODEL = "gympulse-churn-served"
PORTS = range(18150, 18200)


def _free_port() -> int:
    return next(port for port in PORTS if not port_open(port))


def _answers(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen, group: bool = False) -> None:
    """SIGTERM, then SIGKILL after 30 s; `group`: the process and the children of its session."""
    if process.poll() is not None:
        return

    def send(sig: signal.Signals) -> None:
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)

    send(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """`prefect server start` as the demo starts it, on a port and a PREFECT_HOME of its own:
    (API URL, PREFECT_HOME)."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = home / "prefect-server.log"
    with log.open("ab") as output:
        server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own session: the teardown stops its workers too
        )
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        wait_for(
            lambda: server.poll() is not None or _answers(api_url),
            timeout=180,
            what="the Prefect server",
        )
        assert server.poll() is None, log.read_text()[-3000:]
        yield api_url, home
    finally:
        _stop(server, group=True)


@pytest.fixture
def serve_flows(gym, prefect_api, tmp_path) -> Iterator[Callable[..., FlowServer]]:
    """Starts `gympulse flows serve` the way the demo does, against the module's Prefect server
    (environment overrides as keyword arguments); this process's Prefect client talks to that
    server too. Every serve process started is stopped at the end."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    api_url, home = prefect_api
    started: list[FlowServer] = []

    def start(**overrides: str) -> FlowServer:
        env = {
            **os.environ,
            "PREFECT_API_URL": api_url,
            "PREFECT_HOME": str(home),
            "CHURN_MODEL_NAME": SERVED_MODEL,
            **overrides,
        }
        server = start_flow_server(env, log_dir=tmp_path)
        started.append(server)
        return server

    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield start
    finally:
        for server in started:
            _stop(server.process)


def _nightly_runs(client) -> list:
    """The runs of the `nightly` deployment that were asked for (not the schedule's future
    ones)."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    deployment = client.read_deployment_by_name(NIGHTLY_DEPLOYMENT)
    return client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED]))
        ),
    )


def _info_messages(client, flow_run_id: uuid.UUID) -> list[str]:
    """The run's INFO lines as the UI reads them (every page)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    only_this_run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    logs: list = []
    while page := client.read_logs(only_this_run, limit=200, offset=len(logs)):
        logs += page
        if len(page) < 200:
            break
    return [log.message for log in logs if log.level == logging.INFO]


def test_the_pipeline_is_a_run_of_the_served_nightly_deployment_with_its_logs(
    serve_flows, gym, capfd
):
    from prefect.client.orchestration import get_client

    server = serve_flows()
    shown = io.StringIO()
    console = Console(file=shown, width=400)

    wait_until_served(server, console)
    run_served_pipeline(console, server, as_of=AS_OF)

    with get_client(sync_client=True) as client:
        runs = _nightly_runs(client)
        assert len(runs) == 1, [(run.name, run.state_name) for run in runs]
        run = runs[0]
        assert run.state is not None and run.state.is_completed(), run.state
        assert run.parameters["retrain"] is True
        logs = _info_messages(client, run.id)
        outcome = run.state.result()

    # Its logs in the UI: our step lines, dbt's progress per node, Prefect's own.
    assert f"dbt build as of {AS_OF.isoformat()}" in logs
    assert any(re.fullmatch(r"model \S+ ok \(\d+/\d+, [\d.]+ s\)", line) for line in logs), logs
    assert any("Finished in state Completed" in line for line in logs)

    # The demo's console: one line saying where the run is, then what it did.
    lines = shown.getvalue().splitlines()
    assert lines[0].startswith(f"✔ churn pipeline ran: flow run {run.name} of nightly-pipeline")
    assert lines[0].endswith(f"/runs/flow-run/{run.id}")
    assert lines[1:] == outcome_lines(outcome)
    assert lines[1] == f"as of {AS_OF.isoformat()}"
    assert any("v1 is @champion" in line for line in lines)
    members = f"{len(gym.active_members()):,}"
    assert any(f"{members} active members scored with v1" in line for line in lines), lines
    out, err = capfd.readouterr()
    assert "Finished in state" not in out + err  # Prefect's INFO stays in the UI
    assert "Traceback" not in out + err


def test_a_failed_flow_run_is_one_line_pointing_at_the_ui_and_the_serve_log(
    serve_flows, tmp_path, capfd
):
    # A database nobody answers at: the dbt build fails, is retried once, and fails the run.
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/gympulse_test"
    server = serve_flows(DATABASE_URL=nowhere)
    console = Console(file=io.StringIO(), width=400)
    errors = io.StringIO()

    wait_until_served(server, console)
    with pytest.raises(DemoFailed) as failed:
        run_served_pipeline(console, server, as_of=AS_OF)
    code = report_failure(
        Console(file=errors, width=400), "running the churn pipeline", failed.value, tmp_path
    )

    assert code == 1
    lines = errors.getvalue().strip().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("✘ running the churn pipeline failed: the flow run ")
    assert "ended Failed" in line and "WarehouseBuildError" in line
    assert re.search(r"http://127\.0\.0\.1:\d+/runs/flow-run/[0-9a-f-]{36}", line), line
    assert str(server.log) in line
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err + line


def test_stopping_the_serve_process_leaves_the_schedules_running(serve_flows):
    from prefect.client.orchestration import get_client

    server = serve_flows()
    wait_until_served(server, Console(file=io.StringIO(), width=400))
    _stop(server.process)

    with get_client(sync_client=True) as client:
        nightly = client.read_deployment_by_name(NIGHTLY_DEPLOYMENT)
        training = client.read_deployment_by_name("train-churn-model/weekly-training")
    assert server.process.returncode is not None
    assert nightly.paused is False and training.paused is False
