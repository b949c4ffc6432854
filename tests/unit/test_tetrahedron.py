r"""The linear tetrahedron energy δ (scattering.tetrahedron).

Tolerances follow from the method (Blöchl, Jepsen and Andersen, PRB 49, 16223 (1994)): it is
exact for a band linear in k on each simplex, so its error is that of the linear
interpolation of ε, ``O(h^2)`` in the mesh spacing h.  At one energy the density of states
of a 2D band also carries a fluctuating part: the interpolated gradient on each triangle is
off by ``~ h |ε''|`` with zero mean over the triangle, and the ``~ k_F/h`` triangles along
the Fermi line add these incoherently, a relative error ``~ (h |ε''|/|v|) (h/k_F)^{1/2} =
(h/k_F)^{3/2}`` for the bands used here (``|ε''| k_F/|v| ≤ 1``).  That bound is asserted at
one energy (it holds in 3D too, with a measured constant ≈ 0.1); the ``O(h^2)`` order is
fitted where the δ is averaged over a thermal layer, as a transport coefficient averages it.
"""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import ellipk

import boltzphlow as bp
import boltzphlow.bands as bands
from boltzphlow.bands.hamiltonian import ContinuumModel, TightBinding
from boltzphlow.kspace import KStates
from boltzphlow.scattering.base import Gaussian, pair_blocks
from boltzphlow.scattering.tetrahedron import (
    LinearTetrahedron,
    _first_vertex_weight,
    _kuhn,
    _triangle_first_weight,
    mesh_simplices,
    simplex_delta_weights,
)

TET = LinearTetrahedron()


def parabolic(dim: int, k_max: float) -> ContinuumModel:
    """One band ``ε = k^2/2`` (m = 1) on the box ``[-k_max, k_max)^dim``."""
    return bp.bands.parabolic_band(mass=1.0, k_max=k_max, dim=dim)


def linear(slope: np.ndarray, k_max: float) -> ContinuumModel:
    """One band ``ε = slope · k``."""
    slope = np.asarray(slope, float)
    return ContinuumModel(lambda k: (k @ slope)[..., None, None], 1, len(slope), k_max,
                          velocity=lambda k: np.broadcast_to(
                              slope.astype(complex)[:, None, None],
                              k.shape[:-1] + (len(slope), 1, 1)))


def states_of(h, n: int, window) -> KStates:
    return KStates.build(h, (n,) * h.dim, window, curvature=False, orbital_moment=False)


def dos(states: KStates, energy: float, method=TET) -> float:
    """``Σ_c w_c δ(ε_c - E)`` = ``∫ d^dk δ(ε(k) - E)`` (summed over bands)."""
    cols = np.arange(len(states))
    mismatch = lambda r, c: states.energy[c] - energy  # noqa: E731
    if isinstance(method, LinearTetrahedron):
        w = method.integration_weights(states, cols, cols, mismatch)
    else:
        w = method.weights(states, cols, cols, mismatch)
    return float(np.sum(states.weight * w))


def order(h: np.ndarray, err: np.ndarray) -> float:
    """Slope of log|err| against log h (least squares)."""
    return float(np.polyfit(np.log(h), np.log(np.abs(err)), 1)[0])


