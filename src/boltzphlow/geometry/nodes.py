r"""Band-touching nodes of 3D models and the smooth partition of k-space around them.

A Weyl node is a point where bands n and n + 1 touch and which is a monopole of the Berry
curvature: the flux of band n through a small sphere around it is ``2π χ`` with an integer
chirality χ ≠ 0 (the sign convention of :func:`~boltzphlow.geometry.berry_flux`; Valet and
Raimondi, "Semiclassical kinetic theory for systems with non-trivial quantum geometry and the
expectation value of physical quantities", Eq. 33 and the discussion of the chiral anomaly).
:func:`find_nodes` locates the touching points (local minima of each direct gap on a scan
mesh, polished by a Nelder-Mead search of the gap) and keeps those through whose small
spheres the flux is a non-zero integer.

Near a node the Berry curvature diverges as 1/q² and the rectangle rule of a k-mesh converges
only as O(h); refining the cells of the mesh locally (Dörfler marking) replaces the
spectrally accurate rectangle rule by a composite midpoint rule on part of the zone, and the
O(h²) errors at the interface between refined and unrefined cells no longer cancel
(docs/geometry.md, "Node-centred quadrature").  The cure used here is a smooth partition of
unity: ``1 = [1 - Σ_j χ_j(k)] + Σ_j χ_j(k)`` with ``χ_j(k) = 1 - S(|k - k_j| / R_j)`` a
polynomial bump (``S`` the C^7 smooth step) of radius ``R_j`` around node j.  The first part
of the integrand is smooth at every node (``S(s) ∝ s^8`` removes the 1/q² singularity with
six derivatives to spare) and is summed on the plain mesh; the second is integrated in
spherical coordinates centred at the node (:func:`node_quadrature`), where
``q² Ω(q) ~ O(1)`` is smooth and Gauss-Legendre converges exponentially.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from math import comb

import numpy as np
from scipy.optimize import minimize

from boltzphlow.bands.hamiltonian import Hamiltonian, check_hermitian
from boltzphlow.geometry.berry import berry_flux, check_bands
from boltzphlow.grids.kmesh import KMesh

__all__ = ["BandNode", "find_nodes", "minimal_displacement", "node_bump", "node_quadrature",
           "node_radii", "smooth_step"]

#: Order of the smooth step S (C^SMOOTH_ORDER at s = 0 and s = 1).
SMOOTH_ORDER = 7
#: Default scan mesh of :func:`find_nodes`.
SCAN_MESH = (16, 16, 16)
#: Gap below which a polished gap minimum counts as a touching, relative to the bandwidth.
GAP_TOLERANCE = 1e-7
#: Largest distance from a chirality to the nearest integer accepted.
CHIRALITY_TOLERANCE = 1e-3
#: A scan minimum is a candidate touching if its gap is below this times the rise to its
#: neighbours (a cone inside the cell; gapped quadratic minima have a much larger gap).
CONE_FACTOR = 2.0
#: Most scan minima polished per band pair (the most cone-like first).
MAX_CANDIDATES = 32
#: An isolated node keeps the gap on a small sphere above this fraction of its median.
ISOLATION_RATIO = 0.1
#: Fraction of the distance to the nearest other node (or image) used as the bump radius.
RADIUS_FRACTION = 0.45


@dataclass(frozen=True)
class BandNode:
    """A band-touching point carrying Berry monopole charge.

    Attributes
    ----------
    k
        Cartesian position, ``(3,)`` (in the reduced cell ``[-1/2, 1/2)^3`` for lattices).
    energy
        Energy of the touching, ``(ε_n + ε_{n+1}) / 2`` there.
    chirality
        Flux of band ``band`` out of a small sphere around the node, in units of 2π, rounded.
    band
        Lower band n of the touching pair (n, n + 1).
    flux
        The measured flux (before rounding), for checks.
    gap
        ``ε_{n+1} - ε_n`` at ``k`` (the touching found to the search precision).
    """

    k: np.ndarray
    energy: float
    chirality: int
    band: int
    flux: float
    gap: float


def smooth_step(s: np.ndarray, order: int = SMOOTH_ORDER) -> np.ndarray:
    r"""The polynomial smooth step ``S_N(s)``: 0 for s <= 0, 1 for s >= 1, C^N at both ends.

    ``S_N(s) = s^{N+1} Σ_{n=0}^{N} C(N+n, n) C(2N+1, N-n) (-s)^n`` on [0, 1].
    """
    x = np.clip(np.asarray(s, dtype=float), 0.0, 1.0)
    upper = x > 0.5
    y = np.where(upper, 1.0 - x, x)  # S(s) = 1 - S(1 - s): evaluate where the sum is small
    poly = sum(comb(order + n, n) * comb(2 * order + 1, order - n) * (-y) ** n
               for n in range(order + 1))
    value = y ** (order + 1) * poly
    return np.where(upper, 1.0 - value, value)


def node_bump(s: np.ndarray) -> np.ndarray:
    """``χ(s) = 1 - S(s)``: 1 at the node (s = 0), 0 from s = 1 on (s = |k - k_j| / R_j)."""
    return 1.0 - smooth_step(s)


def _reciprocal(h: Hamiltonian) -> np.ndarray | None:
    """Reciprocal vectors as rows for a lattice model, None for a continuum box."""
    if not h.periodic:
        return None
    return h.k_cartesian(np.eye(h.dim)) - h.k_cartesian(np.zeros((1, h.dim)))


def minimal_displacement(h: Hamiltonian, k: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Shortest Cartesian ``k - centre - G`` over reciprocal lattice vectors G, ``(M, d)``.

    For a continuum box (no lattice) it is ``k - centre``.
    """
    diff = np.asarray(k, dtype=float) - np.asarray(centre, dtype=float)
    b = _reciprocal(h)
    if b is None:
        return diff
    frac = diff @ np.linalg.inv(b)
    frac -= np.round(frac)
    best = frac @ b
    best_norm = (best**2).sum(-1)
    for shift in product((-1, 0, 1), repeat=h.dim):
        if not any(shift):
            continue
        cand = (frac + np.asarray(shift, float)) @ b
        norm = (cand**2).sum(-1)
        better = norm < best_norm
        best[better], best_norm[better] = cand[better], norm[better]
    return best


