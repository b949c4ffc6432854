"""``boltzphlow keys MODEL``: every config key with unit, default and meaning, for every job,
and the docs' key tables generated from the same rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from boltzphlow.jobs import get_job, job_names
from boltzphlow.schema import KEYS_BLOCK, key_rows, markdown_keys, update_key_blocks
from conftest import run_cli

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", job_names())
def test_keys_lists_every_key_of_every_job(name, capsys):
    rows = key_rows(get_job(name).config_model)
    assert rows[0][:3] == ("model", "-", "required")
    assert all(meaning for *_, meaning in rows), [key for key, *_, m in rows if not m]
    code, out, err = run_cli(["keys", name], capsys)
    assert code == 0 and err == ""
    for key, *_ in rows:  # keys never wrap; units and defaults may
        assert re.search(rf"│ {re.escape(key)} +│", out), key
    code, out, err = run_cli(["keys", name, "--markdown"], capsys)
    assert code == 0 and err == ""
    table_rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert len(table_rows) == len(rows)  # grouped by table: the top level first
    for key, unit, default, _ in rows:
        assert any(line.startswith(f"| `{key}` | {unit} | {default} | ") for line in table_rows)


def test_rows_show_units_and_defaults_as_a_config_writes_them():
    rows = {key: (unit, default) for key, unit, default, _ in
            key_rows(get_job("superconductor").config_model)}
    assert rows["T_bath"] == ("K", "0.1")
    assert rows["volume"] == ("µm³", "10")
    assert rows["delta"] == ("µeV", "none")
    assert rows["gap"] == ("-", '"fixed"')
    assert rows["photon.energy"] == ("µeV", "1e6")
    assert rows["injection.power"] == ("W", "1e-15")
    photo = {key: (unit, default) for key, unit, default, _ in
             key_rows(get_job("photoexcited").config_model)}
    assert photo["tau_ph"] == ("1/Γ_eph", "inf")
    assert photo["fixed_zeta"] == ("-", "true")
    assert photo["pump.kind"] == ("-", '"exponential"')


def test_docs_key_tables_are_generated_from_the_schemas():
    blocks = {}
    for page in sorted(DOCS.glob("*.md")):
        for match in KEYS_BLOCK.finditer(page.read_text(encoding="utf-8")):
            blocks.setdefault(match[2], []).append((page, match[3]))
    assert {"superconductor", "photoexcited"} <= set(blocks)
    for name, found in blocks.items():
        expected = markdown_keys(get_job(name).config_model).rstrip() + "\n"
        for page, text in found:
            command = (f"python -m boltzphlow keys {name} --markdown --write "
                       f"docs/{page.name}")
            assert text == expected, f"{page.name}: the keys of {name} changed; run {command}"


def test_write_replaces_the_blocks_of_one_page(tmp_path, capsys):
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- keys: photoexcited -->\nstale\n<!-- /keys -->\nend\n",
                    encoding="utf-8")
    code, out, _ = run_cli(["keys", "photoexcited", "--markdown", "--write", str(page)], capsys)
    assert code == 0 and out == f"wrote {page}\n"
    text = page.read_text(encoding="utf-8")
    assert "stale" not in text and text.startswith("intro\n") and text.endswith("end\n")
    assert "| `pump.zeta0` | 1 | 10 | phonons delivered by a pulse" in text
    assert update_key_blocks(text, lambda name: markdown_keys(get_job(name).config_model)) \
        == text  # idempotent


@pytest.mark.parametrize(("args", "message"), [
    (["keys", "nope"], "unknown model 'nope' (known: "),
    (["keys", "photoexcited", "--write", "x.md"], "--write: replaces Markdown blocks"),
])
def test_keys_errors_are_one_line(args, message, capsys):
    code, out, err = run_cli(args, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err


def test_write_refuses_a_page_without_the_block(tmp_path, capsys):
    page = tmp_path / "page.md"
    page.write_text("no block\n", encoding="utf-8")
    code, _, err = run_cli(["keys", "superconductor", "--markdown", "--write", str(page)],
                           capsys)
    assert code == 2 and "no <!-- keys: superconductor -->" in err
    assert page.read_text(encoding="utf-8") == "no block\n"
