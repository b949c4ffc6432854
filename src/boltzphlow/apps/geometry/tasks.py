"""The tasks of a ``geometry`` run: each returns a Dataset of its variables with units.

Equation numbers are those of T. Valet and R. Raimondi, "Semiclassical kinetic theory for
systems with non-trivial quantum geometry and the expectation value of physical quantities".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from boltzphlow import bands as bands_lib
from boltzphlow.apps.geometry.config import GeometryConfig
from boltzphlow.apps.geometry.plan import Plan
from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.geometry.berry import berry_curvature, berry_flux, chern_number
from boltzphlow.observables import anomalous_hall, chiral_anomaly, chiral_magnetic

__all__ = ["TASK_FUNCTIONS", "task_ahc", "task_bands", "task_chern", "task_chiral_anomaly",
           "task_cme", "task_curvature_map", "units_of", "weyl_nodes"]


def units_of(cfg: GeometryConfig, h: Hamiltonian) -> dict[str, str]:
    """Unit strings of the result: energy, length, wave vector, conductivity, CME, anomaly."""
    tb_file = cfg.hamiltonian == "wannier90" and cfg.wannier90.format == "tb"
    default = "eV" if cfg.hamiltonian == "wannier90" else ("t" if h.periodic else "E0")
    energy = cfg.energy_unit or default
    length = "Å" if tb_file else "a"
    return {
        "energy": energy,
        "length": length,
        "k": f"1/{length}",
        "sigma": "e^2/h" if h.dim == 2 else f"e^2/(h*{length})",
        "curvature": f"{length}^2",
        "cme": f"e^2/h^2*{energy}",
        "anomaly": "e^3/h^2",
    }


def _var(dims: str | tuple[str, ...], values: Any, units: str, long_name: str,
         **attrs: Any) -> tuple:
    """An xarray variable tuple with its ``units`` and ``long_name``."""
    return (dims, np.asarray(values), {"units": units, "long_name": long_name, **attrs})


def _band_coord(n_bands: int) -> dict[str, tuple]:
    return {"band": _var("band", np.arange(n_bands), "1", "band index (ascending energy)")}



def task_ahc(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str], plan: Plan
             ) -> xr.Dataset:
    """σ(μ) at temperature T (Valet and Raimondi, Eq. 35) on the task's mesh."""
    task = cfg.ahc
    mu, mesh = plan.mu["ahc"], plan.meshes["ahc"]
    sigma = anomalous_hall(h, mu, task.T, mesh, component=task.component,
                           chunk_size=cfg.chunk_size, use_symmetry=task.use_symmetry,
                           refine=task.refine, refine_fraction=task.refine_fraction)
    comp = task.component
    return xr.Dataset(
        {"ahc": _var("mu", sigma, units["sigma"],
                     f"intrinsic anomalous Hall conductivity σ_{comp}",
                     temperature=task.T, component=comp, mesh=list(mesh))},
        coords={"mu": _var("mu", mu, units["energy"], "chemical potential μ")},
    )


def task_chern(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str], plan: Plan
               ) -> xr.Dataset:
    """Chern number of each chosen band (a plane of a 3D model)."""
    task = cfg.chern
    chosen = list(range(h.n_bands)) if task.bands is None else task.bands
    mesh = plan.meshes["chern"]
    extra = {} if h.dim == 2 else {"normal_axis": task.normal_axis, "k_normal": task.k_normal}
    values = [chern_number(h, [band], mesh, **extra) for band in chosen]
    plane = ("the Brillouin zone" if h.dim == 2 else
             f"the plane f_{task.normal_axis} = {task.k_normal:g} (reduced)")
    return xr.Dataset(
        {"chern_number": _var("chern_band", values, "1", f"Chern number over {plane}",
                              mesh=list(mesh), **extra)},
        coords={"chern_band": _var("chern_band", chosen, "1", "band index of the Chern number")},
    )


