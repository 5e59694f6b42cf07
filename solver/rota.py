"""From a solution in indices to the contract's rota: routes, metrics, objective, violations.

This is the solver's own account of a solution. The independent checker recomputes all of it
from the rota alone; tests hold the two to the same numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime

from solver.contract import (
    Assignment,
    CoordinatorVisit,
    Metrics,
    Rota,
    Route,
    Status,
    Stop,
    Unassigned,
    Violation,
)
from solver.data import ProblemData
from solver.options import Figures


@dataclass
class Solution:
    """Who does which visit when, by index. Visits absent from ``start`` are unstaffed."""

    start: dict[int, int] = field(default_factory=dict)
    workers: dict[int, list[int]] = field(default_factory=dict)
    shadows: dict[int, list[int]] = field(default_factory=dict)
    # Starts to the second (since the period's origin) where :mod:`solver.retime` refined them;
    # ``start`` then holds the whole minute each falls in.
    seconds: dict[int, int] = field(default_factory=dict)

    def copy(self) -> Solution:
        return Solution(
            dict(self.start),
            {v: list(ws) for v, ws in self.workers.items()},
            {v: list(ks) for v, ks in self.shadows.items()},
            dict(self.seconds),
        )

    def exact_start(self, v: int) -> float:
        """Visit ``v``'s start in minutes, to the second where known."""
        return self.seconds[v] / 60 if v in self.seconds else float(self.start[v])

    def worker_visits(self) -> dict[int, list[tuple[int, bool]]]:
        """Per worker, its (visit, counted) pairs; shadows have ``counted`` False."""
        out: dict[int, list[tuple[int, bool]]] = defaultdict(list)
        for v, ws in self.workers.items():
            for w in ws:
                out[w].append((v, True))
        for v, ks in self.shadows.items():
            for k in ks:
                out[k].append((v, False))
        return out


def shift_of(data: ProblemData, w: int, start: int, end: int, v: int = -1) -> int:
    """The shift of worker ``w`` that holds ``[start, end]`` (visit ``v``'s first), or -1."""
    h = data.visit_shift[v].get(w, -1) if v >= 0 else -1
    if h >= 0 and data.shift_start[h] <= start and end <= data.shift_end[h]:
        return h
    for h in data.worker_shifts[w]:
        if data.shift_start[h] <= start and end <= data.shift_end[h]:
            return int(h)
    return -1


@dataclass
class Leg:
    visit: int
    counted: bool
    start: int
    end: int
    shift: int
    travel_before: float  # from the previous stop of the shift, or from home
    home: bool  # travel_before is a home leg


@dataclass
class Account:
    """Per-worker legs and the objective terms of a solution."""

    legs: dict[int, list[Leg]]
    home_after: dict[tuple[int, int], float]  # (worker, shift) -> last visit back home
    terms: dict[str, float]
    working: dict[int, float]  # worker -> working minutes in the period
    travel: float  # between-visit travel, all workers
    home: float  # home legs, all workers
    shortfalls: list[tuple[int, int, str]]  # (coordinator, client, month)

    @property
    def objective(self) -> float:
        return float(sum(self.terms.values()))


def _carers_per_client(data: ProblemData, sol: Solution) -> float:
    """Mean different workers (counted or shadowing) attending each client with a staffed visit."""
    attend: dict[int, set[int]] = defaultdict(set)
    for v, ws in sol.workers.items():
        attend[int(data.visit_client[v])].update(ws + sol.shadows.get(v, []))
    return sum(len(ws) for ws in attend.values()) / len(attend) if attend else 0.0


def figures(data: ProblemData, sol: Solution, acc: Account) -> Figures:
    """``sol`` in the words a coordinator reads while a solve runs (the rota's metrics, early)."""
    return Figures(
        visits_staffed=len(sol.start),
        visits_total=data.n_visits,
        travel_minutes=_round(acc.travel),
        carers_per_client=_carers_per_client(data, sol),
    )


