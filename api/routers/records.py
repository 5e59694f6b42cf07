"""``/v1/workers``, ``/v1/clients``, ``/v1/packages``: the agency's own records.

Each kind has the same five calls: list (paged by id, like the other lists), create (201, 409 if
the id is taken), read, replace (``PUT``, the whole record) and delete. A client is deleted by
erasure (``DELETE /v1/clients/{id}``, in :mod:`api.routers.clients`), which also removes their
packages and every rota that mentions them. Bodies are parsed here rather than by FastAPI, so
one code path serves the three kinds; a bad body is a 422 naming the field.
"""

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from api import records as store
from api.access_log import logged
from api.db import Publication
from api.deps import AgencyDep, DbDep, SettingsDep
from api.errors import ApiError, ErrorBody, ErrorDetail, not_found, validation_details
from api.routers.common import base_url
from scenarios.records import ClientRecord, PackageRecord, RecordKind, WorkerRecord

router = APIRouter(tags=["records"])


class WorkerPage(BaseModel):
    items: list[WorkerRecord]
    next: str | None = Field(description="URL of the next page, if any")


class ClientPage(BaseModel):
    items: list[ClientRecord]
    next: str | None = Field(description="URL of the next page, if any")


class PackagePage(BaseModel):
    items: list[PackageRecord]
    next: str | None = Field(description="URL of the next page, if any")


class Deleted(BaseModel):
    id: str
    deleted: bool


class RecentCarer(BaseModel):
    worker: str
    name: str | None
    visits: int
    last: str = Field(description="the day of their latest visit (YYYY-MM-DD)")
    weeks: list[str] = Field(description="the first day of each published week they came in")


class RecentCarers(BaseModel):
    client: str
    since: str
    carers: list[RecentCarer]


def parse_record(kind: RecordKind, raw: bytes, path_id: str | None = None) -> store.AnyRecord:
    """The body as a record of ``kind``, or a 422 naming each bad field."""
    try:
        record = store.MODELS[kind].model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        details = validation_details(errors)
        if any(e["type"] == "json_invalid" for e in errors):
            raise ApiError(
                422, "the request body is not valid JSON", code="invalid_json", details=details
            ) from None
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise ApiError(
            422, f"invalid {kind}: {details[0].loc}: {details[0].message}{more}", details=details
        ) from None
    assert isinstance(record, WorkerRecord | ClientRecord | PackageRecord)
    if path_id is not None and record.id != path_id:
        raise ApiError(
            422,
            f"invalid {kind}: id: {record.id!r} differs from the address's {path_id!r}",
            details=[ErrorDetail(loc="id", message="differs from the id in the address")],
        )
    return record


def _errors(kind: str) -> dict[int | str, dict[str, Any]]:
    return {
        401: {"model": ErrorBody, "description": "missing or unknown API key"},
        404: {"model": ErrorBody, "description": f"no such {kind} in this agency"},
        422: {"model": ErrorBody, "description": "invalid record; details name the field"},
    }


def _next_url(request: Request, public_url: str | None, following: str | None) -> str | None:
    if following is None:
        return None
    url = str(request.url.include_query_params(cursor=following))
    if public_url:
        url = public_url.rstrip("/") + url.removeprefix(str(request.base_url).rstrip("/"))
    return url


