"""Soak benchmark of the HTTP service: ``python -m benchmarks.soak --minutes 10``.

It starts a real service on loopback (``carerota serve`` on a fresh SQLite file with its local
solve processes, or with ``--backend postgres`` a fresh PostgreSQL database, Redis and a
``carerota worker`` subprocess), creates ``--agencies`` agencies and solves and publishes a rota
for each, then runs a mixed workload for ``--minutes``:

- ``--readers`` closed-loop readers (think time exponential, mean ``--think`` seconds) that read
  rotas, lists, explanations, run sheets (JSON and HTML), calendars, change lists, absences,
  cover counts and the health endpoints of a random agency;
- a solver that every ``--solve-every`` seconds (mean) submits a small generated agency with a
  2-5 s time limit, follows it over server-sent events, and publishes it;
- an absence-maker that every ``--absence-every`` seconds (mean) records a day's absence of a
  worker of a published rota and polls the re-solve it queues to the end.

Every ``--sample`` seconds it records, for the window and overall: requests by kind,
throughput, p50/p99 latency (as the client saw it, and the service's own Server-Timing),
unexpected answers (anything but the designed status), 429s (counted apart, never as errors),
transport exceptions and timeouts, jobs finished and failed, the resident memory (RSS) of the web
process, of the long-lived solve workers and of the short-lived solve children, the database's
size and the load average. It writes ``OUT.csv`` (the time series), ``OUT.md`` (the summary and
a verdict on memory growth) and ``OUT.png`` (latency and memory over time).

Memory is read from ``/proc`` (Linux), so the benchmark needs no extra dependency.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import random
import re
import secrets
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.api_load import percentile
from tests.harness import (
    ROOT,
    CeleryWorker,
    PostgresDatabases,
    Server,
    forget_queue,
    own_broker,
)

OUT = ROOT / "benchmarks" / "results" / "soak"
PERIOD_START = date(2026, 11, 30)  # the generator's default week
FINAL = ("done", "failed", "cancelled")
READS = (
    "rota",
    "list",
    "explain",
    "runsheet",
    "runsheet_html",
    "calendar",
    "changes",
    "absences",
    "cover_counts",
    "healthz",
    "readyz",
)
READ_WEIGHTS = (3, 2, 2, 3, 1, 2, 1, 1, 1, 1, 1)
# Requests that change something; "events" and "poll" are how the workload follows its jobs.
WRITES = ("submit", "publish", "absence")
FOLLOW = ("events", "poll")
EXPECTED = {"submit": 202, "absence": 202}  # everything else answers 200
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# Measurements


@dataclass(frozen=True)
class Request:
    """One request as the workload saw it."""

    t: float  # seconds since the soak started, at the answer
    kind: str
    seconds: float
    status: int  # 0: no answer (an exception or a timeout)
    server: float | None  # the service's own time (Server-Timing), seconds
    outcome: str  # "ok", "unexpected", "throttled" or "exception"


@dataclass(frozen=True)
class JobEnd:
    t: float
    kind: str  # "solve" or "resolve"
    status: str  # done, failed, cancelled, or "lost" when the workload stopped waiting
    seconds: float  # submission to final status, as the client saw it


@dataclass
class Recorder:
    """Everything measured, in order; windows are slices of these lists."""

    started: float = field(default_factory=time.monotonic)
    requests: list[Request] = field(default_factory=list)
    jobs: list[JobEnd] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # first unexpected answers, for the report
    throttles: Counter[str] = field(default_factory=Counter)

    def now(self) -> float:
        return time.monotonic() - self.started

    def answer(self, kind: str, response: httpx.Response, seconds: float) -> bool:
        """Record an answer; whether it is the designed one."""
        expected = EXPECTED.get(kind, 200)
        timing = response.headers.get("server-timing", "")
        server = (
            float(timing.removeprefix("app;dur=")) / 1000 if timing.startswith("app;dur=") else None
        )
        if response.status_code == expected:
            outcome = "ok"
        elif response.status_code == 429:
            # The queue's 429 (queue_full) is a designed answer; so is a per-key rate limit.
            # Neither is the service failing, so they are counted apart.
            outcome = "throttled"
            self.throttles[f"{kind}: {error_code(response) or '429'}"] += 1
        else:
            outcome = "unexpected"
            self.problem(
                f"{kind} {response.request.url.path}: {response.status_code} {response.text[:200]}"
            )
        self.requests.append(
            Request(self.now(), kind, seconds, response.status_code, server, outcome)
        )
        return outcome == "ok"

    def exception(self, kind: str, exc: BaseException, seconds: float) -> None:
        self.requests.append(Request(self.now(), kind, seconds, 0, None, "exception"))
        self.problem(f"{kind}: {type(exc).__name__}: {exc}")

    def problem(self, message: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(f"{self.now():.0f} s {message}")


def error_code(response: httpx.Response) -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(code)


# ---------------------------------------------------------------------------------------------
# Processes and their memory


def proc_tree() -> dict[int, list[int]]:
    """Children of every process, from ``/proc/<pid>/stat``."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # ended while we looked
        # The command name is in parentheses and may hold spaces: split after the last ')'.
        ppid = int(stat.rpartition(")")[2].split()[1])
        children[ppid].append(int(entry.name))
    return children


