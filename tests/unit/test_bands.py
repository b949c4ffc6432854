"""Unit tests of boltzphlow.bands: tight-binding, FFT Bloch sums, models, readers, k-meshes."""

from __future__ import annotations

import os

import numpy as np
import pytest

import boltzphlow.bands as bands
from boltzphlow.bands.hamiltonian import BlochHamiltonian
from boltzphlow.errors import InputError
from boltzphlow.grids.kmesh import KMesh, as_kmesh
from conftest import random_tight_binding as shared_random_tight_binding

RNG = np.random.default_rng(1234)


def random_tight_binding(n_bands: int, dim: int, seed: int = 0) -> bands.TightBinding:
    """A random model on a distorted lattice (:func:`conftest.random_tight_binding`)."""
    return shared_random_tight_binding(n_bands, dim, seed, distorted=True)


class TestTightBinding:
    def test_non_hermitian_hoppings_raise(self):
        with pytest.raises(ValueError, match="not Hermitian.*R = \\(1, 0\\)"):
            bands.TightBinding(np.eye(2), {(0, 0): np.eye(2), (1, 0): np.eye(2)})

    def test_shape_errors(self):
        with pytest.raises(ValueError, match="must have shape"):
            bands.TightBinding(np.eye(2), {(0, 0, 0): np.eye(2)})
        with pytest.raises(ValueError, match="positions"):
            bands.TightBinding(np.eye(2), {(0, 0): np.eye(2)}, positions=np.zeros((3, 2)))

    def test_wrong_k_dimension_raises(self):
        h = bands.haldane()
        with pytest.raises(ValueError, match="last axis of length 2"):
            h.hamiltonian(np.zeros((4, 3)))

    @pytest.mark.parametrize("dim", [1, 2, 3])
    def test_velocity_is_derivative_of_h(self, dim):
        h = random_tight_binding(3, dim, seed=dim)
        k = RNG.normal(size=(6, dim))
        analytic = h.velocity(k)
        numeric = BlochHamiltonian.velocity(h, k)  # 4th-order finite differences, step 1e-3
        # truncation error ~ step^4 * max|R|^5 |h| / 30: well below 1e-9 here
        np.testing.assert_allclose(analytic, numeric, atol=1e-9)

    @pytest.mark.parametrize(
        "mesh",
        [KMesh.gamma_centered((8, 6)), KMesh.monkhorst_pack((6, 8)), KMesh.monkhorst_pack((5, 7))],
    )
    def test_fft_mesh_blocks_equal_direct_bloch_sums(self, mesh):
        h = random_tight_binding(3, 2, seed=7)
        total = 0
        for block in h.mesh_blocks(mesh, chunk_size=10):
            hk, dhk = h.hamiltonian_and_velocity(block.k)
            np.testing.assert_allclose(block.h, hk, atol=1e-12)
            np.testing.assert_allclose(block.dh, dhk, atol=1e-12)
            total += len(block.k)
        assert total == mesh.n_points

    def test_fft_3d_and_periodic_gauge(self):
        h = random_tight_binding(2, 3, seed=3)
        mesh = KMesh.gamma_centered((4, 5, 3))
        for block in h.mesh_blocks(mesh, chunk_size=7, periodic_gauge=True):
            np.testing.assert_allclose(
                block.h, h.hamiltonian(block.k, periodic_gauge=True), atol=1e-12
            )

    def test_fft_fallback_to_direct_sums(self, monkeypatch):
        h = random_tight_binding(2, 2, seed=5)
        monkeypatch.setattr(bands.TightBinding, "FFT_TABLE_BYTES", 0)
        h._fft_cache.clear()
        for block in h.mesh_blocks((5, 4)):
            np.testing.assert_allclose(block.h, h.hamiltonian(block.k), atol=1e-12)

    def test_periodic_gauge_is_periodic_and_unitarily_equivalent(self):
        h = bands.haldane()
        k = RNG.normal(size=(5, 2))
        g = h.reciprocal[0] - 2 * h.reciprocal[1]
        hp = h.hamiltonian(k, periodic_gauge=True)
        np.testing.assert_allclose(h.hamiltonian(k + g, periodic_gauge=True), hp, atol=1e-12)
        np.testing.assert_allclose(
            np.linalg.eigvalsh(h.hamiltonian(k)), np.linalg.eigvalsh(hp), atol=1e-12
        )

    def test_from_hopping_list_adds_conjugates(self):
        h = bands.TightBinding.from_hopping_list([[1.0]], [0.0], [(1.0j, 0, 0, [1])])
        k = np.array([[0.3]])
        # H = i e^{ik} - i e^{-ik} = -2 sin k
        np.testing.assert_allclose(h.hamiltonian(k)[0, 0, 0], -2 * np.sin(0.3), atol=1e-14)
        with pytest.raises(ValueError, match="orbital index"):
            bands.TightBinding.from_hopping_list([[1.0]], [0.0], [(1.0, 0, 3, [1])])


