"""Solve jobs: how one runs, how it is watched, and what happens when its worker dies.

The database is the source of truth for every job. A job is *claimed* by a supervising process
(a local solve process of ``carerota serve``, or a Celery task in ``carerota worker``) with a
conditional update from ``queued`` to ``solving`` that names an owner; from then on every write
of the supervisor is conditional on still being the owner, so a job that was given up for dead
and handed to another worker can never be finished twice.

The supervisor runs the solve itself in a forked child (:class:`SolveProcess`) and talks to it
over a pipe: CP-SAT never runs in a process that must stay responsive, and a cancelled or
overrunning solve is stopped by killing the child, wherever CP-SAT is. While the child runs the
supervisor writes progress and a heartbeat to the job row and watches for a cancel request.

:func:`recover` finds jobs whose supervisor has died (no heartbeat for ``heartbeat_timeout``, or
a process on this machine that no longer exists): each is queued again once per remaining attempt
and otherwise failed with the reason, so nothing is left ``solving`` for ever. Both runners call
it when they start and then every ``reaper_interval`` seconds.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import multiprocessing
import os
import secrets
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any, Final, Protocol

from sqlalchemy import select as sql_select
from sqlalchemy import update

from api.db import (
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    RESOLVE,
    SCENARIO,
    SOLVE,
    SOLVING,
    Absence,
    Agency,
    CoverCount,
    Database,
    Job,
    Publication,
    RotaVersion,
    RunSheet,
    StoredProblem,
    new_id,
    utcnow,
)
from api.documents import build_documents, dumps
from api.settings import Settings
from solver.contract import Problem, Rota
from solver.options import SolveOptions

log = logging.getLogger("carerota.jobs")

POLL_SECONDS: Final = 0.25  # how often a supervisor reads its pipe and the cancel flag
PROGRESS_SECONDS: Final = 0.5  # at most this often a progress write
FALLBACK_SECONDS: Final = 120.0  # time allowed for the construction rota of a cancelled solve
# A stopped search ends within a step and then writes its rota and reasons: seconds on a large
# agency. Past this the supervisor falls back to the construction rota.
STOP_SECONDS: Final = 30.0


def overrun_deadline(time_limit: float) -> float:
    """Seconds after which a solve that has not stopped by itself is killed."""
    return time_limit * 1.5 + 60.0


# ---------------------------------------------------------------------------------------------
# The solve, in a child process


# Other work for the child in place of the solve: called with the problem, the options and the
# function that sends a message to the supervisor (a what-if scenario's variants).
Work = Callable[[Problem, SolveOptions, Callable[[dict[str, Any]], None]], None]


class SolveProcess:
    """``solve(problem, options)`` in a forked child that reports over a pipe, one JSON a line.

    Messages: ``{"progress": [elapsed, objective, bound]}`` on every improvement, then either
    ``{"rota": {...}}`` or ``{"error": "..."}``; with ``work``, whatever the work sends (an
    exception still ends as ``{"error": ...}``). Fork (not spawn) because the supervisor has the
    solver imported already, so the child starts in milliseconds; it is safe because the child
    touches nothing it inherited (no database connection) and leaves with ``os._exit``.
    """

    def __init__(
        self,
        problem_json: str,
        options: SolveOptions,
        repair: dict[str, Any] | None = None,
        work: Work | None = None,
    ) -> None:
        read_fd, write_fd = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its work is checked through the pipe
            os.close(read_fd)
            code = 0
            try:
                _child(write_fd, problem_json, options, parent, repair, work)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        self.pid = pid
        self._fd = read_fd
        self._buffer = b""
        self._eof = False
        self.exit_status: int | None = None

    def read(self, timeout: float) -> list[dict[str, Any]]:
        """The messages that arrive within ``timeout`` seconds (all that are ready)."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while not self._eof:
            wait = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._fd], [], [], wait)
            if not ready:
                break
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                self._eof = True
                break
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            messages.extend(json.loads(line) for line in lines if line)
            if messages and any("rota" in m or "error" in m for m in messages):
                break
        return messages

    @property
    def finished(self) -> bool:
        """The child closed its end of the pipe (it ended, or is about to)."""
        return self._eof

    def wait(self, timeout: float = 5.0) -> int | None:
        """Reap the child; its wait status, or None if it is still running after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.exit_status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_status = status
                break
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)
        return self.exit_status

    def kill(self) -> None:
        """Stop the solve now (SIGKILL: CP-SAT holds no state worth a clean exit)."""
        if self.exit_status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.wait()
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def describe_exit(self) -> str:
        status = self.wait(1.0)
        if status is None:
            return "the solve process stopped talking"
        if os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            return f"the solve process was killed by {name}"
        return f"the solve process ended with exit code {os.WEXITSTATUS(status)}"


def _child(
    fd: int,
    problem_json: str,
    options: SolveOptions,
    parent: int,
    repair: dict[str, Any] | None,
    work: Work | None,
) -> None:
    # The supervisor may have its own handlers; the child dies by the defaults.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Blocked before any thread starts, so only the thread that waits for it receives SIGUSR1.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})

    def orphan_watch() -> None:
        # A supervisor killed with SIGKILL cannot stop its child; the child notices instead.
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=orphan_watch, daemon=True).start()
    out = os.fdopen(fd, "wb")

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message).encode() + b"\n")
        out.flush()

    from solver.solve import solve

    # SIGUSR1 is the supervisor's cancel: the search stops within a step and the best rota found
    # so far comes back through the pipe like any other answer. A Python handler would only run
    # once CP-SAT's C++ solve returned, so a thread waits for the signal instead.
    stop = threading.Event()

    def stop_watch() -> None:
        signal.sigwait({signal.SIGUSR1})
        stop.set()

    threading.Thread(target=stop_watch, daemon=True).start()
    try:
        problem = Problem.model_validate_json(problem_json)
        if work is not None:
            work(problem, options, send)
            return
        if repair is not None:
            send(_repair(problem, options, repair))
            return
        rota = solve(problem, options, lambda e, o, b: send({"progress": [e, o, b]}), stop.is_set)
        send({"rota": rota.model_dump(mode="json", exclude_none=True)})
    except Exception as exc:
        send({"error": f"{type(exc).__name__}: {exc}"})


def _repair(problem: Problem, options: SolveOptions, repair: dict[str, Any]) -> dict[str, Any]:
    """An absence's re-solve of the published rota: the message the supervisor stores."""
    from solver.contract import parse_local_datetime
    from solver.resolve import Absence, ResolveOptions, apply_absences, resolve

    before = Rota.model_validate_json(repair["rota"])
    a = repair["absence"]
    absence = Absence(
        a["worker"], parse_local_datetime(a["start"]), parse_local_datetime(a["end"]), a["reason"]
    )
    now = parse_local_datetime(repair["now"])
    situation = apply_absences(problem, before, [absence], now)
    done = resolve(
        situation,
        before,
        now,
        ResolveOptions(
            time_limit=options.time_limit,
            seed=options.seed,
            workers=options.workers,
            cover_counts=repair["counts"],
        ),
    )
    return {
        "rota": done.rota.model_dump(mode="json", exclude_none=True),
        "problem": situation.model_dump(mode="json", exclude_none=True),
        "changes": done.changes.model_dump(mode="json"),
        "covers": done.covers,
        "elapsed": done.elapsed,
    }


