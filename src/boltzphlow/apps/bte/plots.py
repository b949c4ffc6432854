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
  or the ρ(T) / σ(B) curves of every finished point;
* ``anomalous_hall``: the anomalous Hall decomposition σ_AH = σ_yx = j_y/E_x of a point as
  bars: intrinsic, the side jump of each mechanism, the two terms of Eq. 8 of C. Xiao, Y. Liu,
  M. Xie, S. A. Yang, Q. Niu, "Theory of phonon side jump contribution in anomalous Hall
  transport", the skew scattering of zero-range impurities (where it is on) and the total
  (task ``conductivity``, where the side jump was computed);
* ``sidejump``: σ_AH^sj (with the intrinsic part and the total) against the temperature of a
  ``resistivity_vs_T`` run or a sweep over ``T`` (against T/T_BG, T_BG = 2 c_s k_F, when
  acoustic phonons scatter; the ρ_xx(T) inset on log-log axes), against r0 k_F in a sweep over
  the range r0 of Gaussian impurities, or against any other swept key.  For the massive Dirac
  model the closed forms of the paper are overlaid where they apply (quasi-elastic acoustic
  phonons alone: App. B averaged over -∂f/∂ε; Gaussian impurities alone: Eqs. 18 and B4),
  with the limits of Eq. 18 at R = 1 (T ≪ T_BG, long range) and R = 4/(1 + 3Δ²/ε_F²) (T ≫
  T_BG, zero range) as dashed lines.  Failed points (NaN) are left out.

Uses :class:`matplotlib.figure.Figure` directly (no pyplot state).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

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
    has_side_jump = ("sigma_ah_sidejump" in ds
                     and np.isfinite(ds["sigma_ah_sidejump"].to_numpy()).any()
                     and "field" not in ds["sigma_ah_sidejump"].dims)
    if swept:
        paths.append(_plot_sweep(ds, swept, out_dir, stem))
        if has_side_jump:
            paths.append(_plot_sidejump(ds, out_dir, stem))
        return [p for p in paths if p is not None]
    if "temperature" in ds["sigma"].dims:
        paths.append(_plot_resistivity(ds, out_dir, stem))
        if has_side_jump:
            paths.append(_plot_sidejump(ds, out_dir, stem))
    elif "field" in ds["sigma"].dims:
        paths.append(_plot_magneto(ds, out_dir, stem))
    else:
        paths.append(_plot_tensor(ds, out_dir, stem))
        if has_side_jump:
            paths.append(_plot_hall_bars(ds, out_dir, stem))
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


# ------------------------------------------------------------------------------ anomalous Hall
def _hall(da: xr.DataArray) -> xr.DataArray:
    """The Hall component σ_yx = j_y/E_x of a tensor variable."""
    return da.isel(i=1, j=0)


#: Colours of the side jump of each mechanism.
_MECHANISM_COLORS = ("tab:red", "tab:green", "tab:purple", "tab:brown")


