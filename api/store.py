"""Reading and writing rotas for the routers: always within one agency.

Every query here takes the caller's ``agency_id`` and filters on it, so an id of another agency
behaves exactly like an id that does not exist (404, never 403).
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.orm import Session

from api.db import (
    QUEUED,
    RESOLVE,
    SCENARIO,
    SOLVE,
    SOLVING,
    Agency,
    ApiKey,
    Database,
    Job,
    Publication,
    RotaVersion,
    StoredProblem,
    new_id,
    utcnow,
)
from api.errors import ApiError, not_found
from api.schemas import (
    CheckOut,
    PeriodOut,
    Progress,
    RotaSummary,
    ScenarioSummary,
    SolveOptionsIn,
)
from api.security import API_KEY_PREFIX, digest, new_secret

# Jobs that make rotas. Every rota query filters on this: a what-if scenario is a job too, but
# never a rota (it has no version to read, publish or hand to carers).
ROTA_KINDS = (SOLVE, RESOLVE)

# The columns a summary needs: never the problem's or the rota's body.
_SUMMARY_COLUMNS = (
    Job.id,
    Job.status,
    Job.created_at,
    Job.started_at,
    Job.finished_at,
    Job.time_limit,
    Job.seed,
    Job.method,
    Job.attempts,
    Job.cancel_requested,
    Job.error,
    Job.note,
    Job.parent_id,
    Job.elapsed,
    Job.objective,
    Job.bound,
    Job.visits_staffed,
    Job.travel_minutes,
    Job.carers_per_client,
    Job.progress_seq,
    StoredProblem.name.label("agency_name"),
    StoredProblem.period_start,
    StoredProblem.period_end,
    StoredProblem.visits,
    RotaVersion.solver_status,
    RotaVersion.source,
    RotaVersion.check_ok,
    RotaVersion.breaches,
)


def _current(column: Any) -> Any:
    """The latest publication's ``column`` for the row's agency and period (a subquery)."""
    return (
        select(column)
        .where(
            Publication.agency_id == Job.agency_id,
            Publication.period_start == StoredProblem.period_start,
            Publication.period_end == StoredProblem.period_end,
            Publication.area == StoredProblem.area,
        )
        .order_by(Publication.id.desc())
        .limit(1)
        .correlate(Job, StoredProblem)
        .scalar_subquery()
    )


def _summary_query(agency_id: str, *, with_rota: bool = False) -> Any:
    # One statement per request: each round trip to SQLite also means taking the GIL back.
    columns = [
        *_SUMMARY_COLUMNS,
        _current(Publication.version_id).label("published_version"),
        _current(Publication.published_at).label("published_at"),
    ]
    if with_rota:
        columns.append(RotaVersion.rota)
    return (
        select(*columns)
        .join(StoredProblem, StoredProblem.id == Job.problem_id)
        .outerjoin(RotaVersion, RotaVersion.id == Job.id)
        .where(Job.agency_id == agency_id, Job.kind.in_(ROTA_KINDS))
    )


def job_row(session: Session, agency_id: str, rota_id: str, *, with_rota: bool = False) -> Row[Any]:
    """One of the agency's rotas: its summary columns, and its rota's JSON if ``with_rota``
    (404 if the agency has no rota by that id)."""
    query = _summary_query(agency_id, with_rota=with_rota).where(Job.id == rota_id)
    row = session.execute(query).one_or_none()
    if row is None:
        raise not_found("rota", rota_id)
    result: Row[Any] = row
    return result


@dataclass(frozen=True)
class Published:
    version_id: str
    published_at: datetime


def current_publications(
    session: Session, agency_id: str, periods: set[tuple[date, date]]
) -> dict[tuple[date, date, str], Published]:
    """The published version of each period, by period and area (a publication is per area;
    "" is the whole agency); the latest publication of a period and area wins."""
    if not periods:
        return {}
    starts = {p[0] for p in periods}
    rows = session.execute(
        select(
            Publication.period_start,
            Publication.period_end,
            Publication.area,
            Publication.version_id,
            Publication.published_at,
        )
        .where(Publication.agency_id == agency_id, Publication.period_start.in_(starts))
        .order_by(Publication.id)
    ).all()
    current: dict[tuple[date, date, str], Published] = {}
    for row in rows:
        if (row.period_start, row.period_end) in periods:
            key = (row.period_start, row.period_end, row.area)
            current[key] = Published(row.version_id, row.published_at)
    return current


def rota_url(base: str, rota_id: str) -> str:
    return f"{base}/v1/rotas/{rota_id}"


def summary(row: Row[Any], base: str) -> RotaSummary:
    """The API's view of a rota job (without the rota itself)."""
    url = rota_url(base, row.id)
    gap = None
    if row.objective is not None and row.bound is not None and row.objective > 0:
        gap = max(0.0, (row.objective - row.bound) / row.objective)
    is_published = row.published_version == row.id
    links = {
        "self": url,
        "events": f"{url}/events",
        "explain": f"{url}/explain",
        "publish": f"{url}/publish",
        "runsheet": f"{url}/workers/{{worker_id}}/runsheet",
        "calendar": f"{url}/workers/{{worker_id}}/calendar.ics",
    }
    if row.parent_id is not None:
        links["parent"] = rota_url(base, row.parent_id)
    return RotaSummary(
        id=row.id,
        url=url,
        status=row.status,
        agency=row.agency_name,
        period=PeriodOut(start=row.period_start, end=row.period_end),
        visits=row.visits,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        options=SolveOptionsIn(time_limit=row.time_limit, seed=row.seed, method=row.method),
        progress=Progress(
            elapsed=row.elapsed,
            objective=row.objective,
            bound=row.bound,
            gap=gap,
            visits_staffed=row.visits_staffed,
            visits_total=row.visits,
            travel_minutes=row.travel_minutes,
            carers_per_client=row.carers_per_client,
        ),
        attempts=row.attempts,
        cancel_requested=row.cancel_requested,
        error=row.error,
        note=row.note,
        parent=row.parent_id,
        solver_status=row.solver_status,
        source=row.source,
        check=None if row.check_ok is None else CheckOut(ok=row.check_ok, breaches=row.breaches),
        published=is_published,
        published_at=row.published_at if is_published else None,
        links=links,
    )


