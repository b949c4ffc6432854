"""Valet and Raimondi, Eq. 32 (phase-space divergence of the force) and Eqs. 14-15 in full.

Eq. 32: ``∂_p·(Z_c^σ F^σ) = -e² σ (E·B) ∂_p·Ω`` with ``Z_c = 1 - e σ B·Ω`` and F of Eq. 29b.
Expanding ``Z_c F`` exactly gives ``e E + e ∂ε̄×B - e² (E·B) Ω_n + R`` with the O(ħ²)
remainder ``R = e³ (B·Ω_n)[(E×Ω_n)×B - (B·Ω_n) ∂ε̄×B]`` (docs/geometry.md); ``∂·(∂ε̄×B) = 0``,
so Eq. 32 holds up to ``∂·R`` (second order in B).  Its content is the monopole: the flux of
``Z_c F`` out of a sphere around a Weyl node is ``-e² (E·B) 2π χ`` (band 0 of chirality χ).

Eqs. 14-15: the band-n quasiparticle has weight ``Z_n^n = 1 - ½ e B·Ω^n_n`` on its own
eigenvector and ``Z_n^m = ½ e B·Ω^n_m`` on eigenvector m, with the interband curvature of
Eq. 13, ``Ω^n_m,ij = -½ b_n·(∂_i b_m × ∂_j b_m) = i Tr(P_n [∂_i P_m, ∂_j P_m])`` (the su(N)
product of Bloch vectors is ``Tr(λ_a [λ_b, λ_c]) = 4i f_abc``), checked here against
projectors differentiated by finite differences (independent of the Kubo sums of the code).
"""

from __future__ import annotations

import numpy as np
import pytest

import boltzphlow.bands as bands
import boltzphlow.geometry as geo
import boltzphlow.observables as tr
from boltzphlow.geometry.nodes import node_quadrature
from conftest import random_tight_binding

RNG = np.random.default_rng(3232)


def random_model(n_bands: int, dim: int, seed: int) -> bands.TightBinding:
    """Random nearest-neighbour tight-binding model (generic, no symmetry, no degeneracy)."""
    return random_tight_binding(n_bands, dim, seed)


def z_times_force(h, k, efield, bfield, charge):
    """``Z_c F`` of every band, ``(M, N, 3)``, and the curvature ``(M, N, 3)``."""
    _, force = tr.velocity_and_force(h, k, efield, bfield, charge=charge)
    om = geo.berry_curvature(h, k)
    z = 1.0 - charge * om @ bfield
    return z[..., None] * force, om


class TestEq32:
    w = bands.weyl_lattice(b0=0.2)
    efield = np.array([0.03, -0.02, 0.05])
    bfield = np.array([0.01, 0.02, -0.015])
    charge = -1.0

    def test_z_times_force_is_the_expanded_form_plus_the_second_order_remainder(self):
        """Algebra of Eq. 29b times Z_c, to round-off, at random k (measured ~1e-16)."""
        k = RNG.normal(size=(6, 3))
        e, b, q = self.efield, self.bfield, self.charge
        zf, om = z_times_force(self.w, k, e, b, q)
        vel, _ = tr.velocity_and_force(self.w, k, np.zeros(3), b, charge=q)
        # with E = 0, v - e Ω×(∂ε̄×B) = ∂ε̄: recover the modified-energy gradient
        grad = vel - q * np.cross(om, np.cross(vel, b))  # first-order accurate only: use it
        _, force0 = tr.velocity_and_force(self.w, k, np.zeros(3), np.zeros(3), charge=q)
        assert np.abs(force0).max() == 0.0  # no field, no force
        bom = (om @ b)[..., None]
        remainder = q**3 * bom * (np.cross(np.cross(e, om), b) - bom * np.cross(grad, b))
        expanded = q * e + q * np.cross(grad, b) - q**2 * (e @ b) * om + remainder
        # grad is exact up to O(B²)|∂ε̄|; its error enters through e ∂ε̄×B at O(B³)
        tol = 10 * np.abs(b).max() ** 3 * np.abs(om).max() ** 2 * np.abs(grad).max() + 1e-14
        np.testing.assert_allclose(zf, expanded, atol=tol)

    def test_flux_of_z_force_through_a_sphere_is_the_monopole(self):
        """∮ Z_c F·dS around each node = -e²(E·B) 2π χ (band 0) + O(B²); measured rel. 2e-3."""
        e, b, q = self.efield, self.bfield, self.charge
        for node in self.w.nodes:
            k, weight, s = node_quadrature(node.k, 0.3, 32)
            outer = s == s.max()  # one shell of the radial rule: points on a sphere
            pts, normal = k[outer], (k[outer] - node.k) / np.linalg.norm(k[outer] - node.k,
                                                                       axis=-1)[:, None]
            area = weight[outer] / weight[outer].sum() * 4 * np.pi * 0.3**2 * s.max() ** 2
            zf, _ = z_times_force(self.w, pts, e, b, q)
            flux = (area[:, None] * (zf * normal[:, None, :]).sum(-1)).sum(0)
            expected = -(q**2) * (e @ b) * 2 * np.pi * node.chirality
            assert abs(expected) > 1e-4
            # O(B²) remainder over O(B): relative |B| |Ω| ~ 0.03 |Ω| on the sphere
            rel = 0.05 * np.abs(b).max() / (0.3 * s.max()) ** 2
            assert flux[0] == pytest.approx(expected, rel=rel)
            assert flux[1] == pytest.approx(-expected, rel=rel)  # band 1 has charge -χ

    def test_without_the_phase_space_factor_the_divergence_is_first_order(self):
        """Away from nodes ∂·Ω = 0: ∂·(Z F) = ∂·R is second order in B, ∂·F first order.

        Measured (central differences, step 1e-3, converged to 1e-3 relative against 3e-4):
        halving B divides ∂·(Z F) by 3.76-4.06 and ∂·F by 1.76-2.10, with |∂·F| ≥ 8|∂·(Z F)|.
        """
        e, q = self.efield, self.charge
        k = np.array([[0.4, -0.3, 0.9], [0.2, 0.5, -1.2]])
        step = 1e-3

        def divergence(fun):
            return sum((fun(k + step * d)[..., i] - fun(k - step * d)[..., i]) / (2 * step)
                       for i, d in enumerate(np.eye(3)))

        div_zf, div_f = [], []
        for b in (self.bfield, self.bfield / 2):
            div_zf.append(divergence(lambda p, b=b: z_times_force(self.w, p, e, b, q)[0]))
            div_f.append(divergence(
                lambda p, b=b: tr.velocity_and_force(self.w, p, e, b, charge=q)[1]))
        np.testing.assert_allclose(div_zf[0] / div_zf[1], 4.0, rtol=0.1)  # O(E B²) remainder
        np.testing.assert_allclose(div_f[0] / div_f[1], 2.0, rtol=0.15)  # first order
        assert np.all(np.abs(div_f[0]) > 5 * np.abs(div_zf[0]))


