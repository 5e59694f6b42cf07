"""The contract's validation: every error names its field path and the offending value.

``base`` is a valid week in London, Mon 19 to Sun 25 Oct 2026 (the week British Summer Time ends
at 02:00 on the Sunday): carer Amy (medication, shift Tue 07:00-13:00, 360 minutes) and
coordinator Kate (Tue 08:00-11:00); clients Ann (Kate's, prefers Amy) and Ben (excludes Kate);
visits v-1 (Ann, Tue 08:00-08:30, Amy pinned), v-2 (Ben, Tue 09:00-09:30) and v-3 (Ann, Tue
12:00-12:30, 3 to 5 hours after v-1); and one history entry of each kind. Each test breaks one
thing in a fresh copy and reads the errors back as ``(loc, msg)`` pairs.
"""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from carerota.cli import main
from solver.contract import Loc, Problem, Rota, tel_uri

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT.parent / "shared" / "examples"
Raw = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Builders


def week(monday: date) -> Raw:
    """The base problem for the week starting ``monday``; everything happens on the Tuesday."""
    tue = (monday + timedelta(days=1)).isoformat()

    def at(hhmm: str) -> str:
        return f"{tue}T{hhmm}"

    return {
        "schema_version": 1,
        "agency": "Contract test agency",
        "timezone": "Europe/London",
        "period": {"start": monday.isoformat(), "end": (monday + timedelta(days=6)).isoformat()},
        "workers": [
            {
                "id": "w-amy",
                "home": {"lat": 53.80, "lon": -1.55},
                "skills": ["medication"],
                "shifts": [{"start": at("07:00"), "end": at("13:00")}],
            },
            {
                "id": "k-kate",
                "role": "coordinator",
                "home": {"lat": 53.81, "lon": -1.55},
                "shifts": [{"start": at("08:00"), "end": at("11:00")}],
            },
        ],
        "clients": [
            {
                "id": "c-ann",
                "location": {"lat": 53.80, "lon": -1.56},
                "coordinator": "k-kate",
                "preferred_workers": ["w-amy"],
            },
            {
                "id": "c-ben",
                "location": {"lat": 53.80, "lon": -1.57},
                "excluded_workers": ["k-kate"],
            },
        ],
        "visits": [
            {
                "id": "v-1",
                "client": "c-ann",
                "earliest_start": at("08:00"),
                "latest_start": at("08:30"),
                "duration_minutes": 30,
                "skills": ["medication"],
                "pinned_workers": ["w-amy"],
            },
            {
                "id": "v-2",
                "client": "c-ben",
                "earliest_start": at("09:00"),
                "latest_start": at("09:30"),
                "duration_minutes": 30,
            },
            {
                "id": "v-3",
                "client": "c-ann",
                "earliest_start": at("12:00"),
                "latest_start": at("12:30"),
                "duration_minutes": 30,
                "after": {"visit": "v-1", "min_minutes": 180, "max_minutes": 300},
            },
        ],
        "history": {
            "visits": [{"client": "c-ann", "worker": "w-amy", "date": "2026-10-12"}],
            "coordinator_visits": [
                {"coordinator": "k-kate", "client": "c-ann", "date": "2026-10-05"}
            ],
        },
    }


def matrix_travel() -> Raw:
    """A 4x4 travel matrix over the base problem's places."""
    return {
        "model": "matrix",
        "places": ["w-amy", "k-kate", "c-ann", "c-ben"],
        "minutes": [[0, 20, 10, 8], [20, 0, 5, 7], [10, 5, 0, 12.5], [8, 7, 12.5, 0]],
    }


def put(raw: Raw, path: Loc, value: Any) -> Raw:
    """Set the value at ``path`` (the same path pydantic reports as ``loc``); returns ``raw``."""
    target: Any = raw
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return raw


def errors(raw: Raw) -> list[tuple[Loc, str]]:
    """The ``(loc, msg)`` of every error ``Problem.model_validate`` raises for ``raw``."""
    with pytest.raises(ValidationError) as caught:
        Problem.model_validate(raw)
    return [(tuple(item["loc"]), str(item["msg"])) for item in caught.value.errors()]


