"""Public benchmark instances (and their published solutions) into the contract.

``carerota import FORMAT FILE -o PROBLEM.json`` runs :func:`import_problem`; ``--solution`` runs
:func:`import_solution`. The data sets live outside the repository (``../shared/benchdata`` or
``$CAREROTA_BENCHDATA``); nothing here copies them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from solver.contract import Problem, Rota
from solver.importers import hhcrsp, hhcrsp_json, mankowska, solomon, solutions

FORMATS = ("mankowska", "hhcrsp-json", "solomon")
BENCHDATA_ENV = "CAREROTA_BENCHDATA"


def read_instance(fmt: str, path: str | Path) -> hhcrsp.Instance | solomon.Instance:
    """The instance file ``path`` in format ``fmt`` (one of FORMATS), parsed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if fmt == "mankowska":
        return mankowska.parse(text, path.stem)
    if fmt == "hhcrsp-json":
        return hhcrsp_json.parse(json.loads(text), path.stem)
    if fmt == "solomon":
        return solomon.parse(text)
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


def import_problem(fmt: str, path: str | Path) -> Problem:
    """The contract problem for the instance file ``path`` in format ``fmt``."""
    inst = read_instance(fmt, path)
    if isinstance(inst, solomon.Instance):
        return solomon.to_problem(inst)
    return hhcrsp.to_problem(inst)


def import_solution(fmt: str, instance: str | Path, solution: str | Path) -> tuple[Problem, Rota]:
    """The problem for ``instance`` and its published ``solution`` file as a rota."""
    inst = read_instance(fmt, instance)
    if isinstance(inst, solomon.Instance):
        problem = solomon.to_problem(inst)
        return problem, solutions.load(fmt, problem, solution)
    problem = hhcrsp.to_problem(inst)
    return problem, solutions.load(fmt, problem, solution, hhcrsp.origin(inst))


def benchdata_dir() -> Path | None:
    """Where the public data sets are: ``$CAREROTA_BENCHDATA``, else ``../shared/benchdata``."""
    given = os.environ.get(BENCHDATA_ENV)
    repo = Path(__file__).resolve().parents[2]
    root = Path(given) if given else repo.parent / "shared" / "benchdata"
    return root.resolve() if root.is_dir() else None
