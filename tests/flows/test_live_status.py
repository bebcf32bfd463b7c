"""The pipeline command's status line on a terminal: it shows what the run said last (a dbt node
from Prefect's run logger, a training step from ours) with the elapsed time, and leaves no trace
when the output is not a terminal."""

import io
import logging
import time

from rich.console import Console

from flows.cli.live_status import live_status


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=100), out


def test_the_status_line_shows_the_latest_step_of_the_run(caplog):
    # the levels a command's process gives them (prefect_defaults)
    caplog.set_level(logging.INFO, logger="prefect.task_runs")
    caplog.set_level(logging.INFO, logger="flows.context")
    console, out = _console(terminal=True)
    handlers_before = list(logging.getLogger().handlers)

    with live_status("pipeline", console=console):
        logging.getLogger("prefect.task_runs").info("model churn_features ok (57/115, 3.2 s)")
        time.sleep(0.3)  # the status redraws ~12 times a second
        logging.getLogger("flows.context").info(" 30%% random forest on %s snapshots", "400,000")
        time.sleep(0.3)

    shown = out.getvalue()
    assert "pipeline [0:00] model churn_features ok (57/115, 3.2 s)" in shown
    assert "pipeline [0:00] 30% random forest on 400,000 snapshots" in shown
    assert logging.getLogger().handlers == handlers_before


def test_the_clock_runs_while_a_step_says_nothing(caplog):
    caplog.set_level(logging.INFO, logger="flows.context")
    console, out = _console(terminal=True)

    with live_status("pipeline", console=console):
        logging.getLogger("flows.context").info("26% random forest on 392,017 snapshots")
        time.sleep(1.3)  # a forest fit: no message for minutes

    assert "pipeline [0:01] 26% random forest on 392,017 snapshots" in out.getvalue()


def test_without_a_terminal_nothing_is_drawn(caplog):
    caplog.set_level(logging.INFO, logger="prefect.task_runs")
    console, out = _console(terminal=False)

    with live_status("pipeline", console=console):
        logging.getLogger("prefect.task_runs").info("model churn_features ok (57/115, 3.2 s)")

    assert out.getvalue() == ""