class TestModels:
    def test_haldane_is_the_textbook_form(self):
        t1, t2, phi, m = 1.0, 0.15, 0.7, 0.2
        h = bands.haldane(t1, t2, phi, m)
        k = RNG.normal(size=(7, 2))
        b = np.array([[1.0, 0.0], [-0.5, np.sqrt(3) / 2], [-0.5, -np.sqrt(3) / 2]])
        hk = h.hamiltonian(k, periodic_gauge=True)
        d0 = 2 * t2 * np.cos(phi) * np.cos(k @ b.T).sum(-1)
        dz = m - 2 * t2 * np.sin(phi) * np.sin(k @ b.T).sum(-1)
        np.testing.assert_allclose(0.5 * (hk[:, 0, 0] + hk[:, 1, 1]).real, d0, atol=1e-13)
        np.testing.assert_allclose(0.5 * (hk[:, 0, 0] - hk[:, 1, 1]).real, dz, atol=1e-13)
        # |d_perp| = t1 |sum_j exp(i k.delta_j)| over the three nearest-neighbour vectors
        delta = np.array([[0.5, np.sqrt(3) / 6], [-0.5, np.sqrt(3) / 6], [0.0, -np.sqrt(3) / 3]])
        np.testing.assert_allclose(
            np.abs(hk[:, 0, 1]), t1 * np.abs(np.exp(1j * k @ delta.T).sum(-1)), atol=1e-13
        )

    def test_massive_dirac_matrix(self):
        d = bands.massive_dirac(v=2.0, delta=0.3, k_max=1.0)
        hk = d.hamiltonian(np.array([0.1, -0.2]))
        np.testing.assert_allclose(hk, [[0.3, 0.2 + 0.4j], [0.2 - 0.4j, -0.3]], atol=1e-15)
        np.testing.assert_allclose(
            d.velocity(np.zeros(2)), BlochHamiltonian.velocity(d, np.zeros(2)), atol=1e-10
        )
        assert d.k_volume == pytest.approx(4.0)

    def test_rashba_spectrum(self):
        r = bands.rashba_2deg(mass=0.5, alpha=0.4, zeeman=0.1)
        k = RNG.normal(size=(5, 2))
        e = np.linalg.eigvalsh(r.hamiltonian(k))
        k2 = (k**2).sum(-1)
        gap = np.sqrt(0.16 * k2 + 0.01)
        np.testing.assert_allclose(e, np.stack([k2 - gap, k2 + gap], -1), atol=1e-13)
        np.testing.assert_allclose(r.velocity(k), BlochHamiltonian.velocity(r, k), atol=1e-9)

    @pytest.mark.parametrize("factory", [bands.haldane, bands.qi_wu_zhang, bands.weyl_lattice])
    def test_declared_symmetries_leave_energies_and_curvature_invariant(self, factory):
        from boltzphlow.geometry import berry_curvature

        h = factory()
        f = RNG.uniform(size=(9, h.dim))
        e = np.linalg.eigvalsh(h.hamiltonian(h.k_cartesian(f)))
        om = berry_curvature(h, h.k_cartesian(f))
        assert h.symmetry
        for op in h.symmetry:
            g = h.k_cartesian(f @ op)
            np.testing.assert_allclose(np.linalg.eigvalsh(h.hamiltonian(g)), e, atol=1e-12)
            om_g = berry_curvature(h, g)
            if h.dim == 2:
                np.testing.assert_allclose(om_g, om, atol=1e-10)
            else:  # the z component is invariant under rotations about z
                np.testing.assert_allclose(om_g[..., 2], om[..., 2], atol=1e-10)

    def test_weyl_nodes_are_degeneracies_at_their_energies(self):
        w = bands.weyl_lattice(k0=1.1, b0=0.25)
        assert len(w.nodes) == 2
        for node in w.nodes:
            e = np.linalg.eigvalsh(w.hamiltonian(node.k))
            np.testing.assert_allclose(e, [node.energy, node.energy], atol=1e-12)
        assert sorted(n.chirality for n in w.nodes) == [-1, 1]

    def test_weyl_rejects_extra_nodes(self):
        with pytest.raises(ValueError, match="m = 0.4 too small"):
            bands.weyl_lattice(m=0.4)
        with pytest.raises(ValueError, match="k0"):
            bands.weyl_lattice(k0=4.0)

    def test_p_band_model_matches_seed_004(self):
        t1, t2, t3 = -1.0, 0.3, 2.0
        h = bands.p_band_model(t1, t2, t3)
        k = RNG.normal(size=(6, 3)) * 3
        c, s = np.cos(k / 2), np.sin(k / 2)
        hk = h.hamiltonian(k)
        for a in range(3):
            b, d = (a + 1) % 3, (a + 2) % 3
            txx = t1 * c[:, a] * (c[:, b] + c[:, d]) + t2 * c[:, b] * c[:, d]
            np.testing.assert_allclose(hk[:, a, a], txx, atol=1e-13)
            np.testing.assert_allclose(hk[:, a, b], t3 * s[:, a] * s[:, b], atol=1e-13)
        assert len(h.symmetry) == 48


class TestKMesh:
    def test_monkhorst_pack_is_symmetric(self):
        for n in (4, 5):
            mesh = KMesh.monkhorst_pack((n,))
            f = np.mod(mesh.fractional()[:, 0] + 0.5, 1.0) - 0.5
            np.testing.assert_allclose(np.sort(f), np.sort(-f), atol=1e-15)

    def test_chunks_cover_mesh_with_bounded_size(self):
        mesh = KMesh.gamma_centered((10, 7, 3))
        seen = []
        for f, w in mesh.chunks(chunk_size=50):
            assert len(f) <= 50
            seen.append(f)
            np.testing.assert_allclose(w, 1 / mesh.n_points)
        allf = np.concatenate(seen)
        np.testing.assert_allclose(allf, mesh.fractional())

    def test_bad_meshes(self):
        with pytest.raises(ValueError, match="1, 2 or 3 axes"):
            KMesh((2, 2, 2, 2))
        with pytest.raises(ValueError, match="has 3 axes but the model is 2D"):
            as_kmesh((4, 4, 4), 2)

    def test_irreducible_weights_reproduce_full_sums(self):
        h = bands.p_band_model()
        mesh = KMesh.gamma_centered((8, 8, 8))
        f_irr, w_irr = mesh.irreducible(h.symmetry)
        assert len(f_irr) < mesh.n_points / 10
        np.testing.assert_allclose(w_irr.sum(), 1.0)
        g = lambda f: np.linalg.eigvalsh(h.hamiltonian(h.k_cartesian(f))) ** 3  # noqa: E731
        full = g(mesh.fractional()).mean(axis=0)
        np.testing.assert_allclose((w_irr[:, None] * g(f_irr)).sum(0), full, rtol=1e-12)

    def test_irreducible_rejects_incompatible_mesh(self):
        h = bands.haldane()
        with pytest.raises(ValueError, match="does not map the mesh"):
            KMesh.gamma_centered((6, 9)).irreducible(h.symmetry)


