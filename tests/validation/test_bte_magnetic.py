"""Magnetotransport from the linearised BTE in a magnetic field (issue 9): Onsager reciprocity,
the ordinary Hall coefficient and magnetoresistance of a parabolic band, and the chiral anomaly
and planar Hall effect of a Weyl pair (D. T. Son and B. Z. Spivak, "Chiral anomaly and classical
negative magnetoresistance of Weyl metals"), with the Berry terms of T. Valet and R. Raimondi,
"Semiclassical kinetic theory for systems with non-trivial quantum geometry", Eqs. 29-34.

Units ħ = e = k_B = 1, carrier charge +1; conductivities in e²/h (``σ [e²/ħ] = σ / 2π``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import boltzphlow as bp
from boltzphlow.bands import PAULI
from boltzphlow.bands.hamiltonian import ContinuumModel
from boltzphlow.scattering.nodes import NodeImpurities


def parabolic(k_max: float = 2.5, mass: float = 1.0) -> ContinuumModel:
    """One 2D band ``ε = k²/2m`` on the box ``[-k_max, k_max]²``."""
    return bp.bands.parabolic_band(mass=mass, k_max=k_max)


def drude(n: int, b: float, mu: float = 1.0, T: float = 0.1, tau: float = 5.0):
    bte = bp.transport.LinearBTE(parabolic(), (n, n), mu=mu, T=T,
                                 scattering=[bp.scattering.ConstantRelaxationTime(tau=tau)],
                                 magnetic_field=(0, 0, b), berry=False, n_kT=15)
    return bte.solve(method="direct", thermal=False)


@pytest.mark.slow
def test_onsager_reciprocity_with_impurities():
    """``σ_ij(B) = σ_ji(-B)`` to round-off: ``L`` is symmetric and ``K_B`` skew with
    ``K_B(-B) = K_Bᵀ`` by construction, the drive and current weights are the same vectors
    (massive Dirac, zero-range Born impurities, Berry terms off: a time-reversal-even
    problem).  The Hall response is large (``ω_c τ ~ 0.1``), so the check is not empty."""
    h = bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=4.0)
    imp = bp.scattering.Impurities(density=1.0, strength=0.5)
    sigma = {}
    for b in (0.05, -0.05):
        bte = bp.transport.LinearBTE(h, (36, 36), mu=2.0, T=0.15, scattering=[imp],
                                     magnetic_field=(0, 0, b), berry=False)
        sigma[b] = bte.solve(method="direct", thermal=False).sigma
    assert abs(sigma[0.05][0, 1]) > 0.05 * sigma[0.05][0, 0]
    assert np.abs(sigma[0.05] - sigma[-0.05].T).max() <= 1e-12 * np.abs(sigma[0.05]).max()


def test_intrinsic_anomalous_hall_of_the_bte_is_that_of_observables():
    """At B = 0 the Hall conductivity of the BTE without the side jump (Born impurities: no
    skew scattering) is the intrinsic term, the Fermi-sea sum of Eq. 35 that
    ``bp.observables.anomalous_hall`` evaluates on the same mesh: equal to round-off of the
    sum (the normal part vanishes by the mesh's mirror symmetry).  With the side jump the
    decomposition's intrinsic part is that same sum and σ adds the side-jump tensor."""
    h = bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=4.0)
    imp = bp.scattering.Impurities(density=1.0, strength=0.5)
    reference = bp.observables.anomalous_hall(h, mu=2.0, T=0.15, mesh=(30, 30))
    assert abs(reference) > 0.1
    bare = bp.transport.LinearBTE(h, (30, 30), mu=2.0, T=0.15, scattering=[imp], berry=True,
                                  side_jump=False).solve(method="direct", thermal=False)
    assert bare.anomalous_hall is None
    assert bare.sigma[0, 1] == pytest.approx(reference, rel=1e-9)
    assert bare.sigma[1, 0] == pytest.approx(-reference, rel=1e-9)
    full = bp.transport.LinearBTE(h, (30, 30), mu=2.0, T=0.15, scattering=[imp],
                                  berry=True).solve(method="direct", thermal=False)
    hall = full.anomalous_hall
    assert hall.intrinsic[0, 1] == pytest.approx(reference, rel=1e-9)
    assert full.sigma_intrinsic == pytest.approx(-reference, rel=1e-9)  # σ_yx = j_y/E_x
    np.testing.assert_allclose(full.sigma - bare.sigma, hall.side_jump_total, atol=1e-12)


