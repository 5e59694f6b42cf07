"""Why a visit is unstaffed, or a coordinator visit missing, in words a coordinator can act on.

Each reason is worked out from the data and the final rota by peeling the conditions in the order
a coordinator would fix them: nobody has the skill; the client's preference or exclusions rule out
everyone who has it; nobody with it is on shift then; a double-up has only one such worker on
shift; everyone who could is already busy or at their hours cap.
"""

from __future__ import annotations

import numpy as np

from solver.contract import Violation
from solver.data import ProblemData
from solver.heuristic import Builder
from solver.words import day_text

# What a distinct_workers link asks, said of the visit at its other end.
_APART = "which must be done by a different worker"


def _skills_phrase(names: list[str]) -> str:
    if not names:
        return ""
    quoted = [f"'{n}'" for n in names]
    words = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return f" with skill{'s' if len(names) > 1 else ''} {words}"


def _when(data: ProblemData, v: int) -> str:
    clock = data.clock
    first = clock.local(int(data.earliest[v]))
    last = clock.local(int(data.latest[v] + data.late_allowed[v] + data.duration[v]))
    return f"{first:%H:%M}-{last:%H:%M} on {day_text(first.date())}"


def _worker(data: ProblemData, w: int) -> str:
    return data.problem.workers[w].name or data.worker_ids[w]


def _client(data: ProblemData, c: int) -> str:
    return data.problem.clients[c].name or data.client_ids[c]


def _visit(data: ProblemData, u: int, start: int | None = None) -> str:
    """A visit as a coordinator finds it on the board: the client's, at its start or window."""
    whose = _client(data, int(data.visit_client[u]))
    first = data.clock.local(int(data.earliest[u] if start is None else start))
    if start is None:
        last = data.clock.local(int(data.latest[u]))
        return f"{whose}'s visit due {first:%H:%M}-{last:%H:%M} on {day_text(first.date())}"
    return f"{whose}'s {first:%H:%M} visit on {day_text(first.date())}"


def _names(data: ProblemData, workers: list[int], limit: int = 4) -> str:
    shown = ", ".join(_worker(data, w) for w in workers[:limit])
    return shown + (f" and {len(workers) - limit} more" if len(workers) > limit else "")


def unstaffed_reasons(builder: Builder) -> dict[int, str]:
    """A reason for every unstaffed visit of the solution loaded into ``builder``."""
    data, sol = builder.data, builder.sol
    return {
        v: unstaffed_reason(data, builder, v) for v in range(data.n_visits) if v not in sol.start
    }


def unstaffed_reason(data: ProblemData, builder: Builder, v: int) -> str:
    """Why ``v`` is unstaffed given the rota loaded into ``builder``."""
    skills = [data.skill_names[s] for s in np.flatnonzero(data.visit_skills[v])]
    need = int(data.required[v])
    client = data.problem.clients[int(data.visit_client[v])]
    client_name = _client(data, int(data.visit_client[v]))
    who = _skills_phrase(skills)
    if data.earliest[v] > data.last_start[v]:
        return "its start window closed before this rota was re-solved"
    for w in data.pinned[v]:
        wid = _worker(data, w)
        if not data.skilled[v, w]:
            return f"pinned worker {wid} lacks a required skill{who}"
        if not data.allowed[v, w]:
            return (
                f"pinned worker {wid} is excluded by {client_name} or does not match "
                "their preference"
            )
        if w not in data.visit_shift[v]:
            return f"pinned worker {wid} has no shift that holds the visit ({_when(data, v)})"
        if builder.clashes(v, w):
            return f"pinned worker {wid} is on {_sharing(builder, v, [w])}, {_APART}"
    holders = np.flatnonzero(data.skilled[v])
    if holders.size == 0:
        return f"no worker has {who.removeprefix(' with ')}" if skills else "there are no workers"
    if holders.size < need:
        return f"only one worker{who} ({_names(data, holders.tolist())}) for this double-up"
    allowed = [int(w) for w in holders if data.allowed[v, w]]
    if len(allowed) < need:
        if client.gender_preference is not None:
            return (
                f"client's gender preference '{client.gender_preference}' leaves "
                f"{len(allowed)} worker{'s' if len(allowed) != 1 else ''}{who}"
            )
        return f"{client_name} excludes every worker{who} but {len(allowed)}"
    on_shift = [w for w in allowed if w in data.visit_shift[v]]
    ruled_out = [int(w) for w in holders if w in data.visit_shift[v] and not data.allowed[v, w]]
    if len(on_shift) < need and ruled_out:
        rule = (
            f"the client's gender preference '{client.gender_preference}'"
            if client.gender_preference is not None
            else "the client's exclusions"
        )
        return (
            f"{rule} rules out {_names(data, ruled_out)}, the only other worker"
            f"{'s' if len(ruled_out) > 1 else ''}{who} on shift {_when(data, v)}"
        )
    if not on_shift:
        return f"no worker{who} is on shift {_when(data, v)}"
    if len(on_shift) < need:
        return (
            f"only one worker{who} ({_names(data, on_shift)}) is on shift {_when(data, v)} "
            "for this double-up"
        )
    free = [w for w in on_shift if builder.insertion(v, w) is not None]
    clash = [w for w in free if builder.clashes(v, w)]
    if clash and len(free) - len(clash) < need:
        return (
            f"{_names(data, clash)} {'is' if len(clash) == 1 else 'are'} on "
            f"{_sharing(builder, v, clash)}, {_APART}, and no other worker{who} on shift "
            f"{_when(data, v)} is free"
        )
    u = int(data.after_visit[v])
    if u >= 0 and u in builder.sol.start:
        return (
            f"must start {data.after_min[v]}-{data.after_max[v]} minutes after "
            f"{_visit(data, u, builder.sol.start[u])}, and no crew is free then"
        )
    capped = [
        w
        for w in on_shift
        if builder.insertion(v, w) is None and builder.insertion(v, w, ignore_caps=True) is not None
    ]
    busy = [w for w in on_shift if w not in capped]
    parts = []
    if busy:
        parts.append(
            f"{_names(data, busy)} {'is' if len(busy) == 1 else 'are'} busy with other visits then"
        )
    if capped:
        parts.append(
            f"{_names(data, capped)} would exceed {'their' if len(capped) > 1 else 'the'} hours cap"
        )
    return f"every worker{who} on shift {_when(data, v)} is taken: " + "; ".join(parts)


