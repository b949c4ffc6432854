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
candidates in energy-sorted blocks of bounded memory and assembles the sparse symmetric ``Φ``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from boltzphlow import stats
from boltzphlow.kspace.states import KStates
from boltzphlow.resources import check_memory

__all__ = ["BYTES_PER_PAIR", "CollisionOperator", "DeltaFunction", "Equilibrium", "Gaussian",
           "PairBlock", "ScatteringModel", "pair_blocks"]

#: Bytes one stored pair of the symmetric flux matrix takes at assembly (COO: value, row,
#: column; CSR of both triangles after).
BYTES_PER_PAIR = 40

#: Candidate pairs examined at once (bounds the working memory of the enumeration).
BLOCK_PAIRS = 1 << 21


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

    def pauli_weight(self, energy: np.ndarray) -> np.ndarray:
        """``f^0 (1 - f^0) = T (-∂f^0/∂ε)``."""
        f = self.fermi(energy)
        return f * (1.0 - f)

    def elastic_flux_factor(self, e_from: np.ndarray, e_to: np.ndarray) -> np.ndarray:
        r"""The symmetric occupation factor of an elastic (static) transition.

        ``T (f^0(ε') - f^0(ε)) / (ε - ε')``: the divided difference of ``f^0``, symmetric in
        ``ε ↔ ε'``, equal to ``f^0 (1 - f^0)`` at ``ε = ε'`` and the ``ω → 0`` limit of the
        phonon factor ``f^0(ε)(1 - f^0(ε'))(N(ε - ε') + 1)`` times ``ω/T`` — so that a
        smeared δ between two states of slightly different energy still gives ``Φ = Φᵀ``.
        """
        e1, e2 = np.asarray(e_from, float), np.asarray(e_to, float)
        d = e1 - e2
        close = np.abs(d) < 1e-6 * self.T
        mid = 0.5 * (e1 + e2)
        safe = np.where(close, 1.0, d)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = self.T * (self.fermi(e2) - self.fermi(e1)) / safe
        return np.where(close, self.pauli_weight(mid), ratio)


# --------------------------------------------------------------------------- δ functions
class DeltaFunction(ABC):
    r"""An approximation of the energy δ of the golden rule, ``δ(ε_c - ε_r - Δ)``.

    ``mismatch(rows, cols)`` returns ``ε_c - ε_r - Δ_{rc}`` for any pairs (the energy transfer
    ``Δ`` may depend on the pair, e.g. ``±c_s |k_c - k_r|``); a method evaluates it where it
    needs (a smearing at the pair itself, a tetrahedron method at the mesh neighbours of the
    column too) and returns the weight of each pair in energy⁻¹.
    """

    name: str = ""

    @abstractmethod
    def cutoff(self, states: KStates) -> float:
        """Largest ``|mismatch|`` with a nonzero weight (energy units), for pruning pairs."""

    @abstractmethod
    def weights(self, states: KStates, rows: np.ndarray, cols: np.ndarray,
                mismatch: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """δ weights ``(P,)`` of the pairs ``(rows[i], cols[i])`` (energy⁻¹)."""


@dataclass(frozen=True)
class Gaussian(DeltaFunction):
    """Gaussian smearing of fixed width σ (energy), cut at ``n_sigma`` σ (default 4: the
    neglected tail is ``erfc(4/√2) ≈ 6e-5`` of the weight)."""

    width: float
    n_sigma: float = 4.0
    name = "gaussian"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.width) and self.width > 0):
            raise ValueError(f"the Gaussian width must be finite and > 0, got {self.width}")

    def cutoff(self, states: KStates) -> float:
        return self.n_sigma * self.width

    def weights(self, states, rows, cols, mismatch):
        x = mismatch(rows, cols) / self.width
        return np.where(np.abs(x) <= self.n_sigma,
                        np.exp(-0.5 * x * x) / (math.sqrt(2 * math.pi) * self.width), 0.0)


# --------------------------------------------------------------------------- pairs
@dataclass(frozen=True)
class PairBlock:
    """Candidate pairs: rows r and columns c (state indices into the :class:`KStates`), each
    unordered pair once, with ``ε_c ≥ ε_r`` (ties: ``c > r``)."""

    rows: np.ndarray
    cols: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def pair_blocks(states: KStates, max_transfer: float, *,
                block_pairs: int = BLOCK_PAIRS) -> Iterator[PairBlock]:
    """Every unordered pair of states whose energies differ by at most ``max_transfer``.

    States are sorted by energy; for each block of rows the partners form a contiguous range
    of the sorted order, so the enumeration costs the number of candidate pairs (not S²) and
    holds about ``block_pairs`` pairs at a time.
    """
    order = np.argsort(states.energy, kind="stable")
    e = states.energy[order]
    s = len(e)
    if s == 0:
        return
    stop = np.searchsorted(e, e + max_transfer, side="right")  # partners i < j < stop[i]
    counts = stop - np.arange(s) - 1
    start = 0
    while start < s:
        csum = np.cumsum(counts[start:])
        end = start + max(1, int(np.searchsorted(csum, block_pairs, side="right")))
        end = min(end, s)
        n = counts[start:end]
        if n.sum():
            i = np.repeat(np.arange(start, end), n)
            offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
            j = i + 1 + offsets
            yield PairBlock(rows=order[i], cols=order[j])
        start = end