@pytest.mark.slow
def test_hall_coefficient_and_magnetoresistance_of_a_parabolic_band():
    """Drude for a parabolic band with constant τ at any T: ``ρ_yx = B/(n e)`` (R_H = +1/n
    for the carrier charge +1: ``σ_xy > 0`` for ``B_z > 0``) and no magnetoresistance,
    ``ρ_xx(B) = ρ_xx(0)`` (the cyclotron frequency ``eB/m`` does not depend on energy).

    ``n`` is the density on the same mesh.  The only error is the mesh: the Lorentz operator
    is second order in h (unit test), and isotropy cancels the leading term, so the error
    falls at least 4x from 60² to 120² (measured: R_H 1.3e-4 -> 1.2e-5, MR 1.4e-4 -> 9e-6)."""
    b = 0.02
    errors = []
    for n in (60, 120):
        zero, field = drude(n, 0.0), drude(n, b)
        rho, rho0 = np.linalg.inv(field.sigma), np.linalg.inv(zero.sigma)
        assert field.sigma[0, 1] > 0
        hall = 2 * math.pi * rho[1, 0] / b * field.electron_density  # ρ in h/e² -> ħ/e²
        errors.append((abs(hall - 1.0), abs(rho[0, 0] / rho0[0, 0] - 1.0)))
    (hall60, mr60), (hall120, mr120) = errors
    assert hall60 < 1e-3 and mr60 < 1e-3
    assert hall120 <= hall60 / 4 and mr120 <= mr60 / 4


# --------------------------------------------------------------------------- Weyl pair
K0 = 1.0


def weyl_pair(k_max: float = 1.4) -> ContinuumModel:
    """Two Weyl nodes at ``k = (0, 0, ±K0)`` of opposite chirality, velocity 1:
    ``H = k_x σ_x + k_y σ_y + (k_z² - K0²)/(2 K0) σ_z`` on a box."""

    def h(k):
        return (k[..., 0, None, None] * PAULI[1] + k[..., 1, None, None] * PAULI[2]
                + ((k[..., 2] ** 2 - K0 ** 2) / (2 * K0))[..., None, None] * PAULI[3])

    def dh(k):
        out = np.zeros(k.shape[:-1] + (3, 2, 2), complex)
        out[..., 0, :, :], out[..., 1, :, :] = PAULI[1], PAULI[2]
        out[..., 2, :, :] = (k[..., 2] / K0)[..., None, None] * PAULI[3]
        return out

    return ContinuumModel(h, 2, 3, k_max, velocity=dh, name="Weyl pair")


_SOLVED: dict = {}


def weyl_sigma(field, berry: bool, ratio: float) -> np.ndarray:
    """σ of :func:`weyl_bte` (each field solved once per session)."""
    key = (None if field is None else tuple(np.round(field, 12)), berry, ratio)
    if key not in _SOLVED:
        _SOLVED[key] = weyl_bte(field, berry, ratio).solve(method="direct",
                                                            thermal=False).sigma
    return _SOLVED[key]


def weyl_bte(field, berry: bool, ratio: float):
    """μ = 0.3 above both nodes, T = 0.05; the Born impurities keep carriers on their node
    (``τ_v / τ ≈ ratio``); the δ smearing (0.25, wider than the thermal layer) relaxes each
    node to one chemical potential, the assumption of Son and Spivak."""
    imp = NodeImpurities(nodes=((0, 0, K0), (0, 0, -K0)), intra_strength=1.0,
                         inter_strength=1.0 / math.sqrt(ratio))
    return bp.transport.LinearBTE(weyl_pair(), (24, 24, 24), mu=0.3, T=0.05, scattering=[imp],
                                  magnetic_field=field, berry=berry, n_kT=8.0,
                                  delta=bp.scattering.Gaussian(width=0.25))


def node_sums(bte, imp: NodeImpurities):
    """Per node: density of states ``ν = Σ w (-∂f/∂ε) /(2π)³`` and Berry flux through the Fermi
    surface ``F = Σ w (-∂f/∂ε) v·Ω`` (2π × chirality in the continuum); the inter-node
    flux ``Φ_v = Σ_{r ∈ +, c ∈ -} Φ_rc`` and ``1/τ_v = Φ_v /(T ν (2π)³)`` (the inter-node
    rate averaged over the Fermi surface)."""
    s, eq = bte.states, bte.eq
    node = imp.node_of(s.k)
    minus_df = s.weight * eq.pauli_weight(s.energy) / eq.T
    flux_density = minus_df * (s.velocity * s.berry_curvature).sum(1)
    nu = np.array([minus_df[node == c].sum() for c in (0, 1)]) / (2 * math.pi) ** 3
    berry_flux = np.array([flux_density[node == c].sum() for c in (0, 1)])
    phi = bte.operator.flux.tocoo()
    cross = (node[phi.row] == 0) & (node[phi.col] == 1)
    tau_v = eq.T * nu[0] * (2 * math.pi) ** 3 / phi.data[cross].sum()
    return nu, berry_flux, tau_v


