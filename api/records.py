"""The agency's own records (workers, clients, care packages, imported history) in the database.

A record is kept whole, as the JSON of its :mod:`scenarios.records` model, in one row keyed by
(agency, kind, id): the models already say what a valid record is, and nothing queries inside
one except by its client (packages) or area (clients). Every function filters on the agency, so
another agency's ids do not exist for a caller, as everywhere in the service.

Cross-record rules (a package's client exists; a client's coordinator is a coordinator; its
preferred and excluded carers exist; a package follows a package of the same client) are checked
here, on every write, so a plan never meets a dangling reference it did not expect.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

from pydantic import BaseModel
from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from api.db import (
    Absence,
    Base,
    Publication,
    RotaVersion,
    StoredProblem,
    UTCDateTime,
    utcnow,
)
from api.errors import ApiError, ErrorDetail
from scenarios.planning import PublishedRota
from scenarios.records import (
    ClientRecord,
    HistoryRecord,
    PackageRecord,
    RecordKind,
    Records,
    WorkerRecord,
)
from scenarios.spreadsheets import CellError, Parsed, SpreadsheetError

MODELS: Final[dict[str, type[BaseModel]]] = {
    "worker": WorkerRecord,
    "client": ClientRecord,
    "package": PackageRecord,
}
AnyRecord = WorkerRecord | ClientRecord | PackageRecord


class AgencyRecord(Base):
    """One worker, client or care package of an agency, as its model's JSON."""

    __tablename__ = "agency_records"
    __table_args__ = (Index("ix_agency_records_client", "agency_id", "kind", "client_id"),)

    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The client a package belongs to (the client itself for a client), so erasing a client
    # finds their packages without reading every body.
    client_id: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HistoryEntry(Base):
    """A past visit imported from before carerota (a rota or visit log), used as history."""

    __tablename__ = "history_entries"
    __table_args__ = (Index("ix_history_entries_agency_date", "agency_id", "date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    client_id: Mapped[str] = mapped_column(String(200))
    worker_id: Mapped[str] = mapped_column(String(200))
    date: Mapped[date] = mapped_column(Date)
    coordinator: Mapped[bool] = mapped_column(Boolean, default=False)


def _client_of(record: AnyRecord) -> str | None:
    if isinstance(record, PackageRecord):
        return record.client
    if isinstance(record, ClientRecord):
        return record.id
    return None


def dump(record: BaseModel) -> str:
    return record.model_dump_json(exclude_none=True)


def load(kind: str, body: str) -> AnyRecord:
    record = MODELS[kind].model_validate_json(body)
    assert isinstance(record, WorkerRecord | ClientRecord | PackageRecord)
    return record


# ---------------------------------------------------------------------------------------------
# Cross-record rules


@dataclass
class Book:
    """An agency's records in memory while a change is checked against them."""

    workers: dict[str, WorkerRecord] = field(default_factory=dict)
    clients: dict[str, ClientRecord] = field(default_factory=dict)
    packages: dict[str, PackageRecord] = field(default_factory=dict)

    def of(self, kind: str) -> dict[str, Any]:
        if kind == "worker":
            return self.workers
        return self.clients if kind == "client" else self.packages

    def records(self, history: Sequence[HistoryRecord] = ()) -> Records:
        return Records(
            workers=list(self.workers.values()),
            clients=list(self.clients.values()),
            packages=list(self.packages.values()),
            history=list(history),
        )


def book(session: Session, agency_id: str) -> Book:
    """Every record of the agency."""
    out = Book()
    for kind, body in session.execute(
        select(AgencyRecord.kind, AgencyRecord.body)
        .where(AgencyRecord.agency_id == agency_id)
        .order_by(AgencyRecord.kind, AgencyRecord.record_id)
    ):
        record = load(kind, body)
        out.of(kind)[record.id] = record
    return out


def history(session: Session, agency_id: str, since: date, until: date) -> list[HistoryRecord]:
    """Imported history from ``since`` up to (not including) ``until``."""
    return [
        HistoryRecord(
            client=r.client_id, worker=r.worker_id, date=r.date, coordinator=r.coordinator
        )
        for r in session.execute(
            select(
                HistoryEntry.client_id,
                HistoryEntry.worker_id,
                HistoryEntry.date,
                HistoryEntry.coordinator,
            ).where(
                HistoryEntry.agency_id == agency_id,
                HistoryEntry.date >= since,
                HistoryEntry.date < until,
            )
        )
    ]


def problems(record: AnyRecord, records: Book) -> list[ErrorDetail]:
    """What ``record`` contradicts among ``records``: field paths and plain messages."""
    out: list[ErrorDetail] = []
    if isinstance(record, ClientRecord):
        if record.coordinator is not None:
            boss = records.workers.get(record.coordinator)
            if boss is None or boss.role != "coordinator":
                what = "no coordinator" if boss is None else "a carer, not a coordinator"
                out.append(
                    ErrorDetail(loc="coordinator", message=f"{record.coordinator!r} is {what}")
                )
        for name in ("preferred_workers", "excluded_workers"):
            for i, ident in enumerate(getattr(record, name)):
                if ident not in records.workers:
                    out.append(ErrorDetail(loc=f"{name}[{i}]", message=f"unknown worker {ident!r}"))
    elif isinstance(record, PackageRecord):
        if record.client not in records.clients:
            out.append(ErrorDetail(loc="client", message=f"unknown client {record.client!r}"))
        if record.after is not None:
            before = records.packages.get(record.after.package)
            if before is None:
                out.append(
                    ErrorDetail(
                        loc="after.package", message=f"unknown package {record.after.package!r}"
                    )
                )
            elif before.client != record.client:
                out.append(
                    ErrorDetail(
                        loc="after.package",
                        message=f"package {before.id!r} is another client's ({before.client!r})",
                    )
                )
    return out


# ---------------------------------------------------------------------------------------------
# Reading and writing one record


def get(session: Session, agency_id: str, kind: RecordKind, record_id: str) -> AnyRecord | None:
    body = session.scalar(
        select(AgencyRecord.body).where(
            AgencyRecord.agency_id == agency_id,
            AgencyRecord.kind == kind,
            AgencyRecord.record_id == record_id,
        )
    )
    return None if body is None else load(kind, body)


def put(session: Session, agency_id: str, kind: RecordKind, record: AnyRecord) -> bool:
    """Insert or replace one record (after :func:`problems`); True when it is new."""
    row = session.get(AgencyRecord, (agency_id, kind, record.id))
    if row is None:
        session.add(
            AgencyRecord(
                agency_id=agency_id,
                kind=kind,
                record_id=record.id,
                client_id=_client_of(record),
                body=dump(record),
            )
        )
        return True
    row.body, row.client_id, row.updated_at = dump(record), _client_of(record), utcnow()
    return False


def remove(session: Session, agency_id: str, kind: RecordKind, record_ids: Iterable[str]) -> int:
    ids = list(record_ids)
    if not ids:
        return 0
    result = session.execute(
        delete(AgencyRecord).where(
            AgencyRecord.agency_id == agency_id,
            AgencyRecord.kind == kind,
            AgencyRecord.record_id.in_(ids),
        )
    )
    return int(getattr(result, "rowcount", 0))


def check(record: AnyRecord, records: Book) -> None:
    """422 naming each field of ``record`` that contradicts the other records."""
    details = problems(record, records)
    if details:
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise ApiError(
            422, f"invalid record: {details[0].loc}: {details[0].message}{more}", details=details
        )


# ---------------------------------------------------------------------------------------------
# Paging, by id


def encode_cursor(record_id: str) -> str:
    return base64.urlsafe_b64encode(record_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            422, "invalid cursor: use the 'next' link of the previous page", code="validation_error"
        ) from None


def page(
    session: Session,
    agency_id: str,
    kind: RecordKind,
    *,
    limit: int,
    cursor: str | None,
    client: str | None = None,
) -> tuple[list[AnyRecord], str | None]:
    """Records of ``kind`` in id order: up to ``limit`` after ``cursor``, and the next cursor."""
    query = select(AgencyRecord.body).where(
        AgencyRecord.agency_id == agency_id, AgencyRecord.kind == kind
    )
    if client is not None:
        query = query.where(AgencyRecord.client_id == client)
    if cursor is not None:
        query = query.where(AgencyRecord.record_id > decode_cursor(cursor))
    bodies = list(session.scalars(query.order_by(AgencyRecord.record_id).limit(limit + 1)))
    items = [load(kind, b) for b in bodies[:limit]]
    following = encode_cursor(items[-1].id) if len(bodies) > limit else None
    return items, following


def erase_client_records(session: Session, agency_id: str, client_id: str) -> dict[str, int]:
    """Delete the client's record, their packages and their imported history (row counts)."""
    records = session.execute(
        delete(AgencyRecord).where(
            AgencyRecord.agency_id == agency_id,
            AgencyRecord.kind.in_(("client", "package")),
            AgencyRecord.client_id == client_id,
        )
    )
    past = session.execute(
        delete(HistoryEntry).where(
            HistoryEntry.agency_id == agency_id, HistoryEntry.client_id == client_id
        )
    )
    return {
        "agency_records": int(getattr(records, "rowcount", 0)),
        "history_entries": int(getattr(past, "rowcount", 0)),
    }


def as_json(record: BaseModel) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(dump(record))
    return loaded


def absences(
    session: Session, agency_id: str, since: date, until: date
) -> list[tuple[str, datetime, datetime]]:
    """(worker, start, end) of each recorded absence (``POST /v1/absences``, merged ones once)
    that touches the days ``since`` to ``until``."""
    rows = session.execute(
        select(Absence.worker_id, Absence.start, Absence.end).where(
            Absence.agency_id == agency_id,
            Absence.merged_into.is_(None),
            Absence.start < (until + timedelta(days=1)).isoformat(),
            Absence.end > since.isoformat(),
        )
    )
    return [
        (r.worker_id, datetime.fromisoformat(r.start), datetime.fromisoformat(r.end)) for r in rows
    ]


def published(session: Session, agency_id: str, since: date, until: date) -> list[PublishedRota]:
    """The published rota of each period and area that overlaps ``since``..``until`` (the
    latest publication of a period and area wins), oldest first."""
    rows = session.execute(
        select(
            Publication.period_start,
            Publication.period_end,
            Publication.area,
            Publication.version_id,
        )
        .where(
            Publication.agency_id == agency_id,
            Publication.period_start <= until,
            Publication.period_end >= since,
        )
        .order_by(Publication.id)
    ).all()
    current = {(r.period_start, r.period_end, r.area): r.version_id for r in rows}
    out: list[PublishedRota] = []
    for (_, _, area), version in sorted(current.items()):
        row = session.execute(
            select(RotaVersion.rota, StoredProblem.body)
            .join(StoredProblem, StoredProblem.id == RotaVersion.problem_id)
            .where(RotaVersion.id == version)
        ).one()
        out.append(PublishedRota(area, json.loads(row.body), json.loads(row.rota)))
    return out


# ---------------------------------------------------------------------------------------------
# Importing spreadsheets

_KIND_OF_SHEET: Final[dict[str, RecordKind]] = {
    "carers": "worker",
    "clients": "client",
    "packages": "package",
}


class Change(BaseModel):
    """One record an import adds, changes or removes."""

    kind: RecordKind | Literal["history"]
    id: str
    name: str | None = None


class ImportReport(BaseModel):
    """What an import did (or, in a dry run, would do)."""

    dry_run: bool
    added: list[Change]
    changed: list[Change]
    removed: list[Change]
    unchanged: int
    history_added: int


def _name(record: AnyRecord) -> str | None:
    return getattr(record, "name", None)


def apply_import(
    session: Session, agency_id: str, parsed: Parsed, *, dry_run: bool
) -> ImportReport:
    """Make the agency's records of each sheet in ``parsed`` what the sheet says.

    A sheet is the whole list of its kind: records it does not name are removed (a client's
    packages with them). Raises :class:`SpreadsheetError` naming the file, row and column of
    every reference that does not hold afterwards; nothing is written then, nor in a dry run.
    """
    current = book(session, agency_id)
    after = Book(dict(current.workers), dict(current.clients), dict(current.packages))
    added: list[Change] = []
    changed: list[Change] = []
    removed: list[Change] = []
    unchanged = 0
    for sheet in ("carers", "clients", "packages"):
        if sheet not in parsed.sheets:
            continue
        kind = _KIND_OF_SHEET[sheet]
        incoming: dict[str, AnyRecord] = {r.id: r for r in getattr(parsed, sheet)}
        table: dict[str, Any] = after.of(kind)
        for ident in sorted(set(table) - set(incoming)):
            removed.append(Change(kind=kind, id=ident, name=_name(table.pop(ident))))
        for ident, record in incoming.items():
            old = table.get(ident)
            if old is None:
                added.append(Change(kind=kind, id=ident, name=_name(record)))
            elif dump(old) != dump(record):
                changed.append(Change(kind=kind, id=ident, name=_name(record)))
            else:
                unchanged += 1
            table[ident] = record
    # A removed client's packages go with them (unless the file moved them to another client).
    for ident, package in list(after.packages.items()):
        if package.client not in after.clients and "packages" not in parsed.sheets:
            removed.append(Change(kind="package", id=ident, name=None))
            del after.packages[ident]
    errors: list[CellError] = []
    for sheet, kind in _KIND_OF_SHEET.items():
        for record in after.of(kind).values():
            for detail in problems(record, after):
                where = parsed.rows.get((sheet, record.id))  # type: ignore[arg-type]
                if where is None:
                    # A record kept from before that this import pulls the rug from under.
                    errors.append(
                        CellError(
                            f"the {sheet} already stored",
                            0,
                            _column_of(detail.loc),
                            f"{record.id}: {detail.message}; import the {sheet} sheet too, "
                            "or keep what it refers to",
                        )
                    )
                    continue
                file, row = where
                column = _column_of(detail.loc)
                errors.append(CellError(file, row, column, f"{record.id}: {detail.message}"))
    known_history = {
        (r.client_id, r.worker_id, r.date, r.coordinator)
        for r in session.execute(
            select(
                HistoryEntry.client_id,
                HistoryEntry.worker_id,
                HistoryEntry.date,
                HistoryEntry.coordinator,
            ).where(HistoryEntry.agency_id == agency_id)
        )
    }
    new_history = sorted(
        {(h.client, h.worker, h.date, h.coordinator) for h in parsed.history} - known_history
    )
    if errors:
        raise SpreadsheetError(errors)
    if not dry_run:
        by_kind: dict[RecordKind, list[str]] = {"worker": [], "client": [], "package": []}
        for change in removed:
            if change.kind != "history":
                by_kind[change.kind].append(change.id)
        for kind, ids in by_kind.items():
            remove(session, agency_id, kind, ids)
        for change in (*added, *changed):
            assert change.kind != "history"
            put(session, agency_id, change.kind, after.of(change.kind)[change.id])
        session.add_all(
            HistoryEntry(
                agency_id=agency_id, client_id=c, worker_id=w, date=d, coordinator=coordinator
            )
            for c, w, d, coordinator in new_history
        )
    return ImportReport(
        dry_run=dry_run,
        added=added,
        changed=changed,
        removed=removed,
        unchanged=unchanged,
        history_added=len(new_history),
    )


def _column_of(loc: str) -> str:
    field_name = loc.split("[")[0].split(".")[0]
    return {
        "preferred_workers": "preferred",
        "excluded_workers": "excluded",
    }.get(field_name, field_name)
