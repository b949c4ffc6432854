"""Parameter sweeps (boltzphlow.sweep and `boltzphlow sweep`): Dask vs serial, failures, reuse,
coordinates, sizes and interruptions."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import xarray as xr

import boltzphlow as bp
from boltzphlow import jobs, results
from boltzphlow.cli import main
from boltzphlow.errors import ResourceError
from boltzphlow.jobs import Job
from boltzphlow.schema import ConfigModel, Quantity
from boltzphlow.sweep import (
    RESULT_SCHEMA_VERSION,
    compute_point,
    is_config_key,
    parse_values,
    point_key,
    sweep_points,
)
from boltzphlow.testing import assert_has_metadata

PHOTO_TOML = """\
# small photoexcited config for sweep tests
model = "photoexcited"
task = "steady-state"
omega_p = 0.5
zeta = 20.0
points_per_omega = 20
store_distributions = false
"""


@pytest.fixture
def photo_config(tmp_path: Path) -> Path:
    path = tmp_path / "photo.toml"
    path.write_text(PHOTO_TOML, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ a job of kinds
class KindsConfig(ConfigModel):
    """A job whose result has variables of every dtype and a grid that depends on ``x``."""

    model: Literal["kinds"]
    x: Quantity("m", positive=True) = 1.0
    n: int = 3
    scale: float = 1.0
    choice: Literal["a", "b"] = "a"
    fail: bool = False


def run_kinds(config: KindsConfig, context: object) -> xr.Dataset:
    if config.fail:
        raise ValueError("kinds failure")
    if config.n > 5:
        warnings.warn(f"n = {config.n} is large", UserWarning, stacklevel=1)
    grid = np.arange(config.n) * config.x

    def meta(name: str) -> dict[str, str]:
        return {"units": "1", "long_name": name}

    return xr.Dataset(
        {"y": ("k", grid**2, meta("y")),
         "count": ((), np.int64(config.n), meta("count")),
         "ok": ((), True, meta("ok")),
         "label": ((), f"label {config.choice}", meta("label")),
         "x": ((), config.x, meta("x, as configured")),
         "scale": ("k", np.full(config.n, 2 * config.scale), meta("twice the scale"))},
        coords={"k": ("k", grid, {"units": "m", "long_name": "position"})},
        attrs={"model": "kinds"})


KINDS_JOB = Job(name="kinds", config_model=KindsConfig, run=run_kinds,
                plot=lambda ds, out_dir, stem: [], summary=lambda ds: "kinds",
                description="variables of every kind (test job)")


@pytest.fixture
def kinds_job(monkeypatch: pytest.MonkeyPatch) -> Job:
    monkeypatch.setitem(jobs._JOBS, "kinds", KINDS_JOB)
    return KINDS_JOB


# ------------------------------------------------------------- a job that says where it ran
class WhereConfig(ConfigModel):
    """A job whose result records the process and the BLAS threads it ran with."""

    model: Literal["where"]
    x: float = 1.0


def run_where(config: WhereConfig, context: object) -> xr.Dataset:
    from threadpoolctl import threadpool_info

    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    def meta(name: str) -> dict[str, str]:
        return {"units": "1", "long_name": name}

    return xr.Dataset({"pid": ((), np.int64(os.getpid()), meta("process id")),
                       "blas_threads": ((), np.int64(max(blas)), meta("BLAS threads")),
                       "y": ("k", np.arange(3) * config.x, meta("y"))},
                      coords={"k": ("k", np.arange(3), meta("k"))})


WHERE_JOB = Job(name="where", config_model=WhereConfig, run=run_where,
                plot=lambda ds, out_dir, stem: [], summary=lambda ds: "where",
                description="where a point ran (test job)")


@pytest.fixture
def where_job(monkeypatch: pytest.MonkeyPatch) -> Job:
    monkeypatch.setitem(jobs._JOBS, "where", WHERE_JOB)
    return WHERE_JOB


# ------------------------------------------------------------------------------ pure helpers
def test_parse_values():
    assert parse_values("0.2:0.8:4") == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert parse_values("1,5,20") == [1, 5, 20]
    assert parse_values("constant-tau,impurity") == ["constant-tau", "impurity"]
    assert parse_values([1.0, 2.0]) == [1.0, 2.0]
    assert parse_values(np.array([1.5])) == [1.5]
    for bad in ("0:1:x", "0:1:0", "", "0.5:0.6"):
        with pytest.raises(ValueError):
            parse_values(bad)


def test_points_and_keys(toy_job):
    raw = {"model": "toy", "solver": {"method": "euler"}}
    points = sweep_points(raw, {"tau": [1.0, 2.0], "solver.substeps": [3, 4, 5]})
    assert len(points) == 6
    assert points[1][1] == {"model": "toy", "tau": 1.0, "solver": {"method": "euler",
                                                                  "substeps": 4}}
    assert raw == {"model": "toy", "solver": {"method": "euler"}}  # not modified
    assert len({point_key(p) for _, p in points}) == 6
    schema = toy_job.config_model
    assert is_config_key(schema, "tau") and is_config_key(schema, "solver.substeps")
    assert not is_config_key(schema, "taux") and not is_config_key(schema, "tau.x")
    assert not is_config_key(schema, "solver.bogus")


# ------------------------------------------------------------------------------ the API
def test_serial_sweep_of_the_toy_job(toy_config, tmp_path):
    out = tmp_path / "toy_sweep.nc"
    ds = bp.sweep(toy_config, {"tau": [1.0, 2.0, 4.0], "T0": [1.0, 3.0]}, workers=1, out=out)
    assert ds["T"].dims == ("tau", "T0", "t")  # swept dimensions first
    # each point equals a single run with the same values
    for tau in (1.0, 2.0, 4.0):
        for t0 in (1.0, 3.0):
            substeps = 4
            times = ds["t"].to_numpy()
            expected = t0 * (1 - np.diff(times)[0] / tau / substeps) ** (substeps * np.arange(
                times.size))
            np.testing.assert_allclose(ds["T"].sel(tau=tau, T0=t0).transpose("t"), expected,
                                       rtol=1e-12)
    on_disk = results.load(out)
    assert on_disk.attrs["n_points"] == 6 and on_disk.attrs["n_failed"] == 0
    assert json.loads(on_disk.attrs["sweep_dims"]) == ["tau", "T0"]
    assert len(list((tmp_path / "toy_sweep.points").glob("*.nc"))) == 6
    results.check_metadata(on_disk)


def test_swept_coordinates_are_numbers_in_the_key_unit(toy_config, tmp_path):
    """Unit strings become numbers in the key's unit; choices stay strings; both labelled."""
    out = tmp_path / "s.nc"
    bp.sweep(toy_config, {"tau": ["1 ns", "1500 ps", 2], "solver.method": "exact,euler"},
             workers=1, out=out)
    ds = results.load(out)
    assert ds["tau"].dtype.kind == "f"
    np.testing.assert_allclose(ds["tau"], [1.0, 1.5, 2.0], rtol=1e-12)
    assert ds["tau"].attrs["units"] == "ns"
    assert ds["tau"].attrs["long_name"] and "config units" not in str(ds["tau"].attrs)
    assert ds["solver.method"].values.tolist() == ["exact", "euler"]
    assert ds["solver.method"].attrs["units"] == "1"
    assert ds["T"].dims == ("tau", "solver.method", "t")
    assert json.loads(ds.attrs["sweep_dims"]) == ["tau", "solver.method"]
    # the point config keeps the user's text; the stored config records the grid
    assert json.loads(ds.attrs["config"])["sweep"]["tau"] == ["1 ns", "1500 ps", 2]
    assert_has_metadata(ds)
    exact = ds["T"].isel(tau=1).sel({"solver.method": "exact"}).to_numpy()
    np.testing.assert_allclose(exact, 2.0 * np.exp(-ds["t"].to_numpy() / 1.5), rtol=1e-12)


