"""The service's tables (SQLAlchemy 2) and how to reach the database.

Every row belongs to one agency (``agency_id``); queries always filter on it, so another agency's
ids simply do not exist for a caller. A rota's solve is a :class:`Job`; what it produced is a
:class:`RotaVersion` with the same id, written once and never changed; its derived documents
(explanation, run sheets) are computed once when it is written. Publishing is an append-only
:class:`Publication` log, so a version stays immutable while "the published rota for this
period" moves from one version to the next.

Schema changes go through Alembic (``api/migrations``); :func:`migrate` runs them.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Dialect,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

# Job states. A job is "active" while queued or solving; the other three are final.
QUEUED: Final = "queued"
SOLVING: Final = "solving"
DONE: Final = "done"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
FINAL_STATES: Final = frozenset({DONE, FAILED, CANCELLED})
# Job kinds: a solve of a problem, an absence's re-solve of the published rota, or a what-if
# scenario (its base is the job's problem).
SOLVE: Final = "solve"
RESOLVE: Final = "resolve"
SCENARIO: Final = "scenario"

ID_LENGTH: Final = 32
# How long a SQLite connection waits for another's lock before giving up.
SQLITE_BUSY_SECONDS: Final = 30


def new_id(prefix: str) -> str:
    """A random, URL-safe public id such as ``rota_3kq...``; unguessable, so ids leak nothing."""
    return f"{prefix}_{secrets.token_hex(12)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite stores no offset, so we store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Agency(Base):
    """A home-care agency: a tenant. Nothing of one agency is visible to another."""

    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Called when an absence's re-solve finishes, each call signed with the secret (which the
    # service needs to sign with, so it is kept as it is; see api/webhook_rules.py).
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(String(64))


class ApiKey(Base):
    """An agency's API key, stored as its SHA-256 only (see :mod:`api.security`)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StoredProblem(Base):
    """A problem as submitted (contract JSON), kept so every rota can be re-read against it."""

    __tablename__ = "problems"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    visits: Mapped[int] = mapped_column(Integer)
    workers: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The area (team, branch) a plan was made for; "" for the whole agency.
    area: Mapped[str] = mapped_column(String(200), default="", server_default="")


class Job(Base):
    """A solve: its options, where it is in its life, and its latest progress."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_agency_created", "agency_id", "created_at", "id"),
        Index("ix_jobs_status_created", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    problem_id: Mapped[str] = mapped_column(ForeignKey("problems.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"))
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    time_limit: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    method: Mapped[str] = mapped_column(String(16), default="engine")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Runs so far; a run that dies is retried until max_attempts, then the job fails.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # "host:pid" of the process supervising the solve, and when it last said it was alive.
    owner: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress_seq: Mapped[int] = mapped_column(Integer, default=0)
    elapsed: Mapped[float | None] = mapped_column(Float)
    objective: Mapped[float | None] = mapped_column(Float)
    bound: Mapped[float | None] = mapped_column(Float)
    # The best rota so far in a coordinator's words (solver.options.Figures); the board shows
    # these while a solve runs, and the rota list once it is done.
    visits_staffed: Mapped[int | None] = mapped_column(Integer)
    travel_minutes: Mapped[float | None] = mapped_column(Float)
    carers_per_client: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # "solve", or "resolve": an absence's re-solve of the published rota (see api.absences).
    kind: Mapped[str] = mapped_column(String(16), default=SOLVE, server_default=SOLVE)
    absence_id: Mapped[str | None] = mapped_column(ForeignKey("absences.id"))
    resolve_now: Mapped[str | None] = mapped_column(String(19))  # local YYYY-MM-DDTHH:MM
    # A plan's start: the latest published week before it, moved on (contract JSON), which
    # the search begins from where it beats a fresh construction; None for other solves.
    start_rota: Mapped[str | None] = mapped_column(Text)
    # A scenario job's YAML as submitted, and the comparison it produced (JSON).
    scenario: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)


class RotaVersion(Base):
    """The rota a job produced (same id as the job). Written once, never updated."""

    __tablename__ = "rota_versions"

    id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    problem_id: Mapped[str] = mapped_column(ForeignKey("problems.id"))
    solver_status: Mapped[str] = mapped_column(String(16))
    objective: Mapped[float | None] = mapped_column(Float)
    best_bound: Mapped[float | None] = mapped_column(Float)
    # How the rota was obtained: "search" (the solve's answer) or "construction" (see jobs).
    source: Mapped[str] = mapped_column(String(16), default="search")
    check_ok: Mapped[bool] = mapped_column(Boolean)
    breaches: Mapped[int] = mapped_column(Integer, default=0)
    rota: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A re-solve's change list against the version it repaired (JSON), None for other rotas.
    changes: Mapped[str | None] = mapped_column(Text)


class Absence(Base):
    """A worker off from ``start`` to ``end`` (local wall-clock); overlapping ones are merged."""

    __tablename__ = "absences"
    __table_args__ = (Index("ix_absences_worker", "agency_id", "worker_id"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    worker_id: Mapped[str] = mapped_column(String(200))
    start: Mapped[str] = mapped_column(String(19))
    end: Mapped[str] = mapped_column(String(19))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when a later, overlapping absence absorbed this one: the survivor holds the union.
    merged_into: Mapped[str | None] = mapped_column(ForeignKey("absences.id"))


class CoverCount(Base):
    """How often a worker was asked to cover an absent colleague's visits in a month."""

    __tablename__ = "cover_counts"

    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    count: Mapped[int] = mapped_column(Integer, default=0)


