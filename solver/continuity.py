"""Continuity of carer, measured from a problem and its rota alone.

Like the checker, this reads only the contract's models (the problem and the rota as returned),
so a rota's continuity figures do not depend on how it was found:

- **faces**: different workers a client sees (counted on a visit or shadowing it), per 7 days
  of the period, and over the last 14 and 28 days with the history's earlier visits (the
  QS182 count: "number of different care workers per person");
- **familiar share**: visit slots (a visit's workers counted one each) taken by a familiar carer
  (one in the client's history or preferred workers);
- **the ceiling the shifts allow**: the share of visit slots a familiar carer could take (one
  with the skills and a shift holding the visit), and per client the fewest faces availability
  allows (a minimum cover of its visits by carers with the skills and shifts, capacity ignored);
- **continuity-of-care index** (Bice-Boxerman): per client ``(sum n_j^2 - N) / (N (N - 1))``
  over its N visit slots, n_j of them by worker j; 1 when one carer does everything, 0 when
  every slot has another carer; the mean over clients with two slots or more;
- **clients seeing the most faces**, each with why.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
from ortools.sat.python import cp_model

from solver.contract import ContinuityMetrics, FacesClient, Problem, Rota

WEEK = 7


@dataclass
class _Client:
    """What one client's rota and history say about the carers they see."""

    faces_by_week: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    slots: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    dates: dict[str, set[date]] = field(default_factory=lambda: defaultdict(set))
    double_ups: int = 0