@pytest.mark.slow
def test_chiral_anomaly_negative_magnetoresistance_is_son_spivak():
    """B ∥ E ∥ z: the B² coefficient of σ_zz with the Berry terms is the Son-Spivak form with
    the model's own density of states per node ν, node Berry flux F and inter-node time τ_v,

    ``Δσ_zz = B² (F/2π)² τ_v / ((2π)³ ν)`` e²/h

    (the anomaly pumps ``-B F`` into each node, ``δμ_χ`` relaxes in τ_v, and carries the
    current ``-B F δμ_χ``; with ν = μ²/2π²v³ and F = 2π it is ``e⁴ B² v³ τ_v/(8π² μ²)``).
    It is positive (negative magnetoresistance), and without the Berry terms the B² term is
    the ordinary magnetoresistance of an isotropic pair, zero in the continuum.

    Tolerances: the node mode's source and current are, on the mesh, ``-B F`` times ``q_s``
    and ``q_j`` with ``1 - q`` the mesh error of sums of total derivatives (``∂_z f^0(ε̄)``
    with the finite-difference ``∂(m·B)``), computed here (about 3 % each); the coefficient
    carries their product and the O(τ/τ_v) intra-node terms (τ_v/τ ≈ 300): within
    ``2 |1 - q_s q_j|``.  The Berry-free B² term is bounded by the same mesh error times the
    anomaly term.  The even part in B is taken (σ(B) + σ(-B))/2: the pair breaks time reversal
    and σ_zz has a small B-linear part."""
    b, ratio = 0.0025, 300.0
    zero = weyl_bte(None, True, ratio)
    imp = zero.scattering[0]
    sigma0 = weyl_sigma(None, True, ratio)[2, 2]
    plus = weyl_bte((0, 0, b), True, ratio)
    sigma_plus = plus.solve(method="direct", thermal=False).sigma[2, 2]
    sigma_minus = weyl_sigma((0, 0, -b), True, ratio)[2, 2]
    sigma_off = weyl_sigma((0, 0, b), False, ratio)[2, 2]
    coefficient = (sigma_plus + sigma_minus - 2 * sigma0) / (2 * b * b)
    ordinary = (sigma_off - sigma0) / (b * b)

    nu, berry_flux, tau_v = node_sums(zero, imp)
    assert np.allclose(berry_flux / (2 * math.pi), [-1, 1], atol=0.01)
    son_spivak = (berry_flux[0] / (2 * math.pi)) ** 2 * tau_v / ((2 * math.pi) ** 3 * nu[0])

    # the mesh error of the node mode's source and current
    s, eq, fields = plus.states, plus.eq, plus.fields
    node = imp.node_of(s.k)
    source = fields.drive(eq)[:, 2]
    current = (s.weight * eq.pauli_weight(s.energy)) * fields.current_velocity()[:, 2]
    q_s = source[node == 1].sum() / (-b * berry_flux[1])
    q_j = current[node == 1].sum() / (-b * eq.T * berry_flux[1])
    error = 2 * abs(1 - q_s * q_j)
    assert error < 0.2
    assert coefficient > 0
    assert coefficient - ordinary == pytest.approx(son_spivak, rel=error)
    assert abs(ordinary) <= error * son_spivak / 2


