"""Run a ``bte`` config: build the model and its scattering, solve the linearised BTE at each
point (temperature or field), checkpoint after each, resume, and summarise."""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from boltzphlow import scattering as scattering_lib
from boltzphlow.apps.bte.config import (
    FROM_MODEL,
    SCATTERING_TABLES,
    BteConfig,
    scattering_class,
)
from boltzphlow.apps.geometry.plan import build_hamiltonian, model_attrs
from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.config import ConfigError
from boltzphlow.jobs import RunContext, check_resumable, config_fingerprint, resume_refusal
from boltzphlow.kinetics.bte import LinearBTE

__all__ = ["ANOMALOUS_HALL", "AXES", "OBSERVABLES", "build_delta", "build_scattering",
           "fermi_wavevector", "mechanisms_of", "points_of", "run", "summary", "tables_of",
           "units_of"]

#: Names of the Cartesian axes of the tensors.
AXES = ("x", "y", "z")

#: Observables of a solve copied into the result when the solver gives them: attribute of
#: :class:`~boltzphlow.kinetics.bte.BTEResult` → (shape: scalar, vector ``(i,)`` or tensor
#: ``(i, j)``; long name; unit kind of :func:`units_of`).
OBSERVABLES = {
    "electron_density": ("scalar", "density of electrons (states above μ)", "density"),
    "hole_density": ("scalar", "density of holes (states below μ)", "density"),
    "carrier_density": ("scalar", "carrier density n = n_e + n_h", "density"),
    "mobility": ("tensor", "mobility σ_ij/(n e)", "mobility"),
    "seebeck": ("tensor", "Seebeck coefficient S (E = S ∇T at zero current)", "seebeck"),
    "thermal_conductivity": ("tensor", "electronic thermal conductivity κ_e at zero current",
                             "kappa"),
    "lorenz_ratio": ("vector", "Lorenz ratio κ_e,ii/(σ_ii T)", "lorenz"),
}

#: The anomalous Hall decomposition of a point (:class:`~boltzphlow.kinetics.bte.linear.
#: AnomalousHall`; C. Xiao, Y. Liu, M. Xie, S. A. Yang, Q. Niu, "Theory of phonon side jump
#: contribution in anomalous Hall transport", Eqs. 7–12 and 8): name → (shape: ``tensor``
#: ``(i, j)``, ``scalar`` (the Hall component σ_yx = j_y/E_x, the paper's σ_AH) or
#: ``mechanism`` ``(mechanism, i, j)``; long name).  All in the unit of σ.
ANOMALOUS_HALL = {
    "sigma_intrinsic": ("tensor", "intrinsic (Berry-curvature) conductivity of the Fermi sea"),
    "sigma_sidejump": ("tensor", "side-jump conductivity (antisymmetric part of both terms of "
                                 "Eq. 8, every mechanism)"),
    "sigma_sidejump_velocity": ("tensor", "side-jump conductivity, first term of Eq. 8: "
                                          "normal distribution x side-jump velocity"),
    "sigma_sidejump_distribution": ("tensor", "side-jump conductivity, second term of Eq. 8: "
                                              "anomalous distribution x band velocity"),
    "sigma_sidejump_by_mechanism": ("mechanism", "side-jump conductivity of each scattering "
                                                 "mechanism"),
    "sigma_ah_intrinsic": ("scalar", "intrinsic anomalous Hall conductivity sigma_yx = "
                                     "j_y/E_x"),
    "sigma_ah_sidejump": ("scalar", "side-jump anomalous Hall conductivity sigma_yx = "
                                    "j_y/E_x (Eq. 8)"),
    "sigma_skew": ("tensor", "skew-scattering conductivity (third Born order, non-Gaussian "
                             "disorder; part of sigma)"),
    "sigma_ah_skew": ("scalar", "skew-scattering anomalous Hall conductivity sigma_yx = "
                                "j_y/E_x"),
}

#: Per-point bookkeeping of the solve: name → long name.
SOLVER_RECORDS = {
    "converged": "solver met its tolerance (1) or not (0)",
    "iterations": "solver iterations",
    "residual": "relative residual of the solve",
    "n_states": "states in the energy window",
    "n_pairs": "stored pairs of the collision operator",
}


# --------------------------------------------------------------------------------------------
# building


