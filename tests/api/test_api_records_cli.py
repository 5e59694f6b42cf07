"""``carerota records import|template`` and ``carerota plan`` on a SQLite database."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from carerota.cli import main
from scenarios.sample_agency import FIRST_WEEK, sample_records
from scenarios.spreadsheets import read_file, write_csv

AGENCY = "Riverside Care"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQLite database with one agency, named by DATABASE_URL."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/carerota.db")
    assert main(["agency", "create", AGENCY]) == 0
    return tmp_path


@pytest.fixture
def sheets(tmp_path: Path) -> list[Path]:
    """A small agency (eight clients) as four CSV files."""
    records = sample_records(clients=8, seed=3)
    paths = []
    for sheet, rows in (
        ("carers", records.workers),
        ("clients", records.clients),
        ("packages", records.packages),
        ("history", records.history),
    ):
        path = tmp_path / f"{sheet}.csv"
        write_csv(path, sheet, rows)  # type: ignore[arg-type]
        paths.append(path)
    return paths


def test_import_previews_writes_once_and_refuses_a_bad_file(
    database: Path, sheets: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(p) for p in sheets]
    assert main(["records", "import", *files, "--agency", AGENCY, "--dry-run"]) == 0
    preview = capsys.readouterr()
    assert "would add" in preview.err
    assert main(["records", "import", *files, "--agency", AGENCY]) == 0
    assert "did add" in capsys.readouterr().err
    assert main(["records", "import", *files, "--agency", AGENCY]) == 0
    assert "did add 0, change 0, remove 0" in capsys.readouterr().err
    bad = database / "clients.csv"
    bad.write_text("id,lat,lon\nc1,53.8,east\n")
    with pytest.raises(SystemExit) as exited:
        main(["records", "import", str(bad), "--agency", AGENCY])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "carerota: error: clients.csv: row 2, column lon: 'east' is not a number "
        "(nothing was imported: 1 error(s))"
    )


def test_template_writes_a_sheet_that_reads_back(database: Path) -> None:
    out = database / "packages.csv"
    assert main(["records", "template", "packages", "-o", str(out)]) == 0
    assert len(read_file(out.name, out.read_bytes()).packages) == 1


def test_plan_two_weeks_in_a_row_keeps_week_ones_faces(
    database: Path, sheets: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["records", "import", *map(str, sheets), "--agency", AGENCY]) == 0
    week_one = database / "w1.json"
    problem_one = database / "p1.json"
    common = ["--agency", AGENCY, "--time-limit", "3", "--seed", "1", "--publish"]
    assert (
        main(
            [
                "plan",
                "--week",
                FIRST_WEEK.isoformat(),
                *common,
                "-o",
                str(week_one),
                "--problem-out",
                str(problem_one),
            ]
        )
        == 0
    )
    assert "visits staffed" in capsys.readouterr().out
    week_two, problem_two = database / "w2.json", database / "p2.json"
    assert (
        main(
            [
                "plan",
                "--week",
                (FIRST_WEEK + timedelta(days=7)).isoformat(),
                *common,
                "-o",
                str(week_two),
                "--problem-out",
                str(problem_two),
            ]
        )
        == 0
    )
    first = json.loads(problem_one.read_text())
    rota = json.loads(week_one.read_text())
    client_of = {v["id"]: v["client"] for v in first["visits"]}
    worked = {(client_of[a["visit"]], w) for a in rota["assignments"] for w in a["workers"]}
    history = json.loads(problem_two.read_text())["history"]["visits"]
    assert worked <= {(h["client"], h["worker"]) for h in history}
    # Week 2's carers are mostly the faces its clients had in week 1.
    later = json.loads(week_two.read_text())
    assert later["metrics"]["familiar_visit_share"] >= 0.8


@pytest.mark.usefixtures("database")
def test_plan_names_a_missing_agency_and_a_bad_week(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plan", "--week", "2027-01-04", "--agency", "Nobody"])
    assert "no agency called 'Nobody'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plan", "--week", "next week", "--agency", AGENCY])
    assert "--week 'next week' is not a date (YYYY-MM-DD)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plan", "--week", "2027-01-04", "--agency", AGENCY])
    assert "no care package runs in the week of 2027-01-04" in capsys.readouterr().err
