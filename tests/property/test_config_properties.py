"""Property tests: bad configs of every registered model are one line and exit code 2.

For every job of :func:`boltzphlow.jobs.available_jobs` and every field of its schema (tables
entered recursively), random bad values, units and structures are written to a TOML file and
run in-process with ``boltzphlow run FILE -o OUT -q``.  Whatever is drawn, the command never
prints a traceback and never writes a file; when it refuses the config it exits with 2 and
prints exactly one line, ``boltzphlow: error: ...``.  Draws that are certainly invalid (a
boolean where no boolean is meant, NaN or a garbage unit string in a quantity, an unknown key,
tables nested too deeply) must be refused.

No model runs: every job's ``run`` is replaced by a stub that records that the config was
accepted (a valid draw, which is then only checked for having written nothing).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import math
import re
import tempfile
import types
import typing
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from boltzphlow import cli, jobs
from boltzphlow.config import list_examples, read_toml, validate_config
from boltzphlow.schema import accepts_bool, field_unit

SETTINGS = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])

#: Characters of the unit grammar (besides letters, digits and white space).
GRAMMAR = set("0123456789_.+-*/^·°⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")


# --------------------------------------------------------------------------------------------
# no model runs


class _Accepted(Exception):
    """Raised by the stub run: the config was valid."""


_ACCEPTED: list[str] = []


def _stub_run(config: Any, context: Any) -> Any:
    _ACCEPTED.append(type(config).__name__)
    raise _Accepted


@pytest.fixture(scope="module", autouse=True)
def _no_model_runs():
    with pytest.MonkeyPatch.context() as patch:
        for name, job in jobs.available_jobs().items():
            patch.setitem(jobs._JOBS, name, dataclasses.replace(job, run=_stub_run))
        yield


# --------------------------------------------------------------------------------------------
# schemas: base configs and fields


def _base_configs() -> dict[str, dict[str, Any]]:
    """A valid raw config per job: its first built-in example (else just the model key)."""
    bases: dict[str, dict[str, Any]] = {}
    for example in list_examples():
        raw = read_toml(example)
        name = raw.get("model")
        if name in bases:
            continue
        try:
            validate_config(raw)
        except ValueError:
            continue
        bases[name] = raw
    for name in jobs.available_jobs():
        bases.setdefault(name, {"model": name})
    return bases


def _tables(annotation: Any) -> list[type[BaseModel]]:
    """Config tables (models) inside an annotation (through unions, Optional, Annotated)."""
    found, stack = [], [annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            found.append(item)
        elif typing.get_origin(item) in (typing.Union, types.UnionType, typing.Annotated):
            stack.extend(typing.get_args(item))
    return found


@dataclasses.dataclass(frozen=True)
class Key:
    """One config key of one model."""

    model: str
    path: tuple[str, ...]
    quantity: bool  # a Quantity field (number or unit string)
    takes_bool: bool
    takes_table: bool
    finite: bool  # a float field that refuses inf and nan

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def _keys(model: str, schema: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[Key]:
    keys = []
    for name, field in schema.model_fields.items():
        if not prefix and name in ("model", "sweep"):
            continue
        path = prefix + (name,)
        tables = _tables(field.annotation)
        inf_nan = [getattr(m, "allow_inf_nan", None) for m in field.metadata]
        allow = next((v for v in inf_nan if v is not None),
                     schema.model_config.get("allow_inf_nan", True))
        keys.append(Key(model, path, field_unit(field) is not None,
                        accepts_bool(field.annotation),
                        bool(tables) or _mentions(field.annotation, dict, Any),
                        _mentions(field.annotation, float) and not allow))
        if len(path) < 4:
            for table in tables:
                keys.extend(_keys(model, table, path))
    return keys


def _mentions(annotation: Any, *kinds: Any) -> bool:
    """Whether ``annotation`` has one of ``kinds`` at its top level (not inside a list)."""
    stack = [annotation]
    while stack:
        item = stack.pop()
        if item in kinds or typing.get_origin(item) in kinds:
            return True
        if typing.get_origin(item) in (typing.Union, types.UnionType, typing.Annotated):
            stack.extend(typing.get_args(item))
    return False


BASES = _base_configs()
KEYS = sorted({key for name, job in jobs.available_jobs().items()
               for key in _keys(name, job.config_model)}, key=lambda k: (k.model, k.path))


# --------------------------------------------------------------------------------------------
# writing TOML and running the command line


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(type(value))


def to_toml(raw: dict[str, Any]) -> str:
    """A TOML document of ``raw`` (tables written inline)."""
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in raw.items())


def _with(raw: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``raw`` with ``value`` at ``path`` (tables created as needed)."""
    raw = copy.deepcopy(raw)
    table = raw
    for part in path[:-1]:
        if not isinstance(table.get(part), dict):
            table[part] = {}
        table = table[part]
    table[path[-1]] = value
    return raw


