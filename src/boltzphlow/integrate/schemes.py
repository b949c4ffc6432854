"""The registered time-stepping schemes.

* ``rk45``, ``dop853``: adaptive explicit Runge–Kutta of SciPy (Dormand–Prince 5(4), 8(5,3)).
* ``bdf``: SciPy's variable-order BDF (orders 1–5) with the problem's Jacobian, dense or
  sparse (stiff long runs).
* ``radau``: SciPy's implicit Runge–Kutta Radau IIA of order 5, dense or sparse Jacobian.
* ``lsoda``: ODEPACK's LSODA through SciPy, switching between Adams and BDF (variable order);
  dense Jacobian (a sparse one is densified after a memory check).
* ``relaxation``: the positivity-preserving time-relaxation scheme of M. Li, *Documentation
  for BoltzPhlow and BTE approach to QP–phonon transport*, §2.2 (after Pareschi & Russo,
  SIAM J. Sci. Comput. 23, 1253 (2001)), orders 1–3.
* ``rosenbrock``: the L-stable two-stage Rosenbrock scheme ROS2 (Verwer, Spee, Blom,
  Hundsdorfer, SIAM J. Sci. Comput. 20, 1456 (1999)) with the analytic Jacobian (dense LU or
  sparse ``splu``) and an embedded error estimate: the default for stiff runs.

The SciPy schemes are stepped one accepted step at a time through the
:class:`scipy.integrate.OdeSolver` classes, so that ``after_step`` runs after every step.
When it changes the state (the superconductor's self-consistent gap) the one-step schemes
(``rk45``, ``dop853``, ``radau``) are restarted from the new state at that time with the step
the controller proposed, which for a one-step scheme is the same as continuing.  The
multistep schemes ``bdf`` and ``lsoda`` instead carry their history across the change: the
new state replaces the newest entry of the backward-difference table (the first column of
the Nordsieck array), the differences are kept.  A restart would drop them to order 1 with
a fresh start after every step, and the local errors of thousands of such first steps add
up (measured: 5e-5 at rtol 1e-8 on a clamped decay, against 1e-8 when the history is
carried); the error of keeping the old differences is second order in the (smooth, O(h))
change and is checked by the step's own error test.  Either way the answer no longer depends
on where the output times fall (tested).

Linear invariants (energy with a fixed gap) are conserved to round-off by every scheme here:
RK and Rosenbrock stages are linear combinations of ``F`` and of solves with ``I − γhJ``,
which an exact invariant ``wᵀF = 0`` (hence ``wᵀJ = 0``) passes through; for time relaxation
see :class:`TimeRelaxation`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy import integrate as sint

from boltzphlow.integrate.base import (
    Advance,
    IntegrationError,
    Integrator,
    Option,
    changed,
    jacobian_form,
    register,
)
from boltzphlow.integrate.linear import gmres
from boltzphlow.resources import check_memory

_STEPPING = {
    "max_step": Option(math.inf, "largest step (also bounded by the problem's max_step)"),
    "fixed_step": Option(False, "take constant steps of size dt (to measure the order)"),
}


class _SciPyScheme(Integrator):
    """A :class:`scipy.integrate.OdeSolver` stepped one accepted step at a time.

    ``fixed_step=True`` forces constant steps of size ``dt`` (used to measure the order).
    A state changed by ``after_step`` restarts the solver (:meth:`_continue`; the multistep
    schemes override it to carry their history).  ``rejected`` counts rejected steps where
    they can be seen from outside SciPy: for the explicit Runge–Kutta schemes (each attempt
    costs ``n_stages`` evaluations); SciPy's implicit solvers do not report theirs (0).
    """

    solver_class: ClassVar[type[sint.OdeSolver]]
    #: Jacobian forms SciPy's solver takes as they come.
    jacobian_forms: ClassVar[tuple[str, ...]] = ()
    options = Integrator.options | _STEPPING

    def _jac(self) -> Any:
        if not (self.uses_jacobian and self.problem.has_jacobian):
            return None  # SciPy's finite differences (implicit schemes) or none

        def jac(t: float, y: np.ndarray) -> Any:
            J = self.problem.jacobian(t, y)
            form = jacobian_form(J)
            if form in self.jacobian_forms:
                return J
            if form == "sparse":  # lsoda: ODEPACK takes dense matrices only
                check_memory(8.0 * J.shape[0] * J.shape[1] * (1 + self.dense_matrices),
                             f"the {self.name} integrator's dense Jacobian "
                             f"({J.shape[0]} x {J.shape[1]})")
                return J.toarray()
            raise ValueError(f"{self.name} cannot use a matrix-free Jacobian (LinearOperator); "
                             f"choose a scheme without one (rk45, dop853) or give the "
                             f"Jacobian as a dense or sparse matrix")

        return jac

    def _start(self, t: float, y: np.ndarray, t1: float, h: float | None,
               max_step: float) -> sint.OdeSolver:
        kw: dict[str, Any] = {"rtol": self.rtol, "atol": self.atol, "max_step": max_step}
        if h is not None:
            kw["first_step"] = min(h, t1 - t)
        if self.fixed_step:
            if self.dt is None:
                raise ValueError(f"{self.name}: fixed_step needs the step dt")
            kw.update(rtol=1e3, atol=1e3, first_step=min(self.dt, t1 - t), max_step=self.dt)
        jac = self._jac()
        if jac is not None:
            kw["jac"] = jac
        with warnings.catch_warnings(), np.errstate(invalid="ignore", over="ignore"):
            warnings.simplefilter("ignore", UserWarning)  # rtol = 1e3 in fixed-step mode
            solver = self.solver_class(self.problem.rhs, t, y, t1, **kw)
        f0 = getattr(solver, "f", None)  # the derivative at t (RK, Radau keep it)
        if not np.isfinite(getattr(solver, "h_abs", 0.0)) or (
                f0 is not None and not np.all(np.isfinite(f0))):
            # SciPy picks the first step from the derivative at the start; NaN there makes its
            # step-size loop spin forever or its LU refuse the matrix
            raise IntegrationError(f"{self.name}: the derivative at t = {t:g} is not finite")
        return solver

    def _proposed(self, solver: sint.OdeSolver) -> float:
        """The step the controller will try next."""
        return float(solver.h_abs)

    def _continue(self, solver: sint.OdeSolver, y: np.ndarray, t1: float,
                  max_step: float) -> sint.OdeSolver:
        """Continue from a state changed by ``after_step`` (module docstring)."""
        return self._start(solver.t, y, t1, self._proposed(solver), max_step)

    def _rejected(self, nfev: int) -> int:
        return 0

    def advance(self, y: np.ndarray, t0: float, t1: float, dt: float | None) -> Advance:
        p = self.problem
        max_step = min(float(self.max_step), p.max_step(t0, t1))
        solver = self._start(t0, y, t1, dt, max_step)
        steps = rejected = nlu = 0
        h_keep = dt
        while solver.status == "running":
            nfev0 = p.counters.nfev
            # A trial step may overshoot into overflow (an explicit stage, a diverging Newton
            # iterate); SciPy's controller rejects it and shrinks the step, so floating-point
            # warnings inside step() are not errors. An accepted state must be finite.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                message = solver.step()
            if solver.status == "failed":
                raise IntegrationError(message or f"{self.name} could not take a step")
            if not np.all(np.isfinite(solver.y)):
                raise IntegrationError(f"{self.name} accepted a step to a state that is not "
                                       f"finite at t = {solver.t:g}")
            steps += 1
            rejected += self._rejected(p.counters.nfev - nfev0)
            running = solver.status == "running"
            if running or h_keep is None:
                h_keep = self._proposed(solver)
            y_new = p.after_step(solver.t, solver.y)
            if running and changed(solver.y, y_new):
                following = self._continue(solver, y_new, t1, max_step)
                if following is not solver:
                    nlu += getattr(solver, "nlu", 0)
                solver = following
            y = y_new
        p.counters.nlu += nlu + getattr(solver, "nlu", 0)
        return Advance(y=np.array(y, dtype=float), dt_next=float(h_keep), steps=steps,
                       rejected=rejected)


class _ExplicitRK(_SciPyScheme):
    def _rejected(self, nfev: int) -> int:
        return max(nfev // self.solver_class.n_stages - 1, 0)


@register
class RK45(_ExplicitRK):
    """Dormand–Prince 5(4) (SciPy ``RK45``): explicit, adaptive, order 5."""

    name, order, solver_class = "rk45", 5, sint.RK45
    citation = "J. R. Dormand, P. J. Prince, J. Comput. Appl. Math. 6, 19 (1980)"


@register
class DOP853(_ExplicitRK):
    """Dormand–Prince 8(5,3) (SciPy ``DOP853``): explicit, adaptive, order 8."""

    name, order, solver_class = "dop853", 8, sint.DOP853
    citation = "E. Hairer, S. P. Norsett, G. Wanner, Solving ODEs I, Sec. II.10 (1993)"


@register
class BDF(_SciPyScheme):
    """SciPy's variable-order (1–5) BDF with the problem's Jacobian (dense or sparse); for
    long stiff runs.

    No fixed order (``order = None``): SciPy switches between orders 1 and 5 as it goes, so
    the error is controlled by the tolerances only (proportional to ``rtol``), not by a
    step size.  A state changed by ``after_step`` replaces the newest entry of the
    backward-difference table (module docstring).
    """

    name, order, solver_class, uses_jacobian = "bdf", None, sint.BDF, True
    jacobian_forms = ("dense", "sparse")
    dense_matrices = 3  # SciPy keeps J and the LU of I − cJ (plus the matrix being factored)
    citation = "L. F. Shampine, M. W. Reichelt, SIAM J. Sci. Comput. 18, 1 (1997)"

    def _continue(self, solver: sint.OdeSolver, y: np.ndarray, t1: float,
                  max_step: float) -> sint.OdeSolver:
        solver.D[0] = y
        solver.y = y.copy()
        return solver


@register
class Radau(_SciPyScheme):
    """SciPy's Radau IIA (three stages, order 5): implicit, L-stable, adaptive, with the
    problem's Jacobian (dense or sparse)."""

    name, order, solver_class, uses_jacobian = "radau", 5, sint.Radau, True
    jacobian_forms = ("dense", "sparse")
    dense_matrices = 5  # J, the real and complex LU of the stage systems (complex: 2)
    citation = "E. Hairer, G. Wanner, Solving ODEs II, Sec. IV.8 (1996)"


