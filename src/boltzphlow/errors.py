"""Exceptions that the command line reports as one line with exit code 2.

Every class here is a :class:`ValueError`, so library callers can catch them as such and the
CLI maps them (with :class:`boltzphlow.config.ConfigError` and :class:`OSError`) to
``boltzphlow: error: <message>`` and exit code 2.  Anything else reaching the CLI is an
internal error (one line saying so; the traceback with ``--debug``).

Messages name the config key or input file they are about, are one line, and never echo file
contents (use :func:`shorten` for values taken from user input).
"""

from __future__ import annotations

import math
from numbers import Real

__all__ = ["InputError", "ResourceError", "SolverError", "check_positive", "shorten"]


class InputError(ValueError):
    """An input file (material table, Wannier90 file, DoS table, result file) is unusable."""


class SolverError(ValueError):
    """A numerical method failed; the message says what to change (tolerances, steps, grid)."""


class ResourceError(ValueError):
    """A run would exceed the memory (or time) it may use; the message gives the estimate and
    the config keys that change it."""


def shorten(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to at most ``limit`` characters (for error messages)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_positive(name: str, value: object, unit: str = "") -> float:
    """``value`` as a float if it is a positive finite number (not a bool), else a one-line
    ``ValueError`` naming ``name``: ``"<name>: must be a positive finite number (<unit>), got
    ..."``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not (
            math.isfinite(value) and value > 0):
        where = f" ({unit})" if unit else ""
        raise ValueError(f"{name}: must be a positive finite number{where}, got {shorten(value)}")
    return float(value)
