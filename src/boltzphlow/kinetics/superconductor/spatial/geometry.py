"""Finite-volume grids in space for QP and phonon transport: a slab and a sphere.

Lengths in µm, areas in µm², volumes in µm³.  A geometry is a 1-D row of cells along ``x``
(:class:`Slab`, unit cross-section) or along the radius ``r`` (:class:`Sphere`, spherical
shells), as in the spherical ``(r, ε, θ)`` problem at the end of §2.4 of M. Li,
*Documentation for BoltzPhlow and BTE approach to QP–phonon transport* (boundary conditions
after Eq. 181: ``r = 0`` needs none beyond the vanishing area, ``r = R`` is a surface).

Every geometry exposes the arrays a finite-volume operator and a source need: ``edges`` (cells
+ 1), ``centres``, ``volumes`` (cells), face ``areas`` (cells + 1) and :meth:`locate` (the cell
holding a position; :meth:`Sphere.shell_of` for a radius).
"""

from __future__ import annotations

import math

import numpy as np

from boltzphlow.errors import check_positive

__all__ = ["Geometry", "Slab", "Sphere"]


def _cell_count(cells: object) -> int:
    if isinstance(cells, bool) or not isinstance(cells, int | np.integer) or cells < 1:
        raise ValueError(f"cells: must be an integer ≥ 1, got {cells!r}")
    return int(cells)


def _cell_edges(name: str, extent: float, cells: object, edges: object) -> np.ndarray:
    """Uniform edges on ``[0, extent]`` (``extent`` checked as the argument ``name``, in µm),
    or the given ``edges`` checked against it."""
    size = check_positive(name, extent, "µm")
    if edges is None:
        return np.linspace(0.0, size, _cell_count(cells) + 1)
    return _check_edges(edges, size, name)


def _check_edges(edges: object, extent: float, name: str) -> np.ndarray:
    e = np.asarray(edges, dtype=float)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)):
        raise ValueError(f"edges: must be a 1-D array of ≥ 2 finite positions (µm), got shape "
                         f"{e.shape}")
    if e[0] != 0.0 or not math.isclose(e[-1], extent, rel_tol=1e-12):
        raise ValueError(f"edges: must run from 0 to the {name} {extent:g} µm, got "
                         f"[{e[0]:g}, {e[-1]:g}]")
    if np.any(np.diff(e) <= 0):
        raise ValueError("edges: must be strictly increasing")
    e = e.copy()
    e[-1] = extent
    return e


class Geometry:
    """A row of finite-volume cells (base of :class:`Slab` and :class:`Sphere`).

    Attributes
    ----------
    edges : ndarray, shape (cells + 1,)
        Cell boundaries (µm).
    centres : ndarray, shape (cells,)
        Cell midpoints (µm), where the two-point fluxes are anchored.
    volumes : ndarray, shape (cells,)
        Cell volumes (µm³; µm for the slab's unit cross-section in µm²).
    areas : ndarray, shape (cells + 1,)
        Face areas (µm²) at ``edges``.
    """

    #: ``"slab"`` or ``"sphere"``.
    kind: str = ""
    #: Names of the open boundaries, in the order :attr:`edges` meets them.
    walls: tuple[str, ...] = ()

    def __init__(self, edges: np.ndarray) -> None:
        self.edges = edges
        self.centres = 0.5 * (edges[1:] + edges[:-1])
        self.widths = np.diff(edges)
        self.areas = self._areas(edges)
        self.volumes = self._volumes(edges)
        for arr in (self.edges, self.centres, self.widths, self.areas, self.volumes):
            arr.setflags(write=False)

    def _areas(self, edges: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _volumes(self, edges: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def cells(self) -> int:
        """Number of cells."""
        return self.centres.size

    @property
    def extent(self) -> float:
        """Length of the slab or radius of the sphere (µm)."""
        return float(self.edges[-1])

    def locate(self, position: float | np.ndarray) -> np.ndarray | int:
        """Index of the cell holding ``position`` (µm; the upper edge belongs to the last
        cell).  A ``ValueError`` if a position is outside ``[0, extent]``."""
        p = np.asarray(position, dtype=float)
        if np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > self.extent):
            raise ValueError(f"position: must lie in [0, {self.extent:g}] µm")
        idx = np.clip(np.searchsorted(self.edges, p, side="right") - 1, 0, self.cells - 1)
        return int(idx) if idx.ndim == 0 else idx

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extent:g} µm, cells={self.cells})"


class Slab(Geometry):
    """Cells on ``[0, L]`` with a unit cross-section (a film thickness or a strip length).

    Parameters
    ----------
    length
        ``L`` (µm).
    cells
        Number of cells (uniform unless ``edges`` is given).
    edges
        Optional cell boundaries (µm), strictly increasing from 0 to ``length``.

    Volumes are the widths (µm³ per µm² of cross-section), every face area is 1.  The two open
    ends are :attr:`walls` ``("lower", "upper")``: ``x = 0`` and ``x = L``.
    """

    kind = "slab"
    walls = ("lower", "upper")

    def __init__(self, length: float, cells: int = 100, *, edges: object = None) -> None:
        super().__init__(_cell_edges("length", length, cells, edges))

    def _areas(self, edges: np.ndarray) -> np.ndarray:
        return np.ones_like(edges)

    def _volumes(self, edges: np.ndarray) -> np.ndarray:
        return np.diff(edges)


class Sphere(Geometry):
    """Spherical shells on ``[0, R]``: volumes ``4π(r₊³ − r₋³)/3``, face areas ``4πr²``.

    Parameters
    ----------
    radius
        ``R`` (µm).
    cells
        Number of shells (uniform in ``r`` unless ``edges`` is given).
    edges
        Optional shell radii (µm), strictly increasing from 0 to ``radius``.

    The centre ``r = 0`` is no boundary (zero area, the symmetry condition ∂_r f = 0 after
    Eq. 181 of M. Li, *Documentation for BoltzPhlow and BTE approach to QP–phonon transport*);
    the one open boundary is the surface, :attr:`walls` ``("surface",)``.
    """

    kind = "sphere"
    walls = ("surface",)

    def __init__(self, radius: float, cells: int = 100, *, edges: object = None) -> None:
        super().__init__(_cell_edges("radius", radius, cells, edges))

    def _areas(self, edges: np.ndarray) -> np.ndarray:
        return 4.0 * np.pi * edges**2

    def _volumes(self, edges: np.ndarray) -> np.ndarray:
        return 4.0 * np.pi / 3.0 * np.diff(edges**3)

    def shell_of(self, radius: float | np.ndarray) -> np.ndarray | int:
        """Index of the shell containing ``radius`` (µm); see :meth:`Geometry.locate`."""
        return self.locate(radius)
