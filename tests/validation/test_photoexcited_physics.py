"""Physics checks of the photoexcited-metal model against exact solutions and the figures of
Chiriacò, Millis, Aleiner, *Negative absolute conductivity in photoexcited metals*.

Tolerances: exact discrete identities are asserted at round-off (a few ulp times the number of
terms); steady states at the Newton tolerance; the paper's figure trends with margins far
larger than the grid effect (σ changes by < 0.01 between 200 and 800 points per ω_p).
"""

from __future__ import annotations

import numpy as np
import pytest

import boltzphlow as bp
from boltzphlow import stats
from boltzphlow.kinetics.photoexcited.model import PhotoexcitedMetal, Pump

pe = bp.photoexcited
EPS = np.finfo(float).eps


def fermi_with_number(model: PhotoexcitedMetal, number: float) -> np.ndarray:
    """The Fermi function at the bath temperature holding ``number`` electrons."""
    lo, hi = -1.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if model.number(stats.fermi(model.eps, mid, model.T)) < number:
            lo = mid
        else:
            hi = mid
    return stats.fermi(model.eps, 0.5 * (lo + hi), model.T)


# ------------------------------------------------------------------------------ conservation
def test_number_conserved_to_round_off_in_a_full_pulse_evolution():
    m = PhotoexcitedMetal("semi-elliptic", mu=None, filling=0.4, T=0.01, omega_p=0.4, zeta=0.0,
                          fixed_zeta=False, gamma_in=0.05, tau_ph=4.0, delta_omega=0.01,
                          pump=Pump("exponential", 10.0, 0.3), instability=True,
                          points_per_omega=100)
    ds = m.evolve(6.0, n_out=7)
    drift = np.abs(ds["number"] - ds["number"][0]).max()
    assert drift < 200 * EPS  # ~ n_steps × ulp; the rtol of the integrator is 1e-6
    assert float(ds["zeta"].max()) > 5


def test_energy_conserved_between_electrons_and_the_mode():
    """Eqs. 3, 5: without St_in, τ_ph and pump, E_el + ω_p ζ is constant."""
    m = PhotoexcitedMetal("semi-elliptic", mu=0.0, T=0.003, omega_p=0.5, zeta=10.0,
                          fixed_zeta=False, points_per_omega=100)
    ds = m.evolve(5.0, n_out=6, rtol=1e-9, atol=1e-12)
    total = ds["energy"] + m.omega_p * ds["zeta"]
    assert float(ds["zeta"][0] - ds["zeta"][-1]) > 0.1  # the mode did lose phonons
    assert np.abs(total - total[0]).max() < 1e-9


# ------------------------------------------------------------------------------ St_in
@pytest.mark.parametrize("T", [0.0, 0.01, 0.05])
def test_st_in_alone_relaxes_to_the_bath_fermi_function_with_the_same_number(T):
    m = PhotoexcitedMetal("semi-elliptic", mu=0.05, T=T, omega_p=0.25, zeta=0.0,
                          gamma_eph=0.0, gamma_in=1.0, points_per_omega=50)
    rng = np.random.default_rng(5)
    f0 = np.clip(stats.fermi(m.eps, -0.1, 0.15) + 0.1 * rng.uniform(-1, 1, m.n_cells), 0, 1)
    ss = m.steady_state(f0=f0)
    assert float(ss["number"]) == pytest.approx(m.number(f0), abs=50 * EPS)
    if T > 0:
        expected = fermi_with_number(m, m.number(f0))
    else:  # T = 0: only downward hops; filled cells, one partly filled, then empty ones
        weight = m.h * m.dos
        below = np.concatenate([[0.0], np.cumsum(weight)[:-1]])
        expected = np.clip((m.number(f0) - below) / weight, 0.0, 1.0)
    assert np.abs(ss["f"].to_numpy() - expected).max() < 1e-9


