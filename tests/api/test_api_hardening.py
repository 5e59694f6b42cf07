"""What issue 18's probe found beyond the body limits: pages without security headers, agency
keys accepted in URLs, one agency filling the shared queue, and credentials outliving their
revocation. Each test fails on the service as the probe found it (commit b6a06e1).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from api.db import Database, StoredProblem
from api.erasure import erase_agency
from api.revocation import announce
from api.settings import Settings
from api.store import create_agency, issue_key, revoke_keys
from tests.api.service import HeldRunner, Service, Solved, agency_headers, wait_ready
from tests.harness import REDIS_URL, reachable, unavailable

SCENARIO = "name: probe\nbase: small\nvariants:\n  - name: one\n    changes: []\n"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sheet_url(solved: Solved, what: str = "runsheet") -> str:
    worker = solved.body["rota"]["routes"][0]["worker"]
    return f"/v1/rotas/{solved.rota_id}/workers/{worker}/{what}"


def test_every_html_page_has_a_content_security_policy_and_nosniff(
    service: Service, solved: Solved
) -> None:
    sheet = service.client.get(f"{sheet_url(solved)}?format=html", headers=solved.headers)
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/html")
    assert sheet.headers["x-content-type-options"] == "nosniff"
    policy = sheet.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy  # no script at all
    assert "frame-ancestors 'none'" in policy
    for page in ("/docs", "/redoc", "/board/"):
        response = service.client.get(page)
        assert response.status_code == 200, page
        assert response.headers["x-content-type-options"] == "nosniff", page
        assert "default-src 'none'" in response.headers["content-security-policy"], page


def test_json_answers_are_nosniff_too(service: Service, solved: Solved) -> None:
    for response in (
        service.client.get(f"/v1/rotas/{solved.rota_id}", headers=solved.headers),
        service.client.get("/v1/rotas"),  # a 401, written by the error handler
    ):
        assert response.headers["x-content-type-options"] == "nosniff"


def test_an_agency_key_in_the_url_is_refused_even_where_carer_links_may_be(
    service: Service, solved: Solved
) -> None:
    key = solved.headers["Authorization"].removeprefix("Bearer ")
    for what in ("runsheet", "runsheet?format=html", "calendar.ics"):
        joiner = "&" if "?" in what else "?"
        response = service.client.get(f"{sheet_url(solved, what)}{joiner}token={key}")
        assert response.status_code == 401, (what, response.text)
        assert "Authorization" in response.json()["error"]["message"]
    # The same key in the header still reads it, and a carer's link still works in the URL.
    assert service.client.get(sheet_url(solved), headers=solved.headers).status_code == 200
    link: dict[str, Any] = service.client.post(
        sheet_url(solved, "links"), headers=solved.headers
    ).json()
    assert service.client.get(link["calendar_url"]).status_code == 200


def test_one_agency_flooding_the_queue_leaves_room_for_another(
    tmp_path: Path, busy_problem: dict[str, Any]
) -> None:
    # Before, one agency filled the whole queue within its rate limit and every other agency
    # was told to come back in 600 s.
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/queue.db",
        local_workers=1,
        solver_threads=1,
        heartbeat_interval=0.5,
        reaper_interval=1.0,
        max_queued_jobs=6,
        max_queued_jobs_per_agency=2,
    )
    request = {"problem": busy_problem, "options": {"time_limit": 3, "seed": 1}}
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        flooder, other = agency_headers(settings), agency_headers(settings)
        answers = [client.post("/v1/rotas", json=request, headers=flooder) for _ in range(8)]
        taken = [a for a in answers if a.status_code == 202]
        refused = [a for a in answers if a.status_code == 429]
        # One solving and its two queued, or (if the first was not claimed yet) its two queued.
        assert 2 <= len(taken) <= 3 and len(taken) + len(refused) == 8, [a.text for a in answers]
        error = refused[0].json()["error"]
        assert error["code"] == "queue_full" and "this agency" in error["message"]
        # Honest: the agency's next place frees when its first queued job starts, which is when
        # the running 3 s solve ends (or sooner), not in ten minutes.
        assert 1 <= int(refused[0].headers["retry-after"]) <= 4
        # A scenario is a job too, counted in the same share.
        scenario = client.post(
            "/v1/scenarios",
            content=SCENARIO,
            headers={**flooder, "Content-Type": "application/yaml"},
        )
        assert scenario.status_code == 429, scenario.text
        # The other agency is let in, and gets its rota.
        created = client.post("/v1/rotas", json=request, headers=other)
        assert created.status_code == 202, created.text
        deadline = time.monotonic() + 60
        while (body := client.get(created.json()["url"], headers=other).json())["status"] not in (
            "done",
            "failed",
        ):
            assert time.monotonic() < deadline, body
            time.sleep(0.2)
        assert body["status"] == "done" and body["check"]["ok"], body
        # An absence's re-solve is a job too: with its share full, the absence is refused
        # (before, it was taken whatever the queue held) and nothing of it is stored.
        assert client.post(f"{created.json()['url']}/publish", headers=other).status_code == 200
        for _ in range(3):  # one solving, two waiting: the share is full
            assert client.post("/v1/rotas", json=request, headers=other).status_code == 202
        worker = body["rota"]["routes"][0]["worker"]
        absence = {
            "worker": worker,
            "start": "2026-12-01T00:00",
            "end": "2026-12-01T23:59",
            "now": "2026-12-01T06:10",
        }
        refused_absence = client.post("/v1/absences", json=absence, headers=other)
        assert refused_absence.status_code == 429, refused_absence.text
        assert client.get("/v1/absences", headers=other).json()["items"] == []


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[list[TestClient], Database]]:
    """Two API processes (in process) on one database, as behind a load balancer, and the
    database as the command line sees it."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/revoke.db")
    db = Database(settings.database_url)
    with ExitStack() as stack:
        clients = [
            stack.enter_context(TestClient(create_app(settings, runner=HeldRunner())))
            for _ in range(2)
        ]
        yield clients, db
    db.dispose()


