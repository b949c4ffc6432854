"""Superconductor model: BCS gap, grid, materials, sources, observables and bad input."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import special

import boltzphlow as bp
from boltzphlow.apps import superconductor as scjob
from boltzphlow.config import ConfigError, validate_config
from boltzphlow.errors import InputError, ResourceError, SolverError
from boltzphlow.grids.energy import EnergyGrid
from boltzphlow.integrate import INTEGRATORS, integrate
from boltzphlow.integrate.base import SMALL_DENSE, dense_threads
from boltzphlow.integrate.schemes import Rosenbrock
from boltzphlow.jobs import SilentContext
from boltzphlow.kinetics.superconductor import gap as gapmod
from boltzphlow.kinetics.superconductor.model import ParameterError, parameter_names
from boltzphlow.units import K_B
from conftest import assert_figures_hold_data, figure_names

AL = bp.superconductor.material("Al")


def test_bcs_ratio_in_weak_coupling():
    """Δ0 = π e^{-γ} k_B Tc = 1.7639 k_B Tc when Ω_D ≫ Δ0; corrections O((Δ0/Ω_D)²)."""
    for debye in (1e3, 1e5):
        tc = bp.superconductor.bcs_critical_temperature(1.0, debye)
        assert 1.0 / (K_B * tc) == pytest.approx(bp.superconductor.BCS_RATIO, rel=2 / debye**2)
    assert bp.superconductor.BCS_RATIO == pytest.approx(1.7639, abs=1e-4)


def test_bcs_gap_limits():
    """Δ(0) = Δ0; low T: Δ0 − Δ ≈ √(2π Δ0 k_BT) e^{−Δ0/k_BT};
    near Tc: Δ² ≈ (8π²/7ζ(3)) (k_BTc)² (1 − T/Tc); Δ = 0 above Tc."""
    delta0, debye = 180.0, 1e6
    tc = bp.superconductor.bcs_critical_temperature(delta0, debye)
    assert bp.superconductor.bcs_gap(0.0, delta0, debye) == delta0
    T = 0.15 * tc
    kT = K_B * T
    expected = math.sqrt(2 * math.pi * delta0 * kT) * math.exp(-delta0 / kT)
    assert delta0 - bp.superconductor.bcs_gap(T, delta0, debye) == pytest.approx(expected,
                                                                                 rel=0.05)
    for t in (0.999, 0.9999):
        d = bp.superconductor.bcs_gap(t * tc, delta0, debye)
        gl = math.sqrt(8 * math.pi**2 / (7 * special.zeta(3)) * (1 - t)) * K_B * tc
        assert d == pytest.approx(gl, rel=2 * (1 - t) + 1e-6)  # next order is O(1 − T/Tc)
    assert bp.superconductor.bcs_gap(1.01 * tc, delta0, debye) == 0.0


def test_condensation_energy_at_zero_temperature():
    """C(Δ0) = −N0 Δ0²/2 per volume, i.e. −Δ0²/8 per 4 N0, up to O(Δ0²/Ω_D²)."""
    c = gapmod.condensate_energy(180.0, 180.0, 36883.0)
    assert c == pytest.approx(-180.0**2 / 8, rel=1e-4)


def test_grid_step_divides_two_delta_and_edge_is_a_bin_boundary():
    for delta, step in ((180.0, 3.0), (180.0, 2.9), (575.3, 7.0)):
        g = EnergyGrid.for_gap(delta, step, 1500.0)
        m = 2 * delta / g.step
        assert abs(m - round(m)) < 1e-9 and g.step <= step
        assert g.edges[0] == pytest.approx(delta, abs=1e-9 * delta)
        assert np.allclose(g.energies[:, None] + g.energies[None, :],
                           (g.pair_offset + np.add.outer(np.arange(g.n_qp),
                                                         np.arange(g.n_qp))) * g.step)


def test_bin_states_are_exact_integrals_of_the_dos():
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.1, energy_step=2.0, E_max=600.0)
    g, d, N = m.grid, m.delta, m.collision_operator().N
    assert N.sum() == pytest.approx(math.sqrt(g.e_max**2 - d**2), rel=1e-12)
    assert N[0] == pytest.approx(math.sqrt((d + g.step) ** 2 - d**2), rel=1e-12)


def test_materials_are_built_in_with_sources_and_can_be_overridden(tmp_path):
    assert set(bp.superconductor.available_materials()) >= {"Al", "Sn", "Nb", "Ta", "Pb", "In"}
    for name in bp.superconductor.available_materials():
        mat = bp.superconductor.material(name)
        assert "Kaplan" in mat.sources and mat.debye_energy > 2 * mat.delta0
    assert bp.superconductor.material("Al", delta0=190.0).delta0 == 190.0
    path = tmp_path / "film.toml"
    path.write_text('name = "film"\nTc = 1.3\ndelta0 = 200.0\ntau0 = 400.0\ntau_pb = 0.25\n'
                    'N0 = 1.7e4\ndebye_energy = 36000.0\n')
    assert bp.superconductor.material(path).Tc == 1.3


def test_thermal_state_observables():
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.2, energy_step=2.0, E_max=1500.0)
    s = m.thermal(0.25)
    tq, tp = m.effective_temperatures(s)
    assert tq == pytest.approx(0.25, rel=1e-9) and tp == pytest.approx(0.25, rel=1e-9)
    # thermal QP density 4 N0 ∫ρ e^{−E/k_BT} dE = 4 N0 Δ K1(Δ/k_BT) (Fermi → Boltzmann costs
    # e^{−Δ/k_BT}); exact bin states with f at the centres err like (h/k_BT)^{3/2} because the
    # weight of the edge bins is singular (ρ ∝ (E − Δ)^{-1/2}): measured 1.6e-2 ... 9e-4
    kT = K_B * 0.25
    errors = []
    for h in (4.0, 2.0, 1.0, 0.5):
        mh = bp.superconductor.QPPhononModel(AL, T_bath=0.2, energy_step=h, E_max=1500.0)
        x = mh.delta / kT
        exact = 4 * AL.N0 * mh.delta * special.k1e(x) * math.exp(-x)
        errors.append(abs(mh.qp_density(mh.thermal(0.25)) / exact - 1))
    order = np.polyfit(np.log([4.0, 2.0, 1.0, 0.5]), np.log(errors), 1)[0]
    assert 1.2 <= order <= 1.8
    assert errors[-1] < 1e-3


def test_photon_deposit_is_exact_on_the_grid():
    photon = bp.superconductor.PhotonHit(energy=5e5, volume=2.0, epsilon0=600.0, width=15.0)
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.1, energy_step=2.0, E_max=1500.0,
                                        photon=photon)
    e0 = sum(m.energy(m.thermal(0.1)))
    e1 = sum(m.energy(m.initial_state()))
    assert e1 - e0 == pytest.approx(5e5 / 2.0, rel=1e-12)


def test_injection_power_is_exact_on_the_grid():
    inj = bp.superconductor.Injection(power=3.0, epsilon0=600.0, width=15.0)
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.1, energy_step=2.0, E_max=1500.0,
                                        injection=inj)
    rate = m.injection_rate(m.states())
    assert 4 * AL.N0 * float((m.states() * m.E) @ rate) == pytest.approx(3.0, rel=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    ({"T_bath": -0.1}, "T_bath"),
    ({"T_bath": 1.5}, "not below Tc"),
    ({"energy_step": 60.0}, "too coarse"),
    ({"E_max": 500.0, "photon": bp.superconductor.PhotonHit(1e6, 10.0, 700.0, 20.0)},
     "photon.epsilon0: .* reaches above E_max"),
    ({"escape_time": 0.0}, "escape_time"),
    ({"gap": "moving"}, "gap: must be"),
])
def test_bad_input_raises_value_error(kwargs, match):
    args = {"T_bath": 0.1, "energy_step": 2.0, "E_max": 1500.0} | kwargs
    with pytest.raises(ValueError, match=match):
        bp.superconductor.QPPhononModel(AL, **args)


def test_unknown_material_and_bad_states():
    with pytest.raises(ValueError, match="unknown material 'Xx'"):
        bp.superconductor.material("Xx")
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.1, energy_step=4.0, E_max=800.0)
    with pytest.raises(ValueError, match="temperature"):
        m.thermal(-1.0)
    with pytest.raises(ValueError, match="do not match the grids"):
        m.rates(bp.superconductor.State(f=np.zeros(3), n=np.zeros(3)))
    with pytest.raises(ValueError, match="needs phonon escape"):
        m.steady_state()
    photon = bp.superconductor.PhotonHit(energy=1e9, volume=1e-3, epsilon0=600.0, width=5.0)
    with pytest.raises(ValueError, match="exceed 1"):
        m.photon_deposit(m.thermal(0.1), photon)


def test_rates_api_matches_interface():
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.1, energy_step=4.0, E_max=1000.0,
                                        gap="fixed", escape_time=None)
    s = m.thermal(0.3)
    r, ref = m.rates(s), m.rates(s, method="direct")
    assert set(r.terms) == {"scattering", "recombination", "pair_breaking"}
    assert r.f.shape == m.E.shape and r.n.shape == m.omega.shape
    qp, ph = m.energy(s)
    assert qp > 0 and ph > 0
    assert np.allclose(r.terms["recombination"].f, ref.terms["recombination"].f, rtol=1e-9)


def test_evolve_interface_with_time_relaxation_default_step():
    """The issue's call ``m.evolve(s0, t_end=100.0, method="relaxation")`` (no step given)."""
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.1, energy_step=6.0, E_max=1000.0,
                                        gap="fixed", escape_time=None)
    s0 = m.photon_deposit(m.thermal(0.1),
                          bp.superconductor.PhotonHit(1e6, 10.0, 600.0, 20.0))
    ds = m.evolve(s0, t_end=100.0, method="relaxation", n_out=6)
    for name in ("f", "n", "delta", "qp_energy", "phonon_energy", "qp_density"):
        assert name in ds and "units" in ds[name].attrs
    total = (ds.qp_energy + ds.phonon_energy).values
    assert np.max(np.abs(total - total[0])) <= 1e-10 * total[0]
    assert np.all(ds.f.values >= 0) and np.all(ds.n.values >= 0)