def units_of(cfg: BteConfig, h: Hamiltonian) -> dict[str, str]:
    """Unit strings of a result (ħ = e = k_B = 1, lattice constant a = 1)."""
    tb_file = cfg.hamiltonian == "wannier90" and cfg.wannier90.format == "tb"
    default = "eV" if cfg.hamiltonian == "wannier90" else ("t" if h.periodic else "E0")
    energy = cfg.energy_unit or default
    length = "Å" if tb_file else "a"
    d = h.dim
    return {
        "energy": energy, "length": length, "k": f"1/{length}",
        "sigma": {1: f"e^2*{length}/h", 2: "e^2/h", 3: f"e^2/(h*{length})"}[d],
        "resistivity": {1: f"h/(e^2*{length})", 2: "h/e^2", 3: f"h*{length}/e^2"}[d],
        "field": f"hbar/(e*{length}^2)",
        "density": f"1/{length}^{d}" if d > 1 else f"1/{length}",
        "mobility": f"e*{length}^2/hbar",
        "seebeck": "k_B/e",
        "kappa": {1: f"k_B*{energy}*{length}/hbar", 2: f"k_B*{energy}/hbar",
                  3: f"k_B*{energy}/(hbar*{length})"}[d],
        "lorenz": "(k_B/e)^2",
    }


def build_scattering(cfg: BteConfig, h: Hamiltonian) -> list[Any]:
    """The scattering models of the ``[scattering]`` tables (a model's ``ValueError`` is
    reported as a config error naming its table); node impurities take the nodes of ``h``."""
    models = []
    for name in tables_of(cfg):
        table = getattr(cfg.scattering, name)
        cls = scattering_class(name)
        values = {key: getattr(table, key) for key in type(table).model_fields}
        try:
            if name in FROM_MODEL:
                if getattr(h, "nodes", None) is None:
                    raise ValueError(f"the {cfg.hamiltonian} model has no Weyl nodes")
                models.append(cls.of(h, **values))
            else:
                models.append(cls(**values))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"scattering.{name}", str(exc)) from None
    return models


def tables_of(cfg: BteConfig) -> list[str]:
    """The ``[scattering]`` tables of a config, in the order of :func:`build_scattering`."""
    return [name for name in SCATTERING_TABLES if getattr(cfg.scattering, name) is not None]


def mechanisms_of(tables: Sequence[str], models: Sequence[Any]) -> list[str]:
    """The tables (:func:`tables_of`) whose models have pair transitions: those with a side
    jump."""
    return [name for name, model in zip(tables, models, strict=True)
            if getattr(model, "has_pairs", True)]


def build_delta(cfg: BteConfig, T: float) -> Any:
    """The δ approximation of ``[delta]`` at temperature ``T`` (the default Gaussian width)."""
    d = cfg.delta
    if d.method == "gaussian":
        return scattering_lib.Gaussian(width=d.width if d.width is not None else float(T),
                                       n_sigma=d.n_sigma)
    names = {"adaptive": ("AdaptiveGaussian", "boltzphlow.scattering.delta"),
             "tetrahedron": ("LinearTetrahedron", "boltzphlow.scattering.tetrahedron")}
    cls_name, module = names[d.method]
    cls = getattr(scattering_lib, cls_name, None)
    if cls is None:
        import importlib

        try:
            cls = getattr(importlib.import_module(module), cls_name)
        except (ImportError, AttributeError):
            raise ConfigError("delta.method", f"{d.method!r} is not available in this "
                                              "version") from None
    fields = getattr(cls, "__dataclass_fields__", {})
    kwargs = {key: getattr(d, key) for key in type(d).model_fields
              if key in fields and key not in ("method", "width")}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError("delta", str(exc)) from None


def points_of(cfg: BteConfig) -> tuple[str | None, np.ndarray, list[tuple[float, np.ndarray]]]:
    """The swept dimension of the task (None for one point), its values and every point's
    ``(T, B vector)``."""
    b0 = np.asarray(cfg.magnetic_field, float)
    if cfg.task == "resistivity_vs_T":
        temps = np.asarray(cfg.T if isinstance(cfg.T, list) else [cfg.T], float)
        return "temperature", temps, [(float(t), b0) for t in temps]
    if cfg.task == "magnetoconductivity":
        task = cfg.magnetoconductivity
        direction = np.asarray(task.direction, float)
        direction = direction / np.linalg.norm(direction)
        fields = np.atleast_1d(np.asarray(task.B, float))
        return "field", fields, [(float(cfg.T), b * direction) for b in fields]
    return None, np.zeros(0), [(float(cfg.T), b0)]