@register
class LSODA(_SciPyScheme):
    """ODEPACK's LSODA (SciPy ``LSODA``): switches between variable-order Adams (non-stiff)
    and BDF (stiff) methods automatically; dense Jacobian (a sparse one is densified).

    Variable order: only the tolerances control the error.
    """

    name, order, solver_class, uses_jacobian = "lsoda", None, sint.LSODA, True
    jacobian_forms = ("dense",)
    dense_matrices = 2  # ODEPACK's copy of J and its LU
    citation = "L. Petzold, SIAM J. Sci. Stat. Comput. 4, 136 (1983)"

    def _proposed(self, solver: sint.OdeSolver) -> float:
        # RWORK(12) of ODEPACK: the step size to be attempted next
        step = float(solver._lsoda_solver._integrator.rwork[11])
        return step if step > 0 else float(solver.step_size or 0.0) or math.inf

    def _continue(self, solver: sint.OdeSolver, y: np.ndarray, t1: float,
                  max_step: float) -> sint.OdeSolver:
        # ODEPACK keeps the Nordsieck history YH from RWORK(21) on, its first column the
        # current state: replace that column (the state) and keep the derivatives, as for
        # bdf; restart if the layout is not the one expected.
        rwork = solver._lsoda_solver._integrator.rwork
        newest = rwork[20:20 + y.size]
        if not np.array_equal(newest, solver.y):
            return super()._continue(solver, y, t1, max_step)
        newest[:] = y
        solver._lsoda_solver._y[:] = y
        solver.y = y.copy()
        return solver


