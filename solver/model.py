"""The CP-SAT model of a rota neighbourhood: some visits free, everything else fixed.

A *neighbourhood* frees a set of visits and a set of workers; every other assignment of the
current solution stays as it is and enters the model as constants. With every visit and worker
free it is the whole-period model. The week-level terms (continuity, contract hours, caps, the
coordinator rule, largest lateness) see the fixed part as constants, so they stay exact whatever
the neighbourhood.

Each worker's day is a route per shift: an ``AddCircuit`` over a depot node (home) and the shift's
candidate visits, with one start variable per visit shared by every worker on it, so double-ups
start together. Arcs exist only between visits that can follow each other in time.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from solver.data import ProblemData
from solver.rota import Account, Solution, account


def _up(minutes: float) -> int:
    """Whole minutes at least ``minutes``: fractional travel must never loosen a cap."""
    return math.ceil(minutes - 1e-9)


# CP-SAT wants integer coefficients; weights such as 0.1 per minute become whole units.
SCALE = 100

# A linear sum kept as (coefficient, variable or the constant 1) pairs rather than as CP-SAT's
# expression, so that :meth:`RotaModel.hint` can work out its value under the hint.
Sum = list[tuple[int, "cp_model.IntVar | int"]]
# The hinted value of a variable (a constant is its own value).
Value = Callable[["cp_model.IntVar | int"], int]


def _expr(terms: Sum) -> cp_model.LinearExprT:
    """``terms`` as one CP-SAT weighted sum."""
    return cp_model.LinearExpr.weighted_sum([x for _, x in terms], [c for c, _ in terms])


def _total(terms: Sum, value: Value) -> int:
    return sum(c * value(x) for c, x in terms)


# How a derived variable's hint follows from the others': the values the constraints that define
# it give it when the objective pushes it as low as it may go.
Derivation = Callable[[Value], int]


def _linear(
    terms: Sum, offset: int = 0, lo: int | None = None, hi: int | None = None
) -> Derivation:
    """``offset + terms``, kept within ``[lo, hi]``: a variable bounded below by a sum."""

    def derived(value: Value) -> int:
        total = offset + _total(terms, value)
        total = total if lo is None else max(lo, total)
        return total if hi is None else min(hi, total)

    return derived


def _largest(items: list[cp_model.IntVar]) -> Derivation:
    """The largest of ``items``: a variable made with ``add_max_equality``."""

    def derived(value: Value) -> int:
        return max(value(item) for item in items)

    return derived


@dataclass(frozen=True)
class Neighbourhood:
    visits: frozenset[int]
    workers: frozenset[int]


@dataclass
class Node:
    visit: int
    present: cp_model.IntVar | int  # 1 for a fixed visit of this worker
    start: cp_model.IntVar | int
    lo: int  # earliest possible start in this shift
    hi: int  # latest possible start in this shift


@dataclass
class Variables:
    """The decision variables, with query methods the constraints and the read-back share.

    Only free visits have variables; a fixed visit's start and crew are constants of the model.
    """

    start: dict[int, cp_model.IntVar] = field(default_factory=dict)
    staffed: dict[int, cp_model.IntVar] = field(default_factory=dict)
    counted: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)  # (visit, worker)
    crews: dict[int, list[tuple[int, cp_model.IntVar]]] = field(default_factory=dict)  # by visit
    shadow: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)  # (visit, coord)
    routes: dict[tuple[int, int], list[Node]] = field(default_factory=dict)  # (worker, shift)
    arcs: dict[tuple[int, int], list[tuple[int, int, cp_model.LiteralT]]] = field(
        default_factory=dict
    )
    # Modelled working minutes (visits + between-visit travel) per worker and per (worker, day).
    working: dict[int, Sum] = field(default_factory=dict)
    working_day: dict[tuple[int, int], Sum] = field(default_factory=dict)

    def assigned(self, v: int, w: int) -> cp_model.IntVar | None:
        """Whether worker ``w`` counts on visit ``v``'s crew; None if ``w`` cannot do ``v``."""
        return self.counted.get((v, w))

    def shadowing(self, v: int, k: int) -> cp_model.IntVar | None:
        """Whether coordinator ``k`` shadows visit ``v``; None if ``k`` cannot shadow ``v``."""
        return self.shadow.get((v, k))

    def crew(self, v: int) -> list[tuple[int, cp_model.IntVar]]:
        """Visit ``v``'s candidate workers, each with its ``assigned`` literal."""
        return self.crews.get(v, [])

    def attendance(self) -> Iterator[tuple[int, int, cp_model.IntVar]]:
        """(visit, worker, literal) for every way a worker can be at a free visit: counted on
        its crew, then shadowing it. Continuity and the coordinator rule count both."""
        for (v, w), lit in self.counted.items():
            yield v, w, lit
        for (v, k), lit in self.shadow.items():
            yield v, k, lit


