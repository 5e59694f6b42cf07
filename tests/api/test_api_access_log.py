"""The access log of health-data reads, and health data kept out of the application's logs.

Every successful read of a rota, its explanation, change list or problem, a run sheet or a
calendar is a row of ``access_log`` (who, which agency, what, when); ``GET /v1/access-log`` lists
an agency's own, newest first. Care plans, addresses and carer link tokens never reach a log file.
"""

from __future__ import annotations

import copy
import logging
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.access_log import AccessLogWriter, Reader, logged_routes
from api.db import Agency, ApiKey, CarerToken, Database, migrate
from api.middleware import job_routes
from api.security import digest
from api.settings import Settings
from tests.api.service import Service, Solved
from tests.harness import ROOT, Server, carerota_command, settings_env

# Routes with an id that answer without health data, and why; every other route with an id must
# declare itself logged (api.access_log.logged), so a new one fails here until someone decides.
NOT_HEALTH_DATA = {
    ("GET", "/v1/rotas/{rota_id}/events"): "the summary and progress only",
    ("GET", "/v1/scenarios/{scenario_id}"): "status and the comparison's numbers",
    ("GET", "/v1/workers/{worker_id}"): "a worker's work record: hours, skills, availability",
    ("GET", "/v1/imports/templates/{name}"): "an empty sheet with an example row",
}


def key_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def id_of(db_url: str, secret: str) -> str:
    """The id of an API key or carer link, from its secret."""
    db = Database(db_url)
    try:
        with db.read() as s:
            found = s.scalar(select(ApiKey.id).where(ApiKey.key_hash == digest(secret)))
            found = found or s.scalar(
                select(CarerToken.id).where(CarerToken.token_hash == digest(secret))
            )
    finally:
        db.dispose()
    assert found is not None
    return found


