"""Physical constants and unit handling for configs (the one place units live).

Internal unit system of the superconductor family: energies in µeV, times in ns,
temperatures in K, lengths in µm.  Other families document their own (dimensionless) units.

A config value may be a bare number, meaning the documented default unit of its key, or a
string with a unit, ``"50 mK"``, ``"438 ns"``, ``"0.2 um"``, ``"3 µm"``, ``"1/ns"``
(:func:`parse_quantity`).  Pydantic config models declare such keys with
:func:`boltzphlow.schema.Quantity` (the config layer; this module imports no pydantic)::

    class Config(ConfigModel):
        T_bath: Quantity("K", positive=True) = 0.05

Grammar of a quantity string
----------------------------
A string is parsed by the strict grammar below, never by an expression evaluator::

    quantity  := number [unit]
    number    := decimal | [+-] [decimal ["*"|"·"]] ("pi"|"π") ["/" integer]
    decimal   := [+-] digits [. digits] [(e|E) [+-] digits]     (also ".5", "5.")
    unit      := ["1"] "/" factor {"/" factor}                   ("1/ns", "/ns")
               | factor {op factor}
    op        := "*" | "·" | "/"          (after a "/" only "/" follows: "µeV/K*ns" is refused
                                            as ambiguous; "a/b/c" means a/(b c))
    factor    := name [exponent]
    exponent  := ("**" | "^") [+-] digit [digit]  |  superscripts ("²", "³", "⁻¹", ...)
    name      := a unit name the pint registry knows ("mK", "µm", "um", "ueV", "degC", "°")

π may be written in the number, for angles and wave vectors: ``"pi/2"``, ``"2*pi/3"``,
``"-π/4"`` (a positive integer divides it; ``"1/0 K"`` is an error).  Spaces may separate the
tokens.  Units side by side without an operator (``"90 degree degree"``), brackets, repeated
operators, exponent chains (``"10**10**10 K"``), unknown names and characters outside the
grammar (``"∞ K"``) are errors, as are strings longer than :data:`MAX_LENGTH` characters.
Offset temperatures (``"20 degC"``) convert to kelvin.

Magnitudes are bounded: after conversion to the key's unit a value must be finite, at most
:data:`MAX_MAGNITUDE` in absolute value and zero or at least :data:`MIN_MAGNITUDE`;
``inf`` and ``nan`` (TOML allows them as bare floats) are refused.  Booleans are not numbers:
``true`` is refused where a quantity is meant (as in every strict
:class:`boltzphlow.schema.ConfigModel` field).

pint is imported on first use only (its import is slow), so ``import boltzphlow.units`` is cheap.
"""

from __future__ import annotations

import math
import re
from functools import cache, lru_cache
from numbers import Real
from typing import TYPE_CHECKING, Any

from boltzphlow.errors import shorten

if TYPE_CHECKING:
    import pint

__all__ = ["K_B", "MAX_LENGTH", "MAX_MAGNITUDE", "MIN_MAGNITUDE", "conversion_factor",
           "display_unit", "parse_quantity", "parse_unit", "unit_registry"]

#: Boltzmann constant in µeV/K (CODATA 2018, exact).
K_B = 86.17333262

#: Largest absolute value a quantity may have in its key's unit (after conversion).
MAX_MAGNITUDE = 1e100
#: Smallest nonzero absolute value a quantity may have in its key's unit (after conversion).
MIN_MAGNITUDE = 1e-100
#: Longest quantity string accepted (characters).
MAX_LENGTH = 100
#: Most unit names in one unit expression.
_MAX_FACTORS = 8
#: Longest unit name (characters).
_MAX_NAME = 40

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
    "rad": "angle",
}

_DECIMAL = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(rf"[+-]?{_DECIMAL}")
_PI_NUMBER = re.compile(rf"(?P<sign>[+-]?)\s*(?:(?P<coef>{_DECIMAL})\s*[*·]?\s*)?(?:pi|π)"
                        r"(?:\s*/\s*(?P<den>[1-9][0-9]{0,5}))?(?!\w)")
