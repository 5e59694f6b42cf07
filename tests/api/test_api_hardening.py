"""What issue 18's probe found beyond the body limits: pages without security headers, agency
keys accepted in URLs, one agency filling the shared queue, and credentials outliving their
revocation. Each test fails on the service as the probe found it (commit b6a06e1).
"""

from __future__ import annotations

from typing import Any

from tests.api.service import Service, Solved


def sheet_url(solved: Solved, what: str = "runsheet") -> str:
    worker = solved.body["rota"]["routes"][0]["worker"]
    return f"/v1/rotas/{solved.rota_id}/workers/{worker}/{what}"


def test_every_html_page_has_a_content_security_policy_and_nosniff(
    service: Service, solved: Solved
) -> None:
    sheet = service.client.get(f"{sheet_url(solved)}?format=html", headers=solved.headers)
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/html")
    assert sheet.headers["x-content-type-options"] == "nosniff"
    policy = sheet.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy  # no script at all
    assert "frame-ancestors 'none'" in policy
    for page in ("/docs", "/redoc", "/board/"):
        response = service.client.get(page)
        assert response.status_code == 200, page
        assert response.headers["x-content-type-options"] == "nosniff", page
        assert "default-src 'none'" in response.headers["content-security-policy"], page


def test_json_answers_are_nosniff_too(service: Service, solved: Solved) -> None:
    for response in (
        service.client.get(f"/v1/rotas/{solved.rota_id}", headers=solved.headers),
        service.client.get("/v1/rotas"),  # a 401, written by the error handler
    ):
        assert response.headers["x-content-type-options"] == "nosniff"


def test_an_agency_key_in_the_url_is_refused_even_where_carer_links_may_be(
    service: Service, solved: Solved
) -> None:
    key = solved.headers["Authorization"].removeprefix("Bearer ")
    for what in ("runsheet", "runsheet?format=html", "calendar.ics"):
        joiner = "&" if "?" in what else "?"
        response = service.client.get(f"{sheet_url(solved, what)}{joiner}token={key}")
        assert response.status_code == 401, (what, response.text)
        assert "Authorization" in response.json()["error"]["message"]
    # The same key in the header still reads it, and a carer's link still works in the URL.
    assert service.client.get(sheet_url(solved), headers=solved.headers).status_code == 200
    link: dict[str, Any] = service.client.post(
        sheet_url(solved, "links"), headers=solved.headers
    ).json()
    assert service.client.get(link["calendar_url"]).status_code == 200
