"""Running the dbt project (dbt/) from Python: the CLI, the demo and (later) the flows."""

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt"


def dbt_env(database_url: str) -> dict[str, str]:
    """The profile's connection (dbt/profiles.yml reads DBT_*) taken from DATABASE_URL."""
    url = make_url(database_url)
    env = {"DBT_DATABASE": url.database or "gympulse"}
    if url.host:
        env["DBT_HOST"] = url.host
    if url.port:
        env["DBT_PORT"] = str(url.port)
    if url.username:
        env["DBT_USER"] = url.username
    if url.password:
        env["DBT_PASSWORD"] = url.password
    return env


def dbt_build(
    database_url: str,
    *,
    as_of: date | None = None,
    full_refresh: bool = False,
    select: str | None = None,
    quiet: bool = False,
    progress: Callable[[str], None] | None = None,
):
    """`dbt build` (models, unit tests, data tests) in-process; returns dbt's result object.
    `progress` gets one line per model, seed, snapshot and test as dbt finishes it."""
    from dbt.cli.main import dbtRunner

    project = str(DBT_PROJECT_DIR)
    args = ["build", "--project-dir", project, "--profiles-dir", project]
    if quiet:
        args.insert(0, "--quiet")
    if as_of is not None:
        args += ["--vars", json.dumps({"as_of": as_of.isoformat()})]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    callbacks = [] if progress is None else [_reporting_nodes(progress)]
    with _environment(dbt_env(database_url)):
        return dbtRunner(callbacks=callbacks).invoke(args)


# dbt's events for a finished node, and the name of the node's kind in them.
_NODE_RESULTS = {
    "LogModelResult": "model",
    "LogSeedResult": "seed",
    "LogSnapshotResult": "snapshot",
    "LogTestResult": "test",
}


def node_progress_line(event: Any) -> str | None:
    """'model fct_visitas ok (3/41, 1.2 s)' for a dbt event that closes a node; None for the
    rest. The node's name and status only: dbt's messages can quote the rows a test found."""
    kind = _NODE_RESULTS.get(event.info.name)
    if kind is None:
        return None
    data = event.data
    node = data.node_info
    if node.resource_type == "unit_test":
        kind = "unit test"
    if kind in {"test", "unit test"}:
        total, status = data.num_models, data.status  # pass, warn, fail, error
    else:  # a model's, seed's or snapshot's status is dbt's row count, or "error"
        total, status = data.total, "error" if data.status == "error" else "ok"
    return f"{kind} {node.node_name} {status} ({data.index}/{total}, {data.execution_time:.1f} s)"


def _reporting_nodes(progress: Callable[[str], None]) -> Callable[[Any], None]:
    def on_event(event: Any) -> None:
        line = node_progress_line(event)
        if line is not None:
            progress(line)

    return on_event


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """dbt's profile reads its connection from the environment (env_var in profiles.yml), and an
    in-process run has no other way to receive it: set it for the run only, then put back what
    was there, so the credentials do not outlive the build in this process."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
