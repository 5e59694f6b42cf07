"""Fuzzing the inputs: mutated problems, benchmark files and scenario files never crash anything.

Hypothesis takes a small valid problem (a generated one-day agency of three clients, with
haversine or matrix travel) and makes one mutation of a listed kind at a random place: a value of
the wrong type, a field left out, a huge number, NaN or infinity, an empty list, a unicode id, a
duplicate id, ``after`` links in a loop, a window across midnight, a bad travel matrix. Then
either the contract refuses the problem with an error at a field path (and ``carerota solve``
exits 2 with one line naming it, and the API answers 422 naming it), or the problem is valid and
its rota passes the independent checker. Kinds the contract forbids must always be refused, at the
field mutated. Windows across a clock change are valid; times a clock change skips or repeats are
not. The importers and the scenario files get the same treatment with their own text formats.

Every example is derandomized, so a run in CI is the same run as on a laptop.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from carerota.cli import main
from scenarios.generator import generate
from scenarios.whatif import ScenarioError, parse_scenario
from solver.cli import format_loc
from solver.contract import (
    After,
    Client,
    HaversineTravel,
    History,
    HistoryCoordinatorVisit,
    HistoryVisit,
    Loc,
    MatrixTravel,
    Period,
    Place,
    Problem,
    Rota,
    Shift,
    Visit,
    Weights,
    Worker,
)
from solver.options import SolveOptions
from solver.solve import solve
from tests.helpers import verified

# Starlette suggests httpx2 for its TestClient; httpx is what the service's users have.
warnings.filterwarnings("ignore", message=".*install `httpx2`.*")

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.db import Database  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.store import create_agency  # noqa: E402

Raw = dict[str, Any]
Expect = Literal["reject", "accept", "either"]

FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DAY = date(2026, 11, 30)
# Solves are tiny: a few CP-SAT steps on one thread are plenty for eight visits.
SOLVE_FLAGS = ["--time-limit", "2", "--effort", "0.05", "--workers", "1", "--quiet"]


# ---------------------------------------------------------------------------------------------
# The valid problems the mutations start from


@cache
def _agency() -> str:
    raw = generate(3, 1, start=DAY, days=1)
    # A few history entries are enough; more would only crowd out the fields worth mutating.
    raw["history"]["visits"] = raw["history"]["visits"][:3]
    raw["weights"] = Weights().model_dump()  # spelt out, so that they can be mutated too
    return json.dumps(raw)


def agency(matrix: bool) -> Raw:
    """A generated one-day agency (8 workers, 3 clients, 8 visits), optionally with a matrix."""
    raw: Raw = json.loads(_agency())
    if matrix:
        places = [w["id"] for w in raw["workers"]] + [c["id"] for c in raw["clients"]]
        n = len(places)
        minutes = [[0 if i == j else 5 + (3 * i + 7 * j) % 20 for j in range(n)] for i in range(n)]
        raw["travel"] = {"model": "matrix", "places": places, "minutes": minutes}
    return raw


def objects(raw: Raw) -> list[tuple[Loc, type[BaseModel]]]:
    """Every object in a problem with the contract model it must validate as."""
    found: list[tuple[Loc, type[BaseModel]]] = [((), Problem), (("period",), Period)]
    travel = raw["travel"]
    found.append((("travel",), MatrixTravel if travel["model"] == "matrix" else HaversineTravel))
    found += [(("weights",), Weights), (("history",), History)]
    for i, w in enumerate(raw["workers"]):
        found += [(("workers", i), Worker), (("workers", i, "home"), Place)]
        found += [(("workers", i, "shifts", j), Shift) for j in range(len(w["shifts"]))]
    for i in range(len(raw["clients"])):
        found += [(("clients", i), Client), (("clients", i, "location"), Place)]
    for i, v in enumerate(raw["visits"]):
        found.append((("visits", i), Visit))
        if v.get("after") is not None:
            found.append((("visits", i, "after"), After))
    history = raw["history"]
    found += [(("history", "visits", i), HistoryVisit) for i in range(len(history["visits"]))]
    found += [
        (("history", "coordinator_visits", i), HistoryCoordinatorVisit)
        for i in range(len(history["coordinator_visits"]))
    ]
    return found


def leaves(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    """Every path below ``value`` (objects, lists and plain values) with what is there."""
    parts: Iterator[tuple[str | int, Any]]
    if isinstance(value, dict):
        parts = iter(value.items())
    elif isinstance(value, list):
        parts = enumerate(value)
    else:
        return
    for key, inner in parts:
        yield (*loc, key), inner
        yield from leaves(inner, (*loc, key))


def at(raw: Any, loc: Loc) -> Any:
    for part in loc:
        raw = raw[part]
    return raw


def put(raw: Any, loc: Loc, value: Any) -> None:
    at(raw, loc[:-1])[loc[-1]] = value


# ---------------------------------------------------------------------------------------------
# Mutations


@dataclass
class Mutated:
    """A mutated problem, what the contract must say of it, and where."""

    kind: str
    raw: Raw
    expect: Expect
    loc: Loc = ()  # for "reject": the field path an error must name

    def text(self) -> str:
        # NaN and Infinity go out as the literals pydantic's reader accepts and JSON has not.
        return json.dumps(self.raw, ensure_ascii=False)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def wrong_type(draw: st.DrawFn, raw: Raw) -> Mutated:
    """A value no lax conversion turns into the field's type."""
    loc, value = draw(st.sampled_from(list(leaves(raw))), label="where")
    if isinstance(value, list):
        bad: Any = 7
    elif isinstance(value, dict):
        bad = [value]
    elif _is_number(value):
        bad = draw(st.sampled_from(["many", {"n": value}, [value]]))
    else:  # a string or null: a number would pass as a date (a Unix time), so a container
        bad = draw(st.sampled_from([{"text": value}, [value]]))
    put(raw, loc, bad)
    return Mutated("wrong_type", raw, "reject", loc)


