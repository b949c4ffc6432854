"""Speed of the thermal-properties table of a superconductor (issue 12, §Speed).

Measures, on one core:

1. the table of 100 temperatures (Δ, κ_s/κ_n, C_s, C_s/C_n, D_s/D_n) of Al, 0.05–1.6 K;
2. the same with a mean free path and a Fermi velocity (adds κ, D and the Kirchhoff potential,
   whose quadrature needs the gap at ~10³ more temperatures);
3. the relaxation-time κ (Eq. 28: one collision operator of the kinetic model per
   temperature), per temperature and for the table of the example ``al_thermal``;
4. the gap at 100 temperatures solved together against 100 scalar ``bcs_gap`` calls.

Run: ``python benchmarks/bench_superconductor_thermal.py``.  Prints a Markdown table; the issue
asks for ≤ 2 s for item 1.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core (set before numpy loads BLAS)


import numpy as np  # noqa: E402

import boltzphlow as bp  # noqa: E402
from boltzphlow.kinetics.superconductor import thermal as th  # noqa: E402
from boltzphlow.kinetics.superconductor.gap import bcs_gap  # noqa: E402
from timing import best_of  # noqa: E402


def main() -> None:
    al = bp.superconductor.material("Al")
    T = np.linspace(0.05, 1.6, 100)
    th.thermal_properties(al, T)  # first call: imports, Tc, quadrature nodes
    rows = []
    t_table = best_of(lambda: th.thermal_properties(al, T), 5)
    rows.append(("table of 100 temperatures: Δ, κ_s/κ_n, C_s, C_s/C_n, D_s/D_n",
                 f"{t_table * 1e3:.1f} ms"))
    t_full = best_of(lambda: th.thermal_properties(al, T, mean_free_path=1.0,
                                                   fermi_velocity=2030.0), 3)
    rows.append(("same with ℓ, v_F: + κ, D, Kirchhoff potential Φ", f"{t_full * 1e3:.1f} ms"))
    below = T[T < 0.99 * th.critical_temperature(al)]
    t_rt = best_of(lambda: th.relaxation_time_conductivity_ratio(al, below, 4.9e-4), 2)
    rows.append((f"relaxation-time κ at {below.size} temperatures (16 bins per k_BT)",
                 f"{t_rt:.2f} s ({t_rt / below.size * 1e3:.1f} ms per temperature)"))
    params = th.ThermalParameters(T_min=0.05, T_max=1.6, mean_free_path=1.0,
                                  fermi_velocity=2030.0)
    t_example = best_of(lambda: th.thermal_table(params), 2)
    rows.append(("the example al_thermal (100 temperatures, all of the above)",
                 f"{t_example:.2f} s"))
    t_gap = best_of(lambda: th.equilibrium_gap(al, T), 5)
    t_scalar = best_of(lambda: [bcs_gap(x, al.delta0, al.debye_energy) for x in T], 1)
    rows.append(("gap at 100 temperatures: one array call / 100 scalar calls of bcs_gap",
                 f"{t_gap * 1e3:.1f} ms / {t_scalar * 1e3:.0f} ms"))
    print("| thermal properties (one core) | time |\n|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")
    print(f"\nissue target (table of 100 temperatures ≤ 2 s): "
          f"{'met' if t_table <= 2.0 else 'MISSED'} ({t_table:.3f} s)")


if __name__ == "__main__":
    main()
