"""Bloch Hamiltonians: the model interface, tight-binding, continuum models and the model library.

Units: ħ = e = 1, lattice constant 1 (see :mod:`boltzphlow.bands.hamiltonian`).
"""

from __future__ import annotations

from boltzphlow.bands.hamiltonian import (
    BlochHamiltonian,
    ContinuumModel,
    Hamiltonian,
    MeshBlock,
    TightBinding,
    check_hermitian,
)
from boltzphlow.bands.models import (
    PAULI,
    WeylLattice,
    WeylNode,
    haldane,
    massive_dirac,
    p_band_model,
    qi_wu_zhang,
    rashba_2deg,
    weyl_lattice,
)
from boltzphlow.bands.pythtb import from_pythtb
from boltzphlow.bands.wannier90 import read_wannier90_hr, read_wannier90_tb

__all__ = [
    "PAULI",
    "BlochHamiltonian",
    "ContinuumModel",
    "Hamiltonian",
    "MeshBlock",
    "TightBinding",
    "WeylLattice",
    "WeylNode",
    "check_hermitian",
    "from_pythtb",
    "haldane",
    "massive_dirac",
    "p_band_model",
    "qi_wu_zhang",
    "rashba_2deg",
    "read_wannier90_hr",
    "read_wannier90_tb",
    "weyl_lattice",
]
