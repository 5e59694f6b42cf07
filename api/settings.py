"""The service's configuration, read from the environment (pydantic-settings).

Everything has an embedded default, so ``carerota serve`` runs with no configuration at all: a
SQLite file in the working directory and solve processes on this machine. Production sets
``DATABASE_URL`` (PostgreSQL) and ``CELERY_BROKER_URL`` (Redis) and runs ``carerota worker``
on as many machines as it likes. The other settings carry the ``CAREROTA_`` prefix.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_BROKER = "local"


def _default_local_workers() -> int:
    # A solve uses ``solver_threads`` cores; half the machine leaves room for the web process.
    return max(1, (os.cpu_count() or 2) // 2)


class Settings(BaseSettings):
    """Service settings. Field names map to ``CAREROTA_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="CAREROTA_", extra="ignore", frozen=True, populate_by_name=True
    )

    database_url: str = Field(
        default="sqlite:///./carerota.db",
        validation_alias=AliasChoices("DATABASE_URL", "CAREROTA_DATABASE_URL"),
        description="SQLAlchemy URL; postgresql:// URLs use the psycopg 3 driver",
    )
    broker_url: str = Field(
        default=LOCAL_BROKER,
        validation_alias=AliasChoices("CELERY_BROKER_URL", "CAREROTA_BROKER_URL"),
        description="'local' for solve processes beside the API, or a Redis URL for Celery",
    )
    celery_queue: str = Field(default="carerota", description="Celery queue for solve jobs")
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    max_queued_jobs: int = Field(default=50, ge=1, description="queued jobs before 429")
    max_queued_jobs_per_agency: int = Field(
        default=10,
        ge=1,
        description="queued jobs of one agency before 429: its share of max_queued_jobs",
    )
    default_time_limit: float = Field(default=30.0, gt=0)
    max_time_limit: float = Field(default=600.0, gt=0)
    resolve_time_limit: float = Field(
        default=5.0, gt=0, description="seconds for an absence's re-solve of a published rota"
    )
    webhook_timeout: float = Field(default=5.0, gt=0, description="seconds per webhook attempt")
    webhook_allow_insecure: bool = Field(
        default=False,
        description="local tests only: webhooks over plain http and to any address, unresolved",
    )
    max_scenario_variants: int = Field(
        default=8, ge=1, description="variants of a what-if scenario, besides its base"
    )
    max_scenario_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="a scenario's YAML (YAML is slow to read; give a large base by its rota id)",
    )
    local_workers: int = Field(
        default_factory=_default_local_workers, ge=1, description="solve processes (local broker)"
    )
    solver_threads: int = Field(
        default=2, ge=1, description="cores per solve: CP-SAT search workers and engine walkers"
    )
    heartbeat_interval: float = Field(default=2.0, gt=0)
    heartbeat_timeout: float = Field(
        default=20.0,
        gt=0,
        description="seconds without a heartbeat before a solve is presumed lost",
    )
    max_attempts: int = Field(default=2, ge=1, description="runs of a job before it is failed")
    reaper_interval: float = Field(default=5.0, gt=0)
    carer_link_days: int = Field(
        default=14,
        ge=1,
        le=366,
        description="days a carer's link lasts unless revoked (SECURITY.md)",
    )
    credential_check_interval: float = Field(
        default=0.5,
        gt=0,
        description="seconds between checks for revoked keys and deleted agencies",
    )
    public_url: str | None = Field(
        default=None, description="base URL for links; by default the request's own"
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    reading_processes: int = Field(
        default=2, ge=1, description="processes that read large request bodies (api/parsing.py)"
    )
    max_visits: int = Field(default=20_000, ge=1, description="visits in one problem before 422")
    max_workers: int = Field(default=1_000, ge=1, description="workers in one problem before 422")
    rate_limit_per_minute: int = Field(
        default=1200,
        ge=0,
        description="requests per minute per API key or carer link, sustained; 0 turns it off",
    )
    rate_limit_burst: int = Field(
        default=200, ge=1, description="requests a key may make at once before the rate applies"
    )
    job_rate_limit_per_minute: int = Field(
        default=60,
        ge=0,
        description="job-creating POSTs (rotas, absences, scenarios) per minute per key; 0 is off",
    )
    job_rate_limit_burst: int = Field(
        default=20, ge=1, description="job-creating POSTs a key may make at once"
    )
    access_log_flush_interval: float = Field(
        default=0.2, gt=0, description="seconds between writes of the access log's batch"
    )

    @field_validator("database_url")
    @classmethod
    def _psycopg3(cls, value: str) -> str:
        # Plain postgresql:// means psycopg2 to SQLAlchemy; the service ships psycopg 3.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value.removeprefix(prefix)
        return value

    @property
    def uses_celery(self) -> bool:
        """Whether solve jobs go to a Celery worker pool rather than local processes."""
        return self.broker_url != LOCAL_BROKER

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
