"""Compile the engine's kernels, or load them from numba's cache, before any solve needs them.

The first call after an install compiles every kernel (four to five minutes on a 2-core machine,
one core busy elsewhere) and writes the cache beside the package; later processes load it in
about a second. The service calls :func:`warm` before it forks its solve processes and Celery
workers before their pool forks, so no solve (and no sick-call re-solve) pays either; ``make``
calls it after installing.

Usage: ``python -m solver.engine.warm [--jobs 2]`` (prints the seconds it took; ``make`` compiles
in two processes).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from solver.contract import Problem
from solver.data import build
from solver.engine.search import Engine

# Two carers and a coordinator, a double-up and a visit linked to another (by different workers):
# every kernel runs.
_TINY = {
    "timezone": "Europe/London",
    "period": {"start": "2026-11-30", "end": "2026-11-30"},
    "workers": [
        {
            "id": f"w{i}",
            "role": "coordinator" if i == 2 else "carer",
            "home": {"lat": 53.79, "lon": -1.55},
            "shifts": [{"start": "2026-11-30T07:00", "end": "2026-11-30T13:00"}],
        }
        for i in range(3)
    ],
    "clients": [
        {"id": "c0", "location": {"lat": 53.80, "lon": -1.55}, "coordinator": "w2"},
        {"id": "c1", "location": {"lat": 53.81, "lon": -1.55}},
    ],
    "visits": [
        {
            "id": "v0",
            "client": "c0",
            "earliest_start": "2026-11-30T08:00",
            "latest_start": "2026-11-30T08:30",
            "duration_minutes": 30,
            "workers_required": 2,
        },
        {
            "id": "v1",
            "client": "c1",
            "earliest_start": "2026-11-30T09:00",
            "latest_start": "2026-11-30T10:00",
            "duration_minutes": 30,
        },
        {
            "id": "v2",
            "client": "c1",
            "earliest_start": "2026-11-30T11:00",
            "latest_start": "2026-11-30T12:00",
            "duration_minutes": 30,
            "after": {
                "visit": "v1",
                "min_minutes": 60,
                "max_minutes": 180,
                "distinct_workers": True,
            },
        },
    ],
}


def _tiny() -> Engine:
    return Engine(build(Problem.model_validate(_TINY)))


def _compile(part: str) -> None:
    """Compile one part of the kernels (and write them to the cache): the annealing's, or the
    construction's and the repair's. Numba compiles a kernel with everything it calls when it
    is first typed, so the part's kernels need only be called, not run on any real work."""
    engine = _tiny()
    if part == "anneal":
        engine.anneal(1, seed=0)
    else:
        engine.construct()
        engine.repair(list(range(engine.data.n_visits)), clear=True)


def warm(jobs: int = 1) -> float:
    """Run every kernel once on a tiny agency; the seconds it took.

    With ``jobs`` 2, an install's first compilation runs in two processes first, the annealing's
    kernels in one and the rest in the other (the kernels both call are compiled twice), and
    this process then loads them from the cache.
    """
    began = time.monotonic()
    if jobs > 1:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
            list(pool.map(_compile, ["anneal", "rest"]))
    engine = _tiny()
    engine.construct()
    engine.anneal(500, seed=0)
    engine.repair(list(range(engine.data.n_visits)), clear=True)
    return time.monotonic() - began


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Compile the route engine's kernels, or load them.")
    ap.add_argument(
        "--jobs", type=int, choices=[1, 2], default=1, help="processes for a first compilation"
    )
    args = ap.parse_args(argv)
    sys.stdout.write(f"carerota: route engine ready in {warm(args.jobs):.1f} s\n")


if __name__ == "__main__":
    main()