# --------------------------------------------------------------------------------------------
# issue 7: config schema, physics checks, bookkeeping, resources, materials, solver errors,
# resume checks, BLAS threads, plots, docs

SMALL = {"grid": {"energy_step": 8.0, "E_max": 600.0},
         "photon": {"energy": 2e5, "epsilon0": 450.0, "width": 20.0},
         "run": {"t_end": 20.0, "n_out": 5, "spacing": "linear"},
         "solver": {"method": "rosenbrock", "rtol": 1e-5}}


def _raw(**changes) -> dict:
    raw = {"model": "superconductor", "T_bath": 0.1, "volume": 10.0,
           **json.loads(json.dumps(SMALL))}
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        table = raw
        for part in parents:
            table = table.setdefault(part, {})
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return raw


class NoProgress(SilentContext):
    """A context that fails the test if a job reports progress (checks must come first)."""

    def progress(self, done: float, total: float) -> None:
        raise AssertionError("progress reported before the physics checks failed")


def _run(raw: dict, context=None):
    job, cfg = validate_config(raw)
    return job.run(cfg, context or SilentContext())


@pytest.mark.parametrize("dotted,value,needle", [
    ("T_bath", True, "T_bath: expected a temperature"),
    ("run__n_out", 2.5, "run.n_out"),
    ("run__n_out", True, "run.n_out"),
    ("solver__rtol", True, "solver.rtol"),
    ("solver__method", "euler", "solver.method: unknown integration method 'euler' (known: "),
    ("grid__energy_step", False, "grid.energy_step"),
])
def test_config_is_strict_and_methods_come_from_the_registry(dotted, value, needle):
    with pytest.raises(ConfigError) as err:
        validate_config(_raw(**{dotted: value}))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_registered_integrator_is_a_valid_method():
    class Twin(Rosenbrock):
        name = "rosenbrock_twin"

    INTEGRATORS[Twin.name] = Twin
    try:
        _, cfg = validate_config(_raw(solver__method="rosenbrock_twin"))
        assert cfg.solver.method == "rosenbrock_twin"
    finally:
        del INTEGRATORS[Twin.name]
    known = str(pytest.raises(ConfigError, validate_config, _raw(solver__method="x")).value)
    assert all(name in known for name in INTEGRATORS)


