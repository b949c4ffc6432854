"""Brillouin zones, high-symmetry points and k-paths (lattice constant 1, wave vectors in 1/a).

* :func:`brillouin_zone`: the Wigner-Seitz cell of the reciprocal lattice;
* point sets of the lattices of the built-in models (:data:`SQUARE`, :data:`HEXAGONAL`,
  :data:`SIMPLE_CUBIC`, :data:`FCC`) and of a continuum k-box (:func:`box_points`);
* :func:`path_corners`: the corners of a path given as named points and/or coordinates;
* :func:`path_ticks`, :func:`sample_path`: distances of the corners, and points spread over
  the straight segments between them by length.

The point names follow Bradley and Cracknell, "The Mathematical Theory of Symmetry in Solids"
(``G`` is Γ); the hexagonal K, K', M are those of the honeycomb lattice of F. D. M. Haldane,
"Model for a quantum Hall effect without Landau levels", PRL 61, 2015 (1988).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["FCC", "HEXAGONAL", "SIMPLE_CUBIC", "SQUARE", "box_points", "brillouin_zone",
           "path_corners", "path_label", "path_ticks", "sample_path"]

_SQRT3 = float(np.sqrt(3.0))

#: Square lattice ``a_1 = (1, 0)``, ``a_2 = (0, 1)``: Γ, X = (π, 0), Y = (0, π), M = (π, π).
SQUARE: Mapping[str, tuple[float, ...]] = {
    "G": (0.0, 0.0), "X": (np.pi, 0.0), "Y": (0.0, np.pi), "M": (np.pi, np.pi)}
#: Triangular (honeycomb) lattice ``a_1 = (1, 0)``, ``a_2 = (1/2, √3/2)``: Γ, the zone corners
#: K = (4π/3, 0) and K' = -K, and the edge centre M = (0, 2π/√3).
HEXAGONAL: Mapping[str, tuple[float, ...]] = {
    "G": (0.0, 0.0), "K": (4 * np.pi / 3, 0.0), "K'": (-4 * np.pi / 3, 0.0),
    "M": (0.0, 2 * np.pi / _SQRT3)}
#: Simple cubic lattice: Γ, X, Y, Z = π along an axis, M = (π, π, 0), R = (π, π, π).
SIMPLE_CUBIC: Mapping[str, tuple[float, ...]] = {
    "G": (0.0, 0.0, 0.0), "X": (np.pi, 0.0, 0.0), "Y": (0.0, np.pi, 0.0), "Z": (0.0, 0.0, np.pi),
    "M": (np.pi, np.pi, 0.0), "R": (np.pi, np.pi, np.pi)}
#: Face-centred cubic lattice (cubic lattice constant 1): Γ, X = (0, 2π, 0), L = (π, π, π),
#: W = (π, 2π, 0), K = (3π/2, 3π/2, 0), U = (π/2, 2π, π/2).
FCC: Mapping[str, tuple[float, ...]] = {
    "G": (0.0, 0.0, 0.0), "X": (0.0, 2 * np.pi, 0.0), "L": (np.pi, np.pi, np.pi),
    "W": (np.pi, 2 * np.pi, 0.0), "K": (1.5 * np.pi, 1.5 * np.pi, 0.0),
    "U": (0.5 * np.pi, 2 * np.pi, 0.5 * np.pi)}


def box_points(k_max: float = 1.0) -> dict[str, np.ndarray]:
    """Named points of the continuum k-box ``[-k_max, k_max]²``: Γ, X = (k_max, 0),
    Y = (0, k_max), M = (k_max, k_max)."""
    unit = {"G": (0.0, 0.0), "X": (1.0, 0.0), "Y": (0.0, 1.0), "M": (1.0, 1.0)}
    return {name: k_max * np.asarray(point, dtype=float) for name, point in unit.items()}


def brillouin_zone(reciprocal: np.ndarray) -> np.ndarray:
    """Vertices of the first Brillouin zone (the Wigner-Seitz cell of the reciprocal lattice).

    Parameters
    ----------
    reciprocal
        ``(d, d)`` reciprocal lattice vectors as rows (1/a), d = 2 or 3.

    Returns
    -------
    numpy.ndarray
        ``(n_vertices, d)`` Cartesian (1/a); for d = 2 ordered counter-clockwise.
    """
    from scipy.spatial import Voronoi

    recip = np.asarray(reciprocal, dtype=float)
    d = recip.shape[0]
    grid = np.stack(np.meshgrid(*[np.arange(-2, 3)] * d, indexing="ij"), -1).reshape(-1, d)
    points = grid @ recip
    vor = Voronoi(points)
    origin = int(np.argmin(np.linalg.norm(points, axis=1)))
    vertices = vor.vertices[vor.regions[vor.point_region[origin]]]
    if d == 2:
        vertices = vertices[np.argsort(np.arctan2(vertices[:, 1], vertices[:, 0]))]
    return vertices


def path_label(point: str | Sequence[float]) -> str:
    """Label of a path corner: ``Γ`` for ``G``, the name of another point, or
    ``(f1, f2, ...)`` for coordinates."""
    if isinstance(point, str):
        return "Γ" if point == "G" else point
    return "(" + ", ".join(f"{float(x):g}" for x in point) + ")"


def path_corners(path: Sequence[str | Sequence[float]], named: Mapping[str, Any],
                 to_cartesian: Any = None) -> tuple[list[str], np.ndarray]:
    """Labels and Cartesian coordinates of the corners of a k-path.

    Parameters
    ----------
    path
        Corner points: names of ``named`` and/or coordinate lists.
    named
        Named points, Cartesian (1/a).
    to_cartesian
        Maps a coordinate list to Cartesian (e.g. reduced ``f -> f @ reciprocal``); default:
        coordinates are Cartesian already.

    Raises
    ------
    ValueError
        For a name not in ``named``.
    """
    labels, corners = [], []
    for point in path:
        if isinstance(point, str):
            if point not in named:
                raise ValueError(f"unknown point {point!r} (known: {', '.join(named)})")
            corners.append(np.asarray(named[point], dtype=float))
        else:
            f = np.asarray(point, dtype=float)
            corners.append(f if to_cartesian is None else np.asarray(to_cartesian(f), float))
        labels.append(path_label(point))
    return labels, np.asarray(corners, dtype=float)


def path_ticks(corners: np.ndarray) -> np.ndarray:
    """Distance of each corner of a k-path from the start (1/a), along the straight segments.

    Raises
    ------
    ValueError
        If all the corners coincide.
    """
    seg = np.linalg.norm(np.diff(np.asarray(corners, dtype=float), axis=0), axis=1)
    ticks = np.concatenate([[0.0], np.cumsum(seg)])
    if not ticks[-1] > 0:
        raise ValueError("all points coincide")
    return ticks


def sample_path(corners: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points along the straight segments between the corners of a k-path.

    ``n_points`` points are spread evenly over the path's length (first and last corner
    included), and the inner corners are added, ``n_points + n_corners - 2`` in all.

    Parameters
    ----------
    corners
        ``(n_corners, d)`` Cartesian corners (1/a), at least two.
    n_points
        Points spread by length (at least 2).

    Returns
    -------
    ticks
        ``(n_corners,)`` distance of each corner from the start (1/a).
    distance
        ``(n,)`` distance of each point from the start, ascending (1/a).
    k
        ``(n, d)`` Cartesian wave vectors of the points (1/a).

    Raises
    ------
    ValueError
        If all the corners coincide.
    """
    corners = np.asarray(corners, dtype=float)
    ticks = path_ticks(corners)
    seg = np.linalg.norm(np.diff(corners, axis=0), axis=1)
    distance = np.sort(np.concatenate([np.linspace(0.0, ticks[-1], n_points), ticks[1:-1]]),
                       kind="stable")
    segment = np.clip(np.searchsorted(ticks, distance, side="right") - 1, 0, len(seg) - 1)
    length = seg[segment]
    frac = np.where(length > 0, (distance - ticks[segment]) / np.where(length > 0, length, 1.0),
                    0.0)
    k = corners[segment] + frac[:, None] * (corners[segment + 1] - corners[segment])
    return ticks, distance, k
