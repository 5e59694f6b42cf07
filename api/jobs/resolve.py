"""The re-solve job: an absence's repair of the published rota, stored, published if it still
may be, and told to the agency's webhook."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select as sql_select

from api.db import (
    DONE,
    FAILED,
    Absence,
    CoverCount,
    Database,
    Publication,
    RotaVersion,
    StoredProblem,
)
from api.documents import dumps
from api.jobs.child import SolveProcess
from api.jobs.claims import Claim, fail
from api.jobs.results import Repaired, save
from api.jobs.watch import Watched, overrun_deadline, watch
from api.jobs.webhook import notify
from api.settings import Settings
from solver.contract import Problem, Rota
from solver.options import SolveOptions


@dataclass(frozen=True)
class _Base:
    """The published version an absence's re-solve repairs, read when the job starts."""

    version_id: str
    rota: str
    problem_body: str
    absence: dict[str, str]
    counts: dict[str, int]


def _resolve_base(db: Database, c: Claim) -> _Base | str:
    """The period's published version now (not when the absence came in: another re-solve may
    have been published since), or why there is none."""
    assert c.absence_id is not None and c.resolve_now is not None
    with db.read() as s:
        period = s.execute(
            sql_select(
                StoredProblem.period_start, StoredProblem.period_end, StoredProblem.area
            ).where(StoredProblem.id == c.problem_id)
        ).one()
        version_id = s.scalar(
            sql_select(Publication.version_id)
            .where(
                Publication.agency_id == c.agency_id,
                Publication.period_start == period.period_start,
                Publication.period_end == period.period_end,
                Publication.area == period.area,
            )
            .order_by(Publication.id.desc())
            .limit(1)
        )
        if version_id is None:
            return "the period no longer has a published rota"
        row = s.execute(
            sql_select(RotaVersion.rota, StoredProblem.body)
            .join(StoredProblem, StoredProblem.id == RotaVersion.problem_id)
            .where(RotaVersion.id == version_id)
        ).one()
        absence = s.get_one(Absence, c.absence_id)
        month = c.resolve_now[:7]
        counts = {
            r.worker_id: r.count
            for r in s.scalars(
                sql_select(CoverCount).where(
                    CoverCount.agency_id == c.agency_id, CoverCount.month == month
                )
            )
        }
    return _Base(
        version_id=version_id,
        rota=row.rota,
        problem_body=row.body,
        absence={
            "worker": absence.worker_id,
            "start": absence.start,
            "end": absence.end,
            "reason": absence.reason,
        },
        counts=counts,
    )


def supervise_resolve(
    db: Database,
    settings: Settings,
    c: Claim,
    stopping: Callable[[], bool],
    requeue: Callable[[str], None],
) -> str:
    """An absence's re-solve: repair the published rota, store, publish, tell the webhook."""
    base = _resolve_base(db, c)
    if isinstance(base, str):
        fail(db, c, base)
        return FAILED
    assert c.resolve_now is not None
    month = c.resolve_now[:7]
    options = SolveOptions(time_limit=c.time_limit, seed=c.seed, workers=settings.solver_threads)
    repair = {
        "rota": base.rota,
        "absence": base.absence,
        "now": c.resolve_now,
        "counts": base.counts,
    }
    began = time.monotonic()

    def on_message(message: dict[str, Any]) -> str | None:
        if "rota" not in message:
            return None
        problem = Problem.model_validate(message["problem"])
        repaired = Repaired(
            base_id=base.version_id,
            problem_body=dumps(message["problem"]),
            changes=dumps(message["changes"]),
            covers=message["covers"],
            month=month,
        )
        rota = Rota.model_validate(message["rota"])
        published = save(
            db,
            c,
            problem,
            rota,
            status=DONE,
            source="resolve",
            elapsed=time.monotonic() - began,
            repair=repaired,
        )
        notify(db, settings, c, published, message["changes"])
        return DONE

    return watch(
        db,
        settings,
        c,
        SolveProcess(base.problem_body, options, repair),
        Watched(
            what="re-solve",
            answer="a rota",
            deadline=overrun_deadline(c.time_limit),
            cancelled_note="cancelled; the published rota is unchanged",
        ),
        on_message,
        stopping,
        requeue,
    )
