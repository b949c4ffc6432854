"""Benchmark of the k-space geometry: Haldane anomalous Hall conductivity, µs per k-point.

Runs on one core (BLAS threads pinned to 1 before NumPy is imported) and prints a table:

* ``closed form 2x2``: the production path (FFT Bloch sums on the regular mesh, chunked;
  closed-form two-band curvature; all μ of the call in one pass);
* ``eigh + Kubo``: the same Bloch sums with batched ``numpy.linalg.eigh`` and the Kubo sum
  (the generic N-band path, forced by padding H with a decoupled third band);
* ``adaptive``: k-points needed by adaptive refinement versus a uniform mesh for the same error
  (Haldane model near its gap closing, m = 0.7);
* ``WannierBerri`` (``--wannierberri``, optional: ``pip install wannierberri numba``): the same
  Haldane model written to a Wannier90 ``_tb.dat`` file (2D lattice embedded in 3D with
  c = 1 Å, one k-point along z), its static ``AHC`` calculator on the same Γ-centred mesh, run
  serially, without symmetries or adaptive refinement, best FFT block size of ``--wb-fft``
  (after a small warm-up run that compiles its numba kernels).  Its result (S/m) is converted
  to e²/h with the factor (e²/h)/1 Å and printed next to ours.

Peak memory is measured with ``tracemalloc`` (NumPy allocations included).

Usage: ``python benchmarks/bench_geometry.py [--mesh 400 800 1600] [--chunk 65536]
[--wannierberri] [--wb-mesh 400] [--wb-fft 50 100 200] [--skip-adaptive]``
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import boltzphlow.bands as bands  # noqa: E402
import boltzphlow.geometry as geo  # noqa: E402
import boltzphlow.observables as tr  # noqa: E402
from boltzphlow.geometry.berry import band_geometry  # noqa: E402
from boltzphlow.grids.kmesh import KMesh, integrate_adaptive  # noqa: E402
from boltzphlow.kspace import FermiSum  # noqa: E402


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
        res = tr.chiral_magnetic(w, 0.0, 0.01, (n, n, n), nodes=None)
        rows.append((f"uniform {n}^3", n**3, abs(res.per_band[0] + 0.3)))
    nodes = geo.find_nodes(w)
    for n in (30, 60):  # node-centred quadrature: the mesh plus 64 x 32 x 64 points per node
        res = tr.chiral_magnetic(w, 0.0, 0.01, (n, n, n), nodes=nodes, n_radial=64)
        rows.append((f"nodes {n}^3+2x64^3/2", n**3 + len(nodes) * 64**3 // 2,
                     abs(res.per_band[0] + 0.3)))

    def integrand(frac):
        hk, dhk = w.hamiltonian_and_velocity(w.k_cartesian(frac))
        e, om, vel = band_geometry(hk, dhk)
        return 1 / (np.exp(np.clip(e[:, 0] / 0.01, -700, 700)) + 1) * (vel * om).sum(-1)[:, 0]

    for base, levels in ((30, 6), (60, 6)):
        res = integrate_adaptive(integrand, KMesh((base,) * 3), levels=levels, fraction=0.2)
        value = -res.value[0] * w.k_volume / (2 * np.pi)
        rows.append((f"adaptive {base}^3+{levels}", res.n_evaluations, abs(value + 0.3)))
    return rows


#: (e²/h) / (1 Å) in S/m: a 2D σ of 1 e²/h in a 3D crystal of interlayer distance 1 Å.
E2_H_PER_ANGSTROM_S_PER_M = 7.748091729e-5 / 2 / 1e-10


def write_tb_dat(model: bands.TightBinding, path: Path, c: float = 1.0) -> Path:
    """Write a 2D tight-binding model as a 3D Wannier90 ``_tb.dat`` (layer distance ``c``)."""
    lattice = np.zeros((3, 3))
    lattice[:2, :2], lattice[2, 2] = model.lattice, c
    positions = np.zeros((model.n_bands, 3))
    positions[:, :2] = model.positions
    centres = positions @ lattice
    n = model.n_bands
    lines = [f"{model.name}", *(" ".join(f"{x:.16f}" for x in row) for row in lattice),
             str(n), str(len(model.R))]
    lines += [" ".join(["1"] * len(model.R[i : i + 15])) for i in range(0, len(model.R), 15)]
    for i, r in enumerate(model.R):
        lines += ["", f"{r[0]} {r[1]} 0"]
        lines += [f"{a + 1} {b + 1} {model.h_R[i, a, b].real:.16e} {model.h_R[i, a, b].imag:.16e}"
                  for b in range(n) for a in range(n)]
    for r in model.R:
        lines += ["", f"{r[0]} {r[1]} 0"]
        for b in range(n):
            for a in range(n):
                x = centres[a] if (a == b and not np.any(r)) else np.zeros(3)
                lines.append(f"{a + 1} {b + 1} {x[0]:.16f} 0 {x[1]:.16f} 0 {x[2]:.16f} 0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wannierberri_rows(h: bands.TightBinding, n: int, mus: np.ndarray, ffts: list[int],
                      repeat: int) -> list[tuple[str, float, float]]:
    """WannierBerri's AHC of ``h`` on an n x n x 1 mesh: (label, µs per k-point, σ(μ=0) in e²/h).

    Raises
    ------
    ImportError
        If WannierBerri (or numba, which its static calculators need) is not installed.
    """
    import numba  # noqa: F401 - WannierBerri's Fermi-sea weights need it
    import wannierberri as wb

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        system = wb.system.System_R.from_tb_dat(
            str(write_tb_dat(h, Path(folder) / "haldane_tb.dat")), berry=True)

        def ahc(nk: int, fft: int, efermi: np.ndarray) -> np.ndarray:
            grid = wb.Grid(system, NK=[nk, nk, 1], NKFFT=[fft, fft, 1])
            calc = {"ahc": wb.calculators.static.AHC(
                Efermi=efermi, kwargs_formula={"external_terms": False})}
            result = wb.run(system, grid=grid, calculators=calc, parallel=False,
                            use_irred_kpt=False, symmetrize=False, print_progress_step_time=1e9,
                            fout_name=str(Path(folder) / "result"))  # not into the cwd
            return result.results["ahc"].data[:, 2] / E2_H_PER_ANGSTROM_S_PER_M

        ahc(20, 20, np.array([0.0]))  # warm-up: numba compilation
        rows = []
        for label, efermi in (("1 mu", np.array([0.0])), (f"{len(mus)} mu", mus)):
            best, best_fft, value = np.inf, 0, np.nan
            for fft in ffts:
                if n % fft:
                    continue
                for _ in range(repeat):  # best of `repeat` (no tracemalloc run: too slow)
                    start = time.perf_counter()
                    sigma = ahc(n, fft, efermi)
                    t = time.perf_counter() - start
                    best, best_fft = (t, fft) if t < best else (best, best_fft)
                if best_fft == fft:
                    value = float(sigma[len(efermi) // 2])
            rows.append((f"WannierBerri, {label} (FFT {best_fft})", best / n**2 * 1e6, value))
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", type=int, nargs="+", default=[400, 800, 1600])
    parser.add_argument("--chunk", type=int, default=1 << 16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-mu", type=int, default=101, help="μ values in the many-μ row")
    parser.add_argument("--wannierberri", action="store_true",
                        help="also time WannierBerri's AHC (optional dependency)")
    parser.add_argument("--wb-mesh", type=int, nargs="+", default=[400])
    parser.add_argument("--wb-fft", type=int, nargs="+", default=[50, 100, 200],
                        help="WannierBerri FFT block sizes to try (the best is reported)")
    parser.add_argument("--skip-adaptive", action="store_true",
                        help="skip the adaptive-refinement tables")
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
    if args.wannierberri:
        print()
        print("WannierBerri on the same model (serial, no symmetry, no refinement)")
        for n in args.wb_mesh:
            try:
                rows = wannierberri_rows(h, n, mus, args.wb_fft, max(1, args.repeat - 1))
            except ImportError as exc:
                print(f"WannierBerri not available: {exc}")
                break
            for name, us, value in rows:
                print(f"{name:<34}{n:>5}x{n:<5}{us:>12.3f}{'':>10}{value:>14.10f}")
    if args.skip_adaptive:
        return
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