def test_st_in_evolution_reaches_the_bath_fermi_function():
    m = PhotoexcitedMetal("semi-elliptic", mu=0.1, T=0.05, omega_p=0.25, zeta=0.0,
                          gamma_eph=0.0, gamma_in=5.0, points_per_omega=25)
    ds = m.evolve(400.0, n_out=3, rtol=1e-9, atol=1e-13)  # starts at f_T(μ = 0.1) = f_T
    f_end = ds["f"][-1].to_numpy()
    assert np.abs(f_end - m.f_initial).max() < 1e-8  # the bath Fermi function is stationary
    hot = PhotoexcitedMetal("semi-elliptic", mu=0.1, T=0.2, omega_p=0.25, zeta=0.0,
                            gamma_eph=0.0, gamma_in=5.0, points_per_omega=25)
    cold = m
    from scipy.integrate import solve_ivp

    sol = solve_ivp(cold.rhs, (0, 400.0), hot.f_initial, method="BDF", jac=cold.jacobian,
                    rtol=1e-9, atol=1e-13)
    f_end = sol.y[:, -1]
    number = cold.number(hot.f_initial)
    assert cold.number(f_end) == pytest.approx(number, abs=1e-13)
    assert np.abs(f_end - fermi_with_number(cold, number)).max() < 1e-6


def test_conductivity_is_positive_in_equilibrium():
    for name, transport in [("semi-elliptic", "constant-v2tau"), ("sqrt-edge", "constant-v2tau"),
                            ("cosine-1d", "constant-tau"), ("cosine-1d", "impurity"),
                            ("cosine-1d", "constant-vtau")]:
        for mu in (-0.3, 0.0, 0.2):
            for T in (0.003, 0.05):
                m = PhotoexcitedMetal(name, mu=mu, T=T, omega_p=0.3, points_per_omega=100,
                                      transport=transport)
                sigma = m.conductivity(m.f_initial)
                assert sigma > 0
                # low T: σ/σ_0 → σ̃(μ)/σ_0 = 1 up to the Sommerfeld term (π²/6) T² σ̃''/σ̃,
                # |σ̃''/σ̃| ≤ 8/(1 − 4μ²) ≤ 12.5 here (1.85e-4 at T = 0.003), plus the grid
                # effect at 100 points per ω_p (≤ 1.1e-5, against 400 points); max seen 1.96e-4
                if T == 0.003:
                    sommerfeld = np.pi**2 / 6 * T**2 * 8 / (1 - 4 * mu**2)
                    assert sigma == pytest.approx(1.0, abs=sommerfeld + 5e-5)


# ------------------------------------------------------------------------------ fixed ζ
@pytest.mark.parametrize(("dos", "omega_p", "zeta", "T"), [
    ("semi-elliptic", 0.53, 20.0, 0.003),
    ("semi-elliptic", 0.36, 1.0, 0.02),
    ("cosine-1d", 0.25, 5.0, 0.003),
    ("sqrt-edge", 0.3, 0.5, 0.01),
])
def test_fixed_zeta_steady_state_is_the_ladder_fermi_function(dos, omega_p, zeta, T):
    """Without St_in and field, each ladder ε + jω_p holds a Fermi function at T*."""
    m = PhotoexcitedMetal(dos, mu=0.0, T=T, omega_p=omega_p, zeta=zeta, points_per_omega=150)
    ss = m.steady_state(tol=1e-14)
    exact = m.ladder_equilibrium()
    assert np.abs(ss["f"].to_numpy() - exact).max() < 1e-10
    # each ladder keeps its own number
    rungs = m.points_per_omega
    for f in (ss["f"].to_numpy(), exact):
        per_ladder = np.bincount(np.arange(m.n_cells) % rungs, m.dos * f)
        initial = np.bincount(np.arange(m.n_cells) % rungs, m.dos * m.f_initial)
        assert np.abs(per_ladder - initial).max() < 1e-11 * initial.max()


def test_long_evolution_reaches_the_newton_steady_state():
    m = PhotoexcitedMetal("semi-elliptic", mu=0.0, T=0.003, omega_p=0.53, zeta=20.0,
                          points_per_omega=100)
    ds = m.evolve(30.0, n_out=3, rtol=1e-8, atol=1e-12)
    ss = m.steady_state()
    assert np.abs(ds["f"][-1] - ss["f"]).max() < 1e-6


