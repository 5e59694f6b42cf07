"""What changed between two versions of a rota, and who must be told what.

Works on the contract's objects alone (two problems and two rotas), so the service can describe
any version against its parent, and a test can hold it against an independent diff.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pydantic import BaseModel, Field

from solver.contract import Client, Problem, Rota, format_local_datetime
from solver.words import day_text


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
    client_name: str | None = Field(default=None, description="the client's name, if known")
    window: str
    reason: str
    newly: bool = Field(description="it was staffed in the previous version")


class MessageLine(BaseModel):
    """One visit in a worker's message: who, when, where, and what changed for them."""

    visit: str
    client: str
    client_name: str
    start: str = Field(description="local start, YYYY-MM-DDTHH:MM")
    address: str
    text: str = Field(description="the line as sent, e.g. 'you no longer visit Ann at 09:00, ...'")


class DayMessage(BaseModel):
    date: str = Field(description="YYYY-MM-DD")
    lines: list[MessageLine]


class WorkerMessages(BaseModel):
    worker: str
    name: str | None = None
    messages: list[str] = Field(
        description="one plain-language message per day, in date order: the day ('Tue 1 Dec:') "
        "then one line per visit"
    )
    days: list[DayMessage] = Field(
        default_factory=list, description="the same messages, by day and visit"
    )


class ChangeList(BaseModel):
    """The changes from one version to the next: unstaffed visits first, then per visit and
    per worker."""

    unstaffed: list[StillUnstaffed]
    visits: list[VisitChange]
    workers: list[WorkerMessages]


def _day(moment: datetime) -> str:
    return day_text(moment.date())


Seen = tuple[tuple[str, ...], tuple[str, ...], str]  # workers, shadows, local start


def _attendance(rota: Rota) -> dict[str, Seen]:
    """Per staffed visit, who is on it and when, as plain tuples: comparing a week's visits
    as models costs more than a sick call's whole re-solve of them."""
    shadows: dict[str, list[str]] = defaultdict(list)
    for cv in rota.coordinator_visits:
        if cv.mode == "shadow":
            shadows[cv.visit].append(cv.coordinator)
    return {
        a.visit: (
            tuple(sorted(a.workers)),
            tuple(sorted(shadows.get(a.visit, []))),
            format_local_datetime(a.start),
        )
        for a in rota.assignments
    }


