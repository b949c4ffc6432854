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
from functools import lru_cache

import numpy as np
from scipy import integrate, optimize
from scipy.special import expit, roots_legendre

from boltzphlow.units import K_B

#: Weak-coupling BCS ratio Δ0 / (k_B Tc) = π e^{-γ_E}.
BCS_RATIO = math.pi * math.exp(-np.euler_gamma)


#: Gauss–Legendre nodes of the ξ-integrals (in u, ξ = Δ sinh u; measured: 1e-13 against quad).
_N_U = 192
#: ξ/k_BT beyond which Fermi factors are dropped (e^−60 ≈ 1e−26).
_X_CUT = 60.0


def _gauss_u(u_max: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on ``[0, u_max]`` for each row (shape (..., _N_U))."""
    s, w = gauss_legendre_unit(_N_U)
    return u_max[..., None] * s, u_max[..., None] * w


@lru_cache(maxsize=8)
def gauss_legendre_unit(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights of order ``n`` on ``[0, 1]``."""
    s, w = roots_legendre(n)
    return 0.5 * (s + 1.0), 0.5 * w


def gap_integrals(d: np.ndarray, X: np.ndarray) -> dict[str, np.ndarray]:
    """Dimensionless ξ-integrals at ``d = Δ/k_BT > 0`` with the cutoff ``X = Ω_D/k_BT``.

    With ``x = ξ/k_BT = d sinh u`` (``dx = e du``, ``e = d cosh u``), ``g = f(1 − f)``:
    ``F = ∫_0^{x_c} dx f/e``, ``I0 = ∫_0^{x_c} dx g``, ``I2 = ∫_0^{∞} dx g e²`` and
    ``Dx = ∫_0^{X} dx [tanh(e/2)/e³ − 2g/e²]`` (``x_c = min(X, 60)``; beyond x_c only the
    ``1/e³`` tail of Dx survives, added in closed form: ``sinh(u_X − u_c)/(e_X e_c)``).
    """
    xc = np.minimum(X, _X_CUT)
    u_c = np.arcsinh(xc / d)
    u, w = _gauss_u(u_c)
    e = d[..., None] * np.cosh(u)
    f = expit(-e)
    g = f * (1.0 - f)
    tanh_half = 1.0 - 2.0 * f
    F = (w * f).sum(-1)
    I0 = (w * e * g).sum(-1)
    u_x = np.arcsinh(X / d)
    tail = np.sinh(u_x - u_c) / (np.hypot(X, d) * np.hypot(xc, d))
    Dx = (w * (tanh_half / e**2 - 2.0 * g / e)).sum(-1) + tail
    # I2 over the whole ξ axis: electrons beyond Ω_D carry entropy too (E = ξ there to
    # O(Δ²/Ω_D²), negligible at these weights)
    u2, w2 = _gauss_u(np.arcsinh(_X_CUT / d))
    e2 = d[..., None] * np.cosh(u2)
    f2 = expit(-e2)
    I2 = (w2 * e2**3 * f2 * (1.0 - f2)).sum(-1)
    return {"F": F, "I0": I0, "I2": I2, "Dx": Dx}


def solve_gap_equation(kT: np.ndarray, delta0: float, debye: float, tc: float) -> np.ndarray:
    """Δ (µeV) solving the gap equation (G) at each ``k_BT`` (µeV, vectorised), zero at and
    above ``tc`` (K, the BCS Tc of (G)).

    Safeguarded Newton iteration on ``s = Δ²`` (``∂G/∂s = −Dx/(2 k_BT²)``), bracketed by
    ``0 < s ≤ Δ0²``, with the ξ-integrals of :func:`gap_integrals` (Gauss–Legendre in
    ``ξ = Δ sinh u``: 1e-13 against adaptive quadrature).
    """
    delta = np.zeros_like(kT)
    below = kT < K_B * tc
    if not below.any():
        return delta
    kt = kT[below]
    a0 = math.asinh(debye / delta0)
    X = debye / kt
    t = np.clip(kt / (K_B * tc), 0.0, 1.0)
    # start near the answer: Δ/Δ0 ≈ tanh(1.74 √(Tc/T − 1))
    s = (delta0 * np.tanh(1.74 * np.sqrt(np.maximum(1.0 / t - 1.0, 0.0)))) ** 2
    s = np.clip(s, 1e-24 * delta0**2, delta0**2)
    lo, hi = np.zeros_like(s), np.full_like(s, delta0**2)
    for _ in range(100):
        d = np.sqrt(s) / kt
        q = gap_integrals(d, X)
        G = np.arcsinh(debye / np.sqrt(s)) - a0 - 2.0 * q["F"]
        lo = np.where(G > 0, s, lo)
        hi = np.where(G <= 0, s, hi)
        step = 2.0 * kt**2 * G / q["Dx"]
        done = np.abs(step) <= 1e-15 * delta0**2 + 1e-14 * s
        newton = s + step
        inside = done | ((newton > lo) & (newton < hi))
        s = np.where(inside, newton, 0.5 * (lo + hi))
        if done.all():
            break
    delta[below] = np.sqrt(s)
    return delta


def bcs_gap(T: float | np.ndarray, delta0: float,
            debye_energy: float) -> float | np.ndarray:
    """Equilibrium BCS gap Δ(T) in µeV from the gap equation (G) with a Fermi function.

    Parameters
    ----------
    T
        Temperature (K), ≥ 0: a scalar or an array (solved together).
    delta0
        Zero-temperature gap (µeV); fixes the coupling.
    debye_energy
        Debye cutoff Ω_D (µeV).

    Returns
    -------
    float or numpy.ndarray
        Δ(T) in µeV (the shape of ``T``); 0 at and above the BCS critical temperature.
    """
    temps = np.asarray(T, dtype=float)
    if np.any(temps < 0) or not np.all(np.isfinite(temps)):
        raise ValueError(f"temperature must be finite and ≥ 0 K, got {T}")
    tc = bcs_critical_temperature(delta0, debye_energy)
    kT = K_B * temps.ravel()
    out = np.full(kT.shape, float(delta0))
    warm = kT > 0
    out[warm] = solve_gap_equation(kT[warm], float(delta0), float(debye_energy), tc)
    out = out.reshape(temps.shape)
    return float(out) if np.ndim(T) == 0 else out


@lru_cache(maxsize=256)
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
