"""The ``geometry`` job: Bloch bands and quantum geometry from the command line (issue 4).

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

Units (the conventions of :mod:`boltzphlow.bands`): ħ = e = 1, lattice constant 1.  Wave vectors
in 1/a; energies (μ, T, band energies, model parameters) in the model's energy unit (the hopping
``t`` of the built-in models, eV for Wannier90 files; ``energy_unit`` relabels it); angles as
numbers in radians or strings with a unit (``"pi/2"``, ``"90 deg"``).  Results: σ in e²/h (2D) or
e²/(h·a) (3D); CME coefficient α (j = αB) in e²/h² × energy; chiral-anomaly coefficient in
e³/h²; Berry curvature in a²; Chern numbers and Berry fluxes (in units of 2π) dimensionless.
Wannier90 ``_tb.dat`` files carry lattice vectors in Å, so their lengths are in Å.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from boltzphlow import bands as bands_lib
from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.config import ConfigError
from boltzphlow.geometry.berry import berry_curvature, berry_flux, chern_number
from boltzphlow.grids.kmesh import DEFAULT_CHUNK
from boltzphlow.jobs import Job, RunContext, register_job
from boltzphlow.transport import anomalous_hall, chiral_anomaly, chiral_magnetic
from boltzphlow.units import Quantity

__all__ = ["GeometryConfig", "build_hamiltonian", "high_symmetry_points", "run", "summary"]


# --------------------------------------------------------------------------------------------
# Config schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _as_list(value: Any) -> Any:
    """A bare number given for a list-valued key means a list of one."""
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else value


#: Mesh sizes along each reduced axis (1, 2 or 3 of them).
MeshSizes = Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=3)]
#: Chemical potentials: one number or a list (model energy unit).
MuList = Annotated[list[float], BeforeValidator(_as_list), Field(min_length=1)]
#: A closed interval ``[min, max]``.
Interval = Annotated[list[float], Field(min_length=2, max_length=2)]
Angle = Quantity("rad")


class HaldaneParams(_Strict):
    """Haldane honeycomb model: hoppings t1, t2 e^{±iφ}, sublattice mass ±m."""

    t1: float = 1.0
    t2: float = 0.15
    phi: Angle = float(np.pi / 2)
    m: float = 0.2


class QiWuZhangParams(_Strict):
    """Qi-Wu-Zhang square-lattice Chern insulator."""

    m: float = 1.0
    t: float = 1.0


class MassiveDiracParams(_Strict):
    """2D massive Dirac model on the k-box [-k_max, k_max]² (seed 001 Eq. 37)."""

    v: float = 1.0
    delta: float = 0.1
    k_max: float = Field(5.0, gt=0)


class WeylLatticeParams(_Strict):
    """Two-node Weyl lattice: nodes at (0, 0, ±k0) with energies ±b0."""

    t: float = 1.0
    tz: float = 1.0
    m: float = 1.0
    k0: Angle = float(np.pi / 2)
    b0: float = 0.0


class Rashba2degParams(_Strict):
    """Rashba 2DEG with a Zeeman gap on the k-box [-k_max, k_max]²."""

    mass: float = Field(0.5, gt=0)
    alpha: float = 0.5
    zeeman: float = 0.1
    k_max: float = Field(4.0, gt=0)


class PBandParams(_Strict):
    """Three-orbital p-band model on the fcc lattice (seed 004 SM §I)."""

    t1: float = -1.0
    t2: float = 0.3
    t3: float = 2.0


class Wannier90Params(_Strict):
    """A Wannier90 tight-binding file, ``seedname_hr.dat`` or ``seedname_tb.dat``.

    ``file`` is relative to the working directory.  ``format = "auto"`` reads the name's
    ending.  ``lattice`` (rows, 3 x 3) and ``positions`` (reduced, num_wann x 3) are for
    ``_hr.dat`` files, which have neither (default: identity lattice, orbitals at the origin).
    """

    file: str
    format: Literal["auto", "hr", "tb"] = "auto"
    lattice: list[Annotated[list[float], Field(min_length=3, max_length=3)]] | None = Field(
        None, min_length=3, max_length=3)
    positions: list[Annotated[list[float], Field(min_length=3, max_length=3)]] | None = None

    @model_validator(mode="after")
    def _resolve_format(self) -> Wannier90Params:
        if self.format == "auto":
            name = Path(self.file).name
            if name.endswith("_hr.dat"):
                self.format = "hr"
            elif name.endswith("_tb.dat"):
                self.format = "tb"
            else:
                raise ValueError(f"cannot tell the format of file {self.file!r} "
                                 "(name ending _hr.dat or _tb.dat); set format")
        if self.format == "tb" and (self.lattice is not None or self.positions is not None):
            raise ValueError("lattice and positions are read from a _tb.dat file; "
                             "give them only for _hr.dat")
        return self


class AhcTask(_Strict):
    """Intrinsic anomalous Hall conductivity vs μ (seed 001 Eq. 35).

    Give ``mu`` (one value or a list), or ``mu_min``/``mu_max``/``n_mu`` (the range defaults
    to the band width plus 10 % on each side).
    """

    mu: MuList | None = None
    mu_min: float | None = None
    mu_max: float | None = None
    n_mu: int = Field(201, ge=1)
    T: float = Field(0.0, ge=0)
    component: Literal["xy", "yz", "zx"] = "xy"
    mesh: MeshSizes | None = None
    use_symmetry: bool = False
    refine: int = Field(0, ge=0, le=10)
    refine_fraction: float = Field(0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _one_way_to_give_mu(self) -> AhcTask:
        if self.mu is not None and (self.mu_min is not None or self.mu_max is not None):
            raise ValueError("give either mu or mu_min/mu_max, not both")
        if None not in (self.mu_min, self.mu_max) and not self.mu_min < self.mu_max:
            raise ValueError(f"need mu_min < mu_max, got {self.mu_min} and {self.mu_max}")
        return self


class ChernTask(_Strict):
    """Chern numbers of single bands (Fukui-Hatsugai-Suzuki link variables).

    3D models: the plane of reduced coordinate ``k_normal`` normal to reduced axis
    ``normal_axis``; ``mesh`` has two sizes (default: the global mesh's in-plane sizes).
    """

    bands: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] | None = None
    mesh: Annotated[list[Annotated[int, Field(ge=2)]], Field(min_length=2, max_length=2)] | None \
        = None
    normal_axis: Literal[0, 1, 2] = 2
    k_normal: float = 0.0


class CurvatureMapTask(_Strict):
    """Berry curvature of one band on a rectangle of a Cartesian k-plane.

    2D models: Ω_xy on the (kx, ky) plane.  3D models: the plane normal to ``normal`` at
    ``k_normal`` (1/a), showing the axial curvature's ``component`` (default: along the
    normal; in a mirror plane that one may vanish, so "x", "y" or "z" choose another).
    Ranges default to the box
    around the Brillouin zone (lattices) or the k-box (continuum models).
    """

    band: int = Field(0, ge=0)
    n: Annotated[list[Annotated[int, Field(ge=2)]], Field(min_length=2, max_length=2)] = [
        161, 161]
    normal: Literal["x", "y", "z"] = "z"
    k_normal: float = 0.0
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
PathPoint = str | Annotated[list[float], Field(min_length=1, max_length=3)]


class BandsTask(_Strict):
    """Band energies along a k-path of straight segments.

    ``path`` lists named points (see :func:`high_symmetry_points`) and/or explicit points in
    ``coordinates`` ("reduced": lattice coordinates, or f with k = 2 k_max f on a continuum
    box; "cartesian": 1/a).  ``n_points`` are spread over the segments by length.
    """

    path: Annotated[list[PathPoint], Field(min_length=2)] | None = None
    coordinates: Literal["reduced", "cartesian"] = "reduced"
    n_points: int = Field(301, ge=2)


class CmeTask(_Strict):
    """Chiral-magnetic coefficient per band and total vs μ (seed 001 Eq. 36; 3D models)."""

    mu: MuList = [0.0]
    T: float = Field(0.01, ge=0)
    mesh: MeshSizes | None = None
    refine: int = Field(6, ge=0, le=10)
    refine_fraction: float = Field(0.2, gt=0, le=1)


class ChiralAnomalyTask(_Strict):
    """Berry flux through the Fermi surface and the chiral-anomaly coefficient (Eq. 33; 3D)."""

    mu: MuList = [0.0]
    T: float = Field(0.05, gt=0)
    mesh: MeshSizes | None = None
    refine: int = Field(6, ge=0, le=10)
    refine_fraction: float = Field(0.2, gt=0, le=1)


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


class GeometryConfig(_Strict):
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
    energy_unit: str | None = None
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


_PARAMS: dict[str, type[_Strict]] = {
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


def high_symmetry_points(name: str, params: BaseModel | None = None) -> dict[str, np.ndarray]:
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
    """The model a config names, with its parameters (``ValueError`` on bad physics)."""
    p = getattr(cfg, cfg.hamiltonian)
    if cfg.hamiltonian == "haldane":
        return bands_lib.haldane(t1=p.t1, t2=p.t2, phi=p.phi, m=p.m)
    if cfg.hamiltonian == "qi_wu_zhang":
        return bands_lib.qi_wu_zhang(m=p.m, t=p.t)
    if cfg.hamiltonian == "massive_dirac":
        return bands_lib.massive_dirac(v=p.v, delta=p.delta, k_max=p.k_max)
    if cfg.hamiltonian == "weyl_lattice":
        return bands_lib.weyl_lattice(t=p.t, tz=p.tz, m=p.m, k0=p.k0, b0=p.b0)
    if cfg.hamiltonian == "rashba_2deg":
        return bands_lib.rashba_2deg(mass=p.mass, alpha=p.alpha, zeeman=p.zeeman, k_max=p.k_max)
    if cfg.hamiltonian == "p_band":
        return bands_lib.p_band_model(t1=p.t1, t2=p.t2, t3=p.t3)
    path = Path(p.file)
    if not path.is_file():
        raise FileNotFoundError(f"wannier90.file: no such file: {p.file!r}")
    if p.format == "tb":
        return bands_lib.read_wannier90_tb(path)
    lattice = None if p.lattice is None else np.asarray(p.lattice)
    positions = None if p.positions is None else np.asarray(p.positions)
    return bands_lib.read_wannier90_hr(path, lattice=lattice, positions=positions)


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


def _mesh_for(task_mesh: list[int] | None, cfg: GeometryConfig) -> tuple[int, ...]:
    return tuple(task_mesh or cfg.mesh)


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
# Tasks: each returns a Dataset of its variables


def _energy_range(h: Hamiltonian) -> tuple[float, float]:
    """Lowest and highest band energy on a coarse mesh (for the default μ range)."""
    sizes = (48, 48) if h.dim == 2 else (16, 16, 16)
    lo, hi = np.inf, -np.inf
    for block in h.mesh_blocks(sizes, velocity=False):
        e = np.linalg.eigvalsh(block.h)
        lo, hi = min(lo, float(e.min())), max(hi, float(e.max()))
    return lo, hi


def task_ahc(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str]) -> xr.Dataset:
    """σ(μ) at temperature T (seed 001 Eq. 35) on the task's mesh."""
    task = cfg.ahc
    if task.mu is not None:
        mu = np.asarray(task.mu, dtype=float)
    else:
        lo, hi = task.mu_min, task.mu_max
        if lo is None or hi is None:
            e_min, e_max = _energy_range(h)
            pad = 0.1 * max(e_max - e_min, 1e-3)
            lo = e_min - pad if lo is None else lo
            hi = e_max + pad if hi is None else hi
            if not lo < hi:
                raise ConfigError("ahc", f"empty μ range [{lo:g}, {hi:g}]: set mu_min and mu_max")
        mu = np.linspace(lo, hi, task.n_mu)
    mesh = _mesh_for(task.mesh, cfg)
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


