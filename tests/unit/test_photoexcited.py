"""Unit tests of the photoexcited-metal model (Chiriacò, Millis, Aleiner): operators, grid,
inputs, resources, resume, API."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

import boltzphlow as bp
from boltzphlow import stats
from boltzphlow.kinetics.photoexcited import collisions as coll
from boltzphlow.kinetics.photoexcited.model import PhotoexcitedMetal, Pump
from boltzphlow.testing import assert_has_metadata

pe = bp.photoexcited
EPS = np.finfo(float).eps


def random_f(model: PhotoexcitedMetal, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(model.active, rng.uniform(0.01, 0.99, model.n_cells), 0.0)


def small_model(**kw) -> PhotoexcitedMetal:
    args = dict(dos="semi-elliptic", mu=0.0, T=0.02, omega_p=0.3, zeta=3.0,
                points_per_omega=20)
    args.update(kw)
    return PhotoexcitedMetal(**args)


# ------------------------------------------------------------------------------ grid
def test_grid_makes_omega_p_an_exact_multiple_of_the_step():
    m = small_model(omega_p=0.53, points_per_omega=37)
    assert m.omega_p == pytest.approx(37 * m.h, rel=4 * EPS)
    assert np.all(m.shifts == 37)
    assert m.edges[0] == -0.5 and m.edges[-1] >= 0.5 > m.edges[-2]
    assert np.sum(m.dos) * m.h == pytest.approx(1.0, abs=1e-14)  # D normalised to one state


@pytest.mark.parametrize("name", ["semi-elliptic", "sqrt-edge", "linear-ramp", "cosine-1d"])
def test_builtin_cell_averages_are_exact_integrals(name):
    band = pe.BUILTIN_BANDS[name]()
    edges = np.linspace(-0.5, 0.5, 41)
    exact = np.diff(band.cumulative(edges))
    # Gauss-Legendre on smooth bands agrees with the antiderivative; the 1D band is singular
    quad = band.cell_average(edges, "dos*v2" if name == "cosine-1d" else "dos") * 0.025
    if name != "cosine-1d":
        np.testing.assert_allclose(quad, exact, rtol=1e-9, atol=1e-14)
    else:
        # D v² = √(1−4ε²)/2π has the antiderivative (y√(1−y²) + arcsin y)/8π, y = 2ε
        y = 2 * edges
        exact_v2 = np.diff((y * np.sqrt(1 - y**2) + np.arcsin(y)) / (8 * np.pi))
        # interior cells: smooth integrand, 8-point Gauss-Legendre is exact to round-off
        np.testing.assert_allclose(quad[1:-1], exact_v2[1:-1], rtol=1e-12)
        # edge cells: D v² ≈ √2·√(1∓y) · smooth, so the error is that of the same rule on ∫₀¹√x
        x, w = np.polynomial.legendre.leggauss(8)
        sqrt_rule_error = abs(0.5 * w @ np.sqrt(0.5 * (x + 1)) / (2 / 3) - 1)
        np.testing.assert_allclose(quad[[0, -1]], exact_v2[[0, -1]], rtol=1.1 * sqrt_rule_error)
        assert abs(quad[0] / exact_v2[0] - 1) > 0.9 * sqrt_rule_error  # the rule, not exact
    assert band.cumulative(np.array([0.5]))[0] == pytest.approx(1.0)
    assert np.all(np.isfinite(band.cell_average(edges)))


def test_cosine_band_transport_is_eq55_corrected():
    """SM Eq. 55: σ̃ ∝ √(1−4ε²) (constant τ) and ∝ 1 − 4ε² (τ ∝ 1/D), normalised at μ = 0."""
    m = PhotoexcitedMetal("cosine-1d", mu=0.0, T=0.003, omega_p=0.25, points_per_omega=200,
                          transport="constant-tau")
    inner = np.abs(m.eps) < 0.45
    x = 2 * m.eps[inner]
    np.testing.assert_allclose(m.s_cell[inner], np.sqrt(1 - x**2), rtol=2 * (m.h / 0.05)**2)
    m2 = PhotoexcitedMetal("cosine-1d", mu=0.0, T=0.003, omega_p=0.25, points_per_omega=200,
                           transport="impurity")
    np.testing.assert_allclose(m2.s_cell[inner], 1 - x**2, rtol=2 * m.h**2 / 0.01)


def test_table_dos_equals_callable_dos():
    eps = np.linspace(-0.5, 0.5, 4001)
    table = PhotoexcitedMetal((eps, np.sqrt(1 - 4 * eps**2)), mu=0.0, omega_p=0.3,
                              points_per_omega=30)
    func = PhotoexcitedMetal(lambda e: np.sqrt(np.clip(1 - 4 * e**2, 0, None)), mu=0.0,
                             omega_p=0.3, points_per_omega=30)
    named = PhotoexcitedMetal("semi-elliptic", mu=0.0, omega_p=0.3, points_per_omega=30)
    # linear interpolation between 4001 samples: error ~ (Δε)² except at the √ edges
    np.testing.assert_allclose(table.dos[2:-2], named.dos[2:-2], rtol=1e-5)
    np.testing.assert_allclose(func.dos[2:-2], named.dos[2:-2], rtol=1e-6)


def test_p_band_dos_and_velocity():
    band = pe.p_band(mesh=16, bins=60)
    eps, dos, v2 = band.table
    assert eps[0] == -0.5 and eps[-1] == 0.5
    assert np.trapezoid(dos, eps) == pytest.approx(1.0, rel=0.05)
    assert np.all(v2 >= 0) and np.any(v2 > 0)
    m = PhotoexcitedMetal(band, mu=None, filling=0.5, omega_p=0.3, points_per_omega=20,
                          transport="constant-tau")
    assert m.number(m.f_initial) == pytest.approx(0.5, abs=1e-9)


def test_filling_sets_mu():
    m = small_model(mu=None, filling=1 / 3)
    assert m.number(m.f_initial) == pytest.approx(1 / 3, abs=1e-12)
    # semi-elliptic: 1/2 + (x√(1−x²) + arcsin x)/π = 1/3 at x = 2μ
    x = 2 * m.mu
    assert 0.5 + (x * math.sqrt(1 - x * x) + math.asin(x)) / math.pi == pytest.approx(
        1 / 3, abs=1e-3)


# ------------------------------------------------------------------------------ operators
def test_st_el_matches_the_slow_reference():
    m = small_model(points_per_omega=7, omega_p=0.2)
    f = random_f(m)
    fast = m.collision_rates(f)["St_el"]
    slow = coll.reference_st_el(f, m.dos, 7, m.zeta + m.b)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("extra", [{}, {"gamma_in": 0.3}, {"field": 0.2},
                                   {"delta_omega": 0.02, "gamma_in": 0.1, "field": 0.1}])
def test_every_term_conserves_the_number_to_round_off(extra):
    m = small_model(**extra)
    f = random_f(m, 1)
    rates = m.collision_rates(f)
    for name in ("St_el", "St_in", "St_E"):
        change = m.h * np.dot(m.dos, rates[name])
        scale = m.h * np.dot(m.dos, np.abs(rates[name])) + 1e-300
        assert abs(change) <= 50 * EPS * max(scale, 1.0), name


def test_phonon_energy_balance_eq5():
    """d/dt ∫ε D f (St_el) = −ω_p St_ph: Eq. 5 with the 1/D_0 factor (SM Eq. 46 lacks it)."""
    m = small_model()
    f = random_f(m, 2)
    rates = m.collision_rates(f)
    electron_power = m.h * np.dot(m.dos * m.eps, rates["St_el"])
    assert electron_power == pytest.approx(-m.omega_p * rates["St_ph"], rel=1e-12)


def test_joule_heating_of_st_e():
    """Eq. 7: the field heats at the rate (ℰ² D_F/3) σ/σ_0 with σ of Eq. 9 (discrete identity)."""
    m = small_model(field=0.3, transport="constant-v2tau")
    f = random_f(m, 3)
    power = m.h * np.dot(m.dos * m.eps, m.collision_rates(f)["St_E"])
    assert power == pytest.approx(0.3**2 * m.dos_fermi / 3 * m.conductivity(f), rel=1e-11)


def test_st_in_vanishes_for_the_bath_fermi_function():
    m = small_model(gamma_in=1.0, T=0.01)
    for mu in (-0.2, 0.0, 0.13):
        f = stats.fermi(m.eps, mu, m.T)
        assert np.max(np.abs(m.collision_rates(f)["St_in"])) < 1e-12


def test_st_in_tends_to_the_continuum_eq6():
    """Flux → D²[T ∂f + f(1−f)] as h → 0: compare with Eq. 6 applied to a smooth f."""
    errors = []
    for ppo in (40, 80):
        m = small_model(gamma_in=1.0, T=0.05, points_per_omega=ppo)
        f = stats.fermi(m.eps, 0.1, 0.12)  # hotter than the bath
        eps, d = m.eps, m.dos
        flux = d**2 * (m.T * np.gradient(f, eps) + f * (1 - f))
        exact = np.gradient(flux, eps) / (m.dos_fermi * d)
        inner = np.abs(eps) < 0.4
        got = m.collision_rates(f)["St_in"]
        errors.append(np.max(np.abs(got - exact)[inner]) / np.max(np.abs(exact[inner])))
    assert errors[1] < 0.3 * errors[0]  # second order: ratio 1/4 expected


@pytest.mark.parametrize("options", [
    {"fixed_zeta": False, "tau_ph": 3.0, "gamma_in": 0.2},
    {"fixed_zeta": False, "instability": "maxwell", "pump": Pump("gaussian", 5.0, 0.2, 0.5)},
    {"gamma_in": 0.1, "field": 0.2, "delta_omega": 0.06},
])
def test_jacobian_matches_finite_differences(options):
    m = small_model(points_per_omega=6, **options)
    y = m.pack(random_f(m, 4), 2.5, 0.04)
    jac = m.jacobian(0.3, y).toarray()
    assert sp.issparse(m.jacobian(0.3, y))
    fd = np.empty_like(jac)
    for j in range(y.size):
        step = 1e-6
        dy = np.zeros_like(y)
        dy[j] = step
        fd[:, j] = (m.rhs(0.3, y + dy) - m.rhs(0.3, y - dy)) / (2 * step)
    np.testing.assert_allclose(jac, fd, atol=1e-6 * np.abs(fd).max())


def test_pump_shapes_deliver_zeta0():
    t = np.linspace(0, 30, 300001)
    for pump in (Pump("exponential", 10.0, 0.3), Pump("gaussian", 4.0, 0.5, 3.0)):
        rate = np.array([pump(x) for x in t])
        assert np.trapezoid(rate, t) == pytest.approx(pump.zeta0, rel=1e-4)
    assert Pump("steady", rate=2.0)(7.0) == 2.0


# ------------------------------------------------------------------------------ API and results
def test_issue_interface_and_metadata():
    m = pe.PhotoexcitedMetal(dos=lambda e: np.sqrt(np.clip(0.25 - e**2, 0, None)), mu=0.0,
                             T=0.003, omega_p=0.53, zeta=20.0, fixed_zeta=True, gamma_eph=1.0,
                             gamma_in=0.0, tau_ph=float("inf"), field=0.0,
                             points_per_omega=40)
    ss = m.steady_state()
    ds = m.evolve(t_end=1.0, n_out=3)
    pl = pe.periodic_limit(lambda e: np.sqrt(np.clip(0.25 - e**2, 0, None)), mu=0.0,
                           T=0.003, omega_p=0.53, points_per_omega=40)
    for result in (ss, ds, pl):
        assert_has_metadata(result)
        assert result.attrs["energy_unit"].startswith("W")
        assert result.attrs["time_unit"] == "1/Gamma_eph"
    assert ss["f"].dims == ("eps",) and ss["sigma"].ndim == 0
    assert ds["f"].dims == ("t", "eps") and ds["sigma"].dims == ("t",)
    assert "f" in pl and "sigma" in pl


def test_periodic_limit_is_omega_p_periodic():
    pl = pe.periodic_limit("semi-elliptic", mu=0.0, T=0.003, omega_p=0.3, points_per_omega=30)
    f = pl["f"].to_numpy()
    np.testing.assert_allclose(f[30:], f[:-30], rtol=0, atol=1e-15)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"omega_p": 0.0}, "omega_p"),
    ({"omega_p": -0.3}, "omega_p"),
    ({"T": -0.01}, "temperature"),
    ({"dos": lambda e: e}, "negative"),
    ({"dos": lambda e: 0 * e}, "zero everywhere"),
    ({"dos": (np.array([-0.5, 0.5]), np.array([1.0, -1.0]))}, "negative"),
    ({"mu": 0.7}, "outside the band"),
    ({"mu": -0.5}, "outside the band"),
    ({"delta_omega": 1e-5}, "grid step"),
    ({"transport": "ballistic"}, "transport"),
    ({"transport": "constant-tau"}, "v2"),
    ({"pump": Pump()}, "fixed_zeta"),
    ({"instability": True, "field": 0.1, "fixed_zeta": False}, "instability"),
    ({"points_per_omega": 1}, "points_per_omega"),
    ({"filling": 1.5, "mu": None}, "filling"),
    ({"dos": "flat-band"}, "unknown DoS"),
    ({"zeta": float("nan")}, "zeta"),
    ({"delta_omega": 0.02, "dispersion": "lorentzian"}, "dispersion must be 'gaussian' or"),
])
def test_bad_input_raises_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small_model(**kwargs)


def test_bad_pump_raises():
    with pytest.raises(ValueError, match="pump"):
        Pump("laser")
    with pytest.raises(ValueError, match="tau_pulse"):
        Pump("exponential", 10.0, 0.0)


def test_phonon_temperature_definition():
    t_star = pe.phonon_temperature(0.5, 20.0)
    assert 1 / math.expm1(0.5 / t_star) == pytest.approx(20.0, rel=1e-13)
    assert stats.bose(0.5, 0.0) == 0.0


@pytest.mark.parametrize("instability", [False, "constraint", "maxwell"])
def test_resumed_evolution_is_bitwise_an_uninterrupted_one(instability, tmp_path):
    """The E*² state of "maxwell" was read back as field**2 (1 ulp off, earlier records of
    omega_E included); every record is now restored and recomputed bit for bit, also through
    a NetCDF file."""
    from boltzphlow import results

    m = small_model(mu=None, filling=1 / 3, omega_p=0.6, zeta=0.0, fixed_zeta=False,
                    tau_ph=3.0, gamma_in=0.05, pump=Pump("exponential", 5.0, 0.3),
                    instability=instability)
    full = m.evolve(1.0, n_out=7)
    for done in (2, 6):
        results.save(full.isel(t=slice(0, done)), tmp_path / "partial.nc")
        partial = results.load(tmp_path / "partial.nc")
        resumed = m.evolve(1.0, n_out=7, resume=partial)
        for name, variable in full.data_vars.items():
            assert np.array_equal(resumed[name].to_numpy(), variable.to_numpy(),
                                  equal_nan=True), (done, name)


@pytest.mark.parametrize(("change", "message"), [
    (lambda ds: ds.isel(eps=slice(0, -1)), "energy grid"),
    (lambda ds: ds.assign_coords(t=ds["t"] * 1.5), "output times"),
    (lambda ds: ds.drop_vars("f"), "lacks f"),
    (lambda ds: ds.assign(dos=ds["dos"] * 2), "dos differs"),
    (lambda ds: ds.assign(f_T=ds["f_T"] * 0.5), "f_T differs"),
    (lambda ds: ds.assign_attrs(model="superconductor"), "superconductor"),
    (lambda ds: ds.isel(t=slice(0, 0)), "no time records"),
    (lambda ds: ds.assign(zeta=ds["zeta"] * np.nan), "not finite"),
])
def test_resume_refuses_data_of_another_config(change, message):
    m = small_model(fixed_zeta=False, zeta=0.0, tau_ph=3.0)
    partial = m.evolve(1.0, n_out=5).isel(t=slice(0, 3))
    with pytest.raises(ValueError, match=message) as info:
        m.evolve(1.0, n_out=5, resume=change(partial))
    assert "\n" not in str(info.value) and str(info.value).startswith("cannot resume")


def test_solver_failures_are_one_line_solver_errors(monkeypatch):
    from boltzphlow.errors import SolverError
    from boltzphlow.kinetics.photoexcited import model as model_module

    m = small_model(gamma_in=0.1)
    with pytest.raises(SolverError, match="steady state: no convergence.*solver.tol"):
        m.steady_state(max_iter=1)

    rhs = model_module.PhotoexcitedMetal.rhs

    def poisoned(self, t, y):  # finite at t = 0 (the first record), NaN after
        return rhs(self, t, y) * (np.nan if t > 0 else 1.0)

    monkeypatch.setattr(model_module.PhotoexcitedMetal, "rhs", poisoned)
    for method in ("bdf", "rk45"):
        with pytest.raises(SolverError, match="time integration failed at t = 0: .*solver.rtol"
                           ) as e:
            m.evolve(1.0, n_out=3, method=method)
        assert "\n" not in str(e.value)


def test_solver_method_comes_from_the_integrator_registry():
    """Older configs wrote SciPy's names: accepted case-insensitively as the registry's; an
    unknown name is refused in one line listing the registry; relaxation needs loss rates
    this model does not define and says so in one line."""
    from boltzphlow.config import ConfigError, validate_config
    from boltzphlow.integrate import INTEGRATORS

    for old, new in (("BDF", "bdf"), ("Radau", "radau"), ("LSODA", "lsoda"), ("rk45", "rk45")):
        _, cfg = validate_config({"model": "photoexcited", "task": "evolve",
                                  "solver": {"method": old}})
        assert cfg.solver.method == new
    with pytest.raises(ConfigError, match="solver.method: unknown integration method 'euler'"
                       ) as info:
        validate_config({"model": "photoexcited", "solver": {"method": "euler"}})
    assert "\n" not in str(info.value) and all(name in str(info.value) for name in INTEGRATORS)
    with pytest.raises(ValueError, match="^relaxation needs the problem's loss frequencies"):
        small_model(gamma_in=0.1).evolve(0.1, n_out=2, method="relaxation")


def test_evolution_results_carry_solver_statistics_as_data():
    m = small_model(gamma_in=0.1)
    ds = m.evolve(0.5, n_out=3, method="BDF", rtol=1e-7)
    a = ds.attrs
    assert a["solver_method"] == "bdf" and a["solver_status"] == "success"
    assert a["solver_option_rtol"] == 1e-7 and a["solver_option_atol"] == 1e-10
    assert a["solver_steps"] > 0 and a["solver_nfev"] > a["solver_steps"] // 2
    assert a["solver_njev"] >= 1 and a["solver_nlu"] >= 1
    assert not any(isinstance(v, str) and "{" in v for v in a.values())


# ---------------------------------------------------------------------- resolution, resources
def test_min_points_per_omega_resolves_the_thermal_step():
    m = small_model(omega_p=0.5, T=0.003, points_per_omega=20)
    assert m.min_points_per_omega == 167  # ceil(0.5/0.003)
    fine = small_model(omega_p=0.5, T=0.003, points_per_omega=167)
    assert fine.h <= fine.T < fine.omega_p / 166
    assert small_model(T=0.0).min_points_per_omega == 0
    assert int(m.steady_state()["points_per_omega_min"]) == 167


def test_grid_and_evolution_memory_are_checked_before_allocating(monkeypatch):
    from boltzphlow.errors import ResourceError

    monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "1 MiB")
    with pytest.raises(ResourceError, match="energy grid.*points_per_omega or omega_p"):
        small_model(points_per_omega=5000)
    with pytest.raises(ResourceError, match="energy grid.*delta_omega"):
        small_model(points_per_omega=400, delta_omega=0.09)
    m = small_model()
    with pytest.raises(ResourceError, match=r"time evolution \(10000000000 outputs.*n_out"):
        m.evolve(1.0, n_out=10**10)  # refused before the output times are allocated
    with pytest.raises(ValueError, match="at most|cells"):
        small_model(points_per_omega=10**12)


@pytest.mark.slow
def test_estimates_bound_the_measured_peak():
    import tracemalloc

    from boltzphlow.kinetics.photoexcited.model import (
        evolution_memory,
        model_memory,
        phonon_shift_range,
    )

    tracemalloc.start()
    m = small_model(points_per_omega=60, delta_omega=0.03, gamma_in=0.1)
    m.steady_state()
    build = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    m.evolve(0.02, n_out=20)
    evolve = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    first, last = phonon_shift_range(60, m.h, 0.03)
    assert build < model_memory(m.n_cells, first, last)
    assert evolve < model_memory(m.n_cells, first, last) + evolution_memory(50, m.state_size())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"delta_omega": 0.2}, "exceeds omega_p/3"),
    ({"points_per_omega": True}, "points_per_omega"),
    ({"points_per_omega": 2.5}, "points_per_omega"),
])
def test_more_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small_model(**kwargs)
    with pytest.raises(ValueError, match="t_end"):
        small_model().evolve(float("inf"))
    with pytest.raises(ValueError, match="n_out"):
        small_model().evolve(1.0, n_out=2.5)


# ------------------------------------------------------------------------------ DoS files
SECRET = "s3cr3t-c0ntent"


@pytest.mark.parametrize(("text", "message"), [
    ("0 1\n0.5 1 2 3\n", "line 2: expected 2 or 3 numbers"),
    (f"# header\n0 1\n{SECRET} 1\n", "line 3: not a number"),
    ("0 1\n0.5 nan\n", "line 2: not a finite number"),
    ("0 1\n0.5 1 1\n", "line 2: 3 columns where line 1 has 2"),
    ("0 1\n0.5 1\n0.5 2\n", "line 3: eps does not increase"),
    ("0 1\n\n0.5 -1\n", "line 3: D is negative"),
    ("0 1 1\n0.5 1 -2\n", "line 2: v2 is negative"),
    ("0 0\n1 0\n", "zero everywhere"),
    ("0 1\n", "at least two rows"),
    (b"0 1\n\xff\xfe 1\n", "line 2: not UTF-8"),
])
def test_dos_file_errors_name_the_line_not_the_content(tmp_path, text, message):
    from boltzphlow.errors import InputError

    path = tmp_path / "band.txt"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        pe.read_dos_file(path)
    assert str(info.value).startswith("dos_file ") and "\n" not in str(info.value)
    assert SECRET not in str(info.value)


def test_dos_file_must_be_a_small_regular_file(tmp_path, monkeypatch):
    from boltzphlow.errors import InputError
    from boltzphlow.kinetics.photoexcited import dos

    with pytest.raises(InputError, match="not a regular file"):
        pe.read_dos_file("/dev/zero")  # used to read until memory ran out
    with pytest.raises(InputError, match="not a regular file"):
        pe.read_dos_file(tmp_path)
    with pytest.raises(InputError, match="cannot read it"):
        pe.read_dos_file(tmp_path / "missing.txt")
    path = tmp_path / "big.txt"
    path.write_text("0 1\n1 1\n" * 10, encoding="utf-8")
    monkeypatch.setattr(dos, "DOS_FILE_MAX_BYTES", 16)
    with pytest.raises(InputError, match="larger than the 16 B"):
        pe.read_dos_file(path)


def test_dos_file_reads_a_table_with_comments(tmp_path):
    eps = np.linspace(-0.5, 0.5, 41)
    path = tmp_path / "band.txt"
    rows = "\n".join(f"{float(e)!r} {float(d)!r}  # row" for e, d in zip(eps, 1 - eps**2,
                                                                       strict=True))
    path.write_text("# eps D\n\n" + rows + "\n", encoding="utf-8")
    band = pe.read_dos_file(path)
    assert band.name == "band.txt" and band.lo == -0.5 and band.hi == 0.5
    np.testing.assert_array_equal(band.table[1], 1 - eps**2)
