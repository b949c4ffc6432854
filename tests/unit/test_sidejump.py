"""The coordinate shift of a scattering event (Eq. 3 of Xiao, Liu, Xie, Yang, Niu, "Theory of
phonon side jump contribution in anomalous Hall transport"), its gauge invariance, the
side-jump flux of the collision operator and the symmetries of σ_sj from ``LinearBTE``.
Physics against the closed forms of the massive Dirac model: the validation tests.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import boltzphlow as bp
from boltzphlow.kspace.states import EnergyWindow, KStates
from boltzphlow.scattering.base import CollisionOperator, Equilibrium, Gaussian
from boltzphlow.scattering.sidejump import coordinate_shift

V, DELTA, MU = 1.0, 1.0, 2.0


def dirac(delta: float = DELTA, k_max: float = 2.5):
    return bp.bands.massive_dirac(v=V, delta=delta, k_max=k_max)


def dirac_states(n: int, lower: float = 1.5, upper: float = 2.5, h=None) -> KStates:
    """Upper-band states of the massive Dirac model in ``[lower, upper]`` on an n² mesh."""
    return KStates.build(dirac() if h is None else h, (n, n), EnergyWindow(lower, upper),
                         eigenvectors=True, covariant_derivative=True)


def smooth_gauge(k: np.ndarray) -> np.ndarray:
    """The upper-band eigenvector ``(ε + Δ, v(k_x + i k_y))/(2ε(ε + Δ))^{1/2}`` ``(..., 2)``:
    smooth on the whole plane for Δ > 0 (no phase winding at k = 0)."""
    kx, ky = k[..., 0], k[..., 1]
    e = np.sqrt(DELTA ** 2 + V ** 2 * (kx * kx + ky * ky))
    return np.stack([e + DELTA, V * (kx + 1j * ky)], axis=-1) / np.sqrt(2 * e * (e + DELTA))[
        ..., None]


def random_pairs(states: KStates, count: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(states), count)
    cols = rng.integers(0, len(states), count)
    keep = rows != cols
    return rows[keep], cols[keep]


def test_coordinate_shift_is_eq3_by_finite_differences():
    """δr_{c←r} = A_c − A_r − (∂_{k_r} + ∂_{k_c}) arg⟨u_c|u_r⟩ (Eq. 3) in the smooth gauge
    :func:`smooth_gauge`, every derivative by central differences of step h = 1e-5.

    Tolerance: the truncation error is ``h²/6`` times third derivatives of order 1 on
    ``k ≤ 2.3`` (the states vary on the scale ``Δ/v = 1``): ~2e-11; the round-off of a
    difference of unit-size phases over 2h is ``1e-16/1e-5`` = 1e-11.  ``|O|² ≥ Δ²/ε² ≥ 0.16``
    in the window, so δr stays O(1): 1e-8 bounds both with a wide margin and is far below the
    size of δr (~0.1–1) or of any gauge term left out (O(1))."""
    states = dirac_states(16)
    rows, cols = random_pairs(states, 300)
    h = 1e-5
    kr, kc = states.k[rows], states.k[cols]

    def connection(k):
        out = []
        for i in range(2):
            e = np.zeros(2)
            e[i] = h
            du = (smooth_gauge(k + e) - smooth_gauge(k - e)) / (2 * h)
            out.append(-np.imag(np.einsum("pa,pa->p", smooth_gauge(k).conj(), du)))
        return np.stack(out, axis=1)

    def overlap(k_c, k_r):  # ⟨u_c|u_r⟩
        return np.einsum("pa,pa->p", smooth_gauge(k_c).conj(), smooth_gauge(k_r))

    phase = []
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        phase.append(np.angle(overlap(kc + e, kr + e) * overlap(kc - e, kr - e).conj()) / (2 * h))
    expected = connection(kc) - connection(kr) - np.stack(phase, axis=1)
    shift = coordinate_shift(states, rows, cols)
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(shift, expected, rtol=0, atol=1e-8)


def test_coordinate_shift_on_the_fermi_circle_is_eq17():
    """Pairs at equal |k| (images under the mesh's rotations and mirrors):
    ``δr = Ω ẑ × (k' − k)/|⟨u'|u⟩|²`` with ``Ω = −Δv²/(2(Δ² + v²k²)^{3/2})`` (Eq. 17 for
    ``δr_y``; ``δr_x = −Ω (k'_y − k_y)/|O|²``), exact on the circle: equal to round-off
    (1e-12, the shift being O(1))."""
    states = dirac_states(20)
    k2 = np.round(np.einsum("si,si->s", states.k, states.k), 10)
    rows, cols = [], []
    for value in np.unique(k2):
        members = np.flatnonzero(k2 == value)
        r, c = np.meshgrid(members, members, indexing="ij")
        off = r != c
        rows.append(r[off])
        cols.append(c[off])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    assert len(rows) > 1000
    k, kp = states.k[rows], states.k[cols]
    e = np.sqrt(DELTA ** 2 + V ** 2 * np.einsum("pi,pi->p", k, k))
    omega = -DELTA * V ** 2 / (2 * e ** 3)
    o2 = np.abs(np.einsum("pa,pa->p", states.eigenvectors[cols].conj(),
                          states.eigenvectors[rows])) ** 2
    q = kp - k
    expected = np.stack([-omega * q[:, 1], omega * q[:, 0]], axis=1) / o2[:, None]
    np.testing.assert_allclose(coordinate_shift(states, rows, cols), expected, rtol=0,
                               atol=1e-12)


def _rephased(states: KStates, seed: int) -> KStates:
    theta = np.random.default_rng(seed).uniform(0, 2 * np.pi, len(states))
    phase = np.exp(1j * theta)
    return dataclasses.replace(states, eigenvectors=states.eigenvectors * phase[:, None],
                               covariant_derivative=states.covariant_derivative
                               * phase[:, None, None])


def test_coordinate_shift_and_side_jump_flux_are_gauge_invariant():
    """Random phases ``e^{iθ_s}`` on the eigenvectors and their covariant derivatives: δr and
    the operator's side-jump flux are unchanged to round-off (each enters only through closed
    loops ⟨u_r|u_c⟩⟨u_c|Du_r⟩: the phases cancel exactly; float64, 1e-13 of the size)."""
    states = dirac_states(16)
    other = _rephased(states, 7)
    rows, cols = random_pairs(states, 400)
    assert np.abs(states.eigenvectors - other.eigenvectors).max() > 0.5
    a, b = coordinate_shift(states, rows, cols), coordinate_shift(other, rows, cols)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13 * np.abs(a).max())
    eq = Equilibrium(MU, 0.1)
    imp = [bp.scattering.Impurities(density=1.0)]
    flux = [CollisionOperator(s, imp, eq, Gaussian(width=0.1), dtype=np.float64,
                              side_jump=True).side_jump_flux for s in (states, other)]
    assert np.abs(flux[0]).max() > 0
    np.testing.assert_allclose(flux[0], flux[1], rtol=0, atol=1e-13 * np.abs(flux[0]).max())


def _reference_flux(op: CollisionOperator) -> np.ndarray:
    """``J_s = Σ_{s'} Φ_{ss'} δr_{s'←s}`` from the stored flux matrix and the pair formula."""
    coo = op.flux.tocoo()
    shift = coordinate_shift(op.states, coo.row, coo.col)
    out = np.zeros((len(op.states), op.states.dim))
    np.add.at(out, coo.row, coo.data.astype(np.float64)[:, None] * shift)
    return out


def three_band_dirac():
    """The massive Dirac model with a decoupled flat band at −20 (3 bands: the N-band path of
    the tile's coordinate shift)."""
    two = dirac()

    def h(k):
        out = np.zeros(k.shape[:-1] + (3, 3), dtype=complex)
        out[..., :2, :2] = two.hamiltonian(k)
        out[..., 2, 2] = -20.0
        return out

    def dh(k):
        out = np.zeros(k.shape[:-1] + (2, 3, 3), dtype=complex)
        out[..., 0, :2, :2] = V * np.array([[0, 1], [1, 0]])
        out[..., 1, :2, :2] = V * np.array([[0, -1j], [1j, 0]])
        return out

    return bp.bands.ContinuumModel(h, 3, 2, 2.5, velocity=dh, name="Dirac + flat band")


@pytest.mark.parametrize("bands", [2, 3])
def test_tile_shift_equals_the_pair_reference(bands):
    """The operator's side-jump flux (tile path: Bloch-vector triple products for 2 bands,
    complex matrix products for 3) equals the pair formula summed over the stored flux
    matrix, float64 to 1e-12 of the largest flux (the sums reorder: round-off of ~10² terms
    of size ≤ max); float32 (Φ and δr rounded to 6e-8, the triple product losing a factor
    ``1/|O|² ≤ 6`` and a few cancellations, summed in float64) to 1e-6 (5e-8 observed).
    Σ_s J_s = 0: the shift is antisymmetric and Φ symmetric (to the float64 round-off of the
    sum)."""
    h = three_band_dirac() if bands == 3 else dirac()
    states = dirac_states(14, h=h)
    assert states.n_bands == bands
    eq = Equilibrium(MU, 0.1)
    models = [bp.scattering.Impurities(density=1.0),
              bp.scattering.AcousticPhonons(sound_velocity=0.05, coupling=1.0)]
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-6)):
        op = CollisionOperator(states, models, eq, Gaussian(width=0.1), dtype=dtype,
                               side_jump=True)
        flux = op.side_jump_flux
        scale = np.abs(flux).max()
        assert scale > 0
        np.testing.assert_allclose(flux, _reference_flux(op), rtol=0, atol=tol * scale)
        np.testing.assert_allclose(flux.sum(axis=0), 0.0, atol=1e-12 * scale * len(states))


@pytest.fixture(scope="module")
def solved():
    """σ of the massive Dirac model with zero-range impurities for Δ = ±1 (mesh 30², T = 0.1)."""
    imp = bp.scattering.Impurities(density=1.0, strength=0.5)
    out = {}
    for delta in (DELTA, -DELTA):
        out[delta] = bp.transport.LinearBTE(dirac(delta), (30, 30), mu=MU, T=0.1,
                                            scattering=[imp]).solve(method="direct",
                                                                    thermal=False)
    return out


def test_sidejump_is_odd_in_the_mass_and_antisymmetric(solved):
    """Δ → −Δ is time reversal of the model (up to a rotation): σ_sj flips sign, to round-off
    of the solve (the mesh is mirror symmetric: 1e-10 relative); σ_sj is antisymmetric and
    its two terms (Eq. 8) satisfy ``σ^{sj(2)} = −σ^{sj(1)ᵀ}`` (both are ``Σ J φ`` with the
    symmetric operator, ``L⁻¹`` symmetric: equal to the solver's tolerance, 1e-10 relative for
    the direct solve); the decomposition adds up to σ."""
    plus, minus = solved[DELTA], solved[-DELTA]
    value = plus.sigma_sidejump
    assert 0.3 < value < 0.5  # 3/7 at T → 0 (Eq. 18): the validation tests pin it down
    assert minus.sigma_sidejump == pytest.approx(-value, rel=1e-10)
    hall = plus.anomalous_hall
    first, second = hall.side_jump_terms
    np.testing.assert_allclose(second, -first.T, rtol=0, atol=1e-10 * abs(value))
    total = hall.side_jump_total
    np.testing.assert_allclose(total, -total.T, rtol=0, atol=1e-10 * abs(value))
    assert total[1, 0] == pytest.approx(value, rel=1e-14)
    (name,) = hall.side_jump  # one model: its share is the whole side jump
    np.testing.assert_array_equal(hall.side_jump_of(name), total)
    assert plus.sigma_intrinsic == pytest.approx(-minus.sigma_intrinsic, rel=1e-10)
    np.testing.assert_allclose(hall.total, hall.intrinsic + total, rtol=0, atol=1e-15)


def test_sidejump_off_and_one_band():
    """``side_jump=False`` and a one-band model: no decomposition, NaN σ_sj, and σ without it
    (the Hall part of σ is then only the intrinsic sum)."""
    imp = bp.scattering.Impurities(density=1.0, strength=0.5)
    off = bp.transport.LinearBTE(dirac(), (20, 20), mu=MU, T=0.1, scattering=[imp],
                                 side_jump=False)
    on = bp.transport.LinearBTE(dirac(), (20, 20), mu=MU, T=0.1, scattering=[imp])
    assert not off.side_jump and on.side_jump
    r_off, r_on = (b.solve(method="direct", thermal=False) for b in (off, on))
    assert r_off.anomalous_hall is None and r_off.phi_anomalous is None
    assert math.isnan(r_off.sigma_sidejump) and math.isnan(r_off.sigma_intrinsic)
    np.testing.assert_allclose(r_on.sigma - r_off.sigma,
                               r_on.anomalous_hall.side_jump_total, rtol=0, atol=1e-12)
    assert abs(r_on.sigma_sidejump) > 0.1
    band = bp.bands.parabolic_band(mass=1.0, k_max=3.0, dim=2)
    one = bp.transport.LinearBTE(band, (20, 20), mu=1.0, T=0.1, scattering=[imp])
    assert not one.side_jump
    result = one.solve(method="direct", thermal=False)
    assert result.anomalous_hall is None and math.isnan(result.sigma_sidejump)
    assert "sigma_sidejump" not in result.dataset


@pytest.mark.parametrize("model", [
    bp.scattering.Impurities(density=1.0, potential="gaussian", strength=1.0, range=0.5),
    bp.scattering.Impurities(density=1.0, potential="screened-coulomb", strength=0.3,
                             range=1.0),
    bp.scattering.AcousticPhonons(sound_velocity=0.05, coupling=1.0),
    bp.scattering.OpticalPhonons(energy=0.1, coupling=1.0),
], ids=["gaussian", "coulomb", "acoustic", "optical"])
def test_every_pair_model_has_a_side_jump(model):
    """Every scattering model with pair transitions gets its side jump from the same pass over
    the pairs: a nonzero σ^sj_yx of the sign of Δ (the shift points the same way for any
    scalar potential, Eq. 17), and the two terms of Eq. 8 related by σ^sj(2) = -σ^sj(1)ᵀ (L
    symmetric; to the solver tolerance, rtol 1e-10) — inelastic phonons included, whose Pauli
    factor sits in Φ."""
    h = bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=2.5)
    res = bp.transport.LinearBTE(h, (36, 36), mu=2.0, T=0.1, scattering=[model], n_kT=8,
                                 ).solve(thermal=False, rtol=1e-10)
    first, second = res.anomalous_hall.side_jump_terms
    assert res.sigma_sidejump > 0.05
    np.testing.assert_allclose(second, -first.T, rtol=0, atol=1e-8 * np.abs(first).max())
