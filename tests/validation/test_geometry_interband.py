"""Validation of the SU(N) geometry of Valet & Raimondi, "Semiclassical kinetic theory for systems
with non-trivial quantum geometry": Eq. 13 and its sum rules, Eq. 12, Eqs. 14-15."""

from __future__ import annotations

import numpy as np
import pytest

import boltzphlow.bands as bands
import boltzphlow.geometry as geo
from conftest import random_tight_binding

RNG = np.random.default_rng(2024)


def random_model(n_bands: int, dim: int, seed: int) -> bands.TightBinding:
    """Random nearest-neighbour tight-binding model (generic, no symmetry, no degeneracy)."""
    return random_tight_binding(n_bands, dim, seed)


@pytest.mark.parametrize("n_bands", [2, 3, 4, 5])
@pytest.mark.parametrize("dim", [2, 3])
def test_interband_sum_rules_to_round_off(n_bands, dim):
    """Σ_n Ω^n_m = 0 (i.e. Σ_{n≠m} Ω^n_m = -Ω^m_m) and Σ_n Ω^n_n = 0, on random models."""
    h = random_model(n_bands, dim, seed=10 * n_bands + dim)
    k = RNG.normal(size=(8, dim))
    om = geo.interband_berry_curvature(h, k)  # (M, n, m, i, j)
    scale = np.abs(om).max()
    eps = 1e-13 * scale
    diag = np.einsum("knnij->knij", om)
    np.testing.assert_allclose(om.sum(axis=1), 0.0, atol=eps)  # over the upper index
    np.testing.assert_allclose(diag.sum(axis=1), 0.0, atol=eps)
    off = om - np.einsum("knij,nm->knmij", diag, np.eye(n_bands))
    np.testing.assert_allclose(off, -np.swapaxes(off, 1, 2), atol=eps)  # antisymmetric n <-> m
    # consequently, summed over the lower index: + Ω^n_n (the seed's two-band Ω^σ_{-σ} = Ω^σ_σ)
    np.testing.assert_allclose(off.sum(axis=2), diag, atol=eps)
    # the diagonal is the Kubo Berry curvature
    kubo = geo.berry_curvature_tensor(h, k)
    np.testing.assert_allclose(diag, kubo, atol=eps)


@pytest.mark.parametrize("n_bands", [2, 3, 4])
def test_eq13_literal_bloch_vector_form_equals_kubo(n_bands):
    h = random_model(n_bands, 2, seed=n_bands)
    k = RNG.normal(size=(5, 2))
    kubo = geo.interband_berry_curvature(h, k, method="kubo")
    bloch = geo.interband_berry_curvature(h, k, method="bloch")
    np.testing.assert_allclose(bloch, kubo, atol=1e-12 * np.abs(kubo).max())


@pytest.mark.parametrize("n_bands", [2, 3])
def test_eq13_with_finite_difference_bloch_vectors(n_bands):
    """-½ b_n · (∂_x b_m × ∂_y b_m) with ∂b by central differences and the su(N) product."""
    h = random_model(n_bands, 2, seed=40 + n_bands)
    k = RNG.normal(size=(4, 2))
    step = 1e-4
    b = geo.bloch_vectors(h, k)
    db = []
    for i in range(2):
        dk = np.zeros(2)
        dk[i] = step
        db.append((geo.bloch_vectors(h, k + dk) - geo.bloch_vectors(h, k - dk)) / (2 * step))
    cross = geo.cross_su_n(db[0], db[1])  # (M, m, A)
    eq13 = -0.5 * np.einsum("kna,kma->knm", b, cross)
    kubo = geo.interband_berry_curvature(h, k)[..., 0, 1]
    # O(step^2) truncation of smooth functions plus round-off eps/step: << 1e-6
    np.testing.assert_allclose(eq13, kubo, atol=1e-6 * max(1.0, np.abs(kubo).max()))


