"""The ``photoexcited`` job: config schema, run, plots and summary for the CLI and sweeps.

Config units are the model's (dimensionless): energies and temperatures in units of the
bandwidth W, times in 1/Γ_eph, the field in ``e v_F √(τ_tr/Γ_eph)/W`` (see
:mod:`boltzphlow.kinetics.photoexcited.model`).  Physical checks (ω_p > 0, T ≥ 0, μ inside the
band ...) are the model's ``ValueError`` s, reported by the CLI as one line with exit code 2.

An optional ``[sweep]`` table (``omega_p = "0.2:0.8:61"``, ``zeta = [1, 5, 20]``) is the default
grid of ``boltzphlow sweep`` for this config; ``boltzphlow run`` ignores it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field

from boltzphlow.jobs import Job, RunContext, register_job
from boltzphlow.kinetics.photoexcited.dos import Band, p_band
from boltzphlow.kinetics.photoexcited.model import PhotoexcitedMetal, Pump, periodic_limit


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PumpConfig(_Strict):
    """Phonon source I_p(t) of Eq. 3 (needs ``fixed_zeta = false``)."""

    kind: Literal["exponential", "gaussian", "steady"] = "exponential"
    zeta0: float = 10.0
    tau_pulse: float = 0.3
    t0: float = 1.0
    rate: float = 0.0


class PBandConfig(_Strict):
    """Hoppings (units of 100 meV) and k-mesh of the SM §I p-band model (``dos = "p-band"``)."""

    t1: float = -1.0
    t2: float = 0.3
    t3: float = 2.0
    mesh: int = Field(40, ge=4, le=200)
    bins: int = Field(200, ge=8, le=5000)


class RunConfig(_Strict):
    """Output times of an evolution: ``n_out`` equally spaced from 0 to ``t_end``."""

    t_end: float = 10.0
    n_out: int = Field(101, ge=2)


class SolverConfig(_Strict):
    """Stiff integrator (scipy) and tolerances; ``tol`` is the steady-state residual."""

    method: Literal["BDF", "Radau", "LSODA"] = "BDF"
    rtol: float = Field(1e-6, gt=0, lt=1)
    atol: float = Field(1e-10, gt=0)
    tol: float = Field(1e-12, gt=0)


class PhotoexcitedConfig(_Strict):
    """Whole config file of the ``photoexcited`` model (see the module docstring)."""

    model: Literal["photoexcited"]
    task: Literal["steady-state", "evolve", "periodic-limit"] = "steady-state"
    dos: str = "semi-elliptic"
    dos_file: str | None = None
    transport: Literal["constant-v2tau", "constant-tau", "impurity",
                       "constant-vtau"] = "constant-v2tau"
    mu: float | None = None
    filling: float | None = None
    T: float = 0.003
    omega_p: float = 0.5
    zeta: float = 20.0
    fixed_zeta: bool = True
    gamma_eph: float = 1.0
    gamma_in: float = 0.0
    tau_ph: float = math.inf
    field: float = 0.0
    points_per_omega: int = 400
    delta_omega: float = 0.0
    instability: bool | Literal["constraint", "maxwell"] = False
    tau_maxwell: float = 0.02
    field_seed: float = 1e-4
    compare_without_instability: bool = False
    store_distributions: bool = True
    pump: PumpConfig | None = None
    p_band: PBandConfig = PBandConfig()
    run: RunConfig = RunConfig()
    solver: SolverConfig = SolverConfig()
    sweep: dict[str, Any] | None = None


def _band(cfg: PhotoexcitedConfig) -> Band | str:
    if cfg.dos_file is not None:
        try:
            table = np.loadtxt(cfg.dos_file, ndmin=2)
        except (OSError, ValueError) as exc:
            raise ValueError(f"dos_file {cfg.dos_file!r}: {exc}") from None
        if table.shape[1] not in (2, 3):
            raise ValueError("dos_file needs two or three columns: eps, D[, v2]")
        v2 = table[:, 2] if table.shape[1] == 3 else None
        return Band.from_table(table[:, 0], table[:, 1], v2, name=Path(cfg.dos_file).name)
    if cfg.dos == "p-band":
        p = cfg.p_band
        return p_band(p.t1, p.t2, p.t3, p.mesh, p.bins)
    return cfg.dos


def build_model(cfg: PhotoexcitedConfig, *, instability: bool | None = None
                ) -> PhotoexcitedMetal:
    """The :class:`PhotoexcitedMetal` a config describes (``ValueError`` on bad physics)."""
    mu = cfg.mu if cfg.mu is not None else (None if cfg.filling is not None else 0.0)
    pump = None if cfg.pump is None else Pump(**cfg.pump.model_dump())
    return PhotoexcitedMetal(
        _band(cfg), mu=mu, T=cfg.T, omega_p=cfg.omega_p, zeta=cfg.zeta,
        fixed_zeta=cfg.fixed_zeta, gamma_eph=cfg.gamma_eph, gamma_in=cfg.gamma_in,
        tau_ph=cfg.tau_ph, field=cfg.field, points_per_omega=cfg.points_per_omega,
        filling=cfg.filling, transport=cfg.transport, delta_omega=cfg.delta_omega, pump=pump,
        instability=cfg.instability if instability is None else instability,
        tau_maxwell=cfg.tau_maxwell, field_seed=cfg.field_seed)


def run(cfg: PhotoexcitedConfig, context: RunContext) -> xr.Dataset:
    """Run the config: a steady state, the periodic limit (Eq. 8) or a time evolution."""
    if cfg.task == "periodic-limit":
        model = build_model(cfg)
        ds = periodic_limit(model.band, mu=model.mu, T=cfg.T, omega_p=cfg.omega_p,
                            points_per_omega=cfg.points_per_omega, transport=cfg.transport)
    elif cfg.task == "steady-state":
        ds = build_model(cfg).steady_state(tol=cfg.solver.tol)
    else:
        model = build_model(cfg)
        s = cfg.solver
        resume = context.resume_from
        if resume is not None and "f" not in resume:
            resume = None  # a checkpoint without f (store_distributions = false): start anew
        ds = model.evolve(cfg.run.t_end, cfg.run.n_out, rtol=s.rtol, atol=s.atol,
                          method=s.method, resume=resume, callback=context.checkpoint,
                          progress=context.progress)
        if cfg.instability and cfg.compare_without_instability:
            free = build_model(cfg, instability=False).evolve(
                cfg.run.t_end, cfg.run.n_out, rtol=s.rtol, atol=s.atol, method=s.method)
            ds["sigma_free"] = free["sigma"].assign_attrs(
                long_name="conductivity sigma/sigma_0 without the instability")
            ds["f_free"] = free["f"].assign_attrs(
                long_name="electron distribution f without the instability")
    if not cfg.store_distributions:
        ds = ds.drop_dims("eps")
    ds.attrs["model"] = "photoexcited"
    return ds


# --------------------------------------------------------------------------------------------
# plots


def _label(da: xr.DataArray) -> str:
    return f"{da.attrs.get('long_name', da.name)} ({da.attrs.get('units', '')})"


def _extra_dims(ds: xr.Dataset) -> list[str]:
    return [d for d in ds["sigma"].dims if d != "t"]


def plot(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Figures of a result: distributions (Figs. 1, 5), σ vs a swept parameter (Figs. 2, 6),
    or the time traces of a pulse (Fig. 3)."""
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    paths: list[Path] = []
    swept = _extra_dims(ds)
    if swept:
        paths.append(_plot_sweep(ds, swept, out_dir))
        if "f" in ds and "t" not in ds.dims:
            paths.append(_plot_distributions_swept(ds, swept, out_dir))
        return paths
    if "t" not in ds.dims:
        fig = Figure(figsize=(6, 3.8), layout="constrained")
        ax = fig.subplots()
        _plot_distribution(ax, ds, ds["f"] if "f" in ds else None)
        title = (f"{ds.attrs.get('band', '')}: ω_p/W = {ds.attrs.get('omega_p', 0):.3g}, "
                 f"σ/σ_0 = {float(ds['sigma']):.3g}")
        ax.set_title(title, fontsize=9)
        path = out_dir / "photoexcited_distribution.png"
        fig.savefig(path, dpi=100)
        return [path]
    fig = Figure(figsize=(10, 7), layout="constrained")
    (ax1, ax2), (ax3, ax4) = fig.subplots(2, 2)
    t = ds["t"]
    ax1.plot(t, ds["sigma"], label="σ/σ_0")
    if "sigma_free" in ds:
        ax1.plot(t, ds["sigma_free"], "--", label="σ/σ_0 without instability")
    ax1.axhline(0, color="k", lw=0.5)
    ax1.set_xlabel("Γ_eph t")
    ax1.set_ylabel("σ/σ_0")
    zeta = ds["zeta"]
    zmax = float(zeta.max())
    ax1b = ax1.twinx()
    ax1b.plot(t, zeta / (zmax if zmax > 0 else 1), color="tab:red", label="ζ/ζ_max")
    ax1b.set_ylabel("ζ/ζ_max", color="tab:red")
    ax1.legend(fontsize=8, loc="center right")
    ax2.plot(t, ds["field"])
    ax2.set_xlabel("Γ_eph t")
    ax2.set_ylabel(_label(ds["field"]))
    ax2.set_title("internal field E*(t)" if ds.attrs.get("instability") else "field", fontsize=9)
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
        k = int(np.argmin(np.abs(t.to_numpy() - min(5.0, float(t[-1])))))
        _plot_distribution(ax4, ds, ds["f"].isel(t=k), label=f"f at Γt = {float(t[k]):.3g}")
        if "f_free" in ds:
            ax4.plot(ds["eps"], ds["f_free"].isel(t=k), "r--", lw=1, label="f without E*")
            ax4.legend(fontsize=7)
    path = out_dir / "photoexcited_evolution.png"
    fig.savefig(path, dpi=100)
    return [path]


