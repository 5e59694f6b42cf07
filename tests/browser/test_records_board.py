"""The weekly cycle on the board: import the sample agency's spreadsheets (preview first), edit a
client, plan a week, publish it, plan the next week, and find week 1's carers on week 2."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from scenarios.sample_agency import DIRECTORY, FIRST_WEEK
from tests.browser.board import Board, BoardService

CLIENT = "c0000"
CARER = "w000"


@pytest.fixture
def agency_board(browser: Any, board_service: BoardService) -> Iterator[Board]:
    """The board signed in as an agency of its own (so its rota list is only this test's)."""
    key = board_service.new_agency("Sample Homecare")
    own = BoardService(board_service.url, key, board_service.client, board_service.env)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(f"sessionStorage.setItem('carerota.key', {json.dumps(key)})")
    page = context.new_page()
    board = Board(page, own)
    page.on("console", lambda m: board.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: board.errors.append(f"uncaught: {e}"))
    try:
        yield board
    finally:
        context.close()


def plan_and_publish(board: Board, week: str, *, suggested: bool) -> str:
    """Plan the week from the front page, wait for the rota and publish it; its id."""
    page = board.page
    board.goto("/board/")
    page.wait_for_selector("#plan-area option[value=North]", state="attached")
    if suggested:  # the Monday after the latest published week
        assert page.input_value("#plan-week") == week
    else:
        page.fill("#plan-week", week)
    page.fill("#plan-time", "8")
    page.click("#plan-submit")
    page.wait_for_url(re.compile(r"/board/rotas/rota_"))
    rota_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("body[data-ready=true]", timeout=120_000)
    page.click("#publish")
    page.wait_for_selector("#published-chip")
    assert board.service.rota(rota_id)["published"] is True
    return rota_id


def test_import_edit_plan_publish_and_plan_the_next_week(agency_board: Board) -> None:
    board, page, service = agency_board, agency_board.page, agency_board.service

    # Import the sample agency: the preview says what would be added, then the import does it.
    board.goto("/board/records")
    page.set_input_files("#import-file", str(DIRECTORY / "agency.xlsx"))
    page.click("#preview")
    summary = page.wait_for_selector("#preview-summary")
    assert summary.inner_text().startswith("Would add 647, change 0, remove 0;")
    assert service.client.get("/v1/clients", headers=service.headers).json()["items"] == []
    page.click("#import")
    page.wait_for_selector("#import-summary")
    page.wait_for_selector(f"#clients tr[data-id={CLIENT}]")
    assert page.locator("#clients tbody tr").count() == 150
    board.shot("records-imported")

    # Mark a carer's leave for the fortnight of the two weeks to plan.
    page.click(f"#carers tr[data-id={CARER}] button")
    slot = "#editor-slot"
    page.fill(f"{slot} input[name=away-from]", "2027-01-04")
    page.fill(f"{slot} input[name=away-to]", "2027-01-17")
    page.click(f"{slot} button:has-text('Add time away')")
    page.click(f"{slot} button[type=submit]")
    page.wait_for_selector(
        f"#carers tr[data-id={CARER}] td:has-text('leave 2027-01-04 to 2027-01-17')"
    )
    carer = service.client.get(f"/v1/workers/{CARER}", headers=service.headers).json()
    assert [(a["start"], a["end"], a["reason"]) for a in carer["away"]] == [
        ("2027-01-04", "2027-01-17", "leave")
    ]

    # Add a client with their first package.
    page.click("#add-client")
    page.locator(f"{slot} input[name=id]").nth(0).fill("c-lovell")
    page.fill(f"{slot} input[name=name]", "Mrs Ada Lovell")
    page.fill(f"{slot} input[name=area]", "North")
    page.fill(f"{slot} input[name=lat]", "53.812")
    page.fill(f"{slot} input[name=lon]", "-1.553")
    page.locator(f"{slot} input[name=id]").nth(1).fill("c-lovell-am")
    page.fill(f"{slot} input[name=start_date]", "2027-01-04")
    page.fill(f"{slot} input[name=earliest_start]", "08:00")
    page.fill(f"{slot} input[name=latest_start]", "09:00")
    page.click(f"{slot} button[type=submit]")
    page.wait_for_selector("#clients tr[data-id=c-lovell]")
    lovell = service.client.get("/v1/packages?client=c-lovell", headers=service.headers).json()
    assert [p["days"] for p in lovell["items"]] == [
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    ]

    # Edit a client's care plan on their page.
    page.click(f"#clients tr[data-id={CLIENT}] a")
    page.wait_for_selector("#client-form textarea")
    page.fill("#client-form textarea[name=care_plan]", "Key safe 1942. Likes tea with one sugar.")
    page.click("#client-form button[type=submit]")
    page.wait_for_selector("#saved:not([hidden])")
    client = service.client.get(f"/v1/clients/{CLIENT}", headers=service.headers).json()
    assert client["care_plan"] == "Key safe 1942. Likes tea with one sugar."

    # Plan the first week, publish it; then the next week, publish that too.
    first = plan_and_publish(board, FIRST_WEEK.isoformat(), suggested=False)
    second = plan_and_publish(board, "2027-01-11", suggested=True)
    assert first != second
    # The carer on leave has no visit in either week; the new client has theirs.
    for rota_id in (first, second):
        rota = service.rota(rota_id)["rota"]
        assert all(CARER not in a["workers"] for a in rota["assignments"])
        assert any(a["visit"].startswith("c-lovell-am@") for a in rota["assignments"])

    # Week 2 kept week 1's faces: the client's page lists carers who came in both weeks.
    board.goto(f"/board/clients/{CLIENT}")
    page.wait_for_selector("#recent tbody tr")
    weeks = page.locator("#recent tbody tr td:nth-child(3)").all_inner_texts()
    assert any("4 Jan" in w and "11 Jan" in w for w in weeks), weeks
    board.shot("client-recent-carers")
    assert board.errors == []
