"""Gauge-invariant quantum geometry of Bloch bands (Valet and Raimondi, Eqs. 4, 12-15, 38).

Equation numbers refer to T. Valet and R. Raimondi, "Semiclassical kinetic theory for
systems with non-trivial quantum geometry and the expectation value of physical quantities".

Berry curvature (Kubo), Chern numbers (Fukui-Hatsugai-Suzuki), Berry flux through spheres,
generalised Gell-Mann basis and Bloch vectors, the interband Berry curvature tensor, the
orbital-moment energy and the spectral weights.
"""

from __future__ import annotations

from boltzphlow.geometry.berry import (
    band_geometry,
    berry_curvature,
    berry_curvature_tensor,
    berry_flux,
    chern_number,
    eigensystem,
    velocity_matrices,
)
from boltzphlow.geometry.interband import (
    bloch_vectors,
    cross_su_n,
    gell_mann_basis,
    interband_berry_curvature,
    orbital_moment,
    orbital_moment_energy,
    spectral_weights,
    structure_constants,
)

__all__ = [
    "band_geometry",
    "berry_curvature",
    "berry_curvature_tensor",
    "berry_flux",
    "bloch_vectors",
    "chern_number",
    "cross_su_n",
    "eigensystem",
    "gell_mann_basis",
    "interband_berry_curvature",
    "orbital_moment",
    "orbital_moment_energy",
    "spectral_weights",
    "structure_constants",
    "velocity_matrices",
]