def test_two_values_of_one_point_are_refused(toy_config):
    with pytest.raises(ValueError, match="--vary tau: values '1 ns' and '1000 ps' are the same"):
        bp.sweep(toy_config, {"tau": ["1 ns", "1000 ps"]}, workers=1)


def test_the_sweep_table_of_a_config_is_the_default_grid(toy_config, tmp_path):
    text = toy_config.read_text(encoding="utf-8") + '\n[sweep]\ntau = "1 ns, 2 ns"\n'
    toy_config.write_text(text, encoding="utf-8")
    ds = bp.sweep(toy_config, workers=1)
    assert ds["tau"].values.tolist() == [1.0, 2.0] and ds["tau"].attrs["units"] == "ns"
    toy_config.write_text(text.replace("2 ns", "1000 ps"), encoding="utf-8")
    with pytest.raises(ValueError, match="sweep.tau: values"):
        bp.sweep(toy_config, workers=1)


def test_failed_points_are_nan_in_every_kind_of_variable(kinds_job, tmp_path):
    lines: list[str] = []
    out = tmp_path / "kinds.nc"
    raw = {"model": "kinds"}
    ds = bp.sweep(raw, {"fail": [False, True], "x": ["1 m", "2 m", "300 cm"]}, workers=1,
                  out=out, report=lines.append)
    assert ds["x"].values.tolist() == [1.0, 2.0, 3.0] and ds["x"].attrs["units"] == "m"
    assert ds["fail"].values.tolist() == ["false", "true"]
    assert ds["failed"].values.tolist() == [[0, 0, 0], [1, 1, 1]]
    assert len(lines) == 3 and "kinds failure" in ds.attrs["sweep_errors"]
    assert ds["y"].dims == ("fail", "x", "k")
    # the grid differs between points: the union, each point's data at its own positions
    assert ds["k"].values.tolist() == [0, 1, 2, 3, 4, 6]
    y = ds["y"].sel(fail="false", x=2.0).dropna("k")
    assert y["k"].values.tolist() == [0, 2, 4] and y.values.tolist() == [0, 4, 16]
    assert np.all(np.isnan(ds["y"].sel(fail="true")))
    assert ds["count"].dtype.kind == "f" and np.isnan(ds["count"].sel(fail="true")).all()
    assert ds["count"].sel(fail="false").values.tolist() == [3, 3, 3]
    assert ds["ok"].sel(fail="false").values.tolist() == [1, 1, 1]
    assert ds["label"].sel(fail="true").values.tolist() == ["", "", ""]
    assert ds["label"].sel(fail="false").values.tolist() == ["label a"] * 3
    # a variable named like a swept key: dropped when it repeats the value, else renamed
    assert "x" not in ds.data_vars and ds["x"].dims == ("x",)
    assert ds["point_version"].sel(fail="true").values.tolist() == ["", "", ""]
    assert ds["point_schema_version"].sel(fail="false").values.tolist() == [
        RESULT_SCHEMA_VERSION] * 3
    on_disk = results.load(out)
    assert_has_metadata(on_disk)
    assert on_disk["label"].sel(fail="false").values.tolist() == ["label a"] * 3
    # a rerun reuses the three finished points, read back from their files
    again = bp.sweep(raw, {"fail": [False, True], "x": ["1 m", "2 m", "300 cm"]}, workers=1,
                     out=out, report=lines.append)
    assert again.attrs["sweep_reused"] == 3
    assert again["label"].sel(fail="false").values.tolist() == ["label a"] * 3


