"""What the command line says when things go wrong: one line, the documented exit code.

Exit codes: 0 success, 1 internal error, 2 user/input error, 3 result failed its own check,
130 interrupted (see tests/cli/test_interrupt.py).  Most tests run ``main`` in process on the
toy job of tests/conftest.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from boltzphlow import errors, jobs
from boltzphlow.cli import main
from boltzphlow.results import load, save
from boltzphlow.testing import assert_results_identical

INTERNAL_HINT = "(run with --debug for the traceback)"


def _stderr_lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def _one_line(capsys, prefix: str = "boltzphlow: error: ") -> str:
    lines = _stderr_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith(prefix), lines
    return lines[0]


def _register(monkeypatch, toy_job, **changes) -> jobs.Job:
    """Register a changed copy of the toy job as "toy"."""
    job = dataclasses.replace(toy_job, **changes)
    monkeypatch.setitem(jobs._JOBS, "toy", job)
    return job


def _raising(exc: BaseException):
    def run(config, context):
        raise exc

    return run


# --------------------------------------------------------------------------- exception mapping
@pytest.mark.parametrize("exc", [
    ValueError("bad value"),
    OSError("disk on fire"),
    errors.InputError("material file x.toml, line 3: negative degeneracy"),
    errors.SolverError("Newton did not converge; raise solver.max_iter"),
    errors.ResourceError("the grid needs 1.2 TiB; lower grid.E_max"),
    FileNotFoundError(2, "No such file or directory", "dos.dat"),
])
def test_user_errors_are_one_line_exit_2(toy_config, toy_job, monkeypatch, tmp_path, capsys,
                                         exc):
    _register(monkeypatch, toy_job, run=_raising(exc))
    assert main(["run", str(toy_config), "-o", str(tmp_path / "out"), "-q"]) == 2
    line = _one_line(capsys)
    assert str(exc).split()[0] in line
    assert not (tmp_path / "out" / "toy.nc").exists()


@pytest.mark.parametrize("exc", [
    OverflowError("int too large to convert to float"),
    ZeroDivisionError("float division by zero"),
    RecursionError("maximum recursion depth exceeded"),
    KeyError("eps"),
    IndexError("list index out of range"),
    TypeError("unsupported operand"),
    RuntimeError("multi\nline\nmessage"),
])
def test_anything_else_is_one_line_internal_error_exit_1(toy_config, toy_job, monkeypatch,
                                                          tmp_path, capsys, exc):
    _register(monkeypatch, toy_job, run=_raising(exc))
    assert main(["run", str(toy_config), "-o", str(tmp_path), "-q"]) == 1
    line = _one_line(capsys, "boltzphlow: internal error: ")
    assert line.startswith(f"boltzphlow: internal error: {type(exc).__name__}: ")
    assert line.endswith(INTERNAL_HINT)
    assert "Traceback" not in line


def test_debug_prints_the_traceback(toy_config, toy_job, monkeypatch, tmp_path, capsys):
    _register(monkeypatch, toy_job, run=_raising(ZeroDivisionError("float division by zero")))
    for args in (["--debug", "run", str(toy_config)], ["run", "--debug", str(toy_config)]):
        assert main([*args, "-o", str(tmp_path), "-q"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("Traceback (most recent call last):")
        assert "ZeroDivisionError: float division by zero" in err
        assert err.strip().splitlines()[-1].startswith("boltzphlow: internal error: ")
    _register(monkeypatch, toy_job, run=_raising(ValueError("bad value")))
    assert main(["--debug", "run", str(toy_config), "-o", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().endswith("boltzphlow: error: bad value")


def test_out_of_memory_is_a_user_error(toy_config, toy_job, monkeypatch, tmp_path, capsys):
    _register(monkeypatch, toy_job, run=_raising(MemoryError()))
    assert main(["run", str(toy_config), "-o", str(tmp_path), "-q"]) == 2
    assert "out of memory" in _one_line(capsys)


def test_long_messages_are_cut(toy_config, toy_job, monkeypatch, tmp_path, capsys):
    _register(monkeypatch, toy_job, run=_raising(ValueError("x" * 5000)))
    assert main(["run", str(toy_config), "-o", str(tmp_path), "-q"]) == 2
    assert len(_one_line(capsys)) < 700


# --------------------------------------------------------------------------- check_failed: 3
def test_a_result_failing_its_own_check_is_kept_flagged_and_exits_3(toy_config, tmp_path,
                                                                     capsys):
    out = tmp_path / "out"
    assert main(["run", str(toy_config), "-o", str(out), "-q", "--set", "fail_check=true"]) == 3
    captured = capsys.readouterr()
    assert "toy decay: T = " in captured.out  # the summary
    assert f"wrote {out / 'toy_decay.png'}" in captured.out
    assert captured.err.strip() == (
        "boltzphlow: error: result failed its own check: toy decay: drift 1e-1 above the "
        f"tolerance 1e-9 (kept in {out / 'toy.nc'})")
    result = load(out / "toy.nc")
    assert result.attrs["complete"] == 1
    assert result.attrs["check_failed"].startswith("toy decay: drift")
    assert main(["info", str(out / "toy.nc")]) == 0
    assert "FAILED its own check: toy decay: drift" in capsys.readouterr().out


# --------------------------------------------------------------------------- plotting
def test_a_failed_plot_is_a_warning_and_the_run_succeeds(toy_config, toy_job, monkeypatch,
                                                         tmp_path, capsys):
    def broken_plot(ds, out_dir, stem):
        raise ValueError("x and y must have same first dimension")

    _register(monkeypatch, toy_job, plot=broken_plot)
    out = tmp_path / "out"
    assert main(["run", str(toy_config), "-o", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == ("boltzphlow: warning: plotting failed: ValueError: x and y "
                                    "must have same first dimension")
    assert f"wrote {out / 'toy.nc'}" in captured.out
    assert load(out / "toy.nc").attrs["complete"] == 1
    # `plot` alone has nothing else to do: one line, internal error
    assert main(["plot", str(out / "toy.nc")]) == 1
    line = _one_line(capsys, "boltzphlow: internal error: ")
    assert line == ("boltzphlow: internal error: plotting failed: ValueError: x and y must have "
                    f"same first dimension {INTERNAL_HINT}")


def test_figures_are_named_after_the_config_or_the_result(toy_config, tmp_path, capsys):
    other = tmp_path / "slow_decay.toml"
    other.write_text(toy_config.read_text())
    out = tmp_path / "out"
    assert main(["run", str(toy_config), "-o", str(out), "-q"]) == 0
    assert main(["run", str(other), "-o", str(out), "-q"]) == 0
    assert {p.name for p in out.iterdir()} == {"toy.nc", "toy_decay.png", "slow_decay.nc",
                                               "slow_decay_decay.png"}
    capsys.readouterr()
    assert main(["plot", str(out / "slow_decay.nc"), "-o", str(tmp_path / "figs")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'figs' / 'slow_decay_decay.png'}"


# --------------------------------------------------------------------------- closed stdout
class _ClosedPipe:
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self):
        raise OSError("not a real file")


def test_a_closed_stdout_ends_quietly(toy_examples, toy_config, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["examples"]) == 0
    assert main(["run", str(toy_config), "-o", str(tmp_path), "-q"]) == 0
    assert main(["info", str(tmp_path / "toy.nc")]) == 0
    assert main(["--help"]) == 0
    monkeypatch.undo()
    assert capsys.readouterr().err == ""
    assert load(tmp_path / "toy.nc").attrs["complete"] == 1  # the work was done all the same


def test_head_closing_the_pipe_prints_nothing(tmp_path):
    """``boltzphlow examples | head -0``: exit 0, nothing on stderr (a real pipe)."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "boltzphlow", "examples"], stdout=write,
                              stderr=subprocess.PIPE, text=True, check=False, cwd=tmp_path,
                              timeout=120)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (0, "")


