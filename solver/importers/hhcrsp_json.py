"""Reader for the HHCRSP JSON format of Ceschia et al. (iolab-uniud/hhcrsp).

Used for the Kummer et al. (2021) Porto Alegre instances and the Italian instances: ``patients``
(``time_window``, ``required_caregivers`` of ``{service, duration}``, ``synchronization``),
``caregivers`` (``c{n}`` with ``abilities``), one ``central_offices`` depot and an asymmetric
``distances`` matrix ordered depot, p1..pn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from solver.importers.hhcrsp import Instance, Patient, Service


class FormatError(ValueError):
    """The file does not follow the format; the message names the field and the value."""


def _index(ident: str, prefix: str) -> int:
    if not ident.startswith(prefix) or not ident[len(prefix) :].isdigit():
        raise FormatError(f"id {ident!r} is not of the form {prefix}<n>")
    return int(ident[len(prefix) :])


def _whole(value: float, what: str) -> int:
    if value != int(value):
        raise FormatError(f"{what} is {value}; the contract needs whole minutes")
    return int(value)


def parse(raw: dict[str, Any], name: str) -> Instance:
    """The instance in one decoded JSON file."""
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
                low, high = spec["distance"]
                sync = (_whole(low, "delay"), _whole(high, "delay"))
            else:
                raise FormatError(f"{p['id']}: unknown synchronization {spec!r}")
            if services[0].skill == services[1].skill:
                raise FormatError(f"{p['id']} needs service s{services[0].skill} twice")
        e, late = p["time_window"]
        lat, lon = p["location"]
        # The second listed service is the one that follows (the format's own order).
        patients.append(Patient(e=e, l=late, services=services, sync=sync, location=(lat, lon)))
    caregivers = [
        {_index(s, "s") for s in c["abilities"]} for c in _in_order(raw["caregivers"], "c")
    ]
    travel = np.asarray(raw["distances"], dtype=np.float64)
    n = len(patients) + 1
    if travel.shape != (n, n):
        raise FormatError(f"distances is {travel.shape}, expected {n}x{n}")
    office = raw["central_offices"][0]
    return Instance(
        name=name,
        caregivers=caregivers,
        patients=patients,
        travel=travel,
        depot=(float(office["location"][0]), float(office["location"][1])),
    )


def _in_order(items: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    numbered = sorted(items, key=lambda item: _index(item["id"], prefix))
    if [_index(c["id"], prefix) for c in numbered] != list(range(1, len(items) + 1)):
        raise FormatError(f"{prefix} ids are not {prefix}1..{prefix}{len(items)}")
    return numbered
