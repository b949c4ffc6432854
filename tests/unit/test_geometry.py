"""Unit tests of boltzphlow.geometry: eigensystems, Kubo curvature, Gell-Mann algebra, Eq. 13."""

from __future__ import annotations

import numpy as np
import pytest

import boltzphlow.bands as bands
import boltzphlow.geometry as geo
from boltzphlow.geometry.berry import band_geometry

RNG = np.random.default_rng(99)


def random_model(n_bands: int, dim: int, seed: int) -> bands.TightBinding:
    rng = np.random.default_rng(seed)
    table = {}
    a = rng.normal(size=(n_bands, n_bands)) + 1j * rng.normal(size=(n_bands, n_bands))
    table[(0,) * dim] = a + a.conj().T
    for axis in range(dim):
        for r2 in (1, 2):
            r = [0] * dim
            r[axis] = r2
            t = (
                rng.normal(size=(n_bands, n_bands)) + 1j * rng.normal(size=(n_bands, n_bands))
            ) / r2
            table[tuple(r)] = t
            table[tuple(-x for x in r)] = t.conj().T
    return bands.TightBinding(np.eye(dim), table, rng.uniform(size=(n_bands, dim)))


def projector_curvature_fd(h, k, n, step=1e-4):
    """Ω^n_xy = i Tr(P [∂_x P, ∂_y P]) with P from eigenvectors and central differences."""

    def proj(q):
        _, u = np.linalg.eigh(h.hamiltonian(q))
        return u[..., :, n, None] @ u[..., :, n, None].conj().swapaxes(-1, -2)

    ex, ey = np.array([step, 0.0]), np.array([0.0, step])
    px = (proj(k + ex) - proj(k - ex)) / (2 * step)
    py = (proj(k + ey) - proj(k - ey)) / (2 * step)
    p = proj(k)
    return np.real(1j * np.trace(p @ (px @ py - py @ px), axis1=-2, axis2=-1))


