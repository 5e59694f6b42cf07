"""The board speaks to coordinators in names, counts and times: a solve's progress as visits
staffed, carers per client and travel (the optimiser's figures folded in a details panel), the
rota list as weeks and visits staffed, unstaffed blocks labelled with the client, each client's
care team, and counts with their right plural. At desktop and phone widths; screenshots go to
``out/board/``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from tests.browser.board import SHOTS, UNSTAFFABLE, Board, BoardService, expect

# Words that belong to the optimiser, not on a coordinator's first screen.
OPTIMISER_WORDS = re.compile(r"objective|bound|\bgap\b", re.IGNORECASE)


def overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the screen (0: nothing to scroll sideways)."""
    width: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return width


def test_a_solve_in_progress_shows_visits_staffed_carers_and_travel(
    board: Board, phone_board: Board, board_service: BoardService, week: dict[str, Any]
) -> None:
    rota_id = board_service.submit(week, time_limit=60, seed=4)
    try:
        for b, name in ((board, "progress-words"), (phone_board, "progress-words-phone")):
            b.goto(f"/board/rotas/{rota_id}")
            page = b.page
            staffed = page.locator("#progress-stats [data-stat=staffed]")
            # "5 of 43": the best rota so far's visits with a carer, of all the week's visits.
            expect(staffed).to_have_text(
                re.compile(rf"^\d+ of {len(week['visits'])}$"), timeout=60_000
            )
            expect(page.locator("#progress-stats [data-stat=carers]")).to_have_text(
                re.compile(r"^\d+(\.\d)?$")
            )
            expect(page.locator("#progress-stats [data-stat=travel]")).to_have_text(
                re.compile(r"^(\d+ min|\d+ h \d\d min)$")
            )
            # The optimiser's figures are in the folded details panel, and only there.
            shown = page.locator("#progress-stats").inner_text()
            assert not OPTIMISER_WORDS.search(shown), shown
            details = page.locator("#progress-details")
            assert details.get_attribute("open") is None
            assert page.locator("#spark").is_hidden()
            if b is phone_board:
                assert overflow(page) == 0
            b.shot(name, full_page=False)
            details.locator("summary").click()
            expect(details.locator("[data-stat=objective]")).to_have_text(re.compile(r"\d"))
            assert page.locator("#spark").is_visible()
            b.shot(f"{name}-details", full_page=False)
    finally:
        board_service.client.delete(f"/v1/rotas/{rota_id}", headers=board_service.headers)
    assert board.errors == [] and phone_board.errors == []


def week_label(start: str, end: str) -> str:
    """The period as the board writes it: "Mon 30 Nov - Sun 6 Dec", with an en dash."""
    days = [date.fromisoformat(d) for d in (start, end)]
    return " \N{EN DASH} ".join(f"{d:%a} {d.day} {d:%b}" for d in days)


def test_the_rota_list_names_the_week_and_counts_visits_staffed(
    board: Board, phone_board: Board, solved: dict[str, Any]
) -> None:
    metrics = solved["rota"]["metrics"]
    for b, name in ((board, "rota-list"), (phone_board, "rota-list-phone")):
        b.goto("/board/")
        page = b.page
        row = page.locator(f"#rotas tr[data-rota={solved['id']}]")
        row.wait_for()
        label = week_label(solved["period"]["start"], solved["period"]["end"])
        assert row.locator("a").inner_text() == label
        expect(row.locator("[data-col=staffed]")).to_contain_text(
            f"{metrics['visits_assigned']} of {metrics['visits_total']} visits"
        )
        expect(row.locator("[data-col=carers]")).to_contain_text(
            re.compile(r"\d"), use_inner_text=True
        )
        # No reference or optimiser figure in sight until the details are opened.
        table = page.locator("#rotas").inner_text()
        assert solved["id"] not in table and not OPTIMISER_WORDS.search(table), table
        if b is phone_board:
            assert overflow(page) == 0
        b.shot(name, full_page=False)
        row.locator("details summary").click()
        assert solved["id"] in row.inner_text() and "Objective" in row.inner_text()
    assert board.errors == [] and phone_board.errors == []


def initials(name: str) -> str:
    """The board's short label: "C3" for "Client 3", "MP" for "Mrs Patel" (grid.js)."""
    words = name.split()
    if len(words) == 2 and words[1].isdigit():
        return words[0][0] + words[1]
    return "".join(w[0] for w in words)[:3].upper()


LABEL_FITS = """(b) => [...b.querySelectorAll('.name, .name > span')]
  .filter((s) => getComputedStyle(s).display !== 'none' && s.children.length === 0)
  .map((s) => [s.textContent, s.scrollWidth <= b.clientWidth])"""


