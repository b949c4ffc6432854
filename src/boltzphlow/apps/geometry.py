"""The ``geometry`` job: Bloch bands and quantum geometry from the command line.

A config chooses a model by name (``hamiltonian = "haldane"``; its parameters in a table of the
same name), a k-mesh, and one or more tasks, each a table:

=====================  ======================================================================
``[ahc]``              intrinsic anomalous Hall conductivity σ(μ) at temperature T (Eq. 35)
``[chern]``            Chern numbers of chosen bands (link variables; a plane for 3D models)
``[curvature_map]``    Berry curvature of one band on a rectangle of a k-plane
``[bands]``            band energies along a k-path (named points or explicit coordinates)
``[cme]``              chiral-magnetic coefficient per band and total vs μ (Eq. 36; 3D)
``[chiral_anomaly]``   Berry flux through the Fermi surface and the anomaly coefficient (Eq. 33)
=====================  ======================================================================

Equation numbers are those of T. Valet and R. Raimondi, "Semiclassical kinetic theory for
systems with non-trivial quantum geometry and the expectation value of physical quantities".

Units (the conventions of :mod:`boltzphlow.bands`): ħ = e = 1, lattice constant 1.  Wave vectors
in 1/a; energies (μ, T, band energies, model parameters) in the model's energy unit (the hopping
``t`` of the built-in models, eV for Wannier90 files; ``energy_unit`` relabels it); angles as
numbers in radians or strings with a unit (``"pi/2"``, ``"90 deg"``).  Results: σ in e²/h (2D) or
e²/(h·a) (3D); CME coefficient α (j = αB) in e²/h² × energy; chiral-anomaly coefficient in
e³/h²; Berry curvature in a²; Chern numbers and Berry fluxes (in units of 2π) dimensionless.
Wannier90 ``_tb.dat`` files carry lattice vectors in Å, so their lengths are in Å.

Before the first progress report, :func:`run` checks everything a config asks for (band
indices, k-paths, μ ranges), that every k-mesh resolves the model
(:mod:`boltzphlow.geometry.resolution`: refused below the minimum, which the message gives) and
that the memory the tasks need fits (:func:`boltzphlow.resources.check_memory`).  Pictures
that are too coarse to show what they are asked (a curvature map whose pixels are wider than
the curvature peak, a band path that steps over it, a μ grid that steps over a gap) are drawn
all the same, with a :class:`ResolutionWarning` that gives the minimum.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import xarray as xr
from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from boltzphlow import bands as bands_lib
from boltzphlow.bands.hamiltonian import Hamiltonian, TightBinding
from boltzphlow.config import ConfigError
from boltzphlow.errors import InputError, ResourceError, SolverError, shorten
from boltzphlow.geometry.berry import berry_curvature, berry_flux, chern_number
from boltzphlow.geometry.resolution import Spectrum, minimum_mesh, scan_spectrum
from boltzphlow.grids.kmesh import DEFAULT_CHUNK
from boltzphlow.jobs import Job, RunContext
from boltzphlow.observables import anomalous_hall, chiral_anomaly, chiral_magnetic
from boltzphlow.observables._kspace import FERMI_CUTOFF
from boltzphlow.resources import check_memory
from boltzphlow.schema import ConfigModel
from boltzphlow.units import Quantity

__all__ = ["GeometryConfig", "ResolutionWarning", "build_hamiltonian", "high_symmetry_points",
           "plot", "run", "summary"]


class ResolutionWarning(UserWarning):
    """A picture (curvature map, band path, μ grid) is coarser than the feature it shows."""


# --------------------------------------------------------------------------------------------
# Config schema


def _as_list(value: Any) -> Any:
    """A bare number given for a list-valued key means a list of one."""
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else value


#: Largest magnitude of a number in a geometry config: the two-band closed forms cube energies
#: and wave vectors (|d|³ and triple products of ∂d), which overflows float64 beyond ~5.6e102.
MAX_MAGNITUDE = 1e100


def _bounded(value: float) -> float:
    if abs(value) > MAX_MAGNITUDE:
        raise ValueError(f"must be at most {MAX_MAGNITUDE:g} in magnitude (energies and wave "
                         f"vectors are cubed), got {value:g}")
    return value


#: A finite number of at most :data:`MAX_MAGNITUDE` in magnitude.
Real = Annotated[float, AfterValidator(_bounded)]
#: Mesh sizes along each reduced axis (1, 2 or 3 of them).
MeshSizes = Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=3)]
#: Two mesh sizes of a plane.
PlaneSizes = Annotated[list[Annotated[int, Field(ge=2)]], Field(min_length=2, max_length=2)]
#: Chemical potentials: one number or a list (model energy unit).
MuList = Annotated[list[Real], BeforeValidator(_as_list), Field(min_length=1)]
#: A closed interval ``[min, max]``.
Interval = Annotated[list[Real], Field(min_length=2, max_length=2)]
#: Three Cartesian or reduced coordinates.
Triple = Annotated[list[Real], Field(min_length=3, max_length=3)]
Angle = Quantity("rad")


class HaldaneParams(ConfigModel):
    """Haldane honeycomb model: hoppings t1, t2 e^{±iφ}, sublattice mass ±m."""

    t1: Real = 1.0
    t2: Real = 0.15
    phi: Angle = float(np.pi / 2)
    m: Real = 0.2


class QiWuZhangParams(ConfigModel):
    """Qi-Wu-Zhang square-lattice Chern insulator."""

    m: Real = 1.0
    t: Real = 1.0


class MassiveDiracParams(ConfigModel):
    """2D massive Dirac model on the k-box [-k_max, k_max]² (Valet and Raimondi, Eq. 37)."""

    v: Real = 1.0
    delta: Real = 0.1
    k_max: Real = Field(5.0, gt=0)


class WeylLatticeParams(ConfigModel):
    """Two-node Weyl lattice: nodes at (0, 0, ±k0) with energies ±b0."""

    t: Real = 1.0
    tz: Real = 1.0
    m: Real = 1.0
    k0: Angle = float(np.pi / 2)
    b0: Real = 0.0


class Rashba2degParams(ConfigModel):
    """Rashba 2DEG with a Zeeman gap on the k-box [-k_max, k_max]²."""

    mass: Real = Field(0.5, gt=0)
    alpha: Real = 0.5
    zeeman: Real = 0.1
    k_max: Real = Field(4.0, gt=0)


class PBandParams(ConfigModel):
    """Three-orbital p-band model on the fcc lattice (Chiriacò, Millis and Aleiner, SM §I)."""

    t1: Real = -1.0
    t2: Real = 0.3
    t3: Real = 2.0


class Wannier90Params(ConfigModel):
    """A Wannier90 tight-binding file, ``seedname_hr.dat`` or ``seedname_tb.dat``.

    ``file`` is relative to the working directory.  ``format = "auto"`` reads the name's
    ending.  ``lattice`` (rows, 3 x 3) and ``positions`` (reduced, num_wann x 3) are for
    ``_hr.dat`` files, which have neither (default: identity lattice, orbitals at the origin).
    """

    file: str = Field(min_length=1)
    format: Literal["auto", "hr", "tb"] = "auto"
    lattice: Annotated[list[Triple], Field(min_length=3, max_length=3)] | None = None
    positions: Annotated[list[Triple], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _resolve_format(self) -> Wannier90Params:
        if self.format == "auto":
            name = Path(self.file).name
            if name.endswith("_hr.dat"):
                self.format = "hr"
            elif name.endswith("_tb.dat"):
                self.format = "tb"
            else:
                raise ValueError(f"cannot tell the format of file {shorten(self.file)} "
                                 "(name ending _hr.dat or _tb.dat); set format")
        if self.format == "tb" and (self.lattice is not None or self.positions is not None):
            raise ValueError("lattice and positions are read from a _tb.dat file; "
                             "give them only for _hr.dat")
        if self.lattice is not None:
            lattice = np.asarray(self.lattice)
            if abs(np.linalg.det(lattice)) < 1e-12 * max(1.0, float(np.abs(lattice).max())) ** 3:
                raise ValueError("lattice: the three vectors are linearly dependent")
        return self


class AhcTask(ConfigModel):
    """Intrinsic anomalous Hall conductivity vs μ (Valet and Raimondi, Eq. 35).

    Give ``mu`` (one value or a list), or ``mu_min``/``mu_max``/``n_mu`` (the range defaults
    to the band width plus 10 % on each side).
    """

    mu: MuList | None = None
    mu_min: Real | None = None
    mu_max: Real | None = None
    n_mu: int = Field(201, ge=1)
    T: Real = Field(0.0, ge=0)
    component: Literal["xy", "yz", "zx"] = "xy"
    mesh: MeshSizes | None = None
    use_symmetry: bool = False
    refine: int = Field(0, ge=0, le=10)
    refine_fraction: Real = Field(0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _one_way_to_give_mu(self) -> AhcTask:
        if self.mu is not None and (self.mu_min is not None or self.mu_max is not None):
            raise ValueError("give either mu or mu_min/mu_max, not both")
        if None not in (self.mu_min, self.mu_max) and not self.mu_min < self.mu_max:
            raise ValueError(f"need mu_min < mu_max, got {self.mu_min} and {self.mu_max}")
        return self


class ChernTask(ConfigModel):
    """Chern numbers of single bands (Fukui-Hatsugai-Suzuki link variables).

    3D models: the plane of reduced coordinate ``k_normal`` normal to reduced axis
    ``normal_axis``; ``mesh`` has two sizes (default: the global mesh's in-plane sizes).
    """

    bands: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] | None = None
    mesh: PlaneSizes | None = None
    normal_axis: int = Field(2, ge=0, le=2)
    k_normal: Real = 0.0


class CurvatureMapTask(ConfigModel):
    """Berry curvature of one band on a rectangle of a Cartesian k-plane.

    2D models: Ω_xy on the (kx, ky) plane.  3D models: the plane normal to ``normal`` at
    ``k_normal`` (1/a), showing the axial curvature's ``component`` (default: along the
    normal; in a mirror plane that one may vanish, so "x", "y" or "z" choose another).
    Ranges default to the box around the Brillouin zone (lattices) or the k-box (continuum
    models).
    """

    band: int = Field(0, ge=0)
    n: PlaneSizes = [161, 161]
    normal: Literal["x", "y", "z"] = "z"
    k_normal: Real = 0.0
    component: Literal["normal", "x", "y", "z"] = "normal"
    kx: Interval | None = None
    ky: Interval | None = None
    kz: Interval | None = None

    @model_validator(mode="after")
    def _ranges_increase(self) -> CurvatureMapTask:
        for axis in "xyz":
            bounds = getattr(self, f"k{axis}")
            if bounds is not None and not bounds[0] < bounds[1]:
                raise ValueError(f"k{axis}: need min < max, got {bounds}")
        if getattr(self, f"k{self.normal}") is not None:
            raise ValueError(f"k{self.normal}: the map's normal is "
                             f"{self.normal!r}; give the ranges of the two in-plane axes")
        return self


#: A point of a k-path: a named high-symmetry point or a list of d coordinates.
PathPoint = Annotated[str, Field(max_length=16)] | Annotated[
    list[Real], Field(min_length=1, max_length=3)]


class BandsTask(ConfigModel):
    """Band energies along a k-path of straight segments.

    ``path`` lists named points (see :func:`high_symmetry_points`) and/or explicit points in
    ``coordinates`` ("reduced": lattice coordinates, or f with k = 2 k_max f on a continuum
    box; "cartesian": 1/a).  ``n_points`` are spread over the segments by length, and the
    inner corners are added.
    """

    path: Annotated[list[PathPoint], Field(min_length=2)] | None = None
    coordinates: Literal["reduced", "cartesian"] = "reduced"
    n_points: int = Field(301, ge=2)


class CmeTask(ConfigModel):
    """Chiral-magnetic coefficient per band and total vs μ (Valet and Raimondi, Eq. 36; 3D)."""

    mu: MuList = [0.0]
    T: Real = Field(0.01, ge=0)
    mesh: MeshSizes | None = None
    refine: int = Field(6, ge=0, le=10)
    refine_fraction: Real = Field(0.2, gt=0, le=1)


class ChiralAnomalyTask(ConfigModel):
    """Fermi-surface Berry flux and the chiral-anomaly coefficient (Valet and Raimondi, Eq. 33)."""

    mu: MuList = [0.0]
    T: Real = Field(0.05, gt=0)
    mesh: MeshSizes | None = None
    refine: int = Field(6, ge=0, le=10)
    refine_fraction: Real = Field(0.2, gt=0, le=1)


#: Built-in model names mapped to (dimension, lattice?); Wannier90 files are 3D lattices.
MODEL_KINDS: dict[str, tuple[int, bool]] = {
    "haldane": (2, True),
    "qi_wu_zhang": (2, True),
    "massive_dirac": (2, False),
    "rashba_2deg": (2, False),
    "weyl_lattice": (3, True),
    "p_band": (3, True),
    "wannier90": (3, True),
}
#: Names of the task tables, in the order they run.
TASKS = ("chern", "ahc", "curvature_map", "bands", "cme", "chiral_anomaly")
#: Default mesh sizes per dimension.
DEFAULT_MESH = {2: [200, 200], 3: [40, 40, 40]}


class GeometryConfig(ConfigModel):
    """Whole config file of the ``geometry`` job (see the module docstring)."""

    model: Literal["geometry"]
    hamiltonian: Literal["haldane", "qi_wu_zhang", "massive_dirac", "weyl_lattice",
                         "rashba_2deg", "p_band", "wannier90"]
    haldane: HaldaneParams | None = None
    qi_wu_zhang: QiWuZhangParams | None = None
    massive_dirac: MassiveDiracParams | None = None
    weyl_lattice: WeylLatticeParams | None = None
    rashba_2deg: Rashba2degParams | None = None
    p_band: PBandParams | None = None
    wannier90: Wannier90Params | None = None
    mesh: MeshSizes | None = None
    chunk_size: int = Field(DEFAULT_CHUNK, ge=256)
    energy_unit: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    ahc: AhcTask | None = None
    chern: ChernTask | None = None
    curvature_map: CurvatureMapTask | None = None
    bands: BandsTask | None = None
    cme: CmeTask | None = None
    chiral_anomaly: ChiralAnomalyTask | None = None

    @model_validator(mode="after")
    def _consistent(self) -> GeometryConfig:
        name = self.hamiltonian
        for other in MODEL_KINDS:
            if other != name and getattr(self, other) is not None:
                raise ValueError(f"{other}: parameters given for {other!r} but "
                                 f"hamiltonian = {name!r}")
        if name == "wannier90" and self.wannier90 is None:
            raise ValueError("wannier90.file: required key missing (the _hr.dat or _tb.dat file)")
        if getattr(self, name) is None:
            setattr(self, name, _PARAMS[name]())
        if not any(getattr(self, task) is not None for task in TASKS):
            raise ValueError("no task: give at least one of the tables "
                             + ", ".join(f"[{task}]" for task in TASKS))
        dim, lattice = MODEL_KINDS[name]
        if self.mesh is None:
            self.mesh = list(DEFAULT_MESH[dim])
        for key, mesh in (("mesh", self.mesh), ("ahc.mesh", self.ahc and self.ahc.mesh),
                          ("cme.mesh", self.cme and self.cme.mesh),
                          ("chiral_anomaly.mesh", self.chiral_anomaly
                           and self.chiral_anomaly.mesh)):
            if mesh and len(mesh) != dim:
                raise ValueError(f"{key}: the {name} model is {dim}D, so the mesh needs {dim} "
                                 f"sizes, got {mesh}")
        if self.ahc is not None and dim == 2 and self.ahc.component != "xy":
            raise ValueError(f"ahc.component: a 2D model has only 'xy', got "
                             f"{self.ahc.component!r}")
        if self.chern is not None:
            if not lattice:
                raise ValueError(f"chern: Chern numbers need a lattice model; {name} is a "
                                 "continuum model on a finite k-box")
            if dim == 2 and (self.chern.normal_axis != 2 or self.chern.k_normal != 0.0):
                raise ValueError("chern.normal_axis, chern.k_normal: only for 3D models")
        if self.curvature_map is not None and dim == 2:
            cmap = self.curvature_map
            if (cmap.normal != "z" or cmap.k_normal != 0.0 or cmap.kz is not None
                    or cmap.component not in ("normal", "z")):
                raise ValueError("curvature_map.normal, k_normal, kz, component: only for 3D "
                                 "models (a 2D model has only Ω_xy)")
        for task in ("cme", "chiral_anomaly"):
            if getattr(self, task) is not None and dim != 3:
                raise ValueError(f"{task}: needs a 3D model; {name} is {dim}D")
        if self.bands is not None:
            if self.bands.path is not None:
                _check_path(self.bands.path, name, dim)
            elif len(_DEFAULT_PATHS[name]) < 2:
                raise ValueError(f"bands.path: required for {name} models (named points: "
                                 f"{', '.join(_NAMED_POINTS[name])}; or give coordinates)")
        return self


_PARAMS: dict[str, type[ConfigModel]] = {
    "haldane": HaldaneParams,
    "qi_wu_zhang": QiWuZhangParams,
    "massive_dirac": MassiveDiracParams,
    "weyl_lattice": WeylLatticeParams,
    "rashba_2deg": Rashba2degParams,
    "p_band": PBandParams,
    "wannier90": Wannier90Params,
}


# --------------------------------------------------------------------------------------------
# Models and high-symmetry points

_SQRT3 = float(np.sqrt(3.0))
#: Named points in Cartesian coordinates (1/a) per built-in model (``None``: continuum box,
#: in units of k_max).  "W1", "W2": the Weyl nodes at (0, 0, ±k0).
_NAMED_POINTS: dict[str, dict[str, tuple[float, ...]]] = {
    "haldane": {"G": (0.0, 0.0), "K": (4 * np.pi / 3, 0.0), "K'": (-4 * np.pi / 3, 0.0),
                "M": (0.0, 2 * np.pi / _SQRT3)},
    "qi_wu_zhang": {"G": (0.0, 0.0), "X": (np.pi, 0.0), "Y": (0.0, np.pi),
                    "M": (np.pi, np.pi)},
    "massive_dirac": {"G": (0.0, 0.0), "X": (1.0, 0.0), "Y": (0.0, 1.0), "M": (1.0, 1.0)},
    "rashba_2deg": {"G": (0.0, 0.0), "X": (1.0, 0.0), "Y": (0.0, 1.0), "M": (1.0, 1.0)},
    "weyl_lattice": {"G": (0, 0, 0), "X": (np.pi, 0, 0), "Y": (0, np.pi, 0),
                     "Z": (0, 0, np.pi), "M": (np.pi, np.pi, 0), "R": (np.pi, np.pi, np.pi),
                     "W1": (0, 0, 1.0), "W2": (0, 0, -1.0)},
    "p_band": {"G": (0, 0, 0), "X": (0, 2 * np.pi, 0), "L": (np.pi, np.pi, np.pi),
               "W": (np.pi, 2 * np.pi, 0), "K": (1.5 * np.pi, 1.5 * np.pi, 0),
               "U": (0.5 * np.pi, 2 * np.pi, 0.5 * np.pi)},
    "wannier90": {"G": (0.0, 0.0, 0.0)},
}


def high_symmetry_points(name: str, params: ConfigModel | None = None) -> dict[str, np.ndarray]:
    """Named k-points of a built-in model, Cartesian (1/a).

    Parameters
    ----------
    name
        A key of :data:`MODEL_KINDS`.
    params
        The model's parameters (scale the continuum box points by ``k_max`` and put the Weyl
        nodes W1, W2 at ``(0, 0, ±k0)``).

    Returns
    -------
    dict
        ``G`` (Γ) and the model's other points: Haldane (hexagonal) K, K', M; Qi-Wu-Zhang
        (square) X, Y, M; continuum boxes X = (k_max, 0), Y, M = (k_max, k_max); Weyl lattice
        (cubic) X, Y, Z, M, R and the nodes W1, W2; p-band (fcc) X, L, W, K, U; Wannier90
        files only G.
    """
    points = {key: np.asarray(value, dtype=float) for key, value in _NAMED_POINTS[name].items()}
    if name in ("massive_dirac", "rashba_2deg") and params is not None:
        points = {key: value * params.k_max for key, value in points.items()}
    if name == "weyl_lattice":
        k0 = float(np.pi / 2) if params is None else params.k0
        points["W1"], points["W2"] = np.array([0, 0, k0]), np.array([0, 0, -k0])
    return points


def _check_path(path: list, name: str, dim: int) -> None:
    """``ValueError`` for an unknown point name or a point with the wrong dimension."""
    known = _NAMED_POINTS[name]
    for i, point in enumerate(path):
        if isinstance(point, str) and point not in known:
            raise ValueError(f"bands.path[{i}]: unknown point {point!r} for {name} "
                             f"(known: {', '.join(known)}; or give coordinates)")
        if isinstance(point, list) and len(point) != dim:
            raise ValueError(f"bands.path[{i}]: the {name} model is {dim}D, so a point needs "
                             f"{dim} coordinates, got {point}")


def build_hamiltonian(cfg: GeometryConfig) -> Hamiltonian:
    """The model a config names, with its parameters.

    Raises
    ------
    ConfigError
        For parameters the model refuses (naming the model's table).
    InputError, FileNotFoundError
        For a Wannier90 file that is missing or unusable (naming ``wannier90.file`` and, where
        it applies, the line).
    """
    p = getattr(cfg, cfg.hamiltonian)
    if cfg.hamiltonian == "wannier90":
        return _read_wannier90(p)
    builders: dict[str, Callable[[], Hamiltonian]] = {
        "haldane": lambda: bands_lib.haldane(t1=p.t1, t2=p.t2, phi=p.phi, m=p.m),
        "qi_wu_zhang": lambda: bands_lib.qi_wu_zhang(m=p.m, t=p.t),
        "massive_dirac": lambda: bands_lib.massive_dirac(v=p.v, delta=p.delta, k_max=p.k_max),
        "weyl_lattice": lambda: bands_lib.weyl_lattice(t=p.t, tz=p.tz, m=p.m, k0=p.k0, b0=p.b0),
        "rashba_2deg": lambda: bands_lib.rashba_2deg(mass=p.mass, alpha=p.alpha,
                                                     zeeman=p.zeeman, k_max=p.k_max),
        "p_band": lambda: bands_lib.p_band_model(t1=p.t1, t2=p.t2, t3=p.t3),
    }
    try:
        return builders[cfg.hamiltonian]()
    except ValueError as exc:
        raise ConfigError(cfg.hamiltonian, str(exc)) from None


def _read_wannier90(p: Wannier90Params) -> Hamiltonian:
    """The model of a Wannier90 file, with the config's lattice and positions (``_hr.dat``)."""
    path = Path(p.file)
    if not path.exists():
        raise FileNotFoundError(f"wannier90.file: no such file: {shorten(p.file)}")
    try:
        if p.format == "tb":
            return bands_lib.read_wannier90_tb(path)
        lattice = None if p.lattice is None else np.asarray(p.lattice)
        model = bands_lib.read_wannier90_hr(path, lattice=lattice)
    except InputError as exc:
        raise InputError(f"wannier90.file: {exc}") from None
    if p.positions is None:
        return model
    if len(p.positions) != model.n_bands:
        raise ConfigError("wannier90.positions", f"give one position per orbital: "
                                                 f"{model.n_bands} (num_wann of the file), "
                                                 f"got {len(p.positions)}")
    return TightBinding(model.lattice, (model.R, model.h_R), np.asarray(p.positions),
                        name=model.name)


# --------------------------------------------------------------------------------------------
# Units and metadata


def _units(cfg: GeometryConfig, h: Hamiltonian) -> dict[str, str]:
    """Unit strings of the result: energy, length, wave vector, conductivity, CME, anomaly."""
    tb_file = cfg.hamiltonian == "wannier90" and cfg.wannier90.format == "tb"
    default = "eV" if cfg.hamiltonian == "wannier90" else ("t" if h.periodic else "E0")
    energy = cfg.energy_unit or default
    length = "Å" if tb_file else "a"
    return {
        "energy": energy,
        "length": length,
        "k": f"1/{length}",
        "sigma": "e^2/h" if h.dim == 2 else f"e^2/(h*{length})",
        "curvature": f"{length}^2",
        "cme": f"e^2/h^2*{energy}",
        "anomaly": "e^3/h^2",
    }


def _var(dims: str | tuple[str, ...], values: Any, units: str, long_name: str,
         **attrs: Any) -> tuple:
    """An xarray variable tuple with its ``units`` and ``long_name``."""
    return (dims, np.asarray(values), {"units": units, "long_name": long_name, **attrs})


def _band_coord(n_bands: int) -> dict[str, tuple]:
    return {"band": _var("band", np.arange(n_bands), "1", "band index (ascending energy)")}


def check_band_indices(cfg: GeometryConfig, h: Hamiltonian) -> None:
    """:class:`ConfigError` naming the key if a band index is not one of the model's bands."""
    chosen = {"chern.bands": cfg.chern and cfg.chern.bands,
              "curvature_map.band": cfg.curvature_map and [cfg.curvature_map.band]}
    for key, indices in chosen.items():
        bad = [b for b in indices or [] if b >= h.n_bands]
        if bad:
            raise ConfigError(key, f"band index {bad[0]} out of range: the {h.n_bands}-band "
                                   f"model has bands 0 to {h.n_bands - 1}")


# --------------------------------------------------------------------------------------------
# Plan: every check and every size, before the first progress report


@dataclass
class Plan:
    """What each task computes, decided (and checked) before anything runs.

    Attributes
    ----------
    spectrum
        Band ranges and curvature widths (:func:`~boltzphlow.geometry.resolution.scan_spectrum`).
    meshes
        Mesh sizes per task (``"ahc"``, ``"chern"``, ``"cme"``, ``"chiral_anomaly"``).
    mu
        Chemical potentials per task (``"ahc"``, ``"cme"``, ``"chiral_anomaly"``).
    path
        ``(labels, ticks, distance, k)`` of the band path.
    curvature_map
        ``(axes, normal, shown, names, k1, k2)`` of the curvature map.
    warnings
        One line per :class:`ResolutionWarning` issued.
    """

    spectrum: Spectrum
    meshes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    mu: dict[str, np.ndarray] = field(default_factory=dict)
    path: tuple | None = None
    curvature_map: tuple | None = None
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(message, ResolutionWarning, stacklevel=3)


def _point_bytes(h: Hamiltonian) -> int:
    """Working bytes per k-point of H, ∂H/∂k, eigenvectors, velocity matrices and curvature.

    ``16 ((3 d + 8) N² + 2 n_R)``: complex H and U (N² each), ∂H and U†∂H U with one
    intermediate (3 d N²), the Kubo sum's gap, mask and product arrays (~6 N²), and the Bloch
    phases of a direct sum over the n_R hopping vectors (2 n_R).
    """
    n_r = len(getattr(h, "R", ()))
    return 16 * ((3 * h.dim + 8) * h.n_bands**2 + 2 * n_r)


def _chunk_points(cfg: GeometryConfig, shape: tuple[int, ...]) -> int:
    """Points evaluated at once on a mesh: ``chunk_size``, but at least one row (a slab)."""
    total = math.prod(shape)
    return min(total, max(cfg.chunk_size, math.prod(shape[1:])))


def _fft_bytes(h: Hamiltonian, shape: tuple[int, ...]) -> int:
    """Size of the FFT Bloch-sum tables of a tight-binding model on a mesh (capped)."""
    if not isinstance(h, TightBinding):
        return 0
    n_r0 = len(np.unique(h.R[:, 0]))
    size = 16 * (1 + h.dim) * n_r0 * math.prod(shape[1:]) * h.n_bands**2
    return min(size, TightBinding.FFT_TABLE_BYTES)


def _check_mesh(key: str, shape: tuple[int, ...], need: np.ndarray, why: str) -> None:
    """Refuse a mesh below the minimum, naming the key and the minimum."""
    if any(n < m for n, m in zip(shape, need, strict=True)):
        raise ConfigError(key, f"{list(shape)} points cannot resolve {why}; at least "
                               f"{[int(m) for m in need]} are needed (docs/geometry.md, "
                               "'Mesh resolution')")


def _resolution_reason(h: Hamiltonian, kappa: float) -> str:
    if math.isfinite(kappa):
        return (f"the narrowest Berry-curvature peak (half-width κ = Δ/2v = {kappa:.3g} "
                "1/a, which the spacing must not exceed)")
    hint = "hopping range" if getattr(h, "R", None) is not None and h.periodic else "k-box"
    return f"the model's {hint}"


def _mesh_work(cfg: GeometryConfig, h: Hamiltonian, shape: tuple[int, ...], refine: int,
               n_mu: int, what: str, keys: list[str]) -> None:
    """Memory of a pass over a mesh: chunk work, FFT tables, and the values refinement keeps.

    With refinement, each evaluated point holds ``P N`` weighted Fermi factors (P chemical
    potentials, N bands) plus the kernel temporaries (3 P), and chunks of refined points can
    hold up to ``chunk_size`` points whatever the mesh; the base mesh's values, coordinates,
    sizes and indicators are kept (``3 x 8 (P N + 3 d + 4)`` per point, with the copies that
    concatenation makes).
    """
    values = n_mu * h.n_bands
    if refine:
        chunk = cfg.chunk_size
        extra = 8 * (values + 3 * n_mu)
        stored = 3 * 8 * math.prod(shape) * (values + 3 * h.dim + 4)
    else:
        chunk, extra, stored = _chunk_points(cfg, shape), 0, 0
    need = (chunk * (_point_bytes(h) + extra) + _fft_bytes(h, shape) + stored
            + 64 * n_mu)
    check_memory(need, what, keys)


def _mu_range(cfg: GeometryConfig, spectrum: Spectrum) -> np.ndarray:
    """The chemical potentials of ``[ahc]``: the list, or ``n_mu`` values over the range."""
    task = cfg.ahc
    if task.mu is not None:
        return np.asarray(task.mu, dtype=float)
    lo, hi = task.mu_min, task.mu_max
    if lo is None or hi is None:
        e_min, e_max = float(spectrum.band_min.min()), float(spectrum.band_max.max())
        pad = 0.1 * max(e_max - e_min, 1e-3)
        lo = e_min - pad if lo is None else lo
        hi = e_max + pad if hi is None else hi
        if not lo < hi:
            given = "ahc.mu_min" if task.mu_min is not None else "ahc.mu_max"
            raise ConfigError(given, f"empty μ range [{lo:g}, {hi:g}] (the bands span "
                                     f"{e_min:g} to {e_max:g}): set mu_min and mu_max")
    if task.n_mu < 2:
        raise ConfigError("ahc.n_mu", "a range of μ needs n_mu >= 2 (one value: give "
                                      "mu = [value])")
    check_memory(64 * task.n_mu, f"{task.n_mu} chemical potentials", ["ahc.n_mu"])
    return np.linspace(lo, hi, task.n_mu)


def _plan_ahc(cfg: GeometryConfig, h: Hamiltonian, plan: Plan) -> None:
    task = cfg.ahc
    mu = _mu_range(cfg, plan.spectrum)
    shape = tuple(task.mesh or cfg.mesh)
    key = "ahc.mesh" if task.mesh else "mesh"
    margin = FERMI_CUTOFF * task.T
    kappa = plan.spectrum.narrowest(plan.spectrum.pairs_between(mu.min() - margin,
                                                                mu.max() + margin))
    _check_mesh(key, shape, minimum_mesh(h, kappa, refine=task.refine),
                _resolution_reason(h, kappa) + (f" (with {task.refine} levels of refinement)"
                                                if task.refine else ""))
    if task.use_symmetry and h.symmetry and not task.refine:
        try:
            h.mesh(shape).check_symmetry(h.symmetry)
        except ValueError as exc:
            raise ConfigError("ahc.use_symmetry", f"the {list(shape)} mesh does not have the "
                                                  f"model's symmetry ({exc}); use equal sizes "
                                                  "or use_symmetry = false") from None
    _mesh_work(cfg, h, shape, task.refine, mu.size,
               f"the anomalous Hall conductivity on the {'x'.join(map(str, shape))} mesh "
               f"({mu.size} μ, refine {task.refine})",
               [key, "ahc.n_mu" if task.mu is None else "ahc.mu", "ahc.refine", "chunk_size"])
    if task.mu is None and mu.size > 1:
        spacing = float(mu[1] - mu[0])
        gaps = plan.spectrum.band_gaps()
        inside = (gaps > 0) & (plan.spectrum.band_max[:-1] < mu[-1]) & (
            plan.spectrum.band_min[1:] > mu[0])
        if inside.any() and spacing > 0.5 * gaps[inside].min():
            gap = float(gaps[inside].min())
            need = math.ceil(2 * (mu[-1] - mu[0]) / gap) + 1
            plan.warn(f"ahc.n_mu = {task.n_mu}: the μ spacing {spacing:.3g} exceeds half the "
                      f"smallest band gap ({gap:.3g}) in the range, so a plateau can fall "
                      f"between two values; n_mu >= {need} resolves it")
    plan.mu["ahc"] = mu
    plan.meshes["ahc"] = shape


def _plan_chern(cfg: GeometryConfig, h: Hamiltonian, plan: Plan) -> None:
    task = cfg.chern
    chosen = list(range(h.n_bands)) if task.bands is None else task.bands
    axes = [0, 1] if h.dim == 2 else [a for a in range(3) if a != task.normal_axis]
    if task.mesh is not None:
        shape, key = tuple(task.mesh), "chern.mesh"
    else:
        shape, key = tuple(cfg.mesh[a] for a in axes), "mesh"
    kappa = plan.spectrum.narrowest(plan.spectrum.pairs_of_bands(chosen))
    _check_mesh(key, shape, minimum_mesh(h, kappa, axes=axes), _resolution_reason(h, kappa))
    check_memory(6 * 16 * math.prod(shape) * h.n_bands**2 + _point_bytes(h) * math.prod(shape),
                 f"the Chern number on the {shape[0]}x{shape[1]} plane", [key])
    plan.meshes["chern"] = shape


def _plan_chiral(cfg: GeometryConfig, h: Hamiltonian, plan: Plan, name: str) -> None:
    task = getattr(cfg, name)
    mu = np.asarray(task.mu, dtype=float)
    shape = tuple(task.mesh or cfg.mesh)
    key = f"{name}.mesh" if task.mesh else "mesh"
    margin = FERMI_CUTOFF * task.T
    kappa = plan.spectrum.narrowest(plan.spectrum.pairs_between(mu.min() - margin,
                                                                mu.max() + margin))
    _check_mesh(key, shape, minimum_mesh(h, kappa, refine=task.refine),
                _resolution_reason(h, kappa))
    _mesh_work(cfg, h, shape, task.refine, mu.size,
               f"the {name.replace('_', ' ')} on the {'x'.join(map(str, shape))} mesh "
               f"({mu.size} μ, refine {task.refine})",
               [key, f"{name}.mu", f"{name}.refine", "chunk_size"])
    plan.mu[name] = mu
    plan.meshes[name] = shape


def _plan_curvature_map(cfg: GeometryConfig, h: Hamiltonian, plan: Plan) -> None:
    task = cfg.curvature_map
    axes, normal = _map_axes(h, task)
    shown = normal if task.component == "normal" else "xyz".index(task.component)
    names = [f"k{'xyz'[axis]}" for axis in axes]
    if h.periodic:
        half = 1.02 * np.abs(brillouin_zone(h)).max(axis=0)
    else:
        half = np.full(h.dim, h.k_max)
    ranges = []
    for axis, name in zip(axes, names, strict=True):
        given = getattr(task, name)
        ranges.append(given if given is not None else [-half[axis], half[axis]])
    n1, n2 = task.n
    row = min(n1 * n2, max(cfg.chunk_size, n1))
    check_memory(3 * 8 * n1 * n2 + row * _point_bytes(h),
                 f"the {n1}x{n2} Berry-curvature map", ["curvature_map.n", "chunk_size"])
    kappa = plan.spectrum.narrowest(plan.spectrum.pairs_of_bands([task.band]))
    if math.isfinite(kappa):
        width = np.array([hi - lo for lo, hi in ranges])
        need = np.ceil(width / kappa - 1e-9).astype(int) + 1
        if n1 < need[0] or n2 < need[1]:
            plan.warn(f"curvature_map.n = {task.n}: pixels of {width[0] / (n1 - 1):.3g} x "
                      f"{width[1] / (n2 - 1):.3g} 1/a are wider than the curvature peak "
                      f"(half-width κ = {kappa:.3g} 1/a); n >= {need.tolist()} resolves it")
    k1 = np.linspace(*ranges[0], n1)
    k2 = np.linspace(*ranges[1], n2)
    plan.curvature_map = (axes, normal, shown, names, k1, k2)


def _plan_bands(cfg: GeometryConfig, h: Hamiltonian, plan: Plan) -> None:
    task = cfg.bands
    labels, corners = _path_points(cfg, h)
    seg = np.linalg.norm(np.diff(corners, axis=0), axis=1)
    ticks = np.concatenate([[0.0], np.cumsum(seg)])
    if not ticks[-1] > 0:
        raise ConfigError("bands.path", "all points coincide")
    total = task.n_points + len(ticks) - 2
    check_memory(3 * 8 * total * (h.n_bands + h.dim + 2)
                 + min(total, cfg.chunk_size) * _point_bytes(h),
                 f"the band path ({total} points)", ["bands.n_points", "chunk_size"])
    kappa = plan.spectrum.narrowest()
    spacing = ticks[-1] / (task.n_points - 1)
    if spacing > kappa:
        need = math.ceil(ticks[-1] / kappa - 1e-9) + 1
        plan.warn(f"bands.n_points = {task.n_points}: the spacing {spacing:.3g} 1/a along the "
                  f"path exceeds the half-width κ = {kappa:.3g} 1/a of the narrowest avoided "
                  f"crossing, which the path can step over; n_points >= {need} resolves it")
    # n_points spread by length, plus the inner corners (always n_points + corners - 2)
    distance = np.sort(np.concatenate([np.linspace(0.0, ticks[-1], task.n_points),
                                       ticks[1:-1]]), kind="stable")
    segment = np.clip(np.searchsorted(ticks, distance, side="right") - 1, 0, len(seg) - 1)
    frac = np.where(seg[segment] > 0, (distance - ticks[segment]) / np.where(
        seg[segment] > 0, seg[segment], 1.0), 0.0)
    k = corners[segment] + frac[:, None] * (corners[segment + 1] - corners[segment])
    plan.path = (labels, ticks, distance, k)


def make_plan(cfg: GeometryConfig, h: Hamiltonian) -> Plan:
    """Check a config against its model and decide every size (no task is run).

    Raises
    ------
    ConfigError
        For a band index, k-path or μ range the model does not have, or a k-mesh below the
        minimum that resolves the model (naming the key and the minimum).
    ResourceError
        If a task would not fit in memory (naming the keys that change it).
    """
    check_band_indices(cfg, h)
    try:
        plan = Plan(spectrum=scan_spectrum(h))
    except ValueError as exc:  # H(k) not finite or not Hermitian with these parameters
        raise ConfigError(cfg.hamiltonian, f"the model cannot be evaluated: {exc}") from None
    planners: dict[str, Callable[[], None]] = {
        "chern": lambda: _plan_chern(cfg, h, plan),
        "ahc": lambda: _plan_ahc(cfg, h, plan),
        "curvature_map": lambda: _plan_curvature_map(cfg, h, plan),
        "bands": lambda: _plan_bands(cfg, h, plan),
        "cme": lambda: _plan_chiral(cfg, h, plan, "cme"),
        "chiral_anomaly": lambda: _plan_chiral(cfg, h, plan, "chiral_anomaly"),
    }
    for task in TASKS:
        if getattr(cfg, task) is not None:
            planners[task]()
    return plan


# --------------------------------------------------------------------------------------------
# Tasks: each returns a Dataset of its variables


def task_ahc(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str], plan: Plan
             ) -> xr.Dataset:
    """σ(μ) at temperature T (Valet and Raimondi, Eq. 35) on the task's mesh."""
    task = cfg.ahc
    mu, mesh = plan.mu["ahc"], plan.meshes["ahc"]
    sigma = anomalous_hall(h, mu, task.T, mesh, component=task.component,
                           chunk_size=cfg.chunk_size, use_symmetry=task.use_symmetry,
                           refine=task.refine, refine_fraction=task.refine_fraction)
    comp = task.component
    return xr.Dataset(
        {"ahc": _var("mu", sigma, units["sigma"],
                     f"intrinsic anomalous Hall conductivity σ_{comp}",
                     temperature=task.T, component=comp, mesh=list(mesh))},
        coords={"mu": _var("mu", mu, units["energy"], "chemical potential μ")},
    )


