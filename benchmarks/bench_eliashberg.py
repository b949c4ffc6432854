"""Speed of the real-frequency Eliashberg solver (issue 12, §Speed: ≤ 2 s on one core for the
self-consistency on 4096 real-frequency points).

Measures, on one core (BLAS and FFT single-threaded), for Pb (shipped α²F, μ*) at T = 1 K:

1. the self-consistent solution on n_points = 4096 (ε > 0; 8192 on the whole axis) from the
   BCS start, without Tc;
2. the same with Tc (linearised Matsubara equations and the real-axis linearised map);
3. one iteration (two FFT convolutions for Im[εZ], Im[φ] and two FFT Hilbert transforms);
4. the kinetics with ``renormalisation="eliashberg"`` (20 µeV bins to 4.5 meV): the renormalised
   bin weights and one evaluation of the collision rates, against the BCS model on the same
   grid.

Run: ``python benchmarks/bench_eliashberg.py``; prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import platform  # noqa: E402
import subprocess  # noqa: E402

import boltzphlow as bp  # noqa: E402
from boltzphlow.kinetics.superconductor.eliashberg import eliashberg  # noqa: E402
from boltzphlow.units import K_B  # noqa: E402
from timing import best_of  # noqa: E402


def main() -> None:
    pb = bp.superconductor.material("Pb")
    ds = eliashberg(pb, T=1.0, n_points=4096, compute_tc=False)
    t_sc = best_of(lambda: eliashberg(pb, T=1.0, n_points=4096, compute_tc=False), 3)
    it = ds.attrs["iterations"]
    ds_tc = eliashberg(pb, T=1.0, n_points=4096)
    t_tc = best_of(lambda: eliashberg(pb, T=1.0, n_points=4096), 1)
    grid = dict(T_bath=1.0, energy_step=20.0, E_max=4500.0)

    def renormalised():
        return bp.superconductor.QPPhononModel(pb, renormalisation="eliashberg",
                                               eliashberg_result=ds, **grid)

    model = renormalised()
    bcs = bp.superconductor.QPPhononModel(pb, delta=model.delta, **grid)
    state = model.thermal(1.0)
    t_build = best_of(renormalised, 5)
    t_bcs_build = best_of(lambda: bp.superconductor.QPPhononModel(pb, delta=model.delta,
                                                                  **grid), 5)
    op, op_bcs = model.collision_operator(), bcs.collision_operator()
    t_rates = best_of(lambda: op.rates(state.f, state.n), 20)
    t_rates_bcs = best_of(lambda: op_bcs.rates(state.f, state.n), 20)
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
        (f"kinetics, Pb, {model.grid.n_qp} QP bins + {model.grid.n_phonon} phonons: model "
         "with the Eliashberg weights (given the solution) / BCS",
         f"{1e3 * t_build:.1f} ms / {1e3 * t_bcs_build:.1f} ms"),
        ("one evaluation of the collision rates: renormalised / BCS",
         f"{1e3 * t_rates:.2f} ms / {1e3 * t_rates_bcs:.2f} ms"),
    ]
    print("| Eliashberg (real axis) | |\n|---|---|")
    for key, val in rows:
        print(f"| {key} | {val} |")


if __name__ == "__main__":
    main()
