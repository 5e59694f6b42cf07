"""Published solutions (and peer solvers' routes) as contract rotas, for the checker to judge.

Two shapes come in: the JSON solutions of Ceschia et al. (``routes`` of ``caregiver_id`` and
``locations`` with ``patient``, ``service`` and ``arrival_time``, the service start), which carry
their own start times; and plain sequences of visits per worker (CVRPLIB ``Route #k: ...`` files,
or a peer solver's routes), which get the earliest start times their order allows.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from solver.contract import Assignment, MatrixTravel, Problem, Rota, Unassigned
from solver.importers.hhcrsp import MIDNIGHT, at, visit_id

NOT_IN_SOLUTION = "not in the converted solution"


def from_hhcrsp_json(problem: Problem, raw: dict[str, Any], zero: int = 0) -> Rota:
    """A Ceschia et al. JSON solution as a rota; start times kept to the second.

    ``zero`` is the instance time the problem's midnight stands for (:func:`hhcrsp.origin`).
    """
    crews: dict[str, list[str]] = defaultdict(list)
    starts: dict[str, float] = {}
    for route in raw["routes"]:
        worker = "cg" + route["caregiver_id"].removeprefix("c")
        for stop in route.get("locations", []):
            vid = visit_id(int(stop["patient"].removeprefix("p")), int(stop["service"][1:]))
            crews[vid].append(worker)
            starts.setdefault(vid, float(stop["arrival_time"]) - zero)
    return _rota(problem, {v: (crews[v], starts[v]) for v in crews})


def read_routes(text: str) -> list[list[str]]:
    """The routes of a CVRPLIB-style solution file (``Route #1: 5 3 7``), as visit ids ``c{n}``."""
    routes = []
    for line in text.splitlines():
        found = re.match(r"\s*Route\s*#\s*\d+\s*:(.*)", line, re.IGNORECASE)
        if found:
            routes.append([f"c{int(tok)}" for tok in found.group(1).split()])
    return routes


def from_routes(problem: Problem, routes: dict[str, list[str]]) -> Rota:
    """A rota for one-worker visits in the given order per worker, each started as early as it can.

    Times are exact (fractional matrix travel) and written to the nearest second, which rule 4
    tolerates. Only the problem's first shift per worker is used: this is for single-day imports
    and peer solvers' routes.
    """
    travel = _travel(problem)
    visits = {v.id: v for v in problem.visits}
    place = {v.id: v.client for v in problem.visits}
    plan: dict[str, tuple[list[str], float]] = {}
    for worker_id, order in routes.items():
        worker = next(w for w in problem.workers if w.id == worker_id)
        now = _minutes(worker.shifts[0].start)
        here = worker_id
        for vid in order:
            visit = visits[vid]
            arrive = now + travel(here, place[vid])
            start = max(arrive, _minutes(visit.earliest_start))
            plan[vid] = ([worker_id], start)
            now, here = start + visit.duration_minutes, place[vid]
    return _rota(problem, plan)


def _minutes(moment: Any) -> float:
    return float((moment - MIDNIGHT).total_seconds() / 60.0)


def _travel(problem: Problem) -> Any:
    spec = problem.travel
    if not isinstance(spec, MatrixTravel):
        raise ValueError("routes can only be timed for a matrix travel model")
    index = {p: i for i, p in enumerate(spec.places)}
    table = np.asarray(spec.minutes, dtype=np.float64)

    def leg(a: str, b: str) -> float:
        return 0.0 if a == b else float(table[index[a], index[b]])

    return leg


def _rota(problem: Problem, plan: dict[str, tuple[list[str], float]]) -> Rota:
    assignments = [
        Assignment(visit=v.id, workers=plan[v.id][0], start=at(plan[v.id][1]))
        for v in problem.visits
        if v.id in plan
    ]
    unassigned = [
        Unassigned(visit=v.id, reason=NOT_IN_SOLUTION) for v in problem.visits if v.id not in plan
    ]
    return Rota(status="feasible", assignments=assignments, unassigned=unassigned)


def load(fmt: str, problem: Problem, path: str | Path, zero: int = 0) -> Rota:
    """The solution file at ``path`` for an instance imported with format ``fmt``.

    ``zero``: the instance time the problem's midnight stands for (HHCRSP formats).
    """
    text = Path(path).read_text(encoding="utf-8")
    if fmt in ("mankowska", "hhcrsp-json"):
        return from_hhcrsp_json(problem, json.loads(text), zero)
    routes = read_routes(text)
    return from_routes(problem, {f"v{k}": r for k, r in enumerate(routes, start=1)})
