"""The few lines ``boltzphlow run`` and ``info`` print about a ``geometry`` result."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["summary"]


def summary(ds: xr.Dataset) -> str:
    """A few lines describing a result: model, Chern numbers, σ plateaus, CME, anomaly.

    A sweep result gets one header line and the summary of each of its first points.
    """
    from boltzphlow.apps.geometry.plots import sweep_points

    points = sweep_points(ds)
    if points is None:
        return _summary_one(ds)
    lines = [f"geometry sweep: {len(points)} of {ds.attrs.get('n_points', len(points))} "
             "points finished"]
    for label, point in points[:SUMMARY_POINTS]:
        lines.append(f"[{label}]")
        lines += ["  " + line for line in _summary_one(point).splitlines()]
    if len(points) > SUMMARY_POINTS:
        lines.append(f"... and {len(points) - SUMMARY_POINTS} more points")
    return "\n".join(lines)


#: Sweep points summarised one by one.
SUMMARY_POINTS = 4


def _summary_one(ds: xr.Dataset) -> str:
    a = ds.attrs
    mesh = "x".join(str(int(n)) for n in np.atleast_1d(a.get("mesh", [])))
    lines = [f"geometry: {a.get('hamiltonian_name', a.get('hamiltonian'))}, "
             f"{a.get('n_bands')} bands, {a.get('dim')}D, mesh {mesh}; "
             f"tasks: {a.get('tasks', '')}"]
    if "weyl_node_chirality" in ds:
        nodes = ", ".join(
            f"k = ({float(ds.weyl_node_kx[i]):.3g}, {float(ds.weyl_node_ky[i]):.3g}, "
            f"{float(ds.weyl_node_kz[i]):.3g}) χ = {float(ds.weyl_node_chirality[i]):+.0f} "
            f"(flux {float(ds.weyl_node_berry_flux[i]):+.3f}) E = "
            f"{float(ds.weyl_node_energy[i]):.3g}" for i in range(ds.sizes["node"]))
        lines.append(f"Weyl nodes: {nodes}")
    if "chern_number" in ds:
        values = ", ".join(f"band {int(b)}: {float(c):+.4f}"
                           for b, c in zip(ds.chern_band.values, ds.chern_number.values,
                                           strict=True))
        attrs = ds.chern_number.attrs
        plane = (f" (plane f{int(attrs['normal_axis'])} = {float(attrs['k_normal']):g})"
                 if "normal_axis" in attrs else "")
        lines.append(f"Chern numbers{plane}: {values}")
    if "ahc" in ds:
        ok = np.isfinite(ds.ahc.values)
        sigma, mu = ds.ahc.values[ok], ds.mu.values[ok]
        if mu.size:
            span = (f"μ = {mu.min():.4g} … {mu.max():.4g} ({mu.size} values)" if mu.size > 1
                    else f"μ = {mu[0]:.4g}")
            lines.append(f"AHC {ds.ahc.attrs.get('component', 'xy')} at T = "
                         f"{ds.ahc.attrs.get('temperature', 0):g}, {span}: σ from "
                         f"{sigma.min():.5g} to {sigma.max():.5g} {ds.ahc.units}"
                         + (f"; σ(μ = {_closest(mu, 0.0):.3g}) = {sigma[np.argmin(abs(mu))]:.6g}"
                            if mu.size > 1 else f": σ = {sigma[0]:.6g}"))
    if "berry_curvature" in ds:
        om = ds.berry_curvature
        lines.append(f"{om.long_name}: min {float(om.min()):.4g}, max {float(om.max()):.4g} "
                     f"{om.units} on {om.shape[1]}x{om.shape[0]} points")
    if "band_energy" in ds:
        labels = "–".join(str(x) for x in ds.path_tick_label.values)
        e = ds.band_energy
        lines.append(f"bands along {labels}: {ds.sizes['path']} points, energies "
                     f"{float(e.min()):.4g} … {float(e.max()):.4g} {e.units}")
    if "cme_total" in ds:
        lines.append(_chiral_summary(
            "CME α", ds.cme_mu.values, ds.cme_per_band.values, ds.cme_total.values,
            ds.cme_total.attrs.get("temperature", 0.0), ds.cme_total.units))
    if "chiral_anomaly_total" in ds:
        lines.append(_chiral_summary(
            "chiral anomaly C", ds.anomaly_mu.values, ds.chiral_anomaly_per_band.values,
            ds.chiral_anomaly_total.values, ds.chiral_anomaly_total.attrs.get("temperature", 0.0),
            ds.chiral_anomaly_total.units))
    if "chiral_anomaly_per_node" in ds and ds.sizes.get("anomaly_node", 0):
        mu = ds.anomaly_mu.values
        i = int(np.argmin(np.abs(mu)))
        per_node = ", ".join(
            f"χ = {int(ds.anomaly_node_chirality[j]):+d} at E = "
            f"{float(ds.anomaly_node_energy[j]):.3g}: C = "
            f"{float(ds.chiral_anomaly_per_node.values[i, j]):+.4f}"
            for j in range(ds.sizes["anomaly_node"]))
        lines.append(f"chiral anomaly per node (μ = {mu[i]:.3g}): {per_node}")
    return "\n".join(lines)


def _chiral_summary(name: str, mu: np.ndarray, per_band: np.ndarray, total: np.ndarray,
                    temperature: float, units: str) -> str:
    """One line: the per-band values and total at the μ closest to 0, and the extremes."""
    ok = np.isfinite(total)
    mu, per_band, total = mu[ok], per_band[ok], total[ok]
    if not mu.size:
        return f"{name}: no finite values"
    i = int(np.argmin(np.abs(mu)))
    bands = ", ".join(f"{x:+.4f}" for x in per_band[i])
    span = f"{mu.size} values of μ in {mu.min():.4g} … {mu.max():.4g}; " if mu.size > 1 else ""
    return (f"{name} (T = {float(temperature):g}): {span}at μ = {mu[i]:.4g} per band [{bands}], "
            f"total {total[i]:+.4f} {units}; max |per band| {np.abs(per_band).max():.4f}, "
            f"max |total| {np.abs(total).max():.4f}")


def _closest(values: np.ndarray, target: float) -> float:
    return float(values[np.argmin(np.abs(values - target))])

