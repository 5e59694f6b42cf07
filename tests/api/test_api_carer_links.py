"""A carer's link and calendar follow the published rota, and the office can revoke links.

The calendar is tested as a phone holds a subscription: each fetch replaces what it holds by
UID (a higher SEQUENCE wins, an event missing from the feed goes) and a cancelled event is taken
off the phone. After re-solves and a re-publication, what the phone holds must be exactly the
carer's visits in the rota published now.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from carerota.cli import main
from tests.api.service import Service

DAY2, DAY3 = "2026-12-01", "2026-12-02"


class Phone:
    """A phone calendar subscribed to one feed."""

    def __init__(self) -> None:
        self.events: dict[str, tuple[int, Any]] = {}

    def refresh(self, ics: bytes) -> Calendar:
        calendar = Calendar.from_ical(ics)
        fetched: dict[str, tuple[int, Any]] = {}
        for event in calendar.events:
            uid, sequence = str(event["UID"]), int(event.get("SEQUENCE", 0))
            held = self.events.get(uid)
            fetched[uid] = held if held is not None and held[0] > sequence else (sequence, event)
        self.events = {
            uid: item for uid, item in fetched.items() if str(item[1]["STATUS"]) != "CANCELLED"
        }
        return calendar

    def visits(self) -> set[tuple[datetime, datetime, str]]:
        return {(e.start, e.end, str(e["LOCATION"])) for _, e in self.events.values()}


def published_visits(
    service: Service, headers: dict[str, str], rota_id: str, worker: str, zone: ZoneInfo
) -> set[tuple[datetime, datetime, str]]:
    """The worker's visits in a version, as (start, end, address)."""
    sheet = service.client.get(f"/v1/rotas/{rota_id}/workers/{worker}/runsheet", headers=headers)
    return {
        (
            datetime.fromisoformat(s["start"]).replace(tzinfo=zone),
            datetime.fromisoformat(s["end"]).replace(tzinfo=zone),
            s["client"]["address"],
        )
        for day in sheet.json()["days"]
        for s in day["stops"]
    }


def absence(service: Service, headers: dict[str, str], worker: str, day: str) -> str:
    """Record a day's absence and wait for its re-solve (which publishes itself)."""
    response = service.client.post(
        "/v1/absences",
        json={
            "worker": worker,
            "start": f"{day}T00:00",
            "end": f"{day}T23:59",
            "now": f"{DAY2}T06:10",
            "time_limit": 2,
        },
        headers=headers,
    )
    assert response.status_code == 202, response.text
    [job] = response.json()["resolves"]
    done = service.wait(job["id"], headers)
    assert done["status"] == "done" and done["published"], done
    rota_id: str = job["id"]
    return rota_id


@pytest.fixture(scope="module")
def week(service: Service, small_problem: dict[str, Any]) -> tuple[dict[str, str], str, str]:
    """An agency with a published rota: (headers, the rota, its busiest worker on day 2)."""
    headers = service.agency()
    created = service.submit(headers, small_problem, time_limit=2, seed=1)
    body = service.wait(created["id"], headers)
    assert body["status"] == "done", body
    day2 = [r for r in body["rota"]["routes"] if r["date"] == DAY2 and r["stops"]]
    worker = max(day2, key=lambda r: len(r["stops"]))["worker"]
    response = service.client.post(f"/v1/rotas/{created['id']}/publish", headers=headers)
    assert response.status_code == 200
    return headers, created["id"], worker


