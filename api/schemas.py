"""The API's request and response bodies (besides the contract's ``Problem`` and ``Rota``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scenarios.whatif import Kpis
from solver.contract import Problem

JobStatus = Literal["queued", "solving", "done", "failed", "cancelled"]


class SolveOptionsIn(BaseModel):
    """How to solve: seconds to search and the random seed (same seed, same rota)."""

    model_config = ConfigDict(extra="forbid")

    time_limit: float | None = Field(
        default=None, gt=0, description="seconds of search; the service's default when omitted"
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    method: Literal["engine", "cpsat", "heuristic"] = Field(
        default="engine",
        description="engine: the optimiser (the route engine, then CP-SAT); cpsat: CP-SAT's "
        "neighbourhood search alone; heuristic: the fast construction alone",
    )


class RotaRequest(BaseModel):
    """A rota to make: a problem, or a parent rota to re-solve (its problem by default)."""

    model_config = ConfigDict(extra="forbid")

    problem: Problem | None = Field(
        default=None, description="the agency's week (the contract's problem)"
    )
    options: SolveOptionsIn = Field(default_factory=SolveOptionsIn)
    parent: str | None = Field(
        default=None,
        description="id of the rota this one changes; the new one is a new version of it",
    )

    @model_validator(mode="after")
    def _something_to_solve(self) -> RotaRequest:
        if self.problem is None and self.parent is None:
            raise ValueError("give a problem, or a parent rota whose problem to solve again")
        return self


class Progress(BaseModel):
    elapsed: float | None = Field(description="seconds since the solve started")
    objective: float | None = Field(description="the best rota's objective so far")
    bound: float | None = Field(description="a proven lower bound on the objective")
    gap: float | None = Field(description="(objective - bound) / objective")
    visits_staffed: int | None = Field(
        default=None,
        description="visits the best rota so far staffs (the rota's own count once done); "
        "none until the search reports it",
    )
    visits_total: int = Field(default=0, description="visits in the problem")
    travel_minutes: float | None = Field(
        default=None, description="the best rota so far's travel between visits, every worker"
    )
    carers_per_client: float | None = Field(
        default=None,
        description="the best rota so far's mean different carers per client with a visit staffed",
    )


class PeriodOut(BaseModel):
    start: date
    end: date


class CheckOut(BaseModel):
    ok: bool = Field(description="the independent checker found every hard rule kept")
    breaches: int


class RotaSummary(BaseModel):
    """A rota job and its version, without the rota itself."""

    id: str
    url: str
    status: JobStatus
    agency: str = Field(description="the problem's agency name")
    period: PeriodOut
    visits: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    options: SolveOptionsIn
    progress: Progress
    attempts: int
    cancel_requested: bool
    error: str | None = Field(description="why the job failed")
    note: str | None = Field(description="what happened to the job, e.g. a retry")
    parent: str | None
    solver_status: str | None = Field(description="the rota's status: optimal, feasible, ...")
    source: str | None = Field(
        description="'search' (the solve's answer) or 'construction' (a cancelled solve's rota)"
    )
    check: CheckOut | None
    published: bool
    published_at: datetime | None
    links: dict[str, str]


class RotaOut(RotaSummary):
    rota: dict[str, Any] | None = Field(description="the contract's rota, once there is one")


class RotaPage(BaseModel):
    items: list[RotaSummary]
    next: str | None = Field(description="URL of the next page, if any")


class TermOut(BaseModel):
    term: str
    label: str
    value: float
    share: float


class ClientCostOut(BaseModel):
    client: str
    name: str | None
    workers: int
    unfamiliar_workers: int
    cost: float


class ExplanationOut(BaseModel):
    id: str
    objective: float
    terms: list[TermOut]
    clients: list[ClientCostOut]
    unstaffed: list[dict[str, Any]]
    violations: list[dict[str, Any]]
    check: dict[str, Any]


class CarerLinkOut(BaseModel):
    id: str = Field(description="the link's id, to list or revoke it (never the token)")
    worker: str
    token: str = Field(description="shown once; the service keeps only its hash")
    runsheet_url: str
    runsheet_html_url: str
    calendar_url: str
    expires_at: datetime


class CarerLinkInfo(BaseModel):
    """A carer link as listed: everything but the token, which the service does not keep."""

    id: str
    worker: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    made_by_key: str | None = Field(description="the id of the API key that made it")
    rota: str | None = Field(description="the rota version it was made from, if any")
    active: bool = Field(description="neither revoked nor expired")


class CarerLinkPage(BaseModel):
    items: list[CarerLinkInfo]
    next: str | None = Field(description="URL of the next page, if any")


class RevokeLinksIn(BaseModel):
    """Which links to revoke: a carer's, those an API key made, both filters, or ``all``."""

    model_config = ConfigDict(extra="forbid")

    worker: str | None = Field(default=None, min_length=1, max_length=200)
    made_by_key: str | None = Field(default=None, min_length=1, max_length=32)
    all: bool = Field(default=False, description="every live link of the agency")

    @model_validator(mode="after")
    def _says_which(self) -> RevokeLinksIn:
        if self.all == (self.worker is not None or self.made_by_key is not None):
            raise ValueError("give 'worker' and/or 'made_by_key', or 'all': true (not both)")
        return self


