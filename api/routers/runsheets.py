"""A carer's run: ``/v1/rotas/{id}/workers/{worker_id}/runsheet`` and ``.../calendar.ics``.

Both can be read with the agency's API key, or with a carer's link token that opens that carer's
run in that rota and nothing else (``POST .../links`` makes one).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db import CarerToken, RotaVersion, RunSheet, new_id, utcnow
from api.deps import AgencyDep, DbDep, SettingsDep, SheetAccess, SheetAccessDep
from api.documents import runsheet_calendar, runsheet_html
from api.errors import ApiError, ErrorBody, not_found
from api.routers.rotas import base_url
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
    if not access.allows(rota_id, worker_id):
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


@router.get(
    "/runsheet",
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
) -> Response:
    """JSON by default; HTML with ``?format=html`` or when the client accepts ``text/html``
    rather than JSON (a browser following a carer's link)."""
    with db.read() as session:
        body, _ = _sheet(session, access, rota_id, worker_id)
    wants_html = format == "html" or (
        format is None and accept is not None and "text/html" in accept and "json" not in accept
    )
    if wants_html:
        sheet = json.loads(body)
        return Response(
            runsheet_html(sheet, f"Run sheet {rota_id}"), media_type="text/html; charset=utf-8"
        )
    return Response(
        content=f'{{"rota":{json.dumps(rota_id)},{body[1:]}', media_type="application/json"
    )


@router.get(
    "/calendar.ics",
    summary="A worker's visits as an iCalendar file",
    response_model=None,
    responses={**_ERRORS, 200: {"content": {"text/calendar": {}}}},
)
def calendar(rota_id: str, worker_id: str, access: SheetAccessDep, db: DbDep) -> Response:
    """RFC 5545: one event per visit in the agency's timezone, stable UIDs per version."""
    with db.read() as session:
        body, created = _sheet(session, access, rota_id, worker_id)
    ics = calendars.get((rota_id, worker_id))
    if ics is None:
        ics = runsheet_calendar(json.loads(body), rota_id, created)
        calendars.put((rota_id, worker_id), ics)
    return Response(
        ics,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{quote(worker_id)}.ics"'},
    )


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
    """A new link token for ``worker_id`` in this rota, shown once (only its hash is kept)."""
    with db.read() as s:
        _sheet(s, SheetAccess(agency.id, agency.key_id), rota_id, worker_id)
    token = new_secret(CARER_TOKEN_PREFIX)
    expires = utcnow() + timedelta(days=settings.carer_link_days)
    with db.write() as s:
        s.add(
            CarerToken(
                id=new_id("link"),
                agency_id=agency.id,
                version_id=rota_id,
                worker_id=worker_id,
                token_hash=digest(token),
                expires_at=expires,
            )
        )
    sheet_url = (
        f"{rota_url(base_url(request, settings.public_url), rota_id)}/workers/{quote(worker_id)}"
    )
    return CarerLinkOut(
        worker=worker_id,
        token=token,
        runsheet_url=f"{sheet_url}/runsheet?token={token}",
        runsheet_html_url=f"{sheet_url}/runsheet?format=html&token={token}",
        calendar_url=f"{sheet_url}/calendar.ics?token={token}",
        expires_at=expires,
    )
