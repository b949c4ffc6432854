"""Eigensystems, velocity matrices, Kubo Berry curvature, link-variable Chern numbers, fluxes.

Conventions (ħ = e = 1): the Berry curvature of band n is

    Ω^n_ij = i (<∂_i n|∂_j n> - <∂_j n|∂_i n>) = -2 Im Σ_{m≠n} v^i_nm v^j_mn / (ε_n - ε_m)^2,

with ``v^i = U^† ∂H/∂k_i U`` the velocity matrices in the eigenbasis (Kubo / sum-over-states
form).  It equals ``Ω^n_n`` of Eq. 13 of T. Valet and R. Raimondi, "Semiclassical kinetic theory for
systems with non-trivial quantum geometry and the expectation value of physical quantities"
(the upper band of the massive Dirac model
carries Eq. 38).  In 3D the axial vector ``Ω_k = ½ ε_ijk Ω_ij`` is returned; in 2D the
component ``Ω_xy``.  The Chern number of a band is ``C = (1/2π) ∫_BZ Ω_xy d²k``; an insulator
with filled bands of total Chern number C has ``σ_xy = -C e²/h`` (Eq. 35).

Degeneracies: pairs of bands closer than ``degeneracy_tol`` are left out of the sums and
every quantity is averaged over each degenerate group, so results stay finite and gauge
invariant (the group's total is the non-Abelian trace; a single band of a degenerate group
has no gauge-invariant curvature of its own).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from boltzphlow.bands.hamiltonian import Hamiltonian, check_hermitian
from boltzphlow.grids.kmesh import KMesh

__all__ = [
    "band_geometry",
    "basis_connection",
    "berry_curvature",
    "berry_curvature_tensor",
    "berry_flux",
    "chern_number",
    "eigensystem",
    "position_curvature",
    "velocity_matrices",
]

#: Default absolute energy tolerance below which two bands count as degenerate.
DEGENERACY_TOL = 1e-8


def _components(dim: int) -> list[tuple[int, int]]:
    """Index pairs (i, j) of the independent curvature components: xy (2D), (yz, zx, xy) (3D)."""
    if dim == 2:
        return [(0, 1)]
    if dim == 3:
        return [(1, 2), (2, 0), (0, 1)]
    raise ValueError(f"the Berry curvature needs a 2D or 3D model, got a {dim}D one")


def check_bands(bands: int | Sequence[int] | None, n_bands: int) -> np.ndarray:
    """Band indices as an int array; ``ValueError`` if one is out of range."""
    if bands is None:
        return np.arange(n_bands)
    arr = np.atleast_1d(np.asarray(bands))
    if arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"band indices must be a non-empty list of integers, got {bands!r}")
    if np.any(arr < 0) or np.any(arr >= n_bands):
        raise ValueError(f"band index out of range: {bands!r} (the model has {n_bands} bands)")
    return arr


def eigensystem(h: Hamiltonian, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Band energies (ascending, ``(..., N)``) and eigenvectors (columns, ``(..., N, N)``).

    Raises
    ------
    ValueError
        If ``H(k)`` is not Hermitian or ``k`` has the wrong dimension.
    """
    hk = h.hamiltonian(k)
    check_hermitian(hk)
    return np.linalg.eigh(hk)


