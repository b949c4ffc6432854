r"""The contract of a scattering model and the collision operator built from it.

Units: ħ = e = k_B = 1 (:mod:`boltzphlow.kspace.states`).  Sums over final states are
``Σ_{s'} weight_{s'} / (2π)^d`` (the k-space measure of :class:`~boltzphlow.kspace.KStates`).

The linearised collision integral (F. Bloch's Boltzmann equation with Pauli factors, Eq. 2a of
C. Xiao, Y. Liu, M. Xie, S. A. Yang, Q. Niu, "Theory of phonon side jump contribution in
anomalous Hall transport") for a deviation written as

.. math:: δf_s = f^0_s (1 - f^0_s)\, φ_s

is, multiplied by the k-space weight of the state,

.. math:: w_s\, I_{coll}[δf]_s = -\sum_{s'} Φ_{ss'} (φ_s - φ_{s'}) - Γ_s φ_s,

where ``Φ_{ss'} = w_s w_{s'} f^0_s (1 - f^0_{s'}) W_{s' ← s} / (2π)^d`` is the *equilibrium
transition flux* between the states s and s' (``W_{s'←s}`` the golden-rule rate density).
Detailed balance (``f^0_s (1 - f^0_{s'}) W_{s'←s} = f^0_{s'} (1 - f^0_s) W_{s←s'}``) is the
statement ``Φ = Φᵀ``: every model computes the flux of an *unordered* pair once, so detailed
balance holds to round-off by construction, and the operator ``L = diag(Φ 1) - Φ + diag(Γ)``
is symmetric positive semi-definite.  ``Γ_s`` (``w_s f^0_s(1-f^0_s)/τ``) is the sink of a
constant relaxation time, the one model that does not conserve particles.

A model implements :meth:`ScatteringModel.pair_flux` for blocks of candidate pairs with
``ε_c ≥ ε_r`` (rows r, columns c) and declares how far in energy its transitions reach
(:meth:`ScatteringModel.max_energy_transfer`); :class:`CollisionOperator` enumerates the
candidates in energy-sorted blocks of bounded memory and assembles the sparse symmetric ``Φ``
(stored once, as the upper triangle in energy order: 8 bytes a pair in float32).

The assembly evaluates the pairs as dense tiles of the energy-sorted states
(:class:`Tile`: a block of consecutive rows against the contiguous range of their partners),
so that every per-state quantity enters by slicing and broadcasting instead of a gather per
pair; models implement :meth:`ScatteringModel.tile_flux` for that path (and
:meth:`ScatteringModel.pair_flux` for any list of pairs, the reference and the fallback).
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from boltzphlow import stats
from boltzphlow.kspace.states import KStates
from boltzphlow.parameters import check_parameters, parameter
from boltzphlow.resources import blas_threads, check_memory, compute_threads, format_bytes

__all__ = ["BYTES_PER_PAIR", "CollisionOperator", "DeltaFunction", "Equilibrium", "Gaussian",
           "PairBlock", "ScatteringModel", "Tile", "TileStates", "pair_blocks", "tile_gaussian"]

#: Bytes one stored pair of the symmetric flux takes: a value (float32, the default) and a
#: column (int32) of the upper triangle.
BYTES_PER_PAIR = 8

#: Candidate pairs examined at once: the size of a tile (about 1 MB a float32 temporary,
#: within the L2 cache; the fastest on the 2-core benchmark machine).
BLOCK_PAIRS = 1 << 18

#: Stored pairs one block of :meth:`CollisionOperator.matvec` converts to float64 at once
#: (32 MB): SciPy would convert the whole float32 triangle (8 bytes a pair) for every product.
MATVEC_PAIRS = 1 << 22

#: Candidate pairs drawn to estimate the number of stored pairs before the assembly.
SAMPLE_PAIRS = 20000


# --------------------------------------------------------------------------- equilibrium
@dataclass(frozen=True)
class Equilibrium:
    """The equilibrium the rates are linearised around: chemical potential and temperature
    (energy units; ``T > 0``)."""

    mu: float
    T: float

    def __post_init__(self) -> None:
        t = float(self.T)
        if not (math.isfinite(t) and t > 0):
            raise ValueError(f"temperature must be finite and > 0, got {self.T}")
        if not math.isfinite(float(self.mu)):
            raise ValueError(f"mu must be finite, got {self.mu}")

    def fermi(self, energy: np.ndarray) -> np.ndarray:
        """``f^0(ε)``."""
        return stats.fermi(energy, self.mu, self.T)

    def hole(self, energy: np.ndarray) -> np.ndarray:
        """``1 - f^0(ε) = f^0(2μ - ε)``, without the cancellation of the subtraction deep in
        the Fermi sea (relative error ~1e-16 e^{(μ - ε)/T} there)."""
        return stats.fermi(2.0 * self.mu - np.asarray(energy, float), self.mu, self.T)

    def pauli_weight(self, energy: np.ndarray) -> np.ndarray:
        """``f^0 (1 - f^0) = T (-∂f^0/∂ε)``."""
        return self.fermi(energy) * self.hole(energy)

    def _ordered(self, e_from: np.ndarray, e_to: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``f^0(ε_<)(1 - f^0(ε_>))`` and ``x = (ε_> - ε_<)/T ≥ 0`` of each pair."""
        e1, e2 = np.asarray(e_from, float), np.asarray(e_to, float)
        lo, hi = np.minimum(e1, e2), np.maximum(e1, e2)
        return self.fermi(lo) * self.hole(hi), (hi - lo) / self.T

    def elastic_flux_factor(self, e_from: np.ndarray, e_to: np.ndarray) -> np.ndarray:
        r"""The symmetric occupation factor of an elastic (static) transition.

        ``T (f^0(ε') - f^0(ε)) / (ε - ε')``: the divided difference of ``f^0``, symmetric in
        ``ε ↔ ε'``, equal to ``f^0 (1 - f^0)`` at ``ε = ε'`` and the ``ω → 0`` limit of the
        phonon factor ``f^0(ε)(1 - f^0(ε'))(N(ε - ε') + 1)`` times ``ω/T`` — so that a
        smeared δ between two states of slightly different energy still gives ``Φ = Φᵀ``.
        Evaluated without cancellation as ``f^0_<(1 - f^0_>)(1 - e^{-x})/x``,
        ``x = |ε - ε'|/T`` (from ``f^0_>(1 - f^0_<) = e^{-x} f^0_<(1 - f^0_>)``).
        """
        occupation, x = self._ordered(e_from, e_to)
        small = x < 1e-8
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = -np.expm1(-x) / np.where(small, 1.0, x)
        return occupation * np.where(small, 1.0 - 0.5 * x, ratio)

    def absorption_factor(self, e_from: np.ndarray, e_to: np.ndarray) -> np.ndarray:
        r"""``f^0_<(1 - f^0_>) N(Δ) Δ/T`` with ``Δ = ε_> - ε_< ≥ 0`` (dimensionless).

        The occupation factor of a phonon of energy ``Δ`` absorbed by the lower state (equal
        to ``f^0_>(1 - f^0_<)(N(Δ) + 1) Δ/T``, the emission by the upper one: the identity
        ``f(1 - f') N(ε' - ε) = f'(1 - f)(N(ε' - ε) + 1)``), times ``Δ/T`` so that it stays
        finite as ``Δ → 0`` (limit ``f^0(1 - f^0)``); symmetric in its arguments.
        """
        occupation, x = self._ordered(e_from, e_to)
        return occupation * stats.planck_ratio(x)