def _able(problem: Problem) -> list[frozenset[str]]:
    """Per visit of the problem, the workers who could be counted on it: the skills, not
    excluded, the gender asked for, and a shift that holds the visit somewhere in its window.

    Times are wall-clock minutes from the period's first midnight: a clock change moves a
    shift's edge by an hour at most, at night, which a ceiling can afford.
    """
    origin = datetime.combine(problem.period.start, time(0))

    def minute(moment: datetime) -> int:
        return int((moment - origin).total_seconds() // 60)

    workers, visits = problem.workers, problem.visits
    if not workers or not visits:
        return [frozenset() for _ in visits]
    rows = [(i, minute(s.start), minute(s.end)) for i, w in enumerate(workers) for s in w.shifts]
    owner = np.array([r[0] for r in rows], dtype=np.int64)
    s_start = np.array([r[1] for r in rows], dtype=np.int64)
    s_end = np.array([r[2] for r in rows], dtype=np.int64)
    early = np.array([minute(v.earliest_start) for v in visits], dtype=np.int64)
    last = np.array(
        [minute(v.latest_start) + v.late_allowed_minutes for v in visits], dtype=np.int64
    )
    length = np.array([v.duration_minutes for v in visits], dtype=np.int64)
    begin = np.maximum(early[:, None], s_start[None, :])
    fits = (begin <= last[:, None]) & (begin + length[:, None] <= s_end[None, :])
    holds = np.zeros((len(visits), len(workers)), dtype=bool)
    for h in range(len(rows)):
        holds[:, owner[h]] |= fits[:, h]
    skills = sorted({s for w in workers for s in w.skills} | {s for v in visits for s in v.skills})
    index = {s: i for i, s in enumerate(skills)}
    has = np.zeros((len(workers), len(skills)), dtype=np.int64)
    for i, w in enumerate(workers):
        has[i, [index[s] for s in w.skills]] = 1
    needs = np.zeros((len(visits), len(skills)), dtype=np.int64)
    for i, v in enumerate(visits):
        needs[i, [index[s] for s in v.skills]] = 1
    skilled = needs @ (1 - has).T == 0  # no required skill missing
    clients = {c.id: c for c in problem.clients}
    ids = [w.id for w in workers]
    out = []
    for i, v in enumerate(visits):
        client = clients[v.client]
        excluded = set(client.excluded_workers)
        out.append(
            frozenset(
                ids[j]
                for j in np.flatnonzero(holds[i] & skilled[i]).tolist()
                if ids[j] not in excluded
                and (
                    client.gender_preference is None
                    or workers[j].gender == client.gender_preference
                )
            )
        )
    return out


Masks = list[tuple[int, int]]  # per need: its possible carers as bits, how many it needs


def _packing(needs: Masks) -> int:
    """A lower bound on the carers that cover ``needs``: needs whose possible carers are
    pairwise disjoint need separate ones (the fewest possible carers first, as they pack best)."""
    used = 0
    bound = 0
    for able, required in sorted(needs, key=lambda n: (n[0].bit_count(), n[0])):
        if not able & used:
            used |= able
            bound += required
    return max([bound] + [r for _, r in needs])


def _bits(mask: int) -> list[int]:
    """The carers of ``mask``, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low)
        mask ^= low
    return out


# Search nodes per client before CP-SAT takes over (most clients need far fewer).
NODES = 500


Needs = list[tuple[frozenset[str], int]]  # per visit: who could be counted on it, how many


def _fewest(needs: Needs) -> int | Masks:
    """The fewest carers such that every visit has its required number among them (a
    minimum cover, capacity ignored); the reduced needs when a quick search does not settle it.

    Only the minimal needs matter (a visit whose possible carers include all of another's,
    needing no more, is covered with it), which leaves a handful per client. The search runs on
    bit masks: it is most of a rota's measuring time, and a sick call measures its rota too.
    """
    distinct = {(able, min(r, len(able))) for able, r in needs if able}
    minimal = [
        (able, r)
        for able, r in distinct
        if not any(other < able and s >= r for other, s in distinct)
        and not any(other == able and s > r for other, s in distinct)
    ]
    if not minimal:
        return 0
    # A carer whose needs another two carers' include is never needed (a double-up may take
    # both of those); of carers with the same needs, two are enough.
    signature: dict[str, frozenset[int]] = defaultdict(frozenset)
    for i, (able, _) in enumerate(minimal):
        for w in able:
            signature[w] = signature[w] | {i}
    holders: dict[frozenset[int], list[str]] = defaultdict(list)
    for w, mine in sorted(signature.items()):
        holders[mine].append(w)
    keep: set[str] = set()
    for mine, ws in holders.items():
        wider = sum(len(theirs) for other, theirs in holders.items() if mine < other)
        if wider < 2:
            keep.update(ws[:2])
    bit = {w: 1 << i for i, w in enumerate(sorted(keep))}
    masks = [(sum(bit[w] for w in able & keep), r) for able, r in minimal]
    floor = _packing(masks)
    # Set cover's greedy answer bounds the search from above.
    chosen = 0
    while gaps := [
        (m, r - (m & chosen).bit_count()) for m, r in masks if (m & chosen).bit_count() < r
    ]:
        pool = 0
        for m, _ in gaps:
            pool |= m
        gain = {w: sum(g for m, g in gaps if m & w) for w in _bits(pool & ~chosen)}
        chosen |= max(gain, key=lambda w: gain[w])
    best = chosen.bit_count()
    nodes = 0

    def search(chosen: int) -> None:
        nonlocal best, nodes
        nodes += 1
        open_needs = [
            (m, r - (m & chosen).bit_count()) for m, r in masks if (m & chosen).bit_count() < r
        ]
        if not open_needs:
            best = min(best, chosen.bit_count())
            return
        rest = [(m & ~chosen, gap) for m, gap in open_needs]
        if nodes > NODES or chosen.bit_count() + _packing(rest) >= best:
            return
        able = min(rest, key=lambda n: (n[0].bit_count(), n[0]))[0]
        for w in _bits(able):
            search(chosen | w)
            if best == floor:
                return

    search(0)
    return best if nodes <= NODES else masks


def _cover_by_cpsat(needs: Masks) -> int:
    """The minimum cover by CP-SAT, for the few clients the quick search does not settle; its
    bound (still a lower bound) should it not prove the minimum in the time."""
    model = cp_model.CpModel()
    every = 0
    for able, _ in needs:
        every |= able
    pick = {w: model.new_bool_var(str(w.bit_length())) for w in _bits(every)}
    for able, required in needs:
        model.add(sum(pick[w] for w in _bits(able)) >= required)
    model.minimize(sum(pick.values()))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 0.5
    if solver.solve(model) == cp_model.OPTIMAL:
        return round(solver.objective_value)
    return max(_packing(needs), math.ceil(solver.best_objective_bound - 1e-9))


def fewest_faces(needs: Needs) -> int:
    """The fewest carers such that every visit has its required number among them (capacity
    ignored): a short exact search, CP-SAT where that does not settle it."""
    # Only the set of distinct needs matters (as in _fewest), so that is the memo's key.
    return _fewest_faces_of(frozenset((able, min(r, len(able))) for able, r in needs if able))


# Most of a rota's measuring time goes here, and a sick call, a what-if variant or next week's
# plan measures again clients whose needs did not change: a process remembers their answers.
@functools.lru_cache(maxsize=16_384)
def _fewest_faces_of(needs: frozenset[tuple[frozenset[str], int]]) -> int:
    settled = _fewest(list(needs))
    return settled if isinstance(settled, int) else _cover_by_cpsat(settled)


def measure(problem: Problem, rota: Rota, top: int = 10) -> ContinuityMetrics:
    """The continuity of ``rota``: faces, familiar share, the ceiling, COC and who sees most."""
    first, last = problem.period.start, problem.period.end
    visits = {v.id: v for v in problem.visits}
    clients = {c.id: c for c in problem.clients}
    familiar: dict[str, set[str]] = {c.id: set(c.preferred_workers) for c in problem.clients}
    for seen in problem.history.visits:
        familiar[seen.client].add(seen.worker)

    per: dict[str, _Client] = defaultdict(_Client)
    slots = familiar_slots = 0
    for a in rota.assignments:
        visit = visits[a.visit]
        c, day = visit.client, a.start.date()
        mine = per[c]
        mine.double_ups += visit.workers_required > 1
        for w in a.workers:
            mine.faces_by_week[(day - first).days // WEEK].add(w)
            mine.slots[w] += 1
            mine.dates[w].add(day)
            slots += 1
            familiar_slots += w in familiar[c]
    day_of = {a.visit: a.start.date() for a in rota.assignments}
    for cv in rota.coordinator_visits:
        if cv.mode == "shadow" and cv.visit in day_of:
            mine, day = per[visits[cv.visit].client], day_of[cv.visit]
            mine.faces_by_week[(day - first).days // WEEK].add(cv.coordinator)
            mine.dates[cv.coordinator].add(day)

    # The ceiling: slots a familiar carer could take, over every visit of the problem.
    able: dict[str, list[tuple[frozenset[str], int]]] = defaultdict(list)
    could = total_slots = 0
    for visit, who in zip(problem.visits, _able(problem), strict=True):
        able[visit.client].append((who, visit.workers_required))
        total_slots += visit.workers_required
        could += min(visit.workers_required, len(who & familiar[visit.client]))

    def faces_over(days: int) -> float:
        """Mean different workers per client over the last ``days`` days of the period,
        with the history's visits for the days before it."""
        since = last - timedelta(days=days - 1)
        seen: dict[str, set[str]] = defaultdict(set)
        for h in problem.history.visits:
            if since <= h.date < first:
                seen[h.client].add(h.worker)
        for c, mine in per.items():
            for w, on in mine.dates.items():
                if any(since <= d for d in on):
                    seen[c].add(w)
        return _mean([len(ws) for ws in seen.values()])

    weekly = [len(ws) for mine in per.values() for ws in mine.faces_by_week.values()]
    coc = []
    for mine in per.values():
        n = sum(mine.slots.values())
        if n >= 2:
            coc.append((sum(k * k for k in mine.slots.values()) - n) / (n * (n - 1)))
    floors = {c: fewest_faces(needs) for c, needs in able.items()}

    ranked = []
    for c, mine in per.items():
        faces = set().union(*mine.faces_by_week.values())
        unfamiliar = len(faces - familiar[c])
        floor = floors.get(c, 0)
        ranked.append(
            FacesClient(
                client=c,
                name=clients[c].name,
                faces=len(faces),
                unfamiliar=unfamiliar,
                fewest_possible=floor,
                why=_why(len(faces), floor, unfamiliar, mine.double_ups),
            )
        )
    ranked.sort(key=lambda f: (-f.faces, -f.unfamiliar, f.client))
    return ContinuityMetrics(
        faces_per_client_week=_mean(weekly),
        faces_per_client_14_days=faces_over(14),
        faces_per_client_28_days=faces_over(28),
        familiar_share=familiar_slots / slots if slots else 1.0,
        familiar_ceiling=could / total_slots if total_slots else 1.0,
        fewest_faces_possible=_mean(list(floors.values())),
        continuity_of_care_index=_mean(coc) if coc else 1.0,
        most_faces=ranked[:top],
    )


def _why(faces: int, floor: int, unfamiliar: int, double_ups: int) -> str:
    """Plain words on why a client sees ``faces`` carers."""
    if faces <= floor:
        reason = "no fewer carers have the skills and shifts for all of this client's visits"
    else:
        reason = f"{faces - floor} more than the {floor} its visits' skills and shifts need"
    if double_ups:
        reason += f"; {double_ups} visit{' needs' if double_ups == 1 else 's need'} two carers"
    if unfamiliar:
        reason += f"; {unfamiliar} not known to the client before"
    return reason


def _mean(values: list[int] | list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def add_continuity(problem: Problem, rota: Rota) -> Rota:
    """``rota`` with its continuity measures in ``metrics.continuity``."""
    if rota.metrics is not None:
        rota.metrics.continuity = measure(problem, rota)
    return rota