# --------------------------------------------------------------------------- models
class ScatteringModel:
    """A source of transitions between states (impurities, phonons, ...).

    Subclasses set ``name`` and implement :meth:`pair_flux`; a model without pair transitions
    (a constant relaxation time) returns no pairs and implements :meth:`sink` instead.
    ``needs_eigenvectors`` tells :class:`~boltzphlow.kspace.KStates` builders to keep the
    Bloch vectors (for the overlaps ``⟨u_c|u_r⟩``).
    """

    name: str = ""
    needs_eigenvectors: bool = False

    def max_energy_transfer(self) -> float:
        """Largest ``|ε_c - ε_r|`` a transition of this model can have before smearing
        (0 for elastic models; the largest phonon energy otherwise)."""
        return 0.0

    def max_phonon_energy(self) -> float:
        """Largest phonon energy (widens the energy window; 0 without phonons)."""
        return 0.0

    def pair_flux(self, states: KStates, pairs: PairBlock, eq: Equilibrium,
                  delta: DeltaFunction) -> np.ndarray:
        """Equilibrium transition flux ``Φ_{rc}`` of each pair, ``(P,)`` (see the module)."""
        return np.zeros(len(pairs))

    def sink(self, states: KStates, eq: Equilibrium) -> np.ndarray | None:
        """``Γ_s`` of a non-conserving relaxation (``(S,)``), or None."""
        return None

    def describe(self) -> str:
        """One line for logs and result attributes."""
        return self.name


# --------------------------------------------------------------------------- operator
class CollisionOperator:
    r"""The symmetric collision operator ``L = diag(Φ 1) - Φ + diag(Γ)`` of some models.

    ``L φ`` is ``-w_s I_coll[f^0(1-f^0) φ]`` (module docstring): symmetric positive
    semi-definite, with ``L 1 = Γ`` (particle conservation where ``Γ = 0``).

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

    Attributes
    ----------
    flux
        ``Φ``, ``(S, S)`` symmetric CSR (both triangles), zero diagonal.
    sink
        ``Γ``, ``(S,)``.
    out_flux
        ``Σ_{s'} Φ_{ss'} + Γ_s``, ``(S,)``: the diagonal of ``L``.
    parts
        Per model: its flux matrix and sink (for splitting rates by mechanism).
    """

    def __init__(self, states: KStates, models: Sequence[ScatteringModel], eq: Equilibrium,
                 delta: DeltaFunction, *, memory_keys: Sequence[str] = ("mesh",),
                 keep_parts: bool = False) -> None:
        if not models:
            raise ValueError("a collision operator needs at least one scattering model")
        self.states, self.models, self.eq, self.delta = states, tuple(models), eq, delta
        s = len(states)
        total = sp.csr_matrix((s, s))
        sink = np.zeros(s)
        self.parts: dict[str, tuple[sp.csr_matrix, np.ndarray]] = {}
        for model in self.models:
            flux = self._assemble(model, memory_keys)
            gamma = model.sink(states, eq)
            gamma = np.zeros(s) if gamma is None else np.asarray(gamma, float)
            total = total + flux
            sink += gamma
            if keep_parts:
                self.parts[model.describe()] = (flux, gamma)
        self.flux = total.tocsr()
        self.sink = sink
        self.out_flux = np.asarray(self.flux.sum(axis=1)).ravel() + sink

    def _assemble(self, model: ScatteringModel, keys: Sequence[str]) -> sp.csr_matrix:
        states, s = self.states, len(self.states)
        reach = model.max_energy_transfer() + self.delta.cutoff(states)
        values, rows, cols = [], [], []
        kept = 0
        for block in pair_blocks(states, reach):
            phi = model.pair_flux(states, block, self.eq, self.delta)
            nz = phi != 0
            if not nz.any():
                continue
            values.append(phi[nz])
            rows.append(block.rows[nz])
            cols.append(block.cols[nz])
            kept += int(nz.sum())
            check_memory(BYTES_PER_PAIR * kept, f"the collision operator of {model.describe()} "
                         f"({kept} pairs so far, {s} states)", keys)
        if not values:
            return sp.csr_matrix((s, s))
        v, r, c = np.concatenate(values), np.concatenate(rows), np.concatenate(cols)
        upper = sp.coo_matrix((v, (r, c)), shape=(s, s))
        return (upper + upper.T).tocsr()

    @property
    def n_pairs(self) -> int:
        """Stored unordered pairs (nonzeros of one triangle of Φ)."""
        return self.flux.nnz // 2

    @property
    def nbytes(self) -> int:
        f = self.flux
        return int(f.data.nbytes + f.indices.nbytes + f.indptr.nbytes + 2 * self.sink.nbytes)

    def matvec(self, phi: np.ndarray) -> np.ndarray:
        """``L φ`` for ``φ`` of shape ``(S,)`` or ``(S, m)``."""
        phi = np.asarray(phi, float)
        d = self.out_flux if phi.ndim == 1 else self.out_flux[:, None]
        return d * phi - self.flux @ phi

    def matrix(self) -> sp.csr_matrix:
        """``L`` as a sparse matrix."""
        return (sp.diags(self.out_flux) - self.flux).tocsr()
