"""The independent checker, one rule at a time: a rota where the rule holds, one where it bites.

Most tests use ``problem``: Tuesday 1 Dec 2026 in London, carers Amy and Bob and coordinator Kate
on shift 07:00-13:00, clients Ann and Ben, and a travel matrix small enough to add up by hand:

              amy  bob  kate  ann   ben
    amy home    0   20    20   10     8
    bob home   20    0    20    6     9
    kate home  20   20     0    5     7
    c-ann      10    6     5    0  12.5
    c-ben       8    9     7  12.5    0

v-ann: Ann, window 08:00-08:20, 30 min, needs medication (Amy and Kate have it, Bob does not).
v-ben: Ben, window 08:30-09:30, 30 min.
The ``valid`` rota: Amy does v-ann at 08:00 (ends 08:30) + 12.5 min = 08:42:30, v-ben at 08:45.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from solver.checker import Breach, Report, check, format_report, haversine_km
from solver.contract import (
    After,
    Assignment,
    CoordinatorVisit,
    History,
    Metrics,
    Place,
    Problem,
    Rota,
    Route,
    Shift,
    Unassigned,
)
from tests.builders import carer, client, matrix, visit
from tests.builders import problem as build_problem

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"
DAY = "2026-12-01"


# ---------------------------------------------------------------------------------------------
# Builders


def at(hhmm: str, day: str = DAY) -> str:
    return f"{day}T{hhmm}"


def job(visit: str, start: str, *workers: str) -> Assignment:
    return Assignment.model_validate({"visit": visit, "workers": list(workers), "start": start})


def skip(visit: str, reason: str = "nobody is on shift") -> Unassigned:
    return Unassigned(visit=visit, reason=reason)


def shadow(visit: str, coordinator: str = "k-kate") -> CoordinatorVisit:
    return CoordinatorVisit(visit=visit, coordinator=coordinator, mode="shadow")


def cover(visit: str, coordinator: str = "k-kate") -> CoordinatorVisit:
    return CoordinatorVisit(visit=visit, coordinator=coordinator, mode="cover")


def rota(
    *assignments: Assignment,
    unassigned: tuple[Unassigned, ...] = (),
    coordinator_visits: tuple[CoordinatorVisit, ...] = (),
    **extra: Any,
) -> Rota:
    return Rota(
        status="feasible",
        assignments=list(assignments),
        unassigned=list(unassigned),
        coordinator_visits=list(coordinator_visits),
        **extra,
    )


def shift(start: str, end: str) -> Shift:
    return Shift.model_validate({"start": start, "end": end})


def edit(problem: Problem, kind: str, ident: str, **changes: Any) -> Problem:
    """A copy of ``problem`` with one worker, client or visit changed."""
    items = [x.model_copy(update=changes) if x.id == ident else x for x in getattr(problem, kind)]
    return problem.model_copy(update={kind: items})


def rules(report: Report) -> list[str]:
    return [b.rule for b in report.breaches]


def only(report: Report, rule: str) -> Breach:
    """The report's single breach, which must be of ``rule``."""
    assert rules(report) == [rule], format_report(report)
    return report.breaches[0]


# ---------------------------------------------------------------------------------------------
# The shared tiny problem


@pytest.fixture
def problem() -> Problem:
    """Amy, Bob and coordinator Kate; clients Ann and Ben; one Tuesday; matrix travel."""
    return build_problem(
        DAY,
        travel=matrix(
            ["w-amy", "w-bob", "k-kate", "c-ann", "c-ben"],
            [
                [0, 20, 20, 10, 8],
                [20, 0, 20, 6, 9],
                [20, 20, 0, 5, 7],
                [10, 6, 5, 0, 12.5],
                [8, 9, 7, 12.5, 0],
            ],
        ),
        workers=[
            carer("w-amy", day=DAY, lat=53.80, skills=["medication"], gender="female"),
            carer("w-bob", day=DAY, lat=53.81, gender="male"),
            carer(
                "k-kate",
                day=DAY,
                lat=53.82,
                role="coordinator",
                skills=["medication"],
                gender="female",
            ),
        ],
        clients=[client("c-ann", 53.80, -1.56), client("c-ben", 53.80, -1.57)],
        visits=[
            visit("v-ann", "c-ann", "08:00", "08:20", day=DAY, skills=["medication"]),
            visit("v-ben", "c-ben", "08:30", "09:30", day=DAY),
        ],
    )


@pytest.fixture
def valid() -> Rota:
    """Amy: v-ann 08:00-08:30, 12.5 min to Ben, v-ben 08:45-09:15."""
    return rota(job("v-ann", at("08:00"), "w-amy"), job("v-ben", at("08:45"), "w-amy"))


@pytest.fixture
def double_up(problem: Problem) -> Problem:
    """v-ben needs two carers."""
    return edit(problem, "visits", "v-ben", workers_required=2)


def test_valid_rota_passes(problem: Problem, valid: Rota) -> None:
    report = check(problem, valid)
    assert report.ok, format_report(report)
    assert report.shortfalls == []
    assert report.metrics["travel_minutes"] == 12.5
    # Home legs: Amy's home to Ann 10 + Ben back home 8 = 18.
    assert report.metrics["home_travel_minutes"] == 18


# ---------------------------------------------------------------------------------------------
# structure


def test_missing_visit_is_structure(problem: Problem) -> None:
    breach = only(check(problem, rota(job("v-ann", at("08:00"), "w-amy"))), "structure")
    assert breach.visit == "v-ben"


def test_visit_listed_twice_is_structure(problem: Problem, valid: Rota) -> None:
    twice = valid.model_copy(update={"unassigned": [skip("v-ben")]})
    assert only(check(problem, twice), "structure").visit == "v-ben"


def test_unknown_visit_and_worker_are_structure(problem: Problem, valid: Rota) -> None:
    odd = valid.model_copy(
        update={"assignments": [*valid.assignments, job("v-zed", at("10:00"), "w-amy")]}
    )
    assert only(check(problem, odd), "structure").visit == "v-zed"
    stranger = rota(job("v-ann", at("08:00"), "w-zed"), job("v-ben", at("08:45"), "w-amy"))
    # One worker is named, as v-ann requires; that the name is unknown is the breach.
    assert rules(check(problem, stranger)) == ["structure"]


