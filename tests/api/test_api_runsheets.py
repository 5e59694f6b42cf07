"""Run sheets (JSON and printable HTML), calendars (parsed back with icalendar), carer links."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from tests.api.service import Service, Solved


def busiest_worker(rota: dict[str, Any]) -> str:
    """The worker with the most stops (tests want a full run sheet)."""
    stops = Counter()
    for route in rota["routes"]:
        stops[route["worker"]] += len(route["stops"])
    return stops.most_common(1)[0][0]


def double_up_worker(solved: Solved) -> tuple[str, str, list[str]]:
    """(worker, visit, the visit's crew) for a staffed double-up."""
    two = {v["id"] for v in solved.problem["visits"] if v.get("workers_required", 1) == 2}
    for a in solved.body["rota"]["assignments"]:
        if a["visit"] in two:
            return a["workers"][0], a["visit"], a["workers"]
    pytest.fail("the solved rota staffs no double-up")


def sheet_url(solved: Solved, worker: str, what: str = "runsheet") -> str:
    return f"/v1/rotas/{solved.rota_id}/workers/{worker}/{what}"


def test_run_sheet_lists_each_visit_in_order(service: Service, solved: Solved) -> None:
    worker = busiest_worker(solved.body["rota"])
    response = service.client.get(sheet_url(solved, worker), headers=solved.headers)
    assert response.status_code == 200
    sheet = response.json()
    assert sheet["rota"] == solved.rota_id
    assert sheet["worker"]["id"] == worker
    assert sheet["timezone"] == solved.problem["timezone"]
    routes = [r for r in solved.body["rota"]["routes"] if r["worker"] == worker]
    assert [d["date"] for d in sheet["days"]] == sorted(r["date"] for r in routes)
    assert sheet["totals"]["visits"] == sum(len(r["stops"]) for r in routes)
    clients = {c["id"]: c for c in solved.problem["clients"]}
    for day in sheet["days"]:
        starts = [s["start"] for s in day["stops"]]
        assert starts == sorted(starts)
        for stop in day["stops"]:
            assert stop["start"].startswith(day["date"])
            assert stop["end"] > stop["start"]
            assert stop["travel_minutes_before"] >= 0
            client = clients[stop["client"]["id"]]
            assert stop["client"]["care_plan"] == client.get("care_plan")
            assert stop["client"]["address"]


def test_run_sheet_names_the_other_carer_on_a_double_up(service: Service, solved: Solved) -> None:
    worker, visit, crew = double_up_worker(solved)
    sheet = service.client.get(sheet_url(solved, worker), headers=solved.headers).json()
    stop = next(s for d in sheet["days"] for s in d["stops"] if s["visit"] == visit)
    assert stop["double_up"] is True
    assert {p["id"] for p in stop["with"]} >= set(crew) - {worker}


def test_run_sheet_prints_as_html(service: Service, solved: Solved) -> None:
    worker = busiest_worker(solved.body["rota"])
    by_query = service.client.get(
        sheet_url(solved, worker) + "?format=html", headers=solved.headers
    )
    by_accept = service.client.get(
        sheet_url(solved, worker), headers={**solved.headers, "Accept": "text/html"}
    )
    for response in (by_query, by_accept):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        page = response.text
        assert page.startswith("<!doctype html>")
        assert "@media print" in page
    sheet = service.client.get(sheet_url(solved, worker), headers=solved.headers).json()
    first = sheet["days"][0]["stops"][0]
    assert first["start"][11:16] in by_query.text


def test_calendar_parses_back_with_one_event_per_visit(service: Service, solved: Solved) -> None:
    worker = busiest_worker(solved.body["rota"])
    response = service.client.get(sheet_url(solved, worker, "calendar.ics"), headers=solved.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    sheet = service.client.get(sheet_url(solved, worker), headers=solved.headers).json()
    stops = [s for d in sheet["days"] for s in d["stops"]]
    assert len(events) == len(stops) > 0
    zone = ZoneInfo(solved.problem["timezone"])
    by_start = sorted(events, key=lambda e: e.start)
    for event, stop in zip(by_start, stops, strict=True):
        assert event.start == datetime.fromisoformat(stop["start"]).replace(tzinfo=zone)
        assert event.end == datetime.fromisoformat(stop["end"]).replace(tzinfo=zone)
        assert str(event["LOCATION"]) == stop["client"]["address"]
    assert len({str(e["UID"]) for e in events}) == len(events)
    assert [tz.tz_name for tz in calendar.timezones] == [solved.problem["timezone"]]


def test_unknown_worker_is_404(service: Service, solved: Solved) -> None:
    response = service.client.get(sheet_url(solved, "w-nobody"), headers=solved.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_carer_link_opens_that_carers_run_and_nothing_else(
    service: Service, solved: Solved, small_problem: dict[str, Any]
) -> None:
    worker = busiest_worker(solved.body["rota"])
    other = next(w["id"] for w in solved.problem["workers"] if w["id"] != worker)
    response = service.client.post(sheet_url(solved, worker, "links"), headers=solved.headers)
    assert response.status_code == 201
    link = response.json()
    token = link["token"]
    assert token.startswith("crc_")
    carer = {"Authorization": f"Bearer {token}"}

    # Its own run sheet, page and calendar: by the link's URLs (token in the query) or header.
    for url in (link["runsheet_url"], link["runsheet_html_url"], link["calendar_url"]):
        assert service.client.get(url).status_code == 200
    assert service.client.get(sheet_url(solved, worker), headers=carer).status_code == 200

    # Another carer's run in the same rota, and the same carer in another rota: not there.
    assert service.client.get(sheet_url(solved, other), headers=carer).status_code == 404
    assert (
        service.client.get(f"{sheet_url(solved, other, 'calendar.ics')}?token={token}").status_code
        == 404
    )
    second = service.wait(
        service.submit(solved.headers, small_problem, method="heuristic")["id"], solved.headers
    )
    elsewhere = f"/v1/rotas/{second['id']}/workers/{worker}/runsheet"
    assert service.client.get(elsewhere, headers=carer).status_code == 404

    # Nothing else of the agency opens with it.
    for method, url in (
        ("GET", "/v1/rotas"),
        ("GET", f"/v1/rotas/{solved.rota_id}"),
        ("GET", f"/v1/rotas/{solved.rota_id}/explain"),
        ("POST", f"/v1/rotas/{solved.rota_id}/publish"),
        ("DELETE", f"/v1/rotas/{solved.rota_id}"),
        ("POST", sheet_url(solved, worker, "links")),
    ):
        response = service.client.request(method, url, headers=carer)
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["error"]["code"] == "forbidden"

    # A made-up token opens nothing.
    fake = {"Authorization": "Bearer crc_" + "x" * 43}
    assert service.client.get(sheet_url(solved, worker), headers=fake).status_code == 401
