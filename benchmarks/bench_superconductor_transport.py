"""Speed of the superconductor transport steps in space (issue 13, transport operators).

One step of each operator at 200 cells × 1024 energy bins on one core: the diffusion step
(TR-BDF2, factorisation cached: the first call at a new dt pays for it, timed separately) in a
slab and a sphere, and the ballistic streaming in a sphere with 8 angles (MUSCL/SSP-RK2 and
upwind), per call of ``step`` and per explicit sub-step.  QPs in an Al-like gap ramp.

Run: ``python benchmarks/bench_superconductor_transport.py``; prints a Markdown table.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core (set before numpy loads BLAS)

import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from boltzphlow.kinetics.superconductor.dos import bin_states  # noqa: E402
from boltzphlow.kinetics.superconductor.spatial import (  # noqa: E402
    Diffusion,
    Slab,
    Sphere,
    Streaming,
    Wall,
    qp_bin_velocity,
)
from timing import best_of  # noqa: E402

CELLS, ENERGIES, ANGLES = 200, 1024, 8
#: Fermi velocity (µm/ns) and QP diffusivity scale (µm²/ns), Al-like.
V_F, D_N = 2030.0, 1.5e4


def qp_fields(geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edges = 170.0 + 1.0 * np.arange(ENERGIES + 1)                 # 1 µeV bins
    delta = np.linspace(175.0, 185.0, geometry.cells)[:, None]    # a gap ramp (µeV)
    w = bin_states(edges, delta)
    v = qp_bin_velocity(edges, delta, V_F)
    return w, v, D_N * v / V_F


def bench_diffusion(geometry, name: str, repeat: int) -> list[tuple[str, str]]:
    w, v, D = qp_fields(geometry)
    op = Diffusion(geometry, w, D, Wall("escape", 0.3), speed=v)
    f = np.exp(-np.arange(ENERGIES) / 50.0) * (1 + np.exp(-geometry.centres**2))[:, None]
    t0 = time.perf_counter()
    op.step(f, 1e-3)
    first = time.perf_counter() - t0
    again = best_of(lambda: op.step(f, 1e-3), repeat)
    return [(f"diffusion step, {name} (first call at this dt, incl. factorisation)",
             f"{first * 1e3:.1f} ms"),
            (f"diffusion step, {name} (cached factorisation)", f"{again * 1e3:.1f} ms")]


def bench_streaming(repeat: int) -> list[tuple[str, str]]:
    g = Sphere(20.0, CELLS)
    w, v, _ = qp_fields(g)
    rows = []
    for scheme in ("muscl", "upwind"):
        op = Streaming(g, ANGLES, w, v, Wall("escape", 0.3), scheme=scheme)
        f = op.isotropic(np.exp(-np.arange(ENERGIES) / 50.0) * np.ones((CELLS, 1)))
        dt = op.max_substep                       # one sub-step
        t1 = best_of(lambda op=op, f=f, dt=dt: op.step(f, dt), repeat)
        dt10 = 10 * op.max_substep
        t10 = best_of(lambda op=op, f=f, dt=dt10: op.step(f, dt), max(1, repeat // 3))
        rows += [(f"streaming sub-step, sphere, {ANGLES} angles, {scheme}",
                  f"{t1 * 1e3:.1f} ms (sub-step {op.max_substep * 1e6:.3g} fs)"),
                 (f"streaming step of 10 sub-steps, {scheme}", f"{t10 * 1e3:.0f} ms")]
    return rows


def main() -> None:
    rows = [("machine", f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                        f"Python {platform.python_version()}, NumPy {np.__version__}"),
            ("grid", f"{CELLS} cells × {ENERGIES} energy bins")]
    rows += bench_diffusion(Slab(50.0, CELLS), "slab", 20)
    rows += bench_diffusion(Sphere(20.0, CELLS), "sphere", 20)
    rows += bench_streaming(6)
    print("| measurement | result |\n|---|---|")
    for key, value in rows:
        print(f"| {key} | {value} |")


if __name__ == "__main__":
    main()