def statuses_until(
    clients: list[TestClient], send: Callable[[TestClient], httpx.Response], want: int
) -> list[int]:
    """Every status the processes answer until both answer ``want`` (2 s at most)."""
    seen = []
    deadline = time.monotonic() + 2.0
    while True:
        got = [send(client).status_code for client in clients]
        seen.extend(got)
        if all(status == want for status in got):
            return seen
        assert time.monotonic() < deadline, f"still {got} after 2 s"
        time.sleep(0.05)


def test_a_revoked_key_stops_working_on_every_process_at_once(
    two_processes: tuple[list[TestClient], Database],
) -> None:
    # Before, each process trusted a key it had seen for 30 s after its revocation.
    clients, db = two_processes
    _, old = create_agency(db, "Revoked Homecare")
    new = issue_key(db, "Revoked Homecare")
    for client in clients:
        assert client.get("/v1/rotas", headers=bearer(old)).status_code == 200  # now cached
    revoke_keys(db, "Revoked Homecare", keep_newest=True)
    began = time.monotonic()
    statuses_until(clients, lambda c: c.get("/v1/rotas", headers=bearer(old)), 401)
    assert time.monotonic() - began < 1.5
    for client in clients:
        assert client.get("/v1/rotas", headers=bearer(new)).status_code == 200


def test_a_deleted_agencys_requests_are_refused_never_a_500(
    two_processes: tuple[list[TestClient], Database], small_problem: dict[str, Any]
) -> None:
    # Before, a deleted agency's cached key worked for 30 s, and its submissions were 500
    # (a foreign key error) until then.
    clients, db = two_processes
    _, key = create_agency(db, "Deleted Homecare")
    request = {"problem": small_problem, "options": {"time_limit": 1}}
    for client in clients:
        assert client.get("/v1/rotas", headers=bearer(key)).status_code == 200  # now cached
    erase_agency(db, "Deleted Homecare")
    seen = statuses_until(
        clients, lambda c: c.post("/v1/rotas", json=request, headers=bearer(key)), 401
    )
    assert set(seen) <= {401, 409}, seen
    for client in clients:
        assert client.get("/v1/rotas", headers=bearer(key)).status_code == 401


