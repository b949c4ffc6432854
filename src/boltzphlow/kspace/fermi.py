"""Fermi sums over the states of a k-mesh for many chemical potentials at once.

``S(μ) = Σ_states w · K(ε - μ)`` with ``K`` the Fermi function or ``-∂f/∂ε`` of
:mod:`boltzphlow.stats`, accumulated chunk by chunk with bounded memory
(:class:`FermiSum`), and the k-space integral ``∫ d^dk Σ_n K(ε_n - μ) g_n(k)`` built on it
(:func:`fermi_integral`), on the plain mesh (through :class:`~boltzphlow.kspace.KStates`
chunks restricted to the energy window where ``K`` is not 0) or with adaptive refinement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.geometry.berry import DEGENERACY_TOL, basis_connection
from boltzphlow.grids.kmesh import DEFAULT_CHUNK, KMesh, integrate_adaptive
from boltzphlow.kspace.states import BandChunk, EnergyWindow, KStates, band_chunk
from boltzphlow.stats import fermi, minus_dfermi

__all__ = ["BINS_PER_T", "DIRECT_MU_LIMIT", "FERMI_CUTOFF", "FermiSum", "check_temperature",
           "fermi_integral", "fermi_window"]

#: Above this many chemical potentials a T > 0 Fermi sum is binned instead of exact.
DIRECT_MU_LIMIT = 16
#: Energy bins per k_B T of the binned Fermi sum (interpolation error <= 0.012 / BINS_PER_T^2).
BINS_PER_T = 128
#: Fermi factors beyond this many k_B T from μ are taken as exactly 0 or 1 (error e^-40).
FERMI_CUTOFF = 40.0
#: Most points of the energy grid of a binned Fermi sum (32 MiB per component).
BINNED_GRID_LIMIT = 1 << 22
#: Most terms summed at once by the windowed Fermi sums (bounds their memory).
WINDOW_BLOCK = 1 << 20


def check_temperature(temperature: float) -> float:
    """Temperature as a float; ``ValueError`` if negative or not finite."""
    t = float(temperature)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"temperature must be finite and >= 0, got {temperature}")
    return t


def fermi_window(mu: float | Sequence[float] | np.ndarray, temperature: float,
                 kernel: str = "f") -> EnergyWindow:
    """The energies where the kernel of a Fermi sum is not exactly 0.

    ``kernel="f"`` (a Fermi-sea sum): ``(-inf, max μ + 40 k_B T]``; ``kernel="-df"`` (a
    Fermi-surface sum): ``[min μ - 40 k_B T, max μ + 40 k_B T]``.  :class:`FermiSum` treats
    the Fermi function beyond :data:`FERMI_CUTOFF` k_B T as exactly 0 or 1, so restricting the
    states to this window changes no sum by more than e^-40 of its terms.
    """
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    cut = FERMI_CUTOFF * check_temperature(temperature)
    upper = float(mu.max()) + cut
    return EnergyWindow(-np.inf if kernel == "f" else float(mu.min()) - cut, upper)


class FermiSum:
    """Accumulates ``S(μ) = Σ_states w · K(ε - μ)`` for many μ at once, chunk by chunk.

    ``K`` is the Fermi function (``kernel="f"``) or ``-∂f/∂ε`` (``kernel="-df"``) of
    :mod:`boltzphlow.stats`; beyond :data:`FERMI_CUTOFF` k_B T from μ it is taken as exactly
    1 or 0 (relative error e^-40).  Memory is bounded whatever the number of μ and the
    temperature:

    * T = 0, ``K = f`` (``"step"``): exact; each state is binned by ``searchsorted`` among the
      sorted μ and a cumulative sum gives all μ (cost ``O(M log P)`` per chunk).
    * T > 0, at most :data:`DIRECT_MU_LIMIT` values of μ (``"direct"``): exact, ``O(M P)``.
    * T > 0, more μ (``"binned"``): each state's weight is deposited linearly on an energy grid
      of spacing ``T / BINS_PER_T`` covering ``[min μ - 40T, max μ + 40T]``; at the end ``S`` is
      a cumulative sum below ``μ - 40T`` plus the grid sum against ``K`` within ``±40T``.  The
      linear interpolation of K costs a relative error below ``max|K''| δ²/8`` (≤ 1e-6 for
      K = f with the default spacing).  Used while the grid has at most
      :data:`BINNED_GRID_LIMIT` points.
    * T > 0, more μ and a finer grid than that (T tiny against the μ range, ``"window"``):
      exact; per chunk the states are sorted, a cumulative sum gives those below ``μ - 40T``
      and only the states within ``±40T`` of each μ are summed (in blocks of at most
      :data:`WINDOW_BLOCK` terms).

    Parameters
    ----------
    mu
        Chemical potentials, shape ``(P,)`` (or a scalar), energy units.
    temperature
        ``k_B T`` in the same unit; 0 allowed for ``kernel="f"`` only.
    kernel
        ``"f"`` or ``"-df"``.
    """

    def __init__(self, mu: np.ndarray, temperature: float, kernel: str = "f") -> None:
        self.mu = np.atleast_1d(np.asarray(mu, dtype=float))
        if self.mu.ndim != 1 or not np.all(np.isfinite(self.mu)):
            raise ValueError("mu must be a finite number or 1D array")
        self.t = check_temperature(temperature)
        if kernel not in ("f", "-df"):
            raise ValueError(f"unknown kernel {kernel!r}")
        if kernel == "-df" and self.t == 0:
            raise ValueError(
                "a Fermi-surface quantity needs T > 0 (the delta function -df/de is smeared "
                "over k_B T; choose T larger than the mesh spacing times the band velocity)"
            )
        self.kernel = kernel
        self.kern = fermi if kernel == "f" else minus_dfermi
        self.order = np.argsort(self.mu)
        self.sorted_mu = self.mu[self.order]
        self.mode = (
            "step" if self.t == 0 else ("direct" if len(self.mu) <= DIRECT_MU_LIMIT else "binned")
        )
        self.total: np.ndarray | None = None
        if self.mode == "binned":
            self.step = self.t / BINS_PER_T
            self.lo = self.sorted_mu[0] - FERMI_CUTOFF * self.t
            span = (self.sorted_mu[-1] + FERMI_CUTOFF * self.t - self.lo) / self.step
            if span > BINNED_GRID_LIMIT:
                self.mode = "window"
            else:
                self.n_grid = int(np.ceil(span)) + 2
            self.below = None
            self.grid_w = None

    def _ensure(self, ncomp: int) -> None:
        if self.total is None:
            self.total = np.zeros((len(self.mu), ncomp))
            if self.mode == "binned":
                self.below = np.zeros(ncomp)
                self.grid_w = np.zeros((self.n_grid, ncomp))

    def add(self, energies: np.ndarray, weights: np.ndarray) -> None:
        """Add states with ``energies`` (any shape S) and ``weights`` (shape S or S + (C,)).

        An empty set of states is allowed (it fixes the number of components C).
        """
        e = np.asarray(energies, dtype=float)
        w = np.asarray(weights, dtype=float)
        if w.ndim == e.ndim:
            w = w[..., None]
        w = w.reshape(e.size, w.shape[-1])
        e = e.reshape(-1)
        self._ensure(w.shape[1])
        if e.size == 0:
            return
        if self.mode == "step":
            idx = np.searchsorted(self.sorted_mu, e, side="right")
            for c in range(w.shape[1]):
                counts = np.bincount(idx, weights=w[:, c], minlength=len(self.mu) + 1)
                self.total[self.order, c] += np.cumsum(counts)[:-1]
        elif self.mode == "direct":
            self.total += self.kern(e[None, :], self.mu[:, None], self.t) @ w
        elif self.mode == "window":
            self._add_window(e, w)
        else:
            x = (e - self.lo) / self.step
            below = x < 0
            if self.kernel == "f":
                self.below += w[below].sum(axis=0)
            inside = (~below) & (x < self.n_grid - 1)
            xi, wi = x[inside], w[inside]
            j = np.floor(xi).astype(np.int64)
            frac = (xi - j)[:, None]
            for c in range(w.shape[1]):
                self.grid_w[:, c] += np.bincount(j, (wi * (1 - frac))[:, c], minlength=self.n_grid)
                self.grid_w[:, c] += np.bincount(j + 1, (wi * frac)[:, c], minlength=self.n_grid)

    def _add_window(self, e: np.ndarray, w: np.ndarray) -> None:
        """Exact sum: cumulative below ``μ - 40T``, term by term within ``±40T``."""
        order = np.argsort(e, kind="stable")
        es, ws = e[order], w[order]
        cut = FERMI_CUTOFF * self.t
        lo = np.searchsorted(es, self.mu - cut, side="left")
        hi = np.searchsorted(es, self.mu + cut, side="right")
        if self.kernel == "f":
            cumulative = np.concatenate([np.zeros((1, ws.shape[1])), np.cumsum(ws, axis=0)])
            self.total += cumulative[lo]
        self._window_sums(lo, hi - lo, lambda idx, owner: (
            self.kern(es[idx], self.mu[owner], self.t)[:, None] * ws[idx]), np.arange(len(lo)))

    def _window_sums(self, start: np.ndarray, count: np.ndarray, terms, targets: np.ndarray,
                     out: np.ndarray | None = None) -> None:
        """``out[targets[i]] += Σ_{j < count[i]} terms(start[i] + j, i)``, in bounded blocks."""
        out = self.total if out is None else out
        ends = np.cumsum(count)
        cuts = np.searchsorted(ends, np.arange(WINDOW_BLOCK, int(ends[-1]) if len(ends) else 0,
                                               WINDOW_BLOCK), side="right")
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(count)], strict=True):
            if b <= a:
                continue
            n = count[a:b]
            owner = np.repeat(np.arange(a, b), n)
            first = np.repeat(ends[a:b] - n, n)
            idx = np.repeat(start[a:b], n) + (np.arange(len(owner)) + (ends[a - 1] if a else 0)
                                              - first)
            values = terms(idx, owner)  # (terms, C)
            for c in range(values.shape[1]):
                out[targets[a:b], c] += np.bincount(owner - a, values[:, c], minlength=b - a)

    def result(self) -> np.ndarray:
        """``S(μ)``, shape ``(P, C)``."""
        if self.total is None:
            raise RuntimeError("no states were added")
        if self.mode != "binned":
            return self.total
        grid = self.lo + self.step * np.arange(self.n_grid)
        cut = FERMI_CUTOFF * self.t
        out = np.zeros_like(self.total)
        if self.kernel == "f":
            cumulative = np.concatenate([np.zeros((1, self.grid_w.shape[1])),
                                         np.cumsum(self.grid_w, axis=0)])
            first = np.searchsorted(grid, self.mu - cut, side="left")
            out += self.below[None, :] + cumulative[first]
        else:
            first = np.searchsorted(grid, self.mu - cut, side="left")
        last = np.searchsorted(grid, self.mu + cut, side="right")
        self._window_sums(first, last - first, lambda idx, owner: (
            self.kern(grid[idx], self.mu[owner], self.t)[:, None] * self.grid_w[idx]),
            np.arange(len(first)), out)
        return out


StateWeight = Callable[[BandChunk | KStates], np.ndarray]


def fermi_integral(
    h: Hamiltonian,
    mesh: KMesh | Sequence[int],
    state_weight: StateWeight,
    mu: np.ndarray,
    temperature: float,
    *,
    kernel: str = "f",
    chunk_size: int = DEFAULT_CHUNK,
    use_symmetry: bool = False,
    refine: int = 0,
    refine_fraction: float = 0.5,
    degeneracy_tol: float = DEGENERACY_TOL,
    orbital_moment: bool = False,
) -> np.ndarray:
    r"""``∫ d^dk Σ_n K(ε_n - μ) g_n(k)`` for all μ, shape ``(P, N, C)`` (per band).

    ``state_weight(states) -> states.energy.shape + (C,)`` gives ``g_n`` from the arrays of a
    :class:`~boltzphlow.kspace.KStates` (``energy``, ``velocity``, ``berry_curvature``,
    ``orbital_moment``, ``band`` ...; one row per state) or of a dense
    :class:`~boltzphlow.kspace.BandChunk` (the same names, one ``(M, N, ...)`` row per
    k-point), so one function serves both.

    On the plain mesh (``refine=0``) only the states of :func:`fermi_window` are built, chunk
    by chunk (:meth:`KStates.chunks`), and summed by one :class:`FermiSum` per band.  With
    ``refine > 0`` the integral is done by :func:`~boltzphlow.grids.kmesh.integrate_adaptive`
    (``refine`` levels, Dörfler fraction ``refine_fraction``), which refines the cells that
    dominate the error (Fermi-surface steps, Weyl nodes, near gap closings).
    """
    mesh = h.mesh(mesh)
    mu_arr = np.atleast_1d(np.asarray(mu, dtype=float))
    t = FermiSum(mu_arr, temperature, kernel).t  # checks μ, T and the kernel first
    n_bands = h.n_bands
    if refine > 0:
        kern = fermi if kernel == "f" else minus_dfermi

        def integrand(frac: np.ndarray) -> np.ndarray:
            k = h.k_cartesian(frac)
            hk, dhk = h.hamiltonian_and_velocity(k)
            chunk = band_chunk(k, np.zeros(len(k)), np.zeros(len(k), dtype=np.int64), hk, dhk,
                               orbital_moment=orbital_moment, degeneracy_tol=degeneracy_tol,
                               connection=basis_connection(h, k))
            g = state_weight(chunk)  # (M, N, C)
            out = np.empty((len(frac), len(mu_arr), n_bands, g.shape[2]))
            for n in range(n_bands):
                # per point: K(e_n - mu_p) g_n  -> (M, P, C), written in place
                factor = kern(chunk.energy[:, n, None], mu_arr[None, :], t)
                np.multiply(factor[:, :, None], g[:, n, None, :], out=out[:, :, n, :])
            return out.reshape(len(frac), -1)  # (M, P*N*C)

        res = integrate_adaptive(
            integrand,
            mesh,
            periodic=h.periodic,
            levels=refine,
            fraction=refine_fraction,
            chunk_size=chunk_size,
        )
        return res.value.reshape(len(mu_arr), n_bands, -1) * h.k_volume
    acc = [FermiSum(mu_arr, t, kernel) for _ in range(n_bands)]
    for states in KStates.chunks(
        h, mesh, fermi_window(mu_arr, t, kernel), chunk_size=chunk_size,
        use_symmetry=use_symmetry, orbital_moment=orbital_moment, degeneracy_tol=degeneracy_tol,
    ):
        g = state_weight(states) * states.weight[:, None]
        for n, a in enumerate(acc):
            sel = states.band == n
            a.add(states.energy[sel], g[sel])
    return np.stack([a.result() for a in acc], axis=1)