def log_of(service: Service, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = service.client.get("/v1/access-log", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture(scope="module")
def read(service: Service, small_problem: dict[str, Any]) -> Solved:
    """A solved rota of an agency of its own (so its log holds only this module's reads)."""
    headers = service.agency()
    created = service.submit(headers, small_problem, time_limit=2, seed=1)
    body = service.wait(created["id"], headers)
    assert body["status"] == "done", body
    return Solved(created["id"], headers, small_problem, body)


def test_every_route_with_an_id_is_logged_or_said_to_hold_no_health_data(
    service: Service,
) -> None:
    app = service.client.app
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]  # type: ignore[attr-defined]
    # The document writes a path convertor's parameter plainly: {variant:path} is {variant}.
    logged = {re.sub(r":\w+}", "}", path) for path in logged_routes(app.routes)}  # type: ignore[attr-defined]
    for path, ops in paths.items():
        if "{" not in path or "get" not in ops:
            continue
        assert (path in logged) != (("GET", path) in NOT_HEALTH_DATA), (
            f"GET {path}: declare it logged (openapi_extra=logged(...)), or say here why it "
            "holds no health data"
        )
    # The board's routes are outside the document: every logged route is one of the app's.
    board = {path for path in logged if path.startswith("/board/")}
    assert logged - board <= set(paths)
    assert board == {
        "/board/api/rotas/{rota_id}/problem",
        "/board/api/rotas/{rota_id}/visits/{visit_id}/candidates",
    }


def test_the_job_budget_covers_every_route_that_queues_a_job(service: Service) -> None:
    # Declared by each route (openapi_extra=queues_job()) and read by the rate limiter.
    assert job_routes(service.client.app.routes) == {  # type: ignore[attr-defined]
        "/v1/rotas",
        "/v1/absences",
        "/v1/scenarios",
    }


def test_each_read_of_health_data_is_one_entry(service: Service, read: Solved) -> None:
    client, a = service.client, read.headers
    rota = read.rota_id
    worker = read.body["rota"]["routes"][0]["worker"]
    sheet = f"/v1/rotas/{rota}/workers/{worker}"
    link = client.post(f"{sheet}/links", headers=a).json()["token"]
    # A version made from it, so it has a change list (heuristic: no search, quick).
    child = client.post(
        "/v1/rotas", json={"parent": rota, "options": {"method": "heuristic"}}, headers=a
    ).json()["id"]
    service.wait(child, a)
    started = log_of(service, a)

    url = service.settings.database_url
    key, carer = ("api_key", id_of(url, key_of(a))), ("carer_link", id_of(url, link))
    reads = [  # url, credential, who that is, and the entry's action, rota and worker
        (f"/v1/rotas/{rota}", a, key, "rota", rota, None),
        (f"/v1/rotas/{rota}/explain", a, key, "explanation", rota, None),
        (f"/v1/rotas/{child}/changes", a, key, "changes", child, None),
        (f"/board/api/rotas/{rota}/problem", a, key, "problem", rota, None),
        (f"{sheet}/runsheet", a, key, "runsheet", rota, worker),
        (f"{sheet}/runsheet?format=html", a, key, "runsheet", rota, worker),
        (f"{sheet}/calendar.ics", a, key, "calendar", rota, worker),
        (f"{sheet}/runsheet?token={link}", {}, carer, "runsheet", rota, worker),
        (
            f"{sheet}/calendar.ics",
            {"Authorization": f"Bearer {link}"},
            carer,
            "calendar",
            rota,
            worker,
        ),
    ]
    for path, headers, *_ in reads:
        assert client.get(path, headers=headers).status_code == 200, path
    # Reads that fail, or that hold no health data, are not entries.
    assert client.get("/v1/rotas/rota_000000000000000000000000", headers=a).status_code == 404
    assert client.get(f"{sheet}/runsheet").status_code == 401
    assert client.get(f"/v1/rotas/{rota}/events", headers=a).status_code == 200
    assert client.get("/v1/rotas", headers=a).status_code == 200

    entries = log_of(service, a, limit=500)
    new = entries[: len(entries) - len(started)]
    assert entries[len(new) :] == started
    expected = [(*who, action, version, about) for _, _, who, action, version, about in reads]
    got = [(e["actor"], e["actor_id"], e["action"], e["rota"], e["worker"]) for e in new]
    assert got == expected[::-1]  # newest first
    assert all(e["client"] is None for e in new)
    stamps = [datetime.fromisoformat(e["at"]) for e in new]
    assert stamps == sorted(stamps, reverse=True)
    assert all(abs(datetime.now(UTC) - t) < timedelta(minutes=5) for t in stamps)


def test_the_log_filters_and_pages_and_shows_only_the_agencys_own(
    service: Service, read: Solved
) -> None:
    client, a = service.client, read.headers
    worker = read.body["rota"]["routes"][0]["worker"]
    other = next(r["worker"] for r in read.body["rota"]["routes"] if r["worker"] != worker)
    before = datetime.now(UTC)
    for who in (worker, other, worker):
        sheet = f"/v1/rotas/{read.rota_id}/workers/{who}/runsheet"
        assert client.get(sheet, headers=a).status_code == 200
    assert client.get(f"/v1/rotas/{read.rota_id}", headers=a).status_code == 200

    since = before.isoformat()
    recent = log_of(service, a, since=since)
    assert [e["action"] for e in recent] == ["rota", "runsheet", "runsheet", "runsheet"]
    mine = log_of(service, a, since=since, worker=worker)
    assert [(e["action"], e["worker"]) for e in mine] == [("runsheet", worker)] * 2
    assert [e["action"] for e in log_of(service, a, since=since, action="rota")] == ["rota"]
    assert log_of(service, a, until=before.isoformat(), since=since) == []
    assert log_of(service, a, since=since, client="c0000") == []
    # Pages of two, following next, give the same entries in the same order.
    pages: list[dict[str, Any]] = []
    url: str | None = f"/v1/access-log?limit=2&since={since.replace('+', '%2B')}"
    while url is not None:
        body = client.get(url, headers=a).json()
        pages += body["items"]
        url = body["next"]
    assert pages == recent
    # Another agency sees none of it, and no way in to it.
    b = service.agency()
    assert log_of(service, b) == []
    assert log_of(service, b, worker=worker) == []
    bad = client.get("/v1/access-log", params={"since": "2026-11-24T09:00:00"}, headers=a)
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == "since"
    bad = client.get("/v1/access-log", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=a)
    assert bad.status_code == 422


def test_reads_of_an_agency_deleted_before_they_were_written_are_dropped(
    service: Service,
) -> None:
    headers = service.agency()
    db = Database(service.settings.database_url)
    try:
        with db.read() as s:
            mine = s.scalar(
                select(ApiKey.agency_id).where(ApiKey.key_hash == digest(key_of(headers)))
            )
        assert mine is not None
        writer = AccessLogWriter(db, 60.0)
        writer.record(Reader("agency_deleted_meanwhile", "api_key", "key_x"), "rota", "rota_1")
        writer.record(Reader(mine, "api_key", "key_y"), "rota", "rota_2")
        writer.flush()  # the first row breaks the agency foreign key: written again without it
        writer.flush()  # and nothing is left over to retry
    finally:
        db.dispose()
    assert [(e["actor_id"], e["rota"]) for e in log_of(service, headers)] == [("key_y", "rota_2")]


# ---------------------------------------------------------------------------------------------
# Nothing secret in the logs


def distinctive(problem: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The problem with a care plan and an address found nowhere else, and those strings."""
    marked = copy.deepcopy(problem)
    care_plan = f"CAREPLAN-{secrets.token_hex(6)} insulin at lunch"
    address = f"{secrets.token_hex(3)} Marker Street"
    marked["clients"][0]["care_plan"] = care_plan
    marked["clients"][0]["address"] = address
    return marked, [care_plan.split()[0], address]


def read_everything(
    get: Any, headers: dict[str, str], rota: dict[str, Any], token: str | None = None
) -> None:
    """Every read of the rota's health data, so each has its chance to log something."""
    rota_id = rota["id"]
    for url in (
        f"/v1/rotas/{rota_id}",
        f"/v1/rotas/{rota_id}/explain",
        f"/board/api/rotas/{rota_id}/problem",
    ):
        assert get(url, headers=headers).status_code == 200
    for route in rota["rota"]["routes"]:
        sheet = f"/v1/rotas/{rota_id}/workers/{route['worker']}"
        for suffix in ("runsheet", "runsheet?format=html", "calendar.ics"):
            assert get(f"{sheet}/{suffix}", headers=headers).status_code == 200
    if token is not None:
        worker = rota["rota"]["routes"][0]["worker"]
        sheet = f"/v1/rotas/{rota_id}/workers/{worker}"
        for suffix in ("runsheet", "runsheet?format=html", "calendar.ics"):
            joiner = "&" if "?" in suffix else "?"
            assert get(f"{sheet}/{suffix}{joiner}token={token}").status_code == 200


def test_care_plans_never_reach_the_application_logs(
    service: Service, small_problem: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, at its most talkative
    problem, needles = distinctive(small_problem)
    headers = service.agency()
    rota = service.wait(service.submit(headers, problem, time_limit=1, seed=1)["id"], headers)
    assert rota["status"] == "done"
    worker = rota["rota"]["routes"][0]["worker"]
    token = service.client.post(
        f"/v1/rotas/{rota['id']}/workers/{worker}/links", headers=headers
    ).json()["token"]
    read_everything(service.client.get, headers, rota, token)
    # The test's HTTP client logs its own requests; everything else is the service's. The
    # solve's own process (a Celery worker) logs to its file.
    logged = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    if service.backend.worker is not None:
        logged += service.backend.worker.log.read_text(errors="replace")
    assert caplog.records, "nothing was captured: the test would prove nothing"
    for needle in [*needles, token, key_of(headers)]:
        assert needle not in logged


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    """The server and its solve process logging everything they would ever log (DEBUG)."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/served.db",
        local_workers=1,
        solver_threads=1,
        log_level="debug",
    )
    server = Server(settings_env(settings), tmp_path / "serve.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_web_servers_log_has_paths_but_no_tokens_nor_care_plans(
    served: Server, small_problem: dict[str, Any]
) -> None:
    env = served.env
    name = f"Logged Care {secrets.token_hex(3)}"
    key = (
        subprocess.run(
            carerota_command("agency", "create", name),
            env=env,
            capture_output=True,
            check=True,
            cwd=ROOT,
        )
        .stdout.decode()
        .strip()
    )
    headers = {"Authorization": f"Bearer {key}"}
    problem, needles = distinctive(small_problem)
    with httpx.Client(base_url=served.url, timeout=30) as client:
        rota_id = client.post(
            "/v1/rotas", json={"problem": problem, "options": {"time_limit": 1}}, headers=headers
        ).json()["id"]
        deadline = time.monotonic() + 90
        while (rota := client.get(f"/v1/rotas/{rota_id}", headers=headers).json())[
            "status"
        ] != "done":
            assert time.monotonic() < deadline, rota
            time.sleep(0.2)
        worker = rota["rota"]["routes"][0]["worker"]
        token = client.post(f"/v1/rotas/{rota_id}/workers/{worker}/links", headers=headers).json()[
            "token"
        ]
        read_everything(client.get, headers, rota, token)
    served.stop()  # and so the last access log batch is written

    logged = served.log.read_text(errors="replace")
    sheet = f"/v1/rotas/{rota_id}/workers/{worker}/runsheet"
    # uvicorn logged each request's path (so the check below looks at real access lines)...
    assert re.search(rf'"GET {re.escape(sheet)}\?token=\[redacted\] HTTP/1.1" 200', logged)
    # ...and neither the token nor the key nor the client's details.
    for needle in [*needles, token, key]:
        assert needle not in logged

    # The access log, from the command line: the link's reads and the key's, newest first.
    printed = subprocess.run(
        carerota_command("agency", "access-log", name, "--since", "2000-01-01"),
        env=env,
        capture_output=True,
        check=True,
        cwd=ROOT,
    ).stdout.decode()
    lines = [line.split("\t") for line in printed.splitlines()]
    assert lines and all(len(line) == 6 for line in lines)
    assert [line[3] for line in lines[:3]] == ["calendar", "runsheet", "runsheet"]
    assert {line[1] for line in lines[:3]} == {"carer_link"}
    key_id = id_of(served.env["DATABASE_URL"], key)
    assert lines[-1][1:5] == ["api_key", key_id, "rota", rota_id]  # the first poll


def test_a_failed_statement_does_not_carry_its_values_into_the_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/hide.db"
    migrate(url)
    db = Database(url)
    secret = "Mrs Jones: insulin at 08:00, key safe 4471"
    try:
        with db.write() as s:
            s.add(Agency(id="ag_1", name=secret))
        with pytest.raises(IntegrityError) as caught, db.write() as s:
            s.add(Agency(id="ag_2", name=secret))  # the name is unique
        assert secret not in str(caught.value)
        assert "hidden due to hide_parameters" in str(caught.value)
    finally:
        db.dispose()
