"""`gympulse flows serve`: the flows as deployments with their schedules, visible in the Prefect
UI, run by this process. Needs a Prefect server (`PREFECT_API_URL`); the demo starts one."""

from prefect import serve
from prefect.schedules import Cron

from flows.churn import build_flow, nightly_flow, report_flow, score_flow, train_flow

# Late evening in the gym's zone: the day's visits are in, scores are ready for the morning.
NIGHTLY_CRON = "30 23 * * *"
# Sunday night, after the nightly build: weekly retraining.
WEEKLY_TRAINING_CRON = "30 1 * * 1"


def deployments(timezone: str) -> list:
    return [
        nightly_flow.to_deployment(
            name="nightly",
            schedules=[Cron(NIGHTLY_CRON, timezone=timezone)],
            description="Build ▶ score ▶ daily report, every night.",
            tags=["gympulse", "nightly"],
        ),
        train_flow.to_deployment(
            name="weekly-training",
            schedules=[Cron(WEEKLY_TRAINING_CRON, timezone=timezone)],
            description="Retrain; @champion moves only for a better model.",
            tags=["gympulse", "weekly"],
        ),
        build_flow.to_deployment(name="on-demand", tags=["gympulse"]),
        score_flow.to_deployment(name="on-demand", tags=["gympulse"]),
        report_flow.to_deployment(name="on-demand", tags=["gympulse"]),
    ]


def serve_flows(timezone: str) -> None:
    # The demo and a host's service manager stop and restart this process; a stop must not
    # pause the schedules (Prefect's default), or the nightly run silently never comes again.
    serve(*deployments(timezone), print_starting_message=True, pause_on_shutdown=False)
