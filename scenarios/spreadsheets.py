"""The agency's records as the spreadsheets an office keeps: CSV files or one XLSX workbook.

One sheet (or CSV file) per kind: ``carers``, ``clients``, ``packages`` and, once, ``history``.
The first row names the columns (:data:`COLUMNS`; ``docs/import.md`` says what each holds); their
order is free, unknown columns are an error, optional ones may be left out. A value that does not
fit is reported with its file, row (as the spreadsheet numbers it: the header is row 1) and
column, every such error at once, and nothing is imported.

:func:`read_file` parses a file into records; :func:`template` writes an empty one with the
header and an example row; :func:`write_workbook` and :func:`write_csv` write records out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from scenarios.records import (
    WEEKDAYS,
    ClientRecord,
    HistoryRecord,
    PackageRecord,
    WorkerRecord,
)

Sheet = Literal["carers", "clients", "packages", "history"]
T = TypeVar("T")
SHEETS: Final[tuple[Sheet, ...]] = ("carers", "clients", "packages", "history")
LIST_SEPARATOR: Final = ";"

# Column -> (required, what it holds): the documentation's tables are made from these.
COLUMNS: Final[dict[Sheet, dict[str, tuple[bool, str]]]] = {
    "carers": {
        "id": (True, "a short unique id, e.g. w017 (no spaces)"),
        "name": (False, "the name people use"),
        "role": (False, "carer (default) or coordinator"),
        "areas": (False, "areas they work in, separated by ';' (empty: every area)"),
        "lat": (True, "home latitude (WGS84 degrees)"),
        "lon": (True, "home longitude"),
        "phone": (False, "telephone number, for the carer beside them on a double-up"),
        "travel_mode": (False, "car (default), walk, bike or public_transport"),
        "skills": (False, "e.g. medication;hoist;dementia;catheter"),
        "gender": (False, "e.g. female"),
        "contracted_hours": (False, "hours a week in their contract"),
        "max_hours_week": (False, "most hours a week (visits and travel)"),
        "max_hours_day": (False, "most hours a day"),
        **{
            day: (
                False,
                f"usual hours on {day.title()}, e.g. 07:00-14:00 or 07:00-10:00;17:00-21:00",
            )
            for day in WEEKDAYS
        },
        "away": (
            False,
            "days off the pattern: 2027-01-11..2027-01-24 leave;2027-02-01 training "
            "(leave, training, sickness or other)",
        ),
    },
    "clients": {
        "id": (True, "a short unique id, e.g. c0042"),
        "name": (False, "the name people use"),
        "area": (False, "their area (team, branch)"),
        "lat": (True, "latitude of their home"),
        "lon": (True, "longitude of their home"),
        "address": (False, "street address for run sheets"),
        "phone": (False, "telephone number carers can call from the run sheet"),
        "coordinator": (False, "the id of the coordinator who oversees them"),
        "preferred": (False, "ids of carers they know and like, separated by ';'"),
        "excluded": (False, "ids of carers never to send, separated by ';'"),
        "gender_preference": (False, "only carers of this gender, e.g. female"),
        "care_plan": (False, "what carers must know before the visit"),
    },
    "packages": {
        "id": (True, "a short unique id, e.g. c0042-am"),
        "client": (True, "the client's id"),
        "days": (True, "mon;tue;wed... or daily or weekdays"),
        "every_weeks": (False, "1 (default): every week; 2: fortnightly..."),
        "start_date": (True, "the first week it runs, YYYY-MM-DD"),
        "end_date": (False, "the last day it runs, YYYY-MM-DD"),
        "earliest": (True, "earliest start, HH:MM"),
        "latest": (True, "latest start, HH:MM"),
        "duration": (True, "minutes"),
        "carers": (False, "1 (default) or 2"),
        "skills": (False, "skills every carer on it needs, separated by ';'"),
        "after": (False, "the id of a package of the same client this one follows that day"),
        "after_min": (False, "at least this many minutes after that package's start"),
        "after_max": (False, "at most this many minutes after it (default 720)"),
        "after_other_carer": (False, "yes: a different carer from that package's visit"),
        "late_allowed": (False, "minutes it may start late, each one costed"),
        "note": (False, "a note for the office"),
    },
    "history": {
        "client": (True, "the client's id"),
        "worker": (True, "the carer's or coordinator's id"),
        "date": (True, "the day of the visit, YYYY-MM-DD"),
        "coordinator": (False, "yes for a coordinator's visit (default no)"),
    },
}

EXAMPLES: Final[dict[Sheet, dict[str, str]]] = {
    "carers": {
        "id": "w001",
        "name": "Amy Shaw",
        "role": "carer",
        "areas": "North",
        "lat": "53.812",
        "lon": "-1.561",
        "phone": "0113 496 0500",
        "travel_mode": "car",
        "skills": "medication;hoist",
        "gender": "female",
        "contracted_hours": "30",
        "max_hours_week": "40",
        "max_hours_day": "10",
        "mon": "07:00-14:00",
        "tue": "07:00-14:00",
        "wed": "07:00-14:00",
        "thu": "",
        "fri": "07:00-10:00;17:00-21:00",
        "sat": "",
        "sun": "",
        "away": "2027-01-11..2027-01-24 leave",
    },
    "clients": {
        "id": "c0001",
        "name": "Mrs Jean Holt",
        "area": "North",
        "lat": "53.806",
        "lon": "-1.548",
        "address": "12 Vicarage View",
        "phone": "0113 496 0123",
        "coordinator": "",
        "preferred": "w001",
        "excluded": "",
        "gender_preference": "female",
        "care_plan": "Insulin at breakfast; key safe 1942",
    },
    "packages": {
        "id": "c0001-am",
        "client": "c0001",
        "days": "daily",
        "every_weeks": "1",
        "start_date": "2027-01-04",
        "end_date": "",
        "earliest": "07:30",
        "latest": "08:30",
        "duration": "45",
        "carers": "1",
        "skills": "medication",
        "after": "",
        "after_min": "",
        "after_max": "",
        "after_other_carer": "",
        "late_allowed": "",
        "note": "breakfast and insulin",
    },
    "history": {"client": "c0001", "worker": "w001", "date": "2026-12-28", "coordinator": "no"},
}


@dataclass(frozen=True)
class CellError:
    """One value that does not fit: where it is and why, in the office's words."""

    file: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        # Row 0 is the file as a whole (it is not a spreadsheet, or names no kind of record).
        where = self.file + (f": row {self.row}" if self.row else "")
        where += f", column {self.column}" if self.column else ""
        return f"{where}: {self.message}"


