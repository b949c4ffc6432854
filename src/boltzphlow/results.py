"""Result conventions: an ``xarray.Dataset`` with metadata and provenance, saved as NetCDF.

* Every data variable and coordinate carries ``units`` (``"1"`` if dimensionless) and
  ``long_name`` attributes (:func:`check_metadata`); plots label themselves from them.
* :func:`finalize` adds the provenance attributes listed in :data:`PROVENANCE_ATTRS` plus
  ``model`` and ``config`` (the raw config as JSON, enough to re-run or resume).
  ``complete`` is 1 for a finished run and 0 for a checkpoint.  Provenance (:func:`is_provenance`)
  is what may differ between two runs of one config: those attributes and every timing
  attribute (a name ending in ``_time_s``, such as ``compute_time_s``).
* :func:`save` writes NetCDF4 with h5netcdf atomically: a reader, or an interrupted run, only
  ever sees the previous file or the new one.  Every numeric variable is stored chunked with an
  HDF5 Fletcher-32 checksum, so that corrupted data are detected when read (:func:`verify`).
* :func:`load_result` and :func:`open_result` read a file and check that it is a BoltzPhlow
  result (:func:`check_result`); whatever is wrong with a file is one
  :class:`~boltzphlow.errors.InputError` naming it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import signal
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from boltzphlow.config import config_to_json
from boltzphlow.errors import InputError, shorten

__all__ = ["PROVENANCE_ATTRS", "TIMING_SUFFIX", "check_metadata", "check_result",
           "deferred_signals", "finalize", "is_complete", "is_provenance", "load", "load_result",
           "open_result", "save", "verify"]

#: Attributes that differ between two runs of the same config (ignored when comparing results),
#: besides the timing attributes (:data:`TIMING_SUFFIX`).
PROVENANCE_ATTRS = (
    "boltzphlow_version",
    "wall_time_s",
    "created",
    "python_version",
    "numpy_version",
    "xarray_version",
    "host",
)

#: Suffix of timing attributes (``compute_time_s``, ``solve_time_s``): seconds of wall clock,
#: which differ between two runs of the same config and are provenance.
TIMING_SUFFIX = "_time_s"

#: Largest number of bytes :func:`verify` reads at once.
VERIFY_BLOCK_BYTES = 32 * 2**20

_ENGINE = "h5netcdf"
_DECODE = {"decode_times": False, "decode_timedelta": False}


def is_provenance(name: str) -> bool:
    """Whether the attribute ``name`` records how or when a result was made, not what it is.

    True for :data:`PROVENANCE_ATTRS` and for every timing attribute (a name ending in
    :data:`TIMING_SUFFIX`); such attributes differ between two runs of one config.
    """
    return name in PROVENANCE_ATTRS or name.endswith(TIMING_SUFFIX)


def finalize(
    ds: xr.Dataset,
    job_name: str,
    raw_config: Mapping[str, Any],
    wall_time_s: float,
    complete: bool = True,
) -> xr.Dataset:
    """Return ``ds`` (a shallow copy) with the model, config and provenance attributes.

    Parameters
    ----------
    ds
        A job's result or partial result.
    job_name
        Registered name of the job (``attrs["model"]``).
    raw_config
        The raw config dict, stored as JSON in ``attrs["config"]``.
    wall_time_s
        Wall-clock seconds spent computing it.
    complete
        False for a checkpoint (``attrs["complete"] = 0``), True for a finished run (1).
    """
    import boltzphlow

    out = ds.copy(deep=False)
    out.attrs.update(
        model=job_name,
        config=config_to_json(raw_config),
        complete=int(complete),
        boltzphlow_version=boltzphlow.__version__,
        wall_time_s=float(wall_time_s),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        python_version=platform.python_version(),
        numpy_version=np.__version__,
        xarray_version=xr.__version__,
        host=platform.node(),
    )
    return out


def _netcdf_attr(value: Any) -> Any:
    """A NetCDF-storable form of an attribute value."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if value is None:
        return ""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, list | tuple):
        array = np.asarray(value)
        if array.dtype.kind in "iuf" and array.ndim == 1:
            return array
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _netcdf_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _netcdf_attr(value) for key, value in attrs.items()}


def _checksummed(variable: xr.Variable) -> bool:
    """Whether ``variable`` is stored chunked with a Fletcher-32 checksum (numeric, not 0-d)."""
    return variable.ndim > 0 and variable.size > 0 and variable.dtype.kind in "biufc"