def test_a_result_variable_that_differs_from_its_swept_key_is_renamed(kinds_job):
    ds = bp.sweep({"model": "kinds"}, {"scale": [1.0, 2.0]}, workers=1)
    assert ds["scale"].dims == ("scale",)
    assert ds["scale_result"].dims == ("scale", "k")
    assert ds["scale_result"].sel(scale=2.0).values.tolist() == [4.0, 4.0, 4.0]


def test_warnings_of_a_point_are_reported_once_and_recorded(kinds_job, tmp_path):
    lines: list[str] = []
    out = tmp_path / "w.nc"
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as outside the test suite
        ds = bp.sweep({"model": "kinds"}, {"n": [3, 6, 7]}, workers=1, out=out,
                      report=lines.append)
    assert lines == ["boltzphlow sweep: point n=6: warning: n = 6 is large",
                     "boltzphlow sweep: point n=7: warning: n = 7 is large"]
    recorded = json.loads(ds.attrs["sweep_warnings"])
    assert recorded == [{"point": {"n": 6}, "warning": "n = 6 is large"},
                        {"point": {"n": 7}, "warning": "n = 7 is large"}]
    assert "warnings" not in ds.attrs
    # the warnings stay with the stored points and are reported again when they are reused
    lines.clear()
    again = bp.sweep({"model": "kinds"}, {"n": [3, 6, 7]}, workers=1, out=out,
                     report=lines.append)
    assert again.attrs["sweep_reused"] == 3 and len(lines) == 2