class SpreadsheetError(Exception):
    """Every error found in the files; nothing was imported."""

    def __init__(self, errors: Sequence[CellError]) -> None:
        self.errors = list(errors)
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"{self.errors[0]}{more}")


@dataclass
class Parsed:
    """What a file held: records by sheet, and the row each record came from."""

    carers: list[WorkerRecord] = field(default_factory=list)
    clients: list[ClientRecord] = field(default_factory=list)
    packages: list[PackageRecord] = field(default_factory=list)
    history: list[HistoryRecord] = field(default_factory=list)
    sheets: list[Sheet] = field(default_factory=list)
    # (sheet, id) -> (file, row) of each record with an id, so later checks can say where.
    rows: dict[tuple[Sheet, str], tuple[str, int]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Reading cells


class _Bad(ValueError):
    """A cell that does not fit (the message says why)."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


def _list(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[;,]", text) if p.strip()]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _Bad(f"{text!r} is not a number") from None


def _whole(text: str) -> int:
    number = _number(text)
    if not number.is_integer():
        raise _Bad(f"{text!r} is not a whole number")
    return int(number)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise _Bad(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _time(text: str) -> time:
    if re.fullmatch(r"\d{1,2}:\d{2}(:00)?", text):
        hours, minutes = int(text.split(":")[0]), int(text.split(":")[1])
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    raise _Bad(f"{text!r} is not a time of day (HH:MM)")


def _stretches(text: str) -> list[tuple[time, time]]:
    out = []
    for piece in _list(text):
        start, sep, end = piece.partition("-")
        if not sep:
            raise _Bad(f"{piece!r} is not hours like 07:00-14:00")
        begin, finish = _time(start.strip()), _time(end.strip())
        if finish <= begin:
            raise _Bad(f"{piece!r} ends before it starts")
        out.append((begin, finish))
    return out


def _days(text: str) -> list[str]:
    lowered = text.lower()
    if lowered == "daily":
        return list(WEEKDAYS)
    if lowered == "weekdays":
        return list(WEEKDAYS[:5])
    days = [d[:3] for d in _list(lowered)]
    unknown = [d for d in days if d not in WEEKDAYS]
    if unknown or not days:
        raise _Bad(f"{text!r} is not days like mon;wed;fri, daily or weekdays")
    return days


def _away(text: str) -> list[dict[str, Any]]:
    out = []
    for piece in _list(text):
        words = piece.split()
        span = words[0]
        reason = words[1].lower() if len(words) > 1 else "leave"
        first, _, last = span.partition("..")
        if reason not in ("leave", "training", "sickness", "other"):
            raise _Bad(f"{piece!r}: say leave, training, sickness or other after the dates")
        start, end = _date(first), _date(last or first)
        if end < start:
            raise _Bad(f"{piece!r} ends before it starts")
        out.append({"start": start, "end": end, "reason": reason})
    return out


def _yes(text: str) -> bool:
    if text.lower() in ("", "no", "n", "false", "0"):
        return False
    if text.lower() in ("yes", "y", "true", "1"):
        return True
    raise _Bad(f"{text!r} is not yes or no")


# ---------------------------------------------------------------------------------------------
# Rows into records

# The record field a column fills, where the names differ, so pydantic's errors name the column.
_FIELD_COLUMN: Final[dict[Sheet, dict[str, str]]] = {
    "carers": {
        "home": "lat",
        "contracted_hours_per_week": "contracted_hours",
        "max_hours_per_week": "max_hours_week",
        "max_hours_per_day": "max_hours_day",
    },
    "clients": {
        "location": "lat",
        "preferred_workers": "preferred",
        "excluded_workers": "excluded",
    },
    "packages": {
        "earliest_start": "earliest",
        "latest_start": "latest",
        "duration_minutes": "duration",
        "workers_required": "carers",
        "late_allowed_minutes": "late_allowed",
    },
    "history": {},
}


class _Row:
    """One row's cells by column, and every cell that did not fit (column, why)."""

    def __init__(self, cell: dict[str, str]) -> None:
        self.cell = cell
        self.bad: list[tuple[str, str]] = []

    def text(self, name: str) -> str:
        return self.cell.get(name, "")

    def read(self, name: str, parse: Callable[[str], T], *, required: bool = False) -> T | None:
        """The cell parsed, or None when it is empty or does not fit (noted in ``bad``)."""
        text = self.text(name)
        if not text:
            if required:
                self.bad.append((name, "empty, but every row needs it"))
            return None
        try:
            return parse(text)
        except _Bad as bad:
            self.bad.append((name, str(bad)))
            return None


def _place(row: _Row) -> dict[str, float] | None:
    lat, lon = row.read("lat", _number, required=True), row.read("lon", _number, required=True)
    return None if lat is None or lon is None else {"lat": lat, "lon": lon}


def _carer(row: _Row) -> dict[str, Any]:
    body: dict[str, Any] = {"id": row.text("id"), "home": _place(row)}
    for name in ("name", "role", "phone", "travel_mode", "gender"):
        if row.text(name):
            body[name] = row.text(name)
    body["areas"] = _list(row.text("areas"))
    body["skills"] = _list(row.text("skills"))
    for name, target in (
        ("contracted_hours", "contracted_hours_per_week"),
        ("max_hours_week", "max_hours_per_week"),
        ("max_hours_day", "max_hours_per_day"),
    ):
        hours = row.read(name, _number)
        if hours is not None:
            body[target] = hours
    body["availability"] = [
        {"day": day, "start": start, "end": end}
        for day in WEEKDAYS
        for start, end in row.read(day, _stretches) or []
    ]
    body["away"] = row.read("away", _away) or []
    return body


def _client(row: _Row) -> dict[str, Any]:
    body: dict[str, Any] = {"id": row.text("id"), "location": _place(row)}
    for name in (
        "name",
        "area",
        "address",
        "phone",
        "coordinator",
        "gender_preference",
        "care_plan",
    ):
        if row.text(name):
            body[name] = row.text(name)
    body["preferred_workers"] = _list(row.text("preferred"))
    body["excluded_workers"] = _list(row.text("excluded"))
    return body


def _package(row: _Row) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.text("id"),
        "client": row.text("client"),
        "days": row.read("days", _days, required=True),
        "start_date": row.read("start_date", _date, required=True),
        "earliest_start": row.read("earliest", _time, required=True),
        "latest_start": row.read("latest", _time, required=True),
        "duration_minutes": row.read("duration", _whole, required=True),
        "skills": _list(row.text("skills")),
    }
    early, late = body["earliest_start"], body["latest_start"]
    if early is not None and late is not None and late < early:
        row.bad.append(
            (
                "latest",
                f"{row.text('latest')!r} is before the earliest start {row.text('earliest')!r}",
            )
        )
    for name, target, parse in (
        ("every_weeks", "every_weeks", _whole),
        ("end_date", "end_date", _date),
        ("carers", "workers_required", _whole),
        ("late_allowed", "late_allowed_minutes", _whole),
    ):
        value = row.read(name, parse)
        if value is not None:
            body[target] = value
    first, last = body["start_date"], body.get("end_date")
    if first is not None and last is not None and last < first:
        row.bad.append(
            (
                "end_date",
                f"{row.text('end_date')!r} is before the start date {row.text('start_date')!r}",
            )
        )
    if row.text("after"):
        least, most = row.read("after_min", _whole), row.read("after_max", _whole)
        body["after"] = {
            "package": row.text("after"),
            "min_minutes": 0 if least is None else least,
            "max_minutes": 720 if most is None else most,
            "distinct_workers": row.read("after_other_carer", _yes) or False,
        }
    elif row.read("after_other_carer", _yes):
        row.bad.append(("after_other_carer", "yes, but no package named in after"))
    if row.text("note"):
        body["note"] = row.text("note")
    return body


