"""Gauge-invariant quantum geometry of Bloch bands (seed 001 Eqs. 4, 12-15, 38).

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