def missing_field(draw: st.DrawFn, raw: Raw) -> Mutated:
    """A field left out: refused where the contract requires it."""
    loc, model = draw(st.sampled_from(objects(raw)), label="object")
    obj = at(raw, loc)
    key = draw(st.sampled_from(sorted(obj)), label="field")
    del obj[key]
    required = model.model_fields[key].is_required()
    return Mutated("missing_field", raw, "reject" if required else "either", (*loc, key))


HUGE = [10**12, 2**53 - 1, 2**53, 2**63, 10**30, -(10**12), -(2**63), 1e300, -1e300, 1e-300]


def huge_number(draw: st.DrawFn, raw: Raw) -> Mutated:
    numbers = [(loc, v) for loc, v in leaves(raw) if _is_number(v)]
    loc, _ = draw(st.sampled_from(numbers), label="where")
    put(raw, loc, draw(st.sampled_from(HUGE), label="value"))
    return Mutated("huge_number", raw, "either", loc)


def not_finite(draw: st.DrawFn, raw: Raw) -> Mutated:
    numbers = [(loc, v) for loc, v in leaves(raw) if _is_number(v)]
    loc, _ = draw(st.sampled_from(numbers), label="where")
    put(raw, loc, draw(st.sampled_from([math.nan, math.inf, -math.inf]), label="value"))
    return Mutated("not_finite", raw, "reject", loc)


def empty_list(draw: st.DrawFn, raw: Raw) -> Mutated:
    lists = [loc for loc, v in leaves(raw) if isinstance(v, list) and v]
    loc = draw(st.sampled_from(lists), label="where")
    put(raw, loc, [])
    return Mutated("empty_list", raw, "either", loc)


def _rename(raw: Any, old: str, new: str) -> Any:
    """``raw`` with every string ``old`` replaced by ``new`` (ids and the references to them)."""
    if isinstance(raw, dict):
        return {k: _rename(v, old, new) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_rename(v, old, new) for v in raw]
    return new if raw == old else raw


ENTITIES = ("workers", "clients", "visits")


def unicode_id(draw: st.DrawFn, raw: Raw) -> Mutated:
    """A unicode id, with every reference renamed too (valid) or left behind (maybe not)."""
    kind = draw(st.sampled_from(ENTITIES), label="kind")
    i = draw(st.integers(0, len(raw[kind]) - 1), label="index")
    text = draw(st.text(st.characters(codec="utf-8"), min_size=1, max_size=12), label="text")
    # The middle dot keeps it apart from every generated id, whatever the text strips to.
    new = f"{text}\u00b7{i}"
    old = raw[kind][i]["id"]
    if draw(st.booleans(), label="references too"):
        return Mutated("unicode_id", _rename(raw, old, new), "accept")
    raw[kind][i]["id"] = new
    return Mutated("unicode_id", raw, "either", (kind, i, "id"))


