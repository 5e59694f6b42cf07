"""The solvers people would pick instead, on the same problem, as rotas for our checker.

PyVRP (the optional ``peers`` extra) and the OR-Tools routing library each get a contract
problem as a plain VRP with time windows: one vehicle per worker shift, starting and ending at
the worker's home and open over the shift; one client per visit with its on-time window
``[earliest, latest]`` (hard) and duration; travel only as the cost. Neither sees continuity, the
coordinator rule, caps or double-ups (:func:`single_agency` removes double-ups so that every visit
can be expressed). Integer data for both: minutes x ``UNITS``, travel rounded up, so a peer's
schedule stays feasible with the exact travel. Their routes come back as rotas, timed as early as
the order allows with the exact travel, and go through the same checker as ours.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

import numpy as np
from numpy.typing import NDArray

from scenarios.generator import SIZES, generate
from solver.contract import Assignment, CoordinatorVisit, Problem, Rota, Unassigned
from solver.data import ProblemData, build

UNITS = 100  # integer time and distance units per minute
UNSTAFFED_PRIZE = 10**9
UNSTAFFED = "the peer solver left it out"
# (problem, time limit in seconds, seed) -> rota
Peer = Callable[[Problem, float, int], Rota]


def single_agency(size: str, seed: int, *, continuity: bool = True) -> Problem:
    """A generated agency a plain VRP with time windows can express whole: no double-ups, and no
    skills, gender preferences, exclusions, pins or travel modes, so any carer may take any
    visit their shifts can hold. Familiar carers and history stay: only we are asked to keep
    continuity, and not at all without ``continuity`` (new and unfamiliar faces cost nothing).

    The way from and to home is priced like travel between visits (the contract's default
    prices it at nothing): the peers' routes pay for it, and the table counts it."""
    raw = generate(SIZES[size], seed)
    doubles = {v["id"] for v in raw["visits"] if v.get("workers_required", 1) > 1}
    raw["visits"] = [v for v in raw["visits"] if v["id"] not in doubles]
    for v in raw["visits"]:
        if v.get("after", {}) and v["after"]["visit"] in doubles:
            del v["after"]
        v["skills"], v["pinned_workers"] = [], []
    for w in raw["workers"]:
        w["skills"], w["travel_mode"] = [], "car"
    for c in raw["clients"]:
        c["excluded_workers"], c["gender_preference"] = [], None
    weights = raw.setdefault("weights", {})
    weights["home_travel_minute"] = weights.get("travel_minute", 1.0)
    if not continuity:
        weights["distinct_worker"] = weights["unfamiliar_worker"] = 0.0
    return Problem.model_validate(raw)


def _vehicles(data: ProblemData) -> list[tuple[int, int]]:
    """(worker, shift) for every shift of every worker."""
    return [(int(data.shift_worker[h]), h) for h in range(len(data.shift_worker))]


def _leg(data: ProblemData, w: int, a: int, b: int) -> float:
    return float(data.travel_exact[int(data.worker_mode[w]), a, b])


def to_rota(data: ProblemData, routes: dict[tuple[int, int], list[int]]) -> Rota:
    """Routes (visit indices per (worker, shift)) as a rota, each visit as early as it can start."""
    plan: dict[int, tuple[int, float]] = {}
    for (w, h), order in routes.items():
        # The way from home takes no time in the contract: rule 4 binds between visits only.
        now, here = float(data.shift_start[h]), int(data.worker_place[w])
        for k, v in enumerate(order):
            place = data.visit_place(v)
            leg = _leg(data, w, here, place) if k else 0.0
            start = max(now + leg, float(data.earliest[v]))
            plan[v] = (w, start)
            now, here = start + float(data.duration[v]), place
    clock = data.clock
    assignments = [
        Assignment(
            visit=data.visit_ids[v],
            workers=[data.worker_ids[w]],
            start=(clock.origin + timedelta(seconds=round(start * 60)))
            .astimezone(clock.zone)
            .replace(tzinfo=None),
        )
        for v, (w, start) in sorted(plan.items())
    ]
    unassigned = [
        Unassigned(visit=data.visit_ids[v], reason=UNSTAFFED)
        for v in range(data.n_visits)
        if v not in plan
    ]
    # A coordinator counted on a visit covers it (the contract lists that separately).
    covers = [
        CoordinatorVisit(visit=data.visit_ids[v], coordinator=data.worker_ids[w], mode="cover")
        for v, (w, _) in sorted(plan.items())
        if data.is_coordinator[w]
    ]
    return Rota(
        status="feasible",
        assignments=assignments,
        coordinator_visits=covers,
        unassigned=unassigned,
    )


def _units(minutes: float) -> int:
    return math.ceil(minutes * UNITS - 1e-6)


