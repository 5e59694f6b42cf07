"""The weekly cycle on spreadsheets: week 2's history is week 1's rota, so it keeps its faces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scenarios.sample_agency import FIRST_WEEK, sample_records, weekly_cycle
from scenarios.spreadsheets import write_workbook
from solver.checker import check
from solver.contract import Problem
from solver.options import SolveOptions
from solver.solve import solve


def test_two_weeks_in_a_row_from_spreadsheets(tmp_path: Path) -> None:
    records = sample_records(clients=8, seed=3)
    write_workbook(
        tmp_path / "agency.xlsx",
        {
            "carers": records.workers,
            "clients": records.clients,
            "packages": records.packages,
            "history": records.history,
        },
    )
    seen: list[dict[str, Any]] = []
    rotas: list[dict[str, Any]] = []

    def quick(problem: dict[str, Any]) -> dict[str, Any]:
        seen.append(problem)
        model = Problem.model_validate(problem)
        rota = solve(model, SolveOptions(method="heuristic"))
        assert check(model, rota).ok
        dumped: dict[str, Any] = rota.model_dump(mode="json", exclude_none=True)
        rotas.append(dumped)
        return dumped

    first, second = weekly_cycle(quick, weeks=2, directory=tmp_path)
    assert (first.week, second.week) == (FIRST_WEEK, FIRST_WEEK.replace(day=11))
    assert first.kept_share is None and second.kept_share is not None
    assert second.staffed == second.visits
    # Every carer on week 1 is history (familiar) in week 2's problem...
    client_of = {v["id"]: v["client"] for v in seen[0]["visits"]}
    worked = {(client_of[a["visit"]], w) for a in rotas[0]["assignments"] for w in a["workers"]}
    assert worked <= {(h["client"], h["worker"]) for h in seen[1]["history"]["visits"]}
    # ...and the construction, preferring familiar carers, brings most of them back.
    assert second.kept_share >= 0.8
    assert second.familiar_share >= 0.9
