"""A carer's current run, whatever version is published, and the links that open it.

``/v1/workers/{worker_id}/runsheet`` and ``.../calendar.ics`` serve the worker's run in the
versions published now (the latest weeks first); the calendar is a subscription feed that follows
every re-publication. A carer's link (``POST /v1/workers/{worker_id}/links``) opens these and the
worker's sheets in published versions, nothing else. The office lists links (``GET /v1/links``)
and revokes them one by one, per carer, per API key that made them, or all at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import and_, or_, select

from api.access_log import logged
from api.carers import Revoke, current_run, revoke_links
from api.db import CarerToken, Database, RunSheet, utcnow
from api.deps import AgencyDep, DbDep, SettingsDep, SheetAccessDep
from api.documents import dumps, no_rota_html, runsheet_html
from api.errors import ErrorBody, not_found
from api.revocation import announce
from api.routers.common import base_url
from api.routers.runsheets import (
    feed,
    ics_response,
    local_today,
    mint_link,
    page_response,
    wants_html,
)
from api.schemas import CarerLinkInfo, CarerLinkOut, CarerLinkPage, RevokedOut, RevokeLinksIn
from api.store import decode_cursor, encode_cursor

router = APIRouter(tags=["carers"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid API key or carer link"},
    404: {"model": ErrorBody, "description": "no such worker (or link) for this caller"},
}


def _known_worker(db: Database, agency_id: str, worker_id: str) -> None:
    """404 unless the worker has a run sheet in one of the agency's rotas."""
    with db.read() as s:
        found = s.scalar(
            select(RunSheet.worker_id)
            .where(RunSheet.agency_id == agency_id, RunSheet.worker_id == worker_id)
            .limit(1)
        )
    if found is None:
        raise not_found("worker", worker_id)