@pytest.mark.parametrize("changes,needle", [
    ({"T_bath": "5 K"}, "T_bath: 5 K is not below Tc = 1.19 K of Al"),
    ({"T_bath": "1.185 K"}, "T_bath: 1.185 K is not below the BCS Tc"),
    ({"material": "Xx"}, "material: unknown material 'Xx' (built in: Al, In, Nb, Pb, Sn, Ta"),
    ({"grid__energy_step": "100 ueV"}, "grid.energy_step: 100 µeV is too coarse"),
    ({"grid__E_max": 190.0}, "grid.E_max: 190 µeV leaves no room above the gap"),
    ({"grid__omega_max": 300.0}, "grid.omega_max: 300 µeV is below the energy"),
    ({"grid__omega_max": 1500.0, "grid__E_max": 1200.0},
     "grid.omega_max: 1500 µeV is above E_max + Δ = 1380 µeV: a phonon above it would "
     "break pairs into only part of its channels"),
    ({"photon__epsilon0": 5000.0}, "photon.epsilon0: the packet at 5000 ± 20 µeV"),
    ({"photon__epsilon0": 100.0}, "photon.epsilon0: 100 µeV is below the gap"),
    ({"photon__width": 1e-3}, "photon.width: 0.001 µeV is too narrow"),
    ({"photon__energy": 1e12}, "photon.energy: 1e+12 µeV in 10 µm³ is too much"),
    ({"injection": {"epsilon0": 900.0}}, "injection.epsilon0: the packet at 900"),
    ({"run__spacing": "log", "run__t_first": 50.0}, "run.t_first: must lie between 0 and "
                                                    "run.t_end = 20 ns"),
    ({"dynes": 1.0, "gap": "self-consistent"}, "dynes: Dynes broadening is supported with a "
                                               "fixed gap only"),
    ({"escape_time": 1e-30, "T_bath": 0.3}, "escape_time: 1e-30 ns is too short"),
    ({"task": "steady-state", "photon": None, "injection": {"epsilon0": 450.0}},
     "escape_time: a steady state"),
])
def test_physics_checks_name_the_config_key_before_progress(changes, needle):
    with pytest.raises(ValueError) as err:
        _run(_raw(**changes), NoProgress())
    text = str(err.value)
    assert needle in text, text
    assert "\n" not in text and len(text) < 400


