"""The ``superconductor_space`` job: QP–phonon kinetics in a slab or a sphere from the CLI.

Config, run (checkpointed, resumable), plots, animation frames and summary of
:class:`~boltzphlow.kinetics.superconductor.spatial.model.SpatialQPPhononModel` (M. Li,
*Documentation for BoltzPhlow and BTE approach to QP–phonon transport*, §2.1, §2.3 and the
spherical problem at the end of §2.4).  Config units (bare numbers): temperatures K, energies
µeV, lengths µm, speeds µm/ns, times ns, power per wall area W/µm².

The config is derived from the parameter declarations of the 0-D film and grid
(:class:`~boltzphlow.kinetics.superconductor.parameters.FilmParameters`,
:class:`~boltzphlow.kinetics.superconductor.parameters.GridParameters`) and of the spatial
model (:mod:`boltzphlow.kinetics.superconductor.spatial.parameters`).  Every physics check of
the model runs before the first progress report and names the config key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import Field, field_validator

from boltzphlow.apps import superconductor
from boltzphlow.apps.superconductor import _last_finite, _pick_times, _positive_line
from boltzphlow.jobs import Job, RunContext, resume_refusal
from boltzphlow.kinetics.superconductor.model import ParameterError, parameter_names
from boltzphlow.kinetics.superconductor.parameters import FilmParameters, GridParameters
from boltzphlow.kinetics.superconductor.sources import Injection, PhotonHit
from boltzphlow.kinetics.superconductor.spatial.model import (
    BoundaryInjection,
    PointPhoton,
    SpatialQPPhononModel,
)
from boltzphlow.kinetics.superconductor.spatial.parameters import (
    PhotonPlacement,
    SpaceParameters,
    WallInjection,
)
from boltzphlow.plotting import axis_label, sweep_dims, sweep_points
from boltzphlow.schema import ConfigModel, Quantity, config_model, field_at, parameter_values
from boltzphlow.units import conversion_factor, display_unit

#: Name of the job (the ``model`` key of its configs and ``attrs["model"]`` of its results).
NAME = "superconductor_space"
#: ``attrs["model"]`` of the spatial model's own Datasets (what its ``resume`` takes).
MODEL_TAG = "superconductor-spatial"
#: Dimensions of a single run's variables; any other dimension of a result is swept.
_RUN_DIMS = ("t", "r", "E", "omega", "wall")
#: Spectrum points drawn at most.
MAX_POINTS = 4

GridConfig = config_model(GridParameters, "SpaceGridConfig")
PhotonConfig = config_model(
    PhotonHit, "SpacePhotonConfig", exclude=("volume",),
    base=config_model(PhotonPlacement, "_PhotonPlacement"),
    doc="A photon absorbed at t = 0: its energy deposited as QPs in a Gaussian packet of "
        "width ``size`` about ``position``, isotropic in momentum, at ``epsilon0`` in energy "
        "(optional).")
InjectionConfig = config_model(
    Injection, "SpaceInjectionConfig", base=config_model(WallInjection, "_WallInjection"),
    doc="Continuous QP injection through a wall at ``epsilon0`` (optional).")


class RunConfig(superconductor.RunConfig):
    """Output times: 0, then ``n_out − 1`` times up to ``t_end`` (the 0-D job's keys with
    defaults for a spatial run); also the frames of ``boltzphlow plot --frames``."""

    t_end: Quantity("ns", positive=True) = Field(100.0, description="final time")
    n_out: int = Field(21, ge=2, description="number of output times, t = 0 included (at "
                                             "least 2)", json_schema_extra={"unit": "1"})
    spacing: Literal["linear", "log"] = Field(
        "linear", description="linear, or log (0, then geometric from t_first)",
        json_schema_extra={"unit": "-"})


class SolverConfig(ConfigModel):
    """The outer (Strang) step and the collision scheme of the solver spine."""

    dt: Quantity("ns", positive=True) | None = Field(
        None, description="largest outer step T(dt/2) C(dt) T(dt/2); each output interval is "
                          "split into equal steps no longer (none: t_end/100)")
    dt_first: Quantity("ns", positive=True) | None = Field(
        None, description="first outer step, growing by dt_growth up to dt (a photon's packet "
                          "relaxes fastest at first; none: dt/20)")
    dt_growth: float = Field(2.0, ge=1, description="growth factor of the outer steps from "
                             "dt_first up to dt", json_schema_extra={"unit": "-"})
    method: str = Field("rosenbrock", description="collision scheme, a name of the registry "
                        "boltzphlow.integrate.INTEGRATORS (rosenbrock: matrix-free ROS2)")
    fixed_step: bool = Field(
        True, description="one step of the scheme per collision step, the outer dt setting "
                          "the error (false: adaptive collision steps, slower)",
        json_schema_extra={"unit": "-"})
    rtol: float = Field(1e-6, gt=0, lt=1, description="relative tolerance of the collision "
                        "steps; also the tolerance of the energy bookkeeping check")
    atol: float = Field(1e-14, gt=0, description="absolute tolerance of the collision steps")

    @field_validator("method")
    @classmethod
    def _registered(cls, value: str) -> str:
        """A name of the integrator registry, case-insensitive, stored as registered."""
        from boltzphlow.integrate import method_name

        return method_name(value)


class PlotConfig(ConfigModel):
    """What the figures show."""

    points: list[float] | None = Field(
        None, description="positions (r or x) where the spectra f(E) and n(ω) are drawn, at "
                          f"most {MAX_POINTS} (none: the photon's position, the middle and "
                          "the outer wall)", json_schema_extra={"unit": "um"})


class _Task(ConfigModel):
    """The model (the first key of a config)."""

    model: Literal["superconductor_space"] = Field(
        description="the model: superconductor_space", json_schema_extra={"unit": "-"})


_Film = config_model(FilmParameters, "_SpaceFilm", base=_Task,
                     exclude=("dynes", "renormalisation", "alpha2F", "escape_time", "volume"))


class SpaceConfig(config_model(SpaceParameters, "_SpaceKeys", base=_Film)):
    """Whole config file of the ``superconductor_space`` model: the film's material, bath and
    gap, the geometry, transport and walls
    (:class:`~boltzphlow.kinetics.superconductor.spatial.parameters.SpaceParameters`) and its
    tables."""

    grid: GridConfig = Field(GridConfig(), description="the energy grid (table [grid])")
    photon: PhotonConfig | None = Field(None, description="a photon hit (table [photon])")
    injection: InjectionConfig | None = Field(
        None, description="continuous injection through a wall (table [injection])")
    run: RunConfig = Field(RunConfig(), description="output times (table [run])")
    solver: SolverConfig = SolverConfig()
    plot: PlotConfig = PlotConfig()


#: Config keys of the model's parameters where the two differ (``energy_step`` is
#: ``grid.energy_step``, ``method`` is ``solver.method``).
CONFIG_KEYS = {"t_out": "run", **{
    name: f"{table}.{name}" for table in ("grid", "run", "solver")
    for name in SpaceConfig.model_fields[table].annotation.model_fields}}


def build_model(cfg: SpaceConfig) -> SpatialQPPhononModel:
    """The :class:`SpatialQPPhononModel` a config describes (``ConfigError`` on bad physics)."""
    return _guarded(lambda: _build(cfg))


def _guarded(call: Any) -> Any:
    """``call()`` with the model's parameter names mapped to config keys and its
    :class:`ParameterError` (or a ``"key: reason"`` ``ValueError`` of the parameters) turned
    into a one-line :class:`~boltzphlow.config.ConfigError`."""
    from boltzphlow.config import ConfigError

    try:
        with parameter_names(CONFIG_KEYS):
            return call()
    except ParameterError as exc:
        raise ConfigError(exc.parameter, exc.reason) from None
    except ValueError as exc:
        key, sep, reason = str(exc).partition(": ")
        if sep and field_at(SpaceConfig, key) is not None:
            raise ConfigError(key, reason) from None
        raise


def _build(cfg: SpaceConfig) -> SpatialQPPhononModel:
    space = SpaceParameters(**parameter_values(cfg, SpaceParameters))
    keywords = space.model_keywords()
    keywords["gap"] = cfg.gap
    photon = None if cfg.photon is None else PointPhoton(**cfg.photon.model_dump())
    injection = None
    if cfg.injection is not None:
        values = cfg.injection.model_dump()
        values["power"] *= conversion_factor("W/um^2", "ueV/ns/um^2")
        injection = BoundaryInjection(**values)
    return SpatialQPPhononModel(cfg.material, T_bath=cfg.T_bath, delta=cfg.delta,
                                **cfg.grid.model_dump(), **keywords, photon=photon,
                                injection=injection)


def spectrum_points(cfg: SpaceConfig, extent: float) -> list[float]:
    """The positions (µm) of the spectra: ``plot.points``, or the photon's position (the
    centre without a photon), the middle and the outer wall."""
    from boltzphlow.config import ConfigError

    points = cfg.plot.points
    if points is None:
        start = cfg.photon.position if cfg.photon is not None else 0.0
        return sorted({float(start), 0.5 * extent, float(extent)})
    if not 1 <= len(points) <= MAX_POINTS:
        raise ConfigError("plot.points", f"give 1 to {MAX_POINTS} positions, got {len(points)}")
    for x in points:
        if not 0 <= x <= extent:
            raise ConfigError("plot.points", f"{x:g} µm lies outside the {cfg.geometry} (0 to "
                                             f"{extent:g} µm)")
    return [float(x) for x in points]


def run(cfg: SpaceConfig, context: RunContext) -> xr.Dataset:
    """Run the config: a time evolution, checkpointed at every output time, resumable.

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
    model = build_model(cfg)
    points = spectrum_points(cfg, model.geometry.extent)
    r, s = cfg.run, cfg.solver
    times = _guarded(lambda: model.local.output_times(r.t_end, r.n_out, r.spacing, r.t_first))
    resume = context.resume_from
    if resume is not None:
        if resume.attrs.get("model") != NAME:
            raise resume_refusal(f"it holds a {resume.attrs.get('model')!r} result")
        resume = resume.copy().assign_attrs(model=MODEL_TAG)
    tags = {"model": NAME, "spectrum_points_um": json.dumps(points), "gap_mode": cfg.gap}

    def checkpoint(ds: xr.Dataset) -> None:
        context.checkpoint(ds.assign_attrs(tags))

    options: dict[str, Any] = {"rtol": s.rtol, "atol": s.atol}
    if s.fixed_step:
        options["fixed_step"] = True
    dt = s.dt if s.dt is not None else float(times[-1] - times[0]) / 100.0
    dt_first = s.dt_first if s.dt_first is not None else dt / 20.0
    ds = _guarded(lambda: model.evolve(t_out=times, dt=dt, dt_first=dt_first,
                                       dt_growth=s.dt_growth, method=s.method, resume=resume,
                                       callback=checkpoint, progress=context.progress,
                                       **options))
    return ds.assign_attrs(tags)


