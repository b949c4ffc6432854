"""Benchmarks of the photoexcited-metal model (Chiriacò, Millis, Aleiner, *Negative absolute
conductivity in photoexcited metals*); numbers go to docs/photoexcited.md.

Run: ``python benchmarks/bench_photoexcited.py [--sweep] [--threads 1]``

* one σ point at about 4000 energy cells (ω_p = 0.53 W, 2120 cells per ω_p): the Newton steady
  state at fixed ζ = 20, and the time evolution to t = 10/Γ_eph (BDF, sparse Jacobian), without
  and with St_in (Γ_in = 0.01); target ≤ 1 s on one core;
* ``--sweep``: a 61-point ω_p sweep serially and on a 2-worker local Dask cluster (cluster
  start-up included), of light points (Fig. 2a steady states, 200 cells per ω_p) and of heavy
  ones (evolutions to t = 10 with St_in, 1000 cells per ω_p).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from functools import partial
from pathlib import Path

from timing import best_of


def bench_point(repeat: int) -> None:
    from boltzphlow.kinetics.photoexcited import PhotoexcitedMetal

    for gamma_in in (0.0, 0.01):
        model = PhotoexcitedMetal("semi-elliptic", mu=0.0, T=0.003, omega_p=0.53, zeta=20.0,
                                  gamma_in=gamma_in, points_per_omega=2120)
        build = best_of(partial(PhotoexcitedMetal, "semi-elliptic", mu=0.0, T=0.003,
                                omega_p=0.53, zeta=20.0, gamma_in=gamma_in,
                                points_per_omega=2120), repeat)
        steady = best_of(model.steady_state, repeat)
        evolve = best_of(partial(model.evolve, 10.0, n_out=11), repeat)
        sigma_ss = float(model.steady_state()["sigma"])
        sigma_ev = float(model.evolve(10.0, n_out=11)["sigma"][-1])
        print(f"N = {model.n_cells} cells, gamma_in = {gamma_in}: build {build:.3f} s, "
              f"steady state {steady:.3f} s (sigma/sigma_0 = {sigma_ss:.4f}), "
              f"evolve to t = 10 {evolve:.3f} s (sigma/sigma_0 = {sigma_ev:.4f})")


def bench_sweep() -> None:
    light = {"model": "photoexcited", "task": "steady-state", "dos": "semi-elliptic",
             "mu": 0.0, "T": 0.003, "zeta": 20.0, "points_per_omega": 200,
             "store_distributions": False}
    heavy = {**light, "task": "evolve", "gamma_in": 0.01, "points_per_omega": 1000,
             "run": {"t_end": 10.0, "n_out": 2}}
    for label, config in (("steady states, 200 cells per omega_p", light),
                          ("evolutions to t = 10, Gamma_in = 0.01, 1000 cells per omega_p",
                           heavy)):
        print(label)
        time_sweep(config)


def time_sweep(config: dict) -> None:
    import boltzphlow as bp

    vary = {"omega_p": "0.2:0.8:61"}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        bp.sweep(config, vary, workers=1, out=Path(tmp) / "serial.nc")
        serial = time.perf_counter() - start
        start = time.perf_counter()
        bp.sweep(config, vary, workers=2, out=Path(tmp) / "dask.nc")
        parallel = time.perf_counter() - start
        start = time.perf_counter()
        bp.sweep(config, vary, workers=2, out=Path(tmp) / "dask.nc")
        reused = time.perf_counter() - start
    print(f"  61-point omega_p sweep: serial {serial:.2f} s, 2-worker local cluster "
          f"{parallel:.2f} s (start-up included), re-run reusing all points {reused:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="also time the 61-point sweep")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"OMP/OPENBLAS threads: {os.environ.get('OMP_NUM_THREADS', 'unset')}")
    bench_point(args.repeat)
    if args.sweep:
        bench_sweep()


if __name__ == "__main__":
    main()
