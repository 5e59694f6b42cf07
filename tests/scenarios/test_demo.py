"""`carerota demo`, the first command a new user runs (`make demo`): it solves the bundled agency
and prints the summary, and its weekly cycle plans two weeks from the sample spreadsheets."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from carerota.cli import main
from solver.contract import Problem, Rota
from tests.helpers import verified


def test_demo_solves_the_bundled_agency(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rota.json"
    args = ["demo", "--time-limit", "30", "--effort", "1", "--workers", "1", "--quiet"]
    assert main([*args, "-o", str(out)]) == 0
    text = resources.files("scenarios").joinpath("small.json").read_text(encoding="utf-8")
    problem = Problem.model_validate_json(text)
    rota = Rota.model_validate_json(out.read_text(encoding="utf-8"))
    verified(problem, rota)
    printed = capsys.readouterr().out
    assert f"Staffed {len(rota.assignments):,} of {len(problem.visits):,} visits" in printed


def test_demo_cycle_plans_two_weeks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--cycle", "--method", "heuristic", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("week of ") == 2 and "visits staffed" in printed
