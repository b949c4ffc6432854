"""Figures of a ``geometry`` result, labelled from the Dataset's own metadata.

One PNG per kind of result present, named ``geometry_<hamiltonian>_<kind>.png``: ``ahc`` (σ vs
μ, Chern numbers annotated), ``berry_curvature`` (map with colour bar, Brillouin zone and Weyl
nodes), ``bands`` (bands along the k-path, Chern numbers at the bands) and ``chiral`` (CME and
chiral-anomaly coefficients per band and total).
Uses :class:`matplotlib.figure.Figure` directly (no pyplot state).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["plot_ahc", "plot_all", "plot_bands", "plot_berry_curvature", "plot_chiral"]

#: Resolution of the saved figures.
DPI = 100
#: Percentile of |Ω| where a curvature map's colour scale is clipped when its peak is singular.
CLIP_PERCENTILE = 99.0


def _label(var: xr.DataArray, name: str | None = None) -> str:
    """``"long name (units)"`` (no parentheses for dimensionless ``"1"``)."""
    text = name or str(var.attrs.get("long_name", var.name))
    units = str(var.attrs.get("units", ""))
    return text if units in ("", "1") else f"{text} ({units})"


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
             for b, c in zip(ds.chern_band.values, ds.chern_number.values, strict=True)]
    return "Chern numbers" + _chern_plane(ds) + ": " + ", ".join(parts)


def _title(ds: xr.Dataset) -> str:
    return str(ds.attrs.get("hamiltonian_name", ds.attrs.get("hamiltonian", "")))


def plot_ahc(ds: xr.Dataset, path: Path) -> Path:
    """σ vs μ, with the integer plateaus (2D) and the Chern numbers annotated."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    sigma, mu = ds["ahc"], ds["mu"]
    style = "-" if mu.size > 1 else "o"
    ax.plot(mu.values, sigma.values, style, color="C0",
            label=f"T = {float(sigma.attrs.get('temperature', 0.0)):g}")
    quantised = int(ds.attrs.get("dim", 2)) == 2 and int(ds.attrs.get("lattice_model", 1))
    if quantised and np.all(np.isfinite(sigma.values)):
        lo, hi = np.floor(sigma.values.min()), np.ceil(sigma.values.max())
        for level in np.arange(lo, hi + 1):
            ax.axhline(level, color="0.7", lw=0.8, ls=":")
    ax.set_xlabel(_label(mu))
    ax.set_ylabel(_label(sigma, f"σ_{sigma.attrs.get('component', 'xy')}"))
    text = _chern_text(ds)
    if text:
        ax.text(0.02, 0.97, text, transform=ax.transAxes, va="top", fontsize=9,
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{sigma.attrs.get('long_name', 'AHC')}\n{_title(ds)}", fontsize=10)
    fig.savefig(path, dpi=DPI)
    return path


def plot_berry_curvature(ds: xr.Dataset, path: Path) -> Path:
    """Colour map of the Berry curvature with a colour bar, the BZ outline and Weyl nodes."""
    from matplotlib.figure import Figure

    omega = ds["berry_curvature"]
    dim_y, dim_x = omega.dims
    kx, ky = ds[dim_x], ds[dim_y]
    fig = Figure(figsize=(5.6, 4.6), layout="constrained")
    ax = fig.subplots()
    magnitude = np.abs(omega.values[np.isfinite(omega.values)])
    peak = float(magnitude.max()) if magnitude.size else 0.0
    # Singular points (Weyl nodes) would wash the map out: clip the colour scale there.
    top = float(np.percentile(magnitude, CLIP_PERCENTILE)) if magnitude.size else 0.0
    clipped = top < 0.5 * peak
    top = (top if clipped else peak) or 1.0
    image = ax.imshow(omega.values, origin="lower", cmap="RdBu_r", vmin=-top, vmax=top,
                      extent=(float(kx[0]), float(kx[-1]), float(ky[0]), float(ky[-1])),
                      aspect="equal", interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, shrink=0.9, extend="both" if clipped else "neither")
    note = f"; scale clipped at {CLIP_PERCENTILE:g}th pct." if clipped else ""
    bar.set_label(_label(omega, "Ω") + note)
    if "bz_kx" in ds.coords and (dim_x, dim_y) == ("kx", "ky"):
        bx = np.append(ds.bz_kx.values, ds.bz_kx.values[0])
        by = np.append(ds.bz_ky.values, ds.bz_ky.values[0])
        ax.plot(bx, by, "k--", lw=0.8, label="first Brillouin zone")
        ax.legend(loc="upper right", fontsize=7)
    if "weyl_node_chirality" in ds and "k_normal" in omega.attrs:
        normal = ({"kx", "ky", "kz"} - {dim_x, dim_y}).pop()
        for i in range(ds.sizes["node"]):
            x, y = float(ds[f"weyl_node_{dim_x}"][i]), float(ds[f"weyl_node_{dim_y}"][i])
            chi = int(ds.weyl_node_chirality[i])
            off_plane = abs(float(ds[f"weyl_node_{normal}"][i]) - float(omega.k_normal))
            if off_plane < 1e-9:
                ax.plot(x, y, "o", ms=7, mfc="none", mec="k")
                ax.annotate(f"χ = {chi:+d}", (x, y), xytext=(10, -4), textcoords="offset points",
                            fontsize=8, bbox={"boxstyle": "round", "fc": "white", "ec": "none",
                                              "alpha": 0.8})
    ax.set_xlabel(_label(kx))
    ax.set_ylabel(_label(ky))
    ax.set_title(f"{omega.long_name}\n{_title(ds)}", fontsize=10)
    fig.savefig(path, dpi=DPI)
    return path


def plot_bands(ds: xr.Dataset, path: Path) -> Path:
    """Band energies along the k-path, corner labels on the axis, Chern numbers at the bands."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    energy, distance = ds["band_energy"], ds["path_distance"]
    chern = {}
    if "chern_number" in ds:
        chern = dict(zip(ds.chern_band.values.tolist(), ds.chern_number.values, strict=True))
    for band in range(ds.sizes["band"]):
        label = f"band {band}"
        if band in chern:
            label += f", C = {_chern_value(float(chern[band]))}{_chern_plane(ds)}"
        ax.plot(distance.values, energy.values[:, band], lw=1.5, label=label)
    if chern or ds.sizes["band"] <= 8:
        ax.legend(fontsize=8, loc="best")
    ticks = ds["path_tick_distance"].values
    for tick in ticks:
        ax.axvline(tick, color="0.6", lw=0.7)
    ax.set_xticks(ticks, [str(label) for label in ds["path_tick_label"].values])
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_xlabel(_label(distance))
    ax.set_ylabel(_label(energy, "energy"))
    ax.set_title(f"bands along the k-path\n{_title(ds)}", fontsize=10)
    fig.savefig(path, dpi=DPI)
    return path


def _chiral_panel(ax, per_band: xr.DataArray, total: xr.DataArray, mu: xr.DataArray,
                  name: str) -> None:
    bands = per_band.sizes["band"]
    if mu.size > 1:
        for band in range(bands):
            ax.plot(mu.values, per_band.values[:, band], label=f"band {band}")
        ax.plot(mu.values, total.values, "k--", label="total")
        ax.set_xlabel(_label(mu, "chemical potential μ"))
    else:
        values = [*per_band.values[0], float(total.values[0])]
        names = [f"band {b}" for b in range(bands)] + ["total"]
        ax.bar(names, values, color=[f"C{b}" for b in range(bands)] + ["k"])
        ax.axhline(0.0, color="0.5", lw=0.7)
        ax.set_xlabel(f"μ = {float(mu.values[0]):g} {mu.attrs.get('units', '')}")
    ax.set_ylabel(_label(total, name))
    if mu.size > 1:
        ax.legend(fontsize=8)
    ax.set_title(f"{name}, T = {float(total.attrs.get('temperature', 0.0)):g}", fontsize=10)


def plot_chiral(ds: xr.Dataset, path: Path) -> Path:
    """CME coefficient and chiral-anomaly coefficient per band and total."""
    from matplotlib.figure import Figure

    panels = [key for key in ("cme_total", "chiral_anomaly_total") if key in ds]
    fig = Figure(figsize=(5 * len(panels), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, key in zip(axes, panels, strict=True):
        if key == "cme_total":
            _chiral_panel(ax, ds.cme_per_band, ds.cme_total, ds.cme_mu, "CME coefficient α")
        else:
            _chiral_panel(ax, ds.chiral_anomaly_per_band, ds.chiral_anomaly_total,
                          ds.anomaly_mu, "chiral-anomaly coefficient C")
    fig.suptitle(_title(ds), fontsize=10)
    fig.savefig(path, dpi=DPI)
    return path


def plot_all(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Every figure the result has data for; returns their paths."""
    stem = f"geometry_{ds.attrs.get('hamiltonian', 'model')}"
    out_dir = Path(out_dir)
    paths = []
    if "ahc" in ds:
        paths.append(plot_ahc(ds, out_dir / f"{stem}_ahc.png"))
    if "berry_curvature" in ds:
        paths.append(plot_berry_curvature(ds, out_dir / f"{stem}_berry_curvature.png"))
    if "band_energy" in ds:
        paths.append(plot_bands(ds, out_dir / f"{stem}_bands.png"))
    if "cme_total" in ds or "chiral_anomaly_total" in ds:
        paths.append(plot_chiral(ds, out_dir / f"{stem}_chiral.png"))
    return paths
