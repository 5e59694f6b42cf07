"""Nothing lost: a solve whose worker (or whole server) is killed ends ``done`` or ``failed``
with a reason once the service runs again, never stuck in ``solving``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import (
    FAST,
    ROOT,
    Backend,
    Service,
    agency_headers,
    carerota_command,
    settings_env,
)
from fastapi.testclient import TestClient

from api.app import create_app
from api.jobs import LocalProcessRunner
from api.settings import Settings
from solver.checker import check
from solver.contract import Problem, Rota

SOLVING = 4.0  # seconds each solve asks for


def mid_solve(body: dict[str, Any]) -> bool:
    return body["status"] == "solving" and body["progress"]["objective"] is not None


def ended_well(body: dict[str, Any], problem: dict[str, Any]) -> None:
    """Done with a valid rota on a second attempt, or failed with the reason."""
    assert body["status"] in ("done", "failed"), body
    if body["status"] == "failed":
        assert "worker died" in body["error"], body
        return
    assert body["attempts"] == 2, body
    assert "died during attempt 1" in body["note"], body
    assert check(Problem.model_validate(problem), Rota.model_validate(body["rota"])).ok


def submit(client: httpx.Client | TestClient, headers: dict[str, str], problem: Any) -> str:
    response = client.post(
        "/v1/rotas", json={"problem": problem, "options": {"time_limit": SOLVING}}, headers=headers
    )
    assert response.status_code == 202, response.text
    rota_id: str = response.json()["id"]
    return rota_id


def poll(
    client: httpx.Client | TestClient,
    rota_id: str,
    headers: dict[str, str],
    until: Any,
    timeout: float = 60.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/v1/rotas/{rota_id}", headers=headers).json()
        if until(body):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def final(body: dict[str, Any]) -> bool:
    return body["status"] in ("done", "failed", "cancelled")


def test_a_killed_worker_is_recovered(
    backend: Backend, service: Service, busy_problem: dict[str, Any]
) -> None:
    """SIGKILL the process supervising a solve (a local solve process, or a whole Celery worker
    with its pool); the job is queued again and finishes."""
    if backend.worker is not None:
        headers = service.agency()
        rota_id = submit(service.client, headers, busy_problem)
        poll(service.client, rota_id, headers, mid_solve)
        backend.worker.kill()
        backend.worker.start()
        ended_well(poll(service.client, rota_id, headers, final), busy_problem)
        return
    settings = backend.with_settings(local_workers=1)
    app = create_app(settings)
    with TestClient(app) as client:
        headers = agency_headers(settings)
        rota_id = submit(client, headers, busy_problem)
        poll(client, rota_id, headers, mid_solve)
        runner = app.state.runner
        assert isinstance(runner, LocalProcessRunner)
        (pid,) = runner.pids()
        os.kill(pid, signal.SIGKILL)
        ended_well(poll(client, rota_id, headers, final), busy_problem)
        assert runner.pids() != [pid]  # a new solve process took over


def test_a_job_whose_worker_dies_on_its_last_attempt_fails_with_the_reason(
    tmp_path: Path, busy_problem: dict[str, Any]
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/once.db", **{**FAST, "local_workers": 1}, max_attempts=1
    )
    app = create_app(settings)
    with TestClient(app) as client:
        headers = agency_headers(settings)
        rota_id = submit(client, headers, busy_problem)
        poll(client, rota_id, headers, mid_solve)
        (pid,) = app.state.runner.pids()
        os.kill(pid, signal.SIGKILL)
        body = poll(client, rota_id, headers, final)
    assert body["status"] == "failed"
    assert body["error"] == "worker died during solve (attempt 1 of 1); not retried"
    assert body["rota"] is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``carerota serve`` as a subprocess in its own process group."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings, self.log = settings, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                carerota_command("serve", "--port", str(self.port)),
                env=settings_env(self.settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the server and its solve processes at once: the machine lost power."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/served.db", **{**FAST, "local_workers": 1}
    )
    running = Server(settings, tmp_path / "serve.log")
    try:
        yield running
    finally:
        running.stop()


def test_a_server_killed_mid_solve_resumes_the_job_when_restarted(
    server: Server, busy_problem: dict[str, Any]
) -> None:
    created = subprocess.run(
        carerota_command("agency", "create", "Restart Care"),
        env=settings_env(server.settings),
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    key = created.stdout.decode().strip()
    headers = {"Authorization": f"Bearer {key}"}
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        rota_id = submit(client, headers, busy_problem)
        poll(client, rota_id, headers, mid_solve)
        server.kill()
        server.start()
        ended_well(poll(client, rota_id, headers, final), busy_problem)
