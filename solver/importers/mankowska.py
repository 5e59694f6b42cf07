"""Reader for the Mankowska, Meisel & Bierwirth (2014) ``.txt`` instances (sets A-G).

The format (``benchdata/mankowska2014/SOURCE.md``) is whitespace separated, in sections headed
by a keyword line: ``nbNodes``, ``nbVehi``, ``nbServi``, ``r``, ``DS``, ``a``, ``x``, ``y``,
``d``, ``p``, ``mind``, ``maxd``, ``e``, ``l``. Node 0 is the depot start, node N-1 the depot
end, nodes 1..N-2 the patients.
"""

from __future__ import annotations

import math

import numpy as np

from solver.importers.hhcrsp import FormatError, Instance, Patient, Service

SECTIONS = (
    "nbNodes",
    "nbVehi",
    "nbServi",
    "r",
    "DS",
    "a",
    "x",
    "y",
    "d",
    "p",
    "mind",
    "maxd",
    "e",
    "l",
)


def _sections(text: str) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Each section's numbers, and the line of its keyword."""
    out: dict[str, list[float]] = {}
    lines: dict[str, int] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        for token in line.split():
            if token[0].isalpha():
                if token not in SECTIONS:
                    raise FormatError(f"unknown section {token!r}", number)
                if token in out:
                    raise FormatError(
                        f"section {token} again (first on line {lines[token]})", number
                    )
                current, out[token], lines[token] = token, [], number
                continue
            if current is None:
                raise FormatError(f"value {token!r} before the first section", number)
            try:
                value = float(token)
            except ValueError:
                raise FormatError(f"section {current}: {token!r} is not a number", number) from None
            if not math.isfinite(value):
                raise FormatError(f"section {current}: {token!r} is not a finite number", number)
            out[current].append(value)
    missing = [s for s in SECTIONS if s not in out]
    if missing:
        raise FormatError(f"missing sections: {', '.join(missing)}")
    return out, lines


def _whole(values: list[float], what: str, line: int) -> list[int]:
    """Durations and delays are whole minutes in the contract; say so if a file has fractions."""
    if any(v != int(v) for v in values):
        raise FormatError(
            f"section {what} has fractional values; the contract needs whole minutes", line
        )
    return [int(v) for v in values]


def parse(text: str, name: str) -> Instance:
    """The instance in ``text`` (the contents of one ``.txt`` file)."""
    s, at = _sections(text)
    counts = []
    for key in ("nbNodes", "nbVehi", "nbServi"):
        if len(s[key]) != 1 or s[key][0] != int(s[key][0]) or s[key][0] < 1:
            raise FormatError(f"section {key} is {s[key]}, not one count of at least 1", at[key])
        counts.append(int(s[key][0]))
    n_nodes, n_vehicles, n_services = counts
    if n_nodes < 3:
        raise FormatError(f"nbNodes is {n_nodes}: a depot at each end and a patient", at["nbNodes"])
    sizes = {
        "r": n_nodes * n_services,
        "a": n_vehicles * n_services,
        "x": n_nodes,
        "y": n_nodes,
        "d": n_nodes * n_nodes,
        "p": n_nodes * n_vehicles * n_services,
        "mind": n_nodes,
        "maxd": n_nodes,
        "e": n_nodes,
        "l": n_nodes,
    }
    for key, size in sizes.items():
        if len(s[key]) != size:
            raise FormatError(f"section {key} has {len(s[key])} values, expected {size}", at[key])
    r = np.array(s["r"]).reshape(n_nodes, n_services)
    a = np.array(s["a"]).reshape(n_vehicles, n_services)
    d = np.array(s["d"]).reshape(n_nodes, n_nodes)
    p = np.array(_whole(s["p"], "p", at["p"])).reshape(n_nodes, n_vehicles, n_services)
    mind, maxd = _whole(s["mind"], "mind", at["mind"]), _whole(s["maxd"], "maxd", at["maxd"])
    double = {int(row) - 1 for row in _whole(s["DS"], "DS", at["DS"])}  # DS lists 1-based rows
    patients: list[Patient] = []
    for i in range(1, n_nodes - 1):
        skills = [int(k) + 1 for k in np.flatnonzero(r[i])]
        if len(skills) not in (1, 2) or (len(skills) == 2) != (i in double):
            raise FormatError(
                f"node {i} needs services {skills}, DS lists {sorted(double)}", at["r"]
            )
        durations = p[i, :, :]
        if (durations != durations[0]).any():
            raise FormatError(f"node {i}: processing times depend on the caregiver", at["p"])
        patients.append(
            Patient(
                e=s["e"][i],
                l=s["l"][i],
                services=[Service(k, int(durations[0, k - 1])) for k in skills],
                sync=(mind[i], maxd[i]) if len(skills) == 2 else None,
                # x, y are plane coordinates; squeezed into valid degrees for show only.
                location=(s["y"][i] / 1000.0, s["x"][i] / 1000.0),
            )
        )
    # Travel in and out of the depot: out from node 0, back into node N-1 (the same place).
    index = [*range(n_nodes - 1)]
    travel = d[np.ix_(index, index)].copy()
    travel[:, 0] = d[index, n_nodes - 1]
    return Instance(
        name=name,
        caregivers=[{int(k) + 1 for k in np.flatnonzero(row)} for row in a],
        patients=patients,
        travel=travel,
        depot=(s["y"][0] / 1000.0, s["x"][0] / 1000.0),
    )