def fermi_wavevector(states: Any, eq: Any) -> float:
    """``k_F``: the mean ``|k|`` of the states weighted by ``w f^0(1-f^0)`` (the Fermi
    surface of an isotropic model around k = 0)."""
    p = states.weight * eq.pauli_weight(states.energy)
    total = float(p.sum())
    if not total > 0:
        return math.nan
    return float((p * np.linalg.norm(states.k, axis=1)).sum() / total)


# --------------------------------------------------------------------------------------------
# one point


def _solve(cfg: BteConfig, h: Hamiltonian, models: Sequence[Any], T: float, B: np.ndarray
           ) -> tuple[LinearBTE, Any]:
    """Build and solve the linearised BTE at one ``(T, B)``."""
    field = B if np.any(B) else None
    bte = LinearBTE(h, mesh=tuple(cfg.mesh), mu=cfg.mu, T=T, scattering=list(models),
                    magnetic_field=field, berry=cfg.berry, delta=build_delta(cfg, T),
                    n_kT=cfg.n_kT, spin_degeneracy=cfg.spin_degeneracy,
                    side_jump=cfg.anomalous_hall)
    s = cfg.solver
    options = {"rtol": s.rtol, "maxiter": s.maxiter}
    if "thermal" in inspect.signature(bte.solve).parameters:  # Seebeck, κ_e: B = 0 tasks
        options["thermal"] = cfg.task != "magnetoconductivity"
    return bte, bte.solve(method=s.method, **options)


def _resistivity(sigma: np.ndarray) -> np.ndarray:
    """``σ⁻¹``, NaN where σ is singular."""
    try:
        with np.errstate(all="ignore"):
            rho = np.linalg.inv(sigma)
    except np.linalg.LinAlgError:
        return np.full_like(sigma, np.nan)
    return rho if np.all(np.isfinite(rho)) else np.full_like(sigma, np.nan)


def _anomalous_hall(bte: LinearBTE, res: Any, tables: Sequence[str]) -> dict[str, Any]:
    """The anomalous Hall decomposition of one point (:data:`ANOMALOUS_HALL`; empty where the
    side jump was not computed: option off, Berry terms off, B ≠ 0, one band, d = 1, or no
    mechanism with pair transitions).  ``tables`` name the models of ``bte.scattering``."""
    hall = getattr(res, "anomalous_hall", None)
    if hall is None:
        return {}
    intrinsic = np.asarray(hall.intrinsic, float)
    first, second = (np.asarray(t, float) for t in hall.side_jump_terms)
    side_jump = np.asarray(hall.side_jump_total, float)
    out = {"sigma_intrinsic": intrinsic, "sigma_sidejump": side_jump,
           "sigma_sidejump_velocity": first, "sigma_sidejump_distribution": second,
           "sigma_ah_intrinsic": float(intrinsic[1, 0]),
           "sigma_ah_sidejump": float(side_jump[1, 0])}
    if hall.skew is not None:
        skew = np.asarray(hall.skew, float)
        out["sigma_skew"], out["sigma_ah_skew"] = skew, float(skew[1, 0])
    mechanisms = mechanisms_of(tables, bte.scattering)
    if len(mechanisms) > 1:  # the operator keys its models (those of bte.scattering, in
        # order) by description: back to the tables
        table = dict(zip(bte.operator.names, tables, strict=True))
        by_name = {table[name]: hall.side_jump_of(name) for name in hall.side_jump}
        zero = np.zeros_like(intrinsic)
        out["sigma_sidejump_by_mechanism"] = np.stack(
            [np.asarray(by_name.get(name, zero), float) for name in mechanisms])
    return out


def _record(bte: LinearBTE, res: Any, tables: Sequence[str]) -> dict[str, Any]:
    """The numbers of one point (``tables``: :func:`tables_of`)."""
    sigma = np.asarray(res.sigma, float)
    out: dict[str, Any] = {
        "sigma": sigma, "resistivity": _resistivity(sigma),
        "converged": int(bool(res.converged)), "iterations": int(res.iterations),
        "residual": float(res.residual), "n_states": len(bte.states),
        "n_pairs": int(getattr(bte.operator, "n_pairs", 0))}
    d = sigma.shape[0]
    for name, (kind, _, _) in OBSERVABLES.items():
        try:
            with np.errstate(all="ignore"):
                value = np.asarray(getattr(res, name, None), float)
        except (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError):
            continue  # not computed by this solve (no thermal drive, no carriers)
        if value.shape == {"scalar": (), "vector": (d,), "tensor": (d, d)}[kind]:
            out[name] = value
    out.update(_anomalous_hall(bte, res, tables))
    return out


