"""Every error code, each in the one JSON shape: 401, 404, 409, 413, 422, 429, 503."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.errors import mib
from api.settings import Settings
from tests.api.service import HeldRunner, Service, Solved, agency_headers

Held = tuple[TestClient, HeldRunner, Settings]


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error body, which must have exactly the one shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    for detail in body["error"]["details"]:
        assert set(detail) == {"loc", "message"}
    error: dict[str, Any] = body["error"]
    return error


def test_missing_key_is_401(service: Service) -> None:
    response = service.client.get("/v1/rotas")
    error_of(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_invalid_problem_is_422_naming_the_field(
    service: Service, small_problem: dict[str, Any]
) -> None:
    headers = service.agency()
    bad = copy.deepcopy(small_problem)
    bad["visits"][1]["client"] = "c-zz"
    bad["workers"][0]["home"]["lat"] = 123.0
    error = error_of(
        service.client.post("/v1/rotas", json={"problem": bad}, headers=headers),
        422,
        "validation_error",
    )
    details = {d["loc"]: d["message"] for d in error["details"]}
    assert details["problem.workers[0].home.lat"].endswith("(got 123.0)")
    assert "problem.workers[0].home.lat" in error["message"]
    bad["workers"][0]["home"]["lat"] = 53.0
    error = error_of(
        service.client.post("/v1/rotas", json={"problem": bad}, headers=headers),
        422,
        "validation_error",
    )
    assert error["details"] == [
        {"loc": "problem.visits[1].client", "message": "unknown client 'c-zz'"}
    ]


def test_other_bad_requests_are_422(service: Service, small_problem: dict[str, Any]) -> None:
    headers = service.agency()
    post = service.client.post
    error_of(
        post(
            "/v1/rotas",
            content=b"{not json",
            headers={**headers, "Content-Type": "application/json"},
        ),
        422,
        "invalid_json",
    )
    error = error_of(post("/v1/rotas", json={}, headers=headers), 422, "validation_error")
    assert "parent" in error["message"]
    error = error_of(
        post(
            "/v1/rotas",
            json={"problem": small_problem, "options": {"time_limit": 10_000}},
            headers=headers,
        ),
        422,
        "validation_error",
    )
    assert error["details"][0]["loc"] == "options.time_limit"
    error = error_of(
        post("/v1/rotas", json={"problem": small_problem, "colour": "red"}, headers=headers),
        422,
        "validation_error",
    )
    assert error["details"][0]["loc"] == "colour"
    error_of(service.client.get("/v1/rotas?limit=0", headers=headers), 422, "validation_error")
    error_of(service.client.get("/v1/rotas?cursor=@@@", headers=headers), 422, "validation_error")


def test_unknown_ids_are_404(service: Service, solved: Solved) -> None:
    headers = solved.headers
    for method, url in (
        ("GET", "/v1/rotas/rota_nope"),
        ("GET", "/v1/rotas/rota_nope/events"),
        ("GET", "/v1/rotas/rota_nope/explain"),
        ("DELETE", "/v1/rotas/rota_nope"),
        ("POST", "/v1/rotas/rota_nope/publish"),
        ("GET", "/v1/rotas/rota_nope/workers/w-1/runsheet"),
        ("GET", "/v1/rotas/rota_nope/workers/w-1/calendar.ics"),
        ("GET", "/v1/nothing-here"),
    ):
        error_of(service.client.request(method, url, headers=headers), 404, "not_found")
    error_of(service.client.put("/v1/rotas", headers=headers), 405, "method_not_allowed")


def test_bodies_over_the_limit_are_413(held: Held, small_problem: dict[str, Any]) -> None:
    client, _, settings = held
    headers = agency_headers(settings)
    body = json.dumps({"problem": small_problem, "note": "x" * settings.max_body_bytes}).encode()
    assert len(body) > settings.max_body_bytes
    # Refused on its Content-Length alone...
    error = error_of(
        client.post(
            "/v1/rotas", content=body, headers={**headers, "Content-Type": "application/json"}
        ),
        413,
        "payload_too_large",
    )
    assert error["message"].endswith(f"the limit of {mib(settings.max_body_bytes)}")
    assert mib(8 * 1024 * 1024) == "8 MiB" and mib(1536 * 1024) == "1.5 MiB"

    # ... and, sent in chunks without a length, cut off once it passes the limit.
    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    error_of(
        client.post(
            "/v1/rotas", content=chunks(), headers={**headers, "Content-Type": "application/json"}
        ),
        413,
        "payload_too_large",
    )


def test_a_full_queue_is_429_with_retry_after(held: Held, small_problem: dict[str, Any]) -> None:
    client, runner, settings = held
    headers = agency_headers(settings)
    small = {**small_problem, "visits": small_problem["visits"][:5]}
    request = {"problem": small, "options": {"time_limit": 20}}
    for _ in range(settings.max_queued_jobs):
        assert client.post("/v1/rotas", json=request, headers=headers).status_code == 202
    assert len(runner.submitted) == settings.max_queued_jobs
    response = client.post("/v1/rotas", json=request, headers=headers)
    error_of(response, 429, "queue_full")
    # Three 20 s jobs waiting for one solve slot: a place frees in about 20 s.
    assert response.headers["retry-after"] == "20"
    # Cancelling a queued job frees its place at once.
    first = runner.submitted[0]
    cancelled = client.delete(f"/v1/rotas/{first}", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert client.post("/v1/rotas", json=request, headers=headers).status_code == 202


def test_a_rota_that_is_not_ready_is_409(held: Held, small_problem: dict[str, Any]) -> None:
    client, _, settings = held
    headers = agency_headers(settings)
    created = client.post("/v1/rotas", json={"problem": small_problem}, headers=headers).json()
    assert created["status"] == "queued"
    url = f"/v1/rotas/{created['id']}"
    worker = small_problem["workers"][0]["id"]
    error_of(client.get(f"{url}/explain", headers=headers), 409, "conflict")
    error_of(client.post(f"{url}/publish", headers=headers), 409, "conflict")
    error_of(client.get(f"{url}/workers/{worker}/runsheet", headers=headers), 409, "conflict")
    assert client.get(url, headers=headers).json()["rota"] is None


def test_readiness(held: Held, service: Service) -> None:
    client, runner, _ = held
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    assert client.get("/readyz").status_code == 200
    runner.is_ready = False
    error = error_of(client.get("/readyz"), 503, "not_ready")
    assert error["details"] == [{"loc": "workers", "message": "no workers"}]
    # The real service, with real workers, is ready.
    ready = service.client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["checks"]["database"] == "ok"


def test_openapi_docs(service: Service) -> None:
    assert service.client.get("/docs").status_code == 200
    spec = service.client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/v1/rotas",
        "/v1/rotas/{rota_id}",
        "/v1/rotas/{rota_id}/events",
        "/v1/rotas/{rota_id}/explain",
        "/v1/rotas/{rota_id}/publish",
        "/v1/rotas/{rota_id}/workers/{worker_id}/runsheet",
        "/v1/rotas/{rota_id}/workers/{worker_id}/calendar.ics",
        "/healthz",
        "/readyz",
    } <= paths