def test_unassigned_needs_a_reason(problem: Problem) -> None:
    with_reason = rota(job("v-ann", at("08:00"), "w-amy"), unassigned=(skip("v-ben"),))
    assert check(problem, with_reason).ok
    blank = rota(job("v-ann", at("08:00"), "w-amy"), unassigned=(skip("v-ben", "   "),))
    assert only(check(problem, blank), "structure").visit == "v-ben"


@pytest.fixture
def amy_route() -> Route:
    """Amy's correct route: home 10 min to v-ann, 12.5 to v-ben, 8 home."""
    return Route.model_validate(
        {
            "worker": "w-amy",
            "date": DAY,
            "stops": [
                {
                    "visit": "v-ann",
                    "start": at("08:00"),
                    "end": at("08:30"),
                    "travel_minutes_before": 10,
                    "mode": "care",
                },
                {
                    "visit": "v-ben",
                    "start": at("08:45"),
                    "end": at("09:15"),
                    "travel_minutes_before": 12.5,
                    "mode": "care",
                },
            ],
            "travel_minutes": 12.5,
            "home_travel_minutes": 18,
            "visit_minutes": 60,
        }
    )


def test_routes_agreeing_with_assignments_pass(
    problem: Problem, valid: Rota, amy_route: Route
) -> None:
    assert check(problem, valid.model_copy(update={"routes": [amy_route]})).ok


def test_route_with_wrong_travel_is_structure(
    problem: Problem, valid: Rota, amy_route: Route
) -> None:
    stops = [
        amy_route.stops[0],
        amy_route.stops[1].model_copy(update={"travel_minutes_before": 13}),
    ]
    wrong = amy_route.model_copy(update={"stops": stops})
    breach = only(check(problem, valid.model_copy(update={"routes": [wrong]})), "structure")
    assert "travel_minutes_before" in breach.detail


def test_route_with_wrong_end_or_totals_is_structure(
    problem: Problem, valid: Rota, amy_route: Route
) -> None:
    late_end = amy_route.stops[0].model_copy(update={"end": datetime(2026, 12, 1, 8, 35)})
    wrong = amy_route.model_copy(update={"stops": [late_end, amy_route.stops[1]]})
    assert rules(check(problem, valid.model_copy(update={"routes": [wrong]}))) == ["structure"]
    # Home legs 10 + 8 = 18, not 10.
    wrong = amy_route.model_copy(update={"home_travel_minutes": 10})
    assert rules(check(problem, valid.model_copy(update={"routes": [wrong]}))) == ["structure"]


def test_shadow_needs_a_route_with_shadow_stops(
    problem: Problem, valid: Rota, amy_route: Route
) -> None:
    # Kate shadows v-ben, so she has a route too: home 7 min to Ben, 7 min back.
    shadowed = valid.model_copy(
        update={"coordinator_visits": [shadow("v-ben")], "routes": [amy_route]}
    )
    assert only(check(problem, shadowed), "structure").worker == "k-kate"
    stop = {"visit": "v-ben", "start": at("08:45"), "end": at("09:15"), "mode": "shadow"}
    kate = Route.model_validate(
        {
            "worker": "k-kate",
            "date": DAY,
            "stops": [{**stop, "travel_minutes_before": 7}],
            "travel_minutes": 0,
            "home_travel_minutes": 14,
            "visit_minutes": 30,
        }
    )
    assert check(problem, shadowed.model_copy(update={"routes": [amy_route, kate]})).ok
    caring = kate.model_copy(update={"stops": [kate.stops[0].model_copy(update={"mode": "care"})]})
    breach = only(
        check(problem, shadowed.model_copy(update={"routes": [amy_route, caring]})), "structure"
    )
    assert "mode care" in breach.detail


@pytest.fixture
def metrics() -> Metrics:
    """The valid rota's contract metrics: 12.5 min travel, one worker per client, none familiar."""
    return Metrics.model_validate(
        {
            "visits_total": 2,
            "visits_assigned": 2,
            "travel_minutes": 12.5,
            "mean_distinct_workers_per_client": 1.0,
            "familiar_visit_share": 0.0,
        }
    )


def test_metrics_agreeing_pass_and_disagreeing_are_structure(
    problem: Problem, valid: Rota, metrics: Metrics
) -> None:
    assert check(problem, valid.model_copy(update={"metrics": metrics})).ok
    wrong = metrics.model_copy(update={"travel_minutes": 12.0})
    breach = only(check(problem, valid.model_copy(update={"metrics": wrong})), "structure")
    assert "travel_minutes" in breach.detail


def test_objective_is_recomputed(problem: Problem, valid: Rota) -> None:
    # travel 12.5 x 1 + Amy unfamiliar to Ann and to Ben 2 x 60 = 132.5
    assert check(problem, valid.model_copy(update={"objective": 132.5})).ok
    assert check(problem, valid.model_copy(update={"objective": 132.505})).ok
    only(check(problem, valid.model_copy(update={"objective": 133.5})), "structure")


@pytest.mark.parametrize(
    ("day", "start", "why"),
    [
        # Clocks go forward at 01:00 GMT on 29 Mar 2026: 01:30 never happens.
        ("2026-03-29", "01:30", "does not exist"),
        # Clocks go back at 02:00 BST on 25 Oct 2026: 01:30 happens twice.
        ("2026-10-25", "01:30", "is ambiguous"),
    ],
)
def test_start_that_is_not_one_instant_is_structure(day: str, start: str, why: str) -> None:
    night = Problem.model_validate(
        {
            "timezone": "Europe/London",
            "period": {"start": day, "end": day},
            "workers": [
                {
                    "id": "w-amy",
                    "home": {"lat": 53.8, "lon": -1.55},
                    "shifts": [{"start": at("00:00", day), "end": at("05:00", day)}],
                }
            ],
            "clients": [{"id": "c-ann", "location": {"lat": 53.8, "lon": -1.55}}],
            "visits": [
                {
                    "id": "v-ann",
                    "client": "c-ann",
                    "earliest_start": at("00:30", day),
                    "latest_start": at("03:00", day),
                    "duration_minutes": 30,
                }
            ],
        }
    )
    assert check(night, rota(job("v-ann", at("03:00", day), "w-amy"))).ok
    breach = only(check(night, rota(job("v-ann", at(start, day), "w-amy"))), "structure")
    assert why in breach.detail