def test_a_phone_calendar_holds_exactly_the_published_visits_after_resolves(
    service: Service, week: tuple[dict[str, str], str, str], small_problem: dict[str, Any]
) -> None:
    headers, base, worker = week
    zone = ZoneInfo(small_problem["timezone"])
    link = service.client.post(f"/v1/workers/{worker}/links", headers=headers).json()
    phone = Phone()
    phone.refresh(service.client.get(link["calendar_url"]).content)
    assert phone.visits() == published_visits(service, headers, base, worker, zone)
    before = set(phone.events)

    # Two absences of the worker (each re-solve publishes itself), then the office publishes
    # the first rota again.
    first = absence(service, headers, worker, DAY2)
    phone.refresh(service.client.get(link["calendar_url"]).content)
    assert phone.visits() == published_visits(service, headers, first, worker, zone)
    assert not any(start.date().isoformat() == DAY2 for start, _, _ in phone.visits())
    second = absence(service, headers, worker, DAY3)
    assert service.client.post(f"/v1/rotas/{second}/publish", headers=headers).status_code == 200
    calendar = phone.refresh(service.client.get(link["calendar_url"]).content)
    now = published_visits(service, headers, second, worker, zone)
    assert phone.visits() == now
    # The visits taken away are in the feed as cancelled, each with a raised SEQUENCE, under
    # the UID they had: a phone that missed the middle refresh drops them too.
    cancelled = {str(e["UID"]) for e in calendar.events if str(e["STATUS"]) == "CANCELLED"}
    assert cancelled and cancelled <= before
    assert all(int(e["SEQUENCE"]) >= 1 for e in calendar.events if str(e["UID"]) in cancelled)
    stale = Phone()
    stale.events = dict.fromkeys(before, (0, None))
    stale.refresh(calendar.to_ical())
    assert stale.visits() == now

    # The first rota published again: the visits come back, with a higher SEQUENCE still.
    assert service.client.post(f"/v1/rotas/{base}/publish", headers=headers).status_code == 200
    calendar = phone.refresh(service.client.get(link["calendar_url"]).content)
    assert phone.visits() == published_visits(service, headers, base, worker, zone)
    back = {str(e["UID"]): int(e["SEQUENCE"]) for e in calendar.events}
    assert all(back[uid] >= 2 for uid in cancelled)
    assert not any(str(e["STATUS"]) == "CANCELLED" for e in calendar.events)
    # The old version's calendar URL is the same live feed, so a phone subscribed to it follows.
    old = f"/v1/rotas/{first}/workers/{worker}/calendar.ics"
    assert service.client.get(old, params={"token": link["token"]}).content == calendar.to_ical()


def test_a_carer_link_survives_a_resolve_and_the_old_page_says_what_changed(
    service: Service, small_problem: dict[str, Any]
) -> None:
    headers = service.agency()
    created = service.submit(headers, small_problem, time_limit=2, seed=1)
    body = service.wait(created["id"], headers)
    base = created["id"]
    assert service.client.post(f"/v1/rotas/{base}/publish", headers=headers).status_code == 200
    day2 = [r for r in body["rota"]["routes"] if r["date"] == DAY2 and r["stops"]]
    worker = day2[0]["worker"]
    link = service.client.post(f"/v1/rotas/{base}/workers/{worker}/links", headers=headers).json()
    token = {"token": link["token"]}
    current = service.client.get(f"/v1/workers/{worker}/runsheet", params=token).json()
    assert [w["rota"] for w in current["weeks"]] == [base]

    resolved = absence(service, headers, worker, DAY2)
    # The same link opens the new version and the carer's current run shows it.
    current = service.client.get(f"/v1/workers/{worker}/runsheet", params=token).json()
    assert [w["rota"] for w in current["weeks"]] == [resolved]
    assert all(d["date"] != DAY2 for d in current["weeks"][0]["days"])
    sheet = f"/v1/rotas/{resolved}/workers/{worker}/runsheet"
    assert service.client.get(sheet, params=token).status_code == 200

    # The old version says it was replaced, and by what, for this carer.
    old = service.client.get(f"/v1/rotas/{base}/workers/{worker}/runsheet", params=token).json()
    replaced = old["replaced_by"]
    assert replaced["rota"] == resolved
    removed = [c for c in replaced["changes"] if c["kind"] == "removed"]
    assert {c["visit"] for c in removed} == {s["visit"] for s in day2[0]["stops"]}
    assert all(c["text"].startswith("Tue 1 Dec ") for c in removed)
    page = service.client.get(
        f"/v1/rotas/{base}/workers/{worker}/runsheet", params=token | {"format": "html"}
    ).text
    assert "This run sheet is out of date" in page
    assert removed[0]["text"] in page.replace("&#x27;", "'")
    assert f"/v1/workers/{worker}/runsheet?format=html&amp;token=" in page
    # The current version's page carries no such notice.
    page = service.client.get(sheet, params=token | {"format": "html"}).text
    assert "out of date" not in page


