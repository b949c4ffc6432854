"""Ctrl-C (SIGINT) and SIGTERM in every phase of a run: exit 130, one line, nothing lost.

Phases: start-up, before the first checkpoint, mid-run, during a checkpoint write, during the
final write, during plotting; and a Dask sweep.  In-process tests deliver the signal with
``signal.raise_signal`` from inside the phase (deterministic); the subprocess tests (slow) send
real signals from outside, as a terminal or a batch system does.  After each interruption no
temporary file is left, and ``--resume`` gives a result identical to an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import xarray as xr

from boltzphlow import cli
from boltzphlow.cli import main
from boltzphlow.results import load
from boltzphlow.testing import assert_results_identical

TESTS = Path(__file__).resolve().parents[1]
SIGNALS = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM}


class SignalEscaped(Exception):
    """Raised by the test's own handlers: the command line did not handle the signal."""


@pytest.fixture(autouse=True)
def _signals_never_end_the_session():
    """Outside ``main``, SIGINT and SIGTERM fail the test instead of ending the test session."""

    def escaped(signum, frame):
        raise SignalEscaped(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, escaped) for signum in SIGNALS.values()}
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _temporaries(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.is_dir() for p in folder.rglob("*.tmp")]


def _err(capsys) -> str:
    return capsys.readouterr().err.strip()


def _partial_message(output: Path) -> str:
    return (f"boltzphlow: interrupted; partial result kept in {output}; "
            f"resume with: boltzphlow run --resume {output}")


def _complete_message(output: Path) -> str:
    return (f"boltzphlow: interrupted after the result was saved; {output} is complete; "
            f"redraw its plots with: boltzphlow plot {output}")


@pytest.fixture
def reference(toy_config, tmp_path, capsys) -> xr.Dataset:
    """The uninterrupted toy result."""
    assert main(["run", str(toy_config), "-o", str(tmp_path / "reference"), "-q"]) == 0
    capsys.readouterr()
    return load(tmp_path / "reference" / "toy.nc")


