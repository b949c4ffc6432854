"""The matrix BTE of Trukhan and Protik ("Interband and kinetic corrections to the electronic
Boltzmann transport equation") for static impurities: the diagonal limit (their App. K) is
``LinearBTE``, a single band is the standard BTE, δh is Hermitian, σ is gauge invariant, the
matrix-free solver equals a dense term-by-term reference, and the clean limit of the
coherences is the intrinsic (Berry-curvature) conductivity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import dawsn, expit

import boltzphlow as bp
from boltzphlow.kinetics.matrix_bte import solver
from boltzphlow.kspace.states import band_chunks

DIRAC = dict(v=1.0, delta=1.0, k_max=2.5)


def _imp(density: float = 0.5, potential: str = "zero-range", **kw: float):
    return bp.scattering.Impurities(density=density, strength=1.0, potential=potential, **kw)


# --------------------------------------------------------------------------- dense reference
def _gauss(x: np.ndarray, s: float, n_sigma: float = 4.0) -> np.ndarray:
    u = x / s
    out = np.exp(-0.5 * u * u) / (math.sqrt(2 * math.pi) * s)
    out[np.abs(u) > n_sigma] = 0.0
    return out


def dense_reference(h, mesh, mu, T, imp, *, kinetic=True, offdiag_se=True,
                    linewidth_only=False, coherence=True, pop_window=20.0):
    """Dense, term-by-term matrix BTE (TP Eqs. 44, 45, 48, 50, 52 in δf = -δh/2, every k-point
    of the mesh, Kn = K N² complex unknowns, least squares with Σ w Tr δf = 0): σ (e²/h) and
    its coherence part.  Continuum models only (q = k' - k unfolded)."""
    parts = list(band_chunks(h, mesh, eigenvectors=True, velocity_matrices=True))
    kv = np.concatenate([p.k for p in parts])
    w = np.concatenate([p.weight for p in parts])
    e = np.concatenate([p.energy for p in parts])
    u = np.concatenate([p.eigenvectors for p in parts])
    v = np.concatenate([p.velocity_matrices for p in parts])
    K, N = e.shape
    d = kv.shape[1]
    sig = T
    f0 = expit(-(e - mu) / T)
    pw = f0 * (1 - f0)
    O = np.einsum("pan,qai->pqni", np.conj(u), u)
    q = kv[None, :, :] - kv[:, None, :]
    Tbase = np.einsum("pqni,pqmj->pqnijm", O, np.conj(O))
    if not offdiag_se:
        Tbase = Tbase * np.eye(N)[None, None, :, None, None, :]
    ea, eb = e[:, None, :, None], e[None, :, None, :]
    x = ea - eb
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    occ = expit(-(lo - mu) / T) * expit((hi - mu) / T)
    y = (hi - lo) / T
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        F = occ * np.where(y > 1e-8, -np.expm1(-y) / np.where(y > 1e-8, y, 1), 1 - 0.5 * y)
        Ab = occ * np.where(y > 1e-8, y / np.expm1(np.minimum(y, 700)), 1 - 0.5 * y)
    eye, one = np.eye(N), np.ones(N)
    Kn = K * N * N
    Cin = np.zeros((Kn, Kn), complex)
    Cout = np.zeros((K, N, N, K, N, N), complex)
    K1 = np.zeros((K, N, N, K, N, N), complex)
    K2 = np.zeros((Kn, Kn), complex)
    gamma = np.zeros((K, N))
    models = imp if isinstance(imp, (list, tuple)) else [imp]
    for model in models:
        # shells (λ ω, flux F δ, Ψ at p, Φ at p') of derivation.md Eq. (K)
        if isinstance(model, bp.scattering.Impurities):
            v2 = model.density * model.potential_sq(q.reshape(-1, d)).reshape(K, K)
            shells = [(0.0, F * _gauss(x, sig), np.ones((K, N)), np.ones((K, N)))]
        else:  # optical phonons (constant or Froehlich coupling)
            w0 = model.energy
            v2 = model.coupling_sq(q.reshape(-1, d)).reshape(K, K)
            nq = 1.0 / math.expm1(w0 / T)
            shells = [(lam * w0, (T / w0) * Ab * _gauss(x - lam * w0, sig), ps, ph)
                      for lam, ps, ph in ((1, nq + f0, nq + 1 - f0), (-1, nq + 1 - f0, nq + f0))]
        meas = (v2 * w[None, :] / (2 * math.pi) ** d)[:, :, None, None, None, None]
        T6 = Tbase * meas
        G2 = np.einsum("pqnjjm->pqnjm", T6)
        for lw, flux, psi, phi in shells:
            with np.errstate(invalid="ignore", divide="ignore"):
                Dq = np.where(pw[None, :, None, :] > 0, flux / pw[None, :, None, :], 0.0)
                Dp = np.where(pw[:, None, :, None] > 0, flux / pw[:, None, :, None], 0.0)
            P = math.sqrt(2.0) * dawsn((x - lw) / (math.sqrt(2.0) * sig)) / sig
            Pin = psi[:, None, :, None] * P      # Ψ of the state at p
            Pout = phi[None, :, None, :] * P     # Φ of the state at p'
            S = 0.5 * math.pi * (np.einsum("pqni,j,m->pqnijm", Dq, one, one)
                                 + np.einsum("pqnj,i,m->pqnijm", Dq, one, one)
                                 + np.einsum("pqmi,n,j->pqnijm", Dq, one, one)
                                 + np.einsum("pqmj,n,i->pqnijm", Dq, one, one))
            Cin += (T6 * S).transpose(0, 2, 5, 1, 3, 4).reshape(Kn, Kn)
            A1 = -0.5 * math.pi * (np.einsum("pqnji,pqij->pni", G2, Dp)[..., None]
                                   + np.einsum("pqnji,pqmj->pnim", G2, Dp))
            A2 = -0.5 * math.pi * (np.einsum("pqijm,pqnj->pnim", G2, Dp)
                                   + np.einsum("pqijm,pqij->pim", G2, Dp)[:, None])
            K1a = -0.5j * (np.einsum("pqijm,pqnj->pnim", G2, Pout)
                           + np.einsum("pqijm,pqij->pim", G2, Pout)[:, None])
            K1b = 0.5j * (np.einsum("pqnji,pqij->pni", G2, Pout)[..., None]
                          + np.einsum("pqnji,pqmj->pnim", G2, Pout))
            Kin = 0.5j * T6 * (np.einsum("pqni,j,m->pqnijm", Pin, one, one)
                               + np.einsum("pqnj,i,m->pqnijm", Pin, one, one)
                               - np.einsum("pqmi,n,j->pqnijm", Pin, one, one)
                               - np.einsum("pqmj,n,i->pqnijm", Pin, one, one))
            K2 += Kin.transpose(0, 2, 5, 1, 3, 4).reshape(Kn, Kn)
            for p in range(K):  # local blocks (a dense reference: the loop is fine)
                Cout[p, :, :, p] += np.einsum("nim,mM->nmiM", A1[p], eye)
                Cout[p, :, :, p] += np.einsum("nim,nN->nmNi", A2[p], eye)
                K1[p, :, :, p] += np.einsum("nim,nN->nmNi", K1a[p], eye)
                K1[p, :, :, p] += np.einsum("nim,mM->nmiM", K1b[p], eye)
            gamma += 2 * math.pi * np.einsum("pqnj,pqnj->pn",
                                             np.einsum("pqnjn->pqnj", G2), Dp).real
    Cout, K1 = Cout.reshape(Kn, Kn), K1.reshape(Kn, Kn)
    free = np.diag((1j * (e[:, :, None] - e[:, None, :])).reshape(Kn))
    op = free - Cin - Cout
    if kinetic:
        op = op + K1 + K2
    if linewidth_only:
        dg = np.kron(np.eye(K), np.diag(np.eye(N).reshape(-1)))
        lw = 0.5 * (gamma[:, :, None] + gamma[:, None, :]) * (1 - np.eye(N))[None]
        op = free - dg @ (Cin + Cout) @ dg + np.diag(lw.reshape(Kn).astype(complex))
    mask = np.ones((K, N, N), bool)
    if not (coherence or linewidth_only):
        mask &= np.eye(N, dtype=bool)[None]
    iso = (gamma <= 1e-10 * gamma.max()) | (np.abs(e - mu) > pop_window * T)
    for n in range(N):
        mask[iso[:, n], n, n] = False
    m = mask.reshape(Kn)
    de = e[:, :, None] - e[:, None, :]
    dfe = f0[:, :, None] - f0[:, None, :]
    fp = -pw / T
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.abs(de) > 1e-12, dfe / np.where(np.abs(de) > 1e-12, de, 1),
                         0.5 * (fp[:, :, None] + fp[:, None, :]))
    b = -(ratio[:, None] * v).transpose(0, 2, 3, 1).reshape(-1, d)[m]
    A = op[np.ix_(m, m)]
    tr = (np.repeat(w, N * N) * np.tile(np.eye(N).reshape(-1), K))[m]
    A = np.vstack([A, tr[None] * np.abs(A).max() / tr.max()])
    x = np.linalg.lstsq(A, np.vstack([b, np.zeros((1, d))]), rcond=1e-13)[0]
    df = np.zeros((Kn, d), complex)
    df[m] = x
    df = df.reshape(K, N, N, d)
    j = np.einsum("p,pimn,pnmj->ij", w, v, df).real / (2 * math.pi) ** d * 2 * math.pi
    jc = np.einsum("p,pimn,pnmj,mn->ij", w, v, df, 1 - eye).real / (2 * math.pi) ** d
    return j, 2 * math.pi * jc


