"""The photoexcited examples, sweeps, resume and bad input through the command line."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import boltzphlow as bp
from boltzphlow import results
from boltzphlow.apps.photoexcited import PhotoexcitedConfig
from boltzphlow.config import list_examples, load_config
from boltzphlow.jobs import SilentContext, get_job
from boltzphlow.kinetics.photoexcited import model as model_module
from boltzphlow.sweep import parse_values
from boltzphlow.testing import assert_results_identical
from conftest import assert_figures_hold_data, figure_names, run_cli

PHOTO_EXAMPLES = sorted(name for name in list_examples() if name.startswith("photoexcited_"))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "photoexcited.md"

#: Small grids for the examples (the settings a user may pass with --set).
SMALL = ["--set", "points_per_omega=40", "--set", "run.t_end=0.5", "--set", "run.n_out=3",
         "--set", "p_band.mesh=8", "--set", "p_band.bins=40"]


def test_every_paper_figure_has_an_example():
    expected = {"fig1a", "fig1b", "fig1c", "fig1d", "fig1e", "fig2a", "fig2b", "fig2c", "fig2d",
                "fig2e", "fig3a", "fig3b", "sm_fig5", "sm_fig6a", "sm_fig6b"}
    assert {name.removeprefix("photoexcited_") for name in PHOTO_EXAMPLES} == expected


@pytest.mark.parametrize("name", PHOTO_EXAMPLES)
def test_examples_validate_and_resolve_the_thermal_step(name):
    job, config, raw = load_config(name)
    assert job.name == "photoexcited"
    assert list_examples()[name].startswith("Photoexcited metal, Chiriacò et al.")
    # the example's grid resolves the thermal step (h <= T) at every point of its [sweep]
    sweep = raw.get("sweep", {})
    omegas = parse_values(sweep["omega_p"]) if "omega_p" in sweep else [config.omega_p]
    temperatures = parse_values(sweep["T"]) if "T" in sweep else [config.T]
    for omega in omegas:
        for temperature in temperatures:
            assert config.points_per_omega >= math.ceil(omega / temperature * (1 - 1e-12))


@pytest.mark.parametrize("name", PHOTO_EXAMPLES)
@pytest.mark.slow
def test_every_example_runs_and_plots_data(name, tmp_path, capsys, figures):
    """Five examples (store_distributions = false) used to crash in the plot asking for eps."""
    code, out, err = run_cli(["run", name, *SMALL, "-q", "-o", str(tmp_path)], capsys)
    assert code == 0, err
    assert "warning" not in err and "plotting failed" not in err
    assert (tmp_path / f"{name}.nc").is_file()
    pngs = sorted(path.name for path in tmp_path.glob("*.png"))
    assert pngs and all(png.startswith(f"{name}_") for png in pngs)
    assert set(figure_names(figures)) == set(pngs)
    assert_figures_hold_data(figures)


def test_run_fig1a_writes_result_and_plot(tmp_path, capsys):
    code, out, _ = run_cli(["run", "photoexcited_fig1a", "--set", "points_per_omega=40",
                            "-q", "-o", str(tmp_path)], capsys)
    assert code == 0, out
    ds = results.load(tmp_path / "photoexcited_fig1a.nc")
    assert float(ds["sigma"]) < 0  # commensurate ω_p = W/2 at half filling
    assert (tmp_path / "photoexcited_fig1a_distribution.png").is_file()
    assert "σ/σ_0" in out
    # 40 cells per ω_p do not resolve T = 0.003: the summary says so and gives the minimum
    assert "points_per_omega >= 167" in out and int(ds["points_per_omega_min"]) == 167


@pytest.mark.slow
def test_run_fig3b_pulse_with_instability(tmp_path, capsys):
    code, out, err = run_cli(["run", "photoexcited_fig3b", "--set", "points_per_omega=40",
                              "--set", "run.t_end=3", "--set", "run.n_out=7", "-q", "-o",
                              str(tmp_path)], capsys)
    assert code == 0, err
    ds = results.load(tmp_path / "photoexcited_fig3b.nc")
    assert {"sigma", "sigma_free", "field", "omega_E", "zeta", "f_free"} <= set(ds)
    assert (tmp_path / "photoexcited_fig3b_evolution.png").is_file()


@pytest.mark.parametrize(("example", "args", "kinds"), [
    ("photoexcited_fig2a", ["--vary", "omega_p=0.4,0.5", "--vary", "zeta=1,20"],
     ["sweep_sigma"]),
    ("photoexcited_sm_fig5", [], ["sweep_sigma", "sweep_distributions"]),
    ("photoexcited_fig3a", ["--set", "run.t_end=2", "--set", "run.n_out=5"],
     ["sweep_sigma", "sweep_distributions"]),
    # a point that fails at run time (mu outside the band) is NaN in the file and left out of
    # the plots (it used to crash them: "zero-size array to reduction operation")
    ("photoexcited_fig1a", ["--vary", "mu=-0.1,0.0,0.7", "--vary", "zeta=1,20"],
     ["sweep_sigma", "sweep_distributions"]),
    ("photoexcited_fig3a", ["--vary", "delta_omega=0,0.001", "--set", "run.t_end=1",
                            "--set", "run.n_out=3"], ["sweep_sigma", "sweep_distributions"]),
    ("photoexcited_fig2e", ["--vary", "field=0,0.05", "--vary", "delta_omega=0,0.001",
                            "--set", "run.t_end=1", "--set", "run.n_out=3"], ["sweep_sigma"]),
    ("photoexcited_fig1a", ["--vary", "transport=constant-v2tau,impurity"],
     ["sweep_sigma", "sweep_distributions"]),
])
@pytest.mark.slow
def test_sweeps_plot_their_data(example, args, kinds, tmp_path, capsys, figures):
    code, out, err = run_cli(["sweep", example, *args, "--set", "points_per_omega=30",
                              "--workers", "1", "-q", "-o", str(tmp_path / "s.nc")], capsys)
    assert code == 0, err
    assert "plotting failed" not in err
    assert sorted(figure_names(figures)) == sorted(f"s_{kind}.png" for kind in kinds)
    assert_figures_hold_data(figures)
    for kind in kinds:
        assert (tmp_path / f"s_{kind}.png").is_file()


@pytest.mark.slow
def test_plot_draws_sweep_results_with_failed_points(tmp_path, figures):
    """The job's plot on a sweep result directly: NaN points and sweep_dims respected."""
    raw = {"model": "photoexcited", "points_per_omega": 20, "T": 0.02}
    ds = bp.sweep(raw, {"mu": [0.0, 0.9], "zeta": [1.0, 5.0]}, workers=1,
                  out=tmp_path / "s.nc", quiet=True)
    assert int(ds["failed"].sum()) == 2 and np.isnan(ds["sigma"].sel(mu=0.9)).all()
    paths = get_job("photoexcited").plot(ds, tmp_path, "mine")
    assert sorted(p.name for p in paths) == ["mine_sweep_distributions.png",
                                             "mine_sweep_sigma.png"]
    assert_figures_hold_data(figures)


