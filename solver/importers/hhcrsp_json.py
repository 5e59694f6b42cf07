"""Reader for the HHCRSP JSON format of Ceschia et al. (iolab-uniud/hhcrsp).

Used for the Kummer et al. (2021) Porto Alegre instances and the Italian instances: ``patients``
(``time_window``, ``required_caregivers`` of ``{service, duration}``, ``synchronization``),
``caregivers`` (``c{n}`` with ``abilities``), one ``central_offices`` depot and an asymmetric
``distances`` matrix ordered depot, p1..pn. A two-service patient's services go to two different
caregivers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from solver.importers.hhcrsp import FormatError, Instance, Patient, Service


def _index(ident: Any, prefix: str) -> int:
    number = ident[len(prefix) :] if isinstance(ident, str) and ident.startswith(prefix) else ""
    if not (number.isascii() and number.isdigit()):
        raise FormatError(f"id {ident!r} is not of the form {prefix}<n>")
    return int(number)


def _whole(value: Any, what: str) -> int:
    if not _number(value) or value != int(value):
        raise FormatError(f"{what} is {value!r}; the contract needs whole minutes")
    return int(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _pair(value: Any, what: str) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2 and all(_number(v) for v in value)):
        raise FormatError(f"{what} is {value!r}, not two numbers")
    return float(value[0]), float(value[1])


def _checked_start(e: float) -> float:
    """The first whole minute the authors' validator lets a two-service patient's visits start.

    Their validator (``validator/solution.py``, ``validate_solution``) checks the window start only
    for patients with two services, against the file's raw value with ``math.isclose(...,
    rel_tol=1e-3)``. The Italian files carry float noise: a start at 433 fails
    433.99999999999994 (0.434 of tolerance), one at 438 passes 438.00000000000006. So round up
    unless the floor is within their tolerance; :func:`hhcrsp.to_problem` then floors a whole
    number to itself. One-service windows are left to its floor: the validator does not check
    their start and the published solutions start them at the floor.
    """
    low = math.floor(e)
    return float(low if math.isclose(e, low, rel_tol=1e-3) else math.ceil(e))


def parse(raw: Any, name: str) -> Instance:
    """The instance in one decoded JSON file."""
    try:
        return _parse(raw, name)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        # The file's structure is not the format's: a field missing, or of another kind.
        raise FormatError(f"not the format's structure ({type(exc).__name__}: {exc})") from None


def _parse(raw: Any, name: str) -> Instance:
    patients: list[Patient] = []
    for k, p in enumerate(raw["patients"], start=1):
        if _index(p["id"], "p") != k:
            raise FormatError(f"patients[{k - 1}] is {p['id']!r}, expected 'p{k}'")
        needs = p["required_caregivers"]
        services = [
            Service(_index(r["service"], "s"), _whole(r["duration"], f"{p['id']} duration"))
            for r in needs
        ]
        if len(services) not in (1, 2):
            raise FormatError(f"{p['id']} needs {len(services)} caregivers")
        sync: tuple[int, int] | None = None
        if len(services) == 2:
            spec = p.get("synchronization") or {}
            if spec.get("type") == "simultaneous":
                sync = (0, 0)
            elif spec.get("type") == "sequential":
                low, high = _pair(spec["distance"], f"{p['id']} synchronization distance")
                sync = (_whole(low, "delay"), _whole(high, "delay"))
            else:
                raise FormatError(f"{p['id']}: unknown synchronization {spec!r}")
            if services[0].skill == services[1].skill:
                raise FormatError(f"{p['id']} needs service s{services[0].skill} twice")
        e, late = _pair(p["time_window"], f"{p['id']} time_window")
        lat, lon = _pair(p["location"], f"{p['id']} location")
        if len(services) == 2:
            e = _checked_start(e)
        # The second listed service is the one that follows (the format's own order).
        patients.append(Patient(e=e, l=late, services=services, sync=sync, location=(lat, lon)))
    caregivers = [
        {_index(s, "s") for s in c["abilities"]} for c in _in_order(raw["caregivers"], "c")
    ]
    n = len(patients) + 1
    rows = raw["distances"]
    if not (isinstance(rows, list) and len(rows) == n and all(isinstance(r, list) for r in rows)):
        raise FormatError(f"distances is not {n} rows (the office and {n - 1} patients)")
    for i, row in enumerate(rows):
        if len(row) != n or not all(_number(v) for v in row):
            raise FormatError(f"distances row {i} is not {n} numbers")
    return Instance(
        name=name,
        caregivers=caregivers,
        patients=patients,
        travel=np.array(rows, dtype=np.float64),
        depot=_pair(raw["central_offices"][0]["location"], "central_offices[0] location"),
        # The format's authors refuse one caregiver on both services of a patient: their toolbox
        # (iolab-uniud/hhcrsp-toolbox, Solution.check_validity) says "requires double service but
        # they are provided by the same caregiver"; none of their published best rotas does it.
        distinct_workers=True,
    )


def _in_order(items: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    numbered = sorted(items, key=lambda item: _index(item["id"], prefix))
    if [_index(c["id"], prefix) for c in numbered] != list(range(1, len(items) + 1)):
        raise FormatError(f"{prefix} ids are not {prefix}1..{prefix}{len(items)}")
    return numbered