# --------------------------------------------------------------------------- δ functions
class DeltaFunction(ABC):
    r"""An approximation of the energy δ of the golden rule, ``δ(ε_c - ε_r - Δ)``.

    ``mismatch(rows, cols)`` returns ``ε_c - ε_r - Δ_{rc}`` for any pairs (the energy transfer
    ``Δ`` may depend on the pair, e.g. ``±c_s |k_c - k_r|``); a method evaluates it where it
    needs (a smearing at the pair itself, a tetrahedron method at the mesh neighbours of the
    column too) and returns the weight of each pair in energy⁻¹.  The weight of a pair whose
    own ``|mismatch|`` exceeds :meth:`cutoff` must be zero (the models prune such pairs
    before calling :meth:`weights`).
    """

    name: str = ""

    @abstractmethod
    def cutoff(self, states: KStates) -> float:
        """Largest ``|mismatch|`` with a nonzero weight (energy units), for pruning pairs."""

    @abstractmethod
    def weights(self, states: KStates, rows: np.ndarray, cols: np.ndarray,
                mismatch: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """δ weights ``(P,)`` of the pairs ``(rows[i], cols[i])`` (energy⁻¹)."""

    def tile_weights(self, tile: Tile, mismatch: np.ndarray) -> np.ndarray | None:
        """δ weights of the pairs of a :class:`Tile` (``(B, W)``, the tile's dtype) from their
        mismatch ``(B, W)``, for a δ whose weight depends on the pair's own mismatch only;
        None (the default): the method needs :meth:`weights` (the operator then evaluates the
        tile's candidate pairs one by one)."""
        return None


def gaussian_weights(x: np.ndarray, width: np.ndarray | float, n_sigma: float) -> np.ndarray:
    """``exp(-x²/2σ²)/(√(2π) σ)`` where ``|x| ≤ n_sigma σ``, else 0 (the exponential is
    evaluated only inside the cut)."""
    x = np.asarray(x, float)
    if np.ndim(width) == 0:
        u = x * (1.0 / float(width))
        out = np.exp(-0.5 * u * u) * (1.0 / (math.sqrt(2 * math.pi) * float(width)))
        out[np.abs(u) > n_sigma] = 0.0
        return out
    width = np.broadcast_to(np.asarray(width, float), x.shape)
    u = x / width
    out = np.exp(-0.5 * np.minimum(u * u, 2 * n_sigma * n_sigma)) / (math.sqrt(2 * math.pi)
                                                                       * width)
    out[np.abs(u) > n_sigma] = 0.0
    return out


@dataclass(frozen=True)
class Gaussian(DeltaFunction):
    """Gaussian smearing of fixed width σ (energy), cut at ``n_sigma`` σ (default 4: the
    neglected tail is ``erfc(4/√2) ≈ 6e-5`` of the weight)."""

    width: float = parameter(unit="energy", doc="standard deviation σ of the Gaussian δ",
                             gt=0)
    n_sigma: float = parameter(4.0, unit="1", doc="cut of the Gaussian, in widths", gt=0)
    name = "gaussian"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.width) and self.width > 0):
            raise ValueError(f"the Gaussian width must be finite and > 0, got {self.width}")
        check_parameters(self)

    def cutoff(self, states: KStates) -> float:
        return self.n_sigma * self.width

    def weights(self, states, rows, cols, mismatch):
        return gaussian_weights(mismatch(rows, cols), self.width, self.n_sigma)

    def tile_weights(self, tile, mismatch):
        return tile_gaussian(mismatch, 1.0 / self.width, self.n_sigma)


def tile_gaussian(mismatch: np.ndarray, inverse_width: np.ndarray | float,
                  n_sigma: float) -> np.ndarray:
    """:func:`gaussian_weights` of a tile, in the dtype of ``mismatch``, from the inverse
    width(s) ``1/σ`` (a number or an array broadcasting to the tile)."""
    dt = mismatch.dtype
    u = mismatch * (inverse_width if np.ndim(inverse_width) else dt.type(inverse_width))
    u *= u
    inside = u <= dt.type(n_sigma * n_sigma)
    u *= dt.type(-0.5)
    out = np.exp(u, out=u)
    out *= inside  # (a product with the mask: cheaper than a masked assignment)
    out *= (inverse_width if np.ndim(inverse_width) else dt.type(inverse_width))
    out *= dt.type(1.0 / math.sqrt(2 * math.pi))
    return out


# --------------------------------------------------------------------------- pairs
@dataclass(frozen=True)
class PairBlock:
    """Candidate pairs: rows r and columns c (state indices into the :class:`KStates`), each
    unordered pair once, with ``ε_c ≥ ε_r`` (ties: ``c > r``)."""

    rows: np.ndarray
    cols: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


