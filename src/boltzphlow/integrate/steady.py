"""Steady states ``F(y) = 0`` of kinetic systems by Newton's method with pseudo-transient
continuation (C. T. Kelley & D. E. Keyes, *Convergence analysis of pseudo-transient
continuation*, SIAM J. Numer. Anal. 35, 508 (1998)).

Each iteration solves ``(I/δ − J) Δy = F(y)`` with the Jacobian ``J = ∂F/∂y``: an implicit
Euler step of pseudo time ``δ`` toward the attractor, which keeps every linear invariant of
the dynamics.  ``δ`` starts at ten times the fastest relaxation time and grows tenfold per
accepted iteration, so the iteration ends as Newton's method and converges quadratically
(growth by the residual reduction alone, the switched-evolution-relaxation rule, took twice
the iterations on the kinetic problems here), up to :data:`DELTA_MAX` fastest relaxation
times, which keeps the matrix regular where conservation laws make ``J`` singular.  A step
whose residual grows a hundredfold is first shortened (a backtracking line search along
``Δy``, halving up to four times); when no length helps it is rejected and ``δ`` shrinks
fourfold.  A component that would leave its bounds (``0 ≤ y``, optionally ``y ≤ upper``)
moves only a tenth of its distance to the bound instead: every iterate stays physical, and
distributions spanning many decades reach their tails this way.

The linear solve follows the form of the Jacobian the problem gives (or ``linear=``):

* a dense array: LU (one BLAS thread below :data:`~boltzphlow.integrate.base.SMALL_DENSE`
  unknowns), with the Schur complement on the leading block when the trailing block is
  diagonal (``diagonal_from``);
* a :mod:`scipy.sparse` matrix: sparse LU (SuperLU, ``splu``);
* a :class:`scipy.sparse.linalg.LinearOperator` (matrix-free): right-preconditioned GMRES
  (:mod:`boltzphlow.integrate.linear`) on the system scaled to the convergence measure,
  with the problem's preconditioner (Jacobi by default) and an inexact-Newton forcing term;
  with ``diagonal_from``, on the Schur complement of the diagonal trailing block (one
  product with each block column of a :class:`~boltzphlow.integrate.linear.BlockOperator`).

Sparse LU and GMRES run on one BLAS thread (their vector operations are memory bound; a
second thread on a shared machine made an 8192-bin superconductor solve 2.7× slower).

The problem
-----------
``problem.rhs(t, y)`` gives ``F`` (``t`` is fixed, default 0).  If the problem has
``rhs_and_loss(t, y)`` (``F`` and a loss frequency ``γ ≥ 0`` with ``F + γ y ≥ 0``) the
convergence measure is *flux-relative*: ``max_i |F_i| / (γ_i y_i + φ)``, every component's
net rate a fraction of its gross outflow (``φ = flux_floor · max_j γ_j y_j`` keeps components
at round-off level of the largest flux from deciding).  Otherwise it is *rate-relative*:
``max_i |F_i| / r`` with ``r`` the largest diagonal element of ``|J|`` at the start.
``problem.jacobian(t, y)`` (or the ``jacobian`` argument) gives ``J`` in one of the forms
above; optional ``problem.jacobian_diagonal(t, y)`` gives ``diag J`` for matrix-free
problems, and the ``preconditioner`` argument ``(t, y, shift) -> M`` an approximation of
``(shift·I − J)⁻¹`` acting on full-length vectors.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from boltzphlow.integrate.base import SolverStats, dense_threads
from boltzphlow.integrate.linear import BlockOperator, gmres, jacobi, scaled_operator
from boltzphlow.resources import blas_threads

__all__ = ["LINEAR_SOLVERS", "SteadyProblem", "SteadyStateResult", "steady_state"]

#: Linear solvers of the Newton step (``linear=``).
LINEAR_SOLVERS = ("dense", "sparse", "krylov")

#: First pseudo-time step in units of the fastest relaxation time.
FIRST_STEP = 10.0
#: Pseudo-time growth per accepted iteration.
GROWTH = 10.0
#: Largest pseudo-time step in units of the fastest relaxation time: ``I/δ`` keeps the
#: Newton matrix regular where conservation laws make ``J`` singular.
DELTA_MAX = 1e12
#: A trial step whose residual exceeds this multiple of the current one is shortened.
REJECT_FACTOR = 100.0
#: Backtracking halvings of a step before it is rejected.
LINE_SEARCH_STEPS = 4
#: Largest GMRES forcing term ``η`` (relative linear residual) of a Newton step.
ETA_MAX = 1e-2

Jacobian = np.ndarray | sp.spmatrix | sp.sparray | spla.LinearOperator


class SteadyProblem(Protocol):
    """What :func:`steady_state` asks of a problem (an
    :class:`~boltzphlow.integrate.base.OdeProblem` is one): ``rhs`` is required, the other
    methods are optional (module docstring)."""

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """``F(t, y)``."""

    def rhs_and_loss(self, t: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``F`` and loss frequencies ``γ ≥ 0`` (``F + γ y ≥ 0``): flux-relative measure."""

    def jacobian(self, t: float, y: np.ndarray) -> Jacobian:
        """``∂F/∂y``: dense, sparse or a LinearOperator (the form picks the linear solve)."""

    def jacobian_diagonal(self, t: float, y: np.ndarray) -> np.ndarray:
        """``diag ∂F/∂y`` (Jacobi preconditioning of a matrix-free Jacobian)."""


