"""k-space states (kspace.KStates): window selection, chunking, band quantities, memory guard."""

from __future__ import annotations

import numpy as np
import pytest

import boltzphlow.bands as bands
import boltzphlow.geometry as geo
from boltzphlow.errors import ResourceError
from boltzphlow.grids.kmesh import KMesh
from boltzphlow.kspace import EnergyWindow, KStates, band_chunks

HALDANE = bands.haldane(t1=1.0, t2=0.15, phi=np.pi / 2, m=0.2)


def all_energies(h, mesh):
    """Every band energy of the mesh, ``(n_points, N)``, by a direct diagonalisation."""
    k = h.k_cartesian(h.mesh(mesh).fractional())
    return np.linalg.eigvalsh(h.hamiltonian(k))


class TestWindow:
    def test_selection_is_exact_at_both_ends(self):
        mesh = (24, 24)
        e = all_energies(HALDANE, mesh)
        dense = next(band_chunks(HALDANE, mesh))  # the whole mesh in one chunk
        lo, hi = np.sort(dense.energy.reshape(-1))[[100, 700]]
        # both ends included; the states at them sit exactly on the edges
        states = KStates.build(HALDANE, mesh, (lo, hi))
        assert states.energy.min() == lo and states.energy.max() == hi
        # just inside / just outside: one ulp moves the edge states out
        inner = KStates.build(HALDANE, mesh, (np.nextafter(lo, np.inf), np.nextafter(hi, -np.inf)))
        assert len(inner) == len(states) - np.sum(states.energy == lo) - np.sum(states.energy == hi)
        # the same (k, n) pairs as a mask on the dense energies
        point, band = np.nonzero((dense.energy >= lo) & (dense.energy <= hi))
        np.testing.assert_array_equal(states.k_index, point)
        np.testing.assert_array_equal(states.band, band)
        # and the energies agree with a direct diagonalisation to round-off
        np.testing.assert_allclose(states.energy, e[point, band], rtol=0, atol=1e-13)

    def test_window_around_mu(self):
        w = EnergyWindow.around([0.1, 0.3], 0.01, n_kT=10, phonon_energy=[0.02, 0.05])
        assert (w.lower, w.upper) == pytest.approx((0.1 - 0.1 - 0.05, 0.3 + 0.1 + 0.05))
        assert EnergyWindow.around(0.2, 0.0).width == 0.0
        with pytest.raises(ValueError, match="temperature"):
            EnergyWindow.around(0.0, -1.0)
        with pytest.raises(ValueError, match="phonon"):
            EnergyWindow.around(0.0, 0.1, phonon_energy=-0.1)
        with pytest.raises(ValueError, match="lower <= upper"):
            EnergyWindow(1.0, 0.0)

    def test_empty_window_is_refused_unless_allowed(self):
        gap_middle = 0.5 * (all_energies(HALDANE, (12, 12))[:, 0].max()
                            + all_energies(HALDANE, (12, 12))[:, 1].min())
        with pytest.raises(ValueError, match="no state") as info:
            KStates.build(HALDANE, (12, 12), EnergyWindow.around(gap_middle, 0.0))
        assert "\n" not in str(info.value)
        empty = KStates.build(HALDANE, (12, 12), (gap_middle, gap_middle), allow_empty=True)
        assert len(empty) == 0 and empty.velocity.shape == (0, 2)


