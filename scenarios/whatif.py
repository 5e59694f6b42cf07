"""What-if scenarios: a base problem and named variants, solved side by side.

A scenario file is YAML (see ``scenarios/examples/``)::

    name: Three carers leave in December
    question: Can we still staff the week, and what does it cost in continuity?
    base: ../medium.json        # a path relative to this file, a bundled name, or a problem
    time_limit: 60              # seconds per variant (the command line may override it)
    reproducible: true          # same rotas on any machine, however busy (the default)
    seed: 0
    variants:
      - name: three hoist carers leave
        changes:
          - {kind: remove_workers, count: 3, skill: hoist, leaving: 2026-12-01}

The base itself is always solved too, as the first column. :func:`run_scenario` solves every
variant in its own process, checks every rota with the independent checker and returns a
:class:`Comparison` (a pydantic model, JSON as is) whose numbers are the checker's.

Errors in a scenario (bad YAML, a field of the wrong type, an unknown change kind, an id the
base does not have) raise :class:`ScenarioError`, whose message starts with ``file:line``.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import random
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from scenarios.changes import KINDS, Change, ChangeError, apply, describe
from solver.checker import Report, check
from solver.contract import Problem, Rota
from solver.data import build
from solver.options import SolveOptions
from solver.solve import solve

Loc = tuple[str | int, ...]
BUNDLED_BASES: tuple[str, ...] = ("small", "medium")
BASE = "base"

# (variants finished, variants in all, seconds elapsed, seconds the whole run should take)
Progress = Callable[[int, int, float, float], None]


class ScenarioError(ValueError):
    """A scenario that cannot be read or applied; the message names the file and line."""

    def __init__(self, source: str, line: int | None, where: str, message: str) -> None:
        place = f"{source}:{line}" if line is not None else source
        super().__init__(f"{place}: {where}: {message}" if where else f"{place}: {message}")
        self.line = line


# ---------------------------------------------------------------------------------------------
# The file model


class Variant(BaseModel):
    """One what-if: a name and the changes that make it from the base."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    changes: list[Change] = Field(default_factory=list)


class Scenario(BaseModel):
    """A scenario file: the base problem and its named variants."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1)
    question: str = ""
    base: str | Problem
    time_limit: float = Field(default=30.0, gt=0)
    reproducible: bool = True
    seed: int = 0
    variants: list[Variant] = Field(min_length=1)

    _source: str = PrivateAttr(default="<scenario>")
    _folder: Path | None = PrivateAttr(default=None)
    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)

    @field_validator("variants")
    @classmethod
    def _unique_names(cls, variants: list[Variant]) -> list[Variant]:
        seen: set[str] = {BASE}
        for v in variants:
            if v.name in seen:
                raise ValueError(f"variant name {v.name!r} is used twice (or is {BASE!r})")
            seen.add(v.name)
        return variants

    def line(self, loc: Loc) -> int | None:
        """The file line of ``loc`` (or of the nearest enclosing field the file has)."""
        for end in range(len(loc), -1, -1):
            found = self._lines.get(tuple(loc[:end]))
            if found is not None:
                return found
        return None

    def error(self, loc: Loc, message: str) -> ScenarioError:
        return ScenarioError(self._source, self.line(loc), _path(loc), message)

    def read_from(self, source: str, folder: Path | None, lines: dict[Loc, int]) -> Scenario:
        """This scenario, told where it was read: the file its errors name, the folder its base
        path is relative to, and the line of each field."""
        self._source, self._folder, self._lines = source, folder, lines
        return self

    def base_problem(self) -> Problem:
        """The base: inline, a file next to the scenario, or a bundled agency by name."""
        if isinstance(self.base, Problem):
            return self.base
        if self._folder is not None:
            path = self._folder / self.base
            if path.is_file():
                return self._read_problem(path.read_text(encoding="utf-8"), str(path))
        if self.base in BUNDLED_BASES:
            text = resources.files("scenarios").joinpath(f"{self.base}.json").read_text("utf-8")
            return Problem.model_validate_json(text)
        known = ", ".join(BUNDLED_BASES)
        raise self.error(("base",), f"{self.base!r} is no problem file here nor one of {known}")

    def _read_problem(self, text: str, name: str) -> Problem:
        try:
            return Problem.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise self.error(
                ("base",), f"{name}: invalid problem: {_path(first['loc'])}: {first['msg']}"
            ) from None

    def problems(self) -> Iterator[tuple[str, Problem]]:
        """The base and each variant as (name, problem), every change made and checked."""
        base = self.base_problem()
        yield BASE, base
        for i, variant in enumerate(self.variants):
            problem = base
            for j, change in enumerate(variant.changes):
                loc: Loc = ("variants", i, "changes", j)
                # Seeded by the change itself: the same change draws the same workers in
                # every variant, so variants that share it stay comparable.
                rng = random.Random(f"carerota-whatif:{self.seed}:{describe(change)}")
                try:
                    problem = apply(problem, change, rng)
                except ChangeError as exc:
                    raise self.error(loc + exc.loc, f"{change.kind}: {exc}") from None
            yield variant.name, problem


def _path(loc: Loc | tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _node_lines(node: yaml.Node, loc: Loc = ()) -> Iterator[tuple[Loc, int]]:
    """Every path in the YAML document with the (1-based) line where its value starts."""
    yield loc, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value
            part: str | int = int(name) if isinstance(name, str) and name.isdigit() else name
            yield (*loc, part), key.start_mark.line + 1
            for inner, line in _node_lines(value, (*loc, part)):
                if inner != (*loc, part):
                    yield inner, line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _node_lines(item, (*loc, i))


def _clean(loc: Loc) -> Loc:
    """A pydantic error location without the union members' names pydantic puts in it."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        tag = i >= 2 and loc[i - 2] == "changes" and isinstance(loc[i - 1], int) and part in KINDS
        # For a base given inline, pydantic names the union member tried ("str", or the
        # problem's validators) before the problem's own fields.
        member = i == 1 and loc[0] == "base" and part not in Problem.model_fields
        if not (tag or member):
            out.append(part)
    return tuple(out)