def test_photon_with_a_steady_state_task_is_refused():
    with pytest.raises(ConfigError, match="photon: a photon hit is an initial condition"):
        validate_config(_raw(task="steady-state", escape_time=2.0))


def test_suggested_limits_work():
    """The values the messages offer are valid: the largest step, the least E_max."""
    msg = str(pytest.raises(ParameterError, bp.superconductor.QPPhononModel, AL, 0.1,
                            energy_step=100.0, E_max=1500.0).value)
    largest = float(re.search(r"largest step that works is ([0-9.]+)", msg).group(1))
    assert bp.superconductor.QPPhononModel(AL, 0.1, energy_step=largest, E_max=1500.0)
    msg = str(pytest.raises(ParameterError, bp.superconductor.QPPhononModel, AL, 0.1,
                            energy_step=8.0, E_max=185.0).value)
    least = float(re.search(r"at least ([0-9.]+)", msg).group(1))
    assert bp.superconductor.QPPhononModel(AL, 0.1, energy_step=8.0, E_max=least).grid.n_qp >= 2
    msg = str(pytest.raises(ParameterError, bp.superconductor.QPPhononModel, AL, 0.1,
                            energy_step=8.0, E_max=1200.0, omega_max=1500.0).value)
    most = float(re.search(r"use at most ([0-9.]+)", msg).group(1))
    e_max = float(re.search(r"raise E_max to ([0-9.]+)", msg).group(1))
    assert bp.superconductor.QPPhononModel(AL, 0.1, energy_step=8.0, E_max=1200.0,
                                           omega_max=most)
    assert bp.superconductor.QPPhononModel(AL, 0.1, energy_step=8.0, E_max=e_max,
                                           omega_max=1500.0)


def test_default_first_output_time_is_shared_by_the_api_and_the_config():
    """10 ps (or t_end/1e4 when earlier) for both, where the API once started at t_end/1e4."""
    m = bp.superconductor.QPPhononModel(AL, 0.1, energy_step=8.0, E_max=600.0)
    assert m.output_times(1e6, 5)[1] == pytest.approx(0.01)
    assert m.output_times(10.0, 5)[1] == pytest.approx(1e-3)
    _, cfg = validate_config(_raw(run__spacing="log", run__t_end=1e6))
    assert cfg.run.t_first is None  # the job passes None on: the model's default decides


