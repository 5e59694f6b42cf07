"""What-if scenarios: each change does what it says, bad files name their line, and the
comparison's numbers are the checker's."""

from __future__ import annotations

import json
import random
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from carerota.cli import main
from scenarios import changes as ch
from scenarios.report import (
    ROWS,
    change_against_base,
    diff_rotas,
    format_diff,
    format_text,
    read_variant,
    row_label,
    summarise,
    write_report,
)
from scenarios.whatif import (
    BASE,
    Comparison,
    ScenarioError,
    load_scenario,
    parse_scenario,
    run_scenario,
)
from solver.checker import check
from solver.contract import Problem, Rota
from tests.helpers import verified


@pytest.fixture(scope="module")
def small() -> Problem:
    """The bundled small agency (40 clients, 22 workers, one coordinator k00)."""
    text = resources.files("scenarios").joinpath("small.json").read_text("utf-8")
    return Problem.model_validate_json(text)


def make(problem: Problem, change: dict[str, Any], seed: int = 0) -> Problem:
    """``problem`` with one change given as a scenario file would give it."""
    scenario = parse_scenario(
        json.dumps({"name": "t", "base": "small", "variants": [{"name": "v", "changes": [change]}]})
    )
    return ch.apply(problem, scenario.variants[0].changes[0], random.Random(seed))


def tiny() -> dict[str, Any]:
    """Two carers, a coordinator and three clients on one Monday: solved in a second."""
    day = "2026-11-30"

    def worker(ident: str, role: str, lat: float) -> dict[str, Any]:
        return {
            "id": ident,
            "role": role,
            "home": {"lat": lat, "lon": -1.55},
            "skills": ["hoist"] if ident == "w1" else [],
            "shifts": [{"start": f"{day}T08:00", "end": f"{day}T14:00"}],
            "max_minutes_per_week": 300,
            "contracted_minutes_per_week": 120 if role == "carer" else None,
        }

    return {
        "timezone": "Europe/London",
        "period": {"start": day, "end": day},
        "workers": [
            worker("w1", "carer", 53.8),
            worker("w2", "carer", 53.81),
            worker("k1", "coordinator", 53.805),
        ],
        "clients": [
            {"id": f"c{i}", "location": {"lat": 53.80 + i / 200, "lon": -1.55}, "coordinator": "k1"}
            for i in range(3)
        ],
        "visits": [
            {
                "id": f"v{i}",
                "client": f"c{i}",
                "earliest_start": f"{day}T09:00",
                "latest_start": f"{day}T11:00",
                "duration_minutes": 30,
            }
            for i in range(3)
        ],
        "history": {"visits": [{"client": "c0", "worker": "w1", "date": "2026-11-20"}]},
    }


# ---------------------------------------------------------------------------------------------
# Each change kind


def test_remove_workers_by_id_drops_every_reference(small: Problem) -> None:
    assert any(h.worker == "w001" for h in small.history.visits)
    out = make(small, {"kind": "remove_workers", "ids": ["w001"]})
    assert "w001" not in {w.id for w in out.workers}
    assert len(out.workers) == len(small.workers) - 1
    assert all(h.worker != "w001" for h in out.history.visits)
    assert all("w001" not in c.preferred_workers + c.excluded_workers for c in out.clients)
    assert "w001" in {w.id for w in small.workers}  # the base is untouched


def test_remove_any_three_with_a_skill(small: Problem) -> None:
    change = {"kind": "remove_workers", "count": 3, "skill": "hoist"}
    out = make(small, change)
    gone = {w.id for w in small.workers} - {w.id for w in out.workers}
    assert len(gone) == 3
    assert all("hoist" in w.skills for w in small.workers if w.id in gone)
    assert {w.id for w in make(small, change).workers} == {w.id for w in out.workers}  # seeded


def test_workers_leaving_keep_their_shifts_before_the_date(small: Problem) -> None:
    out = make(small, {"kind": "remove_workers", "ids": ["w000"], "leaving": "2026-12-01"})
    before = next(w for w in small.workers if w.id == "w000").shifts
    after = next(w for w in out.workers if w.id == "w000").shifts
    # w000 keeps the shifts of Monday 30 November, the last day before leaving.
    assert after == [s for s in before if s.start.date() < date(2026, 12, 1)]
    assert 0 < len(after) < len(before)


def test_a_coordinator_with_clients_cannot_just_leave(small: Problem) -> None:
    with pytest.raises(ch.ChangeError, match="oversees 40 clients"):
        make(small, {"kind": "remove_workers", "ids": ["k00"]})


