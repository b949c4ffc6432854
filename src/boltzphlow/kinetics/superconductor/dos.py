"""Bin-integrated BCS density of states (Eq. 34 of M. Li, *Documentation for BoltzPhlow and
BTE approach to QP–phonon transport*), optionally Dynes-broadened.

The BCS DOS ``ρ(E) = E/√(E² − Δ²)`` has an integrable singularity at the gap edge.  A midpoint
rule evaluates ``ρ`` at the bin centre and misses most of the weight of the first bin, which
underestimates pair breaking just above 2Δ by a factor 2/π.  Here each bin carries its exact
number of states per spin and branch, ``N_i = ∫_bin ρ dE = ξ(E_hi) − ξ(E_lo)`` with
``ξ(E) = √(E² − Δ²)`` (zero below the gap): the bin's width in the normal-state energy ξ.
With Dynes broadening Γ, ``ρ(E) = Re[(E + iΓ)/√((E + iΓ)² − Δ²)]`` whose antiderivative is
``Re √((E + iΓ)² − Δ²)``.

The coherence factors of the collision integrals (Eq. 177 of the same document: ``ρρ' ∓ ϕϕ'``
per unit energy) need the anomalous spectral weight ``ϕ(E) = Re[Δ/√((E + iΓ)² − Δ²)]``
(Eq. 167 with ``Z = 1``, ``φ = Δ``) integrated over the bins as well:
``∫_bin ϕ dE = A(E_hi) − A(E_lo)`` with ``A(E) = Re[Δ ln(z + √(z − Δ)√(z + Δ))]``, ``z = E +
iΓ`` (for Γ → 0: ``Δ arccosh(E/Δ)`` above the gap, constant below).  ``ϕ ≤ ρ`` for every Γ,
so the scattering factor ``ρρ' − ϕϕ'`` stays ≥ 0.
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


def bin_pair_amplitude(edges: np.ndarray, delta: float, dynes: float) -> np.ndarray:
    """``∫_bin ϕ dE`` (µeV) of the Dynes-broadened anomalous weight ``ϕ = Re[Δ/√(z² − Δ²)]``,
    ``z = E + iΓ`` (module docstring), per bin of ``edges``; ``dynes`` Γ > 0."""
    z = np.asarray(edges, dtype=float) + 1j * dynes
    root = np.sqrt(z - delta) * np.sqrt(z + delta)    # the branch of positive real part
    return np.diff((delta * np.log(z + root)).real)


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
