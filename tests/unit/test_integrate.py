"""Every registered integrator against exact solutions of linear ODEs.

The schemes are collected from the registry :data:`boltzphlow.integrate.INTEGRATORS` when
the tests are collected, so a newly registered scheme is tested here without editing this
file.  Every problem is a linear *positive* system ``y' = A y`` (``A`` with nonnegative
off-diagonal entries), the only kind every scheme accepts (time relaxation needs
``F(y) + γ y ≥ 0``); its exact solution is ``expm(A t) y0``:

* stiff decay: diagonal ``A = −Λ`` with rates spanning three decades;
* a cyclic chain ``y_i → y_{i+1}`` (indices modulo ``N``): the deviation from equilibrium
  rotates in the plane of the slowest complex eigenpair while it decays (a damped
  oscillator), and the total ``Σ y`` is an exact linear invariant;
* a stiff chain with rates from 0.3 to 300 and the same invariant.

Tolerances come from what each scheme declares: adaptive schemes must reach a small
multiple of ``rtol``; schemes with an integer ``order`` must show it at fixed steps; a
scheme with ``order = None`` (variable order) must have an error proportional to ``rtol``.

The rest of the problem contract is tested the same way for every scheme: a time-dependent
right-hand side (forced decay, exact), the stiff chain with a sparse Jacobian, a matrix-free
Jacobian (used or refused in one line), an ``after_step`` hook that changes the state (a
clamped decay whose exact answer holds only if the hook runs after every accepted step and
the scheme continues from what it returns), declared options and statistics, and a newly
registered scheme reaching both kinetic models' ``evolve``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

from boltzphlow.integrate import INTEGRATORS, Option, integrate, method_name

SCHEMES = sorted(INTEGRATORS)


class LinearProblem:
    """``y' = A y`` with ``A`` Metzler (nonnegative off-diagonal): an :class:`OdeProblem`."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = np.asarray(a, dtype=float)
        off = self.a - np.diag(np.diag(self.a))
        assert np.all(off >= 0)

    autonomous = True

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        return self.a @ y

    def rhs_and_loss(self, t: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.a @ y, -np.diag(self.a).copy()

    def jacobian(self, t: float, y: np.ndarray) -> np.ndarray:
        return self.a.copy()

    def exact(self, y0: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.array([sla.expm(self.a * (tk - t[0])) @ y0 for tk in t])


def chain(rates: np.ndarray) -> LinearProblem:
    """Cyclic chain: ``y_i`` flows into ``y_{i+1 mod N}`` at ``rates[i]``; conserves ``Σ y``."""
    n = len(rates)
    a = -np.diag(rates)
    a[(np.arange(n) + 1) % n, np.arange(n)] += rates
    return LinearProblem(a)


DECAY = LinearProblem(-np.diag([0.3, 1.0, 10.0, 100.0, 300.0]))
DECAY_Y0 = np.array([1.0, 0.5, 2.0, 1.0, 3.0])
DECAY_T = np.linspace(0.0, 4.0, 5)
OSCILLATOR = chain(np.ones(6))  # slowest pair: −1/2 ± i√3/2, period 7.3
OSC_Y0 = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
OSC_T = np.linspace(0.0, 6.0, 4)
STIFF_CHAIN = chain(np.array([0.3, 300.0, 1.0, 30.0, 3.0]))
STIFF_Y0 = np.array([0.2, 1.0, 0.0, 0.5, 0.3])
STIFF_T = np.linspace(0.0, 4.0, 5)


def _run(problem, y0, t, name, **options):
    res = integrate(problem, y0, t, name, **options)
    assert res.success, res.message
    return res


def _rel_error(res, problem, y0, t) -> float:
    return float(np.max(np.abs(res.y - problem.exact(y0, t)))) / float(np.max(np.abs(y0)))


def _fixed_step_options(cls) -> dict:
    """Options that make the scheme take constant steps ``dt``."""
    if not cls.adaptive:
        return {}
    if "fixed_step" not in cls.options:  # adaptive schemes may offer constant steps
        pytest.skip(f"{cls.name} offers no constant steps: its order cannot be measured")
    return {"fixed_step": True}


def _rtol(cls) -> float:
    """A tolerance reached in a few hundred steps: 1e-7, or 10^(-2·order) for low orders."""
    return 1e-7 if cls.order is None else max(1e-7, 10.0 ** (-2 * cls.order))


def _check_accuracy(name, problem, y0, t, stiffest) -> list:
    """Run ``name`` on ``problem`` and compare with the exact solution; return the results.

    Adaptive: relative error below 30·rtol.  Fixed steps ``h = 0.4/λ`` and ``h/2``
    (``λ`` the fastest rate): error below ``(λ h)^order`` and falling as ``h^order``.
    """
    cls = INTEGRATORS[name]
    if cls.adaptive:
        rtol = _rtol(cls)
        res = _run(problem, y0, t, name, rtol=rtol, atol=1e-3 * rtol)
        err = _rel_error(res, problem, y0, t)
        assert err < 30 * rtol, err
        return [res]
    h = 0.4 / stiffest
    runs = [_run(problem, y0, t, name, dt=dt) for dt in (h, h / 2)]
    errs = [_rel_error(r, problem, y0, t) for r in runs]
    assert errs[1] < (stiffest * h / 2) ** cls.order, errs
    assert abs(np.log2(errs[0] / errs[1]) - cls.order) < 0.3, errs
    return runs


def _check_invariant(runs, y0) -> None:
    """``Σ y`` conserved to round-off: a few ulps per step."""
    for res in runs:
        bound = 4 * np.finfo(float).eps * max(res.counters.steps, 1) * abs(y0.sum())
        assert np.max(np.abs(res.y.sum(axis=1) - y0.sum())) <= bound


# step sizes of the order measurement: errors well above round-off, in the asymptotic range
FIXED_STEPS = {1: 0.01, 2: 0.02, 3: 0.05, 4: 0.1, 5: 0.2, 8: 0.6}


@pytest.mark.parametrize("name", SCHEMES)
def test_registry_entry_declares_the_contract(name):
    cls = INTEGRATORS[name]
    assert cls.name == name and cls.citation
    assert cls.order is None or (isinstance(cls.order, int) and cls.order >= 1)
    if cls.order is None:  # variable order: only the tolerances control the error
        assert cls.adaptive
        assert cls.__doc__ and "variable" in cls.__doc__.lower()
    assert isinstance(cls.uses_jacobian, bool)
    assert isinstance(cls.dense_matrices, int) and cls.dense_matrices >= 0


@pytest.mark.parametrize("name", SCHEMES)
def test_unknown_options_are_refused(name):
    with pytest.raises(ValueError, match="unknown option"):
        integrate(DECAY, DECAY_Y0, DECAY_T, name, no_such_option=1)


@pytest.mark.parametrize("name", SCHEMES)
def test_stiff_diagonal_decay(name):
    runs = _check_accuracy(name, DECAY, DECAY_Y0, DECAY_T, 300.0)
    for res in runs:  # positivity is no part of the contract (RK and BDF undershoot)
        assert INTEGRATORS[name].uses_jacobian or res.counters.njev == 0


@pytest.mark.parametrize("name", SCHEMES)
def test_damped_oscillation_and_its_invariant(name):
    _check_invariant(_check_accuracy(name, OSCILLATOR, OSC_Y0, OSC_T, 2.0), OSC_Y0)


@pytest.mark.parametrize("name", SCHEMES)
def test_stiff_chain_and_its_invariant(name):
    _check_invariant(_check_accuracy(name, STIFF_CHAIN, STIFF_Y0, STIFF_T, 600.0), STIFF_Y0)


@pytest.mark.parametrize("name", SCHEMES)
def test_declared_order_is_observed_at_fixed_steps(name):
    """Error at t = 6 on the oscillator at steps h and h/2: slope of log error vs log h."""
    cls = INTEGRATORS[name]
    if cls.order is None:
        pytest.skip(f"{name} declares no fixed order (see the tolerance test)")
    opts = _fixed_step_options(cls)
    h = FIXED_STEPS.get(cls.order, 0.1)
    t = np.array([0.0, 6.0])
    errs = [_rel_error(_run(OSCILLATOR, OSC_Y0, t, name, dt=dt, **opts), OSCILLATOR, OSC_Y0, t)
            for dt in (h, h / 2)]
    observed = np.log2(errs[0] / errs[1])
    assert abs(observed - cls.order) < 0.3, (errs, observed)


@pytest.mark.parametrize("name", SCHEMES)
def test_adaptive_error_follows_the_tolerance(name):
    """Adaptive schemes: the error falls with ``rtol``; proportionally for variable order."""
    cls = INTEGRATORS[name]
    if not cls.adaptive:
        pytest.skip(f"{name} takes fixed steps")
    rtols = (100 * _rtol(cls), _rtol(cls))
    errs = [_rel_error(_run(STIFF_CHAIN, STIFF_Y0, STIFF_T, name, rtol=rtol, atol=1e-3 * rtol),
                       STIFF_CHAIN, STIFF_Y0, STIFF_T) for rtol in rtols]
    assert all(e < 30 * r for e, r in zip(errs, rtols, strict=True)), errs
    slope = np.log10(errs[0] / errs[1]) / 2
    if cls.order is None:
        assert 0.7 <= slope <= 1.3, (errs, slope)
    else:  # error per step ~ rtol: global error ~ rtol^(p/(p+1)) or better
        assert slope >= 0.7 * cls.order / (cls.order + 1), (errs, slope)


# ---------------------------------------------------------------------- the problem contract
class ForcedDecay:
    """``y' = −k y + s(t)``, ``s = 1 + sin(ω t) ≥ 0``: time-dependent, positive, exact:
    ``y = 1/k + (k sin ωt − ω cos ωt)/(k² + ω²) + C e^{−kt}``."""

    def __init__(self, k: np.ndarray, omega: float) -> None:
        self.k, self.omega = np.asarray(k, float), float(omega)

    def source(self, t: float) -> float:
        return 1.0 + np.sin(self.omega * t)

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        return -self.k * y + self.source(t)

    def rhs_and_loss(self, t: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.rhs(t, y), self.k.copy()

    def jacobian(self, t: float, y: np.ndarray) -> np.ndarray:
        return -np.diag(self.k)

    def exact(self, y0: np.ndarray, t: np.ndarray) -> np.ndarray:
        k, w = self.k[None, :], self.omega
        t = np.asarray(t)[:, None]
        particular = lambda tt: 1 / k + (k * np.sin(w * tt) - w * np.cos(w * tt)) / (k**2 + w**2)  # noqa: E731
        return particular(t) + (y0 - particular(0.0)) * np.exp(-k * t)


class SparseChain(LinearProblem):
    """The stiff chain with its Jacobian as a ``scipy.sparse`` matrix."""

    def jacobian(self, t: float, y: np.ndarray):
        import scipy.sparse as sp

        return sp.csr_matrix(self.a)


FORCED = ForcedDecay(np.array([0.5, 2.0, 20.0]), omega=3.0)
FORCED_Y0 = np.array([0.0, 1.0, 2.0])
FORCED_T = np.linspace(0.0, 3.0, 4)


@pytest.mark.parametrize("name", SCHEMES)
def test_time_dependent_rhs(name):
    """Adaptive schemes: within 30 rtol.  Fixed steps (relaxation: F frozen over a step, first
    order): error ≤ (k_max h) at h = 0.4/k_max and falling ≥ 1.7× when h halves."""
    cls = INTEGRATORS[name]
    if cls.adaptive:
        rtol = _rtol(cls)
        res = _run(FORCED, FORCED_Y0, FORCED_T, name, rtol=rtol, atol=1e-3 * rtol)
        assert _rel_error(res, FORCED, FORCED_Y0, FORCED_T) < 30 * rtol
        return
    h = 0.4 / 20.0
    errs = [_rel_error(_run(FORCED, FORCED_Y0, FORCED_T, name, dt=dt), FORCED, FORCED_Y0,
                       FORCED_T) for dt in (h, h / 2)]
    assert errs[0] < 20.0 * h and errs[0] / errs[1] > 1.7, errs


@pytest.mark.parametrize("name", SCHEMES)
def test_sparse_jacobian(name):
    """The stiff chain with a sparse Jacobian: the same accuracy and invariant as dense."""
    problem = SparseChain(STIFF_CHAIN.a)
    _check_invariant(_check_accuracy(name, problem, STIFF_Y0, STIFF_T, 600.0), STIFF_Y0)


class MatrixFree(LinearProblem):
    def jacobian(self, t: float, y: np.ndarray):
        import scipy.sparse.linalg as spla

        return spla.aslinearoperator(self.a)


#: Schemes that solve their implicit stages matrix-free (Krylov) with a LinearOperator.
MATRIX_FREE = ("rosenbrock",)


@pytest.mark.parametrize("name", SCHEMES)
def test_matrix_free_jacobian_is_used_or_refused_in_one_line(name):
    cls = INTEGRATORS[name]
    problem = MatrixFree(DECAY.a)
    if not cls.uses_jacobian or name in MATRIX_FREE:
        _check_accuracy(name, problem, DECAY_Y0, DECAY_T, 300.0)
        return
    with pytest.raises(ValueError, match=f"{name} cannot use a matrix-free Jacobian") as info:
        integrate(problem, DECAY_Y0, DECAY_T, name)
    assert "\n" not in str(info.value)


class Clamped(LinearProblem):
    """``y' = −y`` with ``after_step`` raising ``y`` to ``floor``: at every output time the
    state is exactly ``max(y0 e^{−t}, floor)`` (to the tolerance) whatever the steps, if and
    only if the hook runs after every accepted step, the last of a segment included, and the
    scheme continues from the state it returns."""

    floor = 0.2

    def __init__(self) -> None:
        super().__init__(-np.eye(2))
        self.calls: list[float] = []

    def after_step(self, t: float, y: np.ndarray) -> np.ndarray:
        self.calls.append(t)
        return np.maximum(y, self.floor)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in ("bdf", "rosenbrock") else n
    for n in SCHEMES])  # the marked take 6 and 15 s
def test_after_step_runs_after_every_accepted_step_and_is_continued_from(name):
    y0 = np.array([1.0, 3.0])
    for t_out in (np.array([0.0, 4.0]), np.linspace(0.0, 4.0, 9)):
        problem = Clamped()
        options = {"dt": 0.01} if not INTEGRATORS[name].adaptive else {"rtol": 1e-8,
                                                                        "atol": 1e-12}
        res = _run(problem, y0, t_out, name, **options)
        assert len(problem.calls) == res.counters.steps
        assert np.all(np.diff(problem.calls) > 0) and problem.calls[-1] == t_out[-1]
        exact = np.maximum(y0[None, :] * np.exp(-t_out)[:, None], Clamped.floor)
        tol = 0.01 if not INTEGRATORS[name].adaptive else 1e-6  # first order / 100 rtol
        np.testing.assert_allclose(res.y, exact, rtol=tol, atol=0)


# ---------------------------------------------------------------------- options and names
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n == "rosenbrock" else n
    for n in SCHEMES])  # rosenbrock takes 7 s
