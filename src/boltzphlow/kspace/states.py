r"""The states (n, k) of a Bloch Hamiltonian on a k-mesh, within an energy window.

Units: ħ = e = 1 (:mod:`boltzphlow.bands.hamiltonian`): energies in the model's energy unit,
wave vectors in inverse lattice constants (L⁻¹), velocities ``∂ε/∂k`` in energy × L, Berry
curvature in L², orbital moment in energy × L² (e = 1).

For each k-point of a chunk the Hamiltonian ``H(k)`` and ``∂H/∂k`` come from
:meth:`~boltzphlow.bands.BlochHamiltonian.mesh_blocks` (FFT Bloch sums for tight-binding
models); the band quantities follow from them:

* energies ``ε_n(k)`` and band velocities ``v_n = ∂ε_n/∂k`` (Hellmann–Feynman);
* the Berry curvature ``Ω^n_ij = -2 Im Σ_{m≠n} v^i_nm v^j_mn / (ε_n - ε_m)²`` (the diagonal
  ``Ω^n_n`` of Eq. 13 of T. Valet and R. Raimondi, "Semiclassical kinetic theory for systems
  with non-trivial quantum geometry and the expectation value of physical quantities"),
  through :func:`boltzphlow.geometry.berry.band_geometry` (closed forms for two bands);
* the orbital moment ``m^n = -½ Σ_{m≠n} (ε_n - ε_m) Ω^n_m`` of their Eq. 12 (carrier charge
  e = +1; a carrier of charge e has the moment ``e m`` and the energy
  ``ε̄_n = ε_n - e m^n·B``), from the interband tensor of
  :mod:`boltzphlow.geometry.interband`;
* on request the eigenvectors ``|u_n(k)⟩`` and the velocity matrices
  ``v^i_nm = ⟨u_n|∂H/∂k_i|u_m⟩`` (interband elements included), and the covariant
  derivatives of the eigenvectors ``|D_i u_n⟩ = Σ_{m≠n} |u_m⟩ v^i_mn / (ε_n - ε_m)`` (the part
  of ``∂_i|u_n⟩`` orthogonal to ``|u_n⟩``: ``∂_i|u_n⟩ = |D_i u_n⟩ - i A^n_i |u_n⟩`` with the
  Berry connection ``A^n = i⟨u_n|∂u_n⟩``; it changes with the phase of ``|u_n⟩`` as the
  vector itself does, so products like ``⟨u_m|u_n⟩⟨u_n|D u_m⟩`` are gauge invariant).

Degenerate bands (closer than ``degeneracy_tol``, default
:data:`~boltzphlow.geometry.berry.DEGENERACY_TOL`) are left out of each other's sums and
velocities, curvature and orbital moment are averaged over each degenerate group, as in
:mod:`boltzphlow.geometry.berry`, so every stored quantity is gauge invariant.

:class:`BandChunk` holds every band at a chunk of k-points (dense arrays); :class:`KStates`
holds the states whose energy lies in an :class:`EnergyWindow`, one row per state, built once
(:meth:`KStates.build`) or chunk by chunk for meshes too large to keep
(:meth:`KStates.chunks`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from boltzphlow.bands.hamiltonian import Hamiltonian, check_hermitian
from boltzphlow.geometry import interband
from boltzphlow.geometry.berry import (
    DEGENERACY_TOL,
    band_geometry,
    basis_connection,
    degenerate_average,
    position_curvature,
)
from boltzphlow.grids.kmesh import DEFAULT_CHUNK, KMesh
from boltzphlow.resources import check_memory, format_bytes

__all__ = ["CHUNK_BYTES", "BandChunk", "EnergyWindow", "KStates", "band_chunk", "band_chunks",
           "covariant_derivatives"]

#: Most bytes of working memory one chunk of k-points may take; larger chunks are split.
CHUNK_BYTES = 128 * 2**20


# --------------------------------------------------------------------------- window
@dataclass(frozen=True)
class EnergyWindow:
    """The closed energy interval ``[lower, upper]`` of the states kept (energy units).

    Either end may be infinite; ``EnergyWindow()`` keeps every state.
    """

    lower: float = -np.inf
    upper: float = np.inf

    def __post_init__(self) -> None:
        lo, hi = float(self.lower), float(self.upper)
        if np.isnan(lo) or np.isnan(hi) or lo > hi:
            raise ValueError(f"an energy window needs lower <= upper, got [{lo:g}, {hi:g}]")
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)

    @classmethod
    def around(
        cls,
        mu: float | Sequence[float] | np.ndarray,
        temperature: float,
        *,
        n_kT: float = 20.0,
        phonon_energy: float | Sequence[float] | np.ndarray = 0.0,
    ) -> EnergyWindow:
        r"""The window of a Boltzmann equation at chemical potential(s) μ and temperature T.

        ``[min μ - n_kT k_B T - ω_max, max μ + n_kT k_B T + ω_max]``: the states where
        ``-∂f/∂ε`` exceeds ``e^{-n_kT}/T`` (default 20: ``e^{-20} ≈ 2e-9``), widened by the
        largest phonon energy ``ω_max`` so that every state reached by emitting or absorbing
        a phonon from a state of the thermal layer is kept.

        Raises
        ------
        ValueError
            If T, ``n_kT`` or a phonon energy is negative or not finite, or μ is not finite.
        """
        mu = np.atleast_1d(np.asarray(mu, dtype=float))
        t, n = float(temperature), float(n_kT)
        omega = np.atleast_1d(np.asarray(phonon_energy, dtype=float))
        if mu.size == 0 or not np.all(np.isfinite(mu)):
            raise ValueError(f"mu must be finite numbers, got {mu.tolist()}")
        if not (np.isfinite(t) and t >= 0):
            raise ValueError(f"temperature must be finite and >= 0, got {temperature}")
        if not (np.isfinite(n) and n >= 0):
            raise ValueError(f"n_kT must be finite and >= 0, got {n_kT}")
        if omega.size and not (np.all(np.isfinite(omega)) and np.all(omega >= 0)):
            raise ValueError(f"phonon energies must be finite and >= 0, got {omega.tolist()}")
        margin = n * t + (float(omega.max()) if omega.size else 0.0)
        return cls(float(mu.min()) - margin, float(mu.max()) + margin)

    def contains(self, energy: np.ndarray) -> np.ndarray:
        """Boolean mask of the energies inside the window (both ends included)."""
        energy = np.asarray(energy)
        return (energy >= self.lower) & (energy <= self.upper)

    @property
    def width(self) -> float:
        """``upper - lower`` (may be infinite)."""
        return self.upper - self.lower


def as_window(window: EnergyWindow | Sequence[float] | None) -> EnergyWindow:
    """``window`` as an :class:`EnergyWindow` (None: every state; a pair: ``[lower, upper]``)."""
    if window is None:
        return EnergyWindow()
    if isinstance(window, EnergyWindow):
        return window
    pair = tuple(window)
    if len(pair) != 2:
        raise ValueError(f"an energy window is a pair (lower, upper), got {window!r}")
    return EnergyWindow(*pair)


# --------------------------------------------------------------------------- dense chunks
@dataclass(frozen=True, eq=False)
class BandChunk:
    """Every band at a chunk of M k-points (dense arrays; N bands, d dimensions).

    ``C`` is the number of independent curvature components: 0 (1D), 1 (2D: ``Ω_xy``) or 3
    (3D: the axial vector ``(Ω_yz, Ω_zx, Ω_xy)``).

    Attributes
    ----------
    k
        Cartesian wave vectors, ``(M, d)``, L⁻¹.
    k_index
        Flat (C-order) index of each point in its mesh, ``(M,)`` int64.
    weight
        k-space volume of each point, ``(M,)``, L⁻ᵈ (over a whole mesh they sum to the volume
        of the BZ or of the continuum box, so ``Σ weight · g ≈ ∫ d^dk g``).
    hamiltonian, dh_dk
        ``H(k)``, ``(M, N, N)``, and ``∂H/∂k_i``, ``(M, d, N, N)`` (energy, energy × L).
    energy
        ``ε_n(k)``, ``(M, N)``, ascending in n.
    velocity
        ``∂ε_n/∂k``, ``(M, N, d)``, energy × L.
    berry_curvature
        ``Ω^n``, ``(M, N, C)``, L².
    orbital_moment
        ``m^n`` (carrier charge +1), ``(M, N, C)``, energy × L², or None if not requested.
    eigenvectors
        ``(M, N, N)`` complex with ``eigenvectors[m, :, n] = |u_n(k_m)⟩``, or None.
    velocity_matrices
        ``v^i_nm``, ``(M, d, N, N)`` complex, energy × L, or None.
    covariant_derivatives
        ``(M, d, N, N)`` complex with ``[m, i, :, n] = |D_i u_n(k_m)⟩`` (module docstring;
        degenerate partners left out), L, or None.
    """

    k: np.ndarray
    k_index: np.ndarray
    weight: np.ndarray
    hamiltonian: np.ndarray
    dh_dk: np.ndarray
    energy: np.ndarray
    velocity: np.ndarray
    berry_curvature: np.ndarray
    orbital_moment: np.ndarray | None = None
    eigenvectors: np.ndarray | None = None
    velocity_matrices: np.ndarray | None = None
    covariant_derivatives: np.ndarray | None = None


def covariant_derivatives(energy: np.ndarray, u: np.ndarray, v: np.ndarray,
                          degeneracy_tol: float = DEGENERACY_TOL) -> np.ndarray:
    r"""``|D_i u_n⟩ = Σ_{m≠n} |u_m⟩ v^i_mn / (ε_n - ε_m)`` ``(M, d, N, N)`` (column n) from the
    energies ``(M, N)``, eigenvectors ``(M, N, N)`` (columns) and velocity matrices
    ``(M, d, N, N)``; bands closer than ``degeneracy_tol`` are left out of each other's sum
    (first-order perturbation theory of ``H(k + dk)``)."""
    gap = energy[:, None, :] - energy[:, :, None]  # [., m, n] = ε_n - ε_m
    far = np.abs(gap) > degeneracy_tol
    inverse = np.divide(1.0, gap, out=np.zeros_like(gap), where=far)
    return u[:, None] @ (v * inverse[:, None])


def _axial(tensor: np.ndarray, dim: int) -> np.ndarray:
    """``(..., d, d)`` antisymmetric -> ``(..., C)`` components (xy; or yz, zx, xy)."""
    if dim < 2:
        return np.zeros(tensor.shape[:-2] + (0,))
    out = interband.axial_components(tensor, dim)
    return out[..., None] if dim == 2 else out


def band_chunk(
    k: np.ndarray,
    weight: np.ndarray,
    k_index: np.ndarray,
    hk: np.ndarray,
    dhk: np.ndarray,
    *,
    curvature: bool = True,
    orbital_moment: bool = False,
    eigenvectors: bool = False,
    velocity_matrices: bool = False,
    covariant_derivative: bool = False,
    degeneracy_tol: float = DEGENERACY_TOL,
    check: bool = True,
    connection: tuple | None = None,
) -> BandChunk:
    """Band quantities at a chunk of k-points from ``H`` ``(M, N, N)`` and ``∂H/∂k``.

    Energies, velocities and curvature come from
    :func:`~boltzphlow.geometry.berry.band_geometry` (two-band closed forms, or ``eigh`` and
    the Kubo sum) unless eigenvectors or, for N > 2, the orbital moment are wanted: then one
    ``eigh`` gives the eigenvectors and velocity matrices, and the interband tensor
    ``Ω^n_m`` of :mod:`boltzphlow.geometry.interband` gives the curvature (its diagonal) and
    the orbital moment ``m^n = -½ Σ_m (ε_n - ε_m) Ω^n_m``.  For two bands the moment is the
    closed form ``m = -½ (ε_1 - ε_0) Ω_1`` for both bands.  See :class:`BandChunk`.

    ``connection`` (``(A, ∂A)`` of a model with its full position operator,
    :func:`~boltzphlow.geometry.berry.basis_connection`) adds its part of the Berry curvature
    (:func:`~boltzphlow.geometry.berry.position_curvature`); the orbital moment and the
    covariant derivatives are not implemented with it (``ValueError``).
    """
    if check:
        check_hermitian(hk)
    n, dim = hk.shape[-1], dhk.shape[1]
    if connection is not None and (orbital_moment or covariant_derivative):
        raise ValueError("the orbital moment and the covariant derivatives are not "
                         "implemented for a model with its full position operator (use "
                         "position_operator = 'centres')")
    need_eig = (eigenvectors or velocity_matrices or covariant_derivative
                or (orbital_moment and n > 2 and dim > 1))
    u = v = moment = None
    if n == 2 or not need_eig:
        e, om, vel = band_geometry(hk, dhk, degeneracy_tol=degeneracy_tol, check=False,
                                   curvature=curvature or orbital_moment,
                                   connection=connection)
        if orbital_moment:
            if n == 2:
                moment = -0.5 * (e[:, 1] - e[:, 0])[:, None, None] * om[:, 1:2]
                moment = np.repeat(moment, 2, axis=1)
            else:  # 1D: no curvature, no moment
                moment = np.zeros(om.shape)
        if need_eig:
            _, u = np.linalg.eigh(hk)
            v = np.conj(np.swapaxes(u, -1, -2))[:, None] @ dhk @ u[:, None]
    else:
        e, u = np.linalg.eigh(hk)
        v = np.conj(np.swapaxes(u, -1, -2))[:, None] @ dhk @ u[:, None]  # (M, d, N, N)
        vel = np.real(np.diagonal(v, axis1=-2, axis2=-1)).swapaxes(1, 2)  # (M, N, d)
        if dim > 1 and (curvature or orbital_moment):
            tensor = interband.interband_tensor(e, v, degeneracy_tol)  # (M, N, N, d, d)
            bands = np.arange(n)
            om = _axial(tensor[:, bands, bands], dim)
            if connection is not None:
                om = om + position_curvature(e, u, v, connection, degeneracy_tol)
            if orbital_moment:
                gap = e[:, :, None] - e[:, None, :]
                moment = -_axial(0.5 * (gap[..., None, None] * tensor).sum(axis=2), dim)
                moment = degenerate_average(moment, e, degeneracy_tol)
            om = degenerate_average(om, e, degeneracy_tol)
        else:
            om = np.zeros((len(e), n, 0))
            if orbital_moment:
                moment = np.zeros((len(e), n, 0))
        vel = degenerate_average(vel, e, degeneracy_tol)
    if not curvature:
        om = om[..., :0]
    deriv = (covariant_derivatives(e, u, v, degeneracy_tol) if covariant_derivative
             else None)
    return BandChunk(
        k=k, k_index=k_index, weight=weight, hamiltonian=hk, dh_dk=dhk, energy=e, velocity=vel,
        berry_curvature=om, orbital_moment=moment, eigenvectors=u if eigenvectors else None,
        velocity_matrices=v if velocity_matrices else None, covariant_derivatives=deriv,
    )


def _point_bytes(n: int, dim: int, *, eig: bool, kubo: bool) -> int:
    """Working memory of one k-point of a chunk (bytes), for :func:`band_chunks`."""
    size = 16 * n * n * (1 + dim) + 8 * n * (2 + 2 * dim + 6) + 32
    if eig:
        size += 16 * n * n * (2 + 2 * dim)  # U, U^† ∂H, v
    if kubo:
        size += 40 * n * n * dim * dim  # the interband tensor and its temporaries
    return size


def band_chunks(
    h: Hamiltonian,
    mesh: KMesh | Sequence[int],
    *,
    chunk_size: int = DEFAULT_CHUNK,
    use_symmetry: bool = False,
    curvature: bool = True,
    orbital_moment: bool = False,
    eigenvectors: bool = False,
    velocity_matrices: bool = False,
    covariant_derivative: bool = False,
    degeneracy_tol: float = DEGENERACY_TOL,
    window: EnergyWindow | Sequence[float] | None = None,
) -> Iterator[BandChunk]:
    """Yield :class:`BandChunk` s covering the mesh, in C order of the flat mesh index.

    With ``use_symmetry`` (and a model that declares a symmetry) only the points irreducible
    under it are visited, with their multiplicities in the weights (valid for integrands
    invariant under it).  A chunk holds about ``chunk_size`` points (whole rows of the first
    mesh axis), fewer if its working memory would exceed :data:`CHUNK_BYTES`.

    With a ``window``, only the k-points with at least one band in it are kept; when
    eigenvectors, velocity matrices or (N > 2) the orbital moment are asked for, the energies
    of every point are found first (closed form for two bands, ``eigvalsh`` otherwise) and
    those costly quantities are computed at the kept points only.

    Raises
    ------
    ResourceError
        If one chunk (at least one row of the mesh) would not fit in memory.
    """
    mesh = h.mesh(mesh)
    n, dim = h.n_bands, h.dim
    kubo = orbital_moment and n > 2 and dim > 1
    eig = eigenvectors or velocity_matrices or covariant_derivative
    per_point = _point_bytes(n, dim, eig=eig or kubo, kubo=kubo)
    size = max(1, min(int(chunk_size), CHUNK_BYTES // per_point))
    row = int(np.prod(mesh.shape[1:]))
    check_memory(per_point * max(size, row), f"a chunk of {max(size, row)} k-points of a "
                 f"{n}-band model", ["chunk_size", "mesh"])
    options = dict(curvature=curvature, orbital_moment=orbital_moment, eigenvectors=eigenvectors,
                   velocity_matrices=velocity_matrices, covariant_derivative=covariant_derivative,
                   degeneracy_tol=degeneracy_tol)
    if use_symmetry and h.symmetry:
        index, fraction = mesh.irreducible_indices(h.symmetry)
        blocks = h.points_blocks(mesh.fractional()[index], fraction, size)
    else:
        index = None
        blocks = h.mesh_blocks(mesh, size)
    window = None if window is None else as_window(window)
    costly = eig or kubo
    start = 0
    for b in blocks:
        m = len(b.k)
        k_index = (np.arange(start, start + m, dtype=np.int64) if index is None
                   else index[start:start + m])
        start += m
        k, weight, hk, dhk = b.k, b.weight, b.h, b.dh
        connection = basis_connection(h, k) if curvature else None
        if window is not None and costly:
            check_hermitian(hk)
            e = (band_geometry(hk, dhk, curvature=False, check=False)[0] if n == 2
                 else np.linalg.eigvalsh(hk))
            # a margin far above round-off: eigh's energies below decide, not these
            margin = 1e-9 * (1.0 + float(np.abs(e).max(initial=0.0)))
            near = EnergyWindow(window.lower - margin, window.upper + margin)
            keep = near.contains(e).any(axis=1)
            if not keep.all():
                k, weight, k_index = k[keep], weight[keep], k_index[keep]
                hk, dhk = hk[keep], dhk[keep]
                if connection is not None:
                    connection = tuple(c[keep] for c in connection)
            chunk = band_chunk(k, weight, k_index, hk, dhk, check=False, connection=connection,
                               **options)
        else:
            chunk = band_chunk(k, weight, k_index, hk, dhk, connection=connection, **options)
        if window is not None:
            keep = window.contains(chunk.energy).any(axis=1)
            if not keep.all():
                chunk = BandChunk(**{f.name: getattr(chunk, f.name)[keep]
                                     if getattr(chunk, f.name) is not None else None
                                     for f in fields(BandChunk)})
        yield chunk


# --------------------------------------------------------------------------- states
@dataclass(frozen=True, eq=False)
class KStates:
    """States (n, k) in an energy window: one row per state, S states in all.

    Rows are ordered by k-point (flat mesh index) and, at each k-point, by band.  ``C`` is
    the number of curvature components (0 in 1D, 1 in 2D, 3 in 3D; see :class:`BandChunk`).

    Attributes
    ----------
    energy
        ``ε_n(k)``, ``(S,)``, energy units.
    band
        Band index n (0 = lowest), ``(S,)`` int64.
    k_index
        Flat (C-order) mesh index of the state's k-point, ``(S,)`` int64
        (``mesh.fractional()[k_index]`` are its reduced coordinates).
    k
        Cartesian wave vector, ``(S, d)``, L⁻¹.
    weight
        k-space volume of the state's k-point, ``(S,)``, L⁻ᵈ: ``Σ_states weight · g`` is
        ``Σ_n ∫ d^dk g_n`` restricted to the window (divide by ``(2π)^d`` for a density).
    velocity
        ``v_n = ∂ε_n/∂k``, ``(S, d)``, energy × L.
    berry_curvature
        ``Ω^n``, ``(S, C)``, L² (empty last axis if not requested).
    orbital_moment
        ``m^n`` for carrier charge +1, ``(S, C)``, energy × L² (``ε̄ = ε - e m·B`` for a
        carrier of charge e; Valet and Raimondi Eq. 12), or None if not requested.
    eigenvectors
        ``|u_n(k)⟩``, ``(S, N)`` complex (any phase), or None if not requested.
    velocity_matrix
        Row n of the velocity matrices, ``v^i_nm(k) = ⟨u_n|∂H/∂k_i|u_m⟩`` for every band m,
        ``(S, d, N)`` complex, energy × L (``velocity_matrix[s, :, band[s]]`` is the band
        velocity up to degeneracies), or None if not requested.
    covariant_derivative
        ``|D_i u_n(k)⟩`` (module docstring), ``(S, d, N)`` complex, L, or None if not
        requested (it follows the phase of ``eigenvectors``).
    n_bands
        N, the number of bands of the model.
    window
        The :class:`EnergyWindow` the states were selected in.
    mesh
        The :class:`~boltzphlow.grids.kmesh.KMesh` they live on.
    periodic
        Whether k-space is a torus (lattice model) or a box (continuum model).
    reduced
        Whether only the points irreducible under the model's symmetry were kept.
    """

    energy: np.ndarray
    band: np.ndarray
    k_index: np.ndarray
    k: np.ndarray
    weight: np.ndarray
    velocity: np.ndarray
    berry_curvature: np.ndarray
    orbital_moment: np.ndarray | None
    eigenvectors: np.ndarray | None
    velocity_matrix: np.ndarray | None
    n_bands: int
    window: EnergyWindow = field(default_factory=EnergyWindow)
    mesh: KMesh | None = None
    periodic: bool = True
    reduced: bool = False
    covariant_derivative: np.ndarray | None = None

    _ARRAYS = ("energy", "band", "k_index", "k", "weight", "velocity", "berry_curvature",
               "orbital_moment", "eigenvectors", "velocity_matrix", "covariant_derivative")

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return len(self.energy)

    @property
    def n_states(self) -> int:
        """S, the number of states."""
        return len(self.energy)

    @property
    def dim(self) -> int:
        """d, the dimension of k-space."""
        return self.k.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(a.nbytes for a in self._arrays().values() if a is not None)

    def _arrays(self) -> dict[str, np.ndarray | None]:
        return {name: getattr(self, name) for name in self._ARRAYS}

    def __repr__(self) -> str:
        return (f"<KStates: {self.n_states} states of {self.n_bands} bands in "
                f"[{self.window.lower:g}, {self.window.upper:g}], {format_bytes(self.nbytes)}>")

    # ------------------------------------------------------------------ selection
    @classmethod
    def from_chunk(cls, chunk: BandChunk, window: EnergyWindow | Sequence[float] | None = None,
                   *, mesh: KMesh | None = None, periodic: bool = True,
                   reduced: bool = False) -> KStates:
        """The states of a :class:`BandChunk` whose energies lie in ``window``."""
        window = as_window(window)
        m, n = chunk.energy.shape
        inside = window.contains(chunk.energy)
        moment, u, v = chunk.orbital_moment, chunk.eigenvectors, chunk.velocity_matrices
        deriv = chunk.covariant_derivatives
        if inside.all():  # every state: views of the per-band arrays, no gather
            point = np.repeat(np.arange(m), n)
            band = np.tile(np.arange(n, dtype=np.int64), m)

            def rows(a: np.ndarray) -> np.ndarray:
                return a.reshape(m * n, *a.shape[2:])

            u_rows = None if u is None else rows(np.swapaxes(u, 1, 2))
            v_rows = None if v is None else rows(np.swapaxes(v, 1, 2))
            d_rows = None if deriv is None else rows(np.moveaxis(deriv, 3, 1))
        else:
            point, band = np.nonzero(inside)

            def rows(a: np.ndarray) -> np.ndarray:
                return a[point, band]

            u_rows = None if u is None else u[point, :, band]
            v_rows = None if v is None else v[point, :, band, :]
            d_rows = None if deriv is None else deriv[point, :, :, band]
        return cls(
            energy=rows(chunk.energy),
            band=band.astype(np.int64, copy=False),
            k_index=chunk.k_index[point],
            k=chunk.k[point],
            weight=chunk.weight[point],
            velocity=rows(chunk.velocity),
            berry_curvature=rows(chunk.berry_curvature),
            orbital_moment=None if moment is None else rows(moment),
            eigenvectors=u_rows,
            velocity_matrix=v_rows,
            covariant_derivative=d_rows,
            n_bands=n,
            window=window,
            mesh=mesh,
            periodic=periodic,
            reduced=reduced,
        )

    def select(self, mask: np.ndarray) -> KStates:
        """The states where ``mask`` (``(S,)`` bool, or integer indices) holds."""
        arrays = {name: None if a is None else a[mask] for name, a in self._arrays().items()}
        return KStates(**arrays, n_bands=self.n_bands, window=self.window, mesh=self.mesh,
                       periodic=self.periodic, reduced=self.reduced)

    @classmethod
    def concatenate(cls, parts: Sequence[KStates]) -> KStates:
        """One :class:`KStates` of the rows of ``parts`` (same model, window and options)."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        arrays = {}
        for name in cls._ARRAYS:
            values = [getattr(p, name) for p in parts]
            if any(v is None for v in values):
                if not all(v is None for v in values):
                    raise ValueError(f"the parts disagree on whether they hold {name}")
                arrays[name] = None
            else:
                arrays[name] = np.concatenate(values)
        return cls(**arrays, n_bands=first.n_bands, window=first.window, mesh=first.mesh,
                   periodic=first.periodic, reduced=first.reduced)

    # ------------------------------------------------------------------ look-up
    def find(self, k_index: np.ndarray, band: np.ndarray) -> np.ndarray:
        """Rows of the states ``(k_index, band)`` (broadcast together); -1 where not held."""
        key = np.asarray(k_index, dtype=np.int64) * self.n_bands + np.asarray(band)
        held = self.k_index * self.n_bands + self.band
        order = None
        if np.any(np.diff(held) <= 0):  # not in build order (e.g. after a selection)
            order = np.argsort(held, kind="stable")
            held = held[order]
        pos = np.minimum(np.searchsorted(held, key), max(len(held) - 1, 0))
        found = held[pos] == key if len(held) else np.zeros(key.shape, dtype=bool)
        rows = pos if order is None else order[pos]
        return np.where(found, rows, -1)

    def neighbours(self, axis: int | None = None, step: int = 1, *,
                   offset: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Row of the state of the same band a whole number of mesh steps away.

        Either ``step`` mesh points along reduced ``axis`` (the finite-difference partner of
        each state for ``∂/∂k`` on the mesh: the field terms of a Boltzmann equation), or an
        integer ``offset`` vector of steps along every reduced axis at once (``offset=(1, -1)``:
        the mesh diagonals, as for the simplices of a tetrahedron method).  The reduced
        displacement is ``offset_i / N_i``, i.e. the Cartesian ``h.k_cartesian(offset / N)``.
        Bands are matched by index (ascending energy), so a partner across a band crossing is
        the other band.

        Parameters
        ----------
        axis, step
            One reduced axis and the (integer) number of steps along it.
        offset
            ``(d,)`` integer steps along the reduced axes; instead of ``axis``/``step``.

        Returns
        -------
        numpy.ndarray
            ``(S,)`` int64 rows, -1 where the partner is outside the window or, for a
            continuum box, beyond its edge along any axis (lattices wrap around the Brillouin
            zone).

        Raises
        ------
        ValueError
            Without a mesh, on symmetry-reduced states, for an axis the mesh lacks, for both
            or neither of ``axis`` and ``offset``, or for an offset of the wrong length or
            not integer.
        """
        if self.mesh is None or self.reduced:
            raise ValueError("neighbours need the states of a full mesh (not symmetry-reduced)")
        d = self.mesh.dim
        if (axis is None) == (offset is None):
            raise ValueError("neighbours take either axis (and step) or offset, exactly one")
        if offset is None:
            if not 0 <= axis < d:
                raise ValueError(f"axis must be in 0..{d - 1}, got {axis}")
            steps = np.zeros(d, dtype=np.int64)
            steps[axis] = int(step)
        else:
            raw = np.asarray(offset)
            if (raw.shape != (d,) or raw.dtype.kind not in "iuf"
                    or not np.all(np.mod(raw, 1) == 0)):
                raise ValueError(f"offset must be {d} integers (one per mesh axis), "
                                 f"got {offset!r}")
            steps = raw.astype(np.int64)
        shape = np.asarray(self.mesh.shape, dtype=np.int64)[:, None]
        index = np.array(np.unravel_index(self.k_index, self.mesh.shape))  # (d, S)
        inside = np.ones(len(self), dtype=bool)
        moving = steps != 0
        if not self.periodic and moving.any():
            # the box [-1/2, 1/2) in wrapped reduced coordinates, in units of mesh steps:
            # positions i + shift (integers or half-integers, exact in floating point, so the
            # edges are decided exactly, unlike fractions (i + shift) / N)
            size = shape[moving]
            position = index[moving] + np.asarray(self.mesh.shift, dtype=float)[moving, None]
            target = position - size * (2 * position >= size) + steps[moving, None]
            inside = np.all((2 * target >= -size) & (2 * target < size), axis=0)
        index = np.mod(index + steps[:, None], shape)
        rows = self.find(np.ravel_multi_index(index, self.mesh.shape), self.band)
        return np.where(inside, rows, -1)

    # ------------------------------------------------------------------ construction
    @classmethod
    def chunks(
        cls,
        h: Hamiltonian,
        mesh: KMesh | Sequence[int],
        window: EnergyWindow | Sequence[float] | None = None,
        *,
        chunk_size: int = DEFAULT_CHUNK,
        use_symmetry: bool = False,
        curvature: bool = True,
        orbital_moment: bool = True,
        eigenvectors: bool = False,
        velocity_matrices: bool = False,
        covariant_derivative: bool = False,
        degeneracy_tol: float = DEGENERACY_TOL,
    ) -> Iterator[KStates]:
        """Yield the states of the window chunk by chunk (about ``chunk_size`` k-points each).

        For meshes too large to keep: memory is that of one chunk whatever the mesh size.
        A chunk may hold no state.  Parameters as in :meth:`build`.
        """
        window = as_window(window)
        mesh = h.mesh(mesh)
        # costly quantities only at the k-points that hold a state of the window
        costly = (eigenvectors or velocity_matrices or covariant_derivative
                  or (orbital_moment and h.n_bands > 2))
        for chunk in band_chunks(h, mesh, chunk_size=chunk_size, use_symmetry=use_symmetry,
                                 curvature=curvature, orbital_moment=orbital_moment,
                                 eigenvectors=eigenvectors, velocity_matrices=velocity_matrices,
                                 covariant_derivative=covariant_derivative,
                                 degeneracy_tol=degeneracy_tol,
                                 window=window if costly and np.isfinite(window.width) else None):
            yield cls.from_chunk(chunk, window, mesh=mesh, periodic=h.periodic,
                                 reduced=bool(use_symmetry and h.symmetry))

    @classmethod
    def build(
        cls,
        h: Hamiltonian,
        mesh: KMesh | Sequence[int],
        window: EnergyWindow | Sequence[float] | None = None,
        *,
        chunk_size: int = DEFAULT_CHUNK,
        use_symmetry: bool = False,
        curvature: bool = True,
        orbital_moment: bool = True,
        eigenvectors: bool = False,
        velocity_matrices: bool = False,
        covariant_derivative: bool = False,
        degeneracy_tol: float = DEGENERACY_TOL,
        allow_empty: bool = False,
    ) -> KStates:
        """Build the states of ``h`` on ``mesh`` in ``window`` once, chunk by chunk.

        Parameters
        ----------
        h
            Any :mod:`boltzphlow.bands` Hamiltonian (lattice or continuum, 1D to 3D).
        mesh
            A :class:`~boltzphlow.grids.kmesh.KMesh` or its sizes (Γ-centred for lattices,
            cell-centred on a continuum box).
        window
            :class:`EnergyWindow` (e.g. :meth:`EnergyWindow.around` μ and T), a pair
            ``(lower, upper)``, or None for every state.
        chunk_size
            k-points evaluated at once (bounds the working memory).
        use_symmetry
            Keep only the k-points irreducible under the model's declared symmetry, their
            weights multiplied by the multiplicity.
        curvature, orbital_moment
            Compute the Berry curvature and the orbital moment (else empty / None).
        eigenvectors, velocity_matrices, covariant_derivative
            Keep the eigenvectors ``(S, N)``, the rows of the velocity matrices
            ``(S, d, N)`` and the covariant derivatives of the eigenvectors ``(S, d, N)`` of
            the states in the window.
        degeneracy_tol
            Energy below which two bands count as degenerate.
        allow_empty
            Return an empty :class:`KStates` instead of raising when no state is in the window.

        Raises
        ------
        ValueError
            If no state lies in the window (unless ``allow_empty``).
        ResourceError
            Before an allocation that would not fit: a chunk, or the states kept so far plus
            the next chunk's (the message gives the estimate).
        """
        window = as_window(window)
        mesh = h.mesh(mesh)
        parts: list[KStates] = []
        kept = count = 0
        for part in cls.chunks(h, mesh, window, chunk_size=chunk_size, use_symmetry=use_symmetry,
                               curvature=curvature, orbital_moment=orbital_moment,
                               eigenvectors=eigenvectors, velocity_matrices=velocity_matrices,
                               covariant_derivative=covariant_derivative,
                               degeneracy_tol=degeneracy_tol):
            kept += part.nbytes
            count += len(part)
            # the parts and their concatenation coexist at the end
            check_memory(2 * kept, f"the k-space states in [{window.lower:g}, "
                         f"{window.upper:g}] on the {'x'.join(map(str, mesh.shape))} mesh "
                         f"({count} states so far)", ["mesh", "window"])
            parts.append(part)
        states = cls.concatenate(parts)
        if not len(states) and not allow_empty:
            raise ValueError(f"no state of the {h.n_bands}-band model lies in the energy window "
                             f"[{window.lower:g}, {window.upper:g}] on the "
                             f"{'x'.join(map(str, mesh.shape))} mesh")
        return states

    # ------------------------------------------------------------------ checks
    def __post_init__(self) -> None:
        s = len(self.energy)
        for f in fields(self):
            if f.name in self._ARRAYS:
                a = getattr(self, f.name)
                if a is not None and len(a) != s:
                    raise ValueError(f"KStates.{f.name} has {len(a)} rows, energy has {s}")