def one_summary(session: Session, agency_id: str, rota_id: str, base: str) -> RotaSummary:
    return summary(job_row(session, agency_id, rota_id), base)


# ---------------------------------------------------------------------------------------------
# Paging


def encode_cursor(created_at: datetime, rota_id: str) -> str:
    raw = f"{created_at.isoformat()}|{rota_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, rota_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), rota_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            422, "invalid cursor: use the 'next' link of the previous page", code="validation_error"
        ) from None


def page(
    session: Session,
    agency_id: str,
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
) -> tuple[list[Row[Any]], str | None]:
    """Newest first: up to ``limit`` rotas after ``cursor``, and the cursor of the next page."""
    return _page(session, _summary_query(agency_id), limit=limit, cursor=cursor, status=status)


def _page(
    session: Session, query: Any, *, limit: int, cursor: str | None, status: str | None
) -> tuple[list[Row[Any]], str | None]:
    if status is not None:
        query = query.where(Job.status == status)
    if cursor is not None:
        created, rota_id = decode_cursor(cursor)
        query = query.where(
            or_(Job.created_at < created, and_(Job.created_at == created, Job.id < rota_id))
        )
    rows = list(
        session.execute(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1))
    )
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        following = encode_cursor(rows[-1].created_at, rows[-1].id)
    return rows, following


# ---------------------------------------------------------------------------------------------
# What-if scenarios (jobs of kind "scenario": never rotas)

_SCENARIO_COLUMNS = (
    Job.id,
    Job.status,
    Job.created_at,
    Job.started_at,
    Job.finished_at,
    Job.time_limit,
    Job.attempts,
    Job.cancel_requested,
    Job.error,
    Job.note,
    Job.parent_id,
    Job.elapsed,
    StoredProblem.name.label("agency_name"),
    StoredProblem.period_start,
    StoredProblem.period_end,
    StoredProblem.visits,
)


def _scenario_query(agency_id: str, *more: Any) -> Any:
    return (
        select(*_SCENARIO_COLUMNS, *more)
        .join(StoredProblem, StoredProblem.id == Job.problem_id)
        .where(Job.agency_id == agency_id, Job.kind == SCENARIO)
    )