_NOT_FINITE = re.compile(r"[+-]?(?:inf(?:inity)?|nan)\b", re.IGNORECASE)
_SPACE = re.compile(r"\s*")
_POWER = re.compile(r"\s*(?:\*\*|\^)\s*")
_INTEGER = re.compile(r"[+-]?[0-9]{1,2}(?![0-9])")
_SUPERSCRIPT = re.compile(r"[⁺⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]{1,2}")
_FROM_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
#: Unit names that pint's string preprocessor knows but its name lookup does not.
_ALIASES = {"°": "degree"}

#: A parsed unit expression: ``((name, exponent), ...)``; ``()`` is no unit.
Factors = tuple[tuple[str, int], ...]


class _Unparsable(ValueError):
    """Internal: a string outside the grammar (the argument says why)."""


@cache
def unit_registry() -> pint.UnitRegistry:
    """The package's single pint unit registry, created on first use.

    Offset units (``"20 degC"``) are converted to kelvin automatically.
    """
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


# --------------------------------------------------------------------------------------------
# the grammar


def _is_name_start(char: str) -> bool:
    return char.isalpha() or char == "°"


def _scan_name(text: str, pos: int) -> tuple[str, int]:
    """A unit name starting at ``pos`` (letters, then letters, ASCII digits or ``_``)."""
    if pos >= len(text):
        raise _Unparsable("a unit name is missing at the end")
    if not _is_name_start(text[pos]):
        raise _Unparsable(f"expected a unit name, got {text[pos]!r}")
    end = pos + 1
    while end < len(text) and (text[end].isalpha() or text[end] in "0123456789_"):
        end += 1
    if end - pos > _MAX_NAME:
        raise _Unparsable(f"unit name longer than {_MAX_NAME} characters")
    return text[pos:end], end


def _scan_exponent(text: str, pos: int) -> tuple[int, int]:
    """The exponent after a name (``**2``, ``^-1``, ``²``, ``⁻¹``), 1 when there is none."""
    match = _SUPERSCRIPT.match(text, pos)
    if match:
        return int(match.group().translate(_FROM_SUPERSCRIPT)), match.end()
    power = _POWER.match(text, pos)
    if power is None:
        return 1, pos
    match = _INTEGER.match(text, power.end())
    if match is None:
        raise _Unparsable("an exponent must be an integer of at most two digits")
    return int(match.group()), match.end()


def _scan_unit(text: str, pos: int = 0) -> Factors:
    """The unit expression ``text[pos:]`` as ``((name, exponent), ...)`` (see the grammar)."""
    sign = 1
    if text.startswith("1", pos):  # "1/ns"
        after = _SPACE.match(text, pos + 1).end()
        if not text.startswith("/", after):
            raise _Unparsable("a unit expression may start with '1' only as '1/'")
        pos, sign = after + 1, -1
    elif text.startswith("/", pos):  # "3/ns"
        pos, sign = pos + 1, -1
    factors: list[tuple[str, int]] = []
    while True:
        pos = _SPACE.match(text, pos).end()
        name, pos = _scan_name(text, pos)
        exponent, pos = _scan_exponent(text, pos)
        factors.append((name, sign * exponent))
        if len(factors) > _MAX_FACTORS:
            raise _Unparsable(f"more than {_MAX_FACTORS} unit names")
        pos = _SPACE.match(text, pos).end()
        if pos == len(text):
            return tuple(factors)
        operator = text[pos]
        if operator in "*·":
            if sign < 0:
                raise _Unparsable(f"{operator!r} after '/' is ambiguous; write the "
                                  "denominator last (a*c/b)")
        elif operator == "/":
            sign = -1
        elif _is_name_start(operator):
            raise _Unparsable("units must be joined by '*', '·' or '/'")
        else:
            raise _Unparsable(f"unexpected {operator!r}")
        pos += 1


