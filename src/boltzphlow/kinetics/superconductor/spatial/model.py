"""The spatial quasiparticle–phonon model: the 0-D collisions in every cell, transport between
cells, Strang splitting through the solver spine.

Physics from M. Li, *Documentation for BoltzPhlow and BTE approach to QP–phonon transport*:
the BTE with streaming (§2.1, Eqs. 30–31 and 38), the collision integrals of the 0-D model
(Eqs. 33–40, evaluated with the FFT sums of §2.2 for all cells at once), a gap Δ(r, t) that
depends on space, static or self-consistent with the local occupation (§2.3), with the
phase-space terms of Eqs. 52–56 (the QP states of each cell are the partly filled bins of
its own gap on the one commensurate grid; the transport weights ``N_i(Δ)`` and velocities
``v̄_i`` keep ``N_i v̄_i`` independent of Δ), and the spherical
``(r, ε, θ)`` problem at the end of §2.4 (boundary conditions after Eq. 181, the Gaussian
initial packet).

Units: energies µeV, temperatures K, times ns, lengths µm.

Time stepping.  One outer step of size ``dt`` is ``T(dt/2) C(dt) T(dt/2)`` (Strang): ``T``
the transport steps of both species (:class:`~.transport.Diffusion`, TR-BDF2, or
:class:`~.transport.Streaming`, MUSCL + SSP-RK2; both second order) and ``C`` the collision
step of every cell as one ODE handed to :func:`boltzphlow.integrate.integrate` (default the
``rosenbrock`` scheme, whose stage systems are solved matrix-free by GMRES: the Jacobian is
block diagonal over cells and applied by the batched
:meth:`~boltzphlow.kinetics.superconductor.collisions.CollisionOperator.linearize`; no dense
Jacobian is formed).  With ballistic transport the collisions act on the angle average and
their change is added isotropically.  Second order in time overall (tested).  With
``rosenbrock`` one ROS2 step is taken per collision step (default ``fixed_step``); the outer
steps may start small and grow (``dt_first``, ``dt_growth``), as a photon's packet relaxes
fastest at first.

Self-consistent gap (``gap="self-consistent"``).  After every outer step the gap equation
of every cell is solved for its own occupation, all cells at once (no loop of root finds):
``f`` is attached to the normal-state energy ξ and carried by overlap to the bins of the
trial gap (QP number exact), as the 0-D
:meth:`~boltzphlow.kinetics.superconductor.model.QPPhononModel.update_gap`; the collision
operator, QP weights, velocities and transport are then rebuilt for the new gaps.  The QP
energy change of the carry is the work exchanged with the condensate (``gap_exchange``).

Walls.  Escape walls connect to an outside at ``T_bath`` (a substrate for phonons, a trap
for QPs): its thermal occupation comes back in with the same transmission, so a film at
``T_bath`` is stationary; the energy out (``energy_outflow``) and in (``energy_inflow``) are
both recorded and ``energy_escaped`` is their difference.

Energy bookkeeping.  Inside (QP ``4N0 Σ_cells V Σ_i N_i E_i f_i`` plus phonon ``4N0
Σ_cells V Σ_J P_J ω_J n_J``) plus the energy escaped through each wall (the transport steps'
outflow minus inflow times the bin energies and 4N0) minus the energy injected minus the gap
exchange is conserved; its drift is
reported (``bookkeeping_drift``) and flagged (``check_failed``) as in the 0-D model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from boltzphlow import stats
from boltzphlow.errors import SolverError
from boltzphlow.integrate import SolverStats, get_integrator, integrate
from boltzphlow.integrate.base import Counters
from boltzphlow.integrate.linear import BlockOperator
from boltzphlow.kinetics.superconductor import gap as gapmod
from boltzphlow.kinetics.superconductor.collisions import CollisionOperator, Linearization
from boltzphlow.kinetics.superconductor.dos import xi_of_energy
from boltzphlow.kinetics.superconductor.materials import Material
from boltzphlow.kinetics.superconductor.materials import material as load_material
from boltzphlow.kinetics.superconductor.model import (
    FFT_ARRAYS,
    ParameterError,
    QPPhononModel,
    State,
    _finite,
    _p,
)
from boltzphlow.kinetics.superconductor.parameters import FilmParameters, GridParameters
from boltzphlow.kinetics.superconductor.sources import Injection, PhotonHit
from boltzphlow.kinetics.superconductor.spatial.geometry import Geometry, Slab, Sphere
from boltzphlow.kinetics.superconductor.spatial.parameters import SpaceParameters as _S
from boltzphlow.kinetics.superconductor.spatial.transport import (
    Diffusion,
    Streaming,
    qp_bin_velocity,
)
from boltzphlow.resources import check_memory
from boltzphlow.units import K_B

__all__ = ["BoundaryInjection", "PointPhoton", "SpatialQPPhononModel", "SpatialState"]

#: Transport kinds per species.
TRANSPORTS = ("diffusive", "ballistic")
#: Default growth factor of the outer steps after ``dt_first`` (see ``evolve``).
DT_GROWTH = 2.0
#: Relative residual of the GMRES stage solves with one ROS2 step per collision step: the
#: splitting error of the profiles (≳ 1e-3 at useful outer steps) is unchanged by it
#: (benchmark), and it needs ~2.5 products per stage instead of ~4 at 1e-6.
FIXED_STEP_LINEAR_RTOL = 1e-3
#: Krylov vectors per unknown the Rosenbrock stage solves hold (GMRES basis of 40 + work).
KRYLOV_VECTORS = 48


@dataclass(frozen=True)
class PointPhoton:
    """A photon absorbed at ``position`` (µm): its ``energy`` (µeV) deposited as QPs in a
    Gaussian packet in space of width ``size`` (µm) about ``position`` (a ball about the
    centre of a sphere for ``position = 0``, a shell otherwise), with isotropic momenta and
    the energy spectrum of the 0-D :class:`~..sources.PhotonHit` (a Gaussian of ``width`` at
    ``epsilon0``, µeV).  The deposit is exact on the grids."""

    energy: float
    position: float = 0.0
    size: float = 1.0
    epsilon0: float = 700.0
    width: float = 20.0

    def __post_init__(self) -> None:
        for key in ("energy", "size", "epsilon0", "width"):
            v = getattr(self, key)
            if not (_finite(v) and v > 0):
                raise ValueError(f"photon.{key}: must be a positive finite number, got {v!r}")
        if not (_finite(self.position) and self.position >= 0):
            raise ValueError(f"photon.position: must be ≥ 0 µm, got {self.position!r}")


@dataclass(frozen=True)
class BoundaryInjection:
    """Continuous QP injection through a wall: ``power`` (µeV/ns per µm² of wall area) into
    the cell at the wall, as QPs in the 0-D :class:`~..sources.Injection` packet
    (``epsilon0``, ``width`` in µeV).  ``wall`` is ``"lower"``/``"upper"`` (slab) or
    ``"surface"`` (sphere); default the first wall of the geometry."""

    power: float
    epsilon0: float = 700.0
    width: float = 20.0
    wall: str | None = None

    def __post_init__(self) -> None:
        if not (_finite(self.power) and self.power >= 0):
            raise ValueError(f"injection.power: must be ≥ 0, got {self.power!r}")
        for key in ("epsilon0", "width"):
            v = getattr(self, key)
            if not (_finite(v) and v > 0):
                raise ValueError(f"injection.{key}: must be a positive finite number, got "
                                 f"{v!r}")


@dataclass
class SpatialState:
    """Occupations of a spatial model: ``f`` ``(cells, E)`` or ``(cells, angles, E)``
    (ballistic QPs), ``n`` ``(cells, omega)`` or ``(cells, angles, omega)``; ``delta`` the
    gaps ``(cells,)`` (µeV) the QP bins belong to (``None``: the model's current gaps)."""

    f: np.ndarray
    n: np.ndarray
    delta: np.ndarray | None = None


class _CellsProblem:
    """The collision ODE of all cells, ``y = (f.ravel(), n.ravel())`` (angle averages), with
    a matrix-free block-diagonal Jacobian and its diagonal (the spine's contract)."""

    autonomous = True

    def __init__(self, op: CollisionOperator, source: np.ndarray) -> None:
        self.op = op
        self.cells, self.nq, self.nph = op.cells, op.grid.n_qp, op.grid.n_phonon
        self.split_at = self.cells * self.nq
        self.source = source
        self._lin: tuple[np.ndarray, Linearization] | None = None

    def split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (y[:self.split_at].reshape(self.cells, self.nq),
                y[self.split_at:].reshape(self.cells, self.nph))

    def linearization(self, y: np.ndarray) -> Linearization:
        if self._lin is None or not np.array_equal(self._lin[0], y):
            f, n = self.split(y)
            self._lin = (y.copy(), self.op.linearize(f, n))
        return self._lin[1]

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        if self._lin is not None and np.array_equal(self._lin[0], y):
            r = self._lin[1].rates  # the state of the last Jacobian: its rates are known
        else:
            f, n = self.split(y)
            r = self.op.rates(f, n, terms=False)
        return np.concatenate([(r.f + self.source).ravel(), r.n.ravel()])

    def rhs_and_loss(self, t: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rates and the loss frequencies of every component (for the positivity-
        preserving time relaxation of Li §2.2, ``method="relaxation"``)."""
        f, n = self.split(y)
        r = self.op.rates(f, n, terms=True)
        return (np.concatenate([(r.f + self.source).ravel(), r.n.ravel()]),
                np.concatenate([r.loss_f.ravel(), r.loss_n.ravel()]))

    def jacobian(self, t: float, y: np.ndarray) -> BlockOperator:
        lin = self.linearization(y)
        C, nq, M = self.cells, self.nq, self.nph

        def apply(top, bottom, want_top, want_bottom):
            df = None if top is None else top.reshape(C, nq)
            dn = None if bottom is None else bottom.reshape(C, M)
            d_f, d_n = lin.apply(df, dn, want_top, want_bottom)
            return (None if d_f is None else d_f.ravel(), None if d_n is None else d_n.ravel())

        return BlockOperator(y.size, self.split_at, apply)

    def jacobian_diagonal(self, t: float, y: np.ndarray) -> np.ndarray:
        d_f, d_n = self.linearization(y).diagonal()
        return np.concatenate([d_f.ravel(), d_n.ravel()])


class SpatialQPPhononModel:
    """QP and phonon kinetics in a slab or a sphere (module docstring for the scheme).

    Parameters
    ----------
    material
        A :class:`~..materials.Material` or a built-in name; its ``fermi_velocity`` and
        ``sound_velocity`` are the default speeds.
    geometry
        ``"sphere"`` (needs ``radius``), ``"slab"`` (needs ``length``) or a
        :class:`~.geometry.Geometry`.
    radius, length
        Size (µm).
    cells
        Number of cells (uniform).
    T_bath, energy_step, E_max, omega_max
        As for the 0-D :class:`~..model.QPPhononModel` (K, µeV), which builds the grid, the
        weights, the thermal states, the deposits and the collision operator of every cell.
    delta
        ``None`` (BCS Δ(T_bath) everywhere), a gap (µeV) or a static profile, an array of
        one gap per cell: each cell's QP states are then the partly filled bins of its gap on
        the grid made for the smallest one (:meth:`cell_gaps` is the hook a self-consistent
        gap will replace).
    qp_transport, phonon_transport
        ``"diffusive"`` (default) or ``"ballistic"`` (``n_angles`` directions).
    fermi_velocity, sound_velocity
        Speeds (µm/ns); default the material's.
    qp_mean_free_path, phonon_mean_free_path
        Mean free paths (µm) of the diffusive limit, ``D = v ℓ/3`` with the QP group velocity
        per bin (:func:`~.transport.qp_bin_velocity`) and the sound velocity.
    qp_boundary, phonon_boundary
        Wall kinds per species: ``"reflecting"``, ``"absorbing"``, ``"escape"`` (with
        ``qp_transmission``/``phonon_transmission``), a :class:`~.transport.Wall`, or (slab)
        one per end, lower first.
    photon
        A :class:`PointPhoton` absorbed at ``t = 0`` (added by :meth:`initial_state`).
    injection
        A :class:`BoundaryInjection`.
    gap
        ``"fixed"`` (default: the static gaps of ``delta``) or ``"self-consistent"``: after
        every outer step each cell's gap is re-solved from its local QP occupation, the 0-D
        way (:meth:`~..model.QPPhononModel.update_gap`: ``f`` is attached to the normal-state
        energy ξ and carried by overlap to the bins of the new gap, QP number exact; Li,
        Eqs. 52–56), and the QP weights, velocities, transport and collision operator follow
        the new gaps.  The QP energy change of the update is the energy exchanged with the
        condensate (``gap_exchange`` in the bookkeeping, as in the 0-D model).

    Notes
    -----
    Escape walls exchange particles with an outside at ``T_bath`` (a substrate for phonons, a
    trap for QPs): the thermal occupation comes back in with the same transmission, so a
    film at ``T_bath`` is stationary; both directions are recorded (``*_inflow``).
    """

    def __init__(self, material: Material | str,
                 geometry: str | Geometry = _S.geometry, *,
                 radius: float | None = None, length: float | None = None,
                 cells: int = _S.cells, T_bath: float = FilmParameters.T_bath,
                 energy_step: float = GridParameters.energy_step,
                 E_max: float = GridParameters.E_max, omega_max: float | None = None,
                 delta: float | np.ndarray | None = None,
                 qp_transport: str = _S.qp_transport,
                 phonon_transport: str = _S.phonon_transport, n_angles: int = _S.n_angles,
                 fermi_velocity: float | None = None, sound_velocity: float | None = None,
                 qp_mean_free_path: float = _S.qp_mean_free_path,
                 phonon_mean_free_path: float = _S.phonon_mean_free_path,
                 qp_boundary: Any = _S.qp_boundary, phonon_boundary: Any = _S.phonon_boundary,
                 qp_transmission: Any = None, phonon_transmission: Any = None,
                 photon: PointPhoton | None = None, injection: BoundaryInjection | None = None,
                 gap: str = FilmParameters.gap) -> None:
        mat = load_material(material) if isinstance(material, str) else material
        if not isinstance(mat, Material):
            raise ParameterError("material", "must be a Material or a built-in name")
        if gap not in ("fixed", "self-consistent"):
            raise ParameterError("gap", f"must be 'fixed' or 'self-consistent', got {gap!r}")
        self.gap_mode = gap
        self.material = mat
        self.geometry = self._geometry(geometry, radius, length, cells)
        C = self.geometry.cells
        for name, kind in (("qp_transport", qp_transport), ("phonon_transport",
                                                            phonon_transport)):
            if kind not in TRANSPORTS:
                raise ParameterError(name, f"must be 'diffusive' or 'ballistic', got {kind!r}")
        self.qp_transport, self.phonon_transport = qp_transport, phonon_transport
        for name, value, default in (("fermi_velocity", fermi_velocity, mat.fermi_velocity),
                                     ("sound_velocity", sound_velocity, mat.sound_velocity)):
            v = default if value is None else value
            if v is None:
                raise ParameterError(name, f"the material {mat.name} gives none: set it (µm/ns)")
            if not (_finite(v) and v > 0):
                raise ParameterError(name, f"must be a positive speed (µm/ns), got {v!r}")
            setattr(self, name, float(v))
        for name, value in (("qp_mean_free_path", qp_mean_free_path),
                            ("phonon_mean_free_path", phonon_mean_free_path)):
            if not (_finite(value) and value > 0):
                raise ParameterError(name, f"must be a positive length (µm), got {value!r}")
            setattr(self, name, float(value))
        # the gap: uniform or a static profile; the 0-D model is built at the smallest gap
        profile = None
        if delta is not None and np.ndim(delta) > 0:
            profile = np.asarray(delta, dtype=float)
            if profile.shape != (C,) or not np.all(np.isfinite(profile)) or np.any(
                    profile <= 0):
                raise ParameterError("delta", f"a gap profile needs {C} positive gaps (µeV), "
                                              f"one per cell, got shape {profile.shape}")
        local_delta = float(profile.min()) if profile is not None else delta
        self.local = QPPhononModel(mat, T_bath, energy_step, E_max, delta=local_delta,
                                   omega_max=omega_max, gap=gap)
        self.T_bath = self.local.T_bath
        self.grid = self.local.grid
        self._gaps = (np.full(C, self.local.delta) if profile is None else profile.copy())
        self.photon, self.injection = photon, injection
        self.n_angles = n_angles
        g = self.grid
        K = n_angles if "ballistic" in (qp_transport, phonon_transport) else 1
        per_cell = (2 * g.n_qp + g.n_phonon + 2) * FFT_ARRAYS + K * (g.n_qp + g.n_phonon) * 14
        check_memory(8.0 * C * per_cell, f"the spatial model ({C} cells x {g.n_qp} QP bins x "
                                         f"{g.n_phonon} phonon energies)",
                     ["cells", "energy_step", "E_max", "n_angles"])
        self.P = self.local.phonon_weights
        kT = K_B * self.T_bath
        #: Occupations outside the escape walls (QPs, phonons): thermal at ``T_bath``.
        self.bath = (stats.fermi(g.energies, 0.0, kT), stats.bose(g.omega, kT))
        self._qp_walls = (qp_boundary, qp_transmission)
        self._set_gaps(self._gaps)
        ph_w = np.broadcast_to(self.P, (C, g.n_phonon))
        self.phonon = self._transport("phonon", phonon_transport, ph_w, self.sound_velocity,
                                      self.sound_velocity * self.phonon_mean_free_path / 3.0,
                                      phonon_boundary, phonon_transmission, self.bath[1])
        if photon is not None:
            self._photon_cells(photon)
            self._check_source("photon", photon.epsilon0, photon.width)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _geometry(geometry: Any, radius: Any, length: Any, cells: Any) -> Geometry:
        if isinstance(geometry, Geometry):
            return geometry
        try:
            if geometry == "sphere":
                if radius is None:
                    raise ParameterError("radius", "a sphere needs its radius (µm)")
                return Sphere(radius, cells)
            if geometry == "slab":
                if length is None:
                    raise ParameterError("length", "a slab needs its length (µm)")
                return Slab(length, cells)
        except ParameterError:
            raise
        except ValueError as exc:
            name, _, reason = str(exc).partition(": ")
            raise ParameterError(name, reason or str(exc)) from None
        raise ParameterError("geometry", f"must be 'sphere', 'slab' or a Geometry, got "
                                         f"{geometry!r}")

    def _set_gaps(self, gaps: np.ndarray) -> None:
        """Make the cells' gaps ``gaps`` (µeV): the collision operator (each cell's partly
        filled bins and exact ∫ϕ, as the 0-D operator), the QP weights, bin velocities and
        transport, and the injection rates all follow them."""
        g, mat = self.grid, self.material
        low = float(np.min(gaps))
        if low < g.edges[0]:
            raise SolverError(f"the gap fell to {low:.5g} µeV, below the lowest QP energy "
                              f"{g.edges[0]:.5g} µeV of the grid: the excitation destroys "
                              f"too much of the gap (deposit less energy)")
        self._gaps = np.array(gaps, dtype=float)
        self.op = CollisionOperator(g, self._gaps, mat.tau0, mat.tau_pb, mat.kTc, mat.delta0)
        self.states = self.op.N  # (C, nq)
        self.qp_speed = qp_bin_velocity(g.edges, self._gaps[:, None], self.fermi_velocity)
        boundary, transmission = self._qp_walls
        self.qp = self._transport("qp", self.qp_transport, self.states, self.qp_speed,
                                  self.qp_speed * self.qp_mean_free_path / 3.0, boundary,
                                  transmission, self.bath[0])
        self.source = self._injection_rates(self.injection)

    def _transport(self, species: str, kind: str, weight: np.ndarray, speed: Any,
                   diffusivity: Any, boundary: Any, transmission: Any,
                   bath: np.ndarray) -> Diffusion | Streaming:
        try:
            if kind == "diffusive":
                return Diffusion(self.geometry, weight, diffusivity, boundary, speed=speed,
                                 transmission=transmission, bath=bath)
            return Streaming(self.geometry, self.n_angles, weight, speed, boundary,
                             transmission=transmission, bath=bath)
        except ValueError as exc:
            name, _, reason = str(exc).partition(": ")
            key = {"boundary": f"{species}_boundary", "transmission": f"{species}_transmission",
                   "n_angles": "n_angles"}.get(name, f"{species}_{name}")
            raise ParameterError(key, reason or str(exc)) from None

    def _check_source(self, name: str, epsilon0: float, width: float) -> None:
        top = epsilon0 + 3 * width
        if epsilon0 < float(self._gaps.max()):
            raise ParameterError(f"{name}.epsilon0", f"{epsilon0:g} µeV is below the gap "
                                                     f"{self._gaps.max():.5g} µeV")
        if top > self.grid.e_max:
            raise ParameterError(f"{name}.epsilon0", f"the packet at {epsilon0:g} ± {width:g} "
                                                     f"µeV reaches above {_p('E_max')} = "
                                                     f"{self.grid.e_max:.6g} µeV")

    def _injection_rates(self, inj: BoundaryInjection | None) -> np.ndarray:
        """``∂_t f`` per cell of the continuous injection (the 0-D injection shape)."""
        g = self.geometry
        out = np.zeros((g.cells, self.grid.n_qp))
        self._inject_power = 0.0
        if inj is None or inj.power == 0:
            return out
        if not isinstance(inj, BoundaryInjection):
            raise ParameterError("injection", "must be a BoundaryInjection")
        wall = g.walls[0] if inj.wall is None else inj.wall
        if wall not in g.walls:
            raise ParameterError("injection.wall", f"must be one of {g.walls}, got {wall!r}")
        self._check_source("injection", inj.epsilon0, inj.width)
        cell = 0 if wall == "lower" else g.cells - 1
        area = float(g.areas[0 if wall == "lower" else -1])
        self._inject_power = inj.power * area  # µeV/ns into the model
        density = self._inject_power / float(g.volumes[cell])
        self.local.injection = Injection(power=density, epsilon0=inj.epsilon0, width=inj.width)
        try:
            out[cell] = self.local.injection_rate(self.states[cell])
        finally:
            self.local.injection = None
        return out

    def _photon_cells(self, photon: PointPhoton) -> np.ndarray:
        """Energy (µeV) deposited in each cell: a Gaussian packet in space, normalised."""
        g = self.geometry
        if photon.position > g.extent:
            raise ParameterError("photon.position", f"{photon.position:g} µm lies outside the "
                                                    f"{g.kind} (0 to {g.extent:g} µm)")
        # cell averages of the packet (5-point Gauss rule per cell)
        x, w = np.polynomial.legendre.leggauss(5)
        lo, hi = g.edges[:-1, None], g.edges[1:, None]
        r = 0.5 * (hi + lo) + 0.5 * (hi - lo) * x
        jac = 0.5 * (hi - lo) * w * (4 * math.pi * r * r if g.kind == "sphere" else 1.0)
        dens = np.exp(-0.5 * ((r - photon.position) / photon.size) ** 2)
        if g.kind == "slab":  # mirror images keep the packet inside reflecting ends
            dens = dens + np.exp(-0.5 * ((r + photon.position) / photon.size) ** 2)
        per_cell = (dens * jac).sum(axis=1)
        if not per_cell.sum() > 0:
            raise ParameterError("photon.size", f"{photon.size:g} µm is too small for the "
                                                f"cells: the packet holds none")
        return photon.energy * per_cell / per_cell.sum()

    # ------------------------------------------------------------------ basics
    @property
    def E(self) -> np.ndarray:
        """QP bin centres (µeV), those of the 0-D model of every cell."""
        return self.local.E

    @property
    def omega(self) -> np.ndarray:
        """Phonon energies (µeV)."""
        return self.local.omega

    @property
    def N0(self) -> float:
        """Single-spin DOS at E_F, 1/(µeV µm³)."""
        return self.local.N0

    @property
    def cells(self) -> int:
        return self.geometry.cells

    def cell_gaps(self) -> np.ndarray:
        """The gap per cell (µeV) the QP weights are built from (a copy)."""
        return self._gaps.copy()

    def _angles(self, species: str) -> int | None:
        tr = self.qp if species == "qp" else self.phonon
        return tr.n_angles if isinstance(tr, Streaming) else None

    def _average(self, species: str, x: np.ndarray) -> np.ndarray:
        tr = self.qp if species == "qp" else self.phonon
        return tr.angle_average(x) if isinstance(tr, Streaming) else x

    def _spread(self, species: str, x: np.ndarray, change: np.ndarray) -> np.ndarray:
        """``x`` plus an isotropic ``change`` of its angle average."""
        if self._angles(species) is None:
            return x + change if change is not None else x
        return x + change[:, None, :]

    def thermal(self, T: float) -> SpatialState:
        """The uniform thermal state at ``T`` (K) (isotropic).

        With a self-consistent gap its ``delta`` is the gap that solves the gap equation on
        the grid for the Fermi occupation of the bins of that gap (the BCS Δ(T) up to the
        discretisation), so that the state is stationary, gap included, to round-off."""
        s = self.local.thermal(T)
        f = np.broadcast_to(s.f, (self.cells, self.grid.n_qp)).copy()
        n = np.broadcast_to(s.n, (self.cells, self.grid.n_phonon)).copy()
        delta = None
        if self.gap_mode == "self-consistent":
            mat, edges = self.material, self.grid.edges

            def integral(d: float) -> float:
                xi = np.sqrt(np.clip(edges * edges - d * d, 0.0, None))
                return float(s.f @ np.diff(np.arcsinh(xi / d)))

            d = gapmod.solve_gap(integral, mat.delta0, mat.debye_energy, float(s.delta))
            delta = np.full(self.cells, d)
        return self._shaped(f, n, delta)

    def _shaped(self, f: np.ndarray, n: np.ndarray,
                delta: np.ndarray | None = None) -> SpatialState:
        if self._angles("qp"):
            f = self.qp.isotropic(f)
        if self._angles("phonon"):
            n = self.phonon.isotropic(n)
        return SpatialState(f, n, delta)

    def photon_deposit(self, state: SpatialState, photon: PointPhoton) -> SpatialState:
        """``state`` plus the QPs of ``photon`` (:class:`PointPhoton`), isotropic, exact."""
        energies = self._photon_cells(photon)
        fbar = self._average("qp", state.f)
        df = np.zeros_like(fbar)
        V = self.geometry.volumes
        gaps = self._gaps if state.delta is None else np.asarray(state.delta, dtype=float)
        for c in np.flatnonzero(energies > 0):  # set-up only: the 0-D deposit per cell
            hit = PhotonHit(energy=float(energies[c]), volume=float(V[c]),
                            epsilon0=photon.epsilon0, width=photon.width)
            local = State(f=np.zeros(self.grid.n_qp), n=np.zeros(self.grid.n_phonon),
                          delta=float(gaps[c]))
            df[c] = self._cell_deposit(local, hit)
        return SpatialState(self._spread("qp", state.f, df), state.n.copy(), state.delta)

    def _cell_deposit(self, s: State, hit: PhotonHit) -> np.ndarray:
        try:
            return self.local.photon_deposit(s, hit).f
        except ParameterError as exc:
            raise ParameterError("photon.energy", exc.reason) from None

    def initial_state(self, T: float | None = None) -> SpatialState:
        """Thermal state at ``T`` (default ``T_bath``) plus the photon, if any."""
        s = self.thermal(self.T_bath if T is None else T)
        return self.photon_deposit(s, self.photon) if self.photon else s

    # ------------------------------------------------------------------ observables
    def energies(self, s: SpatialState) -> tuple[np.ndarray, np.ndarray]:
        """QP and phonon energy densities per cell (µeV/µm³)."""
        scale = 4 * self.N0
        return (scale * self.op.qp_energy(self._average("qp", s.f)),
                scale * self.op.phonon_energy(self._average("phonon", s.n)))

    def total_energy(self, s: SpatialState) -> float:
        """Energy inside (µeV)."""
        q, p = self.energies(s)
        return float(self.geometry.volumes @ (q + p))

    def _outflow_energy(self, species: str, outflow: np.ndarray) -> np.ndarray:
        e = self.E if species == "qp" else self.omega
        return 4 * self.N0 * (outflow @ e)

    # ------------------------------------------------------------------ stepping
    def problem(self) -> _CellsProblem:
        """The collision ODE of all cells handed to the spine."""
        return _CellsProblem(self.op, self.source)

    def transport(self, s: SpatialState, dt: float) -> tuple[SpatialState, np.ndarray]:
        """Both transport steps over ``dt``; returns the state and the energy (µeV) that left
        and that came in through each wall, shape ``(2, 2, walls)`` (out/in, QPs/phonons)."""
        a = self.qp.step(s.f, dt)
        b = self.phonon.step(s.n, dt)
        zero = np.zeros_like(a.outflow)
        return SpatialState(a.f, b.f, s.delta), np.stack([
            [self._outflow_energy("qp", a.outflow), self._outflow_energy("phonon", b.outflow)],
            [self._outflow_energy("qp", zero if a.inflow is None else a.inflow),
             self._outflow_energy("phonon", zero if b.inflow is None else b.inflow)]])

    def update_gaps(self, s: SpatialState) -> tuple[SpatialState, float]:
        """Self-consistent gaps of the cells of ``s`` and ``s`` carried to their bins.

        Every cell at once (:func:`_solve_gaps`, vectorised over cells); cells whose gap
        equation already holds to round-off keep their gap and ``f`` unchanged.  The model
        is switched to the new gaps (:meth:`_set_gaps`), from those of ``s.delta`` if given.
        Returns the new state and the QP energy (µeV) gained in the update, the energy
        exchanged with the condensate."""
        if s.delta is not None and not np.array_equal(s.delta, self._gaps):
            self._set_gaps(s.delta)  # the bins the state's f belongs to
        fbar = self._average("qp", s.f)
        new, changed, carried = _solve_gaps(self.grid.edges, self._gaps, fbar,
                                            self.material.delta0,
                                            self.material.debye_energy)
        if not changed.any():
            return s, 0.0
        before = self.geometry.volumes @ self.op.qp_energy(fbar)
        f = s.f.copy()
        if self._angles("qp"):  # the carry is linear: carry every direction
            rows = f[changed].reshape(-1, self.grid.n_qp)
            gaps = np.repeat(self._gaps[changed], self.n_angles)
            to = np.repeat(new[changed], self.n_angles)
            f[changed] = _carry(self.grid.edges, gaps, rows, to)[0].reshape(
                f[changed].shape)
        else:
            f[changed] = carried
        self._set_gaps(new)
        after = self.geometry.volumes @ self.op.qp_energy(self._average("qp", f))
        return SpatialState(f, s.n, self._gaps.copy()), float(4 * self.N0 * (after - before))

    def collide(self, s: SpatialState, dt: float, problem: _CellsProblem, method: Any,
                dt0: float | None, counters: Counters,
                options: dict[str, Any]) -> tuple[SpatialState, float]:
        """The collision step of every cell over ``dt`` through the spine."""
        fbar, nbar = self._average("qp", s.f), self._average("phonon", s.n)
        y0 = np.concatenate([fbar.ravel(), nbar.ravel()])
        if options.get("fixed_step"):  # one step of the scheme per collision step
            options = options | {"dt": dt}
        res = integrate(problem, y0, np.array([0.0, dt]), method, dt0=dt0, counters=counters,
                        **options)
        if not res.success:
            raise SolverError(f"collision step ({res.method}) failed, {res.message}; try a "
                              f"smaller dt or rtol")
        f1, n1 = self._conserve(fbar, nbar, *problem.split(res.y[-1]), dt)
        return (SpatialState(self._spread("qp", s.f, f1 - fbar),
                             self._spread("phonon", s.n, n1 - nbar)),
                float(res.dt_next[-1]))

    def _conserve(self, f0: np.ndarray, n0: np.ndarray, f1: np.ndarray, n1: np.ndarray,
                  dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Remove from each cell the energy error of the inexact (Krylov) stage solves.

        The collisions conserve each cell's ``Σ N E f + Σ P ω n`` exactly, and so do the
        Rosenbrock stages solved exactly (``wᵀJ = 0``); GMRES leaves an error of the size of
        its residual (``linear_rtol``).  It is taken out along ``|y₁ − y₀|`` (a relative
        change of each component of that size: positivity and order are unaffected), so
        the bookkeeping holds to round-off whatever the tolerances."""
        wf = self.states * self.E
        wn = self.P * self.omega
        df, dn = f1 - f0, n1 - n0
        gained = np.einsum("ce,ce->c", wf, df) + dn @ wn
        expected = dt * np.einsum("ce,ce->c", wf, self.source)
        af, an = np.abs(df), np.abs(dn)
        norm = np.einsum("ce,ce->c", wf, af) + an @ wn
        alpha = np.divide(gained - expected, norm, out=np.zeros_like(norm), where=norm > 0)
        return f1 - alpha[:, None] * af, n1 - alpha[:, None] * an

    # ------------------------------------------------------------------ evolution
    def evolve(self, s0: SpatialState | None = None, t_end: float = 100.0, *,
               source: PointPhoton | None = None,
               dt: float | None = None, n_out: int = 21, t_out: np.ndarray | None = None,
               method: str = "rosenbrock", callback: Callable[[xr.Dataset], None] | None = None,
               progress: Callable[[float, float], None] | None = None,
               resume: xr.Dataset | None = None, dt_first: float | None = None,
               dt_growth: float = DT_GROWTH, **options: Any) -> xr.Dataset:
        """Evolve by Strang-split outer steps; record at the output times.

        Parameters
        ----------
        s0
            Initial state (default :meth:`initial_state`).
        source
            A :class:`PointPhoton` absorbed at ``t = 0``: deposited on ``s0`` (default the
            thermal state at ``T_bath``) in place of the model's ``photon``.
        t_end, n_out, t_out
            Final time (ns) and ``n_out`` linearly spaced output times, or the times.
        dt
            Largest outer step (ns); each output interval is split into equal steps no longer
            than it.  Default ``t_end/100``.
        dt_first, dt_growth
            Step control for a fast start (a photon's packet relaxes and spreads fastest at
            first): the first outer step is ``dt_first`` (ns) and each next one ``dt_growth``
            times the last, up to ``dt`` (steps still end on the output times).  Default
            ``None``: equal steps ``dt`` throughout.  The splitting error of an outer step
            ``h`` is ``O(h³)`` times the rate of change, so steps that grow as the dynamics
            slows keep the error of the profiles uniform (benchmark: 200 shells to 1 µs with
            ``dt_first = 2``, ``dt = 100``).
        method, options
            The collision scheme of the spine (default ``rosenbrock``, matrix-free) and its
            options (``rtol`` default 1e-6, ``atol`` 1e-14...).  With ``rosenbrock`` the
            default is ``fixed_step=True``, one ROS2 step per collision step (adaptive steps
            would resolve the ~0.1 ns re-equilibration that every transport half-step causes,
            ~80 steps per outer step; the outer ``dt`` controls the error of the whole scheme,
            second order), with the stage solves to ``linear_rtol`` 1e-3
            (:data:`FIXED_STEP_LINEAR_RTOL`).  ``fixed_step=False`` gives adaptive steps.
        callback
            Called with the partial Dataset after every output time (checkpoints).
        progress
            Called with ``(outputs done, outputs in all)``.
        resume
            A partial result of this run: continue from its last record.

        Returns
        -------
        xarray.Dataset
            ``f(t, r, E)``, ``n(t, r, omega)`` (angle averages), ``qp_energy(t, r)``,
            ``phonon_energy(t, r)``, ``qp_density(t, r)``, ``qp_energy_escaped(t, wall)``,
            ``phonon_energy_escaped(t, wall)``, ``energy_escaped(t)``, ``energy_injected(t)``,
            ``total_energy(t)`` (inside), ``delta(r)``; attributes: the solver statistics,
            ``bookkeeping_drift`` and ``check_failed`` when the drift exceeds the tolerance.
        """
        if t_out is None:
            if not (_finite(t_end) and t_end > 0):
                raise ParameterError("t_end", f"must be a positive time (ns), got {t_end!r}")
            if isinstance(n_out, bool) or not isinstance(n_out, int | np.integer) or n_out < 2:
                raise ParameterError("n_out", f"need at least two output times, got {n_out!r}")
            times = np.linspace(0.0, float(t_end), int(n_out))
        else:
            times = np.asarray(t_out, dtype=float)
            if times.ndim != 1 or times.size < 2 or np.any(np.diff(times) <= 0):
                raise ParameterError("t_out", "must be an increasing sequence of ≥ 2 times")
        if dt is None:
            dt = float(times[-1] - times[0]) / 100.0
        if not (_finite(dt) and dt > 0):
            raise ParameterError("dt", f"must be a positive time (ns), got {dt!r}")
        if dt_first is not None and not (_finite(dt_first) and dt_first > 0):
            raise ParameterError("dt_first", f"must be a positive time (ns), got {dt_first!r}")
        if not (_finite(dt_growth) and dt_growth >= 1):
            raise ParameterError("dt_growth", f"must be a factor ≥ 1, got {dt_growth!r}")
        try:
            scheme = get_integrator(method)
            options = {"rtol": 1e-6, "atol": 1e-14} | options
            if scheme.name == "rosenbrock":
                # one L-stable step per collision step, the outer dt controlling the error;
                # the stage solves then need only the accuracy of the splitting
                options = {"fixed_step": True} | options
                if options["fixed_step"]:
                    options = {"linear_rtol": FIXED_STEP_LINEAR_RTOL} | options
            scheme.resolve_options(**options)
        except ValueError as exc:
            raise ParameterError("method", str(exc)) from None
        C, g = self.cells, self.grid
        check_memory(8.0 * 2 * times.size * C * (g.n_qp + g.n_phonon + 4),
                     f"the output records ({times.size} times x {C} cells)", ["n_out", "cells"])
        check_memory(8.0 * KRYLOV_VECTORS * C * (g.n_qp + g.n_phonon),
                     "the matrix-free stage solves", ["cells", "energy_step", "E_max"])
        started = time.perf_counter()
        rec = _Records(self, times)
        counters = Counters()
        walls = len(self.geometry.walls)
        escaped = np.zeros((2, 2, walls))  # out/in, QPs/phonons, walls (µeV)
        gap_work = 0.0
        dt0 = None
        if resume is not None:
            s, escaped, gap_work, dt0 = rec.load(resume)
            if self.gap_mode == "self-consistent":
                self._set_gaps(s.delta)
            for name in ("nfev", "njev", "nlu", "steps", "rejected"):
                setattr(counters, name, int(resume.attrs.get(f"solver_{name}", 0)))
            counters.linear_iterations = int(resume.attrs.get("solver_linear_iterations", 0))
        else:
            if source is not None:
                if not isinstance(source, PointPhoton):
                    raise ParameterError("source", "must be a PointPhoton")
                self._check_source("photon", source.epsilon0, source.width)
                s = self.photon_deposit(self.thermal(self.T_bath) if s0 is None else s0,
                                        source)
            else:
                s = self.initial_state() if s0 is None else s0
            s = SpatialState(np.array(s.f, dtype=float), np.array(s.n, dtype=float),
                             None if s.delta is None else np.array(s.delta, dtype=float))
            self._check_state(s)
            if self.gap_mode == "self-consistent":
                if s.delta is not None:  # the bins the state's f belongs to
                    self._set_gaps(s.delta)
                # the gap follows the QPs within ħ/Δ: start from the self-consistent gaps
                s, gap_work = self.update_gaps(s)
            rec.add(s, escaped, gap_work, 0.0)
        problem = self.problem()
        outer = 0 if resume is None else int(resume.attrs.get("outer_steps", 0))
        h_next = dt if dt_first is None else min(dt_first, dt)
        if resume is not None and dt_first is not None:  # continue the growth
            h_next = min(dt, float(resume.attrs.get("outer_step_next_ns", dt)))
        for k in range(rec.count, times.size):
            t0, t1 = float(times[k - 1]), float(times[k])
            left, hs = t1 - t0, []
            while left > 0:
                # equal steps ≤ h_next to the output time; take the first of them
                steps = max(1, math.ceil(left / h_next * (1 - 1e-12)))
                hs.append(left / steps)
                left = left - hs[-1] if steps > 1 else 0.0
                h_next = min(dt, h_next * dt_growth)
            for h in hs:
                s, out = self.transport(s, 0.5 * h)
                escaped += out
                s, problem, dt0, work = self._collide_and_gap(s, h, problem, scheme, dt0,
                                                              counters, options)
                gap_work += work
                s, out = self.transport(s, 0.5 * h)
                escaped += out
            outer += len(hs)
            rec.add(s, escaped, gap_work, dt0)
            if callback is not None:
                part = rec.dataset(self._stats(scheme, counters, options, True, k, t1),
                                   time.perf_counter() - started, s, complete=False)
                part.attrs.update(outer_step_next_ns=h_next, outer_steps=outer)
                callback(part)
            if progress is not None:
                progress(k, times.size - 1)
        ds = rec.dataset(self._stats(scheme, counters, options, True, times.size - 1,
                                     float(times[-1])), time.perf_counter() - started, s,
                         complete=True)
        ds.attrs.update(outer_steps=outer, dt_max_ns=float(dt), outer_step_next_ns=h_next)
        ds.attrs.update(self._bookkeeping(ds, float(options["rtol"]), float(options["atol"])))
        return ds

    def _collide_and_gap(self, s: SpatialState, h: float, problem: _CellsProblem, scheme: Any,
                         dt0: float | None, counters: Counters, options: dict[str, Any]
                         ) -> tuple[SpatialState, _CellsProblem, float, float]:
        """A collision step of ``h`` then, with a self-consistent gap, the gap update; returns
        the state, the problem (new after a gap change), the next collision step and the
        energy (µeV) exchanged with the condensate."""
        s, dt0 = self.collide(s, h, problem, scheme, dt0 or h, counters, options)
        work = 0.0
        if self.gap_mode == "self-consistent":
            op = self.op
            s, work = self.update_gaps(s)
            if self.op is not op:
                problem = self.problem()
        return s, problem, dt0, work

    def _stats(self, scheme: Any, c: Counters, options: dict[str, Any], ok: bool, k: int,
               t: float) -> SolverStats:
        return SolverStats(scheme.name, ok, f"reached t = {t:g} ns", nfev=c.nfev, njev=c.njev,
                           nlu=c.nlu, steps=c.steps, rejected=c.rejected,
                           linear_iterations=c.linear_iterations,
                           options=dict(options))

    def _check_state(self, s: SpatialState) -> None:
        want_f = (self.cells,) + ((self.n_angles,) if self._angles("qp") else ()) + (
            self.grid.n_qp,)
        want_n = (self.cells,) + ((self.n_angles,) if self._angles("phonon") else ()) + (
            self.grid.n_phonon,)
        if s.f.shape != want_f or s.n.shape != want_n:
            raise ParameterError("s0", f"state shapes {s.f.shape}, {s.n.shape} do not match "
                                       f"{want_f}, {want_n}")
        if not (np.all(np.isfinite(s.f)) and np.all(np.isfinite(s.n))):
            raise ParameterError("s0", "the state holds non-finite values")
        if s.delta is not None and (s.delta.shape != (self.cells,) or not np.all(
                np.isfinite(s.delta)) or np.any(s.delta <= 0)):
            raise ParameterError("s0", f"the state's delta must hold {self.cells} positive "
                                       f"gaps (µeV)")

    def _bookkeeping(self, ds: xr.Dataset, rtol: float, atol: float) -> dict[str, Any]:
        inside = ds.total_energy.values
        esc, inj = ds.energy_escaped.values, ds.energy_injected.values
        gap = ds.gap_exchange.values
        total = inside + esc - inj - gap
        scale = float(np.max(np.abs(inside) + ds.energy_outflow.values
                             + ds.energy_inflow.values + np.abs(inj) + np.abs(gap))) or 1.0
        V = self.geometry.volumes
        weights = 4 * self.N0 * (float(V @ self.states.sum(1)) * self.grid.e_max
                                 + float(V.sum()) * float(self.P @ self.omega))
        tolerance = rtol * scale + atol * weights
        drift = float(np.max(np.abs(total - total[0]))) if np.all(np.isfinite(total)) \
            else float("inf")
        out: dict[str, Any] = {"bookkeeping_drift": drift / scale,
                               "bookkeeping_tolerance": tolerance / scale,
                               "bookkeeping_scale": scale}
        if not drift <= tolerance:
            out["check_failed"] = (f"energy bookkeeping drift {drift / scale:.2e} of the energy "
                                   f"scale {scale:.4g} µeV exceeds the tolerance "
                                   f"{tolerance / scale:.2e} set by rtol = {rtol:g} and "
                                   f"atol = {atol:g}")
        return out


class _Records:
    """Output records allocated once (rows written once, datasets are views)."""

    def __init__(self, model: SpatialQPPhononModel, times: np.ndarray) -> None:
        self.m, self.times = model, times
        C, g = model.cells, model.grid
        k = times.size
        walls = len(model.geometry.walls)
        self.f = np.empty((k, C, g.n_qp))
        self.n = np.empty((k, C, g.n_phonon))
        self.qp_e, self.ph_e, self.qp_n, self.gap = (np.empty((k, C)) for _ in range(4))
        self.esc = np.empty((k, 2, 2, walls))  # out/in, QPs/phonons, walls
        self.gap_work = np.empty(k)
        self.step = np.empty(k)
        self.count = 0

    def add(self, s: SpatialState, escaped: np.ndarray, gap_work: float,
            dt_next: float | None) -> None:
        m, k = self.m, self.count
        self.f[k] = m._average("qp", s.f)
        self.n[k] = m._average("phonon", s.n)
        self.qp_e[k], self.ph_e[k] = m.energies(s)
        self.qp_n[k] = 4 * m.N0 * m.op.qp_number(self.f[k])
        self.gap[k] = m.cell_gaps()
        self.esc[k] = escaped
        self.gap_work[k] = gap_work
        self.step[k] = dt_next or 0.0
        self.count += 1

    def load(self, ds: xr.Dataset) -> tuple[SpatialState, np.ndarray, float, float | None]:
        m = self.m
        if ds.attrs.get("model") != "superconductor-spatial":
            raise ValueError("resume: not a spatial superconductor result")
        k = int(ds.sizes["t"])
        if (ds.sizes.get("r") != m.cells or ds.sizes.get("E") != m.grid.n_qp
                or k > self.times.size or not np.allclose(ds.t.values, self.times[:k])):
            raise ValueError("resume: the result belongs to another grid or other output times")
        self.f[:k], self.n[:k] = ds.f.values, ds.n.values
        self.qp_e[:k], self.ph_e[:k] = ds.qp_energy.values, ds.phonon_energy.values
        self.qp_n[:k] = ds.qp_density.values
        self.esc[:k, 1, 0] = ds.qp_energy_inflow.values
        self.esc[:k, 1, 1] = ds.phonon_energy_inflow.values
        self.esc[:k, 0, 0] = ds.qp_energy_escaped.values + self.esc[:k, 1, 0]
        self.esc[:k, 0, 1] = ds.phonon_energy_escaped.values + self.esc[:k, 1, 1]
        self.gap[:k] = ds.gap.values
        self.gap_work[:k] = ds.gap_exchange.values
        self.step[:k] = ds.step_size.values
        self.count = k
        f = ds.f_last.values if "f_last" in ds else self.f[k - 1]
        n = ds.n_last.values if "n_last" in ds else self.n[k - 1]
        step = float(self.step[k - 1])
        return (SpatialState(np.array(f), np.array(n), self.gap[k - 1].copy()),
                self.esc[k - 1].copy(), float(self.gap_work[k - 1]), step or None)

    def dataset(self, st: SolverStats, wall: float, s: SpatialState,
                complete: bool) -> xr.Dataset:
        m, k = self.m, self.count
        t = self.times[:k]
        V = m.geometry.volumes
        injected = m._inject_power * t
        gross = self.esc[:k]
        esc = gross[:, 0] - gross[:, 1]  # net out, (t, species, walls)
        inside = (self.qp_e[:k] + self.ph_e[:k]) @ V
        walls = list(m.geometry.walls)
        data = {
            "f": (("t", "r", "E"), self.f[:k], {"units": "1", "long_name":
                                                "quasiparticle occupation (angle average)"}),
            "n": (("t", "r", "omega"), self.n[:k], {"units": "1", "long_name":
                                                    "phonon occupation (angle average)"}),
            "qp_energy": (("t", "r"), self.qp_e[:k], {"units": "ueV/um^3", "long_name":
                                                      "quasiparticle energy density"}),
            "phonon_energy": (("t", "r"), self.ph_e[:k], {"units": "ueV/um^3", "long_name":
                                                          "phonon energy density"}),
            "qp_density": (("t", "r"), self.qp_n[:k], {"units": "um^-3", "long_name":
                                                       "quasiparticle density"}),
            "qp_energy_escaped": (("t", "wall"), esc[:, 0], {
                "units": "ueV", "long_name": "QP energy out through each wall (net)"}),
            "phonon_energy_escaped": (("t", "wall"), esc[:, 1], {
                "units": "ueV", "long_name": "phonon energy out through each wall (net)"}),
            "qp_energy_inflow": (("t", "wall"), gross[:, 1, 0], {
                "units": "ueV", "long_name": "QP energy in from the bath through each wall"}),
            "phonon_energy_inflow": (("t", "wall"), gross[:, 1, 1], {
                "units": "ueV", "long_name": "phonon energy in from the bath through each "
                                            "wall"}),
            "energy_escaped": (("t",), esc.sum(axis=(1, 2)), {
                "units": "ueV", "long_name": "energy out through the walls (net)"}),
            "energy_outflow": (("t",), gross[:, 0].sum(axis=(1, 2)), {
                "units": "ueV", "long_name": "energy out through the walls to the bath"}),
            "energy_inflow": (("t",), gross[:, 1].sum(axis=(1, 2)), {
                "units": "ueV", "long_name": "energy in through the walls from the bath"}),
            "gap_exchange": (("t",), self.gap_work[:k], {
                "units": "ueV", "long_name": "QP energy gained at the self-consistent gap "
                                            "updates (exchanged with the condensate)"}),
            "gap": (("t", "r"), self.gap[:k], {"units": "ueV", "long_name": "gap per cell"}),
            "energy_injected": (("t",), injected, {"units": "ueV", "long_name":
                                                   "energy injected by the boundary source"}),
            "total_energy": (("t",), inside, {"units": "ueV", "long_name": "energy inside"}),
            "qp_energy_total": (("t",), self.qp_e[:k] @ V, {"units": "ueV", "long_name":
                                                            "quasiparticle energy inside"}),
            "phonon_energy_total": (("t",), self.ph_e[:k] @ V, {"units": "ueV", "long_name":
                                                                "phonon energy inside"}),
            "step_size": (("t",), self.step[:k], {"units": "ns", "long_name":
                                                  "collision step to continue with"}),
            "delta": (("r",), m.cell_gaps(), {"units": "ueV", "long_name": "gap per cell"}),
            "volume": (("r",), np.array(V), {"units": "um^3", "long_name": "cell volume"}),
        }
        if not complete and (m._angles("qp") or m._angles("phonon")):
            fa = ("r", "mu_qp", "E") if m._angles("qp") else ("r", "E")
            na = ("r", "mu_phonon", "omega") if m._angles("phonon") else ("r", "omega")
            data["f_last"] = (fa, s.f, {"units": "1", "long_name": "last QP state (angles)"})
            data["n_last"] = (na, s.n, {"units": "1", "long_name": "last phonon state"})
        coords = {"t": ("t", t, {"units": "ns", "long_name": "time"}),
                  "r": ("r", np.array(m.geometry.centres), {"units": "um", "long_name":
                                                             "cell centre"}),
                  "E": ("E", m.E, {"units": "ueV", "long_name": "quasiparticle energy"}),
                  "omega": ("omega", m.omega, {"units": "ueV", "long_name": "phonon energy"}),
                  "wall": ("wall", walls, {"units": "-", "long_name": "wall of the geometry"})}
        ds = xr.Dataset(data, coords=coords)
        mat = m.material
        ds.attrs.update(model="superconductor-spatial", material=mat.name,
                        geometry=m.geometry.kind, extent_um=m.geometry.extent, cells=m.cells,
                        T_bath_K=m.T_bath, energy_step_ueV=m.grid.step,
                        qp_transport=m.qp_transport, phonon_transport=m.phonon_transport,
                        gap_mode=m.gap_mode,
                        n_angles=m.n_angles, fermi_velocity_um_per_ns=m.fermi_velocity,
                        sound_velocity_um_per_ns=m.sound_velocity, N0_per_ueV_um3=mat.N0,
                        **st.attrs(), compute_time_s=wall, complete=int(complete))
        return ds


def thermal_temperature(model: SpatialQPPhononModel, energy: float) -> float:
    """The temperature (K) whose uniform thermal state holds ``energy`` (µeV) inside."""
    from scipy import optimize

    def inside(T: float) -> float:
        return model.total_energy(model.thermal(T)) - energy

    return float(optimize.brentq(inside, 1e-3, 0.999 * model.material.Tc, xtol=1e-14,
                                 rtol=1e-14))



#: Largest |residual| of the gap equation (G) for which a cell keeps its gap unchanged: the
#: round-off of the grid sums (relative gap change ~ residual).
GAP_RESIDUAL = 1e-13
#: Relative widths tried, in turn, to bracket a cell's new gap about its current one.
GAP_BRACKETS = (1e-4, 1e-3, 1e-2, 0.1, 0.5, 0.9)


def _carry(edges: np.ndarray, old: np.ndarray, f: np.ndarray,
           new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Occupations ``f`` (rows, bins) on the bins of the gaps ``old`` carried to the bins of
    the gaps ``new``, the occupation attached to ξ (the 0-D
    :meth:`~..model.QPPhononModel.update_gap`, one row per cell, no loop).

    The QPs of each old ξ-interval go to the new bins by overlap.  Each new bin's count is
    summed from the pieces of the (few) old bins it overlaps, every piece ≥ 0, so the result
    is positive and exact relative to the local occupation (no difference of cumulative sums
    over the whole range, whose round-off would swamp a small high-energy tail).  Returns the
    new ``f`` and the new bins' ξ edges."""
    xp = xi_of_energy(edges, old[:, None])  # (R, n + 1) old knots, non-decreasing per row
    x = xi_of_energy(edges, new[:, None])   # new knots
    R, n1 = xp.shape
    n = n1 - 1
    cum = np.zeros((R, n1))
    np.cumsum(np.diff(xp, axis=1) * f, axis=1, out=cum[:, 1:])
    # a[r, j]: the old bin holding the new knot x[r, j] (the last old knot ≤ x; n beyond the
    # last knot, where nothing is), found for all rows at once on offset copies and corrected
    # by one comparison with the exact values
    span = float(max(xp.max(), x.max())) * 2.0 + 1.0
    off = span * np.arange(R)[:, None]
    a = np.searchsorted((xp + off).ravel(), (x + off).ravel(), side="right").reshape(R, n1)
    a = np.clip(a - 1 - n1 * np.arange(R)[:, None], 0, n)
    take = _row_take(xp)
    a = np.where((a < n) & (take(np.minimum(a + 1, n)) <= x), a + 1, a)
    a = np.where((a > 0) & (take(a) > x), a - 1, a)
    f_ext = np.concatenate([f, np.zeros((R, 1))], axis=1)
    lo_a, hi_a = a[:, :-1], a[:, 1:]
    x_lo, x_hi = x[:, :-1], x[:, 1:]
    f_lo = np.take_along_axis(f_ext, lo_a, axis=1)
    f_hi = np.take_along_axis(f_ext, hi_a, axis=1)
    nxt = np.minimum(lo_a + 1, n)
    same = lo_a == hi_a
    inner = np.take_along_axis(cum, hi_a, axis=1) - np.take_along_axis(cum, nxt, axis=1)
    counts = np.where(same, (x_hi - x_lo) * f_lo,
                      (np.take_along_axis(xp, nxt, axis=1) - x_lo) * f_lo
                      + np.clip(inner, 0.0, None)
                      + (x_hi - np.take_along_axis(xp, hi_a, axis=1)) * f_hi)
    width = np.diff(x, axis=1)
    out = np.divide(counts, width, out=np.zeros_like(counts), where=width > 0)
    return out, x


def _row_take(xp: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """``idx ↦ xp[r, idx[r, j]]`` (row-wise gather)."""
    return lambda idx: np.take_along_axis(xp, idx, axis=1)


def _solve_gaps(edges: np.ndarray, gaps: np.ndarray, f: np.ndarray, delta0: float,
                debye_energy: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Self-consistent gap of every cell, vectorised over cells (no loop of root finds).

    Solves the gap equation (G) of :func:`~..gap.solve_gap`, ``arcsinh(Ω_D/Δ) −
    arcsinh(Ω_D/Δ0) = 2 Σ_i f_i(Δ) [arcsinh(ξ_{i+1}/Δ) − arcsinh(ξ_i/Δ)]`` with ``f(Δ)`` the
    occupation carried to the bins of the trial gap (:func:`_carry`), for all cells at once:
    brackets grown about the current gaps (:data:`GAP_BRACKETS`), then the Illinois variant of
    regula falsi on every unconverged cell together, to a relative width of 1e-15.

    Returns the gaps, the mask of cells whose gap changed (the others have a residual below
    :data:`GAP_RESIDUAL` and keep gap and ``f`` bit for bit) and the carried ``f`` of the
    changed cells."""
    a0 = math.asinh(debye_energy / delta0)

    def residual(rows: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fd, xi = _carry(edges, gaps[rows], f[rows], d)
        integral = np.einsum("re,re->r", fd, np.diff(np.arcsinh(xi / d[:, None]), axis=1))
        return np.arcsinh(debye_energy / d) - a0 - 2.0 * integral, fd

    all_rows = np.arange(gaps.size)
    g0, _ = residual(all_rows, gaps)
    changed = np.abs(g0) > GAP_RESIDUAL
    rows = np.flatnonzero(changed)
    new = gaps.copy()
    if rows.size == 0:
        return new, changed, np.zeros((0, f.shape[1]))
    d0, r0 = gaps[rows], g0[rows]
    cap = delta0 * (1 + 1e-12)
    up = r0 > 0  # (G) decreases with Δ: a positive residual means a larger gap
    lo, hi = np.where(up, d0, 0.0), np.where(up, 0.0, d0)
    glo, ghi = np.where(up, r0, 0.0), np.where(up, 0.0, r0)
    open_ = np.ones(rows.size, dtype=bool)
    at_cap = np.zeros(rows.size, dtype=bool)
    for width in GAP_BRACKETS:
        k = np.flatnonzero(open_)
        if k.size == 0:
            break
        trial = np.where(up[k], np.minimum(d0[k] * (1 + width), cap), d0[k] * (1 - width))
        gt, _ = residual(rows[k], trial)
        # the root is beyond the bracket end: move the near end there
        beyond = np.where(up[k], gt > 0, gt < 0)
        lo[k] = np.where(up[k], np.where(beyond, trial, lo[k]), trial)
        glo[k] = np.where(up[k], np.where(beyond, gt, glo[k]), gt)
        hi[k] = np.where(up[k], trial, np.where(beyond, trial, hi[k]))
        ghi[k] = np.where(up[k], gt, np.where(beyond, gt, ghi[k]))
        at_cap[k] = up[k] & beyond & (trial >= cap)
        open_[k] = beyond & ~at_cap[k]
    if open_.any():
        raise SolverError("the nonequilibrium gap equation has no solution in a cell: "
                          "superconductivity is destroyed by the excitation (deposit less "
                          "energy)")
    x = np.where(at_cap, cap, 0.5 * (lo + hi))
    fx = np.zeros((rows.size, f.shape[1]))
    side = np.zeros(rows.size)  # the end replaced last (+1 lo, −1 hi)
    live = ~at_cap
    for _ in range(200):
        k = np.flatnonzero(live)
        if k.size == 0:
            break
        x[k] = hi[k] - ghi[k] * (hi[k] - lo[k]) / (ghi[k] - glo[k])
        x[k] = np.clip(x[k], lo[k], hi[k])
        gx, fx[k] = residual(rows[k], x[k])
        pos = gx > 0  # the root lies above x: x replaces lo, else hi
        # Illinois: an end kept twice in a row has its residual halved
        ghi_k = np.where(pos & (side[k] == 1), 0.5 * ghi[k], ghi[k])
        glo_k = np.where(~pos & (side[k] == -1), 0.5 * glo[k], glo[k])
        lo[k] = np.where(pos, x[k], lo[k])
        glo[k] = np.where(pos, gx, glo_k)
        hi[k] = np.where(pos, hi[k], x[k])
        ghi[k] = np.where(pos, ghi_k, gx)
        side[k] = np.where(pos, 1.0, -1.0)
        done = (gx == 0) | (hi[k] - lo[k] <= 1e-15 * hi[k]) | (np.abs(gx) <= 0.1 *
                                                                   GAP_RESIDUAL)
        live[k[done]] = False
    else:
        raise SolverError("the gap equation did not converge in 200 iterations")
    if at_cap.any():
        k = np.flatnonzero(at_cap)
        _, fx[k] = residual(rows[k], x[k])
    new[rows] = x
    return new, changed, fx
