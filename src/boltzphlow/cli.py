"""The ``boltzphlow`` command line: run / sweep / examples / keys / plot / info.

Exit codes

====  ==========================================================================================
0     success (also when stdout is a pipe closed early, as in ``boltzphlow info R.nc | head``:
      the rest of the output is discarded, quietly)
1     internal error: a bug, reported in one line ``boltzphlow: internal error: <Type>: <message>
      (run with --debug for the traceback)``; ``--debug`` prints the traceback
2     a usage, config or input error, one line ``boltzphlow: error: <message>``: a bad config or
      value, a missing or unreadable file, a corrupted result (checksum), a refused
      ``--resume``, too little memory for the run
3     the result failed its own check (``attrs["check_failed"]``, e.g. energy bookkeeping): it
      is saved, flagged, and plotted all the same, then ``boltzphlow: error: result failed its
      own check: <what> (kept in <file>)``
130   interrupted by Ctrl-C (SIGINT) or SIGTERM, at any time; one line says what was kept:

      * before the first checkpoint: ``boltzphlow: interrupted before the first checkpoint;
        nothing written``;
      * after a checkpoint (or when resuming): ``boltzphlow: interrupted; partial result kept
        in <file>; resume with: boltzphlow run --resume <file>``;
      * during the final write, the signal waits until the file is in place; then, and during
        plotting: ``boltzphlow: interrupted after the result was saved; <file> is complete;
        redraw its plots with: boltzphlow plot <file>``;
      * a sweep: ``boltzphlow: interrupted; finished points are kept in <out>.points/; run the
        same command again to continue``.

      Temporary files are always removed.  While a file is being written a signal waits for
      the write to end; a third signal stops the write (the previous file is kept).
====  ==========================================================================================

A failed plot is not an error of the run: ``boltzphlow: warning: plotting failed: ...`` on
stderr, and the exit code of the run (``boltzphlow plot`` alone reports it as an internal error).
"""

from __future__ import annotations

# Only light modules here: the heavy ones are imported by ``main`` once it handles signals.
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

__all__ = ["EXIT_CHECK_FAILED", "EXIT_ERROR", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "Interrupted",
           "main"]

#: Default output folder of ``boltzphlow run``.
DEFAULT_OUT_DIR = Path("boltzphlow-out")

#: Exit code for a genuine internal error (a bug).
EXIT_INTERNAL = 1
#: Exit code for errors a user can fix (bad config, missing file); argparse uses it too.
EXIT_ERROR = 2
#: Exit code for a result that failed its own physics check (kept in the file, flagged).
EXIT_CHECK_FAILED = 3
#: Exit code after Ctrl-C or SIGTERM (128 + SIGINT).
EXIT_INTERRUPTED = 130

#: Longest error message printed (characters); longer ones are cut.
MAX_MESSAGE = 600

#: Start of the note added to an error that leaves a partial result behind.
_PARTIAL_NOTE = "partial result kept in"

#: Signals the command line turns into :class:`Interrupted`.
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread for SIGINT (Ctrl-C) or SIGTERM while :func:`main` runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalGuard:
    """The SIGINT/SIGTERM handler of the command line: raises :class:`Interrupted`, or waits.

    Inside :meth:`deferred` a signal is held and raised when the outermost deferred block ends
    (``drop=True``: forgotten instead, for cleanup after an interrupt).  A third signal held in
    one deferred stretch is raised at once, so a hung write can still be stopped.
    :func:`boltzphlow.results.save` finds the installed guard and writes inside
    :meth:`deferred`, so a file being written is never left half-done by a signal.
    """

    #: Signals held in one deferred stretch after which the next one is raised at once.
    PATIENCE = 2

    def __init__(self) -> None:
        self._depth = 0
        self._pending: int | None = None
        self._held = 0
        self._previous: dict[int, Any] = {}
        #: Called (without arguments) just before an :class:`Interrupted` is raised.
        self.on_interrupt: list[Callable[[], None]] = []

    def install(self) -> bool:
        """Handle SIGINT and SIGTERM (main thread only); return whether it did."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self)
        return True

    def uninstall(self) -> None:
        """Restore the handlers found by :meth:`install`."""
        for signum, previous in self._previous.items():
            # None: the previous handler was not set from Python; fall back to the default
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self._depth and self._held < self.PATIENCE:
            self._held += 1
            if self._pending is None:
                self._pending = signum
            return
        self._pending, self._held = None, 0
        self._raise(signum)

    def _raise(self, signum: int) -> None:
        for callback in self.on_interrupt:
            try:
                callback()
            except Exception:  # noqa: BLE001, S110 - a callback must not mask the interrupt
                pass
        raise Interrupted(signum)

    @contextmanager
    def deferred(self, *, drop: bool = False) -> Iterator[None]:
        """Hold SIGINT/SIGTERM within the block; raise (or with ``drop``, forget) them after."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                pending, self._pending, self._held = self._pending, None, 0
                if pending is not None and not drop:
                    self._raise(pending)


