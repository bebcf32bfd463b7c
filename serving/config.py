"""One place for settings: read from the environment and `.env`, shared by every component."""

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_JWT_SECRET = "dev-only-insecure-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=REPO_ROOT / ".env", env_ignore_empty=True, extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"

    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/gympulse"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    mlflow_tracking_uri: str = f"sqlite:///{REPO_ROOT / 'var' / 'mlflow.db'}"
    # Where new experiments keep their artifacts (a file store beside the SQLite backend here).
    mlflow_artifact_root: str = str(REPO_ROOT / "var" / "mlflow-artifacts")
    mlflow_experiment: str = "gympulse-churn"
    churn_model_name: str = "gympulse-churn"
    # Load the champion when the API starts, so the first on-demand score does not wait for it.
    warm_champion: bool = True
    # The dbt target schema the models read (dbt/profiles.yml reads the same variable).
    dbt_schema: str = Field(default="analytics", alias="DBT_SCHEMA")
    api_url: str = "http://127.0.0.1:8000"

    # The dashboard reads PostgreSQL as a read-only role (migration 0005), never as the owner.
    dashboard_database_url: str = "postgresql+psycopg://gympulse_dashboard@127.0.0.1:5432/gympulse"
    dashboard_port: int = 8501
    # How long a shared dashboard query (same answer for every user) is reused.
    dashboard_cache_seconds: int = 60
    # Scores older than this are flagged as stale on every page that shows them.
    dashboard_stale_scores_hours: int = 30

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    access_token_minutes: int = 15
    refresh_token_days: int = 7

    gym_timezone: str = "America/Sao_Paulo"
    # A kiosk clock a little ahead is normal; a timestamp further ahead is a broken clock.
    checkin_max_future_seconds: int = 300
    publish_timeout_seconds: float = 2.0
    bulk_events_per_message: int = 500

    consumer_batch_size: int = 500
    consumer_flush_ms: int = 200
    queue_delivery_limit: int = 10

    redis_timeout_seconds: float = 0.25
    frequency_cache_seconds: int = 12 * 3600
    churn_cache_seconds: int = 24 * 3600
    # How many of the riskiest members the cached at-risk list holds for the dashboard.
    risk_list_size: int = 500

    admin_username: str | None = Field(default=None, alias="GYMPULSE_ADMIN_USERNAME")
    admin_password: SecretStr | None = Field(default=None, alias="GYMPULSE_ADMIN_PASSWORD")
    admin_email: str | None = Field(default=None, alias="GYMPULSE_ADMIN_EMAIL")

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> "Settings":
        if self.environment == "production":
            secret = self.jwt_secret.get_secret_value()
            if secret == DEV_JWT_SECRET or len(secret) < 32:
                raise ValueError(
                    "JWT_SECRET must be set to a random value of at least 32 characters in "
                    "production (e.g. `openssl rand -hex 32`); refusing to start with the default."
                )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.gym_timezone)


@lru_cache
def get_settings() -> Settings:
    return Settings()
