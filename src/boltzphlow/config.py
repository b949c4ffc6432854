"""Config files: TOML -> (job, validated pydantic config, raw dict); every mistake is a one-liner.

A config is a TOML file whose top-level key ``model`` names a registered job
(:mod:`boltzphlow.jobs`); the job's pydantic ``config_model`` validates the whole file, unknown
keys included (they are errors).  Command-line overrides ``--set key=value`` are applied to the
raw dict before validation.  The *raw* dict (after overrides, before validation, so ``"50 mK"``
stays ``"50 mK"``) is what is stored in a result's attributes and what ``--resume`` re-validates.

Built-in examples are TOML files shipped in ``boltzphlow/examples/``; the first comment line of
each file is its one-line description.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, get_args

import xarray as xr
from pydantic import BaseModel, ValidationError

from boltzphlow.jobs import Job, available_jobs, get_job

#: Name of the built-in example run by ``boltzphlow run`` without a config.
DEFAULT_EXAMPLE = "al_photon_hit"

#: Pydantic location tags that are not config keys (union members, validator wrappers).
_NOT_A_KEY = re.compile(r".*[\[\](),'\"\s].*|int|float|str|bool|none|list|dict|tuple|set")


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
        text = f"{self.key}: {self.reason}" if self.key else self.reason
        return "config error: " + " ".join(text.split())


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
    """The TOML text of the built-in example ``name``.

    Raises
    ------
    ValueError
        If there is no such example (the message lists the known ones).
    """
    source = _examples_dir().joinpath(f"{name}.toml")
    if not source.is_file():
        known = ", ".join(list_examples()) or "none"
        raise ValueError(f"unknown example {name!r} (known: {known})")
    return source.read_text(encoding="utf-8")


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
        their default units) and the raw dict after overrides (what a result stores).

    Raises
    ------
    FileNotFoundError
        If ``path`` is neither a file nor a built-in example.
    ConfigError
        For invalid TOML, a missing or unknown model, an unknown key or a bad value.
    """
    raw = apply_overrides(read_toml(path), overrides)
    job, config = validate_config(raw)
    return job, config, raw


def read_toml(path: str | Path | None) -> dict[str, Any]:
    """Parse a TOML config file or built-in example (see :func:`load_config`) to a dict."""
    name, text = _config_source(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(name, f"invalid TOML: {exc}") from None


def _config_source(path: str | Path | None) -> tuple[str, str]:
    """``(name for messages, TOML text)`` of a config file or built-in example."""
    if path is None:
        return f"example {DEFAULT_EXAMPLE}", example_text(DEFAULT_EXAMPLE)
    path = Path(path)
    if path.is_file():
        try:
            return str(path), path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(str(path), f"not a UTF-8 text file ({exc.reason})") from None
    if path.suffix == "" and path.name in list_examples():
        return f"example {path.name}", example_text(path.name)
    raise FileNotFoundError(
        f"no config file or built-in example named {str(path)!r} "
        "(see `boltzphlow examples`)"
    )


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
        For an item without ``=``, an empty key part, or a key below a non-table value.
    """
    result = copy.deepcopy(dict(raw))
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = [part.strip() for part in key.split(".")]
        if not sep or not all(parts):
            raise ConfigError(item, "expected --set key=value (dotted keys for tables)")
        table = result
        for depth, part in enumerate(parts[:-1]):
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ConfigError(".".join(parts[: depth + 1]), "is a value, not a table")
        table[parts[-1]] = _parse_value(text.strip())
    return result


def _parse_value(text: str) -> Any:
    """A TOML value if ``text`` is one, else ``text`` itself."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def validate_config(raw: Mapping[str, Any]) -> tuple[Job, BaseModel]:
    """Validate a raw config dict with the schema of the job its ``model`` key names.

    Raises
    ------
    ConfigError
        For a missing or unknown model, an unknown key or a bad value (the first one found,
        with a count of the others).
    """
    name = raw.get("model")
    if name is None:
        known = ", ".join(sorted(available_jobs())) or "none"
        raise ConfigError("model", f"missing; say which model to run (known: {known})")
    try:
        job = get_job(str(name))
    except KeyError as exc:
        raise ConfigError("model", exc.args[0]) from None
    try:
        return job, job.config_model.model_validate(dict(raw))
    except ValidationError as exc:
        raise _config_error(exc, job.config_model) from None


def _config_error(exc: ValidationError, schema: type[BaseModel]) -> ConfigError:
    """One :class:`ConfigError` for a pydantic ``ValidationError`` (first error, others counted)."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        key = _dotted_key(error["loc"])
        problems.setdefault(key, _reason(error, schema, key))
    (key, reason), *others = problems.items()
    if others:
        reason += f" (and {len(others)} more: {', '.join(k for k, _ in others)})"
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
    """The words for one pydantic error."""
    kind = error["type"]
    if kind == "extra_forbidden":
        *parents, name = key.split(".")
        close = difflib.get_close_matches(name, _known_keys(schema, parents), n=1)
        return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return "required key missing"
    if kind in ("value_error", "assertion_error") and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    message, value = error["msg"], error.get("input")
    if "got" not in message and not isinstance(value, dict | list):
        message += f", got {value!r}"
    return message


def _known_keys(schema: type[BaseModel], parents: Sequence[str]) -> list[str]:
    """Field names of the (sub)model at dotted path ``parents`` of ``schema``, if one is found."""
    model: Any = schema
    for part in parents:
        field = model.model_fields.get(part)
        candidates = (field.annotation, *get_args(field.annotation)) if field else ()
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)),
                     None)
        if model is None:
            return []
    return list(model.model_fields)


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
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the result's stored config is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError("the result's stored config is not a table")
    return raw
