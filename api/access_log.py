"""The access log: who read which health data, and when.

A rota, its explanation and change list, the problem it solved, a what-if variant, a run sheet
and a calendar all carry clients' addresses and care plans. Every successful read of one is
recorded in ``access_log``: the reader (an API key or a carer's link, by id), the agency, what
was read (``action``), the rota version (or what-if scenario), and the worker when the read is
about one carer.

What is logged is declared by each route (``openapi_extra=logged("rota")``);
:class:`AccessLogMiddleware` builds its table from the app's routes and records a read when a GET
of such a route answers 2xx, so a router needs no code of its own and a read that failed (401,
404, 409) is not counted as one. The credential dependencies in
:mod:`api.deps` say who is reading (``request.state.reader``).

Rows are written in batches by a thread of their own (:class:`AccessLogWriter`): a read only
appends to a list, and the database sees one insert every ``access_log_flush_interval`` seconds
rather than a write transaction per read, which on SQLite would queue every read behind the solve
processes' writes. The price: rows still in the batch when the process is killed are lost (at
most one interval's worth); a clean shutdown writes them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.db import ID_LENGTH, AccessLog, Agency, Database, utcnow
from api.errors import ApiError
from api.middleware import declared
from api.store import decode_cursor, encode_cursor

log = logging.getLogger("carerota.access")

ActorKind = Literal["api_key", "carer_link"]

# The key of a route's ``openapi_extra`` that says a 2xx GET of it reads health data, and the
# action recorded (the OpenAPI document shows it as a vendor extension). What was read is the
# path's ``rota_id`` (else ``scenario_id``, ``client_id``, ``package_id``); ``worker_id``, when
# there, names the carer. Routes with an id that do not declare it answer without health data
# (summaries, progress, comparisons' numbers); tests/api/test_api_access_log.py lists those, so
# a new route must be put in one or the other.
LOGGED: Final = "x-access-log"


def logged(action: str) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose successful GET is recorded as ``action``."""
    return {LOGGED: action}


def logged_routes(routes: Iterable[BaseRoute]) -> dict[str, str]:
    """Path -> action of every GET route among ``routes`` that declares itself logged."""
    return {
        path: str(action) for path, methods, action in declared(routes, LOGGED) if "GET" in methods
    }


# Rows kept for a retry while the database cannot be written; beyond this the oldest are dropped
# (and the drop is logged) rather than letting memory grow without end.
MAX_PENDING: Final = 100_000


@dataclass(frozen=True)
class Reader:
    """Who reads: an agency's API key or a carer's link, by its id (never the secret)."""

    agency_id: str
    kind: ActorKind
    id: str


@dataclass(frozen=True)
class Entry:
    """One read, as it becomes a row of ``access_log``."""

    agency_id: str
    at: datetime
    actor_kind: str
    actor_id: str
    action: str
    object_id: str
    worker_id: str | None = None
    client_id: str | None = None


