"""Speed of the superconductor QP-phonon model (issue: core, §Speed).

Measures, on one core:

1. one full rate evaluation (all QP and phonon terms) at N = 4096 QP bins by FFT
   (with and without exponential tilting) and by the direct O(N²) quadrature;
2. the analytic Jacobian at the steady-state size;
3. the steady state of an Al film under continuous injection with 1 µeV bins;
4. the default example (`boltzphlow run`) end to end, wall time on the whole machine, and
   again with one core kept busy by another process (a loaded machine: small dense LU runs
   on one BLAS thread, see ``boltzphlow.integrate.base.SMALL_DENSE``).

Run: ``python benchmarks/bench_superconductor.py`` (add ``--skip-default`` to skip 4).
Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core for 1-3 (set before numpy loads BLAS)

import argparse  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import boltzphlow as bp  # noqa: E402
from boltzphlow.apps.superconductor import build_model  # noqa: E402
from boltzphlow.config import load_config  # noqa: E402
from boltzphlow.grids.energy import EnergyGrid  # noqa: E402
from boltzphlow.kinetics.superconductor.collisions import CollisionOperator  # noqa: E402
from boltzphlow.units import K_B  # noqa: E402
from timing import best_of  # noqa: E402


def bench_rates(n_qp: int = 4096, repeat: int = 50) -> list[tuple[str, str]]:
    delta = 180.0
    g = EnergyGrid.for_gap(delta, 0.5, delta + n_qp * 0.5)
    op = CollisionOperator(g, delta, 438.0, 0.242, K_B * 1.19, delta)
    E, w = g.energies, g.omega
    kT = K_B * 0.3
    thermal_f, thermal_n = 1 / (np.exp(E / kT) + 1), 1 / np.expm1(w / kT)
    hot_f = thermal_f + 1e-4 * np.exp(-(((E - 700) / 20) ** 2))
    rows = [("grid", f"{g.n_qp} QP bins, {g.n_phonon} phonon energies, FFT length {op.L}")]
    t_tilt = best_of(lambda: op.rates(thermal_f, thermal_n, terms=False), repeat)
    t_hot = best_of(lambda: op.rates(hot_f, thermal_n, terms=False), repeat)
    t_plain = best_of(lambda: op.rates(hot_f, thermal_n, terms=False, tilt=0.0), repeat)
    t_direct = best_of(lambda: op.rates_direct(hot_f, thermal_n), 1)
    rows += [
        ("FFT rates, thermal state (tilted)", f"{t_tilt * 1e3:.2f} ms"),
        ("FFT rates, hot packet (auto tilt)", f"{t_hot * 1e3:.2f} ms"),
        ("FFT rates, no tilt", f"{t_plain * 1e3:.2f} ms"),
        ("direct O(N²) quadrature", f"{t_direct:.2f} s"),
        ("speed-up FFT (auto tilt) vs direct", f"{t_direct / t_hot:.0f}×"),
    ]
    return rows


def bench_steady_state(repeat: int = 3) -> list[tuple[str, str]]:
    path = os.path.join(os.path.dirname(bp.__file__), "examples", "al_steady_injection.toml")
    _, cfg, _ = load_config(path)
    model = build_model(cfg)
    s = model.thermal(model.T_bath)
    problem = model.problem()
    y = np.concatenate([s.f, s.n, [0.0, 0.0]])
    t_jac = best_of(lambda: problem.jacobian(y), repeat)
    result = {}

    def solve() -> None:
        result["ds"] = model.steady_state()

    t_ss = best_of(solve, repeat)
    ds = result["ds"]
    return [
        ("steady state grid", f"{model.grid.n_qp} QP bins + {model.grid.n_phonon} phonons, "
                              f"h = {model.grid.step:.4g} µeV"),
        ("analytic Jacobian", f"{t_jac:.2f} s"),
        ("steady state (Newton-PTC)", f"{t_ss:.2f} s, {ds.attrs['iterations']} iterations, "
                                      f"residual {ds.attrs['residual']:.1e}"),
    ]


def bench_default_example() -> list[tuple[str, str]]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

    def run() -> float:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "boltzphlow", "run", "-q", "-o", out],
                           check=True, env=env, capture_output=True)
            return time.perf_counter() - t0

    rows = [(f"default example `boltzphlow run` ({os.cpu_count()} cores, incl. start-up and "
             "plot)", f"{run():.1f} s")]
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        rows.append(("the same with one core busy", f"{run():.1f} s"))
    finally:
        busy.kill()
        busy.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-default", action="store_true")
    args = parser.parse_args()
    rows = [("machine", f"{platform.processor() or platform.machine()}, "
                        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
                        f"NumPy {np.__version__}")]
    rows += bench_rates()
    rows += bench_steady_state()
    if not args.skip_default:
        rows += bench_default_example()
    print("| measurement | result |\n|---|---|")
    for key, value in rows:
        print(f"| {key} | {value} |")


if __name__ == "__main__":
    main()
