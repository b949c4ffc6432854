"""The ``geometry`` job end to end through the command line, in process.

Every built-in geometry example runs on small meshes (``--set`` overrides); the physics numbers
of the results are checked against closed forms with tolerances from the discretisation
(docs/geometry.md), and bad inputs give exit code 2 with a one-line error.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

import boltzphlow.bands as bands
import boltzphlow.observables as tr
from boltzphlow.apps import geometry as geometry_job
from boltzphlow.apps.geometry import ResolutionWarning
from boltzphlow.cli import main
from boltzphlow.config import list_examples, load_config, read_toml
from boltzphlow.errors import InputError, ResourceError
from boltzphlow.jobs import SilentContext, get_job
from boltzphlow.results import finalize, load, save
from boltzphlow.testing import assert_has_metadata, assert_results_identical
from conftest import assert_figures_hold_data

GEOMETRY_EXAMPLES = sorted(name for name in list_examples()
                           if read_toml(name).get("model") == "geometry")


def _small(raw: dict) -> list[str]:
    """``--set`` overrides that shrink every mesh and grid of a geometry config."""
    dim = bands.MODEL_KINDS[raw["hamiltonian"]].dim
    base = [24] * dim if raw["hamiltonian"] != "massive_dirac" else [400, 400]
    sets = [f"mesh={base}"]
    if "ahc" in raw:
        sets.append(f"ahc.mesh={base}")
        if "mu" not in raw["ahc"]:
            sets.append("ahc.n_mu=41")
    if "chern" in raw:
        sets.append("chern.mesh=[24, 24]")
    if "curvature_map" in raw:
        sets.append("curvature_map.n=[31, 25]")
    if "bands" in raw:
        sets.append("bands.n_points=41")
    for task in ("cme", "chiral_anomaly"):
        if task in raw:
            sets.append(f"{task}.mesh={[16] * 3}")
    return [item for pair in zip(["--set"] * len(sets), sets, strict=True) for item in pair]


def _run(name: str, tmp_path, *extra: str) -> object:
    raw = read_toml(name)
    code = main(["run", name, "-o", str(tmp_path), "-q", *_small(raw), *extra])
    assert code == 0
    return load(tmp_path / f"{name}.nc")


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("boltzphlow: error: ")
    return lines[0]


def test_there_are_geometry_examples_with_descriptions():
    assert {"haldane_ahc", "massive_dirac_ahc", "weyl_cme"} <= set(GEOMETRY_EXAMPLES)
    for name in GEOMETRY_EXAMPLES:
        assert list_examples()[name], name


@pytest.mark.parametrize("name", GEOMETRY_EXAMPLES)
@pytest.mark.slow
def test_example_runs_end_to_end_with_metadata_and_plots(name, tmp_path, capsys, figures):
    ds = _run(name, tmp_path)
    out = capsys.readouterr().out
    assert_has_metadata(ds)
    assert ds.attrs["model"] == "geometry"
    assert ds.attrs["complete"] == 1
    assert ds.attrs["tasks_done"] == ds.attrs["tasks"]
    pngs = sorted(tmp_path.glob(f"{name}_*.png"))  # named by the config, not by the model
    assert pngs, out
    assert sorted(figures) == pngs
    assert_figures_hold_data(figures)
    for png in pngs:
        assert png.stat().st_size > 1000
        assert f"wrote {png}" in out
    assert out.startswith("geometry: ")
    for name_of, units in (("ahc", ("e^2/h", "e^2/(h*a)")), ("berry_curvature", ("a^2",)),
                           ("cme_total", ("e^2/h^2*t",)), ("chiral_anomaly_total", ("e^3/h^2",))):
        if name_of in ds:
            assert ds[name_of].attrs["units"] in units


@pytest.mark.slow
def test_haldane_chern_numbers_and_quantised_plateau(tmp_path):
    ds = _run("haldane_ahc", tmp_path, "--set", "ahc.mesh=[60, 60]")
    np.testing.assert_allclose(ds.chern_number.values, [-1.0, 1.0], atol=1e-10)
    sigma = ds.ahc.to_series()
    gap = sigma[(sigma.index > -0.5) & (sigma.index < 0.5)]
    assert len(gap) >= 3
    # rectangle rule on a gapped lattice model: exponential convergence (4e-10 on 30², 2e-13 on 40²)
    np.testing.assert_allclose(gap.values, 1.0, atol=1e-10)
    # below and above all bands: nothing, and the full set of bands has C = 0
    np.testing.assert_allclose(sigma.values[[0, -1]], 0.0, atol=1e-12)
    assert ds.band_energy.units == "t"
    assert list(ds.path_tick_label.values) == ["Γ", "K", "M", "K'", "Γ"]
    # the curvature of the lower band peaks (negative) at a BZ corner, |k| = 4π/3
    omega = ds.berry_curvature
    peak = omega.where(omega == omega.min(), drop=True)
    spacing = np.hypot(float(ds.kx[1] - ds.kx[0]), float(ds.ky[1] - ds.ky[0]))
    assert abs(np.hypot(float(peak.kx[0]), float(peak.ky[0])) - 4 * np.pi / 3) < spacing
    assert float(omega.min()) < -20 * abs(float(omega.max()))
    assert ds.sizes["bz_vertex"] == 6


@pytest.mark.slow
def test_massive_dirac_ahc_closed_forms(tmp_path):
    with pytest.warns(ResolutionWarning, match=r"ahc.n_mu = 3: the μ spacing 1 exceeds half "
                                               r"the smallest band gap \(0.2\)"):
        ds = _run("massive_dirac_ahc", tmp_path, "--set", "ahc.mu_min=-1.0", "--set",
                  "ahc.mu_max=1.0", "--set", "ahc.n_mu=3")
    v, delta, k_max, n = 1.0, 0.1, 5.0, 400
    gap = -np.sign(delta) / np.pi * np.arctan(
        v**2 * k_max**2 / (abs(delta) * np.sqrt(2 * v**2 * k_max**2 + delta**2)))
    sigma = ds.ahc.values
    h = 2 * k_max / n
    # in the gap: the solid angle of the box, midpoint rule error <= h² δ / (4π v K³)
    assert abs(sigma[1] - gap) <= h**2 * abs(delta) / (4 * np.pi * v * k_max**3)
    # outside: σ_gap + (sgn δ - δ/|μ|)/2 (Eq. 38), error <= √2 k_F h Ω(k_F)
    k_f = np.sqrt(1.0 - delta**2) / v
    bound = np.sqrt(2) * k_f * h * v**2 * abs(delta) / 2
    np.testing.assert_allclose(sigma[[0, 2]], gap + 0.5 * (np.sign(delta) - delta), atol=bound)
    assert ds.band_energy.units == "E0"
    assert ds.berry_curvature.band == 1


@pytest.mark.slow
def test_weyl_cme_per_band_and_vanishing_total(tmp_path):
    ds = _run("weyl_cme", tmp_path, "--set", "cme.mesh=[30, 30, 30]", "--set", "cme.refine=0",
              "--set", "chiral_anomaly.mesh=[40, 40, 40]")
    w = bands.weyl_lattice(b0=0.3)
    np.testing.assert_array_equal(ds.weyl_node_chirality.values, [n.chirality for n in w.nodes])
    np.testing.assert_allclose(ds.weyl_node_berry_flux.values, ds.weyl_node_chirality.values,
                               atol=1e-10)
    mu, T = ds.cme_mu.values, float(ds.cme_total.temperature)
    exact = sum(n.chirality * -T * np.log1p(np.exp(-(n.energy - mu) / T)) for n in w.nodes)
    # node-centred quadrature on 30³: measured errors <= 4.1e-3 (at μ <= -0.3, the T = 0.01 Fermi
    # sea of band 0 away from the nodes, unresolved by the mesh: 1.0e-3 on 40³), <= 1.2e-4 above
    np.testing.assert_allclose(ds.cme_per_band.values[:, 0], exact, atol=6e-3)
    np.testing.assert_allclose(ds.cme_per_band.values[:, 1], -exact, atol=6e-3)
    np.testing.assert_allclose(ds.cme_total.values, 0.0, atol=6e-3)
    assert np.abs(ds.cme_per_band.values[mu == 0.0]).min() > 0.25  # per band it does not vanish
    mu, T = ds.anomaly_mu.values, float(ds.chiral_anomaly_total.temperature)
    flux = sum(n.chirality * expit(-(n.energy - mu) / T) for n in w.nodes)
    # 40³, T = 0.05: measured errors <= 5.4e-4; per node |C_j - χ_j| <= 5.4e-4
    np.testing.assert_allclose(ds.fermi_surface_flux.values[:, 0], flux, atol=2e-3)
    np.testing.assert_allclose(ds.chiral_anomaly_per_band.values[:, 0], -flux, atol=2e-3)
    chi = ds.anomaly_node_chirality.values
    assert sorted(chi) == [-1, 1]
    np.testing.assert_allclose(ds.chiral_anomaly_per_node.values, np.broadcast_to(chi, (3, 2)),
                               atol=2e-3)
    np.testing.assert_allclose(ds.chern_number.values, [-1.0], atol=1e-10)  # plane k_z = π


def test_wannier90_hr_file_reproduces_the_built_in_model(tmp_path):
    model = bands.weyl_lattice(b0=0.2)
    path = tmp_path / "weyl_hr.dat"
    _write_hr(path, model)
    config = tmp_path / "w90.toml"
    config.write_text(
        'model = "geometry"\nhamiltonian = "wannier90"\nmesh = [20, 20, 20]\n'
        f'[wannier90]\nfile = "{path}"\n'
        '[ahc]\nmu = [0.0, 0.5]\ncomponent = "xy"\n'
        "[chern]\nbands = [0, 1]\nk_normal = 0.5\n"
        '[bands]\npath = ["G", [0.5, 0, 0], [0.5, 0.5, 0], "G"]\nn_points = 31\n',
        encoding="utf-8")
    assert main(["run", str(config), "-o", str(tmp_path), "-q"]) == 0
    ds = load(tmp_path / "w90.nc")
    assert_has_metadata(ds)
    assert ds.ahc.units == "e^2/(h*a)" and ds.mu.units == "eV"
    expected = tr.anomalous_hall(model, [0.0, 0.5], 0.0, (20, 20, 20))
    np.testing.assert_allclose(ds.ahc.values, expected, atol=1e-12)
    np.testing.assert_allclose(ds.chern_number.values, [-1.0, 1.0], atol=1e-10)
    assert ds.sizes["band"] == 2


def _write_hr(path, model) -> None:
    """A 3D tight-binding model in Wannier90's ``_hr.dat`` format (degeneracies 1)."""
    lines = ["written by test_geometry_cli", f"{model.n_bands}", f"{len(model.R)}",
             " ".join("1" for _ in model.R)]
    for i, r in enumerate(model.R):
        for n in range(model.n_bands):
            for m in range(model.n_bands):
                v = model.h_R[i, m, n]
                lines.append(f"{r[0]:5d}{r[1]:5d}{r[2]:5d}{m + 1:5d}{n + 1:5d}"
                             f"{v.real:22.15f}{v.imag:22.15f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


#: Smallest meshes that resolve each built-in model with its default parameters (the minimum of
#: docs/geometry.md, "Mesh resolution": 11, 7, 100, 40 points for Haldane, Qi-Wu-Zhang, the
#: massive Dirac and Rashba models; the floor of 3 for the gapless Weyl and p-band models; the
#: parabolic band has no curvature to resolve).
SMALL_MESH = {"haldane": 12, "qi_wu_zhang": 8, "massive_dirac": 100, "rashba_2deg": 40,
              "weyl_lattice": 8, "p_band": 8, "parabolic": 12}


@pytest.mark.filterwarnings("ignore::boltzphlow.apps.geometry.ResolutionWarning")
@pytest.mark.parametrize("hamiltonian", sorted(set(bands.MODEL_KINDS) - {"wannier90"}))
@pytest.mark.slow
def test_every_built_in_model_runs_its_default_path_and_mu_range(hamiltonian, tmp_path):
    kind = bands.MODEL_KINDS[hamiltonian]
    dim, lattice = kind.dim, kind.lattice
    text = (f'model = "geometry"\nhamiltonian = "{hamiltonian}"\n'
            f"mesh = {[SMALL_MESH[hamiltonian]] * dim}\n"
            "[bands]\nn_points = 20\n[ahc]\nn_mu = 5\n"
            + ("[chern]\nbands = [0]\n" if lattice and hamiltonian != "p_band" else ""))
    config = tmp_path / f"{hamiltonian}.toml"
    config.write_text(text, encoding="utf-8")
    assert main(["run", str(config), "-o", str(tmp_path), "-q"]) == 0
    ds = load(tmp_path / f"{hamiltonian}.nc")
    assert_has_metadata(ds)
    e = ds.band_energy
    assert ds.mu.values[0] < float(e.min()) and ds.mu.values[-1] > float(e.max())
    np.testing.assert_allclose(ds.ahc.values[[0, -1]], 0.0, atol=1e-12)  # empty and full
    if "chern_number" in ds and dim == 2:  # a gapped 2D lattice: σ in the gap = -C
        gap = (e.isel(band=0).max() + e.isel(band=1).min()) / 2
        sigma = anomalous_hall_of(hamiltonian, float(gap))
        np.testing.assert_allclose(sigma, -ds.chern_number.values[0], atol=1e-6)


def anomalous_hall_of(hamiltonian: str, mu: float) -> float:
    """σ_xy of a built-in 2D lattice model (default parameters) on a 60² mesh."""
    model = {"haldane": bands.haldane, "qi_wu_zhang": bands.qi_wu_zhang}[hamiltonian]()
    return tr.anomalous_hall(model, mu, 0.0, (60, 60))


def test_resumed_run_equals_an_uninterrupted_one(tmp_path):
    overrides = _small(read_toml("haldane_ahc"))[1::2]
    _, config, raw = load_config("haldane_ahc", overrides)

    class Recorder(SilentContext):
        def __init__(self) -> None:
            super().__init__()
            self.checkpoints = []

        def checkpoint(self, ds):
            self.checkpoints.append(ds)

    recorder = Recorder()
    full = finalize(geometry_job.run(config, recorder), "geometry", raw, 1.0)
    assert [c.attrs["tasks_done"] for c in recorder.checkpoints] == [
        "chern", "chern ahc", "chern ahc curvature_map"]
    partial = save(finalize(recorder.checkpoints[1], "geometry", raw, 0.5, complete=False),
                   tmp_path / "partial.nc")
    resumed = geometry_job.run(config, SilentContext(resume_from=load(partial)))
    resumed = load(save(finalize(resumed, "geometry", raw, 2.0), tmp_path / "resumed.nc"))
    assert_results_identical(resumed, load(save(full, tmp_path / "full.nc")))


@pytest.mark.slow
def test_info_and_plot_commands_read_a_geometry_result(tmp_path, capsys):
    _run("weyl_cme", tmp_path)
    capsys.readouterr()
    assert main(["info", str(tmp_path / "weyl_cme.nc")]) == 0
    out = capsys.readouterr().out
    assert "model:      geometry" in out and "Weyl nodes:" in out and "CME α (T = 0.01)" in out
    assert main(["plot", str(tmp_path / "weyl_cme.nc"), "-o", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "weyl_cme_chiral.png").is_file()


@pytest.mark.parametrize(
    ("example", "overrides", "message"),
    [
        ("haldane_ahc", ["foo=1"], "config error: foo: unknown key"),
        ("haldane_ahc", ["haldane.phii=1"], "haldane.phii: unknown key (did you mean 'phi'?)"),
        ("haldane_ahc", ["ahc.sigma=1"], "ahc.sigma: unknown key"),
        ("haldane_ahc", ["mesh=[10, 10, 10]"],
         "mesh: the haldane model is 2D, so the mesh needs 2 sizes, got [10, 10, 10]"),
        ("weyl_cme", ["cme.mesh=[10, 10]"], "cme.mesh: the weyl_lattice model is 3D"),
        ("haldane_ahc", ["mesh=[0, 10]"], "mesh[0]: Input should be greater than or equal to 1"),
        ("haldane_ahc", ["chern.bands=[0, 2]"],
         "chern.bands: band index 2 out of range: the 2-band model has bands 0 to 1"),
        ("haldane_ahc", ["curvature_map.band=5"], "curvature_map.band: band index 5 out of range"),
        ("haldane_ahc", ["chern.bands=[-1]"], "chern.bands[0]: Input should be greater than"),
        ("haldane_ahc", ["ahc.T=-0.1"], "ahc.T: Input should be greater than or equal to 0"),
        ("haldane_ahc", ["ahc.T=nan"], "ahc.T: Input should be a finite number"),
        ("haldane_ahc", ["haldane.phi=3 ns"], "haldane.phi: expected an angle (rad)"),
        ("haldane_ahc", ["hamiltonian=graphene"], "hamiltonian: Input should be 'haldane'"),
        ("haldane_ahc", ["weyl_lattice.b0=0.1"],
         "weyl_lattice: parameters given for 'weyl_lattice' but hamiltonian = 'haldane'"),
        ("haldane_ahc", ["cme.mu=0"], "cme: needs a 3D model; haldane is 2D"),
        ("massive_dirac_ahc", ["chern.bands=[0]"], "chern: Chern numbers need a lattice model"),
        ("haldane_ahc", ["bands.path=[\"G\", \"X\"]"], "bands.path[1]: unknown point 'X'"),
        ("haldane_ahc", ["ahc.mu=[0.0]"], "ahc: give either mu or mu_min/mu_max, not both"),
        ("weyl_cme", ["weyl_lattice.m=0.2"], "m = 0.2 too small"),
        ("haldane_ahc", ["curvature_map.kz=[0, 1]"], "curvature_map: kz: the map's normal is 'z'"),
        ("haldane_ahc", ["curvature_map.component=x"], "curvature_map.normal, k_normal, kz"),
        ("haldane_ahc", ["bands.path=[[0.5, 0.5, 0.0], \"G\"]"],
         "bands.path[0]: the haldane model is 2D, so a point needs 2 coordinates"),
        # strict types: booleans are not numbers, 2.5 is not a count, numbers are finite
        ("haldane_ahc", ["ahc.T=true"], "config error: ahc.T: "),
        ("haldane_ahc", ["haldane.m=true"], "config error: haldane.m: "),
        ("haldane_ahc", ["mesh=[true, 40]"], "config error: mesh[0]: "),
        ("haldane_ahc", ["ahc.n_mu=2.5"], "config error: ahc.n_mu: "),
        ("haldane_ahc", ["ahc.mu_min=nan"], "config error: ahc.mu_min: "),
        ("weyl_cme", ["chern.normal_axis=true"], "config error: chern.normal_axis: "),
        ("weyl_cme", ["cme.mu=inf"], "config error: cme.mu[0]: "),
        ("haldane_ahc", ["energy_unit=" + "x" * 200], "config error: energy_unit: "),
        ("haldane_ahc", ["haldane.t1=1e308"],
         "config error: haldane.t1: must be at most 1e+100 in magnitude"),
        ("haldane_ahc", ["curvature_map.kx=[-1e101, 1]"], "config error: curvature_map.kx[0]: "),
        # a method failing on a model after the checks: one line naming the task
        ("haldane_ahc", ["haldane.t2=1e99"], "error: chern: link variable vanishes"),
        # meshes that cannot resolve what they are asked: refused with the minimum
        ("haldane_ahc", ["mesh=[1, 1]"],
         "config error: mesh: [1, 1] points cannot resolve the narrowest Berry-curvature peak "
         "(half-width κ = Δ/2v = 0.669 1/a, which the spacing must not exceed); at least "
         "[11, 11] are needed"),
        ("haldane_ahc", ["chern.mesh=[8, 8]"], "chern.mesh: [8, 8] points cannot resolve"),
        ("haldane_ahc", ["ahc.mesh=[10, 11]"], "at least [11, 11] are needed"),
        ("massive_dirac_ahc", ["mesh=[50, 50]"], "at least [100, 100] are needed"),
        ("weyl_cme", ["cme.mesh=[2, 8, 8]"],
         "cme.mesh: [2, 8, 8] points cannot resolve the model's hopping range; at least "
         "[3, 3, 3]"),
        ("haldane_ahc", ["ahc.n_mu=1"], "ahc.n_mu: a range of μ needs n_mu >= 2"),
        ("haldane_ahc", ["ahc.mesh=[40, 60]", "ahc.use_symmetry=true"],
         "ahc.use_symmetry: the [40, 60] mesh does not have the model's symmetry"),
        ("haldane_ahc", ["bands.path=[\"G\", \"G\"]"], "bands.path: all points coincide"),
    ],
)
def test_bad_input_is_a_one_line_error(example, overrides, message, tmp_path, capsys):
    args = ["run", example, "-o", str(tmp_path), "-q"]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert message in line, line
    assert not (tmp_path / f"{example}.nc").exists()


def test_model_tables_are_derived_from_the_band_models():
    """One source of truth: every parameter a model of boltzphlow.bands declares is a key of
    its table with the same default, unit, meaning and bounds; the model is built from them."""
    from boltzphlow.parameters import parameters_of
    from boltzphlow.schema import field_at, key_rows

    rows = {key: (unit, meaning) for key, unit, _, meaning in key_rows(geometry_job.GeometryConfig)}
    for name, kind in bands.MODEL_KINDS.items():
        if kind.parameters is None:
            continue
        declared = parameters_of(kind.parameters)
        table = geometry_job.GeometryConfig.model_fields[name].annotation.__args__[0]
        assert list(table.model_fields) == list(declared)
        for key, par in declared.items():
            field = field_at(geometry_job.GeometryConfig, f"{name}.{key}")
            assert field.default == par.default
            assert rows[f"{name}.{key}"] == (par.unit, par.doc)
            if par.gt is not None:
                with pytest.raises(ValueError, match=f"{name}.{key}"):
                    geometry_job.GeometryConfig(model="geometry", hamiltonian=name,
                                                bands={}, **{name: {key: par.gt}})
            # numbers are bounded (energies and wave vectors are cubed), with or without units
            with pytest.raises(ValueError, match=rf"{name}.{key}\n.*(at most|magnitude above) "
                                                 r"1e\+100"):
                geometry_job.GeometryConfig(model="geometry", hamiltonian=name, bands={},
                                            **{name: {key: 1e101}})
        config = geometry_job.GeometryConfig(model="geometry", hamiltonian=name, bands={})
        k = np.random.default_rng(0).normal(size=(3, kind.dim))
        np.testing.assert_array_equal(
            geometry_job.build_hamiltonian(config).hamiltonian(k), kind.build().hamiltonian(k))


def test_the_key_tables_of_the_docs_are_generated_from_the_schema():
    from pathlib import Path

    from boltzphlow.schema import key_rows, markdown_keys, update_key_blocks

    docs = Path(__file__).parents[2] / "docs" / "geometry.md"
    text = docs.read_text(encoding="utf-8")
    assert "<!-- keys: geometry -->" in text
    generated = update_key_blocks(text, lambda name: markdown_keys(get_job(name).config_model))
    assert generated == text, ("docs/geometry.md: key tables out of date; run `python -m "
                               "boltzphlow keys geometry --markdown --write docs/geometry.md`")
    for key, *_ in key_rows(geometry_job.GeometryConfig):
        assert f"| `{key}` |" in text


def test_config_without_a_task_is_an_error(tmp_path, capsys):
    config = tmp_path / "none.toml"
    config.write_text('model = "geometry"\nhamiltonian = "qi_wu_zhang"\n', encoding="utf-8")
    assert main(["run", str(config), "-o", str(tmp_path), "-q"]) == 2
    assert "no task: give at least one of the tables [chern]" in _one_error_line(capsys)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "wannier90.file: no such file"),
        ("header\n2\nthree\n", "line 3: cannot read nrpts"),
        ("private: s3cr3t\n1\n1\n0\n0 0 0 1 1 1.0 0.0\n",
         "bad_hr.dat', line 4: Wigner-Seitz degeneracy must be >= 1, got 0"),
        ("private: s3cr3t\n1\n1\n1\n0 0 0 1 1 nan 0.0\n",
         "bad_hr.dat', line 5: 'R1 R2 R3 m n Re Im': not a finite number"),
        ("private: s3cr3t\n100000\n1\n1\n0 0 0 1 1 1.0 0.0\n",
         "line 3: unexpected end of file: num_wann = 100000 and nrpts = 1 need at least "
         "10000000001 more lines, the file has 2"),
        ("folder", "bad_hr.dat': not a regular file"),
    ],
)
def test_bad_wannier90_file_is_a_one_line_error(content, message, tmp_path, capsys):
    path = tmp_path / "bad_hr.dat"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    config = tmp_path / "w90.toml"
    config.write_text(f'model = "geometry"\nhamiltonian = "wannier90"\n[wannier90]\n'
                      f'file = "{path}"\n[chern]\n', encoding="utf-8")
    assert main(["run", str(config), "-o", str(tmp_path), "-q"]) == 2
    line = _one_error_line(capsys)
    assert message in line and "s3cr3t" not in line, line
    assert line.startswith("boltzphlow: error: wannier90.file: "), line


