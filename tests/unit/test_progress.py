"""CliContext: checkpoints by wall clock and simulated progress, final flush, lazy progress bar."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from boltzphlow import results
from boltzphlow.jobs import RunContext
from boltzphlow.progress import CliContext
from boltzphlow.results import load

RAW = {"model": "toy"}


def _records(n: int) -> xr.Dataset:
    return xr.Dataset({"T": ("t", np.arange(float(n)), {"units": "K", "long_name": "T"})},
                      coords={"t": ("t", np.arange(float(n)), {"units": "ns", "long_name": "t"})})


class FakeClock:
    """A clock the test moves; ``save`` advances it by the write's cost."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def timed_saves(monkeypatch):
    """Writes that take ``costs[k]`` fake seconds (the k-th write), on a fake clock."""
    clock = FakeClock()
    costs: list[float] = []
    written: list[int] = []

    def save(ds, path):
        clock.now += costs[len(written)] if len(written) < len(costs) else 0.01
        written.append(ds.sizes["t"])
        return path

    monkeypatch.setattr(results, "save", save)
    return clock, costs, written


def test_checkpoints_are_rate_limited_and_the_latest_is_flushed(tmp_path):
    output = tmp_path / "run.nc"
    context = CliContext(output, "toy", RAW, quiet=True, min_interval_s=3600,
                         max_interval_s=7200)
    assert isinstance(context, RunContext)
    assert not context.flush() and not output.exists()
    for n in (1, 2, 3):
        context.checkpoint(_records(n))
    assert context.checkpoints_written == 1
    assert load(output).sizes["t"] == 1  # the first one is written at once
    assert context.flush()
    assert context.flush()  # nothing new: no second write
    assert context.checkpoints_written == 2
    partial = load(output)
    assert partial.sizes["t"] == 3
    assert (partial.attrs["complete"], partial.attrs["model"]) == (0, "toy")
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]


def test_every_checkpoint_is_written_without_rate_limit(tmp_path):
    context = CliContext(tmp_path / "run.nc", "toy", RAW, quiet=True, min_interval_s=0.0,
                         max_write_fraction=1.0)
    for n in (1, 2):
        context.checkpoint(_records(n))
    assert context.checkpoints_written == 2


def test_the_first_write_does_not_set_the_pace(tmp_path, timed_saves):
    """The first write pays for imports (0.94 s once measured): it must not stretch the pause."""
    clock, costs, written = timed_saves
    costs[:] = [5.0, 0.01, 0.01]
    context = CliContext(tmp_path / "run.nc", "toy", RAW, quiet=True, clock=clock)
    context.checkpoint(_records(1))
    assert context.pause_s == context.min_interval_s  # not 45 s
    clock.now += 0.6
    context.checkpoint(_records(2))
    assert written == [1, 2]
    assert context.pause_s == context.min_interval_s  # 0.01 s * 9 < 0.5 s


def test_a_slow_write_pauses_in_proportion_but_never_beyond_the_maximum(tmp_path, timed_saves):
    clock, costs, written = timed_saves
    costs[:] = [0.0, 0.4, 3.0]
    context = CliContext(tmp_path / "run.nc", "toy", RAW, quiet=True, clock=clock,
                         max_interval_s=10.0, max_write_fraction=0.1)
    context.checkpoint(_records(1))
    clock.now += 1.0
    context.checkpoint(_records(2))
    assert context.pause_s == pytest.approx(3.6)  # 0.4 s of writing per 4 s
    clock.now += 3.0
    context.checkpoint(_records(3))
    assert written == [1, 2]  # not due yet
    clock.now += 0.7
    context.checkpoint(_records(4))
    assert written == [1, 2, 4]
    assert context.pause_s == 10.0  # 27 s capped
    clock.now += 10.0
    context.checkpoint(_records(5))
    assert written == [1, 2, 4, 5]


def test_simulated_progress_triggers_a_write_between_pauses(tmp_path, timed_saves):
    clock, costs, written = timed_saves
    costs[:] = [0.0, 0.5, 0.5, 0.5]
    context = CliContext(tmp_path / "run.nc", "toy", RAW, quiet=True, clock=clock,
                         progress_step=0.1, min_interval_s=0.5, max_interval_s=100.0)
    context.progress(0.0, 1.0)
    context.checkpoint(_records(1))
    clock.now += 1.0
    context.checkpoint(_records(2))
    assert context.pause_s == 4.5
    context.progress(0.12, 1.0)
    clock.now += 2.0
    context.checkpoint(_records(3))
    assert written == [1, 2]  # 12 % since the last write, but not half the pause yet
    clock.now += 0.3
    context.checkpoint(_records(4))
    assert written == [1, 2, 4]
    context.progress(0.17, 1.0)
    clock.now += 4.0
    context.checkpoint(_records(5))
    assert written == [1, 2, 4]  # 5 % is below the step, and the pause has not passed
    context.progress(0.23, 1.0)
    context.checkpoint(_records(6))
    assert written == [1, 2, 4, 6]


def test_bad_intervals_are_refused(tmp_path):
    with pytest.raises(ValueError, match="min_interval_s <= max_interval_s"):
        CliContext(tmp_path / "r.nc", "toy", RAW, min_interval_s=20.0, max_interval_s=10.0)
    with pytest.raises(ValueError, match="max_write_fraction"):
        CliContext(tmp_path / "r.nc", "toy", RAW, max_write_fraction=0.0)


def test_progress_bar_on_stderr(tmp_path, capsys):
    with CliContext(tmp_path / "run.nc", "toy", RAW) as context:
        context.progress(0.5, 2.0)
        context.progress(2.0, 2.0)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "toy" in captured.err


def test_the_bar_starts_at_the_first_progress_call(tmp_path, capsys):
    """An error raised before the computation starts prints no bar."""
    with pytest.raises(ValueError, match="bad physics"), CliContext(tmp_path / "run.nc", "toy",
                                                                    RAW):
        raise ValueError("bad physics")
    assert capsys.readouterr().err == ""


def test_discard_drops_the_pending_checkpoint(tmp_path):
    context = CliContext(tmp_path / "run.nc", "toy", RAW, quiet=True, min_interval_s=3600,
                         max_interval_s=3600)
    context.checkpoint(_records(1))
    context.checkpoint(_records(2))
    context.discard()
    assert context.flush()  # one was written before
    assert load(tmp_path / "run.nc").sizes["t"] == 1


def test_wall_time_continues_from_the_resumed_result(tmp_path):
    previous = _records(2).assign_attrs(wall_time_s=100.0)
    context = CliContext(tmp_path / "run.nc", "toy", RAW, resume_from=previous, quiet=True)
    assert context.resume_from is previous
    assert 100.0 <= context.wall_time_s < 110.0
    fresh = CliContext(tmp_path / "run.nc", "toy", RAW, quiet=True)
    assert fresh.wall_time_s == pytest.approx(0.0, abs=10.0)
