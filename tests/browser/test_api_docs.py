"""/docs and /redoc work on a machine without internet: every file comes from the service."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.browser.board import BoardService


def _offline_page(browser: Any, service: BoardService) -> tuple[Any, Any, list[str]]:
    """A page that can reach only the service: any other request is refused and noted."""
    context = browser.new_context()
    elsewhere: list[str] = []
    ours = urlsplit(service.url).netloc

    def route(r: Any) -> None:
        if urlsplit(r.request.url).netloc in (ours, "") or r.request.url.startswith(
            ("data:", "blob:")
        ):
            r.continue_()
        else:
            elsewhere.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return context, context.new_page(), elsewhere


def test_swagger_ui_lists_the_operations_offline(browser: Any, board_service: BoardService) -> None:
    context, page, elsewhere = _offline_page(browser, board_service)
    try:
        page.goto(f"{board_service.url}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert any("/v1/plans" in p for p in paths), paths
        assert any("/v1/rotas/{rota_id}/publish" in p for p in paths), paths
        assert elsewhere == []
    finally:
        context.close()


def test_redoc_renders_offline(browser: Any, board_service: BoardService) -> None:
    context, page, elsewhere = _offline_page(browser, board_service)
    try:
        page.goto(f"{board_service.url}/redoc")
        # Each operation is a heading in ReDoc's main column (and an entry in its menu).
        heading = page.locator("h2", has_text="Plan a week from the records").first
        heading.wait_for(timeout=30_000)
        assert elsewhere == []
    finally:
        context.close()
