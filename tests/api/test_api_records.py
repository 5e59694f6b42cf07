"""The agency's records through the API: ``/v1/workers``, ``/v1/clients``, ``/v1/packages``,
``/v1/imports`` and ``/v1/plans``, on both backends."""

from __future__ import annotations

import io
import json
import time
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import select

from api.db import Database, Job
from scenarios.planning import PublishedRota, visit_id, week_problem
from scenarios.records import Records
from scenarios.sample_agency import FIRST_WEEK, sample_records
from scenarios.spreadsheets import write_workbook
from solver.contract import Problem
from tests.api.service import Service

WORKER: dict[str, Any] = {
    "id": "w-amy",
    "name": "Amy Shaw",
    "home": {"lat": 53.8, "lon": -1.55},
    "skills": ["medication"],
    "availability": [{"day": "mon", "start": "07:00", "end": "14:00"}],
}
CLIENT: dict[str, Any] = {
    "id": "c-holt",
    "name": "Mrs Holt",
    "location": {"lat": 53.81, "lon": -1.55},
    "preferred_workers": ["w-amy"],
    "care_plan": "Insulin at breakfast",
}
PACKAGE: dict[str, Any] = {
    "id": "c-holt-am",
    "client": "c-holt",
    "days": ["mon", "wed"],
    "start_date": "2027-01-04",
    "earliest_start": "08:00",
    "latest_start": "09:00",
    "duration_minutes": 30,
    "skills": ["medication"],
}


def add(service: Service, headers: dict[str, str], plural: str, body: dict[str, Any]) -> Any:
    response = service.client.post(f"/v1/{plural}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["Location"].endswith(f"/v1/{plural}/{body['id']}")
    return response.json()


@pytest.mark.parametrize(
    ("plural", "body", "change"),
    [
        ("workers", WORKER, {"skills": ["hoist", "medication"]}),
        ("clients", CLIENT, {"care_plan": "Insulin at breakfast and tea"}),
        ("packages", PACKAGE, {"duration_minutes": 45}),
    ],
)
def test_each_record_is_created_read_edited_listed_and_kept_to_its_agency(
    service: Service, plural: str, body: dict[str, Any], change: dict[str, Any]
) -> None:
    a, b = service.agency(), service.agency()
    add(service, a, "workers", WORKER) if plural != "workers" else None
    add(service, a, "clients", CLIENT) if plural == "packages" else None
    created = add(service, a, plural, body)
    assert {k: created[k] for k in body} == body
    url = f"/v1/{plural}/{body['id']}"
    again = service.client.post(f"/v1/{plural}", json=body, headers=a)
    assert again.status_code == 409
    edited = service.client.put(url, json={**body, **change}, headers=a)
    assert edited.status_code == 200, edited.text
    assert service.client.get(url, headers=a).json() | change == edited.json()
    listed = service.client.get(f"/v1/{plural}", headers=a).json()
    assert [r["id"] for r in listed["items"]] == [body["id"]]
    # Another agency sees nothing of it: 404, an empty list, and no way to change it.
    assert service.client.get(url, headers=b).status_code == 404
    assert service.client.get(f"/v1/{plural}", headers=b).json()["items"] == []
    assert service.client.put(url, json=body, headers=b).status_code == 404


def test_workers_and_packages_are_deleted_and_a_client_is_erased_with_their_packages(
    service: Service,
) -> None:
    a = service.agency()
    add(service, a, "workers", WORKER)
    add(service, a, "clients", CLIENT)
    add(service, a, "packages", PACKAGE)
    add(
        service,
        a,
        "packages",
        {**PACKAGE, "id": "c-holt-pm", "earliest_start": "17:00", "latest_start": "18:00"},
    )
    assert service.client.delete("/v1/packages/c-holt-pm", headers=a).json() == {
        "id": "c-holt-pm",
        "deleted": True,
    }
    assert service.client.get("/v1/packages/c-holt-pm", headers=a).status_code == 404
    erased = service.client.delete("/v1/clients/c-holt", headers=a)
    assert erased.status_code == 200, erased.text
    assert erased.json()["deleted"]["agency_records"] == 2  # the client and their package
    assert service.client.get("/v1/clients/c-holt", headers=a).status_code == 404
    assert service.client.get("/v1/packages", headers=a).json()["items"] == []
    assert service.client.delete("/v1/workers/w-amy", headers=a).status_code == 200
    assert service.client.delete("/v1/workers/w-amy", headers=a).status_code == 404


def test_lists_are_paged_by_id(service: Service) -> None:
    a = service.agency()
    for n in range(5):
        add(service, a, "workers", {**WORKER, "id": f"w{n}"})
    seen: list[str] = []
    url: str | None = "/v1/workers?limit=2"
    while url is not None:
        page = service.client.get(url, headers=a).json()
        seen += [w["id"] for w in page["items"]]
        url = page["next"]
    assert seen == ["w0", "w1", "w2", "w3", "w4"]


@pytest.mark.parametrize(
    ("plural", "body", "loc", "message"),
    [
        (
            "workers",
            {**WORKER, "availability": [{"day": "mon", "start": "14:00", "end": "07:00"}]},
            "availability[0]",
            "ends at 07:00, not after its start 14:00",
        ),
        (
            "workers",
            {**WORKER, "max_hours_per_day": 25},
            "max_hours_per_day",
            "Input should be less than or equal to 24",
        ),
        ("packages", {**PACKAGE, "client": "c-nobody"}, "client", "unknown client 'c-nobody'"),
        (
            "packages",
            {**PACKAGE, "days": ["someday"]},
            "days[0]",
            "Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'",
        ),
        (
            "clients",
            {**CLIENT, "id": "c-new", "coordinator": "w-amy"},
            "coordinator",
            "'w-amy' is a carer, not a coordinator",
        ),
        (
            "clients",
            {**CLIENT, "id": "c-new", "excluded_workers": ["w-zed"]},
            "excluded_workers[0]",
            "unknown worker 'w-zed'",
        ),
    ],
)
def test_a_bad_record_is_a_422_naming_the_field(
    service: Service, plural: str, body: dict[str, Any], loc: str, message: str
) -> None:
    a = service.agency()
    add(service, a, "workers", WORKER)
    add(service, a, "clients", CLIENT)
    response = service.client.post(f"/v1/{plural}", json=body, headers=a)
    assert response.status_code == 422, response.text
    assert {"loc": loc, "message": message} in response.json()["error"]["details"]


# ---------------------------------------------------------------------------------------------
# Import


@pytest.fixture(scope="module")
def small_agency() -> Records:
    """The sample agency's shape at eight clients: a week solves in a couple of seconds."""
    return sample_records(clients=8, seed=3)


def workbook(records: Records) -> bytes:
    buffer = io.BytesIO()
    write_workbook(
        buffer,
        {
            "carers": records.workers,
            "clients": records.clients,
            "packages": records.packages,
            "history": records.history,
        },
    )
    return buffer.getvalue()


def upload(service: Service, headers: dict[str, str], name: str, data: bytes, **params: Any) -> Any:
    return service.client.post(
        "/v1/imports", params={"filename": name, **params}, content=data, headers=headers
    )


def counts(service: Service, headers: dict[str, str]) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        len(service.client.get(f"/v1/{p}?limit=500", headers=headers).json()["items"])
        for p in ("workers", "clients", "packages")
    )