# --------------------------------------------------------------------------------------------
# output that survives a closed pipe


class _Stdout:
    """Prints to stdout; once the reader has gone (``| head``), the rest is discarded quietly."""

    def __init__(self) -> None:
        self.closed = False

    def write(self, text: str) -> None:
        if self.closed:
            return
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            self.close()

    def print(self, *lines: str) -> None:
        self.write("".join(f"{line}\n" for line in lines))

    def close(self) -> None:
        """The Python docs' recipe: point fd 1 at /dev/null so that no later flush fails."""
        self.closed = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # stdout is not a real file (tests): just stop writing
            pass


_STDOUT = _Stdout()


def _stderr(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (BrokenPipeError, ValueError):
        pass


def _one_line(message: str) -> str:
    text = " ".join(str(message).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _error(message: str) -> None:
    _stderr(f"boltzphlow: error: {_one_line(message)}")


def _warning(message: str) -> None:
    _stderr(f"boltzphlow: warning: {_one_line(message)}")


def _format_warning(message: Warning | str, category: type[Warning], *args: Any,
                    **kwargs: Any) -> str:
    """Python warnings raised during a command, as one ``boltzphlow: warning:`` line."""
    return f"boltzphlow: warning: {_one_line(str(message))}\n"


def _note(message: str) -> None:
    _stderr(f"boltzphlow: note: {_one_line(message)}")


def _quote(path: object) -> str:
    import shlex

    return shlex.quote(str(path))


def _print_traceback(exc: BaseException) -> None:
    import traceback

    try:
        traceback.print_exception(exc, file=sys.stderr)
    except (BrokenPipeError, ValueError):
        pass


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {_one_line(str(exc)) or '(no message)'}"


# --------------------------------------------------------------------------------------------
# main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    SIGINT and SIGTERM are handled from here on (start-up imports included); see the module
    docstring for the exit codes and messages.
    """
    global _STDOUT
    argv = list(sys.argv[1:] if argv is None else argv)
    _STDOUT = _Stdout()
    guard = SignalGuard()
    guard.install()
    debug = "--debug" in argv[: argv.index("--")] if "--" in argv else "--debug" in argv
    try:
        try:
            parser = _build_parser()
            try:
                args = parser.parse_args(argv)
            except SystemExit as exc:  # --help, --version, usage errors: argparse has printed
                return exc.code if isinstance(exc.code, int) else EXIT_ERROR
            except BrokenPipeError:  # --help | head
                _STDOUT.close()
                return 0
            args.argv, args.debug, args.guard = argv, debug, guard
            previous_format = warnings.formatwarning
            warnings.formatwarning = _format_warning  # one line; recording callers unaffected
            try:
                return args.handler(args)
            finally:
                warnings.formatwarning = previous_format
        except BaseException as exc:  # noqa: BLE001 - every exception becomes one line
            return _report(exc, debug)
    except KeyboardInterrupt:  # a signal while reporting: say so, briefly
        _stderr("boltzphlow: interrupted")
        return EXIT_INTERRUPTED
    finally:
        guard.uninstall()


def _report(exc: BaseException, debug: bool) -> int:
    """Print ``exc`` as one line (plus its traceback with ``--debug``); return the exit code."""
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    if isinstance(exc, KeyboardInterrupt):
        _stderr("boltzphlow: interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError) and _STDOUT.closed:
        return 0
    if debug:
        _print_traceback(exc)
    notes = [note for note in getattr(exc, "__notes__", ()) if str(note).startswith(_PARTIAL_NOTE)]
    extra = f" ({'; '.join(notes)})" if notes else ""
    if isinstance(exc, ValueError | OSError):  # ConfigError and boltzphlow.errors.* included
        _stderr(f"boltzphlow: error: {_one_line(str(exc) or type(exc).__name__)}{extra}")
        return EXIT_ERROR
    if isinstance(exc, MemoryError):
        _error(f"out of memory; make the grids or meshes of the config smaller{extra}")
        return EXIT_ERROR
    what = str(exc) if isinstance(exc, _PlotFailed) else _describe(exc)
    _stderr(f"boltzphlow: internal error: {_one_line(what)}{extra} "
            "(run with --debug for the traceback)")
    return EXIT_INTERNAL


def _build_parser() -> argparse.ArgumentParser:
    import argparse

    from boltzphlow.config import DEFAULT_EXAMPLE

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print the traceback of an error")
    parser = argparse.ArgumentParser(
        prog="boltzphlow",
        description="Boltzmann transport beyond the textbook.",
        epilog="Run `boltzphlow COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action=_version_action, nargs=0,
                        help="show the program's version number and exit")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an error (with any command)")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run", help="run a config file or built-in example", parents=[common],
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

    sweep = commands.add_parser(
        "sweep", help="run a config over a grid of parameter values (Dask)", parents=[common],
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
    sweep.add_argument("--reuse-other-versions", action="store_true",
                       help="reuse finished points computed by another BoltzPhlow version "
                            "(default: recompute them)")
    sweep.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=_cmd_sweep)

    examples = commands.add_parser(
        "examples", help="list built-in examples or print one", parents=[common],
        description="List the built-in examples, or print the TOML of one "
                    "(`boltzphlow examples NAME > NAME.toml`).",
    )
    examples.add_argument("name", nargs="?", metavar="NAME")
    examples.set_defaults(handler=_cmd_examples)

    keys = commands.add_parser(
        "keys", help="list the config keys of a model", parents=[common],
        description="Print every config key of a model with its unit, default and meaning "
                    "(the same tables as the docs).",
    )
    keys.add_argument("model", metavar="MODEL", help="a model name (the `model` key of a "
                                                     "config)")
    keys.add_argument("--markdown", action="store_true",
                      help="print the Markdown tables of the docs")
    keys.add_argument("--write", type=Path, metavar="DOC.md",
                      help="with --markdown: replace the <!-- keys: MODEL --> blocks of DOC.md")
    keys.set_defaults(handler=_cmd_keys)

    plot = commands.add_parser("plot", help="plot a result file", parents=[common],
                               description="Write the PNG figures of a result file, named "
                                           "after it (<RESULT>_<kind>.png).")
    plot.add_argument("result", type=Path, metavar="RESULT.nc")
    plot.add_argument("-o", "--out", type=Path, metavar="OUTDIR",
                      help="output folder (default: the folder of RESULT.nc)")
    plot.add_argument("--frames", action="store_true",
                      help="write the frames of an animation instead: one numbered PNG per "
                           "output time (<RESULT>_frame_0000.png, ...), for models that draw "
                           "them")
    plot.set_defaults(handler=_cmd_plot)

    info = commands.add_parser("info", help="describe a result file", parents=[common],
                               description="Print a result's model, provenance, variables and "
                                           "summary, after checking its data against their "
                                           "checksums.")
    info.add_argument("result", type=Path, metavar="RESULT.nc")
    info.set_defaults(handler=_cmd_info)
    return parser


def _version_action(*args: Any, **kwargs: Any) -> argparse.Action:
    """``--version``, reading the version (``importlib.metadata``) only when asked."""
    import argparse

    class Version(argparse.Action):
        def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
            from boltzphlow import __version__

            _STDOUT.print(f"{parser.prog} {__version__}")
            parser.exit()

    return Version(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# run


def _cmd_run(args: argparse.Namespace) -> int:
    from boltzphlow import results
    from boltzphlow.config import config_from_result, config_stem, load_config, validate_config
    from boltzphlow.progress import CliContext

    guard: SignalGuard = args.guard
    if args.resume is None:
        job, config, raw = load_config(args.config, args.overrides)
        stem = config_stem(args.config)
        out_dir = args.out or DEFAULT_OUT_DIR
        output = out_dir / f"{stem}.nc"
        previous = None
        if isinstance(raw.get("sweep"), dict):
            name = args.config or stem
            _note(f"{name} has a [sweep] table: `run` computes its base point; "
                  f"`boltzphlow sweep {_quote(name)}` runs the grid")
    else:
        if args.config is not None or args.overrides:
            from boltzphlow.config import ConfigError

            raise ConfigError("--resume", "takes the config from the result; "
                                          "give no CONFIG and no --set")
        previous = results.load_result(args.resume)
        output = args.resume.resolve()  # through a symlink: write its target, keep the link
        if results.is_complete(previous):
            _STDOUT.print(f"{args.resume} is already complete; nothing to resume")
            return 0
        _check_resumable(previous, args.resume)
        job, config = validate_config(config_from_result(previous))
        raw = config_from_result(previous)
        stem = output.stem
        out_dir = args.out or output.parent

    context = CliContext(output, job.name, raw, resume_from=previous, quiet=args.quiet)
    saved = False
    try:
        with context:
            ds = job.run(config, context)
        ds = results.finalize(ds, job.name, raw, context.wall_time_s)
        with guard.deferred():  # a signal now waits until the result is in place
            results.save(ds, output)
            context.discard()
            saved = True
    except KeyboardInterrupt:
        with guard.deferred(drop=True):
            if saved:
                _interrupted_after_save(output, out_dir)
            else:
                _interrupted_during_run(context, output, resumed=previous is not None)
        return EXIT_INTERRUPTED
    except BaseException as exc:
        with guard.deferred(drop=True):
            # keep what this run computed; main reports the error, with this note
            if not saved and _flush_quietly(context):
                exc.add_note(f"{_PARTIAL_NOTE} {output}; resume with: boltzphlow run "
                             f"--resume {_quote(output)}")
        raise

    try:
        written = [output, *_plot_or_warn(job, ds, out_dir, stem, args.debug)]
        _summary_or_warn(job, ds, args.debug)
        _STDOUT.print(*(f"wrote {path}" for path in written))
        try:
            results.check_metadata(ds)
        except ValueError as exc:
            _warning(str(exc))
    except KeyboardInterrupt:
        with guard.deferred(drop=True):
            _interrupted_after_save(output, out_dir)
        return EXIT_INTERRUPTED
    failed = ds.attrs.get("check_failed")
    if failed:
        _error(f"result failed its own check: {failed} (kept in {output})")
        return EXIT_CHECK_FAILED
    return 0


def _check_resumable(previous: Any, path: Path) -> None:
    """Refuse, in one line, a partial result this version cannot continue."""
    from boltzphlow import __version__
    from boltzphlow.errors import InputError
    from boltzphlow.jobs import get_job

    job = get_job(str(previous.attrs["model"]))
    if not job.resumable:
        raise InputError(f"{str(path)!r}: model {job.name!r} cannot resume a run; run its "
                         "config again without --resume")
    version = previous.attrs.get("boltzphlow_version")
    if version != __version__:
        raise InputError(f"{str(path)!r} was started with boltzphlow {version}, this is "
                         f"{__version__}: finish it with that version or run its config again "
                         "without --resume (one result never mixes two versions)")


def _flush_quietly(context: Any) -> bool:
    """Write the latest checkpoint; a failure to do so is reported as a warning."""
    try:
        return context.flush()
    except Exception as exc:  # noqa: BLE001 - the original error matters more
        _warning(f"could not write the latest checkpoint to {context.output}: {_describe(exc)}")
        return context.checkpoints_written > 0


def _interrupted_during_run(context: Any, output: Path, *, resumed: bool) -> None:
    if _flush_quietly(context) or resumed:
        _stderr(f"boltzphlow: interrupted; partial result kept in {output}; resume with: "
                f"boltzphlow run --resume {_quote(output)}")
    else:
        _stderr("boltzphlow: interrupted before the first checkpoint; nothing written")


def _interrupted_after_save(output: Path, out_dir: Path) -> None:
    command = f"boltzphlow plot {_quote(output)}"
    if out_dir.resolve() != output.parent.resolve():
        command += f" -o {_quote(out_dir)}"
    _stderr(f"boltzphlow: interrupted after the result was saved; {output} is complete; "
            f"redraw its plots with: {command}")


# --------------------------------------------------------------------------------------------
# sweep


def _cmd_sweep(args: argparse.Namespace) -> int:
    from boltzphlow.config import ConfigError, config_stem
    from boltzphlow.jobs import get_job
    from boltzphlow.sweep import POINTS_SUFFIX, sweep

    guard: SignalGuard = args.guard
    vary: dict[str, str] = {}
    for item in args.vary:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(item, "expected --vary KEY=start:stop:count or KEY=a,b,c")
        vary[key.strip()] = values.strip()
    out = args.out or DEFAULT_OUT_DIR / f"{config_stem(args.config)}_sweep.nc"
    points = out.parent / (out.name.removesuffix(".nc") + POINTS_SUFFIX)
    guard.on_interrupt.append(_silence_dask)
    try:
        ds = sweep(args.config, vary or None, workers=args.workers, scheduler=args.scheduler,
                   out=out, overrides=args.overrides, quiet=args.quiet,
                   reuse_other_versions=args.reuse_other_versions)
    except KeyboardInterrupt:
        with guard.deferred(drop=True):
            if points.is_dir() and any(points.glob("*.nc")):
                again = " ".join(_quote(word) for word in ["boltzphlow", *args.argv])
                _stderr(f"boltzphlow: interrupted; finished points are kept in {points}/; run "
                        f"the same command again to continue: {again}")
            else:
                _stderr("boltzphlow: interrupted before a point finished; nothing written")
        return EXIT_INTERRUPTED
    try:
        job = get_job(str(ds.attrs["model"]))
        written = [out, *_plot_or_warn(job, ds, out.parent, out.stem, args.debug)]
        failed = int(ds.attrs.get("n_failed", 0))
        _STDOUT.print(f"sweep: {int(ds.attrs['n_points'])} points, {failed} failed, "
                      f"{int(ds.attrs.get('sweep_reused', 0))} reused")
        _summary_or_warn(job, ds, args.debug)
        _STDOUT.print(*(f"wrote {path}" for path in written))
    except KeyboardInterrupt:
        with guard.deferred(drop=True):
            _interrupted_after_save(out, out.parent)
        return EXIT_INTERRUPTED
    return 0


def _silence_dask() -> None:
    """After Ctrl-C, a closing Dask cluster's complaints are not the user's business."""
    import logging

    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


# --------------------------------------------------------------------------------------------
# examples, plot, info


def _cmd_examples(args: argparse.Namespace) -> int:
    from boltzphlow.config import DEFAULT_EXAMPLE, example_text, list_examples

    if args.name is not None:
        _STDOUT.write(example_text(args.name))
        return 0
    examples = list_examples()
    width = max(map(len, examples), default=0)
    for name, description in examples.items():
        default = " (default)" if name == DEFAULT_EXAMPLE else ""
        _STDOUT.print(f"{name:<{width}}  {description}{default}")
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from boltzphlow.errors import InputError
    from boltzphlow.jobs import get_job, job_names
    from boltzphlow.schema import key_tables, markdown_keys, update_key_blocks

    try:
        job = get_job(args.model)
    except KeyError:
        raise InputError(f"unknown model {args.model!r} (known: "
                         f"{', '.join(job_names()) or 'none'})") from None
    if args.write is not None:
        if not args.markdown:
            raise InputError("--write: replaces Markdown blocks; give --markdown too")
        text = args.write.read_text(encoding="utf-8")
        if f"<!-- keys: {job.name} -->" not in text:
            raise InputError(f"{args.write}: no <!-- keys: {job.name} --> ... <!-- /keys --> "
                             "block to replace")
        args.write.write_text(update_key_blocks(
            text, lambda name: markdown_keys(get_job(name).config_model)), encoding="utf-8")
        _STDOUT.print(f"wrote {args.write}")
        return 0
    if args.markdown:
        _STDOUT.write(markdown_keys(job.config_model))
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=_RichOut(), soft_wrap=False)
    for table, text, rows in key_tables(job.config_model):
        title = f"[{table}] {text}" if table else f"{job.name}: {job.description}"
        grid = Table(title=Text(title.replace("``", "`")), title_justify="left")
        grid.add_column("key", no_wrap=True)
        for column in ("unit", "default", "meaning"):
            grid.add_column(column, overflow="fold")
        for row in rows:
            grid.add_row(*(Text(cell) for cell in row))
        console.print(grid)
    return 0


class _RichOut:
    """A file for rich that writes through :data:`_STDOUT` (quiet on a closed pipe)."""

    def write(self, text: str) -> int:
        _STDOUT.write(text)
        return len(text)

    def flush(self) -> None:
        pass


def _plot(job: Any, ds: Any, out_dir: Path, stem: str, **options: Any) -> list[Path]:
    """Write a result's figures with a non-interactive backend; return their paths
    (``options``: keywords of the job's ``plot``, e.g. ``frames=True``)."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    return [Path(path) for path in job.plot(ds, out_dir, stem, **options)]


def draws_frames(job: Any) -> bool:
    """Whether a job's ``plot`` takes the optional keyword ``frames`` (the frames of an
    animation, one numbered PNG per output time: ``boltzphlow plot --frames``)."""
    import inspect

    try:
        return "frames" in inspect.signature(job.plot).parameters
    except (TypeError, ValueError):  # a callable without a signature
        return False


def _plot_or_warn(job: Any, ds: Any, out_dir: Path, stem: str, debug: bool) -> list[Path]:
    """:func:`_plot`, with a failure reported as a warning (a plot is never a failed run)."""
    try:
        return _plot(job, ds, out_dir, stem)
    except Exception as exc:  # noqa: BLE001 - the result is saved; its plots are extras
        if debug:
            _print_traceback(exc)
        _warning(f"plotting failed: {_describe(exc)}")
        return []


def _summary_or_warn(job: Any, ds: Any, debug: bool) -> None:
    try:
        text = job.summary(ds)
    except Exception as exc:  # noqa: BLE001 - a summary is an extra too
        if debug:
            _print_traceback(exc)
        _warning(f"summary failed: {_describe(exc)}")
        return
    _STDOUT.print(text)


class _PlotFailed(Exception):
    """``boltzphlow plot`` could not draw a valid result (reported as an internal error)."""


def _cmd_plot(args: argparse.Namespace) -> int:
    from boltzphlow import results
    from boltzphlow.jobs import get_job

    ds = results.load_result(args.result)
    job = get_job(str(ds.attrs["model"]))
    options: dict[str, Any] = {}
    if args.frames:
        if not draws_frames(job):
            from boltzphlow.errors import InputError

            raise InputError(f"--frames: model {job.name!r} draws no animation frames (plot "
                             "it without --frames)")
        options["frames"] = True
    try:
        paths = _plot(job, ds, args.out or args.result.parent, args.result.stem, **options)
    except (KeyboardInterrupt, OSError):
        raise
    except Exception as exc:  # noqa: BLE001 - one line, traceback with --debug
        if args.frames and isinstance(exc, ValueError) and str(exc).startswith("--frames:"):
            raise  # a result its frames cannot be drawn of (a sweep): one line, exit 2
        raise _PlotFailed(f"plotting failed: {_describe(exc)}") from exc
    _STDOUT.print(*(f"wrote {path}" for path in paths))
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from boltzphlow import results
    from boltzphlow.jobs import get_job

    with results.open_result(args.result) as ds:
        checksummed = results.verify(ds, args.result)
        job = get_job(str(ds.attrs["model"]))
        if results.is_complete(ds):
            state = "complete"
        else:
            state = (f"partial (resume with: boltzphlow run --resume "
                     f"{_quote(args.result)})")
        failed = ds.attrs.get("check_failed")
        if failed:
            state += f"; FAILED its own check: {_one_line(str(failed))}"
        checks = (f"verified ({checksummed} variables)" if checksummed
                  else "none stored (written before checksums were)")
        lines = [
            f"{args.result}",
            f"  model:      {job.name}",
            f"  version:    boltzphlow {ds.attrs.get('boltzphlow_version', '?')}",
            f"  state:      {state}",
            f"  wall time:  {float(ds.attrs.get('wall_time_s', float('nan'))):.3g} s",
            f"  created:    {ds.attrs.get('created', '?')}",
            f"  checksums:  {checks}",
            "  variables:",
        ]
        for name, variable in ds.variables.items():
            dims = ", ".join(f"{dim}: {ds.sizes[dim]}" for dim in variable.dims)
            units = variable.attrs.get("units", "?")
            lines.append(f"    {name} ({dims}) [{units}]  {variable.attrs.get('long_name', '')}")
        _STDOUT.print(*lines)
        _summary_or_warn(job, ds, args.debug)
    return 0
