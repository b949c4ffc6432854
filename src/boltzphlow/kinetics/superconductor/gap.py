"""BCS gap: equilibrium Δ(T), the nonequilibrium gap equation, and the condensation energy.

Eq. 1 of M. Li, *Documentation for BoltzPhlow and BTE approach to QP–phonon transport*, is
garbled in the converted text (it multiplies ``tanh`` by ``f``).  The weak-coupling BCS gap
equation with a Debye cutoff Ω_D, for quasiparticle occupation ``f(ξ)`` (the
same for both spins and branches, particle–hole symmetric), is

    1/(N0 V) = ∫_0^{Ω_D} dξ (1 − 2 f(E)) / E,    E = √(ξ² + Δ²),

whose equilibrium form ``1 − 2 f = tanh(E / 2 k_B T)`` is Eq. 1.  Eliminating the coupling
with the zero-temperature gap Δ0 (``1/(N0 V) = arcsinh(Ω_D/Δ0)``) gives the form solved here:

    arcsinh(Ω_D/Δ) − arcsinh(Ω_D/Δ0) = 2 ∫_0^{Ω_D} dξ f(E)/E.                  (G)

Energy bookkeeping with a self-consistent gap (derived in docs/superconductor.md): the mean-
field energy per volume relative to the normal ground state is

    U = N0 [Ω_D² − Ω_D √(Ω_D² + Δ²)] + N0 Δ² [arcsinh(Ω_D/Δ) − arcsinh(Ω_D/Δ0)]
        + 4 N0 ∫_0^{Ω_D} dξ (ξ²/E) f,

stationary in Δ at fixed ``f(ξ)`` (written with the pair amplitude) when (G) holds.  On the
self-consistent manifold (G) turns ``∫ dξ f/E`` into a function of Δ, and

    U = E_qp + C(Δ),   C(Δ) = N0 [Ω_D² − Ω_D √(Ω_D² + Δ²)] − N0 Δ² [a(Δ) − a(Δ0)],

with ``E_qp = 4 N0 ∫ dξ E f`` (Eq. 9) and ``a(x) = arcsinh(Ω_D/x)``.  ``C'(Δ) = −4N0 Δ ∫ f/E``
cancels ``∂E_qp/∂Δ`` at fixed ``f(ξ)``: the collisions exchange ``U`` with the phonons.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import integrate, optimize

from boltzphlow.units import K_B

#: Weak-coupling BCS ratio Δ0 / (k_B Tc) = π e^{-γ_E}.
BCS_RATIO = math.pi * math.exp(-np.euler_gamma)


def _fermi_over_e_integral(delta: float, kT: float, debye: float) -> float:
    """``∫_0^{Ω_D} dξ f(E)/E`` for a Fermi function at ``kT`` (µeV)."""
    if kT <= 0:
        return 0.0

    def integrand(xi: float) -> float:
        e = math.hypot(xi, delta)
        x = e / kT
        return 0.0 if x > 700 else 1.0 / (e * (math.exp(x) + 1.0))

    upper = min(debye, math.sqrt(max((40 * kT + delta) ** 2 - delta**2, 0.0)) + 40 * kT)
    val, _ = integrate.quad(integrand, 0.0, upper, epsabs=0.0, epsrel=1e-13, limit=200)
    return val


def bcs_gap(T: float, delta0: float, debye_energy: float) -> float:
    """Equilibrium BCS gap Δ(T) in µeV from the gap equation (G) with a Fermi function.

    Parameters
    ----------
    T
        Temperature (K), ≥ 0.
    delta0
        Zero-temperature gap (µeV); fixes the coupling.
    debye_energy
        Debye cutoff Ω_D (µeV).

    Returns
    -------
    float
        Δ(T) in µeV; 0 at and above the BCS critical temperature.
    """
    if T < 0:
        raise ValueError(f"temperature must be ≥ 0 K, got {T}")
    kT = K_B * T
    if kT == 0:
        return float(delta0)
    a0 = math.asinh(debye_energy / delta0)

    def g(delta: float) -> float:
        return (math.asinh(debye_energy / delta) - a0
                - 2.0 * _fermi_over_e_integral(delta, kT, debye_energy))

    tc = bcs_critical_temperature(delta0, debye_energy)
    if T >= tc:
        return 0.0
    lo = delta0 * 1e-12
    if g(lo) <= 0:
        return 0.0
    return float(optimize.brentq(g, lo, delta0, xtol=1e-14 * delta0, rtol=1e-15))


def bcs_critical_temperature(delta0: float, debye_energy: float) -> float:
    """BCS Tc (K) of the gap equation (G): ``∫_0^{Ω_D} tanh(ξ/2k_BTc)/ξ dξ = arcsinh(Ω_D/Δ0)``.

    Tends to ``Δ0 / (1.764 k_B)`` for Ω_D ≫ Δ0 (weak coupling).
    """
    a0 = math.asinh(debye_energy / delta0)

    def h(kt: float) -> float:
        # ∫_0^{Ω_D} tanh(ξ/2kT)/ξ dξ, split at the scale kT for accuracy
        f = lambda xi: math.tanh(xi / (2 * kt)) / xi if xi > 0 else 1.0 / (2 * kt)  # noqa: E731
        upper = min(debye_energy, 60 * kt)
        val, _ = integrate.quad(f, 0.0, upper, epsabs=0.0, epsrel=1e-13, limit=200)
        if debye_energy > upper:
            val += math.log(debye_energy / upper)  # tanh = 1 to double precision there
        return val - a0

    guess = delta0 / (BCS_RATIO * K_B)
    kt = optimize.brentq(h, 0.2 * guess * K_B, 5 * guess * K_B, xtol=1e-15 * guess, rtol=1e-15)
    return float(kt / K_B)


def bin_xi_integrals(xi_lo: np.ndarray, xi_hi: np.ndarray, delta: float) -> dict[str, np.ndarray]:
    """Exact per-bin ξ-integrals of ``1``, ``1/E``, ``E`` and ``ξ²/E`` (µeV powers)."""

    def prim(xi: np.ndarray) -> dict[str, np.ndarray]:
        e = np.hypot(xi, delta)
        ash = np.arcsinh(xi / delta)
        return {"one": xi, "inv_e": ash, "e": 0.5 * (xi * e + delta**2 * ash),
                "xi2_over_e": 0.5 * (xi * e - delta**2 * ash)}

    lo, hi = prim(xi_lo), prim(xi_hi)
    return {k: hi[k] - lo[k] for k in lo}


def solve_gap(integral: Callable[[float], float], delta0: float, debye_energy: float,
              guess: float) -> float:
    """Gap Δ solving (G), ``arcsinh(Ω_D/Δ) − arcsinh(Ω_D/Δ0) = 2 I(Δ)``.

    Parameters
    ----------
    integral
        ``I(Δ) = ∫_0^{Ω_D} dξ f/E`` as a function of the trial gap (the occupation may itself
        depend on it, e.g. when it is carried to the bins of the trial gap).
    delta0, debye_energy
        Zero-temperature gap and Debye energy (µeV).
    guess
        Starting point (the current gap).
    """
    a0 = math.asinh(debye_energy / delta0)

    def g(delta: float) -> float:
        return math.asinh(debye_energy / delta) - a0 - 2.0 * integral(delta)

    lo, hi = 0.5 * guess, min(1.5 * guess, delta0 * (1 + 1e-12))
    glo, ghi = g(lo), g(hi)
    while glo < 0 and lo > 1e-6 * delta0:
        lo *= 0.5
        glo = g(lo)
    if glo < 0:
        raise ValueError("the nonequilibrium gap equation has no solution: superconductivity "
                         "is destroyed by the excitation (reduce the deposited energy)")
    if ghi > 0:
        return float(hi)
    return float(optimize.brentq(g, lo, hi, xtol=1e-15 * guess, rtol=1e-15))


def condensate_energy(delta: float, delta0: float, debye_energy: float) -> float:
    """``C(Δ)/(4 N0)`` (µeV²): ``¼[Ω_D² − Ω_D√(Ω_D²+Δ²)] − ¼Δ²[a(Δ) − a(Δ0)]``.

    ``U = E_qp + C(Δ)`` on the self-consistent manifold (module docstring).  At Δ = Δ0 it is
    the BCS condensation energy ``−N0 Δ0²/2`` (``−Δ0²/8`` per 4N0) up to O(Δ0²/Ω_D²).
    """
    wd = debye_energy
    # Ω_D² − Ω_D√(Ω_D²+Δ²) = −Ω_D Δ² / (Ω_D + √(Ω_D²+Δ²)) without cancellation
    first = -wd * delta**2 / (wd + math.hypot(wd, delta))
    return 0.25 * first - 0.25 * delta**2 * (math.asinh(wd / delta) - math.asinh(wd / delta0))