def test_failed_point_is_recorded_and_the_others_kept(toy_config, tmp_path):
    lines: list[str] = []
    ds = bp.sweep(toy_config, {"fail_at": [2, 99], "tau": [1.0, 2.0]}, workers=1,
                  out=tmp_path / "s.nc", report=lines.append)
    assert ds.attrs["n_failed"] == 2 and ds.attrs["n_points"] == 4
    assert ds["failed"].sel(fail_at=2).values.tolist() == [1, 1]
    assert ds["failed"].sel(fail_at=99).values.tolist() == [0, 0]
    assert np.all(np.isnan(ds["T"].sel(fail_at=2)))
    assert np.all(np.isfinite(ds["T"].sel(fail_at=99)))
    errors = json.loads(ds.attrs["sweep_errors"])
    assert len(errors) == 2 and "toy failure at record 2" in errors[0]["error"]
    assert len(lines) == 2 and "fail_at=2" in lines[0]


def _tamper(path: Path, **attrs: object) -> None:
    """Mark a stored point as computed by other code (and make its values recognisable)."""
    stored = results.load(path)
    stored["T"] = stored["T"] * 0 + 123.0
    for name, value in attrs.items():
        if value is None:
            stored.attrs.pop(name, None)
        else:
            stored.attrs[name] = value
    results.save(stored, path)


def test_rerun_reuses_finished_points(toy_config, tmp_path):
    out = tmp_path / "s.nc"
    first = bp.sweep(toy_config, {"tau": [1.0, 2.0]}, workers=1, out=out)
    assert first.attrs["sweep_reused"] == 0
    # a stored point is used as it is: tamper with one to prove it is not recomputed
    folder = tmp_path / "s.points"
    _tamper(sorted(folder.glob("*.nc"))[0])
    again = bp.sweep(toy_config, {"tau": [1.0, 2.0, 3.0]}, workers=1, out=out)
    assert again.attrs["sweep_reused"] == 2
    assert np.any(again["T"].to_numpy() == 123.0)
    assert np.all(np.isfinite(again["T"].sel(tau=3.0)))


@pytest.mark.parametrize("stale", [{"boltzphlow_version": "0.0.1"},
                                   {"result_schema_version": None},
                                   {"result_schema_version": RESULT_SCHEMA_VERSION + 1}])
def test_points_of_another_version_are_recomputed(toy_config, tmp_path, stale):
    out = tmp_path / "s.nc"
    bp.sweep(toy_config, {"tau": [1.0, 2.0]}, workers=1, out=out)
    path = sorted((tmp_path / "s.points").glob("*.nc"))[0]
    _tamper(path, **stale)
    lines: list[str] = []
    again = bp.sweep(toy_config, {"tau": [1.0, 2.0]}, workers=1, out=out, report=lines.append)
    assert not np.any(again["T"].to_numpy() == 123.0)  # never mixed silently
    assert again.attrs["sweep_reused"] == 1 and again.attrs["sweep_recomputed"] == 1
    assert len(lines) == 1 and "recomputing stored points computed 1 by" in lines[0]
    assert len(set(again["point_version"].values.tolist())) == 1
    assert results.load(path).attrs["result_schema_version"] == RESULT_SCHEMA_VERSION


