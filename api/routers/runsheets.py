"""A carer's run: ``/v1/rotas/{id}/workers/{worker_id}/runsheet`` and ``.../calendar.ics``.

Both can be read with the agency's API key, or with a carer's link token that opens that carer's
run and nothing else (``POST .../links`` makes one; see :mod:`api.routers.carers`). A version
since replaced for its period says so, with what changed for the carer; a published version's
calendar is the carer's live feed, so a phone subscribed to it follows every re-publication.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.access_log import logged
from api.carers import Revoke, calendar_feed, replaced_by, revoke_links, was_published
from api.db import CarerToken, Database, Publication, RotaVersion, RunSheet, new_id, utcnow
from api.deps import AgencyDep, AgencyRef, DbDep, SettingsDep, SheetAccess, SheetAccessDep
from api.documents import Notice, dumps, runsheet_calendar, runsheet_html
from api.errors import ApiError, ErrorBody, not_found
from api.revocation import announce
from api.routers.common import base_url
from api.schemas import CarerLinkOut
from api.security import CARER_TOKEN_PREFIX, digest, new_secret
from api.store import job_row, rota_url


class CalendarCache:
    """The last ``size`` calendars rendered, by (rota, worker).

    Rendering iCalendar costs about 10 ms and calendar apps poll the same links over and over;
    a version never changes, so neither does its calendar.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


calendars = CalendarCache()

