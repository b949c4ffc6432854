"""Time integrators: the contract, the registry and the output-time driver.

A kinetic model hands the integrators an :class:`OdeProblem`, an autonomous system
``dy/dt = F(y)`` with a few extras.  An integrator is a small class registered by name; the
driver :func:`integrate` advances the solution from one output time to the next, one
*segment* at a time, and calls back after each, so that a run can be checkpointed at any
output time and resumed to the bitwise-same answer (each segment starts from the stored state
and the stored step size, whether or not the run was interrupted).

Writing a new scheme
--------------------
Subclass :class:`Integrator` and

* set the class attributes ``name`` (registry key), ``order`` (nominal order of
  convergence, checked by the test-suite for every registered scheme; ``None`` for a
  variable-order scheme whose error only the tolerances control, checked for proportionality
  to ``rtol`` instead) and ``citation``;
* implement :meth:`Integrator.advance` ``(y, t0, t1, dt) -> Advance``: take steps from
  ``t0`` to exactly ``t1`` starting with step ``dt``, calling ``problem.after_step(y)``
  after every accepted step (it may modify ``y``: e.g. a self-consistent gap update) and
  return the state at ``t1``, the step size to start the next segment with, and counters;
* raise :class:`IntegrationError` when a step cannot be taken;
* set ``uses_jacobian`` and ``dense_matrices`` (dense ``n × n`` arrays the scheme holds at
  once besides the problem's Jacobian) so that callers can estimate memory before a run;
* decorate the class with :func:`register`.

Small dense linear algebra runs with one BLAS thread (:func:`dense_threads`): below
:data:`SMALL_DENSE` unknowns an LU takes at most a few tenths of a second on one core, threads
gain at most about 3× on an idle many-core machine (LU of 940 unknowns: 22 ms on one thread,
7.6 ms on eight of an idle 16-core machine) but lose several-fold when the cores are shared
(180 ms on two threads of a loaded 2-core machine against 56 ms on one), and one thread makes
the round-off independent of the machine, so resumed runs stay bitwise identical wherever
they continue.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from boltzphlow.resources import blas_threads

#: Largest system (unknowns) whose dense linear algebra runs on one BLAS thread.
SMALL_DENSE = 2048


@contextmanager
def dense_threads(n: int) -> Iterator[None]:
    """One BLAS thread inside the block when the dense systems have ``n ≤ SMALL_DENSE``
    unknowns (see the module docstring); the default threads otherwise."""
    if n <= SMALL_DENSE:
        with blas_threads(1):
            yield
    else:
        yield


class OdeProblem(Protocol):
    """An autonomous ODE ``dy/dt = F(y)`` as the integrators see it."""

    def rhs(self, y: np.ndarray) -> np.ndarray:
        """``F(y)``."""

    def rhs_and_loss(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``F(y)`` and a loss frequency ``γ(y) ≥ 0`` with ``F(y) + γ y ≥ 0`` for ``y ≥ 0``."""

    def jacobian(self, y: np.ndarray) -> np.ndarray:
        """Dense ``∂F/∂y``."""

    def after_step(self, y: np.ndarray) -> np.ndarray:
        """Hook after each accepted step (identity for most problems)."""


class IntegrationError(RuntimeError):
    """A step could not be taken (step size underflow, non-finite values...)."""


@dataclass
class Advance:
    """Outcome of :meth:`Integrator.advance`."""

    y: np.ndarray
    dt_next: float
    steps: int = 0
    rejected: int = 0


@dataclass
class Counters:
    """Evaluation counters of a run."""

    nfev: int = 0
    njev: int = 0
    nlu: int = 0
    steps: int = 0
    rejected: int = 0


@dataclass
class SolverStats:
    """What a solver did, stored as data in a result's attributes (never as a ``repr``).

    Every time integration and steady-state solve reports one; :meth:`attrs` flattens it into
    NetCDF attributes ``solver_status``, ``solver_message``, ``solver_nfev`` ... and
    ``solver_option_<name>`` for each option (numbers, strings or booleans as themselves,
    ``None`` as the string ``"none"``).
    """

    method: str
    success: bool
    message: str
    nfev: int = 0
    njev: int = 0
    nlu: int = 0
    steps: int = 0
    rejected: int = 0
    iterations: int = 0
    linear_iterations: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def attrs(self, prefix: str = "solver_") -> dict[str, Any]:
        """Flat NetCDF attributes (``status`` is ``"success"`` or ``"failed"``)."""
        out: dict[str, Any] = {
            f"{prefix}method": self.method,
            f"{prefix}status": "success" if self.success else "failed",
            f"{prefix}message": self.message,
        }
        for name in ("nfev", "njev", "nlu", "steps", "rejected", "iterations",
                     "linear_iterations"):
            out[f"{prefix}{name}"] = int(getattr(self, name))
        for key, value in self.options.items():
            if value is None:
                value = "none"
            elif isinstance(value, bool):
                value = int(value)
            elif not isinstance(value, int | float | str):
                value = str(value)
            out[f"{prefix}option_{key}"] = value
        return out


