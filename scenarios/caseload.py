"""Coordinator caseload: how many clients can coordinator K oversee with their field time?

The coordinator rule asks each coordinator to see every client they oversee once a calendar
month. This module answers, by solving, two planning questions about coordinator K:

- **capacity**: the most different clients K can attend in the problem's period, within K's
  shifts and field-time budget (``max_minutes_per_week``, travel between visits included), by
  joining (shadowing) the clients' own visits; solved by CP-SAT
  (:func:`solver.bounds.coordinator_reach`), from a quick greedy plan up. The clients are K's
  own (or the whole agency's if K has none), standing for a caseload of clients like them:
  same patch, same visit times. A month of ``month_days`` days holds ``month_days /
  period_days`` such periods, each with different clients, so K can oversee
  ``floor(per_period * month_days / period_days)`` clients.
- **need**: the smallest budget (to the quarter hour) whose capacity reaches a caseload M, so
  "a caseload of M needs X more minutes of field time"; or that K's shifts cannot hold it.

Answers are consistent by construction: a plan found for a budget is a plan for any larger
budget, and a proven bound for a budget bounds every smaller one, so capacity never falls
when the budget grows. Where a solve stops before proving its best, the answer says "at least".
"""

from __future__ import annotations

from pydantic import BaseModel

from solver.bounds import coordinator_reach
from solver.contract import Problem
from solver.data import ProblemData, build
from solver.words import plural

STEP = 15  # minutes: budgets are searched to the quarter hour


class CaseloadError(ValueError):
    """A coordinator the problem does not have, or one who has no field time at all."""


class Point(BaseModel):
    """Capacity at one weekly field-time budget."""

    budget_minutes: int
    per_period: int  # different clients K can attend in the period (a plan was found)
    per_period_bound: int  # no plan attends more
    per_month: int
    per_month_bound: int

    @property
    def proven(self) -> bool:
        return self.per_period == self.per_period_bound


class Need(BaseModel):
    """The field time a caseload needs: None when K's shifts cannot hold it."""

    caseload: int
    budget_minutes: int | None
    extra_minutes: int | None
    proven: bool  # the budget below it was proven too small


class Caseload(BaseModel):
    """The answer for one coordinator."""

    coordinator: str
    name: str | None
    period_days: int
    month_days: int
    shifts: int
    shift_minutes: int
    budget_minutes: int  # the coordinator's field-time budget (their shift minutes if uncapped)
    current_caseload: int
    capacity: Point
    needs: list[Need]
    curve: list[Point]  # every budget evaluated, ascending

    def sentence(self) -> str:
        """The answer in one sentence."""
        c = self.capacity
        hedge = "" if c.proven else "at least "
        return (
            f"{self.coordinator} can oversee {hedge}{plural(c.per_month, 'client')} "
            f"({plural(c.per_period, 'different client')} in the {self.period_days}-day period, "
            f"{self.month_days} days a month, with {plural(self.budget_minutes, 'minute')} of "
            "field time)."
        )


class _Solver:
    """Capacities by budget, kept monotone: a larger budget keeps every smaller one's plan."""

    def __init__(
        self, data: ProblemData, k: int, clients: list[int], time_limit: float, month_days: int
    ) -> None:
        self.data, self.k, self.time_limit = data, k, time_limit
        self.clients = clients
        self.days = list(range(len(data.days)))
        self.scale = month_days / len(data.days)
        self.found: dict[int, int] = {}
        self.bound: dict[int, int] = {}

    def point(self, budget: int) -> Point:
        if budget not in self.found:
            floor = max(
                max((n for b, n in self.found.items() if b <= budget), default=0),
                greedy_reach(self.data, self.k, self.clients, budget),
            )
            reach = coordinator_reach(
                self.data, self.k, self.clients, self.days, self.time_limit, budget, floor
            )
            self.found[budget] = max(reach.seen, floor)
            self.bound[budget] = max(reach.bound, self.found[budget])
            self._settle()
        n, top = self.found[budget], self.bound[budget]
        return Point(
            budget_minutes=budget,
            per_period=n,
            per_period_bound=top,
            per_month=int(n * self.scale + 1e-9),
            per_month_bound=int(top * self.scale + 1e-9),
        )

    def _settle(self) -> None:
        budgets = sorted(self.found)
        best = 0
        for b in budgets:
            best = max(best, self.found[b])
            self.found[b] = best
        low = None
        for b in reversed(budgets):
            low = self.bound[b] if low is None else min(low, self.bound[b])
            self.bound[b] = max(low, self.found[b])

    def curve(self) -> list[Point]:
        return [self.point(b) for b in sorted(self.found)]


def greedy_reach(data: ProblemData, k: int, clients: list[int], budget: int) -> int:
    """Clients seen by a quick plan: in each shift, join next the visit of a client not yet
    seen that can end soonest. A floor for the exact model, which may stop before it has a
    plan of its own on a large agency."""
    pool, seen, used = set(clients), set(), 0
    tt = data.travel[int(data.worker_mode[k])]
    for h in data.worker_shifts[k].tolist():
        here, now, end_of_shift = -1, int(data.shift_start[h]), int(data.shift_end[h])
        options = [
            v
            for v in range(data.n_visits)
            if data.visit_shift[v].get(k) == h
            and data.allowed[v, k]
            and int(data.visit_client[v]) in pool
        ]
        while True:
            best: tuple[int, int, int, int] | None = None
            for v in options:
                if int(data.visit_client[v]) in seen:
                    continue
                gap = 0 if here < 0 else int(tt[here, data.visit_place(v)])
                start = max(now + gap, int(data.earliest[v]))
                finish = start + int(data.duration[v])
                cost = gap + int(data.duration[v])
                fits = start <= int(data.last_start[v]) and finish <= end_of_shift
                if fits and used + cost <= budget and (best is None or finish < best[0]):
                    best = (finish, v, cost, start)
            if best is None:
                break
            now, v, cost, _ = best
            seen.add(int(data.visit_client[v]))
            used += cost
            here = data.visit_place(v)
    return len(seen)


