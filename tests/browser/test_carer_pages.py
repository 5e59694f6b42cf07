"""What a carer sees through their link, in Chromium: the run sheet on a phone and on paper, and
the same link after a re-solve has published a new rota.

Each test works in an agency of its own, so the board's tests see nothing of it. Screenshots go
to ``out/board/`` (git-ignored).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.own_agency import DAY2, Agency

SHOTS = Path(__file__).resolve().parents[2] / "out" / "board"
PHONE = {"width": 375, "height": 812}
LAPTOP = {"width": 1440, "height": 900}


@pytest.fixture
def agency(board_service: Any, week: dict[str, Any]) -> Agency:
    key = board_service.new_agency(f"Carer Pages {time.monotonic_ns()}")
    return Agency(board_service.client, key, week)


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the screen (0: nothing to scroll sideways)."""
    width: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return width


def test_the_run_sheet_on_a_phone_is_one_column_today_first_with_maps(
    agency: Agency, phone: Any, browser: Any
) -> None:
    worker = agency.busiest_on_day2()
    link = agency.post(f"/v1/workers/{worker}/links").json()
    phone.goto(link["runsheet_html_url"])
    assert overflow(phone) == 0
    assert phone.locator(".cards").is_visible() and not phone.locator(".table").is_visible()
    cards = phone.locator(".cards article.stop")
    stops = [s for r in agency.rota["rota"]["routes"] if r["worker"] == worker for s in r["stops"]]
    assert cards.count() == len(stops)
    for i in range(cards.count()):
        card = cards.nth(i)
        box = card.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert "openstreetmap.org" in (
            card.locator("a", has_text="Map").get_attribute("href") or ""
        )
    # Today (where the agency is) and the days after it come first; the days before after them.
    today = datetime.now(ZoneInfo(agency.timezone)).date()
    headings = phone.locator(".cards h2").all_inner_texts()
    days = sorted({date.fromisoformat(s["start"][:10]) for s in stops})
    ahead = [d for d in days if d >= today]
    if ahead and len(ahead) < len(days):
        assert headings[0].endswith(f"{ahead[0].day} {ahead[0]:%B %Y}")
        assert "Earlier" in headings
    # The care plan is in full, not cut.
    plan = phone.locator(".cards .plan").first
    if plan.count():
        assert plan.evaluate("e => e.scrollWidth <= e.clientWidth")
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SHOTS / "runsheet-phone.png"), full_page=True)

    # On a desktop and on paper: the table by day, as before.
    context = browser.new_context(viewport=LAPTOP)
    try:
        page = context.new_page()
        page.goto(link["runsheet_html_url"])
        assert page.locator(".table").is_visible() and not page.locator(".cards").is_visible()
        page.emulate_media(media="print")
        assert page.locator(".table table").first.is_visible()
        assert not page.locator(".cards").is_visible()
        page.emulate_media(media="screen")
        page.screenshot(path=str(SHOTS / "runsheet-desktop.png"), full_page=True)
    finally:
        context.close()


def with_phones(problem: dict[str, Any]) -> dict[str, Any]:
    """``problem`` with a phone number on every client and worker (Ofcom's drama range,
    0113 496 0xxx: clients from 0000, workers from 0500)."""
    clients = [c | {"phone": f"0113 496 0{i:03d}"} for i, c in enumerate(problem["clients"])]
    workers = [w | {"phone": f"0113 496 0{500 + i:03d}"} for i, w in enumerate(problem["workers"])]
    return problem | {"clients": clients, "workers": workers}


