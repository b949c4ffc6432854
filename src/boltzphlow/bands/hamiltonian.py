"""The Bloch-Hamiltonian interface and its two implementations: tight-binding and continuum.

Units (all of :mod:`boltzphlow.bands`, :mod:`boltzphlow.geometry`, :mod:`boltzphlow.observables`):
ħ = e = 1; lengths in units of the lattice constant (the one the model's lattice vectors are
written in), wave vectors in inverse lattice constants, energies in the model's hopping unit.

Every model maps Cartesian wave vectors of shape ``(..., d)`` to Hermitian matrices of shape
``(..., N, N)`` (:meth:`BlochHamiltonian.hamiltonian`) and gives the velocity matrices
``∂H/∂k_i`` of shape ``(..., d, N, N)`` (:meth:`BlochHamiltonian.velocity`), analytic where
the model knows them.  Integrations over k use :meth:`BlochHamiltonian.mesh_blocks`, which
yields the mesh in chunks of bounded size (FFT Bloch sums for :class:`TightBinding`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from boltzphlow.grids.kmesh import DEFAULT_CHUNK, KMesh, as_kmesh

__all__ = [
    "BlochHamiltonian",
    "ContinuumModel",
    "Hamiltonian",
    "MeshBlock",
    "TightBinding",
    "check_hermitian",
]

#: Relative tolerance of the Hermiticity checks.
HERMITIAN_RTOL = 1e-10


@runtime_checkable
class Hamiltonian(Protocol):
    """What the geometry and transport functions need from a model.

    Attributes
    ----------
    n_bands
        Number of bands N (size of the Bloch matrix).
    dim
        Spatial dimension d (1, 2 or 3).
    periodic
        True for a lattice model (k-space is the Brillouin zone, a torus), False for a
        continuum model on the box ``[-k_max, k_max]^d``.
    k_volume
        Volume of the integration region in k-space (BZ or box), in inverse lattice
        constants to the power d.
    symmetry
        Integer matrices acting on reduced k-coordinates (``f -> f @ M``) under which band
        energies and the Berry curvature of the model are invariant (may be empty).
    """

    n_bands: int
    dim: int
    periodic: bool

    @property
    def k_volume(self) -> float: ...  # noqa: D102 - documented above

    @property
    def symmetry(self) -> tuple[np.ndarray, ...]: ...  # noqa: D102

    def hamiltonian(self, k: np.ndarray) -> np.ndarray:
        """Bloch matrices ``H(k)``, shape ``(..., N, N)``, for Cartesian ``k`` ``(..., d)``."""

    def velocity(self, k: np.ndarray) -> np.ndarray:
        """Velocity matrices ``∂H/∂k_i``, shape ``(..., d, N, N)``."""

    def k_cartesian(self, fractional: np.ndarray) -> np.ndarray:
        """Cartesian wave vectors of reduced coordinates ``(..., d)``."""

    def mesh_blocks(
        self, mesh: KMesh, chunk_size: int = DEFAULT_CHUNK, *, velocity: bool = True
    ) -> Iterator[MeshBlock]:
        """The mesh in chunks, with H (and ∂H/∂k) evaluated."""


@dataclass
class MeshBlock:
    """A chunk of a k-mesh with the Hamiltonian evaluated on it.

    Attributes
    ----------
    k
        Cartesian wave vectors, ``(M, d)``.
    weight
        Integration weights, ``(M,)``; over a whole mesh they sum to the k-volume
        (so ``sum(weight * g)`` approximates ``∫ d^dk g``).
    h
        Bloch matrices, ``(M, N, N)``.
    dh
        Velocity matrices ``∂H/∂k_i``, ``(M, d, N, N)``, or None if not requested.
    """

    k: np.ndarray
    weight: np.ndarray
    h: np.ndarray
    dh: np.ndarray | None


def check_hermitian(h: np.ndarray, what: str = "H(k)") -> None:
    """Raise ``ValueError`` if the matrices ``h`` (``(..., N, N)``) are not Hermitian or finite."""
    h = np.asarray(h)
    if h.ndim < 2 or h.shape[-1] != h.shape[-2]:
        raise ValueError(f"{what} must be square matrices, got shape {h.shape}")
    if not np.isfinite(h).all():
        raise ValueError(f"{what} has entries that are not finite numbers (nan or inf)")
    scale = max(1.0, float(np.max(np.abs(h)))) if h.size else 1.0
    deviation = float(np.max(np.abs(h - np.conj(np.swapaxes(h, -1, -2))))) if h.size else 0.0
    if deviation > HERMITIAN_RTOL * scale:
        raise ValueError(f"{what} is not Hermitian: max |H - H^dagger| = {deviation:.3g}")


class BlochHamiltonian(ABC):
    """Base class of N-band Bloch Hamiltonians (implements :class:`Hamiltonian`).

    A subclass sets ``n_bands``, ``dim``, ``periodic`` and implements
    :meth:`hamiltonian`, :meth:`k_cartesian` and :attr:`k_volume`; it should override
    :meth:`velocity` with the analytic derivative (the default is a fourth-order central
    finite difference with step ``1e-3`` in units of the inverse lattice constant, error
    ~1e-12 relative for entire functions of k).
    """

    n_bands: int
    dim: int
    periodic: bool
    name: str = ""
    _symmetry: tuple[np.ndarray, ...] = ()

    @property
    def symmetry(self) -> tuple[np.ndarray, ...]:
        """Reduced-coordinate point-group matrices the model declares (see :class:`Hamiltonian`)."""
        return self._symmetry

    @property
    @abstractmethod
    def k_volume(self) -> float:
        """Volume of the k-space integration region (BZ or box)."""

    @abstractmethod
    def hamiltonian(self, k: np.ndarray) -> np.ndarray:
        """Bloch matrices ``H(k)`` of shape ``(..., N, N)``."""

    @abstractmethod
    def k_cartesian(self, fractional: np.ndarray) -> np.ndarray:
        """Cartesian wave vectors of reduced coordinates."""

    def _check_k(self, k: np.ndarray) -> np.ndarray:
        k = np.asarray(k, dtype=float)
        if k.ndim == 0 or k.shape[-1] != self.dim:
            raise ValueError(
                f"wave vectors must have a last axis of length {self.dim} for this "
                f"{self.dim}D model, got shape {k.shape}"
            )
        return k

    def velocity(self, k: np.ndarray) -> np.ndarray:
        """Velocity matrices ``∂H/∂k_i`` (``(..., d, N, N)``) by 4th-order finite differences."""
        k = self._check_k(k)
        step = 1e-3
        out = []
        for i in range(self.dim):
            e = np.zeros(self.dim)
            e[i] = step
            out.append(
                (
                    8 * (self.hamiltonian(k + e) - self.hamiltonian(k - e))
                    - (self.hamiltonian(k + 2 * e) - self.hamiltonian(k - 2 * e))
                )
                / (12 * step)
            )
        return np.stack(out, axis=-3)

    def hamiltonian_and_velocity(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(H(k), ∂H/∂k)`` in one call (subclasses may share work)."""
        return self.hamiltonian(k), self.velocity(k)

    def mesh(self, mesh: KMesh | Sequence[int] | int) -> KMesh:
        """``mesh`` as a :class:`KMesh` for this model (checks the dimension)."""
        return as_kmesh(mesh, self.dim, periodic=self.periodic)

    def mesh_blocks(
        self, mesh: KMesh | Sequence[int], chunk_size: int = DEFAULT_CHUNK, *, velocity: bool = True
    ) -> Iterator[MeshBlock]:
        """Evaluate H (and ∂H/∂k) on ``mesh`` in chunks of about ``chunk_size`` points."""
        mesh = self.mesh(mesh)
        for f, w in mesh.chunks(chunk_size):
            k = self.k_cartesian(f)
            if velocity:
                h, dh = self.hamiltonian_and_velocity(k)
            else:
                h, dh = self.hamiltonian(k), None
            yield MeshBlock(k=k, weight=w * self.k_volume, h=h, dh=dh)

    def points_blocks(
        self,
        fractional: np.ndarray,
        weights: np.ndarray,
        chunk_size: int = DEFAULT_CHUNK,
        *,
        velocity: bool = True,
    ) -> Iterator[MeshBlock]:
        """Like :meth:`mesh_blocks` for an explicit list of reduced points and weights.

        ``weights`` are fractions of the k-volume (they sum to one over a full cell).
        """
        for i in range(0, len(fractional), chunk_size):
            k = self.k_cartesian(fractional[i : i + chunk_size])
            w = weights[i : i + chunk_size] * self.k_volume
            if velocity:
                h, dh = self.hamiltonian_and_velocity(k)
            else:
                h, dh = self.hamiltonian(k), None
            yield MeshBlock(k=k, weight=w, h=h, dh=dh)

    def __repr__(self) -> str:
        kind = "lattice" if self.periodic else "continuum"
        label = f" {self.name!r}" if self.name else ""
        return f"<{type(self).__name__}{label}: {self.n_bands} bands, {self.dim}D {kind}>"


