"""The `gympulse` command line. It lives in flows/, the layer that composes everything: each
group's commands are in their own module, registered here."""

import logging
import sys
from importlib.metadata import version
from typing import Annotated, Any

import typer

from flows.cli import churn, data, dlq, platform
from flows.cli.common import configure_logging, load_settings
from flows.cli.errors import operator_message


class GympulseCli(typer.Typer):
    """Typer, except that a failure the operator can fix (a service down) is one line and a
    documented exit code (flows/cli/errors.py) instead of a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            known = operator_message(exc)
            if known is None:
                raise
            message, code = known
            typer.secho(f"error: {message}", fg="red", err=True)
            sys.exit(code)


app = GympulseCli(help="gympulse: gym attendance and churn platform.", no_args_is_help=True)
worker_app = typer.Typer(help="Queue consumers.", no_args_is_help=True)

app.add_typer(platform.db_app, name="db")
app.add_typer(platform.users_app, name="users")
app.add_typer(platform.devices_app, name="devices")
app.add_typer(worker_app, name="worker")
app.add_typer(dlq.dlq_app, name="dlq")
app.add_typer(data.dbt_app, name="dbt")
app.add_typer(data.simulate_app, name="simulate")
app.add_typer(churn.pipeline_app, name="pipeline")
app.add_typer(churn.flows_app, name="flows")
app.add_typer(churn.scores_app, name="scores")
app.command("api")(platform.serve_api)
app.command("dashboard")(platform.serve_dashboard)
app.command("import")(data.import_command)
worker_app.command("checkins")(platform.worker_checkins)
worker_app.command("jobs")(churn.worker_jobs)


def show_version(requested: bool) -> None:
    if requested:
        typer.echo(f"gympulse {version('gympulse')}")
        raise typer.Exit()


@app.callback()
def main(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=show_version, is_eager=True, help="Show the version and exit"
        ),
    ] = False,
) -> None:
    pass


@app.command("demo")
def demo(
    members: Annotated[int, typer.Option(help="Members of the simulated gym")] = 1000,
    checkins: Annotated[int, typer.Option(help="Today's check-ins to post as a kiosk")] = 400,
    port: int = 8000,
    serve: Annotated[bool, typer.Option(help="Keep API and consumer running at the end")] = True,
) -> None:
    """The main job: migrate, create the admin, seed, ingest through API + queue, serve."""
    from flows.demo import run_demo

    configure_logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    raise typer.Exit(
        run_demo(load_settings(), members=members, checkins=checkins, port=port, serve=serve)
    )