def _distribution(cfg: BteConfig, bte: LinearBTE, res: Any, units: dict[str, str]
                  ) -> xr.Dataset:
    """δf on the Fermi surface: the states with ``f^0(1-f^0)`` above 1 % of its largest value,
    evenly chosen down to ``distribution_points``, padded with NaN to that many (so that the
    points of a sweep share the dimension)."""
    states = bte.states
    pauli = bte.eq.pauli_weight(states.energy)
    chosen = np.flatnonzero(pauli >= 0.01 * pauli.max()) if len(pauli) else np.zeros(0, int)
    n = cfg.distribution_points
    if len(chosen) > n:
        chosen = chosen[np.round(np.linspace(0, len(chosen) - 1, n)).astype(int)]
    d = states.dim
    k = np.full((n, d), np.nan)
    energy = np.full(n, np.nan)
    delta_f = np.full((n, d), np.nan)
    m = len(chosen)
    k[:m] = states.k[chosen]
    energy[:m] = states.energy[chosen]
    delta_f[:m] = pauli[chosen, None] * np.asarray(res.phi)[chosen]
    ds = xr.Dataset()
    for a in range(d):
        ds[f"fs_k{AXES[a]}"] = ("fs_state", k[:, a], {
            "units": units["k"], "long_name": f"k_{AXES[a]} of the Fermi-surface states"})
    ds["fs_energy"] = ("fs_state", energy, {"units": units["energy"],
                                            "long_name": "energy of the Fermi-surface states"})
    ds["fs_delta_f"] = (("fs_state", "j"), delta_f, {
        "units": f"{units['length']}/{units['energy']}",
        "long_name": "deviation δf = f0(1-f0)φ per unit electric field along j"})
    return ds


# --------------------------------------------------------------------------------------------
# the dataset


def _dataset(h: Hamiltonian, units: dict[str, str], dim: str | None, values: np.ndarray,
             records: list[dict[str, Any]], mechanisms: Sequence[str] = ()) -> xr.Dataset:
    """The result of the finished points (the others NaN).  The anomalous Hall variables
    (:data:`ANOMALOUS_HALL`) are there when one point computed them, NaN at the others."""
    d = h.dim
    n = len(values) if dim is not None else 1
    lead = (dim,) if dim is not None else ()
    shape = (n,) if dim is not None else ()

    def gather(name: str, tail: tuple[int, ...] = ()) -> np.ndarray:
        out = np.full((n, *tail), np.nan)
        for i, rec in enumerate(records):
            if name in rec:
                out[i] = rec[name]
        return out.reshape((*shape, *tail))

    tensor = (*lead, "i", "j")
    ds = xr.Dataset(coords={
        "i": ("i", list(AXES[:d]), {"units": "1", "long_name": "current direction i"}),
        "j": ("j", list(AXES[:d]), {"units": "1", "long_name": "electric field direction j"})})
    if dim == "temperature":
        ds.coords["temperature"] = ("temperature", values, {
            "units": units["energy"], "long_name": "temperature k_B T"})
    elif dim == "field":
        ds.coords["field"] = ("field", values, {
            "units": units["field"],
            "long_name": "magnetic field strength B along the direction"})
    ds["sigma"] = (tensor, gather("sigma", (d, d)), {
        "units": units["sigma"], "long_name": "conductivity σ_ij (current i, field j)"})
    ds["resistivity"] = (tensor, gather("resistivity", (d, d)), {
        "units": units["resistivity"], "long_name": "resistivity ρ = σ⁻¹"})
    for name, long_name in SOLVER_RECORDS.items():
        ds[name] = (lead, gather(name), {"units": "1", "long_name": long_name})
    for name, (kind, long_name, unit) in OBSERVABLES.items():
        if any(name in rec for rec in records):
            dims, tail = {"scalar": (lead, ()), "vector": ((*lead, "i"), (d,)),
                          "tensor": (tensor, (d, d))}[kind]
            ds[name] = (dims, gather(name, tail), {"units": units[unit],
                                                   "long_name": long_name})
    for name, (kind, long_name) in ANOMALOUS_HALL.items():
        if not any(name in rec for rec in records):
            continue
        if kind == "mechanism":
            ds.coords["mechanism"] = ("mechanism", list(mechanisms), {
                "units": "1", "long_name": "scattering mechanism (table [scattering.NAME])"})
            dims, tail = ((*lead, "mechanism", "i", "j"), (len(mechanisms), d, d))
        else:
            dims, tail = {"scalar": (lead, ()), "tensor": (tensor, (d, d))}[kind]
        ds[name] = (dims, gather(name, tail), {"units": units["sigma"], "long_name": long_name})
    return ds


