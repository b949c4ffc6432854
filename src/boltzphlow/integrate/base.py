"""Time integrators: the problem contract, the scheme contract, the registry and the
output-time driver.

A kinetic model hands the integrators an :class:`OdeProblem`, a system ``dy/dt = F(t, y)``
with a few optional extras.  A scheme is a small class registered by name; the driver
:func:`integrate` advances the solution from one output time to the next, one *segment* at
a time, and calls back after each, so that a run can be checkpointed at any output time and
resumed to the bitwise-same answer (each segment starts from the stored state and the stored
step size, whether or not the run was interrupted).

The problem
-----------
Required: ``rhs(t, y) -> F``.  Optional (see :class:`OdeProblem`):

* ``jacobian(t, y)``: ``∂F/∂y`` as a dense ``ndarray``, a ``scipy.sparse`` matrix or a
  matrix-free ``scipy.sparse.linalg.LinearOperator``; every scheme takes every form it can
  use (Rosenbrock: dense LU or sparse ``splu``; SciPy ``bdf``/``radau``: dense or sparse;
  ``lsoda``: dense, a sparse Jacobian is densified after a memory check) and refuses the
  others with a one-line message;
* ``rhs_and_loss(t, y)``: ``F`` and a loss frequency ``γ ≥ 0`` with ``F + γ y ≥ 0`` for
  ``y ≥ 0`` (time relaxation needs it);
* ``after_step(t, y) -> y``: called after *every* accepted step; it may return a changed
  state (the superconductor's self-consistent gap) — see "Writing a new scheme";
* ``max_step(t0, t1) -> float``: the largest step allowed inside ``[t0, t1]`` (a pulse to
  resolve); ``autonomous = True`` when ``F`` does not depend on ``t`` (saves Rosenbrock the
  finite-difference ``∂F/∂t``).

Writing a new scheme
--------------------
Subclass :class:`Integrator` and

* set the class attributes ``name`` (registry key), ``order`` (nominal order of
  convergence, checked by the test-suite for every registered scheme; ``None`` for a
  variable-order scheme whose error only the tolerances control, checked for proportionality
  to ``rtol`` instead) and ``citation``;
* declare the options in ``options`` (name → :class:`Option` with default and meaning),
  extending ``Integrator.options`` (``rtol``, ``atol``, ``dt``); the constructor refuses any
  other option in one line naming the scheme, and stores each as an attribute;
* implement :meth:`Integrator.advance` ``(y, t0, t1, dt) -> Advance``: take steps from
  ``t0`` to exactly ``t1`` starting with step ``dt`` (``None``: the scheme's own choice),
  calling ``problem.after_step(t, y)`` after every accepted step and continuing from the
  state it returns (a changed state is a new initial value: a one-step scheme continues
  from it, a multistep scheme must restart or carry its history consistently), and return
  the state at ``t1``, the step size to start the next segment with, and counters;
* raise :class:`IntegrationError` when a step cannot be taken;
* set ``uses_jacobian`` and ``dense_matrices`` (dense ``n × n`` arrays the scheme holds at
  once besides the problem's Jacobian) so that callers can estimate memory before a run;
* decorate the class with :func:`register`.  Tests loop over the registry
  (``tests/unit/test_integrate.py``: exact solutions, orders, tolerances, after_step), and
  every model's ``evolve`` accepts the new name.

Small dense linear algebra runs with one BLAS thread (:func:`dense_threads`): below
:data:`SMALL_DENSE` unknowns an LU takes at most a few tenths of a second on one core, threads
gain at most about 3× on an idle many-core machine (LU of 940 unknowns: 22 ms on one thread,
7.6 ms on eight of an idle 16-core machine) but lose several-fold when the cores are shared
(180 ms on two threads of a loaded 2-core machine against 56 ms on one), and one thread makes
the round-off independent of the machine, so resumed runs stay bitwise identical wherever
they continue.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

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
    """The system ``dy/dt = F(t, y)`` as the integrators see it.

    Only :meth:`rhs` is required; the other methods are optional (module docstring), and a
    problem whose ``F`` does not depend on ``t`` may say so with ``autonomous = True``.
    """

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """``F(t, y)``."""

    def rhs_and_loss(self, t: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``F(t, y)`` and a loss frequency ``γ ≥ 0`` with ``F + γ y ≥ 0`` for ``y ≥ 0``."""

    def jacobian(self, t: float, y: np.ndarray) -> Any:
        """``∂F/∂y``: dense ``ndarray``, ``scipy.sparse`` matrix or ``LinearOperator``."""

    def after_step(self, t: float, y: np.ndarray) -> np.ndarray:
        """Hook after each accepted step; returns the state to continue from."""


class IntegrationError(RuntimeError):
    """A step could not be taken (step size underflow, non-finite values...)."""


