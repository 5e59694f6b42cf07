"""``DELETE /v1/clients/{client_id}``: erase a client, by deleting everything that mentions them.

See :mod:`api.erasure` for what goes and why deleting beats rewriting.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import AgencyDep, DbDep
from api.erasure import StillSolving, erase_client
from api.errors import ApiError, ErrorBody, not_found

router = APIRouter(tags=["clients"])


class ClientErased(BaseModel):
    client: str
    deleted: dict[str, int] = Field(description="rows removed, by table")


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid API key"},
    404: {"model": ErrorBody, "description": "no stored problem of this agency has the client"},
    409: {"model": ErrorBody, "description": "a rota mentioning the client is still solving"},
}


@router.delete(
    "/clients/{client_id}",
    response_model=ClientErased,
    summary="Erase a client: delete every problem, rota, run sheet and link that mentions them",
    responses=_ERRORS,
)
async def erase(client_id: str, agency: AgencyDep, db: DbDep) -> ClientErased:
    """Deletes each stored problem listing the client and everything made from it, including
    published rotas: publish a rota without them first if the period still needs one."""
    try:
        erased = await run_in_threadpool(erase_client, db, agency.id, client_id)
    except StillSolving as e:
        raise ApiError(
            409, f"rotas mentioning {client_id!r} are still queued or solving: {', '.join(e.args)}"
        ) from None
    if erased is None:
        raise not_found("client", client_id)
    return ClientErased(client=client_id, deleted=erased.counts)
