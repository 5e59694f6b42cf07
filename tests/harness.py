"""The one harness that starts the service for real: ``carerota serve`` and ``carerota worker`` as
subprocesses on a free port, fresh PostgreSQL databases, and the clean-up after them.

Used by the service's tests (``tests/api``), the board's (``tests/browser``), the soak
(``benchmarks/soak.py``) and the load benchmark (``benchmarks/api_load.py``). Each process runs in
its own process group, so stopping it also stops the solve processes under it.
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
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text

if TYPE_CHECKING:
    from api.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only, by design
REQUIRE_SERVICES = os.environ.get("CAREROTA_REQUIRE_SERVICES") == "1"
POSTGRES_ADMIN_URL = os.environ.get(
    "CAREROTA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CAREROTA_TEST_REDIS", "redis://127.0.0.1:6379")


def unavailable(reason: str) -> None:
    """Skip a test that needs something missing here, or fail it when CI requires everything."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CAREROTA_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("+psycopg", ""))
    try:
        with socket.create_connection((parts.hostname or HOST, parts.port or default_port), 1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


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


def create_agency_key(env: Mapping[str, str], name: str) -> str:
    """``carerota agency create NAME`` against ``env``'s database; the API key it prints."""
    created = subprocess.run(
        carerota_command("agency", "create", name),
        env=dict(env),
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    return created.stdout.decode().strip()


class Process:
    """A ``carerota`` command as a subprocess in its own process group, its output in ``log``."""

    def __init__(
        self, args: list[str], env: Mapping[str, str], log: Path, cwd: Path = ROOT
    ) -> None:
        self.args, self.env, self.log, self.cwd = args, dict(env), log, cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                carerota_command(*self.args),
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so stop() and kill() reach the whole tree
                cwd=self.cwd,
            )

    def kill(self) -> None:
        """SIGKILL the whole group at once: the machine lost power."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the group and wait for it; SIGKILL what is still there after ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


class Server(Process):
    """``carerota serve`` on a free loopback port; :meth:`start` returns once it is ready."""

    def __init__(
        self,
        env: Mapping[str, str],
        log: Path,
        *options: str,
        cwd: Path = ROOT,
        ready_within: float = 60.0,
    ) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.ready_within = ready_within
        super().__init__(
            ["serve", "--host", HOST, "--port", str(self.port), *options], env, log, cwd
        )

    def start(self) -> None:
        super().start()
        assert self.proc is not None
        deadline = time.monotonic() + self.ready_within
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"carerota serve did not become ready; {self.log}:\n"
                    + self.log.read_text(errors="replace")[-4000:]
                )
            time.sleep(0.2)


class CeleryWorker(Process):
    """``carerota worker``: Celery's main process and its pool, in one process group."""

    def __init__(self, env: Mapping[str, str], log: Path, concurrency: int = 2) -> None:
        super().__init__(["worker", "--concurrency", str(concurrency)], env, log)


class PostgresDatabases:
    """Fresh PostgreSQL databases, each dropped by :meth:`drop_all`."""

    def __init__(self, prefix: str = "carerota_test", admin_url: str = POSTGRES_ADMIN_URL) -> None:
        self.prefix = prefix
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def fresh(self) -> str:
        """A new empty database's URL."""
        name = f"{self.prefix}_{secrets.token_hex(4)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return str(self.admin.url.set(database=name).render_as_string(hide_password=False))

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def own_broker() -> str:
    """A Redis database of this process's own, so parallel runs never take each other's jobs."""
    return f"{REDIS_URL.rstrip('/')}/{1 + os.getpid() % 15}"


def forget_queue(broker: str, queue: str) -> None:
    """Delete a test queue's keys from Redis (the queue and Kombu's bindings of it)."""
    client = redis.Redis.from_url(broker)
    with contextlib.closing(client):
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)


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