class TestChunking:
    @pytest.mark.parametrize("h", [HALDANE, bands.p_band_model(), bands.massive_dirac(1.0, 0.3)],
                             ids=["haldane", "p-band", "dirac"])
    def test_chunked_build_equals_unchunked(self, h):
        mesh = (10,) * h.dim if h.dim == 3 else (30, 30)
        opts = dict(eigenvectors=True, velocity_matrices=True)
        window = EnergyWindow.around(np.median(all_energies(h, mesh)), 0.05)
        whole = KStates.build(h, mesh, window, chunk_size=10**6, **opts)
        parts = list(KStates.chunks(h, mesh, window, chunk_size=37, **opts))
        assert len(parts) > 5
        chunked = KStates.concatenate(parts)
        assert 0 < len(whole) < h.mesh(mesh).n_points * h.n_bands
        for name in ("band", "k_index"):
            np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))
        for name in ("energy", "k", "weight", "velocity", "berry_curvature", "orbital_moment"):
            np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name),
                                       rtol=0, atol=1e-12)
        # eigenvectors up to a phase, velocity matrices in modulus (gauge invariant)
        overlap = np.abs(np.sum(np.conj(chunked.eigenvectors) * whole.eigenvectors, axis=-1))
        np.testing.assert_allclose(overlap, 1.0, atol=1e-12)
        np.testing.assert_allclose(np.abs(chunked.velocity_matrix), np.abs(whole.velocity_matrix),
                                   atol=1e-12)

    @pytest.mark.parametrize("h", [HALDANE, bands.p_band_model()], ids=["haldane", "p-band"])
    def test_costly_quantities_only_where_the_window_has_states(self, h):
        """Eigenvectors (and the N > 2 orbital moment) are computed at the k-points holding a
        state of the window only: the same states as the cheap build, nothing lost."""
        mesh = (30, 30) if h.dim == 2 else (8, 8, 8)
        window = EnergyWindow.around(np.quantile(all_energies(h, mesh), 0.3), 0.005)
        cheap = KStates.build(h, mesh, window, orbital_moment=False)
        costly = KStates.build(h, mesh, window, eigenvectors=True, velocity_matrices=True)
        np.testing.assert_array_equal(costly.k_index, cheap.k_index)
        np.testing.assert_array_equal(costly.band, cheap.band)
        np.testing.assert_allclose(costly.energy, cheap.energy, rtol=0, atol=1e-13)
        chunks = list(band_chunks(h, mesh, window=window, eigenvectors=True))
        points = sum(len(c.k) for c in chunks)
        assert points == len(np.unique(cheap.k_index)) < h.mesh(mesh).n_points / 2

    def test_weights_and_k_points_follow_the_mesh(self):
        h = bands.massive_dirac(1.0, 0.3, k_max=2.0)
        mesh = KMesh.monkhorst_pack((16, 16))
        states = KStates.build(h, mesh)
        assert len(states) == 2 * mesh.n_points
        np.testing.assert_allclose(states.weight.sum(), 2 * h.k_volume, rtol=1e-14)
        np.testing.assert_allclose(states.k, h.k_cartesian(mesh.fractional()[states.k_index]),
                                   atol=1e-14)

    def test_neighbours_on_the_mesh(self):
        mesh = KMesh.gamma_centered((12, 10))
        window = (-np.inf, -1.5)
        states = KStates.build(HALDANE, mesh, window)
        for axis, step in ((0, 1), (1, -1), (1, 3)):
            rows = states.neighbours(axis, step)
            shift = np.zeros(2)
            shift[axis] = step / mesh.shape[axis]
            k_next = states.k + HALDANE.k_cartesian(shift)
            e_next = np.linalg.eigvalsh(HALDANE.hamiltonian(k_next))[np.arange(len(states)),
                                                                       states.band]
            held = rows >= 0
            # partners found are the states at k + δk; the others lie outside the window
            np.testing.assert_allclose(states.energy[rows[held]], e_next[held], atol=1e-12)
            assert np.all(e_next[~held] > -1.5) and (~held).any() and held.any()
        # a continuum box does not wrap: the points at k_x = k_max - δ/2 have no partner
        dirac = KStates.build(bands.massive_dirac(1.0, 0.3, k_max=2.0), (8, 8))
        rows = dirac.neighbours(0, 1)
        last = np.isclose(dirac.k[:, 0], 2.0 - 0.25)
        assert last.sum() == 2 * 8 and np.all(rows[last] == -1) and np.all(rows[~last] >= 0)
        np.testing.assert_allclose(dirac.k[rows[~last], 0] - dirac.k[~last, 0], 0.5, atol=1e-14)
        with pytest.raises(ValueError, match="symmetry-reduced"):
            KStates.build(HALDANE, (12, 12), window, use_symmetry=True).neighbours(0)

    def test_neighbours_at_an_offset_vector_on_a_lattice(self):
        """Offsets along several axes at once: the partner is the state of the same band at
        k + Σ_i offset_i b_i / N_i (its energy agrees with a direct diagonalisation to
        round-off, 1e-12 for |ε| ≲ 3), lattices wrap (an offset of a whole period is the state
        itself), and a diagonal step is the composition of the two single steps exactly."""
        mesh = KMesh.gamma_centered((12, 10))
        window = (-np.inf, -1.5)
        states = KStates.build(HALDANE, mesh, window)
        for offset in ((1, -1), (2, 3), (-13, 1)):
            rows = states.neighbours(offset=offset)
            k_next = states.k + HALDANE.k_cartesian(np.array(offset) / np.array(mesh.shape))
            e_next = np.linalg.eigvalsh(HALDANE.hamiltonian(k_next))[np.arange(len(states)),
                                                                       states.band]
            held = rows >= 0
            np.testing.assert_allclose(states.energy[rows[held]], e_next[held], atol=1e-12)
            np.testing.assert_array_equal(states.band[rows[held]], states.band[held])
            assert np.all(e_next[~held] > -1.5) and (~held).any() and held.any()
        # one axis: the same rows as (axis, step); whole periods: the state itself
        np.testing.assert_array_equal(states.neighbours(offset=(0, -3)), states.neighbours(1, -3))
        np.testing.assert_array_equal(states.neighbours(offset=np.array([12, -20])),
                                      np.arange(len(states)))
        full = KStates.build(HALDANE, mesh)  # every state held: no -1 anywhere
        diagonal = full.neighbours(offset=(1, -1))
        assert np.all(diagonal >= 0)
        np.testing.assert_array_equal(diagonal, full.neighbours(1, -1)[full.neighbours(0, 1)])

    @pytest.mark.parametrize("mesh", [KMesh.gamma_centered((8, 6)),
                                      KMesh.monkhorst_pack((7, 6))])
    def test_neighbours_at_an_offset_vector_on_a_continuum_box(self, mesh):
        """A continuum box [-k_max, k_max)^2 does not wrap: the partner at offset o is held iff
        k + o δ lies in the box along every axis (δ_i = 2 k_max / N_i; positions are multiples
        of δ_i / 2, so a 1e-9 margin decides the edges exactly); held partners sit at k + o δ
        to round-off.  N = 6 puts a point at a distance one step from each edge: deciding in
        fractions (i + s) / N would misplace it by an ulp (4/6 + 1/6 rounds either way)."""
        k_max = 2.0
        dirac = KStates.build(bands.massive_dirac(1.0, 0.3, k_max=k_max), mesh)
        delta = 2 * k_max / np.array(mesh.shape)
        for offset in ((1, -1), (-1, 1), (3, 2), (-2, -5)):
            rows = dirac.neighbours(offset=offset)
            target = dirac.k + np.array(offset) * delta
            inside = np.all((target >= -k_max - 1e-9) & (target < k_max - 1e-9), axis=1)
            np.testing.assert_array_equal(rows >= 0, inside)
            np.testing.assert_allclose(dirac.k[rows[inside]], target[inside], atol=1e-13)
            np.testing.assert_array_equal(dirac.band[rows[inside]], dirac.band[inside])
        # a diagonal step: 2 bands x (N_x + N_y - 1) edge points lose their partner
        assert np.sum(dirac.neighbours(offset=(1, -1)) < 0) == 2 * (sum(mesh.shape) - 1)
        assert np.all(dirac.neighbours(offset=(mesh.shape[0], 0)) == -1)

    def test_neighbours_refuse_ambiguous_or_malformed_steps(self):
        states = KStates.build(HALDANE, (6, 6))
        for kwargs, match in (({}, "exactly one"), ({"axis": 0, "offset": (1, 0)}, "exactly one"),
                              ({"offset": (1, 0, 0)}, "2 integers"),
                              ({"offset": (0.5, 0)}, "2 integers"),
                              ({"offset": ("a", 0)}, "2 integers"), ({"axis": 2}, "axis")):
            with pytest.raises(ValueError, match=match):
                states.neighbours(**kwargs)

    def test_symmetry_reduced_states_reproduce_the_full_mesh_sum(self):
        mesh = (30, 30)
        full = KStates.build(HALDANE, mesh, (-np.inf, 0.0))
        reduced = KStates.build(HALDANE, mesh, (-np.inf, 0.0), use_symmetry=True)
        assert len(reduced) < len(full) / 2.5
        for values in (lambda s: s.energy, lambda s: s.berry_curvature[:, 0]):
            assert np.sum(reduced.weight * values(reduced)) == pytest.approx(
                np.sum(full.weight * values(full)), rel=1e-12)
        # every reduced state is one of the full mesh, at its representative k-point
        key_full = full.k_index * full.n_bands + full.band  # ascending: k-major, band-minor
        key = reduced.k_index * reduced.n_bands + reduced.band
        rows = np.searchsorted(key_full, key)
        np.testing.assert_array_equal(key_full[rows], key)
        np.testing.assert_allclose(reduced.energy, full.energy[rows], atol=1e-13)


