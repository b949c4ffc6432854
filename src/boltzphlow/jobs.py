"""Registry of runnable jobs: the one place where a physics model meets the command line.

A *job* is what ``boltzphlow run CONFIG.toml`` executes.  The TOML file names it with its
top-level key ``model = "<name>"``; everything else in the file is validated by the job's
pydantic ``config_model`` (which must forbid unknown keys).  A new physics family adds one
app module defining a :class:`Job` and names it in the entry-point group ``boltzphlow.jobs``
of its package (``[project.entry-points."boltzphlow.jobs"] name = "module:JOB"``); nothing in
the CLI changes, and a third-party package can add a job the same way.

Contract for ``Job.run(config, context) -> xarray.Dataset``

* ``config`` is the validated pydantic model (quantities already converted to the documented
  default units).
* The job reports progress with ``context.progress(done, total)`` (any consistent units, e.g.
  simulated time) and hands partial results to ``context.checkpoint(ds)`` whenever it has a
  consistent partial Dataset worth keeping (at least at every output time of a time
  evolution).  ``context.checkpoint`` writes the file atomically; it is cheap to call.
* If ``context.resume_from`` is a Dataset (a partial result written earlier by the same job
  with the same config), the job continues from its last complete record and must arrive at
  the same answer as an uninterrupted run.
* The returned Dataset carries ``units`` and ``long_name`` on every data variable and
  coordinate, and ``attrs["model"] = job.name``.  The CLI adds config, version, wall time and
  provenance attributes (see :mod:`boltzphlow.results`).
* A resumable job (``Job.resumable``) checks that ``context.resume_from`` belongs to the config
  (its coordinates and shapes are those the config builds) and raises ``ValueError`` otherwise.
* ``ValueError`` raised for bad physical input is reported by the CLI as a one-line error with
  exit code 2 (see :mod:`boltzphlow.errors`); physics checks run before the first
  ``context.progress`` call, and name the config key they are about.
* A result that fails its own physics check (energy bookkeeping, conservation) is not a
  success: the job sets ``ds.attrs["check_failed"]`` to one line saying what failed by how
  much against which tolerance; the CLI keeps the file, flagged, and exits with code 3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # the command line reads this module before any heavy import
    import xarray as xr
    from pydantic import BaseModel


@runtime_checkable
class RunContext(Protocol):
    """What a running job may use from its caller (the CLI, a sweep worker or a test)."""

    resume_from: xr.Dataset | None
    quiet: bool

    def progress(self, done: float, total: float) -> None:
        """Report progress (``done`` out of ``total``, in any consistent units)."""

    def checkpoint(self, ds: xr.Dataset) -> None:
        """Persist a consistent partial result (atomic write; overwrites the previous one)."""


@dataclass
class SilentContext:
    """A :class:`RunContext` that reports nothing and keeps the last checkpoint in memory."""

    resume_from: xr.Dataset | None = None
    quiet: bool = True
    last_checkpoint: xr.Dataset | None = field(default=None, repr=False)

    def progress(self, done: float, total: float) -> None:  # noqa: D102 - protocol
        pass

    def checkpoint(self, ds: xr.Dataset) -> None:  # noqa: D102 - protocol
        self.last_checkpoint = ds


@dataclass(frozen=True)
class Job:
    """A runnable model: its config schema, how to run it, plot it and summarise it.

    Attributes
    ----------
    name
        Value of the top-level ``model`` key in a config file.
    config_model
        Pydantic model of the whole config file (``extra="forbid"``), ``model`` key included;
        its tables are derived from the model's parameter definitions
        (:func:`boltzphlow.schema.config_model`), and ``boltzphlow keys NAME`` lists its keys
        (:func:`boltzphlow.schema.key_rows`: every field needs a ``description`` and, unless
        it is a :func:`~boltzphlow.schema.Quantity`, a ``json_schema_extra={"unit": ...}``).
    run
        ``run(config, context) -> Dataset``; see the module docstring for the contract.
    plot
        ``plot(ds, out_dir, stem) -> list[Path]``: writes PNG figures of a result, named
        ``<stem>_<kind>.png`` with :func:`boltzphlow.plotting.save_figure` (``stem`` is the
        config's name), and returns their paths.  It must also draw a sweep result (the same
        variables with the swept keys as extra leading dimensions, listed in
        ``ds.attrs["sweep_dims"]``, failed points NaN).  Optionally a keyword ``frames: bool``:
        then it writes the frames of an animation, one numbered PNG per output time
        (``boltzphlow plot RESULT --frames``; jobs without the keyword refuse the option).
    summary
        ``summary(ds) -> str``: a few human-readable lines printed after a run and by ``info``.
    description
        One line for ``boltzphlow examples`` and ``--help``.
    resumable
        Whether ``run`` continues from ``context.resume_from`` (see the module docstring).
        ``boltzphlow run --resume`` refuses results of jobs that are not.
    """

    name: str
    config_model: type[BaseModel]
    run: Callable[[Any, RunContext], xr.Dataset]
    plot: Callable[[xr.Dataset, Path, str], list[Path]]
    summary: Callable[[xr.Dataset], str]
    description: str = ""
    resumable: bool = False


#: The entry-point group in which packages register their jobs (``name = "module:JOB"``).
ENTRY_POINT_GROUP = "boltzphlow.jobs"

_JOBS: dict[str, Job] = {}


def register_job(job: Job) -> Job:
    """Register ``job`` under ``job.name`` for this process (tests, notebooks); installed
    packages register through the entry-point group :data:`ENTRY_POINT_GROUP` instead."""
    _JOBS[job.name] = job
    return job


def get_job(name: str) -> Job:
    """Return the job ``name``: registered in this process, or found among the entry points
    (only that one is imported); ``KeyError`` listing the known names otherwise."""
    if name in _JOBS:
        return _JOBS[name]
    points = _entry_points()
    if name in points:
        return _load(name, points[name])
    known = ", ".join(sorted(set(_JOBS) | set(points))) or "none"
    raise KeyError(f"unknown model {name!r} (known: {known})")


def job_names() -> list[str]:
    """Names of every available job, without importing any of them."""
    return sorted(set(_JOBS) | set(_entry_points()))


def available_jobs() -> dict[str, Job]:
    """All available jobs by name (imports every app)."""
    return {name: get_job(name) for name in job_names()}


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _load(name: str, entry_point: Any) -> Job:
    """Import an entry point's job, check it and register it."""
    job = entry_point.load()
    if not isinstance(job, Job):
        raise TypeError(f"entry point {name!r} of {ENTRY_POINT_GROUP} ({entry_point.value}) "
                        f"is a {type(job).__name__}, not a boltzphlow.jobs.Job")
    if job.name != name:
        raise TypeError(f"entry point {name!r} of {ENTRY_POINT_GROUP} ({entry_point.value}) "
                        f"holds the job {job.name!r}: the names must agree")
    return register_job(job)


# --------------------------------------------------------------------------- resuming
def config_fingerprint(config: BaseModel) -> str:
    """A hash of a validated config: what a partial result must have been computed from
    (stored as the result's ``config_fingerprint`` attribute)."""
    import hashlib
    import json

    text = json.dumps(config.model_dump(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def resume_refusal(what: str) -> Exception:
    """The one-line error of a partial result that does not belong to the config."""
    from boltzphlow.errors import InputError

    return InputError(f"--resume: the partial result does not belong to this config: {what}")


def check_resumable(previous: xr.Dataset, model: str, fingerprint: str | None = None) -> None:
    """Raise :func:`resume_refusal` unless ``previous`` is a partial result of the job
    ``model`` (and, if given, of the config with this :func:`config_fingerprint`)."""
    from boltzphlow.errors import shorten

    stored = previous.attrs
    if stored.get("model") != model:
        raise resume_refusal(f"it holds a {shorten(stored.get('model'))} result")
    if fingerprint is not None and stored.get("config_fingerprint") != fingerprint:
        raise resume_refusal("it was computed from another config")
