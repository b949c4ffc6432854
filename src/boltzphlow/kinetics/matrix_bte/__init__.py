"""The linearised matrix Boltzmann equation with interband coherences and kinetic corrections
(E. Trukhan and N. H. Protik, "Interband and kinetic corrections to the electronic Boltzmann
transport equation"), exported as ``bp.transport.MatrixBTE``."""

from __future__ import annotations

from boltzphlow.kinetics.matrix_bte.solver import MatrixBTE, MatrixBTEResult

__all__ = ["MatrixBTE", "MatrixBTEResult"]