# --------------------------------------------------------------------------- tight binding
def check_model_symmetry(h: Hamiltonian, samples: int = 16, seed: int = 0,
                         rtol: float = 1e-8) -> None:
    """Check that each declared point operation leaves the bands invariant:
    ``ε_n(k) = ε_n(k M)`` (reduced k, :attr:`Hamiltonian.symmetry`) at ``samples`` random
    k-points, to ``rtol`` of the bandwidth.  Catches a wrong operation given by hand (a
    symmetry of the lattice that is not one of the model), which would make symmetry-reduced
    k-sums silently wrong.

    Raises
    ------
    ValueError
        Naming the first operation (by its index) that changes the bands.
    """
    if not h.symmetry:
        return
    f = np.random.default_rng(seed).uniform(-0.5, 0.5, size=(samples, h.dim))
    energies = np.linalg.eigvalsh(h.hamiltonian(h.k_cartesian(f)))
    scale = max(float(np.ptp(energies)), 1e-300)
    for i, m in enumerate(h.symmetry):
        moved = np.linalg.eigvalsh(h.hamiltonian(h.k_cartesian(f @ m)))
        dev = float(np.abs(moved - energies).max())
        if dev > rtol * scale:
            raise ValueError(f"operation {i} is not a symmetry of the bands (they change by "
                             f"{dev / scale:.2g} of the bandwidth at a sample k-point)")


