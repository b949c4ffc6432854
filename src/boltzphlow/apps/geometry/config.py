"""Config schema of the ``geometry`` job.

The model tables (``[haldane]``, ``[weyl_lattice]``, ...) are derived from the parameter
dataclasses of :mod:`boltzphlow.bands` through its registry
(:data:`boltzphlow.bands.MODEL_KINDS`, :func:`boltzphlow.schema.config_model`): a model's
names, defaults, units, bounds and meanings are written once, in ``bands``.  A Wannier90 file
is an input, not a model with parameters, and has its own table here.  The task tables and the
top-level keys belong to the job.  Every key carries its unit and meaning, from which
``boltzphlow keys geometry`` and the key tables of docs/geometry.md are generated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from boltzphlow.bands import MODEL_KINDS, ModelKind
from boltzphlow.errors import shorten
from boltzphlow.grids.kmesh import DEFAULT_CHUNK
from boltzphlow.schema import ConfigModel, config_model, field_unit

__all__ = ["DEFAULT_MESH", "MAX_MAGNITUDE", "MODEL_TABLES", "TASKS", "AhcTask", "BandsTask",
           "ChernTask", "ChiralAnomalyTask", "CmeTask", "CurvatureMapTask", "GeometryConfig",
           "Wannier90Params"]


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


def _key(default: Any, unit: str, doc: str, **kwargs: Any) -> Any:
    """A config field with its unit and meaning (``...``: required)."""
    return Field(default, description=doc, json_schema_extra={"unit": unit}, **kwargs)


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


# --------------------------------------------------------------------------------------------
# Model tables


class ModelTable(ConfigModel):
    """Base of the model tables derived from :mod:`boltzphlow.bands`: plain numbers are at most
    :data:`MAX_MAGNITUDE` in magnitude (quantities with units are bounded by their parser)."""

    @field_validator("*", mode="after")
    @classmethod
    def _bounded_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if (isinstance(value, int | float) and not isinstance(value, bool)
                and field_unit(cls.model_fields[info.field_name]) is None):
            return _bounded(value)
        return value


class Wannier90Params(ConfigModel):
    """A Wannier90 tight-binding file, ``seedname_hr.dat`` or ``seedname_tb.dat``.

    ``file`` is relative to the working directory.  ``format = "auto"`` reads the name's
    ending.  ``lattice`` (rows, 3 x 3) and ``positions`` (reduced, num_wann x 3) are for
    ``_hr.dat`` files, which have neither (default: identity lattice, orbitals at the origin).
    """

    file: str = _key(..., "path", "`seedname_hr.dat` or `seedname_tb.dat`, relative to the "
                     "working directory", min_length=1)
    format: Literal["auto", "hr", "tb"] = _key("auto", "-", "`hr` or `tb`; `auto` reads the "
                                               "file name's ending")
    lattice: Annotated[list[Triple], Field(min_length=3, max_length=3)] | None = _key(
        None, "a", "3×3 lattice vectors (rows) of an `_hr.dat` file (linearly independent; "
        "default: identity)")
    positions: Annotated[list[Triple], Field(min_length=1)] | None = _key(
        None, "reduced", "orbital positions of an `_hr.dat` file, one `[f1, f2, f3]` per "
        "orbital (num_wann rows; default: all at the origin)")
    wsvec: str | None = _key(
        None, "path", "`seedname_wsvec.dat`: each hopping moved to its minimal-distance "
        "replicas, as Wannier90 interpolates with use_ws_distance (default: none)",
        min_length=1)
    position_operator: Literal["centres", "full"] = _key(
        "centres", "-", "centres: the tight-binding approximation (Wannier centres only); full: "
        "the whole position block of a `_tb.dat` file enters the Berry curvature (Wang, Yates, "
        "Souza and Vanderbilt; not with the orbital moment)")
    symmetry: list[Annotated[list[Triple], Field(min_length=3, max_length=3)]] | None = _key(
        None, "-", "Cartesian point operations of the crystal (3×3 rotation or reflection "
        "matrices) for use_symmetry; each is checked against the bands at sample k-points")

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
        if self.format == "hr" and self.position_operator == "full":
            raise ValueError("position_operator: 'full' needs the position block of a _tb.dat "
                             "file (an _hr.dat file has none)")
        if self.lattice is not None:
            lattice = np.asarray(self.lattice)
            if abs(np.linalg.det(lattice)) < 1e-12 * max(1.0, float(np.abs(lattice).max())) ** 3:
                raise ValueError("lattice: the three vectors are linearly dependent")
        return self


def _table_name(name: str) -> str:
    """``"weyl_lattice"`` → ``"WeylLatticeParams"``."""
    return "".join(part.capitalize() for part in name.split("_")) + "Params"


def _model_table(name: str) -> type[ConfigModel]:
    """The config table of a model kind, derived from its parameter dataclass; defined in this
    module (so that configs pickle, e.g. to sweep workers)."""
    table = config_model(MODEL_KINDS[name].parameters, _table_name(name), base=ModelTable)
    table.__module__ = __name__
    globals()[table.__name__] = table
    return table


#: Config table of each model kind, in the registry's order: derived from the model's parameter
#: dataclass, or :class:`Wannier90Params` for a model read from a file.
MODEL_TABLES: dict[str, type[ConfigModel]] = {
    name: _model_table(name) if kind.parameters is not None else Wannier90Params
    for name, kind in MODEL_KINDS.items()}


# --------------------------------------------------------------------------------------------
# Task tables


class AhcTask(ConfigModel):
    """Intrinsic anomalous Hall conductivity vs μ (Valet and Raimondi, Eq. 35).

    Give ``mu`` (one value or a list), or ``mu_min``/``mu_max``/``n_mu`` (the range defaults
    to the band width plus 10 % on each side).
    """

    mu: MuList | None = _key(None, "energy", "chemical potentials (a number or a list); "
                             "excludes mu_min/mu_max")
    mu_min: Real | None = _key(None, "energy", "lower end of the μ range (default: the bottom "
                               "of the bands minus 10 % of their width)")
    mu_max: Real | None = _key(None, "energy", "upper end of the μ range (mu_min < mu_max; "
                               "default: the top of the bands plus 10 % of their width)")
    n_mu: int = _key(201, "-", "number of μ over the range (≥ 2), all in one pass over the "
                     "mesh", ge=1)
    T: Real = _key(0.0, "energy", "temperature k_B T of the Fermi function", ge=0)
    component: Literal["xy", "yz", "zx"] = _key("xy", "-", "Hall component: xy (2D); xy, yz, "
                                                "zx (3D)")
    mesh: MeshSizes | None = _key(None, "points", "k-mesh of this task (default: mesh)")
    use_symmetry: bool = _key(False, "-", "sum over the points irreducible under the model's "
                              "symmetry")
    refine: int = _key(0, "levels", "levels of adaptive refinement (each divides the local "
                       "spacing by 3)", ge=0, le=10)
    refine_fraction: Real = _key(0.5, "-", "Dörfler fraction of the refinement", gt=0, le=1)

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

    bands: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] | None = _key(
        None, "-", "bands whose Chern numbers are computed, each separately (default: all)")
    mesh: PlaneSizes | None = _key(None, "points", "2 sizes of the plane mesh (default: mesh, "
                                   "its in-plane sizes in 3D)")
    normal_axis: int = _key(2, "-", "reduced axis normal to the plane (3D only)", ge=0, le=2)
    k_normal: Real = _key(0.0, "reduced", "reduced coordinate of the plane along the normal "
                          "(3D only)")


class CurvatureMapTask(ConfigModel):
    """Berry curvature of one band on a rectangle of a Cartesian k-plane.

    2D models: Ω_xy on the (kx, ky) plane.  3D models: the plane normal to ``normal`` at
    ``k_normal`` (1/a), showing the axial curvature's ``component`` (default: along the
    normal; in a mirror plane that one may vanish, so "x", "y" or "z" choose another).
    Ranges default to the box around the Brillouin zone (lattices) or the k-box (continuum
    models).
    """

    band: int = _key(0, "-", "band whose Berry curvature is mapped", ge=0)
    n: PlaneSizes = _key([161, 161], "points", "pixels along the two in-plane axes")
    normal: Literal["x", "y", "z"] = _key("z", "-", "Cartesian normal of the plane (3D only)")
    k_normal: Real = _key(0.0, "1/a", "position of the plane along the normal (3D only)")
    component: Literal["normal", "x", "y", "z"] = _key(
        "normal", "-", "axial curvature component shown: along the normal, or x, y, z "
        "(3D only)")
    kx: Interval | None = _key(None, "1/a", "[min, max] of kx (default: the box around the "
                               "Brillouin zone, or the k-box)")
    ky: Interval | None = _key(None, "1/a", "[min, max] of ky (default as kx)")
    kz: Interval | None = _key(None, "1/a", "[min, max] of kz (3D; default as kx)")

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

    ``path`` lists named points (see :func:`boltzphlow.bands.high_symmetry_points`) and/or
    explicit points in ``coordinates`` ("reduced": lattice coordinates, or f with
    k = 2 k_max f on a continuum box; "cartesian": 1/a).  ``n_points`` are spread over the
    segments by length, and the inner corners are added.
    """

    path: Annotated[list[PathPoint], Field(min_length=2)] | None = _key(
        None, "-", "corner points: named points and/or coordinate lists (default: the "
        "model's path)")
    coordinates: Literal["reduced", "cartesian"] = _key(
        "reduced", "-", "reduced (lattice coordinates; k = 2 k_max f on a box) or cartesian "
        "(1/a)")
    n_points: int = _key(301, "points", "points spread over the segments by length (plus the "
                         "inner corners)", ge=2)