def test_points_of_another_version_are_reused_only_when_asked(toy_config, tmp_path):
    out = tmp_path / "s.nc"
    bp.sweep(toy_config, {"tau": [1.0, 2.0]}, workers=1, out=out)
    _tamper(sorted((tmp_path / "s.points").glob("*.nc"))[0], boltzphlow_version="0.0.1")
    lines: list[str] = []
    mixed = bp.sweep(toy_config, {"tau": [1.0, 2.0]}, workers=1, out=out,
                     reuse_other_versions=True, report=lines.append)
    assert np.any(mixed["T"].to_numpy() == 123.0) and mixed.attrs["sweep_reused"] == 2
    assert "0.0.1" in mixed["point_version"].values.tolist()
    assert len(set(mixed["point_version"].values.tolist())) == 2
    assert len(lines) == 1 and "warning" in lines[0] and "mixes versions" in lines[0]


def test_a_huge_grid_is_refused_before_it_is_built(toy_config):
    start = time.perf_counter()
    with pytest.raises(ResourceError, match=r"1000000 points .* give fewer values to "
                                            r"--vary tau, --vary T0"):
        bp.sweep(toy_config, {"tau": "1:2:1000", "T0": "1:2:1000"}, workers=1)
    assert time.perf_counter() - start < 2.0
    with pytest.raises(ValueError, match="--vary tau"):
        bp.sweep(toy_config, {"tau": "1:2:1000000"}, workers=1)


def test_memory_of_the_point_configs_and_results_is_checked(toy_config, tmp_path,
                                                            monkeypatch):
    monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "200 kB")
    with pytest.raises(ResourceError, match="the configs of 1000 sweep points"):
        bp.sweep(toy_config, {"tau": "1:2:1000"}, workers=1)
    # each result of 2000 records takes 32 kB: refused after the first point is computed
    with pytest.raises(ResourceError, match="the combined result of 10 sweep points"):
        bp.sweep(toy_config, {"tau": "1:2:10"}, workers=1, out=tmp_path / "big.nc",
                 overrides=["n_out=2000"])
    assert len(list((tmp_path / "big.points").glob("*.nc"))) == 1


def test_ctrl_c_in_a_serial_sweep_keeps_the_finished_points(toy_config, tmp_path,
                                                            interrupt_toy):
    out = tmp_path / "s.nc"
    bp.sweep(toy_config, {"tau": [1.0]}, workers=1, out=out)
    interrupt_toy(2)
    with pytest.raises(KeyboardInterrupt):
        bp.sweep(toy_config, {"tau": [1.0, 2.0]}, workers=1, out=out)
    interrupt_toy(None)
    assert len(list((tmp_path / "s.points").glob("*.nc"))) == 1
    assert results.load(out).attrs["n_points"] == 1  # the earlier result, not overwritten


@pytest.mark.slow
def test_two_worker_local_cluster_equals_serial(photo_config, tmp_path):
    vary = {"omega_p": "0.3:0.6:4", "zeta": [1.0, 20.0]}
    serial = bp.sweep(photo_config, vary, workers=1, out=None)
    parallel = bp.sweep(photo_config, vary, workers=2, out=tmp_path / "p.nc")
    xr.testing.assert_equal(serial["sigma"], parallel["sigma"])
    assert parallel.attrs["n_failed"] == 0
    assert float(serial["sigma"].min()) < 0 < float(serial["sigma"].max())


@pytest.mark.slow
def test_failing_point_on_the_cluster_does_not_lose_the_others(photo_config, tmp_path):
    ds = bp.sweep(photo_config, {"omega_p": [-0.1, 0.4, 0.5]}, workers=2,
                  out=tmp_path / "f.nc", report=lambda line: None)
    assert ds["failed"].values.tolist() == [1, 0, 0]
    assert np.isnan(float(ds["sigma"].sel(omega_p=-0.1)))
    assert np.all(np.isfinite(ds["sigma"].sel(omega_p=[0.4, 0.5])))
    assert "omega_p must be > 0" in ds.attrs["sweep_errors"]