def _plot_hall_bars(ds: xr.Dataset, out_dir: Path, stem: str) -> Path | None:
    """The anomalous Hall decomposition of one point as bars (values written on them)."""
    from matplotlib.figure import Figure

    intrinsic = float(ds["sigma_ah_intrinsic"])
    side_jump = float(ds["sigma_ah_sidejump"])
    bars: list[tuple[str, float, str, str]] = [("intrinsic", intrinsic, "tab:blue", "")]
    if "sigma_sidejump_by_mechanism" in ds:
        by = _hall(ds["sigma_sidejump_by_mechanism"]).to_numpy()
        for k, (name, value) in enumerate(zip(ds["mechanism"].to_numpy().tolist(), by,
                                              strict=True)):
            bars.append((f"side jump:\n{name}", float(value), _MECHANISM_COLORS[k % 4], ""))
    several = "sigma_sidejump_by_mechanism" in ds
    bars.append(("side jump" + (", all" if several else ""), side_jump, "tab:orange", ""))
    bars.append(("side-jump\nvelocity\n(Eq. 8, 1st)",
                 float(_hall(ds["sigma_sidejump_velocity"])), "tab:orange", "//"))
    bars.append(("anomalous\ndistribution\n(Eq. 8, 2nd)",
                 float(_hall(ds["sigma_sidejump_distribution"])), "tab:orange", "\\\\"))
    total = intrinsic + side_jump
    if "sigma_ah_skew" in ds and np.isfinite(float(ds["sigma_ah_skew"])):
        skew = float(ds["sigma_ah_skew"])
        bars.append(("skew\nscattering", skew, "tab:cyan", ""))
        total += skew
    bars.append(("total", total, "0.3", ""))
    fig = Figure(figsize=(1.1 * len(bars) + 2.5, 4.2), layout="constrained")
    ax = fig.subplots()
    positions = np.arange(len(bars), dtype=float)
    values = np.array([b[1] for b in bars])
    drawn = ax.bar(positions, np.where(np.isfinite(values), values, 0.0),
                   color=[b[2] for b in bars], edgecolor="k", linewidth=0.6)
    for patch, (_, _, _, hatch) in zip(drawn.patches, bars, strict=True):
        if hatch:
            patch.set_hatch(hatch)
            patch.set_facecolor("white")
            patch.set_edgecolor("tab:orange")
    ax.bar_label(drawn, labels=[f"{v:.4g}" for v in values], fontsize=8, padding=2)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(positions, [b[0] for b in bars], fontsize=8)
    ax.set_ylabel("σ_AH = σ_yx" + _unit(ds["sigma_ah_sidejump"]))
    where = f", T = {float(ds.attrs['T']):.3g}" if "T" in ds.attrs else ""
    ax.set_title("anomalous Hall conductivity, " + _title(ds) + where, fontsize=9)
    return save_figure(fig, out_dir, stem, "anomalous_hall")


def _settings(ds: xr.Dataset) -> dict[str, Any]:
    """The config values of a result: ``hamiltonian``, ``model`` (its table), ``scattering``
    ({table: parameters}), ``mu`` and ``T``, from the run's attributes or, where a sweep
    dropped them (they differ between its points), from its stored base config."""
    a = ds.attrs
    out: dict[str, Any] = {"hamiltonian": a.get("hamiltonian"), "model": {},
                           "scattering": {}, "mu": a.get("mu"), "T": a.get("T")}
    try:
        out["model"] = json.loads(a["parameters"]) if "parameters" in a else {}
        out["scattering"] = (json.loads(a["scattering_parameters"])
                             if "scattering_parameters" in a else {})
    except (TypeError, ValueError):
        pass
    if "config" in a and not (out["model"] and out["scattering"] and out["mu"] is not None):
        from boltzphlow.apps.bte.config import BteConfig

        try:
            raw = json.loads(a["config"])
            raw.pop("sweep", None)
            cfg = BteConfig.model_validate(raw).model_dump()
        except (TypeError, ValueError, KeyError, AttributeError, OSError):
            return out
        out["hamiltonian"] = out["hamiltonian"] or cfg["hamiltonian"]
        out["model"] = out["model"] or (cfg.get(cfg["hamiltonian"]) or {})
        out["scattering"] = out["scattering"] or {
            name: table for name, table in cfg["scattering"].items() if table is not None}
        out["mu"] = cfg["mu"] if out["mu"] is None else out["mu"]
        if out["T"] is None and not isinstance(cfg["T"], list):
            out["T"] = cfg["T"]
    return out


def _swept(ds: xr.Dataset, key: str) -> str | None:
    """The dimension of ``ds`` that sweeps the config key ``key`` (None if none does)."""
    for dim in sweep_dims(ds):
        if ds[dim].attrs.get("config_key", dim) == key:
            return dim
    return None


def _scalar(ds: xr.Dataset, settings: dict[str, Any], key: str) -> float | None:
    """A config value that is one number for the whole result (None where it is swept or
    unknown): ``mu``, ``T``, ``<model>.<name>`` or ``scattering.<table>.<name>``."""
    if _swept(ds, key) is not None:
        return None
    parts = key.split(".")
    if parts[0] == "scattering" and len(parts) == 3:
        value = settings["scattering"].get(parts[1], {}).get(parts[2])
    elif len(parts) == 2 and parts[0] == settings["hamiltonian"]:
        value = settings["model"].get(parts[1])
    else:
        value = settings.get(key)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _closed_forms() -> Any:
    """The massive Dirac closed forms (:mod:`boltzphlow.kinetics.bte.dirac`), or None."""
    try:
        from boltzphlow.kinetics.bte import dirac
    except ImportError:
        return None
    return dirac


