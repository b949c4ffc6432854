"""Property tests of the unit grammar (:func:`boltzphlow.units.parse_quantity`)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boltzphlow.units import MAX_LENGTH, MAX_MAGNITUDE, MIN_MAGNITUDE, parse_quantity

SETTINGS = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

#: Characters of the grammar besides letters, digits and white space.
GRAMMAR = set("0123456789_.+-*/^·°⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")

#: Units of the package's config keys and others a user may write, each with a unit of the
#: same dimension and the factor between them (value in ``other`` = value in ``unit`` * factor).
UNITS = [("K", "mK", 1e3), ("mK", "K", 1e-3), ("ns", "ps", 1e3), ("µs", "ns", 1e3),
         ("ueV", "meV", 1e-3), ("µeV", "eV", 1e-6), ("um", "nm", 1e3), ("µm", "mm", 1e-3),
         ("um^3", "nm**3", 1e9), ("1/um^3", "1/cm³", 1e12), ("W", "fW", 1e15),
         ("rad", "mrad", 1e3), ("GHz", "MHz", 1e3), ("1/ns", "GHz", 1.0),
         ("µeV·ns", "meV*ps", 1.0)]

_finite = st.floats(min_value=-1e90, max_value=1e90).filter(
    lambda x: x == 0 or abs(x) >= 1e-90)
_characters = st.characters(exclude_categories=("Cs",))


@SETTINGS
@given(_finite, st.sampled_from(UNITS))
def test_values_with_their_own_unit_round_trip(x, units):
    unit, _, _ = units
    assert parse_quantity(f"{x!r} {unit}", unit) == pytest.approx(x, rel=1e-14, abs=0)
    if not unit[0].isdigit():  # "3ns", not "31/ns"
        assert parse_quantity(f"{x!r}{unit}", unit) == pytest.approx(x, rel=1e-14, abs=0)
    assert parse_quantity(repr(x), unit) == x  # a bare number means the key's unit
    assert parse_quantity(x, unit) == x


@SETTINGS
@given(_finite, st.sampled_from(UNITS))
def test_values_convert_between_units(x, units):
    unit, other, factor = units
    assert parse_quantity(f"{x * factor!r} {other}", unit) == pytest.approx(x, rel=1e-12)


@SETTINGS
@given(_finite, st.sampled_from(["2", "3", "-1", "-2"]))
def test_exponent_spellings_agree(x, exponent):
    superscript = exponent.translate(str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"))
    target = f"um**{exponent}"
    values = {parse_quantity(f"{x!r} um{power}", target)
              for power in (f"**{exponent}", f"^{exponent}", superscript, f" ** {exponent}")}
    assert len(values) == 1


@SETTINGS
@given(st.text(_characters, max_size=20), _characters.filter(
    lambda c: not (c.isalpha() or c.isspace() or c in GRAMMAR)), st.text(_characters, max_size=20))
def test_a_character_outside_the_grammar_is_refused(before, outside, after):
    text = before + outside + after
    with pytest.raises(ValueError, match="^expected") as info:
        parse_quantity(text, "K")
    assert "\n" not in str(info.value) and len(str(info.value)) < 250


@SETTINGS
@given(st.text(_characters, max_size=60)
       | st.text(st.sampled_from(sorted(GRAMMAR | set("KmsuneVµ πi"))), max_size=30)
       | st.text(alphabet=st.sampled_from(list("0123456789*^/ eK()")), max_size=30))
def test_any_string_is_a_float_or_one_line(text):
    try:
        value = parse_quantity(text, "K")
    except ValueError as exc:
        message = str(exc)
        assert message.startswith("expected a temperature (K), got ")
        assert "\n" not in message and len(message) < 250
    else:
        assert math.isfinite(value) and abs(value) <= MAX_MAGNITUDE
        assert value == 0 or abs(value) >= MIN_MAGNITUDE
        assert len(text) <= MAX_LENGTH


@SETTINGS
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers())
def test_bare_numbers_are_bounded(x):
    inside = math.isfinite(x) and (x == 0 or MIN_MAGNITUDE <= abs(x) <= MAX_MAGNITUDE)
    if inside:
        assert parse_quantity(x, "ns") == float(x)
    else:
        with pytest.raises(ValueError, match="not finite|magnitude"):
            parse_quantity(x, "ns")
