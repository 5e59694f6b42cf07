"""Who may be pinned to a visit: the service answers with the solver's own rule.

The board used to carry a JavaScript copy of the rule; now it asks
``/board/api/rotas/{id}/visits/{visit}/candidates``. On the week of a clock change (Sunday 25
October 2026, Europe/London) the answer must be exactly ``ProblemData.can_count``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from solver.contract import Problem
from solver.data import build
from tests.api.service import Service

DST_WEEK = Path(__file__).resolve().parents[3] / "shared" / "examples" / "dst-week.json"


def candidates(service: Service, headers: dict[str, str], rota: str, visit: str) -> Any:
    url = f"/board/api/rotas/{rota}/visits/{visit}/candidates"
    return service.client.get(url, headers=headers)


def test_candidates_are_the_solvers_rule_on_a_clock_change_week(service: Service) -> None:
    raw = json.loads(DST_WEEK.read_text())
    headers = service.agency()
    rota = service.submit(headers, raw, method="heuristic")["id"]
    assert service.wait(rota, headers)["status"] == "done"
    data = build(Problem.model_validate(raw))
    # The Sunday of the change and the Saturday before it.
    visits = [v for v in raw["visits"] if v["earliest_start"][:10] in ("2026-10-24", "2026-10-25")]
    assert visits
    for visit in visits[::5]:
        v = data.visit_ids.index(visit["id"])
        body = candidates(service, headers, rota, visit["id"]).json()
        assert body["visit"] == visit["id"]
        got = {c["worker"]: c for c in body["workers"]}
        assert set(got) == set(data.worker_ids)
        for w, worker in enumerate(data.worker_ids):
            assert got[worker]["eligible"] == data.can_count(v, w), (visit["id"], worker)
            assert (got[worker]["why"] is None) == got[worker]["eligible"]
        # Eligible first.
        flags = [c["eligible"] for c in body["workers"]]
        assert flags == sorted(flags, reverse=True)


def test_each_reason_a_worker_cannot_be_pinned(
    service: Service, small_problem: dict[str, Any]
) -> None:
    problem = json.loads(json.dumps(small_problem))
    visit = problem["visits"][0]
    client = next(c for c in problem["clients"] if c["id"] == visit["client"])
    workers = problem["workers"]
    # One worker excluded, one without a skill the visit now needs, one with no shift that day.
    client.pop("gender_preference", None)
    client["excluded_workers"] = [workers[0]["id"]]
    visit["skills"] = sorted({*visit.get("skills", []), "tracheostomy"})
    for w in workers[1:]:
        w["skills"] = sorted({*w.get("skills", []), "tracheostomy"})
    workers[1]["skills"].remove("tracheostomy")
    day = visit["earliest_start"][:10]
    workers[2]["shifts"] = [s for s in workers[2]["shifts"] if not s["start"].startswith(day)]
    headers = service.agency()
    rota = service.submit(headers, problem, method="heuristic")["id"]
    assert service.wait(rota, headers)["status"] == "done"
    got = {
        c["worker"]: c["why"]
        for c in candidates(service, headers, rota, visit["id"]).json()["workers"]
    }
    assert got[workers[0]["id"]] == "excluded by the client"
    assert got[workers[1]["id"]] == "no tracheostomy"
    assert got[workers[2]["id"]] == "no shift then"

    # Another agency, or an unknown visit: 404 as for anything not yours.
    other = service.agency()
    assert candidates(service, other, rota, visit["id"]).status_code == 404
    missing = candidates(service, headers, rota, "v-nobody")
    assert missing.status_code == 404 and "v-nobody" in missing.json()["error"]["message"]