class AccessLogWriter:
    """Access log rows, batched in memory and written by a thread of its own."""

    def __init__(self, db: Database, interval: float) -> None:
        self.db, self.interval = db, interval
        self._pending: list[Entry] = []
        self._lock = threading.Lock()
        # Held for a whole flush, so a caller of flush() returns only once everything added
        # before the call is in the database, even while the thread is halfway through a batch.
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(
        self,
        reader: Reader,
        action: str,
        object_id: str,
        *,
        worker_id: str | None = None,
        client_id: str | None = None,
    ) -> None:
        """Add one read to the next batch (no I/O: safe on the event loop)."""
        entry = Entry(
            reader.agency_id,
            utcnow(),
            reader.kind,
            reader.id,
            action,
            object_id,
            worker_id,
            client_id,
        )
        with self._lock:
            self._pending.append(entry)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        """Write every row added so far."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                self._insert(batch)
            except SQLAlchemyError:
                log.exception("could not write %d access log rows; will retry", len(batch))
                with self._lock:
                    self._pending = batch + self._pending
                    dropped = len(self._pending) - MAX_PENDING
                    if dropped > 0:
                        del self._pending[:dropped]
                        log.error("dropped %d access log rows: the database is down", dropped)

    def _insert(self, batch: list[Entry]) -> None:
        rows = [asdict(e) for e in batch]
        try:
            with self.db.write() as s:
                s.execute(insert(AccessLog), rows)
        except IntegrityError:
            # An agency erased while its reads waited here: its rows go with it.
            with self.db.write() as s:
                agencies = {r["agency_id"] for r in rows}
                alive = set(s.scalars(select(Agency.id).where(Agency.id.in_(agencies))))
                kept = [r for r in rows if r["agency_id"] in alive]
                if kept:
                    s.execute(insert(AccessLog), kept)


@dataclass(frozen=True)
class AccessFilter:
    """Which entries to list."""

    since: datetime | None = None
    until: datetime | None = None
    worker: str | None = None
    client: str | None = None
    action: str | None = None


def entries(
    db: Database, agency_id: str, where: AccessFilter, limit: int, cursor: str | None
) -> tuple[list[AccessLog], str | None]:
    """The agency's entries matching ``where``, newest first, and the cursor of the next page."""
    query = select(AccessLog).where(AccessLog.agency_id == agency_id)
    if where.since is not None:
        query = query.where(AccessLog.at >= where.since)
    if where.until is not None:
        query = query.where(AccessLog.at < where.until)
    if where.worker is not None:
        query = query.where(AccessLog.worker_id == where.worker)
    if where.client is not None:
        query = query.where(AccessLog.client_id == where.client)
    if where.action is not None:
        query = query.where(AccessLog.action == where.action)
    if cursor is not None:
        at, last = decode_cursor(cursor)
        if not last.isdigit():
            raise ApiError(422, "invalid cursor: use the 'next' link of the previous page")
        query = query.where(
            or_(AccessLog.at < at, and_(AccessLog.at == at, AccessLog.id < int(last)))
        )
    with db.read() as s:
        rows = list(
            s.scalars(query.order_by(AccessLog.at.desc(), AccessLog.id.desc()).limit(limit + 1))
        )
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        following = encode_cursor(rows[-1].at, str(rows[-1].id))
    return rows, following


class AccessLogMiddleware:
    """ASGI middleware: records a 2xx GET of a logged route (``actions``: path -> action, from
    :func:`logged_routes`) in the access log."""

    def __init__(self, app: ASGIApp, writer: AccessLogWriter, actions: Mapping[str, str]) -> None:
        self.app = app
        self.writer = writer
        # Matched against the request's own path, not the router's idea of the route: how
        # FastAPI exposes the matched route differs from version to version.
        self.patterns = [(compile_path(path)[0], action) for path, action in actions.items()]

    def logged_read(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The action and path parameters of a GET of ``path`` that is logged, else None."""
        for pattern, action in self.patterns:
            match = pattern.match(path)
            if match is not None:
                return action, match.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        read = self.logged_read(scope["path"])
        if read is None:
            await self.app(scope, receive, send)
            return

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                self._record(scope, *read)
            await send(message)

        await self.app(scope, receive, recording_send)

    def _record(self, scope: Scope, action: str, params: dict[str, str]) -> None:
        # The credential dependency has said who is reading by the time the response starts.
        reader = scope.get("state", {}).get("reader")
        if not isinstance(reader, Reader):
            # A logged route without a credential dependency would be a bug: say so loudly.
            log.error("no reader for a read of %s; access not logged", scope["path"])
            return
        # A carer's current run spans versions: its route names the one it read first. A
        # client's or package's record is named by its own id (cut to the column's width).
        record = params.get("client_id") or params.get("package_id")
        object_id = (
            params.get("rota_id")
            or params.get("scenario_id")
            or (record[:ID_LENGTH] if record else None)
            or str(scope.get("state", {}).get("read_object", "-"))
        )
        self.writer.record(
            reader,
            action,
            object_id,
            worker_id=params.get("worker_id"),
            client_id=params.get("client_id"),
        )
