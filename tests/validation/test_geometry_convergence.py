"""Mesh convergence with the observed order asserted, adaptive savings, bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import boltzphlow.bands as bands
import boltzphlow.observables as tr


def observed_order(sizes, errors) -> float:
    """Least-squares slope of log|error| against log h (h ∝ 1/N)."""
    return float(-np.polyfit(np.log(sizes), np.log(np.abs(errors)), 1)[0])


def test_continuum_midpoint_rule_is_second_order():
    """Dirac model on a small box, μ in the gap: error = (h²/24)∮∂_nΩ/2π + O(h⁴)."""
    v, delta, k_max = 1.0, 0.5, 1.0
    d = bands.massive_dirac(v, delta, k_max)
    exact = -np.arctan(k_max**2 / (delta * np.sqrt(2 * k_max**2 + delta**2))) / np.pi
    sizes = np.array([10, 20, 40, 80, 160])
    errors = np.array([tr.anomalous_hall(d, 0.0, 0.0, (n, n)) - exact for n in sizes])
    # the O(h⁴) term lowers the order by O(h²): 9e-3 from N = 10 to 20 (measured), 4x less per
    # halving of h, so the fit over all sizes is within 1e-2 of 2 and the finest pair within 1e-3
    assert observed_order(sizes, errors) == pytest.approx(2.0, abs=1e-2)
    pairwise = np.log2(errors[:-1] / errors[1:])
    assert np.all(np.diff(np.abs(pairwise - 2.0)) < 0)
    assert pairwise[-1] == pytest.approx(2.0, abs=1e-3)


def test_lattice_rectangle_rule_converges_exponentially_at_finite_temperature():
    """Smooth periodic integrand (T > 0): the error falls faster than any power of h."""
    h = bands.haldane()
    ref = tr.anomalous_hall(h, 0.5, 0.05, (240, 240))
    sizes = np.array([20, 30, 40])
    errors = np.abs([tr.anomalous_hall(h, 0.5, 0.05, (n, n)) - ref for n in sizes])
    # exponential: log error linear in N; each +10 points gains > 10x (measured ~1e3x)
    assert errors[1] < errors[0] / 10
    assert errors[2] < errors[1] / 10
    assert observed_order(sizes, errors) > 8


def test_adaptive_refinement_saves_points_at_equal_accuracy():
    """Haldane model near its transition: Ω concentrated at K, K'."""
    from boltzphlow.geometry.berry import band_geometry
    from boltzphlow.grids.kmesh import KMesh, integrate_adaptive

    h = bands.haldane(m=0.7)  # gap 2(3√3 t2 - m) ≈ 0.16
    target = tr.anomalous_hall(h, 0.0, 0.0, (600, 600))

    def lower_band_curvature(frac):
        hk, dhk = h.hamiltonian_and_velocity(h.k_cartesian(frac))
        return band_geometry(hk, dhk)[1][:, 0, 0]

    uniform_error = abs(tr.anomalous_hall(h, 0.0, 0.0, (45, 45)) - target)
    res = integrate_adaptive(lower_band_curvature, KMesh((15, 15)), levels=3, fraction=0.5)
    adaptive = -res.value[0] * h.k_volume / (2 * np.pi)
    assert abs(adaptive - target) < uniform_error
    assert res.n_evaluations < 0.6 * 45 * 45


def test_memory_is_bounded_by_chunking():
    """A 400 x 400 Haldane AHC in chunks of 4096 points stays far below the full-mesh arrays."""
    h = bands.haldane()
    tracemalloc.start()
    tr.anomalous_hall(h, [0.0, 0.5], 0.0, (400, 400), chunk_size=4096)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    full_mesh_h_and_dh = 400 * 400 * 3 * 4 * 16  # bytes of H and dH on the whole mesh
    assert peak < full_mesh_h_and_dh / 5
