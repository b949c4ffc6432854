"""Parameter sweeps: run a config over a grid of values of any of its keys, in parallel on Dask.

>>> import boltzphlow as bp
>>> ds = bp.sweep("photoexcited_fig2a", vary={"omega_p": "0.2:0.8:61", "zeta": [1, 5, 20]},
...               workers=2, out="fig2a.nc")                               # doctest: +SKIP

* The grid is the Cartesian product of the ``vary`` values (in the order given).  A value list
  is a list, ``"start:stop:count"`` (``numpy.linspace``) or ``"a,b,c"`` (each a TOML value or a
  bare string such as ``100mK``), see :func:`boltzphlow.config.parse_sweep_values`.  A swept
  name is a (dotted) key of the job's config schema.  Without ``vary`` the config's own
  ``[sweep]`` table is used.  A grid of more than :data:`MAX_SWEEP_POINTS` points, or one whose
  point configs would not fit in memory, is refused before it is built.
* Points run on a Dask local cluster of ``workers`` processes (one thread each), or on an
  existing cluster given by its ``scheduler`` address; ``workers=1`` without a scheduler runs
  serially in this process (no Dask).  The worker processes are spawned, so a script calling
  :func:`sweep` with ``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard;
  with ``scheduler`` the workers must be able to import BoltzPhlow (and the job's module).
  On a cluster, twice as many points as worker threads are queued at a time (topped up as
  points finish), and each point runs with its host's share of the cores as BLAS threads
  (one when there are as many worker threads as cores).
* Each finished point is stored as ``<out stem>.points/<key>.nc`` where ``key`` hashes the
  point's whole config; on a cluster the worker that computed it writes it (when it shares
  the client's file system, else the client does).  A rerun reuses a stored point only when
  it was computed from the same config by the same BoltzPhlow version with the same
  :data:`RESULT_SCHEMA_VERSION`; points of another version are recomputed (and overwritten),
  unless ``reuse_other_versions=True``, which reuses them with a warning.  Failed points are
  retried.
* A point that raises is reported and recorded (variable ``failed`` and attribute
  ``sweep_errors``), never fatal; the sweep fails only when every point failed.
* Ctrl-C (``KeyboardInterrupt``, or SIGTERM where the caller turns it into one) cancels the
  remaining points, shuts the local cluster down without log output and raises
  ``KeyboardInterrupt`` once; the finished points stay in ``<out stem>.points/`` for a rerun.
  The worker processes of a local cluster ignore Ctrl-C themselves (when :func:`sweep` runs
  in the main thread), so no worker prints a traceback and none finishes its point anyway.
* Python warnings issued by a point are recorded with it (attribute ``warnings`` of the
  stored point, ``sweep_warnings`` of the result) and reported once each, as one line, through
  ``report``, wherever the point ran.

The combined result
-------------------
The points' results are concatenated along the swept dimensions, which come first in every
variable that depends on them and are listed in ``attrs["sweep_dims"]`` (a JSON list).

* Swept coordinates hold the values the config schema validated: numbers in the key's default
  unit (``T_bath = "100mK"`` is ``0.1`` with ``units = "K"``; ``units = "1"`` for a plain
  number) or strings for choices (``units = "1"``); ``long_name`` is the field's description,
  else ``"swept config key <key>"``.  Two values naming the same point are an error.
* Failed points are NaN in every float variable (integer and boolean variables become float,
  strings ``""``); coordinates along the swept dimensions are complete.
* Other coordinates are joined (outer join): where points use different grids (an energy grid
  that depends on a swept temperature), the coordinate is the union of the points' values and
  each point's data sit at its own values, NaN elsewhere (drop NaN to plot one point).
* A point variable whose name is a swept key is dropped when it equals the swept value at every
  point, and kept as ``<key>_result`` otherwise.
* ``failed`` (1 where a point raised), ``point_version`` (the BoltzPhlow version that computed
  the point, ``""`` where it failed) and ``point_schema_version`` (its
  :data:`RESULT_SCHEMA_VERSION`, 0 where it failed) are recorded per point; attributes
  ``sweep_vary``, ``sweep_errors``, ``sweep_warnings``, ``n_points``, ``n_failed``,
  ``sweep_reused`` and
  ``sweep_recomputed`` (stored points of another version computed again) describe the run,
  and where its time went: ``sweep_compute_time_s`` and ``sweep_store_time_s`` (summed over
  the points computed, in the workers), ``sweep_busiest_worker_time_s``,
  ``sweep_startup_time_s`` (starting the cluster or connecting) and ``sweep_combine_time_s``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from pydantic import BaseModel

from boltzphlow import results
from boltzphlow.config import (
    ConfigError,
    is_config_key,
    parse_sweep_values,
    read_toml,
    validate_for,
    validate_sweep,
)
from boltzphlow.errors import ResourceError
from boltzphlow.jobs import Job, SilentContext
from boltzphlow.resources import blas_threads, check_memory, format_bytes
from boltzphlow.schema import field_at

__all__ = ["MAX_SWEEP_POINTS", "RESULT_SCHEMA_VERSION", "PointRecord", "compute_point",
           "is_config_key", "parse_values", "point_key", "run_point", "sweep", "sweep_points"]

#: Suffix of the folder that stores the per-point results next to the output file.
POINTS_SUFFIX = ".points"

#: Version of the layout of results (variables, dimensions, meaning).  A stored sweep point is
#: reused only by code of the same package version and result schema; bump this when a job's
#: output changes without a new package version.  2: solver statistics as ``solver_*``
#: attributes, the self-consistent gap updated after every step (issue 8).  3: the bte job's
#: anomalous Hall decomposition (intrinsic, side jump, skew scattering; issue 10).  4: the
#: superconductor's qp_phonon_power and coherence factors from the exact bin integral of ϕ.
RESULT_SCHEMA_VERSION = 4

#: Most points of one sweep (the product of the numbers of values of the swept keys).
MAX_SWEEP_POINTS = 100_000

#: Bytes one point's raw config takes in memory, per character of its JSON form (measured:
#: 6 to 8 for the built-in examples), and per point on top of it.
_CONFIG_BYTES_PER_CHAR = 10
_POINT_OVERHEAD_BYTES = 512

#: Whether Dask workers send each point's result back with its record (fast) or the client
#: reads the point file they wrote (about 10x slower per point; kept for measurements).
_SHIP_RESULTS = True

#: Relative difference below which two swept numbers are the same point.
_SAME_RTOL = 1e-12

#: ``parse_values`` is :func:`boltzphlow.config.parse_sweep_values` (kept for compatibility).
parse_values = parse_sweep_values


# --------------------------------------------------------------------------------------------
# values and keys


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
    """``[(values, raw config of the point), ...]`` over the Cartesian product of ``vary``.

    The points come in C order (the last key varies fastest); their configs have no
    ``[sweep]`` table.
    """
    names = list(vary)
    base = json.dumps({key: value for key, value in raw.items() if key != "sweep"}, default=str)
    points = []
    for values in itertools.product(*(vary[name] for name in names)):
        point = json.loads(base)
        for name, value in zip(names, values, strict=True):
            _set_key(point, name, value)
        points.append((values, point))
    return points


def _attribute(config: Any, dotted: str) -> Any:
    """The validated value of a (dotted) key in a config model (``None`` if a table is)."""
    for part in dotted.split("."):
        if config is None:
            return None
        config = getattr(config, part)
    return config


def _as_text(raw: Any, value: Any) -> str:
    """A swept value as a string coordinate: a choice as it is, anything else as TOML/JSON."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return raw if isinstance(raw, str) else json.dumps(raw, default=str)


