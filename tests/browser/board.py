"""The board's test helpers: the running service as the board sees it, and a browser page on it.

Fixtures that build these are in ``conftest.py``; tests import the types from here
(``tests.browser.board``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.harness import ROOT, create_agency_key

SHOTS = ROOT / "out" / "board"
# A visit nobody can do (a skill no carer has): ``week`` adds it to the generated agency.
UNSTAFFABLE = "v-unstaffable"


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
        return create_agency_key(self.env, name)

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
