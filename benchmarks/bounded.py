"""Bounded work per request, measured (not a unit test): ``python benchmarks/bounded.py``.

Issue 18's probe found that a few MB of invalid problem cost the web process gigabytes and held
every other agency for tens of seconds. This starts ``carerota serve`` on 127.0.0.1 with a fresh
SQLite database (one local solve process) and two agencies. For ``--duration`` seconds the
first sends the worst bodies the limits let in, from ``--attackers`` connections at once; the
second meanwhile reads (its rota list and a rota) and submits a small problem every
``--submit-every`` seconds. It reports the second agency's latency (p50, p99, worst) and the web
process's resident memory (before, and its peak), against the targets: p99 under 500 ms, peak
under 500 MiB, and the largest any process under it (reading bodies, or solving) reaches. The
same second agency alone first gives the baseline. The report goes to
``benchmarks/results/bounded.md``.

The per-key rate limits are lifted, so the first agency sends as fast as the service answers:
a harsher test than its own budget (60 submissions a minute) would allow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from scenarios.generator import generate
from tests.harness import ROOT, Server, create_agency_key

RESULTS = ROOT / "benchmarks" / "results" / "bounded.md"
TARGET_P99_MS = 500.0
TARGET_PEAK_MIB = 500.0


def worst_bodies(problem: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    """The bodies the probe found worst, each within the 8 MiB limit: (content type, body)."""

    def rota(**changes: Any) -> bytes:
        return json.dumps({"problem": {**problem, **changes}}).encode()

    variants = "".join(f"- {{name: v{i}}}\n" for i in range(38_000))
    return {
        # 3 MB, a million bad visits: was a 109 MB answer after 30 s, 3.4 GB at its peak.
        "a million zeros as visits": ("application/json", rota(visits=[0] * 1_000_000)),
        # 20,000 empty visits (the service's visit limit): 100,000 missing fields.
        "20,000 empty visits": ("application/json", rota(visits=[{}] * 20_000)),
        # Every list at its length limit and every item wrong: two million errors in 4 MB.
        "1,000 workers of 2,000 bad skills": (
            "application/json",
            rota(workers=[{"id": "w", "skills": [0] * 2_000}] * 1_000),
        ),
        # Objects as wide as allowed, every field unknown: 768,000 errors in 6 MB.
        "12,000 visits of 64 unknown fields": (
            "application/json",
            rota(visits=[{f"x{i}": 0 for i in range(64)}] * 12_000),
        ),
        "JSON nested 4 million deep": ("application/json", b"[" * 4_000_000),
        # A 1 MiB scenario of 38,000 variants: held every agency for 9.8 s.
        "YAML of 38,000 variants": (
            "application/yaml",
            f"name: many\nbase: small\nvariants:\n{variants}".encode(),
        ),
        "YAML nested 1,500 deep": (
            "application/yaml",
            ("name: deep\nbase: small\nvariants: " + "[" * 1_500 + "]" * 1_500).encode(),
        ),
    }


@dataclass
class Samples:
    """The second agency's latencies, and every status either agency got."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    status: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def rss_mib(pid: int) -> tuple[float, float]:
    """The process's resident memory now and at its peak (VmRSS, VmHWM), in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


async def victim(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    small: dict[str, Any],
    rota_url: str,
    until: float,
    submit_every: float,
    samples: Samples,
) -> None:
    """The second agency: reads back to back (0.05 s apart), and a submission now and then."""
    next_submit = time.monotonic()
    submission = {"problem": small, "options": {"time_limit": 1, "method": "heuristic"}}
    turn = 0
    while time.monotonic() < until:
        began = time.perf_counter()
        if time.monotonic() >= next_submit:
            next_submit += submit_every
            kind = "submit"
            response = await client.post("/v1/rotas", json=submission, headers=headers)
        else:
            kind = ("list rotas", "read a rota")[turn % 2]
            turn += 1
            response = await client.get(
                "/v1/rotas" if kind == "list rotas" else rota_url, headers=headers
            )
        samples.latency[kind].append(time.perf_counter() - began)
        samples.status[kind][response.status_code] += 1
        await asyncio.sleep(0.05)


async def attacker(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    bodies: dict[str, tuple[str, bytes]],
    offset: int,
    until: float,
    samples: Samples,
) -> None:
    """The first agency: the worst bodies, one after another, as fast as they are answered."""
    names = list(bodies)
    turn = offset
    while time.monotonic() < until:
        name = names[turn % len(names)]
        media, body = bodies[name]
        path = "/v1/scenarios" if media == "application/yaml" else "/v1/rotas"
        response = await client.post(
            path, content=body, headers={**headers, "Content-Type": media}, timeout=120
        )
        samples.status[name][response.status_code] += 1
        samples.latency[name].append(response.elapsed.total_seconds())
        turn += 1


def descendants(pid: int) -> list[int]:
    """Every live process under ``pid``: its reading processes (under their fork server) and
    solve processes."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # it ended while we looked
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


async def sample_memory(pid: int, until: float, others: list[float]) -> None:
    """The largest resident memory of any process under the web process, every 0.1 s."""
    while time.monotonic() < until:
        for child in descendants(pid):
            try:
                others.append(rss_mib(child)[0])
            except (OSError, KeyError):  # ended, or a zombie without memory
                continue
        await asyncio.sleep(0.1)


