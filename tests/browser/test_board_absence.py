"""The board's absence dialog: it shows "now" and the visits the absence would take, and a
refusal says exactly what the API (and the command line) says."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.own_agency import DAY2, Agency

SHOTS = Path(__file__).resolve().parents[2] / "out" / "board"
LAPTOP = {"width": 1440, "height": 900}


@pytest.fixture
def agency(board_service: Any, week: dict[str, Any]) -> Agency:
    key = board_service.new_agency(f"Absence Dialog {time.monotonic_ns()}")
    return Agency(board_service.client, key, week)


@pytest.fixture
def page(browser: Any, agency: Agency, board_service: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP)
    key = agency.headers["Authorization"].removeprefix("Bearer ")
    context.add_init_script(f"sessionStorage.setItem('carerota.key', {json.dumps(key)})")
    page = context.new_page()
    page.goto(f"{board_service.url}/board/rotas/{agency.rota['id']}")
    page.wait_for_selector("body[data-ready=true]")
    try:
        yield page
    finally:
        context.close()


def fill(page: Any, worker: str, start: str, end: str, now: str) -> None:
    page.select_option("#absence-form [name=worker]", worker)
    page.fill("#absence-form [name=start]", start)
    page.fill("#absence-form [name=end]", end)
    page.fill("#absence-form [name=now]", now)


def test_the_absence_dialog_shows_now_the_orphans_and_the_services_refusals(
    page: Any, agency: Agency
) -> None:
    worker = agency.busiest_on_day2()
    stops = [
        s
        for r in agency.rota["rota"]["routes"]
        if r["worker"] == worker and r["date"] == DAY2
        for s in r["stops"]
    ]
    page.click("#absence-open")
    # "Now" starts as the agency's clock.
    assert len(page.input_value("#absence-form [name=now]")) == 16

    # From 10:00 on Tuesday: the visits that start from then on are the ones it takes.
    fill(page, worker, f"{DAY2}T00:00", f"{DAY2}T23:59", f"{DAY2}T10:00")
    later = sorted(s["visit"] for s in stops if s["start"][11:16] >= "10:00")
    listed = page.locator("#absence-preview .orphans li")
    assert sorted(listed.nth(i).get_attribute("data-visit") for i in range(listed.count())) == later
    assert "Now is Tue 1 Dec 10:00" in page.locator("#absence-preview").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#absence").screenshot(path=str(SHOTS / "absence-dialog.png"))

    # Refused: ended before now, and ends before it starts; the words are the service's.
    for start, end, now in (
        (f"{DAY2}T08:00", f"{DAY2}T12:00", "2026-12-02T09:00"),
        (f"{DAY2}T12:00", f"{DAY2}T08:00", f"{DAY2}T06:00"),
    ):
        fill(page, worker, start, end, now)
        page.click("#absence-submit")
        error = page.locator("#absence-error")
        error.wait_for(state="visible")
        said = agency.post(
            "/v1/absences", {"worker": worker, "start": start, "end": end, "now": now}
        )
        assert said.status_code == 422
        assert error.inner_text() == said.json()["error"]["message"]
        assert page.locator("#absence").is_visible()
    assert agency.client.get("/v1/absences", headers=agency.headers).json()["items"] == []
