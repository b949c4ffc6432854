"""The ``superconductor`` job: config schema, run, plots and summary for the CLI.

Config units (bare numbers): temperatures K, energies µeV, times ns, volumes µm³, power W.

Every physics check of :class:`~boltzphlow.kinetics.superconductor.model.QPPhononModel` runs
before the first progress report and names the config key (``grid.energy_step``, not the
model's ``energy_step``): the job maps the model's parameter names with
:func:`~boltzphlow.kinetics.superconductor.model.parameter_names`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import Field, ValidationInfo, field_validator

from boltzphlow.jobs import Job, RunContext
from boltzphlow.kinetics.superconductor.model import (
    ParameterError,
    QPPhononModel,
    parameter_names,
)
from boltzphlow.kinetics.superconductor.parameters import FilmParameters, GridParameters
from boltzphlow.kinetics.superconductor.sources import Injection, PhotonHit
from boltzphlow.plotting import sweep_dims, sweep_points
from boltzphlow.schema import ConfigModel, Quantity, config_model
from boltzphlow.units import conversion_factor

#: Dimensions of a single run's variables; any other dimension of a result is swept.
_RUN_DIMS = ("t", "E", "omega")


GridConfig = config_model(GridParameters, "GridConfig")
PhotonConfig = config_model(
    PhotonHit, "PhotonConfig", exclude=("volume",),
    doc="A photon absorbed at t = 0, deposited as a QP packet at ``epsilon0`` (optional; "
        "``task = \"evolve\"``).")


class _InjectedPower(ConfigModel):
    """The injected power as the config gives it: W into the whole film (the model takes a
    power density, :attr:`Injection.power`)."""

    power: Quantity("W", nonnegative=True) = Field(
        1e-15, description="power injected continuously into the whole volume")


InjectionConfig = config_model(
    Injection, "InjectionConfig", base=_InjectedPower,
    doc="Continuous QP injection of ``power`` (into the whole ``volume``) at ``epsilon0`` "
        "(optional).")


class RunConfig(ConfigModel):
    """Output times of a time evolution: 0, then ``n_out − 1`` times up to ``t_end``."""

    t_end: Quantity("ns", positive=True) = Field(1e6, description="final time (1e6 ns: 1 ms)")
    n_out: int = Field(81, ge=2, description="number of output times, t = 0 included (at "
                                             "least 2)", json_schema_extra={"unit": "1"})
    spacing: Literal["log", "linear"] = Field(
        "log", description="log (0, then geometric from t_first) or linear",
        json_schema_extra={"unit": "-"})
    t_first: Quantity("ns", positive=True) | None = Field(
        None, description="first output time after 0 with log spacing, below t_end (none: "
                          "10 ps, or t_end/1e4 when earlier)")


class SolverConfig(ConfigModel):
    """Time integrator (registry name) and its options (``dt``: relaxation step, default
    1/μ of the state at each output interval; first step of the adaptive schemes)."""

    method: str = Field("bdf", description="time integrator, a name of the registry "
                        "boltzphlow.integrate.INTEGRATORS, case insensitive (bdf, radau, lsoda, "
                        "rosenbrock, relaxation, rk45, dop853, and any registered later)")
    rtol: float = Field(1e-6, gt=0, lt=1, description="relative tolerance of the adaptive "
                        "integrators; also the tolerance of the energy bookkeeping check")
    atol: float = Field(1e-14, gt=0, description="absolute tolerance of the adaptive "
                                                 "integrators")
    dt: Quantity("ns", positive=True) | None = Field(
        None, description="step of relaxation (none: 1/μ of the state at each output "
                          "interval); first step of the adaptive schemes")
    order: int = Field(1, ge=1, le=3, description="order (1–3) of relaxation; other methods "
                                                  "ignore it")
    tol: float = Field(1e-10, gt=0, lt=1, description="steady state: every component's net "
                                                      "rate below tol of its gross flux")

    @field_validator("method")
    @classmethod
    def _registered(cls, value: str) -> str:
        """A name of the integrator registry, case-insensitive, stored as registered."""
        from boltzphlow.integrate import method_name

        return method_name(value)


class _Task(ConfigModel):
    """The model and what to compute (the first keys of a config)."""

    model: Literal["superconductor"] = Field(
        description="the model: superconductor", json_schema_extra={"unit": "-"})
    task: Literal["evolve", "steady-state"] = Field(
        "evolve", description="evolve (time evolution) or steady-state (Newton; needs "
                              "escape_time and [injection], refuses [photon])",
        json_schema_extra={"unit": "-"})


class SuperconductorConfig(config_model(FilmParameters, "_FilmConfig", base=_Task)):
    """Whole config file of the ``superconductor`` model: the film's keys
    (:class:`~boltzphlow.kinetics.superconductor.parameters.FilmParameters`) and its tables."""

    grid: GridConfig = Field(GridConfig(), description="the energy grid (table [grid])")
    photon: PhotonConfig | None = Field(None, description="a photon hit (table [photon])")
    injection: InjectionConfig | None = Field(
        None, description="continuous injection (table [injection])")
    run: RunConfig = Field(RunConfig(), description="output times (table [run])")
    solver: SolverConfig = SolverConfig()

    @field_validator("photon")
    @classmethod
    def _photon_needs_evolution(cls, value: PhotonConfig | None,
                                info: ValidationInfo) -> PhotonConfig | None:
        if value is not None and info.data.get("task") == "steady-state":
            raise ValueError("a photon hit is an initial condition: task 'steady-state' "
                             "would ignore it (use [injection], or task = 'evolve')")
        return value


#: Config keys of the model's parameters where the two differ: the keys of the tables
#: ``[grid]``, ``[run]`` and ``[solver]`` (``energy_step`` is ``grid.energy_step``).
CONFIG_KEYS = {"t_out": "run", **{
    name: f"{table}.{name}" for table in ("grid", "run", "solver")
    for name in SuperconductorConfig.model_fields[table].annotation.model_fields}}


def build_model(cfg: SuperconductorConfig) -> QPPhononModel:
    """The :class:`QPPhononModel` a config describes (``ValueError`` on bad physics)."""
    with parameter_names(CONFIG_KEYS):
        return _build(cfg)


def _build(cfg: SuperconductorConfig) -> QPPhononModel:
    photon = None if cfg.photon is None else PhotonHit(volume=cfg.volume,
                                                       **cfg.photon.model_dump())
    injection = None if cfg.injection is None else Injection(**{
        **cfg.injection.model_dump(),
        "power": cfg.injection.power * conversion_factor("W", "ueV/ns") / cfg.volume})
    return QPPhononModel(cfg.material, T_bath=cfg.T_bath, gap=cfg.gap, delta=cfg.delta,
                         escape_time=cfg.escape_time, dynes=cfg.dynes,
                         renormalisation=cfg.renormalisation, alpha2F=cfg.alpha2F,
                         **cfg.grid.model_dump(), photon=photon, injection=injection)


def run(cfg: SuperconductorConfig, context: RunContext) -> xr.Dataset:
    """Run the config: a time evolution (checkpointed, resumable) or a steady state.

    Raises
    ------
    ConfigError
        For a physics check a config value fails (named by its dotted key), before the first
        progress report.
    ResourceError, SolverError, InputError
        Memory that would not fit, a solver that cannot continue, an unusable material file.
    ValueError
        For resume data that do not belong to this config.
    """
    from boltzphlow.config import ConfigError

    try:
        with parameter_names(CONFIG_KEYS):
            return _run(cfg, context)
    except ParameterError as exc:
        raise ConfigError(exc.parameter, exc.reason) from None


def _run(cfg: SuperconductorConfig, context: RunContext) -> xr.Dataset:
    model = _build(cfg)
    s = cfg.solver
    if cfg.task == "steady-state":
        if context.resume_from is not None:
            raise ValueError("a steady-state run keeps no partial result to resume: run its "
                             "config again")
        return model.steady_state(tol=s.tol)
    options: dict[str, Any] = {"rtol": s.rtol, "atol": s.atol}
    if s.method == "relaxation":
        options.update(dt=s.dt, order=s.order)
    elif s.dt is not None:
        options["dt0"] = s.dt
    t_out = model.output_times(cfg.run.t_end, cfg.run.n_out, cfg.run.spacing, cfg.run.t_first)
    return model.evolve(t_out=t_out, method=s.method, resume=context.resume_from,
                        callback=context.checkpoint, progress=context.progress, **options)


# --------------------------------------------------------------------------------------------
# plots


def _points(ds: xr.Dataset, limit: int = 10) -> list[tuple[str, xr.Dataset]]:
    """``(label, point)`` for up to ``limit`` points of a sweep (evenly picked), failed and
    empty points left out; a single run is its own point."""

    def usable(point: xr.Dataset) -> bool:
        if "failed" in point and bool(point["failed"].fillna(1) != 0):
            return False
        return "qp_density" not in point or bool(np.isfinite(point["qp_density"].values).any())

    return sweep_points(ds, sweep_dims(ds, _RUN_DIMS), limit, usable)


def _finite_along(da: xr.DataArray, dim: str) -> xr.DataArray:
    """``da`` without the entries of ``dim`` where it is NaN (a point's own grid)."""
    return da.isel({dim: np.flatnonzero(np.isfinite(da.values))})


def _pick_times(t: np.ndarray, count: int = 6) -> list[int]:
    nt = t.size
    if nt <= count:
        return list(range(nt))
    idx = np.unique(np.round(np.geomspace(1, nt - 1, count - 1)).astype(int))
    return [0, *idx.tolist()]


def plot(ds: xr.Dataset, out_dir: Path, stem: str = "superconductor") -> list[Path]:
    """Figures of a result: ``<stem>_evolution.png`` or ``<stem>_steady_state.png``.

    A single evolution shows distributions at a few times and the time traces; a sweep shows
    the time traces of each swept point (up to ten, labelled by the swept values) and
    ``<stem>_scalars.png``: the final values against the swept keys
    (:func:`boltzphlow.plotting.plot_sweep_scalars`).  A steady state shows its distributions
    (one curve per sweep point).  Failed points (NaN) are left out.
    """
    from boltzphlow.plotting import plot_sweep_scalars, save_figure

    out_dir = Path(out_dir)
    swept = sweep_dims(ds, _RUN_DIMS)
    points = _points(ds)
    if not points:
        raise ValueError("no finished point to plot")
    paths = []
    if "t" not in ds.dims:
        fig = _steady_figure(ds, points)
        paths.append(save_figure(fig, out_dir, stem, "steady_state"))
        scalars = xr.Dataset({n: ds[n].assign_attrs(long_name=label) for n, label in
                              _STEADY.items() if n in ds}, attrs=ds.attrs) if swept else None
    elif swept:
        fig = _sweep_evolution_figure(ds, points)
        paths.append(save_figure(fig, out_dir, stem, "evolution"))
        scalars = xr.Dataset({n: _last_finite(ds[n], label) for n, label in _FINAL.items()
                              if n != "energy_escaped" or _escapes(ds)}, attrs=ds.attrs)
    else:
        fig = _evolution_figure(ds)
        paths.append(save_figure(fig, out_dir, stem, "evolution"))
        scalars = None
    if scalars is not None and any(
            np.isfinite(scalars[n].values).any() for n in scalars.data_vars):
        scalars = scalars.assign_attrs(sweep_dims=json.dumps(swept))
        for name in swept:
            scalars = scalars.assign_coords({name: ds[name]})
        paths.append(plot_sweep_scalars(scalars, out_dir, stem, kind="scalars"))
    return paths


#: Variables drawn against the swept keys, with short labels.
_FINAL = {"qp_density": "QP density at the end", "T_qp": "T_qp at the end",
          "T_phonon": "T_phonon at the end", "delta": "gap at the end",
          "energy_escaped": "energy escaped by the end"}
_STEADY = {"qp_density": "QP density", "T_qp": "T_qp", "T_phonon": "T_phonon",
           "escape_power": "escaping power"}


def _escapes(ds: xr.DataArray) -> bool:
    """Whether any point lets energy escape (else the escaped energy is all zero)."""
    values = ds["energy_escaped"].values
    return bool(np.any(np.abs(values[np.isfinite(values)]) > 0))


def _last_finite(da: xr.DataArray, long_name: str) -> xr.DataArray:
    """The value at the last finite output time of each point (points differ in t_end)."""
    values = np.moveaxis(da.values, da.dims.index("t"), -1)
    ok = np.isfinite(values)
    last = np.where(ok.any(-1), values.shape[-1] - 1 - np.argmax(ok[..., ::-1], -1), 0)
    picked = np.take_along_axis(values, last[..., None], -1)[..., 0]
    picked = np.where(ok.any(-1), picked, np.nan)
    dims = [d for d in da.dims if d != "t"]
    out = xr.DataArray(picked, dims=dims, coords={d: da[d] for d in dims if d in da.coords},
                       attrs=dict(da.attrs))
    out.attrs["long_name"] = long_name
    return out


def _evolution_figure(ds: xr.Dataset) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7.5), layout="constrained")
    (ax1, ax2), (ax3, ax4) = fig.subplots(2, 2)
    t = ds.t.values
    for k in _pick_times(t):
        lab = f"t = {float(t[k]):.3g} ns"
        _plot_dist(ax1, ds.E, ds.f[k].where(ds.states > 0), lab, ds.f)
        _plot_dist(ax2, ds.omega, ds.n[k], lab, ds.n)
    ax1.legend(fontsize=7)
    later = slice(1, None) if t.size > 1 else slice(None)
    tt = t[later]
    _positive_line(ax3, tt, ds.qp_density.values[later], "-", label=ds.qp_density.long_name,
                   log_y=True)
    ax3.set_xlabel(f"{ds.t.long_name} ({ds.t.units})")
    ax3.set_ylabel(f"QP density ({ds.qp_density.units})")
    ax3b = ax3.twinx()
    _positive_line(ax3b, tt, ds.T_qp.values[later], "C1--", label="T_qp")
    _positive_line(ax3b, tt, ds.T_phonon.values[later], "C2:", label="T_phonon")
    ax3b.set_ylabel("effective temperature (K)")
    ax3b.legend(fontsize=7, loc="upper right")
    for name in ("electron_energy", "phonon_energy", "energy_escaped"):
        _positive_line(ax4, tt, ds[name].values[later], "-", label=name.replace("_", " "),
                       log_y=False)
    ax4.set_xlabel(f"{ds.t.long_name} ({ds.t.units})")
    ax4.set_ylabel(f"energy ({ds.phonon_energy.units})")
    ax4.legend(fontsize=7)
    fig.suptitle(f"{ds.attrs.get('material', '')} film, T_bath = {ds.attrs.get('T_bath_K')} K, "
                 f"gap {ds.attrs.get('gap_mode')}")
    return fig