def rejects(raw: Raw, loc: Loc, text: str) -> None:
    """``raw`` fails with exactly one error, at ``loc``, whose message contains ``text``."""
    found = errors(raw)
    assert len(found) == 1, found
    assert found[0][0] == loc, found
    assert text in found[0][1], found


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def base() -> Raw:
    """The valid October week (clocks go back on its Sunday, 25 Oct 2026)."""
    return week(date(2026, 10, 19))


@pytest.fixture
def spring() -> Raw:
    """The same problem in the week clocks go forward (Mon 23 to Sun 29 Mar 2026)."""
    return week(date(2026, 3, 23))


@pytest.fixture
def with_matrix(base: Raw) -> Raw:
    """The base problem with matrix travel."""
    return put(base, ("travel",), matrix_travel())


def test_base_problems_are_valid(base: Raw, spring: Raw, with_matrix: Raw) -> None:
    for raw in (base, spring, with_matrix):
        problem = Problem.model_validate(raw)
        assert [w.id for w in problem.workers] == ["w-amy", "k-kate"]
        assert len(problem.clients) == 2
        assert len(problem.visits) == 3


# ---------------------------------------------------------------------------------------------
# Duplicate ids


@pytest.mark.parametrize(
    ("kind", "index", "ident"),
    [("workers", 0, "w-amy"), ("clients", 1, "c-ben"), ("visits", 1, "v-2")],
)
def test_duplicate_id_names_the_copy_and_the_first(
    base: Raw, kind: str, index: int, ident: str
) -> None:
    items: list[Raw] = base[kind]
    items.append(copy.deepcopy(items[index]))
    rejects(base, (kind, len(items) - 1, "id"), f"duplicate id {ident!r} (also {kind}[{index}])")


# ---------------------------------------------------------------------------------------------
# References to unknown workers, clients and visits


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("clients", 0, "preferred_workers", 0), "w-zed", "unknown worker 'w-zed'"),
        (("clients", 1, "excluded_workers", 0), "w-zed", "unknown worker 'w-zed'"),
        (("visits", 1, "client"), "c-zz", "unknown client 'c-zz'"),
        (("visits", 0, "pinned_workers", 0), "w-zed", "unknown worker 'w-zed'"),
        (("visits", 2, "after", "visit"), "v-9", "unknown visit 'v-9'"),
        (("visits", 2, "after", "visit"), "v-3", "a visit cannot follow itself"),
        (("history", "visits", 0, "client"), "c-zz", "unknown client 'c-zz'"),
        (("history", "visits", 0, "worker"), "w-zed", "unknown worker 'w-zed'"),
        (("history", "coordinator_visits", 0, "client"), "c-zz", "unknown client 'c-zz'"),
        (("history", "coordinator_visits", 0, "coordinator"), "k-zed", "unknown worker 'k-zed'"),
        (("clients", 0, "coordinator"), "k-zed", "unknown worker 'k-zed'"),
    ],
    ids=lambda x: ".".join(map(str, x)) if isinstance(x, tuple) else None,
)
def test_unknown_reference_is_named_at_its_path(
    base: Raw, path: Loc, value: str, message: str
) -> None:
    rejects(put(base, path, value), path, message)


def test_client_coordinator_must_be_a_coordinator(base: Raw) -> None:
    # Amy exists but is a carer: office oversight needs a coordinator.
    path = ("clients", 0, "coordinator")
    rejects(put(base, path, "w-amy"), path, "worker 'w-amy' is a carer, not a coordinator")


# ---------------------------------------------------------------------------------------------
# Visit windows


def test_window_earliest_after_latest(base: Raw) -> None:
    put(base, ("visits", 0, "earliest_start"), "2026-10-20T09:00")
    rejects(
        base,
        ("visits", 0),
        "earliest_start 2026-10-20T09:00 is after latest_start 2026-10-20T08:30",
    )


def test_window_on_two_days(base: Raw) -> None:
    put(base, ("visits", 0, "latest_start"), "2026-10-21T08:30")
    rejects(base, ("visits", 0), "window 2026-10-20T08:00 to 2026-10-21T08:30 spans two days")


