"""Chiral magnetic effect (Eq. 36) and chiral anomaly (Fermi-surface flux, Eq. 33).

Equation numbers refer to T. Valet and R. Raimondi, "Semiclassical kinetic theory for
systems with non-trivial quantum geometry and the expectation value of physical quantities".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.geometry.berry import DEGENERACY_TOL, basis_connection
from boltzphlow.geometry.nodes import (
    RADIUS_FRACTION,
    BandNode,
    find_nodes,
    minimal_displacement,
    node_bump,
    node_quadrature,
    node_radii,
    smooth_step,
)
from boltzphlow.grids.kmesh import DEFAULT_CHUNK, KMesh
from boltzphlow.kspace import fermi_integral
from boltzphlow.kspace.fermi import FermiSum
from boltzphlow.kspace.states import band_chunk
from boltzphlow.stats import fermi, minus_dfermi

__all__ = ["ChiralAnomalyResult", "ChiralMagneticResult", "chiral_anomaly", "chiral_magnetic",
           "node_resolved_integral", "resolve_nodes"]


def _v_dot_omega(states) -> np.ndarray:
    """``v_n·Ω_n`` of every state (a KStates or BandChunk), with a last axis of length 1."""
    return (states.velocity * states.berry_curvature).sum(axis=-1)[..., None]


def _check_3d(h: Hamiltonian, what: str) -> None:
    if h.dim != 3:
        raise ValueError(f"{what} needs a 3D model, got a {h.dim}D one")


def resolve_nodes(h: Hamiltonian, nodes: str | Sequence[BandNode] | None) -> tuple[BandNode, ...]:
    """``"auto"``: :func:`~boltzphlow.geometry.nodes.find_nodes`; None: none; else as given."""
    if nodes is None:
        return ()
    if isinstance(nodes, str):
        if nodes != "auto":
            raise ValueError(f"nodes must be 'auto', None or a list of BandNode, got {nodes!r}")
        return find_nodes(h)
    return tuple(nodes)


def _node_owner(h: Hamiltonian, k: np.ndarray, nodes: Sequence[BandNode], radii: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest node of each point (Voronoi cell, periodic images) and ``|k - k_j| / R_j``."""
    dist = np.stack([np.sqrt((minimal_displacement(h, k, n.k) ** 2).sum(-1)) for n in nodes])
    owner = np.argmin(dist, axis=0)
    return owner, dist[owner, np.arange(k.shape[0])] / radii[owner]


