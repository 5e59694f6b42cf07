"""Storing a job's rota: the version, its documents and run sheets; a re-solve's publication."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select as sql_select
from sqlalchemy import update

from api.db import (
    CoverCount,
    Database,
    Job,
    Publication,
    RotaVersion,
    RunSheet,
    StoredProblem,
    new_id,
    utcnow,
)
from api.documents import build_documents, dumps
from api.jobs.claims import Claim, LostJob, mine
from solver.contract import Problem, Rota

log = logging.getLogger("carerota.jobs")


def save(
    db: Database,
    c: Claim,
    problem: Problem,
    rota: Rota,
    *,
    status: str,
    source: str,
    elapsed: float,
    note: str | None = None,
    repair: Repaired | None = None,
) -> bool:
    """Store the rota as this job's version with its documents, and end the job.

    For an absence's re-solve (``repair``) the same transaction stores the problem with the
    absence written in, publishes the version if the one it repaired is still the published one,
    and counts the cover requests. Returns whether it published.
    """
    docs = build_documents(problem, rota)
    rota_json = dumps(rota.model_dump(mode="json", exclude_none=True))
    now = utcnow()
    published = False
    with db.write() as s:
        problem_id = c.problem_id
        if repair is not None:
            stored = StoredProblem(
                id=new_id("problem"),
                agency_id=c.agency_id,
                name=problem.agency[:200],
                timezone=problem.timezone,
                period_start=problem.period.start,
                period_end=problem.period.end,
                visits=len(problem.visits),
                workers=len(problem.workers),
                body=repair.problem_body,
                # The repaired rota stays its area's (a publication is per period and area).
                area=_area(s, c.problem_id),
            )
            s.add(stored)
            s.flush()
            problem_id = stored.id
        done = s.execute(
            update(Job)
            .where(*mine(c))
            .values(
                problem_id=problem_id,
                parent_id=repair.base_id if repair is not None else Job.parent_id,
                status=status,
                finished_at=now,
                heartbeat_at=now,
                objective=rota.objective,
                bound=rota.best_bound,
                elapsed=elapsed,
                # The rota's own figures replace the last progress report's.
                visits_staffed=rota.metrics.visits_assigned if rota.metrics else None,
                travel_minutes=rota.metrics.travel_minutes if rota.metrics else None,
                carers_per_client=(
                    rota.metrics.mean_distinct_workers_per_client if rota.metrics else None
                ),
                # A retried job keeps its note ("the worker died during attempt 1...").
                note=note if note is not None else Job.note,
                progress_seq=Job.progress_seq + 1,
            )
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise LostJob(c.job_id)
        s.add(
            RotaVersion(
                id=c.job_id,
                agency_id=c.agency_id,
                problem_id=problem_id,
                changes=repair.changes if repair is not None else None,
                solver_status=rota.status,
                objective=rota.objective,
                best_bound=rota.best_bound,
                source=source,
                check_ok=docs.check_ok,
                breaches=docs.breaches,
                rota=rota_json,
                explanation=dumps(docs.explanation),
                created_at=now,
            )
        )
        # The version must exist before rows that point at it (PostgreSQL checks at once).
        s.flush()
        s.add_all(
            RunSheet(version_id=c.job_id, worker_id=w, agency_id=c.agency_id, body=dumps(sheet))
            for w, sheet in docs.run_sheets.items()
        )
        if repair is not None:
            published = _publish_repair(s, c, problem, repair, ok=docs.check_ok)
    if not docs.check_ok:
        log.error("job %s: the checker found %d breaches in the rota", c.job_id, docs.breaches)
    return published


@dataclass(frozen=True)
class Repaired:
    """What an absence's re-solve adds to its version: the new problem, changes, covers."""

    base_id: str  # the published version it repaired
    problem_body: str
    changes: str
    covers: dict[str, int]  # worker -> orphaned visits they were asked to take
    month: str  # YYYY-MM of the re-solve's "now": the month cover requests count in


def _publish_repair(s: Any, c: Claim, problem: Problem, repair: Repaired, *, ok: bool) -> bool:
    """Publish a re-solve's version over the one it repaired, and count its cover requests.

    Nothing is published when the rota breaks a rule, or when another version was published for
    the period while this one was solving (the office's choice wins; the job's note says so).
    """
    area = _area(s, c.problem_id)
    current = s.scalar(
        sql_select(Publication.version_id)
        .where(
            Publication.agency_id == c.agency_id,
            Publication.period_start == problem.period.start,
            Publication.period_end == problem.period.end,
            Publication.area == area,
        )
        .order_by(Publication.id.desc())
        .limit(1)
    )
    # One request per worker and re-solve, however many of the orphaned visits they take: it is
    # the phone call that wears people out.
    for worker in sorted(repair.covers):
        row = s.get(CoverCount, (c.agency_id, worker, repair.month))
        if row is None:
            s.add(CoverCount(agency_id=c.agency_id, worker_id=worker, month=repair.month, count=1))
        else:
            row.count += 1
    if not ok or current != repair.base_id:
        why = "it breaks a rule" if not ok else f"{current} was published meanwhile"
        s.execute(update(Job).where(Job.id == c.job_id).values(note=f"not published: {why}"))
        return False
    s.add(
        Publication(
            agency_id=c.agency_id,
            version_id=c.job_id,
            period_start=problem.period.start,
            period_end=problem.period.end,
            area=area,
        )
    )
    return True


def _area(s: Any, problem_id: str) -> str:
    """The area of a stored problem ("" for the whole agency)."""
    area: str | None = s.scalar(
        sql_select(StoredProblem.area).where(StoredProblem.id == problem_id)
    )
    return area or ""
