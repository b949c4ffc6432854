"""Unit parsing for configs: pint strings, bare numbers, pydantic fields and their messages."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from boltzphlow.units import K_B, Quantity, parse_quantity, unit_registry


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
        ("3 +* K", "K", "cannot parse"),
        ("", "K", "expected a temperature (K), got ''"),
        (True, "K", "expected a temperature (K), got True"),
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


def test_boltzmann_constant_agrees_with_pint():
    registry = unit_registry()
    k_b_times_1_kelvin = registry.Quantity(1.0, "K") * registry.boltzmann_constant
    # K_B is CODATA's decimal 8.617333262e-5 eV/K, the exact k_B/e truncated at 1.7e-11
    assert parse_quantity(k_b_times_1_kelvin, "µeV") == pytest.approx(K_B, rel=1e-10)


def test_importing_units_does_not_import_pint():
    code = "import sys, boltzphlow.units; sys.exit('pint' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
