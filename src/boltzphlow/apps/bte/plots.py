"""Figures of a ``bte`` result or sweep, labelled from the Dataset's own metadata.

One PNG per kind of result present, ``<stem>_<kind>.png`` (:func:`boltzphlow.plotting.save_figure`):

* ``resistivity``: ρ_ii(T) on log-log axes with the Bloch–Grüneisen temperature marked and
  guides ∝ T and ∝ T⁴ (task ``resistivity_vs_T``);
* ``magnetoconductivity``: σ_ii(B), the field-induced off-diagonal σ_ij(B) - σ_ij(B₀) (Hall,
  planar Hall; the intrinsic Hall term removed) and the magnetoresistance
  ρ_ii(B)/ρ_ii(B₀) - 1, B₀ the smallest field (task ``magnetoconductivity``);
* ``sigma``: the tensor σ_ij with its values (task ``conductivity``);
* ``distribution``: the Fermi-surface states in k-space coloured by δf for a unit field along
  each axis (when stored);
* a sweep: σ_ii and ρ_ii against the first swept key, one line per component (``sweep``),
  or the ρ(T) / σ(B) curves of every finished point.

Uses :class:`matplotlib.figure.Figure` directly (no pyplot state).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from boltzphlow.plotting import save_figure, sweep_dims

__all__ = ["plot_all"]

AXES = ("x", "y", "z")


def _unit(da: xr.DataArray) -> str:
    u = str(da.attrs.get("units", ""))
    return "" if u in ("", "1", "-") else f" ({u})"


def _title(ds: xr.Dataset) -> str:
    a = ds.attrs
    name = str(a.get("hamiltonian_name", a.get("hamiltonian", "")))
    return name + (f", μ = {float(a['mu']):g}" if "mu" in a else "")


def plot_all(ds: xr.Dataset, out_dir: Path, stem: str) -> list[Path]:
    """Every figure the result holds data for (see the module docstring)."""
    swept = sweep_dims(ds)
    paths: list[Path | None] = []
    if swept:
        paths.append(_plot_sweep(ds, swept, out_dir, stem))
        return [p for p in paths if p is not None]
    if "temperature" in ds["sigma"].dims:
        paths.append(_plot_resistivity(ds, out_dir, stem))
    elif "field" in ds["sigma"].dims:
        paths.append(_plot_magneto(ds, out_dir, stem))
    else:
        paths.append(_plot_tensor(ds, out_dir, stem))
    if "fs_delta_f" in ds and np.isfinite(ds["fs_delta_f"].to_numpy()).any():
        paths.append(_plot_distribution(ds, out_dir, stem))
    return [p for p in paths if p is not None]


def _diagonal(ds: xr.Dataset, name: str) -> list[tuple[str, np.ndarray]]:
    da = ds[name]
    return [(f"{AXES[i]}{AXES[i]}", da.isel(i=i, j=i).to_numpy()) for i in range(ds.sizes["i"])]


def _plot_resistivity(ds: xr.Dataset, out_dir: Path, stem: str) -> Path | None:
    from matplotlib.figure import Figure

    t = ds["temperature"].to_numpy()
    fig = Figure(figsize=(6, 4.2), layout="constrained")
    ax = fig.subplots()
    drawn = False
    rho = ds["resistivity"]
    for label, values in _diagonal(ds, "resistivity"):
        ok = np.isfinite(values) & (values > 0)
        if ok.any():
            ax.plot(t[ok], values[ok], "o-", ms=4, label=f"ρ_{label}")
            drawn = True
    if not drawn:
        return None
    first = _diagonal(ds, "resistivity")[0][1]
    ok = np.isfinite(first) & (first > 0)
    if ok.sum() >= 2:  # guides through the highest and lowest temperature
        tt = t[ok]
        hi, lo = np.argmax(tt), np.argmin(tt)
        line = np.geomspace(tt.min(), tt.max(), 50)
        ax.plot(line, first[ok][hi] * line / tt[hi], "k:", lw=0.8, label="∝ T")
        ax.plot(line, first[ok][lo] * (line / tt[lo]) ** 4, "k--", lw=0.8, label="∝ T⁴")
        ax.set_ylim(0.5 * first[ok].min(), 2 * first[ok].max())
    t_bg = ds.attrs.get("bloch_gruneisen_temperature")
    if t_bg is not None and np.isfinite(float(t_bg)):
        ax.axvline(float(t_bg), color="tab:red", lw=1, label=f"T_BG = {float(t_bg):.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("k_B T" + _unit(ds["temperature"]))
    ax.set_ylabel("ρ" + _unit(rho))
    ax.legend(fontsize=8)
    ax.set_title(_title(ds), fontsize=9)
    return save_figure(fig, out_dir, stem, "resistivity")


def _plot_magneto(ds: xr.Dataset, out_dir: Path, stem: str) -> Path | None:
    from matplotlib.figure import Figure

    b = ds["field"].to_numpy()
    d = ds.sizes["i"]
    sigma = ds["sigma"]
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    drawn = False
    for label, values in _diagonal(ds, "sigma"):
        ok = np.isfinite(values)
        if ok.any():
            ax1.plot(b[ok], values[ok], "o-", ms=3, label=f"σ_{label}")
            drawn = True
    if not drawn:
        return None
    ax1.set_xlabel("B" + _unit(ds["field"]))
    ax1.set_ylabel("σ" + _unit(sigma))
    ax1.legend(fontsize=8)
    ax1.set_title("longitudinal", fontsize=9)
    ref = int(np.argmin(np.abs(b)))
    for i in range(d):  # the field-induced part: the intrinsic (B = 0) Hall term removed
        for j in range(i + 1, d):
            values = sigma.isel(i=i, j=j).to_numpy()
            ok = np.isfinite(values)
            if ok.any() and np.isfinite(values[ref]):
                ax2.plot(b[ok], values[ok] - values[ref], "o-", ms=3,
                         label=f"σ_{AXES[i]}{AXES[j]}")
    ax2.axhline(0, color="k", lw=0.5)
    ax2.set_xlabel("B" + _unit(ds["field"]))
    ax2.set_ylabel(f"σ(B) - σ(B = {b[ref]:.3g})" + _unit(sigma))
    ax2.legend(fontsize=8)
    ax2.set_title("Hall and planar Hall", fontsize=9)
    for label, values in _diagonal(ds, "resistivity"):
        base = values[ref]
        ok = np.isfinite(values)
        if ok.any() and np.isfinite(base) and base != 0:
            ax3.plot(b[ok], values[ok] / base - 1, "o-", ms=3, label=f"ρ_{label}")
    ax3.axhline(0, color="k", lw=0.5)
    ax3.set_xlabel("B" + _unit(ds["field"]))
    ax3.set_ylabel(f"ρ(B)/ρ(B = {b[ref]:.3g}) - 1")
    ax3.legend(fontsize=8)
    ax3.set_title("magnetoresistance", fontsize=9)
    direction = ds.attrs.get("field_direction")
    extra = (f", B ∥ ({', '.join(f'{float(x):.2g}' for x in np.atleast_1d(direction))})"
             if direction is not None else "")
    fig.suptitle(_title(ds) + extra, fontsize=9)
    return save_figure(fig, out_dir, stem, "magnetoconductivity")


def _plot_tensor(ds: xr.Dataset, out_dir: Path, stem: str) -> Path | None:
    from matplotlib.figure import Figure

    sigma = ds["sigma"].to_numpy()
    if not np.isfinite(sigma).any():
        return None
    d = sigma.shape[0]
    fig = Figure(figsize=(1.6 * d + 2.5, 1.4 * d + 1.5), layout="constrained")
    ax = fig.subplots()
    top = float(np.nanmax(np.abs(sigma))) or 1.0
    image = ax.imshow(sigma, cmap="RdBu_r", vmin=-top, vmax=top)
    for i in range(d):
        for j in range(d):
            ax.text(j, i, f"{sigma[i, j]:.4g}", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(d), [f"E_{AXES[j]}" for j in range(d)])
    ax.set_yticks(range(d), [f"j_{AXES[i]}" for i in range(d)])
    fig.colorbar(image, ax=ax, label="σ" + _unit(ds["sigma"]))
    ax.set_title(_title(ds), fontsize=9)
    return save_figure(fig, out_dir, stem, "sigma")


def _plot_distribution(ds: xr.Dataset, out_dir: Path, stem: str) -> Path:
    from matplotlib.figure import Figure

    d = ds.sizes["j"]
    names = [f"fs_k{AXES[a]}" for a in range(d) if f"fs_k{AXES[a]}" in ds]
    # the plane shown: (kx, ky) in 2D; in 3D the plane of the field axis and one other
    planes = [(0, 1)] * d if d <= 2 else [(0, 2), (1, 0), (2, 0)]
    fig = Figure(figsize=(4.6 * d, 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, d))
    for j, ax in enumerate(axes):
        df = ds["fs_delta_f"].isel(j=j).to_numpy()
        if len(names) < 2:
            k1 = ds[names[0]].to_numpy()
            ok = np.isfinite(df) & np.isfinite(k1)
            ax.plot(k1[ok], df[ok], ".", ms=2)
            ax.set_xlabel(names[0].removeprefix("fs_"))
            ax.set_ylabel("δf")
            continue
        a, c = planes[j]
        k1, k2 = ds[names[a]].to_numpy(), ds[names[c]].to_numpy()
        ok = np.isfinite(df) & np.isfinite(k1) & np.isfinite(k2)
        top = float(np.max(np.abs(df[ok]))) if ok.any() else 1.0
        points = ax.scatter(k1[ok], k2[ok], c=df[ok], s=4, cmap="RdBu_r", vmin=-top, vmax=top)
        fig.colorbar(points, ax=ax, label="δf" + _unit(ds["fs_delta_f"]))
        ax.set_xlabel(f"k_{AXES[a]}" + _unit(ds[names[a]]))
        ax.set_ylabel(f"k_{AXES[c]}" + _unit(ds[names[c]]))
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(f"unit field along {AXES[j]}", fontsize=9)
    where = []
    if "temperature" in ds.dims:
        where.append(f"T = {float(ds.temperature[0]):.3g}")
    elif "T" in ds.attrs:
        where.append(f"T = {float(ds.attrs['T']):.3g}")
    if "field" in ds.dims:
        where.append(f"B = {float(ds.field[0]):.3g}")
    fig.suptitle("δf on the Fermi surface, " + _title(ds)
                 + (" (" + ", ".join(where) + ")" if where else ""), fontsize=9)
    return save_figure(fig, out_dir, stem, "distribution")


def _plot_sweep(ds: xr.Dataset, swept: list[str], out_dir: Path, stem: str) -> Path | None:
    """σ_ii and ρ_ii against the first swept key (a line per component and value of the
    second key), or, for ρ(T)/σ(B) tasks, one curve per finished point."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    x = swept[0]
    xs = ds[x].to_numpy()
    numeric = xs.dtype.kind in "iuf"
    positions = xs.astype(float) if numeric else np.arange(xs.size, dtype=float)
    inner = [dim for dim in ("temperature", "field") if dim in ds["sigma"].dims]
    drawn = False
    others = [name for name in swept[1:]]
    for index in np.ndindex(*(ds.sizes[o] for o in others)):
        sub = ds.isel(dict(zip(others, index, strict=True)))
        tag = ", ".join(f"{o} = {sub[o].values.item()}" for o in others)
        for ax, name in ((ax1, "sigma"), (ax2, "resistivity")):
            for i in range(ds.sizes["i"]):
                values = sub[name].isel(i=i, j=i)
                comp = f"{'σ' if name == 'sigma' else 'ρ'}_{AXES[i]}{AXES[i]}"
                if inner:  # one curve per swept point against the task's own axis
                    axis = sub[inner[0]].to_numpy()
                    for p in range(ds.sizes[x]):
                        line = values.isel({x: p}).to_numpy()
                        ok = np.isfinite(line)
                        if ok.any():
                            ax.plot(axis[ok], line[ok], ".-", ms=3,
                                    label=f"{comp}, {x} = {xs[p]}" + (f", {tag}" if tag else ""))
                            drawn = True
                    ax.set_xlabel(inner[0] + _unit(ds[inner[0]]))
                else:
                    line = values.transpose(x).to_numpy()
                    ok = np.isfinite(line)
                    if ok.any():
                        ax.plot(positions[ok], line[ok], "o-", ms=3,
                                label=comp + (f", {tag}" if tag else ""))
                        drawn = True
                    ax.set_xlabel(x + _unit(ds[x]))
                    if not numeric:
                        ax.set_xticks(positions, [str(v) for v in xs], rotation=30, fontsize=7)
    if not drawn:
        return None
    ax1.set_ylabel("σ" + _unit(ds["sigma"]))
    ax2.set_ylabel("ρ" + _unit(ds["resistivity"]))
    if inner and inner[0] == "temperature":
        for ax in (ax1, ax2):
            ax.set_xscale("log")
            ax.set_yscale("log")
    for ax in (ax1, ax2):
        handles, labels = ax.get_legend_handles_labels()
        if 0 < len(labels) <= 12:
            ax.legend(fontsize=7)
    failed = int(ds.attrs.get("n_failed", 0))
    fig.suptitle(_title(ds) + (f" ({failed} failed points left out)" if failed else ""),
                 fontsize=9)
    return save_figure(fig, out_dir, stem, "sweep")
