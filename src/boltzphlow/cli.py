"""The ``boltzphlow`` command line: run / examples / plot / info.

Exit codes: 0 success, 2 a usage, config or input error (one line on stderr, no traceback),
130 interrupted (Ctrl-C or SIGTERM; the latest checkpoint is kept and the resume command shown).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import xarray as xr

from boltzphlow import __version__, results
from boltzphlow.config import (
    DEFAULT_EXAMPLE,
    ConfigError,
    config_from_result,
    config_stem,
    example_text,
    list_examples,
    load_config,
    validate_config,
)
from boltzphlow.jobs import Job, get_job
from boltzphlow.progress import CliContext

__all__ = ["DEFAULT_EXAMPLE", "main"]

#: Default output folder of ``boltzphlow run``.
DEFAULT_OUT_DIR = Path("boltzphlow-out")

#: Exit code for errors a user can fix (bad config, missing file); argparse uses it too.
EXIT_ERROR = 2
#: Exit code after Ctrl-C or SIGTERM (128 + SIGINT).
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except (ValueError, OSError) as exc:  # ConfigError is a ValueError
        _error(str(exc))
        return EXIT_ERROR


def _error(message: str) -> None:
    print(f"boltzphlow: error: {' '.join(message.split())}", file=sys.stderr)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="boltzphlow",
        description="Boltzmann transport beyond the textbook.",
        epilog="Run `boltzphlow COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run", help="run a config file or built-in example",
        description="Run a model from a TOML config (or a built-in example) and write "
                    "OUTDIR/<config name>.nc plus plots.",
    )
    run.add_argument("config", nargs="?", metavar="CONFIG",
                     help=f"a TOML file or a built-in example name (default: {DEFAULT_EXAMPLE})")
    run.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="KEY=VALUE",
                     help="override a config value, e.g. --set T_bath='50 mK' "
                          "(dotted keys for tables; repeatable)")
    run.add_argument("-o", "--out", type=Path, metavar="OUTDIR",
                     help=f"output folder (default: {DEFAULT_OUT_DIR}/; with --resume: the "
                          "folder of RESULT.nc)")
    run.add_argument("--resume", type=Path, metavar="RESULT.nc",
                     help="continue an interrupted run, writing back to RESULT.nc")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_cmd_run)

    # -- `sweep` subcommand goes here (parameter sweeps, boltzphlow.sweep) -------------------
    sweep = commands.add_parser(
        "sweep", help="run a config over a grid of parameter values (Dask)",
        description="Run a config for every combination of the --vary values on a Dask "
                    "cluster and write the results, concatenated along the swept keys, to "
                    "one NetCDF file (finished points are kept in OUT.points/ and reused).",
    )
    sweep.add_argument("config", metavar="CONFIG",
                       help="a TOML file or a built-in example name")
    sweep.add_argument("--vary", action="append", default=[], metavar="KEY=VALUES",
                       help="a swept config key: KEY=start:stop:count or KEY=a,b,c "
                            "(repeatable; default: the config's [sweep] table)")
    sweep.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE", help="override a config value (repeatable)")
    sweep.add_argument("--workers", type=int, default=2, metavar="N",
                       help="worker processes of the local Dask cluster (default 2; "
                            "1 runs serially)")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="use an existing Dask scheduler (e.g. tcp://host:8786)")
    sweep.add_argument("-o", "--out", type=Path, metavar="OUT.nc",
                       help=f"output file (default: {DEFAULT_OUT_DIR}/<config name>_sweep.nc)")
    sweep.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=_cmd_sweep)

    examples = commands.add_parser(
        "examples", help="list built-in examples or print one",
        description="List the built-in examples, or print the TOML of one "
                    "(`boltzphlow examples NAME > NAME.toml`).",
    )
    examples.add_argument("name", nargs="?", metavar="NAME")
    examples.set_defaults(handler=_cmd_examples)

    plot = commands.add_parser("plot", help="plot a result file",
                               description="Write the PNG figures of a result file.")
    plot.add_argument("result", type=Path, metavar="RESULT.nc")
    plot.add_argument("-o", "--out", type=Path, metavar="OUTDIR",
                      help="output folder (default: the folder of RESULT.nc)")
    plot.set_defaults(handler=_cmd_plot)

    info = commands.add_parser("info", help="describe a result file",
                               description="Print a result's model, provenance, variables and "
                                           "summary.")
    info.add_argument("result", type=Path, metavar="RESULT.nc")
    info.set_defaults(handler=_cmd_info)
    return parser


# --------------------------------------------------------------------------------------------
# run


def _cmd_run(args: argparse.Namespace) -> int:
    if args.resume is None:
        job, config, raw = load_config(args.config, args.overrides)
        out_dir = args.out or DEFAULT_OUT_DIR
        output = out_dir / f"{config_stem(args.config)}.nc"
        previous = None
    else:
        if args.config is not None or args.overrides:
            raise ConfigError("--resume", "takes the config from the result; "
                                          "give no CONFIG and no --set")
        output = args.resume
        previous = results.load(output)
        if results.is_complete(previous):
            print(f"{output} is already complete; nothing to resume")
            return 0
        raw = config_from_result(previous)
        job, config = validate_config(raw)
        out_dir = args.out or output.parent

    context = CliContext(output, job.name, raw, resume_from=previous, quiet=args.quiet)
    try:
        with _sigterm_as_interrupt(), context:
            ds = job.run(config, context)
    except KeyboardInterrupt:
        if context.flush() or previous is not None:
            print(f"boltzphlow: interrupted; partial result kept in {output}; resume with: "
                  f"boltzphlow run --resume {shlex.quote(str(output))}", file=sys.stderr)
        else:
            print("boltzphlow: interrupted before the first checkpoint; nothing written",
                  file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException:
        context.flush()  # keep what was computed; the error itself is reported by main
        raise

    ds = results.finalize(ds, job.name, raw, context.wall_time_s)
    results.save(ds, output)
    written = [output, *_plot(job, ds, out_dir)]
    print(job.summary(ds))
    print("\n".join(f"wrote {path}" for path in written))
    try:
        results.check_metadata(ds)
    except ValueError as exc:
        print(f"boltzphlow: warning: {exc}", file=sys.stderr)
    return 0


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:  # None: the previous handler was not set from Python; fall back to the default
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


# --------------------------------------------------------------------------------------------
# sweep


def _cmd_sweep(args: argparse.Namespace) -> int:
    from boltzphlow.sweep import sweep

    vary: dict[str, str] = {}
    for item in args.vary:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(item, "expected --vary KEY=start:stop:count or KEY=a,b,c")
        vary[key.strip()] = values.strip()
    out = args.out or DEFAULT_OUT_DIR / f"{config_stem(args.config)}_sweep.nc"
    with _sigterm_as_interrupt():
        ds = sweep(args.config, vary or None, workers=args.workers, scheduler=args.scheduler,
                   out=out, overrides=args.overrides, quiet=args.quiet)
    job = get_job(str(ds.attrs["model"]))
    written = [out, *_plot(job, ds, out.parent)]
    failed = int(ds.attrs.get("n_failed", 0))
    print(f"sweep: {int(ds.attrs['n_points'])} points, {failed} failed, "
          f"{int(ds.attrs.get('sweep_reused', 0))} reused")
    print(job.summary(ds))
    print("\n".join(f"wrote {path}" for path in written))
    return 0


# --------------------------------------------------------------------------------------------
# examples, plot, info


def _cmd_examples(args: argparse.Namespace) -> int:
    if args.name is not None:
        sys.stdout.write(example_text(args.name))
        return 0
    examples = list_examples()
    width = max(map(len, examples), default=0)
    for name, description in examples.items():
        default = " (default)" if name == DEFAULT_EXAMPLE else ""
        print(f"{name:<{width}}  {description}{default}")
    return 0


def _job_of(ds: xr.Dataset, path: Path) -> Job:
    """The job that produced a result (from ``attrs["model"]``)."""
    name = ds.attrs.get("model")
    if not name:
        raise ValueError(f"{path} has no 'model' attribute: not a BoltzPhlow result")
    try:
        return get_job(str(name))
    except KeyError as exc:
        raise ValueError(f"{path}: {exc.args[0]}") from None


def _plot(job: Job, ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Write a result's figures with a non-interactive backend; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    return [Path(path) for path in job.plot(ds, out_dir)]


def _cmd_plot(args: argparse.Namespace) -> int:
    ds = results.load(args.result)
    paths = _plot(_job_of(ds, args.result), ds, args.out or args.result.parent)
    print("\n".join(f"wrote {path}" for path in paths))
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    ds = results.load(args.result)
    job = _job_of(ds, args.result)
    if results.is_complete(ds):
        state = "complete"
    else:
        state = (f"partial (resume with: boltzphlow run --resume "
                 f"{shlex.quote(str(args.result))})")
    lines = [
        f"{args.result}",
        f"  model:      {job.name}",
        f"  version:    boltzphlow {ds.attrs.get('boltzphlow_version', '?')}",
        f"  state:      {state}",
        f"  wall time:  {float(ds.attrs.get('wall_time_s', float('nan'))):.3g} s",
        f"  created:    {ds.attrs.get('created', '?')}",
        "  variables:",
    ]
    for name, variable in ds.variables.items():
        dims = ", ".join(f"{dim}: {ds.sizes[dim]}" for dim in variable.dims)
        units = variable.attrs.get("units", "?")
        lines.append(f"    {name} ({dims}) [{units}]  {variable.attrs.get('long_name', '')}")
    print("\n".join(lines))
    print(job.summary(ds))
    return 0
