"""Erasure: ``DELETE /v1/clients/{id}`` and ``carerota agency delete NAME --yes``.

Proved by reading every table afterwards (``Base.metadata.sorted_tables``), on both backends, so
a table added later is searched too.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, Text, func, select

from api.access_log import AccessLogWriter, Reader
from api.app import create_app
from api.db import Agency, ApiKey, Base, Database
from api.security import digest
from carerota.cli import main
from tests.api.service import Backend, HeldRunner, Service, agency_headers

CLIENT = "c0000"


def without_client(problem: dict[str, Any], client: str) -> dict[str, Any]:
    """The problem with the client, their visits and their history left out."""
    p = copy.deepcopy(problem)
    gone = {v["id"] for v in p["visits"] if v["client"] == client}
    p["clients"] = [c for c in p["clients"] if c["id"] != client]
    p["visits"] = [v for v in p["visits"] if v["id"] not in gone]
    for v in p["visits"]:
        if (v.get("after") or {}).get("visit") in gone:
            v.pop("after")
    history = p.get("history") or {}
    for kind in ("visits", "coordinator_visits"):
        history[kind] = [h for h in history.get(kind, []) if h["client"] != client]
    return p


def agency_id(db: Database, headers: dict[str, str]) -> str:
    key = headers["Authorization"].removeprefix("Bearer ")
    with db.read() as s:
        found = s.scalar(select(ApiKey.agency_id).where(ApiKey.key_hash == digest(key)))
    assert found is not None
    return found


def text_of_agency(db: Database, agency: str) -> list[str]:
    """Every string in every row of every table that belongs to ``agency``."""
    found: list[str] = []
    with db.read() as s:
        for table in Base.metadata.sorted_tables:
            owner = table.c.agency_id if "agency_id" in table.c else table.c.id
            strings = [c for c in table.c if isinstance(c.type, String | Text)]
            for row in s.execute(select(*strings).where(owner == agency)):
                found.extend(v for v in row if isinstance(v, str))
    return found


def rows_per_table(db: Database, agency: str) -> dict[str, int]:
    """How many rows of ``agency`` each table holds; every table must say whose a row is."""
    counts: dict[str, int] = {}
    with db.read() as s:
        for table in Base.metadata.sorted_tables:
            owner = table.c.agency_id if "agency_id" in table.c else None
            if table.name == Agency.__tablename__:
                owner = table.c.id
            assert owner is not None, f"{table.name} has no agency_id: erasure cannot find rows"
            counts[table.name] = (
                s.scalar(select(func.count()).select_from(table).where(owner == agency)) or 0
            )
    return counts


def test_erasing_a_client_leaves_nothing_of_them(
    service: Service, small_problem: dict[str, Any]
) -> None:
    client = service.client
    a, b = service.agency(), service.agency()
    details = next(c for c in small_problem["clients"] if c["id"] == CLIENT)
    with_them = service.wait(service.submit(a, small_problem, time_limit=2, seed=1)["id"], a)
    assert with_them["status"] == "done"
    rota1 = with_them["id"]
    assert client.post(f"/v1/rotas/{rota1}/publish", headers=a).status_code == 200
    worker = with_them["rota"]["routes"][0]["worker"]
    link = client.post(f"/v1/rotas/{rota1}/workers/{worker}/links", headers=a).json()["token"]
    # The next version leaves the client out; it is made from the first one.
    response = client.post(
        "/v1/rotas",
        json={
            "problem": without_client(small_problem, CLIENT),
            "parent": rota1,
            "options": {"time_limit": 2, "seed": 1},
        },
        headers=a,
    )
    assert response.status_code == 202, response.text
    rota2 = service.wait(response.json()["id"], a)
    assert rota2["status"] == "done" and rota2["parent"] == rota1
    # Another agency with a client of the same id keeps theirs.
    other = service.wait(service.submit(b, small_problem, time_limit=1, seed=2)["id"], b)

    # No route reads one client yet, so a read about the client is recorded as one would be.
    db = Database(service.settings.database_url)
    writer = AccessLogWriter(db, 1.0)
    writer.record(Reader(agency_id(db, a), "api_key", "key_x"), "rota", rota1, client_id=CLIENT)
    writer.flush()
    db.dispose()
    reads = len(client.get("/v1/access-log", params={"limit": 500}, headers=a).json()["items"])
    assert client.get("/v1/access-log", params={"client": CLIENT}, headers=a).json()["items"]

    response = client.delete(f"/v1/clients/{CLIENT}", headers=a)
    assert response.status_code == 200, response.text
    deleted = response.json()["deleted"]
    assert deleted["problems"] == deleted["jobs"] == deleted["rota_versions"] == 1
    assert deleted["publications"] == deleted["carer_tokens"] == 1
    assert deleted["run_sheets"] >= 1

    db = Database(service.settings.database_url)
    try:
        everything = text_of_agency(db, agency_id(db, a))
        for needle in (f'"{CLIENT}"', details["name"], details["address"], details["care_plan"]):
            assert not [t for t in everything if needle in t], needle
        assert CLIENT not in everything
    finally:
        db.dispose()
    assert client.get(f"/v1/rotas/{rota1}", headers=a).status_code == 404
    sheet = f"/v1/rotas/{rota1}/workers/{worker}/runsheet"
    assert client.get(sheet, params={"token": link}).status_code in (401, 404)
    kept = client.get(f"/v1/rotas/{rota2['id']}", headers=a).json()
    assert kept["status"] == "done" and kept["parent"] is None
    assert client.get(f"/v1/rotas/{other['id']}", headers=b).json()["status"] == other["status"]
    # The access log keeps every read, but none says any more whom it was about.
    log = client.get("/v1/access-log", params={"limit": 500}, headers=a).json()["items"]
    assert len(log) >= reads and not [e for e in log if e["client"] == CLIENT]
    # Nothing mentions them any more.
    again = client.delete(f"/v1/clients/{CLIENT}", headers=a)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"


def test_deleting_an_agency_empties_every_table_of_it(
    service: Service, small_problem: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"Leaving Care {secrets.token_hex(3)}"
    a, b = service.agency(name), service.agency()
    rota = service.wait(service.submit(a, small_problem, time_limit=2, seed=1)["id"], a)
    assert service.client.post(f"/v1/rotas/{rota['id']}/publish", headers=a).status_code == 200
    worker = rota["rota"]["routes"][0]["worker"]
    service.client.post(f"/v1/rotas/{rota['id']}/workers/{worker}/links", headers=a)
    service.client.put("/v1/webhook", json={"url": "https://leaving.example/h"}, headers=a)
    service.wait(service.submit(b, small_problem, time_limit=1, seed=2)["id"], b)
    # Its reads are in the access log (asking for the log writes this process's pending rows).
    assert service.client.get("/v1/access-log", headers=a).json()["items"]
    assert service.client.get("/v1/access-log", headers=b).json()["items"]

    db = Database(service.settings.database_url)
    try:
        mine, theirs = agency_id(db, a), agency_id(db, b)
        before = rows_per_table(db, mine)
        assert all(
            before[t] > 0 for t in ("problems", "jobs", "run_sheets", "carer_tokens", "access_log")
        )
        others = rows_per_table(db, theirs)

        url = service.settings.database_url
        assert main(["agency", "delete", name, "--yes", "--database-url", url]) == 0
        assert f"deleted agency {name!r}" in capsys.readouterr().err
        assert rows_per_table(db, mine) == dict.fromkeys(before, 0)
        assert rows_per_table(db, theirs) == others
    finally:
        db.dispose()


def test_agency_delete_needs_yes_and_no_active_solves(
    backend: Backend, capsys: pytest.CaptureFixture[str], small_problem: dict[str, Any]
) -> None:
    settings = backend.with_settings()
    url = settings.database_url
    with TestClient(create_app(settings, runner=HeldRunner())) as client:
        headers = agency_headers(settings, "Busy Care")
        response = client.post("/v1/rotas", json={"problem": small_problem}, headers=headers)
        assert response.status_code == 202  # and it stays queued: the runner holds it
    for argv, message in (
        (["agency", "delete", "Busy Care"], "this deletes 'Busy Care'"),
        (["agency", "delete", "Busy Care", "--yes"], "1 rota(s) of 'Busy Care' are queued"),
        (["agency", "delete", "Nobody", "--yes"], "no agency called 'Nobody'"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main([*argv, "--database-url", url])
        assert exit_.value.code == 2
        assert capsys.readouterr().err.startswith(f"carerota: error: {message}")