def task_chern(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str]) -> xr.Dataset:
    """Chern number of each chosen band (a plane of a 3D model)."""
    task = cfg.chern
    chosen = list(range(h.n_bands)) if task.bands is None else task.bands
    if task.mesh is not None:
        mesh = tuple(task.mesh)
    elif h.dim == 2:
        mesh = tuple(cfg.mesh)
    else:
        mesh = tuple(n for axis, n in enumerate(cfg.mesh) if axis != task.normal_axis)
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


def task_curvature_map(cfg: GeometryConfig, h: Hamiltonian,
                       units: dict[str, str]) -> xr.Dataset:
    """Berry curvature of one band on a rectangle of a k-plane (chunked over rows)."""
    task = cfg.curvature_map
    axes, normal = _map_axes(h, task)
    shown = normal if task.component == "normal" else "xyz".index(task.component)
    names = [f"k{'xyz'[axis]}" for axis in axes]
    if h.periodic:
        bz = brillouin_zone(h)
        half = 1.02 * np.abs(bz).max(axis=0)
    else:
        bz = None
        half = np.full(h.dim, h.k_max)
    ranges = []
    for axis, name in zip(axes, names, strict=True):
        given = getattr(task, name)
        ranges.append(given if given is not None else [-half[axis], half[axis]])
    k1 = np.linspace(*ranges[0], task.n[0])
    k2 = np.linspace(*ranges[1], task.n[1])
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
    if bz is not None and h.dim == 2:
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