class CmeTask(ConfigModel):
    """Chiral-magnetic coefficient per band and total vs μ (Valet and Raimondi, Eq. 36; 3D)."""

    mu: MuList = _key([0.0], "energy", "chemical potentials")
    T: Real = _key(0.01, "energy", "temperature k_B T", ge=0)
    mesh: MeshSizes | None = _key(None, "points", "base k-mesh (default: mesh)")
    n_radial: int = _key(64, "points", "radial Gauss-Legendre points of the node-centred "
                         "quadrature at the Weyl nodes (even; 0: plain mesh, nodes not sought)",
                         ge=0, le=512, multiple_of=2)
    refine: int = _key(0, "levels", "levels of Dörfler refinement of the mesh part (not "
                       "recommended: it spoils the rectangle rule, docs/geometry.md)", ge=0, le=10)
    refine_fraction: Real = _key(0.2, "-", "Dörfler fraction of the refinement", gt=0, le=1)


class ChiralAnomalyTask(ConfigModel):
    """Fermi-surface Berry flux and the chiral-anomaly coefficient (Valet and Raimondi, Eq. 33)."""

    mu: MuList = _key([0.0], "energy", "chemical potentials")
    T: Real = _key(0.05, "energy", "temperature k_B T (smears the Fermi surface)", gt=0)
    mesh: MeshSizes | None = _key(None, "points", "base k-mesh (default: mesh)")
    n_radial: int = _key(64, "points", "radial Gauss-Legendre points of the node-centred "
                         "quadrature at the Weyl nodes (even; 0: plain mesh, nodes not sought)",
                         ge=0, le=512, multiple_of=2)
    refine: int = _key(0, "levels", "levels of Dörfler refinement of the mesh part (not "
                       "recommended: it spoils the rectangle rule, docs/geometry.md)", ge=0, le=10)
    refine_fraction: Real = _key(0.2, "-", "Dörfler fraction of the refinement", gt=0, le=1)


