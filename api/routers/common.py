"""What several routers share: where the API is reached, the queue and size checks a job-creating
request passes, handing a job to the worker pool, and publishing a version."""

from __future__ import annotations

import logging

from fastapi import Request
from sqlalchemy import select, update

from api.db import FAILED, QUEUED, Database, Job, Publication, RotaVersion, StoredProblem, utcnow
from api.errors import ApiError, ErrorDetail
from api.jobs import JobRunner
from api.settings import Settings
from api.store import current_publications, job_row, refuse_if_full
from solver.contract import Problem

log = logging.getLogger("carerota.api")


def base_url(request: Request, public_url: str | None) -> str:
    """Where the API is reached: the configured public URL, or the request's own."""
    return (public_url or str(request.base_url)).rstrip("/")


def refuse_if_too_large(problem: Problem, settings: Settings, loc: str = "problem") -> None:
    """422 naming ``visits`` or ``workers`` when the problem is over this service's size limits.

    The body size limit alone lets through a problem a solve could not finish in its time limit
    or memory; a count is what a coordinator can act on.
    """
    details = [
        ErrorDetail(
            loc=f"{loc}.{name}",
            message=f"{count} {name}, over this service's limit of {limit} "
            f"(CAREROTA_MAX_{name.upper()})",
        )
        for name, count, limit in (
            ("visits", len(problem.visits), settings.max_visits),
            ("workers", len(problem.workers), settings.max_workers),
        )
        if count > limit
    ]
    if details:
        raise ApiError(
            422, f"invalid request: {details[0].loc}: {details[0].message}", details=details
        )


def refuse_if_full_now(
    db: Database, settings: Settings, runner: JobRunner, pending: int, agency_id: str | None = None
) -> None:
    """429 with Retry-After when the job queue is full, counting the ``pending`` submissions
    this process is still admitting, or when ``agency_id`` has its share of it queued already;
    checked before a job-creating request's body is read."""
    with db.read() as s:
        refuse_if_full(
            s,
            settings.max_queued_jobs,
            runner.slots,
            pending,
            agency_id=agency_id,
            agency_quota=settings.max_queued_jobs_per_agency,
        )


def submit(db: Database, runner: JobRunner, job_id: str) -> None:
    """Hand a queued job to the worker pool; if the pool cannot be reached, fail it and 503."""
    try:
        runner.submit(job_id)
    except Exception as exc:
        log.exception("could not hand job %s to the worker pool", job_id)
        with db.write() as s:
            s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == QUEUED)
                .values(
                    status=FAILED,
                    finished_at=utcnow(),
                    error=f"the worker pool could not be reached: {type(exc).__name__}",
                )
            )
        raise ApiError(503, "the worker pool cannot be reached; try again later") from exc


def publish_version(db: Database, agency_id: str, rota_id: str) -> None:
    """Make the finished rota ``rota_id`` the published one for its period and area (409 if it
    is not finished or breaks a rule; nothing changes if it is already the published one)."""
    with db.write() as s:
        row = s.execute(
            select(
                RotaVersion.check_ok,
                StoredProblem.period_start,
                StoredProblem.period_end,
                StoredProblem.area,
            )
            .join(StoredProblem, StoredProblem.id == RotaVersion.problem_id)
            .where(RotaVersion.id == rota_id, RotaVersion.agency_id == agency_id)
        ).one_or_none()
        if row is None:
            status = job_row(s, agency_id, rota_id).status  # 404 when not the agency's
            raise ApiError(409, f"the rota is {status}; only a finished rota can be published")
        if not row.check_ok:
            raise ApiError(409, "the rota breaks a hard rule (see explain); it cannot be published")
        # Per period and area: publishing one area's rota leaves another area's published.
        period = (row.period_start, row.period_end)
        current = current_publications(s, agency_id, {period}).get((*period, row.area))
        if current is not None and current.version_id == rota_id:
            return  # already the published version: publishing again changes nothing
        s.add(
            Publication(
                agency_id=agency_id,
                version_id=rota_id,
                period_start=row.period_start,
                period_end=row.period_end,
                area=row.area,
            )
        )
