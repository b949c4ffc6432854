"""Shared fixtures: a toy job (exponential decay) registered for the duration of a test."""

from __future__ import annotations

import math
import signal
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field

from boltzphlow import config as config_module
from boltzphlow import jobs
from boltzphlow.jobs import Job, RunContext
from boltzphlow.units import Quantity

#: Test switch: raise an interrupt once this many records are checkpointed ("after"), by
#: Ctrl-C (KeyboardInterrupt) or by SIGTERM ("how").  Set it with the ``interrupt_toy`` fixture.
INTERRUPT: dict[str, object] = {"after": None, "how": "ctrl-c"}


class ToySolver(BaseModel):
    """How the toy integrates: exactly or with explicit Euler substeps."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["exact", "euler"] = "exact"
    substeps: int = Field(10, ge=1)


class ToyConfig(BaseModel):
    """Config of the toy job: T(t) = T0 exp(-t / tau) sampled at n_out times up to t_max."""

    model_config = ConfigDict(extra="forbid")
    model: Literal["toy"]
    T0: Quantity("K", positive=True) = 1.0
    tau: Quantity("ns", positive=True) = 1.0
    t_max: Quantity("ns", positive=True) = 5.0
    n_out: int = Field(6, ge=2)
    solver: ToySolver = ToySolver()
    fail_at: int | None = None  # raise ValueError before computing this record


def _toy_dataset(times: np.ndarray, temperature: np.ndarray) -> xr.Dataset:
    return xr.Dataset(
        {"T": ("t", temperature, {"units": "K", "long_name": "temperature"})},
        coords={"t": ("t", times, {"units": "ns", "long_name": "time"})},
        attrs={"model": "toy"},
    )


def run_toy(config: ToyConfig, context: RunContext) -> xr.Dataset:
    """Integrate record by record (each from the previous one, so resuming matters)."""
    times = np.linspace(0.0, config.t_max, config.n_out)
    temperature = np.empty(config.n_out)
    temperature[0] = config.T0
    start = 1
    if context.resume_from is not None:
        done = context.resume_from["T"].to_numpy()
        temperature[: done.size] = done
        start = done.size
    for i in range(start, config.n_out):
        if INTERRUPT["after"] is not None and i >= INTERRUPT["after"]:
            if INTERRUPT["how"] == "sigterm":
                signal.raise_signal(signal.SIGTERM)
            raise KeyboardInterrupt
        if i == config.fail_at:
            raise ValueError(f"toy failure at record {i}")
        decay = (times[i] - times[i - 1]) / config.tau
        if config.solver.method == "exact":
            temperature[i] = temperature[i - 1] * math.exp(-decay)
        else:
            temperature[i] = temperature[i - 1] * (1 - decay / config.solver.substeps) ** (
                config.solver.substeps
            )
        context.progress(times[i], config.t_max)
        context.checkpoint(_toy_dataset(times[: i + 1], temperature[: i + 1].copy()))
    return _toy_dataset(times, temperature)


def plot_toy(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """One PNG of T(t)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.plot(ds["t"], ds["T"])
    ax.set_xlabel(f"{ds['t'].long_name} ({ds['t'].units})")
    path = Path(out_dir) / "toy_decay.png"
    fig.savefig(path, dpi=50)
    return [path]


def summarize_toy(ds: xr.Dataset) -> str:
    """One line: the last temperature."""
    return f"toy decay: T = {float(ds['T'][-1]):.6g} K at t = {float(ds['t'][-1]):g} ns"


TOY_JOB = Job(
    name="toy",
    config_model=ToyConfig,
    run=run_toy,
    plot=plot_toy,
    summary=summarize_toy,
    description="exponential decay (test job)",
)

TOY_TOML = """\
# Toy exponential decay used by the tests
model = "toy"
T0 = "2 K"
tau = "1.5 ns"
t_max = 4
n_out = 5

[solver]
method = "euler"
substeps = 4
"""


@pytest.fixture
def toy_job(monkeypatch: pytest.MonkeyPatch) -> Job:
    """The toy job, registered as model "toy" for this test only."""
    monkeypatch.setitem(jobs._JOBS, "toy", TOY_JOB)
    return TOY_JOB


@pytest.fixture
def toy_config(tmp_path: Path, toy_job: Job) -> Path:
    """A toy config file ``tmp_path/toy.toml`` (the toy job registered)."""
    path = tmp_path / "toy.toml"
    path.write_text(TOY_TOML, encoding="utf-8")
    return path


@pytest.fixture
def interrupt_toy(monkeypatch: pytest.MonkeyPatch):
    """``interrupt_toy(after, how="ctrl-c")`` makes the toy job interrupt itself."""

    def set_interrupt(after: int | None, how: str = "ctrl-c") -> None:
        monkeypatch.setitem(INTERRUPT, "after", after)
        monkeypatch.setitem(INTERRUPT, "how", how)

    return set_interrupt


@pytest.fixture
def toy_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toy_job: Job) -> Path:
    """Built-in examples replaced by a folder holding ``toy_example.toml``."""
    folder = tmp_path / "examples"
    folder.mkdir()
    (folder / "toy_example.toml").write_text(TOY_TOML, encoding="utf-8")
    monkeypatch.setattr(config_module, "_examples_dir", lambda: folder)
    return folder
