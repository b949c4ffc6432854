r"""The Rice-Mele chain with a slowly varying phase: H(k, φ) with φ = φ(x) or φ(t).

.. math::
    H(k, φ) = [t(1 + δ\cos φ) + t(1 - δ\cos φ)\cos k]\,σ_x + t(1 - δ\cos φ)\sin k\,σ_y
              + Δ \sin φ\,σ_z

(two orbitals A, B at the cell origin; intracell hopping ``t(1 + δ cos φ)``, intercell
``t(1 - δ cos φ)``, staggered mass ``±Δ sin φ``).  One turn of φ encircles the gapless point
δ cos φ = Δ sin φ = 0 and pumps one particle per cycle (Thouless, PRB 27, 6083 (1983); Rice
and Mele, PRL 49, 1455 (1982)).  With φ = φ(t) or φ = φ(x) the model is the slowly varying
Hamiltonian of the mixed (k, t) and (k, x) sectors of Valet and Raimondi, Eqs. 13 and 23
(:mod:`boltzphlow.geometry.phase_space`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from boltzphlow.bands.models import PAULI

__all__ = ["RiceMele"]


@dataclass(frozen=True)
class RiceMele:
    """Rice-Mele chain ``H(k, φ)`` (module docstring); energies in units of ``t``.

    Parameters
    ----------
    t
        Mean hopping.
    dimerization
        δ: relative hopping modulation, ``|δ| < 1``.
    mass
        Δ: amplitude of the staggered potential.
    """

    t: float = 1.0
    dimerization: float = 0.5
    mass: float = 0.5

    def __post_init__(self) -> None:
        if not abs(self.dimerization) < 1:
            raise ValueError(f"|dimerization| must be < 1, got {self.dimerization}")
        if self.t == 0 or self.mass == 0 or self.dimerization == 0:
            raise ValueError("t, dimerization and mass must be non-zero (else the pump closes)")

    def d_vector(self, k: np.ndarray, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
        """``d(k, φ)``, ``∂_k d`` and ``∂_φ d``, each ``(..., 3)`` (broadcast k with φ)."""
        k, phase = np.broadcast_arrays(np.asarray(k, float), np.asarray(phase, float))
        t, dl, m = self.t, self.dimerization, self.mass
        intra, inter = t * (1 + dl * np.cos(phase)), t * (1 - dl * np.cos(phase))
        d = np.stack([intra + inter * np.cos(k), inter * np.sin(k), m * np.sin(phase)], -1)
        dk = np.stack([-inter * np.sin(k), inter * np.cos(k), np.zeros_like(k)], -1)
        dinter = t * dl * np.sin(phase)  # ∂_φ of the intercell hopping (= -∂_φ intra)
        dphi = np.stack([-dinter + dinter * np.cos(k), dinter * np.sin(k), m * np.cos(phase)],
                        -1)
        return d, dk, dphi

    def hamiltonian(self, k: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """``H(k, φ)``, ``(..., 2, 2)``."""
        d, _, _ = self.d_vector(k, phase)
        return np.einsum("...a,aij->...ij", d, PAULI[1:])

    def derivatives(self, k: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """``(∂_k H, ∂_φ H)``, shape ``(..., 2, 2, 2)`` (derivative axis before the matrix)."""
        _, dk, dphi = self.d_vector(k, phase)
        return np.einsum("...ca,aij->...cij", np.stack([dk, dphi], -2), PAULI[1:])

    def chain(self, phases: np.ndarray) -> np.ndarray:
        """Real-space Hamiltonian of a ring of L cells with phase ``φ_j`` in cell j.

        Basis ``(A_0, B_0, A_1, B_1, ...)``; the intracell hopping and the mass take the
        cell's phase, the bond ``B_j - A_{j+1}`` the mean phase of its cells (the Bloch form
        above at constant φ: ``H_AB(k) = t_1 + t_2 e^{-ik}``).  Real, shape ``(2L, 2L)``.
        """
        phases = np.asarray(phases, dtype=float)
        n = len(phases)
        t, dl, m = self.t, self.dimerization, self.mass
        nxt = np.roll(phases, -1)
        # mean phase of neighbouring cells on the circle (unwrapped by the nearer image)
        mid = phases + 0.5 * np.angle(np.exp(1j * (nxt - phases)))
        h = np.zeros((2 * n, 2 * n))
        a, b = 2 * np.arange(n), 2 * np.arange(n) + 1
        h[a, a] = m * np.sin(phases)
        h[b, b] = -m * np.sin(phases)
        h[a, b] = h[b, a] = t * (1 + dl * np.cos(phases))
        inter = t * (1 - dl * np.cos(mid))
        a_next = np.roll(a, -1)
        h[a_next, b] += inter
        h[b, a_next] += inter
        return h