def test_a_point_is_stored_where_the_client_finds_it_or_sent_back(where_job, tmp_path):
    """A worker writes its point file only when it sees the sweep's marker file (it shares the
    client's file system); otherwise it sends the result back for the client to store."""
    path = tmp_path / "p.nc"
    marker = tmp_path / ".sweep-marker"
    record = compute_point(where_job, {"model": "where", "x": 2.0}, str(path),
                           marker=str(marker), return_result=False)
    assert record.path is None and not path.exists()
    assert record.result is not None and record.result["y"].values.tolist() == [0, 2, 4]
    marker.touch()
    record = compute_point(where_job, {"model": "where", "x": 2.0}, str(path),
                           marker=str(marker), return_result=False)
    assert record.path == str(path) and record.result is None
    assert results.load(path)["y"].values.tolist() == [0, 2, 4]
    assert record.version == (bp.__version__, RESULT_SCHEMA_VERSION)
    assert record.nbytes == results.load(path).nbytes and record.worker == "local"
    assert record.compute_s > 0 and record.store_s > 0


def test_a_point_runs_with_the_blas_threads_it_is_given(where_job):
    record = compute_point(where_job, {"model": "where"}, blas=1)
    assert int(record.result["blas_threads"]) == 1
    # outside a Dask worker a host table means one thread
    record = compute_point(where_job, {"model": "where"}, blas={"127.0.0.1": 1})
    assert int(record.result["blas_threads"]) == 1


@pytest.mark.slow
def test_workers_write_their_own_point_files(where_job, tmp_path, monkeypatch):
    """On a cluster the workers store the points; the client writes the combined file alone,
    and can assemble the result from the workers' files instead of receiving the results."""
    import logging

    from distributed import LocalCluster

    sweep_module = importlib.import_module("boltzphlow.sweep")  # bp.sweep is the function
    written: list[Path] = []
    save = results.save
    monkeypatch.setattr(results, "save", lambda ds, path: written.append(Path(path))
                        or save(ds, path))
    read: list[Path] = []
    load = results.load
    monkeypatch.setattr(results, "load", lambda path: read.append(Path(path)) or load(path))
    vary = {"x": [1.0, 2.0, 3.0, 4.0, 5.0]}
    cores = len(os.sched_getaffinity(0))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster:
        shipped = bp.sweep({"model": "where"}, vary, scheduler=cluster.scheduler_address,
                           out=tmp_path / "shipped.nc")
        assert written == [tmp_path / "shipped.nc"] and read == []
        monkeypatch.setattr(sweep_module, "_SHIP_RESULTS", False)
        from_files = bp.sweep({"model": "where"}, vary, scheduler=cluster.scheduler_address,
                              out=tmp_path / "files.nc")
    points = sorted((tmp_path / "files.points").glob("*.nc"))
    assert sorted(read) == points and len(points) == 5
    assert written[1:] == [tmp_path / "files.nc"]
    assert not list(tmp_path.glob("*.points/.*"))  # no marker or temporary file left
    for ds in (shipped, from_files):
        assert ds["y"].sel(x=3.0).values.tolist() == [0.0, 3.0, 6.0]
        assert os.getpid() not in ds["pid"].values.tolist()
        # the one worker's share of the host: every core (the nanny's environment says 1)
        assert ds["blas_threads"].values.tolist() == [cores] * 5
        assert float(ds.attrs["sweep_compute_time_s"]) > 0
    assert len(list((tmp_path / "shipped.points").glob("*.nc"))) == 5


def test_not_a_config_key_raises(toy_config):
    with pytest.raises(ValueError, match="not a config key"):
        bp.sweep(toy_config, {"tua": [1, 2]}, workers=1)
    with pytest.raises(ValueError, match="nothing to sweep"):
        bp.sweep(toy_config, {}, workers=1)


