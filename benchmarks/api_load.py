"""Load benchmark of the HTTP service (not a unit test): ``python benchmarks/api_load.py``.

It starts ``carerota serve`` on 127.0.0.1 (loopback only) with a fresh SQLite database, solves
the bundled sample agency (``scenarios/small.json``, 685 visits) to seed a rota, then runs
phases of ``--clients`` concurrent clients reading that rota, run sheets (JSON, HTML, through a
carer's link) and calendars for ``--duration`` seconds, some with a burst of solve submissions a
third of the way in against a queue of ``--queue`` places. It reports p50/p99 latency and
throughput per kind of request and counts every answer that is not the designed one (200 for
reads; 202, or 429 once the queue is full, for submissions), and writes the report to
``benchmarks/results/api_load.md``.

Each client is closed-loop with a think time between requests (mean of an exponential).
``--phases`` lists the phases as ``think:burst`` (default ``0.5:0,0.5:30,0:30``: reads only;
reads with a burst of 30 submissions; flat out with the burst). Flat out, latency is mostly the
queue in front of one web process (clients / throughput). Latency is measured twice: by the
client, and by the service itself (its ``Server-Timing`` header), since the load generator
shares the machine's cores with the service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.harness import ROOT, Server, create_agency_key

RESULTS = ROOT / "benchmarks" / "results" / "api_load.md"
READS = ("rota", "list", "runsheet", "runsheet_carer", "runsheet_html", "calendar")


@dataclass
class Samples:
    """Latencies (seconds) and status counts per kind of request."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    status: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, kind: str, response: httpx.Response, seconds: float) -> None:
        self.latency[kind].append(seconds)
        self.status[kind][response.status_code] += 1
        timing = response.headers.get("server-timing", "")
        if timing.startswith("app;dur="):
            self.server[kind].append(float(timing.removeprefix("app;dur=")) / 1000)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def service_env(folder: Path, queue: int) -> dict[str, str]:
    """``carerota serve`` on a fresh SQLite file in ``folder``, one solve at a time."""
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder}/bench.db",
        "CAREROTA_MAX_QUEUED_JOBS": str(queue),
        "CAREROTA_LOCAL_WORKERS": "1",
        "CAREROTA_SOLVER_THREADS": "1",
        "CAREROTA_LOG_LEVEL": "warning",
        # Fifty readers share one key here: the benchmark measures the service, not its
        # per-key rate limits.
        "CAREROTA_RATE_LIMIT_PER_MINUTE": "0",
        "CAREROTA_JOB_RATE_LIMIT_PER_MINUTE": "0",
    }


@dataclass(frozen=True)
class Seed:
    rota_id: str
    workers: list[str]
    links: dict[str, str]  # worker -> carer token
    solve_seconds: float


def seed(url: str, headers: dict[str, str], problem: dict[str, Any], time_limit: float) -> Seed:
    """Solve ``problem`` through the API and make carer links for its busiest workers."""
    started = time.monotonic()
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        created = client.post(
            "/v1/rotas", json={"problem": problem, "options": {"time_limit": time_limit}}
        )
        created.raise_for_status()
        rota_id = created.json()["id"]
        while True:
            body = client.get(f"/v1/rotas/{rota_id}").json()
            if body["status"] in ("done", "failed", "cancelled"):
                break
            time.sleep(0.5)
        if body["status"] != "done" or not body["check"]["ok"]:
            raise RuntimeError(f"seed solve ended {body['status']}: {body.get('error')}")
        stops: dict[str, int] = defaultdict(int)
        for route in body["rota"]["routes"]:
            stops[route["worker"]] += len(route["stops"])
        workers = sorted(stops, key=lambda w: -stops[w])[:10]
        links = {
            w: client.post(f"/v1/rotas/{rota_id}/workers/{w}/links").json()["token"]
            for w in workers
        }
    return Seed(rota_id, workers, links, time.monotonic() - started)


