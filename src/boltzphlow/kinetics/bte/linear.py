r"""The linearised Boltzmann equation on a k-mesh: transport coefficients from a full collision
operator.

For a deviation ``δf = f^0(1 - f^0) φ`` the linearised BTE (Eq. 2 of C. Xiao, Y. Liu, M. Xie,
S. A. Yang, Q. Niu, "Theory of phonon side jump contribution in anomalous Hall transport", with
Pauli factors for phonons; in a magnetic field the kinetic equation of T. Valet and R. Raimondi,
"Semiclassical kinetic theory for systems with non-trivial quantum geometry", Eqs. 29–30) reads,
multiplied by the k-space weight of each state,

.. math:: (L + K_B)\, φ = b,

with ``L = diag(Φ1) - Φ + diag(Γ)`` the symmetric collision operator of
:mod:`boltzphlow.scattering`, ``K_B`` the Lorentz force (:mod:`boltzphlow.kinetics.bte.fields`)
and one right-hand side per drive:

* a unit electric field along j: ``b^E_j = w f^0(1-f^0) ṽ_j / T`` (in a magnetic field with
  the Berry terms, ``[ê_j − (ê_j·B) Ω]·ṽ`` in place of ``ṽ_j``: :meth:`FieldTerms.drive`);
* a unit temperature gradient ``-∂_j T``: ``b^T_j = w f^0(1-f^0) (ε - μ) ṽ_j / T²``
  (the drift term ``ṽ·∇_r f^0 = -(ε - μ) ṽ·∇T (-∂f^0/∂ε)/T``, with ``-∂f^0/∂ε = f^0(1-f^0)/T``).

Both are solved together.  The charge and heat currents ``j = Σ w f^0(1-f^0) v φ /(2π)^d``,
``q = Σ w f^0(1-f^0) (ε - μ) v φ /(2π)^d`` give the Onsager coefficients (units ħ = e = k_B = 1,
carrier charge +1)

.. math:: j = L^{11} E + L^{12} (-∇T), \qquad q = L^{21} E + L^{22} (-∇T),

the conductivity ``σ = L^{11}`` (plus the intrinsic anomalous-velocity part; the intrinsic
parts of ``L^{12}``, ``L^{21}`` — the anomalous Nernst current of the equilibrium — are not
included), the Seebeck
coefficient ``S = σ^{-1} L^{12}`` (``E = S ∇T`` at zero current; k_B/e, positive when the current
is carried by states above μ for the carrier charge +1 of the package — flip it for
electrons of charge −e) and the electronic thermal conductivity at zero current
``κ_e = L^{22} - L^{21} σ^{-1} L^{12}`` (``= K - T S² σ`` for scalars, since ``L^{21} = T L^{12}``
at B = 0), and the Lorenz ratio ``κ_e / (σ T)`` in ``(k_B/e)²``: ``π²/3`` for elastic
scattering in the degenerate limit (Wiedemann–Franz).

The operator of a particle-conserving model has the constant null vector (``L 1 = 0``) on every
connected set of states; every solver fixes it by the condition ``Σ w f^0(1-f^0) φ = 0`` on each
such set (the deviation carries no net particles), and removes from the drive what is not in the
range of the operator (``Σ_s b_s ≠ 0`` on a continuum box: a uniform particle source that a
conserving operator cannot balance).  The matrix is badly scaled (``f^0(1 - f^0)`` spans
``e^{-20}`` across the window), so every method works on the symmetrically scaled system
``D^{-1} (L + K_B) D^{-1} (D φ) = D^{-1} b`` with ``D = diag(L)^{1/2}``.

Methods (:meth:`LinearBTE.solve`):

``"serta"``
    Self-energy RTA: ``1/τ_s = Σ_{s'} Φ_{ss'} / (w_s f^0_s(1-f^0_s))`` (the out-scattering rate),
    ``φ = b / diag(L)``.
``"mrta"``
    Momentum-relaxation-time RTA: the out-scattering weighted by ``1 - v_{s'}·v_s/|v_s|²``.
``"iterative"``
    The classic iteration ``φ ← (b + Φ φ - K_B φ) / diag(L)`` (a Jacobi iteration of the scaled
    system), with its residual monitored and a safeguard: when the residual grows the step is
    damped (Richardson ``x ← x + ω r`` with ``ω`` halved), restarting from the best iterate.
``"krylov"``
    Conjugate gradients (:func:`boltzphlow.integrate.linear.cg`, all drives at once, one
    operator product per iteration for the whole block) when the operator is symmetric
    (no magnetic field), restarted GMRES (:func:`boltzphlow.integrate.linear.gmres`) drive
    by drive otherwise; both on the scaled system (the symmetric Jacobi preconditioning),
    with the null space lifted by the rank-m term ``n nᵀ`` (``n`` the scaled constant vector
    of each conserving set).  Fewer products than ``"iterative"`` (7 against 18 on the
    massive Dirac benchmark).
``"direct"``
    Sparse LU (SuperLU; dense LU when the matrix is more than 10 % full) of the scaled system
    bordered by the conditions: ``[[Â, U], [Uᵀ, 0]]`` with ``U`` the scaled
    ``w f^0(1-f^0)`` of each conserving set.

**Anomalous Hall effect** (B = 0; Xiao et al. above, Eqs. 3–12).  The operator accumulates,
in its pass over the pairs, each model's side-jump flux ``J^{sj}_s = Σ_{s'} Φ_{ss'} δr_{s'←s}``
(the coordinate shift of :mod:`boltzphlow.scattering.sidejump`); the anomalous distribution
solves ``L φ^a_j = -J^{sj}_j / T`` (Eq. 10/11 times ``w f^0(1-f^0)/T``) in the same block as
the normal drives, one block of columns per model, and the two terms of Eq. 8 are
``Σ_s J^{sj}_{s,i} φ_{s,j}`` and ``Σ_s w f^0(1-f^0) v_i φ^a_j`` (over ``(2π)^d``).  The
intrinsic part is the Fermi-sea sum of :meth:`FieldTerms.intrinsic_conductivity`; an
antisymmetric (skew) rate (:mod:`boltzphlow.scattering.skew`) enters the operator itself
(``L + K``, GMRES), and its Hall conductivity is the antisymmetric part of the normal σ.
:class:`AnomalousHall` holds the decomposition.

Conductivities are reported in e²/h (``σ [e²/ħ] × 2π``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components

from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.grids.kmesh import KMesh
from boltzphlow.integrate.linear import cg, gmres
from boltzphlow.kinetics.bte.fields import FieldTerms
from boltzphlow.kspace.states import EnergyWindow, KStates, band_chunks
from boltzphlow.resources import check_memory
from boltzphlow.scattering.base import (
    CollisionOperator,
    DeltaFunction,
    Equilibrium,
    Gaussian,
    ScatteringModel,
)

__all__ = ["METHODS", "MIN_THERMAL_STATES", "AnomalousHall", "BTEResult", "LinearBTE",
           "hall_component", "scalar_attrs", "thermal_states"]

#: e²/h in units of e²/ħ.
E2_OVER_H = 1.0 / (2 * math.pi)

#: The solvers of :meth:`LinearBTE.solve`.
METHODS = ("mrta", "serta", "iterative", "krylov", "direct")

#: Fewest effective states (:func:`thermal_states`) the thermal layer must hold for the mesh to
#: resolve it.
MIN_THERMAL_STATES = 10.0

#: A matrix fuller than this is factorised dense by ``"direct"``.
DENSE_FRACTION = 0.1

_AXES = ("x", "y", "z")


def thermal_states(weight: np.ndarray) -> float:
    r"""Effective number of states carrying the thermal weight ``p_s = w_s f^0_s(1-f^0_s)``.

    The participation ratio ``N_eff = (Σ p)² / Σ p²``: the number of states if they all had the
    same weight.  On a mesh that resolves the layer ``|ε - μ| ≲ T`` it is
    ``6 T × (states per unit energy)`` (``∫ f(1-f) dε = T``, ``∫ [f(1-f)]² dε = T/6``) and
    grows with the mesh; for μ in a gap it counts the states within about T of the band edges.
    """
    p = np.asarray(weight, float)
    total = p.sum()
    return float(total * total / np.sum(p * p)) if total > 0 else 0.0


# --------------------------------------------------------------------------- result
def hall_component(tensor: np.ndarray) -> float:
    """``σ_yx`` of a ``(d, d)`` tensor (current along y for a field along x: the anomalous Hall
    conductivity ``σ_AH = j_y/E_x`` of Xiao et al., Eq. 8; ``= -σ_xy`` for an antisymmetric
    tensor); NaN in 1D."""
    t = np.asarray(tensor, float)
    return float(t[1, 0]) if t.shape[0] >= 2 else math.nan


def _antisymmetric(tensor: np.ndarray) -> np.ndarray:
    return 0.5 * (tensor - tensor.T)


@dataclass(frozen=True, eq=False)
class AnomalousHall:
    r"""The anomalous Hall decomposition of a :class:`BTEResult` (``(d, d)`` tensors, e²/h,
    current along i for a field along j; spin degeneracy included).

    Attributes
    ----------
    intrinsic
        The anomalous velocity of the equilibrium occupation (Berry curvature of the Fermi
        sea, over the whole mesh): ``σ_ij = -ε_ijl Σ ∫ f^0 Ω_l``.
    side_jump
        Per scattering model (keyed by its description): the two terms of Eq. 8 of Xiao et
        al., ``(σ^{sj(1)}, σ^{sj(2)})``: the normal distribution carried by the side-jump
        velocity (``Σ δf^n v^{sj}``) and the anomalous distribution (Eqs. 4/11, solved with
        the full collision operator) carried by the band velocity (``Σ δf^a v``).  Models
        without pairs (a constant relaxation time) have none.
    skew
        The skew-scattering conductivity: the antisymmetric part of the conductivity of the
        normal distribution, nonzero only with an antisymmetric rate (impurities with
        ``skew_scattering``: :mod:`boltzphlow.scattering.skew`; it is already part of the
        Boltzmann σ), or None.
    """

    intrinsic: np.ndarray
    side_jump: dict[str, tuple[np.ndarray, np.ndarray]]
    skew: np.ndarray | None = None

    @property
    def side_jump_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """``(σ^{sj(1)}, σ^{sj(2)})`` summed over the models."""
        zero = np.zeros_like(self.intrinsic)
        first = sum((a for a, _b in self.side_jump.values()), zero)
        second = sum((b for _a, b in self.side_jump.values()), zero)
        return first, second

    @property
    def side_jump_total(self) -> np.ndarray:
        """``σ^{sj}`` of all models: the antisymmetric (Hall) part of the sum of the two terms
        (without skew scattering the sum is antisymmetric itself: ``σ^{sj(2)} =
        -σ^{sj(1)ᵀ}``; with it, the terms acquire a symmetric part — a product of the two
        mechanisms of order ``τΓ_A σ^{sj}``, beyond the order at which the theory holds, that
        would even make σ_xx negative in the dirty limit — which is left out)."""
        first, second = self.side_jump_terms
        return _antisymmetric(first + second)

    def side_jump_of(self, name: str) -> np.ndarray:
        """``σ^{sj}`` of one model (antisymmetric part, as :attr:`side_jump_total`)."""
        first, second = self.side_jump[name]
        return _antisymmetric(first + second)

    @property
    def total(self) -> np.ndarray:
        """Intrinsic plus side jump plus skew scattering (where there is any)."""
        total = self.intrinsic + self.side_jump_total
        return total if self.skew is None else total + self.skew


@dataclass(frozen=True, eq=False)
class BTEResult:
    r"""The solution of a :class:`LinearBTE`: transport coefficients and the distribution.

    Units ħ = e = k_B = 1 (carrier charge +1); ``d`` the dimension of k-space, L the length
    unit of the model.

    Attributes
    ----------
    sigma
        Conductivity ``σ_ij`` ``(d, d)`` in e²/h (current along i, field along j), including
        the intrinsic (anomalous-velocity) and, where computed, the side-jump parts.
    phi
        ``φ`` ``(S, d)``: ``δf = f^0(1 - f^0) φ`` for a unit electric field along each axis.
    method, converged, iterations, residual
        The solver, whether it met its tolerance, its iterations (the most over the right-hand
        sides) and the largest relative residual ``‖D^{-1}(b - Aφ)‖ / ‖D^{-1} b‖``.
    info
        Solver statistics and diagnostics (times, unscattered states, the drive removed as
        not in the range of the operator, ...).
    phi_thermal
        ``φ`` ``(S, d)`` for a unit ``-∂_j T``.
    thermoelectric, heat_electric, heat
        ``L^{12}``, ``L^{21}``, ``L^{22}`` (module docstring), ``(d, d)``, in e/ħ · k_B,
        e/ħ · energy and k_B/ħ · energy (per L^{d-2}).
    mu, T
        The equilibrium.
    electron_density, hole_density
        Carriers of the bands (see :meth:`LinearBTE.carrier_densities`), L⁻ᵈ.
    states
        The states the solution lives on.
    anomalous_hall
        The :class:`AnomalousHall` decomposition (intrinsic and side jump by model), or None
        (no side jump computed: :class:`LinearBTE` ``side_jump``).
    phi_anomalous
        ``φ^a`` ``(S, d)`` of the anomalous distribution (Eqs. 4/11 of Xiao et al., all
        models) for a unit field along each axis, or None.
    """

    sigma: np.ndarray
    phi: np.ndarray
    method: str
    converged: bool
    iterations: int
    residual: float
    info: dict[str, Any] = field(default_factory=dict)
    phi_thermal: np.ndarray | None = None
    thermoelectric: np.ndarray | None = None
    heat_electric: np.ndarray | None = None
    heat: np.ndarray | None = None
    mu: float = math.nan
    T: float = math.nan
    electron_density: float = math.nan
    hole_density: float = math.nan
    states: KStates | None = None
    anomalous_hall: AnomalousHall | None = None
    phi_anomalous: np.ndarray | None = None

    @property
    def sigma_sidejump(self) -> float:
        """Side-jump anomalous Hall conductivity ``σ_AH^{sj} = j_y/E_x`` (e²/h; Eq. 8 of Xiao
        et al., both terms, every model); NaN where no side jump was computed."""
        if self.anomalous_hall is None:
            return math.nan
        return hall_component(self.anomalous_hall.side_jump_total)

    @property
    def sigma_skew(self) -> float:
        """Skew-scattering anomalous Hall conductivity ``j_y/E_x`` (e²/h); 0 without an
        antisymmetric rate, NaN where no decomposition was computed."""
        if self.anomalous_hall is None:
            return math.nan
        skew = self.anomalous_hall.skew
        return 0.0 if skew is None else hall_component(skew)

    @property
    def sigma_intrinsic(self) -> float:
        """Intrinsic (Berry-curvature) anomalous Hall conductivity ``j_y/E_x`` (e²/h)."""
        if self.anomalous_hall is None:
            return math.nan
        return hall_component(self.anomalous_hall.intrinsic)

    @property
    def resistivity(self) -> np.ndarray:
        """``ρ = σ⁻¹`` in h/e²."""
        return np.linalg.inv(self.sigma)

    @property
    def sigma_natural(self) -> np.ndarray:
        """``σ`` in e²/ħ (the model units)."""
        return self.sigma * E2_OVER_H

    @property
    def seebeck(self) -> np.ndarray:
        """Seebeck tensor ``S = σ^{-1} L^{12}`` ``(d, d)`` in k_B/e (``E = S ∇T`` at zero
        current; carrier charge +1)."""
        return np.linalg.solve(self.sigma_natural, self._need(self.thermoelectric))

    @property
    def thermal_conductivity(self) -> np.ndarray:
        """Electronic thermal conductivity at zero current ``κ_e = L^{22} - L^{21} σ^{-1}
        L^{12}`` ``(d, d)``, in k_B · energy/ħ per L^{d-2} (k_B = ħ = 1)."""
        l12 = self._need(self.thermoelectric)
        return self._need(self.heat) - self._need(self.heat_electric) @ np.linalg.solve(
            self.sigma_natural, l12)

    @property
    def lorenz_ratio(self) -> np.ndarray:
        """``κ_e,ii / (σ_ii T)`` per axis ``(d,)`` in (k_B/e)² (``π²/3`` for Wiedemann–Franz)."""
        return np.diag(self.thermal_conductivity) / (np.diag(self.sigma_natural) * self.T)

    @property
    def carrier_density(self) -> float:
        """``n = n_e + n_h`` (L⁻ᵈ)."""
        return self.electron_density + self.hole_density

    @property
    def mobility(self) -> np.ndarray:
        """``μ_ij = σ_ij / (n e)`` ``(d, d)`` with σ in e²/ħ and n the carrier density: in
        model units L² e/ħ (velocity per unit field)."""
        return self.sigma_natural / self.carrier_density

    @staticmethod
    def _need(a: np.ndarray | None) -> np.ndarray:
        if a is None:
            raise ValueError("this result holds no thermal solution")
        return a

    @property
    def dataset(self) -> Any:
        """The result as an :class:`xarray.Dataset` (``units`` and ``long_name`` on every
        variable; the solver statistics in the attributes)."""
        import xarray as xr

        d = self.sigma.shape[0]
        axes = list(_AXES[:d])
        ij = ("i", "j")
        var: dict[str, Any] = {}

        def put(name: str, dims: tuple[str, ...], value: Any, units: str, long: str) -> None:
            var[name] = xr.Variable(dims, np.asarray(value, float),
                                    attrs={"units": units, "long_name": long})

        length_d = f"L^-{d}"
        put("sigma", ij, self.sigma, "e^2/h", "conductivity")
        put("resistivity", ij, self.resistivity, "h/e^2", "resistivity")
        if self.thermoelectric is not None:
            put("seebeck", ij, self.seebeck, "k_B/e", "Seebeck coefficient")
            put("thermal_conductivity", ij, self.thermal_conductivity,
                f"k_B energy/hbar L^{2 - d}", "electronic thermal conductivity (zero current)")
            put("lorenz_ratio", ("i",), self.lorenz_ratio, "(k_B/e)^2",
                "Lorenz ratio kappa_e/(sigma T)")
        put("electron_density", (), self.electron_density, length_d, "electron density")
        put("hole_density", (), self.hole_density, length_d, "hole density")
        put("carrier_density", (), self.carrier_density, length_d, "carrier density")
        put("mobility", ij, self.mobility, "L^2 e/hbar", "mobility sigma/(n e)")
        if self.anomalous_hall is not None:
            ah = self.anomalous_hall
            first, second = ah.side_jump_terms
            put("sigma_intrinsic", ij, ah.intrinsic, "e^2/h",
                "intrinsic (Berry curvature) conductivity")
            put("sigma_sidejump", ij, ah.side_jump_total, "e^2/h", "side-jump conductivity")
            put("sigma_sidejump_velocity", ij, first, "e^2/h",
                "side-jump conductivity, normal distribution x side-jump velocity")
            put("sigma_sidejump_distribution", ij, second, "e^2/h",
                "side-jump conductivity, anomalous distribution x band velocity")
            if ah.skew is not None:
                put("sigma_skew", ij, ah.skew, "e^2/h",
                    "skew-scattering conductivity (third-order Born, non-Gaussian disorder)")
            if len(ah.side_jump) > 1:
                names = list(ah.side_jump)
                put("sigma_sidejump_by_mechanism", ("mechanism",) + ij,
                    np.stack([ah.side_jump_of(n) for n in names]), "e^2/h",
                    "side-jump conductivity of each scattering model")
        coords: dict[str, Any] = {
            "i": xr.Variable(("i",), axes, attrs={"units": "1", "long_name": "current axis"}),
            "j": xr.Variable(("j",), axes, attrs={"units": "1", "long_name": "drive axis"}),
        }
        if self.states is not None:
            s = self.states
            put("energy", ("state",), s.energy, "energy", "state energy")
            put("k", ("state", "j"), s.k, "1/L", "wave vector")
            put("velocity", ("state", "j"), s.velocity, "energy L/hbar", "band velocity")
            put("phi", ("state", "j"), self.phi, "1",
                "deviation phi = df/(f0(1-f0)) per unit electric field (charge e, field e/L)")
            if self.phi_thermal is not None:
                put("phi_thermal", ("state", "j"), self.phi_thermal, "1",
                    "deviation phi per unit -grad T (k_B/L)")
            coords["band"] = xr.Variable(("state",), np.asarray(s.band),
                                         attrs={"units": "1", "long_name": "band index"})
            if self.phi_anomalous is not None:
                put("phi_anomalous", ("state", "j"), self.phi_anomalous, "1",
                    "anomalous (side-jump) deviation per unit electric field")
        if self.anomalous_hall is not None and len(self.anomalous_hall.side_jump) > 1:
            coords["mechanism"] = xr.Variable(
                ("mechanism",), list(self.anomalous_hall.side_jump),
                attrs={"units": "1", "long_name": "scattering model"})
        attrs = {"method": self.method, "converged": int(self.converged),
                 "iterations": int(self.iterations), "residual": float(self.residual),
                 "mu": float(self.mu), "T": float(self.T), **scalar_attrs(self.info)}
        return xr.Dataset(var, coords=coords, attrs=attrs)


def scalar_attrs(info: dict[str, Any]) -> dict[str, Any]:
    """The scalar entries of a solver's statistics as NetCDF attributes (booleans as 0/1;
    arrays and other objects left out)."""
    attrs: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, (bool, np.bool_)):
            attrs[key] = int(value)
        elif isinstance(value, (int, float, str, np.integer, np.floating)):
            attrs[key] = value
    return attrs


# --------------------------------------------------------------------------- the equation
class LinearBTE:
    """The linearised BTE of a Hamiltonian on a k-mesh with given scattering (module docstring).

    Parameters
    ----------
    hamiltonian
        Any :mod:`boltzphlow.bands` model.
    mesh
        Mesh sizes or a :class:`~boltzphlow.grids.kmesh.KMesh`.
    mu, T
        Chemical potential and temperature (energy units).  ``T = 0`` is refused: ``-∂f/∂ε``
        is then a δ that no mesh resolves.
    scattering
        Scattering models (:mod:`boltzphlow.scattering`), at least one.
    magnetic_field
        ``B`` (3-vector) or None.
    berry
        Include the Berry-phase terms (phase-space factor, anomalous velocity, orbital moment).
    delta
        δ approximation (default: Gaussian of width ``T``).
    n_kT
        Half-width of the energy window in units of T, widened by the largest phonon energy:
        the models' :meth:`~boltzphlow.scattering.ScatteringModel.max_phonon_energy` before the
        states exist (a Debye or Einstein energy) and, once they do, on the states of that
        window (acoustic phonons without a Debye cutoff reach ``c_s |k - k'|``); when the
        latter is larger the states are built once more in the widened window.
    spin_degeneracy
        Multiplies the conductivity and the densities (1 for the spin-resolved models of
        :mod:`bands`).
    min_thermal_states
        Fewest effective states in the thermal layer (:func:`thermal_states`) for the mesh to
        count as resolving the window (default :data:`MIN_THERMAL_STATES`).
    dtype
        Storage of the collision operator's fluxes (``np.float64`` or ``np.float32``; None:
        the default of :class:`~boltzphlow.scattering.CollisionOperator`).
    workers
        Threads assembling the operator (None: its default).
    side_jump
        Compute the side-jump anomalous Hall conductivity (Eqs. 7–12 of Xiao et al.; module
        docstring): on by default wherever it exists — two or more bands, d ≥ 2, the Berry
        terms on, no magnetic field (the theory is that of the anomalous Hall effect at
        B = 0) and a model with pair transitions.  Off, the states keep no covariant
        derivatives and the operator's pass over the pairs skips the coordinate shifts.

    Attributes
    ----------
    states
        The states in the window (:class:`~boltzphlow.kspace.KStates`).
    window
        The :class:`~boltzphlow.kspace.states.EnergyWindow` they were built in.
    phonon_energy
        The phonon energy the window was widened by.
    operator
        The :class:`~boltzphlow.scattering.CollisionOperator`.

    Raises
    ------
    ValueError
        ``T ≤ 0`` or not finite; no scattering model; no state in the window around μ; a
        thermal layer the mesh does not resolve (fewer than ``min_thermal_states`` effective
        states); a model's own parameter errors; an operator that would not fit in memory.
    """

    def __init__(self, hamiltonian: Hamiltonian, mesh: KMesh | Sequence[int], mu: float,
                 T: float, scattering: Sequence[ScatteringModel], *,
                 magnetic_field: Sequence[float] | None = None, berry: bool = True,
                 delta: DeltaFunction | None = None, n_kT: float = 20.0,
                 spin_degeneracy: float = 1.0,
                 min_thermal_states: float = MIN_THERMAL_STATES,
                 dtype: type | None = None, workers: int | None = None,
                 side_jump: bool = True) -> None:
        t = float(T)
        if not math.isfinite(t) or t <= 0:
            raise ValueError(f"T must be finite and > 0, got {T} (T = 0 is refused: -df/de is "
                             "then a delta function the mesh cannot resolve)")
        self.scattering = tuple(scattering)
        if not self.scattering:
            raise ValueError("scattering: give at least one scattering model")
        self.eq = Equilibrium(mu=float(mu), T=t)
        self.hamiltonian = hamiltonian
        self.mesh = mesh
        self.delta = delta if delta is not None else Gaussian(width=t)
        self.spin_degeneracy = float(spin_degeneracy)
        field_on = magnetic_field is not None and bool(np.any(np.asarray(magnetic_field, float)))
        paired = any(m.has_pairs for m in self.scattering)
        self.side_jump = bool(side_jump and berry and not field_on and paired
                              and hamiltonian.n_bands >= 2 and hamiltonian.dim >= 2)

        def build(omega: float) -> KStates:
            window = EnergyWindow.around(mu, t, n_kT=n_kT, phonon_energy=omega)
            states = KStates.build(
                hamiltonian, mesh, window, allow_empty=True,
                eigenvectors=(self.side_jump
                              or any(m.needs_eigenvectors for m in self.scattering)),
                covariant_derivative=self.side_jump,
                curvature=berry, orbital_moment=bool(berry and field_on))
            if not len(states):
                raise ValueError(f"mu = {mu:g}: no state lies in the energy window "
                                 f"[{window.lower:g}, {window.upper:g}] "
                                 f"(mu ± {n_kT:g} T ± {omega:g})")
            self.window = window
            return states

        # the window is widened by the largest phonon energy (processes across μ ± n_kT T carry
        # e^{-ω/T} but compete with a small transport rate: 15 % of ρ at T = T_BG/11 in 2D); a
        # model whose phonons reach as far as the wave vectors between the states (no Debye
        # cutoff) knows it only from the states
        omega = max((m.max_phonon_energy() for m in self.scattering), default=0.0)
        bare = build(omega)
        reach = max(m.max_phonon_energy(bare) for m in self.scattering)
        if reach > omega:
            omega = reach
            bare = build(omega)
        self.phonon_energy = float(omega)
        self.fields = FieldTerms.build(bare, magnetic_field, berry, hamiltonian=hamiltonian)
        self.states = self.fields.states
        n_eff = thermal_states(self.states.weight * self.eq.pauli_weight(self.states.energy))
        if n_eff < min_thermal_states:
            raise ValueError(
                f"the mesh does not resolve the thermal layer at T = {t:g}: it holds "
                f"{n_eff:.3g} effective states (need >= {min_thermal_states:g}); refine the "
                "mesh or raise T")
        self.thermal_states = n_eff
        options: dict[str, Any] = {} if dtype is None else {"dtype": dtype}
        self.operator = CollisionOperator(self.states, self.scattering, self.eq, self.delta,
                                          workers=workers, side_jump=self.side_jump, **options)
        self._densities: tuple[float, float] | None = None

    # ------------------------------------------------------------------ pieces
    @property
    def occupation_weight(self) -> np.ndarray:
        """``p_s = w_s f^0_s (1 - f^0_s)`` ``(S,)``."""
        s = self.states
        return s.weight * self.eq.pauli_weight(s.energy)

    def drives(self) -> np.ndarray:
        """Right-hand sides ``(S, 2d)``: a unit electric field along each axis, then a unit
        ``-∂_j T`` (``b^T = b^E (ε - μ)/T``, module docstring)."""
        b = self.fields.drive(self.eq)
        xi = (self.states.energy - self.eq.mu) / self.eq.T
        return np.hstack([b, b * xi[:, None]])

    def system_matrix(self) -> sp.csr_matrix:
        """``A = L + K_B`` (sparse; non-symmetric in a magnetic field)."""
        a = self.operator.matrix()
        k = self.fields.lorentz(self.eq)
        return a if k is None else (a + k).tocsr()

    def conductivity(self, phi: np.ndarray) -> np.ndarray:
        """``σ_ij`` (e²/h) of the solution ``φ`` ``(S, d)`` (intrinsic part included)."""
        p = self.occupation_weight
        sigma = (self.fields.current_velocity() * p[:, None]).T @ phi
        sigma = sigma / FieldTerms.measure(self.states.dim) + self.fields.intrinsic_conductivity(
            self.eq)
        return self.spin_degeneracy * sigma / E2_OVER_H

    def _currents(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Charge and heat currents ``(d, m)`` (model units) of the solutions ``φ`` ``(S, m)``."""
        p = self.occupation_weight
        v = self.fields.current_velocity() * p[:, None]
        scale = self.spin_degeneracy / FieldTerms.measure(self.states.dim)
        xi = self.states.energy - self.eq.mu
        return scale * (v.T @ phi), scale * ((v * xi[:, None]).T @ phi)

    def carrier_densities(self) -> tuple[float, float]:
        r"""Electron and hole densities ``(n_e, n_h)`` (L⁻ᵈ, spin degeneracy included).

        Every band of the model is summed over the whole mesh (not the window):
        ``N^occ_n = Σ_k w f^0(ε_nk) /(2π)^d`` and ``N^emp_n = Σ_k w (1 - f^0) /(2π)^d``.  A band
        whose occupied part is the smaller carries electrons (``N^occ_n``: a band crossing μ
        above its middle, or thermally populated above μ), the others holes (``N^emp_n``).  On a
        continuum box "empty" means empty inside the box.  Computed once, on first call.
        """
        if self._densities is None:
            occ = emp = None
            for chunk in band_chunks(self.hamiltonian, self.mesh, curvature=False):
                f = self.eq.fermi(chunk.energy)
                o = chunk.weight @ f
                e = chunk.weight @ (1.0 - f)
                occ = o if occ is None else occ + o
                emp = e if emp is None else emp + e
            assert occ is not None and emp is not None
            scale = self.spin_degeneracy / FieldTerms.measure(self.states.dim)
            electrons = occ < emp
            self._densities = (scale * float(occ[electrons].sum()),
                               scale * float(emp[~electrons].sum()))
        return self._densities

    def relaxation_rates(self, method: str = "mrta") -> np.ndarray:
        r"""``w f^0(1-f^0)/τ_s`` ``(S,)`` of an RTA (``1/τ_s`` times ``p_s``).

        ``"serta"``: the out-scattering ``Σ_{s'} Φ_{ss'} + Γ_s``; ``"mrta"``: each pair weighted
        by ``1 - v_{s'}·v_s/|v_s|²`` (the momentum-relaxation time; states with ``v = 0`` keep
        the SERTA rate).  Negative MRTA rates (back-flow larger than the out-flux, possible for
        strongly forward scattering on a coarse mesh) are clipped to zero.
        """
        op = self.operator
        if method == "serta":
            return op.out_flux.copy()
        if method != "mrta":
            raise ValueError(f"unknown relaxation-time approximation {method!r}")
        v = self.states.velocity
        v2 = np.einsum("sd,sd->s", v, v)
        flux_v = op.out_flux[:, None] * v - op.matvec(v)  # Φ v without forming Φ
        back = np.einsum("sd,sd->s", flux_v, v)
        moving = v2 > 0
        rate = op.out_flux.copy()
        rate[moving] -= back[moving] / v2[moving]
        return np.maximum(rate, 0.0)

    # ------------------------------------------------------------------ null space
    def _flux_sets(self) -> np.ndarray:
        """Label of the connected set of each state under the flux Φ ``(S,)``."""
        return self.operator.connected_sets()

    def _conserving_sets(self, lorentz: sp.spmatrix | None,
                         rates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Label of each state's connected set ``(S,)`` under the operator and the labels of
        the sets that conserve particles (no sink) — each has a constant null vector.

        ``rates``: the diagonal of a relaxation-time operator instead of the collision
        operator (its sets are single states, conserving where the rate vanishes).
        """
        s = len(self.states)
        if rates is None:
            labels = self._flux_sets()
            sink, scale = self.operator.sink, self.operator.out_flux
        else:
            labels = np.arange(s)
            sink, scale = (rates > 0).astype(float), np.ones(s)
        if lorentz is not None and lorentz.nnz:  # merge the sets the Lorentz force joins
            k = lorentz.tocoo()
            n = labels.max() + 1
            graph = sp.coo_matrix((np.ones(k.nnz), (labels[k.row], labels[k.col])),
                                  shape=(n, n))
            labels = connected_components(graph, directed=False)[1][labels]
        n = labels.max() + 1
        total_sink = np.bincount(labels, weights=sink, minlength=n)
        total = np.bincount(labels, weights=np.abs(scale), minlength=n)
        conserving = np.flatnonzero(total_sink <= 1e-12 * total)
        return labels, conserving

    @staticmethod
    def _membership(labels: np.ndarray, sets: np.ndarray, values: np.ndarray) -> sp.csc_matrix:
        """``(S, m)`` sparse: column c holds ``values`` on the states of set ``sets[c]``."""
        col = np.full(labels.max() + 1, -1)
        col[sets] = np.arange(len(sets))
        rows = np.flatnonzero(col[labels] >= 0)
        return sp.csc_matrix((values[rows], (rows, col[labels[rows]])),
                             shape=(len(labels), len(sets)))

    # ------------------------------------------------------------------ solve
    def solve(self, method: str = "krylov", *, rtol: float = 1e-8,
              maxiter: int = 1000, thermal: bool = True) -> BTEResult:
        """Solve for a unit electric field (and, with ``thermal``, a unit ``-∇T``) along every
        axis.

        Parameters
        ----------
        method
            One of :data:`METHODS` (module docstring); default ``"krylov"`` (conjugate
            gradients at B = 0, GMRES in a field, where the Jacobi-type ``"iterative"``
            scheme may diverge once the Lorentz term outweighs the scattering).
        rtol
            Relative residual of the scaled system asked for (iterative and Krylov methods;
            the direct and RTA methods report theirs).  Smooth-in-energy (even) modes of a
            smeared elastic operator relax slowly (energy diffusion over the smearing width)
            and carry no current: residuals far below ``1e-8`` cost many iterations for
            nothing.
        maxiter
            Most iterations (iterative, conjugate gradients) or inner GMRES iterations.
        thermal
            Also solve the thermal drive (Seebeck, κ_e); off, only σ is computed.
        """
        if method not in METHODS:
            raise ValueError(f"unknown BTE method {method!r}; choose one of {', '.join(METHODS)}")
        if not (math.isfinite(rtol) and rtol > 0):
            raise ValueError(f"rtol must be finite and > 0, got {rtol}")
        if maxiter < 1:
            raise ValueError(f"maxiter must be >= 1, got {maxiter}")
        start = time.perf_counter()
        d = self.states.dim
        op = self.operator
        b = self.drives() if thermal else self.fields.drive(self.eq)
        n_normal = b.shape[1]
        anomalous = self.anomalous_drives()
        if anomalous:
            b = np.hstack([b, *anomalous.values()])
        p = self.occupation_weight
        lorentz = self.fields.lorentz(self.eq)
        lorentz = None if lorentz is None else sp.csr_matrix(lorentz)
        rta = method in ("mrta", "serta")
        diag = self.relaxation_rates(method) if rta else op.out_flux
        scattered = diag > 0
        scale = np.sqrt(np.where(scattered, diag, 1.0))
        labels, sets = self._conserving_sets(lorentz, diag if rta else None)
        info: dict[str, Any] = {"n_states": len(p), "n_pairs": int(op.n_pairs),
                                "conserving_sets": len(sets),
                                "unscattered_states": int(np.count_nonzero(~scattered)),
                                "thermal_states": float(self.thermal_states)}
        # drive outside the range of a conserving operator: Σ_set b ≠ 0 (a particle source)
        member = self._membership(labels, sets, p)
        ones = self._membership(labels, sets, np.ones_like(p))
        source = ones.T @ b  # (m, k)
        total = ones.T @ p
        b_range = b - member @ (source / total[:, None])
        info["drive_out_of_range"] = float(np.linalg.norm(b - b_range) / max(np.linalg.norm(b),
                                                                              1e-300))
        b_hat = b_range / scale[:, None]
        if rta or method == "direct":
            a = sp.diags(diag) if rta else op.matrix()
            if lorentz is not None:
                a = a + lorentz
            a_hat = (sp.diags(1.0 / scale) @ a @ sp.diags(1.0 / scale)).tocsr()

            def apply(x: np.ndarray) -> np.ndarray:
                return a_hat @ x

            x_hat, iters, conv = self._direct(a_hat, b_hat, member, scale), 1, True
        else:
            def apply(x: np.ndarray) -> np.ndarray:
                y = x / (scale if x.ndim == 1 else scale[:, None])
                ay = op.matvec(y) if lorentz is None else op.matvec(y) + lorentz @ y
                if op.has_skew:
                    ay += op.skew_matvec(y)
                return ay / (scale if x.ndim == 1 else scale[:, None])

            if method == "iterative":
                x_hat, iters, conv, extra = self._iterative(apply, b_hat, member, ones, scale,
                                                            rtol, maxiter)
                info.update(extra)
            else:
                x_hat, iters, conv = self._krylov(apply, b_hat, ones, scale, rtol, maxiter,
                                                  symmetric=lorentz is None and not op.has_skew)
        phi = x_hat / scale[:, None]
        phi = self._pin(phi, member, ones)
        r = np.linalg.norm(b_hat - apply(phi * scale[:, None]), axis=0)
        rel = r / np.maximum(np.linalg.norm(b_hat, axis=0), 1e-300)
        residual = float(rel.max())
        # the true residual of the pinned solution; a factorisation is held to round-off
        converged = (bool(conv and residual <= 10 * rtol) if method in ("iterative", "krylov")
                     else bool(residual <= 1e-6))
        info["solve_time_s"] = time.perf_counter() - start
        phi, phi_a = phi[:, :n_normal], phi[:, n_normal:]
        j_charge, j_heat = self._currents(phi)
        intrinsic = self.spin_degeneracy * self.fields.intrinsic_conductivity(self.eq) / E2_OVER_H
        sigma = j_charge[:, :d] / E2_OVER_H + intrinsic
        hall = None
        if anomalous:
            normal = j_charge[:, :d] / E2_OVER_H
            skew = _antisymmetric(normal) if op.has_skew and not rta else None
            hall = self._side_jump(phi[:, :d], phi_a, list(anomalous), intrinsic, skew)
            sigma = sigma + hall.side_jump_total
        n_e, n_h = self.carrier_densities()
        return BTEResult(
            sigma=sigma, phi=phi[:, :d], method=method, converged=converged, iterations=iters,
            residual=residual, info=info,
            phi_thermal=phi[:, d:] if thermal else None,
            thermoelectric=j_charge[:, d:] if thermal else None,
            heat_electric=j_heat[:, :d] if thermal else None,
            heat=j_heat[:, d:] if thermal else None,
            mu=self.eq.mu, T=self.eq.T, electron_density=n_e, hole_density=n_h,
            states=self.states, anomalous_hall=hall,
            phi_anomalous=(None if hall is None else
                           phi_a.reshape(len(p), -1, d).sum(axis=1)))

    def anomalous_drives(self) -> dict[str, np.ndarray]:
        r"""Right-hand sides of the anomalous distribution ``(S, d)`` per scattering model
        with pair transitions (empty without side jump).

        Eq. 10 of Xiao et al. (Eq. 4 for static impurities) multiplied by
        ``w f^0(1-f^0)/T``: the shift ``E·δr_{ℓ'ℓ}`` of the final-state energy adds
        ``Σ_{ℓ'} Φ_{ℓℓ'} E·δr_{ℓ'ℓ} / T`` to the collision term, so for a unit field along j
        ``L φ^a = -J^{sj}_j / T`` with the operator's side-jump flux
        ``J^{sj}_s = Σ_{s'} Φ_{ss'} δr_{s'←s} = w_s f^0_s(1-f^0_s) v^{sj}_s`` (Eq. 12): the
        normal drive with the band velocity replaced by ``-v^{sj}``.  Each model's drive is
        solved separately (the operator is the full one) so that its share is known.
        """
        if not self.side_jump:
            return {}
        op = self.operator
        return {name: -op.side_jump_flux_parts[name] / self.eq.T
                for name, model in zip(op.names, op.models, strict=True) if model.has_pairs}

    def _side_jump(self, phi: np.ndarray, phi_a: np.ndarray, names: list[str],
                   intrinsic: np.ndarray, skew: np.ndarray | None) -> AnomalousHall:
        """The two terms of Eq. 8 per model from the normal ``φ`` ``(S, d)`` and the anomalous
        solutions ``(S, d × models)`` (in the order of :meth:`anomalous_drives`)."""
        d = self.states.dim
        scale = self.spin_degeneracy / FieldTerms.measure(d) / E2_OVER_H
        parts = {}
        for m, name in enumerate(names):
            flux = self.operator.side_jump_flux_parts[name]
            first = scale * (flux.T @ phi)  # Σ δf^n v^sj: [i, j] = Σ_s J_{s,i} φ_{s,j}
            second = self._currents(phi_a[:, m * d:(m + 1) * d])[0] / E2_OVER_H
            parts[name] = (first, second)
        return AnomalousHall(intrinsic=intrinsic, side_jump=parts, skew=skew)

    @staticmethod
    def _pin(phi: np.ndarray, member: sp.csc_matrix, ones: sp.csc_matrix) -> np.ndarray:
        """``φ`` shifted by a constant on each conserving set so that ``Σ_set p φ = 0``."""
        if member.shape[1] == 0:
            return phi
        shift = (member.T @ phi) / np.asarray(member.sum(axis=0)).ravel()[:, None]
        return phi - ones @ shift

    def _direct(self, a_hat: sp.csr_matrix, b_hat: np.ndarray, member: sp.csc_matrix,
                scale: np.ndarray) -> np.ndarray:
        """LU of the bordered scaled system (module docstring)."""
        s, m = a_hat.shape[0], member.shape[1]
        u = sp.diags(1.0 / scale) @ member
        norms = np.sqrt(np.asarray(u.multiply(u).sum(axis=0)).ravel())
        u = (u @ sp.diags(1.0 / np.where(norms > 0, norms, 1.0))).tocsc()
        bordered = sp.bmat([[a_hat, u], [u.T, None]], format="csc")
        rhs = np.vstack([b_hat, np.zeros((m, b_hat.shape[1]))])
        n = s + m
        if bordered.nnz > DENSE_FRACTION * n * n:
            check_memory(8.0 * n * n * 2, f"the dense LU of the BTE ({n} unknowns)", ["mesh"])
            x = np.linalg.solve(bordered.toarray(), rhs)
        else:
            check_memory(16.0 * min(n * n, 20 * bordered.nnz),
                         f"the sparse LU of the BTE ({n} unknowns, {bordered.nnz} nonzeros)",
                         ["mesh"])
            x = spla.splu(bordered).solve(rhs)
        return x[:s]

    def _iterative(self, apply: Callable[[np.ndarray], np.ndarray], b_hat: np.ndarray,
                   member: sp.csc_matrix,
                   ones: sp.csc_matrix, scale: np.ndarray, rtol: float,
                   maxiter: int) -> tuple[np.ndarray, int, bool, dict[str, Any]]:
        """Damped Jacobi (Richardson) iteration of the scaled system with a safeguard."""
        norm_b = np.maximum(np.linalg.norm(b_hat, axis=0), 1e-300)
        x = np.zeros_like(b_hat)
        r = b_hat.copy()
        best_x, best = x, np.inf
        omega, history = 1.0, []
        iters = 0
        for iters in range(1, maxiter + 1):  # noqa: B007 - the count is reported
            x = x + omega * r
            x = self._pin(x / scale[:, None], member, ones) * scale[:, None]
            r = b_hat - apply(x)
            rel = float((np.linalg.norm(r, axis=0) / norm_b).max())
            history.append(rel)
            if not math.isfinite(rel):
                rel = np.inf
            if rel <= rtol:
                best_x, best = x, rel
                break
            if rel < best:
                best_x, best = x, rel
            elif rel > 1.5 * best:  # diverging: damp, restart from best
                if omega <= 1.0 / 64:  # still diverging at the smallest step: give up
                    break
                omega *= 0.5
                x = best_x
                r = b_hat - apply(x)
        extra = {"relaxation": omega, "final_iterative_residual": float(best),
                 "residual_history": np.asarray(history)}
        return best_x, iters, best <= rtol, extra

    def _krylov(self, apply: Callable[[np.ndarray], np.ndarray], b_hat: np.ndarray,
                ones: sp.csc_matrix,
                scale: np.ndarray, rtol: float, maxiter: int, *,
                symmetric: bool = False) -> tuple[np.ndarray, int, bool]:
        """Krylov solve of the scaled system with the constant null vectors lifted
        (``Â + n nᵀ``): conjugate gradients on all right-hand sides at once when ``Â`` is
        symmetric (no Lorentz term: ``Â + n nᵀ`` is then positive definite), GMRES column by
        column otherwise."""
        n = (sp.diags(scale) @ ones).tocsc()
        norms = np.sqrt(np.asarray(n.multiply(n).sum(axis=0)).ravel())
        n = (n @ sp.diags(1.0 / np.where(norms > 0, norms, 1.0))).tocsc()
        if symmetric:
            out = cg(lambda x: apply(x) + n @ (n.T @ x), b_hat, rtol=rtol, maxiter=maxiter)
            return out.x, out.iterations, out.converged
        s = b_hat.shape[0]
        op = spla.LinearOperator((s, s), matvec=lambda x: apply(np.ravel(x)) + n @ (n.T @ x),
                                 dtype=float)
        restart = min(40, s)
        x = np.zeros_like(b_hat)
        iters, conv = 0, True
        for c in range(b_hat.shape[1]):
            if not np.any(b_hat[:, c]):
                continue
            out = gmres(op, b_hat[:, c], rtol=rtol, restart=restart,
                        max_restarts=max(1, maxiter // restart))
            x[:, c] = out.x
            iters, conv = max(iters, out.iterations), conv and out.converged
        return x, iters, conv
