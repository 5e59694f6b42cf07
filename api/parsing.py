"""Reading a submitted rota request with work bounded by the body's size, never by its errors.

pydantic validates a whole document before it reports anything, and a problem of a million bad
visits took 30 s and 3 GB to answer (a 109 MB list of errors). So a body is read in three steps,
each refusing as early as it can:

1. JSON, by pydantic-core's parser (which refuses nesting deeper than its recursion limit).
2. A walk of the parsed document before any item is validated: nesting depth, keys per object,
   and each list's length against its limit (visits and workers: the service's settings).
3. Workers, clients and visits one at a time. Once ``MAX_ERRORS`` errors are known the rest are
   only counted. Only a problem whose items are all valid is validated whole, for its
   cross-references; its items are models by then, which pydantic does not validate again.

A body over ``Readers.threshold`` bytes is read in a separate process (a small pool, recycled
now and then), so its parsing never holds the web process's interpreter lock, which every other
request needs; the web process gets back the problem as JSON and the few facts it stores beside
it. Smaller bodies are read in a worker thread, where they take milliseconds.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import pydantic_core
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, TypeAdapter, ValidationError

from api.errors import ApiError, ErrorDetail, format_loc, validation_details
from api.schemas import RotaRequest, SolveOptionsIn
from solver.contract import Client, Visit, Worker, with_value

MAX_ERRORS: Final = 50  # errors listed in a 422; the rest are counted
MAX_DEPTH: Final = 32  # nesting of objects and lists (a problem needs six)
MAX_KEYS: Final = 64  # keys of one object (the widest contract object has 13 fields)
MAX_LIST: Final = 2_000  # items of a list with no limit of its own (skills, shifts, pins...)
MAX_HISTORY: Final = 200_000  # past visits of each kind in ``history``

_ITEMS: Final[tuple[tuple[str, TypeAdapter[Any]], ...]] = (
    ("workers", TypeAdapter(Worker)),
    ("clients", TypeAdapter(Client)),
    ("visits", TypeAdapter(Visit)),
)


class Turns:
    """One body read at a time per agency: an agency sending many large bodies waits for its own
    earlier ones, never another agency (it was one at a time for the whole service)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}

    @asynccontextmanager
    async def turn(self, agency_id: str) -> AsyncIterator[None]:
        """Wait for the agency's earlier reads (event loop only: nothing here is thread-safe)."""
        lock = self._locks.setdefault(agency_id, asyncio.Lock())
        self._waiting[agency_id] = self._waiting.get(agency_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[agency_id] -= 1
            if not self._waiting[agency_id]:
                del self._waiting[agency_id], self._locks[agency_id]


@dataclass(frozen=True)
class Limits:
    """The service's size limits on one problem."""

    visits: int
    workers: int


def _list_limit(path: tuple[str | int, ...], limits: Limits) -> tuple[int, str]:
    """The most items the list at ``path`` may hold, and what to call them in a message."""
    named = tuple(part for part in path if isinstance(part, str))
    if named == ("problem", "visits"):
        return limits.visits, "visits"
    if named == ("problem", "workers"):
        return limits.workers, "workers"
    if named == ("problem", "clients"):
        return limits.visits, "clients"
    if named[:2] == ("problem", "history"):
        return MAX_HISTORY, "past visits"
    if named[:2] == ("problem", "travel"):
        return limits.visits + limits.workers, "places"
    return MAX_LIST, "items"


def _over(path: tuple[str | int, ...], count: int, limit: int, what: str) -> ErrorDetail:
    setting = {"visits": "CAREROTA_MAX_VISITS", "workers": "CAREROTA_MAX_WORKERS"}.get(what)
    where = f" ({setting})" if setting is not None else ""
    if what == "clients":
        where = " (CAREROTA_MAX_VISITS: a client has a visit)"
    return ErrorDetail(
        loc=format_loc(path),
        message=f"{count} {what}, over this service's limit of {limit}{where}",
    )


def screen(data: Any, limits: Limits) -> None:
    """422 for a document too deep, too wide or too long anywhere, before any item of it is
    validated; the details name each place (up to ``MAX_ERRORS`` of them)."""
    found: list[ErrorDetail] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack and len(found) < MAX_ERRORS:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            found.append(ErrorDetail(loc=format_loc(path), message=f"nested over {MAX_DEPTH} deep"))
        elif isinstance(value, dict):
            if len(value) > MAX_KEYS:
                found.append(
                    ErrorDetail(
                        loc=format_loc(path),
                        message=f"{len(value)} fields; no object here has more than {MAX_KEYS}",
                    )
                )
            else:
                stack.extend((item, (*path, str(key))) for key, item in value.items())
        elif isinstance(value, list):
            limit, what = _list_limit(path, limits)
            if len(value) > limit:
                found.append(_over(path, len(value), limit, what))
            else:
                stack.extend((item, (*path, i)) for i, item in enumerate(value))
    if found:
        # The walk is depth first from the end; people read a document from its start.
        found.sort(key=lambda d: d.loc)
        raise _refusal(found, len(found))


def _refusal(details: list[ErrorDetail], total: int) -> ApiError:
    first = details[0]
    more = f" (and {total - 1} more)" if total > 1 else ""
    shown = list(details[:MAX_ERRORS])
    if total > len(shown):
        shown.append(
            ErrorDetail(loc="body", message=f"{total - len(shown)} more errors, not listed")
        )
    return ApiError(422, f"invalid request: {first.loc}: {first.message}{more}", details=shown)


def _item_errors(exc: ValidationError, prefix: tuple[str | int, ...]) -> list[ErrorDetail]:
    """One item's errors (a few: the walk bounded its lists) at their path in the request,
    each naming its value as the contract's own messages do."""
    named = [with_value(item) for item in exc.errors(include_url=False)]
    errors = ValidationError.from_exception_data(exc.title, named).errors(include_url=False)
    return validation_details([{**item, "loc": (*prefix, *item["loc"])} for item in errors])


def _validated_items(problem: dict[str, Any]) -> dict[str, list[BaseModel]]:
    """Workers, clients and visits as models, one at a time: 422 with the first ``MAX_ERRORS``
    errors and a count of the rest as soon as any is invalid."""
    details: list[ErrorDetail] = []
    total = 0
    models: dict[str, list[BaseModel]] = {}
    for field, adapter in _ITEMS:
        items = problem.get(field)
        if not isinstance(items, list):
            continue  # not a list: validating the problem whole says so, in one error
        valid: list[BaseModel] = []
        for i, item in enumerate(items):
            try:
                valid.append(adapter.validate_python(item))
            except ValidationError as exc:
                total += exc.error_count()
                if len(details) < MAX_ERRORS:
                    details.extend(_item_errors(exc, ("problem", field, i)))
        models[field] = valid
    if total:
        raise _refusal(details, total)
    return models


def read_rota_request(raw: bytes, limits: Limits) -> RotaRequest:
    """The body as a :class:`RotaRequest`, or a 422 naming the first bad fields."""
    try:
        data = pydantic_core.from_json(raw)
    except ValueError as exc:
        raise ApiError(
            422,
            "the request body is not valid JSON",
            code="invalid_json",
            details=[ErrorDetail(loc="body", message=f"not JSON: {exc}")],
        ) from None
    screen(data, limits)
    if isinstance(data, dict) and isinstance(data.get("problem"), dict):
        problem = data["problem"]
        data = {**data, "problem": {**problem, **_validated_items(problem)}}
    try:
        return RotaRequest.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        details = validation_details(errors)
        raise _refusal(details, len(details)) from None


@dataclass(frozen=True)
class ReadProblem:
    """What storing a problem needs: its JSON and the facts kept beside it."""

    name: str
    timezone: str
    period_start: date
    period_end: date
    visits: int
    workers: int
    body: str


@dataclass(frozen=True)
class ReadRequest:
    """A rota request read: its options, parent and problem (either may be None, not both)."""

    options: SolveOptionsIn
    parent: str | None
    problem: ReadProblem | None


def read_request(raw: bytes, limits: Limits) -> ReadRequest:
    """The body read (:func:`read_rota_request`), its problem as JSON; ApiError if it is bad."""
    body = read_rota_request(raw, limits)
    p = body.problem
    problem = None
    if p is not None:
        problem = ReadProblem(
            name=p.agency[:200],
            timezone=p.timezone,
            period_start=p.period.start,
            period_end=p.period.end,
            visits=len(p.visits),
            workers=len(p.workers),
            body=p.model_dump_json(exclude_none=True),
        )
    return ReadRequest(body.options, body.parent, problem)


@dataclass(frozen=True)
class _Refused:
    """An ApiError, as it crosses back from a reading process (plain data pickles)."""

    status: int
    code: str
    message: str
    details: list[dict[str, str]]


def _read_elsewhere(raw: bytes, limits: Limits) -> ReadRequest | _Refused:
    try:
        return read_request(raw, limits)
    except ApiError as exc:
        return _Refused(exc.status, exc.code, exc.message, [d.model_dump() for d in exc.details])


# Bodies up to this size are read in a thread: a few milliseconds, less than the trip to a
# process. Larger ones (the worst took seconds) go to the reading processes.
IN_PROCESS_BYTES: Final = 64 * 1024
# Each reading process is replaced after this many bodies, giving back what they made it grow to.
BODIES_PER_PROCESS: Final = 50


class Readers:
    """Where request bodies are read: a thread for small ones, a pool of processes (made on
    first use, from a fork server that has this module loaded) for large ones."""

    def __init__(self, processes: int, threshold: int = IN_PROCESS_BYTES) -> None:
        self.processes, self.threshold = processes, threshold
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Not fork: the web process has threads, and a fork copies their locks mid-use.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["api.parsing"])
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=context, max_tasks_per_child=BODIES_PER_PROCESS
            )
        return self._pool

    async def read(self, raw: bytes, limits: Limits) -> ReadRequest:
        """The body read, or the ApiError that refuses it."""
        if len(raw) <= self.threshold:
            return await run_in_threadpool(read_request, raw, limits)
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._executor(), _read_elsewhere, raw, limits)
        except BrokenProcessPool:
            # A reading process died (the machine out of memory): start afresh next time.
            self.close()
            raise ApiError(
                503, "the service could not read this body just now; try again"
            ) from None
        if isinstance(result, _Refused):
            raise ApiError(
                result.status,
                result.message,
                code=result.code,
                details=[ErrorDetail(**d) for d in result.details],
            )
        return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
