"""The rota contract, version 1, as pydantic v2 models (see ``shared/contract.md``).

These models are the edge of the product: the command line, the HTTP API and the scenario files
all speak them. They validate what a coordinator's spreadsheet export really gets wrong and name
the field path and the offending value in every message. Inside the solver nothing reads them in a
hot loop: :func:`solver.data.build` converts a :class:`Problem` into plain numpy arrays once.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

SCHEMA_VERSION: Final = 1
Loc = tuple[str | int, ...]
# The largest integer a JSON number carries exactly everywhere (RFC 8259, section 6). Minute
# counts beyond it are not numbers another program would read back the same.
MAX_EXACT: Final = 2**53 - 1
# The longest great-circle trip on Earth (half its circumference), in km.
FARTHEST_KM: Final = 20_015.1
# A weight's largest value. Weights price one minute or one visit against another: a factor of a
# million between two of them already says "never", and larger ones (1e308, 2**63) overflow the
# solver's integer objective instead of meaning anything more.
MAX_WEIGHT: Final = 1_000_000.0
# The longest period, in days: a year's rota (a leap year's). Longer ones are no rota anyone
# publishes, and the solver's arrays grow with the period's days.
MAX_PERIOD_DAYS: Final = 366

_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")

_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,39}$")


def _phone(value: str) -> str:
    if not _PHONE_RE.match(value):
        raise ValueError(
            f"{value!r} is not a telephone number: digits, with an optional leading + and "
            "spaces, brackets or dashes, 3 to 40 characters"
        )
    return value


Phone = Annotated[
    str,
    AfterValidator(_phone),
    Field(
        description="optional: a telephone number, digits with an optional leading +, spaces, "
        "brackets and dashes as people write it (e.g. +44 113 496 0123); run sheets dial it",
        json_schema_extra={"pattern": _PHONE_RE.pattern},
    ),
]
"""A telephone number as an office writes it; :func:`tel_uri` is what a phone dials."""


def tel_uri(phone: str) -> str:
    """The ``tel:`` link of a phone number: its leading + and digits only (RFC 3966 drops the
    spaces, brackets and dashes people write for reading)."""
    return "tel:" + ("+" if phone.startswith("+") else "") + re.sub(r"\D", "", phone)


def _parse_local_datetime(value: Any) -> datetime:
    """Accept only the contract's ``YYYY-MM-DDTHH:MM[:SS]`` wall-clock form, without offset."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError(
                f"{value.isoformat()!r} carries a UTC offset; give local wall-clock time"
            )
        return value
    if not isinstance(value, str) or not _DATETIME_RE.match(value):
        raise ValueError(f"{value!r} is not a local datetime of the form YYYY-MM-DDTHH:MM")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real calendar datetime") from None


def parse_local_datetime(value: object) -> datetime:
    """A wall-clock datetime from ``YYYY-MM-DDTHH:MM[:SS]`` (ValueError with the reason)."""
    return _parse_local_datetime(value)


def format_local_datetime(value: datetime) -> str:
    """Write a wall-clock datetime as the contract does: seconds only when there are some."""
    return value.strftime("%Y-%m-%dT%H:%M:%S" if value.second else "%Y-%m-%dT%H:%M")


LocalDateTime = Annotated[
    datetime,
    BeforeValidator(_parse_local_datetime),
    PlainSerializer(format_local_datetime, return_type=str),
    # JSON Schema's "date-time" requires a UTC offset, which the contract refuses: say what it
    # takes instead, so generated clients (and API fuzzers) send wall-clock times.
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$",
            "description": "local wall-clock time, YYYY-MM-DDTHH:MM[:SS], without offset",
        }
    ),
]


