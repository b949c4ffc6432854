r"""Densities: B-corrected equilibrium density (Eq. 17), charge and spin densities of a given
distribution by the Valet-Raimondi expressions (Eqs. 25, 26, 28) and by the wave-packet
ones (Eqs. 24, 27) of T. Valet and R. Raimondi, "Semiclassical kinetic theory for systems with
non-trivial quantum geometry and the expectation value of physical quantities".

Two-band notation of the paper: band σ = -1 (↓, index 0, lower) and σ = +1 (↑, index 1, upper);
``u = d/|d|`` for ``H = d_0 + d·σ``, ``Δ = |d|``, ``ε^0 = d_0``, and the scalar
``Ω ≡ Ω^↑_↑(B) = e B·Ω_↑`` (upper-band curvature contracted with the field, the mixed-sector
contraction of Eq. 13 for a uniform B).  Densities are per unit volume (area in 2D):
``∫ d^dk / (2π)^d``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.geometry.berry import DEGENERACY_TOL
from boltzphlow.grids.kmesh import DEFAULT_CHUNK, KMesh
from boltzphlow.kspace import FermiSum, KStates, band_chunks

__all__ = ["charge_density", "equilibrium_density", "spin_density"]

Distribution = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _field(h: Hamiltonian, magnetic_field: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """Field as components matching the curvature components (B_z in 2D, B in 3D)."""
    b = np.atleast_1d(np.asarray(magnetic_field, dtype=float))
    want = 1 if h.dim == 2 else 3
    if h.dim not in (2, 3) or b.shape != (want,):
        raise ValueError(
            f"magnetic_field must be B_z (2D) or a 3-vector (3D); got {magnetic_field!r} "
            f"for a {h.dim}D model"
        )
    return b


def equilibrium_density(
    h: Hamiltonian,
    mu: float | Sequence[float] | np.ndarray = 0.0,
    T: float = 0.0,
    magnetic_field: float | Sequence[float] | np.ndarray = 0.0,
    mesh: KMesh | Sequence[int] = (200, 200),
    *,
    charge: float = 1.0,
    chunk_size: int = DEFAULT_CHUNK,
    degeneracy_tol: float = DEGENERACY_TOL,
) -> float | np.ndarray:
    r"""Equilibrium electron density in a uniform magnetic field (Valet and Raimondi, Eq. 17).

    .. math::
        n_e = \sum_n\int\frac{d^dk}{(2\pi)^d}\,(1 - e\hbar\,\mathbf B\cdot\Omega^n_n)\,
              n_F(\bar\varepsilon^n),\qquad
        \bar\varepsilon^n = \varepsilon^n + e\,\mathbf B\cdot\tilde{\mathbf m}^n\ \text{(Eq. 12)}

    exact to first order in B, with ``m̃^n = -m^n`` the orbital moment of
    :class:`~boltzphlow.kspace.KStates` (every state of the mesh, built chunk by chunk;
    degenerate bands averaged as in :mod:`boltzphlow.geometry.berry`).  ``charge`` is the
    carrier charge e (seed: e < 0 for electrons).  In a gap, ``∂n/∂B_z = σ_xy / (2π e)``
    with σ_xy of Eq. 35 in e²/h: the Středa formula.  Returns the density per unit area
    (2D) or volume (3D).
    """
    b = _field(h, magnetic_field)
    mu_arr = np.asarray(mu, dtype=float)
    acc = FermiSum(mu_arr.reshape(-1), T)
    # every state: the orbital-moment shift moves energies across any window on ε
    for states in KStates.chunks(h, mesh, chunk_size=chunk_size, orbital_moment=True,
                                 degeneracy_tol=degeneracy_tol):
        ebar = states.energy - charge * (states.orbital_moment @ b)
        weight = (1.0 - charge * (states.berry_curvature @ b)) * states.weight
        acc.add(ebar, weight / (2 * np.pi) ** h.dim)
    out = acc.result()[:, 0]
    return float(out[0]) if mu_arr.ndim == 0 else out.reshape(mu_arr.shape)


def _two_band_parts(hk: np.ndarray, dhk: np.ndarray):
    """``ε^0, Δ, u, ∂ε^0, ∂u`` of ``H = d_0 + d·σ`` (shapes (M,), (M,), (M,3), (M,d), (M,d,3))."""
    d0 = 0.5 * (hk[:, 0, 0] + hk[:, 1, 1]).real
    d = np.stack([hk[:, 0, 1].real, -hk[:, 0, 1].imag, 0.5 * (hk[:, 0, 0] - hk[:, 1, 1]).real], -1)
    dd0 = 0.5 * (dhk[:, :, 0, 0] + dhk[:, :, 1, 1]).real
    dd = np.stack(
        [
            dhk[:, :, 0, 1].real,
            -dhk[:, :, 0, 1].imag,
            0.5 * (dhk[:, :, 0, 0] - dhk[:, :, 1, 1]).real,
        ],
        -1,
    )
    delta = np.linalg.norm(d, axis=-1)
    if np.any(delta < 1e-12):
        raise ValueError("the two bands touch on the mesh: the densities of Eqs. 25-28 need a gap")
    u = d / delta[:, None]
    du = (dd - u[:, None, :] * (dd * u[:, None, :]).sum(-1, keepdims=True)) / delta[:, None, None]
    return d0, delta, u, dd0, du


def _occupations(distribution: Distribution, k: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``distribution(k, e)`` checked to have the shape ``(M, N)`` of the energies."""
    f = np.asarray(distribution(k, e), dtype=float)
    if f.shape != e.shape:
        raise ValueError(f"distribution(k, energies) must return shape {e.shape}, got {f.shape}")
    return f


