"""The solve job: progress written as it comes, the rota stored; a cancel keeps the best rota
found so far (or, failing that, the construction rota)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import update

from api.db import CANCELLED, DONE, Database, Job, utcnow
from api.jobs.child import SolveProcess
from api.jobs.claims import Claim, mine, touch
from api.jobs.results import save
from api.jobs.watch import POLL_SECONDS, Watched, overrun_deadline, watch
from api.settings import Settings
from solver.contract import Problem, Rota
from solver.options import SolveOptions

PROGRESS_SECONDS: Final = 0.5  # at most this often a progress write
FALLBACK_SECONDS: Final = 120.0  # time allowed for the construction rota of a cancelled solve
# A stopped search ends within a step and then writes its rota and reasons: seconds on a large
# agency. Past this the supervisor falls back to the construction rota.
STOP_SECONDS: Final = 30.0


def supervise_solve(
    db: Database,
    settings: Settings,
    c: Claim,
    stopping: Callable[[], bool],
    requeue: Callable[[str], None],
) -> str:
    """A solve: its progress written as it comes, its rota stored; a cancel keeps the best
    rota found so far."""
    problem = Problem.model_validate_json(c.problem_body)
    options = SolveOptions(
        time_limit=c.time_limit, seed=c.seed, workers=settings.solver_threads, method=c.method
    )
    began = time.monotonic()
    proc = SolveProcess(c.problem_body, options, start=c.start_rota)
    # (elapsed, objective, bound): the latest the child sent, and the latest written; with the
    # figures in words that came with the latest (none from the route engine's reports).
    latest: list[float] | None = None
    written: list[float] | None = None
    figures: dict[str, Any] = {}
    last_write = began - PROGRESS_SECONDS  # the first progress is written at once

    def on_message(message: dict[str, Any]) -> str | None:
        nonlocal latest
        if "progress" in message:
            latest = message["progress"]
            if "figures" in message:
                figures.update(message["figures"])
            return None
        if "rota" not in message:
            return None
        rota = Rota.model_validate(message["rota"])
        elapsed = time.monotonic() - began
        save(db, c, problem, rota, status=DONE, source="search", elapsed=elapsed)
        return DONE

    def on_tick(now: float) -> bool:
        nonlocal written, last_write
        if latest is None or latest == written or now - last_write < PROGRESS_SECONDS:
            return False
        elapsed, objective, bound = latest
        touch(
            db,
            c,
            elapsed=elapsed,
            objective=objective,
            bound=bound,
            visits_staffed=figures.get("visits_staffed"),
            travel_minutes=figures.get("travel_minutes"),
            carers_per_client=figures.get("carers_per_client"),
            progress_seq=Job.progress_seq + 1,
        )
        written, last_write = latest, now
        return True

    def on_cancel() -> str:
        taken = time.monotonic() - began
        kept = _stop_and_collect(proc)
        if kept is None:
            proc.kill()
            return _cancelled(db, c, problem, latest, taken)
        save(
            db,
            c,
            problem,
            kept,
            status=CANCELLED,
            source="search",
            elapsed=time.monotonic() - began,
            note=f"cancelled after {taken:.1f} s; kept the best rota found so far "
            f"(objective {kept.objective:g})",
        )
        return CANCELLED

    return watch(
        db,
        settings,
        c,
        proc,
        Watched(
            what="solve",
            answer="a rota",
            deadline=overrun_deadline(c.time_limit),
            cancelled_note="cancelled",
        ),
        on_message,
        stopping,
        requeue,
        on_tick=on_tick,
        on_cancel=on_cancel,
    )


def _stop_and_collect(proc: SolveProcess) -> Rota | None:
    """Ask a running solve to stop and hand back its best rota; None if it cannot."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGUSR1)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and not proc.finished:
        for message in proc.read(POLL_SECONDS):
            if "rota" in message:
                proc.wait()
                return Rota.model_validate(message["rota"])
            if "error" in message:
                return None
    return None


def _cancelled(
    db: Database, c: Claim, problem: Problem, latest: list[float] | None, elapsed: float
) -> str:
    """End a cancelled solve whose search could not hand back its rota, keeping one anyway.

    The fallback is the construction heuristic's rota: the search's starting point. The note
    says when the search had found better.
    """
    proc = SolveProcess(c.problem_body, SolveOptions(method="heuristic", seed=c.seed))
    try:
        deadline = time.monotonic() + FALLBACK_SECONDS
        while time.monotonic() < deadline:
            for message in proc.read(POLL_SECONDS):
                if "rota" in message:
                    rota = Rota.model_validate(message["rota"])
                    note = f"cancelled after {elapsed:.1f} s; kept the construction rota"
                    searched = latest[1] if latest is not None else None
                    kept = rota.objective
                    if searched is not None and kept is not None and searched < kept - 1e-6:
                        note += (
                            f" (objective {kept:g}); the search had reached {searched:g}, "
                            "but stopped without handing it back"
                        )
                    save(
                        db,
                        c,
                        problem,
                        rota,
                        status=CANCELLED,
                        source="construction",
                        elapsed=elapsed,
                        note=note,
                    )
                    return CANCELLED
                if "error" in message:
                    break
            if proc.finished:
                break
    finally:
        proc.kill()
    now = utcnow()
    with db.write() as s:
        s.execute(
            update(Job)
            .where(*mine(c))
            .values(status=CANCELLED, finished_at=now, note="cancelled; no rota could be kept")
        )
    return CANCELLED
