"""``/v1/scenarios``: run a what-if scenario through the job queue and read its comparison.

A scenario is the YAML ``carerota whatif`` reads (``scenarios/examples/``), sent as the body
(``application/yaml``) or as ``{"scenario": "<yaml>", "time_limit": ...}``. It is read and every
change applied when it is submitted, so a bad one is refused at once with its line. Its ``base``
is one of the agency's rota ids (that rota's problem), a bundled agency, or a problem written
inline; never a file path: the service reads no files for its callers.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Annotated, Any, Final
from urllib.parse import quote

import yaml
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy import select

from api.access_log import logged
from api.db import (
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    SCENARIO,
    SOLVING,
    Database,
    Job,
    StoredProblem,
    new_id,
    utcnow,
)
from api.deps import AgencyDep, AgencyRef, DbDep, RunnerDep, SettingsDep
from api.errors import ApiError, ErrorBody, ErrorDetail, mib, not_found, validation_details
from api.jobs import JobRunner
from api.jobs.scenario import SOURCE, progress_document
from api.middleware import queues_job
from api.routers.common import base_url, refuse_if_full_now, submit
from api.schemas import (
    ComparisonOut,
    JobStatus,
    ScenarioOut,
    ScenarioPage,
    ScenarioProgress,
    ScenarioRequest,
    ScenarioSummary,
    VariantDetail,
    VariantOut,
)
from api.settings import Settings
from api.store import (
    ROTA_KINDS,
    refuse_if_full,
    scenario_page,
    scenario_row,
    scenario_summary,
    scenario_url,
)
from scenarios.whatif import BUNDLED_BASES, Scenario, ScenarioError, parse_scenario
from solver.contract import Problem

log = logging.getLogger("carerota.api")

router = APIRouter(prefix="/scenarios", tags=["scenarios"])

YAML_TYPES: Final = frozenset(
    {"application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml"}
)
# Deeper than any scenario needs (an inline problem is six levels): refused before PyYAML
# recurses into it.
MAX_DEPTH: Final = 32
SEED_MAX: Final = 2**31 - 1  # CP-SAT's seed is a 32-bit integer
# Integers (in any of YAML 1.1's notations) longer than any a scenario needs: Python refuses to
# convert one of over 4,300 digits, and a long one is slow to convert.
MAX_INTEGER_CHARS: Final = 40
_LONG_INTEGER: Final = re.compile(
    rf"[-+]?(?:[0-9_:]{{{MAX_INTEGER_CHARS + 1},}}|0[xob][0-9a-fA-F_]{{{MAX_INTEGER_CHARS},}})"
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or unknown API key"},
    404: {"model": ErrorBody, "description": "no such scenario in this agency"},
}

# The body is read by the endpoint, not by FastAPI: it comes as YAML or as JSON, and reading a
# scenario (YAML, then every change applied) is slow work for the thread pool, one at a time.
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ScenarioRequest.model_json_schema()},
            **{
                media: {"schema": {"type": "string", "description": "the scenario as YAML"}}
                for media in ("application/yaml", "text/yaml")
            },
        },
    }
}


@router.post(
    "",
    status_code=202,
    response_model=ScenarioSummary,
    summary="Run a what-if scenario",
    openapi_extra={**_BODY_DOC, **queues_job()},
    responses={
        **_ERRORS,
        413: {"model": ErrorBody, "description": "body or scenario over the size limit"},
        415: {"model": ErrorBody, "description": "neither YAML nor JSON"},
        422: {"model": ErrorBody, "description": "invalid scenario: the message gives its line"},
        429: {"model": ErrorBody, "description": "the job queue is full; see Retry-After"},
        503: {"model": ErrorBody, "description": "the worker pool cannot be reached"},
    },
)
async def create_scenario(
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    runner: RunnerDep,
    request: Request,
    response: Response,
) -> ScenarioSummary:
    """Queue the scenario: its base and each variant are solved, checked and compared.

    The body is the scenario's YAML (``Content-Type: application/yaml``), or a
    ``ScenarioRequest`` as JSON, whose ``time_limit`` overrides the scenario's seconds per
    variant. Poll the answer's ``url`` for progress and, once done, the comparison.
    """
    state = request.app.state
    await run_in_threadpool(refuse_if_full_now, db, settings, runner, state.admitting, agency.id)
    state.admitting += 1  # only the event loop's thread touches it
    try:
        raw = await request.body()
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        async with state.parsing.turn(agency.id):
            scenario_id = await run_in_threadpool(_create, raw, media, agency, db, settings, runner)
    finally:
        state.admitting -= 1
    base = base_url(request, settings.public_url)
    response.headers["Location"] = scenario_url(base, scenario_id)

    def view() -> ScenarioSummary:
        with db.read() as s:
            return scenario_summary(scenario_row(s, agency.id, scenario_id), base)

    return await run_in_threadpool(view)


def _read_body(raw: bytes, media: str, settings: Settings) -> tuple[str, float | None]:
    """The scenario's YAML text and the time limit that overrides its own, if any."""
    override = None
    if media in YAML_TYPES:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(422, "the scenario is not UTF-8 text") from None
    elif media in ("application/json", ""):
        try:
            body = ScenarioRequest.model_validate_json(raw)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            details = validation_details(errors)
            if any(e["type"] == "json_invalid" for e in errors):
                raise ApiError(
                    422, "the request body is not valid JSON", code="invalid_json", details=details
                ) from None
            first = details[0]
            raise ApiError(
                422, f"invalid request: {first.loc}: {first.message}", details=details
            ) from None
        text, override = body.scenario, body.time_limit
    else:
        raise ApiError(
            415, f"send the scenario as application/yaml or application/json, not {media!r}"
        )
    size = len(text.encode())
    if size > settings.max_scenario_bytes:
        raise ApiError(
            413,
            f"the scenario is {mib(size)}, over this service's limit of "
            f"{mib(settings.max_scenario_bytes)}: give a large base by its rota id",
        )
    return text, override