def _write_hr(path, model, lattice_r):
    """Write a tight-binding model in the _hr.dat format (degeneracy 1, and one R with 2)."""
    lines = ["written by a test", f"{model.n_bands}", f"{len(model.R)}"]
    deg = [1] * len(model.R)
    deg[0] = 2
    lines += [" ".join(str(d) for d in deg[i : i + 15]) for i in range(0, len(deg), 15)]
    for i, r in enumerate(model.R):
        r3 = list(r) + [0] * (3 - len(r))
        for n in range(model.n_bands):
            for m in range(model.n_bands):
                v = model.h_R[i, m, n] * deg[i]
                lines.append(
                    f"{r3[0]:5d}{r3[1]:5d}{r3[2]:5d}{m + 1:5d}{n + 1:5d}"
                    f"{v.real:22.15f}{v.imag:22.15f}"
                )
    path.write_text("\n".join(lines) + "\n")


class TestWannier90:
    def test_hr_round_trip(self, tmp_path):
        model = random_tight_binding(3, 3, seed=11)
        path = tmp_path / "toy_hr.dat"
        _write_hr(path, model, model.lattice)
        read = bands.read_wannier90_hr(path, lattice=model.lattice, positions=model.positions)
        k = RNG.normal(size=(5, 3))
        np.testing.assert_allclose(read.hamiltonian(k), model.hamiltonian(k), atol=1e-13)

    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            (lambda s: s.replace("\n3\n", "\nthree\n", 1), "line 3: cannot read nrpts"),
            (lambda s: s.rsplit("\n", 2)[0] + "\n", "unexpected end of file"),
            (
                lambda s: s.replace("    1    1    1    1    1", "    1    1    1    1    9", 1),
                "orbital index out of range",
            ),
            (
                lambda s: s.replace("    0    0    0    1    1", "    0    0    0    1  1.5", 1),
                "cannot read 'R1 R2 R3 m n Re Im'",
            ),
        ],
    )
    def test_malformed_hr_names_the_line(self, tmp_path, edit, message):
        model = bands.TightBinding(
            np.eye(3),
            {
                (0, 0, 0): np.eye(2),
                (1, 1, 1): 0.1 * np.ones((2, 2)),
                (-1, -1, -1): 0.1 * np.ones((2, 2)),
            },
        )
        path = tmp_path / "bad_hr.dat"
        _write_hr(path, model, np.eye(3))
        path.write_text(edit(path.read_text()))
        with pytest.raises(ValueError, match=message):
            bands.read_wannier90_hr(path)

    @staticmethod
    def _small_hr(tmp_path):
        """A valid two-orbital ``_hr.dat`` (R = 0, ±(1, 1, 1)) and its text."""
        model = bands.TightBinding(np.eye(3), {(0, 0, 0): np.eye(2),
                                               (1, 1, 1): 0.1 * np.ones((2, 2)),
                                               (-1, -1, -1): 0.1 * np.ones((2, 2))})
        path = tmp_path / "toy_hr.dat"
        _write_hr(path, model, np.eye(3))
        return path, path.read_text()

    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            # degeneracies: line 4 holds "2 1 1"
            (lambda s: s.replace("\n2 1 1\n", "\n0 1 1\n", 1),
             "line 4: Wigner-Seitz degeneracy must be >= 1, got 0"),
            (lambda s: s.replace("\n2 1 1\n", "\n2 -1 1\n", 1),
             "line 4: Wigner-Seitz degeneracy must be >= 1, got -1"),
            (lambda s: s.replace("\n2 1 1\n", "\n2 1\n1 1\n", 1),
             "line 5: more Wigner-Seitz degeneracies than nrpts = 3"),
            # non-finite hoppings pass max(1, nan) in a Hermiticity check: refused by line
            (lambda s: s.replace("0.100000000000000", "nan", 1),
             "line 13: 'R1 R2 R3 m n Re Im': not a finite number"),
            (lambda s: s.replace("0.000000000000000", "-inf", 1),
             "line 5: 'R1 R2 R3 m n Re Im': not a finite number"),
            (lambda s: s.replace("0.000000000000000", "1e999", 1),
             "line 5: 'R1 R2 R3 m n Re Im': not a finite number"),
            # counts that do not fit the file are refused before anything is allocated
            (lambda s: s.replace("\n2\n3\n", "\n100000\n3\n", 1),
             "line 3: unexpected end of file: num_wann = 100000 and nrpts = 3 need at least "
             "30000000001 more lines, the file has 13"),
            (lambda s: s.replace("\n2\n3\n", "\n2\n" + "9" * 400 + "\n", 1),
             "and nrpts = " + "9" * 57 + "... need at least"),
            (lambda s: s.replace("\n2\n3\n", "\n0\n3\n", 1), "line 2: num_wann must be >= 1"),
            (lambda s: s.replace("\n2\n3\n", "\n2.0\n3\n", 1), "line 2: cannot read num_wann"),
            (lambda s: s + "1 2 3\n", "line 17: unexpected content after the last hopping"),
            (lambda s: s.replace("   -1   -1   -1    1    1", "    0    0    0    1    1", 1),
             "line 9: the same (R, m, n) is given twice"),
            (lambda s: s.replace("   -1   -1   -1    2    2", "    2    2    2    2    2", 1),
             "line 13: more R vectors than nrpts = 3"),
            (lambda s: s.replace("   -1   -1   -1    1    2", "   -1   -1   -1    1 " + "9" * 30,
                                 1),
             "line 7: cannot read 'R1 R2 R3 m n Re Im'"),
            (lambda s: s.replace("    1    1    1    2    1     0.100000000000000",
                                 "    1    1    1    2    1     0.300000000000000", 1),
             "hoppings are not Hermitian: h(R) != h(-R)^dagger"),
        ],
    )
    def test_bad_hr_files_are_one_line_input_errors(self, tmp_path, edit, message, monkeypatch):
        monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "16 MiB")  # nothing large is allocated
        path, text = self._small_hr(tmp_path)
        path.write_text(edit(text))
        with pytest.raises(InputError) as info:
            bands.read_wannier90_hr(path)
        assert message in str(info.value)
        assert str(info.value).startswith(f"{str(path)!r}")
        assert "\n" not in str(info.value)

    def test_errors_never_echo_the_file(self, tmp_path):
        secret = "s3cr3t:x:0:0:s3cr3t:/home/s3cr3t:/bin/zsh"
        path = tmp_path / ("passwd" + "_" * 200 + "_hr.dat")
        path.write_text(f"{secret}\n{secret}\n{secret}\n")
        with pytest.raises(InputError) as info:
            bands.read_wannier90_hr(path)
        text = str(info.value)
        assert "line 2: cannot read num_wann" in text
        assert "s3cr3t" not in text and "zsh" not in text
        assert len(text) < 160  # the long path is shortened

    def test_files_that_are_not_regular_are_refused(self, tmp_path):
        fifo = tmp_path / "pipe_hr.dat"
        os.mkfifo(fifo)  # reading it would block
        for path in (tmp_path, fifo, "/dev/zero"):
            with pytest.raises(InputError, match="not a regular file"):
                bands.read_wannier90_hr(path)
        with pytest.raises(InputError, match="cannot read"):
            bands.read_wannier90_hr(tmp_path / "missing_hr.dat")

    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            (lambda lines: lines.__setitem__(1, "nan 0 0"), "line 2: lattice vector: not a finite"),
            (lambda lines: lines.__setitem__(3, "2.0 0.0 0.0"),
             "line 2: the lattice vectors are linearly dependent"),
            (lambda lines: lines.__setitem__(-1, "2 2 0 0 0 0 nan 0"),
             "line 43: 'm n Re(x) Im(x) Re(y) Im(y) Re(z) Im(z)': not a finite number"),
            (lambda lines: lines.__delitem__(-1), "line 43: unexpected end of file"),
            (lambda lines: lines.__setitem__(-1, "2 3 0 0 0 0 0 0"),
             "line 43: orbital index out of range 1..2"),
        ],
    )
    def test_bad_tb_files_are_one_line_input_errors(self, tmp_path, edit, message):
        _, path = self._write_tb(tmp_path)
        lines = path.read_text().splitlines()
        edit(lines)
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(InputError) as info:
            bands.read_wannier90_tb(path)
        assert message in str(info.value)

    def test_non_finite_models_are_refused_where_they_are_built(self):
        with pytest.raises(ValueError, match="must be finite numbers"):
            bands.TightBinding(np.eye(2), {(0, 0): [[np.nan]]})
        with pytest.raises(ValueError, match="not finite"):
            bands.TightBinding([[1.0, 0.0], [0.0, np.inf]], {(0, 0): [[1.0]]})
        with pytest.raises(ValueError, match="not finite"):
            bands.check_hermitian(np.array([[np.nan, 0.0], [0.0, 1.0]]))

    @staticmethod
    def _write_tb(tmp_path):
        """A two-orbital model with positions and its ``_tb.dat`` file: ``(model, path)``."""
        model = bands.TightBinding(
            np.diag([1.0, 2.0, 3.0]),
            {
                (0, 0, 0): np.diag([0.5, -0.5]),
                (1, 0, 0): [[0.1, 0.2j], [0.3, 0.0]],
                (-1, 0, 0): np.conj([[0.1, 0.2j], [0.3, 0.0]]).T,
            },
            positions=[[0.0, 0.0, 0.0], [0.5, 0.25, 0.1]],
        )
        lines = ["tb file", "1.0 0.0 0.0", "0.0 2.0 0.0", "0.0 0.0 3.0", "2",
                 f"{len(model.R)}", " ".join("1" for _ in model.R)]
        for i, r in enumerate(model.R):
            lines += ["", " ".join(str(x) for x in r)]
            for n in range(2):
                for m in range(2):
                    v = model.h_R[i, m, n]
                    lines.append(f"{m + 1} {n + 1} {v.real:.15f} {v.imag:.15f}")
        cart = model.positions @ model.lattice
        for r in model.R:
            lines += ["", " ".join(str(x) for x in r)]
            for n in range(2):
                for m in range(2):
                    x = cart[m] if (m == n and not np.any(r)) else np.zeros(3)
                    lines.append(f"{m + 1} {n + 1} {x[0]} 0 {x[1]} 0 {x[2]} 0")
        path = tmp_path / "toy_tb.dat"
        path.write_text("\n".join(lines) + "\n")
        return model, path

    def test_tb_dat_with_positions(self, tmp_path):
        model, path = self._write_tb(tmp_path)
        read = bands.read_wannier90_tb(path)
        np.testing.assert_allclose(read.positions, model.positions, atol=1e-14)
        k = RNG.normal(size=(4, 3))
        np.testing.assert_allclose(read.hamiltonian(k), model.hamiltonian(k), atol=1e-13)


