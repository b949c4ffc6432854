"""The registered time-stepping schemes.

* ``rk45``, ``dop853``: adaptive explicit Runge–Kutta of SciPy (Dormand–Prince 5(4), 8(5,3)).
* ``bdf``: SciPy's variable-order BDF with the analytic Jacobian (stiff long runs).
* ``relaxation``: the positivity-preserving time-relaxation scheme of M. Li, *Documentation
  for BoltzPhlow and BTE approach to QP–phonon transport*, §2.2 (after Pareschi & Russo,
  SIAM J. Sci. Comput. 23, 1253 (2001)), orders 1–3.
* ``rosenbrock``: the L-stable two-stage Rosenbrock scheme ROS2 (Verwer, Spee, Blom,
  Hundsdorfer, SIAM J. Sci. Comput. 20, 1456 (1999)) with the analytic Jacobian and an
  embedded error estimate: the default for stiff runs.

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
from scipy.integrate import solve_ivp

from boltzphlow.integrate.base import Advance, IntegrationError, Integrator, register


class _SciPyScheme(Integrator):
    """Wrapper of a :func:`scipy.integrate.solve_ivp` method, one segment per call.

    ``fixed_step=True`` forces constant steps of size ``dt`` (used to measure the order).
    """

    scipy_method: ClassVar[str] = ""
    uses_jacobian: ClassVar[bool] = False

    def __init__(self, problem: Any, *, fixed_step: bool = False, **kw: Any) -> None:
        super().__init__(problem, **kw)
        self.fixed_step = fixed_step

    def advance(self, y: np.ndarray, t0: float, t1: float, dt: float) -> Advance:
        p = self.problem
        kw: dict[str, Any] = {"rtol": self.rtol, "atol": self.atol,
                              "first_step": min(dt, t1 - t0)}
        if self.fixed_step:
            kw.update(rtol=1e3, atol=1e3, first_step=self.dt, max_step=self.dt)
        if self.uses_jacobian:
            kw["jac"] = lambda t, yy: p.jacobian(yy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rtol=1e3 in fixed-step mode
            sol = solve_ivp(lambda t, yy: p.rhs(yy), (t0, t1), y, method=self.scipy_method,
                            **kw)
        if not sol.success:
            raise IntegrationError(sol.message)
        steps = sol.t.size - 1
        dt_next = float(np.max(np.diff(sol.t))) if steps else dt
        return Advance(y=p.after_step(sol.y[:, -1]), dt_next=dt_next, steps=steps)


@register
class RK45(_SciPyScheme):
    """Dormand–Prince 5(4) (SciPy ``RK45``): explicit, adaptive, order 5."""

    name, order, scipy_method = "rk45", 5, "RK45"
    citation = "J. R. Dormand, P. J. Prince, J. Comput. Appl. Math. 6, 19 (1980)"


@register
class DOP853(_SciPyScheme):
    """Dormand–Prince 8(5,3) (SciPy ``DOP853``): explicit, adaptive, order 8."""

    name, order, scipy_method = "dop853", 8, "DOP853"
    citation = "E. Hairer, S. P. Norsett, G. Wanner, Solving ODEs I, Sec. II.10 (1993)"


@register
class BDF(_SciPyScheme):
    """SciPy's variable-order (1–5) BDF with the analytic Jacobian; for long stiff runs.

    No fixed order (``order = None``): SciPy switches between orders 1 and 5 as it goes, so
    the error is controlled by the tolerances only (proportional to ``rtol``), not by a
    step size.
    """

    name, order, scipy_method, uses_jacobian = "bdf", None, "BDF", True
    dense_matrices = 3  # SciPy keeps J and the LU of I − cJ (plus the matrix being factored)
    citation = "L. F. Shampine, M. W. Reichelt, SIAM J. Sci. Comput. 18, 1 (1997)"


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

    def __init__(self, problem: Any, *, order: int = 1, **kw: Any) -> None:
        super().__init__(problem, **kw)
        if order not in (1, 2, 3):
            raise ValueError(f"time relaxation is implemented for orders 1-3, got {order}")
        self.m = order

    def _coefficients(self, y: np.ndarray, mu: float, f0: np.ndarray) -> list[np.ndarray]:
        """Taylor coefficients ``Y_0..Y_m`` of ``Y(τ)``."""
        Y = [y, np.clip(f0 + mu * y, 0.0, None) / mu]
        for k in range(1, self.m):
            deg = 2 * k + 2  # G has degree k+1 and P is quadratic
            nodes = np.cos(np.pi * (np.arange(deg + 1) + 0.5) / (deg + 1))  # Chebyshev
            vals = []
            for tau in nodes:
                ytau = (1 - tau) * sum(c * tau**j for j, c in enumerate(Y))
                vals.append(self.problem.rhs(ytau) + mu * ytau)
            V = np.vander(nodes, deg + 1, increasing=True)
            pcoef = np.linalg.solve(V, np.array(vals))  # rows: Taylor coeffs of P(G(τ))
            # [τ^k] of (1−τ)^{-2} P(G(τ)) = Σ_{j≤k} (k − j + 1) p_j
            rk = sum((k - j + 1) * pcoef[j] for j in range(k + 1))
            Y.append(rk / (mu * (k + 1)))
        return Y

    def step(self, y: np.ndarray, dt: float) -> np.ndarray:
        f0, loss = self.problem.rhs_and_loss(y)
        mu = float(np.max(loss)) * 1.0000001 + 1e-300
        Y = self._coefficients(y, mu, f0)
        tau = -math.expm1(-mu * dt)
        out = (1 - tau) * sum(tau**k * Y[k] for k in range(self.m)) + tau**self.m * Y[self.m]
        if not np.all(np.isfinite(out)):
            raise IntegrationError("non-finite state in time relaxation")
        return out

    def advance(self, y: np.ndarray, t0: float, t1: float, dt: float) -> Advance:
        if self.dt is not None:
            h = self.dt
        else:  # default: one step per fastest relaxation time of the state (μ Δt = 1)
            _, loss = self.problem.rhs_and_loss(y)
            h = 1.0 / max(float(np.max(loss)), 1e-300)
        nsteps = max(1, math.ceil((t1 - t0) / h * (1 - 1e-12)))
        hh = (t1 - t0) / nsteps
        for _ in range(nsteps):
            y = self.problem.after_step(self.step(y, hh))
        return Advance(y=y, dt_next=h, steps=nsteps)


# ROS2 coefficients
_GAMMA = 1.0 + 1.0 / math.sqrt(2.0)


@register
class Rosenbrock(Integrator):
    """ROS2: two-stage, L-stable, order-2 Rosenbrock scheme with an embedded estimate.

    ``(I − γhJ) k1 = F(y)``, ``(I − γhJ) k2 = F(y + h k1) − 2 k1``,
    ``y₊ = y + (3/2) h k1 + (1/2) h k2``, ``γ = 1 + 1/√2``; the error is estimated by the
    difference ``(h/2)(k1 + k2)`` with the embedded first-order solution ``y + h k1``.  The
    analytic Jacobian is evaluated once per step.  ``fixed_step=True`` takes constant steps.
    """

    name, order, uses_jacobian = "rosenbrock", 2, True
    dense_matrices = 1  # I − γhJ, factored in place
    citation = "J. G. Verwer et al., SIAM J. Sci. Comput. 20, 1456 (1999)"

    def __init__(self, problem: Any, *, fixed_step: bool = False, max_step: float = np.inf,
                 **kw: Any) -> None:
        super().__init__(problem, **kw)
        self.fixed_step = fixed_step
        self.max_step = float(max_step)

    def _try(self, y: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
        p = self.problem
        a = p.jacobian(y) * -(_GAMMA * h)  # I − γhJ without a second dense temporary
        a[np.diag_indices_from(a)] += 1.0
        try:
            lu = sla.lu_factor(a, overwrite_a=True, check_finite=False)
        except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover
            raise IntegrationError(f"singular Rosenbrock matrix: {exc}") from exc
        p.counters.nlu += 1
        f0 = p.rhs(y)
        k1 = sla.lu_solve(lu, f0, check_finite=False)
        k2 = sla.lu_solve(lu, p.rhs(y + h * k1) - 2.0 * k1, check_finite=False)
        return y + h * (1.5 * k1 + 0.5 * k2), 0.5 * h * (k1 + k2)

    def advance(self, y: np.ndarray, t0: float, t1: float, dt: float) -> Advance:
        t, h = t0, min(self.dt if self.fixed_step and self.dt else dt, self.max_step)
        steps = rejected = 0
        h_keep = h
        while t1 - t > 1e-12 * max(abs(t1), 1.0):
            last = h >= t1 - t
            hs = t1 - t if last else h
            ynew, err = self._try(y, hs)
            if self.fixed_step:
                y, t, steps = self.problem.after_step(ynew), t + hs, steps + 1
                continue
            en = self.error_norm(err, y, ynew)
            finite = np.all(np.isfinite(ynew))
            if finite and en <= 1.0:
                y, t, steps = self.problem.after_step(ynew), t + hs, steps + 1
                fac = 0.9 / math.sqrt(max(en, 1e-10))
                hnew = min(hs * min(5.0, fac), self.max_step)
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
