"""One place for settings: read from the environment and `.env`, shared by every component."""

import os
import secrets
import time
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
# Published in this repository's history and examples: anyone could sign tokens with it.
DEV_JWT_SECRET = "dev-only-insecure-secret-change-me"
JWT_SECRET_MIN_LENGTH = 32
DATABASE_DRIVER = "postgresql+psycopg"
# The spellings other tools use for the same database (libpq, Heroku, psql).
_PLAIN_POSTGRES_SCHEMES = ("postgres://", "postgresql://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=REPO_ROOT / ".env", env_ignore_empty=True, extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"

    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/gympulse"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    mlflow_tracking_uri: str = f"sqlite:///{REPO_ROOT / 'var' / 'mlflow.db'}"
    # Where new experiments keep their artifacts. Unset, it follows the tracking URI (see
    # `_artifacts_follow_tracking`).
    mlflow_artifact_root: str | None = None
    mlflow_experiment: str = "gympulse-churn"
    churn_model_name: str = "gympulse-churn"
    # Load the champion when the API starts, so the first on-demand score does not wait for it.
    warm_champion: bool = True
    # The dbt target schema the models read (dbt/profiles.yml reads the same variable).
    dbt_schema: str = Field(default="analytics", alias="DBT_SCHEMA")
    api_url: str = "http://127.0.0.1:8000"
    # Browser origins allowed to call the API (CORS), e.g. CORS_ORIGINS='["https://app.example"]'.
    # Empty: no cross-origin browser calls (the dashboard calls the API from its server).
    cors_origins: list[str] = []

    # The dashboard reads PostgreSQL as a read-only role (migration 0005), never as the owner.
    dashboard_database_url: str = "postgresql+psycopg://gympulse_dashboard@127.0.0.1:5432/gympulse"
    dashboard_port: int = 8501
    # How long a shared dashboard query (same answer for every user) is reused.
    dashboard_cache_seconds: int = 60
    # Scores older than this are flagged as stale on every page that shows them.
    dashboard_stale_scores_hours: int = 30

    # Unset: a random secret is generated on first use and kept in `secrets_dir` (see
    # `signing_secret`), so every process of this installation signs with the same one.
    jwt_secret: SecretStr | None = None
    secrets_dir: Path = REPO_ROOT / "var" / "secrets"
    access_token_minutes: int = 15
    refresh_token_days: int = 7
    # A refresh token presented again this soon after it was rotated gets a new pair instead of
    # revoking its family (two tabs refreshing at once, a retry after a lost answer).
    refresh_reuse_grace_seconds: float = Field(default=10.0, ge=0)
    # Failed logins per minute per username and per client address (the address also counts
    # refused refresh tokens); half of each while Redis is down (serving/api/login_guard.py).
    login_failures_per_user: int = Field(default=10, ge=1)
    login_failures_per_address: int = Field(default=30, ge=1)
    # Password hashes (argon2id, 64 MiB each) computed at once per API process, and how long a
    # request waits for one before answering 503 (serving/api/password_hashing.py).
    password_hash_slots: int = Field(default=2, ge=1)
    password_hash_wait_seconds: float = Field(default=5.0, gt=0)

    gym_timezone: str = "America/Sao_Paulo"
    # A kiosk clock a little ahead is normal; a timestamp further ahead is a broken clock.
    checkin_max_future_seconds: int = 300
    publish_timeout_seconds: float = 2.0
    bulk_events_per_message: int = 500

    consumer_batch_size: int = 500
    consumer_flush_ms: int = 200
    queue_delivery_limit: int = 10
    # Jobs queued or running at once, all kinds together; beyond it a request answers 429.
    max_pending_jobs: int = Field(default=20, ge=1)
    # A job still queued or running this long after it was queued or last started is stale (its
    # message was lost, or no worker runs): the next job request fails it, so it blocks nothing.
    stale_job_minutes: int = Field(default=360, ge=1)

    redis_timeout_seconds: float = 0.25
    frequency_cache_seconds: int = 12 * 3600
    churn_cache_seconds: int = 24 * 3600
    # How many of the riskiest members the cached at-risk list holds for the dashboard.
    risk_list_size: int = 500

    admin_username: str | None = Field(default=None, alias="GYMPULSE_ADMIN_USERNAME")
    admin_password: SecretStr | None = Field(default=None, alias="GYMPULSE_ADMIN_PASSWORD")
    admin_email: str | None = Field(default=None, alias="GYMPULSE_ADMIN_EMAIL")

    @field_validator("database_url", "dashboard_database_url")
    @classmethod
    def _psycopg_driver(cls, url: str) -> str:
        for scheme in _PLAIN_POSTGRES_SCHEMES:
            if url.startswith(scheme):
                return f"{DATABASE_DRIVER}://" + url.removeprefix(scheme)
        if not url.startswith(f"{DATABASE_DRIVER}://"):
            raise ValueError(
                f"a database URL must look like {DATABASE_DRIVER}://user@host:5432/database "
                f"(got a '{url.split(':', 1)[0]}' URL)"
            )
        return url

    @model_validator(mode="after")
    def _artifacts_follow_tracking(self) -> "Settings":
        if self.mlflow_artifact_root is None:
            self.mlflow_artifact_root = default_artifact_root(self.mlflow_tracking_uri)
        return self

    @model_validator(mode="after")
    def _refuse_a_weak_secret(self) -> "Settings":
        if self.jwt_secret is not None and self.environment != "test":
            secret = self.jwt_secret.get_secret_value()
            if secret == DEV_JWT_SECRET or len(secret) < JWT_SECRET_MIN_LENGTH:
                raise ValueError(
                    f"JWT_SECRET must be a random value of at least {JWT_SECRET_MIN_LENGTH} "
                    "characters (e.g. `openssl rand -hex 32`), or unset to let gympulse generate "
                    "one; refusing to start with a published or short secret."
                )
        return self

    @cached_property
    def signing_secret(self) -> str:
        """JWT_SECRET, or the installation's generated secret (created on first use)."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        return stored_secret(self.secrets_dir / "jwt_secret")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.gym_timezone)


def default_artifact_root(tracking_uri: str) -> str | None:
    """Where artifacts go when only MLFLOW_TRACKING_URI is set: beside a SQLite store's file;
    None (the tracking server's own default artifact store) for a server or a file store; the
    checkout's var/ for another database, which has no place of its own for files."""
    if tracking_uri.startswith("sqlite:///"):
        database = Path(tracking_uri.removeprefix("sqlite:///").split("?", 1)[0])
        return str(database.parent / "mlflow-artifacts")
    scheme = tracking_uri.split("://", 1)[0].split("+", 1)[0] if "://" in tracking_uri else ""
    if scheme in {"postgresql", "mysql", "mssql"}:
        return str(REPO_ROOT / "var" / "mlflow-artifacts")
    return None


def stored_secret(path: Path) -> str:
    """The random secret kept at `path`, created (owner-only, 0600) when missing. Creation is
    exclusive, so processes starting together end up with the one secret the first one wrote."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(48))
    for _ in range(50):  # another process may be between creating and writing it
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it to generate a new secret")


@lru_cache
def get_settings() -> Settings:
    return Settings()
