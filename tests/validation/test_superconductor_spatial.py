"""The spatial QP–phonon model (issue 13): the 0-D collisions in every cell, transport between
cells, Strang splitting through the solver spine (M. Li, *Documentation for BoltzPhlow and BTE
approach to QP–phonon transport*, §2.1, §2.3 Eqs. 52–56, end of §2.4).

Small grids (a few cells, coarse energy steps) keep the file under a minute.
"""

from __future__ import annotations

import numpy as np
import pytest

import boltzphlow as bp
from boltzphlow import stats
from boltzphlow.kinetics.superconductor.collisions import CollisionOperator
from boltzphlow.kinetics.superconductor.spatial import (
    BoundaryInjection,
    PointPhoton,
    SpatialQPPhononModel,
    SpatialState,
    thermal_temperature,
)
from boltzphlow.units import K_B

AL = bp.superconductor.material("Al")
GRID = {"energy_step": 10.0, "E_max": 900.0}


def _model(**kw) -> SpatialQPPhononModel:
    args = {"geometry": "slab", "length": 2.0, "cells": 4, "T_bath": 0.3} | GRID | kw
    return SpatialQPPhononModel(AL, **args)


def test_batched_collisions_equal_the_unbatched_operator_per_cell():
    """Rates, Jacobian products and diagonal of three cells with three gaps at once equal
    the unbatched operator's of each cell (same numbers: the batch is only a leading axis)."""
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.3, **GRID)
    g = m.grid
    gaps = m.delta * np.array([1.0, 0.97, 1.02])
    f = np.stack([stats.fermi(m.E, 0, K_B * T) for T in (0.3, 0.4, 0.5)])
    f[1] += 1e-3 * np.exp(-(((m.E - 600) / 30) ** 2))
    n = np.stack([stats.bose(m.omega, K_B * T) for T in (0.3, 0.45, 0.5)])
    args = (AL.tau0, AL.tau_pb, AL.kTc, AL.delta0)
    batch = CollisionOperator(g, gaps, *args)
    rng = np.random.default_rng(1)
    df, dn = rng.standard_normal(f.shape) * f, rng.standard_normal(n.shape) * n
    r, lin = batch.rates(f, n), batch.linearize(f, n)
    (af, an), (gf, gn) = lin.apply(df, dn), lin.diagonal()
    for c in range(3):
        one = CollisionOperator(g, gaps[c], *args)
        r1, lin1 = one.rates(f[c], n[c]), one.linearize(f[c], n[c])
        a1, g1 = lin1.apply(df[c], dn[c]), lin1.diagonal()
        for x, y in ((r.f[c], r1.f), (r.n[c], r1.n), (af[c], a1[0]), (an[c], a1[1]),
                     (gf[c], g1[0]), (gn[c], g1[1])):
            np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-13 * np.max(np.abs(y)))
    with pytest.raises(ValueError, match="cells"):
        batch.jacobian(f, n)


