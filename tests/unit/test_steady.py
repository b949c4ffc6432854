"""The Newton steady-state solver (integrate.steady): dense, sparse and Krylov linear solves on
problems with exact roots, positivity, bounds, failures reported as data; and the exact
matrix-free Jacobian of the superconductor's collision rates that its Krylov path uses."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import boltzphlow as bp
from boltzphlow.integrate import SteadyStateResult, steady_state
from boltzphlow.integrate.linear import BlockOperator, gmres, jacobi

AL = bp.superconductor.material("Al")


class Dimers:
    """Independent dimerisation reactions ``2A ⇌ B`` with a source of A and losses of both:

    ``ȧ = s − k_a a − 2κ a² + 2μ b``, ``ḃ = κ a² − (μ + k_b) b``.

    Steady state: ``b = κ a²/(μ + k_b)`` and ``c a² + k_a a − s = 0`` with
    ``c = 2κ k_b/(μ + k_b)``, so ``a = 2s/(k_a + √(k_a² + 4cs))`` exactly.  The parameters
    span decades, like the rates of a kinetic model.  ``form`` is the Jacobian's form.
    """

    def __init__(self, pairs: int = 20, form: str = "dense") -> None:
        rng = np.random.default_rng(3)
        self.s = 10.0 ** rng.uniform(-6, 2, pairs)
        self.ka = 10.0 ** rng.uniform(-3, 1, pairs)
        self.kappa = 10.0 ** rng.uniform(-2, 3, pairs)
        self.mu = 10.0 ** rng.uniform(-1, 2, pairs)
        self.kb = 10.0 ** rng.uniform(-3, 0, pairs)
        self.form = form
        self.seen: list[np.ndarray] = []

    def root(self) -> np.ndarray:
        c = 2 * self.kappa * self.kb / (self.mu + self.kb)
        a = 2 * self.s / (self.ka + np.sqrt(self.ka**2 + 4 * c * self.s))
        return np.concatenate([a, self.kappa * a**2 / (self.mu + self.kb)])

    def split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y[:self.s.size], y[self.s.size:]

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        self.seen.append(y.copy())
        a, b = self.split(y)
        return np.concatenate([self.s - self.ka * a - 2 * self.kappa * a**2 + 2 * self.mu * b,
                               self.kappa * a**2 - (self.mu + self.kb) * b])

    def rhs_and_loss(self, t: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, _ = self.split(y)
        return self.rhs(t, y), np.concatenate([self.ka + 2 * self.kappa * a, self.mu + self.kb])

    def sparse_jacobian(self, y: np.ndarray) -> sp.csc_array:
        a, _ = self.split(y)
        return sp.csc_array(sp.bmat([[sp.diags(-self.ka - 4 * self.kappa * a),
                                      sp.diags(2 * self.mu)],
                                     [sp.diags(2 * self.kappa * a),
                                      sp.diags(-(self.mu + self.kb))]]))

    def jacobian(self, t: float, y: np.ndarray):
        jac = self.sparse_jacobian(y)
        if self.form == "dense":
            return jac.toarray()
        return jac if self.form == "sparse" else spla.aslinearoperator(jac)

    def jacobian_diagonal(self, t: float, y: np.ndarray) -> np.ndarray:
        return self.sparse_jacobian(y).diagonal()


@pytest.mark.parametrize("form", ["dense", "sparse", "operator"])
def test_every_linear_solve_finds_the_exact_root(form):
    """The convergence test bounds every component's net rate by tol of its gross flux; the
    root's error is then that fraction of the slowest relaxation's reach, ≲ 1e3 tol here."""
    problem = Dimers(form=form)
    exact = problem.root()
    res = steady_state(problem, np.full(exact.size, 1.0), tol=1e-13)
    assert isinstance(res, SteadyStateResult) and res.success and res.residual < 1e-13
    assert np.max(np.abs(res.y / exact - 1)) < 1e-10
    kind = {"dense": "dense", "sparse": "sparse", "operator": "krylov"}[form]
    assert res.stats.options["linear"] == kind and res.stats.success
    assert (res.stats.linear_iterations > 0) == (kind == "krylov")
    assert (res.stats.nlu > 0) == (kind != "krylov")
    assert res.stats.nfev >= res.iterations and res.stats.njev >= 1


@pytest.mark.parametrize("linear", ["dense", "sparse", "krylov"])
def test_linear_option_overrides_the_jacobian_form(linear):
    problem = Dimers(form="sparse")
    res = steady_state(problem, np.ones(40), tol=1e-13, linear=linear)
    assert res.success and res.stats.options["linear"] == linear
    assert np.max(np.abs(res.y / problem.root() - 1)) < 1e-10


@pytest.mark.parametrize("form", ["dense", "operator", "blocks"])
def test_schur_complement_of_a_diagonal_trailing_block(form):
    """``ḃ`` involves ``b`` only through its own component, so the b block of J is diagonal:
    with ``diagonal_from`` the dense and Krylov solves eliminate it (a BlockOperator gives
    the block columns' products; any other operator is used through full products)."""
    problem = Dimers(form="dense" if form == "dense" else "operator")
    k = problem.s.size
    if form == "blocks":
        def jacobian(t, y):
            J = problem.sparse_jacobian(y)

            def apply(top, bottom, want_top, want_bottom):
                v = np.concatenate([np.zeros(k) if top is None else top,
                                    np.zeros(k) if bottom is None else bottom])
                out = J @ v
                return (out[:k] if want_top else None), (out[k:] if want_bottom else None)

            return BlockOperator(2 * k, k, apply)
    else:
        jacobian = None
    res = steady_state(problem, np.ones(2 * k), tol=1e-13, diagonal_from=k, jacobian=jacobian)
    assert res.success and np.max(np.abs(res.y / problem.root() - 1)) < 1e-10
    assert (res.stats.linear_iterations > 0) == (form != "dense")


def test_iterates_stay_positive_from_far_above_the_root():
    """Started 1e4 above the root, a plain Newton step overshoots below zero (a is set by a
    quadratic loss); each component that would turn negative moves a tenth of the way to 0."""
    problem = Dimers(form="dense")
    exact = problem.root()
    y0 = 1e4 * exact
    a, b = problem.split(y0)
    J = problem.jacobian(0.0, y0)
    newton = y0 - np.linalg.solve(J, problem.rhs(0.0, y0))
    assert np.any(newton < 0)  # the safeguard is needed
    problem.seen.clear()
    res = steady_state(problem, y0, tol=1e-13)
    assert res.success and np.max(np.abs(res.y / exact - 1)) < 1e-10
    assert min(float(np.min(y)) for y in problem.seen) > 0


def test_upper_bounds_and_projection_are_kept():
    """With ``upper`` below the unbounded root's first components the iteration cannot
    converge there, but every iterate the problem sees respects the bounds, and a projection
    is applied to every accepted iterate."""
    problem = Dimers(form="sparse")
    exact = problem.root()
    upper = np.full(exact.size, np.inf)
    upper[:3] = 0.5 * exact[:3]
    projected = []

    def project(y):
        projected.append(y.copy())
        return y

    problem.seen.clear()
    res = steady_state(problem, np.minimum(exact * 0.1, upper), tol=1e-13, max_iter=30,
                       upper=upper, project=project)
    assert not res.success
    assert all(np.all(y <= upper) for y in problem.seen)
    assert projected and all(np.all(y >= 0) for y in projected)


def test_non_convergence_is_reported_not_raised():
    problem = Dimers(form="dense")
    res = steady_state(problem, np.ones(40), tol=1e-13, max_iter=1)
    assert not res.success and res.iterations == 1
    assert res.message.startswith("no convergence in 1 iterations (residual ")
    attrs = res.stats.attrs()
    assert attrs["solver_status"] == "failed" and attrs["solver_message"] == res.message
    assert attrs["solver_method"] == "newton-ptc" and attrs["solver_option_linear"] == "dense"


def test_bad_input_is_refused_in_one_line():
    problem = Dimers()
    with pytest.raises(ValueError, match="nonnegative finite starting point"):
        steady_state(problem, -np.ones(40))
    with pytest.raises(ValueError, match="unknown linear solver 'cholesky'"):
        steady_state(problem, np.ones(40), linear="cholesky")
    problem = Dimers(form="operator")
    with pytest.raises(ValueError, match="dense linear solve needs a matrix Jacobian"):
        steady_state(problem, np.ones(40), linear="dense")


def test_rate_relative_measure_without_loss_frequencies():
    """A problem without ``rhs_and_loss`` is measured against its fastest rate (|diag J|)."""

    class Plain:
        def __init__(self):
            self.inner = Dimers(form="sparse")

        def rhs(self, t, y):
            return self.inner.rhs(t, y)

        def jacobian(self, t, y):
            return self.inner.jacobian(t, y)

    problem = Plain()
    res = steady_state(problem, np.ones(40), tol=1e-14)
    fastest = float(np.max(np.abs(problem.jacobian(0.0, np.ones(40)).diagonal())))
    assert res.success
    assert np.max(np.abs(problem.rhs(0.0, res.y))) < 1e-14 * fastest
    exact = problem.inner.root()
    big = exact > 1e-3 * exact.max()  # absolute measure: the small components are looser
    assert np.max(np.abs(res.y[big] / exact[big] - 1)) < 1e-9


def test_gmres_and_jacobi_helpers():
    rng = np.random.default_rng(0)
    d = 10.0 ** rng.uniform(-3, 3, 30)
    A = np.diag(d) + 1e-3 * rng.standard_normal((30, 30))
    b = rng.standard_normal(30)
    out = gmres(spla.aslinearoperator(A), b, jacobi(np.diag(A)), rtol=1e-10)
    assert out.converged and 0 < out.iterations <= 30
    assert np.linalg.norm(A @ out.x - b) <= 1e-8 * np.linalg.norm(b)
    assert np.array_equal(jacobi(np.array([2.0, 0.0])).matvec(np.array([4.0, 3.0])),
                          [2.0, 3.0])


# ---------------------------------------------------------------- the superconductor's Jacobian
def _driven_state(step: float = 8.0):
    inj = bp.superconductor.Injection(power=200.0, epsilon0=450.0, width=20.0)
    m = bp.superconductor.QPPhononModel(AL, T_bath=0.1, energy_step=step, E_max=700.0,
                                        escape_time=2.0, injection=inj)
    ss = m.steady_state(linear="dense", tol=1e-12)
    return m, ss


def test_matrix_free_jacobian_equals_the_dense_one():
    """``CollisionOperator.linearize`` applies the exact derivative of the FFT rates: equal
    to the dense analytic Jacobian times the vector to FFT round-off (measured 5e-11 of
    Σ|J_ij v_j| with the tilt of a near-thermal state), with the diagonal exact."""
    m, ss = _driven_state()
    p = m.problem()
    rng = np.random.default_rng(7)
    for f, n in ((ss.f.values, ss.n.values), (m.thermal(0.3).f, m.thermal(0.3).n)):
        y = np.concatenate([f, n, [1.0, 1.0]])
        J = p.jacobian(0.0, y)
        v = y * rng.standard_normal(y.size)
        Jv = p.jacobian_operator(0.0, y).matvec(v)
        scale = np.abs(J) @ np.abs(v) + 1e-300
        assert np.max(np.abs(Jv - J @ v) / scale) < 1e-9
        assert np.allclose(p.jacobian_diagonal(0.0, y), np.diag(J), rtol=1e-12, atol=0)
    lin = p.op.linearize(f, n)
    rates = p.op.rates(f, n)
    assert np.array_equal(lin.rates.f, rates.f) and np.array_equal(lin.rates.n, rates.n)


def test_block_conjugate_gradients_solve_every_column_to_its_tolerance():
    """``cg`` on an SPD matrix (condition number 1e4) with three right-hand sides, one of them
    zero: each column's true residual is within ``rtol`` (the recurrence residual equals the
    true one up to round-off growth ~ κ·eps ≈ 1e-12, far below rtol), the zero column stays
    zero, and the block is applied to the active columns only."""
    from boltzphlow.integrate.linear import cg

    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(60, 60)))
    a = q @ np.diag(np.logspace(0, 4, 60)) @ q.T
    b = rng.normal(size=(60, 3))
    b[:, 1] = 0.0
    widths = []

    def apply(x):
        widths.append(x.shape[1])
        return a @ x

    out = cg(apply, b, rtol=1e-9, maxiter=2000)
    # the CG bound: ‖e‖_A falls by 2((√κ-1)/(√κ+1))^k, so k ≤ ½ √κ ln(2/rtol) suffices
    assert out.converged and out.iterations <= 0.5 * np.sqrt(1e4) * np.log(2 / 1e-9)
    res = np.linalg.norm(b - a @ out.x, axis=0) / np.maximum(np.linalg.norm(b, axis=0), 1e-300)
    assert res[0] < 2e-9 and res[2] < 2e-9 and not np.any(out.x[:, 1])
    assert max(widths) == 2
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        cg(lambda x: -x, np.ones(4))
