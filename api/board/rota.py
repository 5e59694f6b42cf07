"""The rota board's own routes: its scripts (one module per part of the board, in
``static/rota/``) and who may be pinned to a visit.

Who may be pinned is the solver's own rule (:meth:`solver.data.ProblemData.can_count`: not
excluded, the gender asked for, every skill, a shift that holds the visit, clock changes
included), so the board never disagrees with the rota it will ask for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Final

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.access_log import logged
from api.db import Database, Job, StoredProblem
from api.deps import AgencyDep, DbDep
from api.errors import ErrorBody, not_found
from api.store import ROTA_KINDS
from solver.contract import Problem, Worker
from solver.data import ProblemData, build

SCRIPTS: Final = Path(__file__).parent / "static" / "rota"
# Only the files there are served, so a name can never reach outside the folder.
_NAMES: Final = frozenset(p.name for p in SCRIPTS.glob("*.js"))

router = APIRouter(prefix="/board", tags=["board"])


@router.get("/static/rota/{name}", include_in_schema=False)
def rota_script(name: str) -> FileResponse:
    """One of the rota board's modules (revalidated, so a new release shows at once)."""
    if name not in _NAMES:
        raise not_found("file", name)
    return FileResponse(
        SCRIPTS / name,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


class Candidate(BaseModel):
    worker: str
    name: str | None
    eligible: bool = Field(description="the solver may count them on the visit")
    why: str | None = Field(description="why not, in words, when not eligible")
    familiar: bool = Field(description="the client knows them (history or preferred)")


class Candidates(BaseModel):
    visit: str
    workers: list[Candidate] = Field(
        description="every worker: the eligible first, familiar ones first among them"
    )


class _Problems:
    """The last few problems' indexed data, by stored problem: building one takes a moment,
    and a coordinator opens visit after visit of the same rota."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[Problem, ProblemData]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, problem_id: str, body: str) -> tuple[Problem, ProblemData]:
        with self._lock:
            found = self._items.get(problem_id)
            if found is not None:
                self._items.move_to_end(problem_id)
                return found
        problem = Problem.model_validate_json(body)
        made = (problem, build(problem))
        with self._lock:
            self._items[problem_id] = made
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return made


problems = _Problems()


def _why_not(problem: Problem, data: ProblemData, v: int, w: int, worker: Worker) -> str | None:
    """The first rule that keeps worker ``w`` off visit ``v``, in words; None if none does."""
    if data.can_count(v, w):
        return None
    visit = next(x for x in problem.visits if x.id == data.visit_ids[v])
    client = next(c for c in problem.clients if c.id == visit.client)
    if worker.id in client.excluded_workers:
        return "excluded by the client"
    if client.gender_preference and worker.gender != client.gender_preference:
        return f"{client.gender_preference} carers only"
    missing = [k for k in visit.skills if k not in worker.skills]
    if missing:
        return f"no {', '.join(missing)}"
    return "no shift then"


def candidates_for(db: Database, agency_id: str, rota_id: str, visit_id: str) -> Candidates:
    """Every worker of the rota's problem against one visit, by the solver's rule."""
    with db.read() as s:
        row = s.execute(
            select(StoredProblem.id, StoredProblem.body)
            .join(Job, Job.problem_id == StoredProblem.id)
            .where(Job.id == rota_id, Job.agency_id == agency_id, Job.kind.in_(ROTA_KINDS))
        ).one_or_none()
    if row is None:
        raise not_found("rota", rota_id)
    problem, data = problems.get(row.id, row.body)
    try:
        v = data.visit_ids.index(visit_id)
    except ValueError:
        raise not_found("visit", visit_id) from None
    client = int(data.visit_client[v])
    workers = {worker.id: worker for worker in problem.workers}
    found = [
        Candidate(
            worker=worker_id,
            name=workers[worker_id].name,
            eligible=data.can_count(v, w),
            why=_why_not(problem, data, v, w, workers[worker_id]),
            familiar=bool(data.familiar[client, w]),
        )
        for w, worker_id in enumerate(data.worker_ids)
    ]
    found.sort(key=lambda c: (not c.eligible, not c.familiar))
    return Candidates(visit=visit_id, workers=found)


@router.get(
    "/api/rotas/{rota_id}/visits/{visit_id}/candidates",
    openapi_extra=logged("candidates"),
    response_model=Candidates,
    summary="Who may be pinned to a visit, by the solver's own rule, and why not",
    responses={
        401: {"model": ErrorBody, "description": "missing or unknown API key"},
        404: {"model": ErrorBody, "description": "no such rota or visit in this agency"},
    },
)
async def visit_candidates(rota_id: str, visit_id: str, agency: AgencyDep, db: DbDep) -> Candidates:
    """Each worker, eligible or not (with the reason), and whether the client knows them."""
    return await run_in_threadpool(candidates_for, db, agency.id, rota_id, visit_id)