# --------------------------------------------------------------------------- result files
@pytest.fixture
def result(toy_config, tmp_path, capsys) -> Path:
    """A complete toy result, ``tmp_path/res/toy.nc``."""
    assert main(["run", str(toy_config), "-o", str(tmp_path / "res"), "-q"]) == 0
    capsys.readouterr()
    return tmp_path / "res" / "toy.nc"


@pytest.fixture
def partial(toy_config, tmp_path, interrupt_toy, capsys) -> Path:
    """A partial toy result (3 of 5 records), ``tmp_path/part/toy.nc``."""
    interrupt_toy(after=3)
    assert main(["run", str(toy_config), "-o", str(tmp_path / "part"), "-q"]) == 130
    interrupt_toy(after=None)
    capsys.readouterr()
    return tmp_path / "part" / "toy.nc"


def _flip_a_data_byte(path: Path, variable: str = "T") -> None:
    with h5py.File(path) as handle:
        offset = handle[variable].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 2] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("command", ["info", "plot"])
def test_a_corrupted_result_is_detected(result, capsys, command):
    assert main(["info", str(result)]) == 0
    assert "checksums:  verified (2 variables)" in capsys.readouterr().out
    _flip_a_data_byte(result)
    assert main([command, str(result)]) == 2
    line = _one_line(capsys)
    assert f"{str(result)!r} is corrupted" in line
    assert "checksum" in line


def test_resuming_a_corrupted_partial_result_is_refused(partial, capsys):
    _flip_a_data_byte(partial)
    before = partial.read_bytes()
    assert main(["run", "--resume", str(partial), "-q"]) == 2
    assert "is corrupted" in _one_line(capsys)
    assert partial.read_bytes() == before


def _tamper(path: Path, **attrs) -> None:
    ds = load(path)
    ds.attrs.update(attrs)
    for key in [key for key, value in attrs.items() if value is None]:
        del ds.attrs[key]
    save(ds, path)


