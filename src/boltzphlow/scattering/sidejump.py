r"""The coordinate shift of a scattering event: the side jump of a Bloch electron.

A wave packet scattered from ``ℓ = (n, k)`` to ``ℓ' = (n', k')`` is displaced by (Eq. 3 of
C. Xiao, Y. Liu, M. Xie, S. A. Yang, Q. Niu, "Theory of phonon side jump contribution in
anomalous Hall transport", after N. A. Sinitsyn, Q. Niu and A. H. MacDonald, PRB 73, 075318)

.. math:: δ\mathbf r_{ℓ'ℓ} = \mathbf A_{ℓ'} - \mathbf A_ℓ
          - (∂_{\mathbf k} + ∂_{\mathbf k'}) \arg V_{ℓ'ℓ},
          \qquad δ\mathbf r_{ℓℓ'} = -δ\mathbf r_{ℓ'ℓ},

with the Berry connections ``A_ℓ = i⟨u_ℓ|∂_k u_ℓ⟩``.  Every model of
:mod:`boltzphlow.scattering` has matrix elements ``V_{ℓ'ℓ} = V(k' - k) ⟨u_ℓ'|u_ℓ⟩`` (a scalar
potential: impurities, deformation-potential and Fröhlich phonons); ``(∂_k + ∂_k')`` of any
function of ``k' - k`` vanishes, so only the phase of the overlap ``O = ⟨u_ℓ'|u_ℓ⟩`` enters.

**Gauge-invariant evaluation.**  With the covariant derivative
``|D u⟩ = ∂|u⟩ + i A |u⟩`` (:class:`~boltzphlow.kspace.KStates`, ``covariant_derivative``),
``∂_k O = ⟨u'|D u⟩ - i A O`` and ``∂_k' O = ⟨D u'|u⟩ + i A' O``; with
``|O|² ∂ arg O = Im(O^* ∂O)`` the connections cancel and

.. math:: |O|^2\, δ\mathbf r_{ℓ'ℓ} = -\operatorname{Im}\big(⟨u_ℓ|u_{ℓ'}⟩
          \,[⟨u_{ℓ'}|\mathbf D u_ℓ⟩ + ⟨\mathbf D u_{ℓ'}|u_ℓ⟩]\big),

a product of closed loops of states (each vector appears once as bra and once as ket): no
gauge is fixed and any phase of the eigenvectors gives the same number.  ``|O|² δr`` is
smooth where ``O → 0`` (δr itself diverges there, as in the seed's Eq. 17, but every rate
carries ``|O|²``).  For two bands, with the Bloch vectors ``n = ⟨u|σ|u⟩`` and
``∂n = 2 Re⟨u|σ|D u⟩``, the same quantity is the real triple product

.. math:: |O|^2\, δ\mathbf r_{ℓ'ℓ} = -\tfrac14\, (\mathbf n_ℓ × \mathbf n_{ℓ'})
          \cdot (∂_{\mathbf k} \mathbf n_ℓ + ∂_{\mathbf k'} \mathbf n_{ℓ'})

(``Im ⟨u_1|u_2⟩⟨u_2|u_3⟩⟨u_3|u_1⟩ = ¼ n_1·(n_2 × n_3)`` for spin-½ states), which the
collision operator evaluates on its tiles.

Degenerate bands are left out of each other's covariant derivative (the Abelian shift of
non-degenerate bands; a Kramers-degenerate model needs the non-Abelian form, not built).
"""

from __future__ import annotations

import numpy as np

from boltzphlow.kspace.states import KStates

__all__ = ["OVERLAP_FLOOR", "bloch_vector_derivative", "coordinate_shift", "shift_weight",
           "tile_coordinate_shift"]

#: Pairs whose ``|⟨u'|u⟩|²`` is below this get no coordinate shift (their rates carry the same
#: factor: the product ``W δr`` is ``O(|O|)`` there).
OVERLAP_FLOOR = 1e-12

_SIGMA = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])


def _need(states: KStates) -> tuple[np.ndarray, np.ndarray]:
    if states.eigenvectors is None or states.covariant_derivative is None:
        raise ValueError("the coordinate shift needs the eigenvectors and their covariant "
                         "derivatives: build the states with eigenvectors=True, "
                         "covariant_derivative=True")
    return states.eigenvectors, states.covariant_derivative


