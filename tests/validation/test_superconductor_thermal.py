"""Thermal properties of a BCS superconductor (M. Li, Documentation for BoltzPhlow, §1.2,
Eqs. 15–29): BRT's κ_s/κ_n, the Wiedemann–Franz prefactor, the heat capacity with the gap term
(jump, low-T asymptote, thermodynamic consistency), the Kirchhoff transform and diffusivity,
the relaxation-time form with the kinetic model's decay rates, and the diffusion constants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special

import boltzphlow as bp
from boltzphlow.kinetics.superconductor import thermal as th
from boltzphlow.kinetics.superconductor.gap import bcs_gap, condensate_energy
from boltzphlow.kinetics.superconductor.materials import Material
from boltzphlow.units import K_B

AL = bp.superconductor.material("Al")
PB = bp.superconductor.material("Pb")
TC_AL = th.critical_temperature(AL)
#: Al's data with a 10⁴ times larger Debye cutoff: the weak-coupling limit Ω_D ≫ k_BTc.
AL_WIDE = Material(name="Al-wide", Tc=AL.Tc, delta0=AL.delta0, tau0=AL.tau0, tau_pb=AL.tau_pb,
                   N0=AL.N0, debye_energy=1e4 * AL.debye_energy)
#: Electron charge (C), for the Wiedemann–Franz check.
E_CHARGE = 1.602176634e-19
#: Boltzmann constant (J/K).
K_B_SI = 1.380649e-23


# ------------------------------------------------------------------------------ the gap
def _gap_by_quadrature(T: float, delta0: float, debye: float) -> float:
    """Independent reference: the gap equation (G) of the gap module solved by adaptive
    quadrature (rtol 1e-13) and Brent's root finder."""
    kT = K_B * T
    a0 = math.asinh(debye / delta0)

    def g(delta: float) -> float:
        def integrand(xi: float) -> float:
            e = math.hypot(xi, delta)
            return 0.0 if e / kT > 700 else 1.0 / (e * (math.exp(e / kT) + 1.0))

        upper = min(debye, math.sqrt(max((40 * kT + delta) ** 2 - delta**2, 0.0)) + 40 * kT)
        val = integrate.quad(integrand, 0.0, upper, epsabs=0.0, epsrel=1e-13, limit=200)[0]
        return math.asinh(debye / delta) - a0 - 2.0 * val

    return optimize.brentq(g, 1e-12 * delta0, delta0, xtol=1e-14 * delta0, rtol=1e-15)


@pytest.mark.parametrize("mat", [AL, PB], ids=["Al", "Pb"])
def test_vectorised_gap_is_the_bcs_gap(mat):
    """The vectorised gap (Newton on Δ² with Gauss–Legendre ξ-integrals) against the same
    equation solved by adaptive quadrature (rtol 1e-13): agreement to 1e-11 Δ0 from 0.01 Tc
    to 0.999 Tc (Pb: Ω_D/k_BTc = 12, the cutoff matters); ``bcs_gap`` of an array is the same
    solve.  Above Tc the gap is 0."""
    tc = th.critical_temperature(mat, gap="material")
    T = tc * np.array([0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999])
    ref = np.array([_gap_by_quadrature(x, mat.delta0, mat.debye_energy) for x in T])
    np.testing.assert_allclose(th.equilibrium_gap(mat, T, gap="material"), ref, rtol=0,
                               atol=1e-11 * mat.delta0)
    np.testing.assert_array_equal(bcs_gap(T, mat.delta0, mat.debye_energy),
                                  th.equilibrium_gap(mat, T, gap="material"))
    assert th.equilibrium_gap(mat, 1.001 * tc, gap="material") == 0.0
    # the default closes at the material's Tc, Δ0/k_BTc = 1.764 (weak coupling; Pb's cutoff
    # Ω_D/k_BTc = 12 moves it by 0.4 %)
    assert th.equilibrium_gap(mat, 0.9999 * mat.Tc) > 0 == th.equilibrium_gap(mat, 1.0001 * mat.Tc)
    ratio = th.equilibrium_gap(mat, 1e-3 * mat.Tc) / (K_B * mat.Tc)
    assert abs(ratio - 1.764) <= (0.01 if mat is PB else 1e-3)
    # the α-model closes at the material's Tc with the same function of T/Tc
    t = np.array([0.3, 0.9])
    np.testing.assert_allclose(th.equilibrium_gap(mat, t * mat.Tc, gap="alpha"),
                               th.equilibrium_gap(mat, t * tc, gap="material"), rtol=1e-13)