class TileStates:
    """The energy-sorted states of an operator, with per-state arrays cast once to the dtype
    of the tile evaluation (contiguous, so that a tile's rows and columns are slices).

    ``array(key, make)`` returns ``make()`` (an ``(S, ...)`` array) cast to ``dtype``, built
    once (thread-safe); ``memo(key, make)`` keeps any other value.
    """

    def __init__(self, states: KStates, eq: Equilibrium, dtype) -> None:
        self.states, self.eq, self.dtype = states, eq, np.dtype(dtype)
        self._cache: dict = {}
        self._lock = threading.Lock()

    def memo(self, key, make: Callable[[], object]):
        found = self._cache.get(key)
        if found is None:
            with self._lock:
                found = self._cache.get(key)
                if found is None:
                    found = self._cache[key] = make()
        return found

    def array(self, key, make: Callable[[], np.ndarray], dtype=None) -> np.ndarray:
        dt = self.dtype if dtype is None else np.dtype(dtype)
        return self.memo(("array", key, dt.str),
                         lambda: np.ascontiguousarray(np.asarray(make()).astype(dt)))

    def energy(self) -> np.ndarray:
        """``ε - μ`` (μ subtracted before the cast: differences keep their accuracy)."""
        return self.array("energy", lambda: self.states.energy - self.eq.mu)


class Tile:
    r"""Candidate pairs of energy-sorted states as a dense rectangle: the rows ``r0:r1`` and
    the columns ``c0:c1`` (``c0 = r0 + 1``) of the sorted order.

    A per-state array ``x`` enters a pair quantity as ``row(x)`` ``(B, 1)`` and ``col(x)``
    ``(1, W)`` (slices, no gathers), so a model evaluates its flux with broadcast arithmetic
    on the whole rectangle; the operator keeps only the candidates (``c > r`` and
    ``ε_c - ε_r`` within the reach: :meth:`candidates`).  Pair quantities shared by models
    (the energy transfer, the wave-vector transfer) are kept in ``cache``.
    """

    def __init__(self, context: TileStates, r0: int, r1: int, c1: int,
                 stop: np.ndarray) -> None:
        self.context, self.r0, self.r1, self.c0, self.c1 = context, r0, r1, r0 + 1, c1
        self.stop = stop  # end of each row's candidates (sorted positions)
        self.cache: dict = {}

    @property
    def shape(self) -> tuple[int, int]:
        return self.r1 - self.r0, self.c1 - self.c0

    @property
    def dtype(self) -> np.dtype:
        return self.context.dtype

    @property
    def eq(self) -> Equilibrium:
        return self.context.eq

    def row(self, x: np.ndarray) -> np.ndarray:
        """``x`` of the rows, ``(B, 1, ...)``."""
        return x[self.r0:self.r1, None]

    def col(self, x: np.ndarray) -> np.ndarray:
        """``x`` of the columns, ``(1, W, ...)``."""
        return x[None, self.c0:self.c1]

    def energy_transfer(self) -> np.ndarray:
        """``ε_c - ε_r`` ``(B, W)``."""
        de = self.cache.get("de")
        if de is None:
            e = self.context.energy()
            de = self.cache["de"] = self.col(e) - self.row(e)
        return de

    def candidates(self, start: int = 0, end: int | None = None) -> np.ndarray:
        """``(B, end - start)`` bool of the tile's columns ``start:end``: ``c > r`` and ``c``
        before the row's stop."""
        b, w = self.shape
        col = np.arange(start, w if end is None else end)[None, :]
        return (col >= np.arange(b)[:, None]) & (col < (self.stop - self.c0)[:, None])

    def keep_candidates(self, values: np.ndarray) -> np.ndarray:
        """Zero ``values`` ``(B, W)`` outside the candidates, in place: only the first B
        columns (``c ≤ r``) and those past the first row's stop can hold any."""
        b, w = self.shape
        lo = min(b, w)
        hi = max(lo, int(self.stop[0]) - self.c0)
        values[:, :lo] *= self.candidates(0, lo)
        if hi < w:
            values[:, hi:] *= self.candidates(hi, w)
        return values


def _partner_counts(energy_sorted: np.ndarray, max_transfer: float) -> np.ndarray:
    """Number of partners ``j > i`` with ``e_j - e_i ≤ max_transfer`` of each sorted state."""
    s = len(energy_sorted)
    stop = np.searchsorted(energy_sorted, energy_sorted + max_transfer, side="right")
    return stop - np.arange(s) - 1


def _sorted_blocks(counts: np.ndarray, block_pairs: int) -> Iterator[tuple[int, int, np.ndarray,
                                                                             np.ndarray]]:
    """``(start, end, i, j)``: the candidate pairs of the sorted rows ``start:end`` (positions
    in the energy order; ``i`` nondecreasing, ``j`` increasing within each row)."""
    s = len(counts)
    start = 0
    index = np.int32 if s < 2**31 - 1 else np.int64
    while start < s:
        csum = np.cumsum(counts[start:start + max(block_pairs, 1) + 1])
        end = start + max(1, int(np.searchsorted(csum, block_pairs, side="right")))
        end = min(end, s)
        n = counts[start:end]
        total = int(n.sum())
        if total:
            i = np.repeat(np.arange(start, end, dtype=index), n)
            first = np.repeat((np.cumsum(n) - n - np.arange(start, end) - 1).astype(index), n)
            j = np.arange(total, dtype=index) - first
            yield start, end, i, j
        start = end


def _row_blocks(stop: np.ndarray, block_pairs: int) -> Iterator[tuple[int, int]]:
    """``(start, end)``: blocks of consecutive sorted rows whose tile (the rows against the
    columns ``start + 1 : stop[end - 1]``) has at most ``block_pairs`` entries (at least one
    row; the area, not the number of candidates, bounds the memory when the numbers of
    partners jump), skipping empty tiles; ``stop`` (nondecreasing) ends each row's
    candidates."""
    s = len(stop)
    start = 0
    while start < s:
        window = stop[start:start + max(block_pairs, 1)]
        area = np.arange(1, len(window) + 1) * (window - start - 1)  # nondecreasing
        end = start + max(1, int(np.searchsorted(area, block_pairs, side="right")))
        if stop[end - 1] > start + 1:
            yield start, end
        start = end


