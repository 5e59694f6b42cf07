"""``/v1/plans``: plan a week from the agency's records, solved as a rota job.

``POST /v1/plans {"week": "2027-01-04", "area": "North"}`` builds the week's problem from the
stored records (:func:`scenarios.planning.week_problem`: packages expanded, availability less
leave, history from the published rotas before the week, other areas' published visits kept
free), stores it, and queues its solve exactly as ``POST /v1/rotas`` does: 202, a ``Location``
at ``/v1/rotas/{id}``, and from then on an ordinary rota. ``GET /v1/plans/{rota_id}/problem``
hands back the problem the optimiser saw.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from api import records as store
from api.access_log import logged
from api.db import QUEUED, Database, Job, StoredProblem, new_id
from api.deps import AgencyDep, AgencyRef, DbDep, RunnerDep, SettingsDep
from api.errors import ApiError, ErrorBody, ErrorDetail, not_found, validation_details
from api.routers.common import (
    base_url,
    refuse_if_full_now,
    refuse_if_too_large,
    submit,
)
from api.schemas import RotaSummary, SolveOptionsIn
from api.settings import Settings
from api.store import ROTA_KINDS, one_summary, refuse_if_full, rota_url
from scenarios.planning import HISTORY_DAYS, rolled_forward, week_problem
from solver.contract import Problem, Rota, Weights

router = APIRouter(prefix="/plans", tags=["plans"])


class PlanRequest(BaseModel):
    """A week to plan from the records."""

    model_config = ConfigDict(extra="forbid")

    # Bounded so the history before it and the week after it are dates too (date.min less the
    # history window was a 500).
    week: date = Field(
        ge=date(1900, 1, 1),
        le=date(9999, 12, 1),
        description="the week's first day (YYYY-MM-DD); the plan covers 7 days",
    )
    area: str | None = Field(
        default=None, description="plan this area's clients only; the whole agency when omitted"
    )
    timezone: str = Field(default="Europe/London", description="the agency's IANA time zone")
    options: SolveOptionsIn = Field(default_factory=SolveOptionsIn)
    weights: Weights | None = Field(default=None, description="the objective's weights")
    roll: bool = Field(
        default=True,
        description="start from the latest published week before this one (at most four weeks "
        "back) that covers the area, moved on, so clients keep their carers where they still "
        "can; false plans afresh",
    )


class PlanOut(RotaSummary):
    area: str | None = Field(description="the area planned, or null for the whole agency")
    problem_url: str = Field(description="where to download the problem the plan built")
    build_seconds: float = Field(description="seconds taken to build the problem from records")


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or unknown API key"},
    422: {
        "model": ErrorBody,
        "description": "invalid request, or the records make no valid week (details say where)",
    },
    429: {"model": ErrorBody, "description": "the job queue is full; see Retry-After"},
    503: {"model": ErrorBody, "description": "the worker pool cannot be reached"},
}


def build(
    db: Database, agency: AgencyRef, request: PlanRequest
) -> tuple[Problem, str | None, float]:
    """The week's problem from the agency's records, validated; the rota its search starts
    from (JSON, with ``roll``: the latest published week before it, moved on), or None; and the
    seconds it took."""
    began = time.perf_counter()
    until = request.week + timedelta(days=7)
    since = request.week - timedelta(days=HISTORY_DAYS)
    with db.read() as s:
        records = store.book(s, agency.id).records(store.history(s, agency.id, since, until))
        published = store.published(s, agency.id, since, until - timedelta(days=1))
        absent = store.absences(s, agency.id, request.week, until - timedelta(days=1))
    if request.area is not None and not any(c.area == request.area for c in records.clients):
        raise ApiError(
            422,
            f"invalid request: area: no client is in area {request.area!r}",
            details=[ErrorDetail(loc="area", message=f"no client is in area {request.area!r}")],
        )
    body = week_problem(
        records,
        request.week,
        agency=agency.name,
        timezone=request.timezone,
        area=request.area,
        published=published,
        absences=absent,
        weights=request.weights.model_dump() if request.weights is not None else None,
    )
    if not body["visits"]:
        raise ApiError(
            422,
            f"invalid request: week: no care package runs in the week of {request.week}",
            details=[ErrorDetail(loc="week", message="no care package runs in this week")],
        )
    try:
        problem = Problem.model_validate(body)
    except ValidationError as exc:
        details = [
            ErrorDetail(loc=f"problem.{d.loc}", message=d.message)
            for d in validation_details(exc.errors(include_url=False))
        ]
        raise ApiError(
            422,
            f"the records make no valid week: {details[0].loc}: {details[0].message}",
            details=details,
        ) from None
    start = rolled_forward(published, request.week, request.area) if request.roll else None
    rolled = None if start is None else Rota.model_validate(start).model_dump_json()
    return problem, rolled, time.perf_counter() - began


def create_plan_job(
    db: Database,
    settings: Settings,
    agency_id: str,
    problem: Problem,
    options: SolveOptionsIn,
    area: str | None,
    slots: int,
    start: str | None = None,
) -> str:
    """Store the problem and its solve as a queued rota job; the job's id (hand it to the
    worker pool with :func:`api.routers.common.submit`)."""
    time_limit = options.time_limit or settings.default_time_limit
    if time_limit > settings.max_time_limit:
        raise ApiError(
            422,
            f"time_limit {time_limit:g} is over this service's limit of "
            f"{settings.max_time_limit:g} seconds",
            details=[ErrorDetail(loc="options.time_limit", message="over the service's limit")],
        )
    refuse_if_too_large(problem, settings, loc="problem")
    with db.write() as s:
        refuse_if_full(
            s,
            settings.max_queued_jobs,
            slots,
            agency_id=agency_id,
            agency_quota=settings.max_queued_jobs_per_agency,
        )
        stored = StoredProblem(
            id=new_id("problem"),
            agency_id=agency_id,
            name=problem.agency[:200],
            timezone=problem.timezone,
            period_start=problem.period.start,
            period_end=problem.period.end,
            visits=len(problem.visits),
            workers=len(problem.workers),
            body=problem.model_dump_json(exclude_none=True),
            area=area or "",
        )
        s.add(stored)
        s.flush()
        job = Job(
            id=new_id("rota"),
            agency_id=agency_id,
            problem_id=stored.id,
            status=QUEUED,
            time_limit=time_limit,
            seed=options.seed,
            method=options.method,
            attempts=0,
            cancel_requested=False,
            progress_seq=0,
            start_rota=start,
        )
        s.add(job)
    return job.id


@router.post(
    "",
    status_code=202,
    response_model=PlanOut,
    summary="Plan a week from the records: build its problem and solve it as a rota",
    responses=_ERRORS,
)
async def create_plan(
    body: PlanRequest,
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    runner: RunnerDep,
    request: Request,
    response: Response,
) -> PlanOut:
    """Queue the week's rota; the answer is the rota's summary (follow ``url``)."""
    await run_in_threadpool(
        refuse_if_full_now, db, settings, runner, request.app.state.admitting, agency.id
    )

    def run() -> tuple[str, float]:
        problem, start, seconds = build(db, agency, body)
        job_id = create_plan_job(
            db, settings, agency.id, problem, body.options, body.area, runner.slots, start
        )
        submit(db, runner, job_id)
        return job_id, seconds

    rota_id, seconds = await run_in_threadpool(run)
    base = base_url(request, settings.public_url)
    response.headers["Location"] = rota_url(base, rota_id)

    def view() -> PlanOut:
        with db.read() as s:
            summary = one_summary(s, agency.id, rota_id, base)
        return PlanOut(
            **summary.model_dump(),
            area=body.area,
            problem_url=f"{base}/v1/plans/{rota_id}/problem",
            build_seconds=round(seconds, 4),
        )

    return await run_in_threadpool(view)


@router.get(
    "/{rota_id}/problem",
    openapi_extra=logged("problem"),
    summary="The problem a rota solved, as the optimiser saw it (contract JSON)",
    responses={
        401: {"model": ErrorBody, "description": "missing or unknown API key"},
        404: {"model": ErrorBody, "description": "no such rota in this agency"},
        200: {"content": {"application/json": {}}, "description": "the contract's problem"},
    },
)
def plan_problem(rota_id: str, agency: AgencyDep, db: DbDep) -> Response:
    """Any rota's problem, a planned week's included: everything the optimiser saw."""
    with db.read() as s:
        body = s.scalar(
            select(StoredProblem.body)
            .join(Job, Job.problem_id == StoredProblem.id)
            .where(Job.id == rota_id, Job.agency_id == agency.id, Job.kind.in_(ROTA_KINDS))
        )
    if body is None:
        raise not_found("rota", rota_id)
    return Response(
        content=body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{rota_id}-problem.json"'},
    )
