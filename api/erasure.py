"""Erasure: a client's data on request, or a whole agency when it leaves.

A client is erased by deleting every stored object that mentions them: their record, care
packages and imported history (:mod:`api.records`), each problem listing them
and everything derived from it (rota versions, run sheets, carer links, publications, explanations
and change lists, which live on the version). Rewriting problems and rotas without the client
would leave rotas that no longer match the problem they were solved for, and the checker's
verdict stored beside them would be false; deleting them is simpler and leaves nothing behind.
A job made from a deleted rota (``parent``) keeps its own problem and loses only the link.
A what-if scenario job goes with its base problem, and also when one of its variants' problems
(kept in its result) lists the client, such as a client the variant added. Access log rows are
kept (who read which rota, and when) but lose the client's id where they named the client.

An agency is erased by deleting its rows from every table that has an ``agency_id``, children
before parents, then the agency itself.

Both refuse while one of the affected jobs is queued or solving: a solve that finishes after the
delete would write its rota back. Cancel or wait first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CursorResult, Delete, Table, delete, or_, select, update
from sqlalchemy.orm import Session

from api.db import (
    DONE,
    FINAL_STATES,
    SCENARIO,
    AccessLog,
    Agency,
    Base,
    CarerToken,
    Database,
    Job,
    Publication,
    RunSheet,
    StoredProblem,
)

# Importing the records' tables registers them, so an agency's erasure reaches them too.
from api.records import erase_client_records


class StillSolving(Exception):
    """A job that would be deleted is queued or solving (its ids are the arguments)."""


def mentions(body: dict[str, Any], client_id: str) -> bool:
    """Whether a problem (contract JSON) lists the client or their visit history."""
    history = body.get("history") or {}
    return any(c.get("id") == client_id for c in body.get("clients", [])) or any(
        h.get("client") == client_id
        for h in (*history.get("visits", []), *history.get("coordinator_visits", []))
    )


@dataclass
class Erased:
    """How many rows of each kind went."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, rows: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + rows


def erase_client(db: Database, agency_id: str, client_id: str) -> Erased | None:
    """Delete every stored object of the agency that mentions ``client_id``.

    None when nothing mentions them; :class:`StillSolving` when an affected job is active.
    """
    with db.write() as s:
        problems = [
            pid
            for pid, body in s.execute(
                select(StoredProblem.id, StoredProblem.body).where(
                    StoredProblem.agency_id == agency_id
                )
            )
            if mentions(json.loads(body), client_id)
        ]
        scenarios = [
            job_id
            for job_id, result in s.execute(
                select(Job.id, Job.result).where(
                    Job.agency_id == agency_id, Job.kind == SCENARIO, Job.status == DONE
                )
            )
            if result is not None
            and any(mentions(v["problem"], client_id) for v in json.loads(result)["variants"])
        ]
        # The client's own record, packages and imported history go too.
        own = erase_client_records(s, agency_id, client_id)
        if not problems and not scenarios and not any(own.values()):
            return None
        jobs = list(
            s.execute(
                select(Job.id, Job.status).where(
                    Job.agency_id == agency_id,
                    or_(Job.problem_id.in_(problems), Job.id.in_(scenarios)),
                )
            )
        )
        active = [j.id for j in jobs if j.status not in FINAL_STATES]
        if active:
            raise StillSolving(*active)
        erased = _delete(s, agency_id, problems, [j.id for j in jobs])
        for table, rows in own.items():
            erased.add(table, rows)
        # The access log keeps that a rota was read, when and with which key: the agency must
        # still account for past reads. It forgets only whom a read was about.
        s.execute(
            update(AccessLog)
            .where(AccessLog.agency_id == agency_id, AccessLog.client_id == client_id)
            .values(client_id=None)
        )
        return erased


def _count(s: Session, statement: Delete) -> int:
    """Run a DELETE and return how many rows it removed."""
    result = s.execute(statement)
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def _delete(s: Session, agency_id: str, problems: list[str], jobs: list[str]) -> Erased:
    erased = Erased()
    for derived in (CarerToken, RunSheet, Publication):
        erased.add(
            derived.__tablename__,
            _count(
                s,
                delete(derived).where(derived.agency_id == agency_id, derived.version_id.in_(jobs)),
            ),
        )
    s.execute(
        update(Job)
        .where(Job.agency_id == agency_id, Job.parent_id.in_(jobs), Job.id.not_in(jobs))
        .values(parent_id=None)
    )
    # One statement per table, so a job and its deleted parent go together: the database
    # checks the jobs' self-reference at the end of the statement.
    for name, ids in (("rota_versions", jobs), ("jobs", jobs), ("problems", problems)):
        table = Base.metadata.tables[name]
        erased.add(
            name,
            _count(s, delete(table).where(table.c.agency_id == agency_id, table.c.id.in_(ids))),
        )
    return erased


def _tenant_tables() -> list[Table]:
    """Every table with an ``agency_id``, children first."""
    return [t for t in reversed(Base.metadata.sorted_tables) if "agency_id" in t.c]


def erase_agency(db: Database, name: str) -> Erased:
    """Delete the agency called ``name`` and every row of it (KeyError if there is none)."""
    with db.write() as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.name == name))
        if agency_id is None:
            raise KeyError(name)
        active = list(
            s.scalars(
                select(Job.id).where(Job.agency_id == agency_id, Job.status.not_in(FINAL_STATES))
            )
        )
        if active:
            raise StillSolving(*active)
        erased = Erased()
        for table in _tenant_tables():
            erased.add(table.name, _count(s, delete(table).where(table.c.agency_id == agency_id)))
        erased.add("agencies", _count(s, delete(Agency).where(Agency.id == agency_id)))
        return erased
