"""Reader for Solomon (1987) and Gehring & Homberger VRPTW instances, without capacity.

One worker per vehicle (``v{k}``), all at the depot, one shift from the depot's ready time to its
due date; each customer a one-visit client (client and visit ``c{id}``) whose start window is hard.
Travel is the Euclidean distance, exact. The contract has no capacity, so the demands are
dropped: results are for the **uncapacitated** problem and say so wherever they are compared.

The contract keeps a visit's window inside one calendar day. Where the horizon is longer than a
day (C2 runs to 3,390), time is scaled by an integer factor ``k`` (1 Solomon unit = 1/k minute)
chosen so that the horizon fits and service times stay whole minutes; windows are then rounded
inwards to whole minutes and ``travel_minute = home_travel_minute = k`` keeps the objective equal
to the distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from numpy.typing import NDArray

from solver.contract import (
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
from solver.importers.hhcrsp import DAY, DAY_END, MIDNIGHT, FormatError, at


@dataclass(frozen=True)
class Instance:
    """A VRPTW instance; row 0 of ``nodes`` is the depot (id, x, y, demand, ready, due, service)."""

    name: str
    vehicles: int
    capacity: int
    nodes: NDArray[np.float64]

    @property
    def distances(self) -> NDArray[np.float64]:
        xy = self.nodes[:, 1:3]
        out: NDArray[np.float64] = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
        return out


def parse(text: str) -> Instance:
    """The instance in ``text`` (the contents of one Solomon-format file)."""
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise FormatError("empty file")
    name = lines[0][1][0]
    vehicles: int | None = None
    capacity = 0
    rows: list[list[float]] = []
    table = False
    for k, (number, parts) in enumerate(lines):
        if parts[0].upper() == "NUMBER":
            if k + 1 == len(lines):
                raise FormatError("NUMBER CAPACITY without a line of values", number)
            vehicles, capacity = _counts(*lines[k + 1])
        elif parts[0].upper() == "CUST":
            table = True  # every line after the column names is a customer
        elif table:
            rows.append(_row(parts, number))
    if vehicles is None:
        raise FormatError("no VEHICLE NUMBER/CAPACITY block")
    if not rows or rows[0][0] != 0:
        raise FormatError("the customer table must start with the depot, customer 0")
    return Instance(name, vehicles, capacity, np.array(rows, dtype=np.float64))


def _counts(line: int, parts: list[str]) -> tuple[int, int]:
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts) or int(parts[0]) < 1:
        raise FormatError(f"vehicles and capacity are {' '.join(parts)!r}, not two counts", line)
    return int(parts[0]), int(parts[1])


# Coordinates and times beyond this are no Solomon-style instance (theirs are at most a few
# thousand) and would overflow the datetimes they map to.
LARGEST = 1e6


def _row(parts: list[str], line: int) -> list[float]:
    """A customer line: id, x, y, demand, ready, due, service, all finite, the id whole."""
    if len(parts) != 7:
        raise FormatError(f"a customer line has 7 numbers, not {len(parts)}", line)
    try:
        row = [float(p) for p in parts]
    except ValueError:
        raise FormatError(f"{' '.join(parts)!r} is not 7 numbers", line) from None
    if not all(math.isfinite(v) and abs(v) <= LARGEST for v in row) or row[0] != int(row[0]):
        raise FormatError(f"{' '.join(parts)!r}: numbers must be finite, the id whole", line)
    return row


def time_scale(inst: Instance) -> int:
    """The smallest integer k that fits the horizon into one day with whole service minutes."""
    horizon, services = inst.nodes[0, 5], inst.nodes[1:, 6]
    for k in range(1, 100):
        if horizon / k <= DAY_END and all((s / k).is_integer() for s in services):
            return k
    raise FormatError(f"no time scale fits horizon {horizon} into one day")


def to_problem(inst: Instance) -> Problem:
    """The uncapacitated contract problem: travel (= distance) is the whole objective."""
    k = time_scale(inst)
    dist = inst.distances
    ready0, due0 = inst.nodes[0, 4] / k, inst.nodes[0, 5] / k
    shift = Shift(start=at(ready0), end=MIDNIGHT + timedelta(minutes=math.floor(due0)))
    depot = _place(inst.nodes[0])
    workers = [Worker(id=f"v{n}", home=depot, shifts=[shift]) for n in range(1, inst.vehicles + 1)]
    clients, visits = [], []
    for row, reach in zip(inst.nodes[1:], dist[0, 1:] / k, strict=True):
        cid = f"c{int(row[0])}"
        ready, due, service = row[4] / k, row[5] / k, int(row[6] / k)
        # No start before the drive out of the depot (to the second, as a rota writes it).
        early = max(ready, ready0 + math.floor(reach * 60) / 60)
        if k > 1:
            early = math.ceil(early - 1e-9)  # scaled windows are rounded inwards
        late = math.floor(due + 1e-9)
        clients.append(Client(id=cid, location=_place(row)))
        visits.append(
            Visit(
                id=cid,
                client=cid,
                earliest_start=at(min(early, late)),
                latest_start=MIDNIGHT + timedelta(minutes=late),
                duration_minutes=service,
            )
        )
    places = [w.id for w in workers] + [c.id for c in clients]
    index = np.array([0] * len(workers) + list(range(1, len(clients) + 1)), dtype=np.int64)
    return Problem(
        agency=inst.name,
        timezone="UTC",
        period=Period(start=DAY, end=DAY),
        travel=MatrixTravel(
            model="matrix", places=places, minutes=(dist[np.ix_(index, index)] / k).tolist()
        ),
        workers=workers,
        clients=clients,
        visits=visits,
        weights=Weights(
            unassigned_visit=10000,
            travel_minute=k,
            home_travel_minute=k,
            distinct_worker=0,
            unfamiliar_worker=0,
            contract_shortfall_minute=0,
            late_minute=0,
            max_late_minute=0,
            coordinator_rule=0,
        ),
    )


def _place(row: NDArray[np.float64]) -> Place:
    # Plane coordinates, squeezed into valid degrees for show only; travel is the matrix.
    return Place(lat=float(row[2]) / 1000.0, lon=float(row[1]) / 1000.0)