def test_wannier90_positions_must_match_the_file(tmp_path, capsys):
    path = tmp_path / "weyl_hr.dat"
    _write_hr(path, bands.weyl_lattice())
    config = tmp_path / "w90.toml"
    config.write_text(f'model = "geometry"\nhamiltonian = "wannier90"\n[wannier90]\n'
                      f'file = "{path}"\npositions = [[0.0, 0.0, 0.0]]\n[chern]\n',
                      encoding="utf-8")
    assert main(["run", str(config), "-o", str(tmp_path), "-q"]) == 2
    assert ("wannier90.positions: give one position per orbital: 2 (num_wann of the file), got 1"
            in _one_error_line(capsys))


def test_wannier90_replicas_and_symmetry_keys(tmp_path, capsys):
    """``wannier90.wsvec`` (here every replica at T = 0: the same model) and
    ``wannier90.symmetry`` (C2z of the Weyl lattice, used by ahc.use_symmetry) give the
    built-in model's AHC; a mirror z → −z, which swaps the node energies ±b0, is refused in
    one line naming the key."""
    model = bands.weyl_lattice(b0=0.2)
    path = tmp_path / "weyl_hr.dat"
    _write_hr(path, model)
    ws = tmp_path / "weyl_wsvec.dat"
    blocks = [f"{r[0]} {r[1]} {r[2]} {m + 1} {n + 1}\n1\n0 0 0" for r in model.R
              for m in range(2) for n in range(2)]
    ws.write_text("## use_ws_distance\n" + "\n".join(blocks) + "\n", encoding="utf-8")
    config = tmp_path / "w90.toml"
    body = (f'model = "geometry"\nhamiltonian = "wannier90"\nmesh = [16, 16, 16]\n'
            f'[wannier90]\nfile = "{path}"\nwsvec = "{ws}"\n'
            'symmetry = [[[-1, 0, 0], [0, -1, 0], [0, 0, 1]]]\n'
            '[ahc]\nmu = [0.0]\ncomponent = "xy"\nuse_symmetry = true\n')
    config.write_text(body, encoding="utf-8")
    assert main(["run", str(config), "-o", str(tmp_path), "-q"]) == 0
    expected = tr.anomalous_hall(model, [0.0], 0.0, (16, 16, 16))
    np.testing.assert_allclose(load(tmp_path / "w90.nc").ahc.values, expected, atol=1e-12)
    config.write_text(body.replace("[0, 0, 1]]]", "[0, 0, -1]]]").replace("[-1, 0, 0], "
                                                                           "[0, -1, 0]",
                                                                           "[1, 0, 0], [0, 1, 0]"),
                      encoding="utf-8")
    assert main(["run", str(config), "-o", str(tmp_path), "-q"]) == 2
    assert "wannier90.symmetry: operation 0 is not a symmetry of the bands" in \
        _one_error_line(capsys)