def projector_curvature(h, k, step=1e-4):
    """``T[n, m, c] = i Tr(P_n [∂_i P_m, ∂_j P_m])`` (axial components c) by central differences."""
    def projectors(q):
        _, u = np.linalg.eigh(h.hamiltonian(q))
        return np.einsum("...an,...bn->...nab", u, u.conj())  # (M, N, N, N): P_n

    p = projectors(k)
    dp = [(projectors(k + step * d) - projectors(k - step * d)) / (2 * step)
          for d in np.eye(h.dim)]
    pairs = [(1, 2), (2, 0), (0, 1)] if h.dim == 3 else [(0, 1)]
    out = []
    for i, j in pairs:
        comm = dp[i] @ dp[j] - dp[j] @ dp[i]  # (M, m, N, N)
        out.append(np.real(1j * np.einsum("knab,kmba->knm", p, comm)))
    return np.stack(out, -1)  # (M, n, m, C)


@pytest.mark.parametrize("n_bands", [2, 3, 4])
def test_spectral_weights_every_entry_eqs14_15(n_bands):
    """Every Z_n^m against Eq. 13 from finite-difference projectors; the sum rules; Eq. 15.

    With ``T[n, m] = i Tr(P_n [∂P_m, ∂P_m])`` (Eq. 13 read literally, ``Ω^n_m``), the sum rule
    that holds is over the *upper* index, ``Σ_n Ω^n_m = 0`` (``Σ_n P_n = 1``); the converted
    text's ``Σ_{m≠n} Ω^n_m = -Ω^n_n`` swaps the indices (for two bands ``P_1 = 1 - P_0`` gives
    ``Ω^σ_{-σ} = +Ω^σ_σ``, as the text itself states).  Eq. 15 per band (``Z_tot^n = 1 -
    Ω^n_n``, the factor of Eq. 17) then fixes the weight of quasiparticle n on eigenvector m
    as ``Z_n^m = ½ e B·Ω^m_n``: the literal ``½ Ω^n_m`` would give ``Z_tot^n = 1`` for two
    bands.  Measured agreement ~1e-8 (the O(step²) of the differences); tolerance 1e-6.
    """
    h = random_model(n_bands, 3, seed=300 + n_bands)
    k = RNG.normal(size=(4, 3))
    bfield = np.array([0.2, -0.1, 0.3])
    charge = -1.0
    z = geo.spectral_weights(h, k, bfield, charge=charge)
    omega = projector_curvature(h, k) @ bfield * charge  # e B·Ω^n_m, (M, n, m)
    diag = np.einsum("knn->kn", omega)
    eye = np.eye(n_bands)
    tol = 1e-6 * max(1.0, np.abs(omega).max())
    # Eq. 13 sum rule over the upper index; the diagonal is the Kubo curvature
    np.testing.assert_allclose(omega.sum(1), 0.0, atol=tol)
    np.testing.assert_allclose(diag, charge * geo.berry_curvature(h, k) @ bfield, atol=tol)
    expected = 0.5 * np.swapaxes(omega, 1, 2) * (1 - eye) + eye * (1.0 - 0.5 * diag)[..., None]
    np.testing.assert_allclose(z, expected, atol=tol)
    # Eq. 15 per band (row sums) and Σ_n Z_tot^n = N; the literal placement breaks Eq. 15
    np.testing.assert_allclose(z.sum(-1), 1.0 - diag, atol=tol)
    np.testing.assert_allclose(z.sum((-1, -2)), n_bands, atol=tol)
    literal = 0.5 * omega * (1 - eye) + eye * (1.0 - 0.5 * diag)[..., None]
    assert np.abs(literal.sum(-1) - (1.0 - diag)).max() > 1e3 * tol
    # the off-diagonal weights are not symmetric in n, m for N > 2 (they are antisymmetric)
    np.testing.assert_allclose(z * (1 - eye), -np.swapaxes(z, 1, 2) * (1 - eye), atol=tol)
    # the weights are linear in B (Eq. 14 is first order in ħ): Z(2B) - 1 = 2 (Z(B) - 1)
    z2 = geo.spectral_weights(h, k, 2 * bfield, charge=charge)
    np.testing.assert_allclose(z2 - eye, 2 * (z - eye), atol=1e-12)