def test_add_workers_like_an_existing_one(small: Problem) -> None:
    out = make(small, {"kind": "add_workers", "like": "w003", "count": 2})
    model = next(w for w in small.workers if w.id == "w003")
    new = [w for w in out.workers if w.id.startswith("w003-new")]
    assert [w.id for w in new] == ["w003-new1", "w003-new2"]
    for w in new:
        assert (w.skills, w.shifts, w.home, w.max_minutes_per_week) == (
            model.skills,
            model.shifts,
            model.home,
            model.max_minutes_per_week,
        )


def test_add_clients_in_the_north_with_one_call_a_day(small: Problem) -> None:
    out = make(small, {"kind": "add_clients", "count": 12, "area": "north", "package_mix": {1: 1}})
    new = [c for c in out.clients if c.id.startswith("new-")]
    assert len(new) == 12
    centre = sum(c.location.lat for c in small.clients) / len(small.clients)
    assert sum(c.location.lat for c in new) / 12 > centre  # north of the base's clients
    assert all(c.coordinator == "k00" for c in new)
    assessed = {h.client for h in out.history.coordinator_visits if h.date.day == 29}
    assert {c.id for c in new} <= assessed
    ids = {c.id for c in new}
    visits = [v for v in out.visits if v.client in ids]
    assert visits and all(
        out.period.start <= v.earliest_start.date() <= out.period.end for v in visits
    )
    for c in ids:  # one care call a day (a weekly domestic call may come on top)
        for day in out.period.days():
            same_day = [v for v in visits if v.client == c and v.earliest_start.date() == day]
            assert len([v for v in same_day if v.duration_minutes != 60 or v.skills]) <= 2


def test_scale_durations(small: Problem) -> None:
    out = make(small, {"kind": "scale_durations", "factor": 1.5})
    for a, b in zip(small.visits, out.visits, strict=True):
        assert b.duration_minutes == max(1, round(a.duration_minutes * 1.5))


def test_widen_and_narrow_windows(small: Problem) -> None:
    wide = make(small, {"kind": "widen_windows", "minutes": 15, "clients": ["c0000"]})
    narrow = make(small, {"kind": "narrow_windows", "minutes": 10})
    for a, w, n in zip(small.visits, wide.visits, narrow.visits, strict=True):
        if a.client == "c0000":
            assert (a.earliest_start - w.earliest_start).seconds == 15 * 60
            assert (w.latest_start - a.latest_start).seconds == 15 * 60
        else:
            assert (w.earliest_start, w.latest_start) == (a.earliest_start, a.latest_start)
        width = (a.latest_start - a.earliest_start).seconds // 60
        assert (n.latest_start - n.earliest_start).seconds // 60 == (
            width - 20 if width >= 20 else 0
        )


def test_travel_mode_and_speeds(small: Problem) -> None:
    out = make(small, {"kind": "travel_mode", "mode": "bike", "workers": ["w002"]})
    modes = {w.id: w.travel_mode for w in out.workers}
    assert modes["w002"] == "bike"
    assert all(modes[w.id] == w.travel_mode for w in small.workers if w.id != "w002")
    slow = make(small, {"kind": "travel_speeds", "scale": 0.5, "road_factor": 1.5})
    assert slow.travel.model == "haversine" and small.travel.model == "haversine"
    assert slow.travel.speeds_kmh["car"] == small.travel.speeds_kmh["car"] / 2
    assert slow.travel.road_factor == 1.5


def test_weights(small: Problem) -> None:
    out = make(small, {"kind": "weights", "weights": {"travel_minute": 3}})
    assert out.weights.travel_minute == 3
    assert out.weights.unassigned_visit == small.weights.unassigned_visit
    policy = make(small, {"kind": "weights", "weights": {"unfamiliar_visit": 30, "faces_cap": 3}})
    assert (policy.weights.unfamiliar_visit, policy.weights.faces_cap) == (30, 3)
    assert small.weights.unfamiliar_visit == 0 and small.weights.faces_cap is None


