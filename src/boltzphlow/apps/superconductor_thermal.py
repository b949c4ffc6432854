"""The ``superconductor_thermal`` job: a table of thermal properties of a superconductor.

κ_s/κ_n (Bardeen, Rickayzen and Tewordt), the heat capacity with the gap term, the
diffusivity and, with a mean free path and a Fermi velocity, κ, D, the Kirchhoff potential
and the relaxation-time κ with the kinetic model's decay time
(:mod:`boltzphlow.kinetics.superconductor.thermal`; M. Li, *Documentation for BoltzPhlow*,
§1.2).  Config units (bare numbers): K, µm, µm/ns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr
from pydantic import Field

from boltzphlow.jobs import Job, RunContext
from boltzphlow.kinetics.superconductor.thermal import ThermalParameters, thermal_table
from boltzphlow.plotting import sweep_dims, sweep_points
from boltzphlow.schema import ConfigModel, config_model, parameter_values

#: The dimension of a single table; any other dimension of a result is swept.
_RUN_DIMS = ("T",)


class _Model(ConfigModel):
    model: Literal["superconductor_thermal"] = Field(
        description="the model: superconductor_thermal", json_schema_extra={"unit": "-"})


class ThermalConfig(config_model(ThermalParameters, "_ThermalKeys", base=_Model)):
    """Whole config file of the ``superconductor_thermal`` model (keys of
    :class:`~boltzphlow.kinetics.superconductor.thermal.ThermalParameters`)."""


def run(cfg: ThermalConfig, context: RunContext) -> xr.Dataset:
    """The table of the config.

    Raises
    ------
    ConfigError
        For a value the physics refuses (an unknown material, T_max ≤ T_min, a mean free
        path without a Fermi velocity), naming its key, before any progress report.
    InputError
        For a material file that cannot be used.
    """
    from boltzphlow.config import ConfigError
    from boltzphlow.errors import InputError
    from boltzphlow.kinetics.superconductor.materials import material

    try:
        params = ThermalParameters(**parameter_values(cfg, ThermalParameters))
        params.temperatures(material(params.material))
    except InputError:
        raise
    except ValueError as exc:
        key, _, reason = str(exc).partition(": ")
        if key not in ThermalConfig.model_fields:
            key, reason = "material", str(exc)
        raise ConfigError(key, reason) from None
    ds = thermal_table(params, progress=context.progress)
    context.progress(1, 1)
    ds.attrs["model"] = "superconductor_thermal"
    return ds


# --------------------------------------------------------------------------------------------
# plots


def _points(ds: xr.Dataset, limit: int = 8) -> list[tuple[str, xr.Dataset]]:
    """``(label, table)`` for up to ``limit`` points of a sweep (failed ones left out)."""
    return sweep_points(ds, sweep_dims(ds, _RUN_DIMS), limit,
                        lambda point: bool(np.isfinite(point["kappa_ratio"].values).any()))


def _reduced(point: xr.Dataset) -> np.ndarray:
    return np.asarray(point["t"].values, dtype=float)


def plot(ds: xr.Dataset, out_dir: Path, stem: str = "superconductor_thermal") -> list[Path]:
    """``<stem>_ratios.png``: κ_s/κ_n and C_s/C_n against T/Tc with the BRT table values and
    the BCS jump as reference marks (and the relaxation-time κ when computed);
    ``<stem>_diffusivity.png``: D (or D_s/D_n) against T.  A sweep draws one line per point."""
    from matplotlib.figure import Figure

    from boltzphlow.plotting import axis_label, save_figure

    points = _points(ds)
    if not points:
        raise ValueError("no finished point to plot")
    single = len(points) == 1 and not points[0][0]
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for k, (label, point) in enumerate(points):
        color = f"C{k % 10}"
        t = _reduced(point)
        ax1.plot(t, point["kappa_ratio"], "-", color=color,
                 label="κ_s/κ_n (BRT)" if single else label)
        if "kappa_rt_ratio" in point and np.isfinite(point["kappa_rt_ratio"].values).any():
            ax1.plot(t, point["kappa_rt_ratio"], "--", color=color,
                     label="κ_RT/κ_n (decay time)" if single else None)
        ax2.plot(t, point["heat_capacity_ratio"], "-", color=color,
                 label="C_s/C_n" if single else label)
    ax1.plot([0.3, 0.5, 0.7, 0.9], [0.083, 0.408, 0.735, 0.952], "ks", ms=5, mfc="none",
             label="BRT (1959) table")
    jump = 1 + 12 / (7 * 1.2020569031595942)
    ax2.plot([1.0, 1.0], [1.0, jump], "k:", lw=1)
    ax2.plot([1.0], [jump], "k_", ms=12, label="BCS jump 2.426")
    ax2.axhline(1.0, color="0.6", lw=0.8)
    for ax, name in ((ax1, "thermal conductivity ratio"), (ax2, "heat capacity ratio")):
        ax.set_xlabel("T/Tc")
        ax.set_ylabel(name)
        ax.legend(fontsize=7)
    fig.suptitle(f"{ds.attrs.get('material', '')}: gap model {ds.attrs.get('gap_model', '')}, "
                 f"Tc = {float(ds.attrs.get('Tc_K', np.nan)):.4g} K")
    paths = [save_figure(fig, out_dir, stem, "ratios")]
    fig = Figure(figsize=(5.5, 4), layout="constrained")
    ax = fig.subplots()
    name = "diffusivity" if "diffusivity" in ds else "diffusivity_ratio"
    for k, (label, point) in enumerate(points):
        ax.plot(point["T"], point[name], "-", color=f"C{k % 10}", label=label or None)
    ax.set_xlabel(axis_label(ds["T"]))
    ax.set_ylabel(axis_label(ds[name]))
    if not single:
        ax.legend(fontsize=7)
    paths.append(save_figure(fig, out_dir, stem, "diffusivity"))
    return paths


# --------------------------------------------------------------------------------------------
# summary


def summary(ds: xr.Dataset) -> str:
    """A few lines: Tc, κ_s/κ_n at the BRT points, the jump, the diffusivity range."""
    swept = sweep_dims(ds, _RUN_DIMS)
    if swept:
        lines = [f"superconductor_thermal sweep over {', '.join(swept)}"]
        lines += [f"  {label}: {_line(point)}" for label, point in _points(ds)]
        return "\n".join(lines)
    a = ds.attrs
    head = (f"superconductor_thermal: {a.get('material')}, gap {a.get('gap_model')}, Tc = "
            f"{float(a.get('Tc_K', np.nan)):.5g} K, {ds.sizes['T']} temperatures "
            f"{float(ds['T'][0]):.4g}–{float(ds['T'][-1]):.4g} K")
    return "\n".join([head, _line(ds)])


def _line(ds: xr.Dataset) -> str:
    t = np.asarray(ds["t"].values, dtype=float)
    picks = [(x, float(np.interp(x, t, ds["kappa_ratio"].values))) for x in (0.3, 0.5, 0.7, 0.9)
             if t.min() <= x <= t.max()]
    text = "κ_s/κ_n " + (", ".join(f"{v:.3f} at T/Tc = {x:g}" for x, v in picks)
                         if picks else "outside 0.3–0.9 Tc")
    below = ds["heat_capacity_ratio"].values[t < 1]
    if below.size:
        text += f"; largest C_s/C_n {float(np.max(below)):.4f}"
    if "diffusivity" in ds:
        d = ds["diffusivity"].values
        text += f"; D {float(np.nanmin(d)):.4g}–{float(np.nanmax(d)):.4g} µm²/ns"
    if "kappa_rt_ratio" in ds and np.isfinite(ds["kappa_rt_ratio"].values).any():
        dev = ds["kappa_rt_ratio"].values / ds["kappa_ratio"].values - 1
        text += f"; relaxation-time κ departs from BRT by up to {np.nanmax(np.abs(dev)):.2%}"
    return text


JOB = Job(
    name="superconductor_thermal",
    config_model=ThermalConfig,
    run=run,
    plot=plot,
    summary=summary,
    description="thermal conductivity, heat capacity and diffusivity of a BCS superconductor "
                "(BRT 1959; M. Li, Documentation for BoltzPhlow §1.2)",
)
