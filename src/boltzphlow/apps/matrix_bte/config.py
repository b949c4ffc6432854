"""Config schema of the ``matrix_bte`` job.

The model tables (``[massive_dirac]``, ``[qi_wu_zhang]``, ...) are those of the ``geometry``
and ``bte`` jobs (derived from :mod:`boltzphlow.bands` through its registry); the scattering
tables are the ``bte`` job's for the mechanisms :class:`~boltzphlow.kinetics.matrix_bte.
MatrixBTE` takes (``[scattering.impurities]``, ``[scattering.optical_phonons]``,
``[scattering.acoustic_phonons]``), derived from the parameter dataclasses of
:mod:`boltzphlow.scattering`; the δ table is derived from
:class:`~boltzphlow.scattering.Gaussian` (the only δ whose Kramers–Kronig partner, the
principal value of the kinetic corrections, the solver has).  Every key carries its unit and
meaning, from which ``boltzphlow keys matrix_bte`` is generated.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, create_model, model_validator

from boltzphlow.apps.bte.config import SCATTERING_TABLES, Positive, _key, check_model_mesh
from boltzphlow.apps.geometry.config import MODEL_TABLES, MeshSizes, Real
from boltzphlow.bands import MODEL_KINDS
from boltzphlow.scattering import Gaussian
from boltzphlow.schema import ConfigModel, config_model

__all__ = ["DEFAULT_MESH", "MATRIX_SCATTERING", "VARIANTS", "MatrixBteConfig",
           "MatrixDeltaConfig", "MatrixScatteringConfig", "MatrixSolverConfig"]

#: Default mesh sizes per dimension (the matrix BTE keeps every band of every k-point with a
#: band in the window: smaller meshes than the ``bte`` job's).
DEFAULT_MESH = {1: [400], 2: [40, 40], 3: [12, 12, 12]}

#: The scattering tables the matrix BTE takes (the others of the ``bte`` job are refused).
MATRIX_SCATTERING = ("impurities", "optical_phonons", "acoustic_phonons")

#: The variants of ``decompose``: name → (``MatrixBTE`` switches changed from the config's,
#: long name).  ``full`` has the config's switches.
VARIANTS: dict[str, tuple[dict[str, bool], str]] = {
    "full": ({}, "the config's switches (all on by default)"),
    "no_kinetic": ({"kinetic_corrections": False}, "kinetic corrections off"),
    "diagonal_self_energy": ({"offdiagonal_self_energy": False},
                             "band-off-diagonal self-energies off"),
    "populations_only": ({"coherence": False}, "coherences off: the band-diagonal BTE"),
    "linewidth_only": ({"linewidth_only": True}, "linewidth-only coherences, decay "
                       "(Γ_n + Γ_n')/2 (Wigner-transport codes)"),
}


class _Scattering(ConfigModel):
    @model_validator(mode="before")
    @classmethod
    def _supported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            other = [name for name in data if name not in MATRIX_SCATTERING]
            if other:
                raise ValueError(f"[scattering.{other[0]}] is not taken by the matrix BTE "
                                 "(it takes " + ", ".join(f"[scattering.{name}]" for name in
                                                          MATRIX_SCATTERING) + ")")
        return data

    @model_validator(mode="after")
    def _at_least_one(self) -> Any:
        if not any(getattr(self, name) is not None for name in MATRIX_SCATTERING):
            raise ValueError("no scattering: give at least one of the tables "
                             + ", ".join(f"[scattering.{name}]" for name in MATRIX_SCATTERING))
        impurities = self.impurities
        if impurities is not None and getattr(impurities, "skew_scattering", False):
            raise ValueError("impurities.skew_scattering: the matrix BTE is second Born order "
                             "(no skew scattering); set it false")
        return self


#: ``[scattering]``: one optional table per mechanism the matrix BTE takes; kernels add.
MatrixScatteringConfig: Any = create_model(
    "MatrixScatteringConfig", __base__=_Scattering, __module__=__name__,
    __doc__="Scattering mechanisms of the matrix BTE, one table each (their kernels add).",
    **{name: (SCATTERING_TABLES[name] | None, _key(None, "-", f"{name.replace('_', ' ')} "
                                                   f"(table [scattering.{name}])"))
       for name in MATRIX_SCATTERING})


class _DeltaWidth(ConfigModel):
    width: Positive | None = _key(None, "energy", "width σ of the Gaussian δ (default: T); the "
                                  "principal value of the kinetic corrections is its "
                                  "Kramers–Kronig partner")


#: ``[delta]``: the Gaussian δ of the golden rule (derived from
#: :class:`~boltzphlow.scattering.Gaussian`; its width defaults to T).
MatrixDeltaConfig: Any = config_model(
    Gaussian, "MatrixDeltaConfig", exclude=("width",), base=_DeltaWidth,
    doc="The Gaussian δ of the golden rule and its principal-value partner (width, cut).")
MatrixDeltaConfig.__module__ = __name__


class MatrixSolverConfig(ConfigModel):
    """How the matrix BTE is solved (restarted GMRES, block preconditioner)."""

    method: Literal["auto", "energy", "pairwise"] = _key(
        "auto", "-", "auto (energy where it applies, else pairwise), energy (zero-range "
        "impurities and constant-coupling optical phonons: sums over source energies), "
        "pairwise (every k-point pair; any V(q), Fröhlich and acoustic phonons)")
    preconditioner: Literal["auto", "band-diagonal", "local"] = _key(
        "auto", "-", "of the populations: band-diagonal (the band-diagonal BTE by conjugate "
        "gradients; pairwise method only), local (1/Γ_n), auto (band-diagonal on the pairwise "
        "method when its in-scattering does not fit as a dense kernel)")
    rtol: Positive = _key(1e-10, "-", "relative residual at which GMRES stops", lt=1)
    restart: int = _key(60, "-", "Krylov subspace size between restarts", ge=1)
    maxiter: int = _key(2000, "-", "most GMRES iterations per field direction", ge=1)


class _MatrixChecks(ConfigModel):
    """Checks across the tables of a matrix_bte config."""

    @model_validator(mode="after")
    def _consistent(self) -> Any:
        check_model_mesh(self, DEFAULT_MESH)
        if (self.mu is None) == (self.fermi_energy is None):
            raise ValueError("mu: give either mu or fermi_energy (μ above the conduction-band "
                             "bottom), not both" if self.mu is not None else
                             "mu: required key missing (or give fermi_energy)")
        if self.born_rate is not None:
            s = self.scattering
            if s.impurities is None or s.optical_phonons is not None \
                    or s.acoustic_phonons is not None:
                raise ValueError("born_rate: scales the impurity density, so it needs "
                                 "[scattering.impurities] and no phonon table")
        return self


_MODEL_NAMES = ", ".join(MODEL_KINDS)

#: Whole config file of the ``matrix_bte`` job.
MatrixBteConfig: Any = create_model(
    "MatrixBteConfig",
    __base__=_MatrixChecks,
    __doc__="Whole config file of the ``matrix_bte`` job (see :mod:`boltzphlow.apps."
            "matrix_bte`).",
    __module__=__name__,
    model=(Literal["matrix_bte"], _key(..., "-", '"matrix_bte"')),
    hamiltonian=(Literal[tuple(MODEL_KINDS)], _key(
        ..., "-", f"the band model: {_MODEL_NAMES}; its parameters go in the table of that "
        "name")),
    **{name: (table | None, None) for name, table in MODEL_TABLES.items()},
    mesh=(MeshSizes | None, _key(None, "points", "k-mesh sizes along the reduced axes (default "
                                 "[40, 40] in 2D, [12, 12, 12] in 3D); Γ-centred for "
                                 "lattices, cell-centred on continuum boxes")),
    mu=(Real | None, _key(None, "energy", "chemical potential μ (or give fermi_energy)")),
    fermi_energy=(Real | None, _key(
        None, "energy", "μ measured from the conduction-band bottom ε_c (the lowest energy "
        "of band N/2 on the mesh and at Γ): μ = ε_c + fermi_energy, fixed Fermi energy in a "
        "gap scan (instead of mu)")),
    T=(Positive, _key(..., "energy", "temperature k_B T > 0")),
    n_kT=(Positive, _key(20.0, "k_B T", "half-width of the energy window around μ in units "
                         "of T: k-points with a band in it are kept (all their bands)")),
    born_rate=(Positive | None, _key(
        None, "energy", "if given, the impurity densities are scaled (keeping their ratios) so "
        "that the out-scattering rate Γ = ħ/τ averaged over the Fermi layer (weights "
        "f0(1-f0)) is this: a fixed Born rate in a gap scan; impurities only")),
    coherence=(bool, _key(True, "-", "solve for the band-off-diagonal δf (off: populations "
                          "only)")),
    kinetic_corrections=(bool, _key(True, "-", "include the kinetic corrections (principal-"
                                    "value parts, Trukhan & Protik Eqs. 45–49)")),
    offdiagonal_self_energy=(bool, _key(True, "-", "keep the band-non-diagonal "
                                        "self-energies (Eqs. 50–53)")),
    decompose=(bool, _key(True, "-", "also solve the variants: kinetic corrections off, "
                          "off-diagonal self-energies off, coherences off, linewidth-only "
                          "coherences")),
    compare_sidejump=(bool, _key(True, "-", "also solve the band-diagonal BTE with its "
                                 "anomalous Hall decomposition (intrinsic, side jump: Xiao et "
                                 "al. Eq. 8) on the same states and scattering (2D, two or "
                                 "more bands)")),
    store_map=(bool, _key(True, "-", "keep the k-space map of |δf| (coherence and "
                          "population) for a field along x of the full variant")),
    map_points=(int, _key(4000, "k-points", "k-points kept for the map (evenly chosen)",
                          ge=10, le=10**6)),
    energy_unit=(Annotated[str, Field(min_length=1, max_length=32)] | None, _key(
        None, "-", "label of the energy unit (default t for lattice models, E0 for continuum "
        "ones, eV for Wannier90 files; nothing is converted)")),
    scattering=(MatrixScatteringConfig, _key(..., "-", "scattering mechanisms (tables "
                                             "[scattering.NAME])")),
    delta=(MatrixDeltaConfig, _key(MatrixDeltaConfig(), "-", "the Gaussian δ (table "
                                   "[delta])")),
    solver=(MatrixSolverConfig, _key(MatrixSolverConfig(), "-", "the solver (table "
                                     "[solver])")),
)
