"""The production worker pool: solve jobs as Celery tasks over Redis (``carerota worker``).

A task carries only a job id; the job's problem, options and state are in the database. The task
calls the same :func:`api.jobs.run_job` as the local solve processes, so both give the same
results. The database, not the broker, decides who runs a job (see :mod:`api.jobs`), so a task
delivered twice runs once, and a job whose message was lost is sent again: by
:func:`recover_and_resend` when the API or a worker starts, and by :func:`resend_lost` while the
API runs.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from datetime import timedelta
from typing import Any, Final

from celery import Celery
from kombu.exceptions import ChannelError
from sqlalchemy import select

from api.db import QUEUED, Database, Job, utcnow
from api.jobs import ReaperThread, prewarm, queued_ids, recover, run_job
from api.settings import Settings

log = logging.getLogger("carerota.celery")

TASK_NAME: Final = "carerota.run_job"

# Per pool process: the settings the worker started with and a database opened after the fork
# (connections must never be shared across fork).
_state: dict[str, Any] = {}


def make_celery(settings: Settings) -> Celery:
    """The Celery application for ``settings``, with the solve task registered."""
    app = Celery("carerota", broker=settings.broker_url)
    app.conf.update(
        task_default_queue=settings.celery_queue,
        task_ignore_result=True,
        # Solves are long: a worker takes one job at a time, never a batch it cannot start.
        worker_prefetch_multiplier=1,
        # Acknowledge a task when it returns, and put it back if its pool process dies: a task
        # acknowledged when taken was lost with a pool process killed before its claim, leaving
        # the job queued with no message. A task delivered again after its claim finds nothing
        # to claim (the reaper queues the job again once its owner is gone).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    app.task(name=TASK_NAME, ignore_result=True)(_run_job_task)
    _state["settings"] = settings
    return app


def _database() -> Database:
    pid = os.getpid()
    if _state.get("pid") != pid:
        _state["pid"] = pid
        _state["db"] = Database(_state["settings"].database_url)
    db: Database = _state["db"]
    return db


def _run_job_task(job_id: str) -> str | None:
    """The Celery task: run one job to a final state in this pool process."""
    settings: Settings = _state["settings"]
    parent = os.getppid()
    app = _state["app"]
    return run_job(
        _database(),
        settings,
        job_id,
        # If the worker's main process dies, hand the job back rather than solve unseen.
        stopping=lambda: os.getppid() != parent,
        requeue=lambda ident: send(app, settings, ident),
    )


def send(app: Celery, settings: Settings, job_id: str) -> None:
    """Queue the solve task for ``job_id``."""
    app.send_task(TASK_NAME, args=[job_id], queue=settings.celery_queue)


def recover_and_resend(app: Celery, db: Database, settings: Settings) -> None:
    """Recover dead workers' jobs, then send a task for every queued job.

    Redis may have lost its messages over a restart; sending again is harmless because a job
    is claimed in the database by exactly one task.
    """
    recover(db, settings)
    for job_id in queued_ids(db):
        send(app, settings, job_id)


def resend_lost(app: Celery, db: Database, settings: Settings) -> list[str]:
    """Send again the jobs queued for over ``heartbeat_timeout`` while the broker's queue is
    empty; return their ids.

    A worker holds only the messages it is running (late acknowledgement, a prefetch of one),
    and runs a job by claiming it at once, so a queued job's message waits in the broker's queue.
    Jobs that have waited a while beside an empty queue therefore have no message: their web
    process died between storing and sending them, or the broker restarted without persistence.
    A job sent twice still runs once (the claim), and once sent the queue is no longer empty.
    """
    with app.connection_for_write() as conn:
        try:
            waiting = conn.default_channel.queue_declare(
                queue=settings.celery_queue, passive=True
            ).message_count
        except ChannelError:  # Redis keeps no key for an empty queue
            waiting = 0
    if waiting:
        return []
    cutoff = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
    with db.read() as s:
        lost = list(
            s.scalars(
                select(Job.id)
                .where(Job.status == QUEUED, Job.created_at < cutoff)
                .order_by(Job.created_at)
            )
        )
    for job_id in lost:
        log.warning("job %s: queued with the broker's queue empty; sent again", job_id)
        send(app, settings, job_id)
    return lost


# Seconds a readiness answer is reused (see CeleryRunner.ready).
READY_TTL: Final = 5.0


class CeleryRunner:
    """Jobs go to ``carerota worker`` processes through the broker; this process only sends."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.app = make_celery(settings)
        _state["app"] = self.app
        self._reaper = ReaperThread(
            db, settings, self.submit, lambda: resend_lost(self.app, db, settings)
        )
        self._workers = 0
        self._ready: tuple[float, tuple[bool, str]] | None = None
        self._ready_lock = threading.Lock()

    @property
    def slots(self) -> int:
        return max(1, self._workers)

    def start(self) -> None:
        try:
            recover_and_resend(self.app, self.db, self.settings)
        except Exception:
            log.exception("could not reach the broker to re-send queued jobs")
        self._reaper.start()

    def stop(self) -> None:
        self._reaper.stop()

    def submit(self, job_id: str) -> None:
        send(self.app, self.settings, job_id)

    def ready(self) -> tuple[bool, str]:
        # A ping waits its whole timeout for every worker to answer, holding a request thread:
        # probes within READY_TTL share the last good answer instead of each paying that
        # second. A bad answer is never reused, so a pool coming up is seen at once.
        with self._ready_lock:
            now = time.monotonic()
            if self._ready is None or now - self._ready[0] >= READY_TTL or not self._ready[1][0]:
                replies = self.app.control.ping(timeout=1.0) or []
                self._workers = len(replies)
                answer = (bool(replies), f"{len(replies)} Celery workers answered")
                self._ready = (time.monotonic(), answer)
            return self._ready[1]