async def reader(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    s: Seed,
    samples: Samples,
    measure_from: float,
    until: float,
    think: float,
    rng: random.Random,
) -> None:
    rota = f"/v1/rotas/{s.rota_id}"
    # Users do not all click at the same instant.
    await asyncio.sleep(rng.uniform(0, think))
    while time.monotonic() < until:
        kind = rng.choices(READS, weights=(3, 1, 4, 3, 1, 1))[0]
        worker = rng.choice(s.workers)
        sheet = f"{rota}/workers/{worker}"
        request_headers = headers
        if kind == "rota":
            url = rota
        elif kind == "list":
            url = "/v1/rotas?limit=20"
        elif kind == "runsheet":
            url = f"{sheet}/runsheet"
        elif kind == "runsheet_carer":
            url, request_headers = f"{sheet}/runsheet?token={s.links[worker]}", {}
        elif kind == "runsheet_html":
            url = f"{sheet}/runsheet?format=html"
        else:
            url = f"{sheet}/calendar.ics"
        began = time.perf_counter()
        try:
            response = await client.get(url, headers=request_headers)
            await response.aread()
            if time.monotonic() >= measure_from:  # the warm-up is not measured
                samples.add(kind, response, time.perf_counter() - began)
        except httpx.HTTPError as exc:
            samples.failures[f"{kind}: {type(exc).__name__}"] += 1
        if think > 0:
            await asyncio.sleep(rng.expovariate(1 / think))


async def burst(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    body: bytes,
    count: int,
    samples: Samples,
    at: float,
) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))

    async def one() -> None:
        began = time.perf_counter()
        try:
            response = await client.post(
                "/v1/rotas",
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            )
            samples.add("submit", response, time.perf_counter() - began)
        except httpx.HTTPError as exc:
            samples.failures[f"submit: {type(exc).__name__}"] += 1

    await asyncio.gather(*(one() for _ in range(count)))


async def load(
    url: str,
    key: str,
    s: Seed,
    submission: bytes,
    args: argparse.Namespace,
    think: float,
    burst_size: int,
) -> tuple[Samples, float]:
    headers = {"Authorization": f"Bearer {key}"}
    samples = Samples()
    limits = httpx.Limits(max_connections=args.clients + burst_size)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        started = time.monotonic() + args.warmup
        until = started + args.duration
        tasks = [
            reader(client, headers, s, samples, started, until, think, random.Random(i))
            for i in range(args.clients)
        ]
        tasks.append(
            burst(client, headers, submission, burst_size, samples, started + args.duration / 3)
        )
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
    return samples, elapsed


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.1f}" if values else "-"