def _sharing(builder: Builder, v: int, workers: list[int]) -> str:
    """The visits ``distinct_workers`` keeps ``v`` apart from that ``workers`` are counted on."""
    return ", ".join(
        _visit(builder.data, u, builder.sol.start.get(u)) for u in builder.clashing(v, workers)
    )


def coordinator_details(
    builder: Builder, shortfalls: list[tuple[int, int, str]]
) -> dict[tuple[int, int, str], str]:
    """Why each required coordinator visit is missing from the solution in ``builder``."""
    data = builder.data
    out = {}
    req_of = {(r.coordinator, r.month): r for r in data.requirements}
    for k, c, month in shortfalls:
        req = req_of[(k, month)]
        kid, cid = _worker(data, k), _client(data, c)
        days = set(req.days.tolist())
        visits = [
            v for v in np.flatnonzero(data.visit_client == c) if int(data.visit_day[v]) in days
        ]
        k_days = {
            int(d)
            for d in np.searchsorted(
                data.day_start, data.shift_start[data.worker_shifts[k]], side="right"
            )
            - 1
        }
        paced = (
            ""
            if req.month_end
            else (
                f" (paced month: {req.required} of {len(req.clients)} open clients due this period)"
            )
        )
        if not visits:
            out[(k, c, month)] = f"{cid} has no visit in {month} in this period{paced}"
        elif not k_days & {int(data.visit_day[v]) for v in visits}:
            out[(k, c, month)] = f"{kid} has no shift on a day {cid} has a visit{paced}"
        elif not any(k in data.visit_shift[v] for v in visits):
            out[(k, c, month)] = f"{kid}'s shifts do not overlap any visit window of {cid}{paced}"
        elif all(
            builder.insertion(int(v), k, ignore_caps=True) is None
            and not _can_join(builder, int(v), k)
            for v in visits
        ):
            out[(k, c, month)] = f"{kid} is busy with other visits at every visit of {cid}{paced}"
        else:
            cap = data.max_week[k]
            out[(k, c, month)] = (
                f"{kid}'s field time ({cap} minutes a week) does not stretch to a visit of "
                f"{cid}{paced}"
            )
    return out


def _can_join(builder: Builder, v: int, k: int) -> bool:
    start = builder.sol.start.get(v)
    return start is not None and builder.insertion(v, k, at=start, ignore_caps=True) is not None


def pinned_contradictions(data: ProblemData) -> list[Violation]:
    """Pins the hard rules themselves forbid: the contract's ``infeasible`` case."""
    out = []
    for v, pins in enumerate(data.pinned):
        for w in pins:
            why = (
                "lacks a required skill"
                if not data.skilled[v, w]
                else "is excluded by the client or does not match its gender preference"
                if not data.allowed[v, w]
                else "has no shift that holds the visit's window"
                if w not in data.visit_shift[v]
                else ""
            )
            if why:
                out.append(
                    Violation(
                        rule="pinned_worker",
                        visit=data.visit_ids[v],
                        worker=data.worker_ids[w],
                        detail=f"{_worker(data, w)} is pinned to {_visit(data, v)} but {why}",
                    )
                )
    return out
