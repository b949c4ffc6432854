"""Parameters of the spatial QP–phonon model, declared once: name, unit, default, bounds, meaning.

These dataclasses mirror the keywords of
:class:`~boltzphlow.kinetics.superconductor.spatial.model.SpatialQPPhononModel` that the 0-D
:class:`~boltzphlow.kinetics.superconductor.parameters.FilmParameters` and
:class:`~boltzphlow.kinetics.superconductor.parameters.GridParameters` do not already state
(the material, the bath, the gap and the energy grid are theirs): the geometry, the transport
of each species (M. Li, *Documentation for BoltzPhlow and BTE approach to QP–phonon
transport*, §2.1, Eqs. 30–31 and 38; the diffusive limit ``D = v ℓ/3``), the walls (the
boundary conditions after Eq. 181, with phonon escape into a substrate by acoustic mismatch)
and where the sources sit in space.  The app derives its config tables from them
(:func:`boltzphlow.schema.config_model`) and builds the model from their values
(:meth:`SpaceParameters.model_keywords`).

Units: lengths µm, speeds µm/ns, energies µeV, powers per wall area W/µm².

The physics checks (a radius for a sphere, a transmission for an escape wall, one wall kind
per end of a slab, a source inside the geometry) need the geometry and are made by the model
or by :meth:`SpaceParameters.model_keywords`; here only the bounds are stated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from boltzphlow.parameters import check_parameters, parameter

__all__ = ["WALL_KINDS", "PhotonPlacement", "SpaceParameters", "WallInjection"]

#: Boundary kinds of a wall (:class:`~.transport.Wall`).
WallKind = Literal["reflecting", "absorbing", "escape"]
WALL_KINDS = ("reflecting", "absorbing", "escape")


@dataclass(frozen=True)
class SpaceParameters:
    """The geometry, the transport of quasiparticles and phonons, and the walls."""

    geometry: Literal["sphere", "slab"] = parameter(
        "sphere", unit="-",
        doc="sphere (radial r, walls: surface) or slab (a film thickness or a strip length, "
            "walls: lower at x = 0 and upper)")
    radius: float | None = parameter(
        None, unit="um", quantity=True, gt=0, doc="radius R of a sphere (sphere only)")
    length: float | None = parameter(
        None, unit="um", quantity=True, gt=0, doc="length L of a slab (slab only)")
    cells: int = parameter(50, unit="1", ge=1, doc="number of cells (uniform in r or x)")
    qp_transport: Literal["diffusive", "ballistic"] = parameter(
        "diffusive", unit="-",
        doc="diffusive (D = v ℓ/3 per bin, TR-BDF2) or ballistic (n_angles directions, "
            "MUSCL; substeps limited by v_F: short runs only)")
    phonon_transport: Literal["diffusive", "ballistic"] = parameter(
        "diffusive", unit="-", doc="diffusive (D = c_s ℓ/3) or ballistic (n_angles "
                                   "directions, MUSCL)")
    n_angles: int = parameter(
        8, unit="1", ge=2, doc="Gauss–Legendre directions μ = cos θ of ballistic transport "
                               "(even)")
    fermi_velocity: float | None = parameter(
        None, unit="um/ns", quantity=True, gt=0,
        doc="Fermi velocity v_F; QP group velocity v_F√(1 − Δ²/E²) (none: the material's)")
    sound_velocity: float | None = parameter(
        None, unit="um/ns", quantity=True, gt=0,
        doc="phonon (sound) velocity (none: the material's)")
    qp_mean_free_path: float = parameter(
        0.1, unit="um", quantity=True, gt=0, doc="QP mean free path ℓ of diffusive transport")
    phonon_mean_free_path: float = parameter(
        1.0, unit="um", quantity=True, gt=0,
        doc="phonon mean free path ℓ of diffusive transport")
    qp_boundary: WallKind | list[WallKind] = parameter(
        "reflecting", unit="-",
        doc="QP walls: reflecting, absorbing (a trap) or escape; a slab may give "
            "[lower, upper]")
    phonon_boundary: WallKind | list[WallKind] = parameter(
        "reflecting", unit="-",
        doc="phonon walls: reflecting, absorbing or escape (into a substrate); a slab may "
            "give [lower, upper]")
    qp_transmission: float | None = parameter(
        None, unit="1", gt=0, le=1, doc="escape probability of QPs at an escape wall")
    phonon_transmission: float | None = parameter(
        None, unit="1", gt=0, le=1,
        doc="escape probability of phonons at an escape wall (acoustic mismatch)")

    def __post_init__(self) -> None:
        check_parameters(self)

    def model_keywords(self) -> dict[str, Any]:
        """The keywords of :class:`~.model.SpatialQPPhononModel` these values give.

        A slab's per-end walls become a pair (lower first); the size key that does not
        belong to the geometry is refused.

        Raises
        ------
        ValueError
            ``"<parameter>: <reason>"`` for a size of the other geometry, a missing size or
            a list of walls that is not one per wall.
        """
        walls = 1 if self.geometry == "sphere" else 2
        size, other = ("radius", "length") if self.geometry == "sphere" else ("length",
                                                                                 "radius")
        if getattr(self, other) is not None:
            raise ValueError(f"{other}: a {self.geometry} takes {size}, not {other}")
        if getattr(self, size) is None:
            raise ValueError(f"{size}: a {self.geometry} needs its {size} (µm)")
        out = asdict(self)
        out.pop(other)
        for key in ("qp_boundary", "phonon_boundary"):
            value = out[key]
            if isinstance(value, list):
                if len(value) != walls:
                    raise ValueError(f"{key}: give one kind, or one per wall "
                                     f"({'lower, upper' if walls == 2 else 'surface'}), got "
                                     f"{len(value)}")
                out[key] = tuple(value)
        return out


@dataclass(frozen=True)
class PhotonPlacement:
    """Where a photon is absorbed: the centre and size of the Gaussian QP packet in space
    (its energy and spectrum are those of the 0-D
    :class:`~boltzphlow.kinetics.superconductor.sources.PhotonHit`)."""

    position: float = parameter(
        0.0, unit="um", quantity=True, ge=0,
        doc="centre of the packet: r of a sphere (0: the centre) or x of a slab")
    size: float = parameter(
        1.0, unit="um", quantity=True, gt=0,
        doc="Gaussian width of the packet in space (at least about a cell)")


@dataclass(frozen=True)
class WallInjection:
    """Continuous QP injection through a wall (the 0-D
    :class:`~boltzphlow.kinetics.superconductor.sources.Injection` packet in energy)."""

    power: float = parameter(
        1e-15, unit="W/um^2", quantity=True, ge=0,
        doc="power injected per µm² of wall area, into the cell at the wall")
    wall: Literal["lower", "upper", "surface"] | None = parameter(
        None, unit="-", doc="the wall: lower or upper (slab), surface (sphere); none: the "
                            "first wall")
