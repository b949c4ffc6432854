r"""Electron–phonon scattering: acoustic (deformation potential, Debye) and optical (Einstein)
phonons, fully inelastic with emission, absorption and Pauli factors.

For an unordered pair of states with ``Δ = ε_c - ε_r ≥ 0`` the only process is the lower
state r absorbing a phonon of wave vector ``q = k_c - k_r`` (equivalently c emitting it):
by the golden rule (Eq. 2a of C. Xiao, Y. Liu, M. Xie, S. A. Yang, Q. Niu, "Theory of phonon
side jump contribution in anomalous Hall transport")

.. math:: Φ_{rc} = \frac{w_r w_c}{(2π)^d}\, 2π |g_q|^2 |⟨u_c|u_r⟩|^2
          f^0_r (1 - f^0_c) N(Δ)\; δ(ε_c - ε_r - ω_q),

the same number as the emission flux ``f^0_c (1 - f^0_r)(N(Δ) + 1)`` (the identity
``f(1 - f') N(ε' - ε) = f'(1 - f)(N(ε' - ε) + 1)``), so detailed balance is exact however the
δ is smeared.  The occupation factors take the pair's own ``Δ`` and ``ω_q`` enters the δ
only; the coupling is taken on the shell as well (``|g|²`` at the transferred energy Δ), so
that ``|g|² N(Δ)`` stays finite as ``Δ → 0`` (:meth:`Equilibrium.absorption_factor`).
Each unordered pair is held once, with ``Δ ≥ 0``; its two absorption processes — the lower
state absorbing (``δ(Δ - ω_q)``) and the upper one absorbing (``δ(-Δ - ω_q)``, zero for an
exact δ unless ``Δ = ω_q = 0``) — are both counted with the symmetric occupation factor, so a
δ smeared wider than the phonon energies keeps its full weight
(``∫ dΔ [δ_σ(|Δ| - ω) + δ_σ(|Δ| + ω)] = 2``, absorption plus emission).
Units: ħ = e = k_B = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from boltzphlow.kspace.states import KStates
from boltzphlow.parameters import check_parameters, parameter
from boltzphlow.scattering.base import (
    DeltaFunction,
    Equilibrium,
    PairBlock,
    ScatteringModel,
    Tile,
)
from boltzphlow.scattering.models import (
    absorption_factor,
    energy_shell,
    kahan_exp_parts,
    pair_measure,
    scale_by_measure,
    state_columns,
    tile_absorption,
    tile_elastic,
    tile_overlap_sq,
    tile_transfer_norm,
    tile_transfer_sq,
    wave_vector_transfer,
)

__all__ = ["OPTICAL_COUPLINGS", "AcousticPhonons", "OpticalPhonons", "thermal_factor"]

#: The momentum dependences of the optical coupling :class:`OpticalPhonons` knows.
OPTICAL_COUPLINGS = ("constant", "froehlich")


def thermal_factor(x: np.ndarray) -> np.ndarray:
    """``x² N(x)(N(x) + 1) = (x/2 / sinh(x/2))²`` (1 at ``x = 0``), ``x = ω/T``."""
    half = 0.5 * np.abs(np.asarray(x, float))
    small = half < 1e-6
    with np.errstate(over="ignore"):
        ratio = np.where(small, 1.0, half) / np.sinh(np.where(small, 1.0, np.minimum(half, 700)))
    return np.where(small, 1.0 - half * half / 3.0, ratio) ** 2


def _required(model: object, *names: str) -> None:
    for name in names:
        value = getattr(model, name)
        if value is None:
            raise ValueError(f"{type(model).__name__} needs {name}")
        if not math.isfinite(value):
            raise ValueError(f"{type(model).__name__}.{name} must be finite, got {value}")
    check_parameters(model)


def _span(states: KStates) -> float:
    """Largest ``|k_c - k_r|`` between two states (bound from the bounding box; a lattice's
    folded transfer is shorter)."""
    if not len(states):
        return 0.0
    return float(np.linalg.norm(states.k.max(axis=0) - states.k.min(axis=0)))


@dataclass(frozen=True)
class AcousticPhonons(ScatteringModel):
    r"""Longitudinal acoustic phonons with a deformation-potential coupling (Debye model).

    ``ω_q = c_s |q|`` (``|q| ≤ q_D`` when a Debye wave vector is given) and
    ``|g_q|² = λ² ω_q / 2``: the deformation-potential coupling constant λ of Appendix B of
    Xiao, Liu, Xie, Yang and Niu (``2|V⁰_{k'k}|²/ħω_q = λ²``; λ² in energy × Lᵈ).  Inelastic
    (default): the pair flux of the module with ``|g|² N(Δ) = (λ²T/2) (Δ/T) N(Δ)``, i.e.

    .. math:: Φ_{rc} = \frac{w_r w_c}{(2π)^d} π λ^2 T\, |⟨u_c|u_r⟩|^2
              \, f^0_r(1-f^0_c)\frac{Δ/T}{e^{Δ/T}-1}\, δ(Δ - c_s|q|).

    Quasi-elastic (``elastic=True``), their Eq. B3 with both processes summed:

    .. math:: Φ_{rc} = \frac{w_r w_c}{(2π)^d} 2π λ^2 T\, |⟨u_c|u_r⟩|^2
              \Big(\frac{ω_q}{T}\Big)^2 N(ω_q)(N(ω_q)+1)\, F(ε_r, ε_c)\, δ(ε_c - ε_r),

    with ``F`` the symmetric :meth:`Equilibrium.elastic_flux_factor`.  Above the
    Bloch–Grüneisen temperature both give ``1/τ = 2π λ² T ν(ε) ⟨|⟨u'|u⟩|²⟩ ∝ T``.

    Parameters
    ----------
    sound_velocity
        ``c_s`` (energy × L).
    coupling
        λ (``λ²`` in energy × Lᵈ).
    debye_wavevector
        ``q_D`` (L⁻¹); None: no cutoff.
    elastic
        The quasi-elastic limit instead of the inelastic rates.
    """

    sound_velocity: float | None = parameter(None, unit="energy*L", doc="sound velocity c_s",
                                             gt=0)
    coupling: float | None = parameter(None, unit="(energy*L^d)^(1/2)",
                                       doc="deformation-potential coupling λ "
                                           "(|g_q|^2 = λ^2 ω_q / 2)", ge=0)
    debye_wavevector: float | None = parameter(None, unit="1/L",
                                               doc="Debye cutoff q_D (none: no cutoff)", gt=0)
    elastic: bool = parameter(False, unit="-", doc="quasi-elastic limit (δ(ε_c - ε_r))")
    name = "acoustic phonons"
    needs_eigenvectors = True

    def __post_init__(self) -> None:
        _required(self, "sound_velocity", "coupling")
        if self.debye_wavevector is not None and not math.isfinite(self.debye_wavevector):
            raise ValueError(f"debye_wavevector must be finite, got {self.debye_wavevector}")

    def phonon_energy(self, q: np.ndarray) -> np.ndarray:
        """``ω_q = c_s |q|`` for wave vectors ``(P, d)``."""
        return self.sound_velocity * np.sqrt(np.einsum("pi,pi->p", q, q))

    def max_phonon_energy(self, states: KStates | None = None) -> float:
        if self.elastic:  # no energy is exchanged: the window needs no widening
            return 0.0
        if self.debye_wavevector is not None:
            return self.sound_velocity * self.debye_wavevector
        return 0.0 if states is None else self.sound_velocity * _span(states)

    def max_energy_transfer(self, states: KStates | None = None) -> float:
        if self.elastic:
            return 0.0
        return self.max_phonon_energy(states)

    def pair_flux(self, states: KStates, pairs: PairBlock, eq: Equilibrium,
                  delta: DeltaFunction) -> np.ndarray:
        e, cs, cols = states.energy, self.sound_velocity, state_columns(states)

        def mismatch(rr: np.ndarray, cc: np.ndarray, sign: float = 1.0) -> np.ndarray:
            de = e[cc] - e[rr]  # ± Δ - ω: absorption (+) or emission (-) by the lower state
            return de if self.elastic else sign * de - cs * cols.transfer_norm(rr, cc)

        r, c = pairs.rows, pairs.cols
        de = e[c] - e[r]
        qn = cols.transfer_norm(r, c)
        out = np.zeros(len(pairs))
        if self.elastic:
            shells = [energy_shell(states, pairs, delta, mismatch, de)]
        else:  # the lower state absorbs (Δ - ω), or the upper one does (-Δ - ω)
            absorbed = de - cs * qn
            shells = [energy_shell(states, pairs, delta, mismatch, absorbed),
                      energy_shell(states, pairs, delta,
                                   lambda rr, cc: mismatch(rr, cc, -1.0), -de - cs * qn)]
        for index, rs, cs_, d in shells:
            if not len(index):
                continue
            q = qn[index]
            if self.elastic:
                occupation = (2 * thermal_factor(cs * q / eq.T)
                              * eq.elastic_flux_factor(e[rs], e[cs_]))
            else:
                occupation = absorption_factor(cols, eq, rs, cs_, de[index])
            flux = (math.pi * self.coupling ** 2 * eq.T * occupation * cols.overlap_sq(rs, cs_)
                    * d * pair_measure(states, rs, cs_))
            if self.debye_wavevector is not None:
                flux = np.where(q <= self._debye_bound(np.float64), flux, 0.0)
            out[index] += flux
        return out

    def _debye_bound(self, dtype) -> float:
        """``q_D`` widened by 8 ulps of ``dtype``: a transfer equal to ``q_D`` up to the
        rounding of ``|q|`` is kept, in float32 as in float64."""
        return self.debye_wavevector * (1 + 8 * float(np.finfo(dtype).eps))

    def tile_flux(self, tile: Tile, delta: DeltaFunction) -> np.ndarray | None:
        de, dt = tile.energy_transfer(), tile.dtype.type
        qn = tile_transfer_norm(tile)
        if self.elastic:
            d = delta.tile_weights(tile, de)
            if d is None:
                return None
            y = qn * dt(self.sound_velocity / tile.eq.T)  # x² N (N + 1) = u (log u/(u-1))²
            u, lg, um1 = kahan_exp_parts(tile, y)
            ratio = np.divide(lg, um1, out=lg)
            ratio *= ratio
            ratio *= u
            d *= ratio
            d *= tile_elastic(tile)
            factor = 2.0
        else:  # δ(Δ - ω_q) + δ(-Δ - ω_q)
            omega = qn * dt(self.sound_velocity)
            d = delta.tile_weights(tile, de - omega)
            if d is None:
                return None
            omega += de
            omega *= -1
            d += delta.tile_weights(tile, omega)
            d *= tile_absorption(tile)
            factor = 1.0
        d *= tile_overlap_sq(tile)
        if self.debye_wavevector is not None:
            d *= qn <= dt(self._debye_bound(tile.dtype))
        return scale_by_measure(tile, d, factor * math.pi * self.coupling ** 2 * tile.eq.T)

    def describe(self) -> str:
        cut = "" if self.debye_wavevector is None else f", q_D = {self.debye_wavevector:g}"
        kind = "quasi-elastic" if self.elastic else "inelastic"
        return (f"acoustic phonons ({kind}, c_s = {self.sound_velocity:g}, "
                f"λ = {self.coupling:g}{cut})")


@dataclass(frozen=True)
class OpticalPhonons(ScatteringModel):
    r"""Dispersionless optical (Einstein) phonons of energy ``ω_0``.

    ``|g_q|² = g²`` (``"constant"``, g² in energy² × Lᵈ) or the Fröhlich-like
    ``g²/(q² + q_s²)`` in 3D and ``g²/(|q| + q_s)`` in 2D (``"froehlich"``, polar coupling
    with a screening wave vector ``q_s``; g² in energy² × L^{d-2} resp. energy² × L).
    The pair flux of the module with the coupling taken on the shell,
    ``|g|² N(Δ) → |g_q|² (T/ω_0) (Δ/T) N(Δ)`` (equal where ``Δ = ω_0``):

    .. math:: Φ_{rc} = \frac{w_r w_c}{(2π)^d} 2π |g_q|^2 \frac{T}{ω_0} |⟨u_c|u_r⟩|^2
              f^0_r(1-f^0_c)\frac{Δ/T}{e^{Δ/T}-1}\, δ(Δ - ω_0).

    Parameters
    ----------
    energy
        ``ω_0`` (energy).
    coupling
        g.
    form
        ``"constant"`` or ``"froehlich"``.
    screening
        ``q_s`` (L⁻¹) of the Fröhlich form.
    """

    energy: float | None = parameter(None, unit="energy", doc="phonon energy ω_0", gt=0)
    coupling: float | None = parameter(None, unit="energy*L^(d/2)",
                                       doc="electron-phonon coupling g", ge=0)
    form: str = parameter("constant", unit="-", doc="|g_q|^2: constant or froehlich")
    screening: float | None = parameter(None, unit="1/L",
                                        doc="screening wave vector q_s (froehlich)", ge=0)
    name = "optical phonons"
    needs_eigenvectors = True

    def __post_init__(self) -> None:
        _required(self, "energy", "coupling")
        if self.form not in OPTICAL_COUPLINGS:
            raise ValueError(f"unknown optical coupling {self.form!r}: use one of "
                             f"{', '.join(OPTICAL_COUPLINGS)}")
        if self.form == "froehlich" and self.screening is None:
            raise ValueError("froehlich optical phonons need screening (q_s)")

    def max_phonon_energy(self, states: KStates | None = None) -> float:
        return float(self.energy)

    def max_energy_transfer(self, states: KStates | None = None) -> float:
        return float(self.energy)

    def coupling_sq(self, q: np.ndarray) -> np.ndarray:
        """``|g_q|²`` for wave vectors ``(P, d)``."""
        g2 = self.coupling ** 2
        if self.form == "constant":
            return np.full(len(q), g2)
        q2 = np.einsum("pi,pi->p", q, q)
        if q.shape[1] == 3:
            return g2 / (q2 + self.screening ** 2)
        if q.shape[1] == 2:
            return g2 / (np.sqrt(q2) + self.screening)
        raise ValueError(f"froehlich optical phonons need a 2D or 3D model, got {q.shape[1]}D")

    def pair_flux(self, states: KStates, pairs: PairBlock, eq: Equilibrium,
                  delta: DeltaFunction) -> np.ndarray:
        e, w0, cols = states.energy, float(self.energy), state_columns(states)

        out = np.zeros(len(pairs))
        for sign in (1.0, -1.0):
            index, r, c, d = energy_shell(
                states, pairs, delta, lambda rr, cc, sign=sign: sign * (e[cc] - e[rr]) - w0)
            if not len(index):
                continue
            g2 = (self.coupling ** 2 if self.form == "constant"
                  else self.coupling_sq(wave_vector_transfer(states, r, c)))
            out[index] += (2 * math.pi * g2 * (eq.T / w0)
                           * absorption_factor(cols, eq, r, c, e[c] - e[r])
                           * cols.overlap_sq(r, c) * d * pair_measure(states, r, c))
        return out

    def tile_flux(self, tile: Tile, delta: DeltaFunction) -> np.ndarray | None:
        de, dt = tile.energy_transfer(), tile.dtype.type
        w0 = dt(self.energy)
        d = delta.tile_weights(tile, de - w0)
        if d is None:
            return None
        d += delta.tile_weights(tile, -de - w0)
        if self.form != "constant":
            dim = tile.context.states.dim
            if dim == 3:
                d /= tile_transfer_sq(tile) + dt(self.screening ** 2)
            elif dim == 2:
                d /= tile_transfer_norm(tile) + dt(self.screening)
            else:
                return None
        d *= tile_absorption(tile)
        d *= tile_overlap_sq(tile)
        return scale_by_measure(tile, d, 2 * math.pi * self.coupling ** 2
                                * tile.eq.T / self.energy)

    def describe(self) -> str:
        return f"optical phonons (ω_0 = {self.energy:g}, g = {self.coupling:g}, {self.form})"