def _axis(schema: type[BaseModel], name: str, raw_values: Sequence[Any],
          validated: Sequence[Any], label: str) -> tuple[np.ndarray, dict[str, str]]:
    """Coordinate values and attributes of one swept key (see the module docstring)."""
    from boltzphlow.schema import field_unit

    field = field_at(schema, name)
    numeric = all(isinstance(v, int | float | np.integer | np.floating)
                  and not isinstance(v, bool | np.bool_) for v in validated)
    if numeric:
        integral = all(isinstance(v, int | np.integer) for v in validated)
        values = np.asarray(validated, dtype=np.int64 if integral else np.float64)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        units = field_unit(field) or str(extra.get("unit") or "1")  # a model's own units
    else:
        values = np.asarray([_as_text(r, v) for r, v in zip(raw_values, validated,
                                                             strict=True)], dtype=str)
        units = "1"
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    if numeric:  # "1000 ps" and "1 ns" differ by rounding in the conversion
        same = np.isclose(ranked[1:], ranked[:-1], rtol=_SAME_RTOL, atol=0) | (
            ranked[1:] == ranked[:-1])
    else:
        same = ranked[1:] == ranked[:-1]
    if same.any():
        j = int(np.argmax(same))
        first, second = sorted((int(order[j]), int(order[j + 1])))
        shown = f" ({values[first]:g} {units})" if numeric else ""
        raise ConfigError(label, f"values {raw_values[first]!r} and {raw_values[second]!r} "
                                 f"are the same point{shown}")
    description = " ".join((getattr(field, "description", None) or "").split())
    attrs = {"units": units, "long_name": description or f"swept config key {name}",
             "config_key": name}
    return values, attrs


# --------------------------------------------------------------------------------------------
# running one point (on a worker)


def run_point(job: Job, raw_point: dict[str, Any]) -> xr.Dataset:
    """Validate and run one point's config with ``job``; return its finalized result.

    The result carries ``attrs["result_schema_version"]`` (:data:`RESULT_SCHEMA_VERSION` of
    the code that ran it) besides the usual provenance, and ``attrs["warnings"]`` (a JSON list
    of messages) when the run issued Python warnings: they are recorded here, under the
    warning filters in force, so that the sweep reports them as lines of its own wherever the
    point ran (a Dask worker's stderr is not the user's).
    """
    import warnings

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        config = validate_for(job, raw_point)
        ds = job.run(config, SilentContext())
    ds = results.finalize(ds, job.name, raw_point, time.perf_counter() - start)
    ds.attrs["result_schema_version"] = RESULT_SCHEMA_VERSION
    messages = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
    if messages:
        ds.attrs["warnings"] = json.dumps(messages, ensure_ascii=False)
    return ds


