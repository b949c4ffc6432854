r"""Skew scattering of identical impurities: the antisymmetric rate of the third Born order.

For a static potential the golden-rule rate is ``W_{ℓ'←ℓ} = 2π ⟨|T_{ℓ'ℓ}|²⟩ δ(ε_ℓ - ε_ℓ')``
with the T matrix ``T = V + V G^R V + …``.  Its third order,
``2 Re⟨V^*_{ℓ'ℓ} Σ_{ℓ''} V_{ℓ'ℓ''} V_{ℓ''ℓ} / (ε_ℓ - ε_ℓ'' + i0)⟩``, needs a non-vanishing third
moment of the disorder — identical impurities of strength s at density ``n``, ``V_{ab} = s
⟨u_a|u_b⟩`` for a zero-range (scalar, on-site) potential, have ``⟨V^3⟩ = n s^3`` (non-Gaussian
disorder) — and the imaginary part ``-iπ δ(ε_ℓ - ε_ℓ'')`` of the propagator gives the
antisymmetric rate (N. A. Sinitsyn, A. H. MacDonald, T. Jungwirth, V. K. Dugaev and
J. Sinova, "Anomalous Hall effect in a two-dimensional Dirac band: the link between the
Kubo-Streda formula and the semiclassical Boltzmann equation approach", PRB 75, 045315
(2007), their ``ω^{(3a)}``; the skew-scattering mechanism of J. Smit)

.. math:: W^A_{ℓ'←ℓ} = (2π)^2 n s^3\, δ(ε_ℓ - ε_{ℓ'})\,
          \operatorname{Im}\big(⟨u_ℓ|u_{ℓ'}⟩ ⟨u_{ℓ'}|P(ε_ℓ)|u_ℓ⟩\big),
          \qquad P(ε) = \sum_{ℓ''} δ(ε - ε_{ℓ''}) |u_{ℓ''}⟩⟨u_{ℓ''}|,

with ``Σ_{ℓ''} = Σ_n ∫ d^dk/(2π)^d``: the spectral projector ``P`` (an N × N matrix of the
energy) closes the loop of the three overlaps, so the sum over the intermediate state costs
nothing per pair.  ``W^A_{ℓ←ℓ'} = -W^A_{ℓ'←ℓ}`` (the loop is complex-conjugated), and
``Σ_{ℓ'} W^A_{ℓ'←ℓ} = (2π)^2 n s^3 Im⟨u_ℓ|P P|u_ℓ⟩ = 0`` (the optical theorem at this order):
the equilibrium is not disturbed.  The symmetric (principal-value) part of the third order
renormalises the second-order rate and is left out, as usual.

On a mesh ``P(ε)`` is the same smeared sum as the rates' (a Gaussian δ of the operator's width),
tabulated once on a fine energy grid (linear deposit of each state, then the Gaussian by FFT
convolution: second order in the grid step ``h = σ/8``) and interpolated linearly at the mean
energy of each pair, which keeps ``W^A`` exactly antisymmetric; the sum rule then holds to the
smearing's resolution (measured by the tests).  For two bands, with ``P = a_0 + \mathbf a·σ``
and the Bloch vectors ``n``,
``Im⟨u_r|u_c⟩⟨u_c|P|u_r⟩ = Im Tr(P P_r P_c) = ½ \mathbf a·(\mathbf n_r × \mathbf n_c)``.

The linearised collision integral of the antisymmetric rate, for ``δf = f^0(1-f^0)φ``, is
``w_s I^A_s = -Σ_{s'} Φ^A_{ss'} (φ_s + φ_{s'})`` with the antisymmetric flux
``Φ^A_{ss'} = w_s w_{s'} F(ε_s, ε_{s'}) W^A_{s'←s}/(2π)^d``: the operator
``K = diag(Φ^A 1) + Φ^A`` added to the symmetric ``L`` conserves particles exactly
(``1ᵀ K = 0``) and is not symmetric, so the Boltzmann conductivity acquires an antisymmetric
(Hall) part at B = 0 — the skew-scattering conductivity, ``σ^{sk}_{yx}/σ_{xx} ∝ s ν``
(the ratio of the antisymmetric to the symmetric rate), so ``σ^{sk} ∝ 1/(n s)``: it grows
with the transport time, unlike the side jump.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from boltzphlow.kspace.states import KStates

__all__ = ["SpectralProjector", "pair_skew_overlap", "spectral_projector", "tile_skew_overlap"]

#: Grid steps per Gaussian width of the tabulated projector.
STEPS_PER_WIDTH = 8


@dataclass(frozen=True, eq=False)
class SpectralProjector:
    """``P(ε)`` tabulated on the grid ``e0 + h j`` (``(G, N, N)`` complex), L⁻ᵈ energy⁻¹.

    ``bloch`` holds, for two bands, ``(a_0, a_x, a_y, a_z)`` of ``P = a_0 + a·σ`` ``(G, 4)``.
    """

    e0: float
    h: float
    values: np.ndarray
    bloch: np.ndarray | None

    def _weights(self, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = (np.asarray(energy, float) - self.e0) / self.h
        g = len(self.values)
        i = np.clip(np.floor(x).astype(np.int64), 0, g - 2)
        t = np.clip(x - i, 0.0, 1.0)
        return i, t

    def at(self, energy: np.ndarray) -> np.ndarray:
        """``P`` at ``energy`` ``(...)`` → ``(..., N, N)`` (linear interpolation)."""
        i, t = self._weights(energy)
        t = t[..., None, None]
        return self.values[i] * (1 - t) + self.values[i + 1] * t

    def bloch_at(self, energy: np.ndarray) -> np.ndarray:
        """``(a_0, a_x, a_y, a_z)`` at ``energy`` ``(..., 4)`` (two bands)."""
        if self.bloch is None:
            raise ValueError("the Bloch form of the spectral projector needs two bands")
        i, t = self._weights(energy)
        t = t[..., None]
        return self.bloch[i] * (1 - t) + self.bloch[i + 1] * t


def spectral_projector(states: KStates, width: float, n_sigma: float = 4.0) -> SpectralProjector:
    r"""``P(ε) = Σ_s w_s/(2π)^d g_σ(ε - ε_s) |u_s⟩⟨u_s|`` of the states (module docstring),
    tabulated with :data:`STEPS_PER_WIDTH` points per width σ."""
    if states.eigenvectors is None:
        raise ValueError("the spectral projector needs the eigenvectors")
    if not (math.isfinite(width) and width > 0):
        raise ValueError(f"the smearing width must be finite and > 0, got {width}")
    u, e = states.eigenvectors, states.energy
    n = u.shape[1]
    h = width / STEPS_PER_WIDTH
    reach = n_sigma * width
    e0 = float(e.min()) - reach - 2 * h
    g = int(math.ceil((float(e.max()) + reach + 2 * h - e0) / h)) + 1
    x = (e - e0) / h
    i = np.floor(x).astype(np.int64)
    t = x - i
    weight = states.weight / (2 * math.pi) ** states.dim
    outer = (u[:, :, None] * u[:, None, :].conj()).reshape(len(e), n * n) * weight[:, None]
    deposit = np.zeros((g, n * n), dtype=complex)
    for a in range(n * n):  # N² components, each one bincount over the states
        deposit[:, a] = (np.bincount(i, outer[:, a].real * (1 - t), minlength=g)
                         + np.bincount(i + 1, outer[:, a].real * t, minlength=g)
                         + 1j * (np.bincount(i, outer[:, a].imag * (1 - t), minlength=g)
                                 + np.bincount(i + 1, outer[:, a].imag * t, minlength=g)))[:g]
    m = int(math.ceil(reach / h))
    grid = np.arange(-m, m + 1) * h
    kernel = np.exp(-0.5 * (grid / width) ** 2) / (math.sqrt(2 * math.pi) * width)
    values = fftconvolve(deposit, kernel[:, None].astype(complex), mode="same", axes=0)
    values = values.reshape(g, n, n)
    values = 0.5 * (values + np.conj(np.swapaxes(values, 1, 2)))  # Hermitian to round-off
    bloch = None
    if n == 2:
        bloch = np.stack([0.5 * (values[:, 0, 0] + values[:, 1, 1]).real,
                          values[:, 1, 0].real, values[:, 1, 0].imag,
                          0.5 * (values[:, 0, 0] - values[:, 1, 1]).real], axis=1)
    return SpectralProjector(e0=e0, h=h, values=values, bloch=bloch)


def pair_skew_overlap(states: KStates, rows: np.ndarray, cols: np.ndarray,
                      projector: SpectralProjector) -> np.ndarray:
    r"""``Im(⟨u_r|u_c⟩⟨u_c|P(ε̄)|u_r⟩)`` ``(P,)`` of pairs (``ε̄`` their mean energy): any
    number of bands, antisymmetric in r ↔ c."""
    u = states.eigenvectors
    ur, uc = u[rows], u[cols]
    p = projector.at(0.5 * (states.energy[rows] + states.energy[cols]))
    overlap = np.einsum("pa,pa->p", ur.conj(), uc)
    middle = np.einsum("pa,pab,pb->p", uc.conj(), p, ur)
    return np.imag(overlap * middle)


def tile_skew_overlap(tile, projector: SpectralProjector) -> np.ndarray | None:
    r"""``Im(⟨u_r|u_c⟩⟨u_c|P(ε̄)|u_r⟩) = ½ a(ε̄)·(n_r × n_c)`` on a tile (two bands; None
    otherwise: the operator then calls the pair form)."""
    ctx = tile.context
    states = ctx.states
    if states.n_bands != 2:
        return None
    from boltzphlow.scattering.models import state_columns

    bloch = state_columns(states).bloch
    n = [ctx.array(("bloch", a), lambda a=a: bloch[a]) for a in range(3)]
    e = ctx.energy()  # ε - μ in the tile's dtype
    mean = tile.row(e) + tile.col(e)
    mean *= tile.dtype.type(0.5)
    a = projector.bloch_at(mean.astype(np.float64) + ctx.eq.mu)[..., 1:].astype(tile.dtype)
    nr = [tile.row(x) for x in n]
    nc = [tile.col(x) for x in n]
    out = a[..., 0] * (nr[1] * nc[2] - nr[2] * nc[1])
    out += a[..., 1] * (nr[2] * nc[0] - nr[0] * nc[2])
    out += a[..., 2] * (nr[0] * nc[1] - nr[1] * nc[0])
    out *= tile.dtype.type(0.5)
    return out