def test_a_one_sided_mu_range_beyond_the_bands_is_refused(tmp_path, capsys):
    config = tmp_path / "empty.toml"
    config.write_text('model = "geometry"\nhamiltonian = "haldane"\nmesh = [24, 24]\n'
                      "[ahc]\nmu_min = 4.0\n", encoding="utf-8")
    assert main(["run", str(config), "-o", str(tmp_path), "-q"]) == 2
    assert ("ahc.mu_min: empty μ range [4, 3.60799] (the bands span -3.00666 to 3.00666)"
            in _one_error_line(capsys))


class _NoProgress(SilentContext):
    """A context that fails the test if a job reports progress."""

    def progress(self, done, total):
        raise AssertionError("progress reported before the config was checked")


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (["ahc.mesh=[1, 1]"], ValueError, "ahc.mesh: [1, 1] points cannot resolve"),
        (["chern.bands=[0, 2]"], ValueError, "chern.bands: band index 2 out of range"),
        (["ahc.n_mu=1"], ValueError, "ahc.n_mu: a range of μ needs n_mu >= 2"),
        (["bands.path=[\"K\", \"K\"]"], ValueError, "bands.path: all points coincide"),
        (["ahc.n_mu=1000000000"], ResourceError, "1000000000 chemical potentials needs"),
    ],
)
def test_checks_come_before_the_first_progress_report(overrides, error, message, monkeypatch):
    monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "256 MiB")
    _, config, _ = load_config("haldane_ahc", [*_small(read_toml("haldane_ahc"))[1::2],
                                               *overrides])
    with pytest.raises(error) as info:
        geometry_job.run(config, _NoProgress())
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("example", "overrides", "keys"),
    [
        ("haldane_ahc", ["ahc.n_mu=1000000000"], ["ahc.n_mu"]),
        ("haldane_ahc", ["ahc.refine=3", "ahc.mesh=[400, 400]", "ahc.n_mu=281"],
         ["ahc.mesh", "ahc.n_mu", "ahc.refine"]),
        ("haldane_ahc", ["ahc.mesh=[300000, 300000]"], ["ahc.mesh", "chunk_size"]),
        ("haldane_ahc", ["chunk_size=100000000", "ahc.mesh=[3000, 3000]"], ["chunk_size"]),
        ("haldane_ahc", ["bands.n_points=1000000000"], ["bands.n_points"]),
        ("haldane_ahc", ["curvature_map.n=[100000, 100000]"], ["curvature_map.n"]),
        ("haldane_ahc", ["chern.mesh=[20000, 20000]"], ["chern.mesh"]),
        ("weyl_cme", ["cme.mesh=[300, 300, 300]", "cme.refine=6"],
         ["cme.mesh", "cme.mu", "cme.refine"]),
    ],
)
def test_resource_guards_refuse_before_allocating(example, overrides, keys, tmp_path, capsys,
                                                  monkeypatch):
    monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", "256 MiB")
    args = ["run", example, "-o", str(tmp_path), "-q"]
    for item in [*_small(read_toml(example))[1::2], *overrides]:
        args += ["--set", item]
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert "needs" in line and "more than the 256 MiB this run may use" in line, line
    for key in keys:
        assert key in line.split("; change ")[1], line
    assert not list(tmp_path.iterdir())


