"""Construction heuristic: familiar carers first, then the cheapest feasible insertion.

It always returns a rota that keeps every hard rule, because a visit is only placed where it fits
(window, shift, travel either side, caps, links). It is the baseline the optimiser must beat and
the optimiser's complete warm start.

Order matters: pinned visits first (no choice), then the coordinator rule's cover visits (the
coordinator's few hours must go to the clients they oversee before carers take those slots), then
the remaining visits by deadline (latest start first to close), and last the shadow visits for the
coordinator rule, which need the carers' start times to be fixed.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from solver.data import ProblemData
from solver.rota import Solution


@dataclass(order=True)
class _Entry:
    start: int
    end: int
    visit: int = field(compare=False)
    place: int = field(compare=False)


@dataclass
class Insertion:
    """Where worker ``worker`` can take a visit: the start interval and its cost at ``lo``."""

    worker: int
    lo: int
    hi: int
    cost: float
    working: int  # extra working minutes (visit + between-visit travel)
    # The part of ``working`` that lands on the next visit's day (the changed leg into it),
    # which differs from the visit's own day only in a shift over midnight.
    spill: int = 0
    spill_day: int = -1


class Builder:
    """A partial rota that only ever grows by feasible insertions."""

    def __init__(self, data: ProblemData) -> None:
        self.data = data
        self.sol = Solution()
        self.sched: dict[int, list[_Entry]] = defaultdict(list)  # shift -> entries by start
        self.week = np.zeros(data.n_workers, dtype=np.int64)
        self.day = np.zeros((data.n_workers, len(data.days)), dtype=np.int64)
        self.attend: dict[int, set[int]] = defaultdict(set)
        self.counted = data.candidates
        # Plain lists: this loop runs half a million times on a large agency, and indexing
        # Python lists is several times faster than indexing numpy scalars.
        self.place_of = [int(data.client_place[c]) for c in data.visit_client]
        self.window = list(zip(data.earliest.tolist(), data.last_start.tolist(), strict=True))
        self.dur = data.duration.tolist()
        self.day_of = data.visit_day.tolist()
        self.latest = data.latest.tolist()
        self._tt: dict[int, list[list[int]]] = {}
        self.links: dict[int, list[int]] = defaultdict(list)
        for v in np.flatnonzero(data.after_visit >= 0):
            self.links[int(v)].append(int(data.after_visit[v]))
            self.links[int(data.after_visit[v])].append(int(v))

    # -- feasibility -----------------------------------------------------------------------

    def _link_window(self, v: int) -> tuple[int, int]:
        """The start interval the placed linked visits leave to ``v``."""
        d = self.data
        lo, hi = -(10**9), 10**9
        for u in self.links.get(v, []):
            if u not in self.sol.start:
                continue
            su = self.sol.start[u]
            if d.after_visit[v] == u:  # v starts min..max after u
                lo, hi = max(lo, su + int(d.after_min[v])), min(hi, su + int(d.after_max[v]))
            if d.after_visit[u] == v:  # u starts min..max after v
                lo, hi = max(lo, su - int(d.after_max[u])), min(hi, su - int(d.after_min[u]))
        return lo, hi

    def clashing(self, v: int, workers: list[int]) -> list[int]:
        """The visits a ``distinct_workers`` link keeps ``v`` apart from that one of
        ``workers`` is counted on."""
        return [
            u
            for u in self.data.distinct_links[v]
            if any(w in self.sol.workers.get(u, ()) for w in workers)
        ]

    def clashes(self, v: int, w: int) -> bool:
        """Whether ``w`` may not join ``v`` for a ``distinct_workers`` link."""
        return bool(self.clashing(v, [w]))

    @classmethod
    def loaded(cls, data: ProblemData, sol: Solution) -> Builder:
        """A builder holding ``sol`` (a feasible solution from anywhere), to reason about it."""
        b = cls(data)
        for v, start in sorted(sol.start.items(), key=lambda item: item[1]):
            crew = [b.insertion(v, w, at=start, ignore_caps=True) for w in sol.workers[v]]
            b.place(v, [c for c in crew if c is not None], start)
            for k in sol.shadows.get(v, []):
                ins = b.insertion(v, k, at=start, ignore_caps=True)
                if ins is not None:
                    b.place(v, [ins], start, counted=False)
        b.sol = sol.copy()
        return b

    def insertion(
        self, v: int, w: int, at: int | None = None, ignore_caps: bool = False
    ) -> Insertion | None:
        """The cheapest feasible place for ``v`` in ``w``'s shift, or None.

        With ``at`` the start is fixed (a shadow joins a visit whose start is already set);
        ``ignore_caps`` asks whether only the hours caps stand in the way.
        """
        d, wt = self.data, self.data.weights
        h = d.visit_shift[v].get(w)
        if h is None:
            return None
        dur = self.dur[v]
        if not ignore_caps and not self._fits_caps(w, self.day_of[v], dur):
            return None
        earliest, last = self.window[v]
        lo0 = max(earliest, int(d.shift_start[h]))
        hi0 = min(last, int(d.shift_end[h]) - dur)
        if v in self.links:
            link_lo, link_hi = self._link_window(v)
            lo0, hi0 = max(lo0, link_lo), min(hi0, link_hi)
        if at is not None:
            lo0, hi0 = max(lo0, at), min(hi0, at)
        if lo0 > hi0:
            return None
        mode, home, place = int(d.worker_mode[w]), int(d.worker_place[w]), self.place_of[v]
        tt = self._tt.get(mode)
        if tt is None:
            tt = self._tt[mode] = d.travel[mode].tolist()
        entries = self.sched[h]
        best: Insertion | None = None
        # Only gaps whose neighbours bracket the window can hold the visit.
        first = max(0, bisect.bisect_left([e.end for e in entries], lo0) - 1)
        for p in range(first, len(entries) + 1):
            prev = entries[p - 1] if p > 0 else None
            nxt = entries[p] if p < len(entries) else None
            if prev is not None and prev.start > hi0:
                break
            a = home if prev is None else prev.place
            b = home if nxt is None else nxt.place
            lo = max(lo0, -(10**9) if prev is None else prev.end + tt[a][place])
            hi = min(hi0, 10**9 if nxt is None else nxt.start - tt[place][b] - dur)
            if lo > hi:
                continue
            if prev is None and nxt is None:
                between, homeward = 0, tt[home][place] + tt[place][home]
            elif prev is None:
                between, homeward = tt[place][b], tt[home][place] - tt[home][b]
            elif nxt is None:
                between, homeward = tt[a][place], tt[place][home] - tt[a][home]
            else:
                between = tt[a][place] + tt[place][b] - tt[a][b]
                homeward = 0
            working = dur + between
            spill = 0 if nxt is None else tt[place][b] - (0 if prev is None else tt[a][b])
            spill_day = -1 if nxt is None else self.day_of[nxt.visit]
            if spill_day == self.day_of[v]:
                spill, spill_day = 0, -1
            if not ignore_caps and not self._fits_caps(
                w, self.day_of[v], working - spill, spill_day, spill
            ):
                continue
            cost = (
                wt.travel_minute * between
                + wt.home_travel_minute * homeward
                + wt.late_minute * max(0, lo - self.latest[v])
                - wt.contract_shortfall_minute
                * min(working, max(0, int(d.contracted[w]) - int(self.week[w])))
            )
            if best is None or cost < best.cost:
                best = Insertion(w, lo, hi, cost, working, spill, spill_day)
        if best is not None:
            best.cost += self._continuity(v, w)
        return best

    def _fits_caps(
        self, w: int, day: int, working: int, spill_day: int = -1, spill: int = 0
    ) -> bool:
        d = self.data
        if d.max_week[w] >= 0 and self.week[w] + working + spill > d.max_week[w]:
            return False
        if d.max_day[w] < 0:
            return True
        if spill_day >= 0 and self.day[w, spill_day] + spill > d.max_day[w]:
            return False
        return bool(self.day[w, day] + working <= d.max_day[w])

    def _continuity(self, v: int, w: int) -> float:
        d, wt = self.data, self.data.weights
        c = int(d.visit_client[v])
        if w in self.attend[c]:
            return 0.0
        return (wt.distinct_worker if self.attend[c] else 0.0) + (
            0.0 if d.familiar[c, w] else wt.unfamiliar_worker
        )

    # -- placing ---------------------------------------------------------------------------

    def place(self, v: int, crew: list[Insertion], start: int, counted: bool = True) -> None:
        d = self.data
        for ins in crew:
            w = ins.worker
            h = d.visit_shift[v][w]
            bisect.insort(self.sched[h], _Entry(start, start + self.dur[v], v, self.place_of[v]))
            self.week[w] += ins.working
            self.day[w, int(d.visit_day[v])] += ins.working - ins.spill
            if ins.spill_day >= 0:
                self.day[w, ins.spill_day] += ins.spill
            self.attend[int(d.visit_client[v])].add(w)
        if counted:
            self.sol.start[v] = start
            self.sol.workers[v] = [ins.worker for ins in crew]
        else:
            self.sol.shadows.setdefault(v, []).extend(ins.worker for ins in crew)

    def staff(self, v: int, pool: list[int] | None = None, must: tuple[int, ...] = ()) -> bool:
        """Staff ``v`` with the cheapest feasible crew from ``pool`` (default: all candidates).

        The crew includes the pinned workers and ``must``.
        """
        d = self.data
        need = int(d.required[v])
        pinned = list(dict.fromkeys([*d.pinned[v], *must]))
        if len(pinned) > need:
            return False
        options = []
        for w in dict.fromkeys([*pinned, *(pool if pool is not None else self.counted[v])]):
            ins = self.insertion(v, w)
            if ins is not None and not self.clashes(v, w):
                options.append(ins)
        fixed = [o for o in options if o.worker in pinned]
        if len(fixed) < len(pinned):
            return False
        c = int(d.visit_client[v])
        known = self.attend[c]
        # Familiar carers first (those who already see the client, then those in its history),
        # cheapest insertion among them; strangers only when no familiar carer fits.
        free = sorted(
            (o for o in options if o.worker not in pinned),
            key=lambda o: (
                o.worker not in known and not d.familiar[c, o.worker],
                o.cost,
            ),
        )
        if need - len(fixed) == 0:
            crew = fixed
        elif need - len(fixed) == 1:
            crew = next(([*fixed, o] for o in free if _common([*fixed, o]) is not None), [])
        else:
            crew = self._best_pair(free)
        if len(crew) != need:
            return False
        start = _common(crew)
        assert start is not None
        # A shared start later than each worker's best moves no one's neighbours: every worker's
        # interval already accounts for its own neighbours, so any common point is feasible.
        self.place(v, crew, start)
        return True

    @staticmethod
    def _best_pair(free: list[Insertion]) -> list[Insertion]:
        best: list[Insertion] = []
        best_cost = float("inf")
        for i, a in enumerate(free):
            if a.cost >= best_cost:
                break
            for b in free[i + 1 :]:
                if a.cost + b.cost >= best_cost:
                    break
                if _common([a, b]) is not None:
                    best, best_cost = [a, b], a.cost + b.cost
        return best

    def shadow(self, v: int, k: int) -> bool:
        d = self.data
        if v not in self.sol.start or k in self.sol.workers[v] or k in self.sol.shadows.get(v, []):
            return False
        if not d.can_shadow(v, k):
            return False
        ins = self.insertion(v, k, at=self.sol.start[v])
        if ins is None:
            return False
        self.place(v, [ins], self.sol.start[v], counted=False)
        return True


def _common(crew: list[Insertion]) -> int | None:
    lo = max(o.lo for o in crew)
    hi = min(o.hi for o in crew)
    return lo if lo <= hi else None


def _coordinator_pass(b: Builder, shadow: bool) -> None:
    """Give each coordinator's open clients a visit: covering first, shadowing after staffing."""
    d = b.data
    by_client: dict[int, list[int]] = defaultdict(list)
    for v in range(d.n_visits):
        by_client[int(d.visit_client[v])].append(v)
    for req in d.requirements:
        k = req.coordinator
        days = set(req.days.tolist())
        done = {
            int(c)
            for c in req.clients
            if any(
                k in b.sol.workers.get(v, []) + b.sol.shadows.get(v, [])
                for v in by_client[int(c)]
                if int(d.visit_day[v]) in days
            )
        }
        todo = [int(c) for c in req.clients if int(c) not in done]
        # Clients with the fewest reachable visits first: they are the ones that get squeezed out.
        todo.sort(key=lambda c: sum(1 for v in by_client[c] if k in d.visit_shift[v]))
        for c in todo:
            if len(done) >= req.required:
                break
            visits = [
                v for v in by_client[c] if int(d.visit_day[v]) in days and k in d.visit_shift[v]
            ]
            for v in visits:
                ok = (
                    b.shadow(v, k)
                    if shadow
                    else (v not in b.sol.start and k in b.counted[v] and b.staff(v, must=(k,)))
                )
                if ok:
                    done.add(c)
                    break


def construct(data: ProblemData) -> Solution:
    """A complete, feasible solution; visits that fit nowhere stay unstaffed."""
    b = Builder(data)
    for v in range(data.n_visits):
        if data.pinned[v]:
            b.staff(v)
    _coordinator_pass(b, shadow=False)
    # Carers first; coordinators' scarce field time only fills what carers cannot.
    order = sorted(
        (v for v in range(data.n_visits) if v not in b.sol.start and not data.pinned[v]),
        # Tightest deadline first: a visit that must start early cannot wait for a gap later on.
        key=lambda v: (int(data.latest[v] + data.late_allowed[v]), -int(data.required[v])),
    )
    for v in order:
        b.staff(v, pool=[w for w in b.counted[v] if not data.is_coordinator[w]])
    # Then coordinators' spare field time, for what carers alone could not staff.
    for v in order:
        if v not in b.sol.start and any(data.is_coordinator[w] for w in b.counted[v]):
            b.staff(v)
    _coordinator_pass(b, shadow=True)
    return b.sol