# ---------------------------------------------------------------------------------------------
# rule 1: staffing


def test_double_up_with_two_distinct_workers_passes(double_up: Problem) -> None:
    # Bob: home 9 min to Ben, v-ben at 08:45 is fine; Amy as in the valid rota.
    both = rota(job("v-ann", at("08:00"), "w-amy"), job("v-ben", at("08:45"), "w-amy", "w-bob"))
    assert check(double_up, both).ok


def test_double_up_with_one_worker_is_staffing(double_up: Problem, valid: Rota) -> None:
    assert only(check(double_up, valid), "staffing").visit == "v-ben"


def test_same_worker_twice_is_staffing(double_up: Problem) -> None:
    twice = rota(job("v-ann", at("08:00"), "w-amy"), job("v-ben", at("08:45"), "w-amy", "w-amy"))
    assert set(rules(check(double_up, twice))) == {"staffing"}


# ---------------------------------------------------------------------------------------------
# rule 2: window and after


def test_window_is_inclusive(problem: Problem) -> None:
    # v-ann at 08:20 (latest start) ends 08:50 + 12.5 = 09:02:30; v-ben at 09:05.
    edge = rota(job("v-ann", at("08:20"), "w-amy"), job("v-ben", at("09:05"), "w-amy"))
    assert check(problem, edge).ok


@pytest.mark.parametrize("start", ["07:59", "08:21", "08:20:01"])
def test_start_outside_window_is_window(problem: Problem, start: str) -> None:
    # Window 08:00-08:20; v-ben at 09:30 leaves room for any of these starts + 30 + 12.5.
    outside = rota(job("v-ann", at(start), "w-amy"), job("v-ben", at("09:30"), "w-amy"))
    assert only(check(problem, outside), "window").visit == "v-ann"


def test_late_allowance_widens_window(problem: Problem) -> None:
    lenient = edit(problem, "visits", "v-ann", late_allowed_minutes=5)
    # Window closes 08:20 + 5 = 08:25.
    ok = rota(job("v-ann", at("08:25"), "w-amy"), job("v-ben", at("09:30"), "w-amy"))
    report = check(lenient, ok)
    assert report.ok
    assert report.terms["late_minute"] == 5 * 5  # 5 min late x weight 5
    too_late = rota(job("v-ann", at("08:26"), "w-amy"), job("v-ben", at("09:30"), "w-amy"))
    only(check(lenient, too_late), "window")


@pytest.fixture
def linked(problem: Problem) -> Problem:
    """v-ben must start 45 to 60 minutes after v-ann starts."""
    after = After(visit="v-ann", min_minutes=45, max_minutes=60)
    return edit(problem, "visits", "v-ben", after=after)


def test_after_link_holds_at_its_bound(linked: Problem, valid: Rota) -> None:
    # 08:00 + 45 = 08:45, the valid rota's v-ben start.
    assert check(linked, valid).ok


def test_after_link_too_soon_is_after(linked: Problem) -> None:
    # 08:44 - 08:00 = 44 < 45 (Amy still gets there: 08:30 + 12.5 = 08:42:30).
    soon = rota(job("v-ann", at("08:00"), "w-amy"), job("v-ben", at("08:44"), "w-amy"))
    assert only(check(linked, soon), "after").visit == "v-ben"


def test_after_link_ignored_when_first_visit_unstaffed(linked: Problem) -> None:
    alone = rota(job("v-ben", at("08:30"), "w-amy"), unassigned=(skip("v-ann"),))
    assert check(linked, alone).ok


@pytest.fixture
def apart(problem: Problem) -> Problem:
    """The ``linked`` timing, and two different workers on v-ann and v-ben."""
    after = After(visit="v-ann", min_minutes=45, max_minutes=60, distinct_workers=True)
    return edit(problem, "visits", "v-ben", after=after)


def test_distinct_workers_refuses_one_worker_on_both(apart: Problem, valid: Rota) -> None:
    # The valid rota has Amy on both visits: it keeps the plain link (see above), not this one.
    breach = only(check(apart, valid), "distinct_workers")
    assert (breach.visit, breach.worker) == ("v-ben", "w-amy")


def test_distinct_workers_accepts_two_workers(apart: Problem) -> None:
    # Amy on v-ann at 08:00, Bob on v-ben at 08:45 (home 9 min away): 45 min after, as linked.
    split = rota(job("v-ann", at("08:00"), "w-amy"), job("v-ben", at("08:45"), "w-bob"))
    assert check(apart, split).ok


def test_distinct_workers_counts_the_crew_not_a_shadow(apart: Problem) -> None:
    # Kate covers v-ann and shadows v-ben beside Bob: she is counted on one visit only.
    both = rota(
        job("v-ann", at("08:00"), "k-kate"),
        job("v-ben", at("08:45"), "w-bob"),
        coordinator_visits=(cover("v-ann"), shadow("v-ben")),
    )
    assert "distinct_workers" not in rules(check(apart, both))
    on_both = rota(
        job("v-ann", at("08:00"), "k-kate"),
        job("v-ben", at("08:45"), "k-kate"),
        coordinator_visits=(cover("v-ann"), cover("v-ben")),
    )
    assert "distinct_workers" in rules(check(apart, on_both))


def test_distinct_workers_ignored_when_first_visit_unstaffed(apart: Problem) -> None:
    alone = rota(job("v-ben", at("08:30"), "w-amy"), unassigned=(skip("v-ann"),))
    assert check(apart, alone).ok


