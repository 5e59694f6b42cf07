"""What changed between two versions of a rota, and who must be told what.

Works on the contract's objects alone (two problems and two rotas), so the service can describe
any version against its parent, and a test can hold it against an independent diff.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pydantic import BaseModel, Field

from solver.contract import Client, Problem, Rota, format_local_datetime


class Attendance(BaseModel):
    """Who is on a visit, and when it starts."""

    workers: list[str] = Field(description="workers counted on the visit")
    shadows: list[str] = Field(default_factory=list, description="coordinators shadowing it")
    start: str = Field(description="local start, YYYY-MM-DDTHH:MM")


class VisitChange(BaseModel):
    visit: str
    client: str
    before: Attendance | None = Field(description="None: it was unstaffed")
    after: Attendance | None = Field(description="None: it is unstaffed now")


class StillUnstaffed(BaseModel):
    visit: str
    client: str
    window: str
    reason: str
    newly: bool = Field(description="it was staffed in the previous version")


class WorkerMessages(BaseModel):
    worker: str
    name: str | None = None
    messages: list[str] = Field(description="one plain-language message per day, in date order")


class ChangeList(BaseModel):
    """The changes from one version to the next: unstaffed visits first, then per visit and
    per worker."""

    unstaffed: list[StillUnstaffed]
    visits: list[VisitChange]
    workers: list[WorkerMessages]


def _day(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b}"


def _attendance(rota: Rota) -> dict[str, Attendance]:
    shadows: dict[str, list[str]] = defaultdict(list)
    for cv in rota.coordinator_visits:
        if cv.mode == "shadow":
            shadows[cv.visit].append(cv.coordinator)
    return {
        a.visit: Attendance(
            workers=sorted(a.workers),
            shadows=sorted(shadows.get(a.visit, [])),
            start=format_local_datetime(a.start),
        )
        for a in rota.assignments
    }


def changes(
    before: Rota, after: Rota, problem: Problem, *, since: datetime | None = None
) -> ChangeList:
    """The change list from ``before`` to ``after`` (both rotas of ``problem``'s visits).

    ``since``: unstaffed visits whose window closed before it are history, not news, and are
    left out of the unstaffed list.
    """
    old, new = _attendance(before), _attendance(after)
    visits = {v.id: v for v in problem.visits}
    clients = {c.id: c for c in problem.clients}
    diff: list[VisitChange] = []
    for vid, visit in visits.items():
        a, b = old.get(vid), new.get(vid)
        if a != b:
            diff.append(VisitChange(visit=vid, client=visit.client, before=a, after=b))
    diff.sort(key=lambda c: (_start_of(c), c.visit))

    unstaffed = []
    for u in after.unassigned:
        if u.visit not in visits:
            continue
        visit = visits[u.visit]
        if since is not None and visit.latest_start < since and u.visit not in old:
            continue
        unstaffed.append(
            StillUnstaffed(
                visit=u.visit,
                client=visit.client,
                window=f"{_day(visit.earliest_start)} {visit.earliest_start:%H:%M}-"
                f"{visit.latest_start:%H:%M}",
                reason=u.reason,
                newly=u.visit in old,
            )
        )
    unstaffed.sort(key=lambda u: (not u.newly, visits[u.visit].earliest_start, u.visit))
    return ChangeList(unstaffed=unstaffed, visits=diff, workers=_messages(diff, problem, clients))


def _start_of(change: VisitChange) -> str:
    side = change.after or change.before
    return side.start if side is not None else ""


def _who(client: Client) -> str:
    return client.name or client.id


def _where(client: Client) -> str:
    if client.address:
        return client.address
    return f"{client.location.lat:.4f}, {client.location.lon:.4f}"


def _messages(
    diff: list[VisitChange],
    problem: Problem,
    clients: dict[str, Client],
) -> list[WorkerMessages]:
    """Per worker and day, one message joining what changed for them ("you now also visit...")."""
    names = {w.id: w.name or w.id for w in problem.workers}
    # worker -> day -> (time, phrase): each day's phrases in time order.
    phrases: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for ch in diff:
        client = clients[ch.client]
        a, b = ch.before, ch.after
        was = set(a.workers + a.shadows) if a else set()
        now = set(b.workers + b.shadows) if b else set()
        for w in sorted(was | now):
            if w in now and b is not None:
                at = datetime.fromisoformat(b.start)
                day = at.date().isoformat()
                others = [names[x] for x in b.workers if x != w]
                if w not in was:
                    role = " (shadowing)" if w in b.shadows else ""
                    partner = f" with {' and '.join(others)}" if others else ""
                    phrases[w][day].append(
                        (
                            b.start,
                            f"you now also visit {_who(client)} at {at:%H:%M}{role}{partner}, "
                            f"{_where(client)}",
                        )
                    )
                elif a is not None and a.start != b.start:
                    was_at = datetime.fromisoformat(a.start)
                    moved_day = "" if was_at.date() == at.date() else f" on {_day(at)}"
                    phrases[w][day].append(
                        (
                            b.start,
                            f"{_who(client)}'s {was_at:%H:%M} call moves to {at:%H:%M}{moved_day}",
                        )
                    )
                elif a is not None and w in a.shadows and w in b.workers:
                    phrases[w][day].append(
                        (
                            b.start,
                            f"at {_who(client)}'s {at:%H:%M} call you now give the care yourself",
                        )
                    )
                elif a is not None and w in a.workers and w in b.shadows:
                    phrases[w][day].append(
                        (b.start, f"at {_who(client)}'s {at:%H:%M} call you now shadow only")
                    )
                elif sorted(x for x in (a.workers if a else []) if x != w) != sorted(
                    x for x in b.workers if x != w
                ):
                    phrases[w][day].append(
                        (
                            b.start,
                            f"at {_who(client)}'s {at:%H:%M} call you are now with "
                            f"{' and '.join(others) if others else 'nobody else'}",
                        )
                    )
            elif a is not None:
                at = datetime.fromisoformat(a.start)
                if b is None:
                    cover = "nobody covers it yet; the office will call you if that changes"
                else:
                    crew = [names[x] for x in b.workers]
                    cover = " and ".join(crew) + (" cover it" if len(crew) > 1 else " covers it")
                phrases[w][at.date().isoformat()].append(
                    (a.start, f"you no longer visit {_who(client)} at {at:%H:%M}; {cover}")
                )
    out = []
    for w in sorted(phrases):
        lines = []
        for day in sorted(phrases[w]):
            when = _day(datetime.fromisoformat(day))
            lines.append(f"{when}: " + "; ".join(text for _, text in sorted(phrases[w][day])))
        out.append(WorkerMessages(worker=w, name=names.get(w), messages=lines))
    return out


def format_changes(cl: ChangeList) -> str:
    """The change list as text for a terminal: unstaffed first, then the messages to send."""
    lines = []
    if cl.unstaffed:
        lines.append(f"Still unstaffed ({len(cl.unstaffed)}):")
        for u in cl.unstaffed:
            flag = " [newly]" if u.newly else ""
            lines.append(f"  {u.visit} ({u.client}, {u.window}){flag}: {u.reason}")
    else:
        lines.append("Every visit from now on is staffed.")
    lines.append(f"Visits changed: {len(cl.visits)}")
    for ch in cl.visits:
        lines.append(f"  {ch.visit} ({ch.client}): {_side(ch.before)} -> {_side(ch.after)}")
    lines.append("Tell:")
    for wm in cl.workers:
        label = wm.worker if not wm.name or wm.name == wm.worker else f"{wm.name} ({wm.worker})"
        for m in wm.messages:
            lines.append(f"  {label}: {m}")
    return "\n".join(lines)


def _side(att: Attendance | None) -> str:
    if att is None:
        return "unstaffed"
    crew = "+".join(att.workers)
    shadow = f" (shadow {'+'.join(att.shadows)})" if att.shadows else ""
    return f"{crew}{shadow} at {att.start[11:16]} {att.start[:10]}"
