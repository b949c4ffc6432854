"""The ``superconductor_space`` job (QP–phonon kinetics in a slab or a sphere) through the
command line: bad configs in one line, a run writing NetCDF with units and figures that hold
data, animation frames, an interrupted run resumed to the uninterrupted answer, and a sweep.

The job is registered for each test (``jobs._JOBS``) as an installed entry point would; the
examples run on small grids (:data:`SMALL`).
"""

from __future__ import annotations

import signal

import numpy as np
import pytest

from boltzphlow import jobs, results
from boltzphlow.apps.superconductor_space import JOB
from boltzphlow.cli import main
from boltzphlow.progress import CliContext
from boltzphlow.testing import assert_has_metadata, assert_results_identical
from conftest import assert_figures_hold_data, figure_names, run_cli

#: Overrides that make the examples run in about a second (the small-grid entry of the
#: examples test).
SMALL = {"grid.energy_step": "8ueV", "grid.E_max": "900ueV", "cells": "10",
         "run.t_end": "10ns", "run.n_out": "6"}
SMALL_ARGS = [arg for key, value in SMALL.items() for arg in ("--set", f"{key}={value}")]


@pytest.fixture(autouse=True)
def space_job(monkeypatch: pytest.MonkeyPatch):
    """The job registered as model ``superconductor_space`` for the test."""
    monkeypatch.setitem(jobs._JOBS, JOB.name, JOB)
    return JOB


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], err
    return lines[0]


@pytest.mark.parametrize(("example", "override", "needle"), [
    ("al_sphere_photon", "raduis=5um", "raduis: unknown key (did you mean 'radius'?)"),
    ("al_sphere_photon", "cells=0", "cells: Input should be greater than or equal to 1"),
    ("al_sphere_photon", "geometry=cube", "geometry: "),
    ("al_sphere_photon", "phonon_transmission=1.5", "phonon_transmission: "),
    ("al_sphere_photon", "length=5um", "length: a sphere takes radius, not length"),
    ("al_sphere_photon", 'qp_boundary=["absorbing", "reflecting"]',
     "qp_boundary: give one kind, or one per wall (surface), got 2"),
    ("al_strip_trapping", "phonon_transmission=none", "phonon_transmission: "),
    ("al_sphere_photon", "photon.position=50um", "photon.position: 50 µm lies outside"),
    ("al_sphere_photon", "plot.points=[20.0]", "plot.points: 20 µm lies outside"),
    ("al_sphere_photon", "grid.E_max=600ueV", "photon.epsilon0: the packet at 700 ± 20 µeV "
     "reaches above grid.E_max"),
    ("al_sphere_photon", "solver.method=euler", "solver.method: unknown integration method"),
    ("al_strip_trapping", "injection.wall=surface", "injection.wall: must be one of"),
])
def test_bad_config_is_one_line_exit_2(example, override, needle, tmp_path, capsys):
    """A bad value or an unknown key: exit 2, one line naming the key, nothing written."""
    code, _, err = run_cli(["run", example, "-o", str(tmp_path), "-q", *SMALL_ARGS,
                            "--set", override], capsys)
    assert code == 2
    line = _one_error_line(err)
    assert line.startswith("boltzphlow: error: config error: ") and needle in line, line
    assert not any(tmp_path.iterdir())


def test_run_writes_units_balance_and_figures_that_hold_data(tmp_path, capsys, figures):
    """The strip example: every variable and coordinate has units and a long name, the energy
    inside plus escaped is conserved to 1e-8 relative, QPs are trapped at both ends, more at
    the end nearer the photon (60 µm against 140 µm), and the three figures hold data."""
    code, out, err = run_cli(["run", "al_strip_trapping", "-o", str(tmp_path), "-q",
                              *SMALL_ARGS], capsys)
    assert code == 0, err
    assert "warning" not in err
    ds = results.load(tmp_path / "al_strip_trapping.nc")
    assert_has_metadata(ds)
    assert ds.attrs["model"] == "superconductor_space" and results.is_complete(ds)
    assert ds.sizes == {"t": 6, "r": 10, "E": ds.sizes["E"], "omega": ds.sizes["omega"],
                        "wall": 2}
    total = (ds.total_energy + ds.energy_escaped - ds.energy_injected).values
    assert np.max(np.abs(total - total[0])) <= 1e-8 * total[0]
    lower, upper = ds.qp_energy_escaped.values[-1]
    assert lower > 10 * upper > 0
    assert figure_names(figures) == [f"al_strip_trapping_{kind}.png"
                                     for kind in ("maps", "spectra", "balance")]
    assert_figures_hold_data(figures)
    assert "bookkeeping drift" in out and "lower" in out and "upper" in out