def prewarm() -> None:
    """Import the solver's heavy parts once, so each forked solve starts at once."""
    importlib.import_module("solver.search")  # OR-Tools
    # A re-solve's module too: imported only on the first re-solve, it could come from newer
    # files than the rest of the solver after an upgrade in place.
    importlib.import_module("solver.resolve")


# ---------------------------------------------------------------------------------------------
# Claiming and supervising


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
                )
        if job_id is not None:
            return None
    return None


def _mine(c: Claim) -> Any:
    return (Job.id == c.job_id, Job.owner == c.owner, Job.status == SOLVING)


def _touch(db: Database, c: Claim, **values: Any) -> None:
    """Write to our job row, or raise :class:`LostJob` if it is no longer ours."""
    with db.write() as s:
        done = s.execute(update(Job).where(*_mine(c)).values(heartbeat_at=utcnow(), **values))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise LostJob(c.job_id)


def _cancel_requested(db: Database, c: Claim) -> bool:
    with db.read() as s:
        row = s.execute(
            sql_select(Job.cancel_requested, Job.owner, Job.status).where(Job.id == c.job_id)
        ).one_or_none()
    if row is None or row.owner != c.owner or row.status != SOLVING:
        raise LostJob(c.job_id)
    return bool(row.cancel_requested)


