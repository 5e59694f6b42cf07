"""An agency of its own on the board's service, with a published rota, for browser tests that
change what is published (absences, re-solves) without disturbing the board's shared rota."""

from __future__ import annotations

import time
from typing import Any

import httpx

DAY2 = "2026-12-01"


class Agency:
    """An agency of its own on the board's service, with a published rota."""

    def __init__(self, client: httpx.Client, key: str, problem: dict[str, Any]) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {key}"}
        response = self.client.post(
            "/v1/rotas",
            json={"problem": problem, "options": {"time_limit": 3, "seed": 1}},
            headers=self.headers,
        )
        assert response.status_code == 202, response.text
        self.rota = self.wait(response.json()["id"])
        assert self.post(f"/v1/rotas/{self.rota['id']}/publish").status_code == 200
        self.timezone = problem["timezone"]

    def post(self, url: str, body: Any = None) -> httpx.Response:
        return self.client.post(url, json=body, headers=self.headers)

    def wait(self, rota_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 90
        while True:
            body: dict[str, Any] = self.client.get(
                f"/v1/rotas/{rota_id}", headers=self.headers
            ).json()
            if body["status"] in ("done", "failed", "cancelled"):
                assert body["status"] == "done", body
                return body
            assert time.monotonic() < deadline, body["status"]
            time.sleep(0.2)

    def busiest_on_day2(self) -> str:
        day2 = [r for r in self.rota["rota"]["routes"] if r["date"] == DAY2]
        worker: str = max(day2, key=lambda r: len(r["stops"]))["worker"]
        return worker