@dataclass(frozen=True, slots=True)
class PointRecord:
    """What a worker sends back for one finished point: its result and how it went.

    Attributes
    ----------
    version
        ``(BoltzPhlow version, result schema version)`` of the code that computed the point.
    warnings
        The Python warnings the point issued (see :func:`run_point`).
    nbytes
        Size of the point's result in memory (bytes).
    compute_s
        Seconds spent in :func:`run_point` (validating the config and running the job).
    store_s
        Seconds spent writing the point's file.
    path
        The point file the worker wrote, or ``None`` when it wrote none (no output file, or
        the sweep's folder is not visible from the worker).
    result
        The result itself, unless the client asked for the record alone and reads the file
        (``None`` then).
    worker
        Where it ran: the Dask worker's address, or ``"local"``.
    """

    version: tuple[str, int]
    warnings: tuple[str, ...]
    nbytes: int
    compute_s: float
    store_s: float
    path: str | None
    result: xr.Dataset | None
    worker: str


def compute_point(job: Job, raw_point: dict[str, Any], path: str | None = None, *,
                  marker: str | None = None, blas: int | Mapping[str, int] | None = None,
                  return_result: bool = True) -> PointRecord:
    """Run one point and store its result at ``path``; return a :class:`PointRecord`.

    This is the task a sweep sends to its Dask workers: the worker writes the point file
    itself (atomically, :func:`boltzphlow.results.save`), so the client never spends its time
    writing files, and sends the result back with the record: Dask's pickling moves a result
    about 10x faster than the client could read the file again (measured: 5-20 ms against
    100-200 ms for a 200 kB result, see ``benchmarks/bench_sweep_scaling.py --files``).

    Parameters
    ----------
    job, raw_point
        As for :func:`run_point`.
    path
        Absolute path of the point file, or ``None`` to write nothing.
    marker
        A file the client created in the sweep's folder: the point is written only when the
        worker sees it (a worker that does not share the client's file system returns the
        result instead of writing it where the client would never find it).
    blas
        BLAS threads while the job runs: a number, or ``{host: threads of all workers on that
        host}`` from which a worker takes its share of the cores (one BLAS thread when there
        are as many worker threads as cores; one on a host not listed).  ``None``: unchanged.
    return_result
        Send the result back in the record; ``False``: only the record, unless no file was
        written.
    """
    limit = _blas_limit(blas)
    start = time.perf_counter()
    with contextlib.nullcontext() if limit is None else blas_threads(limit):
        ds = run_point(job, raw_point)
    computed = time.perf_counter()
    worker = _worker_address()
    written = None
    if path is not None and (marker is None or os.path.exists(marker)):
        with _synchronous_dask(worker != "local"):
            results.save(ds, path)
        written = path
    return PointRecord(version=_version_of(ds), warnings=tuple(_warnings_of(ds)),
                       nbytes=int(ds.nbytes), compute_s=computed - start,
                       store_s=time.perf_counter() - computed, path=written,
                       result=ds if return_result or written is None else None, worker=worker)


def _synchronous_dask(on_worker: bool) -> contextlib.AbstractContextManager[Any]:
    """Dask's synchronous scheduler while a worker writes a file.

    Asked for a scheduler, xarray's NetCDF writer would otherwise open a client connection
    from the worker back to the scheduler (slow, and left for the worker's shutdown to close).
    """
    if not on_worker:
        return contextlib.nullcontext()
    import dask

    return dask.config.set(scheduler="synchronous")


def _worker_address() -> str:
    """The address of the Dask worker running this task, or ``"local"``."""
    if "distributed" not in sys.modules:
        return "local"
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:
        return "local"


def _cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without affinity
        return os.cpu_count() or 1


