"""The board's own HTTP routes, without a browser: pages, assets and the problem a rota solved."""

from __future__ import annotations

from typing import Any

from api.board.router import ASSETS
from tests.browser.board import BoardService


def test_pages_load_without_a_key_and_forbid_outside_scripts(board_service: BoardService) -> None:
    client = board_service.client
    for path in ("/board/", "/board/rotas/rota_anything"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
    bare = client.get("/board", follow_redirects=False)
    assert (bare.status_code, bare.headers["location"]) == (308, "/board/")


def test_only_the_listed_assets_are_served(board_service: BoardService) -> None:
    client = board_service.client
    for name, media_type in ASSETS.items():
        response = client.get(f"/board/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == media_type
    for name in ("router.py", "index.html", "..%2Frouter.py", "%2E%2E%2F__init__.py"):
        response = client.get(f"/board/static/{name}")
        assert response.status_code == 404, name
        assert response.json()["error"]["code"] == "not_found"


def test_problem_needs_the_agencys_key(
    board_service: BoardService, solved: dict[str, Any], week: dict[str, Any]
) -> None:
    client = board_service.client
    path = f"/board/api/rotas/{solved['id']}/problem"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer crk_wrong"}).status_code == 401
    response = client.get(path, headers=board_service.headers)
    assert response.status_code == 200
    problem = response.json()
    assert [v["id"] for v in problem["visits"]] == [v["id"] for v in week["visits"]]
    assert problem["clients"][0]["care_plan"] == week["clients"][0]["care_plan"]
    missing = client.get("/board/api/rotas/rota_missing/problem", headers=board_service.headers)
    assert missing.status_code == 404
    # Another agency's rota answers exactly like one that does not exist.
    other = {"Authorization": f"Bearer {board_service.new_agency('Elsewhere Care')}"}
    assert client.get(path, headers=other).status_code == 404
