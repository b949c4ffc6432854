"""Speed of the spatial QP–phonon model (issue 13): radial geometry, 200 cells × 1024 QP
energy bins (1204 phonon energies), coupled QPs and phonons, both species diffusive (no
angular grid: at µs times the ballistic QP sub-steps, limited by v_F = 2030 µm/ns, would
number ~10⁶), a photon absorbed at the centre, phonon escape at the surface.

Measures the outer Strang steps ``T(dt/2) C(dt) T(dt/2)`` (collisions through the spine:
matrix-free ROS2, one step per collision step, GMRES stage solves to 1e-3) and reports the
cost per cell-step against qpsim's 3.3 ms per pixel-step at 200 bins.  The substrate at
T_bath sends its thermal phonons back through the escape surface.  Arguments:
``python benchmarks/bench_superconductor_spatial.py [t_end_ns] [dt_ns] [cells] [dt_first_ns]``
(default: to 1 µs, outputs every 100 ns, outer steps from 5 ns growing ×2 up to 100 ns:
14 steps, whose energy profiles are within 0.7 % of converged ones, see below).  Prints a
Markdown table.

Accuracy of the default steps (measured on 50 shells × 256 bins and 100 × 512, same set-up,
against dt = 3.125 / 6.25 ns equal steps): the error of the QP energy profile, max over the
output times of ``max_r |ΔE(t, r)| / max_r E(t, r)``, is 0.67 % / 0.68 % (phonons 0.01 %);
equal steps of 100 / 50 / 25 ns give 8.7 % / 1.3 % / 0.5 %: the error is made at the start,
where the photon's packet relaxes fastest.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # BLAS on one core (the FFTs use both)

import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import boltzphlow as bp  # noqa: E402
from boltzphlow.kinetics.superconductor.spatial import (  # noqa: E402
    PointPhoton,
    SpatialQPPhononModel,
)

QPSIM_MS = 3.3  # ms per pixel-step at 200 energy bins (issue 13, measured)


def main(t_end: float = 1000.0, dt: float = 100.0, cells: int = 200,
         dt_first: float = 5.0) -> None:
    al = bp.superconductor.material("Al")
    t0 = time.perf_counter()
    sp = SpatialQPPhononModel(al, "sphere", radius=50.0, cells=cells, T_bath=0.1,
                              energy_step=1.0, E_max=1204.0, phonon_boundary="escape",
                              phonon_transmission=0.3,
                              photon=PointPhoton(energy=1e6, position=0.0, size=5.0,
                                                 epsilon0=900.0, width=30.0))
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    # one L-stable ROS2 step per collision step: the splitting perturbs the local balance at
    # every outer step and adaptive steps would resolve the re-equilibration (~0.1 ns) each
    # time; the outer dt controls the error of the whole scheme (second order)
    ds = sp.evolve(t_end=t_end, n_out=max(2, round(t_end / 100.0)) + 1, dt=dt,
                   dt_first=dt_first, dt_growth=2.0, rtol=1e-3, atol=1e-12)
    wall = time.perf_counter() - t0
    outer = ds.attrs["outer_steps"]
    per_cell = wall / outer / cells
    rows = [
        ("grid", f"{cells} shells x {sp.grid.n_qp} QP bins x {sp.grid.n_phonon} phonon "
                 f"energies, diffusive QPs and phonons (no angles)"),
        ("set-up", f"{setup:.2f} s"),
        (f"evolve to {t_end:g} ns, dt from {dt_first:g} (x2) to {dt:g} ns",
         f"{wall:.1f} s ({outer} outer steps)"),
        ("ROS2 steps / rejected / GMRES iterations",
         f"{ds.attrs['solver_steps']} / {ds.attrs['solver_rejected']} / "
         f"{ds.attrs['solver_linear_iterations']}"),
        ("cost per cell-step", f"{per_cell * 1e3:.2f} ms (qpsim: {QPSIM_MS} ms per "
                               f"pixel-step at 200 bins)"),
        ("target", "1 µs in 60 s"),
        ("energy bookkeeping drift", f"{ds.attrs['bookkeeping_drift']:.1e}"),
        ("smallest f, n at the end", f"{float(ds.f[-1].min()):.1e}, {float(ds.n[-1].min()):.1e}"),
        ("energy out / in through the surface",
         f"{float(ds.energy_outflow[-1]):.4g} / {float(ds.energy_inflow[-1]):.4g} µeV"),
        ("energy escaped (net) / inside at the end",
         f"{float(ds.energy_escaped[-1]):.4g} / {float(ds.total_energy[-1]):.4g} µeV"),
    ]
    print(f"Spatial QP–phonon model ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores)\n")
    print("| quantity | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    args = [float(a) for a in sys.argv[1:3]]
    cells = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    first = float(sys.argv[4]) if len(sys.argv) > 4 else 5.0
    main(*args, cells=cells, dt_first=first)
