"""What a caller tells a solve: its options, and the callbacks for progress and cancelling.

These live apart from :mod:`solver.solve` so that the search (:mod:`solver.search`), which
:mod:`solver.solve` calls, can use them without importing its own caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# (elapsed seconds, objective, best bound) on every improvement.
Progress = Callable[[float, float, float], None]
# Asked between search steps: True ends the search early with the best rota so far.
StopRequest = Callable[[], bool]


@dataclass(frozen=True)
class SolveOptions:
    time_limit: float = 30.0
    seed: int = 0
    workers: int = 2
    method: str = "cpsat"  # "cpsat" or "heuristic"
    log: bool = False
    # CP-SAT deterministic time to spend; None: 0.6 units per second of ``time_limit``. Set it to
    # make a run reproducible on any machine, however loaded (``time_limit`` still caps it).
    effort: float | None = None
