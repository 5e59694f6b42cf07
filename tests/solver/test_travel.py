"""Travel times: the haversine formula by hand, per-mode matrices in ``build``, matrix models.

The hand-computed distance used throughout: two points 0.01 degrees of latitude apart are
6371.0088 km * 0.01 * pi / 180 = 1.11195 km apart on any meridian. With the default road factor
1.3 that is 1.44554 km by road:

    car    30 km/h  1.44554 / 30  * 60 =  2.891  -> 3 minutes
    walk   4.5 km/h 1.44554 / 4.5 * 60 = 19.274  -> 20
    bike   14 km/h  1.44554 / 14  * 60 =  6.195  -> 7
    bus    15 km/h  1.44554 / 15  * 60 =  5.782  -> 6
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from solver.contract import HaversineTravel, MatrixTravel, Problem
from solver.data import MODES, ProblemData, build
from solver.travel import (
    EARTH_RADIUS_KM,
    HaversineProvider,
    MatrixProvider,
    haversine_km,
    provider_for,
)
from tests.builders import client, place, problem

DAY = "2026-12-01"
KM_001_LAT = 1.11195  # 0.01 degrees of latitude, see the module docstring
CAR, WALK, BIKE, BUS = (MODES.index(m) for m in ("car", "walk", "bike", "public_transport"))


def points(*latlon: tuple[float, float]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array(latlon, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# The haversine formula


def test_earth_radius_is_the_contracts() -> None:
    assert EARTH_RADIUS_KM == 6371.0088


def test_hundredth_of_a_degree_of_latitude() -> None:
    # 6371.0088 * 0.01 * pi / 180 = 1.1119504 km, wherever the meridian is.
    km = haversine_km(points((53.80, -1.55), (53.81, -1.55), (0.0, 100.0), (0.01, 100.0)))
    assert km[0, 1] == pytest.approx(KM_001_LAT, abs=1e-5)
    assert km[2, 3] == pytest.approx(KM_001_LAT, abs=1e-5)
    assert km[0, 1] == pytest.approx(6371.0088 * math.radians(0.01), rel=1e-9)


def test_hundredth_of_a_degree_of_longitude_shrinks_with_latitude() -> None:
    # On the equator 0.01 degrees of longitude is 1.11195 km too; at 60 N it is
    # 1.11195 * cos(60) = 0.55598 km.
    km = haversine_km(points((0.0, 0.0), (0.0, 0.01), (60.0, 0.0), (60.0, 0.01)))
    assert km[0, 1] == pytest.approx(KM_001_LAT, abs=1e-5)
    assert km[2, 3] == pytest.approx(0.55598, abs=1e-5)


def test_distance_is_symmetric_and_zero_on_the_diagonal() -> None:
    km = haversine_km(points((53.80, -1.55), (53.81, -1.56), (51.50, -0.12)))
    assert np.array_equal(km, km.T)
    assert km.diagonal().tolist() == [0.0, 0.0, 0.0]
    # Leeds to London is about 270 km as the crow flies.
    assert 260 < km[0, 2] < 280


@pytest.mark.parametrize(
    ("mode", "exact", "minutes"),
    [
        ("car", 2.891, 3),  # 1.11195 * 1.3 / 30 * 60
        ("walk", 19.274, 20),  # 1.11195 * 1.3 / 4.5 * 60
        ("bike", 6.195, 7),  # 1.11195 * 1.3 / 14 * 60
        ("public_transport", 5.782, 6),  # 1.11195 * 1.3 / 15 * 60
    ],
)
def test_haversine_minutes_round_up(mode: str, exact: float, minutes: int) -> None:
    speeds = {str(k): v for k, v in HaversineTravel().speeds_kmh.items()}
    assert KM_001_LAT * 1.3 / speeds[mode] * 60 == pytest.approx(exact, abs=1e-3)
    table = HaversineProvider(HaversineTravel()).minutes(
        ["a", "b"], points((53.80, -1.55), (53.81, -1.55)), mode
    )
    assert table.tolist() == [[0, minutes], [minutes, 0]]


def test_same_place_is_zero_minutes() -> None:
    # Two ids at one address (a carer living with a client) travel 0, not ceil(0) by luck.
    table = HaversineProvider(HaversineTravel()).minutes(
        ["w-amy", "c-ann", "c-ben"], points((53.80, -1.55), (53.80, -1.55), (53.81, -1.55)), "walk"
    )
    assert table.tolist() == [[0, 0, 20], [0, 0, 20], [20, 20, 0]]


def test_road_factor_and_speeds_are_the_problems() -> None:
    # Road factor 1.0 and 60 km/h by car: 1.11195 km * 1.0 / 60 * 60 = 1.11 -> 2 minutes.
    # The walking speed keeps its default when the table leaves it out: 19.27 -> 20.
    spec = HaversineTravel.model_validate({"road_factor": 1.0, "speeds_kmh": {"car": 60}})
    assert spec.speeds_kmh["walk"] == 4.5
    provider = provider_for(spec)
    assert isinstance(provider, HaversineProvider)
    coords = points((53.80, -1.55), (53.81, -1.55))
    assert provider.minutes(["a", "b"], coords, "car")[0, 1] == 2
    # walk with road factor 1.0: 1.11195 / 4.5 * 60 = 14.83 -> 15.
    assert provider.minutes(["a", "b"], coords, "walk")[0, 1] == 15


# ---------------------------------------------------------------------------------------------
# Per-mode matrices in build()


def agency(travel: dict[str, Any] | None = None) -> Problem:
    """Amy drives and Bob walks from 53.80 N; Ann lives 0.01 degrees north, Ben 0.02."""
    return problem(
        DAY,
        workers=[
            {"id": "w-amy", "home": place(53.80)},
            {"id": "w-bob", "home": place(53.80), "travel_mode": "walk"},
        ],
        clients=[client("c-ann", 53.81), client("c-ben", 53.82)],
        visits=[],
        **({} if travel is None else {"travel": travel}),
    )


@pytest.fixture
def data() -> ProblemData:
    """``agency()`` with the default haversine travel, built."""
    return build(agency())


def test_build_lays_out_one_matrix_per_mode(data: ProblemData) -> None:
    assert data.place_ids == ["w-amy", "w-bob", "c-ann", "c-ben"]
    amy, bob, ann, ben = 0, 1, 2, 3
    assert data.travel[CAR, amy, ann] == 3
    assert data.travel[WALK, amy, ann] == 20
    # Ann to Ben is 0.01 degrees again; home to Ben 0.02: 2.891 * 2 = 5.78 -> 6 by car,
    # 19.274 * 2 = 38.55 -> 39 on foot.
    assert data.travel[CAR, ann, ben] == 3
    assert data.travel[CAR, amy, ben] == 6
    assert data.travel[WALK, bob, ben] == 39
    assert data.travel_exact[CAR, amy, ann] == 3.0  # haversine minutes are whole already


def test_leg_uses_the_workers_mode(data: ProblemData) -> None:
    # Amy drives (3 min to Ann), Bob walks (20 min) from the same street.
    assert data.leg(0, data.worker_place[0], data.client_place[0]) == 3
    assert data.leg(1, data.worker_place[1], data.client_place[0]) == 20
    assert data.leg(1, data.client_place[0], data.client_place[0]) == 0


def test_unused_modes_are_left_empty(data: ProblemData) -> None:
    # Nobody cycles or takes the bus, so those matrices are not computed.
    assert not data.travel[BIKE].any()
    assert not data.travel[BUS].any()


# ---------------------------------------------------------------------------------------------
# Matrix models


def matrix(places: list[str], minutes: list[list[float]]) -> dict[str, Any]:
    return {"model": "matrix", "places": places, "minutes": minutes}


def test_matrix_keeps_fractions_exact_and_rounds_up_for_the_model() -> None:
    problem = agency(
        matrix(
            ["w-amy", "w-bob", "c-ann", "c-ben"],
            [[0, 1, 10, 8], [1, 0, 6, 9], [10, 6, 0, 12.5], [8, 9, 12.5, 0]],
        )
    )
    data = build(problem)
    ann, ben = 2, 3
    for mode in (CAR, WALK):  # a matrix is the same for every mode in use
        assert data.travel_exact[mode, ann, ben] == 12.5
        assert data.travel[mode, ann, ben] == 13  # ceil(12.5)
        assert data.travel[mode, 0, ann] == 10  # whole minutes are not pushed up to 11


def test_matrix_in_another_place_order_maps_by_id() -> None:
    # The matrix lists places Ben, Ann, Bob, Amy, with every entry distinct (i*10 + j from
    # matrix row i to column j), so a mix-up of ids would show.
    order = ["c-ben", "c-ann", "w-bob", "w-amy"]
    minutes = [[float(10 * i + j) for j in range(4)] for i in range(4)]
    for i in range(4):
        minutes[i][i] = 0.0
    data = build(agency(matrix(order, minutes)))
    assert data.place_ids == ["w-amy", "w-bob", "c-ann", "c-ben"]
    for a, pa in enumerate(data.place_ids):
        for b, pb in enumerate(data.place_ids):
            assert data.travel_exact[CAR, a, b] == minutes[order.index(pa)][order.index(pb)]
    # Amy (matrix row 3) to Ann (matrix column 1): 31. Ann to Amy: 13. Ben to Bob: 2.
    assert data.travel[CAR, 0, 2] == 31
    assert data.travel[CAR, 2, 0] == 13
    assert data.travel[WALK, 3, 1] == 2


def test_matrix_provider_picks_rows_and_columns_by_id() -> None:
    spec = MatrixTravel.model_validate(
        matrix(["x", "y", "z"], [[0, 1.5, 2], [3, 0, 4.25], [5, 6, 0]])
    )
    provider = provider_for(spec)
    assert isinstance(provider, MatrixProvider)
    table = provider.minutes(["z", "x"], np.zeros((2, 2)), "bike")
    assert table.tolist() == [[0, 5], [2, 0]]
