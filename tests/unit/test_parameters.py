"""One source of truth: parameters declared by the models, configs derived from them."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import pytest
from pydantic import ValidationError

from boltzphlow.kinetics.photoexcited.model import Pump
from boltzphlow.kinetics.superconductor.parameters import FilmParameters, GridParameters
from boltzphlow.kinetics.superconductor.sources import Injection, PhotonHit
from boltzphlow.parameters import MISSING, check_parameters, parameter, parameters_of
from boltzphlow.schema import (
    ConfigModel,
    config_model,
    format_default,
    key_rows,
    parameter_values,
)
from boltzphlow.units import conversion_factor, display_unit


@dataclass(frozen=True)
class Decay:
    """A decay with a lifetime (test model)."""

    kind: Literal["fast", "slow"] = parameter("fast", unit="-", doc="which decay")
    tau: float = parameter(2.0, unit="ns", quantity=True, gt=0, doc="lifetime")
    weight: float = parameter(0.5, unit="1", ge=0, le=1, doc="weight of the decay")
    lifetime: float = parameter(math.inf, unit="ns", gt=0, allow_inf=True,
                                doc="phonon lifetime (inf: none)")
    label: str = "decay"  # not a parameter: not in the config


def test_parameters_of_reads_the_declarations_in_order():
    pars = parameters_of(Decay)
    assert list(pars) == ["kind", "tau", "weight", "lifetime"]
    tau = pars["tau"]
    assert (tau.name, tau.unit, tau.default, tau.gt, tau.quantity) == ("tau", "ns", 2.0, 0, True)
    assert tau.annotation is float and pars["kind"].annotation == Literal["fast", "slow"]
    assert not tau.required and parameters_of(Injection)["epsilon0"].default == 700.0
    assert dataclasses.fields(Injection)[0].name == "power"  # a plain field: not a parameter
    assert "power" not in parameters_of(Injection)
    assert repr(MISSING) == "MISSING"


def test_bounds_are_checked_by_the_model_with_the_parameter_named():
    check_parameters(Decay())
    with pytest.raises(ValueError, match=r"^weight must be <= 1, got 1\.5$"):
        check_parameters(Decay(weight=1.5))
    with pytest.raises(ValueError, match=r"^tau must be > 0, got 0$"):
        check_parameters(Decay(tau=0.0))


def test_config_model_copies_names_defaults_bounds_units_and_meanings():
    config = config_model(Decay)
    assert config.__name__ == "DecayConfig" and list(config.model_fields) == [
        "kind", "tau", "weight", "lifetime"]
    assert config.__doc__ == "A decay with a lifetime (test model)."
    assert config().model_dump() == {"kind": "fast", "tau": 2.0, "weight": 0.5,
                                     "lifetime": math.inf}
    assert config(tau="3000 ps").tau == pytest.approx(3.0, rel=1e-15)  # a quantity takes units
    assert config(lifetime=math.inf).lifetime == math.inf  # allow_inf opts in
    for bad, message in (({"tau": -1}, "must be > 0, got -1 ns"),
                         ({"weight": 2}, "less than or equal to 1"),
                         ({"weight": math.inf}, "finite number"),
                         ({"weight": True}, "got boolean true"),
                         ({"kind": "medium"}, "'fast' or 'slow'"),
                         ({"other": 1}, "Extra inputs")):
        with pytest.raises(ValidationError, match=message):
            config(**bad)
    assert key_rows(config) == [
        ("kind", "-", '"fast"', "which decay"), ("tau", "ns", "2", "lifetime"),
        ("weight", "1", "0.5", "weight of the decay"),
        ("lifetime", "ns", "inf", "phonon lifetime (inf: none)")]


def test_exclude_defaults_and_base_shape_the_table():
    class Head(ConfigModel):
        model: Literal["decay"]

    config = config_model(Decay, "Table", exclude=("kind",), defaults={"tau": 5.0}, base=Head,
                          doc="a table")
    assert list(config.model_fields) == ["model", "tau", "weight", "lifetime"]
    assert config.__doc__ == "a table" and config(model="decay").tau == 5.0
    cfg = config(model="decay", weight=0.25)
    assert parameter_values(cfg, Decay) == {"tau": 5.0, "weight": 0.25, "lifetime": math.inf}
    assert Decay(**parameter_values(cfg, Decay)).weight == 0.25


@pytest.mark.parametrize(("source", "table"), [
    (Pump, "pump"), (PhotonHit, "photon"), (Injection, "injection"), (GridParameters, "grid")])
def test_app_tables_hold_the_models_defaults(source, table):
    from boltzphlow.apps.photoexcited import PhotoexcitedConfig
    from boltzphlow.apps.superconductor import SuperconductorConfig

    app = PhotoexcitedConfig if source is Pump else SuperconductorConfig
    schema = app.model_fields[table].annotation
    schema = next(t for t in (schema, *getattr(schema, "__args__", ())) if hasattr(
        t, "model_fields"))
    defaults = schema().model_dump()
    for name, par in parameters_of(source).items():
        assert defaults[name] == par.default, name
        assert schema.model_fields[name].description == par.doc, name
    if source is Pump:
        assert Pump(**defaults) == Pump()


def test_top_level_superconductor_keys_come_from_the_film_parameters():
    from boltzphlow.apps.superconductor import SuperconductorConfig

    fields = SuperconductorConfig.model_fields
    assert list(fields)[:2] == ["model", "task"]
    for name, par in parameters_of(FilmParameters).items():
        assert fields[name].description == par.doc
        assert fields[name].default == par.default
    cfg = SuperconductorConfig(model="superconductor", T_bath="50 mK", volume="2 um^3")
    assert cfg.T_bath == pytest.approx(0.05, rel=1e-15) and cfg.volume == 2.0


def test_the_injected_power_is_converted_by_the_units_module():
    from boltzphlow.apps.superconductor import SuperconductorConfig, build_model

    # 1 W = 1 J/s = 1e6/1.602176634e-19 µeV per 1e9 ns (the eV is exact since SI 2019)
    assert conversion_factor("W", "ueV/ns") == pytest.approx(1e-9 / 1.602176634e-25,
                                                             rel=1e-15)
    cfg = SuperconductorConfig(model="superconductor", task="steady-state", escape_time=2.0,
                               volume=4.0, injection={"power": "2 fW", "epsilon0": 450.0})
    model = build_model(cfg)
    assert model.injection.power == pytest.approx(2e-15 * 6.241509074460763e15 / 4.0,
                                                  rel=1e-14)
    assert model.injection.width == 20.0 and model.injection.epsilon0 == 450.0
    with pytest.raises(ValueError, match="different dimensions"):
        conversion_factor("W", "ns")


@pytest.mark.parametrize(("value", "text"), [
    (None, "none"), (True, "true"), (False, "false"), (1e6, "1e6"), (1e-15, "1e-15"),
    (0.003, "0.003"), (math.inf, "inf"), (-math.inf, "-inf"), ("BDF", '"BDF"'), (40, "40"),
    ([1, 2.5], "[1, 2.5]")])
def test_defaults_are_shown_as_toml_writes_them(value, text):
    assert format_default(value) == text


@pytest.mark.parametrize(("unit", "text"), [
    ("ueV", "µeV"), ("um^3", "µm³"), ("1/ns", "1/ns"), ("um**-1", "µm⁻¹"), ("K", "K"),
    ("1/Γ_eph", "1/Γ_eph"), ("W", "W"), ("mK", "mK")])
def test_units_are_shown_as_the_docs_write_them(unit, text):
    assert display_unit(unit) == text


def test_a_quantity_may_opt_in_to_infinity():
    @dataclass(frozen=True)
    class Film:
        """A film (test model)."""

        escape: float = parameter(math.inf, unit="ns", quantity=True, gt=0, allow_inf=True,
                                  doc="escape time (inf: never)")
        tau: float = parameter(1.0, unit="ns", quantity=True, gt=0, doc="a finite time")

    config = config_model(Film)
    for value in (math.inf, "inf", " +INF "):
        assert config(escape=value).escape == math.inf
    assert config(escape="2 us").escape == pytest.approx(2000.0, rel=1e-15)
    assert key_rows(config)[0] == ("escape", "ns", "inf", "escape time (inf: never)")
    for bad, message in (({"escape": -math.inf}, "not finite"),
                         ({"escape": "-inf"}, "expected a time"),
                         ({"escape": math.nan}, "not finite"),
                         ({"escape": -1}, "must be > 0"),
                         ({"tau": math.inf}, "not finite"),
                         ({"tau": "inf"}, "expected a time")):
        with pytest.raises(ValidationError, match=message):
            config(**bad)


def test_material_parameters_are_the_keys_of_a_material_file():
    from boltzphlow.kinetics.superconductor.materials import NUMERIC_KEYS, Material

    pars = parameters_of(Material)
    assert tuple(pars) == NUMERIC_KEYS and all(p.required and p.gt == 0 for p in pars.values())
    assert [display_unit(p.unit) for p in pars.values()] == [
        "K", "µeV", "ns", "ns", "1/(µeV µm³)", "µeV"]