def task_chern(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str], plan: Plan
               ) -> xr.Dataset:
    """Chern number of each chosen band (a plane of a 3D model)."""
    task = cfg.chern
    chosen = list(range(h.n_bands)) if task.bands is None else task.bands
    mesh = plan.meshes["chern"]
    extra = {} if h.dim == 2 else {"normal_axis": task.normal_axis, "k_normal": task.k_normal}
    values = [chern_number(h, [band], mesh, **extra) for band in chosen]
    plane = ("the Brillouin zone" if h.dim == 2 else
             f"the plane f_{task.normal_axis} = {task.k_normal:g} (reduced)")
    return xr.Dataset(
        {"chern_number": _var("chern_band", values, "1", f"Chern number over {plane}",
                              mesh=list(mesh), **extra)},
        coords={"chern_band": _var("chern_band", chosen, "1", "band index of the Chern number")},
    )


def brillouin_zone(h: Hamiltonian) -> np.ndarray:
    """Vertices of the first Brillouin zone (Wigner-Seitz cell of the reciprocal lattice).

    Returns
    -------
    numpy.ndarray
        ``(n_vertices, d)`` Cartesian (1/a); for 2D ordered counter-clockwise.
    """
    from scipy.spatial import Voronoi

    recip = h.reciprocal
    d = recip.shape[0]
    grid = np.stack(np.meshgrid(*[np.arange(-2, 3)] * d, indexing="ij"), -1).reshape(-1, d)
    points = grid @ recip
    vor = Voronoi(points)
    origin = int(np.argmin(np.linalg.norm(points, axis=1)))
    vertices = vor.vertices[vor.regions[vor.point_region[origin]]]
    if d == 2:
        vertices = vertices[np.argsort(np.arctan2(vertices[:, 1], vertices[:, 0]))]
    return vertices


