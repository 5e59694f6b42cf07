"""A solved scenario as tables (text, Markdown, CSV), charts (PNG) and visit-level differences.

Every number comes from :class:`scenarios.whatif.Comparison`, i.e. from the independent
checker's reading of each variant's rota. Each variant's cell shows its value and its change
against the base: ``412 (-8)``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel

from scenarios.whatif import BASE, Comparison, Kpis, VariantResult
from solver.contract import Problem, Rota
from solver.words import plural

log = logging.getLogger("carerota.scenarios")


@dataclass(frozen=True)
class Row:
    """One line of the side-by-side table: a KPI, how to show it, and whether more is better."""

    field: str
    label: str
    kind: Literal["count", "hours", "share", "ratio", "money"]
    better: Literal["higher", "lower", "neither"]


ROWS: tuple[Row, ...] = (
    Row("visits_staffed", "staffed visits", "count", "higher"),
    Row("visits_unstaffed", "unstaffed visits", "count", "lower"),
    Row("carer_hours", "carer hours (visits + travel)", "hours", "neither"),
    Row("travel_hours", "travel hours", "hours", "lower"),
    Row("travel_share", "travel share of working time", "share", "lower"),
    Row("utilisation", "utilisation of contracts", "share", "neither"),
    Row("mean_distinct_workers_per_client", "distinct workers per client", "ratio", "lower"),
    Row("familiar_visit_share", "familiar-visit share", "share", "higher"),
    Row("coordinator_coverage", "coordinator-rule coverage", "share", "higher"),
    Row("coordinator_visits_missing", "coordinator visits missing", "count", "lower"),
    Row("objective", "objective", "money", "lower"),
)


def _value(kpis: Kpis, field: str) -> float | None:
    value = getattr(kpis, field)
    return None if value is None else float(value)


def _show(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "hours":
        return f"{value:,.1f}"
    if kind == "share":
        return f"{value:.1%}"
    if kind == "ratio":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def _change(value: float | None, base: float | None, kind: str) -> str:
    if value is None or base is None:
        return ""
    diff = value - base
    if kind == "share":
        points = diff * 100
        return f"{points:+.1f} pp" if abs(points) >= 0.05 else "="
    shown = _show(abs(diff), kind)
    if shown.strip("0.,") == "":
        return "="
    return ("+" if diff > 0 else "-") + shown


def cell(result: VariantResult, base: VariantResult, row: Row) -> str:
    """``value (change against the base)``; the base's own cells show the value alone."""
    value = _value(result.kpis, row.field)
    text = _show(value, row.kind)
    if result is base:
        return text
    change = _change(value, _value(base.kpis, row.field), row.kind)
    return f"{text} ({change})" if change else text


def table(comparison: Comparison) -> list[list[str]]:
    """The side-by-side table: a header row of variant names, then one row per KPI."""
    base = comparison.variants[0]
    rows = [["", *(v.name for v in comparison.variants)]]
    rows += [[r.label, *(cell(v, base, r) for v in comparison.variants)] for r in ROWS]
    rows.append(["rota status", *(v.status for v in comparison.variants)])
    rows.append(
        ["independent check", *("ok" if v.checker_ok else "BREACHES" for v in comparison.variants)]
    )
    if comparison.mode == "from_base":
        rows.append(["visits the change forced", *_count(v.forced for v in comparison.variants)])
        rows.append(["other visits moved", *_count(v.moved for v in comparison.variants)])
    return rows


def _count(values: Iterable[int | None]) -> list[str]:
    return ["-" if value is None else f"{value:,}" for value in values]