def test_a_job_that_fails_inside_says_so_in_plain_words(
    tmp_path: Path, small_problem: dict[str, Any]
) -> None:
    # Before, a job failing inside showed the exception's own text (a C++ binding's message
    # for a weight of 1e308; here a pydantic ValidationError) to the coordinator.
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/inside.db",
        local_workers=1,
        solver_threads=1,
        heartbeat_interval=0.5,
        reaper_interval=1.0,
    )
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        headers = agency_headers(settings)
        first = client.post(
            "/v1/rotas",
            json={"problem": small_problem, "options": {"method": "heuristic", "time_limit": 2}},
            headers=headers,
        ).json()
        assert wait_final(client, first["url"], headers)["status"] == "done"
        # Its stored problem no longer reads (as a problem stored by an older contract might).
        db = Database(settings.database_url)
        try:
            with db.write() as s:
                s.execute(update(StoredProblem).values(body='{"schema_version": 1}'))
        finally:
            db.dispose()
        again = client.post("/v1/rotas", json={"parent": first["id"]}, headers=headers)
        assert again.status_code == 202, again.text
        failed = wait_final(client, again.json()["url"], headers)
        assert failed["status"] == "failed", failed
        error = failed["error"]
        assert "an internal error stopped it (reference " in error, error
        assert "ValidationError" not in error and "schema_version" not in error, error


def wait_final(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while (body := client.get(url, headers=headers).json())["status"] not in (
        "done",
        "failed",
        "cancelled",
    ):
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    result: dict[str, Any] = body
    return result


def test_a_carer_link_revoked_through_one_process_is_refused_by_the_others(
    tmp_path: Path, small_problem: dict[str, Any]
) -> None:
    # Before, another API process accepted a revoked link for its cache's 30 s.
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/links.db",
        local_workers=1,
        solver_threads=1,
        heartbeat_interval=0.5,
        reaper_interval=1.0,
    )
    with ExitStack() as stack:
        solving = stack.enter_context(TestClient(create_app(settings)))
        other = stack.enter_context(TestClient(create_app(settings, runner=HeldRunner())))
        wait_ready(solving)
        headers = agency_headers(settings)
        created = solving.post(
            "/v1/rotas",
            json={"problem": small_problem, "options": {"method": "heuristic", "time_limit": 2}},
            headers=headers,
        ).json()
        done = wait_final(solving, created["url"], headers)
        assert done["status"] == "done", done
        published = solving.post(f"/v1/rotas/{created['id']}/publish", headers=headers)
        assert published.status_code == 200, published.text
        worker = done["rota"]["routes"][0]["worker"]
        link = solving.post(f"/v1/workers/{worker}/links", headers=headers)
        assert link.status_code == 201, link.text
        calendar = link.json()["calendar_url"]
        for client in (solving, other):
            assert client.get(calendar).status_code == 200  # now cached by both
        revoked = solving.delete(f"/v1/links/{link.json()['id']}", headers=headers)
        assert revoked.status_code == 204, revoked.text
        assert solving.get(calendar).status_code == 401
        began = time.monotonic()
        statuses_until([other], lambda c: c.get(calendar), 401)
        assert time.monotonic() - began < 1.5


def test_an_announced_revocation_empties_every_process_at_once(tmp_path: Path) -> None:
    # Production (a Redis broker): the command that revokes announces it, and the processes
    # do not even wait for their next check (here a minute away).
    if not reachable(REDIS_URL, 6379):
        unavailable(f"Redis is not reachable at {REDIS_URL}")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/announced.db",
        broker_url=f"{REDIS_URL.rstrip('/')}/{1 + secrets.randbelow(15)}",
        credential_check_interval=60.0,
    )
    db = Database(settings.database_url)
    with ExitStack() as stack:
        clients = [
            stack.enter_context(TestClient(create_app(settings, runner=HeldRunner())))
            for _ in range(2)
        ]
        _, key = create_agency(db, "Announced Homecare")
        for client in clients:
            assert client.get("/v1/rotas", headers=bearer(key)).status_code == 200  # cached
        time.sleep(0.2)  # both are listening by now
        revoke_keys(db, "Announced Homecare", keep_newest=False)
        announce(settings)
        began = time.monotonic()
        statuses_until(clients, lambda c: c.get("/v1/rotas", headers=bearer(key)), 401)
        assert time.monotonic() - began < 0.5
    db.dispose()
