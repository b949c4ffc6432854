"""The superconductor_thermal job through the command line: a run with units on every
variable, figures that hold data and a summary; a sweep; bad keys and values as one line with
exit code 2 and nothing written."""

from __future__ import annotations

import numpy as np
import pytest

from boltzphlow.cli import main
from boltzphlow.kinetics.superconductor import thermal as th
from boltzphlow.results import load
from boltzphlow.testing import assert_has_metadata
from boltzphlow.units import K_B
from conftest import assert_figures_hold_data, figure_names

SMALL = ["--set", "n_T=12"]


@pytest.mark.slow
def test_run_writes_a_labelled_table_figures_and_summary(tmp_path, capsys, figures):
    assert main(["run", "al_thermal", "-o", str(tmp_path), *SMALL]) == 0
    out = capsys.readouterr().out
    ds = load(tmp_path / "al_thermal.nc")
    assert_has_metadata(ds)
    assert ds.attrs["model"] == "superconductor_thermal" and ds.sizes["T"] == 12
    for name in (*ds.data_vars, *ds.coords):
        assert ds[name].attrs.get("units") and ds[name].attrs.get("long_name"), name
    assert ds["kappa"].attrs["units"] == "W/(m K)"
    assert ds["heat_capacity"].attrs["units"] == "J/(K m^3)"
    assert ds["T"].attrs["units"] == "K" and float(ds["T"][0]) == pytest.approx(0.05)
    # the table is the library's: κ_s/κ_n and C at the config's temperatures
    np.testing.assert_allclose(ds["kappa_ratio"], th.thermal_conductivity_ratio("Al", ds["T"]),
                               rtol=1e-14)
    np.testing.assert_allclose(ds["heat_capacity"], th.heat_capacity("Al", ds["T"].values),
                               rtol=1e-14)
    # the relaxation-time κ where the grid allows it (Δ ≥ k_BT/32), NaN toward and above Tc
    allowed = ds["delta"].values >= K_B * ds["T"].values / 32
    assert allowed.sum() == 9 and (ds["t"].values[~allowed] > 0.99).all()
    assert np.isfinite(ds["kappa_rt_ratio"].values[allowed]).all()
    assert np.isnan(ds["kappa_rt_ratio"].values[~allowed]).all()
    assert figure_names(figures) == ["al_thermal_ratios.png", "al_thermal_diffusivity.png"]
    assert_figures_hold_data(figures)
    assert "κ_s/κ_n" in out and "Tc = 1.19 K" in out


@pytest.mark.slow
def test_units_in_the_config_are_converted(tmp_path, capsys):
    assert main(["run", "al_thermal", "-o", str(tmp_path), "-q", "--set", "n_T=3",
                 "--set", "T_min=300 mK", "--set", "T_max=0.0009 kK",
                 "--set", "fermi_velocity=2030 um/ns", "--set", "mean_free_path=500 nm"]) == 0
    ds = load(tmp_path / "al_thermal.nc")
    np.testing.assert_allclose(ds["T"], [0.3, 0.6, 0.9], rtol=1e-12)
    np.testing.assert_allclose(ds.attrs["impurity_time_ns"], 0.5 / 2030, rtol=1e-12)


@pytest.mark.slow
def test_sweep_over_the_gap_model_draws_every_point(tmp_path, capsys, figures):
    out = tmp_path / "gaps.nc"
    assert main(["sweep", "pb_thermal", "--vary", "gap=bcs,alpha", "--workers", "1", "-q",
                 "-o", str(out), *SMALL]) == 0
    ds = load(out)
    assert ds.sizes["gap"] == 2 and not ds["failed"].values.any()
    assert_figures_hold_data(figures)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


@pytest.mark.parametrize(("override", "needle"), [
    ("n_TT=5", "n_TT"),
    ("T_min=2 ns", "T_min"),
    ("T_max=0.01", "T_max: 0.01 K must exceed T_min = 0.05 K"),
    ("n_T=1", "n_T"),
    ("gap=strong", "gap"),
    ("material=Xx", "material: unknown material 'Xx'"),
])
def test_bad_key_or_value_is_one_line_exit_2(override, needle, tmp_path, capsys):
    assert main(["run", "al_thermal", "-o", str(tmp_path), "-q", "--set", override]) == 2
    assert needle in _one_error_line(capsys)
    assert not any(tmp_path.iterdir())


def test_mean_free_path_without_fermi_velocity_is_refused(tmp_path, capsys):
    config = tmp_path / "film.toml"
    config.write_text('model = "superconductor_thermal"\nmean_free_path = "1 um"\n',
                      encoding="utf-8")
    assert main(["run", str(config), "-o", str(tmp_path / "out"), "-q"]) == 2
    assert "mean_free_path: give it with fermi_velocity, or neither" in _one_error_line(capsys)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