def duplicate_id(draw: st.DrawFn, raw: Raw) -> Mutated:
    """An id used twice: another entity's id copied, or a whole entity copied."""
    kind = draw(st.sampled_from(ENTITIES), label="kind")
    items = raw[kind]
    i = draw(st.integers(0, len(items) - 1), label="first")
    if draw(st.booleans(), label="copy the entity"):
        items.append(copy.deepcopy(items[i]))
        return Mutated("duplicate_id", raw, "reject", (kind, len(items) - 1, "id"))
    j = (i + draw(st.integers(1, len(items) - 1), label="step")) % len(items)
    items[j]["id"] = items[i]["id"]
    return Mutated("duplicate_id", raw, "reject", (kind, max(i, j), "id"))


def after_loop(draw: st.DrawFn, raw: Raw) -> Mutated:
    """``after`` links in a loop of one to three visits: a visit that would follow itself."""
    n = len(raw["visits"])
    members = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3, unique=True))
    for k, i in enumerate(members):
        low = draw(st.integers(-60, 60), label="min_minutes")
        raw["visits"][i]["after"] = {
            "visit": raw["visits"][members[(k + 1) % len(members)]]["id"],
            "min_minutes": low,
            "max_minutes": low + draw(st.integers(0, 60), label="spread"),
        }
    return Mutated("after_loop", raw, "reject", ("visits", min(members), "after", "visit"))


def across_midnight(draw: st.DrawFn, raw: Raw) -> Mutated:
    """A start window from late evening into the next morning: the contract keeps it in a day."""
    i = draw(st.integers(0, len(raw["visits"]) - 1), label="visit")
    visit = raw["visits"][i]
    day = datetime.fromisoformat(visit["earliest_start"]).date()
    evening = datetime.combine(day, datetime.min.time()) + timedelta(
        minutes=draw(st.integers(22 * 60, 24 * 60 - 1), label="earliest")
    )
    morning = datetime.combine(day + timedelta(days=1), datetime.min.time()) + timedelta(
        minutes=draw(st.integers(0, 2 * 60), label="latest")
    )
    visit["earliest_start"] = evening.isoformat(timespec="minutes")
    visit["latest_start"] = morning.isoformat(timespec="minutes")
    return Mutated("across_midnight", raw, "reject", ("visits", i))


def bad_matrix(draw: st.DrawFn, raw: Raw) -> Mutated:
    """A travel matrix with NaN, infinity, a negative or too large number, or a wrong shape."""
    minutes = raw["travel"]["minutes"]
    i = draw(st.integers(0, len(minutes) - 1), label="row")
    how = draw(st.sampled_from(["value", "short row", "missing row", "duplicate place"]))
    if how == "short row":
        minutes[i].pop()
        return Mutated("bad_matrix", raw, "reject", ("travel", "minutes", i))
    if how == "missing row":
        minutes.pop()
        return Mutated("bad_matrix", raw, "reject", ("travel", "minutes"))
    places = raw["travel"]["places"]
    if how == "duplicate place":
        j = (i + draw(st.integers(1, len(places) - 1), label="step")) % len(places)
        places[max(i, j)] = places[min(i, j)]
        return Mutated("bad_matrix", raw, "reject", ("travel", "places", max(i, j)))
    j = draw(st.integers(0, len(minutes) - 1), label="column")
    values = [math.nan, math.inf, -math.inf, -1, -1e-9, -(10**12), 2**53, "x", None]
    minutes[i][j] = draw(st.sampled_from(values), label="value")
    return Mutated("bad_matrix", raw, "reject", ("travel", "minutes", i, j))


MUTATIONS = {
    "wrong_type": wrong_type,
    "missing_field": missing_field,
    "huge_number": huge_number,
    "not_finite": not_finite,
    "empty_list": empty_list,
    "unicode_id": unicode_id,
    "duplicate_id": duplicate_id,
    "after_loop": after_loop,
    "across_midnight": across_midnight,
    "bad_matrix": bad_matrix,
}


@st.composite
def mutated_problems(draw: st.DrawFn, kind: str) -> Mutated:
    """One mutation of ``kind`` at one place in a valid problem."""
    matrix = kind == "bad_matrix" or draw(st.booleans(), label="matrix travel")
    return MUTATIONS[kind](draw, agency(matrix))


def related(loc: Loc, field: Loc) -> bool:
    """An error at ``loc`` names the mutated ``field``: the field itself or a part of it, or the
    travel object when its ``model`` (which picks the kind of travel) was the field."""
    return loc[: len(field)] == field or (field[-1:] == ("model",) and loc == field[:-1])


def validation_errors(text: str) -> list[Any] | None:
    """The contract's errors for a problem's JSON text (None: it is valid)."""
    try:
        Problem.model_validate_json(text)
    except ValidationError as exc:
        return exc.errors(include_url=False)
    return None


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``carerota ARGV`` in this process: its exit code and what it wrote on stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


