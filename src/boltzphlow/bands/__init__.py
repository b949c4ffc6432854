"""Bloch Hamiltonians: the model interface, tight-binding, continuum models and the model library.

* :mod:`~boltzphlow.bands.hamiltonian`: the interface and its tight-binding and continuum forms;
* :mod:`~boltzphlow.bands.models`: the built-in models and their parameter dataclasses;
* :mod:`~boltzphlow.bands.registry`: :data:`MODEL_KINDS`, what apps need to know of each model;
* :mod:`~boltzphlow.bands.paths`: Brillouin zones, high-symmetry points and k-paths;
* :mod:`~boltzphlow.bands.wannier90`, :mod:`~boltzphlow.bands.pythtb`: models from other codes.

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
    check_model_symmetry,
)
from boltzphlow.bands.models import (
    PAULI,
    HaldaneParameters,
    MassiveDiracParameters,
    ParabolicParameters,
    PBandParameters,
    QiWuZhangParameters,
    Rashba2degParameters,
    WeylLattice,
    WeylLatticeParameters,
    WeylNode,
    haldane,
    massive_dirac,
    p_band_model,
    parabolic_band,
    qi_wu_zhang,
    rashba_2deg,
    weyl_lattice,
)
from boltzphlow.bands.paths import brillouin_zone, path_corners, path_ticks, sample_path
from boltzphlow.bands.pythtb import from_pythtb
from boltzphlow.bands.registry import MODEL_KINDS, ModelKind, high_symmetry_points
from boltzphlow.bands.rice_mele import RiceMele
from boltzphlow.bands.wannier90 import (
    read_wannier90_hr,
    read_wannier90_tb,
    read_wannier90_wsvec,
)

__all__ = [
    "MODEL_KINDS",
    "PAULI",
    "BlochHamiltonian",
    "ContinuumModel",
    "HaldaneParameters",
    "Hamiltonian",
    "MassiveDiracParameters",
    "MeshBlock",
    "ModelKind",
    "PBandParameters",
    "ParabolicParameters",
    "QiWuZhangParameters",
    "Rashba2degParameters",
    "RiceMele",
    "TightBinding",
    "WeylLattice",
    "WeylLatticeParameters",
    "WeylNode",
    "brillouin_zone",
    "check_hermitian",
    "check_model_symmetry",
    "from_pythtb",
    "haldane",
    "high_symmetry_points",
    "massive_dirac",
    "p_band_model",
    "parabolic_band",
    "path_corners",
    "path_ticks",
    "qi_wu_zhang",
    "rashba_2deg",
    "read_wannier90_hr",
    "read_wannier90_tb",
    "read_wannier90_wsvec",
    "sample_path",
    "weyl_lattice",
]