@pytest.mark.parametrize(("setting", "message"), [
    ("omega_p=-0.2", "omega_p"),
    ("omega_p=0", "omega_p"),
    ("T=-0.01", "T"),
    ("T=true", "T"),  # booleans are not numbers
    ("T=inf", "T"),
    ("zeta=nan", "zeta"),
    ("points_per_omega=2.5", "points_per_omega"),
    ("mu=0.8", "outside the band"),
    ("dos=flat", "dos"),
    ("transport=impurity", "v2"),
    ("delta_omega=0.3", "omega_p/3"),
    ("instability=true", "instability: follows E*(t) in a time evolution"),
    ("dos_file='/dev/zero'", "dos_file '/dev/zero': not a regular file"),
    ("run.n_out=0", "run.n_out"),
])
def test_bad_input_is_a_one_line_error(setting, message, tmp_path, capsys):
    code, _, err = run_cli(["run", "photoexcited_fig1a", "--set", "points_per_omega=20",
                            "--set", setting, "-q", "-o", str(tmp_path)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and message in err, err
    assert not Path(tmp_path / "photoexcited_fig1a.nc").exists()


def test_memory_guards_name_the_keys(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "2 MiB")
    for settings, keys in ((["points_per_omega=20000"], "points_per_omega or omega_p"),
                           (["task='evolve'", "run.n_out=100000000"],
                            "run.n_out or points_per_omega"),
                           (["dos='p-band'", "p_band.mesh=200"], "p_band.mesh")):
        args = [item for s in settings for item in ("--set", s)]
        code, _, err = run_cli(["run", "photoexcited_fig1a", "--set", "points_per_omega=20",
                                *args, "-q", "-o", str(tmp_path)], capsys)
        assert code == 2 and err.count("\n") == 1 and keys in err and "needs" in err, err


def test_dos_table_file_with_velocities(tmp_path, capsys):
    eps = np.linspace(-0.5, 0.5, 401)
    table = np.column_stack([eps, np.sqrt(1 - 4 * eps**2), 0.25 - eps**2])
    np.savetxt(tmp_path / "band.txt", table)
    config = tmp_path / "table.toml"
    config.write_text(f'model = "photoexcited"\ndos_file = "{tmp_path / "band.txt"}"\n'
                      'transport = "constant-tau"\nomega_p = 0.5\npoints_per_omega = 40\n',
                      encoding="utf-8")
    code, out, err = run_cli(["run", str(config), "-q", "-o", str(tmp_path)], capsys)
    assert code == 0, err
    ds = results.load(tmp_path / "table.nc")
    assert ds.attrs["band"] == "band.txt" and float(ds["sigma"]) < 0
    (tmp_path / "bad.txt").write_text("0 1\n0.1 -1\n", encoding="utf-8")
    config.write_text(f'model = "photoexcited"\ndos_file = "{tmp_path / "bad.txt"}"\n',
                      encoding="utf-8")
    code, _, err = run_cli(["run", str(config), "-q", "-o", str(tmp_path)], capsys)
    assert code == 2 and "line 2: D is negative" in err and err.count("\n") == 1


# ------------------------------------------------------------------------------ resume
MAXWELL = {"model": "photoexcited", "task": "evolve", "filling": 1 / 3, "T": 0.02,
           "omega_p": 0.6, "zeta": 0.0, "fixed_zeta": False, "tau_ph": 5.0, "gamma_in": 0.01,
           "points_per_omega": 20, "instability": "maxwell",
           "pump": {"kind": "exponential", "zeta0": 10.0, "tau_pulse": 0.3},
           "run": {"t_end": 1.0, "n_out": 6}, "store_distributions": False}


def test_maxwell_resume_through_the_job_is_bitwise(tmp_path):
    """A resumed "maxwell" run changed omega_E by 1 ulp, earlier records included."""
    job = get_job("photoexcited")
    assert job.resumable
    config = PhotoexcitedConfig.model_validate(MAXWELL)
    full = job.run(config, SilentContext())
    saved = []

    class Keep(SilentContext):
        def checkpoint(self, ds):
            saved.append(ds.copy(deep=True))

    job.run(config, Keep())
    results.save(saved[2], tmp_path / "partial.nc")  # records 0..3 of 6
    resumed = job.run(config, SilentContext(resume_from=results.load(tmp_path / "partial.nc")))
    assert "check_failed" not in full.attrs
    for ds in (full, resumed):
        ds.attrs.pop("solve_time_s", None)
    assert_results_identical(resumed, full)


def test_resume_refuses_another_config(tmp_path):
    job = get_job("photoexcited")
    config = PhotoexcitedConfig.model_validate(MAXWELL)
    saved = []

    class Keep(SilentContext):
        def checkpoint(self, ds):
            saved.append(ds)

    job.run(config, Keep())
    other = PhotoexcitedConfig.model_validate({**MAXWELL, "points_per_omega": 21})
    with pytest.raises(ValueError, match="cannot resume.*energy grid"):
        job.run(other, SilentContext(resume_from=saved[1]))
    steady = PhotoexcitedConfig.model_validate({"model": "photoexcited",
                                                "points_per_omega": 20})
    with pytest.raises(ValueError, match="cannot resume.*steady-state"):
        job.run(steady, SilentContext(resume_from=saved[1]))


@pytest.mark.slow
def test_cli_resume_after_an_interrupt_is_bitwise(tmp_path, capsys, monkeypatch):
    config = tmp_path / "pulse.toml"
    config.write_text(
        'model = "photoexcited"\ntask = "evolve"\nfilling = 0.3333333333333333\nT = 0.02\n'
        'omega_p = 0.6\nzeta = 0.0\nfixed_zeta = false\ntau_ph = 5.0\ngamma_in = 0.01\n'
        'points_per_omega = 20\ninstability = "maxwell"\n'
        '[pump]\nkind = "exponential"\nzeta0 = 10.0\ntau_pulse = 0.3\n'
        '[run]\nt_end = 1.0\nn_out = 6\n', encoding="utf-8")
    code, _, err = run_cli(["run", str(config), "-q", "-o", str(tmp_path / "full")], capsys)
    assert code == 0, err
    real = model_module.integrate

    def interrupted(*args, callback, **kwargs):  # Ctrl-C while the 4th output is reached
        def on_output(k, *rest):
            if k == 4:
                raise KeyboardInterrupt
            return callback(k, *rest)
        return real(*args, callback=on_output, **kwargs)

    monkeypatch.setattr(model_module, "integrate", interrupted)
    out_dir = tmp_path / "cut"
    code, _, err = run_cli(["run", str(config), "-q", "-o", str(out_dir)], capsys)
    assert code == 130 and "--resume" in err
    monkeypatch.setattr(model_module, "integrate", real)
    partial = results.load(out_dir / "pulse.nc")
    assert 1 <= partial.sizes["t"] < 6
    code, _, err = run_cli(["run", "--resume", str(out_dir / "pulse.nc"), "-q"], capsys)
    assert code == 0, err
    full = results.load(tmp_path / "full" / "pulse.nc")
    resumed = results.load(out_dir / "pulse.nc")
    for ds in (full, resumed):
        ds.attrs.pop("solve_time_s", None)
    assert_results_identical(resumed, full)


# ------------------------------------------------------------------------------ docs
def test_every_config_key_is_documented_with_unit_and_default():
    from boltzphlow.schema import key_rows

    text = DOCS.read_text(encoding="utf-8")
    for key, unit, default, _ in key_rows(PhotoexcitedConfig):
        row = f"| `{key}` | {unit} | {default} |"
        assert row in text, row
    assert "| `pump.zeta0` | 1 | 10 |" in text and "| `tau_ph` | 1/Γ_eph | inf |" in text
    assert "seeds/" not in text and "seed 004" not in text


def test_a_number_drift_beyond_the_tolerance_flags_the_result(monkeypatch):
    from boltzphlow.apps import photoexcited as job_module

    config = PhotoexcitedConfig.model_validate({"model": "photoexcited", "points_per_omega": 20})
    assert "check_failed" not in get_job("photoexcited").run(config, SilentContext()).attrs
    monkeypatch.setattr(job_module, "NUMBER_DRIFT_TOLERANCE", -1.0)
    flagged = get_job("photoexcited").run(config, SilentContext())
    assert flagged.attrs["check_failed"].startswith("the electron number drifts by")
