"""Why a rota costs what it costs: the objective by term and the clients continuity costs most.

The figures come from the independent checker (:mod:`solver.checker`), so an explanation never
repeats a mistake of the model's own accounting.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from solver.checker import check
from solver.continuity import measure
from solver.contract import ContinuityMetrics, Problem, Rota

LABELS = {
    "unassigned_visit": "unstaffed visits",
    "travel_minute": "travel between visits",
    "home_travel_minute": "travel from and to home",
    "distinct_worker": "continuity: extra workers per client",
    "unfamiliar_worker": "continuity: unfamiliar workers",
    "contract_shortfall_minute": "contracted hours not given",
    "late_minute": "late starts",
    "max_late_minute": "largest late start",
    "coordinator_rule": "coordinator visits missing",
    "faces_over_cap": "continuity: carers above the weekly cap",
    "primary_share_shortfall": "continuity: primary carer short of their share",
    "unfamiliar_visit": "continuity: visits by unknown carers",
    "face_travel_minutes": "continuity: travel a carer saved is worth",
}


@dataclass(frozen=True)
class ClientCost:
    client: str
    workers: int
    unfamiliar: int
    cost: float


@dataclass(frozen=True)
class Explanation:
    objective: float
    terms: dict[str, float]
    clients: list[ClientCost]
    continuity: ContinuityMetrics | None = None


def explain(problem: Problem, rota: Rota, top: int = 10) -> Explanation:
    """The objective by term and the ``top`` clients by continuity cost."""
    report = check(problem, rota)
    wt = problem.weights
    clients = {c.id: c for c in problem.clients}
    client_of = {v.id: v.client for v in problem.visits}
    familiar: dict[str, set[str]] = defaultdict(set)
    for seen in problem.history.visits:
        familiar[seen.client].add(seen.worker)
    attend: dict[str, set[str]] = defaultdict(set)
    slots: dict[str, list[str]] = defaultdict(list)
    for a in rota.assignments:
        attend[client_of[a.visit]].update(a.workers)
        slots[client_of[a.visit]].extend(a.workers)
    for c in rota.coordinator_visits:
        if c.mode == "shadow":
            attend[client_of[c.visit]].add(c.coordinator)
    costs = []
    for cid, workers in attend.items():
        known = familiar[cid] | set(clients[cid].preferred_workers)
        unfamiliar = len(workers - known)
        cost = wt.distinct_worker * max(0, len(workers) - 1) + wt.unfamiliar_worker * unfamiliar
        cost += wt.unfamiliar_visit * sum(w not in known for w in slots[cid])
        costs.append(ClientCost(cid, len(workers), unfamiliar, cost))
    costs.sort(key=lambda c: (-c.cost, c.client))
    return Explanation(
        report.objective, dict(report.terms), costs[:top], measure(problem, rota, top=top)
    )


def format_explanation(ex: Explanation) -> str:
    lines = [f"Objective {ex.objective:.1f}", "By term:"]
    for name, value in sorted(ex.terms.items(), key=lambda item: -item[1]):
        share = value / ex.objective if ex.objective else 0.0
        lines.append(f"  {LABELS.get(name, name):40s} {value:12.1f}  {share:6.1%}")
    if ex.continuity is not None:
        lines += _continuity_lines(ex.continuity)
    lines.append("Clients with the highest continuity cost:")
    for c in ex.clients:
        lines.append(
            f"  {c.client:12s} {c.workers:3d} workers, {c.unfamiliar:3d} unfamiliar  "
            f"cost {c.cost:8.1f}"
        )
    return "\n".join(lines)


def _continuity_lines(m: ContinuityMetrics) -> list[str]:
    lines = [
        "Continuity of carer:",
        f"  carers per client: {m.faces_per_client_week:.2f} a week, "
        f"{m.faces_per_client_14_days:.2f} over 14 days, {m.faces_per_client_28_days:.2f} over "
        f"28 days (history included); at least {m.fewest_faces_possible:.2f} needed",
        f"  visits by a familiar carer: {m.familiar_share:.1%} "
        f"(the shifts allow {m.familiar_ceiling:.1%})",
        f"  continuity-of-care index: {m.continuity_of_care_index:.3f} (1: one carer each)",
        "Clients seeing the most carers:",
    ]
    lines += [f"  {c.name or c.client:12s} {c.faces:3d} carers: {c.why}" for c in m.most_faces]
    return lines
