"""Parameter sweeps (boltzphlow.sweep and `boltzphlow sweep`): Dask vs serial, failures, reuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import boltzphlow as bp
from boltzphlow import results
from boltzphlow.cli import main
from boltzphlow.sweep import is_config_key, parse_values, point_key, sweep_points

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


# ------------------------------------------------------------------------------ pure helpers
def test_parse_values():
    assert parse_values("0.2:0.8:4") == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert parse_values("1,5,20") == [1, 5, 20]
    assert parse_values("constant-tau,impurity") == ["constant-tau", "impurity"]
    assert parse_values([1.0, 2.0]) == [1.0, 2.0]
    assert parse_values(np.array([1.5])) == [1.5]
    for bad in ("0:1:x", "0:1:0", ""):
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
    assert ds["T"].dims == ("tau", "T0", "t") or set(ds["T"].dims) == {"tau", "T0", "t"}
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
    assert len(list((tmp_path / "toy_sweep.points").glob("*.nc"))) == 6
    results.check_metadata(on_disk)


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


def test_rerun_reuses_finished_points(toy_config, tmp_path):
    out = tmp_path / "s.nc"
    first = bp.sweep(toy_config, {"tau": [1.0, 2.0]}, workers=1, out=out)
    assert first.attrs["sweep_reused"] == 0
    # a stored point is used as it is: tamper with one to prove it is not recomputed
    folder = tmp_path / "s.points"
    path = sorted(folder.glob("*.nc"))[0]
    stored = results.load(path)
    stored["T"] = stored["T"] * 0 + 123.0
    results.save(stored, path)
    again = bp.sweep(toy_config, {"tau": [1.0, 2.0, 3.0]}, workers=1, out=out)
    assert again.attrs["sweep_reused"] == 2
    assert np.any(again["T"].to_numpy() == 123.0)
    assert np.all(np.isfinite(again["T"].sel(tau=3.0)))


def test_two_worker_local_cluster_equals_serial(photo_config, tmp_path):
    vary = {"omega_p": "0.3:0.6:4", "zeta": [1.0, 20.0]}
    serial = bp.sweep(photo_config, vary, workers=1, out=None)
    parallel = bp.sweep(photo_config, vary, workers=2, out=tmp_path / "p.nc")
    xr.testing.assert_equal(serial["sigma"], parallel["sigma"])
    assert parallel.attrs["n_failed"] == 0
    assert float(serial["sigma"].min()) < 0 < float(serial["sigma"].max())


def test_failing_point_on_the_cluster_does_not_lose_the_others(photo_config, tmp_path):
    ds = bp.sweep(photo_config, {"omega_p": [-0.1, 0.4, 0.5]}, workers=2,
                  out=tmp_path / "f.nc", report=lambda line: None)
    assert ds["failed"].values.tolist() == [1, 0, 0]
    assert np.isnan(float(ds["sigma"].sel(omega_p=-0.1)))
    assert np.all(np.isfinite(ds["sigma"].sel(omega_p=[0.4, 0.5])))
    assert "omega_p must be > 0" in ds.attrs["sweep_errors"]


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
    text = capsys.readouterr().out
    assert "4 points, 0 failed" in text
    ds = results.load(out)
    assert ds["sigma"].dims == ("omega_p", "zeta")
    assert (out.parent / "photoexcited_sweep_sigma.png").is_file()


def test_cli_sweep_bad_key_is_a_one_line_error(photo_config, capsys):
    code = main(["sweep", str(photo_config), "--vary", "omgea_p=0.2:0.8:3", "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a config key" in err


def test_cli_sweep_bad_vary_syntax(photo_config, capsys):
    assert main(["sweep", str(photo_config), "--vary", "omega_p", "-q"]) == 2
    assert "--vary" in capsys.readouterr().err


def test_cli_sweep_on_an_existing_scheduler(photo_config, tmp_path, capsys):
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster:
        code = main(["sweep", str(photo_config), "--vary", "omega_p=0.4,0.5", "-q",
                     "--scheduler", cluster.scheduler_address, "-o", str(tmp_path / "s.nc")])
    assert code == 0
    assert "2 points, 0 failed" in capsys.readouterr().out
