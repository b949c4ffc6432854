"""Config schema of the ``bte`` job.

The model tables (``[massive_dirac]``, ``[weyl_lattice]``, ...) are those of the ``geometry``
job, derived from the parameter dataclasses of :mod:`boltzphlow.bands` through its registry;
the scattering tables (``[scattering.impurities]``, ``[scattering.acoustic_phonons]``, ...) are
derived from the parameter dataclasses of the models of :mod:`boltzphlow.scattering`
(:func:`boltzphlow.schema.config_model`), so a name, unit, default or bound is written once, in
the physics layer.  The task tables and the top-level keys belong to the job.  Every key
carries its unit and meaning, from which ``boltzphlow keys bte`` and the key tables of
docs/bte.md are generated.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, Field, create_model, model_validator

from boltzphlow import scattering as scattering_lib
from boltzphlow.apps.geometry.config import (
    MODEL_TABLES,
    MeshSizes,
    Real,
    Triple,
    resolve_model_table,
)
from boltzphlow.bands import MODEL_KINDS
from boltzphlow.parameters import parameters_of
from boltzphlow.schema import ConfigModel, config_model

__all__ = ["DEFAULT_MESH", "SCATTERING_CLASSES", "SCATTERING_TABLES", "TASKS", "BteConfig",
           "DeltaConfig", "MagnetoconductivityTask", "ScatteringConfig", "SolverConfig",
           "check_model_mesh", "scattering_class"]


def _key(default: Any, unit: str, doc: str, **kwargs: Any) -> Any:
    """A config field with its unit and meaning (``...``: required)."""
    return Field(default, description=doc, json_schema_extra={"unit": unit}, **kwargs)


def _positive(value: float) -> float:
    if not value > 0:
        raise ValueError(f"must be > 0, got {value:g}")
    return value


#: A finite positive number (bounded like every geometry number).
Positive = Annotated[Real, AfterValidator(_positive)]

#: The tasks of the job.
TASKS = ("conductivity", "resistivity_vs_T", "magnetoconductivity")

#: Default mesh sizes per dimension.
DEFAULT_MESH = {1: [2000], 2: [200, 200], 3: [40, 40, 40]}

#: Scattering tables and the classes of :mod:`boltzphlow.scattering` they build, in order.
SCATTERING_CLASSES: dict[str, str] = {
    "impurities": "Impurities",
    "acoustic_phonons": "AcousticPhonons",
    "optical_phonons": "OpticalPhonons",
    "constant_tau": "ConstantRelaxationTime",
    "node_impurities": "NodeImpurities",
}

#: Parameters the app fills in from the band model (not config keys).
FROM_MODEL: dict[str, tuple[str, ...]] = {"node_impurities": ("nodes", "reciprocal")}


def scattering_class(name: str) -> type | None:
    """The class of the scattering table ``name`` (None where this version has none)."""
    cls = getattr(scattering_lib, SCATTERING_CLASSES[name], None)
    if cls is None and name == "node_impurities":
        try:
            from boltzphlow.scattering.nodes import NodeImpurities as cls
        except ImportError:
            return None
    return cls


def _table_name(name: str) -> str:
    """``"acoustic_phonons"`` → ``"AcousticPhononsScattering"``."""
    return "".join(part.capitalize() for part in name.split("_")) + "Scattering"


def _scattering_table(name: str, cls: type) -> type[ConfigModel]:
    """The config table of a scattering model, derived from its parameter dataclass.

    A model whose fields are not yet declared with :func:`~boltzphlow.parameters.parameter`
    gets its plain dataclass fields (type and default) with an empty unit.
    """
    exclude = FROM_MODEL.get(name, ())
    if parameters_of(cls):
        table = config_model(cls, _table_name(name), exclude=exclude)
    else:
        types = {"float": float, "str": str, "int": int, "bool": bool}
        fields = {f.name: (types.get(f.type, Any) if isinstance(f.type, str) else f.type,
                           _key(f.default, "-", f"{f.name.replace('_', ' ')} of "
                                f"{cls.__name__}"))
                  for f in dataclasses.fields(cls)
                  if f.default is not dataclasses.MISSING and f.name not in exclude}
        table = create_model(_table_name(name), __base__=ConfigModel,
                             __doc__=" ".join((cls.__doc__ or "").strip().split("\n\n")[0]
                                              .split()), **fields)
    table.__module__ = __name__
    globals()[table.__name__] = table
    return table


#: Config table of each scattering model present in :mod:`boltzphlow.scattering`.
SCATTERING_TABLES: dict[str, type[ConfigModel]] = {
    name: _scattering_table(name, cls) for name in SCATTERING_CLASSES
    if (cls := scattering_class(name)) is not None}


class _ScatteringChecks(ConfigModel):
    @model_validator(mode="after")
    def _at_least_one(self) -> Any:
        if not any(getattr(self, name) is not None for name in SCATTERING_TABLES):
            raise ValueError("no scattering: give at least one of the tables "
                             + ", ".join(f"[scattering.{name}]" for name in SCATTERING_TABLES))
        return self


#: ``[scattering]``: one optional table per mechanism; their rates add.
ScatteringConfig: Any = create_model(
    "ScatteringConfig", __base__=_ScatteringChecks, __module__=__name__,
    __doc__="Scattering mechanisms, one table each (their transition rates add).",
    **{name: (table | None, _key(None, "-", f"{name.replace('_', ' ')} (table "
                                 f"[scattering.{name}])"))
       for name, table in SCATTERING_TABLES.items()})


class _DeltaChoice(ConfigModel):
    """The method of ``[delta]`` and the width of a fixed Gaussian."""

    method: Literal["gaussian", "adaptive", "tetrahedron"] = _key(
        "gaussian", "-", "gaussian (fixed width), adaptive (width per pair from the velocities "
        "and the mesh spacing) or tetrahedron (linear tetrahedra; triangles in 2D)")
    width: Positive | None = _key(None, "energy", "width of the fixed Gaussian (default: T of "
                                  "each point)")


#: ``[delta]``: the method, and the parameters of the adaptive Gaussian (derived from
#: :class:`~boltzphlow.scattering.AdaptiveGaussian`; ``n_sigma`` cuts both Gaussians).
DeltaConfig: Any = (
    config_model(scattering_lib.AdaptiveGaussian, "DeltaConfig", base=_DeltaChoice,
                 doc="The energy δ of the golden rule: Gaussian, adaptive Gaussian or linear "
                     "tetrahedron (the other keys: the adaptive Gaussian; n_sigma cuts both "
                     "Gaussians).")
    if hasattr(scattering_lib, "AdaptiveGaussian") else
    create_model("DeltaConfig", __base__=_DeltaChoice, __doc__=_DeltaChoice.__doc__,
                 n_sigma=(Positive, _key(4.0, "-", "Gaussians are cut at n_sigma widths"))))
DeltaConfig.__module__ = __name__


class SolverConfig(ConfigModel):
    """How the linearised BTE is solved."""

    method: Literal["mrta", "serta", "iterative", "krylov", "direct"] = _key(
        "krylov", "-", "mrta (momentum-relaxation-time RTA), serta (self-energy RTA), "
        "iterative (full solution by iteration), krylov (preconditioned Krylov), direct "
        "(sparse LU)")
    rtol: Positive = _key(1e-8, "-", "relative residual at which an iterative or Krylov "
                          "solve stops", lt=1)
    maxiter: int = _key(1000, "-", "most iterations of an iterative solve", ge=1)


class MagnetoconductivityTask(ConfigModel):
    """σ_ij(B) for fields of strength ``B`` along ``direction``."""

    B: Real | Annotated[list[Real], Field(min_length=1)] = _key(
        ..., "ħ/(e a²)", "field strengths along the direction, a list or one number (each "
        "solved at its field, not expanded; one number per point of a field sweep)")
    direction: Triple = _key([0.0, 0.0, 1.0], "-", "direction of B (Cartesian, normalised; "
                             "2D models: z only)")

    @model_validator(mode="after")
    def _nonzero(self) -> MagnetoconductivityTask:
        if not np.any(np.asarray(self.direction)):
            raise ValueError("direction: the field direction must not be zero")
        return self


def check_model_mesh(config: Any, defaults: dict[int, list[int]]) -> None:
    """Resolve the band model's table of a k-mesh config and its mesh: the default of the
    model's dimension where none is given, else one size per dimension (ValueError naming
    ``mesh``)."""
    kind = resolve_model_table(config)
    if config.mesh is None:
        config.mesh = list(defaults[kind.dim])
    if len(config.mesh) != kind.dim:
        raise ValueError(f"mesh: the {config.hamiltonian} model is {kind.dim}D, so the mesh "
                         f"needs {kind.dim} sizes, got {config.mesh}")


class _BteChecks(ConfigModel):
    """Checks across the tables of a bte config (the model fields come from the registry)."""

    @model_validator(mode="after")
    def _consistent(self) -> Any:
        check_model_mesh(self, DEFAULT_MESH)
        temperatures = self.T if isinstance(self.T, list) else [self.T]
        if self.task == "resistivity_vs_T":
            if len(set(temperatures)) != len(temperatures):
                raise ValueError("T: the temperatures of resistivity_vs_T must differ")
        elif isinstance(self.T, list):
            if len(self.T) != 1:
                raise ValueError(f"T: a list of temperatures is for task = "
                                 f"\"resistivity_vs_T\"; task {self.task!r} takes one")
            self.T = self.T[0]
        if self.task == "magnetoconductivity":
            if self.magnetoconductivity is None:
                raise ValueError("magnetoconductivity: task magnetoconductivity needs the "
                                 "table [magnetoconductivity] with B")
            if np.any(np.asarray(self.magnetic_field)):
                raise ValueError("magnetic_field: task magnetoconductivity takes its fields "
                                 "from [magnetoconductivity] (B, direction)")
        elif self.magnetoconductivity is not None:
            raise ValueError(f"magnetoconductivity: this table is for task = "
                             f"\"magnetoconductivity\", not {self.task!r}")
        return self


_MODEL_NAMES = ", ".join(MODEL_KINDS)
Temperatures = Positive | Annotated[list[Positive], Field(min_length=1)]

#: Whole config file of the ``bte`` job.
BteConfig: Any = create_model(
    "BteConfig",
    __base__=_BteChecks,
    __doc__="Whole config file of the ``bte`` job (see :mod:`boltzphlow.apps.bte`).",
    __module__=__name__,
    model=(Literal["bte"], _key(..., "-", '"bte"')),
    task=(Literal[TASKS], _key(
        "conductivity", "-", "conductivity (σ at one T and B), resistivity_vs_T (ρ(T) over the "
        "list T), magnetoconductivity (σ_ij(B), table [magnetoconductivity])")),
    hamiltonian=(Literal[tuple(MODEL_KINDS)], _key(
        ..., "-", f"the band model: {_MODEL_NAMES}; its parameters go in the table of that "
        "name")),
    **{name: (table | None, None) for name, table in MODEL_TABLES.items()},
    mesh=(MeshSizes | None, _key(None, "points", "k-mesh sizes along the reduced axes (default "
                                 "[200, 200] in 2D, [40, 40, 40] in 3D); Γ-centred for "
                                 "lattices, cell-centred on continuum boxes")),
    mu=(Real, _key(..., "energy", "chemical potential μ")),
    T=(Temperatures, _key(..., "energy", "temperature k_B T > 0; a list for task "
                          "resistivity_vs_T")),
    magnetic_field=(Triple, _key([0.0, 0.0, 0.0], "ħ/(e a²)", "magnetic field B (Cartesian; "
                                 "2D models: z only) of the conductivity and "
                                 "resistivity_vs_T tasks")),
    berry=(bool, _key(True, "-", "include the Berry-phase terms: phase-space factor "
                      "1 − B·Ω, anomalous velocity, orbital-moment energy")),
    anomalous_hall=(bool, _key(True, "-", "compute the anomalous Hall decomposition: "
                               "intrinsic plus side jump of every scattering mechanism (Xiao "
                               "et al., Eqs. 7–12; needs berry, B = 0, two or more bands and "
                               "a mechanism with transitions; NaN where it does not apply)")),
    n_kT=(Positive, _key(20.0, "k_B T", "half-width of the energy window around μ in units "
                         "of T (plus the largest phonon energy)")),
    spin_degeneracy=(Positive, _key(1.0, "-", "multiplies σ (1 for the spin-resolved models "
                                    "of bands)")),
    store_distribution=(bool, _key(True, "-", "keep δf on the Fermi surface (of the first "
                                   "point) in the result")),
    distribution_points=(int, _key(4000, "states", "states of the Fermi surface kept for "
                                   "the distribution (evenly chosen)", ge=10, le=10**6)),
    energy_unit=(Annotated[str, Field(min_length=1, max_length=32)] | None, _key(
        None, "-", "label of the energy unit (default t for lattice models, E0 for continuum "
        "ones, eV for Wannier90 files; nothing is converted)")),
    scattering=(ScatteringConfig, _key(..., "-", "scattering mechanisms (tables "
                                       "[scattering.NAME])")),
    delta=(DeltaConfig, _key(DeltaConfig(), "-", "the energy δ (table [delta])")),
    solver=(SolverConfig, _key(SolverConfig(), "-", "the solver (table [solver])")),
    magnetoconductivity=(MagnetoconductivityTask | None, _key(
        None, "-", "fields of task magnetoconductivity (table [magnetoconductivity])")),
)
