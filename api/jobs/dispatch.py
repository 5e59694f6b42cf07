"""Running a claimed job: the supervisor for each kind of job, and the one entry point."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from api.db import FAILED, RESOLVE, SCENARIO, SOLVE, Database
from api.jobs.claims import Claim, LostJob, claim, fail, internal_error
from api.jobs.resolve import supervise_resolve
from api.jobs.scenario import supervise_scenario
from api.jobs.solve import supervise_solve
from api.settings import Settings

log = logging.getLogger("carerota.jobs")

# A supervisor takes a claimed job to its final state and returns that state (``queued`` when a
# stopping worker handed it back).
Supervisor = Callable[[Database, Settings, Claim, Callable[[], bool], Callable[[str], None]], str]

SUPERVISORS: Final[dict[str, Supervisor]] = {
    SOLVE: supervise_solve,
    RESOLVE: supervise_resolve,
    SCENARIO: supervise_scenario,
}


def run_job(
    db: Database,
    settings: Settings,
    job_id: str | None = None,
    *,
    stopping: Callable[[], bool] = lambda: False,
    requeue: Callable[[str], None] = lambda _job_id: None,
) -> str | None:
    """Claim a job (``job_id``, or the oldest queued) and take it to a final state.

    This is the one function both runners call. Returns the job's final status, ``queued`` if
    ``stopping()`` turned true and the job was handed back (``requeue`` is then told, so a Celery
    pool can send it again), or None if there was no job to claim.
    """
    c = claim(db, job_id)
    if c is None:
        return None
    log.info("job %s: attempt %d by %s", c.job_id, c.attempt, c.owner)
    try:
        return SUPERVISORS[c.kind](db, settings, c, stopping, requeue)
    except LostJob:
        log.warning("job %s: no longer ours; leaving it", c.job_id)
        return None
    except Exception:
        fail(db, c, f"the job failed: {internal_error()}")
        return FAILED