def task_bands(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str]) -> xr.Dataset:
    """Band energies along a path of straight segments between the given points."""
    task = cfg.bands
    labels, corners = _path_points(cfg, h)
    if len(corners) < 2:
        raise ConfigError("bands.path", f"give at least two points (the {cfg.hamiltonian} "
                                        "model has no default path)")
    seg = np.linalg.norm(np.diff(corners, axis=0), axis=1)
    ticks = np.concatenate([[0.0], np.cumsum(seg)])
    if ticks[-1] <= 0:
        raise ConfigError("bands.path", "all points coincide")
    distance = np.linspace(0.0, ticks[-1], task.n_points)
    distance = np.union1d(distance, ticks)  # the corners themselves are on the path
    segment = np.clip(np.searchsorted(ticks, distance, side="right") - 1, 0, len(seg) - 1)
    frac = np.where(seg[segment] > 0, (distance - ticks[segment]) / np.where(
        seg[segment] > 0, seg[segment], 1.0), 0.0)
    k = corners[segment] + frac[:, None] * (corners[segment + 1] - corners[segment])
    energies = np.linalg.eigvalsh(h.hamiltonian(k))
    coords = {
        "path_distance": _var("path", distance, units["k"], "distance along the k-path"),
        **{f"path_k{'xyz'[i]}": _var("path", k[:, i], units["k"], f"wave vector k_{'xyz'[i]}")
           for i in range(h.dim)},
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


def task_cme(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str]) -> xr.Dataset:
    """CME coefficient per band and total (seed 001 Eq. 36), adaptively refined."""
    task = cfg.cme
    mu = np.asarray(task.mu, dtype=float)
    mesh = _mesh_for(task.mesh, cfg)
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


