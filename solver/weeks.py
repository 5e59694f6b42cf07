"""Several weeks in a row, each planned with the weeks before it as history.

Continuity is a promise kept week after week: next week's familiar carers are this week's. The
library repeats an agency's week (its shifts and visits moved on by seven days a week) and feeds
each planned week's assignments, and coordinator visits, into the next week's history. It uses
:func:`solver.solve.solve` as it is, and starts each week from the week before's rota moved on
seven days, as an agency rolls its rota forward: the search then keeps what still serves, and
the same carers keep coming to the same clients week after week.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from solver.contract import (
    HistoryCoordinatorVisit,
    HistoryVisit,
    Problem,
    Rota,
    format_local_datetime,
)
from solver.options import SolveOptions
from solver.solve import solve

WEEK = timedelta(days=7)

# Called after each week with its number (from 1), problem and rota.
WeekDone = Callable[[int, Problem, Rota], None]


def shifted(problem: Problem, days: int) -> Problem:
    """``problem`` with its period, shifts and visit windows ``days`` days later; history kept.

    Local wall-clock times move by whole days, so a visit at 08:00 stays at 08:00. A time that
    lands in a clock change is refused by the contract, naming the field.
    """
    step = timedelta(days=days)

    def moved(moment: datetime) -> str:
        return format_local_datetime(moment + step)

    raw: dict[str, Any] = problem.model_dump(mode="json")
    raw["period"] = {
        "start": (problem.period.start + step).isoformat(),
        "end": (problem.period.end + step).isoformat(),
    }
    for w_raw, worker in zip(raw["workers"], problem.workers, strict=True):
        w_raw["shifts"] = [{"start": moved(s.start), "end": moved(s.end)} for s in worker.shifts]
    for v_raw, visit in zip(raw["visits"], problem.visits, strict=True):
        v_raw["earliest_start"] = moved(visit.earliest_start)
        v_raw["latest_start"] = moved(visit.latest_start)
    try:
        return Problem.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(part) for part in first["loc"])
        raise ValueError(
            f"the week from {raw['period']['start']} cannot repeat this one: {path}: {first['msg']}"
        ) from None


def with_history(problem: Problem, earlier: Problem, rota: Rota) -> Problem:
    """``problem`` with ``rota``'s visits (of ``earlier``) added to its history: who cared for
    whom, and which coordinator saw which client, on which day."""
    client_of = {v.id: v.client for v in earlier.visits}
    day_of: dict[str, date] = {a.visit: a.start.date() for a in rota.assignments}
    coordinators = {w.id for w in earlier.workers if w.role == "coordinator"}
    seen = [
        HistoryVisit(client=client_of[a.visit], worker=w, date=day_of[a.visit])
        for a in rota.assignments
        for w in a.workers
    ]
    # A covering coordinator appears in both lists of the rota: count each visit once.
    met = {
        (cv.coordinator, client_of[cv.visit], day_of[cv.visit])
        for cv in rota.coordinator_visits
        if cv.visit in day_of and cv.coordinator in coordinators
    }
    history = problem.history.model_copy(
        update={
            "visits": [*problem.history.visits, *seen],
            "coordinator_visits": [
                *problem.history.coordinator_visits,
                *(
                    HistoryCoordinatorVisit(coordinator=k, client=c, date=d)
                    for k, c, d in sorted(met)
                ),
            ],
        }
    )
    return problem.model_copy(update={"history": history})


def moved_on(rota: Rota, days: int) -> Rota:
    """``rota``'s assignments ``days`` days later, wall-clock times kept (for a start)."""
    step = timedelta(days=days)
    moved = [a.model_copy(update={"start": a.start + step}) for a in rota.assignments]
    return rota.model_copy(update={"assignments": moved})


def solve_weeks(
    problem: Problem,
    n_weeks: int,
    options: SolveOptions | None = None,
    on_week: WeekDone | None = None,
    roll: bool = True,
) -> list[tuple[Problem, Rota]]:
    """Plan ``n_weeks`` consecutive weeks of ``problem`` (a 7-day period), each with the
    weeks before it as history and, with ``roll``, starting from the week before's rota;
    the problem and rota of every week, in order."""
    if n_weeks < 1:
        raise ValueError(f"plan at least one week, not {n_weeks}")
    length = (problem.period.end - problem.period.start).days + 1
    if length != 7 and n_weeks > 1:
        raise ValueError(
            f"weeks in a row repeat a 7-day period; this one has {length} days "
            f"({problem.period.start} to {problem.period.end})"
        )
    out: list[tuple[Problem, Rota]] = []
    for k in range(n_weeks):
        week = shifted(problem, 7 * k) if k else problem
        if out:
            before, rota = out[-1]
            # All earlier weeks' history travels on through the previous week's problem.
            week = week.model_copy(update={"history": before.history})
            week = with_history(week, before, rota)
        start = moved_on(out[-1][1], 7) if roll and out else None
        rota = solve(week, options, start=start)
        out.append((week, rota))
        if on_week is not None:
            on_week(k + 1, week, rota)
    return out