# ---------------------------------------------------------------- thermal conductivity
def test_brt_table_values():
    """κ_s/κ_n at T/Tc = 0.3, 0.5, 0.7, 0.9 is BRT's 0.083, 0.408, 0.735, 0.952 to the digits
    shown with the default gap (the weak-coupling BCS gap of the material's Tc = 1.19 K): the
    ratio is a function of Δ(T)/k_BT, universal in T/Tc when Δ0/k_BTc = 1.764.  So is it with
    the material's own gap equation (Δ0 = 180 µeV) at T/Tc of the Tc where that gap closes
    (1.1842 K); at t·1.19 K that gap gives 0.085, 0.413, 0.740, 0.955 (Δ0/k_BTc = 1.755), and
    the α-model, which closes at 1.19 K with Δ0 = 180 µeV, 0.085, 0.412, 0.738, 0.953."""
    t = np.array([0.3, 0.5, 0.7, 0.9])
    brt = [0.083, 0.408, 0.735, 0.952]
    assert TC_AL == AL.Tc
    np.testing.assert_array_equal(np.round(th.thermal_conductivity_ratio(AL, t * AL.Tc), 3), brt)
    tc_material = th.critical_temperature(AL, gap="material")
    np.testing.assert_allclose(th.thermal_conductivity_ratio(AL, t * tc_material,
                                                             gap="material"),
                               [0.0829429, 0.4082788, 0.7350294, 0.9522593], atol=1e-7)
    np.testing.assert_allclose(th.thermal_conductivity_ratio(AL, t * AL.Tc),
                               [0.0829429, 0.4082788, 0.7350294, 0.9522593], atol=1e-6)
    np.testing.assert_array_equal(
        np.round(th.thermal_conductivity_ratio(AL, t * AL.Tc, gap="material"), 3),
        [0.085, 0.413, 0.740, 0.955])
    np.testing.assert_array_equal(
        np.round(th.thermal_conductivity_ratio(AL, t * AL.Tc, gap="alpha"), 3),
        [0.085, 0.412, 0.738, 0.953])
    assert th.thermal_conductivity_ratio(AL, 1.2 * TC_AL) == pytest.approx(1.0, abs=1e-14)
    assert th.thermal_conductivity_ratio(AL, 0.05 * TC_AL) < 1e-10


def test_brt_closed_form_equals_the_integral_of_eq_23():
    """The dilogarithm form equals ``(6/π²) ∫_y^∞ z² (−∂f/∂z) dz`` by adaptive quadrature
    (rtol 1e-13) to 1e-12, on both sides of the switch to the series at y = ln 4."""
    for y in (0.0, 0.3, 1.0, 1.38, 1.39, 3.0, 8.0, 20.0, 40.0):
        quad = integrate.quad(lambda z: z * z / (4 * math.cosh(z / 2) ** 2), y, y + 200,
                              epsabs=0, epsrel=1e-13, limit=200)[0]
        assert th._brt_ratio(y) == pytest.approx(6 / math.pi**2 * quad, rel=1e-12, abs=1e-300)