def _signal_in_writes(monkeypatch, how: str, *, complete: int, times: int = 1) -> list[int]:
    """Send ``how`` ``times`` times once a write of a (``complete``) result has its data down."""
    original = xr.Dataset.to_netcdf
    sent: list[int] = []

    def to_netcdf(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if int(self.attrs.get("complete", -1)) == complete and not sent:
            for _ in range(times):
                sent.append(self.sizes["t"])
                signal.raise_signal(SIGNALS[how])
        return out

    monkeypatch.setattr(xr.Dataset, "to_netcdf", to_netcdf)
    return sent


# ----------------------------------------------------------------------------- in process
def test_two_uninterrupted_runs_are_identical(toy_config, reference, tmp_path):
    assert main(["run", str(toy_config), "-o", str(tmp_path / "again"), "-q"]) == 0
    again = load(tmp_path / "again" / "toy.nc")
    assert again.attrs["compute_time_s"] != reference.attrs["compute_time_s"]  # timing differs
    assert_results_identical(again, reference)


@pytest.mark.parametrize("how", ["sigint", "sigterm"])
def test_during_start_up(toy_config, tmp_path, monkeypatch, capsys, how):
    build = cli._build_parser

    def interrupted_imports():
        signal.raise_signal(SIGNALS[how])
        return build()

    monkeypatch.setattr(cli, "_build_parser", interrupted_imports)
    assert main(["run", str(toy_config), "-o", str(tmp_path / "out")]) == 130
    assert _err(capsys) == "boltzphlow: interrupted"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("how", ["sigint", "sigterm"])
def test_before_the_first_checkpoint(toy_config, interrupt_toy, tmp_path, capsys, how):
    interrupt_toy(after=1, how=how)
    assert main(["run", str(toy_config), "-o", str(tmp_path / "out")]) == 130
    assert _err(capsys).splitlines()[-1] == ("boltzphlow: interrupted before the first "
                                             "checkpoint; nothing written")
    assert not (tmp_path / "out" / "toy.nc").exists()
    assert not _temporaries(tmp_path)


@pytest.mark.parametrize("how", ["sigint", "sigterm"])
def test_mid_run_keeps_a_partial_result_that_resumes_identically(
        toy_config, interrupt_toy, reference, tmp_path, capsys, how):
    out = tmp_path / "out"
    output = out / "toy.nc"
    interrupt_toy(after=3, how=how)
    assert main(["run", str(toy_config), "-o", str(out), "-q"]) == 130
    assert _err(capsys) == _partial_message(output)
    partial = load(output)
    assert (partial.attrs["complete"], partial.sizes["t"]) == (0, 3)
    assert sorted(p.name for p in out.iterdir()) == ["toy.nc"]

    interrupt_toy(after=None)
    assert main(["run", "--resume", str(output), "-q"]) == 0
    assert_results_identical(load(output), reference)
    assert sorted(p.name for p in out.iterdir()) == ["toy.nc", "toy_decay.png"]


@pytest.mark.parametrize("how", ["sigint", "sigterm"])
def test_during_a_checkpoint_write_the_write_completes_first(
        toy_config, reference, tmp_path, monkeypatch, capsys, how):
    out = tmp_path / "out"
    output = out / "toy.nc"
    sent = _signal_in_writes(monkeypatch, how, complete=0)
    assert main(["run", str(toy_config), "-o", str(out), "-q"]) == 130
    assert sent == [2]
    assert _err(capsys) == _partial_message(output)
    assert load(output).sizes["t"] == 2  # the checkpoint being written when the signal came
    assert not _temporaries(tmp_path)
    assert main(["run", "--resume", str(output), "-q"]) == 0
    assert_results_identical(load(output), reference)


@pytest.mark.parametrize("how", ["sigint", "sigterm"])
def test_during_the_final_write_the_result_is_kept(toy_config, reference, tmp_path,
                                                   monkeypatch, capsys, how):
    """Before: SIGINT left the previous checkpoint; SIGTERM left the full-size .tmp file."""
    out = tmp_path / "out"
    output = out / "toy.nc"
    sent = _signal_in_writes(monkeypatch, how, complete=1)
    assert main(["run", str(toy_config), "-o", str(out), "-q"]) == 130
    assert sent == [5]
    assert _err(capsys) == _complete_message(output)
    assert_results_identical(load(output), reference)
    assert sorted(p.name for p in out.iterdir()) == ["toy.nc"]  # no .tmp, no plot yet
    assert main(["plot", str(output)]) == 0
    assert (out / "toy_decay.png").is_file()


def test_a_third_signal_stops_the_final_write(toy_config, reference, tmp_path, monkeypatch,
                                              capsys):
    out = tmp_path / "out"
    output = out / "toy.nc"
    _signal_in_writes(monkeypatch, "sigint", complete=1, times=3)
    assert main(["run", str(toy_config), "-o", str(out), "-q"]) == 130
    assert _err(capsys) == _partial_message(output)
    assert load(output).attrs["complete"] == 0
    assert sorted(p.name for p in out.iterdir()) == ["toy.nc"]
    assert main(["run", "--resume", str(output), "-q"]) == 0
    assert_results_identical(load(output), reference)


@pytest.mark.parametrize("how", ["sigint", "sigterm"])
def test_during_plotting_the_result_is_complete(toy_config, interrupt_toy, reference, tmp_path,
                                                capsys, how):
    out = tmp_path / "out"
    output = out / "toy.nc"
    interrupt_toy(after=0, how=how, phase="plot")
    assert main(["run", str(toy_config), "-o", str(out), "-q"]) == 130
    assert _err(capsys) == _complete_message(output)
    assert_results_identical(load(output), reference)
    assert not _temporaries(tmp_path)
    # with -o elsewhere the message names the folder
    elsewhere = tmp_path / "figs"
    assert main(["run", str(toy_config), "-o", str(elsewhere), "-q"]) == 130
    assert _err(capsys).endswith(f"boltzphlow plot {elsewhere / 'toy.nc'}")


def test_resuming_and_interrupted_again_still_points_at_the_file(
        toy_config, interrupt_toy, reference, tmp_path, capsys):
    out = tmp_path / "out"
    output = out / "toy.nc"
    interrupt_toy(after=2)
    assert main(["run", str(toy_config), "-o", str(out), "-q"]) == 130
    interrupt_toy(after=2)  # at once: no new record, yet the partial file exists
    assert main(["run", "--resume", str(output), "-q"]) == 130
    assert _err(capsys).splitlines()[-1] == _partial_message(output)
    interrupt_toy(after=None)
    assert main(["run", "--resume", str(output), "-q"]) == 0
    assert_results_identical(load(output), reference)


# ----------------------------------------------------------------------------- subprocesses
RUNNER = textwrap.dedent("""\
    import dataclasses, os, signal, sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})

    if __name__ == "__main__":
        import conftest
        import xarray as xr
        from boltzphlow import jobs

        marks = Path(os.environ["TOY_MARKS"]) if os.environ.get("TOY_MARKS") else None

        def mark(name):
            if marks is not None:
                (marks / name).touch()

        class Marking:
            def __init__(self, inner):
                self.inner, self.resume_from, self.quiet = inner, inner.resume_from, inner.quiet

            def progress(self, done, total):
                self.inner.progress(done, total)

            def checkpoint(self, ds):
                self.inner.checkpoint(ds)
                mark(f"written_{{self.inner.checkpoints_written}}")

        def run(config, context):
            mark("started")
            return conftest.run_toy(config, Marking(context))

        def plot(ds, out_dir, stem):
            mark("plotting")
            time.sleep(float(os.environ.get("TOY_PLOT_DELAY", "0")))
            return conftest.plot_toy(ds, out_dir, stem)

        final = os.environ.get("TOY_SIGNAL_IN_FINAL_WRITE")
        if final:
            original = xr.Dataset.to_netcdf

            def to_netcdf(self, *args, **kwargs):
                out = original(self, *args, **kwargs)
                if int(self.attrs.get("complete", 0)) == 1:
                    os.kill(os.getpid(), getattr(signal, final))
                    time.sleep(0.2)  # the signal arrives while the file is still .tmp
                return out

            xr.Dataset.to_netcdf = to_netcdf

        wrapped = os.environ.get("TOY_PLAIN") is None
        job = dataclasses.replace(conftest.TOY_JOB, run=run, plot=plot) if wrapped \\
            else conftest.TOY_JOB
        jobs._JOBS["toy"] = job
        from boltzphlow.cli import main
        raise SystemExit(main(sys.argv[1:]))
""")


@pytest.fixture
def spawn(tmp_path):
    """``spawn(args, **env) -> Popen`` of the command line with the toy job, in ``tmp_path``."""
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER.format(tests=str(TESTS)))
    marks = tmp_path / "marks"
    marks.mkdir()
    started: list[subprocess.Popen] = []

    def start(args: list[str], **env: str) -> subprocess.Popen:
        environ = {**os.environ, "TOY_MARKS": str(marks), **env}
        process = subprocess.Popen([sys.executable, str(runner), *args], cwd=tmp_path,
                                   env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
        started.append(process)
        return process

    start.marks = marks
    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"process ended before {path.name}: {process.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {path.name}")
        time.sleep(0.02)


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err.strip()


