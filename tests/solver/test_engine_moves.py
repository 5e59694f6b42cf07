"""The engine's moves one at a time, on agencies small enough to follow by hand.

Each test loads a deliberately poor rota, lets the annealing use one kind of move only, and
checks that the move found the improvement it exists for, with the rota checked independently.
Travel (see tests/builders.py): Ann-Bob 9 min, Ann-Cy 3, Cy-Bob 6; the same place 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba.core.runtime import _nrt_python

from scenarios.generator import generate
from solver.contract import Problem
from solver.data import ProblemData, build
from solver.engine import kernels as k
from solver.engine.search import CHUNK, MOVE_NAMES, Engine
from solver.rota import Solution, account, to_rota
from tests.builders import (
    ANN,
    BOB,
    CY,
    MONTH_END,
    Raw,
    agency,
    carer,
    client,
    coordinator,
    knows,
    problem,
    visit,
)
from tests.helpers import verified


def only(engine: Engine, move: str, moves: int = 2000, seed: int = 0) -> np.ndarray:
    """Anneal cold with one kind of move; returns the per-move statistics."""
    weights = np.zeros(k.N_MOVES)
    weights[MOVE_NAMES.index(move)] = 1.0
    c, s = engine.c, engine.s
    k.seed(seed)
    stats = np.zeros((k.N_MOVES, 4), dtype=np.int64)
    best_routes, best_rlen = s.route.copy(), s.rlen.copy()
    best, saved = np.array([engine.objective]), np.array([1], dtype=np.int64)
    s.saved_routes[:] = s.route
    s.saved_rlen[:] = s.rlen
    k.anneal(c, s, moves, 0, moves, 0.5, 0.01, weights, stats, best_routes, best_rlen, best,
             saved)  # fmt: skip
    k.keep_best(s, best_routes, best_rlen, saved)
    engine.load_routes(best_routes, best_rlen)
    return stats


def loaded(p: Problem, plan: dict[str, tuple[str, list[str]]]) -> tuple[ProblemData, Engine]:
    """An engine holding ``plan``: visit id -> (start HH:MM on Monday, worker ids)."""
    data = build(p)
    vi = {v: i for i, v in enumerate(data.visit_ids)}
    wi = {w: i for i, w in enumerate(data.worker_ids)}
    sol = Solution()
    for vid, (hhmm, workers) in plan.items():
        hh, mm = hhmm.split(":")
        v = vi[vid]
        sol.start[v] = int(data.day_start[int(data.visit_day[v])]) + 60 * int(hh) + int(mm)
        sol.workers[v] = [wi[w] for w in workers]
    engine = Engine(data)
    assert engine.load(sol)
    return data, engine


def crews(data: ProblemData, sol: Solution) -> dict[str, list[str]]:
    return {
        data.visit_ids[v]: sorted(data.worker_ids[w] for w in ws) for v, ws in sol.workers.items()
    }


def checked(p: Problem, data: ProblemData, engine: Engine) -> float:
    sol = engine.solution()
    report = verified(p, to_rota(data, sol, status="feasible", reasons={}))
    assert report.objective == pytest.approx(engine.objective, abs=1e-6)
    assert account(data, sol).objective == pytest.approx(engine.objective, abs=1e-6)
    return float(report.objective)


def two_carers_two_clients() -> Problem:
    """Amy knows Ann, Bea knows Bob; each client has one visit at 08:00 and one at 10:00."""
    return agency(
        workers=[carer("w-amy"), carer("w-bea")],
        clients=[client("c-ann", ANN), client("c-bob", BOB)],
        visits=[
            visit("v-ann1", "c-ann", "08:00"),
            visit("v-ann2", "c-ann", "10:00"),
            visit("v-bob1", "c-bob", "08:00"),
            visit("v-bob2", "c-bob", "10:00"),
        ],
        history=knows(("w-amy", "c-ann"), ("w-bea", "c-bob")),
    )


# Crossed: each carer drives Ann <-> Bob (9 min) and each client sees both carers, one of
# them a stranger: 2 x 9 travel + 2 x 30 second faces + 2 x 60 unfamiliar = 198.
CROSSED = {
    "v-ann1": ("08:00", ["w-amy"]),
    "v-bob2": ("10:00", ["w-amy"]),
    "v-bob1": ("08:00", ["w-bea"]),
    "v-ann2": ("10:00", ["w-bea"]),
}
UNCROSSED = {"v-ann1": ["w-amy"], "v-ann2": ["w-amy"], "v-bob1": ["w-bea"], "v-bob2": ["w-bea"]}


def test_crossed_rota_costs_what_the_comment_says() -> None:
    p = two_carers_two_clients()
    data, engine = loaded(p, CROSSED)
    assert checked(p, data, engine) == 2 * 9 + 2 * 30 + 2 * 60


@pytest.mark.parametrize("move", ["swap", "2-opt*", "client-swap", "ruin"])
def test_each_move_uncrosses_two_carers(move: str) -> None:
    # Swapping the 10:00 visits, exchanging the routes' tails after 08:00, trading the two
    # clients for the day, or ruining and rebuilding: each reaches the uncrossed rota, which
    # costs 0. (Relocating or handing over one client's visits cannot: the other carer is busy
    # at 10:00.)
    p = two_carers_two_clients()
    data, engine = loaded(p, CROSSED)
    stats = only(engine, move)
    assert stats[MOVE_NAMES.index(move), 3] >= 1  # an improving move was made
    assert crews(data, engine.solution()) == UNCROSSED
    assert checked(p, data, engine) == 0


def test_relocate_moves_a_visit_to_the_carer_on_the_spot() -> None:
    # Without Ann's 10:00 visit: Amy drives Ann -> Bob (9) for Bob's 10:00, where Bob sees a
    # stranger (30 + 60) = 99. Bea, at Bob at 08:00 and free after, takes it: 0.
    p = two_carers_two_clients()
    p = p.model_copy(update={"visits": [v for v in p.visits if v.id != "v-ann2"]})
    plan = {v: (t, ws) for v, (t, ws) in CROSSED.items() if v != "v-ann2"}
    data, engine = loaded(p, plan)
    assert checked(p, data, engine) == 9 + 30 + 60
    only(engine, "relocate")
    assert crews(data, engine.solution()) == {
        "v-ann1": ["w-amy"],
        "v-bob1": ["w-bea"],
        "v-bob2": ["w-bea"],
    }
    assert checked(p, data, engine) == 0


def test_handover_removes_a_face() -> None:
    # Ann has visits at 08:00, 10:00 and 12:00; Amy (whom she knows) does two, Bea (a stranger)
    # the one in between: 30 for the second face + 60 unfamiliar = 90. Handing Bea's visits to
    # Ann over to Amy, who is free at 10:00, leaves one familiar face: 0.
    p = agency(
        workers=[carer("w-amy"), carer("w-bea")],
        visits=[
            visit("v-1", "c-ann", "08:00"),
            visit("v-2", "c-ann", "10:00"),
            visit("v-3", "c-ann", "12:00"),
        ],
    )
    data, engine = loaded(
        p, {"v-1": ("08:00", ["w-amy"]), "v-2": ("10:00", ["w-bea"]), "v-3": ("12:00", ["w-amy"])}
    )
    assert checked(p, data, engine) == 90
    only(engine, "handover")
    assert crews(data, engine.solution()) == {"v-1": ["w-amy"], "v-2": ["w-amy"], "v-3": ["w-amy"]}
    assert checked(p, data, engine) == 0


def test_intra_route_move_reorders_a_route() -> None:
    # Amy alone: Ann, Bob, Cy in windows that allow any order. Ann -> Bob -> Cy drives 9 + 6 =
    # 15; Ann -> Cy -> Bob drives 3 + 6 = 9, the best order.
    p = agency(
        clients=[client("c-ann", ANN), client("c-bob", BOB), client("c-cy", CY)],
        visits=[
            visit("v-ann", "c-ann", "08:00"),
            visit("v-bob", "c-bob", "08:40", "10:00"),
            visit("v-cy", "c-cy", "08:40", "10:00"),
        ],
        history=knows(("w-amy", "c-ann"), ("w-amy", "c-bob"), ("w-amy", "c-cy")),
    )
    data, engine = loaded(
        p,
        {
            "v-ann": ("08:00", ["w-amy"]),
            "v-bob": ("08:40", ["w-amy"]),
            "v-cy": ("09:20", ["w-amy"]),
        },
    )
    assert checked(p, data, engine) == 15
    only(engine, "intra")
    assert checked(p, data, engine) == 9


@pytest.mark.parametrize("repairs", [0, 1])
def test_room_is_made_during_the_annealing_when_asked(repairs: int) -> None:
    # Amy alone: Ann's visit may start 08:00-10:00 and sits at 08:00; Bob's must start at
    # 08:00 and is unstaffed. The annealing may only re-order a route (which cannot staff
    # anything); a repair midway moves Ann's visit later and staffs Bob's.
    p = agency(
        clients=[client("c-ann", ANN), client("c-bob", BOB)],
        visits=[visit("v-ann", "c-ann", "08:00", "10:00"), visit("v-bob", "c-bob", "08:00")],
        history=knows(("w-amy", "c-ann"), ("w-amy", "c-bob")),
    )
    data, engine = loaded(p, {"v-ann": ("08:00", ["w-amy"])})
    weights = np.zeros(k.N_MOVES)
    weights[MOVE_NAMES.index("intra")] = 1.0
    engine.anneal(2 * CHUNK, 0, weights=weights, repairs=repairs)
    staffed = crews(data, engine.solution())
    assert ("v-bob" in staffed) == (repairs > 0)
    checked(p, data, engine)


def test_insert_staffs_a_visit_left_out() -> None:
    # Bob's visit is unstaffed (10,000); Bea is free and knows Bob.
    p = two_carers_two_clients()
    plan = {v: (t, ws) for v, (t, ws) in CROSSED.items() if v != "v-bob1"}
    data, engine = loaded(p, plan)
    assert engine.terms()["unassigned_visit"] == 1
    only(engine, "insert")
    assert engine.terms()["unassigned_visit"] == 0
    checked(p, data, engine)


def test_insert_makes_room_down_a_chain() -> None:
    # Ann's visit needs the hoist only Amy holds; Amy is at Bob's (meds: Amy or Bea), Bea at
    # Cy's (anyone), Cat is free, all at 09:00. Staffing Ann takes a chain of three: Ann to
    # Amy, Bob to Bea, Cy to Cat. Its first link alone leaves Bob unstaffed with Amy a stranger
    # at Ann's (10,060 against 10,000), which a cold search refuses.
    p = agency(
        workers=[
            carer("w-amy", skills=["hoist", "meds"]),
            carer("w-bea", skills=["meds"]),
            carer("w-cat"),
        ],
        clients=[client("c-ann", ANN), client("c-bob", BOB), client("c-cy", CY)],
        visits=[
            visit("v-ann", "c-ann", "09:00", skills=["hoist"]),
            visit("v-bob", "c-bob", "09:00", skills=["meds"]),
            visit("v-cy", "c-cy", "09:00"),
        ],
        history=knows(("w-amy", "c-bob"), ("w-bea", "c-cy")),
    )
    data, engine = loaded(p, {"v-bob": ("09:00", ["w-amy"]), "v-cy": ("09:00", ["w-bea"])})
    assert checked(p, data, engine) == 10_000
    only(engine, "insert")
    assert crews(data, engine.solution()) == {
        "v-ann": ["w-amy"],
        "v-bob": ["w-bea"],
        "v-cy": ["w-cat"],
    }
    assert checked(p, data, engine) == 3 * 60


def hoist_pair_and_two() -> list[Raw]:
    """Amy and Bea, who hold the hoist, and Cat and Dan, who do not."""
    lifters = [carer(w, skills=["hoist"]) for w in ("w-amy", "w-bea")]
    return [*lifters, carer("w-cat"), carer("w-dan")]


def test_repair_clears_two_routes_for_a_double_up() -> None:
    # Ann's visit needs two carers with the hoist: only Amy and Bea hold it, and at 09:00 Amy
    # is at Bob's and Bea at Cy's; Cat and Dan are free. Clearing one route is not enough (Ann
    # still lacks her second carer), so a chain that empties one route at a time never staffs
    # her; the repair takes Bob and Cy off together and gives them to Cat and Dan.
    p = agency(
        workers=hoist_pair_and_two(),
        clients=[client("c-ann", ANN), client("c-bob", BOB), client("c-cy", CY)],
        visits=[
            visit("v-ann", "c-ann", "09:00", skills=["hoist"], workers_required=2),
            visit("v-bob", "c-bob", "09:00"),
            visit("v-cy", "c-cy", "09:00"),
        ],
    )
    data, engine = loaded(p, {"v-bob": ("09:00", ["w-amy"]), "v-cy": ("09:00", ["w-bea"])})
    assert checked(p, data, engine) >= 10_000
    only(engine, "insert")
    assert engine.terms()["unassigned_visit"] == 1
    ann = data.visit_ids.index("v-ann")
    assert engine.repair([ann]) == 1
    got = crews(data, engine.solution())
    assert got["v-ann"] == ["w-amy", "w-bea"]
    assert {got["v-bob"][0], got["v-cy"][0]} == {"w-cat", "w-dan"}
    assert checked(p, data, engine) < 10_000


def test_repair_leaves_a_visit_no_room_can_be_made_for() -> None:
    # Amy alone holds the hoist Ann needs, and Bob's visit, which holds her at 09:00, is pinned
    # to her: the repair staffs nothing and leaves the rota as it was.
    p = agency(
        workers=[carer("w-amy", skills=["hoist"]), carer("w-bea")],
        clients=[client("c-ann", ANN), client("c-bob", BOB)],
        visits=[
            visit("v-ann", "c-ann", "09:00", skills=["hoist"]),
            visit("v-bob", "c-bob", "09:00", pinned_workers=["w-amy"]),
        ],
    )
    data, engine = loaded(p, {"v-bob": ("09:00", ["w-amy"])})
    before = checked(p, data, engine)
    assert engine.repair([data.visit_ids.index("v-ann")]) == 0
    assert crews(data, engine.solution()) == {"v-bob": ["w-amy"]}
    assert checked(p, data, engine) == before


def amy_with_two_stops_in_the_way() -> tuple[Problem, ProblemData, Engine]:
    """Amy alone holds the catheter skill Ann's 09:00 visit needs, and both her stops around it
    (Bob 08:40-09:20, Cy 09:00-09:25) are in the way; Bea is free."""
    p = agency(
        workers=[carer("w-amy", skills=["catheter"]), carer("w-bea")],
        clients=[client("c-ann", ANN), client("c-bob", BOB), client("c-cy", CY)],
        visits=[
            visit("v-ann", "c-ann", "09:00", skills=["catheter"]),
            visit("v-bob", "c-bob", "08:40", "09:20"),
            visit("v-cy", "c-cy", "09:00", "09:25"),
        ],
    )
    data, engine = loaded(p, {"v-bob": ("08:40", ["w-amy"]), "v-cy": ("09:16", ["w-amy"])})
    return p, data, engine


def test_repair_clears_a_carers_morning_for_a_visit_only_she_can_make() -> None:
    # Taking either of Amy's stops off alone leaves the other in Ann's way, so only clearing
    # both at once staffs Ann. Bea, free, then takes Bob and Cy.
    p, data, engine = amy_with_two_stops_in_the_way()
    before = checked(p, data, engine)
    ann = data.visit_ids.index("v-ann")
    assert engine.repair([ann]) == 0
    assert engine.repair([ann], clear=True) == 1
    assert crews(data, engine.solution()) == {
        "v-ann": ["w-amy"],
        "v-bob": ["w-bea"],
        "v-cy": ["w-bea"],
    }
    assert checked(p, data, engine) < before


def made_and_freed() -> tuple[int, int]:
    """Arrays numba has made and freed so far (its statistics must be on)."""
    return _nrt_python.memsys_get_stats_alloc(), _nrt_python.memsys_get_stats_free()


def test_no_kernel_makes_an_array_in_the_repair_or_the_annealing() -> None:
    # The kernels run without numba's reference counting (kernels.jit): an array one made would
    # never be freed. The repair's ways of making room (the stops in the way, two levels deep;
    # the visits a clearing took off) and the moves work in the state's buffers instead.
    p, data, engine = amy_with_two_stops_in_the_way()
    ann = data.visit_ids.index("v-ann")
    was_on = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    try:
        made0, freed0 = made_and_freed()
        assert engine.repair([ann], clear=True) == 1
        engine.anneal(5_000, 3)
        assert made_and_freed() == (made0, freed0)
    finally:
        if not was_on:
            _nrt_python.memsys_disable_stats()
    checked(p, data, engine)


def test_repair_clears_two_carers_mornings_for_a_double_up() -> None:
    # Ann's 09:00 double-up needs the hoist, which only Amy and Bea hold, and each of them has
    # two stops in its way (Bob and Cy; Di and Em, who live where Bob and Cy do). Taking one stop
    # off each of two routes is not enough, so only clearing both mornings staffs Ann; Cat and
    # Dan, free, then take the four visits.
    p = agency(
        workers=hoist_pair_and_two(),
        clients=[
            client("c-ann", ANN),
            client("c-bob", BOB),
            client("c-cy", CY),
            client("c-di", BOB),
            client("c-em", CY),
        ],
        visits=[
            visit("v-ann", "c-ann", "09:00", skills=["hoist"], workers_required=2),
            visit("v-bob", "c-bob", "08:40", "09:20"),
            visit("v-cy", "c-cy", "09:00", "09:25"),
            visit("v-di", "c-di", "08:40", "09:20"),
            visit("v-em", "c-em", "09:00", "09:25"),
        ],
    )
    plan = {
        "v-bob": ("08:40", ["w-amy"]),
        "v-cy": ("09:16", ["w-amy"]),
        "v-di": ("08:40", ["w-bea"]),
        "v-em": ("09:16", ["w-bea"]),
    }
    data, engine = loaded(p, plan)
    before = checked(p, data, engine)
    ann = data.visit_ids.index("v-ann")
    assert engine.repair([ann]) == 0
    assert engine.repair([ann], clear=True) == 1
    got = crews(data, engine.solution())
    assert got["v-ann"] == ["w-amy", "w-bea"]
    assert {got["v-bob"][0], got["v-cy"][0], got["v-di"][0], got["v-em"][0]} == {"w-cat", "w-dan"}
    assert checked(p, data, engine) < before


def test_double_up_crew_moves_together_under_ruin() -> None:
    # A double-up at Bob staffed by Amy and Cat, strangers to Bob; Bea and Dan know Bob. Only
    # moving the whole crew (both halves at once, as ruin-and-recreate does) reaches the crew
    # Bob knows: 30 for the second face, no unfamiliar faces.
    p = agency(
        workers=[carer("w-amy"), carer("w-bea"), carer("w-cat"), carer("w-dan")],
        clients=[client("c-bob", BOB)],
        visits=[visit("v-bob", "c-bob", "09:00", workers_required=2)],
        history=knows(("w-bea", "c-bob"), ("w-dan", "c-bob")),
    )
    data, engine = loaded(p, {"v-bob": ("09:00", ["w-amy", "w-cat"])})
    assert checked(p, data, engine) == 30 + 2 * 60
    only(engine, "ruin")
    assert crews(data, engine.solution()) == {"v-bob": ["w-bea", "w-dan"]}
    assert checked(p, data, engine) == 30


def test_coordinator_move_meets_the_monthly_rule() -> None:
    # 30 November ends the month and Kate has not seen Ann this month: without a visit by Kate
    # the rule costs 5,000. Kate is out 07:00-13:00, so she can shadow Amy's 08:00 visit.
    p = problem(
        MONTH_END,
        workers=[carer("w-amy", day=MONTH_END), coordinator("k-kate", "07:00", "13:00", MONTH_END)],
        clients=[client("c-ann", ANN, coordinator="k-kate")],
        visits=[visit("v-ann", "c-ann", "08:00", day=MONTH_END)],
        history=knows(("w-amy", "c-ann"), ("k-kate", "c-ann")),
    )
    data, engine = loaded(p, {"v-ann": ("08:00", ["w-amy"])})
    assert engine.terms()["coordinator_rule"] == 1
    only(engine, "coordinator")
    assert engine.terms()["coordinator_rule"] == 0
    checked(p, data, engine)


@pytest.mark.parametrize("move", MOVE_NAMES)
def test_every_move_keeps_a_generated_agency_checker_clean(move: str) -> None:
    p = Problem.model_validate(generate(15, 3))
    data = build(p)
    engine = Engine(data)
    engine.construct()
    start = engine.objective
    only(engine, move, moves=3000, seed=1)
    assert checked(p, data, engine) <= start + 1e-6


def test_a_care_team_too_small_never_costs_a_staffed_visit() -> None:
    # Ann's care team is Amy alone, but Ann has two visits at 08:00 (Amy can be at one): the
    # team pulls both towards Amy, and Bea, outside the team, still takes the other.
    from solver.engine.run import team_pull

    p = agency(
        workers=[carer("w-amy"), carer("w-bea")],
        visits=[visit("v-1", "c-ann", "08:00"), visit("v-2", "c-ann", "08:00")],
    )
    data = build(p)
    engine = Engine(data, team_pull(data, {0: [data.worker_ids.index("w-amy")]}))
    assert engine.c.team_bonus.max() > 0
    engine.construct()
    engine.anneal(500, seed=0)
    assert crews(data, engine.solution()) == {"v-1": ["w-amy"], "v-2": ["w-bea"]} or crews(
        data, engine.solution()
    ) == {"v-1": ["w-bea"], "v-2": ["w-amy"]}
    checked(p, data, engine)


def ann_seen_by_amy_and_bea(**changes: object) -> Problem:
    """Ann has fixed visits at 08:00, 10:00 and 12:00; Amy knows Ann, Bea knows Bob."""
    base: dict[str, object] = {
        "workers": [carer("w-amy"), carer("w-bea")],
        "clients": [client("c-ann", ANN), client("c-bob", BOB)],
        "visits": [
            visit("v-1", "c-ann", "08:00"),
            visit("v-2", "c-ann", "10:00"),
            visit("v-3", "c-ann", "12:00"),
        ],
        "history": knows(("w-amy", "c-ann"), ("w-bea", "c-bob")),
    }
    return agency(**(base | changes))


# Bea, a stranger to Ann, has one of her visits (the fewest of her two faces).
BEA_AT_TEN = {"v-1": ("08:00", ["w-amy"]), "v-2": ("10:00", ["w-bea"]), "v-3": ("12:00", ["w-amy"])}


def faces_of(data: ProblemData, engine: Engine, client_id: str) -> int:
    return int(engine.s.faces[data.client_ids.index(client_id)])


def test_face_move_hands_the_fewest_face_to_the_clients_other_carer() -> None:
    # Ann sees Amy (2 visits) and Bea (1): 30 for the second face + 60 for Bea, a stranger = 90.
    # Bea is the face with the fewest visits; Amy is free at 10:00, so Bea's visit goes to her:
    # one familiar face, 0.
    p = ann_seen_by_amy_and_bea()
    data, engine = loaded(p, BEA_AT_TEN)
    assert checked(p, data, engine) == 30 + 60
    stats = only(engine, "face")
    assert stats[MOVE_NAMES.index("face"), 3] >= 1
    assert crews(data, engine.solution()) == {"v-1": ["w-amy"], "v-2": ["w-amy"], "v-3": ["w-amy"]}
    assert faces_of(data, engine, "c-ann") == 1
    assert checked(p, data, engine) == 0


def test_face_move_makes_room_on_the_other_carers_route() -> None:
    # Amy also has Bob at 10:00: Ann 08:00 -> Bob 10:00 (9 min) -> Ann 12:00 (9 min) = 18
    # travel, + 60 (Amy a stranger to Bob), + 90 at Ann as above = 168. Amy has no room at 10:00,
    # so Bob's visit, the stop in the way, comes off her route, she takes Ann's, and Bob's goes
    # to Bea, now free at 10:00 (and familiar to Bob): 0.
    p = ann_seen_by_amy_and_bea(
        visits=[
            visit("v-1", "c-ann", "08:00"),
            visit("v-2", "c-ann", "10:00"),
            visit("v-3", "c-ann", "12:00"),
            visit("v-bob", "c-bob", "10:00"),
        ]
    )
    data, engine = loaded(p, BEA_AT_TEN | {"v-bob": ("10:00", ["w-amy"])})
    assert checked(p, data, engine) == 18 + 60 + 30 + 60
    stats = only(engine, "face")
    assert stats[MOVE_NAMES.index("face"), 3] >= 1
    assert crews(data, engine.solution()) == {
        "v-1": ["w-amy"],
        "v-2": ["w-amy"],
        "v-3": ["w-amy"],
        "v-bob": ["w-bea"],
    }
    assert faces_of(data, engine, "c-ann") == 1
    assert checked(p, data, engine) == 0


@pytest.mark.parametrize("pinned", ["the face", "the stop in the way"])
def test_face_move_leaves_pinned_visits_alone(pinned: str) -> None:
    # As above, but Bea is pinned to Ann's 10:00 visit (the face may not leave it), or Amy to
    # Bob's (no room can be made at 10:00): the move never applies and Ann keeps two faces.
    pin = ("v-2", "w-bea") if pinned == "the face" else ("v-bob", "w-amy")
    visits = [
        visit("v-1", "c-ann", "08:00"),
        visit("v-2", "c-ann", "10:00"),
        visit("v-3", "c-ann", "12:00"),
        visit("v-bob", "c-bob", "10:00"),
    ]
    for v in visits:
        if v["id"] == pin[0]:
            v["pinned_workers"] = [pin[1]]
    p = ann_seen_by_amy_and_bea(visits=visits)
    data, engine = loaded(p, BEA_AT_TEN | {"v-bob": ("10:00", ["w-amy"])})
    stats = only(engine, "face")
    assert stats[MOVE_NAMES.index("face"), 0] > 0
    assert stats[MOVE_NAMES.index("face"), 1] == 0
    assert faces_of(data, engine, "c-ann") == 2
    assert checked(p, data, engine) == 18 + 60 + 30 + 60


def test_face_move_never_takes_a_coordinator_off_their_client() -> None:
    # 30 November ends the month; Kate, Ann's coordinator, is out 09:30-10:45 and covers Ann's
    # 10:00 visit, which meets the coordinator rule (else 5,000); Amy does 08:00 and 12:00.
    # Ann's second face costs 30. Kate has the fewest visits but is not the face picked; Amy,
    # the only other, cannot hand 08:00 or 12:00 to Kate (off shift), so the move never applies.
    p = problem(
        MONTH_END,
        workers=[carer("w-amy", day=MONTH_END), coordinator("k-kate", "09:30", "10:45", MONTH_END)],
        clients=[client("c-ann", ANN, coordinator="k-kate")],
        visits=[
            visit("v-1", "c-ann", "08:00", day=MONTH_END),
            visit("v-2", "c-ann", "10:00", day=MONTH_END),
            visit("v-3", "c-ann", "12:00", day=MONTH_END),
        ],
        history=knows(("w-amy", "c-ann"), ("k-kate", "c-ann")),
    )
    data, engine = loaded(
        p, {"v-1": ("08:00", ["w-amy"]), "v-2": ("10:00", ["k-kate"]), "v-3": ("12:00", ["w-amy"])}
    )
    assert checked(p, data, engine) == 30
    stats = only(engine, "face")
    assert stats[MOVE_NAMES.index("face"), 0] > 0
    assert stats[MOVE_NAMES.index("face"), 1] == 0
    assert engine.terms()["coordinator_rule"] == 0
    assert checked(p, data, engine) == 30
