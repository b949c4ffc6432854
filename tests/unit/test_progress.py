"""CliContext: rate-limited atomic checkpoints, final flush, progress bar, resumed wall time."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from boltzphlow.jobs import RunContext
from boltzphlow.progress import CliContext
from boltzphlow.results import load

RAW = {"model": "toy"}


def _records(n: int) -> xr.Dataset:
    return xr.Dataset({"T": ("t", np.arange(float(n)), {"units": "K", "long_name": "T"})},
                      coords={"t": ("t", np.arange(float(n)), {"units": "ns", "long_name": "t"})})


def test_checkpoints_are_rate_limited_and_the_latest_is_flushed(tmp_path):
    output = tmp_path / "run.nc"
    context = CliContext(output, "toy", RAW, quiet=True, min_interval_s=3600)
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


def test_progress_bar_on_stderr(tmp_path, capsys):
    with CliContext(tmp_path / "run.nc", "toy", RAW) as context:
        context.progress(0.5, 2.0)
        context.progress(2.0, 2.0)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "toy" in captured.err


def test_wall_time_continues_from_the_resumed_result(tmp_path):
    previous = _records(2).assign_attrs(wall_time_s=100.0)
    context = CliContext(tmp_path / "run.nc", "toy", RAW, resume_from=previous, quiet=True)
    assert context.resume_from is previous
    assert 100.0 <= context.wall_time_s < 110.0
    fresh = CliContext(tmp_path / "run.nc", "toy", RAW, quiet=True)
    assert fresh.wall_time_s == pytest.approx(0.0, abs=10.0)
