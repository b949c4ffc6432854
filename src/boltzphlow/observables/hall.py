"""Intrinsic anomalous Hall conductivity at any μ and T, many μ at once.

Eq. 35 of T. Valet and R. Raimondi, "Semiclassical kinetic theory for systems with non-trivial
quantum geometry and the expectation value of physical quantities".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.geometry.berry import DEGENERACY_TOL
from boltzphlow.grids.kmesh import DEFAULT_CHUNK, KMesh
from boltzphlow.kspace import FermiSum, KStates, fermi_integral, fermi_window

__all__ = ["anomalous_hall"]

_COMPONENT_INDEX = {"yz": 0, "zx": 1, "xy": 2}


def _component(h: Hamiltonian, component: str) -> tuple[int, float]:
    """Index into the curvature components and the sign (xz = -zx ...)."""
    if h.dim == 2:
        if component == "xy":
            return 0, 1.0
        if component == "yx":
            return 0, -1.0
        raise ValueError(f"a 2D model has only the xy Hall component, got {component!r}")
    if h.dim != 3:
        raise ValueError(f"the anomalous Hall conductivity needs a 2D or 3D model, got {h.dim}D")
    if component in _COMPONENT_INDEX:
        return _COMPONENT_INDEX[component], 1.0
    if component[::-1] in _COMPONENT_INDEX:
        return _COMPONENT_INDEX[component[::-1]], -1.0
    raise ValueError(f"component must be one of xy, yz, zx (or reversed), got {component!r}")


def anomalous_hall(
    h: Hamiltonian,
    mu: float | Sequence[float] | np.ndarray = 0.0,
    T: float = 0.0,
    mesh: KMesh | Sequence[int] = (400, 400),
    *,
    component: str = "xy",
    chunk_size: int = DEFAULT_CHUNK,
    use_symmetry: bool = False,
    refine: int = 0,
    refine_fraction: float = 0.5,
    degeneracy_tol: float = DEGENERACY_TOL,
) -> float | np.ndarray:
    r"""Intrinsic anomalous Hall conductivity (Eq. 35, summed over bands).

    .. math::
        \sigma_{xy}(\mu, T) = -\frac{e^2}{\hbar}\sum_n\int\frac{d^dk}{(2\pi)^d}\,
            f(\varepsilon_n - \mu)\,\Omega^n_{xy}(\mathbf k)

    returned in units of e²/h (2D) or e²/(h·a) (3D): ``σ = -(2π)^{1-d} Σ_k w_k Σ_n f Ω``.
    An insulator whose filled bands have total Chern number C gives ``σ_xy = -C``.  The sum
    runs over the states of :class:`~boltzphlow.kspace.KStates` below ``max μ + 40 k_B T``
    (:func:`~boltzphlow.kspace.fermi_window`), built chunk by chunk.

    Parameters
    ----------
    h
        Model (2D or 3D).
    mu
        Chemical potential(s).  An array is handled in one pass over the mesh: at T = 0 by
        sorting the states among the μ (cost independent of their number), at T > 0 exactly
        for up to 16 values and on a fine energy grid beyond (see
        :class:`~boltzphlow.kspace.FermiSum`).
    T
        Temperature k_B T (energy units); 0 gives the step function.
    mesh
        k-mesh (sizes: Γ-centred for lattices, cell-centred on a continuum box).
    component
        ``"xy"`` (2D); ``"xy"``, ``"yz"``, ``"zx"`` (3D).
    chunk_size
        Points per chunk (memory is ``O(chunk_size · N²)``).
    use_symmetry
        Evaluate only the points irreducible under the model's declared symmetry.
    refine, refine_fraction
        Levels of adaptive refinement (0: plain mesh) and the Dörfler fraction of
        :func:`~boltzphlow.grids.kmesh.integrate_adaptive`.
    degeneracy_tol
        Energy below which bands count as degenerate.

    Returns
    -------
    float or numpy.ndarray
        ``σ`` (a float for scalar ``mu``, else an array of the shape of ``mu``).
    """
    index, sign = _component(h, component)
    mu_arr = np.asarray(mu, dtype=float)
    mesh = h.mesh(mesh)
    prefactor = -sign * (2 * np.pi) ** (1 - h.dim)
    if refine > 0:
        per_band = fermi_integral(
            h,
            mesh,
            lambda states: states.berry_curvature[..., index : index + 1],
            mu_arr.reshape(-1),
            T,
            refine=refine,
            refine_fraction=refine_fraction,
            chunk_size=chunk_size,
            degeneracy_tol=degeneracy_tol,
        )
        total = per_band.sum(axis=1)[:, 0]
    else:
        acc = FermiSum(mu_arr.reshape(-1), T)
        for states in KStates.chunks(
            h,
            mesh,
            fermi_window(acc.mu, acc.t),
            chunk_size=chunk_size,
            use_symmetry=use_symmetry,
            orbital_moment=False,
            degeneracy_tol=degeneracy_tol,
        ):
            acc.add(states.energy, states.berry_curvature[:, index] * states.weight)
        total = acc.result()[:, 0]
    sigma = prefactor * total
    if mu_arr.ndim == 0:
        return float(sigma[0])
    return sigma.reshape(mu_arr.shape)
