"""The home-care routing problem of the research literature (HHCRSP), mapped onto the contract.

Mankowska, Meisel & Bierwirth (2014) and the later data sets in their format (Kummer et al. 2021,
Ceschia et al.) share one model: caregivers start and end at one depot at time 0, each patient
needs one or two services (skills) that start in a window ``[e, l]`` (a late start costs its
tardiness), two services of one patient start together or with a delay in ``[min, max]``, and the
cost is (travel including depot legs + total tardiness + max tardiness) / 3. The two file formats
read into :class:`Instance`; :func:`to_problem` is the one mapping into the contract.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final

import numpy as np
from numpy.typing import NDArray

from solver.contract import (
    After,
    Client,
    MatrixTravel,
    Period,
    Place,
    Problem,
    Shift,
    Visit,
    Weights,
    Worker,
)

# The largest time, duration or travel time (minutes) an instance may give: ten days. A finite
# number beyond it cannot be a time in an instance whose events all fit in one day, and would
# overflow the datetimes it maps to.
LARGEST: Final = 14_400.0


class FormatError(ValueError):
    """A file that does not follow its format; ``line`` (1-based) where the file shows it."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


# The instances have no calendar; any day without a clock change will do.
DAY = date(2026, 1, 5)
MIDNIGHT = datetime.combine(DAY, time(0))
DAY_END = 24 * 60 - 1  # the one shift ends at 23:59 so that nothing crosses midnight
# lambda1 = lambda2 = lambda3 = 1/3, as in the paper and every later one.
THIRD = 1.0 / 3.0


@dataclass(frozen=True)
class Service:
    skill: int  # 1-based service index
    duration: int


@dataclass(frozen=True)
class Patient:
    """One patient node; ``sync`` is None (one service), (0, 0) together, or (min, max) delay."""

    e: float
    l: float  # noqa: E741 (the papers' name)
    services: list[Service]
    sync: tuple[int, int] | None = None
    location: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Instance:
    """An HHCRSP instance: node 0 is the depot, nodes 1..n the patients."""

    name: str
    caregivers: list[set[int]]  # per caregiver, the 1-based services it may do
    patients: list[Patient]
    # [n+1, n+1]: travel from node i to node j; row and column 0 are the depot.
    travel: NDArray[np.float64]
    depot: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)
    # A two-service patient's services go to two different caregivers (``distinct_workers`` on
    # the link), where the format's authors say so.
    distinct_workers: bool = False


def worker_id(caregiver: int) -> str:
    """Caregiver ``v`` (1-based) is worker ``cg{v}``."""
    return f"cg{caregiver}"


def client_id(patient: int) -> str:
    """Patient node ``i`` is client ``p{i}``."""
    return f"p{patient}"


def visit_id(patient: int, skill: int) -> str:
    """Service ``s`` of patient ``i`` is visit ``p{i}-s{s}``."""
    return f"p{patient}-s{skill}"


def at(minutes: float) -> datetime:
    """The moment ``minutes`` after midnight of the problem's day, to the nearest second."""
    return MIDNIGHT + timedelta(seconds=round(minutes * 60))


def origin(inst: Instance) -> int:
    """The instance time (whole minutes) that becomes midnight of the problem's day.

    The contract keeps every visit, late or not, inside its window's day. Published solutions of
    the Porto Alegre set finish after instance time 1440, so the day starts at the first moment
    any service could start instead of at the depot's time 0: nothing can happen before it.
    """
    return math.floor(
        min((max(p.e, out) for p, out in zip(inst.patients, leaving(inst), strict=True)), default=0)
    )


def leaving(inst: Instance) -> NDArray[np.float64]:
    """Per patient, the drive straight out of the depot, which leaves at time 0: the earliest
    a first stop there may start. The authors' validators check a first stop against that leg
    alone, even where another patient's node offers a shorter way (the Italian matrices do not
    always keep the triangle inequality: instance 022's p121 is 39 minutes out directly, 38 by
    way of another node)."""
    return inst.travel[0, 1 : len(inst.patients) + 1].astype(np.float64)


