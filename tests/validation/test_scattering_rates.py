r"""Out-scattering rates of the collision operator against closed forms (2D).

The SERTA rate of a state is ``1/τ_r = Σ_c Φ_rc / (w_r f_r (1 - f_r))``.  For zero-range
impurities ``1/τ(ε) = 2π n V² ν(ε) ⟨|⟨u'|u⟩|²⟩``: ``n V² m`` for a parabolic band, and for the
upper massive-Dirac band (``ν = ε/2πv²``, ``|⟨u'|u⟩|² = ½(1 + cos θ cos θ' + sin θ sin θ'
cos φ)``, ``cos θ = Δ/ε``) ``n V² G(ε_r, ε')`` with ``G = (ε' + Δ²/ε_r)/(2v²)`` linear in the
final energy ε'.  Acoustic phonons above the Bloch–Grüneisen temperature give the same with
``n V² → λ² T`` (Appendix B of C. Xiao et al., "Theory of phonon side jump contribution in
anomalous Hall transport").

Discretisation, for states at ``ε_r = μ`` with a Gaussian δ of width σ cut at 4σ:

* the occupation factor of a smeared pair, relative to ``f(1 - f)``, averages to
  ``1 - σ²/(12T²)`` (elastic divided difference: ``(f'''/f')σ²/6`` with ``f'''/f' = -1/(2T²)``
  at μ) and ``1 - ⟨Δ²⟩/(6T²)`` for the inelastic factor ``(1 + tanh(x/2)) x/(e^x - 1) =
  1 - x²/6 + O(x⁴)`` (``⟨Δ²⟩ = σ² + ⟨ω_q²⟩``; ``⟨ω_q²⟩ = 2 c_s² k_F² ≈ 6e-6`` is negligible);
  the linear ``G`` adds nothing at second order;
* the cut Gaussian holds ``1 - erfc(4/√2)`` of the weight;
* the state's own point is not a partner: ``-K w_r G_σ(0)/(2π)`` (K = ``n V²`` or ``λ² T``);
* the mesh sum of a Gaussian ring sampled with ``σ ≥ 1.2 v Δk`` errs by
  ``2 e^{-2π²(σ/vΔk)²} < 1e-12`` (Poisson summation).

What remains are fourth-order terms ``O((σ/T)⁴)`` (1e-4 at σ/T = 0.1) and, for the selected
states ``|ε - μ| ≤ 0.01``, mixed terms ``(f''/f')(G'/G)σ²/2 ≲ 2e-5``: the tolerance is
``(σ/T)⁴ + 2e-5``.  Without the self-point and σ² corrections the errors would be 2.5e-3
and 8e-4 (T = 0.5): the test resolves each of them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erfc

import boltzphlow as bp
from boltzphlow.kspace.states import EnergyWindow, KStates
from boltzphlow.scattering import (
    AcousticPhonons,
    CollisionOperator,
    Equilibrium,
    Gaussian,
    Impurities,
)

SIGMA = 0.05
KEPT = 1.0 - erfc(4 / math.sqrt(2))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dirac() -> KStates:
    """Upper massive-Dirac band (v = Δ = 1) in [1.7, 2.3] on a 166² mesh of the box
    [-4, 4)² (Δk = 0.048, v_F Δk = 0.042 = σ/1.2)."""
    d = bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=4.0)
    return KStates.build(d, (166, 166), EnergyWindow(1.7, 2.3), eigenvectors=True)


def _predicted(states: KStates, sel: np.ndarray, strength: float, second_order: float,
               final_density) -> np.ndarray:
    e = states.energy[sel]
    self_point = states.weight[sel] / (2 * math.pi) / (math.sqrt(2 * math.pi) * SIGMA)
    return strength * (final_density(e) * (1 - second_order) * KEPT - self_point)


def _dirac_density(e: np.ndarray) -> np.ndarray:
    return (e + 1.0 / e) / 2.0


def test_zero_range_impurities_on_the_massive_dirac_band(dirac):
    """``1/τ = n V² (ε + Δ²/ε)/(2v²)`` (1.125 n V² at ε = 2) at T = 0.5 (σ/T = 0.1)."""
    T, n, v = 0.5, 2.0, 0.3
    op = CollisionOperator(dirac, [Impurities(density=n, strength=v)], Equilibrium(2.0, T),
                           Gaussian(width=SIGMA))
    sel = np.abs(dirac.energy - 2.0) <= 0.01
    assert sel.sum() > 50
    want = _predicted(dirac, sel, n * v * v, SIGMA ** 2 / (12 * T * T), _dirac_density)
    np.testing.assert_allclose(op.scattering_rate()[sel], want,
                               rtol=(SIGMA / T) ** 4 + 2e-5)


@pytest.mark.parametrize("elastic", [False, True], ids=["inelastic", "quasi-elastic"])
def test_acoustic_phonon_rate_is_linear_in_T_above_bloch_grueneisen(dirac, elastic):
    """``1/τ = λ² T (ε + Δ²/ε)/(2v²)`` at T = 0.5 and 1 (``T_BG = 2 c_s k_F = 0.0035``)."""
    lam, cs = 0.7, 0.001
    model = AcousticPhonons(sound_velocity=cs, coupling=lam, elastic=elastic)
    sel = np.abs(dirac.energy - 2.0) <= 0.01
    for T in (0.5, 1.0):
        op = CollisionOperator(dirac, [model], Equilibrium(2.0, T), Gaussian(width=SIGMA))
        second = SIGMA ** 2 / ((12 if elastic else 6) * T * T)
        want = _predicted(dirac, sel, lam * lam * T, second, _dirac_density)
        np.testing.assert_allclose(op.scattering_rate()[sel], want,
                                   rtol=(SIGMA / T) ** 4 + 2e-5)


def test_zero_range_impurities_on_a_parabolic_band():
    """``1/τ = n V² m`` for a parabolic band (the lower Zeeman band of a 2DEG without
    spin–orbit coupling, m = 1, k_F = 1 at μ = 0.2; its spin partner has zero overlap);
    mesh 96² on [-2, 2)² (v_F Δk = 0.042 = σ/1.2)."""
    T, n, v = 0.5, 1.5, 0.4
    h = bp.bands.rashba_2deg(mass=1.0, alpha=0.0, zeeman=0.3, k_max=2.0)
    states = KStates.build(h, (96, 96), EnergyWindow(-0.05, 0.45), eigenvectors=True)
    op = CollisionOperator(states, [Impurities(density=n, strength=v)], Equilibrium(0.2, T),
                           Gaussian(width=SIGMA))
    sel = (np.abs(states.energy - 0.2) <= 0.01) & (states.band == 0)
    assert sel.sum() > 20
    want = _predicted(states, sel, n * v * v, SIGMA ** 2 / (12 * T * T),
                      lambda e: np.ones_like(e))
    np.testing.assert_allclose(op.scattering_rate()[sel], want, rtol=(SIGMA / T) ** 4 + 2e-5)
