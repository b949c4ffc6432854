"""The ``bte`` job's anomalous Hall option end to end: the decomposition in the result, the
summary, the figures and the sweeps over T and over the range of the impurity potential.

The physics of the side jump is tested in tests/unit/test_sidejump.py and
tests/validation/test_sidejump.py; here the numbers check that the app hands the option to
:class:`~boltzphlow.kinetics.bte.LinearBTE` unchanged (identities between runs that hold to
round-off, one closed form of C. Xiao, Y. Liu, M. Xie, S. A. Yang, Q. Niu, "Theory of phonon
side jump contribution in anomalous Hall transport", Eq. 18) and that the bookkeeping (units,
NaN where the side jump does not apply, failed sweep points, the plots) works.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from boltzphlow import plotting, results
from boltzphlow.apps.bte import JOB
from boltzphlow.apps.bte.run import ANOMALOUS_HALL
from boltzphlow.jobs import SilentContext
from boltzphlow.kinetics.bte import dirac
from boltzphlow.testing import assert_has_metadata
from conftest import assert_figures_hold_data, config_of, run_cli

#: A small massive Dirac config (v = Δ = 1, μ = 2 = 2Δ: k_F = √3).
DIRAC = """\
model = "bte"
hamiltonian = "massive_dirac"
mesh = [{n}, {n}]
mu = 2.0
T = {T}
n_kT = {n_kT}
store_distribution = false
{extra}
[massive_dirac]
v = 1.0
delta = 1.0
k_max = 2.5

{tables}
"""

ZERO_RANGE = "[scattering.impurities]\ndensity = 1.0\nstrength = 1.0\n"
PHONONS = ("[scattering.acoustic_phonons]\nsound_velocity = 0.01\ncoupling = 1.0\n"
           "elastic = true\n")


def write(tmp_path: Path, *, n: int = 48, T: object = 0.1, n_kT: float = 10.0,
          extra: str = "", tables: str = ZERO_RANGE, name: str = "dirac") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(DIRAC.format(n=n, T=T, n_kT=n_kT, extra=extra, tables=tables),
                    encoding="utf-8")
    return path


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib figures saved during a test, by file name (to look at their lines)."""
    saved: dict[str, object] = {}
    monkeypatch.setattr(plotting, "SAVE_HOOKS", [
        *plotting.SAVE_HOOKS, lambda fig, path: saved.__setitem__(Path(path).name, fig)])
    return saved


def line_labels(fig) -> list[str]:
    return [line.get_label() for ax in fig.get_axes() for line in ax.get_lines()]