SLOW_TOY = ["--set", "delay_s=0.3", "--set", "n_out=8"]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigint", "sigterm"])
def test_real_signal_mid_run_then_resume(toy_config, spawn, tmp_path, capsys, how):
    out = tmp_path / "out"
    output = out / "toy.nc"
    process = spawn(["run", str(toy_config), "-o", str(out), "-q", *SLOW_TOY])
    _wait_for(spawn.marks / "written_1", process)
    time.sleep(0.4)
    process.send_signal(SIGNALS[how])
    code, _, err = _finish(process)
    assert (code, err) == (130, _partial_message(output))
    assert load(output).attrs["complete"] == 0
    assert not _temporaries(tmp_path)
    assert main(["run", "--resume", str(output), "-q"]) == 0
    assert main(["run", str(toy_config), "-o", str(tmp_path / "ref"), "-q", *SLOW_TOY]) == 0
    assert_results_identical(load(output), load(tmp_path / "ref" / "toy.nc"))


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_real_signal_during_the_final_write(toy_config, spawn, tmp_path, how):
    """Before: SIGTERM here exited 143 with no message and left the full-size .tmp file."""
    out = tmp_path / "out"
    output = out / "toy.nc"
    process = spawn(["run", str(toy_config), "-o", str(out), "-q"],
                    TOY_SIGNAL_IN_FINAL_WRITE=how)
    code, _, err = _finish(process)
    assert (code, err) == (130, _complete_message(output))
    assert load(output).attrs["complete"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["toy.nc"]


@pytest.mark.slow
def test_real_sigterm_during_plotting(toy_config, spawn, tmp_path):
    out = tmp_path / "out"
    output = out / "toy.nc"
    process = spawn(["run", str(toy_config), "-o", str(out), "-q"], TOY_PLOT_DELAY="30")
    _wait_for(spawn.marks / "plotting", process)
    process.send_signal(signal.SIGTERM)
    code, _, err = _finish(process)
    assert (code, err) == (130, _complete_message(output))
    assert load(output).attrs["complete"] == 1
    assert not _temporaries(tmp_path)


def _imports_lazily() -> bool:
    """Whether ``import boltzphlow.cli`` leaves the heavy modules for ``main`` to import."""
    done = subprocess.run([sys.executable, "-c", "import sys, boltzphlow.cli; "
                           "print('xarray' in sys.modules)"], capture_output=True, text=True,
                          check=True)
    return done.stdout.strip() == "False"


@pytest.mark.slow
def test_real_ctrl_c_during_start_up_imports(tmp_path):
    """Ctrl-C while ``main`` imports numpy, xarray, pydantic: one line, exit 130."""
    if not _imports_lazily():
        pytest.skip("boltzphlow/__init__.py imports its subpackages eagerly, before the "
                    "command line can handle signals")
    # `run` imports numpy, xarray and pydantic after the CLI is up (`examples` no longer
    # needs any of them, and ends before the signal arrives)
    process = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "boltzphlow",
                                "run", "al_photon_hit", "-q", "-o", str(tmp_path / "out")],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    for line in process.stderr:  # -X importtime reports each module once it is imported
        if line.rstrip().endswith("| boltzphlow.cli"):
            break
    time.sleep(0.05)  # now in main, importing the heavy modules
    process.send_signal(signal.SIGINT)
    code, _, err = _finish(process)
    lines = [line for line in err.splitlines() if not line.startswith("import time:")]
    assert (code, lines) == (130, ["boltzphlow: interrupted"]), "\n".join(lines)
    assert not (tmp_path / "out").exists()  # stopped before its first checkpoint


@pytest.mark.slow
def test_ctrl_c_during_a_dask_sweep_is_one_line(toy_config, spawn, tmp_path):
    """Ctrl-C reaches the whole process group (workers included): one line, exit 130."""
    out = tmp_path / "s.nc"
    process = spawn(["sweep", str(toy_config), "--vary", "tau=1,2,3,4,5,6", "--set",
                     "delay_s=0.5", "--workers", "2", "-q", "-o", str(out)], TOY_PLAIN="1")
    points = tmp_path / "s.points"
    deadline = time.monotonic() + 180
    while not (points.is_dir() and any(points.glob("*.nc"))):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does
    code, _, err = _finish(process)
    assert code == 130
    assert "Traceback" not in err
    assert err.startswith(f"boltzphlow: interrupted; finished points are kept in {points}/")
    assert len(err.splitlines()) == 1, err
    assert not _temporaries(tmp_path)