def _map_axes(h: Hamiltonian, task: CurvatureMapTask) -> tuple[list[int], int]:
    """In-plane Cartesian axes (sorted) and the normal axis of a curvature map."""
    if h.dim == 2:
        return [0, 1], 2
    normal = "xyz".index(task.normal)
    return [axis for axis in range(3) if axis != normal], normal


def task_curvature_map(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str],
                       plan: Plan) -> xr.Dataset:
    """Berry curvature of one band on a rectangle of a k-plane (chunked over rows)."""
    task = cfg.curvature_map
    axes, normal, shown, names, k1, k2 = plan.curvature_map
    omega = np.empty((len(k2), len(k1)))
    rows = max(1, cfg.chunk_size // len(k1))
    for start in range(0, len(k2), rows):
        stop = min(start + rows, len(k2))
        k = np.zeros((stop - start, len(k1), h.dim))
        k[..., axes[0]] = k1[None, :]
        k[..., axes[1]] = k2[start:stop, None]
        if h.dim == 3:
            k[..., normal] = task.k_normal
        om = berry_curvature(h, k, bands=[task.band])
        omega[start:stop] = om[..., 0] if h.dim == 2 else om[..., 0, shown]
    component = "xy" if h.dim == 2 else "axial " + "xyz"[shown]
    plane = "" if h.dim == 2 else f" at k{'xyz'[normal]} = {task.k_normal:g}"
    ds = xr.Dataset(
        {"berry_curvature": _var((names[1], names[0]), omega, units["curvature"],
                                 f"Berry curvature Ω ({component}) of band {task.band}{plane}",
                                 band=task.band,
                                 **({} if h.dim == 2 else {"normal": "xyz"[normal],
                                                           "k_normal": task.k_normal}))},
        coords={name: _var(name, values, units["k"], f"wave vector k_{name[1]}")
                for name, values in zip(names, (k1, k2), strict=True)},
    )
    if h.periodic and h.dim == 2:
        bz = brillouin_zone(h)
        ds = ds.assign_coords(
            bz_kx=_var("bz_vertex", bz[:, 0], units["k"], "Brillouin-zone vertex k_x"),
            bz_ky=_var("bz_vertex", bz[:, 1], units["k"], "Brillouin-zone vertex k_y"),
        )
    return ds


def _path_points(cfg: GeometryConfig, h: Hamiltonian) -> tuple[list[str], np.ndarray]:
    """Labels and Cartesian coordinates of the corner points of the k-path."""
    task = cfg.bands
    params = getattr(cfg, cfg.hamiltonian)
    named = high_symmetry_points(cfg.hamiltonian, params)
    path = task.path or _DEFAULT_PATHS[cfg.hamiltonian]
    labels, corners = [], []
    for point in path:
        if isinstance(point, str):
            labels.append("Γ" if point == "G" else point)
            corners.append(named[point])
            continue
        f = np.asarray(point, dtype=float)
        labels.append("(" + ", ".join(f"{x:g}" for x in f) + ")")
        if task.coordinates == "cartesian":
            corners.append(f)
        elif h.periodic:
            corners.append(f @ h.reciprocal)
        else:
            corners.append(2 * h.k_max * f)
    return labels, np.asarray(corners, dtype=float)


_DEFAULT_PATHS: dict[str, list[str]] = {
    "haldane": ["G", "K", "M", "K'", "G"],
    "qi_wu_zhang": ["G", "X", "M", "G"],
    "massive_dirac": ["X", "G", "M"],
    "rashba_2deg": ["X", "G", "M"],
    "weyl_lattice": ["G", "X", "M", "G", "W1", "Z", "R"],
    "p_band": ["G", "X", "W", "L", "G", "K"],
    "wannier90": ["G"],
}


def task_bands(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str], plan: Plan
               ) -> xr.Dataset:
    """Band energies along a path of straight segments between the given points."""
    labels, ticks, distance, k = plan.path
    energies = np.empty((len(k), h.n_bands))
    for start in range(0, len(k), cfg.chunk_size):
        stop = start + cfg.chunk_size
        energies[start:stop] = np.linalg.eigvalsh(h.hamiltonian(k[start:stop]))
    coords = {
        "path_distance": _var("path", distance, units["k"], "distance along the k-path"),
        **{f"path_k{'xyz'[i]}": _var("path", k[:, i], units["k"], f"wave vector k_{'xyz'[i]}")
           for i in range(h.dim)},
        "path": _var("path", np.arange(len(k)), "1", "index of the point along the k-path"),
        "path_tick": _var("path_tick", np.arange(len(ticks)), "1", "index of the corner point"),
        "path_tick_label": _var("path_tick", np.array(labels, dtype=object), "1",
                                "k-path corner point"),
        **_band_coord(h.n_bands),
    }
    return xr.Dataset(
        {"band_energy": _var(("path", "band"), energies, units["energy"],
                             "band energy along the k-path"),
         "path_tick_distance": _var("path_tick", ticks, units["k"],
                                    "distance of the k-path corner points")},
        coords=coords,
    )