router = APIRouter(prefix="/rotas/{rota_id}/workers/{worker_id}", tags=["run sheets"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid API key or carer link"},
    404: {"model": ErrorBody, "description": "no such rota or worker for this caller"},
    409: {"model": ErrorBody, "description": "the rota is not ready"},
}


def _sheet(
    session: Session, access: SheetAccess, rota_id: str, worker_id: str
) -> tuple[str, datetime]:
    """The stored run sheet and the version's time, or the right error."""
    if access.is_carer and (
        access.worker != worker_id
        or (rota_id != access.version and not was_published(session, access.agency_id, rota_id))
    ):
        # A carer's link never reveals whether anything else exists.
        raise not_found("run sheet", f"{rota_id}/{worker_id}")
    row = session.execute(
        select(RunSheet.body, RotaVersion.created_at)
        .join(RotaVersion, RotaVersion.id == RunSheet.version_id)
        .where(
            RunSheet.version_id == rota_id,
            RunSheet.worker_id == worker_id,
            RunSheet.agency_id == access.agency_id,
        )
    ).one_or_none()
    if row is not None:
        return row.body, row.created_at
    job = job_row(session, access.agency_id, rota_id)  # 404 when not the agency's
    has_version = session.scalar(select(RotaVersion.id).where(RotaVersion.id == rota_id))
    if has_version is None:
        raise ApiError(409, f"the rota is {job.status}; run sheets come with the rota")
    raise not_found("worker", worker_id)


def wants_html(format: str | None, accept: str | None) -> bool:
    """HTML when asked by ``?format=html``, or when the client accepts ``text/html`` rather
    than JSON (a browser following a carer's link)."""
    return format == "html" or (
        format is None and accept is not None and "text/html" in accept and "json" not in accept
    )


def page_response(page: str) -> Response:
    return Response(page, media_type="text/html; charset=utf-8")


@router.get(
    "/runsheet",
    openapi_extra=logged("runsheet"),
    summary="A worker's run sheet (JSON, or printable HTML)",
    response_model=None,
    responses={
        **_ERRORS,
        200: {
            "content": {"application/json": {}, "text/html": {}},
            "description": "the worker's visits day by day, in order, with time, address, "
            "travel, who else is there and the client's care plan",
        },
    },
)
def runsheet(
    rota_id: str,
    worker_id: str,
    access: SheetAccessDep,
    db: DbDep,
    format: Annotated[Literal["json", "html"] | None, Query()] = None,
    accept: Annotated[str | None, Header()] = None,
    token: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> Response:
    """JSON by default; HTML with ``?format=html`` or when the client accepts ``text/html``
    rather than JSON (a browser following a carer's link). A version replaced since for its
    period carries ``replaced_by``: the version published now and what changed for the worker."""
    with db.read() as session:
        body, _ = _sheet(session, access, rota_id, worker_id)
        sheet = json.loads(body)
        replaced = replaced_by(session, access.agency_id, rota_id, worker_id, sheet)
    if wants_html(format, accept):
        notice = None
        if replaced is not None:
            current = f"/v1/workers/{quote(worker_id)}/runsheet?format=html"
            if access.is_carer and token is not None:
                current += f"&token={quote(token)}"
            notice = Notice(
                "This run sheet is out of date: the office has published a new rota.",
                [c["text"] for c in replaced.changes] or ["Nothing changed for you."],
                ("Open your current run sheet", current),
            )
        return page_response(
            runsheet_html([sheet], "Run sheet", today=local_today(sheet), notice=notice)
        )
    extra = ""
    if replaced is not None:
        extra = (
            ","
            + dumps(
                {
                    "replaced_by": {
                        "rota": replaced.rota,
                        "published_at": replaced.published_at.isoformat(),
                        "changes": replaced.changes,
                    }
                }
            )[1:-1]
        )
    return Response(
        content=f'{{"rota":{json.dumps(rota_id)},{body[1:-1]}{extra}}}',
        media_type="application/json",
    )


@router.get(
    "/calendar.ics",
    openapi_extra=logged("calendar"),
    summary="A worker's visits as an iCalendar file",
    response_model=None,
    responses={**_ERRORS, 200: {"content": {"text/calendar": {}}}},
)
def calendar(rota_id: str, worker_id: str, access: SheetAccessDep, db: DbDep) -> Response:
    """RFC 5545, one event per visit in the agency's timezone. A version that was published
    answers with the worker's live feed (see ``/v1/workers/{worker_id}/calendar.ics``): a phone
    subscribed to it then follows every re-publication instead of keeping the old visits."""
    with db.read() as session:
        body, created = _sheet(session, access, rota_id, worker_id)
        if was_published(session, access.agency_id, rota_id):
            ics = feed(session, access.agency_id, worker_id)
        else:
            cached = calendars.get((rota_id, worker_id))
            if cached is None:
                cached = runsheet_calendar(json.loads(body), access.agency_id, created)
                calendars.put((rota_id, worker_id), cached)
            ics = cached
    return ics_response(ics, worker_id)


def ics_response(ics: bytes, worker_id: str) -> Response:
    return Response(
        ics,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{quote(worker_id)}.ics"'},
    )


def feed(session: Session, agency_id: str, worker_id: str) -> bytes:
    """The worker's live calendar, rendered once per state of the agency's publication log
    (publications are only appended and run sheets never change)."""
    last = session.scalar(
        select(func.max(Publication.id)).where(Publication.agency_id == agency_id)
    )
    key = (f"feed:{agency_id}:{last}", worker_id)
    ics = calendars.get(key)
    if ics is None:
        ics = calendar_feed(session, agency_id, worker_id)
        calendars.put(key, ics)
    return ics


@router.post(
    "/links",
    status_code=201,
    response_model=CarerLinkOut,
    summary="A link for the carer: their run sheet and calendar, nothing else",
    responses=_ERRORS,
)
def create_link(
    rota_id: str,
    worker_id: str,
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    request: Request,
) -> CarerLinkOut:
    """A link for ``worker_id``, shown once (only its hash is kept). It replaces the carer's
    earlier links; its URLs open this version, which says so once it has been replaced."""
    with db.read() as s:
        _sheet(s, SheetAccess(agency.id, agency.key_id), rota_id, worker_id)
    sheet_url = (
        f"{rota_url(base_url(request, settings.public_url), rota_id)}/workers/{quote(worker_id)}"
    )
    return mint_link(db, request, agency, worker_id, settings.carer_link_days, sheet_url, rota_id)


def mint_link(
    db: Database,
    request: Request,
    agency: AgencyRef,
    worker_id: str,
    days: int,
    sheet_url: str,
    version_id: str | None = None,
) -> CarerLinkOut:
    """A new link for the worker, replacing (revoking) the links they had."""
    token = new_secret(CARER_TOKEN_PREFIX)
    expires = utcnow() + timedelta(days=days)
    link_id = new_id("link")
    with db.write() as s:
        gone = revoke_links(s, agency.id, Revoke(worker=worker_id))
        s.add(
            CarerToken(
                id=link_id,
                agency_id=agency.id,
                version_id=version_id,
                worker_id=worker_id,
                token_hash=digest(token),
                expires_at=expires,
                key_id=agency.key_id,
            )
        )
    request.app.state.credentials.forget(gone)
    announce(request.app.state.settings)  # the other API processes, at once
    return CarerLinkOut(
        id=link_id,
        worker=worker_id,
        token=token,
        runsheet_url=f"{sheet_url}/runsheet?token={token}",
        runsheet_html_url=f"{sheet_url}/runsheet?format=html&token={token}",
        calendar_url=f"{sheet_url}/calendar.ics?token={token}",
        expires_at=expires,
    )


def local_today(sheet: dict[str, Any]) -> date:
    """Today where the agency is (the run sheet's timezone)."""
    return datetime.now(ZoneInfo(sheet["timezone"])).date()