def _invalid(exc: ScenarioError) -> ApiError:
    return ApiError(422, str(exc), details=[ErrorDetail(loc="scenario", message=str(exc))])


def _screen(text: str, max_variants: int) -> None:
    """Refuse what would make reading the YAML costly or crash it: aliases (which can multiply a
    small document a billion times over), deep nesting, integers too long to convert, YAML so
    broken that libyaml gives up (PyYAML's pure-Python reader would then recurse into it), and
    more than ``max_variants`` variants (reading 38,000 took 18 s). libyaml's events, no objects
    built."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    # The top mapping's nodes alternate key, value; the variants are the items of the value
    # of its "variants" key.
    key_next, key, variants_at, variants = True, None, None, 0
    try:
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            is_node = isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent)
            if is_node and depth == 1:
                if key_next:
                    key = event.value if isinstance(event, yaml.ScalarEvent) else None
                    variants_at = line if key == "variants" else variants_at
                elif key == "variants" and isinstance(event, yaml.SequenceStartEvent):
                    variants = 0
                key_next = not key_next
            elif is_node and depth == 2 and key == "variants":
                variants += 1
                if variants > max_variants:
                    raise ScenarioError(
                        SOURCE,
                        variants_at,
                        "variants",
                        f"more than {max_variants} variants; this service runs at most "
                        f"{max_variants} in a scenario",
                    )
            if isinstance(event, yaml.AliasEvent):
                raise ScenarioError(
                    SOURCE, line, "", "aliases (*name) are not accepted here; write it out"
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ScenarioError(SOURCE, line, "", f"nested more than {MAX_DEPTH} deep")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif (
                isinstance(event, yaml.ScalarEvent)
                and not event.style
                and _LONG_INTEGER.fullmatch(event.value)
            ):
                raise ScenarioError(
                    SOURCE,
                    line,
                    "",
                    f"a number of {len(event.value)} characters; numbers here have at most "
                    f"{MAX_INTEGER_CHARS}",
                )
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(SOURCE, line, "", f"not YAML: {problem}") from None


@dataclass(frozen=True)
class _Prepared:
    """A scenario read, its base found and every variant made: ready to queue."""

    scenario: Scenario
    base: Problem
    problem_id: str | None  # the base rota's stored problem, or None to store the base
    base_rota: str | None
    time_limit: float


def _prepare(
    text: str, override: float | None, agency_id: str, db: Database, settings: Settings
) -> _Prepared:
    """Read the scenario, find its base and make every variant (422 with the line if any of it
    fails), within this service's limits."""
    try:
        _screen(text, settings.max_scenario_variants)
        scenario = parse_scenario(text, SOURCE)  # no folder: a path never reads a file
        problem_id = base_rota = None
        if isinstance(scenario.base, Problem):
            base = scenario.base
        elif scenario.base in BUNDLED_BASES:
            base = scenario.base_problem()
        else:
            with db.read() as s:
                row = s.execute(
                    select(Job.problem_id, StoredProblem.body)
                    .join(StoredProblem, StoredProblem.id == Job.problem_id)
                    .where(
                        Job.id == scenario.base,
                        Job.agency_id == agency_id,
                        Job.kind.in_(ROTA_KINDS),
                    )
                ).one_or_none()
            if row is None:
                raise scenario.error(
                    ("base",),
                    f"{scenario.base!r} is none of this agency's rotas nor a bundled agency "
                    f"({', '.join(BUNDLED_BASES)}); or write the problem inline",
                )
            base = Problem.model_validate_json(row.body)
            problem_id, base_rota = row.problem_id, scenario.base
        scenario = scenario.model_copy(update={"base": base})
        if len(scenario.variants) > settings.max_scenario_variants:
            raise scenario.error(
                ("variants",),
                f"{len(scenario.variants)} variants; this service runs at most "
                f"{settings.max_scenario_variants} in a scenario",
            )
        if not 0 <= scenario.seed <= SEED_MAX:
            raise scenario.error(("seed",), f"the seed must be from 0 to {SEED_MAX}")
        time_limit = override or scenario.time_limit
        if time_limit > settings.max_time_limit:
            message = (
                f"time_limit {time_limit:g} is over this service's limit of "
                f"{settings.max_time_limit:g} seconds per variant"
            )
            if override is None:
                raise scenario.error(("time_limit",), message)
            raise ApiError(422, message, details=[ErrorDetail(loc="time_limit", message=message)])
        # Every problem a scenario solves must be one POST /v1/rotas would take.
        for i, (name, problem) in enumerate(scenario.problems()):
            where = ("variants", i - 1) if i else ("base",)
            size = len(problem.model_dump_json(exclude_none=True))
            if size > settings.max_body_bytes:
                raise scenario.error(
                    where,
                    f"the problem of {name!r} is {mib(size)} as JSON, over this service's "
                    f"limit of {mib(settings.max_body_bytes)}",
                )
            for what, count, limit in (
                ("visits", len(problem.visits), settings.max_visits),
                ("workers", len(problem.workers), settings.max_workers),
            ):
                if count > limit:
                    raise scenario.error(
                        where,
                        f"the problem of {name!r} has {count} {what}, over this service's "
                        f"limit of {limit} (CAREROTA_MAX_{what.upper()})",
                    )
    except ScenarioError as exc:
        raise _invalid(exc) from None
    return _Prepared(scenario, base, problem_id, base_rota, time_limit)