def task_cme(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str], plan: Plan
             ) -> xr.Dataset:
    """CME coefficient per band and total (Valet and Raimondi, Eq. 36), adaptively refined."""
    task = cfg.cme
    mu, mesh = plan.mu["cme"], plan.meshes["cme"]
    res = chiral_magnetic(h, mu, task.T, mesh, chunk_size=cfg.chunk_size, refine=task.refine,
                          refine_fraction=task.refine_fraction)
    info = {"temperature": task.T, "mesh": list(mesh), "refine": task.refine}
    return xr.Dataset(
        {"cme_per_band": _var(("cme_mu", "band"), res.per_band, units["cme"],
                              "chiral-magnetic coefficient α_n per band (j = α B)", **info),
         "cme_total": _var("cme_mu", res.total, units["cme"],
                           "chiral-magnetic coefficient α, all bands", **info)},
        coords={"cme_mu": _var("cme_mu", mu, units["energy"], "chemical potential μ (CME)"),
                **_band_coord(h.n_bands)},
    )


def task_chiral_anomaly(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str],
                        plan: Plan) -> xr.Dataset:
    """Fermi-surface Berry flux and chiral-anomaly coefficient per band (Eq. 33)."""
    task = cfg.chiral_anomaly
    mu, mesh = plan.mu["chiral_anomaly"], plan.meshes["chiral_anomaly"]
    res = chiral_anomaly(h, mu, task.T, mesh, chunk_size=cfg.chunk_size, refine=task.refine,
                         refine_fraction=task.refine_fraction)
    info = {"temperature": task.T, "mesh": list(mesh), "refine": task.refine}
    return xr.Dataset(
        {"fermi_surface_flux": _var(("anomaly_mu", "band"), res.flux, "1",
                                    "Berry flux out of the Fermi sea per band / 2π", **info),
         "chiral_anomaly_per_band": _var(("anomaly_mu", "band"), res.per_band,
                                         units["anomaly"],
                                         "chiral-anomaly coefficient C_n per band "
                                         "(∂ρ/∂t + ∇·j = C E·B)", **info),
         "chiral_anomaly_total": _var("anomaly_mu", res.total, units["anomaly"],
                                      "chiral-anomaly coefficient C, all bands", **info)},
        coords={"anomaly_mu": _var("anomaly_mu", mu, units["energy"],
                                   "chemical potential μ (chiral anomaly)"),
                **_band_coord(h.n_bands)},
    )