@dataclass
class SteadyStateResult:
    """Outcome of :func:`steady_state`.

    Attributes
    ----------
    y
        The last iterate (the steady state when ``success``).
    success, message
        Whether the convergence test passed, and what happened in words.
    residual
        The convergence measure at ``y`` (see the module docstring).
    stats
        :class:`~boltzphlow.integrate.base.SolverStats`: iterations, right-hand side and
        Jacobian evaluations, factorisations (``nlu``), GMRES iterations, the linear solver.
    """

    y: np.ndarray
    success: bool
    message: str
    residual: float
    stats: SolverStats

    @property
    def iterations(self) -> int:
        """Newton iterations (accepted and rejected)."""
        return self.stats.iterations

    @property
    def nfev(self) -> int:
        """Right-hand side evaluations."""
        return self.stats.nfev

    @property
    def njev(self) -> int:
        """Jacobian evaluations."""
        return self.stats.njev


def steady_state(problem: SteadyProblem, y0: np.ndarray, active: np.ndarray | None = None, *,
                 tol: float = 1e-10, max_iter: int = 100,
                 linear: Literal["dense", "sparse", "krylov"] | None = None,
                 jacobian: Callable[[float, np.ndarray], Jacobian] | None = None,
                 preconditioner: Callable[[float, np.ndarray, float], Any] | None = None,
                 upper: np.ndarray | None = None,
                 project: Callable[[np.ndarray], np.ndarray] | None = None,
                 flux_floor: float = 1e-8, y_floor: float = 1e-30,
                 diagonal_from: int | None = None, t: float = 0.0) -> SteadyStateResult:
    """Solve ``F(y) = 0`` for ``y ≥ 0`` starting from ``y0``.

    Parameters
    ----------
    problem
        Provides ``rhs(t, y)``, optionally ``rhs_and_loss(t, y)``, ``jacobian(t, y)`` and
        ``jacobian_diagonal(t, y)`` (module docstring).
    y0
        Nonnegative finite starting point.
    active
        Components to solve for (the others stay at ``y0``); default all.
    tol
        Convergence when the measure of the module docstring falls below ``tol``.
    max_iter
        Iteration limit (accepted and rejected iterations).
    linear
        ``"dense"``, ``"sparse"`` or ``"krylov"``; default by the Jacobian's form.
    jacobian
        ``(t, y) -> J`` used instead of ``problem.jacobian``.
    preconditioner
        ``(t, y, shift) -> M`` with ``M ≈ (shift·I − J)⁻¹`` (a LinearOperator or callable on
        full-length vectors) for the Krylov solves; default Jacobi.
    upper
        Upper bounds of the components (``inf`` where none).
    project
        Applied to every accepted iterate (e.g. restoring conserved numbers lost to
        round-off); must keep the bounds.
    flux_floor
        Relative floor φ of the gross flux in the flux-relative convergence measure.
    y_floor
        Starting values of active components below this are raised to it.
    diagonal_from
        Index from which the active block of the Jacobian is diagonal: the dense and Krylov
        solves then work on the Schur complement of the leading block (the Krylov one when
        no ``preconditioner`` is given).
    t
        The time at which the problem is evaluated.

    Returns
    -------
    SteadyStateResult
        Non-convergence is reported by ``success``/``message``, not raised.

    Raises
    ------
    ValueError
        For a starting point with negative or non-finite active components, or an unknown
        ``linear``.
    """
    if linear is not None and linear not in LINEAR_SOLVERS:
        raise ValueError(f"unknown linear solver {linear!r} (known: "
                         f"{', '.join(LINEAR_SOLVERS)})")
    y = np.array(y0, dtype=float)
    act = np.ones(y.size, bool) if active is None else np.asarray(active, bool)
    if np.any(y[act] < 0) or not np.all(np.isfinite(y)):
        raise ValueError("the steady-state iteration needs a nonnegative finite starting point")
    newton = _Newton(problem, y, act, tol=tol, linear=linear,
                     jacobian=jacobian or problem.jacobian, preconditioner=preconditioner,
                     upper=upper, project=project, flux_floor=flux_floor, y_floor=y_floor,
                     diagonal_from=diagonal_from, t=float(t))
    return newton.run(max_iter)