class TestWannier90Replicas:
    """``_wsvec.dat`` (MDRS) and the position block of ``_tb.dat``."""

    @staticmethod
    def _files(tmp_path, blocks: dict, model=None):
        """A two-orbital ``_hr.dat`` and a ``_wsvec.dat`` with the given replica blocks."""
        model = model or bands.TightBinding(
            np.eye(3), {(0, 0, 0): [[0.3, 0.1], [0.1, -0.3]],
                        (1, 0, 0): [[0.2, 0.05j], [0.4, 0.1]],
                        (-1, 0, 0): np.conj([[0.2, 0.05j], [0.4, 0.1]]).T})
        hr = tmp_path / "toy_hr.dat"
        _write_hr(hr, model, np.eye(3))
        lines = ["## written by a test with use_ws_distance=.true."]
        for (r1, r2, r3, m, n), shifts in blocks.items():
            lines += [f"{r1:5d}{r2:5d}{r3:5d}{m:5d}{n:5d}", f"{len(shifts):5d}"]
            lines += [f"{t[0]:5d}{t[1]:5d}{t[2]:5d}" for t in shifts]
        ws = tmp_path / "toy_wsvec.dat"
        ws.write_text("\n".join(lines) + "\n")
        return model, hr, ws

    def test_mdrs_spreads_each_hopping_over_its_replicas(self, tmp_path):
        """h_mn(R) → (1/M) Σ_i h_mn(R) e^{ik(R + T_i)}: the pair (1, 2) at R = (1, 0, 0) split
        over R and R + (−2, 0, 0), its Hermitian partner (2, 1) at −R over −R and −R + (2, 0,
        0), as Wannier90 writes them; other pairs stay."""
        shift = {(1, 0, 0, 1, 2): [(0, 0, 0), (-2, 0, 0)],
                 (-1, 0, 0, 2, 1): [(0, 0, 0), (2, 0, 0)]}
        model, hr, ws = self._files(tmp_path, shift)
        read = bands.read_wannier90_hr(hr, wsvec=ws)
        k = RNG.normal(size=(6, 3))
        expected = model.hamiltonian(k)
        h12 = model.h_R[np.nonzero((model.R == [1, 0, 0]).all(1))[0][0], 0, 1]
        moved = 0.5 * h12 * (np.exp(-2j * k[:, 0]) - 1) * np.exp(1j * k[:, 0])
        expected[:, 0, 1] += moved
        expected[:, 1, 0] += np.conj(moved)
        np.testing.assert_allclose(read.hamiltonian(k), expected, atol=1e-14)
        assert {tuple(r) for r in read.R} >= {(-1, 0, 0), (1, 0, 0)}

    def test_unbalanced_replicas_break_hermiticity_and_bad_files_name_the_line(self, tmp_path):
        _, hr, ws = self._files(tmp_path, {(1, 0, 0, 1, 2): [(0, 0, 0), (-2, 0, 0)]})
        with pytest.raises(ValueError, match="not Hermitian"):
            bands.read_wannier90_hr(hr, wsvec=ws)
        for text, message in (("x\n1 0 0 1\n1\n0 0 0\n", "line 2: expected 5 values"),
                              ("x\n1 0 0 1 3\n1\n0 0 0\n", "orbital index out of range"),
                              ("x\n1 0 0 1 2\n0\n", "number of replicas must be >= 1"),
                              ("x\n1 0 0 1 2\n1\n0 0\n", "line 4: expected 3 values"),
                              ("x\n1 0 0 1 2\n1\n0 0 0\n1 0 0 1 2\n1\n0 0 0\n",
                               "line 5: the same \\(R, m, n\\) is given twice")):
            ws.write_text(text)
            with pytest.raises(ValueError, match=message):
                bands.read_wannier90_hr(hr, wsvec=ws)

    def test_tb_position_block_is_kept_whole(self, tmp_path):
        """Off-diagonal ⟨m,0|r|n,R⟩ survive (divided by the degeneracy of R, like the
        hoppings), and MDRS moves them with the hoppings."""
        lines = ["tb", "1 0 0", "0 1 0", "0 0 1", "2", "3", "1 2 2"]
        hop = {(0, 0, 0): [[0.5, 0.1], [0.1, -0.5]], (1, 0, 0): [[0.2, 0.3], [0.1, 0.0]],
               (-1, 0, 0): [[0.2, 0.1], [0.3, 0.0]]}
        pos = {(0, 0, 0): [[0.0, 0.2], [0.2, 0.5]], (1, 0, 0): [[0.1, 0.4j], [0.0, 0.0]],
               (-1, 0, 0): [[0.1, 0.0], [-0.4j, 0.0]]}   # x(−R) = x(R)†
        deg = {(0, 0, 0): 1, (1, 0, 0): 2, (-1, 0, 0): 2}
        for table, kind in ((hop, "h"), (pos, "x")):
            for r, mat in table.items():
                lines += ["", " ".join(map(str, r))]
                for n in range(2):
                    for m in range(2):
                        v = complex(np.asarray(mat)[m, n]) * deg[r]
                        lines.append(f"{m + 1} {n + 1} {v.real} {v.imag}" if kind == "h" else
                                     f"{m + 1} {n + 1} {v.real} {v.imag} 0 0 0 0")
        path = tmp_path / "toy_tb.dat"
        path.write_text("\n".join(lines) + "\n")
        read = bands.read_wannier90_tb(path)
        for r, mat in pos.items():
            i = np.nonzero((read.R == r).all(1))[0][0]
            np.testing.assert_allclose(read.position_matrix[i, :, :, 0], mat, atol=1e-15)
        np.testing.assert_allclose(read.positions[:, 0], [0.0, 0.5])
        ws = tmp_path / "toy_wsvec.dat"
        ws.write_text("#\n1 0 0 1 2\n2\n0 0 0\n-2 0 0\n-1 0 0 2 1\n2\n0 0 0\n2 0 0\n")
        moved = bands.read_wannier90_tb(path, wsvec=ws)
        i = np.nonzero((moved.R == [-1, 0, 0]).all(1))[0][0]
        assert moved.position_matrix[i, 0, 1, 0] == pytest.approx(0.2j)
        assert read.connection(np.zeros((1, 3))) is None          # centres: no connection
        full = bands.read_wannier90_tb(path, position_operator="full")
        a, da = full.connection(np.zeros((1, 3)))
        assert a.shape == (1, 3, 2, 2) and da.shape == (1, 3, 3, 2, 2)
        np.testing.assert_allclose(a[0], np.conj(np.swapaxes(a[0], -1, -2)), atol=1e-15)
        path.write_text("\n".join(lines[:7 + 3 * 6]) + "\n")      # the hoppings only
        with pytest.raises(ValueError, match="'full' needs the position block"):
            bands.read_wannier90_tb(path, position_operator="full")


