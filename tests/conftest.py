"""Shared fixtures: a toy job (exponential decay) registered for the duration of a test, and
random tight-binding models for the band and geometry tests."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import xarray as xr
from pydantic import Field

from boltzphlow import bands, jobs
from boltzphlow import config as config_module
from boltzphlow.jobs import Job, RunContext
from boltzphlow.plotting import save_figure, sweep_dims
from boltzphlow.schema import ConfigModel, Quantity

#: Test switch: the toy job sends itself a signal ("how": "sigint" or "sigterm") in a phase:
#: "run" once ``after`` records are computed, "plot" while plotting.  Set it with the
#: ``interrupt_toy`` fixture.
INTERRUPT: dict[str, object] = {"phase": None, "after": None, "how": "sigint"}

_SIGNALS = {"sigint": signal.SIGINT, "ctrl-c": signal.SIGINT, "sigterm": signal.SIGTERM}


def send_interrupt() -> None:
    """Deliver the configured signal to this process (handled at once, in the main thread)."""
    signal.raise_signal(_SIGNALS[str(INTERRUPT["how"])])


class ToySolver(ConfigModel):
    """How the toy integrates: exactly or with explicit Euler substeps."""

    method: Literal["exact", "euler"] = "exact"
    substeps: int = Field(10, ge=1)


class ToyConfig(ConfigModel):
    """Config of the toy job: T(t) = T0 exp(-t / tau) sampled at n_out times up to t_max."""

    model: Literal["toy"]
    T0: Quantity("K", positive=True) = 1.0
    tau: Quantity("ns", positive=True) = 1.0
    t_max: Quantity("ns", positive=True) = 5.0
    n_out: int = Field(6, ge=2)
    solver: ToySolver = ToySolver()
    fail_at: int | None = None  # raise ValueError before computing this record
    delay_s: float = Field(0.0, ge=0.0)  # wall-clock pause per record (subprocess tests)
    fail_check: bool = False  # flag the result as failing its own check


def toy_times(config: ToyConfig) -> np.ndarray:
    """The output times of a toy config (ns)."""
    return np.linspace(0.0, config.t_max, config.n_out)


def _toy_dataset(times: np.ndarray, temperature: np.ndarray) -> xr.Dataset:
    return xr.Dataset(
        {"T": ("t", temperature, {"units": "K", "long_name": "temperature"})},
        coords={"t": ("t", times, {"units": "ns", "long_name": "time"})},
        attrs={"model": "toy", "compute_time_s": time.perf_counter() % 1.0},
    )


def _check_resume_data(previous: xr.Dataset, times: np.ndarray) -> int:
    """Records already computed in ``previous``; ``ValueError`` unless they fit the config."""
    if "T" not in previous or previous["T"].dims != ("t",) or "t" not in previous.coords:
        raise ValueError("resume data do not match the toy config: expected T(t)")
    done = previous["t"].to_numpy()
    if done.size > times.size or not np.array_equal(done, times[: done.size]):
        raise ValueError(f"resume data do not match the toy config: {done.size} times do not "
                         f"start the config's {times.size} output times")
    return done.size


def run_toy(config: ToyConfig, context: RunContext) -> xr.Dataset:
    """Integrate record by record (each from the previous one, so resuming matters)."""
    times = toy_times(config)
    temperature = np.empty(config.n_out)
    temperature[0] = config.T0
    start = 1
    if context.resume_from is not None:
        start = _check_resume_data(context.resume_from, times)
        temperature[:start] = context.resume_from["T"].to_numpy()
    for i in range(start, config.n_out):
        if INTERRUPT["phase"] == "run" and i >= int(INTERRUPT["after"]):
            send_interrupt()
        if i == config.fail_at:
            raise ValueError(f"toy failure at record {i}")
        if config.delay_s:
            time.sleep(config.delay_s)
        decay = (times[i] - times[i - 1]) / config.tau
        if config.solver.method == "exact":
            temperature[i] = temperature[i - 1] * math.exp(-decay)
        else:
            temperature[i] = temperature[i - 1] * (1 - decay / config.solver.substeps) ** (
                config.solver.substeps
            )
        context.progress(times[i], config.t_max)
        context.checkpoint(_toy_dataset(times[: i + 1], temperature[: i + 1].copy()))
    ds = _toy_dataset(times, temperature)
    if config.fail_check:
        ds.attrs["check_failed"] = "toy decay: drift 1e-1 above the tolerance 1e-9"
    return ds


def plot_toy(ds: xr.Dataset, out_dir: Path, stem: str) -> list[Path]:
    """One PNG of T(t) (one curve per point of a sweep): ``<stem>_decay.png``."""
    from matplotlib.figure import Figure

    if INTERRUPT["phase"] == "plot":
        send_interrupt()
    temperature = ds["T"]
    swept = sweep_dims(ds)
    if swept:
        temperature = temperature.stack(point=swept).transpose("t", "point")
    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.plot(ds["t"].to_numpy(), temperature.to_numpy())
    ax.set_xlabel(f"{ds['t'].long_name} ({ds['t'].units})")
    return [save_figure(fig, out_dir, stem, "decay", dpi=50)]


def summarize_toy(ds: xr.Dataset) -> str:
    """One line: the last temperature (its range over the points of a sweep)."""
    last = ds["T"].isel(t=-1)
    low, high = float(last.min()), float(last.max())
    value = f"{low:.6g}" if low == high else f"{low:.6g} to {high:.6g}"
    return f"toy decay: T = {value} K at t = {float(ds['t'][-1]):g} ns"


TOY_JOB = Job(
    name="toy",
    config_model=ToyConfig,
    run=run_toy,
    plot=plot_toy,
    summary=summarize_toy,
    description="exponential decay (test job)",
    resumable=True,
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
    """``interrupt_toy(after, how="sigint", phase="run")``: the toy job signals itself.

    ``after=None`` switches it off; ``phase="plot"`` signals while plotting.
    """

    def set_interrupt(after: int | None, how: str = "sigint", phase: str = "run") -> None:
        monkeypatch.setitem(INTERRUPT, "after", after)
        monkeypatch.setitem(INTERRUPT, "how", how)
        monkeypatch.setitem(INTERRUPT, "phase", None if after is None else phase)

    return set_interrupt


@pytest.fixture
def toy_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toy_job: Job) -> Path:
    """Built-in examples replaced by a folder holding ``toy_example.toml``."""
    folder = tmp_path / "examples"
    folder.mkdir()
    (folder / "toy_example.toml").write_text(TOY_TOML, encoding="utf-8")
    monkeypatch.setattr(config_module, "_examples_dir", lambda: folder)
    return folder


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> dict[Path, list[str]]:
    """Every figure saved during the test (in order): its path and what
    :func:`boltzphlow.plotting.figure_problems` says of it (``[]`` when every axes holds data).

    Use :func:`figure_names` for the file names and :func:`assert_figures_hold_data`.
    """
    from boltzphlow import plotting

    saved: dict[Path, list[str]] = {}
    monkeypatch.setattr(plotting, "SAVE_HOOKS", [
        *plotting.SAVE_HOOKS,
        lambda fig, path: saved.setdefault(Path(path), plotting.figure_problems(fig))])
    return saved


def figure_names(figures: dict[Path, list[str]]) -> list[str]:
    """File names of the figures recorded by the ``figures`` fixture, in order."""
    return [path.name for path in figures]


def assert_figures_hold_data(figures: dict[Path, list[str]]) -> None:
    """Assert that figures were saved and that every axes of each holds finite data."""
    __tracebackhide__ = True
    assert figures, "no figure was saved"
    bad = {path.name: problems for path, problems in figures.items() if problems}
    assert not bad, bad


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """``boltzphlow ARGS`` in this process: exit code, stdout and stderr."""
    from boltzphlow.cli import main

    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def config_of(path: Path):
    """The validated config of a TOML file."""
    import tomllib

    from boltzphlow.config import validate_config

    return validate_config(tomllib.loads(path.read_text(encoding="utf-8")))[1]


def random_tight_binding(n_bands: int, dim: int, seed: int = 0, *,
                         distorted: bool = False) -> bands.TightBinding:
    """A random Hermitian tight-binding model (generic: no symmetry, no degeneracy) with
    nearest-neighbour hoppings and random orbital positions; ``distorted`` also draws a
    lattice ``1 + 0.2 N(0, 1)`` instead of the identity."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n_bands, n_bands)) + 1j * rng.normal(size=(n_bands, n_bands))
    table = {(0,) * dim: a + a.conj().T}
    for axis in range(dim):
        r = [0] * dim
        r[axis] = 1
        t = rng.normal(size=(n_bands, n_bands)) + 1j * rng.normal(size=(n_bands, n_bands))
        table[tuple(r)] = t
        table[tuple(-x for x in r)] = t.conj().T
    lattice = np.eye(dim) + 0.2 * rng.normal(size=(dim, dim)) if distorted else np.eye(dim)
    return bands.TightBinding(lattice, table, rng.uniform(size=(n_bands, dim)))