def pair_blocks(states: KStates, max_transfer: float, *,
                block_pairs: int = BLOCK_PAIRS) -> Iterator[PairBlock]:
    """Every unordered pair of states whose energies differ by at most ``max_transfer``.

    States are sorted by energy; for each block of rows the partners form a contiguous range
    of the sorted order, so the enumeration costs the number of candidate pairs (not S²) and
    holds about ``block_pairs`` pairs at a time.
    """
    order = np.argsort(states.energy, kind="stable")
    if not len(order):
        return
    counts = _partner_counts(states.energy[order], max_transfer)
    for _start, _end, i, j in _sorted_blocks(counts, block_pairs):
        yield PairBlock(rows=order[i], cols=order[j])


# --------------------------------------------------------------------------- models
class ScatteringModel:
    """A source of transitions between states (impurities, phonons, ...).

    Subclasses set ``name`` and implement :meth:`pair_flux`; a model without pair transitions
    (a constant relaxation time) returns no pairs and implements :meth:`sink` instead.
    ``needs_eigenvectors`` tells :class:`~boltzphlow.kspace.KStates` builders to keep the
    Bloch vectors (for the overlaps ``⟨u_c|u_r⟩``).  ``has_pairs`` is False for a model
    that only has a sink (the operator then skips the pair enumeration for it).
    """

    name: str = ""
    needs_eigenvectors: bool = False
    has_pairs: bool = True
    #: Whether the model has an antisymmetric (skew) rate: :meth:`pair_skew_flux`.
    has_skew: bool = False

    def max_energy_transfer(self, states: KStates | None = None) -> float:
        """Largest ``|ε_c - ε_r|`` a transition of this model can have before smearing
        (0 for elastic models; the largest phonon energy between ``states`` otherwise)."""
        return 0.0

    def max_phonon_energy(self, states: KStates | None = None) -> float:
        """Largest phonon energy (widens the energy window; 0 without phonons)."""
        return 0.0

    def pair_flux(self, states: KStates, pairs: PairBlock, eq: Equilibrium,
                  delta: DeltaFunction) -> np.ndarray:
        """Equilibrium transition flux ``Φ_{rc}`` of each pair, ``(P,)`` (see the module)."""
        return np.zeros(len(pairs))

    def tile_flux(self, tile: Tile, delta: DeltaFunction) -> np.ndarray | None:
        """``Φ_{rc}`` of every pair of a :class:`Tile` ``(B, W)``, in the tile's dtype (any
        finite value where the pair is not a candidate — the operator zeroes those; zero
        beyond the δ cutoff), or None (the default): the operator then calls
        :meth:`pair_flux` on the tile's candidates."""
        return None

    def sink(self, states: KStates, eq: Equilibrium) -> np.ndarray | None:
        """``Γ_s`` of a non-conserving relaxation (``(S,)``), or None."""
        return None

    def pair_skew_flux(self, states: KStates, pairs: PairBlock, eq: Equilibrium,
                       delta: DeltaFunction) -> np.ndarray:
        """Antisymmetric flux ``Φ^A_{rc} = -Φ^A_{cr}`` of each pair ``(P,)`` (models with
        ``has_skew``; :mod:`boltzphlow.scattering.skew`)."""
        return np.zeros(len(pairs))

    def tile_skew_flux(self, tile: Tile, delta: DeltaFunction) -> np.ndarray | None:
        """``Φ^A_{rc}`` on a :class:`Tile`, or None (the pair form is then used)."""
        return None

    def describe(self) -> str:
        """One line for logs and result attributes."""
        return self.name


# --------------------------------------------------------------------------- operator
def _mesh_text(states: KStates) -> str:
    return "x".join(map(str, states.mesh.shape)) if states.mesh is not None else "given"


class _PairBuffer:
    """The upper triangle of a flux matrix in energy order, filled block by block in CSR
    order (rows nondecreasing, columns increasing within a row): values and int32 columns
    in arrays sized from the estimate (grown by half when it was short)."""

    def __init__(self, s: int, estimate: int, dtype, what: str, keys: Sequence[str]) -> None:
        self.s, self.dtype, self.what, self.keys = s, dtype, what, keys
        size = max(1024, int(1.05 * estimate))
        self.data = np.empty(size, dtype=dtype)
        self.indices = np.empty(size, dtype=np.int32)
        self.row_counts = np.zeros(s, dtype=np.int64)
        self.n = 0

    def _reserve(self, count: int) -> int:
        """Room for ``count`` more pairs (growing by half when the estimate was short, the
        memory checked first); returns the end of the new pairs."""
        m = self.n + count
        if m > len(self.data):
            size = max(m, int(1.5 * len(self.data)))
            nbytes = (len(self.data) + size) * (self.data.itemsize + 4)
            check_memory(nbytes, f"{self.what} ({self.n} pairs so far, growing)", self.keys)
            self.data = np.resize(self.data, size)
            self.indices = np.resize(self.indices, size)
        return m

    def add(self, i: np.ndarray, j: np.ndarray, phi: np.ndarray) -> None:
        nz = np.flatnonzero(phi)
        if not len(nz):
            return
        m = self._reserve(len(nz))
        self.data[self.n:m] = phi[nz]
        self.indices[self.n:m] = j[nz]
        self.row_counts += np.bincount(i[nz], minlength=self.s)
        self.n = m

    def add_rows(self, r0: int, counts: np.ndarray, j: np.ndarray, phi: np.ndarray) -> None:
        """Nonzero values ``phi`` at columns ``j`` of the rows ``r0:r0 + len(counts)`` (CSR
        order), ``counts`` of them in each row."""
        m = self._reserve(len(phi))
        self.data[self.n:m] = phi
        self.indices[self.n:m] = j
        self.row_counts[r0:r0 + len(counts)] += counts
        self.n = m

    def csr(self) -> sp.csr_matrix:
        s, n = self.s, self.n
        indptr = np.zeros(s + 1, dtype=np.int64)
        np.cumsum(self.row_counts, out=indptr[1:])
        if n < 2**31 - 1:
            indptr = indptr.astype(np.int32)
        data, indices = self.data, self.indices
        if len(data) > 1.1 * n + 1024:  # trim a generous estimate
            data, indices = data[:n].copy(), indices[:n].copy()
        else:
            data, indices = data[:n], indices[:n]
        self.data = self.indices = None
        return sp.csr_matrix((data, indices, indptr), shape=(s, s))