def test_pictures_coarser_than_the_curvature_peak_warn_with_the_minimum():
    overrides = [*_small(read_toml("massive_dirac_ahc"))[1::2], "curvature_map.n=[4, 4]",
                 "bands.n_points=5", "ahc.n_mu=5"]
    _, config, _ = load_config("massive_dirac_ahc", overrides)
    with pytest.warns(ResolutionWarning) as record:
        ds = geometry_job.run(config, SilentContext())
    messages = [str(w.message) for w in record]
    assert any(m.startswith("curvature_map.n = [4, 4]: pixels of 0.4 x 0.4 1/a are wider than "
                            "the curvature peak (half-width κ = 0.1 1/a); n >= [13, 13]")
               for m in messages), messages
    assert any(m.startswith("bands.n_points = 5: the spacing 0.5 1/a") and
               m.endswith("n_points >= 21 resolves it") for m in messages), messages
    assert any(m.startswith("ahc.n_mu = 5: the μ spacing 0.5 exceeds half the smallest band "
                            "gap (0.2)") for m in messages), messages
    assert ds.attrs["resolution_warnings"].count(" | ") == 2
    # the default example resolves everything it draws
    _, config, _ = load_config("massive_dirac_ahc", _small(read_toml("massive_dirac_ahc"))[1::2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResolutionWarning)
        assert "resolution_warnings" not in geometry_job.run(config, SilentContext()).attrs


def _haldane_partial(tmp_path):
    """A checkpoint of the small Haldane example after two tasks, and its config."""
    overrides = _small(read_toml("haldane_ahc"))[1::2]
    _, config, raw = load_config("haldane_ahc", overrides)

    class Recorder(SilentContext):
        def checkpoint(self, ds):
            if ds.attrs["tasks_done"] == "chern ahc":
                self.last_checkpoint = ds

    recorder = Recorder()
    geometry_job.run(config, recorder)
    partial = save(finalize(recorder.last_checkpoint, "geometry", raw, 0.5, complete=False),
                   tmp_path / "partial.nc")
    return load(partial), config


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda ds: ds.assign_attrs(model="superconductor"), "it holds a 'superconductor' result"),
        (lambda ds: ds.assign_attrs(n_bands=3), "attribute n_bands is 3, the config gives 2"),
        (lambda ds: ds.assign_attrs(tasks_done="ahc"), "finished tasks ['ahc'] are not a start"),
        (lambda ds: ds.drop_vars("ahc"), "variable ahc of task ahc is missing"),
        (lambda ds: ds.isel(mu=slice(0, 5)), "ahc has dimensions ('mu',) (5,), the config gives"),
        (lambda ds: ds.assign_coords(mu=ds.mu + 0.1), "coordinate mu differs"),
        (lambda ds: xr.Dataset({"T": ("t", [1.0, 2.0])}, attrs=ds.attrs),
         "variable chern_number of task chern is missing"),
    ],
)
def test_resume_refuses_data_of_another_config(tamper, message, tmp_path):
    previous, config = _haldane_partial(tmp_path)
    with pytest.raises(InputError, match="--resume: the partial result does not belong to this "
                                         "config: ") as info:
        geometry_job.run(config, _NoProgress(resume_from=tamper(previous)))
    assert message in str(info.value)


