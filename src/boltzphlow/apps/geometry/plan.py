"""Checks and sizes of a ``geometry`` run, decided before its first progress report.

:func:`build_hamiltonian` makes the model a config names (through the registry
:data:`boltzphlow.bands.MODEL_KINDS`, or from a Wannier90 file); :func:`make_plan` checks the
config against it (band indices, k-paths, μ ranges, that every k-mesh resolves the model,
:mod:`boltzphlow.geometry.resolution`, and that the memory each task needs fits,
:func:`boltzphlow.resources.check_memory`) and fixes every size.  Pictures that are too coarse
to show what they are asked are drawn all the same, with a :class:`ResolutionWarning` that
gives the minimum.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from boltzphlow import bands as bands_lib
from boltzphlow.apps.geometry.config import (
    TASKS,
    CurvatureMapTask,
    GeometryConfig,
    Wannier90Params,
)
from boltzphlow.bands.hamiltonian import Hamiltonian, TightBinding
from boltzphlow.config import ConfigError
from boltzphlow.errors import InputError, shorten
from boltzphlow.geometry.resolution import Spectrum, minimum_mesh, scan_spectrum
from boltzphlow.observables import FERMI_CUTOFF
from boltzphlow.resources import check_memory

__all__ = ["Plan", "ResolutionWarning", "build_hamiltonian", "check_band_indices", "make_plan"]


class ResolutionWarning(UserWarning):
    """A picture (curvature map, band path, μ grid) is coarser than the feature it shows."""


def build_hamiltonian(cfg: GeometryConfig) -> Hamiltonian:
    """The model a config names, with its parameters.

    Raises
    ------
    ConfigError
        For parameters the model refuses (naming the model's table).
    InputError, FileNotFoundError
        For a Wannier90 file that is missing or unusable (naming ``wannier90.file`` and, where
        it applies, the line).
    """
    p = getattr(cfg, cfg.hamiltonian)
    kind = bands_lib.MODEL_KINDS[cfg.hamiltonian]
    if kind.parameters is None:
        return _read_wannier90(p)
    try:
        return kind.model(kind.parameters(**p.model_dump()))
    except ValueError as exc:
        raise ConfigError(cfg.hamiltonian, str(exc)) from None


def model_attrs(cfg: Any, h: Hamiltonian) -> dict[str, Any]:
    """Result attributes naming the model of a config: its kind, name, parameters (JSON),
    dimension and number of bands (every app whose config names a :mod:`bands` model)."""
    return {
        "hamiltonian": cfg.hamiltonian,
        "hamiltonian_name": getattr(h, "name", "") or cfg.hamiltonian,
        "parameters": json.dumps(getattr(cfg, cfg.hamiltonian).model_dump(), default=str),
        "dim": h.dim,
        "n_bands": h.n_bands,
    }


def _read_wannier90(p: Wannier90Params) -> Hamiltonian:
    """The model of a Wannier90 file, with the config's lattice and positions (``_hr.dat``)."""
    path = Path(p.file)
    if not path.exists():
        raise FileNotFoundError(f"wannier90.file: no such file: {shorten(p.file)}")
    wsvec = None if p.wsvec is None else Path(p.wsvec)
    if wsvec is not None and not wsvec.exists():
        raise FileNotFoundError(f"wannier90.wsvec: no such file: {shorten(p.wsvec)}")
    symmetry = [np.asarray(op, dtype=float) for op in p.symmetry or []]
    try:
        if p.format == "tb":
            model = bands_lib.read_wannier90_tb(path, wsvec=wsvec,
                                                position_operator=p.position_operator)
        else:
            lattice = None if p.lattice is None else np.asarray(p.lattice)
            model = bands_lib.read_wannier90_hr(path, lattice=lattice, wsvec=wsvec)
    except InputError as exc:
        key = "wannier90.wsvec" if wsvec is not None and str(wsvec) in str(exc) else \
            "wannier90.file"
        raise InputError(f"{key}: {exc}") from None
    positions = model.positions
    if p.positions is not None:
        if len(p.positions) != model.n_bands:
            raise ConfigError("wannier90.positions", f"give one position per orbital: "
                                                     f"{model.n_bands} (num_wann of the file), "
                                                     f"got {len(p.positions)}")
        positions = np.asarray(p.positions)
    if p.positions is None and not symmetry:
        return model
    try:
        model = TightBinding(model.lattice, (model.R, model.h_R), positions, name=model.name,
                             symmetry=symmetry, position_matrix=model.position_matrix,
                             position_operator=model.position_operator)
        bands_lib.check_model_symmetry(model)
    except ValueError as exc:
        raise ConfigError("wannier90.symmetry", str(exc)) from None
    return model



def check_band_indices(cfg: GeometryConfig, h: Hamiltonian) -> None:
    """:class:`ConfigError` naming the key if a band index is not one of the model's bands."""
    chosen = {"chern.bands": cfg.chern and cfg.chern.bands,
              "curvature_map.band": cfg.curvature_map and [cfg.curvature_map.band]}
    for key, indices in chosen.items():
        bad = [b for b in indices or [] if b >= h.n_bands]
        if bad:
            raise ConfigError(key, f"band index {bad[0]} out of range: the {h.n_bands}-band "
                                   f"model has bands 0 to {h.n_bands - 1}")


# --------------------------------------------------------------------------------------------
# Plan: every check and every size, before the first progress report


@dataclass
class Plan:
    """What each task computes, decided (and checked) before anything runs.

    Attributes
    ----------
    spectrum
        Band ranges and curvature widths (:func:`~boltzphlow.geometry.resolution.scan_spectrum`).
    meshes
        Mesh sizes per task (``"ahc"``, ``"chern"``, ``"cme"``, ``"chiral_anomaly"``).
    mu
        Chemical potentials per task (``"ahc"``, ``"cme"``, ``"chiral_anomaly"``).
    path
        ``(labels, ticks, distance, k)`` of the band path.
    curvature_map
        ``(axes, normal, shown, names, k1, k2)`` of the curvature map.
    warnings
        One line per :class:`ResolutionWarning` issued.
    """

    spectrum: Spectrum
    meshes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    mu: dict[str, np.ndarray] = field(default_factory=dict)
    path: tuple | None = None
    curvature_map: tuple | None = None
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(message, ResolutionWarning, stacklevel=3)


def _point_bytes(h: Hamiltonian) -> int:
    """Working bytes per k-point of H, ∂H/∂k, eigenvectors, velocity matrices and curvature.

    ``16 ((3 d + 8) N² + 2 n_R)``: complex H and U (N² each), ∂H and U†∂H U with one
    intermediate (3 d N²), the Kubo sum's gap, mask and product arrays (~6 N²), and the Bloch
    phases of a direct sum over the n_R hopping vectors (2 n_R).
    """
    n_r = len(getattr(h, "R", ()))
    return 16 * ((3 * h.dim + 8) * h.n_bands**2 + 2 * n_r)


def _chunk_points(cfg: GeometryConfig, shape: tuple[int, ...]) -> int:
    """Points evaluated at once on a mesh: ``chunk_size``, but at least one row (a slab)."""
    total = math.prod(shape)
    return min(total, max(cfg.chunk_size, math.prod(shape[1:])))


def _fft_bytes(h: Hamiltonian, shape: tuple[int, ...]) -> int:
    """Size of the FFT Bloch-sum tables of a tight-binding model on a mesh (capped)."""
    if not isinstance(h, TightBinding):
        return 0
    n_r0 = len(np.unique(h.R[:, 0]))
    size = 16 * (1 + h.dim) * n_r0 * math.prod(shape[1:]) * h.n_bands**2
    return min(size, TightBinding.FFT_TABLE_BYTES)


def _check_mesh(key: str, shape: tuple[int, ...], need: np.ndarray, why: str) -> None:
    """Refuse a mesh below the minimum, naming the key and the minimum."""
    if any(n < m for n, m in zip(shape, need, strict=True)):
        raise ConfigError(key, f"{list(shape)} points cannot resolve {why}; at least "
                               f"{[int(m) for m in need]} are needed (docs/geometry.md, "
                               "'Mesh resolution')")


def _resolution_reason(h: Hamiltonian, kappa: float) -> str:
    if math.isfinite(kappa):
        return (f"the narrowest Berry-curvature peak (half-width κ = Δ/2v = {kappa:.3g} "
                "1/a, which the spacing must not exceed)")
    hint = "hopping range" if getattr(h, "R", None) is not None and h.periodic else "k-box"
    return f"the model's {hint}"


def _mesh_work(cfg: GeometryConfig, h: Hamiltonian, shape: tuple[int, ...], refine: int,
               n_mu: int, what: str, keys: list[str]) -> None:
    """Memory of a pass over a mesh: chunk work, FFT tables, and the values refinement keeps.

    With refinement, each evaluated point holds ``P N`` weighted Fermi factors (P chemical
    potentials, N bands) plus the kernel temporaries (3 P), and chunks of refined points can
    hold up to ``chunk_size`` points whatever the mesh; the base mesh's values, coordinates,
    sizes and indicators are kept (``3 x 8 (P N + 3 d + 4)`` per point, with the copies that
    concatenation makes).
    """
    values = n_mu * h.n_bands
    if refine:
        chunk = cfg.chunk_size
        extra = 8 * (values + 3 * n_mu)
        stored = 3 * 8 * math.prod(shape) * (values + 3 * h.dim + 4)
    else:
        chunk, extra, stored = _chunk_points(cfg, shape), 0, 0
    need = (chunk * (_point_bytes(h) + extra) + _fft_bytes(h, shape) + stored
            + 64 * n_mu)
    check_memory(need, what, keys)


def _mu_range(cfg: GeometryConfig, spectrum: Spectrum) -> np.ndarray:
    """The chemical potentials of ``[ahc]``: the list, or ``n_mu`` values over the range."""
    task = cfg.ahc
    if task.mu is not None:
        return np.asarray(task.mu, dtype=float)
    lo, hi = task.mu_min, task.mu_max
    if lo is None or hi is None:
        e_min, e_max = float(spectrum.band_min.min()), float(spectrum.band_max.max())
        pad = 0.1 * max(e_max - e_min, 1e-3)
        lo = e_min - pad if lo is None else lo
        hi = e_max + pad if hi is None else hi
        if not lo < hi:
            given = "ahc.mu_min" if task.mu_min is not None else "ahc.mu_max"
            raise ConfigError(given, f"empty μ range [{lo:g}, {hi:g}] (the bands span "
                                     f"{e_min:g} to {e_max:g}): set mu_min and mu_max")
    if task.n_mu < 2:
        raise ConfigError("ahc.n_mu", "a range of μ needs n_mu >= 2 (one value: give "
                                      "mu = [value])")
    check_memory(64 * task.n_mu, f"{task.n_mu} chemical potentials", ["ahc.n_mu"])
    return np.linspace(lo, hi, task.n_mu)


def _plan_ahc(cfg: GeometryConfig, h: Hamiltonian, plan: Plan) -> None:
    task = cfg.ahc
    mu = _mu_range(cfg, plan.spectrum)
    shape = tuple(task.mesh or cfg.mesh)
    key = "ahc.mesh" if task.mesh else "mesh"
    margin = FERMI_CUTOFF * task.T
    kappa = plan.spectrum.narrowest(plan.spectrum.pairs_between(mu.min() - margin,
                                                                mu.max() + margin))
    _check_mesh(key, shape, minimum_mesh(h, kappa, refine=task.refine),
                _resolution_reason(h, kappa) + (f" (with {task.refine} levels of refinement)"
                                                if task.refine else ""))
    if task.use_symmetry and h.symmetry and not task.refine:
        try:
            h.mesh(shape).check_symmetry(h.symmetry)
        except ValueError as exc:
            raise ConfigError("ahc.use_symmetry", f"the {list(shape)} mesh does not have the "
                                                  f"model's symmetry ({exc}); use equal sizes "
                                                  "or use_symmetry = false") from None
    _mesh_work(cfg, h, shape, task.refine, mu.size,
               f"the anomalous Hall conductivity on the {'x'.join(map(str, shape))} mesh "
               f"({mu.size} μ, refine {task.refine})",
               [key, "ahc.n_mu" if task.mu is None else "ahc.mu", "ahc.refine", "chunk_size"])
    if task.mu is None and mu.size > 1:
        spacing = float(mu[1] - mu[0])
        gaps = plan.spectrum.band_gaps()
        inside = (gaps > 0) & (plan.spectrum.band_max[:-1] < mu[-1]) & (
            plan.spectrum.band_min[1:] > mu[0])
        if inside.any() and spacing > 0.5 * gaps[inside].min():
            gap = float(gaps[inside].min())
            need = math.ceil(2 * (mu[-1] - mu[0]) / gap) + 1
            plan.warn(f"ahc.n_mu = {task.n_mu}: the μ spacing {spacing:.3g} exceeds half the "
                      f"smallest band gap ({gap:.3g}) in the range, so a plateau can fall "
                      f"between two values; n_mu >= {need} resolves it")
    plan.mu["ahc"] = mu
    plan.meshes["ahc"] = shape


def _plan_chern(cfg: GeometryConfig, h: Hamiltonian, plan: Plan) -> None:
    task = cfg.chern
    chosen = list(range(h.n_bands)) if task.bands is None else task.bands
    axes = [0, 1] if h.dim == 2 else [a for a in range(3) if a != task.normal_axis]
    if task.mesh is not None:
        shape, key = tuple(task.mesh), "chern.mesh"
    else:
        shape, key = tuple(cfg.mesh[a] for a in axes), "mesh"
    kappa = plan.spectrum.narrowest(plan.spectrum.pairs_of_bands(chosen))
    _check_mesh(key, shape, minimum_mesh(h, kappa, axes=axes), _resolution_reason(h, kappa))
    check_memory(6 * 16 * math.prod(shape) * h.n_bands**2 + _point_bytes(h) * math.prod(shape),
                 f"the Chern number on the {shape[0]}x{shape[1]} plane", [key])
    plan.meshes["chern"] = shape


def _plan_chiral(cfg: GeometryConfig, h: Hamiltonian, plan: Plan, name: str) -> None:
    task = getattr(cfg, name)
    mu = np.asarray(task.mu, dtype=float)
    shape = tuple(task.mesh or cfg.mesh)
    key = f"{name}.mesh" if task.mesh else "mesh"
    margin = FERMI_CUTOFF * task.T
    kappa = plan.spectrum.narrowest(plan.spectrum.pairs_between(mu.min() - margin,
                                                                mu.max() + margin))
    _check_mesh(key, shape, minimum_mesh(h, kappa, refine=task.refine),
                _resolution_reason(h, kappa))
    _mesh_work(cfg, h, shape, task.refine, mu.size,
               f"the {name.replace('_', ' ')} on the {'x'.join(map(str, shape))} mesh "
               f"({mu.size} μ, refine {task.refine})",
               [key, f"{name}.mu", f"{name}.refine", "chunk_size"])
    plan.mu[name] = mu
    plan.meshes[name] = shape


def _map_axes(h: Hamiltonian, task: CurvatureMapTask) -> tuple[list[int], int]:
    """In-plane Cartesian axes (sorted) and the normal axis of a curvature map."""
    if h.dim == 2:
        return [0, 1], 2
    normal = "xyz".index(task.normal)
    return [axis for axis in range(3) if axis != normal], normal


def _plan_curvature_map(cfg: GeometryConfig, h: Hamiltonian, plan: Plan) -> None:
    task = cfg.curvature_map
    axes, normal = _map_axes(h, task)
    shown = normal if task.component == "normal" else "xyz".index(task.component)
    names = [f"k{'xyz'[axis]}" for axis in axes]
    if h.periodic:
        half = 1.02 * np.abs(bands_lib.brillouin_zone(h.reciprocal)).max(axis=0)
    else:
        half = np.full(h.dim, h.k_max)
    ranges = []
    for axis, name in zip(axes, names, strict=True):
        given = getattr(task, name)
        ranges.append(given if given is not None else [-half[axis], half[axis]])
    n1, n2 = task.n
    row = min(n1 * n2, max(cfg.chunk_size, n1))
    check_memory(3 * 8 * n1 * n2 + row * _point_bytes(h),
                 f"the {n1}x{n2} Berry-curvature map", ["curvature_map.n", "chunk_size"])
    kappa = plan.spectrum.narrowest(plan.spectrum.pairs_of_bands([task.band]))
    if math.isfinite(kappa):
        width = np.array([hi - lo for lo, hi in ranges])
        need = np.ceil(width / kappa - 1e-9).astype(int) + 1
        if n1 < need[0] or n2 < need[1]:
            plan.warn(f"curvature_map.n = {task.n}: pixels of {width[0] / (n1 - 1):.3g} x "
                      f"{width[1] / (n2 - 1):.3g} 1/a are wider than the curvature peak "
                      f"(half-width κ = {kappa:.3g} 1/a); n >= {need.tolist()} resolves it")
    k1 = np.linspace(*ranges[0], n1)
    k2 = np.linspace(*ranges[1], n2)
    plan.curvature_map = (axes, normal, shown, names, k1, k2)


def _path_points(cfg: GeometryConfig, h: Hamiltonian) -> tuple[list[str], np.ndarray]:
    """Labels and Cartesian coordinates of the corner points of the k-path."""
    task = cfg.bands
    kind = bands_lib.MODEL_KINDS[cfg.hamiltonian]
    named = kind.points(getattr(cfg, cfg.hamiltonian))
    to_cartesian: Callable[[np.ndarray], np.ndarray] | None = None
    if task.coordinates == "reduced":
        to_cartesian = ((lambda f: f @ h.reciprocal) if h.periodic
                        else (lambda f: 2 * h.k_max * f))
    return bands_lib.path_corners(task.path or list(kind.default_path), named, to_cartesian)


def _plan_bands(cfg: GeometryConfig, h: Hamiltonian, plan: Plan) -> None:
    task = cfg.bands
    labels, corners = _path_points(cfg, h)
    try:
        ticks = bands_lib.path_ticks(corners)
    except ValueError as exc:
        raise ConfigError("bands.path", str(exc)) from None
    total = task.n_points + len(ticks) - 2
    check_memory(3 * 8 * total * (h.n_bands + h.dim + 2)
                 + min(total, cfg.chunk_size) * _point_bytes(h),
                 f"the band path ({total} points)", ["bands.n_points", "chunk_size"])
    kappa = plan.spectrum.narrowest()
    spacing = ticks[-1] / (task.n_points - 1)
    if spacing > kappa:
        need = math.ceil(ticks[-1] / kappa - 1e-9) + 1
        plan.warn(f"bands.n_points = {task.n_points}: the spacing {spacing:.3g} 1/a along the "
                  f"path exceeds the half-width κ = {kappa:.3g} 1/a of the narrowest avoided "
                  f"crossing, which the path can step over; n_points >= {need} resolves it")
    ticks, distance, k = bands_lib.sample_path(corners, task.n_points)
    plan.path = (labels, ticks, distance, k)


def make_plan(cfg: GeometryConfig, h: Hamiltonian) -> Plan:
    """Check a config against its model and decide every size (no task is run).

    Raises
    ------
    ConfigError
        For a band index, k-path or μ range the model does not have, or a k-mesh below the
        minimum that resolves the model (naming the key and the minimum).
    ResourceError
        If a task would not fit in memory (naming the keys that change it).
    """
    check_band_indices(cfg, h)
    try:
        plan = Plan(spectrum=scan_spectrum(h))
    except ValueError as exc:  # H(k) not finite or not Hermitian with these parameters
        raise ConfigError(cfg.hamiltonian, f"the model cannot be evaluated: {exc}") from None
    planners: dict[str, Callable[[], None]] = {
        "chern": lambda: _plan_chern(cfg, h, plan),
        "ahc": lambda: _plan_ahc(cfg, h, plan),
        "curvature_map": lambda: _plan_curvature_map(cfg, h, plan),
        "bands": lambda: _plan_bands(cfg, h, plan),
        "cme": lambda: _plan_chiral(cfg, h, plan, "cme"),
        "chiral_anomaly": lambda: _plan_chiral(cfg, h, plan, "chiral_anomaly"),
    }
    for task in TASKS:
        if getattr(cfg, task) is not None:
            planners[task]()
    return plan