def test_reassign_clients_and_field_time_in_one_variant() -> None:
    text = """
name: a second coordinator
base: small
variants:
  - name: split the caseload
    changes:
      - {kind: add_workers, like: k00, ids: [k01]}
      - {kind: reassign_clients, from: k00, to: k01, count: 15}
      - {kind: coordinator_field_time, coordinators: [k01], extra_days: 1}
"""
    (_, base), (_, out) = parse_scenario(text).problems()
    assert sum(c.coordinator == "k01" for c in out.clients) == 15
    assert sum(c.coordinator == "k00" for c in out.clients) == 25
    k00 = next(w for w in base.workers if w.id == "k00")
    k01 = next(w for w in out.workers if w.id == "k01")
    assert len(k01.shifts) == len(k00.shifts) + 1
    assert k00.max_minutes_per_week is not None
    assert k01.max_minutes_per_week == k00.max_minutes_per_week + 450  # 09:00-16:30
    added = next(s for s in k01.shifts if s not in k00.shifts)
    assert added.start.weekday() < 5 and added.start.hour == 9
    assert added.start.date() not in {s.start.date() for s in k00.shifts}


# ---------------------------------------------------------------------------------------------
# Bad files name their line


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "name: x\nbase: small\nvariants:\n  - name: a\n    changes:\n"
            "      - kind: hire_everyone\n        count: 3\n",
            6,
            "unknown change kind 'hire_everyone'",
        ),
        (
            "name: x\nbase: small\nvariants:\n  - name: a\n    changes:\n"
            "      - kind: remove_workers\n        ids:\n          - w001\n          - w999\n",
            9,
            "unknown worker 'w999'",
        ),
        (
            "name: x\nbase: small\nvariants:\n  - name: a\n    changes:\n"
            "      - kind: scale_durations\n        factor: lots\n",
            7,
            "factor",
        ),
        ("name: x\nbase: nowhere.json\nvariants:\n  - name: a\n", 2, "'nowhere.json'"),
        ("name: x\nbase: small\nvariants:\n  - name: [a\n", 5, "not YAML"),
        (
            "name: x\nbase:\n  timezone: Europe/London\n  period: {start: 2026-11-30, end: "
            "2026-11-30}\n  workers: []\n  clients:\n    - id: c1\n      location: {lat: 95, "
            "lon: 0}\n  visits: []\nvariants:\n  - name: a\n",
            8,
            "base.clients[0].location.lat: Input should be less than or equal to 90",
        ),
        (
            "name: x\nbase: small\nvariants:\n  - name: a\n    changes:\n"
            "      - {kind: reassign_clients, from: k00, to: w001}\n",
            6,
            "unknown coordinator 'w001'",
        ),
        # Found by tests/solver/test_fuzz_inputs.py: a billion new workers ran until memory ran out,
        (
            "name: x\nbase: small\nvariants:\n  - name: a\n    changes:\n"
            "      - {kind: add_workers, like: w001, count: 1000000000}\n",
            6,
            "count: Input should be less than or equal to 1000",
        ),
        # a window widened by 10**12 minutes overflowed timedelta,
        (
            "name: x\nbase: small\nvariants:\n  - name: a\n    changes:\n"
            "      - {kind: widen_windows, minutes: 1000000000000}\n",
            6,
            "minutes: Input should be less than or equal to 1440",
        ),
        # an infinite factor overflowed round(),
        (
            "name: x\nbase: small\nvariants:\n  - name: a\n    changes:\n"
            "      - {kind: scale_durations, factor: .inf}\n",
            6,
            "factor: Input should be a finite number",
        ),
        # and an inline base's unknown travel model was read as an unknown change kind (KeyError).
        (
            "name: x\nbase:\n  timezone: Europe/London\n  period: {start: 2026-11-30, end: "
            "2026-11-30}\n  travel: {model: null}\n  workers: []\n  clients: []\n  visits: []\n"
            "variants:\n  - name: a\n",
            5,
            "base.travel: Input tag 'None' found using 'model' does not match",
        ),
    ],
)
def test_bad_scenarios_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        list(parse_scenario(text, "s.yaml").problems())
    assert caught.value.line == line
    assert str(caught.value).startswith(f"s.yaml:{line}: ")
    assert words in str(caught.value)


def test_cli_reports_a_bad_scenario_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nbase: small\nvariants:\n  - name: a\n    changes:\n      - kind: x\n")
    assert_exit(["whatif", str(path)], 2)
    assert f"{path}:6: variants[0].changes[0]: unknown change kind 'x'" in capsys.readouterr().err


def assert_exit(argv: list[str], code: int) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == code


# ---------------------------------------------------------------------------------------------
# Solving and comparing