def test_unstaffed_visits_show_their_client_readably_in_the_week_and_the_day(
    board: Board, phone_board: Board, solved: dict[str, Any], week: dict[str, Any]
) -> None:
    visit = next(v for v in week["visits"] if v["id"] == UNSTAFFABLE)
    client = next(c for c in week["clients"] if c["id"] == visit["client"])
    name = client.get("name") or client["id"]
    for b, shot in ((board, "unstaffed-week"), (phone_board, "unstaffed-week-phone")):
        b.open_rota(solved["id"])
        page = b.page
        block = page.locator(f"#grid .visit.unstaffed[data-visit={UNSTAFFABLE}]")
        expect(page.locator("#grid .unstaffed-row .who-meta")).to_have_text("1 visit")
        # The week: the window's start and the client's initials, whole.
        shown = block.evaluate(LABEL_FITS)
        assert shown == [[f"{visit['earliest_start'][11:16]} {initials(name)}", True]], shown
        page.locator("#grid-card").screenshot(path=str(SHOTS / f"{shot}.png"))
        # The day: at its window, the name where it fits, else the initials; never cut.
        page.click(f"#views button[data-view='{visit['earliest_start'][:10]}']")
        page.wait_for_selector("#grid.day-view")
        shown = block.evaluate(LABEL_FITS)
        assert shown in ([[name, True]], [[initials(name), True]]), shown
        page.locator("#grid-card").screenshot(path=str(SHOTS / f"{shot}-day.png"))
    assert board.errors == [] and phone_board.errors == []


def test_the_boards_plural_is_the_run_sheets(board: Board) -> None:
    """api.js's ``plural`` says what solver/words.py says (tests/solver/test_words.py)."""
    board.goto("/board/")
    said = board.page.evaluate(
        """async () => {
          const { plural } = await import("/board/static/api.js");
          return [plural(1, "visit"), plural(0, "visit"), plural(1240, "minute"),
                  plural(1, "rule breach", "rule breaches"), plural(2, "person", "people")];
        }"""
    )
    assert said == ["1 visit", "0 visits", "1,240 minutes", "1 rule breach", "2 people"]


def test_the_visit_detail_shows_the_clients_care_team(
    board: Board, phone_board: Board, solved: dict[str, Any], week: dict[str, Any]
) -> None:
    rota = solved["rota"]
    first = rota["assignments"][0]
    visit = next(v for v in week["visits"] if v["id"] == first["visit"])
    primary = first["workers"][0]
    other = next(w["id"] for w in week["workers"] if w["id"] not in first["workers"])
    names = {w["id"]: w.get("name") or w["id"] for w in week["workers"]}
    # The service's rotas carry teams only when planned with them (the route engine's option);
    # the board is shown one that does.
    teams = [{"client": visit["client"], "workers": [primary, other]}]

    def with_teams(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        body["rota"]["teams"] = teams
        route.fulfill(response=response, json=body)

    for b, shot in ((board, "care-team"), (phone_board, "care-team-phone")):
        b.page.route(f"**/v1/rotas/{solved['id']}", with_teams)
        b.open_rota(solved["id"])
        b.page.locator(f"#grid .visit[data-visit='{first['visit']}']").first.click()
        team = b.page.locator("#care-team")
        expect(team).to_have_text(f"{names[primary]} (primary), {names[other]}")
        chips = b.page.locator(f"#why li[data-worker='{primary}']")
        expect(chips).to_contain_text("primary carer in the care team")
        if b is phone_board:
            assert overflow(b.page) == 0
        # The panel draws again when the pin candidates arrive: wait for them, then take it.
        expect(b.page.locator("#pin-worker option")).to_have_count(len(week["workers"]))
        b.page.locator("#detail").screenshot(path=str(SHOTS / f"{shot}.png"))
    assert board.errors == [] and phone_board.errors == []


def test_a_finished_rotas_page_keeps_the_optimisers_figures_in_details(
    board: Board, phone_board: Board, solved: dict[str, Any]
) -> None:
    for b in (board, phone_board):
        b.open_rota(solved["id"])
        # What is rendered (innerText leaves out folded details): names, counts, times.
        shown = b.page.evaluate(
            "document.querySelector('header').innerText + document.querySelector('main').innerText"
        )
        assert not OPTIMISER_WORDS.search(shown), OPTIMISER_WORDS.findall(shown)
        # Its state in words ("feasible" and "optimal" are the optimiser's, in the tooltip).
        chip = b.page.locator("#chips .chip").first
        expect(chip).to_have_text(re.compile(r"^ready(, the best possible)?$"))
        assert chip.get_attribute("title") == f"optimiser: {solved['solver_status']}"
        b.page.locator("#cost-details summary").click()
        assert "Objective" in b.page.locator("#cost-details").inner_text()
    assert board.errors == [] and phone_board.errors == []
