"""What every solver test asks of a rota, in one place."""

from __future__ import annotations

import pytest

from solver.checker import Report, check
from solver.contract import Problem, Rota


def verified(problem: Problem, rota: Rota) -> Report:
    """Check ``rota`` and the invariants every rota must keep; return the checker's report."""
    report = check(problem, rota)
    assert report.ok, [str(b) for b in report.breaches[:5]]
    ids = [a.visit for a in rota.assignments] + [u.visit for u in rota.unassigned]
    assert sorted(ids) == sorted(v.id for v in problem.visits)  # every visit exactly once
    assert all(u.reason.strip() for u in rota.unassigned)
    assert rota.objective == pytest.approx(report.objective, abs=0.01)
    coordinator = [v for v in rota.violations if v.rule == "coordinator_monthly_visit"]
    assert len(coordinator) == len(report.shortfalls)
    return report
