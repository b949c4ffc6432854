"""Validation: Chern numbers and the anomalous Hall conductivity (Valet & Raimondi, Eqs. 35-38)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import expit

import boltzphlow.bands as bands
import boltzphlow.geometry as geo
import boltzphlow.observables as tr
from boltzphlow.grids.kmesh import KMesh


def dirac_box_hall(mu: float, v: float, delta: float, k_max: float) -> float:
    """Exact T = 0 σ_xy (e²/h) of the massive Dirac model on the square box [-K, K]².

    Eq. 35 with Eq. 38: the filled lower band over the box gives the solid angle of a square,
    ∫_box v²|δ|/(v²k²+δ²)^{3/2} d²k = 4 arctan(v²K² / (|δ| √(2v²K² + δ²))), so in the gap
    σ = -(sgn δ/π) arctan(...) → -sgn(δ)/2 for K → ∞.  For |μ| > |δ| (Fermi circle inside the
    box) the states inside the Fermi circle cancel (upper band filled, μ > 0) or are missing
    (lower band empty, μ < 0) and add ½ (sgn δ - δ/|μ|): σ → -δ/(2|μ|) for K → ∞.
    """
    gap = (
        -np.sign(delta)
        / np.pi
        * np.arctan(v**2 * k_max**2 / (abs(delta) * np.sqrt(2 * v**2 * k_max**2 + delta**2)))
    )
    if abs(mu) <= abs(delta):
        return float(gap)
    assert np.sqrt(mu**2 - delta**2) / v < k_max
    return float(gap + 0.5 * (np.sign(delta) - delta / abs(mu)))


class TestHaldane:
    @pytest.mark.parametrize(
        ("m", "phi", "chern"),
        [(0.2, np.pi / 2, -1), (0.2, -np.pi / 2, 1), (1.0, np.pi / 2, 0), (-0.3, np.pi / 3, -1)],
    )
    def test_chern_numbers_and_quantised_hall(self, m, phi, chern):
        h = bands.haldane(t1=1.0, t2=0.15, phi=phi, m=m)
        c0 = geo.chern_number(h, bands=[0], mesh=(60, 60))
        c1 = geo.chern_number(h, bands=[1], mesh=(60, 60))
        # link variables give an integer up to round-off once the mesh resolves Ω
        assert c0 == pytest.approx(chern, abs=1e-10)
        assert c1 == pytest.approx(-chern, abs=1e-10)
        assert geo.chern_number(h, bands=[0, 1], mesh=(30, 30)) == pytest.approx(0.0, abs=1e-10)
        # Kubo curvature of the filled band: the rectangle rule converges exponentially
        # (error ~1e-6, 1e-9, 1e-12 on 60², 90², 120² for the smallest gap here, m = 1)
        sigma = tr.anomalous_hall(h, mu=0.0, T=0.0, mesh=(120, 120))
        assert sigma == pytest.approx(-chern, abs=1e-10)

    def test_hall_plateau_across_the_gap_many_mu_at_once(self):
        h = bands.haldane()
        e = np.linalg.eigvalsh(h.hamiltonian(h.k_cartesian(KMesh((90, 90)).fractional())))
        top, bottom = e[:, 0].max(), e[:, 1].min()
        mus = np.linspace(top + 1e-3, bottom - 1e-3, 7)
        sig = tr.anomalous_hall(h, mu=mus, T=0.0, mesh=(400, 400))
        np.testing.assert_allclose(sig, 1.0, atol=1e-10)
        single = [tr.anomalous_hall(h, mu=x, T=0.0, mesh=(90, 90)) for x in (-4.0, 0.4, 3.5)]
        np.testing.assert_allclose(
            tr.anomalous_hall(h, mu=[-4.0, 0.4, 3.5], T=0.0, mesh=(90, 90)), single, atol=1e-14
        )
        # below all bands nothing, above all bands the total Chern number 0
        assert single[0] == 0.0
        assert abs(single[2]) < 1e-12

    def test_finite_temperature_many_mu_binned_equals_direct(self):
        h = bands.haldane()
        mus = np.linspace(-1.5, 1.5, 40)  # > 16 values: binned Fermi sum
        binned = tr.anomalous_hall(h, mu=mus, T=0.05, mesh=(60, 60))
        direct = np.concatenate(
            [
                tr.anomalous_hall(h, mu=mus[i : i + 10], T=0.05, mesh=(60, 60))
                for i in range(0, 40, 10)
            ]
        )
        # linear interpolation of f on a grid of T/128: |error| <= 0.012/128² per unit Σ|w Ω|
        np.testing.assert_allclose(binned, direct, atol=1e-6)
        # in the gap at T = 0.05 the thermal correction is ~exp(-gap/T)
        mid = tr.anomalous_hall(h, mu=0.0, T=0.05, mesh=(60, 60))
        assert mid == pytest.approx(1.0, abs=1e-3)

    def test_symmetry_reduction_gives_the_same_sum(self):
        h = bands.haldane(m=0.1)
        mesh = KMesh.gamma_centered((48, 48))
        frac, _ = mesh.irreducible(h.symmetry)
        assert len(frac) < 0.4 * mesh.n_points
        for mu in (0.0, 0.9, -1.2):
            full = tr.anomalous_hall(h, mu=mu, mesh=mesh)
            reduced = tr.anomalous_hall(h, mu=mu, mesh=mesh, use_symmetry=True)
            assert reduced == pytest.approx(full, abs=1e-12)

    def test_qi_wu_zhang_phases(self):
        """Signed Chern number of the lower band from its four Dirac points.

        d(k) = (sin kx, sin ky, m + cos kx + cos ky): near Γ, (π,π) the velocity tensor has
        det +1 and masses m+2, m−2; near X, Y det −1 and mass m.  A Dirac point adds
        sgn(det v) sgn(mass)/2 to the lower band (massive_dirac: its lower band carries
        +v²δ/2E³, Valet & Raimondi Eq. 38), so C = [sgn(m+2) + sgn(m−2) − 2 sgn(m)]/2:
        −1 for 0 < m < 2, +1 for −2 < m < 0, 0 for |m| > 2.
        """
        for m in (1.0, -1.0, 3.0, -3.0):
            chern = (np.sign(m + 2) + np.sign(m - 2) - 2 * np.sign(m)) / 2
            h = bands.qi_wu_zhang(m)
            c = geo.chern_number(h, [0], (40, 40))
            assert c == pytest.approx(chern, abs=1e-10)
            assert tr.anomalous_hall(h, 0.0, 0.0, (120, 120)) == pytest.approx(-c, abs=1e-8)
        assert geo.chern_number(bands.qi_wu_zhang(1.0), [0], (40, 40)) == pytest.approx(
            -geo.chern_number(bands.qi_wu_zhang(-1.0), [0], (40, 40)), abs=1e-10
        )


class TestMassiveDirac:
    v, delta, k_max, n = 1.0, 0.1, 5.0, 800

    def test_gap_value_against_closed_form(self):
        d = bands.massive_dirac(self.v, self.delta, self.k_max)
        sig = tr.anomalous_hall(d, mu=[0.0, 0.05, -0.09], T=0.0, mesh=(self.n, self.n))
        exact = dirac_box_hall(0.0, self.v, self.delta, self.k_max)
        assert exact == pytest.approx(-0.5 * np.sign(self.delta), abs=0.01)  # box -> -1/2
        # midpoint rule on a smooth integrand: error = (h²/24)|∮∂_nΩ|/2π <= h²δ/(4π v K³)
        h = 2 * self.k_max / self.n
        tol = h**2 * abs(self.delta) / (4 * np.pi * self.v * self.k_max**3)
        np.testing.assert_allclose(sig, exact, atol=tol, rtol=0)

    @pytest.mark.parametrize("mu", [0.3, 0.6, -0.4])
    def test_outside_gap_against_closed_form(self, mu):
        d = bands.massive_dirac(self.v, self.delta, self.k_max)
        sig = tr.anomalous_hall(d, mu=mu, T=0.0, mesh=(self.n, self.n))
        exact = dirac_box_hall(mu, self.v, self.delta, self.k_max)
        # The T = 0 integrand jumps by |Ω(k_F)| = v²|δ|/(2|μ|³) across the Fermi circle; only
        # cells whose centre lies within h/√2 of it are misweighted, by at most the jump:
        # |error| <= (1/2π) |Ω(k_F)| 2π k_F (√2 h) = √2 k_F h |Ω(k_F)| (smooth part ~1e-8).
        h = 2 * self.k_max / self.n
        k_f = np.sqrt(mu**2 - self.delta**2) / self.v
        tol = np.sqrt(2) * k_f * h * self.v**2 * abs(self.delta) / (2 * abs(mu) ** 3) + 1e-8
        assert sig == pytest.approx(exact, abs=tol)
        # ∝ δ/μ: σ + δ/(2|μ|) is the μ-independent box correction
        box = dirac_box_hall(0.0, self.v, self.delta, self.k_max) + 0.5 * np.sign(self.delta)
        assert sig + self.delta / (2 * abs(mu)) == pytest.approx(box, abs=tol)

    def test_sign_follows_the_mass(self):
        plus = bands.massive_dirac(1.0, 0.2, 3.0)
        minus = bands.massive_dirac(1.0, -0.2, 3.0)
        a = tr.anomalous_hall(plus, [0.0, 0.5], 0.0, (200, 200))
        b = tr.anomalous_hall(minus, [0.0, 0.5], 0.0, (200, 200))
        np.testing.assert_allclose(a, -b, atol=1e-12)

    def test_finite_temperature_is_the_thermal_average_of_the_closed_form(self):
        """σ(μ, T) = ∫ dE σ(E, 0) (-∂f/∂E)(E - μ)."""
        v, delta, k_max, n, temp = 1.0, 0.2, 2.0, 600, 0.05
        d = bands.massive_dirac(v, delta, k_max)
        for mu in (0.0, 0.3):

            def integrand(x, mu=mu):
                f = expit(-x)
                return dirac_box_hall(mu + temp * x, v, delta, k_max) * f * (1 - f)

            exact = quad(
                integrand, -30, 30, points=[(-delta - mu) / temp, (delta - mu) / temp], limit=200
            )[0]
            sig = tr.anomalous_hall(d, mu=mu, T=temp, mesh=(n, n))
            # smooth (T > 0) integrand: the midpoint error is the Euler-Maclaurin boundary
            # term (h²/24)|∮∂_nΩ|/2π <= h²δ/(4πvK³) (the interior curvature integrates to the
            # boundary), plus O(h⁴): the thermal shell's (h⁴/1920)∫|∂⁴(fΩ)|/2π ~
            # h⁴ |Ω(k_F)| k_F v³ / (1920 T³) < 1e-7 here
            h = 2 * k_max / n
            k_f = 0.5
            tol = h**2 * abs(delta) / (4 * np.pi * v * k_max**3) + h**4 * (
                v**2 / (2 * delta**2)
            ) * k_f * v**3 / (1920 * temp**3)
            assert sig == pytest.approx(exact, abs=tol)


def test_gauge_invariance_under_random_eigenvector_phases(monkeypatch):
    """Random U(1) phases on every eigenvector leave every geometric quantity unchanged."""
    h2 = bands.haldane()
    h3 = bands.TightBinding(
        np.eye(3),
        {
            (0, 0, 0): np.diag([1.0, 0.0, -1.0]).astype(complex),
            (1, 0, 0): 0.3 * np.ones((3, 3)) + 0.2j * np.eye(3),
            (-1, 0, 0): (0.3 * np.ones((3, 3)) + 0.2j * np.eye(3)).conj().T,
            (0, 1, 0): 0.4 * np.diag([1, -1, 1]) + 0.1j * np.eye(3, k=1),
            (0, -1, 0): (0.4 * np.diag([1, -1, 1]) + 0.1j * np.eye(3, k=1)).conj().T,
            (0, 0, 1): 0.2 * np.eye(3, k=-1).astype(complex),
            (0, 0, -1): 0.2 * np.eye(3, k=1).astype(complex),
        },
    )
    w = bands.weyl_lattice(b0=0.2)
    k3 = np.random.default_rng(3).normal(size=(6, 3))

    def quantities():
        return [
            geo.chern_number(h2, [0], (30, 30)),
            geo.berry_flux(w, 0, w.nodes[0].k, 0.2),
            geo.berry_curvature(h3, k3),
            geo.interband_berry_curvature(h3, k3, method="bloch"),
            geo.interband_berry_curvature(h3, k3, method="kubo"),
            geo.bloch_vectors(h3, k3),
            geo.orbital_moment(h3, k3),
        ]

    before = quantities()
    rng = np.random.default_rng(0)
    original = np.linalg.eigh

    def eigh_random_phases(a, *args, **kwargs):
        e, u = original(a, *args, **kwargs)
        return e, u * np.exp(2j * np.pi * rng.uniform(size=u.shape[:-2] + (1, u.shape[-1])))

    monkeypatch.setattr(np.linalg, "eigh", eigh_random_phases)
    after = quantities()
    for x, y in zip(before, after, strict=True):
        np.testing.assert_allclose(y, x, atol=1e-10 * max(1.0, float(np.max(np.abs(x)))))


def test_streda_formula_from_eq17():
    """In the gap, ∂n/∂B_z = σ_xy / (2π e) (σ in e²/h): Eq. 17 against Eq. 35."""
    h = bands.haldane()
    for charge in (1.0, -1.0):
        n0 = tr.equilibrium_density(
            h, mu=0.0, T=0.0, magnetic_field=0.0, mesh=(90, 90), charge=charge
        )
        n1 = tr.equilibrium_density(
            h, mu=0.0, T=0.0, magnetic_field=1e-3, mesh=(90, 90), charge=charge
        )
        sigma = tr.anomalous_hall(h, 0.0, 0.0, (90, 90))
        # one filled band per unit cell: n0 = 1 / (cell area)
        assert n0 == pytest.approx(2 / np.sqrt(3), rel=1e-12)
        assert (n1 - n0) / 1e-3 == pytest.approx(sigma / (2 * np.pi * charge), rel=1e-9)