#: Task tables, in the config's order.
TASK_TABLES: dict[str, type[ConfigModel]] = {
    "ahc": AhcTask, "chern": ChernTask, "curvature_map": CurvatureMapTask, "bands": BandsTask,
    "cme": CmeTask, "chiral_anomaly": ChiralAnomalyTask}
#: Names of the task tables, in the order they run.
TASKS = ("chern", "ahc", "curvature_map", "bands", "cme", "chiral_anomaly")
#: Default mesh sizes per dimension.
DEFAULT_MESH = {2: [200, 200], 3: [40, 40, 40]}


# --------------------------------------------------------------------------------------------
# The whole config


def resolve_model_table(config: Any) -> ModelKind:
    """The model kind of ``config.hamiltonian``, its parameter table filled with the defaults
    when absent; refuses the table of another model and a Wannier90 model without its file.
    For the validators of every app whose config names a :mod:`boltzphlow.bands` model."""
    name = config.hamiltonian
    kind = MODEL_KINDS[name]
    for other in MODEL_KINDS:
        if other != name and getattr(config, other) is not None:
            raise ValueError(f"{other}: parameters given for {other!r} but "
                             f"hamiltonian = {name!r}")
    if kind.parameters is None and getattr(config, name) is None:
        raise ValueError(f"{name}.file: required key missing (the _hr.dat or _tb.dat file)")
    if getattr(config, name) is None:
        setattr(config, name, MODEL_TABLES[name]())
    return kind


