r"""SU(N) quantum geometry: Bloch vectors, interband curvature, ε̄, spectral weights.

Equation numbers refer to T. Valet and R. Raimondi, "Semiclassical kinetic theory for
systems with non-trivial quantum geometry and the expectation value of physical quantities".

Generalised Gell-Mann matrices ``γ_a`` (a = 1 ... N²-1, ``Tr γ_a γ_b = 2 δ_ab``,
``[γ_a, γ_b] = 2i f_abc γ_c``) expand the eigenprojectors as (Eq. 4)

    P_n = 1/N + ½ b_n · γ,        b_n^a = Tr(P_n γ_a),

and the cross product on R^{N²-1} is ``(x × y)_c = f_abc x_a y_b``.  The interband Berry
curvature tensor (momentum sector of Eq. 13) is

    Ω^{n,ij}_m = -½ b_n · (∂_i b_m × ∂_j b_m) = i Tr(P_n [∂_i P_m, ∂_j P_m]),

so that ``Ω^n_n`` is the Berry curvature of band n and, for n ≠ m,
``Ω^n_m = -2 Im(v^i_nm v^j_mn) / (ε_n - ε_m)^2`` (antisymmetric under n ↔ m).

Sum rules (what the definition implies; see docs/geometry.md):

* ``Σ_n Ω^n_m = 0`` for every m (because ``Σ_n P_n = 1``), i.e.
  ``Σ_{n≠m} Ω^n_m = -Ω^m_m``: the rule printed in the paper as ``Σ_{m≠n} Ω^n_m = -Ω^n_n``
  holds with the sum over the *upper* index.  Summed over the lower index one gets
  ``Σ_{m≠n} Ω^n_m = +Ω^n_n``, consistent with the paper's two-band statement
  ``Ω^σ_{-σ} = Ω^σ_σ``.
* ``Σ_n Ω^n_n = 0``.

Orbital-moment energy (Eq. 12, uniform B): ``ε̄^n = ε^n + e B · m̃^n`` with the axial
vector ``m̃^n = ½ Σ_{m≠n} (ε^n - ε^m) Ω^n_m`` (Sundaram-Niu: ``ε̄ = ε - m·B`` with the orbital
moment ``m = -e m̃``).  Spectral weights (Eqs. 14-15) with ``Ω^n_m(B) = e B·Ω^n_m``: a
quasiparticle of band n has weight ``Z_nn = 1 - ½Ω^n_n(B)`` on eigenvector n and
``Z_nm = ½ Ω^m_n(B)`` on eigenvector m ≠ n; the total ``Σ_m Z_nm = 1 - Ω^n_n(B)`` is Eq. 15
and the prefactor of the density Eq. 17.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from boltzphlow.bands.hamiltonian import Hamiltonian, check_hermitian
from boltzphlow.geometry.berry import DEGENERACY_TOL, _components

__all__ = [
    "bloch_vectors",
    "cross_su_n",
    "gell_mann_basis",
    "interband_berry_curvature",
    "orbital_moment",
    "orbital_moment_energy",
    "spectral_weights",
    "structure_constants",
]


@lru_cache(maxsize=16)
def _gell_mann(n: int) -> np.ndarray:
    mats = []
    for k in range(1, n):
        for j in range(k):
            s = np.zeros((n, n), dtype=complex)
            s[j, k] = s[k, j] = 1.0
            a = np.zeros((n, n), dtype=complex)
            a[j, k], a[k, j] = -1j, 1j
            mats += [s, a]
        diag = np.zeros((n, n), dtype=complex)
        diag[np.arange(k), np.arange(k)] = 1.0
        diag[k, k] = -k
        mats.append(np.sqrt(2.0 / (k * (k + 1))) * diag)
    out = np.array(mats)
    out.setflags(write=False)
    return out


def gell_mann_basis(n: int) -> np.ndarray:
    """Generalised Gell-Mann matrices of su(N), shape ``(N²-1, N, N)``.

    Ordered as the usual Gell-Mann matrices (Pauli matrices for N = 2, λ_1 ... λ_8 for
    N = 3): for each column k = 1 ... N-1 the symmetric and antisymmetric off-diagonal pairs
    (j, k), j < k, then the diagonal matrix ``√(2/(k(k+1))) diag(1, ..., 1, -k, 0, ...)``
    (Bertlmann and Krammer, J. Phys. A 41, 235303 (2008)).
    """
    if int(n) < 2:
        raise ValueError(f"su(N) needs N >= 2, got {n}")
    return _gell_mann(int(n))


@lru_cache(maxsize=16)
def _structure(n: int) -> np.ndarray:
    g = _gell_mann(n)
    comm = np.einsum("aij,bjk->abik", g, g) - np.einsum("bij,ajk->abik", g, g)
    f = np.einsum("abij,cji->abc", comm, g) / 4j
    out = np.real(f)
    out[np.abs(out) < 1e-14] = 0.0
    out.setflags(write=False)
    return out


def structure_constants(n: int) -> np.ndarray:
    """Totally antisymmetric ``f_abc`` with ``[γ_a, γ_b] = 2i f_abc γ_c``, shape ``(N²-1,)*3``."""
    gell_mann_basis(n)
    return _structure(int(n))


def cross_su_n(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vector product on R^{N²-1}: ``(x × y)_c = f_abc x_a y_b`` (last axis of x and y)."""
    a = x.shape[-1]
    n = int(round(np.sqrt(a + 1)))
    if n * n - 1 != a:
        raise ValueError(f"vectors of length {a} are not in R^(N^2-1)")
    return np.einsum("abc,...a,...b->...c", _structure(n), x, y)


