"""Equilibrium occupations: one Fermi–Dirac, one Bose–Einstein and one ``-∂f/∂ε`` for the whole
package.

Energies, chemical potential and temperature are in the same unit (``k_B T`` as an energy): a
model in kelvin passes ``K_B * T``.  All three are stable at any argument (no overflow, no
``inf/inf``) and share one T = 0 convention:

* ``fermi`` is the step ``θ(μ − ε)`` with ½ at ``ε = μ``;
* ``bose`` is 0 for ``ω > 0``;
* ``minus_dfermi`` is a δ function at T = 0 and is refused there (``ValueError``): integrate
  it analytically (a Fermi-surface sum) instead.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = ["bose", "fermi", "minus_dfermi", "planck_ratio"]


def _temperature(T: float) -> float:
    t = float(T)
    if not (np.isfinite(t) and t >= 0):
        raise ValueError(f"temperature must be finite and >= 0, got {T}")
    return t


def fermi(energy: np.ndarray | float, mu: np.ndarray | float, T: float) -> np.ndarray:
    """Fermi–Dirac occupation ``1/(e^{(ε−μ)/T} + 1)``.

    Parameters
    ----------
    energy, mu
        Energies and chemical potential (broadcast together).
    T
        Temperature as an energy (``k_B T``); at 0 the step ``θ(μ − ε)`` with ½ at ``ε = μ``.
    """
    t = _temperature(T)
    x = np.asarray(energy, dtype=float) - mu
    if t == 0:
        return np.where(x < 0, 1.0, np.where(x > 0, 0.0, 0.5))
    return expit(-x / t)


def minus_dfermi(energy: np.ndarray | float, mu: np.ndarray | float, T: float) -> np.ndarray:
    """``−∂f/∂ε = f(1 − f)/T = 1/(4T cosh²((ε−μ)/2T))``, integrating to 1 over ε (needs T > 0)."""
    t = _temperature(T)
    if t == 0:
        raise ValueError("-df/dε is a δ function at T = 0: use a Fermi-surface integral")
    f = expit(-(np.asarray(energy, dtype=float) - mu) / t)
    return f * (1.0 - f) / t


def planck_ratio(x: np.ndarray | float) -> np.ndarray:
    """``x N(x) = x/(eˣ − 1)`` for ``x ≥ 0`` (a phonon's ``ω N(ω)/T`` at ``x = ω/T``): 1 at
    ``x = 0`` (``1 − x/2`` below 1e-8), 0 beyond ``x = 700`` instead of overflowing."""
    x = np.asarray(x, dtype=float)
    small = x < 1e-8
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = np.where(small, 1.0, x) / np.expm1(np.minimum(np.where(small, 1.0, x), 700.0))
    return np.where(small, 1.0 - 0.5 * x, ratio)


def bose(omega: np.ndarray | float, T: float) -> np.ndarray:
    """Bose–Einstein occupation ``1/(e^{ω/T} − 1)`` for ``ω > 0`` (0 at T = 0).

    Exponents beyond 700 give 0 instead of overflowing (the occupation is below 1e-304).
    """
    t = _temperature(T)
    w = np.asarray(omega, dtype=float)
    if t == 0:
        return np.zeros_like(w)
    with np.errstate(over="ignore", divide="ignore"):
        return 1.0 / np.expm1(np.minimum(w / t, 700.0))
