"""Absences that cannot change anything are refused with the same words by the CLI and the API.

One published rota of the small agency (week of Mon 30 Nov 2026) and its problem, written to
files for ``carerota resolve``; each case goes through both and must fail the same way. "Now"
is Wed 2 Dec 12:00 in every case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from carerota.cli import main
from tests.api.service import Service

NOW = "2026-12-02T12:00"


@pytest.fixture(scope="module")
def published(
    service: Service, small_problem: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], str, Path, Path]:
    """(headers, a busy worker, the problem file, the published rota's file)."""
    headers = service.agency()
    created = service.submit(headers, small_problem, time_limit=2, seed=1)
    body = service.wait(created["id"], headers)
    assert body["status"] == "done", body
    response = service.client.post(f"/v1/rotas/{created['id']}/publish", headers=headers)
    assert response.status_code == 200
    folder = tmp_path_factory.mktemp("refusals")
    problem, rota = folder / "problem.json", folder / "rota.json"
    problem.write_text(json.dumps(small_problem))
    rota.write_text(json.dumps(body["rota"]))
    worker = body["rota"]["routes"][0]["worker"]
    return headers, worker, problem, rota


# (worker or None for the busy one, start, end, HTTP status, field, the message both give)
REFUSED = [
    (
        "w-nobody",
        "2026-12-03T08:00",
        "2026-12-03T12:00",
        404,
        "worker",
        "unknown worker 'w-nobody'",
    ),
    (
        None,
        "2026-12-03T12:00",
        "2026-12-03T08:00",
        422,
        "end",
        "the absence ends (2026-12-03T08:00) before it starts (2026-12-03T12:00)",
    ),
    (
        None,
        "2026-12-01T08:00",
        "2026-12-01T18:00",
        422,
        "end",
        "the absence ended (2026-12-01T18:00) before now (2026-12-02T12:00): that part of the "
        "rota is past, nothing can change",
    ),
    (
        None,
        "2027-01-04T08:00",
        "2027-01-04T12:00",
        409,
        None,
        "the absence (2027-01-04T08:00 to 2027-01-04T12:00) is outside the period",
    ),
]


def cli(problem: Path, rota: Path, out: Path, worker: str, start: str, end: str) -> int:
    args = ["resolve", str(problem), str(rota), "--absent", worker, "--from", start, "--to", end]
    return main([*args, "--now", NOW, "-o", str(out), "--time-limit", "2"])


@pytest.mark.parametrize(("who", "start", "end", "status", "field", "message"), REFUSED)
def test_a_refused_absence_says_the_same_in_the_cli_and_the_api(
    service: Service,
    published: tuple[dict[str, str], str, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    who: str | None,
    start: str,
    end: str,
    status: int,
    field: str | None,
    message: str,
) -> None:
    headers, busy, problem, rota = published
    worker = who or busy
    body = {"worker": worker, "start": start, "end": end, "now": NOW}
    response = service.client.post("/v1/absences", json=body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"].startswith(message)
    if field is not None:
        assert error["details"] == [{"loc": field, "message": error["message"]}]

    with pytest.raises(SystemExit) as stop:
        cli(problem, rota, tmp_path / "new.json", worker, start, end)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "new.json").exists()
    # Nothing was stored by the refusal.
    assert service.client.get("/v1/absences", headers=headers).json()["items"] == []


def test_an_absence_that_started_before_now_applies_from_now_and_says_so(
    service: Service,
    published: tuple[dict[str, str], str, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    headers, worker, problem, rota = published
    start, end = "2026-12-02T08:00", "2026-12-03T12:00"
    note = (
        "the absence started (2026-12-02T08:00) before now (2026-12-02T12:00): it applies from now"
    )
    assert cli(problem, rota, tmp_path / "new.json", worker, start, end) == 0
    assert f"carerota: {worker}: {note}" in capsys.readouterr().err
    body = {"worker": worker, "start": start, "end": end, "now": NOW, "time_limit": 2}
    response = service.client.post("/v1/absences", json=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["notes"] == [note]
    done = service.wait(response.json()["resolves"][0]["id"], headers)
    assert done["status"] == "done"
    # The morning's visits before now stay as they were.
    before = json.loads(rota.read_text())
    kept = {
        a["visit"]: a["workers"]
        for a in before["assignments"]
        if worker in a["workers"] and "2026-12-02T08:00" <= a["start"] < NOW
    }
    after = {a["visit"]: a["workers"] for a in done["rota"]["assignments"]}
    assert all(after.get(visit) == crew for visit, crew in kept.items())


def test_absences_list_pages(
    service: Service, published: tuple[dict[str, str], str, Path, Path]
) -> None:
    headers, worker, _, _ = published
    service.client.post(
        "/v1/absences",
        json={"worker": worker, "start": "2026-12-05T08:00", "end": "2026-12-05T09:00", "now": NOW},
        headers=headers,
    )
    seen: list[str] = []
    url: str | None = "/v1/absences?limit=1"
    while url is not None:
        page = service.client.get(url, headers=headers).json()
        assert len(page["items"]) <= 1
        seen += [a["start"] for a in page["items"]]
        url = page["next"]
    assert len(seen) >= 2 and seen == sorted(seen)
