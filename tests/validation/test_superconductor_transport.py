"""Transport in space for QPs and phonons (M. Li, Documentation for BoltzPhlow and BTE approach
to QP–phonon transport, Eqs. 31, 38, 52–56 and the spherical problem at the end of §2.4):
diffusion against the heat kernel with its orders in space and time, stationary thermal
states, ballistic packets, particle conservation and flat-flux preservation of the radial-angle
streaming, phase-space conservation and Andreev reflection in a gap Δ(x), escape walls,
positivity and the refusal of bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

from boltzphlow.kinetics.superconductor.dos import bin_states
from boltzphlow.kinetics.superconductor.spatial import (
    Diffusion,
    Slab,
    Sphere,
    Streaming,
    Wall,
    qp_bin_velocity,
    qp_group_velocity,
)

#: Three diffusivities (µm²/ns), one per energy bin, all advanced in the same step.
D3 = np.array([[0.5, 1.0, 2.0]])
#: Nominal Fermi velocity (µm/ns).
V_F = 2000.0
#: Gauss–Legendre points for the shell averages of the radial heat kernel.
XG, WG = np.polynomial.legendre.leggauss(8)


# ------------------------------------------------------------------ heat kernels (cell means)
def slab_kernel(g: Slab, t: float, x0: float) -> np.ndarray:
    """Cell averages of the 1-D heat kernel centred at ``x0`` (exact, by erf)."""
    s = np.sqrt(4 * D3 * t)
    e = g.edges[:, None]
    return 0.5 * (erf((e[1:] - x0) / s) - erf((e[:-1] - x0) / s)) / g.widths[:, None]


def sphere_kernel(g: Sphere, t: float) -> np.ndarray:
    """Shell averages of the 3-D heat kernel centred at r = 0 (8-point Gauss per shell)."""
    lo, hi = g.edges[:-1, None], g.edges[1:, None]
    r = 0.5 * (hi + lo) + 0.5 * (hi - lo) * XG
    w = 0.5 * (hi - lo) * WG * 4 * np.pi * r**2
    kern = (4 * np.pi * D3 * t) ** -1.5 * np.exp(-r[..., None] ** 2 / (4 * D3 * t))
    return np.einsum("cq,cqe->ce", w, kern) / g.volumes[:, None]


def evolve(op: Diffusion, f: np.ndarray, dt: float, duration: float) -> np.ndarray:
    fallback = 0
    for _ in range(round(duration / dt)):
        r = op.step(f, dt)
        f, fallback = r.f, fallback + r.fallback
    assert fallback == 0  # the accuracy runs stay in TR-BDF2's positive regime
    return f


def orders(errors: list[np.ndarray]) -> np.ndarray:
    """Observed orders from errors at resolutions halved each time."""
    e = np.array(errors)
    return np.log2(e[:-1] / e[1:])


# Slab: x ∈ [0, 30], kernel from t0 = 0.5 to t1 = 1.5 ns centred at 15 µm: the walls are
# ≥ 15/√(4·2·1.5) = 4.3 diffusion lengths away, their image (e^{-18.75} ≈ 7e-9) is far below
# the discretisation error.  Sphere: R = 15 µm, the same times.  Expected: cell-centred FV with
# two-point fluxes has a truncation error (h²/24) f'''' in the cell averages, TR-BDF2 a local
# error O(dt³): both global errors O(h²), O(dt²), so the error ratio of a halving is 4 (order
# 2); the tolerances allow ±0.15 for the next order's contamination at these resolutions.
T0, T1 = 0.5, 1.5


@pytest.mark.parametrize("kind", ["slab", "sphere"])
def test_diffusion_heat_kernel_second_order_in_space(kind):
    errors = []
    for cells in (75, 150, 300):
        if kind == "slab":
            g = Slab(30.0, cells)

            def exact(t, g=g):
                return slab_kernel(g, t, 15.0)
        else:
            g = Sphere(15.0, cells)

            def exact(t, g=g):
                return sphere_kernel(g, t)
        op = Diffusion(g, 1.0, D3)
        f = evolve(op, exact(T0), 2e-3, T1 - T0)   # time error ~1e-8: negligible
        ref = exact(T1)
        errors.append(np.abs(f - ref).max(axis=0) / ref.max(axis=0))
        # 500 steps, each conserving to round-off (≈ 2e-16)
        np.testing.assert_allclose(op.number(f), op.number(exact(T0)), rtol=1e-12)
    p = orders(errors)
    assert np.all(np.abs(p - 2.0) < 0.15), p
    assert np.all(errors[-1] < 2e-3)


@pytest.mark.parametrize("kind", ["slab", "sphere"])
def test_diffusion_second_order_in_time(kind):
    g = Slab(30.0, 300) if kind == "slab" else Sphere(15.0, 300)
    op = Diffusion(g, 1.0, D3)
    f0 = slab_kernel(g, T0, 15.0) if kind == "slab" else sphere_kernel(g, T0)
    ref = evolve(op, f0, 0.1 / 64, T1 - T0)          # same grid: the semi-discrete solution
    errors = [np.abs(evolve(op, f0, dt, T1 - T0) - ref).max(axis=0) / ref.max(axis=0)
              for dt in (0.1, 0.05, 0.025)]
    p = orders(errors)
    assert np.all(np.abs(p - 2.0) < 0.15), p


def test_thermal_state_stationary_with_space_dependent_weight():
    # QP bins in a gap ramp 170 → 210 µeV: N_i(Δ(x)) varies and vanishes below the local gap;
    # D varies too.  A thermal f(E), the same in every cell, has no gradient: no flux.
    g = Sphere(10.0, 40)
    edges = np.arange(160.0, 400.0, 4.0)
    E = 0.5 * (edges[1:] + edges[:-1])
    delta = np.linspace(170.0, 210.0, g.cells)[:, None]
    w = bin_states(edges, delta)
    assert np.any(w == 0) and np.any(w > 0)
    D = 5.0 + 3.0 * np.sin(g.centres)[:, None] * np.ones_like(E)
    f0 = np.exp(-E / 30.0) * np.ones((g.cells, 1))
    op = Diffusion(g, w, D)
    f = f0
    for dt in (1e-3, 0.1, 10.0, 10.0):
        f = op.step(f, dt).f
    np.testing.assert_allclose(f, f0, rtol=1e-13, atol=0)
    # a perturbation does move (the test can fail)
    bumped = f0 * (1 + 0.1 * (g.centres < 3)[:, None])
    assert np.abs(op.step(bumped, 1.0).f - bumped).max() > 1e-3 * f0.max()


# --------------------------------------------------------------------------- ballistic
def test_ballistic_packet_moves_at_group_velocity():
    # QP energies with v = v_F √(1 − Δ²/E²); the packet sits in the most forward direction.
    g = Slab(40.0, 400)
    E = np.array([200.0, 250.0, 400.0])
    v = qp_group_velocity(E, 180.0, V_F) / 1000.0   # slow them to µm/ns of order 1
    results = {}
    for scheme in ("muscl", "upwind"):
        op = Streaming(g, 8, 1.0, v, scheme=scheme)
        k = op.n_angles - 1
        f = np.zeros((g.cells, op.n_angles, E.size))
        f[:, k, :] = np.exp(-((g.centres[:, None] - 10.0) ** 2) / 2.0)
        x0 = np.einsum("c,ce->e", g.centres, f[:, k]) / f[:, k].sum(axis=0)
        t = 15.0 / v.max() / op.mu[k]
        r = op.step(f, t)
        assert r.substeps > 1 and r.f.min() >= 0
        x1 = np.einsum("c,ce->e", g.centres, r.f[:, k]) / r.f[:, k].sum(axis=0)
        speed = (x1 - x0) / t
        np.testing.assert_allclose(speed, v * op.mu[k], rtol=1e-3)
        exact = np.exp(-((g.centres[:, None] - 10.0 - v * op.mu[k] * t) ** 2) / 2.0)
        results[scheme] = np.abs(r.f[:, k] - exact).sum(axis=0) * g.widths[0]
        np.testing.assert_allclose(r.outflow, 0.0)
    # the limited second-order scheme is less diffusive than upwind (all bins share the
    # sub-step of the fastest, whose upwind Courant number 0.9 is nearly exact)
    assert np.all(results["muscl"] < results["upwind"]), results
    assert results["muscl"][0] < 0.25 * results["upwind"][0], results


@pytest.mark.parametrize("boundary", ["reflecting", "absorbing", Wall("escape", 0.3)])
def test_radial_streaming_conserves_particles(boundary):
    rng = np.random.default_rng(1)
    g = Sphere(5.0, 30)
    v = np.array([[1.0, 2.5, 4.0]])
    op = Streaming(g, 8, 1.0, v, boundary)
    f = rng.random((g.cells, 8, 3))
    n0 = op.number(f)
    left = np.zeros(3)
    steps = 0
    for _ in range(20):
        r = op.step(f, 0.5)
        f, left, steps = r.f, left + r.outflow[0], steps + r.substeps
    assert steps > 200
    np.testing.assert_allclose(op.number(f) + left, n0, rtol=1e-13)
    if boundary == "reflecting":
        assert np.all(left == 0)
    else:
        assert np.all(left > 0.1 * n0)


@pytest.mark.parametrize("edges", [None, np.sqrt(np.linspace(0.0, 25.0, 31))])
def test_flat_flux_preserved_in_the_sphere(edges):
    g = Sphere(5.0, 30, edges=edges)
    op = Streaming(g, 16, 1.0, [[1.0, 3.0]])
    f = np.full((g.cells, 16, 2), 0.7)
    r = op.step(f, 5.0)
    assert r.substeps > 10
    np.testing.assert_allclose(r.f, 0.7, rtol=1e-13)
    # without Morel–Montry's α (plain (1 − μ²) at the edges) it would not be flat
    nodes, _ = np.polynomial.legendre.leggauss(16)
    assert not np.allclose(op.alpha[1:-1], 0.5 * (1 - nodes[:-1] ** 2), rtol=1e-3)


def _gap_profile(g, low, high):
    return np.where(g.centres < 0.5 * g.extent, low, high)[:, None]


@pytest.mark.parametrize("kind", ["slab-step", "sphere-ramp"])
def test_uniform_f_kept_in_a_gap_profile(kind):
    edges = np.arange(150.0, 400.0, 5.0)
    E = 0.5 * (edges[1:] + edges[:-1])
    if kind == "slab-step":
        g = Slab(10.0, 40)
        delta = _gap_profile(g, 181.0, 203.0)
        boundary: object = ("reflecting", "reflecting")
    else:
        g = Sphere(10.0, 40)
        delta = np.linspace(171.3, 228.7, g.cells)[:, None]
        boundary = "reflecting"
    w = bin_states(edges, delta)
    v = qp_bin_velocity(edges, delta, V_F) / 1000.0
    assert np.unique(np.round(w * v, 9)).size >= 4  # 0, full and partial bins: w v varies
    op = Streaming(g, 8, w, v, boundary)
    f0 = op.isotropic(np.exp(-E / 40.0) * np.ones((g.cells, 1)))
    r = op.step(f0, 1.0)
    assert r.substeps > 10
    valid = np.broadcast_to((w > 0)[:, None, :], f0.shape)
    np.testing.assert_allclose(r.f[valid], f0[valid], rtol=1e-13)
    # a gradient does stream (the test can fail)
    tilted = f0 * (1 + 0.1 * g.centres / g.extent)[:, None, None]
    assert np.abs(op.step(tilted, 1.0).f[valid] / tilted[valid] - 1).max() > 1e-3


def test_andreev_reflection_at_a_gap_step():
    # bins: [185, 190] between the gaps 180 | 200, [300, 305] above both
    edges = np.array([185.0, 190.0, 300.0, 305.0])
    g = Slab(40.0, 200)
    delta = _gap_profile(g, 180.0, 200.0)
    w = bin_states(edges, delta)[:, [0, 2]]
    v = qp_bin_velocity(edges, delta, V_F)[:, [0, 2]] / 1000.0
    assert np.all(w[g.centres > 20, 0] == 0)
    op = Streaming(g, 8, w, v)
    k = op.n_angles - 1
    f = np.zeros((g.cells, 8, 2))
    f[(g.centres > 16) & (g.centres < 18), k, :] = 1.0
    n0 = op.number(f)
    t = 4.0 / (v[0, 0] * op.mu[k])    # the slow bin goes 4 µm: all of it past x = 20,
    r = op.step(f, t)                 # the fast one (3.7× faster) 15 µm: not yet at x = 40
    high = g.centres > 20
    share_high = np.einsum("c,ce,cke,k->e", g.volumes[high], w[high], r.f[high],
                           op.angle_weights) / n0
    backward = np.einsum("c,ce,cke,k->e", g.volumes, w, r.f[:, : k // 2 + 1],
                         op.angle_weights[: k // 2 + 1]) / n0
    np.testing.assert_allclose(op.number(r.f), n0, rtol=1e-13)
    assert share_high[0] == 0.0 and backward[0] > 0.9   # reflected, nothing entered
    assert share_high[1] > 0.9 and backward[1] < 1e-12  # transmitted, nothing reflected
    # the occupation in cells where a bin has no states is inert: never read, never changed
    below = np.broadcast_to((w == 0)[:, None, :], f.shape)
    g_f = np.where(below, 5.0, f)
    r2 = op.step(g_f, t)
    np.testing.assert_array_equal(r2.f[~below], r.f[~below])
    assert np.all(r2.f[below] == 5.0)


# ------------------------------------------------------------------------------ walls
def test_escape_outflow_is_transmission_times_absorbing():
    g = Slab(10.0, 50)
    t = np.array([0.2, 0.5, 1.0])
    v = np.array([[1.0, 2.0, 3.0]])
    kw = {"weight": 2.0, "speed": v}
    absorbing = Streaming(g, 8, boundary=("reflecting", "absorbing"), **kw)
    escape = Streaming(g, 8, boundary=("reflecting", Wall("escape", t)), **kw)
    by_angle = Streaming(g, 8, boundary=("reflecting", Wall("escape", np.ones((8, 1)) * t)),
                         **kw)
    f = absorbing.isotropic(np.ones((g.cells, 3)))
    dt = 0.5 * absorbing.max_substep
    ra, re, rk = absorbing.step(f, dt), escape.step(f, dt), by_angle.step(f, dt)
    assert ra.outflow[1].min() > 0 and np.all(ra.outflow[0] == 0)
    np.testing.assert_allclose(re.outflow[1], t * ra.outflow[1], rtol=1e-14)
    np.testing.assert_array_equal(rk.outflow, re.outflow)
    kept = escape.number(re.f) - absorbing.number(ra.f)
    np.testing.assert_allclose(kept, (1 - t) * ra.outflow[1], rtol=1e-12)
    np.testing.assert_array_equal(re.f[..., 2], ra.f[..., 2])
    np.testing.assert_array_equal(re.outflow[:, 2], ra.outflow[:, 2])
    # isotropic f, one step: outflux = t w v f Σ_{μ>0} a μ (≈ t w v f / 4)
    mu, a = absorbing.mu, absorbing.angle_weights
    np.testing.assert_allclose(ra.outflow[1] / dt, 2.0 * v[0] * (a * mu)[mu > 0].sum(),
                               rtol=1e-12)


def test_diffusion_escape_marshak_and_bookkeeping():
    g = Sphere(4.0, 40)
    t = np.array([1e-3, 0.3, 1.0])
    v, w, D = 3.0, 1.5, 1e6           # D huge: the wall resistance alone limits the outflux
    op = Diffusion(g, w, D * np.ones((1, 3)), Wall("escape", t), speed=v)
    f = np.ones((g.cells, 3))
    dt = 1e-6
    rate = op.step(f, dt).outflow[0] / dt / (g.areas[-1] * w)
    np.testing.assert_allclose(rate, v * t / (2 * (2 - t)), rtol=1e-3)
    # small t: the ballistic outflux t v/4 of an isotropic f
    assert abs(rate[0] / (t[0] * v / 4) - 1) < 1e-3
    op = Diffusion(g, w, [[0.5, 2.0, 8.0]], Wall("escape", t), speed=v)
    f = np.exp(-g.centres[:, None] ** 2) * np.ones((1, 3))
    n0, left = op.number(f), np.zeros(3)
    for dt in (0.01, 0.1, 1.0, 10.0):
        r = op.step(f, dt)
        f, left = r.f, left + r.outflow[0]
    np.testing.assert_allclose(op.number(f) + left, n0, rtol=1e-13)
    assert left[0] > 0 and np.all(left[1:] > 0.5 * n0[1:])
    absorbing = Diffusion(g, w, [[0.5, 2.0, 8.0]], "absorbing", speed=v)
    f0 = np.exp(-g.centres[:, None] ** 2) * np.ones((1, 3))
    np.testing.assert_array_equal(absorbing.step(f0, 0.1).outflow[0, 2],
                                  op.step(f0, 0.1).outflow[0, 2])


# ------------------------------------------------------------------- bath behind escape walls
@pytest.mark.parametrize("kind", ["diffusion", "streaming"])
def test_the_bath_occupation_is_stationary_and_exchanged_both_ways(kind):
    """An escape wall (t = 0.4, sphere) with an outside occupation ``bath`` (one per energy):
    ``f = bath`` everywhere stays put to 1e-13 relative with inflow equal to outflow (1e-13);
    from a random ``f`` (ten steps up to dt = 10 for diffusion), inside + out − in is
    conserved to 1e-13 and f stays ≥ 0; an empty sphere fills up from the bath (what
    is inside is what came in, net); a reflecting or absorbing wall takes in nothing."""
    g = Sphere(3.0, 12)
    bath = np.array([0.2, 1e-3, 0.0])
    w = np.linspace(0.5, 1.5, 3)
    if kind == "diffusion":
        def make(boundary):
            return Diffusion(g, w, [[0.5, 2.0, 8.0]], boundary, speed=2.0, bath=bath)
        f_eq = np.broadcast_to(bath, (g.cells, 3)).copy()
        steps = (0.01, 0.1, 1.0, 10.0) * 2 + (0.5, 3.0)
    else:
        def make(boundary):
            return Streaming(g, 4, w, [[0.5, 2.0, 8.0]], boundary, bath=bath)
        f_eq = np.broadcast_to(bath, (g.cells, 4, 3)).copy()
        steps = (0.05,) * 10
    op = make(Wall("escape", 0.4))
    r = op.step(f_eq, 0.3)
    np.testing.assert_allclose(r.f, f_eq, rtol=1e-13, atol=0)
    np.testing.assert_allclose(r.inflow, r.outflow, rtol=1e-13)
    assert r.inflow[0, 0] > 0 and r.inflow[0, 2] == 0
    rng = np.random.default_rng(3)
    f = rng.random(f_eq.shape)
    n0, net = op.number(f), np.zeros(3)
    for dt in steps:
        r = op.step(f, dt)
        f, net = r.f, net + r.outflow[0] - r.inflow[0]
        assert f.min() >= 0
    np.testing.assert_allclose(op.number(f) + net, n0, rtol=1e-13)
    r = op.step(np.zeros_like(f_eq), 0.5)
    assert r.inflow[0, 0] > r.outflow[0, 0] >= 0
    np.testing.assert_allclose(op.number(r.f), r.inflow[0] - r.outflow[0], rtol=1e-13)
    for other in ("reflecting", "absorbing"):
        assert not np.any(make(other).step(f_eq, 0.3).inflow)


def test_a_bad_bath_is_refused_in_one_line():
    """A negative or wrongly shaped bath occupation names ``bath``."""
    with pytest.raises(ValueError, match="^bath: must be a finite occupation"):
        Diffusion(Slab(1.0, 4), 1.0, 1.0, Wall("escape", 0.5), speed=1.0, bath=-1.0)
    with pytest.raises(ValueError, match="^bath: shape"):
        Streaming(Slab(1.0, 4), 4, 1.0, [1.0, 2.0], Wall("escape", 0.5), bath=[1.0, 2.0, 3.0])


# ------------------------------------------------------------------------- positivity
def test_diffusion_positive_and_conservative_under_large_steps():
    g = Slab(10.0, 100)
    op = Diffusion(g, 1.0, D3, ("absorbing", "reflecting"), speed=1.0)
    f = np.zeros((g.cells, 3))
    f[50] = 1.0                                  # a spike: TR-BDF2 alone would undershoot
    n0, left = op.number(f), np.zeros(3)
    r = op.step(f, 1.0)
    assert r.fallback > 0 and r.f.min() >= 0
    for dt in (1.0, 50.0, 1e4):
        r = op.step(f, dt)
        assert r.f.min() >= 0
        f, left = r.f, left + r.outflow.sum(axis=0)
    np.testing.assert_allclose(op.number(f) + left, n0, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.floats(1e-4, 1e4), st.integers(0, 2**31 - 1))
def test_diffusion_positivity_property(dt, seed):
    """Positive and conservative at any step.  Conservation holds to the round-off of TR-BDF2's
    explicit trapezoidal half, whose terms grow as dt × the wall rate (≤ v/Δr = 2/0.15 µm):
    the bound 1e-12 + 4ε (v/Δr) dt (measured 1.1e-12 at dt = 8914, 1.7e-15 at dt = 100)."""
    rng = np.random.default_rng(seed)
    g = Sphere(3.0, 20)
    f = rng.random((20, 4)) * (rng.random((20, 4)) < 0.3)
    op = Diffusion(g, rng.random((20, 4)) + 0.1, rng.random((1, 4)) * 10, "absorbing",
                   speed=2.0)
    r = op.step(f, dt)
    assert r.f.min() >= 0
    rtol = 1e-12 + 4 * np.finfo(float).eps * (2.0 / g.widths.min()) * dt
    np.testing.assert_allclose(op.number(r.f) + r.outflow[0], op.number(f), rtol=rtol,
                               atol=1e-14 * op.number(f).max())


def test_streaming_positive_under_large_steps():
    g = Sphere(5.0, 30)
    op = Streaming(g, 8, 1.0, [[1.0, 5.0]], "absorbing")
    f = np.zeros((g.cells, 8, 2))
    f[10, 3] = 1.0
    f[0, :] = 2.0
    r = op.step(f, 10.0)
    assert r.substeps >= 10.0 / op.max_substep and r.f.min() >= 0


# ----------------------------------------------------------------------- geometry & args
def test_geometry_arrays_and_locate():
    s = Sphere(2.0, 10)
    assert s.volumes.sum() == pytest.approx(4 * np.pi * 8 / 3, rel=1e-14)
    assert s.areas[-1] == pytest.approx(16 * np.pi) and s.areas[0] == 0
    assert s.shell_of(0.0) == 0 and s.shell_of(2.0) == 9 and s.shell_of(0.45) == 2
    np.testing.assert_array_equal(s.shell_of(np.array([0.1, 1.05])), [0, 5])
    b = Slab(3.0, 6)
    assert b.volumes.sum() == pytest.approx(3.0) and np.all(b.areas == 1)
    assert b.locate(1.6) == 3 and b.walls == ("lower", "upper")


@pytest.mark.parametrize(("build", "match"), [
    (lambda: Slab(0.0, 10), "^length: must be a positive finite number"),
    (lambda: Sphere(float("inf"), 10), "^radius: must be a positive"),
    (lambda: Slab(1.0, 0), "^cells: must be an integer"),
    (lambda: Sphere(1.0, 3, edges=[0.0, 0.6, 0.5, 1.0]), "^edges: must be strictly"),
    (lambda: Sphere(1.0, 3, edges=[0.1, 0.5, 1.0]), "^edges: must run from 0"),
    (lambda: Sphere(1.0, 3).shell_of(1.5), "^position: must lie in"),
    (lambda: Diffusion(Slab(1.0, 4), -1.0, 1.0), "^weight: must be finite, ≥ 0"),
    (lambda: Diffusion(Slab(1.0, 4), 1.0, np.ones((3, 2))), "^diffusivity: shape"),
    (lambda: Diffusion(Slab(1.0, 4), 1.0, 1.0, "open"), "^boundary: must be one of"),
    (lambda: Diffusion(Slab(1.0, 4), 1.0, 1.0, "absorbing"), "^speed: needed"),
    (lambda: Diffusion(Slab(1.0, 4), 1.0, 1.0, "escape", speed=1.0), "^transmission: needed"),
    (lambda: Wall("escape", 1.5), "^transmission: must lie in"),
    (lambda: Wall("escape", 0.0), "^transmission: must lie in"),
    (lambda: Diffusion(Sphere(1.0, 4), 1.0, 1.0, ("reflecting", "absorbing")),
     "^boundary: must be one kind or one per wall"),
    (lambda: Diffusion(Slab(1.0, 4), 1.0, 1.0).step(np.ones((4, 1)), 0.0), "^dt: must be"),
    (lambda: Diffusion(Slab(1.0, 4), 1.0, 1.0).step(np.ones((3, 1)), 1.0), "^f: must have"),
    (lambda: Streaming(Slab(1.0, 4), 3, 1.0, 1.0), "^n_angles: must be an even"),
    (lambda: Streaming(Slab(1.0, 4), 4, 1.0, 1.0, scheme="weno"), "^scheme: must be"),
    (lambda: Streaming(Slab(1.0, 4), 4, 1.0, 1.0, cfl=2.0), "^cfl: must be ≤ 1"),
    (lambda: Streaming(Slab(1.0, 4), 4, 1.0, [1.0, 2.0], "escape", transmission=[0.5] * 3),
     "^transmission: shape"),
    (lambda: qp_group_velocity(200.0, 180.0, 0.0), "^fermi_velocity: must be"),
])
def test_bad_arguments_are_refused_in_one_line(build, match):
    with pytest.raises(ValueError, match=match) as info:
        build()
    assert "\n" not in str(info.value)
