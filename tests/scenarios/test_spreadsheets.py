"""Spreadsheets in and out, and the sample agency they carry."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from scenarios.planning import week_problem
from scenarios.sample_agency import DIRECTORY, FIRST_WEEK, sample_records, write_sample
from scenarios.spreadsheets import (
    SHEETS,
    SpreadsheetError,
    read_file,
    rows_of,
    template,
    write_workbook,
)
from solver.contract import Problem

CARERS_HEADER = "id,name,lat,lon,skills,max_hours_week,mon,tue,away\n"


def errors_of(name: str, text: str) -> list[str]:
    with pytest.raises(SpreadsheetError) as caught:
        read_file(name, text.encode())
    return [str(e) for e in caught.value.errors]


def test_a_good_carers_file_reads_into_records() -> None:
    parsed = read_file(
        "carers.csv",
        (
            CARERS_HEADER + "w1,Amy,53.8,-1.5,medication;hoist,40,07:00-10:00;17:00-21:00,,"
            "2027-01-11..2027-01-24 leave\n"
        ).encode(),
    )
    (amy,) = parsed.carers
    assert amy.skills == ["hoist", "medication"]
    assert amy.max_hours_per_week == 40
    assert [(a.day, f"{a.start:%H:%M}", f"{a.end:%H:%M}") for a in amy.availability] == [
        ("mon", "07:00", "10:00"),
        ("mon", "17:00", "21:00"),
    ]
    assert (amy.away[0].start, amy.away[0].end) == (date(2027, 1, 11), date(2027, 1, 24))
    assert parsed.rows[("carers", "w1")] == ("carers.csv", 2)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "w1,Amy,53.8,-1.5,,forty,,,",
            "carers.csv: row 2, column max_hours_week: 'forty' is not a number",
        ),
        (
            "w1,Amy,53.8,-1.5,,,7am-10,,",
            "carers.csv: row 2, column mon: '7am' is not a time of day (HH:MM)",
        ),
        (
            "w1,Amy,53.8,-1.5,,,10:00-07:00,,",
            "carers.csv: row 2, column mon: '10:00-07:00' ends before it starts",
        ),
        (
            "w1,Amy,95,-1.5,,,,,",
            "carers.csv: row 2, column lat: Input should be less than or equal to 90",
        ),
        (
            "w1,Amy,53.8,-1.5,,,,,2027-01-11..2027-01-24 holiday",
            "carers.csv: row 2, column away: '2027-01-11..2027-01-24 holiday': "
            "say leave, training, sickness or other after the dates",
        ),
        (
            "w 1,Amy,53.8,-1.5,,,,,",
            "carers.csv: row 2, column id: String should match pattern '^[^\\s@/]+$'",
        ),
        (
            "w1,Amy,53.8,-1.5,,200,,,",
            "carers.csv: row 2, column max_hours_week: Input should be less than or equal to 168",
        ),
    ],
)
def test_each_bad_value_is_named_by_file_row_and_column(row: str, expected: str) -> None:
    assert errors_of("carers.csv", CARERS_HEADER + row + "\n") == [expected]


def test_every_error_is_reported_at_once_and_duplicates_name_the_first_row() -> None:
    text = CARERS_HEADER + "w1,A,53.8,-1.5,,,,,\nw2,B,x,-1.5,,,,,\n\nw1,C,53.8,-1.5,,,,,\n"
    assert errors_of("carers.csv", text) == [
        "carers.csv: row 3, column lat: 'x' is not a number",
        "carers.csv: row 5, column id: 'w1' is also on row 2",
    ]


def test_unknown_and_missing_columns_are_named() -> None:
    assert errors_of("clients.csv", "id,name,lat,postcode\n") == [
        "clients.csv: row 1, column postcode: unknown column 'postcode' for clients",
        "clients.csv: row 1, column lon: the clients sheet needs a column 'lon'",
    ]


def test_a_csv_must_say_what_it_holds() -> None:
    (message,) = errors_of("export.csv", "id\n")
    assert message.startswith("export.csv: say which records it holds")


def test_package_errors_name_their_columns() -> None:
    header = "id,client,days,start_date,earliest,latest,duration,carers\n"
    assert errors_of(
        "packages.csv",
        header
        + "p1,c1,someday,2027-01-04,08:00,09:00,30,1\n"
        + "p2,c1,mon,2027-01-04,09:00,08:00,30,1\n"
        + "p3,c1,mon,2027-01-04,08:00,09:00,30,3\n",
    ) == [
        "packages.csv: row 2, column days: "
        "'someday' is not days like mon;wed;fri, daily or weekdays",
        "packages.csv: row 3, column latest: '08:00' is before the earliest start '09:00'",
        "packages.csv: row 4, column carers: Input should be less than or equal to 2",
    ]


@pytest.mark.parametrize("sheet", SHEETS)
def test_each_template_reads_back_as_one_example_record(sheet: str) -> None:
    parsed = read_file(f"{sheet}.csv", template(sheet, "csv"))  # type: ignore[arg-type]
    assert len(getattr(parsed, sheet)) == 1
    workbook = read_file("agency.xlsx", template(None, "xlsx"))
    assert workbook.sheets == list(SHEETS)


def test_records_written_as_a_workbook_read_back_the_same() -> None:
    records = sample_records(clients=12, seed=5)
    buffer = io.BytesIO()
    write_workbook(
        buffer,
        {
            "carers": records.workers,
            "clients": records.clients,
            "packages": records.packages,
            "history": records.history,
        },
    )
    parsed = read_file("agency.xlsx", buffer.getvalue())
    assert parsed.carers == records.workers
    assert parsed.clients == records.clients
    assert parsed.packages == records.packages
    assert sorted(parsed.history, key=str) == sorted(records.history, key=str)


def test_the_bundled_sample_agency_is_the_seeded_one(tmp_path: Path) -> None:
    """scenarios/sample_agency/ holds what ``python -m scenarios.sample_agency`` writes."""
    write_sample(tmp_path)
    for name in ("carers.csv", "clients.csv", "packages.csv", "history.csv"):
        assert (tmp_path / name).read_text() == (DIRECTORY / name).read_text(), name
    records = sample_records()
    assert sum(w.role == "carer" for w in records.workers) == 70
    assert len(records.clients) == 150
    assert {c.area for c in records.clients} == {"North", "South"}
    parsed = read_file("agency.xlsx", (DIRECTORY / "agency.xlsx").read_bytes())
    assert parsed.packages == records.packages


def test_the_sample_agencys_first_week_is_a_valid_problem_like_the_generators() -> None:
    from scenarios.generator import generate

    records = sample_records()
    built = Problem.model_validate(week_problem(records, FIRST_WEEK, agency="Sample"))
    generated = generate(150, 2, start=FIRST_WEEK)
    assert len(built.visits) == len(generated["visits"])
    assert sum(len(w.shifts) for w in built.workers) == sum(
        len(w["shifts"]) for w in generated["workers"]
    )
    # The two weeks of imported history are all within the plan's reach.
    assert len(built.history.visits) == len(
        {(h["client"], h["worker"], h["date"]) for h in generated["history"]["visits"]}
    )


def test_rows_of_writes_the_header_first() -> None:
    assert rows_of("history", [])[0] == ["client", "worker", "date", "coordinator"]


def test_docs_import_md_describes_every_column() -> None:
    from scenarios.spreadsheets import COLUMNS

    text = (Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text()
    for sheet, columns in COLUMNS.items():
        section = text.split(f"### {sheet}\n", 1)[1].split("###", 1)[0]
        for column in columns:
            assert f"| `{column}` |" in section, (sheet, column)


def test_every_bad_cell_of_a_row_is_named_and_an_empty_needed_one_too() -> None:
    header = "id,client,days,start_date,earliest,latest,duration\n"
    assert errors_of("packages.csv", header + "p1,c1,,2027-13-01,8am,09:00,half an hour\n") == [
        "packages.csv: row 2, column days: empty, but every row needs it",
        "packages.csv: row 2, column start_date: '2027-13-01' is not a date (YYYY-MM-DD)",
        "packages.csv: row 2, column earliest: '8am' is not a time of day (HH:MM)",
        "packages.csv: row 2, column duration: 'half an hour' is not a number",
    ]


def test_a_package_that_needs_another_carer_than_the_one_before_reads_and_writes_back() -> None:
    header = (
        "id,client,days,start_date,earliest,latest,duration,after,after_min,after_other_carer\n"
    )
    parsed = read_file(
        "packages.csv",
        (
            header
            + "am,c1,daily,2027-01-04,08:00,09:00,30,,,\n"
            + "wash,c1,daily,2027-01-04,09:00,10:00,30,am,30,yes\n"
            + "pm,c1,daily,2027-01-04,17:00,18:00,30,am,,\n"
        ).encode(),
    )
    links = {p.id: p.after for p in parsed.packages}
    assert links["wash"] is not None and links["wash"].distinct_workers
    assert links["pm"] is not None and not links["pm"].distinct_workers
    buffer = io.BytesIO()
    write_workbook(buffer, {"packages": parsed.packages})
    assert read_file("agency.xlsx", buffer.getvalue()).packages == parsed.packages
    assert errors_of("packages.csv", header + "am,c1,daily,2027-01-04,08:00,09:00,30,,,yes\n") == [
        "packages.csv: row 2, column after_other_carer: yes, but no package named in after"
    ]
