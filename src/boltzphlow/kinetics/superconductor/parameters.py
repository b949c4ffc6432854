"""Parameters of a superconducting film and of its energy grid, with units and meanings.

These dataclasses are the one place where the film's and the grid's parameters are named,
given a unit, a default, bounds and a meaning; the app derives its config tables from them
(:func:`boltzphlow.schema.config_model`) and :class:`~boltzphlow.kinetics.superconductor.model.
QPPhononModel` takes their values (``QPPhononModel(material, T_bath, energy_step, ...)``).
Units: K, µeV, ns, µm³ (the model's unit system, see :mod:`boltzphlow.units`).

The physics checks (a gap the grid resolves, ``T_bath`` below Tc for a BCS gap) need the
material and are made by the model; here only the signs are stated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from boltzphlow.parameters import parameter

__all__ = ["FilmParameters", "GridParameters"]


@dataclass(frozen=True)
class FilmParameters:
    """The film: its material, bath, gap mode, escape of phonons and volume."""

    material: str = parameter(
        "Al", unit="-", doc="built-in material (Al, In, Nb, Pb, Sn, Ta) or the path of a "
                            "material TOML file (keys of the table under *Materials*)")
    T_bath: float = parameter(
        0.1, unit="K", quantity=True, ge=0,
        doc="bath temperature: the phonons' escape target and the initial thermal state; with "
            "a fixed BCS gap it must lie below Tc")
    gap: Literal["fixed", "self-consistent"] = parameter(
        "fixed", unit="-", doc="fixed (Δ = delta) or self-consistent (the gap equation "
                               "re-solved after every step)")
    delta: float | None = parameter(
        None, unit="ueV", quantity=True, gt=0,
        doc="the fixed gap (none: the BCS gap Δ(T_bath) of the material)")
    dynes: float = parameter(0.0, unit="ueV", quantity=True, ge=0,
                             doc="Dynes broadening Γ of the DOS (fixed gap only)")
    renormalisation: Literal["none", "eliashberg"] = parameter(
        "none", unit="-",
        doc="none (BCS DOS and coherence factors) or eliashberg (Z(ε), φ(ε) of the "
            "real-frequency Eliashberg equations at T_bath in the left-hand side and the "
            "coherence factors; fixed gap = the Eliashberg gap edge, delta unset)")
    alpha2F: str | None = parameter(
        None, unit="-",
        doc="α²F for renormalisation = eliashberg: a shipped name (Al, Pb) or the path of an "
            "α²F TOML file (none: the material's shipped α²F)")
    escape_time: float | None = parameter(
        None, unit="ns", quantity=True, gt=0,
        doc="phonon escape time to the bath (none: a closed film); see *Checks* for the "
            "shortest that can be accounted for")
    volume: float = parameter(
        10.0, unit="um^3", quantity=True, gt=0,
        doc="absorber volume: the photon energy and the injected power are spread over it")


@dataclass(frozen=True)
class GridParameters:
    """Energy grid: the step actually used divides 2Δ exactly (it is never larger)."""

    energy_step: float = parameter(
        2.0, unit="ueV", quantity=True, gt=0,
        doc="largest energy step; the step used is h = 2Δ/⌈2Δ/step⌉, at most Δ/4 (2Δ needs 8 "
            "steps)")
    E_max: float = parameter(
        1500.0, unit="ueV", quantity=True, gt=0,
        doc="upper edge of the QP energy range; at least the pair energy 2Δ + h while "
            "omega_max is unset")
    omega_max: float | None = parameter(
        None, unit="ueV", quantity=True, gt=0,
        doc="largest phonon energy (none: E_max); at least 2Δ + h (recombination phonons of "
            "gap-edge QPs)")