def test_window_outside_the_period(base: Raw) -> None:
    # Mon 26 Oct is the day after the period's last day.
    put(base, ("visits", 1, "earliest_start"), "2026-10-26T09:00")
    put(base, ("visits", 1, "latest_start"), "2026-10-26T09:30")
    assert errors(base) == [
        (
            ("visits", 1, "earliest_start"),
            "2026-10-26T09:00 is outside the period 2026-10-19 to 2026-10-25",
        ),
        (
            ("visits", 1, "latest_start"),
            "2026-10-26T09:30 is outside the period 2026-10-19 to 2026-10-25",
        ),
    ]


def test_window_on_the_period_edges_is_inside(base: Raw) -> None:
    put(base, ("visits", 1, "earliest_start"), "2026-10-19T00:00")
    put(base, ("visits", 1, "latest_start"), "2026-10-19T00:30")
    put(base, ("visits", 2, "earliest_start"), "2026-10-25T23:00")
    put(base, ("visits", 2, "latest_start"), "2026-10-25T23:59")
    del base["visits"][2]["after"]
    Problem.model_validate(base)


# ---------------------------------------------------------------------------------------------
# Visits longer than any shift (real elapsed time)


def test_visit_longer_than_any_shift(base: Raw) -> None:
    # Amy's 07:00-13:00 is the longest shift: 360 minutes. 360 fits, 361 does not.
    put(base, ("visits", 1, "duration_minutes"), 360)
    Problem.model_validate(base)
    put(base, ("visits", 1, "duration_minutes"), 361)
    rejects(
        base,
        ("visits", 1, "duration_minutes"),
        "361 minutes is longer than any shift (longest 360 minutes)",
    )


def test_night_shift_when_clocks_go_back_lasts_four_hours(base: Raw) -> None:
    # 00:00 BST on Sun 25 Oct is 23:00 UTC on the 24th; 03:00 GMT is 03:00 UTC: 4 h = 240 min.
    # Kate's 08:00-11:00 (180) is now the only other shift, so a 200-minute visit fits only in
    # Amy's night shift, which lasts 240 minutes although the wall clock says 3 hours.
    put(base, ("workers", 0, "shifts"), [{"start": "2026-10-25T00:00", "end": "2026-10-25T03:00"}])
    put(base, ("visits", 1, "duration_minutes"), 200)
    Problem.model_validate(base)
    put(base, ("visits", 1, "duration_minutes"), 241)
    rejects(base, ("visits", 1, "duration_minutes"), "241 minutes is longer than any shift")
    assert "(longest 240 minutes)" in errors(base)[0][1]


def test_night_shift_when_clocks_go_forward_lasts_two_hours(spring: Raw) -> None:
    # 00:00 GMT on Sun 29 Mar is 00:00 UTC; 03:00 BST is 02:00 UTC: 2 h = 120 min.
    put(
        spring, ("workers", 0, "shifts"), [{"start": "2026-03-29T00:00", "end": "2026-03-29T03:00"}]
    )
    put(spring, ("workers", 1, "shifts"), [])
    put(spring, ("visits", 1, "duration_minutes"), 150)
    rejects(
        spring,
        ("visits", 1, "duration_minutes"),
        "150 minutes is longer than any shift (longest 120 minutes)",
    )


# ---------------------------------------------------------------------------------------------
# Numbers out of range: pydantic's message gains the value


@pytest.mark.parametrize("required", [0, 3])
def test_workers_required_is_one_or_two(base: Raw, required: int) -> None:
    path = ("visits", 1, "workers_required")
    rejects(put(base, path, required), path, f"(got {required})")


def test_workers_required_two_is_valid(base: Raw) -> None:
    Problem.model_validate(put(base, ("visits", 1, "workers_required"), 2))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("clients", 0, "location", "lat"), 91, "less than or equal to 90 (got 91)"),
        (("workers", 0, "home", "lon"), -181, "greater than or equal to -180 (got -181)"),
    ],
)
def test_coordinates_out_of_range(base: Raw, path: Loc, value: float, message: str) -> None:
    rejects(put(base, path, value), path, message)


def test_a_client_phone_as_people_write_it_is_dialled_as_digits(base: Raw) -> None:
    problem = Problem.model_validate(put(base, ("clients", 0, "phone"), "+44 (0113) 496-0123"))
    assert problem.clients[0].phone == "+44 (0113) 496-0123"
    assert tel_uri("+44 (0113) 496-0123") == "tel:+4401134960123"
    assert tel_uri("0113 496 0123") == "tel:01134960123"


