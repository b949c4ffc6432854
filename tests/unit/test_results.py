"""Result conventions: provenance attributes, atomic NetCDF save, load, metadata checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from boltzphlow import __version__
from boltzphlow.config import config_from_result
from boltzphlow.errors import InputError
from boltzphlow.results import (
    _blocks,
    check_metadata,
    check_result,
    finalize,
    is_complete,
    is_provenance,
    load,
    load_result,
    open_result,
    save,
    verify,
)
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


def test_numeric_variables_are_stored_with_checksums(toy_job, tmp_path):
    import h5py

    ds = _dataset()
    ds["label"] = ("t", np.array(["a", "bb", "c"], dtype=object),
                   {"units": "1", "long_name": "label"})
    ds["scalar"] = ((), 2.5, {"units": "1", "long_name": "a scalar"})
    ds["flags"] = ("t", np.array([True, False, True]), {"units": "1", "long_name": "flags"})
    path = save(finalize(ds, "toy", RAW, 0.0), tmp_path / "r.nc")
    with h5py.File(path) as handle:
        assert all(handle[name].fletcher32 for name in ("T", "t", "x", "flags"))
        assert not handle["label"].fletcher32 and not handle["scalar"].fletcher32
    xr.testing.assert_identical(load(path), finalize(ds, "toy", RAW, 0.0).assign_attrs(
        created=load(path).attrs["created"]))
    with open_result(path) as lazy:
        assert verify(lazy, path) == 4


def _flip_a_data_byte(path, variable="T"):
    import h5py

    with h5py.File(path) as handle:
        offset = handle[variable].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 3] ^= 0xFF
    path.write_bytes(bytes(data))


def test_flipped_bytes_in_the_data_are_detected(toy_job, tmp_path):
    path = save(finalize(_dataset(), "toy", RAW, 0.0), tmp_path / "r.nc")
    _flip_a_data_byte(path)
    with open_result(path) as lazy, pytest.raises(InputError, match=r"r.nc' is corrupted: "
                                                              r"variable 'T' fails its checksum"):
        verify(lazy, path)
    with pytest.raises(InputError, match="is corrupted: its data fail their checksum"):
        load(path)


def test_blocks_cover_an_array_in_bounded_pieces():
    for shape, budget in [((10,), 24), ((4, 5, 3), 40), ((3, 1000), 800), ((7,), 10**6),
                          ((2, 0), 8), ((), 8)]:
        covered = np.zeros(shape, dtype=int)
        for block in _blocks(shape, 8, budget):
            covered[block] += 1
            assert covered[block].size * 8 <= max(budget, 8)
        assert (covered == 1).all(), shape


def test_check_result_names_what_is_wrong(toy_job, tmp_path):
    good = finalize(_dataset(), "toy", RAW, 0.0)
    check_result(good, "r.nc")
    cases = [
        ({"model": None}, "'r.nc' has no 'model' attribute"),
        ({"model": np.arange(3)}, "'r.nc': its 'model' attribute is not a name"),
        ({"model": "nope"}, "'r.nc': unknown model 'nope'"),
        ({"config": None}, "'r.nc' carries no config"),
        ({"config": 5}, "'r.nc' carries no config"),
        ({"config": "{"}, "its stored config is not valid JSON"),
        ({"config": "[1]"}, "its stored config is not a table"),
        ({"config": '{"model": "geometry"}'},
         "its stored config is for model 'geometry' but its data are from model 'toy'"),
        ({"complete": "yes"}, "attribute 'complete' must be 0 or 1"),
        ({"complete": np.array([1, 2])}, "attribute 'complete' must be 0 or 1"),
        ({"wall_time_s": "fast"}, "attribute 'wall_time_s' must be a finite number"),
    ]
    for change, message in cases:
        bad = good.copy()
        for key, value in change.items():
            if value is None:
                del bad.attrs[key]
            else:
                bad.attrs[key] = value
        with pytest.raises(InputError) as info:
            check_result(bad, "r.nc")
        assert message in str(info.value)
        assert "\n" not in str(info.value)
    path = save(good.assign_attrs(config='{"model": "other"}'), tmp_path / "r.nc")
    with pytest.raises(InputError, match="stored config is for model 'other'"):
        load_result(path)
    with pytest.raises(InputError, match="stored config is for model 'other'"), \
            open_result(path):
        pass


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


def test_timing_attributes_are_provenance():
    """Two uninterrupted runs differ in their timings, and nowhere else."""
    assert is_provenance("compute_time_s") and is_provenance("solve_time_s")
    assert is_provenance("wall_time_s") and is_provenance("host")
    assert not is_provenance("t_max") and not is_provenance("complete")
    first = finalize(_dataset().assign_attrs(compute_time_s=0.5, solve_time_s=1.0), "toy", RAW,
                     1.0)
    second = finalize(_dataset().assign_attrs(compute_time_s=0.7, solve_time_s=2.0), "toy", RAW,
                      3.0)
    second["T"].attrs["solve_time_s"] = 4.0
    assert_results_identical(first, second)
    assert "solve_time_s" in second["T"].attrs  # the inputs are left alone
    second.attrs["tolerance"] = 1e-9
    with pytest.raises(AssertionError):
        assert_results_identical(first, second)