def weyl_nodes(h: bands_lib.WeylLattice, units: dict[str, str]) -> xr.Dataset:
    """Positions, chiralities, energies and measured Berry fluxes of the Weyl nodes."""
    nodes = h.nodes
    k = np.array([node.k for node in nodes])
    k0 = float(abs(k[0, 2]))  # nodes at (0, 0, ±k0): keep the sphere clear of both
    radius = 0.2 * min(k0, float(np.pi) - k0)
    flux = [berry_flux(h, 0, node.k, radius) for node in nodes]
    return xr.Dataset(
        {"weyl_node_chirality": _var("node", [n.chirality for n in nodes], "1",
                                     "chirality of the Weyl node"),
         "weyl_node_energy": _var("node", [n.energy for n in nodes], units["energy"],
                                  "energy of the Weyl node"),
         "weyl_node_berry_flux": _var("node", flux, "1",
                                      "Berry flux of band 0 out of a sphere around the node / 2π",
                                      radius=radius)},
        coords={"node": _var("node", np.arange(len(nodes)), "1", "Weyl node index"),
                **{f"weyl_node_k{'xyz'[i]}": _var("node", k[:, i], units["k"],
                                                  f"Weyl node position k_{'xyz'[i]}")
                   for i in range(3)}},
    )


_TASK_FUNCTIONS: dict[str, Callable[[GeometryConfig, Hamiltonian, dict, Plan], xr.Dataset]] = {
    "chern": task_chern,
    "ahc": task_ahc,
    "curvature_map": task_curvature_map,
    "bands": task_bands,
    "cme": task_cme,
    "chiral_anomaly": task_chiral_anomaly,
}