def test_latest_start_with_seconds_is_rounded_down_for_lateness(problem: Problem) -> None:
    # docs/semantics.md rounds a latest start of 08:20:30 down to 08:20, so 08:25 is 5 min late,
    # while the window (08:20:30 + 5 allowed = 08:25:30) is checked with the exact seconds.
    lenient = edit(
        problem,
        "visits",
        "v-ann",
        latest_start=datetime(2026, 12, 1, 8, 20, 30),
        late_allowed_minutes=5,
    )
    late = rota(job("v-ann", at("08:25:30"), "w-amy"), job("v-ben", at("09:30"), "w-amy"))
    report = check(lenient, late)
    assert report.ok
    assert report.terms["late_minute"] == 5 * 5.5
    only(
        check(
            lenient,
            late.model_copy(
                update={
                    "assignments": [
                        job("v-ann", at("08:25:31"), "w-amy"),
                        job("v-ben", at("09:30"), "w-amy"),
                    ]
                }
            ),
        ),
        "window",
    )


# ---------------------------------------------------------------------------------------------
# rule 3: skills, exclusions, gender, shift, pinned


def test_worker_without_skill_is_skills(problem: Problem) -> None:
    # v-ann needs medication; Bob has no skills. Bob: home 6 min to Ann.
    bob = rota(job("v-ann", at("08:00"), "w-bob"), job("v-ben", at("08:45"), "w-amy"))
    assert only(check(problem, bob), "skills").worker == "w-bob"


def test_excluded_worker_is_excluded(problem: Problem, valid: Rota) -> None:
    no_amy = edit(problem, "clients", "c-ben", excluded_workers=["w-amy"])
    assert only(check(no_amy, valid), "excluded").worker == "w-amy"
    bob = rota(job("v-ann", at("08:00"), "w-amy"), job("v-ben", at("08:45"), "w-bob"))
    assert check(no_amy, bob).ok


def test_exclusion_binds_a_shadowing_coordinator(problem: Problem, valid: Rota) -> None:
    no_kate = edit(problem, "clients", "c-ben", excluded_workers=["k-kate"])
    # Kate: home 7 min to Ben, shadows v-ben 08:45-09:15.
    shadowed = valid.model_copy(update={"coordinator_visits": [shadow("v-ben")]})
    assert check(problem, shadowed).ok
    assert only(check(no_kate, shadowed), "excluded").worker == "k-kate"


def test_gender_preference_is_gender(problem: Problem, valid: Rota) -> None:
    women_only = edit(problem, "clients", "c-ben", gender_preference="female")
    assert check(women_only, valid).ok
    bob = rota(job("v-ann", at("08:00"), "w-amy"), job("v-ben", at("08:45"), "w-bob"))
    assert only(check(women_only, bob), "gender").worker == "w-bob"


def test_visit_must_lie_inside_a_shift(problem: Problem, valid: Rota) -> None:
    # v-ben 08:45 + 30 min = 09:15.
    ends_0915 = edit(problem, "workers", "w-amy", shifts=[shift(at("07:00"), at("09:15"))])
    assert check(ends_0915, valid).ok
    ends_0910 = edit(problem, "workers", "w-amy", shifts=[shift(at("07:00"), at("09:10"))])
    breach = only(check(ends_0910, valid), "shift")
    assert (breach.visit, breach.worker) == ("v-ben", "w-amy")


def test_shift_binds_a_shadowing_coordinator(problem: Problem, valid: Rota) -> None:
    short_kate = edit(problem, "workers", "k-kate", shifts=[shift(at("07:00"), at("09:00"))])
    # Kate would shadow v-ben 08:45-09:15, past her 09:00 shift end.
    shadowed = valid.model_copy(update={"coordinator_visits": [shadow("v-ben")]})
    assert only(check(short_kate, shadowed), "shift").worker == "k-kate"


def test_pinned_worker_must_be_on_the_visit(problem: Problem, valid: Rota) -> None:
    pinned = edit(problem, "visits", "v-ben", pinned_workers=["w-bob"])
    assert only(check(pinned, valid), "pinned").worker == "w-bob"
    bob = rota(job("v-ann", at("08:00"), "w-amy"), job("v-ben", at("08:45"), "w-bob"))
    assert check(pinned, bob).ok


# ---------------------------------------------------------------------------------------------
# rule 4: overlap, with exact fractional travel


def test_start_exactly_at_fractional_arrival_passes(problem: Problem) -> None:
    # v-ann ends 08:30 + 12.5 min travel = 08:42:30 exactly.
    exact = rota(job("v-ann", at("08:00"), "w-amy"), job("v-ben", at("08:42:30"), "w-amy"))
    assert check(problem, exact).ok


def test_start_ten_seconds_before_arrival_is_overlap(problem: Problem) -> None:
    # 08:42:20 is 10 s before the 08:42:30 arrival.
    early = rota(job("v-ann", at("08:00"), "w-amy"), job("v-ben", at("08:42:20"), "w-amy"))
    breach = only(check(problem, early), "overlap")
    assert (breach.visit, breach.worker) == ("v-ben", "w-amy")
    assert "08:42:30" in breach.detail


def test_overlap_counts_shadow_visits(problem: Problem) -> None:
    # Amy does v-ann 08:00-08:30, Bob does v-ben at 08:40; Kate shadows both:
    # v-ann ends 08:30 + 12.5 min = 08:42:30 > 08:40.
    tight = rota(
        job("v-ann", at("08:00"), "w-amy"),
        job("v-ben", at("08:40"), "w-bob"),
        coordinator_visits=(shadow("v-ann"), shadow("v-ben")),
    )
    assert only(check(problem, tight), "overlap").worker == "k-kate"
    relaxed = tight.model_copy(
        update={
            "assignments": [
                job("v-ann", at("08:00"), "w-amy"),
                job("v-ben", at("08:43"), "w-bob"),
            ]
        }
    )
    assert check(problem, relaxed).ok