class RunSheet(Base):
    """One worker's run sheet for one version (JSON), precomputed when the version is written."""

    __tablename__ = "run_sheets"

    version_id: Mapped[str] = mapped_column(ForeignKey("rota_versions.id"), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    body: Mapped[str] = mapped_column(Text)


class Publication(Base):
    """A version made the agency's rota for its period; appended on every publish."""

    __tablename__ = "publications"
    __table_args__ = (Index("ix_publications_period", "agency_id", "period_start", "period_end"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    version_id: Mapped[str] = mapped_column(ForeignKey("rota_versions.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Its problem's area: a publication is per agency, period and area.
    area: Mapped[str] = mapped_column(String(200), default="", server_default="")


class AccessLog(Base):
    """One read of health data: who (an API key or a carer link) read what, and when.

    ``action`` names what was read (a rota, a run sheet, a calendar...); ``object_id`` is the
    rota version; ``worker_id`` / ``client_id`` narrow it to one person where the read did.
    """

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_agency_at", "agency_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))  # "api_key" or "carer_link"
    actor_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    action: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    worker_id: Mapped[str | None] = mapped_column(String(200))
    client_id: Mapped[str | None] = mapped_column(String(200))


class CarerToken(Base):
    """A carer's link: opens one worker's run sheets and calendar in the agency's published rotas.

    A link belongs to the worker, not to a version, so it keeps working when a re-solve publishes
    a new version. ``version_id`` is the version it was made from, if any (that version opens
    with it even before it is published); ``key_id`` the API key that made it, so an agency can
    revoke everything a key minted.
    """

    __tablename__ = "carer_tokens"
    __table_args__ = (Index("ix_carer_tokens_worker", "agency_id", "worker_id"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    version_id: Mapped[str | None] = mapped_column(ForeignKey("rota_versions.id"))
    worker_id: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ---------------------------------------------------------------------------------------------
# Engines and sessions


def _use_wal(cursor: Any) -> None:
    # WAL is stored in the file, so only the first connection to a new database switches. The
    # switch needs the file to itself and SQLite does not always wait for it with the busy
    # handler: while another connection is open it can fail at once with "database is
    # locked". So read the mode first (a WAL file needs nothing more) and retry the switch.
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets the web process read while a solve process writes progress; the busy timeout
    # makes writers wait for each other instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # Autocommit at the driver: pysqlite's own transaction handling gets in the way. Write
    # engines issue BEGIN IMMEDIATE themselves (below).
    dbapi_connection.isolation_level = None


def make_engine(url: str, *, write: bool = False) -> Engine:
    """An engine for ``url``; on SQLite, a reading or a writing one.

    A SQLite transaction that reads and then writes fails at once ("database is locked") if
    another connection wrote in between, without waiting. Writing engines therefore take the
    write lock up front with ``BEGIN IMMEDIATE``. Reading engines run each statement on its own
    (autocommit): with WAL a reader never waits, and a request's reads need no shared snapshot
    (a job and its rota version are written in one transaction).
    """
    # A request holds one connection at a time, and FastAPI runs up to 40 requests at once.
    # hide_parameters: a failed statement's message must not carry a care plan or an address
    # into the logs.
    if not url.startswith("sqlite"):
        return create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=40, hide_parameters=True
        )
    engine = create_engine(
        url,
        hide_parameters=True,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=40 if not write else 5,
        max_overflow=20,
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    if write:

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """The engines and session factories of one database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.write_engine = make_engine(url, write=True) if url.startswith("sqlite") else None
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine or self.engine, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only (on SQLite each statement stands alone)."""
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not None:
            self.write_engine.dispose()


MIGRATIONS: Final = Path(__file__).parent / "migrations"


def migrate(url: str) -> None:
    """Bring the database at ``url`` up to the newest schema (Alembic ``upgrade head``)."""
    # Alembic announces every plugin at INFO; the service's own log says what matters.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config

    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    command.upgrade(config, "head")
