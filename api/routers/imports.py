"""``/v1/imports``: the agency's spreadsheets (CSV or XLSX) into its records, in one go.

``POST /v1/imports?filename=carers.csv`` with the file as the body (``?dry_run=true`` first, to
see what would be added, changed and removed). A sheet is the whole list of its kind; a file
that fails anywhere writes nothing, and the 422's details name the file, row and column of each
problem (``loc`` is ``carers.csv:7:max_hours_week``). Importing the same file again changes
nothing. ``GET /v1/imports/templates/{sheet}.{csv|xlsx}`` is a sheet to fill in
(``docs/import.md`` describes every column); it holds no agency's data and takes no key, so the
board's plain download link works, like the board's own pages.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api import records as store
from api.deps import AgencyDep, DbDep
from api.errors import ApiError, ErrorBody, ErrorDetail
from api.records import ImportReport
from scenarios.spreadsheets import SHEETS, Sheet, SpreadsheetError, read_file, template

router = APIRouter(prefix="/imports", tags=["imports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or unknown API key"},
    422: {
        "model": ErrorBody,
        "description": "the file has errors; each detail's loc is file:row:column",
    },
}


def spreadsheet_error(exc: SpreadsheetError) -> ApiError:
    details = [
        ErrorDetail(loc=f"{e.file}:{e.row}:{e.column}", message=e.message) for e in exc.errors
    ]
    return ApiError(422, f"nothing was imported: {exc}", details=details)


@router.post(
    "",
    response_model=ImportReport,
    summary="Import a CSV or XLSX file of carers, clients, packages or history",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
    responses=_ERRORS,
)
async def import_file(
    agency: AgencyDep,
    db: DbDep,
    request: Request,
    filename: Annotated[
        str, Query(min_length=1, max_length=200, description="e.g. carers.csv or agency.xlsx")
    ],
    sheet: Annotated[
        Sheet | None, Query(description="what a CSV holds, when its name does not say")
    ] = None,
    dry_run: Annotated[bool, Query(description="report what would change; write nothing")] = False,
) -> ImportReport:
    """Import one file: a CSV of one kind, or a workbook with sheets named carers, clients,
    packages and history."""
    data = await request.body()

    def run() -> ImportReport:
        try:
            parsed = read_file(filename, data, sheet)
            with db.write() as s:
                return store.apply_import(s, agency.id, parsed, dry_run=dry_run)
        except SpreadsheetError as exc:
            raise spreadsheet_error(exc) from None

    return await run_in_threadpool(run)


@cache
def _template(sheet: Sheet | None, fmt: Literal["csv", "xlsx"]) -> bytes:
    """Built once per process: the route takes no key, so nothing rate-limits it, and a workbook
    takes openpyxl some 25 ms; served from memory it costs what a static file does."""
    return template(sheet, fmt)


@router.get(
    "/templates/{name}",
    summary="A sheet to fill in: the columns and an example row",
    responses={
        200: {"content": {"text/csv": {}, XLSX: {}}, "description": "the template"},
        404: {"model": ErrorBody, "description": "no such template"},
    },
)
def get_template(name: str) -> Response:
    """``carers.csv``, ``clients.csv``, ``packages.csv``, ``history.csv``, any of them as
    ``.xlsx``, or ``agency.xlsx`` with all four sheets. No key needed: a template is the same for
    everyone."""
    stem, _, ext = name.rpartition(".")
    fmt: Literal["csv", "xlsx"] | None = (
        "csv" if ext == "csv" else "xlsx" if ext == "xlsx" else None
    )
    chosen: Sheet | None = next((s for s in SHEETS if s == stem), None)
    if fmt is None or (chosen is None and not (stem == "agency" and fmt == "xlsx")):
        raise ApiError(
            404,
            f"no template {name!r}: try carers.csv, clients.csv, packages.csv, history.csv "
            "(or .xlsx), or agency.xlsx",
        )
    return Response(
        content=_template(chosen, fmt),
        media_type="text/csv; charset=utf-8" if fmt == "csv" else XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
