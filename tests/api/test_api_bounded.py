"""No input makes the service work beyond the input's size, crash, or answer with internal text
(issue 18): errors are capped, lists are measured before their items are read, the contract's
numbers are range-checked, YAML's depth and integers are bounded, and a body must say it is JSON.

Jobs are held in the queue (no solves): these tests are about what is let in. Times and memory
are measured by ``benchmarks/bounded.py``, not here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.parsing import MAX_ERRORS, MAX_LIST, Turns
from api.settings import Settings
from tests.api.service import HeldRunner, agency_headers


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An API on a fresh SQLite database whose jobs never start, and one agency's headers."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/bounded.db", max_queued_jobs=500)
    with TestClient(create_app(settings, runner=HeldRunner())) as client:
        yield client, agency_headers(settings)


def refused(response: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    error: dict[str, Any] = response.json()["error"]
    return error


def test_a_million_item_list_is_refused_by_its_length_alone(
    api: tuple[TestClient, dict[str, str]], small_problem: dict[str, Any]
) -> None:
    # 3 MB of zeros: before, a 109 MB answer listing a million errors, after 30 s.
    client, headers = api
    response = client.post(
        "/v1/rotas", json={"problem": {**small_problem, "visits": [0] * 1_000_000}}, headers=headers
    )
    error = refused(response)
    assert error["details"] == [
        {
            "loc": "problem.visits",
            "message": "1000000 visits, over this service's limit of 20000 (CAREROTA_MAX_VISITS)",
        }
    ]
    assert len(response.content) < 1_000


def test_errors_stop_at_the_first_fifty_with_a_count_of_the_rest(
    api: tuple[TestClient, dict[str, str]], small_problem: dict[str, Any]
) -> None:
    # 20,000 empty visits (within the limit) miss 5 required fields each: 100,000 errors.
    client, headers = api
    response = client.post(
        "/v1/rotas", json={"problem": {**small_problem, "visits": [{}] * 20_000}}, headers=headers
    )
    error = refused(response)
    assert len(error["details"]) == MAX_ERRORS + 1
    assert error["details"][0] == {"loc": "problem.visits[0].id", "message": "Field required"}
    assert error["details"][-1] == {
        "loc": "body",
        "message": f"{100_000 - MAX_ERRORS} more errors, not listed",
    }
    assert error["message"] == (
        "invalid request: problem.visits[0].id: Field required (and 99999 more)"
    )
    assert len(response.content) < 20_000


def test_nested_lists_and_wide_objects_are_measured_before_their_items(
    api: tuple[TestClient, dict[str, str]], small_problem: dict[str, Any]
) -> None:
    client, headers = api
    workers = [dict(w) for w in small_problem["workers"]]
    workers[1]["skills"] = ["x"] * (MAX_LIST + 1)
    workers[2] = {f"field{i}": i for i in range(100)}
    error = refused(
        client.post(
            "/v1/rotas", json={"problem": {**small_problem, "workers": workers}}, headers=headers
        )
    )
    assert error["details"] == [
        {
            "loc": "problem.workers[1].skills",
            "message": f"{MAX_LIST + 1} items, over this service's limit of {MAX_LIST}",
        },
        {
            "loc": "problem.workers[2]",
            "message": "100 fields; no object here has more than 64",
        },
    ]


def test_json_nested_too_deep_is_422_not_a_crash(api: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = api
    body = '{"problem": ' + "[" * 5_000 + "]" * 5_000 + "}"
    error = refused(
        client.post(
            "/v1/rotas", content=body, headers={**headers, "Content-Type": "application/json"}
        )
    )
    assert error["code"] in ("invalid_json", "validation_error")


def test_a_body_that_is_not_json_by_its_content_type_is_415(
    api: tuple[TestClient, dict[str, str]], small_problem: dict[str, Any]
) -> None:
    client, headers = api
    body = json.dumps({"problem": small_problem})
    for media in ("text/plain", "application/x-www-form-urlencoded", "application/yaml"):
        response = client.post(
            "/v1/rotas", content=body, headers={**headers, "Content-Type": media}
        )
        assert refused(response, 415)["code"] == "unsupported_media_type"
    ok = client.post(
        "/v1/rotas",
        content=body,
        headers={**headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 202, ok.text


@pytest.mark.parametrize(
    ("where", "value", "loc"),
    [
        # Each was accepted, and the job then failed with a C++ binding's message.
        (("weights", "travel_minute"), 1e308, "problem.weights.travel_minute"),
        (("weights", "unassigned_visit"), 2**63, "problem.weights.unassigned_visit"),
        (("weights", "coordinator_rule"), 1_000_001, "problem.weights.coordinator_rule"),
        (("period", "end"), "9999-12-31", "problem.period"),
    ],
)
def test_weights_and_periods_out_of_range_are_422_naming_the_field(
    api: tuple[TestClient, dict[str, str]],
    small_problem: dict[str, Any],
    where: tuple[str, str],
    value: Any,
    loc: str,
) -> None:
    client, headers = api
    section, field = where
    problem = {**small_problem, section: {**small_problem.get(section, {}), field: value}}
    error = refused(client.post("/v1/rotas", json={"problem": problem}, headers=headers))
    assert [d["loc"] for d in error["details"]] == [loc]


def test_weights_at_the_top_of_their_range_are_taken(
    api: tuple[TestClient, dict[str, str]], small_problem: dict[str, Any]
) -> None:
    client, headers = api
    problem = {**small_problem, "weights": {"travel_minute": 1_000_000, "unassigned_visit": 1e6}}
    response = client.post("/v1/rotas", json={"problem": problem}, headers=headers)
    assert response.status_code == 202, response.text


SCENARIO = "name: probe\nbase: small\nvariants:\n  - name: one\n    changes: []\n"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        # Deeper than libyaml's own limit: PyYAML's pure-Python reader then recursed (500).
        (SCENARIO + "extra: " + "[" * 1_500 + "]" * 1_500 + "\n", 6, "not YAML"),
        # An integer of over 4,300 digits: Python refused to convert it (500).
        ("seed: " + "7" * 5_000 + "\n" + SCENARIO, 1, "a number of 5000 characters"),
    ],
)
def test_yaml_too_deep_or_with_huge_integers_is_422_naming_the_line(
    api: tuple[TestClient, dict[str, str]], text: str, line: int, words: str
) -> None:
    client, headers = api
    response = client.post(
        "/v1/scenarios", content=text, headers={**headers, "Content-Type": "application/yaml"}
    )
    error = refused(response)
    assert error["message"].startswith(f"scenario:{line}: "), error["message"]
    assert words in error["message"]


def test_an_agencys_reads_wait_for_its_own_earlier_ones_only() -> None:
    # One read at a time for the whole service made every agency wait behind one agency's body.
    async def scenario() -> list[str]:
        turns, order = Turns(), []
        release = asyncio.Event()

        async def read(agency: str, name: str, hold: bool) -> None:
            async with turns.turn(agency):
                order.append(f"{name} starts")
                if hold:
                    await release.wait()
                order.append(f"{name} ends")

        first = asyncio.create_task(read("flooder", "flood 1", hold=True))
        second = asyncio.create_task(read("flooder", "flood 2", hold=False))
        await asyncio.sleep(0.01)
        await asyncio.wait_for(read("other", "other", hold=False), timeout=1)
        release.set()
        await asyncio.gather(first, second)
        return order

    assert asyncio.run(scenario()) == [
        "flood 1 starts",
        "other starts",
        "other ends",
        "flood 1 ends",
        "flood 2 starts",
        "flood 2 ends",
    ]