# --------------------------------------------------------------------------------------------
# Run


def _expected(cfg: GeometryConfig, h: Hamiltonian, plan: Plan) -> dict[str, list[tuple]]:
    """Per task: ``(variable, dims, shape)`` and ``(coordinate, values)`` a result must have."""
    n = h.n_bands
    out: dict[str, list[tuple]] = {}
    if cfg.chern is not None:
        chosen = list(range(n)) if cfg.chern.bands is None else cfg.chern.bands
        out["chern"] = [("chern_number", ("chern_band",), (len(chosen),)),
                        ("chern_band", np.asarray(chosen))]
    if cfg.ahc is not None:
        mu = plan.mu["ahc"]
        out["ahc"] = [("ahc", ("mu",), mu.shape), ("mu", mu)]
    if cfg.curvature_map is not None:
        _, _, _, names, k1, k2 = plan.curvature_map
        out["curvature_map"] = [("berry_curvature", (names[1], names[0]), (len(k2), len(k1))),
                                (names[0], k1), (names[1], k2)]
    if cfg.bands is not None:
        _, ticks, distance, _ = plan.path
        out["bands"] = [("band_energy", ("path", "band"), (len(distance), n)),
                        ("path_distance", distance)]
    for task, prefix, coord in (("cme", "cme_per_band", "cme_mu"),
                                ("chiral_anomaly", "chiral_anomaly_per_band", "anomaly_mu")):
        if getattr(cfg, task) is not None:
            mu = plan.mu[task]
            out[task] = [(prefix, (coord, "band"), (mu.size, n)), (coord, mu)]
    return out


