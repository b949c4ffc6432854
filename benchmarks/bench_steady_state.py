"""Scaling of the superconductor steady state (issue 8, "Fast steady states that scale").

The ``al_steady_injection`` example (Al film, 100 mK bath, 2 ns escape, 1 fW injected at
700 µeV, E_max = 1800 µeV) on grids of 256 … 16384 QP bins (doubling, plus the example's own
1 µeV grid of 1620 bins and the awkward 4099), solved by :meth:`QPPhononModel.steady_state`
on one core: the wall time (best of ``--repeat`` runs), the peak memory the solve allocates
(``tracemalloc``, a separate run), Newton and GMRES iterations, and whether it converged.
The growth exponent ``p`` of ``time ∝ N^p`` (N = QP bins + phonon energies) is fitted by
least squares over the sizes above 1000 bins (below, fixed per-iteration costs dominate).

Run: ``python benchmarks/bench_steady_state.py`` (``--bins 256 1620`` for a subset,
``--dense`` to time the dense-Jacobian path too where it fits, ``--out table.md`` to write the
Markdown table to a file).  Prints the machine, the load and the table for docs/benchmarks.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core (set before numpy loads BLAS)

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from boltzphlow.apps.superconductor import build_model  # noqa: E402
from boltzphlow.config import load_config  # noqa: E402

#: QP bins measured by default (1620 is the example's 1 µeV grid).
BINS = (256, 512, 1024, 1620, 2048, 4099, 8192, 16384)
#: Largest system the dense path is timed on with ``--dense`` (unknowns).
DENSE_LIMIT = 4000


def model_with_bins(bins: int):
    """The example's model with about ``bins`` QP bins (the step must divide 2Δ)."""
    job, cfg, _ = load_config("al_steady_injection")
    span = cfg.grid.E_max - 179.0  # QP range above the gap (Δ ≈ 179 µeV at 100 mK)
    step = span / bins
    for _ in range(20):  # adjust the requested step until the grid has the wanted bins
        _, cfg, _ = load_config("al_steady_injection", [f"grid.energy_step={step!r}"])
        model = build_model(cfg)
        if model.grid.n_qp == bins:
            break
        step *= model.grid.n_qp / bins * (1 + 1e-9)
    return model, float(cfg.solver.tol)


def solve(model, tol: float, linear: str):
    with threadpool_limits(1):
        return model.steady_state(tol=tol, linear=linear)


def measure(bins: int, linear: str, repeat: int) -> dict:
    model, tol = model_with_bins(bins)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        ds = solve(model, tol, linear)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    solve(model, tol, linear)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    a = ds.attrs
    return {"bins": model.grid.n_qp, "unknowns": model.grid.n_qp + model.grid.n_phonon,
            "step": model.grid.step, "time": min(times), "peak": peak,
            "newton": int(a["solver_iterations"]), "gmres": int(a["solver_linear_iterations"]),
            "linear": a["solver_option_linear"], "status": a["solver_status"],
            "residual": float(a["residual"]), "qp_density": float(ds.qp_density)}


def growth_exponent(rows: list[dict], least_bins: int = 1000) -> float:
    """Least-squares slope of log(time) against log(unknowns) above ``least_bins``."""
    big = [r for r in rows if r["bins"] > least_bins and r["status"] == "success"]
    if len(big) < 2:
        return float("nan")
    x = np.log([r["unknowns"] for r in big])
    y = np.log([r["time"] for r in big])
    return float(np.polyfit(x, y, 1)[0])


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                      if line.startswith("Model name")), platform.processor())
    except OSError:
        model = platform.processor()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} CPUs; load average {load}"


def table(rows: list[dict]) -> str:
    lines = ["| QP bins | unknowns | step (µeV) | linear solve | time (s, one core) | peak memory "
             "(MB) | Newton / GMRES iterations | residual |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['bins']} | {r['unknowns']} | {r['step']:.4g} | {r['linear']} | "
                     f"{r['time']:.3f} | {r['peak'] / 1e6:.0f} | {r['newton']} / {r['gmres']} | "
                     f"{r['residual']:.1e}{'' if r['status'] == 'success' else ' FAILED'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bins", type=int, nargs="*", default=list(BINS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dense", action="store_true",
                        help=f"also time the dense path up to {DENSE_LIMIT} unknowns")
    parser.add_argument("--out", help="write the Markdown table to this file")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command: python benchmarks/bench_steady_state.py --repeat {args.repeat}"
          + (" --dense" if args.dense else ""))
    rows = []
    for bins in args.bins:
        for linear in ("auto", "dense") if args.dense else ("auto",):
            model, _ = model_with_bins(bins)
            size = model.grid.n_qp + model.grid.n_phonon
            if linear == "dense" and (size > DENSE_LIMIT or size <= 400):
                continue
            row = measure(bins, linear, args.repeat)
            rows.append(row)
            print(f"  {row['bins']} bins ({row['linear']}): {row['time']:.3f} s, "
                  f"{row['peak'] / 1e6:.0f} MB, {row['newton']} Newton / {row['gmres']} GMRES "
                  f"iterations, {row['status']}", flush=True)
    text = table(rows)
    auto = [r for r in rows if r["linear"] == "krylov"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    text += (f"\n\nGrowth exponent of the time (Newton–Krylov, above 1000 bins): "
             f"N^{growth_exponent(auto):.2f}; peak resident memory of the whole process "
             f"{rss:.0f} MiB; load average at the end "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