def test_escape_time_too_short_for_the_bookkeeping_is_refused_with_a_value_that_works():
    """Round-off of the two-way bath exchange, ε E_bath T/τ, must stay below rtol · E_0."""
    photon = bp.superconductor.PhotonHit(2e5, 10.0, 450.0, 20.0)
    args = dict(T_bath=0.3, energy_step=8.0, E_max=600.0, photon=photon)
    m = bp.superconductor.QPPhononModel(AL, escape_time=1e-30, **args)
    with pytest.raises(ParameterError) as err:
        m.evolve(t_end=20.0, method="rosenbrock", n_out=3, rtol=1e-5)
    assert err.value.parameter == "escape_time"
    shortest = float(re.search(r"use at least ([0-9.e+-]+) ns", str(err.value)).group(1))
    ok = bp.superconductor.QPPhononModel(AL, escape_time=shortest, **args)
    ds = ok.evolve(t_end=20.0, method="rosenbrock", n_out=3, rtol=1e-5)
    assert "check_failed" not in ds.attrs


@pytest.mark.slow
def test_bookkeeping_drift_beyond_the_solver_tolerance_flags_the_result(monkeypatch):
    m = bp.superconductor.QPPhononModel(AL, 0.1, energy_step=8.0, E_max=600.0,
                                        photon=bp.superconductor.PhotonHit(2e5, 10.0, 450.0,
                                                                           20.0))
    good = m.evolve(t_end=20.0, method="rosenbrock", n_out=3, rtol=1e-6)
    assert "check_failed" not in good.attrs
    assert good.attrs["bookkeeping_drift"] <= good.attrs["bookkeeping_tolerance"] < 1.1e-6
    from boltzphlow.kinetics.superconductor import model as modelmod

    original = modelmod._Problem.after_step

    def leaky(self, t, y):  # a (fake) step that loses 1e-5 of the QP occupation
        y = original(self, t, y).copy()
        y[:self.nq] *= 1 - 1e-5
        return y

    monkeypatch.setattr(modelmod._Problem, "after_step", leaky)
    bad = m.evolve(t_end=20.0, method="rosenbrock", n_out=3, rtol=1e-6)
    failed = bad.attrs["check_failed"]
    assert failed.startswith("energy bookkeeping drift") and "rtol = 1e-06" in failed
    assert "\n" not in failed


@pytest.mark.slow
def test_self_consistent_gap_bookkeeping_counts_the_condensate_exchange():
    photon = bp.superconductor.PhotonHit(energy=2e7, volume=1.0, epsilon0=500.0, width=30.0)
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.15, energy_step=8.0, E_max=700.0,
                                        gap="self-consistent", photon=photon)
    ds = m.evolve(t_end=5.0, method="rosenbrock", n_out=3, spacing="linear", rtol=1e-5)
    assert float(ds.delta[-1]) < float(ds.delta[0])  # the gap moved
    assert abs(float(ds.gap_exchange[-1])) > 0
    assert "check_failed" not in ds.attrs
    assert ds.attrs["bookkeeping_drift"] < 1e-9


@pytest.mark.parametrize("grid,what", [({"E_max": 1e7, "energy_step": 0.01}, "collision rates"),
                                      ({"E_max": 2e5, "energy_step": 1.0}, "dense Jacobian")])
def test_memory_guards_refuse_before_allocating(grid, what, monkeypatch):
    monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "4 GiB")
    started = time.perf_counter()
    with pytest.raises(ResourceError) as err:
        _run(_raw(grid=grid, photon__epsilon0=700.0, solver__method="bdf"), NoProgress())
    assert time.perf_counter() - started < 1.0
    text = str(err.value)
    assert what in text and "grid.energy_step" in text and "grid.E_max" in text
    assert "\n" not in text


