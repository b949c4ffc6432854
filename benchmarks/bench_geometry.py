"""Benchmark of the k-space geometry: Haldane anomalous Hall conductivity, µs per k-point.

Runs on one core (BLAS threads pinned to 1 before NumPy is imported) and prints a table:

* ``closed form 2x2``: the production path (FFT Bloch sums on the regular mesh, chunked;
  closed-form two-band curvature; all μ of the call in one pass);
* ``eigh + Kubo``: the same Bloch sums with batched ``numpy.linalg.eigh`` and the Kubo sum
  (the generic N-band path, forced by padding H with a decoupled third band);
* ``adaptive``: k-points needed by adaptive refinement versus a uniform mesh for the same error
  (Haldane model near its gap closing, m = 0.7).

Peak memory is measured with ``tracemalloc`` (NumPy allocations included).

Usage: ``python benchmarks/bench_geometry.py [--mesh 400 800 1600] [--chunk 65536]``
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
import boltzphlow.transport as tr  # noqa: E402
from boltzphlow.geometry.berry import band_geometry  # noqa: E402
from boltzphlow.grids.kmesh import KMesh, integrate_adaptive  # noqa: E402
from boltzphlow.transport._kspace import FermiSum  # noqa: E402


def timed(func, repeat: int) -> tuple[float, float, object]:
    """Best wall time over ``repeat`` runs, peak traced memory (MB) of one run, the result."""
    best = np.inf
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20, result


def kubo_eigh_ahc(h, mesh, chunk):
    """AHC with batched eigh + Kubo (third, decoupled band forces the general path)."""
    acc = FermiSum(np.array([0.0]), 0.0)
    for blk in h.mesh_blocks(mesh, chunk):
        m = len(blk.k)
        big = np.zeros((m, 3, 3), complex)
        big[:, :2, :2], big[:, 2, 2] = blk.h, 50.0
        dbig = np.zeros((m, 2, 3, 3), complex)
        dbig[:, :, :2, :2] = blk.dh
        e, om, _ = band_geometry(big, dbig)
        acc.add(e, om[..., 0] * blk.weight[:, None])
    return -acc.result()[0, 0] / (2 * np.pi)


def adaptive_savings() -> list[tuple[str, int, float]]:
    h = bands.haldane(m=0.7)
    target = tr.anomalous_hall(h, 0.0, 0.0, (1200, 1200))
    rows = []
    for n in (30, 60, 120, 240):
        err = abs(tr.anomalous_hall(h, 0.0, 0.0, (n, n)) - target)
        rows.append((f"uniform {n}x{n}", n * n, err))

    def curvature(frac):
        hk, dhk = h.hamiltonian_and_velocity(h.k_cartesian(frac))
        return band_geometry(hk, dhk)[1][:, 0, 0]

    for base, levels in ((15, 3), (30, 3), (30, 5)):
        res = integrate_adaptive(curvature, KMesh((base, base)), levels=levels, fraction=0.5)
        value = -res.value[0] * h.k_volume / (2 * np.pi)
        rows.append((f"adaptive {base}x{base}+{levels}", res.n_evaluations, abs(value - target)))
    return rows


def weyl_cme_rows() -> list[tuple[str, int, float]]:
    """CME of the Weyl lattice (b0 = 0.3, μ = 0, T = 0.01) against α_0 = -0.3 exactly."""
    w = bands.weyl_lattice(b0=0.3)
    rows = []
    for n in (30, 60, 120):
        res = tr.chiral_magnetic(w, 0.0, 0.01, (n, n, n), refine=0)
        rows.append((f"uniform {n}^3", n**3, abs(res.per_band[0] + 0.3)))

    def integrand(frac):
        hk, dhk = w.hamiltonian_and_velocity(w.k_cartesian(frac))
        e, om, vel = band_geometry(hk, dhk)
        return 1 / (np.exp(np.clip(e[:, 0] / 0.01, -700, 700)) + 1) * (vel * om).sum(-1)[:, 0]

    for base, levels in ((30, 6), (60, 6)):
        res = integrate_adaptive(integrand, KMesh((base,) * 3), levels=levels, fraction=0.2)
        value = -res.value[0] * w.k_volume / (2 * np.pi)
        rows.append((f"adaptive {base}^3+{levels}", res.n_evaluations, abs(value + 0.3)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", type=int, nargs="+", default=[400, 800, 1600])
    parser.add_argument("--chunk", type=int, default=1 << 16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-mu", type=int, default=101, help="μ values in the many-μ row")
    args = parser.parse_args()

    h = bands.haldane(t1=1.0, t2=0.15, phi=np.pi / 2, m=0.2)
    print(f"Haldane AHC, one core, chunk = {args.chunk} points")
    print(f"{'method':<28}{'mesh':>11}{'µs/k-point':>12}{'peak MB':>10}{'sigma_xy':>14}")
    mus = np.linspace(-3, 3, args.n_mu)
    mid = args.n_mu // 2
    chunk = args.chunk
    for n in args.mesh:
        mesh = KMesh.gamma_centered((n, n))
        h._fft_cache.clear()
        cases = [
            ("closed form 2x2, 1 mu",
             lambda m=mesh: tr.anomalous_hall(h, 0.0, 0.0, m, chunk_size=chunk)),
            (f"closed form 2x2, {args.n_mu} mu",
             lambda m=mesh: tr.anomalous_hall(h, mus, 0.0, m, chunk_size=chunk)[mid]),
            (f"closed form, T=0.05, {args.n_mu} mu",
             lambda m=mesh: tr.anomalous_hall(h, mus, 0.05, m, chunk_size=chunk)[mid]),
        ]
        if n <= 800:
            cases.append(
                ("eigh + Kubo (N-band path)", lambda m=mesh: kubo_eigh_ahc(h, m, chunk))
            )
        for name, func in cases:
            t, peak, value = timed(func, args.repeat)
            print(f"{name:<28}{n:>5}x{n:<5}{t / mesh.n_points * 1e6:>12.3f}{peak:>10.1f}"
                  f"{float(value):>14.10f}")
    print()
    print("Adaptive refinement, Haldane m = 0.7 (gap 0.16), sigma_xy at mu = 0")
    print(f"{'scheme':<24}{'k-points':>10}{'|error|':>12}")
    for name, points, err in adaptive_savings():
        print(f"{name:<24}{points:>10}{err:>12.2e}")
    print()
    print("Adaptive refinement, Weyl lattice CME (b0 = 0.3, T = 0.01), lower band")
    print(f"{'scheme':<24}{'k-points':>10}{'|error|':>12}")
    for name, points, err in weyl_cme_rows():
        print(f"{name:<24}{points:>10}{err:>12.2e}")


if __name__ == "__main__":
    main()
