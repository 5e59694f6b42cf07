"""Absences: a carer rings in sick, and every published rota it touches is re-solved at once.

``POST /v1/absences`` stores the absence (merged with any overlapping one of the same worker),
and queues one re-solve per published rota whose period it overlaps. Each re-solve repairs the
version published when it starts, publishes its answer, counts who was asked to cover, and calls
the agency's webhook with the change list (``GET /v1/rotas/{id}/changes`` gives it too).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field
from sqlalchemy import and_, or_, select, update

from api import webhook_rules
from api.access_log import logged
from api.db import (
    QUEUED,
    RESOLVE,
    Absence,
    Agency,
    CoverCount,
    Database,
    Job,
    Publication,
    RotaVersion,
    StoredProblem,
    new_id,
    utcnow,
)
from api.deps import AgencyDep, DbDep, RunnerDep, SettingsDep
from api.errors import ApiError, ErrorBody, ErrorDetail
from api.middleware import queues_job
from api.routers.common import base_url, submit
from api.store import (
    current_publications,
    decode_cursor,
    encode_cursor,
    job_row,
    refuse_if_full,
    rota_url,
)
from solver.changes import ChangeList, changes
from solver.contract import LocalDateTime, Problem, Rota, format_local_datetime
from solver.resolve import Absence as AbsenceAsked
from solver.resolve import AbsenceRefused, admit_absence, check_order, unknown_worker

log = logging.getLogger("carerota.absences")

router = APIRouter(tags=["absences"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or unknown API key"},
    404: {"model": ErrorBody, "description": "not this agency's, or unknown"},
}


class AbsenceIn(BaseModel):
    """A worker off from ``start`` to ``end`` (the agency's local wall-clock time)."""

    model_config = ConfigDict(extra="forbid")

    worker: str = Field(min_length=1, description="the absent worker's id")
    start: LocalDateTime
    end: LocalDateTime
    reason: str = Field(default="", max_length=500, description="sick, leave...")
    now: LocalDateTime | None = Field(
        default=None,
        description="visits started before this are frozen; default: the agency's time now",
    )
    time_limit: float | None = Field(
        default=None, gt=0, le=120, description="seconds per re-solve; the service's default"
    )


class AbsenceOut(BaseModel):
    id: str
    worker: str
    start: str
    end: str
    reason: str
    merged: list[str] = Field(description="earlier absences of the worker this one absorbed")


class AbsencePage(BaseModel):
    items: list[AbsenceOut]
    next: str | None = Field(description="URL of the next page, if any")


class ResolveOut(BaseModel):
    id: str = Field(description="the re-solve's rota id")
    url: str
    repairs: str = Field(description="the published rota it starts from")
    period: dict[str, date]


class AbsenceCreated(BaseModel):
    absence: AbsenceOut
    resolves: list[ResolveOut]
    notes: list[str] = Field(
        default_factory=list,
        description="what the office should know, e.g. an absence that started before now "
        "applies from now",
    )


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl | None = Field(
        description="called with each re-solve's change list; null: none"
    )


class WebhookOut(BaseModel):
    url: str | None


class WebhookSet(WebhookOut):
    secret: str | None = Field(
        description="the key of each call's HMAC-SHA256 signature; shown only now"
    )
    signature_header: str | None = Field(description="the header that carries the signature")


def _overlapping(
    db: Database, agency_id: str, start: datetime, end: datetime
) -> list[tuple[str, str, Problem]]:
    """(version, problem id, problem) of each published rota whose period the absence touches."""
    with db.read() as s:
        periods = {
            (r.period_start, r.period_end)
            for r in s.execute(
                select(Publication.period_start, Publication.period_end).where(
                    Publication.agency_id == agency_id,
                    Publication.period_start <= end.date(),
                    Publication.period_end >= start.date(),
                )
            )
        }
        out = []
        for _, pub in sorted(current_publications(s, agency_id, periods).items()):
            row = s.execute(
                select(RotaVersion.problem_id, StoredProblem.body)
                .join(StoredProblem, StoredProblem.id == RotaVersion.problem_id)
                .where(RotaVersion.id == pub.version_id)
            ).one()
            out.append((pub.version_id, row.problem_id, Problem.model_validate_json(row.body)))
    return out


def _merge(db_session: Any, agency_id: str, body: AbsenceIn) -> tuple[Absence, list[str]]:
    """Store the absence, absorbing the worker's overlapping or touching ones."""
    rows = db_session.scalars(
        select(Absence).where(
            Absence.agency_id == agency_id,
            Absence.worker_id == body.worker,
            Absence.merged_into.is_(None),
        )
    ).all()
    start, end, reasons = body.start, body.end, [body.reason] if body.reason else []
    absorbed = []
    for row in sorted(rows, key=lambda r: r.start):
        a0, a1 = datetime.fromisoformat(row.start), datetime.fromisoformat(row.end)
        if a0 <= end and start <= a1:
            start, end = min(start, a0), max(end, a1)
            if row.reason and row.reason not in reasons:
                reasons.insert(0, row.reason)
            absorbed.append(row)
    now = utcnow()
    merged = Absence(
        id=new_id("absence"),
        agency_id=agency_id,
        worker_id=body.worker,
        start=format_local_datetime(start),
        end=format_local_datetime(end),
        reason="; ".join(reasons),
        created_at=now,
        updated_at=now,
    )
    db_session.add(merged)
    db_session.flush()
    for row in absorbed:
        row.merged_into = merged.id
        row.updated_at = now
    return merged, [row.id for row in absorbed]


@router.post(
    "/absences",
    openapi_extra=queues_job(),
    status_code=202,
    response_model=AbsenceCreated,
    summary="Record an absence and re-solve the published rotas it touches",
    responses={
        **_ERRORS,
        409: {"model": ErrorBody, "description": "no published rota overlaps the absence"},
        422: {"model": ErrorBody, "description": "invalid absence; details name the field"},
        429: {"model": ErrorBody, "description": "the queue, or the agency's share, is full"},
    },
)
def create_absence(
    body: AbsenceIn,
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    runner: RunnerDep,
    request: Request,
    response: Response,
) -> AbsenceCreated:
    """Store the absence and queue a re-solve of every published rota it overlaps.

    Each re-solve freezes visits started before ``now``, gives the worker nothing inside the
    absence, changes as little else as it can, publishes its rota, and calls the webhook.
    """
    asked = AbsenceAsked(body.worker, body.start, body.end, body.reason)
    try:
        check_order(asked)
        versions = _overlapping(db, agency.id, body.start, body.end)
        if not versions:
            raise ApiError(
                409,
                f"the absence ({format_local_datetime(body.start)} to "
                f"{format_local_datetime(body.end)}) is outside the period of every published "
                "rota: no published rota overlaps it; publish the period's rota first",
            )
        versions = [v for v in versions if any(w.id == body.worker for w in v[2].workers)]
        if not versions:
            raise unknown_worker(body.worker)
        # The same refusals and note as the command line's, against each rota's own clock.
        notes, admitted, refusal = [], [], None
        for version in versions:
            try:
                _, note = admit_absence(version[2], asked, body.now or _local_now(version[2]))
            except AbsenceRefused as exc:
                refusal = refusal or exc
                continue
            admitted.append(version)
            notes += [note] if note and note not in notes else []
        if not admitted:
            assert refusal is not None
            raise refusal
    except AbsenceRefused as exc:
        status = 404 if exc.field == "worker" else 422
        raise ApiError(
            status, str(exc), details=[ErrorDetail(loc=exc.field, message=str(exc))]
        ) from None
    versions = admitted
    time_limit = body.time_limit or settings.resolve_time_limit
    jobs = []
    with db.write() as s:
        # Re-solves are jobs like any other: they wait in the same queue, within the same
        # shares (nothing is stored when they do not fit, so the absence can be sent again).
        refuse_if_full(
            s,
            settings.max_queued_jobs,
            runner.slots,
            len(versions) - 1,
            agency_id=agency.id,
            agency_quota=settings.max_queued_jobs_per_agency,
        )
        absence, absorbed = _merge(s, agency.id, body)
        for version_id, problem_id, problem in versions:
            now = body.now or _local_now(problem)
            job = Job(
                id=new_id("rota"),
                agency_id=agency.id,
                problem_id=problem_id,
                parent_id=version_id,
                status=QUEUED,
                time_limit=time_limit,
                seed=0,
                method="cpsat",
                attempts=0,
                cancel_requested=False,
                progress_seq=0,
                kind=RESOLVE,
                absence_id=absence.id,
                resolve_now=format_local_datetime(now),
            )
            s.add(job)
            jobs.append((job.id, version_id, problem))
    base = base_url(request, settings.public_url)
    for job_id, _, _ in jobs:
        submit(db, runner, job_id)
    response.headers["Location"] = f"{base}/v1/absences/{absence.id}"
    return AbsenceCreated(
        absence=_out(absence, absorbed),
        notes=notes,
        resolves=[
            ResolveOut(
                id=job_id,
                url=rota_url(base, job_id),
                repairs=version_id,
                period={"start": problem.period.start, "end": problem.period.end},
            )
            for job_id, version_id, problem in jobs
        ],
    )


def _local_now(problem: Problem) -> datetime:
    """The agency's wall-clock time now, to the minute."""
    return datetime.now(problem.zone).replace(tzinfo=None, second=0, microsecond=0)


def _out(a: Absence, absorbed: list[str]) -> AbsenceOut:
    return AbsenceOut(
        id=a.id, worker=a.worker_id, start=a.start, end=a.end, reason=a.reason, merged=absorbed
    )


@router.get(
    "/absences",
    response_model=AbsencePage,
    summary="The agency's absences by start (merged ones once, as their union), paged",
    responses=_ERRORS,
)
def list_absences(
    agency: AgencyDep,
    db: DbDep,
    request: Request,
    worker: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="the 'next' of the previous page")] = None,
) -> AbsencePage:
    """Earliest first, ``limit`` at a time; follow ``next`` for more."""
    with db.read() as s:
        query = select(Absence).where(Absence.agency_id == agency.id, Absence.merged_into.is_(None))
        if worker is not None:
            query = query.where(Absence.worker_id == worker)
        if cursor is not None:
            at, last = decode_cursor(cursor)
            start = format_local_datetime(at.replace(tzinfo=None))
            query = query.where(
                or_(Absence.start > start, and_(Absence.start == start, Absence.id > last))
            )
        rows = list(s.scalars(query.order_by(Absence.start, Absence.id).limit(limit + 1)))
        following = None
        if len(rows) > limit:
            rows = rows[:limit]
            mark = encode_cursor(datetime.fromisoformat(rows[-1].start), rows[-1].id)
            following = str(request.url.include_query_params(cursor=mark))
        absorbed: dict[str, list[str]] = {}
        for r in s.scalars(
            select(Absence).where(
                Absence.agency_id == agency.id,
                Absence.merged_into.in_([row.id for row in rows]),
            )
        ):
            absorbed.setdefault(str(r.merged_into), []).append(r.id)
        return AbsencePage(items=[_out(r, absorbed.get(r.id, [])) for r in rows], next=following)


