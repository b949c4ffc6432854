"""Superconductor model: BCS gap, grid, materials, sources, observables and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

import boltzphlow as bp
from boltzphlow.grids.energy import EnergyGrid
from boltzphlow.kinetics.superconductor import gap as gapmod
from boltzphlow.units import K_B

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
     "above the energy range"),
    ({"escape_time": 0.0}, "escape_time"),
    ({"gap": "moving"}, "gap must be"),
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
