"""Travel times between places, behind one small interface.

A *place* is a worker's home or a client's location. A provider answers, for one travel mode, the
full matrix of exact minutes between a list of places; callers round as their rule needs (the
model rounds up so that rule 4 holds with the exact numbers). A road-network provider only has to
implement :class:`TravelProvider`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from solver.contract import HaversineTravel, MatrixTravel

EARTH_RADIUS_KM = 6371.0088
Matrix = NDArray[np.float64]


class TravelProvider(Protocol):
    """Exact travel minutes between places for one travel mode."""

    def minutes(self, ids: list[str], coords: Matrix, mode: str) -> Matrix:
        """Matrix ``m[i, j]``: minutes from place ``ids[i]`` at ``coords[i]`` (lat, lon) to j."""
        ...


def haversine_km(coords: Matrix) -> Matrix:
    """Great-circle distances (km) between every pair of ``(lat, lon)`` rows, vectorised."""
    lat = np.radians(coords[:, 0])
    lon = np.radians(coords[:, 1])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
    km: Matrix = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return km


class HaversineProvider:
    """The contract's default: ``ceil(km * road_factor / speed * 60)``, 0 at the same place."""

    def __init__(self, spec: HaversineTravel) -> None:
        self.road_factor = spec.road_factor
        self.speeds: dict[str, float] = {str(k): v for k, v in spec.speeds_kmh.items()}

    def minutes(self, _ids: list[str], coords: Matrix, mode: str) -> Matrix:
        km = haversine_km(coords)
        out: Matrix = np.ceil(km * self.road_factor / self.speeds[mode] * 60.0)
        same = (coords[:, None, 0] == coords[None, :, 0]) & (
            coords[:, None, 1] == coords[None, :, 1]
        )
        out[same] = 0.0
        return out


class MatrixProvider:
    """An explicit matrix, the same for every mode; fractions are kept exact."""

    def __init__(self, spec: MatrixTravel) -> None:
        self.index = {place: i for i, place in enumerate(spec.places)}
        self.table = np.asarray(spec.minutes, dtype=np.float64)

    def minutes(self, ids: list[str], _coords: Matrix, _mode: str) -> Matrix:
        rows = np.fromiter((self.index[p] for p in ids), dtype=np.int64, count=len(ids))
        out: Matrix = self.table[np.ix_(rows, rows)]
        return out


def provider_for(spec: HaversineTravel | MatrixTravel) -> TravelProvider:
    """The provider a problem's ``travel`` block asks for."""
    if isinstance(spec, MatrixTravel):
        return MatrixProvider(spec)
    return HaversineProvider(spec)