def jacobian_form(jac: Any) -> str:
    """``"dense"``, ``"sparse"`` or ``"operator"`` (matrix-free) for a Jacobian value."""
    if sp.issparse(jac):
        return "sparse"
    if isinstance(jac, spla.LinearOperator):
        return "operator"
    return "dense"


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
    linear_iterations: int = 0  # Krylov iterations of matrix-free implicit stages


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
    """Wraps an :class:`OdeProblem`: counts evaluations and supplies the optional methods
    (``after_step`` the identity, ``max_step`` unbounded, ``rhs_and_loss`` and ``jacobian``
    refused in one line when the problem lacks them)."""

    def __init__(self, problem: OdeProblem) -> None:
        self.problem = problem
        self.counters = Counters()
        self.has_jacobian = callable(getattr(problem, "jacobian", None))
        self.has_loss = callable(getattr(problem, "rhs_and_loss", None))
        self.autonomous = bool(getattr(problem, "autonomous", False))
        self._after = getattr(problem, "after_step", None)
        self._max_step = getattr(problem, "max_step", None)

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        self.counters.nfev += 1
        if not np.all(np.isfinite(y)):
            # a rejected trial state (overflowed stage or Newton iterate): the model is not
            # evaluated on it, and the NaN makes the scheme reject the step
            return np.full(np.shape(y), np.nan)
        return self.problem.rhs(t, y)

    def rhs_and_loss(self, t: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.has_loss:
            raise ValueError("this scheme needs the problem's loss frequencies (rhs_and_loss), "
                             "which the problem does not provide")
        self.counters.nfev += 1
        return self.problem.rhs_and_loss(t, y)

    def jacobian(self, t: float, y: np.ndarray) -> Any:
        if not self.has_jacobian:
            raise ValueError("this scheme needs the problem's Jacobian, which the problem "
                             "does not provide")
        self.counters.njev += 1
        return self.problem.jacobian(t, y)

    def after_step(self, t: float, y: np.ndarray) -> np.ndarray:
        """The state to continue from (``y`` itself when the problem has no hook)."""
        return y if self._after is None else self._after(t, y)

    def max_step(self, t0: float, t1: float) -> float:
        """Largest step inside ``[t0, t1]`` (``inf`` when the problem sets none)."""
        return math.inf if self._max_step is None else float(self._max_step(t0, t1))


def changed(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether ``after_step`` returned another state than the one it was given."""
    return after is not before and not np.array_equal(after, before)


@dataclass(frozen=True)
class Option:
    """A scheme's option: its default and what it means."""

    default: Any
    doc: str


class Integrator(ABC):
    """Base class of the time-stepping schemes (see the module docstring for the contract).

    Parameters
    ----------
    problem
        The :class:`OdeProblem`, wrapped in a :class:`CountingProblem` by the driver.
    **options
        The scheme's options (:attr:`options`: name → default and meaning); each is stored
        as an attribute of the same name, all of them in :attr:`settings`.
    """

    name: ClassVar[str] = ""
    order: ClassVar[int | None] = 0
    adaptive: ClassVar[bool] = True
    citation: ClassVar[str] = ""
    #: Whether the scheme evaluates the problem's Jacobian.
    uses_jacobian: ClassVar[bool] = False
    #: Dense ``n × n`` float arrays the scheme holds at once besides the Jacobian itself.
    dense_matrices: ClassVar[int] = 0
    #: The options every scheme takes; subclasses extend the mapping.
    options: ClassVar[Mapping[str, Option]] = {
        "rtol": Option(1e-6, "relative tolerance of adaptive schemes"),
        "atol": Option(1e-14, "absolute tolerance of adaptive schemes"),
        "dt": Option(None, "step of fixed-step schemes, first step of adaptive ones (None: "
                           "the scheme chooses)"),
    }

    def __init__(self, problem: CountingProblem, **options: Any) -> None:
        self.settings = self.resolve_options(**options)
        for key, value in self.settings.items():
            setattr(self, key, value)
        self.rtol, self.atol = float(self.rtol), float(self.atol)
        if not (self.rtol > 0 and self.atol > 0):
            raise ValueError(f"{self.name}: rtol and atol must be positive")
        self.dt = None if self.dt is None else float(self.dt)
        if self.dt is not None and not self.dt > 0:
            raise ValueError(f"{self.name}: step size must be positive, got {self.dt}")
        self.problem = problem

    @classmethod
    def resolve_options(cls, **options: Any) -> dict[str, Any]:
        """Every declared option with its value (the default unless given).

        Raises
        ------
        ValueError
            One line naming the scheme and the unknown options.
        """
        unknown = sorted(set(options) - set(cls.options))
        if unknown:
            raise ValueError(f"{cls.name}: unknown option(s) {', '.join(unknown)} (known: "
                             f"{', '.join(sorted(cls.options))})")
        return {key: opt.default for key, opt in cls.options.items()} | options

    @abstractmethod
    def advance(self, y: np.ndarray, t0: float, t1: float, dt: float | None) -> Advance:
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


def method_name(method: str) -> str:
    """The registry name of ``method``: itself, or the one registered name equal to it up to
    case (older configs wrote SciPy's ``"BDF"``, ``"Radau"``, ``"LSODA"``).

    Raises
    ------
    ValueError
        One line listing the registered names.
    """
    text = str(method)
    if text in INTEGRATORS:
        return text
    same = [name for name in INTEGRATORS if name.lower() == text.lower()]
    if len(same) == 1:
        return same[0]
    raise ValueError(f"unknown integration method {text!r} "
                     f"(known: {', '.join(sorted(INTEGRATORS))})")


def get_integrator(method: str | type[Integrator]) -> type[Integrator]:
    """Resolve a registry name (case-insensitively, :func:`method_name`) or a subclass."""
    if isinstance(method, type) and issubclass(method, Integrator):
        return method
    return INTEGRATORS[method_name(method)]


@dataclass
class IntegrationResult:
    """Result of :func:`integrate`: states at the output times and run statistics.

    ``message`` says where and why a failed run stopped (``"stopped at t = …: reason"``),
    ``reason`` the why alone; :attr:`stats` gives the :class:`SolverStats` of the run.
    """

    t: np.ndarray
    y: np.ndarray
    dt_next: np.ndarray
    success: bool
    message: str
    counters: Counters = field(default_factory=Counters)
    method: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    @property
    def stats(self) -> SolverStats:
        """What the solver did, as result attributes (:meth:`SolverStats.attrs`)."""
        c = self.counters
        return SolverStats(method=self.method, success=self.success, message=self.message,
                           nfev=c.nfev, njev=c.njev, nlu=c.nlu, steps=c.steps,
                           rejected=c.rejected, linear_iterations=c.linear_iterations,
                           options=dict(self.options))


SegmentCallback = Callable[[int, float, np.ndarray, float], None]


def integrate(problem: OdeProblem, y0: np.ndarray, t_out: np.ndarray,
              method: str | type[Integrator] = "rosenbrock", *, dt0: float | None = None,
              callback: SegmentCallback | None = None, counters: Counters | None = None,
              **options: Any) -> IntegrationResult:
    """Integrate ``problem`` from ``t_out[0]`` (state ``y0``) through every output time.

    Parameters
    ----------
    problem
        The ODE (:class:`OdeProblem`).
    y0
        State at ``t_out[0]``.
    t_out
        Increasing output times; the first is the initial time.
    method
        Registry name (case-insensitive) or :class:`Integrator` subclass.
    dt0
        First step size (default: the option ``dt``, else the scheme's own choice).
    callback
        ``callback(k, t_k, y_k, dt_next)`` after output ``k ≥ 1`` is reached; it may raise
        (e.g. ``KeyboardInterrupt``) to stop the run, keeping what was reached.
    counters
        Counters to accumulate into as the run goes (read them in ``callback`` for the
        statistics of a partial result); a new one by default.
    **options
        The scheme's options (``rtol``, ``atol``, ``dt`` and those it declares).

    Returns
    -------
    IntegrationResult
        ``success`` is False (with the reason in ``message``) when a step could not be taken:
        :class:`IntegrationError`, a singular linear system, non-finite arithmetic or a
        non-finite state at an output time.

    Raises
    ------
    ValueError
        For bad output times, an unknown method or option, or a scheme that cannot use what
        the problem provides (one line).
    """
    t_out = np.asarray(t_out, dtype=float)
    if t_out.ndim != 1 or t_out.size < 2 or np.any(np.diff(t_out) <= 0):
        raise ValueError("output times must be an increasing sequence of at least two times")
    counting = CountingProblem(problem)
    if counters is not None:
        counting.counters = counters
    cls = get_integrator(method)
    scheme = cls(counting, **options)
    ys = [np.array(y0, dtype=float)]
    dts = []
    dt = dt0 or scheme.dt
    ok, message, reason = True, "reached the final time", ""
    with dense_threads(len(ys[0])):
        for k in range(1, t_out.size):
            try:
                adv = scheme.advance(ys[-1], float(t_out[k - 1]), float(t_out[k]), dt)
                if not np.all(np.isfinite(adv.y)):
                    raise IntegrationError("the state is no longer finite")
            except (IntegrationError, np.linalg.LinAlgError, FloatingPointError) as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                ok, message = False, f"stopped at t = {t_out[k - 1]:g}: {reason}"
                break
            counting.counters.steps += adv.steps
            counting.counters.rejected += adv.rejected
            ys.append(adv.y)
            dts.append(adv.dt_next)
            dt = adv.dt_next
            if callback is not None:
                callback(k, float(t_out[k]), adv.y, adv.dt_next)
    return IntegrationResult(t=t_out[:len(ys)], y=np.array(ys), dt_next=np.array(dts),
                             success=ok, message=message, counters=counting.counters,
                             method=cls.name, options=dict(scheme.settings), reason=reason)