def test_two_band_reduction():
    """b_σ = σ u, Ω^σ_σ = Ω^σ_{-σ} = σ Ω with Ω the upper-band (Eq. 38) curvature."""
    d = bands.massive_dirac(1.0, 0.3)
    k = RNG.normal(size=(6, 2))
    om = geo.interband_berry_curvature(d, k)[..., 0, 1]
    upper = geo.berry_curvature(d, k)[:, 1]
    np.testing.assert_allclose(om[:, 1, 1], upper, rtol=1e-12)
    np.testing.assert_allclose(om[:, 1, 0], upper, rtol=1e-12)
    np.testing.assert_allclose(om[:, 0, 0], -upper, rtol=1e-12)
    np.testing.assert_allclose(om[:, 0, 1], -upper, rtol=1e-12)
    b = geo.bloch_vectors(d, k)
    np.testing.assert_allclose(b[:, 1], -b[:, 0], atol=1e-14)


def test_orbital_moment_of_massive_dirac():
    """m = e v² δ / (2 (v²k² + δ²)), the same for both bands (Xiao, Yao, Niu 2007)."""
    v, delta = 0.8, 0.25
    d = bands.massive_dirac(v, delta)
    k = RNG.normal(size=(7, 2))
    m = geo.orbital_moment(d, k, charge=1.0)
    closed = v**2 * delta / (2 * (v**2 * (k**2).sum(-1) + delta**2))
    np.testing.assert_allclose(m, np.stack([closed, closed], -1), rtol=1e-12)
    # Eq. 12 for an electron (e = -1) in B_z = 0.1: ε̄ = ε - m·B with m its orbital moment
    m_electron = geo.orbital_moment(d, k, charge=-1.0)
    np.testing.assert_allclose(m_electron, -m, rtol=1e-12)
    ebar = geo.orbital_moment_energy(d, k, 0.1, charge=-1.0)
    e = np.linalg.eigvalsh(d.hamiltonian(k))
    np.testing.assert_allclose(ebar, e - m_electron * 0.1, rtol=1e-12)


@pytest.mark.parametrize("n_bands", [3, 4])
def test_eq12_is_the_sundaram_niu_moment(n_bands):
    """ε̄ - ε = e B Im Tr(P ∂_x P (H - ε) ∂_y P), projectors by finite differences."""
    h = random_model(n_bands, 2, seed=70 + n_bands)
    k = RNG.normal(size=(4, 2))
    step = 1e-4

    def projectors(q):
        _, u = np.linalg.eigh(h.hamiltonian(q))
        return np.einsum("kin,kjn->knij", u, u.conj())

    ex, ey = np.array([step, 0.0]), np.array([0.0, step])
    px = (projectors(k + ex) - projectors(k - ex)) / (2 * step)
    py = (projectors(k + ey) - projectors(k - ey)) / (2 * step)
    p = projectors(k)
    hk = h.hamiltonian(k)
    e = np.linalg.eigvalsh(hk)
    shifted = hk[:, None] - e[:, :, None, None] * np.eye(n_bands)
    sn = np.imag(np.trace(p @ px @ shifted @ py, axis1=-2, axis2=-1))
    charge, b = -1.0, 0.37
    ebar = geo.orbital_moment_energy(h, k, b, charge=charge)
    np.testing.assert_allclose(ebar - e, charge * b * sn, atol=1e-6)
    np.testing.assert_allclose(geo.orbital_moment(h, k, charge=charge), -charge * sn, atol=1e-6)


@pytest.mark.parametrize("n_bands", [2, 3, 5])
def test_spectral_weights_eqs14_15(n_bands):
    h = random_model(n_bands, 3, seed=90 + n_bands)
    k = RNG.normal(size=(5, 3))
    bfield = np.array([0.1, -0.2, 0.3])
    z = geo.spectral_weights(h, k, bfield, charge=-1.0)
    curv = geo.berry_curvature(h, k)  # (M, N, 3)
    z_tot = z.sum(-1)
    np.testing.assert_allclose(z_tot, 1.0 - (-1.0) * curv @ bfield, atol=1e-12)  # Eq. 15
    np.testing.assert_allclose(z_tot.sum(-1), n_bands, atol=1e-12)
    np.testing.assert_allclose(
        geo.spectral_weights(h, k, np.zeros(3)), np.broadcast_to(np.eye(n_bands), z.shape), atol=0
    )
