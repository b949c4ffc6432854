"""Every built-in example, and a sweep of every model family, end to end through the CLI.

Each example runs on a small grid (``--set`` overrides per model, chosen so that a run takes
about a second) and must exit 0, write a result with full metadata, and draw figures that hold
data, named after the example.  A new model must add its small-grid overrides to
:data:`SMALL_GRIDS` (the test says so).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from boltzphlow import plotting, results
from boltzphlow.cli import main
from boltzphlow.config import list_examples, read_toml
from boltzphlow.testing import assert_has_metadata
from conftest import assert_figures_hold_data

#: ``--set`` overrides that make each model's examples small.  A dotted key is applied only to
#: examples that have its table (adding a table may switch on a task); a top-level key always.
SMALL_GRIDS: dict[str, dict[str, str]] = {
    "superconductor": {"grid.energy_step": "6ueV", "grid.E_max": "900ueV",
                       "run.t_end": "10ns", "run.n_out": "6"},
    "geometry": {"mesh": "[60, 60]", "ahc.n_mu": "41", "chern.mesh": "[32, 32]",
                 "curvature_map.n": "[36, 36]", "bands.n_points": "81"},
    "photoexcited": {"points_per_omega": "40", "run.t_end": "2.0", "run.n_out": "5",
                     "p_band.mesh": "12"},
    "bte": {"distribution_points": "500", "magnetoconductivity.B": "[0.0, 0.01]"},
    "matrix_bte": {"decompose": "false"},
    "superconductor_thermal": {"n_T": "12"},
    "superconductor_space": {"grid.energy_step": "8ueV", "grid.E_max": "900ueV", "cells": "10",
                             "run.t_end": "10ns", "run.n_out": "6"},
}

#: Overrides of single examples, applied after those of their model.
EXAMPLE_GRIDS: dict[str, dict[str, str]] = {
    "weyl_cme": {"mesh": "[12, 12, 12]", "cme.n_radial": "16", "chiral_anomaly.n_radial": "16",
                 "chern.mesh": "[12, 12]"},
    "massive_dirac_ahc": {"mesh": "[100, 100]"},
    "bte_anomalous_hall_scaling": {"mesh": "[40, 40]", "T": "0.15", "n_kT": "6.0"},
    "bte_dirac_phonons": {"mesh": "[32, 32]", "T": "[0.3]", "n_kT": "4.0"},
    "bte_parabolic_mobility": {"mesh": "[48, 48]"},
    "bte_sidejump_range": {"mesh": "[40, 40]", "T": "0.15", "n_kT": "6.0"},
    "bte_sidejump_phonons": {"mesh": "[40, 40]"},
    "bte_weyl_magnetotransport": {"mesh": "[32, 32, 32]"},
    "matrix_bte": {"mesh": "[12, 12]"},
    "matrix_bte_sidejump": {"mesh": "[12, 12]"},
    "matrix_bte_qwz_gap": {"mesh": "[16, 16]"},
    "matrix_bte_dirac_gap": {"mesh": "[16, 16]", "massive_dirac.k_max": "2.5"},
    "pb_eliashberg_photon": {"grid.energy_step": "40ueV", "grid.E_max": "4500ueV"},
}

EXAMPLES = sorted(list_examples())


def small_grid(name: str) -> list[str]:
    """``--set`` arguments that make the example ``name`` small."""
    raw = read_toml(name)
    model = raw["model"]
    if model not in SMALL_GRIDS:
        pytest.fail(f"no small-grid overrides for model {model!r}: add them to SMALL_GRIDS")
    overrides = {key: value for key, value in SMALL_GRIDS[model].items()
                 if "." not in key or key.split(".")[0] in raw}
    overrides.update(EXAMPLE_GRIDS.get(name, {}))
    return [arg for key, value in overrides.items() for arg in ("--set", f"{key}={value}")]


def _check_figures(figures: dict[Path, list[str]], folder: Path, stem: str) -> None:
    assert_figures_hold_data(figures)
    for path in figures:
        assert path.parent == folder and path.name.startswith(f"{stem}_"), path
        assert path.is_file() and path.stat().st_size > 0


def _check_quiet(err: str) -> None:
    """No warning (a failed plot is one) and no error on stderr."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert not [line for line in lines if "warning" in line or "error" in line], err