def test_memory_guards_for_output_records_and_direct_rates(monkeypatch):
    monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "64 MiB")
    with pytest.raises(ResourceError, match=r"output records .* change run\.n_out"):
        _run(_raw(run__n_out=10**10), NoProgress())
    m = bp.superconductor.QPPhononModel(AL, 0.1, energy_step=0.5, E_max=2000.0)
    started = time.perf_counter()
    with pytest.raises(ResourceError, match="direct quadrature"):
        m.rates(m.thermal(0.1), method="direct")
    with pytest.raises(ResourceError, match="steady-state Newton iteration"):
        bp.superconductor.QPPhononModel(AL, 0.1, energy_step=0.5, E_max=2000.0,
                                        escape_time=1.0).steady_state(linear="dense")
    with pytest.raises(ResourceError, match="Newton–Krylov iteration"):  # O(N), not O(N²)
        bp.superconductor.QPPhononModel(AL, 0.1, energy_step=0.047, E_max=2000.0,
                                        escape_time=1.0).steady_state()
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("text,needle", [
    ('name = "x"\nTc = 1.2\n', "key(s) 'delta0', 'tau0', 'tau_pb', 'N0', 'debye_energy' missing"),
    ('Tc = "abc"\ndelta0 = 1\ntau0 = 1\ntau_pb = 1\nN0 = 1\ndebye_energy = 10\n',
     "Tc: must be a positive finite number, got 'abc'"),
    ('Tc = true\ndelta0 = 1\ntau0 = 1\ntau_pb = 1\nN0 = 1\ndebye_energy = 10\n', "Tc: must be"),
    ('Tc = nan\ndelta0 = 1\ntau0 = 1\ntau_pb = 1\nN0 = 1\ndebye_energy = 10\n', "got nan"),
    ('Tc = 1\ndelta0 = 1\ntau0 = 1\ntau_pb = 1\nN0 = 1\ndebye_energy = 1\n', "debye_energy: "),
    ('Tc = 1\nfoo = 2\n', "unknown key(s) 'foo'"),
    ('secret = = 3\n', "invalid TOML"),
])
def test_material_files_give_one_line_input_errors(text, needle, tmp_path):
    path = tmp_path / "film.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        bp.superconductor.material(path)
    message = str(err.value)
    assert needle in message and "film.toml" in message and "\n" not in message
    assert "secret" not in message  # file contents are never echoed
    with pytest.raises(InputError, match="no such file"):
        bp.superconductor.material(tmp_path / "missing.toml")


def test_solver_failures_are_solver_errors_saying_what_to_change(monkeypatch):
    from boltzphlow.kinetics.superconductor.collisions import CollisionOperator

    m = bp.superconductor.QPPhononModel(AL, 0.1, energy_step=8.0, E_max=600.0,
                                        photon=bp.superconductor.PhotonHit(2e5, 10.0, 450.0,
                                                                           20.0))
    rates = CollisionOperator.rates

    def poisoned(self, f, n, terms=True, tilt=None):
        out = rates(self, f, n, terms, tilt)
        out.f = out.f * np.nan
        return out

    monkeypatch.setattr(CollisionOperator, "rates", poisoned)
    with parameter_names(scjob.CONFIG_KEYS), pytest.raises(SolverError) as err:
        m.evolve(t_end=20.0, method="rosenbrock", n_out=3)
    text = str(err.value)
    assert "time integration (rosenbrock) failed" in text and "solver.rtol" in text
    assert "\n" not in text
    monkeypatch.undo()
    inj = bp.superconductor.Injection(power=1.0, epsilon0=450.0, width=20.0)
    m = bp.superconductor.QPPhononModel(AL, 0.1, energy_step=8.0, E_max=600.0,
                                        escape_time=2.0, injection=inj)
    with pytest.raises(SolverError, match="steady state not found: no convergence in 1 "
                                          "iterations .* try a larger tol"):
        m.steady_state(max_iter=1)


@pytest.mark.slow
def test_resume_refuses_data_of_another_config():
    photon = bp.superconductor.PhotonHit(2e5, 10.0, 450.0, 20.0)
    m = bp.superconductor.QPPhononModel(AL, 0.1, energy_step=8.0, E_max=600.0, photon=photon)
    part = m.evolve(t_end=20.0, method="rosenbrock", n_out=5, spacing="linear").isel(
        t=slice(0, 3))
    other = bp.superconductor.QPPhononModel(AL, 0.1, energy_step=6.0, E_max=600.0,
                                            photon=photon)
    with pytest.raises(ValueError, match="QP bins, this config gives"):
        other.evolve(t_end=20.0, method="rosenbrock", n_out=5, spacing="linear", resume=part)
    with pytest.raises(ValueError, match="other output times"):
        m.evolve(t_end=30.0, method="rosenbrock", n_out=5, spacing="linear", resume=part)
    with pytest.raises(ValueError, match="holds a 'geometry' result"):
        m.evolve(t_end=20.0, method="rosenbrock", n_out=5, spacing="linear",
                 resume=part.assign_attrs(model="geometry"))
    with pytest.raises(ValueError, match="lacks f"):
        m.evolve(t_end=20.0, method="rosenbrock", n_out=5, spacing="linear",
                 resume=part.drop_vars("f"))
    shifted = part.assign_coords(E=part.E + 1.0)
    with pytest.raises(ValueError, match="another E grid"):
        m.evolve(t_end=20.0, method="rosenbrock", n_out=5, spacing="linear", resume=shifted)
    assert scjob.JOB.resumable


