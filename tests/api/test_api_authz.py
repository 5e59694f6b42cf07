"""Object-level authorisation, route by route, driven by the app's own OpenAPI document.

Every operation in the schema is covered, so a new route cannot escape: one without a check here
fails :func:`test_every_operation_has_an_authorisation_rule` until someone says how it is
protected. The rules:

- no credential, or a garbage one: 401 ``unauthorized`` everywhere but the public health checks
  and the import templates (the same for everyone: no agency's data);
- agency B on agency A's objects: 404 ``not_found``, the same answer as for an id that does not
  exist (never 200 or 403, which would tell B the object exists);
- collections (rotas, scenarios, absences, webhook, cover counts, records, imports, plans) show
  each agency only its own rows, and a write there never reaches another agency's;
- a carer's link token: that carer's run sheets and calendars in the versions the agency
  published (and the one it was made from), 404 for any other carer or a draft version, 403 on
  every agency endpoint, 401 once expired or revoked.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from api.db import CarerToken, Database, utcnow
from tests.api.service import Service

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/v1/imports/templates/{name}")}
# Operations without ids in their path: each needs its own "only your own rows" check below.
COLLECTIONS = {
    ("GET", "/v1/rotas"),
    ("POST", "/v1/rotas"),
    ("GET", "/v1/scenarios"),
    ("POST", "/v1/scenarios"),
    ("GET", "/v1/absences"),
    ("POST", "/v1/absences"),
    ("GET", "/v1/webhook"),
    ("PUT", "/v1/webhook"),
    ("GET", "/v1/cover-counts"),
    ("GET", "/v1/access-log"),
    ("GET", "/v1/links"),
    ("POST", "/v1/links/revoke"),
    ("GET", "/v1/workers"),
    ("POST", "/v1/workers"),
    ("GET", "/v1/clients"),
    ("POST", "/v1/clients"),
    ("GET", "/v1/packages"),
    ("POST", "/v1/packages"),
    ("POST", "/v1/imports"),
    ("POST", "/v1/plans"),
}
CARER_ROUTES = {
    "/v1/rotas/{rota_id}/workers/{worker_id}/runsheet",
    "/v1/rotas/{rota_id}/workers/{worker_id}/calendar.ics",
    "/v1/workers/{worker_id}/runsheet",
    "/v1/workers/{worker_id}/calendar.ics",
}
UNKNOWN_LINK = "link_000000000000000000000000"
VISIT = "v00000"  # a visit of A's problem
UNKNOWN_ROTA = "rota_000000000000000000000000"
UNKNOWN_SCENARIO = "whatif_000000000000000000000000"
DAY2 = "2026-12-01"
CLIENT = "c0000"  # a client of A's problem and records (B has none)
PACKAGE = "p-a"  # a care package of A's records
WEEK = "2027-01-04"  # a Monday, the first week A's package runs
UNKNOWN_PACKAGE = "p-nobody"
RECORDS: dict[str, dict[str, Any]] = {
    "workers": {"home": {"lat": 53.8, "lon": -1.55}, "skills": ["medication"]},
    "clients": {"name": "Mrs Holt", "area": "North", "location": {"lat": 53.81, "lon": -1.55}},
    "packages": {
        "client": CLIENT,
        "days": ["mon"],
        "start_date": WEEK,
        "earliest_start": "08:00",
        "latest_start": "09:00",
        "duration_minutes": 30,
    },
}


def record(plural: str, ident: str) -> dict[str, Any]:
    """A valid worker, client or package record called ``ident``."""
    return {"id": ident, **RECORDS[plural]}


def operations(service: Service) -> list[tuple[str, str]]:
    """Every (method, path template) the app documents."""
    paths: dict[str, dict[str, Any]] = service.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return sorted(
        (method.upper(), path)
        for path, ops in paths.items()
        for method in ops
        if method in {"get", "post", "put", "patch", "delete"}
    )


def fill(
    path: str,
    rota_id: str,
    worker_id: str,
    client_id: str = CLIENT,
    scenario_id: str = UNKNOWN_SCENARIO,
    link_id: str = UNKNOWN_LINK,
    package_id: str = PACKAGE,
) -> str:
    known = {
        "rota_id",
        "worker_id",
        "client_id",
        "scenario_id",
        "variant",
        "link_id",
        "visit_id",
        "package_id",
        "name",
    }
    unknown = set(re.findall(r"{(\w+)}", path)) - known
    assert not unknown, f"{path}: teach this suite what to put in {unknown}"
    return (
        path.replace("{rota_id}", rota_id)
        .replace("{worker_id}", worker_id)
        .replace("{client_id}", client_id)
        .replace("{scenario_id}", scenario_id)
        .replace("{variant}", "base")
        .replace("{link_id}", link_id)
        .replace("{visit_id}", VISIT)
        .replace("{package_id}", package_id)
        .replace("{name}", "carers.csv")
    )


@dataclass(frozen=True)
class World:
    """Agency A with a published rota and its re-solve after an absence; agency B, empty."""

    a: dict[str, str]
    b: dict[str, str]
    base_id: str  # A's first rota, published, then repaired
    rota_id: str  # A's re-solve of it: a version with a parent and a change list
    worker: str  # a worker on A's rotas, and in A's records
    absence_id: str
    scenario_id: str  # A's what-if scenario, done, whose base is A's first rota


@pytest.fixture(scope="module")
def world(service: Service, small_problem: dict[str, Any]) -> World:
    a, b = service.agency(), service.agency()
    created = service.submit(a, small_problem, time_limit=2, seed=1)
    body = service.wait(created["id"], a)
    assert body["status"] == "done", body
    base_id = created["id"]
    assert service.client.post(f"/v1/rotas/{base_id}/publish", headers=a).status_code == 200
    worker = body["rota"]["routes"][0]["worker"]
    response = service.client.post(
        "/v1/absences",
        json={
            "worker": worker,
            "start": f"{DAY2}T00:00",
            "end": f"{DAY2}T23:59",
            "now": f"{DAY2}T06:10",
            "time_limit": 2,
        },
        headers=a,
    )
    assert response.status_code == 202, response.text
    [job] = response.json()["resolves"]
    assert service.wait(job["id"], a)["status"] == "done"
    assert service.client.put("/v1/webhook", json={"url": "https://a.example/hook"}, headers=a)
    absence_id = response.json()["absence"]["id"]
    # A finished what-if of A's first rota, so every scenario route has something to read.
    scenario = (
        f"name: one fewer\nbase: {base_id}\ntime_limit: 1\nvariants:\n"
        "  - {name: one carer fewer, changes: [{kind: remove_workers, count: 1}]}\n"
    )
    response = service.client.post("/v1/scenarios", json={"scenario": scenario}, headers=a)
    assert response.status_code == 202, response.text
    scenario_id = response.json()["id"]
    deadline = time.monotonic() + 90
    while service.client.get(f"/v1/scenarios/{scenario_id}", headers=a).json()["status"] != "done":
        assert time.monotonic() < deadline, "the scenario never finished"
        time.sleep(0.2)
    # A's records: the worker, a client of A's problem, and a care package of theirs.
    for plural, ident in (("workers", worker), ("clients", CLIENT), ("packages", PACKAGE)):
        response = service.client.post(f"/v1/{plural}", json=record(plural, ident), headers=a)
        assert response.status_code == 201, response.text
    return World(a, b, base_id, job["id"], worker, absence_id, scenario_id)


def request(service: Service, method: str, url: str, headers: dict[str, str]) -> Any:
    # Bodies that would be valid for the route, so a 404 is about the object, not the body.
    json: Any = None
    if method == "PUT" and url.endswith("/webhook"):
        json = {"url": "https://b.example/hook"}
    if method == "POST" and url.endswith("/links/revoke"):
        json = {"all": True}
    if method == "PUT" and (found := re.fullmatch(r"/v1/(workers|clients|packages)/([^/]+)", url)):
        json = record(found[1], found[2])
    return service.client.request(method, url, headers=headers, json=json)


def test_every_operation_has_an_authorisation_rule(service: Service) -> None:
    for method, path in operations(service):
        if (method, path) in PUBLIC | COLLECTIONS:
            continue
        ids = ("rota_id", "client_id", "scenario_id", "worker_id", "link_id", "package_id")
        assert any(f"{{{name}}}" in path for name in ids), (
            f"{method} {path}: add it to COLLECTIONS with an own-rows check, or give it an id rule"
        )


def test_without_a_valid_key_everything_but_health_is_401(service: Service, world: World) -> None:
    for method, path in operations(service):
        url = fill(path, world.rota_id, world.worker)
        if (method, path) in PUBLIC:
            assert service.client.request(method, url).status_code in (200, 503)
            continue
        for headers in (
            {},
            {"Authorization": "Bearer crk_garbage"},
            {"Authorization": "Bearer crc_garbage"},
            {"Authorization": "Basic YTpi"},
            {"Authorization": "Bearer"},
        ):
            response = service.client.request(method, url, headers=headers)
            assert response.status_code == 401, (method, url, headers, response.text)
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"


def test_another_agencys_objects_answer_exactly_like_unknown_ones(
    service: Service, world: World
) -> None:
    checked = 0
    for method, path in operations(service):
        if "{rota_id}" not in path:
            continue
        for rota_id in (world.base_id, world.rota_id):
            # The owner reaches it (so the 404 below is about who asks, not a broken URL).
            own = request(service, method, fill(path, rota_id, world.worker), world.a)
            assert own.status_code < 500 and own.status_code not in (401, 403, 404), (
                method,
                path,
                own.text,
            )
            theirs = request(service, method, fill(path, rota_id, world.worker), world.b)
            unknown = request(service, method, fill(path, UNKNOWN_ROTA, world.worker), world.b)
            assert theirs.status_code == unknown.status_code == 404, (method, path, theirs.text)
            assert theirs.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"
            # The message names only what was asked for: no hint that it exists.
            assert theirs.json()["error"]["message"] == unknown.json()["error"]["message"].replace(
                UNKNOWN_ROTA, rota_id
            )
            checked += 1
    assert checked >= 2 * 9
    # Scenarios: the same, by scenario id.
    for method, path in operations(service):
        if "{scenario_id}" not in path:
            continue
        own = request(service, method, fill(path, "", "", scenario_id=world.scenario_id), world.a)
        assert own.status_code < 500 and own.status_code not in (401, 403, 404), (path, own.text)
        theirs = request(
            service, method, fill(path, "", "", scenario_id=world.scenario_id), world.b
        )
        unknown = request(service, method, fill(path, "", ""), world.b)
        assert theirs.status_code == unknown.status_code == 404, (method, path, theirs.text)
        assert theirs.json()["error"]["message"] == unknown.json()["error"]["message"].replace(
            UNKNOWN_SCENARIO, world.scenario_id
        )
        checked += 1
    # A client's record, carers and erasure: B cannot read, replace or erase A's, and learns no more
    # than for a client nobody has. The owner's erasure (it works) is in test_api_erasure.py: here
    # it would erase the world.
    for method, path in operations(service):
        if "{client_id}" not in path:
            continue
        if method != "DELETE":
            own = request(service, method, fill(path, "", ""), world.a)
            assert own.status_code < 400, (method, path, own.text)
        theirs = request(service, method, fill(path, world.rota_id, world.worker), world.b)
        unknown = request(service, method, fill(path, "", "", "c-nobody"), world.b)
        assert theirs.status_code == unknown.status_code == 404, (method, path, theirs.text)
        assert theirs.json()["error"]["message"] == unknown.json()["error"]["message"].replace(
            "c-nobody", CLIENT
        )
        checked += 1
    # A carer's current run, links and record, by worker id: B's answer for A's worker is the one
    # for a worker nobody has.
    for method, path in operations(service):
        if not path.startswith("/v1/workers/{worker_id}"):
            continue
        if method != "DELETE":  # the owner's delete works (test_api_records.py); not on the world
            own = request(service, method, fill(path, "", world.worker), world.a)
            assert own.status_code < 400, (method, path, own.text)
        theirs = request(service, method, fill(path, "", world.worker), world.b)
        unknown = request(service, method, fill(path, "", "w-nobody"), world.b)
        assert theirs.status_code == unknown.status_code == 404, (method, path, theirs.text)
        assert theirs.json()["error"]["message"] == unknown.json()["error"]["message"].replace(
            "w-nobody", world.worker
        )
        checked += 1
    # A care package, by id: the same.
    for method, path in operations(service):
        if "{package_id}" not in path:
            continue
        if method != "DELETE":
            own = request(service, method, fill(path, "", ""), world.a)
            assert own.status_code < 400, (method, path, own.text)
        theirs = request(service, method, fill(path, "", ""), world.b)
        unknown = request(service, method, fill(path, "", "", package_id=UNKNOWN_PACKAGE), world.b)
        assert theirs.status_code == unknown.status_code == 404, (method, path, theirs.text)
        assert theirs.json()["error"]["message"] == unknown.json()["error"]["message"].replace(
            UNKNOWN_PACKAGE, PACKAGE
        )
        checked += 1
    # B's deletes and replacements left A's records as they were.
    for plural, ident in (("workers", world.worker), ("clients", CLIENT), ("packages", PACKAGE)):
        kept = service.client.get(f"/v1/{plural}/{ident}", headers=world.a)
        assert kept.status_code == 200, (plural, kept.text)
        assert {k: kept.json()[k] for k in record(plural, ident)} == record(plural, ident)
    # A link, by id: B cannot revoke A's.
    link = service.client.get("/v1/links", headers=world.a).json()["items"][0]["id"]
    for method, path in operations(service):
        if "{link_id}" not in path:
            continue
        theirs = request(service, method, fill(path, "", "", link_id=link), world.b)
        unknown = request(service, method, fill(path, "", ""), world.b)
        assert theirs.status_code == unknown.status_code == 404, (method, path, theirs.text)
        assert theirs.json()["error"]["message"] == unknown.json()["error"]["message"].replace(
            UNKNOWN_LINK, link
        )
        assert service.client.get("/v1/links", headers=world.a).json()["items"][0]["active"]
        checked += 1
    # B's cancel and publish changed nothing of A's.
    mine = service.client.get(f"/v1/rotas/{world.rota_id}", headers=world.a).json()
    assert mine["status"] == "done" and not mine["cancel_requested"]


def test_collections_show_only_your_own_rows(service: Service, world: World) -> None:
    client, a, b = service.client, world.a, world.b
    # GET /v1/rotas
    assert client.get("/v1/rotas", headers=b).json()["items"] == []
    assert {world.base_id, world.rota_id} <= {
        r["id"] for r in client.get("/v1/rotas?limit=200", headers=a).json()["items"]
    }
    # GET /v1/scenarios
    assert client.get("/v1/scenarios", headers=b).json()["items"] == []
    assert [s["id"] for s in client.get("/v1/scenarios", headers=a).json()["items"]] == [
        world.scenario_id
    ]
    # POST /v1/scenarios: A's rota is no base for B's scenario (nor is any rota B has not got).
    for base in (world.base_id, UNKNOWN_ROTA):
        scenario = f"name: x\nbase: {base}\nvariants: [{{name: v}}]\n"
        response = client.post("/v1/scenarios", json={"scenario": scenario}, headers=b)
        assert response.status_code == 422, response.text
        assert f"'{base}' is none of this agency's rotas" in response.json()["error"]["message"]
    # GET /v1/absences
    assert client.get("/v1/absences", headers=b).json()["items"] == []
    mine = client.get("/v1/absences", params={"worker": world.worker}, headers=b).json()
    assert mine["items"] == []
    assert world.absence_id in [
        x["id"] for x in client.get("/v1/absences", headers=a).json()["items"]
    ]
    # POST /v1/absences: B has published nothing, so A's published week is not B's to repair.
    response = client.post(
        "/v1/absences",
        json={"worker": world.worker, "start": f"{DAY2}T00:00", "end": f"{DAY2}T23:59"},
        headers=b,
    )
    assert response.status_code == 409, response.text
    assert "no published rota overlaps" in response.json()["error"]["message"]
    assert client.get("/v1/absences", headers=b).json()["items"] == []
    assert [x["id"] for x in client.get("/v1/absences", headers=a).json()["items"]] == [
        world.absence_id
    ]
    # POST /v1/rotas: a parent must be your own.
    for parent in (world.rota_id, UNKNOWN_ROTA):
        response = client.post("/v1/rotas", json={"parent": parent}, headers=b)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    # GET/PUT /v1/webhook: each agency has its own.
    assert client.get("/v1/webhook", headers=b).json() == {"url": None}
    assert client.put("/v1/webhook", json={"url": "https://b.example/h"}, headers=b).status_code
    assert client.get("/v1/webhook", headers=a).json() == {"url": "https://a.example/hook"}
    # GET /v1/cover-counts: A's re-solve counted A's workers only.
    assert client.get("/v1/cover-counts", params={"month": "2026-12"}, headers=b).json() == {}
    # GET /v1/access-log: A's reads (the world's polls, this test's) are A's alone.
    assert client.get("/v1/access-log", headers=a).json()["items"]
    assert client.get("/v1/access-log", headers=b).json()["items"] == []
    assert client.get("/v1/access-log", params={"worker": world.worker}, headers=b).json() == {
        "items": [],
        "next": None,
    }
    # GET /v1/links and POST /v1/links/revoke: B sees and revokes none of A's links.
    make_link(service, world, world.base_id, world.worker)
    assert client.get("/v1/links", headers=b).json() == {"items": [], "next": None}
    assert client.post("/v1/links/revoke", json={"all": True}, headers=b).json() == {"revoked": 0}
    assert client.get("/v1/links", params={"active": True}, headers=a).json()["items"]
    # GET /v1/workers, /v1/clients, /v1/packages: each agency lists its own records.
    for plural, ident in (("workers", world.worker), ("clients", CLIENT), ("packages", PACKAGE)):
        assert client.get(f"/v1/{plural}", headers=b).json() == {"items": [], "next": None}
        listed = client.get(f"/v1/{plural}", headers=a).json()["items"]
        assert [r["id"] for r in listed] == [ident]
    assert client.get("/v1/packages", params={"client": CLIENT}, headers=b).json()["items"] == []
    # POST /v1/packages: A's client is no client of B's, so B's package cannot be theirs.
    response = client.post("/v1/packages", json=record("packages", "p-b"), headers=b)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"] == [
        {"loc": "client", "message": f"unknown client {CLIENT!r}"}
    ]
    # POST /v1/workers and /v1/clients: B's ids are B's own, even one A uses; A's stays A's.
    mine = {**record("workers", world.worker), "name": "B's carer"}
    assert client.post("/v1/workers", json=mine, headers=b).status_code == 201
    assert client.get(f"/v1/workers/{world.worker}", headers=a).json().get("name") is None
    assert client.delete(f"/v1/workers/{world.worker}", headers=b).status_code == 200
    assert client.get(f"/v1/workers/{world.worker}", headers=a).status_code == 200
    # POST /v1/imports: a sheet is the whole list of its kind, but only of the importer's own.
    sheet = "id,name,lat,lon\nc-b,Mr Vane,53.8,-1.5\n"
    response = client.post(
        "/v1/imports", params={"filename": "clients.csv"}, content=sheet.encode(), headers=b
    )
    assert response.status_code == 200, response.text
    assert [r["id"] for r in response.json()["added"]] == ["c-b"]
    assert response.json()["removed"] == []
    assert [r["id"] for r in client.get("/v1/clients", headers=a).json()["items"]] == [CLIENT]
    # POST /v1/plans: B's week is built from B's records alone (A's package runs that week, in
    # A's area).
    response = client.post("/v1/plans", json={"week": WEEK, "area": "North"}, headers=b)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"] == "area"
    response = client.post("/v1/plans", json={"week": WEEK}, headers=b)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"] == "week"
    assert client.get("/v1/rotas", headers=b).json()["items"] == []


def make_link(service: Service, world: World, rota_id: str, worker: str) -> str:
    response = service.client.post(f"/v1/rotas/{rota_id}/workers/{worker}/links", headers=world.a)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def test_a_carer_link_opens_only_that_carers_published_runs(service: Service, world: World) -> None:
    client = service.client
    routes = client.get(f"/v1/rotas/{world.rota_id}", headers=world.a).json()["rota"]["routes"]
    others = sorted({r["worker"] for r in routes} - {world.worker})
    assert others, "the rota needs a second worker"
    # A draft: a version of the same week that was never published.
    draft = client.post(
        "/v1/rotas",
        json={"parent": world.rota_id, "options": {"method": "heuristic"}},
        headers=world.a,
    ).json()["id"]
    assert service.wait(draft, world.a)["status"] == "done"
    token = make_link(service, world, world.base_id, world.worker)
    for path in sorted(CARER_ROUTES):
        # The version it was made from, and the re-solve published over it since.
        for rota_id in (world.base_id, world.rota_id):
            mine = fill(path, rota_id, world.worker)
            assert client.get(mine, params={"token": token}).status_code == 200
            bearer = {"Authorization": f"Bearer {token}"}
            assert client.get(mine, headers=bearer).status_code == 200
        if "{rota_id}" not in path:
            other = fill(path, "", others[0])
            assert client.get(other, params={"token": token}).status_code == 404
            continue
        for url in (
            fill(path, world.base_id, others[0]),  # another carer
            fill(path, draft, world.worker),  # the same carer in a draft
            fill(path, UNKNOWN_ROTA, world.worker),
        ):
            response = client.get(url, params={"token": token})
            assert response.status_code == 404, (url, response.text)
            assert response.json()["error"]["code"] == "not_found"
    # Every agency endpoint refuses the token: it is a carer's, not the office's.
    for method, path in operations(service):
        if (method, path) in PUBLIC or path in CARER_ROUTES:
            continue
        url = fill(path, world.base_id, world.worker)
        response = request(service, method, url, {"Authorization": f"Bearer {token}"})
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["error"]["code"] == "forbidden"


def test_an_expired_carer_link_is_refused(service: Service, world: World) -> None:
    token = make_link(service, world, world.rota_id, world.worker)
    url = fill(sorted(CARER_ROUTES)[0], world.rota_id, world.worker)
    db = Database(service.settings.database_url)
    try:
        with db.write() as s:
            s.execute(
                update(CarerToken)
                .where(CarerToken.version_id == world.rota_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
    finally:
        db.dispose()
    response = service.client.get(url, params={"token": token})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
