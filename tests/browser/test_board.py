"""The rota board in headless Chromium: what a coordinator sees and does, end to end."""

from __future__ import annotations

from typing import Any

from conftest import UNSTAFFABLE, Board


def test_solved_rota_shows_unstaffed_first_then_kpis_grid_and_map(
    board: Board, solved: dict[str, Any], week: dict[str, Any]
) -> None:
    board.open_rota(solved["id"])
    page = board.page
    rota = solved["rota"]
    unstaffed = page.locator("#unstaffed li")
    assert unstaffed.count() == len(rota["unassigned"]) >= 1
    assert "tracheostomy" in page.locator(f"#unstaffed [data-visit={UNSTAFFABLE}]").inner_text()
    staffed = page.locator("#kpi-staffed .value").inner_text()
    assert staffed.replace(" ", "") == f"{len(rota['assignments'])}/{len(week['visits'])}"
    # One row per worker, one block per stop a worker makes.
    assert page.locator("#grid tbody tr[data-worker]").count() == len(week["workers"])
    stops = sum(len(r["stops"]) for r in rota["routes"])
    assert page.locator("#grid .visit:not(.unstaffed)").count() == stops
    assert page.locator("#map circle.client").count() == len(week["clients"])
    assert page.locator("#map polyline.path").count() >= 1
    board.shot("board-laptop")
    assert board.errors == []
