"""Speed of the real-frequency Eliashberg solver (issue 12, §Speed: ≤ 2 s on one core for the
self-consistency on 4096 real-frequency points).

Measures, on one core (BLAS and FFT single-threaded), for Pb (shipped α²F, μ*) at T = 1 K:

1. the self-consistent solution on n_points = 4096 (ε > 0; 8192 on the whole axis) from the
   BCS start, without Tc;
2. the same with Tc (linearised Matsubara equations and the real-axis linearised map);
3. one iteration (two FFT convolutions for Im[εZ], Im[φ] and two FFT Hilbert transforms).

Run: ``python benchmarks/bench_eliashberg.py``; prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import boltzphlow as bp  # noqa: E402
from boltzphlow.kinetics.superconductor.eliashberg import eliashberg  # noqa: E402
from boltzphlow.units import K_B  # noqa: E402


def best_of(fn, repeat: int) -> tuple[float, object]:
    """Smallest wall time of ``repeat`` calls (s) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    pb = bp.superconductor.material("Pb")
    t_sc, ds = best_of(lambda: eliashberg(pb, T=1.0, n_points=4096, compute_tc=False), 3)
    it = ds.attrs["iterations"]
    t_tc, ds_tc = best_of(lambda: eliashberg(pb, T=1.0, n_points=4096), 1)
    ratio = 2 * ds_tc.attrs["delta0"] / (K_B * ds_tc.attrs["Tc"])
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    rows = [
        ("machine", f"{platform.processor() or platform.machine()}, one core; uptime: {load}"),
        ("Pb self-consistency, 4096 points, T = 1 K",
         f"{t_sc:.2f} s ({it} iterations, {1e3 * t_sc / it:.2f} ms each), Δ0 = "
         f"{ds.attrs['delta0']:.1f} µeV"),
        ("same with Tc (Matsubara + real-axis linearised)",
         f"{t_tc:.2f} s; Tc = {ds_tc.attrs['Tc']:.3f} K "
         f"(Matsubara {ds_tc.attrs['Tc_matsubara']:.3f} K), 2Δ0/k_BTc = {ratio:.3f}"),
    ]
    print("| Eliashberg (real axis) | |\n|---|---|")
    for key, val in rows:
        print(f"| {key} | {val} |")


if __name__ == "__main__":
    main()