def test_normal_conductivity_is_wiedemann_franz():
    """Eq. 23 with 4N0 (single-spin N0) gives at Δ = 0 ``κ_n = L0 σ T`` with the Lorenz number
    ``L0 = π² k_B²/(3e²)`` and the Einstein conductivity ``σ = e² (2N0) v_F ℓ/3``, in SI units
    (an independent check of the prefactor and the unit conversion), to 2e-10: K_B in µeV/K
    is stored with 10 digits (86.17333262; rounding ≤ 6e-11, squared 1.2e-10)."""
    ell, vf = 0.7, 2030.0  # µm, µm/ns
    T = 1.3 * TC_AL
    n_tot = 2 * AL.N0 / (1.602176634e-25 * 1e-18)  # 1/(J m³)
    sigma = E_CHARGE**2 * n_tot * (vf * 1e3) * (ell * 1e-6) / 3
    lorenz = math.pi**2 * K_B_SI**2 / (3 * E_CHARGE**2)
    kappa = th.thermal_conductivity(AL, T, mean_free_path=ell, fermi_velocity=vf)
    assert kappa == pytest.approx(lorenz * sigma * T, rel=2e-10)
    below = th.thermal_conductivity(AL, 0.5 * TC_AL, mean_free_path=ell, fermi_velocity=vf)
    ratio = th.thermal_conductivity_ratio(AL, 0.5 * TC_AL)
    assert below == pytest.approx(0.5 * TC_AL / T * kappa * ratio, rel=1e-9)


# ------------------------------------------------------------------------ heat capacity
def test_heat_capacity_jump_is_bcs():
    """``ΔC/C_n = 12/(7ζ(3)) = 1.4261`` at Tc.  Just below Tc (1 − 1e-8) the jump differs from
    its limit by O(1e-8); with Al's cutoff Ω_D = 361 k_BTc the finite-cutoff correction is
    +2.6e-5 (measured; O((k_BTc/Ω_D)²) = 7.6e-6 times a number of order 3), so Al is held to
    5e-5 and the wide-cutoff material to 1e-6.  The slope dΔ²/dT at Tc is
    ``−(8π²/7ζ(3)) k_B² Tc``; above Tc, C = γT exactly."""
    jump = 12 / (7 * th.ZETA3)
    below = 1 - 1e-8
    assert round(th.heat_capacity_ratio(AL, below * TC_AL) - 1, 2) == 1.43
    assert th.heat_capacity_ratio(AL, below * TC_AL) - 1 == pytest.approx(jump, abs=5e-5)
    tc_wide = th.critical_temperature(AL_WIDE)
    assert th.heat_capacity_ratio(AL_WIDE, below * tc_wide) - 1 == pytest.approx(jump, abs=1e-6)
    slope = -8 * math.pi**2 / (7 * th.ZETA3) * K_B**2 * tc_wide
    assert th.gap_slope(AL_WIDE, below * tc_wide) == pytest.approx(slope, rel=1e-6)
    above = np.array([1.0001, 1.5, 3.0]) * TC_AL
    np.testing.assert_allclose(th.heat_capacity(AL, above),
                               th.sommerfeld_coefficient(AL) * above, rtol=1e-14)
    # γ from N0: (2π²/3) N0 k_B², 135 J/(K² m³) for Al (γ = 1.35 mJ/(mol K²), 10 cm³/mol)
    assert th.sommerfeld_coefficient(AL) == pytest.approx(134.6, rel=1e-3)


@pytest.mark.parametrize("d", [10.0, 15.0])
def test_low_temperature_heat_capacity_against_bessel_form(d):
    """At ``d = Δ/k_BT`` ≫ 1, with Boltzmann factors, ``∫_0^∞ dx (x² + d²) e^{−√(x²+d²)} =
    d³K₁(d) + 2dK₁(d) + d²K₀(d)`` (differentiate ``∫ e^{−a√(x²+d²)} dx = dK₁(ad)`` twice in a),
    so ``C_s = 4N0 k_B k_BT [d³K₁ + 2dK₁ + d²K₀] (1 + √(2πd) e^{−d} + O(e^{−d}))``: the
    relative gap term is ``2I0²/(Dx I2) ≈ √(2πd) e^{−d}`` and the Fermi corrections are
    −2e^{−d}·O(1); the test allows 3e^{−d} around the gap term."""
    T = AL.delta0 / (K_B * d)  # Δ(T) = Δ0 to 1e-7 here; d is recomputed from Δ(T)
    dd = th.equilibrium_gap(AL, T, gap="material") / (K_B * T)
    bessel = 4 * AL.N0 * K_B * K_B * T * (dd**3 * special.kv(1, dd) + 2 * dd * special.kv(1, dd)
                                          + dd**2 * special.kv(0, dd))
    c = th.heat_capacity(AL, T, gap="material") / th.HEAT_CAPACITY_SI
    assert c / bessel - 1 == pytest.approx(math.sqrt(2 * math.pi * dd) * math.exp(-dd),
                                           abs=3 * math.exp(-dd))