def scenario_row(
    session: Session, agency_id: str, scenario_id: str, *, with_result: bool = False
) -> Row[Any]:
    """One of the agency's scenario jobs: its summary columns, and with ``with_result`` its
    ``result`` (progress while it runs, the comparison once done); 404 if there is none."""
    more = (Job.result,) if with_result else ()
    row = session.execute(
        _scenario_query(agency_id, *more).where(Job.id == scenario_id)
    ).one_or_none()
    if row is None:
        raise not_found("scenario", scenario_id)
    result: Row[Any] = row
    return result


def scenario_page(
    session: Session, agency_id: str, *, limit: int, cursor: str | None, status: str | None
) -> tuple[list[Row[Any]], str | None]:
    """Newest first: up to ``limit`` scenario jobs after ``cursor``, and the next cursor."""
    return _page(session, _scenario_query(agency_id), limit=limit, cursor=cursor, status=status)


def scenario_url(base: str, scenario_id: str) -> str:
    return f"{base}/v1/scenarios/{scenario_id}"


def scenario_summary(row: Row[Any], base: str) -> ScenarioSummary:
    """The API's view of a scenario job (without its progress or results)."""
    url = scenario_url(base, row.id)
    links = {"self": url, "cancel": f"{url}/cancel", "variant": f"{url}/variants/{{name}}"}
    if row.parent_id is not None:
        links["base_rota"] = rota_url(base, row.parent_id)
    return ScenarioSummary(
        id=row.id,
        url=url,
        status=row.status,
        agency=row.agency_name,
        period=PeriodOut(start=row.period_start, end=row.period_end),
        visits=row.visits,
        base_rota=row.parent_id,
        time_limit=row.time_limit,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        attempts=row.attempts,
        cancel_requested=row.cancel_requested,
        error=row.error,
        note=row.note,
        links=links,
    )


# ---------------------------------------------------------------------------------------------
# Agencies


class AgencyExists(Exception):
    pass


def create_agency(db: Database, name: str) -> tuple[Agency, str]:
    """A new agency and its first API key (returned once; only its hash is kept)."""
    with db.write() as s:
        if s.scalar(select(Agency.id).where(Agency.name == name)) is not None:
            raise AgencyExists(name)
        agency = Agency(id=new_id("agency"), name=name)
        s.add(agency)
        s.flush()
        key = _add_key(s, agency.id)
    return agency, key


def issue_key(db: Database, name: str) -> str:
    """Another API key for the agency called ``name`` (KeyError if there is none)."""
    with db.write() as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.name == name))
        if agency_id is None:
            raise KeyError(name)
        return _add_key(s, agency_id)


@dataclass(frozen=True)
class KeyInfo:
    """An API key as the command line shows it: never the key, which is not stored."""

    id: str
    created_at: datetime
    revoked_at: datetime | None


def _agency_id(session: Session, name: str) -> str:
    agency_id = session.scalar(select(Agency.id).where(Agency.name == name))
    if agency_id is None:
        raise KeyError(name)
    return agency_id


def list_keys(db: Database, name: str) -> list[KeyInfo]:
    """The agency's keys, oldest first (KeyError if there is no such agency)."""
    with db.read() as s:
        rows = s.execute(
            select(ApiKey.id, ApiKey.created_at, ApiKey.revoked_at)
            .where(ApiKey.agency_id == _agency_id(s, name))
            .order_by(ApiKey.created_at, ApiKey.id)
        ).all()
    return [KeyInfo(r.id, r.created_at, r.revoked_at) for r in rows]


def revoke_keys(db: Database, name: str, *, keep_newest: bool, ref: str | None = None) -> list[str]:
    """Revoke the agency's live keys and return their ids.

    With ``ref``: only the key it names, either the key itself (``crk_...``, matched by digest)
    or a prefix of its id as ``carerota agency keys`` lists it; a prefix must name one live key
    (ValueError otherwise). With ``keep_newest``: every live key but the newest.
    """
    with db.write() as s:
        live = list(
            s.scalars(
                select(ApiKey)
                .where(ApiKey.agency_id == _agency_id(s, name), ApiKey.revoked_at.is_(None))
                .order_by(ApiKey.created_at, ApiKey.id)
            )
        )
        if ref is not None:
            if ref.startswith(API_KEY_PREFIX):
                chosen = [k for k in live if k.key_hash == digest(ref)]
            else:
                chosen = [k for k in live if k.id.startswith(ref)]
            if len(chosen) != 1:
                what = "no live key" if not chosen else f"{len(chosen)} live keys"
                raise ValueError(f"{what} of {name!r} matches {ref!r}")
        else:
            chosen = live[:-1] if keep_newest else live
        now = utcnow()
        for key in chosen:
            key.revoked_at = now
        return [k.id for k in chosen]