def rss(pid: int) -> int:
    """Resident set size in bytes (0 when the process is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


@dataclass(frozen=True)
class Memory:
    """RSS of the service, in MiB, split by how long each kind of process lives."""

    web: float  # the API process
    workers: float  # long-lived: local solve supervisors, or the Celery worker and its pool
    worker_procs: int
    solves: float  # short-lived: the forked children that run CP-SAT
    solve_procs: int
    web_threads: int  # threads and open files of the web process: a pool or a thread that
    web_fds: int  # grows shows here before it shows in memory


def memory(web: int, worker_root: int | None) -> Memory:
    """Sample RSS. Below the web process (local broker) or the Celery worker (its root counts as
    a worker), the first level is the long-lived supervisors, and deeper levels are solves."""
    tree = proc_tree()
    web_rss = rss(web)
    workers: list[int] = []
    solves: list[int] = []
    roots: list[tuple[int, int]] = [(c, 1) for c in tree.get(web, [])]
    if worker_root is not None:
        workers.append(worker_root)
        roots += [(c, 1) for c in tree.get(worker_root, [])]
    stack = roots
    while stack:
        pid, depth = stack.pop()
        (workers if depth == 1 else solves).append(pid)
        stack += [(c, depth + 1) for c in tree.get(pid, [])]
    return Memory(
        web_rss / MIB,
        sum(rss(p) for p in workers) / MIB,
        len(workers),
        sum(rss(p) for p in solves) / MIB,
        len(solves),
        threads(web),
        fds(web),
    )


def threads(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^Threads:\s+(\d+)", status, re.MULTILINE)
    return int(found.group(1)) if found else 0


def fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def generous_limits() -> dict[str, str]:
    """Environment that lifts any per-key rate limit the service has, so the soak measures the
    service rather than its throttle (the settings may or may not exist in this checkout)."""
    from api.settings import Settings

    env = {}
    for name, info in Settings.model_fields.items():
        if not re.search(r"rate|throttle|per_(second|minute|hour)", name):
            continue
        if info.annotation is bool:
            env[f"CAREROTA_{name.upper()}"] = "false"
        elif info.annotation in (int, float, int | None, float | None):
            env[f"CAREROTA_{name.upper()}"] = "1000000"
    return env


class Service:
    """``carerota serve`` (and, on PostgreSQL, ``carerota worker``) in their own process groups."""

    def __init__(self, folder: Path, backend: str, workers: int) -> None:
        self.folder, self.backend = folder, backend
        self.limits = generous_limits()
        env = {
            **os.environ,
            "CAREROTA_LOCAL_WORKERS": str(workers),
            "CAREROTA_SOLVER_THREADS": "1",  # two cores, shared with the load generator
            "CAREROTA_LOG_LEVEL": "warning",
            **self.limits,
        }
        self.databases: PostgresDatabases | None = None
        self.queue: str | None = None
        self.worker: CeleryWorker | None = None
        if backend == "sqlite":
            self.db_file: Path | None = folder / "soak.db"
            env["DATABASE_URL"] = f"sqlite:///{self.db_file}"
        else:
            self.db_file = None
            self.databases = PostgresDatabases(prefix="carerota_soak")
            env["DATABASE_URL"] = self.databases.fresh()
            # A Redis database and queue of our own, so the soak never takes anyone's jobs.
            self.queue = f"carerota-soak-{secrets.token_hex(3)}"
            env["CELERY_BROKER_URL"] = own_broker()
            env["CAREROTA_CELERY_QUEUE"] = self.queue
            self.worker = CeleryWorker(env, folder / "worker.log", concurrency=workers)
        self.env = env
        self.web = Server(env, folder / "serve.log", ready_within=90)
        self.url = self.web.url

    def start(self) -> None:
        # The worker first: on Celery the web process is ready only once a worker answers.
        if self.worker is not None:
            self.worker.start()
        self.web.start()

    def agency(self, name: str) -> dict[str, str]:
        """A new agency (after start: ``serve`` has migrated the database); its auth header."""
        from api.db import Database
        from api.store import create_agency

        db = Database(self.env["DATABASE_URL"])
        try:
            _, key = create_agency(db, name)
        finally:
            db.dispose()
        return {"Authorization": f"Bearer {key}"}

    def memory(self) -> Memory:
        assert self.web.proc is not None
        worker = self.worker.proc if self.worker is not None else None
        return memory(self.web.proc.pid, worker.pid if worker is not None else None)

    def database_mib(self) -> float | None:
        if self.db_file is None:
            return None
        files = [self.db_file, Path(f"{self.db_file}-wal"), Path(f"{self.db_file}-shm")]
        return sum(f.stat().st_size for f in files if f.exists()) / MIB

    def log_errors(self) -> list[str]:
        """ERROR lines and tracebacks in the service's logs."""
        found = []
        for log in sorted(self.folder.glob("*.log")):
            for line in log.read_text(errors="replace").splitlines():
                if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback"):
                    found.append(f"{log.name}: {line[:300]}")
        return found

    def stop(self) -> None:
        self.web.stop(timeout=30)
        if self.worker is not None:
            self.worker.stop(timeout=30)
        if self.databases is not None:
            self.databases.drop_all()
        if self.queue is not None:
            forget_queue(self.env["CELERY_BROKER_URL"], self.queue)