def node_resolved_integral(
    h: Hamiltonian,
    mesh: KMesh | Sequence[int],
    mu: np.ndarray,
    temperature: float,
    nodes: Sequence[BandNode],
    *,
    kernel: str = "f",
    n_radial: int = 64,
    radius_fraction: float = RADIUS_FRACTION,
    chunk_size: int = DEFAULT_CHUNK,
    use_symmetry: bool = False,
    refine: int = 0,
    refine_fraction: float = 0.5,
    degeneracy_tol: float = DEGENERACY_TOL,
) -> tuple[np.ndarray, np.ndarray]:
    r"""``∫ d³k K(ε_n - μ) v_n·Ω_n`` per band and per node (Voronoi cell of the nodes).

    With the partition of unity of :mod:`boltzphlow.geometry.nodes`: the smooth part
    ``[1 - χ_j(k)] g`` on the plain mesh (:func:`~boltzphlow.kspace.fermi_integral`, every
    point credited to its nearest node), the singular part ``χ_j g`` by the node-centred
    spherical quadrature of radius ``R_j`` (``radius_fraction`` of the distance to the nearest
    other node), ``n_radial`` Gauss-Legendre points in |q|.  Without nodes, the plain
    (or refined) mesh sum.

    Returns
    -------
    per_band
        ``(P, N)``.
    per_node
        ``(P, J, N)`` (J nodes; they sum to ``per_band``).
    """
    n_nodes = len(nodes)
    if n_nodes and use_symmetry:
        raise ValueError("use_symmetry cannot be combined with the node-centred quadrature "
                         "(the points of a node's Voronoi cell are not symmetry-reduced); "
                         "set nodes=None or use_symmetry=False")
    radii = node_radii(h, nodes, radius_fraction) if n_nodes else np.zeros(0)

    def smooth_part(states) -> np.ndarray:
        g = _v_dot_omega(states)[..., 0]
        if not n_nodes:
            return g[..., None]
        owner, s = _node_owner(h, states.k, nodes, radii)
        share = (owner[:, None] == np.arange(n_nodes)) * smooth_step(s)[:, None]  # (M, J)
        return g[..., None] * (share if g.ndim == 1 else share[:, None, :])

    mesh_part = fermi_integral(
        h, mesh, smooth_part, mu, temperature, kernel=kernel, chunk_size=chunk_size,
        use_symmetry=use_symmetry, refine=refine, refine_fraction=refine_fraction,
        degeneracy_tol=degeneracy_tol,
    )  # (P, N, max(J, 1))
    if not n_nodes:
        return mesh_part[..., 0], np.zeros((len(mu), 0, h.n_bands))
    per_node = np.moveaxis(mesh_part, 2, 1).copy()  # (P, J, N)
    kern = fermi if kernel == "f" else minus_dfermi
    for j, (node, radius) in enumerate(zip(nodes, radii, strict=True)):
        k_all, w_all, s_all = node_quadrature(node.k, radius, n_radial)
        for a in range(0, len(k_all), chunk_size):
            k = k_all[a : a + chunk_size]
            hk, dhk = h.hamiltonian_and_velocity(k)
            chunk = band_chunk(k, w_all[a : a + chunk_size], np.zeros(len(k), dtype=np.int64),
                               hk, dhk, degeneracy_tol=degeneracy_tol,
                               connection=basis_connection(h, k))
            g = _v_dot_omega(chunk)[..., 0] * (chunk.weight * node_bump(s_all[a : a + chunk_size])
                                                )[:, None]  # (M, N)
            factor = kern(chunk.energy[:, None, :], mu[None, :, None], temperature)  # (M, P, N)
            per_node[:, j] += np.einsum("mpn,mn->pn", factor, g)
    return per_node.sum(axis=1), per_node


@dataclass(frozen=True)
class ChiralMagneticResult:
    """CME coefficients ``α`` with ``j = α B`` (Eq. 36), in units of e²/h² × energy.

    Attributes
    ----------
    per_band
        ``α_n``, shape ``(N,)`` (scalar μ) or ``mu.shape + (N,)``.
    total
        ``Σ_n α_n``.
    mu, T
        Where it was evaluated.
    """

    per_band: np.ndarray
    total: float | np.ndarray
    mu: float | np.ndarray
    T: float
    units: str = "e^2/h^2 * energy"