def test_zeta_to_infinity_recovers_eq8_at_rate_one_over_zeta():
    m_args = dict(dos="semi-elliptic", mu=0.0, T=0.003, omega_p=0.53, points_per_omega=100)
    periodic = pe.periodic_limit(**m_args)
    errors = []
    for zeta in (1e2, 1e3, 1e4):
        ss = PhotoexcitedMetal(zeta=zeta, **m_args).steady_state()
        errors.append(float(np.abs(ss["f"] - periodic["f"]).max()))
    assert 7 < errors[0] / errors[1] < 13 and 7 < errors[1] / errors[2] < 13  # O(1/ζ)
    assert errors[2] < 1e-3
    sigma_inf = PhotoexcitedMetal(zeta=1e5, **m_args).steady_state()["sigma"]
    assert float(sigma_inf) == pytest.approx(float(periodic["sigma"]), abs=1e-3)


# ------------------------------------------------------------------------------ Fig. 2
def test_negative_conductivity_near_commensurability_fig2a():
    """Increasing DoS at half filling: σ < 0 near ω_p ≈ W/2 (and W/4), σ > 0 away."""
    sigma = {}
    for omega_p in (0.25, 0.35, 0.4, 0.5, 0.55):
        m = PhotoexcitedMetal("semi-elliptic", mu=0.0, T=0.003, omega_p=omega_p, zeta=20.0,
                              points_per_omega=200)
        sigma[omega_p] = float(m.steady_state()["sigma"])
    assert sigma[0.5] < -0.1 and sigma[0.55] < -0.1 and sigma[0.25] < 0
    assert sigma[0.35] > 0.05 and sigma[0.4] > 0.05
    assert sigma[0.55] < sigma[0.5]  # the minimum lies slightly above W/2


def test_conductivity_rises_with_the_field_fig2e():
    sigma = []
    fields = (0.0, 0.02, 0.04, 0.06, 0.08)
    for field in fields:
        m = PhotoexcitedMetal("semi-elliptic", mu=0.0, T=0.003, omega_p=0.53, zeta=20.0,
                              gamma_in=0.01, field=field, points_per_omega=100)
        sigma.append(float(m.evolve(10.0, n_out=2)["sigma"][-1]))
    assert np.all(np.diff(sigma) > 0.01)
    assert sigma[0] < -0.1 and sigma[-1] > 0


def test_higher_temperature_suppresses_the_negative_conductivity_fig2d():
    values = [float(PhotoexcitedMetal("semi-elliptic", mu=0.0, T=T, omega_p=0.53, zeta=20.0,
                                      points_per_omega=100).steady_state()["sigma"])
              for T in (0.003, 0.05, 0.15)]
    assert values[0] < values[1] < values[2]


# ------------------------------------------------------------------------------ Fig. 3
def fig3_model(**kw) -> PhotoexcitedMetal:
    return PhotoexcitedMetal("semi-elliptic", mu=None, filling=1 / 3, T=0.003,
                             omega_p=2 / 3, zeta=0.0, fixed_zeta=False, tau_ph=5.0,
                             gamma_in=0.01, pump=Pump("exponential", 10.0, 0.3),
                             points_per_omega=150, **kw)


def test_pulse_gives_transient_negative_conductivity_fig3a():
    ds = fig3_model().evolve(25.0, n_out=26)
    sigma = ds["sigma"].to_numpy()
    t = ds["t"].to_numpy()
    assert np.all(sigma[(t >= 1) & (t <= 5)] < 0)   # NAC for Γ_eph t of a few
    assert np.all(sigma[t >= 15] > 0)               # positive again after 3 τ_ph
    assert float(ds["zeta"].max()) > 7
    assert float(ds["zeta"][-1]) < 0.1


@pytest.mark.parametrize(("model", "tau_maxwell", "floor"), [("constraint", 0.02, -0.005),
                                                             ("maxwell", 1e-3, -0.05)])