# --------------------------------------------------------------------------- checks
def _assert_phase_invariant(mb, res, rng):
    """Random phases on every eigenvector (``u → u e^{iθ}``, velocity matrices alike), the
    tables rebuilt: σ and σ_coherence unchanged to the GMRES tolerance (1e-8 of σ)."""
    s = res.sigma
    ph = np.exp(1j * rng.uniform(0, 2 * np.pi, mb.energy.shape))
    mb.u = mb.u * ph[:, None, :]
    mb.v = mb.v * np.conj(ph)[:, None, :, None] * ph[:, None, None, :]
    mb._precompute()
    again = mb.solve()
    assert np.abs(again.sigma - s).max() <= 1e-8 * np.abs(s).max()
    assert np.abs(again.sigma_coherence - res.sigma_coherence).max() <= 1e-8 * np.abs(s).max()


@pytest.mark.parametrize("model, mu, imp", [
    pytest.param("dirac", 2.0, _imp(), id="dirac-zero-range"),
    pytest.param("dirac", 2.0, _imp(potential="gaussian", range=0.7), id="dirac-gaussian",
                 marks=pytest.mark.slow),
    pytest.param("qwz", 1.2, _imp(potential="gaussian", range=0.8), id="qwz-gaussian",
                 marks=pytest.mark.slow),
    pytest.param("dirac", 2.0, bp.scattering.OpticalPhonons(energy=0.4, coupling=1.0),
                 id="dirac-optical"),
    pytest.param("dirac", 2.0, bp.scattering.OpticalPhonons(energy=0.4, coupling=1.0,
                                                            form="froehlich", screening=0.5),
                 id="dirac-froehlich", marks=pytest.mark.slow),
    pytest.param("dirac", 2.0, bp.scattering.AcousticPhonons(sound_velocity=0.3, coupling=1.0),
                 id="dirac-acoustic"),
    pytest.param("dirac", 2.0, bp.scattering.AcousticPhonons(sound_velocity=0.3, coupling=1.0,
                                                             elastic=True),
                 id="dirac-acoustic-elastic", marks=pytest.mark.slow),
    pytest.param("qwz", 1.2, bp.scattering.OpticalPhonons(energy=0.4, coupling=1.0),
                 id="qwz-optical", marks=pytest.mark.slow),
])
def test_diagonal_limit_is_linear_bte(model, mu, imp):
    """Coherences, kinetic corrections and off-diagonal self-energies off: σ = LinearBTE on the
    same states, δ and impurities (TP App. K) to 1e-8 relative (a lattice model: q folded to
    the nearest image)."""
    h = (bp.bands.massive_dirac(**DIRAC) if model == "dirac"
         else bp.bands.qi_wu_zhang(m=1.0, t=1.0))
    mesh, T = (14, 14), 0.25
    ref = bp.transport.LinearBTE(h, mesh=mesh, mu=mu, T=T, scattering=[imp], berry=False,
                                 dtype=np.float64).solve(method="direct", thermal=False).sigma
    res = bp.transport.MatrixBTE(h, mesh, mu, T, [imp], coherence=False,
                                 kinetic_corrections=False,
                                 offdiagonal_self_energy=False).solve()
    assert res.converged
    assert np.abs(res.sigma - ref).max() <= 1e-8 * np.abs(ref).max()
    assert np.all(res.sigma_coherence == 0)


