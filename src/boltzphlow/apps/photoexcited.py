"""The ``photoexcited`` job: config schema, run, plots and summary for the CLI and sweeps.

Config units are the model's (dimensionless): energies and temperatures in units of the
bandwidth W, times in 1/Γ_eph, the field in ``e v_F √(τ_tr/Γ_eph)/W`` (see
:mod:`boltzphlow.kinetics.photoexcited.model`).  Every key, with its unit, default and meaning,
is listed by ``boltzphlow keys photoexcited`` (:func:`boltzphlow.schema.key_rows`; the tables of
``docs/photoexcited.md`` are generated from it).  The ``[pump]`` table is derived from
:class:`~boltzphlow.kinetics.photoexcited.model.Pump`.  Bad values are
refused by the schema or by the model's checks, which name the key, before the run starts.

An optional ``[sweep]`` table (``omega_p = "0.2:0.8:61"``, ``zeta = [1, 5, 20]``) is the default
grid of ``boltzphlow sweep`` for this config; every config may carry one (see
:mod:`boltzphlow.config`), and ``boltzphlow run`` computes the base point.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import Field, FiniteFloat, field_validator

from boltzphlow.jobs import Job, RunContext
from boltzphlow.kinetics.photoexcited.dos import Band, p_band, read_dos_file
from boltzphlow.kinetics.photoexcited.model import (
    NUMBER_DRIFT_TOLERANCE,
    PhotoexcitedMetal,
    Pump,
    evolution_memory,
    periodic_limit,
)
from boltzphlow.kinetics.photoexcited.parameters import MetalParameters, PBandParameters
from boltzphlow.plotting import axis_label as _label
from boltzphlow.plotting import save_figure, sweep_dims
from boltzphlow.resources import check_memory
from boltzphlow.schema import ConfigModel, config_model, parameter_values

Finite = FiniteFloat


def _key(default: Any, unit: str, meaning: str, **constraints: Any) -> Any:
    """A config field with its unit and meaning (the docs' key tables are made from them)."""
    return Field(default, description=meaning, json_schema_extra={"unit": unit}, **constraints)


PumpConfig = config_model(
    Pump, "PumpConfig",
    doc="Phonon source I_p(t) of Eq. 3 (needs ``fixed_zeta = false``).")


PBandConfig = config_model(PBandParameters, "PBandConfig")


class RunConfig(ConfigModel):
    """Output times of an evolution: ``n_out`` equally spaced from 0 to ``t_end``."""

    t_end: Finite = _key(10.0, "1/Γ_eph", "end of the evolution", gt=0)
    n_out: int = _key(101, "1", "output times, equally spaced from 0 to t_end (both included)",
                      ge=2)


class SolverConfig(ConfigModel):
    """Time integrator of the evolution and tolerances; ``tol`` is the steady-state residual.

    ``method`` is a name of the integrator registry (:data:`boltzphlow.integrate.INTEGRATORS`),
    checked against it and accepted case-insensitively, so that the SciPy names ``"BDF"``,
    ``"Radau"`` and ``"LSODA"`` of older configs give the registered ``bdf``, ``radau`` and
    ``lsoda``.
    """

    method: str = _key(
        "bdf", "-", "time integrator of the evolution, a name of the integrator registry "
        "(bdf, radau, lsoda: stiff, with the sparse Jacobian; rosenbrock; rk45, dop853), "
        "case-insensitive")
    rtol: Finite = _key(1e-6, "1", "relative tolerance of the evolution", gt=0, lt=1)
    atol: Finite = _key(1e-10, "1", "absolute tolerance of the evolution (f, ζ, E*²)", gt=0)
    tol: Finite = _key(1e-12, "1", "steady state: largest residual ∂f/∂t (absolute value) "
                                   "relative to the fastest relaxation rate", gt=0, lt=1)

    @field_validator("method")
    @classmethod
    def _registered(cls, value: str) -> str:
        """A name of the integrator registry, case-insensitive, stored as registered."""
        from boltzphlow.integrate import method_name

        return method_name(value)


class _Band(ConfigModel):
    """The model, the task and the band (the first keys of a config)."""

    model: Literal["photoexcited"] = _key(..., "-", "the model: photoexcited")
    task: Literal["steady-state", "evolve", "periodic-limit"] = _key(
        "steady-state", "-", "steady-state: f at fixed ζ (or a steady pump) by Newton; evolve: "
        "f(t), ζ(t) from f_T; periodic-limit: the ζ → ∞ distribution of Eq. 8")
    dos: Literal["semi-elliptic", "sqrt-edge", "linear-ramp", "cosine-1d", "p-band"] = _key(
        "semi-elliptic", "-", "built-in band: semi-elliptic, sqrt-edge, linear-ramp, cosine-1d "
        "(supplement Eq. 54), p-band (supplement §I, see [p_band])")
    dos_file: str | None = _key(
        None, "path", "text table of the band, replacing dos: rows `eps D [v2]` (W, any "
        "normalisation, any units of v²), `#` comments; relative to the working directory")


class PhotoexcitedConfig(config_model(MetalParameters, "_MetalConfig", base=_Band)):
    """Whole config file of the ``photoexcited`` model (see the module docstring).

    The physical keys are those of
    :class:`~boltzphlow.kinetics.photoexcited.parameters.MetalParameters`.  Types and
    finiteness are checked here; the ranges of the physical parameters are checked (and named)
    by :class:`PhotoexcitedMetal` when the run starts, so that a sweep records a point with a
    bad value as a failed point instead of refusing the whole grid.
    """

    compare_without_instability: bool = _key(
        False, "-", "with instability: also evolve without it (sigma_free, f_free)")
    store_distributions: bool = _key(
        True, "-", "keep f(ε) (and the energy grid) in the result; false keeps the scalars "
        "only (small sweep files)")
    pump: PumpConfig | None = _key(None, "-", "phonon source I_p(t) of Eq. 3 (table [pump])")
    p_band: PBandConfig = _key(PBandConfig(), "-", "the p-band model (table [p_band])")
    run: RunConfig = _key(RunConfig(), "-", "output times of an evolution (table [run])")
    solver: SolverConfig = _key(SolverConfig(), "-", "solvers (table [solver])")


# --------------------------------------------------------------------------------------------
# run


def _band(cfg: PhotoexcitedConfig) -> Band | str:
    if cfg.dos_file is not None:
        return read_dos_file(cfg.dos_file)
    if cfg.dos == "p-band":
        p = cfg.p_band
        # energies and |v|² of 3 bands per k-point, collected before the histogram, twice
        check_memory(4 * 3 * 8 * float(p.mesh) ** 3, f"the p-band k-mesh ({p.mesh}^3 points)",
                     ["p_band.mesh"])
        return p_band(**parameter_values(p, PBandParameters))
    return cfg.dos


def _check_keys(cfg: PhotoexcitedConfig) -> None:
    """Checks across keys that the model cannot name (one line, naming the keys)."""
    if cfg.instability and cfg.task != "evolve":
        raise ValueError(f"instability: follows E*(t) in a time evolution; set task = "
                         f"\"evolve\" (task is {cfg.task!r})")
    if cfg.task == "steady-state" and cfg.pump is not None and cfg.pump.kind != "steady":
        raise ValueError(f"pump.kind: a steady state needs a steady pump (kind = \"steady\"), "
                         f"not {cfg.pump.kind!r}")
    if cfg.dos_file is not None and cfg.dos == "p-band":
        raise ValueError("dos_file: replaces dos; remove dos = \"p-band\" or dos_file")


def build_model(cfg: PhotoexcitedConfig, *, instability: bool | None = None
                ) -> PhotoexcitedMetal:
    """The :class:`PhotoexcitedMetal` a config describes (``ValueError`` on bad physics)."""
    _check_keys(cfg)
    mu = cfg.mu if cfg.mu is not None else (None if cfg.filling is not None else 0.0)
    pump = None if cfg.pump is None else Pump(**parameter_values(cfg.pump, Pump))
    values = parameter_values(cfg, MetalParameters)
    values["mu"] = mu
    if instability is not None:
        values["instability"] = instability
    return PhotoexcitedMetal(_band(cfg), **values, pump=pump)


def run(cfg: PhotoexcitedConfig, context: RunContext) -> xr.Dataset:
    """Run the config: a steady state, the periodic limit (Eq. 8) or a time evolution.

    Every check (schema, keys, input files, memory, physics, the data to resume from) runs
    before the first ``context.progress`` call.  A result whose number drifts by more than
    :data:`~boltzphlow.kinetics.photoexcited.model.NUMBER_DRIFT_TOLERANCE` is flagged with
    ``attrs["check_failed"]``.
    """
    model = build_model(cfg)
    resume = context.resume_from
    if resume is not None and cfg.task != "evolve":
        if "t" in resume.dims or resume.attrs.get("model", "photoexcited") != "photoexcited":
            raise ValueError(f"cannot resume from this result: it is not a {cfg.task} result "
                             "of the photoexcited model (task)")
        resume = None  # a steady state has no partial result: it is computed anew
    if cfg.task == "periodic-limit":
        ds = periodic_limit(model.band, mu=model.mu, T=cfg.T, omega_p=cfg.omega_p,
                            points_per_omega=cfg.points_per_omega, transport=cfg.transport)
        number0 = model.number(model.f_initial)  # Eq. 8 keeps each ladder's number
    elif cfg.task == "steady-state":
        ds = model.steady_state(tol=cfg.solver.tol)
        number0 = model.number(model.f_initial)
    else:
        s = cfg.solver
        free = None
        if cfg.instability and cfg.compare_without_instability:
            free = build_model(cfg, instability=False)
        check_memory(evolution_memory(cfg.run.n_out, model.state_size(), 1 + (free is not None)),
                     f"the time evolution ({cfg.run.n_out} outputs x {model.n_cells} cells)",
                     ["run.n_out", "points_per_omega"])
        if resume is not None:
            model.check_resume(resume, model.output_times(cfg.run.t_end, cfg.run.n_out))
        ds = model.evolve(cfg.run.t_end, cfg.run.n_out, rtol=s.rtol, atol=s.atol,
                          method=s.method, resume=resume, callback=context.checkpoint,
                          progress=context.progress)
        if free is not None:
            without = free.evolve(cfg.run.t_end, cfg.run.n_out, rtol=s.rtol, atol=s.atol,
                                  method=s.method)
            ds["sigma_free"] = without["sigma"].assign_attrs(
                long_name="conductivity sigma/sigma_0 without the instability")
            ds["f_free"] = without["f"].assign_attrs(
                long_name="electron distribution f without the instability")
            ds["field_quasistatic"] = ("t", _quasistatic_field(free, without["zeta"]), {
                "units": "e v_F sqrt(tau_tr/Gamma_eph)/W",
                "long_name": "quasi-static E*: sigma = 0 after 10/Gamma_eph at zeta(t) "
                             "(Fig. 2e protocol)"})
        number0 = float(ds["number"][0])
    drift = float(np.max(np.abs(ds["number"].to_numpy() - number0)))
    if not drift <= NUMBER_DRIFT_TOLERANCE:
        ds.attrs["check_failed"] = (f"the electron number drifts by {drift:.2g}, more than the "
                                    f"tolerance {NUMBER_DRIFT_TOLERANCE:g}")
    if not cfg.store_distributions:
        ds = ds.drop_dims("eps")
    ds.attrs["model"] = "photoexcited"
    return ds


def _quasistatic_field(model: PhotoexcitedMetal, zeta: xr.DataArray, points: int = 12
                       ) -> np.ndarray:
    """``ℰ*(ζ(t))`` of :meth:`PhotoexcitedMetal.crossing_field` (the quasi-static reading of
    Fig. 3b), tabulated at ``points`` values of ζ up to its maximum and interpolated."""
    values = zeta.to_numpy()
    top = float(np.nanmax(values))
    if not top > 0:
        return np.zeros(values.shape)
    table = np.linspace(0.0, top, points + 1)
    fields = [0.0] + [model.crossing_field(z, xtol=1e-3) for z in table[1:]]
    return np.interp(values, table, fields)


# --------------------------------------------------------------------------------------------
# plots


def _swept(ds: xr.Dataset) -> list[str]:
    """The swept dimensions: ``attrs["sweep_dims"]``, or (older files) the extra dimensions
    of ``sigma``."""
    names = sweep_dims(ds)
    if names:
        return names
    return [d for d in ds["sigma"].dims if d not in ("t", "eps")] if "sigma" in ds else []


def plot(ds: xr.Dataset, out_dir: Path, stem: str = "photoexcited") -> list[Path]:
    """Figures of a result, named ``<stem>_<kind>.png``: what the result holds is drawn.

    * a steady state or periodic limit with distributions: f, f_T and D (``distribution``,
      Figs. 1, 5); without them: σ/σ_0 at ω_p (``sigma``);
    * an evolution: σ, ζ, the field (and the quasi-static E* when stored), the bookkeeping
      and f when stored, at Γt ≈ 5 after a pulse, at the end otherwise (``evolution``,
      Figs. 1c-e, 3);
    * a sweep: σ against the swept keys, or σ(t) traces for a few pulses (``sweep_sigma``,
      Figs. 2, 3a, supplement Fig. 6), and the distributions of the finished points when
      stored (``sweep_distributions``, supplement Fig. 5).  Failed points (NaN) are left out.
    """
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    swept = _swept(ds)
    if swept:
        paths = []
        path = _plot_sweep(ds, swept, out_dir, stem)
        if path is not None:
            paths.append(path)
        if "f" in ds and "eps" in ds["f"].dims:
            path = _plot_distributions_swept(ds, swept, out_dir, stem)
            if path is not None:
                paths.append(path)
        return paths
    if "t" in ds.dims:
        return [_plot_evolution(ds, out_dir, stem)]
    fig = Figure(figsize=(6, 3.8), layout="constrained")
    ax = fig.subplots()
    sigma = float(ds["sigma"])
    params = _parameters(ds.attrs)
    if "eps" in ds.dims:
        _plot_distribution(ax, ds, ds["f"] if "f" in ds else None, ds.attrs)
        ax.set_title(f"{params}, σ/σ_0 = {sigma:.3g}", fontsize=9)
        return [save_figure(fig, out_dir, stem, "distribution")]
    x = float(ds.attrs.get("omega_p", 0.0))
    ax.plot([x], [sigma], "o", color="tab:blue", label=f"σ/σ_0 = {sigma:.4g}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("ω_p/W")
    ax.set_ylabel("σ/σ_0")
    ax.legend(fontsize=8)
    ax.set_title(params + " (distributions not stored)", fontsize=9)
    return [save_figure(fig, out_dir, stem, "sigma")]


def _parameters(attrs: Any) -> str:
    values = [f"{label} = {float(attrs[key]):.3g}" for key, label in
              (("omega_p", "ω_p/W"), ("mu", "μ/W"), ("T", "T/W")) if key in attrs]
    return ", ".join([str(attrs.get("band", "")), *values]).strip(", ")


def _plot_evolution(ds: xr.Dataset, out_dir: Path, stem: str) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7), layout="constrained")
    (ax1, ax2), (ax3, ax4) = fig.subplots(2, 2)
    t = ds["t"]
    ax1.plot(t, ds["sigma"], label="σ/σ_0")
    if "sigma_free" in ds:
        ax1.plot(t, ds["sigma_free"], "--", label="σ/σ_0 without instability")
    ax1.axhline(0, color="k", lw=0.5)
    ax1.set_xlabel("Γ_eph t")
    ax1.set_ylabel("σ/σ_0")
    zeta = ds["zeta"].to_numpy()
    top = float(np.nanmax(zeta)) if np.isfinite(zeta).any() else 0.0
    ax1b = ax1.twinx()
    ax1b.plot(t, zeta / (top if top > 0 else 1.0), color="tab:red", label="ζ/ζ_max")
    ax1b.set_ylabel("ζ/ζ_max", color="tab:red")
    ax1.legend(fontsize=8, loc="center right")
    ax2.plot(t, ds["field"], label="E* (σ(t, E*) = 0)")
    if "field_quasistatic" in ds:
        ax2.plot(t, ds["field_quasistatic"], "--", label="quasi-static E*(ζ(t)) (Fig. 2e)")
        ax2.legend(fontsize=7, loc="upper left")
    ax2.set_xlabel("Γ_eph t")
    ax2.set_ylabel("ℰ (e v_F √(τ_tr/Γ_eph)/W)")
    ax2.set_title("internal field E*(t)" if ds.attrs.get("instability", "none") != "none"
                  else "field", fontsize=9)
    inset = ax2.inset_axes([0.55, 0.55, 0.4, 0.4])
    inset.plot(t, ds["omega_E"], lw=0.8)
    inset.set_title("ω_E", fontsize=7)
    inset.tick_params(labelsize=6)
    ax3.plot(t, ds["number"] - ds["number"][0], label="Δ number")
    ax3.plot(t, ds["energy"] - ds["energy"][0], label="Δ electron energy (W)")
    ax3.plot(t, ds["entropy_production"], label="dS/dt")
    ax3.set_xlabel("Γ_eph t")
    ax3.legend(fontsize=8)
    if "f" in ds:
        # f at Γt = 5 after a pulse (Fig. 3c), at the end for a fixed ζ (Figs. 1c-e: t = 10)
        when = 5.0 if ds.attrs.get("pump", "none") != "none" else float(t[-1])
        k = int(np.argmin(np.abs(t.to_numpy() - min(when, float(t[-1])))))
        _plot_distribution(ax4, ds, ds["f"].isel(t=k), ds.attrs,
                           label=f"f at Γt = {float(t[k]):.3g}")
        if "f_free" in ds:
            ax4.plot(ds["eps"], ds["f_free"].isel(t=k), "r--", lw=1, label="f without E*")
            ax4.legend(fontsize=7)
    else:  # distributions not stored: the entropy instead
        ax4.plot(t, ds["entropy"], color="tab:green")
        ax4.set_xlabel("Γ_eph t")
        ax4.set_ylabel(_label(ds["entropy"]))
        ax4.set_title("distributions not stored", fontsize=8)
    return save_figure(fig, out_dir, stem, "evolution")