def test_the_run_sheet_on_a_phone_calls_each_client_with_one_tap(
    board_service: Any, week: dict[str, Any], phone: Any, browser: Any
) -> None:
    key = board_service.new_agency(f"Carer Pages Phones {time.monotonic_ns()}")
    problem = with_phones(week)
    agency = Agency(board_service.client, key, problem)
    phones = {c["id"]: c["phone"] for c in problem["clients"]}
    client_of = {v["id"]: v["client"] for v in problem["visits"]}
    worker = agency.busiest_on_day2()
    link = agency.post(f"/v1/workers/{worker}/links").json()
    phone.goto(link["runsheet_html_url"])
    assert overflow(phone) == 0
    # Days as every message writes them.
    assert "Mon 30 Nov to Sun 6 Dec 2026" in phone.locator(".meta").inner_text()
    stops = [s for r in agency.rota["rota"]["routes"] if r["worker"] == worker for s in r["stops"]]
    cards = phone.locator(".cards article.stop")
    assert cards.count() == len(stops)
    # Cards are in page order (today first), so match each one to its client by the number.
    dialled = []
    for i in range(cards.count()):
        call = cards.nth(i).locator("a.call")
        assert call.is_visible()
        box = call.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
        # A thumb's target: at least 32 px high.
        assert box["height"] >= 32
        text = call.inner_text()
        assert text.startswith("Call 0113 496 0")
        number = text.removeprefix("Call ")
        assert call.get_attribute("href") == "tel:" + number.replace(" ", "")
        dialled.append(number)
    assert sorted(dialled) == sorted(phones[client_of[s["visit"]]] for s in stops)
    # Beside each other person on a visit (a double-up's carer, a shadowing coordinator), a
    # button to ring them.
    rota = agency.rota["rota"]
    crew = {a["visit"]: a["workers"] for a in rota["assignments"]}
    for cv in rota["coordinator_visits"]:
        if cv["mode"] == "shadow":
            crew[cv["visit"]] = [*crew.get(cv["visit"], []), cv["coordinator"]]
    others = sum(len(set(crew.get(s["visit"], [])) - {worker}) for s in stops)
    assert phone.locator('.cards a.call-carer[href^="tel:"]').count() == others
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SHOTS / "runsheet-phone-call.png"), full_page=True)

    # On a desktop the table carries the number under the address, dialled from a screen too.
    context = browser.new_context(viewport=LAPTOP)
    try:
        page = context.new_page()
        page.goto(link["runsheet_html_url"])
        links = page.locator('.table a[href^="tel:"]')
        assert links.count() == len(stops)
        assert links.first.is_visible()
        page.screenshot(path=str(SHOTS / "runsheet-desktop-call.png"), full_page=True)
    finally:
        context.close()


def test_a_carers_link_after_a_resolve_shows_the_new_rota_and_the_old_page_says_so(
    agency: Agency, phone: Any
) -> None:
    worker = agency.busiest_on_day2()
    base = agency.rota["id"]
    link = agency.post(f"/v1/rotas/{base}/workers/{worker}/links").json()
    old_page = link["runsheet_html_url"]
    phone.goto(old_page)
    assert phone.locator(".notice").count() == 0
    absence = agency.post(
        "/v1/absences",
        {
            "worker": worker,
            "start": f"{DAY2}T00:00",
            "end": f"{DAY2}T23:59",
            "now": f"{DAY2}T06:00",
            "time_limit": 2,
        },
    )
    assert absence.status_code == 202, absence.text
    new = agency.wait(absence.json()["resolves"][0]["id"])
    assert new["published"]

    # The old page, opened again from the same link: out of date, and what changed for them.
    phone.goto(old_page)
    notice = phone.locator(".notice")
    assert notice.is_visible()
    assert "out of date" in notice.inner_text()
    lines = notice.locator("li").all_inner_texts()
    assert lines and all(line.startswith("Tue 1 Dec") for line in lines)
    assert overflow(phone) == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SHOTS / "runsheet-phone-out-of-date.png"), full_page=True)

    # Its link leads to the current run: no 1 December visit left, no notice.
    notice.locator("a").click()
    phone.wait_for_load_state()
    assert phone.locator(".notice").count() == 0
    headings = " ".join(phone.locator(".cards h2").all_inner_texts())
    assert "1 December 2026" not in headings
    assert overflow(phone) == 0
