"""What a caller tells a solve: its options, and the callbacks for progress and cancelling.

These live apart from :mod:`solver.solve` so that the search (:mod:`solver.search`), which
:mod:`solver.solve` calls, can use them without importing its own caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Engine move evaluations per second of time limit when no ``moves`` are given: below what one
# core of a 2-core machine does on the medium agency with the other core busy, so the effort,
# not the clock, ends a run (docs/search.md). It was 8,000 until the kernels stopped counting
# references (2026-12-07): about 76,000 a CPU second there now, 7,000 then.
MOVES_PER_SECOND = 20_000
# CP-SAT deterministic time units per second of time limit: CP-SAT does about 0.7-0.9 a second
# here, so the deterministic budget, not the wall clock, normally ends the search (reproducible).
DTIME_PER_SECOND = 0.6


@dataclass(frozen=True)
class Figures:
    """The best rota so far in a coordinator's words: what the board shows while a solve runs
    (the objective and bound are the optimiser's, for a details panel)."""

    visits_staffed: int
    visits_total: int
    travel_minutes: float  # between visits, every worker
    carers_per_client: float  # mean different workers attending a client who has a visit staffed


class Progress(Protocol):
    """Told of every improvement: (elapsed seconds, objective, best bound, and the figures
    where the search has the rota at hand; the route engine reports without them)."""

    def __call__(
        self, elapsed: float, objective: float, bound: float, figures: Figures | None = None, /
    ) -> None: ...


# Asked between search steps: True ends the search early with the best rota so far.
StopRequest = Callable[[], bool]


@dataclass(frozen=True)
class SolveOptions:
    time_limit: float = 30.0
    seed: int = 0
    # Cores the solve may use: CP-SAT's search workers and the engine's walkers (each walker
    # makes ``moves``; the rota depends on this number, not on how many cores the machine has).
    workers: int = 2
    # "engine": the route engine, then CP-SAT (see solver/engine/run.py); "cpsat": CP-SAT's
    # neighbourhood search alone; "heuristic": the construction alone.
    method: str = "engine"
    log: bool = False
    # CP-SAT deterministic time to spend; None: 0.6 units per second of ``time_limit``. Set it to
    # make a run reproducible on any machine, however loaded (``time_limit`` still caps it).
    effort: float | None = None
    # Engine move evaluations to spend; None: as many as ``effort`` stands for (MOVES_PER_SECOND
    # per DTIME_PER_SECOND units), else a fixed number per second of ``time_limit``.
    moves: int | None = None
    # Plan each client's care team first (solver/teams.py) and let it guide the engine; the
    # rota then carries the teams. Off by default: the team model takes seconds to a minute.
    teams: bool = False


def engine_moves(options: SolveOptions) -> int:
    """The move evaluations a solve's engine may spend.

    Given an ``effort``, the engine's budget follows it rather than the time limit: a run with
    a small effort and a generous time limit (a reproducible test, a benchmark) is then as
    short as its effort says, and its length never depends on the clock.
    """
    if options.moves is not None:
        return options.moves
    if options.effort is not None:
        return round(options.effort / DTIME_PER_SECOND * MOVES_PER_SECOND)
    return round(options.time_limit * MOVES_PER_SECOND)