def _sweep_evolution_figure(ds: xr.Dataset, points: list[tuple[str, xr.Dataset]]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7.5), layout="constrained")
    (ax1, ax2), (ax3, ax4) = fig.subplots(2, 2)
    third = "energy_escaped" if _escapes(ds) else "phonon_energy"
    for k, (label, point) in enumerate(points):
        color = f"C{k % 10}"
        t = point.t.values
        ok = np.isfinite(point.qp_density.values)
        ok &= (t > 0) if np.unique(t[ok][t[ok] > 0]).size > 1 else True
        tt = t[ok]
        _positive_line(ax1, tt, point.qp_density.values[ok], "-", color=color, label=label,
                       log_y=True)
        _positive_line(ax2, tt, point.T_qp.values[ok], "-", color=color, label=label)
        _positive_line(ax2, tt, point.T_phonon.values[ok], ":", color=color)
        _positive_line(ax3, tt, point[third].values[ok], "-", color=color, label=label,
                       log_y=False)
        last = int(np.flatnonzero(np.isfinite(point.qp_density.values))[-1])
        f = _finite_along(point.f.isel(t=last), "E")
        states = point.states.sel(E=f.E)
        _plot_dist(ax4, f.E, f.where(states > 0), label, ds.f)
    for ax, ylabel in ((ax1, f"QP density ({ds.qp_density.units})"),
                       (ax2, "T_qp (—), T_phonon (···) (K)"),
                       (ax3, f"{third.replace('_', ' ')} ({ds[third].units})")):
        ax.set_xlabel(f"{ds.t.long_name} ({ds.t.units})")
        ax.set_ylabel(ylabel)
    ax4.set_title("at the last output time", fontsize=9)
    ax1.legend(fontsize=7)
    fig.suptitle(f"{ds.attrs.get('material', 'superconductor')}: sweep over "
                 f"{', '.join(sweep_dims(ds, _RUN_DIMS))}")
    return fig


