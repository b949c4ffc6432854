"""Superconducting materials: Tc, Δ0, N0, Debye energy and the Kaplan times τ0, τ0^φ.

Built-in data live in ``boltzphlow/data/materials/<name>.toml`` with their sources; a user file
with the same keys can be loaded by path, or a :class:`Material` built directly.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from boltzphlow.units import K_B


@dataclass(frozen=True)
class Material:
    """Material parameters (units: K, µeV, ns, 1/(µeV µm³)).

    Attributes
    ----------
    name
        Label.
    Tc
        Critical temperature (K).
    delta0
        Zero-temperature gap Δ0 (µeV).
    tau0
        Characteristic electron–phonon time τ0 (ns), seed 003 Eqs. 35–37.
    tau_pb
        Characteristic phonon pair-breaking time τ0^φ (ns), Eqs. 39–40.
    N0
        Single-spin electronic DOS at the Fermi level (1/(µeV µm³)).
    debye_energy
        Debye energy Ω_D = k_B Θ_D (µeV), the gap-equation cutoff.
    sources
        Where the numbers come from.
    """

    name: str
    Tc: float
    delta0: float
    tau0: float
    tau_pb: float
    N0: float
    debye_energy: float
    sources: str = ""

    def __post_init__(self) -> None:
        for key in ("Tc", "delta0", "tau0", "tau_pb", "N0", "debye_energy"):
            value = getattr(self, key)
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"material {self.name!r}: {key} must be a positive number, "
                                 f"got {value!r}")
        if self.debye_energy <= 2 * self.delta0:
            raise ValueError(f"material {self.name!r}: the Debye energy must exceed 2Δ0")

    @property
    def kTc(self) -> float:
        """``k_B Tc`` in µeV."""
        return K_B * self.Tc


def available_materials() -> list[str]:
    """Names of the built-in materials."""
    folder = resources.files("boltzphlow") / "data" / "materials"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir()
                  if p.name.endswith(".toml"))


def material(name: str | Path, **overrides: float) -> Material:
    """A built-in material by name (``"Al"``, ``"Nb"``...) or a TOML file by path.

    Parameters
    ----------
    name
        Built-in name or path to a TOML file with the :class:`Material` keys.
    **overrides
        Values replacing those of the file (e.g. ``delta0=190.0`` for a thin film).
    """
    path = Path(name)
    if path.suffix == ".toml" and path.exists():
        text = path.read_text()
    else:
        known = available_materials()
        if str(name) not in known:
            raise ValueError(f"unknown material {str(name)!r} (built in: {', '.join(known)}; "
                             f"or give the path of a .toml file)")
        text = (resources.files("boltzphlow") / "data" / "materials" / f"{name}.toml").read_text()
    data = tomllib.loads(text)
    allowed = {f.name for f in fields(Material)}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"material file {name}: unknown key(s) {', '.join(sorted(unknown))}")
    bad = set(overrides) - allowed
    if bad:
        raise ValueError(f"unknown material parameter(s) {', '.join(sorted(bad))}")
    data.update(overrides)
    return Material(**data)