@pytest.fixture(scope="module")
def compared() -> Comparison:
    """The tiny agency and two variants, solved in two worker processes."""
    scenario = parse_scenario(
        json.dumps(
            {
                "name": "tiny",
                "base": tiny(),
                "time_limit": 1,
                "variants": [
                    {"name": "w1 leaves", "changes": [{"kind": "remove_workers", "ids": ["w1"]}]},
                    {"name": "longer", "changes": [{"kind": "scale_durations", "factor": 2}]},
                ],
            }
        )
    )
    seen: list[tuple[int, int]] = []
    result = run_scenario(scenario, processes=2, progress=lambda d, t, _e, _x: seen.append((d, t)))
    # The base and its twin (the noise band's second seed), then the two re-plannings.
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    return result


def test_comparison_numbers_are_the_checkers(compared: Comparison) -> None:
    assert [v.name for v in compared.variants] == [BASE, "w1 leaves", "longer"]
    for v in compared.variants:
        assert v.problem is not None
        report = verified(v.problem, v.rota)
        k, m = v.kpis, report.metrics
        assert v.checker_ok
        assert k.visits_total == m["visits_total"] == 3
        assert k.visits_staffed == m["visits_assigned"]
        assert k.visits_unstaffed == len(v.rota.unassigned)
        assert k.travel_hours * 60 == pytest.approx(m["travel_minutes"])
        assert k.mean_distinct_workers_per_client == m["mean_distinct_workers_per_client"]
        assert k.familiar_visit_share == m["familiar_visit_share"]
        assert k.objective == report.objective
        assert k.coordinator_visits_missing == len(report.shortfalls)
        # Working time from the routes the checker recomputed: visits plus travel between.
        carers = {"w1", "w2"}
        visit = sum(r.visit_minutes for r in v.rota.routes if r.worker in carers)
        travel = sum(r.travel_minutes for r in v.rota.routes if r.worker in carers)
        assert k.carer_hours == pytest.approx((visit + travel) / 60)
    # Every visit fits w2 alone (3 x 30 minutes in a 3-hour window), so all stay staffed.
    assert compared.by_name("w1 leaves").kpis.visits_staffed == 3
    assert compared.by_name("longer").kpis.carer_hours > compared.variants[0].kpis.carer_hours
    # w1's visits were forced to w2; doubled durations no longer fit the base's day, so that
    # variant was solved from scratch rather than compared with a rota that breaks a rule.
    assert compared.by_name("w1 leaves").forced == 3 - sum(
        1 for a in compared.variants[0].rota.assignments if "w1" not in a.workers
    )
    assert compared.by_name("longer").forced is None
    assert "Solved from scratch instead, since the base's days no longer fit: longer." in (
        format_text(compared)
    )


def test_comparison_is_json(compared: Comparison) -> None:
    again = Comparison.model_validate_json(compared.model_dump_json())
    assert [v.kpis for v in again.variants] == [v.kpis for v in compared.variants]
    assert "problem" not in json.loads(compared.model_dump_json())["variants"][0]


