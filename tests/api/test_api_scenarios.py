"""What-if scenarios through HTTP: ``POST /v1/scenarios`` runs one on the job queue.

Runs on both backends (SQLite with local solve processes; PostgreSQL with a Celery worker). Every
number of the comparison is recomputed here from the variant's rota and problem with the
independent checker. Bad scenarios are refused at once, naming their line; none of it reads a
file, and a scenario job is never a rota.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from api.app import create_app
from api.db import FINAL_STATES
from scenarios.whatif import kpis
from solver.checker import check
from solver.contract import Problem, Rota
from tests.api.service import Backend, HeldRunner, Service, agency_headers

FEWER = {"name": "one carer fewer", "changes": [{"kind": "remove_workers", "count": 1}]}
LONGER = {"name": "visits 10% longer", "changes": [{"kind": "scale_durations", "factor": 1.1}]}
HIRE = {"name": "hire 1000", "changes": [{"kind": "add_workers", "like": "w000", "count": 1000}]}
UNKNOWN_SCENARIO = "whatif_000000000000000000000000"


def scenario_yaml(base: Any, *variants: dict[str, Any], time_limit: float = 1.0) -> str:
    return yaml.safe_dump(
        {
            "name": "Two what-ifs",
            "question": "What do one carer fewer and longer visits cost?",
            "base": base,
            "time_limit": time_limit,
            "variants": list(variants),
        },
        sort_keys=False,
    )


def wait_scenario(client: TestClient, scenario_id: str, headers: dict[str, str]) -> Any:
    deadline = time.monotonic() + 120
    while True:
        body = client.get(f"/v1/scenarios/{scenario_id}", headers=headers).json()
        if body["status"] in FINAL_STATES:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


@dataclass(frozen=True)
class Finished:
    """A scenario of two variants of ``small_problem``, run to its end by one agency."""

    scenario_id: str
    headers: dict[str, str]
    body: dict[str, Any]


@pytest.fixture(scope="module")
def finished(service: Service, small_problem: dict[str, Any]) -> Finished:
    headers = service.agency()
    response = service.client.post(
        "/v1/scenarios",
        json={"scenario": scenario_yaml(small_problem, FEWER, LONGER), "time_limit": 1},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert response.headers["location"] == created["url"]
    # A local worker may claim the job before the answer is read back, as for rotas.
    assert created["status"] in ("queued", "solving") and created["time_limit"] == 1
    body = wait_scenario(service.client, created["id"], headers)
    assert body["status"] == "done", body
    return Finished(created["id"], headers, body)


def test_a_scenario_runs_and_its_numbers_are_the_checkers(
    service: Service, finished: Finished, small_problem: dict[str, Any]
) -> None:
    body = finished.body
    assert body["name"] == "Two what-ifs" and body["visits"] == len(small_problem["visits"])
    # The base, its twin for the noise band, and the two variants.
    assert body["progress"]["done"] == body["progress"]["total"] == 4
    comparison = body["comparison"]
    assert [v["name"] for v in comparison["variants"]] == ["base", FEWER["name"], LONGER["name"]]
    problems = {}
    for summary in comparison["variants"]:
        # Summaries leave the rota and problem out; each variant's own URL has them.
        assert "rota" not in summary and "problem" not in summary
        response = service.client.get(summary["url"], headers=finished.headers)
        assert response.status_code == 200, response.text
        variant = response.json()
        problem = Problem.model_validate(variant["problem"])
        rota = Rota.model_validate(variant["rota"])
        report = check(problem, rota)
        assert report.ok == variant["checker_ok"] == summary["checker_ok"] is True
        assert kpis(problem, rota, report).model_dump() == summary["kpis"] == variant["kpis"]
        problems[summary["name"]] = problem
    base = problems["base"]
    assert base.model_dump(mode="json", exclude_none=True) == Problem.model_validate(
        small_problem
    ).model_dump(mode="json", exclude_none=True)
    assert len(problems[FEWER["name"]].workers) == len(base.workers) - 1
    # 10% longer, rounded to whole minutes.
    assert [v.duration_minutes for v in problems[LONGER["name"]].visits] == [
        max(1, round(v.duration_minutes * 1.1)) for v in base.visits
    ]
    missing = service.client.get(
        f"/v1/scenarios/{finished.scenario_id}/variants/nobody", headers=finished.headers
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_a_scenario_is_not_a_rota(service: Service, finished: Finished) -> None:
    client, headers, ident = service.client, finished.headers, finished.scenario_id
    listed = client.get("/v1/scenarios", headers=headers).json()
    assert [s["id"] for s in listed["items"]] == [ident] and listed["next"] is None
    assert client.get("/v1/rotas", headers=headers).json()["items"] == []
    for method, url, body in (
        ("GET", f"/v1/rotas/{ident}", None),
        ("GET", f"/v1/rotas/{ident}/explain", None),
        ("POST", f"/v1/rotas/{ident}/publish", None),
        ("DELETE", f"/v1/rotas/{ident}", None),
        ("GET", f"/board/api/rotas/{ident}/problem", None),
        ("POST", "/v1/rotas", {"parent": ident}),
    ):
        response = client.request(method, url, headers=headers, json=body)
        assert response.status_code == 404, (method, url, response.text)
    # A finished scenario cannot be cancelled.
    response = client.post(f"/v1/scenarios/{ident}/cancel", headers=headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"


def test_another_agencys_scenario_is_404_like_an_unknown_one(
    service: Service, finished: Finished
) -> None:
    other = service.agency()
    for suffix, method in (("", "GET"), ("/variants/base", "GET"), ("/cancel", "POST")):
        theirs = service.client.request(
            method, f"/v1/scenarios/{finished.scenario_id}{suffix}", headers=other
        )
        unknown = service.client.request(
            method, f"/v1/scenarios/{UNKNOWN_SCENARIO}{suffix}", headers=other
        )
        assert theirs.status_code == unknown.status_code == 404, theirs.text
        assert theirs.json()["error"]["message"] == unknown.json()["error"]["message"].replace(
            UNKNOWN_SCENARIO, finished.scenario_id
        )
    assert service.client.get("/v1/scenarios", headers=other).json()["items"] == []


def test_erasing_a_client_only_a_variant_added_deletes_the_scenario(
    service: Service, small_problem: dict[str, Any]
) -> None:
    headers = service.agency()
    more = {"name": "one more client", "changes": [{"kind": "add_clients", "count": 1}]}
    response = service.client.post(
        "/v1/scenarios",
        content=scenario_yaml(small_problem, more),
        headers={**headers, "Content-Type": "application/yaml"},
    )
    assert response.status_code == 202, response.text
    ident = response.json()["id"]
    assert wait_scenario(service.client, ident, headers)["status"] == "done"
    url = f"/v1/scenarios/{ident}/variants/{more['name']}"
    added = service.client.get(url, headers=headers).json()["problem"]["clients"]
    [new] = {c["id"] for c in added} - {c["id"] for c in small_problem["clients"]}
    response = service.client.delete(f"/v1/clients/{new}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["deleted"]["jobs"] == 1
    assert service.client.get(f"/v1/scenarios/{ident}", headers=headers).status_code == 404


@dataclass(frozen=True)
class Queued:
    """The API on a fresh database whose jobs stay queued, and two agencies of it."""

    client: TestClient
    a: dict[str, str]
    b: dict[str, str]


@pytest.fixture(scope="module")
def queued(backend: Backend) -> Iterator[Queued]:
    # Two dozen refused submissions in a row: more than a key's burst of job submissions.
    settings = backend.with_settings(job_rate_limit_per_minute=0)
    with TestClient(create_app(settings, runner=HeldRunner())) as client:
        yield Queued(client, agency_headers(settings), agency_headers(settings))


def queue_rota(q: Queued, headers: dict[str, str], problem: dict[str, Any]) -> str:
    response = q.client.post("/v1/rotas", json={"problem": problem}, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_bad_scenarios_are_422_naming_their_line(
    queued: Queued, small_problem: dict[str, Any]
) -> None:
    client, headers = queued.client, queued.a
    fewer = {"name": "w999 leaves", "changes": [{"kind": "remove_workers", "ids": ["w999"]}]}
    nope = {"name": "nope", "changes": [{"kind": "hire_a_wizard"}]}
    theirs = queue_rota(queued, queued.b, small_problem)
    for text, message in (
        ("name: x\nbase: small\nvariants: [\n", "scenario:4: not YAML"),
        (
            scenario_yaml("small", nope),
            "scenario:8: variants[0].changes[0]: unknown change kind 'hire_a_wizard'",
        ),
        (
            scenario_yaml("small", fewer),
            "scenario:10: variants[0].changes[0].ids[0]: remove_workers: unknown worker 'w999'",
        ),
        # Never a file on the server, wherever it is.
        (scenario_yaml("../medium.json", FEWER), "scenario:3: base: '../medium.json' is none"),
        (scenario_yaml("/etc/passwd", FEWER), "scenario:3: base: '/etc/passwd' is none"),
        # Another agency's rota reads exactly like a rota nobody has.
        (scenario_yaml(theirs, FEWER), f"scenario:3: base: '{theirs}' is none of this agency's"),
        (scenario_yaml("small", *[{"name": f"v{i}"} for i in range(9)]), "scenario:5: variants:"),
        (scenario_yaml("small", FEWER, time_limit=601), "scenario:4: time_limit: time_limit 601"),
        ("name: x\nbase: small\nv: &a [1]\nw: *a\nvariants: [{name: v}]\n", "scenario:4: alias"),
        # A variant must be a problem POST /v1/rotas would take (CAREROTA_MAX_WORKERS: 1000).
        (scenario_yaml("small", HIRE), "scenario:6: variants[0]: the problem of 'hire 1000'"),
    ):
        for body, media in (({"scenario": text}, "application/json"), (text, "text/yaml")):
            content = json.dumps(body) if media == "application/json" else str(body)
            response = client.post(
                "/v1/scenarios", content=content, headers={**headers, "Content-Type": media}
            )
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["code"] == "validation_error", error
            assert error["message"].startswith(message), (message, error["message"])
            assert error["details"] == [{"loc": "scenario", "message": error["message"]}]
    response = client.post(
        "/v1/scenarios",
        json={"scenario": scenario_yaml("small", FEWER), "time_limit": 1000},
        headers=headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"] == "time_limit"
    response = client.post(
        "/v1/scenarios", content="name: x", headers={**headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 415, response.text
    assert client.get("/v1/scenarios", headers=headers).json()["items"] == []


def test_a_rota_as_base_then_cancelled_then_erased_with_its_client(
    queued: Queued, small_problem: dict[str, Any]
) -> None:
    client, headers = queued.client, queued.a
    rota = queue_rota(queued, headers, small_problem)
    response = client.post(
        "/v1/scenarios",
        content=scenario_yaml(rota, FEWER),
        headers={**headers, "Content-Type": "application/yaml"},
    )
    assert response.status_code == 202, response.text
    created = response.json()
    # The rota's stored problem is the base: no copy, and the summary reads it.
    assert created["base_rota"] == rota and created["links"]["base_rota"].endswith(rota)
    assert created["visits"] == len(small_problem["visits"])
    ident = created["id"]
    body = client.get(f"/v1/scenarios/{ident}", headers=headers).json()
    assert body["status"] == "queued" and body["comparison"] is None
    assert body["progress"] == {"elapsed": None, "done": 0, "total": 3}
    response = client.get(f"/v1/scenarios/{ident}/variants/base", headers=headers)
    assert response.status_code == 409, response.text
    response = client.post(f"/v1/scenarios/{ident}/cancel", headers=headers)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert client.delete(f"/v1/rotas/{rota}", headers=headers).status_code == 200
    # Erasing a client of the base deletes the rota and the scenario made from it.
    response = client.delete("/v1/clients/c0000", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["deleted"]["jobs"] == 2
    assert client.get(f"/v1/scenarios/{ident}", headers=headers).status_code == 404