def _assemble(h: Hamiltonian, units: dict[str, str], dim: str | None, values: np.ndarray,
              records: list[dict[str, Any]], distribution: xr.Dataset | None,
              attrs: dict[str, Any], mechanisms: Sequence[str] = ()) -> xr.Dataset:
    ds = _dataset(h, units, dim, values, records, mechanisms)
    if distribution is not None and len(distribution.data_vars):
        ds = ds.merge(distribution)
    ds.attrs = {**attrs, "points_done": len(records), "n_points": max(len(values), 1)}
    return ds


# --------------------------------------------------------------------------------------------
# run


def _resume(previous: xr.Dataset | None, fingerprint: str, dim: str | None,
            values: np.ndarray) -> tuple[list[dict[str, Any]], xr.Dataset | None]:
    """The finished points of a partial result of the same config, and its distribution."""
    if previous is None:
        return [], None

    check_resumable(previous, "bte", fingerprint)
    a = previous.attrs
    if dim is not None and (dim not in previous.coords
                            or not np.array_equal(previous[dim].to_numpy(), values)):
        raise resume_refusal(f"coordinate {dim} differs from the config's")
    records = []
    for i in range(int(a.get("points_done", 0))):
        point = previous.isel({dim: i}) if dim is not None else previous
        records.append({name: point[name].to_numpy() for name in
                        ("sigma", "resistivity", *SOLVER_RECORDS, *OBSERVABLES,
                         *ANOMALOUS_HALL)
                        if name in point})
    fs = [name for name in previous.data_vars if name.startswith("fs_")]
    return records, (xr.Dataset({name: previous[name] for name in fs}) if fs else None)


def run(cfg: BteConfig, context: RunContext) -> xr.Dataset:
    """Solve the linearised BTE at every point of the task, checkpointing after each.

    The model, the scattering tables and the first point's states and collision operator are
    built (and checked: a config error names the key) before the first ``context.progress``
    call.  A solve that does not meet its tolerance flags the result (``check_failed``).
    """
    h = build_hamiltonian(cfg)
    models = build_scattering(cfg, h)
    tables = tables_of(cfg)
    mechanisms = mechanisms_of(tables, models)
    units = units_of(cfg, h)
    dim, values, points = points_of(cfg)
    fingerprint = config_fingerprint(cfg)
    records, distribution = _resume(context.resume_from, fingerprint, dim, values)
    attrs: dict[str, Any] = {
        "model": "bte",
        "task": cfg.task,
        **model_attrs(cfg, h),
        "mesh": list(cfg.mesh),
        "mu": cfg.mu,
        "berry": int(cfg.berry),
        "scattering": "; ".join(m.describe() for m in models),
        "scattering_parameters": json.dumps(
            {name: getattr(cfg.scattering, name).model_dump() for name in tables}, default=str),
        "anomalous_hall": int(cfg.anomalous_hall),
        "delta": cfg.delta.method,
        "solver_method": cfg.solver.method,
        "energy_unit": units["energy"],
        "config_fingerprint": fingerprint,
        "conventions": f"hbar = e = k_B = 1, lattice constant 1; energies and T in "
                       f"{units['energy']}, k in {units['k']}; sigma in {units['sigma']}; "
                       f"B in {units['field']}",
    }
    if dim != "temperature":
        attrs["T"] = float(points[0][0])
    if dim == "field":
        direction = np.asarray(cfg.magnetoconductivity.direction, float)
        attrs["field_direction"] = [float(x) for x in direction / np.linalg.norm(direction)]
    else:
        attrs["magnetic_field"] = [float(b) for b in points[0][1]]
    if context.resume_from is not None:
        for key in ("fermi_wavevector", "bloch_gruneisen_temperature"):
            if key in context.resume_from.attrs:
                attrs[key] = float(context.resume_from.attrs[key])
    phonons = [m for m in models if hasattr(m, "sound_velocity")]
    for i, (T, B) in enumerate(points):
        if i < len(records):
            continue
        bte, res = _solve(cfg, h, models, T, B)
        records.append(_record(bte, res, tables))
        if T <= min(t for t, _ in points[:i + 1]):  # k_F from the lowest T solved so far
            k_f = fermi_wavevector(bte.states, bte.eq)
            attrs["fermi_wavevector"] = k_f
            if phonons and math.isfinite(k_f):
                attrs["bloch_gruneisen_temperature"] = 2 * float(phonons[0].sound_velocity) * k_f
        if i == 0 and cfg.store_distribution:
            distribution = _distribution(cfg, bte, res, units)
        context.progress(len(records), len(points))
        if len(records) < len(points):
            context.checkpoint(_assemble(h, units, dim, values, records, distribution, attrs,
                                         mechanisms))
    ds = _assemble(h, units, dim, values, records, distribution, attrs, mechanisms)
    bad = [i for i, rec in enumerate(records) if not rec["converged"]]
    if bad:
        where = (f" at {dim} = " + ", ".join(f"{values[i]:g}" for i in bad[:5])
                 if dim is not None else "")
        ds.attrs["check_failed"] = (f"the {cfg.solver.method} solve did not reach rtol = "
                                    f"{cfg.solver.rtol:g}{where} (largest residual "
                                    f"{max(float(records[i]['residual']) for i in bad):.2g})")
    return ds