def test_single_band_is_standard_bte():
    """One band, everything on: there is nothing to be coherent with — LinearBTE."""
    h = bp.bands.parabolic_band(mass=1.0)
    mesh, mu, T = (20, 20), 1.0, 0.1
    imp = _imp(potential="gaussian", range=0.5)
    ref = bp.transport.LinearBTE(h, mesh=mesh, mu=mu, T=T, scattering=[imp], berry=False,
                                 dtype=np.float64).solve(method="direct", thermal=False).sigma
    res = bp.transport.MatrixBTE(h, mesh, mu, T, [imp]).solve()
    assert res.converged
    assert np.abs(res.sigma - ref).max() <= 1e-8 * np.abs(ref).max()


@pytest.mark.parametrize("switches", [
    {}, {"kinetic_corrections": False}, {"offdiagonal_self_energy": False},
    {"linewidth_only": True}])
def test_equals_dense_reference(switches):
    """The matrix-free solver = the dense term-by-term reference (zero-range impurities)."""
    h = bp.bands.massive_dirac(**DIRAC)
    mesh, mu, T = (12, 12), 2.0, 0.3
    imp = _imp()
    names = {"kinetic_corrections": "kinetic", "offdiagonal_self_energy": "offdiag_se",
             "linewidth_only": "linewidth_only"}
    sig, coh = dense_reference(h, mesh, mu, T, imp,
                               **{names[k]: v for k, v in switches.items()})
    res = bp.transport.MatrixBTE(h, mesh, mu, T, [imp], **switches).solve()
    assert res.converged
    scale = np.abs(sig).max()
    assert np.abs(res.sigma - sig).max() <= 1e-8 * scale
    assert np.abs(res.sigma_coherence - coh).max() <= 1e-8 * scale
    assert abs(res.sigma[1, 0]) > 0.05  # a Hall response to compare