def test_two_visits_at_one_client_need_no_travel(problem: Problem) -> None:
    # Even where the matrix diagonal says 3 min, v-ann (08:00-08:30) and v-ann-2 follow
    # directly: v-ann-2 08:30-09:00 + 12.5 = 09:12:30, v-ben at 09:15.
    minutes = [row[:] for row in problem.travel.minutes]  # type: ignore[union-attr]
    minutes[3][3] = 3
    second = problem.visits[0].model_copy(
        update={
            "id": "v-ann-2",
            "earliest_start": datetime(2026, 12, 1, 8, 30),
            "latest_start": datetime(2026, 12, 1, 9, 0),
        }
    )
    twice = problem.model_copy(
        update={
            "travel": problem.travel.model_copy(update={"minutes": minutes}),
            "visits": [*problem.visits, second],
        }
    )
    back_to_back = rota(
        job("v-ann", at("08:00"), "w-amy"),
        job("v-ann-2", at("08:30"), "w-amy"),
        job("v-ben", at("09:15"), "w-amy"),
    )
    report = check(twice, back_to_back)
    assert report.ok, format_report(report)
    assert report.metrics["travel_minutes"] == 12.5


def test_visit_outside_shift_still_cannot_overlap(problem: Problem) -> None:
    # Amy's shift ends 08:50: v-ann 08:20-08:50 fits, v-ben 08:40-09:10 does not, and it
    # starts before v-ann ends.
    short = edit(problem, "workers", "w-amy", shifts=[shift(at("07:00"), at("08:50"))])
    clash = rota(job("v-ann", at("08:20"), "w-amy"), job("v-ben", at("08:40"), "w-amy"))
    assert rules(check(short, clash)) == ["shift", "overlap"]


# ---------------------------------------------------------------------------------------------
# rule 5: caps on working minutes


@pytest.mark.parametrize("cap", ["max_minutes_per_week", "max_minutes_per_day"])
def test_caps_count_visits_and_travel_between_but_not_home_legs(
    problem: Problem, valid: Rota, cap: str
) -> None:
    # Amy works 30 + 12.5 + 30 = 72.5 min; her 10 + 8 home legs do not count.
    assert check(edit(problem, "workers", "w-amy", **{cap: 73}), valid).ok
    breach = only(check(edit(problem, "workers", "w-amy", **{cap: 72}), valid), cap)
    assert "72.5" in breach.detail


# ---------------------------------------------------------------------------------------------
# coordinator_visits consistency


def test_cover_must_be_among_workers(problem: Problem, valid: Rota) -> None:
    wrong = valid.model_copy(update={"coordinator_visits": [cover("v-ann")]})
    assert only(check(problem, wrong), "coordinator").worker == "k-kate"


def test_covering_coordinator_must_be_listed(problem: Problem) -> None:
    # Kate: home 5 min to Ann, v-ann 08:00-08:30; Amy: home 8 min to Ben.
    kate = rota(job("v-ann", at("08:00"), "k-kate"), job("v-ben", at("08:45"), "w-amy"))
    assert only(check(problem, kate), "coordinator").visit == "v-ann"
    assert check(problem, kate.model_copy(update={"coordinator_visits": [cover("v-ann")]})).ok


def test_shadow_must_not_be_among_workers(problem: Problem) -> None:
    kate = rota(
        job("v-ann", at("08:00"), "k-kate"),
        job("v-ben", at("08:45"), "w-amy"),
        coordinator_visits=(cover("v-ann"), shadow("v-ann")),
    )
    assert only(check(problem, kate), "coordinator").visit == "v-ann"


def test_only_a_coordinator_shadows(problem: Problem, valid: Rota) -> None:
    # Bob is a carer: home 9 min to Ben, v-ben at 08:45.
    bob = valid.model_copy(update={"coordinator_visits": [shadow("v-ben", "w-bob")]})
    assert only(check(problem, bob), "coordinator").worker == "w-bob"


def test_shadow_on_unstaffed_visit_is_coordinator(problem: Problem) -> None:
    half = rota(
        job("v-ann", at("08:00"), "w-amy"),
        unassigned=(skip("v-ben"),),
        coordinator_visits=(shadow("v-ben"),),
    )
    assert only(check(problem, half), "coordinator").visit == "v-ben"


# ---------------------------------------------------------------------------------------------
# DST: the week British Summer Time ends (Sunday 25 Oct 2026, 02:00 BST -> 01:00 GMT)


@pytest.fixture
def autumn() -> Problem:
    """Dan's Sunday shift 00:00-03:00 on 25 Oct lasts four real hours."""
    sunday = "2026-10-25"
    return Problem.model_validate(
        {
            "timezone": "Europe/London",
            "period": {"start": "2026-10-19", "end": sunday},
            "travel": matrix(["w-dan", "c-ann", "c-ben"], [[0, 0, 0], [0, 0, 100], [0, 100, 0]]),
            "workers": [
                {
                    "id": "w-dan",
                    "home": {"lat": 53.8, "lon": -1.55},
                    "shifts": [
                        # A long Saturday shift only so that the contract accepts the 250-minute
                        # visit below, whose length it compares with wall-clock shift lengths.
                        {"start": "2026-10-24T08:00", "end": "2026-10-24T17:00"},
                        {"start": at("00:00", sunday), "end": at("03:00", sunday)},
                    ],
                }
            ],
            "clients": [
                {"id": "c-ann", "location": {"lat": 53.8, "lon": -1.56}},
                {"id": "c-ben", "location": {"lat": 53.8, "lon": -1.57}},
            ],
            "visits": [
                {
                    "id": "v-ann",
                    "client": "c-ann",
                    "earliest_start": at("00:00", sunday),
                    "latest_start": at("00:30", sunday),
                    "duration_minutes": 30,
                },
                {
                    "id": "v-ben",
                    "client": "c-ben",
                    "earliest_start": at("02:00", sunday),
                    "latest_start": at("02:30", sunday),
                    "duration_minutes": 20,
                },
            ],
        }
    )


def sunday_rota() -> Rota:
    return rota(
        job("v-ann", "2026-10-25T00:30", "w-dan"), job("v-ben", "2026-10-25T02:10", "w-dan")
    )


def test_dst_gap_uses_real_elapsed_time(autumn: Problem) -> None:
    # v-ann ends 01:00 BST (00:00 UTC); v-ben starts 02:10 GMT (02:10 UTC): 130 real minutes,
    # though the wall clock shows only 70. 100 min travel fits.
    report = check(autumn, sunday_rota())
    assert report.ok, format_report(report)
    assert report.metrics["travel_minutes"] == 100


