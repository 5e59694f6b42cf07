"""Claiming a job and writing to it while it is ours.

A job is *claimed* with a conditional update from ``queued`` to ``solving`` that names an owner;
from then on every write of the supervisor is conditional on still being the owner (:func:`mine`),
so a job that was given up for dead and handed to another worker can never be finished twice.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select as sql_select
from sqlalchemy import update

from api.db import FAILED, QUEUED, SOLVE, SOLVING, Database, Job, StoredProblem, utcnow

log = logging.getLogger("carerota.jobs")


@dataclass(frozen=True)
class Claim:
    """A job this process now owns."""

    job_id: str
    agency_id: str
    problem_id: str
    owner: str
    attempt: int
    time_limit: float
    seed: int
    method: str
    problem_body: str
    kind: str = SOLVE
    absence_id: str | None = None
    resolve_now: str | None = None
    start_rota: str | None = None


class LostJob(Exception):
    """The job is no longer ours: cancelled while queued, or given up for dead and re-queued."""


def owner_name() -> str:
    """``host:pid:nonce``: where the supervisor runs, and which of its runs this is."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def claim(db: Database, job_id: str | None = None) -> Claim | None:
    """Take ``job_id`` (or else the oldest queued job) from ``queued`` to ``solving``.

    Returns None when there is nothing to take: the job was cancelled, another worker took it,
    or the queue is empty.
    """
    owner = owner_name()
    for _ in range(10):  # another worker may win the race for the same oldest job
        with db.write() as s:
            ident = job_id
            if ident is None:
                ident = s.scalar(
                    sql_select(Job.id)
                    .where(Job.status == QUEUED)
                    .order_by(Job.created_at, Job.id)
                    .limit(1)
                )
                if ident is None:
                    return None
            now = utcnow()
            taken = s.execute(
                update(Job)
                .where(Job.id == ident, Job.status == QUEUED)
                .values(
                    status=SOLVING,
                    owner=owner,
                    attempts=Job.attempts + 1,
                    started_at=now,
                    heartbeat_at=now,
                )
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                job = s.get_one(Job, ident)
                body = s.scalar(
                    sql_select(StoredProblem.body).where(StoredProblem.id == job.problem_id)
                )
                assert body is not None
                return Claim(
                    job_id=job.id,
                    agency_id=job.agency_id,
                    problem_id=job.problem_id,
                    owner=owner,
                    attempt=job.attempts,
                    time_limit=job.time_limit,
                    seed=job.seed,
                    method=job.method,
                    problem_body=body,
                    kind=job.kind,
                    absence_id=job.absence_id,
                    resolve_now=job.resolve_now,
                    start_rota=job.start_rota,
                )
        if job_id is not None:
            return None
    return None


def mine(c: Claim) -> Any:
    return (Job.id == c.job_id, Job.owner == c.owner, Job.status == SOLVING)


def touch(db: Database, c: Claim, **values: Any) -> None:
    """Write to our job row, or raise :class:`LostJob` if it is no longer ours."""
    with db.write() as s:
        done = s.execute(update(Job).where(*mine(c)).values(heartbeat_at=utcnow(), **values))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise LostJob(c.job_id)


def cancel_requested(db: Database, c: Claim) -> bool:
    with db.read() as s:
        row = s.execute(
            sql_select(Job.cancel_requested, Job.owner, Job.status).where(Job.id == c.job_id)
        ).one_or_none()
    if row is None or row.owner != c.owner or row.status != SOLVING:
        raise LostJob(c.job_id)
    return bool(row.cancel_requested)


def internal_error() -> str:
    """For the exception being handled: log it with its traceback under a fresh reference, and
    return the reason a coordinator reads instead. Never the exception's own text: it can be a
    C++ binding's message, or quote a care plan back."""
    reference = secrets.token_hex(4)
    log.exception("internal error, reference %s", reference)
    return (
        f"an internal error stopped it (reference {reference}); the problem is kept, so ask "
        "for the rota again, and if it fails again, give the reference to the service's operators"
    )


def fail(db: Database, c: Claim, reason: str) -> None:
    now = utcnow()
    with db.write() as s:
        s.execute(
            update(Job)
            .where(*mine(c))
            .values(
                status=FAILED,
                error=reason,
                finished_at=now,
                heartbeat_at=now,
                progress_seq=Job.progress_seq + 1,
            )
        )
    log.warning("job %s failed: %s", c.job_id, reason)


def give_back(db: Database, c: Claim, note: str) -> None:
    """Queue the job again without counting this run: its worker is shutting down cleanly."""
    with db.write() as s:
        s.execute(
            update(Job)
            .where(*mine(c))
            .values(
                status=QUEUED,
                owner=None,
                heartbeat_at=None,
                attempts=Job.attempts - 1,
                note=note,
            )
        )