# --------------------------------------------------------------------------------------------
# plots


def plot(ds: xr.Dataset, out_dir: Path, stem: str = NAME, *, frames: bool = False
         ) -> list[Path]:
    """Figures of a result (paths returned).

    A single run: ``<stem>_maps.png`` (QP and phonon energy density against r and t),
    ``<stem>_spectra.png`` (f(E) and n(ω) at the points of ``plot.points``, at a few times)
    and ``<stem>_balance.png`` (energy inside, escaped through each wall, injected, and the
    drift of their sum).  A sweep: ``<stem>_evolution.png`` (time traces and final profiles of
    each point, up to ten) and ``<stem>_scalars.png`` (final values against the swept keys).

    With ``frames`` only the frames of an animation are written instead:
    ``<stem>_frame_0000.png``, ... one per output time, the QP and phonon energy density
    profiles on fixed axes (a single run only).
    """
    from boltzphlow.plotting import plot_sweep_scalars, save_figure

    out_dir = Path(out_dir)
    swept = sweep_dims(ds, _RUN_DIMS)
    if frames:
        if swept:
            raise ValueError(f"--frames: draws a single run, not a sweep over "
                             f"{', '.join(swept)}")
        return _frames(ds, out_dir, stem)
    points = _points(ds)
    if not points:
        raise ValueError("no finished point to plot")
    if not swept:
        return [save_figure(_maps_figure(ds), out_dir, stem, "maps"),
                save_figure(_spectra_figure(ds), out_dir, stem, "spectra"),
                save_figure(_balance_figure(ds), out_dir, stem, "balance")]
    paths = [save_figure(_sweep_figure(ds, points), out_dir, stem, "evolution")]
    scalars = xr.Dataset({n: _last_finite(ds[n], label) for n, label in _FINAL.items()},
                         attrs=ds.attrs)
    if any(np.isfinite(scalars[n].values).any() for n in scalars.data_vars):
        scalars = scalars.assign_attrs(sweep_dims=json.dumps(swept))
        for name in swept:
            scalars = scalars.assign_coords({name: ds[name]})
        paths.append(plot_sweep_scalars(scalars, out_dir, stem, kind="scalars"))
    return paths


