"""Fixtures for the HTTP service's tests.

Every end-to-end test runs twice, through the ``service`` fixture: on a SQLite file with the
local solve processes of ``carerota serve``, and on a fresh PostgreSQL database with a real Celery
worker (``carerota worker``, a subprocess) on Redis. Without PostgreSQL or Redis the second kind
skips, unless ``CAREROTA_REQUIRE_SERVICES=1`` (set by ``.ci/run``), when it fails instead.

Solves are kept short: small generated agencies and time limits of a few seconds. The types and
helpers behind these fixtures are in ``tests.api.service``; real processes in ``tests.harness``.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

# Starlette suggests httpx2 for its TestClient; httpx is what the service's users have.
warnings.filterwarnings("ignore", message=".*install `httpx2`.*")

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.settings import Settings  # noqa: E402
from scenarios.generator import generate  # noqa: E402
from tests.api.service import FAST, Backend, HeldRunner, Service, Solved, wait_ready  # noqa: E402
from tests.harness import (  # noqa: E402
    POSTGRES_ADMIN_URL,
    REDIS_URL,
    CeleryWorker,
    PostgresDatabases,
    forget_queue,
    own_broker,
    reachable,
    settings_env,
    unavailable,
)


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
    broker = own_broker()
    settings = Settings(
        database_url=databases.fresh(),
        broker_url=broker,
        celery_queue=f"carerota-test-{secrets.token_hex(3)}",
        **FAST,
    )
    worker = CeleryWorker(settings_env(settings), tmp_path_factory.mktemp("celery") / "worker.log")
    worker.start()
    try:
        yield Backend("postgres", settings, databases.fresh, worker)
    finally:
        worker.stop(timeout=15)
        forget_queue(broker, settings.celery_queue)


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


@pytest.fixture(scope="session")
def solved(service: Service, small_problem: dict[str, Any]) -> Solved:
    """One CP-SAT rota of ``small_problem``, solved through the API."""
    headers = service.agency()
    created = service.submit(headers, small_problem, time_limit=2, seed=1)
    body = service.wait(created["id"], headers)
    assert body["status"] == "done", body
    return Solved(created["id"], headers, small_problem, body)


@pytest.fixture
def held(backend: Backend) -> Iterator[tuple[TestClient, HeldRunner, Settings]]:
    """The API on a fresh database whose jobs never start, with a queue of three."""
    settings = backend.with_settings(max_queued_jobs=3, max_body_bytes=64_000)
    runner = HeldRunner()
    with TestClient(create_app(settings, runner=runner)) as client:
        yield client, runner, settings