@pytest.mark.slow
def test_instability_pins_sigma_at_zero_with_a_finite_field_fig3b(model, tau_maxwell, floor):
    free = fig3_model().evolve(6.0, n_out=61)
    pinned = fig3_model(instability=model, tau_maxwell=tau_maxwell).evolve(6.0, n_out=61)
    assert float(free["sigma"].min()) < -0.2
    # σ is held at 0 (to the lag set by τ_M) instead of going negative
    assert float(pinned["sigma"].min()) > floor
    assert float(pinned["field"].max()) > 0.05
    # the field vanishes again once σ > 0 by itself; the inversions stay smoothed (Fig. 3c)
    assert float(pinned["field"][-1]) < 0.01
    assert float(pinned["sigma"][-1]) > float(free["sigma"][-1])
    assert abs(float(pinned["number"][-1] - pinned["number"][0])) < 1e-12


@pytest.mark.slow
def test_constraint_field_converges_as_tau_maxwell_shrinks():
    fields = [fig3_model(instability=True, tau_maxwell=tm).evolve(1.0, n_out=11)["field"]
              for tm in (0.04, 0.02, 0.01)]
    d1 = float(np.abs(fields[0] - fields[1]).max())
    d2 = float(np.abs(fields[1] - fields[2]).max())
    assert float(fields[2].max()) > 0.2
    assert d2 < 0.7 * d1 + 1e-3  # converges (first order in τ_M)


def test_steady_drive_steady_state_balances_the_mode_and_matches_evolution():
    """Eq. 3 with a steady source: St_ph + I_p = ζ/τ_ph at the Newton steady state."""
    m = PhotoexcitedMetal("semi-elliptic", mu=0.0, T=0.01, omega_p=0.4, zeta=0.0,
                          fixed_zeta=False, tau_ph=2.0, gamma_in=0.05,
                          pump=Pump("steady", rate=5.0), points_per_omega=100)
    ss = m.steady_state()
    zeta = float(ss["zeta"])
    balance = m.collision_rates(ss["f"].to_numpy(), zeta=zeta)["St_ph"] + 5.0 - zeta / 2.0
    assert abs(balance) < 1e-10
    assert float(ss["number"]) == pytest.approx(0.5, abs=1e-14)
    late = m.evolve(60.0, n_out=3)
    assert float(late["zeta"][-1]) == pytest.approx(zeta, rel=1e-4)
    assert float(np.abs(late["f"][-1] - ss["f"]).max()) < 1e-3  # slow St_in tail, rtol 1e-6


# ------------------------------------------------------------------------------ issue 14
@pytest.mark.slow
def test_fig3b_constraint_field_is_a_burst_while_the_quasistatic_field_follows_zeta():
    """Fig. 3b: the constraint reading σ(t, E*) = 0 needs ℰ* ≈ 0.4 while St_el builds the
    inversion (Γt < 1) and none after, while ζ is still > 4; the quasi-static reading (the
    Fig. 2e protocol at ζ(t)) gives ℰ* of Fig. 2e's size, falling with ζ, 0 below ζ_c ≈ 1.6.
    Measured (150 cells per ω_p): burst 0.36 at Γt = 0.5; crossing 0.053, 0.026, 0 at
    ζ = 8, 3, 1."""
    pinned = fig3_model(instability=True).evolve(4.0, n_out=41)
    t, field = pinned["t"].to_numpy(), pinned["field"].to_numpy()
    assert field.max() > 0.25 and t[field.argmax()] < 1.0
    assert np.all(field[t >= 1.0] == 0) and np.all(pinned["zeta"].to_numpy()[t >= 1.0] > 4)
    m = fig3_model()
    crossing = [m.crossing_field(z, xtol=1e-3) for z in (8.0, 3.0, 1.0)]
    assert 0.03 < crossing[0] < 0.08  # Fig. 2e's crossing field is 0.055
    assert crossing[0] > crossing[1] + 0.01 > 0.01 and crossing[2] == 0.0