def _dirac(ds: xr.Dataset, settings: dict[str, Any]) -> tuple[float, float, float] | None:
    """``(μ, Δ, v)`` of a massive Dirac result with one value each and μ in the upper band."""
    if settings["hamiltonian"] != "massive_dirac":
        return None
    values = [_scalar(ds, settings, key) for key in
              ("mu", "massive_dirac.delta", "massive_dirac.v")]
    if any(v is None for v in values):
        return None
    mu, delta, v = values
    return (mu, delta, v) if mu > abs(delta) and v > 0 else None


def _fermi_wavevector(ds: xr.Dataset, settings: dict[str, Any]) -> float | None:
    """``k_F``: ``√(μ² - Δ²)/v`` for the massive Dirac model, else the run's (the mean |k|
    of its thermal layer, when all points share it)."""
    dirac = _dirac(ds, settings)
    if dirac is not None:
        mu, delta, v = dirac
        return math.sqrt(mu * mu - delta * delta) / v
    k_f = ds.attrs.get("fermi_wavevector")
    return float(k_f) if k_f is not None and math.isfinite(float(k_f)) else None


def _bloch_gruneisen(ds: xr.Dataset, settings: dict[str, Any]) -> float | None:
    """``T_BG = 2 c_s k_F`` of the acoustic phonons: exact for the massive Dirac model, else
    the run's (k_F from its states); None without acoustic phonons or where c_s or k_F is not
    one number."""
    if "acoustic_phonons" not in settings["scattering"]:
        return None
    c_s = _scalar(ds, settings, "scattering.acoustic_phonons.sound_velocity")
    dirac = _dirac(ds, settings)
    forms = _closed_forms()
    if c_s is not None and dirac is not None and forms is not None:  # k_F = √(μ² - Δ²)/v
        mu, delta, v = dirac
        return float(forms.bloch_gruneisen_temperature(mu, delta, v, c_s))
    t_bg = ds.attrs.get("bloch_gruneisen_temperature")  # from the k_F of the states
    if t_bg is not None and math.isfinite(float(t_bg)):
        return float(t_bg)
    k_f = _fermi_wavevector(ds, settings)
    return None if c_s is None or k_f is None else 2 * c_s * k_f


def _closed_form(ds: xr.Dataset, settings: dict[str, Any], kind: str, x: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, str] | None:
    """The massive Dirac closed form of σ_sj on a fine grid over the range of the swept
    values ``x`` (temperatures or impurity ranges), where it applies: one mechanism,
    quasi-elastic acoustic phonons (T) or Gaussian impurities (range)."""
    forms = _closed_forms()
    dirac = _dirac(ds, settings)
    ok = np.isfinite(x) & (x > 0)
    if forms is None or dirac is None or ok.sum() < 1:
        return None
    mu, delta, v = dirac
    tables = settings["scattering"]
    # 24 points: a smooth curve, and each phonon point costs up to ~1 s of quadrature at T ≪ T_BG
    grid = np.geomspace(x[ok].min(), x[ok].max(), 24) if ok.sum() > 1 else x[ok]
    try:
        if kind == "temperature" and set(tables) == {"acoustic_phonons"}:
            phonons = tables["acoustic_phonons"]
            c_s = _scalar(ds, settings, "scattering.acoustic_phonons.sound_velocity")
            if c_s is None or phonons.get("debye_wavevector") is not None:
                return None
            values = [forms.phonon_sidejump(mu, t, delta, c_s, v=v) for t in grid]
            return grid, np.asarray(values, float), "closed form (App. B, quasi-elastic)"
        if kind == "range" and set(tables) == {"impurities"} \
                and tables["impurities"].get("potential") == "gaussian":
            T = _scalar(ds, settings, "T")
            values = [forms.impurity_sidejump(mu, delta, r, v=v, T=T) for r in grid]
            return grid, np.asarray(values, float), "closed form (Eqs. 18, B4)"
    except (ValueError, ArithmeticError):
        return None
    return None