# --------------------------------------------------------------------------- one simplex
class TestSimplex:
    @pytest.mark.parametrize("dim", [1, 2, 3])
    def test_moments_of_the_vertex_weights(self, dim):
        r"""``∫ dE W_i(F - E) = 1/(d+1)`` and ``∫ dE E W_i = (Σ_j F_j + F_i)/((d+1)(d+2))``
        (the integrals of ``λ_i`` and ``λ_i F`` over a unit simplex), with two vertices tied
        in 2D and 3D (in 1D a tie is a flat interval, weight 0).

        Trapezoid rule with spacing ΔE (2·10^5 points): the weights are piecewise polynomial
        with kinks (error ``O(ΔE^2)``, 1e-8 allowed) or, in 1D and at a tie, jumps of at
        most ``max W`` (error ``≤ max W · ΔE``)."""
        rng = np.random.default_rng(dim)
        for tie in (False, True)[:dim]:
            f = rng.normal(size=dim + 1)
            if tie:
                f[-1] = f[0]
            e = np.linspace(f.min() - 0.1, f.max() + 0.1, 200001)
            w = simplex_delta_weights(f[None, :] - e[:, None])
            tol = w.max() * (e[1] - e[0]) if dim == 1 or tie else 1e-8
            np.testing.assert_allclose(np.trapezoid(w, e, axis=0) * (dim + 1), 1.0, atol=tol)
            np.testing.assert_allclose(np.trapezoid(w * e[:, None], e, axis=0)
                                       * (dim + 1) * (dim + 2), f.sum() + f, atol=tol * 10)

    def test_densities_against_closed_forms(self):
        """``Σ_i W_i`` is the density: ``1/|Δ|`` (interval), ``2x/(e10 e20)`` (triangle)
        and, for the quadrilateral section of a tetrahedron, the truncated-power form
        ``3[e0^2/(e10 e20 e30) - e1^2/(e10 e21 e31)]`` (Lambin and Vigneron)."""
        assert simplex_delta_weights(np.array([-1.0, 3.0])).sum() == pytest.approx(0.25)
        e = np.array([-1.0, 2.0, 3.0])
        assert simplex_delta_weights(e).sum() == pytest.approx(2 * 1 / (3 * 4))
        e = np.array([-2.0, -0.5, 1.0, 4.0])
        cancel = 3 * (e[0] ** 2 / ((e[1] - e[0]) * (e[2] - e[0]) * (e[3] - e[0]))
                      - e[1] ** 2 / ((e[1] - e[0]) * (e[2] - e[1]) * (e[3] - e[1])))
        assert simplex_delta_weights(e).sum() == pytest.approx(cancel, rel=1e-13)

    def test_ties_and_flat_simplices(self):
        """A vertex exactly at E = 0: the mean of the one-sided limits; tied vertices get
        equal weights; F ≡ 0 gives 0; the fast vertex-0 path equals the general one."""
        np.testing.assert_allclose(simplex_delta_weights(np.array([0.0, 0.0, 1.0])),
                                   [0.5, 0.5, 0.0])
        w = simplex_delta_weights(np.array([-1.0, 0.5, -1.0, 2.0]))
        assert w[0] == pytest.approx(w[2], rel=1e-13)
        assert not simplex_delta_weights(np.zeros(4)).any()
        rng = np.random.default_rng(7)
        for n in (2, 3, 4):
            v = rng.normal(size=(500, n))
            v[:50, 1] = v[:50, 0]
            v[50:100, 0] = 0.0
            v[100:150, -1] = 0.0
            np.testing.assert_allclose(_first_vertex_weight(list(v.T)),
                                       simplex_delta_weights(v)[:, 0], rtol=1e-13, atol=0)
            if n == 3:  # the sort-free closed form of the triangles
                v[150:200, 1] = 0.0
                v[200:250, 2] = v[200:250, 1]
                np.testing.assert_allclose(_triangle_first_weight(*v.T),
                                           simplex_delta_weights(v)[:, 0], rtol=1e-13, atol=0)
        with pytest.raises(ValueError, match="2-4 vertices"):
            simplex_delta_weights(np.zeros(5))


