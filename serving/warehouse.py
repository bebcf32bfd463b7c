"""Running the dbt project (dbt/) from Python: the CLI, the demo and (later) the flows."""

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

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
):
    """`dbt build` (models, unit tests, data tests) in-process; returns dbt's result object."""
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
    with _environment(dbt_env(database_url)):
        return dbtRunner().invoke(args)


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