def _limits(ds: xr.Dataset, settings: dict[str, Any]) -> list[tuple[float, str]]:
    """Eq. 18 at R = 1 and R = 4/(1 + 3Δ²/ε_F²) (ε_F = μ) for the massive Dirac model."""
    forms = _closed_forms()
    dirac = _dirac(ds, settings)
    if forms is None or dirac is None:
        return []
    mu, delta, _v = dirac
    r_high = 4 / (1 + 3 * delta**2 / mu**2)
    return [(float(forms.sidejump_conductivity(mu, delta, 1.0)), "R = 1"),
            (float(forms.sidejump_conductivity(mu, delta, r_high)),
             f"R = 4/(1 + 3Δ²/ε_F²) = {r_high:.4g}")]


def _plot_sidejump(ds: xr.Dataset, out_dir: Path, stem: str) -> Path | None:
    """Two panels against the temperature (of the task or a sweep over T), the impurity range
    (r0 k_F) or the first swept key, one curve per value of the other swept keys: σ_AH^sj with
    the closed form and the limits of Eq. 18 (and the ρ_xx(T) inset), and the decomposition
    (intrinsic, side jump of each mechanism, total)."""
    from matplotlib.figure import Figure

    settings = _settings(ds)
    side_jump = ds["sigma_ah_sidejump"]
    t_dim = _swept(ds, "T")
    r_dim = _swept(ds, "scattering.impurities.range")
    if "temperature" in side_jump.dims:
        x_dim, kind = "temperature", "temperature"
    elif t_dim is not None:
        x_dim, kind = t_dim, "temperature"
    elif r_dim is not None:
        x_dim, kind = r_dim, "range"
    else:
        x_dim, kind = sweep_dims(ds)[0], "other"
    raw_x = ds[x_dim].to_numpy()
    numeric = raw_x.dtype.kind in "iuf"
    x = raw_x.astype(float) if numeric else np.arange(raw_x.size, dtype=float)
    scale, x_label = 1.0, x_dim + _unit(ds[x_dim])
    if kind == "temperature":
        t_bg = _bloch_gruneisen(ds, settings)
        if t_bg is not None and t_bg > 0:
            scale, x_label = 1 / t_bg, f"T/T_BG (T_BG = 2 c_s k_F = {t_bg:.3g})"
        else:
            x_label = "k_B T" + _unit(ds[x_dim])
    elif kind == "range":
        k_f = _fermi_wavevector(ds, settings)
        if k_f is not None:
            scale, x_label = k_f, f"r0 k_F (k_F = {k_f:.4g})"
    x = x * scale
    others = [dim for dim in side_jump.dims if dim != x_dim]
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    ax, parts = fig.subplots(1, 2)
    drawn = False
    top = 0.0
    for index in np.ndindex(*(ds.sizes[o] for o in others)):
        where = dict(zip(others, index, strict=True))
        tag = ", ".join(f"{o.split('.')[-1]} = {ds[o].to_numpy()[i]:g}"
                        if ds[o].dtype.kind in "iuf" else f"{o.split('.')[-1]} = "
                        f"{ds[o].to_numpy()[i]}" for o, i in where.items())
        suffix = f" ({tag})" if tag else ""
        sj = side_jump.isel(where).transpose(x_dim).to_numpy()
        intr = ds["sigma_ah_intrinsic"].isel(where).transpose(x_dim).to_numpy()
        total = sj + intr
        curves = [(ax, sj, "o-", "σ_sj"), (parts, sj, "o-", "side jump"),
                  (parts, intr, "s--", "intrinsic")]
        if "sigma_ah_skew" in ds:
            skew = ds["sigma_ah_skew"].isel(where).transpose(x_dim).to_numpy()
            curves.append((parts, skew, "d-.", "skew scattering"))
            total = total + np.where(np.isfinite(skew), skew, 0.0)
        curves.append((parts, total, "^:", "total"))
        if "sigma_sidejump_by_mechanism" in ds:
            by = _hall(ds["sigma_sidejump_by_mechanism"]).isel(where)
            for name in ds["mechanism"].to_numpy().tolist():
                curves.append((parts, by.sel(mechanism=name).transpose(x_dim).to_numpy(),
                               ".-", f"side jump: {name}"))
        for axes, values, style, label in curves:
            ok = np.isfinite(values) & np.isfinite(x)
            if ok.any():
                axes.plot(x[ok], values[ok], style, ms=4, lw=1, label=label + suffix)
                drawn = True
                if axes is ax:
                    top = max(top, float(np.abs(values[ok]).max()))
    if not drawn:
        return None
    if not others:
        exact = _closed_form(ds, settings, kind, x / scale)
        if exact is not None:
            grid, values, label = exact
            ok = np.isfinite(values)
            ax.plot(grid[ok] * scale, values[ok], "k-", lw=1.2, label=label)
        for (value, label), color in zip(_limits(ds, settings), ("tab:green", "tab:red"),
                                         strict=False):
            ax.axhline(value, color=color, ls="--", lw=0.9, label=f"Eq. 18, {label}")
            top = max(top, abs(value))
    finite = x[np.isfinite(x)]
    log_x = numeric and bool(finite.size and np.all(finite > 0)) and (
        kind != "other" or float(finite.max()) >= 20 * float(finite.min()))
    for axes in (ax, parts):
        if log_x:
            axes.set_xscale("log")
            _log_labels(axes.xaxis, x)
        if not numeric:
            axes.set_xticks(x, [str(v) for v in raw_x.tolist()], rotation=30, fontsize=7)
        axes.axhline(0, color="k", lw=0.4)
        axes.set_xlabel(x_label)
        axes.set_ylabel("σ_AH = σ_yx" + _unit(side_jump))
    if top > 0 and np.all(side_jump.to_numpy()[np.isfinite(side_jump.to_numpy())] >= 0):
        ax.set_ylim(0, 1.3 * top)  # room for the legend above the curves
    ax.set_title("side jump", fontsize=9)
    parts.set_title("decomposition", fontsize=9)
    if kind == "temperature":
        _rho_inset(ax, ds, x_dim, x, others)
    for axes, loc in ((ax, "upper left" if kind == "temperature" else "best"),
                      (parts, "best")):
        _, labels = axes.get_legend_handles_labels()
        if 0 < len(labels) <= 14:
            axes.legend(fontsize=7, loc=loc)
    failed = int(ds.attrs.get("n_failed", 0))
    T = _scalar(ds, settings, "T") if kind != "temperature" else None
    where = (f", T = {T:g}" if T is not None else "") + (
        "; " + ", ".join(name.replace("_", " ") for name in settings["scattering"])
        if settings["scattering"] else "")
    fig.suptitle("anomalous Hall conductivity σ_AH = j_y/E_x, " + _title(ds) + where
                 + (f" ({failed} failed points left out)" if failed else ""), fontsize=9)
    return save_figure(fig, out_dir, stem, "sidejump")