class RevokedOut(BaseModel):
    revoked: int = Field(description="links revoked by this request")


class HealthOut(BaseModel):
    status: str
    checks: dict[str, str] = {}


# ---------------------------------------------------------------------------------------------
# What-if scenarios


class ScenarioRequest(BaseModel):
    """A what-if scenario to run: its YAML text (the same file ``carerota whatif`` reads)."""

    model_config = ConfigDict(extra="forbid")

    scenario: str = Field(
        min_length=1,
        description="the scenario as YAML: name, base, variants (see scenarios/examples/); "
        "base is one of this agency's rota ids (that rota's problem), a bundled agency "
        "('small', 'medium') or a problem written inline",
    )
    time_limit: float | None = Field(
        default=None, gt=0, description="seconds per variant; the scenario's own when omitted"
    )


class ScenarioProgress(BaseModel):
    elapsed: float | None = Field(description="seconds since the run started")
    done: int | None = Field(description="variants solved so far (the base is one)")
    total: int | None = Field(description="variants to solve, the base included")


class ScenarioSummary(BaseModel):
    """A what-if scenario job, without its results."""

    id: str
    url: str
    status: JobStatus
    agency: str = Field(description="the base problem's agency name")
    period: PeriodOut
    visits: int = Field(description="visits of the base problem")
    base_rota: str | None = Field(description="the rota whose problem is the base, if one is")
    time_limit: float = Field(description="seconds per variant")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    cancel_requested: bool
    error: str | None = Field(description="why the run failed")
    note: str | None = Field(description="what happened to the job, e.g. a retry")
    links: dict[str, str]


class VariantOut(BaseModel):
    """One column of the comparison: a variant's numbers, from the independent checker."""

    name: str
    description: str
    changes: list[str] = Field(description="the variant's changes, in words")
    workers: int
    clients: int
    status: str = Field(description="the solve's status: optimal, feasible, ...")
    checker_ok: bool = Field(description="the independent checker found every hard rule kept")
    breaches: list[str] = Field(description="the first hard-rule breaches, if any")
    kpis: Kpis
    url: str = Field(description="this variant with its rota and problem")


class ComparisonOut(BaseModel):
    """A finished scenario: the base first, then each variant."""

    scenario: str
    question: str
    time_limit: float
    reproducible: bool
    seed: int
    variants: list[VariantOut]


class ScenarioOut(ScenarioSummary):
    name: str = Field(description="the scenario's name")
    question: str
    progress: ScenarioProgress
    comparison: ComparisonOut | None = Field(
        description="once done: each variant's numbers (rotas at each variant's url)"
    )


class VariantDetail(VariantOut):
    rota: dict[str, Any] = Field(description="the contract's rota of this variant")
    problem: dict[str, Any] = Field(description="the problem it solves: the base, changed")


class ScenarioPage(BaseModel):
    items: list[ScenarioSummary]
    next: str | None = Field(description="URL of the next page, if any")
