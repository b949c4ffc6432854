"""The photoexcited examples and bad input through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from boltzphlow import results
from boltzphlow.cli import main
from boltzphlow.config import list_examples, load_config

PHOTO_EXAMPLES = sorted(name for name in list_examples() if name.startswith("photoexcited_"))


def test_every_seed_figure_has_an_example():
    expected = {"fig1a", "fig1d", "fig1e", "fig2a", "fig2c", "fig2d", "fig2e", "fig3a",
                "fig3b", "sm_fig5", "sm_fig6a", "sm_fig6b"}
    assert {name.removeprefix("photoexcited_") for name in PHOTO_EXAMPLES} == expected


@pytest.mark.parametrize("name", PHOTO_EXAMPLES)
def test_examples_validate(name):
    job, config, raw = load_config(name)
    assert job.name == "photoexcited"
    assert list_examples()[name].startswith("Photoexcited metal, seed 004")


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_fig1a_writes_result_and_plot(tmp_path, capsys):
    code, out, _ = run_cli(["run", "photoexcited_fig1a", "--set", "points_per_omega=40",
                            "-q", "-o", str(tmp_path)], capsys)
    assert code == 0, out
    ds = results.load(tmp_path / "photoexcited_fig1a.nc")
    assert float(ds["sigma"]) < 0  # commensurate ω_p = W/2 at half filling
    assert (tmp_path / "photoexcited_distribution.png").is_file()
    assert "σ/σ_0" in out


def test_run_fig3b_pulse_with_instability(tmp_path, capsys):
    code, out, err = run_cli(["run", "photoexcited_fig3b", "--set", "points_per_omega=40",
                              "--set", "run.t_end=3", "--set", "run.n_out=7", "-q", "-o",
                              str(tmp_path)], capsys)
    assert code == 0, err
    ds = results.load(tmp_path / "photoexcited_fig3b.nc")
    assert {"sigma", "sigma_free", "field", "omega_E", "zeta", "f_free"} <= set(ds)
    assert (tmp_path / "photoexcited_evolution.png").is_file()


@pytest.mark.parametrize(("example", "args", "figures"), [
    ("photoexcited_fig2a", ["--vary", "omega_p=0.4,0.5", "--vary", "zeta=1,20"],
     ["photoexcited_sweep_sigma.png"]),
    ("photoexcited_sm_fig5", [], ["photoexcited_sweep_sigma.png",
                                  "photoexcited_sweep_distributions.png"]),
    ("photoexcited_fig3a", ["--set", "run.t_end=2", "--set", "run.n_out=5"],
     ["photoexcited_sweep_sigma.png"]),
])
def test_sweep_examples_make_their_plots(example, args, figures, tmp_path, capsys):
    code, out, err = run_cli(["sweep", example, *args, "--set", "points_per_omega=30",
                              "--workers", "1", "-q", "-o", str(tmp_path / "s.nc")], capsys)
    assert code == 0, err
    for figure in figures:
        assert (tmp_path / figure).is_file()


@pytest.mark.parametrize(("setting", "message"), [
    ("omega_p=-0.2", "omega_p must be > 0"),
    ("omega_p=0", "omega_p must be > 0"),
    ("T=-0.01", "temperature"),
    ("mu=0.8", "outside the band"),
    ("dos=flat", "unknown DoS"),
    ("transport=impurity", "v2"),
])
def test_bad_physics_is_a_one_line_error(setting, message, tmp_path, capsys):
    code, _, err = run_cli(["run", "photoexcited_fig1a", "--set", setting, "--set",
                            "points_per_omega=20", "-q", "-o", str(tmp_path)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert not Path(tmp_path / "photoexcited_fig1a.nc").exists()


def test_dos_table_file_with_velocities(tmp_path, capsys):
    import numpy as np

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
    assert code == 2 and "negative" in err
