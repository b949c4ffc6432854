"""Resource guards: memory estimates before large allocations, and BLAS threads for small work.

>>> from boltzphlow.resources import check_memory
>>> check_memory(8 * 4096**2, "the dense Jacobian", ["grid.E_max", "grid.energy_step"])

:func:`check_memory` raises :class:`~boltzphlow.errors.ResourceError` (a ``ValueError``, so the
CLI reports it as one line with exit code 2) when an allocation would not fit in the memory
this process may use: a fraction of the machine's available memory, or the limit set by the
environment variable ``BOLTZPHLOW_MEMORY_LIMIT`` (bytes, or a string such as ``"4 GiB"``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from boltzphlow.errors import ResourceError

__all__ = ["available_memory", "blas_threads", "check_memory", "compute_threads", "format_bytes",
           "memory_limit"]

#: Fraction of the available memory one allocation (estimate) may take.
MEMORY_FRACTION = 0.8

_SIZES = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6,
          "mib": 2**20, "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}


def format_bytes(nbytes: float) -> str:
    """``1.16 TiB``, ``940 MiB``, ``512 B``: a byte count for people."""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def available_memory() -> int:
    """Bytes of memory available to new allocations (``MemAvailable``; physical memory where
    ``/proc/meminfo`` is missing)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return 2**34


def memory_limit() -> int:
    """Bytes one allocation may take: ``BOLTZPHLOW_MEMORY_LIMIT`` or a fraction of what is
    available."""
    text = os.environ.get("BOLTZPHLOW_MEMORY_LIMIT", "").strip()
    if text:
        match = re.fullmatch(r"(\d+(?:\.\d*)?)\s*([A-Za-z]*)", text)
        if match is None or match.group(2).lower() not in _SIZES:
            raise ResourceError(f"BOLTZPHLOW_MEMORY_LIMIT: cannot read {text[:40]!r} "
                                "(expected bytes or e.g. '4 GiB')")
        return int(float(match.group(1)) * _SIZES[match.group(2).lower()])
    return int(MEMORY_FRACTION * available_memory())


def check_memory(nbytes: float, what: str, keys: Sequence[str] = ()) -> None:
    """Refuse an allocation of about ``nbytes`` that would not fit.

    Parameters
    ----------
    nbytes
        Estimated size of the allocation (or of the peak working set) in bytes.
    what
        What it is for, in words (``"the dense Jacobian (3420 x 3420)"``).
    keys
        Config keys that change the estimate, named in the message.

    Raises
    ------
    ResourceError
        ``"<what> needs 1.16 TiB, more than the 18.4 GiB this run may use; change
        grid.E_max or grid.energy_step"``.
    """
    limit = memory_limit()
    if nbytes > limit:
        hint = f"; change {' or '.join(keys)}" if keys else ""
        raise ResourceError(f"{what} needs {format_bytes(nbytes)}, more than the "
                            f"{format_bytes(limit)} this run may use{hint}")


def compute_threads(cap: int | None = None) -> int:
    """Threads a hot loop of this process may use: the cores it may run on, no more than the
    current BLAS thread limit (a sweep sets one thread per task when it runs as many tasks as
    there are cores, :func:`blas_threads`), and no more than ``cap``."""
    from threadpoolctl import threadpool_info

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    limits = [int(lib["num_threads"]) for lib in threadpool_info()
              if lib.get("user_api") == "blas"]
    n = min([cores or 1, *limits])
    return max(1, n if cap is None else min(int(cap), n))


@contextmanager
def blas_threads(limit: int = 1) -> Iterator[None]:
    """Limit BLAS (and OpenMP) threads inside the block.

    Small dense linear algebra (LU of a few thousand unknowns, many times) runs several times
    slower with more than one BLAS thread on a loaded machine; wrap such loops in this.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit, user_api="blas"):
        yield
