"""Sources of nonequilibrium: a photon absorbed at t = 0 and continuous QP injection.

Both deposit quasiparticles in a Gaussian packet of bins centred at ε0 (the injection packet
of §2.4, end, of M. Li, *Documentation for BoltzPhlow*), normalised so that the deposited
energy is exact on the grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from boltzphlow.parameters import parameter


def packet_weights(energies: np.ndarray, states: np.ndarray, center: float,
                   width: float) -> np.ndarray:
    """Normalised QPs per bin ``w_i ≥ 0``, ``Σ w_i = 1``, of a Gaussian packet at ``center``."""
    w = np.exp(-0.5 * ((energies - center) / width) ** 2) * (states > 0)
    total = w.sum()
    if not total > 0:
        raise ValueError(f"the source packet at {center:g} µeV misses the energy grid")
    return w / total


@dataclass(frozen=True)
class PhotonHit:
    """A photon of energy ``energy`` (µeV) absorbed uniformly in ``volume`` (µm³) at t = 0.

    The energy is deposited as QPs in a packet at ``epsilon0`` of width ``width`` (µeV).
    ``volume`` is the film's (the app sets it from its top-level ``volume``).
    """

    energy: float = parameter(
        1e6, unit="ueV", quantity=True, gt=0,
        doc="photon energy absorbed at t = 0, deposited exactly on the grid; refused when an "
            "occupation would exceed 1")
    volume: float = 10.0
    epsilon0: float = parameter(
        700.0, unit="ueV", quantity=True, gt=0,
        doc="centre of the deposited QP packet: above Δ, with three widths below the top of "
            "the grid")
    width: float = parameter(20.0, unit="ueV", quantity=True, gt=0,
                             doc="Gaussian width of the packet; at least the energy step")

    def __post_init__(self) -> None:
        for key in ("energy", "volume", "epsilon0", "width"):
            if not getattr(self, key) > 0:
                raise ValueError(f"photon {key} must be positive, got {getattr(self, key)}")


@dataclass(frozen=True)
class Injection:
    """Continuous QP injection: ``power`` (µeV/(ns µm³)) in a packet at ``epsilon0``, ``width``.

    ``power`` is a power density in the model's units; the app's config gives the power in W
    into the whole film and converts it.
    """

    power: float
    epsilon0: float = parameter(
        700.0, unit="ueV", quantity=True, gt=0,
        doc="centre of the injected QP packet (same limits as photon.epsilon0)")
    width: float = parameter(20.0, unit="ueV", quantity=True, gt=0,
                             doc="Gaussian width of the injected packet")

    def __post_init__(self) -> None:
        if not self.power >= 0:
            raise ValueError(f"injection power must be ≥ 0, got {self.power}")
        for key in ("epsilon0", "width"):
            if not getattr(self, key) > 0:
                raise ValueError(f"injection {key} must be positive, got {getattr(self, key)}")
