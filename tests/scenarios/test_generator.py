"""The synthetic agency generator: deterministic, valid, and realistic in shape and capacity."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scenarios.generator import BUNDLED, SIZES, _legal, generate, write_scenario
from solver.contract import Problem

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SEEDS = {"small": 1, "medium": 2, "large": 3}
ALL_SIZES = list(SIZES)


@cache
def agency(size: str) -> dict[str, Any]:
    """Each size is generated once per test session (the large one takes about a second)."""
    return generate(SIZES[size], seed=SEEDS[size])


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def minutes(start: str, end: str) -> float:
    return (moment(end) - moment(start)).total_seconds() / 60


def carers(problem: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in problem["workers"] if w["role"] == "carer"]


def coordinators(problem: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in problem["workers"] if w["role"] == "coordinator"]


def visit_minutes(problem: dict[str, Any]) -> int:
    return sum(v["duration_minutes"] * v["workers_required"] for v in problem["visits"])


def fingerprint(problem: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(problem).encode()).hexdigest()


# -- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_json() -> None:
    assert json.dumps(generate(40, seed=7)) == json.dumps(generate(40, seed=7))


def test_different_seeds_differ() -> None:
    one, two = generate(40, seed=7), generate(40, seed=8)
    assert fingerprint(one) != fingerprint(two)
    assert one["clients"][0]["location"] != two["clients"][0]["location"]


def test_output_does_not_depend_on_the_hash_seed() -> None:
    script = (
        "import hashlib, json; from scenarios.generator import generate; "
        "print(hashlib.sha256(json.dumps(generate(40, seed=1)).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in ("0", "12345")
    }
    assert digests == {fingerprint(agency("small"))}


def test_agency_name_does_not_change_the_rest() -> None:
    named = generate(40, seed=1, agency="Test Agency")
    assert named["agency"] == "Test Agency"
    assert {**named, "agency": ""} == {**agency("small"), "agency": ""}


def test_bundled_scenario_files_match_the_generator() -> None:
    for name, (clients, seed) in BUNDLED.items():
        text = (SCENARIOS / f"{name}.json").read_text(encoding="utf-8")
        assert text == json.dumps(generate(clients, seed=seed), indent=1) + "\n", name


def test_write_scenario(tmp_path: Path) -> None:
    target = tmp_path / "agency.json"
    problem = write_scenario(target, 12, seed=4, days=3)
    assert json.loads(target.read_text(encoding="utf-8")) == problem
    assert problem["period"] == {"start": "2026-11-30", "end": "2026-12-02"}


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        generate(0, seed=1)
    with pytest.raises(ValueError):
        generate(10, seed=1, days=0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        generate(10, seed=1, double_ups=1.5)
    with pytest.raises(ValueError, match="positive"):
        generate(10, seed=1, supply=0)


def test_more_double_ups_and_a_leaner_workforce_on_request() -> None:
    """The stress agencies of benchmarks/engine.py: a quarter of the visits double-ups, a
    tenth fewer carers' minutes for the demand; every visit still has carers who may take it."""
    plain = generate(60, seed=4)
    heavy = generate(60, seed=4, double_ups=0.24)
    lean = generate(60, seed=4, double_ups=0.24, supply=0.9)
    doubles = [v for v in heavy["visits"] if v["workers_required"] == 2]
    assert 0.22 <= len(doubles) / len(heavy["visits"]) <= 0.30
    assert len(doubles) > sum(v["workers_required"] == 2 for v in plain["visits"])

    def ratio(problem: dict[str, Any]) -> float:
        shifts = sum(minutes(s["start"], s["end"]) for w in carers(problem) for s in w["shifts"])
        return shifts / visit_minutes(problem)

    assert lean["visits"] == heavy["visits"]
    assert ratio(lean) < 0.95 * ratio(heavy)
    Problem.model_validate(lean)


# -- validity --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ALL_SIZES)
def test_validates_against_the_contract(size: str) -> None:
    Problem.model_validate(agency(size))


@pytest.mark.parametrize(
    ("start", "days", "timezone"),
    [
        (date(2026, 10, 19), 7, "Europe/London"),  # clocks go back on Sunday 25 October
        (date(2027, 3, 24), 7, "Europe/London"),  # clocks go forward on Sunday 28 March
        (date(2026, 12, 1), 7, "Europe/London"),  # starts on the 1st: no coordinator history
        (date(2026, 12, 20), 14, "Europe/London"),  # two weeks across a month end
        (date(2026, 11, 1), 3, "America/New_York"),
        (date(2026, 10, 1), 7, "Australia/Lord_Howe"),  # a half-hour clock change
    ],
)
def test_other_periods_and_zones_validate(start: date, days: int, timezone: str) -> None:
    problem = generate(30, seed=5, start=start, days=days, timezone=timezone)
    Problem.model_validate(problem)
    assert problem["period"]["start"] == start.isoformat()
    assert problem["period"]["end"] == (start + timedelta(days=days - 1)).isoformat()


