"""docs/extending.md works: its code blocks, copied into a package found through a
``*.dist-info/entry_points.txt``, run through the unchanged command line."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"

#: A code block preceded by ``<!-- file: PATH -->``.
BLOCK = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.S)


def doc_files() -> dict[str, str]:
    return {path: text for path, text in BLOCK.findall(DOC.read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def toy_package(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """``site/`` holding the package of the doc and its metadata; the env to run it."""
    root = tmp_path_factory.mktemp("extending")
    files = doc_files()
    assert {"toyrelax/model.py", "toyrelax/app.py", "pyproject.toml", "relax.toml"} <= set(files)
    site = root / "site"
    for path, text in files.items():
        if path.endswith(".py"):
            (site / path).parent.mkdir(parents=True, exist_ok=True)
            (site / path).write_text(text, encoding="utf-8")
    (site / "toyrelax" / "__init__.py").write_text('"""The toy model of extending.md."""\n')
    points = tomllib.loads(files["pyproject.toml"])["project"]["entry-points"]
    info = site / "toyrelax-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyrelax\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in table.items())
        for group, table in points.items()))
    (root / "relax.toml").write_text(files["relax.toml"], encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return root, env


def boltzphlow(args: list[str], root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "boltzphlow", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_code_blocks_are_the_whole_walk_through():
    files = doc_files()
    assert sorted(files) == ["pyproject.toml", "relax.toml", "toyrelax/app.py",
                             "toyrelax/model.py"]
    model = files["toyrelax/model.py"]
    assert "pydantic" not in model and "matplotlib" not in model and "boltzphlow.config" \
        not in model  # the physics layer stays clean, as test_layering.py asks of built-ins


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_the_walk_through_code_is_lint_clean(toy_package):
    root, _ = toy_package
    (root / "site" / "ruff.toml").write_text(
        'line-length = 100\ntarget-version = "py311"\n[lint]\n'
        'select = ["E", "F", "W", "I", "B", "UP", "NPY"]\n'
        '[lint.isort]\nknown-first-party = ["toyrelax"]\n')  # the rules of this repository
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."],
                          cwd=root / "site", capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_run_info_plot_and_keys_of_the_toy_model(toy_package):
    root, env = toy_package
    done = boltzphlow(["keys", "relaxation", "--markdown"], root, env)
    assert done.returncode == 0, done.stderr
    assert "| `tau` | ns | 1 | relaxation time τ |" in done.stdout
    assert "| `run.t_end` | ns | 5 | end of the evolution |" in done.stdout

    done = boltzphlow(["run", "relax.toml", "-q", "-o", "out"], root, env)
    assert done.returncode == 0, done.stderr
    assert "relaxation: y(t_end) = " in done.stdout
    assert (root / "out" / "relax_relaxation.png").stat().st_size > 1000
    with xr.open_dataset(root / "out" / "relax.nc") as ds:
        assert ds.attrs["model"] == "relaxation"
        t, y = ds["t"].to_numpy(), ds["y"].to_numpy()
        assert t[-1] == 10.0 and t.size == 11 and ds["t"].attrs["units"] == "ns"
        # y_eq + (y0 − y_eq) e^(−t/τ), τ = 2 ns: on this decaying linear ODE the global error
        # of ROS2 at rtol = 1e-8 stays below 10 rtol |y0 − y_eq| = 7.5e-8 (measured 4e-9)
        np.testing.assert_allclose(y, 0.25 + 0.75 * np.exp(-t / 2.0), rtol=0, atol=7.5e-8)

    done = boltzphlow(["info", "out/relax.nc"], root, env)
    assert done.returncode == 0, done.stderr
    assert "model:      relaxation" in done.stdout and "relaxation: y(t_end)" in done.stdout

    (root / "out" / "relax_relaxation.png").unlink()
    done = boltzphlow(["plot", "out/relax.nc"], root, env)
    assert done.returncode == 0, done.stderr
    assert (root / "out" / "relax_relaxation.png").is_file()

    done = boltzphlow(["run", "relax.toml", "-q", "-o", "out", "--set", "tau=-1"], root, env)
    assert done.returncode == 2
    assert done.stderr == "boltzphlow: error: config error: tau: must be > 0, got -1 ns\n"


@pytest.mark.slow  # a sweep starts its own machinery: ~10 s on a quiet machine
def test_sweep_of_the_toy_model(toy_package):
    root, env = toy_package
    done = boltzphlow(["sweep", "relax.toml", "--vary", "tau=1,4", "--workers", "1", "-q",
                       "-o", "sweep/relax_sweep.nc"], root, env)
    assert done.returncode == 0, done.stderr
    assert "sweep: 2 points, 0 failed" in done.stdout
    assert (root / "sweep" / "relax_sweep_relaxation.png").is_file()
    with xr.open_dataset(root / "sweep" / "relax_sweep.nc") as ds:
        last = ds["y"].isel(t=-1).to_numpy()
        tau = ds["tau"].to_numpy()
    np.testing.assert_allclose(tau, [1.0, 4.0])
    np.testing.assert_allclose(last, 0.25 + 0.75 * np.exp(-10.0 / tau), rtol=0, atol=7.5e-8)