def test_links_are_listed_and_revoked_per_carer_per_key_and_per_agency(
    service: Service, week: tuple[dict[str, str], str, str]
) -> None:
    headers, base, worker = week
    client = service.client
    workers = sorted(
        {
            r["worker"]
            for r in client.get(f"/v1/rotas/{base}", headers=headers).json()["rota"]["routes"]
        }
    )
    other = next(w for w in workers if w != worker)

    def opens(link: dict[str, Any]) -> int:
        return client.get(link["runsheet_url"]).status_code

    # A new link for a carer replaces the one they had, at once.
    first = client.post(f"/v1/workers/{worker}/links", headers=headers).json()
    assert opens(first) == 200
    second = client.post(f"/v1/workers/{worker}/links", headers=headers).json()
    assert opens(first) == 401 and opens(second) == 200
    # Links last 14 days unless set otherwise.
    expires = datetime.fromisoformat(second["expires_at"])
    assert abs(expires - (datetime.now(expires.tzinfo) + timedelta(days=14))) < timedelta(minutes=1)

    listed = client.get("/v1/links", params={"worker": worker}, headers=headers).json()["items"]
    assert [link["id"] for link in listed][:2] == [second["id"], first["id"]]
    assert [link["active"] for link in listed][:2] == [True, False]
    assert "token" not in listed[0] and listed[0]["made_by_key"]

    # One by id; then a carer's; then everything a key made; then the whole agency's.
    assert client.delete(f"/v1/links/{second['id']}", headers=headers).status_code == 204
    assert opens(second) == 401
    third = client.post(f"/v1/workers/{worker}/links", headers=headers).json()
    theirs = client.post(f"/v1/workers/{other}/links", headers=headers).json()
    revoked = client.post("/v1/links/revoke", json={"worker": worker}, headers=headers).json()
    assert revoked == {"revoked": 1} and opens(third) == 401 and opens(theirs) == 200
    key = listed[0]["made_by_key"]
    revoked = client.post("/v1/links/revoke", json={"made_by_key": key}, headers=headers)
    assert revoked.json() == {"revoked": 1} and opens(theirs) == 401
    fourth = client.post(f"/v1/workers/{other}/links", headers=headers).json()
    assert client.post("/v1/links/revoke", json={"all": True}, headers=headers).json() == {
        "revoked": 1
    }
    assert opens(fourth) == 401
    assert client.get("/v1/links", params={"active": True}, headers=headers).json()["items"] == []

    # Asking for nothing in particular is refused rather than read as "all".
    refused = client.post("/v1/links/revoke", json={}, headers=headers)
    assert refused.status_code == 422
    assert "'all': true" in refused.json()["error"]["message"]
    assert client.post("/v1/workers/w-nobody/links", headers=headers).status_code == 404


def test_the_links_list_pages(service: Service, week: tuple[dict[str, str], str, str]) -> None:
    headers, _, worker = week
    made = [
        service.client.post(f"/v1/workers/{worker}/links", headers=headers).json()["id"]
        for _ in range(3)
    ]
    seen: list[str] = []
    url: str | None = f"/v1/links?worker={worker}&limit=2"
    while url is not None:
        page = service.client.get(url, headers=headers).json()
        assert len(page["items"]) <= 2
        seen += [link["id"] for link in page["items"]]
        url = page["next"]
    assert seen[:3] == made[::-1] and len(seen) == len(set(seen))


def test_revoking_a_leaked_key_can_take_the_links_it_made(
    service: Service, small_problem: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"Leaky Care {datetime.now().timestamp()}"
    headers = service.agency(name)
    created = service.submit(headers, small_problem, method="heuristic")
    assert service.wait(created["id"], headers)["status"] == "done"
    worker = small_problem["workers"][0]["id"]
    made = service.client.post(f"/v1/rotas/{created['id']}/workers/{worker}/links", headers=headers)
    link = made.json()
    assert service.client.get(link["runsheet_url"]).status_code == 200
    key = headers["Authorization"].removeprefix("Bearer ")
    url = service.settings.database_url
    argv = ["agency", "revoke-key", name, key, "--with-links", "--database-url", url]
    assert main(argv) == 0
    assert "revoked 1 carer link(s) those keys made" in capsys.readouterr().err
    # The service process notices a revocation made elsewhere within about a second.
    deadline = time.monotonic() + 5
    while service.client.get(link["runsheet_url"]).status_code != 401:
        assert time.monotonic() < deadline, "the link still works"
        time.sleep(0.1)
