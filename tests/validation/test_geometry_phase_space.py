"""Eqs. 13 and 23 of Valet and Raimondi in the mixed (k, t) and (k, x) sectors (Rice-Mele chain).

The semiclassical results (Thouless pumping, polarisation = Berry phase, bound charge ∝ the
(k, x) curvature) are checked against independent computations: link-variable Chern numbers,
Wilson-loop Berry phases, exact time evolution of the Bloch states and exact diagonalisation
of a ring whose phase varies in space.
"""

from __future__ import annotations

import numpy as np
import pytest

from boltzphlow.bands.models import PAULI
from boltzphlow.bands.rice_mele import RiceMele
from boltzphlow.geometry import phase_space as ps

MODEL = RiceMele(t=1.0, dimerization=0.5, mass=0.5)


def fhs_chern(model: RiceMele, n: int = 48, band: int = 0) -> float:
    """Chern number ``(1/2π)∫Ω_kφ`` of the band on the (k, φ) torus by link variables (Fukui,
    Hatsugai and Suzuki 2005; plaquette flux ``-arg`` of the loop product)."""
    k = 2 * np.pi * np.arange(n) / n
    kk, pp = np.meshgrid(k, k, indexing="ij")
    _, u = np.linalg.eigh(model.hamiltonian(kk, pp))
    s = u[..., band]

    def link(axis):
        ov = np.einsum("...a,...a->...", s.conj(), np.roll(s, -1, axis=axis))
        return ov / np.abs(ov)

    u1, u2 = link(0), link(1)
    flux = np.angle(u1 * np.roll(u2, -1, 0) * np.conj(np.roll(u1, -1, 1)) * np.conj(u2))
    return float(-flux.sum() / (2 * np.pi))


def test_pumped_charge_is_the_chern_number_and_the_berry_phase_winding():
    """Q = -(1/2π)∫Ω_kφ = 1 (band 0), -1 (band 1), to 1e-12; = -C_FHS; = winding of P(φ)."""
    q0, q1 = ps.pumped_charge(MODEL), ps.pumped_charge(MODEL, band=1)
    assert q0 == pytest.approx(1.0, abs=1e-12)
    assert q1 == pytest.approx(-1.0, abs=1e-12)
    assert fhs_chern(MODEL) == pytest.approx(-q0, abs=1e-10)
    phases = np.linspace(0.0, 2 * np.pi, 65)
    gamma = np.unwrap([ps.berry_phase(MODEL, p) for p in phases])
    assert (gamma[-1] - gamma[0]) / (2 * np.pi) == pytest.approx(q0, abs=1e-10)
    # reversing the sense of the cycle (Δ -> -Δ) reverses the pump
    assert ps.pumped_charge(RiceMele(1.0, 0.5, -0.5)) == pytest.approx(-1.0, abs=1e-12)


def test_polarisation_change_is_the_berry_phase_change():
    """∫_{φ1}^{φ2} dP/dφ (Kubo Ω_kφ, Gauss-Legendre in φ) = ΔP from Wilson loops.

    The Wilson loop converges as O(1/n_k²) (measured differences 1.2e-5 at n_k = 256,
    2.0e-6 at 1024 for the largest change); the Kubo side is spectral.
    """
    x, wx = np.polynomial.legendre.leggauss(24)
    for a, b in [(0.3, 1.4), (2.0, 4.5), (-1.0, 0.2)]:
        phis = 0.5 * (b - a) * x + 0.5 * (b + a)
        integrated = float((ps.polarization_rate(MODEL, phis) * wx).sum() * 0.5 * (b - a))
        change = (ps.berry_phase(MODEL, b, 4096) - ps.berry_phase(MODEL, a, 4096)) / (2 * np.pi)
        assert abs(integrated) > 0.02
        mismatch = integrated - change  # the Berry phase is defined modulo 2π
        assert mismatch - np.round(mismatch) == pytest.approx(0.0, abs=2e-6)