def test_an_import_is_previewed_then_written_once(service: Service, small_agency: Records) -> None:
    a = service.agency()
    data = workbook(small_agency)
    preview = upload(service, a, "agency.xlsx", data, dry_run="true")
    assert preview.status_code == 200, preview.text
    report = preview.json()
    expected = len(small_agency.workers) + len(small_agency.clients) + len(small_agency.packages)
    assert len(report["added"]) == expected
    assert report["dry_run"] is True
    assert counts(service, a) == (0, 0, 0)  # a dry run writes nothing
    done = upload(service, a, "agency.xlsx", data).json()
    assert len(done["added"]) == expected and done["history_added"] > 0
    shape = (len(small_agency.workers), len(small_agency.clients), len(small_agency.packages))
    assert counts(service, a) == shape
    # The same file again changes nothing.
    again = upload(service, a, "agency.xlsx", data).json()
    assert (again["added"], again["changed"], again["removed"], again["history_added"]) == (
        [],
        [],
        [],
        0,
    )
    assert again["unchanged"] == expected
    # A clients file without the last client removes them and their packages.
    rows = ["id,name,lat,lon"] + [
        f"{c.id},{c.name},{c.location.lat},{c.location.lon}" for c in small_agency.clients[:-1]
    ]
    gone = small_agency.clients[-1].id
    report = upload(service, a, "clients.csv", "\n".join(rows).encode(), dry_run="true").json()
    removed = {(r["kind"], r["id"]) for r in report["removed"]}
    assert ("client", gone) in removed
    assert {("package", p.id) for p in small_agency.packages if p.client == gone} <= removed


