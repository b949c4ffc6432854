"""LinearBTE solvers and observables (bp.transport): methods, null space, input errors, the
result Dataset.  Physics validations are in tests/validation/test_bte_transport.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.integrate import quad

import boltzphlow as bp
from boltzphlow import stats
from boltzphlow.kinetics.bte.fields import FieldTerms
from boltzphlow.kinetics.bte.linear import METHODS, thermal_states

MU, T, TAU = 2.0, 0.05, 10.0


def dirac(k_max: float = 2.5):
    return bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=k_max)


def dirac_sigma_constant_tau(mu: float, temperature: float, tau: float) -> float:
    """σ_xx (e²/h) of the massive Dirac band (v = Δ = 1) with a constant τ:
    ``2π τ ∫ (-∂f/∂ε) ν v²/2 dε`` with ``ν v² / 2 = (ε² - 1)/(4π ε)``."""
    def integrand(e: float) -> float:
        return float(stats.minus_dfermi(e, mu, temperature)) * (e * e - 1) / (4 * math.pi * e)
    lo = max(1.0, mu - 30 * temperature)
    return 2 * math.pi * tau * quad(integrand, lo, mu + 30 * temperature, points=[mu],
                                    limit=200)[0]


@pytest.fixture(scope="module")
def constant_tau():
    return bp.transport.LinearBTE(dirac(), mesh=(48, 48), mu=MU, T=T, berry=False,
                                  scattering=[bp.scattering.ConstantRelaxationTime(tau=TAU)])


@pytest.fixture(scope="module")
def impurities():
    imp = bp.scattering.Impurities(density=1.0, potential="zero-range", strength=0.3)
    return bp.transport.LinearBTE(dirac(), mesh=(40, 40), mu=MU, T=0.1, berry=False,
                                  scattering=[imp], n_kT=12.0)


@pytest.mark.parametrize("method", METHODS)
def test_constant_tau_every_method(constant_tau, method):
    """With a constant τ every method solves ``φ = τ b/p`` exactly; σ_xx is the band integral
    ``2π τ ∫(-f') ν v²/2`` (7.4948 e²/h at μ = 2, T = 0.05).  The thermal ring |ε - μ| ≲ 4T
    is 2–3 steps of the 48×48 mesh thick (v Δk = 0.09 ≈ 2T): its midpoint sum errs by the
    sampling of a thin ring, observed 4e-3 (N = 32), 5e-5 (40), 1.2e-4 (48): 2e-3 allowed."""
    res = constant_tau.solve(method)
    ref = dirac_sigma_constant_tau(MU, T, TAU)
    assert res.converged and res.residual < 1e-8
    assert res.sigma[0, 0] == pytest.approx(ref, rel=2e-3)
    assert res.sigma[1, 1] == pytest.approx(res.sigma[0, 0], rel=1e-12)
    assert abs(res.sigma[0, 1]) < 1e-12 * res.sigma[0, 0]
    # RTA thermal solution: φ^T = φ^E (ε - μ)/T exactly
    xi = (constant_tau.states.energy - MU) / T
    np.testing.assert_allclose(res.phi_thermal, res.phi * xi[:, None], atol=1e-9 * TAU / T)


@pytest.mark.slow
def test_methods_agree_with_impurities(impurities):
    """Zero-range impurities on the massive Dirac band.  Direct, Krylov and iterative solve
    the same linear system: equal to their tolerance (rtol 1e-10 → σ to 1e-8).  The Bloch
    overlap of the upper band, ``|⟨u'|u⟩|² = [1 + (Δ² + v²k² cos θ)/ε²]/2``, is
    ``(5/4 + 3/4 cos θ)/2`` at μ = 2: out-scattering ∝ 5/8, momentum relaxation ∝
    ``⟨overlap (1 - cos θ)⟩ = 7/16``, so σ_SERTA/σ = 0.7 (2 % allowed: the thermal spread
    T/μ = 5 % moves the ratio by (T/μ)²-terms and the smearing by less); MRTA is exact for
    this elastic, angle-only kernel up to the energy smearing of the δ (width T): 2e-3."""
    res = {m: impurities.solve(m, rtol=1e-10) for m in METHODS}
    exact = res["direct"].sigma
    for m in ("krylov", "iterative"):
        assert res[m].converged, m
        np.testing.assert_allclose(res[m].sigma, exact, rtol=1e-8, atol=1e-8 * exact[0, 0])
        np.testing.assert_allclose(res[m].seebeck, res["direct"].seebeck, rtol=1e-6,
                                   atol=1e-6 * res["direct"].seebeck[0, 0])
    assert res["serta"].sigma[0, 0] / exact[0, 0] == pytest.approx(0.7, rel=2e-2)
    # Onsager at B = 0 (L symmetric, b^T = b^E (ε - μ)/T): L^21 = T (L^12)ᵀ
    d = res["direct"]
    np.testing.assert_allclose(d.heat_electric, 0.1 * d.thermoelectric.T, rtol=1e-9,
                               atol=1e-9 * abs(d.heat_electric[0, 0]))
    assert res["mrta"].sigma[0, 0] == pytest.approx(exact[0, 0], rel=2e-3)
    # isotropic model: isotropic σ
    assert exact[1, 1] == pytest.approx(exact[0, 0], rel=1e-10)
    assert abs(exact[0, 1]) < 1e-10 * exact[0, 0]
    # the null space is pinned: no net particles in the deviation
    p = impurities.occupation_weight
    assert abs(p @ res["iterative"].phi[:, 0]) < 1e-10 * (p @ np.abs(res["iterative"].phi[:, 0]))
    assert res["direct"].info["conserving_sets"] == 1


def circulation(bte, strength: float) -> sp.csr_matrix:
    """A skew-symmetric, particle-conserving ``K`` (``K 1 = 0``, ``1ᵀ K = 0``): circulation
    around triangles of states of neighbouring energies, one amplitude per triangle
    (``strength`` × the smallest out-flux of the three)."""
    s = len(bte.states)
    order = np.argsort(bte.states.energy)[: 3 * (s // 3)].reshape(-1, 3)
    amp = strength * bte.operator.out_flux[order].min(axis=1)
    i, j, m = order.T
    rows = np.concatenate([i, j, m, j, m, i])
    cols = np.concatenate([j, m, i, i, j, m])
    return sp.coo_matrix((np.concatenate([amp, amp, amp, -amp, -amp, -amp]), (rows, cols)),
                         shape=(s, s)).tocsr()


@pytest.mark.slow
def test_non_symmetric_system_with_lorentz(impurities, monkeypatch):
    """A circulation ``K`` (a stand-in for the Lorentz force) added to L: direct, Krylov and
    iterative solve ``(L + K) φ = b`` with ``Σ p φ = 0``, compared with a dense solve of the
    same bordered system."""
    s = len(impurities.states)
    k = circulation(impurities, 0.3)
    np.testing.assert_allclose(k @ np.ones(s), 0, atol=1e-15)
    np.testing.assert_allclose(k.T @ np.ones(s), 0, atol=1e-15)
    monkeypatch.setattr(FieldTerms, "lorentz", lambda self, eq: k)
    a = impurities.system_matrix().toarray()
    b = impurities.fields.drive(impurities.eq)
    p = impurities.occupation_weight
    bordered = np.block([[a, p[:, None]], [p[None, :], np.zeros((1, 1))]])
    ref = np.linalg.solve(bordered, np.vstack([b, np.zeros((1, b.shape[1]))]))[:s]
    sigma_ref = impurities.conductivity(ref)
    for method in ("direct", "krylov", "iterative"):
        res = impurities.solve(method, rtol=1e-10, maxiter=3000, thermal=False)
        assert res.converged, method
        np.testing.assert_allclose(res.sigma, sigma_ref, rtol=1e-7,
                                   atol=1e-7 * sigma_ref[0, 0], err_msg=method)
    assert abs(sigma_ref[0, 1] - sigma_ref[1, 0]) > 1e-6 * sigma_ref[0, 0]  # K broke symmetry


@pytest.mark.slow
def test_iterative_safeguard_damps_a_diverging_iteration(impurities, monkeypatch):
    """A circulation as strong as the scattering makes the plain iteration (ω = 1) diverge
    (the Jacobi matrix of ``L + K`` has eigenvalues beyond the unit circle); the safeguard
    halves ω until the residual falls and converges to the direct solution."""
    monkeypatch.setattr(FieldTerms, "lorentz", lambda self, eq: circulation(impurities, 1.0))
    exact = impurities.solve("direct", thermal=False).sigma
    res = impurities.solve("iterative", rtol=1e-8, maxiter=600, thermal=False)
    assert res.converged and res.info["relaxation"] < 1.0
    np.testing.assert_allclose(res.sigma, exact, rtol=1e-6, atol=1e-6 * exact[0, 0])


def test_iterative_safeguard_reports_non_convergence(impurities):
    """Two iterations cannot reach 1e-14: the result says so instead of pretending."""
    res = impurities.solve("iterative", rtol=1e-14, maxiter=2, thermal=False)
    assert not res.converged and res.iterations == 2 and res.residual > 1e-14


def test_thermal_states_participation_ratio():
    """Equal weights on M states: N_eff = M; one dominant state: N_eff → 1."""
    assert thermal_states(np.ones(17)) == pytest.approx(17)
    assert thermal_states(np.array([1.0, 1e-9, 1e-9])) == pytest.approx(1.0, rel=1e-8)
    assert thermal_states(np.zeros(3)) == 0.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(T=0.0), "T must be finite and > 0"),
    (dict(T=-0.1), "T must be finite and > 0"),
    (dict(T=float("nan")), "T must be finite and > 0"),
    (dict(mu=50.0), "no state lies in the energy window"),
    (dict(mesh=(6, 6)), "does not resolve the thermal layer"),
    (dict(scattering=[]), "at least one scattering model"),
])
def test_bad_input(kwargs, match):
    args = dict(mesh=(24, 24), mu=MU, T=T, berry=False,
                scattering=[bp.scattering.ConstantRelaxationTime(tau=1.0)])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        bp.transport.LinearBTE(dirac(), **args)


def test_bad_solver_arguments(constant_tau):
    with pytest.raises(ValueError, match="unknown BTE method"):
        constant_tau.solve("magic")
    with pytest.raises(ValueError, match="rtol"):
        constant_tau.solve("krylov", rtol=0.0)
    with pytest.raises(ValueError, match="maxiter"):
        constant_tau.solve("iterative", maxiter=0)


def test_dataset_metadata(constant_tau):
    """Every variable and coordinate has units and long_name; solver statistics in attrs."""
    res = constant_tau.solve("krylov")
    ds = res.dataset
    for name, var in {**ds.data_vars, **ds.coords}.items():
        assert var.attrs.get("units") and var.attrs.get("long_name"), name
    assert ds.attrs["method"] == "krylov" and ds.attrs["converged"] == 1
    assert ds.attrs["residual"] == res.residual and ds.attrs["iterations"] == res.iterations
    np.testing.assert_array_equal(ds["sigma"].values, res.sigma)
    np.testing.assert_allclose(ds["resistivity"].values @ res.sigma, np.eye(2), atol=1e-12)
    assert ds.sizes["state"] == len(constant_tau.states)
    # carrier density of the conduction band, ∫ ν f dε with ν = ε/(2π): k_F²/(4π) plus the
    # Sommerfeld term (π²T²/6) ν'(μ) (the next is O(T⁴)); the disk of radius k_F = √3 on
    # the 48×48 mesh, its edge smoothed over T/v_F = 0.06 ≈ Δk/2: 1e-3 allowed
    n_ref = 3 / (4 * math.pi) + math.pi ** 2 * T ** 2 / 6 / (2 * math.pi)
    assert float(ds["electron_density"]) == pytest.approx(n_ref, rel=1e-3)
    assert float(ds["hole_density"]) < 1e-8


def test_window_widened_by_acoustic_phonons_without_cutoff():
    """Acoustic phonons without a Debye cutoff reach ``ω = c_s |k - k'|``: the bound is not
    known before the states exist, so the window μ ± n_kT T is built, the phonon energy
    ``c_s × span`` is read on its states (the span bounded by the diagonal of the bounding
    box of the ring ``k_lo < |k| < k_hi``, ``ε(k_hi) = μ + n_kT T``: between ``2√2 k_lo``
    and ``2√2 k_hi``), and the window is widened by it (exactly: it is the same number).
    With a Debye cutoff the bound ``c_s q_D`` is known at once."""
    cs, n_kt, temperature = 0.05, 6.0, 0.05
    ph = bp.scattering.AcousticPhonons(sound_velocity=cs, coupling=1.0)
    bte = bp.transport.LinearBTE(dirac(), mesh=(40, 40), mu=MU, T=temperature, berry=False,
                                 scattering=[ph], n_kT=n_kt)
    narrow = bp.kspace.KStates.build(
        dirac(), (40, 40), bp.kspace.EnergyWindow.around(MU, temperature, n_kT=n_kt))
    span = np.linalg.norm(narrow.k.max(axis=0) - narrow.k.min(axis=0))
    k_lo, k_hi = (math.sqrt((MU + sign * n_kt * temperature) ** 2 - 1) for sign in (-1, 1))
    assert 2 * math.sqrt(2) * k_lo < span <= 2 * math.sqrt(2) * k_hi
    assert bte.phonon_energy == pytest.approx(cs * span, rel=1e-12)
    assert bte.window.upper == pytest.approx(MU + n_kt * temperature + cs * span, rel=1e-12)
    assert bte.window.lower == pytest.approx(MU - n_kt * temperature - cs * span, rel=1e-12)
    assert bte.states.energy.max() > MU + n_kt * temperature + 0.5 * cs * span
    assert len(bte.states) > len(narrow)

    debye = bp.scattering.AcousticPhonons(sound_velocity=cs, coupling=1.0, debye_wavevector=0.5)
    cut = bp.transport.LinearBTE(dirac(), mesh=(40, 40), mu=MU, T=temperature, berry=False,
                                 scattering=[debye], n_kT=n_kt)
    assert cut.phonon_energy == pytest.approx(cs * 0.5, rel=1e-12)
    assert cut.window.upper == pytest.approx(MU + n_kt * temperature + cs * 0.5, rel=1e-12)
    elastic = bp.transport.LinearBTE(dirac(), mesh=(40, 40), mu=MU, T=temperature,
                                     berry=False, n_kT=n_kt,
                                     scattering=[bp.scattering.ConstantRelaxationTime(tau=1.0)])
    assert elastic.phonon_energy == 0.0 and len(elastic.states) == len(narrow)


def test_operator_storage_and_threads_passed_through(impurities):
    """``dtype`` and ``workers`` reach the collision operator; float32 storage rounds each
    flux by ≤ 2⁻²⁴ = 6e-8 relative (the out-fluxes are summed from the rounded values, so
    the operator stays exactly conserving) and σ, a smooth average of them, moves by less
    than 1e-6 relative (2.5e-10 observed)."""
    imp = bp.scattering.Impurities(density=1.0, potential="zero-range", strength=0.3)
    single = bp.transport.LinearBTE(dirac(), mesh=(40, 40), mu=MU, T=0.1, berry=False,
                                    scattering=[imp], n_kT=12.0, dtype=np.float32, workers=1)
    assert single.operator.dtype == np.float32 and single.operator.workers == 1
    ref = impurities.solve("krylov", rtol=1e-10, thermal=False).sigma
    np.testing.assert_allclose(single.solve("krylov", rtol=1e-10, thermal=False).sigma, ref,
                               rtol=1e-6, atol=1e-6 * ref[0, 0])
