"""Parameter definitions owned by the models: name, unit, default, meaning and bounds, once.

A model (or one of its parameter dataclasses) declares each user-facing parameter with
:func:`parameter`::

    @dataclass(frozen=True)
    class Pump:
        zeta0: float = parameter(10.0, unit="1", doc="phonons delivered by a pulse", ge=0)

The app layer derives its config tables from these declarations
(:func:`boltzphlow.schema.config_model`), ``boltzphlow keys MODEL`` prints them, and the docs'
key tables are generated from the same source, so a name, a default or a unit is written in one
place.  This module is part of the physics layer: it imports neither pydantic nor the CLI.

Units
-----
``unit`` is either a physical unit that :mod:`boltzphlow.units` parses (``"ueV"``, ``"K"``,
``"ns"``, ``"um^3"``) with ``quantity=True`` (the config then takes ``"6 ueV"`` or a bare
number in that unit), or a label of the model's own unit system (``"W"``, ``"1/Γ_eph"``) or
``"1"`` (dimensionless) or ``"-"`` (a name, a switch, a path).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

__all__ = ["MISSING", "Parameter", "check_parameters", "parameter", "parameters_of"]


class _Missing:
    """Type of :data:`MISSING`."""

    def __repr__(self) -> str:
        return "MISSING"


#: Marker of a parameter without a default (it must be given).
MISSING: Any = _Missing()

#: Key of a :class:`Parameter` in a dataclass field's metadata.
_KEY = "boltzphlow.parameter"


@dataclass(frozen=True)
class Parameter:
    """What a model says about one of its parameters (see the module docstring).

    Attributes
    ----------
    name
        Attribute name (filled by :func:`parameters_of`).
    annotation
        Type of the attribute (resolved by :func:`parameters_of`).
    default
        Default value, or :data:`MISSING`.
    unit
        Unit of the value (see the module docstring).
    doc
        One line: what the parameter means (the docs' and ``keys``' "meaning" column).
    quantity
        Whether ``unit`` is a physical unit a config may give other units of.
    ge, gt, le, lt
        Bounds (``None``: none).
    allow_inf
        Whether ``inf`` is a meaningful value (e.g. a lifetime meaning "never").
    """

    name: str = ""
    annotation: Any = None
    default: Any = MISSING
    unit: str = "1"
    doc: str = ""
    quantity: bool = False
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    allow_inf: bool = False

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def check(self, value: Any) -> None:
        """``ValueError`` naming the parameter when ``value`` breaks a bound."""
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            return
        for bound, ok, text in ((self.ge, lambda b: value >= b, ">="),
                                (self.gt, lambda b: value > b, ">"),
                                (self.le, lambda b: value <= b, "<="),
                                (self.lt, lambda b: value < b, "<")):
            if bound is not None and not ok(bound):
                raise ValueError(f"{self.name} must be {text} {bound:g}, got {value:g}")


def parameter(default: Any = MISSING, *, unit: str, doc: str, quantity: bool = False,
              ge: float | None = None, gt: float | None = None, le: float | None = None,
              lt: float | None = None, allow_inf: bool = False) -> Any:
    """A dataclass field that carries its unit, meaning and bounds (see the module docstring).

    Returns
    -------
    dataclasses.Field
        To be assigned as the default of a dataclass attribute.
    """
    info = Parameter(default=default, unit=unit, doc=doc, quantity=quantity, ge=ge, gt=gt,
                     le=le, lt=lt, allow_inf=allow_inf)
    if default is MISSING:
        return dataclasses.field(metadata={_KEY: info})
    return dataclasses.field(default=default, metadata={_KEY: info})


def parameters_of(cls: type) -> dict[str, Parameter]:
    """The :func:`parameter` fields of a dataclass, in declaration order, names and types
    filled in (fields declared without :func:`parameter` are not parameters)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out: dict[str, Parameter] = {}
    for f in dataclasses.fields(cls):
        info = f.metadata.get(_KEY)
        if info is not None:
            out[f.name] = dataclasses.replace(info, name=f.name, annotation=hints[f.name])
    return out


def check_parameters(instance: Any) -> None:
    """Check every :func:`parameter` field of a dataclass instance against its bounds
    (``ValueError`` naming the first one out of bounds); for a model's ``__post_init__``."""
    for name, par in parameters_of(type(instance)).items():
        par.check(getattr(instance, name))
