"""Benchmark of the k-space states (``boltzphlow.kspace.KStates``): build time and memory vs mesh.

Runs on one core (BLAS threads pinned to 1 before NumPy is imported) and prints, per case and
mesh: the k-points, the states kept, the best wall and CPU time of ``--repeat`` builds, µs per
k-point, the bytes the states hold (``KStates.nbytes``) and the peak traced memory of one build
(``tracemalloc``, NumPy allocations included); then the growth exponent ``a`` of a fit
``time ∝ n_points^a`` per case.  Cases:

* ``haldane window``: Haldane model (FFT Bloch sums, two-band closed forms), the thermal layer
  of the upper band, ``EnergyWindow.around(μ = 1.2, T = 0.01)`` (± 20 k_B T): a Fermi surface;
* ``haldane window + eigvecs``: the same with eigenvectors and velocity matrices kept;
* ``haldane all states``: every state (the Fermi-sea case);
* ``haldane chunks``: the window iterated chunk by chunk (nothing kept): memory stays that of
  one chunk whatever the mesh;
* ``p-band 3D``: the three-band fcc model (``eigh`` + interband tensor for the orbital moment),
  window ± 0.05 around μ = 0.

Usage: ``python benchmarks/bench_kspace.py [--mesh2d 200 400 800 1600] [--mesh3d 20 40 60]
[--repeat 3] [--chunk 65536]``; rerun on a quiet machine for numbers to quote.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

import boltzphlow.bands as bands  # noqa: E402
from boltzphlow.kspace import EnergyWindow, KStates  # noqa: E402


def measure(func, repeat: int) -> tuple[float, float, float, object]:
    """Best wall and CPU time (s) over ``repeat`` runs, peak traced memory (MiB), the result."""
    wall = cpu = np.inf
    result = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = func()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    del result
    tracemalloc.start()
    result = func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return wall, cpu, peak / 2**20, result


def count_chunks(h, mesh, window, chunk):
    """States of the window, chunk by chunk, none kept."""
    return sum(len(part) for part in KStates.chunks(h, mesh, window, chunk_size=chunk))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh2d", type=int, nargs="+", default=[200, 400, 800, 1600])
    parser.add_argument("--mesh3d", type=int, nargs="+", default=[20, 40, 60])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=1 << 16)
    args = parser.parse_args()

    haldane = bands.haldane()
    p_band = bands.p_band_model()
    fermi_surface = EnergyWindow.around(1.2, 0.01)
    cases = [
        ("haldane window", haldane, args.mesh2d, fermi_surface, {}),
        ("haldane window + eigvecs", haldane, args.mesh2d, fermi_surface,
         dict(eigenvectors=True, velocity_matrices=True)),
        ("haldane all states", haldane, [n for n in args.mesh2d if n <= 800], None, {}),
        ("haldane chunks", haldane, args.mesh2d, fermi_surface, None),
        ("p-band 3D", p_band, args.mesh3d, EnergyWindow(-0.05, 0.05), {}),
    ]
    print(f"{'case':26s} {'mesh':>6s} {'k-points':>10s} {'states':>9s} {'wall s':>8s} "
          f"{'cpu s':>8s} {'us/k':>7s} {'held MiB':>9s} {'peak MiB':>9s}")
    for name, h, sizes, window, options in cases:
        points, times = [], []
        for n in sizes:
            mesh = (n,) * h.dim
            wall, cpu, peak, result = measure(
                lambda h=h, mesh=mesh, window=window, options=options: (
                    count_chunks(h, mesh, window, args.chunk) if options is None
                    else KStates.build(h, mesh, window, chunk_size=args.chunk, **options)),
                args.repeat)
            n_points = n**h.dim
            n_states = result if isinstance(result, int) else len(result)
            held = 0.0 if isinstance(result, int) else result.nbytes / 2**20
            points.append(n_points)
            times.append(cpu)
            print(f"{name:26s} {n:>6d} {n_points:>10d} {n_states:>9d} {wall:>8.3f} {cpu:>8.3f} "
                  f"{1e6 * cpu / n_points:>7.3f} {held:>9.1f} {peak:>9.1f}", flush=True)
        if len(points) > 1:
            slope = np.polyfit(np.log(points), np.log(times), 1)[0]
            print(f"{name:26s} CPU time grows as n_points^{slope:.2f}")


if __name__ == "__main__":
    main()