# A pool process that dies before Celery's loop starts (killed, out of memory) makes Celery give
# up with "Could not start worker processes", taking the healthy ones down too. The worker then
# starts itself again, in place (same process id, for supervisors), a few times in a row at most,
# so a setup that cannot work still ends with its error. A run longer than STEADY_SECONDS starts
# the count again.
RESTARTS_ENV: Final = "CAREROTA_WORKER_RESTARTS"
MAX_RESTARTS: Final = 3
STEADY_SECONDS: Final = 60.0


def worker_main(settings: Settings, concurrency: int, loglevel: str) -> int:
    """Run a Celery worker (``carerota worker``): recover, then take solve tasks; the exit code."""
    began = time.monotonic()
    prewarm()  # before the pool forks, so every pool process has the solver imported
    app = make_celery(settings)
    _state["app"] = app
    db = Database(settings.database_url)
    try:
        recover_and_resend(app, db, settings)
    finally:
        db.dispose()  # pool processes open their own connections
    # app.Worker, not app.worker_main: the command line's path drops Celery's exit code.
    worker = app.Worker(
        hostname=f"carerota-{os.getpid()}@{socket.gethostname()}",
        loglevel=loglevel.upper(),
        concurrency=concurrency,
        queues=[settings.celery_queue],
        without_gossip=True,
        without_mingle=True,
    )
    worker.start()
    code = worker.exitcode
    if not code:
        return 0
    restarts = (
        0 if time.monotonic() - began > STEADY_SECONDS else int(os.environ.get(RESTARTS_ENV, "0"))
    )
    if restarts < MAX_RESTARTS:
        log.warning("the Celery worker ended with exit code %s; starting it again", code)
        os.environ[RESTARTS_ENV] = str(restarts + 1)
        time.sleep(1.0)
        os.execv(sys.executable, sys.orig_argv)
    log.error("the Celery worker ended with exit code %s; not starting it again", code)
    return int(code)