@router.get(
    "/rotas/{rota_id}/changes",
    openapi_extra=logged("changes"),
    response_model=ChangeList,
    summary="What changed against the rota this one was made from, and who must be told",
    responses={**_ERRORS, 409: {"model": ErrorBody, "description": "no rota, or no parent"}},
)
def rota_changes(rota_id: str, agency: AgencyDep, db: DbDep) -> ChangeList:
    """The change list: unstaffed visits first, then each changed visit, then the messages."""
    with db.read() as s:
        job = job_row(s, agency.id, rota_id)  # 404 when not the agency's
        row = s.execute(
            select(RotaVersion.changes, RotaVersion.rota, StoredProblem.body)
            .join(StoredProblem, StoredProblem.id == RotaVersion.problem_id)
            .where(RotaVersion.id == rota_id)
        ).one_or_none()
        if row is None:
            raise ApiError(409, f"the rota is {job.status}; it has no version yet")
        if row.changes is not None:
            return ChangeList.model_validate_json(row.changes)
        parent = s.scalar(select(Job.parent_id).where(Job.id == rota_id))
        before = (
            s.scalar(select(RotaVersion.rota).where(RotaVersion.id == parent))
            if parent is not None
            else None
        )
    if before is None:
        raise ApiError(409, "this rota was not made from an earlier version; nothing to compare")
    return changes(
        Rota.model_validate_json(before),
        Rota.model_validate_json(row.rota),
        Problem.model_validate_json(row.body),
    )