def velocity_matrices(h: Hamiltonian, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energies, eigenvectors and velocity matrices ``v^i_nm = <n|∂H/∂k_i|m>`` (..., d, N, N)."""
    hk = h.hamiltonian(k)
    check_hermitian(hk)
    e, u = np.linalg.eigh(hk)
    dh = h.velocity(k)
    v = np.conj(np.swapaxes(u, -1, -2))[..., None, :, :] @ dh @ u[..., None, :, :]
    return e, u, v


def degenerate_average(values: np.ndarray, energies: np.ndarray, tol: float) -> np.ndarray:
    """Average ``values`` (``(M, N, ...)``) over groups of degenerate bands."""
    same = np.abs(energies[:, :, None] - energies[:, None, :]) <= tol  # (M, N, N)
    if not np.any(same.sum(axis=-1) > 1):
        return values
    flat = values.reshape(values.shape[0], values.shape[1], -1)
    avg = np.einsum("mnl,mlc->mnc", same.astype(float), flat) / same.sum(-1)[..., None]
    return avg.reshape(values.shape)


def _two_band(hk: np.ndarray, dhk: np.ndarray, tol: float):
    """Closed forms for ``H = d_0 + d·σ``: energies, curvature, band velocities."""
    d0 = 0.5 * (hk[:, 0, 0].real + hk[:, 1, 1].real)
    dvec = np.stack([hk[:, 0, 1].real, -hk[:, 0, 1].imag, 0.5 * (hk[:, 0, 0] - hk[:, 1, 1]).real])
    dd0 = 0.5 * (dhk[:, :, 0, 0].real + dhk[:, :, 1, 1].real)  # (M, d)
    ddv = np.stack(
        [
            dhk[:, :, 0, 1].real,
            -dhk[:, :, 0, 1].imag,
            0.5 * (dhk[:, :, 0, 0] - dhk[:, :, 1, 1]).real,
        ]
    )  # (3, M, d)
    norm = np.sqrt((dvec**2).sum(axis=0))
    gapless = norm <= 0.5 * tol
    safe = np.where(gapless, 1.0, norm)
    energies = np.stack([d0 - norm, d0 + norm], axis=-1)
    dim = dhk.shape[1]
    comps = []
    for i, j in _components(dim) if dim > 1 else []:
        a, b = ddv[:, :, i], ddv[:, :, j]
        cross = np.stack(
            [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
        )
        triple = (dvec * cross).sum(axis=0) / (2 * safe**3)
        comps.append(np.where(gapless, 0.0, triple))
    # Upper band: Ω = -d·(∂_i d × ∂_j d) / (2|d|^3); lower band the opposite.
    omega = np.stack(comps, axis=-1) if comps else np.zeros((len(d0), 0))
    curvature = np.stack([omega, -omega], axis=1)  # (M, 2, C)
    slope = np.einsum("cm,cmi->mi", dvec, ddv) / safe[:, None]
    slope = np.where(gapless[:, None], 0.0, slope)
    velocities = np.stack([dd0 - slope, dd0 + slope], axis=1)  # (M, 2, d)
    return energies, curvature, velocities


def basis_connection(h: Hamiltonian, k: np.ndarray) -> tuple | None:
    """The orbital basis's connection ``(A, ∂A)`` at ``k`` for a model with its full position
    operator (:meth:`~boltzphlow.bands.TightBinding.connection`), else ``None``."""
    connection = getattr(h, "connection", None)
    return None if connection is None else connection(k)


def position_curvature(e: np.ndarray, u: np.ndarray, v: np.ndarray, connection: tuple,
                       degeneracy_tol: float = DEGENERACY_TOL) -> np.ndarray:
    """The part of the Berry curvature that the orbital basis's own connection adds.

    X. Wang, J. R. Yates, I. Souza and D. Vanderbilt, Phys. Rev. B 74, 195118 (2006), Eq. 27:
    with ``Ā = U†AU``, ``Ω̄_ij = U†(∂_iA_j − ∂_jA_i)U`` and ``D^i_nm = v^i_nm/(ε_m − ε_n)``
    (zero within degenerate groups),

        Ω^n_ij = Ω̄_ij,nn − ([D^i, Ā^j] − [D^j, Ā^i])_nn − i [D^i, D^j]_nn,

    whose last term is the Kubo sum of :func:`band_geometry`; this returns the first two
    (zero when the basis is the tight-binding one, ``A = 0``).

    Parameters
    ----------
    e, u, v
        Energies ``(M, N)``, eigenvectors ``(M, N, N)``, velocity matrices ``(M, d, N, N)`` in
        the band basis.
    connection
        ``(A, ∂A)`` of :meth:`~boltzphlow.bands.TightBinding.connection`: ``(M, d, N, N)`` and
        ``(M, d, d, N, N)`` in the orbital basis.

    Returns
    -------
    numpy.ndarray
        ``(M, N, C)`` in the component order of :func:`band_geometry`.
    """
    a, da = connection
    uh = np.conj(np.swapaxes(u, -1, -2))
    a_bar = uh[:, None] @ a @ u[:, None]                                   # (M, d, N, N)
    gap = e[:, None, :] - e[:, :, None]                                    # ε_m − ε_n
    far = np.abs(gap) > degeneracy_tol
    dmat = np.where(far[:, None], v / np.where(far, gap, 1.0)[:, None], 0.0)  # D^i_nm
    comps = []
    for i, j in _components(v.shape[1]):
        omega_bar = np.diagonal(uh @ (da[:, i, j] - da[:, j, i]) @ u, axis1=-2, axis2=-1)
        comm = (np.einsum("mnk,mkn->mn", dmat[:, i], a_bar[:, j])
                - np.einsum("mnk,mkn->mn", a_bar[:, j], dmat[:, i])
                - np.einsum("mnk,mkn->mn", dmat[:, j], a_bar[:, i])
                + np.einsum("mnk,mkn->mn", a_bar[:, i], dmat[:, j]))
        comps.append((omega_bar - comm).real)
    return np.stack(comps, axis=-1)


def band_geometry(
    hk: np.ndarray,
    dhk: np.ndarray,
    *,
    degeneracy_tol: float = DEGENERACY_TOL,
    curvature: bool = True,
    check: bool = True,
    connection: tuple | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energies, Berry curvature and band velocities from H and ∂H/∂k on a batch of k-points.

    Parameters
    ----------
    hk
        ``(M, N, N)`` Bloch matrices.
    dhk
        ``(M, d, N, N)`` velocity matrices.
    degeneracy_tol
        Absolute energy below which bands count as degenerate (see module docstring).
    curvature
        Compute the curvature (else an empty last axis is returned for it).
    check
        Check Hermiticity.
    connection
        ``(A, ∂A)`` of the orbital basis (:meth:`~boltzphlow.bands.TightBinding.connection`)
        for a model with its full position operator: :func:`position_curvature` is added.

    Returns
    -------
    energies
        ``(M, N)`` ascending.
    omega
        ``(M, N, C)``: ``Ω_xy`` (2D, C = 1) or ``(Ω_x, Ω_y, Ω_z)`` (3D, C = 3).
    velocities
        ``(M, N, d)`` band velocities ``∂ε_n/∂k`` (Hellmann-Feynman, group-averaged).

    Notes
    -----
    Two-band models use the closed forms ``ε = d_0 ± |d|``,
    ``Ω_± = ∓ d·(∂_i d × ∂_j d)/(2|d|^3)``; N > 2 uses ``numpy.linalg.eigh`` and the Kubo sum.
    """
    if check:
        check_hermitian(hk)
    m, n = hk.shape[0], hk.shape[-1]
    dim = dhk.shape[1]
    if n == 2 and (connection is None or not curvature or dim < 2):
        e, om, vel = _two_band(hk, dhk, degeneracy_tol)
        if not curvature:
            om = om[..., :0]
        return e, om, vel
    e, u = np.linalg.eigh(hk)
    v = np.conj(np.swapaxes(u, -1, -2))[:, None] @ dhk @ u[:, None]  # (M, d, N, N)
    vel = np.real(np.diagonal(v, axis1=-2, axis2=-1)).swapaxes(1, 2)  # (M, N, d)
    comps = []
    if curvature and dim > 1:
        gap = e[:, :, None] - e[:, None, :]
        far = np.abs(gap) > degeneracy_tol
        inv2 = np.where(far, 1.0 / np.where(far, gap, 1.0) ** 2, 0.0)
        for i, j in _components(dim):
            prod = v[:, i] * np.swapaxes(v[:, j], -1, -2)  # v^i_nm v^j_mn
            comps.append(-2.0 * (prod.imag * inv2).sum(axis=-1))
    om = np.stack(comps, axis=-1) if comps else np.zeros((m, n, 0))
    if comps and connection is not None:
        om = om + position_curvature(e, u, v, connection, degeneracy_tol)
    om = degenerate_average(om, e, degeneracy_tol)
    vel = degenerate_average(vel, e, degeneracy_tol)
    return e, om, vel


def berry_curvature(
    h: Hamiltonian,
    k: np.ndarray,
    *,
    bands: int | Sequence[int] | None = None,
    degeneracy_tol: float = DEGENERACY_TOL,
) -> np.ndarray:
    """Berry curvature by the Kubo formula (Valet-Raimondi Eq. 13 with n = m; Eq. 38 for Dirac).

    Parameters
    ----------
    h
        Model.
    k
        Cartesian wave vectors ``(..., d)``, d = 2 or 3.
    bands
        Band indices to return (default all).
    degeneracy_tol
        See module docstring.

    Returns
    -------
    numpy.ndarray
        2D: ``(..., n_bands)`` with ``Ω_xy``; 3D: ``(..., n_bands, 3)`` axial vectors.
        Units: (lattice constant)².
    """
    k = np.asarray(k, dtype=float)
    sel = check_bands(bands, h.n_bands)
    _components(h.dim)
    lead = k.shape[:-1]
    kk = k.reshape(-1, h.dim)
    hk = h.hamiltonian(kk)
    dhk = h.velocity(kk)
    _, om, _ = band_geometry(hk, dhk, degeneracy_tol=degeneracy_tol,
                             connection=basis_connection(h, kk))
    om = om[:, sel]
    if h.dim == 2:
        return om[..., 0].reshape(*lead, len(sel))
    return om.reshape(*lead, len(sel), 3)


def berry_curvature_tensor(
    h: Hamiltonian, k: np.ndarray, *, degeneracy_tol: float = DEGENERACY_TOL
) -> np.ndarray:
    """Antisymmetric curvature tensor ``Ω^n_ij``, shape ``(..., N, d, d)``."""
    k = np.asarray(k, dtype=float)
    lead = k.shape[:-1]
    kk = k.reshape(-1, h.dim)
    _, om, _ = band_geometry(h.hamiltonian(kk), h.velocity(kk), degeneracy_tol=degeneracy_tol,
                             connection=basis_connection(h, kk))
    d = h.dim
    out = np.zeros(om.shape[:2] + (d, d))
    for c, (i, j) in enumerate(_components(d)):
        out[..., i, j] = om[..., c]
        out[..., j, i] = -om[..., c]
    return out.reshape(*lead, h.n_bands, d, d)


def _periodic_hamiltonian(h: Hamiltonian, k: np.ndarray) -> np.ndarray:
    """H(k) in a gauge periodic over the Brillouin zone."""
    if not h.periodic:
        raise ValueError("Chern numbers need a periodic (lattice) model, not a continuum k-box")
    try:
        return h.hamiltonian(k, periodic_gauge=True)  # type: ignore[call-arg]
    except TypeError:
        return h.hamiltonian(k)


def _link_phases(states: np.ndarray, axis: int, closed: bool = True) -> np.ndarray:
    """``det(Ψ(k)^† Ψ(k + e_axis))`` normalised to unit modulus (the FHS link variable)."""
    nxt = np.roll(states, -1, axis=axis)
    overlap = np.conj(np.swapaxes(states, -1, -2)) @ nxt
    det = np.linalg.det(overlap) if overlap.shape[-1] > 1 else overlap[..., 0, 0]
    mod = np.abs(det)
    if np.any(mod < 1e-12):
        raise ValueError(
            "link variable vanishes: the selected bands are degenerate with others somewhere "
            "on the mesh (refine the mesh or choose an isolated group of bands)"
        )
    return det / mod


def chern_number(
    h: Hamiltonian,
    bands: int | Sequence[int] = (0,),
    mesh: KMesh | Sequence[int] = (60, 60),
    *,
    normal_axis: int = 2,
    k_normal: float = 0.0,
) -> float:
    """Chern number of a group of bands by the link-variable method of Fukui, Hatsugai and Suzuki.

    ``C = (1/2π) Σ_plaquettes F``, with ``F = -arg(U_1(k) U_2(k+e_1) U_1(k+e_2)^* U_2(k)^*)``
    and ``U_μ(k) = det Ψ(k)^† Ψ(k + e_μ)`` over the selected bands (J. Phys. Soc. Jpn. 74,
    1674 (2005)); the sign is such that ``C = (1/2π) ∫ Ω_xy`` with the curvature of
    :func:`berry_curvature`.  The result is an integer (up to round-off) whenever no
    plaquette's flux exceeds π, i.e. on any mesh fine enough to resolve the curvature.

    Parameters
    ----------
    h
        A lattice model, 2D, or 3D with a plane chosen by ``normal_axis`` and ``k_normal``.
    bands
        Band indices of the group (isolated from the others by a gap everywhere).
    mesh
        2D mesh of the plane (Γ-centred if given as sizes).
    normal_axis, k_normal
        For 3D models: the reduced axis normal to the plane and its reduced coordinate.

    Returns
    -------
    float
        The Chern number (not rounded).
    """
    sel = check_bands(bands, h.n_bands)
    if isinstance(mesh, KMesh):
        plane = mesh
    else:
        plane = KMesh.gamma_centered(tuple(np.atleast_1d(mesh)))
    if plane.dim != 2:
        raise ValueError(f"chern_number needs a 2D mesh, got {plane.shape}")
    if h.dim == 2:
        f = plane.fractional()
    elif h.dim == 3:
        if normal_axis not in (0, 1, 2):
            raise ValueError(f"normal_axis must be 0, 1 or 2, got {normal_axis}")
        f2 = plane.fractional()
        f = np.insert(f2, normal_axis, k_normal, axis=1)
    else:
        raise ValueError("Chern numbers need a 2D or 3D model")
    hk = _periodic_hamiltonian(h, h.k_cartesian(f))
    check_hermitian(hk)
    _, u = np.linalg.eigh(hk)
    states = u[..., sel].reshape(*plane.shape, h.n_bands, len(sel))
    u1 = _link_phases(states, 0)
    u2 = _link_phases(states, 1)
    flux = np.angle(u1 * np.roll(u2, -1, axis=0) * np.conj(np.roll(u1, -1, axis=1)) * np.conj(u2))
    return float(-flux.sum() / (2 * np.pi))


def berry_flux(
    h: Hamiltonian,
    band: int | Sequence[int] = 0,
    center: np.ndarray | Sequence[float] = (0.0, 0.0, 0.0),
    radius: float = 0.1,
    *,
    n_theta: int = 48,
    n_phi: int = 96,
) -> float:
    """Berry flux of a band (group) out of a sphere in k-space, in units of 2π.

    Link variables on a (θ, φ) grid of the sphere (poles included) give the flux as a sum
    of plaquette phases, an integer for a closed surface (the Chern number of the band on
    the sphere): the monopole charge enclosed, i.e. the chirality of a Weyl node inside
    (for band 0 with this package's sign, see :class:`boltzphlow.bands.WeylNode`).

    Raises
    ------
    ValueError
        If the model is not 3D, the radius is not positive, or the band is degenerate with
        another somewhere on the sphere.
    """
    if h.dim != 3:
        raise ValueError(f"berry_flux needs a 3D model, got a {h.dim}D one")
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    sel = check_bands(band, h.n_bands)
    center = np.asarray(center, dtype=float)
    if center.shape != (3,):
        raise ValueError(f"center must be a 3-vector, got shape {center.shape}")
    theta = np.linspace(0.0, np.pi, n_theta + 1)
    phi = np.linspace(0.0, 2 * np.pi, n_phi, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    k = center + radius * np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1)
    hk = h.hamiltonian(k)
    check_hermitian(hk)
    e, u = np.linalg.eigh(hk)
    others = np.setdiff1d(np.arange(h.n_bands), sel)
    if others.size:
        gap = np.min(np.abs(e[..., sel][..., :, None] - e[..., others][..., None, :]))
        if gap < 1e-9:
            raise ValueError("the sphere passes through a degeneracy of the selected band(s)")
    states = u[..., sel]
    # theta direction is open (poles are single points): drop the wrap-around link.
    nxt = states[1:]
    ov = np.conj(np.swapaxes(states[:-1], -1, -2)) @ nxt
    ut = np.linalg.det(ov) if ov.shape[-1] > 1 else ov[..., 0, 0]
    ut = ut / np.abs(ut)
    up = _link_phases(states, 1)
    flux = np.angle(ut * up[1:] * np.conj(np.roll(ut, -1, axis=1)) * np.conj(up[:-1]))
    return float(-flux.sum() / (2 * np.pi))
