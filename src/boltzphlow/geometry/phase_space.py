r"""Quantum geometry in the mixed (k, x) and (k, t) sectors: slowly varying H(k, x) and H(k, t).

Valet and Raimondi ("Semiclassical kinetic theory for systems with non-trivial quantum
geometry and the expectation value of physical quantities") define the curvature tensor of
Eq. 13 in all four phase-space sectors; for a Hamiltonian that depends on position or time
through slowly varying parameters, the momentum-space rule applies with ``∂_k`` replaced by
``∂_x`` or ``∂_t``.  With the velocity-like matrices ``w^a = U^† ∂_a H U`` for any coordinates
a, b of phase space (the Kubo form of Eq. 13, as for the momentum sector in
:func:`~boltzphlow.geometry.interband.interband_tensor`),

    Ω^n_m,ab = -2 Im(w^a_nm w^b_mn) / (ε_n - ε_m)²  (m ≠ n),   Ω^n_n,ab = Σ_{m≠n} Ω^n_m,ab,

and ``Ω^n_n,ab = i(⟨∂_a n|∂_b n⟩ - ⟨∂_b n|∂_a n⟩)``.  To first order in the gradients, Eq. 23
of a single band in one dimension reduces to the wave-packet equations of motion (as the paper
states for Eqs. 23b-23c; Sundaram and Niu, PRB 59, 14915 (1999); Xiao, Chang and Niu, RMP
82, 1959 (2010)), ``ẋ = ∂_k ε - Ω_kx ẋ - Ω_kt`` and ``k̇ = -∂_x ε + Ω_xk k̇ + Ω_xt``, i.e.

    D ẋ = ∂_k ε - Ω_kt,    D k̇ = -∂_x ε + Ω_xt,    D = 1 + Ω_kx,

with D the phase-space density of states (the analogue, in the (k, x) sector, of the factor
``Z_c = 1 - e B·Ω`` of Eq. 17).  The converted Eqs. 23b-23c mix index positions; the signs
used here are fixed independently by the validation tests (exact time evolution of a pump,
exact diagonalisation of a chain with a spatial texture).  The observable consequences:

* **Thouless pumping** (k, t): the particles crossing a cell boundary per cycle of a filled
  band, ``Q = -(1/2π) ∮dt ∫dk Ω_kt``, an integer (minus the Chern number of the (k, t) torus).
* **Polarisation** (King-Smith and Vanderbilt): ``P = (1/2π)∮ A_k dk``, the Berry (Zak) phase
  over 2π, with ``dP/dλ = -(1/2π)∫dk Ω_kλ``: the integrated mixed curvature is the change of
  the Berry phase.
* **Charge density** (k, x): ``n(x) = ∫dk/2π (1 + Ω_kx)``, i.e. ``δn = -∂_x P`` (the bound
  charge of a polarisation gradient).

All for a model ``H(k, φ)`` of one wave number and one phase φ that carries the x or t
dependence (:class:`~boltzphlow.bands.rice_mele.RiceMele`), ``∂_x = φ'(x) ∂_φ``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from boltzphlow.bands.hamiltonian import check_hermitian
from boltzphlow.geometry.berry import DEGENERACY_TOL
from boltzphlow.geometry.interband import interband_tensor

__all__ = ["PhaseModel", "berry_phase", "charge_density_correction", "mixed_curvature",
           "polarization", "polarization_rate", "pumped_charge", "semiclassical_flow"]


class PhaseModel(Protocol):
    """A 1D model ``H(k, φ)`` with ``hamiltonian(k, φ)`` and ``derivatives(k, φ)`` ((∂_k, ∂_φ))."""

    def hamiltonian(self, k: np.ndarray, phase: np.ndarray) -> np.ndarray: ...  # noqa: D102

    def derivatives(self, k: np.ndarray, phase: np.ndarray) -> np.ndarray: ...  # noqa: D102


def mixed_curvature(model: PhaseModel, k: np.ndarray, phase: np.ndarray, *,
                    degeneracy_tol: float = DEGENERACY_TOL) -> np.ndarray:
    """Eq. 13 in the (k, φ) plane: the tensor ``Ω^n_m,kφ`` of every band pair.

    Parameters
    ----------
    model
        ``H(k, φ)``.
    k, phase
        Points (broadcast together), shape S.

    Returns
    -------
    numpy.ndarray
        ``S + (N, N)``: ``[..., n, m] = Ω^n_m,kφ`` (band-diagonal: the Berry curvature
        ``Ω^n_kφ``).  Multiply by ``φ'(x)`` or ``φ'(t)`` for the (k, x) or (k, t) sector.
    """
    k, phase = np.broadcast_arrays(np.asarray(k, float), np.asarray(phase, float))
    shape = k.shape
    hk = model.hamiltonian(k.reshape(-1), phase.reshape(-1))
    check_hermitian(hk)
    e, u = np.linalg.eigh(hk)
    dh = model.derivatives(k.reshape(-1), phase.reshape(-1))  # (M, 2, N, N)
    w = np.conj(np.swapaxes(u, -1, -2))[:, None] @ dh @ u[:, None]
    tensor = interband_tensor(e, w, degeneracy_tol)  # (M, N, N, 2, 2)
    return tensor[..., 0, 1].reshape(*shape, e.shape[-1], e.shape[-1])


def berry_phase(model: PhaseModel, phase: float, n_k: int = 256, band: int = 0) -> float:
    """Zak phase ``γ = ∮ A_k dk = -Im ln Π_k ⟨u_k|u_{k+δk}⟩`` of a band at fixed φ, in (-π, π].

    The discrete Wilson loop over ``n_k`` points is gauge invariant; the loop is closed with
    the same eigenvector at k = 0 and 2π (the model is 2π-periodic with orbitals at the cell
    origin), and converges as O(1/n_k²).
    """
    k = 2 * np.pi * np.arange(n_k) / n_k
    _, u = np.linalg.eigh(model.hamiltonian(k, np.full(n_k, float(phase))))
    states = u[:, :, band]
    overlaps = np.einsum("ka,ka->k", states.conj(), np.roll(states, -1, axis=0))
    return float(-np.angle(np.prod(overlaps / np.abs(overlaps))))


def polarization(model: PhaseModel, phase: float, n_k: int = 256, band: int = 0) -> float:
    """Polarisation (Wannier centre in lattice constants) ``P = γ / 2π`` mod 1, in (-1/2, 1/2]."""
    return berry_phase(model, phase, n_k, band) / (2 * np.pi)


def polarization_rate(model: PhaseModel, phase: np.ndarray, n_k: int = 256,
                      band: int = 0) -> np.ndarray:
    """``dP/dφ = -(1/2π) ∫_0^{2π} dk Ω_kφ`` of a band (rectangle rule in k, spectral)."""
    phase = np.atleast_1d(np.asarray(phase, dtype=float))
    k = 2 * np.pi * np.arange(n_k) / n_k
    omega = mixed_curvature(model, k[None, :], phase[:, None])[..., band, band]  # (P, K)
    return -omega.mean(axis=1)


def pumped_charge(model: PhaseModel, n_k: int = 128, n_phase: int = 128,
                  band: int = 0) -> float:
    """Particles pumped through a cell boundary in one cycle of φ by a filled band.

    ``Q = ∮ dφ dP/dφ = -(1/2π) ∫dφ ∫dk Ω_kφ`` (the integral of the anomalous velocity
    ``-Ω_kt`` over a cycle), by the rectangle rule on the (k, φ) torus; an integer, minus the
    Chern number of the band on the torus.
    """
    phase = 2 * np.pi * np.arange(n_phase) / n_phase
    return float(polarization_rate(model, phase, n_k, band).mean() * 2 * np.pi)


def charge_density_correction(model: PhaseModel, phase: np.ndarray, phase_gradient: np.ndarray,
                              n_k: int = 256, band: int = 0) -> np.ndarray:
    """``δn(x) = ∫dk/2π Ω_kx = -φ'(x) dP/dφ`` per cell (filled band, density of states 1 + Ω_kx).

    Parameters
    ----------
    phase, phase_gradient
        ``φ(x)`` and ``φ'(x)`` (per lattice constant) where the density is wanted.
    """
    return -np.asarray(phase_gradient, float) * polarization_rate(model, phase, n_k, band)


def semiclassical_flow(model: PhaseModel, k: np.ndarray, phase: np.ndarray,
                       phase_gradient: float | np.ndarray = 0.0,
                       phase_rate: float | np.ndarray = 0.0, band: int = 0
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 23 in the mixed sectors for ``φ = φ(x, t)``: ``(ẋ, k̇, D)`` of a band.

    ``Ω_kx = φ_x Ω_kφ``, ``Ω_kt = φ_t Ω_kφ``, ``Ω_xt = φ_x φ_t Ω_φφ = 0``, ``∂_x ε = φ_x ∂_φ ε``;
    ``D ẋ = ∂_k ε - Ω_kt``, ``D k̇ = -∂_x ε``, ``D = 1 + Ω_kx`` (module docstring).  The band
    slopes are Hellmann-Feynman, ``⟨n|∂H|n⟩``.
    """
    k, phase, gx, gt = np.broadcast_arrays(*(np.asarray(a, float) for a in
                                            (k, phase, phase_gradient, phase_rate)))
    shape = k.shape
    kk, pp = k.reshape(-1), phase.reshape(-1)
    hk = model.hamiltonian(kk, pp)
    _, u = np.linalg.eigh(hk)
    un = u[:, :, band]
    slopes = np.real(np.einsum("ma,mcab,mb->mc", un.conj(), model.derivatives(kk, pp), un))
    omega = mixed_curvature(model, kk, pp)[:, band, band]
    gx, gt = gx.reshape(-1), gt.reshape(-1)
    dos = 1.0 + gx * omega
    xdot = (slopes[:, 0] - gt * omega) / dos
    kdot = -gx * slopes[:, 1] / dos
    return xdot.reshape(shape), kdot.reshape(shape), dos.reshape(shape)