@router.put(
    "/webhook",
    response_model=WebhookSet,
    summary="Set (or clear) the URL called when an absence's re-solve finishes",
    responses={
        **_ERRORS,
        422: {"model": ErrorBody, "description": "a URL the service will not call, and why"},
    },
)
def set_webhook(body: WebhookIn, agency: AgencyDep, db: DbDep, settings: SettingsDep) -> WebhookSet:
    """Each call is signed with a new secret, shown here once (``Carerota-Signature``; see
    SECURITY.md); setting the URL again makes a new one. The URL must be https and reach a
    public address (checked now, by resolving its name, and again at every call)."""
    url = str(body.url) if body.url is not None else None
    secret = None
    if url is not None:
        try:
            webhook_rules.check(url, allow_insecure=settings.webhook_allow_insecure)
        except webhook_rules.UnsafeWebhook as exc:
            raise ApiError(
                422,
                f"invalid request: url: {exc}",
                details=[ErrorDetail(loc="url", message=str(exc))],
            ) from None
        secret = webhook_rules.new_secret()
    with db.write() as s:
        s.execute(
            update(Agency)
            .where(Agency.id == agency.id)
            .values(webhook_url=url, webhook_secret=secret)
        )
    return WebhookSet(
        url=url,
        secret=secret,
        signature_header=webhook_rules.SIGNATURE_HEADER if secret is not None else None,
    )


@router.get(
    "/webhook", response_model=WebhookOut, summary="The agency's webhook", responses=_ERRORS
)
def get_webhook(agency: AgencyDep, db: DbDep) -> WebhookOut:
    with db.read() as s:
        return WebhookOut(url=s.scalar(select(Agency.webhook_url).where(Agency.id == agency.id)))


@router.get(
    "/cover-counts",
    response_model=dict[str, int],
    summary="How often each worker was asked to cover in a month (re-solves count them)",
    responses=_ERRORS,
)
def cover_counts(
    agency: AgencyDep, db: DbDep, month: str = Query(pattern=r"^\d{4}-\d{2}$")
) -> dict[str, int]:
    with db.read() as s:
        return {
            r.worker_id: r.count
            for r in s.scalars(
                select(CoverCount)
                .where(CoverCount.agency_id == agency.id, CoverCount.month == month)
                .order_by(CoverCount.worker_id)
            )
        }