def task_curvature_map(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str],
                       plan: Plan) -> xr.Dataset:
    """Berry curvature of one band on a rectangle of a k-plane (chunked over rows)."""
    task = cfg.curvature_map
    axes, normal, shown, names, k1, k2 = plan.curvature_map
    omega = np.empty((len(k2), len(k1)))
    rows = max(1, cfg.chunk_size // len(k1))
    for start in range(0, len(k2), rows):
        stop = min(start + rows, len(k2))
        k = np.zeros((stop - start, len(k1), h.dim))
        k[..., axes[0]] = k1[None, :]
        k[..., axes[1]] = k2[start:stop, None]
        if h.dim == 3:
            k[..., normal] = task.k_normal
        om = berry_curvature(h, k, bands=[task.band])
        omega[start:stop] = om[..., 0] if h.dim == 2 else om[..., 0, shown]
    component = "xy" if h.dim == 2 else "axial " + "xyz"[shown]
    plane = "" if h.dim == 2 else f" at k{'xyz'[normal]} = {task.k_normal:g}"
    ds = xr.Dataset(
        {"berry_curvature": _var((names[1], names[0]), omega, units["curvature"],
                                 f"Berry curvature Ω ({component}) of band {task.band}{plane}",
                                 band=task.band,
                                 **({} if h.dim == 2 else {"normal": "xyz"[normal],
                                                           "k_normal": task.k_normal}))},
        coords={name: _var(name, values, units["k"], f"wave vector k_{name[1]}")
                for name, values in zip(names, (k1, k2), strict=True)},
    )
    if h.periodic and h.dim == 2:
        bz = bands_lib.brillouin_zone(h.reciprocal)
        ds = ds.assign_coords(
            bz_kx=_var("bz_vertex", bz[:, 0], units["k"], "Brillouin-zone vertex k_x"),
            bz_ky=_var("bz_vertex", bz[:, 1], units["k"], "Brillouin-zone vertex k_y"),
        )
    return ds



def task_bands(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str], plan: Plan
               ) -> xr.Dataset:
    """Band energies along a path of straight segments between the given points."""
    labels, ticks, distance, k = plan.path
    energies = np.empty((len(k), h.n_bands))
    for start in range(0, len(k), cfg.chunk_size):
        stop = start + cfg.chunk_size
        energies[start:stop] = np.linalg.eigvalsh(h.hamiltonian(k[start:stop]))
    coords = {
        "path_distance": _var("path", distance, units["k"], "distance along the k-path"),
        **{f"path_k{'xyz'[i]}": _var("path", k[:, i], units["k"], f"wave vector k_{'xyz'[i]}")
           for i in range(h.dim)},
        "path": _var("path", np.arange(len(k)), "1", "index of the point along the k-path"),
        "path_tick": _var("path_tick", np.arange(len(ticks)), "1", "index of the corner point"),
        "path_tick_label": _var("path_tick", np.array(labels, dtype=object), "1",
                                "k-path corner point"),
        **_band_coord(h.n_bands),
    }
    return xr.Dataset(
        {"band_energy": _var(("path", "band"), energies, units["energy"],
                             "band energy along the k-path"),
         "path_tick_distance": _var("path_tick", ticks, units["k"],
                                    "distance of the k-path corner points")},
        coords=coords,
    )


def task_cme(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str], plan: Plan
             ) -> xr.Dataset:
    """CME coefficient per band and total (Valet and Raimondi, Eq. 36), node-centred quadrature."""
    task = cfg.cme
    mu, mesh = plan.mu["cme"], plan.meshes["cme"]
    res = chiral_magnetic(h, mu, task.T, mesh, chunk_size=cfg.chunk_size, refine=task.refine,
                          refine_fraction=task.refine_fraction,
                          nodes="auto" if task.n_radial else None,
                          n_radial=task.n_radial or 64)
    info = {"temperature": task.T, "mesh": list(mesh), "refine": task.refine,
            "n_radial": task.n_radial}
    return xr.Dataset(
        {"cme_per_band": _var(("cme_mu", "band"), res.per_band, units["cme"],
                              "chiral-magnetic coefficient α_n per band (j = α B)", **info),
         "cme_total": _var("cme_mu", res.total, units["cme"],
                           "chiral-magnetic coefficient α, all bands", **info)},
        coords={"cme_mu": _var("cme_mu", mu, units["energy"], "chemical potential μ (CME)"),
                **_band_coord(h.n_bands)},
    )


