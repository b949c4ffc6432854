"""The base of every config schema: unknown keys are errors and numbers are strict.

Every table of every model's config derives from :class:`ConfigModel`:

* ``extra="forbid"``: a misspelt key is an error, never a silent default;
* ``strict=True``: booleans are not numbers (``T = true`` is an error, not T = 1), ``2.5`` is
  not a count, ``"3"`` is not a float.  Quantities with units are
  :func:`Quantity` fields, which take numbers and unit strings and refuse
  booleans too.  TOML gives arrays as lists: declare ``list[...]`` fields, or mark a field
  ``Field(strict=False)`` where lax conversion is wanted (``Path`` from a string);
* a boolean is refused by every field whose type has no ``bool`` in it, even where pydantic's
  strict mode would take it (``Literal[0, 1, 2]`` takes ``true`` as 1);
* ``allow_inf_nan=False``: ``inf`` and ``nan`` (valid TOML floats) are refused where a number
  is meant.  A key whose value may be infinite opts in with ``Field(allow_inf_nan=True)``
  (e.g. a lifetime where ``inf`` means "never").

The ``[sweep]`` table is not part of any schema: :func:`boltzphlow.config.validate_config`
removes it and validates it itself, for every model alike.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from collections.abc import Iterator
from functools import cache, partial
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
)

from boltzphlow.parameters import MISSING, Parameter, parameters_of
from boltzphlow.units import display_unit, parse_quantity

__all__ = ["KEYS_BLOCK", "ConfigModel", "Quantity", "QuantityUnit", "accepts_bool",
           "config_fields", "config_model", "field_unit",
           "field_at", "format_default", "key_rows", "key_tables", "markdown_keys",
           "parameter_values", "table_of", "update_key_blocks"]


class ConfigModel(BaseModel):
    """Base of config tables: unknown keys forbidden, strict types, finite floats."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse ``true``/``false`` for a field whose type has no ``bool`` in it."""
        if isinstance(value, bool) and info.field_name in _no_bool_fields(cls):
            raise ValueError(f"expected {_expected(cls, info.field_name)}, got boolean "
                             f"{str(value).lower()}")
        return value


@cache
def _no_bool_fields(model: type[BaseModel]) -> frozenset[str]:
    """Fields of ``model`` that refuse booleans (Quantity fields say so themselves)."""
    return frozenset(name for name, field in model.model_fields.items()
                     if field_unit(field) is None and not accepts_bool(field.annotation))


def _expected(model: type[BaseModel], name: str) -> str:
    """``"one of 0, 1, 2"``, ``"a number"``, ``"a string or a list"``: what a field takes."""
    words: list[str] = []
    stack = [model.model_fields[name].annotation]
    while stack:
        annotation = stack.pop(0)
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType, typing.Annotated):
            args = typing.get_args(annotation)
            stack[:0] = args[:1] if origin is typing.Annotated else args
            continue
        if origin is typing.Literal:
            word = "one of " + ", ".join(repr(v) for v in typing.get_args(annotation))
        elif annotation in (int, float):
            word = "a number"
        elif annotation is str:
            word = "a string"
        elif origin in (list, tuple, set, frozenset):
            word = "a list"
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel | dict):
            word = "a table"
        else:
            word = "a value of type " + getattr(annotation, "__name__", str(annotation))
        if annotation is not type(None) and word not in words:
            words.append(word)
    return " or ".join(words)