def assert_one_line_error(stderr: str, *names: str) -> None:
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    assert stderr.startswith("carerota: error: "), stderr
    for name in names:
        assert name in stderr, (name, stderr)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the files the command line reads and writes (overwritten per example)."""
    return tmp_path_factory.mktemp("fuzz")


def judge(mutated: Mutated, folder: Path) -> str:
    """The contract's verdict is the expected one; the command line agrees and never crashes.
    Returns the verdict: refused or solved."""
    text = mutated.text()
    errors = validation_errors(text)
    path, out = folder / "problem.json", folder / "rota.json"
    path.write_text(text, encoding="utf-8")
    code, stderr = run_cli(["solve", str(path), "-o", str(out), *SOLVE_FLAGS])
    if errors is not None:
        assert mutated.expect != "accept", (mutated.kind, errors[:3])
        assert all(e["loc"] for e in errors), errors[:3]
        if mutated.expect == "reject":
            assert any(related(tuple(e["loc"]), mutated.loc) for e in errors), (
                mutated.loc,
                errors[:3],
            )
        assert code == 2, stderr
        assert_one_line_error(stderr, f"{path}: invalid problem: ", format_loc(errors[0]["loc"]))
        return "refused"
    assert mutated.expect != "reject", f"{mutated.kind} at {mutated.loc} was accepted"
    assert code == 0, stderr
    problem = Problem.model_validate_json(text)
    verified(problem, Rota.model_validate_json(out.read_text(encoding="utf-8")))
    return "solved"


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
@settings(FUZZ, max_examples=15)
@given(data=st.data())
def test_mutated_problems_are_refused_by_path_or_solved_and_checked(
    kind: str, data: st.DataObject, folder: Path
) -> None:
    verdict = judge(data.draw(mutated_problems(kind), label="mutated"), folder)
    event(verdict)  # shown by --hypothesis-show-statistics: both verdicts should occur


# Regressions the fuzzing found, each the smallest input that showed it.


def _with(loc: Loc, value: Any, matrix: bool = False) -> Raw:
    raw = agency(matrix)
    put(raw, loc, value)
    return raw


@pytest.mark.parametrize(
    ("loc", "value"),
    [
        # Each of these crashed the solver (an int64 overflow) or the validator itself
        # (timedelta(minutes=10**30)) before minute counts were capped at 2**53 - 1.
        (("workers", 0, "max_minutes_per_week"), 10**30),
        (("workers", 0, "max_minutes_per_day"), 2**63),
        (("workers", 0, "contracted_minutes_per_week"), 10**30),
        (("visits", 0, "late_allowed_minutes"), 10**30),
        (("visits", 0, "duration_minutes"), 10**30),
        (("visits", 1, "after", "min_minutes"), -(10**30)),
        # An infinite road factor made every trip infinitely long; a tiny speed, 10**306 minutes.
        (("travel", "road_factor"), 1e308),
        (("travel", "speeds_kmh", "car"), 1e-300),
    ],
)
def test_numbers_too_big_to_count_minutes_with_are_refused(loc: Loc, value: Any) -> None:
    errors = validation_errors(json.dumps(_with(loc, value)))
    assert errors is not None
    shown = [tuple(e["loc"]) for e in errors]
    assert loc in shown or ("travel", "speeds_kmh", "car") in shown, shown


@pytest.mark.parametrize(
    "loc",
    [("weights", "travel_minute"), ("travel", "road_factor"), ("travel", "speeds_kmh", "bike")],
)
def test_infinity_is_refused_where_greater_than_zero_let_it_through(loc: Loc, folder: Path) -> None:
    # NaN never passed ``ge=0`` (it compares false), but infinity did, and an infinite weight
    # or speed made the solver's integer arithmetic overflow.
    assert judge(Mutated("not_finite", _with(loc, math.inf), "reject", loc), folder) == "refused"


def test_the_largest_exact_minute_count_still_solves() -> None:
    # 2**53 - 1 minutes of allowed lateness: no cap in practice, and no overflow either.
    problem = Problem.model_validate(_with(("visits", 0, "late_allowed_minutes"), 2**53 - 1))
    verified(problem, solve(problem, SolveOptions(time_limit=2, workers=1, effort=0.05)))


def test_after_links_in_a_loop_are_refused_once_at_the_first_visit() -> None:
    raw = agency(False)
    ids = [v["id"] for v in raw["visits"]]
    for i, j in ((2, 5), (5, 3), (3, 2), (0, 2)):  # 2 -> 5 -> 3 -> 2, and 0 leads into it
        raw["visits"][i]["after"] = {"visit": ids[j], "min_minutes": 0, "max_minutes": 0}
    errors = validation_errors(json.dumps(raw))
    assert errors is not None
    assert [(tuple(e["loc"]), e["msg"]) for e in errors] == [
        (
            ("visits", 2, "after", "visit"),
            f"after links loop: {ids[2]!r} starts after {ids[5]!r}, which starts after "
            f"{ids[3]!r}, which starts after {ids[2]!r}",
        )
    ]


def test_a_lone_surrogate_in_an_id_is_not_json_for_the_command_line(folder: Path) -> None:
    # Python's json module reads "\ud800" into a str that cannot be written back as UTF-8: the
    # solve used to end in a UnicodeEncodeError traceback when it wrote the rota.
    raw = agency(False)
    text = json.dumps(_rename(raw, raw["workers"][0]["id"], "w\ud800"))
    path = folder / "surrogate.json"
    path.write_text(text, encoding="utf-8")
    code, stderr = run_cli(["solve", str(path), "-o", str(folder / "out.json"), *SOLVE_FLAGS])
    assert code == 2
    assert_one_line_error(stderr, f"{path}: not JSON: ")


# ---------------------------------------------------------------------------------------------
# Windows across midnight and clock changes (Europe/London, 2026)

SPRING = date(2026, 3, 29)  # 01:00-01:59 does not happen
AUTUMN = date(2026, 10, 25)  # 01:00-01:59 happens twice


def troubled(moment: datetime) -> bool:
    """A wall-clock time that a London clock change skips or repeats."""
    return moment.date() in (SPRING, AUTUMN) and moment.hour == 1


def night(day: date, first: int, last: int, shift: tuple[int, int], duration: int) -> Raw:
    """One carer, one client, one visit around midnight before ``day``: the window from
    ``first`` to ``last`` minutes after the evening before's midnight, the shift likewise."""
    eve = datetime.combine(day - timedelta(days=1), datetime.min.time())

    def stamp(minutes: int) -> str:
        return (eve + timedelta(minutes=minutes)).isoformat(timespec="minutes")

    return {
        "timezone": "Europe/London",
        "period": {"start": (day - timedelta(days=1)).isoformat(), "end": day.isoformat()},
        "workers": [
            {
                "id": "w-night",
                "home": {"lat": 51.50, "lon": -0.12},
                "shifts": [{"start": stamp(shift[0]), "end": stamp(shift[1])}],
            }
        ],
        "clients": [{"id": "c-1", "location": {"lat": 51.51, "lon": -0.12}}],
        "visits": [
            {
                "id": "v-1",
                "client": "c-1",
                "earliest_start": stamp(first),
                "latest_start": stamp(last),
                "duration_minutes": duration,
            }
        ],
    }