def task_chiral_anomaly(cfg: GeometryConfig, h: Hamiltonian, units: dict[str, str],
                        plan: Plan) -> xr.Dataset:
    """Fermi-surface Berry flux and chiral-anomaly coefficient per band (Eq. 33)."""
    task = cfg.chiral_anomaly
    mu, mesh = plan.mu["chiral_anomaly"], plan.meshes["chiral_anomaly"]
    res = chiral_anomaly(h, mu, task.T, mesh, chunk_size=cfg.chunk_size, refine=task.refine,
                         refine_fraction=task.refine_fraction,
                         nodes="auto" if task.n_radial else None,
                         n_radial=task.n_radial or 64)
    info = {"temperature": task.T, "mesh": list(mesh), "refine": task.refine,
            "n_radial": task.n_radial}
    node_k = np.array([n.k for n in res.nodes]).reshape(-1, 3)
    per_node = {
        "chiral_anomaly_per_node": _var(
            ("anomaly_mu", "anomaly_node"), res.per_node, units["anomaly"],
            "chiral-anomaly coefficient C_j of the Fermi surface in each node's Voronoi cell "
            "(= chirality for a pocket around the node)", **info),
        "anomaly_node_chirality": _var("anomaly_node", [n.chirality for n in res.nodes], "1",
                                       "chirality of the node (Berry flux through a small "
                                       "sphere / 2π)"),
        "anomaly_node_energy": _var("anomaly_node", [n.energy for n in res.nodes],
                                    units["energy"], "energy of the node"),
        **{f"anomaly_node_k{'xyz'[i]}": _var("anomaly_node", node_k[:, i], units["k"],
                                             f"node position k_{'xyz'[i]}") for i in range(3)},
    }
    return xr.Dataset(
        {"fermi_surface_flux": _var(("anomaly_mu", "band"), res.flux, "1",
                                    "Berry flux out of the Fermi sea per band / 2π", **info),
         "chiral_anomaly_per_band": _var(("anomaly_mu", "band"), res.per_band,
                                         units["anomaly"],
                                         "chiral-anomaly coefficient C_n per band "
                                         "(∂ρ/∂t + ∇·j = C E·B)", **info),
         "chiral_anomaly_total": _var("anomaly_mu", res.total, units["anomaly"],
                                      "chiral-anomaly coefficient C, all bands", **info),
         **per_node},
        coords={"anomaly_mu": _var("anomaly_mu", mu, units["energy"],
                                   "chemical potential μ (chiral anomaly)"),
                **_band_coord(h.n_bands)},
    )


def weyl_nodes(h: bands_lib.WeylLattice, units: dict[str, str]) -> xr.Dataset:
    """Positions, chiralities, energies and measured Berry fluxes of the Weyl nodes."""
    nodes = h.nodes
    k = np.array([node.k for node in nodes])
    k0 = float(abs(k[0, 2]))  # nodes at (0, 0, ±k0): keep the sphere clear of both
    radius = 0.2 * min(k0, float(np.pi) - k0)
    flux = [berry_flux(h, 0, node.k, radius) for node in nodes]
    return xr.Dataset(
        {"weyl_node_chirality": _var("node", [n.chirality for n in nodes], "1",
                                     "chirality of the Weyl node"),
         "weyl_node_energy": _var("node", [n.energy for n in nodes], units["energy"],
                                  "energy of the Weyl node"),
         "weyl_node_berry_flux": _var("node", flux, "1",
                                      "Berry flux of band 0 out of a sphere around the node / 2π",
                                      radius=radius)},
        coords={"node": _var("node", np.arange(len(nodes)), "1", "Weyl node index"),
                **{f"weyl_node_k{'xyz'[i]}": _var("node", k[:, i], units["k"],
                                                  f"Weyl node position k_{'xyz'[i]}")
                   for i in range(3)}},
    )


TASK_FUNCTIONS: dict[str, Callable[[GeometryConfig, Hamiltonian, dict, Plan], xr.Dataset]] = {
    "chern": task_chern,
    "ahc": task_ahc,
    "curvature_map": task_curvature_map,
    "bands": task_bands,
    "cme": task_cme,
    "chiral_anomaly": task_chiral_anomaly,
}

