"""The ``superconductor`` job: config schema, run, plots and summary for the CLI.

Config units (bare numbers): temperatures K, energies µeV, times ns, volumes µm³, power W.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field

from boltzphlow.jobs import Job, RunContext, register_job
from boltzphlow.kinetics.superconductor.model import QPPhononModel
from boltzphlow.kinetics.superconductor.sources import Injection, PhotonHit
from boltzphlow.units import Quantity

#: 1 W in µeV/ns.
WATT_IN_UEV_PER_NS = 1e-9 / 1.602176634e-25


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GridConfig(_Strict):
    """Energy grid: the step actually used divides 2Δ exactly (it is never larger)."""

    energy_step: Quantity("ueV", positive=True) = 2.0
    E_max: Quantity("ueV", positive=True) = 1500.0
    omega_max: Quantity("ueV", positive=True) | None = None


class PhotonConfig(_Strict):
    """A photon absorbed at t = 0, deposited as a QP packet at ``epsilon0``."""

    energy: Quantity("ueV", positive=True) = 1e6
    epsilon0: Quantity("ueV", positive=True) = 700.0
    width: Quantity("ueV", positive=True) = 20.0


class InjectionConfig(_Strict):
    """Continuous QP injection of ``power`` (into the whole ``volume``) at ``epsilon0``."""

    power: Quantity("W", nonnegative=True) = 1e-15
    epsilon0: Quantity("ueV", positive=True) = 700.0
    width: Quantity("ueV", positive=True) = 20.0


class RunConfig(_Strict):
    """Output times of a time evolution: 0, then ``n_out − 1`` times up to ``t_end``."""

    t_end: Quantity("ns", positive=True) = 1e6
    n_out: int = Field(81, ge=2)
    spacing: Literal["log", "linear"] = "log"
    t_first: Quantity("ns", positive=True) | None = None


class SolverConfig(_Strict):
    """Time integrator (registry name) and its options (``dt``: relaxation step, default
    1/μ of the state at each output interval; first step of the adaptive schemes)."""

    method: Literal["bdf", "rosenbrock", "relaxation", "rk45", "dop853"] = "bdf"
    rtol: float = Field(1e-6, gt=0, lt=1)
    atol: float = Field(1e-14, gt=0)
    dt: Quantity("ns", positive=True) | None = None
    order: int = Field(1, ge=1, le=3)
    tol: float = Field(1e-10, gt=0, lt=1)  # steady state: relative residual



class SuperconductorConfig(_Strict):
    """Whole config file of the ``superconductor`` model."""

    model: Literal["superconductor"]
    task: Literal["evolve", "steady-state"] = "evolve"
    material: str = "Al"
    T_bath: Quantity("K", nonnegative=True) = 0.1
    gap: Literal["fixed", "self-consistent"] = "fixed"
    delta: Quantity("ueV", positive=True) | None = None
    dynes: Quantity("ueV", nonnegative=True) = 0.0
    escape_time: Quantity("ns", positive=True) | None = None
    volume: Quantity("um^3", positive=True) = 10.0
    grid: GridConfig = GridConfig()
    photon: PhotonConfig | None = None
    injection: InjectionConfig | None = None
    run: RunConfig = RunConfig()
    solver: SolverConfig = SolverConfig()


def build_model(cfg: SuperconductorConfig) -> QPPhononModel:
    """The :class:`QPPhononModel` a config describes (``ValueError`` on bad physics)."""
    photon = None if cfg.photon is None else PhotonHit(
        energy=cfg.photon.energy, volume=cfg.volume, epsilon0=cfg.photon.epsilon0,
        width=cfg.photon.width)
    injection = None if cfg.injection is None else Injection(
        power=cfg.injection.power * WATT_IN_UEV_PER_NS / cfg.volume,
        epsilon0=cfg.injection.epsilon0, width=cfg.injection.width)
    return QPPhononModel(cfg.material, T_bath=cfg.T_bath, energy_step=cfg.grid.energy_step,
                         E_max=cfg.grid.E_max, gap=cfg.gap, delta=cfg.delta,
                         escape_time=cfg.escape_time, omega_max=cfg.grid.omega_max,
                         dynes=cfg.dynes, photon=photon, injection=injection)


def run(cfg: SuperconductorConfig, context: RunContext) -> xr.Dataset:
    """Run the config: a time evolution (checkpointed, resumable) or a steady state."""
    model = build_model(cfg)
    s = cfg.solver
    if cfg.task == "steady-state":
        return model.steady_state(tol=s.tol)
    options: dict = {"rtol": s.rtol, "atol": s.atol}
    if s.method == "relaxation":
        options.update(dt=s.dt, order=s.order)
    elif s.dt is not None:
        options["dt0"] = s.dt
    t_out = model.output_times(cfg.run.t_end, cfg.run.n_out, cfg.run.spacing, cfg.run.t_first)
    return model.evolve(t_out=t_out, method=s.method, resume=context.resume_from,
                        callback=context.checkpoint, progress=context.progress, **options)


def _pick_times(ds: xr.Dataset, count: int = 6) -> list[int]:
    nt = ds.sizes["t"]
    if nt <= count:
        return list(range(nt))
    idx = np.unique(np.round(np.geomspace(1, nt - 1, count - 1)).astype(int))
    return [0, *idx.tolist()]


def plot(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Figures of a result: distributions and the time traces (or the steady state)."""
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    if "t" not in ds.dims:
        fig = Figure(figsize=(9, 3.6), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        _plot_dist(ax1, ds.E, ds.f.where(ds.states > 0), "steady state", ds.f)
        _plot_dist(ax2, ds.omega, ds.n, "steady state", ds.n)
        fig.suptitle(f"{ds.attrs.get('material', '')}: steady state under injection")
        path = out_dir / "superconductor_steady_state.png"
        fig.savefig(path, dpi=110)
        return [path]
    fig = Figure(figsize=(10, 7.5), layout="constrained")
    (ax1, ax2), (ax3, ax4) = fig.subplots(2, 2)
    for k in _pick_times(ds):
        lab = f"t = {float(ds.t[k]):.3g} ns"
        _plot_dist(ax1, ds.E, ds.f[k].where(ds.states > 0), lab, ds.f)
        _plot_dist(ax2, ds.omega, ds.n[k], lab, ds.n)
    ax1.legend(fontsize=7)
    t = ds.t[1:]
    ax3.loglog(t, ds.qp_density[1:], label=ds.qp_density.long_name)
    ax3.set_xlabel(f"{ds.t.long_name} ({ds.t.units})")
    ax3.set_ylabel(f"QP density ({ds.qp_density.units})")
    ax3b = ax3.twinx()
    ax3b.semilogx(t, ds.T_qp[1:], "C1--", label="T_qp")
    ax3b.semilogx(t, ds.T_phonon[1:], "C2:", label="T_phonon")
    ax3b.set_ylabel("effective temperature (K)")
    ax3b.legend(fontsize=7, loc="upper right")
    for name in ("electron_energy", "phonon_energy", "energy_escaped"):
        ax4.semilogx(t, ds[name][1:], label=name.replace("_", " "))
    ax4.set_xlabel(f"{ds.t.long_name} ({ds.t.units})")
    ax4.set_ylabel(f"energy ({ds.phonon_energy.units})")
    ax4.legend(fontsize=7)
    fig.suptitle(f"{ds.attrs.get('material', '')} film, T_bath = {ds.attrs.get('T_bath_K')} K, "
                 f"gap {ds.attrs.get('gap_mode')}")
    path = out_dir / "superconductor_evolution.png"
    fig.savefig(path, dpi=110)
    return [path]


def _plot_dist(ax, x: xr.DataArray, y: xr.DataArray, label: str, ref: xr.DataArray) -> None:
    ax.semilogy(x, y, label=label)
    ax.set_xlabel(f"{x.long_name} ({x.units})")
    ax.set_ylabel(ref.long_name)
    top = float(ref.max())
    if top > 0:
        ax.set_ylim(top * 1e-14, top * 3)


def summary(ds: xr.Dataset) -> str:
    """A few lines describing a result."""
    a = ds.attrs
    head = (f"superconductor: {a.get('material')} at T_bath = {a.get('T_bath_K')} K, gap "
            f"{a.get('gap_mode')}, energy step {float(a.get('energy_step_ueV', 0)):.4g} µeV, "
            f"{ds.sizes['E']} QP bins, {ds.sizes['omega']} phonon energies")
    if "t" not in ds.dims:
        return "\n".join([head, f"steady state in {a.get('iterations')} Newton iterations "
                          f"(relative residual {float(a.get('residual', 0)):.2e}); "
                          f"QP density {float(ds.qp_density):.4g} µm⁻³, "
                          f"T_qp = {float(ds.T_qp):.4g} K, T_phonon = {float(ds.T_phonon):.4g} K"])
    total = ds.electron_energy + ds.phonon_energy + ds.energy_escaped - ds.energy_injected
    drift = float(abs(total - total[0]).max() / max(abs(float(total[0])), 1e-300))
    done = "complete" if int(a.get("complete", 1)) else "PARTIAL (resume with --resume)"
    return "\n".join([
        head,
        f"{a.get('method')}: t = 0 → {float(ds.t[-1]):.4g} ns, {ds.sizes['t']} outputs, {done}",
        f"QP density {float(ds.qp_density[0]):.4g} → {float(ds.qp_density[-1]):.4g} µm⁻³; "
        f"gap {float(ds.delta[0]):.5g} → {float(ds.delta[-1]):.5g} µeV",
        f"energy: phonon {float(ds.phonon_energy[-1]):.4g}, escaped "
        f"{float(ds.energy_escaped[-1]):.4g} µeV/µm³; bookkeeping drift {drift:.1e} (relative)",
    ])


JOB = register_job(Job(
    name="superconductor",
    config_model=SuperconductorConfig,
    run=run,
    plot=plot,
    summary=summary,
    description="quasiparticle-phonon kinetics of a BCS superconductor (seed 003)",
))