def test_options_are_declared_with_defaults_and_meanings(name):
    cls = INTEGRATORS[name]
    assert {"rtol", "atol", "dt"} <= set(cls.options)
    for key, option in cls.options.items():
        assert isinstance(option, Option) and option.doc, key
    res = integrate(DECAY, DECAY_Y0, DECAY_T, name, **({"dt": 0.01} if not cls.adaptive
                                                       else {}))
    assert set(res.options) == set(cls.options)  # every option, defaults filled in
    attrs = res.stats.attrs()
    assert attrs["solver_method"] == name and attrs["solver_status"] == "success"
    assert attrs["solver_steps"] == res.counters.steps > 0
    assert attrs["solver_nfev"] >= res.counters.steps
    assert all(f"solver_option_{key}" in attrs for key in cls.options)
    assert not any("{" in str(v) for v in attrs.values())  # no repr of a dict


@pytest.mark.parametrize("name", SCHEMES)
def test_unknown_options_are_refused_in_one_line_naming_the_scheme(name):
    with pytest.raises(ValueError, match=f"^{name}: unknown option\\(s\\) no_such_option "
                                         "\\(known: .*rtol") as info:
        integrate(DECAY, DECAY_Y0, DECAY_T, name, no_such_option=1)
    assert "\n" not in str(info.value)