class TestBandQuantities:
    def test_velocities_are_finite_differences_of_the_energies(self):
        for h, mesh in ((HALDANE, (12, 12)), (bands.p_band_model(), (5, 5, 5))):
            states = KStates.build(h, mesh)
            e = all_energies(h, mesh)[states.k_index]
            gap = np.abs(e - states.energy[:, None])
            gap[np.arange(len(states)), states.band] = np.inf
            sel = gap.min(axis=1) > 0.05  # away from band crossings
            assert sel.sum() > 0.5 * len(states)
            step = 1e-4
            for i in range(h.dim):
                dk = np.zeros(h.dim)
                dk[i] = step
                plus = np.linalg.eigvalsh(h.hamiltonian(states.k[sel] + dk))
                minus = np.linalg.eigvalsh(h.hamiltonian(states.k[sel] - dk))
                fd = (plus - minus)[np.arange(sel.sum()), states.band[sel]] / (2 * step)
                # central differences: error step² |ε'''| / 6 with |ε'''| of the hopping scale
                np.testing.assert_allclose(states.velocity[sel, i], fd, rtol=0, atol=1e-6)

    @pytest.mark.parametrize(("phi", "chern"), [(np.pi / 2, -1), (-np.pi / 2, 1)])
    def test_filled_band_curvature_is_the_chern_number(self, phi, chern):
        h = bands.haldane(t1=1.0, t2=0.15, phi=phi, m=0.2)
        filled = KStates.build(h, (90, 90), (-np.inf, 0.0))  # μ = 0 lies in the gap
        assert np.all(filled.band == 0) and len(filled) == 90 * 90
        kubo = np.sum(filled.weight * filled.berry_curvature[:, 0]) / (2 * np.pi)
        # the rectangle rule converges exponentially for the gapped band (error < 1e-9 on 90²)
        assert kubo == pytest.approx(chern, abs=1e-9)
        # an independent method, the link variables of Fukui, Hatsugai and Suzuki
        assert geo.chern_number(h, [0], (60, 60)) == pytest.approx(chern, abs=1e-10)

    @pytest.mark.parametrize("h", [HALDANE, bands.p_band_model(), bands.weyl_lattice(b0=0.2)],
                             ids=["haldane", "p-band", "weyl"])
    def test_eigenvectors_and_velocity_matrices(self, h):
        mesh = (20, 20) if h.dim == 2 else (6, 6, 6)
        states = KStates.build(h, mesh, eigenvectors=True, velocity_matrices=True)
        hk = h.hamiltonian(states.k)
        u = states.eigenvectors
        # H u = ε u and |u| = 1
        residual = np.einsum("sij,sj->si", hk, u) - states.energy[:, None] * u
        assert np.abs(residual).max() < 1e-12 * max(1.0, np.abs(hk).max())
        np.testing.assert_allclose(np.linalg.norm(u, axis=-1), 1.0, atol=1e-13)
        # v^i_nm = <n|∂H/∂k_i|m>: the row of the state, checked against its own eigenvector
        dh = h.velocity(states.k)
        row = np.einsum("sj,sijk->sik", np.conj(u), dh)  # <n|∂H: (S, d, N)
        same_k = states.k_index[:, None] == states.k_index[None, :]
        for s in range(0, len(states), 7):
            for t in np.nonzero(same_k[s])[0]:
                expect = row[s] @ u[t]
                np.testing.assert_allclose(states.velocity_matrix[s, :, states.band[t]], expect,
                                           atol=1e-12)
        # the diagonal is the band velocity (away from degeneracies)
        e = all_energies(h, mesh)[states.k_index]
        gap = np.abs(e - states.energy[:, None])
        gap[np.arange(len(states)), states.band] = np.inf
        sel = gap.min(axis=1) > 1e-6
        diagonal = states.velocity_matrix[np.arange(len(states)), :, states.band]
        np.testing.assert_allclose(diagonal[sel].imag, 0.0, atol=1e-12)
        np.testing.assert_allclose(diagonal[sel].real, states.velocity[sel], atol=1e-12)

    @pytest.mark.parametrize("h", [HALDANE, bands.p_band_model(), bands.weyl_lattice(b0=0.2)],
                             ids=["haldane", "p-band", "weyl"])
    def test_orbital_moment_and_curvature_match_geometry(self, h):
        mesh = (15, 15) if h.dim == 2 else (5, 5, 5)
        states = KStates.build(h, mesh)
        k_points = h.k_cartesian(h.mesh(mesh).fractional())
        e = all_energies(h, mesh)
        nondegenerate = np.all(np.abs(np.diff(e, axis=1)) > 1e-6, axis=1)[states.k_index]
        moment = geo.orbital_moment(h, k_points)[states.k_index, states.band]
        curvature = geo.berry_curvature(h, k_points)[states.k_index, states.band]
        if h.dim == 2:
            moment, curvature = moment[:, None], curvature[:, None]
        np.testing.assert_allclose(states.orbital_moment[nondegenerate], moment[nondegenerate],
                                   atol=1e-10)
        np.testing.assert_allclose(states.berry_curvature, curvature, atol=1e-10)

    def test_one_dimensional_chain(self):
        chain = bands.TightBinding([[1.0]], {(1,): [[1.0]], (-1,): [[1.0]], (0,): [[0.0]]})
        states = KStates.build(chain, (64,), (-1.0, 1.0))
        np.testing.assert_allclose(states.energy, 2 * np.cos(states.k[:, 0]), atol=1e-13)
        np.testing.assert_allclose(states.velocity[:, 0], -2 * np.sin(states.k[:, 0]), atol=1e-13)
        assert states.berry_curvature.shape == (len(states), 0)
        assert states.orbital_moment.shape == (len(states), 0)


