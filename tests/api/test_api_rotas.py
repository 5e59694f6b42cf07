"""End to end through HTTP: ask for a rota, watch it, fetch it, explain it, publish it, cancel it.

Each test runs on both backends (SQLite with local solve processes; PostgreSQL with a Celery
worker). Every rota that comes back is judged by the independent checker.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from solver.checker import check
from solver.contract import Problem, Rota
from solver.options import SolveOptions
from solver.solve import solve
from tests.api.service import Service, Solved


def verified(problem: dict[str, Any], body: dict[str, Any]) -> Rota:
    """The rota in ``body``, which must keep every hard rule and account for every visit."""
    rota = Rota.model_validate(body["rota"])
    report = check(Problem.model_validate(problem), rota)
    assert report.ok, [str(b) for b in report.breaches[:5]]
    visits = sorted([a.visit for a in rota.assignments] + [u.visit for u in rota.unassigned])
    assert visits == sorted(v["id"] for v in problem["visits"])
    assert rota.objective == pytest.approx(report.objective, abs=0.01)
    return rota


def test_submit_answers_202_with_the_jobs_id_and_url(
    service: Service, small_problem: dict[str, Any]
) -> None:
    headers = service.agency()
    response = service.client.post(
        "/v1/rotas",
        json={"problem": small_problem, "options": {"method": "heuristic"}},
        headers=headers,
    )
    assert response.status_code == 202
    body = response.json()
    assert body["id"].startswith("rota_")
    assert body["url"].endswith(f"/v1/rotas/{body['id']}")
    assert response.headers["location"] == body["url"]
    assert body["status"] in ("queued", "solving", "done")
    assert body["period"] == {"start": "2026-11-30", "end": "2026-12-06"}
    assert body["visits"] == len(small_problem["visits"])
    service.wait(body["id"], headers)


def test_a_solved_rota_keeps_every_rule(solved: Solved) -> None:
    body = solved.body
    rota = verified(solved.problem, body)
    assert body["status"] == "done"
    assert body["check"] == {"ok": True, "breaches": 0}
    assert body["source"] == "search"
    assert body["solver_status"] == rota.status
    # The final progress is the rota's own objective and bound.
    assert body["progress"]["objective"] == pytest.approx(rota.objective)
    assert body["progress"]["bound"] <= body["progress"]["objective"] + 1e-6
    # And its figures in words are the rota's own metrics.
    assert rota.metrics is not None
    assert body["progress"]["visits_staffed"] == rota.metrics.visits_assigned
    assert body["progress"]["visits_total"] == rota.metrics.visits_total
    assert body["progress"]["travel_minutes"] == pytest.approx(rota.metrics.travel_minutes)
    assert body["progress"]["carers_per_client"] == pytest.approx(
        rota.metrics.mean_distinct_workers_per_client
    )
    assert body["attempts"] == 1
    assert body["finished_at"] >= body["started_at"] >= body["created_at"]


def test_progress_streams_as_server_sent_events(
    service: Service, small_problem: dict[str, Any]
) -> None:
    headers = service.agency()
    created = service.submit(headers, small_problem, time_limit=2, seed=3)
    events: list[tuple[str, dict[str, Any]]] = []
    with service.client.stream(
        "GET", f"/v1/rotas/{created['id']}/events", headers=headers
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                assert name is not None
                events.append((name, json.loads(line.removeprefix("data: "))))
    names = [n for n, _ in events]
    assert names[-1] == "done", names
    assert "progress" in names, names
    objectives = [d["progress"]["objective"] for n, d in events if n == "progress"]
    # The search only ever reports improvements.
    assert objectives == sorted(objectives, reverse=True)
    # Each report carries the best rota so far in words: visits staffed of the total, travel,
    # carers per client.
    for n, d in events:
        if n == "progress":
            p = d["progress"]
            assert p["visits_total"] == len(small_problem["visits"])
            assert 0 <= p["visits_staffed"] <= p["visits_total"]
            assert p["travel_minutes"] >= 0 and p["carers_per_client"] >= 0
    final = events[-1][1]
    assert final["status"] == "done" and final["check"]["ok"]


def test_explain_gives_the_objective_by_term(service: Service, solved: Solved) -> None:
    response = service.client.get(f"/v1/rotas/{solved.rota_id}/explain", headers=solved.headers)
    assert response.status_code == 200
    ex = response.json()
    assert ex["id"] == solved.rota_id
    assert sum(t["value"] for t in ex["terms"]) == pytest.approx(ex["objective"], abs=0.01)
    assert ex["objective"] == pytest.approx(solved.body["rota"]["objective"], abs=0.01)
    values = [t["value"] for t in ex["terms"]]
    assert values == sorted(values, reverse=True)
    assert ex["check"]["ok"] is True
    assert len(ex["unstaffed"]) == len(solved.body["rota"]["unassigned"])


def test_list_pages_newest_first(service: Service, small_problem: dict[str, Any]) -> None:
    headers = service.agency()
    ids = [service.submit(headers, small_problem, method="heuristic")["id"] for _ in range(3)]
    first = service.client.get("/v1/rotas?limit=2", headers=headers).json()
    assert [r["id"] for r in first["items"]] == ids[::-1][:2]
    assert "rota" not in first["items"][0]
    assert first["next"] is not None
    second = service.client.get(first["next"], headers=headers).json()
    assert [r["id"] for r in second["items"]] == ids[:1]
    assert second["next"] is None
    for rota_id in ids:
        service.wait(rota_id, headers)
    done = service.client.get("/v1/rotas?status=done", headers=headers).json()
    assert sorted(r["id"] for r in done["items"]) == sorted(ids)
    assert service.client.get("/v1/rotas?status=failed", headers=headers).json()["items"] == []


def test_publish_then_a_new_version_replaces_it(
    service: Service, small_problem: dict[str, Any]
) -> None:
    headers = service.agency()
    first = service.wait(service.submit(headers, small_problem, method="heuristic")["id"], headers)
    url = f"/v1/rotas/{first['id']}"
    published = service.client.post(f"{url}/publish", headers=headers)
    assert published.status_code == 200
    assert published.json()["published"] is True
    assert published.json()["published_at"] is not None
    # Publishing the same version again changes nothing.
    again = service.client.post(f"{url}/publish", headers=headers).json()
    assert again["published_at"] == published.json()["published_at"]

    # A change is a new version with a parent: here, the parent's problem solved again.
    response = service.client.post(
        "/v1/rotas",
        json={"parent": first["id"], "options": {"method": "heuristic", "seed": 1}},
        headers=headers,
    )
    assert response.status_code == 202
    second = service.wait(response.json()["id"], headers)
    assert second["status"] == "done"
    assert second["parent"] == first["id"]
    assert second["links"]["parent"].endswith(url)
    assert second["published"] is False
    verified(small_problem, second)

    service.client.post(f"/v1/rotas/{second['id']}/publish", headers=headers)
    now_first = service.client.get(url, headers=headers).json()
    now_second = service.client.get(f"/v1/rotas/{second['id']}", headers=headers).json()
    assert (now_first["published"], now_second["published"]) == (False, True)
    # Versions are immutable: publishing touched neither rota.
    assert now_first["rota"] == first["rota"]


def test_cancel_stops_the_solve_and_keeps_a_rota(
    service: Service, busy_problem: dict[str, Any]
) -> None:
    headers = service.agency()
    created = service.submit(headers, busy_problem, time_limit=60)
    url = f"/v1/rotas/{created['id']}"
    service.wait(created["id"], headers, until=lambda r: r["progress"]["objective"] is not None)
    response = service.client.delete(url, headers=headers)
    assert response.status_code == 202
    assert response.json()["cancel_requested"] is True
    body = service.wait(created["id"], headers, timeout=30)
    assert body["status"] == "cancelled"
    # The search stopped and handed back its best rota so far, not the construction rota.
    assert body["source"] == "search"
    assert body["note"].startswith("cancelled after") and "best rota found so far" in body["note"]
    verified(busy_problem, body)
    assert body["rota"]["objective"] <= body["progress"]["objective"] + 1e-6
    # Well before the 60 s the solve asked for.
    assert body["progress"]["elapsed"] < 30
    # Cancelling again is harmless; a finished rota cannot be cancelled.
    assert service.client.delete(url, headers=headers).status_code == 200


def test_a_done_rota_cannot_be_cancelled(service: Service, solved: Solved) -> None:
    response = service.client.delete(f"/v1/rotas/{solved.rota_id}", headers=solved.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_the_service_gives_the_rota_solve_gives(
    service: Service, small_problem: dict[str, Any]
) -> None:
    """Same API, same results: the service is solve() behind HTTP, on either backend."""
    headers = service.agency()
    body = service.wait(
        service.submit(headers, small_problem, method="heuristic", seed=7)["id"], headers
    )
    direct = solve(Problem.model_validate(small_problem), SolveOptions(method="heuristic", seed=7))
    assert body["rota"] == direct.model_dump(mode="json", exclude_none=True)