def test_dst_gap_too_short_for_travel_is_overlap(autumn: Problem) -> None:
    # 00:00 UTC + 140 min = 02:20 GMT > 02:10.
    slow = autumn.model_copy(
        update={
            "travel": autumn.travel.model_copy(
                update={"minutes": [[0, 0, 0], [0, 0, 140], [0, 140, 0]]}
            )
        }
    )
    breach = only(check(slow, sunday_rota()), "overlap")
    assert "02:20" in breach.detail


@pytest.mark.parametrize(("minutes", "fits"), [(240, True), (241, False)])
def test_dst_shift_lasts_four_real_hours(autumn: Problem, minutes: int, fits: bool) -> None:
    # 00:00 BST = 23:00 UTC on Saturday; 03:00 GMT = 03:00 UTC: 240 real minutes.
    long = edit(autumn, "visits", "v-ann", duration_minutes=minutes)
    one = rota(job("v-ann", "2026-10-25T00:00", "w-dan"), unassigned=(skip("v-ben"),))
    assert rules(check(long, one)) == ([] if fits else ["shift"])


def test_dst_route_end_in_the_repeated_hour(autumn: Problem) -> None:
    # 00:30 BST (23:30 UTC) + 90 min = 01:00 UTC, written 01:00: the second 01:00 that night.
    long = edit(autumn, "visits", "v-ann", duration_minutes=90)
    stop = {"visit": "v-ann", "start": "2026-10-25T00:30", "travel_minutes_before": 0}
    route = {
        "worker": "w-dan",
        "date": "2026-10-25",
        "travel_minutes": 0,
        "home_travel_minutes": 0,
        "visit_minutes": 90,
    }

    def ending(end: str) -> Rota:
        stops = [{**stop, "end": end}]
        return rota(
            job("v-ann", "2026-10-25T00:30", "w-dan"),
            unassigned=(skip("v-ben"),),
            routes=[Route.model_validate({**route, "stops": stops})],
        )

    assert check(long, ending("2026-10-25T01:00")).ok
    # Wall-clock arithmetic would give 02:00.
    only(check(long, ending("2026-10-25T02:00")), "structure")


# ---------------------------------------------------------------------------------------------
# haversine travel


def test_haversine_km_for_nine_thousandths_of_a_degree() -> None:
    # 0.009 deg = 0.009 x pi / 180 = 1.5708e-4 rad; x 6371.0088 km = 1.000756 km.
    a, b = Place(lat=53.800, lon=-1.55), Place(lat=53.809, lon=-1.55)
    assert haversine_km(a, b) == pytest.approx(1.000756, abs=1e-6)
    assert haversine_km(a, a) == 0.0


@pytest.fixture
def roads() -> Problem:
    """Haversine travel: Ann lives at Amy's and Cat's home, Ben 0.009 deg (1.000756 km) north."""
    home = {"lat": 53.800, "lon": -1.55}
    shifts = [{"start": at("07:00"), "end": at("13:00")}]
    return Problem.model_validate(
        {
            "timezone": "Europe/London",
            "period": {"start": DAY, "end": DAY},
            "workers": [
                {"id": "w-amy", "home": home, "shifts": shifts, "travel_mode": "car"},
                {"id": "w-cat", "home": home, "shifts": shifts, "travel_mode": "walk"},
            ],
            "clients": [
                {"id": "c-ann", "location": home},
                {"id": "c-ben", "location": {"lat": 53.809, "lon": -1.55}},
            ],
            "visits": [
                {
                    "id": "v-ann",
                    "client": "c-ann",
                    "earliest_start": at("08:00"),
                    "latest_start": at("08:00"),
                    "duration_minutes": 30,
                },
                {
                    "id": "v-ben",
                    "client": "c-ben",
                    "earliest_start": at("08:30"),
                    "latest_start": at("09:30"),
                    "duration_minutes": 30,
                },
            ],
        }
    )


@pytest.mark.parametrize(
    ("worker", "travel"),
    [
        # car: 1.000756 km x 1.3 / 30 km/h x 60 = 2.60 -> 3 min
        ("w-amy", 3),
        # walk: 1.000756 km x 1.3 / 4.5 km/h x 60 = 17.35 -> 18 min
        ("w-cat", 18),
    ],
)
def test_haversine_travel_rounds_up_per_travel_mode(
    roads: Problem, worker: str, travel: int
) -> None:
    def day(minute: int) -> Rota:
        start = f"08:{30 + minute:02d}"
        return rota(job("v-ann", at("08:00"), worker), job("v-ben", at(start), worker))

    report = check(roads, day(travel))
    assert report.ok
    assert report.metrics["travel_minutes"] == travel
    # Home to Ann is the same place (0 min); Ben back home is the same leg again.
    assert report.metrics["home_travel_minutes"] == travel
    # One minute sooner is still later than the exact (unrounded) arrival, yet it fails.
    assert only(check(roads, day(travel - 1)), "overlap").worker == worker


# ---------------------------------------------------------------------------------------------
# rule 6: the coordinator rule


@pytest.fixture
def month_end(problem: Problem) -> Problem:
    """Kate oversees Ann and Ben over Mon 30 Nov - Tue 1 Dec; each has a visit each day."""

    def visit(vid: str, client: str, day: str, hh: str) -> dict[str, Any]:
        return {
            "id": vid,
            "client": client,
            "earliest_start": at(f"{hh}:00", day),
            "latest_start": at(f"{hh}:00", day),
            "duration_minutes": 30,
        }

    raw = problem.model_dump(mode="json")
    days = ("2026-11-30", DAY)
    for w in raw["workers"]:
        w["shifts"] = [{"start": at("07:00", d), "end": at("13:00", d)} for d in days]
    for c in raw["clients"]:
        c["coordinator"] = "k-kate"
    raw["period"] = {"start": days[0], "end": days[1]}
    raw["visits"] = [
        visit("v-ann-mon", "c-ann", days[0], "08"),
        visit("v-ben-mon", "c-ben", days[0], "10"),
        visit("v-ann-tue", "c-ann", days[1], "08"),
    ]
    return Problem.model_validate(raw)