# ------------------------------------------------------------------------------ the CLI
def test_cli_sweep_writes_one_file_and_plots(photo_config, tmp_path, capsys):
    out = tmp_path / "out" / "sweep.nc"
    code = main(["sweep", str(photo_config), "--vary", "omega_p=0.4,0.5", "--vary",
                 "zeta=1,20", "--workers", "1", "-q", "-o", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "4 points, 0 failed" in captured.out and "warning" not in captured.err
    ds = results.load(out)
    assert ds["sigma"].dims == ("omega_p", "zeta")
    assert ds["omega_p"].dtype.kind == "f" and ds["omega_p"].attrs["units"] == "W"
    assert sorted(p.name for p in out.parent.glob("*.png"))
    assert all(p.name.startswith("sweep_") for p in out.parent.glob("*.png"))


def test_cli_sweep_bad_key_is_a_one_line_error(photo_config, capsys):
    code = main(["sweep", str(photo_config), "--vary", "omgea_p=0.2:0.8:3", "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a config key" in err


def test_cli_sweep_bad_vary_syntax(photo_config, capsys):
    assert main(["sweep", str(photo_config), "--vary", "omega_p", "-q"]) == 2
    assert "--vary" in capsys.readouterr().err


@pytest.mark.parametrize("spec", ["0.5:0.6", "0.5:0.6:", "0.5:0.6:x", "a:b:3"])
def test_cli_sweep_a_range_without_its_count_names_the_form(toy_config, tmp_path, capsys,
                                                           spec):
    code = main(["sweep", str(toy_config), "--vary", f"tau={spec}", "-q",
                 "-o", str(tmp_path / "s.nc")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--vary tau" in err and "start:stop:count" in err
    assert not (tmp_path / "s.nc").exists()


def test_cli_sweep_refuses_a_huge_grid_in_one_line(toy_config, capsys):
    code = main(["sweep", str(toy_config), "--vary", "tau=1:2:100000", "--vary",
                 "T0=1:2:100000", "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "10000000000 points" in err and "--vary T0" in err


@pytest.mark.slow
def test_cli_sweep_on_an_existing_scheduler(photo_config, tmp_path, capsys):
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster:
        code = main(["sweep", str(photo_config), "--vary", "omega_p=0.4,0.5", "-q",
                     "--scheduler", cluster.scheduler_address, "-o", str(tmp_path / "s.nc")])
    assert code == 0
    assert "2 points, 0 failed" in capsys.readouterr().out


# A sweep of the toy job on a local Dask cluster, run as a command in its own session.
_CTRL_C_SCRIPT = """\
import sys
sys.path.insert(0, {tests!r})
from conftest import TOY_JOB
from boltzphlow import jobs
from boltzphlow.cli import main

if __name__ == "__main__":
    jobs.register_job(TOY_JOB)
    sys.exit(main(["sweep", {config!r}, "--vary", "tau=1:2:8", "--set", "delay_s=0.25",
                   "--set", "n_out=12", "--workers", "2", "-q", "-o", {out!r}]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupting_a_dask_sweep_stops_it_cleanly(toy_config, tmp_path, how):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM to the
    command: exit 130, one line, no Dask traceback, no worker left, finished points kept."""
    out = tmp_path / "s.nc"
    script = tmp_path / "sweep_toy.py"
    script.write_text(_CTRL_C_SCRIPT.format(tests=str(Path(__file__).parents[1]),
                                            config=str(toy_config), out=str(out)),
                      encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    points = tmp_path / "s.points"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and not (
            points.is_dir() and any(points.glob("*.nc"))):
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)
    else:
        os.kill(process.pid, signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "distributed" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("boltzphlow:"), stderr
    assert "points" not in stdout  # no summary: the sweep did not finish anyway
    assert not out.exists()
    assert 1 <= len(list(points.glob("*.nc"))) < 8
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "sid=,stat=,pid="], capture_output=True, text=True)
    alive = [line for line in ps.stdout.splitlines()
             if line.split()[0] == str(process.pid) and not line.split()[1].startswith("Z")]
    assert alive == []
