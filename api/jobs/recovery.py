"""Jobs whose supervisor died: queued again while attempts remain, failed (or cancelled) after.

A job is given up for dead when its heartbeat is older than ``heartbeat_timeout``, or its owner
was a process on this machine that no longer exists. Both runners call :func:`recover` when they
start and then every ``reaper_interval`` seconds.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select as sql_select

from api.db import CANCELLED, FAILED, QUEUED, SOLVING, Database, Job, utcnow
from api.settings import Settings

log = logging.getLogger("carerota.jobs")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed process stays a zombie until its parent reaps it, and a busy parent (Celery's
    # main process on a loaded machine) may take seconds: a zombie runs nothing, so it is dead.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here (or no longer this pid): kill() said it exists
    return stat.rpartition(")")[2].split()[0] != "Z"


def _presumed_dead(job: Job, host: str, cutoff: datetime) -> bool:
    if job.heartbeat_at is None or job.heartbeat_at < cutoff:
        return True
    owner_host, _, rest = (job.owner or "").partition(":")
    pid = rest.partition(":")[0]
    # On this machine we need not wait for the heartbeat to go stale: the process is gone.
    return owner_host == host and pid.isdigit() and not _pid_alive(int(pid))


def recover(db: Database, settings: Settings) -> list[str]:
    """Deal with jobs whose supervisor died; return the ids queued again.

    A job is given up for dead when its heartbeat is older than ``heartbeat_timeout``, or its
    owner was a process on this machine that no longer exists. It is queued again while it has
    attempts left (``max_attempts``) and otherwise failed with the reason; a job whose cancel
    was requested ends ``cancelled``.
    """
    host = socket.gethostname()
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.heartbeat_timeout)
    requeued: list[str] = []
    with db.write() as s:
        # SKIP LOCKED: two reapers (two API processes) never handle the same job twice.
        stuck = s.scalars(
            sql_select(Job).where(Job.status == SOLVING).with_for_update(skip_locked=True)
        ).all()
        for job in stuck:
            if not _presumed_dead(job, host, cutoff):
                continue
            owner = job.owner  # for the log: a job queued again loses its owner
            if job.cancel_requested:
                job.status, job.finished_at = CANCELLED, now
                job.note = "the worker died while the solve was being cancelled; no rota was kept"
            elif job.attempts < settings.max_attempts:
                job.status, job.owner, job.heartbeat_at = QUEUED, None, None
                job.note = f"the worker died during attempt {job.attempts}; queued again"
                requeued.append(job.id)
            else:
                job.status, job.finished_at = FAILED, now
                job.error = (
                    f"worker died during solve (attempt {job.attempts} of "
                    f"{settings.max_attempts}); not retried"
                )
            job.progress_seq += 1
            log.warning("job %s: worker %s presumed dead; now %s", job.id, owner, job.status)
    return requeued


def queued_ids(db: Database) -> list[str]:
    """Every queued job, oldest first (to re-send after a broker lost its messages)."""
    with db.read() as s:
        return list(
            s.scalars(sql_select(Job.id).where(Job.status == QUEUED).order_by(Job.created_at))
        )
