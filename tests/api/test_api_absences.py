"""Sick calls through HTTP: an absence re-solves the published rota, publishes it, tells who.

Runs on both backends (SQLite with local solve processes; PostgreSQL with a Celery worker). The
new rota is judged by the independent checker against the problem stored with it, and its change
list against an independent diff of the two versions.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from api.webhook_rules import sign
from solver.checker import check
from solver.contract import Problem, Rota
from tests.api.service import Service

DAY2 = "2026-12-01"


class Hook:
    """A webhook receiver on localhost that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.raw: list[tuple[bytes, str]] = []  # each body and its signature header
        self.arrived = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append(json.loads(body))
                hook.raw.append((body, self.headers.get("Carerota-Signature", "")))
                hook.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()


def publish_solved(service: Service, headers: dict[str, str], problem: dict[str, Any]) -> str:
    created = service.submit(headers, problem, time_limit=2, seed=1)
    body = service.wait(created["id"], headers)
    assert body["status"] == "done", body
    assert (
        service.client.post(f"/v1/rotas/{created['id']}/publish", headers=headers).status_code
        == 200
    )
    return str(created["id"])


def busiest_on_day2(rota: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for a in rota["assignments"]:
        if a["start"].startswith(DAY2):
            for w in a["workers"]:
                counts[w] = counts.get(w, 0) + 1
    return max(sorted(counts), key=lambda w: counts[w])


def diff(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    def key(r: dict[str, Any]) -> dict[str, Any]:
        shadows: dict[str, list[str]] = {}
        for cv in r.get("coordinator_visits", []):
            if cv["mode"] == "shadow":
                shadows.setdefault(cv["visit"], []).append(cv["coordinator"])
        return {
            a["visit"]: (sorted(a["workers"]), sorted(shadows.get(a["visit"], [])), a["start"])
            for a in r["assignments"]
        }

    k0, k1 = key(before), key(after)
    return {v for v in set(k0) | set(k1) if k0.get(v) != k1.get(v)}


def test_absence_resolves_publishes_and_tells_who(
    service: Service, small_problem: dict[str, Any], hook: Hook
) -> None:
    headers = service.agency()
    webhook = service.client.put("/v1/webhook", json={"url": hook.url}, headers=headers).json()
    assert webhook["url"] == hook.url and webhook["secret"].startswith("whsec_")
    base_id = publish_solved(service, headers, small_problem)
    base = service.client.get(f"/v1/rotas/{base_id}", headers=headers).json()["rota"]
    worker = busiest_on_day2(base)
    response = service.client.post(
        "/v1/absences",
        json={
            "worker": worker,
            "start": f"{DAY2}T00:00",
            "end": f"{DAY2}T23:59",
            "reason": "sick",
            "now": f"{DAY2}T06:10",
            "time_limit": 2,
        },
        headers=headers,
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["absence"]["worker"] == worker and created["absence"]["merged"] == []
    [job] = created["resolves"]
    assert job["repairs"] == base_id
    body = service.wait(job["id"], headers)
    assert body["status"] == "done", body
    assert body["published"] and body["parent"] == base_id
    assert not service.client.get(f"/v1/rotas/{base_id}", headers=headers).json()["published"]

    # The new rota keeps every rule of the problem stored with it (the absence written in).
    stored = service.client.get(f"/board/api/rotas/{job['id']}/problem", headers=headers).json()
    situation, rota = Problem.model_validate(stored), Rota.model_validate(body["rota"])
    report = check(situation, rota)
    assert report.ok, [str(b) for b in report.breaches[:5]]
    assert sorted(
        [a.visit for a in rota.assignments] + [u.visit for u in rota.unassigned]
    ) == sorted(v["id"] for v in small_problem["visits"])
    # Nothing for the absent worker on day 2; day 1 (before now) untouched.
    assert not any(
        worker in a.workers and a.start.date().isoformat() == DAY2 for a in rota.assignments
    )
    day1 = {a["visit"]: a for a in base["assignments"] if a["start"] < f"{DAY2}T06:10"}
    after = {a["visit"]: a for a in body["rota"]["assignments"]}
    assert all(after[v] == a for v, a in day1.items())

    # The change list is the diff of the two versions.
    cl = service.client.get(f"/v1/rotas/{job['id']}/changes", headers=headers).json()
    assert {c["visit"] for c in cl["visits"]} == diff(base, body["rota"])
    assert worker in {w["worker"] for w in cl["workers"]}
    # The webhook got the same change list's shape: one entry per worker and day with that
    # day's visits, and the visits still unstaffed, by id only (no names, times or addresses),
    # signed with the agency's secret.
    assert hook.arrived.wait(30)
    assert hook.received[0] == {
        "event": "rota.resolved",
        "rota": job["id"],
        "absence": created["absence"]["id"],
        "published": True,
        "links": {"rota": f"/v1/rotas/{job['id']}", "changes": f"/v1/rotas/{job['id']}/changes"},
        "messages": [
            {
                "worker": w["worker"],
                "days": [
                    {"date": d["date"], "visits": [line["visit"] for line in d["lines"]]}
                    for d in w["days"]
                ],
            }
            for w in cl["workers"]
        ],
        "unstaffed": [u["visit"] for u in cl["unstaffed"]],
    }
    assert hook.received[0]["messages"], "the absent carer at least is told"
    sent, signature = hook.raw[0]
    assert signature == sign(webhook["secret"], int(signature[2:].partition(",")[0]), sent)
    names = [w["name"] for w in small_problem["workers"] if w.get("name")]
    places = [c["address"] for c in small_problem["clients"] if c.get("address")]
    assert not [text for text in names + places if text.encode() in sent]
    assert b"Client" not in sent and not re.search(rb"\d\d:\d\d", sent)

    # Cover requests were counted for December, one per worker asked.
    counts = service.client.get(
        "/v1/cover-counts", params={"month": "2026-12"}, headers=headers
    ).json()
    orphans = {
        a["visit"]
        for a in base["assignments"]
        if worker in a["workers"] and a["start"].startswith(DAY2)
    }
    asked = {
        w for a in body["rota"]["assignments"] if a["visit"] in orphans for w in a["workers"]
    } - {w for a in base["assignments"] if a["visit"] in orphans for w in a["workers"]}
    assert counts == dict.fromkeys(asked, 1)


def test_overlapping_absences_merge_and_resolve_the_latest_version(
    service: Service, small_problem: dict[str, Any]
) -> None:
    headers = service.agency()
    base_id = publish_solved(service, headers, small_problem)
    base = service.client.get(f"/v1/rotas/{base_id}", headers=headers).json()["rota"]
    worker = busiest_on_day2(base)

    def absent(start: str, end: str) -> Any:
        response = service.client.post(
            "/v1/absences",
            json={
                "worker": worker,
                "start": start,
                "end": end,
                "now": f"{DAY2}T06:00",
                "time_limit": 1,
            },
            headers=headers,
        )
        assert response.status_code == 202, response.text
        return response.json()

    first = absent(f"{DAY2}T06:00", f"{DAY2}T12:00")
    service.wait(first["resolves"][0]["id"], headers)
    second = absent(f"{DAY2}T11:00", f"{DAY2}T18:00")
    assert second["absence"]["merged"] == [first["absence"]["id"]]
    assert (second["absence"]["start"], second["absence"]["end"]) == (
        f"{DAY2}T06:00",
        f"{DAY2}T18:00",
    )
    listed = service.client.get("/v1/absences", headers=headers).json()["items"]
    assert [(a["start"], a["end"]) for a in listed] == [(f"{DAY2}T06:00", f"{DAY2}T18:00")]
    body = service.wait(second["resolves"][0]["id"], headers)
    # The second re-solve repaired the first one's published version, not the original.
    assert body["status"] == "done" and body["parent"] == first["resolves"][0]["id"]
    rota = Rota.model_validate(body["rota"])
    start, end = datetime.fromisoformat(f"{DAY2}T06:00"), datetime.fromisoformat(f"{DAY2}T18:00")
    for a in rota.assignments:
        if worker in a.workers:
            assert a.start >= end or a.start < start


def test_absence_outside_every_published_rota_is_409(
    service: Service, small_problem: dict[str, Any]
) -> None:
    headers = service.agency()
    publish_solved(service, headers, small_problem)
    worker = small_problem["workers"][0]["id"]
    response = service.client.post(
        "/v1/absences",
        json={"worker": worker, "start": "2027-01-04T08:00", "end": "2027-01-04T12:00"},
        headers=headers,
    )
    assert response.status_code == 409
    assert response.json()["error"]["message"].startswith(
        "the absence (2027-01-04T08:00 to 2027-01-04T12:00) is outside the period of every "
        "published rota"
    )


def test_absence_of_an_unknown_worker_is_404_and_backwards_is_422(
    service: Service, small_problem: dict[str, Any]
) -> None:
    headers = service.agency()
    publish_solved(service, headers, small_problem)
    response = service.client.post(
        "/v1/absences",
        json={"worker": "w-nobody", "start": f"{DAY2}T08:00", "end": f"{DAY2}T12:00"},
        headers=headers,
    )
    assert response.status_code == 404
    assert "w-nobody" in response.json()["error"]["message"]
    response = service.client.post(
        "/v1/absences",
        json={"worker": "w-nobody", "start": f"{DAY2}T12:00", "end": f"{DAY2}T08:00"},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == "end"
