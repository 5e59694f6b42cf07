"""What the command line prints for people: its version, progress a log file can hold, and
what ``generate`` wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carerota.cli import main
from solver.checker import check
from solver.contract import Problem, Rota


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == "carerota 0.1.0"


def test_generate_says_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "week.json"
    assert main(["generate", "--clients", "3", "--seed", "1", "-o", str(out)]) == 0
    problem = json.loads(out.read_text())
    err = capsys.readouterr().err
    assert err == (
        f"carerota: wrote {out}: 3 clients, {len(problem['workers'])} workers, "
        f"{len(problem['visits'])} visits, {problem['period']['start']} to "
        f"{problem['period']['end']}\n"
    )


def test_progress_into_a_file_is_whole_lines_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Under capsys stderr is not a terminal, as when it goes to a log file.
    problem = tmp_path / "week.json"
    main(["generate", "--clients", "3", "--seed", "1", "-o", str(problem)])
    capsys.readouterr()
    args = ["solve", str(problem), "-o", str(tmp_path / "rota.json"), "--time-limit", "2"]
    assert main([*args, "--method", "cpsat"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    progress = [line for line in err.splitlines() if "best rota so far" in line]
    assert progress, err
    assert all("objective" not in line and "bound" not in line for line in progress)


def test_teams_option_returns_each_clients_team_and_a_valid_rota(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem_path = tmp_path / "week.json"
    main(["generate", "--clients", "4", "--seed", "2", "-o", str(problem_path)])
    rota_path = tmp_path / "rota.json"
    args = ["solve", str(problem_path), "-o", str(rota_path), "--time-limit", "10", "--quiet"]
    assert main([*args, "--effort", "2", "--teams"]) == 0
    capsys.readouterr()
    problem = Problem.model_validate_json(problem_path.read_text())
    rota = Rota.model_validate_json(rota_path.read_text())
    assert check(problem, rota).ok
    assert rota.teams, "a rota planned with --teams lists the care teams"
    clients = {c.id for c in problem.clients}
    workers = {w.id for w in problem.workers}
    for team in rota.teams:
        assert team.client in clients and team.workers and set(team.workers) <= workers