# --------------------------------------------------------------------------------------------
# summary


def _tensor_line(sigma: np.ndarray, units: str, name: str = "σ") -> str:
    d = sigma.shape[-1]
    scale = max(float(np.abs(np.diag(sigma)).max()), 1e-300)
    parts = [f"{name}_{AXES[i]}{AXES[j]} = {sigma[i, j]:.6g}" for i in range(d) for j in range(d)
             if i == j or abs(sigma[i, j]) > 1e-9 * scale]
    return ", ".join(parts) + f" {units}"


def _hall_line(ds: xr.Dataset, **where: int) -> str | None:
    """``σ_AH = σ_yx = intrinsic + side jump = total`` of one point, with the side jump of each
    mechanism and the two terms of Eq. 8; None where the side jump is NaN or absent."""
    if "sigma_ah_sidejump" not in ds:
        return None
    point = ds.isel(where) if where else ds
    side_jump = float(point["sigma_ah_sidejump"])
    intrinsic = float(point["sigma_ah_intrinsic"])
    if not (math.isfinite(side_jump) and math.isfinite(intrinsic)):
        return None
    unit = ds["sigma_ah_sidejump"].attrs.get("units", "")
    parts = []
    if "sigma_sidejump_by_mechanism" in point:
        by = point["sigma_sidejump_by_mechanism"].isel(i=1, j=0).to_numpy()
        parts = [f"{name} {value:.6g}" for name, value in
                 zip(ds["mechanism"].to_numpy().tolist(), by, strict=True)]
    first = float(point["sigma_sidejump_velocity"].isel(i=1, j=0))
    second = float(point["sigma_sidejump_distribution"].isel(i=1, j=0))
    skew = float(point["sigma_ah_skew"]) if "sigma_ah_skew" in point else math.nan
    skew_text = f" + {skew:.6g} (skew scattering)" if math.isfinite(skew) else ""
    total = intrinsic + side_jump + (skew if math.isfinite(skew) else 0.0)
    return (f"σ_AH = σ_yx = {intrinsic:.6g} (intrinsic) + {side_jump:.6g} (side jump"
            + (": " + ", ".join(parts) if parts else "") + f"){skew_text} = {total:.6g} "
            f"{unit}; side jump = {first:.6g} (side-jump velocity) + {second:.6g} (anomalous "
            "distribution)")


def _hall_range(ds: xr.Dataset) -> str | None:
    """The range of the side-jump and intrinsic σ_AH over the points of a sweep or a ρ(T)."""
    if "sigma_ah_sidejump" not in ds:
        return None
    pieces = []
    for name, label in (("sigma_ah_sidejump", "side jump"), ("sigma_ah_intrinsic",
                                                              "intrinsic")):
        values = ds[name].to_numpy()
        if np.isfinite(values).any():
            pieces.append(f"{label} from {float(np.nanmin(values)):.4g} to "
                          f"{float(np.nanmax(values)):.4g}")
    if not pieces:
        return None
    return "σ_AH = σ_yx: " + ", ".join(pieces) + f" {ds['sigma_ah_sidejump'].attrs['units']}"