def test_gaussian_potential_equals_dense_reference():
    """q-dependent V(q) (Gaussian well): pairwise kernel = dense reference."""
    h = bp.bands.massive_dirac(**DIRAC)
    mesh, mu, T = (12, 12), 2.0, 0.3
    imp = _imp(potential="gaussian", range=0.6)
    sig, coh = dense_reference(h, mesh, mu, T, imp)
    res = bp.transport.MatrixBTE(h, mesh, mu, T, [imp]).solve()
    scale = np.abs(sig).max()
    assert np.abs(res.sigma - sig).max() <= 1e-8 * scale
    assert np.abs(res.sigma_coherence - coh).max() <= 1e-8 * scale


_OPT = dict(energy=0.4, coupling=1.0)


@pytest.mark.parametrize("models, switches", [
    pytest.param("optical", {}, id="optical"),
    pytest.param("optical", {"kinetic_corrections": False}, id="optical-no-kinetic",
                 marks=pytest.mark.slow),
    pytest.param("optical+imp", {}, id="optical+impurities", marks=pytest.mark.slow),
    pytest.param("froehlich", {}, id="froehlich", marks=pytest.mark.slow),
])
def test_phonons_equal_dense_reference(models, switches):
    """Optical phonons (λ = ±, thermal factors Ψ, Φ of Eq. K, shifted δ and Dawson principal
    value, symmetric pair factor), everything on: the pairwise solver and, for a constant
    coupling, the energy path (far principal value on a grid of step σ/1024: O(h²) ~ 1e-11)
    = the dense reference to 1e-8; with impurities the two kernels add (Matthiessen at the
    level of the operator)."""
    h = bp.bands.massive_dirac(**DIRAC)
    mesh, mu, T = (10, 10), 2.0, 0.3
    ph = {"optical": [bp.scattering.OpticalPhonons(**_OPT)],
          "optical+imp": [bp.scattering.OpticalPhonons(**_OPT),
                          _imp(potential="gaussian", range=0.6)],
          "froehlich": [bp.scattering.OpticalPhonons(**_OPT, form="froehlich",
                                                     screening=0.5)]}[models]
    names = {"kinetic_corrections": "kinetic"}
    sig, coh = dense_reference(h, mesh, mu, T, ph, **{names[k]: v for k, v in switches.items()})
    # constant coupling alone: also the energy path (two shells ε - ε' = ±ω)
    methods = ("energy", "pairwise") if models == "optical" else ("pairwise",)
    assert bp.transport.MatrixBTE(h, mesh, mu, T, ph, **switches).method == methods[0]
    for method in methods:
        res = bp.transport.MatrixBTE(h, mesh, mu, T, ph, method=method, **switches).solve()
        assert res.converged
        scale = np.abs(sig).max()
        assert np.abs(res.sigma - sig).max() <= 1e-8 * scale
        assert np.abs(res.sigma_coherence - coh).max() <= 1e-8 * scale
        assert abs(res.sigma_coherence[1, 0]) > 0.05