def test_eq10_delta_estimate_has_the_sign_of_the_periodic_limit():
    """Eq. 10 against σ of the ζ → ∞ distribution (Eq. 8) at half filling: the same sign
    wherever |σ| ≥ 0.05 (13 ω_p from 0.2 to 0.8); Eq. 10 is most negative exactly at the
    commensurate ω_p = W/4, W/2 (a rung leaves the band), the full σ slightly above them
    (paper, after Fig. 2).  Magnitudes differ by up to 3× (-0.57 vs -0.25 at W/2)."""
    omegas = np.round(np.arange(0.2, 0.801, 0.05), 2)
    estimate = np.array([pe.model.eq10_conductivity("semi-elliptic", 0.0, w) for w in omegas])
    full = np.array([float(pe.periodic_limit("semi-elliptic", mu=0.0, T=0.003, omega_p=w,
                                             points_per_omega=300)["sigma"]) for w in omegas])
    clear = np.abs(full) >= 0.05
    assert clear.sum() >= 8
    assert np.all(np.sign(estimate[clear]) == np.sign(full[clear]))
    assert pe.model.eq10_conductivity("semi-elliptic", 0.0, 0.5) < pe.model.eq10_conductivity(
        "semi-elliptic", 0.0, 0.52) < 0
    above = float(pe.periodic_limit("semi-elliptic", mu=0.0, T=0.003, omega_p=0.53,
                                    points_per_omega=300)["sigma"])
    assert above < full[omegas == 0.5][0]


@pytest.mark.parametrize("transport", ["constant-tau", "impurity"])
def test_one_dimensional_band_conducts_positively_sm_figs_5_6(transport):
    """Supplement Figs. 5, 6a, 6b (1D band, ζ = 20, T = 0.003): σ > 0 at every ω_p from 0.1
    to 0.8, for constant τ_tr too, where SM Fig. 6a shows σ < 0 near W/4, W/2 (a finding
    kept and confirmed by an independent code).  Measured minima 0.188 (constant τ_tr) and
    0.064 (impurity); grid effect < 0.01."""
    sigma = [float(PhotoexcitedMetal("cosine-1d", mu=0.0, T=0.003, omega_p=float(w), zeta=20.0,
                                     transport=transport,
                                     points_per_omega=int(np.ceil(w / 0.003))
                                     ).steady_state()["sigma"])
             for w in np.arange(0.1, 0.81, 0.05)]
    assert min(sigma) > {"constant-tau": 0.15, "impurity": 0.04}[transport]


def test_p_band_conductivity_turns_negative_fig2c():
    """Fig. 2c (p-band model, half filling, ζ = 20): σ < 0 in two windows of ω_p (measured
    −0.22 at 0.3, −0.52 at 0.65 with a 24³ mesh), σ > 0 between (0.72 at 0.5)."""
    band = pe.p_band(mesh=24, bins=120)
    sigma = {w: float(PhotoexcitedMetal(band, mu=None, filling=0.5, T=0.003, omega_p=w,
                                        zeta=20.0, points_per_omega=int(np.ceil(w / 0.003))
                                        ).steady_state()["sigma"]) for w in (0.3, 0.5, 0.65)}
    assert sigma[0.3] < -0.1 and sigma[0.65] < -0.3 and sigma[0.5] > 0.5


@pytest.mark.slow
def test_nac_window_at_higher_temperature_is_about_halved_fig3a():
    """Fig. 3a: T = 0.08 ends the NAC window at Γt ≈ 4.8 instead of 9.3 (and σ_min −0.08
    instead of −0.22): a decrease by half, not "slight"."""
    ends = []
    for temperature in (0.003, 0.08):
        model = PhotoexcitedMetal("semi-elliptic", mu=None, filling=1 / 3, T=temperature,
                                  omega_p=2 / 3, zeta=0.0, fixed_zeta=False, tau_ph=5.0,
                                  gamma_in=0.01, pump=Pump("exponential", 10.0, 0.3),
                                  points_per_omega=150)
        ds = model.evolve(12.0, n_out=121)
        ends.append(float(ds["t"].to_numpy()[ds["sigma"].to_numpy() < 0].max()))
    assert 8.5 < ends[0] < 10 and 4 < ends[1] < 5.5
    assert 0.4 < ends[1] / ends[0] < 0.65