def shift_weight(states: KStates, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    r"""``|⟨u_c|u_r⟩|² δr_{c←r}`` ``(P, d)`` of pairs of states (module docstring), L.

    ``δr_{c←r}`` is the shift of the scattering from the row state r (ℓ) to the column
    state c (ℓ'); any number of bands, float64.
    """
    u, du = _need(states)
    ur, uc = u[rows], u[cols]
    overlap = np.einsum("pa,pa->p", ur.conj(), uc)  # ⟨u_r|u_c⟩
    ket = np.einsum("pa,pia->pi", uc.conj(), du[rows])  # ⟨u_c|D u_r⟩
    bra = np.einsum("pia,pa->pi", du[cols].conj(), ur)  # ⟨D u_c|u_r⟩
    return -np.imag(overlap[:, None] * (ket + bra))


def coordinate_shift(states: KStates, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    r"""``δr_{c←r}`` ``(P, d)`` of pairs of states (Eq. 3; zero where
    ``|⟨u_c|u_r⟩|² <`` :data:`OVERLAP_FLOOR`), L."""
    u, _ = _need(states)
    o2 = np.abs(np.einsum("pa,pa->p", u[rows].conj(), u[cols])) ** 2
    weight = shift_weight(states, rows, cols)
    keep = o2 >= OVERLAP_FLOOR
    return np.where(keep[:, None], weight / np.where(keep, o2, 1.0)[:, None], 0.0)


def bloch_vector_derivative(states: KStates) -> np.ndarray:
    r"""``∂_i n^a = 2 Re⟨u|σ^a|D_i u⟩`` ``(S, d, 3)`` of two-band states (L)."""
    u, du = _need(states)
    if u.shape[1] != 2:
        raise ValueError("Bloch vectors are defined for two bands")
    return 2 * np.real(np.einsum("sa,xab,sib->six", u.conj(), _SIGMA, du))


def tile_coordinate_shift(tile) -> list[np.ndarray]:
    r"""``δr_{c←r}`` of every pair of a :class:`~boltzphlow.scattering.base.Tile`: one
    ``(B, W)`` array per Cartesian axis, in the tile's dtype (zero where
    ``|⟨u_c|u_r⟩|² <`` :data:`OVERLAP_FLOOR`, and for pairs of non-candidates, whatever the
    value, multiplied by a zero flux).

    Two bands: the triple product of the Bloch vectors (real arithmetic); more bands: the
    overlaps of the module docstring as matrix products of the tile's rows and columns.
    """
    ctx = tile.context
    states = ctx.states
    d = states.dim
    dt = tile.dtype
    if states.n_bands == 2:
        from boltzphlow.scattering.models import state_columns

        bloch = state_columns(states).bloch
        n = [ctx.array(("bloch", a), lambda a=a: bloch[a]) for a in range(3)]
        dn = ctx.array("d_bloch", lambda: bloch_vector_derivative(states))  # (S, d, 3)
        nr = [tile.row(x) for x in n]
        nc = [tile.col(x) for x in n]
        cross = [nr[1] * nc[2] - nr[2] * nc[1], nr[2] * nc[0] - nr[0] * nc[2],
                 nr[0] * nc[1] - nr[1] * nc[0]]
        o2 = nr[0] * nc[0]
        o2 += nr[1] * nc[1]
        o2 += nr[2] * nc[2]
        o2 += 1
        o2 *= 0.5
        scale = _inverse_overlap(o2, dt, -0.25)
        out = []
        for i in range(d):
            y = cross[0] * (tile.row(dn[:, i, 0]) + tile.col(dn[:, i, 0]))
            for a in (1, 2):
                y += cross[a] * (tile.row(dn[:, i, a]) + tile.col(dn[:, i, a]))
            y *= scale
            out.append(y)
        return out
    complex_dtype = np.result_type(dt, np.complex64)
    u = ctx.array("u", lambda: states.eigenvectors, dtype=complex_dtype)
    du = ctx.array("du", lambda: _need(states)[1], dtype=complex_dtype)  # (S, d, N)
    ur, uc = u[tile.r0:tile.r1], u[tile.c0:tile.c1]
    overlap = ur.conj() @ uc.T  # ⟨u_r|u_c⟩ (B, W)
    o2 = (overlap.real * overlap.real + overlap.imag * overlap.imag).astype(dt, copy=False)
    scale = _inverse_overlap(o2, dt, -1.0)
    out = []
    for i in range(d):
        ket = du[tile.r0:tile.r1, i] @ uc.conj().T  # ⟨u_c|D u_r⟩
        bra = ur @ du[tile.c0:tile.c1, i].conj().T  # ⟨D u_c|u_r⟩
        y = np.imag(overlap * (ket + bra)).astype(dt, copy=False)
        y *= scale
        out.append(y)
    return out


def _inverse_overlap(o2: np.ndarray, dt: np.dtype, factor: float) -> np.ndarray:
    """``factor / |O|²`` where ``|O|² ≥`` :data:`OVERLAP_FLOOR`, else 0 (in place)."""
    keep = o2 >= dt.type(OVERLAP_FLOOR)
    np.maximum(o2, dt.type(OVERLAP_FLOOR), out=o2)
    np.divide(dt.type(factor), o2, out=o2)
    o2 *= keep
    return o2
