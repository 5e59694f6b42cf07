"""An agency's own records: its carers and coordinators, its clients and their care packages.

These are what an office keeps from week to week, as opposed to a contract problem, which is one
week's worth of them. :mod:`scenarios.planning` turns records into a week's problem; the service
stores them (``/v1/workers``, ``/v1/clients``, ``/v1/packages``) and
:mod:`scenarios.spreadsheets` reads and writes them as CSV and XLSX.

- A **worker** (carer or coordinator) has a usual weekly availability (a pattern of
  ``{day, start, end}``) and dated exceptions (leave, training, sickness) that take days out of it.
  Hours are hours here, as an office counts them; the problem gets minutes.
- A **client** lives somewhere, may belong to an area, and may name a coordinator, carers they
  prefer or refuse, a gender preference and a care plan.
- A **care package** is a recurring visit: on some days of the week, every N weeks counted from
  its start date, until an optional end date, starting in a window of the day, for a duration,
  with one or two carers with some skills, optionally "at least 3 h after" another package of the
  same client on the same day.
"""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from solver.contract import Phone, Place, TravelMode

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: Final[tuple[Weekday, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RecordKind = Literal["worker", "client", "package"]
Clock = Annotated[time, PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)]
"""A time of day, written HH:MM as an office writes it."""

Ident = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s@/]+$")]
"""A record's id as the office writes it: no spaces, no ``@`` (visit ids use it) or ``/``."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class Available(_Record):
    """A stretch of a usual week: ``{"day": "mon", "start": "07:00", "end": "14:00"}``."""

    day: Weekday
    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _ordered(self) -> Available:
        if self.end <= self.start:
            raise ValueError(f"ends at {self.end:%H:%M}, not after its start {self.start:%H:%M}")
        return self


class Away(_Record):
    """Days a worker is not available whatever the pattern says (both dates included)."""

    start: date
    end: date
    reason: Literal["leave", "training", "sickness", "other"] = "leave"
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> Away:
        if self.end < self.start:
            raise ValueError(f"ends on {self.end}, before its start {self.start}")
        return self


class WorkerRecord(_Record):
    """A carer or coordinator as the office keeps them."""

    id: Ident
    name: str | None = Field(default=None, max_length=200)
    role: Literal["carer", "coordinator"] = "carer"
    areas: list[str] = Field(
        default_factory=list, description="areas (teams, branches) they work in; none: every area"
    )
    home: Place
    travel_mode: TravelMode = "car"
    skills: list[str] = Field(default_factory=list)
    gender: str | None = None
    contracted_hours_per_week: float | None = Field(default=None, ge=0, le=168)
    max_hours_per_week: float | None = Field(default=None, ge=0, le=168)
    max_hours_per_day: float | None = Field(default=None, ge=0, le=24)
    availability: list[Available] = Field(default_factory=list)
    away: list[Away] = Field(default_factory=list, description="leave, training, sickness")
    phone: Phone | None = None

    @field_validator("skills", "areas")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        return sorted({v.strip() for v in values if v.strip()})


class ClientRecord(_Record):
    """A client as the office keeps them."""

    id: Ident
    name: str | None = Field(default=None, max_length=200)
    area: str | None = Field(default=None, max_length=200)
    location: Place
    address: str | None = Field(default=None, max_length=500)
    phone: Phone | None = None
    coordinator: str | None = None
    preferred_workers: list[str] = Field(default_factory=list)
    excluded_workers: list[str] = Field(default_factory=list)
    gender_preference: str | None = None
    care_plan: str | None = Field(default=None, max_length=5000)


class PackageLink(_Record):
    """This package's visit starts ``min_minutes`` to ``max_minutes`` after the named package's
    visit on the same day starts (e.g. lunch at least 180 minutes after breakfast); with
    ``distinct_workers``, no carer may do both (the contract's link option of that name)."""

    package: Ident
    min_minutes: int = Field(ge=-1440, le=1440)
    max_minutes: int = Field(ge=-1440, le=1440)
    distinct_workers: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> PackageLink:
        if self.max_minutes < self.min_minutes:
            raise ValueError("max_minutes is below min_minutes")
        return self


class PackageRecord(_Record):
    """A recurring visit of one client."""

    id: Ident
    client: Ident
    days: list[Weekday] = Field(min_length=1)
    every_weeks: int = Field(default=1, ge=1, le=52, description="1: weekly, 2: fortnightly...")
    start_date: date = Field(description="the first week it runs (every_weeks counts from here)")
    end_date: date | None = Field(default=None, description="the last day it runs")
    earliest_start: Clock
    latest_start: Clock
    duration_minutes: int = Field(gt=0, le=1440)
    workers_required: int = Field(default=1, ge=1, le=2)
    skills: list[str] = Field(default_factory=list)
    after: PackageLink | None = None
    late_allowed_minutes: int = Field(default=0, ge=0, le=1440)
    note: str | None = Field(default=None, max_length=1000)

    @field_validator("days")
    @classmethod
    def _distinct_days(cls, values: list[Weekday]) -> list[Weekday]:
        return [d for d in WEEKDAYS if d in values]

    @field_validator("skills")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        return sorted({v.strip() for v in values if v.strip()})

    @model_validator(mode="after")
    def _consistent(self) -> PackageRecord:
        if self.latest_start < self.earliest_start:
            raise ValueError(
                f"latest_start {self.latest_start:%H:%M} is before earliest_start "
                f"{self.earliest_start:%H:%M}"
            )
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        if self.after is not None and self.after.package == self.id:
            raise ValueError("a package cannot follow itself")
        return self


class HistoryRecord(_Record):
    """A past visit (a carer or, with ``coordinator`` set, a coordinator visit) from a rota or
    visit log kept before carerota: who saw whom, on which day."""

    client: Ident
    worker: Ident
    date: date
    coordinator: bool = False


class Records(BaseModel):
    """Everything the office keeps, as one bundle (what a plan is built from)."""

    workers: list[WorkerRecord] = Field(default_factory=list)
    clients: list[ClientRecord] = Field(default_factory=list)
    packages: list[PackageRecord] = Field(default_factory=list)
    history: list[HistoryRecord] = Field(default_factory=list)
