"""Benchmark of the side jump: the seed's Fig. 1 example (``bte_sidejump_phonons``).

C. Xiao, Y. Liu, M. Xie, S. A. Yang, Q. Niu, "Theory of phonon side jump contribution in
anomalous Hall transport", Fig. 1: σ_sj(T) of the 2D massive Dirac band (v = Δ = 1, μ = 2)
with quasi-elastic Debye acoustic phonons (Eq. B3), every parameter read from the built-in
example so that the benchmark follows it.

(a) ``point``: one temperature of the example (default its base point, T = 1.06 T_BG,
≥ 5·10⁴ states in the window), the whole job of one point: the states, the collision operator
with the side-jump flux, the conjugate-gradient solve (σ, the thermal drive and the
anomalous drives); each run in a fresh process, with the side jump and without it
(``side_jump=False``: the states without covariant derivatives, the operator without the
side-jump pass, no anomalous drives).  Reported: states, stored pairs, wall and CPU time of
building the states and the operator, wall time of the solve, the peak resident memory of
the process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, before the extra assemblies
below), σ_sj against the closed form of App. B (:mod:`boltzphlow.kinetics.bte.dirac`), and,
after the solve, the CPU time of the operator assembly alone on the same states without and
with the side-jump pass (best of two each; CPU time of all threads of the process, which
other load on the machine disturbs less than wall time).

(b) ``sweep``: the example's 30-point temperature sweep through :func:`boltzphlow.sweep`,
serially and on a 2-worker local Dask cluster, and the largest deviation of σ_sj from the
closed form over the curve.

Usage::

    python benchmarks/bench_sidejump.py point [--T 0.04401] [--repeat 2]
    python benchmarks/bench_sidejump.py sweep [--workers 1 2]
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

EXAMPLE = "bte_sidejump_phonons"


def _example() -> dict:
    from boltzphlow.config import read_toml

    return read_toml(EXAMPLE)


def _closed_form(raw: dict, T: float) -> float:
    from boltzphlow.kinetics.bte import dirac

    band = raw["massive_dirac"]
    return dirac.phonon_sidejump(raw["mu"], T, band["delta"],
                                 raw["scattering"]["acoustic_phonons"]["sound_velocity"],
                                 band["v"])


def one_point(T: float | None, side_jump: bool) -> dict:
    """Build and solve the example at one temperature in this process."""
    import boltzphlow as bp

    raw = _example()
    T = float(raw["T"] if T is None else T)
    h = bp.bands.massive_dirac(**raw["massive_dirac"])
    phonons = bp.scattering.AcousticPhonons(**raw["scattering"]["acoustic_phonons"])
    delta = bp.scattering.AdaptiveGaussian(scale=raw["delta"]["scale"])
    wall, cpu = time.perf_counter(), time.process_time()
    bte = bp.transport.LinearBTE(h, mesh=tuple(raw["mesh"]), mu=raw["mu"], T=T,
                                 scattering=[phonons], delta=delta, n_kT=raw["n_kT"],
                                 side_jump=side_jump)
    build_s, build_cpu = time.perf_counter() - wall, time.process_time() - cpu
    pairs = int(bte.operator.n_pairs)
    wall = time.perf_counter()
    res = bte.solve(method=raw["solver"]["method"])
    solve_s = time.perf_counter() - wall
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB → GiB
    sj = float(res.sigma_sidejump) if side_jump else float("nan")
    # the assembly alone, on the same states, with and without the side-jump pass (CPU time
    # of this process, all threads: robust to other load; best of two)
    assembly = {}
    if side_jump:
        from boltzphlow.scattering.base import CollisionOperator

        del res
        bte.operator = None
        for flag in (False, True, False, True):
            cpu = time.process_time()
            op = CollisionOperator(bte.states, [phonons], bte.eq, delta, side_jump=flag)
            assembly[flag] = min(assembly.get(flag, np.inf), time.process_time() - cpu)
            del op
    return {"T": T, "side_jump": side_jump, "states": len(bte.states),
            "pairs": pairs,
            "build_s": build_s, "build_cpu_s": build_cpu, "solve_s": solve_s,
            "total_s": build_s + solve_s, "peak_GiB": peak, "sigma_sj": sj,
            "closed_form": _closed_form(raw, T),
            "assembly_cpu_s": assembly.get(False, float("nan")),
            "assembly_sidejump_cpu_s": assembly.get(True, float("nan"))}


def point(T: float | None, repeat: int) -> None:
    """(a): the example at one temperature, with and without the side jump, fresh processes."""
    print(f"{'side jump':>9} {'states':>7} {'pairs':>9} {'build':>7} {'(cpu)':>7} "
          f"{'solve':>7} {'total':>7} {'peak':>8} {'σ_sj':>8} {'closed':>8} "
          f"{'assembly cpu: without / with the side jump':>44}")
    for _ in range(repeat):
        for side_jump in (True, False):
            cmd = [sys.executable, __file__, "one"] + ([] if T is None else ["--T", str(T)])
            out = subprocess.run(cmd + ([] if side_jump else ["--no-side-jump"]),
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            extra = ""
            if side_jump:
                a, b = r["assembly_cpu_s"], r["assembly_sidejump_cpu_s"]
                extra = f"{a:6.1f}s / {b:6.1f}s (+{100 * (b / a - 1):.0f} %)"
            print(f"{'on' if side_jump else 'off':>9} {r['states']:7d} {r['pairs']:9.3g} "
                  f"{r['build_s']:6.1f}s {r['build_cpu_s']:6.1f}s {r['solve_s']:6.1f}s "
                  f"{r['total_s']:6.1f}s {r['peak_GiB']:6.2f}GiB {r['sigma_sj']:8.5f} "
                  f"{r['closed_form']:8.5f} {extra:>44}", flush=True)


def sweep(workers: list[int]) -> None:
    """(b): the example's temperature sweep, serially and on a local Dask cluster."""
    import boltzphlow as bp

    raw = _example()
    for n in workers:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            ds = bp.sweep(EXAMPLE, workers=n, out=Path(folder) / "sweep.nc")
            wall = time.perf_counter() - start
        points = int(ds.attrs["n_points"])
        assert int(ds.attrs["n_failed"]) == 0
        temps = np.asarray(ds["T"], float)
        sj = np.asarray(ds["sigma_sidejump"].isel(i=1, j=0), float)  # σ_yx
        ref = np.array([_closed_form(raw, t) for t in temps])
        error = sj / ref - 1
        print(f"{points} temperatures, workers = {n}: {wall:.1f} s ({wall / points:.1f} s per "
              f"point; compute {ds.attrs['sweep_compute_time_s']:.1f} s, start-up "
              f"{ds.attrs['sweep_startup_time_s']:.1f} s); σ_sj vs closed form "
              f"{100 * error.min():+.2f} … {100 * error.max():+.2f} %", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("point", "one"):
        p = sub.add_parser(name)
        p.add_argument("--T", type=float, default=None,
                       help="temperature (default: the example's base point)")
    sub.choices["point"].add_argument("--repeat", type=int, default=1)
    sub.choices["one"].add_argument("--no-side-jump", dest="side_jump", action="store_false")
    s = sub.add_parser("sweep")
    s.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"# {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    if args.what == "one":
        print(json.dumps(one_point(args.T, args.side_jump)))
    elif args.what == "point":
        point(args.T, args.repeat)
    else:
        sweep(args.workers)


if __name__ == "__main__":
    main()
