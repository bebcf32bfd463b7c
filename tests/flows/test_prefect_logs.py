"""What a data engineer sees of a flow run: its INFO lines in the Prefect UI (read back through the
Prefect client, as the UI does), a quiet console, dbt's progress per node, and a temporary
Prefect server that never takes the API's port.

The command's side runs in a subprocess, as `gympulse pipeline run` would: Prefect configures its
logging once, when it is first imported, from the settings `prefect_defaults` leaves.
"""

import os
import subprocess
import sys
import textwrap
import uuid
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from flows.cli.common import EPHEMERAL_PREFECT_PORTS, pin_ephemeral_server_ports
from serving.config import Settings
from serving.warehouse import node_progress_line
from tests.support import TEST_ENV

# A command's process: our logging, then Prefect's defaults, then a flow with a step line (run
# logger), a progress line (our module logger) and a task (Prefect's own "Finished in state").
COMMAND = textwrap.dedent(
    """
    import logging
    from flows.cli.common import configure_logging, prefect_defaults

    configure_logging()
    prefect_defaults()

    from prefect import flow, get_run_logger, task
    from prefect.context import get_run_context

    @task
    def step():
        get_run_logger().info("step line from the task")
        logging.getLogger("flows.check").info("progress line from our module")

    @flow(name="log-check")
    def check():
        get_run_logger().info("step line from the flow")
        step()
        return str(get_run_context().flow_run.id)

    print(check())
    """
)


def _run(code: str, **env: str | None) -> subprocess.CompletedProcess:
    """`code` as a command's process; an `env` value of None unsets that variable."""
    environment = {**os.environ, **TEST_ENV}
    for name in ("PREFECT_API_URL", "PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_EXTRA_LOGGERS"):
        environment.pop(name, None)  # the command's own defaults, not the developer's
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_flow_runs_info_lines_reach_the_prefect_ui_and_not_the_console(prefect_server):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    done = _run(COMMAND, PREFECT_API_URL=prefect_server)
    assert done.returncode == 0, done.stderr
    flow_run_id = uuid.UUID(done.stdout.strip().splitlines()[-1])

    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    messages = {log.message for log in logs if log.level == 20}  # INFO
    assert "step line from the flow" in messages
    assert "step line from the task" in messages
    assert "progress line from our module" in messages
    assert any("Finished in state Completed" in message for message in messages)

    # The console: our progress line, none of Prefect's INFO chatter nor the run's step lines.
    assert "progress line from our module" in done.stderr
    assert "Finished in state" not in done.stderr
    assert "Beginning flow run" not in done.stderr
    assert "step line" not in done.stderr


def test_the_temporary_prefect_server_keeps_off_the_api_port(tmp_path):
    """No PREFECT_API_URL: the flow's client starts Prefect's temporary server, on our range."""
    done = _run(
        textwrap.dedent(
            """
            from flows.cli.common import configure_logging, prefect_defaults

            configure_logging()
            prefect_defaults()

            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                client.hello().raise_for_status()
                print(client.api_url)
            """
        ),
        PREFECT_HOME=str(tmp_path),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    )
    assert done.returncode == 0, done.stderr
    port = urlsplit(done.stdout.strip().splitlines()[-1]).port
    assert port in EPHEMERAL_PREFECT_PORTS
    assert port != urlsplit(Settings().api_url).port


def test_the_ports_our_services_listen_on_are_left_out(monkeypatch):
    from prefect.server.api.server import SubprocessASGIServer

    monkeypatch.setattr(SubprocessASGIServer, "_port_range", SubprocessASGIServer._port_range)
    settings = Settings(api_url="http://127.0.0.1:4301", dashboard_port=4302)
    ports = pin_ephemeral_server_ports(settings)
    assert 4301 not in ports and 4302 not in ports
    assert SubprocessASGIServer._port_range == ports
    drawn = {SubprocessASGIServer(port=None).find_available_port() for _ in range(20)}
    assert drawn <= set(ports)


def _event(name: str, resource_type: str = "model", **data) -> SimpleNamespace:
    node = SimpleNamespace(node_name="fct_visitas", resource_type=resource_type)
    return SimpleNamespace(
        info=SimpleNamespace(name=name), data=SimpleNamespace(node_info=node, **data)
    )


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (
            _event("LogModelResult", status="SELECT 1200", index=3, total=41, execution_time=1.25),
            "model fct_visitas ok (3/41, 1.2 s)",
        ),
        (
            _event("LogModelResult", status="error", index=4, total=41, execution_time=0.5),
            "model fct_visitas error (4/41, 0.5 s)",
        ),
        (
            _event(
                "LogTestResult",
                "test",
                status="fail",
                index=9,
                num_models=41,
                execution_time=0.1,
                num_failures=3,
            ),
            "test fct_visitas fail (9/41, 0.1 s)",
        ),
        (
            _event(
                "LogTestResult",
                "unit_test",
                status="pass",
                index=1,
                num_models=41,
                execution_time=0.2,
            ),
            "unit test fct_visitas pass (1/41, 0.2 s)",
        ),
        (_event("MainReportVersion"), None),
    ],
)
def test_dbt_node_results_become_progress_lines(event, line):
    assert node_progress_line(event) == line