# --------------------------------------------------------------------------- the mesh
class TestMesh:
    @pytest.mark.parametrize("dim, count", [(1, 2), (2, 6), (3, 24)])
    def test_each_point_is_a_vertex_of_d_factorial_times_d_plus_1_simplices(self, dim, count):
        offsets, simplices = _kuhn(np.ones(dim, dtype=np.int64))
        assert simplices.shape == (count, dim)
        assert len(offsets) == 2 * (2 ** dim - 1)
        # every diagonal of a square or cube: all 3^d - 1 neighbours
        diagonals = [np.array((1,) + rest) for rest in
                     product((1, -1), repeat=dim - 1)]
        offsets, simplices = _kuhn(*diagonals)
        assert simplices.shape == (count * len(diagonals), dim)
        assert len(offsets) == 3 ** dim - 1

    @pytest.mark.parametrize("model", ["box", "lattice"])
    def test_single_steps_are_the_kstates_neighbours(self, model):
        h = bands.massive_dirac(v=1.0, delta=1.0, k_max=3.0) if model == "box" else \
            bands.qi_wu_zhang(m=-1.0)
        s = states_of(h, 24, (0.5, 2.5))
        mesh = mesh_simplices(s)
        assert mesh_simplices(s) is mesh  # cached per KStates
        for axis in range(2):
            for step in (1, -1):
                offset = np.zeros(2, dtype=np.int64)
                offset[axis] = step
                j = int(np.flatnonzero((mesh.offsets == offset).all(axis=1))[0])
                np.testing.assert_array_equal(mesh.neighbours[:, j], s.neighbours(axis, step))

    def test_shortest_diagonal_on_a_triangular_lattice(self):
        """The same triangular lattice with primitive vectors at 60° and at 120°: the
        cells' shortest diagonals cut both meshes into the same equilateral triangles, so
        the densities of states agree to round-off (the other diagonal would not)."""
        a1, a2 = np.array([1.0, 0.0]), np.array([0.5, np.sqrt(3) / 2])
        hop = {(1, 0): [[-1.0]], (-1, 0): [[-1.0]], (0, 1): [[-1.0]], (0, -1): [[-1.0]],
               (1, -1): [[-1.0]], (-1, 1): [[-1.0]]}
        hop120 = {(1, 0): [[-1.0]], (-1, 0): [[-1.0]], (1, 1): [[-1.0]], (-1, -1): [[-1.0]],
                  (0, 1): [[-1.0]], (0, -1): [[-1.0]]}
        s60 = states_of(TightBinding(np.array([a1, a2]), hop), 30, (-1.5, 0.5))
        s120 = states_of(TightBinding(np.array([a1, a2 - a1]), hop120), 30, (-1.5, 0.5))
        assert mesh_simplices(s60).diagonals.tolist() == [[1, 1]]
        assert mesh_simplices(s120).diagonals.tolist() == [[1, -1]]
        for energy in (-0.7, -0.3):
            assert dos(s60, energy) == pytest.approx(dos(s120, energy), rel=1e-11)

    def test_square_mesh_keeps_its_mirror_symmetry(self):
        """On a square mesh both cell diagonals are equally short: the two triangulations are
        averaged, so the weights of mirror-image states (k_x → -k_x, k_x ↔ k_y) agree to
        round-off (one triangulation alone breaks the mirror by ``O(h^2)``)."""
        s = states_of(bands.massive_dirac(v=1.0, delta=1.0, k_max=3.0), 30, (1.2, 2.8))
        assert mesh_simplices(s).n_triangulations == 2
        cols = np.arange(len(s))
        w = TET.integration_weights(s, cols, cols, lambda r, c: s.energy[c] - 2.0)
        assert np.count_nonzero(w) > 50
        index = {tuple(k): i for i, k in enumerate(np.round(s.k / (6.0 / 30) * 2).astype(int))}
        for image in ([-1, 1], [1, -1]):
            for swap in (False, True):
                key = np.round(s.k / (6.0 / 30) * 2).astype(int) * image
                key = key[:, ::-1] if swap else key
                mirror = np.array([index[tuple(k)] for k in key])
                np.testing.assert_allclose(w[mirror], w, rtol=1e-12, atol=1e-12 * w.max())

    def test_reduced_states_are_refused(self):
        h = bands.haldane(t1=1.0, t2=0.15, phi=np.pi / 2, m=0.2)
        s = KStates.build(h, (12, 12), (0.5, 1.5), use_symmetry=True)
        with pytest.raises(ValueError, match="full k-mesh"):
            TET.cutoff(s)

    def test_cutoff_bounds_every_nonzero_weight(self):
        """Every pair with a nonzero weight has ``|ε_c - ε_r| ≤ cutoff`` (all pairs of a
        small mesh, elastic mismatch), and the cutoff is about one mesh step of energy."""
        s = states_of(bands.massive_dirac(v=1.0, delta=1.0, k_max=3.0), 40, (1.6, 2.4))
        cut = TET.cutoff(s)
        rows, cols = np.triu_indices(len(s), 1)
        mismatch = lambda r, c: s.energy[c] - s.energy[r]  # noqa: E731
        w = TET.weights(s, rows, cols, mismatch)
        assert np.any(w > 0)
        assert np.abs(mismatch(rows, cols)[w != 0]).max() <= cut
        assert cut == pytest.approx(np.sqrt(2) * 6 / 40 * 0.92, rel=0.1)  # |v| h √2


