"""``/v1/rotas``: ask for a rota, watch it improve, fetch it, explain it, cancel it, publish it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access_log import logged
from api.db import (
    CANCELLED,
    DONE,
    FAILED,
    FINAL_STATES,
    QUEUED,
    SOLVING,
    Database,
    Job,
    RotaVersion,
    StoredProblem,
    new_id,
    utcnow,
)
from api.deps import AgencyDep, AgencyRef, DbDep, RunnerDep, SettingsDep
from api.errors import ApiError, ErrorBody, ErrorDetail, not_found
from api.jobs import JobRunner
from api.middleware import queues_job
from api.parsing import Limits, ReadRequest
from api.routers.common import (
    base_url,
    publish_version,
    refuse_if_full_now,
    submit,
)
from api.schemas import ExplanationOut, JobStatus, RotaOut, RotaPage, RotaSummary
from api.settings import Settings
from api.store import (
    ROTA_KINDS,
    job_row,
    one_summary,
    page,
    refuse_if_full,
    rota_url,
    summary,
)

log = logging.getLogger("carerota.api")

router = APIRouter(prefix="/rotas", tags=["rotas"])

EVENT_POLL_SECONDS: Final = 0.5
KEEPALIVE_SECONDS: Final = 15.0

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or unknown API key"},
    404: {"model": ErrorBody, "description": "no such rota in this agency"},
}


# The body is parsed by the endpoint, not by FastAPI: validating a large problem takes tens of
# milliseconds, and FastAPI would do it on the event loop, stalling every other request.
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RotaRequest"}}},
    }
}


@router.post(
    "",
    status_code=202,
    response_model=RotaSummary,
    summary="Ask for a rota",
    openapi_extra={**_BODY_DOC, **queues_job()},
    responses={
        **_ERRORS,
        413: {"model": ErrorBody, "description": "body over the size limit"},
        415: {"model": ErrorBody, "description": "the body is not application/json"},
        422: {
            "model": ErrorBody,
            "description": "invalid problem, or over a size or time limit; details name the field",
        },
        429: {"model": ErrorBody, "description": "the job queue is full; see Retry-After"},
        503: {"model": ErrorBody, "description": "the worker pool cannot be reached"},
    },
)
async def create_rota(
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    runner: RunnerDep,
    request: Request,
    response: Response,
) -> RotaSummary:
    """Queue a solve of ``problem`` (or of the ``parent`` rota's problem) and return at once.

    The body is a ``RotaRequest``. The answer's ``url`` is the rota's; poll it or stream its
    ``events`` to watch the solve.
    """
    media = request.headers.get("content-type", "application/json").partition(";")[0].strip()
    if media.lower() != "application/json":
        raise ApiError(415, f"send the request as application/json, not {media!r}")
    state = request.app.state
    # A full queue is refused before the body is even read, let alone validated. Submissions
    # still being read count as queued: a burst is refused at once instead of parsed first.
    await run_in_threadpool(refuse_if_full_now, db, settings, runner, state.admitting, agency.id)
    state.admitting += 1  # only the event loop's thread touches it
    try:
        raw = await request.body()
        # Reading is bounded by the body's size, and a large body is read in another process
        # (api/parsing.py); an agency's bodies are read one at a time, so its flood waits on
        # itself alone.
        limits = Limits(visits=settings.max_visits, workers=settings.max_workers)
        async with state.parsing.turn(agency.id):
            body = await state.readers.read(raw, limits)
        rota_id = await run_in_threadpool(_create, body, agency, db, settings, runner)
    finally:
        state.admitting -= 1
    base = base_url(request, settings.public_url)
    response.headers["Location"] = rota_url(base, rota_id)

    def view() -> RotaSummary:
        with db.read() as s:
            return one_summary(s, agency.id, rota_id, base)

    return await run_in_threadpool(view)


def _create(
    body: ReadRequest, agency: AgencyRef, db: Database, settings: Settings, runner: JobRunner
) -> str:
    options = body.options
    time_limit = options.time_limit or settings.default_time_limit
    if time_limit > settings.max_time_limit:
        raise ApiError(
            422,
            f"time_limit {time_limit:g} is over this service's limit of "
            f"{settings.max_time_limit:g} seconds",
            details=[ErrorDetail(loc="options.time_limit", message="over the service's limit")],
        )
    problem = body.problem
    with db.write() as s:
        # Checked again under the write lock: the queue may have filled while we parsed.
        refuse_if_full(
            s,
            settings.max_queued_jobs,
            runner.slots,
            agency_id=agency.id,
            agency_quota=settings.max_queued_jobs_per_agency,
        )
        problem_id = None
        if body.parent is not None:
            problem_id = s.scalar(
                select(Job.problem_id).where(
                    Job.id == body.parent, Job.agency_id == agency.id, Job.kind.in_(ROTA_KINDS)
                )
            )
            if problem_id is None:
                raise not_found("parent rota", body.parent)
        if problem is not None:
            stored = StoredProblem(
                id=new_id("problem"),
                agency_id=agency.id,
                name=problem.name,
                timezone=problem.timezone,
                period_start=problem.period_start,
                period_end=problem.period_end,
                visits=problem.visits,
                workers=problem.workers,
                body=problem.body,
                # A new version of an area's rota belongs to that area, as its parent does.
                area=_area_of(s, problem_id) if problem_id is not None else "",
            )
            s.add(stored)
            s.flush()  # no ORM relationships, so the insert order is ours to keep
            problem_id = stored.id
        assert problem_id is not None
        job = Job(
            id=new_id("rota"),
            agency_id=agency.id,
            problem_id=problem_id,
            parent_id=body.parent,
            status=QUEUED,
            time_limit=time_limit,
            seed=options.seed,
            method=options.method,
            attempts=0,
            cancel_requested=False,
            progress_seq=0,
        )
        s.add(job)
    submit(db, runner, job.id)
    return job.id


def _area_of(session: Session, problem_id: str) -> str:
    return session.scalar(select(StoredProblem.area).where(StoredProblem.id == problem_id)) or ""


@router.get("", response_model=RotaPage, summary="List rotas, newest first", responses=_ERRORS)
def list_rotas(
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: Annotated[str | None, Query(description="the 'next' of the previous page")] = None,
    status: Annotated[JobStatus | None, Query()] = None,
) -> RotaPage:
    """The agency's rotas, newest first, ``limit`` at a time; follow ``next`` for more."""
    with db.read() as session:
        rows, following = page(session, agency.id, limit=limit, cursor=cursor, status=status)
    base = base_url(request, settings.public_url)
    items = [summary(r, base) for r in rows]
    next_url = None
    if following is not None:
        next_url = str(request.url.include_query_params(cursor=following))
        if settings.public_url:
            next_url = base + next_url.removeprefix(str(request.base_url).rstrip("/"))
    return RotaPage(items=items, next=next_url)


@router.get(
    "/{rota_id}",
    openapi_extra=logged("rota"),
    response_model=None,
    summary="A rota: status, progress, and the rota once there is one",
    responses={**_ERRORS, 200: {"model": RotaOut}},
)
def get_rota(
    rota_id: str,
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    request: Request,
) -> Response:
    """The rota job with its progress; ``rota`` is the contract's rota when done or cancelled."""
    base = base_url(request, settings.public_url)
    with db.read() as session:
        row = job_row(session, agency.id, rota_id, with_rota=True)
    stored: str | None = row.rota
    head = summary(row, base).model_dump_json()
    # The stored rota is already JSON: splice it in rather than parse and re-encode it.
    content = head[:-1] + ',"rota":' + (stored if stored is not None else "null") + "}"
    return Response(content=content, media_type="application/json")


@router.get(
    "/{rota_id}/events",
    summary="The solve's progress as server-sent events",
    response_class=StreamingResponse,
    responses={
        **_ERRORS,
        200: {
            "content": {"text/event-stream": {}},
            "description": "events 'status' and 'progress' while solving, then one final event "
            "named after the final status ('done', 'failed' or 'cancelled') and the end",
        },
    },
)
async def rota_events(
    rota_id: str,
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    request: Request,
) -> StreamingResponse:
    """Each data line is the rota's summary as JSON; event ids follow the job's progress."""
    base = base_url(request, settings.public_url)
    agency_id = agency.id

    def load() -> RotaSummary:
        with db.read() as s:
            return one_summary(s, agency_id, rota_id, base)

    first = await run_in_threadpool(load)  # 404 before the stream starts

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        view: RotaSummary | None = first
        seen: tuple[str, float | None, float | None] | None = None
        idle = 0.0
        seq = 0
        while True:
            if view is None:
                view = await run_in_threadpool(load)
            key = (view.status, view.progress.objective, view.progress.elapsed)
            if key != seen:
                seen, idle = key, 0.0
                seq += 1
                name: str = view.status
                if view.status not in FINAL_STATES:
                    name = "progress" if view.progress.objective is not None else "status"
                data = view.model_dump_json()
                yield f"id: {seq}\nevent: {name}\ndata: {data}\n\n".encode()
                if view.status in FINAL_STATES:
                    return
            elif idle >= KEEPALIVE_SECONDS:
                idle = 0.0
                yield b": keep-alive\n\n"
            await asyncio.sleep(EVENT_POLL_SECONDS)
            idle += EVENT_POLL_SECONDS
            view = None

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.delete(
    "/{rota_id}",
    response_model=RotaSummary,
    summary="Cancel a solve, keeping a rota",
    responses={
        **_ERRORS,
        202: {"model": RotaSummary, "description": "the solve is being stopped"},
        409: {"model": ErrorBody, "description": "the solve already ended"},
    },
)
def cancel_rota(
    rota_id: str,
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> RotaSummary:
    """Stop a queued or running solve.

    A queued job ends ``cancelled`` at once (200). A running one is stopped within a second and
    ends ``cancelled`` with a rota kept (202 now; watch the rota or its events).
    """
    with db.write() as s:
        job = s.scalar(
            select(Job).where(
                Job.id == rota_id, Job.agency_id == agency.id, Job.kind.in_(ROTA_KINDS)
            )
        )
        if job is None:
            raise not_found("rota", rota_id)
        if job.status in (DONE, FAILED):
            raise ApiError(409, f"the rota is already {job.status}; there is nothing to cancel")
        if job.status == QUEUED:
            job.status, job.finished_at = CANCELLED, utcnow()
            job.cancel_requested = True
            job.note = "cancelled before it started"
            job.progress_seq += 1
        elif job.status == SOLVING:
            job.cancel_requested = True
            response.status_code = 202
    with db.read() as s:
        return one_summary(s, agency.id, rota_id, base_url(request, settings.public_url))


@router.get(
    "/{rota_id}/explain",
    openapi_extra=logged("explanation"),
    response_model=ExplanationOut,
    summary="The rota's objective by term",
    responses={**_ERRORS, 409: {"model": ErrorBody, "description": "no rota yet"}},
)
def explain_rota(rota_id: str, agency: AgencyDep, db: DbDep) -> Response:
    """The objective by term (largest first), the costliest clients for continuity, every
    unstaffed visit with its reason, and the independent checker's verdict."""
    with db.read() as session:
        text = session.scalar(
            select(RotaVersion.explanation).where(
                RotaVersion.id == rota_id, RotaVersion.agency_id == agency.id
            )
        )
        if text is None:
            row = job_row(session, agency.id, rota_id)  # 404 when not the agency's
            raise ApiError(409, f"the rota is {row.status}; there is nothing to explain yet")
    return Response(
        content=f'{{"id":{json.dumps(rota_id)},{text[1:]}', media_type="application/json"
    )


@router.post(
    "/{rota_id}/publish",
    response_model=RotaSummary,
    summary="Make this version the agency's published rota for its period",
    responses={**_ERRORS, 409: {"model": ErrorBody, "description": "no rota, or it breaks a rule"}},
)
def publish_rota(
    rota_id: str,
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    request: Request,
) -> RotaSummary:
    """Publish this version for its period (and area, for a plan of one area); it replaces the
    version published before for the same period and area.

    Versions never change: to change a published rota, ask for a new one with ``parent`` set to
    it, then publish that.
    """
    publish_version(db, agency.id, rota_id)
    with db.read() as s:
        return one_summary(s, agency.id, rota_id, base_url(request, settings.public_url))
