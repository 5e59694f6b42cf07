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
import json
import multiprocessing
import random
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from scenarios.changes import KINDS, Change, ChangeError, apply, describe
from solver.checker import Report, check
from solver.contract import Problem, Rota
from solver.data import build
from solver.options import MOVES_PER_SECOND, SolveOptions
from solver.solve import solve

Loc = tuple[str | int, ...]
BUNDLED_BASES: tuple[str, ...] = ("small", "medium")
BASE = "base"
NOISE = "base, next seed"  # never a variant's name: it has a comma and variants are checked

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
    # from_base: each variant is the base rota repaired for the change (the sick-call re-solve's
    # minimal-change search), so it differs from the base where the change forces it and where
    # moving a visit gains more than the change penalty, not by search noise. from_scratch:
    # each variant solved on its own, like the base.
    mode: Literal["from_base", "from_scratch"] = "from_base"
    # Solve the base a second time with the next seed: how many visits differ by chance alone.
    noise_band: bool = True
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

    @property
    def solves(self) -> int:
        """How many rotas a run makes: the base, its twin for the noise band, each variant."""
        return len(self.variants) + 1 + int(self.noise_band)

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
    drawn: list[str] = Field(
        default_factory=list,
        description="the workers and clients the changes took, added or cut (by name): what a "
        "count-based change drew",
    )
    forced: int | None = Field(
        default=None, description="visits the change forced off their base crew or time"
    )
    moved: int | None = Field(
        default=None, description="other visits the re-planning moved (it judged them worth it)"
    )
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
    mode: str = "from_base"
    noise: int | None = Field(
        default=None,
        description="visits that differ between the base solved with two seeds: differences "
        "this size are chance, not the change",
    )

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
# ``SolveOptions`` spends by default; the engine's moves are ``MOVES_PER_SECOND``), and how far
# past the limit a busy machine may run.
EFFORT_PER_SECOND = 0.6
WALL_SLACK = 4.0
# Seconds a reproducible solve may run past WALL_SLACK times its limit: reading the problem,
# the construction and writing the rota do not shrink with a short limit, and a 1 s variant on
# a loaded machine took more than 4 s with them (CI: the clock then cut its CP-SAT part short
# and the twin variants differed).
WALL_GRACE = 30.0


def _solve_text(problem_json: str, time_limit: float, seed: int, reproducible: bool) -> str:
    """Solve in a worker process; JSON both ways keeps the pickles small and plain."""
    problem = Problem.model_validate_json(problem_json)
    if reproducible:
        # Effort, not the clock, ends the search: every variant gets the same search work
        # whatever else the machine is doing, and a rerun gives the same rotas. Both parts are
        # sized by ``time_limit``: left to itself the route engine would size its moves by the
        # slack-widened clock, four times the work, which a busy machine cuts short by the clock.
        options = SolveOptions(
            time_limit=WALL_SLACK * time_limit + WALL_GRACE,
            seed=seed,
            workers=1,
            effort=EFFORT_PER_SECOND * time_limit,
            moves=round(MOVES_PER_SECOND * time_limit),
        )
    else:
        options = SolveOptions(time_limit=time_limit, seed=seed, workers=1)
    return solve(problem, options).model_dump_json(exclude_none=True)


def _replan_text(problem_json: str, base_json: str, time_limit: float, seed: int) -> str:
    """Re-plan a variant from the base rota in a worker process (see ``Scenario.mode``)."""
    from solver.resolve import ResolveOptions, resolve

    problem = Problem.model_validate_json(problem_json)
    done = resolve(
        problem,
        Rota.model_validate_json(base_json),
        None,
        # Any number of the base's visits may move if moving them gains more than the change
        # penalty: a what-if asks what the week would look like, not how few calls to make.
        # It spends the variant's time as moves (a sick call's 10,000 left "three carers leave"
        # 4-8 visits more unstaffed than from scratch; at 30 s a variant it is level or better).
        ResolveOptions(
            time_limit=time_limit,
            seed=seed,
            workers=1,
            max_change_ratio=1e9,
            moves=round(MOVES_PER_SECOND * time_limit),
        ),
    )
    if not check(problem, done.rota).ok:
        # The repair keeps each base visit the change still allows on its own, but a change to
        # durations or caps can make a kept day overrun; such a variant is solved from scratch
        # (and the report says so) rather than compared with a rota that breaks a rule.
        return json.dumps({"rota": json.loads(_solve_text(problem_json, time_limit, seed, True))})
    return json.dumps(
        {"rota": done.rota.model_dump(mode="json", exclude_none=True), "forced": done.orphaned}
    )


def differing(before: Rota, after: Rota) -> set[str]:
    """The visits staffed differently (crew or start, or staffed in one only) in two rotas."""
    old = {a.visit: (sorted(a.workers), a.start) for a in before.assignments}
    new = {a.visit: (sorted(a.workers), a.start) for a in after.assignments}
    return {v for v in old.keys() | new.keys() if old.get(v) != new.get(v)}


def drawn(base: Problem, problem: Problem) -> list[str]:
    """Who and what the changes took, added or cut, by name: "Carer 3 (leaves)"."""
    out = []
    before = {w.id: w for w in base.workers}
    after = {w.id: w for w in problem.workers}
    for wid, w in before.items():
        if wid not in after:
            out.append(f"{w.name or wid} (gone)")
        elif after[wid].shifts != w.shifts:
            out.append(
                f"{w.name or wid} (fewer shifts)"
                if len(after[wid].shifts) < len(w.shifts)
                else f"{w.name or wid} (shifts changed)"
            )
    out += [f"{w.name or wid} (new)" for wid, w in after.items() if wid not in before]
    clients = {c.id for c in base.clients}
    out += [f"{c.name or c.id} (new client)" for c in problem.clients if c.id not in clients]
    kept = {c.id for c in problem.clients}
    out += [f"{c.name or c.id} (client gone)" for c in base.clients if c.id not in kept]
    return out


