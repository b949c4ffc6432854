"""Figure files: names from the config, written atomically, never through a symlink.

A job's ``plot(ds, out_dir, stem)`` names each figure ``<stem>_<kind>.png`` (``stem`` is the
config's name, so two examples run into one folder keep their own figures) and writes it with
:func:`save_figure`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SAVE_HOOKS", "SWEEP_BOOKKEEPING", "axis_label", "figure_path", "figure_problems",
           "plot_sweep_scalars", "save_figure", "sweep_dims"]

#: Callables ``hook(fig, path)`` run by :func:`save_figure` before writing (tests use it to
#: check that every figure holds data).
SAVE_HOOKS: list[Any] = []


def figure_path(out_dir: str | Path, stem: str, kind: str) -> Path:
    """``out_dir/<stem>_<kind>.png``."""
    return Path(out_dir) / f"{stem}_{kind}.png"


def save_figure(fig: Any, out_dir: str | Path, stem: str, kind: str, *, dpi: int = 110) -> Path:
    """Write a matplotlib figure to :func:`figure_path` atomically; return the path.

    The PNG goes to a temporary file in the same folder and is moved over the target with
    :func:`os.replace`: an existing file or symlink of that name is replaced, never written
    through (a link's target is left alone), and an interrupted write leaves no partial PNG.
    """
    path = figure_path(out_dir, stem, kind)
    for hook in SAVE_HOOKS:
        hook(fig, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            fig.savefig(stream, format="png", dpi=dpi)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def figure_problems(fig: Any) -> list[str]:
    """Why a figure holds no data: one entry per axes with nothing finite drawn (else ``[]``).

    An axes counts as holding data when one of its lines, collections or images has at least
    one finite value.  Inset and twin axes are checked with their parent: a figure passes
    when each top-level axes, or one of its children, holds data.
    """
    import numpy as np

    def has_data(ax: Any) -> bool:
        for line in ax.get_lines():
            x, y = (np.asarray(v, dtype=float) for v in line.get_data())
            if np.isfinite(x).any() and np.isfinite(y).any():
                return True
        for collection in ax.collections:
            offsets = np.asarray(collection.get_offsets(), dtype=float)
            array = collection.get_array()
            paths = collection.get_paths()
            if (array is not None and np.isfinite(np.ma.filled(array, np.nan)).any()) or (
                    offsets.size and np.isfinite(offsets).any()) or (
                    paths and any(np.isfinite(p.vertices).any() for p in paths)):
                return True
        for image in ax.get_images():
            if np.isfinite(np.ma.filled(np.asarray(image.get_array(), dtype=float),
                                        np.nan)).any():
                return True
        return bool(ax.patches) and any(
            np.isfinite(p.get_path().vertices).any() for p in ax.patches)

    problems = []
    axes = list(fig.get_axes())
    children = {id(child) for ax in axes for child in ax.child_axes}
    for k, ax in enumerate(axes):
        if id(ax) in children or not ax.get_visible() or not ax.axison:
            continue
        twins = [a for a in axes if a is not ax and a.bbox.bounds == ax.bbox.bounds]
        family = [ax, *ax.child_axes, *twins]
        if not any(has_data(a) for a in family):
            problems.append(f"axes {k} ({ax.get_title() or ax.get_ylabel() or 'untitled'}) "
                            "has no finite data")
    return problems


def sweep_dims(ds: Any, run_dims: tuple[str, ...] | None = None) -> list[str]:
    """The swept dimensions of a sweep result (``ds.attrs["sweep_dims"]``); without that
    attribute ``[]``, or, given the dimensions ``run_dims`` of a single run, every other
    dimension of ``ds``."""
    import json

    text = ds.attrs.get("sweep_dims")
    if not text:
        return [] if run_dims is None else [str(d) for d in ds.dims if d not in run_dims]
    names = json.loads(text) if isinstance(text, str) else list(text)
    return [str(name) for name in names if name in ds.dims]


def sweep_points(ds: Any, swept: list[str], limit: int = 10,
                 keep: Callable[[Any], bool] | None = None) -> list[tuple[str, Any]]:
    """``(label, point)`` for up to ``limit`` points of a sweep over the dimensions ``swept``
    (evenly picked), the points ``keep`` rejects left out; a single run (nothing swept) is its
    own point, labelled ``""``."""
    import numpy as np

    if not swept:
        return [("", ds)]
    stacked = ds.stack(_point=swept)
    index = stacked.indexes["_point"]
    points = []
    for k in range(stacked.sizes["_point"]):
        point = stacked.isel(_point=k)
        if keep is not None and not keep(point):
            continue
        values = index[k] if isinstance(index[k], tuple) else (index[k],)
        label = ", ".join(f"{name} = {value:.4g}" if isinstance(value, float | np.floating)
                          else f"{name} = {value}"
                          for name, value in zip(swept, values, strict=True))
        points.append((label, point.drop_vars(["_point", *swept], errors="ignore")))
    if len(points) > limit:
        picks = np.unique(np.round(np.linspace(0, len(points) - 1, limit)).astype(int))
        points = [points[i] for i in picks]
    return points


#: Variables a sweep adds per point (:mod:`boltzphlow.sweep`): bookkeeping, not results.
SWEEP_BOOKKEEPING = ("failed", "point_version", "point_schema_version")


def plot_sweep_scalars(ds: Any, out_dir: str | Path, stem: str, *,
                       names: list[str] | None = None, kind: str = "sweep") -> Path:
    """One panel per variable that has one value per sweep point, against the swept keys.

    A 1-D sweep gives lines against the swept coordinate; a 2-D sweep one line per value of
    the second swept key; a 3-D or larger sweep is drawn against its first key, one line per
    value of the second, with the others averaged.  Failed points (NaN) are left out of each
    line.  A swept key of strings (a choice such as ``solver.method``) is drawn at equally
    spaced positions labelled by its values.

    Parameters
    ----------
    ds
        A sweep result (:func:`sweep_dims` non-empty).
    names
        The variables to draw (default: every numeric variable with only swept dimensions,
        except the sweep's bookkeeping, :data:`SWEEP_BOOKKEEPING`).
    """
    import math

    import numpy as np
    from matplotlib.figure import Figure

    swept = sweep_dims(ds)
    if not swept:
        raise ValueError("not a sweep result (no 'sweep_dims' attribute)")
    if names is None:
        names = [name for name, var in ds.data_vars.items()
                 if name not in SWEEP_BOOKKEEPING and set(var.dims) <= set(swept) and var.dims
                 and var.dtype.kind in "iuf"]
    if not names:
        names = ["failed"]
    x, rest = swept[0], swept[1:]
    x_values = ds[x].to_numpy()
    numeric_x = x_values.dtype.kind in "iuf"
    xs = (np.asarray(x_values, dtype=float) if numeric_x
          else np.arange(x_values.size, dtype=float))
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, name in zip(axes, names, strict=False):
        var = ds[name]
        if x not in var.dims:
            ax.set_visible(False)
            continue
        if rest and rest[0] in var.dims:
            curves = [(f"{rest[0]} = {value:.4g}" if isinstance(value, float)
                       else f"{rest[0]} = {value}", var.sel({rest[0]: value}))
                      for value in ds[rest[0]].to_numpy().tolist()]
        else:
            curves = [("", var)]
        for label, curve in curves:
            extra = [d for d in curve.dims if d != x]
            if extra:
                curve = curve.mean(extra)
            ys = np.asarray(curve.transpose(x).to_numpy(), dtype=float)
            ok = np.isfinite(ys)
            ax.plot(xs[ok], ys[ok], "o-" if numeric_x else "o", ms=3 if numeric_x else 5,
                    label=label or None)
        if not numeric_x:
            ax.set_xticks(xs, [str(v) for v in x_values.tolist()])
        ax.set_xlabel(axis_label(ds[x]))
        ax.set_ylabel(axis_label(var))
        if rest and len(curves) > 1:
            ax.legend(fontsize=7)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    return save_figure(fig, out_dir, stem, kind)


def axis_label(da: Any, name: str | None = None) -> str:
    """``"long name (units)"`` of a variable (``name`` instead of its long name if given); no
    parentheses for a dimensionless ``"1"``."""
    text = name or str(da.attrs.get("long_name", da.name))
    units = str(da.attrs.get("units", ""))
    return text if units in ("", "1") else f"{text} ({units})"