def caseload(
    problem: Problem,
    coordinator: str,
    targets: list[int] | None = None,
    time_limit: float = 5.0,
    month_days: int = 30,
) -> Caseload:
    """How many clients ``coordinator`` can oversee a month, and the field time each caseload
    in ``targets`` needs (default: the current caseload, and 5 and 10 beyond the capacity)."""
    data = build(problem)
    if coordinator not in data.worker_ids:
        raise CaseloadError(f"unknown worker {coordinator!r}")
    k = data.worker_ids.index(coordinator)
    worker = problem.workers[k]
    if worker.role != "coordinator":
        raise CaseloadError(f"worker {coordinator!r} is a {worker.role}, not a coordinator")
    shift_minutes = sum(
        int(data.shift_end[h] - data.shift_start[h]) for h in data.worker_shifts[k].tolist()
    )
    if shift_minutes == 0:
        raise CaseloadError(f"{coordinator} has no shifts in the period: no field time at all")
    # Working minutes never exceed the shifts: an uncapped coordinator's budget is their shifts.
    budget = shift_minutes if data.max_week[k] < 0 else min(int(data.max_week[k]), shift_minutes)
    current = sum(1 for c in problem.clients if c.coordinator == coordinator)
    # Clients like K's own (their patch, their visit times); the whole agency if K has none.
    own = [i for i, c in enumerate(problem.clients) if c.coordinator == coordinator]
    solver = _Solver(data, k, own or list(range(data.n_clients)), time_limit, month_days)
    # Solved first: the searches below then only add budgets around the answers they report.
    now = solver.point(budget)
    if not targets:
        # The caseload K has, and two just beyond what K can oversee now.
        targets = [current, now.per_month + 5, now.per_month + 10]
    wanted = sorted(set(targets))
    needs = [_need(solver, m, budget, shift_minutes) for m in wanted]
    return Caseload(
        coordinator=coordinator,
        name=worker.name,
        period_days=len(data.days),
        month_days=month_days,
        shifts=len(data.worker_shifts[k]),
        shift_minutes=shift_minutes,
        budget_minutes=budget,
        current_caseload=current,
        capacity=solver.point(budget),
        needs=needs,
        curve=solver.curve(),
    )


def _need(solver: _Solver, target: int, budget: int, shift_minutes: int) -> Need:
    """The smallest quarter-hour budget whose capacity reaches ``target`` clients a month."""
    top = -(-shift_minutes // STEP) * STEP
    most = solver.point(top)
    if most.per_month < target:
        proven = most.per_month_bound < target
        return Need(caseload=target, budget_minutes=None, extra_minutes=None, proven=proven)
    lo, hi = 0, top // STEP  # in steps: hi reaches the target, lo - 1 is known not to
    while lo < hi:
        mid = (lo + hi) // 2
        if solver.point(mid * STEP).per_month >= target:
            hi = mid
        else:
            lo = mid + 1
    need = hi * STEP
    below = solver.point(need - STEP) if need > 0 else None
    proven = below is None or below.per_month_bound < target
    return Need(caseload=target, budget_minutes=need, extra_minutes=need - budget, proven=proven)


def format_caseload(answer: Caseload) -> str:
    """The answer as a coordinator would read it."""
    c = answer.capacity
    lines = [
        f"Coordinator {answer.coordinator}"
        + (f" ({answer.name})" if answer.name else "")
        + f": {plural(answer.shifts, 'shift')} in the {answer.period_days}-day period "
        f"({plural(answer.shift_minutes, 'shift minute')}), field-time budget "
        f"{plural(answer.budget_minutes, 'minute')}, oversees "
        f"{plural(answer.current_caseload, 'client')} now.",
        f"Within those shifts and that budget, travel included, {answer.coordinator} can see "
        f"{plural(c.per_period, 'different client')} in the period"
        + (" (proven best)" if c.proven else f" (at most {c.per_period_bound})")
        + f": {plural(c.per_month, 'client')} in a {answer.month_days}-day month.",
        answer.sentence(),
        "",
        f"{'caseload':>8}  {'field time needed':>17}  {'change':>14}",
    ]
    for n in answer.needs:
        if n.budget_minutes is None:
            hedge = "" if n.proven else " (not proven)"
            text = (
                f"{n.caseload:>8}  more than {answer.coordinator}'s shifts hold: "
                f"add shift days{hedge}"
            )
        else:
            assert n.extra_minutes is not None
            change = f"{n.extra_minutes:+d} min" if n.extra_minutes else "as now"
            hedge = "" if n.proven else " (at most)"
            text = f"{n.caseload:>8}  {n.budget_minutes:>13} min  {change:>14}{hedge}"
        lines.append(text)
    return "\n".join(lines)
