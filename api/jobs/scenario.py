"""What-if scenario jobs: a scenario's base and variants solved in a child, the comparison stored.

A scenario job's row keeps the YAML as submitted (``jobs.scenario``) and its base problem as
``jobs.problem_id``, resolved when the job was submitted (a rota's problem, a bundled agency or
a problem written inline), so the worker reads no files. The variants are solved one after
another by :func:`scenarios.whatif.run_scenario` in a forked child
(:class:`api.jobs.child.SolveProcess` with other work): Celery's and the local pool's processes
are daemonic and cannot start a pool of their own, and a child can be killed wherever CP-SAT is
when the job is cancelled or overruns.
:func:`api.jobs.watch.watch` supervises it like an absence's re-solve.

``jobs.result`` holds the progress while the job runs (:func:`progress_document`) and the
comparison once it is done (:func:`result_document`), written with status ``done`` in one
transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import select

from api.db import DONE, FAILED, Database, Job, utcnow
from api.documents import dumps
from api.jobs.child import SolveProcess, Work
from api.jobs.claims import Claim, fail, touch
from api.jobs.watch import Watched, overrun_deadline, watch
from api.settings import Settings
from scenarios.whatif import (
    WALL_SLACK,
    Comparison,
    Scenario,
    ScenarioError,
    parse_scenario,
    run_scenario,
)
from solver.contract import Problem
from solver.options import SolveOptions

# The file name scenario errors give: "scenario:12: variants[0].changes[1]...".
SOURCE: Final = "scenario"


def progress_document(scenario: Scenario, done: int) -> str:
    """``jobs.result`` while the job runs: the scenario's name and how far it has got."""
    return dumps(
        {
            "name": scenario.name,
            "question": scenario.question,
            "done": done,
            "total": scenario.solves,
        }
    )


def result_document(comparison: Comparison) -> dict[str, Any]:
    """``jobs.result`` once done: the comparison, each variant with the problem it solved
    (the comparison leaves problems out; the API serves them beside each rota)."""
    doc = comparison.model_dump(mode="json")
    for out, variant in zip(doc["variants"], comparison.variants, strict=True):
        assert variant.problem is not None
        out["problem"] = variant.problem.model_dump(mode="json", exclude_none=True)
    return doc


def deadline(scenario: Scenario, time_limit: float) -> float:
    """Seconds after which a scenario job is killed: a reproducible variant may run up to
    ``WALL_SLACK`` times its limit on a busy machine, for every rota the run makes."""
    return overrun_deadline(scenario.solves * WALL_SLACK * time_limit)


def _variants(scenario: Scenario) -> Work:
    """The child's work: solve the base and every variant, reporting each one done."""

    def work(base: Problem, options: SolveOptions, send: Callable[[dict[str, Any]], None]) -> None:
        def progress(done: int, _total: int, elapsed: float, _expected: float) -> None:
            send({"progress": [done, elapsed]})

        comparison = run_scenario(
            scenario.model_copy(update={"base": base}),
            time_limit=options.time_limit,
            processes=1,  # here, one after another: this child must not start a pool
            progress=progress,
        )
        send({"comparison": result_document(comparison)})

    return work


def supervise_scenario(
    db: Database,
    settings: Settings,
    c: Claim,
    stopping: Callable[[], bool],
    requeue: Callable[[str], None],
) -> str:
    """Run the claimed scenario job to its end and return its final status."""
    with db.read() as s:
        text = s.scalar(select(Job.scenario).where(Job.id == c.job_id))
    assert text is not None
    try:
        scenario = parse_scenario(text, SOURCE)
    except ScenarioError as exc:  # it was read when submitted: the scenario code has changed
        fail(db, c, f"the scenario no longer reads: {exc}")
        return FAILED
    began = time.monotonic()

    def on_message(message: dict[str, Any]) -> str | None:
        if "progress" in message:
            done, elapsed = message["progress"]
            touch(
                db,
                c,
                elapsed=elapsed,
                result=progress_document(scenario, done),
                progress_seq=Job.progress_seq + 1,
            )
            return None
        if "comparison" in message:
            touch(
                db,
                c,
                status=DONE,
                result=dumps(message["comparison"]),
                finished_at=utcnow(),
                elapsed=time.monotonic() - began,
                progress_seq=Job.progress_seq + 1,
            )
            return DONE
        return None

    # Only the time limit reaches the work: run_scenario sets each variant's own options.
    options = SolveOptions(time_limit=c.time_limit, seed=c.seed, workers=1)
    return watch(
        db,
        settings,
        c,
        SolveProcess(c.problem_body, options, work=_variants(scenario)),
        Watched(
            what="scenario",
            answer="the comparison",
            deadline=deadline(scenario, c.time_limit),
            cancelled_note="cancelled; no comparison was kept",
        ),
        on_message,
        stopping,
        requeue,
    )