def _result(
    name: str,
    description: str,
    changes: list[str],
    problem: Problem,
    rota: Rota,
    base: Problem | None = None,
) -> VariantResult:
    report = check(problem, rota)
    return VariantResult(
        name=name,
        description=description,
        changes=changes,
        drawn=drawn(base, problem) if base is not None else [],
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
    """Solve the base, then every variant (``time_limit`` seconds each, the scenario's by
    default), ``processes`` at a time in separate processes (1: here, one after another),
    check every rota and compare them.

    By default (``mode: from_base``) a variant is the base rota re-planned for its changes:
    visits the change does not force keep their crew and time unless moving them gains more
    than the change penalty, so the comparison shows the change rather than search noise. The
    base is also solved with the next seed (``noise_band``): the visits that differ then are
    the size of chance. A reproducible scenario (the default) gives each solve from scratch the
    CP-SAT effort of ``time_limit`` seconds on an idle machine; on a busy one it may take up to
    ``WALL_SLACK`` times as long, plus ``WALL_GRACE`` seconds, rather than stop early with a
    different rota (a re-planning stops at ``time_limit`` seconds). In a process that may not
    start children (a daemonic worker), pass ``processes=1``.
    """
    limit = scenario.time_limit if time_limit is None else time_limit
    problems = list(scenario.problems())
    base_problem = problems[0][1]
    notes = {v.name: (v.description, [describe(c) for c in v.changes]) for v in scenario.variants}
    notes[BASE] = ("the base problem as given", [])
    from_base = scenario.mode == "from_base"
    # Each job is (key, function, arguments); the second seed's base is the noise band.
    first: list[tuple[str, Callable[..., str], tuple[Any, ...]]] = []
    for name, problem in problems if not from_base else problems[:1]:
        args = (problem.model_dump_json(), limit, scenario.seed, scenario.reproducible)
        first.append((name, _solve_text, args))
    if scenario.noise_band:
        args = (base_problem.model_dump_json(), limit, scenario.seed + 1, scenario.reproducible)
        first.append((NOISE, _solve_text, args))
    total = len(first) + (len(problems) - 1 if from_base else 0)
    started = time.monotonic()
    # Solves take about their time limit each, re-plannings too: count them as they finish.
    rounds = -(-len(first) // max(1, processes)) + (
        -(-(len(problems) - 1) // max(1, processes)) if from_base else 0
    )
    expected = rounds * limit
    texts: dict[str, str] = {}

    def tick() -> None:
        if progress is not None:
            progress(len(texts), total, time.monotonic() - started, expected)

    tick()
    with _Pool(processes, total) as pool:
        pool.run(first, texts, tick)
        if from_base:
            base_json = texts[BASE]
            pool.run(
                [
                    (name, _replan_text, (p.model_dump_json(), base_json, limit, scenario.seed))
                    for name, p in problems[1:]
                ],
                texts,
                tick,
            )
    base_rota = Rota.model_validate_json(texts[BASE])
    results = [_result(BASE, *notes[BASE], base_problem, base_rota)]
    for name, problem in problems[1:]:
        if from_base:
            answer = json.loads(texts[name])
            rota = Rota.model_validate(answer["rota"])
            result = _result(name, *notes[name], problem, rota, base_problem)
            if "forced" in answer:
                forced = set(answer["forced"])
                result.forced = len(forced)
                result.moved = len(differing(base_rota, rota) - forced)
        else:
            rota = Rota.model_validate_json(texts[name])
            result = _result(name, *notes[name], problem, rota, base_problem)
        results.append(result)
    noise = None
    if scenario.noise_band:
        twin = Rota.model_validate_json(texts[NOISE])
        noise = len(differing(base_rota, twin))
    return Comparison(
        scenario=scenario.name,
        question=scenario.question,
        time_limit=limit,
        reproducible=scenario.reproducible,
        seed=scenario.seed,
        variants=results,
        mode=scenario.mode,
        noise=noise,
    )


def _warm() -> None:
    """Load the route engine's compiled kernels before any solve's clock starts: loading them
    takes seconds on a busy machine, which the first solve would otherwise count."""
    from solver.engine.warm import warm

    warm()


class _Pool:
    """Jobs run here one after another (one process) or in a pool of fresh interpreters."""

    def __init__(self, processes: int, total: int) -> None:
        self.processes = processes
        self.total = total
        self._pool: cf.ProcessPoolExecutor | None = None

    def __enter__(self) -> _Pool:
        if self.processes > 1:
            # spawn: a fresh interpreter per worker, never a fork of a process holding threads
            # (CP-SAT's, or a web server's).
            context = multiprocessing.get_context("spawn")
            self._pool = cf.ProcessPoolExecutor(
                max_workers=min(self.processes, self.total),
                mp_context=context,
                initializer=_warm,
            )
        else:
            _warm()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def run(
        self,
        jobs: list[tuple[str, Callable[..., str], tuple[Any, ...]]],
        texts: dict[str, str],
        tick: Callable[[], None],
    ) -> None:
        """Run ``jobs``, putting each answer in ``texts`` under its key as it comes."""
        if self._pool is None:
            for key, function, args in jobs:
                texts[key] = function(*args)
                tick()
            return
        futures = {self._pool.submit(function, *args): key for key, function, args in jobs}
        pending = set(futures)
        while pending:
            finished, pending = cf.wait(pending, timeout=0.5)
            for future in finished:
                texts[futures[future]] = future.result()
            tick()