@pytest.mark.parametrize("model", [
    bp.scattering.OpticalPhonons(**_OPT),
    bp.scattering.AcousticPhonons(sound_velocity=0.3, coupling=1.0),
], ids=["optical", "acoustic"])
def test_phonon_operator_properties(model):
    """Phonons with impurities: the δ part annihilates the μ shift ∂f⁰/∂μ (detailed balance
    with the symmetric pair factor), conserves Σ w Tr δf, maps Hermitian to Hermitian; δh is
    Hermitian and σ does not depend on the eigenvector phases."""
    h = bp.bands.massive_dirac(**DIRAC)
    mesh, mu, T = (10, 10), 2.0, 0.3
    models = [model, _imp(density=0.2)]
    mb = bp.transport.MatrixBTE(h, mesh, mu, T, models, method="pairwise",
                                kinetic_corrections=False)
    n = mb.n_bands
    shift = np.zeros((mb.n_k, n, n), complex)
    shift[:, range(n), range(n)] = mb.pw / T
    c = mb._collisions(shift)
    assert np.abs(c).max() <= 1e-13 * np.abs(mb.gamma * mb.pw / T).max()
    mb = bp.transport.MatrixBTE(h, mesh, mu, T, models, method="pairwise")
    rng = np.random.default_rng(5)
    y = rng.normal(size=shift.shape) + 1j * rng.normal(size=shift.shape)
    y = y + np.conj(np.swapaxes(y, 1, 2))
    r = mb._collisions(y)
    assert np.abs(r - np.conj(np.swapaxes(r, 1, 2))).max() <= 1e-13 * np.abs(r).max()
    total = np.einsum("p,pnn->", mb.weight, r)
    assert abs(total) <= 1e-13 * np.einsum("p,pnm->", mb.weight, np.abs(r))
    res = mb.solve()
    assert res.converged
    dh = res.delta_h
    assert np.abs(dh - np.conj(np.swapaxes(dh, 1, 2))).max() <= 1e-12 * np.abs(dh).max()
    _assert_phase_invariant(mb, res, rng)


def test_hermitian_gauge_invariant_onsager():
    """δh Hermitian; σ unchanged by random eigenvector phases and by relabelling the bands;
    σ_xy = -σ_yx (isotropic model)."""
    h = bp.bands.massive_dirac(**DIRAC)
    mesh, mu, T = (12, 12), 2.0, 0.3
    mb = bp.transport.MatrixBTE(h, mesh, mu, T, [_imp()])
    res = mb.solve()
    dh = res.delta_h
    assert np.abs(dh - np.conj(np.swapaxes(dh, 1, 2))).max() <= 1e-14 * np.abs(dh).max()
    assert np.allclose(res.delta_f, -0.5 * dh)
    s = res.sigma
    assert abs(s[0, 1] + s[1, 0]) <= 1e-8 * abs(s[0, 0])
    assert abs(s[0, 0] - s[1, 1]) <= 1e-8 * abs(s[0, 0])
    _assert_phase_invariant(mb, res, np.random.default_rng(3))
    perm = np.arange(mb.n_bands)[::-1]  # band relabelling
    mb.energy, mb.f0, mb.h0 = mb.energy[:, perm], mb.f0[:, perm], mb.h0[:, perm]
    mb.pw = mb.pw[:, perm]
    mb.u, mb.v = mb.u[:, :, perm], mb.v[:, :, perm][:, :, :, perm]
    mb._precompute()
    again = mb.solve()
    assert np.abs(again.sigma - s).max() <= 1e-8 * np.abs(s).max()
    assert np.abs(again.sigma_coherence - res.sigma_coherence).max() <= 1e-8 * np.abs(s).max()


