"""Parameter sweeps: run a config over a grid of values of any of its keys, in parallel on Dask.

>>> import boltzphlow as bp
>>> ds = bp.sweep("photoexcited_fig2a", vary={"omega_p": "0.2:0.8:61", "zeta": [1, 5, 20]},
...               workers=2, out="fig2a.nc")                               # doctest: +SKIP

* The grid is the Cartesian product of the ``vary`` values (in the order given).  A value list
  is a list, ``"start:stop:count"`` (``numpy.linspace``) or ``"a,b,c"`` (each a TOML value or a
  bare string).  A swept name is a (dotted) key of the job's config schema; anything else is a
  ``ValueError``.  Without ``vary`` a config's own ``[sweep]`` table is used.
* Points run on a Dask local cluster of ``workers`` processes (one thread each), or on an
  existing cluster given by its ``scheduler`` address; ``workers=1`` without a scheduler runs
  serially in this process (no Dask).  The worker processes are spawned, so a script calling
  :func:`sweep` with ``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard;
  with ``scheduler`` the workers must be able to import BoltzPhlow (and the job's module).
* Each finished point is stored as ``<out stem>.points/<key>.nc`` where ``key`` hashes the
  point's whole config: re-running a sweep reuses finished points and runs the rest (failed
  points are retried).
* A point that raises is reported and recorded (variable ``failed`` and attribute
  ``sweep_errors``), never fatal; the sweep fails only when every point failed.
* The results are concatenated along the swept dimensions (outer join on the other
  coordinates, NaN where a point failed) into one NetCDF file, ``out``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import sys
import time
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from pydantic import BaseModel

from boltzphlow import results
from boltzphlow.config import _parse_value, read_toml
from boltzphlow.jobs import Job, SilentContext

__all__ = ["parse_values", "point_key", "sweep", "sweep_points"]

#: Suffix of the folder that stores the per-point results next to the output file.
POINTS_SUFFIX = ".points"


# --------------------------------------------------------------------------------------------
# values and keys


def parse_values(spec: Any) -> list[Any]:
    """Values of one swept key from a list, ``"start:stop:count"`` or ``"a,b,c"``.

    Raises
    ------
    ValueError
        For an empty list, a malformed range or a count < 1.
    """
    if isinstance(spec, str):
        text = spec.strip()
        parts = text.split(":")
        if len(parts) == 3:
            try:
                start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
            except ValueError:
                raise ValueError(f"bad range {spec!r}: expected start:stop:count") from None
            if count < 1:
                raise ValueError(f"bad range {spec!r}: count must be >= 1")
            return [float(v) for v in np.linspace(start, stop, count)]
        values = [_parse_value(item.strip()) for item in text.split(",") if item.strip()]
    elif isinstance(spec, Sequence):
        values = list(spec)
    elif isinstance(spec, np.ndarray):
        values = spec.tolist()
    else:
        values = [spec]
    if not values:
        raise ValueError(f"no values in {spec!r}")
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _field_type(schema: type[BaseModel], name: str) -> Any:
    annotation = schema.model_fields[name].annotation
    for arg in (typing.get_args(annotation) if _is_union(annotation) else (annotation,)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def is_config_key(schema: type[BaseModel], dotted: str) -> bool:
    """Whether ``dotted`` (``"omega_p"``, ``"pump.zeta0"``) names a field of ``schema``."""
    model: Any = schema
    parts = dotted.split(".")
    for depth, part in enumerate(parts):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return False
        if part not in model.model_fields:
            return False
        if depth < len(parts) - 1:
            model = _field_type(model, part)
    return True


def _set_key(raw: dict[str, Any], dotted: str, value: Any) -> None:
    table = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = table.get(part)
        if not isinstance(child, dict):
            child = {}
            table[part] = child
        table = child
    table[parts[-1]] = value


def point_key(raw_point: Mapping[str, Any]) -> str:
    """Stable file key of one point: a hash of its whole config."""
    text = json.dumps(raw_point, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def sweep_points(raw: Mapping[str, Any], vary: Mapping[str, Sequence[Any]]
                 ) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """``[(values, raw config of the point), ...]`` over the Cartesian product of ``vary``."""
    names = list(vary)
    points = []
    for values in itertools.product(*(vary[name] for name in names)):
        point = json.loads(json.dumps(raw, default=str))
        point.pop("sweep", None)
        for name, value in zip(names, values, strict=True):
            _set_key(point, name, value)
        points.append((values, point))
    return points


# --------------------------------------------------------------------------------------------
# running one point (on a worker)


def run_point(job: Job, raw_point: dict[str, Any]) -> xr.Dataset:
    """Validate and run one point's config with ``job``; return its finalized result."""
    from pydantic import ValidationError

    from boltzphlow.config import _config_error

    start = time.perf_counter()
    try:
        config = job.config_model.model_validate(raw_point)
    except ValidationError as exc:
        raise _config_error(exc, job.config_model) from None
    ds = job.run(config, SilentContext())
    return results.finalize(ds, job.name, raw_point, time.perf_counter() - start)