def task_chiral_anomaly(cfg: GeometryConfig, h: Hamiltonian,
                        units: dict[str, str]) -> xr.Dataset:
    """Fermi-surface Berry flux and chiral-anomaly coefficient per band (seed 001 Eq. 33)."""
    task = cfg.chiral_anomaly
    mu = np.asarray(task.mu, dtype=float)
    mesh = _mesh_for(task.mesh, cfg)
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


_TASK_FUNCTIONS: dict[str, Callable[[GeometryConfig, Hamiltonian, dict], xr.Dataset]] = {
    "chern": task_chern,
    "ahc": task_ahc,
    "curvature_map": task_curvature_map,
    "bands": task_bands,
    "cme": task_cme,
    "chiral_anomaly": task_chiral_anomaly,
}


# --------------------------------------------------------------------------------------------
# Run


def run(cfg: GeometryConfig, context: RunContext) -> xr.Dataset:
    """Build the model and run the config's tasks, checkpointing after each one.

    On resume, the tasks recorded in the partial result's ``tasks_done`` attribute are taken
    from it and the others computed.
    """
    h = build_hamiltonian(cfg)
    check_band_indices(cfg, h)
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
    done: list[str] = []
    ds = xr.Dataset()
    previous = context.resume_from
    if previous is not None and previous.attrs.get("tasks_done"):
        done = str(previous.attrs["tasks_done"]).split()
        ds = xr.Dataset(previous.data_vars, coords=previous.coords)
    if isinstance(h, bands_lib.WeylLattice) and "weyl_node_chirality" not in ds:
        ds.update(weyl_nodes(h, units))
    context.progress(len(done), len(tasks))
    for task in tasks:
        if task in done:
            continue
        ds = ds.copy()  # the checkpointed Dataset is left as it was
        ds.update(_TASK_FUNCTIONS[task](cfg, h, units))
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
    """A few lines describing a result: model, Chern numbers, σ plateaus, CME, anomaly."""
    a = ds.attrs
    mesh = "x".join(str(int(n)) for n in np.atleast_1d(a.get("mesh", [])))
    lines = [f"geometry: {a.get('hamiltonian_name', a.get('hamiltonian'))}, "
             f"{a.get('n_bands')} bands, {a.get('dim')}D, mesh {mesh}; "
             f"tasks: {a.get('tasks', '')}"]
    if "weyl_node_chirality" in ds:
        nodes = ", ".join(
            f"k = ({float(ds.weyl_node_kx[i]):.3g}, {float(ds.weyl_node_ky[i]):.3g}, "
            f"{float(ds.weyl_node_kz[i]):.3g}) χ = {int(ds.weyl_node_chirality[i]):+d} "
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
        sigma, mu = ds.ahc.values, ds.mu.values
        span = f"μ = {mu.min():.4g} … {mu.max():.4g} ({mu.size} values)" if mu.size > 1 else \
            f"μ = {mu[0]:.4g}"
        lines.append(f"AHC {ds.ahc.attrs.get('component', 'xy')} at T = "
                     f"{ds.ahc.attrs.get('temperature', 0):g}, {span}: σ from {sigma.min():.5g} "
                     f"to {sigma.max():.5g} {ds.ahc.units}"
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
    i = int(np.argmin(np.abs(mu)))
    bands = ", ".join(f"{x:+.4f}" for x in per_band[i])
    span = f"{mu.size} values of μ in {mu.min():.4g} … {mu.max():.4g}; " if mu.size > 1 else ""
    return (f"{name} (T = {float(temperature):g}): {span}at μ = {mu[i]:.4g} per band [{bands}], "
            f"total {total[i]:+.4f} {units}; max |per band| {np.abs(per_band).max():.4f}, "
            f"max |total| {np.abs(total).max():.4f}")


def _closest(values: np.ndarray, target: float) -> float:
    return float(values[np.argmin(np.abs(values - target))])


def plot(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Figures of a result (see :mod:`boltzphlow.geometry.plots`)."""
    from boltzphlow.geometry.plots import plot_all

    return plot_all(ds, Path(out_dir))


JOB = register_job(Job(
    name="geometry",
    config_model=GeometryConfig,
    run=run,
    plot=plot,
    summary=summary,
    description="Bloch bands and quantum geometry: AHC, Chern numbers, Berry curvature, CME "
                "(seed 001)",
))