def _rotated_basis_model(position_operator: str, seed: int = 3):
    """A 3-orbital 2D model with orbitals at distinct positions (the tight-binding position
    operator diag τ is exact for it), and the same model in a basis rotated by a random
    constant unitary U: hoppings U†h(R)U, position matrix U† diag(τ) U at R = 0, which has
    off-diagonal elements between orbitals at different places."""
    rng = np.random.default_rng(seed)
    lat = np.array([[1.0, 0.0], [0.3, 1.1]])
    hop = {}
    for r in [(0, 0), (1, 0), (0, 1), (1, 1), (1, -1)]:
        m = 0.4 * (rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3)))
        hop[r] = m + m.conj().T if r == (0, 0) else m
        if r != (0, 0):
            hop[(-r[0], -r[1])] = m.conj().T
    pos = np.array([[0.0, 0.0], [0.5, 0.2], [0.1, 0.6]])
    base = bands.TightBinding(lat, hop, pos)
    u, _ = np.linalg.qr(rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3)))
    h_rot = np.einsum("ab,rbc,cd->rad", u.conj().T, base.h_R, u)
    tau = np.zeros((3, 3, 3))
    tau[np.arange(3), np.arange(3), :2] = pos @ lat
    x = np.zeros((len(base.R), 3, 3, 3), dtype=complex)
    origin = np.nonzero(~base.R.any(axis=1))[0][0]
    x[origin] = np.einsum("ab,bcx,cd->adx", u.conj().T, tau, u)
    centres = np.diagonal(x[origin], axis1=0, axis2=1).T.real[:, :2] @ np.linalg.inv(lat)
    rotated = bands.TightBinding(lat, (base.R, h_rot), centres, position_matrix=x,
                                 position_operator=position_operator)
    return base, rotated