def test_method_names_are_checked_against_the_registry_case_insensitively():
    assert method_name("BDF") == "bdf" and method_name("Radau") == "radau"
    assert method_name("LSODA") == "lsoda" and method_name("rk45") == "rk45"
    with pytest.raises(ValueError, match="unknown integration method 'euler' \\(known: .*bdf"):
        method_name("euler")
    assert integrate(DECAY, DECAY_Y0, DECAY_T, "BDF").method == "bdf"


@pytest.mark.slow
def test_stiff_decay_statistics_count_evaluations():
    """Counters are the problem's own evaluations: njev and nlu for Jacobian users."""
    for name in ("bdf", "rosenbrock", "radau"):
        res = _run(DECAY, DECAY_Y0, DECAY_T, name)
        assert res.counters.njev >= 1 and res.counters.nlu >= 1, name
    res = _run(DECAY, DECAY_Y0, DECAY_T, "rk45")
    assert res.counters.njev == res.counters.nlu == 0
    assert res.counters.rejected >= 0 and res.counters.nfev >= 6 * res.counters.steps


# ---------------------------------------------------------------------- every model reaches it
def test_a_newly_registered_scheme_reaches_every_models_evolve():
    """A scheme registered here (a copy of rk45 that records its problems) is found by name by
    the superconductor's and the photoexcited model's ``evolve``, and gives rk45's answer bit
    for bit; unregistered afterwards."""
    import boltzphlow as bp
    from boltzphlow.integrate import register
    from boltzphlow.integrate.schemes import RK45

    seen: list[str] = []

    class Twin(RK45):
        """rk45 under another name (for this test)."""

        name = "rk45_twin_for_test"

        def advance(self, y, t0, t1, dt):
            seen.append(type(self.problem.problem).__name__)
            return super().advance(y, t0, t1, dt)

    register(Twin)
    try:
        sc = bp.superconductor.QPPhononModel(bp.superconductor.material("Al"), 0.4,
                                             energy_step=15.0, E_max=800.0)
        pm = bp.photoexcited.PhotoexcitedMetal("semi-elliptic", mu=0.0, T=0.02, omega_p=0.3,
                                               zeta=3.0, points_per_omega=20, gamma_in=0.1)
        runs = [(sc, lambda m, method: m.evolve(m.thermal(0.6), t_end=1.0, n_out=3,
                                                method=method, rtol=1e-4)),
                (pm, lambda m, method: m.evolve(0.05, n_out=3, method=method, rtol=1e-4))]
        for model, evolve in runs:
            twin, reference = evolve(model, Twin.name), evolve(model, "rk45")
            assert twin.attrs["solver_method"] == Twin.name
            for name in ("f", "t"):
                np.testing.assert_array_equal(twin[name].values, reference[name].values)
        assert set(seen) == {"_Problem", "PhotoexcitedMetal"}
    finally:
        INTEGRATORS.pop(Twin.name)