def test_tiny_agencies_validate() -> None:
    for clients in (1, 2, 5):
        Problem.model_validate(generate(clients, seed=clients, days=2))


def test_times_in_a_clock_change_are_moved_to_valid_ones() -> None:
    london = ZoneInfo("Europe/London")
    assert _legal(datetime(2026, 3, 29, 1, 30), london) == datetime(2026, 3, 29, 2, 0)
    assert _legal(datetime(2026, 10, 25, 1, 15), london) == datetime(2026, 10, 25, 2, 0)
    assert _legal(datetime(2026, 10, 25, 9, 0), london) == datetime(2026, 10, 25, 9, 0)


@pytest.mark.parametrize("size", ALL_SIZES)
def test_ids_and_names(size: str) -> None:
    problem = agency(size)
    for worker in carers(problem):
        assert re.fullmatch(r"w\d{3,}", worker["id"])
        assert worker["name"] == f"Carer {int(worker['id'][1:])}"
    for worker in coordinators(problem):
        assert re.fullmatch(r"k\d{2,}", worker["id"])
    for client in problem["clients"]:
        assert re.fullmatch(r"c\d{4,}", client["id"])
        assert client["name"] == f"Client {int(client['id'][1:])}"
        assert client["care_plan"]
        assert re.fullmatch(r"\d+ [A-Z][a-z]+ [A-Z][a-z]+", client["address"])
    assert [v["id"] for v in problem["visits"]] == [
        f"v{i:05d}" for i in range(len(problem["visits"]))
    ]


# -- size and shape ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "lowest", "highest"),
    [("small", 450, 900), ("medium", 2000, 2800), ("large", 6000, 8500)],
)
def test_sizes(size: str, lowest: int, highest: int) -> None:
    problem = agency(size)
    assert len(problem["clients"]) == SIZES[size]
    assert lowest <= len(problem["visits"]) <= highest


def test_medium_workforce_is_realistic() -> None:
    assert 55 <= len(agency("medium")["workers"]) <= 80


@pytest.mark.parametrize("size", ALL_SIZES)
def test_visits_follow_care_rounds(size: str) -> None:
    problem = agency(size)
    per_client_day: Counter[tuple[str, str]] = Counter()
    for visit in problem["visits"]:
        early, late = moment(visit["earliest_start"]), moment(visit["latest_start"])
        assert visit["duration_minutes"] in (15, 30, 45, 60)
        assert minutes(visit["earliest_start"], visit["latest_start"]) in (30, 60)
        assert early.hour >= 7
        assert late + timedelta(minutes=visit["duration_minutes"]) <= late.replace(hour=22)
        per_client_day[(visit["client"], visit["earliest_start"][:10])] += 1
    assert max(per_client_day.values()) <= 5  # four rounds and a domestic call
    weekly = Counter(client for client, _ in per_client_day)
    assert min(weekly.values()) >= 1


@pytest.mark.parametrize("size", ALL_SIZES)
def test_some_clients_have_weekday_care_only(size: str) -> None:
    problem = agency(size)
    weekend = {v["client"] for v in problem["visits"] if moment(v["earliest_start"]).weekday() >= 5}
    assert 0 < len(weekend) < len(problem["clients"])


@pytest.mark.parametrize("size", ALL_SIZES)
def test_double_ups_are_8_to_20_percent_and_need_a_hoist(size: str) -> None:
    visits = agency(size)["visits"]
    doubles = [v for v in visits if v["workers_required"] == 2]
    assert 0.08 <= len(doubles) / len(visits) <= 0.20
    assert all("hoist" in v["skills"] for v in doubles)


@pytest.mark.parametrize("size", ALL_SIZES)
def test_skill_requirements_have_realistic_shares(size: str) -> None:
    visits = agency(size)["visits"]
    share = {
        skill: sum(skill in v["skills"] for v in visits) / len(visits)
        for skill in ("medication", "dementia", "catheter")
    }
    assert 0.2 <= share["medication"] <= 0.5
    assert 0.05 <= share["dementia"] <= 0.35
    assert share["catheter"] <= 0.1
    if size != "small":  # 40 clients may well include nobody with a catheter
        assert share["catheter"] > 0.0