@pytest.mark.slow
def test_planar_hall_effect_of_the_weyl_pair():
    """B in the x-z plane at angle θ to E ∥ z: the even part of the symmetric ``σ_xz`` is
    ``a B² sin θ cos θ`` to order B² (the only invariant of the pair's symmetry about z), with
    ``a > 0`` the anisotropy of the magnetoconductance (``σ_∥ - σ_⊥`` for an isotropic model:
    the chiral anomaly raises σ_∥, the Lorentz force lowers σ_⊥; here the second dominates,
    ``a ≈ 10`` times the anomaly coefficient of σ_zz).  Checked: the same ``a`` at θ = π/4 and
    π/8 (measured: within 1 %), to the relative O(B²) corrections, bounded by
    ``(ω_c τ)² ≈ 0.09`` at this field (``σ_xx(B ∥ z)/σ_xx(0) = 1/(1 + (ω_c τ)²)`` gives 0.355
    at twice this field; the Lorentz term is non-perturbative beyond ``ω_c τ ~ 1``)."""
    b, ratio = 0.00125, 300.0
    zero = weyl_sigma(None, True, ratio)

    def even_xz(theta: float) -> float:
        out = 0.0
        for sign in (1, -1):
            field = sign * b * np.array([math.sin(theta), 0.0, math.cos(theta)])
            sigma = weyl_sigma(field, True, ratio)
            out += 0.25 * (sigma[0, 2] + sigma[2, 0])
        return out - 0.5 * (zero[0, 2] + zero[2, 0])

    a = [even_xz(theta) / (b * b * math.sin(theta) * math.cos(theta))
         for theta in (math.pi / 4, math.pi / 8)]
    assert a[0] > 0
    assert a[1] == pytest.approx(a[0], rel=0.09)


@pytest.mark.parametrize("n", [16, 20])
@pytest.mark.parametrize("berry", [True, False])
def test_weyl_lattice_in_a_field_solves_to_the_tolerance(n, berry):
    """The example's Weyl lattice with node impurities at ``B = 0.03`` (x-z plane) on coarse
    meshes, whose window edge (``n_kT = 8``: ``f^0(1-f^0)`` there ``3·10⁻⁴`` of its peak) cuts
    the Fermi pockets: the Lorentz operator conserves particles to round-off at the edge
    (``K_B 1 = 0``), so the drive stays in the range of ``L + K_B`` and the direct solve
    reaches round-off (held to 1e-12) and GMRES its ``rtol = 1e-8``; both agree to that
    tolerance.  (A leak of ``K_B 1`` left residuals of 5·10⁻⁴ at 16³.)"""
    h = bp.bands.weyl_lattice(t=1.0, tz=1.0, m=1.0, k0=math.pi / 2)
    imp = NodeImpurities.of(h, intra_strength=1.0, inter_strength=0.2, density=20.0)
    field = 0.03 * np.array([1.0, 0.0, 1.0]) / math.sqrt(2)
    bte = bp.transport.LinearBTE(h, (n, n, n), mu=0.3, T=0.05, scattering=[imp],
                                 magnetic_field=field, berry=berry, n_kT=8.0,
                                 delta=bp.scattering.Gaussian(width=0.25))
    k = bte.fields.lorentz(bte.eq)
    assert np.abs(k @ np.ones(k.shape[0])).max() <= 1e-14 * abs(k).max()
    direct = bte.solve(method="direct", thermal=False)
    krylov = bte.solve(method="krylov", thermal=False, rtol=1e-8)
    assert direct.converged and direct.residual <= 1e-12
    assert krylov.converged and krylov.residual <= 1e-7
    assert np.abs(krylov.sigma - direct.sigma).max() <= 1e-6 * np.abs(direct.sigma).max()


def test_onsager_reciprocity_with_the_berry_terms():
    """Onsager–Casimir with every Berry term on (phase-space factor, anomalous velocity,
    orbital-moment energy): the massive Dirac band breaks time reversal through its mass, so
    the relation reads ``σ_ij(B, Δ) = σ_ji(-B, -Δ)`` — to round-off of the sparse LU
    (1e-12 relative; measured 4e-16) — while ``σ_ij(B) = σ_ji(-B)`` at fixed Δ fails by the
    anomalous Hall part (6 % of σ here): the test can tell them apart."""
    imp = bp.scattering.Impurities(density=1.0, strength=0.5)
    sigma = {}
    for delta in (1.0, -1.0):
        h = bp.bands.massive_dirac(v=1.0, delta=delta, k_max=3.0)
        for b in (0.02, -0.02):
            bte = bp.transport.LinearBTE(h, (40, 40), mu=2.0, T=0.15, scattering=[imp],
                                         magnetic_field=(0, 0, b), berry=True)
            sigma[delta, b] = bte.solve(method="direct", thermal=False).sigma
    scale = np.abs(sigma[1.0, 0.02]).max()
    assert np.abs(sigma[1.0, 0.02] - sigma[-1.0, -0.02].T).max() <= 1e-12 * scale
    assert np.abs(sigma[1.0, 0.02] - sigma[1.0, -0.02].T).max() > 0.01 * scale