def test_a_client_phone_with_letters_is_refused(base: Raw) -> None:
    rejects(
        put(base, ("clients", 0, "phone"), "call the son"),
        ("clients", 0, "phone"),
        "is not a telephone number",
    )


# ---------------------------------------------------------------------------------------------
# Datetimes a clock change skips or repeats


def test_ambiguous_shift_start(base: Raw) -> None:
    # 01:00-01:59 happens twice on Sun 25 Oct (BST, then GMT again).
    shifts = [{"start": "2026-10-25T01:30", "end": "2026-10-25T05:00"}]
    put(base, ("workers", 0, "shifts"), shifts)
    rejects(
        base,
        ("workers", 0, "shifts", 0, "start"),
        "2026-10-25T01:30 is ambiguous in Europe/London (clocks go back)",
    )


def test_ambiguous_visit_start(base: Raw) -> None:
    put(base, ("visits", 1, "earliest_start"), "2026-10-25T01:30")
    put(base, ("visits", 1, "latest_start"), "2026-10-25T03:00")
    rejects(
        base,
        ("visits", 1, "earliest_start"),
        "2026-10-25T01:30 is ambiguous in Europe/London (clocks go back)",
    )


@pytest.mark.parametrize(
    ("field", "shift"),
    [
        ("start", {"start": "2026-03-29T01:30", "end": "2026-03-29T05:00"}),
        ("end", {"start": "2026-03-29T00:00", "end": "2026-03-29T01:30"}),
    ],
)
def test_nonexistent_shift_time(spring: Raw, field: str, shift: Raw) -> None:
    # 01:00-01:59 never happens on Sun 29 Mar: 01:00 GMT becomes 02:00 BST.
    put(spring, ("workers", 1, "shifts"), [shift])
    rejects(
        spring,
        ("workers", 1, "shifts", 0, field),
        "2026-03-29T01:30 does not exist in Europe/London (clocks go forward)",
    )


def test_nonexistent_visit_start(spring: Raw) -> None:
    put(spring, ("visits", 1, "earliest_start"), "2026-03-29T01:30")
    put(spring, ("visits", 1, "latest_start"), "2026-03-29T03:00")
    rejects(
        spring,
        ("visits", 1, "earliest_start"),
        "2026-03-29T01:30 does not exist in Europe/London (clocks go forward)",
    )


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [("2026-03-29", "00:59", "02:00"), ("2026-10-25", "00:59", "02:00")],
)
def test_times_either_side_of_a_clock_change_are_valid(
    base: Raw, spring: Raw, day: str, start: str, end: str
) -> None:
    raw = spring if day.startswith("2026-03") else base
    put(raw, ("visits", 1, "earliest_start"), f"{day}T{start}")
    put(raw, ("visits", 1, "latest_start"), f"{day}T{end}")
    Problem.model_validate(raw)


# ---------------------------------------------------------------------------------------------
# Travel matrix shape and place ids


def test_matrix_with_a_row_missing(with_matrix: Raw) -> None:
    del with_matrix["travel"]["minutes"][3]
    rejects(with_matrix, ("travel", "minutes"), "3 rows for 4 places; the matrix must be 4x4")


def test_matrix_with_a_short_row(with_matrix: Raw) -> None:
    del with_matrix["travel"]["minutes"][1][3]
    rejects(with_matrix, ("travel", "minutes", 1), "row has 3 entries for 4 places")


def test_matrix_with_an_unknown_place(with_matrix: Raw) -> None:
    # c-zed takes c-ben's slot: one unknown id, and c-ben has no row.
    put(with_matrix, ("travel", "places", 3), "c-zed")
    assert errors(with_matrix) == [
        (("travel", "places", 3), "'c-zed' is neither a worker nor a client"),
        (("travel", "places"), "no row for 1 places: 'c-ben'"),
    ]


def test_matrix_with_a_place_missing(with_matrix: Raw) -> None:
    # A consistent 3x3 matrix that leaves out c-ben.
    travel = with_matrix["travel"]
    travel["places"] = travel["places"][:3]
    travel["minutes"] = [row[:3] for row in travel["minutes"][:3]]
    rejects(with_matrix, ("travel", "places"), "no row for 1 places: 'c-ben'")