@pytest.mark.slow
def test_clean_limit_coherence_is_intrinsic():
    """Coherences damped by linewidths only, weak disorder: σ_yx^coh → the intrinsic
    Berry-curvature conductivity of the Fermi sea (LinearBTE's, same mesh)."""
    h = bp.bands.massive_dirac(**DIRAC)
    mesh, mu, T = (20, 20), 2.0, 0.15
    imp = _imp(density=0.01)
    lb = bp.transport.LinearBTE(h, mesh=mesh, mu=mu, T=T, scattering=[imp])
    intrinsic = lb.solve(thermal=False).sigma_intrinsic
    res = bp.transport.MatrixBTE(h, mesh, mu, T, [imp], linewidth_only=True).solve()
    assert res.converged
    assert abs(res.sigma_coherence[1, 0] - intrinsic) <= 2e-3 * abs(intrinsic)


def test_dataset_units():
    h = bp.bands.massive_dirac(**DIRAC)
    res = bp.transport.MatrixBTE(h, (10, 10), 2.0, 0.3, [_imp()]).solve()
    ds = res.dataset
    for name in ds.data_vars:
        assert ds[name].attrs["units"]
    assert ds["sigma"].attrs["units"] == "e^2/h"


@pytest.mark.parametrize("kwargs, match", [
    ({"T": 0.0}, "T must be"),
    ({"scattering": []}, "at least one"),
    ({"scattering": [bp.scattering.ConstantRelaxationTime(tau=1.0)]}, "phonons only"),
    ({"mu": 50.0}, "no state"),
    ({"delta": bp.scattering.AdaptiveGaussian()}, "Gaussian delta"),
])
def test_bad_input(kwargs, match):
    h = bp.bands.massive_dirac(**DIRAC)
    args = dict(mesh=(8, 8), mu=2.0, T=0.3, scattering=[_imp()]) | kwargs
    with pytest.raises(ValueError, match=match):
        bp.transport.MatrixBTE(h, **args)


@pytest.mark.parametrize("mesh, T", [((12, 12), 0.3), ((16, 16), 0.2), ((20, 20), 0.15)])
def test_energy_path_equals_pairwise(mesh, T):
    """Zero-range impurities, everything on: the energy path (δ and near principal value
    pairwise over energy-sorted states, the far principal value on an energy grid of step
    σ/1024) = the all-pairs path.  The grid's linear deposit/interpolation error is O(h²): σ
    moves by 4e-11 relative (measured, 20², T = 0.15; σ/32: 4e-8); tolerance 1e-9."""
    h = bp.bands.massive_dirac(**DIRAC)
    imp = _imp()
    ref = bp.transport.MatrixBTE(h, mesh, 2.0, T, [imp], method="pairwise")
    new = bp.transport.MatrixBTE(h, mesh, 2.0, T, [imp])
    assert new.method == "energy" and ref.method == "pairwise"
    assert new._near_pairs < 0.5 * (new.n_k * new.n_bands) ** 2  # the grid does work
    rng = np.random.default_rng(5)
    x = rng.normal(size=(ref.n_k, 2, 2)) + 1j * rng.normal(size=(ref.n_k, 2, 2))
    x = x + np.conj(np.swapaxes(x, 1, 2))
    a, b = ref.apply(x), new.apply(x)
    assert np.abs(a - b).max() <= 1e-9 * np.abs(a).max()
    assert np.abs(new.gamma - ref.gamma).max() <= 1e-12 * ref.gamma.max()  # δ part: exact
    r0, r1 = ref.solve(), new.solve()
    assert r1.converged
    scale = np.abs(r0.sigma).max()
    assert np.abs(r1.sigma - r0.sigma).max() <= 1e-9 * scale
    assert np.abs(r1.sigma_coherence - r0.sigma_coherence).max() <= 1e-9 * scale


def test_energy_path_needs_zero_range():
    h = bp.bands.massive_dirac(**DIRAC)
    gauss = _imp(potential="gaussian", range=0.6)
    assert bp.transport.MatrixBTE(h, (8, 8), 2.0, 0.3, [gauss]).method == "pairwise"
    with pytest.raises(ValueError, match="zero-range"):
        bp.transport.MatrixBTE(h, (8, 8), 2.0, 0.3, [gauss], method="energy")
    with pytest.raises(ValueError, match="method must be"):
        bp.transport.MatrixBTE(h, (8, 8), 2.0, 0.3, [_imp()], method="fft")