@pytest.mark.parametrize("size", ALL_SIZES)
def test_client_preferences(size: str) -> None:
    problem = agency(size)
    clients = problem["clients"]
    female_only = [c for c in clients if c.get("gender_preference")]
    assert all(c["gender_preference"] == "female" for c in female_only)
    assert 0 < len(female_only) <= 0.2 * len(clients)
    assert 0 < sum(1 for c in clients if c["excluded_workers"]) <= 0.15 * len(clients)
    assert 0 < sum(1 for c in clients if c["preferred_workers"]) <= 0.3 * len(clients)


@pytest.mark.parametrize("size", ALL_SIZES)
def test_after_links_are_few_and_satisfiable(size: str) -> None:
    visits = {v["id"]: v for v in agency(size)["visits"]}
    linked = [v for v in visits.values() if "after" in v]
    assert 0 < len(linked) <= 0.05 * len(visits)
    for visit in linked:
        link = visit["after"]
        first = visits[link["visit"]]
        assert first["client"] == visit["client"]
        assert first["earliest_start"][:10] == visit["earliest_start"][:10]
        assert (link["min_minutes"], link["max_minutes"]) == (180, 600)
        # Some start of the first visit leaves room for a start of this one in its window.
        lowest = max(
            moment(visit["earliest_start"]),
            moment(first["earliest_start"]) + timedelta(minutes=180),
        )
        highest = min(
            moment(visit["latest_start"]), moment(first["latest_start"]) + timedelta(minutes=600)
        )
        assert lowest <= highest


# -- workers --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ALL_SIZES)
def test_carers_shifts_and_caps(size: str) -> None:
    problem = agency(size)
    for worker in carers(problem):
        days = {s["start"][:10] for s in worker["shifts"]}
        assert len(days) in (5, 6)
        assert all(
            moment(s["start"]).hour >= 7 and s["end"][11:] <= "22:00" for s in worker["shifts"]
        )
        assert worker["contracted_minutes_per_week"] <= worker["max_minutes_per_week"]
        assert 480 <= worker["max_minutes_per_day"] <= 720
    starts = Counter(
        tuple(s["start"][11:] + "-" + s["end"][11:] for s in w["shifts"][:2])
        for w in carers(problem)
    )
    assert any(
        len(pattern) == 2 and pattern[0].startswith("07:00") and pattern[1] > "16"
        for pattern in starts
    )


@pytest.mark.parametrize("size", ALL_SIZES)
def test_workforce_mostly_female_drivers(size: str) -> None:
    workforce = carers(agency(size))
    modes = Counter(w["travel_mode"] for w in workforce)
    assert modes["car"] >= 0.6 * len(workforce)
    assert modes["car"] < len(workforce)
    genders = Counter(w["gender"] for w in workforce)
    assert genders["female"] >= 0.6 * len(workforce)


@pytest.mark.parametrize("size", ALL_SIZES)
def test_capacity_ratio_is_1_6_to_2(size: str) -> None:
    problem = agency(size)
    shift_minutes = sum(minutes(s["start"], s["end"]) for w in carers(problem) for s in w["shifts"])
    assert 1.6 <= shift_minutes / visit_minutes(problem) <= 2.0


@pytest.mark.parametrize("size", ALL_SIZES)
def test_every_required_skill_has_at_least_three_holders(size: str) -> None:
    problem = agency(size)
    required = {skill for v in problem["visits"] for skill in v["skills"]}
    holders = Counter(skill for w in carers(problem) for skill in w["skills"])
    assert required <= {"hoist", "medication", "dementia", "catheter"}
    assert all(holders[skill] >= 3 for skill in required)


def eligible_carers(problem: dict[str, Any], visit: dict[str, Any]) -> list[str]:
    client = next(c for c in problem["clients"] if c["id"] == visit["client"])
    early, late = moment(visit["earliest_start"]), moment(visit["latest_start"])
    length = timedelta(minutes=visit["duration_minutes"])
    found = []
    for worker in carers(problem):
        if not set(visit["skills"]) <= set(worker["skills"]):
            continue
        if worker["id"] in client["excluded_workers"]:
            continue
        if client.get("gender_preference") not in (None, worker["gender"]):
            continue
        for shift in worker["shifts"]:
            begin, end = moment(shift["start"]), moment(shift["end"])
            if max(early, begin) <= min(late, end - length):
                found.append(worker["id"])
                break
    return found