def accepts_bool(annotation: Any) -> bool:
    """Whether a field of type ``annotation`` may hold a boolean.

    True for ``bool``, ``Any``, ``object``, a ``Literal`` with a boolean value, and unions or
    ``Annotated`` types with one of these in them; false for numbers, strings, other literals,
    containers and tables.
    """
    if annotation in (bool, Any, object):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return any(isinstance(value, bool) for value in typing.get_args(annotation))
    if origin is typing.Annotated:
        return accepts_bool(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(accepts_bool(arg) for arg in typing.get_args(annotation))
    return False


def config_fields(schema: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted key, FieldInfo)`` of every value key of a config schema, tables entered.

    A field whose type is (or may be) a table is replaced by the keys of that table
    (``grid.energy_step``); the order is the schema's.
    """
    for name, field in schema.model_fields.items():
        key = f"{prefix}{name}"
        table = table_of(field)
        if table is None:
            yield key, field
        else:
            yield from config_fields(table, f"{key}.")


def table_of(field: Any) -> type[BaseModel] | None:
    """The table (config model) a field holds, looking through ``Optional`` and unions
    (``PumpConfig | None``); ``None`` for a value field."""
    annotation = getattr(field, "annotation", None)
    return next((t for t in (annotation, *typing.get_args(annotation))
                 if isinstance(t, type) and issubclass(t, BaseModel)), None)


def field_at(schema: type[BaseModel], dotted: str) -> Any:
    """The pydantic ``FieldInfo`` of a dotted key (``"grid.energy_step"``); ``None`` if the
    schema has no such key."""
    model: type[BaseModel] | None = schema
    field = None
    for part in dotted.split("."):
        if model is None or part not in model.model_fields:
            return None
        field = model.model_fields[part]
        model = table_of(field)
    return field



def config_model(source: type, name: str | None = None, *, doc: str | None = None,
                 exclude: tuple[str, ...] = (), defaults: dict[str, Any] | None = None,
                 base: type[ConfigModel] | None = None) -> type[ConfigModel]:
    """A config table derived from a model's :func:`~boltzphlow.parameters.parameter` fields.

    Every parameter of the dataclass ``source`` becomes a key with the same name, type,
    default, bounds and meaning (``description``), and its unit in ``json_schema_extra``; a
    ``quantity`` parameter becomes a :func:`Quantity` field that takes other
    units.  This is how an app states its config without copying the model.

    Parameters
    ----------
    source
        Dataclass with parameter fields.
    name
        Class name of the table (default ``<source>Config``).
    doc
        Docstring (default the first paragraph of the source's docstring).
    exclude
        Parameters the config does not expose (the app sets them).
    defaults
        Defaults that differ in the config (e.g. a larger grid for the command line).
    base
        Config class to derive from (default :class:`ConfigModel`); it may add validators or
        keys that are not model parameters.
    """
    fields: dict[str, Any] = {}
    for key, par in parameters_of(source).items():
        if key in exclude:
            continue
        default = (defaults or {}).get(key, par.default)
        fields[key] = _config_field(par, default)
    text = doc if doc is not None else " ".join((source.__doc__ or "").strip()
                                                .split("\n\n")[0].split())
    model = create_model(name or f"{source.__name__}Config", __base__=base or ConfigModel,
                         __doc__=text, __module__=source.__module__, **fields)
    return model


def parameter_values(config: BaseModel, source: type) -> dict[str, Any]:
    """The values of ``source``'s parameters in a config table derived from it
    (:func:`config_model`), to build the model: ``Relaxation(**parameter_values(cfg,
    Relaxation))``.  Parameters the config excludes are left out."""
    return {name: getattr(config, name) for name in parameters_of(source)
            if name in type(config).model_fields}


def _config_field(par: Parameter, default: Any) -> tuple[Any, Any]:
    """``(annotation, FieldInfo)`` of one parameter."""
    annotation = par.annotation
    bounds = {k: v for k, v in (("ge", par.ge), ("gt", par.gt), ("le", par.le), ("lt", par.lt))
              if v is not None}
    if par.quantity:
        optional = type(None) in typing.get_args(annotation)
        q = Quantity(par.unit, positive=par.gt == 0, nonnegative=par.ge == 0,
                     allow_inf=par.allow_inf)
        annotation = q | None if optional else q
        bounds = {k: v for k, v in bounds.items() if v != 0}
    extra: dict[str, Any] = {"unit": par.unit}
    kwargs: dict[str, Any] = {"description": par.doc, "json_schema_extra": extra, **bounds}
    if par.allow_inf:
        kwargs["allow_inf_nan"] = True
    return annotation, Field(... if default is MISSING else default, **kwargs)


def key_rows(schema: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """``(dotted key, unit, default, meaning)`` of every key of a config schema, in order:
    the one source of ``boltzphlow keys`` and of the docs' key tables.

    Units are shown as written in the docs (:func:`~boltzphlow.units.display_unit`: ``µeV``,
    ``µm³``; ``-`` for names and switches), defaults as they are written in a TOML config
    (:func:`format_default`: ``"fixed"``, ``true``, ``inf``, ``none``), ``required`` for a key
    without one.
    """
    rows = []
    for key, field in config_fields(schema):
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        unit = field_unit(field) or extra.get("unit") or "-"
        default = "required" if field.is_required() else format_default(field.default)
        rows.append((key, display_unit(str(unit)), default, " ".join((field.description
                                                                      or "").split())))
    return rows


def format_default(value: Any) -> str:
    """A default value as a TOML config writes it (``none`` for an absent optional key)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return re.sub(r"e([+-])0*(\d)", lambda m: f"e{m[1].strip('+')}{m[2]}", f"{value:g}")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_default(v) for v in value) + "]"
    return str(value)


def key_tables(schema: type[BaseModel]) -> list[tuple[str, str, list[tuple[str, str, str, str]]]]:
    """The rows of :func:`key_rows` grouped by config table: ``(table, what it is, rows)``,
    the top level first (table ``""``), then every table in the schema's order."""
    groups: dict[str, list[tuple[str, str, str, str]]] = {}
    for row in key_rows(schema):
        groups.setdefault(row[0].rpartition(".")[0], []).append(row)
    out = []
    for table, rows in groups.items():
        model = table_of(field_at(schema, table)) if table else schema
        text = (model.__doc__ or "").strip().split("\n\n")[0] if model is not None else ""
        out.append((table, " ".join(text.split()), rows))
    return out


def markdown_keys(schema: type[BaseModel]) -> str:
    """Markdown key tables of a config schema (``boltzphlow keys MODEL --markdown``): one table
    per config table, each headed by its name and what it holds."""
    lines: list[str] = []
    for table, text, rows in key_tables(schema):
        if table:
            lines += [f"`[{table}]`: {text.replace('``', '`')}", ""]
        lines += ["| key | unit | default | meaning |", "|---|---|---|---|"]
        lines += ["| " + " | ".join((f"`{key}`", *(cell.replace("|", "\\|") for cell in rest)))
                  + " |" for key, *rest in rows]
        lines.append("")
    return "\n".join(lines)


#: Markers of a generated key table in the docs: ``<!-- keys: MODEL -->`` ... ``<!-- /keys -->``.
KEYS_BLOCK = re.compile(r"(<!-- keys: ([\w.-]+) -->\n)(.*?)(<!-- /keys -->)", re.S)


def update_key_blocks(text: str, render: Any) -> str:
    """``text`` (a Markdown page) with every ``<!-- keys: MODEL -->`` ... ``<!-- /keys -->``
    block replaced by ``render(MODEL)`` (e.g. :func:`markdown_keys` of that model's schema)."""
    return KEYS_BLOCK.sub(lambda m: f"{m[1]}{render(m[2]).rstrip()}\n{m[4]}", text)


# ------------------------------------------------------------------------- quantity fields
class QuantityUnit(str):
    """Marker in a :func:`Quantity` field's metadata: the field's default unit (a ``str``)."""


def field_unit(field: Any) -> str | None:
    """The default unit of a pydantic ``FieldInfo`` declared with :func:`Quantity` (else None).

    Looks through ``Optional``/unions, so ``Quantity("K") | None`` gives ``"K"``.
    """
    stack = [getattr(field, "annotation", None), *getattr(field, "metadata", ())]
    while stack:
        item = stack.pop()
        if isinstance(item, QuantityUnit):
            return str(item)
        stack.extend(typing.get_args(item))
        stack.extend(getattr(item, "__metadata__", ()))
    return None


def Quantity(unit: str, *, positive: bool = False, nonnegative: bool = False,
             allow_inf: bool = False) -> Any:
    """A pydantic v2 field type: a float in ``unit``, given as a number or a string with a unit.

    Parameters
    ----------
    unit
        The documented default unit of the field; validated values are floats in it.
    positive
        Require ``value > 0`` (message ``"must be > 0, got ..."``).
    nonnegative
        Require ``value >= 0`` (message ``"must be >= 0, got ..."``).
    allow_inf
        Take ``inf`` (the TOML float, or the string ``"inf"``) as infinity, e.g. a lifetime
        meaning "never"; every other value is parsed as usual.

    Returns
    -------
    typing.Annotated
        ``Annotated[float, BeforeValidator(...), ...]`` for use as a field annotation.  The
        field takes what :func:`parse_quantity` takes (booleans, ``inf`` and ``nan`` are
        refused, magnitudes are bounded).

    Examples
    --------
    >>> class Config(ConfigModel):
    ...     T_bath: Quantity("K", positive=True) = 0.05
    >>> Config(T_bath="50 mK").T_bath
    0.05
    """
    parse = partial(_parse_or_inf if allow_inf else parse_quantity, unit=unit)
    metadata: list[Any] = [QuantityUnit(unit), BeforeValidator(parse)]
    if positive or nonnegative:
        metadata.append(AfterValidator(partial(_check_bound, unit=unit, strict=positive)))
    return Annotated[(float, *metadata)]


def _parse_or_inf(value: Any, unit: str) -> float:
    """:func:`parse_quantity`, with ``inf`` (float or ``"inf"``, ``"+inf"``) taken as infinity."""
    if isinstance(value, float) and value == math.inf:
        return math.inf
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf"):
        return math.inf
    return parse_quantity(value, unit)


def _check_bound(value: float, *, unit: str, strict: bool) -> float:
    """Raise ``ValueError`` unless ``value > 0`` (``strict``) or ``value >= 0``."""
    if value > 0 or (not strict and value == 0):
        return value
    shown = f"{value:g} {unit}".rstrip()
    raise ValueError(f"must be {'>' if strict else '>='} 0, got {shown}")
