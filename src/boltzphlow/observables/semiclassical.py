r"""Kinetic velocity and force of the Boltzmann-Vlasov equation (Valet and Raimondi, Eq. 29).

Equation numbers refer to T. Valet and R. Raimondi, "Semiclassical kinetic theory for
systems with non-trivial quantum geometry and the expectation value of physical quantities".

For band n with curvature vector ``Ω_n`` (``σΩ`` in the paper's two-band notation) and the
modified energy ``ε̄^n`` of Eq. 12 (ħ = 1, e the carrier charge):

    v^n = ∂ε̄^n - e E × Ω_n + e Ω_n × (∂ε̄^n × B)                                 (29a)
    F^n = e (E + ∂ε̄^n × B) + e² (B·Ω_n) ∂ε̄^n × B - e² (E × Ω_n) × B           (29b)

Multiplied by the phase-space factor ``Z_c = 1 - e B·Ω_n`` they give, to first order in the
fields, the familiar ``Z v = ∂ε̄ - e E×Ω - e (∂ε̄·Ω) B`` and, to second order, Eq. 32:
``∂_k·(Z F) = -e² (E·B) ∂_k·Ω``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.geometry.berry import basis_connection
from boltzphlow.kspace import band_chunk
from boltzphlow.observables.density import _field

__all__ = ["velocity_and_force"]


def velocity_and_force(
    h: Hamiltonian,
    k: np.ndarray,
    electric_field: Sequence[float] | np.ndarray,
    magnetic_field: float | Sequence[float] | np.ndarray,
    *,
    charge: float = 1.0,
    step: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray]:
    """Velocity ``v^n`` and force ``F^n`` of Eq. 29 for every band at Cartesian ``k``.

    2D models are embedded in 3D (``Ω = Ω_xy ẑ``, ``B = B_z ẑ``, E in the plane).  The
    gradient of ``ε̄ = ε - e m·B`` (the energies, curvature and orbital moment ``m`` of
    :func:`~boltzphlow.kspace.band_chunk`) is taken by central differences with ``step``
    (error ~ step²).

    Returns
    -------
    velocity, force
        Each ``(..., N, 3)``.
    """
    if h.dim not in (2, 3):
        raise ValueError("Eq. 29 needs a 2D or 3D model")
    k = np.asarray(k, dtype=float)
    lead = k.shape[:-1]
    kk = k.reshape(-1, h.dim)
    b = _field(h, magnetic_field)
    ef = np.asarray(electric_field, dtype=float)
    if ef.shape != (h.dim,):
        raise ValueError(f"electric_field must have {h.dim} components, got {ef.shape}")

    def ebar(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hk, dhk = h.hamiltonian_and_velocity(q)
        bands = band_chunk(q, np.ones(len(q)), np.arange(len(q)), hk, dhk, orbital_moment=True,
                           connection=basis_connection(h, q))
        return bands.energy - charge * (bands.orbital_moment @ b), bands.berry_curvature

    _, om = ebar(kk)
    grad = []
    for i in range(h.dim):
        dk = np.zeros(h.dim)
        dk[i] = step
        grad.append((ebar(kk + dk)[0] - ebar(kk - dk)[0]) / (2 * step))
    grad = np.stack(grad, -1)  # (M, N, d)
    if h.dim == 2:
        grad = np.pad(grad, [(0, 0), (0, 0), (0, 1)])
        om = np.pad(om, [(0, 0), (0, 0), (2, 0)])  # (0, 0, Ω_xy)
        b3 = np.array([0.0, 0.0, b[0]])
        e3 = np.append(ef, 0.0)
    else:
        b3, e3 = b, ef
    e_ = charge
    vel = grad - e_ * np.cross(e3, om) + e_ * np.cross(om, np.cross(grad, b3))
    force = (
        e_ * (e3 + np.cross(grad, b3))
        + e_**2 * (om @ b3)[..., None] * np.cross(grad, b3)
        - e_**2 * np.cross(np.cross(e3, om), b3)
    )
    n = h.n_bands
    return vel.reshape(*lead, n, 3), force.reshape(*lead, n, 3)
