"""Electron transport on k-meshes: the linearised Boltzmann equation with full collision
operators, magnetic fields and the Berry-phase terms (``bp.transport``)."""

from __future__ import annotations

from boltzphlow.kinetics.bte.fields import FieldTerms
from boltzphlow.kinetics.bte.linear import METHODS, BTEResult, LinearBTE, thermal_states

__all__ = ["METHODS", "BTEResult", "FieldTerms", "LinearBTE", "thermal_states"]
