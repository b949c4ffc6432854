r"""Physics of the matrix BTE of E. Trukhan and N. H. Protik, "Interband and kinetic corrections
to the electronic Boltzmann transport equation" (TP; Eqs. 44–58): the limits and symmetries the
issue asks for beyond the operator checks of ``test_matrix_bte.py``.

* one band, everything on, is the standard BTE (zero-range impurities on the energy path,
  phonons, an anisotropic lattice band);
* Onsager reciprocity ``σ_ij(H) = σ_ji(H^T)`` (``H^T(k) = H(-k)^*``, the time-reversed
  Hamiltonian) on an anisotropic massive Dirac model, where ``σ_xy + σ_yx ≠ 0``: what holds
  exactly, and the defect that the missing anomalous-distribution half of the side jump
  leaves;
* the gap law of the coherence part (the side-jump velocity term of Xiao et al. and of
  Sinitsyn et al. for the massive Dirac model, ``∝ ε_F/Δ``);
* the linewidth-only (Wigner-code) model is an RTA recomputed here from scratch, and the full
  model with interband self-energies and kinetic corrections off differs from it only by the
  assumptions (ii) and (iv) of the derivation;
* the weak-disorder limit: ``σ_yx^coh → σ_int + σ^sj(1)`` and ``σ_yx`` of order τ⁰.

Units ħ = e = k_B = 1, carrier charge +1, σ in e²/h (= 2π e²/ħ), ``δf = -δh/2``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit

import boltzphlow as bp
from boltzphlow.bands.hamiltonian import ContinuumModel, TightBinding
from boltzphlow.bands.models import PAULI

DIRAC = dict(v=1.0, delta=1.0, k_max=2.5)
EPS = np.finfo(float).eps


def _imp(density: float = 0.5, **kw: float) -> bp.scattering.Impurities:
    return bp.scattering.Impurities(density=density, strength=1.0, **kw)


def _clean_coherence_sigma(mb: bp.transport.MatrixBTE) -> np.ndarray:
    """σ (e²/h) of the clean coherences ``δf_nm = iD_nm/(ε_n - ε_m)`` (TP Eq. 44 with no
    collision term) on the solver's own k-points: the intrinsic (Berry-curvature) σ of the
    Fermi sea of those k-points."""
    d = mb.drive()
    de = mb.energy[:, :, None] - mb.energy[:, None, :]
    off = ~np.eye(mb.n_bands, dtype=bool)
    clean = np.where(off[None, :, :, None], -d / (1j * np.where(off, de, 1.0))[..., None], 0.0)
    return mb.conductivity(clean)[2]


def _thermal_layer_rate(mb: bp.transport.MatrixBTE) -> float:
    """The out-scattering rate Γ averaged over the thermal layer (weight ``f^0(1 - f^0)``)."""
    layer = mb.pw > 1e-2 * mb.pw.max()
    return float(np.average(mb.gamma[layer], weights=mb.pw[layer]))


# --------------------------------------------------------------------------- 1. one band
def _cosine_band() -> TightBinding:
    """One tight-binding band on the square lattice with a diagonal hopping: anisotropic,
    ``σ_xx ≠ σ_yy`` and ``σ_xy = σ_yx ≠ 0``."""
    hop = {(1, 0): -0.5, (-1, 0): -0.5, (0, 1): -0.35, (0, -1): -0.35, (1, 1): 0.1,
           (-1, -1): 0.1}
    return TightBinding(np.eye(2), {r: np.array([[t]]) for r, t in hop.items()},
                        name="anisotropic cosine band")


@pytest.mark.parametrize("band, mesh, mu, T, scattering", [
    pytest.param("parabolic", (20, 20), 1.0, 0.1, [_imp()], id="parabolic-zero-range"),
    pytest.param("parabolic", (16, 16), 1.0, 0.15,
                 [bp.scattering.OpticalPhonons(energy=0.3, coupling=1.0), _imp(0.3)],
                 id="parabolic-optical+impurities"),
    pytest.param("cosine", (20, 20), -0.3, 0.15, [_imp(potential="gaussian", range=0.8)],
                 id="lattice-gaussian"),
    pytest.param("cosine", (16, 16), -0.3, 0.15,
                 [bp.scattering.AcousticPhonons(sound_velocity=0.3, coupling=1.0)],
                 id="lattice-acoustic"),
])
def test_single_band_everything_on_is_standard_bte(band, mesh, mu, T, scattering):
    """One band, coherences, kinetic corrections and interband self-energies all on: with one
    band there is no coherence, the kinetic corrections (TP Eqs. 45, 48) vanish on the diagonal
    for a diagonal δf (TP App. J.1) and the equation is TP Eq. 102 — ``LinearBTE`` on the same
    states, scattering and Gaussian δ of width T.  Covers the paths that
    ``test_matrix_bte.py`` (parabolic band, Gaussian impurities) does not: zero-range
    impurities (energy path: near zone and far principal-value grid), optical phonons with
    impurities (shells λ = ±), and a lattice band (q folded) with inelastic acoustic phonons.
    Both solves are converged to ~1e-10 (GMRES rtol, direct LU): tolerance 1e-8 relative."""
    h = bp.bands.parabolic_band(mass=1.0) if band == "parabolic" else _cosine_band()
    ref = bp.transport.LinearBTE(h, mesh=mesh, mu=mu, T=T, scattering=scattering, berry=False,
                                 dtype=np.float64).solve(method="direct", thermal=False).sigma
    res = bp.transport.MatrixBTE(h, mesh, mu, T, scattering).solve(rtol=1e-10)
    assert res.converged
    assert np.abs(res.sigma - ref).max() <= 1e-8 * np.abs(ref).max()
    assert np.all(res.sigma_coherence == 0)
    if band == "cosine":  # the test is not blind to the off-diagonal and anisotropic parts
        assert abs(ref[0, 1]) > 1e-2 * ref[0, 0] and abs(ref[0, 0] - ref[1, 1]) > 0.1 * ref[0, 0]


# --------------------------------------------------------------------------- 2. Onsager
VELOCITY = np.array([[1.0, 0.3], [0.2, 0.7]])  # H = Σ_ij k_i VELOCITY_ij σ_j + Δ σ_z


def _anisotropic_dirac(time_reversed: bool = False, delta: float = 1.0,
                       k_max: float = 2.5) -> ContinuumModel:
    """Massive Dirac model with a general velocity tensor, ``H = Σ_ij k_i V_ij σ_j + Δσ_z``:
    no rotation symmetry, so ``σ_xy + σ_yx ≠ 0`` and ``σ_xx ≠ σ_yy``.  ``time_reversed``: its
    time-reversed partner ``H^T(k) = H(-k)^*`` (velocity ``-∂H(-k)^*``) on the same box."""
    def h(k: np.ndarray) -> np.ndarray:
        out = delta * PAULI[3] + np.zeros(k.shape[:-1] + (2, 2))
        for j in range(2):
            out = out + (k @ VELOCITY[:, j])[..., None, None] * PAULI[j + 1]
        return out

    def dh(k: np.ndarray) -> np.ndarray:
        out = np.zeros(k.shape[:-1] + (2, 2, 2), complex)
        for i in range(2):
            out[..., i, :, :] = VELOCITY[i, 0] * PAULI[1] + VELOCITY[i, 1] * PAULI[2]
        return out

    if time_reversed:
        return ContinuumModel(lambda k: np.conj(h(-k)), 2, 2, k_max,
                              velocity=lambda k: -np.conj(dh(-k)), name="anisotropic Dirac^T")
    return ContinuumModel(h, 2, 2, k_max, velocity=dh, name="anisotropic Dirac")


def _onsager_defect(switches: dict, density: float) -> tuple[dict, bp.transport.MatrixBTE]:
    """``σ(H) - σ(H^T)^T`` for the total, population and coherence parts."""
    mesh, mu, T = (16, 16), 2.0, 0.2
    out, mbs = {}, []
    for reverse in (False, True):
        mb = bp.transport.MatrixBTE(_anisotropic_dirac(reverse), mesh, mu, T, [_imp(density)],
                                    **switches)
        mbs.append((mb, mb.solve(rtol=1e-10)))
    (mb, a), (_, b) = mbs
    assert a.converged and b.converged
    for name in ("sigma", "sigma_population", "sigma_coherence"):
        out[name] = getattr(a, name) - getattr(b, name).T
    out["defect"] = out.pop("sigma")
    out["sigma"], out["scale"] = a.sigma, np.abs(a.sigma).max()
    return out, mb


@pytest.mark.parametrize("switches", [
    pytest.param({"coherence": False, "kinetic_corrections": False,
                  "offdiagonal_self_energy": False}, id="populations-only"),
    pytest.param({"linewidth_only": True}, id="linewidth-only"),
    pytest.param({"kinetic_corrections": False, "offdiagonal_self_energy": False},
                 id="diagonal-self-energy"),
])
def test_onsager_without_interband_self_energies(switches):
    """Onsager ``σ_ij(H) = σ_ji(H^T)`` at B = 0 (``H^T(k) = H(-k)^*``) on a mesh symmetric
    under k → -k, for the models whose coherence and population equations are each
    time-reversal symmetric:

    * populations only (TP App. K: ``LinearBTE``) and the linewidth-only model (populations of
      the diagonal BTE, coherences ``-D_nm/(i(ε_n - ε_m) + (Γ_n + Γ_m)/2)``): total,
      population and coherence parts each, to GMRES round-off (1e-8 relative; measured 1e-11);
    * diagonal self-energies, no kinetic corrections: the coherences decouple (the four-rate
      linewidth of ``test_diagonal_self_energy_differs_by_assumptions_ii_iv``) and satisfy it
      to round-off, but the populations do not: the in-scattering of coherences into
      populations (assumption (ii)) gives them a τ⁰ part that is not time-reversal even
      (measured ≈ 0.013 e²/h here, at every density).

    The model is not trivial: ``σ_xy + σ_yx`` is 2.5 e²/h (isotropic models only test
    ``σ_xy = -σ_yx``)."""
    out, _ = _onsager_defect(switches, 0.5)
    tol = 1e-8 * out["scale"]
    assert abs(out["sigma"][0, 1] + out["sigma"][1, 0]) > 0.5 * out["sigma"][0, 0]
    assert np.abs(out["sigma_coherence"]).max() <= tol
    if "coherence" in switches or "linewidth_only" in switches:  # each part separately
        assert np.abs(out["sigma_population"]).max() <= tol
        assert np.abs(out["defect"]).max() <= tol
    else:
        assert np.abs(out["sigma_population"]).max() > 1e-3


def test_onsager_defect_is_twice_the_symmetric_sidejump_velocity_term():
    """With interband self-energies and without kinetic corrections, the coherence part is
    ``σ_int + σ^sj(1) + O(Γ/Δε)`` (derivation §5.1), where ``σ^sj(1)`` (Xiao et al. Eq. 8,
    first term) is the normal distribution carried by the side-jump velocity.  Of the two
    side-jump terms only their sum is time-reversal symmetric (``σ^sj(2) = -σ^sj(1)ᵀ``);
    ``σ^sj(1)`` alone has a symmetric part ``S`` that is odd under time reversal.  TP's
    weak-field theory keeps ``σ^sj(1)`` but not ``σ^sj(2)``, so its coherence part breaks
    Onsager by exactly ``σ^coh(H) - σ^coh(H^T)ᵀ = 2S`` (``LinearBTE``, same mesh and δ),
    and its Hall (antisymmetric) part still satisfies it.  Corrections are first order in
    ``Γ/Δε`` (Γ the out-scattering rate of the thermal layer, Δε = 2μ the interband energy
    there); the symmetric part of a response needs no even power (measured: the deviation
    halves with the density, 1.7e-4 at n = 0.5).  Tolerance ``(Γ/Δε)|2S|``, and the deviation
    must fall by 2 ± 0.5 when n is halved (first order)."""
    h = _anisotropic_dirac()
    lb = bp.transport.LinearBTE(h, mesh=(16, 16), mu=2.0, T=0.2, scattering=[_imp(0.25)],
                                dtype=np.float64).solve(method="direct", thermal=False)
    first = lb.anomalous_hall.side_jump_terms[0]
    two_s = first + first.T
    assert np.abs(two_s).max() > 0.05  # a symmetric side-jump part to see
    devs = []
    for density in (0.5, 0.25):
        out, mb = _onsager_defect({"kinetic_corrections": False}, density)
        ratio = _thermal_layer_rate(mb) / (2 * 2.0)
        dev = np.abs(out["sigma_coherence"] - two_s).max()
        assert dev <= ratio * np.abs(two_s).max()
        devs.append(dev)
    assert 1.5 <= devs[0] / devs[1] <= 2.5


# --------------------------------------------------------------------------- 3. gap law
def _sidejump_velocity_term_dirac(delta: float, mu: float, T: float) -> float:
    r"""``σ_yx^sj(1)`` (e²/h) of the massive Dirac model with white-noise Born disorder:
    half the side jump of N. A. Sinitsyn, A. H. MacDonald, T. Jungwirth, V. K. Dugaev and J.
    Sinova, "Anomalous Hall effect in a two-dimensional Dirac band" (their σ^sj = 2 ×
    this; the two terms of Xiao et al. Eq. 8 are equal for this model):
    ``g(ε) = (Δ/ε)(ε² - Δ²)/(ε² + 3Δ²)`` for ``ε > Δ``, averaged over ``-∂f^0/∂ε`` (elastic
    scattering: each energy shell transports independently)."""
    e = np.linspace(mu - 40 * T, mu + 40 * T, 40001)
    g = np.where(e > delta, (delta / e) * (e * e - delta * delta) / (e * e + 3 * delta * delta),
                 0.0)
    w = expit((e - mu) / T) * expit(-(e - mu) / T) / T
    return float(np.sum(w * g) * (e[1] - e[0]))


@pytest.mark.slow
def test_gap_law_of_the_coherence_part():
    r"""Massive Dirac at fixed Fermi energy ε_F = μ - Δ = 1 above the band edge and fixed Born
    rate (n = 1/(Δ + 1): Γ = 2πnν ∝ nμ), Δ = 1, 2, 4, 8, T = 0.15.

    Law (derivation §5.2): coherences are O(source/Δε).  Their Hall part is the intrinsic
    Fermi-sea sum plus the side-jump velocity term, both τ⁰; for this model
    ``σ^sj(1) = (Δ/μ)(μ² - Δ²)/(μ² + 3Δ²) → ε_F/(2Δ)`` (Sinitsyn et al.): local exponents
    d ln σ^sj(1)/d ln Δ = -0.42, -0.67, -0.82 → -1.  The longitudinal coherence part is τ⁰
    against the τ¹ populations: ``σ_xx^coh/σ_xx = O(Γ/Δε)`` → 0.

    Checks and their tolerances:

    * ``σ^sj(1)`` of ``LinearBTE`` = the thermally averaged law to 1 %: the box is cut at
      ``μ + 12T`` so that the δ shells of the thermal layer are complete (a box cut at
      ``μ + 4T`` loses 1 % at Δ = 8); the mesh (spacing ≈ 0.5) accounts for ≤ 0.6 % (Δ = 1,
      2: -0.33 %, 0.50 % → 0.28 %, 0.22 % on meshes twice as fine) and the Gaussian δ of
      width T for ≤ 0.3 % (width T → T/4 at Δ = 1: 0.26 %); measured -0.33 %, 0.50 %,
      0.06 %, 0.06 %.  Local exponents: within 2 × 1 %/ln 2;
    * kinetic corrections off: ``σ_yx^coh - σ_int = σ^sj(1)`` (σ_int the clean coherence
      response on the same k-points) up to ``(Γ/Δε)²`` relative: the Hall part of
      ``1/(iΔε + Γ)`` is even in Γ (measured 2.6e-3 at Δ = 1, 1.8e-4 at Δ = 2, ≤ 4e-6
      beyond, against (Γ/Δε)² = 2.7e-2 … 2.5e-3);
    * everything on: the kinetic corrections (principal values, TP Eqs. 45, 48) add a τ⁰
      Hall part of first order: within ``(Γ/Δε)`` relative (measured 0.6–1.7 %);
    * ``σ_xx^coh/σ_xx ≤ Γ/Δε`` (measured ≤ 0.03 Γ/Δε; it is mesh-sensitive — principal
      values — and not monotone on these meshes), and smaller at Δ = 8 than at Δ = 1.
    """
    T = 0.15
    rows = []
    for delta in (1.0, 2.0, 4.0, 8.0):
        mu = delta + 1.0
        k_max = math.sqrt((mu + 12 * T) ** 2 - delta ** 2)
        n = int(2 * math.ceil(1.9 * k_max))
        h = bp.bands.massive_dirac(v=1.0, delta=delta, k_max=k_max)
        imp = _imp(1.0 / (delta + 1.0))
        lb = bp.transport.LinearBTE(h, mesh=(n, n), mu=mu, T=T, scattering=[imp],
                                    dtype=np.float64).solve(method="direct", thermal=False)
        sj1 = lb.anomalous_hall.side_jump_terms[0][1, 0]
        law = _sidejump_velocity_term_dirac(delta, mu, T)
        assert abs(sj1 / law - 1) <= 1e-2
        mb = bp.transport.MatrixBTE(h, (n, n), mu, T, [imp])
        full = mb.solve(rtol=1e-10)
        bare = bp.transport.MatrixBTE(h, (n, n), mu, T, [imp],
                                      kinetic_corrections=False).solve(rtol=1e-10)
        assert full.converged and bare.converged
        intrinsic = _clean_coherence_sigma(mb)[1, 0]
        ratio = _thermal_layer_rate(mb) / (2 * mu)
        assert abs((bare.sigma_coherence[1, 0] - intrinsic) / sj1 - 1) <= ratio ** 2
        assert abs((full.sigma_coherence[1, 0] - intrinsic) / sj1 - 1) <= ratio
        share = full.sigma_coherence[0, 0] / full.sigma[0, 0]
        assert 0 < share <= ratio
        rows.append((delta, sj1, law, bare.sigma_coherence[1, 0] - intrinsic, share, ratio))
    rows = np.array(rows)
    log_gap = np.diff(np.log(rows[:, 0]))
    exponent = {c: np.diff(np.log(rows[:, c])) / log_gap for c in (1, 2, 3)}
    assert np.abs(exponent[1] - exponent[2]).max() <= 2 * 1e-2 / math.log(2)
    assert np.abs(exponent[3] - exponent[1]).max() <= 2 * rows[0, 5] ** 2 / math.log(2)
    assert exponent[2][-1] < -0.8  # approaching ε_F/(2Δ)
    assert rows[-1, 4] < rows[0, 4]


# --------------------------------------------------------------------------- 4. linewidth only
def _independent_pieces(h, res, mu: float, T: float, density: float, n_sigma: float = 4.0):
    """From the Hamiltonian and the result's k-points and eigenvectors, independently of the
    solver: velocity matrices ``v^c_nm = ⟨u_n|∂_c H|u_m⟩``, the interband drive
    ``D_nm = (f^0_n - f^0_m) v_nm/(ε_n - ε_m)`` (TP Eq. 44, Daleckii–Krein) and the Born
    out-scattering rates at the shell of band a, ``Γ_n(ε_a)`` ``(K, N, N)``:

        Γ_n(ε_a) = 2π Σ_{p'j} n s² w'/(2π)² |⟨u_np|u_jp'⟩|² δ_σ(ε_a - ε'_j) F(ε_a, ε'_j)/p_a,

    δ_σ the Gaussian of width T cut at 4σ, F the divided difference of f^0 (detailed balance
    with a broadened δ; ``F/p_a → 1`` on shell) and ``p_a = f^0(1 - f^0)`` — the rate the
    package's diagonal BTE uses (its out-flux over the Pauli factor), here with ``1 - f^0``
    computed without cancellation."""
    e, u, w = res.energy, res.eigenvectors, res.weight
    v = np.einsum("pan,pcab,pbm->pcnm", np.conj(u), h.velocity(res.k), u)
    f = expit(-(e - mu) / T)
    de = e[:, :, None] - e[:, None, :]
    off = ~np.eye(e.shape[1], dtype=bool)
    ratio = np.where(off, (f[:, :, None] - f[:, None, :]) / np.where(off, de, 1.0), 0.0)
    drive = ratio[:, None] * v
    overlap2 = np.abs(np.einsum("pan,qai->pnqi", np.conj(u), u)) ** 2
    ea, eb = e[:, :, None, None], e[None, None, :, :]
    x = ea - eb
    g = np.exp(-0.5 * (x / T) ** 2) / (math.sqrt(2 * math.pi) * T)
    g[np.abs(x) > n_sigma * T] = 0.0
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    y = (hi - lo) / T
    small = y < 1e-8
    flux = expit(-(lo - mu) / T) * expit((hi - mu) / T) * np.where(
        small, 1.0 - 0.5 * y, -np.expm1(-y) / np.where(small, 1.0, y))
    pauli = expit(-(e - mu) / T) * expit((e - mu) / T)
    meas = density * w / (2 * math.pi) ** 2
    rate = 2 * math.pi * np.einsum("pnqj,paqj,q->pna", overlap2,
                                   g * flux / pauli[:, :, None, None], meas)
    return v, drive, rate


def _coherence_sigma(weight, v, df):
    """σ (e²/h) of the coherences ``df`` ``(K, d, N, N)``: ``2π Σ_p w/(2π)² Tr(v^i δf^c)``."""
    return 2 * math.pi * np.einsum("p,pimn,pcnm->ic", weight, v, df).real / (2 * math.pi) ** 2


def _cancellation_tolerance(e, mu: float, T: float, df: np.ndarray) -> np.ndarray:
    """Per-element tolerance for ``δf_nm`` against the package: it forms ``1 - f^0`` by
    subtraction, a relative error ``ε_mach e^{(μ - ε)/T}`` of the rates of states deep in the
    Fermi sea (1e-5 at 27 T), which moves a coherence by that times ``Γ/|Δε| ≤ 1``; plus GMRES
    round-off ``1e-9 max|δf|``."""
    deep = np.exp(np.clip((mu - np.minimum(e[:, :, None], e[:, None, :])) / T, 0, 700))
    return 4 * EPS * deep[:, None] * np.abs(df) + 1e-9 * np.abs(df).max()


def test_linewidth_only_is_an_independent_rta():
    """``linewidth_only=True`` is the Wigner-transport RTA (derivation §5.3, assumptions
    (i)–(iv)), rebuilt here from its definition: populations of the band-diagonal BTE
    (``LinearBTE``, same states, δ and impurities) and coherences
    ``δf_nm = -D_nm/(i(ε_n - ε_m) + (Γ_n + Γ_m)/2)`` with ``Γ_n = Γ_n(ε_n)`` the on-shell Born
    out-scattering rate, computed from the Hamiltonian by :func:`_independent_pieces` (not
    from the solver: it is the diagonal of ``LinearBTE``'s operator over the Pauli factor).
    σ_population, σ_coherence to 1e-8 relative (GMRES rtol 1e-10, LU); δf element by element
    to :func:`_cancellation_tolerance`."""
    h = bp.bands.massive_dirac(**DIRAC)
    mesh, mu, T, density = (16, 16), 2.0, 0.2, 0.5
    imp = _imp(density)
    res = bp.transport.MatrixBTE(h, mesh, mu, T, [imp], linewidth_only=True).solve(rtol=1e-10)
    assert res.converged
    pop = bp.transport.LinearBTE(h, mesh=mesh, mu=mu, T=T, scattering=[imp], berry=False,
                                 dtype=np.float64).solve(method="direct", thermal=False).sigma
    v, drive, rate = _independent_pieces(h, res, mu, T, density)
    gamma = np.einsum("pnn->pn", rate)
    de = res.energy[:, :, None] - res.energy[:, None, :]
    off = ~np.eye(2, dtype=bool)
    df = -drive / (1j * de + 0.5 * (gamma[:, :, None] + gamma[:, None, :]))[:, None] * off
    coh = _coherence_sigma(res.weight, v, df)
    scale = np.abs(res.sigma).max()
    assert np.abs(res.sigma_population - pop).max() <= 1e-8 * scale
    assert np.abs(res.sigma_coherence - coh).max() <= 1e-8 * scale
    got = np.moveaxis(res.delta_f, -1, 1) * off
    assert np.all(np.abs(got - df) <= _cancellation_tolerance(res.energy, mu, T, df))
    assert abs(coh[1, 0]) > 0.05  # the intrinsic Hall part is there


def test_diagonal_self_energy_differs_by_assumptions_ii_iv():
    r"""The full model with interband self-energies and kinetic corrections off (assumptions
    (i), (iii) imposed) against the linewidth-only model (derivation §5.3).

    * Its coherence equations decouple: ``δf_nm = -D_nm/(i(ε_n - ε_m) + γ_nm)`` with the
      Ansatz's four-rate linewidth ``γ_nm = ¼[Γ_n(ε_n) + Γ_n(ε_m) + Γ_m(ε_m) + Γ_m(ε_n)]``
      (each coherence lies half on each shell, TP Eq. 25, and each Γ_n is evaluated at both):
      exactly (iv) relaxed, element by element (:func:`_cancellation_tolerance`).  With
      ``Γ_n(ω)`` flat over the gap it is the linewidth-only ``(Γ_n + Γ_m)/2``.
    * Hence the coherence conductivities differ by
      ``Σ v D [1/(iΔε + γ) - 1/(iΔε + γ^lw)]``: first order in ``Γ/Δε`` for σ_xx and second
      order for the Hall part (even in Γ) — halving n must divide the xx difference by
      2(1 ± 2Γ/Δε) and the yx difference by 4(1 ± 2Γ/Δε).
    * (ii), the in-scattering of coherences into populations, gives the populations a Hall
      part of order τ⁰, which the linewidth-only model (populations of ``LinearBTE``: no
      Hall part) lacks at any disorder: the same within ``Γ/Δε`` at both densities
      (measured 0.0257, 0.0260 e²/h)."""
    h = bp.bands.massive_dirac(**DIRAC)
    mesh, mu, T = (16, 16), 2.0, 0.2
    diffs, hall_pop, ratios = [], [], []
    for density in (0.5, 0.25):
        imp = _imp(density)
        lw = bp.transport.MatrixBTE(h, mesh, mu, T, [imp], linewidth_only=True).solve()
        mb = bp.transport.MatrixBTE(h, mesh, mu, T, [imp], kinetic_corrections=False,
                                    offdiagonal_self_energy=False)
        res = mb.solve(rtol=1e-10)
        assert res.converged and lw.converged
        v, drive, rate = _independent_pieces(h, res, mu, T, density)
        gd = np.einsum("pnn->pn", rate)
        four = 0.25 * (gd[:, :, None] + gd[:, None, :] + rate + np.swapaxes(rate, 1, 2))
        de = res.energy[:, :, None] - res.energy[:, None, :]
        off = ~np.eye(2, dtype=bool)
        df = -drive / (1j * de + four)[:, None] * off
        got = np.moveaxis(res.delta_f, -1, 1) * off
        assert np.all(np.abs(got - df) <= _cancellation_tolerance(res.energy, mu, T, df))
        assert np.abs(res.sigma_coherence - _coherence_sigma(res.weight, v, df)).max() <= (
            1e-8 * np.abs(res.sigma).max())
        diffs.append(res.sigma_coherence - lw.sigma_coherence)
        hall_pop.append(res.sigma_population[1, 0])
        ratios.append(_thermal_layer_rate(mb) / (2 * mu))
        assert np.abs(lw.sigma_population[1, 0]) <= 1e-8 * np.abs(lw.sigma).max()
    (a, b), ratio = diffs, ratios[0]
    assert abs(a[0, 0] / b[0, 0] / 2 - 1) <= 2 * 2 * ratio
    assert abs(a[1, 0] / b[1, 0] / 4 - 1) <= 2 * 2 * ratio
    assert abs(hall_pop[0] / hall_pop[1] - 1) <= 2 * 2 * ratio
    assert abs(hall_pop[1]) > 0.01


# --------------------------------------------------------------------------- 5. weak disorder
@pytest.mark.slow
def test_weak_disorder_limit_is_intrinsic_plus_sidejump_velocity_term():
    r"""Massive Dirac (v = Δ = 1, k_max = 2.5, μ = 2, T = 0.15, 20²), zero-range impurities
    n = 0.4, 0.2, 0.1 (Γ/Δε ≈ 0.08 at n = 0.4).

    * ``σ_yx`` is of order τ⁰: halving n changes it by a first-order amount only,
      ``|σ_yx(n) - σ_yx(n/2)| ≤ (Γ/Δε)|σ_yx|`` (measured 1.4e-3), while σ_xx ∝ 1/n (σ_xx n
      constant within Γ/Δε).
    * ``σ_yx^coh → σ_int + σ^sj(1)`` (derivation §5.1, ``LinearBTE``'s velocity term, same
      mesh and δ: an identity on the mesh, not a continuum limit).  Everything on, the
      approach is first order (kinetic corrections): successive differences halve
      (ratio 2 ± 4Γ/Δε); the linear Richardson limit ``2σ(n/2) - σ(n)`` of the two weakest
      meets the identity within the size of the second-order term it neglects,
      ``|d₁ - 2d₂|`` (measured 9e-7 against 5e-6).  Kinetic corrections off, the approach
      is second order (ratio 4 ± 8Γ/Δε) and ``σ(n/2) - d₂/3`` meets it within ``|d₁ - 4d₂|``
      (measured 1e-7 against 1.3e-6).
    * The anomalous-distribution half ``σ^sj(2)`` is absent: the total Hall conductivity stays
      below ``σ_int + σ^sj(1) + σ^sj(2)`` by more than half of ``σ^sj(2)`` (measured
      0.348 against 0.502)."""
    h = bp.bands.massive_dirac(**DIRAC)
    mesh, mu, T = (20, 20), 2.0, 0.15
    densities = (0.4, 0.2, 0.1)
    lb = bp.transport.LinearBTE(h, mesh=mesh, mu=mu, T=T, scattering=[_imp(0.2)],
                                dtype=np.float64).solve(method="direct", thermal=False)
    first, second = (t[1, 0] for t in lb.anomalous_hall.side_jump_terms)
    target = lb.sigma_intrinsic + first
    for switches, order in (({}, 1), ({"kinetic_corrections": False}, 2)):
        runs = []
        for density in densities:
            mb = bp.transport.MatrixBTE(h, mesh, mu, T, [_imp(density)], **switches)
            res = mb.solve(rtol=1e-10)
            assert res.converged
            runs.append((res, _thermal_layer_rate(mb) / (2 * mu)))
        if not switches:
            assert abs(_clean_coherence_sigma(mb)[1, 0] - lb.sigma_intrinsic) <= 1e-10
        ratio = runs[0][1]
        coh = np.array([r.sigma_coherence[1, 0] for r, _ in runs])
        d1, d2 = coh[0] - coh[1], coh[1] - coh[2]
        factor = 2 ** order
        assert abs(d1 / d2 / factor - 1) <= 2 * order * ratio
        if order == 1:
            limit, remainder = coh[2] - d2, abs(d1 - 2 * d2)
        else:
            limit, remainder = coh[2] - d2 / 3, abs(d1 - 4 * d2)
        assert abs(limit - target) <= remainder
        if not switches:
            hall = np.array([r.sigma[1, 0] for r, _ in runs])
            xx = np.array([r.sigma[0, 0] * d for (r, _), d in zip(runs, densities, strict=True)])
            assert np.abs(np.diff(hall)).max() <= ratio * abs(hall[0])
            assert np.abs(np.diff(xx)).max() <= ratio * xx[0]
            assert hall[-1] < target + second - 0.5 * second
