"""Coordinator caseload: answers by hand on a tiny agency, and consistent as field time grows."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from carerota.cli import main
from scenarios.caseload import CaseloadError, caseload, format_caseload
from solver.contract import Problem


def eight_neighbours(budget: int) -> Problem:
    """Kim has one shift, Monday 09:00-12:00, and ``budget`` minutes of field time; eight
    clients live in one block of flats (no travel between them), each with a 30-minute visit
    starting between 09:00 and 11:30 on Monday."""
    raw: dict[str, Any] = {
        "timezone": "Europe/London",
        "period": {"start": "2026-11-30", "end": "2026-12-06"},
        "workers": [
            {
                "id": "k-kim",
                "role": "coordinator",
                "home": {"lat": 53.79, "lon": -1.55},
                "shifts": [{"start": "2026-11-30T09:00", "end": "2026-11-30T12:00"}],
                "max_minutes_per_week": budget,
            },
            {
                "id": "w-amy",
                "home": {"lat": 53.79, "lon": -1.55},
                "shifts": [{"start": "2026-11-30T08:00", "end": "2026-11-30T16:00"}],
            },
        ],
        "clients": [
            {"id": f"c{i}", "location": {"lat": 53.80, "lon": -1.55}, "coordinator": "k-kim"}
            for i in range(8)
        ],
        "visits": [
            {
                "id": f"v{i}",
                "client": f"c{i}",
                "earliest_start": "2026-11-30T09:00",
                "latest_start": "2026-11-30T11:30",
                "duration_minutes": 30,
            }
            for i in range(8)
        ],
    }
    return Problem.model_validate(raw)


def test_capacity_by_hand() -> None:
    # 90 minutes of field time hold three 30-minute visits: 3 clients a week, and a 30-day
    # month holds 30/7 weeks: floor(3 x 30 / 7) = 12 clients.
    answer = caseload(eight_neighbours(90), "k-kim", targets=[17, 26], time_limit=5)
    assert answer.capacity.per_period == answer.capacity.per_period_bound == 3
    assert answer.capacity.per_month == 12
    assert answer.current_caseload == 8
    assert "k-kim can oversee 12 clients" in answer.sentence()
    # 17 clients a month need 4 a week (4 x 30 / 7 = 17.1): 120 minutes, 30 more than now.
    seventeen, twenty_six = answer.needs
    assert (seventeen.budget_minutes, seventeen.extra_minutes, seventeen.proven) == (120, 30, True)
    # 26 a month need 7 a week, but the 3-hour shift holds only six 30-minute visits.
    assert twenty_six.budget_minutes is None and twenty_six.proven
    assert "more than k-kim's shifts hold" in format_caseload(answer)


def test_more_field_time_never_lowers_the_caseload() -> None:
    seen = []
    for budget in range(0, 331, 30):
        answer = caseload(eight_neighbours(budget), "k-kim", targets=[1], time_limit=5)
        seen.append(answer.capacity.per_month)
        # Each visit takes 30 minutes and the shift 180: min(budget // 30, 6) clients a week.
        assert answer.capacity.per_period == min(budget // 30, 6)
    assert seen == sorted(seen)


def test_the_curve_is_monotone_on_a_generated_agency() -> None:
    text = resources.files("scenarios").joinpath("small.json").read_text("utf-8")
    answer = caseload(Problem.model_validate_json(text), "k00", targets=[60], time_limit=0.5)
    budgets = [p.budget_minutes for p in answer.curve]
    assert budgets == sorted(budgets) and len(budgets) >= 3
    found = [p.per_period for p in answer.curve]
    bounds = [p.per_period_bound for p in answer.curve]
    assert found == sorted(found) and bounds == sorted(bounds)
    assert all(f <= b for f, b in zip(found, bounds, strict=True))
    (need,) = answer.needs
    assert need.budget_minutes is not None
    # The budget found reaches 60 a month; a quarter hour less does not (in what was found).
    by_budget = {p.budget_minutes: p for p in answer.curve}
    assert by_budget[need.budget_minutes].per_month >= 60
    assert by_budget[need.budget_minutes - 15].per_month < 60


def test_only_a_coordinator_has_a_caseload() -> None:
    with pytest.raises(CaseloadError, match="unknown worker 'k-nobody'"):
        caseload(eight_neighbours(90), "k-nobody")
    with pytest.raises(CaseloadError, match="is a carer, not a coordinator"):
        caseload(eight_neighbours(90), "w-amy")


def test_cli_caseload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text(eight_neighbours(90).model_dump_json())
    assert main(["caseload", str(path), "--coordinator", "k-kim", "--caseload", "17"]) == 0
    out = capsys.readouterr().out
    assert "k-kim can oversee 12 clients" in out and "+30 min" in out
    assert main(["caseload", str(path), "--coordinator", "k-kim", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["capacity"]["per_month"] == 12
    with pytest.raises(SystemExit) as caught:
        main(["caseload", str(path), "--coordinator", "w-amy"])
    assert caught.value.code == 2
