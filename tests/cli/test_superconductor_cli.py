"""The superconductor model through the command line: default run, --set, bad input,
interrupt (SIGINT in a real process), resume to the same answer, resume refused for data of
another config, sweeps with plots that hold data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from boltzphlow.cli import main
from boltzphlow.results import load
from boltzphlow.testing import assert_has_metadata
from conftest import assert_figures_hold_data, figure_names

FAST = ["--set", "grid.energy_step=6", "--set", "run.n_out=31"]
SMALL = ["--set", "grid.energy_step=8", "--set", "grid.E_max=600", "--set", "run.t_end=20 ns",
         "--set", "photon.epsilon0=450 ueV", "--set", "photon.energy=0.2 eV"]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


@pytest.mark.slow
def test_default_run_writes_result_plot_and_summary(tmp_path, capsys, figures):
    assert main(["run", "-o", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    ds = load(tmp_path / "al_photon_hit.nc")
    assert_has_metadata(ds)
    assert int(ds.attrs["complete"]) == 1 and ds.attrs["model"] == "superconductor"
    assert figure_names(figures) == ["al_photon_hit_evolution.png"]
    assert_figures_hold_data(figures)
    assert (tmp_path / "al_photon_hit_evolution.png").stat().st_size > 10_000
    assert "bookkeeping drift" in out and "QP density" in out
    assert "check_failed" not in ds.attrs
    assert ds.attrs["bookkeeping_drift"] < ds.attrs["bookkeeping_tolerance"] <= 1.01e-6
    total = (ds.electron_energy + ds.phonon_energy + ds.energy_escaped).values
    assert np.max(np.abs(total - total[0])) < 1e-8 * total[0]
    assert float(ds.qp_density[-1]) > float(ds.qp_density[0])  # pair breaking multiplied QPs


@pytest.mark.slow
def test_set_overrides_and_other_examples(tmp_path, capsys):
    args = ["run", "al_closed_relaxation", "-o", str(tmp_path), "-q",
            "--set", "run.t_end=20 ns", "--set", "solver.order=3", "--set", "T_bath=0.2"]
    assert main(args) == 0
    ds = load(tmp_path / "al_closed_relaxation.nc")
    assert float(ds.t[-1]) == 20.0 and ds.attrs["T_bath_K"] == 0.2
    assert ds.attrs["solver_option_order"] == 3 and ds.attrs["solver_status"] == "success"
    assert np.all(ds.f.values >= 0)
    assert main(["run", "al_steady_injection", "-o", str(tmp_path), "-q",
                 "--set", "grid.energy_step=4", "--set", "grid.E_max=1200"]) == 0
    ss = load(tmp_path / "al_steady_injection.nc")
    assert "t" not in ss.dims and float(ss.attrs["residual"]) < 1e-10
    assert float(ss.escape_power) == pytest.approx(float(ss.injected_power), rel=1e-8)
    capsys.readouterr()
    assert main(["info", str(tmp_path / "al_steady_injection.nc")]) == 0
    assert "steady state" in capsys.readouterr().out


@pytest.mark.parametrize("override,needle", [
    ("T_bath=3 ns", "T_bath"),
    ("T_bath=2 K", "T_bath: 2 K is not below Tc = 1.19 K of Al"),
    ("T_bath=5K", "T_bath: 5 K is not below Tc"),
    ("T_bath=true", "T_bath: expected a temperature (K), got boolean true"),
    ("material=Xx", "material: unknown material 'Xx' (built in: Al, In, Nb, Pb, Sn, Ta"),
    ("grid.energy_step=80", "grid.energy_step: 80 µeV is too coarse"),
    ("grid.energy_step=100ueV", "the largest step that works is 44.99 µeV"),
    ("grid.E_max=600", "photon.epsilon0: the packet at 700 ± 20 µeV (three widths) reaches "
                       "above grid.E_max"),
    ("photon.epsilon0=5000", "raise grid.E_max to at least"),
    ("solver.metod=bdf", "solver.metod"),
    ("solver.method=euler", "solver.method: unknown integration method 'euler'"),
    ("escape_time=-1 ns", "escape_time"),
    ("escape_time=1e-30", "escape_time: 1e-30 ns is too short to account for the energy"),
    ("run.n_out=2.5", "run.n_out"),
    ("run.n_out=10000000000", "change run.n_out"),
    ("grid.E_max=2e5", "dense Jacobian"),
])
def test_bad_input_is_one_line_exit_2(override, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "4 GiB")
    assert main(["run", "-o", str(tmp_path), "-q", "--set", override,
                 "--set", "grid.energy_step=1" if override == "grid.E_max=2e5" else "volume=10"
                 ]) == 2
    assert needle in _one_error_line(capsys)
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_bad_material_file_is_one_line_naming_file_and_key(tmp_path, capsys):
    film = tmp_path / "film.toml"
    film.write_text('name = "film"\nTc = 1.3\ndelta0 = 200.0\n')
    assert main(["run", "-o", str(tmp_path / "out"), "-q", "--set", f"material={film}"]) == 2
    line = _one_error_line(capsys)
    assert "film.toml" in line and "'tau0'" in line and "missing" in line


@pytest.mark.slow
def test_resume_refuses_data_of_another_config(tmp_path, capsys):
    """A partial file whose stored config asks for another grid is refused, not overwritten."""
    import json

    assert main(["run", "al_closed_relaxation", "-o", str(tmp_path), "-q", *SMALL,
                 "--set", "run.n_out=5"]) == 0
    target = tmp_path / "al_closed_relaxation.nc"
    ds = load(target).isel(t=slice(0, 3))
    raw = json.loads(ds.attrs["config"])
    raw["grid"]["energy_step"] = "6 ueV"
    ds.attrs.update(config=json.dumps(raw), complete=0)
    ds.to_netcdf(tmp_path / "partial.nc")
    before = (tmp_path / "partial.nc").read_bytes()
    capsys.readouterr()
    assert main(["run", "-q", "--resume", str(tmp_path / "partial.nc")]) == 2
    assert "QP bins, this config gives" in _one_error_line(capsys)
    assert (tmp_path / "partial.nc").read_bytes() == before


@pytest.mark.slow
def test_sweep_of_the_issue_draws_every_point(tmp_path, capsys, figures):
    """`boltzphlow sweep al_closed_relaxation --vary 'T_bath=100mK,150mK,200mK'` failed at
    plotting ("x and y must have same first dimension")."""
    out = tmp_path / "sweep.nc"
    assert main(["sweep", "al_closed_relaxation", "--vary", "T_bath=100mK,150mK,200mK",
                 "--workers", "1", "-q", "-o", str(out), *SMALL]) == 0
    assert figure_names(figures) == ["sweep_evolution.png", "sweep_scalars.png"]
    assert_figures_hold_data(figures)
    text = capsys.readouterr().out
    assert "T_bath = 0.15" in text


def _run(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "boltzphlow", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_interrupt_and_resume_give_the_uninterrupted_answer(tmp_path):
    part, full = tmp_path / "part", tmp_path / "full"
    proc = _run(["run", "-o", str(part), "-q", *FAST], tmp_path)
    target = part / "al_photon_hit.nc"
    deadline = time.monotonic() + 120
    while not target.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err
    partial = load(target)
    assert int(partial.attrs["complete"]) == 0 and 1 < partial.sizes["t"] < 31
    done = subprocess.run([sys.executable, "-m", "boltzphlow", "run", "-q", "--resume",
                           str(target)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert main(["run", "-o", str(full), "-q", *FAST]) == 0
    resumed, reference = load(target), load(full / "al_photon_hit.nc")
    assert int(resumed.attrs["complete"]) == 1
    for name in ("f", "n", "delta", "qp_density", "energy_escaped"):
        np.testing.assert_array_equal(resumed[name].values, reference[name].values)