@dataclasses.dataclass
class Outcome:
    code: int | None  # None: the config was accepted (the stub run was reached)
    stdout: str
    stderr: str
    files: list[Path]


def run_cli(document: str | bytes, *extra: str) -> Outcome:
    """``boltzphlow run FILE -o OUT -q *extra`` in-process on a temporary file."""
    _ACCEPTED.clear()
    with tempfile.TemporaryDirectory() as folder:
        path, out = Path(folder) / "case.toml", Path(folder) / "out"
        if isinstance(document, bytes):
            path.write_bytes(document)
        else:
            path.write_text(document, encoding="utf-8")
        stdout, stderr = io.StringIO(), io.StringIO()
        with redirect_stdout(stdout), redirect_stderr(stderr):
            code = cli.main(["run", str(path), "-o", str(out), "-q", *extra])
        files = sorted(out.rglob("*")) if out.exists() else []
    return Outcome(None if _ACCEPTED else code, stdout.getvalue(), stderr.getvalue(), files)


def check(outcome: Outcome, *, must_fail: bool, what: str) -> None:
    """Exit 2 and one ``boltzphlow: error:`` line, or (unless ``must_fail``) accepted."""
    assert "Traceback" not in outcome.stderr, what
    assert outcome.files == [], what
    if outcome.code is None:
        assert not must_fail, f"accepted a bad config: {what}"
        return
    lines = outcome.stderr.splitlines()
    assert outcome.code == 2, f"{what}: exit {outcome.code}, {outcome.stderr!r}"
    assert len(lines) == 1 and lines[0].startswith("boltzphlow: error: "), \
        f"{what}: {outcome.stderr!r}"
    assert len(lines[0]) < 1200, what


# --------------------------------------------------------------------------------------------
# strategies

_characters = st.characters(exclude_categories=("Cs",))
_text = st.text(_characters, max_size=30)
_scalars = (st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats() | _text
            | st.sampled_from([10**30, -(10**30), 1e308, -1e308, 5e-324, 0.0, -0.0, "",
                               " ", "50 mK", "3 ns", "1/ns", "true", "[1]"]))
_anything = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(_text, inner, max_size=4), max_leaves=12)
_numbers = st.sampled_from(["", "3", "-2.5", "1e3", ".5", "pi/2", "0"])
_units = st.sampled_from(["", " K", "mK", " ns", " µeV", " um^3", " 1/ns", " deg", " W"])
_outside = _characters.filter(lambda c: not (c.isalpha() or c.isspace() or c in GRAMMAR))


@st.composite
def garbage_units(draw) -> str:
    """A quantity-like string with at least one character outside the unit grammar."""
    text = draw(_numbers) + draw(_units)
    where = draw(st.integers(0, len(text)))
    return text[:where] + draw(_outside) + text[where:]


_not_finite = st.sampled_from([math.inf, -math.inf, math.nan, "inf K", "nan", "-inf",
                               "1e400 K", "1e200", 1e200, "1e-200 K"])
_unknown_units = st.sampled_from(["3 parsecz", "3 K K", "90 degree degree", "1 m s", "2 (K)",
                                  "10**10**10 K", "(50 mK", "1/0 K", "3 K**2**2", "3 µeV/K*ns",
                                  "9" * 400 + " K", "3 ∞", "∞ K"])


def _nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


@st.composite
def bad_draws(draw) -> tuple[Key, Any, bool]:
    """``(key, value, must_fail)`` for a random key of a random model."""
    key = draw(st.sampled_from(KEYS))
    choices = [st.tuples(_anything, st.just(False)),
               st.tuples(st.integers(17, 60).map(_nested), st.just(True))]
    if not key.takes_bool:
        choices.append(st.tuples(st.booleans(), st.just(True)))
    if key.quantity:
        choices += [st.tuples(garbage_units(), st.just(True)),
                    st.tuples(_not_finite, st.just(True)),
                    st.tuples(_unknown_units, st.just(True))]
    if key.finite:
        choices.append(st.tuples(st.sampled_from([math.inf, -math.inf, math.nan]),
                                 st.just(True)))
    if not key.takes_table:
        choices.append(st.tuples(st.dictionaries(_text, _scalars, max_size=3), st.just(True)))
    value, must_fail = draw(st.one_of(choices))
    return key, value, must_fail


