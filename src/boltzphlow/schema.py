"""The base of every config schema: unknown keys are errors and numbers are strict.

Every table of every model's config derives from :class:`ConfigModel`:

* ``extra="forbid"``: a misspelt key is an error, never a silent default;
* ``strict=True``: booleans are not numbers (``T = true`` is an error, not T = 1), ``2.5`` is
  not a count, ``"3"`` is not a float.  Quantities with units are
  :func:`boltzphlow.units.Quantity` fields, which take numbers and unit strings and refuse
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

import types
import typing
from collections.abc import Iterator
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from boltzphlow.units import field_unit

__all__ = ["ConfigModel", "accepts_bool", "config_fields", "field_at", "table_of"]


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