def _encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """Per-variable NetCDF encoding: the variable's own, plus a checksum where possible.

    HDF5 filters need chunked storage; h5py picks the chunk shape when none is given.
    """
    encoding = {}
    for name, variable in ds.variables.items():
        if _checksummed(variable):
            own = {key: value for key, value in variable.encoding.items()
                   if key not in ("contiguous", "source", "original_shape")}
            encoding[str(name)] = {**own, "fletcher32": True}
    return encoding


def deferred_signals() -> contextlib.AbstractContextManager[Any]:
    """A context that holds SIGINT/SIGTERM during a write, if the installed handler can.

    The command line installs a handler with a ``deferred()`` context manager
    (:class:`boltzphlow.cli.SignalGuard`): a signal arriving inside the block is raised when
    the block ends.  Library callers keep Python's own handlers and get a null context.
    """
    handler = signal.getsignal(signal.SIGINT)
    deferred = getattr(handler, "deferred", None)
    return deferred() if callable(deferred) else contextlib.nullcontext()


def save(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to NetCDF (h5netcdf engine) atomically; return the path.

    The file is written to a temporary file in the same folder and moved over ``path`` with
    :func:`os.replace`, so ``path`` always holds either its old content or the complete new
    one, and the temporary file is removed whatever happens (under the command line, Ctrl-C
    and SIGTERM wait until the file is in place).  A symlink at ``path`` is replaced, not
    written through.  Numeric variables are stored chunked with a Fletcher-32 checksum.
    Attributes are made NetCDF-safe on the way (booleans -> 0/1, ``None`` -> ``""``, dicts and
    non-numeric lists -> JSON); ``ds`` itself is not modified.  Missing parent folders are
    created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safe = ds.copy(deep=False)
    safe.attrs = _netcdf_attrs(ds.attrs)
    for variable in safe.variables.values():
        variable.attrs = _netcdf_attrs(variable.attrs)
    with deferred_signals():
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
        try:
            safe.to_netcdf(tmp, engine=_ENGINE, encoding=_encoding(safe))
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; results are ordinary files
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def _unreadable(path: Path, exc: BaseException) -> InputError:
    """The one-line error for a file that cannot be read as a result."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    if "filter returned failure" in detail or "checksum" in detail.lower():
        return InputError(f"{str(path)!r} is corrupted: its data fail their checksum "
                          f"({shorten(detail, 120)})")
    return InputError(f"{str(path)!r} is not a readable NetCDF result "
                      f"({type(exc).__name__}: {shorten(detail, 120)})")


#: What reading a damaged or foreign file may raise (from h5py, h5netcdf or xarray decoding).
_READ_ERRORS = (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
                OverflowError, RecursionError, UnicodeError)


def load(path: str | Path) -> xr.Dataset:
    """Read a NetCDF file fully into memory (the file is closed on return).

    Values are not CF-decoded as times (``units = "ns"`` means nanoseconds of simulated time),
    and the on-disk encoding is dropped, so the Dataset behaves like one built in memory.  Data
    are checked against their checksums as they are read.  Use :func:`load_result` to also
    check that the file is a BoltzPhlow result.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    boltzphlow.errors.InputError
        If ``path`` is not a readable NetCDF4/HDF5 file or its data are corrupted.
    """
    path = _existing(path)
    try:
        ds = xr.load_dataset(path, engine=_ENGINE, **_DECODE)
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from None
    return ds.drop_encoding()


def _existing(path: str | Path) -> Path:
    """``path`` as a Path; ``FileNotFoundError`` if it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such result file: {str(path)!r}")
    return path


def load_result(path: str | Path) -> xr.Dataset:
    """:func:`load` a file and check that it is a BoltzPhlow result (:func:`check_result`)."""
    ds = load(path)
    check_result(ds, path)
    return ds


@contextlib.contextmanager
def open_result(path: str | Path) -> Iterator[xr.Dataset]:
    """Open a result lazily (values are read when used), checked with :func:`check_result`.

    A context manager: the file is closed when the block ends.  Reading values inside the block
    may raise ``OSError`` for corrupted data; :func:`verify` reads everything once.

    Raises
    ------
    FileNotFoundError, boltzphlow.errors.InputError
        As :func:`load_result`.
    """
    path = _existing(path)
    try:
        ds = xr.open_dataset(path, engine=_ENGINE, **_DECODE)
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from None
    with ds:
        check_result(ds, path)
        yield ds


def verify(ds: xr.Dataset, path: str | Path) -> int:
    """Read every variable of a lazily opened result once, in bounded memory.

    HDF5 checks each chunk against its Fletcher-32 checksum as it is read, so this detects
    corrupted data; at most :data:`VERIFY_BLOCK_BYTES` are held at a time.

    Returns
    -------
    int
        How many variables carry a checksum (0 for files written before checksums were stored).

    Raises
    ------
    boltzphlow.errors.InputError
        Naming the first variable that cannot be read or fails its checksum.
    """
    path = Path(path)
    checked = 0
    for name, variable in ds.variables.items():
        try:
            for block in _blocks(variable.shape, variable.dtype.itemsize):
                np.asarray(variable[block].values)
        except _READ_ERRORS as exc:
            detail = " ".join(str(exc).split())
            what = ("fails its checksum" if "filter returned failure" in detail
                    else f"cannot be read ({type(exc).__name__}: {shorten(detail, 80)})")
            raise InputError(f"{str(path)!r} is corrupted: variable {str(name)!r} {what}") \
                from None
        checked += bool(variable.encoding.get("fletcher32"))
    return checked


def _blocks(shape: tuple[int, ...], itemsize: int,
            budget: int = VERIFY_BLOCK_BYTES) -> Iterator[tuple[Any, ...]]:
    """Index tuples that cover an array of ``shape`` in blocks of at most ``budget`` bytes."""
    if not shape or 0 in shape:
        yield ()
        return
    itemsize = max(int(itemsize), 1)
    # the first axis k whose trailing block shape[k+1:] fits the budget
    k = 0
    while math.prod(shape[k + 1:]) * itemsize > budget:
        k += 1
    step = max(1, budget // (math.prod(shape[k + 1:]) * itemsize))
    for outer in np.ndindex(*shape[:k]):
        for start in range(0, shape[k], step):
            yield (*outer, slice(start, start + step))


def check_result(ds: xr.Dataset, path: str | Path | None = None) -> None:
    """Check that ``ds`` holds what every BoltzPhlow result holds; raise one line otherwise.

    A result names its model (``attrs["model"]``, a registered job), carries its config as a
    JSON table (``attrs["config"]``) whose ``model`` is the same, and, where present, has
    ``complete`` 0 or 1 and a finite ``wall_time_s``.

    Raises
    ------
    boltzphlow.errors.InputError
        Naming the file (``path``) and what is missing or inconsistent.
    """
    from boltzphlow.jobs import get_job

    where = "the result" if path is None else repr(str(path))
    model = ds.attrs.get("model")
    if not isinstance(model, str) or not model:
        if model is None or (isinstance(model, str) and not model):
            raise InputError(f"{where} has no 'model' attribute: not a BoltzPhlow result")
        raise InputError(f"{where}: its 'model' attribute is not a name ({shorten(model)})")
    try:
        get_job(model)
    except KeyError as exc:
        raise InputError(f"{where}: {exc.args[0]}") from None
    text = ds.attrs.get("config")
    if not isinstance(text, str) or not text:
        raise InputError(f"{where} carries no config (attribute 'config' missing or not text)")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{where}: its stored config is not valid JSON "
                         f"({shorten(str(exc), 80)})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{where}: its stored config is not a table")
    if raw.get("model") != model:
        raise InputError(f"{where}: its stored config is for model {shorten(raw.get('model'))} "
                         f"but its data are from model {model!r}")
    complete = ds.attrs.get("complete", 0)
    if not (isinstance(complete, int | np.integer) and not isinstance(complete, bool)
            and int(complete) in (0, 1)):
        raise InputError(f"{where}: attribute 'complete' must be 0 or 1, got {shorten(complete)}")
    wall = ds.attrs.get("wall_time_s", 0.0)
    if not (isinstance(wall, int | float | np.integer | np.floating) and math.isfinite(wall)):
        raise InputError(f"{where}: attribute 'wall_time_s' must be a finite number, "
                         f"got {shorten(wall)}")


def check_metadata(ds: xr.Dataset) -> None:
    """Raise ``ValueError`` naming every variable or coordinate without ``units``/``long_name``."""
    missing = {
        name: [attr for attr in ("units", "long_name") if attr not in variable.attrs]
        for name, variable in ds.variables.items()
    }
    problems = [f"{name} ({', '.join(attrs)})" for name, attrs in missing.items() if attrs]
    if problems:
        raise ValueError("variables lacking metadata: " + "; ".join(problems))


def is_complete(ds: xr.Dataset) -> bool:
    """Whether ``ds`` is a finished result (not a checkpoint)."""
    return bool(int(ds.attrs.get("complete", 0)))
