"""Continuity measures on a tiny agency, computed by hand, and weeks planned in a row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from carerota.cli import main
from solver import continuity
from solver.checker import POLICY_NAMES, check, format_report
from solver.continuity import measure
from solver.contract import Problem, Rota
from solver.explain import explain, format_explanation
from solver.options import SolveOptions
from solver.solve import solve
from solver.weeks import moved_on, shifted, solve_weeks, with_history
from tests import builders as b
from tests.helpers import verified

DAYS = ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]  # Mon-Fri


def _shifts(days: list[str]) -> list[dict[str, str]]:
    return [{"start": f"{d}T07:00", "end": f"{d}T10:00"} for d in days]


def _visit(ident: str, client: str, day: str, required: int = 1) -> dict[str, Any]:
    return {
        "id": ident,
        "client": client,
        "earliest_start": f"{day}T08:00",
        "latest_start": f"{day}T08:00",
        "duration_minutes": 30,
        "workers_required": required,
    }


@pytest.fixture
def tiny() -> Problem:
    """Two clients; w1 works Mon-Thu, w2 every weekday; c1 knows w1, w3 and w4, c2 prefers w2."""
    home = {"lat": 53.80, "lon": -1.55}
    return Problem.model_validate(
        {
            "timezone": "Europe/London",
            "period": {"start": "2026-11-30", "end": "2026-12-06"},
            "workers": [
                {"id": "w1", "home": home, "shifts": _shifts(DAYS[:4])},
                {"id": "w2", "home": home, "shifts": _shifts(DAYS)},
                {"id": "w3", "home": home},
                {"id": "w4", "home": home},
            ],
            "clients": [
                {"id": "c1", "location": home},
                {"id": "c2", "location": home, "preferred_workers": ["w2"]},
            ],
            "visits": [
                _visit("v1", "c1", DAYS[0]),
                _visit("v2", "c1", DAYS[1]),
                _visit("v3", "c1", DAYS[2]),
                _visit("v4", "c1", DAYS[3], required=2),
                _visit("v5", "c2", DAYS[4]),
            ],
            "history": {
                "visits": [
                    {"client": "c1", "worker": "w1", "date": "2026-11-20"},
                    {"client": "c1", "worker": "w3", "date": "2026-11-25"},
                    {"client": "c1", "worker": "w4", "date": "2026-11-10"},
                ]
            },
        }
    )


def _rota(staffing: dict[str, list[str]]) -> Rota:
    day = {f"v{i + 1}": d for i, d in enumerate(DAYS)}
    return Rota.model_validate(
        {
            "status": "feasible",
            "assignments": [
                {"visit": v, "workers": ws, "start": f"{day[v]}T08:00"}
                for v, ws in staffing.items()
            ],
        }
    )


def test_measures_by_hand(tiny: Problem) -> None:
    rota = _rota({"v1": ["w1"], "v2": ["w2"], "v3": ["w1"], "v4": ["w1", "w2"], "v5": ["w2"]})
    m = measure(tiny, rota)
    # This week: c1 sees w1 and w2, c2 sees w2: (2 + 1) / 2.
    assert m.faces_per_client_week == pytest.approx(1.5)
    # 14 days (from 23 Nov): c1 adds w3 (25 Nov) = 3, c2 1: 2.0. 28 days (from 9 Nov): c1 adds
    # w4 (10 Nov) and w1 (20 Nov, already counted) = 4, c2 1: 2.5.
    assert m.faces_per_client_14_days == pytest.approx(2.0)
    assert m.faces_per_client_28_days == pytest.approx(2.5)
    # Slots: v1 w1 yes, v2 w2 no, v3 w1 yes, v4 w1 yes + w2 no, v5 w2 (preferred) yes: 4 of 6.
    assert m.familiar_share == pytest.approx(4 / 6)
    # A familiar carer with a shift could take: v1-v3 (w1) one each, v4 one of its two (only
    # w1: w3 and w4 have no shifts), v5 (w2): 5 of 6.
    assert m.familiar_ceiling == pytest.approx(5 / 6)
    # Fewest faces: c1's double-up needs two carers; c2 one: (2 + 1) / 2.
    assert m.fewest_faces_possible == pytest.approx(1.5)
    # COC for c1: w1 3 slots, w2 2, N = 5: (9 + 4 - 5) / (5 * 4) = 0.4; c2 has one slot only.
    assert m.continuity_of_care_index == pytest.approx(0.4)
    first = m.most_faces[0]
    assert (first.client, first.faces, first.unfamiliar, first.fewest_possible) == ("c1", 2, 1, 2)
    assert "no fewer carers" in first.why and "1 visit needs two carers" in first.why


def test_one_carer_for_everything_scores_full_continuity(tiny: Problem) -> None:
    rota = _rota({"v1": ["w2"], "v2": ["w2"], "v3": ["w2"]})
    m = measure(tiny, rota)
    assert m.faces_per_client_week == 1.0
    assert m.continuity_of_care_index == 1.0
    assert m.familiar_share == 0.0  # w2 is not c1's


def test_extra_faces_are_explained(tiny: Problem) -> None:
    # Without the double-up, w1 or w2 alone could do all of c1's visits: 2 faces where 1 would
    # do, and w2 is not one c1 knew.
    rota = _rota({"v1": ["w1"], "v2": ["w2"], "v3": ["w1"]})
    problem = tiny.model_copy(update={"visits": tiny.visits[:3] + tiny.visits[4:]})
    first = measure(problem, rota).most_faces[0]
    assert (first.faces, first.fewest_possible) == (2, 1)
    assert first.why == (
        "1 more than the 1 its visits' skills and shifts need; 1 not known to the client before"
    )


def test_history_carries_each_week_into_the_next(tiny: Problem) -> None:
    rota = _rota({"v1": ["w1"], "v2": ["w2"]})
    nxt = with_history(shifted(tiny, 7), tiny, rota)
    assert nxt.period.start.isoformat() == "2026-12-07"
    assert nxt.visits[0].earliest_start.isoformat() == "2026-12-07T08:00:00"
    added = [(h.client, h.worker, h.date.isoformat()) for h in nxt.history.visits[3:]]
    assert added == [("c1", "w1", "2026-11-30"), ("c1", "w2", "2026-12-01")]


def test_weeks_in_a_row_feed_history_and_check(tiny: Problem) -> None:
    weeks = solve_weeks(tiny, 3, SolveOptions(time_limit=2, method="heuristic"))
    assert [p.period.start.isoformat() for p, _ in weeks] == [
        "2026-11-30",
        "2026-12-07",
        "2026-12-14",
    ]
    for k, (problem, rota) in enumerate(weeks):
        verified(problem, rota)
        earlier = [r for _, r in weeks[:k]]
        # Every earlier week's staffed slots are in this week's history, and nothing else new.
        slots = sum(len(a.workers) for r in earlier for a in r.assignments)
        assert len(problem.history.visits) == len(tiny.history.visits) + slots
    assert weeks[2][1].metrics is not None and weeks[2][1].metrics.continuity is not None


def test_weeks_refuse_a_period_that_is_not_a_week(tiny: Problem) -> None:
    short = tiny.model_copy(
        update={"period": tiny.period.model_copy(update={"end": tiny.period.start})}
    )
    with pytest.raises(ValueError, match="7-day period; this one has 1 days"):
        solve_weeks(short, 2)


POLICY = {
    "faces_cap": 1,
    "faces_over_cap": 100,
    "primary_carer_share": 0.8,
    "primary_share_shortfall": 10,
    "face_travel_minutes": 20,
    "unfamiliar_visit": 7,
}


def _priced(problem: Problem, **weights: Any) -> Problem:
    return problem.model_copy(update={"weights": problem.weights.model_copy(update=weights)})


def test_policy_terms_by_hand(tiny: Problem) -> None:
    rota = _rota({"v1": ["w1"], "v2": ["w2"], "v3": ["w1"], "v4": ["w1", "w2"], "v5": ["w2"]})
    report = check(_priced(tiny, **POLICY), rota)
    assert report.ok, format_report(report)
    # c1 sees w1 and w2 in the week, one above the cap of 1: 100. c1's primary w1 has 3 of 5
    # slots, 0.8 x 5 = 4 wanted: 1 short, 10; c2's w2 has 1 of 1. One face beyond the first
    # (c1's w2) is worth 20 travel minutes at 1 a minute: 20. c1 does not know w2, who takes
    # two of its slots (v2, and v4 beside w1); c2 prefers w2: 2 slots at 7, 14.
    assert report.terms["faces_over_cap"] == 100
    assert report.terms["primary_share_shortfall"] == pytest.approx(10)
    assert report.terms["face_travel_minutes"] == 20
    assert report.terms["unfamiliar_visit"] == 14


def test_no_policy_keeps_the_contracts_terms(tiny: Problem) -> None:
    rota = _rota({"v1": ["w1"], "v2": ["w2"]})
    assert not set(check(tiny, rota).terms) & {
        "faces_over_cap",
        "primary_share_shortfall",
        "face_travel_minutes",
        "unfamiliar_visit",
    }


@pytest.mark.parametrize("method", ["heuristic", "cpsat"])
def test_solver_prices_the_policy_as_the_checker_does(tiny: Problem, method: str) -> None:
    problem = _priced(tiny, **POLICY)
    rota = solve(problem, SolveOptions(time_limit=3, method=method))
    report = verified(problem, rota)  # the rota's objective is the checker's
    assert rota.metrics is not None and rota.metrics.objective_terms is not None
    for name in POLICY_NAMES:
        assert rota.metrics.objective_terms[name] == pytest.approx(report.terms[name])


@pytest.mark.parametrize(("price", "expected"), [(0, "w-bea"), (10, "w-amy")])
def test_a_price_per_unknown_visit_sends_the_carer_the_client_knows(
    price: float, expected: str
) -> None:
    # Amy (whom Ann knows) is at Bob's until 08:00, 9 minutes from Ann; Bea (whom Ann does not
    # know) is at Cy's, 3 minutes away. Faces are free, so only travel and the policy tell them
    # apart: Bea for 3 minutes, or Amy for 9 once a visit by an unknown carer costs 10.
    prob = b.problem(
        "2026-11-23",
        workers=[b.carer("w-amy"), b.carer("w-bea")],
        clients=[b.client("c-ann", b.ANN), b.client("c-bob", b.BOB), b.client("c-cy", b.CY)],
        visits=[
            b.visit("v-bob", "c-bob", "07:30", pinned_workers=["w-amy"]),
            b.visit("v-cy", "c-cy", "07:30", pinned_workers=["w-bea"]),
            b.visit("v-ann", "c-ann", "08:15"),
        ],
        history=b.knows(("w-amy", "c-ann")),
        weights={"distinct_worker": 0, "unfamiliar_worker": 0, "unfamiliar_visit": price},
    )
    rota = solve(prob, SolveOptions(time_limit=5, seed=0, workers=1))
    report = verified(prob, rota)
    ann = next(a for a in rota.assignments if a.visit == "v-ann")
    assert ann.workers == [expected]
    # Bob's and Cy's carers are unknown to them: two slots priced (Amy is known at Ann's).
    assert report.terms.get("unfamiliar_visit", 0) == price * 2


def test_a_primary_carer_share_keeps_a_clients_visits_with_one_carer(tiny: Problem) -> None:
    # Everyone lives at the client's door and familiarity is free, so only the policy tells the
    # carers apart: c1's double-up takes w1 and w2, and the share (all slots) is best met by
    # giving v1-v3 to one of them: 4 of 5 slots, 1 short, against 2 short for any split.
    problem = _priced(
        tiny,
        distinct_worker=0,
        unfamiliar_worker=0,
        primary_carer_share=1.0,
        primary_share_shortfall=1000,
    )
    rota = solve(problem, SolveOptions(time_limit=5, method="cpsat"))
    report = verified(problem, rota)
    crews = {a.visit: a.workers for a in rota.assignments}
    assert len({crews[v][0] for v in ("v1", "v2", "v3")}) == 1
    assert report.terms["primary_share_shortfall"] == pytest.approx(1000)


def test_explain_reports_continuity_in_plain_words(tiny: Problem) -> None:
    rota = _rota({"v1": ["w1"], "v2": ["w2"], "v3": ["w1"], "v4": ["w1", "w2"], "v5": ["w2"]})
    text = format_explanation(explain(tiny, rota))
    assert "carers per client: 1.50 a week, 2.00 over 14 days, 2.50 over 28 days" in text
    assert "visits by a familiar carer: 66.7% (the shifts allow 83.3%)" in text
    assert "c1             2 carers: no fewer carers have the skills and shifts" in text


def test_solve_weeks_on_the_command_line(
    tiny: Problem, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = tmp_path / "week.json"
    problem.write_text(tiny.model_dump_json(), encoding="utf-8")
    out = tmp_path / "rota.json"
    argv = ["solve", str(problem), "--weeks", "2", "--method", "heuristic", "-o", str(out)]
    assert main([*argv, "--time-limit", "2"]) == 0
    week2 = Problem.model_validate_json((tmp_path / "rota.week2.problem.json").read_text())
    rota1 = Rota.model_validate_json((tmp_path / "rota.week1.json").read_text())
    rota2 = Rota.model_validate_json((tmp_path / "rota.week2.json").read_text())
    assert week2.period.start.isoformat() == "2026-12-07"
    assert check(week2, rota2).ok
    fed = {(h.client, h.worker, h.date) for h in week2.history.visits}
    client = {v.id: v.client for v in tiny.visits}
    assert {
        (client[a.visit], w, a.start.date()) for a in rota1.assignments for w in a.workers
    } <= fed
    assert "week 2 (2026-12-07):" in capsys.readouterr().err


def test_solve_weeks_needs_an_output_file(
    tiny: Problem, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = tmp_path / "week.json"
    problem.write_text(tiny.model_dump_json(), encoding="utf-8")
    with pytest.raises(SystemExit) as caught:
        main(["solve", str(problem), "--weeks", "2"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == "carerota: error: --weeks writes one rota per week: give -o ROTA.json"


@pytest.mark.parametrize("nodes", [500, 1])  # 1: the quick search gives up and CP-SAT answers
def test_fewest_faces_is_a_minimum_cover(monkeypatch: pytest.MonkeyPatch, nodes: int) -> None:
    monkeypatch.setattr(continuity, "NODES", nodes)
    # Three visits, any two of a, b, c cover them all; no one carer does: 2. (No two visits'
    # carers are disjoint, so packing them alone would only prove 1.)
    triangle = [(frozenset("ab"), 1), (frozenset("bc"), 1), (frozenset("ac"), 1)]
    assert continuity.fewest_faces(triangle) == 2
    # A double-up on a and b and a visit only c can do: 3.
    double = [(frozenset("ab"), 2), (frozenset("c"), 1), (frozenset("abc"), 1)]
    assert continuity.fewest_faces(double) == 3


def test_a_week_that_lands_on_a_clock_change_is_refused_in_one_line(tiny: Problem) -> None:
    # London's clocks go forward at 01:00 on Sunday 28 March 2027: 01:30 does not exist then.
    raw = tiny.model_dump(mode="json")
    raw["period"] = {"start": "2027-03-15", "end": "2027-03-21"}
    raw["workers"][0]["shifts"] = [{"start": "2027-03-21T01:30", "end": "2027-03-21T03:00"}]
    raw["visits"] = []
    with pytest.raises(ValueError) as caught:
        shifted(Problem.model_validate(raw), 7)
    assert str(caught.value) == (
        "the week from 2027-03-22 cannot repeat this one: workers.0.shifts.0.start: "
        "2027-03-28T01:30 does not exist in Europe/London (clocks go forward)"
    )
    assert shifted(Problem.model_validate(raw), 14).period.start.isoformat() == "2027-03-29"


def _kept_share(before: Rota, after: Rota) -> float:
    """The share of ``after``'s assignments with the same crew as in ``before``."""
    crew = {a.visit: sorted(a.workers) for a in before.assignments}
    same = sum(crew.get(a.visit) == sorted(a.workers) for a in after.assignments)
    return same / len(after.assignments)


