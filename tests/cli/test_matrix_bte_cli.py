"""The ``matrix_bte`` job end to end: config errors, the variants of ``decompose``, the
band-diagonal comparison, ``fermi_energy`` and ``born_rate``, plots, resume and a gap sweep.

The physics of the solver (E. Trukhan and N. H. Protik, "Interband and kinetic corrections to
the electronic Boltzmann transport equation") is tested in tests/validation/test_matrix_bte.py;
here the numbers check that the app hands the same states, δ and scattering to every solve
(identities that hold to the solver tolerance between variants and against ``LinearBTE``) and
that the bookkeeping (units, variants, derived scalars, checkpoints, sweeps, figures) works.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from boltzphlow import results
from boltzphlow.apps.matrix_bte import JOB
from boltzphlow.apps.matrix_bte.config import VARIANTS
from boltzphlow.errors import InputError
from boltzphlow.jobs import SilentContext
from boltzphlow.testing import assert_has_metadata
from conftest import assert_figures_hold_data, config_of, run_cli

#: A tiny massive Dirac config (v = Δ = 1, μ = 2, box k_max = 2.5: the reference point of the
#: derivation, on a 12x12 mesh).
DIRAC = """\
model = "matrix_bte"
hamiltonian = "massive_dirac"
mesh = [{n}, {n}]
{mu}
T = 0.15
{extra}
[massive_dirac]
v = 1.0
delta = 1.0
k_max = 2.5

