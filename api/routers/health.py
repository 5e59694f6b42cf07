"""``/healthz`` (the process answers) and ``/readyz`` (database and worker pool reachable)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import DbDep, RunnerDep
from api.errors import ErrorBody, ErrorDetail, error_response
from api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, summary="Liveness")
def healthz() -> HealthOut:
    """200 whenever the web process can answer."""
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=HealthOut,
    summary="Readiness: database and worker pool reachable",
    responses={503: {"model": ErrorBody}},
)
async def readyz(db: DbDep, runner: RunnerDep) -> HealthOut | JSONResponse:
    """200 when the database answers and at least one solve worker is up; else 503."""
    problems: list[ErrorDetail] = []
    checks: dict[str, str] = {}

    def ping_db() -> None:
        with db.read() as s:
            s.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping_db)
        checks["database"] = "ok"
    except Exception as exc:
        problems.append(ErrorDetail(loc="database", message=f"{type(exc).__name__}: {exc}"))
    try:
        ok, detail = await run_in_threadpool(runner.ready)
        checks["workers"] = detail
        if not ok:
            problems.append(ErrorDetail(loc="workers", message=detail))
    except Exception as exc:
        problems.append(ErrorDetail(loc="workers", message=f"{type(exc).__name__}: {exc}"))
    if problems:
        return error_response(503, "not_ready", "the service is not ready", problems)
    return HealthOut(status="ready", checks=checks)