def pyvrp_rota(problem: Problem, time_limit: float, seed: int) -> Rota:
    """PyVRP's best routes in ``time_limit`` seconds. Every worker must be able to do every visit
    (PyVRP has no per-visit vehicle compatibility short of one distance profile per worker)."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    data = build(problem)
    if not (data.allowed & data.skilled).all() or len(set(data.worker_mode)) > 1:
        raise ValueError(
            "the PyVRP peer needs every worker allowed and skilled for every visit, one travel mode"
        )
    model = pyvrp.Model()
    places = sorted({int(data.worker_place[w]) for w in range(data.n_workers)})
    depot_of = {p: model.add_depot(model.add_location(0, 0)) for p in places}
    vehicles = _vehicles(data)
    for w, h in vehicles:
        depot = depot_of[int(data.worker_place[w])]
        model.add_vehicle_type(
            start_depot=depot,
            end_depot=depot,
            tw_early=int(data.shift_start[h]) * UNITS,
            tw_late=int(data.shift_end[h]) * UNITS,
        )
    for v in range(data.n_visits):
        model.add_client(
            model.add_location(0, 0),
            service_duration=int(data.duration[v]) * UNITS,
            tw_early=int(data.earliest[v]) * UNITS,
            tw_late=int(data.latest[v]) * UNITS,
            # Optional at a prize far above any route: no shift may hold a visit, and then it
            # is left unstaffed, as in our rotas, instead of making the whole problem infeasible.
            prize=UNSTAFFED_PRIZE,
            required=False,
        )
    # Locations in insertion order: the depots, then one per visit.
    node_place = places + [data.visit_place(v) for v in range(data.n_visits)]
    table = data.travel_exact[int(data.worker_mode[0])][np.ix_(node_place, node_place)]
    n_depots = len(places)
    for i, a in enumerate(model.locations):
        for j, b in enumerate(model.locations):
            if i != j:
                cost = _units(float(table[i, j]))
                # Home legs cost travel but take no time in the contract (rule 4 is between visits).
                home = i < n_depots or j < n_depots
                model.add_edge(a, b, distance=cost, duration=0 if home else cost)
    result = model.solve(MaxRuntime(time_limit), seed=seed, display=False)
    routes = {
        vehicles[route.vehicle_type()]: [int(a.idx) for a in route if a.is_client()]
        for route in result.best.routes()
    }
    return to_rota(data, routes)


def ortools_rota(problem: Problem, time_limit: float, seed: int) -> Rota:
    """OR-Tools routing (parallel cheapest insertion, then guided local search) in ``time_limit``.

    Visits a worker may not do are closed to that worker's vehicles; a visit may be dropped at a
    penalty far above any route's cost. ``seed`` is unused: the routing search is deterministic.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    del seed
    data = build(problem)
    vehicles = _vehicles(data)
    n_v = data.n_visits
    # Nodes: one start and one end per vehicle, then the visits.
    starts = list(range(len(vehicles)))
    ends = [len(vehicles) + k for k in range(len(vehicles))]
    first = 2 * len(vehicles)
    place = [int(data.worker_place[w]) for w, _ in vehicles] * 2
    place += [data.visit_place(v) for v in range(n_v)]
    duration = [0] * first + [int(data.duration[v]) for v in range(n_v)]
    manager = pywrapcp.RoutingIndexManager(first + n_v, len(vehicles), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    tables = {
        m: np.ceil(data.travel_exact[m][np.ix_(place, place)] * UNITS - 1e-6).astype(np.int64)
        for m in {int(data.worker_mode[w]) for w, _ in vehicles}
    }
    cost_cb: dict[int, int] = {}
    time_cb: dict[int, int] = {}
    for m, table in tables.items():

        def travel(i: int, j: int, table: NDArray[np.int64] = table) -> int:
            return int(table[manager.IndexToNode(i), manager.IndexToNode(j)])

        def transit(i: int, j: int, table: NDArray[np.int64] = table) -> int:
            a, b = int(manager.IndexToNode(i)), int(manager.IndexToNode(j))
            # Home legs cost travel but take no time in the contract (rule 4 is between visits).
            leg = 0 if a < first or b < first else int(table[a, b])
            return leg + duration[a] * UNITS

        cost_cb[m] = routing.RegisterTransitCallback(travel)
        time_cb[m] = routing.RegisterTransitCallback(transit)
    modes = [int(data.worker_mode[w]) for w, _ in vehicles]
    for k, m in enumerate(modes):
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[m], k)
    horizon = int(data.day_start[-1]) * UNITS
    routing.AddDimensionWithVehicleTransits(
        [time_cb[m] for m in modes], horizon, horizon, False, "time"
    )
    time_dim = routing.GetDimensionOrDie("time")
    for k, (_, h) in enumerate(vehicles):
        lo, hi = int(data.shift_start[h]) * UNITS, int(data.shift_end[h]) * UNITS
        time_dim.CumulVar(routing.Start(k)).SetRange(lo, hi)
        time_dim.CumulVar(routing.End(k)).SetRange(lo, hi)
    allowed = {
        w: [k for k, (vw, _) in enumerate(vehicles) if vw == w] for w in range(data.n_workers)
    }
    penalty = max(int(t.max()) for t in tables.values()) * 1000 + 10**6
    for v in range(n_v):
        index = manager.NodeToIndex(first + v)
        time_dim.CumulVar(index).SetRange(
            int(data.earliest[v]) * UNITS, int(data.latest[v]) * UNITS
        )
        # Only vehicles of a worker whose shift can hold the visit and who may be counted on it.
        ok = [
            k
            for w in data.candidates[v]
            for k in allowed[w]
            if vehicles[k][1] == data.visit_shift[v][w]
        ]
        if not ok:
            routing.ActiveVar(index).SetValue(0)
        elif len(ok) < len(vehicles):
            # -1 is "left out"; SetAllowedVehiclesForIndex's binding is broken in 9.15.
            routing.VehicleVar(index).SetValues([-1, *ok])
        routing.AddDisjunction([index], penalty)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(time_limit * 1000))
    solution = routing.SolveWithParameters(params)
    routes: dict[tuple[int, int], list[int]] = {}
    if solution is not None:
        for k, key in enumerate(vehicles):
            index = routing.Start(k)
            order = []
            while not routing.IsEnd(index):
                node = manager.IndexToNode(index)
                if node >= first:
                    order.append(node - first)
                index = solution.Value(routing.NextVar(index))
            if order:
                routes[key] = order
    return to_rota(data, routes)


PEERS: dict[str, Peer] = {"pyvrp": pyvrp_rota, "ortools": ortools_rota}