@pytest.fixture
def seen_all() -> Rota:
    """Kate covers Ann on Monday, shadows Amy at Ben on Monday and at Ann on Tuesday."""
    return rota(
        job("v-ann-mon", at("08:00", "2026-11-30"), "k-kate"),
        job("v-ben-mon", at("10:00", "2026-11-30"), "w-amy"),
        job("v-ann-tue", at("08:00"), "w-amy"),
        coordinator_visits=(cover("v-ann-mon"), shadow("v-ben-mon"), shadow("v-ann-tue")),
    )


def test_cover_and_shadow_both_count(month_end: Problem, seen_all: Rota) -> None:
    report = check(month_end, seen_all)
    assert report.ok, format_report(report)
    assert report.shortfalls == []
    assert report.terms["coordinator_rule"] == 0


def test_month_ending_in_period_needs_every_client(month_end: Problem, seen_all: Rota) -> None:
    # November ends on Monday 30 Nov: Ben, never seen by Kate in November, is a shortfall.
    no_ben = seen_all.model_copy(
        update={"coordinator_visits": [cover("v-ann-mon"), shadow("v-ann-tue")]}
    )
    report = check(month_end, no_ben)
    assert report.ok
    assert [(s.coordinator, s.client, s.month) for s in report.shortfalls] == [
        ("k-kate", "c-ben", "2026-11")
    ]
    assert report.terms["coordinator_rule"] == 5000


def test_paced_month_part_of_period(month_end: Problem, seen_all: Rota) -> None:
    # December: Dp = 1 (1 Dec), Dr = 31 (1-31 Dec): ceil(2 x 1 / 31) = 1 client must be seen.
    no_tuesday = seen_all.model_copy(
        update={"coordinator_visits": [cover("v-ann-mon"), shadow("v-ben-mon")]}
    )
    report = check(month_end, no_tuesday)
    assert [(s.client, s.month) for s in report.shortfalls] == [("c-ann", "2026-12")]


def kate_and_clients(count: int, first: str, last: str) -> Problem:
    """Kate oversees ``count`` clients; each has one visit on the period's first day."""
    clients = [f"c-{i}" for i in range(1, count + 1)]
    return Problem.model_validate(
        {
            "timezone": "Europe/London",
            "period": {"start": first, "end": last},
            "workers": [
                {
                    "id": w,
                    "role": role,
                    "home": {"lat": 53.8, "lon": -1.55},
                    "shifts": [{"start": at("07:00", first), "end": at("13:00", first)}],
                }
                for w, role in (("w-amy", "carer"), ("k-kate", "coordinator"))
            ],
            "clients": [
                {"id": c, "location": {"lat": 53.8, "lon": -1.55}, "coordinator": "k-kate"}
                for c in clients
            ],
            "visits": [
                {
                    "id": f"v-{c}",
                    "client": c,
                    "earliest_start": at("08:00", first),
                    "latest_start": at("12:00", first),
                    "duration_minutes": 30,
                }
                for c in clients
            ],
        }
    )


def kate_sees(first: str, count: int, seen: int) -> Rota:
    """Amy does the first ``seen`` visits, hourly from 08:00, Kate shadowing; the rest unstaffed."""
    return rota(
        *(job(f"v-c-{i}", at(f"{7 + i:02d}:00", first), "w-amy") for i in range(1, seen + 1)),
        unassigned=tuple(skip(f"v-c-{i}") for i in range(seen + 1, count + 1)),
        coordinator_visits=tuple(shadow(f"v-c-{i}") for i in range(1, seen + 1)),
    )


@pytest.fixture
def paced() -> Problem:
    """Kate oversees four clients over Mon 9 - Sun 15 Nov 2026; each has one Monday visit."""
    return kate_and_clients(4, "2026-11-09", "2026-11-15")


@pytest.mark.parametrize(("seen", "short"), [(1, 1), (2, 0)])
def test_paced_month_counts_days_to_month_end_inclusive(seen: int, short: int) -> None:
    # A one-day period on Sun 29 Nov: Dp = 1, Dr = 2 (29 and 30 Nov): ceil(3 x 1 / 2) = 2.
    three = kate_and_clients(3, "2026-11-29", "2026-11-29")
    report = check(three, kate_sees("2026-11-29", 3, seen))
    assert report.ok
    assert len(report.shortfalls) == short


@pytest.fixture
def one_seen() -> Rota:
    """Amy does c-1's visit with Kate shadowing; the other three visits go unstaffed."""
    return kate_sees("2026-11-09", 4, 1)


def with_history(problem: Problem, day: str) -> Problem:
    history = History.model_validate(
        {"coordinator_visits": [{"coordinator": "k-kate", "client": "c-2", "date": day}]}
    )
    return problem.model_copy(update={"history": history})


def test_paced_month_needs_ceil_share(paced: Problem, one_seen: Rota) -> None:
    # Dp = 7 (9-15 Nov), Dr = 22 (9-30 Nov): ceil(4 x 7 / 22) = ceil(1.27) = 2; 1 seen.
    report = check(paced, one_seen)
    assert [(s.client, s.month) for s in report.shortfalls] == [("c-2", "2026-11")]


def test_history_earlier_in_month_removes_client(paced: Problem, one_seen: Rota) -> None:
    # Kate saw c-2 on 3 Nov: O = {c-1, c-3, c-4}, ceil(3 x 7 / 22) = ceil(0.95) = 1; 1 seen.
    assert check(with_history(paced, "2026-11-03"), one_seen).shortfalls == []


@pytest.mark.parametrize("day", ["2026-10-30", "2026-11-09"])
def test_history_outside_month_before_period_does_not_count(
    paced: Problem, one_seen: Rota, day: str
) -> None:
    # Last month, or on the period's first day (not before it): O keeps all four clients.
    assert len(check(with_history(paced, day), one_seen).shortfalls) == 1


# ---------------------------------------------------------------------------------------------
# objective terms, by hand