class CubicDecay:
    """``y' = -y³``: ``y(t) = y0 / sqrt(1 + 2 y0² t)``; a first trial step of 1 from ``y0 = 30``
    overflows (explicit stages reach ~1e13 and cube past the float range)."""

    def rhs(self, t, y):
        return -y ** 3

    def jacobian(self, t, y):
        return np.diag(-3.0 * y ** 2)

    def exact(self, y0, t):
        return y0 / np.sqrt(1.0 + 2.0 * np.outer(t, y0 ** 2))


@pytest.mark.parametrize("name", [n for n in SCHEMES if INTEGRATORS[n].adaptive])
def test_an_overflowing_trial_step_is_rejected_not_raised(name):
    """Warnings are errors in this suite: a trial step that overflows must be rejected by the
    controller (the step shrinks) without a floating-point warning, and the answer is still
    within 30 rtol (the bound of the other adaptive tests)."""
    problem, y0, t = CubicDecay(), np.array([30.0, 1.0]), np.array([0.0, 1.0])
    rtol = _rtol(INTEGRATORS[name])
    res = _run(problem, y0, t, name, dt0=1.0, rtol=rtol, atol=1e-3 * rtol)
    assert _rel_error(res, problem, y0, t) < 30 * rtol


class NaNAfter:
    """``y' = -y`` until ``t_bad``, NaN from there on (a model that breaks mid-run)."""

    def __init__(self, t_bad):
        self.t_bad = t_bad

    def rhs(self, t, y):
        return np.full_like(y, np.nan) if t >= self.t_bad else -y

    def rhs_and_loss(self, t, y):
        return self.rhs(t, y), np.ones_like(y)

    def jacobian(self, t, y):
        return -np.eye(y.size)


