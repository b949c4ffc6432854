"""Steady states ``F(y) = 0`` of positive kinetic systems by Newton with pseudo-transient
continuation (Kelley & Keyes, SIAM J. Numer. Anal. 35, 508 (1998)).

Each iteration solves ``(I/δ − J) Δy = F(y)`` with the analytic Jacobian ``J``: an implicit
Euler step of pseudo time ``δ`` toward the attractor.  ``δ`` starts at ten times the fastest
relaxation time and grows tenfold per accepted iteration (an iteration that raises the
residual a hundredfold is rejected and ``δ`` shrinks fourfold), so the iteration ends as
Newton's method and converges quadratically.  A component that would turn negative is
instead divided by ten, which keeps every iterate physical (distributions spanning many
decades reach their tails this way).  The dense solves of systems up to
:data:`~boltzphlow.integrate.base.SMALL_DENSE` unknowns run on one BLAS thread.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from boltzphlow.integrate.base import OdeProblem, dense_threads


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
                 tol: float = 1e-10, max_iter: int = 100, flux_floor: float = 1e-8,
                 y_floor: float = 1e-30, diagonal_from: int | None = None
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
        Convergence when ``max_i |F_i| / (γ_i y_i + φ) < tol``: every component's net rate
        is a fraction ``tol`` of its gross outflow, where ``φ = flux_floor · max_j γ_j y_j``
        keeps components whose flux is at round-off level of the largest from deciding.
    max_iter
        Iteration limit.
    flux_floor
        Relative floor φ of the gross flux in the convergence measure.
    y_floor
        Starting values below this are raised to it.
    diagonal_from
        Index (in ``y``) from which the Jacobian block of the active components is diagonal
        (phonons coupled to each other only through the QPs): the linear solves then use
        the Schur complement on the leading block.
    """
    y = np.array(y0, dtype=float)
    act = np.ones(y.size, bool) if active is None else np.asarray(active, bool)
    with dense_threads(int(act.sum())):
        return _newton(problem, y, act, tol, max_iter, flux_floor, y_floor, diagonal_from)


def _newton(problem: OdeProblem, y: np.ndarray, act: np.ndarray, tol: float, max_iter: int,
            flux_floor: float, y_floor: float, diagonal_from: int | None
            ) -> SteadyStateResult:
    """The iteration of :func:`steady_state` (same arguments)."""
    if np.any(y[act] < 0) or not np.all(np.isfinite(y)):
        raise ValueError("the steady-state iteration needs a nonnegative finite starting point")
    y[act] = np.maximum(y[act], y_floor)
    idx = np.flatnonzero(act)
    nfev = njev = 0

    def residual(yy: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        nonlocal nfev
        F, loss = problem.rhs_and_loss(yy)
        nfev += 1
        gross = (loss * yy)[idx]
        rel = F[idx] / (gross + flux_floor * float(np.max(gross)) + 1e-300)
        return F, loss, float(np.max(np.abs(rel)))

    k_diag = None if diagonal_from is None else int(np.searchsorted(idx, diagonal_from))
    F, loss0, res = residual(y)
    delta = 10.0 / max(float(np.max(loss0[idx])), 1e-300)
    for it in range(1, max_iter + 1):
        if res < tol:
            return SteadyStateResult(y, True, "converged", it - 1, res, nfev, njev)
        J = problem.jacobian(y)
        njev += 1
        A = -J[np.ix_(idx, idx)]
        A[np.diag_indices_from(A)] += 1.0 / delta
        try:
            dy = _solve(A, F[idx], k_diag)
        except (np.linalg.LinAlgError, ValueError):
            delta *= 0.1
            continue
        ya = y[idx]
        trial = ya + dy
        y_new = y.copy()
        y_new[idx] = np.where(trial > 0, trial, ya * 0.1)
        F_new, _, res_new = residual(y_new)
        if not np.isfinite(res_new) or res_new > 100 * res:
            delta *= 0.25
            continue
        delta = min(delta * min(10.0, max(res / max(res_new, 1e-300), 10.0)), 1e300)
        y, F, res = y_new, F_new, res_new
    return SteadyStateResult(y, res < tol, "converged" if res < tol else
                             f"no convergence in {max_iter} iterations (residual {res:.3g})",
                             max_iter, res, nfev, njev)


def _solve(A: np.ndarray, b: np.ndarray, k: int | None) -> np.ndarray:
    """Solve ``A x = b``; with ``A[k:, k:]`` diagonal, by the Schur complement on ``A[:k, :k]``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sla.LinAlgWarning)
        if k is None or k >= A.shape[0]:
            return sla.solve(A, b, check_finite=False)
        d = np.diag(A)[k:].copy()
        scale = np.abs(A[k:, :]).max(axis=1)
        if np.any(np.abs(d) <= 1e-12 * scale):  # not safely pivotable: plain LU
            return sla.solve(A, b, check_finite=False)
        a12, a21 = A[:k, k:], A[k:, :k]
        schur = A[:k, :k] - (a12 / d) @ a21
        x1 = sla.solve(schur, b[:k] - a12 @ (b[k:] / d), check_finite=False)
        return np.concatenate([x1, (b[k:] - a21 @ x1) / d])
