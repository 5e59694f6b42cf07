"""Nothing lost: a solve whose worker (or whole server) is killed ends ``done`` or ``failed``
with a reason once the service runs again, never stuck in ``solving``."""

from __future__ import annotations

import logging
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
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from api.db import Database, Job, utcnow
from api.jobs import LocalProcessRunner, recover
from api.settings import Settings
from solver.checker import check
from solver.contract import Problem, Rota
from tests.api.service import FAST, Backend, HeldRunner, Service, agency_headers
from tests.harness import ROOT, Server, carerota_command, settings_env

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


@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_recovery_queues_a_dead_local_owners_job_again_and_names_the_owner(
    tmp_path: Path, small_problem: dict[str, Any], caplog: pytest.LogCaptureFixture, reaped: bool
) -> None:
    """A job whose owner was a process on this machine that has ended is queued again at once
    (its heartbeat is fresh), and the log names that owner (it used to say "worker None").
    Ended includes a zombie its parent has not reaped yet, as a busy Celery leaves a killed
    pool process for seconds."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/reap.db", **FAST)
    with TestClient(create_app(settings, runner=HeldRunner())) as client:
        rota_id = submit(client, agency_headers(settings), small_problem)
    gone = subprocess.Popen(["true"])  # a process of this machine that has ended
    if reaped:
        gone.wait()
    else:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{gone.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never ended"
            time.sleep(0.01)
    owner = f"{socket.gethostname()}:{gone.pid}:0a0b0c"
    db = Database(settings.database_url)
    try:
        with db.write() as s:
            s.execute(
                update(Job)
                .where(Job.id == rota_id)
                .values(status="solving", owner=owner, attempts=1, heartbeat_at=utcnow())
            )
        with caplog.at_level(logging.WARNING, logger="carerota.jobs"):
            assert recover(db, settings) == [rota_id]
        with db.read() as s:
            job = s.get_one(Job, rota_id)
    finally:
        db.dispose()
        gone.wait()
    assert (job.status, job.owner, job.note) == (
        "queued",
        None,
        "the worker died during attempt 1; queued again",
    )
    assert f"worker {owner} presumed dead; now queued" in caplog.text


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/served.db", **{**FAST, "local_workers": 1}
    )
    running = Server(settings_env(settings), tmp_path / "serve.log")
    try:
        yield running
    finally:
        running.stop()


def test_a_server_killed_mid_solve_resumes_the_job_when_restarted(
    server: Server, busy_problem: dict[str, Any]
) -> None:
    created = subprocess.run(
        carerota_command("agency", "create", "Restart Care"),
        env=server.env,
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