def _resume_from(previous: xr.Dataset | None, attrs: dict[str, Any], tasks: list[str],
                 expected: dict[str, list[tuple]]) -> tuple[list[str], xr.Dataset]:
    """The finished tasks of a partial result, after checking that it belongs to the config.

    Raises
    ------
    InputError
        ``"--resume: ..."`` when the file holds another model, other model parameters, other
        tasks, or variables whose dimensions, shapes or coordinates differ from the config's.
    """
    if previous is None:
        return [], xr.Dataset()

    def refuse(what: str) -> InputError:
        return InputError(f"--resume: the partial result does not belong to this config: {what}")

    stored = previous.attrs
    if stored.get("model") != "geometry":
        raise refuse(f"it holds a {shorten(stored.get('model'))} result")
    for key in ("hamiltonian", "parameters", "n_bands", "dim"):
        if str(stored.get(key)) != str(attrs[key]):
            raise refuse(f"attribute {key} is {shorten(stored.get(key))}, the config gives "
                         f"{shorten(attrs[key])}")
    done = str(stored.get("tasks_done", "")).split()
    if done != tasks[:len(done)]:
        raise refuse(f"finished tasks {shorten(done)} are not a start of {tasks}")
    for task in done:
        for item in expected[task]:
            if len(item) == 3:
                name, dims, shape = item
                if name not in previous.data_vars:
                    raise refuse(f"variable {name} of task {task} is missing")
                var = previous[name]
                if var.dims != dims or var.shape != shape:
                    raise refuse(f"{name} has dimensions {var.dims} {var.shape}, the config "
                                 f"gives {dims} {shape}")
            else:
                name, values = item
                if name not in previous.coords or not np.array_equal(
                        np.asarray(previous[name].values), values):
                    raise refuse(f"coordinate {name} differs from the config's")
    return done, xr.Dataset(previous.data_vars, coords=previous.coords)