def _log_labels(axis: Any, values: np.ndarray) -> None:
    """Plain numbers on a log axis; ticks at 1, 2 and 5 per decade when it spans under a
    decade and a half (else at the powers of ten), minor ticks unlabelled."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ok = values[np.isfinite(values) & (values > 0)]
    if ok.size and np.log10(ok.max() / ok.min()) < 1.5:
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _rho_inset(ax: Any, ds: xr.Dataset, x_dim: str, x: np.ndarray, others: list[str]) -> None:
    """ρ_xx against the (scaled) temperature, log-log, in an inset at the lower right."""
    if others or "resistivity" not in ds:
        return
    rho = ds["resistivity"].isel(i=0, j=0)
    if set(rho.dims) != {x_dim}:
        return
    values = rho.to_numpy()
    ok = np.isfinite(values) & (values > 0) & np.isfinite(x) & (x > 0)
    if not ok.any():
        return
    inset = ax.inset_axes([0.62, 0.1, 0.35, 0.32])
    inset.plot(x[ok], values[ok], "o-", ms=2.5, lw=0.8, color="tab:purple")
    inset.set_xscale("log")
    inset.set_yscale("log")
    _log_labels(inset.xaxis, x[ok])
    _log_labels(inset.yaxis, values[ok])
    inset.set_ylabel("ρ_xx" + _unit(ds["resistivity"]), fontsize=7)
    inset.tick_params(which="both", labelsize=6)
