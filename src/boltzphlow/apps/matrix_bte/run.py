"""Run a ``matrix_bte`` config: build the model and its scattering, solve the matrix BTE of
E. Trukhan and N. H. Protik, "Interband and kinetic corrections to the electronic Boltzmann
transport equation" (Eqs. 44–58) for the full set of switches and, with ``decompose``, for
each variant with one ingredient removed, then (``compare_sidejump``) the band-diagonal BTE
with its anomalous Hall decomposition on the same states; checkpoint after each solve,
resume, summarise."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import xarray as xr

from boltzphlow.apps.bte.config import scattering_class
from boltzphlow.apps.bte.run import units_of
from boltzphlow.apps.geometry.plan import build_hamiltonian, model_attrs
from boltzphlow.apps.matrix_bte.config import MATRIX_SCATTERING, VARIANTS, MatrixBteConfig
from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.config import ConfigError
from boltzphlow.jobs import RunContext, check_resumable, config_fingerprint, resume_refusal
from boltzphlow.kinetics.bte import LinearBTE
from boltzphlow.kinetics.matrix_bte import MatrixBTE
from boltzphlow.scattering import Gaussian, Impurities

__all__ = ["AXES", "COMPARISON", "PAPER", "band_edges", "build_scattering", "fermi_layer_rate",
           "run", "summary"]

#: Names of the Cartesian axes of the tensors.
AXES = ("x", "y", "z")

#: The paper, as figures and results name it.
PAPER = ("E. Trukhan and N. H. Protik, \"Interband and kinetic corrections to the electronic "
         "Boltzmann transport equation\"")

#: Per-variant tensors: name → long name (unit of σ).
TENSORS = {
    "sigma": "conductivity sigma_ij = j_i/E_j (populations + coherences, Eq. 56)",
    "sigma_population": "band-diagonal (population) part of sigma (Eq. 56)",
    "sigma_coherence": "band-off-diagonal (coherence) part of sigma (Eq. 56)",
}

#: Per-variant bookkeeping of the solve: name → (long name, unit).
SOLVER_RECORDS = {
    "converged": ("GMRES met its tolerance (1) or not (0)", "1"),
    "iterations": ("most GMRES iterations of one field direction", "1"),
    "residual": ("largest relative residual of the pinned system", "1"),
    "solve_time": ("wall time of the build and solve", "s"),
}

#: The band-diagonal BTE on the same states (:class:`~boltzphlow.kinetics.bte.LinearBTE`, C.
#: Xiao, Y. Liu, M. Xie, S. A. Yang, Q. Niu, "Theory of phonon side jump contribution in
#: anomalous Hall transport", Eq. 8): name → long name (tensors, unit of σ).
COMPARISON = {
    "sigma_bte": "band-diagonal BTE conductivity with intrinsic and side-jump terms",
    "sigma_intrinsic": "intrinsic (Berry-curvature) conductivity of the Fermi sea",
    "sigma_sidejump_velocity": "side jump, first term of Eq. 8 (normal distribution x "
                               "side-jump velocity)",
    "sigma_sidejump_distribution": "side jump, second term of Eq. 8 (anomalous distribution "
                                   "x band velocity; absent from the matrix BTE)",
    "sigma_sidejump": "side jump, both terms of Eq. 8",
}

#: The step after the variants that solves the band-diagonal BTE.
SIDEJUMP_STEP = "sidejump"


# --------------------------------------------------------------------------------------------
# building


def build_scattering(cfg: MatrixBteConfig) -> list[Any]:
    """The scattering models of the ``[scattering]`` tables (a model's ``ValueError`` is a
    config error naming its table)."""
    models = []
    for name in MATRIX_SCATTERING:
        table = getattr(cfg.scattering, name)
        if table is None:
            continue
        values = {key: getattr(table, key) for key in type(table).model_fields}
        try:
            models.append(scattering_class(name)(**values))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"scattering.{name}", str(exc)) from None
    return models


def band_edges(h: Hamiltonian, mesh: list[int]) -> tuple[float, float]:
    """``(ε_v, ε_c)``: the highest energy of band ``N/2 - 1`` and the lowest of band ``N/2``
    (counting from 0) on the mesh and at Γ (``k = 0``, where a cell-centred continuum mesh has
    no point); NaN for a one-band model."""
    n = h.n_bands
    if n < 2:
        return math.nan, math.nan
    at_gamma = np.linalg.eigvalsh(h.hamiltonian(np.zeros((1, h.dim))))[0]
    top, bottom = float(at_gamma[n // 2 - 1]), float(at_gamma[n // 2])
    for block in h.mesh_blocks(h.mesh(mesh), velocity=False):
        e = np.linalg.eigvalsh(block.h)
        top, bottom = max(top, float(e[:, n // 2 - 1].max())), min(bottom,
                                                                   float(e[:, n // 2].min()))
    return top, bottom


def fermi_layer_rate(solver: MatrixBTE) -> float:
    """The out-scattering rate ``Γ_n = 2 Re Q^δ_nnn`` of the solver's states averaged over the
    Fermi layer (weights ``w f0(1 - f0)`` over the states in the window)."""
    inside = (solver.energy >= solver.window.lower) & (solver.energy <= solver.window.upper)
    weight = solver.weight[:, None] * solver.pw * inside
    total = float(weight.sum())
    return float((weight * solver.gamma).sum() / total) if total > 0 else math.nan


def _delta(cfg: MatrixBteConfig) -> Gaussian:
    d = cfg.delta
    try:
        return Gaussian(width=d.width if d.width is not None else float(cfg.T),
                        n_sigma=d.n_sigma)
    except ValueError as exc:
        raise ConfigError("delta", str(exc)) from None


def _matrix_bte(cfg: MatrixBteConfig, h: Hamiltonian, models: list[Any], mu: float,
                **switches: bool) -> MatrixBTE:
    options = {"coherence": cfg.coherence, "kinetic_corrections": cfg.kinetic_corrections,
               "offdiagonal_self_energy": cfg.offdiagonal_self_energy, **switches}
    return MatrixBTE(h, mesh=tuple(cfg.mesh), mu=mu, T=cfg.T, scattering=models,
                     delta=_delta(cfg), n_kT=cfg.n_kT, method=cfg.solver.method,
                     preconditioner=cfg.solver.preconditioner, **options)


def _born_scale(cfg: MatrixBteConfig, h: Hamiltonian, models: list[Any], mu: float) -> float:
    """The factor on the impurity densities that makes the Fermi-layer mean of the
    out-scattering rate ``Γ_n = 2 Re Q^δ_nnn`` (weights ``w f0(1 - f0)`` over the states in
    the window) equal ``born_rate``; Γ is linear in the density (second Born order)."""
    probe = _matrix_bte(cfg, h, models, mu, coherence=False, kinetic_corrections=False,
                        offdiagonal_self_energy=False)
    rate = fermi_layer_rate(probe)
    if not rate > 0:
        raise ConfigError("born_rate", "the impurities do not scatter the states at μ")
    return cfg.born_rate / rate


def _compared(cfg: MatrixBteConfig, h: Hamiltonian) -> bool:
    """Whether the band-diagonal BTE comparison applies (2D, two or more bands)."""
    return bool(cfg.compare_sidejump) and h.dim == 2 and h.n_bands >= 2


# --------------------------------------------------------------------------------------------
# one solve


def _solve_variant(cfg: MatrixBteConfig, h: Hamiltonian, models: list[Any], mu: float,
                   variant: str) -> tuple[dict[str, Any], Any]:
    """Solve one variant; its record and its result."""
    switches, _ = VARIANTS[variant]
    solver = _matrix_bte(cfg, h, models, mu, **switches)
    res = solver.solve(rtol=cfg.solver.rtol, maxiter=cfg.solver.maxiter,
                       restart=cfg.solver.restart)
    record = {name: np.asarray(getattr(res, name), float) for name in TENSORS}
    if variant == "full":
        record["sigma_outside_window"] = np.asarray(res.sigma_outside_window, float)
    record.update(converged=int(bool(res.converged)), iterations=int(res.iterations),
                  residual=float(res.residual), solve_time=float(res.info["solve_time_s"]),
                  n_kpoints=int(res.info["n_kpoints"]), unknowns=int(res.info["unknowns"]),
                  gamma_fermi=fermi_layer_rate(solver))
    return record, res


def _solve_bte(cfg: MatrixBteConfig, h: Hamiltonian, models: list[Any], mu: float
               ) -> dict[str, Any]:
    """The band-diagonal BTE with its anomalous Hall decomposition on the same mesh, window,
    δ and scattering (empty where no mechanism has pair transitions)."""
    bte = LinearBTE(h, mesh=tuple(cfg.mesh), mu=mu, T=cfg.T, scattering=list(models),
                    berry=True, delta=_delta(cfg), n_kT=cfg.n_kT, side_jump=True)
    res = bte.solve(method="krylov", rtol=min(1e-8, cfg.solver.rtol), thermal=False)
    hall = getattr(res, "anomalous_hall", None)
    record: dict[str, Any] = {"sigma_bte": np.asarray(res.sigma, float),
                              "bte_converged": int(bool(res.converged))}
    if hall is not None and hall.side_jump:
        first, second = (np.asarray(t, float) for t in hall.side_jump_terms)
        record.update(sigma_intrinsic=np.asarray(hall.intrinsic, float),
                      sigma_sidejump_velocity=first, sigma_sidejump_distribution=second,
                      sigma_sidejump=np.asarray(hall.side_jump_total, float))
    return record


def _map(cfg: MatrixBteConfig, res: Any, units: dict[str, str]) -> xr.Dataset:
    """|δf| for a unit field along x of the full variant: the coherence
    ``(Σ_{n≠m} |δf_nm|²/2)^½`` (|δf_cv| for two bands) and the population ``Σ_n |δf_nn|`` of
    every k-point, evenly chosen down to ``map_points``, padded with NaN to that many (so
    that the points of a sweep share the dimension)."""
    df = res.delta_f[..., 0]
    k_all, n = res.k, df.shape[1]
    off = ~np.eye(n, dtype=bool)
    coherence = np.sqrt(0.5 * (np.abs(df[:, off]) ** 2).sum(axis=1))
    population = np.abs(np.einsum("pnn->pn", df)).sum(axis=1)
    m = cfg.map_points
    chosen = np.arange(len(k_all))
    if len(chosen) > m:
        chosen = chosen[np.round(np.linspace(0, len(chosen) - 1, m)).astype(int)]
    size = len(chosen)
    ds = xr.Dataset()
    unit = f"{units['length']}/{units['energy']}"
    for a in range(k_all.shape[1]):
        column = np.full(m, np.nan)
        column[:size] = k_all[chosen, a]
        ds[f"map_k{AXES[a]}"] = ("map_kpoint", column, {
            "units": units["k"], "long_name": f"k_{AXES[a]} of the map's k-points"})
    for name, values, long_name in (
            ("map_coherence", coherence, "coherence |δf_cv| (off-diagonal norm) per unit field "
                                         "along x"),
            ("map_population", population, "population Σ_n |δf_nn| per unit field along x")):
        column = np.full(m, np.nan)
        column[:size] = values[chosen]
        ds[name] = ("map_kpoint", column, {"units": unit, "long_name": long_name})
    return ds


# --------------------------------------------------------------------------------------------
# the dataset


def _dataset(d: int, units: dict[str, str], variants: list[str],
             records: dict[str, dict[str, Any]], comparison: dict[str, Any] | None,
             edges: tuple[float, float]) -> xr.Dataset:
    """The result of the finished solves (the others NaN) with the derived scalars."""
    sigma_unit = units["sigma"]
    nv = len(variants)
    ds = xr.Dataset(coords={
        "variant": ("variant", variants, {"units": "1", "long_name": "variant of the matrix "
                                          "BTE (ingredient removed)"}),
        "i": ("i", list(AXES[:d]), {"units": "1", "long_name": "current direction i"}),
        "j": ("j", list(AXES[:d]), {"units": "1", "long_name": "electric field direction j"})})

    def gather(name: str, tail: tuple[int, ...] = ()) -> np.ndarray:
        out = np.full((nv, *tail), np.nan)
        for v, variant in enumerate(variants):
            if variant in records and name in records[variant]:
                out[v] = records[variant][name]
        return out

    for name, long_name in TENSORS.items():
        ds[name] = (("variant", "i", "j"), gather(name, (d, d)), {
            "units": sigma_unit, "long_name": long_name})
    for name, (long_name, unit) in SOLVER_RECORDS.items():
        ds[name] = ("variant", gather(name), {"units": unit, "long_name": long_name})
    sigma = ds["sigma"].to_numpy()
    ds["sigma_xx"] = ("variant", sigma[:, 0, 0], {"units": sigma_unit,
                                                  "long_name": "sigma_xx"})
    if d >= 2:
        ds["sigma_yx"] = ("variant", sigma[:, 1, 0], {
            "units": sigma_unit, "long_name": "Hall conductivity sigma_yx = j_y/E_x"})
        ds["sigma_yx_coherence"] = ("variant", ds["sigma_coherence"].to_numpy()[:, 1, 0], {
            "units": sigma_unit, "long_name": "coherence part of sigma_yx"})
    full = records.get("full", {})
    outside = np.asarray(full.get("sigma_outside_window", np.full((d, d), np.nan)), float)
    ds["sigma_outside_window"] = (("i", "j"), outside, {
        "units": sigma_unit, "long_name": "clean-limit coherences (TP Eq. 44) of the k-points "
                                          "with no band in the window (in sigma, full)"})
    for name, long_name in (("n_kpoints", "k-points with a band in the window"),
                            ("unknowns", "real unknowns of the full variant")):
        ds[name] = ((), float(full.get(name, np.nan)), {"units": "1", "long_name": long_name})
    ds["gamma_fermi"] = ((), float(full.get("gamma_fermi", np.nan)), {
        "units": units["energy"], "long_name": "out-scattering rate Γ = ħ/τ averaged over the "
                                               "Fermi layer"})
    for name, value, long_name in (
            ("valence_band_top", edges[0], "highest energy of band N/2 - 1 (mesh and Γ)"),
            ("conduction_band_bottom", edges[1], "lowest energy of band N/2 (mesh and Γ)"),
            ("band_gap", edges[1] - edges[0], "band gap E_g = conduction bottom - valence "
                                              "top")):
        ds[name] = ((), float(value), {"units": units["energy"], "long_name": long_name})
    xx = float(ds["sigma_xx"].sel(variant="full"))
    coh_xx = float(ds["sigma_coherence"].sel(variant="full", i="x", j="x"))
    ds["coherence_share"] = ((), coh_xx / xx, {
        "units": "1", "long_name": "coherence share sigma_xx^coh/sigma_xx"})
    no_kinetic = (float(ds["sigma_xx"].sel(variant="no_kinetic"))
                  if "no_kinetic" in variants else math.nan)
    ds["kinetic_share"] = ((), (xx - no_kinetic) / xx, {
        "units": "1", "long_name": "kinetic-correction share (sigma_xx - sigma_xx(no "
                                   "kinetic))/sigma_xx"})
    if comparison is not None:
        for name, long_name in COMPARISON.items():
            value = np.asarray(comparison.get(name, np.full((d, d), np.nan)), float)
            ds[name] = (("i", "j"), value, {"units": sigma_unit, "long_name": long_name})
        intrinsic = float(ds["sigma_intrinsic"][1, 0])
        velocity = float(ds["sigma_sidejump_velocity"][1, 0])
        scalars = {
            "sigma_yx_intrinsic": (intrinsic, "intrinsic sigma_yx of the whole mesh "
                                              "(band-diagonal BTE)"),
            "sigma_yx_sidejump_velocity": (velocity, "side-jump velocity term sigma^sj(1)_yx "
                                                     "(Xiao et al. Eq. 8)"),
            "sigma_yx_sidejump": (float(ds["sigma_sidejump"][1, 0]), "side-jump sigma_yx, "
                                                                     "both terms of Eq. 8"),
            "sigma_yx_coherence_extrinsic": (
                float(ds["sigma_yx_coherence"].sel(variant="full")) - intrinsic,
                "sigma_yx^coh (full) - intrinsic: the matrix BTE's side-jump velocity term"),
        }
        for name, (value, long_name) in scalars.items():
            ds[name] = ((), value, {"units": sigma_unit, "long_name": long_name})
    return ds


def _assemble(d: int, units: dict[str, str], variants: list[str],
              records: dict[str, dict[str, Any]], comparison: dict[str, Any] | None,
              figure_map: xr.Dataset | None, attrs: dict[str, Any], n_steps: int,
              edges: tuple[float, float]) -> xr.Dataset:
    ds = _dataset(d, units, variants, records, comparison, edges)
    if figure_map is not None:
        ds = ds.merge(figure_map)
    done = len(records) + (comparison is not None and "sigma_bte" in comparison)
    ds.attrs = {**attrs, "steps_done": int(done), "n_steps": n_steps,
                "variants_done": ",".join(v for v in variants if v in records)}
    return ds


# --------------------------------------------------------------------------------------------
# run


def _resume(previous: xr.Dataset | None, fingerprint: str, variants: list[str]
            ) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None, xr.Dataset | None]:
    """The finished solves of a partial result of the same config, and its map."""
    if previous is None:
        return {}, None, None

    check_resumable(previous, "matrix_bte", fingerprint)
    a = previous.attrs
    if previous["variant"].to_numpy().tolist() != variants:
        raise resume_refusal("its variants differ from the config's")
    done = [v for v in str(a.get("variants_done", "")).split(",") if v]
    records = {}
    for variant in done:
        point = previous.sel(variant=variant)
        records[variant] = {name: point[name].to_numpy() for name in (*TENSORS, *SOLVER_RECORDS)}
        if variant == "full":
            records[variant].update(
                {name: float(previous[name]) for name in ("n_kpoints", "unknowns",
                                                          "gamma_fermi")},
                sigma_outside_window=previous["sigma_outside_window"].to_numpy())
    comparison = None
    if "sigma_bte" in previous and np.isfinite(previous["sigma_bte"].to_numpy()).all():
        comparison = {name: previous[name].to_numpy() for name in COMPARISON
                      if name in previous}
    maps = [name for name in previous.data_vars if name.startswith("map_")]
    return records, comparison, (xr.Dataset({name: previous[name] for name in maps})
                                 if maps else None)


def run(cfg: MatrixBteConfig, context: RunContext) -> xr.Dataset:
    """Solve the matrix BTE for every variant (and the band-diagonal BTE for the comparison),
    checkpointing after each solve.

    The model, μ, the scattering models (scaled to ``born_rate``) and the full variant's
    states are built and checked (a config error names the key) before the first
    ``context.progress`` call.  A solve that does not meet its tolerance flags the result
    (``check_failed``).
    """
    h = build_hamiltonian(cfg)
    models = build_scattering(cfg)
    units = units_of(cfg, h)
    attrs: dict[str, Any] = {"model": "matrix_bte", **model_attrs(cfg, h)}
    edges = band_edges(h, cfg.mesh)
    if cfg.fermi_energy is not None:
        if not math.isfinite(edges[1]):
            raise ConfigError("fermi_energy", f"needs a model with a conduction band (two or "
                                              f"more bands), the {cfg.hamiltonian} model has one")
        mu = edges[1] + float(cfg.fermi_energy)
        attrs.update(fermi_energy=float(cfg.fermi_energy))
    else:
        mu = float(cfg.mu)
    try:
        if cfg.born_rate is not None:
            scale = _born_scale(cfg, h, models, mu)
            models = [dataclasses.replace(m, density=m.density * scale)
                      if isinstance(m, Impurities) else m for m in models]
            attrs.update(born_rate=float(cfg.born_rate), impurity_density_scale=scale)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError("born_rate", str(exc)) from None
    variants = list(VARIANTS) if cfg.decompose else ["full"]
    compared = _compared(cfg, h)
    n_steps = len(variants) + int(compared)
    fingerprint = config_fingerprint(cfg)
    records, comparison, figure_map = _resume(context.resume_from, fingerprint, variants)
    attrs.update({
        "mesh": list(cfg.mesh), "mu": mu, "T": float(cfg.T),
        "scattering": "; ".join(m.describe() for m in models),
        "scattering_parameters": json.dumps(
            {name: getattr(cfg.scattering, name).model_dump() for name in MATRIX_SCATTERING
             if getattr(cfg.scattering, name) is not None}, default=str),
        "delta_width": float(_delta(cfg).width),
        "coherence": int(cfg.coherence), "kinetic_corrections": int(cfg.kinetic_corrections),
        "offdiagonal_self_energy": int(cfg.offdiagonal_self_energy),
        "decompose": int(cfg.decompose), "compare_sidejump": int(compared),
        "energy_unit": units["energy"], "config_fingerprint": fingerprint,
        "paper": PAPER,
        "conventions": f"hbar = e = k_B = 1, carrier charge +1, lattice constant 1; energies "
                       f"and T in {units['energy']}, k in {units['k']}; sigma in "
                       f"{units['sigma']}, sigma_ij = j_i/E_j",
    })
    done = len(records) + int(comparison is not None)
    for variant in variants:
        if variant in records:
            continue
        record, res = _solve_variant(cfg, h, models, mu, variant)
        records[variant] = record
        if variant == "full":
            attrs["solver_method"] = str(res.info["method"])
            if cfg.store_map:
                figure_map = _map(cfg, res, units)
        done += 1
        context.progress(done, n_steps)
        if done < n_steps:
            context.checkpoint(_assemble(h.dim, units, variants, records, comparison,
                                         figure_map, attrs, n_steps, edges))
    if compared and comparison is None:
        comparison = _solve_bte(cfg, h, models, mu)
        done += 1
        context.progress(done, n_steps)
    attrs.setdefault("solver_method", str(context.resume_from.attrs.get("solver_method", ""))
                     if context.resume_from is not None else "")
    ds = _assemble(h.dim, units, variants, records, comparison, figure_map, attrs, n_steps,
                   edges)
    bad = [v for v in variants if not records[v]["converged"]]
    if bad:
        worst = max(float(records[v]["residual"]) for v in bad)
        ds.attrs["check_failed"] = (f"GMRES did not reach rtol = {cfg.solver.rtol:g} for "
                                    f"the variant(s) {', '.join(bad)} (largest residual "
                                    f"{worst:.2g})")
    elif comparison is not None and not comparison.get("bte_converged", 1):
        ds.attrs["check_failed"] = "the band-diagonal BTE of the comparison did not converge"
    return ds


# --------------------------------------------------------------------------------------------
# summary


def summary(ds: xr.Dataset) -> str:
    """A few lines: the model, σ_xx and σ_yx of each variant, the shares and the side-jump
    comparison (a sweep: their ranges)."""
    from boltzphlow.plotting import sweep_dims

    a = ds.attrs
    mesh = "x".join(str(int(n)) for n in np.atleast_1d(a.get("mesh", [])))
    mu = a.get("mu")
    scattering = a.get("scattering")
    if scattering is None:  # a sweep: the tables of its config
        try:
            scattering = ", ".join(json.loads(a.get("config", "{}")).get("scattering", {}))
        except (TypeError, ValueError, AttributeError):
            scattering = ""
    head = (f"matrix_bte: {a.get('hamiltonian_name', a.get('hamiltonian'))}, mesh {mesh}"
            + (f", μ = {float(mu):.6g}" if mu is not None else "")
            + f"; scattering: {scattering}")
    unit = ds["sigma"].attrs.get("units", "")
    swept = sweep_dims(ds)
    lines = [head]
    if swept:
        for name, label in (("coherence_share", "σ_xx^coh/σ_xx"),
                            ("kinetic_share", "kinetic share of σ_xx")):
            values = ds[name].to_numpy()
            if np.isfinite(values).any():
                lines.append(f"  sweep over {', '.join(swept)}: {label} from "
                             f"{float(np.nanmin(values)):.4g} to {float(np.nanmax(values)):.4g}")
        return "\n".join(lines)
    has_yx = "sigma_yx" in ds
    for variant in ds["variant"].to_numpy().tolist():
        point = ds.sel(variant=variant)
        xx = float(point["sigma_xx"])
        if not math.isfinite(xx):
            continue
        text = f"  {variant:<21} σ_xx = {xx:.6g}"
        if has_yx:
            text += (f", σ_yx = {float(point['sigma_yx']):.6g} (coherence "
                     f"{float(point['sigma_yx_coherence']):.6g})")
        lines.append(text + f" {unit}")
    share = float(ds["coherence_share"])
    kinetic = float(ds["kinetic_share"])
    lines.append(f"  σ_xx^coh/σ_xx = {share:.4g}"
                 + (f", kinetic-correction share {kinetic:.4g}" if math.isfinite(kinetic)
                    else ""))
    if "sigma_yx_intrinsic" in ds and math.isfinite(float(ds["sigma_yx_sidejump_velocity"])):
        whole = float(ds["sigma_yx_intrinsic"])
        lines.append(
            f"  σ_yx^coh - intrinsic = {float(ds['sigma_yx_coherence_extrinsic']):.6g} against "
            f"the side-jump velocity term σ^sj(1) = {float(ds['sigma_yx_sidejump_velocity']):.6g}"
            f" (intrinsic {whole:.6g}; the anomalous-distribution term σ^sj(2) = "
            f"{float(ds['sigma_sidejump_distribution'][1, 0]):.6g} is not in the matrix BTE) "
            f"{unit}")
    outside = (float(ds["sigma_outside_window"][1, 0])
               if "sigma_outside_window" in ds and ds.sizes["i"] >= 2 else 0.0)
    if math.isfinite(outside) and outside != 0.0:
        lines.append(f"  the k-points with no band in the window keep their clean coherences: "
                     f"{outside:.6g} {unit} of σ_yx^coh")
    conv = ds["converged"].to_numpy()
    lines.append(f"  GMRES: {int(np.nansum(conv))} of {int(np.isfinite(conv).sum())} variants "
                 f"converged, at most {int(np.nanmax(ds['iterations'].to_numpy()))} iterations, "
                 f"{int(ds['n_kpoints'])} k-points")
    return "\n".join(lines)