def _add_key(session: Session, agency_id: str) -> str:
    key = new_secret(API_KEY_PREFIX)
    session.add(ApiKey(id=new_id("key"), agency_id=agency_id, key_hash=digest(key)))
    return key


# ---------------------------------------------------------------------------------------------
# The queue


def queue_state(session: Session) -> tuple[int, float]:
    """Jobs waiting to start (all agencies) and the seconds of search they have asked for."""
    count, seconds = session.execute(
        select(func.count(), func.coalesce(func.sum(Job.time_limit), 0.0)).where(
            Job.status == QUEUED
        )
    ).one()
    return int(count), float(seconds)


def refuse_if_full(
    session: Session,
    max_queued: int,
    slots: int,
    pending: int = 0,
    *,
    agency_id: str | None = None,
    agency_quota: int | None = None,
) -> None:
    """429 with Retry-After when ``max_queued`` jobs wait to start (counting ``pending``
    submissions not yet stored), or when ``agency_id`` already has ``agency_quota`` of them:
    one agency can fill its own share of the queue, never everyone's.

    Every kind of job counts: solves, absences' re-solves and what-if scenarios.
    """
    queued, seconds = queue_state(session)
    queued += pending
    if agency_id is not None and agency_quota is not None:
        own = session.scalar(
            select(func.count()).where(Job.status == QUEUED, Job.agency_id == agency_id)
        )
        if own is not None and own >= agency_quota:
            wait = _agency_wait(session, agency_id, queued, seconds, slots)
            raise ApiError(
                429,
                f"this agency already has {own} jobs waiting to start, its share of the queue "
                f"(CAREROTA_MAX_QUEUED_JOBS_PER_AGENCY); try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
    if queued >= max_queued:
        wait = retry_after(queued, seconds, slots, _soonest_end(session))
        raise ApiError(
            429,
            f"the job queue is full ({queued} waiting); try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def _soonest_end(session: Session) -> float | None:
    """Seconds until the first running job reaches its time limit (None: nothing running)."""
    rows = session.execute(
        select(Job.started_at, Job.time_limit).where(
            Job.status == SOLVING, Job.started_at.is_not(None)
        )
    ).all()
    now = utcnow()
    ends = [(r.started_at - now).total_seconds() + r.time_limit for r in rows]
    return max(0.0, min(ends)) if ends else None


def _agency_wait(session: Session, agency_id: str, queued: int, seconds: float, slots: int) -> int:
    """When the agency's oldest waiting job is likely to start, freeing a place in its share:
    once the jobs queued before it have started, one slot at a time."""
    oldest = session.scalar(
        select(func.min(Job.created_at)).where(Job.status == QUEUED, Job.agency_id == agency_id)
    )
    ahead = (
        session.scalar(select(func.count()).where(Job.status == QUEUED, Job.created_at < oldest))
        if oldest is not None
        else 0
    )
    mean = seconds / max(1, queued)
    first = _soonest_end(session)
    start = mean / max(1, slots) if first is None else first
    return max(1, min(3600, math.ceil(start + (ahead or 0) * mean / max(1, slots))))


def retry_after(
    queued: int, queued_seconds: float, slots: int, soonest_end: float | None = None
) -> int:
    """When a place in the queue is likely to free up, in whole seconds (1 s to 1 h).

    A place frees when a running solve ends and the oldest queued job starts: the running solve
    nearest its time limit (``soonest_end``), or, with none running yet, one every (mean limit
    / slots) as solves last about their time limit.
    """
    if soonest_end is not None:
        return max(1, min(3600, math.ceil(soonest_end)))
    mean = queued_seconds / max(1, queued)
    return max(1, min(3600, math.ceil(mean / max(1, slots))))
