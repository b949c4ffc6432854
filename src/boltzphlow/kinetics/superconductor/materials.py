"""Superconducting materials: Tc, Δ0, N0, Debye energy and the Kaplan times τ0, τ0^φ.

Built-in data live in ``boltzphlow/data/materials/<name>.toml`` with their sources; a user file
with the same keys can be loaded by path, or a :class:`Material` built directly.  A file that
cannot be used (not TOML, a key missing, unknown or with a bad value) raises
:class:`~boltzphlow.errors.InputError` naming the file and the key, in one line.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from boltzphlow.errors import InputError, check_positive, shorten
from boltzphlow.parameters import parameter
from boltzphlow.units import K_B

#: The numeric keys of a material (all required, all positive and finite).
NUMERIC_KEYS = ("Tc", "delta0", "tau0", "tau_pb", "N0", "debye_energy")

#: Optional numeric keys (positive and finite when given): transport speeds in µm/ns.
OPTIONAL_KEYS = ("fermi_velocity", "sound_velocity")

#: Largest material file read (bytes): a material table is a few hundred bytes.
MAX_FILE_BYTES = 1 << 20


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
        Characteristic electron–phonon time τ0 (ns) of Kaplan et al., the prefactor of the
        QP collision integrals (M. Li, *Documentation for BoltzPhlow*, Eqs. 35–37).
    tau_pb
        Characteristic phonon pair-breaking time τ0^φ (ns), Eqs. 39–40 there.
    N0
        Single-spin electronic DOS at the Fermi level (1/(µeV µm³)).
    debye_energy
        Debye energy Ω_D = k_B Θ_D (µeV), the gap-equation cutoff.
    sources
        Where the numbers come from.
    fermi_velocity
        Optional Fermi velocity v_F (µm/ns; 1 µm/ns = 1000 m/s), the QP group velocity scale
        of the spatial model.
    sound_velocity
        Optional (Debye-averaged) sound velocity (µm/ns), the phonon speed of the spatial
        model.

    Raises
    ------
    ValueError
        ``"<key>: must be a positive finite number, got ..."`` for a bad value, or
        ``"debye_energy: ..."`` when Ω_D ≤ 2Δ0.
    """

    name: str
    Tc: float = parameter(unit="K", gt=0, doc="critical temperature")
    delta0: float = parameter(unit="ueV", gt=0, doc="zero-temperature gap Δ0")
    tau0: float = parameter(unit="ns", gt=0, doc="characteristic electron–phonon time τ0 "
                                                 "(Kaplan et al.)")
    tau_pb: float = parameter(unit="ns", gt=0, doc="characteristic phonon pair-breaking time "
                                                   "τ0^φ")
    N0: float = parameter(unit="1/(ueV um^3)", gt=0,
                          doc="single-spin electronic DOS at the Fermi level")
    debye_energy: float = parameter(unit="ueV", gt=0,
                                    doc="Debye energy Ω_D = k_B Θ_D, the gap-equation cutoff")
    sources: str = ""
    fermi_velocity: float | None = None
    sound_velocity: float | None = None

    def __post_init__(self) -> None:
        for key in NUMERIC_KEYS:
            check_positive(key, getattr(self, key))
        for key in OPTIONAL_KEYS:
            if getattr(self, key) is not None:
                check_positive(key, getattr(self, key))
        if self.debye_energy <= 2 * self.delta0:
            raise ValueError(f"debye_energy: {self.debye_energy:g} µeV must exceed 2 delta0 = "
                             f"{2 * self.delta0:g} µeV")
        if not isinstance(self.name, str) or not isinstance(self.sources, str):
            raise ValueError("name: must be a string" if not isinstance(self.name, str)
                             else "sources: must be a string")

    @property
    def kTc(self) -> float:
        """``k_B Tc`` in µeV."""
        return K_B * self.Tc


def available_materials() -> list[str]:
    """Names of the built-in materials."""
    folder = resources.files("boltzphlow") / "data" / "materials"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir()
                  if p.name.endswith(".toml"))


def _looks_like_path(name: str | Path) -> bool:
    text = str(name)
    return isinstance(name, Path) or text.endswith(".toml") or "/" in text or "\\" in text


def material(name: str | Path, **overrides: float) -> Material:
    """A built-in material by name (``"Al"``, ``"Nb"``...) or a TOML file by path.

    Parameters
    ----------
    name
        Built-in name or path to a TOML file with the :class:`Material` keys (``name`` and
        ``sources`` optional; ``name`` defaults to the file's stem).
    **overrides
        Values replacing those of the file (e.g. ``delta0=190.0`` for a thin film).

    Raises
    ------
    ValueError
        For an unknown built-in name (the message lists the known ones) or a bad override.
    InputError
        For a file that cannot be read or used: ``"material file film.toml: key 'N0' is
        missing"`` (one line, naming the file and the key; file contents are never quoted).
    """
    known = available_materials()
    if str(name) in known and not isinstance(name, Path):
        label = f"built-in material {name}"
        text = (resources.files("boltzphlow") / "data" / "materials" / f"{name}.toml").read_text(
            encoding="utf-8")
        data = _parse(text, label)
    elif _looks_like_path(name):
        path = Path(name)
        label = f"material file {shorten(str(path), 80)}"
        data = _parse(_read(path, label), label)
        data.setdefault("name", path.stem)
    else:
        raise ValueError(f"unknown material {shorten(str(name))} (built in: {', '.join(known)}; "
                         "or give the path of a .toml file)")
    allowed = [f.name for f in fields(Material)]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InputError(f"{label}: unknown key(s) {', '.join(shorten(k, 30) for k in unknown)} "
                         f"(known: {', '.join(allowed)})")
    missing = [key for key in NUMERIC_KEYS if key not in data]
    if missing:
        raise InputError(f"{label}: key(s) {', '.join(repr(k) for k in missing)} missing "
                         f"(needed: {', '.join(NUMERIC_KEYS)})")
    bad = sorted(set(overrides) - set(allowed))
    if bad:
        raise ValueError(f"unknown material parameter(s) {', '.join(bad)} "
                         f"(known: {', '.join(allowed)})")
    try:
        base = Material(**data)
    except ValueError as exc:
        raise InputError(f"{label}: {exc}") from None
    if not overrides:
        return base
    try:
        return Material(**(data | overrides))
    except ValueError as exc:
        raise ValueError(f"material override {exc}") from None


def _read(path: Path, label: str) -> str:
    """The text of a material file (``InputError`` if it is missing, too large or not text)."""
    if not path.is_file():
        raise InputError(f"{label}: no such file" if not path.exists()
                         else f"{label}: not a regular file")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{label}: cannot read ({exc.strerror or type(exc).__name__})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"{label}: larger than {MAX_FILE_BYTES // 1024} KiB; a material file "
                         "holds a few keys")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{label}: not a UTF-8 text file") from None


def _parse(text: str, label: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # tomllib's messages quote no file contents
        raise InputError(f"{label}: invalid TOML: {shorten(str(exc), 120)[1:-1]}") from None