def test_matrix_with_a_duplicate_place(with_matrix: Raw) -> None:
    put(with_matrix, ("travel", "places", 3), "c-ann")
    assert errors(with_matrix) == [
        (("travel", "places", 3), "duplicate place id 'c-ann'"),
        (("travel", "places"), "no row for 1 places: 'c-ben'"),
    ]


def test_matrix_with_a_negative_minute(with_matrix: Raw) -> None:
    # The path is the input's: without the travel model pydantic names inside the union.
    put(with_matrix, ("travel", "minutes", 2, 3), -1)
    rejects(with_matrix, ("travel", "minutes", 2, 3), "greater than or equal to 0 (got -1)")


# ---------------------------------------------------------------------------------------------
# Timezone, unknown fields, datetime formats


def test_unknown_timezone(base: Raw) -> None:
    put(base, ("timezone",), "Europe/Lundon")
    rejects(base, ("timezone",), "'Europe/Lundon' is not an IANA timezone name")


@pytest.mark.parametrize("name", ["Europe", "Europe/London/", "../etc"])
def test_a_region_or_a_path_is_no_timezone(base: Raw, name: str) -> None:
    # "Europe" is a folder of the zone database: ZoneInfo raised IsADirectoryError, which the
    # validator let through as a crash (a 500 from the API).
    rejects(put(base, ("timezone",), name), ("timezone",), "is not an IANA timezone name")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("visits", 0, "late_alowed_minutes"), 10),  # late_allowed_minutes
        (("workers", 1, "max_minutes_per_wek"), 300),  # max_minutes_per_week
        (("wieghts",), {"travel_minute": 2}),  # weights
    ],
)
def test_unknown_field_is_rejected(base: Raw, path: Loc, value: Any) -> None:
    # A typo must not pass silently as a missing optional field.
    rejects(put(base, path, value), path, "Extra inputs are not permitted")


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-20T08:00+01:00",  # an offset
        "2026-10-20T07:00Z",  # UTC
        "2026-10-20 08:00",  # no T
        "20/10/2026 08:00",  # a spreadsheet's format
        "2026-10-20T8:00",  # one-digit hour
        "2026-10-20",  # a date
    ],
)
def test_datetime_in_a_wrong_form_is_rejected(base: Raw, text: str) -> None:
    path = ("visits", 0, "earliest_start")
    rejects(put(base, path, text), path, f"{text!r} is not a local datetime")


def test_datetime_that_is_not_on_the_calendar(base: Raw) -> None:
    path = ("visits", 0, "earliest_start")
    rejects(put(base, path, "2026-02-30T08:00"), path, "'2026-02-30T08:00' is not a real calendar")


def test_datetime_with_seconds_is_accepted(base: Raw) -> None:
    put(base, ("visits", 0, "earliest_start"), "2026-10-20T08:00:30")
    assert Problem.model_validate(base).visits[0].earliest_start.second == 30


# ---------------------------------------------------------------------------------------------
# Examples and the JSON Schema


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name if isinstance(p, Path) else None
)
def test_shared_example_validates(path: Path) -> None:
    problem = Problem.model_validate_json(path.read_text(encoding="utf-8"))
    assert problem.visits


def test_there_are_four_shared_examples() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == [
        "dst-week.json",
        "medium-agency.json",
        "small-agency.json",
        "tiny.json",
    ]


@pytest.mark.parametrize(("which", "model"), [("problem", Problem), ("rota", Rota)])
def test_schema_command_prints_the_model_schema(
    which: str, model: type[Problem] | type[Rota], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", which]) == 0
    assert json.loads(capsys.readouterr().out) == model.model_json_schema()


@pytest.mark.parametrize(("which", "model"), [("problem", Problem), ("rota", Rota)])
def test_committed_schema_is_current(which: str, model: type[Problem] | type[Rota]) -> None:
    path = ROOT / "schema" / f"{which}.schema.json"
    assert path.exists(), f"run: carerota schema {which} -o schema/{which}.schema.json"
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored == model.model_json_schema(), (
        f"schema/{which}.schema.json is stale: run carerota schema {which} -o {path.name}"
    )
