"""The ``bte`` job end to end: configs, the three tasks, results, plots, resume and sweeps.

The physics of the solver is tested in tests/unit/test_bte.py and tests/validation; here the
numbers check that the app hands the config to the model unchanged (a closed form the lead
verified through the job, identities that hold to round-off between tasks) and that the
bookkeeping (checkpoints, resume, sweeps, errors) works.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from boltzphlow import results
from boltzphlow.apps.bte import JOB
from boltzphlow.errors import InputError
from boltzphlow.jobs import SilentContext
from boltzphlow.testing import assert_has_metadata
from conftest import assert_figures_hold_data, config_of, run_cli

#: A small 2D massive Dirac config (v = Δ = 1, μ = 2: k_F = √3).
DIRAC = """\
model = "bte"
hamiltonian = "massive_dirac"
mesh = [{n}, {n}]
mu = 2.0
T = {T}
{extra}
[massive_dirac]
v = 1.0
delta = 1.0
k_max = {k_max}
{tables}
"""


def write(tmp_path: Path, *, n: int = 40, T: object = 0.1, k_max: float = 3.5,
          extra: str = "", tables: str = "[scattering.constant_tau]\ntau = 10.0\n",
          name: str = "dirac") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(DIRAC.format(n=n, T=T, k_max=k_max, extra=extra, tables=tables),
                    encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ conductivity
@pytest.mark.slow
def test_constant_tau_conductivity_is_the_dirac_drude_value(tmp_path, capsys, figures):
    r"""σ_xx of the massive Dirac band with a constant τ, through the CLI.

    Closed form: σ(ε) = τ ν v_F²/2 (e²/ħ) = τ (ε² - Δ²)/(2ε) e²/h (ν = ε/(2π v²),
    v_F = v² k/ε), thermally averaged to second order (Sommerfeld):
    σ = τ (μ² - Δ²)/(2μ) - (π² T²/6) τ Δ²/μ³ = 7.5 - 0.00514 at τ = 10, μ = 2, T = 0.05.
    The mesh sum over the Fermi layer: spacing v Δk = 0.08 = 1.6 T; the sampling (aliasing)
    error of a Fermi window of width T at spacing h is ~ exp(-2π² T/h) = 4e-6, so
    rtol = 1e-4 (25× that bound, a fifth of the Sommerfeld term, which the test thus sees).
    """
    path = write(tmp_path, n=100, T=0.05, k_max=4.0)
    code, out, err = run_cli(["run", str(path), "-o", str(tmp_path), "-q"], capsys)
    assert code == 0, err
    ds = results.load(tmp_path / "dirac.nc")
    assert_has_metadata(ds)
    tau, mu, delta, T = 10.0, 2.0, 1.0, 0.05
    expected = tau * (mu**2 - delta**2) / (2 * mu) - math.pi**2 * T**2 / 6 * tau * delta**2 / mu**3
    sigma = ds["sigma"].to_numpy()
    np.testing.assert_allclose(np.diag(sigma), expected, rtol=1e-4)
    assert ds["sigma"].attrs["units"] == "e^2/h"
    np.testing.assert_allclose(ds["resistivity"].to_numpy() @ sigma, np.eye(2), atol=1e-12)
    assert int(ds["converged"]) == 1 and "check_failed" not in ds.attrs
    assert "σ_xx = 7.49" in out
    names = sorted(path.name for path in figures)
    assert names == ["dirac_distribution.png", "dirac_sigma.png"]
    assert_figures_hold_data(figures)


def test_the_distribution_is_the_fermi_surface_deviation(tmp_path):
    """δf of a constant τ is τ v_j (-∂f/∂ε) per unit field: the stored Fermi-surface states
    carry δf_x/(f0(1-f0)/T) = τ v_x exactly (the RTA with a sink is solved exactly)."""
    cfg = config_of(write(tmp_path, n=30, T=0.1, extra="distribution_points = 50"))
    ds = JOB.run(cfg, SilentContext())
    df = ds["fs_delta_f"].to_numpy()
    assert df.shape == (50, 2) and np.isfinite(df).all()
    k = np.stack([ds["fs_kx"].to_numpy(), ds["fs_ky"].to_numpy()], axis=1)
    e = ds["fs_energy"].to_numpy()
    v = k / e[:, None]  # massive Dirac, v = 1: ∂ε/∂k = k/ε
    f = 1 / (np.exp((e - 2.0) / 0.1) + 1)
    np.testing.assert_allclose(df, 10.0 * (f * (1 - f))[:, None] / 0.1 * v, rtol=1e-8)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(("change", "key"), [
    ({"extra": "bogus = 1"}, "bogus: unknown key"),
    ({"tables": ""}, "scattering"),
    ({"T": "[0.1, 0.2]"}, "T: a list of temperatures is for task"),
    ({"T": "-0.1"}, "T"),
    ({"tables": "[scattering.impurities]\npotential = \"gaussian\"\n"}, "scattering.impurities"),
    ({"extra": 'task = "magnetoconductivity"'}, "magnetoconductivity"),
    ({"extra": "mesh = [10, 10, 10]"}, "mesh"),
])
def test_bad_configs_are_one_line_errors_with_exit_code_2(tmp_path, capsys, change, key):
    path = write(tmp_path, **change)
    if "mesh = [10, 10, 10]" in change.get("extra", ""):
        path.write_text(path.read_text().replace("mesh = [40, 40]\n", ""), encoding="utf-8")
    code, out, err = run_cli(["run", str(path), "-o", str(tmp_path), "-q"], capsys)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and key in lines[0], err


def test_a_mu_without_states_is_refused_before_any_progress(tmp_path, capsys):
    """μ = 0 in the gap (|ε| ≥ Δ = 1) with the window μ ± 5T = ±0.5 holds no state."""
    path = write(tmp_path, extra="n_kT = 5.0")
    path.write_text(path.read_text().replace("mu = 2.0", "mu = 0.0"), encoding="utf-8")
    code, out, err = run_cli(["run", str(path), "-o", str(tmp_path), "-q"], capsys)
    assert code == 2 and "window" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "dirac.nc").exists()


# ------------------------------------------------------------------------------ ρ(T), σ(B)
def test_resistivity_vs_T_equals_single_conductivity_runs(tmp_path):
    """Each point of a ρ(T) run is the conductivity task at that T, to round-off."""
    tables = "[scattering.impurities]\ndensity = 1.0\nstrength = 0.5\n"
    many = JOB.run(config_of(write(tmp_path, n=30, T="[0.1, 0.2]", tables=tables,
                                   extra='task = "resistivity_vs_T"')), SilentContext())
    assert many["resistivity"].dims == ("temperature", "i", "j")
    for t in (0.1, 0.2):
        one = JOB.run(config_of(write(tmp_path, n=30, T=t, tables=tables)), SilentContext())
        np.testing.assert_allclose(many["sigma"].sel(temperature=t).to_numpy(),
                                   one["sigma"].to_numpy(), rtol=1e-12)
    assert many.attrs["points_done"] == 2


@pytest.mark.slow
def test_magnetoconductivity_obeys_onsager_and_matches_zero_field(tmp_path, figures):
    """σ_ij(B) = σ_ji(-B) (the Lorentz operator is antisymmetric, the collision operator
    symmetric: round-off), and the B = 0 point equals the conductivity task."""
    extra = 'task = "magnetoconductivity"\nberry = false\n[solver]\nmethod = "direct"\n' \
            "[magnetoconductivity]\nB = [-0.1, 0.0, 0.1]"
    ds = JOB.run(config_of(write(tmp_path, n=30, T=0.1, extra=extra)), SilentContext())
    sigma = ds["sigma"].to_numpy()
    np.testing.assert_allclose(sigma[0], sigma[2].T, rtol=1e-9, atol=1e-12)
    assert abs(sigma[2, 0, 1]) > 0.05 * sigma[2, 0, 0]  # a Hall response is there
    zero = JOB.run(config_of(write(tmp_path, n=30, T=0.1, extra='berry = false\n[solver]\n'
                                                                'method = "direct"')),
                   SilentContext())
    np.testing.assert_allclose(sigma[1], zero["sigma"].to_numpy(), rtol=1e-12, atol=1e-14)
    paths = JOB.plot(ds, tmp_path, "mc")
    assert sorted(p.name for p in paths) == ["mc_distribution.png", "mc_magnetoconductivity.png"]
    assert_figures_hold_data(figures)


# ------------------------------------------------------------------------------ resume
class _Stop(Exception):
    pass


class InterruptingContext(SilentContext):
    """Stops the run at its first checkpoint, keeping what was checkpointed."""

    def checkpoint(self, ds):
        self.last_checkpoint = ds
        raise _Stop


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_answer(tmp_path):
    tables = "[scattering.impurities]\ndensity = 1.0\nstrength = 0.5\n"
    cfg = config_of(write(tmp_path, n=24, T="[0.1, 0.15, 0.2]", tables=tables,
                          extra='task = "resistivity_vs_T"'))
    context = InterruptingContext()
    with pytest.raises(_Stop):
        JOB.run(cfg, context)
    partial = context.last_checkpoint
    assert partial.attrs["points_done"] == 1
    assert np.isnan(partial["sigma"].isel(temperature=slice(1, None))).all()
    results.save(results.finalize(partial, "bte", {}, 0.0), tmp_path / "partial.nc")
    resumed = JOB.run(cfg, SilentContext(resume_from=results.load(tmp_path / "partial.nc")))
    straight = JOB.run(cfg, SilentContext())
    for name in ("sigma", "resistivity", "fs_delta_f"):
        np.testing.assert_array_equal(resumed[name].to_numpy(), straight[name].to_numpy())
    other = config_of(write(tmp_path, n=26, T="[0.1, 0.15, 0.2]", tables=tables,
                            extra='task = "resistivity_vs_T"'))
    with pytest.raises(InputError, match="another config"):
        JOB.run(other, SilentContext(resume_from=partial))


# ------------------------------------------------------------------------------ sweep
@pytest.mark.slow
def test_a_temperature_sweep_through_the_cli(tmp_path, capsys, figures):
    path = write(tmp_path, n=24, T=0.1, extra="store_distribution = false")
    out = tmp_path / "sweep.nc"
    code, _, err = run_cli(["sweep", str(path), "--vary", "T=0.1,0.2", "--workers", "1", "-q",
                            "-o", str(out)], capsys)
    assert code == 0, err
    ds = results.load(out)
    assert_has_metadata(ds)
    assert json.loads(ds.attrs["sweep_dims"]) == ["T"]
    assert ds["sigma"].dims == ("T", "i", "j") and np.isfinite(ds["sigma"]).all()
    single = JOB.run(config_of(write(tmp_path, n=24, T=0.2, extra="store_distribution = "
                                                                  "false")), SilentContext())
    np.testing.assert_allclose(ds["sigma"].sel(T=0.2).to_numpy(), single["sigma"].to_numpy(),
                               rtol=1e-12)
    assert [p.name for p in figures] == ["sweep_sweep.png"]
    assert_figures_hold_data(figures)


@pytest.mark.slow
def test_a_field_sweep_through_the_cli(tmp_path, capsys, figures):
    """``--vary magnetoconductivity.B=-0.1,0.1`` (one number per point): each point's σ sits at
    its own field, and the two obey Onsager σ_ij(B) = σ_ji(-B) to round-off."""
    extra = 'task = "magnetoconductivity"\nberry = false\nstore_distribution = false\n' \
            '[solver]\nmethod = "direct"\n[magnetoconductivity]\nB = 0.0'
    path = write(tmp_path, n=24, T=0.1, extra=extra)
    out = tmp_path / "fields.nc"
    code, _, err = run_cli(["sweep", str(path), "--vary", "magnetoconductivity.B=-0.1,0.1",
                            "--workers", "1", "-q", "-o", str(out)], capsys)
    assert code == 0, err
    ds = results.load(out)
    key = "magnetoconductivity.B"
    assert json.loads(ds.attrs["sweep_dims"]) == [key]
    minus = ds["sigma"].sel({key: -0.1, "field": -0.1}).to_numpy()
    plus = ds["sigma"].sel({key: 0.1, "field": 0.1}).to_numpy()
    np.testing.assert_allclose(minus, plus.T, rtol=1e-9, atol=1e-12)
    assert abs(plus[0, 1]) > 0.05 * plus[0, 0]
    assert [p.name for p in figures] == ["fields_sweep.png"]
    assert_figures_hold_data(figures)


# ------------------------------------------------------------------------------ Wannier90
@pytest.mark.slow
def test_a_wannier90_model_runs_and_gives_its_drude_sum(tmp_path, monkeypatch, capsys):
    r"""The ``bte`` job on a Wannier90 ``_hr.dat`` file: one orbital on the simple cubic
    lattice with nearest-neighbour hopping -1, ``ε = -2 Σ_i cos k_i``, ``v_x = 2 sin k_x``.

    With a constant τ the conductivity is the mesh sum
    ``σ_xx = 2π τ/N³ Σ_k f⁰(1 - f⁰)/T v_x²`` (e²/(h a)) over the same Γ-centred mesh, written
    here with NumPy independently of the package: they agree to the window's truncation
    (states beyond μ ± 20 T carry f⁰(1 - f⁰) < e⁻²⁰ ≈ 2·10⁻⁹ of the peak), so to 1e-7."""
    n, tau, T, mu = 12, 10.0, 0.5, 0.3
    lines = ["cubic nearest-neighbour hopping", "1", "7", " ".join(["1"] * 7)]
    for r in [(0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]:
        value = 0.0 if not any(r) else -1.0
        lines.append(f"{r[0]:5d}{r[1]:5d}{r[2]:5d}{1:5d}{1:5d}{value:22.15f}{0.0:22.15f}")
    (tmp_path / "cubic_hr.dat").write_text("\n".join(lines) + "\n")
    (tmp_path / "cubic.toml").write_text(f"""\
model = "bte"
hamiltonian = "wannier90"
mesh = [{n}, {n}, {n}]
mu = {mu}
T = {T}
berry = false

[wannier90]
file = "cubic_hr.dat"

[scattering.constant_tau]
tau = {tau}
""", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _out, err = run_cli(["run", "cubic.toml", "-o", "out", "-q"], capsys)
    assert code == 0, err
    ds = results.load(tmp_path / "out" / "cubic.nc")
    k = 2 * np.pi * np.arange(n) / n
    kx, ky, kz = np.meshgrid(k, k, k, indexing="ij")
    eps = -2 * (np.cos(kx) + np.cos(ky) + np.cos(kz))
    f = 1 / (np.exp((eps - mu) / T) + 1)
    expected = 2 * np.pi * tau / n ** 3 * np.sum(f * (1 - f) / T * (2 * np.sin(kx)) ** 2)
    sigma = np.asarray(ds["sigma"]).reshape(3, 3)
    np.testing.assert_allclose(np.diag(sigma), expected, rtol=1e-7)
    assert np.abs(sigma - np.diag(np.diag(sigma))).max() < 1e-9 * expected
