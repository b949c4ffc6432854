"""Unit tests of the densities (Valet and Raimondi, Eqs. 17, 24-28), Eq. 29 and the Fermi sums."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

import boltzphlow.bands as bands
import boltzphlow.geometry as geo
import boltzphlow.observables as tr
from boltzphlow import kspace, stats

RNG = np.random.default_rng(5)


def shifted_fermi(mu: float, temp: float, shift: np.ndarray):
    """A nonequilibrium distribution: Fermi functions displaced in k (as by an E field)."""

    def distribution(k, energies):
        return expit(-(energies - mu - 0.3 * (k @ shift)[:, None]) / temp)

    return distribution


class TestDensities:
    h = bands.qi_wu_zhang(1.2)

    def test_charge_density_vr_equals_wave_packet(self):
        dist = shifted_fermi(0.3, 0.2, np.array([0.2, -0.1]))
        for b in (0.0, 0.05):
            vr = tr.charge_density(self.h, dist, (40, 40), b, method="vr")
            wp = tr.charge_density(self.h, dist, (40, 40), b, method="wave-packet")
            assert vr == pytest.approx(wp, rel=1e-13)

    def test_spin_density_difference_is_the_spurious_term_plus_rho_perp(self):
        dist = shifted_fermi(0.3, 0.2, np.array([0.2, -0.1]))
        b = 0.05
        wp = tr.spin_density(self.h, dist, (40, 40), magnetic_field=b, method="wave-packet")
        wp0 = tr.spin_density(self.h, dist, (40, 40), magnetic_field=0.0, method="wave-packet")
        vr0 = tr.spin_density(self.h, dist, (40, 40), magnetic_field=0.0, method="vr")
        # without fields both reduce to ∫ (f↑ - f↓) u
        np.testing.assert_allclose(vr0, wp0, atol=1e-14)
        # the WP extra term -∫ Ω (f↑ + f↓) u is linear in B
        wp2 = tr.spin_density(self.h, dist, (40, 40), magnetic_field=2 * b, method="wave-packet")
        np.testing.assert_allclose(wp2 - wp0, 2 * (wp - wp0), atol=1e-13)
        assert np.linalg.norm(wp - wp0) > 1e-4

    def test_rho_perp_from_electric_field_is_adiabatic_perturbation_theory(self):
        """Eq. 26 with E only: the first-order adiabatic correction of the Bloch states."""
        h = bands.massive_dirac(1.0, 0.4, 2.0)
        efield = np.array([0.01, 0.02])

        def occupied(k, e):
            return np.stack([np.ones(len(k)), np.zeros(len(k))], -1)  # lower band filled

        vr = tr.spin_density(h, occupied, (60, 60), electric_field=efield, method="vr")
        base = tr.spin_density(h, occupied, (60, 60), method="vr")
        # |n> - i Σ_m |m><m|∂_t n>/(ε_n - ε_m), ∂_t = e E·∂_k, <m|∂_i n> = v^i_mn/(ε_n - ε_m)
        mesh = h.mesh((60, 60))
        k = h.k_cartesian(mesh.fractional())
        e, u, v = geo.velocity_matrices(h, k)
        sigma = bands.PAULI[1:]
        s_eig = np.einsum("kin,aij,kjm->kanm", u.conj(), sigma, u)
        n, m = 0, 1
        dt = np.einsum("i,kimn->kmn", efield, v)[:, m, n] / (e[:, n] - e[:, m])  # <m|∂_t n>
        corr = 2 * np.real(-1j * s_eig[:, :, n, m] * (dt / (e[:, n] - e[:, m]))[:, None])
        expected = corr.sum(0) * h.k_volume / mesh.n_points / (2 * np.pi) ** 2
        np.testing.assert_allclose(vr - base, expected, atol=1e-12)

    def test_equilibrium_density_counts_states(self):
        h = bands.p_band_model()
        n = tr.equilibrium_density(h, mu=[-100.0, 100.0], mesh=(6, 6, 6), magnetic_field=[0, 0, 0])
        volume = abs(np.linalg.det(h.lattice))
        np.testing.assert_allclose(n, [0.0, 3 / volume], rtol=1e-12)

    def test_bad_inputs(self):
        with pytest.raises(ValueError, match="two-band"):
            tr.charge_density(bands.p_band_model(), lambda k, e: e * 0, (4, 4, 4), [0, 0, 0])
        with pytest.raises(ValueError, match="magnetic_field"):
            tr.equilibrium_density(self.h, 0.0, 0.0, [0.0, 0.0, 1.0], (4, 4))
        with pytest.raises(ValueError, match="method"):
            tr.spin_density(self.h, lambda k, e: e * 0, (4, 4), method="kubo")


class TestEq29:
    def test_zero_magnetic_field_anomalous_velocity(self):
        h = bands.haldane()
        k = RNG.normal(size=(4, 2))
        efield = np.array([0.1, -0.2])
        v, f = tr.velocity_and_force(h, k, efield, 0.0, charge=-1.0)
        _, _, vel = geo.band_geometry(h.hamiltonian(k), h.velocity(k))
        om = geo.berry_curvature(h, k)
        expected = np.concatenate([vel, np.zeros((4, 2, 1))], -1) + np.cross(
            np.append(efield, 0.0), np.stack([np.zeros_like(om), np.zeros_like(om), om], -1)
        )
        np.testing.assert_allclose(v, expected, atol=1e-9)
        np.testing.assert_allclose(f, np.broadcast_to([-0.1, 0.2, 0.0], f.shape), atol=1e-14)

    def test_phase_space_factor_times_velocity(self):
        """Z v = ∂ε̄ - e E×Ω - e (∂ε̄·Ω) B + O(field²) (the Xiao-Shi-Niu form)."""
        w = bands.weyl_lattice(b0=0.2)
        k = RNG.normal(size=(3, 3))
        bfield = np.array([0.0, 0.0, 1e-3])
        charge = -1.0
        v, _ = tr.velocity_and_force(w, k, np.zeros(3), bfield, charge=charge)
        om = geo.berry_curvature(w, k)
        z = 1 - charge * om @ bfield
        step = 1e-5
        grad = np.stack(
            [
                (
                    geo.orbital_moment_energy(w, k + step * e, bfield, charge=charge)
                    - geo.orbital_moment_energy(w, k - step * e, bfield, charge=charge)
                )
                / (2 * step)
                for e in np.eye(3)
            ],
            -1,
        )
        xsn = grad - charge * (grad * om).sum(-1, keepdims=True) * bfield
        # the neglected term is e² (B·Ω)(∂ε̄·Ω) B ~ (1e-3)² |Ω|² |v|
        scale = 1e-6 * np.abs(om).max() ** 2 * np.abs(grad).max() + 1e-8
        np.testing.assert_allclose(z[..., None] * v, xsn, atol=scale)


class TestFermiSum:
    """Every mode of the many-μ Fermi sum equals the direct sum, with bounded memory."""

    rng = np.random.default_rng(17)
    energies = rng.normal(size=(4000, 3))
    weights = rng.normal(size=(4000, 3, 2))

    def direct(self, mu, temp, kernel):
        k = (stats.fermi if kernel == "f" else stats.minus_dfermi)(
            self.energies.reshape(-1)[None, :], np.asarray(mu)[:, None], temp)
        return k @ self.weights.reshape(-1, 2)

    @pytest.mark.parametrize(
        ("temp", "n_mu", "kernel", "mode", "rtol"),
        [
            (0.05, 200, "f", "binned", 1e-6),      # linear interpolation of f, δ = T/128
            (0.05, 200, "-df", "binned", 1e-5),
            (1e-8, 200, "f", "window", 1e-13),     # T tiny: the grid would need 1e11 points
            (1e-8, 200, "-df", "window", 1e-13),
            (0.05, 10, "f", "direct", 1e-13),
            (0.0, 200, "f", "step", 1e-13),
        ],
    )
    def test_modes_agree_with_the_direct_sum(self, temp, n_mu, kernel, mode, rtol):
        mu = np.linspace(-2.0, 2.0, n_mu)
        acc = kspace.FermiSum(mu, temp, kernel)
        assert acc.mode == mode
        for part in np.array_split(np.arange(len(self.energies)), 3):  # chunk by chunk
            acc.add(self.energies[part], self.weights[part])
        expected = self.direct(mu, temp, kernel) if temp > 0 else (
            (self.energies.reshape(-1)[None, :] < mu[:, None]) @ self.weights.reshape(-1, 2))
        # the kernel is cut off beyond 40 k_B T: at most e^-40 of its peak (1, or 1/(4T) for -df)
        cutoff = np.exp(-40.0) * np.abs(self.weights).sum() / (4 * temp if kernel == "-df" else 1)
        atol = max(rtol * np.abs(expected).max(), cutoff)
        np.testing.assert_allclose(acc.result(), expected, rtol=0, atol=atol)

    def test_tiny_temperature_many_mu_needs_no_large_grid(self, monkeypatch):
        monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "64 MiB")
        h = bands.haldane()
        mu = np.linspace(-3.5, 3.5, 281)
        sigma = tr.anomalous_hall(h, mu, 1e-9, (40, 40))  # the binned grid: 9e11 points
        np.testing.assert_allclose(sigma, tr.anomalous_hall(h, mu, 0.0, (40, 40)), atol=1e-12)
