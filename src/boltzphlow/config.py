"""Config files: TOML -> (job, validated pydantic config, raw dict); every mistake is a one-liner.

A config is a TOML file whose top-level key ``model`` names a registered job
(:mod:`boltzphlow.jobs`); the job's pydantic ``config_model`` validates the whole file, unknown
keys included (they are errors).  Command-line overrides ``--set key=value`` are applied to the
raw dict before validation.  The *raw* dict (after overrides, before validation, so ``"50 mK"``
stays ``"50 mK"``) is what is stored in a result's attributes and what ``--resume`` re-validates.

Every config may carry a ``[sweep]`` table, ``key = values`` with each key a (dotted) config key
and the values a list, ``"start:stop:count"`` or ``"a,b,c"`` (:func:`parse_sweep_values`): the
default grid of ``boltzphlow sweep``.  :func:`validate_config` checks it for every model alike
(:func:`validate_sweep`) and hands the rest of the file to the model's schema.

Every mistake in user input is a :class:`ConfigError` (a ``ValueError``) with a one-line
message naming the key or file: invalid TOML, a file that is not a regular UTF-8 text file or
is larger than :data:`MAX_CONFIG_BYTES`, tables or arrays nested deeper than
:data:`MAX_NESTING`, unknown keys and bad values.  Messages never echo file contents and cut
long values short (:func:`boltzphlow.errors.shorten`).

Built-in examples are TOML files shipped in ``boltzphlow/examples/``; the first comment line of
each file is its one-line description.  Only those names are examples: a path is never looked
up among them.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boltzphlow.errors import shorten
from boltzphlow.jobs import Job, get_job, job_names

if TYPE_CHECKING:  # numpy, xarray and pydantic are imported where used: `--help` needs none
    import xarray as xr
    from pydantic import BaseModel, ValidationError

__all__ = ["DEFAULT_EXAMPLE", "MAX_CONFIG_BYTES", "MAX_NESTING", "MAX_SWEEP_VALUES",
           "ConfigError", "apply_overrides", "config_from_result", "config_stem",
           "config_to_json", "example_text", "is_config_key", "list_examples", "load_config",
           "parse_sweep_values", "read_toml", "validate_config", "validate_sweep"]

#: Name of the built-in example run by ``boltzphlow run`` without a config.
DEFAULT_EXAMPLE = "al_photon_hit"

#: Largest config file read (bytes): configs are a few kB; anything larger is a mistake.
MAX_CONFIG_BYTES = 1 << 20
#: Deepest nesting of tables and arrays in a config (the top-level table is level 1).
MAX_NESTING = 16
#: Most values of one swept key.
MAX_SWEEP_VALUES = 100_000
#: Longest message of a :class:`ConfigError` (characters; longer ones are cut).
_MAX_MESSAGE = 1000
#: Longest key shown in a message (characters).
_MAX_KEY = 80

#: Pydantic location tags that are not config keys (union members, validator wrappers).
_NOT_A_KEY = re.compile(r".*[\[\](),'\"\s].*|int|float|str|bool|none|list|dict|tuple|set")

#: What a swept key's values may be (the message of every malformed one).
_SWEEP_FORMS = "expected start:stop:count or a,b,c (or a list)"
_NUMBER = r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*"
_RANGE = re.compile(rf"({_NUMBER}):({_NUMBER}):\s*([0-9]+)\s*")


class ConfigError(ValueError):
    """A config mistake; ``str()`` is one line naming the key and the reason.

    Parameters
    ----------
    key
        Dotted key the mistake is about (``"solver.rtol"``), a file name, or ``""``.
    reason
        What is wrong, in words (``"unknown key"``, ``"must be > 0, got -1 K"``).
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(key, reason)
        self.key = key
        self.reason = reason

    def __str__(self) -> str:
        key = self.key if len(self.key) <= _MAX_KEY else self.key[: _MAX_KEY - 3] + "..."
        text = " ".join((f"{key}: {self.reason}" if key else self.reason).split())
        if len(text) > _MAX_MESSAGE:
            text = text[: _MAX_MESSAGE - 3] + "..."
        return "config error: " + text


# --------------------------------------------------------------------------------------------
# Built-in examples


def _examples_dir() -> Traversable:
    """The folder of built-in example configs (package data)."""
    return files("boltzphlow").joinpath("examples")


