"""The rota board: the coordinator's page in the browser, served by the service itself.

``/board/`` is the sign-in and rota list, ``/board/rotas/{id}`` one rota's board. The pages are
static HTML with plain JavaScript modules (``static/``); they hold no data and need no key to
load. Everything they show comes from the ``/v1`` JSON API in the browser, with the agency's API
key, which the coordinator pastes once and the page keeps in ``sessionStorage`` (gone when the
tab closes, never sent anywhere but in the ``Authorization`` header). The one thing ``/v1`` does
not hand out, the problem a rota solved (names, places, care plans, contracts, and the base of a
pinned re-solve), comes from ``GET /board/api/rotas/{id}/problem`` with the same key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy import select

from api.access_log import logged
from api.db import Database, Job, StoredProblem
from api.deps import AgencyDep, DbDep
from api.errors import ErrorBody, not_found
from api.store import ROTA_KINDS

STATIC: Final = Path(__file__).parent / "static"

# Only these files are served, so a path can never reach outside the folder.
ASSETS: Final = {
    "board.css": "text/css; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "index.js": "text/javascript; charset=utf-8",
    "rota.js": "text/javascript; charset=utf-8",
    "forms.js": "text/javascript; charset=utf-8",
    "records.js": "text/javascript; charset=utf-8",
    "client.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}

# Scripts and styles only from this origin: a client name or care plan that holds markup can
# never run, even if a text slipped into the page unescaped.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(prefix="/board", tags=["board"])


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("", include_in_schema=False)
def board_root() -> RedirectResponse:
    """The board lives at ``/board/``; relative links there need the slash."""
    return RedirectResponse("/board/", status_code=308)


@router.get("/", include_in_schema=False)
def board_index() -> FileResponse:
    """Sign in with the agency's key, list its rotas, request a new one."""
    return _page("index.html")


@router.get("/rotas/{rota_id}", include_in_schema=False)
def board_rota() -> FileResponse:
    """One rota's board; the page reads the id from its own address."""
    return _page("rota.html")


@router.get("/records", include_in_schema=False)
def board_records() -> FileResponse:
    """Import spreadsheets; see, add and edit carers and clients."""
    return _page("records.html")


@router.get("/clients/{client_id}", include_in_schema=False)
def board_client() -> FileResponse:
    """One client: their record, packages and recent carers (the page reads the id)."""
    return _page("client.html")


@router.get("/static/{name}", include_in_schema=False)
def board_asset(name: str) -> FileResponse:
    """The board's scripts, style sheet and icon (revalidated, so a new release shows at once)."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise not_found("file", name)
    return FileResponse(
        STATIC / name,
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def _problem_body(db: Database, agency_id: str, rota_id: str) -> str | None:
    with db.read() as s:
        body: str | None = s.scalar(
            select(StoredProblem.body)
            .join(Job, Job.problem_id == StoredProblem.id)
            .where(Job.id == rota_id, Job.agency_id == agency_id, Job.kind.in_(ROTA_KINDS))
        )
    return body


@router.get(
    "/api/rotas/{rota_id}/problem",
    openapi_extra=logged("problem"),
    summary="The problem a rota solves (the contract's problem)",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "the problem as submitted"},
        401: {"model": ErrorBody, "description": "missing or unknown API key"},
        404: {"model": ErrorBody, "description": "no such rota in this agency"},
    },
)
async def rota_problem(rota_id: str, agency: AgencyDep, db: DbDep) -> Response:
    """The problem as it was stored: what the board draws beside the rota, and the base it
    changes (pinned workers) to ask for a new version."""
    body = await run_in_threadpool(_problem_body, db, agency.id, rota_id)
    if body is None:
        raise not_found("rota", rota_id)
    return Response(content=body, media_type="application/json")