@pytest.mark.parametrize(("attrs", "message"), [
    ({"config": json.dumps({"model": "geometry"})},
     "its stored config is for model 'geometry' but its data are from model 'toy'"),
    ({"config": "{not json"}, "its stored config is not valid JSON"),
    ({"config": None}, "carries no config"),
    ({"model": None}, "has no 'model' attribute"),
    ({"model": np.array([1, 2])}, "its 'model' attribute is not a name"),
    ({"model": "nope"}, "unknown model 'nope'"),
    ({"complete": "yes"}, "attribute 'complete' must be 0 or 1"),
    ({"wall_time_s": "soon"}, "attribute 'wall_time_s' must be a finite number"),
])
@pytest.mark.parametrize("command", ["info", "plot", "resume"])
def test_a_malformed_result_is_one_line_exit_2(partial, capsys, attrs, message, command):
    _tamper(partial, **attrs)
    before = partial.read_bytes()
    args = ["run", "--resume", str(partial), "-q"] if command == "resume" else [command,
                                                                                 str(partial)]
    assert main(args) == 2
    assert message in _one_line(capsys)
    assert partial.read_bytes() == before


def test_resume_checks_the_data_against_the_config(partial, capsys):
    """Data that do not belong to the stored config are refused; the file is left alone."""
    ds = load(partial)
    raw = json.loads(ds.attrs["config"])
    raw["t_max"] = 8  # other output times than the stored records
    _tamper(partial, config=json.dumps(raw))
    before = partial.read_bytes()
    assert main(["run", "--resume", str(partial), "-q"]) == 2
    line = _one_line(capsys)
    assert "resume data do not match the toy config" in line
    assert "resume with" not in line
    assert partial.read_bytes() == before


def test_resume_refuses_a_job_that_cannot_resume(partial, toy_job, monkeypatch, capsys):
    _register(monkeypatch, toy_job, resumable=False)
    before = partial.read_bytes()
    assert main(["run", "--resume", str(partial), "-q"]) == 2
    assert "model 'toy' cannot resume a run" in _one_line(capsys)
    assert partial.read_bytes() == before


def test_resume_refuses_a_file_of_another_version(partial, capsys):
    _tamper(partial, boltzphlow_version="0.0.1")
    before = partial.read_bytes()
    assert main(["run", "--resume", str(partial), "-q"]) == 2
    assert "was started with boltzphlow 0.0.1" in _one_line(capsys)
    assert partial.read_bytes() == before


def test_resume_through_a_symlink_writes_its_target(partial, result, tmp_path, capsys):
    link = tmp_path / "link.nc"
    link.symlink_to(partial)
    assert main(["run", "--resume", str(link), "-q"]) == 0
    assert link.is_symlink() and link.resolve() == partial.resolve()
    assert_results_identical(load(partial), load(result))
    assert f"wrote {partial.resolve()}" in capsys.readouterr().out
    assert (partial.parent / "toy_decay.png").is_file()
    assert not list(tmp_path.glob(".*.tmp")) and not list(partial.parent.glob(".*.tmp"))


def test_a_new_run_replaces_a_symlink_in_the_output_folder(toy_config, tmp_path):
    elsewhere = tmp_path / "elsewhere.nc"
    elsewhere.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "toy.nc").symlink_to(elsewhere)
    assert main(["run", str(toy_config), "-o", str(out), "-q"]) == 0
    assert elsewhere.read_text() == "precious"
    assert not (out / "toy.nc").is_symlink()
    assert load(out / "toy.nc").attrs["complete"] == 1


# --------------------------------------------------------------------------- small things
def test_run_with_a_sweep_table_says_what_it_runs(toy_config, tmp_path, capsys):
    path = tmp_path / "swept.toml"
    path.write_text(toy_config.read_text().replace("[solver]", "[sweep]\ntau = [1, 2]\n\n"
                                                                "[solver]"))
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "-q"]) == 0
    lines = _stderr_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("boltzphlow: note: ")
    assert "`boltzphlow sweep " in lines[0] and "base point" in lines[0]


def test_examples_prints_only_built_in_examples(toy_examples, tmp_path, capsys):
    secret = tmp_path / "secret.toml"
    secret.write_text('model = "toy"\npassword = "hunter2"\n')
    for name in (str(secret.with_suffix("")), "../secret", str(secret)):
        assert main(["examples", name]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and "hunter2" not in captured.err
        assert captured.err.startswith("boltzphlow: error: ")


def test_a_range_without_a_count_is_explained(toy_config, tmp_path, capsys):
    assert main(["sweep", str(toy_config), "--vary", "tau=0.5:0.6", "--workers", "1", "-q",
                 "-o", str(tmp_path / "s.nc")]) == 2
    assert "start:stop:count" in _one_line(capsys)


def test_sweep_takes_set_and_quiet(toy_config, tmp_path, capsys):
    out = tmp_path / "s.nc"
    assert main(["sweep", str(toy_config), "--vary", "tau=1,2", "--set", "n_out=3",
                 "--workers", "1", "-q", "-o", str(out)]) == 0
    ds = load(out)
    assert ds.sizes["t"] == 3 and ds.sizes["tau"] == 2
    assert (tmp_path / "s_decay.png").is_file()
    assert capsys.readouterr().err == ""