class CountingProblem:
    """Wraps an :class:`OdeProblem` and counts right-hand side and Jacobian evaluations."""

    def __init__(self, problem: OdeProblem) -> None:
        self.problem = problem
        self.counters = Counters()

    def rhs(self, y: np.ndarray) -> np.ndarray:
        self.counters.nfev += 1
        return self.problem.rhs(y)

    def rhs_and_loss(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.counters.nfev += 1
        return self.problem.rhs_and_loss(y)

    def jacobian(self, y: np.ndarray) -> np.ndarray:
        self.counters.njev += 1
        return self.problem.jacobian(y)

    def after_step(self, y: np.ndarray) -> np.ndarray:
        return self.problem.after_step(y)


class Integrator(ABC):
    """Base class of the time-stepping schemes (see the module docstring for the contract).

    Parameters
    ----------
    problem
        The :class:`OdeProblem` (wrapped for counting by the driver).
    rtol, atol
        Tolerances of adaptive schemes.
    dt
        Step size of fixed-step schemes, first step of adaptive ones.
    """

    name: ClassVar[str] = ""
    order: ClassVar[int | None] = 0
    adaptive: ClassVar[bool] = True
    citation: ClassVar[str] = ""
    #: Whether the scheme evaluates the problem's dense Jacobian.
    uses_jacobian: ClassVar[bool] = False
    #: Dense ``n × n`` float arrays the scheme holds at once besides the Jacobian itself.
    dense_matrices: ClassVar[int] = 0

    def __init__(self, problem: CountingProblem, *, rtol: float = 1e-6, atol: float = 1e-14,
                 dt: float | None = None, **options: Any) -> None:
        if options:
            raise ValueError(f"{self.name}: unknown option(s) {', '.join(sorted(options))}")
        if not (rtol > 0 and atol > 0):
            raise ValueError("rtol and atol must be positive")
        self.problem = problem
        self.rtol, self.atol = float(rtol), float(atol)
        self.dt = None if dt is None else float(dt)
        if self.dt is not None and not self.dt > 0:
            raise ValueError(f"step size must be positive, got {dt}")

    @abstractmethod
    def advance(self, y: np.ndarray, t0: float, t1: float, dt: float) -> Advance:
        """Advance ``y`` from ``t0`` to exactly ``t1`` starting with step ``dt``."""

    def error_norm(self, err: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> float:
        """RMS of the error scaled by ``atol + rtol·max(|y0|, |y1|)``."""
        scale = self.atol + self.rtol * np.maximum(np.abs(y0), np.abs(y1))
        return float(np.sqrt(np.mean((err / scale) ** 2)))


INTEGRATORS: dict[str, type[Integrator]] = {}


def register(cls: type[Integrator]) -> type[Integrator]:
    """Class decorator adding an :class:`Integrator` to the registry under ``cls.name``."""
    if not cls.name:
        raise ValueError("an integrator needs a name")
    INTEGRATORS[cls.name] = cls
    return cls


def get_integrator(method: str | type[Integrator]) -> type[Integrator]:
    """Resolve a registry name or an :class:`Integrator` subclass."""
    if isinstance(method, type) and issubclass(method, Integrator):
        return method
    try:
        return INTEGRATORS[str(method)]
    except KeyError:
        raise ValueError(f"unknown integration method {method!r} "
                         f"(known: {', '.join(sorted(INTEGRATORS))})") from None


@dataclass
class IntegrationResult:
    """Result of :func:`integrate`: states at the output times and run statistics."""

    t: np.ndarray
    y: np.ndarray
    dt_next: np.ndarray
    success: bool
    message: str
    counters: Counters = field(default_factory=Counters)


SegmentCallback = Callable[[int, float, np.ndarray, float], None]


def integrate(problem: OdeProblem, y0: np.ndarray, t_out: np.ndarray,
              method: str | type[Integrator] = "rosenbrock", *, dt0: float | None = None,
              callback: SegmentCallback | None = None, **options: Any) -> IntegrationResult:
    """Integrate ``problem`` from ``t_out[0]`` (state ``y0``) through every output time.

    Parameters
    ----------
    problem
        The ODE.
    y0
        State at ``t_out[0]``.
    t_out
        Increasing output times; the first is the initial time.
    method
        Registry name or :class:`Integrator` subclass.
    dt0
        First step size (default: a fraction of the first output interval, or ``dt``).
    callback
        ``callback(k, t_k, y_k, dt_next)`` after output ``k ≥ 1`` is reached; it may raise
        (e.g. ``KeyboardInterrupt``) to stop the run, keeping what was reached.
    **options
        Passed to the integrator (``rtol``, ``atol``, ``dt``, ``order``...).

    Returns
    -------
    IntegrationResult
        ``success`` is False (with the reason in ``message``) when a step could not be taken:
        :class:`IntegrationError`, a singular linear system or non-finite arithmetic.
    """
    t_out = np.asarray(t_out, dtype=float)
    if t_out.ndim != 1 or t_out.size < 2 or np.any(np.diff(t_out) <= 0):
        raise ValueError("output times must be an increasing sequence of at least two times")
    counting = CountingProblem(problem)
    scheme = get_integrator(method)(counting, **options)
    ys = [np.array(y0, dtype=float)]
    dts = []
    dt = dt0 or scheme.dt or 1e-3 * (t_out[1] - t_out[0])
    ok, message = True, "reached the final time"
    with dense_threads(len(ys[0])):
        for k in range(1, t_out.size):
            try:
                adv = scheme.advance(ys[-1], float(t_out[k - 1]), float(t_out[k]), dt)
            except (IntegrationError, np.linalg.LinAlgError, FloatingPointError) as exc:
                text = " ".join(str(exc).split()) or type(exc).__name__
                ok, message = False, f"stopped at t = {t_out[k - 1]:g}: {text}"
                break
            counting.counters.steps += adv.steps
            counting.counters.rejected += adv.rejected
            ys.append(adv.y)
            dts.append(adv.dt_next)
            dt = adv.dt_next
            if callback is not None:
                callback(k, float(t_out[k]), adv.y, adv.dt_next)
    return IntegrationResult(t=t_out[:len(ys)], y=np.array(ys), dt_next=np.array(dts),
                             success=ok, message=message, counters=counting.counters)