def summary(ds: xr.Dataset) -> str:
    """A few lines: the model, the scattering, σ (or ρ(T), σ(B)) and the solver's state."""
    from boltzphlow.plotting import sweep_dims

    a = ds.attrs
    mesh = "x".join(str(int(n)) for n in np.atleast_1d(a.get("mesh", [])))
    scattering = a.get("scattering")
    if scattering is None:  # a sweep whose points describe their scattering differently
        try:
            scattering = ", ".join(json.loads(a.get("config", "{}")).get("scattering", {}))
        except (TypeError, ValueError, AttributeError):
            scattering = ""
    head = (f"bte ({a.get('task')}): {a.get('hamiltonian_name', a.get('hamiltonian'))}, "
            f"mesh {mesh}, μ = {a.get('mu')}; scattering: {scattering}")
    swept = sweep_dims(ds)
    sigma = ds["sigma"]
    if swept:
        diag = np.diagonal(sigma.to_numpy(), axis1=-2, axis2=-1)
        text = (f"sweep over {', '.join(swept)}: σ_ii from {float(np.nanmin(diag)):.4g} to "
                f"{float(np.nanmax(diag)):.4g} {sigma.units}" if np.isfinite(diag).any()
                else f"sweep over {', '.join(swept)}: no finished point")
        hall = _hall_range(ds)
        return head + "\n  " + text + (f"\n  {hall}" if hall else "")
    lines = [head]
    if "temperature" in sigma.dims:
        rho = ds["resistivity"]
        for t in range(ds.sizes["temperature"]):
            value = rho.isel(temperature=t).to_numpy()
            if np.isfinite(value).all():
                lines.append(f"  T = {float(ds.temperature[t]):.4g}: "
                             + _tensor_line(value, rho.units, "ρ"))
        if "bloch_gruneisen_temperature" in a:
            lines.append(f"  T_BG = 2 c_s k_F = {float(a['bloch_gruneisen_temperature']):.4g} "
                         f"(k_F = {float(a['fermi_wavevector']):.4g})")
        hall = _hall_range(ds)
        if hall:
            lines.append("  " + hall)
    elif "field" in sigma.dims:
        for b in range(ds.sizes["field"]):
            value = sigma.isel(field=b).to_numpy()
            if np.isfinite(value).all():
                lines.append(f"  B = {float(ds.field[b]):.4g}: "
                             + _tensor_line(value, sigma.units))
                hall = _hall_line(ds, field=b)
                if hall:
                    lines.append("    " + hall)
    else:
        lines.append("  " + _tensor_line(sigma.to_numpy(), sigma.units))
        hall = _hall_line(ds)
        if hall:
            lines.append("  " + hall)
        if "mobility" in ds and np.isfinite(ds.mobility.to_numpy()).all():
            lines.append("  " + _tensor_line(ds.mobility.to_numpy(), ds.mobility.units, "μ")
                         + f"; carrier density {float(ds.carrier_density):.6g} "
                         f"{ds.carrier_density.units}")
        if "seebeck" in ds and np.isfinite(ds.seebeck.to_numpy()).all():
            lines.append("  " + _tensor_line(ds.seebeck.to_numpy(), ds.seebeck.units, "S"))
        if "lorenz_ratio" in ds and np.isfinite(ds.lorenz_ratio.to_numpy()).all():
            lines.append("  Lorenz ratio " + ", ".join(
                f"{v:.5g}" for v in ds.lorenz_ratio.to_numpy()) + " (k_B/e)^2 "
                "(π²/3 = 3.2899 for elastic scattering)")
    conv = ds["converged"].to_numpy()
    its = ds["iterations"].to_numpy()
    lines.append(f"  solver {a.get('solver_method')}: {int(np.nansum(conv))} of "
                 f"{int(np.isfinite(conv).sum())} points converged, at most "
                 f"{int(np.nanmax(its)) if np.isfinite(its).any() else 0} iterations, "
                 f"{int(np.nanmax(ds['n_states'].to_numpy()))} states")
    return "\n".join(lines)
