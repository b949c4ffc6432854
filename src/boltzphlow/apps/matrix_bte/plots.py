"""Figures of a ``matrix_bte`` result or sweep, labelled from the Dataset's own metadata.

One PNG per kind of result present, ``<stem>_<kind>.png`` (:func:`boltzphlow.plotting.save_figure`):

* ``variants`` (one point): σ_xx and σ_yx of each variant (full, kinetic corrections off,
  off-diagonal self-energies off, populations only, linewidth-only) as bars, each split into
  its population and coherence parts (Eq. 56 of E. Trukhan and N. H. Protik, "Interband and
  kinetic corrections to the electronic Boltzmann transport equation"); beside σ_yx, where
  compared, the band-diagonal BTE's intrinsic σ_yx, intrinsic + side-jump velocity term
  σ^sj(1) (what the full σ_yx^coh should equal) and intrinsic + both side-jump terms (C.
  Xiao et al., Eq. 8);
* ``coherence_map`` (one point, 2D): the k-points of the window coloured by the population
  Σ_n |δf_nn| and by the coherence |δf_cv| for a unit field along x (full variant);
* ``shares`` (a sweep): σ_xx^coh/σ_xx and the kinetic-correction share against the
  broadening over the gap Γ_F/E_g (Fermi-layer out-scattering rate over the band gap) where
  the sweep moves it, with guides ∝ Γ/E_g and ∝ (Γ/E_g)², else against the first swept key
  (log-log where positive and wide);
* ``hall`` (a sweep, 2D): σ_yx^coh of the full and linewidth-only variants beside the
  intrinsic σ_yx and intrinsic + σ^sj(1); and σ_yx^coh − intrinsic against σ^sj(1) (log-log
  where positive and wide);
* ``sweep`` (a sweep): σ_xx and σ_yx of every variant against the first swept key.

Failed sweep points (NaN) are left out.  Uses :class:`matplotlib.figure.Figure` directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from boltzphlow.plotting import axis_label, save_figure, sweep_dims

__all__ = ["plot_all"]

#: Short labels of the variants.
LABELS = {"full": "full", "no_kinetic": "no kinetic\ncorrections",
          "diagonal_self_energy": "diagonal\nself-energy", "populations_only": "populations\nonly",
          "linewidth_only": "linewidth\nonly"}

#: The paper, short, for titles.
SOURCE = "matrix BTE of Trukhan & Protik"


def _title(ds: xr.Dataset) -> str:
    a = ds.attrs
    name = str(a.get("hamiltonian_name", a.get("hamiltonian", "")))
    mu = f", μ = {float(a['mu']):.4g}" if "mu" in a and not sweep_dims(ds) else ""
    return f"{SOURCE}: {name}{mu}"


def _unit(da: xr.DataArray) -> str:
    u = str(da.attrs.get("units", ""))
    return "" if u in ("", "1", "-") else f" ({u})"


def plot_all(ds: xr.Dataset, out_dir: Path, stem: str) -> list[Path]:
    """Every figure the result holds data for (see the module docstring)."""
    swept = sweep_dims(ds)
    paths: list[Path | None] = []
    if swept:
        paths.append(_plot_sweep(ds, swept, out_dir, stem))
        paths.append(_plot_shares(ds, swept, out_dir, stem))
        if "sigma_yx" in ds:
            paths.append(_plot_hall(ds, swept, out_dir, stem))
    else:
        paths.append(_plot_variants(ds, out_dir, stem))
        if "map_coherence" in ds and "map_ky" in ds:
            paths.append(_plot_map(ds, out_dir, stem))
    return [p for p in paths if p is not None]


# ------------------------------------------------------------------------------ one point
def _plot_variants(ds: xr.Dataset, out_dir: Path, stem: str) -> Path | None:
    from matplotlib.figure import Figure

    variants = [v for v in ds["variant"].to_numpy().tolist()
                if np.isfinite(float(ds["sigma_xx"].sel(variant=v)))]
    if not variants:
        return None
    d = ds.sizes["i"]
    components = [(0, 0, "σ_xx")] + ([(1, 0, "σ_yx")] if d >= 2 else [])
    fig = Figure(figsize=(6.5 * len(components), 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(components)))
    x = np.arange(len(variants))
    width = 0.27
    parts = (("sigma", "total", "tab:blue"), ("sigma_population", "populations", "tab:orange"),
             ("sigma_coherence", "coherences", "tab:green"))
    for ax, (i, j, label) in zip(axes, components, strict=True):
        for k, (name, part, color) in enumerate(parts):
            values = [float(ds[name].sel(variant=v).isel(i=i, j=j)) for v in variants]
            ax.bar(x + (k - 1) * width, values, width, color=color, label=part)
        ticks = [LABELS.get(v, v) for v in variants]
        if label == "σ_yx" and "sigma_yx_intrinsic" in ds:
            intrinsic = float(ds["sigma_yx_intrinsic"])
            velocity = float(ds["sigma_yx_sidejump_velocity"])
            both = float(ds["sigma_yx_sidejump"])
            extra = [(intrinsic, "BTE:\nintrinsic", "0.6"),
                     (intrinsic + velocity, "intrinsic\n+ σ^sj(1)", "tab:red"),
                     (intrinsic + both, "intrinsic\n+ σ^sj(1+2)", "tab:purple")]
            base = len(variants)
            for k, (value, tick, color) in enumerate(extra):
                ax.bar(base + k, value, 2 * width, color=color)
                ticks.append(tick)
            ax.axhline(intrinsic + velocity, color="tab:red", lw=0.8, ls="--",
                       label="intrinsic + σ^sj(1) (Xiao et al. Eq. 8)")
            x_all = np.arange(len(ticks))
        else:
            x_all = x
        ax.set_xticks(x_all, ticks, fontsize=7)
        ax.axhline(0.0, color="k", lw=0.6)
        ax.set_ylabel(label + _unit(ds["sigma"]))
        ax.legend(fontsize=7)
    axes[0].set_title(_title(ds), fontsize=9)
    return save_figure(fig, out_dir, stem, "variants")


def _plot_map(ds: xr.Dataset, out_dir: Path, stem: str) -> Path | None:
    from matplotlib.figure import Figure

    kx, ky = ds["map_kx"].to_numpy(), ds["map_ky"].to_numpy()
    ok = np.isfinite(kx) & np.isfinite(ky)
    if not ok.any():
        return None
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, name, title in ((axes[0], "map_population", "populations Σ_n |δf_nn|"),
                            (axes[1], "map_coherence", "coherence |δf_cv|")):
        values = ds[name].to_numpy()[ok]
        art = ax.scatter(kx[ok], ky[ok], c=values, s=max(2.0, 4e4 / ok.sum()), cmap="viridis",
                         marker="s", linewidths=0)
        fig.colorbar(art, ax=ax, label=axis_label(ds[name], name=title))
        ax.set_aspect("equal")
        ax.set_xlabel("k_x" + _unit(ds["map_kx"]))
        ax.set_ylabel("k_y" + _unit(ds["map_ky"]))
        ax.set_title(f"{title}, field along x", fontsize=9)
    fig.suptitle(_title(ds) + " (full variant)", fontsize=10)
    return save_figure(fig, out_dir, stem, "coherence_map")


# ------------------------------------------------------------------------------ sweeps
def _curves(ds: xr.Dataset, swept: list[str]) -> Iterator[tuple[str, xr.Dataset]]:
    """One sub-dataset per value of the swept keys after the first (label, data)."""
    others = swept[1:]
    for index in np.ndindex(*(ds.sizes[o] for o in others)):
        sub = ds.isel(dict(zip(others, index, strict=True)))
        yield ", ".join(f"{o} = {sub[o].values.item()}" for o in others), sub


def _x(ds: xr.Dataset, key: str) -> tuple[np.ndarray, bool]:
    xs = ds[key].to_numpy()
    numeric = xs.dtype.kind in "iuf"
    return (xs.astype(float) if numeric else np.arange(xs.size, dtype=float)), numeric


def _finish_x(ax: Any, ds: xr.Dataset, key: str) -> None:
    xs, numeric = _x(ds, key)
    if not numeric:
        ax.set_xticks(xs, [str(v) for v in ds[key].to_numpy().tolist()])
    ax.set_xlabel(axis_label(ds[key], name=key))


def _wide(values: np.ndarray, factor: float) -> bool:
    """Positive finite values spanning at least ``factor``."""
    ok = np.isfinite(values)
    v = values[ok]
    return v.size >= 2 and bool((v > 0).all()) and float(v.max() / v.min()) >= factor


def _logscale(ax: Any, xs: np.ndarray, numeric: bool, ys: list[np.ndarray]) -> None:
    """Log-log where x and every curve are positive and wide (x over a factor 4, the curves
    over 3); log x alone where x spans two decades and a curve does not."""
    wide_y = bool(ys) and all(_wide(y, 3.0) for y in ys)
    if numeric and _wide(xs, 4.0) and (wide_y or _wide(xs, 100.0)):
        ax.set_xscale("log")
        if wide_y:
            ax.set_yscale("log")


def _plot_sweep(ds: xr.Dataset, swept: list[str], out_dir: Path, stem: str) -> Path | None:
    from matplotlib.figure import Figure

    key = swept[0]
    xs, numeric = _x(ds, key)
    names = [n for n in ("sigma_xx", "sigma_yx") if n in ds]
    fig = Figure(figsize=(5.5 * len(names), 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    drawn = False
    for ax, name in zip(axes, names, strict=True):
        for tag, sub in _curves(ds, swept):
            for variant in ds["variant"].to_numpy().tolist():
                ys = sub[name].sel(variant=variant).transpose(key).to_numpy()
                ok = np.isfinite(ys)
                if ok.any():
                    label = LABELS.get(variant, variant).replace("\n", " ")
                    ax.plot(xs[ok], ys[ok], "o-", ms=3, label=f"{label} {tag}".strip())
                    drawn = True
        _logscale(ax, xs, numeric, [])
        _finish_x(ax, ds, key)
        ax.set_ylabel(axis_label(ds[name], name=name.replace("sigma_", "σ_")))
        ax.legend(fontsize=7)
    if not drawn:
        return None
    axes[0].set_title(_title(ds), fontsize=9)
    return save_figure(fig, out_dir, stem, "sweep")


def _broadening(ds: xr.Dataset, swept: list[str]) -> np.ndarray | None:
    """Γ_F/E_g along the first swept key (other keys at their first value) where it is
    positive and spans a factor 2 at least, else None."""
    if "gamma_fermi" not in ds or "band_gap" not in ds:
        return None
    ratio = ds["gamma_fermi"] / ds["band_gap"]
    extra = [d for d in ratio.dims if d != swept[0]]
    ratio = ratio.isel({d: 0 for d in extra}) if extra else ratio
    values = np.asarray(ratio.transpose(swept[0]).to_numpy(), float)
    return values if _wide(values, 2.0) and np.isfinite(values).all() else None


def _plot_shares(ds: xr.Dataset, swept: list[str], out_dir: Path, stem: str) -> Path | None:
    """The shares against Γ_F/E_g (log-log, with guides ∝ Γ/E_g and ∝ (Γ/E_g)²) where the
    sweep moves it over a factor 2 (one gap and rate per value of the first key), else
    against the first swept key."""
    from matplotlib.figure import Figure

    key = swept[0]
    ratio = _broadening(ds, swept)
    if ratio is not None:
        xs, numeric = ratio, True
    else:
        xs, numeric = _x(ds, key)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    drawn = False
    for ax, name, label in ((axes[0], "coherence_share", "σ_xx^coh/σ_xx"),
                            (axes[1], "kinetic_share",
                             "kinetic-correction share (σ_xx − σ_xx^no kin)/σ_xx")):
        curves = []
        for tag, sub in _curves(ds, swept):
            ys = sub[name].transpose(key).to_numpy()
            ok = np.isfinite(ys)
            if ok.any():
                ax.plot(xs[ok], ys[ok], "o-", ms=4, label=tag or None)
                curves.append(ys)
                drawn = True
        if not curves:  # no kinetic share without decompose
            ax.set_visible(False)
            continue
        _logscale(ax, xs, numeric, curves)
        if ratio is not None and ax.get_yscale() == "log":
            first = curves[0]
            ok = np.isfinite(first)
            anchor = int(np.flatnonzero(ok)[np.argmax(xs[ok])])
            line = np.geomspace(xs[ok].min(), xs[ok].max(), 20)
            ax.plot(line, first[anchor] * line / xs[anchor], "k:", lw=0.8, label="∝ Γ/E_g")
            ax.plot(line, first[anchor] * (line / xs[anchor]) ** 2, "k--", lw=0.8,
                    label="∝ (Γ/E_g)²")
        if ratio is not None:
            ax.set_xlabel(f"Γ_F/E_g: Fermi-layer rate over band gap (swept: {key})", fontsize=8)
        else:
            _finish_x(ax, ds, key)
        ax.set_ylabel(label)
        if len(curves) > 1 or ax.get_yscale() == "log":
            ax.legend(fontsize=7)
    if not drawn:
        return None
    axes[0].set_title(_title(ds), fontsize=9)
    return save_figure(fig, out_dir, stem, "shares")


def _plot_hall(ds: xr.Dataset, swept: list[str], out_dir: Path, stem: str) -> Path | None:
    from matplotlib.figure import Figure

    key = swept[0]
    xs, numeric = _x(ds, key)
    compared = "sigma_yx_intrinsic" in ds
    fig = Figure(figsize=(11 if compared else 5.5, 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, 2 if compared else 1))
    ax = axes[0]
    drawn = False

    def line(axis: Any, ys: np.ndarray, style: str, label: str) -> np.ndarray:
        nonlocal drawn
        ok = np.isfinite(ys)
        if ok.any():
            axis.plot(xs[ok], ys[ok], style, ms=4, label=label)
            drawn = True
        return ys

    for tag, sub in _curves(ds, swept):
        suffix = f" ({tag})" if tag else ""
        coherence = sub["sigma_yx_coherence"]
        line(ax, coherence.sel(variant="full").transpose(key).to_numpy(), "o-",
             "σ_yx^coh, full" + suffix)
        if "linewidth_only" in ds["variant"].to_numpy().tolist():
            line(ax, coherence.sel(variant="linewidth_only").transpose(key).to_numpy(), "s:",
                 "σ_yx^coh, linewidth-only" + suffix)
        if compared:
            intrinsic = sub["sigma_yx_intrinsic"].transpose(key).to_numpy()
            velocity = sub["sigma_yx_sidejump_velocity"].transpose(key).to_numpy()
            line(ax, intrinsic, "k--", "intrinsic (BTE)" + suffix)
            line(ax, intrinsic + velocity, "r--", "intrinsic + σ^sj(1)" + suffix)
            extrinsic = line(axes[1], sub["sigma_yx_coherence_extrinsic"].transpose(key)
                             .to_numpy(), "o-", "σ_yx^coh − intrinsic (matrix BTE)" + suffix)
            line(axes[1], velocity, "r--", "σ^sj(1), Xiao et al. Eq. 8 (BTE)" + suffix)
            _logscale(axes[1], xs, numeric, [extrinsic, velocity])
    if not drawn:
        return None
    _logscale(ax, xs, numeric, [])
    for axis in axes:
        _finish_x(axis, ds, key)
        axis.set_ylabel("σ_yx" + _unit(ds["sigma"]))
        axis.legend(fontsize=7)
    ax.set_title(_title(ds), fontsize=9)
    if compared:
        axes[1].set_title("side-jump velocity term: coherences vs band-diagonal BTE", fontsize=9)
    return save_figure(fig, out_dir, stem, "hall")
