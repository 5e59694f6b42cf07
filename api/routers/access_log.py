"""``GET /v1/access-log``: who read the agency's health data, newest first (see
:mod:`api.access_log` for what is recorded)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.access_log import AccessFilter, AccessLogWriter, ActorKind, entries
from api.db import AccessLog
from api.deps import AgencyDep, DbDep, SettingsDep
from api.errors import ApiError, ErrorBody, ErrorDetail
from api.routers.common import base_url

router = APIRouter(tags=["access log"])


class AccessEntryOut(BaseModel):
    at: datetime
    actor: ActorKind = Field(description="what the reader used: an API key or a carer's link")
    actor_id: str = Field(description="the key's id (carerota agency keys) or the link's")
    action: str = Field(description="rota, explanation, changes, problem, runsheet, calendar")
    rota: str
    worker: str | None
    client: str | None


class AccessLogPage(BaseModel):
    items: list[AccessEntryOut]
    next: str | None = Field(description="the next page's URL, or null on the last page")


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or unknown API key"},
    422: {"model": ErrorBody, "description": "a bad filter or cursor"},
}


@router.get(
    "/access-log",
    response_model=AccessLogPage,
    summary="Who read the agency's rotas, run sheets and calendars, newest first",
    responses=_ERRORS,
)
async def access_log(
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    request: Request,
    since: Annotated[datetime | None, Query(description="from this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="before this time")] = None,
    worker: Annotated[str | None, Query(description="reads about this worker")] = None,
    client: Annotated[str | None, Query(description="reads about this client")] = None,
    action: Annotated[str | None, Query(description="e.g. runsheet, calendar, rota")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(description="the 'next' of the previous page")] = None,
) -> AccessLogPage:
    """Each successful read of a rota, its explanation or change list, its problem, a run sheet
    or a calendar: when, by which key or carer link, and of what. Reads made in the last moment
    by other API processes may take up to ``CAREROTA_ACCESS_LOG_FLUSH_INTERVAL`` to appear."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ApiError(
                422,
                f"invalid request: {name}: needs a timezone, e.g. 2026-11-24T09:00:00Z",
                details=[ErrorDetail(loc=name, message="needs a timezone")],
            )
    writer: AccessLogWriter = request.app.state.access_log
    where = AccessFilter(since=since, until=until, worker=worker, client=client, action=action)

    def read() -> tuple[list[AccessLog], str | None]:
        writer.flush()  # this process's latest reads first
        return entries(db, agency.id, where, limit, cursor)

    rows, following = await run_in_threadpool(read)
    next_url = None
    if following is not None:
        next_url = str(request.url.include_query_params(cursor=following))
        if settings.public_url:
            base = base_url(request, settings.public_url)
            next_url = base + next_url.removeprefix(str(request.base_url).rstrip("/"))
    return AccessLogPage(
        items=[
            AccessEntryOut(
                at=r.at,
                actor=r.actor_kind,  # type: ignore[arg-type]  # only the two kinds are written
                actor_id=r.actor_id,
                action=r.action,
                rota=r.object_id,
                worker=r.worker_id,
                client=r.client_id,
            )
            for r in rows
        ],
        next=next_url,
    )