def test_full_position_operator_makes_the_berry_curvature_basis_independent():
    """Wang, Yates, Souza and Vanderbilt's Eq. 27: a constant rotation of the orbital basis
    changes neither the bands nor, with the whole position matrix, the Berry curvature
    (2e-15 of 1.0 measured) and the anomalous Hall conductivity; the tight-binding
    approximation (centres only) gets the curvature wrong by 0.31 and σ_xy by 0.05."""
    from boltzphlow.geometry import berry
    from boltzphlow.observables import anomalous_hall

    base, full = _rotated_basis_model("full")
    _, centres = _rotated_basis_model("centres")
    k = RNG.uniform(-3, 3, size=(9, 2))
    np.testing.assert_allclose(np.linalg.eigvalsh(full.hamiltonian(k)),
                               np.linalg.eigvalsh(base.hamiltonian(k)), atol=1e-13)
    ref = berry.berry_curvature(base, k)
    np.testing.assert_allclose(berry.berry_curvature(full, k), ref, atol=1e-12)
    assert np.abs(berry.berry_curvature(centres, k) - ref).max() > 0.1
    mu = [-0.5, 0.0, 0.5]
    sigma = anomalous_hall(base, mu, 0.05, (24, 24))
    np.testing.assert_allclose(anomalous_hall(full, mu, 0.05, (24, 24)), sigma, atol=1e-12)
    assert np.abs(anomalous_hall(centres, mu, 0.05, (24, 24)) - sigma).max() > 0.01
    with pytest.raises(ValueError, match="orbital moment and the covariant derivatives are not"):
        next(iter(__import__("boltzphlow").kspace.band_chunks(full, (8, 8),
                                                              orbital_moment=True)))


def test_pythtb_spinful_model_keeps_its_hamiltonian():
    """A spinful PythTB model (2 x 2 on-site matrices with a spin-flip term, spin-dependent
    hoppings) becomes 2N orbitals in PythTB's own (orbital, spin) order: H(k) equal to
    PythTB's to round-off."""
    pythtb = pytest.importorskip("pythtb")
    lat = [[1.0, 0.0], [0.5, np.sqrt(3) / 2]]
    m = pythtb.tb_model(2, 2, lat, [[1 / 3, 1 / 3], [2 / 3, 2 / 3]], nspin=2)
    m.set_onsite([[0.1, 0.2, 0.0, 0.3], [-0.1, 0.0, 0.05, 0.0]])
    for r in ([0, 0], [-1, 0], [0, -1]):
        m.set_hop(1.0, 0, 1, r)
    for r in ([1, 0], [-1, 1], [0, -1]):
        m.set_hop([0, 0, 0, 0.1j], 0, 0, r)
        m.set_hop([0, 0.05, 0, -0.1j], 1, 1, r)
    tb = bands.from_pythtb(m)
    assert tb.n_bands == 4 and tb.name == "pythtb-spinful"
    k_reduced = RNG.uniform(-1, 1, size=(5, 2))
    h = tb.hamiltonian(k_reduced @ tb.reciprocal)
    for i, kr in enumerate(k_reduced):
        np.testing.assert_allclose(h[i], m._gen_ham(kr).reshape(4, 4), atol=1e-13)


