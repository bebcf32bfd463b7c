"""What every flow run shares in one process: settings, a database engine, a Redis client, the
MLflow store — created once, on first use."""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import redis
import sqlalchemy as sa

from models.registry import use_tracking
from serving.config import Settings, get_settings
from serving.db.engine import sync_engine
from serving.jobs import report_progress

log = logging.getLogger(__name__)


@dataclass
class Resources:
    settings: Settings

    @cached_property
    def engine(self) -> sa.Engine:
        return sync_engine(self.settings.database_url)

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.settings.redis_url, socket_connect_timeout=2, socket_timeout=10
        )

    def use_mlflow(self) -> Settings:
        use_tracking(
            self.settings.mlflow_tracking_uri,
            self.settings.mlflow_experiment,
            self.settings.mlflow_artifact_root,
        )
        return self.settings


@lru_cache
def resources() -> Resources:
    return Resources(get_settings())


def reset_resources() -> None:
    """Tests switch settings between runs."""
    resources.cache_clear()


def job_progress(job_id: str | None, start: float, end: float) -> Callable[[float, str], None]:
    """A progress callback mapping a step's 0..1 onto [start, end] of the job's bar."""

    def report(fraction: float, message: str) -> None:
        log.info("%3.0f%% %s", 100 * (start + (end - start) * fraction), message)
        if job_id:
            report_progress(
                resources().engine, uuid.UUID(job_id), start + (end - start) * fraction, message
            )

    return report
