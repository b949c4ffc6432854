"""The command line's :class:`~boltzphlow.jobs.RunContext`: a progress bar and file checkpoints."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import xarray as xr

from boltzphlow.results import finalize, save


class CliContext:
    """A :class:`~boltzphlow.jobs.RunContext` that shows a progress bar and writes checkpoints.

    Use it as a context manager around ``job.run(config, context)``; the bar (a rich progress
    bar on stderr, none when ``quiet``) lives inside the ``with`` block.  Each
    :meth:`checkpoint` keeps the latest partial Dataset and writes it, finalized with
    ``complete=0``, atomically to ``output`` -- at most every ``min_interval_s`` seconds, and
    more rarely when writing is slow (so that writing takes at most ``max_write_fraction`` of the
    wall time).  The latest checkpoint not yet written is written by :meth:`flush` (the CLI calls
    it when a run is interrupted).

    Parameters
    ----------
    output
        The ``.nc`` file the checkpoints (and later the final result) go to.
    job_name, raw_config
        Stored in the checkpoints' attributes (see :func:`boltzphlow.results.finalize`).
    resume_from
        A partial result to continue from (``None`` for a fresh run); its ``wall_time_s`` is
        added to this run's wall time.
    quiet
        No progress bar.
    min_interval_s
        Least wall time between two checkpoint writes.
    max_write_fraction
        Largest fraction of the wall time spent writing checkpoints (in ``(0, 1]``).

    Notes
    -----
    A Dataset handed to :meth:`checkpoint` may be written later (by a rate-limited or final
    flush), so the job must not modify its values afterwards: build a new Dataset (or views of
    records that no longer change) for each checkpoint.
    """

    def __init__(
        self,
        output: str | Path,
        job_name: str,
        raw_config: Mapping[str, Any],
        *,
        resume_from: xr.Dataset | None = None,
        quiet: bool = False,
        min_interval_s: float = 0.5,
        max_write_fraction: float = 0.1,
    ) -> None:
        self.output = Path(output)
        self.job_name = job_name
        self.raw_config = raw_config
        self.resume_from = resume_from
        self.quiet = quiet
        self.min_interval_s = min_interval_s
        self.max_write_fraction = max_write_fraction
        self.checkpoints_written = 0
        previous = 0.0 if resume_from is None else resume_from.attrs.get("wall_time_s", 0.0)
        self._wall_offset = float(previous)
        self._started = time.perf_counter()
        self._latest: xr.Dataset | None = None
        self._next_write = -math.inf
        self._bar: Any = None
        self._task: Any = None

    @property
    def wall_time_s(self) -> float:
        """Wall-clock seconds spent on this result, earlier (resumed) runs included."""
        return self._wall_offset + time.perf_counter() - self._started

    def __enter__(self) -> CliContext:
        if not self.quiet:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._task = self._bar.add_task(self.job_name, total=None)
            self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def progress(self, done: float, total: float) -> None:
        """Advance the progress bar to ``done`` out of ``total``."""
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def checkpoint(self, ds: xr.Dataset) -> None:
        """Keep ``ds`` as the latest partial result; write it now unless one was written lately."""
        self._latest = ds
        if time.monotonic() >= self._next_write:
            self._write()

    def flush(self) -> bool:
        """Write the latest checkpoint if it is not on disk yet.

        Returns
        -------
        bool
            Whether this context has written a checkpoint to :attr:`output`.
        """
        if self._latest is not None:
            self._write()
        return self.checkpoints_written > 0

    def _write(self) -> None:
        start = time.monotonic()
        partial = finalize(self._latest, self.job_name, self.raw_config, self.wall_time_s,
                           complete=False)
        save(partial, self.output)
        self._latest = None
        self.checkpoints_written += 1
        end = time.monotonic()
        pause = (end - start) * (1.0 / self.max_write_fraction - 1.0)
        self._next_write = end + max(self.min_interval_s, pause)