def _scan_quantity(text: str) -> tuple[float, Factors]:
    """``"50 mK"`` -> ``(50.0, (("mK", 1),))``; ``"3"`` -> ``(3.0, ())``."""
    if len(text) > MAX_LENGTH:
        raise _Unparsable(f"longer than {MAX_LENGTH} characters")
    pos = _SPACE.match(text).end()
    if match := _PI_NUMBER.match(text, pos):
        sign = -1.0 if match["sign"] == "-" else 1.0
        coefficient = float(match["coef"]) if match["coef"] else 1.0
        magnitude = sign * coefficient * math.pi / int(match["den"] or 1)
    elif match := _NUMBER.match(text, pos):
        magnitude = float(match.group())  # a float literal: inf when it overflows
    elif _NOT_FINITE.match(text, pos):
        raise _Unparsable("not finite")
    else:
        raise _Unparsable("expected a number first" if pos < len(text) else "empty")
    pos = _SPACE.match(text, match.end()).end()
    return magnitude, (_scan_unit(text, pos) if pos < len(text) else ())


def parse_unit(text: str) -> pint.Unit:
    """A pint unit from a unit expression of the grammar (``"1/µm**3"``, ``"µeV·ns"``).

    Raises
    ------
    ValueError
        For a string outside the grammar or a name pint does not know.
    """
    text = text.strip()
    if len(text) > MAX_LENGTH:
        raise ValueError(f"unit {shorten(text)} is longer than {MAX_LENGTH} characters")
    try:
        return _build_unit(_scan_unit(text) if text else ())
    except _Unparsable as exc:
        raise ValueError(f"cannot parse unit {shorten(text)} ({exc})") from None


@lru_cache(maxsize=512)
def _build_unit(factors: Factors) -> pint.Unit:
    """The pint unit of parsed factors; ``ValueError`` naming an unknown unit."""
    import pint

    registry = unit_registry()
    unit = registry.dimensionless
    for name, exponent in factors:
        canonical = _ALIASES.get(name, name)
        try:
            registry.get_name(canonical)  # validates the name; no expression evaluation
            unit = unit * registry.Unit(canonical) ** exponent
        except (pint.PintError, AttributeError, ValueError, TypeError):
            raise ValueError(f"{shorten(name)} is not a known unit") from None
    return unit


# --------------------------------------------------------------------------------------------
# values


@cache
def _describe(unit: str) -> str:
    """``"a temperature (K)"``: what a value in ``unit`` is, for error messages."""
    if not unit:
        return "a dimensionless number"
    dimensionality = parse_unit(unit).dimensionality
    names = (name for ref, name in _DIMENSION_NAMES.items()
             if parse_unit(ref).dimensionality == dimensionality)
    name = next(names, None)
    if name is None:
        return f"a quantity in {unit}"
    article = "an" if name[0] in "aeiou" else "a"
    return f"{article} {name} ({unit})"


def parse_quantity(value: Any, unit: str) -> float:
    """Convert a config value to a float in ``unit``.

    Parameters
    ----------
    value
        A real number (already in ``unit``; not a bool), a string of the grammar in the module
        docstring (``"50 mK"``, ``"3 µm"``, ``"1/ns"``; a string holding only a number also
        means ``unit``), or a ``pint.Quantity``.
    unit
        Target unit, a unit expression of the grammar (``"K"``, ``"ns"``, ``"µeV"``,
        ``"1/µm**3"``).

    Returns
    -------
    float
        The magnitude in ``unit``: finite, at most :data:`MAX_MAGNITUDE` and zero or at least
        :data:`MIN_MAGNITUDE` in absolute value.

    Raises
    ------
    ValueError
        One line starting ``expected <what>, got <value>``: for a string outside the grammar, an
        unknown unit name, a unit of another dimension (``"expected a temperature (K), got
        '3 ns'"``), a value of another type (``True``), or a magnitude that is not finite or out
        of bounds.
    """
    try:
        if isinstance(value, bool):
            raise _Unparsable("")
        if isinstance(value, Real):
            try:
                magnitude = float(value)  # the common case needs no pint
            except OverflowError:
                raise _Unparsable(f"magnitude above {MAX_MAGNITUDE:g} {unit}".rstrip()) from None
        elif isinstance(value, str):
            magnitude = _convert_string(value, unit)
        elif hasattr(value, "m_as"):
            magnitude = _convert_pint(value, unit)
        else:
            raise _Unparsable("")
        return _check_magnitude(magnitude, unit)
    except _Unparsable as exc:
        reason = f" ({exc})" if str(exc) else ""
        shown = f"boolean {str(value).lower()}" if isinstance(value, bool) else shorten(value)
        raise ValueError(f"expected {_describe(unit)}, got {shown}{reason}") from None