def account(data: ProblemData, sol: Solution) -> Account:
    """Routes, working minutes, rule 6 shortfalls and every objective term, exactly."""
    wt = data.weights
    legs: dict[int, list[Leg]] = {}
    home_after: dict[tuple[int, int], float] = {}
    travel = home = 0.0
    working: dict[int, float] = defaultdict(float)
    for w, items in sol.worker_visits().items():
        mode = data.worker_mode[w]
        ordered = sorted(items, key=lambda it: (sol.start[it[0]], it[0]))
        mine: list[Leg] = []
        for v, counted in ordered:
            s = sol.start[v]
            e = s + int(data.duration[v])
            h = shift_of(data, w, s, e, v)
            place = data.visit_place(v)
            if mine and mine[-1].shift == h:
                before = float(data.travel_exact[mode, data.visit_place(mine[-1].visit), place])
                travel += before
                working[w] += before
                first = False
            else:
                if mine:
                    prev = mine[-1]
                    home_after[(w, prev.shift)] = float(
                        data.travel_exact[mode, data.visit_place(prev.visit), data.worker_place[w]]
                    )
                before = float(data.travel_exact[mode, data.worker_place[w], place])
                first = True
            working[w] += float(data.duration[v]) / data.unit
            mine.append(Leg(v, counted, s, e, h, before, first))
        last = mine[-1]
        home_after[(w, last.shift)] = float(
            data.travel_exact[mode, data.visit_place(last.visit), data.worker_place[w]]
        )
        home += sum(leg.travel_before for leg in mine if leg.home)
        legs[w] = mine
    home += sum(home_after.values())

    attend: dict[int, set[int]] = defaultdict(set)
    for w, mine in legs.items():
        for leg in mine:
            attend[int(data.visit_client[leg.visit])].add(w)
    distinct = sum(max(0, len(ws) - 1) for ws in attend.values())
    unfamiliar = sum(1 for c, ws in attend.items() for w in ws if not data.familiar[c, w])
    shortfall = sum(
        max(0.0, float(data.contracted[w]) / data.unit - working.get(w, 0.0))
        for w in range(data.n_workers)
        if data.contracted[w] > 0
    )
    lateness = [max(0.0, sol.exact_start(v) - int(data.latest[v])) / data.unit for v in sol.start]
    missing = coordinator_shortfalls(data, sol)
    terms = {
        "unassigned_visit": wt.unassigned_visit * (data.n_visits - len(sol.start)),
        "travel_minute": wt.travel_minute * travel,
        "home_travel_minute": wt.home_travel_minute * home,
        "distinct_worker": wt.distinct_worker * distinct,
        "unfamiliar_worker": wt.unfamiliar_worker * unfamiliar,
        "contract_shortfall_minute": wt.contract_shortfall_minute * shortfall,
        "late_minute": wt.late_minute * sum(lateness),
        "max_late_minute": wt.max_late_minute * max(lateness, default=0),
        "coordinator_rule": wt.coordinator_rule * len(missing),
    }
    # The agency's continuity policy: terms only where their weights are above zero, so that
    # rotas priced without a policy keep the contract's nine terms.
    if wt.face_travel_minutes > 0:
        terms["face_travel_minutes"] = wt.face_travel_minutes * wt.travel_minute * distinct
    if wt.faces_over_cap > 0 and wt.faces_cap is not None:
        weekly: dict[tuple[int, int], set[int]] = defaultdict(set)
        for w, mine in legs.items():
            for leg in mine:
                c, day = int(data.visit_client[leg.visit]), int(data.visit_day[leg.visit])
                weekly[(c, day // 7)].add(w)
        over = sum(max(0, len(ws) - wt.faces_cap) for ws in weekly.values())
        terms["faces_over_cap"] = wt.faces_over_cap * over
    if wt.primary_share_shortfall > 0:
        slots: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for v, ws in sol.workers.items():
            for w in ws:
                slots[int(data.visit_client[v])][w] += 1
        short = sum(
            max(0.0, wt.primary_carer_share * sum(n.values()) - max(n.values()))
            for n in slots.values()
        )
        terms["primary_share_shortfall"] = wt.primary_share_shortfall * short
    if wt.unfamiliar_visit > 0:
        unknown = sum(
            1
            for v, ws in sol.workers.items()
            for w in ws
            if not data.familiar[int(data.visit_client[v]), w]
        )
        terms["unfamiliar_visit"] = wt.unfamiliar_visit * unknown
    return Account(legs, home_after, terms, dict(working), travel, home, missing)


def coordinator_shortfalls(data: ProblemData, sol: Solution) -> list[tuple[int, int, str]]:
    """Rule 6: (coordinator, client, month) for every coordinator visit still required."""
    seen: set[tuple[int, int, int]] = set()  # (coordinator, client, day)
    for v, ws in sol.workers.items():
        for w in ws + sol.shadows.get(v, []):
            if data.is_coordinator[w]:
                seen.add((w, int(data.visit_client[v]), int(data.visit_day[v])))
    out: list[tuple[int, int, str]] = []
    for req in data.requirements:
        days = set(req.days.tolist())
        unseen = [
            int(c)
            for c in req.clients
            if not any((req.coordinator, int(c), d) in seen for d in days)
        ]
        gap = (
            len(unseen)
            if req.month_end
            else max(0, req.required - (len(req.clients) - len(unseen)))
        )
        out.extend((req.coordinator, c, req.month) for c in unseen[:gap])
    return out


def _round(x: float) -> float:
    # Exact travel can be fractional; keep the rota readable without losing the checker's match.
    return round(x, 6)


def to_rota(
    data: ProblemData,
    sol: Solution,
    *,
    status: Status,
    reasons: dict[int, str],
    best_bound: float | None = None,
    shortfall_details: dict[tuple[int, int, str], str] | None = None,
    acc: Account | None = None,
) -> Rota:
    """The contract rota of ``sol``; ``reasons`` explains every unstaffed visit. ``acc`` is
    ``sol``'s account when the caller has it already."""
    acc = acc if acc is not None else account(data, sol)
    ids, wids, clock = data.visit_ids, data.worker_ids, data.clock

    def at(v: int, after: int = 0) -> datetime:
        """The local time ``after`` minutes into visit ``v``."""
        if v in sol.seconds:
            return clock.local_seconds(sol.seconds[v] + 60 * after)
        return clock.local(sol.start[v] + after)

    assignments = [
        Assignment(visit=ids[v], workers=[wids[w] for w in sol.workers[v]], start=at(v))
        for v in sorted(sol.start)
    ]
    coordinator_visits = [
        CoordinatorVisit(visit=ids[v], coordinator=wids[w], mode="cover")
        for v in sorted(sol.workers)
        for w in sol.workers[v]
        if data.is_coordinator[w]
    ] + [
        CoordinatorVisit(visit=ids[v], coordinator=wids[k], mode="shadow")
        for v in sorted(sol.shadows)
        for k in sol.shadows[v]
    ]
    unassigned = [
        Unassigned(visit=ids[v], reason=reasons.get(v, "not staffed"))
        for v in range(data.n_visits)
        if v not in sol.start
    ]
    routes = []
    for w in sorted(acc.legs):
        by_day: dict[int, list[Leg]] = defaultdict(list)
        for leg in acc.legs[w]:
            by_day[int(data.visit_day[leg.visit])].append(leg)
        # A shift over midnight goes home once: that leg belongs to the day of its last visit.
        last_day = {leg.shift: int(data.visit_day[leg.visit]) for leg in acc.legs[w]}
        for d, day_legs in sorted(by_day.items()):
            shifts = {leg.shift for leg in day_legs if last_day[leg.shift] == d}
            home = sum(leg.travel_before for leg in day_legs if leg.home) + sum(
                acc.home_after[(w, h)] for h in shifts
            )
            routes.append(
                Route(
                    worker=wids[w],
                    date=data.days[d],
                    stops=[
                        Stop(
                            visit=ids[leg.visit],
                            start=at(leg.visit),
                            end=at(leg.visit, leg.end - leg.start),
                            travel_minutes_before=_round(leg.travel_before),
                            mode="care" if leg.counted else "shadow",
                        )
                        for leg in day_legs
                    ],
                    travel_minutes=_round(
                        sum(leg.travel_before for leg in day_legs if not leg.home)
                    ),
                    home_travel_minutes=_round(home),
                    visit_minutes=sum(leg.end - leg.start for leg in day_legs),
                )
            )
    pairs = familiar_pairs = 0
    for v, ws in sol.workers.items():
        c = int(data.visit_client[v])
        pairs += len(ws)
        familiar_pairs += sum(1 for w in ws if data.familiar[c, w])
    metrics = Metrics(
        visits_total=data.n_visits,
        visits_assigned=len(sol.start),
        travel_minutes=_round(acc.travel),
        mean_distinct_workers_per_client=_carers_per_client(data, sol),
        familiar_visit_share=familiar_pairs / pairs if pairs else 1.0,
        objective_terms={k: _round(x) for k, x in acc.terms.items()},
    )
    details = shortfall_details or {}
    violations = [
        Violation(
            rule="coordinator_monthly_visit",
            coordinator=wids[k],
            client=data.client_ids[c],
            month=month,
            detail=details.get(
                (k, c, month),
                f"{wids[k]} has no visit to {data.client_ids[c]} in {month} in this rota",
            ),
        )
        for k, c, month in acc.shortfalls
    ]
    objective = _round(acc.objective)
    if best_bound is not None and math.isfinite(best_bound):
        best_bound = _round(min(best_bound, objective))
    return Rota(
        status=status,
        objective=objective,
        best_bound=best_bound,
        assignments=assignments,
        coordinator_visits=coordinator_visits,
        unassigned=unassigned,
        routes=routes,
        metrics=metrics,
        violations=violations,
    )


def solution_of(data: ProblemData, rota: Rota) -> Solution:
    """``rota`` in ``data``'s indices; assignments to visits or workers it lacks are dropped."""
    vi = {vid: i for i, vid in enumerate(data.visit_ids)}
    wi = {wid: i for i, wid in enumerate(data.worker_ids)}
    sol = Solution()
    for a in rota.assignments:
        if a.visit in vi and all(w in wi for w in a.workers):
            v = vi[a.visit]
            sol.start[v] = round(data.clock.seconds(a.start) / 60)
            sol.workers[v] = [wi[w] for w in a.workers]
    for cv in rota.coordinator_visits:
        if cv.mode == "shadow" and cv.visit in vi and cv.coordinator in wi:
            v = vi[cv.visit]
            if v in sol.start:
                sol.shadows.setdefault(v, []).append(wi[cv.coordinator])
    return sol


def admissible(
    data: ProblemData, sol: Solution, *, held: bool = False, frozen: AbstractSet[int] = frozenset()
) -> tuple[Solution, list[int]]:
    """``sol`` less the assignments ``data`` does not allow (a start from another week, a
    published rota after a change), and the visits whose crew was taken off.

    A crew stays only if it has the visit's size, its pinned workers, and only workers who may be
    counted on the visit (skills, exclusions, gender, a shift that could hold it); a shadow only
    if they may shadow it. ``held``: the starts are kept as they are (a re-solve), so each must
    also lie in its window and within each worker's shift. ``frozen`` visits are kept unchecked.
    """
    out = sol.copy()
    dropped = []

    def holds(v: int, w: int, counted: bool) -> bool:
        if not (data.can_count(v, w) if counted else data.can_shadow(v, w)):
            return False
        s = sol.start[v]
        return not held or shift_of(data, w, s, s + int(data.duration[v]), v) >= 0

    for v in sorted(sol.start):
        if v in frozen:
            continue
        ws = sol.workers[v]
        crew = set(ws)
        ok = (
            len(crew) == len(ws) == int(data.required[v])
            and set(data.pinned[v]) <= crew
            and all(holds(v, w, True) for w in ws)
            and (not held or int(data.earliest[v]) <= sol.start[v] <= int(data.last_start[v]))
        )
        if not ok:
            dropped.append(v)
            del out.start[v], out.workers[v]
            out.shadows.pop(v, None)
            out.seconds.pop(v, None)
            continue
        shadows = [k for k in sol.shadows.get(v, []) if k not in crew and holds(v, k, False)]
        if shadows:
            out.shadows[v] = shadows
        else:
            out.shadows.pop(v, None)
    return out, dropped
