"""Result conventions: an ``xarray.Dataset`` with metadata and provenance, saved as NetCDF.

* Every data variable and coordinate carries ``units`` (``"1"`` if dimensionless) and
  ``long_name`` attributes (:func:`check_metadata`); plots label themselves from them.
* :func:`finalize` adds the provenance attributes listed in :data:`PROVENANCE_ATTRS` plus
  ``model`` and ``config`` (the raw config as JSON, enough to re-run or resume).
  ``complete`` is 1 for a finished run and 0 for a checkpoint.
* :func:`save` writes NetCDF4 with h5netcdf atomically: a reader, or an interrupted run, only
  ever sees the previous file or the new one.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from boltzphlow.config import config_to_json

#: Attributes that differ between two runs of the same config (ignored when comparing results).
PROVENANCE_ATTRS = (
    "boltzphlow_version",
    "wall_time_s",
    "created",
    "python_version",
    "numpy_version",
    "xarray_version",
    "host",
)


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


def save(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to NetCDF (h5netcdf engine) atomically; return the path.

    The file is written to a temporary file in the same folder and moved over ``path`` with
    :func:`os.replace`, so ``path`` always holds either its old content or the complete new
    one.  Attributes are made NetCDF-safe on the way (booleans -> 0/1, ``None`` -> ``""``,
    dicts and non-numeric lists -> JSON); ``ds`` itself is not modified.  Missing parent
    folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safe = ds.copy(deep=False)
    safe.attrs = _netcdf_attrs(ds.attrs)
    for variable in safe.variables.values():
        variable.attrs = _netcdf_attrs(variable.attrs)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        safe.to_netcdf(tmp, engine="h5netcdf")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | Path) -> xr.Dataset:
    """Read a result file fully into memory (the file is closed on return).

    Values are not CF-decoded as times (``units = "ns"`` means nanoseconds of simulated time),
    and the on-disk encoding is dropped, so the Dataset behaves like one built in memory.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is not a NetCDF4/HDF5 file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such result file: {str(path)!r}")
    try:
        ds = xr.load_dataset(path, engine="h5netcdf", decode_times=False,
                             decode_timedelta=False)
    except OSError as exc:
        raise ValueError(f"{str(path)!r} is not a readable NetCDF result ({exc})") from None
    return ds.drop_encoding()


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