@register
class TimeRelaxation(Integrator):
    """Time-relaxation scheme of order 1–3 (M. Li, *Documentation for BoltzPhlow*, §2.2,
    Eqs. 46–51), fixed step ``dt``.

    Write ``F(y) = P(y) − μ y`` with ``μ = max γ(y_n)`` over the components (``γ`` from
    ``rhs_and_loss``), so ``P ≥ 0`` for physical ``y``.  With ``τ = 1 − e^{−μΔt}`` and
    ``y(t) = (1 − τ) Y(τ)``, ``dY/dτ = P((1−τ)Y) / (μ (1−τ)²)`` (Eq. 47 generalised to
    non-homogeneous ``P``); its Taylor coefficients ``Y_k`` (Eqs. 49–50) are computed exactly,
    because ``P`` is a polynomial of degree two in ``y``: ``Y_{k+1}`` needs the first ``k``
    Taylor coefficients of ``P((1−τ)Y_{≤k}(τ))``, a polynomial of degree ``2k+2`` in ``τ``,
    recovered from ``2k+3`` evaluations at Chebyshev points.  The update is the Wild-sum
    truncation of Pareschi & Russo with the tail put on the last coefficient,

        y_{n+1} = (1 − τ) Σ_{k<m} τ^k Y_k + τ^m Y_m,

    a convex combination (weights sum to one), positive whenever the ``Y_k`` are (always for
    ``m = 1``, Eq. 51), and exact for every linear invariant ``w`` (``wᵀY_k = wᵀy_n`` for all
    ``k``; the remark in Li's §2.2 that only first order conserves energy concerns a
    different truncation).  Local error O(Δt^{m+1}).  Without ``dt`` the step is ``1/μ`` of the
    state at the start of each output interval: positive and stable at any step, the scheme
    follows slow modes accurately only while ``μΔt`` is of order one or less.
    """

    name, order, adaptive = "relaxation", 1, False
    citation = "L. Pareschi, G. Russo, SIAM J. Sci. Comput. 23, 1253 (2001)"
    options = Integrator.options | {
        "order": Option(1, "order of the Wild-sum truncation, 1-3"),
        "rtol": Option(1e-6, "not used by the scheme (fixed steps); accepted so that a run "
                             "can switch schemes"),
        "atol": Option(1e-14, "not used by the scheme (fixed steps)"),
        "dt": Option(None, "step (None: 1/μ of the state at the start of each output "
                           "interval)"),
    }

    def __init__(self, problem: Any, **options: Any) -> None:
        super().__init__(problem, **options)
        if self.settings["order"] not in (1, 2, 3):
            raise ValueError(f"time relaxation is implemented for orders 1-3, got "
                             f"{self.settings['order']}")
        self.m = int(self.settings["order"])
        if not self.problem.has_loss:
            raise ValueError("relaxation needs the problem's loss frequencies (rhs_and_loss), "
                             "which this problem does not provide")

    def _coefficients(self, t: float, y: np.ndarray, mu: float,
                      f0: np.ndarray) -> list[np.ndarray]:
        """Taylor coefficients ``Y_0..Y_m`` of ``Y(τ)``."""
        Y = [y, np.clip(f0 + mu * y, 0.0, None) / mu]
        for k in range(1, self.m):
            deg = 2 * k + 2  # G has degree k+1 and P is quadratic
            nodes = np.cos(np.pi * (np.arange(deg + 1) + 0.5) / (deg + 1))  # Chebyshev
            vals = []
            for tau in nodes:
                ytau = (1 - tau) * sum(c * tau**j for j, c in enumerate(Y))
                vals.append(self.problem.rhs(t, ytau) + mu * ytau)
            V = np.vander(nodes, deg + 1, increasing=True)
            pcoef = np.linalg.solve(V, np.array(vals))  # rows: Taylor coeffs of P(G(τ))
            # [τ^k] of (1−τ)^{-2} P(G(τ)) = Σ_{j≤k} (k − j + 1) p_j
            rk = sum((k - j + 1) * pcoef[j] for j in range(k + 1))
            Y.append(rk / (mu * (k + 1)))
        return Y

    def step(self, t: float, y: np.ndarray, dt: float) -> np.ndarray:
        """One step of size ``dt`` from ``(t, y)``."""
        f0, loss = self.problem.rhs_and_loss(t, y)
        mu = float(np.max(loss)) * 1.0000001 + 1e-300
        Y = self._coefficients(t, y, mu, f0)
        tau = -math.expm1(-mu * dt)
        out = (1 - tau) * sum(tau**k * Y[k] for k in range(self.m)) + tau**self.m * Y[self.m]
        if not np.all(np.isfinite(out)):
            raise IntegrationError("non-finite state in time relaxation")
        return out

    def advance(self, y: np.ndarray, t0: float, t1: float, dt: float | None) -> Advance:
        if self.dt is not None:
            h = self.dt
        else:  # default: one step per fastest relaxation time of the state (μ Δt = 1)
            _, loss = self.problem.rhs_and_loss(t0, y)
            h = 1.0 / max(float(np.max(loss)), 1e-300)
        h = min(h, self.problem.max_step(t0, t1))
        nsteps = max(1, math.ceil((t1 - t0) / h * (1 - 1e-12)))
        hh = (t1 - t0) / nsteps
        for i in range(nsteps):
            t = t0 + i * hh
            y = self.problem.after_step(t + hh, self.step(t, y, hh))
        return Advance(y=y, dt_next=h, steps=nsteps)