# --------------------------------------------------------------------------- exactness
class TestLinearBands:
    @pytest.mark.parametrize("slope", [[1.3, 0.4], [0.9, -0.3, 0.2]])
    def test_exact_for_a_linear_band(self, slope):
        """``∫ d^dk δ(a·k)`` over the hull of the mesh points, ``[-K', K']^d`` with
        ``K' = K - h/2`` (the box edge cells hold no simplex): the zero plane leaves through
        the faces ``k_x = ±K'`` (``|a_x| > Σ|a_j|``), so the integral is
        ``(2K')^{d-1}/|a_x|``; the interpolation is exact, the error round-off."""
        slope = np.asarray(slope)
        k_max, n = 2.0, 21
        s = states_of(linear(slope, k_max), n, (-1.0, 1.0))
        hull = k_max - k_max / n
        exact = (2 * hull) ** (len(slope) - 1) / slope[0]
        assert dos(s, 0.0) == pytest.approx(exact, rel=1e-12)


# --------------------------------------------------------------------------- density of states
class TestDensityOfStates:
    def test_1d_parabolic(self):
        """``∫ dk δ(k²/2 - E) = 2/k_F``.  In 1D nothing averages: the chord of the crossing
        interval has the slope ``k_mid`` of its midpoint, within h/2 of k_F, so the
        relative error is at most ``(h/2)/(k_F - h/2)`` and of either sign."""
        s = states_of(parabolic(1, 3.0), 301, (0.5, 1.5))
        h = 6.0 / 301
        errors = []
        for energy in np.linspace(0.98, 1.02, 9):
            k_f = np.sqrt(2 * energy)
            errors.append(dos(s, energy) * k_f / 2 - 1)
            assert abs(errors[-1]) <= h / 2 / (k_f - h / 2)
        assert min(errors) < 0 < max(errors)

    @pytest.mark.parametrize("model", ["parabolic", "dirac", "square"])
    def test_2d_at_one_energy(self, model):
        """Against the closed forms ``2π m`` (parabolic, m = 1), ``2π E/v^2`` (massive Dirac,
        v = δ = 1) and ``2 K(1 - E²/16)`` (square lattice, t = 1; K the complete elliptic
        integral of parameter m): relative error ≤ ``(h/k_F)^{3/2}`` (module docstring) at
        energies across a few mesh steps, on three meshes.  (The error at one energy
        fluctuates; its order is fitted on the thermal average below.)"""
        h, k_box, energies, exact, k_f = {
            "parabolic": (parabolic(2, 2.0), 4.0, np.linspace(0.95, 1.05, 5),
                          lambda e: 2 * np.pi, np.sqrt(2.0)),
            "dirac": (bands.massive_dirac(v=1.0, delta=1.0, k_max=2.5), 5.0,
                      np.linspace(1.95, 2.05, 5), lambda e: 2 * np.pi * e, np.sqrt(3.0)),
            "square": (TightBinding(np.eye(2), {(1, 0): [[-1.0]], (-1, 0): [[-1.0]],
                                                (0, 1): [[-1.0]], (0, -1): [[-1.0]]}),
                       2 * np.pi, np.linspace(-1.05, -0.95, 5),
                       lambda e: 2 * ellipk(1 - (e / 4) ** 2), 2.0),
        }[model]
        for n in (40, 80, 160):
            s = states_of(h, n, (energies[0] - 0.6, energies[-1] + 0.6))  # > 1 cutoff
            err = max(abs(dos(s, e) / exact(e) - 1) for e in energies)
            assert err <= (k_box / n / k_f) ** 1.5

    @pytest.mark.slow
    def test_3d_parabolic_converges(self):
        """``∫ d³k δ(k²/2 - E) = 4π √(2E)``: the largest error over energies across a mesh
        step is below ``(h/k_F)^{3/2}`` on each mesh (measured: 0.07-0.13 of it) and falls
        by more than 2 from h = 0.24 to h = 0.11."""
        h, energies = parabolic(3, 2.0), np.linspace(0.97, 1.03, 3)
        worst = []
        for n in (17, 25, 37):
            s = states_of(h, n, (0.2, 1.8))  # margin 0.8 > cutoff (0.77 at n = 17)
            worst.append(max(abs(dos(s, e) / (4 * np.pi * np.sqrt(2 * e)) - 1)
                             for e in energies))
            assert worst[-1] <= (4.0 / n / np.sqrt(2)) ** 1.5
        assert worst[-1] < worst[0] / 2

    @pytest.mark.slow
    def test_thermal_average_converges_as_h_squared_unlike_a_gaussian(self):
        r"""The rate summed over a thermal layer, ``Σ_r w_r g(ε_r) Σ_c w_c δ_rc`` =
        ``∫ dE g(E) ν(E)^2`` (massive Dirac, ``ν = 2πE``, ``g`` a normalised Gaussian of
        width 0.1 at E = 2; the window, ±0.7, holds every simplex where g > 1e-6), with the
        one-sided and with the symmetric pair weights: fitted order 2 ± 0.4 over
        h = 0.12 ... 0.06 (measured 1.98 and 1.99).  A Gaussian δ of fixed width σ = 0.03
        (cut at 4σ) is set by its width, not the mesh: under-sampled where σ < |v| h/2 (its
        error there, 2e-4 ... 2e-2, above the tetrahedron's), and converging, once
        sampled, to its width error (the cut tail ``erfc(2√2) = 6.3e-5`` here)."""
        model, e0, width = bands.massive_dirac(v=1.0, delta=1.0, k_max=2.5), 2.0, 0.1
        g = lambda e: np.exp(-0.5 * ((e - e0) / width) ** 2) / (np.sqrt(2 * np.pi) * width)  # noqa: E731
        exact = quad(lambda e: g(e) * (2 * np.pi * e) ** 2, e0 - 8 * width, e0 + 8 * width,
                     epsabs=0, epsrel=1e-13)[0]
        gauss = Gaussian(0.03)
        sizes, errors = (41, 51, 61, 71, 81), []
        for n in sizes:
            s = states_of(model, n, (e0 - 0.7, e0 + 0.7))
            mismatch = lambda r, c: s.energy[c] - s.energy[r]  # noqa: B023, E731
            one_sided = symmetric = smeared = 0.0
            for block in pair_blocks(s, max(TET.cutoff(s), gauss.cutoff(s))):
                r, c = block.rows, block.cols
                measure = s.weight[r] * s.weight[c]
                gr, gc = g(s.energy[r]), g(s.energy[c])
                forward = TET.integration_weights(s, r, c, mismatch)
                backward = TET.integration_weights(s, c, r, mismatch)
                one_sided += np.sum(measure * (forward * gr + backward * gc))
                symmetric += np.sum(measure * 0.5 * (forward + backward) * (gr + gc))  # .weights
                smeared += np.sum(measure * gauss.weights(s, r, c, mismatch) * (gr + gc))
            own = np.arange(len(s))  # r = c
            diagonal = np.sum(s.weight ** 2 * TET.integration_weights(s, own, own, mismatch)
                              * g(s.energy))
            one_sided += diagonal
            symmetric += diagonal
            smeared += np.sum(s.weight ** 2 * g(s.energy)) / (np.sqrt(2 * np.pi) * gauss.width)
            errors.append([one_sided / exact - 1, symmetric / exact - 1, smeared / exact - 1])
        errors = np.abs(errors)
        spacing = 5.0 / np.array(sizes)
        assert order(spacing, errors[:, 0]) == pytest.approx(2.0, abs=0.4)
        assert order(spacing, errors[:, 1]) == pytest.approx(2.0, abs=0.4)
        coarse = gauss.width < 0.91 * spacing / 2  # |v| ≤ 0.91 in the window
        assert coarse.sum() >= 3
        assert np.all(errors[coarse, :2] < errors[coarse, 2:])


