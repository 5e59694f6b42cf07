"""Limits: rate limits per key (in process, and shared through a real Redis), problem size and
solve time. The body size limit (413) is tested in test_api_errors.py.

Jobs are held in the queue (no solves): these tests are about who is let in, not what is solved.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.middleware import redact
from api.settings import Settings
from tests.api.service import HeldRunner, agency_headers
from tests.harness import REDIS_URL, reachable, unavailable

# A budget small enough to use up: three at once, then one every 5 s. The refill is slow so that a
# busy machine, where a request can take most of a second, does not refill it mid-test.
TIGHT: dict[str, Any] = {"rate_limit_per_minute": 12, "rate_limit_burst": 3}


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    error: dict[str, Any] = body["error"]
    return error


def retry_after(response: httpx.Response) -> int:
    """The Retry-After header, which must be a positive whole number of seconds."""
    value = response.headers["retry-after"]
    assert value.isdigit() and int(value) >= 1, value
    return int(value)


@contextmanager
def serving(tmp_path: Path, count: int, limiter: str, **changes: Any) -> Iterator[list[TestClient]]:
    """``count`` API processes (in process) on one database, with the local or the Redis limiter.

    The Redis ones take the broker URL as a production setup would; their jobs are held, so no
    Celery worker is needed.
    """
    values: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path}/limits.db", **changes}
    if limiter == "redis":
        if not reachable(REDIS_URL, 6379):
            unavailable(f"Redis is not reachable at {REDIS_URL}")
        values["broker_url"] = f"{REDIS_URL.rstrip('/')}/{secrets.randbelow(15) + 1}"
    settings = Settings(**values)
    with ExitStack() as stack:
        yield [
            stack.enter_context(TestClient(create_app(settings, runner=HeldRunner())))
            for _ in range(count)
        ]


@pytest.fixture(params=["local", "redis"])
def limited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[TestClient]]:
    """An API process with the tight budget, kept in process or in Redis."""
    with serving(tmp_path, 1, request.param, **TIGHT) as clients:
        yield clients


def test_a_key_over_its_budget_gets_429_until_retry_after_has_passed(
    limited: list[TestClient],
) -> None:
    client = limited[0]
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    a, b = agency_headers(settings), agency_headers(settings)
    for _ in range(3):
        assert client.get("/v1/rotas", headers=a).status_code == 200
    refused = client.get("/v1/rotas", headers=a)
    error = error_of(refused, 429, "rate_limited")
    assert "12 a minute" in error["message"]
    wait = retry_after(refused)
    assert 1 <= wait <= 5  # one request every 5 s, and the refusal came within those 5 s
    # Another key has its own budget; health checks have none.
    assert client.get("/v1/rotas", headers=b).status_code == 200
    for _ in range(10):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
    time.sleep(wait)
    assert client.get("/v1/rotas", headers=a).status_code == 200
    error_of(client.get("/v1/rotas", headers=a), 429, "rate_limited")


def test_redis_budgets_are_shared_by_every_api_process(tmp_path: Path) -> None:
    with serving(tmp_path, 2, "redis", **TIGHT) as (first, second):
        settings: Settings = first.app.state.settings  # type: ignore[attr-defined]
        a = agency_headers(settings)
        for client in (first, second, first):
            assert client.get("/v1/rotas", headers=a).status_code == 200
        error_of(second.get("/v1/rotas", headers=a), 429, "rate_limited")


def test_in_process_budgets_are_per_process(tmp_path: Path) -> None:
    with serving(tmp_path, 2, "local", **TIGHT) as (first, second):
        a = agency_headers(first.app.state.settings)  # type: ignore[attr-defined]
        for _ in range(3):
            assert first.get("/v1/rotas", headers=a).status_code == 200
        error_of(first.get("/v1/rotas", headers=a), 429, "rate_limited")
        assert second.get("/v1/rotas", headers=a).status_code == 200


def test_a_carer_links_budget_is_counted_too(limited: list[TestClient]) -> None:
    client = limited[0]
    url = "/v1/rotas/rota_x/workers/w1/runsheet"
    token = f"crc_{secrets.token_urlsafe(8)}"  # unknown: refused, but each refusal counts
    for _ in range(3):
        assert client.get(url, params={"token": token}).status_code == 401
    refused = client.get(url, params={"token": token})
    error_of(refused, 429, "rate_limited")
    assert 1 <= retry_after(refused) <= 5
    # A made-up key beside it does not buy the token a fresh budget.
    also = client.get(url, params={"token": token}, headers={"Authorization": "Bearer crk_other"})
    error_of(also, 429, "rate_limited")


def test_job_submissions_have_a_budget_of_their_own(
    tmp_path: Path, small_problem: dict[str, Any]
) -> None:
    jobs = {"job_rate_limit_per_minute": 6, "job_rate_limit_burst": 2}
    with serving(tmp_path, 1, "local", **jobs) as (client,):
        settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
        a, b = agency_headers(settings), agency_headers(settings)
        request = {"problem": small_problem}
        for _ in range(2):
            response = client.post("/v1/rotas", json=request, headers=a)
            assert response.status_code == 202, response.text
        refused = client.post("/v1/rotas", json=request, headers=a)
        error = error_of(refused, 429, "rate_limited")
        assert "job submissions" in error["message"]
        # Six a minute: the next in ten seconds at most.
        assert 1 <= retry_after(refused) <= 10
        assert client.post("/v1/absences", json={}, headers=a).status_code == 429
        # Reads go on, and another agency submits.
        assert client.get("/v1/rotas", headers=a).status_code == 200
        assert client.post("/v1/rotas", json=request, headers=b).status_code == 202


# The routes that take no key (and so are never counted against one): the health checks and
# the import templates, which are the same for everyone (test_api_authz.py's PUBLIC).
KEYLESS = {"/healthz", "/readyz", "/v1/imports/templates/{name}"}


def test_429_is_declared_wherever_a_key_is_taken(tmp_path: Path) -> None:
    with serving(tmp_path, 1, "local") as (client,):
        paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if path in KEYLESS:
                assert "security" not in operation, (method, path)
                assert "429" not in operation["responses"]
                continue
            assert "security" in operation, (method, path)
            declared = operation["responses"].get("429")
            assert declared is not None, (method, path)
            assert "Retry-After" in declared["headers"]
            if (method, path) == ("post", "/v1/rotas"):
                assert "queue is full" in declared["description"]


# ---------------------------------------------------------------------------------------------
# Problem size and solve time


@pytest.fixture
def small_limits(tmp_path: Path) -> Iterator[TestClient]:
    """An API whose problems may have at most 10 visits and 3 workers, solved for 5 s at most."""
    with serving(tmp_path, 1, "local", max_visits=10, max_workers=3, max_time_limit=5) as (client,):
        yield client


def test_problems_over_the_size_limits_are_422_naming_the_field(
    small_limits: TestClient, small_problem: dict[str, Any], tmp_path: Path
) -> None:
    client = small_limits
    headers = agency_headers(client.app.state.settings)  # type: ignore[attr-defined]
    visits, workers = len(small_problem["visits"]), len(small_problem["workers"])
    assert visits > 10 and workers > 3
    error = error_of(
        client.post(
            "/v1/rotas",
            json={"problem": small_problem, "options": {"time_limit": 1}},
            headers=headers,
        ),
        422,
        "validation_error",
    )
    assert error["details"] == [
        {
            "loc": "problem.visits",
            "message": f"{visits} visits, over this service's limit of 10 (CAREROTA_MAX_VISITS)",
        },
        {
            "loc": "problem.workers",
            "message": f"{workers} workers, over this service's limit of 3 (CAREROTA_MAX_WORKERS)",
        },
    ]
    assert error["message"].startswith("invalid request: problem.visits: ")
    # At the limits exactly, it is taken.
    exact = {"max_visits": visits, "max_workers": workers}
    with serving(tmp_path / "exact", 1, "local", **exact) as (at_limit,):
        headers = agency_headers(at_limit.app.state.settings)  # type: ignore[attr-defined]
        response = at_limit.post(
            "/v1/rotas",
            json={"problem": small_problem, "options": {"time_limit": 1}},
            headers=headers,
        )
        assert response.status_code == 202, response.text


def test_a_time_limit_over_the_maximum_is_422_naming_the_field(
    tmp_path: Path, small_problem: dict[str, Any]
) -> None:
    with serving(tmp_path, 1, "local", max_time_limit=5) as (client,):
        headers = agency_headers(client.app.state.settings)  # type: ignore[attr-defined]
        request: dict[str, Any] = {"problem": small_problem, "options": {"time_limit": 5.5}}
        error = error_of(
            client.post("/v1/rotas", json=request, headers=headers), 422, "validation_error"
        )
        assert error["details"][0]["loc"] == "options.time_limit"
        assert "limit of 5 seconds" in error["message"]
        request["options"]["time_limit"] = 5
        ok = client.post("/v1/rotas", json=request, headers=headers)
        assert ok.status_code == 202, ok.text
        assert ok.json()["options"]["time_limit"] == 5


def test_secrets_are_blanked_in_log_lines() -> None:
    line = "GET /v1/rotas/r/workers/w/calendar.ics?format=ics&token=crc_abc-12_x&x=1 HTTP/1.1"
    assert redact(line) == (
        "GET /v1/rotas/r/workers/w/calendar.ics?format=ics&token=[redacted]&x=1 HTTP/1.1"
    )
    assert redact("key crk_Zz09-_ was used") == "key crk_[redacted] was used"