def _how(comparison: Comparison) -> str:
    """How the variants were made, and how large chance differences are."""
    if comparison.mode == "from_base":
        how = (
            "Each variant is the base rota re-planned for its changes: visits the change does "
            "not force keep their carer and time unless moving them gains more than the change "
            "penalty."
        )
        scratch = [v.name for v in comparison.variants[1:] if v.forced is None]
        if scratch:
            how += (
                f" Solved from scratch instead, since the base's days no longer fit: "
                f"{', '.join(scratch)}."
            )
    else:
        how = "Each variant is solved from scratch, like the base."
    if comparison.noise is not None:
        how += (
            f" Noise band: the base solved with the next seed differs in {comparison.noise:,} "
            "visits, so differences of that size are chance, not the change."
        )
    return how


def format_text(comparison: Comparison) -> str:
    """The table as aligned plain text, for a terminal."""
    rows = table(comparison)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    title = f"{comparison.scenario}: {_budget(comparison)} per variant, seed {comparison.seed}"
    drew = [f"{v.name} drew: {', '.join(v.drawn)}" for v in comparison.variants if v.drawn]
    return "\n".join([title, *lines, "", _how(comparison), *drew])


def _budget(comparison: Comparison) -> str:
    if comparison.reproducible:
        return f"the search effort of {comparison.time_limit:g} s (reproducible)"
    return f"{comparison.time_limit:g} s"


def to_markdown(comparison: Comparison, diffs: dict[str, list[VisitChange]] | None = None) -> str:
    """The report as Markdown: the question, each variant's changes, the table and charts."""
    out = [f"# {comparison.scenario}", ""]
    if comparison.question:
        out += [f"**Question:** {comparison.question}", ""]
    out += [
        f"Each variant solved with {_budget(comparison)} and seed {comparison.seed}; "
        "every rota checked by the independent checker, whose figures these are. "
        "In brackets: the change against the base.",
        "",
        _how(comparison),
        "",
        "## Variants",
        "",
    ]
    for v in comparison.variants:
        what = "; ".join(v.changes) if v.changes else "no changes"
        note = f" {v.description}." if v.description and v.name != BASE else ""
        out.append(
            f"- **{v.name}** ({plural(v.workers, 'worker')}, {plural(v.clients, 'client')}):"
            f"{note} `{what}`"
        )
        if v.drawn:
            out.append(f"  - drew: {', '.join(v.drawn)}")
    rows = table(comparison)
    out += ["", "## Side by side", ""]
    out.append("| " + " | ".join(rows[0]) + " |")
    out.append("|---" + "|---:" * (len(rows[0]) - 1) + "|")
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    if diffs:
        out += ["", "## Visits that differ from the base", ""]
        out.append("| variant | changed worker | changed time | both | newly staffed | "
                   "newly unstaffed | only in one |")  # fmt: skip
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for name, changes in diffs.items():
            n = summarise(changes)
            out.append(
                f"| {name} | {n['workers']} | {n['time']} | {n['both']} | {n['staffed']} | "
                f"{n['unstaffed']} | {n['added'] + n['removed']} |"
            )
        out += ["", "Each variant's list is in `variants/<name>/diff_vs_base.csv`."]
    out += ["", "## Charts", "", "![KPIs](kpis.png)", "", "![Change against base](changes.png)", ""]
    return "\n".join(out)


def to_csv(comparison: Comparison) -> str:
    """One row per variant: each KPI's value and its change against the base (raw numbers)."""
    base = comparison.variants[0].kpis
    fields = list(Kpis.model_fields)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variant", "status", "checker_ok", *fields, *(f"{f}_change" for f in fields)])
    for v in comparison.variants:
        values = [_value(v.kpis, f) for f in fields]
        changes = [
            None if a is None or b is None else a - b
            for a, b in zip(values, (_value(base, f) for f in fields), strict=True)
        ]
        writer.writerow(
            [v.name, v.status, v.checker_ok, *(_num(x) for x in values), *map(_num, changes)]
        )
    return buffer.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


# ---------------------------------------------------------------------------------------------
# Charts

