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
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

from boltzphlow.integrate import INTEGRATORS, integrate

SCHEMES = sorted(INTEGRATORS)


class LinearProblem:
    """``y' = A y`` with ``A`` Metzler (nonnegative off-diagonal): an :class:`OdeProblem`."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = np.asarray(a, dtype=float)
        off = self.a - np.diag(np.diag(self.a))
        assert np.all(off >= 0)

    def rhs(self, y: np.ndarray) -> np.ndarray:
        return self.a @ y

    def rhs_and_loss(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.a @ y, -np.diag(self.a).copy()

    def jacobian(self, y: np.ndarray) -> np.ndarray:
        return self.a.copy()

    def after_step(self, y: np.ndarray) -> np.ndarray:
        return y

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
    try:  # adaptive schemes may offer constant steps (used to measure their order)
        cls(None, fixed_step=True, dt=1.0)
    except (TypeError, ValueError):
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