class TestBerryCurvature:
    def test_massive_dirac_eq38(self):
        v, delta = 1.3, 0.2
        d = bands.massive_dirac(v, delta)
        k = RNG.normal(size=(10, 2))
        om = geo.berry_curvature(d, k)
        eq38 = -(v**2) * delta / (2 * (v**2 * (k**2).sum(-1) + delta**2) ** 1.5)
        np.testing.assert_allclose(om[:, 1], eq38, rtol=1e-12)  # upper band
        np.testing.assert_allclose(om[:, 0], -eq38, rtol=1e-12)

    @pytest.mark.parametrize("n_bands", [2, 3, 4])
    def test_kubo_equals_projector_finite_differences(self, n_bands):
        h = random_model(n_bands, 2, seed=n_bands)
        k = RNG.normal(size=(4, 2))
        om = geo.berry_curvature(h, k)
        for n in range(n_bands):
            # central differences with step 1e-4: truncation ~1e-8 relative, round-off ~1e-8
            np.testing.assert_allclose(om[:, n], projector_curvature_fd(h, k, n), atol=1e-6)

    def test_two_band_closed_form_equals_general_kubo(self):
        h = random_model(2, 3, seed=5)
        k = RNG.normal(size=(20, 3))
        hk, dhk = h.hamiltonian_and_velocity(k)
        e2, om2, v2 = band_geometry(hk, dhk)
        # embed in a 3-band model with a far decoupled band: the general path is used
        h3 = np.zeros((20, 3, 3), complex)
        h3[:, :2, :2], h3[:, 2, 2] = hk, 100.0
        d3 = np.zeros((20, 3, 3, 3), complex)
        d3[:, :, :2, :2] = dhk
        e3, om3, v3 = band_geometry(h3, d3)
        np.testing.assert_allclose(e3[:, :2], e2, atol=1e-12)
        np.testing.assert_allclose(om3[:, :2], om2, atol=1e-10)
        np.testing.assert_allclose(v3[:, :2], v2, atol=1e-10)

    def test_band_velocities_are_energy_gradients(self):
        h = random_model(3, 2, seed=8)
        k = RNG.normal(size=(5, 2))
        _, _, vel = band_geometry(h.hamiltonian(k), h.velocity(k))
        step = 1e-5
        for i in range(2):
            dk = np.zeros(2)
            dk[i] = step
            fd = np.linalg.eigvalsh(h.hamiltonian(k + dk)) - np.linalg.eigvalsh(
                h.hamiltonian(k - dk)
            )
            np.testing.assert_allclose(vel[:, :, i], fd / (2 * step), atol=1e-7)

    def test_curvatures_sum_to_zero_and_tensor_is_antisymmetric(self):
        h = random_model(4, 3, seed=2)
        k = RNG.normal(size=(6, 3))
        om = geo.berry_curvature(h, k)
        np.testing.assert_allclose(om.sum(axis=-2), 0.0, atol=1e-10 * np.abs(om).max())
        t = geo.berry_curvature_tensor(h, k)
        np.testing.assert_allclose(t, -np.swapaxes(t, -1, -2), atol=0)
        np.testing.assert_allclose(t[..., 0, 1], om[..., 2], atol=0)

    def test_degeneracies_give_finite_gauge_invariant_results(self):
        # Two identical copies of the Haldane model: every band twofold degenerate.
        h = bands.haldane()
        k = RNG.normal(size=(5, 2))
        hk, dhk = h.hamiltonian_and_velocity(k)
        big = np.zeros((5, 4, 4), complex)
        big[:, :2, :2] = big[:, 2:, 2:] = hk
        dbig = np.zeros((5, 2, 4, 4), complex)
        dbig[:, :, :2, :2] = dbig[:, :, 2:, 2:] = dhk
        e, om, _ = band_geometry(big, dbig)
        _, om1, _ = band_geometry(hk, dhk)
        assert np.all(np.isfinite(om))
        np.testing.assert_allclose(om[:, [0, 1]], np.repeat(om1[:, [0]], 2, axis=1), atol=1e-10)
        np.testing.assert_allclose(om[:, [2, 3]], np.repeat(om1[:, [1]], 2, axis=1), atol=1e-10)

    def test_exact_degeneracy_point_is_finite(self):
        w = bands.weyl_lattice()
        om = geo.berry_curvature(w, np.stack([w.nodes[0].k, w.nodes[0].k + 0.1]))
        np.testing.assert_array_equal(om[0], 0.0)
        assert np.all(np.isfinite(om))


class TestBadInput:
    def test_non_hermitian_h_raises(self):
        bad = bands.ContinuumModel(
            lambda k: np.ones(k.shape[:-1] + (2, 2)) + 1j * np.eye(2), 2, 2, 1.0
        )
        with pytest.raises(ValueError, match="not Hermitian"):
            geo.berry_curvature(bad, np.zeros((3, 2)))
        with pytest.raises(ValueError, match="not Hermitian"):
            geo.eigensystem(bad, np.zeros(2))

    def test_band_index_out_of_range(self):
        h = bands.haldane()
        with pytest.raises(ValueError, match="band index out of range"):
            geo.chern_number(h, bands=[2], mesh=(10, 10))
        with pytest.raises(ValueError, match="band index out of range"):
            geo.berry_curvature(h, np.zeros(2), bands=[-1])

    def test_wrong_mesh_dimension(self):
        with pytest.raises(ValueError, match="2D mesh"):
            geo.chern_number(bands.haldane(), mesh=(10, 10, 10))

    def test_chern_needs_lattice_and_flux_needs_3d(self):
        with pytest.raises(ValueError, match="periodic"):
            geo.chern_number(bands.massive_dirac(), mesh=(10, 10))
        with pytest.raises(ValueError, match="3D model"):
            geo.berry_flux(bands.haldane(), 0, (0, 0, 0), 0.1)