# --------------------------------------------------------------------------- pair weights
class TestPairWeights:
    def test_pair_dependent_transfer(self):
        r"""``δ(ε_c - ε_r - E_0 - c|k_c - k_r|)`` from the state r at k = 0 (odd mesh), summed
        over c with the one-sided weights: ``∫ d²k δ(k²/2 - ck - E_0) = 2π k*/√(c² + 2E_0)``,
        ``k* = c + √(c² + 2E_0)``; error ≤ ``(h/k*)^{3/2}`` (module docstring)."""
        e0, c_s = 1.0, 0.5
        root = np.sqrt(c_s ** 2 + 2 * e0)
        k_star = c_s + root
        for n in (41, 81):
            s = states_of(parabolic(2, 3.0), n, (0.0, 3.2))
            r0 = int(np.argmin(np.linalg.norm(s.k, axis=1)))
            assert np.allclose(s.k[r0], 0.0)
            cols = np.arange(len(s))
            rows = np.full(len(s), r0)

            def mismatch(r, c):
                return (s.energy[c] - s.energy[r] - e0  # noqa: B023
                        - c_s * np.linalg.norm(s.k[c] - s.k[r], axis=-1))  # noqa: B023

            total = np.sum(s.weight * TET.integration_weights(s, rows, cols, mismatch))
            assert total == pytest.approx(2 * np.pi * k_star / root,
                                          rel=(6.0 / n / k_star) ** 1.5)

    def test_symmetric_under_exchange(self):
        """``δ_rc`` computed for (r, c) with the transfer Δ equals ``δ_cr`` for (c, r) with
        the reverse process (``mismatch'(a, b) = -mismatch(b, a)``), to round-off, for a
        transfer that depends on both wave vectors (phonon absorption ``c|k_c - k_r|``)."""
        s = states_of(bands.massive_dirac(v=1.0, delta=1.0, k_max=3.0), 28, (1.5, 2.5))
        rows, cols = np.triu_indices(len(s), 1)

        def absorb(r, c):
            return s.energy[c] - s.energy[r] - 0.1 * np.linalg.norm(s.k[c] - s.k[r], axis=-1)

        forward = TET.weights(s, rows, cols, absorb)
        reverse = TET.weights(s, cols, rows, lambda a, b: -absorb(b, a))
        assert np.count_nonzero(forward) > 1000
        np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=0)
        # and the pair weight is the mean of the two one-sided integrals
        one = TET.integration_weights(s, rows, cols, absorb)
        other = TET.integration_weights(s, cols, rows, lambda a, b: absorb(b, a))
        np.testing.assert_allclose(forward, 0.5 * (one + other), rtol=1e-13)


    def test_blocks_and_the_triangle_closed_form_change_nothing(self, monkeypatch):
        """The weights do not depend on how the pairs are cut into blocks nor on the
        triangle kernel (the sort-free closed form against the sorted general one): equal to
        round-off (``1e-13`` relative, a few ulps of each of the ~10 operations)."""
        import boltzphlow.scattering.tetrahedron as tetrahedron

        s = states_of(bands.massive_dirac(v=1.0, delta=1.0, k_max=3.0), 28, (1.5, 2.5))
        rows, cols = np.triu_indices(len(s), 1)

        def absorb(r, c):
            return s.energy[c] - s.energy[r] - 0.1 * np.linalg.norm(s.k[c] - s.k[r], axis=-1)

        reference = TET.weights(s, rows, cols, absorb)
        assert np.count_nonzero(reference) > 1000
        monkeypatch.setattr(tetrahedron, "BLOCK_VALUES", 4096)
        monkeypatch.setattr(tetrahedron, "_triangle_first_weight",
                            tetrahedron._generic_first_weight)
        np.testing.assert_allclose(TET.weights(s, rows, cols, absorb), reference,
                                   rtol=1e-13, atol=0)


def test_the_docs_example_runs():
    """The ``python`` block of docs/scattering_delta.md ("The energy δ") runs and its
    assertions hold."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "scattering_delta.md").read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(block, "scattering_delta.md", "exec"), {})
