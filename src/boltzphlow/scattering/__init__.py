"""Transition rates between the states of :class:`~boltzphlow.kspace.KStates`.

Scattering models (static impurities, acoustic and optical phonons, a constant relaxation
time) give the equilibrium transition flux of unordered pairs of states, so that detailed
balance holds by construction; :class:`CollisionOperator` assembles them into the symmetric
linearised collision operator (:mod:`boltzphlow.scattering.base`).  The energy δ is a
:class:`Gaussian`, an :class:`AdaptiveGaussian` (:mod:`boltzphlow.scattering.delta`) or the
tetrahedron method.  Units: ħ = e = k_B = 1.
"""

from __future__ import annotations

from boltzphlow.scattering.base import (
    CollisionOperator,
    DeltaFunction,
    Equilibrium,
    Gaussian,
    PairBlock,
    ScatteringModel,
    pair_blocks,
)
from boltzphlow.scattering.delta import AdaptiveGaussian, mesh_spacing
from boltzphlow.scattering.models import (
    ConstantRelaxationTime,
    Impurities,
    bloch_overlap_sq,
    wave_vector_transfer,
)
from boltzphlow.scattering.nodes import NodeImpurities
from boltzphlow.scattering.phonons import AcousticPhonons, OpticalPhonons
from boltzphlow.scattering.tetrahedron import LinearTetrahedron

__all__ = [
    "AcousticPhonons",
    "AdaptiveGaussian",
    "CollisionOperator",
    "ConstantRelaxationTime",
    "DeltaFunction",
    "Equilibrium",
    "Gaussian",
    "Impurities",
    "LinearTetrahedron",
    "NodeImpurities",
    "OpticalPhonons",
    "PairBlock",
    "ScatteringModel",
    "bloch_overlap_sq",
    "mesh_spacing",
    "pair_blocks",
    "wave_vector_transfer",
]