def _steady_figure(ds: xr.Dataset, points: list[tuple[str, xr.Dataset]]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for label, point in points:
        lab = label or "steady state"
        f = _finite_along(point.f, "E")
        _plot_dist(ax1, f.E, f.where(point.states.sel(E=f.E) > 0), lab, ds.f)
        n = _finite_along(point.n, "omega")
        _plot_dist(ax2, n.omega, n, lab, ds.n)
    if len(points) > 1:
        ax1.legend(fontsize=7)
    fig.suptitle(f"{ds.attrs.get('material', '')}: steady state under injection")
    return fig


def _positive_line(ax: Any, x: np.ndarray, y: np.ndarray, style: str, *, log_y: bool = False,
                   **kw: Any) -> None:
    """Draw the finite (and, on a log axis, positive) part of a line against time: a log time
    axis when there are positive times (a partial result may hold t = 0 only)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    log_x = np.unique(x[ok][x[ok] > 0]).size > 1
    if log_x:
        ok &= x > 0
    if log_y:
        ok &= y > 0
    if not ok.any():
        return
    ax.plot(x[ok], y[ok], style if ok.sum() > 1 else style + "o", **kw)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")


def _plot_dist(ax: Any, x: xr.DataArray, y: xr.DataArray, label: str,
               ref: xr.DataArray) -> None:
    xv, yv = np.asarray(x.values, float), np.asarray(y.values, float)
    ok = np.isfinite(xv) & np.isfinite(yv) & (yv > 0)
    ax.semilogy(xv[ok], yv[ok], label=label)
    ax.set_xlabel(f"{x.long_name} ({x.units})")
    ax.set_ylabel(ref.long_name)
    top = float(np.nanmax(ref.values)) if np.isfinite(ref.values).any() else 0.0
    if top > 0:
        ax.set_ylim(top * 1e-14, top * 3)


# --------------------------------------------------------------------------------------------
# summary


def summary(ds: xr.Dataset) -> str:
    """A few lines describing a result (one line per point of a sweep, up to ten)."""
    swept = sweep_dims(ds, _RUN_DIMS)
    if swept:
        lines = [f"superconductor sweep over {', '.join(swept)}: "
                 f"{int(np.prod([ds.sizes[d] for d in swept]))} points"]
        for label, point in _points(ds):
            lines.append(f"  {label}: {_point_line(point)}")
        return "\n".join(lines)
    a = ds.attrs
    head = (f"superconductor: {a.get('material')} at T_bath = {a.get('T_bath_K')} K, gap "
            f"{a.get('gap_mode')}, energy step {float(a.get('energy_step_ueV', 0)):.4g} µeV, "
            f"{ds.sizes['E']} QP bins, {ds.sizes['omega']} phonon energies")
    if "t" not in ds.dims:
        lines = [head, f"steady state in {a.get('iterations')} Newton iterations "
                       f"(relative residual {float(a.get('residual', 0)):.2e}); "
                       f"QP density {float(ds.qp_density):.4g} µm⁻³, "
                       f"T_qp = {float(ds.T_qp):.4g} K, T_phonon = {float(ds.T_phonon):.4g} K"]
        if "power_imbalance" in a:
            lines.append(f"power balance: injected − escaping = "
                         f"{float(a['power_imbalance']):.2e} µeV/(ns µm³) (bound "
                         f"{float(a['power_imbalance_bound']):.2e})")
    else:
        done = "complete" if int(a.get("complete", 1)) else "PARTIAL (resume with --resume)"
        lines = [
            head,
            f"{a.get('solver_method')}: t = 0 → {float(ds.t[-1]):.4g} ns, {ds.sizes['t']} outputs, "
            f"{done}",
            f"QP density {float(ds.qp_density[0]):.4g} → {float(ds.qp_density[-1]):.4g} µm⁻³; "
            f"gap {float(ds.delta[0]):.5g} → {float(ds.delta[-1]):.5g} µeV",
            f"energy: phonon {float(ds.phonon_energy[-1]):.4g}, escaped "
            f"{float(ds.energy_escaped[-1]):.4g} µeV/µm³; {_drift_text(ds)}",
        ]
    if a.get("check_failed"):
        lines.append(f"CHECK FAILED: {a['check_failed']}")
    return "\n".join(lines)


def _drift_text(ds: xr.Dataset) -> str:
    a = ds.attrs
    if "bookkeeping_drift" in a:
        text = (f"bookkeeping drift {float(a['bookkeeping_drift']):.1e} (relative; tolerance "
                f"{float(a['bookkeeping_tolerance']):.1e})")
    else:  # a partial result: no check yet
        names = ("qp_energy", "phonon_energy", "energy_escaped", "energy_injected")
        total = sum(ds[n].values for n in names) - (
            ds["gap_exchange"].values if "gap_exchange" in ds else 0.0)
        scale = max(float(np.max(sum(np.abs(ds[n].values) for n in names))), 1e-300)
        text = f"bookkeeping drift {float(np.max(np.abs(total - total[0]))) / scale:.1e}"
    if a.get("gap_mode") == "self-consistent":
        u = (ds.electron_energy + ds.phonon_energy + ds.energy_escaped
             - ds.energy_injected).values
        text += (f"; mean-field energy drift {float(np.max(np.abs(u - u[0]))):.3g} µeV/µm³ "
                 "(binning of f(ξ))")
    return text


def _point_line(point: xr.Dataset) -> str:
    if "t" not in point.dims:
        return (f"QP density {float(point.qp_density):.4g} µm⁻³, T_qp = "
                f"{float(point.T_qp):.4g} K, T_phonon = {float(point.T_phonon):.4g} K")
    ok = np.flatnonzero(np.isfinite(point.qp_density.values))
    first, last = int(ok[0]), int(ok[-1])
    t_last = float(point.t.values[last])
    return (f"QP density {float(point.qp_density[first]):.4g} → "
            f"{float(point.qp_density[last]):.4g} µm⁻³ at t = {t_last:.4g} ns, "
            f"T_qp = {_num(point.T_qp.values[last])} K")


def _num(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "nan"


JOB = Job(
    name="superconductor",
    config_model=SuperconductorConfig,
    run=run,
    plot=plot,
    summary=summary,
    description="quasiparticle-phonon kinetics of a BCS superconductor (M. Li, Documentation "
                "for BoltzPhlow)",
    resumable=True,
)