def test_a_failed_import_names_row_and_column_and_writes_nothing(service: Service) -> None:
    a = service.agency()
    text = (
        "id,name,lat,lon,max_hours_week,mon\n"
        "w1,Amy,53.8,-1.5,40,07:00-14:00\n"
        "w2,Bob,53.8,-1.5,lots,07:00-14:00\n"
        "w3,Cal,53.8,-1.5,40,7-14\n"
    )
    response = upload(service, a, "carers.csv", text.encode())
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"loc": "carers.csv:3:max_hours_week", "message": "'lots' is not a number"},
        {"loc": "carers.csv:4:mon", "message": "'7' is not a time of day (HH:MM)"},
    ]
    assert counts(service, a) == (0, 0, 0)
    # A reference that does not hold names the row of the record that makes it.
    clients = "id,lat,lon,coordinator\nc1,53.8,-1.5,\nc2,53.8,-1.5,k9\n"
    response = upload(service, a, "clients.csv", clients.encode())
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"loc": "clients.csv:3:coordinator", "message": "c2: 'k9' is no coordinator"}
    ]
    assert counts(service, a) == (0, 0, 0)


def test_templates_download(service: Service) -> None:
    csv = service.client.get("/v1/imports/templates/carers.csv")
    assert csv.status_code == 200
    assert csv.text.startswith("id,name,role,areas,lat,lon")
    xlsx = service.client.get("/v1/imports/templates/agency.xlsx")
    assert xlsx.content[:2] == b"PK"  # a zip, as every XLSX is
    assert service.client.get("/v1/imports/templates/rota.pdf").status_code == 404


# ---------------------------------------------------------------------------------------------
# Planning


def stored(problem: dict[str, Any]) -> Any:
    """A problem as the service keeps it: validated, with the contract's defaults written out."""
    return json.loads(Problem.model_validate(problem).model_dump_json(exclude_none=True))


def published_rota(service: Service, headers: dict[str, str], rota_id: str) -> PublishedRota:
    problem = service.client.get(f"/v1/plans/{rota_id}/problem", headers=headers).json()
    rota = service.client.get(f"/v1/rotas/{rota_id}", headers=headers).json()["rota"]
    return PublishedRota("", problem, rota)