def chiral_magnetic(
    h: Hamiltonian,
    mu: float | Sequence[float] | np.ndarray = 0.0,
    T: float = 0.0,
    mesh: KMesh | Sequence[int] = (60, 60, 60),
    *,
    nodes: str | Sequence[BandNode] | None = "auto",
    n_radial: int = 64,
    chunk_size: int = DEFAULT_CHUNK,
    use_symmetry: bool = False,
    refine: int = 0,
    refine_fraction: float = 0.2,
    degeneracy_tol: float = DEGENERACY_TOL,
) -> ChiralMagneticResult:
    r"""Equilibrium chiral-magnetic coefficient per band and in total (Eq. 36).

    .. math::
        \alpha_n = -\frac{e^2}{\hbar^2}\int\frac{d^3k}{(2\pi)^3}\,
            f(\varepsilon_n - \mu)\,\partial_{\mathbf k}\varepsilon_n\cdot\boldsymbol\Omega_n

    in units of e²/h² × energy: ``α_n = -(1/2π) Σ_k w_k f v_n·Ω_n``.  A single Weyl node of
    chirality χ filled to μ above it contributes ``χ (μ - E_node)`` through its upper band;
    for a lattice, ``α_0 = Σ_nodes χ F(E_node) = -α_1`` with ``F(E) = -T ln(1 + e^{-(E-μ)/T})``
    (integrate by parts: ``∇·Ω_0 = 2π Σ χ δ(k - k_node)``), so the total vanishes
    (Chang and Yang, PRB 91, 115203) while each band does not when the nodes sit at
    different energies.

    The integrand is singular (∝ 1/q²) at Weyl nodes, where the plain mesh sum converges
    only as O(h) (an error of ~0.1 on a 40³ mesh).  By default (``nodes="auto"``) the nodes
    are found (:func:`~boltzphlow.geometry.nodes.find_nodes`) and the singular part is
    integrated in spherical coordinates around each (``n_radial`` Gauss-Legendre points in
    |q|), the smooth rest on the plain mesh (:func:`node_resolved_integral`).  ``nodes=None``
    gives the plain mesh sum; ``refine > 0`` adds Dörfler refinement of the mesh part
    (:func:`~boltzphlow.grids.kmesh.integrate_adaptive`), which breaks the spectral accuracy of
    the rectangle rule on smooth parts and is not recommended (docs/geometry.md).
    """
    _check_3d(h, "the chiral magnetic effect")
    mu_arr = np.asarray(mu, dtype=float)
    found = resolve_nodes(h, nodes)
    integral, _ = node_resolved_integral(
        h, mesh, mu_arr.reshape(-1), T, found, kernel="f", n_radial=n_radial,
        chunk_size=chunk_size, use_symmetry=use_symmetry, refine=refine,
        refine_fraction=refine_fraction, degeneracy_tol=degeneracy_tol)
    per_band = integral / (-2 * np.pi)
    total = per_band.sum(axis=-1)
    if mu_arr.ndim == 0:
        return ChiralMagneticResult(per_band[0], float(total[0]), float(mu_arr), float(T))
    return ChiralMagneticResult(
        per_band.reshape(*mu_arr.shape, h.n_bands), total.reshape(mu_arr.shape), mu_arr, float(T)
    )


@dataclass(frozen=True)
class ChiralAnomalyResult:
    """Chiral-anomaly source of Eq. 33, ``∂_t ρ + ∇·j = C E·B``, per band and per node.

    Attributes
    ----------
    flux
        Berry flux of each band out of its Fermi sea, ``Φ_n / 2π`` (at low T the chirality
        enclosed: ``Φ_0/2π = Σ_nodes χ f(E_node - μ)``), shape ``(N,)`` or ``mu.shape + (N,)``.
    per_band
        ``C_n = -Φ_n / 2π`` in units of e³/h² (per band).
    total
        ``Σ_n C_n``; zero for a complete lattice (charge conservation).
    node_flux
        Fermi-surface flux of all bands inside the Voronoi cell of each node, ``Φ_j / 2π``,
        shape ``(J,)`` or ``mu.shape + (J,)``; ``-χ_j`` while the bands are filled/empty on
        the cell boundary (a Fermi pocket around each node), whatever the node energies.
    per_node
        ``C_j = -Φ_j / 2π`` (e³/h²): the charge pumped into node j's pocket, ``χ_j``.
    nodes
        The nodes (:class:`~boltzphlow.geometry.nodes.BandNode`), in the order of the node axis.
    """

    flux: np.ndarray
    per_band: np.ndarray
    total: float | np.ndarray
    mu: float | np.ndarray
    T: float
    node_flux: np.ndarray = field(default_factory=lambda: np.zeros(0))
    per_node: np.ndarray = field(default_factory=lambda: np.zeros(0))
    nodes: tuple[BandNode, ...] = ()
    units: str = "e^3/h^2"