@pytest.mark.parametrize("d", [20.0, 40.0])
def test_low_temperature_heat_capacity_asymptote(d):
    """``C_s ≈ 2√(2π) N0 k_B Δ0 (Δ0/k_BT)^{3/2} e^{−Δ0/k_BT} (1 + 11/(8d) + c₂/d²)``: from the
    Bessel form with ``K_ν(z) ≈ √(π/2z) e^{−z}[1 + (4ν²−1)/8z + (4ν²−1)(4ν²−9)/(2(8z)²)]``,
    c₂ = 1.758; the test allows |remainder| ≤ 2/d².  Δ(T) = Δ0 to e^{−d} here."""
    T = AL.delta0 / (K_B * d)
    asym = 2 * math.sqrt(2 * math.pi) * AL.N0 * K_B * AL.delta0 * d**1.5 * math.exp(-d)
    c = th.heat_capacity(AL, T, gap="material") / th.HEAT_CAPACITY_SI
    assert abs(c / asym - 1 - 11 / (8 * d)) <= 2 / d**2


@pytest.mark.parametrize("t", [0.3, 0.6, 0.9])
def test_heat_capacity_is_the_derivative_of_the_mean_field_energy(t):
    """Second method: ``C = dU/dT`` with ``U = 4N0 [∫_0^{Ω_D} dξ E f + C(Δ)/(4N0)]`` (gap.py:
    the mean-field energy on the self-consistent manifold), Δ from the scalar ``bcs_gap``, the
    integral by adaptive quad (rtol 1e-13), and a central difference of step 1e-4 T (error
    ~(1e-4)² ~ 1e-8 relative; quadrature noise 1e-13 U/(h C) ~ 1e-9)."""
    def energy(T):
        delta = bcs_gap(T, AL.delta0, AL.debye_energy)
        kT = K_B * T
        qp = integrate.quad(lambda xi: math.hypot(xi, delta) / (math.exp(math.hypot(xi, delta)
                                                                        / kT) + 1),
                            0, 60 * kT, epsabs=0, epsrel=1e-13, limit=200)[0]
        return 4 * AL.N0 * (qp + condensate_energy(delta, AL.delta0, AL.debye_energy))

    T, h = t * TC_AL, 1e-4 * t * TC_AL
    du_dt = (energy(T + h) - energy(T - h)) / (2 * h)
    assert th.heat_capacity(AL, T, gap="material") / th.HEAT_CAPACITY_SI == pytest.approx(
        du_dt, rel=1e-6)


