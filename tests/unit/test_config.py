"""Config files: TOML, --set overrides, validation messages, examples, configs in results."""

from __future__ import annotations

import os
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from boltzphlow import jobs
from boltzphlow.config import (
    DEFAULT_EXAMPLE,
    MAX_CONFIG_BYTES,
    ConfigError,
    apply_overrides,
    config_from_result,
    config_to_json,
    example_text,
    is_config_key,
    list_examples,
    load_config,
    parse_sweep_values,
    read_toml,
    validate_config,
    validate_sweep,
)
from boltzphlow.jobs import available_jobs


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


# --------------------------------------------------------------------------------------------
# hardening (issue 7): every mistake in user input is one ConfigError line


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and len(text) < 1200, text
    return text


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_toml_is_a_config_error(tmp_path, toy_job, depth):
    path = tmp_path / "deep.toml"
    path.write_text('model = "toy"\nx = ' + "[" * depth + "]" * depth + "\n")
    with pytest.raises(ConfigError, match=r"deep\.toml.*nested more than 16 levels"):
        load_config(path)


def test_deeply_nested_overrides_are_config_errors(toy_config):
    with pytest.raises(ConfigError, match=r"^config error: x: value nested more than"):
        load_config(toy_config, ["x=" + "[" * 100_000])
    with pytest.raises(ConfigError, match="nested more than 16 levels"):
        load_config(toy_config, ["x=" + "[" * 30 + "]" * 30])
    with pytest.raises(ConfigError, match="nested more than 16 levels"):
        load_config(toy_config, [".".join(["a"] * 100_000) + "=1"])


def test_nesting_is_bounded_for_dicts_given_directly(toy_job):
    raw: dict = {"model": "toy"}
    table = raw
    for _ in range(5000):
        table["a"] = {}
        table = table["a"]
    for call in (lambda: validate_config(raw), lambda: apply_overrides(raw, [])):
        with pytest.raises(ConfigError, match="nested more than 16 levels"):
            call()


def test_a_number_too_long_for_python_is_a_config_error(tmp_path, toy_job):
    path = tmp_path / "digits.toml"
    path.write_text('model = "toy"\nn_out = ' + "9" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"digits\.toml: invalid TOML: a number too long"):
        load_config(path)