def _create(
    raw: bytes, media: str, agency: AgencyRef, db: Database, settings: Settings, runner: JobRunner
) -> str:
    text, override = _read_body(raw, media, settings)
    ready = _prepare(text, override, agency.id, db, settings)
    with db.write() as s:
        # Checked again under the write lock: the queue may have filled while we read.
        refuse_if_full(
            s,
            settings.max_queued_jobs,
            runner.slots,
            agency_id=agency.id,
            agency_quota=settings.max_queued_jobs_per_agency,
        )
        problem_id = ready.problem_id
        if problem_id is not None and s.get(StoredProblem, problem_id) is None:
            raise not_found("rota", str(ready.base_rota))  # erased while we read the scenario
        if problem_id is None:
            base = ready.base
            stored = StoredProblem(
                id=new_id("problem"),
                agency_id=agency.id,
                name=base.agency[:200],
                timezone=base.timezone,
                period_start=base.period.start,
                period_end=base.period.end,
                visits=len(base.visits),
                workers=len(base.workers),
                body=base.model_dump_json(exclude_none=True),
            )
            s.add(stored)
            s.flush()  # no ORM relationships, so the insert order is ours to keep
            problem_id = stored.id
        job = Job(
            id=new_id("whatif"),
            agency_id=agency.id,
            problem_id=problem_id,
            parent_id=ready.base_rota,
            status=QUEUED,
            time_limit=ready.time_limit,
            seed=ready.scenario.seed,
            method="cpsat",
            attempts=0,
            cancel_requested=False,
            progress_seq=0,
            kind=SCENARIO,
            scenario=text,
            result=progress_document(ready.scenario, 0),
        )
        s.add(job)
    submit(db, runner, job.id)
    return job.id


@router.get(
    "", response_model=ScenarioPage, summary="List scenarios, newest first", responses=_ERRORS
)
def list_scenarios(
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: Annotated[str | None, Query(description="the 'next' of the previous page")] = None,
    status: Annotated[JobStatus | None, Query()] = None,
) -> ScenarioPage:
    """The agency's scenario jobs, newest first, ``limit`` at a time; follow ``next`` for more.
    Each one's own URL gives its progress and comparison."""
    with db.read() as session:
        rows, following = scenario_page(
            session, agency.id, limit=limit, cursor=cursor, status=status
        )
    base = base_url(request, settings.public_url)
    next_url = None
    if following is not None:
        next_url = str(request.url.include_query_params(cursor=following))
        if settings.public_url:
            next_url = base + next_url.removeprefix(str(request.base_url).rstrip("/"))
    return ScenarioPage(items=[scenario_summary(r, base) for r in rows], next=next_url)


