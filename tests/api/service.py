"""The service under test in this process: shared settings, backends, the TestClient wrapper.

The fixtures that build these live in ``conftest.py``; tests import the types and helpers from
here (``tests.api.service``). Starting the service as real processes is ``tests.harness``'s job.
"""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Starlette suggests httpx2 for its TestClient; httpx is what the service's users have.
warnings.filterwarnings("ignore", message=".*install `httpx2`.*")

from fastapi.testclient import TestClient  # noqa: E402

from api.db import FINAL_STATES, Database  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.store import create_agency  # noqa: E402
from tests.harness import CeleryWorker  # noqa: E402

# Settings the tests share: quick heartbeats and reaping, one CP-SAT thread per solve (the
# machine has two cores), two solves at once.
FAST: dict[str, Any] = {
    "solver_threads": 1,
    "local_workers": 2,
    "heartbeat_interval": 0.5,
    "heartbeat_timeout": 6.0,
    "reaper_interval": 1.0,
    "max_queued_jobs": 50,
    # The webhook receivers of the tests listen on 127.0.0.1 over plain http.
    "webhook_allow_insecure": True,
}


@dataclass
class Backend:
    """Where the service keeps its data and runs its solves."""

    name: str
    settings: Settings
    fresh_database: Callable[[], str]
    worker: CeleryWorker | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def with_settings(self, **changes: Any) -> Settings:
        """These settings on a fresh, empty database."""
        values = {**self.settings.model_dump(), "database_url": self.fresh_database(), **changes}
        return Settings(**values)


def agency_headers(settings: Settings, name: str | None = None) -> dict[str, str]:
    """A new agency in ``settings``' database; its authorization header."""
    db = Database(settings.database_url)
    try:
        _, key = create_agency(db, name or f"Agency {secrets.token_hex(3)}")
    finally:
        db.dispose()
    return {"Authorization": f"Bearer {key}"}


class Service:
    """A started API (TestClient) with helpers for agencies, submissions and waiting."""

    def __init__(self, backend: Backend, client: TestClient) -> None:
        self.backend, self.client = backend, client
        self.settings = backend.settings

    def agency(self, name: str | None = None) -> dict[str, str]:
        """A new agency's authorization header."""
        return agency_headers(self.settings, name)

    def submit(self, headers: dict[str, str], problem: dict[str, Any], **options: Any) -> Any:
        response = self.client.post(
            "/v1/rotas", json={"problem": problem, "options": options}, headers=headers
        )
        assert response.status_code == 202, response.text
        return response.json()

    def wait(
        self,
        rota_id: str,
        headers: dict[str, str],
        until: Callable[[Any], bool] = lambda r: r["status"] in FINAL_STATES,
        timeout: float = 90.0,
    ) -> Any:
        """Poll the rota until ``until`` holds (by default: a final status)."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.client.get(f"/v1/rotas/{rota_id}", headers=headers).json()
            if until(body):
                return body
            assert time.monotonic() < deadline, f"rota still {body['status']}: {body}"
            time.sleep(0.1)


def wait_ready(client: TestClient, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/readyz")
        if response.status_code == 200:
            return
        assert time.monotonic() < deadline, f"service never ready: {response.text}"
        time.sleep(0.3)


@dataclass(frozen=True)
class Solved:
    """A finished rota of one agency: its id, the agency's headers, the problem and the body."""

    rota_id: str
    headers: dict[str, str]
    problem: dict[str, Any]
    body: dict[str, Any]


class HeldRunner:
    """A runner that keeps every job queued: for queue, readiness and not-ready tests."""

    slots = 1

    def __init__(self, ready: bool = True) -> None:
        self.submitted: list[str] = []
        self.is_ready = ready

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def submit(self, job_id: str) -> None:
        self.submitted.append(job_id)

    def ready(self) -> tuple[bool, str]:
        return self.is_ready, "held" if self.is_ready else "no workers"
