"""The command line end to end, in process, on the toy job (see tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from boltzphlow import __version__
from boltzphlow.cli import main
from boltzphlow.config import config_from_result
from boltzphlow.results import load, save
from boltzphlow.testing import assert_has_metadata, assert_results_identical


def _one_error_line(capsys) -> str:
    """The single stderr line of a failed command (no traceback)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("boltzphlow: error: ")
    return lines[0]


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"boltzphlow {__version__}"


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "usage: boltzphlow" in capsys.readouterr().err


@pytest.mark.slow
def test_run_writes_result_and_plot_and_prints_summary(toy_config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(toy_config), "-o", str(out), "--quiet"]) == 0
    stdout = capsys.readouterr().out
    result = load(out / "toy.nc")
    assert_has_metadata(result)
    assert result.attrs["complete"] == 1
    assert result.attrs["model"] == "toy"
    assert config_from_result(result)["tau"] == "1.5 ns"
    assert result.sizes["t"] == 5
    assert "toy decay: T = " in stdout
    assert f"wrote {out / 'toy.nc'}" in stdout
    assert f"wrote {out / 'toy_decay.png'}" in stdout
    assert (out / "toy_decay.png").stat().st_size > 0
    assert sorted(p.name for p in out.iterdir()) == ["toy.nc", "toy_decay.png"]


def test_run_defaults_to_boltzphlow_out_and_shows_progress(toy_config, tmp_path, monkeypatch,
                                                           capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "toy.toml"]) == 0
    assert Path("boltzphlow-out/toy.nc").is_file()
    assert "toy" in capsys.readouterr().err  # the progress bar


def test_set_overrides_the_config(toy_config, tmp_path):
    out = tmp_path / "out"
    args = ["run", str(toy_config), "-o", str(out), "-q", "--set", "n_out=3",
            "--set", "solver.method=exact", "--set", "T0=50mK"]
    assert main(args) == 0
    result = load(out / "toy.nc")
    assert result.sizes["t"] == 3
    assert float(result["T"][0]) == 0.05
    raw = config_from_result(result)
    assert (raw["n_out"], raw["solver"]["method"], raw["T0"]) == (3, "exact", "50mK")