def _history(row: _Row) -> dict[str, Any]:
    return {
        "client": row.text("client"),
        "worker": row.text("worker"),
        "date": row.read("date", _date, required=True),
        "coordinator": row.read("coordinator", _yes) or False,
    }


_BUILDERS: Final = {"carers": _carer, "clients": _client, "packages": _package, "history": _history}
_MODELS: Final[dict[Sheet, type[BaseModel]]] = {
    "carers": WorkerRecord,
    "clients": ClientRecord,
    "packages": PackageRecord,
    "history": HistoryRecord,
}


def parse_rows(
    sheet: Sheet, rows: Iterable[Sequence[Any]], file: str
) -> tuple[list[tuple[int, Any]], list[CellError]]:
    """(row, record) of ``sheet`` from its rows (the first is the header), and every error."""
    errors: list[CellError] = []
    it = iter(rows)
    header = [_text(h).lower() for h in next(it, [])]
    known = COLUMNS[sheet]
    while header and not header[-1]:
        header.pop()
    for i, name in enumerate(header):
        if name not in known:
            errors.append(
                CellError(file, 1, name or f"#{i + 1}", f"unknown column {name!r} for {sheet}")
            )
    for name, (required, _) in known.items():
        if required and name not in header:
            errors.append(CellError(file, 1, name, f"the {sheet} sheet needs a column {name!r}"))
    if errors:
        return [], errors
    out: list[tuple[int, Any]] = []
    seen: dict[str, int] = {}
    columns_of = _FIELD_COLUMN[sheet]
    for number, values in enumerate(it, start=2):
        cell = {name: _text(v) for name, v in zip(header, values, strict=False) if name}
        if not any(cell.values()):
            continue  # blank lines between blocks are common in hand-kept sheets
        row = _Row(cell)
        body = _BUILDERS[sheet](row)
        if row.bad:
            errors.extend(CellError(file, number, column, why) for column, why in row.bad)
            continue
        try:
            record = _MODELS[sheet].model_validate(body)
        except ValidationError as exc:
            for item in exc.errors(include_url=False):
                loc = item["loc"]
                name = str(loc[0]) if loc else ""
                if name == "home" or name == "location":
                    name = str(loc[1]) if len(loc) > 1 else "lat"
                elif name == "after" and len(loc) > 1:
                    name = {
                        "package": "after",
                        "min_minutes": "after_min",
                        "distinct_workers": "after_other_carer",
                    }.get(str(loc[1]), "after_max")
                name = columns_of.get(name, name)
                message = str(item["msg"]).removeprefix("Value error, ")
                errors.append(CellError(file, number, name, message))
            continue
        ident = getattr(record, "id", None)
        if ident is not None:
            if ident in seen:
                errors.append(
                    CellError(file, number, "id", f"{ident!r} is also on row {seen[ident]}")
                )
                continue
            seen[ident] = number
        out.append((number, record))
    return out, errors