# ---------------------------------------------------------- Kirchhoff and diffusivity
@pytest.mark.slow
def test_kirchhoff_transform_and_diffusivity():
    """Φ(T) = ∫_0^T κ dT' against adaptive quad (split at Tc, rtol 1e-12) to 1e-8 (the
    (Tc − T)^{3/2} kink limits quad near Tc); ``D = κ/C``: v_Fℓ/3 above Tc, and at low T
    ``D_s/D_n = e^{−d}(d² + 2d + 2)/[d³K₁ + 2dK₁ + d²K₀]`` (Boltzmann factors; ≈ √(2/πd)),
    to 5 e^{−d}√d (Fermi and gap-term corrections, as in the heat-capacity test)."""
    ell, vf = 1.0, 2030.0
    def kappa(T):
        return th.thermal_conductivity(AL, T, mean_free_path=ell, fermi_velocity=vf)
    T = np.array([0.4, 0.999, 1.3]) * TC_AL
    ref = [integrate.quad(kappa, 0, min(x, TC_AL), epsabs=0, epsrel=1e-12, limit=200)[0]
           + (integrate.quad(kappa, TC_AL, x, epsabs=0, epsrel=1e-12)[0] if x > TC_AL else 0)
           for x in T]
    phi = th.kirchhoff_transform(AL, T, mean_free_path=ell, fermi_velocity=vf)
    np.testing.assert_allclose(phi, ref, rtol=1e-8)
    shifted = th.kirchhoff_transform(AL, T, mean_free_path=ell, fermi_velocity=vf,
                                     T_ref=0.4 * TC_AL)
    np.testing.assert_allclose(shifted, phi - phi[0], rtol=1e-12, atol=1e-12 * phi[-1])
    d_n = vf * ell / 3
    assert th.thermal_diffusivity(AL, 1.1 * TC_AL, mean_free_path=ell,
                                  fermi_velocity=vf) == pytest.approx(d_n, rel=1e-13)
    for d in (12.0, 20.0):
        Tl = AL.delta0 / (K_B * d)
        dd = th.equilibrium_gap(AL, Tl) / (K_B * Tl)
        bessel = dd**3 * special.kv(1, dd) + 2 * dd * special.kv(1, dd) + dd**2 * special.kv(
            0, dd)
        expected = math.exp(-dd) * (dd**2 + 2 * dd + 2) / bessel
        got = th.thermal_diffusivity(AL, Tl, mean_free_path=ell, fermi_velocity=vf) / d_n
        assert got / expected - 1 == pytest.approx(0, abs=5 * math.exp(-dd) * math.sqrt(dd))
        assert expected == pytest.approx(math.sqrt(2 / (math.pi * dd)), rel=2 / dd)


def test_thermal_properties_table_is_consistent_and_labelled():
    """The table holds the same numbers as the single functions, with units on everything."""
    T = np.linspace(0.1, 1.4, 14) * TC_AL
    ds = th.thermal_properties(AL, T, mean_free_path=1.0, fermi_velocity=2030.0)
    np.testing.assert_allclose(ds.kappa_ratio, th.thermal_conductivity_ratio(AL, T), rtol=1e-14)
    np.testing.assert_allclose(ds.heat_capacity, th.heat_capacity(AL, T), rtol=1e-14)
    np.testing.assert_allclose(ds.diffusivity, th.thermal_diffusivity(
        AL, T, mean_free_path=1.0, fermi_velocity=2030.0), rtol=1e-12)
    for name in (*ds.data_vars, *ds.coords):
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"], name


# ------------------------------------------------------------ relaxation-time form
def test_relaxation_time_form_with_impurities_only_is_brt():
    """With the impurity rate (ξ/E)/τ_n alone the relaxation-time κ is BRT's: the bin sum is a
    midpoint rule on ``∫ E² (−∂f/∂E) dE`` with E² integrated exactly per bin, error
    ``(h²/24) |∫ (E²)'' (−∂f/∂E) + boundary| / ∫ E² (−∂f/∂E)`` ≤ (h/k_BT)²/12 for h = k_BT/16
    (3.3e-4; measured 1e-4).  Halving h divides the error by 4 (second order): checked with
    a factor 3.5–4.5."""
    T = np.array([0.3, 0.7, 0.95]) * TC_AL
    brt = th.thermal_conductivity_ratio(AL, T)
    err16 = th.relaxation_time_conductivity_ratio(AL, T, 1.0, phonons=False) / brt - 1
    err32 = th.relaxation_time_conductivity_ratio(AL, T, 1.0, phonons=False,
                                                  points_per_kT=32) / brt - 1
    assert np.all(np.abs(err16) <= (1 / 16) ** 2 / 12)
    np.testing.assert_allclose(err16 / err32, 4.0, rtol=0.13)