def _energies(h: Hamiltonian, k: np.ndarray) -> np.ndarray:
    """Band energies at Cartesian ``k``, ``(M, N)``."""
    return np.linalg.eigvalsh(h.hamiltonian(k))


def _gradient(h: Hamiltonian, distribution: Distribution, k: np.ndarray, step: float) -> np.ndarray:
    """``∂(f↑ + f↓)/∂k`` by central differences, ``(M, d)`` (error O(step²))."""
    out = []
    for i in range(h.dim):
        dk = np.zeros(h.dim)
        dk[i] = step
        plus = _occupations(distribution, k + dk, _energies(h, k + dk)).sum(-1)
        minus = _occupations(distribution, k - dk, _energies(h, k - dk)).sum(-1)
        out.append((plus - minus) / (2 * step))
    return np.stack(out, -1)


def _b_cross(b3: np.ndarray, grad_a: np.ndarray, grad_u: np.ndarray) -> np.ndarray:
    """``B·(∇A × ∇u^a)`` for every component a: ``(M, 3)``; grads padded to 3D."""
    levi = np.zeros((3, 3, 3))
    levi[0, 1, 2] = levi[1, 2, 0] = levi[2, 0, 1] = 1
    levi[0, 2, 1] = levi[2, 1, 0] = levi[1, 0, 2] = -1
    return np.einsum("ijk,k,mi,mja->ma", levi, b3, grad_a, grad_u)


def _pad3(x: np.ndarray, axis: int) -> np.ndarray:
    width = [(0, 0)] * x.ndim
    width[axis] = (0, 3 - x.shape[axis])
    return np.pad(x, width)


def charge_density(
    h: Hamiltonian,
    distribution: Distribution,
    mesh: KMesh | Sequence[int],
    magnetic_field: float | Sequence[float] | np.ndarray = 0.0,
    *,
    charge: float = 1.0,
    method: str = "vr",
    chunk_size: int = DEFAULT_CHUNK,
) -> float:
    r"""Dimensionless charge density of a distribution ``f̄^σ(k)`` (Eqs. 25, 28a / 24, 27a).

    ``method="vr"``: ``Σ_σ ∫ ρ̄^σ`` with Eq. 25,
    ``ρ̄^σ = (1 - σΩ/2) f̄^σ + σ(Ω/2) f̄^{-σ}``; ``method="wave-packet"``: Eq. 24,
    ``ρ̄^σ_WP = (1 - σΩ) f̄^σ``.  Both give Eq. 28a = 27a,
    ``Σ_σ ∫ (1 - σΩ) f̄^σ``, ``Ω = e B·Ω_↑``.

    ``distribution(k, energies) -> (M, 2)`` gives ``[f̄^↓, f̄^↑]`` at Cartesian k.
    """
    if h.n_bands != 2:
        raise ValueError("the densities of Eqs. 25-28 are for two-band models")
    if method not in ("vr", "wave-packet"):
        raise ValueError(f"method must be 'vr' or 'wave-packet', got {method!r}")
    b = _field(h, magnetic_field)
    total = 0.0
    for blk in band_chunks(h, mesh, chunk_size=chunk_size):
        omega = charge * (blk.berry_curvature[:, 1] @ b)  # Ω = e B·Ω_↑
        f = _occupations(distribution, blk.k, blk.energy)
        f_dn, f_up = f[:, 0], f[:, 1]
        if method == "vr":
            rho_up = (1 - omega / 2) * f_up + (omega / 2) * f_dn
            rho_dn = (1 + omega / 2) * f_dn - (omega / 2) * f_up
        else:
            rho_up, rho_dn = (1 - omega) * f_up, (1 + omega) * f_dn
        total += float(((rho_up + rho_dn) * blk.weight).sum())
    return total / (2 * np.pi) ** h.dim