# ------------------------------------------------------------------------------ examples
@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.slow
def test_every_example_runs_end_to_end(name, tmp_path, figures, capsys):
    code = main(["run", name, "-o", str(tmp_path), "-q", *small_grid(name)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    _check_quiet(captured.err)
    ds = results.load(tmp_path / f"{name}.nc")
    assert_has_metadata(ds)
    assert results.is_complete(ds) and "check_failed" not in ds.attrs
    _check_figures(figures, tmp_path, name)


def test_two_examples_into_one_folder_keep_their_own_figures(tmp_path, figures, capsys):
    first, second = "photoexcited_fig1a", "photoexcited_fig1b"  # same model, same kinds
    assert main(["run", first, "-o", str(tmp_path), "-q", *small_grid(first)]) == 0
    before = {path.name: path.read_bytes() for path in tmp_path.glob(f"{first}_*.png")}
    assert before
    assert main(["run", second, "-o", str(tmp_path), "-q", *small_grid(second)]) == 0
    capsys.readouterr()
    assert {path.name: path.read_bytes() for path in tmp_path.glob(f"{first}_*.png")} == before
    assert list(tmp_path.glob(f"{second}_*.png"))
    assert all(path.name.startswith((f"{first}_", f"{second}_"))
               for path in tmp_path.glob("*.png"))


# ------------------------------------------------------------------------------ sweeps
#: A sweep of each model family: (example, --vary, swept key, unit, values, failed points).
SWEEPS = [
    pytest.param("al_closed_relaxation", "T_bath=100mK,150mK,200mK", "T_bath", "K",
                 [0.1, 0.15, 0.2], [0, 0, 0], id="superconductor"),
    pytest.param("haldane_ahc", "haldane.m=0.2,1.0", "haldane.m", "energy", [0.2, 1.0], [0, 0],
                 id="geometry"),
    pytest.param("photoexcited_fig1a", "filling=0.3,0.5,1.5", "filling", "1",
                 [0.3, 0.5, 1.5], [0, 0, 1], id="photoexcited-one-point-failing"),
    pytest.param("matrix_bte_qwz_gap", "qi_wu_zhang.m=2.5,4.0", "qi_wu_zhang.m", "energy",
                 [2.5, 4.0], [0, 0], id="matrix_bte"),
]


@pytest.mark.parametrize(("name", "vary", "key", "unit", "values", "failed"), SWEEPS)
@pytest.mark.slow
def test_a_sweep_of_every_model_family(name, vary, key, unit, values, failed, tmp_path,
                                       figures, capsys):
    out = tmp_path / f"{name}_sweep.nc"
    code = main(["sweep", name, "--vary", vary, "--workers", "1", "-q", "-o", str(out),
                 *small_grid(name)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    failures = [line for line in captured.err.splitlines() if "failed:" in line]
    assert len(failures) == sum(failed), captured.err
    _check_quiet("\n".join(line for line in captured.err.splitlines()
                           if line not in failures))
    ds = results.load(out)
    assert_has_metadata(ds)
    assert json.loads(ds.attrs["sweep_dims"]) == [key]
    assert ds[key].dtype.kind == "f" and ds[key].attrs["units"] == unit
    np.testing.assert_allclose(ds[key].to_numpy(), values, rtol=1e-12)
    assert ds["failed"].values.tolist() == failed
    for variable in ds.data_vars.values():  # sweep dimensions first, failed points NaN
        if key in variable.dims:
            assert variable.dims[0] == key
            if variable.dtype.kind == "f" and variable.name not in plotting.SWEEP_BOOKKEEPING:
                for i, bad in enumerate(failed):
                    if bad:
                        assert np.isnan(variable.isel({key: i})).all(), variable.name
    _check_figures(figures, tmp_path, out.stem)