def _message(item: Any) -> str:
    # Only a change's kind is ours to explain; the base problem's travel model is a union too.
    if item["loc"][-2:-1] == ("changes",):
        if item["type"] == "union_tag_invalid":
            tag = item["ctx"]["tag"]
            return f"unknown change kind {tag!r} (known: {', '.join(KINDS)})"
        if item["type"] == "union_tag_not_found":
            return f"a change needs a kind (one of: {', '.join(KINDS)})"
    return str(item["msg"]).removeprefix("Value error, ")


def parse_scenario(text: str, source: str = "<scenario>", folder: Path | None = None) -> Scenario:
    """A scenario from YAML text; ``folder`` is where a relative ``base`` path is looked up
    (None: only a bundled name or an inline problem will do)."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(source, line, "", f"not YAML: {problem}") from None
    if not isinstance(data, dict) or root is None:
        raise ScenarioError(source, 1, "", "a scenario is a mapping with name, base and variants")
    lines = dict(_node_lines(root))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        items = exc.errors(include_url=False)
        # A base given inline fails both as a path (str) and as a problem: the problem's
        # errors are the ones that help.
        items = [e for e in items if e["loc"][:2] != ("base", "str")] or items
        first = items[0]
        loc = _clean(tuple(first["loc"]))
        probe = Scenario.model_construct().read_from(source, None, lines)
        more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
        raise probe.error(loc, _message(first) + more) from None
    return scenario.read_from(source, folder, lines)


def load_scenario(path: str | Path) -> Scenario:
    """A scenario from a YAML file; a relative ``base`` path is read next to the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), None, "", f"cannot read: {exc.strerror}") from None
    if not text.strip():
        raise ScenarioError(str(path), None, "", "the file is empty")
    return parse_scenario(text, str(path), path.parent)


# ---------------------------------------------------------------------------------------------
# The comparison


class Kpis(BaseModel):
    """The numbers a planner compares, all from the independent checker's reading of a rota."""

    visits_total: int
    visits_staffed: int
    visits_unstaffed: int
    carer_hours: float = Field(description="carers' working hours: visits plus travel between")
    travel_hours: float = Field(description="travel between visits, every worker")
    travel_share: float = Field(description="travel's share of all working minutes")
    utilisation: float | None = Field(
        description="contracted carers' working minutes over their contracted minutes"
    )
    mean_distinct_workers_per_client: float
    familiar_visit_share: float
    coordinator_visits_required: int
    coordinator_visits_missing: int
    coordinator_coverage: float = Field(description="share of required coordinator visits made")
    objective: float


class VariantResult(BaseModel):
    """One variant's rota, what the checker says of it, and its numbers."""

    name: str
    description: str = ""
    changes: list[str]
    workers: int
    clients: int
    status: str
    checker_ok: bool
    breaches: list[str]
    kpis: Kpis
    rota: Rota
    # Kept for the report writer; not part of the JSON (the caller has the scenario).
    problem: Problem | None = Field(default=None, exclude=True)


class Comparison(BaseModel):
    """A solved scenario: the base first, then each variant."""

    scenario: str
    question: str
    time_limit: float
    reproducible: bool
    seed: int
    variants: list[VariantResult]

    def by_name(self, name: str) -> VariantResult:
        """The result of the variant called ``name``."""
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)