@FUZZ
@given(
    day=st.sampled_from([SPRING, AUTUMN, DAY]),
    first=st.integers(20 * 60, 28 * 60),
    width=st.integers(0, 4 * 60),
    shift=st.tuples(st.integers(18 * 60, 26 * 60), st.integers(60, 12 * 60)),
    duration=st.integers(1, 240),
)
@example(day=AUTUMN, first=23 * 60 + 30, width=15, shift=(22 * 60, 5 * 60), duration=120)
@example(day=SPRING, first=24 * 60 + 30, width=150, shift=(24 * 60, 4 * 60), duration=30)
def test_night_visits_across_midnight_and_clock_changes(
    day: date, first: int, width: int, shift: tuple[int, int], duration: int
) -> None:
    """Refused exactly when a time is skipped or repeated or the window spans midnight, and
    otherwise solved into a rota the checker accepts."""
    raw = night(day, first, first + width, (shift[0], shift[0] + shift[1]), duration)
    eve = datetime.combine(day - timedelta(days=1), datetime.min.time())
    times = {
        ("workers", 0, "shifts", 0, "start"): eve + timedelta(minutes=shift[0]),
        ("workers", 0, "shifts", 0, "end"): eve + timedelta(minutes=shift[0] + shift[1]),
        ("visits", 0, "earliest_start"): eve + timedelta(minutes=first),
        ("visits", 0, "latest_start"): eve + timedelta(minutes=first + width),
    }
    bad = {loc for loc, moment in times.items() if troubled(moment)}
    window = times[("visits", 0, "earliest_start")], times[("visits", 0, "latest_start")]
    if window[0].date() != window[1].date():
        # A visit's own check; the zone's checks of skipped and repeated times run on the whole
        # problem, and only once every part of it is valid on its own.
        bad = {("visits", 0)}
    errors = validation_errors(json.dumps(raw))
    if errors is None:
        assert not bad
        problem = Problem.model_validate(raw)
        verified(problem, solve(problem, SolveOptions(time_limit=2, workers=1, effort=0.05)))
        return
    # A visit longer than the shift is refused too; that is not what this test is about.
    locs = {tuple(e["loc"]) for e in errors} - {("visits", 0, "duration_minutes")}
    assert locs == bad, errors


