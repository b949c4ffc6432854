"""Transition rates between the states of :class:`~boltzphlow.kspace.KStates`.

Scattering models (static impurities, acoustic and optical phonons, a constant relaxation
time) give the equilibrium transition flux of unordered pairs of states, so that detailed
balance holds by construction; :class:`CollisionOperator` assembles them into the symmetric
linearised collision operator (:mod:`boltzphlow.scattering.base`).  Units: ħ = e = k_B = 1.
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
from boltzphlow.scattering.models import ConstantRelaxationTime, Impurities, bloch_overlap_sq

__all__ = [
    "CollisionOperator",
    "ConstantRelaxationTime",
    "DeltaFunction",
    "Equilibrium",
    "Gaussian",
    "Impurities",
    "PairBlock",
    "ScatteringModel",
    "bloch_overlap_sq",
    "pair_blocks",
]