async def phase(
    url: str,
    pid: int,
    keys: tuple[str, str],
    small: dict[str, Any],
    rota_url: str,
    args: argparse.Namespace,
    bodies: dict[str, tuple[str, bytes]] | None,
    duration: float,
) -> tuple[Samples, Samples, list[float]]:
    mine, theirs = Samples(), Samples()
    others: list[float] = []
    until = time.monotonic() + duration
    limits = httpx.Limits(max_connections=args.attackers + 4)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        tasks = [
            victim(
                client,
                {"Authorization": f"Bearer {keys[1]}"},
                small,
                rota_url,
                until,
                args.submit_every,
                mine,
            ),
            sample_memory(pid, until, others),
        ]
        if bodies is not None:
            tasks += [
                attacker(client, {"Authorization": f"Bearer {keys[0]}"}, bodies, i, until, theirs)
                for i in range(args.attackers)
            ]
        await asyncio.gather(*tasks)
    return mine, theirs, others


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.0f}"


def report(
    args: argparse.Namespace,
    baseline: Samples,
    mine: Samples,
    theirs: Samples,
    before: float,
    peak: float,
    others: list[float],
) -> str:
    reads = [v for kind in ("list rotas", "read a rota") for v in mine.latency[kind]]
    everything = [v for values in mine.latency.values() for v in values]
    p99 = percentile(everything, 99) * 1000
    lines = [
        "# Bounded work per request",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, shared), Python {platform.python_version()}: one "
        "`carerota serve` (SQLite, one local solve process); the first agency sends the bodies "
        f"below from {args.attackers} connections at once, flat out (rate limits lifted), for "
        f"{args.duration:g} s, while the second reads and submits. "
        "Command: `python benchmarks/bounded.py`.",
        "",
        "## The second agency",
        "",
        "| request | alone p50 / p99 ms | under attack p50 / p99 / worst ms | answers |",
        "|---|---|---|---|",
    ]
    for kind in ("list rotas", "read a rota", "submit"):
        alone, attacked = baseline.latency[kind], mine.latency[kind]
        codes = ", ".join(f"{n}x {code}" for code, n in sorted(mine.status[kind].items()))
        lines.append(
            f"| {kind} | {ms(alone, 50)} / {ms(alone, 99)} | {ms(attacked, 50)} / "
            f"{ms(attacked, 99)} / {ms(attacked, 100)} | {codes} |"
        )
    verdict_p99 = "met" if p99 < TARGET_P99_MS else "MISSED"
    verdict_rss = "met" if peak < TARGET_PEAK_MIB else "MISSED"
    lines += [
        "",
        f"Every request of the second agency under attack: p99 **{p99:.0f} ms** (target under "
        f"{TARGET_P99_MS:.0f} ms: {verdict_p99}); its reads p99 {ms(reads, 99)} ms.",
        "",
        "## The web process",
        "",
        f"Resident memory before the attack {before:.0f} MiB; peak (VmHWM) **{peak:.0f} MiB** "
        f"(target under {TARGET_PEAK_MIB:.0f} MiB: {verdict_rss}). The largest process under it "
        f"(a reading process, or a solve of the second agency's) reached "
        f"{max(others, default=0.0):.0f} MiB, sampled every 0.1 s.",
        "",
        "## The first agency's bodies",
        "",
        "| body | sent | answers | p50 / worst s |",
        "|---|---|---|---|",
    ]
    for name, counts in theirs.status.items():
        codes = ", ".join(f"{n}x {code}" for code, n in sorted(counts.items()))
        took = theirs.latency[name]
        lines.append(
            f"| {name} | {sum(counts.values())} | {codes} | "
            f"{percentile(took, 50):.2f} / {percentile(took, 100):.2f} |"
        )
    return "\n".join(lines) + "\n"


def seed_rota(url: str, key: str, small: dict[str, Any]) -> str:
    """A finished rota of the second agency to read, its URL."""
    headers = {"Authorization": f"Bearer {key}"}
    created = httpx.post(
        f"{url}/v1/rotas",
        json={"problem": small, "options": {"time_limit": 1, "method": "heuristic"}},
        headers=headers,
    ).json()
    deadline = time.monotonic() + 60
    while httpx.get(created["url"], headers=headers).json()["status"] not in ("done", "failed"):
        if time.monotonic() > deadline:
            raise RuntimeError("the seed rota did not finish within 60 s")
        time.sleep(0.2)
    return str(created["url"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of attack")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds alone first")
    parser.add_argument("--attackers", type=int, default=4, help="connections of the first")
    parser.add_argument("--submit-every", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    small = generate(4, 1, agency="Second Agency")
    bodies = worst_bodies(generate(4, 1, agency="First Agency"))
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/bounded.db",
            "CAREROTA_LOCAL_WORKERS": "1",
            "CAREROTA_SOLVER_THREADS": "1",
            "CAREROTA_LOG_LEVEL": "warning",
            "CAREROTA_RATE_LIMIT_PER_MINUTE": "0",
            "CAREROTA_JOB_RATE_LIMIT_PER_MINUTE": "0",
        }
        server = Server(env, Path(tmp) / "serve.log")
        server.start()
        try:
            assert server.proc is not None
            pid = server.proc.pid
            keys = (create_agency_key(env, "First Agency"), create_agency_key(env, "Second"))
            rota_url = seed_rota(server.url, keys[1], small)
            baseline, _, _ = asyncio.run(
                phase(server.url, pid, keys, small, rota_url, args, None, args.baseline)
            )
            before = rss_mib(pid)[0]
            mine, theirs, others = asyncio.run(
                phase(server.url, pid, keys, small, rota_url, args, bodies, args.duration)
            )
            peak = rss_mib(pid)[1]
        finally:
            server.stop()
    text = report(args, baseline, mine, theirs, before, peak, others)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