def test_python_block_of_the_kspace_docs_runs():
    """The ```python block of docs/kspace.md runs and gives the values its comments state."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "kspace.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], "docs/kspace.md", "exec"), namespace)  # noqa: S102
    s = namespace["s"]
    assert (namespace["window"].lower, namespace["window"].upper) == pytest.approx((0.8, 1.2))
    assert (len(s), s.velocity.shape, s.eigenvectors.shape) == (11286, (11286, 2), (11286, 2))
    assert namespace["chern"] == pytest.approx(-1.0, abs=1e-9)
    assert namespace["count"] == len(s)
    assert 0 < np.sum(namespace["partner"] >= 0) < len(s)


class TestMemory:
    def test_chunk_that_does_not_fit_is_refused_in_one_line(self, monkeypatch):
        monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "64 KiB")
        with pytest.raises(ResourceError, match="chunk of .* k-points .* needs") as info:
            KStates.build(HALDANE, (100, 100))
        assert "\n" not in str(info.value)

    def test_states_that_do_not_fit_are_refused_in_one_line(self, monkeypatch):
        monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "1 MiB")
        with pytest.raises(ResourceError, match="k-space states .* needs .* change mesh") as info:
            KStates.build(HALDANE, (100, 100), chunk_size=500, eigenvectors=True)
        assert "\n" not in str(info.value)
        # the same mesh one chunk at a time fits: memory does not grow with the mesh
        count = sum(len(part) for part in KStates.chunks(HALDANE, (100, 100), chunk_size=500,
                                                         eigenvectors=True))
        assert count == 2 * 100 * 100