def _plot_distribution(ax: Any, ds: xr.Dataset, f: xr.DataArray | None, label: str = "f"
                       ) -> None:
    eps = ds["eps"]
    dos_f = float(ds.attrs.get("dos_fermi", 1.0)) or 1.0
    if f is not None:
        ax.plot(eps, f, color="tab:blue", label=label)
    ax.plot(eps, ds["f_T"], "r--", lw=1, label="f_T")
    ax.plot(eps, ds["dos"] / dos_f, "c-.", lw=1, label="D/D_F")
    if float((ds["dos"] / dos_f).max()) > 2.5:  # edge singularities (1D band): keep f readable
        ax.set_ylim(-0.05, 2.5)
    ax.set_xlabel("ε/W")
    ax.legend(fontsize=8)


def _plot_sweep(ds: xr.Dataset, swept: list[str], out_dir: Path) -> Path:
    from matplotlib.figure import Figure

    sigma = ds["sigma"]
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    lines = int(np.prod([ds.sizes[d] for d in swept]))
    if "t" in sigma.dims and ds.sizes["t"] > 2 and lines <= 6:  # time traces (Fig. 3a)
        stacked = sigma.stack(_line=swept)
        for k in range(stacked.sizes["_line"]):
            line = stacked.isel(_line=k)
            label = ", ".join(f"{d} = {line[d].item()}" for d in swept)
            ax.plot(ds["t"], line, label=label)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("Γ_eph t")
        ax.set_ylabel("σ/σ_0")
        ax.legend(fontsize=8)
        if "zeta" in ds and "t" in ds["zeta"].dims:  # ζ/ζ_max dashed (Fig. 3a, red)
            zeta = ds["zeta"].stack(_line=swept)
            twin = ax.twinx()
            for k in range(zeta.sizes["_line"]):
                line = zeta.isel(_line=k)
                top = float(line.max())
                twin.plot(ds["t"], line / (top if top > 0 else 1.0), "--", lw=0.8,
                          color="tab:red")
            twin.set_ylabel("ζ/ζ_max (dashed)", color="tab:red")
        path = out_dir / "photoexcited_sweep_sigma.png"
        fig.savefig(path, dpi=100)
        return path
    if "t" in sigma.dims:
        sigma = sigma.isel(t=-1)
    x = swept[0]
    others = [d for d in swept[1:]]
    if others:
        stacked = sigma.stack(_line=others) if len(others) > 1 else sigma.rename(
            {others[0]: "_line"})
        for k in range(stacked.sizes["_line"]):
            line = stacked.isel(_line=k)
            label = ", ".join(f"{d} = {line[d].item() if d in line.coords else k}"
                              for d in others) if len(others) > 1 else (
                f"{others[0]} = {stacked['_line'][k].item()}")
            ax.plot(ds[x], line, marker=".", ms=3, label=label)
        ax.legend(fontsize=8)
    else:
        ax.plot(ds[x], sigma, marker=".", ms=3)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel(x)
    ax.set_ylabel("σ/σ_0" + (" at t_end" if "t" in ds["sigma"].dims else ""))
    ax.set_title(f"{ds.attrs.get('band', '')}", fontsize=9)
    path = out_dir / "photoexcited_sweep_sigma.png"
    fig.savefig(path, dpi=100)
    return path