def _row_blocks_of(indptr: np.ndarray) -> list[tuple[int, int]]:
    """Row blocks ``(r0, r1)`` of a CSR triangle of about :data:`MATVEC_PAIRS` pairs each."""
    s = len(indptr) - 1
    edges = np.unique(np.append(
        np.searchsorted(indptr, np.arange(0, indptr[-1], MATVEC_PAIRS)), s))
    edges = np.unique(np.append(edges, 0))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)
            if indptr[b] > indptr[a]]


def _in_order(work: Callable[[Any], Any], items: Sequence[Any] | Iterator[Any],
              take: Callable[[Any], None], workers: int) -> None:
    """``take(work(item))`` for every item, in order; with ``workers > 1`` the work runs in
    threads (NumPy and SciPy's products release the GIL in their loops), at most
    ``2 × workers`` results held at once."""
    if workers <= 1:
        for item in items:
            take(work(item))
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= 2 * workers:
                take(pending.popleft().result())
        while pending:
            take(pending.popleft().result())


class CollisionOperator:
    r"""The symmetric collision operator ``L = diag(Φ 1) - Φ + diag(Γ)`` of some models.

    ``L φ`` is ``-w_s I_coll[f^0(1-f^0) φ]`` (module docstring): symmetric positive
    semi-definite, with ``L 1 = Γ`` (particle conservation where ``Γ = 0``).

    The candidate pairs (energies within the largest reach of the models plus the δ cutoff)
    are enumerated in energy order, in blocks of bounded memory; the fluxes of all models
    are summed per block and only the nonzero ones are kept, as the upper triangle of ``Φ``
    in energy order (CSR, float32 values and int32 columns: 8 bytes a pair).  Before the
    assembly the number of stored pairs is estimated from the exact number of candidates
    and the fraction of a random sample of them that survives, and a request that would not
    fit (:func:`~boltzphlow.resources.check_memory`) is refused with the estimate.

    Parameters
    ----------
    states
        The states the rates connect.
    models
        Scattering models; their fluxes add (Matthiessen's rule holds for the rates, not for
        the resistivities).
    eq
        The equilibrium (μ, T).
    delta
        The energy δ approximation.
    memory_keys
        Config keys named when the operator would not fit in memory.
    keep_parts
        Keep each model's flux matrix (:attr:`parts`); the out-scattering flux per model
        (:attr:`out_flux_parts`) is always kept.
    block_pairs
        Candidate pairs examined at once.
    dtype
        float32 (default) or float64: the precision in which the tiles are evaluated and the
        fluxes stored (8 or 12 bytes a pair; float32 is ~5 times faster, its exp and log
        being vectorised).  Each float32 flux is good to a few 1e-7 relative (energies
        are cast relative to μ; ``x/(e^x - 1)`` by Kahan's log form), and σ to ~1e-7
        (< 1e-6 asserted by the tests); the out-fluxes are summed in float64 from the stored
        values, so ``L 1 = Γ`` holds to float64 round-off either way.
    workers
        Threads evaluating blocks of pairs and applying the operator (:meth:`matvec`, by
        blocks of rows; default: 2, fewer on a single core or under a lower BLAS thread limit,
        e.g. in a sweep running one task per core: :func:`~boltzphlow.resources.compute_threads`);
        the result does not depend on it
        (the products only to the order of the float64 sums).
    side_jump
        Also accumulate, in the same pass over the pairs, each model's side-jump flux
        ``J^{sj}_s = Σ_{s'} Φ_{ss'} δr_{s'←s}`` (the coordinate shift of
        :mod:`boltzphlow.scattering.sidejump`; the states need ``eigenvectors`` and
        ``covariant_derivative``).  ``J^{sj}_s = w_s f^0_s(1-f^0_s) v^{sj}_s`` with the
        side-jump velocity of Eqs. 7 and 12 of Xiao et al. (the Pauli factor
        ``(1-f^0_{s'})/(1-f^0_s)`` of a phonon rate is in ``Φ``).  Every model counts: the
        matrix elements of all of :mod:`boltzphlow.scattering` are a scalar potential times
        ``⟨u_{s'}|u_s⟩``.

    Attributes
    ----------
    flux
        ``Φ``, ``(S, S)`` symmetric CSR (both triangles, state order), zero diagonal; built
        on first use (the operator itself applies the stored triangle).
    sink
        ``Γ``, ``(S,)``.
    out_flux
        ``Σ_{s'} Φ_{ss'} + Γ_s``, ``(S,)``: the diagonal of ``L``.
    out_flux_parts
        Per model (keyed by :meth:`ScatteringModel.describe`): its out-flux ``(S,)``.
    parts
        Per model: its flux matrix and sink (``keep_parts=True`` only).
    side_jump_flux_parts
        Per model: ``J^{sj}`` ``(S, d)``, energy × L⁻ᵈ⁺¹ (``side_jump=True`` only; else empty).
    estimated_pairs
        The number of pairs estimated before the assembly.
    """

    def __init__(self, states: KStates, models: Sequence[ScatteringModel], eq: Equilibrium,
                 delta: DeltaFunction, *, memory_keys: Sequence[str] = ("mesh",),
                 keep_parts: bool = False, block_pairs: int = BLOCK_PAIRS,
                 dtype: type = np.float32, workers: int | None = None,
                 side_jump: bool = False) -> None:
        if not models:
            raise ValueError("a collision operator needs at least one scattering model")
        self.states, self.models, self.eq, self.delta = states, tuple(models), eq, delta
        self.dtype = np.dtype(dtype)
        self.workers = max(1, int(workers)) if workers is not None else compute_threads(2)
        if self.dtype not in (np.float64, np.float32):
            raise ValueError(f"the flux is stored as float64 or float32, not {self.dtype}")
        s = len(states)
        self.names = self._names(self.models)
        order = np.argsort(states.energy, kind="stable")
        self._order = order
        self.side_jump = bool(side_jump)
        self._skew_upper: sp.csr_matrix | None = None
        self._skew_out_sorted: np.ndarray | None = None
        if self.side_jump and (states.eigenvectors is None
                               or states.covariant_derivative is None):
            raise ValueError("the side-jump flux needs states built with eigenvectors=True and "
                             "covariant_derivative=True")
        self.sink = np.zeros(s)
        self._sink_parts: dict[str, np.ndarray] = {}
        for name, model in zip(self.names, self.models, strict=True):
            gamma = model.sink(states, eq)
            gamma = np.zeros(s) if gamma is None else np.asarray(gamma, float)
            self._sink_parts[name] = gamma
            self.sink = self.sink + gamma
        paired = [(n, m) for n, m in zip(self.names, self.models, strict=True) if m.has_pairs]
        sorted_states = states.select(order) if paired and s else None
        upper, out_parts, upper_parts, shift_parts = self._assemble(
            sorted_states, paired, memory_keys, keep_parts, block_pairs)
        self._upper = upper
        self._upper_parts = upper_parts
        self._keep_parts = keep_parts
        inverse = np.empty(s, dtype=np.int64)
        inverse[order] = np.arange(s)
        self._inverse = inverse
        self.out_flux_parts = {}
        for name in self.names:
            sorted_part = out_parts.get(name, np.zeros(s))
            self.out_flux_parts[name] = sorted_part[inverse] + self._sink_parts[name]
        self.out_flux = sum(self.out_flux_parts.values(), np.zeros(s))
        self.has_skew = self._skew_upper is not None
        self.skew_out = (self._skew_out_sorted[inverse] if self.has_skew else np.zeros(s))
        self._skew_blocks: list[tuple[int, int]] | None = None
        self.side_jump_flux_parts: dict[str, np.ndarray] = {}
        if self.side_jump:
            zero = np.zeros((s, states.dim))
            self.side_jump_flux_parts = {n: shift_parts[n][inverse] if n in shift_parts
                                         else zero.copy() for n in self.names}
        self._flux: sp.csr_matrix | None = None
        self._blocks: list[tuple[int, int]] | None = None

    # ------------------------------------------------------------------ assembly
    @staticmethod
    def _names(models: Sequence[ScatteringModel]) -> list[str]:
        names: list[str] = []
        for model in models:
            name, n = model.describe(), 2
            while name in names:
                name, n = f"{model.describe()} #{n}", n + 1
            names.append(name)
        return names

    def _block_flux(self, states: KStates, paired, rows, cols):
        block = PairBlock(rows=rows, cols=cols)
        return [np.asarray(m.pair_flux(states, block, self.eq, self.delta), float)
                for _n, m in paired]

    def _estimate(self, states: KStates, paired, counts: np.ndarray,
                  keys: Sequence[str]) -> int:
        """Pairs the assembly will store (candidates × surviving fraction of a sample);
        refuses (ResourceError) when their peak memory would not fit."""
        total = int(counts.sum())
        if total == 0:
            return 0
        if total <= SAMPLE_PAIRS:
            estimate = total
        else:
            rng = np.random.default_rng(0)
            draw = np.sort(rng.integers(0, total, SAMPLE_PAIRS))
            csum = np.cumsum(counts)
            i = np.searchsorted(csum, draw, side="right")
            j = i + 1 + (draw - (csum[i] - counts[i]))
            fluxes = self._block_flux(states, paired, i, j)
            alive = np.zeros(len(i), dtype=bool)
            for phi in fluxes:
                alive |= phi != 0
            fraction = (alive.sum() + 1) / len(i)
            estimate = int(math.ceil(total * min(1.0, fraction)))
        per_pair = 1.05 * (self.dtype.itemsize + 4) + 4  # buffer + the block's temporaries
        if any(m.has_skew for _n, m in paired):  # a second triangle: the antisymmetric flux
            per_pair += 1.05 * (self.dtype.itemsize + 4)
        nbytes = per_pair * estimate + 8 * len(counts) * (6 + 2 * len(paired))
        check_memory(nbytes, f"the collision operator of {len(counts)} states on the "
                     f"{_mesh_text(states)} mesh (about {estimate:.3g} pairs of "
                     f"{total:.3g} candidates; estimate)", keys)
        return estimate

    def _model_tile(self, tile: Tile, tile_values, pair_values, pairs: list) -> np.ndarray:
        """One model's pair quantity on a tile ``(B, W)``, in the tile's dtype and zero outside
        the candidates: its tile form (``tile_values(tile, δ)``), or, where that is None, its
        pair form (``pair_values(states, pairs, eq, δ)``) on the tile's candidates
        (enumerated once per tile: ``pairs`` is a one-element cache)."""
        phi = tile_values(tile, self.delta)
        if phi is None:
            if pairs[0] is None:
                a, b = np.nonzero(tile.candidates())
                pairs[0] = a, b, PairBlock(rows=a + tile.r0, cols=b + tile.c0)
            a, b, block = pairs[0]
            phi = np.zeros(tile.shape, dtype=tile.dtype)
            phi[a, b] = pair_values(tile.context.states, block, self.eq, self.delta)
            return phi
        phi = (np.asarray(phi, dtype=tile.dtype) if np.shape(phi) == tile.shape
               else np.array(np.broadcast_to(phi, tile.shape), dtype=tile.dtype))
        return tile.keep_candidates(phi)

    def _tile_flux(self, tile: Tile, paired) -> list[np.ndarray]:
        """Each model's flux on a tile ``(B, W)``, zero outside the candidates."""
        pairs: list = [None]
        return [self._model_tile(tile, m.tile_flux, m.pair_flux, pairs) for _n, m in paired]

    def _assemble(self, states: KStates | None, paired, keys, keep_parts, block_pairs):
        s = len(self.states)
        empty = sp.csr_matrix((s, s), dtype=self.dtype)
        self.estimated_pairs = self.candidate_pairs = 0
        if states is None:
            return empty, {}, {}, {}
        reach = (max(m.max_energy_transfer(states) for _n, m in paired)
                 + self.delta.cutoff(states))
        counts = _partner_counts(states.energy, reach)
        stop = np.arange(s) + 1 + counts
        self.candidate_pairs = int(counts.sum())
        self.estimated_pairs = self._estimate(states, paired, counts, keys)
        names = [n for n, _m in paired]
        out = {n: np.zeros(s) for n in names}
        what = f"the collision operator of {s} states on the {_mesh_text(states)} mesh"
        total = _PairBuffer(s, self.estimated_pairs, self.dtype, what, keys)
        parts = ({n: _PairBuffer(s, 0, self.dtype, what, keys) for n in names}
                 if keep_parts and len(names) > 1 else {})
        context = TileStates(states, self.eq, self.dtype)
        shifts = ({n: np.zeros((s, states.dim)) for n in names} if self.side_jump else {})
        skewed = [(n, m) for n, m in paired if m.has_skew]
        skew = _PairBuffer(s, self.estimated_pairs, self.dtype, what, keys) if skewed else None
        skew_out = np.zeros(s)

        def work(rows: tuple[int, int]):
            r0, r1 = rows
            tile = Tile(context, r0, r1, int(stop[r1 - 1]), stop[r0:r1])
            fluxes = self._tile_flux(tile, paired)
            phi = fluxes[0] if len(fluxes) == 1 else np.sum(fluxes, axis=0)
            sums = []
            for f in fluxes:  # the out-fluxes from the stored (rounded) values
                f64 = f.astype(np.float64, copy=False)
                sums.append((f64.sum(axis=1), f64.sum(axis=0)))
            shift_sums = self._tile_side_jump(tile, fluxes) if self.side_jump else None
            antisymmetric = None
            if skewed:
                a = self._tile_skew(tile, skewed)
                a64 = a.astype(np.float64, copy=False)
                antisymmetric = _kept(a), a64.sum(axis=1), a64.sum(axis=0)
            return (tile, sums, _kept(phi), [_kept(f) for f in fluxes] if parts else None,
                    shift_sums, antisymmetric)

        def _kept(phi):  # boolean compression (np.nonzero of 2D is ten times slower)
            keep = phi != 0
            b = np.broadcast_to(np.arange(phi.shape[1], dtype=np.int32), phi.shape)[keep]
            return keep.sum(axis=1), b, phi[keep]

        def keep(result) -> None:
            tile, sums, kept, kept_parts, shift_sums, antisymmetric = result
            r0, c0 = tile.r0, tile.c0
            if antisymmetric is not None:  # Φ^A_cr = -Φ^A_rc
                (n, j, v), by_row, by_col = antisymmetric
                skew.add_rows(r0, n, j + c0, v)
                skew_out[r0:tile.r1] += by_row
                skew_out[c0:tile.c1] -= by_col
            if shift_sums is not None:
                for name, (by_row, by_col) in zip(names, shift_sums, strict=True):
                    shifts[name][r0:tile.r1] += by_row
                    shifts[name][c0:tile.c1] -= by_col
            for k, (name, (by_row, by_col)) in enumerate(zip(names, sums, strict=True)):
                out[name][r0:tile.r1] += by_row
                out[name][c0:tile.c1] += by_col
                if name in parts:
                    n, j, v = kept_parts[k]
                    parts[name].add_rows(r0, n, j + c0, v)
            n, j, v = kept
            total.add_rows(r0, n, j + c0, v)

        # the tiles' matrix products are small: BLAS threads of their own would only contend
        # with the assembly's threads (several times slower on a loaded 2-core machine)
        with blas_threads(1):
            _in_order(work, _row_blocks(stop, block_pairs), keep, self.workers)
        upper = total.csr()
        if skew is not None:
            self._skew_upper, self._skew_out_sorted = skew.csr(), skew_out
        upper_parts = {}
        if keep_parts:
            upper_parts = ({names[0]: upper} if len(names) == 1 else
                           {n: parts[n].csr() for n in names})
        return upper, out, upper_parts, shifts

    def _tile_skew(self, tile: Tile, skewed) -> np.ndarray:
        """The antisymmetric flux of the skew models on a tile ``(B, W)``, zero outside the
        candidates."""
        pairs: list = [None]
        return sum((self._model_tile(tile, m.tile_skew_flux, m.pair_skew_flux, pairs)
                    for _n, m in skewed), np.zeros(tile.shape, dtype=tile.dtype))

    @staticmethod
    def _tile_side_jump(tile: Tile, fluxes: list[np.ndarray]
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per model, the row and column sums ``(B, d)``, ``(W, d)`` of
        ``Φ_rc δr_{c←r}`` on a tile, float64
        (:func:`boltzphlow.scattering.sidejump.tile_side_jump_sums`: matrix products of the
        flux with per-state factors; the pair-level shift is not formed for two bands)."""
        from boltzphlow.scattering.sidejump import tile_side_jump_sums

        return tile_side_jump_sums(tile, fluxes)

    # ------------------------------------------------------------------ views
    def _full(self, upper: sp.csr_matrix) -> sp.csr_matrix:
        """Both triangles of an energy-ordered upper triangle, in state order."""
        full = (upper + upper.T).tocsr()
        inv = self._inverse
        return full[inv][:, inv].tocsr()

    @property
    def flux(self) -> sp.csr_matrix:
        if self._flux is None:
            self._flux = self._full(self._upper)
        return self._flux

    @property
    def parts(self) -> dict[str, tuple[sp.csr_matrix, np.ndarray]]:
        if not self._keep_parts:
            return {}
        s = len(self.states)
        return {n: (self._full(self._upper_parts[n]) if n in self._upper_parts
                    else sp.csr_matrix((s, s)), self._sink_parts[n]) for n in self.names}

    @property
    def side_jump_flux(self) -> np.ndarray:
        """``J^{sj}_s = Σ_{s'} Φ_{ss'} δr_{s'←s}`` of all models ``(S, d)``
        (``side_jump=True``)."""
        if not self.side_jump:
            raise ValueError("the operator was built without side_jump=True")
        return sum(self.side_jump_flux_parts.values(),
                   np.zeros((len(self.states), self.states.dim)))

    @property
    def n_pairs(self) -> int:
        """Stored unordered pairs (nonzeros of one triangle of Φ)."""
        return int(self._upper.nnz)

    @property
    def nbytes(self) -> int:
        u = self._upper
        return int(u.data.nbytes + u.indices.nbytes + u.indptr.nbytes
                   + 3 * self.out_flux.nbytes)

    def occupation_weight(self) -> np.ndarray:
        """``w_s f^0_s (1 - f^0_s)``, ``(S,)``: the out-flux of a unit rate."""
        return self.states.weight * self.eq.pauli_weight(self.states.energy)

    def scattering_rate(self) -> np.ndarray:
        """Out-scattering rate ``1/τ_s = out_flux_s / (w_s f^0_s (1 - f^0_s))`` (SERTA),
        ``(S,)``, energy units."""
        return self.out_flux / self.occupation_weight()

    def rates_by_mechanism(self) -> dict[str, np.ndarray]:
        """``1/τ_s`` of each model (they add up to :meth:`scattering_rate`)."""
        w = self.occupation_weight()
        return {n: f / w for n, f in self.out_flux_parts.items()}

    def matvec(self, phi: np.ndarray) -> np.ndarray:
        """``L φ`` for ``φ`` of shape ``(S,)`` or ``(S, m)``."""
        phi = np.asarray(phi, float)
        d = self.out_flux if phi.ndim == 1 else self.out_flux[:, None]
        x = phi[self._order]
        y = np.empty_like(x)
        y[self._order] = self._symmetric_product(x)
        return d * phi - y

    def skew_matvec(self, phi: np.ndarray) -> np.ndarray:
        """``K φ = diag(Φ^A 1) φ + Φ^A φ`` of the skew models (zero without them;
        :mod:`boltzphlow.scattering.skew`), ``φ`` ``(S,)`` or ``(S, m)``."""
        phi = np.asarray(phi, float)
        if not self.has_skew:
            return np.zeros_like(phi)
        d = self.skew_out if phi.ndim == 1 else self.skew_out[:, None]
        x = phi[self._order]
        y = np.empty_like(x)
        if self._skew_blocks is None:
            self._skew_blocks = _row_blocks_of(self._skew_upper.indptr)
        y[self._order] = self._triangle_product(self._skew_upper, self._skew_blocks, x, -1.0)
        return d * phi + y

    def _matvec_blocks(self) -> list[tuple[int, int]]:
        """Row blocks ``(r0, r1)`` of the stored triangle of about :data:`MATVEC_PAIRS` pairs."""
        if self._blocks is None:
            self._blocks = _row_blocks_of(self._upper.indptr)
        return self._blocks

    def _symmetric_product(self, x: np.ndarray) -> np.ndarray:
        """``(U + Uᵀ) x`` of the stored upper triangle (:meth:`_triangle_product`)."""
        return self._triangle_product(self._upper, self._matvec_blocks(), x, 1.0)

    def _triangle_product(self, u: sp.csr_matrix, blocks: list[tuple[int, int]],
                          x: np.ndarray, sign: float) -> np.ndarray:
        """``(U ± Uᵀ) x`` (``sign``) of a stored upper triangle ``U`` (energy order), ``x``
        float64.

        SciPy multiplies a float32 matrix by a float64 vector by converting the whole matrix to
        float64 first (12 bytes a pair, twice: for ``U`` and for ``Uᵀ``): the peak memory of a
        solve would be twice the operator's.  Here blocks of rows are converted in turn, each
        used for both triangles (values exact in float64, sums in float64), in threads.
        """
        if u.dtype == np.float64:
            return u @ x + sign * (u.T @ x)
        s = u.shape[0]
        data, indices, indptr = u.data, u.indices, u.indptr

        def block(rows: tuple[int, int]):
            r0, r1 = rows
            lo, hi = indptr[r0], indptr[r1]
            b = sp.csr_matrix((data[lo:hi].astype(np.float64), indices[lo:hi],
                               indptr[r0:r1 + 1] - lo), shape=(r1 - r0, s))
            return r0, r1, b @ x, b.T @ x[r0:r1]

        y = np.zeros(x.shape)

        def add(result) -> None:
            r0, r1, upper, lower = result
            y[r0:r1] += upper
            if sign > 0:
                y[:] += lower
            else:
                y[:] -= lower

        _in_order(block, blocks, add, self.workers if len(blocks) > 1 else 1)
        return y

    def connected_sets(self) -> np.ndarray:
        """Label ``(S,)`` of the set of states each state is connected to by the flux Φ.

        Exact and cheap in memory: the components of a sparse spanning guess (the first few
        partners of every state) are found with :func:`scipy.sparse.csgraph.connected_components`,
        then one pass over the stored pairs, in blocks, collects the pairs that join two of those
        components, and the components those pairs join are merged.  (Running the graph
        routine on Φ itself converts it to float64 and builds its transpose: 20 bytes a pair.)
        """
        u, order = self._upper, self._order
        s = u.shape[0]
        counts = np.diff(u.indptr)
        first = np.minimum(counts, 4)
        rows = np.repeat(np.arange(s), first)
        offsets = np.arange(len(rows)) - np.repeat(np.cumsum(first) - first, first)
        cols = u.indices[np.repeat(u.indptr[:-1], first) + offsets]
        guess = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(s, s))
        labels = connected_components(guess, directed=False)[1]
        joins = []
        step = max(1, (1 << 24) // (int(counts.mean()) + 1 if s else 1))
        for start in range(0, s, step):
            stop = min(s, start + step)
            lo, hi = u.indptr[start], u.indptr[stop]
            a = np.repeat(labels[start:stop], counts[start:stop])
            b = labels[u.indices[lo:hi]]
            cross = a != b
            if cross.any():
                joins.append(np.unique(np.stack([a[cross], b[cross]]), axis=1))
        if joins:
            pairs = np.concatenate(joins, axis=1)
            n = labels.max() + 1
            merge = sp.coo_matrix((np.ones(pairs.shape[1]), (pairs[0], pairs[1])), shape=(n, n))
            labels = connected_components(merge, directed=False)[1][labels]
        out = np.empty(s, dtype=np.int64)
        out[order] = labels
        return out

    def matrix(self) -> sp.csr_matrix:
        """``L`` (plus the skew operator ``K`` of :meth:`skew_matvec`, if any) as a sparse
        matrix."""
        a = sp.diags(self.out_flux) - self.flux
        if self.has_skew:
            u = self._skew_upper
            inv = self._inverse
            a = a + sp.diags(self.skew_out) + (u - u.T).tocsr()[inv][:, inv]
        return a.tocsr()

    def __repr__(self) -> str:
        return (f"<CollisionOperator: {len(self.states)} states, {self.n_pairs} pairs, "
                f"{format_bytes(self.nbytes)}; {', '.join(self.names)}>")