class _GeometryChecks(ConfigModel):
    """Checks across the tables of a geometry config (the fields come from the registry)."""

    @model_validator(mode="after")
    def _consistent(self) -> Any:
        name = self.hamiltonian
        kind = resolve_model_table(self)
        if not any(getattr(self, task) is not None for task in TASKS):
            raise ValueError("no task: give at least one of the tables "
                             + ", ".join(f"[{task}]" for task in TASKS))
        dim, lattice = kind.dim, kind.lattice
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
            known = kind.points(None)
            if self.bands.path is not None:
                _check_path(self.bands.path, name, dim, known)
            elif len(kind.default_path) < 2:
                raise ValueError(f"bands.path: required for {name} models (named points: "
                                 f"{', '.join(known)}; or give coordinates)")
        return self


def _check_path(path: list, name: str, dim: int, known: dict) -> None:
    """``ValueError`` for an unknown point name or a point with the wrong dimension."""
    for i, point in enumerate(path):
        if isinstance(point, str) and point not in known:
            raise ValueError(f"bands.path[{i}]: unknown point {point!r} for {name} "
                             f"(known: {', '.join(known)}; or give coordinates)")
        if isinstance(point, list) and len(point) != dim:
            raise ValueError(f"bands.path[{i}]: the {name} model is {dim}D, so a point needs "
                             f"{dim} coordinates, got {point}")


_MODEL_NAMES = ", ".join(MODEL_KINDS)

#: Whole config file of the ``geometry`` job: model, its parameter table, mesh, tasks.
GeometryConfig: Any = create_model(
    "GeometryConfig",
    __base__=_GeometryChecks,
    __doc__="Whole config file of the ``geometry`` job (see :mod:`boltzphlow.apps.geometry`).",
    __module__=__name__,
    model=(Literal["geometry"], _key(..., "-", '"geometry"')),
    hamiltonian=(Literal[tuple(MODEL_KINDS)], _key(
        ..., "-", f"the model: {_MODEL_NAMES}; its parameters go in the table of that name "
        "(only that one may be given)")),
    **{name: (table | None, None) for name, table in MODEL_TABLES.items()},
    mesh=(MeshSizes | None, _key(None, "points", "k-mesh sizes along the reduced axes, as many "
                                 "as the model's dimension, each at least the minimum that "
                                 "resolves the model (default [200, 200] in 2D, [40, 40, 40] "
                                 "in 3D); Γ-centred for lattices, cell-centred on continuum "
                                 "boxes; the default of every task's mesh")),
    chunk_size=(int, _key(DEFAULT_CHUNK, "points", "k-points evaluated at once (memory "
                          "O(chunk · N²); a mesh row is never split)", ge=256)),
    energy_unit=(Annotated[str, Field(min_length=1, max_length=32)] | None, _key(
        None, "-", "label of the energy unit (default t for lattice models, E0 for continuum "
        "ones, eV for Wannier90 files; nothing is converted)")),
    **{task: (table | None, None) for task, table in TASK_TABLES.items()},
)