def _plot_distributions_swept(ds: xr.Dataset, swept: list[str], out_dir: Path) -> Path:
    from matplotlib.figure import Figure

    stacked = ds.stack(_point=swept)
    n = stacked.sizes["_point"]
    fig = Figure(figsize=(5 * min(n, 3), 3.6 * math.ceil(n / 3)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(math.ceil(n / 3), min(n, 3))).ravel()
    for k in range(n):
        point = stacked.isel(_point=k).dropna("eps", subset=["dos"])
        _plot_distribution(axes[k], point, point["f"])
        axes[k].set_title(", ".join(f"{d} = {point[d].item()}" for d in swept)
                          + f": σ/σ_0 = {float(point['sigma']):.3g}", fontsize=8)
    path = out_dir / "photoexcited_sweep_distributions.png"
    fig.savefig(path, dpi=100)
    return path


def summary(ds: xr.Dataset) -> str:
    """A few lines: task, parameters and σ/σ_0."""
    a = ds.attrs
    values = [f"{label} = {float(a[key]):.4g} W" for key, label in
              (("mu", "μ"), ("T", "T"), ("omega_p", "ω_p")) if key in a]  # not when swept
    head = f"photoexcited ({a.get('task', '?')}): {a.get('band', '')}, " + ", ".join(values)
    sigma = ds["sigma"]
    if _extra_dims(ds):
        s = sigma.isel(t=-1) if "t" in sigma.dims else sigma
        return head + f"\n  sweep over {', '.join(_extra_dims(ds))}: σ/σ_0 from " \
                      f"{float(s.min()):.4g} to {float(s.max()):.4g}"
    if "t" in ds.dims:
        return head + (f"\n  σ/σ_0: min {float(sigma.min()):.4g}, at t_end {float(sigma[-1]):.4g};"
                       f" ζ max {float(ds['zeta'].max()):.4g}; number drift "
                       f"{float(abs(ds['number'] - ds['number'][0]).max()):.2g}")
    return head + f"\n  σ/σ_0 = {float(sigma):.6g}, number = {float(ds['number']):.12g}"


JOB = register_job(Job(
    name="photoexcited",
    config_model=PhotoexcitedConfig,
    run=run,
    plot=plot,
    summary=summary,
    description="electrons with a pumped phonon mode: negative conductivity (seed 004)",
))