def test_a_two_hour_visit_the_night_clocks_go_back_is_staffed() -> None:
    # Shift Sat 22:00 BST to Sun 03:00 GMT is 6 real hours; the visit starts 23:30 BST and
    # ends 2 real hours later at 01:30 BST, the first of the two 01:30s: inside the shift.
    raw = night(AUTUMN, 23 * 60 + 30, 23 * 60 + 30, (22 * 60, 27 * 60), 120)
    problem = Problem.model_validate(raw)
    rota = solve(problem, SolveOptions(time_limit=2, workers=1, effort=0.05))
    verified(problem, rota)
    assert [a.workers for a in rota.assignments] == [["w-night"]]


# ---------------------------------------------------------------------------------------------
# The HTTP API: the same mutations, POSTed


class HeldRunner:
    """A job runner that never starts a job: the API is fuzzed, not the solver."""

    slots = 1

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def submit(self, job_id: str) -> None:
        pass

    def ready(self) -> tuple[bool, str]:
        return True, "held"


@dataclass(frozen=True)
class Api:
    client: TestClient
    headers: dict[str, str]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The service on SQLite with jobs held, a queue too long to fill, and an agency's key."""
    folder = tmp_path_factory.mktemp("api-fuzz")
    # Every example is a job submission: no rate limit (0 turns them off, where this version
    # of the service has them), and the one agency's share of the queue is the whole queue.
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{folder}/fuzz.db",
        "max_queued_jobs": 100_000,
        "max_queued_jobs_per_agency": 100_000,
    }
    limits = ("rate_limit_per_minute", "job_rate_limit_per_minute")
    values.update({name: 0 for name in limits if name in Settings.model_fields})
    config = Settings(**values)
    with TestClient(create_app(config, runner=HeldRunner())) as client:
        db = Database(config.database_url)
        try:
            _, key = create_agency(db, "Fuzzed Agency")
        finally:
            db.dispose()
        yield Api(client, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})


def api_path(loc: Loc) -> str:
    """A field path as the API's error details write it: ``problem.visits[1].client``."""
    return format_loc(("problem", *loc))


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
@settings(FUZZ, max_examples=8)
@given(data=st.data())
def test_api_refuses_mutated_problems_with_422_naming_each_path(
    kind: str, data: st.DataObject, api: Api
) -> None:
    mutated = data.draw(mutated_problems(kind), label="mutated")
    text = mutated.text()
    body = '{"problem": ' + text + ', "options": {"time_limit": 1}}'
    response = api.client.post("/v1/rotas", content=body.encode(), headers=api.headers)
    errors = validation_errors(text)
    if errors is None:
        assert mutated.expect != "reject"
        assert response.status_code == 202, response.text
        return
    assert mutated.expect != "accept", errors[:3]
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error", error
    shown = [detail["loc"] for detail in error["details"]]
    assert shown == [api_path(tuple(e["loc"])) for e in errors]
    if mutated.expect == "reject":
        assert any(related(tuple(e["loc"]), mutated.loc) for e in errors)
    assert error["message"].startswith(f"invalid request: {shown[0]}: ")


# ---------------------------------------------------------------------------------------------
# Importers: small valid files of each format, mutated as text

# Depot, patient 1 (service 1), patient 2 (services 1 then 2, 10-30 min apart), depot end.
MANKOWSKA = """nbNodes
4
nbVehi
2
nbServi
2
r
1 1
1 0
1 1
1 1
DS
3
a
1 1
1 0
x
0 10 20 0
y
0 10 0 0
d
0 14 20 0
14 0 14 14
20 14 0 20
0 14 20 0
p
0 0
0 0
30 0
30 0
20 25
20 25
0 0
0 0
mind
0 0 10 0
maxd
0 0 30 0
e
0 60 120 0
l
600 180 240 600
"""

SOLOMON = """TINY1

VEHICLE
NUMBER     CAPACITY
  2         200

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      40         50          0          0       1236          0
    1      45         68         10        912        967         90
    2      45         70         30        825        870         90
    3      42         66         10         65        146         90
"""