def _plot_distribution(ax: Any, ds: xr.Dataset, f: xr.DataArray | None, attrs: Any,
                       label: str = "f") -> None:
    """f, f_T and D/D_F against ε (only where the point's grid has values)."""
    eps = ds["eps"].to_numpy()
    dos = ds["dos"].to_numpy() if "dos" in ds else np.full(eps.shape, np.nan)
    ok = np.isfinite(dos)  # a swept ω_p: each point's grid is part of the joint one
    dos_f = float(attrs.get("dos_fermi", np.nan))
    name = "D/D_F"
    if not (np.isfinite(dos_f) and dos_f > 0):  # sweep: D_F differs between points
        dos_f = float(np.max(dos[ok])) if ok.any() and np.max(dos[ok]) > 0 else 1.0
        name = "D/D_max"
    if f is not None:
        ax.plot(eps[ok], f.to_numpy()[ok], color="tab:blue", label=label)
    if "f_T" in ds:
        ax.plot(eps[ok], ds["f_T"].to_numpy()[ok], "r--", lw=1, label="f_T")
    ax.plot(eps[ok], dos[ok] / dos_f, "c-.", lw=1, label=name)
    if ok.any() and float(np.max(dos[ok])) / dos_f > 2.5:  # 1D band edges: keep f readable
        ax.set_ylim(-0.05, 2.5)
    ax.set_xlabel("ε/W")
    ax.legend(fontsize=8)