class _Newton:
    """The iteration of :func:`steady_state` (same arguments)."""

    def __init__(self, problem: Any, y: np.ndarray, act: np.ndarray, *, tol: float,
                 linear: str | None, jacobian: Callable[[float, np.ndarray], Jacobian],
                 preconditioner: Callable[[float, np.ndarray, float], Any] | None,
                 upper: np.ndarray | None, project: Callable[[np.ndarray], np.ndarray] | None,
                 flux_floor: float, y_floor: float, diagonal_from: int | None,
                 t: float) -> None:
        self.problem, self.t, self.tol, self.linear = problem, t, tol, linear
        self.jacobian, self.preconditioner, self.project = jacobian, preconditioner, project
        self.idx = np.flatnonzero(act)
        y[self.idx] = np.maximum(y[self.idx], y_floor)
        self.y0 = y
        self.upper = None if upper is None else np.asarray(upper, float)[self.idx]
        if self.upper is not None:
            y[self.idx] = np.minimum(y[self.idx], self.upper)
        self.flux_floor = flux_floor
        self.flux = hasattr(problem, "rhs_and_loss")
        self.split = diagonal_from
        self.k_diag = None if diagonal_from is None else int(np.searchsorted(self.idx,
                                                                             diagonal_from))
        self.rate: float | None = None
        self.stats = SolverStats(method="newton-ptc", success=False, message="",
                                 options={"tol": tol})
        self.used = ""

    # ------------------------------------------------------------------ residual
    def residual(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """``F(y)``, the scale of each active component's residual and the measure."""
        idx = self.idx
        self.stats.nfev += 1
        if self.flux:
            F, loss = self.problem.rhs_and_loss(self.t, y)
            self.loss = np.asarray(loss)[idx]
            gross = self.loss * y[idx]
            scale = gross + self.flux_floor * float(np.max(gross, initial=0.0)) + 1e-300
        else:
            F = self.problem.rhs(self.t, y)
            scale = np.full(idx.size, self.rate or 1.0)
        F = np.asarray(F, dtype=float)
        return F, scale, float(np.max(np.abs(F[idx]) / scale, initial=0.0))

    def _diagonal(self, y: np.ndarray, jac: Jacobian) -> np.ndarray:
        """``diag J`` on the active components."""
        if isinstance(jac, np.ndarray) or sp.issparse(jac):
            return np.asarray(jac.diagonal())[self.idx]
        if hasattr(self.problem, "jacobian_diagonal"):
            return np.asarray(self.problem.jacobian_diagonal(self.t, y))[self.idx]
        if self.flux:
            _, loss = self.problem.rhs_and_loss(self.t, y)
            self.stats.nfev += 1
            return -np.asarray(loss)[self.idx]
        raise ValueError("a matrix-free Jacobian needs the problem's jacobian_diagonal or "
                         "rhs_and_loss")

    # ------------------------------------------------------------------ iteration
    def run(self, max_iter: int) -> SteadyStateResult:
        jac = self._jacobian(self.y0)
        # dense LU: one BLAS thread for small systems; sparse LU and GMRES (level-1/2 BLAS,
        # memory bound) always run on one thread (several lose on a shared machine)
        threads = dense_threads(self.idx.size) if self.used == "dense" else blas_threads(1)
        with threads:
            return self._iterate(jac, max_iter)

    def _iterate(self, jac: Jacobian, max_iter: int) -> SteadyStateResult:
        y, stats = self.y0, self.stats
        # the fastest relaxation rate at the start sets δ (and the rate-relative scale)
        if self.flux:
            F, scale, res = self.residual(y)
            self.rate = float(np.max(self.loss, initial=0.0)) or 1.0
        else:
            self.rate = float(np.max(np.abs(self._diagonal(y, jac)), initial=0.0)) or 1.0
            F, scale, res = self.residual(y)
        delta = FIRST_STEP / self.rate
        it = 0
        while True:
            if res < self.tol:
                return self._result(y, True, "converged", res)
            if it >= max_iter:
                return self._result(y, False, f"no convergence in {max_iter} iterations "
                                              f"(residual {res:.3g})", res)
            if delta * self.rate < 1e-12:
                return self._result(y, False, f"pseudo time step underflow after {it} "
                                              f"iterations (residual {res:.3g})", res)
            it += 1
            stats.iterations = it
            if jac is None:
                jac = self._jacobian(y)
            try:
                dy = self.solve(jac, y, F, scale, res, delta)
            except (np.linalg.LinAlgError, ValueError, RuntimeError):
                delta *= 0.1
                continue
            trial = self.search(y, dy, res)
            if trial is None:
                delta *= 0.25
                continue
            y_new, F_new, scale_new, res_new = trial
            delta = min(delta * GROWTH, DELTA_MAX / self.rate)
            if self.project is not None:
                y_new = self.project(y_new)
                F_new, scale_new, res_new = self.residual(y_new)
            y, F, scale, res = y_new, F_new, scale_new, res_new
            jac = None

    def search(self, y: np.ndarray, dy: np.ndarray, res: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
        """The step ``y + α Δy`` (α = 1, ½, ¼ ...) within the bounds that does not raise the
        residual more than :data:`REJECT_FACTOR`-fold; ``None`` if none."""
        idx = self.idx
        ya = y[idx]
        for k in range(LINE_SEARCH_STEPS + 1):
            step = dy * 0.5**k
            trial = ya + step
            trial = np.where(trial >= 0, trial, 0.1 * ya)
            if self.upper is not None:
                over = trial > self.upper
                trial[over] = self.upper[over] - 0.1 * (self.upper[over] - ya[over])
            y_new = y.copy()
            y_new[idx] = trial
            F_new, scale_new, res_new = self.residual(y_new)
            if np.isfinite(res_new) and res_new <= REJECT_FACTOR * res:
                return y_new, F_new, scale_new, res_new
            if not np.all(np.isfinite(F_new[idx])):
                break
        return None

    # ------------------------------------------------------------------ linear algebra
    def _jacobian(self, y: np.ndarray) -> Jacobian:
        self.stats.njev += 1
        jac = self.jacobian(self.t, y)
        kind = self.linear or ("dense" if isinstance(jac, np.ndarray) else
                               "sparse" if sp.issparse(jac) else "krylov")
        if kind == "dense" and sp.issparse(jac):
            jac = jac.toarray()
        elif kind == "sparse" and isinstance(jac, np.ndarray):
            jac = sp.csc_array(jac)
        elif kind in ("dense", "sparse") and not (isinstance(jac, np.ndarray)
                                                  or sp.issparse(jac)):
            raise ValueError(f"a {kind} linear solve needs a matrix Jacobian, the problem "
                             "gives a matrix-free operator")
        self.used = kind
        self.stats.options["linear"] = kind
        return jac

    def solve(self, jac: Jacobian, y: np.ndarray, F: np.ndarray, scale: np.ndarray,
              res: float, delta: float) -> np.ndarray:
        """``Δy`` on the active components from ``(I/δ − J) Δy = F``."""
        idx = self.idx
        b = F[idx]
        if self.used == "dense":
            A = -jac[np.ix_(idx, idx)] if idx.size < jac.shape[0] else -jac
            A[np.diag_indices_from(A)] += 1.0 / delta
            self.stats.nlu += 1
            return _solve_dense(A, b, self.k_diag)
        if self.used == "sparse":
            J = sp.csc_array(jac)
            if idx.size < J.shape[0]:
                J = J[idx][:, idx]
            A = (sp.identity(idx.size, format="csc") / delta - J).tocsc()
            self.stats.nlu += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", spla.MatrixRankWarning)
                x = spla.splu(A).solve(b)
            if not np.all(np.isfinite(x)):
                raise np.linalg.LinAlgError("singular sparse system")
            return x
        return self._krylov(jac, y, b, scale, res, delta)

    def _krylov(self, jac: Jacobian, y: np.ndarray, b: np.ndarray, scale: np.ndarray,
                res: float, delta: float) -> np.ndarray:
        """GMRES on ``R⁻¹ (I/δ − J) C x = R⁻¹ F`` with ``Δy = C x`` (``R`` the residual scale,
        ``C`` the values in the flux-relative measure, 1 otherwise)."""
        idx, n = self.idx, self.y0.size
        op = spla.aslinearoperator(jac)
        if (self.preconditioner is None and self.k_diag is not None
                and 0 < self.k_diag < idx.size):
            return self._krylov_schur(op, y, b, scale, res, delta)
        cols = np.maximum(y[idx], 1e-300) if self.flux else np.ones(idx.size)
        shift = 1.0 / delta

        def matvec(v: np.ndarray) -> np.ndarray:
            full = np.zeros(n)
            full[idx] = v
            return shift * v - op.matvec(full)[idx]

        A = scaled_operator(matvec, scale, cols)
        if self.preconditioner is not None:
            outer = self.preconditioner(self.t, y, shift)
            apply = outer.matvec if hasattr(outer, "matvec") else outer

            def precondition(r: np.ndarray) -> np.ndarray:
                full = np.zeros(n)
                full[idx] = scale * np.ravel(r)
                return np.asarray(apply(full))[idx] / cols

            M = spla.LinearOperator((idx.size, idx.size), matvec=precondition, dtype=float)
        else:
            M = jacobi((shift - self._diagonal(y, jac)) * cols / scale)
        eta = min(ETA_MAX, 0.1 * np.sqrt(res))
        out = gmres(A, b / scale, M, rtol=eta)
        self.stats.linear_iterations += out.iterations
        if not np.all(np.isfinite(out.x)):
            raise np.linalg.LinAlgError("GMRES produced non-finite values")
        return cols * out.x

    def _krylov_schur(self, op: spla.LinearOperator, y: np.ndarray, b: np.ndarray,
                      scale: np.ndarray, res: float, delta: float) -> np.ndarray:
        """GMRES on the Schur complement of the diagonal trailing block.

        With ``A = I/δ − J = [[A11, A12], [A21, D]]``, ``D`` diagonal: GMRES solves
        ``S x1 = b1 − A12 D⁻¹ b2`` with ``S = A11 − A12 D⁻¹ A21`` (Jacobi-preconditioned by
        ``diag A11``, scaled as in :meth:`_krylov`), then ``x2 = D⁻¹ (b2 − A21 x1)``.  A
        product with ``S`` is one product with each block column of ``J``
        (:class:`~boltzphlow.integrate.linear.BlockOperator`; two full products otherwise);
        GMRES needs about half the iterations of the unreduced system (the bottleneck
        between pair-breaking phonons and gap-edge quasiparticles is inside ``S``).
        """
        idx, k, n, split = self.idx, self.k_diag, self.y0.size, self.split
        lead, trail = idx[:k], idx[k:] - split
        shift = 1.0 / delta
        diag = self._diagonal(y, op)
        d2 = shift - diag[k:]
        if not np.all(np.isfinite(d2)) or np.any(d2 == 0):
            raise np.linalg.LinAlgError("singular diagonal block")
        if isinstance(op, BlockOperator) and op.split == split:
            apply = op.apply
        else:
            def apply(top: np.ndarray | None, bottom: np.ndarray | None, want_top: bool,
                      want_bottom: bool) -> tuple[np.ndarray, np.ndarray]:
                full = np.zeros(n)
                if top is not None:
                    full[:split] = top
                if bottom is not None:
                    full[split:] = bottom
                out = op.matvec(full)
                return out[:split], out[split:]

        def lower(v1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """``(J11 v1, J21 v1)``."""
            top = np.zeros(split)
            top[lead] = v1
            t, bt = apply(top, None, True, True)
            return t[lead], bt[trail]

        def upper(z: np.ndarray) -> np.ndarray:
            """``J12 z``."""
            bottom = np.zeros(n - split)
            bottom[trail] = z
            return apply(None, bottom, True, False)[0][lead]

        b1, b2 = b[:k], b[k:]
        rhs = b1 + upper(b2 / d2)
        cols = np.maximum(y[lead], 1e-300) if self.flux else np.ones(k)
        rows = scale[:k]

        def schur(v: np.ndarray) -> np.ndarray:
            j11, j21 = lower(v)
            return shift * v - j11 - upper(j21 / d2)

        A = scaled_operator(schur, rows, cols)
        M = jacobi((shift - diag[:k]) * cols / rows)
        eta = min(ETA_MAX, 0.1 * np.sqrt(res))
        out = gmres(A, rhs / rows, M, rtol=eta)
        self.stats.linear_iterations += out.iterations
        x1 = cols * out.x
        x2 = (b2 + lower(x1)[1]) / d2
        x = np.concatenate([x1, x2])
        if not np.all(np.isfinite(x)):
            raise np.linalg.LinAlgError("GMRES produced non-finite values")
        return x

    def _result(self, y: np.ndarray, ok: bool, message: str, res: float) -> SteadyStateResult:
        self.stats.success, self.stats.message = ok, message
        return SteadyStateResult(y=y, success=ok, message=message, residual=res,
                                 stats=self.stats)


def _solve_dense(A: np.ndarray, b: np.ndarray, k: int | None) -> np.ndarray:
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