@router.get(
    "/workers/{worker_id}/runsheet",
    openapi_extra=logged("runsheet"),
    summary="A worker's current run: each published week's rota (JSON, or a page for phones)",
    response_model=None,
    responses={**_ERRORS, 200: {"content": {"application/json": {}, "text/html": {}}}},
)
def current_runsheet(
    worker_id: str,
    access: SheetAccessDep,
    db: DbDep,
    request: Request,
    format: Annotated[Literal["json", "html"] | None, Query()] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """``weeks``: the worker's run sheet in the version published now for each of the latest
    published periods, newest first; each names its ``rota``. Empty before anything is
    published."""
    if access.is_carer and access.worker != worker_id:
        raise not_found("run sheet", worker_id)
    if not access.is_carer:
        _known_worker(db, access.agency_id, worker_id)
    with db.read() as session:
        weeks = current_run(session, access.agency_id, worker_id)
    if weeks:
        request.state.read_object = weeks[0]["rota"]  # for the access log
    if wants_html(format, accept):
        if not weeks:
            return page_response(no_rota_html(worker_id))
        return page_response(runsheet_html(weeks, "Run sheet", today=local_today(weeks[0])))
    return Response(dumps({"worker": worker_id, "weeks": weeks}), media_type="application/json")


@router.get(
    "/workers/{worker_id}/calendar.ics",
    openapi_extra=logged("calendar"),
    summary="A worker's calendar feed: their visits in the published rotas, kept current",
    response_model=None,
    responses={**_ERRORS, 200: {"content": {"text/calendar": {}}}},
)
def current_calendar(
    worker_id: str, access: SheetAccessDep, db: DbDep, request: Request
) -> Response:
    """RFC 5545 subscription: a stable UID per visit, SEQUENCE raised on each change, visits
    taken away kept as ``STATUS:CANCELLED`` while their week is in the feed."""
    if access.is_carer and access.worker != worker_id:
        raise not_found("calendar", worker_id)
    if not access.is_carer:
        _known_worker(db, access.agency_id, worker_id)
    with db.read() as session:
        ics = feed(session, access.agency_id, worker_id)
    request.state.read_object = worker_id  # for the access log: the feed spans versions
    return ics_response(ics, worker_id)


@router.post(
    "/workers/{worker_id}/links",
    status_code=201,
    response_model=CarerLinkOut,
    summary="The carer's link: their current run sheet and calendar feed, nothing else",
    responses=_ERRORS,
)
def create_worker_link(
    worker_id: str, agency: AgencyDep, db: DbDep, settings: SettingsDep, request: Request
) -> CarerLinkOut:
    """A new link, shown once; it replaces (revokes) the carer's earlier links. It lasts
    ``CAREROTA_CARER_LINK_DAYS`` days unless revoked."""
    _known_worker(db, agency.id, worker_id)
    url = f"{base_url(request, settings.public_url)}/v1/workers/{quote(worker_id)}"
    return mint_link(db, request, agency, worker_id, settings.carer_link_days, url)


@router.get(
    "/links", response_model=CarerLinkPage, summary="The agency's carer links, newest first"
)
def list_links(
    agency: AgencyDep,
    db: DbDep,
    request: Request,
    worker: Annotated[str | None, Query(max_length=200, description="one carer's")] = None,
    active: Annotated[
        bool | None, Query(description="only live (true) or dead (false) ones")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="the 'next' of the previous page")] = None,
) -> CarerLinkPage:
    """Links (never their tokens), ``limit`` at a time; follow ``next`` for more."""
    now = utcnow()
    query = select(CarerToken).where(CarerToken.agency_id == agency.id)
    if worker is not None:
        query = query.where(CarerToken.worker_id == worker)
    live = and_(CarerToken.revoked_at.is_(None), CarerToken.expires_at > now)
    if active is not None:
        query = query.where(live if active else ~live)
    if cursor is not None:
        at, last = decode_cursor(cursor)
        query = query.where(
            or_(CarerToken.created_at < at, and_(CarerToken.created_at == at, CarerToken.id < last))
        )
    query = query.order_by(CarerToken.created_at.desc(), CarerToken.id.desc()).limit(limit + 1)
    with db.read() as s:
        rows = list(s.scalars(query))
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        following = str(
            request.url.include_query_params(cursor=encode_cursor(rows[-1].created_at, rows[-1].id))
        )
    return CarerLinkPage(
        items=[
            CarerLinkInfo(
                id=r.id,
                worker=r.worker_id,
                created_at=r.created_at,
                expires_at=r.expires_at,
                revoked_at=r.revoked_at,
                made_by_key=r.key_id,
                rota=r.version_id,
                active=r.revoked_at is None and r.expires_at > now,
            )
            for r in rows
        ],
        next=following,
    )


@router.delete(
    "/links/{link_id}", status_code=204, summary="Revoke one carer link", responses=_ERRORS
)
def revoke_link(link_id: str, agency: AgencyDep, db: DbDep, request: Request) -> Response:
    """It stops working at once (revoking a revoked link changes nothing)."""
    with db.write() as s:
        row = s.scalar(
            select(CarerToken).where(CarerToken.agency_id == agency.id, CarerToken.id == link_id)
        )
        if row is None:
            raise not_found("link", link_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        gone = [row.token_hash]
    request.app.state.credentials.forget(gone)
    announce(request.app.state.settings)  # the other API processes, at once
    return Response(status_code=204)


@router.post(
    "/links/revoke",
    response_model=RevokedOut,
    summary="Revoke a carer's links, those an API key made, or all the agency's",
    responses={401: _ERRORS[401], 422: {"model": ErrorBody}},
)
def revoke_many(body: RevokeLinksIn, agency: AgencyDep, db: DbDep, request: Request) -> RevokedOut:
    """Every live link matching ``worker`` and ``made_by_key`` (or ``all``) stops working at
    once; for a lost phone, a carer who left, or a key that leaked."""
    with db.write() as s:
        gone = revoke_links(s, agency.id, Revoke(worker=body.worker, key_id=body.made_by_key))
    request.app.state.credentials.forget(gone)
    announce(request.app.state.settings)  # the other API processes, at once
    return RevokedOut(revoked=len(gone))
