"""Planning a week from records: the problem equals one written by hand from the same records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from scenarios.planning import PublishedRota, rolled_forward, runs_on, week_problem
from scenarios.records import (
    Available,
    Away,
    ClientRecord,
    HistoryRecord,
    PackageLink,
    PackageRecord,
    Records,
    WorkerRecord,
)
from solver.contract import Problem

WEEK = date(2027, 1, 4)  # a Monday
HOME = {"lat": 53.80, "lon": -1.55}


@pytest.fixture
def records() -> Records:
    """Two carers (one on leave Tue-Wed), a coordinator, two clients in two areas, four packages."""
    amy = WorkerRecord(
        id="amy",
        name="Amy Shaw",
        areas=["North"],
        home=HOME,
        skills=["medication"],
        gender="female",
        contracted_hours_per_week=20,
        max_hours_per_week=30.5,
        availability=[
            Available(day="mon", start="07:00", end="12:00"),
            Available(day="mon", start="11:00", end="14:00"),  # overlaps: one shift 07-14
            Available(day="tue", start="07:00", end="14:00"),
            Available(day="wed", start="07:00", end="14:00"),
        ],
        away=[Away(start=date(2027, 1, 5), end=date(2027, 1, 6), reason="leave")],
    )
    bob = WorkerRecord(
        id="bob",
        areas=["South"],
        home=HOME,
        availability=[Available(day="mon", start="16:00", end="22:00")],
    )
    kate = WorkerRecord(
        id="kate",
        role="coordinator",
        home=HOME,
        availability=[Available(day="thu", start="10:00", end="13:00")],
    )
    north = ClientRecord(
        id="c1",
        name="Mrs Holt",
        area="North",
        location={"lat": 53.81, "lon": -1.55},
        coordinator="kate",
        preferred_workers=["amy"],
        excluded_workers=["bob"],
        care_plan="Insulin",
    )
    south = ClientRecord(id="c2", area="South", location={"lat": 53.79, "lon": -1.55})
    packages = [
        PackageRecord(
            id="c1-am",
            client="c1",
            days=["mon", "tue"],
            start_date=date(2026, 12, 1),
            earliest_start="08:00",
            latest_start="09:00",
            duration_minutes=30,
            skills=["medication"],
        ),
        PackageRecord(
            id="c1-lunch",
            client="c1",
            days=["mon", "tue"],
            start_date=date(2026, 12, 1),
            end_date=date(2027, 1, 4),  # ends on Monday: no Tuesday lunch
            earliest_start="12:00",
            latest_start="13:00",
            duration_minutes=15,
            after=PackageLink(
                package="c1-am", min_minutes=180, max_minutes=300, distinct_workers=True
            ),
        ),
        # Fortnightly from the week of 28 Dec: runs that week and the week of 11 Jan, not 4 Jan.
        PackageRecord(
            id="c1-clean",
            client="c1",
            days=["fri"],
            every_weeks=2,
            start_date=date(2026, 12, 28),
            earliest_start="10:00",
            latest_start="11:00",
            duration_minutes=60,
        ),
        PackageRecord(
            id="c2-tea",
            client="c2",
            days=["mon"],
            start_date=date(2027, 1, 4),
            earliest_start="17:00",
            latest_start="17:30",
            duration_minutes=30,
            workers_required=1,
        ),
    ]
    history = [
        HistoryRecord(client="c1", worker="amy", date=date(2026, 12, 30)),
        HistoryRecord(client="c1", worker="kate", date=date(2027, 1, 2), coordinator=True),
        HistoryRecord(client="c1", worker="amy", date=date(2026, 11, 1)),  # too long ago
    ]
    return Records(
        workers=[amy, bob, kate], clients=[north, south], packages=packages, history=history
    )


def test_every_n_weeks_counts_from_the_start_dates_week() -> None:
    fortnightly = PackageRecord(
        id="p",
        client="c",
        days=["fri"],
        every_weeks=2,
        start_date=date(2026, 12, 30),  # a Wednesday: its week starts Mon 28 Dec
        earliest_start="10:00",
        latest_start="11:00",
        duration_minutes=60,
    )
    assert not runs_on(fortnightly, date(2026, 12, 25))  # before the start
    assert runs_on(fortnightly, date(2027, 1, 1))  # week 0
    assert not runs_on(fortnightly, date(2027, 1, 8))  # week 1
    assert runs_on(fortnightly, date(2027, 1, 15))  # week 2


def test_the_plan_equals_the_problem_written_by_hand(records: Records) -> None:
    built = week_problem(records, WEEK, agency="Northside", area=None)
    by_hand: dict[str, Any] = {
        "schema_version": 1,
        "agency": "Northside",
        "timezone": "Europe/London",
        "period": {"start": "2027-01-04", "end": "2027-01-10"},
        "workers": [
            {
                "id": "amy",
                "role": "carer",
                "home": HOME,
                "travel_mode": "car",
                "skills": ["medication"],
                # Mon 07-12 and 11-14 merge; Tue and Wed are leave.
                "shifts": [{"start": "2027-01-04T07:00", "end": "2027-01-04T14:00"}],
                "name": "Amy Shaw",
                "gender": "female",
                "max_minutes_per_week": 1830,  # 30.5 h
                "contracted_minutes_per_week": 1200,
            },
            {
                "id": "bob",
                "role": "carer",
                "home": HOME,
                "travel_mode": "car",
                "skills": [],
                "shifts": [{"start": "2027-01-04T16:00", "end": "2027-01-04T22:00"}],
            },
            {
                "id": "kate",
                "role": "coordinator",
                "home": HOME,
                "travel_mode": "car",
                "skills": [],
                "shifts": [{"start": "2027-01-07T10:00", "end": "2027-01-07T13:00"}],
            },
        ],
        "clients": [
            {
                "id": "c1",
                "location": {"lat": 53.81, "lon": -1.55},
                "preferred_workers": ["amy"],
                "excluded_workers": ["bob"],
                "name": "Mrs Holt",
                "care_plan": "Insulin",
                "coordinator": "kate",
            },
            {
                "id": "c2",
                "location": {"lat": 53.79, "lon": -1.55},
                "preferred_workers": [],
                "excluded_workers": [],
            },
        ],
        "visits": [
            {
                "id": "c1-am@2027-01-04",
                "client": "c1",
                "earliest_start": "2027-01-04T08:00",
                "latest_start": "2027-01-04T09:00",
                "duration_minutes": 30,
                "workers_required": 1,
                "skills": ["medication"],
            },
            {
                "id": "c1-lunch@2027-01-04",
                "client": "c1",
                "earliest_start": "2027-01-04T12:00",
                "latest_start": "2027-01-04T13:00",
                "duration_minutes": 15,
                "workers_required": 1,
                "skills": [],
                "after": {
                    "visit": "c1-am@2027-01-04",
                    "min_minutes": 180,
                    "max_minutes": 300,
                    "distinct_workers": True,
                },
            },
            {
                "id": "c2-tea@2027-01-04",
                "client": "c2",
                "earliest_start": "2027-01-04T17:00",
                "latest_start": "2027-01-04T17:30",
                "duration_minutes": 30,
                "workers_required": 1,
                "skills": [],
            },
            {
                "id": "c1-am@2027-01-05",
                "client": "c1",
                "earliest_start": "2027-01-05T08:00",
                "latest_start": "2027-01-05T09:00",
                "duration_minutes": 30,
                "workers_required": 1,
                "skills": ["medication"],
            },
        ],
        "history": {
            "visits": [{"client": "c1", "worker": "amy", "date": "2026-12-30"}],
            "coordinator_visits": [{"coordinator": "kate", "client": "c1", "date": "2027-01-02"}],
        },
    }
    assert built == by_hand
    Problem.model_validate(built)  # and it is a valid problem


def test_an_area_plans_its_clients_with_its_workers_and_their_coordinators(
    records: Records,
) -> None:
    south = week_problem(records, WEEK, agency="Northside", area="South")
    assert [c["id"] for c in south["clients"]] == ["c2"]
    # bob works in the South; kate in every area; amy only in the North.
    assert [w["id"] for w in south["workers"]] == ["bob", "kate"]
    assert {v["client"] for v in south["visits"]} == {"c2"}
    Problem.model_validate(south)


def _published(area: str, day: str) -> PublishedRota:
    """A one-visit published rota: amy on c1 08:00-08:30, with kate shadowing."""
    problem = {
        "period": {"start": day, "end": day},
        "visits": [{"id": "v1", "client": "c1"}],
        "workers": [],
    }
    rota = {
        "assignments": [{"visit": "v1", "workers": ["amy"], "start": f"{day}T08:00"}],
        "coordinator_visits": [{"visit": "v1", "coordinator": "kate", "mode": "shadow"}],
        "routes": [
            {
                "worker": "amy",
                "date": day,
                "stops": [{"visit": "v1", "start": f"{day}T08:00", "end": f"{day}T08:30"}],
            }
        ],
    }
    return PublishedRota(area, problem, rota)


def test_history_comes_from_the_published_rotas_before_the_week(records: Records) -> None:
    plain = records.model_copy(update={"history": []})
    built = week_problem(
        plain, WEEK, agency="N", published=[_published("North", "2026-12-29")], area="North"
    )
    assert built["history"] == {
        "visits": [{"client": "c1", "worker": "amy", "date": "2026-12-29"}],
        "coordinator_visits": [{"coordinator": "kate", "client": "c1", "date": "2026-12-29"}],
    }


def test_another_areas_published_visits_are_cut_out_of_the_shifts(records: Records) -> None:
    # amy's Monday 08:00-08:30 is on the South's published rota, so the North's plan has her
    # 07:00-08:00 and 08:30-14:00 only.
    built = week_problem(
        records, WEEK, agency="N", area="North", published=[_published("South", "2027-01-04")]
    )
    amy = next(w for w in built["workers"] if w["id"] == "amy")
    assert amy["shifts"] == [
        {"start": "2027-01-04T07:00", "end": "2027-01-04T08:00"},
        {"start": "2027-01-04T08:30", "end": "2027-01-04T14:00"},
    ]
    # Its own area's published rota of the same week is what the plan replaces: nothing is cut.
    same = week_problem(
        records, WEEK, agency="N", area="North", published=[_published("North", "2027-01-04")]
    )
    assert next(w for w in same["workers"] if w["id"] == "amy")["shifts"] == [
        {"start": "2027-01-04T07:00", "end": "2027-01-04T14:00"}
    ]


def test_a_recorded_absence_is_cut_out_of_the_shifts(records: Records) -> None:
    # bob is off sick from 18:00 on Monday: his 16:00-22:00 shift keeps 16:00-18:00 only.
    built = week_problem(
        records,
        WEEK,
        agency="N",
        absences=[("bob", datetime(2027, 1, 4, 18, 0), datetime(2027, 1, 5, 23, 59))],
    )
    bob = next(w for w in built["workers"] if w["id"] == "bob")
    assert bob["shifts"] == [{"start": "2027-01-04T16:00", "end": "2027-01-04T18:00"}]


def test_the_week_befores_rota_rolls_forward_by_package_and_weekday() -> None:
    def published(area: str, start: str, visits: list[tuple[str, str]]) -> PublishedRota:
        rota = {
            "status": "feasible",
            "assignments": [{"visit": v, "workers": ["w1"], "start": at} for v, at in visits],
            "coordinator_visits": [{"visit": visits[0][0], "coordinator": "k1", "mode": "shadow"}],
        }
        return PublishedRota(area, {"period": {"start": start}}, rota)

    week = [("p1@2027-01-04", "2027-01-04T08:15"), ("upload-7", "2027-01-05T09:00")]
    north = published("North", "2027-01-04", [("p9@2027-01-04", "2027-01-04T10:00")])
    older = published("", "2026-12-28", [("p1@2026-12-28", "2026-12-28T08:00")])
    rolled = rolled_forward([older, published("", "2027-01-04", week)], date(2027, 1, 11), None)
    assert rolled is not None
    # A package's visit moves on a week at the same wall-clock time; an uploaded id cannot.
    assert rolled["assignments"] == [
        {"visit": "p1@2027-01-11", "workers": ["w1"], "start": "2027-01-11T08:15"}
    ]
    assert rolled["coordinator_visits"][0]["visit"] == "p1@2027-01-11"
    north_rolled = rolled_forward([north], date(2027, 1, 11), "North")
    assert north_rolled is not None and north_rolled["assignments"][0]["visit"] == "p9@2027-01-11"
    # Another area's week is not this area's start.
    assert rolled_forward([north], date(2027, 1, 11), "South") is None


def test_a_whole_agency_plan_rolls_every_areas_week_and_the_latest_publication_wins() -> None:
    def published(
        area: str, visits: list[tuple[str, str, str]], shadowed: bool = True
    ) -> PublishedRota:
        """An area's week; k1 shadows its first visit if ``shadowed``."""
        shadow = (
            [{"visit": visits[0][0], "coordinator": "k1", "mode": "shadow"}] if shadowed else []
        )
        rota = {
            "status": "feasible",
            "assignments": [{"visit": v, "workers": [w], "start": at} for v, w, at in visits],
            "coordinator_visits": shadow,
        }
        return PublishedRota(area, {"period": {"start": "2027-01-04"}}, rota)

    # The whole agency's week: p9 (k1 shadowing) and p1. North (p9) was planned again after it
    # was published: w2 at 10:30, no coordinator. South published its own week (p5, k1).
    whole = published(
        "",
        [("p9@2027-01-04", "w1", "2027-01-04T10:00"), ("p1@2027-01-04", "w1", "2027-01-04T08:00")],
    )
    north = published("North", [("p9@2027-01-04", "w2", "2027-01-04T10:30")], shadowed=False)
    south = published("South", [("p5@2027-01-05", "w3", "2027-01-05T09:00")])
    rolled = rolled_forward([whole, north, south], date(2027, 1, 11), None)
    assert rolled is not None
    crews = {a["visit"]: (a["workers"], a["start"]) for a in rolled["assignments"]}
    assert crews == {
        "p1@2027-01-11": (["w1"], "2027-01-11T08:00"),
        "p9@2027-01-11": (["w2"], "2027-01-11T10:30"),
        "p5@2027-01-12": (["w3"], "2027-01-12T09:00"),
    }
    # p9's coordinator went with the crew North's publication replaced.
    assert [cv["visit"] for cv in rolled["coordinator_visits"]] == ["p5@2027-01-12"]
    # An area's plan starts from the whole agency's week where the area has none of its own.
    south_plan = rolled_forward([whole], date(2027, 1, 11), "South")
    assert south_plan is not None and len(south_plan["assignments"]) == 2


def test_a_plan_after_a_week_off_rolls_the_last_published_week_on() -> None:
    rota = {
        "status": "feasible",
        "assignments": [{"visit": "p1@2027-01-04", "workers": ["w1"], "start": "2027-01-04T08:00"}],
    }
    jan4 = PublishedRota("", {"period": {"start": "2027-01-04"}}, rota)
    # Nothing published for the week of 11 January: the week of 18 January starts from 4 January.
    rolled = rolled_forward([jan4], date(2027, 1, 18), None)
    assert rolled is not None
    assert rolled["assignments"] == [
        {"visit": "p1@2027-01-18", "workers": ["w1"], "start": "2027-01-18T08:00"}
    ]
    # Five weeks on is too far back.
    assert rolled_forward([jan4], date(2027, 2, 8), None) is None
