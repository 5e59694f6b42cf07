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

The modules, from the bottom up:

- :mod:`~api.jobs.child`: the solve (or other work) in a forked child, reporting over a pipe;
- :mod:`~api.jobs.claims`: claiming a job and every write conditional on still owning it;
- :mod:`~api.jobs.results`: storing a rota as the job's version, publishing a re-solve's;
- :mod:`~api.jobs.watch`: supervising a child until its answer, a cancel, a stop or the deadline;
- :mod:`~api.jobs.webhook`: telling an agency's webhook what a re-solve changed;
- one module per kind of job: :mod:`~api.jobs.solve`, :mod:`~api.jobs.resolve`,
  :mod:`~api.jobs.scenario`;
- :mod:`~api.jobs.dispatch`: :func:`run_job` and the table of supervisors by job kind;
- :mod:`~api.jobs.recovery`: jobs whose supervisor died;
- :mod:`~api.jobs.runners`: where jobs run (local solve processes, or Celery's reaper).

Adding a kind of job: a module with its ``supervise_<kind>`` function, and its entry in
:data:`api.jobs.dispatch.SUPERVISORS`. The rest of the service imports what it needs from here.
"""

from api.jobs.child import SolveProcess, prewarm
from api.jobs.dispatch import run_job
from api.jobs.recovery import queued_ids, recover
from api.jobs.runners import JobRunner, LocalProcessRunner, ReaperThread

__all__ = [
    "JobRunner",
    "LocalProcessRunner",
    "ReaperThread",
    "SolveProcess",
    "prewarm",
    "queued_ids",
    "recover",
    "run_job",
]
