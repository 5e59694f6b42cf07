"""Agencies are kept apart: another agency's ids answer 404, exactly like unknown ones."""

from __future__ import annotations

import pytest

from tests.api.service import Service, Solved


def test_another_agencys_rota_does_not_exist_for_you(service: Service, solved: Solved) -> None:
    stranger = service.agency()
    rota = f"/v1/rotas/{solved.rota_id}"
    worker = solved.body["rota"]["routes"][0]["worker"]
    for method, url in (
        ("GET", rota),
        ("GET", f"{rota}/events"),
        ("GET", f"{rota}/explain"),
        ("POST", f"{rota}/publish"),
        ("DELETE", rota),
        ("GET", f"{rota}/workers/{worker}/runsheet"),
        ("GET", f"{rota}/workers/{worker}/calendar.ics"),
        ("POST", f"{rota}/workers/{worker}/links"),
    ):
        theirs = service.client.request(method, url, headers=stranger)
        unknown = service.client.request(
            method, url.replace(solved.rota_id, "rota_000000000000000000000000"), headers=stranger
        )
        assert theirs.status_code == unknown.status_code == 404, (method, url, theirs.text)
        assert theirs.json()["error"]["code"] == "not_found"
    # The owner still sees it, unchanged.
    mine = service.client.get(rota, headers=solved.headers).json()
    assert mine["status"] == "done" and mine["published"] == solved.body["published"]


def test_lists_show_only_your_own_rotas(service: Service, solved: Solved) -> None:
    stranger = service.agency()
    assert service.client.get("/v1/rotas", headers=stranger).json()["items"] == []
    own = service.client.get("/v1/rotas?limit=200", headers=solved.headers).json()["items"]
    assert solved.rota_id in [r["id"] for r in own]


def test_a_parent_must_be_your_own(service: Service, solved: Solved) -> None:
    stranger = service.agency()
    response = service.client.post("/v1/rotas", json={"parent": solved.rota_id}, headers=stranger)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("key", ["crk_not-a-key", "", "Basic abc"])
def test_bad_keys_are_refused(service: Service, key: str) -> None:
    response = service.client.get("/v1/rotas", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