def chiral_anomaly(
    h: Hamiltonian,
    mu: float | Sequence[float] | np.ndarray = 0.0,
    T: float = 0.05,
    mesh: KMesh | Sequence[int] = (60, 60, 60),
    *,
    nodes: str | Sequence[BandNode] | None = "auto",
    n_radial: int = 64,
    chunk_size: int = DEFAULT_CHUNK,
    use_symmetry: bool = False,
    refine: int = 0,
    refine_fraction: float = 0.2,
    degeneracy_tol: float = DEGENERACY_TOL,
) -> ChiralAnomalyResult:
    r"""Berry flux through the Fermi surface and the chiral-anomaly coefficient (Eq. 33).

    Per band, ``Φ_n = ∮_FS n·Ω_n dS = ∫ d³k (-∂f/∂ε) v_n·Ω_n`` (the Fermi-surface delta
    function smeared by the temperature, so T > 0 is required and should exceed the mesh
    spacing times the Fermi velocity).  The right-hand side of Eq. 33 is
    ``-e³ ħ E·B Σ_n ∫_FS dS/(2πħ)^3 n·Ω_n`` (with the band curvature inside the sum: the
    converted text shows ``(2πħ)^{d-1}`` and a stray σ; dimensions and the known
    ``e³/(4π²ħ²)`` per node fix it), i.e. ``C_n = -Φ_n/2π`` in units of e³/h².  Note
    ``dα_n/dμ = -Φ_n / 2π`` with α of :func:`chiral_magnetic`, and for a lattice
    ``Φ_0 / 2π = Σ_nodes χ f(E_node - μ) = -Φ_1 / 2π``.

    Per node: with two nodes at one energy the per-band flux is ``Σ χ f = 0`` and says
    nothing about the nodes.  The nodes are found as band touchings with a non-zero Berry
    flux through small spheres (:func:`~boltzphlow.geometry.nodes.find_nodes`,
    ``nodes="auto"``) and the flux of all bands inside each node's Voronoi cell is reported:
    by the divergence theorem with ``∇·Ω_n = ±2π χ_j δ`` it is ``Φ_j/2π = -χ_j`` (so
    ``C_j = χ_j``, the node's pumping ``χ e³ E·B/h²``) while the bands are full or empty on
    the cell boundary.  The integrals use the node-centred quadrature of
    :func:`node_resolved_integral` (``n_radial`` radial points; ``nodes=None``: plain mesh;
    ``refine`` levels of Dörfler refinement of the mesh part, default 0, not recommended: see
    :func:`chiral_magnetic`).  The plain mesh part visits only the states within ``40 k_B T``
    of μ (:class:`~boltzphlow.kspace.KStates` of the Fermi-surface window).
    """
    _check_3d(h, "the chiral anomaly")
    mu_arr = np.asarray(mu, dtype=float)
    FermiSum(mu_arr.reshape(-1), T, "-df")  # checks μ and T > 0 before the node search
    found = resolve_nodes(h, nodes)
    integral, by_node = node_resolved_integral(
        h, mesh, mu_arr.reshape(-1), T, found, kernel="-df", n_radial=n_radial,
        chunk_size=chunk_size, use_symmetry=use_symmetry, refine=refine,
        refine_fraction=refine_fraction, degeneracy_tol=degeneracy_tol)
    flux = integral / (2 * np.pi)
    node_flux = by_node.sum(axis=-1) / (2 * np.pi)  # (P, J)
    coeff = -flux
    total = coeff.sum(axis=-1)
    if mu_arr.ndim == 0:
        return ChiralAnomalyResult(flux[0], coeff[0], float(total[0]), float(mu_arr), float(T),
                                   node_flux[0], -node_flux[0], found)
    shape = (*mu_arr.shape, h.n_bands)
    jshape = (*mu_arr.shape, len(found))
    return ChiralAnomalyResult(
        flux.reshape(shape), coeff.reshape(shape), total.reshape(mu_arr.shape), mu_arr, float(T),
        node_flux.reshape(jshape), -node_flux.reshape(jshape), found,
    )
