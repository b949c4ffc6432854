r"""Scattering models: static impurities, phonons and a constant relaxation time.

Each computes the equilibrium transition flux ``Φ_{rc}`` of unordered pairs of states
(:mod:`boltzphlow.scattering.base`), so detailed balance holds by construction.  Units:
ħ = e = k_B = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from boltzphlow.kspace.states import KStates
from boltzphlow.scattering.base import (
    DeltaFunction,
    Equilibrium,
    PairBlock,
    ScatteringModel,
)

__all__ = ["ConstantRelaxationTime", "Impurities", "bloch_overlap_sq"]


def bloch_overlap_sq(states: KStates, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``|⟨u_c|u_r⟩|²`` of pairs of states (needs the eigenvectors; gauge invariant)."""
    if states.eigenvectors is None:
        raise ValueError("Bloch overlaps need the eigenvectors: build the states with "
                         "eigenvectors=True")
    u = states.eigenvectors
    return np.abs(np.einsum("pi,pi->p", np.conj(u[cols]), u[rows])) ** 2


def _pair_measure(states: KStates, pairs: PairBlock) -> np.ndarray:
    """``w_r w_c / (2π)^d`` of each pair."""
    return states.weight[pairs.rows] * states.weight[pairs.cols] / (2 * math.pi) ** states.dim


@dataclass(frozen=True)
class Impurities(ScatteringModel):
    r"""Static impurities in the Born approximation.

    ``W_{c←r} = 2π n_imp |V(q)|² |⟨u_c|u_r⟩|² δ(ε_c - ε_r)``, ``q = k_c - k_r``
    (Eq. 2a of Xiao, Liu, Xie, Yang and Niu with a static potential: no Pauli factor).

    Parameters
    ----------
    density
        Impurity density ``n_imp`` (L⁻ᵈ).
    potential
        ``"zero-range"``: ``V(q) = strength``.
    strength
        Potential strength (energy × Lᵈ).
    """

    density: float = 1.0
    potential: str = "zero-range"
    strength: float = 1.0
    name = "impurities"
    needs_eigenvectors = True

    def __post_init__(self) -> None:
        if self.potential != "zero-range":
            raise ValueError(f"unknown impurity potential {self.potential!r}")
        if not (math.isfinite(self.density) and self.density >= 0):
            raise ValueError(f"impurity density must be finite and >= 0, got {self.density}")

    def potential_sq(self, q: np.ndarray) -> np.ndarray:
        """``|V(q)|²`` for wave vectors ``q`` ``(P, d)``."""
        return np.full(len(q), self.strength ** 2)

    def pair_flux(self, states: KStates, pairs: PairBlock, eq: Equilibrium,
                  delta: DeltaFunction) -> np.ndarray:
        r, c = pairs.rows, pairs.cols
        e = states.energy

        def mismatch(rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
            return e[cc] - e[rr]

        d = delta.weights(states, r, c, mismatch)
        live = d != 0
        out = np.zeros(len(r))
        r, c = r[live], c[live]
        q = states.k[c] - states.k[r]
        out[live] = (2 * math.pi * self.density * self.potential_sq(q)
                     * bloch_overlap_sq(states, r, c) * d[live]
                     * eq.elastic_flux_factor(e[r], e[c])
                     * states.weight[r] * states.weight[c] / (2 * math.pi) ** states.dim)
        return out

    def describe(self) -> str:
        return f"impurities ({self.potential}, n = {self.density:g}, V = {self.strength:g})"


@dataclass(frozen=True)
class ConstantRelaxationTime(ScatteringModel):
    """A constant relaxation time: ``I_coll[δf] = -δf/τ`` (does not conserve particles)."""

    tau: float = 1.0
    name = "constant τ"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tau) and self.tau > 0):
            raise ValueError(f"the relaxation time must be finite and > 0, got {self.tau}")

    def sink(self, states: KStates, eq: Equilibrium) -> np.ndarray:
        return states.weight * eq.pauli_weight(states.energy) / self.tau

    def describe(self) -> str:
        return f"constant τ = {self.tau:g}"
