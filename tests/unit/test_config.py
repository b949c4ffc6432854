"""Config files: TOML, --set overrides, validation messages, examples, configs in results."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import xarray as xr

from boltzphlow.config import (
    DEFAULT_EXAMPLE,
    ConfigError,
    apply_overrides,
    config_from_result,
    config_to_json,
    example_text,
    list_examples,
    load_config,
)


def test_load_config_validates_and_keeps_the_raw_strings(toy_config):
    job, config, raw = load_config(toy_config)
    assert job.name == "toy"
    assert (config.T0, config.tau, config.t_max) == (2.0, 1.5, 4.0)
    assert config.solver.method == "euler"
    assert raw["T0"] == "2 K"  # the raw dict is what a result stores


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("1.5", 1.5),
        ("-2e-3", -2e-3),
        ("true", True),
        ('"50 mK"', "50 mK"),
        ("[1, 2]", [1, 2]),
        ("fixed", "fixed"),
        ("50mK", "50mK"),
        ("50 mK", "50 mK"),
        (" 7 ", 7),
    ],
)
def test_override_values_are_toml_or_plain_strings(text, expected):
    assert apply_overrides({}, [f"x={text}"]) == {"x": expected}


def test_dotted_overrides_go_into_nested_tables_without_touching_the_input():
    raw = {"solver": {"method": "exact"}, "n_out": 3}
    result = apply_overrides(raw, ["solver.substeps=4", "grid.energy.n=10", "n_out=5"])
    assert result == {"solver": {"method": "exact", "substeps": 4}, "n_out": 5,
                      "grid": {"energy": {"n": 10}}}
    assert raw == {"solver": {"method": "exact"}, "n_out": 3}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("n_out", "config error: n_out: expected --set key=value"),
        ("a..b=1", "config error: a..b=1: expected --set key=value"),
        ("=1", "expected --set key=value"),
        ("n_out.x=1", "config error: n_out: is a value, not a table"),
    ],
)
def test_bad_overrides(item, message):
    with pytest.raises(ConfigError) as info:
        apply_overrides({"n_out": 3}, [item])
    assert message in str(info.value)


def test_overrides_are_validated(toy_config):
    _, config, raw = load_config(toy_config, ["tau=3 ns", "solver.method=exact", "n_out=7"])
    assert (config.tau, config.solver.method, config.n_out) == (3.0, "exact", 7)
    assert raw["tau"] == "3 ns"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["tua=2"], "config error: tua: unknown key (did you mean 'tau'?)"),
        (["foo=1"], "config error: foo: unknown key"),
        (["solver.metod=exact"],
         "config error: solver.metod: unknown key (did you mean 'method'?)"),
        (["T0=3 ns"], "config error: T0: expected a temperature (K), got '3 ns'"),
        (["T0=3 bananas"], "config error: T0: expected a temperature (K), got '3 bananas' "
                           "('bananas' is not a known unit)"),
        (["tau=-1 ns"], "config error: tau: must be > 0, got -1 ns"),
        (["n_out=many"], "config error: n_out: Input should be a valid integer"),
        (["n_out=1"], "config error: n_out: Input should be greater than or equal to 2"),
        (["solver.method=rk4"], "config error: solver.method: Input should be 'exact' or 'euler'"),
        (["solver=3"], "config error: solver: Input should be a valid dictionary"),
        (["model=nope"], "config error: model: unknown model 'nope' (known: "),
        (["tau=0", "t_max=0"], "config error: tau: must be > 0, got 0 ns (and 1 more: t_max)"),
    ],
)
def test_validation_errors_are_one_line_naming_the_key(toy_config, overrides, message):
    with pytest.raises(ConfigError) as info:
        load_config(toy_config, overrides)
    text = str(info.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_missing_model_lists_the_known_models(tmp_path, toy_job):
    path = tmp_path / "nomodel.toml"
    path.write_text("T0 = 1\n")
    with pytest.raises(ConfigError, match=r"^config error: model: missing; .*known: .*toy"):
        load_config(path)


def test_missing_required_key(tmp_path, toy_job):
    path = tmp_path / "empty.toml"
    path.write_text("")
    with pytest.raises(ConfigError, match="^config error: model: missing"):
        load_config(path, ["T0=1"])


def test_invalid_toml_names_the_file(tmp_path, toy_job):
    path = tmp_path / "bad.toml"
    path.write_text('model = "toy"\nT0 = = 3\n')
    with pytest.raises(ConfigError, match=r"^config error: .*bad\.toml: invalid TOML: .*line 2"):
        load_config(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config file or built-in example"):
        load_config(tmp_path / "nope.toml")


def test_config_error_is_a_picklable_value_error():
    error = ConfigError("solver.rtol", "must be > 0,\n  got -1")
    assert isinstance(error, ValueError)
    assert str(error) == "config error: solver.rtol: must be > 0, got -1"
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_examples_by_name(toy_examples):
    assert list_examples() == {"toy_example": "Toy exponential decay used by the tests"}
    assert example_text("toy_example").startswith("# Toy exponential decay")
    job, config, raw = load_config("toy_example", ["n_out=3"])
    assert (job.name, config.n_out) == ("toy", 3)
    with pytest.raises(ValueError, match=r"unknown example 'nope' \(known: toy_example\)"):
        example_text("nope")


def test_a_file_wins_over_an_example_of_the_same_name(toy_examples, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("toy_example").write_text('model = "toy"\nn_out = 9\n')
    assert load_config("toy_example")[1].n_out == 9


def test_config_round_trip_through_a_result():
    raw = {"model": "toy", "T0": "50 µK", "solver": {"method": "exact"}, "grid": [1, 2.5]}
    ds = xr.Dataset(attrs={"config": config_to_json(raw)})
    assert config_from_result(ds) == raw
    with pytest.raises(ValueError, match="carries no config"):
        config_from_result(xr.Dataset())


def test_default_example_is_built_in():
    assert DEFAULT_EXAMPLE in list_examples()


@pytest.mark.parametrize("name", sorted(list_examples()))
def test_builtin_examples_validate(name):
    job, _, raw = load_config(name)
    assert raw["model"] == job.name