#: Variables drawn against the swept keys, with short labels.
_FINAL = {"total_energy": "energy inside at the end",
          "qp_energy_total": "QP energy inside at the end",
          "energy_escaped": "energy escaped by the end"}


def _points(ds: xr.Dataset, limit: int = 10) -> list[tuple[str, xr.Dataset]]:
    """``(label, point)`` of up to ``limit`` finished points (a single run: itself)."""

    def usable(point: xr.Dataset) -> bool:
        if "failed" in point and bool(point["failed"].fillna(1) != 0):
            return False
        return bool(np.isfinite(point["total_energy"].values).any())

    return sweep_points(ds, sweep_dims(ds, _RUN_DIMS), limit, usable)


def _title(ds: xr.Dataset) -> str:
    a = ds.attrs
    return (f"{a.get('material', '')} {a.get('geometry', '')}, "
            f"{float(a.get('extent_um', np.nan)):.4g} µm, {ds.sizes.get('r')} cells, "
            f"T_bath = {a.get('T_bath_K')} K")


def _label(da: xr.DataArray, name: str | None = None) -> str:
    """:func:`~boltzphlow.plotting.axis_label` with the units as the docs write them
    (``µeV/µm³``)."""
    units = str(da.attrs.get("units", ""))
    return axis_label(da.copy(deep=False).assign_attrs(units=display_unit(units)), name)