def _as_attendance(seen: Seen | None) -> Attendance | None:
    if seen is None:
        return None
    workers, shadows, start = seen
    return Attendance(workers=list(workers), shadows=list(shadows), start=start)


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
            diff.append(
                VisitChange(
                    visit=vid,
                    client=visit.client,
                    before=_as_attendance(a),
                    after=_as_attendance(b),
                )
            )
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
                client_name=clients[visit.client].name if visit.client in clients else None,
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
    """Per worker and day, one message with one line per visit that changed for them.

    A worker taken off a visit is told it is no longer theirs (and who covers it, if anyone:
    a visit nobody covers is the office's to sort out, on the unstaffed list, not the carer's).
    """
    names = {w.id: w.name or w.id for w in problem.workers}
    # worker -> day -> lines, put in time order below.
    found: dict[str, dict[str, list[MessageLine]]] = defaultdict(lambda: defaultdict(list))

    def tell(worker: str, start: str, ch: VisitChange, text: str) -> None:
        client = clients[ch.client]
        found[worker][start[:10]].append(
            MessageLine(
                visit=ch.visit,
                client=ch.client,
                client_name=_who(client),
                start=start,
                address=_where(client),
                text=text,
            )
        )

    for ch in diff:
        client = clients[ch.client]
        who, where = _who(client), _where(client)
        a, b = ch.before, ch.after
        was = set(a.workers + a.shadows) if a else set()
        now = set(b.workers + b.shadows) if b else set()
        for w in sorted(was | now):
            if w in now and b is not None:
                at = datetime.fromisoformat(b.start)
                others = [names[x] for x in b.workers if x != w]
                if w not in was:
                    role = " (shadowing)" if w in b.shadows else ""
                    partner = f" with {' and '.join(others)}" if others else ""
                    tell(
                        w,
                        b.start,
                        ch,
                        f"you now also visit {who} at {at:%H:%M}{role}{partner}, {where}",
                    )
                elif a is not None and a.start != b.start:
                    was_at = datetime.fromisoformat(a.start)
                    moved_day = "" if was_at.date() == at.date() else f" on {_day(at)}"
                    tell(
                        w,
                        b.start,
                        ch,
                        f"{who}'s {was_at:%H:%M} call moves to {at:%H:%M}{moved_day}, {where}",
                    )
                elif a is not None and w in a.shadows and w in b.workers:
                    tell(
                        w,
                        b.start,
                        ch,
                        f"at {who}'s {at:%H:%M} call you now give the care yourself, {where}",
                    )
                elif a is not None and w in a.workers and w in b.shadows:
                    tell(w, b.start, ch, f"at {who}'s {at:%H:%M} call you now shadow only, {where}")
                elif sorted(x for x in (a.workers if a else []) if x != w) != sorted(
                    x for x in b.workers if x != w
                ):
                    partners = " and ".join(others) if others else "nobody else"
                    tell(
                        w,
                        b.start,
                        ch,
                        f"at {who}'s {at:%H:%M} call you are now with {partners}, {where}",
                    )
            elif a is not None:
                at = datetime.fromisoformat(a.start)
                cover = ""
                if b is not None:
                    crew = [names[x] for x in b.workers]
                    cover = (
                        "; " + " and ".join(crew) + (" cover it" if len(crew) > 1 else " covers it")
                    )
                tell(w, a.start, ch, f"you no longer visit {who} at {at:%H:%M}, {where}{cover}")
    out = []
    for w in sorted(found):
        days = [
            DayMessage(date=day, lines=sorted(found[w][day], key=lambda m: (m.start, m.visit)))
            for day in sorted(found[w])
        ]
        messages = [
            f"{_day(datetime.fromisoformat(d.date))}:\n" + "\n".join(m.text for m in d.lines)
            for d in days
        ]
        out.append(WorkerMessages(worker=w, name=names.get(w), messages=messages, days=days))
    return out


def format_changes(cl: ChangeList, problem: Problem | None = None) -> str:
    """The change list as text for a terminal: unstaffed first, then the messages to send.

    With ``problem``, clients and workers are named ("Ann Patel (c0003)") rather than shown by id.
    """
    workers = {w.id: w.name for w in problem.workers} if problem is not None else {}
    clients = {c.id: c.name for c in problem.clients} if problem is not None else {}
    lines = []
    if cl.unstaffed:
        lines.append(f"Still unstaffed ({len(cl.unstaffed)}):")
        for u in cl.unstaffed:
            flag = " [newly]" if u.newly else ""
            who = _named(u.client_name or clients.get(u.client), u.client)
            lines.append(f"  {who}, {u.window}{flag}: {u.reason}")
    else:
        lines.append("Every visit from now on is staffed.")
    lines.append(f"Visits changed: {len(cl.visits)}")
    for ch in cl.visits:
        who = _named(clients.get(ch.client), ch.client)
        lines.append(f"  {who}: {_side(ch.before, workers)} -> {_side(ch.after, workers)}")
    lines.append("Tell:")
    for wm in cl.workers:
        label = _named(wm.name, wm.worker)
        for m in wm.messages:
            day, *rest = m.split("\n")
            lines.append(f"  {label}, {day}")
            lines.extend(f"    {line}" for line in rest)
    return "\n".join(lines)


def _named(name: str | None, ident: str) -> str:
    return ident if not name or name == ident else f"{name} ({ident})"


def _side(att: Attendance | None, workers: dict[str, str | None]) -> str:
    if att is None:
        return "unstaffed"
    crew = " and ".join(workers.get(w) or w for w in att.workers)
    shadow = (
        f" (shadowed by {' and '.join(workers.get(w) or w for w in att.shadows)})"
        if att.shadows
        else ""
    )
    at = datetime.fromisoformat(att.start)
    return f"{crew}{shadow} {_day(at)} {at:%H:%M}"