HHCRSP_JSON = json.dumps(
    {
        "patients": [
            {
                "id": "p1",
                "location": [41.1, -8.6],
                "time_window": [60, 180],
                "required_caregivers": [{"service": "s1", "duration": 30}],
            },
            {
                "id": "p2",
                "location": [41.2, -8.6],
                "time_window": [120, 240],
                "required_caregivers": [
                    {"service": "s1", "duration": 20},
                    {"service": "s2", "duration": 25},
                ],
                "synchronization": {"type": "sequential", "distance": [10, 30]},
            },
        ],
        "services": [{"id": "s1", "default_duration": 30}, {"id": "s2", "default_duration": 25}],
        "caregivers": [{"id": "c1", "abilities": ["s1", "s2"]}, {"id": "c2", "abilities": ["s1"]}],
        "central_offices": [{"id": "d", "location": [41.15, -8.6]}],
        "distances": [[0, 10, 12], [10, 0, 5], [12, 5, 0]],
    },
    indent=1,
)

INSTANCES = {"mankowska": MANKOWSKA, "solomon": SOLOMON, "hhcrsp-json": HHCRSP_JSON}
NUMBER = r"-?\d+(?:\.\d+)?"
ODD_NUMBERS = ["abc", "-5", "nan", "inf", "-inf", "1e400", "1e30", "0", "2.5", "9" * 30, "-0"]


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """``text`` truncated, a line dropped or repeated, or one number made odd."""
    how = draw(st.sampled_from(["truncate", "drop line", "repeat line", "number"]), label="how")
    lines = text.splitlines(keepends=True)
    if how == "truncate":
        return text[: draw(st.integers(0, len(text) - 1), label="at")]
    if how in ("drop line", "repeat line"):
        i = draw(st.integers(0, len(lines) - 1), label="line")
        lines[i : i + 1] = [] if how == "drop line" else [lines[i], lines[i]]
        return "".join(lines)
    numbers = list(re.finditer(NUMBER, text))
    found = draw(st.sampled_from(numbers), label="number")
    odd = draw(st.sampled_from(ODD_NUMBERS), label="value")
    return text[: found.start()] + odd + text[found.end() :]


