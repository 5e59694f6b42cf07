"""``solver.data.build``: clock changes, rounding, who may do what, and rule 6's requirements.

Most tests use ``autumn``: Mon 19 to Sun 25 Oct 2026 in London. Clocks go back at 02:00 BST on
the Sunday, so that day lasts 25 hours. Minute 0 is local midnight on Monday, 23:00 UTC on Sun 18.

- Amy (carer, car, medication, female): shift Sun 07:00-13:00.
- Bob (carer, walks, no skills, male): shift Sun 08:00-09:00.
- Kate (coordinator, medication, female): shift Sun 08:00-11:00.
- Ann accepts female carers only and is Kate's client; Ben excludes Amy.
- v-ann: Ann, Sun window 09:00-09:30, 30 min, needs medication. v-ben: Ben, same window, 30 min.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from solver.contract import History, HistoryCoordinatorVisit, Problem, Shift
from solver.data import Clock, ProblemData, build
from tests.builders import carer, client, problem, visit

AMY, BOB, KATE = 0, 1, 2
ANN, BEN = 0, 1


def agency(monday: date) -> Problem:
    """The test agency for the week starting ``monday``; everything happens on the Sunday."""
    sun = (monday + timedelta(days=6)).isoformat()
    return problem(
        monday.isoformat(),
        sun,
        workers=[
            carer(
                "w-amy", "07:00", "13:00", sun, lat=53.80, skills=["medication"], gender="female"
            ),
            carer("w-bob", "08:00", "09:00", sun, lat=53.81, travel_mode="walk", gender="male"),
            carer(
                "k-kate",
                "08:00",
                "11:00",
                sun,
                lat=53.82,
                role="coordinator",
                skills=["medication"],
                gender="female",
            ),
        ],
        clients=[
            client("c-ann", 53.80, -1.56, coordinator="k-kate", gender_preference="female"),
            client("c-ben", 53.80, -1.57, excluded_workers=["w-amy"]),
        ],
        visits=[
            visit("v-ann", "c-ann", "09:00", "09:30", day=sun, skills=["medication"]),
            visit("v-ben", "c-ben", "09:00", "09:30", day=sun),
        ],
    )


def edit(problem: Problem, kind: str, ident: str, **changes: Any) -> Problem:
    """A copy of ``problem`` with one worker, client or visit changed."""
    items = [x.model_copy(update=changes) if x.id == ident else x for x in getattr(problem, kind)]
    return problem.model_copy(update={kind: items})


def shift(start: str, end: str) -> Shift:
    return Shift.model_validate({"start": start, "end": end})


@pytest.fixture
def autumn() -> Problem:
    """The week clocks go back: Mon 19 to Sun 25 Oct 2026."""
    return agency(date(2026, 10, 19))


@pytest.fixture
def spring() -> Problem:
    """The week clocks go forward: Mon 23 to Sun 29 Mar 2026."""
    return agency(date(2026, 3, 23))


@pytest.fixture
def data(autumn: Problem) -> ProblemData:
    """``autumn`` built."""
    return build(autumn)


# ---------------------------------------------------------------------------------------------
# Clock changes


def test_visit_minute_after_clocks_go_back(data: ProblemData) -> None:
    # Six whole days of 1440 minutes, then 9 h on Sunday, plus the hour 01:00-02:00 that
    # Sunday's clock repeats: 6*1440 + 9*60 + 60 = 8640 + 540 + 60 = 9240.
    assert data.earliest[0] == 6 * 1440 + 9 * 60 + 60 == 9240
    assert data.latest[0] == 9240 + 30
    assert data.visit_day[0] == 6
    # Shift 07:00-13:00 on Sunday: 8640 + 420 + 60 = 9120 to 8640 + 780 + 60 = 9480.
    assert (data.shift_start[AMY], data.shift_end[AMY]) == (9120, 9480)


def test_sunday_lasts_25_hours_in_october(data: ProblemData) -> None:
    # Sunday's midnight is still BST: 6*1440 = 8640. Monday's is GMT: 7*1440 + 60 = 10140.
    assert data.day_start[6] == 8640
    assert data.day_start[7] == 10140
    assert data.day_start[7] - data.day_start[6] == 1500
    assert list(np.diff(data.day_start[:7])) == [1440] * 6


def test_sunday_lasts_23_hours_in_march(spring: Problem) -> None:
    data = build(spring)
    # Sunday 29 Mar starts in GMT (8640); Monday 30 Mar's midnight is BST: 7*1440 - 60 = 10020.
    assert data.day_start[7] - data.day_start[6] == 1380
    # A 09:00 visit on that Sunday: 6*1440 + 9*60 - 60 = 8640 + 540 - 60 = 9120.
    assert data.earliest[0] == 9120


def test_clock_local_round_trips(data: ProblemData) -> None:
    clock: Clock = data.clock
    assert clock.local(9240) == datetime(2026, 10, 25, 9, 0)
    assert clock.text(9240) == "2026-10-25T09:00"
    assert clock.text(int(data.day_start[7])) == "2026-10-26T00:00"
    # 01:00 BST on Sunday is minute 8640 + 60 = 8700; the repeated 01:00 (GMT) is 8760.
    repeated = range(8760, 8820)
    for minute in range(int(data.day_start[-1])):
        if minute in repeated:
            # The second 01:xx reads the same on the wall as the first one, an hour earlier.
            assert clock.local(minute) == clock.local(minute - 60)
        else:
            assert clock.minute_up(clock.local(minute)) == minute


def test_clock_local_round_trips_in_spring(spring: Problem) -> None:
    clock = build(spring).clock
    # Sunday 29 Mar: 00:59 GMT is minute 8640 + 59 = 8699; the next minute is 02:00 BST.
    assert clock.text(8699) == "2026-03-29T00:59"
    assert clock.text(8700) == "2026-03-29T02:00"
    for minute in range(0, 10020):
        assert clock.minute_up(clock.local(minute)) == minute


# ---------------------------------------------------------------------------------------------
# Seconds are rounded inwards


def test_visit_seconds_round_inwards(autumn: Problem) -> None:
    """Earliest 09:00:30 rounds up to 09:01; latest 09:29:30 rounds down to 09:29."""
    odd = edit(
        autumn,
        "visits",
        "v-ben",
        earliest_start=datetime(2026, 10, 25, 9, 0, 30),
        latest_start=datetime(2026, 10, 25, 9, 29, 30),
    )
    data = build(odd)
    assert data.earliest[1] == 9240 + 1
    assert data.latest[1] == 9240 + 29
    # Whole minutes stay as they are.
    assert (data.earliest[0], data.latest[0]) == (9240, 9270)


def test_shift_seconds_round_inwards(autumn: Problem) -> None:
    """A shift 07:00:30-12:59:30 is used as 07:01-12:59."""
    odd = edit(
        autumn, "workers", "w-amy", shifts=[shift("2026-10-25T07:00:30", "2026-10-25T12:59:30")]
    )
    data = build(odd)
    # 07:01 is 9120 + 1; 12:59 is 9480 - 1.
    assert (data.shift_start[AMY], data.shift_end[AMY]) == (9121, 9479)


# ---------------------------------------------------------------------------------------------
# Who may do what


def test_skilled_needs_every_skill(data: ProblemData) -> None:
    # v-ann needs medication: Amy and Kate have it, Bob does not. v-ben needs nothing.
    assert data.skill_names == ["medication"]
    assert data.skilled[0].tolist() == [True, False, True]
    assert data.skilled[1].tolist() == [True, True, True]


def test_allowed_keeps_gender_preference_and_exclusion(data: ProblemData) -> None:
    # Ann accepts women only: not Bob. Ben excludes Amy.
    assert data.allowed[0].tolist() == [True, False, True]
    assert data.allowed[1].tolist() == [False, True, True]


def test_allowed_without_gender_is_not_a_match(autumn: Problem) -> None:
    # A worker with no recorded gender cannot meet a gender preference.
    unknown = edit(autumn, "workers", "k-kate", gender=None)
    assert build(unknown).allowed[0].tolist() == [True, False, False]


def test_visit_shift_holds_only_a_shift_that_fits_the_window(data: ProblemData) -> None:
    # Bob's 08:00-09:00 ends before the earliest finish 09:00 + 30 = 09:30. Amy's (shift 0)
    # and Kate's (shift 2) hold it.
    assert data.visit_shift[0] == {AMY: 0, KATE: 2}
    assert data.visit_shift[1] == {AMY: 0, KATE: 2}
    # can_count adds skills and the client's wishes: Amy is excluded by Ben.
    assert [data.can_count(1, w) for w in (AMY, BOB, KATE)] == [False, False, True]
    assert data.can_shadow(0, KATE)
    assert not data.can_shadow(0, AMY)  # Amy is no coordinator


def test_visit_shift_boundary(autumn: Problem) -> None:
    # Bob until 09:30: start 09:00 + 30 = 09:30 fits exactly. Until 09:29 it does not.
    exact = edit(autumn, "workers", "w-bob", shifts=[shift("2026-10-25T08:00", "2026-10-25T09:30")])
    assert BOB in build(exact).visit_shift[1]
    short = edit(autumn, "workers", "w-bob", shifts=[shift("2026-10-25T08:00", "2026-10-25T09:29")])
    assert BOB not in build(short).visit_shift[1]


def test_visit_shift_counts_allowed_lateness(autumn: Problem) -> None:
    # Bob from 09:35: after the window's 09:30 close, unless 5 late minutes are allowed
    # (09:30 + 5 = 09:35, ends 10:05 inside a shift to 12:00).
    late_shift = edit(
        autumn, "workers", "w-bob", shifts=[shift("2026-10-25T09:35", "2026-10-25T12:00")]
    )
    assert BOB not in build(late_shift).visit_shift[1]
    lenient = edit(late_shift, "visits", "v-ben", late_allowed_minutes=5)
    assert BOB in build(lenient).visit_shift[1]


# ---------------------------------------------------------------------------------------------
# Coordinator requirements (rule 6)


@pytest.fixture
def month_end() -> Problem:
    """Mon 30 Nov to Sun 6 Dec 2026: Kate oversees c-1 .. c-6; c-7 has no coordinator."""
    return Problem.model_validate(
        {
            "timezone": "Europe/London",
            "period": {"start": "2026-11-30", "end": "2026-12-06"},
            "workers": [
                {"id": "w-amy", "home": {"lat": 53.80, "lon": -1.55}},
                {"id": "k-kate", "role": "coordinator", "home": {"lat": 53.81, "lon": -1.55}},
            ],
            "clients": [
                {
                    "id": f"c-{i}",
                    "location": {"lat": 53.80, "lon": -1.55 - i / 100},
                    **({"coordinator": "k-kate"} if i <= 6 else {}),
                }
                for i in range(1, 8)
            ],
            "visits": [],
        }
    )


def test_requirements_month_end_and_paced_month(month_end: Problem) -> None:
    nov, dec = build(month_end).requirements
    # November ends on Mon 30 Nov, inside the period: every open client is required.
    assert (nov.coordinator, nov.month, nov.month_end) == (1, "2026-11", True)
    assert nov.clients.tolist() == [0, 1, 2, 3, 4, 5]
    assert nov.required == 6
    assert nov.days.tolist() == [0]
    # December is paced: Dp = 6 days (1-6 Dec), Dr = 31 (1-31 Dec):
    # ceil(6 * 6 / 31) = ceil(1.16) = 2.
    assert (dec.month, dec.month_end) == ("2026-12", False)
    assert dec.clients.tolist() == [0, 1, 2, 3, 4, 5]
    assert dec.required == math.ceil(6 * 6 / 31) == 2
    assert dec.days.tolist() == [1, 2, 3, 4, 5, 6]


def test_history_visit_in_november_only_closes_november(month_end: Problem) -> None:
    seen = History(
        coordinator_visits=[
            # Kate saw c-1 on 12 Nov: done for November, not for December.
            HistoryCoordinatorVisit(coordinator="k-kate", client="c-1", date=date(2026, 11, 12)),
            # A visit in October counts for no month the period touches.
            HistoryCoordinatorVisit(coordinator="k-kate", client="c-2", date=date(2026, 10, 30)),
        ]
    )
    nov, dec = build(month_end.model_copy(update={"history": seen})).requirements
    assert nov.clients.tolist() == [1, 2, 3, 4, 5]
    assert nov.required == 5
    assert dec.clients.tolist() == [0, 1, 2, 3, 4, 5]
    assert dec.required == 2


def test_no_requirements_without_coordinated_clients(month_end: Problem) -> None:
    nobody = [c.model_copy(update={"coordinator": None}) for c in month_end.clients]
    assert build(month_end.model_copy(update={"clients": nobody})).requirements == []