def test_band_diagonal_preconditioner(monkeypatch):
    """The band-diagonal BTE as the preconditioner of the populations (pairwise path): the same
    solution (both solved to rtol 1e-10: σ agrees to ~1e-10 of its scale; tolerance 1e-8) in
    fewer GMRES iterations where the scattering is forward-peaked (Gaussian V(q) of range 2 at
    k_F ≈ 1.7: in- and out-scattering nearly cancel, τ_tr/τ ≈ 270; measured at 14²: 30 → 8
    iterations; asserted: at most half)."""
    h = bp.bands.massive_dirac(**DIRAC)
    imp = _imp(potential="gaussian", range=2.0)
    runs = {pre: bp.transport.MatrixBTE(h, (14, 14), 2.0, 0.15, [imp], preconditioner=pre)
            for pre in ("local", "band-diagonal")}
    assert runs["local"].preconditioner == "local"
    # "auto": local with a dense kernel (a product is one GEMV, cheaper than the inner CG),
    # band-diagonal with tiles
    auto = bp.transport.MatrixBTE(h, (8, 8), 2.0, 0.3, [imp])
    assert auto.preconditioner == "local" and auto._kernel is not None
    monkeypatch.setattr(solver, "CACHE_BYTES", 48 * 64 ** 2 * 4)
    auto = bp.transport.MatrixBTE(h, (8, 8), 2.0, 0.3, [imp])
    assert auto.preconditioner == "band-diagonal" and auto._kernel is None
    res = {pre: mb.solve() for pre, mb in runs.items()}
    assert all(r.converged for r in res.values())
    a, b = res["local"], res["band-diagonal"]
    assert np.abs(a.sigma - b.sigma).max() <= 1e-8 * np.abs(a.sigma).max()
    assert b.iterations <= a.iterations // 2
    assert b.info["inner_iterations"] > 0 and a.info["inner_iterations"] == 0
    with pytest.raises(ValueError, match="pairwise"):
        bp.transport.MatrixBTE(h, (8, 8), 2.0, 0.3, [_imp()], preconditioner="band-diagonal")
    with pytest.raises(ValueError, match="preconditioner must be"):
        bp.transport.MatrixBTE(h, (8, 8), 2.0, 0.3, [imp], preconditioner="ilu")


@pytest.mark.parametrize("cache", ["dense", "tiles", "none"])
def test_in_scattering_storage(monkeypatch, cache):
    """The three ways of keeping the pairwise in-scattering (a dense kernel, cached tiles,
    recomputed tiles) apply the same operator to round-off (the same sums, in another order;
    1e-12 of the scale)."""
    h = bp.bands.massive_dirac(**DIRAC)
    imp = _imp(potential="gaussian", range=0.6)
    ref = bp.transport.MatrixBTE(h, (10, 10), 2.0, 0.3, [imp])
    assert ref._kernel is not None
    k, n = ref.n_k, ref.n_bands
    budget = {"dense": 16.0 * (k * n * n) ** 2, "tiles": 48.0 * k * k * n * n, "none": 0}
    monkeypatch.setattr(solver, "CACHE_BYTES", budget[cache])
    new = bp.transport.MatrixBTE(h, (10, 10), 2.0, 0.3, [imp], preconditioner="local")
    assert (new._kernel is not None) == (cache == "dense")
    assert (new._tiles is not None) == (cache == "tiles")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(k, n, n)) + 1j * rng.normal(size=(k, n, n))
    x = x + np.conj(np.swapaxes(x, 1, 2))
    a, b = ref.apply(x), new.apply(x)
    assert np.abs(a - b).max() <= 1e-12 * np.abs(a).max()


@pytest.mark.parametrize("T", [0.3, 0.15])
def test_energy_path_phonon_shells(T):
    """Zero-range impurities with a constant-coupling optical mode (ω_0 = 0.4): the energy path
    (one elastic shell, two phonon shells ε - ε' = ±ω_0 with their thermal weights N + f^0 or
    N + 1 - f^0 on the source or the target) applies the all-pairs operator to 1e-9 (the far
    principal value on the grid: O(h²), measured ≤ 1e-10) and its δ part (Γ) exactly."""
    h = bp.bands.massive_dirac(**DIRAC)
    models = [_imp(), bp.scattering.OpticalPhonons(energy=0.4, coupling=0.7)]
    ref = bp.transport.MatrixBTE(h, (14, 14), 2.0, T, models, method="pairwise")
    new = bp.transport.MatrixBTE(h, (14, 14), 2.0, T, models)
    assert new.method == "energy" and len(new._shells) == 3
    rng = np.random.default_rng(9)
    x = rng.normal(size=(ref.n_k, 2, 2)) + 1j * rng.normal(size=(ref.n_k, 2, 2))
    x = x + np.conj(np.swapaxes(x, 1, 2))
    a, b = ref.apply(x), new.apply(x)
    assert np.abs(a - b).max() <= 1e-9 * np.abs(a).max()
    assert np.abs(new.gamma - ref.gamma).max() <= 1e-12 * ref.gamma.max()


