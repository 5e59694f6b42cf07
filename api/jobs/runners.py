"""Where jobs run: solve processes beside the web process, or a reaper beside Celery's workers."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Protocol

from api.db import Database
from api.jobs.child import prewarm
from api.jobs.dispatch import run_job
from api.jobs.recovery import recover
from api.settings import Settings

log = logging.getLogger("carerota.jobs")


class JobRunner(Protocol):
    """Where solve jobs run. The API only submits ids; the database holds everything else."""

    @property
    def slots(self) -> int:
        """How many solves run at once (for Retry-After estimates)."""

    def start(self) -> None:
        """Start workers (if any run here) and recover jobs left by a previous run."""

    def stop(self) -> None:
        """Stop the workers started here; their solves are queued again."""

    def submit(self, job_id: str) -> None:
        """A queued job is waiting. Raises if the worker pool cannot be reached."""

    def ready(self) -> tuple[bool, str]:
        """Whether solves can run now, and a word on the workers."""


def _local_worker(settings_json: str, wake: Connection, parent: int) -> None:  # pragma: no cover
    """A solve process of ``carerota serve``: take queued jobs from the database, one at a time.

    ``wake`` is the read end of a pipe the web process writes to when a job is queued; without
    a message the process still looks for queued jobs every second.
    """
    settings = Settings.model_validate_json(settings_json)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    stop = threading.Event()
    # Ctrl-C reaches the whole process group; the web process decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    prewarm()
    db = Database(settings.database_url)

    def stopping() -> bool:
        return stop.is_set() or os.getppid() != parent

    try:
        while not stopping():
            try:
                outcome = run_job(db, settings, stopping=stopping)
            except Exception:
                log.exception("local worker: could not run a job")
                time.sleep(1.0)
                continue
            if outcome is None:
                try:
                    if wake.poll(1.0):
                        while wake.poll():
                            wake.recv_bytes()
                except (EOFError, OSError):
                    break  # the web process is gone
    finally:
        db.dispose()


class LocalProcessRunner:
    """Solve processes beside the web process (``carerota serve`` with the local broker).

    Each of ``local_workers`` processes (spawned, so it shares nothing with the web process's
    threads) takes the oldest queued job from the database, so jobs queued before a restart
    are picked up after it. A thread here restarts a process that dies and runs :func:`recover`.
    """

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list[tuple[SpawnProcess, Connection]] = []
        self._lock = threading.Lock()  # a pipe's writes must not interleave
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None

    @property
    def slots(self) -> int:
        return self.settings.local_workers

    def _spawn(self) -> tuple[SpawnProcess, Connection]:
        reader, writer = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(
            target=_local_worker,
            args=(self.settings.model_dump_json(), reader, os.getpid()),
            name="carerota-solve",
            daemon=True,
        )
        proc.start()
        reader.close()  # the child has its own copy
        # A busy process may not read its pipe for a long solve: never block a request on it
        # (a wake-up is 4 bytes, written whole or not at all).
        os.set_blocking(writer.fileno(), False)
        return proc, writer

    def start(self) -> None:
        for job_id in recover(self.db, self.settings):
            log.info("job %s queued again after a restart", job_id)
        with self._lock:
            self._procs = [self._spawn() for _ in range(self.settings.local_workers)]
        self._monitor = threading.Thread(target=self._watch, name="carerota-monitor", daemon=True)
        self._monitor.start()

    def pids(self) -> list[int]:
        """Process ids of the solve processes (for operators and tests)."""
        return [p.pid for p, _ in self._procs if p.pid is not None]

    def _watch(self) -> None:
        next_reap = time.monotonic() + self.settings.reaper_interval
        while not self._stop.wait(0.5):
            died = False
            with self._lock:
                for i, (proc, writer) in enumerate(self._procs):
                    if not proc.is_alive() and not self._stop.is_set():
                        log.warning(
                            "solve process %s died (exit %s); starting another",
                            proc.pid,
                            proc.exitcode,
                        )
                        writer.close()
                        self._procs[i] = self._spawn()
                        died = True
            if died or time.monotonic() >= next_reap:
                next_reap = time.monotonic() + self.settings.reaper_interval
                try:
                    for job_id in recover(self.db, self.settings):
                        self.submit(job_id)
                except Exception:
                    log.exception("recovery failed; will try again")

    def stop(self) -> None:
        self._stop.set()
        if self._monitor is not None:
            self._monitor.join(timeout=5)
        for proc, _ in self._procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: the worker hands its job back and leaves
        for proc, writer in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
            writer.close()

    def submit(self, _job_id: str) -> None:
        # Wake every idle process; the first to claim the oldest job gets it (whichever it is).
        with self._lock:
            for _, writer in self._procs:
                with contextlib.suppress(OSError):
                    writer.send_bytes(b"")

    def ready(self) -> tuple[bool, str]:
        alive = sum(1 for p, _ in self._procs if p.is_alive())
        return alive > 0, f"{alive} of {len(self._procs)} local solve processes alive"


class ReaperThread:
    """Runs :func:`recover` every ``reaper_interval`` seconds in a process without workers, and
    then ``sweep``: the runner's own look for queued jobs whose message its broker lost."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        submit: Callable[[str], None],
        sweep: Callable[[], object],
    ) -> None:
        self.db, self.settings, self.submit, self.sweep = db, settings, submit, sweep
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carerota-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.reaper_interval):
            try:
                for job_id in recover(self.db, self.settings):
                    self.submit(job_id)
                self.sweep()
            except Exception:
                log.exception("recovery failed; will try again")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
