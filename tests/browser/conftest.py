"""Fixtures for the rota board's end-to-end tests: ``carerota serve`` and headless Chromium.

The service is the real command (``carerota serve`` on a SQLite file in a temporary folder, one
solve process), so the tests show the board works with nothing else running. The browser is
Debian's ``chromium`` driven by Playwright through its ``executable_path``; Playwright's own
browser downloads are never used. Without Chromium or Playwright the tests skip, unless
``CAREROTA_REQUIRE_SERVICES=1`` (set by ``.ci/run``), when they fail instead.

Screenshots go to ``out/board/`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from scenarios.generator import generate

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "out" / "board"
CHROMIUM = Path(os.environ.get("CAREROTA_CHROMIUM", "/usr/bin/chromium"))
REQUIRE = os.environ.get("CAREROTA_REQUIRE_SERVICES") == "1"
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


def unavailable(reason: str) -> None:
    """Skip a browser test, or fail it when CI requires everything to run."""
    if REQUIRE:
        pytest.fail(f"{reason} (CAREROTA_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def carerota_command(*args: str) -> list[str]:
    """The ``carerota`` command line, run by this interpreter."""
    return [
        sys.executable,
        "-c",
        "import sys; from carerota.cli import main; sys.exit(main())",
        *args,
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class BoardService:
    """A running ``carerota serve``: where it is and one agency's key."""

    url: str
    key: str
    client: httpx.Client
    env: dict[str, str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def new_agency(self, name: str) -> str:
        """Another agency in the same database; its API key."""
        return create_agency(self.env, name)

    def submit(self, problem: dict[str, Any], **options: Any) -> str:
        response = self.client.post(
            "/v1/rotas", json={"problem": problem, "options": options}, headers=self.headers
        )
        assert response.status_code == 202, response.text
        rota_id: str = response.json()["id"]
        return rota_id

    def rota(self, rota_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/rotas/{rota_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait(self, rota_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """Poll until the rota's job ends."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.rota(rota_id)
            if body["status"] in ("done", "failed", "cancelled"):
                return body
            assert time.monotonic() < deadline, f"rota still {body['status']}"
            time.sleep(0.2)


def create_agency(env: dict[str, str], name: str) -> str:
    """``carerota agency create NAME``; the key it prints."""
    created = subprocess.run(
        carerota_command("agency", "create", name),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip()


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
    key = create_agency(env, "Meadowbank Homecare")
    port = free_port()
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen(
        carerota_command("serve", "--port", str(port), "--workers", "1"),
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, timeout=30)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/readyz").status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"carerota serve did not start: {(folder / 'serve.log').read_text()}"
                )
            time.sleep(0.2)
        yield BoardService(url, key, client, env)
    finally:
        client.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


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


def expect(locator: Any) -> Any:
    """Playwright's waiting assertions, imported late so that the tests skip without it."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@dataclass
class Board:
    """A browser page on the service, with everything the page logged as an error."""

    page: Any
    service: BoardService
    errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.service.url + path)

    def open_rota(self, rota_id: str) -> None:
        """The rota's board, waiting until it has drawn everything."""
        self.goto(f"/board/rotas/{rota_id}")
        self.page.wait_for_selector("body[data-ready=true]", timeout=90_000)

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


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


UNSTAFFABLE = "v-unstaffable"


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
