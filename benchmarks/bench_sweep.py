"""Benchmark of the sweep machinery itself: seconds per point spent outside the job.

A trivial job (a few numbers per point, microseconds of work) is swept serially over grids of
growing size, so that what is timed is BoltzPhlow's own cost per point: building and
validating the point configs, running and storing each point (one NetCDF file per point),
combining them into one result, and a rerun that reuses every stored point.  The baseline
for the scaling work on large sweeps.

Usage: ``python benchmarks/bench_sweep.py [--points 100 1000 3000]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr

from boltzphlow import jobs
from boltzphlow.jobs import Job
from boltzphlow.schema import ConfigModel
from boltzphlow.sweep import sweep


class _Config(ConfigModel):
    model: Literal["bench"]
    a: float = 1.0
    b: float = 1.0


def _run(config: _Config, context: object) -> xr.Dataset:
    x = np.linspace(0.0, 1.0, 8)
    return xr.Dataset({"y": ("x", config.a * x + config.b, {"units": "1", "long_name": "y"}),
                       "s": ((), config.a * config.b, {"units": "1", "long_name": "a b"})},
                      coords={"x": ("x", x, {"units": "1", "long_name": "x"})})


_JOB = Job(name="bench", config_model=_Config, run=_run, plot=lambda ds, o, s: [],
           summary=lambda ds: "", description="sweep benchmark")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[100, 1000, 3000])
    args = parser.parse_args()
    jobs.register_job(_JOB)
    print(f"{'points':>8} {'first run':>12} {'per point':>12} {'rerun':>10} {'per point':>12}")
    for n in args.points:
        side = int(np.ceil(np.sqrt(n)))
        vary = {"a": f"1:2:{side}", "b": f"1:2:{int(np.ceil(n / side))}"}
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "bench.nc"
            start = time.perf_counter()
            ds = sweep({"model": "bench"}, vary, workers=1, out=out)
            first = time.perf_counter() - start
            start = time.perf_counter()
            again = sweep({"model": "bench"}, vary, workers=1, out=out)
            rerun = time.perf_counter() - start
        count = int(ds.attrs["n_points"])
        assert int(again.attrs["sweep_reused"]) == count
        print(f"{count:8d} {first:10.2f} s {first / count * 1e3:9.2f} ms {rerun:8.2f} s "
              f"{rerun / count * 1e3:9.2f} ms")


if __name__ == "__main__":
    main()
