r"""Approximations of the energy δ of the golden rule: fixed and adaptive Gaussian smearing.

(The linear tetrahedron method lives in :mod:`boltzphlow.scattering.tetrahedron`.)  Each is a
:class:`~boltzphlow.scattering.base.DeltaFunction`: weights of pairs of states for
``δ(ε_c - ε_r - Δ_{rc})`` in energy⁻¹, zero beyond :meth:`cutoff`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from boltzphlow.kspace.states import KStates
from boltzphlow.parameters import check_parameters, parameter
from boltzphlow.scattering.base import DeltaFunction, Gaussian, gaussian_weights, tile_gaussian

__all__ = ["AdaptiveGaussian", "Gaussian", "gaussian_weights", "mesh_spacing"]


def mesh_spacing(states: KStates) -> float:
    """The k-mesh spacing ``Δk = (min_s w_s)^{1/d}`` (L⁻¹): the side of the cell of one
    k-point (exact on square and cubic meshes; the smallest weight is that of one point of
    the full mesh also when symmetry-reduced weights carry multiplicities)."""
    if not len(states):
        raise ValueError("no states: the mesh spacing is undefined")
    return float(states.weight.min()) ** (1.0 / states.dim)


@dataclass(frozen=True)
class AdaptiveGaussian(DeltaFunction):
    r"""Adaptive Gaussian smearing: a width per pair from the velocities and the mesh spacing.

    J. R. Yates, X. Wang, D. Vanderbilt and I. Souza, "Spectral and Fermi surface properties
    from Wannier interpolation", Phys. Rev. B 75, 195121 (2007), Eq. 35: the width of a δ of
    an energy difference is ``a |∇(ε_c - ε_r)| Δk``, the change of its argument across one
    mesh cell.  For a scattering pair the δ argument depends on both wave vectors, with
    gradients ``v_c`` (in ``k_c``) and ``-v_r`` (in ``k_r``); the width is their RMS,

    .. math:: σ_{rc} = \max\Big(a\, Δk \sqrt{(|v_r|^2 + |v_c|^2)/2},\ σ_{min}\Big),

    symmetric in r ↔ c (the phonon group velocity ``c_s ≪ v`` is neglected), with
    ``Δk`` from :func:`mesh_spacing`.  A Gaussian sampled at spacing h with ``σ = a v h``
    integrates to 1 up to ``2 e^{-2π² a²}`` (Poisson summation: ``1e-17`` at the default
    ``a = √2``, the factor of Yates et al. and Wannier90).

    Parameters
    ----------
    scale
        a.
    min_width
        Floor ``σ_min`` (energy) for band extrema and crossings where the velocities vanish;
        None: ``a Δk max_s |v_s| / 10``.
    n_sigma
        Cut in widths (the weight is zero beyond ``n_sigma σ_rc``).
    spacing
        Δk (L⁻¹) instead of :func:`mesh_spacing`.
    """

    scale: float = parameter(math.sqrt(2.0), unit="1", doc="a: σ = a |v| Δk", gt=0)
    min_width: float | None = parameter(None, unit="energy",
                                        doc="smallest width (none: a Δk max|v| / 10)", gt=0)
    n_sigma: float = parameter(4.0, unit="1", doc="cut of the Gaussian, in widths", gt=0)
    spacing: float | None = parameter(None, unit="1/L",
                                      doc="mesh spacing Δk (none: from the weights)", gt=0)
    name = "adaptive"

    def __post_init__(self) -> None:
        check_parameters(self)

    def _scales(self, states: KStates) -> tuple[float, float, float]:
        """``(a Δk, σ_min, max_s |v_s|)``."""
        dk = self.spacing if self.spacing is not None else mesh_spacing(states)
        vmax = float(np.sqrt(np.einsum("si,si->s", states.velocity, states.velocity).max()))
        floor = self.min_width if self.min_width is not None else 0.1 * self.scale * dk * vmax
        if not floor > 0:
            raise ValueError("adaptive smearing: every velocity vanishes; give min_width")
        return self.scale * dk, floor, vmax

    def width(self, states: KStates, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``σ_rc`` of each pair (energy)."""
        adk, floor, _ = self._scales(states)
        v = states.velocity
        speed2 = 0.5 * (np.einsum("pi,pi->p", v[rows], v[rows])
                        + np.einsum("pi,pi->p", v[cols], v[cols]))
        return np.maximum(adk * np.sqrt(speed2), floor)

    def cutoff(self, states: KStates) -> float:
        adk, floor, vmax = self._scales(states)
        return self.n_sigma * max(adk * vmax, floor)

    def weights(self, states, rows, cols, mismatch):
        return gaussian_weights(mismatch(rows, cols), self.width(states, rows, cols),
                                self.n_sigma)

    def tile_weights(self, tile, mismatch):
        inverse = tile.cache.get(("adaptive", self))
        if inverse is None:  # 1/σ_rc, shared by the shells of a tile
            ctx = tile.context
            adk, floor, _ = ctx.memo(("adaptive scales", self),
                                     lambda: self._scales(ctx.states))
            speed2 = ctx.array("speed2", lambda: 0.5 * np.einsum(
                "si,si->s", ctx.states.velocity, ctx.states.velocity))
            inverse = tile.row(speed2) + tile.col(speed2)
            np.sqrt(inverse, out=inverse)
            inverse *= tile.dtype.type(adk)
            np.maximum(inverse, tile.dtype.type(floor), out=inverse)
            np.divide(1, inverse, out=inverse)
            tile.cache[("adaptive", self)] = inverse
        return tile_gaussian(mismatch, inverse, self.n_sigma)
