"""Layering, read from the source: data flow one way (ARCHITECTURE.md, "Data flows one way"),
physics knows nothing of configs, the command line or matplotlib, and ``--help`` starts fast.

Every import of every module is read with :mod:`ast`, function-level and ``TYPE_CHECKING``
imports included (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "boltzphlow"

#: Rooms from the bottom up: a module may import its own room and rooms below it, never one
#: above.  ``integrate`` sits below ``kinetics`` (the kinetic models hand it their problems).
LAYERS: list[set[str]] = [
    {"errors", "stats", "units", "resources", "parameters"},
    {"grids"},
    {"bands"},
    {"geometry"},
    {"kspace"},
    {"scattering", "integrate"},
    {"kinetics", "observables"},
    {"jobs", "schema", "config", "results", "progress", "plotting", "testing"},
    {"sweep"},
    {"apps"},
    {"cli", "__main__"},
]

#: Rooms of the physics: they import none of :data:`NOT_IN_PHYSICS`.
PHYSICS = {"errors", "stats", "units", "parameters", "resources", "grids", "bands", "geometry",
           "kspace", "scattering", "integrate", "kinetics", "observables"}

#: What the physics never imports: configs, the command line, apps, and plotting.
NOT_IN_PHYSICS = ("boltzphlow.config", "boltzphlow.cli", "boltzphlow.apps", "boltzphlow.jobs",
                  "boltzphlow.schema", "boltzphlow.sweep", "pydantic", "matplotlib")

#: Heavy packages that ``boltzphlow --help`` must not import.
HEAVY = ("xarray", "dask", "distributed", "matplotlib", "scipy", "pydantic", "pandas", "pint",
         "numpy")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, imported module)`` of every import in a file (relative imports resolved;
    ``from boltzphlow import results`` is the module ``boltzphlow.results``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                is_module = (SRC.parent / Path(*sub.split("."))).is_dir() or \
                    (SRC.parent / Path(*sub.split("."))).with_suffix(".py").is_file()
                found.append((node.lineno, sub if is_module else module))
    return found


def _room(module: str) -> str | None:
    """The room (top-level subpackage or module) of a ``boltzphlow`` module; None outside."""
    parts = module.split(".")
    if parts[0] != "boltzphlow":
        return None
    return parts[1] if len(parts) > 1 else ""  # "": the package itself (lazy attributes)


def _layer(room: str) -> int:
    return next(i for i, rooms in enumerate(LAYERS) if room in rooms)


FILES = sorted(SRC.rglob("*.py"))


def test_every_room_has_a_place_in_the_layers():
    rooms = {_room(_module_name(path)) for path in FILES} - {""}
    placed = set().union(*LAYERS)
    assert rooms <= placed, f"place {sorted(rooms - placed)} in LAYERS (ARCHITECTURE.md)"
    assert len(FILES) > 50  # the walk found the package


def test_no_import_runs_from_a_lower_room_to_a_higher_one():
    violations = []
    for path in FILES:
        module = _module_name(path)
        room = _room(module)
        if not room:
            continue
        for line, imported in _imports(path):
            target = _room(imported)
            if target and target in set().union(*LAYERS) and _layer(target) > _layer(room):
                violations.append(f"{path.relative_to(SRC.parent)}:{line} {module} imports "
                                  f"{imported} ({room} is below {target})")
    assert not violations, "\n".join(violations)


def test_physics_imports_no_config_cli_apps_or_matplotlib():
    violations = []
    for path in FILES:
        module = _module_name(path)
        if _room(module) not in PHYSICS:
            continue
        for line, imported in _imports(path):
            if any(imported == bad or imported.startswith(bad + ".") for bad in NOT_IN_PHYSICS):
                violations.append(f"{path.relative_to(SRC.parent)}:{line} {module} imports "
                                  f"{imported}")
    assert not violations, "\n".join(violations)


def test_the_reader_sees_function_level_and_relative_imports():
    # the rules above rely on the reader: check it on the modules we know
    cli = {name for _, name in _imports(SRC / "cli.py")}
    assert "boltzphlow.config" in cli and "matplotlib" in cli  # both inside functions
    assert "boltzphlow.results" in cli  # ``from boltzphlow import results``
    sources = [name for _, name in _imports(SRC / "kinetics" / "superconductor" / "sources.py")]
    assert "boltzphlow.parameters" in sources
    assert _layer("apps") > _layer("kinetics") > _layer("integrate") > _layer("grids")


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout


@pytest.mark.slow
def test_importing_the_physics_loads_no_config_machinery():
    packages = sorted(p.name for p in SRC.iterdir()
                      if p.is_dir() and (p / "__init__.py").is_file()
                      and p.name in PHYSICS) + ["kinetics.superconductor",
                                                "kinetics.photoexcited", "units"]
    code = ("import importlib, sys\n"
            f"for name in {packages!r}:\n"
            "    importlib.import_module('boltzphlow.' + name)\n"
            f"bad = {NOT_IN_PHYSICS!r}\n"
            "print(sorted(m for m in sys.modules if any(m == b or m.startswith(b + '.') "
            "for b in bad)))")
    assert _run(code).strip() == "[]"


def test_help_imports_no_heavy_package():
    code = ("import contextlib, io, sys\n"
            "from boltzphlow.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    code = main(['--help'])\n"
            "assert code == 0 and 'keys' in out.getvalue(), (code, out.getvalue())\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    assert _run(code).strip() == "[]"


def test_version_needs_no_heavy_package_either():
    code = ("import contextlib, io, sys\n"
            "from boltzphlow.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--version'])\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    assert _run(code).strip() == "[]"