# ------------------------------------------------------------------------------ the option
@pytest.mark.slow
def test_the_option_adds_exactly_the_side_jump(tmp_path, capsys, figures):
    r"""Zero-range impurities through the CLI with ``anomalous_hall`` on and off.

    * Solved by sparse LU, the normal distribution is the same in both runs, so
      ``σ(on) - σ(off)`` is the side-jump tensor to round-off (1e-12 relative), and the two
      terms of Eq. 8 obey ``σ^{sj(2)} = -σ^{sj(1)ᵀ}`` (equal Hall components here).
    * σ_sj equals Eq. 18 with R = 4/(1 + 3Δ²/ε²) averaged over -∂f/∂ε at T = 0.1
      (:func:`~boltzphlow.kinetics.bte.dirac.impurity_sidejump`, 0.42309).  Tolerance: the
      Gaussian δ of width T smooths σ_sj(ε) over T, a relative error of order
      (T/μ)² = 2.5e-3 (measured 8e-4, the same on meshes 48², 64² and 96²: not the mesh);
      the window μ ± 10 T leaves out e⁻¹⁰ of the thermal layer.  rtol = 3e-3.
    """
    path = write(tmp_path, extra='[solver]\nmethod = "direct"')
    code, out, err = run_cli(["run", str(path), "-o", str(tmp_path / "on"), "-q",
                              "--set", "anomalous_hall=true"], capsys)
    assert code == 0, err
    on = results.load(tmp_path / "on" / "dirac.nc")
    assert_has_metadata(on)
    assert on.attrs["anomalous_hall"] == 1
    for name, (kind, _) in ANOMALOUS_HALL.items():
        if kind == "mechanism" or "skew" in name:  # one mechanism: no split; no skew
            assert name not in on
            continue
        assert on[name].attrs["units"] == "e^2/h" and on[name].attrs["long_name"], name
        assert on[name].dims == ({"tensor": ("i", "j"), "scalar": ()}[kind]), name
    side_jump = on["sigma_sidejump"].to_numpy()
    assert float(on["sigma_ah_sidejump"]) == side_jump[1, 0]
    assert float(on["sigma_ah_intrinsic"]) == float(on["sigma_intrinsic"][1, 0])
    first = on["sigma_sidejump_velocity"].to_numpy()
    second = on["sigma_sidejump_distribution"].to_numpy()
    np.testing.assert_allclose(second, -first.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(first + second, side_jump, rtol=1e-12, atol=1e-15)
    sigma_sj = float(on["sigma_ah_sidejump"])
    np.testing.assert_allclose(sigma_sj, dirac.impurity_sidejump(2.0, 1.0, 0.0, T=0.1),
                               rtol=3e-3)
    assert f"{sigma_sj:.6g} (side jump)" in out and "σ_AH = σ_yx = " in out
    assert sorted(p.name for p in figures) == ["dirac_anomalous_hall.png", "dirac_sigma.png"]
    assert_figures_hold_data(figures)

    code, out, err = run_cli(["run", str(path), "-o", str(tmp_path / "off"), "-q",
                              "--set", "anomalous_hall=false"], capsys)
    assert code == 0, err
    off = results.load(tmp_path / "off" / "dirac.nc")
    assert off.attrs["anomalous_hall"] == 0
    assert not [name for name in ANOMALOUS_HALL if name in off]
    assert "σ_AH" not in out
    scale = float(np.abs(on["sigma"]).max())
    np.testing.assert_allclose(on["sigma"].to_numpy() - off["sigma"].to_numpy(), side_jump,
                               rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize(("how", "value"), [("set", "maybe"), ("set", "1"), ("file", "1"),
                                            ("file", '"yes"')])
def test_a_bad_value_of_the_option_is_a_one_line_error(tmp_path, capsys, how, value):
    if how == "set":
        path = write(tmp_path)
        args = ["--set", f"anomalous_hall={value}"]
    else:
        path = write(tmp_path, extra=f"anomalous_hall = {value}")
        args = []
    code, out, err = run_cli(["run", str(path), "-o", str(tmp_path), "-q", *args], capsys)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "anomalous_hall" in lines[0], err
    assert not (tmp_path / "dirac.nc").exists()


# ------------------------------------------------------------------------------ the tasks
@pytest.mark.slow
def test_resistivity_vs_T_carries_the_decomposition_per_temperature(tmp_path, drawn):
    """Impurities and quasi-elastic phonons over two temperatures: every variable runs along
    ``temperature``; the mechanisms add up to the side jump (round-off); each point equals
    the conductivity task at its temperature (the same solve: round-off); the ``sidejump``
    figure is drawn against T/T_BG with the ρ_xx(T) inset."""
    tables = ZERO_RANGE + PHONONS
    many = JOB.run(config_of(write(tmp_path, n=40, T="[0.1, 0.2]", n_kT=6.0, tables=tables,
                                   extra='task = "resistivity_vs_T"')), SilentContext())
    assert many["sigma_ah_sidejump"].dims == ("temperature",)
    assert many["sigma_sidejump"].dims == ("temperature", "i", "j")
    assert many["mechanism"].to_numpy().tolist() == ["impurities", "acoustic_phonons"]
    by = many["sigma_sidejump_by_mechanism"]
    assert by.dims == ("temperature", "mechanism", "i", "j")
    np.testing.assert_allclose(by.sum("mechanism").to_numpy(),
                               many["sigma_sidejump"].to_numpy(), rtol=1e-12, atol=1e-15)
    assert np.all(by.isel(i=1, j=0).to_numpy() > 0)  # both mechanisms: Δ > 0, σ_sj > 0
    one = JOB.run(config_of(write(tmp_path, n=40, T=0.2, n_kT=6.0, tables=tables)),
                  SilentContext())
    for name in ("sigma_sidejump", "sigma_intrinsic", "sigma_sidejump_by_mechanism"):
        np.testing.assert_allclose(many[name].sel(temperature=0.2).to_numpy(),
                                   one[name].to_numpy(), rtol=1e-10, atol=1e-13)
    paths = JOB.plot(many, tmp_path, "rt")
    assert sorted(p.name for p in paths) == ["rt_resistivity.png", "rt_sidejump.png"]
    fig = drawn["rt_sidejump.png"]
    assert not plotting.figure_problems(fig)
    main_axes = fig.get_axes()[0]
    assert main_axes.get_xlabel().startswith("T/T_BG")
    assert main_axes.child_axes and main_axes.child_axes[0].get_yscale() == "log"
    assert "closed form (App. B, quasi-elastic)" not in line_labels(fig)  # two mechanisms


def test_magnetoconductivity_records_the_side_jump_only_at_zero_field(tmp_path, capsys):
    """The side jump is a B = 0 quantity: NaN at B ≠ 0, finite at B = 0 (summary line)."""
    extra = 'task = "magnetoconductivity"\n[solver]\nmethod = "direct"\n' \
            "[magnetoconductivity]\nB = [0.0, 0.05]"
    ds = JOB.run(config_of(write(tmp_path, n=24, T=0.2, n_kT=5.0, extra=extra)),
                 SilentContext())
    side_jump = ds["sigma_ah_sidejump"].to_numpy()
    assert ds["sigma_ah_sidejump"].dims == ("field",)
    assert math.isfinite(side_jump[0]) and side_jump[0] > 0 and math.isnan(side_jump[1])
    assert np.isnan(ds["sigma_intrinsic"].isel(field=1)).all()
    text = JOB.summary(ds)
    assert text.count("σ_AH = σ_yx") == 1 and f"{side_jump[0]:.6g} (side jump" in text


# ------------------------------------------------------------------------------ sweeps
@pytest.mark.slow
def test_a_temperature_sweep_with_a_failed_point_plots_the_side_jump(tmp_path, capsys,
                                                                     figures, drawn):
    """Quasi-elastic phonons alone, swept over T with one point too cold for the mesh (it
    fails: the thermal layer is not resolved).  The ``sidejump`` figure leaves it out, draws
    σ_sj against T/T_BG (T_BG = 2 c_s √3 = 0.0346) with the closed form of App. B and both
    limits of Eq. 18, and still draws (without the closed form) for another model."""
    path = write(tmp_path, n=32, T=0.15, n_kT=5.0, tables=PHONONS)
    out = tmp_path / "ts.nc"
    code, text, err = run_cli(["sweep", str(path), "--vary", "T=0.001,0.1,0.2", "--workers",
                               "1", "-q", "-o", str(out)], capsys)
    assert code == 0, err
    ds = results.load(out)
    assert json.loads(ds.attrs["sweep_dims"]) == ["T"]
    assert ds["failed"].values.tolist() == [1, 0, 0]
    side_jump = ds["sigma_ah_sidejump"].to_numpy()
    assert np.isnan(side_jump[0]) and np.isfinite(side_jump[1:]).all()
    assert "side jump from" in text
    assert sorted(p.name for p in figures) == ["ts_sidejump.png", "ts_sweep.png"]
    assert_figures_hold_data(figures)
    fig = drawn["ts_sidejump.png"]
    axes = fig.get_axes()[0]
    t_bg = dirac.bloch_gruneisen_temperature(2.0, 1.0, 1.0, 0.01)
    assert axes.get_xlabel().startswith("T/T_BG")
    x, _ = axes.get_lines()[0].get_data()
    np.testing.assert_allclose(x, [0.1 / t_bg, 0.2 / t_bg], rtol=1e-12)
    labels = line_labels(fig)
    assert "closed form (App. B, quasi-elastic)" in labels
    assert sum(label.startswith("Eq. 18, R = ") for label in labels) == 2

    other = ds.copy()
    other.attrs["hamiltonian"] = "qi_wu_zhang"
    paths = JOB.plot(other, tmp_path, "other")
    assert "other_sidejump.png" in [p.name for p in paths]
    labels = line_labels(drawn["other_sidejump.png"])
    assert not [label for label in labels if "closed form" in label or "Eq. 18" in label]
    assert not plotting.figure_problems(drawn["other_sidejump.png"])


@pytest.mark.slow
def test_the_range_example_sweeps_and_plots_against_r0_kF(tmp_path, capsys, figures, drawn):
    """``boltzphlow sweep bte_sidejump_range`` on a reduced grid (two ranges): σ_sj falls
    from the zero-range towards the long-range limit and the figure is drawn against r0 k_F
    with the closed form of Eqs. 18/B4 and the limits 3/7 and 3/16 e²/h."""
    out = tmp_path / "range.nc"
    code, _, err = run_cli(["sweep", "bte_sidejump_range", "--vary",
                            "scattering.impurities.range=0.05,1.5", "--set", "mesh=[40, 40]",
                            "--set", "T=0.15", "--set", "n_kT=6.0", "--workers", "1", "-q",
                            "-o", str(out)], capsys)
    assert code == 0, err
    ds = results.load(out)
    assert json.loads(ds.attrs["sweep_dims"]) == ["scattering.impurities.range"]
    side_jump = ds["sigma_ah_sidejump"].to_numpy()
    assert 3 / 16 < side_jump[1] < side_jump[0] < 3 / 7
    assert sorted(p.name for p in figures) == ["range_sidejump.png", "range_sweep.png"]
    assert_figures_hold_data(figures)
    fig = drawn["range_sidejump.png"]
    axes = fig.get_axes()[0]
    assert axes.get_xlabel().startswith("r0 k_F")
    labels = line_labels(fig)
    assert "closed form (Eqs. 18, B4)" in labels
    limits = sorted(float(line.get_ydata()[0]) for line in axes.get_lines()
                    if line.get_label().startswith("Eq. 18"))
    np.testing.assert_allclose(limits, [3 / 16, 3 / 7], rtol=1e-12)


# ------------------------------------------------------------------------------ skew
@pytest.mark.slow
def test_skew_scattering_through_the_job(tmp_path, capsys, figures):
    """``skew_scattering = true`` on zero-range impurities: the result carries the skew tensor
    and its Hall component, the summary line adds it to σ_AH, and the total of the line is
    σ_yx of the run (the normal antisymmetric part is the skew one; intrinsic and side jump
    as reported)."""
    tables = ZERO_RANGE + "skew_scattering = true\n[delta]\nmethod = \"gaussian\"\n"
    path = write(tmp_path, n=40, T=0.1, tables=tables)
    code, out, err = run_cli(["run", str(path), "-o", str(tmp_path), "-q"], capsys)
    assert code == 0, err
    ds = results.load(tmp_path / "dirac.nc")
    assert ds["sigma_skew"].attrs["units"] == "e^2/h"
    skew = float(ds["sigma_ah_skew"])
    assert skew > 0.05
    assert float(ds["sigma_skew"].isel(i=1, j=0)) == skew
    total = skew + float(ds["sigma_ah_sidejump"]) + float(ds["sigma_ah_intrinsic"])
    assert float(ds["sigma"].isel(i=1, j=0)) == pytest.approx(total, rel=1e-9)
    assert "(skew scattering)" in out