def _coordinate(ds: xr.Dataset, name: str) -> tuple[np.ndarray, list[str] | None]:
    """Numeric positions of a swept coordinate, and tick labels when it is not numeric."""
    values = ds[name].to_numpy()
    if values.dtype.kind in "iuf":
        return values.astype(float), None
    return np.arange(values.size, dtype=float), [str(v) for v in values.tolist()]


def _value_text(ds: xr.Dataset, name: str, index: int) -> str:
    value = ds[name].to_numpy()[index]
    return f"{name} = {value:.4g}" if isinstance(value, float | np.floating) else \
        f"{name} = {value}"


def _plot_sweep(ds: xr.Dataset, swept: list[str], out_dir: Path, stem: str) -> Path | None:
    from matplotlib.figure import Figure

    sigma = ds["sigma"]
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    points = list(itertools.product(*(range(ds.sizes[d]) for d in swept)))
    drawn = 0
    if "t" in sigma.dims and ds.sizes["t"] > 2 and len(points) <= 6:  # pulses (Fig. 3a)
        t = ds["t"].to_numpy()
        twin = None
        for index in points:
            where = dict(zip(swept, index, strict=True))
            line = sigma.isel(where).transpose("t").to_numpy()
            if not np.isfinite(line).any():  # a failed point
                continue
            label = ", ".join(_value_text(ds, d, i) for d, i in where.items())
            ax.plot(t, line, label=label)
            drawn += 1
            if "zeta" in ds and "t" in ds["zeta"].dims:  # ζ/ζ_max dashed (Fig. 3a, red)
                zeta = ds["zeta"].isel(where).transpose("t").to_numpy()
                top = float(np.nanmax(zeta)) if np.isfinite(zeta).any() else 0.0
                twin = twin or ax.twinx()
                twin.plot(t, zeta / (top if top > 0 else 1.0), "--", lw=0.8, color="tab:red")
        if twin is not None:
            twin.set_ylabel("ζ/ζ_max (dashed)", color="tab:red")
        ax.set_xlabel("Γ_eph t")
        ax.set_ylabel("σ/σ_0")
    else:
        if "t" in sigma.dims:
            sigma = sigma.isel(t=-1)
        x, others = swept[0], swept[1:]
        xs, ticks = _coordinate(ds, x)
        for index in itertools.product(*(range(ds.sizes[d]) for d in others)):
            where = dict(zip(others, index, strict=True))
            line = sigma.isel(where).transpose(x).to_numpy()
            ok = np.isfinite(line)
            if not ok.any():
                continue
            label = ", ".join(_value_text(ds, d, i) for d, i in where.items()) or None
            ax.plot(xs[ok], line[ok], marker=".", ms=4, label=label)
            drawn += 1
        if ticks is not None:
            ax.set_xticks(xs, ticks, rotation=30, fontsize=7)
        units = str(ds[x].attrs.get("units", ""))
        ax.set_xlabel(x + (f" ({units})" if units not in ("", "1", "-") else ""))
        ax.set_ylabel("σ/σ_0" + (" at t_end" if "t" in ds["sigma"].dims else ""))
    if not drawn:
        return None
    ax.axhline(0, color="k", lw=0.5)
    if any(not line.get_label().startswith("_") for line in ax.get_lines()):
        ax.legend(fontsize=8)
    failed = int(ds.attrs.get("n_failed", 0))
    ax.set_title(f"{ds.attrs.get('band', '')}" + (f" ({failed} failed points left out)"
                                                  if failed else ""), fontsize=9)
    return save_figure(fig, out_dir, stem, "sweep_sigma")


