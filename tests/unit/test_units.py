"""Unit parsing for configs: the strict grammar, bare numbers, pydantic fields and messages."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from boltzphlow.schema import ConfigModel, Quantity, field_unit
from boltzphlow.units import (
    K_B,
    MAX_MAGNITUDE,
    parse_quantity,
    parse_unit,
    unit_registry,
)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("50 mK", "K", 0.05),
        ("50mK", "K", 0.05),
        ("438 ns", "ns", 438.0),
        ("1 ms", "ns", 1e6),
        ("1 eV", "µeV", 1e6),
        ("0.2 um", "µm", 0.2),
        ("3 µm", "µm", 3.0),  # micro sign
        ("3 μm", "um", 3.0),  # Greek mu
        ("2 mm", "µm", 2000.0),
        ("20 degC", "K", 293.15),
        (" 0.1 K ", "K", 0.1),
        ("3", "K", 3.0),  # a string holding only a number means the default unit
        (3, "K", 3.0),
        (2.5, "ns", 2.5),
        ("1/ns", "1/ns", 1.0),
        ("1/ns", "GHz", 1.0),
        ("2 1/um^3", "1/µm**3", 2.0),
        ("2/um^3", "1/um**3", 2.0),
        ("1e9 1/m³", "1/um**3", 1e-9),
        ("2 m²", "um**2", 2e12),
        ("2 m⁻¹", "1/um", 2e-6),
        ("2 m**-1", "1/um", 2e-6),
        ("2 m^-1", "1/um", 2e-6),
        ("5 µeV·ns", "ueV*ns", 5.0),
        ("5 µeV * ns", "ueV*ns", 5.0),
        ("6 µeV/K/ns", "ueV/K/ns", 6.0),
        ("-4.5e-3 K", "K", -4.5e-3),
        ("+.5 K", "K", 0.5),
        ("5. K", "K", 5.0),
        ("90 deg", "rad", math.pi / 2),
        ("90°", "rad", math.pi / 2),
        ("pi/2", "rad", math.pi / 2),
        ("-2*pi/3", "rad", -2 * math.pi / 3),
        ("π/4 rad", "rad", math.pi / 4),
        ("0.5 pi", "rad", math.pi / 2),
        ("-40 degF", "K", 233.15),
        ("1e100 K", "K", 1e100),
        ("1e-100 K", "K", 1e-100),
        (0, "K", 0.0),
        (10**20, "K", 1e20),
    ],
)
def test_parse_quantity_converts_to_the_unit(value, unit, expected):
    assert parse_quantity(value, unit) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("value", "unit", "message"),
    [
        ("3 ns", "K", "expected a temperature (K), got '3 ns'"),
        ("1 K", "µeV", "expected an energy (µeV), got '1 K'"),
        ("2 K", "µm", "expected a length (µm), got '2 K'"),
        ("3 parsecz", "K", "'parsecz' is not a known unit"),
        ("3 +* K", "K", "expected a unit name, got '+'"),
        # pint dropped what it did not know: "∞ K" was 1 K, "90 degree degree" a wrong angle
        ("∞ K", "K", "expected a number first"),
        ("1 ∞K", "K", "expected a unit name, got '∞'"),
        ("90 degree degree", "rad", "units must be joined by '*', '·' or '/'"),
        ("3 m s", "m*s", "units must be joined"),
        ("3 K K", "K**2", "units must be joined"),
        # pint's evaluator hung or crashed
        ("(50 mK", "K", "expected a number first"),
        ("50 (mK)", "K", "expected a unit name, got '('"),
        ("1/0 K", "K", "expected a unit name, got '0'"),
        ("3 K//s", "K/s", "expected a unit name, got '/'"),
        ("3 K**", "K", "an exponent must be an integer"),
        ("3 K**2**3", "K**8", "expected a unit name, got '*'"),
        ("3 K**2.5", "K", "unexpected '.'"),
        ("3 K**(2)", "K**2", "an exponent must be an integer"),
        ("3 K/", "K", "a unit name is missing at the end"),
        ("3 µeV/K*ns", "ueV*ns/K", "ambiguous"),
        ("3 1 K", "K", "may start with '1' only as '1/'"),
        ("3 K*K*K*K*K*K*K*K*K", "K**9", "more than 8 unit names"),
        ("3 " + "x" * 41, "K", "longer than 40 characters"),
        ("1" * 400 + " K", "K", "longer than 100 characters"),
        ("1e308 km", "um", "magnitude above 1e+100 um"),
        ("1e200 K", "K", "magnitude above 1e+100 K"),
        ("1e-200 K", "K", "nonzero magnitude below 1e-100 K"),
        (10**400, "K", "magnitude above 1e+100 K"),
        (1e101, "K", "magnitude above"),
        ("inf K", "K", "not finite"),
        ("-Infinity", "K", "not finite"),
        (float("nan"), "K", "not finite"),
        ("٣ K", "K", "expected a number first"),  # digits are ASCII
        ("3 inf", "K", "'inf' is not a known unit"),
        ("3 nan", "K", "'nan' is not a known unit"),
        ("20 degC/s", "K/s", "expected a quantity in K/s, got '20 degC/s'"),
        (None, "K", "expected a temperature (K), got None"),
        ("", "K", "expected a temperature (K), got ''"),
        (True, "K", "expected a temperature (K), got boolean true"),
        ([1, 2], "ns", "expected a time (ns), got [1, 2]"),
        ("nan K", "K", "not finite"),
        (float("inf"), "K", "not finite"),
    ],
)
def test_parse_quantity_rejects_with_a_clear_message(value, unit, message):
    with pytest.raises(ValueError, match="^expected") as info:
        parse_quantity(value, unit)
    assert message in str(info.value)


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    T_bath: Quantity("K", positive=True) = 0.05
    length: Quantity("µm", nonnegative=True) = 1.0
    delay: Quantity("ns") = 0.0


def test_quantity_field_converts_on_validation():
    config = _Config(T_bath="50 mK", length="0.2 mm", delay=-3)
    assert (config.T_bath, config.length, config.delay) == pytest.approx((0.05, 200.0, -3.0))
    assert _Config(length=0).length == 0.0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("T_bath", "-1 K", "must be > 0, got -1 K"),
        ("T_bath", 0, "must be > 0"),
        ("length", "-2 um", "must be >= 0"),
        ("T_bath", "3 ns", "expected a temperature (K), got '3 ns'"),
    ],
)
def test_quantity_field_messages(field, value, message):
    with pytest.raises(ValidationError) as info:
        _Config(**{field: value})
    (error,) = info.value.errors()
    assert error["loc"] == (field,)
    assert message in str(error["ctx"]["error"])


def test_exponent_chains_and_huge_numbers_answer_at_once():
    """``"10**10**10 K"`` hung pint's evaluator; run in a subprocess so a hang fails."""
    code = textwrap.dedent("""
        from boltzphlow.units import parse_quantity
        for text in ["10**10**10 K", "9**9**9**9 K", "K**99**99", "1 K**99", "2**999999 K",
                     "1e999999 K", "9" * 101, "9" * 400 + " K"]:
            try:
                parse_quantity(text, "K")
            except ValueError:
                pass
            else:
                raise SystemExit(f"accepted {text!r}")
        """)
    result = subprocess.run([sys.executable, "-c", code], check=False, timeout=60,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-500:]


