r"""The linearised Boltzmann equation on a k-mesh: conductivity from a full collision operator.

Solves ``(L + K_B) φ_j = b_j`` for a unit electric field along each axis j, where ``L`` is the
symmetric collision operator of :mod:`boltzphlow.scattering` (Eq. 2 of C. Xiao, Y. Liu,
M. Xie, S. A. Yang, Q. Niu, "Theory of phonon side jump contribution in anomalous Hall
transport", with Pauli factors for phonons), ``K_B`` the Lorentz force and ``b_j`` the drive
(:mod:`boltzphlow.kinetics.bte.fields`), and ``δf = f^0(1 - f^0) φ``.  Units ħ = e = k_B = 1;
conductivities are reported in e²/h.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla

from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.grids.kmesh import KMesh
from boltzphlow.kinetics.bte.fields import FieldTerms
from boltzphlow.kspace.states import EnergyWindow, KStates
from boltzphlow.scattering.base import (
    CollisionOperator,
    DeltaFunction,
    Equilibrium,
    Gaussian,
    ScatteringModel,
)

__all__ = ["BTEResult", "LinearBTE"]

#: e²/h in units of e²/ħ.
E2_OVER_H = 1.0 / (2 * math.pi)


@dataclass(frozen=True, eq=False)
class BTEResult:
    """The solution of a :class:`LinearBTE`.

    Attributes
    ----------
    sigma
        Conductivity tensor ``σ_ij`` ``(d, d)`` in e²/h (current along i, field along j).
    phi
        ``φ`` ``(S, d)``: the deviation ``δf = f^0(1 - f^0) φ`` for a unit field along each axis.
    method, converged, iterations, residual
        The solver, whether it met its tolerance, its iterations and relative residual.
    """

    sigma: np.ndarray
    phi: np.ndarray
    method: str
    converged: bool
    iterations: int
    residual: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def resistivity(self) -> np.ndarray:
        """``ρ = σ⁻¹`` in h/e²."""
        return np.linalg.inv(self.sigma)


class LinearBTE:
    """The linearised BTE of a Hamiltonian on a k-mesh with given scattering.

    Parameters
    ----------
    hamiltonian
        Any :mod:`boltzphlow.bands` model.
    mesh
        Mesh sizes or a :class:`~boltzphlow.grids.kmesh.KMesh`.
    mu, T
        Chemical potential and temperature (energy units, ``T > 0``).
    scattering
        Scattering models (:mod:`boltzphlow.scattering`).
    magnetic_field
        ``B`` (3-vector) or None.
    berry
        Include the Berry-phase terms (phase-space factor, anomalous velocity, orbital moment).
    delta
        δ approximation (default: Gaussian of width ``T``).
    n_kT
        Half-width of the energy window in units of T (plus the largest phonon energy).
    spin_degeneracy
        Multiplies the conductivity (1 for the spin-resolved models of :mod:`bands`).
    """

    def __init__(self, hamiltonian: Hamiltonian, mesh: KMesh | Sequence[int], mu: float,
                 T: float, scattering: Sequence[ScatteringModel], *,
                 magnetic_field: Sequence[float] | None = None, berry: bool = True,
                 delta: DeltaFunction | None = None, n_kT: float = 20.0,
                 spin_degeneracy: float = 1.0) -> None:
        self.eq = Equilibrium(mu=float(mu), T=float(T))
        self.scattering = tuple(scattering)
        self.delta = delta if delta is not None else Gaussian(width=float(T))
        omega = max((m.max_phonon_energy() for m in self.scattering), default=0.0)
        self.window = EnergyWindow.around(mu, T, n_kT=n_kT, phonon_energy=omega)
        field_on = magnetic_field is not None and np.any(np.asarray(magnetic_field, float))
        bare = KStates.build(
            hamiltonian, mesh, self.window,
            eigenvectors=any(m.needs_eigenvectors for m in self.scattering),
            curvature=berry, orbital_moment=bool(berry and field_on))
        self.fields = FieldTerms.build(bare, magnetic_field, berry)
        self.states = self.fields.states
        self.spin_degeneracy = float(spin_degeneracy)
        self.operator = CollisionOperator(self.states, self.scattering, self.eq, self.delta)

    def conductivity(self, phi: np.ndarray) -> np.ndarray:
        """``σ_ij`` (e²/h) of the solution ``φ`` ``(S, d)``."""
        s = self.states
        occ = s.weight * self.eq.pauli_weight(s.energy)
        sigma = (self.fields.current_velocity() * occ[:, None]).T @ phi
        sigma = sigma / FieldTerms.measure(s.dim) + self.fields.intrinsic_conductivity(self.eq)
        return self.spin_degeneracy * sigma / E2_OVER_H

    def solve(self, method: str = "iterative", *, rtol: float = 1e-10,
              maxiter: int = 1000) -> BTEResult:
        """Solve for a unit field along every axis (skeleton: conjugate gradients)."""
        b = self.fields.drive(self.eq)
        op = self.operator
        a = spla.LinearOperator((len(b), len(b)), matvec=op.matvec, dtype=float)
        phi = np.zeros_like(b)
        worst, iters = 0.0, 0
        for j in range(b.shape[1]):
            count = [0]

            def tick(_x: np.ndarray, count: list[int] = count) -> None:
                count[0] += 1

            phi[:, j], _info = spla.cg(a, b[:, j], rtol=rtol, maxiter=maxiter, callback=tick)
            r = np.linalg.norm(op.matvec(phi[:, j]) - b[:, j]) / max(np.linalg.norm(b[:, j]),
                                                                     1e-300)
            worst, iters = max(worst, r), max(iters, count[0])
        return BTEResult(sigma=self.conductivity(phi), phi=phi, method=method,
                         converged=bool(worst <= 1e3 * rtol), iterations=iters, residual=worst)