def test_small_dense_work_runs_on_one_blas_thread():
    from threadpoolctl import threadpool_info

    seen = []

    class Decay:
        def rhs(self, t, y):
            seen.append(max(i["num_threads"] for i in threadpool_info()
                            if i["user_api"] == "blas"))
            return -y

        def jacobian(self, t, y):
            return -np.eye(y.size)

    integrate(Decay(), np.ones(4), np.array([0.0, 1.0]), "rosenbrock", rtol=1e-3)
    assert seen and set(seen) == {1}
    with dense_threads(SMALL_DENSE + 1):
        pass  # larger systems keep the default threads (nothing to assert portably)


def _sweep(raw: dict, vary: dict):
    from boltzphlow.sweep import sweep

    return sweep(raw, vary, workers=1, report=lambda line: None)


@pytest.mark.slow
def test_plots_are_named_by_stem_and_hold_data(tmp_path, figures):
    ds = _run(_raw())
    paths = scjob.plot(ds, tmp_path, "my_run")
    assert [p.name for p in paths] == ["my_run_evolution.png"] == figure_names(figures)
    assert_figures_hold_data(figures)
    inj = _raw(task="steady-state", photon=None, escape_time=2.0,
               injection={"power": 1e-15, "epsilon0": 450.0})
    paths = scjob.plot(_run(inj), tmp_path, "ss")
    assert [p.name for p in paths] == ["ss_steady_state.png"]
    assert "steady state in" in scjob.summary(_run(inj))


@pytest.mark.slow
def test_sweep_results_are_drawn_with_failed_points_left_out(tmp_path, figures):
    """The issue's `sweep al_closed_relaxation --vary T_bath=...` on a small grid, with one
    point failing (T_bath above Tc): per-point traces and final values, NaN points skipped."""
    raw = _raw(solver={"method": "relaxation", "order": 2, "dt": 0.5})
    ds = _sweep(raw, {"T_bath": ["100mK", "150mK", "5K"]})
    assert int(ds.attrs["n_failed"]) == 1
    paths = scjob.plot(ds, tmp_path, "al_sweep")
    assert [p.name for p in paths] == ["al_sweep_evolution.png", "al_sweep_scalars.png"]
    text = scjob.summary(ds)
    assert "T_bath = 0.1" in text and "T_bath = 0.15" in text and "T_bath = 5" not in text
    inj = _raw(task="steady-state", photon=None, escape_time=2.0,
               injection={"power": 1e-15, "epsilon0": 450.0})
    ss = _sweep(inj, {"injection.power": [1e-16, 1e-15], "material": ["Al", "Xx"]})
    names = [p.name for p in scjob.plot(ss, tmp_path, "ss_sweep")]
    assert names == ["ss_sweep_steady_state.png", "ss_sweep_scalars.png"]
    assert_figures_hold_data(figures)


def test_docs_document_every_config_key_and_cite_papers_not_seed_files():
    from boltzphlow.schema import config_fields, field_unit

    root = Path(__file__).resolve().parents[2]
    docs = (root / "docs" / "superconductor.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([\w.]+)` \|.*$", docs, re.M)}
    for key, field in config_fields(scjob.SuperconductorConfig):
        if key == "model":
            continue
        assert key in rows, f"{key} is not documented"
        unit = field_unit(field)
        if unit:
            shown = {"ueV": "µeV", "um^3": "µm³"}.get(unit, unit)
            assert shown in rows[key], f"{key}: unit {shown} missing"
    folders = [root / "src/boltzphlow/kinetics/superconductor", root / "src/boltzphlow/integrate"]
    files = [p for folder in folders for p in folder.glob("*.py")]
    files += [root / "src/boltzphlow/grids/energy.py", root / "docs/superconductor.md"]
    for path in files:
        text = path.read_text()
        assert not re.search(r"seed[s]? ?0\d\d|shared/seeds|\.txt\b", text), path.name
    assert "Documentation for BoltzPhlow" in docs
