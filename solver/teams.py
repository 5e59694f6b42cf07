"""Care teams: which few carers each client should see, chosen with capacity in view.

A model at visit level cannot be solved for a whole week (issue 15: no solution on the medium
agency in 240 s), and teams taken from a rota after the fact lose visits. This model works at a
coarser grain, client x worker x day-part per day, in 15-minute units:

- **demand** of a client in a day-part block: the carer-minutes of its visits starting there
  (duration x workers required);
- **capacity** of a worker in a day-part: the minutes of their shifts inside it, less a travel
  allowance; daily and weekly caps hold too, and a coordinator keeps back the field time the
  coordinator rule needs;
- **eligibility**: a worker may take minutes of a block only for the visits they could be counted
  on (skills, exclusions, gender preference, a shift holding the visit), at most each visit's
  duration once (one worker is one member of a double-up crew);
- **team**: ``in_team[c, w]`` enables ``x[c, w, day, part]``; a pinned worker is in the team.

It minimises uncovered demand first (priced far above a face), then faces and unfamiliar faces
per client, then the carers' distance from the client. A greedy construction and local moves
find the teams; CP-SAT then re-plans groups of neighbouring clients with the current teams as a
complete hint, and an answer is kept only when it is no worse (see :func:`plan_teams`).
"""

from __future__ import annotations

import math
import random
import time as clock_time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time

from ortools.sat.python import cp_model

from solver.contract import CareTeam, DayPart, Problem
from solver.data import ProblemData

Teams = dict[int, list[int]]  # client -> workers, the primary carer (most minutes) first

UNIT = 15  # minutes per unit of demand and capacity
# Uncovered demand must outweigh any face: a 15-minute unit costs at least this.
UNCOVERED = 1000
FACE = 30
UNFAMILIAR = 60
# A carer's home an hour from the client costs about as much as a face: nearby carers first.
NEAR_PER_MINUTE = 0.5


# The generator's rounds (07:00-10:00, 11:30-13:30, 16:00-18:00, 19:30-22:00) each fall in one.
DAY_PARTS: tuple[DayPart, ...] = (
    DayPart(name="morning", start="06:00"),
    DayPart(name="lunch", start="11:00"),
    DayPart(name="tea", start="15:00"),
    DayPart(name="bed", start="19:00"),
    DayPart(name="night", start="22:30"),
)


@dataclass(frozen=True)
class TeamOptions:
    """How the team model sees the agency's week and its continuity policy."""

    parts: tuple[DayPart, ...] = DAY_PARTS
    # What a face and an unfamiliar face cost (both also above the carer's distance).
    face: float = FACE
    unfamiliar: float = UNFAMILIAR
    # Share of shift minutes left for travel between visits.
    travel_allowance: float = 0.2
    # Per client per week: more faces cost ``over_cap`` each, or are refused when ``cap_hard``.
    faces_cap: int | None = None
    over_cap: float = 0.0
    cap_hard: bool = False
    # Carers considered per client beyond the familiar and pinned ones (nearest first).
    nearest: int = 25
    # Clients re-planned together in each CP-SAT step, and that step's time limit.
    group_size: int = 6
    step_seconds: float = 0.5
    # Group solves in a row without an improvement before the search stops early.
    patience: int = 10


@dataclass
class TeamPlan:
    """The teams and what the model found on the way."""

    teams: Teams
    minutes: dict[tuple[int, int], int]  # (client, worker) -> planned carer-minutes
    uncovered_minutes: int
    status: str  # "improved" (CP-SAT bettered a group) or "greedy" (construction and moves)
    seconds: float
    objective: float
    steps: int = 0  # CP-SAT group solves
    notes: list[str] = field(default_factory=list)


def part_of(minute_of_day: int, parts: tuple[DayPart, ...]) -> int:
    """The index of the day-part holding ``minute_of_day``; before the first, the last part."""
    found = len(parts) - 1
    for i, part in enumerate(parts):
        if part.minute <= minute_of_day:
            found = i
    return found


@dataclass
class _Block:
    client: int
    day: int
    part: int
    demand: int  # units
    bound: dict[int, int]  # worker -> most units they may take here