def test_one_cell_equals_the_0d_model():
    """One cell with reflecting walls (transport does nothing): the spatial model and the 0-D
    model with the same ROS2 steps agree to the linear-solve tolerance (1e-13 asked: the
    0-D run factors its dense Jacobian, the spatial one solves by GMRES)."""
    photon = dict(epsilon0=500.0, width=30.0)
    sp = _model(cells=1, length=1.0, photon=PointPhoton(energy=2e4, **photon))
    zero_d = bp.superconductor.QPPhononModel(
        AL, T_bath=0.3, photon=bp.superconductor.PhotonHit(energy=2e4, volume=1.0, **photon),
        **GRID)
    h, steps = 0.05, 8
    times = np.arange(steps + 1) * h
    opts = dict(fixed_step=True, rtol=1e-10)
    ds = sp.evolve(t_out=times, dt=h, linear_rtol=1e-13, **opts)
    ref = zero_d.evolve(t_out=times, method="rosenbrock", dt=h, **opts)
    np.testing.assert_allclose(ds.f.values[:, 0], ref.f.values, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(ds.n.values[:, 0], ref.n.values, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(ds.qp_energy.values[:, 0], ref.qp_energy.values, rtol=1e-10)


def test_energy_is_conserved_with_an_escape_wall():
    """Inside + escaped (phonons through an escape wall, transmission 0.5) is conserved to
    ≤ 1e-8 relative over a long run (100 ns: more than the photon's energy leaves, thermal
    phonons included)."""
    sp = _model(cells=6, phonon_boundary=("reflecting", "escape"), phonon_transmission=0.5,
                photon=PointPhoton(energy=5e4, size=0.5, epsilon0=500.0, width=30.0))
    ds = sp.evolve(t_end=100.0, n_out=3, dt=20.0, rtol=1e-3, atol=1e-14)
    assert "check_failed" not in ds.attrs
    assert ds.attrs["bookkeeping_drift"] <= 1e-8
    total = ds.total_energy.values + ds.energy_escaped.values
    assert np.max(np.abs(total - total[0])) <= 1e-8 * total[0]
    assert ds.phonon_energy_escaped.values[-1, 1] > 0.1 * 5e4  # really escaping
    assert ds.phonon_energy_escaped.values[-1, 0] == 0.0
    assert ds.attrs["solver_linear_iterations"] > 0 and ds.attrs["solver_nlu"] == 0


def test_closed_system_relaxes_to_the_uniform_thermal_state_of_its_energy():
    """Reflecting walls: a photon's energy spreads and thermalises; after long times f and n
    are Fermi/Bose at the temperature that holds the total energy (found by root finding,
    0.9 → 0.917 K), to 1e-6 of the occupations at the gap edge (measured 5e-8 at 2.5 µs,
    2e-12 at 5 µs; at the start the state is 14 % of the gap-edge occupation off)."""
    sp = _model(cells=4, T_bath=0.9, photon=PointPhoton(energy=3e7, size=0.3, epsilon0=500.0,
                                                        width=30.0))
    ds = sp.evolve(t_end=2500.0, n_out=2, dt=250.0, rtol=1e-5)
    energy = float(ds.total_energy.values[-1])
    assert abs(energy - ds.total_energy.values[0]) <= 1e-10 * energy
    T = thermal_temperature(sp, energy)
    assert T > 0.91
    fT = stats.fermi(sp.E, 0.0, K_B * T)
    nT = stats.bose(sp.omega, K_B * T)
    f, n = ds.f.values[-1], ds.n.values[-1]
    assert np.max(np.abs(ds.f.values[0] - fT)) > 0.1 * fT[0]
    assert np.max(np.abs(f - fT)) <= 1e-6 * fT[0]
    assert np.max(np.abs(n - nT)) <= 1e-6 * nT[0]


def test_strang_splitting_is_second_order_in_time():
    """Errors of f and n at t = 0.4 ns with outer steps 0.1, 0.05, 0.025 ns (one ROS2 step per
    collision step) against a dt/32 reference: observed orders 2 ± 0.3 (asymptotic range:
    both the Strang and the ROS2 errors are O(dt²); the tolerance allows the mixed
    higher-order terms that remain at the largest step)."""
    sp = _model(cells=4, qp_mean_free_path=0.002, phonon_mean_free_path=0.5,
                photon=PointPhoton(energy=2e4, size=0.4, epsilon0=500.0, width=30.0))
    s0 = sp.initial_state()
    t = np.array([0.0, 0.4])

    def run(dt):
        ds = sp.evolve(s0, t_out=t, dt=dt, fixed_step=True, rtol=1e-10, linear_rtol=1e-12)
        return np.concatenate([ds.f.values[-1].ravel(), 1e-3 * ds.n.values[-1].ravel()])

    ref = run(0.1 / 32)
    errs = [np.max(np.abs(run(dt) - ref)) for dt in (0.1, 0.05, 0.025)]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(orders - 2.0) < 0.3), (errs, orders)


@pytest.mark.parametrize("transport", ["diffusive", "ballistic"])
def test_a_uniform_thermal_state_stays_put_under_a_static_gap_profile(transport):
    """A gap that varies by ±6 % across the slab: the uniform thermal state is stationary
    (the phase-space volume is kept by the transport, Eqs. 54–56, and the collisions of each
    cell's own gap vanish on it) to 1e-12."""
    sp0 = _model(cells=5, T_bath=0.5)
    gaps = sp0.local.delta * np.linspace(1.06, 0.94, 5)
    sp = _model(cells=5, T_bath=0.5, delta=gaps, qp_transport=transport, n_angles=4)
    s0 = sp.thermal(0.5)
    ds = sp.evolve(s0, t_end=0.01 if transport == "ballistic" else 1.0, n_out=2)
    np.testing.assert_allclose(ds.f.values[-1], ds.f.values[0], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ds.n.values[-1], ds.n.values[0], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ds.delta.values, gaps)
    # each cell's QP states are its own gap's partly filled bins
    assert not np.array_equal(sp.states[0], sp.states[-1])


def test_the_photon_packet_deposits_exactly_its_energy():
    sp = SpatialQPPhononModel(AL, "sphere", radius=5.0, cells=10, T_bath=0.3,
                              photon=PointPhoton(energy=3e5, position=0.0, size=1.0,
                                                 epsilon0=500.0, width=30.0), **GRID)
    before = sp.total_energy(sp.thermal(0.3))
    after = sp.total_energy(sp.initial_state())
    assert after - before == pytest.approx(3e5, rel=1e-12)
    e_cells = sp.energies(sp.initial_state())[0] - sp.energies(sp.thermal(0.3))[0]
    assert np.argmax(e_cells) == 0 and np.all(np.diff(e_cells) < 0)  # peaked at the centre


@pytest.mark.parametrize("kwargs, name", [
    ({"geometry": "cube"}, "geometry"),
    ({"geometry": "sphere", "length": None}, "radius"),
    ({"qp_transport": "fast"}, "qp_transport"),
    ({"delta": np.ones(3)}, "delta"),
    ({"qp_mean_free_path": -1.0}, "qp_mean_free_path"),
    ({"phonon_boundary": "escape"}, "phonon_transmission"),
    ({"photon": PointPhoton(energy=1.0, position=50.0, epsilon0=500.0, width=30.0)},
     "photon.position"),
    ({"photon": PointPhoton(energy=1.0, epsilon0=100.0, width=30.0)}, "photon.epsilon0"),
    ({"sound_velocity": 0.0}, "sound_velocity"),
])
def test_bad_arguments_give_one_line_errors_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}") as info:
        _model(**kwargs)
    assert "\n" not in str(info.value)