def test_relaxation_time_form_approaches_brt_where_impurities_dominate():
    """Phonon decay adds Γ(E) to (ξ/E)/τ_n: κ_RT/κ_imp − 1 = −O(Γ τ_n), linear in τ_n as
    τ_n → 0 (on one grid, so the discretisation cancels in the ratio): the departure at
    τ_n = 1e-6 ns is 1/10 of that at 1e-5 ns to 1 % (the next order is O(Γτ_n) ≈ 1e-3 in Pb);
    and κ_RT < κ_BRT, the departure growing toward Tc (Γ ∝ T³ there)."""
    T = np.array([0.5, 0.9]) * th.critical_temperature(PB)
    imp = th.relaxation_time_conductivity_ratio(PB, T, 1e-5, phonons=False)
    dev5 = th.relaxation_time_conductivity_ratio(PB, T, 1e-5) / imp - 1
    dev6 = th.relaxation_time_conductivity_ratio(PB, T, 1e-6) / imp - 1
    assert np.all(dev5 < 0) and np.all(np.abs(dev5) < 1e-2)
    np.testing.assert_allclose(dev6 / dev5, 0.1, rtol=1e-2)
    assert abs(dev5[1]) > abs(dev5[0])


def test_decay_rate_and_phonon_pair_breaking_length():
    """The phonon decay rate at low T (0.1 Tc, e^{−Δ/k_BT} = 2e-8) above 2Δ is the T = 0
    pair-breaking rate of Li Eq. 40 (Kaplan et al.), ``(1/πΔ0τ0^φ) ∫_Δ^{Ω−Δ} dE
    [E(Ω−E) + Δ²]/(ξ(E) ξ(Ω−E))``, so ``D_ph = c_s²/(3Γ)`` matches it to the grid's
    discretisation (measured 4e-6 at h = k_BT/16; allowed 5e-5).  QP decay rates are
    positive.  ``D_qp = (v_Fℓ/3) ξ/E``."""
    T = 0.1 * TC_AL
    delta = th.equilibrium_gap(AL, T)
    omega = np.array([3.0, 4.0, 8.0]) * delta
    cs = 6.42

    def kaplan(w):
        integrand = lambda e: ((e * (w - e) + delta**2)  # noqa: E731
                               / math.sqrt(e * e - delta**2) / math.sqrt((w - e) ** 2 - delta**2))
        return integrate.quad(integrand, delta, w - delta, limit=200)[0] / (
            math.pi * AL.delta0 * AL.tau_pb)

    rate = cs**2 / (3 * th.phonon_diffusion_constant(AL, omega, T, sound_velocity=cs))
    np.testing.assert_allclose(rate, [kaplan(w) for w in omega], rtol=5e-5)
    assert th.phonon_diffusion_constant(AL, omega, T, sound_velocity=cs,
                                        mean_free_path=2.0)[0] == pytest.approx(cs * 2 / 3)
    E, gamma = th.quasiparticle_decay_rate(AL, 0.5 * TC_AL)
    assert E[0] > th.equilibrium_gap(AL, 0.5 * TC_AL) and np.all(gamma > 0)
    e = np.array([0.5, 1.0, 2.0, 10.0]) * delta
    d_qp = th.quasiparticle_diffusion_constant(AL, e, T, mean_free_path=1.0,
                                               fermi_velocity=2030.0)
    np.testing.assert_allclose(d_qp, 2030.0 / 3 * np.sqrt(np.clip(1 - (delta / e) ** 2, 0, 1)),
                               rtol=1e-14)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: th.heat_capacity(AL, -1.0), "T: temperatures must be positive"),
    (lambda: th.thermal_conductivity_ratio(AL, [0.5, np.nan]), "T: temperatures must be"),
    (lambda: th.heat_capacity(AL, 0.5, gap="strong"), "gap: must be one of bcs, material, alpha"),
    (lambda: th.thermal_conductivity(AL, 0.5, mean_free_path=-1, fermi_velocity=1.0),
     "mean_free_path: must be a positive"),
    (lambda: th.relaxation_time_conductivity_ratio(AL, TC_AL * 0.99999, 1.0),
     "too close to Tc"),
    (lambda: th.thermal_properties(AL, [0.5], mean_free_path=1.0), "give both or neither"),
])
def test_bad_input_is_one_line_value_error(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