def test_self_consistent_gap_through_the_config(tmp_path, capsys):
    """``gap = "self-consistent"``: the gap per cell is an output, the photon's QPs lower it
    where they are from the start (by 2.7e-4 µeV on this small grid), the exchange with the
    condensate is booked, and inside + escaped − injected − gap exchange stays constant."""
    code, _, err = run_cli(["run", "al_strip_trapping", "-o", str(tmp_path), "-q",
                            *SMALL_ARGS, "--set", "gap=self-consistent"], capsys)
    assert code == 0, err
    ds = results.load(tmp_path / "al_strip_trapping.nc")
    assert ds.attrs["gap_mode"] == "self-consistent" and ds.gap.attrs["units"] == "ueV"
    gap = ds.gap.values
    photon_cell = int(np.argmin(np.abs(ds.r.values - 60.0)))
    assert gap[0].argmin() == photon_cell and gap[0, photon_cell] < gap[0, -1]
    assert np.any(gap[-1] != gap[0])
    assert ds.gap_exchange.values[-1] != 0
    total = (ds.total_energy + ds.energy_escaped - ds.energy_injected
             - ds.gap_exchange).values
    assert np.max(np.abs(total - total[0])) <= 1e-8 * total[0]


def test_frames_one_numbered_png_per_output_time(tmp_path, capsys, figures, toy_config):
    """``plot --frames`` writes one frame per output time, numbered from 0000, each holding
    data; a model whose plot draws no frames is refused in one line (exit 2)."""
    assert main(["run", "al_sphere_photon", "-o", str(tmp_path), "-q", *SMALL_ARGS]) == 0
    figures.clear()
    capsys.readouterr()
    frames = tmp_path / "frames"
    code, out, _ = run_cli(["plot", str(tmp_path / "al_sphere_photon.nc"), "--frames", "-o",
                            str(frames)], capsys)
    assert code == 0
    names = [f"al_sphere_photon_frame_{k:04d}.png" for k in range(6)]
    assert figure_names(figures) == names
    assert sorted(p.name for p in frames.iterdir()) == names
    assert out.count("wrote ") == 6
    assert_figures_hold_data(figures)
    assert main(["run", str(toy_config), "-o", str(tmp_path / "toy"), "-q"]) == 0
    code, _, err = run_cli(["plot", str(tmp_path / "toy" / "toy.nc"), "--frames"], capsys)
    assert code == 2
    assert "--frames: model 'toy' draws no animation frames" in _one_error_line(err)


def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, capsys, monkeypatch):
    """SIGINT after the second output interval keeps a checkpoint of three records; resuming
    it gives the uninterrupted result, every value identical.  The run injects 1 pW per µm²
    through the upper end (a 1 µm² cross-section): 1e-12 W = 6241.5 µeV/ns, so 62415 µeV by
    10 ns, counted in the energy balance."""
    part, full = tmp_path / "part", tmp_path / "full"
    args = [*SMALL_ARGS, "--set", "injection.power=1e-12 W/um^2", "--set",
            "injection.wall=upper"]
    assert main(["run", "al_strip_trapping", "-o", str(full), "-q", *args]) == 0
    reference = results.load(full / "al_strip_trapping.nc")
    injected = 1e-12 / 1.602176634e-25 * 1e-9 * 10.0  # W -> µeV/ns, times 10 ns
    assert float(reference.energy_injected[-1]) == pytest.approx(injected, rel=1e-12)
    assert float(reference.attrs["bookkeeping_drift"]) < 1e-12
    progress = CliContext.progress

    def interrupting(self, done: float, total: float) -> None:
        progress(self, done, total)
        if done >= 2:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(CliContext, "progress", interrupting)
    target = part / "al_strip_trapping.nc"
    code, _, err = run_cli(["run", "al_strip_trapping", "-o", str(part), "-q", *args], capsys)
    assert code == 130 and "--resume" in err
    partial = results.load(target)
    assert not results.is_complete(partial) and partial.sizes["t"] == 3
    monkeypatch.setattr(CliContext, "progress", progress)
    code, _, err = run_cli(["run", "-q", "--resume", str(target)], capsys)
    assert code == 0, err
    resumed = results.load(target)
    # every attribute (the outer steps of both sessions included), coordinate and value
    assert reference.attrs["outer_steps"] == resumed.attrs["outer_steps"]
    assert_results_identical(resumed, reference)


def test_sweep_over_the_phonon_transmission(tmp_path, capsys, figures):
    """A sweep over ``phonon_transmission``: both points finish, more phonon energy leaves
    through the ends at 0.8 than at 0.2, and the evolution and scalar figures hold data."""
    out = tmp_path / "strip_sweep.nc"
    code, text, err = run_cli(["sweep", "al_strip_trapping", "--vary",
                               "phonon_transmission=0.2,0.8", "--workers", "1", "-q", "-o",
                               str(out), *SMALL_ARGS], capsys)
    assert code == 0, err
    ds = results.load(out)
    assert ds["failed"].values.tolist() == [0, 0]
    phonons = ds.phonon_energy_escaped.isel(t=-1).sum("wall").values
    assert phonons[1] > phonons[0] > 0
    assert figure_names(figures) == ["strip_sweep_evolution.png", "strip_sweep_scalars.png"]
    assert_figures_hold_data(figures)
    assert "phonon_transmission = 0.8" in text