def plan(service: Service, headers: dict[str, str], week: date, **more: Any) -> dict[str, Any]:
    response = service.client.post(
        "/v1/plans",
        json={"week": week.isoformat(), "options": {"time_limit": 3, "seed": 1}, **more},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    assert response.headers["Location"].endswith(f"/v1/rotas/{response.json()['id']}")
    body = service.wait(response.json()["id"], headers)
    assert body["status"] == "done", body
    assert body["check"]["ok"], body
    return body


def test_plans_build_the_problem_from_the_records_and_history_from_published_rotas(
    service: Service, small_agency: Records
) -> None:
    a = service.agency()
    assert upload(service, a, "agency.xlsx", workbook(small_agency)).status_code == 200
    first = plan(service, a, FIRST_WEEK)
    seen = service.client.get(f"/v1/plans/{first['id']}/problem", headers=a).json()
    name = seen["agency"]
    assert seen == stored(week_problem(small_agency, FIRST_WEEK, agency=name))
    assert service.client.post(f"/v1/rotas/{first['id']}/publish", headers=a).status_code == 200
    week_two = FIRST_WEEK + timedelta(days=7)
    second = plan(service, a, week_two)
    problem = service.client.get(f"/v1/plans/{second['id']}/problem", headers=a).json()
    # Week 2's history is week 1's published rota (plus imported history still in reach).
    published = [published_rota(service, a, first["id"])]
    assert problem == stored(week_problem(small_agency, week_two, agency=name, published=published))
    rota = service.client.get(f"/v1/rotas/{first['id']}", headers=a).json()["rota"]
    worked = {
        (v["client"], w)
        for v in seen["visits"]
        for a_ in rota["assignments"]
        if a_["visit"] == v["id"]
        for w in a_["workers"]
    }
    history = {(h["client"], h["worker"]) for h in problem["history"]["visits"]}
    assert worked <= history
    # Each client's page: who came in the published weeks, and in which.
    assert service.client.post(f"/v1/rotas/{second['id']}/publish", headers=a).status_code == 200
    weeks = [FIRST_WEEK.isoformat(), week_two.isoformat()]
    came_both = 0
    for client in small_agency.clients:
        recent = service.client.get(f"/v1/clients/{client.id}/carers", headers=a).json()
        assert recent["since"] == (week_two + timedelta(days=6 - 27)).isoformat()
        came_both += sum(c["weeks"] == weeks for c in recent["carers"])
    assert came_both > 0  # week 2 kept some of week 1's faces


def test_a_plan_of_an_unknown_area_or_empty_week_is_a_422(
    service: Service, small_agency: Records
) -> None:
    a = service.agency()
    upload(service, a, "agency.xlsx", workbook(small_agency))
    response = service.client.post(
        "/v1/plans", json={"week": "2027-01-04", "area": "East"}, headers=a
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == "area"
    response = service.client.post("/v1/plans", json={"week": "2026-01-05"}, headers=a)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == "week"
    response = service.client.post("/v1/plans", json={"week": "Monday"}, headers=a)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == "week"


def test_a_plans_problem_is_the_agencys_own(service: Service, small_agency: Records) -> None:
    a, b = service.agency(), service.agency()
    upload(service, a, "agency.xlsx", workbook(small_agency))
    response = service.client.post(
        "/v1/plans", json={"week": "2027-01-04", "options": {"method": "heuristic"}}, headers=a
    )
    rota_id = response.json()["id"]
    assert service.client.get(f"/v1/plans/{rota_id}/problem", headers=b).status_code == 404
    assert json.loads(service.client.get(f"/v1/plans/{rota_id}/problem", headers=a).text)[
        "period"
    ] == {"start": "2027-01-04", "end": "2027-01-10"}
    service.wait(rota_id, a)


def test_two_areas_are_published_side_by_side_and_share_no_carer_twice(
    service: Service, small_agency: Records
) -> None:
    a = service.agency()
    upload(service, a, "agency.xlsx", workbook(small_agency))
    areas = {c.area for c in small_agency.clients}
    assert areas == {"North", "South"}
    south = plan(service, a, FIRST_WEEK, area="South")
    assert service.client.post(f"/v1/rotas/{south['id']}/publish", headers=a).status_code == 200
    north = plan(service, a, FIRST_WEEK, area="North")
    assert service.client.post(f"/v1/rotas/{north['id']}/publish", headers=a).status_code == 200
    # Publishing the North's week leaves the South's published.
    for rota in (south, north):
        assert service.client.get(f"/v1/rotas/{rota['id']}", headers=a).json()["published"]
    # Carers of both areas: the North's plan saw the South's visits as taken.
    stops: dict[str, list[tuple[str, str]]] = {}
    for rota in (south, north):
        body = service.client.get(f"/v1/rotas/{rota['id']}", headers=a).json()["rota"]
        for route in body["routes"]:
            stops.setdefault(route["worker"], []).extend(
                (s["start"], s["end"]) for s in route["stops"]
            )
    both = [w.id for w in small_agency.workers if not w.areas]
    assert any(stops.get(w) for w in both)  # someone works in both areas
    for worker, times in stops.items():
        times.sort()
        for (_, end), (start, _) in pairwise(times):
            assert end <= start, f"{worker} is in two places at {start}"
    # A second North version replaces only the North's.
    again = plan(service, a, FIRST_WEEK, area="North")
    service.client.post(f"/v1/rotas/{again['id']}/publish", headers=a)
    published = {
        r["id"]
        for r in service.client.get("/v1/rotas?limit=50", headers=a).json()["items"]
        if r["published"]
    }
    assert published == {south["id"], again["id"]}


def test_erasing_an_agency_takes_its_records_and_history(
    service: Service, small_agency: Records
) -> None:
    from sqlalchemy import func, select

    from api.db import Agency, Database
    from api.erasure import erase_agency
    from api.records import AgencyRecord, HistoryEntry

    name = f"Leaving Care {len(small_agency.clients)}"
    a = service.agency(name)
    assert upload(service, a, "agency.xlsx", workbook(small_agency)).status_code == 200
    db = Database(service.settings.database_url)
    try:
        with db.read() as s:
            agency_id = s.scalar(select(Agency.id).where(Agency.name == name))

            def rows(table: Any) -> int:
                return int(
                    s.scalar(
                        select(func.count()).select_from(table).where(table.agency_id == agency_id)
                    )
                    or 0
                )

            assert rows(AgencyRecord) > 0 and rows(HistoryEntry) > 0
        erased = erase_agency(db, name)
        assert erased.counts["agency_records"] == (
            len(small_agency.workers) + len(small_agency.clients) + len(small_agency.packages)
        )
        with db.read() as s:
            assert rows(AgencyRecord) == 0 and rows(HistoryEntry) == 0
    finally:
        db.dispose()


def test_a_recorded_absence_is_kept_out_of_the_next_weeks_plan(
    service: Service, small_agency: Records
) -> None:
    a = service.agency()
    upload(service, a, "agency.xlsx", workbook(small_agency))
    first = plan(service, a, FIRST_WEEK)
    assert service.client.post(f"/v1/rotas/{first['id']}/publish", headers=a).status_code == 200
    worker = next(w.id for w in small_agency.workers if any(x.day == "mon" for x in w.availability))
    # Off from Sunday of week 1 to the end of Monday of week 2.
    absence = service.client.post(
        "/v1/absences",
        json={"worker": worker, "start": "2027-01-10T00:00", "end": "2027-01-11T23:59"},
        headers=a,
    )
    assert absence.status_code == 202, absence.text
    for resolve in absence.json()["resolves"]:
        service.wait(resolve["id"], a)
    week_two = FIRST_WEEK + timedelta(days=7)
    second = plan(service, a, week_two)
    problem = service.client.get(f"/v1/plans/{second['id']}/problem", headers=a).json()
    shifts = next(w["shifts"] for w in problem["workers"] if w["id"] == worker)
    assert shifts and all(not s["start"].startswith("2027-01-11") for s in shifts)


def test_reads_of_client_records_are_in_the_access_log(service: Service) -> None:
    a = service.agency()
    add(service, a, "workers", WORKER)
    add(service, a, "clients", CLIENT)
    assert service.client.get("/v1/clients", headers=a).status_code == 200
    assert service.client.get("/v1/clients/c-holt", headers=a).status_code == 200
    assert service.client.get("/v1/workers/w-amy", headers=a).status_code == 200
    deadline = time.monotonic() + 10
    while True:
        items = service.client.get("/v1/access-log", headers=a).json()["items"]
        actions = sorted((i["action"], i["client"]) for i in items)
        if len(actions) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # The page of clients and the one client; a worker's record holds no health data.
    assert actions == [("client", "c-holt"), ("client_list", None)]


def test_an_import_that_removes_what_stored_records_name_is_refused(service: Service) -> None:
    a = service.agency()
    carers = "id,lat,lon\nw1,53.8,-1.5\nw2,53.8,-1.5\n"
    assert upload(service, a, "carers.csv", carers.encode()).status_code == 200
    clients = "id,lat,lon,preferred\nc1,53.8,-1.5,w2\n"
    assert upload(service, a, "clients.csv", clients.encode()).status_code == 200
    # A carers sheet without w2 would leave c1 preferring nobody known: refused, nothing changes.
    response = upload(service, a, "carers.csv", b"id,lat,lon\nw1,53.8,-1.5\n")
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {
            "loc": "the clients already stored:0:preferred",
            "message": "c1: unknown worker 'w2'; import the clients sheet too, "
            "or keep what it refers to",
        }
    ]
    assert counts(service, a) == (2, 1, 0)


def test_a_plan_starts_from_the_week_befores_published_rota(
    service: Service, small_agency: Records
) -> None:
    a = service.agency()
    assert upload(service, a, "agency.xlsx", workbook(small_agency)).status_code == 200
    first = plan(service, a, FIRST_WEEK)
    assert service.client.post(f"/v1/rotas/{first['id']}/publish", headers=a).status_code == 200
    week_two = FIRST_WEEK + timedelta(days=7)
    rolled = plan(service, a, week_two)
    afresh = plan(service, a, week_two, roll=False)

    db = Database(service.settings.database_url)
    try:
        with db.read() as s:
            starts = {
                job.id: job.start_rota
                for job in s.scalars(select(Job).where(Job.id.in_([rolled["id"], afresh["id"]])))
            }
    finally:
        db.dispose()
    assert starts[afresh["id"]] is None
    start = json.loads(starts[rolled["id"]] or "{}")
    week_one = service.client.get(f"/v1/rotas/{first['id']}", headers=a).json()["rota"]
    # The job keeps week 1's published rota, each package's visit a week on at the same time.
    assert sorted((x["visit"], x["workers"], x["start"]) for x in start["assignments"]) == sorted(
        (
            visit_id(
                x["visit"].rpartition("@")[0],
                date.fromisoformat(x["visit"].rpartition("@")[2]) + timedelta(days=7),
            ),
            x["workers"],
            (datetime.fromisoformat(x["start"]) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
        )
        for x in week_one["assignments"]
    )

    # What the start buys is measured at a fixed effort in tests/solver/test_continuity.py and
    # benchmarks/continuity.py; here the sample agency's three-second plans keep 96-98% of the
    # crews either way.
