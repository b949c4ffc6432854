"""States (n, k) of a Hamiltonian on a k-mesh, built once and shared by every k-space model.

:class:`KStates` holds the states in an energy window (energies, band and k-point indices,
k-space weights, velocities, Berry curvature, orbital moment and, on request, eigenvectors and
velocity matrices), built in chunks of bounded memory; :class:`BandChunk` holds every band at a
chunk of k-points.  :class:`FermiSum` and :func:`fermi_integral` sum over states for many
chemical potentials at once.  Units: ħ = e = 1 (see :mod:`boltzphlow.kspace.states`).
"""

from __future__ import annotations

from boltzphlow.kspace.fermi import (
    FERMI_CUTOFF,
    FermiSum,
    check_temperature,
    fermi_integral,
    fermi_window,
)
from boltzphlow.kspace.states import (
    BandChunk,
    EnergyWindow,
    KStates,
    band_chunk,
    band_chunks,
)

__all__ = [
    "FERMI_CUTOFF",
    "BandChunk",
    "EnergyWindow",
    "FermiSum",
    "KStates",
    "band_chunk",
    "band_chunks",
    "check_temperature",
    "fermi_integral",
    "fermi_window",
]
