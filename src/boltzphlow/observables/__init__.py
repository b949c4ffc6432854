"""k-space transport observables: anomalous Hall (Eq. 35), chiral magnetic effect (Eq. 36),
chiral anomaly (Eq. 33), densities (Eqs. 17, 25-28), velocity and force (Eq. 29).

Equation numbers refer to T. Valet and R. Raimondi, "Semiclassical kinetic theory for systems
with non-trivial quantum geometry and the expectation value of physical quantities".

Every observable is a sum over the states of :class:`boltzphlow.kspace.KStates` (built chunk
by chunk, restricted to the energy window where the Fermi factors are not 0 or 1) or, with
adaptive refinement, over the dense band data of :func:`boltzphlow.kspace.band_chunk`.

Units: ħ = e = 1, lattice constant 1; conductivities in e²/h (2D) and e²/(h·a) (3D).
"""

from __future__ import annotations

from boltzphlow.kspace.fermi import FERMI_CUTOFF
from boltzphlow.observables.chiral import (
    ChiralAnomalyResult,
    ChiralMagneticResult,
    chiral_anomaly,
    chiral_magnetic,
)
from boltzphlow.observables.density import charge_density, equilibrium_density, spin_density
from boltzphlow.observables.hall import anomalous_hall
from boltzphlow.observables.semiclassical import velocity_and_force

__all__ = [
    "FERMI_CUTOFF",
    "ChiralAnomalyResult",
    "ChiralMagneticResult",
    "anomalous_hall",
    "charge_density",
    "chiral_anomaly",
    "chiral_magnetic",
    "equilibrium_density",
    "spin_density",
    "velocity_and_force",
]