def _eigen(h: Hamiltonian, k: np.ndarray):
    k = np.asarray(k, dtype=float)
    lead = k.shape[:-1]
    kk = k.reshape(-1, h.dim)
    hk = h.hamiltonian(kk)
    check_hermitian(hk)
    e, u = np.linalg.eigh(hk)
    dh = h.velocity(kk)
    v = np.conj(np.swapaxes(u, -1, -2))[:, None] @ dh @ u[:, None]
    return lead, e, u, v


def bloch_vectors(h: Hamiltonian, k: np.ndarray) -> np.ndarray:
    """Generalised Bloch vectors ``b_n^a = Tr(P_n γ_a) = <n|γ_a|n>``, shape ``(..., N, N²-1)``."""
    k = np.asarray(k, dtype=float)
    lead = k.shape[:-1]
    hk = h.hamiltonian(k.reshape(-1, h.dim))
    check_hermitian(hk)
    _, u = np.linalg.eigh(hk)
    g = gell_mann_basis(h.n_bands)
    b = np.real(np.einsum("mjn,ajl,mln->mna", np.conj(u), g, u))
    return b.reshape(*lead, h.n_bands, -1)


def interband_tensor(e: np.ndarray, v: np.ndarray, tol: float) -> np.ndarray:
    """The interband Berry tensor Ω^n_m,ij from energies and velocity matrices.

    Parameters
    ----------
    e
        Band energies ``(M, N)`` at ``M`` k-points.
    v
        Velocity matrices ``(M, d, N, N)`` in the eigenbasis.
    tol
        Energy differences at or below ``tol`` count as degenerate (no interband term).

    Returns
    -------
    numpy.ndarray
        ``(M, N, N, d, d)``: ``−2 Im(v^i_nm v^j_mn)/(ε_n − ε_m)²`` off the band diagonal, and
        on it the Berry curvature of band ``n`` (the sum over ``m``).
    """
    gap = e[:, :, None] - e[:, None, :]
    far = np.abs(gap) > tol
    inv2 = np.where(far, 1.0 / np.where(far, gap, 1.0) ** 2, 0.0)
    # X^{ij}_{nm} = v^i_nm v^j_mn
    x = np.einsum("xinm,xjmn->xnmij", v, v)
    off = -2.0 * x.imag * inv2[..., None, None]
    n = e.shape[1]
    diag = off.sum(axis=2)
    out = off.copy()
    out[:, np.arange(n), np.arange(n)] = diag
    return out


