"""The ``carerota`` command line with bad input, and ``carerota check`` on hand-made rotas.

Bad input ends with exit code 2 and exactly one line on stderr, ``carerota: error: ...``, that
names the file and the field path; never a traceback. ``check`` returns 0 for a valid rota and 1
when it finds a breach; ``explain`` prices one by term. ``solve`` and ``demo`` are not run here.

The rotas are for ``shared/examples/tiny.json`` (Mon 30 Nov and Tue 1 Dec 2026):

- Amy: Ann 07:45-08:15, Ben 08:45-09:30 with Bob (the hoist double-up), Dot 12:00; on Tuesday
  Ann 07:45 and Dot 12:00 (she is pinned there).
- Cat: Col 16:30 and 20:00 on Monday (dementia, medication), 16:30 on Tuesday.
- Kate shadows Ann and Ben on Monday (November ends that day) and Ann on Tuesday.
- Ben's Monday evening double-up is unstaffed: Bob is the only hoist-trained carer on shift.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from carerota.cli import main
from solver.checker import check
from solver.contract import Problem, Rota

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"
TINY = EXAMPLES / "tiny.json"


# ---------------------------------------------------------------------------------------------
# Builders


def write(path: Path, payload: Any) -> str:
    path.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return str(path)


def tiny() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(TINY.read_text(encoding="utf-8"))
    return raw


def job(visit: str, start: str, *workers: str) -> dict[str, Any]:
    return {"visit": visit, "workers": list(workers), "start": start}


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The single line on stderr; there must be nothing else, and no traceback anywhere."""
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("carerota: error: "), err
    assert "Traceback" not in err + out
    return lines[0]


def fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command line, which must exit with code 2; return its one error line."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    return one_error_line(capsys)


@pytest.fixture
def valid_rota() -> dict[str, Any]:
    """A valid rota for tiny.json that also meets the coordinator rule."""
    return {
        "schema_version": 1,
        "status": "feasible",
        "assignments": [
            job("v-ann-mon-am", "2026-11-30T07:45", "w-amy"),
            job("v-ben-mon-am", "2026-11-30T08:45", "w-amy", "w-bob"),
            job("v-dot-mon-lunch", "2026-11-30T12:00", "w-amy"),
            job("v-col-mon-tea", "2026-11-30T16:30", "w-cat"),
            job("v-col-mon-bed", "2026-11-30T20:00", "w-cat"),
            job("v-ann-tue-am", "2026-12-01T07:45", "w-amy"),
            job("v-dot-tue-lunch", "2026-12-01T12:00", "w-amy"),
            job("v-col-tue-tea", "2026-12-01T16:30", "w-cat"),
        ],
        "coordinator_visits": [
            {"visit": visit, "coordinator": "k-kate", "mode": "shadow"}
            for visit in ("v-ann-mon-am", "v-ben-mon-am", "v-ann-tue-am")
        ],
        "unassigned": [
            {
                "visit": "v-ben-mon-pm",
                "reason": "only one hoist-trained carer (w-bob) is on shift 19:00-20:45 "
                "on Mon 30 Nov",
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# Bad input: exit 2, one line


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.json"
    line = fails(["check", str(missing), str(missing)], capsys)
    assert line == f"carerota: error: {missing}: cannot read: No such file or directory"


def test_file_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sheet = tmp_path / "export.csv"
    sheet.write_text("id,client,start\nv-1,c-ann,08:00\n", encoding="utf-8")
    line = fails(["check", str(sheet), str(sheet)], capsys)
    assert line.startswith(f"carerota: error: {sheet}: not JSON: ")
    assert "line 1 column 1" in line


def test_unknown_client_names_the_field_path(
    tmp_path: Path, valid_rota: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tiny()
    raw["visits"][1]["client"] = "c-zz"
    problem = write(tmp_path / "problem.json", raw)
    rota = write(tmp_path / "rota.json", valid_rota)
    line = fails(["check", problem, rota], capsys)
    assert line == (
        f"carerota: error: {problem}: invalid problem: visits[1].client: unknown client 'c-zz'"
    )


def test_many_errors_still_make_one_line(
    tmp_path: Path, valid_rota: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tiny()
    for visit in raw["visits"]:
        visit["client"] = "c-zz"
    problem = write(tmp_path / "problem.json", raw)
    line = fails(["check", problem, write(tmp_path / "rota.json", valid_rota)], capsys)
    # Nine bad visits: the first three are named, then a count of the rest.
    assert "visits[0].client: unknown client 'c-zz'; visits[1].client" in line
    assert line.endswith("(and 6 more)")


def test_out_of_range_value_is_shown(
    tmp_path: Path, valid_rota: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tiny()
    raw["clients"][2]["location"]["lat"] = 91
    problem = write(tmp_path / "problem.json", raw)
    line = fails(["check", problem, write(tmp_path / "rota.json", valid_rota)], capsys)
    assert line.endswith(
        "clients[2].location.lat: Input should be less than or equal to 90 (got 91)"
    )


def test_invalid_rota_is_bad_input_too(
    tmp_path: Path, valid_rota: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    valid_rota["assignments"][0]["start"] = "30/11/2026 07:45"
    rota = write(tmp_path / "rota.json", valid_rota)
    line = fails(["check", str(TINY), rota], capsys)
    assert line.startswith(f"carerota: error: {rota}: invalid rota: assignments[0].start: ")
    assert "'30/11/2026 07:45' is not a local datetime" in line


def test_generate_needs_a_client(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("scenarios.generator")
    line = fails(["generate", "--clients", "0"], capsys)
    assert line == "carerota: error: --clients must be at least 1, not 0"


# ---------------------------------------------------------------------------------------------
# carerota check


def test_check_passes_a_valid_rota(
    tmp_path: Path, valid_rota: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    Rota.model_validate(valid_rota)
    rota = write(tmp_path / "rota.json", valid_rota)
    assert main(["check", str(TINY), rota]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("rota is valid: 0 breaches, 0 coordinator-rule shortfalls")
    assert err == ""


def test_explain_prices_a_rota_by_term_as_the_checker_does(
    tmp_path: Path, valid_rota: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rota = write(tmp_path / "rota.json", valid_rota)
    assert main(["explain", str(TINY), rota]) == 0
    out, err = capsys.readouterr()
    problem = Problem.model_validate_json(TINY.read_text(encoding="utf-8"))
    report = check(problem, Rota.model_validate(valid_rota))
    assert out.startswith(f"Objective {report.objective:.1f}\nBy term:")
    # Ben's Monday evening double-up is the one unstaffed visit: 10,000.
    assert "unstaffed visits                              10000.0" in out
    assert "Continuity of carer:" in out and err == ""


def test_check_fails_a_worker_without_the_skill(
    tmp_path: Path, valid_rota: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # Bob instead of Amy on Ann's Monday medication visit; Bob has only hoist. His time is free:
    # Ann 07:45-08:15, then Ben at 08:45 as before.
    valid_rota["assignments"][0] = job("v-ann-mon-am", "2026-11-30T07:45", "w-bob")
    rota = write(tmp_path / "rota.json", valid_rota)
    assert main(["check", str(TINY), rota]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("rota is INVALID: 1 breach,")
    assert "[skills] w-bob lacks medication for v-ann-mon-am" in out
    assert err == ""