def kpis(problem: Problem, rota: Rota, report: Report) -> Kpis:
    """The comparison numbers of ``rota``: the checker's metrics and objective, plus hours
    from the rota's routes (which the checker has recomputed and found to agree)."""
    m = report.metrics
    role = {w.id: w.role for w in problem.workers}
    contracted = {
        w.id: w.contracted_minutes_per_week
        for w in problem.workers
        if w.contracted_minutes_per_week is not None and w.role == "carer"
    }
    working: dict[str, float] = {}
    visit_minutes = 0.0
    for route in rota.routes:
        working[route.worker] = (
            working.get(route.worker, 0.0) + route.visit_minutes + route.travel_minutes
        )
        visit_minutes += route.visit_minutes
    carer_minutes = sum(minutes for w, minutes in working.items() if role[w] == "carer")
    total_contract = sum(contracted.values())
    required = sum(req.required for req in build(problem).requirements)
    missing = len(report.shortfalls)
    travel = m["travel_minutes"]
    staffed = int(m["visits_assigned"])
    return Kpis(
        visits_total=int(m["visits_total"]),
        visits_staffed=staffed,
        visits_unstaffed=int(m["visits_total"]) - staffed,
        carer_hours=carer_minutes / 60,
        travel_hours=travel / 60,
        travel_share=travel / (travel + visit_minutes) if travel + visit_minutes else 0.0,
        utilisation=(
            sum(working.get(w, 0.0) for w in contracted) / total_contract
            if total_contract
            else None
        ),
        mean_distinct_workers_per_client=m["mean_distinct_workers_per_client"],
        familiar_visit_share=m["familiar_visit_share"],
        coordinator_visits_required=required,
        coordinator_visits_missing=missing,
        coordinator_coverage=(required - missing) / required if required else 1.0,
        objective=report.objective,
    )


# CP-SAT deterministic time per second of a reproducible variant's time limit (what
# ``SolveOptions`` spends by default), and how far past the limit a busy machine may run.
EFFORT_PER_SECOND = 0.6
WALL_SLACK = 4.0


def _solve_text(problem_json: str, time_limit: float, seed: int, reproducible: bool) -> str:
    """Solve in a worker process; JSON both ways keeps the pickles small and plain."""
    problem = Problem.model_validate_json(problem_json)
    if reproducible:
        # Effort, not the clock, ends the search: every variant gets the same search work
        # whatever else the machine is doing, and a rerun gives the same rotas.
        options = SolveOptions(
            time_limit=WALL_SLACK * time_limit,
            seed=seed,
            workers=1,
            effort=EFFORT_PER_SECOND * time_limit,
        )
    else:
        options = SolveOptions(time_limit=time_limit, seed=seed, workers=1)
    return solve(problem, options).model_dump_json(exclude_none=True)


def _result(
    name: str, description: str, changes: list[str], problem: Problem, rota: Rota
) -> VariantResult:
    report = check(problem, rota)
    return VariantResult(
        name=name,
        description=description,
        changes=changes,
        workers=len(problem.workers),
        clients=len(problem.clients),
        status=rota.status,
        checker_ok=report.ok,
        breaches=[b.detail for b in report.breaches[:20]],
        kpis=kpis(problem, rota, report),
        rota=rota,
        problem=problem,
    )


def run_scenario(
    scenario: Scenario,
    time_limit: float | None = None,
    processes: int = 2,
    progress: Progress | None = None,
) -> Comparison:
    """Solve the base and every variant (``time_limit`` seconds each, the scenario's by
    default), ``processes`` at a time in separate processes (1: here, one after another),
    check every rota and compare them.

    A reproducible scenario (the default) gives each variant the CP-SAT effort of
    ``time_limit`` seconds on an idle machine; on a busy one a variant may take up to
    ``WALL_SLACK`` times as long rather than stop early with a different rota. In a process
    that may not start children (a daemonic worker), pass ``processes=1``.
    """
    limit = scenario.time_limit if time_limit is None else time_limit
    problems = list(scenario.problems())
    notes = {v.name: (v.description, [describe(c) for c in v.changes]) for v in scenario.variants}
    notes[BASE] = ("the base problem as given", [])
    total = len(problems)
    rounds = -(-total // max(1, processes))
    expected = rounds * limit
    started = time.monotonic()

    def tick(done: int) -> None:
        if progress is not None:
            progress(done, total, time.monotonic() - started, expected)

    texts: dict[str, str] = {}
    tick(0)
    if processes <= 1:
        for name, problem in problems:
            texts[name] = _solve_text(
                problem.model_dump_json(), limit, scenario.seed, scenario.reproducible
            )
            tick(len(texts))
    else:
        # spawn: a fresh interpreter per worker, never a fork of a process holding threads
        # (CP-SAT's, or a web server's).
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=min(processes, total), mp_context=context) as pool:
            futures = {
                pool.submit(
                    _solve_text, p.model_dump_json(), limit, scenario.seed, scenario.reproducible
                ): name
                for name, p in problems
            }
            pending = set(futures)
            while pending:
                finished, pending = cf.wait(pending, timeout=0.5)
                for future in finished:
                    texts[futures[future]] = future.result()
                tick(len(texts))
    results = [
        _result(name, *notes[name], problem, Rota.model_validate_json(texts[name]))
        for name, problem in problems
    ]
    return Comparison(
        scenario=scenario.name,
        question=scenario.question,
        time_limit=limit,
        reproducible=scenario.reproducible,
        seed=scenario.seed,
        variants=results,
    )