@pytest.fixture(scope="module")
def two_weeks() -> tuple[Problem, Rota, Problem]:
    """A generated 40-client agency's week, its rota, and the next week with it as history."""
    from scenarios.generator import generate

    week1 = Problem.model_validate(generate(40, seed=3))
    rota1 = solve(week1, SolveOptions(time_limit=60, seed=1, effort=0.6, workers=1))
    return week1, rota1, with_history(shifted(week1, 7), week1, rota1)


def test_last_weeks_rota_rolled_forward_keeps_its_carers(
    two_weeks: tuple[Problem, Rota, Problem],
) -> None:
    _, rota1, week2 = two_weeks
    options = SolveOptions(time_limit=60, seed=2, effort=0.6, workers=1)
    fresh = solve(week2, options)
    rolled = solve(week2, options, start=moved_on(rota1, 7))
    verified(week2, fresh)
    verified(week2, rolled)
    assert rolled.metrics is not None and rota1.metrics is not None
    # The start staffs what it staffed last week, and the search only ever keeps a better rota.
    assert rolled.metrics.visits_assigned >= rota1.metrics.visits_assigned
    assert check(week2, rolled).objective <= check(week2, fresh).objective
    assert _kept_share(rota1, rolled) > max(0.6, _kept_share(rota1, fresh))


