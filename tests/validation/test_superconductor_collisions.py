"""Collision integrals (M. Li, Documentation for BoltzPhlow, Eqs. 33-40): detailed balance,
conservation, FFT = direct, Kaplan's low-temperature asymptotes and the bin-integrated DOS at
the gap edge; the same with the Eliashberg renormalisation of Eqs. 166-179."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from scipy import integrate, special

import boltzphlow as bp
from boltzphlow.grids.energy import EnergyGrid
from boltzphlow.kinetics.superconductor.collisions import CollisionOperator
from boltzphlow.kinetics.superconductor.eliashberg import Alpha2F, eliashberg
from boltzphlow.units import K_B

EPS = np.finfo(float).eps
AL = bp.superconductor.material("Al")


def gross_fluxes(op: CollisionOperator, f: np.ndarray, n: np.ndarray):
    """Gross (in + out) rates per bin from the direct transition list: the scale of round-off."""
    (l, u, J), (i, k, Jr) = op._pair_tables()
    nq, M = op.grid.n_qp, op.grid.n_phonon
    N, W = op.N, op.W
    G = W[J] * op._coherence(l, u, -1.0)
    em = G * f[u] * (1 - f[l]) * (1 + n[J - 1])
    ab = G * f[l] * (1 - f[u]) * n[J - 1]
    H = W[Jr] * op._coherence(i, k, +1.0)
    rc = H * f[i] * f[k] * (1 + n[Jr - 1])
    pb = H * (1 - f[i]) * (1 - f[k]) * n[Jr - 1]
    gf = {"scattering": (np.bincount(l, em + ab, nq) + np.bincount(u, em + ab, nq)) / N,
          "pairs": np.bincount(i, rc + pb, nq) / N}
    gn = {"scattering": np.bincount(J - 1, em + ab, M) / op.P,
          "pairs": 0.5 * np.bincount(Jr - 1, rc + pb, M) / op.P}
    return gf, gn


def random_state(op: CollisionOperator, rng: np.random.Generator):
    f = rng.uniform(0.0, 0.4, op.grid.n_qp) * np.exp(-(op.grid.energies - 180) / 300)
    n = rng.uniform(0.0, 0.8, op.grid.n_phonon) * np.exp(-op.grid.omega / 400)
    return f, n


@pytest.mark.parametrize("T, dynes", [(0.05, 0.0), (0.1, 0.0), (0.2, 0.0), (0.4, 0.0),
                                      (0.1, 2.0), (0.4, 2.0)])
def test_thermal_state_is_stationary_term_by_term(T, dynes):
    """Fermi/Bose at any T: scattering vanishes and recombination balances pair breaking,
    bin by bin, to round-off of each bin's gross flux (direct quadrature, exact
    grid energies E_i + ω_J = E_{i+J}); the FFT evaluation to its documented round-off.  With
    Dynes broadening the coherence factors are the broadened ``ρρ' ∓ ϕϕ'`` (Eq. 177): still
    a symmetric, separable kernel, so the same holds."""
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.1, energy_step=2.0, E_max=1200.0,
                                        dynes=dynes)
    s = m.thermal(T)
    op = m.collision_operator()
    gf, gn = gross_fluxes(op, s.f, s.n)
    direct = op.rates_direct(s.f, s.n)
    fft = op.rates(s.f, s.n)
    nterms = op.grid.n_qp + op.grid.n_phonon  # terms per bin sum: bound of the summation error
    tol_direct = 4 * EPS * math.sqrt(nterms)
    pairs_f = direct.terms["recombination"].f + direct.terms["pair_breaking"].f
    pairs_n = direct.terms["recombination"].n + direct.terms["pair_breaking"].n
    ok_f = gf["scattering"] > 1e-280
    assert np.all(np.abs(direct.terms["scattering"].f[ok_f]) <= tol_direct * gf["scattering"][ok_f])
    ok_n = gn["scattering"] > 1e-280
    assert np.all(np.abs(direct.terms["scattering"].n[ok_n]) <= tol_direct * gn["scattering"][ok_n])
    ok_f = gf["pairs"] > 1e-280
    assert np.all(np.abs(pairs_f[ok_f]) <= tol_direct * gf["pairs"][ok_f])
    ok_n = gn["pairs"] > 1e-280
    assert np.all(np.abs(pairs_n[ok_n]) <= tol_direct * gn["pairs"][ok_n])
    # FFT: round-off relative to the local gross flux grows like (ω_max/k_BT)² for the QPs
    # (absorption sums weighted by ω² span the whole phonon range); phonons stay at ε·√L
    total_f = gf["scattering"] + gf["pairs"]
    total_n = gn["scattering"] + gn["pairs"]
    ok_f, ok_n = total_f > 1e-280, total_n > 1e-280
    bound_f = 10 * EPS * math.sqrt(op.L) * (op.grid.omega[-1] / (K_B * T)) ** 2
    bound_n = 10 * EPS * math.sqrt(op.L)
    # a bin's FFT error is set by the largest terms of its sums, its gross flux by its own
    # states: the Dynes subgap bins (N_i ≪ N of the gap edge) carry N_edge/N_i of it
    bound_f = bound_f * np.maximum(1.0, np.median(op.N) / np.maximum(op.N, 1e-300))[ok_f]
    assert np.all(np.abs(fft.f[ok_f]) <= bound_f * total_f[ok_f])
    # phonons below the gap edge 2Δ are fed only by subgap Dynes states: for them the FFT
    # error is round-off of the largest phonon flux, not of their own
    scale_n = total_n[ok_n] if dynes == 0 else total_n.max()
    assert np.all(np.abs(fft.n[ok_n]) <= bound_n * scale_n)


@pytest.mark.parametrize("grid_args", [(180.0, 4.0, 1200.0, None), (180.0, 3.0, 900.0, 1700.0),
                                       (180.0, 5.0, 1500.0, 400.0), (300.0, 7.0, 1000.0, None)])
def test_fft_rates_equal_direct_quadrature(grid_args):
    """FFT correlations (§2.2) = direct O(N²) sums on the same grid, to ≤ 1e-12 relative,
    for every process, QP and phonon side, including phonon grids shorter than 2Δ + ..."""
    delta, h, emax, wmax = grid_args
    g = EnergyGrid.for_gap(delta, h, emax, wmax)
    op = CollisionOperator(g, delta, 438.0, 0.242, K_B * 1.19, 180.0)
    rng = np.random.default_rng(7)
    for _ in range(3):
        f, n = random_state(op, rng)
        fast, ref = op.rates(f, n), op.rates_direct(f, n)
        for name, t in ref.terms.items():
            for a, b in ((fast.terms[name].f, t.f), (fast.terms[name].n, t.n)):
                scale = np.max(np.abs(b))
                assert np.max(np.abs(a - b)) <= 1e-12 * scale, name


def test_fft_equals_direct_with_dynes_broadening_and_partial_gap_bins():
    """Dynes DOS and a gap edge inside a bin (self-consistent gap) change only the weights."""
    g = EnergyGrid.for_gap(180.0, 4.0, 1000.0, e_min=100.0)
    rng = np.random.default_rng(3)
    for op in (CollisionOperator(g, 180.0, 438.0, 0.242, K_B * 1.19, 180.0, dynes=2.0),
               CollisionOperator(g, 181.3, 438.0, 0.242, K_B * 1.19, 180.0)):
        f, n = random_state(op, rng)
        fast, ref = op.rates(f, n), op.rates_direct(f, n)
        assert np.max(np.abs(fast.f - ref.f)) <= 1e-12 * np.max(np.abs(ref.f))
        assert np.max(np.abs(fast.n - ref.n)) <= 1e-12 * np.max(np.abs(ref.n))


def test_energy_is_exchanged_not_created_and_number_rules():
    """Eq. 6-10 bookkeeping with the Eq. 7 prefactors: Σ N_i E_i ḟ_i + Σ P_J ω_J ṅ_J = 0 per
    process; scattering conserves QP number; each recombination makes one phonon from two QPs."""
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.1, energy_step=3.0, E_max=1500.0)
    op = m.collision_operator()
    rng = np.random.default_rng(11)
    f, n = random_state(op, rng)
    r = op.rates(f, n)
    qp_e, ph_e = op.N * m.E, op.P * m.omega
    for name, t in r.terms.items():
        flux = np.abs(qp_e * t.f).sum() + np.abs(ph_e * t.n).sum()
        assert abs(qp_e @ t.f + ph_e @ t.n) <= 1e-13 * flux, name
    sc = r.terms["scattering"]
    assert abs(op.N @ sc.f) <= 1e-13 * np.abs(op.N * sc.f).sum()
    for name in ("recombination", "pair_breaking"):
        t = r.terms[name]
        assert op.N @ t.f == pytest.approx(-2 * (op.P @ t.n), rel=1e-12)


def test_analytic_jacobian_is_exact():
    """The rates are quadratic in (f, n): a central difference with any step is exact."""
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.1, energy_step=4.0, E_max=1100.0,
                                        omega_max=1250.0)
    op = m.collision_operator()
    rng = np.random.default_rng(5)
    f, n = random_state(op, rng)
    jac = op.jacobian(f, n)
    y = np.concatenate([f, n])
    nq = op.grid.n_qp

    def F(yy):
        r = op.rates(yy[:nq], yy[nq:], terms=False, tilt=0.0)
        return np.concatenate([r.f, r.n])

    for _ in range(3):
        v = rng.standard_normal(y.size)
        jv = 0.5 * (F(y + v) - F(y - v))
        assert np.max(np.abs(jac @ v - jv)) <= 1e-12 * np.max(np.abs(jv))


def _kaplan_grid(T: float):
    kT = K_B * T
    delta = bp.superconductor.bcs_gap(T, AL.delta0, AL.debye_energy)
    g = EnergyGrid.for_gap(delta, kT / 16, delta + 60 * kT, 2 * delta + 60 * kT)
    return CollisionOperator(g, delta, AL.tau0, AL.tau_pb, AL.kTc, AL.delta0), delta, kT


@pytest.mark.parametrize("T_over_Tc", [0.1, 0.07, 0.05])
def test_gap_edge_rates_approach_kaplan_asymptotes(T_over_Tc):
    """Kaplan et al. (1976) Eqs. 8-9 at E = Δ, T ≪ Tc:
    1/τ_s = Γ(7/2) ζ(7/2) (k_BT)^{7/2} / (τ0 (k_BTc)³ √(2Δ)),
    1/τ_r = √π (2Δ/k_BTc)^{5/2} √(T/Tc) e^{−Δ/k_BT} / τ0;
    the next order is O(k_BT/Δ) (e.g. −⟨Ω⟩/4Δ ≈ −0.82 k_BT/Δ for scattering)."""
    T = T_over_Tc * AL.Tc
    op, delta, kT = _kaplan_grid(T)
    E, w = op.grid.energies, op.grid.omega
    n = 1.0 / np.expm1(w / kT)
    # scattering out of the edge bin: a tiny probe occupation there, empty elsewhere
    probe = np.zeros_like(E)
    probe[0] = 1e-12
    rate_s = -op.rates(probe, n).terms["scattering"].f[0] / probe[0]
    kaplan_s = special.gamma(3.5) * special.zeta(3.5) * kT**3.5 / (
        AL.tau0 * AL.kTc**3 * math.sqrt(2 * delta))
    # recombination of the edge bin with thermal partners
    f = special.expit(-E / kT)
    rate_r = -op.rates(f, n).terms["recombination"].f[0] / f[0]
    kaplan_r = (math.sqrt(math.pi) * (2 * delta / AL.kTc) ** 2.5 * math.sqrt(T / AL.Tc)
                * math.exp(-delta / kT) / AL.tau0)
    x = kT / delta
    assert abs(rate_s / kaplan_s - 1) <= 1.5 * x
    assert abs(rate_r / kaplan_r - 1) <= 1.5 * x


def _pair_breaking_integrand(w: float, delta: float) -> float:
    """∫ dE ρ(E) ρ(ω−E) (1 + Δ²/E(ω−E)) over the pair line, endpoint singularities removed."""
    a = w - 2 * delta
    if a <= 0:
        return 0.0

    def g(th: float) -> float:
        x = a * math.sin(th) ** 2
        e1, e2 = delta + x, delta + a - x
        jac = 2 * a * math.sin(th) * math.cos(th)
        rho = e1 / math.sqrt(x * (2 * delta + x)) * e2 / math.sqrt((a - x) * (2 * delta + a - x))
        return jac * rho * (1 + delta**2 / (e1 * e2))

    return integrate.quad(g, 0, math.pi / 2, epsabs=0, epsrel=1e-12, limit=200)[0]


def test_bin_integrated_dos_resolves_pair_breaking_near_2delta():
    """Pair-breaking phase space of phonons just above 2Δ, ∫_{2Δ}^{2Δ+a} dω ∫ dE ρρ'(1+Δ²/EE').

    Bin-integrated states converge at first order in h; the midpoint DOS misses the edge bin's
    weight (its first pair carries 2/π of the true rate) and converges only like √h."""
    delta, a = 180.0, 60.0
    exact = integrate.quad(_pair_breaking_integrand, 2 * delta, 2 * delta + a, args=(delta,),
                           epsrel=1e-11, limit=200)[0]
    errors = {"bin": [], "midpoint": []}
    steps = [4.0, 2.0, 1.0, 0.5]
    for h in steps:
        g = EnergyGrid.for_gap(delta, h, 2 * delta + a)
        E = g.energies
        K = 1 + np.outer(delta / E, delta / E)
        inside = (E[:, None] + E[None, :]) <= 2 * delta + a + 1e-9
        states = CollisionOperator(g, delta, 1.0, 1.0, 100.0, delta).N
        midpoint = g.step * E / np.sqrt(E * E - delta**2)
        for key, N in (("bin", states), ("midpoint", midpoint)):
            errors[key].append(abs(np.sum(np.outer(N, N) * K * inside) / exact - 1))
    order = {k: np.polyfit(np.log(steps), np.log(v), 1)[0] for k, v in errors.items()}
    assert order["bin"] >= 0.9
    assert 0.35 <= order["midpoint"] <= 0.65
    assert errors["bin"][-1] < errors["midpoint"][-1] / 10
    # The first pair above 2Δ against the quadrature of the continuum rate over its ω bin
    # [2Δ, 2Δ+h]. Near threshold the rate is πΔ(1 + (ω−2Δ)/4Δ), so its bin average is
    # πΔ(1 + h/8Δ); the midpoint pair N₀²(1+Δ²/E₀²)/h with E₀ = Δ+h/2 is 2Δ(1 + h/4Δ + O(h²)).
    # Their ratio is 2/π (1 + h/8Δ) up to O((h/Δ)²).
    g = EnergyGrid.for_gap(delta, 0.1, delta + 10.0)
    h, e0 = g.step, g.energies[0]
    midpoint_first = (h * e0 / math.sqrt(e0**2 - delta**2)) ** 2 * (1 + delta**2 / e0**2) / h
    continuum = integrate.quad(_pair_breaking_integrand, 2 * delta, 2 * delta + h,
                               args=(delta,), epsabs=0, epsrel=1e-12)[0] / h
    assert continuum == pytest.approx(math.pi * delta * (1 + h / (8 * delta)),
                                      rel=(h / delta) ** 2)
    assert midpoint_first / continuum == pytest.approx(2 / math.pi * (1 + h / (8 * delta)),
                                                       rel=(h / delta) ** 2)


def test_dynes_coherence_factors_follow_the_broadened_spectral_weights():
    """``∫_bin ϕ`` of the Dynes-broadened anomalous weight ϕ = Re[Δ/√((E + iΓ)² − Δ²)]
    (Eq. 167 with Z = 1, φ = Δ) against adaptive quadrature (1e-9 of the bin's weight); the
    bin ratio κ² = ∫ϕ/∫ρ stays ≤ 1 (scattering factor 1 − κκ' ≥ 0); as Γ → 0 the bin
    integrals tend to the BCS ``Δ[arccosh(E_hi/Δ) − arccosh(E_lo/Δ)]``: at Γ = 1e-3 Δ the edge
    bin and the one below it together within 3 % (measured 2.2 %), bins beyond five steps
    from the edge within 5e-5 (measured 1.9e-5)."""
    from scipy import integrate

    from boltzphlow.kinetics.superconductor.dos import bin_pair_amplitude

    delta, dynes = 180.0, 2.0
    g = EnergyGrid.for_gap(delta, 4.0, 600.0, e_min=0.5 * delta)
    pair = bin_pair_amplitude(g.edges, delta, dynes)

    def phi(e):
        z = e + 1j * dynes
        return (delta / (np.sqrt(z - delta) * np.sqrt(z + delta))).real

    for i in range(0, g.n_qp, 7):
        lo, hi = g.edges[i], g.edges[i + 1]
        ref = integrate.quad(phi, lo, hi, epsabs=0.0, epsrel=1e-12, limit=200,
                             points=[delta] if lo < delta < hi else None)[0]
        assert abs(pair[i] - ref) <= 1e-9 * max(abs(ref), 1e-3)
    op = CollisionOperator(g, delta, 438.0, 0.242, K_B * 1.19, delta, dynes=dynes)
    assert np.all(op.kappa[1] <= 1.0) and np.all(op.kappa[1] >= 0.0)
    sharp = bin_pair_amplitude(g.edges, delta, 1e-3 * delta)
    bcs = np.diff(delta * np.arccosh(np.maximum(g.edges, delta) / delta))
    edge = np.searchsorted(g.edges, delta, "right") - 1   # the bin [Δ, Δ + h]
    pair = sharp[edge - 1] + sharp[edge]                   # weight leaks below Δ: O(√(ΓΔ))
    assert abs(pair - bcs[edge]) <= 0.03 * bcs[edge]       # measured 2.2 %
    far = np.arange(g.n_qp) > edge + 5
    np.testing.assert_allclose(sharp[far], bcs[far], rtol=5e-5)   # ∝ Γ/(E − Δ): 1.9e-5


# ---------------------------------------------------------------- Eliashberg renormalisation

def constant_eliashberg(Z: float, delta: float, T: float, lam: float) -> xr.Dataset:
    """An Eliashberg-like result with energy-independent real Z and φ = ZΔ."""
    eps = np.linspace(1.0, 20_000.0, 4000)
    one = np.ones_like(eps)

    def var(x):
        return ("eps", x)

    return xr.Dataset({"Z_real": var(Z * one), "Z_imag": var(0 * one),
                       "phi_real": var(Z * delta * one), "phi_imag": var(0 * one)},
                      coords={"eps": eps},
                      attrs={"T": T, "delta0": delta, "lam": lam, "mu_star": 0.0,
                             "alpha2F": "constant"})


def hot_state(m, s, e0, w0):
    """``s`` plus a QP packet at ``e0`` and a phonon packet at ``w0`` (µeV)."""
    f = s.f + 1e-3 * np.exp(-((m.E - e0) / (0.1 * e0)) ** 2)
    n = s.n + 1e-3 * np.exp(-((m.omega - w0) / (0.1 * w0)) ** 2)
    return bp.superconductor.State(f, n)


def test_renormalised_kinetics_with_constant_z_and_gap_are_the_bcs_kinetics():
    """Z = 1 + λ and Δ independent of energy: the weight ρ(Z₁ + εZ₁') − ϕφ₁' is (1 + λ)ρ,
    divided by 1 + λ (τ0 and N0 carry it) it is the BCS ∫ρ, and ρρ' ∓ ϕϕ' are the BCS
    coherence factors, so the rates are today's to round-off (exact bin integrals both)."""
    el = constant_eliashberg(1.43, 180.0, 0.15, 0.43)
    kw = dict(T_bath=0.15, energy_step=3.0, E_max=1200.0)
    m = bp.superconductor.QPPhononModel(AL, renormalisation="eliashberg", eliashberg_result=el,
                                        **kw)
    b = bp.superconductor.QPPhononModel(AL, delta=180.0, **kw)
    assert m.delta == 180.0
    assert np.max(np.abs(m.states() / b.states() - 1)) < 1e-12
    s = hot_state(m, m.thermal(0.15), 600.0, 500.0)
    rm, rb = m.rates(s), b.rates(s)
    for got, ref in ((rm.f, rb.f), (rm.n, rb.n)):
        assert np.max(np.abs(got - ref)) <= 1e-12 * np.max(np.abs(ref))


@pytest.mark.slow
def test_renormalised_kinetics_approach_bcs_at_weak_coupling():
    """λ → 0 at fixed Tc (Einstein α²F, μ* = 0, ω_E from 58 to 310 Δ): Z(ε) and Δ(ε) lose
    their energy dependence over the kinetic window, and the rates of a hot state approach
    the BCS rates at the same gap.  Measured: 1.6e-3 (λ = 0.3, ω_E = 7 meV) and 2.6e-4
    (λ = 0.2, ω_E = 37 meV); the bounds leave 25 % room and ask for a fourfold decrease."""
    devs = []
    for lam, omega_e, bound in ((0.3, 7000.0, 2e-3), (0.2, 37000.0, 3.3e-4)):
        el = eliashberg(AL, alpha2F=Alpha2F.einstein(lam, omega_e), T=0.1, mu_star=0.0,
                        compute_tc=False, n_points=8192, cutoff=4 * omega_e)
        kw = dict(T_bath=0.1, energy_step=2.0, E_max=1200.0)
        m = bp.superconductor.QPPhononModel(AL, renormalisation="eliashberg",
                                            eliashberg_result=el, **kw)
        b = bp.superconductor.QPPhononModel(AL, delta=m.delta, **kw)
        s = hot_state(m, m.thermal(0.1), 600.0, 500.0)
        rm, rb = m.rates(s), b.rates(s)
        dev = max(np.max(np.abs(rm.f - rb.f)) / np.max(np.abs(rb.f)),
                  np.max(np.abs(rm.n - rb.n)) / np.max(np.abs(rb.n)))
        assert dev < bound, (lam, dev)
        devs.append(dev)
    assert devs[1] < devs[0] / 4


@pytest.fixture(scope="module")
def lead():
    """Pb with its shipped α²F (λ = 1.55) at 1 K: the strong-coupling kinetics."""
    el = eliashberg("Pb", T=1.0, compute_tc=False)
    return bp.superconductor.QPPhononModel("Pb", T_bath=1.0, energy_step=20.0, E_max=4500.0,
                                           renormalisation="eliashberg", eliashberg_result=el)


def test_strong_coupling_renormalisation_changes_the_weights(lead):
    """Pb: the renormalised weight differs from BCS by several per cent near the gap edge
    (Z₁(Δ)/(1 + λ) = 0.96 and the ϕφ₁' term), and ϕ/ρ from Δ/E, so the option matters."""
    b = bp.superconductor.QPPhononModel("Pb", T_bath=1.0, energy_step=20.0, E_max=4500.0,
                                        delta=lead.delta)
    ratio = lead.states() / b.states()
    assert 0.85 < ratio[0] < 0.97 and np.max(np.abs(ratio - 1)) > 0.05
    op = lead.collision_operator()
    assert np.all(op.R[1] <= op.R[0])


def test_strong_coupling_thermal_state_is_stationary_bin_by_bin(lead):
    """Detailed balance with the renormalised factors: every pair flux vanishes on Fermi/Bose
    distributions, so scattering and recombination/pair breaking cancel bin by bin to the
    round-off of each bin's gross flux (direct sums), and the FFT to its documented bound."""
    s = lead.thermal(1.0)
    op = lead.collision_operator()
    gf, gn = gross_fluxes(op, s.f, s.n)
    direct = op.rates_direct(s.f, s.n)
    tol = 4 * EPS * math.sqrt(op.grid.n_qp + op.grid.n_phonon)
    pairs_f = direct.terms["recombination"].f + direct.terms["pair_breaking"].f
    for got, gross in ((direct.terms["scattering"].f, gf["scattering"]),
                       (direct.terms["scattering"].n, gn["scattering"]),
                       (pairs_f, gf["pairs"])):
        ok = gross > 1e-280
        assert np.all(np.abs(got[ok]) <= tol * gross[ok])
    fft = op.rates(s.f, s.n)
    total = gf["scattering"] + gf["pairs"]
    bound = 10 * EPS * math.sqrt(op.L) * (op.grid.omega[-1] / (K_B * 1.0)) ** 2
    assert np.all(np.abs(fft.f[total > 1e-280]) <= bound * total[total > 1e-280])


def test_strong_coupling_rates_conserve_energy_and_fft_equals_direct(lead):
    """Σ N E ḟ + Σ P ω ṅ = 0 per process with the renormalised weight N (the conserved energy
    of Eq. 170's kinetics), and the FFT sums equal the direct ones, on a hot state (to 5e-12:
    measured 1.5e-12, the FFT round-off of sums spanning a phonon range four gaps wide)."""
    s = hot_state(lead, lead.thermal(1.0), 3000.0, 2900.0)
    op = lead.collision_operator()
    fast, ref = op.rates(s.f, s.n), op.rates_direct(s.f, s.n)
    for name, t in ref.terms.items():
        qp, ph = op.N * lead.E * t.f, op.P * lead.omega * t.n
        assert abs(qp.sum() + ph.sum()) <= 1e-13 * (np.abs(qp).sum() + np.abs(ph).sum()), name
        for a, b in ((fast.terms[name].f, t.f), (fast.terms[name].n, t.n)):
            assert np.max(np.abs(a - b)) <= 5e-12 * np.max(np.abs(b)), name


def test_strong_coupling_closed_run_conserves_energy(lead):
    """A closed Pb film relaxing from a hot packet (BDF): QP + phonon energy with the
    renormalised weights stays constant to round-off (bookkeeping drift ≤ 1e-12 of the
    energy, against the solver's rtol = 1e-8), while the packet's energy moves to phonons."""
    s = lead.thermal(1.0)
    s0 = bp.superconductor.State(s.f + 1e-3 * np.exp(-((lead.E - 3500) / 350) ** 2), s.n)
    ds = lead.evolve(s0, t_end=5.0, method="bdf", n_out=6, rtol=1e-8)
    assert ds.attrs["renormalisation"] == "eliashberg"
    assert "check_failed" not in ds.attrs
    assert ds.attrs["bookkeeping_drift"] <= 1e-12
    assert ds.phonon_energy.values[-1] > 10 * ds.phonon_energy.values[0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(E_max=9000.0), "E_max: the renormalised weight"),
    (dict(delta=1400.0), "delta: renormalisation = 'eliashberg' needs"),
    (dict(gap="self-consistent"), "gap: renormalisation = 'eliashberg' needs"),
    (dict(dynes=1.0), "dynes: renormalisation = 'eliashberg' needs"),
    (dict(renormalisation="migdal"), "renormalisation: must be"),
    (dict(renormalisation="none", eliashberg_result=None, alpha2F="Pb"),
     "alpha2F: is used only with renormalisation = 'eliashberg'"),
    (dict(eliashberg_result=None, alpha2F="/nonexistent/a2f.toml"), "alpha2F: "),
])
def test_renormalisation_refuses_what_it_cannot_do(lead, kwargs, match):
    """Beyond Δ + Ω of Pb's transverse peak the weight of ∂f/∂t turns negative (Z₁ falls
    steeply: no quasiparticles); the option fixes the gap at the Eliashberg gap edge."""
    args = dict(T_bath=1.0, energy_step=20.0, E_max=4500.0, renormalisation="eliashberg",
                eliashberg_result=lead.eliashberg) | kwargs
    with pytest.raises(bp.superconductor.ParameterError, match=match):
        bp.superconductor.QPPhononModel("Pb", **args)