# --------------------------------------------------------------------------------------------
# the sweep


def sweep(config_or_path: str | Path | Mapping[str, Any],
          vary: Mapping[str, Any] | None = None, *, workers: int = 2,
          scheduler: str | None = None, out: str | Path | None = None,
          overrides: Sequence[str] = (), quiet: bool = True,
          report: Callable[[str], None] | None = None) -> xr.Dataset:
    """Run a config over a grid of parameter values and concatenate the results.

    Parameters
    ----------
    config_or_path
        A TOML file, a built-in example name, or a raw config dict.
    vary
        ``{key: values}`` (see :func:`parse_values`); default: the config's ``[sweep]`` table.
    workers
        Worker processes of the local Dask cluster (1: serial, in this process).
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); ``workers`` is ignored.
    out
        Output NetCDF file; per-point results go to the folder ``<out without .nc>.points``.
        ``None``: nothing is written and no point is reused.
    overrides
        ``--set key=value`` strings applied to the config first.
    quiet
        No progress bar.
    report
        Called with one line per failed point (default: print to stderr).

    Returns
    -------
    xarray.Dataset
        The points' results along the swept dimensions, plus ``failed`` (1 where a point
        raised) and the attributes ``sweep_vary``, ``sweep_errors``, ``n_points``, ``n_failed``.

    Raises
    ------
    ValueError
        For a swept name that is not a config key, bad values, an invalid config, or when
        every point failed.
    """
    from boltzphlow.config import apply_overrides, validate_config

    if isinstance(config_or_path, Mapping):
        raw = dict(config_or_path)
    else:
        raw = read_toml(config_or_path)
    raw = apply_overrides(raw, overrides)
    job, _ = validate_config(raw)
    if vary is None or not len(vary):
        vary = raw.get("sweep") or {}
    if not vary:
        raise ValueError("nothing to sweep: give vary (--vary key=values) or a [sweep] table")
    grid = {}
    for name, spec in vary.items():
        if name in ("model", "sweep") or not is_config_key(job.config_model, name):
            raise ValueError(f"cannot sweep {name!r}: not a config key of model {job.name!r}")
        grid[name] = parse_values(spec)
    points = sweep_points(raw, grid)
    for _, point in points:  # schema errors are the user's: fail before running anything
        validate_config(point)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")

    folder = None if out is None else _points_folder(Path(out))
    done: dict[int, xr.Dataset] = {}
    todo: list[int] = []
    for k, (_, point) in enumerate(points):
        path = None if folder is None else folder / f"{point_key(point)}.nc"
        if path is not None and path.is_file():
            try:
                done[k] = results.load(path)
                continue
            except ValueError:
                pass
        todo.append(k)
    reused = len(done)
    errors: dict[int, str] = {}
    say = report or (lambda line: print(line, file=sys.stderr))
    started = time.perf_counter()

    def finished(k: int, ds: xr.Dataset | None, error: BaseException | None) -> None:
        if error is not None:
            message = f"{type(error).__name__}: {' '.join(str(error).split())}"
            errors[k] = message
            say(f"boltzphlow sweep: point {_describe(grid, points[k][0])} failed: {message}")
            return
        assert ds is not None
        done[k] = ds
        if folder is not None:
            results.save(ds, folder / f"{point_key(points[k][1])}.nc")

    with _Progress(len(points), reused, quiet) as bar:
        if todo and scheduler is None and workers == 1:
            for k in todo:
                try:
                    ds = run_point(job, points[k][1])
                except Exception as exc:  # noqa: BLE001 - a failed point is recorded
                    finished(k, None, exc)
                else:
                    finished(k, ds, None)
                bar.advance(k in errors)
        elif todo:
            _run_on_dask(job, [points[k][1] for k in todo], todo, workers, scheduler,
                         finished, bar)
    if not done:
        first = next(iter(errors.values()), "no result")
        raise ValueError(f"every sweep point failed (first: {first})")
    combined = _combine(grid, points, done, errors)
    combined.attrs.update(sweep_reused=reused, sweep_wall_time_s=time.perf_counter() - started)
    base = {key: value for key, value in raw.items()}
    combined = results.finalize(combined, job.name, base, time.perf_counter() - started)
    if out is not None:
        results.save(combined, out)
    return combined