{tables}
"""

IMPURITIES = "[scattering.impurities]\ndensity = {density}\nstrength = 1.0\n"


def write(tmp_path: Path, *, n: int = 12, mu: str = "mu = 2.0", extra: str = "",
          density: float = 0.1, tables: str | None = None, name: str = "dirac") -> Path:
    path = tmp_path / f"{name}.toml"
    text = DIRAC.format(n=n, mu=mu, extra=extra,
                        tables=tables if tables is not None else
                        IMPURITIES.format(density=density))
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ one point
@pytest.mark.slow
def test_a_run_holds_every_variant_and_the_sidejump_comparison(tmp_path, capsys, figures):
    r"""The default run through the CLI: every variant, units on every variable, the derived
    scalars and the figures.

    * ``populations_only`` (coherences off) has no coherence part, and its σ_yx vanishes
      (massive Dirac: a band-diagonal BTE without skew scattering has no Hall response;
      round-off 1e-12 of σ_xx); its σ_xx is the band-diagonal ``LinearBTE``'s on the same
      states, δ and window (TP App. K, 1e-8 measured by the validation tests; the
      ``LinearBTE`` of the comparison stops at rtol 1e-8, so 1e-7).
    * σ = σ_population + σ_coherence in every variant (round-off) and the shares are the
      ratios of the stored numbers.
    * Every k-point of the box has a band in the window, so no k-point is left to its clean
      coherences (``sigma_outside_window`` is zero).
    * σ_yx^coh - intrinsic against the side-jump velocity term σ^sj(1) of the band-diagonal
      BTE: they differ by a term O(Γ/E_g) (derivation §5.1), measured 2.0e-2·n relative
      (1.0 % at n = 0.5, 0.20 % at n = 0.1, the same on 12², 16² and 20²): rtol 3e-3 at
      n = 0.1.
    """
    path = write(tmp_path)
    code, out, err = run_cli(["run", str(path), "-o", str(tmp_path), "-q"], capsys)
    assert code == 0, err
    ds = results.load(tmp_path / "dirac.nc")
    assert_has_metadata(ds)
    assert ds.attrs["model"] == "matrix_bte" and "check_failed" not in ds.attrs
    assert ds["variant"].to_numpy().tolist() == list(VARIANTS)
    assert ds.attrs["variants_done"] == ",".join(VARIANTS)
    for name in ("sigma", "sigma_population", "sigma_coherence", "sigma_xx", "sigma_yx",
                 "sigma_bte", "sigma_intrinsic", "sigma_sidejump_velocity",
                 "sigma_yx_sidejump_velocity"):
        assert ds[name].attrs["units"] == "e^2/h", name
    assert ds["sigma"].dims == ("variant", "i", "j")
    assert (ds["converged"] == 1).all()
    sigma = ds["sigma"].to_numpy()
    scale = float(np.abs(sigma).max())
    np.testing.assert_allclose(sigma, ds["sigma_population"] + ds["sigma_coherence"],
                               rtol=0, atol=1e-13 * scale)
    pop = ds.sel(variant="populations_only")
    assert float(np.abs(pop["sigma_coherence"]).max()) == 0.0
    assert abs(float(pop["sigma_yx"])) < 1e-12 * float(pop["sigma_xx"])
    np.testing.assert_allclose(float(pop["sigma_xx"]), float(ds["sigma_bte"][0, 0]),
                               rtol=1e-7)
    full = ds.sel(variant="full")
    assert float(full["sigma_yx_coherence"]) > 0.2  # intrinsic 0.086 + side jump 0.21
    np.testing.assert_allclose(float(ds["coherence_share"]),
                               float(full["sigma_coherence"][0, 0] / full["sigma_xx"]),
                               rtol=1e-14)
    np.testing.assert_allclose(
        float(ds["kinetic_share"]),
        1 - float(ds["sigma_xx"].sel(variant="no_kinetic")) / float(full["sigma_xx"]),
        rtol=1e-10)
    assert int(ds["n_kpoints"]) == 144  # every k-point has a band in the window
    assert np.all(ds["sigma_outside_window"].to_numpy() == 0)
    np.testing.assert_allclose(float(ds["sigma_yx_coherence_extrinsic"]),
                               float(ds["sigma_yx_sidejump_velocity"]), rtol=3e-3)
    assert float(ds["band_gap"]) == pytest.approx(2.0, rel=1e-12)  # ±Δ at Γ
    assert "σ_yx^coh - intrinsic" in out and "populations_only" in out
    assert sorted(p.name for p in figures) == ["dirac_coherence_map.png",
                                               "dirac_variants.png"]
    assert_figures_hold_data(figures)
    assert int(ds.attrs["steps_done"]) == ds.attrs["n_steps"] == len(VARIANTS) + 1


def test_fermi_energy_and_born_rate_set_mu_and_the_rate(tmp_path):
    """``fermi_energy`` puts μ above the conduction-band bottom, Δ = 1 exactly (Γ is
    included); ``born_rate`` rescales the impurity density so that the Fermi-layer rate of
    the full solve is the one asked (Γ is linear in the density: round-off; the kinetic
    corrections, off here for speed, do not enter Γ)."""
    extra = ("born_rate = 0.3\ndecompose = false\ncompare_sidejump = false\nstore_map = false\n"
             "kinetic_corrections = false")
    ds = JOB.run(config_of(write(tmp_path, mu="fermi_energy = 1.0", extra=extra)),
                 SilentContext())
    assert ds.attrs["mu"] == pytest.approx(2.0, rel=1e-12)
    assert float(ds["conduction_band_bottom"]) == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(float(ds["gamma_fermi"]), 0.3, rtol=1e-10)
    assert ds.attrs["impurity_density_scale"] > 0
    assert ds["variant"].to_numpy().tolist() == ["full"]
    assert math.isnan(float(ds["kinetic_share"])) and "sigma_bte" not in ds
    assert ds.attrs["born_rate"] == 0.3


@pytest.mark.slow
def test_the_k_points_outside_the_window_keep_their_clean_coherences(tmp_path, capsys):
    """QWZ (m = 4, E_g = 4, 16²) with a window that drops the k-points of the deep Fermi sea
    (n_kT = 5: 49 of 256 kept).  Those keep their clean coherences, the intrinsic current of
    that part of the sea (-0.0300 of the whole mesh's -0.0236 e²/h; reported), so σ_yx^coh -
    intrinsic (whole mesh) = 0.02046 against σ^sj(1) = 0.02020, 1.3 % (2.0 % with every
    k-point, n_kT = 40): the O(Γ/E_g) difference of the derivation (§5.1; 7 %, 5 %, 2 %,
    0.9 % at Γ_F/E_g = 0.2, 0.1, 0.05, 0.025 in the matrix_bte_qwz_gap example).  rtol 3e-2;
    without the clean coherences outside the window the difference would be 0.03, more than
    the side jump itself."""
    path = tmp_path / "qwz.toml"
    path.write_text("""\
model = "matrix_bte"
hamiltonian = "qi_wu_zhang"
mesh = [16, 16]
fermi_energy = 0.5
T = 0.15
n_kT = 5.0
decompose = false
store_map = false

[qi_wu_zhang]
m = 4.0

[scattering.impurities]
density = 0.2
""", encoding="utf-8")
    code, out, err = run_cli(["run", str(path), "-o", str(tmp_path), "-q"], capsys)
    assert code == 0, err
    ds = results.load(tmp_path / "qwz.nc")
    kept = int(ds["n_kpoints"])
    whole = float(ds["sigma_yx_intrinsic"])
    outside = float(ds["sigma_outside_window"][1, 0])
    coherence = float(ds["sigma_yx_coherence"].sel(variant="full"))
    np.testing.assert_allclose(float(ds["sigma_yx_coherence_extrinsic"]), coherence - whole,
                               rtol=1e-14)
    assert kept == 49 and outside < whole < 0
    np.testing.assert_allclose(outside, -0.0300, atol=5e-5)
    np.testing.assert_allclose(coherence - whole, float(ds["sigma_yx_sidejump_velocity"]),
                               rtol=3e-2)
    assert "clean coherences" in out


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(("change", "key"), [
    ({"extra": "bogus = 1"}, "bogus"),
    ({"extra": "decompose = \"yes\""}, "decompose"),
    ({"extra": "coherence = 1"}, "coherence"),
    ({"extra": "[solver]\nrtol = 2.0"}, "solver.rtol"),
    ({"extra": "[delta]\nwidth = 0.0"}, "delta.width"),
    ({"extra": "mesh = [8, 8, 8]"}, "mesh"),
    ({"mu": "mu = 2.0\nfermi_energy = 1.0"}, "mu"),
    ({"mu": ""}, "mu"),
    ({"extra": "T = -0.1"}, "T"),
    ({"tables": ""}, "scattering"),
    ({"tables": "[scattering.constant_tau]\ntau = 10.0\n"}, "constant_tau"),
    ({"tables": "[scattering.impurities]\nskew_scattering = true\n"}, "skew_scattering"),
    ({"extra": "born_rate = 0.2", "tables": "[scattering.optical_phonons]\nenergy = 0.3\n"
                                            "coupling = 1.0\n"}, "born_rate"),
    ({"tables": "[scattering.impurities]\npotential = \"gaussian\"\n"}, "scattering.impurities"),
])
def test_bad_configs_are_one_line_errors_with_exit_code_2(tmp_path, capsys, change, key):
    path = write(tmp_path, **change)
    text = path.read_text(encoding="utf-8")
    if "mesh = [8, 8, 8]" in text:
        text = text.replace("mesh = [12, 12]\n", "")
    if "T = -0.1" in text:
        text = text.replace("T = 0.15\n", "")
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(["run", str(path), "-o", str(tmp_path), "-q"], capsys)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and key in lines[0], err
    assert not (tmp_path / "dirac.nc").exists()


# ------------------------------------------------------------------------------ resume
class _Stop(Exception):
    pass


class InterruptingContext(SilentContext):
    """Stops the run at its second checkpoint, keeping what was checkpointed."""

    def checkpoint(self, ds):
        self.last_checkpoint = ds
        if ds.attrs["steps_done"] >= 2:
            raise _Stop


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_answer(tmp_path):
    """Two variants solved, then stopped: the resumed run solves the rest and equals an
    uninterrupted one (the same solves: bit for bit); another config is refused."""
    cfg = config_of(write(tmp_path, extra="compare_sidejump = false"))
    context = InterruptingContext()
    with pytest.raises(_Stop):
        JOB.run(cfg, context)
    partial = context.last_checkpoint
    assert partial.attrs["variants_done"] == "full,no_kinetic"
    assert np.isnan(partial["sigma"].sel(variant="linewidth_only")).all()
    results.save(results.finalize(partial, "matrix_bte", {}, 0.0), tmp_path / "partial.nc")
    resumed = JOB.run(cfg, SilentContext(resume_from=results.load(tmp_path / "partial.nc")))
    straight = JOB.run(cfg, SilentContext())
    for name in ("sigma", "sigma_coherence", "coherence_share", "kinetic_share",
                 "map_coherence", "gamma_fermi"):
        np.testing.assert_array_equal(resumed[name].to_numpy(), straight[name].to_numpy())
    assert resumed.attrs["variants_done"] == ",".join(VARIANTS)
    other = config_of(write(tmp_path, n=14, extra="compare_sidejump = false"))
    with pytest.raises(InputError, match="another config"):
        JOB.run(other, SilentContext(resume_from=partial))


# ------------------------------------------------------------------------------ sweep
@pytest.mark.slow
def test_a_gap_sweep_through_the_cli_plots(tmp_path, capsys, figures):
    """``--vary massive_dirac.delta`` at a fixed Fermi energy and Born rate: every point's
    μ = Δ + 1 and Γ_F = 0.3; the coherence part of σ_yx beyond the intrinsic one falls with
    the gap (the side-jump velocity ∝ ε_F/Δ); the three sweep figures hold data (the
    shares against Γ_F/E_g)."""
    extra = ("born_rate = 0.3\nstore_map = false\n"
             "[solver]\nrtol = 1e-9\n")
    path = write(tmp_path, mu="fermi_energy = 1.0", extra=extra)
    path.write_text(path.read_text(encoding="utf-8").replace("k_max = 2.5", "k_max = 3.0"),
                    encoding="utf-8")
    out = tmp_path / "gap.nc"
    code, text, err = run_cli(["sweep", str(path), "--vary", "massive_dirac.delta=1.0,2.0",
                               "--workers", "1", "-q", "-o", str(out)], capsys)
    assert code == 0, err
    ds = results.load(out)
    assert_has_metadata(ds)
    assert json.loads(ds.attrs["sweep_dims"]) == ["massive_dirac.delta"]
    assert ds["sigma"].dims == ("massive_dirac.delta", "variant", "i", "j")
    np.testing.assert_allclose(ds["gamma_fermi"].to_numpy(), 0.3, rtol=1e-10)
    np.testing.assert_allclose(ds["band_gap"].to_numpy(), [2.0, 4.0], rtol=1e-12)
    extrinsic = ds["sigma_yx_coherence_extrinsic"].to_numpy()
    assert 0 < extrinsic[1] < extrinsic[0]
    assert "σ_xx^coh/σ_xx from" in text
    assert sorted(p.name for p in figures) == ["gap_hall.png", "gap_shares.png",
                                               "gap_sweep.png"]
    assert_figures_hold_data(figures)