@pytest.mark.parametrize("fmt", sorted(INSTANCES))
def test_the_importers_read_the_unmutated_files(fmt: str, folder: Path) -> None:
    path, out = folder / f"instance-{fmt}.txt", folder / "imported.json"
    path.write_text(INSTANCES[fmt], encoding="utf-8")
    code, stderr = run_cli(["import", fmt, str(path), "-o", str(out)])
    assert code == 0, stderr
    Problem.model_validate_json(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("fmt", sorted(INSTANCES))
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_mutated_instance_files_import_or_exit_2_with_one_line(
    fmt: str, data: st.DataObject, folder: Path
) -> None:
    text = data.draw(mutated_text(INSTANCES[fmt]), label="text")
    path, out = folder / f"instance-{fmt}.txt", folder / "imported.json"
    path.write_text(text, encoding="utf-8")
    out.unlink(missing_ok=True)
    code, stderr = run_cli(["import", fmt, str(path), "-o", str(out)])
    event("imported" if code == 0 else "refused")
    if code == 0:
        Problem.model_validate_json(out.read_text(encoding="utf-8"))
    else:
        assert code == 2, stderr
        assert_one_line_error(stderr, f"{path}:")


# ---------------------------------------------------------------------------------------------
# Scenario files: a tiny inline base and a variant of each common change, mutated


def scenario() -> Raw:
    """A valid scenario over the generated one-day agency, given inline."""
    return {
        "name": "fuzzed",
        "base": agency(False),
        "time_limit": 1,
        "variants": [
            {
                "name": "one leaves",
                "changes": [
                    {"kind": "remove_workers", "ids": ["w001"]},
                    {"kind": "add_workers", "like": "w002", "count": 2},
                ],
            },
            {
                "name": "slower and longer",
                "changes": [
                    {"kind": "scale_durations", "factor": 1.5, "clients": ["c0001"]},
                    {"kind": "widen_windows", "minutes": 30},
                    {"kind": "narrow_windows", "minutes": 10},
                    {"kind": "travel_mode", "mode": "walk", "workers": ["w000"]},
                    {"kind": "travel_speeds", "scale": 0.8},
                    {"kind": "weights", "weights": {"travel_minute": 2}},
                ],
            },
            {
                "name": "coordinators",
                "changes": [
                    {"kind": "coordinator_field_time", "add_minutes": 30, "day_end": "17:00"},
                    {"kind": "remove_workers", "count": 1, "skill": "hoist"},
                    {"kind": "add_clients", "count": 2, "area": "north", "seed": 3},
                ],
            },
        ],
    }


HUGE_COUNTS = [0, -1, 10**9, 10**30, 1e300, 2**63]


def test_the_unmutated_scenario_gives_its_base_and_three_variants() -> None:
    text = yaml.safe_dump(scenario(), sort_keys=False, allow_unicode=True)
    assert len(list(parse_scenario(text, "s.yaml").problems())) == 4


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> str:
    """A scenario's YAML with one mutation: in its data, or in its text."""
    raw = scenario()
    how = draw(
        st.sampled_from(["wrong type", "unknown kind", "unknown id", "huge", "indent", "text"]),
        label="how",
    )
    changes = [(("variants", i, "changes", j), c) for i, v in enumerate(raw["variants"])
               for j, c in enumerate(v["changes"])]  # fmt: skip
    if how == "wrong type":
        loc, value = draw(st.sampled_from(list(leaves(raw))), label="where")
        put(raw, loc, [value] if not isinstance(value, list) else {"oops": value})
    elif how == "unknown kind":
        loc, _ = draw(st.sampled_from(changes), label="change")
        put(raw, (*loc, "kind"), draw(st.sampled_from(["hire_everyone", "", "Remove_Workers"])))
    elif how == "unknown id":
        ids = [(loc, v) for loc, v in leaves(raw["variants"]) if isinstance(v, str)]
        loc, _ = draw(st.sampled_from(ids), label="where")
        put(raw["variants"], loc, draw(st.sampled_from(["nobody", "w999", "ü"])))
    elif how == "huge":
        numbers = [(loc, v) for loc, v in leaves(raw["variants"]) if _is_number(v)]
        loc, _ = draw(st.sampled_from(numbers), label="where")
        put(raw["variants"], loc, draw(st.sampled_from(HUGE_COUNTS), label="value"))
    text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    if how == "indent":
        lines = text.splitlines(keepends=True)
        i = draw(st.integers(0, len(lines) - 1), label="line")
        shift = draw(st.sampled_from([-2, -1, 1, 2, 4]), label="shift")
        lines[i] = lines[i][-shift:] if shift < 0 else " " * shift + lines[i]
        text = "".join(lines)
    elif how == "text":
        text = draw(mutated_text(text), label="text")
    return text


@settings(FUZZ, max_examples=60)
@given(text=mutated_scenarios())
def test_mutated_scenarios_name_their_line_or_give_valid_problems(text: str, folder: Path) -> None:
    try:
        problems = list(parse_scenario(text, "s.yaml").problems())
    except ScenarioError as exc:
        event("refused")
        assert exc.line is not None, str(exc)
        assert str(exc).startswith(f"s.yaml:{exc.line}: "), str(exc)
        path = folder / "scenario.yaml"
        path.write_text(text, encoding="utf-8")
        code, stderr = run_cli(["whatif", str(path), "--quiet", "--processes", "1"])
        assert code == 2, stderr
        if text.strip():
            assert_one_line_error(stderr, f"{path}:{exc.line}: ")
        else:  # a blank file has no line to point at (test_api_plain_errors.py)
            assert_one_line_error(stderr, f"{path}: the file is empty")
        return
    event("read")
    for _, problem in problems:
        Problem.model_validate(problem.model_dump(mode="json"))


# Regressions the importer fuzzing found.


@pytest.mark.parametrize(
    ("fmt", "old", "new", "words"),
    [
        # A window that closes before it opens made an invalid problem: the CLI printed
        # pydantic's five-line report.
        ("hhcrsp-json", "180", "-5", "window has -5.0"),
        # A window of 10**30 minutes overflowed timedelta: a traceback.
        ("hhcrsp-json", "180", "1" + "0" * 30, "window has 1e+30"),
        # "1e400" read as an infinite float, then int() raised OverflowError: a traceback.
        ("mankowska", "240 600", "1e400 600", ":42: not a mankowska instance: section l: '1e400'"),
        # A customer line that was not 7 numbers was skipped: one customer fewer, no word.
        ("solomon", "912", "9l2", ":11: not a solomon instance: '1 45 68 10 9l2 967 90'"),
    ],
)
def test_bad_numbers_in_instance_files_are_one_line_errors(
    fmt: str, old: str, new: str, words: str, folder: Path
) -> None:
    path = folder / f"bad-{fmt}.txt"
    path.write_text(INSTANCES[fmt].replace(old, new, 1), encoding="utf-8")
    code, stderr = run_cli(["import", fmt, str(path), "-o", str(folder / "imported.json")])
    assert code == 2
    assert_one_line_error(stderr, f"{path}", words)