def _variant_url(scenario: str, name: str) -> str:
    return f"{scenario}/variants/{quote(name, safe='')}"


@router.get(
    "/{scenario_id}",
    response_model=ScenarioOut,
    summary="A scenario: progress, and the comparison once done",
    responses=_ERRORS,
)
def get_scenario(
    scenario_id: str, agency: AgencyDep, db: DbDep, settings: SettingsDep, request: Request
) -> ScenarioOut:
    """Status and progress (variants solved of all, the base included); once done, the
    comparison: each variant's numbers as the independent checker reads its rota. Each
    variant's ``url`` gives its rota and problem."""
    with db.read() as s:
        row = scenario_row(s, agency.id, scenario_id, with_result=True)
    head = scenario_summary(row, base_url(request, settings.public_url))
    doc: dict[str, Any] = json.loads(row.result)
    comparison = None
    if row.status == DONE:
        comparison = ComparisonOut.model_validate(
            {
                **doc,
                "variants": [
                    VariantOut.model_validate({**v, "url": _variant_url(head.url, v["name"])})
                    for v in doc["variants"]
                ],
            }
        )
        name, question = doc["scenario"], doc["question"]
        # Every rota the run made: the variants, the base, and its twin for the noise band.
        done = total = len(doc["variants"]) + int(doc.get("noise") is not None)
    else:
        name, question, done, total = doc["name"], doc["question"], doc["done"], doc["total"]
    return ScenarioOut(
        **head.model_dump(),
        name=name,
        question=question,
        progress=ScenarioProgress(elapsed=row.elapsed, done=done, total=total),
        comparison=comparison,
    )


@router.get(
    "/{scenario_id}/variants/{variant:path}",
    openapi_extra=logged("scenario_variant"),
    response_model=VariantDetail,
    summary="One variant of a finished scenario, with its rota and problem",
    responses={**_ERRORS, 409: {"model": ErrorBody, "description": "not done yet"}},
)
def get_variant(
    scenario_id: str,
    variant: str,
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    request: Request,
) -> VariantDetail:
    """The variant called ``variant`` (``base`` is the base): its numbers, the rota it got and
    the problem it solved, which is the base with the variant's changes made."""
    with db.read() as s:
        row = scenario_row(s, agency.id, scenario_id, with_result=True)
    if row.status != DONE:
        raise ApiError(409, f"the scenario is {row.status}; it has no rotas yet")
    url = scenario_url(base_url(request, settings.public_url), scenario_id)
    for item in json.loads(row.result)["variants"]:
        if item["name"] == variant:
            return VariantDetail.model_validate({**item, "url": _variant_url(url, variant)})
    raise not_found("variant", variant)


@router.post(
    "/{scenario_id}/cancel",
    response_model=ScenarioSummary,
    summary="Stop a scenario",
    responses={
        **_ERRORS,
        202: {"model": ScenarioSummary, "description": "the run is being stopped"},
        409: {"model": ErrorBody, "description": "the scenario already ended"},
    },
)
def cancel_scenario(
    scenario_id: str,
    agency: AgencyDep,
    db: DbDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> ScenarioSummary:
    """A queued scenario ends ``cancelled`` at once (200); a running one is stopped within a
    second (202). Either way nothing of it is kept: no comparison, no rotas."""
    with db.write() as s:
        job = s.scalar(
            select(Job).where(
                Job.id == scenario_id, Job.agency_id == agency.id, Job.kind == SCENARIO
            )
        )
        if job is None:
            raise not_found("scenario", scenario_id)
        if job.status in (DONE, FAILED):
            raise ApiError(409, f"the scenario is already {job.status}; there is nothing to cancel")
        if job.status == QUEUED:
            job.status, job.finished_at = CANCELLED, utcnow()
            job.cancel_requested = True
            job.note = "cancelled before it started"
            job.progress_seq += 1
        elif job.status == SOLVING:
            job.cancel_requested = True
            response.status_code = 202
    with db.read() as s:
        row = scenario_row(s, agency.id, scenario_id)
    return scenario_summary(row, base_url(request, settings.public_url))