def _add_routes(
    kind: RecordKind,
    plural: str,
    model: type[BaseModel],
    page_model: type[BaseModel],
    *,
    deletable: bool = True,
    logged_read: bool = True,
) -> None:
    """Register list, create, read, replace (and delete) for one kind of record; a read of one,
    or of a page of them, is an access-log entry (``logged_read``) unless the records hold no
    health data."""
    param = f"{kind}_id"
    body_doc: dict[str, Any] = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }

    def list_records(
        agency: AgencyDep,
        db: DbDep,
        settings: SettingsDep,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(description="the 'next' of the previous page")] = None,
        client: Annotated[str | None, Query(description="packages of this client only")] = None,
    ) -> Any:
        with db.read() as s:
            items, following = store.page(
                s, agency.id, kind, limit=limit, cursor=cursor, client=client
            )
        return page_model(items=items, next=_next_url(request, settings.public_url, following))

    async def create(agency: AgencyDep, db: DbDep, request: Request, response: Response) -> Any:
        raw = await request.body()

        def run() -> store.AnyRecord:
            record = parse_record(kind, raw)
            with db.write() as s:
                if store.get(s, agency.id, kind, record.id) is not None:
                    raise ApiError(409, f"there is already a {kind} {record.id!r}; PUT changes it")
                store.check(record, store.book(s, agency.id))
                store.put(s, agency.id, kind, record)
            return record

        record = await run_in_threadpool(run)
        # An id may hold any character; a header only latin-1 (an unquoted id was a 500).
        response.headers["Location"] = (
            f"{base_url(request, None)}/v1/{plural}/{quote(record.id, safe='')}"
        )
        return record

    def read(request: Request, agency: AgencyDep, db: DbDep) -> Any:
        record_id = request.path_params[param]
        with db.read() as s:
            record = store.get(s, agency.id, kind, record_id)
        if record is None:
            raise not_found(kind, record_id)
        return record

    async def replace(request: Request, agency: AgencyDep, db: DbDep) -> Any:
        record_id = request.path_params[param]
        raw = await request.body()

        def run() -> store.AnyRecord:
            record = parse_record(kind, raw, record_id)
            with db.write() as s:
                if store.get(s, agency.id, kind, record_id) is None:
                    raise not_found(kind, record_id)
                store.check(record, store.book(s, agency.id))
                store.put(s, agency.id, kind, record)
            return record

        return await run_in_threadpool(run)

    def remove(request: Request, agency: AgencyDep, db: DbDep) -> Deleted:
        record_id = request.path_params[param]
        with db.write() as s:
            if store.remove(s, agency.id, kind, [record_id]) == 0:
                raise not_found(kind, record_id)
        return Deleted(id=record_id, deleted=True)

    # The path parameter is read from the request (one function serves three kinds), so the
    # document declares it here.
    path_doc: dict[str, Any] = {
        "parameters": [
            {"name": param, "in": "path", "required": True, "schema": {"type": "string"}}
        ]
    }
    read.__name__, replace.__name__, remove.__name__ = (
        f"read_{kind}",
        f"replace_{kind}",
        f"delete_{kind}",
    )
    list_records.__name__, create.__name__ = f"list_{plural}", f"create_{kind}"
    errors = _errors(kind)
    router.get(
        f"/{plural}",
        response_model=page_model,
        summary=f"List {plural} by id",
        # A page of clients or packages holds care plans and notes: a read of health data too.
        openapi_extra=logged(f"{kind}_list") if logged_read else None,
        responses=errors,
    )(list_records)
    router.post(
        f"/{plural}",
        status_code=201,
        response_model=model,
        summary=f"Add a {kind}",
        openapi_extra=body_doc,
        responses={**errors, 409: {"model": ErrorBody, "description": "the id is taken"}},
    )(create)
    router.get(
        f"/{plural}/{{{param}}}",
        response_model=model,
        summary=f"A {kind}",
        openapi_extra={**path_doc, **(logged(kind) if logged_read else {})},
        responses=errors,
    )(read)
    router.put(
        f"/{plural}/{{{param}}}",
        response_model=model,
        summary=f"Replace a {kind}",
        openapi_extra={**body_doc, **path_doc},
        responses=errors,
    )(replace)
    if deletable:
        router.delete(
            f"/{plural}/{{{param}}}",
            response_model=Deleted,
            summary=f"Delete a {kind}",
            openapi_extra=path_doc,
            responses=errors,
        )(remove)


# A worker's record is their work (hours, skills, availability), not health data.
_add_routes("worker", "workers", WorkerRecord, WorkerPage, logged_read=False)
# A client goes by erasure (DELETE /v1/clients/{client_id}), never by a plain delete.
_add_routes("client", "clients", ClientRecord, ClientPage, deletable=False)
_add_routes("package", "packages", PackageRecord, PackagePage)

RECENT_DAYS = 28


@router.get(
    "/clients/{client_id}/carers",
    openapi_extra=logged("client_carers"),
    response_model=RecentCarers,
    summary="Who cared for a client in the last four weeks of published rotas",
    responses=_errors("client"),
)
def recent_carers(client_id: str, agency: AgencyDep, db: DbDep) -> RecentCarers:
    """Each carer on the client's visits in the published rotas of the four weeks up to the
    latest published day, most visits first."""
    with db.read() as s:
        if store.get(s, agency.id, "client", client_id) is None:
            raise not_found("client", client_id)
        latest = s.scalar(
            select(Publication.period_end)
            .where(Publication.agency_id == agency.id)
            .order_by(Publication.period_end.desc())
            .limit(1)
        )
        carers: dict[str, RecentCarer] = {}
        if latest is None:
            return RecentCarers(client=client_id, since="", carers=[])
        since = latest - timedelta(days=RECENT_DAYS - 1)
        for pub in store.published(s, agency.id, since, latest):
            client_of = {v["id"]: v["client"] for v in pub.problem["visits"]}
            names = {w["id"]: w.get("name") for w in pub.problem["workers"]}
            week = pub.problem["period"]["start"]
            for a in pub.rota["assignments"]:
                day = a["start"][:10]
                if client_of.get(a["visit"]) != client_id or day < since.isoformat():
                    continue
                for worker in a["workers"]:
                    seen = carers.setdefault(
                        worker,
                        RecentCarer(
                            worker=worker, name=names.get(worker), visits=0, last=day, weeks=[]
                        ),
                    )
                    seen.visits += 1
                    seen.last = max(seen.last, day)
                    if week not in seen.weeks:
                        seen.weeks = sorted([*seen.weeks, week])
    ordered = sorted(carers.values(), key=lambda c: (-c.visits, c.worker))
    return RecentCarers(client=client_id, since=since.isoformat(), carers=ordered)