def _position_label(ds: xr.Dataset) -> str:
    """``"r (µm)"`` in a sphere, ``"x (µm)"`` in a slab."""
    return _label(ds.r, "x" if ds.attrs.get("geometry") == "slab" else "r")


def _positive_range(*arrays: np.ndarray) -> tuple[float, float]:
    """The smallest and largest positive finite value (a range for a log scale)."""
    values = np.concatenate([np.ravel(a) for a in arrays])
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return 1e-30, 1.0
    return float(values.min()), float(values.max())


def _maps_figure(ds: xr.Dataset) -> Any:
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, name, title in ((axes[0], "qp_energy", "quasiparticles"),
                            (axes[1], "phonon_energy", "phonons")):
        da = ds[name]
        low, high = _positive_range(da.values)
        low = max(low, high * 1e-12)
        values = np.ma.masked_invalid(np.where(da.values > 0, da.values, np.nan))
        mesh = ax.pcolormesh(ds.r.values, ds.t.values, values, shading="nearest",
                             norm=LogNorm(low, high if high > low else low * 10))
        fig.colorbar(mesh, ax=ax, label=_label(da))
        ax.set_xlabel(_position_label(ds))
        ax.set_ylabel(_label(ds.t, "t"))
        ax.set_title(title, fontsize=10)
    fig.suptitle(_title(ds))
    return fig


def _cells_of(ds: xr.Dataset) -> list[tuple[float, int]]:
    """``(position, cell)`` of the spectrum points (the cells that hold them)."""
    text = ds.attrs.get("spectrum_points_um")
    r = np.asarray(ds.r.values, dtype=float)
    points = json.loads(text) if isinstance(text, str) else [float(r[0]), float(r[-1])]
    out: list[tuple[float, int]] = []
    for x in points[:MAX_POINTS]:
        cell = int(np.argmin(np.abs(r - float(x))))
        if cell not in [c for _, c in out]:
            out.append((float(x), cell))
    return out