def _points_folder(out: Path) -> Path:
    folder = out.parent / (out.name.removesuffix(".nc") + POINTS_SUFFIX)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _describe(grid: Mapping[str, Any], values: Sequence[Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in zip(grid, values, strict=True))


def _run_on_dask(job: Job, raws: list[dict[str, Any]], indices: list[int], workers: int,
                 scheduler: str | None,
                 finished: Callable[[int, xr.Dataset | None, BaseException | None], None],
                 bar: _Progress) -> None:
    """Run the points on a Dask cluster (a new local one, or the one at ``scheduler``)."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster, set_as_default=False)
    else:
        client = Client(scheduler, set_as_default=False)
    try:
        futures = client.map(run_point, [job] * len(raws), raws, pure=False)
        position = {future.key: k for future, k in zip(futures, indices, strict=True)}
        for future in as_completed(futures, loop=client.loop):
            k = position[future.key]
            error = future.exception()
            if error is not None:
                finished(k, None, error)
            else:
                finished(k, future.result(), None)
            bar.advance(error is not None)
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _combine(grid: Mapping[str, list[Any]], points: list, done: Mapping[int, xr.Dataset],
             errors: Mapping[int, str]) -> xr.Dataset:
    """Concatenate point results along a stacked dimension and unstack to the grid."""
    names = list(grid)
    order = sorted(done)
    pieces = []
    for k in order:
        ds = done[k]
        keep = {key: value for key, value in ds.attrs.items()}
        pieces.append(ds.assign_attrs(keep).expand_dims(_point=[k]))
    combined = xr.concat(pieces, dim="_point", join="outer", combine_attrs="drop_conflicts",
                         data_vars="all", coords="different", compat="equals")
    for i, name in enumerate(names):
        combined = combined.assign_coords(
            {name: ("_point", [points[k][0][i] for k in order])})
    if len(names) == 1:
        combined = combined.swap_dims({"_point": names[0]}).drop_vars("_point")
    else:
        combined = combined.drop_vars("_point").set_index(_point=names).unstack("_point")
    combined = combined.reindex({name: grid[name] for name in names})
    for name in names:
        combined[name].attrs.update(units="config units", long_name=f"swept config key {name}")
    failed = np.zeros([len(grid[name]) for name in names], dtype=np.int8)
    messages = []
    for k, message in errors.items():
        index = tuple(grid[name].index(points[k][0][i]) for i, name in enumerate(names))
        failed[index] = 1
        messages.append({"point": dict(zip(names, points[k][0], strict=True)),
                         "error": message})
    combined["failed"] = (names, failed, {"units": "1",
                                          "long_name": "point failed (1) or finished (0)"})
    for name in ("model", "config", "complete", "wall_time_s", "created"):
        combined.attrs.pop(name, None)
    combined.attrs.update(sweep_vary=json.dumps({n: grid[n] for n in names}, default=str),
                          sweep_errors=json.dumps(messages, default=str),
                          n_points=len(points), n_failed=len(errors))
    return combined


class _Progress:
    """A rich progress bar over the points (nothing when quiet)."""

    def __init__(self, total: int, already: int, quiet: bool) -> None:
        self.total, self.done, self.failed, self.quiet = total, already, 0, quiet
        self._bar: Any = None

    def __enter__(self) -> _Progress:
        if not self.quiet:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[failed]} failed"),
                                 TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True))
            self._task = self._bar.add_task("sweep", total=self.total, completed=self.done,
                                            failed=0)
            self._bar.start()
        return self

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, failed=self.failed)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