class _Model(BaseModel):
    """Contract objects reject unknown fields: a typo in a field name must not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Input(_Model):
    """Problem objects also refuse NaN and infinity, which pydantic's JSON reader accepts but
    JSON has no numbers for (a rota may still carry an infinite objective it was given)."""

    model_config = ConfigDict(allow_inf_nan=False)


class Place(_Input):
    lat: float = Field(ge=-90.0, le=90.0, description="latitude, WGS84 degrees")
    lon: float = Field(ge=-180.0, le=180.0, description="longitude, WGS84 degrees")


class Period(_Input):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"period end {self.end} is before its start {self.start}")
        days = (self.end - self.start).days + 1
        if days > MAX_PERIOD_DAYS:
            raise ValueError(
                f"the period {self.start} to {self.end} is {days} days; at most "
                f"{MAX_PERIOD_DAYS} (a year) are solved at once"
            )
        return self

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


TravelMode = Literal["car", "walk", "bike", "public_transport"]


def _default_speeds() -> dict[TravelMode, float]:
    return {"car": 30.0, "walk": 4.5, "bike": 14.0, "public_transport": 15.0}


class HaversineTravel(_Input):
    model: Literal["haversine"] = "haversine"
    road_factor: float = Field(default=1.3, gt=0.0)
    speeds_kmh: dict[TravelMode, Annotated[float, Field(gt=0.0)]] = Field(
        default_factory=_default_speeds
    )

    @field_validator("speeds_kmh")
    @classmethod
    def _all_modes(cls, value: dict[TravelMode, float]) -> dict[TravelMode, float]:
        # A partial table keeps the defaults for the modes it does not name.
        return {**_default_speeds(), **value}


class MatrixTravel(_Input):
    model: Literal["matrix"]
    places: list[str]
    minutes: list[list[Annotated[float, Field(ge=0.0, le=MAX_EXACT)]]]


Travel = Annotated[HaversineTravel | MatrixTravel, Field(discriminator="model")]


class Shift(_Input):
    start: LocalDateTime
    end: LocalDateTime

    @model_validator(mode="after")
    def _ordered(self) -> Shift:
        if self.end <= self.start:
            raise ValueError(
                f"shift end {format_local_datetime(self.end)} is not after its start "
                f"{format_local_datetime(self.start)}"
            )
        return self


class Worker(_Input):
    id: str = Field(min_length=1)
    name: str | None = None
    role: Literal["carer", "coordinator"] = "carer"
    home: Place
    travel_mode: TravelMode = "car"
    skills: list[str] = Field(default_factory=list)
    gender: str | None = None
    shifts: list[Shift] = Field(default_factory=list)
    max_minutes_per_week: int | None = Field(default=None, ge=0, le=MAX_EXACT)
    max_minutes_per_day: int | None = Field(default=None, ge=0, le=MAX_EXACT)
    contracted_minutes_per_week: int | None = Field(default=None, ge=0, le=MAX_EXACT)
    phone: Phone | None = None


class Client(_Input):
    id: str = Field(min_length=1)
    name: str | None = None
    location: Place
    coordinator: str | None = None
    preferred_workers: list[str] = Field(default_factory=list)
    excluded_workers: list[str] = Field(default_factory=list)
    gender_preference: str | None = None
    care_plan: str | None = None
    address: str | None = Field(default=None, description="optional: street address for run sheets")
    phone: Phone | None = None


class After(_Input):
    visit: str
    min_minutes: int = Field(ge=-MAX_EXACT, le=MAX_EXACT)
    max_minutes: int = Field(ge=-MAX_EXACT, le=MAX_EXACT)
    distinct_workers: bool = Field(
        default=False,
        description="optional: when both visits are staffed, no worker is counted on both",
    )

    @model_validator(mode="after")
    def _ordered(self) -> After:
        if self.max_minutes < self.min_minutes:
            raise ValueError(
                f"max_minutes {self.max_minutes} is below min_minutes {self.min_minutes}"
            )
        return self


class Visit(_Input):
    id: str = Field(min_length=1)
    client: str
    earliest_start: LocalDateTime
    latest_start: LocalDateTime
    duration_minutes: int = Field(gt=0, le=MAX_EXACT)
    workers_required: int = Field(default=1, ge=1, le=2)
    skills: list[str] = Field(default_factory=list)
    pinned_workers: list[str] = Field(default_factory=list)
    after: After | None = None
    late_allowed_minutes: int = Field(default=0, ge=0, le=MAX_EXACT)

    @model_validator(mode="after")
    def _window(self) -> Visit:
        early, late = self.earliest_start, self.latest_start
        if early > late:
            raise ValueError(
                f"earliest_start {format_local_datetime(early)} is after latest_start "
                f"{format_local_datetime(late)}"
            )
        if early.date() != late.date():
            raise ValueError(
                f"window {format_local_datetime(early)} to {format_local_datetime(late)} spans "
                "two days; a visit's window lies within one day"
            )
        if len(set(self.pinned_workers)) != len(self.pinned_workers):
            raise ValueError(f"pinned_workers lists a worker twice: {self.pinned_workers}")
        if len(self.pinned_workers) > self.workers_required:
            raise ValueError(
                f"{len(self.pinned_workers)} pinned workers on a visit that needs "
                f"{self.workers_required}"
            )
        return self


class HistoryVisit(_Input):
    client: str
    worker: str
    date: date


class HistoryCoordinatorVisit(_Input):
    coordinator: str
    client: str
    date: date


class History(_Input):
    visits: list[HistoryVisit] = Field(default_factory=list)
    coordinator_visits: list[HistoryCoordinatorVisit] = Field(default_factory=list)


_CLOCK_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class DayPart(_Input):
    """One of the agency's blocks of the day, from ``start`` (local HH:MM) to the next one's."""

    name: str = Field(min_length=1)
    start: str = Field(description="local time HH:MM the block starts")

    @field_validator("start")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK_RE.match(value):
            raise ValueError(f"{value!r} is not a time of day of the form HH:MM")
        return value

    @property
    def minute(self) -> int:
        """Minutes after local midnight."""
        return int(self.start[:2]) * 60 + int(self.start[3:])


class Weights(_Input):
    unassigned_visit: float = Field(default=10000, ge=0, le=MAX_WEIGHT)
    travel_minute: float = Field(default=1, ge=0, le=MAX_WEIGHT)
    home_travel_minute: float = Field(default=0, ge=0, le=MAX_WEIGHT)
    distinct_worker: float = Field(default=30, ge=0, le=MAX_WEIGHT)
    unfamiliar_worker: float = Field(default=60, ge=0, le=MAX_WEIGHT)
    contract_shortfall_minute: float = Field(default=0.1, ge=0, le=MAX_WEIGHT)
    late_minute: float = Field(default=5, ge=0, le=MAX_WEIGHT)
    max_late_minute: float = Field(default=0, ge=0, le=MAX_WEIGHT)
    coordinator_rule: float = Field(default=5000, ge=0, le=MAX_WEIGHT)
    # The agency's continuity policy (docs/continuity.md). The defaults change nothing: each
    # term below is priced, and listed among a rota's objective terms, only when its weight is
    # above zero.
    faces_cap: int | None = Field(
        default=None,
        ge=1,
        le=MAX_EXACT,
        description="optional: the most different carers a client should see in a week "
        "(each 7 days of the period); each one more costs faces_over_cap",
    )
    faces_over_cap: float = Field(
        default=0, ge=0, le=MAX_WEIGHT, description="per carer above faces_cap, per client and week"
    )
    faces_cap_hard: bool = Field(
        default=False,
        description="the care-team model never plans a team above faces_cap; the rota keeps it "
        "soft, so no visit is left unstaffed for it",
    )
    primary_carer_share: float = Field(
        default=0,
        ge=0,
        le=1,
        description="share of each client's visit slots its primary carer (the one with most) "
        "should take",
    )
    primary_share_shortfall: float = Field(
        default=0,
        ge=0,
        le=MAX_WEIGHT,
        description="per visit slot a client's primary carer falls short of primary_carer_share",
    )
    face_travel_minutes: float = Field(
        default=0,
        ge=0,
        le=MAX_WEIGHT,
        description="travel minutes a carer saved per client is worth: each carer beyond the "
        "first costs this many minutes at travel_minute's price",
    )
    unfamiliar_visit: float = Field(
        default=0,
        ge=0,
        le=MAX_WEIGHT,
        description="per visit slot (a visit's workers counted one each) taken by a carer the "
        "client does not know (not in their history or preferred workers)",
    )


def _error(loc: Loc, message: str, value: Any) -> InitErrorDetails:
    # The message goes through ctx so that braces in ids cannot break pydantic's formatting.
    return InitErrorDetails(
        type=PydanticCustomError("carerota", "{message}", {"message": message}),
        loc=loc,
        input=value,
    )


# Pydantic's own messages ("Input should be less than or equal to 90") do not show the value.
_NAMES_ITS_VALUE: Final = frozenset({"carerota", "value_error", "assertion_error"})


def with_value(item: ErrorDetails) -> InitErrorDetails:
    """The error with ``(got <value>)`` added to a built-in message that does not show it, at
    the field path the input has (without the travel model pydantic puts in the path)."""
    value, message, loc = item["input"], item["msg"], item["loc"]
    if item["type"] not in _NAMES_ITS_VALUE and isinstance(value, str | int | float | bool):
        message = f"{message} (got {value!r})"
    if loc[:1] == ("travel",) and loc[1:2] in (("haversine",), ("matrix",)):
        loc = loc[:1] + loc[2:]
    return InitErrorDetails(
        type=PydanticCustomError(item["type"], "{message}", {"message": message}),
        loc=loc,
        input=value,
    )


def _duplicates(ids: Iterable[str], field: str) -> Iterator[InitErrorDetails]:
    first: dict[str, int] = {}
    for i, ident in enumerate(ids):
        if ident in first:
            yield _error(
                (field, i, "id"), f"duplicate id {ident!r} (also {field}[{first[ident]}])", ident
            )
        else:
            first[ident] = i


def _check_local(
    moment: datetime, zone: ZoneInfo, loc: Loc, tz_name: str
) -> InitErrorDetails | None:
    """A wall-clock time that a clock change skips or repeats names no single instant."""
    early = moment.replace(tzinfo=zone, fold=0)
    late = moment.replace(tzinfo=zone, fold=1)
    text = format_local_datetime(moment)
    if early.utcoffset() != late.utcoffset():
        # Inside a gap the round trip through UTC lands on another wall-clock time.
        roundtrip = early.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None)
        if roundtrip != moment:
            return _error(loc, f"{text} does not exist in {tz_name} (clocks go forward)", text)
        return _error(loc, f"{text} is ambiguous in {tz_name} (clocks go back)", text)
    return None


class Problem(_Input):
    """An agency's week: who can work when, who needs which visits, and what matters most."""

    schema_version: Literal[1] = SCHEMA_VERSION
    agency: str = ""
    timezone: str
    period: Period
    travel: Travel = Field(default_factory=HaversineTravel)
    workers: list[Worker]
    clients: list[Client]
    visits: list[Visit]
    history: History = Field(default_factory=History)
    weights: Weights = Field(default_factory=Weights)
    day_parts: list[DayPart] | None = Field(
        default=None,
        min_length=1,
        description="optional: the agency's blocks of the day for planning care teams "
        "(docs/continuity.md), in order; the time before the first belongs to the last. "
        "Default: morning 06:00, lunch 11:00, tea 15:00, bed 19:00, night 22:30",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _name_values(cls, data: Any, handler: ModelWrapValidatorHandler[Problem]) -> Problem:
        try:
            return handler(data)
        except ValidationError as exc:
            errors = [with_value(item) for item in exc.errors()]
            raise ValidationError.from_exception_data(exc.title, errors) from None

    @field_validator("day_parts")
    @classmethod
    def _parts_in_order(cls, value: list[DayPart] | None) -> list[DayPart] | None:
        for before, part in itertools.pairwise(value or []):
            if part.minute <= before.minute:
                raise ValueError(
                    f"day part {part.name!r} starts at {part.start}, not after "
                    f"{before.name!r} at {before.start}; list the parts in the order of the day"
                )
        names = [p.name for p in value or []]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"day part {name!r} is named twice")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        # A region's name ("Europe") is a folder of the zone database: IsADirectoryError.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"{value!r} is not an IANA timezone name") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Problem:
        errors = list(self.consistency_errors())
        if errors:
            raise ValidationError.from_exception_data("Problem", errors)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def consistency_errors(self) -> Iterator[InitErrorDetails]:
        """Every cross-reference and calendar error, each with its field path."""
        yield from _duplicates((w.id for w in self.workers), "workers")
        yield from _duplicates((c.id for c in self.clients), "clients")
        yield from _duplicates((v.id for v in self.visits), "visits")
        workers = {w.id: w for w in self.workers}
        clients = {c.id for c in self.clients}
        visits = {v.id for v in self.visits}
        yield from self._datetime_errors()
        for i, client in enumerate(self.clients):
            if client.coordinator is not None:
                boss = workers.get(client.coordinator)
                if boss is None:
                    yield _error(
                        ("clients", i, "coordinator"),
                        f"unknown worker {client.coordinator!r}",
                        client.coordinator,
                    )
                elif boss.role != "coordinator":
                    yield _error(
                        ("clients", i, "coordinator"),
                        f"worker {boss.id!r} is a {boss.role}, not a coordinator",
                        boss.id,
                    )
            for field in ("preferred_workers", "excluded_workers"):
                for j, ident in enumerate(getattr(client, field)):
                    if ident not in workers:
                        yield _error(("clients", i, field, j), f"unknown worker {ident!r}", ident)
        longest_shift = max(
            (self._elapsed(s.start, s.end) for w in self.workers for s in w.shifts),
            default=timedelta(0),
        ) // timedelta(minutes=1)
        for i, visit in enumerate(self.visits):
            if visit.client not in clients:
                yield _error(
                    ("visits", i, "client"), f"unknown client {visit.client!r}", visit.client
                )
            for j, ident in enumerate(visit.pinned_workers):
                if ident not in workers:
                    yield _error(
                        ("visits", i, "pinned_workers", j), f"unknown worker {ident!r}", ident
                    )
            if visit.after is not None:
                if visit.after.visit not in visits:
                    yield _error(
                        ("visits", i, "after", "visit"),
                        f"unknown visit {visit.after.visit!r}",
                        visit.after.visit,
                    )
                elif visit.after.visit == visit.id:
                    yield _error(
                        ("visits", i, "after", "visit"), "a visit cannot follow itself", visit.id
                    )
            if visit.duration_minutes > longest_shift:
                yield _error(
                    ("visits", i, "duration_minutes"),
                    f"{visit.duration_minutes} minutes is longer than any shift "
                    f"(longest {longest_shift} minutes)",
                    visit.duration_minutes,
                )
        yield from self._after_cycles()
        for i, seen in enumerate(self.history.visits):
            if seen.client not in clients:
                yield _error(
                    ("history", "visits", i, "client"),
                    f"unknown client {seen.client!r}",
                    seen.client,
                )
            if seen.worker not in workers:
                yield _error(
                    ("history", "visits", i, "worker"),
                    f"unknown worker {seen.worker!r}",
                    seen.worker,
                )
        for i, done in enumerate(self.history.coordinator_visits):
            if done.client not in clients:
                yield _error(
                    ("history", "coordinator_visits", i, "client"),
                    f"unknown client {done.client!r}",
                    done.client,
                )
            if done.coordinator not in workers:
                yield _error(
                    ("history", "coordinator_visits", i, "coordinator"),
                    f"unknown worker {done.coordinator!r}",
                    done.coordinator,
                )
        yield from self._travel_errors(workers.keys() | clients)

    def _after_cycles(self) -> Iterator[InitErrorDetails]:
        """``after`` links that lead back to where they started: a visit that would follow itself.

        Each visit names at most one earlier visit, so following the links from any visit either
        ends or runs into a loop; each loop is reported once, at its first visit in the list.
        """
        index = {v.id: i for i, v in enumerate(self.visits)}
        follows = {
            i: index[v.after.visit]
            for i, v in enumerate(self.visits)
            if v.after is not None and v.after.visit in index and v.after.visit != v.id
        }
        settled: set[int] = set()
        for start in range(len(self.visits)):
            path: dict[int, int] = {}  # visit index -> its place on this walk
            at: int | None = start
            while at is not None and at not in settled and at not in path:
                path[at] = len(path)
                at = follows.get(at)
            settled.update(path)
            if at is not None and at in path:
                loop = list(path)[path[at] :]
                turn = loop.index(min(loop))
                ids = [self.visits[k].id for k in loop[turn:] + loop[:turn]]
                chain = ", which starts after ".join(repr(ident) for ident in [*ids[1:], ids[0]])
                yield _error(
                    ("visits", loop[turn], "after", "visit"),
                    f"after links loop: {ids[0]!r} starts after {chain}",
                    ids[1],
                )

    def _elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Real time between two wall-clock moments (a shift over a clock change)."""
        utc = ZoneInfo("UTC")
        return end.replace(tzinfo=self.zone).astimezone(utc) - start.replace(
            tzinfo=self.zone
        ).astimezone(utc)

    def _datetime_errors(self) -> Iterator[InitErrorDetails]:
        zone, tz_name = self.zone, self.timezone
        first, last = self.period.start, self.period.end
        for i, worker in enumerate(self.workers):
            for j, shift in enumerate(worker.shifts):
                for field in ("start", "end"):
                    loc: Loc = ("workers", i, "shifts", j, field)
                    problem = _check_local(getattr(shift, field), zone, loc, tz_name)
                    if problem is not None:
                        yield problem
        for i, visit in enumerate(self.visits):
            for field in ("earliest_start", "latest_start"):
                moment: datetime = getattr(visit, field)
                loc = ("visits", i, field)
                problem = _check_local(moment, zone, loc, tz_name)
                if problem is not None:
                    yield problem
                elif not first <= moment.date() <= last:
                    text = format_local_datetime(moment)
                    yield _error(loc, f"{text} is outside the period {first} to {last}", text)

    def _travel_errors(self, place_ids: set[str]) -> Iterator[InitErrorDetails]:
        travel = self.travel
        if isinstance(travel, HaversineTravel):
            for mode in sorted({w.travel_mode for w in self.workers}):
                speed = travel.speeds_kmh[mode]
                longest = FARTHEST_KM * travel.road_factor / speed * 60.0
                if longest > MAX_EXACT:
                    yield _error(
                        ("travel", "speeds_kmh", mode),
                        f"{speed:g} km/h with road_factor {travel.road_factor:g} makes the "
                        f"longest trip {longest:.3g} minutes, beyond {MAX_EXACT}",
                        speed,
                    )
            return
        n = len(travel.places)
        yield from (
            _error(("travel", "places", i), f"duplicate place id {p!r}", p)
            for i, p in enumerate(travel.places)
            if p in travel.places[:i]
        )
        for i, p in enumerate(travel.places):
            if p not in place_ids:
                yield _error(("travel", "places", i), f"{p!r} is neither a worker nor a client", p)
        missing = sorted(place_ids - set(travel.places))
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
            yield _error(
                ("travel", "places"), f"no row for {len(missing)} places: {shown}", missing[:5]
            )
        if len(travel.minutes) != n:
            yield _error(
                ("travel", "minutes"),
                f"{len(travel.minutes)} rows for {n} places; the matrix must be {n}x{n}",
                len(travel.minutes),
            )
        for i, row in enumerate(travel.minutes):
            if len(row) != n:
                yield _error(
                    ("travel", "minutes", i), f"row has {len(row)} entries for {n} places", len(row)
                )


# ---------------------------------------------------------------------------------------------
# The rota: the answer


class Assignment(_Model):
    visit: str
    workers: list[str]
    start: LocalDateTime


class CoordinatorVisit(_Model):
    visit: str
    coordinator: str
    mode: Literal["cover", "shadow"]


class Unassigned(_Model):
    visit: str
    reason: str


class Stop(_Model):
    visit: str
    start: LocalDateTime
    end: LocalDateTime
    travel_minutes_before: float
    mode: Literal["care", "shadow"] = "care"


class Route(_Model):
    worker: str
    date: date
    stops: list[Stop]
    travel_minutes: float
    home_travel_minutes: float
    visit_minutes: int


class FacesClient(_Model):
    """A client seeing many carers, and why."""

    client: str
    name: str | None = None
    faces: int = Field(description="different workers who attend the client in the period")
    unfamiliar: int = Field(description="of them, workers not familiar to the client before")
    fewest_possible: int = Field(
        description="the fewest carers with the skills and shifts for all its visits "
        "(capacity ignored)"
    )
    why: str


class ContinuityMetrics(_Model):
    """Continuity of carer (docs/continuity.md), computed from the problem and the rota alone."""

    faces_per_client_week: float = Field(
        description="mean different workers per client per 7 days of the period"
    )
    faces_per_client_14_days: float = Field(
        description="mean different workers per client over the last 14 days (history included)"
    )
    faces_per_client_28_days: float = Field(
        description="mean different workers per client over the last 28 days (history included)"
    )
    familiar_share: float = Field(description="share of visit slots taken by a familiar carer")
    familiar_ceiling: float = Field(
        description="share of visit slots a familiar carer with the skills and a shift could take"
    )
    fewest_faces_possible: float = Field(
        description="mean over clients of the fewest carers with the skills and shifts for all "
        "their visits (capacity ignored)"
    )
    continuity_of_care_index: float = Field(
        description="mean Bice-Boxerman continuity-of-care index over clients (1: one carer)"
    )
    most_faces: list[FacesClient] = Field(default_factory=list)


class Metrics(_Model):
    model_config = ConfigDict(extra="allow")

    visits_total: int
    visits_assigned: int
    travel_minutes: float
    mean_distinct_workers_per_client: float
    familiar_visit_share: float
    objective_terms: dict[str, float] | None = Field(
        default=None, description="optional: the objective by weight name, each term weighted"
    )
    continuity: ContinuityMetrics | None = Field(
        default=None, description="optional: continuity of carer measures"
    )


class Violation(_Model):
    model_config = ConfigDict(extra="allow")

    rule: str
    coordinator: str | None = None
    client: str | None = None
    month: str | None = None
    visit: str | None = None
    worker: str | None = None
    detail: str


class CareTeam(_Model):
    """A client's regular carers, the primary carer (most planned minutes) first."""

    client: str
    workers: list[str]


Status = Literal["optimal", "feasible", "infeasible", "unknown"]


class Rota(_Model):
    """A rota for one problem: every visit staffed or listed as unstaffed with a reason."""

    model_config = ConfigDict(extra="allow")

    schema_version: Literal[1] = SCHEMA_VERSION
    status: Status
    objective: float | None = None
    best_bound: float | None = None
    assignments: list[Assignment] = Field(default_factory=list)
    coordinator_visits: list[CoordinatorVisit] = Field(default_factory=list)
    unassigned: list[Unassigned] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    metrics: Metrics | None = None
    violations: list[Violation] = Field(default_factory=list)
    teams: list[CareTeam] | None = Field(
        default=None,
        description="optional: each client's care team (the regular carers the rota was "
        "planned around), primary carer first",
    )