def _interband_bloch(e: np.ndarray, u: np.ndarray, v: np.ndarray, tol: float) -> np.ndarray:
    """Ω^n_m,ij literally from Eq. 13: ``-½ b_n · (∂_i b_m × ∂_j b_m)`` with analytic ∂b."""
    n = e.shape[1]
    g = gell_mann_basis(n)
    f = _structure(n)
    # G_a = U^† γ_a U in the eigenbasis: (M, A, N, N)
    gmat = np.einsum("mjn,ajl,mlp->manp", np.conj(u), g, u)
    b = np.real(np.diagonal(gmat, axis1=-2, axis2=-1)).swapaxes(1, 2)  # (M, N, A)
    gap = e[:, None, :] - e[:, :, None]  # [l, m] -> e_m - e_l
    far = np.abs(gap) > tol
    inv = np.where(far, 1.0 / np.where(far, gap, 1.0), 0.0)  # 1/(e_m - e_l), (M, N_l, N_m)
    # ∂_i b_m^a = 2 Re Σ_{l≠m} v^i_lm G_a[m, l] / (e_m - e_l)
    db = 2.0 * np.real(np.einsum("xilm,xlm,xaml->xima", v, inv, gmat))
    # db: (M, d, N_m, A); cross product over su(N)
    cross = np.einsum("abc,xima,xjmb->xmijc", f, db, db)
    return -0.5 * np.einsum("xnc,xmijc->xnmij", b, cross)


def interband_berry_curvature(
    h: Hamiltonian,
    k: np.ndarray,
    *,
    method: str = "kubo",
    degeneracy_tol: float = DEGENERACY_TOL,
) -> np.ndarray:
    """Interband Berry curvature tensor ``Ω^{n,ij}_m`` (Valet-Raimondi Eq. 13, momentum sector).

    Parameters
    ----------
    h
        Model (any N ≥ 2, d ≥ 2).
    k
        Cartesian wave vectors ``(..., d)``.
    method
        ``"kubo"``: ``-2 Im(v^i_nm v^j_mn)/(ε_n - ε_m)^2`` off the diagonal and their sum on
        it; ``"bloch"``: Eq. 13 literally, with Bloch vectors in the Gell-Mann basis, their
        analytic derivatives and the su(N) cross product (slower, ``O(N^6)`` per k).
    degeneracy_tol
        Pairs of bands closer than this are left out (their terms set to zero).

    Returns
    -------
    numpy.ndarray
        ``(..., N, N, d, d)`` indexed ``[..., n, m, i, j]`` (upper index n first).
    """
    lead, e, u, v = _eigen(h, k)
    if h.dim < 2:
        raise ValueError("the interband Berry curvature needs d >= 2")
    if method == "kubo":
        out = interband_tensor(e, v, degeneracy_tol)
    elif method == "bloch":
        out = _interband_bloch(e, u, v, degeneracy_tol)
    else:
        raise ValueError(f"method must be 'kubo' or 'bloch', got {method!r}")
    return out.reshape(*lead, *out.shape[1:])


def axial_components(tensor: np.ndarray, dim: int) -> np.ndarray:
    """Last two (antisymmetric) axes -> components: xy (2D) or (yz, zx, xy) (3D)."""
    comps = [tensor[..., i, j] for i, j in _components(dim)]
    return comps[0] if dim == 2 else np.stack(comps, axis=-1)