def _sheet_of(name: str) -> Sheet | None:
    stem = Path(name).stem.lower()
    for sheet in SHEETS:
        if stem == sheet or stem.endswith(("_" + sheet, "-" + sheet)):
            return sheet
    return {"workers": "carers", "staff": "carers"}.get(stem)  # type: ignore[return-value]


def read_file(name: str, data: bytes, sheet: Sheet | None = None) -> Parsed:
    """The records in one file: a CSV of ``sheet`` (by default named after the file, e.g.
    ``carers.csv``) or an XLSX workbook whose sheets are named after their kind.

    Raises :class:`SpreadsheetError` with every error found.
    """
    parsed = Parsed()
    errors: list[CellError] = []
    tables: list[tuple[Sheet, str, list[Sequence[Any]]]] = []
    if name.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
            raise SpreadsheetError(
                [CellError(name, 0, "", f"not an XLSX workbook ({type(exc).__name__})")]
            ) from None
        for ws in book.worksheets:
            kind = sheet if sheet is not None and len(book.worksheets) == 1 else _sheet_of(ws.title)
            if kind is None:
                errors.append(
                    CellError(
                        f"{name} [{ws.title}]",
                        0,
                        "",
                        f"sheet {ws.title!r} is not one of {', '.join(SHEETS)}",
                    )
                )
                continue
            tables.append((kind, f"{name} [{ws.title}]", list(ws.iter_rows(values_only=True))))
        book.close()
    else:
        kind = sheet or _sheet_of(name)
        if kind is None:
            raise SpreadsheetError(
                [
                    CellError(
                        name,
                        0,
                        "",
                        f"say which records it holds ({', '.join(SHEETS)}): "
                        "name the file after them, e.g. carers.csv",
                    )
                ]
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise SpreadsheetError([CellError(name, 0, "", "not a text (CSV) file")]) from None
        tables.append((kind, name, list(csv.reader(io.StringIO(text)))))
    for kind, label, rows in tables:
        records, found = parse_rows(kind, rows, label)
        errors.extend(found)
        getattr(parsed, kind).extend(r for _, r in records)
        for number, record in records:
            if hasattr(record, "id"):
                parsed.rows[(kind, record.id)] = (label, number)
        parsed.sheets.append(kind)
    if errors:
        raise SpreadsheetError(errors)
    return parsed


# ---------------------------------------------------------------------------------------------
# Writing


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def rows_of(sheet: Sheet, records: Sequence[Any]) -> list[list[str]]:
    """``records`` as rows of ``sheet`` (header first), as :func:`read_file` reads them back."""
    header = list(COLUMNS[sheet])
    out = [header]
    for r in records:
        row: dict[str, str]
        if sheet == "carers":
            assert isinstance(r, WorkerRecord)
            row = {
                "id": r.id,
                "name": r.name or "",
                "role": r.role,
                "areas": LIST_SEPARATOR.join(r.areas),
                "lat": f"{r.home.lat:.6f}",
                "lon": f"{r.home.lon:.6f}",
                "phone": r.phone or "",
                "travel_mode": r.travel_mode,
                "skills": LIST_SEPARATOR.join(r.skills),
                "gender": r.gender or "",
                "contracted_hours": _hours(r.contracted_hours_per_week),
                "max_hours_week": _hours(r.max_hours_per_week),
                "max_hours_day": _hours(r.max_hours_per_day),
                **{
                    day: LIST_SEPARATOR.join(
                        f"{a.start:%H:%M}-{a.end:%H:%M}" for a in r.availability if a.day == day
                    )
                    for day in WEEKDAYS
                },
                "away": LIST_SEPARATOR.join(f"{a.start}..{a.end} {a.reason}" for a in r.away),
            }
        elif sheet == "clients":
            assert isinstance(r, ClientRecord)
            row = {
                "id": r.id,
                "name": r.name or "",
                "area": r.area or "",
                "lat": f"{r.location.lat:.6f}",
                "lon": f"{r.location.lon:.6f}",
                "address": r.address or "",
                "phone": r.phone or "",
                "coordinator": r.coordinator or "",
                "preferred": LIST_SEPARATOR.join(r.preferred_workers),
                "excluded": LIST_SEPARATOR.join(r.excluded_workers),
                "gender_preference": r.gender_preference or "",
                "care_plan": r.care_plan or "",
            }
        elif sheet == "packages":
            assert isinstance(r, PackageRecord)
            days = (
                "daily"
                if len(r.days) == 7
                else "weekdays"
                if r.days == list(WEEKDAYS[:5])
                else LIST_SEPARATOR.join(r.days)
            )
            row = {
                "id": r.id,
                "client": r.client,
                "days": days,
                "every_weeks": str(r.every_weeks),
                "start_date": r.start_date.isoformat(),
                "end_date": r.end_date.isoformat() if r.end_date else "",
                "earliest": f"{r.earliest_start:%H:%M}",
                "latest": f"{r.latest_start:%H:%M}",
                "duration": str(r.duration_minutes),
                "carers": str(r.workers_required),
                "skills": LIST_SEPARATOR.join(r.skills),
                "after": r.after.package if r.after else "",
                "after_min": str(r.after.min_minutes) if r.after else "",
                "after_max": str(r.after.max_minutes) if r.after else "",
                "after_other_carer": "yes" if r.after and r.after.distinct_workers else "",
                "late_allowed": str(r.late_allowed_minutes) if r.late_allowed_minutes else "",
                "note": r.note or "",
            }
        else:
            assert isinstance(r, HistoryRecord)
            row = {
                "client": r.client,
                "worker": r.worker,
                "date": r.date.isoformat(),
                "coordinator": "yes" if r.coordinator else "no",
            }
        out.append([row[c] for c in header])
    return out


def write_csv(path: Path, sheet: Sheet, records: Sequence[Any]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows_of(sheet, records))


def write_workbook(path: Path | io.BytesIO, sheets: dict[Sheet, Sequence[Any]]) -> None:
    """An XLSX workbook with one sheet per kind."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for sheet, records in sheets.items():
        ws = book.create_sheet(sheet)
        for row in rows_of(sheet, records):
            ws.append(row)
    book.save(path)


def template(sheet: Sheet | None, fmt: Literal["csv", "xlsx"]) -> bytes:
    """An empty sheet (or, with ``sheet`` None and XLSX, a workbook of all four) with the header
    and one example row, to fill in."""
    sheets: list[Sheet] = [sheet] if sheet is not None else list(SHEETS)
    if fmt == "csv":
        if sheet is None:
            raise ValueError("a CSV template holds one sheet: name it")
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(list(COLUMNS[sheet]))
        writer.writerow([EXAMPLES[sheet][c] for c in COLUMNS[sheet]])
        return out.getvalue().encode()
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for name in sheets:
        ws = book.create_sheet(name)
        ws.append(list(COLUMNS[name]))
        ws.append([EXAMPLES[name][c] for c in COLUMNS[name]])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