def test_report_directory_and_diff(compared: Comparison, tmp_path: Path) -> None:
    written = write_report(compared, tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {"report.md", "report.csv", "kpis.png", "changes.png", "comparison.json"} <= names
    assert "variants/w1-leaves/rota.json" in names
    for png in ("kpis.png", "changes.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = (tmp_path / "report.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [BASE, "w1 leaves", "longer"]
    markdown = (tmp_path / "report.md").read_text()
    assert "| staffed visits | 3 | 3 (=) | 3 (=) |" in markdown
    problem, rota = read_variant(tmp_path, "w1 leaves")
    assert check(problem, rota).ok
    base = compared.variants[0]
    assert base.problem is not None
    changes = diff_rotas(base.problem, base.rota, problem, rota)
    # w1 is gone, so every visit w1 had in the base changed worker.
    had_w1 = {a.visit for a in base.rota.assignments if "w1" in a.workers}
    moved = {c.visit for c in changes if c.change in ("workers", "both")}
    assert had_w1 <= moved


def test_diff_names_what_changed() -> None:
    problem = Problem.model_validate(tiny())
    from solver.options import SolveOptions
    from solver.solve import solve

    rota = solve(problem, SolveOptions(time_limit=1, workers=1))
    verified(problem, rota)
    assert diff_rotas(problem, rota, problem, rota) == []
    other = rota.model_copy(deep=True)
    first = other.assignments[0]
    first.workers = ["w2" if w == "w1" else "w1" for w in first.workers]
    dropped = other.assignments.pop()
    changes = diff_rotas(problem, rota, problem, other)
    assert summarise(changes)["workers"] == 1 and summarise(changes)["unstaffed"] == 1
    assert {c.visit for c in changes} == {first.visit, dropped.visit}
    assert "2 visits differ: 1 changed worker" in format_diff(changes)


def test_cli_whatif_and_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "agency.json"
    base.write_text(json.dumps(tiny()))
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: cli\nbase: agency.json\ntime_limit: 1\nvariants:\n"
        "  - name: faster\n    changes:\n      - {kind: travel_speeds, scale: 2}\n"
    )
    out = tmp_path / "report"
    code = main(["whatif", str(scenario), "-o", str(out), "--processes", "1", "--quiet"])
    assert code == 0
    table = capsys.readouterr().out
    assert "staffed visits" in table and "faster" in table
    assert load_scenario(scenario).base_problem() == Problem.model_validate(tiny())
    assert main(["diff", str(out), "base", "faster"]) == 0
    assert "visits differ" in capsys.readouterr().out


def test_variants_are_reproducible_whatever_the_load(small: Problem) -> None:
    # Two identical problems solved from scratch at the same time in two processes, each
    # spending the same engine moves and CP-SAT effort (not wall time), come back as the same
    # rota. (Re-planned from the base, the default, a variant without changes is the base.)
    scenario = parse_scenario(
        "name: twins\nbase: small\ntime_limit: 1\nmode: from_scratch\nnoise_band: false\n"
        "variants:\n  - name: same again\n"
    )
    result = run_scenario(scenario, processes=2)
    base, twin = result.variants
    assert base.problem == twin.problem == small
    assert twin.rota.assignments == base.rota.assignments
    assert twin.kpis == base.kpis


def test_a_change_from_thursday_leaves_monday_to_wednesday_as_they_were() -> None:
    # Three carers drawn at random leave on Thursday 3 December. Re-planned from the base (the
    # default), the days before are the base's, visit for visit; the report names who was drawn
    # and tells the visits the change forced from those the re-planning chose to move.
    scenario = parse_scenario(
        "name: three leave thursday\nbase: small\ntime_limit: 2\nvariants:\n"
        "  - name: three leave\n"
        "    changes: [{kind: remove_workers, count: 3, leaving: 2026-12-03}]\n"
    )
    result = run_scenario(scenario, processes=2)
    base, leave = result.variants
    assert result.mode == "from_base" and result.noise is not None
    early = {"2026-11-30", "2026-12-01", "2026-12-02"}

    def crews(rota: Rota) -> dict[str, tuple[list[str], str]]:
        return {
            a.visit: (sorted(a.workers), a.start.isoformat())
            for a in rota.assignments
            if a.start.date().isoformat() in early
        }

    assert crews(leave.rota) == crews(base.rota)
    assert leave.checker_ok
    # The three drawn carers, by name, and only they lost shifts.
    assert len(leave.drawn) == 3 and all(d.endswith("(fewer shifts)") for d in leave.drawn)
    names = {w.name for w in base.problem.workers} if base.problem else set()
    assert {d.removesuffix(" (fewer shifts)") for d in leave.drawn} <= names
    assert leave.forced and leave.forced > 0 and leave.moved is not None
    text = format_text(result)
    assert f"three leave drew: {', '.join(leave.drawn)}" in text
    assert "Noise band: the base solved with the next seed differs in" in text
    assert "visits the change forced" in text


def test_from_scratch_is_still_an_option() -> None:
    scenario = parse_scenario(
        "name: scratch\nbase: small\ntime_limit: 1\nmode: from_scratch\nnoise_band: false\n"
        "variants:\n  - name: same again\n"
    )
    result = run_scenario(scenario, processes=1)
    assert result.mode == "from_scratch" and result.noise is None
    assert result.variants[1].forced is None
    assert "visits the change forced" not in format_text(result)


def test_the_change_chart_moves_shares_in_points_and_says_which_way_is_better() -> None:
    # A familiar share from 40% to 50% is ten points, not a quarter more.
    assert change_against_base(0.5, 0.4, "share") == pytest.approx((10.0, "+10.0 pp"))
    assert change_against_base(120.0, 100.0, "hours") == pytest.approx((20.0, "+20%"))
    assert change_against_base(3.0, 0.0, "count") == (0.0, "")
    labels = {r.field: row_label(r) for r in ROWS}
    assert labels["familiar_visit_share"] == "familiar-visit share (higher is better)"
    assert labels["travel_hours"] == "travel hours (lower is better)"
    assert labels["carer_hours"] == "carer hours (visits + travel)"
