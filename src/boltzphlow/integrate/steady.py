"""Steady states ``F(y) = 0`` of positive kinetic systems by Newton with pseudo-transient
continuation (Kelley & Keyes, SIAM J. Numer. Anal. 35, 508 (1998)).

The unknowns are ``u = log y`` on the active components, so every iterate stays positive and
distributions spanning many decades are resolved in relative terms.  Each iteration solves
``(I/δ − ∂G/∂u) Δu = G`` with ``G = F/y`` and the analytic Jacobian; the pseudo time step
``δ`` grows as the residual falls (switched evolution relaxation), so the method starts as
implicit time stepping toward the attractor and ends as Newton's method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from boltzphlow.integrate.base import OdeProblem


@dataclass
class SteadyStateResult:
    """Outcome of :func:`steady_state`."""

    y: np.ndarray
    success: bool
    message: str
    iterations: int
    residual: float
    nfev: int
    njev: int


def steady_state(problem: OdeProblem, y0: np.ndarray, active: np.ndarray | None = None, *,
                 tol: float = 1e-10, max_iter: int = 200, max_log_step: float = 2.0
                 ) -> SteadyStateResult:
    """Solve ``F(y) = 0`` for ``y > 0`` starting from ``y0``.

    Parameters
    ----------
    problem
        Provides ``rhs_and_loss`` and ``jacobian``.
    y0
        Positive starting point.
    active
        Components to solve for (the others stay at ``y0``); default all.
    tol
        Convergence when ``max_i |F_i| / (γ_i y_i) < tol``: every component's net rate is a
        fraction ``tol`` of its gross outflow.
    max_iter
        Iteration limit.
    max_log_step
        Largest change of any ``log y_i`` per iteration.
    """
    y = np.array(y0, dtype=float)
    act = np.ones(y.size, bool) if active is None else np.asarray(active, bool)
    if np.any(y[act] <= 0):
        raise ValueError("the steady-state iteration needs a positive starting point")
    idx = np.flatnonzero(act)
    nfev = njev = 0

    def residual(yy: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        nonlocal nfev
        F, loss = problem.rhs_and_loss(yy)
        nfev += 1
        gross = np.maximum(loss * yy, 1e-300)
        rel = F[idx] / gross[idx]
        return F, loss, float(np.max(np.abs(rel)))

    F, loss, res = residual(y)
    delta = 1.0 / max(float(np.max(loss[idx])), 1e-300)
    for it in range(1, max_iter + 1):
        if res < tol:
            return SteadyStateResult(y, True, "converged", it - 1, res, nfev, njev)
        J = problem.jacobian(y)
        njev += 1
        ya = y[idx]
        Ju = J[np.ix_(idx, idx)] * (ya[None, :] / ya[:, None])
        G = F[idx] / ya
        Ju[np.diag_indices_from(Ju)] -= G
        A = -Ju
        A[np.diag_indices_from(A)] += 1.0 / delta
        try:
            du = sla.solve(A, G, check_finite=False, assume_a="gen")
        except (np.linalg.LinAlgError, ValueError):
            delta *= 0.1
            continue
        big = np.max(np.abs(du))
        if big > max_log_step:
            du *= max_log_step / big
        y_new = y.copy()
        y_new[idx] = ya * np.exp(du)
        F_new, loss_new, res_new = residual(y_new)
        if not np.isfinite(res_new) or res_new > 10 * res:
            delta *= 0.25
            continue
        delta = min(delta * min(10.0, max(res / max(res_new, 1e-300), 0.5)), 1e300)
        y, F, loss, res = y_new, F_new, loss_new, res_new
    return SteadyStateResult(y, res < tol, "converged" if res < tol else
                             f"no convergence in {max_iter} iterations (residual {res:.3g})",
                             max_iter, res, nfev, njev)