@pytest.mark.parametrize("size", ["small", "medium"])
def test_every_visit_has_spare_qualified_carers_on_shift(size: str) -> None:
    problem = agency(size)
    seen: set[tuple[Any, ...]] = set()
    for visit in problem["visits"]:
        key = (
            visit["client"],
            visit["earliest_start"][11:],
            moment(visit["earliest_start"]).weekday(),
        )
        if key in seen:
            continue
        seen.add(key)
        assert len(eligible_carers(problem, visit)) >= visit["workers_required"] + 2, visit["id"]


# -- coordinators -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", ALL_SIZES)
def test_every_client_has_a_coordinator(size: str) -> None:
    problem = agency(size)
    bosses = {w["id"] for w in coordinators(problem)}
    caseload = Counter(c["coordinator"] for c in problem["clients"])
    assert set(caseload) == bosses
    if size != "small":
        assert all(30 <= n <= 60 for n in caseload.values())


@pytest.mark.parametrize("size", ALL_SIZES)
def test_coordinators_field_time(size: str) -> None:
    for boss in coordinators(agency(size)):
        assert set(boss["skills"]) == {"hoist", "medication", "dementia", "catheter"}
        assert 480 <= boss["max_minutes_per_week"] <= 720
        lengths = [minutes(s["start"], s["end"]) for s in boss["shifts"]]
        assert all(150 <= m <= 210 for m in lengths)
        assert 2 <= len(lengths) <= 5
        assert len({s["start"][:10] for s in boss["shifts"]}) == len(lengths)
        assert sum(lengths) >= boss["max_minutes_per_week"]


def test_coordinators_are_out_on_the_last_day_of_a_month_inside_the_period() -> None:
    # The default period starts on Monday 30 November: November ends on its first day.
    for boss in coordinators(agency("medium")):
        assert any(s["start"].startswith("2026-11-30") for s in boss["shifts"])


# -- history --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ALL_SIZES)
def test_history_gives_each_client_a_qualified_core_team(size: str) -> None:
    problem = agency(size)
    start = date.fromisoformat(problem["period"]["start"])
    workers = {w["id"]: w for w in problem["workers"]}
    needs: defaultdict[str, set[str]] = defaultdict(set)
    for visit in problem["visits"]:
        needs[visit["client"]].update(visit["skills"])
    team: defaultdict[str, set[str]] = defaultdict(set)
    per_pair: Counter[tuple[str, str]] = Counter()
    for seen in problem["history"]["visits"]:
        assert start - timedelta(days=14) <= date.fromisoformat(seen["date"]) < start
        team[seen["client"]].add(seen["worker"])
        per_pair[(seen["client"], seen["worker"])] += 1
    assert max(per_pair.values()) <= 4
    for client in problem["clients"]:
        members = team[client["id"]]
        assert 2 <= len(members) <= 4, client["id"]
        for member in members:
            worker = workers[member]
            assert worker["role"] == "carer"
            assert needs[client["id"]] <= set(worker["skills"])
            assert member not in client["excluded_workers"]
            assert client.get("gender_preference") in (None, worker["gender"])
        assert set(client["preferred_workers"]) <= members


@pytest.mark.parametrize("size", ALL_SIZES)
def test_coordinator_visits_made_this_month(size: str) -> None:
    problem = agency(size)
    start = date.fromisoformat(problem["period"]["start"])
    boss_of = {c["id"]: c["coordinator"] for c in problem["clients"]}
    made = problem["history"]["coordinator_visits"]
    # 30 Nov: 29 of November's 30 days are gone, so about 0.95 * 29/30 of clients were seen.
    assert 0.82 <= len(made) / len(problem["clients"]) <= 0.93
    assert len({m["client"] for m in made}) == len(made)
    for entry in made:
        when = date.fromisoformat(entry["date"])
        assert when.replace(day=1) == start.replace(day=1) and when < start
        assert entry["coordinator"] == boss_of[entry["client"]]


def test_coordinator_history_grows_with_the_month() -> None:
    # Starting on 16 Nov, 15 of 30 days are gone: about 0.95 * 0.5 of clients already seen.
    problem = generate(150, seed=4, start=date(2026, 11, 16))
    share = len(problem["history"]["coordinator_visits"]) / len(problem["clients"])
    assert 0.38 <= share <= 0.56


def test_no_coordinator_history_when_the_period_starts_on_the_first() -> None:
    problem = generate(40, seed=1, start=date(2026, 12, 1))
    assert problem["history"]["coordinator_visits"] == []