def test_pythtb_import_reproduces_haldane():
    pythtb = pytest.importorskip("pythtb")
    lat = [[1.0, 0.0], [0.5, np.sqrt(3) / 2]]
    m = pythtb.tb_model(2, 2, lat, [[1 / 3, 1 / 3], [2 / 3, 2 / 3]])
    m.set_onsite([0.2, -0.2])
    for r in ([0, 0], [-1, 0], [0, -1]):
        m.set_hop(1.0, 0, 1, r)
    for r in ([1, 0], [-1, 1], [0, -1]):
        m.set_hop(0.15j, 0, 0, r)
        m.set_hop(-0.15j, 1, 1, r)
    tb = bands.from_pythtb(m)
    h = bands.haldane()
    k = RNG.normal(size=(5, 2))
    np.testing.assert_allclose(tb.hamiltonian(k), h.hamiltonian(k), atol=1e-13)


def test_continuum_model_k_box():
    d = bands.massive_dirac(k_max=2.0)
    mesh = d.mesh((4, 4))
    assert mesh.shift == (0.5, 0.5)
    k = d.k_cartesian(mesh.fractional())
    np.testing.assert_allclose(np.unique(k[:, 0]), [-1.5, -0.5, 0.5, 1.5])
    assert isinstance(d, bands.Hamiltonian)
    assert isinstance(bands.haldane(), bands.Hamiltonian)


# --------------------------------------------------------------------------------------------
# Brillouin zones, high-symmetry points, k-paths (bands.paths) and the model registry


def _lattices() -> dict[str, tuple[np.ndarray, dict]]:
    """Reciprocal lattice and point set of each lattice of the built-in models."""
    from boltzphlow.bands import paths

    return {"square": (bands.qi_wu_zhang().reciprocal, paths.SQUARE),
            "hexagonal": (bands.haldane().reciprocal, paths.HEXAGONAL),
            "simple cubic": (bands.weyl_lattice().reciprocal, paths.SIMPLE_CUBIC),
            "fcc": (bands.p_band_model().reciprocal, paths.FCC)}


def _shortest_distance_to_other_lattice_points(k: np.ndarray, recip: np.ndarray) -> float:
    """min over G ≠ 0 of |k - G| (reciprocal vectors with coefficients -2..2)."""
    d = recip.shape[0]
    grid = np.stack(np.meshgrid(*[np.arange(-2, 3)] * d, indexing="ij"), -1).reshape(-1, d)
    g = grid[np.any(grid != 0, axis=1)] @ recip
    return float(np.linalg.norm(k - g, axis=1).min())


class TestBrillouinZone:
    @pytest.mark.parametrize("lattice", ["square", "hexagonal", "simple cubic", "fcc"])
    def test_named_points_other_than_gamma_lie_on_the_zone_boundary(self, lattice):
        """Bragg plane: |k| = min_G |k - G|, the definition of the zone boundary."""
        recip, points = _lattices()[lattice]
        for name, k in points.items():
            k = np.asarray(k)
            other = _shortest_distance_to_other_lattice_points(k, recip)
            if name == "G":
                assert other == pytest.approx(np.linalg.norm(recip, axis=1).min(), rel=1e-12)
            else:
                assert np.linalg.norm(k) == pytest.approx(other, rel=1e-12), name

    @pytest.mark.parametrize("lattice, n_vertices", [("square", 4), ("hexagonal", 6),
                                                     ("simple cubic", 8), ("fcc", 24)])
    def test_zone_vertices_count_and_volume(self, lattice, n_vertices):
        from scipy.spatial import ConvexHull

        recip, _ = _lattices()[lattice]
        vertices = bands.brillouin_zone(recip)
        assert len(vertices) == n_vertices
        # the zone tiles k-space: its volume is that of the reciprocal cell
        assert ConvexHull(vertices).volume == pytest.approx(abs(np.linalg.det(recip)),
                                                            rel=1e-12)
        for k in vertices:  # every vertex is as close to Γ as to its nearest other point
            assert np.linalg.norm(k) == pytest.approx(
                _shortest_distance_to_other_lattice_points(k, recip), rel=1e-10)

    def test_hexagonal_zone_corners_are_k_and_k_prime_and_counter_clockwise(self):
        vertices = bands.brillouin_zone(bands.haldane().reciprocal)
        np.testing.assert_allclose(np.linalg.norm(vertices, axis=1), 4 * np.pi / 3, rtol=1e-12)
        angles = np.arctan2(vertices[:, 1], vertices[:, 0])
        assert np.all(np.diff(angles) > 0)
        k = np.array(bands.paths.HEXAGONAL["K"])
        assert np.min(np.linalg.norm(vertices - k, axis=1)) < 1e-12

    def test_graphene_limit_is_gapless_at_k_and_k_prime(self):
        """Haldane with t2 = m = 0 is graphene: Dirac points at the named K and K'."""
        h = bands.haldane(t2=0.0, m=0.0)
        points = bands.high_symmetry_points("haldane")
        e = np.linalg.eigvalsh(h.hamiltonian(np.array([points["K"], points["K'"],
                                                         points["M"]])))
        np.testing.assert_allclose(e[:2, 1] - e[:2, 0], 0.0, atol=1e-12)
        assert e[2, 1] - e[2, 0] == pytest.approx(2.0, rel=1e-12)  # |t1 (1 + 2 cos π)| · 2


