"""The search: a whole-period CP-SAT model when it is small, large-neighbourhood search otherwise.

How the pieces fit: the construction heuristic gives a complete feasible rota. A *neighbourhood*
frees a set of visits and the workers who may take them (one day and a group of nearby workers;
one client's week and the carers who know them; one coordinator's open clients); everything else
is fixed and enters the CP-SAT model (:mod:`solver.model`) as constants, so the week-level terms
(continuity, contract hours, caps, the coordinator rule) stay exact. Each sub-model starts from the
current rota as a complete hint, runs for a short deterministic budget, and its answer replaces the
current rota when the exact objective (recomputed by :func:`solver.rota.account`) is no worse.

Determinism: each sub-solve is limited in CP-SAT's deterministic time and the whole search by a
deterministic budget proportional to ``time_limit``; the wall clock only cuts a run short on a
machine far slower or busier than the calibration, so the same seed and workers give the same rota.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from solver.bounds import lower_bound
from solver.contract import Status
from solver.data import FloatArray, ProblemData, scaled
from solver.model import SCALE, Neighbourhood, RotaModel
from solver.options import DTIME_PER_SECOND, Progress, SolveOptions, StopRequest
from solver.rota import Account, Solution, account, figures

log = logging.getLogger("carerota.search")

# Beyond this many candidate (visit, worker) pairs per shift, squared, the whole model is too big.
FULL_MODEL_ARCS = 25_000
# Small neighbourhoods solved often beat large ones solved rarely: on the sample agencies three
# workers and half a deterministic second per step staffed the most visits (see docs/search.md).
SUB_DTIME = 0.5
HOOD_WORKERS = 3
# The adaptive size never grows past this many workers (wide steps excepted).
MAX_HOOD_WORKERS = 8
TRADE_SHARE = 0.5
# After this many steps without improvement, one wide step (up to WIDE_WORKERS workers).
STALE_STEPS = 15
WIDE_WORKERS = 12
# Steps a minute of the whole model where travel is fractional: seconds, as the contract allows.
SECONDS = 60


def in_units(sol: Solution, unit: int) -> Solution:
    """``sol`` with its starts in ``unit`` steps a minute: to the second where ``sol`` knows
    them (the engine's rotas on fractional travel), else its whole minutes."""
    out = sol.copy()
    out.start = {
        v: sol.seconds[v] * unit // SECONDS if v in sol.seconds else s * unit
        for v, s in sol.start.items()
    }
    out.seconds = {}
    return out


def from_units(sol: Solution, unit: int) -> Solution:
    """A solution in ``unit`` steps a minute back in whole minutes, seconds kept."""
    out = sol.copy()
    out.start = {v: s // unit for v, s in sol.start.items()}
    if unit > 1:
        out.seconds = {v: s * SECONDS // unit for v, s in sol.start.items()}
    return out


def estimated_arcs(data: ProblemData, visits: list[int], workers: set[int]) -> int:
    per_shift: dict[int, int] = defaultdict(int)
    for v in visits:
        for w, h in data.visit_shift[v].items():
            if w in workers and (data.can_count(v, w) or data.is_coordinator[w]):
                per_shift[h] += 1
    return sum(n * n for n in per_shift.values())


class Search:
    def __init__(
        self,
        data: ProblemData,
        options: SolveOptions,
        progress: Progress | None,
        started: float,
        should_stop: StopRequest | None = None,
    ) -> None:
        self.data, self.options, self.progress = data, options, progress
        self.stoppable = should_stop is not None
        self.should_stop = should_stop or (lambda: False)
        self.rng = random.Random(options.seed)
        self.t0 = started
        # Writing the rota and its reasons takes about 0.2 ms a visit; leave room for it.
        self.wall_limit = max(0.5, options.time_limit - 0.0002 * data.n_visits)
        self.dtime = 0.0
        self.steps = 0
        self.visits_by_day = [np.flatnonzero(data.visit_day == d) for d in range(len(data.days))]

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def sub_solve(
        self,
        hood: Neighbourhood,
        sol: Solution,
        dtime: float,
        wall: float,
        whole: bool = False,
        acc: Account | None = None,
        data: ProblemData | None = None,
    ) -> tuple[Solution | None, bool, cp_model.CpSolver]:
        """Solve one neighbourhood of ``sol`` (``acc``: its account, if known; ``data``: the
        problem in other time units, ``sol`` in the same units).

        Returns its solution or None, whether it was proven optimal, and the solver.
        """
        model = RotaModel(data or self.data, sol, hood, acc)
        model.hint(sol)
        solver = cp_model.CpSolver()
        p = solver.parameters
        # Neighbourhoods are small: one worker each, many of them, beats interleaved workers.
        p.num_workers = max(1, self.options.workers) if whole else 1
        p.random_seed = self.options.seed
        p.max_deterministic_time = dtime
        p.max_time_in_seconds = max(0.1, wall)
        p.log_search_progress = self.options.log
        if whole:
            # Interleaved search runs CP-SAT's whole portfolio, its routing LNS included, in
            # deterministic batches even on one thread; a lone default worker only creeps down
            # a minute of lateness at a time (Mankowska B5 at 60 s: 752 against 367).
            p.interleave_search = True
        if whole and self.stoppable:
            status = self._solve_stoppable(solver, model.model)
        else:
            status = solver.solve(model.model)
        self.dtime += solver.response_proto.deterministic_time + 0.02
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return model.read(solver), status == cp_model.OPTIMAL, solver
        return None, False, solver

    def _solve_stoppable(self, solver: cp_model.CpSolver, model: cp_model.CpModel) -> Any:
        """A long whole-period solve that a stop request can end early."""
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.25):
                if self.should_stop():
                    solver.stop_search()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            return solver.solve(model)
        finally:
            done.set()
            watcher.join()

    # -- neighbourhoods ------------------------------------------------------------------------

    def day_hood(self, sol: Solution, size: int) -> Neighbourhood:
        """One day, a seed worker and the workers whose routes that day lie nearest theirs."""
        d = self.data
        unstaffed_days = [int(d.visit_day[v]) for v in range(d.n_visits) if v not in sol.start]
        day = (
            self.rng.choice(unstaffed_days)
            if unstaffed_days and self.rng.random() < 0.5
            else self.rng.randrange(len(d.days))
        )
        on_day = [
            w
            for w in range(d.n_workers)
            if any(
                d.day_start[day] <= d.shift_start[h] < d.day_start[day + 1]
                for h in d.worker_shifts[w]
            )
        ]
        if not on_day:
            return Neighbourhood(frozenset(), frozenset())
        seed = self.rng.choice(on_day)
        where = self.day_centres(sol, day, on_day)
        gap = np.hypot(*(where - where[on_day.index(seed)]).T)
        near = [on_day[i] for i in sorted(range(len(on_day)), key=lambda i: (gap[i], on_day[i]))]
        near = near[:size]
        return Neighbourhood(frozenset(int(v) for v in self.visits_by_day[day]), frozenset(near))

    def day_centres(self, sol: Solution, day: int, workers: list[int]) -> FloatArray:
        """Where each worker's visits of ``day`` are, on average (home if they have none).

        Workers who share a depot (the research instances) are told apart only by their
        routes, and neighbouring routes are the ones worth freeing together.
        """
        problem = self.data.problem
        points: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for v in self.visits_by_day[day]:
            place = problem.clients[int(self.data.visit_client[v])].location
            for w in sol.workers.get(int(v), []):
                points[w].append((place.lat, place.lon))
        out = np.zeros((len(workers), 2))
        for i, w in enumerate(workers):
            home = problem.workers[w].home
            out[i] = np.mean(points[w], axis=0) if points.get(w) else (home.lat, home.lon)
        return out

    def unstaffed_hood(self, sol: Solution, size: int) -> Neighbourhood:
        """An unstaffed visit, the workers who could take it and their visits around that time."""
        d = self.data
        open_visits = [
            v
            for v in range(d.n_visits)
            if v not in sol.start and len(d.candidates[v]) >= d.required[v]
        ]
        if not open_visits:
            return self.day_hood(sol, size)
        v = self.rng.choice(open_visits)
        band = self.rng.choice((90, 150, 240))
        lo, hi = int(d.earliest[v]) - band, int(d.last_start[v]) + band
        # Rank candidates by how close they are at that time of day: the nearest of their own
        # visits within the band (or their home when they have none there).
        near = d.travel[0, d.visit_place(v)]
        where: dict[int, float] = {}
        for u, s in sol.start.items():
            if lo <= s <= hi:
                for w in sol.workers[u]:
                    where[w] = min(where.get(w, 1e9), float(near[d.visit_place(u)]))
        crew = sorted(
            d.candidates[v],
            key=lambda w: (
                where.get(w, float(near[d.worker_place[w]])) + self.rng.random() * 10,
                w,
            ),
        )[:size]
        day = self.visits_by_day[int(d.visit_day[v])]
        visits = day[(d.last_start[day] >= lo) & (d.earliest[day] <= hi)]
        return Neighbourhood(frozenset(int(u) for u in visits), frozenset(crew))

    def client_hood(self, sol: Solution, size: int, trade: bool) -> Neighbourhood:
        """A client's whole week with the carers who know them or see them now.

        With ``trade`` those carers' own weeks are free too, so they can swap clients: a
        carer can only take over a client's visit if their other visits can move out of the way.
        """
        d = self.data
        # Clients who see many faces are where continuity can be won back.
        faces: dict[int, set[int]] = defaultdict(set)
        for v, ws in sol.workers.items():
            faces[int(d.visit_client[v])].update(ws)
        weights = [len(faces.get(c, ())) ** 2 + 1 for c in range(d.n_clients)]
        c = self.rng.choices(range(d.n_clients), weights=weights)[0]
        visits = [int(v) for v in np.flatnonzero(d.visit_client == c)]
        team = {w for v in visits for w in sol.workers.get(v, [])}
        team |= {int(w) for w in np.flatnonzero(d.familiar[c])}
        k = int(d.client_coordinator[c])
        if k >= 0:
            team.add(k)
        team_list = sorted(team, key=lambda w: (self.rng.random(), w))[:size]
        if trade:
            chosen = set(team_list)
            visits += [v for v, ws in sol.workers.items() if chosen.intersection(ws)]
        return Neighbourhood(frozenset(visits), frozenset(team_list))

    def coordinator_hood(self, sol: Solution, acc: Account, size: int) -> Neighbourhood:
        """A coordinator's open clients on the coordinator's days, with the carers there."""
        d = self.data
        short = acc.shortfalls
        if not short:
            return self.day_hood(sol, size)
        k, c, _ = self.rng.choice(short)
        reachable = [int(v) for v in np.flatnonzero(d.visit_client == c) if k in d.visit_shift[v]]
        # The coordinator's own visits on those days are free too, so the model may trade one
        # client's coordinator visit for another's.
        days = {int(d.visit_day[v]) for v in reachable}
        own = [
            v
            for v, ws in sol.workers.items()
            if k in ws + sol.shadows.get(v, []) and int(d.visit_day[v]) in days
        ]
        visits = reachable + own
        carers = sorted({w for v in visits for w in sol.workers.get(v, []) if w != k})
        self.rng.shuffle(carers)
        return Neighbourhood(frozenset(visits), frozenset([*carers[: 2 * size], k]))

    # -- the loop ------------------------------------------------------------------------------

    def run(self, start: Solution) -> tuple[Solution, Status, float | None]:
        d, opts = self.data, self.options
        best, best_acc = start, account(d, start)
        # A twentieth of the time limit at most goes to proving coordinator visits impossible.
        share = 0.05 * opts.time_limit / max(1, len(d.requirements))
        bound = lower_bound(d, time_limit=min(0.5, share))
        self.report(best, best_acc, bound)
        every = frozenset(range(d.n_visits))
        all_workers = frozenset(range(d.n_workers))
        budget = opts.effort if opts.effort is not None else opts.time_limit * DTIME_PER_SECOND
        fractional = bool(np.any(d.travel_exact != np.floor(d.travel_exact)))
        if estimated_arcs(d, list(every), set(all_workers)) <= FULL_MODEL_ARCS:
            # Fractional travel rounded up to whole minutes costs up to a minute a leg, and
            # with lateness priced, those minutes are paid: the whole model then works in
            # seconds (Mankowska A3: 310.7 in minutes, the optimum 305.9 in seconds).
            fine = scaled(d, SECONDS) if fractional else d
            sol, optimal, solver = self.sub_solve(
                Neighbourhood(every, all_workers),
                in_units(best, fine.unit),
                budget,
                self.wall_limit - self.elapsed(),
                whole=True,
                acc=None if fractional else best_acc,
                data=fine,
            )
            scale = SCALE * fine.unit * fine.unit
            if sol is not None:
                sol = from_units(sol, fine.unit)
                acc = account(d, sol)
                obj = acc.objective
                if obj <= best_acc.objective:
                    best, best_acc = sol, acc
                best_obj = best_acc.objective
                proven = optimal and not fractional
                # The model leaves out what no neighbourhood can change (visits nobody can
                # staff); the exact objective minus the model's value is that constant.
                offset = obj - solver.objective_value / scale
                model_bound = solver.best_objective_bound / scale + offset
                bound = max(bound, min(model_bound, best_obj)) if not fractional else bound
                self.report(best, best_acc, bound)
                return best, "optimal" if proven else "feasible", bound
            return best, "feasible", bound
        size, stale = HOOD_WORKERS, 0
        # A bandit over the neighbourhood kinds: each kind's share is its base share times how
        # often it has improved the rota lately (a moving average, never quite zero).
        kinds = ("unstaffed", "day", "client", "coordinator")
        base = (0.4, 0.2, 0.25, 0.15)
        paid = [0.5] * len(kinds)
        while self.dtime < budget and self.elapsed() < self.wall_limit and not self.should_stop():
            step = SUB_DTIME
            kind = -1
            if stale >= STALE_STEPS:
                # Small neighbourhoods have stopped paying: one wide, longer step around an
                # unstaffed visit, with every worker who could take it.
                hood, step, stale = self.unstaffed_hood(best, WIDE_WORKERS), 4 * SUB_DTIME, 0
            else:
                shares = [b * (0.1 + p) for b, p in zip(base, paid, strict=True)]
                kind = self.rng.choices(range(len(kinds)), weights=shares)[0]
                if kinds[kind] == "unstaffed":
                    hood = self.unstaffed_hood(best, size)
                elif kinds[kind] == "day":
                    hood = self.day_hood(best, size)
                elif kinds[kind] == "client":
                    hood = self.client_hood(best, size, trade=self.rng.random() < TRADE_SHARE)
                else:
                    hood = self.coordinator_hood(best, best_acc, size)
            if not hood.visits:
                continue
            remaining = self.wall_limit - self.elapsed()
            sol, optimal, _ = self.sub_solve(
                hood, best, min(step, budget - self.dtime + 0.05), remaining, acc=best_acc
            )
            self.steps += 1
            stale += 1
            # Adaptive size: a neighbourhood proven optimal was too small to hold an
            # improvement, one that ran out of time too large.
            size = min(MAX_HOOD_WORKERS, size + 1) if optimal else max(2, size - 1)
            gain = 0.0
            if sol is not None:
                acc = account(d, sol)
                gain = best_acc.objective - acc.objective
                # Equal-cost moves are kept too: they let the search drift across plateaus.
                if gain > 1e-9 or (gain >= 0 and sol.start != best.start):
                    if gain > 1e-9:
                        stale = 0
                    best, best_acc = sol, acc
                    if gain > 1e-9:
                        self.report(best, best_acc, bound)
            if kind >= 0:
                paid[kind] = 0.8 * paid[kind] + 0.2 * (1.0 if gain > 1e-9 else 0.0)
        if opts.log:
            log.info(
                "%d neighbourhoods, %.1f deterministic time in %.1f s",
                self.steps,
                self.dtime,
                self.elapsed(),
            )
        return best, "feasible", bound

    def report(self, best: Solution, acc: Account, bound: float) -> None:
        if self.progress is not None:
            self.progress(self.elapsed(), acc.objective, bound, figures(self.data, best, acc))


def optimise(
    data: ProblemData,
    start: Solution,
    options: SolveOptions,
    progress: Progress | None = None,
    started: float | None = None,
    should_stop: StopRequest | None = None,
) -> tuple[Solution, Status, float | None]:
    """Improve ``start`` with CP-SAT until ``options.time_limit`` seconds after ``started``."""
    if options.log:
        log.info("%d visits, %d workers", data.n_visits, data.n_workers)
    began = time.monotonic() if started is None else started
    return Search(data, options, progress, began, should_stop).run(start)
