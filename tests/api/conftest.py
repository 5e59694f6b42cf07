"""Fixtures for the HTTP service's tests.

Every end-to-end test runs twice, through the ``service`` fixture: on a SQLite file with the
local solve processes of ``carerota serve``, and on a fresh PostgreSQL database with a real Celery
worker (``carerota worker``, a subprocess) on Redis. Without PostgreSQL or Redis the second kind
skips, unless ``CAREROTA_REQUIRE_SERVICES=1`` (set by ``.ci/run``), when it fails instead.

Solves are kept short: small generated agencies and time limits of a few seconds.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

# Starlette suggests httpx2 for its TestClient; httpx is what the service's users have.
warnings.filterwarnings("ignore", message=".*install `httpx2`.*")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from api.app import create_app  # noqa: E402
from api.db import FINAL_STATES, Database  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.store import create_agency  # noqa: E402
from scenarios.generator import generate  # noqa: E402

REQUIRE_SERVICES = os.environ.get("CAREROTA_REQUIRE_SERVICES") == "1"
POSTGRES_ADMIN_URL = os.environ.get(
    "CAREROTA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CAREROTA_TEST_REDIS", "redis://127.0.0.1:6379")
ROOT = Path(__file__).resolve().parents[2]

# Settings the tests share: quick heartbeats and reaping, one CP-SAT thread per solve (the
# machine has two cores), two solves at once.
FAST: dict[str, Any] = {
    "solver_threads": 1,
    "local_workers": 2,
    "heartbeat_interval": 0.5,
    "heartbeat_timeout": 6.0,
    "reaper_interval": 1.0,
    "max_queued_jobs": 50,
}


def unavailable(reason: str) -> None:
    """Skip a test that needs PostgreSQL and Redis, or fail it when CI requires them."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CAREROTA_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("+psycopg", ""))
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def carerota_command(*args: str) -> list[str]:
    """The ``carerota`` command line, run by this interpreter."""
    return [
        sys.executable,
        "-c",
        "import sys; from carerota.cli import main; sys.exit(main())",
        *args,
    ]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a subprocess the same settings."""
    env = dict(os.environ)
    env["DATABASE_URL"] = settings.database_url
    env["CELERY_BROKER_URL"] = settings.broker_url
    for name, value in settings.model_dump().items():
        if name not in ("database_url", "broker_url") and value is not None:
            env[f"CAREROTA_{name.upper()}"] = str(value)
    return env


class PostgresDatabases:
    """Fresh PostgreSQL databases for one test session, dropped at the end."""

    def __init__(self) -> None:
        self.admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def fresh(self) -> str:
        name = f"carerota_test_{secrets.token_hex(4)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return str(self.admin.url.set(database=name).render_as_string(hide_password=False))

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


class CeleryWorker:
    """``carerota worker`` as a subprocess in its own process group (so it can be killed whole)."""

    def __init__(self, settings: Settings, log: Path, concurrency: int = 2) -> None:
        self.settings, self.log_path, self.concurrency = settings, log, concurrency
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            carerota_command("worker", "--concurrency", str(self.concurrency)),
            env=settings_env(self.settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool): a machine dying mid-solve."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    if not reachable(POSTGRES_ADMIN_URL, 5432):
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}")
    databases = PostgresDatabases()
    try:
        yield databases
    finally:
        databases.drop_all()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """SQLite with local solve processes, or PostgreSQL with a Celery worker on Redis."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite")
        counter = iter(range(1_000_000))

        def fresh_sqlite() -> str:
            return f"sqlite:///{folder}/carerota-{next(counter)}.db"

        settings = Settings(database_url=fresh_sqlite(), **FAST)
        yield Backend("sqlite", settings, fresh_sqlite)
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres")
    if not reachable(REDIS_URL, 6379):
        unavailable(f"Redis is not reachable at {REDIS_URL}")
    # A Redis database and queue of our own, so parallel runs never take each other's jobs.
    broker = f"{REDIS_URL.rstrip('/')}/{1 + os.getpid() % 15}"
    settings = Settings(
        database_url=databases.fresh(),
        broker_url=broker,
        celery_queue=f"carerota-test-{secrets.token_hex(3)}",
        **FAST,
    )
    worker = CeleryWorker(settings, tmp_path_factory.mktemp("celery") / "worker.log")
    worker.start()
    try:
        yield Backend("postgres", settings, databases.fresh, worker)
    finally:
        worker.stop()
        forget_queue(broker, settings.celery_queue)


def forget_queue(broker: str, queue: str) -> None:
    """Delete the test queue's keys from Redis (the queue and Kombu's bindings of it)."""
    import redis

    client = redis.Redis.from_url(broker)
    try:
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


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


@pytest.fixture(scope="session")
def service(backend: Backend) -> Iterator[Service]:
    """The API on ``backend``, started once per backend for the whole session."""
    with TestClient(create_app(backend.settings)) as client:
        wait_ready(client)
        yield Service(backend, client)


# ---------------------------------------------------------------------------------------------
# Problems


@pytest.fixture(scope="session")
def small_problem() -> dict[str, Any]:
    """Four clients and 77 visits over a week: a CP-SAT solve takes a second or two."""
    return generate(4, 1, agency="Four Clients Care")


@pytest.fixture(scope="session")
def busy_problem() -> dict[str, Any]:
    """Eight clients and 163 visits: large-neighbourhood search uses its whole time limit."""
    return generate(8, 3, agency="Eight Clients Care")


@dataclass(frozen=True)
class Solved:
    """A finished rota of one agency: its id, the agency's headers, the problem and the body."""

    rota_id: str
    headers: dict[str, str]
    problem: dict[str, Any]
    body: dict[str, Any]


@pytest.fixture(scope="session")
def solved(service: Service, small_problem: dict[str, Any]) -> Solved:
    """One CP-SAT rota of ``small_problem``, solved through the API."""
    headers = service.agency()
    created = service.submit(headers, small_problem, time_limit=2, seed=1)
    body = service.wait(created["id"], headers)
    assert body["status"] == "done", body
    return Solved(created["id"], headers, small_problem, body)


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


@pytest.fixture
def held(backend: Backend) -> Iterator[tuple[TestClient, HeldRunner, Settings]]:
    """The API on a fresh database whose jobs never start, with a queue of three."""
    settings = backend.with_settings(max_queued_jobs=3, max_body_bytes=64_000)
    runner = HeldRunner()
    with TestClient(create_app(settings, runner=runner)) as client:
        yield client, runner, settings


def agency_headers(settings: Settings, name: str | None = None) -> dict[str, str]:
    """A new agency in ``settings``' database; its authorization header."""
    db = Database(settings.database_url)
    try:
        _, key = create_agency(db, name or f"Agency {secrets.token_hex(3)}")
    finally:
        db.dispose()
    return {"Authorization": f"Bearer {key}"}


# ---------------------------------------------------------------------------------------------
# Real processes: ``carerota serve`` and the processes under it


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


def child_pids(pid: int) -> list[int]:
    """The live children of process ``pid`` (read from /proc: Linux only, like the service)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended while we looked
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses.
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return sorted(found)