def node_radii(h: Hamiltonian, nodes: Sequence[BandNode],
               fraction: float = RADIUS_FRACTION) -> np.ndarray:
    """Bump radius of each node: ``fraction`` times the distance to the nearest other node or
    periodic image of itself, so that the bumps never overlap (``fraction < 1/2``)."""
    if not 0 < fraction < 0.5:
        raise ValueError(f"the radius fraction must lie in (0, 1/2), got {fraction}")
    pos = np.array([n.k for n in nodes], dtype=float).reshape(-1, h.dim)
    b = _reciprocal(h)
    radii = np.empty(len(pos))
    for j, kj in enumerate(pos):
        dist = [np.inf]
        others = np.delete(pos, j, axis=0)
        if len(others):
            dist.append(float(np.sqrt((minimal_displacement(h, others, kj) ** 2).sum(-1)).min()))
        if b is not None:
            dist.append(float(np.sqrt((b**2).sum(-1)).min()))
        radii[j] = fraction * min(dist)
    if not np.all(np.isfinite(radii)):
        raise ValueError("give the node radius: a lone node of a continuum model has no scale")
    return radii


def node_quadrature(centre: np.ndarray, radius: float, n_radial: int = 64
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Points and weights for ``∫_{|q|<R} d³q g(k_j + q)`` in spherical coordinates.

    Gauss-Legendre in ``|q| ∈ [0, R]`` (``n_radial`` points) and in ``cos θ`` (``n_radial /
    2``), the trapezoid rule in φ (``n_radial`` points), weight ``q² dq d(cos θ) dφ``: exact
    for ``q² g`` polynomial in q of degree < 2 n_radial, exponentially convergent for
    ``q² g`` analytic, which the 1/q² node singularity times the bump is.  The point set is
    symmetric under ``q → -q`` (even ``n_radial``).

    Returns
    -------
    k
        ``(M, 3)`` Cartesian points.
    weight
        ``(M,)`` volume weights.
    s
        ``(M,)`` ``|q| / R`` (the bump argument).
    """
    if n_radial < 2 or n_radial % 2:
        raise ValueError(f"n_radial must be an even number >= 2, got {n_radial}")
    x, wx = np.polynomial.legendre.leggauss(n_radial)
    s, ws = 0.5 * (x + 1.0), 0.5 * wx
    ct, wt = np.polynomial.legendre.leggauss(n_radial // 2)
    phi = 2 * np.pi * (np.arange(n_radial) + 0.5) / n_radial
    ss, cc, pp = np.meshgrid(s, ct, phi, indexing="ij")
    st = np.sqrt(1.0 - cc**2)
    direction = np.stack([st * np.cos(pp), st * np.sin(pp), cc], axis=-1).reshape(-1, 3)
    q = radius * ss.reshape(-1)
    weight = (radius**3 * (ws[:, None, None] * ss**2 * wt[None, :, None]
                           * (2 * np.pi / n_radial))).reshape(-1)
    k = np.asarray(centre, float) + q[:, None] * direction
    return k, weight, ss.reshape(-1)


def _gaps(h: Hamiltonian, k: np.ndarray) -> np.ndarray:
    hk = h.hamiltonian(k)
    check_hermitian(hk)
    return np.linalg.eigvalsh(hk)


def _isolated(h: Hamiltonian, n: int, k: np.ndarray, radius: float) -> bool:
    """Whether the touching at ``k`` is isolated: on spheres of radius r and r/2 around it the
    gap of the pair stays above :data:`ISOLATION_RATIO` of its median (a cone), and the
    Berry fluxes through both agree; a line of touchings crossing the spheres fails both."""
    fluxes = []
    for r in (radius, 0.5 * radius):
        theta = np.linspace(0.0, np.pi, 49)
        phi = np.linspace(0.0, 2 * np.pi, 96, endpoint=False)
        t, p = np.meshgrid(theta, phi, indexing="ij")
        pts = k + r * np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1)
        e = _gaps(h, pts.reshape(-1, 3))
        gap = e[:, n + 1] - e[:, n]
        if gap.min() < ISOLATION_RATIO * np.median(gap):
            return False
        with np.errstate(invalid="ignore", divide="ignore"):
            fluxes.append(berry_flux(h, band=n, center=k, radius=r, n_theta=96, n_phi=192))
    return bool(np.all(np.isfinite(fluxes)) and abs(fluxes[0] - fluxes[1]) < CHIRALITY_TOLERANCE)


def find_nodes(
    h: Hamiltonian,
    mesh: KMesh | Sequence[int] = SCAN_MESH,
    *,
    bands: int | Sequence[int] | None = None,
    gap_tolerance: float = GAP_TOLERANCE,
    sphere_radius: float | None = None,
) -> tuple[BandNode, ...]:
    """Weyl nodes of a 3D model: band touchings with a non-zero integer Berry monopole charge.

    Every local minimum of the direct gap ``ε_{n+1} - ε_n`` on the scan mesh (26 neighbours,
    periodic on lattices) whose gap is below :data:`CONE_FACTOR` times the rise to its
    neighbours is polished by a Nelder-Mead search of the gap started with a simplex of one
    mesh spacing; minima where the gap stays above ``gap_tolerance`` times the bandwidth are
    gapped and dropped.  A touching is a node if it is isolated (the gap on spheres of radius
    r and r/2 around it stays above :data:`ISOLATION_RATIO` of its median, and the fluxes
    through both agree: lines of touchings, e.g. along symmetry axes, fail).  Around each
    touching the flux of band n through a sphere (:func:`~boltzphlow.geometry.berry_flux`) of
    radius ``sphere_radius`` (default: a quarter of the smaller of the mesh spacing and the
    distance to the nearest other touching) must be within :data:`CHIRALITY_TOLERANCE` of a
    non-zero integer: touchings of zero charge are not nodes.

    Parameters
    ----------
    h
        A 3D model.
    mesh
        Scan mesh; it must separate the nodes (two nodes closer than a spacing may merge).
    bands
        Lower bands n of the pairs (n, n + 1) to search (default: every adjacent pair).
    gap_tolerance
        Relative gap below which a polished minimum is a touching.
    sphere_radius
        Radius of the flux spheres.

    Returns
    -------
    tuple of BandNode
        Sorted by band, then energy, then position.
    """
    if h.dim != 3:
        raise ValueError(f"find_nodes needs a 3D model, got a {h.dim}D one")
    pairs = check_bands(bands, h.n_bands - 1) if h.n_bands > 1 else np.zeros(0, int)
    kmesh = h.mesh(mesh)
    frac = kmesh.fractional()
    energies = _gaps(h, h.k_cartesian(frac)).reshape(*kmesh.shape, h.n_bands)
    scale = float(energies.max() - energies.min()) or 1.0
    b = _reciprocal(h)
    spacing_vectors = (h.k_cartesian(np.diag(kmesh.spacing)) - h.k_cartesian(np.zeros((1, 3))))
    spacing = float(np.sqrt((spacing_vectors**2).sum(-1)).min())
    found: list[tuple[int, np.ndarray, float, float]] = []
    for n in pairs:
        gap = energies[..., n + 1] - energies[..., n]
        is_min = np.ones(gap.shape, dtype=bool)
        rise = np.zeros(gap.shape)
        for shift in product((-1, 0, 1), repeat=3):
            if any(shift):
                neighbour = np.roll(gap, shift, axis=(0, 1, 2))
                is_min &= gap <= neighbour
                rise = np.maximum(rise, neighbour - gap)
        # a cone (linear touching) inside the cell: the gap at the nearest scan point is below
        # the rise to the neighbours (quadratic, gapped minima have gap >> rise)
        candidates = np.flatnonzero((is_min & (gap <= CONE_FACTOR * rise)).reshape(-1))
        ratio = (gap.reshape(-1)[candidates]
                 / np.maximum(rise.reshape(-1)[candidates], 1e-300 * scale))
        for idx in candidates[np.argsort(ratio, kind="stable")][:MAX_CANDIDATES]:
            start = h.k_cartesian(frac[idx : idx + 1])[0]

            def gap_at(k: np.ndarray, n: int = n) -> float:
                e = _gaps(h, k[None, :])[0]
                return float(e[n + 1] - e[n])

            simplex = np.vstack([start, start + spacing_vectors])
            res = minimize(gap_at, start, method="Nelder-Mead",
                           options={"initial_simplex": simplex, "xatol": 1e-13 * spacing,
                                    "fatol": 1e-14 * scale, "maxiter": 4000, "maxfev": 8000})
            if res.fun > gap_tolerance * scale:
                continue
            k = np.asarray(res.x, float)
            if b is not None:
                f = k @ np.linalg.inv(b)
                k = (f - np.floor(f + 0.5)) @ b
            same = [q for m, q, _, _ in found if m == n]
            if same and np.sqrt((minimal_displacement(h, np.array(same), k) ** 2).sum(-1)).min(
                    ) < 1e-6 * spacing:
                continue
            e = _gaps(h, k[None, :])[0]
            found.append((int(n), k, float(0.5 * (e[n] + e[n + 1])), float(res.fun)))
    nodes = []
    positions = np.array([f[1] for f in found]).reshape(-1, 3)
    for j, (n, k, energy, gap) in enumerate(found):
        radius = sphere_radius
        if radius is None:
            others = np.delete(positions, j, axis=0)
            nearest = (np.sqrt((minimal_displacement(h, others, k) ** 2).sum(-1)).min()
                       if len(others) else np.inf)
            radius = 0.25 * min(spacing, nearest)
        try:
            with np.errstate(invalid="ignore", divide="ignore"):
                flux = berry_flux(h, band=n, center=k, radius=radius)
        except ValueError:  # the sphere crosses a degeneracy: a nodal line, not a node
            continue
        if not np.isfinite(flux) or not _isolated(h, n, k, radius):
            continue  # a line of touchings crosses the sphere: not a node
        chirality = int(np.round(flux))
        if chirality == 0 or abs(flux - chirality) > CHIRALITY_TOLERANCE:
            continue
        nodes.append(BandNode(k=k, energy=energy, chirality=chirality, band=n, flux=flux,
                              gap=gap))
    nodes.sort(key=lambda x: (x.band, x.energy, *np.round(x.k, 9)))
    return tuple(nodes)