def run(cfg: GeometryConfig, context: RunContext) -> xr.Dataset:
    """Build the model, check the config against it and run its tasks, checkpointing after each.

    Every check (:func:`make_plan`; on resume, :func:`_resume_from`) comes before the first
    ``context.progress`` call.  On resume, the tasks recorded in the partial result's
    ``tasks_done`` attribute are taken from it and the others computed.
    """
    h = build_hamiltonian(cfg)
    plan = make_plan(cfg, h)
    units = _units(cfg, h)
    tasks = [task for task in TASKS if getattr(cfg, task) is not None]
    attrs = {
        "model": "geometry",
        "hamiltonian": cfg.hamiltonian,
        "hamiltonian_name": getattr(h, "name", "") or cfg.hamiltonian,
        "parameters": json.dumps(getattr(cfg, cfg.hamiltonian).model_dump(), default=str),
        "dim": h.dim,
        "n_bands": h.n_bands,
        "lattice_model": int(h.periodic),
        "mesh": list(cfg.mesh),
        "tasks": " ".join(tasks),
        "energy_unit": units["energy"],
        "length_unit": units["length"],
        "conventions": ("hbar = e = 1, lattice constant 1; k in 1/" + units["length"]
                        + ", energies in " + units["energy"] + "; sigma in " + units["sigma"]
                        + "; CME alpha in " + units["cme"] + "; chiral anomaly in e^3/h^2"),
    }
    if plan.warnings:
        attrs["resolution_warnings"] = " | ".join(plan.warnings)
    done, ds = _resume_from(context.resume_from, attrs, tasks, _expected(cfg, h, plan))
    if isinstance(h, bands_lib.WeylLattice) and "weyl_node_chirality" not in ds:
        ds.update(weyl_nodes(h, units))
    context.progress(len(done), len(tasks))
    for task in tasks:
        if task in done:
            continue
        ds = ds.copy()  # the checkpointed Dataset is left as it was
        try:
            ds.update(_TASK_FUNCTIONS[task](cfg, h, units, plan))
        except ResourceError as exc:  # an allocation inside a library call, e.g. refinement
            raise ResourceError(f"{task}: {exc}") from None
        except ValueError as exc:  # a numerical method failed on this model: name the task
            raise SolverError(f"{task}: {exc}") from None
        done.append(task)
        ds.attrs = {**attrs, "tasks_done": " ".join(done)}
        context.progress(len(done), len(tasks))
        if len(done) < len(tasks):
            context.checkpoint(ds.copy())
    ds.attrs = {**attrs, "tasks_done": " ".join(done)}
    return ds


# --------------------------------------------------------------------------------------------
# Summary


def summary(ds: xr.Dataset) -> str:
    """A few lines describing a result: model, Chern numbers, σ plateaus, CME, anomaly.

    A sweep result gets one header line and the summary of each of its first points.
    """
    from boltzphlow.apps.geometry_plots import sweep_points

    points = sweep_points(ds)
    if points is None:
        return _summary_one(ds)
    lines = [f"geometry sweep: {len(points)} of {ds.attrs.get('n_points', len(points))} "
             "points finished"]
    for label, point in points[:SUMMARY_POINTS]:
        lines.append(f"[{label}]")
        lines += ["  " + line for line in _summary_one(point).splitlines()]
    if len(points) > SUMMARY_POINTS:
        lines.append(f"... and {len(points) - SUMMARY_POINTS} more points")
    return "\n".join(lines)


#: Sweep points summarised one by one.
SUMMARY_POINTS = 4


def _summary_one(ds: xr.Dataset) -> str:
    a = ds.attrs
    mesh = "x".join(str(int(n)) for n in np.atleast_1d(a.get("mesh", [])))
    lines = [f"geometry: {a.get('hamiltonian_name', a.get('hamiltonian'))}, "
             f"{a.get('n_bands')} bands, {a.get('dim')}D, mesh {mesh}; "
             f"tasks: {a.get('tasks', '')}"]
    if "weyl_node_chirality" in ds:
        nodes = ", ".join(
            f"k = ({float(ds.weyl_node_kx[i]):.3g}, {float(ds.weyl_node_ky[i]):.3g}, "
            f"{float(ds.weyl_node_kz[i]):.3g}) χ = {float(ds.weyl_node_chirality[i]):+.0f} "
            f"(flux {float(ds.weyl_node_berry_flux[i]):+.3f}) E = "
            f"{float(ds.weyl_node_energy[i]):.3g}" for i in range(ds.sizes["node"]))
        lines.append(f"Weyl nodes: {nodes}")
    if "chern_number" in ds:
        values = ", ".join(f"band {int(b)}: {float(c):+.4f}"
                           for b, c in zip(ds.chern_band.values, ds.chern_number.values,
                                           strict=True))
        attrs = ds.chern_number.attrs
        plane = (f" (plane f{int(attrs['normal_axis'])} = {float(attrs['k_normal']):g})"
                 if "normal_axis" in attrs else "")
        lines.append(f"Chern numbers{plane}: {values}")
    if "ahc" in ds:
        ok = np.isfinite(ds.ahc.values)
        sigma, mu = ds.ahc.values[ok], ds.mu.values[ok]
        if mu.size:
            span = (f"μ = {mu.min():.4g} … {mu.max():.4g} ({mu.size} values)" if mu.size > 1
                    else f"μ = {mu[0]:.4g}")
            lines.append(f"AHC {ds.ahc.attrs.get('component', 'xy')} at T = "
                         f"{ds.ahc.attrs.get('temperature', 0):g}, {span}: σ from "
                         f"{sigma.min():.5g} to {sigma.max():.5g} {ds.ahc.units}"
                         + (f"; σ(μ = {_closest(mu, 0.0):.3g}) = {sigma[np.argmin(abs(mu))]:.6g}"
                            if mu.size > 1 else f": σ = {sigma[0]:.6g}"))
    if "berry_curvature" in ds:
        om = ds.berry_curvature
        lines.append(f"{om.long_name}: min {float(om.min()):.4g}, max {float(om.max()):.4g} "
                     f"{om.units} on {om.shape[1]}x{om.shape[0]} points")
    if "band_energy" in ds:
        labels = "–".join(str(x) for x in ds.path_tick_label.values)
        e = ds.band_energy
        lines.append(f"bands along {labels}: {ds.sizes['path']} points, energies "
                     f"{float(e.min()):.4g} … {float(e.max()):.4g} {e.units}")
    if "cme_total" in ds:
        lines.append(_chiral_summary(
            "CME α", ds.cme_mu.values, ds.cme_per_band.values, ds.cme_total.values,
            ds.cme_total.attrs.get("temperature", 0.0), ds.cme_total.units))
    if "chiral_anomaly_total" in ds:
        lines.append(_chiral_summary(
            "chiral anomaly C", ds.anomaly_mu.values, ds.chiral_anomaly_per_band.values,
            ds.chiral_anomaly_total.values, ds.chiral_anomaly_total.attrs.get("temperature", 0.0),
            ds.chiral_anomaly_total.units))
    return "\n".join(lines)


def _chiral_summary(name: str, mu: np.ndarray, per_band: np.ndarray, total: np.ndarray,
                    temperature: float, units: str) -> str:
    """One line: the per-band values and total at the μ closest to 0, and the extremes."""
    ok = np.isfinite(total)
    mu, per_band, total = mu[ok], per_band[ok], total[ok]
    if not mu.size:
        return f"{name}: no finite values"
    i = int(np.argmin(np.abs(mu)))
    bands = ", ".join(f"{x:+.4f}" for x in per_band[i])
    span = f"{mu.size} values of μ in {mu.min():.4g} … {mu.max():.4g}; " if mu.size > 1 else ""
    return (f"{name} (T = {float(temperature):g}): {span}at μ = {mu[i]:.4g} per band [{bands}], "
            f"total {total[i]:+.4f} {units}; max |per band| {np.abs(per_band).max():.4f}, "
            f"max |total| {np.abs(total).max():.4f}")


def _closest(values: np.ndarray, target: float) -> float:
    return float(values[np.argmin(np.abs(values - target))])


def plot(ds: xr.Dataset, out_dir: Path, stem: str) -> list[Path]:
    """Figures of a result or a sweep, ``<stem>_<kind>.png`` (see :mod:`.plots`)."""
    from boltzphlow.apps.geometry_plots import plot_all

    return plot_all(ds, Path(out_dir), stem)


JOB = Job(
    name="geometry",
    config_model=GeometryConfig,
    run=run,
    plot=plot,
    summary=summary,
    description="Bloch bands and quantum geometry: AHC, Chern numbers, Berry curvature, CME "
                "(Valet and Raimondi)",
    resumable=True,
)