def inversion(f: np.ndarray) -> float:
    """Total upward variation of f (0 for a monotonically falling f)."""
    return float(np.sum(np.maximum(np.diff(f), 0.0)))


@pytest.mark.parametrize(("zeta", "ratio", "kept"), [(20.0, 0.01, True), (20.0, 0.05, False),
                                                      (5.0, 0.03, True), (80.0, 0.015, False)])
def test_dispersive_phonon_smooths_the_inversion_threshold_fig1e(zeta, ratio, kept):
    """Fig. 1e at t = 10/Γ_eph: δω/ω_p = 0.01 keeps the inversion (37 % of it at ζ = 20),
    δω/ω_p = 1/ζ removes it.  The measured threshold (inversion < 5 %) is 0.042, 0.022,
    0.012 for ζ = 5, 20, 80: ∝ ζ^(-1/2) (the energy diffusion ζδω²t), so δω/ω_p ≳ 1/ζ is
    sufficient but not the scaling (ζ = 5 still inverted at 0.03)."""
    def final(delta: float) -> np.ndarray:
        m = PhotoexcitedMetal("semi-elliptic", mu=0.0, T=0.003, omega_p=0.36, zeta=zeta,
                              delta_omega=delta, points_per_omega=200)
        return m.evolve(10.0, n_out=2)["f"][-1].to_numpy()

    share = inversion(final(ratio * 0.36)) / inversion(final(0.0))
    assert (share > 0.1) if kept else (share < 0.01)


def test_diffusive_limit_matches_the_gaussian_band_to_second_order():
    """Supplement Eq. 52 expanded to second order in ω − ω_p (the diffusive limit replacing
    Eq. 53): its correction to St_el equals the Gaussian band's within 5 % (measured 1.9–4.2
    %) for δω = 0.002–0.016 W, and the correction grows as δω² (the first order vanishes for
    a symmetric band).  Smooth DoS cos²(πε), ω_p = 0.36, ζ = 20."""
    band = lambda e: np.cos(np.pi * e) ** 2  # noqa: E731
    kw = dict(mu=0.0, T=0.003, omega_p=0.36, zeta=20.0, points_per_omega=720)
    base = PhotoexcitedMetal(band, **kw)
    f = 0.5 - 0.4 * np.tanh((base.eps - 0.05) / 0.1)
    st0 = base.collision_rates(f)["St_el"]
    sizes = []
    for delta in (0.002, 0.004, 0.008, 0.016):
        full = PhotoexcitedMetal(band, delta_omega=delta, **kw).collision_rates(f)["St_el"]
        diff = PhotoexcitedMetal(band, delta_omega=delta, dispersion="diffusive",
                                 **kw).collision_rates(f)["St_el"]
        sizes.append(np.abs(full - st0).max())
        assert np.abs(diff - full).max() < 0.05 * sizes[-1]
        assert abs(float(np.dot(base.h * base.dos, diff))) < 1e-12  # number conserved
    assert np.allclose(np.diff(np.log(sizes)) / np.log(2), 2.0, atol=0.1)


def test_diffusive_limit_evolution_tracks_the_gaussian_band():
    """σ after 10/Γ_eph (Fig. 1e, ζ = 20): diffusive vs Gaussian differ by 6e-5 at
    δω = 0.01 ω_p and 2e-4 at 0.03 ω_p."""
    for ratio in (0.01, 0.03):
        sig = [float(PhotoexcitedMetal("semi-elliptic", mu=0.0, T=0.003, omega_p=0.36,
                                       zeta=20.0, delta_omega=ratio * 0.36, dispersion=d,
                                       points_per_omega=120).evolve(10.0, n_out=2)["sigma"][-1])
               for d in ("gaussian", "diffusive")]
        assert abs(sig[0] - sig[1]) < 1e-3