@pytest.mark.parametrize(
    ("toml", "overrides", "message"),
    [
        ('model = "toy"\nT0 = \n', [], "invalid TOML"),
        ('model = "toy"\nfoo = 1\n', [], "config error: foo: unknown key"),
        ('model = "toy"\nn_out = "x"\n', [], "config error: n_out: Input should be a valid "),
        ('model = "toy"\nT0 = "3 ns"\n', [], "config error: T0: expected a temperature (K), "
                                             "got '3 ns'"),
        ('model = "toy"\n', ["tau=-2"], "config error: tau: must be > 0"),
        ('model = "toy"\n', ["tau"], "config error: tau: expected --set key=value"),
        ('model = "nope"\n', [], "config error: model: unknown model 'nope'"),
        ('T0 = 1\n', [], "config error: model: missing"),
        ('model = "toy"\n', ["fail_at=1"], "toy failure at record 1"),  # ValueError from the job
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_file(toy_job, tmp_path, capsys, toml, overrides,
                                                  message):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    out = tmp_path / "out"
    args = ["run", str(path), "-o", str(out), "-q", *[f"--set={item}" for item in overrides]]
    assert main(args) == 2
    assert message in _one_error_line(capsys)
    assert not (out / "bad.nc").exists()


def test_missing_config_file_or_example(toy_examples, tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "no config file or built-in example named" in _one_error_line(capsys)
    assert main(["run", "no_such_example"]) == 2
    assert "see `boltzphlow examples`" in _one_error_line(capsys)


def test_job_error_after_a_checkpoint_keeps_the_partial_result(toy_config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(toy_config), "-o", str(out), "-q", "--set", "fail_at=3"]) == 2
    assert _one_error_line(capsys) == (
        f"boltzphlow: error: toy failure at record 3 (partial result kept in {out / 'toy.nc'}; "
        f"resume with: boltzphlow run --resume {out / 'toy.nc'})")
    partial = load(out / "toy.nc")
    assert (partial.attrs["complete"], partial.sizes["t"]) == (0, 3)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupt_keeps_a_partial_result_that_resumes_to_the_same_answer(
    toy_config, interrupt_toy, tmp_path, capsys, how
):
    reference = tmp_path / "reference"
    assert main(["run", str(toy_config), "-o", str(reference), "-q"]) == 0
    out = tmp_path / "out"
    output = out / "toy.nc"

    interrupt_toy(after=3, how=how)
    assert main(["run", str(toy_config), "-o", str(out), "-q"]) == 130
    message = capsys.readouterr().err.strip()
    assert message == (f"boltzphlow: interrupted; partial result kept in {output}; "
                       f"resume with: boltzphlow run --resume {output}")
    partial = load(output)
    assert (partial.attrs["complete"], partial.sizes["t"]) == (0, 3)
    assert_has_metadata(partial)
    assert [p.name for p in out.iterdir()] == ["toy.nc"]

    interrupt_toy(after=None)
    assert main(["run", "--resume", str(output), "-q"]) == 0
    assert_results_identical(load(output), load(reference / "toy.nc"))
    assert (out / "toy_decay.png").is_file()


def test_interrupt_before_the_first_checkpoint_writes_nothing(toy_config, interrupt_toy,
                                                              tmp_path, capsys):
    interrupt_toy(after=1)
    assert main(["run", str(toy_config), "-o", str(tmp_path / "out"), "-q"]) == 130
    assert "nothing written" in capsys.readouterr().err
    assert not (tmp_path / "out" / "toy.nc").exists()


def test_resume_of_a_complete_result_does_nothing(toy_config, tmp_path, capsys):
    assert main(["run", str(toy_config), "-o", str(tmp_path), "-q"]) == 0
    before = (tmp_path / "toy.nc").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["run", "--resume", str(tmp_path / "toy.nc")]) == 0
    assert "already complete" in capsys.readouterr().out
    assert (tmp_path / "toy.nc").stat().st_mtime_ns == before


def test_resume_refuses_overrides_and_missing_files(toy_config, tmp_path, capsys):
    assert main(["run", "--resume", str(tmp_path / "missing.nc")]) == 2
    assert "no such result file" in _one_error_line(capsys)
    assert main(["run", "--resume", str(tmp_path / "x.nc"), "--set", "tau=2"]) == 2
    assert "config error: --resume: takes the config from the result" in _one_error_line(capsys)


def test_examples_list_print_and_run(toy_examples, tmp_path, monkeypatch, capsys):
    assert main(["examples"]) == 0
    assert capsys.readouterr().out == "toy_example  Toy exponential decay used by the tests\n"
    assert main(["examples", "toy_example"]) == 0
    assert capsys.readouterr().out == (toy_examples / "toy_example.toml").read_text()
    assert main(["examples", "nope"]) == 2
    assert "unknown example 'nope' (known: toy_example)" in _one_error_line(capsys)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "toy_example", "-q"]) == 0
    assert load(Path("boltzphlow-out/toy_example.nc")).attrs["complete"] == 1


def test_info_and_plot_on_a_result(toy_config, interrupt_toy, tmp_path, capsys):
    assert main(["run", str(toy_config), "-o", str(tmp_path), "-q"]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "toy.nc")]) == 0
    info = capsys.readouterr().out
    for text in ("model:      toy", f"boltzphlow {__version__}", "state:      complete",
                 "checksums:  verified (2 variables)",
                 "T (t: 5) [K]  temperature", "t (t: 5) [ns]  time", "toy decay: T = "):
        assert text in info

    assert main(["plot", str(tmp_path / "toy.nc"), "-o", str(tmp_path / "figs")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'figs' / 'toy_decay.png'}"
    assert (tmp_path / "figs" / "toy_decay.png").stat().st_size > 0

    interrupt_toy(after=2)
    assert main(["run", str(toy_config), "-o", str(tmp_path), "-q"]) == 130
    capsys.readouterr()
    assert main(["info", str(tmp_path / "toy.nc")]) == 0
    assert "state:      partial (resume with: boltzphlow run --resume" in capsys.readouterr().out


def test_info_on_a_file_that_is_not_a_result(toy_config, tmp_path, capsys):
    assert main(["run", str(toy_config), "-o", str(tmp_path), "-q"]) == 0
    ds = load(tmp_path / "toy.nc")
    del ds.attrs["model"]
    save(ds, tmp_path / "anonymous.nc")
    capsys.readouterr()
    assert main(["info", str(tmp_path / "anonymous.nc")]) == 2
    assert "has no 'model' attribute" in _one_error_line(capsys)


def test_python_dash_m(tmp_path):
    done = subprocess.run([sys.executable, "-m", "boltzphlow", "--version"], capture_output=True,
                          text=True, check=False, cwd=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, f"boltzphlow {__version__}")
