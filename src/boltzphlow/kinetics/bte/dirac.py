r"""Closed forms of the side jump of the 2D massive Dirac model (checks of the k-mesh BTE).

The model ``H = v (k_x σ_x + k_y σ_y) + Δ σ_z`` (Eq. 16 of C. Xiao, Y. Liu, M. Xie, S. A. Yang,
Q. Niu, "Theory of phonon side jump contribution in anomalous Hall transport"), upper band
``ε = (Δ² + v²k²)^{1/2}``, isotropic quasi-elastic scattering on the circle ``|k'| = |k|``.
Units ħ = e = k_B = 1, conductivities in e²/h, spin degeneracy 1 (that of
:class:`~boltzphlow.kinetics.bte.LinearBTE` by default).

**Overlap.**  With the Bloch vector ``n = (vk cos θ, vk sin θ, Δ)/ε`` of the upper band,
``|⟨u_{k'}|u_k⟩|² = (1 + n·n')/2``; on the circle ``n·n' = (Δ² + v²k² cos φ)/ε²`` with φ the
scattering angle, so

.. math:: |⟨u_{k'}|u_k⟩|^2 = \tfrac12\big(1 + (Δ^2 + v^2k^2\cos φ)/ε^2\big).

**Eq. 18 from Eq. B1.**  The Berry curvature of the upper band is
``Ω = -Δv²/(2ε³)`` and the coordinate shift on the circle ``δr = Ω ẑ × (k' - k)/|⟨u'|u⟩|²``
(Eq. 17, and ``δr_x = -Ω (k'_y - k_y)/|⟨u'|u⟩|²``).  A quasi-elastic rate
``w_{k'k} = |⟨u'|u⟩|² W(φ) δ(ε - ε')`` (Pauli factor included, Eq. B3) gives the side-jump
velocity (Eq. 12) ``v^{sj}_y = Ω Σ' W (k'_x - k_x) = -Ω k_x/τ^{sj}`` (the ``sin φ`` part
cancels, W being even in φ), with ``1/τ^{sj} = Σ' W (1 - cos φ)`` (Eq. 20), and
``v^{sj}_x = Ω k_y/τ^{sj}``.  Eq. 11 with ``g^a = c k_y`` reads
``E_x Ω k_y/τ^{sj} = -c k_y/τ^{tr}`` (``1/τ^{tr} = Σ' |⟨u'|u⟩|² W (1 - cos φ)``, Eq. 19):
``g^a = -E_x Ω k_y R``, ``R = τ^{tr}/τ^{sj}`` (Eq. B1).  With ``g^n = E_x v_x τ^{tr}`` the two
terms of Eq. 8 on the shell of energy ε are equal,

.. math:: σ^{sj(1)} = -Ω R \sum_k δ(ε_k - ε) v_x k_x = σ^{sj(2)} = -Ω R \sum_k δ(ε_k - ε) v_y k_y
          = -Ω R\, \frac{k^2}{4π},

(``∫ d²k/(2π)² δ(ε_k - ε) v_x k_x = (ε/v²)(π/4π²) v²k²/ε = k²/4π``), so
``σ^{sj} = R Δ v²k²/(4π ε³) = (1/4π)(Δ/ε)(1 - Δ²/ε²) R`` e²/ħ: Eq. 18, positive for Δ > 0
(``Ω < 0``) and odd in Δ (R depends on Δ²).  In e²/h (``e²/ħ = 2π e²/h``):
``σ^{sj} = ½ (Δ/ε)(1 - Δ²/ε²) R``.

**Limits of R** (Eq. B4: ``R = ∫ W (1 - cos φ) dφ / ∫ |⟨u'|u⟩|² W (1 - cos φ) dφ``).
With ``a = Δ²/ε²``, ``|⟨u'|u⟩|² = ((1 + a) + (1 - a) cos φ)/2``.  Uniform W (zero-range
impurities; phonons for ``T ≫ T_BG``, where ``W = λ²T``, Eq. B5):
``∫ |⟨u'|u⟩|²(1 - cos φ) dφ = π(1 + a) - π(1 - a)/2 = π(1 + 3a)/2`` against ``2π``, so
``R = 4/(1 + 3Δ²/ε²)`` (Eq. 21).  W peaked at ``φ → 0`` (phonons for ``T ≪ T_BG``, where
``W/T = x² N(N+1)`` decays as ``e^{-x}`` beyond ``x = c_s q/T ~ 1``, i.e. ``φ ≲ T/(c_s k)``;
long-range impurities): ``|⟨u'|u⟩|² → 1`` on the support and ``R → 1``.  For a Gaussian
impurity ``|V|² = s² e^{-q² r_0²}``, ``q = 2k sin(φ/2)``: ``r_0 → 0`` is the uniform case and
``r_0 → ∞`` the forward-peaked one.  How R approaches its limits: with ``s = sin(φ/2)``,
``1 - cos φ = 2s²`` and ``|⟨u'|u⟩|² = 1 - (1 - a)s²``, exactly ``R = 1/(1 - (1 - a)⟨s²⟩)``
(⟨·⟩ over ``W s² dφ``).  Phonons at ``β = T_BG/T ≫ 1`` (``x = βs`` at k_F):
``⟨s²⟩ = (J_4/J_2) β⁻² + O(β⁻⁴)``, ``J_m = ∫_0^∞ x^{m+2} e^x/(e^x - 1)² dx = (m+2)! ζ(m+2)``,
so ``R - 1 ≈ (1 - a) 30 ζ(6)/ζ(4) (T/T_BG)²``; the resistivity follows the 2D
Bloch–Grüneisen law ``ρ ∝ T⁴``.  Phonons at ``T ≫ T_BG``: ``W/T = 1 - x²/12 + …`` moves R
from Eq. 21 by ``O((T_BG/T)²)``.  Gaussian impurities at ``b = 4k²r_0² ≫ 1``:
``⟨s²⟩ = 3/(2b) + O(b⁻²)``.

**Resistivity.**  The same shell gives the longitudinal conductivity
``σ_xx(ε) = Σ δ(ε_k - ε) v_x² τ^{tr} = v²k² τ^{tr}/(4π ε)`` e²/ħ ``= v²k² τ^{tr}/(2ε)`` e²/h.
For the quasi-elastic phonons of :class:`~boltzphlow.scattering.AcousticPhonons`
(``elastic=True``: ``W_{k'←k} = 2πλ² T |⟨u'|u⟩|² x² N(N+1) δ(ε - ε')``, ``x = c_s q/T``),
``1/τ^{tr} = ∫ d²k'/(2π)² W (1 - cos φ) = (ε/(2π v²)) ∫ dφ |⟨u'|u⟩|² W_φ (1 - cos φ)`` with
``W_φ = λ² T x² N(N+1)`` of Eq. B5; above T_BG ``1/τ^{tr} = λ² T ε (1 + 3Δ²/ε²)/(4v²)``.

**Finite temperature.**  The scattering is elastic, so every energy shell is solved on its own
and the conductivities are the averages ``σ(μ, T) = ∫ dε (-∂f^0/∂ε) σ(ε)`` over the upper band
(ε > |Δ|; the lower band is left out, which needs ``μ - |Δ| ≫ T``).  ρ_xx is ``1/σ_xx`` of the
averaged conductivity.

Quadratures: the angular integrals use the trapezoid rule on the periodic angle (spectrally
accurate for the smooth periodic integrands here: ``W`` depends on φ through
``sin²(φ/2)``), doubling the nodes until two rules agree to :data:`ANGULAR_RTOL`; the thermal
averages use Gauss–Legendre nodes over ``|ε - μ| ≤ 40 T`` (or the BTE's ``n_kT`` window),
cut at the band edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["ANGULAR_RTOL", "bloch_gruneisen_temperature", "fermi_wavevector",
           "gaussian_weight", "impurity_sidejump", "overlap_sq", "phonon_resistivity",
           "phonon_sidejump", "phonon_weight", "ratio", "sidejump_conductivity",
           "thermal_average", "transport_rate"]

#: Relative agreement of two successive trapezoid rules (n and 2n nodes) of the angular
#: integrals.
ANGULAR_RTOL = 1e-13

_MIN_NODES, _MAX_NODES = 64, 2 ** 21
#: Half-width of the default thermal average, in units of T (the weight beyond is e^{-40}).
_THERMAL_SPAN = 40.0
_THERMAL_NODES = 200

Weight = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _positive(name: str, value: float) -> float:
    x = float(value)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return x


def _band_energy(energy, delta: float) -> np.ndarray:
    e = np.asarray(energy, dtype=float)
    if not np.all(np.isfinite(e)) or np.any(e <= abs(delta)):
        raise ValueError(f"energies must lie in the upper band (> |delta| = {abs(delta):g}), "
                         f"got {energy}")
    return e


def fermi_wavevector(energy, delta: float, v: float = 1.0):
    """``k = (ε² - Δ²)^{1/2}/v`` of the upper band at energy ``ε > |Δ|`` (L⁻¹)."""
    e = _band_energy(energy, delta)
    return np.sqrt(e * e - float(delta) ** 2) / _positive("v", v)


def bloch_gruneisen_temperature(mu: float, delta: float, v: float, sound_velocity: float) -> float:
    """``T_BG = 2 c_s k_F`` (k_B = ħ = 1; Xiao et al., below Eq. 21)."""
    return float(2 * _positive("sound_velocity", sound_velocity)
                 * fermi_wavevector(mu, delta, v))


def overlap_sq(angle, energy, delta: float):
    r"""``|⟨u_{k'}|u_k⟩|² = (1 + (Δ² + v²k² cos φ)/ε²)/2`` on the upper-band circle of energy
    ε at scattering angle φ (module docstring; independent of v).  Broadcasts."""
    e = _band_energy(energy, delta)
    a = float(delta) ** 2 / (e * e)
    return 0.5 * (1 + a + (1 - a) * np.cos(angle))


def _transfer(angle, k):
    """``q = 2k |sin(φ/2)|``."""
    return 2 * np.asarray(k, float) * np.abs(np.sin(0.5 * np.asarray(angle, float)))


def phonon_weight(angle, k, T: float, sound_velocity: float):
    r"""``W_φ/λ² = T x² N(x)(N(x) + 1)``, ``x = c_s q/T``, ``q = 2k sin(φ/2)`` (Eq. B5 of Xiao
    et al.; ``x² N(N+1) = (x/2 / sinh(x/2))²``, 1 at x = 0: ``W_φ/λ² → T`` for T ≫ T_BG)."""
    t = _positive("T", T)
    half = 0.5 * _positive("sound_velocity", sound_velocity) * _transfer(angle, k) / t
    small = half < 1e-4
    safe = np.where(small, 1.0, np.minimum(half, 350.0))
    value = np.where(small, 1.0 - half * half / 6.0, safe / np.sinh(safe) * (half < 350.0))
    return t * value ** 2


def gaussian_weight(angle, k, range_: float):
    r"""``|V(q)|²/s² = e^{-q² r_0²}`` of the Gaussian impurity ``V = s e^{-q² r_0²/2}``,
    ``q = 2k sin(φ/2)`` (r_0 = 0: zero range, weight 1)."""
    r0 = float(range_)
    if not (math.isfinite(r0) and r0 >= 0):
        raise ValueError(f"range_ must be finite and >= 0, got {range_}")
    q = _transfer(angle, k)
    return np.exp(-(q * r0) ** 2)


def _angular(integrand: Callable[[np.ndarray], np.ndarray], ndim: int) -> np.ndarray:
    """``∫_0^{2π} integrand(φ) dφ`` per element (``integrand`` maps angles ``(n,)`` followed by
    ``ndim`` unit axes to ``(n, …)``): periodic trapezoid, nodes doubled until
    :data:`ANGULAR_RTOL`."""
    n, previous = _MIN_NODES, None
    while True:
        phi = (2 * np.pi / n) * np.arange(n).reshape((n,) + (1,) * ndim)
        value = (2 * np.pi / n) * np.sum(integrand(phi), axis=0)
        if previous is not None and np.all(np.abs(value - previous)
                                           <= ANGULAR_RTOL * np.abs(value) + 1e-300):
            return value
        if n >= _MAX_NODES:
            raise ValueError(f"the angular integral did not converge with {n} nodes")
        previous, n = value, 2 * n


def ratio(energy, delta: float, weight: Weight, v: float = 1.0):
    r"""``R = τ^{tr}/τ^{sj}`` of Eq. B4 of Xiao et al. on the upper-band circle of energy ε.

    .. math:: R = \frac{∫ dφ\, W_φ (1 - \cos φ)}{∫ dφ\, |⟨u_{k'}|u_k⟩|^2 W_φ (1 - \cos φ)}

    Parameters
    ----------
    energy
        ε > |Δ| (scalar or array).
    delta
        Δ (R depends on Δ²).
    weight
        ``weight(angle, k)``: the rate without the overlap, ``W_φ`` (any normalisation;
        e.g. :func:`phonon_weight`, :func:`gaussian_weight`, ``lambda phi, k: 1`` for
        zero-range impurities); must broadcast angles ``(n, 1, …)`` against ``k``.
    v
        Dirac velocity.
    """
    e = _band_energy(energy, delta)
    k = fermi_wavevector(e, delta, v)
    a = float(delta) ** 2 / (e * e)

    def both(phi):
        w = np.broadcast_to(weight(phi, k), np.broadcast_shapes(phi.shape, k.shape))
        arm = w * (1 - np.cos(phi))
        return np.stack([arm, arm * 0.5 * (1 + a + (1 - a) * np.cos(phi))], axis=-1)

    out = _angular(both, e.ndim)
    return out[..., 0] / out[..., 1]


def sidejump_conductivity(energy, delta: float, R):
    r"""Eq. 18 of Xiao et al. in e²/h: ``σ^{sj} = (1/4π)(Δ/ε)(1 - Δ²/ε²) R`` e²/ħ
    ``= ½ (Δ/ε)(1 - Δ²/ε²) R`` e²/h (``σ_yx = j_y/E_x``; derivation from Eq. B1 in the module
    docstring)."""
    e = _band_energy(energy, delta)
    x = float(delta) / e
    return 0.5 * x * (1 - x * x) * np.asarray(R, float)


def transport_rate(energy, delta: float, T: float, sound_velocity: float,
                   coupling: float = 1.0, v: float = 1.0):
    r"""``1/τ^{tr}(ε)`` of the quasi-elastic acoustic phonons (Eq. 19 with Eq. B3/B5 of Xiao et
    al.; the rate of :class:`~boltzphlow.scattering.AcousticPhonons` ``(elastic=True)``):
    ``(λ² ε/(2π v²)) ∫ dφ |⟨u'|u⟩|² x² N(N+1) T (1 - cos φ)`` (energy)."""
    e = _band_energy(energy, delta)
    k = fermi_wavevector(e, delta, v)
    a = float(delta) ** 2 / (e * e)

    def arm(phi):
        return (phonon_weight(phi, k, T, sound_velocity) * (1 - np.cos(phi))
                * 0.5 * (1 + a + (1 - a) * np.cos(phi)))

    return float(coupling) ** 2 * e / (2 * np.pi * float(v) ** 2) * _angular(arm, e.ndim)


def thermal_average(function: Callable[[np.ndarray], np.ndarray], mu: float, T: float,
                    delta: float, n_kT: float | None = None) -> float:
    r"""``∫ dε (-∂f^0/∂ε) F(ε)`` over the upper band ``ε > |Δ|`` (Gauss–Legendre).

    Parameters
    ----------
    function
        F, vectorised over energies.
    mu, T, delta
        Chemical potential, temperature, Δ.
    n_kT
        Integrate over ``|ε - μ| ≤ n_kT T`` only (the window of a :class:`LinearBTE`); None:
        40 T (the whole weight to e^{-40}).
    """
    t = _positive("T", T)
    span = _THERMAL_SPAN if n_kT is None else _positive("n_kT", n_kT)
    lo, hi = max(abs(float(delta)), float(mu) - span * t), float(mu) + span * t
    if hi <= lo:
        raise ValueError(f"mu = {mu}: no upper-band state within {span:g} T of mu")
    x, wq = np.polynomial.legendre.leggauss(_THERMAL_NODES)
    e = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)  # interior nodes: all above the band edge
    z = (e - float(mu)) / (2 * t)
    minus_df = 1.0 / (4 * t * np.cosh(z) ** 2)
    return float(0.5 * (hi - lo) * np.sum(wq * minus_df * function(e)))


def phonon_sidejump(mu: float, T: float, delta: float, sound_velocity: float, v: float = 1.0,
                    *, n_kT: float | None = None) -> float:
    r"""σ^{sj}(μ, T) in e²/h of the quasi-elastic acoustic phonons (Eqs. 18–20, B4, B5 of Xiao
    et al.), averaged over ``-∂f^0/∂ε`` (:func:`thermal_average`; the coupling cancels)."""
    def shell(e):
        r = ratio(e, delta, lambda phi, k: phonon_weight(phi, k, T, sound_velocity), v)
        return sidejump_conductivity(e, delta, r)

    return thermal_average(shell, mu, T, delta, n_kT)


def impurity_sidejump(mu: float, delta: float, range_: float, v: float = 1.0,
                      T: float | None = None, *, n_kT: float | None = None) -> float:
    r"""σ^{sj} in e²/h of Gaussian impurities of range ``r_0 = range_`` (0: zero range), at
    ``ε = μ`` (T None) or averaged over ``-∂f^0/∂ε`` (independent of density and strength)."""
    def shell(e):
        r = ratio(e, delta, lambda phi, k: gaussian_weight(phi, k, range_), v)
        return sidejump_conductivity(e, delta, r)

    if T is None:
        return float(shell(np.asarray(float(mu))))
    return thermal_average(shell, mu, T, delta, n_kT)


def phonon_resistivity(mu: float, T: float, delta: float, sound_velocity: float,
                       coupling: float = 1.0, v: float = 1.0, *,
                       n_kT: float | None = None) -> float:
    r"""ρ_xx in h/e² of the quasi-elastic acoustic phonons (the inset of Fig. 1 of Xiao et
    al.): ``1/σ_xx`` with ``σ_xx = ∫ dε (-∂f^0/∂ε) v²k² τ^{tr}(ε)/(2ε)`` e²/h
    (:func:`transport_rate`; spin degeneracy 1)."""
    def shell(e):
        k = fermi_wavevector(e, delta, v)
        rate = transport_rate(e, delta, T, sound_velocity, coupling, v)
        return float(v) ** 2 * k * k / (2 * e * rate)

    return 1.0 / thermal_average(shell, mu, T, delta, n_kT)