def orbital_moment(
    h: Hamiltonian, k: np.ndarray, *, charge: float = 1.0, degeneracy_tol: float = DEGENERACY_TOL
) -> np.ndarray:
    """Orbital magnetic moment ``m^n = -e ½ Σ_{m≠n} (ε^n - ε^m) Ω^n_m`` (Valet-Raimondi Eq. 12).

    ``ε̄^n = ε^n - m^n · B`` reproduces Eq. 12 for a uniform field.  Returns ``(..., N)`` (2D,
    the z component) or ``(..., N, 3)`` (3D).  Units: e ħ / (energy-unit) ... i.e. e × energy
    × length² with ħ = 1.
    """
    lead, e, _, v = _eigen(h, k)
    out = -charge * _gap_weighted_curvature(e, v, h.dim, degeneracy_tol)
    return out.reshape(*lead, *out.shape[1:])


def _gap_weighted_curvature(e: np.ndarray, v: np.ndarray, dim: int,
                            degeneracy_tol: float) -> np.ndarray:
    """``½ Σ_{m≠n} (ε^n − ε^m) Ω^n_m`` as an axial vector (Eq. 12; the diagonal has no gap)."""
    om = interband_tensor(e, v, degeneracy_tol)
    gap = e[:, :, None] - e[:, None, :]
    return axial_components(0.5 * (gap[..., None, None] * om).sum(axis=2), dim)


def orbital_moment_energy(
    h: Hamiltonian,
    k: np.ndarray,
    magnetic_field: float | np.ndarray,
    *,
    charge: float = 1.0,
    degeneracy_tol: float = DEGENERACY_TOL,
) -> np.ndarray:
    """Berry-curvature-modified band energies ``ε̄^n`` (Valet-Raimondi Eq. 12), uniform field.

    ``ε̄^n = ε^n + (ħ/2) Σ_{m≠n} (Δ^n - Δ^m) Ω^n_m(B)`` with ``Ω^n_m(B) = e B·Ω^n_m``.
    ``magnetic_field`` is ``B_z`` (2D) or a 3-vector (3D); ``charge`` is the carrier charge
    e (the paper's electron has e < 0).  Returns ``(..., N)``.
    """
    lead, e, _, v = _eigen(h, k)
    mt = _gap_weighted_curvature(e, v, h.dim, degeneracy_tol)
    b = np.asarray(magnetic_field, dtype=float)
    shift = mt * b if h.dim == 2 else mt @ b
    return (e + charge * shift).reshape(*lead, h.n_bands)


def spectral_weights(
    h: Hamiltonian,
    k: np.ndarray,
    magnetic_field: float | np.ndarray,
    *,
    charge: float = 1.0,
    degeneracy_tol: float = DEGENERACY_TOL,
) -> np.ndarray:
    """Berry-curvature spectral weights of Valet and Raimondi, Eqs. 14-15, in a uniform field.

    Returns ``Z`` of shape ``(..., N, N)``: ``Z[..., n, m]`` is the weight of the band-n
    quasiparticle (at energy ``ε̄^n``) on eigenvector m:
    ``Z_nn = 1 - ½ Ω^n_n(B)``, ``Z_nm = ½ Ω^m_n(B)`` (m ≠ n), ``Ω^n_m(B) = e B·Ω^n_m``.
    Row sums give ``Z_tot^n = 1 - Ω^n_n(B)`` (Eq. 15, the prefactor of Eq. 17) and
    ``Σ_n Z_tot^n = N``.  See the module docstring for the index placement.
    """
    lead, e, _, v = _eigen(h, k)
    om = axial_components(interband_tensor(e, v, degeneracy_tol), h.dim)  # (M, N, N[, 3])
    b = np.asarray(magnetic_field, dtype=float)
    omb = charge * (om * b if h.dim == 2 else om @ b)  # Ω^n_m(B), (M, N, N)
    n = h.n_bands
    z = 0.5 * np.swapaxes(omb, -1, -2)  # Z_nm = ½ Ω^m_n(B)
    z[:, np.arange(n), np.arange(n)] = 1.0 - 0.5 * omb[:, np.arange(n), np.arange(n)]
    return z.reshape(*lead, n, n)