def test_a_start_that_does_not_fit_the_week_is_set_aside(
    two_weeks: tuple[Problem, Rota, Problem],
) -> None:
    _, rota1, week2 = two_weeks
    # Not moved on: every start lies in the week before, outside every shift of this week.
    rota = solve(week2, SolveOptions(time_limit=60, seed=2, effort=0.3, workers=1), start=rota1)
    verified(week2, rota)
    assert rota.metrics is not None and rota.metrics.visits_assigned > 0


def test_solve_starts_from_a_rota_on_the_command_line(
    two_weeks: tuple[Problem, Rota, Problem], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, rota1, week2 = two_weeks
    problem, start, out = tmp_path / "week2.json", tmp_path / "week1.rota.json", tmp_path / "r.json"
    problem.write_text(week2.model_dump_json(), encoding="utf-8")
    start.write_text(rota1.model_dump_json(), encoding="utf-8")
    argv = ["solve", str(problem), "--effort", "0.3", "--workers", "1", "--quiet", "-o", str(out)]
    assert main([*argv, "--start", str(start), "--start-days", "7"]) == 0
    rota = Rota.model_validate_json(out.read_text(encoding="utf-8"))
    verified(week2, rota)
    assert _kept_share(rota1, rota) > 0.6
    capsys.readouterr()
    for extra, message in [
        (
            ["--start-days", "7"],
            "--start-days moves the rota --start names: give --start ROTA.json",
        ),
        (["--weeks", "2", "--start", str(start)], "--weeks starts each week from the week before"),
    ]:
        with pytest.raises(SystemExit) as caught:
            main([*argv, *extra])
        assert caught.value.code == 2
        assert capsys.readouterr().err.strip().startswith(f"carerota: error: {message}")


def test_a_start_never_brings_in_what_this_week_refuses(
    two_weeks: tuple[Problem, Rota, Problem],
) -> None:
    _, rota1, week2 = two_weeks
    start = moved_on(rota1, 7)
    # This week the client of a visit the start staffs no longer takes that carer.
    first = next(a for a in start.assignments if len(a.workers) == 1)
    carer = first.workers[0]
    client = next(v.client for v in week2.visits if v.id == first.visit)
    clients = [
        c.model_copy(update={"excluded_workers": [*c.excluded_workers, carer]})
        if c.id == client
        else c
        for c in week2.clients
    ]
    changed = week2.model_copy(update={"clients": clients})
    rota = solve(changed, SolveOptions(time_limit=60, seed=2, effort=0.3, workers=1), start=start)
    verified(changed, rota)
    theirs = {v.id for v in changed.visits if v.client == client}
    assert not any(carer in a.workers for a in rota.assignments if a.visit in theirs)
    assert _kept_share(rota1, rota) > 0.6
