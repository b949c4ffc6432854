"""Benchmark of the electron BTE: the full iterative σ on a 2D massive Dirac band, and sweeps.

(a) ``scaling``: the massive Dirac band (v = Δ = 1, μ = 2, k-box 2.5, T = 0.02, window
μ ± 20 T: about 40 % of the mesh points are states) with inelastic acoustic phonons
(c_s = 0.01, λ = 1) or zero-range impurities, the full iterative σ at one temperature, for
growing meshes, the δ by adaptive Gaussians (default; a Gaussian of width T or the linear
triangles with ``--delta``).  Each size runs in a fresh process (so that the peak resident memory,
``resource.getrusage``, is that size's); reported: states in the window, stored pairs, wall
time of building the states, the operator and the solve, and peak memory; then the exponents
of time and memory against the number of states (least squares on log-log).  The issue's
target: ≥ 5·10⁴ states in ≤ 60 s and ≤ 4 GB on the 2-core machine.

(b) ``sweep``: a 20-point temperature sweep (T from 0.02 to 0.1, window μ ± 10 T) of the
``bte`` job (massive Dirac, zero-range impurities, 100² mesh), serially and on a 2-worker local
Dask cluster.

Usage::

    python benchmarks/bench_bte.py scaling [--sizes 150 212 300 360] [--scattering phonons]
                                           [--delta adaptive|gaussian|tetrahedron]
                                           [--method iterative|krylov] [--no-thermal]
    python benchmarks/bench_bte.py sweep [--points 20]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: The massive Dirac benchmark: parameters of the model and of the equilibrium.
DIRAC = {"v": 1.0, "delta": 1.0, "k_max": 2.5}
MU, T = 2.0, 0.02


def one_size(n: int, scattering: str, delta: str, method: str = "iterative",
             thermal: bool = True) -> dict:
    """Build and solve one mesh size; timings (s) and peak memory (GiB) of this process."""
    import boltzphlow as bp

    h = bp.bands.massive_dirac(**DIRAC)
    if scattering == "phonons":
        model = bp.scattering.AcousticPhonons(sound_velocity=0.01, coupling=1.0)
    else:
        model = bp.scattering.Impurities(density=1.0, potential="zero-range", strength=0.3)
    smearing = {"gaussian": None, "adaptive": bp.scattering.AdaptiveGaussian(),
              "tetrahedron": getattr(bp.scattering, "LinearTetrahedron", type(None))()}[delta]
    start = time.perf_counter()
    bte = bp.transport.LinearBTE(h, mesh=(n, n), mu=MU, T=T, scattering=[model], delta=smearing)
    built = time.perf_counter() - start
    start = time.perf_counter()
    res = bte.solve(method=method, thermal=thermal)
    solved = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB → GiB
    return {"mesh": n, "states": len(bte.states), "pairs": int(bte.operator.n_pairs),
            "build_s": built, "solve_s": solved, "total_s": built + solved, "peak_GiB": peak,
            "sigma_xx": float(res.sigma[0, 0]), "converged": bool(res.converged),
            "iterations": int(res.iterations)}


def scaling(sizes: list[int], scattering: str, delta: str, method: str = "iterative",
            thermal: bool = True) -> None:
    rows = []
    print(f"{'mesh':>6} {'states':>8} {'pairs':>11} {'build':>8} {'solve':>8} {'total':>8} "
          f"{'peak':>9} {'σ_xx':>9} {'iters':>6}")
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "one", str(n), "--scattering",
                              scattering, "--delta", delta, "--method", method]
                             + ([] if thermal else ["--no-thermal"]),
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{n:6d} {row['states']:8d} {row['pairs']:11d} {row['build_s']:7.1f}s "
              f"{row['solve_s']:7.1f}s {row['total_s']:7.1f}s {row['peak_GiB']:7.2f}GiB "
              f"{row['sigma_xx']:9.4f} {row['iterations']:6d}", flush=True)
    if len(rows) >= 2:
        s = np.log([r["states"] for r in rows])
        for key in ("total_s", "peak_GiB", "pairs"):
            slope = np.polyfit(s, np.log([r[key] for r in rows]), 1)[0]
            print(f"{key} ∝ states^{slope:.2f}")


def temperature_sweep(points: int) -> None:
    import boltzphlow as bp

    raw = {"model": "bte", "task": "conductivity", "hamiltonian": "massive_dirac",
           "massive_dirac": dict(DIRAC), "mesh": [100, 100], "mu": MU, "T": 0.1,
           "n_kT": 10.0, "store_distribution": False,
           "scattering": {"impurities": {"density": 1.0, "strength": 0.3}}}
    vary = {"T": f"0.02:0.1:{points}"}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            ds = bp.sweep(raw, vary, workers=workers, out=Path(folder) / "sweep.nc")
            wall = time.perf_counter() - start
        assert int(ds.attrs["n_failed"]) == 0
        print(f"{points} temperatures, workers = {workers}: {wall:.1f} s "
              f"({wall / points:.2f} s per point; compute {ds.attrs['sweep_compute_time_s']:.1f} s"
              f", start-up {ds.attrs['sweep_startup_time_s']:.1f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    a = sub.add_parser("scaling")
    a.add_argument("--sizes", type=int, nargs="+", default=[150, 212, 300, 360])
    a.add_argument("--scattering", choices=["phonons", "impurities"], default="phonons")
    one = sub.add_parser("one")
    one.add_argument("n", type=int)
    one.add_argument("--scattering", choices=["phonons", "impurities"], default="phonons")
    for p in (a, one):
        p.add_argument("--delta", choices=["gaussian", "adaptive", "tetrahedron"],
                       default="adaptive")
        p.add_argument("--method", choices=["iterative", "krylov", "direct"],
                       default="iterative")
        p.add_argument("--no-thermal", dest="thermal", action="store_false",
                       help="solve for the electric drive only (σ), not the thermal one")
    b = sub.add_parser("sweep")
    b.add_argument("--points", type=int, default=20)
    args = parser.parse_args()
    print(f"# {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    if args.what == "one":
        print(json.dumps(one_size(args.n, args.scattering, args.delta, args.method,
                                  args.thermal)))
    elif args.what == "scaling":
        scaling(args.sizes, args.scattering, args.delta, args.method, args.thermal)
    else:
        temperature_sweep(args.points)


if __name__ == "__main__":
    main()