def test_second_kinetic_correction_has_no_population_rows():
    """TP Eq. 48 (the principal-value partner of the in-scattering) in a population row n = n':
    ``ζ_ni + ζ*_ni = 2π δ(ε_n - ε'_i)``, so its principal value cancels identically, while in
    a coherence row (n ≠ n') ``-i(P_ni - P_n'i)`` does not: the term carries populations into
    coherences and nothing back.  An operator with a (coherence, population) block and no
    (population, coherence) partner is not self-adjoint in the Kubo–Mori inner product that
    Onsager reciprocity rests on — the origin of the τ⁰ Onsager defect of the Hall part with
    kinetic corrections on (docs/matrix_bte.md).  Asserted: population rows zero to round-off
    (1e-13 of the out-scattering Γ|x|), coherence rows at least 0.5 % of it (measured 2.1 %
    from populations, 5.0 % from coherences)."""
    h = bp.bands.massive_dirac(**DIRAC)
    mb = bp.transport.MatrixBTE(h, (12, 12), 2.0, 0.25, [_imp()])
    assert mb.method == "energy"
    rng = np.random.default_rng(1)
    k = mb.n_k
    pop = np.zeros((k, 2, 2), complex)
    pop[:, [0, 1], [0, 1]] = rng.normal(size=(k, 2))
    coh = np.zeros((k, 2, 2), complex)
    coh[:, 0, 1] = rng.normal(size=k) + 1j * rng.normal(size=k)
    coh[:, 1, 0] = np.conj(coh[:, 0, 1])

    def second_correction(x):   # the in-scattering's principal value alone (K1 sits in Q)
        full = mb.apply(x)
        mb.kinetic = False
        try:
            return mb.apply(x) - full
        finally:
            mb.kinetic = True

    for x in (pop, coh):
        y = second_correction(x)
        scale = mb.gamma.max() * np.abs(x).max()   # the out-scattering on x
        assert np.abs(y[:, [0, 1], [0, 1]]).max() <= 1e-13 * scale
        assert np.abs(y[:, 0, 1]).max() >= 0.005 * scale


def test_clean_coherences_outside_the_window():
    """QWZ (m = 4, 16²) with μ ± 12T dropping the deep Fermi sea: the k-points with no band in
    the window keep their clean coherences ``i D/(ε_n - ε_n')``, so the clean current of the
    kept k-points plus :attr:`sigma_outside_window` is the whole mesh's intrinsic σ
    (`LinearBTE`'s Berry-curvature sum) to round-off (1e-12 of it), and σ_coherence holds it."""
    h = bp.bands.qi_wu_zhang(m=4.0, t=1.0)
    imp = _imp()
    mb = bp.transport.MatrixBTE(h, (16, 16), 2.5, 0.25, [imp], n_kT=12)
    assert 0 < mb.n_k < 256
    whole = bp.transport.LinearBTE(h, mesh=(16, 16), mu=2.5, T=0.25, scattering=[imp],
                                   dtype=np.float64).solve(thermal=False).sigma_intrinsic
    kept = mb.clean_coherence_current(mb.weight, mb.energy, mb.v)
    res = mb.solve()
    outside = res.sigma_outside_window
    assert abs(outside[1, 0]) > 0.1 * abs(whole)
    assert abs(kept[1, 0] + outside[1, 0] - whole) <= 1e-12 * abs(whole)
    full = bp.transport.MatrixBTE(h, (16, 16), 2.5, 0.25, [imp], n_kT=60)
    assert full.n_k == 256 and np.all(full.sigma_outside == 0)
    mixed = mb.conductivity(np.zeros((mb.n_k, 2, 2, 2), complex))
    np.testing.assert_array_equal(mixed[0], outside)
    np.testing.assert_array_equal(mixed[2], outside)