def test_messages_are_one_short_line():
    for value in ["3 " + "ä" * 10_000, "(" * 5000, "3 K\n\n" + "x" * 5000, 10**4000]:
        with pytest.raises(ValueError) as info:
            parse_quantity(value, "K")
        text = str(info.value)
        assert "\n" not in text and len(text) < 200, text


@pytest.mark.parametrize("unit", ["K", "ns", "µeV", "ueV", "um^3", "1/µm**3", "W", "rad",
                                  "µeV·ns", "m⁻³", "1/ns"])
def test_target_units_follow_the_grammar(unit):
    assert parse_unit(unit).dimensionality is not None


@pytest.mark.parametrize("unit", ["K K", "(K)", "K**", "∞", "1/0", "K/s*m", "parsecz"])
def test_parse_unit_refuses_what_the_grammar_does_not_allow(unit):
    with pytest.raises(ValueError, match="unit"):
        parse_unit(unit)


class _Strict(ConfigModel):
    T: Quantity("K", positive=True) = 1.0
    x: float = 1.0
    n: int = 1
    axis: Literal[0, 1, 2] = 2
    maybe: float | None = None
    tau: float = Field(math.inf, allow_inf_nan=True)
    switch: bool | Literal["auto"] = "auto"


@pytest.mark.parametrize("field", ["T", "x", "n", "axis", "maybe"])
@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_numbers(field, value):
    """Strict fields refuse booleans; ``Literal[0, 1, 2]`` took ``true`` as 1 in strict mode."""
    with pytest.raises(ValidationError, match=f"(?i)got (boolean )?{value}"):
        _Strict(**{field: value})


def test_fields_with_a_boolean_in_their_type_take_booleans():
    assert _Strict(switch=True).switch is True
    assert "got boolean true" in str(pytest.raises(ValidationError, _Strict, axis=True).value)


@pytest.mark.parametrize("field", ["T", "x"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_inf_and_nan_are_refused_where_a_finite_value_is_meant(field, value):
    with pytest.raises(ValidationError):
        _Strict(**{field: value})


def test_a_key_may_opt_in_to_infinity():
    assert _Strict(tau=math.inf).tau == math.inf
    assert field_unit(_Strict.model_fields["T"]) == "K"
    assert field_unit(_Strict.model_fields["x"]) is None
    assert MAX_MAGNITUDE == 1e100


def test_boltzmann_constant_agrees_with_pint():
    registry = unit_registry()
    k_b_times_1_kelvin = registry.Quantity(1.0, "K") * registry.boltzmann_constant
    # K_B is CODATA's decimal 8.617333262e-5 eV/K, the exact k_B/e truncated at 1.7e-11
    assert parse_quantity(k_b_times_1_kelvin, "µeV") == pytest.approx(K_B, rel=1e-10)


def test_importing_units_does_not_import_pint():
    code = "import sys, boltzphlow.units; sys.exit('pint' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
