"""Result conventions: provenance attributes, atomic NetCDF save, load, metadata checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from boltzphlow import __version__
from boltzphlow.config import config_from_result
from boltzphlow.results import check_metadata, finalize, is_complete, load, save
from boltzphlow.testing import assert_has_metadata, assert_results_identical

RAW = {"model": "toy", "T0": "2 µK", "solver": {"method": "euler"}}


def _dataset() -> xr.Dataset:
    return xr.Dataset(
        {"T": (("t", "x"), np.arange(6.0).reshape(3, 2) / 7,
               {"units": "K", "long_name": "temperature"})},
        coords={"t": ("t", [0.0, 0.5, 1.0], {"units": "ns", "long_name": "time"}),
                "x": ("x", [1, 2], {"units": "µm", "long_name": "position"})},
        attrs={"model": "toy"},
    )


def test_finalize_adds_provenance_without_touching_the_input():
    ds = _dataset()
    out = finalize(ds, "toy", RAW, wall_time_s=1.25, complete=False)
    assert ds.attrs == {"model": "toy"}
    assert out.attrs["model"] == "toy"
    assert out.attrs["complete"] == 0
    assert out.attrs["wall_time_s"] == 1.25
    assert out.attrs["boltzphlow_version"] == __version__
    assert out.attrs["created"].endswith("+00:00")
    assert {"python_version", "numpy_version", "xarray_version", "host"} <= set(out.attrs)
    assert config_from_result(out) == RAW
    assert finalize(ds, "toy", RAW, 0.0).attrs["complete"] == 1


def test_save_and_load_round_trip(tmp_path):
    ds = finalize(_dataset(), "toy", RAW, wall_time_s=0.5)
    path = save(ds, tmp_path / "sub" / "result.nc")
    loaded = load(path)
    assert_results_identical(loaded, ds)
    xr.testing.assert_identical(loaded, ds)
    assert is_complete(loaded)
    assert config_from_result(loaded) == RAW
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary file left


def test_save_makes_attributes_netcdf_safe_and_leaves_the_dataset_alone(tmp_path):
    ds = _dataset()
    ds.attrs.update(flag=True, nothing=None, table={"a": 1}, names=["a", "b"], values=[1.0, 2.5])
    ds["T"].attrs["converged"] = np.bool_(False)
    before = ds.copy(deep=True)
    loaded = load(save(ds, tmp_path / "r.nc"))
    xr.testing.assert_identical(ds, before)
    assert loaded.attrs["flag"] == 1
    assert loaded.attrs["nothing"] == ""
    assert json.loads(loaded.attrs["table"]) == {"a": 1}
    assert json.loads(loaded.attrs["names"]) == ["a", "b"]
    np.testing.assert_array_equal(loaded.attrs["values"], [1.0, 2.5])
    assert loaded["T"].attrs["converged"] == 0


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = save(finalize(_dataset(), "toy", RAW, 0.0), tmp_path / "r.nc")

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save(_dataset().isel(t=slice(0, 1)), path)
    monkeypatch.undo()
    assert load(path).sizes["t"] == 3
    assert list(tmp_path.iterdir()) == [path]


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such result file"):
        load(tmp_path / "missing.nc")
    (tmp_path / "text.nc").write_text("not netcdf")
    with pytest.raises(ValueError, match="not a readable NetCDF result"):
        load(tmp_path / "text.nc")


def test_check_metadata_names_what_is_missing():
    ds = _dataset()
    check_metadata(ds)
    assert_has_metadata(ds)
    del ds["T"].attrs["units"]
    ds["x"].attrs.clear()
    with pytest.raises(ValueError, match=r"T \(units\); x \(units, long_name\)$"):
        check_metadata(ds)
    with pytest.raises(AssertionError, match="T"):
        assert_has_metadata(ds)


def test_assert_results_identical_ignores_provenance_only():
    first = finalize(_dataset(), "toy", RAW, wall_time_s=1.0)
    second = finalize(_dataset(), "toy", RAW, wall_time_s=2.0)
    second.attrs["host"] = "elsewhere"
    assert_results_identical(first, second)
    changed = second.copy(deep=True)
    changed["T"][0, 0] = 1e-300
    with pytest.raises(AssertionError):
        assert_results_identical(first, changed)
    with pytest.raises(AssertionError):
        assert_results_identical(first, finalize(_dataset(), "toy", RAW, 1.0, complete=False))