# (title, unit, bar label format, value)
CHARTS: tuple[tuple[str, str, str, Callable[[Kpis], float]], ...] = (
    ("Unstaffed visits (fewer is better)", "visits", "{:,.0f}", lambda k: k.visits_unstaffed),
    ("Carer hours (dark: travel)", "hours", "{:,.1f}", lambda k: k.carer_hours),
    (
        "Travel share of working time (lower is better)",
        "%",
        "{:.1f}",
        lambda k: 100 * k.travel_share,
    ),
    (
        "Distinct workers per client (fewer is better)",
        "workers",
        "{:.2f}",
        lambda k: k.mean_distinct_workers_per_client,
    ),
    (
        "Familiar-visit share (higher is better)",
        "%",
        "{:.1f}",
        lambda k: 100 * k.familiar_visit_share,
    ),
    (
        "Coordinator-rule coverage (higher is better)",
        "%",
        "{:.1f}",
        lambda k: 100 * k.coordinator_coverage,
    ),
)
# How the change chart names each row's better direction.
BETTER = {"higher": "higher is better", "lower": "lower is better"}


def change_against_base(value: float | None, base: float | None, kind: str) -> tuple[float, str]:
    """A KPI's bar on the change chart and its label: percentage points for a share (a share
    going from 40% to 50% is +10 pp, not "+25%"), per cent of the base for the rest."""
    if value is None or base is None:
        return 0.0, ""
    if kind == "share":
        points = 100 * (value - base)
        return points, f"{points:+.1f} pp" if abs(points) >= 0.05 else ""
    if not base:
        return 0.0, ""
    change = 100 * (value - base) / abs(base)
    return change, f"{change:+.0f}%" if abs(change) >= 0.5 else ""


def row_label(row: Row) -> str:
    """A change-chart row: the KPI and which way is better."""
    better = BETTER.get(row.better)
    return f"{row.label} ({better})" if better else row.label


CLIP = 100.0  # percent: the change chart's axis stops here


def write_charts(comparison: Comparison, directory: Path) -> list[Path]:
    """``kpis.png`` (each main KPI by variant) and ``changes.png`` (relative change against
    the base); returns the files written."""
    try:
        import matplotlib
    except ModuleNotFoundError:  # the plot extra is not installed: a report without charts
        log.warning("the report's charts are left out: pip install 'carerota[plot]' to draw them")
        return []

    matplotlib.use("Agg")  # files only: no display, and safe in a server process
    import matplotlib.pyplot as plt

    names = [v.name for v in comparison.variants]
    palette = plt.get_cmap("tab10")
    colours = ["#7f7f7f", *(palette(i) for i in range(len(names) - 1))]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), layout="constrained")
    for ax, (title, unit, shown, get) in zip(axes.flat, CHARTS, strict=True):
        values = [get(v.kpis) for v in comparison.variants]
        bars = ax.barh(range(len(names)), values, color=colours)
        if title.startswith("Carer"):
            travel = [v.kpis.travel_hours for v in comparison.variants]
            ax.barh(range(len(names)), travel, color="black", alpha=0.35)
        ax.bar_label(bars, labels=[shown.format(x) for x in values], padding=3, fontsize=8)
        ax.set_yticks(range(len(names)), labels=names, fontsize=9)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(unit, fontsize=9)
        ax.margins(x=0.18)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"{comparison.scenario}", fontsize=13)
    kpi_path = directory / "kpis.png"
    fig.savefig(kpi_path, dpi=110)
    plt.close(fig)

    base = comparison.variants[0].kpis
    rows = [r for r in ROWS if r.field not in ("coordinator_visits_missing",)]
    others = comparison.variants[1:]
    fig, ax = plt.subplots(
        figsize=(11, 1.5 + 0.25 * len(rows) * max(2, len(others))), layout="constrained"
    )
    height = 0.8 / max(1, len(others))
    series: list[list[float]] = []
    labels: list[list[str]] = []
    for v in others:
        moved = [
            change_against_base(_value(v.kpis, r.field), _value(base, r.field), r.kind)
            for r in rows
        ]
        series.append([amount for amount, _ in moved])
        labels.append([label for _, label in moved])
    # A few large changes (unstaffed visits can triple) would flatten the rest: the axis stops
    # at +-CLIP % and the bars beyond it carry their value.
    reach = max((abs(x) for changes in series for x in changes), default=1.0)
    edge = min(CLIP, max(5.0, 1.15 * reach))
    for j, (v, changes, texts) in enumerate(zip(others, series, labels, strict=True)):
        ys = [i + (j - (len(others) - 1) / 2) * height for i in range(len(rows))]
        clipped = [max(-edge, min(edge, x)) for x in changes]
        bars = ax.barh(ys, clipped, height=height, color=colours[j + 1], label=v.name)
        ax.bar_label(bars, labels=texts, padding=2, fontsize=7)
    low = min((x for changes in series for x in changes), default=0.0)
    high = max((x for changes in series for x in changes), default=0.0)
    # Room beyond the longest bars for their labels.
    ax.set_xlim(1.4 * max(-edge, min(low, -5.0)), 1.25 * min(edge, max(high, 5.0)))
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(rows)), labels=[row_label(r) for r in rows], fontsize=9)
    ax.invert_yaxis()
    cut = f"; bars cut at {CLIP:g}%, labels exact" if reach > CLIP else ""
    ax.set_xlabel(f"change against the base (%; shares in percentage points{cut})")
    ax.set_title(f"{comparison.scenario}: change against the base", fontsize=12)
    ax.legend(fontsize=9, loc="best")
    ax.spines[["top", "right"]].set_visible(False)
    change_path = directory / "changes.png"
    fig.savefig(change_path, dpi=110)
    plt.close(fig)
    return [kpi_path, change_path]