def weights() -> Weights:
    """Weights under which the contract's objective is the paper's cost."""
    return Weights(
        unassigned_visit=10000,
        travel_minute=THIRD,
        home_travel_minute=THIRD,
        distinct_worker=0,
        unfamiliar_worker=0,
        contract_shortfall_minute=0,
        late_minute=THIRD,
        max_late_minute=THIRD,
        coordinator_rule=0,
    )


def check(inst: Instance) -> None:
    """Refuse numbers no problem can be made of, naming the patient and the field."""
    for i, p in enumerate(inst.patients, start=1):
        for value in (p.e, p.l):
            if not (math.isfinite(value) and 0.0 <= value <= LARGEST):
                raise FormatError(f"patient {i}'s window has {value}; times are 0 to {LARGEST:g}")
        if p.l < p.e:
            raise FormatError(f"patient {i}'s window [{p.e:g}, {p.l:g}] ends before it starts")
        for s in p.services:
            if not 0 < s.duration <= LARGEST:
                raise FormatError(f"patient {i}'s service s{s.skill} lasts {s.duration} minutes")
        if p.sync is not None and not -LARGEST <= p.sync[0] <= p.sync[1] <= LARGEST:
            raise FormatError(f"patient {i}'s delay {list(p.sync)} is no range of minutes")
    bad = ~np.isfinite(inst.travel) | (inst.travel < 0) | (inst.travel > LARGEST)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise FormatError(f"travel from node {i} to node {j} is {inst.travel[i, j]}")


def to_problem(inst: Instance) -> Problem:
    """The contract problem whose objective equals the instance's published cost function."""
    check(inst)
    n_workers, n_patients = len(inst.caregivers), len(inst.patients)
    home = _place(inst.depot)
    shift = Shift(start=MIDNIGHT, end=MIDNIGHT + timedelta(minutes=DAY_END))
    workers = [
        Worker(
            id=worker_id(v),
            home=home,
            skills=[f"s{s}" for s in sorted(skills)],
            shifts=[shift],
        )
        for v, skills in enumerate(inst.caregivers, start=1)
    ]
    clients = [
        Client(id=client_id(i), location=_place(p.location))
        for i, p in enumerate(inst.patients, start=1)
    ]
    zero = origin(inst)
    out = leaving(inst)
    visits: list[Visit] = []
    for i, p in enumerate(inst.patients, start=1):
        # The windows are whole minutes (Ceschia et al. floor theirs, which carry float noise);
        # the earliest start is also bounded by the drive out of the depot at time 0.
        e, l = math.floor(p.e) - zero, math.floor(p.l) - zero  # noqa: E741
        earliest = at(max(e, math.floor(out[i - 1] * 60) / 60 - zero))
        latest = MIDNIGHT + timedelta(minutes=l)
        first = p.services[0]
        for k, service in enumerate(p.services):
            link = None
            if k == 1 and p.sync is not None:
                link = After(
                    visit=visit_id(i, first.skill),
                    min_minutes=p.sync[0],
                    max_minutes=p.sync[1],
                    distinct_workers=inst.distinct_workers,
                )
            visits.append(
                Visit(
                    id=visit_id(i, service.skill),
                    client=client_id(i),
                    earliest_start=min(earliest, latest),
                    latest_start=latest,
                    duration_minutes=service.duration,
                    skills=[f"s{service.skill}"],
                    after=link,
                    late_allowed_minutes=max(0, DAY_END - service.duration - l),
                )
            )
    places = [worker_id(v) for v in range(1, n_workers + 1)] + [
        client_id(i) for i in range(1, n_patients + 1)
    ]
    # Every worker's home is the depot: rows and columns 0 of the instance's matrix.
    index = np.array([0] * n_workers + list(range(1, n_patients + 1)), dtype=np.int64)
    minutes = inst.travel[np.ix_(index, index)].tolist()
    return Problem(
        agency=inst.name,
        timezone="UTC",
        period=Period(start=DAY, end=DAY),
        travel=MatrixTravel(model="matrix", places=places, minutes=minutes),
        workers=workers,
        clients=clients,
        visits=visits,
        weights=weights(),
    )


def _place(xy: tuple[float, float]) -> Place:
    lat, lon = xy
    return Place(lat=lat, lon=lon)
