"""The command line's :class:`~boltzphlow.jobs.RunContext`: a progress bar and file checkpoints."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import xarray as xr

from boltzphlow import results


class CliContext:
    """A :class:`~boltzphlow.jobs.RunContext` that shows a progress bar and writes checkpoints.

    Use it as a context manager around ``job.run(config, context)``.  The bar (a rich progress
    bar on stderr, none when ``quiet``) starts at the job's first :meth:`progress` call, so
    that errors found before the computation starts print no bar, and stops when the ``with``
    block ends.

    Each :meth:`checkpoint` keeps the latest partial Dataset and writes it, finalized with
    ``complete=0``, atomically to ``output`` when one of these holds:

    * it is the first checkpoint;
    * the pause since the last write has passed: ``max_write_fraction`` of the wall time is
      spent writing (the pause is the last write's duration times
      ``1 / max_write_fraction - 1``), but the pause is at least ``min_interval_s`` and at most
      ``max_interval_s``.  The first write is not used to measure the cost of writing (it pays
      for one-time imports and file creation);
    * the simulated progress (from :meth:`progress`) has advanced by ``progress_step`` of the
      total since the last write, and half the pause (at least ``min_interval_s``) has passed:
      at most ``1 / progress_step`` extra writes, and at most about twice
      ``max_write_fraction`` of the time spent writing.

    The latest checkpoint not yet written is written by :meth:`flush` (the CLI calls it when a
    run is interrupted or fails); :meth:`discard` drops it once the final result is saved.

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
    max_interval_s
        Longest wall time between two checkpoint writes while checkpoints arrive.
    max_write_fraction
        Largest fraction of the wall time spent writing checkpoints (in ``(0, 1]``), as long as
        the pause stays below ``max_interval_s``.
    progress_step
        Fraction of the simulated total after which a checkpoint is written before the pause
        has passed (once half of it has).
    clock
        Monotonic clock in seconds (tests substitute their own).

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
        max_interval_s: float = 10.0,
        max_write_fraction: float = 0.1,
        progress_step: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 <= min_interval_s <= max_interval_s:
            raise ValueError("need 0 <= min_interval_s <= max_interval_s, got "
                             f"{min_interval_s} and {max_interval_s}")
        if not 0.0 < max_write_fraction <= 1.0:
            raise ValueError(f"max_write_fraction must be in (0, 1], got {max_write_fraction}")
        if not progress_step > 0.0:
            raise ValueError(f"progress_step must be > 0, got {progress_step}")
        self.output = Path(output)
        self.job_name = job_name
        self.raw_config = raw_config
        self.resume_from = resume_from
        self.quiet = quiet
        self.min_interval_s = min_interval_s
        self.max_interval_s = max_interval_s
        self.max_write_fraction = max_write_fraction
        self.progress_step = progress_step
        self.clock = clock
        self.checkpoints_written = 0
        previous = 0.0 if resume_from is None else resume_from.attrs.get("wall_time_s", 0.0)
        self._wall_offset = float(previous)
        self._started = time.perf_counter()
        self._latest: xr.Dataset | None = None
        self._last_write_end: float | None = None
        self._pause = min_interval_s
        self._fraction = 0.0
        self._fraction_written = 0.0
        self._entered = False
        self._bar: Any = None
        self._task: Any = None

    @property
    def wall_time_s(self) -> float:
        """Wall-clock seconds spent on this result, earlier (resumed) runs included."""
        return self._wall_offset + time.perf_counter() - self._started

    @property
    def pause_s(self) -> float:
        """The current least wall time between two time-triggered checkpoint writes."""
        return self._pause

    def __enter__(self) -> CliContext:
        self._entered = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._entered = False
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.stop()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = bar.add_task(self.job_name, total=None)
        bar.start()
        self._bar = bar

    def progress(self, done: float, total: float) -> None:
        """Advance the progress bar to ``done`` out of ``total`` (the bar starts at the first call).

        ``done / total`` is also the simulated progress that triggers checkpoints.
        """
        if total > 0 and math.isfinite(done) and math.isfinite(total):
            self._fraction = min(max(done / total, 0.0), 1.0)
        if self.quiet or not self._entered:
            return
        if self._bar is None:
            self._start_bar()
        self._bar.update(self._task, completed=done, total=total)

    def checkpoint(self, ds: xr.Dataset) -> None:
        """Keep ``ds`` as the latest partial result; write it now if a write is due."""
        self._latest = ds
        if self._due():
            self._write()

    def _due(self) -> bool:
        if self._last_write_end is None:
            return True
        waited = self.clock() - self._last_write_end
        if waited >= self._pause:
            return True
        advanced = self._fraction - self._fraction_written
        return (advanced >= self.progress_step
                and waited >= max(self.min_interval_s, 0.5 * self._pause))

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

    def discard(self) -> None:
        """Drop the latest checkpoint not yet written (the final result replaces it)."""
        self._latest = None

    def _write(self) -> None:
        start = self.clock()
        fraction = self._fraction
        partial = results.finalize(self._latest, self.job_name, self.raw_config,
                                   self.wall_time_s, complete=False)
        with results.deferred_signals():  # Ctrl-C waits until the bookkeeping is done too
            results.save(partial, self.output)
            self._latest = None
            self.checkpoints_written += 1
        end = self.clock()
        if self.checkpoints_written > 1:  # the first write pays for imports: not a measure
            cost = end - start
            pause = cost * (1.0 / self.max_write_fraction - 1.0)
            self._pause = min(self.max_interval_s, max(self.min_interval_s, pause))
        self._last_write_end = end
        self._fraction_written = fraction
