"""Physical constants and unit handling for configs (the one place units live).

Internal unit system of the superconductor family: energies in µeV, times in ns,
temperatures in K, lengths in µm.  Other families document their own (dimensionless) units.

A config value may be a bare number, meaning the documented default unit of its key, or a
string with a unit, ``"50 mK"``, ``"438 ns"``, ``"0.2 um"``, ``"3 µm"``, parsed with pint
(:func:`parse_quantity`).  Pydantic config models declare such keys with :func:`Quantity`::

    class Config(BaseModel):
        T_bath: Quantity("K", positive=True) = 0.05

pint is imported on first use only (its import is slow), so ``import boltzphlow.units`` is cheap.
"""

from __future__ import annotations

import math
from functools import cache, partial
from numbers import Real
from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:
    import pint

#: Boltzmann constant in µeV/K (CODATA 2018, exact).
K_B = 86.17333262

#: Names of physical dimensions for error messages, keyed by a unit of that dimension.
_DIMENSION_NAMES = {
    "K": "temperature",
    "s": "time",
    "m": "length",
    "eV": "energy",
    "Hz": "frequency",
    "W": "power",
    "V": "voltage",
    "A": "current",
    "T": "magnetic field",
    "V/m": "electric field",
    "m/s": "velocity",
    "m**-3": "density",
    "m**2": "area",
    "m**3": "volume",
}


@cache
def unit_registry() -> pint.UnitRegistry:
    """The package's single pint unit registry, created on first use.

    Offset units (``"20 degC"``) are converted to kelvin automatically.
    """
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


@cache
def _describe(unit: str) -> str:
    """``"a temperature (K)"``: what a value in ``unit`` is, for error messages."""
    registry = unit_registry()
    dimensionality = registry.get_dimensionality(unit)
    names = (name for ref, name in _DIMENSION_NAMES.items()
             if registry.get_dimensionality(ref) == dimensionality)
    name = next(names, None)
    if name is None:
        return f"a quantity in {unit}" if unit else "a dimensionless number"
    article = "an" if name[0] in "aeiou" else "a"
    return f"{article} {name} ({unit})"


def parse_quantity(value: Any, unit: str) -> float:
    """Convert a config value to a float in ``unit``.

    Parameters
    ----------
    value
        A real number (already in ``unit``), a string such as ``"50 mK"`` or ``"3 µm"`` (a
        string holding only a number also means ``unit``), or a ``pint.Quantity``.
    unit
        Target unit, a pint unit expression (``"K"``, ``"ns"``, ``"µeV"``, ``"1/µm**3"``).

    Returns
    -------
    float
        The magnitude in ``unit``.

    Raises
    ------
    ValueError
        For a string pint cannot parse, a unit of another dimension (``"expected a temperature
        (K), got '3 ns'"``), a value of another type, or a value that is not finite.
    """
    if isinstance(value, Real) and not isinstance(value, bool):
        magnitude = float(value)  # the common case needs no pint
    elif isinstance(value, str) or hasattr(value, "m_as"):
        magnitude = _convert(value, unit)
    else:
        raise ValueError(f"expected {_describe(unit)}, got {value!r}")
    if not math.isfinite(magnitude):
        raise ValueError(f"expected {_describe(unit)}, got {value!r} (not finite)")
    return magnitude


def _convert(value: Any, unit: str) -> float:
    """Convert a string or pint quantity to a float in ``unit`` with pint."""
    import pint

    registry = unit_registry()
    try:
        quantity = registry.Quantity(value.strip()) if isinstance(value, str) else value
        if quantity.unitless and quantity.units == registry.dimensionless:
            return float(quantity.magnitude)  # "3": a bare number means the default unit
        return float(quantity.m_as(unit))
    except pint.UndefinedUnitError as exc:
        unknown = ", ".join(repr(name) for name in exc.unit_names)
        raise ValueError(
            f"expected {_describe(unit)}, got {value!r} ({unknown} is not a known unit)"
        ) from None
    except pint.DimensionalityError:
        raise ValueError(f"expected {_describe(unit)}, got {value!r}") from None
    except (pint.PintError, ValueError, TypeError, SyntaxError, AttributeError):
        raise ValueError(f"expected {_describe(unit)}, got {value!r} (cannot parse)") from None


def _check_bound(value: float, *, unit: str, strict: bool) -> float:
    """Raise ``ValueError`` unless ``value > 0`` (``strict``) or ``value >= 0``."""
    if value > 0 or (not strict and value == 0):
        return value
    shown = f"{value:g} {unit}".rstrip()
    raise ValueError(f"must be {'>' if strict else '>='} 0, got {shown}")


class QuantityUnit(str):
    """Marker in a :func:`Quantity` field's metadata: the field's default unit (a ``str``)."""


def field_unit(field: Any) -> str | None:
    """The default unit of a pydantic ``FieldInfo`` declared with :func:`Quantity` (else None).

    Looks through ``Optional``/unions, so ``Quantity("K") | None`` gives ``"K"``.
    """
    import typing

    stack = [getattr(field, "annotation", None), *getattr(field, "metadata", ())]
    while stack:
        item = stack.pop()
        if isinstance(item, QuantityUnit):
            return str(item)
        stack.extend(typing.get_args(item))
        stack.extend(getattr(item, "__metadata__", ()))
    return None


def Quantity(unit: str, *, positive: bool = False, nonnegative: bool = False) -> Any:
    """A pydantic v2 field type: a float in ``unit``, given as a number or a string with a unit.

    Parameters
    ----------
    unit
        The documented default unit of the field; validated values are floats in it.
    positive
        Require ``value > 0`` (message ``"must be > 0, got ..."``).
    nonnegative
        Require ``value >= 0`` (message ``"must be >= 0, got ..."``).

    Returns
    -------
    typing.Annotated
        ``Annotated[float, BeforeValidator(...), ...]`` for use as a field annotation.

    Examples
    --------
    >>> from pydantic import BaseModel
    >>> class Config(BaseModel):
    ...     T_bath: Quantity("K", positive=True) = 0.05
    >>> Config(T_bath="50 mK").T_bath
    0.05
    """
    from pydantic import AfterValidator, BeforeValidator

    metadata: list[Any] = [QuantityUnit(unit), BeforeValidator(partial(parse_quantity, unit=unit))]
    if positive or nonnegative:
        metadata.append(AfterValidator(partial(_check_bound, unit=unit, strict=positive)))
    return Annotated[(float, *metadata)]