def _save(
    db: Database,
    c: Claim,
    problem: Problem,
    rota: Rota,
    *,
    status: str,
    source: str,
    elapsed: float,
    note: str | None = None,
    repair: Repaired | None = None,
) -> bool:
    """Store the rota as this job's version with its documents, and end the job.

    For an absence's re-solve (``repair``) the same transaction stores the problem with the
    absence written in, publishes the version if the one it repaired is still the published one,
    and counts the cover requests. Returns whether it published.
    """
    docs = build_documents(problem, rota)
    rota_json = dumps(rota.model_dump(mode="json", exclude_none=True))
    now = utcnow()
    published = False
    with db.write() as s:
        problem_id = c.problem_id
        if repair is not None:
            stored = StoredProblem(
                id=new_id("problem"),
                agency_id=c.agency_id,
                name=problem.agency[:200],
                timezone=problem.timezone,
                period_start=problem.period.start,
                period_end=problem.period.end,
                visits=len(problem.visits),
                workers=len(problem.workers),
                body=repair.problem_body,
            )
            s.add(stored)
            s.flush()
            problem_id = stored.id
        done = s.execute(
            update(Job)
            .where(*_mine(c))
            .values(
                problem_id=problem_id,
                parent_id=repair.base_id if repair is not None else Job.parent_id,
                status=status,
                finished_at=now,
                heartbeat_at=now,
                objective=rota.objective,
                bound=rota.best_bound,
                elapsed=elapsed,
                # A retried job keeps its note ("the worker died during attempt 1...").
                note=note if note is not None else Job.note,
                progress_seq=Job.progress_seq + 1,
            )
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise LostJob(c.job_id)
        s.add(
            RotaVersion(
                id=c.job_id,
                agency_id=c.agency_id,
                problem_id=problem_id,
                changes=repair.changes if repair is not None else None,
                solver_status=rota.status,
                objective=rota.objective,
                best_bound=rota.best_bound,
                source=source,
                check_ok=docs.check_ok,
                breaches=docs.breaches,
                rota=rota_json,
                explanation=dumps(docs.explanation),
                created_at=now,
            )
        )
        # The version must exist before rows that point at it (PostgreSQL checks at once).
        s.flush()
        s.add_all(
            RunSheet(version_id=c.job_id, worker_id=w, agency_id=c.agency_id, body=dumps(sheet))
            for w, sheet in docs.run_sheets.items()
        )
        if repair is not None:
            published = _publish_repair(s, c, problem, repair, ok=docs.check_ok)
    if not docs.check_ok:
        log.error("job %s: the checker found %d breaches in the rota", c.job_id, docs.breaches)
    return published


@dataclass(frozen=True)
class Repaired:
    """What an absence's re-solve adds to its version: the new problem, changes, covers."""

    base_id: str  # the published version it repaired
    problem_body: str
    changes: str
    covers: dict[str, int]  # worker -> orphaned visits they were asked to take
    month: str  # YYYY-MM of the re-solve's "now": the month cover requests count in


def _publish_repair(s: Any, c: Claim, problem: Problem, repair: Repaired, *, ok: bool) -> bool:
    """Publish a re-solve's version over the one it repaired, and count its cover requests.

    Nothing is published when the rota breaks a rule, or when another version was published for
    the period while this one was solving (the office's choice wins; the job's note says so).
    """
    current = s.scalar(
        sql_select(Publication.version_id)
        .where(
            Publication.agency_id == c.agency_id,
            Publication.period_start == problem.period.start,
            Publication.period_end == problem.period.end,
        )
        .order_by(Publication.id.desc())
        .limit(1)
    )
    # One request per worker and re-solve, however many of the orphaned visits they take: it is
    # the phone call that wears people out.
    for worker in sorted(repair.covers):
        row = s.get(CoverCount, (c.agency_id, worker, repair.month))
        if row is None:
            s.add(CoverCount(agency_id=c.agency_id, worker_id=worker, month=repair.month, count=1))
        else:
            row.count += 1
    if not ok or current != repair.base_id:
        why = "it breaks a rule" if not ok else f"{current} was published meanwhile"
        s.execute(update(Job).where(Job.id == c.job_id).values(note=f"not published: {why}"))
        return False
    s.add(
        Publication(
            agency_id=c.agency_id,
            version_id=c.job_id,
            period_start=problem.period.start,
            period_end=problem.period.end,
        )
    )
    return True


def _fail(db: Database, c: Claim, reason: str) -> None:
    now = utcnow()
    with db.write() as s:
        s.execute(
            update(Job)
            .where(*_mine(c))
            .values(
                status=FAILED,
                error=reason,
                finished_at=now,
                heartbeat_at=now,
                progress_seq=Job.progress_seq + 1,
            )
        )
    log.warning("job %s failed: %s", c.job_id, reason)


def _give_back(db: Database, c: Claim, note: str) -> None:
    """Queue the job again without counting this run: its worker is shutting down cleanly."""
    with db.write() as s:
        s.execute(
            update(Job)
            .where(*_mine(c))
            .values(
                status=QUEUED,
                owner=None,
                heartbeat_at=None,
                attempts=Job.attempts - 1,
                note=note,
            )
        )


def run_job(
    db: Database,
    settings: Settings,
    job_id: str | None = None,
    *,
    stopping: Callable[[], bool] = lambda: False,
    requeue: Callable[[str], None] = lambda job_id: None,
) -> str | None:
    """Claim a job (``job_id``, or the oldest queued) and take it to a final state.

    This is the one function both runners call. Returns the job's final status, ``queued`` if
    ``stopping()`` turned true and the job was handed back (``requeue`` is then told, so a Celery
    pool can send it again), or None if there was no job to claim.
    """
    c = claim(db, job_id)
    if c is None:
        return None
    log.info("job %s: attempt %d by %s", c.job_id, c.attempt, c.owner)
    try:
        if c.kind == RESOLVE:
            return _supervise_resolve(db, settings, c, stopping, requeue)
        if c.kind == SCENARIO:
            # Imported here: the scenario supervisor is built from this module's pieces.
            from api.scenario_jobs import supervise_scenario

            return supervise_scenario(db, settings, c, stopping, requeue)
        return _supervise(db, settings, c, stopping, requeue)
    except LostJob:
        log.warning("job %s: no longer ours; leaving it", c.job_id)
        return None
    except Exception as exc:
        log.exception("job %s: supervisor error", c.job_id)
        _fail(db, c, f"internal error while supervising the solve: {type(exc).__name__}: {exc}")
        return FAILED


def _supervise(
    db: Database,
    settings: Settings,
    c: Claim,
    stopping: Callable[[], bool],
    requeue: Callable[[str], None],
) -> str:
    """A solve: its progress written as it comes, its rota stored; a cancel keeps the best
    rota found so far."""
    problem = Problem.model_validate_json(c.problem_body)
    options = SolveOptions(
        time_limit=c.time_limit, seed=c.seed, workers=settings.solver_threads, method=c.method
    )
    began = time.monotonic()
    proc = SolveProcess(c.problem_body, options)
    # (elapsed, objective, bound): the latest the child sent, and the latest written.
    latest: list[float] | None = None
    written: list[float] | None = None
    last_write = began - PROGRESS_SECONDS  # the first progress is written at once

    def on_message(message: dict[str, Any]) -> str | None:
        nonlocal latest
        if "progress" in message:
            latest = message["progress"]
            return None
        if "rota" not in message:
            return None
        rota = Rota.model_validate(message["rota"])
        elapsed = time.monotonic() - began
        _save(db, c, problem, rota, status=DONE, source="search", elapsed=elapsed)
        return DONE

    def on_tick(now: float) -> bool:
        nonlocal written, last_write
        if latest is None or latest == written or now - last_write < PROGRESS_SECONDS:
            return False
        elapsed, objective, bound = latest
        _touch(
            db,
            c,
            elapsed=elapsed,
            objective=objective,
            bound=bound,
            progress_seq=Job.progress_seq + 1,
        )
        written, last_write = latest, now
        return True

    def on_cancel() -> str:
        taken = time.monotonic() - began
        kept = _stop_and_collect(proc)
        if kept is None:
            proc.kill()
            return _cancelled(db, c, problem, latest, taken)
        _save(
            db,
            c,
            problem,
            kept,
            status=CANCELLED,
            source="search",
            elapsed=time.monotonic() - began,
            note=f"cancelled after {taken:.1f} s; kept the best rota found so far "
            f"(objective {kept.objective:g})",
        )
        return CANCELLED

    return watch(
        db,
        settings,
        c,
        proc,
        Watched(
            what="solve",
            answer="a rota",
            deadline=overrun_deadline(c.time_limit),
            cancelled_note="cancelled",
        ),
        on_message,
        stopping,
        requeue,
        on_tick=on_tick,
        on_cancel=on_cancel,
    )


@dataclass(frozen=True)
class _Base:
    """The published version an absence's re-solve repairs, read when the job starts."""

    version_id: str
    rota: str
    problem_body: str
    absence: dict[str, str]
    counts: dict[str, int]


def _resolve_base(db: Database, c: Claim) -> _Base | str:
    """The period's published version now (not when the absence came in: another re-solve may
    have been published since), or why there is none."""
    assert c.absence_id is not None and c.resolve_now is not None
    with db.read() as s:
        period = s.execute(
            sql_select(StoredProblem.period_start, StoredProblem.period_end).where(
                StoredProblem.id == c.problem_id
            )
        ).one()
        version_id = s.scalar(
            sql_select(Publication.version_id)
            .where(
                Publication.agency_id == c.agency_id,
                Publication.period_start == period.period_start,
                Publication.period_end == period.period_end,
            )
            .order_by(Publication.id.desc())
            .limit(1)
        )
        if version_id is None:
            return "the period no longer has a published rota"
        row = s.execute(
            sql_select(RotaVersion.rota, StoredProblem.body)
            .join(StoredProblem, StoredProblem.id == RotaVersion.problem_id)
            .where(RotaVersion.id == version_id)
        ).one()
        absence = s.get_one(Absence, c.absence_id)
        month = c.resolve_now[:7]
        counts = {
            r.worker_id: r.count
            for r in s.scalars(
                sql_select(CoverCount).where(
                    CoverCount.agency_id == c.agency_id, CoverCount.month == month
                )
            )
        }
    return _Base(
        version_id=version_id,
        rota=row.rota,
        problem_body=row.body,
        absence={
            "worker": absence.worker_id,
            "start": absence.start,
            "end": absence.end,
            "reason": absence.reason,
        },
        counts=counts,
    )


def _supervise_resolve(
    db: Database,
    settings: Settings,
    c: Claim,
    stopping: Callable[[], bool],
    requeue: Callable[[str], None],
) -> str:
    """An absence's re-solve: repair the published rota, store, publish, tell the webhook."""
    base = _resolve_base(db, c)
    if isinstance(base, str):
        _fail(db, c, base)
        return FAILED
    assert c.resolve_now is not None
    month = c.resolve_now[:7]
    options = SolveOptions(time_limit=c.time_limit, seed=c.seed, workers=settings.solver_threads)
    repair = {
        "rota": base.rota,
        "absence": base.absence,
        "now": c.resolve_now,
        "counts": base.counts,
    }
    began = time.monotonic()

    def on_message(message: dict[str, Any]) -> str | None:
        if "rota" not in message:
            return None
        problem = Problem.model_validate(message["problem"])
        repaired = Repaired(
            base_id=base.version_id,
            problem_body=dumps(message["problem"]),
            changes=dumps(message["changes"]),
            covers=message["covers"],
            month=month,
        )
        rota = Rota.model_validate(message["rota"])
        published = _save(
            db,
            c,
            problem,
            rota,
            status=DONE,
            source="resolve",
            elapsed=time.monotonic() - began,
            repair=repaired,
        )
        notify(db, settings, c, message["changes"], published)
        return DONE

    return watch(
        db,
        settings,
        c,
        SolveProcess(base.problem_body, options, repair),
        Watched(
            what="re-solve",
            answer="a rota",
            deadline=overrun_deadline(c.time_limit),
            cancelled_note="cancelled; the published rota is unchanged",
        ),
        on_message,
        stopping,
        requeue,
    )


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
                    _fail(db, c, f"the {watched.what} failed: {message['error']}")
                    return FAILED
                outcome = on_message(message)
                if outcome is not None:
                    proc.wait()
                    return outcome
            if proc.finished:
                _fail(db, c, f"{proc.describe_exit()} before returning {watched.answer}")
                return FAILED
            now = time.monotonic()
            if on_tick is not None and on_tick(now):
                last_beat = now  # what it wrote touched the heartbeat too
            elif now - last_beat >= settings.heartbeat_interval:
                _touch(db, c, elapsed=now - began)
                last_beat = now
            if _cancel_requested(db, c):
                if on_cancel is not None:
                    return on_cancel()
                proc.kill()
                with db.write() as s:
                    s.execute(
                        update(Job)
                        .where(*_mine(c))
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
                _give_back(db, c, f"the worker stopped during the {watched.what}; queued again")
                requeue(c.job_id)
                return QUEUED
            if now - began > watched.deadline:
                proc.kill()
                _fail(db, c, f"the {watched.what} did not stop within {watched.deadline:g} s")
                return FAILED
    finally:
        proc.kill()


# Seconds between webhook attempts; a delivery is given up after the last.
WEBHOOK_BACKOFF: Final = (1.0, 3.0, 9.0)


def notify(
    db: Database, settings: Settings, c: Claim, changes: dict[str, Any], published: bool
) -> threading.Thread | None:
    """POST the change list to the agency's webhook, if it has one, retrying in the background.

    The job is done whatever the webhook does: a receiver that is down must not hold the
    supervisor, so delivery runs in a thread of its own.
    """
    with db.read() as s:
        url = s.scalar(sql_select(Agency.webhook_url).where(Agency.id == c.agency_id))
    if not url:
        return None
    payload = {
        "event": "rota.resolved",
        "rota": c.job_id,
        "published": published,
        "absence": c.absence_id,
        "changes": changes,
    }

    def deliver() -> None:
        import httpx

        for attempt, pause in enumerate((0.0, *WEBHOOK_BACKOFF), start=1):
            time.sleep(pause)
            try:
                response = httpx.post(url, json=payload, timeout=settings.webhook_timeout)
                if response.status_code < 300:
                    log.info("job %s: webhook delivered (attempt %d)", c.job_id, attempt)
                    return
                log.warning("job %s: webhook answered %d", c.job_id, response.status_code)
            except httpx.HTTPError as exc:
                log.warning("job %s: webhook failed: %s", c.job_id, type(exc).__name__)
        log.error("job %s: webhook given up after %d attempts", c.job_id, attempt)

    thread = threading.Thread(target=deliver, name=f"webhook-{c.job_id}", daemon=True)
    thread.start()
    return thread


def _stop_and_collect(proc: SolveProcess) -> Rota | None:
    """Ask a running solve to stop and hand back its best rota; None if it cannot."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGUSR1)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and not proc.finished:
        for message in proc.read(POLL_SECONDS):
            if "rota" in message:
                proc.wait()
                return Rota.model_validate(message["rota"])
            if "error" in message:
                return None
    return None


def _cancelled(
    db: Database, c: Claim, problem: Problem, latest: list[float] | None, elapsed: float
) -> str:
    """End a cancelled solve whose search could not hand back its rota, keeping one anyway.

    The fallback is the construction heuristic's rota: the search's starting point. The note
    says when the search had found better.
    """
    proc = SolveProcess(c.problem_body, SolveOptions(method="heuristic", seed=c.seed))
    try:
        deadline = time.monotonic() + FALLBACK_SECONDS
        while time.monotonic() < deadline:
            for message in proc.read(POLL_SECONDS):
                if "rota" in message:
                    rota = Rota.model_validate(message["rota"])
                    note = f"cancelled after {elapsed:.1f} s; kept the construction rota"
                    searched = latest[1] if latest is not None else None
                    kept = rota.objective
                    if searched is not None and kept is not None and searched < kept - 1e-6:
                        note += (
                            f" (objective {kept:g}); the search had reached {searched:g}, "
                            "but stopped without handing it back"
                        )
                    _save(
                        db,
                        c,
                        problem,
                        rota,
                        status=CANCELLED,
                        source="construction",
                        elapsed=elapsed,
                        note=note,
                    )
                    return CANCELLED
                if "error" in message:
                    break
            if proc.finished:
                break
    finally:
        proc.kill()
    now = utcnow()
    with db.write() as s:
        s.execute(
            update(Job)
            .where(*_mine(c))
            .values(status=CANCELLED, finished_at=now, note="cancelled; no rota could be kept")
        )
    return CANCELLED


# ---------------------------------------------------------------------------------------------
# Recovery


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


# ---------------------------------------------------------------------------------------------
# Runners


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

    def submit(self, job_id: str) -> None:
        # Wake every idle process; the first to claim the oldest job gets it.
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
