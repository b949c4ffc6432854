"""Figures of a ``geometry`` result or sweep, labelled from the Dataset's own metadata.

One PNG per kind of result present, named ``<stem>_<kind>.png`` (``stem`` is the config's
name) and written by :func:`boltzphlow.plotting.save_figure`: ``ahc`` (σ vs μ, Chern numbers
annotated), ``berry_curvature`` (map with colour bar, Brillouin zone and Weyl nodes), ``bands``
(bands along the k-path, Chern numbers at the bands) and ``chiral`` (CME and chiral-anomaly
coefficients per band and total).

A sweep result (swept keys as leading dimensions, listed in ``attrs["sweep_dims"]``) gets the
same figures with one curve (or one map panel) per finished point, at most
:data:`MAX_CURVES` curves and :data:`MAX_MAPS` maps, evenly chosen; failed points (NaN) are
left out.  Per-point scalars (Chern numbers; σ, α, C at a single μ) are also drawn against the
swept keys, ``<stem>_sweep.png`` (:func:`boltzphlow.plotting.plot_sweep_scalars`).

Uses :class:`matplotlib.figure.Figure` directly (no pyplot state).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from boltzphlow.plotting import axis_label as _label
from boltzphlow.plotting import plot_sweep_scalars, save_figure, sweep_dims

__all__ = ["plot_ahc", "plot_all", "plot_bands", "plot_berry_curvature", "plot_chiral",
           "sweep_points"]

#: Resolution of the saved figures.
DPI = 100
#: Percentile of |Ω| where a curvature map's colour scale is clipped when its peak is singular.
CLIP_PERCENTILE = 99.0
#: Most sweep points drawn as curves in one figure, and as map panels.
MAX_CURVES = 8
MAX_MAPS = 6

Points = list[tuple[str, xr.Dataset]]


def _chern_value(value: float) -> str:
    """A Chern number as an integer when it is one (to 1e-3), else with 3 decimals."""
    return f"{value:+.0f}" if abs(value - round(value)) < 1e-3 else f"{value:+.3f}"


def _chern_plane(ds: xr.Dataset) -> str:
    """`` on the plane f_2 = 0.5`` for the Chern numbers of a 3D model, else ``""``."""
    attrs = ds["chern_number"].attrs
    if "normal_axis" not in attrs:
        return ""
    return f" (plane f{int(attrs['normal_axis'])} = {float(attrs['k_normal']):g})"


def _chern_text(ds: xr.Dataset) -> str | None:
    if "chern_number" not in ds:
        return None
    parts = [f"C{int(b)} = {_chern_value(float(c))}"
             for b, c in zip(ds.chern_band.values, ds.chern_number.values, strict=True)
             if np.isfinite(c)]
    return ("Chern numbers" + _chern_plane(ds) + ": " + ", ".join(parts)) if parts else None


def _title(ds: xr.Dataset) -> str:
    return str(ds.attrs.get("hamiltonian_name", ds.attrs.get("hamiltonian", "")))


# --------------------------------------------------------------------------------------------
# sweep points


def _value_label(ds: xr.Dataset, name: str, value: Any) -> str:
    units = str(ds[name].attrs.get("units", ""))
    units = "" if units in ("", "1", "config units") else f" {units}"
    if isinstance(value, float | np.floating):
        return f"{name} = {float(value):.4g}{units}"
    return f"{name} = {value}{units}"


def sweep_points(ds: xr.Dataset) -> Points | None:
    """``(label, point)`` for every finished point of a sweep result; ``None`` for a run."""
    swept = sweep_dims(ds)
    if not swept:
        return None
    points = []
    for index in np.ndindex(*(ds.sizes[name] for name in swept)):
        point = ds.isel(dict(zip(swept, index, strict=True)))
        if "failed" in point and int(point["failed"]) != 0:
            continue
        label = ", ".join(_value_label(ds, name, point[name].values.item()) for name in swept)
        points.append((label, point))
    return points


def _some(points: Points, limit: int) -> Points:
    """At most ``limit`` points, evenly spread, first and last included."""
    if len(points) <= limit:
        return points
    keep = np.unique(np.round(np.linspace(0, len(points) - 1, limit)).astype(int))
    return [points[i] for i in keep]


def _finite(*arrays: np.ndarray) -> np.ndarray:
    ok = np.ones(np.shape(arrays[0]), dtype=bool)
    for a in arrays:
        ok &= np.isfinite(np.asarray(a, dtype=float))
    return ok


# --------------------------------------------------------------------------------------------
# figures


def plot_ahc(points: Points) -> Any:
    """σ vs μ (one curve per point), with the integer plateaus (2D) and Chern numbers."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    first = points[0][1]
    sigma0 = first["ahc"]
    finite = []
    for i, (label, ds) in enumerate(_some(points, MAX_CURVES)):
        sigma, mu = ds["ahc"].values, ds["mu"].values
        ok = _finite(sigma, mu)
        if not ok.any():
            continue
        finite.append(sigma[ok])
        temperature = float(ds["ahc"].attrs.get("temperature", 0.0))
        ax.plot(mu[ok], sigma[ok], "-" if ok.sum() > 1 else "o", color=f"C{i}",
                label=label or f"T = {temperature:g}")
    quantised = int(first.attrs.get("dim", 2)) == 2 and int(first.attrs.get("lattice_model", 1))
    if quantised and finite:
        values = np.concatenate(finite)
        for level in np.arange(np.floor(values.min() + 1e-6), np.ceil(values.max() - 1e-6) + 1):
            ax.axhline(level, color="0.7", lw=0.8, ls=":")
    ax.set_xlabel(_label(first["mu"]))
    ax.set_ylabel(_label(sigma0, f"σ_{sigma0.attrs.get('component', 'xy')}"))
    text = _chern_text(first) if len(points) == 1 else None
    if text:
        ax.text(0.02, 0.97, text, transform=ax.transAxes, va="top", fontsize=9,
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title(f"{sigma0.attrs.get('long_name', 'AHC')}\n{_title(first)}", fontsize=10)
    return fig


def _map_values(ds: xr.Dataset) -> xr.DataArray:
    """The curvature map of one point, without the NaN padding a sweep's outer join adds."""
    omega = ds["berry_curvature"]
    for dim in omega.dims:
        omega = omega.dropna(dim, how="all")
    return omega


def _draw_map(fig: Any, ax: Any, ds: xr.Dataset, omega: xr.DataArray, top: float,
              clipped: bool, title: str) -> Any:
    dim_y, dim_x = omega.dims
    kx, ky = omega[dim_x], omega[dim_y]
    image = ax.imshow(omega.values, origin="lower", cmap="RdBu_r", vmin=-top, vmax=top,
                      extent=(float(kx[0]), float(kx[-1]), float(ky[0]), float(ky[-1])),
                      aspect="equal", interpolation="nearest")
    if "bz_kx" in ds.coords and (dim_x, dim_y) == ("kx", "ky"):
        bx = np.append(ds.bz_kx.values, ds.bz_kx.values[0])
        by = np.append(ds.bz_ky.values, ds.bz_ky.values[0])
        ax.plot(bx, by, "k--", lw=0.8, label="first Brillouin zone")
        ax.legend(loc="upper right", fontsize=7)
    if "weyl_node_chirality" in ds and "k_normal" in omega.attrs:
        normal = ({"kx", "ky", "kz"} - {dim_x, dim_y}).pop()
        for i in range(ds.sizes["node"]):
            x, y = float(ds[f"weyl_node_{dim_x}"][i]), float(ds[f"weyl_node_{dim_y}"][i])
            chi = float(ds.weyl_node_chirality[i])
            off_plane = abs(float(ds[f"weyl_node_{normal}"][i]) - float(omega.k_normal))
            if np.isfinite(chi) and off_plane < 1e-9:
                ax.plot(x, y, "o", ms=7, mfc="none", mec="k")
                ax.annotate(f"χ = {chi:+.0f}", (x, y), xytext=(10, -4),
                            textcoords="offset points", fontsize=8,
                            bbox={"boxstyle": "round", "fc": "white", "ec": "none",
                                  "alpha": 0.8})
    ax.set_xlabel(_label(kx))
    ax.set_ylabel(_label(ky))
    ax.set_title(title, fontsize=9)
    return image


def plot_berry_curvature(points: Points) -> Any:
    """Colour map of the Berry curvature (one panel per point), colour bar, BZ and nodes."""
    from matplotlib.figure import Figure

    shown = [(label, ds, _map_values(ds)) for label, ds in _some(points, MAX_MAPS)]
    shown = [item for item in shown if np.isfinite(item[2].values).any()]
    cols = min(3, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig = Figure(figsize=(5.6 if cols == 1 else 4.2 * cols, 4.6 if rows == 1 else 3.6 * rows),
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    values = np.concatenate([omega.values[np.isfinite(omega.values)] for _, _, omega in shown])
    magnitude = np.abs(values)
    peak = float(magnitude.max()) if magnitude.size else 0.0
    # Singular points (Weyl nodes) would wash the map out: clip the colour scale there.
    top = float(np.percentile(magnitude, CLIP_PERCENTILE)) if magnitude.size else 0.0
    clipped = top < 0.5 * peak
    top = (top if clipped else peak) or 1.0
    image = None
    omega0 = shown[0][2]
    for ax, (label, ds, omega) in zip(axes, shown, strict=False):
        title = label if len(points) > 1 else f"{omega0.long_name}\n{_title(ds)}"
        image = _draw_map(fig, ax, ds, omega, top, clipped, title)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    bar = fig.colorbar(image, ax=list(axes[:len(shown)]), shrink=0.9,
                       extend="both" if clipped else "neither")
    note = f"; scale clipped at {CLIP_PERCENTILE:g}th pct." if clipped else ""
    bar.set_label(_label(omega0, "Ω") + note)
    if len(points) > 1:
        fig.suptitle(f"{omega0.long_name}", fontsize=10)
    return fig


def plot_bands(points: Points) -> Any:
    """Band energies along the k-path, corner labels on the axis, Chern numbers at the bands."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    first = points[0][1]
    energy0, distance0 = first["band_energy"], first["path_distance"]
    single = len(points) == 1
    chern = {}
    if single and "chern_number" in first:
        chern = dict(zip(first.chern_band.values.tolist(), first.chern_number.values,
                         strict=True))
    for i, (label, ds) in enumerate(_some(points, MAX_CURVES)):
        distance, energy = ds["path_distance"].values, ds["band_energy"].values
        for band in range(ds.sizes["band"]):
            ok = _finite(distance, energy[:, band])
            if not ok.any():
                continue
            if single:
                text = f"band {band}"
                if band in chern:
                    text += f", C = {_chern_value(float(chern[band]))}{_chern_plane(first)}"
                ax.plot(distance[ok], energy[ok, band], lw=1.5, label=text)
            else:
                ax.plot(distance[ok], energy[ok, band], lw=1.2, color=f"C{i}",
                        label=label if band == 0 else None)
    if chern or first.sizes["band"] <= 8 or not single:
        ax.legend(fontsize=7, loc="best")
    ticks = first["path_tick_distance"].values
    labels = [str(label) for label in first["path_tick_label"].values]
    keep = np.isfinite(ticks)
    for tick in ticks[keep]:
        ax.axvline(tick, color="0.6", lw=0.7)
    ax.set_xticks(ticks[keep], [label for label, k in zip(labels, keep, strict=True) if k])
    ax.set_xlim(np.nanmin(ticks), np.nanmax(ticks))
    ax.set_xlabel(_label(distance0))
    ax.set_ylabel(_label(energy0, "energy"))
    ax.set_title(f"bands along the k-path\n{_title(first)}", fontsize=10)
    return fig


def _chiral_panel(ax: Any, points: Points, per_band_name: str, total_name: str, mu_name: str,
                  name: str) -> None:
    first = points[0][1]
    total0, mu0 = first[total_name], first[mu_name]
    if len(points) == 1:
        per_band, total, mu = first[per_band_name], total0, mu0
        bands = per_band.sizes["band"]
        if mu.size > 1:
            for band in range(bands):
                ax.plot(mu.values, per_band.values[:, band], label=f"band {band}")
            ax.plot(mu.values, total.values, "k--", label="total")
            ax.set_xlabel(_label(mu, "chemical potential μ"))
            ax.legend(fontsize=8)
        else:
            values = [*per_band.values[0], float(total.values[0])]
            names = [f"band {b}" for b in range(bands)] + ["total"]
            ax.bar(names, values, color=[f"C{b}" for b in range(bands)] + ["k"])
            ax.axhline(0.0, color="0.5", lw=0.7)
            ax.set_xlabel(f"μ = {float(mu.values[0]):g} {mu.attrs.get('units', '')}")
    else:
        for i, (label, ds) in enumerate(_some(points, MAX_CURVES)):
            mu, total = ds[mu_name].values, ds[total_name].values
            ok = _finite(mu, total)
            if ok.any():
                ax.plot(mu[ok], total[ok], "o-", ms=3, color=f"C{i}", label=label)
        ax.set_xlabel(_label(mu0, "chemical potential μ"))
        ax.legend(fontsize=7)
    ax.set_ylabel(_label(total0, name))
    temperature = float(total0.attrs.get("temperature", 0.0))
    ax.set_title(f"{name}{'' if len(points) == 1 else ' (total)'}, T = {temperature:g}",
                 fontsize=10)


def plot_chiral(points: Points) -> Any:
    """CME coefficient and chiral-anomaly coefficient per band and total."""
    from matplotlib.figure import Figure

    first = points[0][1]
    panels = [key for key in ("cme_total", "chiral_anomaly_total") if key in first]
    fig = Figure(figsize=(5 * len(panels), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, key in zip(axes, panels, strict=True):
        if key == "cme_total":
            _chiral_panel(ax, points, "cme_per_band", "cme_total", "cme_mu",
                          "CME coefficient α")
        else:
            _chiral_panel(ax, points, "chiral_anomaly_per_band", "chiral_anomaly_total",
                          "anomaly_mu", "chiral-anomaly coefficient C")
    fig.suptitle(_title(first), fontsize=10)
    return fig


def _sweep_scalars(ds: xr.Dataset) -> tuple[xr.Dataset, list[str]]:
    """Per-point scalars of a sweep: Chern number per band, and σ, α, C at a single μ."""
    swept = sweep_dims(ds)
    out = xr.Dataset(coords={name: ds[name] for name in swept}, attrs=dict(ds.attrs))
    names = []
    if "chern_number" in ds:
        for b in ds.chern_band.values:
            name = f"chern_number_band{int(b)}"
            out[name] = ds.chern_number.sel(chern_band=b, drop=True)
            out[name].attrs = {"units": "1", "long_name": f"Chern number of band {int(b)}"}
            names.append(name)
    for var, coord in (("ahc", "mu"), ("cme_total", "cme_mu"),
                       ("chiral_anomaly_total", "anomaly_mu")):
        if var in ds and ds.sizes[coord] == 1:
            out[var] = ds[var].isel({coord: 0}, drop=True)
            names.append(var)
    return out, names


def plot_all(ds: xr.Dataset, out_dir: Path, stem: str) -> list[Path]:
    """Every figure the result (or sweep) has data for, ``<stem>_<kind>.png``; their paths."""
    points = sweep_points(ds)
    sweep = points is not None
    if not sweep:
        points = [("", ds)]
    if not points:
        return []
    first = points[0][1]
    figures = []
    if "ahc" in first:
        figures.append(("ahc", plot_ahc(points)))
    if "berry_curvature" in first:
        figures.append(("berry_curvature", plot_berry_curvature(points)))
    if "band_energy" in first:
        figures.append(("bands", plot_bands(points)))
    if "cme_total" in first or "chiral_anomaly_total" in first:
        figures.append(("chiral", plot_chiral(points)))
    paths = [save_figure(fig, out_dir, stem, kind, dpi=DPI) for kind, fig in figures]
    if sweep:
        scalars, names = _sweep_scalars(ds)
        numeric = all(ds[name].dtype.kind in "iuf" for name in sweep_dims(ds))
        if names and numeric:
            paths.append(plot_sweep_scalars(scalars, out_dir, stem, names=names, kind="sweep"))
    return paths
