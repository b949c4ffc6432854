r"""How fine a k-mesh must be: the hopping range and the narrowest Berry-curvature peak.

Two lengths bound what a regular mesh can resolve (docs/geometry.md, "Mesh resolution"):

* **Nyquist floor.**  A tight-binding ``H(k) = Σ_R h(R) e^{ik·R}`` with hoppings up to
  ``R_max,j`` lattice vectors along axis j is a trigonometric polynomial; a Γ-centred mesh of
  ``N_j`` points determines it (every hopping aliases onto itself only) iff
  ``N_j >= 2 R_max,j + 1``.  Below that even the mesh average of H is wrong.  Continuum models
  (no hopping range) get :data:`CONTINUUM_FLOOR` points per axis.
* **Curvature width.**  Near the smallest direct gap Δ between bands n and n + 1 the pair is a
  massive Dirac point: ``H ≈ ε_0 + v q·σ + (Δ/2) σ_z`` with ``v = |<n|∂H/∂k|n+1>|``, whose
  curvature ``Ω = v²Δ/2 / (v²q² + Δ²/4)^{3/2}`` (Valet and Raimondi, Eq. 38) has half-width
  ``κ = Δ / (2 v)``.  A mesh whose spacing exceeds κ does not resolve the peak: the sum
  misses or overweights it by O(1) of its integral.  The rule used is spacing <= κ, i.e.
  ``N_j >= L_j / κ`` with ``L_j`` the length of the reciprocal vector ``b_j`` (or the box,
  ``2 k_max``).  Measured (Haldane m = 0.2, 0.7, 0.75, 1; Qi-Wu-Zhang m = 1, 1.8; massive
  Dirac; Rashba), the in-gap σ_xy error at that minimum is at most 3.5e-3 (3.2e-2 for
  Qi-Wu-Zhang m = 1 on 7², where the floor-like minimum is coarse), and 3e-2 to 0.5 at half
  of it; on lattices it then falls exponentially with N (docs/geometry.md has the table).

κ is found by :func:`scan_spectrum`: band energies on a coarse mesh (48² in 2D, 16³ in 3D),
the local minima of each direct gap on it, each refined by a pattern search down to 1e-4 of
the coarse spacing, and the interband velocity there.  A pair whose gap is still limited by
that search resolution (a band crossing: a Weyl or Dirac point, a degeneracy) is *gapless*:
no mesh resolves its curvature singularity, and only the Nyquist floor applies (adaptive
refinement, ``refine``, is what helps there).  A feature narrower than the coarse scan can
see (a gap minimum between scan points far from any scan local minimum) can escape; the rule
is a necessary condition, not a certificate of convergence.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from boltzphlow.bands.hamiltonian import Hamiltonian, check_hermitian

__all__ = ["CONTINUUM_FLOOR", "Spectrum", "axis_lengths", "minimum_mesh", "nyquist_floor",
           "scan_spectrum"]

#: Coarse scan meshes per dimension.
SCAN_SIZES = {1: (240,), 2: (48, 48), 3: (16, 16, 16)}
#: Fewest points per axis of a continuum-box mesh (the centre cell and its two neighbours).
CONTINUUM_FLOOR = 3
#: Gap minima refined per band pair.
CANDIDATES = 6
#: The pattern search stops at this fraction of the coarse spacing.
SEARCH_RESOLUTION = 1e-4


@dataclass(frozen=True)
class Spectrum:
    """Band ranges and the narrowest curvature peak of each pair of adjacent bands.

    Attributes
    ----------
    band_min, band_max
        ``(N,)``: lowest and highest energy of each band on the scan.
    gap
        ``(N - 1,)``: smallest direct gap between bands n and n + 1 found.
    width
        ``(N - 1,)``: half-width κ_n = Δ_n / (2 v_n) of the narrowest curvature peak of the
        pair (``inf`` where the bands do not couple; meaningless where ``gapless``).
    gapless
        ``(N - 1,)``: the pair crosses (its gap closes to the search resolution).
    """

    band_min: np.ndarray
    band_max: np.ndarray
    gap: np.ndarray
    width: np.ndarray
    gapless: np.ndarray

    def pairs_between(self, lo: float, hi: float) -> np.ndarray:
        """Pairs (n, n + 1) that an energy in ``[lo, hi]`` can separate (boolean mask)."""
        return (self.band_min[:-1] <= hi) & (self.band_max[1:] >= lo)

    def pairs_of_bands(self, bands: list[int] | np.ndarray) -> np.ndarray:
        """Pairs adjacent to any of ``bands`` (boolean mask)."""
        mask = np.zeros(len(self.gap), dtype=bool)
        for b in bands:
            mask[[p for p in (b - 1, b) if 0 <= p < len(mask)]] = True
        return mask

    def narrowest(self, mask: np.ndarray | None = None) -> float:
        """Smallest width κ over the gapped pairs in ``mask`` (``inf`` if none)."""
        use = ~self.gapless if mask is None else (mask & ~self.gapless)
        return float(self.width[use].min()) if use.any() else float("inf")

    def band_gaps(self) -> np.ndarray:
        """``(N - 1,)``: indirect gaps ``min ε_{n+1} - max ε_n`` (<= 0 where bands overlap).

        The scan's band ranges, capped by the refined direct gap (an indirect gap is never
        larger), so a band edge between scan points does not widen it.
        """
        return np.minimum(self.band_min[1:] - self.band_max[:-1], self.gap)


def axis_lengths(h: Hamiltonian) -> np.ndarray:
    """Cartesian length of each reduced axis: ``|b_j|`` (lattice) or ``2 k_max`` (box)."""
    if h.periodic:
        return np.linalg.norm(np.asarray(h.reciprocal), axis=1)
    return np.full(h.dim, 2.0 * float(h.k_max))


def nyquist_floor(h: Hamiltonian) -> np.ndarray:
    """Fewest points per reduced axis: ``2 R_max,j + 1`` (tight binding), else the floor."""
    r = getattr(h, "R", None)
    if r is None or not h.periodic:
        return np.full(h.dim, CONTINUUM_FLOOR, dtype=np.int64)
    return np.maximum(2 * np.abs(np.asarray(r)).max(axis=0) + 1, CONTINUUM_FLOOR)


def minimum_mesh(h: Hamiltonian, width: float, *, refine: int = 0,
                 axes: list[int] | None = None) -> np.ndarray:
    """Fewest points per axis: the Nyquist floor and spacing <= κ (``width``).

    Parameters
    ----------
    width
        Curvature half-width κ (``inf``: no gapped pair matters, only the floor applies).
    refine
        Levels of adaptive refinement: each divides the local spacing at the peaks by 3.
    axes
        Reduced axes of the mesh (a plane of a 3D model); default all.
    """
    axes = list(range(h.dim)) if axes is None else axes
    floor = nyquist_floor(h)[axes]
    if not np.isfinite(width) or width <= 0:
        return floor
    need = np.ceil(axis_lengths(h)[axes] / (width * 3.0**refine) - 1e-9).astype(np.int64)
    return np.maximum(floor, need)


def scan_spectrum(h: Hamiltonian) -> Spectrum:
    """Band ranges, smallest direct gaps and curvature widths (see the module docstring).

    Raises
    ------
    ValueError
        If H(k) is not finite or not Hermitian on the scan.
    """
    mesh = h.mesh(SCAN_SIZES[h.dim])
    blocks = []
    for block in h.mesh_blocks(mesh, velocity=False):
        check_hermitian(block.h)
        blocks.append(np.linalg.eigvalsh(block.h))
    energies = np.concatenate(blocks)
    n = h.n_bands
    band_min, band_max = energies.min(axis=0), energies.max(axis=0)
    if n < 2:
        empty = np.zeros(0)
        return Spectrum(band_min, band_max, empty, empty, empty.astype(bool))
    gaps = np.diff(energies, axis=1).reshape(*mesh.shape, n - 1)
    frac = mesh.fractional()
    # local minima of each gap on the scan (periodic neighbours), the smallest few per pair
    local = np.ones(gaps.shape, dtype=bool)
    for axis in range(h.dim):
        for step in (1, -1):
            local &= gaps <= np.roll(gaps, step, axis=axis)
    flat_gaps = gaps.reshape(-1, n - 1)
    flat_local = local.reshape(-1, n - 1)
    starts, pairs = [], []
    for p in range(n - 1):
        points = np.nonzero(flat_local[:, p])[0]
        points = points[np.argsort(flat_gaps[points, p])][:CANDIDATES]
        starts.append(frac[points])
        pairs.append(np.full(len(points), p))
    f0, pair = np.concatenate(starts), np.concatenate(pairs)
    step0 = 1.0 / max(mesh.shape)
    f, step = _pattern_search(h, f0, pair, step0)
    k = h.k_cartesian(f)
    e, u = np.linalg.eigh(h.hamiltonian(k))
    dh = h.velocity(k)  # (C, d, N, N)
    rows = np.arange(len(pair))
    lower = u[rows, :, pair]          # (C, N)
    upper = u[rows, :, pair + 1]
    v = np.abs(np.einsum("ca,cdab,cb->cd", lower.conj(), dh, upper)).max(axis=1)
    delta = e[rows, pair + 1] - e[rows, pair]
    resolution = step * float(axis_lengths(h).max())  # Cartesian size of the last search step
    crossing = delta <= 4.0 * v * resolution
    width = np.where(v > 0, delta / (2.0 * np.where(v > 0, v, 1.0)), np.inf)
    gap = np.full(n - 1, np.inf)
    kappa = np.full(n - 1, np.inf)
    gapless = np.zeros(n - 1, dtype=bool)
    np.minimum.at(gap, pair, delta)
    np.minimum.at(kappa, pair, width)
    np.logical_or.at(gapless, pair, crossing)
    return Spectrum(band_min, band_max, gap, kappa, gapless)


def _pattern_search(h: Hamiltonian, f0: np.ndarray, pair: np.ndarray, step0: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Local minima of the gaps ``ε_{p+1} - ε_p`` from ``f0`` (compass search, vectorised)."""
    d = h.dim
    offsets = np.array(list(product((-1.0, 0.0, 1.0), repeat=d)))
    centre = len(offsets) // 2
    f, step = f0.astype(float).copy(), np.full(len(f0), step0)
    rows = np.arange(len(f0))
    for _ in range(200):
        active = step > step0 * SEARCH_RESOLUTION
        if not active.any():
            break
        pts = f[:, None, :] + offsets[None] * step[:, None, None]
        e = np.linalg.eigvalsh(h.hamiltonian(h.k_cartesian(pts.reshape(-1, d))))
        e = e.reshape(len(f), len(offsets), -1)
        g = e[rows, :, pair + 1] - e[rows, :, pair]
        best = np.argmin(g, axis=1)
        moved = active & (best != centre) & (g[rows, best] < g[:, centre])
        f = np.where(moved[:, None], pts[rows, best], f)
        step = np.where(active & ~moved, step / 2.0, step)
    return f, step
