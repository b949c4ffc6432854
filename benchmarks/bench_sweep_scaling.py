"""How a sweep scales with Dask workers: serial time, parallel time, speed-up, efficiency.

An N-point sweep of a real job is run serially (in this process, BLAS on one thread: the
one-core baseline), then on a local cluster of each ``--workers`` count, and optionally on an
existing cluster (``--scheduler ADDRESS``, or ``--existing W``: a local cluster of W workers
started here beforehand, as a stand-in for one).  An existing cluster is swept twice: cold
(its workers import the job's modules on their first point) and warm.

Default job: the superconductor example ``al_closed_relaxation`` (QP-phonon kinetics, fixed-step
relaxation scheme, so a point's cost is proportional to ``run.t_end``), its ``run.t_end``
scaled so that one point takes ``--point-seconds`` (default 2 s) on one core, swept over
the photon energy from 0.5 to 1.5 eV (every point on the same energy grid; a swept ``T_bath``
would move the grid with the gap, and the combined result would hold the union of the grids).
``--sleep`` replaces it by a job that sleeps that long and returns a result of the same size:
the overhead of the sweep machinery alone, independent of how loaded the machine is (with
``--scheduler`` its workers must import this file: put ``benchmarks/`` on their
``PYTHONPATH``).

For each run the table gives the wall time, speed-up (serial / parallel) and efficiency
(speed-up / workers), and where the rest goes:

* ``point`` -- mean seconds per point inside the workers (compute and writing its file);
* ``idle/pt`` -- worker-seconds not spent on points, per point: ``(W * wall - sum of the
  points' times) / N``: the overhead per point;
* ``client CPU`` -- CPU time of this process (the client, and the scheduler of a cluster
  started here) over the wall time, when the points ran elsewhere: mostly Dask's periodic
  work, a few per cent of one core;
* ``startup`` -- starting the cluster (or connecting) until the first point is submitted;
* ``tail`` -- wall time after the busiest worker's points: client-side work (reading the point
  files, combining, writing the result) plus start-up and scheduling gaps.

Usage::

    python benchmarks/bench_sweep_scaling.py --points 64 --workers 2 16 --existing 16
    python benchmarks/bench_sweep_scaling.py --points 16 --workers 2 --sleep --files
    python benchmarks/bench_sweep_scaling.py --scheduler tcp://host:8786 --workers

Run it on an otherwise idle machine with at least as many cores as workers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import Field

from boltzphlow import jobs
from boltzphlow.config import read_toml
from boltzphlow.jobs import Job
from boltzphlow.schema import ConfigModel
from boltzphlow.sweep import sweep

SWEEP_MODULE = importlib.import_module("boltzphlow.sweep")  # boltzphlow.sweep is the function

DEFAULT_CONFIG = "al_closed_relaxation"


# ------------------------------------------------------------------- the load-independent job
class SleepConfig(ConfigModel):
    """A point that sleeps: the sweep machinery's own cost, whatever the machine's load."""

    model: Literal["sleep_bench"]
    seconds: float = Field(2.0, ge=0.0)
    T_bath: float = 0.1
    n_out: int = Field(41, ge=1)
    n_bins: int = Field(600, ge=1)


def run_sleep(config: SleepConfig, context: object) -> xr.Dataset:
    """Sleep, then return an ``(n_out, n_bins)`` array (the size of a relaxation result)."""
    time.sleep(config.seconds)
    t = np.linspace(0.0, 1.0, config.n_out)
    energy = np.linspace(1.0, 2.0, config.n_bins)
    f = np.exp(-np.outer(t + config.T_bath, energy))

    def meta(name: str, units: str = "1") -> dict[str, str]:
        return {"units": units, "long_name": name}

    return xr.Dataset({"f": (("t", "E"), f, meta("occupation")),
                       "n": ("t", f.sum(axis=1), meta("density"))},
                      coords={"t": ("t", t, meta("time", "ns")),
                              "E": ("E", energy, meta("energy", "ueV"))})


SLEEP_JOB = Job(name="sleep_bench", config_model=SleepConfig, run=run_sleep,
                plot=lambda ds, out_dir, stem: [], summary=lambda ds: "sleep",
                description="a point that sleeps (sweep benchmark)")


# ------------------------------------------------------------------------------ measuring
def _one_core() -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def calibrate(raw: dict[str, Any], target_s: float) -> tuple[dict[str, Any], float]:
    """``raw`` with ``run.t_end`` scaled so one point takes about ``target_s`` on one core."""
    from boltzphlow.config import validate_config
    from boltzphlow.sweep import run_point

    job, _ = validate_config(raw)
    with _one_core():
        run_point(job, raw)  # imports and caches out of the way
        start = time.perf_counter()
        run_point(job, raw)
        seconds = time.perf_counter() - start
    t_end = str(raw["run"]["t_end"]).split()
    scaled = float(t_end[0]) * target_s / seconds
    out = {**raw, "run": {**raw["run"], "t_end": f"{scaled:.6g} {' '.join(t_end[1:])}".strip()}}
    return out, seconds


def _cpu_seconds() -> float:
    """CPU seconds of this process (every thread) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_sweep(raw: dict[str, Any], vary: dict[str, Any], folder: Path, name: str,
                **kwargs: Any) -> tuple[float, xr.Dataset]:
    """Wall seconds of one sweep into a fresh folder (nothing reused), and its result (with
    the client's CPU seconds in ``attrs["client_cpu_s"]``)."""
    start, cpu = time.perf_counter(), _cpu_seconds()
    ds = sweep(raw, vary, out=folder / f"{name}.nc", report=lambda line: None, **kwargs)
    wall = time.perf_counter() - start
    ds.attrs["client_cpu_s"] = _cpu_seconds() - cpu
    if int(ds.attrs["n_failed"]):
        raise SystemExit(f"{name}: {ds.attrs['n_failed']} points failed: "
                         f"{ds.attrs['sweep_errors'][:300]}")
    return wall, ds


