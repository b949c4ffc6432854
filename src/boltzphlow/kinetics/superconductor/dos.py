"""Bin-integrated BCS density of states (Eq. 34 of M. Li, *Documentation for BoltzPhlow and
BTE approach to QP–phonon transport*), optionally Dynes-broadened.

The BCS DOS ``ρ(E) = E/√(E² − Δ²)`` has an integrable singularity at the gap edge.  A midpoint
rule evaluates ``ρ`` at the bin centre and misses most of the weight of the first bin, which
underestimates pair breaking just above 2Δ by a factor 2/π.  Here each bin carries its exact
number of states per spin and branch, ``N_i = ∫_bin ρ dE = ξ(E_hi) − ξ(E_lo)`` with
``ξ(E) = √(E² − Δ²)`` (zero below the gap): the bin's width in the normal-state energy ξ.
With Dynes broadening Γ, ``ρ(E) = Re[(E + iΓ)/√((E + iΓ)² − Δ²)]`` whose antiderivative is
``Re √((E + iΓ)² − Δ²)``.
"""

from __future__ import annotations

import numpy as np


def xi_of_energy(energy: np.ndarray, delta: float, dynes: float = 0.0) -> np.ndarray:
    """Antiderivative of the DOS: ``ξ(E) = √(E² − Δ²)`` (0 below Δ), or its Dynes form.

    Parameters
    ----------
    energy
        QP energies (µeV).
    delta
        Gap (µeV).
    dynes
        Dynes broadening Γ (µeV); 0 gives the sharp BCS DOS.
    """
    e = np.asarray(energy, dtype=float)
    if dynes > 0:
        z = np.sqrt((e + 1j * dynes) ** 2 - delta**2 + 0j)
        z = np.where(z.real < 0, -z, z)  # branch continuous from the normal state
        return z.real
    return np.sqrt(np.clip(e * e - delta * delta, 0.0, None))


def bin_states(edges: np.ndarray, delta: float, dynes: float = 0.0) -> np.ndarray:
    """States per bin ``N_i = ξ(E_hi) − ξ(E_lo)`` (µeV; multiply by 4N0 for per volume)."""
    xi = xi_of_energy(edges, delta, dynes)
    return np.diff(xi)


def bcs_dos(energy: np.ndarray, delta: float, dynes: float = 0.0) -> np.ndarray:
    """Point DOS ``ρ(E)`` (Eq. 34), for plots and reference quadratures only."""
    e = np.asarray(energy, dtype=float)
    if dynes > 0:
        z = e + 1j * dynes
        return np.abs(np.real(z / np.sqrt(z * z - delta**2 + 0j)))
    out = np.zeros_like(e)
    above = e > delta
    out[above] = e[above] / np.sqrt(e[above] ** 2 - delta**2)
    return out
