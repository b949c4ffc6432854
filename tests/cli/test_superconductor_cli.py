"""The superconductor model through the command line: default run, --set, bad input,
interrupt (SIGINT in a real process) and resume to the same answer."""

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

FAST = ["--set", "grid.energy_step=6", "--set", "run.n_out=31"]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


def test_default_run_writes_result_plot_and_summary(tmp_path, capsys):
    assert main(["run", "-o", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    ds = load(tmp_path / "al_photon_hit.nc")
    assert_has_metadata(ds)
    assert int(ds.attrs["complete"]) == 1 and ds.attrs["model"] == "superconductor"
    assert (tmp_path / "superconductor_evolution.png").stat().st_size > 10_000
    assert "bookkeeping drift" in out and "QP density" in out
    total = (ds.electron_energy + ds.phonon_energy + ds.energy_escaped).values
    assert np.max(np.abs(total - total[0])) < 1e-8 * total[0]
    assert float(ds.qp_density[-1]) > float(ds.qp_density[0])  # pair breaking multiplied QPs


def test_set_overrides_and_other_examples(tmp_path, capsys):
    args = ["run", "al_closed_relaxation", "-o", str(tmp_path), "-q",
            "--set", "run.t_end=20 ns", "--set", "solver.order=3", "--set", "T_bath=0.2"]
    assert main(args) == 0
    ds = load(tmp_path / "al_closed_relaxation.nc")
    assert float(ds.t[-1]) == 20.0 and ds.attrs["T_bath_K"] == 0.2
    assert "order': 3" in ds.attrs["integrator_options"]
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
    ("T_bath=2 K", "Tc"),
    ("material=Xx", "unknown material"),
    ("grid.energy_step=80", "too coarse"),
    ("grid.E_max=600", "above the energy range"),
    ("solver.metod=bdf", "solver.metod"),
    ("escape_time=-1 ns", "escape_time"),
])
def test_bad_input_is_one_line_exit_2(override, needle, tmp_path, capsys):
    assert main(["run", "-o", str(tmp_path), "-q", "--set", override]) == 2
    assert needle in _one_error_line(capsys)
    assert not any(tmp_path.iterdir())  # nothing half-written


def _run(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "boltzphlow", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


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