class TestPaths:
    def test_sample_path_spreads_points_by_length_and_keeps_the_corners(self):
        corners = np.array([[0.0, 0.0], [np.pi, 0.0], [np.pi, np.pi], [0.0, 0.0]])
        ticks, distance, k = bands.sample_path(corners, 5)
        total = 2 * np.pi + np.sqrt(2) * np.pi
        np.testing.assert_allclose(ticks, [0, np.pi, 2 * np.pi, total], rtol=1e-15)
        assert len(distance) == 5 + 4 - 2
        np.testing.assert_allclose(distance, np.sort(np.r_[np.linspace(0, total, 5),
                                                             np.pi, 2 * np.pi]), rtol=1e-15)
        for tick, corner in zip(ticks, corners, strict=True):  # corners exactly on the path
            np.testing.assert_allclose(k[np.argmin(abs(distance - tick))], corner, atol=1e-15)
        # every point is at its distance from the start along the segments
        steps = np.linalg.norm(np.diff(k, axis=0), axis=1)
        np.testing.assert_allclose(np.cumsum(steps), distance[1:], rtol=1e-13)

    def test_coinciding_corners_and_unknown_names_are_errors(self):
        with pytest.raises(ValueError, match="all points coincide"):
            bands.path_ticks(np.zeros((3, 2)))
        with pytest.raises(ValueError, match=r"unknown point 'X' \(known: G, K, K', M\)"):
            bands.path_corners(["G", "X"], bands.high_symmetry_points("haldane"))

    def test_path_corners_labels_and_coordinates(self):
        h = bands.haldane()
        labels, corners = bands.path_corners(
            ["G", [0.5, 0.0], "K"], bands.high_symmetry_points("haldane"),
            lambda f: f @ h.reciprocal)
        assert labels == ["Γ", "(0.5, 0)", "K"]
        np.testing.assert_allclose(corners[1], 0.5 * h.reciprocal[0], rtol=1e-15)
        np.testing.assert_allclose(corners[2], [4 * np.pi / 3, 0.0], rtol=1e-15)


class TestRegistry:
    @pytest.mark.parametrize("name", sorted(bands.MODEL_KINDS))
    def test_kind_describes_its_model(self, name):
        kind = bands.MODEL_KINDS[name]
        known = kind.points(None)
        assert "G" in known and all(len(k) == kind.dim for k in known.values())
        assert set(kind.default_path) <= set(known)
        if kind.parameters is None:  # read from a file
            with pytest.raises(ValueError, match="read from a file"):
                kind.model(None)
            return
        h = kind.model(kind.parameters())
        assert (h.dim, h.periodic) == (kind.dim, kind.lattice)
        assert len(kind.default_path) >= 2

    @pytest.mark.parametrize("name", sorted(set(bands.MODEL_KINDS) - {"wannier90"}))
    def test_parameters_are_declared_once(self, name):
        """The builder's defaults are the dataclass's, and every parameter says its unit and
        meaning (the source of the geometry job's config keys and docs)."""
        import dataclasses
        import inspect

        from boltzphlow.parameters import parameters_of

        kind = bands.MODEL_KINDS[name]
        declared = parameters_of(kind.parameters)
        signature = inspect.signature(kind.build).parameters
        assert list(declared) == list(signature)
        for key, par in declared.items():
            assert signature[key].default == par.default, key
            assert par.unit and par.doc, key
        k = RNG.normal(size=(4, kind.dim))
        default = kind.build().hamiltonian(k)
        np.testing.assert_array_equal(kind.model(kind.parameters()).hamiltonian(k), default)
        changed = dataclasses.replace(kind.parameters(), **{next(iter(declared)): 0.37})
        assert not np.allclose(kind.model(changed).hamiltonian(k), default)

    def test_weyl_points_follow_the_nodes(self):
        params = bands.WeylLatticeParameters(k0=1.1, b0=0.2)
        h = bands.MODEL_KINDS["weyl_lattice"].model(params)
        points = bands.high_symmetry_points("weyl_lattice", params)
        np.testing.assert_array_equal(points["W1"], h.nodes[0].k)
        np.testing.assert_array_equal(points["W2"], h.nodes[1].k)
        e = np.linalg.eigvalsh(h.hamiltonian(np.array([points["W1"], points["W2"]])))
        np.testing.assert_allclose(e[:, 1] - e[:, 0], 0.0, atol=1e-12)

    def test_box_points_scale_with_k_max(self):
        params = bands.Rashba2degParameters(k_max=2.5)
        points = bands.high_symmetry_points("rashba_2deg", params)
        np.testing.assert_array_equal(points["M"], [2.5, 2.5])
        np.testing.assert_array_equal(bands.high_symmetry_points("rashba_2deg")["X"], [1, 0])


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_parabolic_band_energy_velocity_and_refusals(dim):
    """``parabolic_band``: ε = k²/2m and v = k/m at random points (exact), a flat Berry
    curvature of zero, the registry builds it, and bad parameters are refused in one line."""
    rng = np.random.default_rng(dim)
    h = bands.parabolic_band(mass=0.7, k_max=2.0, dim=dim)
    k = rng.uniform(-2, 2, size=(5, dim))
    assert np.allclose(h.hamiltonian(k)[:, 0, 0].real, (k ** 2).sum(-1) / 1.4, rtol=1e-14)
    assert np.allclose(h.velocity(k)[:, :, 0, 0].real, k / 0.7, rtol=1e-14)
    assert h.dim == dim and h.n_bands == 1 and not h.periodic
    kind = bands.MODEL_KINDS["parabolic"]
    assert kind.model(kind.parameters(mass=0.7, k_max=2.0)).dim == 2
    with pytest.raises(ValueError, match="mass"):
        bands.parabolic_band(mass=0.0)
    with pytest.raises(ValueError, match="dim"):
        bands.parabolic_band(dim=4)
