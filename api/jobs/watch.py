"""Supervising a child whose answer ends the job: heartbeat, cancel, stop, deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import update

from api.db import CANCELLED, FAILED, QUEUED, Database, Job, utcnow
from api.jobs.child import SolveProcess
from api.jobs.claims import Claim, cancel_requested, fail, give_back, mine, touch
from api.settings import Settings

POLL_SECONDS: Final = 0.25  # how often a supervisor reads its pipe and the cancel flag


def overrun_deadline(time_limit: float) -> float:
    """Seconds after which a solve that has not stopped by itself is killed."""
    return time_limit * 1.5 + 60.0


@dataclass(frozen=True)
class Watched:
    """How :func:`watch` speaks of a child's work, and how long it may take."""

    what: str  # "re-solve": "the re-solve failed", "the worker stopped during the re-solve"
    answer: str  # what the child did not return when it died: "a rota"
    deadline: float  # seconds after which it is killed and the job failed
    cancelled_note: str  # the job's note when a cancel stops it (nothing is kept)


def watch(
    db: Database,
    settings: Settings,
    c: Claim,
    proc: SolveProcess,
    watched: Watched,
    on_message: Callable[[dict[str, Any]], str | None],
    stopping: Callable[[], bool],
    requeue: Callable[[str], None],
    *,
    on_tick: Callable[[float], bool] | None = None,
    on_cancel: Callable[[], str] | None = None,
) -> str:
    """Supervise a child whose answer ends the job; return the job's final status.

    ``on_message`` gets each message but errors, and returns the job's status when the message
    ended it (having stored the answer). Meanwhile the job gets its heartbeat (``on_tick`` may
    write something of its own instead, returning True when it did); a cancel request kills the
    child and ends the job ``cancelled`` with nothing kept, unless ``on_cancel`` ends it its own
    way; a stopping worker kills it and hands the job back; past the deadline, or if the child
    dies, the job fails.
    """
    began = time.monotonic()
    last_beat = began
    try:
        while True:
            for message in proc.read(POLL_SECONDS):
                if "error" in message:
                    fail(db, c, f"the {watched.what} failed: {message['error']}")
                    return FAILED
                outcome = on_message(message)
                if outcome is not None:
                    proc.wait()
                    return outcome
            if proc.finished:
                fail(db, c, f"{proc.describe_exit()} before returning {watched.answer}")
                return FAILED
            now = time.monotonic()
            if on_tick is not None and on_tick(now):
                last_beat = now  # what it wrote touched the heartbeat too
            elif now - last_beat >= settings.heartbeat_interval:
                touch(db, c, elapsed=now - began)
                last_beat = now
            if cancel_requested(db, c):
                if on_cancel is not None:
                    return on_cancel()
                proc.kill()
                with db.write() as s:
                    s.execute(
                        update(Job)
                        .where(*mine(c))
                        .values(
                            status=CANCELLED,
                            finished_at=utcnow(),
                            note=watched.cancelled_note,
                            progress_seq=Job.progress_seq + 1,
                        )
                    )
                return CANCELLED
            if stopping():
                proc.kill()
                give_back(db, c, f"the worker stopped during the {watched.what}; queued again")
                requeue(c.job_id)
                return QUEUED
            if now - began > watched.deadline:
                proc.kill()
                fail(db, c, f"the {watched.what} did not stop within {watched.deadline:g} s")
                return FAILED
    finally:
        proc.kill()