def list_examples() -> dict[str, str]:
    """Built-in example names mapped to their one-line descriptions, sorted by name."""
    folder = _examples_dir()
    if not folder.is_dir():
        return {}
    tomls = sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)
    return {f.name.removesuffix(".toml"): _description(f.read_text(encoding="utf-8"))
            for f in tomls}


def _description(text: str) -> str:
    """The first comment line of a TOML text, without its ``#``."""
    comments = (line.strip().lstrip("#").strip() for line in text.splitlines()
                if line.strip().startswith("#"))
    return next(comments, "")


def example_text(name: str) -> str:
    """The TOML text of the built-in example ``name`` (one of :func:`list_examples`).

    Raises
    ------
    ValueError
        If there is no such example (the message lists the known ones); a path is never an
        example name.
    """
    examples = list_examples()
    if name not in examples:
        known = ", ".join(examples) or "none"
        raise ValueError(f"unknown example {shorten(name)} (known: {known})")
    return _examples_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Reading, overriding and validating


def load_config(
    path: str | Path | None, overrides: Sequence[str] = ()
) -> tuple[Job, BaseModel, dict[str, Any]]:
    """Read a TOML config, apply ``--set`` overrides and validate it with its job's schema.

    Parameters
    ----------
    path
        A TOML file, or the name of a built-in example when no file of that name exists, or
        ``None`` for the default example :data:`DEFAULT_EXAMPLE`.
    overrides
        ``"key=value"`` strings (see :func:`apply_overrides`).

    Returns
    -------
    job, config, raw
        The registered job named by the ``model`` key, the validated config (quantities in
        their default units) and the raw dict after overrides (what a result stores, its
        ``[sweep]`` table included).

    Raises
    ------
    FileNotFoundError
        If ``path`` is neither a file nor a built-in example.
    ConfigError
        For an unreadable file, invalid TOML, a missing or unknown model, an unknown key or a
        bad value.
    """
    raw = apply_overrides(read_toml(path), overrides)
    job, config = validate_config(raw)
    return job, config, raw