def _plot_distributions_swept(ds: xr.Dataset, swept: list[str], out_dir: Path, stem: str
                              ) -> Path | None:
    from matplotlib.figure import Figure

    finished = []
    for index in itertools.product(*(range(ds.sizes[d]) for d in swept)):
        point = ds.isel(dict(zip(swept, index, strict=True)))
        f = point["f"].isel(t=-1) if "t" in point["f"].dims else point["f"]
        if np.isfinite(f.to_numpy()).any():
            finished.append((index, point, f))
    if not finished:
        return None
    when = " at t_end" if "t" in ds["f"].dims else ""
    if len(finished) > 9:  # many points: one panel, f only
        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.subplots()
        for _, point, f in finished:
            ok = np.isfinite(f.to_numpy())
            ax.plot(point["eps"].to_numpy()[ok], f.to_numpy()[ok], lw=0.8)
        ax.set_xlabel("ε/W")
        ax.set_ylabel(f"f{when}")
        ax.set_title(f"{len(finished)} points of the sweep over {', '.join(swept)}", fontsize=9)
        return save_figure(fig, out_dir, stem, "sweep_distributions")
    n = len(finished)
    cols = min(n, 3)
    fig = Figure(figsize=(5 * cols, 3.6 * math.ceil(n / 3)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(math.ceil(n / 3), cols)).ravel()
    for ax, (index, point, f) in zip(axes, finished, strict=False):
        _plot_distribution(ax, point, f, {}, label=f"f{when}")
        sigma = point["sigma"].isel(t=-1) if "t" in point["sigma"].dims else point["sigma"]
        ax.set_title(", ".join(_value_text(ds, d, i) for d, i in zip(swept, index, strict=True))
                     + f": σ/σ_0 = {float(sigma):.3g}", fontsize=8)
    for ax in axes[n:]:
        ax.set_visible(False)
    return save_figure(fig, out_dir, stem, "sweep_distributions")


# --------------------------------------------------------------------------------------------
# summary


def summary(ds: xr.Dataset) -> str:
    """A few lines: task, parameters, σ/σ_0, and a warning where the grid does not resolve
    the thermal step."""
    a = ds.attrs
    values = [f"{label} = {float(a[key]):.4g} W" for key, label in
              (("mu", "μ"), ("T", "T"), ("omega_p", "ω_p")) if key in a]  # not when swept
    head = f"photoexcited ({a.get('task', '?')}): {a.get('band', '')}, " + ", ".join(values)
    sigma = ds["sigma"]
    swept = _swept(ds)
    if swept:
        s = (sigma.isel(t=-1) if "t" in sigma.dims else sigma).to_numpy()
        if np.isfinite(s).any():
            text = (f"\n  sweep over {', '.join(swept)}: σ/σ_0 from {float(np.nanmin(s)):.4g} "
                    f"to {float(np.nanmax(s)):.4g}")
        else:
            text = f"\n  sweep over {', '.join(swept)}: no finished point"
    elif "t" in ds.dims:
        text = (f"\n  σ/σ_0: min {float(sigma.min()):.4g}, at t_end {float(sigma[-1]):.4g};"
                f" ζ max {float(ds['zeta'].max()):.4g}; number drift "
                f"{float(abs(ds['number'] - ds['number'][0]).max()):.2g}")
    else:
        text = f"\n  σ/σ_0 = {float(sigma):.6g}, number = {float(ds['number']):.12g}"
    return head + text + _resolution_warning(ds, swept)


def _resolution_warning(ds: xr.Dataset, swept: list[str]) -> str:
    """``"\\n  warning: ..."`` when the energy step exceeds T somewhere, else ``""``."""
    if "points_per_omega_min" not in ds:
        return ""
    needed = ds["points_per_omega_min"]
    if "points_per_omega" in ds.coords:  # swept
        used = ds["points_per_omega"]
    elif "points_per_omega" in ds.attrs:
        used = int(ds.attrs["points_per_omega"])
    else:
        return ""
    short = (needed > used) & np.isfinite(needed)
    count = int(short.sum())
    if not count:
        return ""
    need = int(needed.where(short).max())
    where = f" at {count} of {int(np.isfinite(needed).sum())} points" if swept else ""
    return (f"\n  warning: the energy step omega_p/points_per_omega exceeds T{where}: the "
            f"thermal step is not resolved and σ/σ_0 may be off by more than 0.01; use "
            f"points_per_omega >= {need}")


JOB = Job(
    name="photoexcited",
    config_model=PhotoexcitedConfig,
    run=run,
    plot=plot,
    summary=summary,
    description="electrons with a pumped phonon mode: negative conductivity "
                "(Chiriacò, Millis, Aleiner)",
    resumable=True,
)