def test_a_huge_config_file_is_refused_without_parsing_it(tmp_path, toy_job):
    path = tmp_path / "huge.toml"
    path.write_text('model = "toy"\n' + "# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match=r"huge\.toml: larger than 1 MiB"):
        load_config(path)


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null", "fifo", "folder"])
def test_only_regular_files_are_read(tmp_path, toy_job, special):
    if special == "fifo":
        special = tmp_path / "pipe.toml"
        os.mkfifo(special)  # opening it for reading would block until a writer comes
    elif special == "folder":
        special = tmp_path
    elif not Path(special).exists():
        pytest.skip(f"no {special}")
    with pytest.raises(ConfigError, match="not a regular file|is a folder"):
        load_config(special)


def test_unreadable_names_are_one_line(toy_job, tmp_path):
    with pytest.raises(ConfigError, match="cannot read it") as info:
        load_config(tmp_path / ("x" * 5000 + ".toml"))
    assert len(_one_line(info.value)) < 200


def test_messages_never_echo_file_contents(tmp_path, toy_job):
    path = tmp_path / "secret.toml"
    path.write_bytes(b'model = "toy"\npassword = "hunter2\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "hunter2" not in _one_line(info.value)
    assert "not a UTF-8 text file" in str(info.value)
    path.write_text('model = "toy"\npassword = hunter2\n')
    with pytest.raises(ConfigError, match="invalid TOML") as info:
        load_config(path)
    assert "hunter2" not in _one_line(info.value)


def test_a_utf8_byte_order_mark_is_fine(toy_config):
    toy_config.write_bytes(b"\xef\xbb\xbf" + toy_config.read_bytes())
    assert load_config(toy_config)[1].n_out == 5


@pytest.mark.parametrize(
    "overrides",
    [
        ["T0=" + "9" * 10_000 + " K"],
        ["n_out=" + "x" * 100_000],
        ["solver.method=" + "y" * 100_000],
        ["z" * 100_000 + "=1"],
        ["model=" + "m" * 100_000],
        ["model=[1, 2]"],
        ["T0=" + "9" * 400],
        ["T0=" + "9" * 5000],
    ],
)
def test_long_values_and_keys_are_cut_short(toy_config, overrides):
    with pytest.raises(ConfigError) as info:
        load_config(toy_config, overrides)
    assert len(_one_line(info.value)) < 400


def test_huge_integers_in_quantity_fields_are_one_line(toy_config):
    with pytest.raises(ConfigError, match="T0: expected a temperature .*magnitude above"):
        load_config(toy_config, ["T0=" + "9" * 400])


def test_validator_arithmetic_errors_are_config_errors(toy_job, monkeypatch):
    from pydantic import field_validator

    from boltzphlow.schema import ConfigModel

    class Divides(ConfigModel):
        model: str
        n: int = 1

        @field_validator("n")
        @classmethod
        def _inverse(cls, n: int) -> int:
            return int(1 / n)

    monkeypatch.setitem(jobs._JOBS, "toy", replace(toy_job, config_model=Divides))
    with pytest.raises(ConfigError, match="ZeroDivisionError"):
        validate_config({"model": "toy", "n": 0})


@pytest.mark.parametrize("name", ["/etc/passwd", "../examples/al_photon_hit", "sub/toy_example",
                                  "toy_example.toml", ""])
def test_examples_are_names_from_the_list_only(toy_examples, name):
    with pytest.raises(ValueError, match="unknown example"):
        example_text(name)


def test_example_text_never_reads_a_path(toy_examples, tmp_path):
    (tmp_path / "private.toml").write_text("# private\n")
    with pytest.raises(ValueError, match="unknown example"):
        example_text(str(tmp_path / "private"))


def test_run_name_is_an_example_only_without_a_folder(toy_examples, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config("toy_example")[0].name == "toy"
    with pytest.raises(FileNotFoundError, match="no config file or built-in example"):
        load_config("elsewhere/toy_example")


def test_stored_configs_are_checked(toy_job):
    for text in ["[" * 100_000 + "]" * 100_000, "[1, 2]", '{"a": ' * 40 + "1" + "}" * 40,
                 '{"model": "toy",', "x" * (MAX_CONFIG_BYTES + 1)]:
        with pytest.raises(ValueError) as info:
            config_from_result(xr.Dataset(attrs={"config": text}))
        assert len(_one_line(info.value)) < 200


# --------------------------------------------------------------------------------------------
# [sweep]: a property of every config


def test_every_config_may_carry_a_sweep_table(toy_config):
    text = toy_config.read_text() + '\n[sweep]\nT0 = "1,2,3"\n"solver.substeps" = [1, 2]\n' \
                                    'tau = "1:2:3"\n'
    toy_config.write_text(text)
    job, config, raw = load_config(toy_config)
    assert raw["sweep"]["T0"] == "1,2,3"  # the raw dict keeps it (the sweep reads it)
    assert validate_sweep(raw["sweep"], job) == {
        "T0": [1, 2, 3], "solver.substeps": [1, 2], "tau": [1.0, 1.5, 2.0]}


def test_nested_sweep_tables_are_dotted_keys(toy_job):
    grid = validate_sweep({"solver": {"substeps": [1, 2], "method": "exact,euler"}}, toy_job)
    assert grid == {"solver.substeps": [1, 2], "solver.method": ["exact", "euler"]}


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"tua": [1, 2]}, "config error: sweep.tua: not a config key of model 'toy'"),
        ({"model": ["toy"]}, "sweep.model: not a config key"),
        ({"solver.nope": [1]}, "sweep.solver.nope: not a config key"),
        ({"T0.x": [1]}, "sweep.T0.x: not a config key"),
        ({"tau": "0.5:0.6"}, "sweep.tau: expected start:stop:count or a,b,c"),
        ({"tau": "1:2:0"}, "sweep.tau: bad range '1:2:0': count must be 1 to 100000"),
        ({"tau": "1:2:1000001"}, "count must be 1 to 100000"),
        ({"tau": "-1e308:1e308:3"}, "start and stop must be finite"),
        ({"tau": []}, "sweep.tau: no values"),
        ({"tau": ""}, "sweep.tau: no values"),
        ({"tau": "1,,2"}, "expected start:stop:count or a,b,c"),
        ({"tau": True}, "expected start:stop:count or a,b,c"),
        ({"tau": 3}, "expected start:stop:count or a,b,c"),
        ("T0", "config error: sweep: expected a table"),
    ],
)
def test_bad_sweep_tables(toy_config, sweep, message):
    raw = apply_overrides(load_config(toy_config)[2], [])
    raw["sweep"] = sweep
    with pytest.raises(ConfigError) as info:
        validate_config(raw)
    assert message in _one_line(info.value)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ([1, 5, 20], [1, 5, 20]),
        ((0.1, 0.2), [0.1, 0.2]),
        (np.array([1.0, 2.0]), [1.0, 2.0]),
        ("0:1:3", [0.0, 0.5, 1.0]),
        (" -1 : 1 : 2 ", [-1.0, 1.0]),
        ("1e-3:2e-3:2", [1e-3, 2e-3]),
        ("0.3,0.5, 1.5", [0.3, 0.5, 1.5]),
        ("100mK,150mK,200mK", ["100mK", "150mK", "200mK"]),
        ("fixed, self-consistent", ["fixed", "self-consistent"]),
        ('"C:/a.dat", "D:/b.dat"', ["C:/a.dat", "D:/b.dat"]),
        ("[10, 10], [20, 20]", [[10, 10], [20, 20]]),
        ("true,false", [True, False]),
        ("0.6", [0.6]),
    ],
)
def test_parse_sweep_values(spec, expected):
    assert parse_sweep_values(spec) == expected


@pytest.mark.parametrize("spec", ["0.5:0.6", "0.5:0.6:", "a:b:3", "1:2:3.5", "1:2:3:4", "x:y",
                                  {"a": 1}, None, "[" * 10_000])
def test_parse_sweep_values_refuses_malformed_specs(spec):
    with pytest.raises(ValueError) as info:
        parse_sweep_values(spec)
    assert len(_one_line(info.value)) < 300


def test_sweep_keys_go_through_optional_tables():
    from boltzphlow.apps.superconductor import SuperconductorConfig

    assert is_config_key(SuperconductorConfig, "photon.energy")
    assert is_config_key(SuperconductorConfig, "grid.energy_step")
    assert not is_config_key(SuperconductorConfig, "grid.nope")
    assert not is_config_key(SuperconductorConfig, "T_bath.x")


@pytest.mark.parametrize("name", sorted(available_jobs()))
def test_a_sweep_table_is_accepted_by_every_model(name):
    job = available_jobs()[name]
    example = next(e for e in list_examples() if read_toml(e)["model"] == name)
    raw = read_toml(example)
    key = next(k for k in job.config_model.model_fields if k != "model")
    raw["sweep"] = {key: [raw.get(key, 1), raw.get(key, 1)]}
    assert validate_config(raw)[0] is job
    raw["sweep"] = {"no_such_key": [1]}
    with pytest.raises(ConfigError, match="sweep.no_such_key: not a config key"):
        validate_config(raw)
