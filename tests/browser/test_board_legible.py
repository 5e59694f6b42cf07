"""The board at agency size (45 clients, 25 carers, 730 visits): every label readable.

The week grid shows each visit's client by name where it fits and by initials where it does not
(never a cut "Clie..."), coloured by whether the client knows the carer; a day's double-up badge
sits clear of the text; the hours list shows every carer; the map numbers a carer's stops through
the day and fades everyone else's routes. Screenshots go to ``out/board/``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scenarios.generator import generate
from tests.browser.own_agency import DAY2

SHOTS = Path(__file__).resolve().parents[2] / "out" / "board"
LAPTOP = {"width": 1440, "height": 900}

# The label a block shows (full name or initials): its text must fit its box.
CUT_LABELS = """() => [...document.querySelectorAll('#grid .visit')].filter((b) => {
  const shown = [...b.querySelectorAll('.name > span')]
    .find((s) => getComputedStyle(s).display !== 'none');
  return shown && b.clientWidth > 16 && shown.scrollWidth > b.clientWidth - 4;
}).map((b) => b.dataset.visit)"""


@pytest.fixture(scope="module")
def big(board_service: Any) -> dict[str, Any]:
    key = board_service.new_agency(f"Agency Size {time.monotonic_ns()}")
    headers = {"Authorization": f"Bearer {key}"}
    problem = generate(45, 7, agency="Agency Size Care")
    response = board_service.client.post(
        "/v1/rotas", json={"problem": problem, "options": {"method": "heuristic"}}, headers=headers
    )
    assert response.status_code == 202, response.text
    rota_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while (body := board_service.client.get(f"/v1/rotas/{rota_id}", headers=headers).json())[
        "status"
    ] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert body["status"] == "done"
    return {"key": key, "rota": body, "problem": problem}


@pytest.fixture
def page(browser: Any, board_service: Any, big: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP)
    context.add_init_script(f"sessionStorage.setItem('carerota.key', {json.dumps(big['key'])})")
    page = context.new_page()
    page.goto(f"{board_service.url}/board/rotas/{big['rota']['id']}")
    page.wait_for_selector("body[data-ready=true]")
    try:
        yield page
    finally:
        context.close()


def test_the_week_and_a_day_are_readable_at_agency_size(page: Any, big: dict[str, Any]) -> None:
    assert len(big["problem"]["clients"]) >= 40 and len(big["problem"]["workers"]) >= 20
    SHOTS.mkdir(parents=True, exist_ok=True)
    blocks = page.locator("#grid .visit:not(.unstaffed):not(.shadow)")
    assert blocks.count() > 500
    # Colour says familiar or new, not which client: two colours, not 45.
    colours = page.evaluate(
        """() => new Set([...document.querySelectorAll(
            '#grid .visit.familiar, #grid .visit.unfamiliar')]
            .map((b) => getComputedStyle(b).backgroundColor)).size"""
    )
    assert colours == 2
    assert (
        page.locator(
            "#grid .visit:not(.unstaffed):not(.shadow):not(.familiar):not(.unfamiliar)"
        ).count()
        == 0
    )
    # Blocks wide enough for a label show one, uncut; under each carer's day, the clients in
    # visiting order by initials, every one of them inside its cell.
    assert page.evaluate(CUT_LABELS) == []
    stops = sum(
        1
        for r in big["rota"]["rota"]["routes"]
        for st in r["stops"]
        if st.get("mode", "care") != "shadow"
    )
    assert page.locator("#grid .order span").count() == stops
    outside = page.evaluate(
        """() => [...document.querySelectorAll('#grid td')].filter((td) => {
            const box = td.getBoundingClientRect();
            return [...td.querySelectorAll('.order span')].some((s) => {
              const r = s.getBoundingClientRect();
              return r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5;
            });
        }).length"""
    )
    assert outside == 0
    page.locator("#grid-card").screenshot(path=str(SHOTS / "agency-week.png"))

    page.click(f"#views button[data-view='{DAY2}']")
    assert page.evaluate(CUT_LABELS) == []
    # The double-up badge has room of its own.
    doubles = page.locator("#grid.day-view .visit.double")
    if doubles.count():
        padding = doubles.first.evaluate("b => parseFloat(getComputedStyle(b).paddingRight)")
        assert padding >= 12
    page.locator("#grid-card").screenshot(path=str(SHOTS / "agency-day.png"))


def test_hours_show_every_carer_and_the_map_numbers_one_carers_day(
    page: Any, big: dict[str, Any]
) -> None:
    hours = page.locator("#hours")
    assert hours.locator(".hours-row").count() == len(big["problem"]["workers"])
    assert hours.evaluate("e => e.scrollHeight <= e.clientHeight + 1")

    routes = [r for r in big["rota"]["rota"]["routes"] if r["date"] == DAY2 and r["stops"]]
    route = max(routes, key=lambda r: len(r["stops"]))
    page.select_option("#map-day", DAY2)
    page.select_option("#map-worker", route["worker"])
    numbers = page.locator("#map .stop-no").all_text_contents()
    assert [int(n) for n in numbers] == list(range(1, len(route["stops"]) + 1))
    assert "chosen" in (page.get_attribute("#map", "class") or "")
    faded = page.evaluate(
        """() => [...document.querySelectorAll('#map .path:not(.on)')]
            .map((p) => parseFloat(getComputedStyle(p).opacity))"""
    )
    assert faded and max(faded) <= 0.1
    page.locator(".map-card").screenshot(path=str(SHOTS / "agency-map.png"))