def schedule(u: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """φ(t) = 2π(u - sin(2πu)/2π), u = t/T, and φ_t: a cycle that starts and ends at rest,
    so the initial eigenstate is the adiabatic state and non-adiabatic errors are O(1/T²)."""
    return 2 * np.pi * u - np.sin(2 * np.pi * u), 2 * np.pi * (1 - np.cos(2 * np.pi * u)) / period


def exact_pump(period: float, n_k: int = 32, dt: float = 0.05
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time-evolve the filled lower band through one cycle (exact 2x2 propagators, Strang
    splitting around each midpoint); φ, φ_t and the current at the midpoints."""
    k = 2 * np.pi * np.arange(n_k) / n_k
    _, u = np.linalg.eigh(MODEL.hamiltonian(k, np.zeros(n_k)))
    psi = u[:, :, 0]
    steps = int(round(period / dt))
    dt = period / steps
    phases, rates = schedule((np.arange(steps) + 0.5) / steps, period)
    current = np.empty(steps)
    for s, phi in enumerate(phases):
        d, dk, _ = MODEL.d_vector(k, np.full(n_k, phi))
        norm = np.linalg.norm(d, axis=-1)
        half = (np.cos(norm * dt / 2)[:, None, None] * PAULI[0]
                - 1j * np.sin(norm * dt / 2)[:, None, None]
                * np.einsum("ka,aij->kij", d / norm[:, None], PAULI[1:]))
        psi = np.einsum("kij,kj->ki", half, psi)
        vel = np.einsum("ka,aij->kij", dk, PAULI[1:])
        current[s] = np.real(np.einsum("ki,kij,kj->k", psi.conj(), vel, psi)).mean()
        psi = np.einsum("kij,kj->ki", half, psi)
    return phases, rates, current


def test_thouless_pump_by_exact_time_evolution():
    """Charge per cycle → Q = 1; the current follows the semiclassical ∫dk/2π D ẋ (Eq. 23).

    Measured (32 k-points, dt = 0.1): the instantaneous current differs from
    ``-φ_t ∫dk/2π Ω_kφ`` (peak 4.2e-2, 2.1e-2) by at most 7.9e-3 (T = 80) and 6.0e-4
    (T = 160), 5.8e-5 at T = 320: the non-adiabatic remainder vanishes faster than the
    current.  |Q - 1| = 2.9e-3 and 1.6e-3, limited by the O(dt²) time step (4.0e-4 at
    dt = 0.05).
    """
    deviations, peaks = [], []
    for period in (80.0, 160.0):
        phases, rates, current = exact_pump(period, dt=0.1)
        assert current.mean() * period == pytest.approx(1.0, abs=4e-3)
        k = 2 * np.pi * np.arange(64) / 64
        xdot, _, dos = ps.semiclassical_flow(MODEL, k[None, :], phases[:, None],
                                             phase_rate=rates[:, None])
        semiclassical = (dos * xdot).mean(axis=1)  # filled band: ∫dk/2π D ẋ = -φ_t ∫Ω/2π
        assert (semiclassical * (period / len(phases))).sum() == pytest.approx(1.0, abs=1e-6)
        deviations.append(np.abs(current - semiclassical).max())
        peaks.append(np.abs(semiclassical).max())
    assert deviations[0] < 0.25 * peaks[0]
    assert deviations[1] < 0.05 * peaks[1]
    assert deviations[1] < deviations[0] / 4


@pytest.mark.parametrize("n_cells", [50, 100])
def test_bound_charge_of_a_slow_spatial_winding_by_exact_diagonalisation(n_cells):
    """Ring of L cells with φ_j = 2πj/L: δn_j = ∫dk/2π Ω_kx = -φ' dP/dφ, Σ δn = -Q.

    Measured max |δn_ED - δn| / max|δn| = 4.4e-2, 1.5e-2, 4.1e-3 for L = 50, 100, 200 (higher
    order in the gradient 2π/L); the occupied states are exactly L - Q = L - 1.
    """
    phases = 2 * np.pi * np.arange(n_cells) / n_cells
    energies, states = np.linalg.eigh(MODEL.chain(phases))
    occupied = energies < 0
    assert occupied.sum() == n_cells - 1  # one state moved to the upper band by the winding
    density = (np.abs(states[:, occupied]) ** 2).sum(1).reshape(n_cells, 2).sum(1)
    predicted = ps.charge_density_correction(MODEL, phases, np.full(n_cells, 2 * np.pi / n_cells),
                                             n_k=128)
    assert predicted.sum() == pytest.approx(-1.0, abs=1e-10)
    relative = np.abs(density - 1.0 - predicted).max() / np.abs(predicted).max()
    assert relative < {50: 6e-2, 100: 2e-2}[n_cells]


def test_mixed_curvature_kubo_equals_finite_difference_berry_connection():
    """Ω_kφ = ∂_k A_φ - ∂_φ A_k from the gauge-invariant plaquette phase of a tiny loop."""
    k0, phi0, h = np.array([0.3, 2.0, -1.1]), np.array([0.7, -2.2, 1.9]), 1e-4
    corners = [(0, 0), (1, 0), (1, 1), (0, 1)]
    _, u = np.linalg.eigh(MODEL.hamiltonian(
        np.stack([k0 + a * h for a, _ in corners]), np.stack([phi0 + b * h for _, b in corners])))
    s = u[..., 0]
    loop = np.prod([np.einsum("ka,ka->k", s[i].conj(), s[(i + 1) % 4]) for i in range(4)], axis=0)
    plaquette = -np.angle(loop) / h**2
    kubo = ps.mixed_curvature(MODEL, k0, phi0)[:, 0, 0]
    np.testing.assert_allclose(kubo, plaquette, rtol=1e-3)
    # two bands: Ω^0_1 = Ω^0_0 (Eq. 13 with P_1 = 1 - P_0) and Σ_n Ω^n_n = 0
    full = ps.mixed_curvature(MODEL, k0, phi0)
    np.testing.assert_allclose(full[:, 0, 0] + full[:, 1, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(full[:, 0, 1], full[:, 0, 0], atol=1e-12)
