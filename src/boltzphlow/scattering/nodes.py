r"""Impurity scattering that tells Weyl nodes apart: a separate inter-node relaxation time.

Static impurities in the Born approximation whose matrix element depends only on whether the
two states belong to the same Weyl node (the small-q and large-q parts of a smooth potential):

.. math::

    W_{c←r} = 2π\, n_{imp}\, |V_{rc}|^2\, |⟨u_c|u_r⟩|^2\, δ(ε_c - ε_r),\qquad
    V_{rc} = V_{intra}\ \text{(same node)},\ V_{inter}\ \text{(different nodes)},

(Eq. 2a of C. Xiao, Y. Liu, M. Xie, S. A. Yang, Q. Niu, "Theory of phonon side jump
contribution in anomalous Hall transport", with a static potential).  A state belongs to the
nearest node (minimum image on a lattice).  The inter-node relaxation time of a state is
``1/τ_v = Σ_{c ∈ other nodes} W_{c←r} w_c /(2π)^d``; ``τ_v/τ`` is about
``(V_intra/V_inter)²``: the regime of the chiral anomaly (D. T. Son and B. Z. Spivak,
"Chiral anomaly and classical negative magnetoresistance of Weyl metals").  Units ħ = e = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from boltzphlow.kspace.states import KStates
from boltzphlow.parameters import check_parameters, parameter
from boltzphlow.scattering.base import DeltaFunction, Equilibrium, PairBlock, ScatteringModel
from boltzphlow.scattering.models import bloch_overlap_sq

__all__ = ["NodeImpurities"]


@dataclass(frozen=True)
class NodeImpurities(ScatteringModel):
    r"""Born impurities that scatter within a Weyl node with ``V_intra`` and between nodes
    with ``V_inter``: ``τ_v/τ ≈ (V_intra/V_inter)²`` (the chiral-anomaly regime).

    ``W_{c←r} = 2π n_imp |V_rc|² |⟨u_c|u_r⟩|² δ(ε_c - ε_r)`` (module docstring), each state
    assigned to its nearest node.

    Parameters
    ----------
    nodes
        Node positions, Cartesian ``(n_nodes, d)`` (L⁻¹).
    intra_strength, inter_strength
        ``V_intra``, ``V_inter`` (energy × Lᵈ).
    density
        Impurity density ``n_imp`` (L⁻ᵈ).
    reciprocal
        Reciprocal vectors as rows ``(d, d)`` for the minimum-image distance on a lattice
        (None: plain distance, for continuum models).
    """

    nodes: tuple = ()
    intra_strength: float = parameter(1.0, unit="energy*L^d",
                                      doc="V_intra: Born strength within a node")
    inter_strength: float = parameter(0.1, unit="energy*L^d",
                                      doc="V_inter: Born strength between nodes "
                                      "(tau_v/tau ~ (V_intra/V_inter)^2)")
    density: float = parameter(1.0, unit="L^-d", doc="impurity density n_imp", ge=0)
    reciprocal: tuple | None = None
    name = "node impurities"
    needs_eigenvectors = True

    def __post_init__(self) -> None:
        nodes = np.atleast_2d(np.asarray(self.nodes, dtype=float))
        if nodes.size == 0 or not np.all(np.isfinite(nodes)):
            raise ValueError("NodeImpurities needs the node positions (n_nodes, d)")
        for label, value in (("intra_strength", self.intra_strength),
                             ("inter_strength", self.inter_strength),
                             ("density", self.density)):
            if not math.isfinite(value):
                raise ValueError(f"NodeImpurities: {label} must be finite, got {value}")
        check_parameters(self)
        object.__setattr__(self, "nodes", tuple(map(tuple, nodes)))
        if self.reciprocal is not None:
            rec = np.asarray(self.reciprocal, dtype=float)
            if rec.shape != (nodes.shape[1],) * 2 or abs(np.linalg.det(rec)) == 0:
                raise ValueError(f"reciprocal must be a non-singular ({nodes.shape[1]}, "
                                 f"{nodes.shape[1]}) matrix, got shape {rec.shape}")
            object.__setattr__(self, "reciprocal", tuple(map(tuple, rec)))

    @classmethod
    def of(cls, model, intra_strength: float = 1.0, inter_strength: float = 0.1,
           density: float = 1.0) -> NodeImpurities:
        """For a model with ``nodes`` (e.g. :func:`~boltzphlow.bands.weyl_lattice`) and, for a
        lattice, ``reciprocal`` vectors."""
        nodes = [node.k for node in getattr(model, "nodes", ())]
        rec = getattr(model, "reciprocal", None)
        return cls(nodes=tuple(map(tuple, nodes)), intra_strength=intra_strength,
                   inter_strength=inter_strength, density=density,
                   reciprocal=None if rec is None else tuple(map(tuple, np.asarray(rec))))

    def node_of(self, k: np.ndarray) -> np.ndarray:
        """Index of the nearest node of each wave vector ``(P, d)`` -> ``(P,)``."""
        nodes = np.asarray(self.nodes)
        diff = np.asarray(k, float)[:, None, :] - nodes[None]  # (P, n, d)
        if self.reciprocal is not None:
            rec = np.asarray(self.reciprocal)
            frac = diff @ np.linalg.inv(rec)
            diff = (frac - np.round(frac)) @ rec
        return np.argmin(np.einsum("pnd,pnd->pn", diff, diff), axis=1)

    def pair_flux(self, states: KStates, pairs: PairBlock, eq: Equilibrium,
                  delta: DeltaFunction) -> np.ndarray:
        r, c = pairs.rows, pairs.cols
        e = states.energy

        def mismatch(rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
            return e[cc] - e[rr]

        d = delta.weights(states, r, c, mismatch)
        live = d != 0
        out = np.zeros(len(r))
        r, c = r[live], c[live]
        same = self.node_of(states.k[r]) == self.node_of(states.k[c])
        v2 = np.where(same, self.intra_strength ** 2, self.inter_strength ** 2)
        out[live] = (2 * math.pi * self.density * v2 * bloch_overlap_sq(states, r, c)
                     * d[live] * eq.elastic_flux_factor(e[r], e[c])
                     * states.weight[r] * states.weight[c] / (2 * math.pi) ** states.dim)
        return out

    def describe(self) -> str:
        return (f"node impurities (n = {self.density:g}, V_intra = {self.intra_strength:g}, "
                f"V_inter = {self.inter_strength:g}, {len(self.nodes)} nodes)")
