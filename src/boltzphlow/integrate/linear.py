"""Linear solves inside the steady-state Newton iteration: Krylov (GMRES) and preconditioners.

A Newton step of :func:`~boltzphlow.integrate.steady.steady_state` solves
``(I/δ − J) Δy = F`` for the components it solves for.  Small systems are factorised (dense
LU, sparse LU); large ones are solved matrix-free by restarted GMRES (Saad & Schultz, SIAM J.
Sci. Stat. Comput. 7, 856 (1986); SciPy's implementation) with an inexact-Newton forcing
term (Eisenstat & Walker, SIAM J. Sci. Comput. 17, 16 (1996)): the step needs the linear
residual only a fraction ``η`` of the nonlinear one.  GMRES needs a preconditioner ``M ≈ A⁻¹``
that captures the operator's structure; :func:`jacobi` is the generic one, a model supplies a
better one where it knows its operator (``preconditioner`` of the steady-state problem).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg as spla

__all__ = ["BlockOperator", "KrylovOutcome", "cg", "gmres", "jacobi", "scaled_operator"]


@dataclass
class KrylovOutcome:
    """Outcome of :func:`gmres`: the solution, inner iterations and whether it converged."""

    x: np.ndarray
    iterations: int
    converged: bool


def gmres(A: spla.LinearOperator, b: np.ndarray, M: spla.LinearOperator | None = None, *,
          rtol: float = 1e-3, restart: int = 40, max_restarts: int = 5) -> KrylovOutcome:
    """Solve ``A x = b`` to ``‖b − A x‖ ≤ rtol ‖b‖`` by restarted GMRES.

    Parameters
    ----------
    A
        The operator (anything :func:`scipy.sparse.linalg.aslinearoperator` accepts).
    b
        Right-hand side.
    M
        Preconditioner ``M ≈ A⁻¹``, applied on the right (``A M z = b``, ``x = M z``): the
        residual GMRES minimises and tests is the true one (SciPy's own ``M`` acts on the
        left, where its stopping test on the preconditioned residual misjudged the true
        one by up to 100× here and the iteration counts followed round-off).
    rtol
        Relative residual asked for (the inexact-Newton forcing term η).
    restart, max_restarts
        Krylov subspace size and the number of restart cycles.

    Returns
    -------
    KrylovOutcome
        ``converged`` is False when the iteration limit was reached (the last iterate is
        still returned: an inexact Newton step may use it).
    """
    count = 0

    def counter(_: float) -> None:
        nonlocal count
        count += 1

    A = spla.aslinearoperator(A)
    if M is not None:  # right preconditioning: GMRES minimises the true residual of A M z = b
        A = A @ spla.aslinearoperator(M)
    z, info = spla.gmres(A, b, rtol=rtol, atol=0.0, restart=restart, maxiter=max_restarts,
                         callback=counter, callback_type="pr_norm")
    if info < 0:  # breakdown: illegal input
        raise np.linalg.LinAlgError(f"GMRES failed (code {info})")
    x = z if M is None else M.matvec(z)
    return KrylovOutcome(x=np.asarray(x, dtype=float), iterations=count, converged=info == 0)


def cg(apply: Callable[[np.ndarray], np.ndarray], b: np.ndarray, *, rtol: float = 1e-8,
       maxiter: int = 1000) -> KrylovOutcome:
    """Solve ``A X = B`` for a symmetric positive definite ``A`` and several right-hand sides
    at once by conjugate gradients (Hestenes & Stiefel, J. Res. NBS 49, 409 (1952)).

    Each column runs its own CG recurrence (its own step lengths), but the operator is applied
    to all the columns together: ``apply`` takes an ``(n, m)`` block.  For a sparse operator
    whose cost is reading the matrix (a collision operator with 10⁸ pairs), a block of m
    columns costs about one column, so m systems take the time of the slowest one.

    Parameters
    ----------
    apply
        ``X ↦ A X`` for blocks ``(n, m)``.
    b
        Right-hand sides ``(n,)`` or ``(n, m)``.
    rtol
        Relative residual ``‖b − A x‖ ≤ rtol ‖b‖`` asked for, per column (the recurrence
        residual; a zero column is solved by zero).
    maxiter
        Most iterations.

    Returns
    -------
    KrylovOutcome
        ``x`` of the shape of ``b``; ``iterations`` of the slowest column.
    """
    b = np.asarray(b, dtype=float)
    single = b.ndim == 1
    B = b[:, None] if single else b
    x = np.zeros_like(B)
    r = B.copy()
    p = r.copy()
    rr = np.einsum("ij,ij->j", r, r)
    target = (rtol * np.sqrt(np.einsum("ij,ij->j", B, B))) ** 2
    active = rr > target
    it = 0
    while active.any() and it < maxiter:
        it += 1
        cols = np.flatnonzero(active)
        ap = apply(p[:, cols])
        pap = np.einsum("ij,ij->j", p[:, cols], ap)
        if np.any(pap <= 0):
            raise np.linalg.LinAlgError("CG: the operator is not positive definite")
        alpha = rr[cols] / pap
        x[:, cols] += alpha * p[:, cols]
        r[:, cols] -= alpha * ap
        rr_new = np.einsum("ij,ij->j", r[:, cols], r[:, cols])
        p[:, cols] = r[:, cols] + (rr_new / rr[cols]) * p[:, cols]
        rr[cols] = rr_new
        active[cols] = rr_new > target[cols]
    return KrylovOutcome(x=x[:, 0] if single else x, iterations=it,
                         converged=not active.any())


def jacobi(diagonal: np.ndarray) -> spla.LinearOperator:
    """Diagonal (Jacobi) preconditioner ``M = diag(A)⁻¹`` (zeros on the diagonal pass through)."""
    d = np.asarray(diagonal, dtype=float)
    inv = np.divide(1.0, d, out=np.ones_like(d), where=d != 0)
    return spla.LinearOperator((d.size, d.size), matvec=lambda v: inv * np.ravel(v),
                               dtype=float)


def scaled_operator(matvec: Callable[[np.ndarray], np.ndarray], rows: np.ndarray,
                    cols: np.ndarray) -> spla.LinearOperator:
    """``R⁻¹ A C`` for diagonal ``R = diag(rows)`` and ``C = diag(cols)``.

    Newton's unknowns and equations span many decades (occupations from 1 to 1e-30, fluxes
    likewise); GMRES minimises a 2-norm, so it is run on the system scaled to the quantities
    the convergence test measures: equations per unit gross flux, unknowns per unit value.
    """
    n = rows.size
    return spla.LinearOperator((n, n), matvec=lambda x: matvec(cols * np.ravel(x)) / rows,
                               dtype=float)


class BlockOperator(spla.LinearOperator):
    """A matrix-free Jacobian split after component ``split`` into leading and trailing
    parts, ``J = [[J11, J12], [J21, J22]]``, whose products with either block column can be
    formed alone: ``apply(top, bottom, want_top, want_bottom)`` returns the two parts of
    ``J (top, bottom)``, with ``None`` for a zero input or an output not wanted.

    The steady-state solver uses it to eliminate a diagonal ``J22`` (Schur complement:
    ``S = A11 − A12 A22⁻¹ A21`` applied as one product with each block column), so GMRES
    works on the leading unknowns alone.
    """

    def __init__(self, size: int, split: int,
                 apply: Callable[[np.ndarray | None, np.ndarray | None, bool, bool],
                                 tuple[np.ndarray | None, np.ndarray | None]]) -> None:
        super().__init__(dtype=np.dtype(float), shape=(size, size))
        self.split = int(split)
        self.apply = apply

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        x = np.ravel(x)
        top, bottom = self.apply(x[:self.split], x[self.split:], True, True)
        return np.concatenate([top, bottom])
