"""Field terms of the linearised BTE (boltzphlow.kinetics.bte.fields): the Lorentz operator,
the Berry-phase pieces (phase-space factor, orbital-moment energy, anomaly drive) and the
intrinsic anomalous Hall term, against their definitions (Valet and Raimondi, Eqs. 29-35)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import boltzphlow as bp
from boltzphlow.bands.hamiltonian import ContinuumModel
from boltzphlow.kinetics.bte.fields import FieldTerms, cartesian_steps, mesh_gradient
from boltzphlow.kspace.states import EnergyWindow, KStates
from boltzphlow.scattering.base import Equilibrium


def parabolic(k_max: float = 3.5, mass: float = 1.0) -> ContinuumModel:
    """One 2D band ``ε = k²/2m`` on the box ``[-k_max, k_max]²``."""
    return bp.bands.parabolic_band(mass=mass, k_max=k_max)


def parabolic_states(n: int, mu: float = 1.0, T: float = 0.2) -> KStates:
    return KStates.build(parabolic(), (n, n), EnergyWindow.around(mu, T), curvature=False,
                         orbital_moment=False)


@pytest.mark.parametrize("n_kT", [20.0, 3.0])
def test_lorentz_is_skew_symmetric_and_conserves_particles(n_kT):
    """``K_B`` is exactly skew (its flux form) and odd in B, and ``K_B 1`` vanishes to
    round-off, also at the window edge: in a window of ``±3 T``, where ``f^0(1-f^0)`` at the
    edge is 5 % of its peak, the edge faces carry no flux (the limit of ``f^0`` on the dual
    edges there), so no particle leaks out of the window."""
    eq = Equilibrium(mu=1.0, T=0.2)
    s = KStates.build(parabolic(), (40, 40), EnergyWindow.around(1.0, 0.2, n_kT=n_kT),
                      curvature=False, orbital_moment=False)
    k = FieldTerms.build(s, (0, 0, 0.3), berry=False).lorentz(eq)
    k_minus = FieldTerms.build(s, (0, 0, -0.3), berry=False).lorentz(eq)
    assert abs(k + k.T).max() == 0.0
    assert abs(k + k_minus).max() <= 1e-15 * abs(k).max()
    assert np.abs(k @ np.ones(len(s))).max() <= 1e-14 * abs(k).max()
    assert k.nnz <= 2 * 2 * len(s)
    assert FieldTerms.build(s, None, berry=False).lorentz(eq) is None


def test_lorentz_converges_to_the_continuum_operator_at_second_order():
    """``K_B φ → w f^0(1-f^0) (v×B)·∇φ`` for a smooth φ: central differences of a flux built
    from ``f^0`` on the mesh, error ``O((v h / T)²)``, so halving h divides it by ~4 (observed
    order ≥ 1.9; 1.96 measured between 70² and 140² on k_max = 3.5, T = 0.2)."""
    eq = Equilibrium(mu=1.0, T=0.2)
    b = 0.5
    errors = []
    for n in (70, 140):
        s = parabolic_states(n)
        k = FieldTerms.build(s, (0, 0, b), berry=False).lorentz(eq)
        x, y = s.k.T
        phi = x * x * y + np.sin(y)
        grad = np.stack([2 * x * y, x * x + np.cos(y)], 1)
        force = np.stack([s.velocity[:, 1] * b, -s.velocity[:, 0] * b], 1)  # v×B
        exact = s.weight * eq.pauli_weight(s.energy) * (force * grad).sum(1)
        errors.append(np.linalg.norm(k @ phi - exact) / np.linalg.norm(exact))
    assert errors[1] < 0.01
    assert math.log2(errors[0] / errors[1]) >= 1.9


def test_cartesian_steps_and_mesh_gradient():
    """The mesh steps of a box (``2 k_max / N``) and of a lattice (``b_a / N_a``) are found
    from the states; central differences are exact for a quadratic."""
    s = parabolic_states(40)
    assert np.allclose(cartesian_steps(s), np.eye(2) * 7.0 / 40, atol=1e-14)
    x, y = s.k.T
    grad = mesh_gradient(s, x * x + 3 * x * y, cartesian_steps(s))
    inner = (s.neighbours(0, 1) >= 0) & (s.neighbours(0, -1) >= 0) & (
        s.neighbours(1, 1) >= 0) & (s.neighbours(1, -1) >= 0)
    assert np.allclose(grad[inner], np.stack([2 * x + 3 * y, 3 * x], 1)[inner], atol=1e-12)
    h = bp.bands.weyl_lattice()
    lattice = KStates.build(h, (8, 8, 6), EnergyWindow(-1.5, 1.5), orbital_moment=False)
    assert np.allclose(cartesian_steps(lattice), np.diag(2 * np.pi / np.array([8, 8, 6])),
                       atol=1e-12)


def test_berry_terms_in_a_field():
    """In ``B = B_z``: ``D = 1 - B·Ω``, ``ε̄ = ε - m·B``, weights ``D w``; ``ṽ - v`` is minus the
    mesh gradient of ``m·B``; the current velocity is ``ṽ/D`` (2D: ``ṽ·Ω = 0``); with the
    Berry terms off nothing changes."""
    h = bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=4.0)
    s = KStates.build(h, (40, 40), EnergyWindow.around(2.0, 0.1), orbital_moment=True)
    b = 0.05
    f = FieldTerms.build(s, (0, 0, b), berry=True)
    om, m = s.berry_curvature[:, 0], s.orbital_moment[:, 0]
    assert np.allclose(f.phase_space_factor, 1 - b * om, rtol=0, atol=1e-15)
    assert np.allclose(f.states.energy, s.energy - b * m, rtol=0, atol=1e-15)
    assert np.allclose(f.states.weight, s.weight * (1 - b * om), rtol=1e-15)
    assert np.allclose(f.states.velocity - s.velocity,
                       -mesh_gradient(s, b * m, cartesian_steps(s)), atol=1e-15)
    assert np.allclose(f.current_velocity(), f.states.velocity / f.phase_space_factor[:, None])
    off = FieldTerms.build(s, (0, 0, b), berry=False)
    assert off.states is s and np.all(off.phase_space_factor == 1.0)


def test_anomaly_drive_pumps_the_node_berry_flux():
    """3D, E ∥ B ∥ z: ``b_z = w f^0(1-f^0)(ṽ_z - B ṽ·Ω)/T``; its anomaly part summed over all
    states is ``-B Σ w (-∂f/∂ε) ṽ·Ω``, the Berry flux through the Fermi surfaces, which
    vanishes for a lattice (nodes of both chiralities) to the mesh error of a closed-surface
    flux; without Berry terms the drive is ``w f^0(1-f^0) v/T``."""
    h = bp.bands.weyl_lattice()
    eq = Equilibrium(mu=0.3, T=0.15)
    s = KStates.build(h, (16, 16, 16), EnergyWindow.around(0.3, 0.15, n_kT=8))
    b = 0.01
    on = FieldTerms.build(s, (0, 0, b), berry=True)
    g = s.weight * eq.pauli_weight(on.states.energy) / eq.T
    v, om = on.states.velocity, on.curvature
    expected = g[:, None] * (v - np.outer((v * om).sum(1), [0, 0, b]))
    assert np.allclose(on.drive(eq), expected, rtol=0, atol=1e-14 * np.abs(expected).max())
    off = FieldTerms.build(s, (0, 0, b), berry=False)
    bare = (s.weight * eq.pauli_weight(s.energy) / eq.T)[:, None] * s.velocity
    assert np.array_equal(off.drive(eq), bare)
    flux = (g * (v * om).sum(1))
    assert abs(flux.sum()) <= 1e-3 * np.abs(flux).sum()


def test_intrinsic_conductivity_is_the_anomalous_hall_of_observables():
    """At B = 0 the intrinsic term (Eq. 35 over the Fermi sea of the model) equals
    ``bp.observables.anomalous_hall`` on the same mesh (the same sum; round-off); it is
    antisymmetric, zero with the Berry terms off, and without the Hamiltonian only the window
    is summed (not the Fermi sea)."""
    h = bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=4.0)
    eq = Equilibrium(mu=1.5, T=0.05)
    s = KStates.build(h, (60, 60), EnergyWindow.around(1.5, 0.05), orbital_moment=False)
    sigma = FieldTerms.build(s, None, True, hamiltonian=h).intrinsic_conductivity(eq)
    reference = bp.observables.anomalous_hall(h, mu=1.5, T=0.05, mesh=(60, 60))
    assert sigma[0, 1] * 2 * np.pi == pytest.approx(reference, rel=1e-10)
    assert sigma[1, 0] == -sigma[0, 1] and sigma[0, 0] == 0.0
    assert np.all(FieldTerms.build(s, None, False, hamiltonian=h)
                  .intrinsic_conductivity(eq) == 0.0)
    window_only = FieldTerms.build(s, None, True).intrinsic_conductivity(eq)
    assert abs(window_only[0, 1] - sigma[0, 1]) > 0.1 * abs(sigma[0, 1])


@pytest.mark.parametrize("field, message", [
    ((0.1, 0, 0), "along z only"),
    ((0, 0), "three finite numbers"),
    ((0, 0, np.nan), "three finite numbers"),
    ((0, 0, -50.0), "too strong"),  # the upper band has Ω < 0
])
def test_bad_fields_are_refused(field, message):
    h = bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=4.0)
    s = KStates.build(h, (20, 20), EnergyWindow.around(1.1, 0.1), orbital_moment=True)
    with pytest.raises(ValueError, match=message):
        FieldTerms.build(s, field, berry=True)


def test_missing_geometry_is_refused():
    h = bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=4.0)
    window = EnergyWindow.around(2.0, 0.1)
    no_moment = KStates.build(h, (20, 20), window, orbital_moment=False)
    with pytest.raises(ValueError, match="orbital moment"):
        FieldTerms.build(no_moment, (0, 0, 0.1), berry=True)
    no_curvature = KStates.build(h, (20, 20), window, curvature=False, orbital_moment=False)
    with pytest.raises(ValueError, match="curvature"):
        FieldTerms.build(no_curvature, None, berry=True)
    reduced = KStates.build(bp.bands.haldane(), (12, 12), (-1.0, 1.0), use_symmetry=True)
    assert reduced.reduced
    with pytest.raises(ValueError, match="full mesh"):
        FieldTerms.build(reduced, (0, 0, 0.1), berry=False)
    with pytest.raises(ValueError, match="1D model"):
        FieldTerms.build(_one_dimensional_states(), (0, 0, 0.1), berry=False)


def _one_dimensional_states() -> KStates:
    def h(k):
        return (0.5 * k[..., 0] ** 2)[..., None, None] + 0j

    return KStates.build(ContinuumModel(h, 1, 1, 2.0), (20,), EnergyWindow(0.0, 1.0),
                         curvature=False, orbital_moment=False)