@pytest.fixture
def priced(problem: Problem) -> Problem:
    """Late allowances, a contract, familiarity and distinct weights for every term."""
    weights = problem.weights.model_copy(
        update={
            "unassigned_visit": 1000,
            "travel_minute": 1,
            "home_travel_minute": 0.5,
            "distinct_worker": 30,
            "unfamiliar_worker": 60,
            "contract_shortfall_minute": 0.1,
            "late_minute": 5,
            "max_late_minute": 2,
        }
    )
    history = History.model_validate(
        {"visits": [{"client": "c-ann", "worker": "w-amy", "date": "2026-11-20"}]}
    )
    p = problem.model_copy(update={"weights": weights, "history": history})
    p = edit(p, "visits", "v-ann", late_allowed_minutes=10)
    p = edit(
        p,
        "visits",
        "v-ben",
        latest_start=datetime(2026, 12, 1, 9, 0),
        late_allowed_minutes=15,
    )
    p = edit(p, "clients", "c-ben", preferred_workers=["w-amy"])
    return edit(p, "workers", "w-amy", contracted_minutes_per_week=100)


def test_objective_terms_by_hand(priced: Problem) -> None:
    # Amy: v-ann 08:26 (6 min late), ends 08:56 + 12.5 = 09:08:30, v-ben 09:10 (10 min late).
    # Kate shadows v-ann.
    late = rota(
        job("v-ann", at("08:26"), "w-amy"),
        job("v-ben", at("09:10"), "w-amy"),
        coordinator_visits=(shadow("v-ann"),),
    )
    report = check(priced, late)
    assert report.ok, format_report(report)
    assert report.terms == pytest.approx(
        {
            "unassigned_visit": 0,
            "travel_minute": 12.5,  # Amy Ann -> Ben 12.5; Kate has one visit
            "home_travel_minute": 0.5 * (10 + 8 + 5 + 5),  # Amy 10 + 8, Kate 5 + 5
            "distinct_worker": 30 * 1,  # Ann: Amy and Kate; Ben: Amy
            "unfamiliar_worker": 60 * 1,  # Kate at Ann (Amy: history at Ann, preferred at Ben)
            "contract_shortfall_minute": 0.1 * (100 - (30 + 12.5 + 30)),  # 27.5 min short
            "late_minute": 5 * (6 + 10),
            "max_late_minute": 2 * 10,
            "coordinator_rule": 0,
        }
    )
    assert report.objective == pytest.approx(12.5 + 14 + 30 + 60 + 2.75 + 80 + 20)
    # Familiar share counts only counted workers: Amy at Ann and Amy at Ben, both familiar.
    assert report.metrics["familiar_visit_share"] == 1.0
    # Ann has Amy and Kate, Ben has Amy: (2 + 1) / 2.
    assert report.metrics["mean_distinct_workers_per_client"] == 1.5


def test_unstaffed_visit_costs_its_weight(priced: Problem) -> None:
    # Amy does v-ann on time: home 10 + back 10 = 20 home minutes at 0.5; 100 - 30 = 70 short.
    half = rota(job("v-ann", at("08:00"), "w-amy"), unassigned=(skip("v-ben"),))
    report = check(priced, half)
    assert report.terms["unassigned_visit"] == 1000
    assert report.objective == pytest.approx(1000 + 0.5 * 20 + 0.1 * 70)


# ---------------------------------------------------------------------------------------------
# examples


def load(name: str) -> Problem:
    return Problem.model_validate(json.loads((EXAMPLES / name).read_text()))


def test_tiny_example_hand_rota() -> None:
    tiny = load("tiny.json")
    mon, tue = "2026-11-30", "2026-12-01"
    hand = rota(
        job("v-ann-mon-am", at("07:45", mon), "w-amy"),
        # Bob and Kate (both hoist); Kate ends at Ann 08:15 + 2 min = 08:17.
        job("v-ben-mon-am", at("08:30", mon), "w-bob", "k-kate"),
        job("v-dot-mon-lunch", at("11:45", mon), "w-amy"),
        job("v-col-mon-tea", at("16:30", mon), "w-cat"),
        job("v-col-mon-bed", at("20:00", mon), "w-cat"),
        job("v-ann-tue-am", at("07:45", tue), "w-amy"),
        job("v-dot-tue-lunch", at("12:00", tue), "w-amy"),
        job("v-col-tue-tea", at("16:30", tue), "w-cat"),
        unassigned=(skip("v-ben-mon-pm", "only w-bob has hoist on shift 19:00-20:00"),),
        coordinator_visits=(
            shadow("v-ann-mon-am"),
            cover("v-ben-mon-am"),
            shadow("v-ann-tue-am"),
        ),
    )
    report = check(tiny, hand)
    assert report.ok, format_report(report)
    # November: Kate sees Ann and Ben (Col was seen on 12 Nov). December: ceil(3 x 1 / 31) = 1.
    assert report.shortfalls == []
    # 10000 unstaffed + travel (Amy Ann -> Dot 2 + 2, Kate Ann -> Ben 2) 6
    # + distinct (Ann: Amy, Kate; Ben: Bob, Kate) 2 x 30 + unfamiliar (Kate at Ann and Ben,
    # Amy at Dot) 3 x 60 + Amy's contract (600 - 4 x 30 - 4) x 0.1 = 47.6
    assert report.objective == pytest.approx(10000 + 6 + 60 + 180 + 47.6)


def test_medium_example_checks_quickly() -> None:
    medium = load("medium-agency.json")
    carers = [w.id for w in medium.workers if w.role == "carer"]
    # Round-robin staffing breaks many rules, so the breach paths run as well as the sums.
    assigned = [
        job(
            v.id,
            v.earliest_start.isoformat(),
            *(carers[(i + j) % len(carers)] for j in range(v.workers_required)),
        )
        for i, v in enumerate(medium.visits)
    ]
    started = time.perf_counter()
    report = check(medium, rota(*assigned))
    elapsed = time.perf_counter() - started
    assert not report.ok
    assert report.metrics["visits_assigned"] == len(medium.visits) == 2221
    assert elapsed < 2.0


def test_format_report_names_breaches_shortfalls_and_objective(
    paced: Problem, one_seen: Rota
) -> None:
    late = one_seen.model_copy(update={"assignments": [job("v-c-1", "2026-11-09T12:01", "w-amy")]})
    text = format_report(check(paced, late))
    assert "INVALID" in text
    assert "[window]" in text
    assert "k-kate / c-2 / 2026-11" in text
    assert "objective: " in text