def phase_report(
    samples: Samples, elapsed: float, think: float, burst_size: int, cpu: float
) -> list[str]:
    """One phase's table and totals, in Markdown."""

    def row(kind: str, values: list[float], server: list[float], statuses: dict[int, int]) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
        return (
            f"| {kind} | {len(values)} | {len(values) / elapsed:.1f} | {ms(values, 50)} | "
            f"{ms(values, 99)} | {ms(server, 50)} | {ms(server, 99)} | {codes} |"
        )

    reads = [v for k in READS for v in samples.latency[k]]
    served = [v for k in READS for v in samples.server[k]]
    read_status: dict[int, int] = defaultdict(int)
    for k in READS:
        for code, n in samples.status[k].items():
            read_status[code] += n
    unexpected_reads = sum(n for code, n in read_status.items() if code != 200)
    submits = samples.status["submit"]
    unexpected_submits = sum(n for code, n in submits.items() if code not in (202, 429))
    transport = sum(samples.failures.values())
    title = "flat out (no think time)" if think == 0 else f"think time {think:g} s"
    title += f", burst of {burst_size} submissions" if burst_size else ", reads only"
    lines = [
        f"## {title}",
        "",
        "| request | count | per s | p50 ms | p99 ms | service p50 ms | service p99 ms "
        "| statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind in READS:
        lines.append(row(kind, samples.latency[kind], samples.server[kind], samples.status[kind]))
    lines.append(row("**all reads**", reads, served, read_status))
    if samples.latency["submit"]:
        lines.append(
            row("submit (burst)", samples.latency["submit"], samples.server["submit"], submits)
        )
    lines += [
        "",
        f"Reads: {len(reads)} in {elapsed:.1f} s = **{len(reads) / elapsed:.0f} requests/s**; "
        f"as the clients saw them p50 **{ms(reads, 50)} ms**, p99 **{ms(reads, 99)} ms**; "
        f"inside the service p50 {ms(served, 50)} ms, p99 {ms(served, 99)} ms. "
        f"The load generator used {cpu:.1f} s of CPU ({cpu / elapsed:.0%} of a core).",
        f"Errors other than the designed 429s: {unexpected_reads} reads, {unexpected_submits} "
        f"submissions, {transport} transport errors"
        + (f" ({dict(samples.failures)})" if transport else "")
        + f". Burst: {submits.get(202, 0)} accepted (202), {submits.get(429, 0)} refused "
        "with 429 and Retry-After.",
        "",
    ]
    return lines


def header(s: Seed, args: argparse.Namespace) -> list[str]:
    return [
        "# API load benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} "
        f"({os.cpu_count()} cores, load average before the run {os.getloadavg()[0]:.1f}; "
        f"{platform.python_implementation()} {platform.python_version()}): "
        f"`python benchmarks/api_load.py --clients {args.clients} --duration {args.duration:g} "
        f"--warmup {args.warmup:g} --phases {args.phases} --queue {args.queue}`.",
        "",
        "One `carerota serve` process (SQLite, one local solve process, one CP-SAT thread) and "
        "the load generator (httpx, asyncio) share the machine over loopback. The seeded rota "
        f"is `scenarios/small.json` (685 visits), solved through the API in "
        f"{s.solve_seconds:.1f} s; reads pick one of its ten busiest carers at random, weighted "
        "rota 3 : list 1 : run sheet 4 : run sheet by carer link 3 : HTML 1 : calendar 1. "
        f"In each phase {args.clients} clients read for {args.warmup:g} s of warm-up (not "
        f"measured) and then {args.duration:g} s, and "
        "in burst phases that many submissions of the same agency (2 s solves) arrive at once "
        f"after {args.duration / 3:.0f} s against a queue of {args.queue} places, so reads "
        "share the machine with running solves. 'service' columns are the service's own time "
        "(its Server-Timing header); the others include the load generator's queueing.",
        "",
    ]


def drain(url: str, key: str, timeout: float = 180.0) -> None:
    """Wait until no job is queued or solving, so phases do not overlap."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        while time.monotonic() < deadline:
            busy = [
                r
                for status in ("queued", "solving")
                for r in client.get(f"/v1/rotas?status={status}").json()["items"]
            ]
            if not busy:
                return
            time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument(
        "--phases",
        default="0.5:0,0.5:30,0:30",
        help="comma list of THINK:BURST (mean think time in seconds, submissions in the burst)",
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of load before measuring, per phase"
    )
    parser.add_argument("--queue", type=int, default=10, help="the service's job queue places")
    parser.add_argument("--seed-time-limit", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    problem = json.loads((ROOT / "scenarios" / "small.json").read_text(encoding="utf-8"))
    submission = json.dumps({"problem": problem, "options": {"time_limit": 2}}).encode()
    with tempfile.TemporaryDirectory(prefix="carerota-load-") as tmp:
        env = service_env(Path(tmp), args.queue)
        key = create_agency_key(env, "Benchmark Homecare")
        server = Server(env, Path(tmp) / "serve.log")
        try:
            server.start()
            seeded = seed(
                server.url, {"Authorization": f"Bearer {key}"}, problem, args.seed_time_limit
            )
            lines = header(seeded, args)
            for phase in args.phases.split(","):
                think, burst_size = float(phase.split(":")[0]), int(phase.split(":")[1])
                drain(server.url, key)
                cpu = time.process_time()
                samples, elapsed = asyncio.run(
                    load(server.url, key, seeded, submission, args, think, burst_size)
                )
                lines += phase_report(
                    samples, elapsed, think, burst_size, time.process_time() - cpu
                )
        finally:
            server.stop(timeout=30)
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