def read_toml(path: str | Path | None) -> dict[str, Any]:
    """Parse a TOML config file or built-in example (see :func:`load_config`) to a dict.

    Raises
    ------
    FileNotFoundError
        If ``path`` is neither a file nor a built-in example.
    ConfigError
        For a file that is not a regular file, larger than :data:`MAX_CONFIG_BYTES`, not UTF-8,
        not TOML or nested deeper than :data:`MAX_NESTING`.
    """
    name, text = _config_source(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its messages give line and column, not contents
        raise ConfigError(name, f"invalid TOML: {exc}") from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise ConfigError(name, "invalid TOML: a number too long to read") from None
    except RecursionError:
        raise ConfigError(name, f"invalid TOML: nested more than {MAX_NESTING} levels deep"
                          ) from None
    try:
        _check_nesting(raw)
    except ConfigError as exc:
        raise ConfigError(name, f"{exc.key}: {exc.reason}") from None
    return raw


def _config_source(path: str | Path | None) -> tuple[str, str]:
    """``(name for messages, TOML text)`` of a config file or built-in example."""
    if path is None:
        return f"example {DEFAULT_EXAMPLE}", example_text(DEFAULT_EXAMPLE)
    path = Path(path)
    name = str(path)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        if name == path.name and name in list_examples():
            return f"example {name}", example_text(name)
        raise FileNotFoundError(f"no config file or built-in example named "
                                f"{shorten(name)} (see `boltzphlow examples`)") from None
    except OSError as exc:  # a name too long, a folder without permission
        raise ConfigError(name, f"cannot read it ({exc.strerror or type(exc).__name__})"
                          ) from None
    if stat.S_ISDIR(mode):
        raise ConfigError(name, "is a folder, not a config file")
    if not stat.S_ISREG(mode):  # a device, pipe or socket: reading it may never end
        raise ConfigError(name, "is not a regular file")
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(name, f"cannot read it ({exc.strerror or type(exc).__name__})"
                          ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(name, f"larger than {MAX_CONFIG_BYTES >> 20} MiB: not a config file")
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(name, f"not a UTF-8 text file ({exc.reason} at byte {exc.start})"
                          ) from None


def _check_nesting(raw: Any) -> None:
    """``ConfigError`` naming the key if tables and arrays nest deeper than :data:`MAX_NESTING`.

    Iterative, so it cannot itself run out of stack.
    """
    stack: list[tuple[Any, int, str]] = [(raw, 1, "")]
    while stack:
        item, depth, key = stack.pop()
        if isinstance(item, Mapping | list | tuple) and depth > MAX_NESTING:
            raise ConfigError(key, f"tables or arrays nested more than {MAX_NESTING} levels "
                                   "deep")
        if depth > 3:  # name the outer keys only: "x[0][0]..."
            key = key if key.endswith("...") else key + "..."
        if isinstance(item, Mapping):
            stack.extend((value, depth + 1, key if depth > 3 else
                          f"{key}.{name}" if key else str(name)) for name, value in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((value, depth + 1, key if depth > 3 else f"{key}[{i}]")
                         for i, value in enumerate(item))


def config_stem(path: str | Path | None) -> str:
    """Base name of a run's output file: the config file's stem or the example name."""
    return DEFAULT_EXAMPLE if path is None else Path(path).stem


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``--set key=value`` overrides to a copy of a raw config dict.

    A dotted key (``solver.rtol=1e-8``) goes into nested tables, created when missing.  The
    value is parsed as a TOML value when it is one (``3``, ``1.5``, ``true``, ``"50 mK"``,
    ``[1, 2]``) and taken as a plain string otherwise (``gap=fixed``, ``T_bath=50mK``).

    Raises
    ------
    ConfigError
        For an item without ``=``, an empty key part, a key below a non-table value, or
        tables and arrays nested deeper than :data:`MAX_NESTING`.
    """
    _check_nesting(raw)
    result = copy.deepcopy(dict(raw))
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = [part.strip() for part in key.split(".")]
        if not sep or not all(parts):
            raise ConfigError(item, "expected --set key=value (dotted keys for tables)")
        if len(parts) >= MAX_NESTING:
            raise ConfigError(key, f"tables nested more than {MAX_NESTING} levels deep")
        table = result
        for depth, part in enumerate(parts[:-1]):
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ConfigError(".".join(parts[: depth + 1]), "is a value, not a table")
        try:
            table[parts[-1]] = _parse_value(text.strip())
        except ConfigError as exc:
            raise ConfigError(".".join(parts), exc.reason) from None
    _check_nesting(result)
    return result


def _parse_value(text: str) -> Any:
    """A TOML value if ``text`` is one, else ``text`` itself.

    Raises
    ------
    ConfigError
        If ``text`` is a TOML value nested too deeply to parse.
    """
    try:
        document = tomllib.loads(f"value = {text}")
    except ValueError:  # not TOML (TOMLDecodeError), or an integer of over 4300 digits
        return text
    except RecursionError:
        raise ConfigError("", f"value nested more than {MAX_NESTING} levels deep") from None
    if list(document) != ["value"]:  # "1\nother = 2" is text, not a value and a key
        return text
    return document["value"]


def validate_config(raw: Mapping[str, Any]) -> tuple[Job, BaseModel]:
    """Validate a raw config dict with the schema of the job its ``model`` key names.

    A ``[sweep]`` table is removed before the schema sees the config and checked by
    :func:`validate_sweep` (for every model alike).

    Raises
    ------
    ConfigError
        For a missing or unknown model, an unknown key or a bad value (the first one found,
        with a count of the others), or a malformed ``[sweep]`` table.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError("", f"expected a table of key = value, got {shorten(raw)}")

    _check_nesting(raw)
    job = _job_of(raw)
    config = validate_for(job, {key: value for key, value in raw.items() if key != "sweep"})
    if "sweep" in raw:
        validate_sweep(raw["sweep"], job)
    return job, config


def validate_for(job: Job, body: Mapping[str, Any]) -> BaseModel:
    """Validate a config without a ``[sweep]`` table with the schema of a known ``job`` (what
    :func:`validate_config` does once it has found the job; a sweep calls it per point).

    Raises
    ------
    ConfigError
        For an unknown key or a bad value (the first one found, with a count of the others).
    """
    from pydantic import ValidationError

    try:
        return job.config_model.model_validate(body)
    except ValidationError as exc:
        raise _config_error(exc, job.config_model) from None
    except (RecursionError, ArithmeticError) as exc:  # e.g. an overflow in a validator
        raise ConfigError("", f"cannot validate the config ({type(exc).__name__}: "
                              f"{shorten(str(exc))})") from None


def _job_of(raw: Mapping[str, Any]) -> Job:
    """The job named by ``raw["model"]``."""
    name = raw.get("model")
    if isinstance(name, str):
        try:
            return get_job(name)  # the known names are listed only on the error paths below
        except KeyError:
            pass
    known = ", ".join(job_names()) or "none"
    if name is None:
        raise ConfigError("model", f"missing; say which model to run (known: {known})")
    if not isinstance(name, str):
        raise ConfigError("model", f"expected a model name, got {shorten(name)} "
                                   f"(known: {known})")
    raise ConfigError("model", f"unknown model {shorten(name)} (known: {known})")


def _config_error(exc: ValidationError, schema: type[BaseModel]) -> ConfigError:
    """One :class:`ConfigError` for a pydantic ``ValidationError`` (first error, others counted)."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden" and loc:  # the last part is the user's key
            parent = _dotted_key(loc[:-1])
            key = f"{parent}.{loc[-1]}" if parent else str(loc[-1])
        else:
            key = _dotted_key(loc)
        problems.setdefault(key, _reason(error, schema, key))
    (key, reason), *others = problems.items()
    if others:
        names = ", ".join(k for k, _ in others[:5]) + (", ..." if len(others) > 5 else "")
        reason += f" (and {len(others)} more: {names})"
    return ConfigError(key, reason)


def _dotted_key(loc: tuple[int | str, ...]) -> str:
    """``("solver", "rtol")`` -> ``"solver.rtol"``; list indices as ``[i]``; union tags dropped."""
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif not _NOT_A_KEY.fullmatch(part):
            key += f".{part}" if key else part
    return key


def _reason(error: Mapping[str, Any], schema: type[BaseModel], key: str) -> str:
    """The words for one pydantic error (user values shortened)."""
    kind = error["type"]
    if kind == "extra_forbidden":
        *parents, name = key.split(".")
        close = (difflib.get_close_matches(name, _known_keys(schema, parents), n=1)
                 if len(name) <= _MAX_KEY else [])
        return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return "required key missing"
    if kind in ("value_error", "assertion_error") and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    message, value = error["msg"], error.get("input")
    if "got" not in message and not isinstance(value, dict | list):
        message += f", got {shorten(value)}"
    return message


def _known_keys(schema: type[BaseModel], parents: Sequence[str]) -> list[str]:
    """Field names of the (sub)model at dotted path ``parents`` of ``schema``, if one is found."""
    from boltzphlow.schema import field_at, table_of

    model = table_of(field_at(schema, ".".join(parents))) if parents else schema
    return [] if model is None else list(model.model_fields)


# --------------------------------------------------------------------------------------------
# The [sweep] table (a property of every config)


def is_config_key(schema: type[BaseModel], dotted: str) -> bool:
    """Whether ``dotted`` (``"omega_p"``, ``"pump.zeta0"``) names a field of ``schema``.

    Tables are entered through optional and union annotations (``PumpConfig | None``).
    """
    from boltzphlow.schema import field_at

    return field_at(schema, dotted) is not None


def parse_sweep_values(spec: Any) -> list[Any]:
    """Values of one swept key from a list, ``"start:stop:count"`` or ``"a,b,c"``.

    Parameters
    ----------
    spec
        A list (tuple, numpy array) of values; a string ``"start:stop:count"`` (numbers, count
        >= 1: ``numpy.linspace``); or a string ``"a,b,c"`` of TOML values or bare strings
        (``"0.3,0.5"``, ``"100mK,150mK"``, ``'"p-band","semi-elliptic"'``).  A bare string
        holding a ``:`` must be quoted (``'"C:/x.dat"'``): unquoted it is taken for a range.

    Returns
    -------
    list
        At least one and at most :data:`MAX_SWEEP_VALUES` values (Python scalars).

    Raises
    ------
    ValueError
        One line: ``expected start:stop:count or a,b,c`` for a malformed string (``"0.5:0.6"``
        without its count), a count < 1 or above the bound, no values, or a value of another
        kind (a table, a bool).
    """
    import numpy as np

    if isinstance(spec, str):
        values = _parse_sweep_string(spec)
    elif isinstance(spec, np.ndarray):
        values = spec.tolist() if spec.ndim else [spec.item()]
    elif isinstance(spec, Sequence):
        values = list(spec)
    else:
        raise ValueError(f"{_SWEEP_FORMS}, got {shorten(spec)}")
    if not values:
        raise ValueError(f"no values in {shorten(spec)}: {_SWEEP_FORMS}")
    if len(values) > MAX_SWEEP_VALUES:
        raise ValueError(f"{len(values)} values in {shorten(spec)}: at most "
                         f"{MAX_SWEEP_VALUES} per key")
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _parse_sweep_string(spec: str) -> list[Any]:
    """``"start:stop:count"`` or ``"a,b,c"`` to a list (see :func:`parse_sweep_values`)."""
    text = spec.strip()
    if len(text) > MAX_CONFIG_BYTES:
        raise ValueError(f"values longer than {MAX_CONFIG_BYTES >> 20} MiB")
    match = _RANGE.fullmatch(text)
    if match:
        start, stop, count = float(match[1]), float(match[2]), int(match[3])
        if not 1 <= count <= MAX_SWEEP_VALUES:
            raise ValueError(f"bad range {shorten(spec)}: count must be 1 to "
                             f"{MAX_SWEEP_VALUES}")
        if not (math.isfinite(start) and math.isfinite(stop)
                and math.isfinite(stop - start)):
            raise ValueError(f"bad range {shorten(spec)}: start and stop must be finite")
        import numpy as np

        return [float(v) for v in np.linspace(start, stop, count)]
    try:  # "1, 2", "[1, 2], [3, 4]", '"a", "b"': a TOML array without its brackets
        document = tomllib.loads(f"values = [{text}]")
        if list(document) == ["values"]:
            return list(document["values"])
    except ValueError:  # not TOML (TOMLDecodeError), or an integer of over 4300 digits
        pass
    except RecursionError:
        raise ValueError(f"values nested more than {MAX_NESTING} levels deep") from None
    values = []
    for item in text.split(","):  # bare strings: "100mK,150mK", "fixed,self-consistent"
        item = item.strip()
        value = _parse_value(item) if item else item
        if value == "" or (isinstance(value, str) and ":" in value and value == item):
            raise ValueError(f"{_SWEEP_FORMS}, got {shorten(spec)}")
        values.append(value)
    return values


def validate_sweep(table: Any, job: Job, label: str = "sweep.{}") -> dict[str, list[Any]]:
    """Check a config's ``[sweep]`` table against ``job``'s schema; return ``{key: values}``.

    Nested tables give dotted keys (TOML ``pump.zeta0 = [1, 2]`` is ``"pump.zeta0"``).
    ``label`` names a key in messages (``"--vary {}"`` for command-line grids).

    Raises
    ------
    ConfigError
        ``sweep.<key>: ...`` (see ``label``) for a key that is not a config key of the model
        (``model`` and ``sweep`` cannot be swept) or values that :func:`parse_sweep_values`
        refuses.
    """
    if not isinstance(table, Mapping):
        raise ConfigError("sweep", f"expected a table of key = values, got {shorten(table)}")
    grid: dict[str, list[Any]] = {}
    stack = [(str(key), value) for key, value in reversed(table.items())]
    while stack:
        key, spec = stack.pop()
        if isinstance(spec, Mapping) and spec:
            stack.extend((f"{key}.{name}", value) for name, value in reversed(spec.items()))
            continue
        if key in ("model", "sweep") or not is_config_key(job.config_model, key):
            raise ConfigError(label.format(key), f"not a config key of model {job.name!r}")
        try:
            grid[key] = parse_sweep_values(spec)
        except ValueError as exc:
            reason = exc.reason if isinstance(exc, ConfigError) else str(exc)
            raise ConfigError(label.format(key), reason) from None
    return grid


# --------------------------------------------------------------------------------------------
# Configs stored in results


def config_to_json(raw: Mapping[str, Any]) -> str:
    """Serialise a raw config dict to the JSON string stored in ``ds.attrs["config"]``."""
    return json.dumps(raw, ensure_ascii=False, default=str)


def config_from_result(ds: xr.Dataset) -> dict[str, Any]:
    """The raw config dict a result was computed with (from ``ds.attrs["config"]``).

    Raises
    ------
    ValueError
        If the Dataset carries no (readable) config.
    """
    text = ds.attrs.get("config")
    if not text:
        raise ValueError("the result carries no config (attribute 'config' missing)")
    if not isinstance(text, str) or len(text) > MAX_CONFIG_BYTES:
        raise ValueError("the result's stored config is not a config (not a string of at "
                         f"most {MAX_CONFIG_BYTES >> 20} MiB)")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the result's stored config is not valid JSON ({exc.msg} at "
                         f"position {exc.pos})") from None
    except RecursionError:
        raise ValueError("the result's stored config is nested too deeply") from None
    if not isinstance(raw, dict):
        raise ValueError("the result's stored config is not a table")
    _check_nesting(raw)
    return raw