def test_the_job_is_resumable_and_continues_from_its_partial_result(tmp_path):
    assert get_job("geometry").resumable
    previous, config = _haldane_partial(tmp_path)

    class Counter(SilentContext):
        calls: list = []

        def progress(self, done, total):
            self.calls.append((done, total))

    context = Counter(resume_from=previous)
    ds = geometry_job.run(config, context)
    assert context.calls[0] == (2, 4) and ds.attrs["tasks_done"] == ds.attrs["tasks"]
    xr.testing.assert_identical(ds.ahc, previous.ahc)


#: Small meshes that resolve the Haldane model at m = 0.2 and m = 1 (minimum 29 points).
SWEEP_SETS = ["mesh=[40, 40]", "chern.mesh=[40, 40]", "ahc.mesh=[40, 40]",
              "curvature_map.n=[40, 40]", "bands.n_points=81"]


def _sweep_of_runs(tmp_path) -> xr.Dataset:
    """A sweep-shaped result over haldane.m = 0.2, 0.76 (failed: NaN), 1.0 built from runs."""
    points = []
    for m in (0.2, 1.0):
        overrides = [*_small(read_toml("haldane_ahc"))[1::2], f"haldane.m={m}", *SWEEP_SETS]
        _, config, raw = load_config("haldane_ahc", overrides)
        points.append(finalize(geometry_job.run(config, SilentContext()), "geometry", raw, 1.0))
    failed = xr.full_like(points[0], np.nan)
    ds = xr.concat([points[0], failed, points[1]], dim="haldane.m", data_vars="all",
                   coords="different", compat="equals", combine_attrs="drop_conflicts")
    ds = ds.assign_coords({"haldane.m": ("haldane.m", [0.2, 0.76, 1.0],
                                         {"units": "t", "long_name": "haldane.m"})})
    ds["failed"] = ("haldane.m", np.array([0, 1, 0], dtype=np.int8),
                    {"units": "1", "long_name": "point failed"})
    return ds.assign_attrs(sweep_dims=json.dumps(["haldane.m"]), n_points=3, n_failed=1)


