"""The engine's driver: construction, simulated annealing in deterministic chunks, the result.

Effort is counted in move evaluations, not seconds: the same seed and effort give the same rota
on any machine. The wall clock and a stop request are only looked at between chunks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from solver.data import ProblemData
from solver.engine import kernels as k
from solver.engine.state import (
    RESOLVE_TERMS,
    TERMS,
    Anchor,
    Consts,
    State,
    anchored,
    consts,
    empty_state,
    fill,
    route_capacity,
    routes_of,
)
from solver.engine.state import solution_of as _solution_of
from solver.rota import Solution

log = logging.getLogger("carerota.engine")

MOVE_NAMES = (
    "insert",
    "relocate",
    "swap",
    "2-opt*",
    "or-opt",
    "ruin",
    "handover",
    "coordinator",
    "client-swap",
    "intra",
    "face",
)
# How often each move is drawn (see docs/search.md for the measurements behind them). The face
# move's 5% is carved proportionally out of the others (they were 0.10, 0.25, 0.10, 0.08, 0.05,
# 0.12, 0.10, 0.05, 0.05, 0.10 before it).
MOVE_WEIGHTS = np.array(
    [0.095, 0.2375, 0.095, 0.076, 0.0475, 0.114, 0.095, 0.0475, 0.0475, 0.095, 0.05]
)
# A sick-call re-solve's: staffing the orphans (insert, with its make-room variant) and moving
# one crew member carry it; a ruin changes up to eight published visits at 500 each, so it is
# almost never taken and was 80% of the time at the weights above (medium agency, one carer off).
# The face move is off: it moves every visit of a face at once, each a priced change.
RESOLVE_MOVE_WEIGHTS = np.array([0.30, 0.30, 0.10, 0.05, 0.05, 0.04, 0.04, 0.04, 0.03, 0.05, 0.0])
CHUNK = 20_000
# Moves a walker makes between two meetings of several walkers (:meth:`Engine.anneal`).
ROUND = 4 * CHUNK


@dataclass
class EngineStats:
    moves: int = 0
    seconds: float = 0.0
    walkers: int = 1
    per_move: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    construction: dict[str, int] = field(default_factory=dict)

    @property
    def moves_per_second(self) -> float:
        return self.moves / self.seconds if self.seconds > 0 else 0.0


class Engine:
    """One agency's routes in compiled arrays, with moves that keep the objective exact."""

    def __init__(self, data: ProblemData, team_bonus: np.ndarray | None = None) -> None:
        self.data = data
        self.c: Consts = consts(data, team_bonus)
        # Counted once: a re-solve empties the state three times or more.
        self.capacity = route_capacity(data)
        self.s: State = empty_state(data, self.c, self.capacity)
        self.stats = EngineStats()
        # A stop request ended the last annealing early (the caller is not asked again).
        self.stopped = False

    # -- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        self.s = empty_state(self.data, self.c, self.capacity)

    def anchor(self, a: Anchor) -> None:
        """Hold the engine to a published rota for a re-solve (the state is emptied)."""
        self.c = anchored(self.c, a)
        self.reset()

    def load(self, sol: Solution) -> bool:
        """Replace the state with ``sol`` (starts in the data's units); False if it is not
        feasible in the engine's eyes (then the state is empty)."""
        self.reset()
        if fill(self.c, self.s, routes_of(self.data, sol)):
            return True
        self.reset()
        return False

    def load_routes(self, route: np.ndarray, rlen: np.ndarray) -> None:
        self.s = self.state_of(route, rlen)

    def state_of(self, route: np.ndarray, rlen: np.ndarray) -> State:
        """A fresh state holding routes ``route`` (lengths ``rlen``), which the engine held."""
        s = empty_state(self.data, self.c, self.capacity)
        ok = fill(self.c, s, [list(route[h, : rlen[h]]) for h in range(len(rlen))])
        assert ok, "routes the engine held are feasible"
        return s

    def solution(self) -> Solution:
        return _solution_of(self.data, self.c, self.s)

    def solution_of(self, route: np.ndarray, rlen: np.ndarray) -> Solution:
        """The solution of routes ``route`` (lengths ``rlen``), leaving the state alone."""
        return _solution_of(self.data, self.c, self.state_of(route, rlen))

    @property
    def objective(self) -> float:
        return float(k.objective(self.c, self.s))

    def terms(self) -> dict[str, float]:
        return {name: float(self.s.terms[i]) for i, name in enumerate((*TERMS, *RESOLVE_TERMS))}

    # -- construction --------------------------------------------------------------------------

    def tightest_order(self) -> np.ndarray:
        """Double-ups first, then visits with the fewest candidate workers and narrowest windows."""
        d = self.data
        ncand = np.diff(self.c.cand_ptr)
        slack = (d.last_start - d.earliest) / d.unit
        keys = (-d.required, ncand, slack, d.earliest, np.arange(d.n_visits))
        return np.lexsort(keys[::-1]).astype(np.int64)

    def time_order(self) -> np.ndarray:
        d = self.data
        return np.lexsort((np.arange(d.n_visits), d.earliest)).astype(np.int64)

    def construct(self, start: Solution | None = None) -> Solution:
        """The best (more visits staffed, then cheaper) of two constructions, cheapest
        insertion tightest first and a time-ordered first-free-crew greedy, and of ``start``
        (a rota to begin from, such as last week's moved on) with what it leaves unstaffed
        inserted at the cheapest places; ``start`` counts only if the engine can hold it as
        it is."""
        best: tuple[int, float, Solution] | None = None
        names = ("tightest", "greedy") if start is None else ("tightest", "greedy", "given")
        for name in names:
            self.reset()
            if name == "tightest":
                k.construct(self.c, self.s, self.tightest_order(), 3)
                # A second pass in time order picks up what the first order blocked.
                k.construct(self.c, self.s, self.time_order(), 3)
            elif name == "greedy":
                k.greedy_append(self.c, self.s, self.time_order())
            else:
                assert start is not None
                if not self.load(start):
                    continue
                self.insert_unstaffed()
            staffed = self.data.n_visits - self.unstaffed
            self.stats.construction[name] = staffed
            key = (staffed, -self.objective)
            if best is None or key > (best[0], -best[1]):
                best = (staffed, self.objective, self.solution())
        assert best is not None
        loaded = self.load(best[2])
        assert loaded, "a constructed rota is feasible by construction"
        return best[2]

    @property
    def unstaffed(self) -> int:
        """Visits the state leaves unstaffed."""
        return int(self.s.terms[k.T_UNASSIGNED])

    def unstaffed_by_deadline(self) -> list[int]:
        """The unstaffed visits, latest window first: the order the repair takes them in."""
        left = [int(v) for v in self.s.unst[: self.s.n_unst[0]]]
        return sorted(left, key=lambda v: (int(self.c.latest[v]), v))

    def insert_unstaffed(self, order: list[int] | None = None) -> int:
        """Cheapest feasible insertion of every unstaffed visit that now fits (of ``order``, in
        that order, if given); how many it staffed."""
        todo = sorted(self.s.unst[: self.s.n_unst[0]]) if order is None else order
        return int(k.construct(self.c, self.s, np.array(todo, dtype=np.int64), 3))

    def repair(self, order: list[int], *, clear: bool = False) -> int:
        """Staff what it can of ``order``'s unstaffed visits, making room on the routes in a
        fixed order (:func:`solver.engine.kernels.repair`), with ``clear`` also by clearing a
        carer's route around a visit; how many it staffed."""
        return int(k.repair(self.c, self.s, np.array(order, dtype=np.int64), clear))

    # -- annealing -----------------------------------------------------------------------------

    def anneal(
        self,
        moves: int,
        seed: int,
        *,
        walkers: int = 1,
        t0: float | None = None,
        t1: float | None = None,
        deadline: float | None = None,
        should_stop: Callable[[], bool] | None = None,
        improved: Callable[[float, Callable[[], Solution]], None] | None = None,
        weights: np.ndarray = MOVE_WEIGHTS,
        repairs: int = 0,
    ) -> Solution:
        """Simulated annealing for ``moves`` evaluations a walker, moves drawn at ``weights``
        (:data:`MOVE_NAMES` order); the state ends on the best found.

        With ``repairs``, at that many evenly spaced points of the run the best rota so far has
        room made for its unstaffed visits (:meth:`repair`, clearing routes too), and the
        walkers go on from it if that staffed any: the annealing then settles the routes
        around them before the next.

        ``walkers`` searches run side by side, each in its own thread (the kernels release the
        GIL, so each can have a core), in rounds of :data:`ROUND` moves: every round they all
        start from the best rota so far and follow the same stretch of the temperature path,
        each with its own random draws, and the best of their results (the first walker's on a
        tie) starts the next round. The rota depends on the seed, the moves and ``walkers``,
        never on which thread ran first.

        ``improved`` hears of each new best between chunks (one walker) or rounds: its
        objective, and a function that builds it as a solution (built only if asked: it costs
        a pass over the routes)."""
        c = self.c
        k.seed(seed)
        t0 = t0 if t0 is not None else self.start_temperature()
        t1 = t1 if t1 is not None else t0 / 200
        walks = [_Walk(c, self.s)]
        for _ in range(walkers - 1):
            walks.append(_Walk(c, _copy(self.s)))
        stop = threading.Event()
        began = time.monotonic()
        last_best = walks[0].best_obj[0]
        done = 0
        marks = [moves * (i + 1) // (repairs + 1) for i in range(repairs)]
        pool = ThreadPoolExecutor(max_workers=walkers) if walkers > 1 else None
        try:
            while done < moves and not stop.is_set():
                if pool is None:
                    # One walker runs here, a chunk at a time, on the seed drawn above.
                    end = min(moves, done + CHUNK)
                    walks[0].run(c, done, end, moves, t0, t1, weights, stop, None)
                else:
                    end = min(moves, done + ROUND)
                    jobs = [
                        pool.submit(
                            w.run,
                            c,
                            done,
                            end,
                            moves,
                            t0,
                            t1,
                            weights,
                            stop,
                            _mix(seed, done // ROUND, i),
                        )
                        for i, w in enumerate(walks)
                    ]
                    while wait(jobs, timeout=0.25).not_done:
                        self._watch(stop, deadline, should_stop)
                    for job in jobs:
                        job.result()
                    if end < moves and not stop.is_set():
                        lead = _lead(walks)
                        route, rlen = lead.best()
                        for w in walks:
                            w.restart(self, route, rlen)
                if marks and end >= marks[0] and end < moves and not stop.is_set():
                    while marks and end >= marks[0]:
                        marks.pop(0)
                    self._repair_lead(walks)
                done = end
                if improved is not None:
                    lead = _lead(walks)
                    if lead.best_obj[0] < last_best - 1e-9:
                        last_best = float(lead.best_obj[0])
                        improved(last_best, partial(self.solution_of, *lead.best()))
                self._watch(stop, deadline, should_stop)
        finally:
            if pool is not None:
                pool.shutdown()
        route, rlen = _lead(walks).best()
        self.load_routes(route, rlen)
        self.s.bonus_scale[0] = 0.0
        self.stats.moves += sum(w.moves for w in walks)
        self.stats.walkers = walkers
        self.stats.seconds += time.monotonic() - began
        for i, name in enumerate(MOVE_NAMES):
            row = sum(w.stats[i] for w in walks)
            old = self.stats.per_move.get(name, (0, 0, 0, 0))
            self.stats.per_move[name] = (
                old[0] + int(row[0]),
                old[1] + int(row[1]),
                old[2] + int(row[2]),
                old[3] + int(row[3]),
            )
        return self.solution()

    def _repair_lead(self, walks: list[_Walk]) -> None:
        """Make room for the unstaffed visits of the walkers' best rota (latest window first);
        every walker goes on from it if that staffed any."""
        route, rlen = _lead(walks).best()
        self.s = self.state_of(route, rlen)
        left = self.unstaffed_by_deadline()
        if left and self.repair(left, clear=True):
            for w in walks:
                w.restart(self, self.s.route.copy(), self.s.rlen.copy())

    def _watch(
        self, stop: threading.Event, deadline: float | None, should_stop: Callable[[], bool] | None
    ) -> None:
        """Tell the walkers to stop after their chunk if the clock or the caller says so."""
        if stop.is_set():
            return
        if deadline is not None and time.monotonic() > deadline:
            stop.set()
        elif should_stop is not None and should_stop():
            self.stopped = True
            stop.set()

    def start_temperature(self) -> float:
        """A temperature at which a typical travel or face trade is often taken at first: a
        fraction of the largest of the per-face weights and an average leg."""
        w = self.c.weights
        legs = self.c.travel_x[0]
        typical_leg = float(np.median(legs[legs > 0])) if np.any(legs > 0) else 10.0
        scale = max(float(w[k.T_DISTINCT]), float(w[k.T_UNFAMILIAR]) / 2, typical_leg * w[1])
        return float(max(1.0, 0.5 * scale))

    def log_stats(self, constructed: float, *, detail: bool) -> None:
        """One line on what the engine did (the log of the CLI and of the service's solve
        processes); with ``detail``, one more per move kind."""
        st = self.stats
        accepted = sum(row[2] for row in st.per_move.values())
        log.info(
            "engine: construction %.0f (staffed %s), annealing %.0f: %d moves by %d walkers "
            "in %.1f s (%.0f a second), %d accepted",
            constructed,
            st.construction,
            self.objective,
            st.moves,
            st.walkers,
            st.seconds,
            st.moves_per_second,
            accepted,
        )
        for name, (tried, feasible, took, better) in st.per_move.items():
            log.log(
                logging.INFO if detail else logging.DEBUG,
                "engine: %-11s tried %d, feasible %d, accepted %d, improving %d",
                name,
                tried,
                feasible,
                took,
                better,
            )


def _mix(seed: int, rnd: int, walker: int) -> int:
    """A walker's seed for a round: distinct for every (seed, round, walker)."""
    return (seed * 1_000_003 + rnd * 7_919 + walker * 104_729) % (2**31 - 1)


def _copy(s: State) -> State:
    return State._make(a.copy() for a in s)


class _Walk:
    """One annealing walker: its state, its best routes and its counts."""

    def __init__(self, c: Consts, s: State) -> None:
        self.s = s
        self.best_route = s.route.copy()
        self.best_rlen = s.rlen.copy()
        self.best_obj = np.array([k.objective(c, s)])
        # 1 while ``best_route`` holds the best; 0 while the current state is it (not copied).
        self.saved = np.array([1], dtype=np.int64)
        self.stats = np.zeros((k.N_MOVES, 4), dtype=np.int64)
        self.moves = 0
        s.saved_routes[:] = s.route
        s.saved_rlen[:] = s.rlen

    def run(
        self,
        c: Consts,
        lo: int,
        hi: int,
        total: int,
        t0: float,
        t1: float,
        weights: np.ndarray,
        stop: threading.Event,
        seed: int | None,
    ) -> None:
        """Steps ``lo`` to ``hi`` of ``total`` (fewer if ``stop`` is set), a chunk at a time;
        ``seed`` seeds this thread's generator first."""
        if seed is not None:
            k.seed(seed)
        at = lo
        while at < hi and not stop.is_set():
            n = min(CHUNK, hi - at)
            self.s.bonus_scale[0] = 1.0 - at / total
            k.anneal(
                c, self.s, n, at, total, t0, t1, weights, self.stats, self.best_route,
                self.best_rlen, self.best_obj, self.saved,
            )  # fmt: skip
            at += n
            self.moves += n

    def best(self) -> tuple[np.ndarray, np.ndarray]:
        """The best routes, copied (the walker may go on: copying the current state into the
        best when it is the best changes nothing the kernel relies on)."""
        k.keep_best(self.s, self.best_route, self.best_rlen, self.saved)
        return self.best_route.copy(), self.best_rlen.copy()

    def restart(self, engine: Engine, route: np.ndarray, rlen: np.ndarray) -> None:
        """Start again from ``route`` (a best rota of the walkers)."""
        s = engine.state_of(route, rlen)
        self.s = s
        self.best_route[:] = route
        self.best_rlen[:] = rlen
        self.best_obj[0] = k.objective(engine.c, s)
        self.saved[0] = 1


def _lead(walks: list[_Walk]) -> _Walk:
    """The walker with the best rota; the first of them on a tie."""
    return min(walks, key=lambda w: float(w.best_obj[0]))