@pytest.mark.parametrize("t_bad", [0.0, 0.5])
@pytest.mark.parametrize("name", SCHEMES)
def test_a_derivative_that_turns_nan_stops_the_run_with_a_message(name, t_bad):
    """A model whose derivative is NaN from the start or from mid-run: the run stops
    (success False), keeps the outputs before the failure, and says where, rather than
    spinning in SciPy's step-size loop or writing NaN as a result."""
    t = np.array([0.0, 0.25, 1.0])
    step = {"dt0": 0.01} if INTEGRATORS[name].adaptive else {"dt": 0.01}
    res = integrate(NaNAfter(t_bad), np.ones(3), t, name, **step)
    assert not res.success and "stopped at t = " in res.message
    kept = 1 if t_bad == 0.0 else 2
    assert len(res.t) == kept and np.all(np.isfinite(res.y))


class MatrixFreeWithDiagonal(MatrixFree):
    """The matrix-free Jacobian plus its diagonal (the Jacobi preconditioner)."""

    def jacobian_diagonal(self, t: float, y: np.ndarray) -> np.ndarray:
        return np.diag(self.a).copy()


@pytest.mark.parametrize("problem_class", [MatrixFree, MatrixFreeWithDiagonal])
def test_matrix_free_rosenbrock_matches_the_dense_path_and_keeps_order_2(problem_class):
    """GMRES stage solves to 1e-3 rtol: the stiff chain gives the dense path's answer (to a
    small fraction of the step error) at fixed steps h and h/2, with the observed order 2
    on the oscillator; the invariant Σ y is kept to the linear tolerance; the inner
    iterations are counted."""
    t = np.array([0.0, 1.2])
    errs = []
    for dt in (0.02, 0.01):
        dense = _run(OSCILLATOR, OSC_Y0, t, "rosenbrock", dt=dt, fixed_step=True, rtol=1e-8)
        free = _run(problem_class(OSCILLATOR.a), OSC_Y0, t, "rosenbrock", dt=dt,
                    fixed_step=True, rtol=1e-8)
        step_error = _rel_error(dense, OSCILLATOR, OSC_Y0, t)
        assert np.max(np.abs(free.y - dense.y)) < 1e-3 * step_error
        assert free.counters.linear_iterations > 0
        assert free.counters.nlu == 0  # nothing factored
        errs.append(_rel_error(free, OSCILLATOR, OSC_Y0, t))
    assert abs(np.log2(errs[0] / errs[1]) - 2) < 0.2, errs  # as the dense path (1.88 at 0.04)
    stiff = problem_class(STIFF_CHAIN.a)
    res = _run(stiff, STIFF_Y0, STIFF_T, "rosenbrock", rtol=1e-5, atol=1e-8)
    dense = _run(STIFF_CHAIN, STIFF_Y0, STIFF_T, "rosenbrock", rtol=1e-5, atol=1e-8)
    assert np.max(np.abs(res.y - dense.y)) < 1e-6
    assert _rel_error(res, STIFF_CHAIN, STIFF_Y0, STIFF_T) < 30 * 1e-5
    assert np.max(np.abs(res.y.sum(axis=1) - STIFF_Y0.sum())) < 1e-9


def test_matrix_free_rosenbrock_refuses_a_bad_linear_tolerance_in_one_line():
    with pytest.raises(ValueError, match="linear_rtol") as info:
        integrate(MatrixFree(DECAY.a), DECAY_Y0, DECAY_T, "rosenbrock", linear_rtol=2.0)
    assert "\n" not in str(info.value)
