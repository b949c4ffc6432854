"""Benchmark of the matrix BTE (issue 11): one full ``MatrixBTE(...).solve()`` per run.

Everything on (coherences, kinetic corrections, off-diagonal self-energies), zero-range
impurities (n = 0.5, strength 1; the ``"energy"`` method), δ a Gaussian of width T,
window μ ± 20 T.

(a) ``kpoints``: the 2-band massive Dirac model (v = Δ = 1, k_max = 2.5, μ = 2, T = 0.15)
on n × n meshes; the window [-1, 5] holds the whole upper band, so every mesh point is a
k-point of the solve (K = n²: 40² ≈ 1.6e3, 60² = 3.6e3, 100² = 1e4).

(b) ``bands``: N = 2, 4, 8 bands at a fixed mesh (default 40² = 1600 k-points): N/2
block-diagonal copies of the massive Dirac model with shifted masses Δ_j = 1 + 0.15 j
(j = 0 … N/2 - 1; same v, μ, T, box), so that no two bands are degenerate; the zero-range
impurities (V ∝ identity in the orbital basis) couple the blocks.

Each run is a fresh process (``resource.getrusage`` peak RSS is that run's); reported:
k-points, bands, unknowns, wall time of building the states and the operator (the
constructor) and of ``solve()`` (both field directions), GMRES iterations (the larger of
the two drives), peak RSS, the pairs of the near zone (cached between products), σ_xx;
then least-squares exponents of time, memory and near pairs against K or N.

(c) ``kpoints --scattering optical``: as (a) with constant-coupling optical phonons (the
energy path with two phonon shells).

(d) ``kpoints --scattering gaussian|acoustic``: as (a) on the pairwise path (q-dependent
V(q), acoustic phonons): every k-point pair is visited per operator product (``K² N⁴``).

Usage::

    python benchmarks/bench_matrix_bte.py kpoints [--sizes 40 60 100] [--scattering ...]
    python benchmarks/bench_matrix_bte.py bands [--bands 2 4 8] [--mesh 30]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

MU, T, DENSITY = 2.0, 0.15, 0.5
V, DELTA, K_MAX = 1.0, 1.0, 2.5
MASS_STEP = 0.15


def dirac_copies(n_bands: int):
    """``n_bands / 2`` block-diagonal massive Dirac copies with masses ``1 + 0.15 j``."""
    import boltzphlow as bp
    from boltzphlow.bands.hamiltonian import ContinuumModel

    if n_bands == 2:
        return bp.bands.massive_dirac(v=V, delta=DELTA, k_max=K_MAX)
    if n_bands % 2:
        raise ValueError("n_bands must be even")
    copies = n_bands // 2
    masses = DELTA + MASS_STEP * np.arange(copies)
    sx = np.array([[0, 1], [1, 0]], complex)
    sy = np.array([[0, -1j], [1j, 0]], complex)
    sz = np.array([[1, 0], [0, -1]], complex)
    eye = np.eye(copies)
    hx, hy = np.kron(eye, V * sx), np.kron(eye, V * sy)
    hz = np.kron(np.diag(masses), sz)

    def h(k: np.ndarray) -> np.ndarray:
        return k[..., 0, None, None] * hx + k[..., 1, None, None] * hy + hz

    def dh(k: np.ndarray) -> np.ndarray:
        out = np.empty(k.shape[:-1] + (2, n_bands, n_bands), complex)
        out[..., 0, :, :] = hx
        out[..., 1, :, :] = hy
        return out

    return ContinuumModel(h, n_bands, 2, K_MAX, velocity=dh,
                          name=f"{copies} massive Dirac copies")


def scattering(kind: str) -> list:
    """The scattering of a run: ``zero-range`` impurities or ``optical`` phonons (ω_0 = 0.3,
    g = 1, constant coupling; both on the energy path), ``gaussian`` impurities of range 1
    (forward scattering, the pairwise path) or ``acoustic`` phonons (c_s = 0.05, λ = 1,
    inelastic, the pairwise path)."""
    import boltzphlow as bp

    if kind == "zero-range":
        return [bp.scattering.Impurities(density=DENSITY, strength=1.0, potential="zero-range")]
    if kind == "gaussian":
        return [bp.scattering.Impurities(density=DENSITY, strength=1.0, potential="gaussian",
                                         range=1.0)]
    if kind == "optical":
        return [bp.scattering.OpticalPhonons(energy=0.3, coupling=1.0)]
    return [bp.scattering.AcousticPhonons(sound_velocity=0.05, coupling=1.0)]


def one(mesh: int, n_bands: int, kind: str = "zero-range") -> dict:
    import boltzphlow as bp

    h = dirac_copies(n_bands)
    start = time.perf_counter()
    mb = bp.transport.MatrixBTE(h, (mesh, mesh), MU, T, scattering(kind))
    built = time.perf_counter() - start
    start = time.perf_counter()
    res = mb.solve()
    solved = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB → GiB
    return {"mesh": mesh, "k": int(mb.n_k), "bands": int(mb.n_bands),
            "unknowns": int(res.info["unknowns"]), "method": mb.method,
            "near_pairs": int(getattr(mb, "_near_pairs", 0)),
            "build_s": built, "solve_s": solved, "total_s": built + solved,
            "iterations": int(res.iterations), "converged": bool(res.converged),
            "scattering": kind, "tiles_cached": bool(res.info["tiles_cached"]),
            "peak_GiB": peak, "sigma_xx": float(res.sigma[0, 0])}


def table(runs: list[tuple[int, int]], against: str, kind: str = "zero-range") -> None:
    rows = []
    print("| K (mesh) | N | unknowns | states+operator (s) | solve (s) | total (s) "
          "| GMRES its | peak RSS (GiB) | near pairs | σ_xx (e²/h) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mesh, n in runs:
        out = subprocess.run([sys.executable, __file__, "one", str(mesh), str(n), kind],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"| {r['k']} ({mesh}²) | {r['bands']} | {r['unknowns']} | {r['build_s']:.1f} "
              f"| {r['solve_s']:.1f} | {r['total_s']:.1f} | {r['iterations']}"
              f"{'' if r['converged'] else ' (not converged)'} | {r['peak_GiB']:.2f} "
              f"| {r['near_pairs']:.3g} | {r['sigma_xx']:.5g} |", flush=True)
    if len(rows) >= 2:
        x = np.log([r["k" if against == "K" else "bands"] for r in rows])
        for key in ("build_s", "solve_s", "total_s", "peak_GiB", "near_pairs"):
            if min(r[key] for r in rows) <= 0:
                continue
            slope = np.polyfit(x, np.log([r[key] for r in rows]), 1)[0]
            print(f"{key} ∝ {against}^{slope:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    a = sub.add_parser("kpoints")
    a.add_argument("--sizes", type=int, nargs="+", default=[40, 60, 100])
    a.add_argument("--scattering", choices=["zero-range", "optical", "gaussian", "acoustic"],
                   default="zero-range")
    b = sub.add_parser("bands")
    b.add_argument("--bands", type=int, nargs="+", default=[2, 4, 8])
    b.add_argument("--mesh", type=int, default=40)
    o = sub.add_parser("one")
    o.add_argument("mesh", type=int)
    o.add_argument("n_bands", type=int)
    o.add_argument("kind", nargs="?", default="zero-range")
    args = parser.parse_args()
    print(f"# {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    if args.what == "one":
        print(json.dumps(one(args.mesh, args.n_bands, args.kind)))
    elif args.what == "kpoints":
        table([(n, 2) for n in args.sizes], "K", args.scattering)
    else:
        table([(args.mesh, n) for n in args.bands], "N")


if __name__ == "__main__":
    main()
