"""The solve in a forked child process, reporting to its supervisor over a pipe.

:class:`SolveProcess` runs ``solve(problem, options)`` (or an absence's repair, or other
:data:`Work` such as a scenario's variants) in a child, so CP-SAT never runs in a process that
must stay responsive and a cancelled or overrunning solve is stopped by killing the child.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from api.jobs.claims import internal_error
from solver.contract import Problem, Rota
from solver.options import Figures, SolveOptions

# Other work for the child in place of the solve: called with the problem, the options and the
# function that sends a message to the supervisor (a what-if scenario's variants).
Work = Callable[[Problem, SolveOptions, Callable[[dict[str, Any]], None]], None]


class SolveProcess:
    """``solve(problem, options)`` (from ``start``, a rota's JSON, if given) in a forked child that
    reports over a pipe, one JSON a line.

    Messages: ``{"progress": [elapsed, objective, bound], "figures": {...}}`` on every
    improvement (``figures``: :class:`~solver.options.Figures`, when the search has them), then
    either ``{"rota": {...}}`` or ``{"error": "..."}``; with ``work``, whatever the work sends (an
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
        start: str | None = None,
    ) -> None:
        read_fd, write_fd = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its work is checked through the pipe
            os.close(read_fd)
            code = 0
            try:
                _child(write_fd, problem_json, options, parent, repair, work, start)
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
    start: str | None,
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

        def progress(e: float, o: float, b: float, figures: Figures | None = None, /) -> None:
            message: dict[str, Any] = {"progress": [e, o, b]}
            if figures is not None:
                message["figures"] = asdict(figures)
            send(message)

        begin = None if start is None else Rota.model_validate_json(start)
        rota = solve(problem, options, progress, stop.is_set, start=begin)
        send({"rota": rota.model_dump(mode="json", exclude_none=True)})
    except Exception:
        send({"error": internal_error()})


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
    # The route engine's compiled kernels: loaded (or compiled, after an install) here, once,
    # rather than in the first solve or sick-call re-solve of every forked process.
    from solver.engine.warm import warm

    warm()