class TestGellMann:
    @pytest.mark.parametrize("n", [2, 3, 4, 5])
    def test_basis_is_orthonormal_traceless_hermitian(self, n):
        g = geo.gell_mann_basis(n)
        assert g.shape == (n * n - 1, n, n)
        np.testing.assert_allclose(g, np.conj(np.swapaxes(g, -1, -2)), atol=0)
        np.testing.assert_allclose(np.trace(g, axis1=-2, axis2=-1), 0, atol=1e-15)
        gram = np.einsum("aij,bji->ab", g, g)
        np.testing.assert_allclose(gram, 2 * np.eye(n * n - 1), atol=1e-14)

    def test_n2_is_pauli_and_n3_structure_constants(self):
        np.testing.assert_allclose(geo.gell_mann_basis(2), bands.PAULI[1:], atol=0)
        f = geo.structure_constants(3)
        # textbook su(3): f_123 = 1, f_147 = 1/2, f_458 = sqrt(3)/2 (1-based)
        assert f[0, 1, 2] == pytest.approx(1.0)
        assert f[0, 3, 6] == pytest.approx(0.5)
        assert f[3, 4, 7] == pytest.approx(np.sqrt(3) / 2)

    @pytest.mark.parametrize("n", [2, 3, 4, 5])
    def test_structure_constants_define_the_algebra(self, n):
        g = geo.gell_mann_basis(n)
        f = geo.structure_constants(n)
        np.testing.assert_allclose(f, -np.swapaxes(f, 0, 1), atol=1e-15)
        np.testing.assert_allclose(f, -np.swapaxes(f, 1, 2), atol=1e-15)
        comm = np.einsum("aij,bjk->abik", g, g) - np.einsum("bij,ajk->abik", g, g)
        np.testing.assert_allclose(comm, 2j * np.einsum("abc,cij->abij", f, g), atol=1e-13)

    @pytest.mark.parametrize("n", [2, 3, 5])
    def test_bloch_vectors_rebuild_projectors_eq4(self, n):
        h = random_model(n, 2, seed=n)
        k = RNG.normal(size=(3, 2))
        b = geo.bloch_vectors(h, k)
        g = geo.gell_mann_basis(n)
        _, u = np.linalg.eigh(h.hamiltonian(k))
        for m in range(n):
            p = u[..., :, m, None] @ u[..., :, m, None].conj().swapaxes(-1, -2)
            rebuilt = np.eye(n) / n + 0.5 * np.einsum("ka,aij->kij", b[:, m], g)
            np.testing.assert_allclose(rebuilt, p, atol=1e-13)
        # |b_n|^2 = 2 (N-1)/N for a pure state, and sum_n b_n = 0
        np.testing.assert_allclose((b**2).sum(-1), 2 * (n - 1) / n, atol=1e-13)
        np.testing.assert_allclose(b.sum(axis=-2), 0.0, atol=1e-13)