def _reduced_symmetry(lattice: np.ndarray, rotations: Sequence[np.ndarray]) -> tuple:
    """Cartesian rotations -> integer matrices acting on reduced k (``f -> f @ M``)."""
    recip = 2 * np.pi * np.linalg.inv(lattice).T  # rows b_i, a_i . b_j = 2 pi delta_ij
    out = []
    for rot in rotations:
        r = np.asarray(rot, dtype=float)
        m = recip @ r.T @ np.linalg.inv(recip)
        if not np.allclose(m, np.round(m), atol=1e-8):
            raise ValueError(f"rotation {r.tolist()} is not a symmetry of the lattice")
        out.append(np.round(m).astype(np.int64))
    return tuple(out)


class TightBinding(BlochHamiltonian):
    r"""Tight-binding model: hopping matrices on lattice vectors, orbitals at given positions.

    .. math::

        H_{ab}(\mathbf k) = \sum_{\mathbf R} h_{ab}(\mathbf R)\,
            e^{i\mathbf k\cdot(\mathbf R + \boldsymbol\tau_b - \boldsymbol\tau_a)}

    (the "atomic" gauge with orbital positions τ; the velocity ``∂H/∂k`` then carries the
    intra-cell positions, which the intrinsic Berry curvature of a metal needs).  With
    ``periodic_gauge=True`` the τ are dropped (H periodic in k), as the link-variable Chern
    number needs.

    Parameters
    ----------
    lattice
        Lattice vectors as rows, ``(d, d)``, in units of the lattice constant.
    hoppings
        Either a mapping ``{R: h(R)}`` from integer lattice vectors (tuples of length d) to
        ``(N, N)`` matrices, or a pair ``(R, h)`` of arrays of shapes ``(n_R, d)`` and
        ``(n_R, N, N)`` (repeated R are added).  Must be Hermitian, ``h(-R) = h(R)^†``.
    positions
        Orbital positions in reduced (lattice) coordinates, ``(N, d)``; default all zero.
    symmetry
        Cartesian rotation/reflection matrices (d x d) leaving the energies and the Berry
        curvature invariant; converted to reduced-coordinate matrices (:attr:`symmetry`).
    name
        Label used in reprs and results.
    position_matrix
        Optional matrix elements ``<a,0|r|b,R>`` of the position operator (Cartesian, the
        lattice's length unit), ``(n_R, N, N, 3)`` on the same R as ``hoppings`` (a Wannier90
        ``_tb.dat`` position block); kept as :attr:`position_matrix` on :attr:`R`.
    position_operator
        ``"centres"`` (default): the tight-binding approximation, the position operator
        diagonal with the orbital ``positions``; ``"full"``: the whole ``position_matrix``
        enters the Berry curvature through :meth:`connection` (X. Wang, J. R. Yates, I. Souza
        and D. Vanderbilt, Phys. Rev. B 74, 195118 (2006), Eq. 27).

    Raises
    ------
    ValueError
        If the hoppings are not Hermitian (naming the offending R), shapes disagree, or a
        symmetry operation is not one of the lattice.
    """

    periodic = True

    def __init__(
        self,
        lattice: np.ndarray,
        hoppings: Mapping[tuple[int, ...], np.ndarray] | tuple[np.ndarray, np.ndarray],
        positions: np.ndarray | None = None,
        *,
        symmetry: Sequence[np.ndarray] = (),
        name: str = "",
        position_matrix: np.ndarray | None = None,
        position_operator: str = "centres",
    ) -> None:
        lattice = np.atleast_2d(np.asarray(lattice, dtype=float))
        d = lattice.shape[0]
        if lattice.shape != (d, d) or not 1 <= d <= 3:
            raise ValueError(f"lattice must be a (d, d) array with d = 1..3, got {lattice.shape}")
        if not np.isfinite(lattice).all() or abs(np.linalg.det(lattice)) < 1e-12:
            raise ValueError("lattice vectors are linearly dependent or not finite")
        if isinstance(hoppings, Mapping):
            if not hoppings:
                raise ValueError("no hoppings given")
            r = np.array([np.atleast_1d(key) for key in hoppings], dtype=float)
            h = np.array([np.atleast_2d(np.asarray(v, dtype=complex)) for v in hoppings.values()])
        else:
            r = np.atleast_2d(np.asarray(hoppings[0], dtype=float))
            h = np.asarray(hoppings[1], dtype=complex)
        if r.ndim != 2 or r.shape[1] != d:
            raise ValueError(f"lattice vectors R must have shape (n_R, {d}), got {r.shape}")
        if not np.allclose(r, np.round(r)):
            raise ValueError("hopping vectors R must be integer lattice vectors")
        if h.ndim != 3 or h.shape[0] != r.shape[0] or h.shape[1] != h.shape[2]:
            raise ValueError(f"hopping matrices must have shape (n_R, N, N), got {h.shape}")
        if not (np.isfinite(lattice).all() and np.isfinite(h).all() and np.isfinite(r).all()):
            raise ValueError("lattice vectors, hopping vectors and hoppings must be finite "
                             "numbers (no nan or inf)")
        r = np.round(r).astype(np.int64)
        # Merge repeated R.
        uniq, inverse = np.unique(r, axis=0, return_inverse=True)
        merged = np.zeros((len(uniq),) + h.shape[1:], dtype=complex)
        np.add.at(merged, inverse.reshape(-1), h)
        self.R, self.h_R = uniq, merged
        self.position_matrix: np.ndarray | None = None
        if position_matrix is not None:
            x = np.asarray(position_matrix, dtype=complex)
            if x.shape[:3] != h.shape or x.ndim != 4 or not np.isfinite(x).all():
                raise ValueError(f"position_matrix must be finite with shape {h.shape + (3,)}, "
                                 f"got {x.shape}")
            self.position_matrix = np.zeros((len(uniq),) + x.shape[1:], dtype=complex)
            np.add.at(self.position_matrix, inverse.reshape(-1), x)
        if position_operator not in ("centres", "full"):
            raise ValueError(f"position_operator must be 'centres' or 'full', got "
                             f"{position_operator!r}")
        if position_operator == "full" and self.position_matrix is None:
            raise ValueError("position_operator 'full' needs the position_matrix")
        self.position_operator = position_operator
        self.n_bands = h.shape[1]
        self.dim = d
        self.lattice = lattice
        self.name = name
        pos = np.zeros((self.n_bands, d)) if positions is None else np.asarray(positions, float)
        if pos.shape != (self.n_bands, d):
            raise ValueError(f"positions must have shape ({self.n_bands}, {d}), got {pos.shape}")
        if not np.isfinite(pos).all():
            raise ValueError("orbital positions must be finite numbers")
        self.positions = pos
        self._check_hermitian_hoppings()
        self._symmetry = _reduced_symmetry(lattice, symmetry)
        self._fft_cache: dict = {}

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_hopping_list(
        cls,
        lattice: np.ndarray,
        onsite: Sequence[float],
        hops: Sequence[tuple[complex, int, int, Sequence[int]]],
        positions: np.ndarray | None = None,
        **kwargs,
    ) -> TightBinding:
        """Build from on-site energies and hoppings ``(t, a, b, R)`` meaning ``<a,0|H|b,R> = t``.

        The Hermitian conjugate of every hop is added (the PythTB convention), so list each
        bond once.
        """
        lattice = np.atleast_2d(np.asarray(lattice, dtype=float))
        d, n = lattice.shape[0], len(onsite)
        table: dict[tuple[int, ...], np.ndarray] = {(0,) * d: np.diag(np.asarray(onsite, complex))}
        for t, a, b, rr in hops:
            key = tuple(int(x) for x in np.atleast_1d(rr))
            if len(key) != d:
                raise ValueError(f"hop vector {key} does not have {d} components")
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"orbital index out of range in hop {(t, a, b, key)}")
            minus = tuple(-x for x in key)
            table.setdefault(key, np.zeros((n, n), complex))
            table.setdefault(minus, np.zeros((n, n), complex))
            table[key][a, b] += t
            table[minus][b, a] += np.conj(t)
        return cls(lattice, table, positions, **kwargs)

    def _check_hermitian_hoppings(self) -> None:
        index = {tuple(rr): i for i, rr in enumerate(self.R)}
        scale = max(1.0, float(np.abs(self.h_R).max()))
        for i, rr in enumerate(self.R):
            j = index.get(tuple(-rr))
            partner = self.h_R[j] if j is not None else np.zeros_like(self.h_R[i])
            dev = np.abs(self.h_R[i] - partner.conj().T).max()
            if dev > HERMITIAN_RTOL * scale:
                raise ValueError(
                    "hoppings are not Hermitian: h(R) != h(-R)^dagger for "
                    f"R = {tuple(int(x) for x in rr)} "
                    f"(max deviation {dev:.3g})"
                )

    # ------------------------------------------------------------------ geometry of the cell
    @property
    def reciprocal(self) -> np.ndarray:
        """Reciprocal lattice vectors as rows, ``a_i . b_j = 2π δ_ij``."""
        return 2 * np.pi * np.linalg.inv(self.lattice).T

    @property
    def k_volume(self) -> float:
        """Volume of the Brillouin zone, ``(2π)^d / |det(lattice)|``."""
        return float(abs(np.linalg.det(self.reciprocal)))

    def k_cartesian(self, fractional: np.ndarray) -> np.ndarray:
        """``k = f @ B`` for reduced coordinates f."""
        return np.asarray(fractional, float) @ self.reciprocal

    def k_fractional(self, k: np.ndarray) -> np.ndarray:
        """Reduced coordinates of Cartesian wave vectors."""
        return np.asarray(k, float) @ np.linalg.inv(self.reciprocal)

    # ------------------------------------------------------------------ Bloch sums
    def _bond_vectors(self, periodic_gauge: bool) -> np.ndarray:
        """Cartesian ``R + τ_b - τ_a`` for every (R, a, b): shape ``(n_R, N, N, d)``."""
        rc = (self.R @ self.lattice)[:, None, None, :]
        if periodic_gauge:
            return np.broadcast_to(rc, (len(self.R), self.n_bands, self.n_bands, self.dim))
        tau = self.positions @ self.lattice
        return rc + tau[None, None, :, :] - tau[None, :, None, :]

    def hamiltonian(self, k: np.ndarray, *, periodic_gauge: bool = False) -> np.ndarray:
        """``H(k)`` by direct Bloch sum, shape ``(..., N, N)`` (see class docstring)."""
        k = self._check_k(k)
        lead = k.shape[:-1]
        kk = k.reshape(-1, self.dim)
        n = self.n_bands
        phase = np.exp(1j * (kk @ (self.R @ self.lattice).T))  # (M, n_R)
        h = (phase @ self.h_R.reshape(len(self.R), -1)).reshape(-1, n, n)
        if not periodic_gauge and np.any(self.positions):
            t = np.exp(1j * (kk @ (self.positions @ self.lattice).T))  # (M, N)
            h = np.conj(t)[:, :, None] * h * t[:, None, :]
        return h.reshape(*lead, n, n)

    def hamiltonian_and_velocity(
        self, k: np.ndarray, *, periodic_gauge: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(H(k), ∂H/∂k_i)`` by direct Bloch sums (analytic derivative)."""
        return self._bloch_sums(self.h_R, k, periodic_gauge)

    def _bloch_sums(self, table: np.ndarray, k: np.ndarray, periodic_gauge: bool = False
                    ) -> tuple[np.ndarray, np.ndarray]:
        """``T(k) = Σ_R t(R) e^{ik·(R + τ_b − τ_a)}`` and ``∂T/∂k_i`` for matrices ``t(R)``
        ``(n_R, N, N)`` on :attr:`R` (the Bloch sum of the hoppings, or of the position
        matrix for :meth:`connection`)."""
        k = self._check_k(k)
        lead = k.shape[:-1]
        kk = k.reshape(-1, self.dim)
        n, d = self.n_bands, self.dim
        rc = self.R @ self.lattice
        # one matrix product for T and its d derivatives: columns t_R, i R_x t_R, ...
        flat = table.reshape(len(self.R), -1)
        table = np.concatenate([flat] + [1j * rc[:, i, None] * flat for i in range(d)], axis=1)
        arg = kk @ rc.T
        phase = np.cos(arg) + 1j * np.sin(arg)  # (M, n_R)
        both = (phase @ table).reshape(-1, 1 + d, n * n)
        h, dh = both[:, 0], both[:, 1:]
        h = h.reshape(-1, n, n)
        dh = dh.reshape(-1, d, n, n)
        if not periodic_gauge and np.any(self.positions):
            tau = self.positions @ self.lattice
            t = np.exp(1j * (kk @ tau.T))
            gauge = np.conj(t)[:, :, None] * t[:, None, :]  # (M, N, N)
            dtau = tau[None, :, :] - tau[:, None, :]  # (N, N, d): tau_b - tau_a
            h = gauge * h
            dh = gauge[:, None] * dh + 1j * np.moveaxis(dtau, -1, 0)[None] * h[:, None]
        return h.reshape(*lead, n, n), dh.reshape(*lead, d, n, n)

    def connection(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Berry connection of the orbital basis and its derivatives, or ``None``.

        With ``position_operator = "full"``: ``A_i(k) = Σ_R x_i(R) e^{ik·(R + τ_b − τ_a)}``
        with ``x(R) = <a,0|r|b,R> − δ_R0 δ_ab τ_a`` (the centres are already in the Bloch
        phases of this gauge), shape ``(..., d, N, N)``, and ``∂_i A_j``, shape
        ``(..., d, d, N, N)`` (``[..., i, j]``).  ``None`` in the tight-binding approximation
        (``"centres"``), where the connection of the basis vanishes in this gauge.
        """
        if self.position_operator != "full":
            return None
        d = self.dim
        x = self.position_matrix[..., :d].copy()
        origin = np.nonzero(~self.R.any(axis=1))[0]
        if origin.size:
            idx = np.arange(self.n_bands)
            x[origin[0], idx, idx] -= self.positions @ self.lattice
        parts = [self._bloch_sums(x[..., j], k) for j in range(d)]
        a = np.stack([p[0] for p in parts], axis=-3)       # (..., d, N, N)
        da = np.stack([p[1] for p in parts], axis=-3)      # (..., d_i, d_j, N, N)
        return a, da

    def velocity(self, k: np.ndarray, *, periodic_gauge: bool = False) -> np.ndarray:
        """Analytic ``∂H/∂k_i``, shape ``(..., d, N, N)``."""
        return self.hamiltonian_and_velocity(k, periodic_gauge=periodic_gauge)[1]

    # ------------------------------------------------------------------ FFT on meshes
    #: Largest size (bytes) of the per-mesh FFT tables before falling back to direct sums.
    FFT_TABLE_BYTES = 256 * 2**20

    def _fft_tables(self, mesh: KMesh, velocity: bool, periodic_gauge: bool):
        """Partial Bloch sums over the trailing axes, done by FFT, for each distinct R_0.

        Returns ``(r0_values, tables)`` with ``tables`` of shape
        ``(1 + d, n_R0, N_2 ... N_d, N, N)``: H and its d Cartesian derivatives summed over
        ``R_1 ... R_{d-1}`` with the mesh phases, still to be summed over ``R_0``.
        """
        key = (mesh, velocity, periodic_gauge)
        if key in self._fft_cache:
            return self._fft_cache[key]
        n, d = self.n_bands, self.dim
        bonds = self._bond_vectors(periodic_gauge)  # (n_R, N, N, d) Cartesian
        weights = [np.ones(bonds.shape[:-1])]
        if velocity:
            weights += [1j * bonds[..., i] for i in range(d)]
        weights = np.stack(weights)  # (n_w, n_R, N, N)
        # Fractional part of the bond in reduced coordinates: R + dtau_red; the mesh phase
        # exp(2πi (n+s)/N . (R + dtau)) splits into an FFT over integer R and a per-axis
        # phase for the shift s and the intra-cell offsets dtau (applied per block).
        r0_values, r0_index = np.unique(self.R[:, 0], return_inverse=True)
        rest = mesh.shape[1:]
        n_w = weights.shape[0]
        shape = (n_w, len(r0_values), *rest, n, n)
        if np.prod(shape) * 16 > self.FFT_TABLE_BYTES:
            self._fft_cache[key] = None
            return None
        grid = np.zeros(shape, dtype=complex)
        shift = np.asarray(mesh.shift)
        phase_shift = np.exp(2j * np.pi * (self.R * shift / np.asarray(mesh.shape)).sum(axis=1))
        coeff = weights * self.h_R[None] * phase_shift[None, :, None, None]
        idx = tuple(np.mod(self.R[:, j], mesh.shape[j]) for j in range(1, d))
        for i in range(len(self.R)):
            grid[(slice(None), r0_index[i], *[ix[i] for ix in idx])] += coeff[:, i]
        if d > 1:
            axes = tuple(range(2, 2 + d - 1))
            grid = np.fft.ifftn(grid, axes=axes) * np.prod(rest)
        result = (r0_values, grid)
        if len(self._fft_cache) > 4:
            self._fft_cache.clear()
        self._fft_cache[key] = result
        return result

    def mesh_blocks(
        self,
        mesh: KMesh | Sequence[int],
        chunk_size: int = DEFAULT_CHUNK,
        *,
        velocity: bool = True,
        periodic_gauge: bool = False,
    ) -> Iterator[MeshBlock]:
        """H (and ∂H/∂k) on a regular mesh in slabs, with FFT Bloch sums.

        The sum over the trailing lattice components is done once per mesh by FFT
        (cost ``O(n_R0 N^2 M log M)``), the sum over the first component per slab by a
        small matrix product, and the intra-cell positions by per-axis phase factors.  The
        tables take ``16 (1 + d) n_R0 N^2 prod(shape[1:])`` bytes (above
        :attr:`FFT_TABLE_BYTES` the direct Bloch sum is used instead).
        """
        mesh = self.mesh(mesh)
        tables = self._fft_tables(mesh, velocity, periodic_gauge)
        if tables is None:
            yield from BlochHamiltonian.mesh_blocks(self, mesh, chunk_size, velocity=velocity)
            return
        r0_values, grid = tables
        n = self.n_bands
        n_w = grid.shape[0]
        rest = int(np.prod(mesh.shape[1:]))
        flat = grid.reshape(n_w, len(r0_values), rest * n * n)
        if periodic_gauge or not np.any(self.positions):
            dtau = None
        else:
            dtau = self.positions[None, :, :] - self.positions[:, None, :]  # (N, N, d) reduced
        row = rest
        for r0, r1 in mesh.slabs(chunk_size):
            p0 = np.exp(2j * np.pi * np.outer(np.arange(r0, r1) / mesh.shape[0], r0_values))
            blocks = np.einsum("mr,wrx->wmx", p0, flat).reshape(n_w, (r1 - r0) * rest, n, n)
            frac = mesh.fractional(r0 * row, r1 * row)
            if dtau is not None:
                # exp(2πi f . (tau_b - tau_a)) on every point (reduced coordinates).
                gauge = np.exp(2j * np.pi * np.einsum("md,abd->mab", frac, dtau))
                blocks = blocks * gauge[None]
            k = self.k_cartesian(frac)
            h = blocks[0]
            dh = np.moveaxis(blocks[1:], 0, 1) if velocity else None
            yield MeshBlock(k=k, weight=np.full(len(k), mesh.weight * self.k_volume), h=h, dh=dh)


# --------------------------------------------------------------------------- continuum
class ContinuumModel(BlochHamiltonian):
    """A k·p (continuum) model on the box ``[-k_max, k_max]^d``.

    Parameters
    ----------
    hamiltonian
        ``H(k)``: Cartesian ``(..., d)`` -> ``(..., N, N)``.
    n_bands, dim
        N and d.
    k_max
        Half-width of the k-box (inverse lattice constants, or whatever unit k has).
    velocity
        Optional analytic ``∂H/∂k``: ``(..., d)`` -> ``(..., d, N, N)``; finite differences
        otherwise.
    name
        Label.

    Notes
    -----
    Integrals over the box use the midpoint rule (:func:`~boltzphlow.grids.kmesh.as_kmesh`
    gives a Monkhorst-Pack mesh for continuum models), so they converge as ``O(h^2)`` for
    smooth integrands; the box truncation is a model error, not a mesh error.
    """

    periodic = False

    def __init__(
        self,
        hamiltonian: Callable[[np.ndarray], np.ndarray],
        n_bands: int,
        dim: int,
        k_max: float,
        *,
        velocity: Callable[[np.ndarray], np.ndarray] | None = None,
        symmetry: Sequence[np.ndarray] = (),
        name: str = "",
    ) -> None:
        if not 1 <= dim <= 3:
            raise ValueError(f"dim must be 1, 2 or 3, got {dim}")
        if not k_max > 0:
            raise ValueError(f"k_max must be positive, got {k_max}")
        self._h = hamiltonian
        self._v = velocity
        self.n_bands, self.dim, self.k_max, self.name = int(n_bands), int(dim), float(k_max), name
        self._symmetry = tuple(np.round(np.asarray(s)).astype(np.int64) for s in symmetry)

    @property
    def k_volume(self) -> float:
        """Volume of the box, ``(2 k_max)^d``."""
        return (2 * self.k_max) ** self.dim

    def k_cartesian(self, fractional: np.ndarray) -> np.ndarray:
        """``k = 2 k_max * wrap(f)`` with ``wrap`` onto ``[-1/2, 1/2)``."""
        f = np.asarray(fractional, float)
        return 2 * self.k_max * (np.mod(f + 0.5, 1.0) - 0.5)

    def hamiltonian(self, k: np.ndarray) -> np.ndarray:
        """``H(k)``, shape ``(..., N, N)``."""
        k = self._check_k(k)
        return np.asarray(self._h(k))

    def velocity(self, k: np.ndarray) -> np.ndarray:
        """``∂H/∂k_i``, analytic if given, else finite differences."""
        k = self._check_k(k)
        if self._v is None:
            return super().velocity(k)
        return np.asarray(self._v(k))