# ---------------------------------------------------------------------------------------------
# The workload


@dataclass
class Agency:
    """What the workload knows of one agency: its key, its rotas and the published one."""

    name: str
    headers: dict[str, str]
    rotas: list[str] = field(default_factory=list)  # finished rotas, newest last
    workers: dict[str, list[str]] = field(default_factory=dict)  # rota -> workers with visits
    repaired: list[str] = field(default_factory=list)  # re-solves (they have change lists)
    published: str | None = None
    # Held while choosing a worker of the published rota and posting the absence, and while
    # publishing, so an absence never names a worker of a rota that was just replaced.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def keep(self, rota_id: str, body: dict[str, Any]) -> None:
        workers = sorted({w for a in body["rota"]["assignments"] for w in a["workers"]})
        self.rotas.append(rota_id)
        self.workers[rota_id] = workers
        if body.get("parent"):
            self.repaired.append(rota_id)
        # Reads go to recent versions; older ones stay in the database but leave the mix, so
        # the load generator's own memory stays flat too.
        for old in self.rotas[:-30]:
            self.workers.pop(old, None)
        self.rotas = self.rotas[-30:]
        self.repaired = self.repaired[-10:]


class Workload:
    def __init__(self, args: argparse.Namespace, url: str, agencies: list[Agency]) -> None:
        self.args, self.agencies = args, agencies
        self.rec = Recorder()
        limits = httpx.Limits(max_connections=args.readers + 8)
        self.client = httpx.AsyncClient(base_url=url, timeout=args.timeout, limits=limits)
        self.until = 0.0
        self.inflight = 0  # jobs submitted and not yet followed to the end

    async def request(
        self, kind: str, method: str, url: str, agency: Agency | None, **kwargs: Any
    ) -> httpx.Response | None:
        """One request, recorded; the response when it was the designed one."""
        headers = agency.headers if agency else {}
        began = time.perf_counter()
        try:
            response = await self.client.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            self.rec.exception(kind, exc, time.perf_counter() - began)
            return None
        ok = self.rec.answer(kind, response, time.perf_counter() - began)
        return response if ok else None

    # Readers ------------------------------------------------------------------------------

    async def reader(self, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(0, self.args.think))  # readers do not start in step
        while time.monotonic() < self.until:
            await self.read_one(rng)
            await asyncio.sleep(rng.expovariate(1 / self.args.think))

    async def read_one(self, rng: random.Random) -> None:
        agency = rng.choice(self.agencies)
        kind = rng.choices(READS, weights=READ_WEIGHTS)[0]
        if not agency.rotas and kind not in ("list", "absences", "healthz", "readyz"):
            kind = "list"
        rota_id = rng.choice(agency.rotas) if agency.rotas else ""
        if kind == "changes":
            if not agency.repaired:
                kind = "explain"
            else:
                rota_id = rng.choice(agency.repaired)
        rota = f"/v1/rotas/{rota_id}"
        workers = agency.workers.get(rota_id) or ["w000"]
        sheet = f"{rota}/workers/{rng.choice(workers)}"
        url = {
            "rota": rota,
            "list": "/v1/rotas?limit=20",
            "explain": f"{rota}/explain",
            "runsheet": f"{sheet}/runsheet",
            "runsheet_html": f"{sheet}/runsheet?format=html",
            "calendar": f"{sheet}/calendar.ics",
            "changes": f"{rota}/changes",
            "absences": "/v1/absences",
            "cover_counts": "/v1/cover-counts?month=2026-12",
            "healthz": "/healthz",
            "readyz": "/readyz",
        }[kind]
        await self.request(kind, "GET", url, None if kind.endswith("z") else agency)

    # Solves -------------------------------------------------------------------------------

    async def solver(self) -> None:
        # Its own generator, so the schedule of solves does not depend on the other tasks.
        rng = random.Random(self.args.seed * 10 + 1)
        while time.monotonic() < self.until:
            await asyncio.sleep(rng.expovariate(1 / self.args.solve_every))
            if time.monotonic() >= self.until:
                return
            await self.solve_and_publish(rng.choice(self.agencies), rng)

    async def solve_and_publish(self, agency: Agency, rng: random.Random) -> None:
        from scenarios.generator import generate

        problem = generate(rng.randint(*self.args.clients), rng.randrange(1_000_000))
        low, high = self.args.time_limits
        options = {"time_limit": round(rng.uniform(low, high), 1), "seed": rng.randrange(100)}
        began = time.monotonic()
        created = await self.request(
            "submit", "POST", "/v1/rotas", agency, json={"problem": problem, "options": options}
        )
        if created is None:
            return
        rota_id = created.json()["id"]
        self.inflight += 1
        try:
            body = await self.follow_events(agency, rota_id)
        finally:
            self.inflight -= 1
        self.job_end("solve", body, began)
        if body is None or body["status"] != "done":
            return
        async with agency.lock:
            if await self.request("publish", "POST", f"/v1/rotas/{rota_id}/publish", agency):
                agency.published = rota_id
        agency.keep(rota_id, body)

    async def follow_events(self, agency: Agency, rota_id: str) -> dict[str, Any] | None:
        """Follow the job's server-sent events to its final status; its last summary."""
        began = time.perf_counter()
        last: dict[str, Any] | None = None
        try:
            async with self.client.stream(
                "GET", f"/v1/rotas/{rota_id}/events", headers=agency.headers
            ) as response:
                # An event stream's latency is the time to its headers; its length is the job's.
                if not self.rec.answer("events", response, time.perf_counter() - began):
                    return None
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        last = json.loads(line.removeprefix("data: "))
                        if last["status"] in FINAL:
                            break
        except httpx.HTTPError as exc:
            self.rec.exception("events", exc, time.perf_counter() - began)
            return None
        if last is None or last["status"] != "done":
            return last
        # The final event is a summary; the rota itself comes with the rota resource.
        full = await self.request("poll", "GET", f"/v1/rotas/{rota_id}", agency)
        return full.json() if full else None

    # Absences -----------------------------------------------------------------------------

    async def absences(self) -> None:
        rng = random.Random(self.args.seed * 10 + 2)
        while time.monotonic() < self.until:
            await asyncio.sleep(rng.expovariate(1 / self.args.absence_every))
            if time.monotonic() >= self.until:
                return
            published = [a for a in self.agencies if a.published]
            if published:
                await self.absence(rng.choice(published), rng)

    async def absence(self, agency: Agency, rng: random.Random) -> None:
        day = (PERIOD_START + timedelta(days=rng.randrange(7))).isoformat()
        began = time.monotonic()
        async with agency.lock:
            workers = agency.workers.get(agency.published or "")
            if not workers:
                return
            body = {
                "worker": rng.choice(workers),
                "start": f"{day}T00:00",
                "end": f"{day}T23:59",
                "reason": "sick",
                "now": f"{day}T06:10",
                "time_limit": round(rng.uniform(*self.args.time_limits), 1),
            }
            created = await self.request("absence", "POST", "/v1/absences", agency, json=body)
        if created is None:
            return
        for job in created.json()["resolves"]:
            self.inflight += 1
            try:
                final = await self.poll(agency, job["id"])
            finally:
                self.inflight -= 1
            self.job_end("resolve", final, began)
            if final is not None and final["status"] == "done":
                if final.get("published"):
                    agency.published = job["id"]
                agency.keep(job["id"], final)

    async def poll(self, agency: Agency, rota_id: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.args.job_timeout
        while time.monotonic() < deadline:
            response = await self.request("poll", "GET", f"/v1/rotas/{rota_id}", agency)
            if response is not None:
                body: dict[str, Any] = response.json()
                if body["status"] in FINAL:
                    return body
            await asyncio.sleep(0.5)
        self.rec.problem(f"{rota_id} not finished after {self.args.job_timeout:g} s")
        return None

    def job_end(self, kind: str, body: dict[str, Any] | None, began: float) -> None:
        status = body["status"] if body else "lost"
        if status != "done":
            self.rec.problem(f"{kind} ended {status}: {(body or {}).get('error')}")
        self.rec.jobs.append(JobEnd(self.rec.now(), kind, status, time.monotonic() - began))


# ---------------------------------------------------------------------------------------------
# Sampling


def ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000 if values else float("nan")


def cell(value: float) -> str:
    """A table cell: one decimal, or a dash where there was nothing to measure."""
    return "-" if value != value else f"{value:.1f}"  # NaN is the only value not equal to itself


def sample_row(
    rec: Recorder, since: float, t: float, mem: Memory, db_mib: float | None, client_mib: float
) -> dict[str, Any]:
    """One time-series row: the window ``(since, t]`` and the totals so far."""
    window = [r for r in rec.requests if since < r.t <= t]
    reads = [r for r in window if r.kind in READS]
    writes = [r for r in window if r.kind in WRITES]
    jobs = [j for j in rec.jobs if j.t <= t]
    span = max(t - since, 1e-9)
    row: dict[str, Any] = {
        "t_s": round(t, 1),
        "requests": len(window),
        "req_per_s": round(len(window) / span, 2),
        "read_p50_ms": round(ms([r.seconds for r in reads], 50), 1),
        "read_p99_ms": round(ms([r.seconds for r in reads], 99), 1),
        "read_server_p99_ms": round(ms([r.server for r in reads if r.server is not None], 99), 1),
        "write_p50_ms": round(ms([r.seconds for r in writes], 50), 1),
        "write_p99_ms": round(ms([r.seconds for r in writes], 99), 1),
        "unexpected": sum(r.outcome == "unexpected" for r in window),
        "exceptions": sum(r.outcome == "exception" for r in window),
        "throttled_429": sum(r.outcome == "throttled" for r in window),
        "jobs_done": sum(j.status == "done" for j in jobs),
        "jobs_failed": sum(j.status != "done" for j in jobs),
        "web_rss_mib": round(mem.web, 1),
        "workers_rss_mib": round(mem.workers, 1),
        "worker_procs": mem.worker_procs,
        "solves_rss_mib": round(mem.solves, 1),
        "solve_procs": mem.solve_procs,
        "web_threads": mem.web_threads,
        "web_fds": mem.web_fds,
        "client_rss_mib": round(client_mib, 1),
        "db_mib": round(db_mib, 2) if db_mib is not None else "",
        "load1": round(os.getloadavg()[0], 2),
    }
    counts = Counter(r.kind for r in window)
    for kind in (*READS, *WRITES, *FOLLOW):
        row[f"n_{kind}"] = counts[kind]
    return row


async def sampler(
    workload: Workload, service: Service, rows: list[dict[str, Any]], every: float
) -> None:
    rec = workload.rec
    since = 0.0
    while True:
        t = rec.now()
        rows.append(
            sample_row(
                rec, since, t, service.memory(), service.database_mib(), rss(os.getpid()) / MIB
            )
        )
        since = t
        if time.monotonic() >= workload.until and workload.inflight == 0:
            return
        await asyncio.sleep(every)


async def soak(
    args: argparse.Namespace, service: Service, agencies: list[Agency]
) -> tuple[Workload, list[dict[str, Any]]]:
    workload = Workload(args, service.url, agencies)
    rows: list[dict[str, Any]] = []
    async with workload.client:
        # Every agency starts with a published rota, so reads and absences have something.
        setup = random.Random(args.seed + 1)
        await asyncio.gather(*(workload.solve_and_publish(a, setup) for a in agencies))
        workload.rec = Recorder()  # the soak's clock and counts start after the set-up
        workload.until = time.monotonic() + args.minutes * 60
        rngs = [random.Random(args.seed * 1000 + i) for i in range(args.readers)]
        await asyncio.gather(
            sampler(workload, service, rows, args.sample),
            workload.solver(),
            workload.absences(),
            *(workload.reader(r) for r in rngs),
        )
    return workload, rows


# ---------------------------------------------------------------------------------------------
# The report


def slope_per_hour(ts: list[float], ys: list[float]) -> float:
    """Least-squares slope of ``ys`` over ``ts`` (seconds), per hour."""
    n = len(ts)
    if n < 2:
        return float("nan")
    mt, my = sum(ts) / n, sum(ys) / n
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0:
        return float("nan")
    return sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var * 3600


@dataclass(frozen=True)
class Growth:
    """How one memory series moved over the soak."""

    name: str
    start: float
    end: float
    peak: float
    middle: float  # mean over the second third of the samples
    last: float  # mean over the last third
    slope: float  # MiB/hour, fitted over the last two thirds (after warm-up)

    @property
    def bounded(self) -> bool:
        # A resident set moves by a few MiB as the allocator and caches settle; growth between
        # the middle and last thirds beyond 2 MiB and 2% is what a leak looks like in 10 min.
        return self.last - self.middle <= max(2.0, 0.02 * self.middle)


def growth(name: str, rows: list[dict[str, Any]], column: str) -> Growth:
    ys = [float(r[column]) for r in rows]
    ts = [float(r["t_s"]) for r in rows]
    third = max(1, len(rows) // 3)
    middle, last = ys[third : 2 * third] or ys, ys[-third:]
    return Growth(
        name,
        ys[0],
        ys[-1],
        max(ys),
        sum(middle) / len(middle),
        sum(last) / len(last),
        slope_per_hour(ts[third:], ys[third:]),
    )


def command(args: argparse.Namespace) -> str:
    parts = ["python -m benchmarks.soak", f"--minutes {args.minutes:g}"]
    if args.backend != "sqlite":
        parts.append(f"--backend {args.backend}")
    defaults = build_parser().parse_args([])
    for name in (
        "agencies",
        "readers",
        "think",
        "solve_every",
        "absence_every",
        "sample",
        "workers",
    ):
        if getattr(args, name) != getattr(defaults, name):
            parts.append(f"--{name.replace('_', '-')} {getattr(args, name):g}")
    for name in ("clients", "time_limits"):
        if tuple(getattr(args, name)) != tuple(getattr(defaults, name)):
            low, high = getattr(args, name)
            parts.append(f"--{name.replace('_', '-')} {low:g} {high:g}")
    if args.out != OUT:
        parts.append(f"--out {args.out}")
    return " ".join(parts)


def report(
    args: argparse.Namespace,
    workload: Workload,
    rows: list[dict[str, Any]],
    service: Service,
    log_errors: list[str],
    cpu: float,
    when: datetime,
) -> str:
    rec = workload.rec
    elapsed = rows[-1]["t_s"] if rows else 0.0
    loads = [float(r["load1"]) for r in rows]
    lines = [
        f"# Soak benchmark ({args.backend})",
        "",
        f"Run {when:%Y-%m-%d %H:%M} UTC on {platform.machine()} ({os.cpu_count()} cores, "
        f"shared with other jobs: load average {min(loads):.1f} to {max(loads):.1f}, mean "
        f"{sum(loads) / len(loads):.1f}; {platform.python_implementation()} "
        f"{platform.python_version()}): `{command(args)}`.",
        "",
        "One `carerota serve` process on "
        + (
            f"SQLite with {args.workers} local solve process(es)"
            if args.backend == "sqlite"
            else f"PostgreSQL with a Celery worker (concurrency {args.workers}) on Redis"
        )
        + f", one CP-SAT thread per solve; {args.agencies} agencies, each with a solved and "
        f"published rota before the clock starts. For {args.minutes:g} min: {args.readers} "
        f"readers (think time {args.think:g} s mean), a solve every {args.solve_every:g} s "
        f"(mean; generated agencies of {args.clients[0]}-{args.clients[1]} clients, time limit "
        f"{args.time_limits[0]:g}-{args.time_limits[1]:g} s; followed over server-sent events, "
        f"then published) and an absence every {args.absence_every:g} s (mean; a day of a "
        "worker of a published rota; its re-solve polled to the end). Latency is as the client "
        "saw it (the load generator shares the cores); 'service' is the service's Server-Timing. "
        f"The load generator used {cpu:.0f} s of CPU ({cpu / max(elapsed, 1):.0%} of a core)."
        + (f" Rate limits lifted: {service.limits}." if service.limits else ""),
        "",
        "## Requests",
        "",
        "| request | count | per s | p50 ms | p99 ms | service p50 ms | service p99 ms "
        "| statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]

    def row(kind: str, reqs: list[Request]) -> str:
        seconds = [r.seconds for r in reqs]
        server = [r.server for r in reqs if r.server is not None]
        codes = Counter(r.status for r in reqs)
        statuses = ", ".join(f"{code or 'exception'}: {n}" for code, n in sorted(codes.items()))
        return (
            f"| {kind} | {len(reqs)} | {len(reqs) / max(elapsed, 1e-9):.1f} | "
            f"{cell(ms(seconds, 50))} | {cell(ms(seconds, 99))} | {cell(ms(server, 50))} | "
            f"{cell(ms(server, 99))} | {statuses} |"
        )

    by_kind: dict[str, list[Request]] = defaultdict(list)
    for r in rec.requests:
        by_kind[r.kind].append(r)
    for kind in (*READS, *WRITES, *FOLLOW):
        if by_kind[kind]:
            lines.append(row(kind, by_kind[kind]))
    reads = [r for r in rec.requests if r.kind in READS]
    lines.append(row("**all reads**", reads))
    # /readyz asks the workers whether they are up (with Celery, a broadcast that waits for
    # replies), so it is a probe's cost rather than a read's: the reads are shown without it too.
    lines.append(row("**all reads but readyz**", [r for r in reads if r.kind != "readyz"]))
    lines.append(row("**all**", rec.requests))
    unexpected = sum(r.outcome == "unexpected" for r in rec.requests)
    exceptions = sum(r.outcome == "exception" for r in rec.requests)
    throttled = sum(r.outcome == "throttled" for r in rec.requests)
    done = Counter((j.kind, j.status) for j in rec.jobs)
    lines += [
        "",
        "`events` is the time to the stream's headers; `poll` is following a re-solve.",
        "",
        "## Jobs",
        "",
        "| job | done | failed | cancelled | lost | wall time p50 s | max s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("solve", "resolve"):
        walls = [j.seconds for j in rec.jobs if j.kind == kind]
        lines.append(
            f"| {kind} | {done[kind, 'done']} | {done[kind, 'failed']} | "
            f"{done[kind, 'cancelled']} | {done[kind, 'lost']} | "
            f"{cell(percentile(walls, 50))} | {cell(max(walls, default=float('nan')))} |"
        )
    failed_jobs = sum(j.status != "done" for j in rec.jobs)
    lines += [
        "",
        "Wall time runs from the submission (or the absence) to the final status, queueing "
        "included.",
        "",
        "## Errors",
        "",
        f"**{unexpected} unexpected answers, {exceptions} exceptions or timeouts, "
        f"{failed_jobs} jobs not done**; {throttled} answers were 429"
        + (f" ({dict(rec.throttles)})" if throttled else "")
        + f"; {len(log_errors)} ERROR lines or tracebacks in the service's logs.",
    ]
    lines += [f"- {p}" for p in rec.problems[:20]]
    lines += [f"- log: {e}" for e in log_errors[:20]]
    series = [
        growth("web process", rows, "web_rss_mib"),
        growth(
            f"solve workers ({rows[-1]['worker_procs']} processes: "
            + (
                "supervisors and multiprocessing's resource tracker)"
                if args.backend == "sqlite"
                else "the Celery worker and its pool)"
            ),
            rows,
            "workers_rss_mib",
        ),
    ]
    lines += [
        "",
        "## Memory (RSS, MiB)",
        "",
        "| process | start | end | peak | mean, 2nd third | mean, last third | slope MiB/h "
        "(last two thirds) | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for g in series:
        lines.append(
            f"| {g.name} | {g.start:.1f} | {g.end:.1f} | {g.peak:.1f} | {g.middle:.1f} | "
            f"{g.last:.1f} | {g.slope:+.1f} | {'flat' if g.bounded else '**growing**'} |"
        )
    solves = [float(r["solves_rss_mib"]) for r in rows]
    db = [r["db_mib"] for r in rows if r["db_mib"] != ""]
    lines += [
        "",
        f"Solve children (forked per job, gone when it ends): up to {max(solves):.0f} MiB in a "
        "sample. "
        + (
            f"The SQLite file (with its WAL) grew {db[0]:.1f} → {db[-1]:.1f} MiB (kept data). "
            if db
            else ""
        )
        + f"The web process had {rows[0]['web_threads']} → {rows[-1]['web_threads']} threads "
        f"and {rows[0]['web_fds']} → {rows[-1]['web_fds']} open files (sockets and database "
        "connections included). "
        f"The load generator: {rows[0]['client_rss_mib']:.0f} → "
        f"{rows[-1]['client_rss_mib']:.0f} MiB.",
        "",
        "**Verdict:** " + verdict(series, elapsed),
        "",
        "## Over time",
        "",
        "| t s | req/s | read p50 ms | read p99 ms | write p99 ms | unexpected | 429 | jobs "
        "done | web MiB | workers MiB | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w in rows[1:]:
        lines.append(
            f"| {w['t_s']:.0f} | {w['req_per_s']:.1f} | {cell(w['read_p50_ms'])} | "
            f"{cell(w['read_p99_ms'])} | {cell(w['write_p99_ms'])} | "
            f"{w['unexpected'] + w['exceptions']} | {w['throttled_429']} | {w['jobs_done']} | "
            f"{w['web_rss_mib']:.1f} | {w['workers_rss_mib']:.1f} | {w['load1']:.1f} |"
        )
    lines += ["", f"Time series: `{args.out.name}.csv`; chart: `{args.out.name}.png`.", ""]
    return "\n".join(lines)


def verdict(series: list[Growth], elapsed: float) -> str:
    growing = [g for g in series if not g.bounded]
    span = f"{elapsed / 60:.0f} minutes"
    if not growing:
        return (
            f"no sign of unbounded growth over {span}: the last third's mean RSS is within 2 MiB "
            "(or 2%) of the second third's for the web process and the solve workers ("
            + "; ".join(f"{g.name.split(' (')[0]} {g.last - g.middle:+.1f} MiB" for g in series)
            + "). A soak this short shows the trend, not a proof."
        )
    return (
        "memory grew: "
        + "; ".join(
            f"{g.name} {g.middle:.1f} → {g.last:.1f} MiB between the second and last thirds, "
            f"{g.slope:+.1f} MiB/h"
            for g in growing
        )
        + f" over {span}."
    )


def chart(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = [r["t_s"] / 60 for r in rows[1:]]
    fig, (lat, mem) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    for column, label in (
        ("read_p50_ms", "reads p50"),
        ("read_p99_ms", "reads p99"),
        ("write_p99_ms", "writes p99"),
    ):
        lat.plot(ts, [r[column] for r in rows[1:]], marker=".", label=label)
    lat.set_yscale("log")
    lat.set_ylabel("latency per window (ms, log)")
    lat.legend(loc="upper left", fontsize=8)
    lat.set_title(title, fontsize=10)
    load = lat.twinx()
    load.plot(ts, [r["load1"] for r in rows[1:]], color="grey", alpha=0.4, label="load average")
    load.set_ylabel("load average (1 min)", color="grey")
    all_ts = [r["t_s"] / 60 for r in rows]
    for column, label in (("web_rss_mib", "web process"), ("workers_rss_mib", "solve workers")):
        mem.plot(all_ts, [r[column] for r in rows], marker=".", label=label)
    # Solve children live a few seconds: points where a sample caught one, not a line.
    caught = [
        (t, r["solves_rss_mib"]) for t, r in zip(all_ts, rows, strict=True) if r["solve_procs"]
    ]
    mem.plot(
        [t for t, _ in caught],
        [m for _, m in caught],
        "x",
        color="tab:green",
        label="a running solve's child (when a sample caught one)",
    )
    mem.set_ylabel("RSS (MiB)")
    mem.set_xlabel("minutes")
    mem.set_ylim(bottom=0)
    mem.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--out", type=Path, default=OUT, help="path of the outputs, no suffix")
    parser.add_argument("--agencies", type=int, default=3)
    parser.add_argument("--readers", type=int, default=6, help="concurrent readers")
    parser.add_argument("--think", type=float, default=0.2, help="readers' mean think time, s")
    parser.add_argument("--solve-every", type=float, default=15.0, help="mean seconds")
    parser.add_argument("--absence-every", type=float, default=20.0, help="mean seconds")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--workers", type=int, default=1, help="solve processes / concurrency")
    parser.add_argument("--clients", type=int, nargs=2, default=(3, 8), metavar=("MIN", "MAX"))
    parser.add_argument(
        "--time-limits", type=float, nargs=2, default=(2.0, 5.0), metavar=("MIN", "MAX")
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--job-timeout", type=float, default=180.0, help="per job, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-chart", action="store_true")
    return parser


def output(out: Path, suffix: str) -> Path:
    # Not ``with_suffix``: ``--out results/soak.postgres`` must give ``soak.postgres.csv``.
    return out.parent / f"{out.name}{suffix}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    when = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="carerota-soak-") as tmp:
        service = Service(Path(tmp), args.backend, args.workers)
        try:
            service.start()
            agencies = [
                Agency(name, service.agency(name))
                for name in (f"Soak Homecare {i + 1}" for i in range(args.agencies))
            ]
            cpu = time.process_time()
            workload, rows = asyncio.run(soak(args, service, agencies))
            cpu = time.process_time() - cpu
            log_errors = service.log_errors()
        finally:
            service.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with output(args.out, ".csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    text = report(args, workload, rows, service, log_errors, cpu, when)
    output(args.out, ".md").write_text(text, encoding="utf-8")
    if not args.no_chart:
        chart(rows, output(args.out, ".png"), f"soak, {args.backend}, {when:%Y-%m-%d}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
