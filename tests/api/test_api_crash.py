"""Crash and restart: ``kill -9`` at seeded-random moments during a burst of jobs.

Each backend runs real processes: ``carerota serve`` on SQLite with its local solve processes, and
``carerota serve`` on PostgreSQL beside a ``carerota worker`` (Celery on Redis). A round submits a
burst of short solves, publishes some of them as they finish and records an absence (whose
re-solve publishes over a published rota). Meanwhile a killer thread SIGKILLs the web process, a
solve worker or everything at once, at moments drawn from the round's seed, and starts again
whatever needs starting. Then, within a bounded wait:

- every job is final: ``done``, ``cancelled``, or ``failed`` with a reason; none sat ``solving``
  under a dead owner for longer than recovery takes;
- every ``done`` job has its one version, with a run sheet for every worker of its stored problem,
  and its rota passes the independent checker against that problem (read through the API);
- no version belongs to a job that is not done or cancelled (nothing half-written);
- every publication acknowledged to the client is still in the log, and each period's published
  rota is the last one the client published unless a re-solve published over it since.

The seed is in every assertion message; ``CAREROTA_CRASH_SEEDS=7,8`` replays those rounds.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text

from api.app import create_app
from api.db import (
    DONE,
    FAILED,
    FINAL_STATES,
    RESOLVE,
    Database,
    Job,
    Publication,
    RotaVersion,
    StoredProblem,
)
from api.db import RunSheet as RunSheetRow
from api.settings import Settings
from scenarios.generator import generate
from solver.checker import check
from solver.contract import Problem, Rota
from tests.api.service import FAST, HeldRunner, agency_headers, wait_ready
from tests.harness import (
    REDIS_URL,
    CeleryWorker,
    PostgresDatabases,
    Server,
    child_pids,
    forget_queue,
    own_broker,
    reachable,
    settings_env,
    unavailable,
)

# Rounds per backend. Each takes 15-25 s on a busy two-core machine.
DEFAULT_SEEDS = {"sqlite": (101, 102, 103), "postgres": (201, 202, 203)}
BURST = (8, 10)  # jobs per round, at least and at most
PUBLISHED_PER_ROUND = 3
KILL_WINDOW = (0.5, 6.0)  # seconds after a round starts
# A job under a dead owner must be recovered within this many seconds once the service is up:
# the reaper runs every second and sees at once that a local owner is gone.
RECOVERY_SECONDS = 5.0
SETTLE_SECONDS = 60.0  # from the last restart until every job is final
# Three small problems, one per week, so each has its own period to publish in.
WEEKS = ((3, 5), (4, 6), (3, 7))  # (clients, seed)


def seeds(backend: str) -> tuple[int, ...]:
    chosen = os.environ.get("CAREROTA_CRASH_SEEDS")
    if chosen:
        return tuple(int(s) for s in chosen.split(","))
    return DEFAULT_SEEDS[backend]


@pytest.fixture(scope="module")
def weeks() -> list[dict[str, Any]]:
    """Three small problems over three consecutive weeks (49 to 64 visits: quick to solve)."""
    return [
        generate(clients, seed, start=date(2026, 11, 30) + timedelta(days=7 * k))
        for k, (clients, seed) in enumerate(WEEKS)
    ]


# ---------------------------------------------------------------------------------------------
# The processes and how each kind dies


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@dataclass
class Cluster:
    """One backend's processes: a web process and, with Celery, a worker."""

    settings: Settings
    server: Server
    worker: CeleryWorker | None
    groups: set[int] = field(default_factory=set)  # every process group started, for teardown

    @property
    def targets(self) -> tuple[str, ...]:
        """What the killer may kill: see :meth:`kill`."""
        if self.worker is None:
            return ("web", "solver", "power")
        return ("web", "pool", "celery", "power")

    def start(self) -> None:
        if self.worker is not None:
            self._start_worker()
        self._start_server()

    def _start_server(self) -> None:
        # Popen happens before start() waits for readiness: record the group even if it fails.
        try:
            self.server.start()
        finally:
            assert self.server.proc is not None
            self.groups.add(self.server.proc.pid)

    def _start_worker(self) -> None:
        assert self.worker is not None
        self.worker.start()
        assert self.worker.proc is not None
        self.groups.add(self.worker.proc.pid)

    def solve_processes(self) -> list[int]:
        """The processes that supervise solves: local solve processes, or Celery's pool."""
        if self.worker is None:
            assert self.server.proc is not None
            # multiprocessing's resource tracker is a child too; the workers run spawn_main.
            return [
                pid for pid in child_pids(self.server.proc.pid) if b"spawn_main" in _cmdline(pid)
            ]
        assert self.worker.proc is not None
        return child_pids(self.worker.proc.pid)

    def kill(self, target: str, rng: random.Random) -> str:
        """SIGKILL ``target`` and start again what does not come back by itself.

        ``web``: the web process alone (its local solve processes live on, orphaned); ``solver``
        or ``pool``: one solve process (the web process or Celery starts another); ``celery``:
        Celery's main process alone (its pool lives on, orphaned); ``power``: everything.
        """
        pause = rng.uniform(0.0, 1.0)  # how long the dead stay dead
        if target == "web":
            assert self.server.proc is not None
            pid = self.server.proc.pid
            os.kill(pid, signal.SIGKILL)
            self.server.proc.wait(timeout=10)
            time.sleep(pause)
            self._start_server()
            return f"killed the web process {pid}"
        if target in ("solver", "pool"):
            # Just after a restart the solve processes may still be starting.
            deadline = time.monotonic() + 10
            while not (pids := self.solve_processes()):
                if time.monotonic() > deadline:
                    return "found no solve process to kill"
                time.sleep(0.1)
            pid = pids[rng.randrange(len(pids))]
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return f"killed the solve process {pid}"
        if target == "celery":
            assert self.worker is not None and self.worker.proc is not None
            pid = self.worker.proc.pid
            os.kill(pid, signal.SIGKILL)
            self.worker.proc.wait(timeout=10)
            time.sleep(pause)
            self._start_worker()
            return f"killed Celery's main process {pid}"
        assert target == "power"
        self.server.kill()
        if self.worker is not None:
            self.worker.kill()
        time.sleep(pause)
        self.start()
        return "killed every process"

    def teardown(self) -> None:
        self.server.stop()
        if self.worker is not None:
            self.worker.stop()
        # Orphans of a killed main process (local solve processes, a Celery pool) end by
        # themselves; any still there are ended with their group.
        for group in self.groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture(params=["sqlite", "postgres"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """A fresh database and the backend's processes, started; everything killed afterwards."""
    if request.param == "sqlite":
        settings = Settings(database_url=f"sqlite:///{tmp_path}/crash.db", **FAST)
        running = Cluster(settings, Server(settings_env(settings), tmp_path / "serve.log"), None)
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres")
        if not reachable(REDIS_URL, 6379):
            unavailable(f"Redis is not reachable at {REDIS_URL}")
        queue = f"carerota-crash-{os.getpid()}-{random.randrange(1 << 24):06x}"
        settings = Settings(
            database_url=databases.fresh(),
            broker_url=own_broker(),
            celery_queue=queue,
            **FAST,
        )
        worker = CeleryWorker(settings_env(settings), tmp_path / "worker.log")
        running = Cluster(settings, Server(settings_env(settings), tmp_path / "serve.log"), worker)
    try:
        running.start()
        yield running
    finally:
        running.teardown()
        if running.worker is not None:
            forget_queue(settings.broker_url, settings.celery_queue)


# ---------------------------------------------------------------------------------------------
# The client's side


@dataclass
class Ledger:
    """What the client was told and what the killer did: where the checks start from."""

    published: list[str] = field(default_factory=list)  # acknowledged, in order
    checked: set[str] = field(default_factory=set)  # versions already verified (immutable)
    events: list[str] = field(default_factory=list)

    def say(self, seed: int, event: str) -> None:
        self.events.append(f"seed {seed}: {event}")

    def why(self, seed: int) -> str:
        """The assertion message's tail: how to replay, and what happened."""
        return f" [replay: CAREROTA_CRASH_SEEDS={seed}; " + "; ".join(self.events) + "]"


def send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Send until the service answers: between a kill and its restart nothing listens.

    A request lost with the web process may still have been carried out; sending it again is
    what a client would do (a second submission is a second job, a second publish a no-op).
    """
    deadline = time.monotonic() + 90
    while True:
        try:
            return client.request(method, path, **kwargs)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{method} {path}: no answer for 90 s"
            time.sleep(0.2)


class Killer(threading.Thread):
    """Runs the round's kills at their moments; keeps any error for the test to raise."""

    def __init__(
        self, cluster: Cluster, plan: list[tuple[float, str]], seed: int, ledger: Ledger
    ) -> None:
        super().__init__(name=f"killer-{seed}", daemon=True)
        self.cluster, self.plan, self.seed, self.ledger = cluster, plan, seed, ledger
        self.rng = random.Random(f"{seed}-kills")
        self.error: BaseException | None = None

    def run(self) -> None:
        began = time.monotonic()
        try:
            for at, target in self.plan:
                time.sleep(max(0.0, began + at - time.monotonic()))
                what = self.cluster.kill(target, self.rng)
                self.ledger.say(self.seed, f"{what} at {at:.2f} s")
        except BaseException as exc:
            self.error = exc


def play_round(
    cluster: Cluster,
    client: httpx.Client,
    headers: dict[str, str],
    weeks: list[dict[str, Any]],
    seed: int,
    ledger: Ledger,
) -> None:
    """A burst of solves, publications and an absence, with kills drawn from ``seed``."""
    rng = random.Random(seed)
    plan = sorted(
        (rng.uniform(*KILL_WINDOW), rng.choice(cluster.targets)) for _ in range(rng.randint(1, 2))
    )
    wants_absence = rng.random() < 0.75
    killer = Killer(cluster, plan, seed, ledger)
    killer.start()
    ids: list[str] = []
    for _ in range(rng.randint(*BURST)):
        week = rng.randrange(len(weeks))
        options = {"time_limit": rng.choice((1, 1.5, 2)), "seed": rng.randrange(1000)}
        response = send(
            client,
            "POST",
            "/v1/rotas",
            json={"problem": weeks[week], "options": options},
            headers=headers,
        )
        assert response.status_code == 202, response.text + ledger.why(seed)
        ids.append(response.json()["id"])
    waiting = set(rng.sample(ids, PUBLISHED_PER_ROUND))
    deadline = time.monotonic() + 90
    while waiting or killer.is_alive():
        for rota_id in sorted(waiting):
            body = send(client, "GET", f"/v1/rotas/{rota_id}", headers=headers).json()
            if body["status"] not in FINAL_STATES:
                continue
            waiting.discard(rota_id)
            if body["status"] != DONE:
                continue
            answer = send(client, "POST", f"/v1/rotas/{rota_id}/publish", headers=headers)
            assert answer.status_code == 200, answer.text + ledger.why(seed)
            ledger.published.append(rota_id)
            if wants_absence:
                wants_absence = False
                record_absence(client, headers, body, rng, seed, ledger)
        assert time.monotonic() < deadline, f"round never ended: {waiting}" + ledger.why(seed)
        time.sleep(0.2)
    killer.join()
    if killer.error is not None:
        raise killer.error


def record_absence(
    client: httpx.Client,
    headers: dict[str, str],
    published: dict[str, Any],
    rng: random.Random,
    seed: int,
    ledger: Ledger,
) -> None:
    """A worker of the rota just published is off on its second day: a re-solve is queued."""
    day = date.fromisoformat(published["period"]["start"]) + timedelta(days=1)
    worker = rng.choice(sorted({w for a in published["rota"]["assignments"] for w in a["workers"]}))
    response = send(
        client,
        "POST",
        "/v1/absences",
        json={
            "worker": worker,
            "start": f"{day}T00:00",
            "end": f"{day}T23:59",
            "reason": "sick",
            "now": f"{day}T06:10",
            "time_limit": 1.5,
        },
        headers=headers,
    )
    assert response.status_code == 202, response.text + ledger.why(seed)
    ledger.say(seed, f"absence of {worker} on {day}")


# ---------------------------------------------------------------------------------------------
# The checks


def settle(db: Database, seed: int, ledger: Ledger) -> None:
    """Wait until every job is final, failing if one sits ``solving`` under a dead owner."""
    host = socket.gethostname()
    deadline = time.monotonic() + SETTLE_SECONDS
    orphaned: dict[str, float] = {}  # job -> when we first saw its owner dead
    while True:
        with db.read() as s:
            active = s.execute(
                select(Job.id, Job.status, Job.owner).where(Job.status.not_in(FINAL_STATES))
            ).all()
        if not active:
            return
        now = time.monotonic()
        for job in active:
            owner_host, _, rest = (job.owner or "").partition(":")
            pid = rest.partition(":")[0]
            if job.status == "solving" and owner_host == host and not alive(int(pid)):
                since = orphaned.setdefault(job.id, now)
                assert now - since < RECOVERY_SECONDS, (
                    f"job {job.id} left solving under its dead owner {job.owner} for "
                    f"{RECOVERY_SECONDS:g} s" + ledger.why(seed)
                )
            else:
                orphaned.pop(job.id, None)
        assert now < deadline, (
            f"jobs still active {SETTLE_SECONDS:g} s after the last restart: "
            f"{[tuple(j) for j in active]}" + ledger.why(seed)
        )
        time.sleep(0.25)


def all_rotas(client: httpx.Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    rotas: list[dict[str, Any]] = []
    url: str | None = "/v1/rotas?limit=200"
    while url is not None:
        page = send(client, "GET", url, headers=headers).json()
        rotas.extend(page["items"])
        url = page["next"]
    return rotas


def verify(
    client: httpx.Client, headers: dict[str, str], db: Database, seed: int, ledger: Ledger
) -> dict[str, int]:
    """Every invariant of the module's docstring; returns the jobs counted by status."""
    why = ledger.why(seed)
    rotas = {r["id"]: r for r in all_rotas(client, headers)}
    with db.read() as s:
        jobs = {j.id: j for j in s.scalars(select(Job))}
        versions = set(s.scalars(select(RotaVersion.id)))
        counted = select(RunSheetRow.version_id, func.count().label("n")).group_by(
            RunSheetRow.version_id
        )
        sheets = {r.version_id: r.n for r in s.execute(counted)}
        stored = select(Job.id, StoredProblem.body).join(
            StoredProblem, StoredProblem.id == Job.problem_id
        )
        problems = {r.id: r.body for r in s.execute(stored)}
        log = s.execute(
            select(Publication.id, Publication.version_id, Publication.period_start).order_by(
                Publication.id
            )
        ).all()
    assert set(rotas) == set(jobs), f"the API and the database list different jobs{why}"

    counts: dict[str, int] = {}
    for rota_id, job in jobs.items():
        counts[job.status] = counts.get(job.status, 0) + 1
        assert job.status in FINAL_STATES, f"{rota_id} is {job.status}{why}"
        if job.status == FAILED:
            assert job.error, f"{rota_id} failed without a reason{why}"
        if job.status == DONE:
            assert rota_id in versions, f"{rota_id} is done without a version{why}"
        if job.status == FAILED:
            assert rota_id not in versions, f"failed {rota_id} has a version{why}"
        if rota_id in versions and rota_id not in ledger.checked:
            problem = Problem.model_validate_json(problems[rota_id])
            verify_version(client, headers, rota_id, problem, sheets.get(rota_id, 0), why)
            ledger.checked.add(rota_id)
    assert versions <= set(jobs), f"versions without a job: {versions - set(jobs)}{why}"

    # Publications: an append-only log. Nothing acknowledged may be missing, and after the
    # client's last publication of a period only re-solves may have published.
    ours = set(ledger.published)
    acknowledged = [row.version_id for row in log if row.version_id in ours]
    assert acknowledged == ledger.published, f"publications lost: {ledger.published}{why}"
    last = {row.period_start: i for i, row in enumerate(log) if row.version_id in ours}
    for i, row in enumerate(log):
        job = jobs[row.version_id]
        assert job.status == DONE, f"published {row.version_id} is {job.status}{why}"
        if i > last.get(row.period_start, -1):
            assert job.kind == RESOLVE, (
                f"{row.version_id} published after the client's last publication{why}"
            )
    current = {row.period_start: row.version_id for row in log}
    for rota_id, rota in rotas.items():
        assert rota["published"] == (rota_id in current.values()), f"{rota_id}{why}"
    return counts


def verify_version(
    client: httpx.Client,
    headers: dict[str, str],
    rota_id: str,
    problem: Problem,
    sheets: int,
    why: str,
) -> None:
    """The version is whole (a run sheet per worker) and its rota, read through the API, keeps
    every hard rule of the problem stored with it."""
    body = send(client, "GET", f"/v1/rotas/{rota_id}", headers=headers).json()
    assert body["rota"] is not None, f"{rota_id} is {body['status']} without its rota{why}"
    verdict = check(problem, Rota.model_validate(body["rota"]))
    assert verdict.ok, f"{rota_id}: the checker found {verdict}{why}"
    assert body["check"]["ok"], f"{rota_id}: its stored check is not ok{why}"
    assert sheets == len(problem.workers), (
        f"{rota_id} has {sheets} run sheets for {len(problem.workers)} workers{why}"
    )
    worker = problem.workers[len(rota_id) % len(problem.workers)].id
    sheet = send(client, "GET", f"/v1/rotas/{rota_id}/workers/{worker}/runsheet", headers=headers)
    assert sheet.status_code == 200, sheet.text + why


def test_kill_9_during_a_burst_loses_nothing(
    cluster: Cluster, weeks: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Rounds of bursts with seeded kills; every invariant holds after each round."""
    backend = "sqlite" if cluster.worker is None else "postgres"
    headers = agency_headers(cluster.settings, "Crash Care")
    db = Database(cluster.settings.database_url)
    ledger = Ledger()
    try:
        with httpx.Client(base_url=cluster.server.url, timeout=15) as client:
            for seed in seeds(backend):
                began = time.monotonic()
                play_round(cluster, client, headers, weeks, seed, ledger)
                settle(db, seed, ledger)
                counts = verify(client, headers, db, seed, ledger)
                with capsys.disabled():
                    print(  # noqa: T201 - each round's summary, shown as the test runs
                        f"\n{backend} seed {seed}: {time.monotonic() - began:.1f} s, {counts}, "
                        + "; ".join(e for e in ledger.events if e.startswith(f"seed {seed}:"))
                    )
    finally:
        db.dispose()


# ---------------------------------------------------------------------------------------------
# Regressions found by the rounds above, each forced deterministically


def celery_settings(postgres: PostgresDatabases, tag: str) -> Settings:
    """Quick settings on a fresh PostgreSQL database and a Celery queue of the test's own."""
    if not reachable(REDIS_URL, 6379):
        unavailable(f"Redis is not reachable at {REDIS_URL}")
    return Settings(
        database_url=postgres.fresh(),
        broker_url=own_broker(),
        celery_queue=f"carerota-{tag}-{os.getpid()}-{random.randrange(1 << 24):06x}",
        **FAST,
    )


def wait_for_log(path: Path, text: str, timeout: float = 60.0) -> None:
    """Wait until ``text`` appears in the log file at ``path``."""
    deadline = time.monotonic() + timeout
    while text not in (path.read_text(errors="replace") if path.exists() else ""):
        assert time.monotonic() < deadline, f"no {text!r} in {path}"
        time.sleep(0.2)


def queue_unsent(settings: Settings, problem: dict[str, Any]) -> str:
    """A job stored as queued whose message was never sent; its id."""
    with TestClient(create_app(settings, runner=HeldRunner())) as client:
        created = client.post(
            "/v1/rotas",
            json={"problem": problem, "options": {"time_limit": 1}},
            headers=agency_headers(settings),
        )
    assert created.status_code == 202, created.text
    rota_id: str = created.json()["id"]
    return rota_id


def wait_final(db: Database, rota_id: str, timeout: float) -> str:
    """The job's status once final, or its status after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with db.read() as s:
            status = s.scalar(select(Job.status).where(Job.id == rota_id))
        assert status is not None
        if status in FINAL_STATES or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_a_pool_process_killed_before_it_claims_its_job_loses_no_message(
    postgres: PostgresDatabases, tmp_path: Path, weeks: list[dict[str, Any]]
) -> None:
    """Regression: Celery acknowledged a task when a pool process took it, so a pool process
    killed before its claim took the job's only message with it and the job stayed queued.

    The test holds a lock on the job's row, so the claim waits, and kills the pool meanwhile.
    No web process runs: only the worker's start sends the job's message, once.
    """
    settings = celery_settings(postgres, "claim")
    rota_id = queue_unsent(settings, weeks[0])
    engine = create_engine(settings.database_url)
    worker = CeleryWorker(settings_env(settings), tmp_path / "worker.log", concurrency=1)
    db = Database(settings.database_url)
    try:
        with engine.connect() as holder, engine.connect() as watcher:
            lock = holder.begin()
            holder.execute(select(Job.id).where(Job.id == rota_id).with_for_update())
            worker.start()
            assert worker.proc is not None
            waiting = text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            deadline = time.monotonic() + 60
            while not watcher.execute(waiting).scalar():
                watcher.rollback()  # statistics are a snapshot per transaction
                assert time.monotonic() < deadline, "the worker never tried to claim the job"
                time.sleep(0.1)
            for pid in child_pids(worker.proc.pid):
                os.kill(pid, signal.SIGKILL)
            lock.rollback()
        assert wait_final(db, rota_id, timeout=30) == DONE
    finally:
        db.dispose()
        worker.stop()
        engine.dispose()
        forget_queue(settings.broker_url, settings.celery_queue)


def killed(pids: list[int]) -> bool:
    """Kill each of ``pids`` still running; whether any was. A process listed a moment ago may
    have ended already (a CI run met one): then the start is tried again."""
    hit = False
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            hit = True
        except ProcessLookupError:
            continue
    return hit


def test_a_pool_process_killed_while_the_worker_starts_does_not_end_the_worker(
    postgres: PostgresDatabases, tmp_path: Path, weeks: list[dict[str, Any]]
) -> None:
    """Regression: a pool process killed before Celery's loop started made Celery give up
    ("Could not start worker processes") and the whole worker exit, so the round's jobs never
    ended. ``carerota worker`` now starts itself again, in place ("starting it again" in its
    log), and runs the job."""
    settings = celery_settings(postgres, "start")
    db = Database(settings.database_url)
    worker: CeleryWorker | None = None
    try:
        # Celery logs "ready" just before it checks its pool started well: the pool must be
        # killed before that. On a busy machine the log can win the race; start again then.
        for attempt in range(5):
            rota_id = queue_unsent(settings, weeks[0])
            log = tmp_path / f"worker{attempt}.log"
            worker = CeleryWorker(settings_env(settings), log, concurrency=1)
            worker.start()
            assert worker.proc is not None
            deadline = time.monotonic() + 120
            while not (pool := child_pids(worker.proc.pid)):
                assert time.monotonic() < deadline, "Celery never started its pool"
                time.sleep(0.005)
            if " ready." not in log.read_text(errors="replace") and killed(pool):
                break
            worker.stop()
        else:
            pytest.fail("Celery was ready before its pool could be killed, five times")
        assert worker.proc is not None
        # Whether Celery notices the death before its loop starts (and gives up, so the worker
        # starts itself again) or after it (and replaces the process) is a race; either way
        # the job must end done under the same, living worker.
        assert wait_final(db, rota_id, timeout=120) == DONE
        assert worker.proc.poll() is None, "the worker did not survive"
    finally:
        db.dispose()
        if worker is not None:
            worker.stop()
        forget_queue(settings.broker_url, settings.celery_queue)


def test_a_job_whose_message_was_lost_is_sent_again(
    postgres: PostgresDatabases, tmp_path: Path, weeks: list[dict[str, Any]]
) -> None:
    """Regression: a job stored as queued whose message never reached the broker (its web
    process killed between the two, or Redis restarted without persistence) waited until some
    process restarted. The reaper of a running web process now sends it again."""
    settings = celery_settings(postgres, "lost")
    worker = CeleryWorker(settings_env(settings), tmp_path / "worker.log", concurrency=1)
    worker.start()
    db = Database(settings.database_url)
    try:
        with TestClient(create_app(settings)) as client:
            wait_ready(client)
            # Readiness is any worker on the broker answering a ping; this one re-sends every
            # queued job as it starts, so it must be up before the unsent job exists.
            wait_for_log(worker.log, " ready.")
            rota_id = queue_unsent(settings, weeks[0])
            status = wait_final(db, rota_id, timeout=settings.heartbeat_timeout + 30)
        assert status == DONE
        # Sent again once it had waited heartbeat_timeout with the broker's queue empty. Timed
        # from the job's own creation: on a busy machine queue_unsent returns seconds after it.
        with db.read() as s:
            job = s.get(Job, rota_id)
            assert job is not None and job.started_at is not None
            waited = (job.started_at - job.created_at).total_seconds()
        assert waited >= settings.heartbeat_timeout
    finally:
        db.dispose()
        worker.stop()
        forget_queue(settings.broker_url, settings.celery_queue)
