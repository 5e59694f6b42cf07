"""Fixtures for the rota board's end-to-end tests: ``carerota serve`` and headless Chromium.

The service is the real command (``carerota serve`` on a SQLite file in a temporary folder, one
solve process), so the tests show the board works with nothing else running. The browser is
Debian's ``chromium`` driven by Playwright through its ``executable_path``; Playwright's own
browser downloads are never used. Without Chromium or Playwright the tests skip, unless
``CAREROTA_REQUIRE_SERVICES=1`` (set by ``.ci/run``), when they fail instead.

Screenshots go to ``out/board/`` (git-ignored).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scenarios.generator import generate
from tests.browser.board import UNSTAFFABLE, Board, BoardService
from tests.harness import Server, create_agency_key, unavailable

CHROMIUM = Path(os.environ.get("CAREROTA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1440, "height": 900}
TABLET = {"width": 820, "height": 1180}
PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="session")
def board_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoardService]:
    """``carerota agency create`` then ``carerota serve`` on a fresh SQLite file."""
    folder = tmp_path_factory.mktemp("board")
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{folder}/carerota.db",
        CELERY_BROKER_URL="local",
        CAREROTA_SOLVER_THREADS="1",
        CAREROTA_LOG_LEVEL="warning",
    )
    key = create_agency_key(env, "Meadowbank Homecare")
    server = Server(env, folder / "serve.log", "--workers", "1", cwd=folder)
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield BoardService(server.url, key, client, env)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (never Playwright's own download)."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _open_board(
    browser: Any, service: BoardService, viewport: dict[str, int], *, signed_in: bool
) -> Iterator[Board]:
    context = browser.new_context(viewport=viewport)
    if signed_in:
        # As if the coordinator had signed in on this tab already.
        context.add_init_script(
            f"sessionStorage.setItem('carerota.key', {json.dumps(service.key)})"
        )
    page = context.new_page()
    board = Board(page, service)
    page.on("console", lambda m: board.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: board.errors.append(f"uncaught: {e}"))
    try:
        yield board
    finally:
        context.close()


@pytest.fixture
def board(browser: Any, board_service: BoardService) -> Iterator[Board]:
    """A laptop-sized page whose tab holds the agency's key."""
    yield from _open_board(browser, board_service, LAPTOP, signed_in=True)


@pytest.fixture
def fresh_board(browser: Any, board_service: BoardService) -> Iterator[Board]:
    """A laptop-sized page in a tab that has not signed in."""
    yield from _open_board(browser, board_service, LAPTOP, signed_in=False)


@pytest.fixture
def tablet_board(browser: Any, board_service: BoardService) -> Iterator[Board]:
    """A tablet-sized page (820 x 1180, portrait) whose tab holds the agency's key."""
    yield from _open_board(browser, board_service, TABLET, signed_in=True)


@pytest.fixture
def phone_board(browser: Any, board_service: BoardService) -> Iterator[Board]:
    """A phone-sized page (375 x 812) whose tab holds the agency's key."""
    yield from _open_board(browser, board_service, PHONE, signed_in=True)


@pytest.fixture(scope="session")
def week() -> dict[str, Any]:
    """Six clients over a week, plus one visit no carer can do (a skill nobody has)."""
    problem = generate(6, 2, agency="Meadowbank Homecare")
    first = problem["visits"][0]
    problem["visits"].append(
        {
            **{k: first[k] for k in ("client", "earliest_start", "latest_start")},
            "id": UNSTAFFABLE,
            "duration_minutes": 30,
            "skills": ["tracheostomy"],
        }
    )
    return problem


@pytest.fixture(scope="session")
def solved(board_service: BoardService, week: dict[str, Any]) -> dict[str, Any]:
    """A finished CP-SAT rota of ``week``, requested through the API."""
    rota_id = board_service.submit(week, time_limit=3, seed=1)
    body = board_service.wait(rota_id)
    assert body["status"] == "done", body
    return body