def test_bad_evolve_arguments_and_photons_give_one_line_errors():
    sp = _model()
    for kw, name in (({"dt": -1.0}, "dt"), ({"t_end": 0.0}, "t_end"), ({"n_out": 1}, "n_out"),
                     ({"method": "nope"}, "method")):
        with pytest.raises(ValueError, match=f"^{name}") as info:
            sp.evolve(**({"t_end": 1.0} | kw))
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="^photon.size"):
        PointPhoton(energy=1.0, size=0.0)
    with pytest.raises(ValueError, match="^s0"):
        sp.evolve(SpatialState(np.zeros((2, 2)), np.zeros((2, 2))), t_end=1.0)


def test_checkpoint_and_resume_continue_the_run():
    """A run stopped after its second output and resumed from the partial Dataset ends where
    the uninterrupted run does."""
    sp = _model(photon=PointPhoton(energy=2e4, size=0.4, epsilon0=500.0, width=30.0))
    kept = []

    def stop(ds):
        kept.append(ds)
        if ds.sizes["t"] == 2:
            raise KeyboardInterrupt

    opts = dict(t_end=2.0, n_out=4, dt=0.25, fixed_step=True)
    full = sp.evolve(**opts)
    with pytest.raises(KeyboardInterrupt):
        sp.evolve(callback=stop, **opts)
    resumed = sp.evolve(resume=kept[-1], **opts)
    np.testing.assert_allclose(resumed.f.values, full.f.values, rtol=1e-12, atol=1e-300)
    assert resumed.qp_energy.attrs["units"] == "ueV/um^3"
    assert all("units" in resumed[v].attrs for v in resumed.data_vars)


def test_boundary_injection_is_accounted_for_in_a_sphere():
    """Continuous injection through the surface of a sphere (power per area into the
    surface shell) and phonon escape there: inside + escaped − injected is conserved to
    ≤ 1e-8 relative, the injected energy is power × area × t, and the QP energy inside
    grows."""
    sp = SpatialQPPhononModel(AL, "sphere", radius=2.0, cells=4, T_bath=0.3,
                              phonon_boundary="escape", phonon_transmission=0.2,
                              injection=BoundaryInjection(power=50.0, epsilon0=500.0,
                                                          width=30.0), **GRID)
    ds = sp.evolve(t_end=20.0, n_out=3, dt=5.0, rtol=1e-3)
    area = 4 * np.pi * 2.0**2
    np.testing.assert_allclose(ds.energy_injected.values, 50.0 * area * ds.t.values)
    assert ds.attrs["bookkeeping_drift"] <= 1e-8 and "check_failed" not in ds.attrs
    assert ds.qp_energy_total.values[-1] > ds.qp_energy_total.values[0]
    with pytest.raises(ValueError, match="^injection.wall"):
        SpatialQPPhononModel(AL, "sphere", radius=2.0, cells=4, T_bath=0.3,
                             injection=BoundaryInjection(power=1.0, epsilon0=500.0, width=30.0,
                                                         wall="lower"), **GRID)