# ROS2 coefficients
_GAMMA = 1.0 + 1.0 / math.sqrt(2.0)


@register
class Rosenbrock(Integrator):
    """ROS2: two-stage, L-stable, order-2 Rosenbrock scheme with an embedded estimate
    (Verwer, Spee, Blom, Hundsdorfer, SIAM J. Sci. Comput. 20, 1456 (1999)).

    ``(I − γhJ) k1 = F(t, y) + γh ∂F/∂t``,
    ``(I − γhJ) k2 = F(t + h, y + h k1) − 2 k1 − γh ∂F/∂t``,
    ``y₊ = y + (3/2) h k1 + (1/2) h k2``, ``γ = 1 + 1/√2`` (the scheme applied to the
    autonomous system with ``t`` as a state; ``∂F/∂t`` by a forward difference unless the
    problem is ``autonomous``); the error is estimated by the difference ``(h/2)(k1 + k2)``
    with the embedded first-order solution ``y + h k1``.  The Jacobian is evaluated once per
    step and factored densely (LU) or sparsely (``splu``) as it comes.

    A matrix-free Jacobian (a ``LinearOperator``) is used as it comes too: both stage
    systems are solved by restarted GMRES (:func:`~boltzphlow.integrate.linear.gmres`),
    on the system scaled by the error weights ``S = atol + rtol |y|`` (``S⁻¹(I − γhJ)S``: the
    residual is measured as the step controller measures errors),
    right-preconditioned by ``1/(1 − γh diag J)`` from the problem's ``jacobian_diagonal(t,
    y)`` when it has one (identity otherwise), to the relative residual ``linear_rtol``
    (default ``1e-3 rtol``): the linear error then stays far below the local error the
    controller accepts, so the scheme keeps order 2 (tested against the dense path).  A solve
    that does not converge rejects the step (a smaller ``h`` is better conditioned).  The
    inner iterations are counted in ``counters.linear_iterations``.
    """

    name, order, uses_jacobian = "rosenbrock", 2, True
    dense_matrices = 1  # I − γhJ, factored in place
    citation = "J. G. Verwer et al., SIAM J. Sci. Comput. 20, 1456 (1999)"
    options = Integrator.options | _STEPPING | {
        "linear_rtol": Option(None, "relative residual of the GMRES stage solves with a "
                                    "matrix-free Jacobian (None: 1e-3 rtol)"),
        "linear_restart": Option(40, "GMRES subspace size of the matrix-free stage solves"),
        "linear_max_restarts": Option(10, "GMRES restart cycles of the matrix-free stage "
                                          "solves before the step is rejected"),
    }

    def __init__(self, problem: Any, **options: Any) -> None:
        super().__init__(problem, **options)
        self.max_step = float(self.max_step)
        self.linear_rtol = 1e-3 * self.rtol if self.linear_rtol is None else float(
            self.linear_rtol)
        if not 0 < self.linear_rtol < 1:
            raise ValueError(f"rosenbrock: linear_rtol must lie in (0, 1), got "
                             f"{self.linear_rtol}")
        if not self.problem.has_jacobian:
            raise ValueError("rosenbrock needs the problem's Jacobian, which this problem "
                             "does not provide")

    def _factor(self, t: float, y: np.ndarray, h: float) -> Any:
        """A solver of ``(I − γhJ) x = b``."""
        J = self.problem.jacobian(t, y)
        form = jacobian_form(J)
        if form == "operator":
            return self._krylov(t, y, h, J)
        self.problem.counters.nlu += 1
        try:
            if form == "sparse":
                a = (sp.identity(J.shape[0], format="csc") - (_GAMMA * h) * J).tocsc()
                return spla.splu(a).solve
            a = np.array(J, dtype=float) * -(_GAMMA * h)  # I − γhJ, one dense temporary
            a[np.diag_indices_from(a)] += 1.0
            lu = sla.lu_factor(a, overwrite_a=True, check_finite=False)
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:  # pragma: no cover
            raise IntegrationError(f"singular Rosenbrock matrix: {exc}") from exc
        return lambda b: sla.lu_solve(lu, b, check_finite=False)

    def _krylov(self, t: float, y: np.ndarray, h: float, J: spla.LinearOperator) -> Any:
        """A matrix-free solver of ``(I − γhJ) x = b`` (GMRES, Jacobi-preconditioned)."""
        gh = _GAMMA * h
        n = J.shape[0]
        # solved in the units of the error test, S⁻¹(I − γhJ)S z = S⁻¹b with S = atol + rtol|y|,
        # so that GMRES's residual tolerance is relative to what the step controller measures
        # (in plain 2-norms the small components would carry the linear error of the large)
        sc = self.atol + self.rtol * np.abs(y)
        A = spla.LinearOperator((n, n), matvec=lambda v: np.ravel(v) - gh * J.matvec(
            sc * np.ravel(v)) / sc, dtype=float)
        diagonal = getattr(getattr(self.problem, "problem", self.problem), "jacobian_diagonal",
                           None)
        M = None
        if callable(diagonal):
            d = 1.0 - gh * np.asarray(diagonal(t, y), dtype=float)
            inv = np.divide(1.0, d, out=np.ones_like(d), where=d > 0)
            M = spla.LinearOperator((n, n), matvec=lambda v: inv * np.ravel(v), dtype=float)
        counters = self.problem.counters

        def solve(b: np.ndarray) -> np.ndarray:
            if not np.all(np.isfinite(b)):
                return np.full(n, np.nan)
            if not np.any(b):
                return np.zeros(n)
            out = gmres(A, b / sc, M, rtol=self.linear_rtol, restart=int(self.linear_restart),
                        max_restarts=int(self.linear_max_restarts))
            counters.linear_iterations += out.iterations
            return sc * out.x if out.converged else np.full(n, np.nan)

        return solve

    def _try(self, t: float, y: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
        p = self.problem
        solve = self._factor(t, y, h)
        f0 = p.rhs(t, y)
        if p.autonomous:
            ft = 0.0
        else:  # ∂F/∂t by a forward difference
            dt = math.sqrt(np.finfo(float).eps) * max(abs(t), h)
            ft = _GAMMA * h * (p.rhs(t + dt, y) - f0) / dt
        k1 = solve(f0 + ft)
        k2 = solve(p.rhs(t + h, y + h * k1) - 2.0 * k1 - ft)
        return y + h * (1.5 * k1 + 0.5 * k2), 0.5 * h * (k1 + k2)

    def advance(self, y: np.ndarray, t0: float, t1: float, dt: float | None) -> Advance:
        max_step = min(self.max_step, self.problem.max_step(t0, t1))
        if self.fixed_step:
            if self.dt is None:
                raise ValueError("rosenbrock: fixed_step needs the step dt")
            h = self.dt
        else:
            h = dt if dt is not None else 1e-3 * (t1 - t0)
        t, h = t0, min(h, max_step)
        steps = rejected = 0
        h_keep = h
        while t1 - t > 1e-12 * max(abs(t1), 1.0):
            last = h >= t1 - t
            hs = t1 - t if last else h
            ynew, err = self._try(t, y, hs)
            if self.fixed_step:
                y, t, steps = self.problem.after_step(t + hs, ynew), t + hs, steps + 1
                continue
            en = self.error_norm(err, y, ynew)
            finite = np.all(np.isfinite(ynew))
            if finite and en <= 1.0:
                y, t, steps = self.problem.after_step(t + hs, ynew), t + hs, steps + 1
                fac = 0.9 / math.sqrt(max(en, 1e-10))
                hnew = min(hs * min(5.0, fac), max_step)
                if not last:
                    h_keep = hnew
                h = hnew
            else:
                rejected += 1
                h = hs * (0.2 if not finite else max(0.2, 0.9 / math.sqrt(en)))
                if h < 1e-14 * max(abs(t), 1.0):
                    raise IntegrationError("step size underflow in rosenbrock")
        return Advance(y=y, dt_next=h_keep if not self.fixed_step else h, steps=steps,
                       rejected=rejected)