def _convert_string(text: str, unit: str) -> float:
    """Parse ``text`` by the grammar and convert it to ``unit``."""
    magnitude, factors = _scan_quantity(text)
    if not factors:
        return magnitude  # "3": a bare number means the default unit
    try:
        source = _build_unit(factors)
    except ValueError as exc:
        raise _Unparsable(str(exc)) from None
    return _convert_pint(unit_registry().Quantity(magnitude, source), unit)


def _convert_pint(quantity: Any, unit: str) -> float:
    """The magnitude of a pint quantity in ``unit``."""
    import pint

    try:
        magnitude = float(quantity.m_as(parse_unit(unit)))
        finite_input = math.isfinite(float(quantity.magnitude))
    except pint.DimensionalityError:
        raise _Unparsable("") from None
    except OverflowError:
        raise _Unparsable(f"magnitude above {MAX_MAGNITUDE:g} {unit}") from None
    except (pint.PintError, ArithmeticError, ValueError, TypeError, AttributeError):
        raise _Unparsable(f"cannot convert to {unit}") from None
    if finite_input and not math.isfinite(magnitude):  # the conversion overflowed
        raise _Unparsable(f"magnitude above {MAX_MAGNITUDE:g} {unit}")
    return magnitude


def _check_magnitude(magnitude: float, unit: str) -> float:
    """``magnitude`` if finite and within the bounds, else :class:`_Unparsable`."""
    size = abs(magnitude)
    if math.isnan(size) or math.isinf(size):
        raise _Unparsable("not finite")
    if size > MAX_MAGNITUDE:
        raise _Unparsable(f"magnitude above {MAX_MAGNITUDE:g} {unit}".rstrip())
    if 0 < size < MIN_MAGNITUDE:
        raise _Unparsable(f"nonzero magnitude below {MIN_MAGNITUDE:g} {unit}".rstrip())
    return magnitude


@lru_cache(maxsize=64)
def conversion_factor(source: str, target: str) -> float:
    """The number a value in ``source`` is multiplied by to be in ``target``
    (``conversion_factor("W", "ueV/ns")`` = 6.2415e15): the one place a unit is converted.

    Raises
    ------
    ValueError
        For units outside the grammar or of different dimensions.
    """
    import pint

    try:
        return float(unit_registry().Quantity(1.0, parse_unit(source)).m_as(parse_unit(target)))
    except pint.DimensionalityError:
        raise ValueError(f"cannot convert {source} to {target}: different dimensions") from None


#: Superscript digits for :func:`display_unit`.
_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def display_unit(unit: str) -> str:
    """A unit as the docs write it: ``"ueV"`` → ``"µeV"``, ``"um^3"`` → ``"µm³"``, ``"1/ns"``
    unchanged (labels of a model's own units pass through)."""
    text = re.sub(r"(?<![A-Za-z])u(?=(?:eV|m|s|W|K)(?![A-Za-z]))", "µ", unit)
    return re.sub(r"(?:\^|\*\*)(-?[0-9]+)", lambda m: m[1].translate(_SUPERSCRIPTS), text)
