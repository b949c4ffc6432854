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
           "tile_coordinate_shift", "tile_side_jump_sums"]

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


def _bloch_factors(ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Per-state float64 factors of the two-band shift, kept on the tile context.

    ``left (S, 4) = [½, ½ n]`` and ``right (S, 4) = [1, n]`` give ``|O|² = left_r · right_c``;
    ``parts (S, 3(1 + d)) = [n, a^1, …, a^d]`` with ``a^i = ∂_i n × n``.  By the cyclic
    triple product, ``(n_r × n_c)·∂_i n_r = a^i_r · n_c`` and
    ``(n_r × n_c)·∂_i n_c = -n_r · a^i_c``, so

    .. math:: |O|^2\, δr^i_{c←r} = -\tfrac14\,(a^i_r \cdot n_c - n_r \cdot a^i_c),

    a bilinear form of rank 6 in (row, column): matrix products instead of elementwise
    passes over the tile.
    """
    def make():
        from boltzphlow.scattering.models import state_columns

        states = ctx.states
        n = np.stack(state_columns(states).bloch, axis=1)  # (S, 3)
        a = np.cross(bloch_vector_derivative(states), n[:, None, :])  # (S, d, 3)
        ones = np.ones((len(n), 1))
        return (np.ascontiguousarray(np.hstack([0.5 * ones, 0.5 * n])),
                np.ascontiguousarray(np.hstack([ones, n])),
                np.ascontiguousarray(np.hstack([n, a.reshape(len(n), -1)])))

    return ctx.memo("side_jump_bloch_factors", make)


def _floored(o2: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``max(|O|², floor)`` (in place) and the mask ``|O|² ≥`` :data:`OVERLAP_FLOOR` (None
    where every pair passes)."""
    keep = None
    if o2.size and o2.min() < OVERLAP_FLOOR:
        keep = o2 >= OVERLAP_FLOOR
        np.maximum(o2, OVERLAP_FLOOR, out=o2)
    return o2, keep


def _inverse(o2: np.ndarray, keep: np.ndarray | None, factor: float) -> np.ndarray:
    """``factor / |O|²`` of a floored overlap (in place), zero where ``keep`` is False."""
    scale = np.divide(o2.dtype.type(factor), o2, out=o2)
    if keep is not None:
        scale *= keep
    return scale


def _tile_overlap_sq(tile) -> tuple[np.ndarray, np.ndarray | None]:
    """``|O|²`` ``(B, W)`` of a two-band tile (float64, :func:`_floored`)."""
    left, right, _ = _bloch_factors(tile.context)
    return _floored(left[tile.r0:tile.r1] @ right[tile.c0:tile.c1].T)


def tile_coordinate_shift(tile) -> list[np.ndarray]:
    r"""``δr_{c←r}`` of every pair of a :class:`~boltzphlow.scattering.base.Tile`: one
    ``(B, W)`` array per Cartesian axis, in the tile's dtype (zero where
    ``|⟨u_c|u_r⟩|² <`` :data:`OVERLAP_FLOOR`, and for pairs of non-candidates, whatever the
    value, multiplied by a zero flux).

    Two bands: the triple product of the Bloch vectors as a rank-6 matrix product
    (:func:`_bloch_factors`, float64); more bands: the overlaps of the module docstring as
    matrix products of the tile's rows and columns.  The operator's assembly needs only the
    flux-weighted sums of the shift: :func:`tile_side_jump_sums`.
    """
    ctx = tile.context
    states = ctx.states
    d = states.dim
    dt = tile.dtype
    if states.n_bands == 2:
        scale = _inverse(*_tile_overlap_sq(tile), -0.25)
        _, _, parts = _bloch_factors(ctx)
        rows, cols = parts[tile.r0:tile.r1], parts[tile.c0:tile.c1]
        out = []
        for i in range(d):
            a = slice(3 + 3 * i, 6 + 3 * i)
            y = rows[:, a] @ cols[:, :3].T
            y -= rows[:, :3] @ cols[:, a].T
            y *= scale
            out.append(y.astype(dt, copy=False))
        return out
    complex_dtype = np.result_type(dt, np.complex64)
    u = ctx.array("u", lambda: states.eigenvectors, dtype=complex_dtype)
    du = ctx.array("du", lambda: _need(states)[1], dtype=complex_dtype)  # (S, d, N)
    ur, uc = u[tile.r0:tile.r1], u[tile.c0:tile.c1]
    overlap = ur.conj() @ uc.T  # ⟨u_r|u_c⟩ (B, W)
    o2 = (overlap.real * overlap.real + overlap.imag * overlap.imag).astype(dt, copy=False)
    scale = _inverse(*_floored(o2), -1.0)
    out = []
    for i in range(d):
        ket = du[tile.r0:tile.r1, i] @ uc.conj().T  # ⟨u_c|D u_r⟩
        bra = ur @ du[tile.c0:tile.c1, i].conj().T  # ⟨D u_c|u_r⟩
        y = np.imag(overlap * (ket + bra)).astype(dt, copy=False)
        y *= scale
        out.append(y)
    return out


def tile_side_jump_sums(tile, fluxes: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""Per flux ``Φ`` ``(B, W)`` of a tile, the row and column sums ``(B, d)``, ``(W, d)``
    of ``Φ_rc δr_{c←r}`` (float64): the side-jump flux of the operator's assembly (Eqs. 7
    and 12 of Xiao et al.).

    Two bands: with ``h = Φ/|O|²`` and the factors of :func:`_bloch_factors`, the row sums are
    ``-¼ (a^i_r · (h n)_r - n_r · (h a^i)_r)`` and the column sums
    ``-¼ (n_c · (hᵀ a^i)_c - a^i_c · (hᵀ n)_c)``: two float64 matrix products of ``h`` with
    ``3(1 + d)`` per-state columns, so the pair-level shift is never formed (a handful of
    passes over the tile instead of about fifty).  More bands: the dense shift of
    :func:`tile_coordinate_shift`, summed in float64.
    """
    ctx = tile.context
    d = ctx.states.dim
    if ctx.states.n_bands != 2:
        shift = tile_coordinate_shift(tile)
        out = []
        for f in fluxes:
            rows, cols = [], []
            for g in shift:
                x = f * g
                rows.append(x.sum(axis=1, dtype=np.float64))
                cols.append(x.sum(axis=0, dtype=np.float64))
            out.append((np.stack(rows, axis=1), np.stack(cols, axis=1)))
        return out
    _, _, parts = _bloch_factors(ctx)
    rows, cols = parts[tile.r0:tile.r1], parts[tile.c0:tile.c1]
    out = []
    o2, keep = _tile_overlap_sq(tile)
    products = []
    for k, f in enumerate(fluxes):
        h = np.divide(f, o2, out=o2 if k == len(fluxes) - 1 else None)
        if keep is not None:
            h *= keep
        # Σ_c h_rc [n_c, a_c] (B, 3(1+d)) and Σ_r h_rc [n_r, a_r] (W, 3(1+d))
        products.append((h @ cols, (rows.T @ h).T))
    for by_row, by_col in products:
        row_sums, col_sums = np.empty((len(rows), d)), np.empty((len(cols), d))
        for i in range(d):
            a = slice(3 + 3 * i, 6 + 3 * i)
            row_sums[:, i] = (np.einsum("bk,bk->b", rows[:, :3], by_row[:, a])
                              - np.einsum("bk,bk->b", rows[:, a], by_row[:, :3]))
            col_sums[:, i] = (np.einsum("wk,wk->w", cols[:, a], by_col[:, :3])
                              - np.einsum("wk,wk->w", cols[:, :3], by_col[:, a]))
        out.append((0.25 * row_sums, 0.25 * col_sums))
    return out