@dataclass(frozen=True)
class Fixed:
    """What the current solution fixes outside the neighbourhood."""

    starts: dict[int, int]  # visit -> start, every staffed visit outside the free set
    per_shift: dict[tuple[int, int], list[tuple[int, int]]]  # (worker, shift) -> (visit, start)
    outside_minutes: dict[int, float]  # worker -> working minutes in shifts not modelled
    outside_day: dict[tuple[int, int], float]  # (worker, day) -> same, per day
    attend: dict[int, set[int]]  # client -> workers attending it outside the free set
    seen: set[tuple[int, int, int]]  # (coordinator, client, day) outside the free set
    max_late: int


class RotaModel:
    """One CP-SAT model over a neighbourhood of ``sol``; ``read`` merges its answer back."""

    def __init__(
        self, data: ProblemData, sol: Solution, hood: Neighbourhood, acc: Account | None = None
    ) -> None:
        self.data, self.sol, self.hood = data, sol, hood
        self._acc = acc if acc is not None else account(data, sol)
        self.model = cp_model.CpModel()
        # Objective units per unit of the contract's objective. In finer time units a step of
        # lateness still gets SCALE * unit objective units per unit of weight, so weights such
        # as 1/3 a minute keep their precision instead of rounding to whole hundredths a step.
        self.scale = SCALE * data.unit * data.unit
        self.vars = Variables()
        self.terms: dict[str, list[tuple[cp_model.LinearExprT, float]]] = defaultdict(list)
        self.free = sorted(v for v in hood.visits if self._movable(v))
        self.shifts = self._modelled_shifts()
        self.fixed = self._fixed()
        # Variables whose hinted value follows from others' (an "attends" flag, a shortfall),
        # with how to work it out, in the order they were made: see :meth:`hint`.
        self._derived: list[tuple[cp_model.IntVar, Derivation]] = []
        self.add_constraints()
        self.add_objective()

    # -- the neighbourhood -------------------------------------------------------------------

    def _movable(self, v: int) -> bool:
        """A visit is free when the neighbourhood holds its whole crew and can staff it."""
        crew = self.sol.workers.get(v, []) + self.sol.shadows.get(v, [])
        if not set(crew) <= self.hood.workers:
            return False
        return v in self.sol.start or len(self._candidates(v)) >= int(self.data.required[v])

    def _candidates(self, v: int) -> list[int]:
        d = self.data
        return [w for w in self.hood.workers if d.can_count(v, w)]

    def _shadowers(self, v: int) -> list[int]:
        """Coordinators in the neighbourhood for whom shadowing ``v`` can count for rule 6."""
        d = self.data
        c = int(d.visit_client[v])
        k = int(d.client_coordinator[c])
        if k < 0 or k not in self.hood.workers or not d.can_shadow(v, k):
            return []
        day = int(d.visit_day[v])
        for req in d.requirements:
            if req.coordinator == k and day in req.days and c in req.clients:
                return [k]
        return []

    def _modelled_shifts(self) -> set[tuple[int, int]]:
        d = self.data
        out = set()
        for v in self.free:
            for w in self._candidates(v) + self._shadowers(v):
                out.add((w, d.visit_shift[v][w]))
        return out

    def _fixed(self) -> Fixed:
        d, sol, free = self.data, self.sol, set(self.free)
        acc = self._acc
        per_shift: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        outside: dict[int, float] = defaultdict(float)
        outside_day: dict[tuple[int, int], float] = defaultdict(float)
        attend: dict[int, set[int]] = defaultdict(set)
        seen: set[tuple[int, int, int]] = set()
        for w, legs in acc.legs.items():
            for leg in legs:
                if leg.visit in free:
                    continue
                c, day = int(d.visit_client[leg.visit]), int(d.visit_day[leg.visit])
                attend[c].add(w)
                if d.is_coordinator[w]:
                    seen.add((w, c, day))
                if (w, leg.shift) in self.shifts:
                    per_shift[(w, leg.shift)].append((leg.visit, leg.start))
                else:
                    # In the data's time units; the leg in is in exact minutes.
                    leg_in = 0.0 if leg.home else leg.travel_before * d.unit
                    minutes = leg.end - leg.start + leg_in
                    outside[w] += minutes
                    outside_day[(w, day)] += minutes
        late = [max(0, s - int(d.latest[v])) for v, s in sol.start.items() if v not in free]
        return Fixed(
            starts={v: s for v, s in sol.start.items() if v not in free},
            per_shift=dict(per_shift),
            outside_minutes=dict(outside),
            outside_day=dict(outside_day),
            attend=dict(attend),
            seen=seen,
            max_late=max(late, default=0),
        )

    # -- rules ---------------------------------------------------------------------------------

    def add_constraints(self) -> None:
        """The hard rules, in the order they must be built (the contract's numbering)."""
        # Rules 1 and 3: per free visit a start, a staffed flag and a literal per worker who
        # may count on it (skills, exclusions, gender, a shift that holds it) or shadow it;
        # pinned workers tied to the staffed flag. Everything below refers to these.
        self.add_visit_variables()
        # Rules 3 (within the shift) and 4 (travel between consecutive visits): a circuit per
        # modelled shift over the literals above. It also collects each worker's working
        # minutes per day, which rule 5 needs.
        self.add_routes()
        # Rule 2's `after` links: on the starts of add_visit_variables (and fixed starts).
        self.add_after_links()
        # The optional distinct_workers on those links: on the crew literals.
        self.add_distinct_links()
        # Rule 5: the caps, on the working minutes add_routes collected.
        self.add_caps()

    def _derive(self, var: cp_model.IntVar, how: Derivation) -> None:
        self._derived.append((var, how))

    def add_visit_variables(self) -> None:
        """Rule 1 (full crew or none), rule 3 (candidates only, pinned workers on it)."""
        d, m, x = self.data, self.model, self.vars
        for v in self.free:
            last = int(d.latest[v] + d.late_allowed[v])
            x.start[v] = m.new_int_var(int(d.earliest[v]), last, f"start[{d.visit_ids[v]}]")
            x.staffed[v] = m.new_bool_var(f"staffed[{d.visit_ids[v]}]")
            # An unstaffed visit's start means nothing; pinning it removes useless branching.
            m.add(x.start[v] == int(d.earliest[v])).only_enforce_if(~x.staffed[v])
            crew = x.crews[v] = []
            for w in self._candidates(v):
                lit = m.new_bool_var(f"counted[{d.visit_ids[v]},{d.worker_ids[w]}]")
                x.counted[(v, w)] = lit
                crew.append((w, lit))
            m.add(sum(lit for _, lit in crew) == int(d.required[v]) * x.staffed[v])
            for p in d.pinned[v]:
                pinned = x.assigned(v, p)
                if pinned is not None:
                    m.add(pinned == x.staffed[v])
                else:
                    m.add(x.staffed[v] == 0)
            for k in self._shadowers(v):
                lit = m.new_bool_var(f"shadow[{d.visit_ids[v]},{d.worker_ids[k]}]")
                x.shadow[(v, k)] = lit
                m.add_implication(lit, x.staffed[v])
                counted = x.assigned(v, k)
                if counted is not None:
                    m.add(lit + counted <= 1)

    def add_routes(self) -> None:
        """Rules 3 (shift) and 4 (travel between consecutive visits): a circuit per shift."""
        d, m, x = self.data, self.model, self.vars
        by_shift: dict[tuple[int, int], list[int]] = defaultdict(list)
        for v in self.free:
            for w in dict.fromkeys(self._candidates(v) + self._shadowers(v)):
                by_shift[(w, d.visit_shift[v][w])].append(v)
        for key in sorted(self.shifts):
            w, h = key
            s0, s1 = int(d.shift_start[h]), int(d.shift_end[h])
            nodes: list[Node] = []
            for v, start in self.fixed.per_shift.get(key, []):
                nodes.append(Node(v, 1, start, start, start))
            for v in by_shift.get(key, []):
                lo = max(int(d.earliest[v]), s0)
                hi = min(int(d.latest[v] + d.late_allowed[v]), s1 - int(d.duration[v]))
                if lo > hi:
                    continue
                counted, shadow = x.counted.get((v, w)), x.shadow.get((v, w))
                present: cp_model.IntVar
                if counted is not None and shadow is not None:
                    present = m.new_bool_var(f"present[{d.visit_ids[v]},{d.worker_ids[w]}]")
                    m.add(present == counted + shadow)
                    self._derive(present, _linear([(1, counted), (1, shadow)]))
                else:
                    present = counted if counted is not None else shadow  # type: ignore[assignment]
                m.add(x.start[v] >= lo).only_enforce_if(present)
                m.add(x.start[v] <= hi).only_enforce_if(present)
                nodes.append(Node(v, present, x.start[v], lo, hi))
            x.routes[key] = nodes
            self._circuit(w, h, nodes)

    def _circuit(self, w: int, h: int, nodes: list[Node]) -> None:
        d, m = self.data, self.model
        tt = d.travel[int(d.worker_mode[w])]
        # The objective prices travel exactly; only the timing constraints need whole minutes
        # (rounded up), so fractional travel never picks a longer route for rounding's sake.
        exact = d.travel_exact[int(d.worker_mode[w])]
        home = int(d.worker_place[w])
        places = [d.visit_place(n.visit) for n in nodes]
        dur = [int(d.duration[n.visit]) for n in nodes]
        arcs: list[tuple[int, int, cp_model.LiteralT]] = []
        travel = self.terms["travel_minute"]
        home_travel = self.terms["home_travel_minute"]
        # Working minutes per calendar day: a visit's minutes and the leg into it count on the
        # day the visit starts (a night shift spreads over two days).
        by_day: dict[int, Sum] = defaultdict(list)
        days = [int(d.visit_day[n.visit]) for n in nodes]
        tag = f"{d.worker_ids[w]},{h}"
        empty = m.new_bool_var(f"idle[{tag}]")
        arcs.append((0, 0, empty))
        lo = np.array([n.lo for n in nodes], dtype=np.int64)
        hi = np.array([n.hi for n in nodes], dtype=np.int64)
        ends = lo + np.array(dur, dtype=np.int64)
        pl = np.array(places, dtype=np.int64)
        gap = tt[pl[:, None], pl[None, :]]
        fixed = np.array([isinstance(n.present, int) for n in nodes], dtype=bool)
        # A fixed visit k is *after* i when it cannot end, plus travel, before i must start, and
        # *before* j when j cannot end, plus travel, before k must start. With such a k, i and j
        # cannot be neighbours, nor can i end the shift or j begin it: the route would have to
        # skip k. This leaves a visit only the gaps of a shift's fixed visits to go into.
        after = (ends[None, :] + gap.T > hi[:, None]) & fixed[None, :]
        before = (ends[:, None] + gap > hi[None, :]) & fixed[None, :]
        np.fill_diagonal(after, False)
        np.fill_diagonal(before, False)
        between = (after.astype(np.int32) @ before.T.astype(np.int32)) > 0
        can_open, can_close = ~before.any(axis=1), ~after.any(axis=1)
        for i, node in enumerate(nodes, start=1):
            if not isinstance(node.present, int):
                arcs.append((i, i, ~node.present))
                by_day[days[i - 1]].append((dur[i - 1], node.present))
            else:
                by_day[days[i - 1]].append((dur[i - 1], 1))
            if can_open[i - 1]:
                out_lit = m.new_bool_var(f"leave[{tag},{i}]")
                arcs.append((0, i, out_lit))
                home_travel.append((out_lit, float(exact[home, places[i - 1]])))
            if can_close[i - 1]:
                in_lit = m.new_bool_var(f"back[{tag},{i}]")
                arcs.append((i, 0, in_lit))
                home_travel.append((in_lit, float(exact[places[i - 1], home])))
        # Arcs only where the first visit can end, plus travel, before the second must start.
        ok = (ends[:, None] + gap <= hi[None, :]) & ~between
        np.fill_diagonal(ok, False)
        for i, j in zip(*np.nonzero(ok), strict=True):
            a, b = nodes[i], nodes[j]
            lit = m.new_bool_var(f"arc[{tag},{d.visit_ids[a.visit]},{d.visit_ids[b.visit]}]")
            arcs.append((int(i) + 1, int(j) + 1, lit))
            leg = int(gap[i, j])
            if not (isinstance(a.start, int) and isinstance(b.start, int)):
                m.add(b.start >= a.start + dur[i] + leg).only_enforce_if(lit)
            travel.append((lit, float(exact[places[i], places[j]])))
            by_day[days[j]].append((leg, lit))
        m.add_circuit(arcs)
        self.vars.arcs[(w, h)] = arcs
        for day, work in by_day.items():
            self.vars.working.setdefault(w, []).extend(work)
            self.vars.working_day.setdefault((w, day), []).extend(work)

    def add_after_links(self) -> None:
        """Rule 2's ``after``: enforced whenever both visits are staffed."""
        d, m, x = self.data, self.model, self.vars
        for v in range(d.n_visits):
            u = int(d.after_visit[v])
            if u < 0 or (v not in x.start and u not in x.start):
                continue
            lits = [x.staffed[i] for i in (u, v) if i in x.staffed]
            if any(i not in x.start and i not in self.fixed.starts for i in (u, v)):
                continue  # the fixed one is unstaffed: the link does not bind
            su = x.start.get(u, self.fixed.starts.get(u, 0))
            sv = x.start.get(v, self.fixed.starts.get(v, 0))
            m.add(sv - su >= int(d.after_min[v])).only_enforce_if(lits)
            m.add(sv - su <= int(d.after_max[v])).only_enforce_if(lits)

    def add_distinct_links(self) -> None:
        """An ``after`` link with ``distinct_workers``: no worker counted on both visits."""
        d, m, x, sol = self.data, self.model, self.vars, self.sol
        for v in self.free:
            for u in d.distinct_links[v]:
                if u in x.staffed:
                    if u < v:
                        continue  # both free: the pair was done from u's side
                    for w, lit in x.crew(v):
                        other = x.assigned(u, w)
                        if other is not None:
                            m.add_bool_or([~lit, ~other])
                else:
                    # u is fixed: its crew (none if unstaffed) is closed to v.
                    for w in sol.workers.get(u, []):
                        closed = x.assigned(v, w)
                        if closed is not None:
                            m.add(closed == 0)

    def add_caps(self) -> None:
        """Rule 5: working minutes per week and per day, the fixed part as a constant."""
        d, m, x = self.data, self.model, self.vars
        for w, work in x.working.items():
            if d.max_week[w] >= 0:
                outside = _up(self.fixed.outside_minutes.get(w, 0.0))
                m.add(_expr(work) + outside <= int(d.max_week[w]))
        for (w, day), work in x.working_day.items():
            if d.max_day[w] >= 0:
                outside = _up(self.fixed.outside_day.get((w, day), 0.0))
                m.add(_expr(work) + outside <= int(d.max_day[w]))

    # -- objective -----------------------------------------------------------------------------

    def add_objective(self) -> None:
        """Every soft term of the contract, each only where its weight is above zero: a term
        whose weight is zero builds no variables and no constraints."""
        self.add_unassigned()
        self.add_continuity()
        self.add_continuity_policy()
        self.add_contract_shortfall()
        self.add_lateness()
        self.add_coordinator_rule()
        wt = self.data.weights.model_dump()
        exprs: list[cp_model.LinearExprT] = []
        coefs: list[int] = []
        for name, parts in self.terms.items():
            if wt[name] <= 0:
                continue
            for expr, factor in parts:
                coef = round(wt[name] * factor * self.scale)
                if coef:
                    exprs.append(expr)
                    coefs.append(coef)
        # One weighted sum: travel brings a term per arc, and nested sums of that many terms
        # are slow to build.
        exprs.append(self.extra_objective())
        coefs.append(1)
        self.model.minimize(cp_model.LinearExpr.weighted_sum(exprs, coefs))

    def extra_objective(self) -> cp_model.LinearExprT:
        """Terms beyond the contract's, for models that need them (a re-solve's change costs)."""
        return 0

    def add_unassigned(self) -> None:
        self.terms["unassigned_visit"].append((sum(1 - s for s in self.vars.staffed.values()), 1.0))

    def add_continuity(self) -> None:
        """Distinct and unfamiliar workers per client over the whole period."""
        d, m, x, wt = self.data, self.model, self.vars, self.data.weights
        # face_travel_minutes prices the same faces as distinct_worker (add_continuity_policy).
        distinct = wt.distinct_worker > 0 or wt.face_travel_minutes > 0
        if not distinct and wt.unfamiliar_worker <= 0:
            return
        lits: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
        for v, w, lit in x.attendance():
            lits[(int(d.visit_client[v]), w)].append(lit)
        new_by_client: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        for (c, w), group in sorted(lits.items()):
            if w in self.fixed.attend.get(c, set()):
                continue  # already attends this client: no new face
            if not distinct and d.familiar[c, w]:
                continue  # a familiar face costs nothing when only unfamiliar ones are priced
            a = m.new_bool_var(f"attends[client={d.client_ids[c]},worker={d.worker_ids[w]}]")
            m.add_max_equality(a, group)
            self._derive(a, _largest(group))
            new_by_client[c].append(a)
            if not d.familiar[c, w] and wt.unfamiliar_worker > 0:
                self.terms["unfamiliar_worker"].append((a, 1.0))
        if not distinct:
            return
        for c, new in new_by_client.items():
            if self.fixed.attend.get(c):
                self.terms["distinct_worker"].append((sum(new), 1.0))
            else:
                extra = m.new_int_var(0, len(new), f"distinct[client={d.client_ids[c]}]")
                m.add(extra >= sum(new) - 1)
                self._derive(extra, _linear([(1, a) for a in new], -1, lo=0))
                self.terms["distinct_worker"].append((extra, 1.0))

    def add_continuity_policy(self) -> None:
        """The agency's continuity policy (docs/continuity.md), each term only when its weight
        is above zero: travel a face is worth, faces above the weekly cap, the primary carer's
        shortfall from their share of a client's visit slots, and visit slots taken by a carer
        the client does not know."""
        d, m, x, wt = self.data, self.model, self.vars, self.data.weights
        if wt.face_travel_minutes > 0:
            # The same faces as distinct_worker, priced at face_travel_minutes x travel_minute.
            self.terms["face_travel_minutes"] = [
                (expr, factor * wt.travel_minute) for expr, factor in self.terms["distinct_worker"]
            ]
        if wt.unfamiliar_visit > 0:
            # Slots of the fixed visits are a constant here: only the free ones are priced.
            self.terms["unfamiliar_visit"] = [
                (lit, 1.0)
                for (v, w), lit in x.counted.items()
                if not d.familiar[int(d.visit_client[v]), w]
            ]
        free = set(self.free)
        cap = wt.faces_cap
        if wt.faces_over_cap > 0 and cap is not None:
            fixed: dict[tuple[int, int], set[int]] = defaultdict(set)  # (client, week) -> workers
            for w, legs in self._acc.legs.items():
                for leg in legs:
                    if leg.visit not in free:
                        week = int(d.visit_day[leg.visit]) // 7
                        fixed[(int(d.visit_client[leg.visit]), week)].add(w)
            lits: dict[tuple[int, int], dict[int, list[cp_model.IntVar]]] = defaultdict(
                lambda: defaultdict(list)
            )
            for v, w, lit in x.attendance():
                lits[(int(d.visit_client[v]), int(d.visit_day[v]) // 7)][w].append(lit)
            for (c, week), by_worker in sorted(lits.items()):
                new = []
                for w, group in sorted(by_worker.items()):
                    if w in fixed[(c, week)]:
                        continue
                    a = m.new_bool_var(
                        f"attends_week[client={d.client_ids[c]},week={week},"
                        f"worker={d.worker_ids[w]}]"
                    )
                    m.add_max_equality(a, group)
                    self._derive(a, _largest(group))
                    new.append(a)
                room = cap - len(fixed[(c, week)])
                if len(new) <= room:
                    continue
                # The fixed visits may already bring more carers than the cap: that excess is a
                # constant here, and the bound must hold it or the model has no solution.
                over = m.new_int_var(
                    0,
                    len(new) + max(0, -room),
                    f"faces_over_cap[client={d.client_ids[c]},week={week}]",
                )
                m.add(over >= sum(new) - room)
                self._derive(over, _linear([(1, a) for a in new], -room, lo=0))
                self.terms["faces_over_cap"].append((over, 1.0))
        if wt.primary_share_shortfall > 0 and wt.primary_carer_share > 0:
            # In hundredths of a slot, so that a share such as 0.7 stays an integer coefficient.
            share = round(100 * wt.primary_carer_share)
            held: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
            for v, ws in self.sol.workers.items():
                if v not in free:
                    for w in ws:
                        held[int(d.visit_client[v])][w] += 1
            slots: dict[int, dict[int, list[cp_model.IntVar]]] = defaultdict(
                lambda: defaultdict(list)
            )
            for (v, w), lit in x.counted.items():
                slots[int(d.visit_client[v])][w].append(lit)
            for c, by_worker in sorted(slots.items()):
                workers = sorted(set(by_worker) | set(held[c]))
                counts = []
                for w in workers:
                    most = held[c][w] + len(by_worker.get(w, []))
                    n = m.new_int_var(
                        0, most, f"slots[client={d.client_ids[c]},worker={d.worker_ids[w]}]"
                    )
                    mine = by_worker.get(w, [])
                    m.add(n == held[c][w] + sum(mine))
                    self._derive(n, _linear([(1, lit) for lit in mine], held[c][w]))
                    counts.append((n, most))
                total = sum(most for _, most in counts)
                top = m.new_int_var(
                    0, max(most for _, most in counts), f"primary[client={d.client_ids[c]}]"
                )
                m.add_max_equality(top, [n for n, _ in counts])
                self._derive(top, _largest([n for n, _ in counts]))
                short = m.new_int_var(0, share * total, f"primary_short[client={d.client_ids[c]}]")
                m.add(short >= share * sum(n for n, _ in counts) - 100 * top)
                shares: Sum = [(share, n) for n, _ in counts]
                self._derive(short, _linear([*shares, (-100, top)], lo=0))
                self.terms["primary_share_shortfall"].append((short, 0.01))

    def add_contract_shortfall(self) -> None:
        d, m = self.data, self.model
        if d.weights.contract_shortfall_minute <= 0:
            return
        for w, work in self.vars.working.items():
            target = int(d.contracted[w])
            if target <= 0:
                continue
            short = m.new_int_var(0, target, f"shortfall[worker={d.worker_ids[w]}]")
            outside = int(self.fixed.outside_minutes.get(w, 0.0))
            m.add(short >= target - outside - _expr(work))
            self._derive(
                short, _linear([(-c, x) for c, x in work], target - outside, lo=0, hi=target)
            )
            self.terms["contract_shortfall_minute"].append((short, 1.0 / d.unit))

    def add_lateness(self) -> None:
        """Late starts (each priced by ``late_minute``) and the largest (``max_late_minute``)."""
        d, m, x, wt = self.data, self.model, self.vars, self.data.weights
        if not any(d.late_allowed[v] > 0 for v in self.free):
            return
        if wt.late_minute <= 0 and wt.max_late_minute <= 0:
            return
        worst: cp_model.IntVar | None = None
        if wt.max_late_minute > 0:
            worst = m.new_int_var(self.fixed.max_late, int(d.late_allowed.max()), "max_late")
        lates: list[tuple[cp_model.IntVar | None, int]] = []  # (late, visit) for the worst
        for v in self.free:
            allowed = int(d.late_allowed[v])
            if allowed == 0:
                continue
            if wt.late_minute <= 0:
                assert worst is not None
                m.add(worst >= x.start[v] - int(d.latest[v])).only_enforce_if(x.staffed[v])
                lates.append((None, v))
                continue
            late = m.new_int_var(0, allowed, f"late[{d.visit_ids[v]}]")
            m.add(late >= x.start[v] - int(d.latest[v])).only_enforce_if(x.staffed[v])
            self._derive(late, functools.partial(self._late, v))
            if worst is not None:
                m.add(worst >= late)
            lates.append((late, v))
            self.terms["late_minute"].append((late, 1.0 / d.unit))
        if worst is not None:
            floor = self.fixed.max_late

            def worst_late(value: Value) -> int:
                return max([floor, *(self._late(v, value) for _, v in lates)])

            self._derive(worst, worst_late)
            self.terms["max_late_minute"].append((worst, 1.0 / d.unit))

    def _late(self, v: int, value: Value) -> int:
        """Visit ``v``'s lateness under the hint: its start past its window, if staffed."""
        x = self.vars
        if not value(x.staffed[v]):
            return 0
        return max(0, value(x.start[v]) - int(self.data.latest[v]))

    def add_coordinator_rule(self) -> None:
        """Rule 6: month-end months in full, other months paced; shortfalls cost, never break."""
        d, m, x = self.data, self.model, self.vars
        if d.weights.coordinator_rule <= 0:
            return
        for req in d.requirements:
            k = req.coordinator
            if k not in self.hood.workers or req.clients.size == 0:
                continue
            days = set(req.days.tolist())
            seen_lits: list[cp_model.IntVar] = []
            constant = 0
            for c in req.clients.tolist():
                if any((k, c, day) in self.fixed.seen for day in days):
                    constant += 1
                    continue
                group = [
                    lit
                    for v, w, lit in x.attendance()
                    if w == k and int(d.visit_client[v]) == c and int(d.visit_day[v]) in days
                ]
                if not group:
                    continue
                seen = m.new_bool_var(
                    f"seen[coordinator={d.worker_ids[k]},client={d.client_ids[c]},"
                    f"month={req.month}]"
                )
                m.add_max_equality(seen, group)
                self._derive(seen, _largest(group))
                seen_lits.append(seen)
            need = req.required - constant
            if need <= 0:
                continue
            short = m.new_int_var(0, need, f"coordinator_short[{d.worker_ids[k]},{req.month}]")
            m.add(short >= need - sum(seen_lits))
            self._derive(short, _linear([(-1, a) for a in seen_lits], need, lo=0))
            self.terms["coordinator_rule"].append((short, 1.0))

    # -- hints and read-back ----------------------------------------------------------------

    def hint(self, sol: Solution) -> None:
        """A complete hint from ``sol`` (the current rota restricted to this neighbourhood).

        Every variable gets a value: the decisions from ``sol``, the route arcs from its order of
        visits, and every derived variable (an "attends" flag, a shortfall, a lateness) the value
        the constraints give it, so CP-SAT reports the hint complete and feasible.
        """
        d, m, x = self.data, self.model, self.vars
        m.clear_hints()  # type: ignore[no-untyped-call]
        hinted: dict[int, int] = {}

        def put(var: cp_model.IntVar, value: int) -> None:
            hinted[var.index] = value
            m.add_hint(var, value)

        for v in self.free:
            put(x.staffed[v], int(v in sol.start))
            put(x.start[v], sol.start.get(v, int(d.earliest[v])))
        for (v, w), lit in x.counted.items():
            put(lit, int(v in sol.start and w in sol.workers[v]))
        for (v, k), lit in x.shadow.items():
            put(lit, int(k in sol.shadows.get(v, [])))
        for (w, h), nodes in x.routes.items():
            on = sorted(
                (sol.start[n.visit], i)
                for i, n in enumerate(nodes, start=1)
                if isinstance(n.present, int)
                or (
                    n.visit in sol.start
                    and w in sol.workers[n.visit] + sol.shadows.get(n.visit, [])
                )
            )
            order = [0] + [i for _, i in on] + [0]
            chosen = set(itertools.pairwise(order)) if on else {(0, 0)}
            for i, j, arc in x.arcs[(w, h)]:
                # A visit's self-loop is the negation of its presence, hinted through it.
                if isinstance(arc, cp_model.IntVar):
                    put(arc, int((i, j) in chosen))

        def value(var: cp_model.IntVar | int) -> int:
            return var if isinstance(var, int) else hinted[var.index]

        # In the order they were made, so each finds the values it is derived from.
        for var, derived in self._derived:
            put(var, derived(value))

    def read(self, solver: cp_model.CpSolver) -> Solution:
        """The current solution with the neighbourhood replaced by the solver's answer."""
        x = self.vars
        out = self.sol.copy()
        for v in self.free:
            out.start.pop(v, None)
            out.workers.pop(v, None)
            out.shadows.pop(v, None)
            if solver.boolean_value(x.staffed[v]):
                out.start[v] = int(solver.value(x.start[v]))
                out.workers[v] = [w for w, lit in x.crew(v) if solver.boolean_value(lit)]
                ks = [
                    k
                    for k in self._shadowers(v)
                    if (lit := x.shadowing(v, k)) is not None and solver.boolean_value(lit)
                ]
                if ks:
                    out.shadows[v] = ks
        return out