def test_python_blocks_of_the_geometry_docs_run():
    """Every ```python block of docs/geometry.md runs (in order, in one namespace)."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "geometry.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/geometry.md", "exec"), namespace)  # noqa: S102
    # the values the block states in its comments
    assert round(namespace["geo"].chern_number(namespace["h"], bands=[0], mesh=(60, 60))) == -1
    # node-centred quadrature on 30³: measured -0.29996, 0.30004 (exact ∓0.3)
    np.testing.assert_allclose(namespace["r"].per_band, [-0.3, 0.3], atol=1e-4)
    np.testing.assert_allclose(namespace["a"].per_node, [1.0, -1.0], atol=1e-3)
    np.testing.assert_array_equal(namespace["minimum_mesh"](
        namespace["h"], namespace["s"].narrowest()), [11, 11])


class TestResolution:
    """The curvature width κ = Δ/2v and the minimum meshes of the geometry job."""

    def test_gapped_models_give_the_dirac_width(self):
        from boltzphlow.geometry.resolution import minimum_mesh, scan_spectrum

        # massive Dirac: Δ = 2δ at k = 0 (between the scan points), v = 1: κ = δ
        d = bands.massive_dirac(v=1.0, delta=0.1, k_max=5.0)
        s = scan_spectrum(d)
        np.testing.assert_allclose(s.gap, [0.2], rtol=1e-6)
        np.testing.assert_allclose(s.width, [0.1], rtol=1e-5)
        np.testing.assert_array_equal(minimum_mesh(d, s.narrowest()), [100, 100])
        np.testing.assert_array_equal(minimum_mesh(d, s.narrowest(), refine=2), [12, 12])
        # Haldane: Δ = 2|m - 3√3 t2| at K', v = √3/2 (interband velocity of the Dirac point)
        h = bands.haldane()
        s = scan_spectrum(h)
        np.testing.assert_allclose(s.gap, [2 * abs(0.2 - 3 * np.sqrt(3) * 0.15)], rtol=1e-6)
        np.testing.assert_allclose(s.width, s.gap / np.sqrt(3), rtol=1e-5)
        assert not s.gapless.any()
        # Qi-Wu-Zhang m = 1.8: Δ = 2|m - 2| at (π, π), v = 1
        s = scan_spectrum(bands.qi_wu_zhang(m=1.8))
        np.testing.assert_allclose([s.gap[0], s.width[0]], [0.4, 0.2], rtol=1e-6)

    def test_band_crossings_are_gapless_and_only_the_floor_applies(self):
        from boltzphlow.geometry.resolution import minimum_mesh, scan_spectrum

        for model in (bands.weyl_lattice(k0=1.0, b0=0.3), bands.p_band_model(),
                      bands.haldane(m=3 * np.sqrt(3) * 0.15)):
            s = scan_spectrum(model)
            assert s.gapless.all() and s.narrowest() == np.inf
            np.testing.assert_array_equal(minimum_mesh(model, s.narrowest()), [3] * model.dim)

    def test_nyquist_floor_follows_the_hopping_range(self):
        from boltzphlow.geometry.resolution import nyquist_floor

        model = random_model(2, 2, seed=3)  # hoppings up to 2 lattice vectors
        np.testing.assert_array_equal(nyquist_floor(model), [5, 5])
        assert nyquist_floor(bands.massive_dirac()).tolist() == [3, 3]


def test_dorfler_marking_refines_symmetric_cells_together():
    """Tied indicators (cells equal by k → −k symmetry) are marked together, also when the
    fraction is reached inside the tie, and a cap never splits a tied group; an odd-symmetric
    integrand then keeps a zero total after refinement (it did not: −3.3e-3 after 2 levels on
    the Weyl lattice, from ties broken by sort order)."""
    from boltzphlow.grids.kmesh import KMesh, _dorfler_mark, integrate_adaptive

    ind = np.array([1.0, 5.0, 2.0, 5.0, 5.0 * (1 + 1e-12), 0.5])
    assert sorted(_dorfler_mark(ind, 0.2, 10)) == [1, 3, 4]      # one 5 is 27 %: all three
    ind = np.array([5.0, 5.0, 3.0, 3.0, 1.0])
    assert sorted(_dorfler_mark(ind, 0.95, 3)) == [0, 1]         # a cap inside the 3s: no 3
    assert len(_dorfler_mark(ind, 0.3, 1)) == 1                  # unless nothing would stay
    odd = integrate_adaptive(lambda f: np.sin(2 * np.pi * f[:, 0]) ** 3
                             * np.exp(np.cos(2 * np.pi * f[:, 1])), KMesh((16, 16)), levels=3)
    assert abs(odd.value[0]) < 1e-15 and odd.levels == 3


def test_adaptive_refinement_checks_memory_before_each_level(monkeypatch):
    from boltzphlow.errors import ResourceError
    from boltzphlow.grids.kmesh import KMesh, integrate_adaptive

    monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "2 MiB")
    with pytest.raises(ResourceError, match=r"adaptive refinement level 1 \(\d+ new k-points of "
                                            r"2000 values each\) needs .* change refine"):
        integrate_adaptive(lambda f: np.repeat(np.sign(np.cos(2 * np.pi * f[:, :1])), 2000, 1),
                           KMesh((20, 20)), levels=2)