@pytest.mark.slow
def test_sweep_results_are_drawn_with_data_in_every_axes(tmp_path, figures):
    ds = _sweep_of_runs(tmp_path)
    paths = get_job("geometry").plot(ds, tmp_path / "out", "haldane_sweep")
    kinds = sorted(path.name for path in paths)
    assert kinds == ["haldane_sweep_ahc.png", "haldane_sweep_bands.png",
                     "haldane_sweep_berry_curvature.png", "haldane_sweep_sweep.png"]
    assert len(figures) == 4
    assert_figures_hold_data(figures)
    text = get_job("geometry").summary(ds)
    assert text.startswith("geometry sweep: 2 of 3 points finished")
    assert "[haldane.m = 0.2 t]" in text and "[haldane.m = 1 t]" in text
    assert "band 0: -1.0000" in text and "band 0: +0.0000" in text


@pytest.mark.slow
def test_sweep_command_plots_and_records_a_failed_point(tmp_path, capsys, figures):
    out = tmp_path / "sweep.nc"
    args = ["sweep", "haldane_ahc", "--vary", "haldane.m=0.2,0.76,1.0", "--workers", "1",
            "-o", str(out), "-q"]
    for item in [*_small(read_toml("haldane_ahc"))[1::2], *SWEEP_SETS]:
        args += ["--set", item]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "haldane.m=0.76 failed" in captured.err and "chern.mesh: [40, 40] points" in captured.err
    ds = load(out)
    assert ds["failed"].values.tolist() == [0, 1, 0]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "sweep_ahc.png", "sweep_bands.png", "sweep_berry_curvature.png", "sweep_sweep.png"]
    assert len(figures) == 4
    assert_figures_hold_data(figures)