def _spectra_figure(ds: xr.Dataset) -> Any:
    from matplotlib.figure import Figure

    cells = _cells_of(ds)
    fig = Figure(figsize=(10, 2.9 * len(cells) + 0.6), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(cells), 2))
    t = ds.t.values
    step = float(ds.attrs.get("energy_step_ueV", 0.0))
    f_top = float(np.nanmax(ds.f.values)) if np.isfinite(ds.f.values).any() else 1.0
    n_top = float(np.nanmax(ds.n.values)) if np.isfinite(ds.n.values).any() else 1.0
    for (x, cell), (ax_f, ax_n) in zip(cells, axes, strict=True):
        has_states = ds.E.values + 0.5 * step > float(ds.delta.values[cell])
        for k in _pick_times(t):
            label = f"t = {float(t[k]):.3g} ns"
            f = ds.f.values[k, cell]
            ok = has_states & np.isfinite(f) & (f > 0)
            ax_f.semilogy(ds.E.values[ok], f[ok], label=label)
            n = ds.n.values[k, cell]
            ok = np.isfinite(n) & (n > 0)
            ax_n.semilogy(ds.omega.values[ok], n[ok], label=label)
        where = f"at {float(ds.r.values[cell]):.3g} µm (cell {cell}, asked {x:.3g} µm)"
        for ax, var, coord, top in ((ax_f, ds.f, ds.E, f_top), (ax_n, ds.n, ds.omega, n_top)):
            ax.set_xlabel(_label(coord))
            ax.set_ylabel(_label(var, "f" if var.name == "f" else "n"))
            ax.set_title(f"{var.attrs.get('long_name', var.name)} {where}", fontsize=8)
            if top > 0:
                ax.set_ylim(top * 1e-14, top * 3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(_title(ds))
    return fig


def _balance_figure(ds: xr.Dataset) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax, ax_drift = fig.subplots(1, 2)
    t = ds.t.values
    inside = ds.total_energy.values
    total = inside + ds.energy_escaped.values - ds.energy_injected.values
    lines = [("inside", inside, "k-"), ("QPs inside", ds.qp_energy_total.values, "C0--"),
             ("phonons inside", ds.phonon_energy_total.values, "C1--")]
    for k, wall in enumerate(ds.wall.values.tolist()):
        lines.append((f"QPs out through {wall}", ds.qp_energy_escaped.values[:, k],
                      f"C{2 + 2 * k}:"))
        lines.append((f"phonons out through {wall}", ds.phonon_energy_escaped.values[:, k],
                      f"C{3 + 2 * k}:"))
    if np.any(ds.energy_injected.values != 0):
        lines.append(("injected", ds.energy_injected.values, "C8-."))
    lines.append(("inside + escaped − injected", total, "C9-"))
    for label, values, style in lines:
        ax.plot(t, values, style, label=label)
    ax.set_xlabel(_label(ds.t, "t"))
    ax.set_ylabel(_label(ds.total_energy, "energy"))
    ax.legend(fontsize=7)
    scale = float(np.nanmax(np.abs(inside) + np.abs(ds.energy_escaped.values)
                            + np.abs(ds.energy_injected.values))) or 1.0
    ax_drift.plot(t, (total - total[0]) / scale, "C9.-")
    ax_drift.set_xlabel(_label(ds.t, "t"))
    ax_drift.set_ylabel("drift of the total, relative")
    ax_drift.axhline(0.0, color="0.7", lw=0.5)
    fig.suptitle(f"energy balance: {_title(ds)}")
    return fig


def _sweep_figure(ds: xr.Dataset, points: list[tuple[str, xr.Dataset]]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7.5), layout="constrained")
    (ax1, ax2), (ax3, ax4) = fig.subplots(2, 2)
    for k, (label, point) in enumerate(points):
        color = f"C{k % 10}"
        t = point.t.values
        ok = np.isfinite(point.total_energy.values)
        _positive_line(ax1, t[ok], point.total_energy.values[ok], "-", color=color,
                       label=label)
        _positive_line(ax2, t[ok], point.energy_escaped.values[ok], "-", color=color,
                       label=label)
        last = int(np.flatnonzero(ok)[-1])
        for ax, name in ((ax3, "qp_energy"), (ax4, "phonon_energy")):
            profile = point[name].isel(t=last)
            good = np.isfinite(profile.values) & np.isfinite(point.r.values)
            ax.plot(point.r.values[good], profile.values[good], color=color, label=label)
    for ax, name in ((ax1, "total_energy"), (ax2, "energy_escaped")):
        ax.set_xlabel(_label(ds.t, "t"))
        ax.set_ylabel(_label(ds[name]))
    for ax, name in ((ax3, "qp_energy"), (ax4, "phonon_energy")):
        ax.set_xlabel(_position_label(ds))
        ax.set_ylabel(_label(ds[name]))
        ax.set_title("at the last output time", fontsize=9)
    ax1.legend(fontsize=7)
    fig.suptitle(f"{ds.attrs.get('material', 'superconductor')} in space: sweep over "
                 f"{', '.join(sweep_dims(ds, _RUN_DIMS))}")
    return fig