# ---------------------------------------------------------------------------------------------
# Visit-level differences


ChangeKind = Literal["workers", "time", "both", "staffed", "unstaffed", "added", "removed"]
CHANGE_KINDS: tuple[ChangeKind, ...] = get_args(ChangeKind)


class VisitChange(BaseModel):
    """A visit whose staffing differs between two rotas."""

    visit: str
    client: str
    day: str
    change: ChangeKind
    workers_before: list[str]
    workers_after: list[str]
    start_before: str | None
    start_after: str | None


def _staffing(rota: Rota) -> dict[str, tuple[list[str], datetime]]:
    return {a.visit: (sorted(a.workers), a.start) for a in rota.assignments}


def diff_rotas(
    before_problem: Problem, before: Rota, after_problem: Problem, after: Rota
) -> list[VisitChange]:
    """Visits that changed worker or time (or were staffed, unstaffed, added or removed)
    between two rotas, in visit order; two rotas of one problem pass the problem twice."""
    old, new = _staffing(before), _staffing(after)
    visits = {v.id: v for v in after_problem.visits}
    visits.update({v.id: v for v in before_problem.visits if v.id not in visits})
    in_before = {v.id for v in before_problem.visits}
    in_after = {v.id for v in after_problem.visits}
    out: list[VisitChange] = []
    for ident in sorted(visits, key=lambda i: (visits[i].earliest_start, i)):
        a, b = old.get(ident), new.get(ident)
        kind: ChangeKind
        if ident not in in_after:
            kind = "removed"
        elif ident not in in_before:
            kind = "added"
        elif a is None and b is None:
            continue
        elif a is None:
            kind = "staffed"
        elif b is None:
            kind = "unstaffed"
        else:
            workers, moved = a[0] != b[0], a[1] != b[1]
            if not (workers or moved):
                continue
            kind = "both" if workers and moved else ("workers" if workers else "time")
        visit = visits[ident]
        out.append(
            VisitChange(
                visit=ident,
                client=visit.client,
                day=visit.earliest_start.date().isoformat(),
                change=kind,
                workers_before=a[0] if a else [],
                workers_after=b[0] if b else [],
                start_before=_clock(a[1]) if a else None,
                start_after=_clock(b[1]) if b else None,
            )
        )
    return out


