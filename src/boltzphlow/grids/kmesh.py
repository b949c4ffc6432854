"""Regular k-meshes in 1-3 dimensions: chunked iteration, symmetry reduction, adaptive refinement.

Points are stored in *reduced* (fractional) coordinates ``f`` of the reciprocal cell: the
Cartesian wave vector is ``k = f @ B`` with ``B`` the reciprocal vectors as rows (lattice
models), or ``k = 2 k_max * wrap(f)`` on the box ``[-k_max, k_max)^d`` (continuum models,
``wrap`` maps to ``[-1/2, 1/2)``).  A mesh of shape ``(N_1, ..., N_d)`` holds the points

    f_j = (n_j + s_j) / N_j,    n_j = 0 ... N_j - 1,

with the offset ``s_j`` (in units of the spacing) 0 for a Γ-centred mesh and, for a
Monkhorst-Pack mesh, 1/2 when ``N_j`` is even and 0 when it is odd (the same point set as
Monkhorst and Pack, PRB 13, 5188 (1976), up to a lattice vector).  Every point carries the
weight ``1 / prod(N)``: a sum of ``weight * g(f)`` approximates the average of ``g`` over the
cell (the rectangle rule, exponentially accurate for smooth periodic ``g``; the midpoint rule,
second order, on a continuum box).

Meshes are iterated in *slabs* of consecutive rows of the first axis (C order), so that a
caller can bound its memory by ``chunk_size`` points and a Bloch sum can use FFTs along the
trailing axes (:meth:`boltzphlow.bands.TightBinding.mesh_blocks`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import product

import numpy as np

from boltzphlow.resources import check_memory

__all__ = [
    "AdaptiveResult",
    "KMesh",
    "as_kmesh",
    "integrate_adaptive",
]

#: Default number of k-points evaluated at once (bounds the memory of chunked loops).
DEFAULT_CHUNK = 1 << 16


@dataclass(frozen=True)
class KMesh:
    """A regular mesh of the reciprocal cell (or of a continuum k-box) in 1, 2 or 3 dimensions.

    Parameters
    ----------
    shape
        Number of points along each reduced axis, ``(N_1, ..., N_d)``, ``1 <= d <= 3``.
    shift
        Offset of the points in units of the spacing, one value in ``[0, 1)`` per axis.
        Use :meth:`gamma_centered` or :meth:`monkhorst_pack` rather than setting it by hand.
    """

    shape: tuple[int, ...]
    shift: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        shape = tuple(int(n) for n in np.atleast_1d(self.shape))
        if not 1 <= len(shape) <= 3:
            raise ValueError(f"a k-mesh has 1, 2 or 3 axes, got shape {shape}")
        if any(n < 1 for n in shape):
            raise ValueError(f"every mesh axis needs at least one point, got shape {shape}")
        shift = tuple(float(s) for s in self.shift) if len(self.shift) else (0.0,) * len(shape)
        if len(shift) != len(shape):
            raise ValueError(f"shift {shift} does not match mesh shape {shape}")
        if any(not 0.0 <= s < 1.0 for s in shift):
            raise ValueError(f"mesh shifts must lie in [0, 1), got {shift}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "shift", shift)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def gamma_centered(cls, shape: Sequence[int]) -> KMesh:
        """Mesh containing k = 0 (``f_j = n_j / N_j``)."""
        return cls(tuple(shape))

    @classmethod
    def monkhorst_pack(cls, shape: Sequence[int]) -> KMesh:
        """Monkhorst-Pack mesh: symmetric about k = 0, avoiding it along even axes."""
        shape = tuple(int(n) for n in np.atleast_1d(shape))
        return cls(shape, tuple(0.5 if n % 2 == 0 else 0.0 for n in shape))

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        """Number of axes d."""
        return len(self.shape)

    @property
    def n_points(self) -> int:
        """Total number of points ``prod(shape)``."""
        return int(np.prod(self.shape))

    @property
    def weight(self) -> float:
        """Weight of one point, ``1 / n_points`` (weights sum to one)."""
        return 1.0 / self.n_points

    @property
    def spacing(self) -> np.ndarray:
        """Spacing ``1 / N_j`` of the reduced coordinates along each axis."""
        return 1.0 / np.asarray(self.shape, dtype=float)

    def axis_coordinates(self, axis: int) -> np.ndarray:
        """Reduced coordinates ``(n + s) / N`` of the points along one axis, in ``[0, 1)``."""
        n = self.shape[axis]
        return (np.arange(n) + self.shift[axis]) / n

    # ------------------------------------------------------------------ points
    def indices(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Integer mesh indices ``n`` (shape ``(M, d)``) of flat (C-order) points start:stop."""
        stop = self.n_points if stop is None else stop
        return np.stack(np.unravel_index(np.arange(start, stop), self.shape), axis=-1)

    def fractional(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Reduced coordinates (shape ``(M, d)``, in ``[0, 1)``) of flat points start:stop."""
        n = self.indices(start, stop)
        return (n + np.asarray(self.shift)) / np.asarray(self.shape, dtype=float)

    def slabs(self, chunk_size: int = DEFAULT_CHUNK) -> Iterator[tuple[int, int]]:
        """Ranges ``(row_start, row_stop)`` of the first axis holding about chunk_size points.

        A slab holds at least one full row (``prod(shape[1:])`` points), so a mesh whose
        rows are longer than ``chunk_size`` is iterated one row at a time.
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        row = int(np.prod(self.shape[1:]))
        rows = max(1, chunk_size // row)
        for start in range(0, self.shape[0], rows):
            yield start, min(start + rows, self.shape[0])

    def chunks(self, chunk_size: int = DEFAULT_CHUNK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(fractional, weights)`` for consecutive slabs of about chunk_size points."""
        row = int(np.prod(self.shape[1:]))
        for r0, r1 in self.slabs(chunk_size):
            f = self.fractional(r0 * row, r1 * row)
            yield f, np.full(len(f), self.weight)

    # ------------------------------------------------------------------ symmetry
    def irreducible(self, operations: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Irreducible points under a point group acting on reduced coordinates.

        Parameters
        ----------
        operations
            Integer matrices ``M`` (d x d) acting as ``f -> f @ M`` on reduced coordinates.
            The identity is added if missing; the set need not be closed under products
            (orbits are built from the listed operations applied once, so pass the whole
            group).

        Returns
        -------
        fractional, weights
            The representatives (``(M, d)``) and their weights (multiplicity / n_points,
            summing to one).  ``sum(weights * g(fractional))`` equals the full-mesh sum for
            any ``g`` invariant under the operations.

        Raises
        ------
        ValueError
            If an operation is not an integer d x d matrix or does not map the mesh onto
            itself (e.g. a C3 rotation on a mesh with unequal axes).
        """
        reps, weights = self.irreducible_indices(operations)
        return self.fractional()[reps], weights

    def irreducible_indices(
        self, operations: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flat (C-order) indices of the irreducible points and their weights.

        The representative of each orbit is its point of smallest flat index; see
        :meth:`irreducible` (which returns their reduced coordinates) for the parameters.

        Returns
        -------
        indices, weights
            ``(M,)`` int64 indices, ascending, and weights (multiplicity / n_points).
        """
        ops = self.check_symmetry(operations)
        shape = np.asarray(self.shape)
        n = self.indices()
        canonical = np.arange(self.n_points)
        for m in ops[1:]:
            image = np.mod(self._doubled_images(n, m) // 2, shape)
            canonical = np.minimum(canonical, np.ravel_multi_index(image.T, self.shape))
        reps, counts = np.unique(canonical, return_counts=True)
        return reps.astype(np.int64), counts / self.n_points

    def _doubled_images(self, n: np.ndarray, m: np.ndarray) -> np.ndarray:
        """``2 n'`` with ``f' = f @ M``, ``f = (n + s)/N``: ``n' = N ((n + s)/N) @ M - s``.

        Works on the doubled integer lattice so that half-integer shifts stay integers;
        ``ValueError`` where an image is not a mesh point.
        """
        shape = np.asarray(self.shape)
        shift2 = np.round(2 * np.asarray(self.shift)).astype(np.int64)
        num = ((2 * n + shift2) / (2 * shape)) @ m * (2 * shape) - shift2
        if not np.allclose(num, np.round(num), atol=1e-9):
            raise ValueError(f"symmetry operation {m.tolist()} does not map the mesh "
                             f"{self.shape} (shift {self.shift}) onto itself")
        num = np.round(num).astype(np.int64)
        if np.any(num % 2):
            raise ValueError(f"symmetry operation {m.tolist()} breaks the mesh shift")
        return num

    def check_symmetry(self, operations: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The identity and ``operations`` as integer matrices, checked against the mesh.

        The map ``n -> n'`` is affine in the integer index n, so checking the origin and the
        d unit indices shows whether it maps every mesh point onto a mesh point (cost
        independent of the mesh size).

        Raises
        ------
        ValueError
            If an operation is not an integer d x d matrix or does not map the mesh onto
            itself, or the shifts are not 0 or 1/2.
        """
        ops = [np.eye(self.dim, dtype=np.int64)]
        for op in operations:
            m = np.asarray(op)
            if m.shape != (self.dim, self.dim):
                raise ValueError(f"symmetry operation of shape {m.shape} on a {self.dim}D mesh")
            if not np.allclose(m, np.round(m)):
                raise ValueError(f"symmetry operation {m.tolist()} is not an integer matrix")
            ops.append(np.round(m).astype(np.int64))
        if not np.allclose(2 * np.asarray(self.shift), np.round(2 * np.asarray(self.shift))):
            raise ValueError("symmetry reduction needs mesh shifts of 0 or 1/2")
        basis = np.vstack([np.zeros(self.dim, dtype=np.int64), np.eye(self.dim, dtype=np.int64)])
        for m in ops[1:]:
            self._doubled_images(basis, m)
        return ops


def as_kmesh(mesh: KMesh | Sequence[int] | int, dim: int, *, periodic: bool = True) -> KMesh:
    """Return ``mesh`` as a :class:`KMesh` of dimension ``dim``.

    A tuple of sizes becomes a Γ-centred mesh for a periodic (lattice) model and a
    Monkhorst-Pack (cell-centred, i.e. midpoint-rule) mesh for a continuum k-box.

    Raises
    ------
    ValueError
        If the mesh dimension differs from ``dim``.
    """
    if not isinstance(mesh, KMesh):
        sizes = tuple(int(n) for n in np.atleast_1d(mesh))
        mesh = KMesh.gamma_centered(sizes) if periodic else KMesh.monkhorst_pack(sizes)
    if mesh.dim != dim:
        raise ValueError(f"mesh {mesh.shape} has {mesh.dim} axes but the model is {dim}D")
    return mesh


# ---------------------------------------------------------------------- adaptive refinement
@dataclass(frozen=True)
class AdaptiveResult:
    """Outcome of :func:`integrate_adaptive`.

    Attributes
    ----------
    value
        Cell average of the integrand (shape of one integrand row).
    n_evaluations
        Number of k-points at which the integrand was evaluated.
    error_estimate
        Sum of ``|refined - unrefined|`` cell contributions of the last refinement level
        (a heuristic: the change the last level made).
    levels
        Refinement levels carried out.
    """

    value: np.ndarray
    n_evaluations: int
    error_estimate: float
    levels: int


#: Relative tolerance within which Dörfler indicators count as tied (marked together).
TIE_RTOL = 1e-9


def _dorfler_mark(indicator: np.ndarray, fraction: float, max_cells: int) -> np.ndarray:
    """Indices of the fewest cells whose indicators sum to ``fraction`` of the total, with
    every cell tied (within :data:`TIE_RTOL`) to the last one marked as well, so that cells
    equal by symmetry (k and −k) are refined together; a cap ``max_cells`` drops the whole
    tied group it would split (unless that leaves nothing)."""
    order = np.argsort(-indicator, kind="stable")
    ranked = indicator[order]
    total = ranked.sum()
    if total <= 0.0:
        return order[:0]
    n = int(np.searchsorted(np.cumsum(ranked), fraction * total)) + 1
    n = min(n, ranked.size)
    # extend to the cells tied with the last marked one
    n = int(np.searchsorted(-ranked, -ranked[n - 1] * (1 - TIE_RTOL), side="right"))
    if n > max_cells:
        first_out = ranked[max_cells]
        above = int(np.searchsorted(-ranked, -first_out * (1 + TIE_RTOL), side="left"))
        n = above if above > 0 else max_cells
    return order[:n]


def integrate_adaptive(
    integrand: Callable[[np.ndarray], np.ndarray],
    mesh: KMesh,
    *,
    periodic: bool = True,
    levels: int = 3,
    fraction: float = 0.5,
    max_new_points: int = 2_000_000,
    chunk_size: int = DEFAULT_CHUNK,
) -> AdaptiveResult:
    """Cell average of ``integrand`` with local refinement of the cells that dominate the error.

    Each point of the base mesh stands for a cell of the reduced unit cell.  A cell is
    refined by splitting it into ``3^d`` sub-cells whose centres include the parent centre
    (nested, so no value is recomputed).  The cells to refine are chosen by Dörfler marking
    (the fewest cells whose indicators add up to ``fraction`` of the total) with the
    indicator ``w_c * max |g_c - g_neighbour|`` over face neighbours (on the base mesh) or
    over face neighbours among the siblings (on refined cells).  The indicator is large at
    Fermi-surface steps and at integrable singularities (Weyl nodes, near-gap-closings),
    where the rectangle rule loses its spectral accuracy.  Cells tied in the indicator (equal
    by symmetry) are marked together.

    Refining part of a mesh turns the rectangle rule into a composite midpoint rule there:
    the O(h²) errors that cancel on the plain periodic mesh no longer cancel at the edge of
    the refined region, which marking puts where a smooth integrand is steepest.  For
    Fermi-surface integrands near Weyl nodes this made the result worse than the plain mesh
    (:func:`boltzphlow.observables.chiral_anomaly` uses a node-centred quadrature instead).

    Parameters
    ----------
    integrand
        ``g(fractional) -> values``: maps reduced coordinates of shape ``(M, d)`` to an
        array of shape ``(M,)`` or ``(M, P)`` (e.g. one column per chemical potential).
    mesh
        Base mesh.
    periodic
        Whether the integrand is periodic (lattice) or lives on a box (continuum); only
        affects the neighbours used by the base-mesh indicator.
    levels
        Number of refinement passes (0: plain mesh average).
    fraction
        Dörfler fraction θ in (0, 1].
    max_new_points
        Cap on the number of new points per level (bounds memory and time).
    chunk_size
        Points per call of ``integrand``.

    Returns
    -------
    AdaptiveResult

    Raises
    ------
    ResourceError
        Before a level whose points and values would not fit in memory
        (:func:`boltzphlow.resources.check_memory`).

    Notes
    -----
    Memory is ``O(n_points * P)``: the base-mesh values are kept to build the indicator.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    if levels < 0:
        raise ValueError(f"levels must be >= 0, got {levels}")
    d = mesh.dim
    check_memory(8 * 3 * mesh.n_points * (2 * d + 4), f"adaptive integration over the "
                 f"{'x'.join(map(str, mesh.shape))} mesh", ["mesh"])

    def evaluate(f: np.ndarray) -> np.ndarray:
        parts = [np.asarray(integrand(f[i : i + chunk_size])) for i in range(0, len(f), chunk_size)]
        out = np.concatenate(parts, axis=0) if parts else np.zeros((0,))
        return out.reshape(len(f), -1)

    centres = mesh.fractional()
    values = evaluate(centres)
    n_eval = len(centres)
    sizes = np.tile(mesh.spacing, (len(centres), 1))
    weights = np.full(len(centres), mesh.weight)
    # Base-mesh indicator from face neighbours on the regular grid.
    grid = np.zeros(mesh.shape)
    vals_grid = values.reshape(*mesh.shape, -1)
    for axis in range(d):
        for step in (1, -1):
            if periodic:
                neighbour = np.roll(vals_grid, step, axis=axis)
            else:
                neighbour = np.concatenate(
                    [
                        np.take(vals_grid, [0], axis=axis),
                        vals_grid,
                        np.take(vals_grid, [-1], axis=axis),
                    ],
                    axis=axis,
                )
                neighbour = np.take(neighbour, np.arange(mesh.shape[axis]) + (1 - step), axis=axis)
            grid = np.maximum(grid, np.abs(vals_grid - neighbour).max(axis=-1))
    indicator = weights * grid.reshape(-1)

    offsets = np.array(list(product((-1, 0, 1), repeat=d)), dtype=float)  # (3^d, d)
    centre_index = (3**d) // 2
    new_offsets = np.delete(offsets, centre_index, axis=0)
    # Face neighbours inside a 3^d block: pairs (a, b) of sub-cells differing by one step.
    block = offsets.astype(int)
    pairs = [
        (a, b) for a in range(3**d) for b in range(3**d) if np.abs(block[a] - block[b]).sum() == 1
    ]
    pair_a = np.array([p[0] for p in pairs])
    pair_b = np.array([p[1] for p in pairs])
    error = 0.0
    done = 0
    for _ in range(levels):
        max_cells = max(1, max_new_points // (3**d - 1))
        marked = _dorfler_mark(indicator, fraction, max_cells)
        if marked.size == 0:
            break
        n_new = len(marked) * (3**d - 1)
        # new values, the refined block, and the concatenated arrays of every cell
        check_memory(8 * (3 * n_new + 2 * len(centres) + 3**d * len(marked))
                     * (values.shape[1] + 2 * d + 3),
                     f"adaptive refinement level {done + 1} ({n_new} new k-points of "
                     f"{values.shape[1]} values each)", ["refine", "refine_fraction", "mesh"])
        done += 1
        parent_c, parent_s = centres[marked], sizes[marked]
        parent_w, parent_v = weights[marked], values[marked]
        child_s = parent_s / 3.0
        new_f = (parent_c[:, None, :] + new_offsets[None, :, :] * child_s[:, None, :]) % 1.0
        new_v = evaluate(new_f.reshape(-1, d)).reshape(len(marked), 3**d - 1, -1)
        n_eval += new_v.shape[0] * new_v.shape[1]
        block_v = np.insert(new_v, centre_index, parent_v, axis=1)  # (m, 3^d, P)
        child_w = parent_w / 3**d
        refined = child_w[:, None] * block_v.sum(axis=1)
        error = float(np.abs(refined - parent_w[:, None] * parent_v).sum())
        jump = np.abs(block_v[:, pair_a] - block_v[:, pair_b]).max(axis=-1)  # (m, pairs)
        child_ind = np.zeros((len(marked), 3**d))
        for a in range(3**d):
            sel = pair_a == a
            child_ind[:, a] = jump[:, sel].max(axis=1)
        child_c = (parent_c[:, None, :] + offsets[None, :, :] * child_s[:, None, :]) % 1.0
        keep = np.ones(len(centres), dtype=bool)
        keep[marked] = False
        centres = np.concatenate([centres[keep], child_c.reshape(-1, d)])
        sizes = np.concatenate([sizes[keep], np.repeat(child_s, 3**d, axis=0)])
        weights = np.concatenate([weights[keep], np.repeat(child_w, 3**d)])
        values = np.concatenate([values[keep], block_v.reshape(-1, block_v.shape[-1])])
        indicator = np.concatenate([indicator[keep], (child_w[:, None] * child_ind).reshape(-1)])
    value = (weights[:, None] * values).sum(axis=0)
    return AdaptiveResult(value=value, n_evaluations=n_eval, error_estimate=error, levels=done)
