"""Gauge-invariant quantum geometry of Bloch bands (Valet and Raimondi, Eqs. 4, 12-15, 38).

Equation numbers refer to T. Valet and R. Raimondi, "Semiclassical kinetic theory for
systems with non-trivial quantum geometry and the expectation value of physical quantities".

Berry curvature (Kubo), Chern numbers (Fukui-Hatsugai-Suzuki), Berry flux through spheres,
generalised Gell-Mann basis and Bloch vectors, the interband Berry curvature tensor, the
orbital-moment energy and the spectral weights; Weyl nodes (band touchings with Berry
monopole charge) and the partition of k-space around them.
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
from boltzphlow.geometry.nodes import BandNode, find_nodes

__all__ = [
    "BandNode",
    "band_geometry",
    "berry_curvature",
    "berry_curvature_tensor",
    "berry_flux",
    "bloch_vectors",
    "chern_number",
    "cross_su_n",
    "eigensystem",
    "find_nodes",
    "gell_mann_basis",
    "interband_berry_curvature",
    "orbital_moment",
    "orbital_moment_energy",
    "spectral_weights",
    "structure_constants",
    "velocity_matrices",
]