def _clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def summarise(changes: list[VisitChange]) -> dict[str, int]:
    """How many visits of each kind of change."""
    counts = dict.fromkeys(
        ("workers", "time", "both", "staffed", "unstaffed", "added", "removed"), 0
    )
    for c in changes:
        counts[c.change] += 1
    return counts


def format_diff(changes: list[VisitChange], limit: int | None = 40) -> str:
    """A readable list: the counts, then one line per changed visit (up to ``limit``)."""
    n = summarise(changes)
    lines = [
        f"{plural(len(changes), 'visit')} differ: {n['workers']} changed worker, "
        f"{n['time']} changed time, "
        f"{n['both']} both, {n['staffed']} newly staffed, {n['unstaffed']} newly unstaffed, "
        f"{n['added']} added, {n['removed']} removed"
    ]
    shown = changes if limit is None else changes[:limit]
    for c in shown:
        before = f"{_short(c.start_before)} {'+'.join(c.workers_before) or 'unstaffed'}"
        after = f"{_short(c.start_after)} {'+'.join(c.workers_after) or 'unstaffed'}"
        lines.append(f"  {c.visit:<14} {c.client:<10} {c.day}  {c.change:<9} {before} -> {after}")
    if len(shown) < len(changes):
        lines.append(f"  ... and {len(changes) - len(shown)} more (--all lists every one)")
    return "\n".join(lines)


def _short(start: str | None) -> str:
    return start[11:] if start else "--:--"


def diff_csv(changes: list[VisitChange]) -> str:
    """The changed visits as CSV, one per line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    fields = list(VisitChange.model_fields)
    writer.writerow(fields)
    for c in changes:
        row = c.model_dump()
        writer.writerow(["+".join(x) if isinstance(x, list) else (x or "") for x in row.values()])
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# The report directory


def slug(name: str) -> str:
    """A variant name as a directory name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "variant"


def write_report(comparison: Comparison, directory: str | Path) -> list[Path]:
    """Write the report: ``report.md``, ``report.csv``, ``comparison.json``, the charts, and
    per variant ``variants/<name>/problem.json``, ``rota.json`` and ``diff_vs_base.csv``."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    base = comparison.variants[0]
    diffs = {
        v.name: diff_rotas(base.problem, base.rota, v.problem, v.rota)
        for v in comparison.variants[1:]
        if base.problem is not None and v.problem is not None
    }
    written: list[Path] = []

    def put(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    put(folder / "report.md", to_markdown(comparison, diffs))
    put(folder / "report.csv", to_csv(comparison))
    put(folder / "comparison.json", comparison.model_dump_json(indent=1, exclude_none=True))
    written += write_charts(comparison, folder)
    for v in comparison.variants:
        sub = folder / "variants" / slug(v.name)
        if v.problem is not None:
            put(sub / "problem.json", v.problem.model_dump_json(indent=1, exclude_none=True))
        put(sub / "rota.json", v.rota.model_dump_json(indent=1, exclude_none=True))
        if v.name in diffs:
            put(sub / "diff_vs_base.csv", diff_csv(diffs[v.name]))
    return written


def read_variant(directory: str | Path, name: str) -> tuple[Problem, Rota]:
    """A variant's problem and rota from a report directory, by name or directory name."""
    folder = Path(directory) / "variants"
    sub = folder / slug(name)
    if not sub.is_dir():
        known = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        raise FileNotFoundError(
            f"no variant {name!r} in {directory} (there: {', '.join(known) or 'none'})"
        )
    problem = Problem.model_validate(json.loads((sub / "problem.json").read_text("utf-8")))
    rota = Rota.model_validate(json.loads((sub / "rota.json").read_text("utf-8")))
    return problem, rota