def _frames(ds: xr.Dataset, out_dir: Path, stem: str) -> list[Path]:
    """One PNG per output time: the QP and phonon energy density profiles on fixed axes."""
    from matplotlib.figure import Figure

    from boltzphlow.plotting import save_figure

    count = ds.sizes["t"]
    digits = max(4, len(str(count - 1)))
    r = ds.r.values
    limits = {name: _positive_range(ds[name].values) for name in ("qp_energy",
                                                                   "phonon_energy")}
    paths = []
    for k in range(count):
        fig = Figure(figsize=(9, 3.6), layout="constrained")
        for ax, name, title in zip(fig.subplots(1, 2), ("qp_energy", "phonon_energy"),
                                   ("quasiparticles", "phonons"), strict=True):
            values = ds[name].values[k]
            ok = np.isfinite(values) & (values > 0)
            ax.semilogy(r[ok], values[ok], "C0.-" if name == "qp_energy" else "C1.-")
            low, high = limits[name]
            ax.set_ylim(max(low, high * 1e-12) / 2, high * 2)
            ax.set_xlim(0.0, float(ds.attrs.get("extent_um", r[-1])))
            ax.set_xlabel(_position_label(ds))
            ax.set_ylabel(_label(ds[name]))
            ax.set_title(title, fontsize=10)
        fig.suptitle(f"t = {float(ds.t.values[k]):.4g} ns   ({_title(ds)})")
        paths.append(save_figure(fig, out_dir, stem, f"frame_{k:0{digits}d}"))
    return paths


# --------------------------------------------------------------------------------------------
# summary


def summary(ds: xr.Dataset) -> str:
    """A few lines describing a result (one line per point of a sweep, up to ten)."""
    swept = sweep_dims(ds, _RUN_DIMS)
    if swept:
        lines = [f"{NAME} sweep over {', '.join(swept)}: "
                 f"{int(np.prod([ds.sizes[d] for d in swept]))} points"]
        for label, point in _points(ds):
            ok = np.flatnonzero(np.isfinite(point.total_energy.values))
            last = int(ok[-1])
            lines.append(f"  {label}: energy inside {float(point.total_energy[last]):.4g} µeV, "
                         f"escaped {float(point.energy_escaped[last]):.4g} µeV at t = "
                         f"{float(point.t[last]):.4g} ns")
        return "\n".join(lines)
    a = ds.attrs
    done = "complete" if int(a.get("complete", 1)) else "PARTIAL (resume with --resume)"
    walls = ", ".join(
        f"{w} {float(q):.4g} (QPs) + {float(p):.4g} (phonons)" for w, q, p in zip(
            ds.wall.values.tolist(), ds.qp_energy_escaped.values[-1],
            ds.phonon_energy_escaped.values[-1], strict=True))
    lines = [
        f"{NAME}: {a.get('material')} {a.get('geometry')} of {float(a.get('extent_um', 0)):.4g}"
        f" µm, {ds.sizes['r']} cells, transport QP {a.get('qp_transport')} / phonon "
        f"{a.get('phonon_transport')}, T_bath = {a.get('T_bath_K')} K, "
        f"{ds.sizes['E']} QP bins, {ds.sizes['omega']} phonon energies",
        f"{a.get('solver_method')}: t = 0 → {float(ds.t[-1]):.4g} ns, {ds.sizes['t']} outputs, "
        f"{done}",
        f"energy inside {float(ds.total_energy[0]):.4g} → {float(ds.total_energy[-1]):.4g} µeV; "
        f"escaped: {walls} µeV; injected {float(ds.energy_injected[-1]):.4g} µeV",
    ]
    if "bookkeeping_drift" in a:
        lines.append(f"bookkeeping drift {float(a['bookkeeping_drift']):.1e} (relative; "
                     f"tolerance {float(a['bookkeeping_tolerance']):.1e})")
    if a.get("check_failed"):
        lines.append(f"CHECK FAILED: {a['check_failed']}")
    return "\n".join(lines)


JOB = Job(
    name=NAME,
    config_model=SpaceConfig,
    run=run,
    plot=plot,
    summary=summary,
    description="quasiparticle-phonon kinetics in a slab or a sphere (M. Li, Documentation for "
                "BoltzPhlow, §2.1, §2.3, §2.4)",
    resumable=True,
)