def _blas_limit(blas: int | Mapping[str, int] | None) -> int | None:
    """BLAS threads of one task: ``blas`` itself, or this host's share of its cores."""
    if blas is None or isinstance(blas, int):
        return blas
    address = _worker_address()
    if address == "local":
        return 1
    from distributed.comm import get_address_host

    threads = blas.get(get_address_host(address))
    return max(1, _cores() // threads) if threads else 1


def _warnings_of(ds: xr.Dataset) -> list[str]:
    """The warnings recorded with a point's result (see :func:`run_point`)."""
    try:
        messages = json.loads(str(ds.attrs.get("warnings") or "[]"))
    except (ValueError, RecursionError):
        return []
    return [str(m) for m in messages] if isinstance(messages, list) else []


def _version_of(ds: xr.Dataset) -> tuple[str, int]:
    """``(package version, result schema version)`` that computed a stored point."""
    try:
        schema = int(ds.attrs.get("result_schema_version", 0))
    except (TypeError, ValueError):
        schema = 0
    return str(ds.attrs.get("boltzphlow_version", "unknown")), schema


def _current_version() -> tuple[str, int]:
    import boltzphlow

    return str(boltzphlow.__version__), RESULT_SCHEMA_VERSION


def _stored_point(path: Path, point: Mapping[str, Any]) -> xr.Dataset | None:
    """The stored result of ``point`` at ``path`` if it is a complete result of that config."""
    if not path.is_file():
        return None
    try:
        ds = results.load(path)
        stored = json.loads(str(ds.attrs.get("config", "null")))
    except (ValueError, OSError, RecursionError):
        return None
    if not results.is_complete(ds) or stored != json.loads(json.dumps(point, default=str)):
        return None
    return ds


# --------------------------------------------------------------------------------------------
# the sweep


def sweep(config_or_path: str | Path | Mapping[str, Any],
          vary: Mapping[str, Any] | None = None, *, workers: int = 2,
          scheduler: str | None = None, out: str | Path | None = None,
          overrides: Sequence[str] = (), quiet: bool = True,
          report: Callable[[str], None] | None = None, reuse_other_versions: bool = False,
          max_points: int = MAX_SWEEP_POINTS) -> xr.Dataset:
    """Run a config over a grid of parameter values and concatenate the results.

    Parameters
    ----------
    config_or_path
        A TOML file, a built-in example name, or a raw config dict.
    vary
        ``{key: values}`` (see :func:`boltzphlow.config.parse_sweep_values`); default: the
        config's ``[sweep]`` table.
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
        Called with one line per failed point and per notice on stored points (default: print
        to stderr).
    reuse_other_versions
        Reuse stored points computed by another BoltzPhlow version or result schema (with a
        warning through ``report``) instead of computing them again.
    max_points
        Largest grid accepted (default :data:`MAX_SWEEP_POINTS`).

    Returns
    -------
    xarray.Dataset
        The points' results along the swept dimensions (see the module docstring).

    Raises
    ------
    ValueError
        For a swept name that is not a config key, bad values, an invalid config, when every
        point failed, or (:class:`~boltzphlow.errors.ResourceError`) for a grid larger than
        ``max_points`` or one whose configs or combined result would not fit in memory.
    KeyboardInterrupt
        Once, after a Ctrl-C has cancelled the remaining points and shut the cluster down.
    """
    from boltzphlow.config import apply_overrides, validate_config

    if isinstance(config_or_path, Mapping):
        raw = dict(config_or_path)
    else:
        raw = read_toml(config_or_path)
    raw = apply_overrides(raw, overrides)
    job, _ = validate_config(raw)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    grid, labels = _grid(job, raw, vary)
    names = list(grid)
    shape = tuple(len(grid[name]) for name in names)
    n_points = math.prod(shape)
    keys = ", ".join(labels[name] for name in names)
    if n_points > max_points:
        sizes = " x ".join(f"{len(grid[name])} {name}" for name in names)
        raise ResourceError(f"a sweep of {n_points} points ({sizes}) is more than the "
                            f"{max_points} allowed; give fewer values to {keys}")
    base_json = json.dumps({k: v for k, v in raw.items() if k != "sweep"}, default=str)
    check_memory(n_points * (_CONFIG_BYTES_PER_CHAR * len(base_json) + _POINT_OVERHEAD_BYTES),
                 f"the configs of {n_points} sweep points", [keys])

    points = sweep_points(raw, grid)
    seen: dict[str, list[Any]] = {name: [None] * len(grid[name]) for name in names}
    for k, (_, point) in enumerate(points):  # schema errors are the user's: fail before running
        config = validate_for(job, point)
        for name, i in zip(names, np.unravel_index(k, shape), strict=True):
            if seen[name][i] is None:
                seen[name][i] = _attribute(config, name)
    axes = {name: _axis(job.config_model, name, grid[name], seen[name], labels[name])
            for name in names}

    say = report or (lambda line: print(line, file=sys.stderr))
    folder = None if out is None else _points_folder(Path(out))
    current = _current_version()
    done, versions, recomputed = _stored_points(folder, points, reuse_other_versions, say)
    todo = [k for k in range(len(points)) if k not in done]
    reused = len(done)
    errors: dict[int, str] = {}
    notes: dict[int, list[str]] = {}
    said: set[str] = set()
    started = time.perf_counter()
    sized = [False]
    timings: list[tuple[str, float, float]] = []
    startup = 0.0

    def note(k: int, messages: list[str]) -> None:  # each distinct warning once, as one line
        if messages:
            notes[k] = messages
        for message in messages:
            if message not in said:
                said.add(message)
                say(f"boltzphlow sweep: point {_describe(grid, points[k][0])}: warning: "
                    f"{message}")

    def check_size(nbytes: int) -> None:
        if not sized[0]:  # before most points run: would all of them fit, combined?
            sized[0] = True
            check_memory(n_points * nbytes, f"the combined result of {n_points} sweep "
                         f"points ({format_bytes(nbytes)} each)", [keys])

    def finished(k: int, record: PointRecord | None, error: BaseException | None) -> None:
        if error is None and record is not None:
            try:
                ds = _result_of(record, folder, points[k][1])
            except (OSError, ValueError) as exc:  # a point file gone or damaged meanwhile
                error = exc
        if error is not None:
            message = f"{type(error).__name__}: {' '.join(str(error).split())}"
            errors[k] = message
            say(f"boltzphlow sweep: point {_describe(grid, points[k][0])} failed: {message}")
            return
        assert record is not None
        done[k], versions[k] = ds, record.version
        timings.append((record.worker, record.compute_s, record.store_s))
        note(k, list(record.warnings))
        check_size(record.nbytes)

    for k in sorted(done):
        note(k, _warnings_of(done[k]))
    if done:
        check_size(next(iter(done.values())).nbytes)
    with _Progress(len(points), reused, quiet) as bar:
        if todo and scheduler is None and workers == 1:
            for k in todo:
                path = None if folder is None else str(folder / f"{point_key(points[k][1])}.nc")
                try:
                    record = compute_point(job, points[k][1], path)
                except Exception as exc:  # noqa: BLE001 - a failed point is recorded
                    finished(k, None, exc)
                else:
                    finished(k, record, None)
                bar.advance(k in errors)
        elif todo:
            startup = _run_on_dask(job, todo, [points[k][1] for k in todo], folder, workers,
                                   scheduler, finished, bar)
    if not done:
        first = next(iter(errors.values()), "no result")
        raise ValueError(f"every sweep point failed (first: {first})")
    if len(set(versions.values()) | {current}) > 1 and not reuse_other_versions:
        say("boltzphlow sweep: warning: points were computed by other versions than this "
            f"one: {sorted(set(versions.values()))} (see variable point_version)")
    combining = time.perf_counter()
    combined = _combine(axes, shape, done, errors, versions, labels)
    combined.attrs.update(
        sweep_vary=json.dumps(grid, default=str), sweep_warnings=json.dumps(
            [{"point": dict(zip(names, points[k][0], strict=True)), "warning": message}
             for k, messages in sorted(notes.items()) for message in messages], default=str),
        sweep_reused=reused, sweep_recomputed=recomputed,
        sweep_wall_time_s=time.perf_counter() - started,
        sweep_compute_time_s=sum(t for _, t, _ in timings),
        sweep_store_time_s=sum(t for _, _, t in timings),
        sweep_busiest_worker_time_s=_busiest(timings),
        sweep_startup_time_s=startup,
        sweep_combine_time_s=time.perf_counter() - combining,
        result_schema_version=RESULT_SCHEMA_VERSION)
    base = {key: value for key, value in raw.items() if key != "sweep"}
    base["sweep"] = raw["sweep"] if not vary else {  # the grid, so the file says what ran
        name: spec if isinstance(spec, str) else grid[name] for name, spec in vary.items()}
    combined = results.finalize(combined, job.name, base, time.perf_counter() - started)
    if out is not None:
        results.save(combined, out)
    return combined


def _result_of(record: PointRecord, folder: Path | None, point: dict[str, Any]
               ) -> xr.Dataset:
    """The result of a finished point: the one in ``record`` (stored here when the sweep has
    a folder its worker could not see), else read from the file its worker wrote."""
    if record.result is not None:
        if record.path is None and folder is not None:
            results.save(record.result, folder / f"{point_key(point)}.nc")
        return record.result
    assert record.path is not None
    return results.load(record.path)


def _busiest(timings: Sequence[tuple[str, float, float]]) -> float:
    """Largest total of compute and store seconds on one worker (the least a sweep takes)."""
    busy: dict[str, float] = {}
    for worker, compute_s, store_s in timings:
        busy[worker] = busy.get(worker, 0.0) + compute_s + store_s
    return max(busy.values(), default=0.0)


def _stored_points(folder: Path | None, points: list[tuple[tuple[Any, ...], dict[str, Any]]],
                   reuse_other_versions: bool, say: Callable[[str], None]
                   ) -> tuple[dict[int, xr.Dataset], dict[int, tuple[str, int]], int]:
    """``(results, versions, number recomputed)`` of the points stored in ``folder``.

    A stored point of this version is reused; one of another version (package or result
    schema) only with ``reuse_other_versions`` (with a warning line), else it is left out, to
    be computed again (a line says so).
    """
    current = _current_version()
    done: dict[int, xr.Dataset] = {}
    versions: dict[int, tuple[str, int]] = {}
    other: dict[tuple[str, int], int] = {}
    for k, (_, point) in enumerate(points):
        stored = None if folder is None else _stored_point(
            folder / f"{point_key(point)}.nc", point)
        if stored is None:
            continue
        version = _version_of(stored)
        if version != current:
            other[version] = other.get(version, 0) + 1
        if version == current or reuse_other_versions:
            done[k], versions[k] = stored, version
    if other:
        found = "; ".join(f"{count} by boltzphlow {v} (result schema {s})"
                          for (v, s), count in other.items())
        mine = f"boltzphlow {current[0]} (result schema {current[1]})"
        if reuse_other_versions:
            say(f"boltzphlow sweep: warning: reusing stored points computed {found}; this run "
                f"is {mine}: the result mixes versions (see variable point_version)")
        else:
            say(f"boltzphlow sweep: recomputing stored points computed {found} with {mine}")
    return done, versions, 0 if reuse_other_versions else sum(other.values())


def _grid(job: Job, raw: Mapping[str, Any], vary: Mapping[str, Any] | None
          ) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """``({key: raw values}, {key: how messages name it})`` from ``vary`` or ``[sweep]``."""
    if vary:
        grid = validate_sweep(dict(vary), job, label="--vary {}")
        return grid, {name: f"--vary {name}" for name in grid}
    table = raw.get("sweep")
    if not table:
        raise ValueError("nothing to sweep: give vary (--vary key=values) or a [sweep] table")
    grid = validate_sweep(table, job)
    return grid, {name: f"sweep.{name}" for name in grid}


def _points_folder(out: Path) -> Path:
    folder = out.parent / (out.name.removesuffix(".nc") + POINTS_SUFFIX)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _describe(grid: Mapping[str, Any], values: Sequence[Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in zip(grid, values, strict=True))


# --------------------------------------------------------------------------------------------
# Dask


def _start_local_cluster(workers: int) -> Any:
    """A local Dask cluster of ``workers`` processes that ignore SIGINT.

    A terminal's Ctrl-C goes to the whole process group.  The worker processes are spawned
    while SIGINT is ignored here, and an ignored signal stays ignored across ``exec`` (Python
    then installs no ``KeyboardInterrupt`` handler), so only this process handles Ctrl-C and
    shuts the workers down (:func:`_run_on_dask`).  The window in which this process ignores
    Ctrl-C too is the spawning alone (about a second), not the workers' start-up: the
    scheduler starts first, then the workers are added and SIGINT is restored as soon as each
    has a process id.  Worker logs are silenced below CRITICAL (a failing point is reported
    through its future).
    """
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.CRITICAL)
    if threading.current_thread() is not threading.main_thread():
        cluster.scale(workers)  # signal dispositions can only be changed by the main thread
        return cluster
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cluster.scale(workers)
        deadline = time.monotonic() + _SPAWN_TIMEOUT_S
        while time.monotonic() < deadline and not _spawned(cluster, workers):
            time.sleep(0.01)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
    return cluster


#: Longest wait for the worker processes to be spawned (s); SIGINT is ignored meanwhile.
_SPAWN_TIMEOUT_S = 10.0
#: Longest wait for the first worker of a local cluster to be ready (s).
_START_TIMEOUT_S = 120.0


def _spawned(cluster: Any, workers: int) -> bool:
    """Whether ``workers`` worker processes of a local cluster have a process id."""
    nannies = list(getattr(cluster, "workers", {}).values())
    pids = [getattr(getattr(getattr(nanny, "process", None), "process", None), "pid", None)
            for nanny in nannies]
    return len(pids) >= workers and all(pids)


@contextlib.contextmanager
def _quiet_teardown() -> Iterator[None]:
    """Ignore further Ctrl-C/SIGTERM and silence Dask's logs while a cluster shuts down."""
    handlers: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            handlers[signum] = signal.signal(signum, signal.SIG_IGN)
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado", "asyncio")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        for signum, handler in handlers.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _run_on_dask(job: Job, indices: list[int], raws: list[dict[str, Any]],
                 folder: Path | None, workers: int, scheduler: str | None,
                 finished: Callable[[int, PointRecord | None, BaseException | None], None],
                 bar: _Progress) -> float:
    """Run the points on a Dask cluster (a new local one, or the one at ``scheduler``).

    Each task is :func:`compute_point`: the worker writes its point file into ``folder``
    itself and sends back a :class:`PointRecord` with the result, so the client only counts
    and collects (a worker that cannot see ``folder`` sends the result, and the client writes
    it).  At most :func:`_in_flight` points are
    submitted at a time, topped up as points finish, so that every worker always has its next
    point queued and Ctrl-C has little to cancel; BLAS runs on each host's share of its cores
    (one thread per task when there are as many worker threads as cores).

    Returns the seconds spent starting the local cluster (or connecting to the scheduler)
    until the first point was submitted.  On any exception (Ctrl-C included) the remaining
    futures are cancelled and the client and local cluster closed with logs silenced and
    further signals ignored; then the exception is raised again, once.
    """
    from distributed import Client, as_completed

    start = time.perf_counter()
    startup = 0.0
    cluster = client = None
    futures: dict[Any, int] = {}
    marker = None if folder is None else folder.resolve() / f".sweep-{uuid.uuid4().hex}"
    try:
        if scheduler is None:
            cluster = _start_local_cluster(workers)
            client = Client(cluster, set_as_default=False)
            try:
                client.wait_for_workers(1, timeout=_START_TIMEOUT_S)
            except TimeoutError:
                raise ResourceError(f"could not start a local Dask cluster of {workers} "
                                    f"workers within {_START_TIMEOUT_S:g} s; try --workers 1"
                                    ) from None
            blas: int | dict[str, int] = max(1, _cores() // workers)
        else:
            client = Client(scheduler, set_as_default=False)
            blas = _threads_by_host(client)
        if marker is not None:
            marker.touch()
        paths = [None if folder is None else str(folder.resolve() / f"{point_key(raw)}.nc")
                 for raw in raws]
        pending = iter(range(len(raws)))
        token = uuid.uuid4().hex[:8]
        running = as_completed(loop=client.loop)
        limit = _InFlight(client, workers if scheduler is None else None)

        def submit() -> None:
            j = next(pending, None)
            if j is not None:
                future = client.submit(compute_point, job, raws[j], paths[j],
                                       marker=None if marker is None else str(marker),
                                       blas=blas, return_result=_SHIP_RESULTS,
                                       key=f"boltzphlow-sweep-{token}-{j}")
                futures[future] = indices[j]
                running.add(future)

        for _ in range(limit()):
            submit()
        startup = time.perf_counter() - start
        for future in running:
            k = futures.pop(future)
            while len(futures) < limit():
                before = len(futures)
                submit()
                if len(futures) == before:
                    break
            error = future.exception()
            finished(k, None if error is not None else future.result(), error)
            bar.advance(error is not None)
            future.release()
    except BaseException:
        with _quiet_teardown():
            _close(client, cluster, list(futures), marker)
        raise
    _close(client, cluster, list(futures), marker)
    return startup


def _threads_by_host(client: Any) -> dict[str, int]:
    """``{host: worker threads on it}`` of the cluster ``client`` is connected to."""
    threads: dict[str, int] = {}
    for info in client.scheduler_info(n_workers=-1).get("workers", {}).values():
        host = str(info.get("host", ""))
        threads[host] = threads.get(host, 0) + int(info.get("nthreads", 1))
    return threads


class _InFlight:
    """How many points to keep submitted: twice the cluster's threads, at least 4.

    The cluster's size is asked again at most once a second (an adaptive cluster grows while
    a sweep runs); a local cluster's is known.
    """

    def __init__(self, client: Any, workers: int | None) -> None:
        self._client, self._fixed = client, workers
        self._value, self._asked = 4, -math.inf

    def __call__(self) -> int:
        if self._fixed is not None:
            return max(4, 2 * self._fixed)
        now = time.monotonic()
        if now - self._asked >= 1.0:
            self._asked = now
            with contextlib.suppress(Exception):
                self._value = max(4, 2 * sum(self._client.nthreads().values()))
        return self._value


def _close(client: Any, cluster: Any, futures: list[Any], marker: Path | None) -> None:
    """Cancel what is left, close the client and the local cluster (errors ignored)."""
    if client is not None:
        with contextlib.suppress(Exception):
            if futures:
                client.cancel(futures)
        with contextlib.suppress(Exception):
            client.close()
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close()
    if marker is not None:
        marker.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# combining the points


def _combine(axes: Mapping[str, tuple[np.ndarray, dict[str, str]]], shape: tuple[int, ...],
             done: Mapping[int, xr.Dataset], errors: Mapping[int, str],
             versions: Mapping[int, tuple[str, int]], labels: Mapping[str, str]
             ) -> xr.Dataset:
    """The points' results on the grid: swept dimensions first, failed points NaN."""
    names = list(axes)
    n_points = math.prod(shape)
    order = sorted(done)
    point_values = {name: axes[name][0][np.unravel_index(order, shape)[i]]
                    for i, name in enumerate(names)}
    pieces = _without_clashes([done[k] for k in order], point_values)
    check_memory(_combined_bytes(pieces, n_points), f"the combined result of {n_points} sweep "
                 "points", [", ".join(labels[name] for name in names)])
    pieces = [ds.expand_dims(_point=[k]) for ds, k in zip(pieces, order, strict=True)]
    stacked = xr.concat(pieces, dim="_point", join="outer", combine_attrs="drop_conflicts",
                        data_vars="all", coords="different", compat="equals")
    variables: dict[str, xr.Variable] = {}
    for name, variable in stacked.variables.items():
        if name == "_point":
            continue
        if "_point" in variable.dims:
            variable = _on_grid(variable.transpose("_point", ...), order, names, shape)
        variables[str(name)] = variable
    coord_names = {str(name) for name in stacked.coords if name != "_point"}
    combined = xr.Dataset({name: var for name, var in variables.items()
                           if name not in coord_names},
                          coords={name: var for name, var in variables.items()
                                  if name in coord_names},
                          attrs=stacked.attrs)
    for name in names:
        values, attrs = axes[name]
        combined = combined.assign_coords({name: (name, values, attrs)})
    flat_failed = np.zeros(n_points, dtype=np.int8)
    flat_version = np.full(n_points, "", dtype=object)
    flat_schema = np.zeros(n_points, dtype=np.int16)
    messages = []
    for k, message in sorted(errors.items()):
        flat_failed[k] = 1
        index = np.unravel_index(k, shape)
        messages.append({"point": {name: axes[name][0][i].item()
                                   for name, i in zip(names, index, strict=True)},
                         "error": message})
    for k, (version, schema) in versions.items():
        flat_version[k], flat_schema[k] = version, schema
    combined["failed"] = (names, flat_failed.reshape(shape),
                          {"units": "1", "long_name": "point failed (1) or finished (0)"})
    combined["point_version"] = (names, flat_version.astype(str).reshape(shape),
                                 {"units": "1", "long_name": "BoltzPhlow version that "
                                  "computed the point ('' where it failed)"})
    combined["point_schema_version"] = (names, flat_schema.reshape(shape),
                                        {"units": "1", "long_name": "result schema version "
                                         "of the point (0 where it failed)"})
    combined = combined.transpose(*names, ...)
    for name in ("model", "config", "complete", "wall_time_s", "created",
                 "boltzphlow_version", "result_schema_version", "warnings"):
        combined.attrs.pop(name, None)
    combined.attrs.update(
        sweep_dims=json.dumps(names),
        sweep_errors=json.dumps(messages, default=str),
        n_points=n_points, n_failed=len(errors))
    return combined


def _without_clashes(pieces: list[xr.Dataset], point_values: Mapping[str, np.ndarray]
                     ) -> list[xr.Dataset]:
    """Drop or rename point variables and dimensions named like a swept key.

    A variable equal to the swept value at every point is redundant and dropped; any other
    variable or dimension of that name is renamed ``<key>_result``.
    """
    for name, values in point_values.items():
        if not any(name in ds.variables or name in ds.dims for ds in pieces):
            continue
        redundant = values.dtype.kind in "iuf" and all(
            name in ds.variables and name not in ds.dims and ds[name].ndim == 0
            and ds[name].dtype.kind in "iuf"
            and np.isclose(float(ds[name]), float(value), rtol=1e-12, atol=0)
            for ds, value in zip(pieces, values, strict=True))
        if redundant:
            pieces = [ds.drop_vars(name) for ds in pieces]
        else:
            pieces = [ds.rename({name: f"{name}_result"})
                      if name in ds.variables or name in ds.dims else ds for ds in pieces]
    return pieces


def _combined_bytes(pieces: Sequence[xr.Dataset], n_points: int) -> float:
    """Size of the combined result: every variable on the grid times the joined dimensions."""
    sizes: dict[str, int] = {}
    for dim in {dim for ds in pieces for dim in ds.dims}:
        coords = [ds[dim].to_numpy() for ds in pieces if dim in ds.coords]
        if coords and not all(np.array_equal(c, coords[0]) for c in coords):
            sizes[dim] = len(np.unique(np.concatenate(coords)))
        else:
            sizes[dim] = max(ds.sizes.get(dim, 0) for ds in pieces)
    names = {name for ds in pieces for name in ds.variables}
    total = 0.0
    for name in names:
        variable = next(ds.variables[name] for ds in pieces if name in ds.variables)
        total += max(variable.dtype.itemsize, 8) * math.prod(sizes[d] for d in variable.dims)
    return n_points * total


def _on_grid(variable: xr.Variable, order: Sequence[int], names: list[str],
             shape: tuple[int, ...]) -> xr.Variable:
    """A ``(_point, ...)`` variable of the finished points on the full grid ``names``."""
    data = variable.to_numpy()
    if data.dtype.kind == "O":  # strings read back from NetCDF, or a join that filled NaN
        data = _plain_object(data)
    n_points = math.prod(shape)
    if len(order) < n_points:
        if data.dtype.kind in "biu":
            data = data.astype(np.float64)
        fills = {"U": "", "S": b"", "M": np.datetime64("NaT"), "m": np.timedelta64("NaT")}
        full = np.full((n_points, *data.shape[1:]), fills.get(data.dtype.kind, np.nan),
                       dtype=data.dtype)
        full[np.asarray(order)] = data
        data = full
    return xr.Variable((*names, *variable.dims[1:]), data.reshape(*shape, *data.shape[1:]),
                       variable.attrs)


def _plain_object(data: np.ndarray) -> np.ndarray:
    """An object array as strings (missing entries ``""``) or floats (missing NaN)."""
    flat = data.ravel()
    if any(isinstance(item, str | bytes) for item in flat):
        return np.asarray(["" if item is None or (isinstance(item, float) and math.isnan(item))
                           else str(item) for item in flat], dtype=str).reshape(data.shape)
    return np.asarray([np.nan if item is None else item for item in flat],
                      dtype=np.float64).reshape(data.shape)


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
