"""The soak benchmark's short mode: ``benchmarks/soak.py`` still runs end to end.

About 25 s: a real ``carerota serve`` on SQLite, two agencies, 9 s of mixed load with 1-1.5 s
solves. It checks that the report, time series and chart are written and that nothing went
wrong; the figures themselves (and the memory verdict, meaningless over 12 s) are not asserted.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_soak_short_run_reports_every_kind_of_request_and_no_errors(tmp_path: Path) -> None:
    out = tmp_path / "soak"
    # Run as its users do, from the checkout: the benchmarks are not an installed package.
    short = ["--minutes", "0.15", "--sample", "3", "--agencies", "2", "--readers", "3"]
    quick_jobs = ["--time-limits", "1", "1.5", "--solve-every", "4", "--absence-every", "4"]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", *short, *quick_jobs, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = (tmp_path / "soak.md").read_text(encoding="utf-8")
    errors = re.search(
        r"\*\*(\d+) unexpected answers, (\d+) exceptions or timeouts, (\d+) jobs not done\*\*",
        report,
    )
    assert errors is not None, report
    assert errors.groups() == ("0", "0", "0"), report
    assert "0 ERROR lines or tracebacks" in report, report
    assert "**Verdict:**" in report

    with (tmp_path / "soak.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 3  # t = 0, then every 3 s
    assert all(float(r["web_rss_mib"]) > 0 and float(r["workers_rss_mib"]) > 0 for r in rows)
    totals = {k: sum(int(r[k]) for r in rows) for k in rows[0] if k.startswith("n_")}
    # The first solve and absence are due after about 2.5 s (seeded), so both happen.
    for kind in ("n_submit", "n_publish", "n_absence", "n_events", "n_rota", "n_runsheet"):
        assert totals[kind] >= 1, totals
    assert int(rows[-1]["jobs_done"]) >= 2 and int(rows[-1]["jobs_failed"]) == 0
    assert (tmp_path / "soak.png").stat().st_size > 0
