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


def bin_pair_amplitude(edges: np.ndarray, delta: float, dynes: float = 0.0) -> np.ndarray:
    """``∫_bin ϕ dE`` (µeV) of the anomalous weight ``ϕ = Re[Δ/√(z² − Δ²)]``, ``z = E + iΓ``
    (module docstring), per bin of ``edges``; ``dynes`` Γ ≥ 0 (0: ``Δ arccosh(E/Δ)`` above the
    gap, constant below)."""
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


def bin_renormalised_weights(edges: np.ndarray, Z: np.ndarray, phi: np.ndarray,
                             dZ: np.ndarray, dphi: np.ndarray) -> np.ndarray:
    """Bin integrals of the Eliashberg spectral weights and of the kinetic left-hand side.

    M. Li, *Documentation for BoltzPhlow and BTE approach to QP–phonon transport*, Eqs. 166–167
    (``ρ = Re[εZ/q]``, ``ϕ = Re[φ/q]``, ``q = √((εZ)² − φ²)`` retarded) and Eq. 170 (the
    factor of ``∂_t f`` in the homogeneous kinetic equation, without time derivatives of Z and
    φ): ``w(ε) = ρ (Z₁ + ε ∂_εZ₁) − ϕ ∂_εφ₁`` with ``Z₁ = Re Z``, ``φ₁ = Re φ``.

    With ``Z``, ``φ`` and the slopes held at their values in each bin, the integrals are exact
    (the gap-edge singularity integrates in closed form), with ``u = Zε``:
    ``∫ρ dε = q/Z``, ``∫ϕ dε = (φ/Z) ln(u + q)``, ``∫ερ dε = [u q + φ² ln(u + q)]/(2Z²)``.
    For real constant ``Z`` and ``φ = ZΔ``: ``∫ρ`` is the BCS ``N_i`` of :func:`bin_states`,
    ``∫ϕ`` its pair amplitude and ``w = Z ρ``; ``w = d Re q/dε`` whenever Z and φ are real
    (the renormalised ξ per unit energy: the states of the normal metal a bin holds).

    Parameters
    ----------
    edges
        Bin edges (µeV), ``n + 1`` increasing values > 0.
    Z, phi
        Complex ``Z`` and ``φ`` (µeV) at the ``n`` bin centres.
    dZ, dphi
        ``∂_ε Re Z`` (1/µeV) and ``∂_ε Re φ`` (1) at the bin centres.

    Returns
    -------
    numpy.ndarray
        ``(3, n)``: ``∫_bin ρ``, ``∫_bin ϕ`` and ``∫_bin w`` (µeV).
    """
    e = np.asarray(edges, dtype=float)
    Z = np.asarray(Z, dtype=complex)
    phi = np.asarray(phi, dtype=complex)

    def roots(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # For ε > 0 the retarded q (q → Zε at large ε) has Re q ≥ 0: Re q could only change
        # sign where q² is real and negative, inside the gap, where both roots have Re q = 0
        # and give the same real parts below.  So the principal root is the retarded one,
        # also when round-off leaves Im Z, Im φ slightly negative (a sign test on Im q would
        # then pick the wrong root above the gap).
        u = Z * x
        return u, np.sqrt(u * u - phi * phi)

    u_lo, q_lo = roots(e[:-1])
    u_hi, q_hi = roots(e[1:])
    log_ratio = np.log((u_hi + q_hi) / (u_lo + q_lo))
    rho = ((q_hi - q_lo) / Z).real
    varphi = (phi / Z * log_ratio).real
    e_rho = ((u_hi * q_hi - u_lo * q_lo + phi * phi * log_ratio) / (2 * Z * Z)).real
    lhs = Z.real * rho + np.asarray(dZ, dtype=float) * e_rho - np.asarray(dphi, float) * varphi
    return np.stack([rho, varphi, lhs])