def spin_density(
    h: Hamiltonian,
    distribution: Distribution,
    mesh: KMesh | Sequence[int],
    electric_field: Sequence[float] | np.ndarray | None = None,
    magnetic_field: float | Sequence[float] | np.ndarray = 0.0,
    *,
    charge: float = 1.0,
    method: str = "vr",
    chunk_size: int = DEFAULT_CHUNK,
    step: float = 1e-4,
) -> np.ndarray:
    r"""(Pseudo)spin density ``<ρ^s> = Tr(ρ σ)`` of a distribution (Eqs. 26, 28b / 27b).

    ``method="vr"`` (Eq. 28b): ``∫ (f̄^↑ - f̄^↓) u + ∫ ρ̄^⊥`` with the transverse part Eq. 26

    .. math::
        \bar\rho^\perp = -\frac{\hbar}{2}\,\mathbf u\times\Big[\{\bar\lambda^0,\mathbf u\}
            \frac{\bar f^\uparrow - \bar f^\downarrow}{\Delta}
            + \{\bar f^\uparrow + \bar f^\downarrow, \mathbf u\}\Big],

    where, for uniform fields, the gauge-invariant Poisson bracket of ε-independent functions
    is ``{A, B} = e B·(∂_k A × ∂_k B)`` and ``{λ̄^0, u} = e (E·∂_k) u - e B·(∂_k ε^0 × ∂_k u)``
    (``∂_ε λ̄^0 = 1``).  ``method="wave-packet"`` (Eq. 27b):
    ``∫ (f̄^↑ - f̄^↓) u - ∫ Ω (f̄^↑ + f̄^↓) u``.

    The gradient of ``f̄^↑ + f̄^↓`` is taken by central differences of ``distribution`` with
    ``step``.  Returns the 3-vector ``∫ d^dk/(2π)^d (...)``.
    """
    if h.n_bands != 2:
        raise ValueError("the densities of Eqs. 25-28 are for two-band models")
    if method not in ("vr", "wave-packet"):
        raise ValueError(f"method must be 'vr' or 'wave-packet', got {method!r}")
    b = _field(h, magnetic_field)
    b3 = np.array([0.0, 0.0, b[0]]) if h.dim == 2 else b
    ef = np.zeros(h.dim) if electric_field is None else np.asarray(electric_field, float)
    if ef.shape != (h.dim,):
        raise ValueError(f"electric_field must have {h.dim} components, got {ef.shape}")
    total = np.zeros(3)
    for blk in band_chunks(h, mesh, chunk_size=chunk_size, curvature=method == "wave-packet"):
        _, delta, u, dd0, du = _two_band_parts(blk.hamiltonian, blk.dh_dk)
        f = _occupations(distribution, blk.k, blk.energy)
        f_dn, f_up = f[:, 0], f[:, 1]
        dens = (f_up - f_dn)[:, None] * u
        if method == "wave-packet":
            omega = charge * (blk.berry_curvature[:, 1] @ b)
            dens = dens - (omega * (f_up + f_dn))[:, None] * u
        else:
            grad_f = _gradient(h, distribution, blk.k, step)
            e_term = charge * np.einsum("i,mia->ma", ef, du)
            g0, gu, gf = _pad3(dd0, 1), _pad3(du, 1), _pad3(grad_f, 1)
            lam0_u = e_term - charge * _b_cross(b3, g0, gu)
            bracket_f = charge * _b_cross(b3, gf, gu)
            inner = lam0_u * ((f_up - f_dn) / delta)[:, None] + bracket_f
            dens = dens - 0.5 * np.cross(u, inner)
        total += (dens * blk.weight[:, None]).sum(axis=0)
    return total / (2 * np.pi) ** h.dim