class _Instance:
    """Blocks, capacities and the pruned worker lists the model and the greedy share."""

    def __init__(self, data: ProblemData, options: TeamOptions) -> None:
        self.data, self.options = data, options
        parts = options.parts
        d = data
        minutes: dict[tuple[int, int, int], int] = defaultdict(int)
        eligible: dict[tuple[int, int, int], dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for v in range(d.n_visits):
            local = d.clock.local(int(d.earliest[v]) // d.unit)
            p = part_of(local.hour * 60 + local.minute, parts)
            key = (int(d.visit_client[v]), int(d.visit_day[v]), p)
            length = int(d.duration[v]) // d.unit
            minutes[key] += length * int(d.required[v])
            for w in d.candidates[v]:
                eligible[key][w] += length
        self.pinned: dict[int, set[int]] = defaultdict(set)
        for v, ws in enumerate(d.pinned):
            self.pinned[int(d.visit_client[v])].update(ws)
        self.keep = self._prune(eligible)
        self.blocks = [
            _Block(
                c,
                day,
                p,
                math.ceil(total / UNIT),
                {w: math.ceil(m / UNIT) for w, m in sorted(eligible[(c, day, p)].items())},
            )
            for (c, day, p), total in sorted(minutes.items())
        ]
        self.by_client: dict[int, list[int]] = defaultdict(list)
        for b, block in enumerate(self.blocks):
            self.by_client[block.client].append(b)
        self.pool = {
            c: {w for b in bs for w in self.blocks[b].bound} for c, bs in self.by_client.items()
        }
        self.capacity = self._capacity()
        keep = 1 - options.travel_allowance
        self.day_cap = {
            w: int(int(d.max_day[w]) / d.unit * keep) // UNIT
            for w in range(d.n_workers)
            if d.max_day[w] >= 0
        }
        reserve = self._coordinator_reserve()
        self.week_cap = {
            w: max(0, int(int(d.max_week[w]) / d.unit * keep) - reserve.get(w, 0)) // UNIT
            for w in range(d.n_workers)
            if d.max_week[w] >= 0
        }
        for w, kept in reserve.items():
            if d.max_week[w] < 0:  # no field-time budget: the reserve comes out of the shifts
                total = sum(self.capacity.get((w, day, p), 0) for day, p in self._slots(w))
                self.week_cap[w] = max(0, total - math.ceil(kept / UNIT))
        self.day_left_full = {
            (w, day): units for w, units in self.day_cap.items() for day in range(len(d.days))
        }
        self.cost = self._team_costs()
        # A quarter hour left uncovered costs more than any one face that could cover it.
        self.uncovered = max([UNCOVERED, *(2 * cost for cost in self.cost.values())])

    def _slots(self, w: int) -> list[tuple[int, int]]:
        return [(day, p) for (ww, day, p) in self.capacity if ww == w]

    def _prune(self, eligible: dict[tuple[int, int, int], dict[int, int]]) -> dict[int, set[int]]:
        """Per client: pinned and familiar carers, then the nearest until every block has a
        few more candidates than its demand needs."""
        d = self.data
        by_client: dict[int, list[dict[int, int]]] = defaultdict(list)
        for (c, _, _), ws in eligible.items():
            by_client[c].append(ws)
        keep: dict[int, set[int]] = {}
        for c, blocks in by_client.items():
            pool = sorted(
                {w for ws in blocks for w in ws},
                key=lambda w: (not d.familiar[c, w], self.distance(w, c), w),
            )
            kept = {w for w in pool if d.familiar[c, w]} | self.pinned[c]
            rest = [w for w in pool if w not in kept]
            kept.update(rest[: self.options.nearest])
            for ws in blocks:
                # Each block keeps at least three candidates (a double-up and one spare).
                have = sum(1 for w in ws if w in kept)
                for w in rest:
                    if have >= min(3, len(ws)):
                        break
                    if w in ws and w not in kept:
                        kept.add(w)
                        have += 1
            keep[c] = kept
        return keep

    def distance(self, w: int, c: int) -> float:
        d = self.data
        return float(d.travel_exact[d.worker_mode[w], d.worker_place[w], d.client_place[c]])

    def _capacity(self) -> dict[tuple[int, int, int], int]:
        """Units of shift time per (worker, day, part), less the travel allowance."""
        d, parts = self.data, self.options.parts
        edges: list[list[tuple[int, int, int]]] = []  # per day: (part, from, to) in data units
        for i, day in enumerate(d.days):
            at = [
                d.clock.minute_up(datetime.combine(day, time(p.minute // 60, p.minute % 60)))
                * d.unit
                for p in parts
            ]
            midnight, next_midnight = int(d.day_start[i]), int(d.day_start[i + 1])
            pieces = [(k, at[k], at[k + 1]) for k in range(len(parts) - 1)]
            pieces.append((len(parts) - 1, at[-1], next_midnight))
            pieces.append((len(parts) - 1, midnight, at[0]))  # before the first part: the last
            edges.append(pieces)
        keep = 1 - self.options.travel_allowance
        out: dict[tuple[int, int, int], int] = defaultdict(int)
        raw: dict[tuple[int, int, int], float] = defaultdict(float)
        for h in range(len(d.shift_worker)):
            w, s, e = int(d.shift_worker[h]), int(d.shift_start[h]), int(d.shift_end[h])
            for i, pieces in enumerate(edges):
                if e <= d.day_start[i] or s >= d.day_start[i + 1]:
                    continue
                for p, lo, hi in pieces:
                    overlap = min(e, hi) - max(s, lo)
                    if overlap > 0:
                        raw[(w, i, p)] += overlap / d.unit * keep
        for key, value in raw.items():
            out[key] = int(value // UNIT)
        return dict(out)

    def _coordinator_reserve(self) -> dict[int, int]:
        """Minutes each coordinator keeps free for the visits the coordinator rule requires:
        the shortest visit of each required client, plus a travel allowance on it."""
        d = self.data
        shortest: dict[int, int] = {}
        for v in range(d.n_visits):
            c = int(d.visit_client[v])
            length = int(d.duration[v]) // d.unit
            shortest[c] = min(shortest.get(c, length), length)
        reserve: dict[int, int] = defaultdict(int)
        for req in d.requirements:
            if req.required <= 0:
                continue
            lengths = sorted(shortest.get(int(c), 0) for c in req.clients)
            reserve[req.coordinator] += math.ceil(
                sum(lengths[: req.required]) / (1 - self.options.travel_allowance)
            )
        return dict(reserve)

    def _team_costs(self) -> dict[tuple[int, int], int]:
        d = self.data
        return {
            (c, w): round(self.options.face)
            + (0 if d.familiar[c, w] else round(self.options.unfamiliar))
            + round(NEAR_PER_MINUTE * self.distance(w, c))
            for c, ws in self.pool.items()
            for w in ws
        }

    def faces_cap(self, c: int) -> int | None:
        cap = self.options.faces_cap
        return None if cap is None else max(cap, len(self.pinned[c]))


class _Greedy:
    """Units per (block, worker) and teams, built client by client with what is left."""

    def __init__(self, inst: _Instance) -> None:
        self.inst = inst
        self.cap = dict(inst.capacity)
        self.day_left = dict(inst.day_left_full)
        self.week_left = dict(inst.week_cap)
        self.x: dict[tuple[int, int], int] = {}
        self.team: set[tuple[int, int]] = set()
        self.crew: dict[int, set[int]] = defaultdict(set)  # client -> team, as self.team
        # (worker, day, part) -> blocks where the worker has units: what make_room may move.
        self.at: dict[tuple[int, int, int], set[int]] = defaultdict(set)

    def room(self, b: int, w: int) -> int:
        block = self.inst.blocks[b]
        left = min(
            block.bound.get(w, 0) - self.x.get((b, w), 0),
            self.cap.get((w, block.day, block.part), 0),
        )
        if (w, block.day) in self.day_left:
            left = min(left, self.day_left[(w, block.day)])
        if w in self.week_left:
            left = min(left, self.week_left[w])
        return max(0, left)

    def take(self, b: int, w: int, units: int) -> None:
        """Give ``units`` of block ``b`` to ``w`` (negative: take them back)."""
        block = self.inst.blocks[b]
        self.x[(b, w)] = self.x.get((b, w), 0) + units
        if self.x[(b, w)]:
            self.at[(w, block.day, block.part)].add(b)
        else:
            del self.x[(b, w)]
            self.at[(w, block.day, block.part)].discard(b)
        self.cap[(w, block.day, block.part)] -= units
        if (w, block.day) in self.day_left:
            self.day_left[(w, block.day)] -= units
        if w in self.week_left:
            self.week_left[w] -= units

    def join(self, c: int, w: int) -> None:
        self.team.add((c, w))
        self.crew[c].add(w)

    def leave(self, c: int, w: int) -> None:
        self.team.discard((c, w))
        self.crew[c].discard(w)

    def build(self) -> None:
        """Each client in turn, tightest first, fills its blocks from its team and adds the
        carer who covers the rest at the least cost per unit (set cover's greedy rule)."""
        inst = self.inst

        def tightness(c: int) -> tuple[int, int]:
            return (len(inst.pool[c]), -sum(inst.blocks[b].demand for b in inst.by_client[c]))

        for c in sorted(inst.by_client, key=tightness):
            blocks = inst.by_client[c]
            members = sorted(inst.pinned[c] & inst.pool[c])
            for w in members:
                self.join(c, w)
            need = {b: inst.blocks[b].demand for b in blocks}
            while True:
                for w in members:
                    for b in blocks:
                        units = min(need[b], self.room(b, w))
                        if units > 0:
                            self.take(b, w, units)
                            need[b] -= units
                if not any(need.values()):
                    break
                limit = inst.faces_cap(c)
                if limit is not None and inst.options.cap_hard and len(members) >= limit:
                    break
                gain: dict[int, int] = defaultdict(int)
                for b in blocks:
                    if need[b]:
                        for w in inst.blocks[b].bound:
                            if w not in members:
                                gain[w] += min(need[b], self.room(b, w))
                gain = {w: g for w, g in gain.items() if g > 0}
                if not gain:
                    break
                best = min(gain, key=lambda w: (inst.cost[(c, w)] / gain[w], w))
                members.append(best)
                self.join(c, best)

    def members(self, c: int) -> list[int]:
        return sorted(self.crew[c])

    def hand_over(self, c: int, w: int, targets: list[int]) -> bool:
        """Move all of ``w``'s units with client ``c`` to ``targets`` (making room for them
        where needed); False, with nothing changed, when they cannot take them all."""
        moved: list[tuple[int, int, int]] = []
        for b in self.inst.by_client[c]:
            units = self.x.get((b, w), 0)
            for o in targets:
                if not units:
                    break
                if self.room(b, o) < units:
                    moved += self.make_room(b, o, units - self.room(b, o), c)
                step = min(units, self.room(b, o))
                if step > 0:
                    self.take(b, o, step)
                    self.take(b, w, -step)
                    moved += [(b, o, step), (b, w, -step)]
                    units -= step
            if units:
                for b2, o, step in reversed(moved):
                    self.take(b2, o, -step)
                return False
        return True

    def drop_faces(self) -> int:
        """Remove each team member whose units the client's other members can take over,
        the members with the fewest units first; returns how many were removed."""
        inst = self.inst
        removed = 0
        for c in sorted(inst.by_client):
            members = self.members(c)
            mine = {w: sum(self.x.get((b, w), 0) for b in inst.by_client[c]) for w in members}
            for w in sorted(members, key=lambda w: (mine[w], -inst.cost[(c, w)], w)):
                if w in inst.pinned[c]:
                    continue
                others = [o for o in self.members(c) if o != w]
                others.sort(key=lambda o: (inst.cost[(c, o)], o))
                if self.hand_over(c, w, others):
                    self.leave(c, w)
                    removed += 1
        return removed

    def replace_members(self) -> int:
        """Swap a team member for a cheaper carer (familiar, or nearer) outside the team who
        can take over all of their units; returns how many were swapped."""
        inst = self.inst
        swapped = 0
        for c in sorted(inst.by_client):
            for w in self.members(c):
                if w in inst.pinned[c]:
                    continue
                cheaper = sorted(
                    (f for f in inst.pool[c] if (c, f) not in self.team),
                    key=lambda f: (inst.cost[(c, f)], f),
                )
                # Only the three cheapest are tried: each try may move many minutes around.
                for f in cheaper[:3]:
                    if inst.cost[(c, f)] >= inst.cost[(c, w)]:
                        break
                    if self.hand_over(c, w, [f]):
                        self.leave(c, w)
                        self.join(c, f)
                        swapped += 1
                        break
        return swapped

    def make_room(self, b: int, o: int, want: int, client: int) -> list[tuple[int, int, int]]:
        """Free up to ``want`` units of ``o``'s time in block ``b``'s day-part by handing
        ``o``'s units with other clients there to those clients' other team members.

        Returns the moves made, ``(block, worker, units)`` each, so that they can be undone.
        """
        inst = self.inst
        block = inst.blocks[b]
        moves: list[tuple[int, int, int]] = []
        for b2 in sorted(self.at[(o, block.day, block.part)]):
            c2 = inst.blocks[b2].client
            have = self.x.get((b2, o), 0)
            if want <= 0:
                break
            if c2 == client or not have:
                continue
            for o2 in self.members(c2):
                if o2 == o:
                    continue
                step = min(have, want, self.room(b2, o2))
                if step > 0:
                    self.take(b2, o2, step)
                    self.take(b2, o, -step)
                    moves += [(b2, o2, step), (b2, o, -step)]
                    have -= step
                    want -= step
        return moves


def _objective_of(
    inst: _Instance, x: dict[tuple[int, int], int], team: set[tuple[int, int]]
) -> float:
    covered: dict[int, int] = defaultdict(int)
    for (b, _), units in x.items():
        covered[b] += units
    uncovered = sum(block.demand - covered[b] for b, block in enumerate(inst.blocks))
    faces: dict[int, int] = defaultdict(int)
    for c, _ in team:
        faces[c] += 1
    cap = inst.options.faces_cap
    over = sum(max(0, n - cap) for n in faces.values()) if cap is not None else 0
    return (
        inst.uncovered * uncovered
        + sum(inst.cost[key] for key in team)
        + inst.options.over_cap * over
    )


def _solve_group(
    inst: _Instance,
    group: list[int],
    x: dict[tuple[int, int], int],
    team: set[tuple[int, int]],
    time_limit: float,
    seed: int,
) -> tuple[dict[tuple[int, int], int], set[tuple[int, int]]] | None:
    """The best teams for the clients of ``group``, everyone else's held as they are.

    Returns the group's new units and team pairs, or None when CP-SAT finds nothing better than
    the current ones (which it gets as a complete hint).
    """
    d, options = inst.data, inst.options
    members = set(group)
    blocks = [b for c in group for b in inst.by_client[c]]
    # What the other clients use stays used.
    cap = dict(inst.capacity)
    day_left = dict(inst.day_left_full)
    week_left = dict(inst.week_cap)
    for (b, w), units in x.items():
        block = inst.blocks[b]
        if block.client in members:
            continue
        cap[(w, block.day, block.part)] = cap.get((w, block.day, block.part), 0) - units
        if (w, block.day) in day_left:
            day_left[(w, block.day)] -= units
        if w in week_left:
            week_left[w] -= units

    m = cp_model.CpModel()
    lits: dict[tuple[int, int], cp_model.IntVar] = {}
    chosen = {c: inst.keep[c] | {w for w in inst.pool[c] if (c, w) in team} for c in group}
    for c in group:
        for w in sorted(chosen[c]):
            lit = m.new_bool_var(f"in_team[client={d.client_ids[c]},worker={d.worker_ids[w]}]")
            lits[(c, w)] = lit
            m.add_hint(lit, (c, w) in team)
            if w in inst.pinned[c]:
                m.add(lit == 1)
    xs: dict[tuple[int, int], cp_model.IntVar] = {}
    load: dict[tuple[int, int, int], list[cp_model.IntVar]] = defaultdict(list)
    day_load: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    week_load: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    misses: list[cp_model.IntVar] = []
    for b in blocks:
        block = inst.blocks[b]
        share = []
        for w, bound in block.bound.items():
            top = min(bound, block.demand, cap.get((w, block.day, block.part), 0))
            if top <= 0 or w not in chosen[block.client]:
                continue
            var = m.new_int_var(0, top, f"x[{b},{w}]")
            m.add(var <= top * lits[(block.client, w)])
            m.add_hint(var, x.get((b, w), 0))
            xs[(b, w)] = var
            share.append(var)
            load[(w, block.day, block.part)].append(var)
            day_load[(w, block.day)].append(var)
            week_load[w].append(var)
        miss = m.new_int_var(0, block.demand, f"uncovered[{b}]")
        m.add(sum(share) + miss == block.demand)
        m.add_hint(miss, block.demand - sum(x.get((b, w), 0) for w in block.bound))
        misses.append(miss)
    for key, parts in load.items():
        m.add(sum(parts) <= max(0, cap.get(key, 0)))
    for key2, parts in day_load.items():
        if key2 in day_left:
            m.add(sum(parts) <= max(0, day_left[key2]))
    for w, parts in week_load.items():
        if w in week_left:
            m.add(sum(parts) <= max(0, week_left[w]))
    over: list[cp_model.LinearExprT] = []
    for c in group:
        limit = inst.faces_cap(c)
        if limit is None:
            continue
        size = sum(lits[(c, w)] for w in chosen[c])
        if options.cap_hard:
            m.add(size <= limit)
        elif options.over_cap > 0:
            extra = m.new_int_var(0, len(chosen[c]), f"over_cap[client={d.client_ids[c]}]")
            m.add(extra >= size - limit)
            m.add_hint(extra, max(0, sum(1 for w in chosen[c] if (c, w) in team) - limit))
            over.append(extra)
    terms: list[cp_model.LinearExprT] = [*misses, *lits.values(), *over]
    coefs = [inst.uncovered] * len(misses) + [inst.cost[key] for key in lits]
    coefs += [round(options.over_cap)] * len(over)
    m.minimize(cp_model.LinearExpr.weighted_sum(terms, coefs))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = 1
    code = solver.solve(m)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return (
        {key: int(solver.value(var)) for key, var in xs.items() if solver.value(var)},
        {key for key, lit in lits.items() if solver.value(lit)},
    )


def _group(inst: _Instance, seed_client: int, team: set[tuple[int, int]], size: int) -> list[int]:
    """The seed client and the clients nearest it that share a team member or a candidate."""
    d = inst.data
    mine = {w for (c, w) in team if c == seed_client}
    # Any mode's travel ranks neighbours: the slowest in use, as every mode's row is filled.
    away = d.travel_exact[:, d.client_place[seed_client], d.client_place].max(axis=0)
    near = sorted(
        (c for c in inst.keep if c != seed_client and inst.pool[c] & mine),
        key=lambda c: (float(away[c]), c),
    )
    return [seed_client, *near[: size - 1]]


def plan_teams(
    data: ProblemData, time_limit: float, seed: int, options: TeamOptions | None = None
) -> TeamPlan:
    """Each client's care team within ``time_limit`` seconds.

    A greedy construction (set cover, tightest clients first) and local moves until none
    helps: a face removed by handing its units to the client's other carers, making room for
    them by passing the carers' other clients' units in that day-part to those clients' own
    teams; a carer swapped for a cheaper one (familiar, or nearer). Then CP-SAT over groups of
    neighbouring clients in turn (the rest held fixed, the current teams as a complete hint),
    keeping a group's answer only when it is no worse, until ``options.patience`` groups in a
    row bring nothing or the time is up. The whole week in one model is too large for CP-SAT to
    improve on the greedy (71,790 variables on the medium agency: nothing better in 25 s).
    """
    started = clock_time.monotonic()
    options = options or TeamOptions()
    inst = _Instance(data, options)
    start = _Greedy(inst)
    start.build()
    # Local moves until neither finds anything: each pass takes a fraction of a second.
    while start.drop_faces() + start.replace_members():
        pass
    x, team = start.x, start.team
    objective = _objective_of(inst, x, team)
    rng = random.Random(seed)
    clients = sorted(inst.keep)
    steps = improved = stalled = 0
    status = "greedy"
    while (
        clients
        and stalled < options.patience
        and clock_time.monotonic() - started < time_limit - 0.05
    ):
        steps += 1
        stalled += 1
        group = _group(inst, rng.choice(clients), team, options.group_size)
        left = time_limit - (clock_time.monotonic() - started)
        found = _solve_group(
            inst, group, x, team, min(options.step_seconds, left), rng.randrange(1 << 30)
        )
        if found is None:
            continue
        members = set(group)
        new_x = {key: u for key, u in x.items() if inst.blocks[key[0]].client not in members}
        new_x.update(found[0])
        new_team = {pair for pair in team if pair[0] not in members} | found[1]
        value = _objective_of(inst, new_x, new_team)
        if value <= objective:
            if value < objective:
                improved += 1
                stalled = 0
                status = "improved"
            x, team, objective = new_x, new_team, value
    plan = _plan(inst, x, team, status, objective, started, steps)
    plan.notes.append(f"{steps} group solves, {improved} improved")
    return plan


def _plan(
    inst: _Instance,
    x: dict[tuple[int, int], int],
    team: set[tuple[int, int]],
    status: str,
    objective: float,
    started: float,
    steps: int,
) -> TeamPlan:
    minutes: dict[tuple[int, int], int] = defaultdict(int)
    covered: dict[int, int] = defaultdict(int)
    for (b, w), units in x.items():
        if units > 0:
            minutes[(inst.blocks[b].client, w)] += units * UNIT
            covered[b] += units
    uncovered = sum(block.demand - covered[b] for b, block in enumerate(inst.blocks)) * UNIT
    teams: Teams = {}
    d = inst.data
    for c, w in team:
        # A member with no minutes stays only when pinned: nobody plans to send them otherwise.
        if minutes.get((c, w), 0) > 0 or w in inst.pinned[c]:
            teams.setdefault(c, []).append(w)
    for c, ws in teams.items():
        ws.sort(key=lambda w: (-minutes.get((c, w), 0), not d.familiar[c, w], w))
    return TeamPlan(
        teams=dict(sorted(teams.items())),
        minutes=dict(minutes),
        uncovered_minutes=uncovered,
        status=status,
        seconds=clock_time.monotonic() - started,
        objective=objective,
        steps=steps,
    )


def options_for(problem: Problem) -> TeamOptions:
    """The team model's options for the agency: its day-parts and continuity policy."""
    weights = problem.weights
    parts = tuple(problem.day_parts) if problem.day_parts else DAY_PARTS
    # The agency's own prices of a face, where it sets any: the travel a face is worth on top.
    face = weights.distinct_worker + weights.face_travel_minutes * weights.travel_minute
    return TeamOptions(
        parts=parts,
        face=face if face > 0 else FACE,
        unfamiliar=weights.unfamiliar_worker if weights.unfamiliar_worker > 0 else UNFAMILIAR,
        faces_cap=weights.faces_cap,
        over_cap=weights.faces_over_cap,
        cap_hard=weights.faces_cap_hard and weights.faces_cap is not None,
    )


def care_teams(data: ProblemData, time_limit: float, seed: int) -> Teams:
    """Each client's care team (client index -> worker indices, primary carer first)."""
    return plan_teams(data, time_limit, seed, options_for(data.problem)).teams


def as_contract(data: ProblemData, teams: Teams) -> list[CareTeam]:
    """``teams`` as the rota's optional ``teams`` field, by id."""
    return [
        CareTeam(client=data.client_ids[c], workers=[data.worker_ids[w] for w in ws])
        for c, ws in sorted(teams.items())
        if ws
    ]
