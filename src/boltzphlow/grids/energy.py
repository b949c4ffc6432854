"""Commensurate uniform energy grids for quasiparticle–phonon kinetics.

The quasiparticle (QP) bins are centred on an *absolute* lattice ``E_i = (i0 + i + c) h`` with
offset ``c ∈ {0, 1/2}`` and the phonon energies on ``ω_J = J h``.  Then

* phonon emission/absorption: ``E_i + ω_J = E_{i+J}`` exactly, and
* recombination/pair breaking: ``E_i + E_k = ω_{s+i+k}`` exactly, with the integer
  ``s = 2 (i0 + c)``,

so every collision sum of Eqs. 35–40 of M. Li, *Documentation for BoltzPhlow and BTE approach
to QP–phonon transport*, is an exact discrete correlation or convolution,
and Fermi/Bose factors satisfy detailed balance on the grid to round-off.  When the gap is
fixed the step is chosen so that ``2Δ/h`` is an integer and the gap edge is a bin boundary.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Least number of steps across 2Δ (the pair-breaking threshold must be resolved).
MIN_STEPS_PER_2DELTA = 8


class GridError(ValueError):
    """A grid parameter that cannot work; ``parameter`` is its name in
    :meth:`EnergyGrid.for_gap` (``"step"``, ``"e_max"``) and ``reason`` says why (the message
    is ``"<parameter>: <reason>"``)."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


def floor_sig(value: float, digits: int = 4) -> float:
    """``value`` rounded down to ``digits`` significant digits (a printed upper bound that
    holds)."""
    return _round_sig(value, digits, math.floor)


def ceil_sig(value: float, digits: int = 4) -> float:
    """``value`` rounded up to ``digits`` significant digits (a printed lower bound that
    holds)."""
    return _round_sig(value, digits, math.ceil)


def _round_sig(value: float, digits: int, rounding: Callable[[float], int]) -> float:
    if not (value > 0 and math.isfinite(value)):
        return value
    scale = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return rounding(value / scale) * scale


@dataclass(frozen=True)
class EnergyGrid:
    """QP bins and phonon energies on one commensurate lattice (energies in µeV).

    Parameters
    ----------
    step
        Energy step ``h`` (µeV).
    first
        Index ``i0 + c`` of the first QP bin centre in units of ``h`` (a multiple of 1/2).
    n_qp
        Number of QP bins.
    n_phonon
        Number of phonon energies ``ω_J = J h``, ``J = 1..n_phonon``.
    """

    step: float
    first: float
    n_qp: int
    n_phonon: int

    def __post_init__(self) -> None:
        if not (self.step > 0 and math.isfinite(self.step)):
            raise ValueError(f"energy step must be positive and finite, got {self.step}")
        if abs(2 * self.first - round(2 * self.first)) > 1e-9 or self.first < 0.5:
            raise ValueError(
                f"first bin index must be a positive multiple of 1/2, got {self.first}")
        if self.n_qp < 2 or self.n_phonon < 2:
            raise ValueError("the grid needs at least two QP bins and two phonon energies")

    @classmethod
    def for_gap(cls, delta: float, step: float, e_max: float,
                omega_max: float | None = None, e_min: float | None = None) -> EnergyGrid:
        """Grid whose step divides ``2Δ`` exactly, with the gap edge on a bin boundary.

        The requested ``step`` is reduced to ``h = 2Δ/m`` with ``m = ceil(2Δ/step)``: the
        grid is chosen for the gap, nothing is interpolated.

        Parameters
        ----------
        delta
            Gap Δ (µeV) the grid is built for.
        step
            Largest acceptable energy step (µeV).
        e_max
            Upper edge of the QP energy range (µeV).
        omega_max
            Largest phonon energy (µeV); default ``e_max``.
        e_min
            Lower edge of the first QP bin; default Δ.  Use a smaller value when the gap may
            shrink (self-consistent gap) or with Dynes broadening.
        """
        if not (delta > 0 and math.isfinite(delta)):
            raise GridError("delta", f"the gap must be positive to build a grid, got {delta} µeV")
        if not (step > 0 and math.isfinite(step)):
            raise GridError("step", f"must be positive and finite, got {step} µeV")
        if not (e_max > 0 and math.isfinite(e_max)):
            raise GridError("e_max", f"must be positive and finite, got {e_max} µeV")
        m = math.ceil(2 * delta / step - 1e-12)
        if m < MIN_STEPS_PER_2DELTA:
            largest = 2 * delta / MIN_STEPS_PER_2DELTA
            raise GridError("step", f"{step:g} µeV is too coarse for the gap Δ = {delta:.5g} µeV: "
                                    f"2Δ needs at least {MIN_STEPS_PER_2DELTA} steps; the "
                                    f"largest step that works is {floor_sig(largest):g} µeV")
        h = 2 * delta / m
        # bins [Δ + k h, Δ + (k+1) h]: centres at Δ + (k + 1/2) h = (m/2 + k + 1/2) h
        first = m / 2 + 0.5
        if e_min is not None and e_min < delta:
            shift = math.floor((delta - max(e_min, 0.0)) / h)
            first = max(first - shift, 0.5 if (2 * first) % 2 == 1 else 1.0)
        n_qp = int(math.floor(e_max / h - first + 0.5))
        if n_qp < 2:
            least = (first + 1.5) * h  # two QP bins
            raise GridError("e_max", f"{e_max:g} µeV leaves no room above the gap Δ = "
                                     f"{delta:.5g} µeV: it must be at least "
                                     f"{ceil_sig(least):g} µeV")
        w_max = e_max if omega_max is None else omega_max
        if not (w_max > 0 and math.isfinite(w_max)):
            raise GridError("omega_max", f"must be positive and finite, got {w_max} µeV")
        n_ph = int(math.floor(w_max / h + 1e-9))
        if n_ph < 2:
            raise GridError("omega_max", f"{w_max:g} µeV holds fewer than two phonon energies "
                                         f"of the step {h:.5g} µeV")
        return cls(step=h, first=first, n_qp=n_qp, n_phonon=n_ph)

    @staticmethod
    def size_for_gap(delta: float, step: float, e_max: float, omega_max: float | None = None,
                     e_min: float | None = None) -> tuple[int, int]:
        """``(n_qp, n_phonon)`` that :meth:`for_gap` would build, computed without building
        anything (for memory estimates); the arguments are assumed valid."""
        h = 2 * delta / max(math.ceil(2 * delta / step - 1e-12), 1)
        low = delta if e_min is None else min(delta, max(e_min, 0.0))
        n_qp = max(int((e_max - low) / h + 1), 0)
        n_ph = max(int((e_max if omega_max is None else omega_max) / h + 1), 0)
        return n_qp, n_ph

    @property
    def energies(self) -> np.ndarray:
        """QP bin centres ``E_i`` (µeV)."""
        return (self.first + np.arange(self.n_qp)) * self.step

    @property
    def edges(self) -> np.ndarray:
        """QP bin edges (µeV), length ``n_qp + 1``."""
        return (self.first - 0.5 + np.arange(self.n_qp + 1)) * self.step

    @property
    def omega(self) -> np.ndarray:
        """Phonon energies ``ω_J = J h``, ``J = 1..n_phonon`` (µeV)."""
        return np.arange(1, self.n_phonon + 1) * self.step

    @property
    def pair_offset(self) -> int:
        """Integer ``s`` with ``E_i + E_k = (s + i + k) h`` (recombination index shift)."""
        return int(round(2 * self.first))

    @property
    def e_max(self) -> float:
        """Upper edge of the last QP bin (µeV)."""
        return float(self.edges[-1])