# --------------------------------------------------------------------------------------------
# properties


def test_every_model_has_keys_and_a_valid_base_config():
    assert {key.model for key in KEYS} == set(jobs.available_jobs())
    assert QUANTITY_KEYS
    for name in jobs.available_jobs():
        outcome = run_cli(to_toml(BASES[name]))
        assert outcome.code is None, f"{name}: {outcome.stderr}"  # accepted: the stub ran
        assert outcome.files == []


@SETTINGS
@given(bad_draws())
def test_bad_values_of_every_key(draw):
    key, value, must_fail = draw
    raw = _with(BASES[key.model], key.path, value)
    check(run_cli(to_toml(raw)), must_fail=must_fail,
          what=f"{key.model}: {key.dotted} = {value!r:.200}")


@SETTINGS
@given(st.sampled_from(KEYS), st.text(_characters, max_size=40))
def test_random_set_overrides(key, text):
    raw = BASES[key.model]
    check(run_cli(to_toml(raw), "--set", f"{key.dotted}={text}"), must_fail=False,
          what=f"{key.model}: --set {key.dotted}={text!r}")


QUANTITY_KEYS = [key for key in KEYS if key.quantity]


@SETTINGS
@given(st.sampled_from(QUANTITY_KEYS), garbage_units() | _unknown_units)
def test_bad_unit_strings_through_set(key, text):
    check(run_cli(to_toml(BASES[key.model]), "--set", f"{key.dotted}={_toml_string(text)}"),
          must_fail=True, what=f"{key.model}: --set {key.dotted}={text!r}")


@SETTINGS
@given(st.sampled_from(sorted(BASES)), st.lists(st.sampled_from(KEYS), max_size=3),
       _text.filter(lambda k: k.strip() != ""), _anything)
def test_unknown_keys_are_refused(model, keys, name, value):
    tables = [()] + [key.path[:-1] for key in keys if key.model == model and len(key.path) > 1]
    table = tables[-1]
    known = {k.path[-1] for k in KEYS if k.model == model and k.path[:-1] == table}
    if name in known or (not table and name in ("model", "sweep")):
        name = name + "_unknown"
    raw = _with(BASES[model], (*table, name), value)
    check(run_cli(to_toml(raw)), must_fail=True, what=f"{model}: unknown key {table}.{name!r}")


@SETTINGS
@given(st.sampled_from(sorted(BASES)), st.sampled_from(KEYS), _anything)
def test_random_structures_in_place_of_tables(model, key, value):
    raw = BASES[model]
    target = key.path[:1] if key.model == model else ("model",)
    wrong_model = target == ("model",) and value != raw["model"]
    check(run_cli(to_toml(_with(raw, target, value))), must_fail=wrong_model,
          what=f"{model}: {target} = {value!r:.200}")


@SETTINGS
@given(st.binary(max_size=200) | st.text(_characters, max_size=200).map(str.encode))
def test_random_files(document):
    check(run_cli(document), must_fail=False, what=f"file {document!r:.200}")


@SETTINGS
@given(st.sampled_from(sorted(BASES)), st.sampled_from(KEYS), _anything)
def test_random_sweep_tables(model, key, spec):
    raw = dict(BASES[model], sweep={key.dotted: spec})
    foreign = key.dotted not in {k.dotted for k in KEYS if k.model == model}
    check(run_cli(to_toml(raw)), must_fail=foreign,
          what=f"{model}: sweep {key.dotted} = {spec!r:.200}")


@pytest.mark.parametrize("special", ["nested", "huge", "binary", "folder"])
def test_special_files(special, tmp_path):
    if special == "nested":
        document = 'model = "geometry"\nx = ' + "[" * 50_000 + "]" * 50_000
    elif special == "huge":
        document = "# padding\n" * 120_000
    elif special == "binary":
        document = bytes(range(256)) * 10
    else:
        outcome = Outcome(None, "", "", [])
        stderr = io.StringIO()
        with redirect_stderr(stderr), redirect_stdout(io.StringIO()):
            outcome.code = cli.main(["run", str(tmp_path), "-o", str(tmp_path / "o"), "-q"])
        outcome.stderr = stderr.getvalue()
        check(outcome, must_fail=True, what="a folder")
        return
    check(run_cli(document), must_fail=True, what=special)