def row(label: str, workers: int, wall: float, serial: float | None, ds: xr.Dataset) -> str:
    n = int(ds.attrs["n_points"])
    busy = float(ds.attrs["sweep_compute_time_s"]) + float(ds.attrs["sweep_store_time_s"])
    busiest = float(ds.attrs["sweep_busiest_worker_time_s"])
    speedup = f"{serial / wall:.2f}x" if serial else "-"
    efficiency = f"{serial / wall / workers:.0%}" if serial else "-"
    idle = (workers * wall - busy) / n
    client = float(ds.attrs["client_cpu_s"]) / wall
    shown = "-" if label.startswith("serial") else f"{client:.0%}"  # points ran here too
    return (f"| {label} | {workers} | {wall:.1f} | {speedup} | {efficiency} | {busy / n:.2f} | "
            f"{idle * 1e3:.0f} ms | {shown} | "
            f"{float(ds.attrs['sweep_startup_time_s']):.1f} | {wall - busiest:.1f} | "
            f"{float(ds.attrs['sweep_combine_time_s']):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=64, help="points of the sweep (64)")
    parser.add_argument("--workers", type=int, nargs="*", default=[2],
                        help="local cluster sizes to time (default 2; none: only --scheduler)")
    parser.add_argument("--scheduler", help="address of an existing Dask scheduler to time")
    parser.add_argument("--existing", type=int, metavar="W",
                        help="start a local cluster of W workers first and time it as an "
                             "existing cluster")
    parser.add_argument("--point-seconds", type=float, default=2.0,
                        help="seconds one point takes on one core (default 2)")
    parser.add_argument("--sleep", action="store_true",
                        help="points that sleep instead of computing (overhead only)")
    parser.add_argument("--files", action="store_true",
                        help="also time each local cluster with the client reading the point "
                             "files its workers wrote instead of receiving the results")
    parser.add_argument("--skip-serial", type=float, metavar="SECONDS",
                        help="take the serial time as given instead of measuring it")
    args = parser.parse_args()

    if args.sleep:
        jobs.register_job(SLEEP_JOB)
        raw: dict[str, Any] = {"model": "sleep_bench", "seconds": args.point_seconds}
        vary: dict[str, Any] = {"T_bath": np.linspace(0.1, 0.2, args.points).tolist()}
        one = args.point_seconds
    else:
        raw = {key: value for key, value in read_toml(DEFAULT_CONFIG).items() if key != "sweep"}
        raw, measured = calibrate(raw, args.point_seconds)
        vary = {"photon.energy": [f"{e:.6g} eV" for e in np.linspace(0.5, 1.5, args.points)]}
        print(f"{DEFAULT_CONFIG}: one point took {measured:.2f} s on one core; "
              f"run.t_end = {raw['run']['t_end']} for {args.point_seconds:g} s")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print(f"{platform.node()}: {os.cpu_count()} CPUs, load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f} at the start; {args.points} points of "
          f"{one if args.sleep else args.point_seconds:g} s\n")
    header = ("| run | workers | wall s | speed-up | efficiency | point s | idle/pt | "
              "client CPU | startup s | tail s | combine s |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [header]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        serial = args.skip_serial
        if serial is None:
            with _one_core():
                serial, ds = timed_sweep(raw, vary, folder, "serial", workers=1)
            lines.append(row("serial (one BLAS thread)", 1, serial, serial, ds))
            print(lines[-1], flush=True)
        for workers in args.workers:
            wall, ds = timed_sweep(raw, vary, folder, f"local{workers}", workers=workers)
            lines.append(row("new local cluster", workers, wall, serial, ds))
            print(lines[-1], flush=True)
            if args.files:
                SWEEP_MODULE._SHIP_RESULTS = False
                try:
                    wall, ds = timed_sweep(raw, vary, folder, f"files{workers}",
                                           workers=workers)
                finally:
                    SWEEP_MODULE._SHIP_RESULTS = True
                lines.append(row("new local cluster, client reads files", workers, wall,
                                 serial, ds))
                print(lines[-1], flush=True)
        clusters: list[tuple[str, Any]] = []
        if args.scheduler:
            clusters.append((args.scheduler, None))
        if args.existing:
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=args.existing, threads_per_worker=1,
                                   processes=True, dashboard_address=":0",
                                   silence_logs=logging.ERROR)
            clusters.append((cluster.scheduler_address, cluster))
        for address, cluster in clusters:
            from distributed import Client

            with Client(address, set_as_default=False) as client:
                workers = sum(client.nthreads().values())
            for state in ("cold", "warm"):
                wall, ds = timed_sweep(raw, vary, folder, f"existing_{state}",
                                       scheduler=address)
                lines.append(row(f"existing cluster, {state}", workers, wall, serial, ds))
                print(lines[-1], flush=True)
            if cluster is not None:
                cluster.close()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end\n")
    print("\n".join(lines))


if __name__ == "__main__":
    # Import this file as a module, so that the sleep job is pickled by reference: the workers
    # of a local cluster import it from sys.path (which they inherit).
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_sweep_scaling

    bench_sweep_scaling.main()
