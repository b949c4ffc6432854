"""Electron transport on k-meshes: the linearised Boltzmann equation with full collision
operators, magnetic fields and the Berry-phase terms, and the matrix BTE with interband coherences
(``bp.transport``)."""

from __future__ import annotations

from typing import Any

from boltzphlow.kinetics.bte.fields import FieldTerms
from boltzphlow.kinetics.bte.linear import METHODS, BTEResult, LinearBTE, thermal_states

__all__ = ["METHODS", "BTEResult", "FieldTerms", "LinearBTE", "MatrixBTE", "MatrixBTEResult",
           "thermal_states"]


def __getattr__(name: str) -> Any:
    """``MatrixBTE`` and its result live in :mod:`boltzphlow.kinetics.matrix_bte` (imported on
    first use: that package builds on this one)."""
    if name in ("MatrixBTE", "MatrixBTEResult"):
        from boltzphlow.kinetics import matrix_bte

        return getattr(matrix_bte, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
