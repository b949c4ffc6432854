r"""Scattering models: static impurities and a constant relaxation time (phonons:
:mod:`boltzphlow.scattering.phonons`), and the pieces every model shares.

Each computes the equilibrium transition flux ``Φ_{rc}`` of unordered pairs of states
(:mod:`boltzphlow.scattering.base`), so detailed balance holds by construction.  Units:
ħ = e = k_B = 1; lengths L, wave vectors L⁻¹, d the dimension of k-space.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
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

__all__ = ["IMPURITY_POTENTIALS", "ConstantRelaxationTime", "Impurities", "StateColumns",
           "absorption_factor", "bloch_overlap_sq", "energy_shell", "kahan_exp_parts",
           "pair_measure", "scale_by_measure", "state_columns", "tile_absorption", "tile_elastic",
           "tile_measure", "tile_overlap_sq", "tile_transfer", "tile_transfer_norm",
           "tile_transfer_sq", "wave_vector_transfer"]

#: The impurity potentials :class:`Impurities` knows.
IMPURITY_POTENTIALS = ("zero-range", "gaussian", "screened-coulomb")


class StateColumns:
    """Per-state arrays of a :class:`KStates` laid out for gathers by pair (one contiguous
    array per component), built once per states object (:func:`state_columns`).

    Attributes
    ----------
    k
        Cartesian components of k, each ``(S,)``.
    uniform_weight
        The k-space weight where every state has the same, else None.
    reduced, basis
        Reduced coordinates (components) and the reciprocal basis ``B`` (``k = f B``) of a
        lattice model, found from the states themselves; None for a continuum box (or
        where the states do not fix B).
    u
        Components of the Bloch vectors, each ``(S,)`` complex, or None.
    bloch
        For two bands, the unit vector ``n = ⟨u|σ|u⟩`` (components), with which
        ``|⟨u_c|u_r⟩|² = (1 + n_c·n_r)/2`` in real arithmetic; else None.
    """

    def __init__(self, states: KStates) -> None:
        self.k = tuple(np.ascontiguousarray(states.k[:, i]) for i in range(states.dim))
        self.reduced = self.basis = None
        mesh = states.mesh
        if states.periodic and mesh is not None and len(states):
            idx = np.array(np.unravel_index(states.k_index, mesh.shape)).T
            f = (idx + np.asarray(mesh.shift)) / np.asarray(mesh.shape, float)
            basis, *_ = np.linalg.lstsq(f, states.k, rcond=None)
            scale = float(np.abs(states.k).max(initial=0.0)) + 1e-300
            if (np.linalg.matrix_rank(f) == states.dim
                    and np.abs(f @ basis - states.k).max() <= 1e-9 * scale):
                self.reduced = tuple(np.ascontiguousarray(f[:, i]) for i in range(states.dim))
                self.basis = basis
        u = states.eigenvectors
        self.u = None if u is None else tuple(np.ascontiguousarray(u[:, n])
                                              for n in range(u.shape[1]))
        self.bloch = None
        if u is not None and u.shape[1] == 2:  # |⟨u_c|u_r⟩|² = (1 + n_c·n_r)/2
            cross = np.conj(u[:, 0]) * u[:, 1]
            norm = np.sum(np.abs(u) ** 2, axis=1)
            self.bloch = (2 * cross.real / norm, 2 * cross.imag / norm,
                          (np.abs(u[:, 0]) ** 2 - np.abs(u[:, 1]) ** 2) / norm)
        w = states.weight
        self.uniform_weight = (float(w[0]) if len(w) and np.all(w == w[0]) else None)
        self._fermi: tuple | None = None
        self._energy = states.energy

    def fermi(self, eq: Equilibrium) -> tuple[np.ndarray, np.ndarray]:
        """``f^0`` and ``e^{(ε - μ)/T}`` (clipped at ``e^{±300}``) of every state, kept for
        the last equilibrium asked for."""
        if self._fermi is None or self._fermi[0] != eq:
            scaled = (self._energy - eq.mu) / eq.T
            self._fermi = (eq, eq.fermi(self._energy), np.exp(np.clip(scaled, -300, 300)),
                           np.abs(scaled) > 300)
        return self._fermi[1], self._fermi[2]

    def far_from_mu(self, eq: Equilibrium) -> np.ndarray | None:
        """States more than 300 T from μ (None if there is none)."""
        self.fermi(eq)
        far = self._fermi[3]
        return far if far.any() else None

    def transfer(self, rows: np.ndarray, cols: np.ndarray) -> list[np.ndarray]:
        """Components of ``q = k_c - k_r`` (folded to the nearest image on a lattice)."""
        if self.basis is None:
            return [kc[cols] - kc[rows] for kc in self.k]
        df = []
        for f in self.reduced:
            x = f[cols] - f[rows]
            x -= np.round(x)
            df.append(x)
        d = len(df)
        return [sum(df[a] * self.basis[a, i] for a in range(d)) for i in range(d)]

    def transfer_norm(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``|q|`` of each pair."""
        q = self.transfer(rows, cols)
        q2 = q[0] * q[0]
        for x in q[1:]:
            q2 += x * x
        return np.sqrt(q2)

    def overlap_sq(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``|⟨u_c|u_r⟩|²`` of each pair."""
        if self.u is None:
            raise ValueError("Bloch overlaps need the eigenvectors: build the states with "
                             "eigenvectors=True")
        if self.bloch is not None:
            nx, ny, nz = self.bloch
            out = nx[cols] * nx[rows]
            out += ny[cols] * ny[rows]
            out += nz[cols] * nz[rows]
            out += 1.0
            out *= 0.5
            return out
        amplitude = np.conj(self.u[0][cols]) * self.u[0][rows]
        for un in self.u[1:]:
            amplitude += np.conj(un[cols]) * un[rows]
        return amplitude.real ** 2 + amplitude.imag ** 2


_COLUMNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def state_columns(states: KStates) -> StateColumns:
    """The :class:`StateColumns` of ``states`` (cached while the states live)."""
    found = _COLUMNS.get(states)
    if found is None:
        found = _COLUMNS[states] = StateColumns(states)
    return found


def bloch_overlap_sq(states: KStates, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``|⟨u_c|u_r⟩|²`` of pairs of states (needs the eigenvectors; gauge invariant)."""
    return state_columns(states).overlap_sq(rows, cols)


def pair_measure(states: KStates, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | float:
    """``w_r w_c / (2π)^d`` of each pair (a number where every weight is the same)."""
    w = state_columns(states).uniform_weight
    if w is not None:
        return w * w / (2 * math.pi) ** states.dim
    return states.weight[rows] * states.weight[cols] / (2 * math.pi) ** states.dim


def wave_vector_transfer(states: KStates, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``q = k_c - k_r`` ``(P, d)``; for a lattice model folded to the nearest image in
    reduced coordinates (``Δf ∈ [-1/2, 1/2]``: normal and Umklapp processes alike reach
    the shortest transfer), for a continuum box the plain difference."""
    return np.stack(state_columns(states).transfer(rows, cols), axis=-1)


def absorption_factor(columns: StateColumns, eq: Equilibrium, rows: np.ndarray,
                      cols: np.ndarray, transfer: np.ndarray) -> np.ndarray:
    """:meth:`Equilibrium.absorption_factor` of pairs with ``ε_c ≥ ε_r`` and
    ``transfer = ε_c - ε_r``, from per-state numbers: ``f^0`` and ``E_s = e^{(ε_s - μ)/T}``
    (``e^{x} = E_c/E_r``, so no exponential per pair; ``x/(e^x - 1)`` by its series below
    ``x = 1e-3``, where the difference would cancel, and by ``expm1`` for states more than
    300 T from μ)."""
    f, boltzmann = columns.fermi(eq)
    x = transfer * (1.0 / eq.T)
    ratio = boltzmann[cols] / boltzmann[rows]
    ratio -= 1.0
    np.divide(x, ratio, out=ratio, where=x >= 1e-3)
    small = x < 1e-3
    if small.any():
        xs = x[small]
        ratio[small] = 1.0 - xs * (0.5 - xs / 12.0)
    far = columns.far_from_mu(eq)
    if far is not None:
        out = far[rows] | far[cols]
        if out.any():
            xo = np.maximum(x[out], 1e-300)
            ratio[out] = xo / np.expm1(np.minimum(xo, 700.0))
    ratio *= f[rows]
    ratio *= 1.0 - f[cols]
    return ratio


def energy_shell(states: KStates, pairs: PairBlock, delta: DeltaFunction,
                 mismatch_of: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 values: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of a block on the energy shell of a δ, and their weights.

    ``mismatch_of(rows, cols)`` is ``ε_c - ε_r - Δ_{rc}``; pairs whose own ``|mismatch|``
    exceeds ``delta.cutoff`` are pruned first (cheaply), the δ weights are evaluated for the
    rest (with the mismatch already computed handed back to a smearing that asks for it at
    the same pairs).  ``values``: the mismatch of the whole block, if already computed.

    Returns
    -------
    index, rows, cols, weight
        Positions in the block of the pairs with a nonzero weight, their rows and columns,
        and the weights (energy⁻¹).
    """
    r, c = pairs.rows, pairs.cols
    mismatch = mismatch_of(r, c) if values is None else values
    index = np.flatnonzero(np.abs(mismatch) <= delta.cutoff(states))
    r, c, mismatch = r[index], c[index], mismatch[index]

    def cached(rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
        if rr is r and cc is c:
            return mismatch
        return mismatch_of(rr, cc)

    weight = np.asarray(delta.weights(states, r, c, cached), float)
    live = weight != 0
    return index[live], r[live], c[live], weight[live]


# --------------------------------------------------------------------------- tiles
# Pair quantities on a dense tile of energy-sorted states (base.Tile): per-state arrays cast
# once to the tile's dtype, combined by broadcasting (rows (B, 1) with columns (1, W)).

def _columns(tile: Tile) -> StateColumns:
    return tile.context.memo("columns", lambda: state_columns(tile.context.states))


def tile_transfer(tile: Tile) -> list[np.ndarray]:
    """Components of ``q = k_c - k_r`` ``(B, W)`` (folded to the nearest image on a
    lattice, as :func:`wave_vector_transfer`)."""
    q = tile.cache.get("q")
    if q is None:
        cols, ctx = _columns(tile), tile.context
        if cols.basis is None:
            q = [tile.col(k) - tile.row(k) for k in
                 (ctx.array(("k", i), lambda i=i: cols.k[i]) for i in range(len(cols.k)))]
        else:
            df = []
            for a in range(len(cols.reduced)):
                f = ctx.array(("reduced", a), lambda a=a: cols.reduced[a])
                x = tile.col(f) - tile.row(f)
                x -= np.rint(x)
                df.append(x)
            basis = cols.basis.astype(tile.dtype)
            q = []
            for i in range(len(df)):
                qi = df[0] * basis[0, i]
                for a in range(1, len(df)):
                    qi += df[a] * basis[a, i]
                q.append(qi)
        tile.cache["q"] = q
    return q


def tile_transfer_sq(tile: Tile) -> np.ndarray:
    """``|q|²`` ``(B, W)``."""
    q2 = tile.cache.get("q2")
    if q2 is None:
        q = tile_transfer(tile)
        q2 = q[0] * q[0]
        for x in q[1:]:
            q2 += x * x
        tile.cache["q2"] = q2
    return q2


def tile_transfer_norm(tile: Tile) -> np.ndarray:
    """``|q|`` ``(B, W)``."""
    qn = tile.cache.get("|q|")
    if qn is None:
        qn = tile.cache["|q|"] = np.sqrt(tile_transfer_sq(tile))
    return qn


def tile_overlap_sq(tile: Tile) -> np.ndarray:
    """``|⟨u_c|u_r⟩|²`` ``(B, W)``: ``(1 + n_c·n_r)/2`` for two bands, else
    ``|U_r U_c^†|²`` (one matrix product)."""
    cols, ctx = _columns(tile), tile.context
    if cols.u is None:
        raise ValueError("Bloch overlaps need the eigenvectors: build the states with "
                         "eigenvectors=True")
    if cols.bloch is not None:
        n = [ctx.array(("bloch", i), lambda i=i: cols.bloch[i]) for i in range(3)]
        out = tile.row(n[0]) * tile.col(n[0])
        out += tile.row(n[1]) * tile.col(n[1])
        out += tile.row(n[2]) * tile.col(n[2])
        out += 1
        out *= 0.5
        return out
    complex_dtype = np.result_type(tile.dtype, np.complex64)
    u = ctx.array("u", lambda: ctx.states.eigenvectors, dtype=complex_dtype)
    amplitude = u[tile.r0:tile.r1] @ u[tile.c0:tile.c1].conj().T
    out = amplitude.real * amplitude.real
    out += amplitude.imag * amplitude.imag
    return out.astype(tile.dtype, copy=False)


def tile_measure(tile: Tile) -> np.ndarray | float:
    """``w_r w_c / (2π)^d``: a number where every weight is the same, else ``(B, W)``."""
    ctx = tile.context
    scale = 1.0 / (2 * math.pi) ** ctx.states.dim
    w = _columns(tile).uniform_weight
    if w is not None:
        return w * w * scale
    weight = ctx.array("weight", lambda: ctx.states.weight)
    return tile.row(weight) * tile.col(weight) * tile.dtype.type(scale)


def scale_by_measure(tile: Tile, values: np.ndarray, factor: float) -> np.ndarray:
    """``values × factor × w_r w_c/(2π)^d`` in place (:func:`tile_measure`)."""
    measure = tile_measure(tile)
    if np.ndim(measure):
        values *= measure
        values *= tile.dtype.type(factor)
    else:
        values *= tile.dtype.type(factor * measure)
    return values


def kahan_exp_parts(tile: Tile, x: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``u = fl(e^x)``, ``log u`` and ``u - 1`` of ``x`` (clipped at ``±60`` in float32,
    ``±700`` in float64; ``x`` is overwritten): ``log(u)/(u - 1)`` is ``x/(e^x - 1)`` to a
    few ulps for every ``x`` (W. Kahan's evaluation of expm1: the rounding of ``u`` cancels
    in the ratio), with the vectorised exp and log.  Where ``u = 1`` both ``log u`` and
    ``u - 1`` are set to 1 (the limit of the ratio).  Clipping changes only factors below
    ``e^{-60}``."""
    limit = 60.0 if tile.dtype == np.float32 else 700.0
    np.clip(x, -limit, limit, out=x)
    u = np.exp(x, out=x)
    lg = np.log(u)
    um1 = u - 1
    one = um1 == 0  # then log u = 0 too
    lg += one
    um1 += one
    return u, lg, um1


def _fermi_pair(tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """``f^0`` of the rows ``(B, 1)`` and ``1 - f^0`` of the columns ``(1, W)``."""
    from scipy.special import expit

    ctx = tile.context
    scaled = lambda: (ctx.states.energy - ctx.eq.mu) / ctx.eq.T  # noqa: E731
    f = ctx.array("fermi", lambda: expit(-scaled()))
    fc = ctx.array("1-fermi", lambda: expit(scaled()))
    return tile.row(f), tile.col(fc)


#: Below this ``x = Δ/T`` the Bose ratio ``x/(e^x - 1)`` is taken from its series, by dtype.
SERIES_BELOW = {np.dtype(np.float32): 0.5, np.dtype(np.float64): 0.01}


def _bose_ratio(tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """``g = x/(e^x - 1)`` and ``u = e^x``, ``x = (ε_c - ε_r)/T``, on a tile.

    ``g = x/(u - 1)`` above :data:`SERIES_BELOW` ``x_s``, where the cancellation costs at
    most ``2 ε e^{x_s}/(e^{x_s} - 1)`` relative (3e-7 in float32 with ``x_s = 0.5``, 4e-14
    in float64 with ``x_s = 0.01``), and ``1 - x/2 + x²/12 - x⁴/720 + x⁶/30240`` below
    (truncation ``x_s⁸/1209600``: 3e-9, resp. 1e-22): one vectorised exp per pair (``x``
    clipped at ±60, which changes only factors below ``e^{-60}``)."""
    dt = tile.dtype
    x = tile.energy_transfer() * dt.type(1.0 / tile.eq.T)
    u = np.clip(x, -60, 60)
    np.exp(u, out=u)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = x / (u - 1)
    x2 = x * x
    series = x2 * dt.type(1 / 30240)
    series -= dt.type(1 / 720)
    series *= x2
    series += dt.type(1 / 12)
    series *= x2
    series += 1
    x *= dt.type(0.5)
    series -= x
    np.copyto(g, series, where=np.abs(x) < dt.type(0.5 * SERIES_BELOW[dt]))
    return g, u


def tile_absorption(tile: Tile) -> np.ndarray:
    """:meth:`Equilibrium.absorption_factor` ``f^0_r (1 - f^0_c) x/(e^x - 1)``,
    ``x = (ε_c - ε_r)/T``, on a tile (:func:`_bose_ratio`)."""
    g, _u = _bose_ratio(tile)
    fr, fc = _fermi_pair(tile)
    g *= fr
    g *= fc
    return g


def tile_elastic(tile: Tile) -> np.ndarray:
    """:meth:`Equilibrium.elastic_flux_factor` ``f^0_r (1 - f^0_c)(1 - e^{-x})/x`` on a tile
    (``= f^0_r (1 - f^0_c)/(g u)`` with :func:`_bose_ratio`)."""
    g, u = _bose_ratio(tile)
    g *= u
    out = np.divide(1, g, out=g)
    fr, fc = _fermi_pair(tile)
    out *= fr
    out *= fc
    return out


@dataclass(frozen=True)
class Impurities(ScatteringModel):
    r"""Static impurities in the Born approximation.

    ``W_{c←r} = 2π n_imp |V(q)|² |⟨u_c|u_r⟩|² δ(ε_c - ε_r)``, ``q = k_c - k_r``
    (Eq. 2a of C. Xiao, Y. Liu, M. Xie, S. A. Yang, Q. Niu, "Theory of phonon side jump
    contribution in anomalous Hall transport", with a static potential: no Pauli blocking in
    the linearised equation), so ``Φ_{rc} = w_r w_c/(2π)^d W_{c←r} F(ε_r, ε_c)`` with the
    symmetric divided difference ``F`` of :meth:`Equilibrium.elastic_flux_factor`.

    Potentials ``V(q)`` (strength s):

    * ``"zero-range"``: ``V = s`` (s in energy × Lᵈ);
    * ``"gaussian"``: ``V = s e^{-q² r_0²/2}``, the transform of a Gaussian well of range
      ``r_0 = range`` and integral s (s in energy × Lᵈ);
    * ``"screened-coulomb"``: ``V = 2π s/(q + q_s)`` in 2D and ``4π s/(q² + q_s²)`` in 3D
      (Thomas–Fermi screening, ``q_s = 1/range``; ``s = Z e²/ε`` in energy × L).

    The out-scattering rate of zero-range impurities is ``1/τ(ε) = 2π n_imp s² ν(ε)
    ⟨|⟨u'|u⟩|²⟩``: ``n_imp s² m`` for a 2D parabolic band and ``n_imp s² ε (1 + Δ²/ε²)/(2v²)``
    for the upper band of a 2D massive Dirac model.

    Parameters
    ----------
    density
        Impurity density ``n_imp`` (L⁻ᵈ).
    potential
        ``"zero-range"``, ``"gaussian"`` or ``"screened-coulomb"``.
    strength
        Potential strength s (see above).
    range
        Range ``r_0`` of the Gaussian, screening length ``1/q_s`` of the Coulomb potential
        (L; required by those two).
    skew_scattering
        Add the antisymmetric rate of the third Born order of identical zero-range impurities
        (non-Gaussian disorder, ``⟨V³⟩ = n s³``: :mod:`boltzphlow.scattering.skew`); needs a
        :class:`~boltzphlow.scattering.Gaussian` δ.  The sign of ``strength`` then matters
        (attractive or repulsive impurities skew the opposite way).
    """

    density: float = parameter(1.0, unit="L^-d", doc="impurity density n_imp", ge=0)
    potential: str = parameter("zero-range", unit="-",
                               doc="V(q): zero-range, gaussian or screened-coulomb")
    strength: float = parameter(1.0, unit="energy*L^d (coulomb: energy*L)",
                                doc="strength s of V(q) (coulomb: Z e^2/epsilon)")
    range: float | None = parameter(None, unit="L", doc="gaussian range r0, or screening "
                                    "length 1/q_s of the screened Coulomb potential", gt=0)
    skew_scattering: bool = parameter(False, unit="-",
                                      doc="third-order Born skew scattering (zero-range only)")
    name = "impurities"
    needs_eigenvectors = True

    @property
    def has_skew(self) -> bool:  # type: ignore[override]
        return bool(self.skew_scattering)

    def __post_init__(self) -> None:
        if self.potential not in IMPURITY_POTENTIALS:
            raise ValueError(f"unknown impurity potential {self.potential!r}: use one of "
                             f"{', '.join(IMPURITY_POTENTIALS)}")
        if not (math.isfinite(self.density) and self.density >= 0):
            raise ValueError(f"impurity density must be finite and >= 0, got {self.density}")
        if self.strength is None or not math.isfinite(self.strength):
            raise ValueError(f"impurity strength must be a finite number, got {self.strength}")
        if self.potential != "zero-range":
            if self.range is None:
                what = "Gaussian range" if self.potential == "gaussian" else "screening length"
                raise ValueError(f"{self.potential} impurities need range (the {what})")
            if not (math.isfinite(self.range) and self.range > 0):
                raise ValueError(f"impurity range must be finite and > 0, got {self.range}")
        if self.skew_scattering and self.potential != "zero-range":
            raise ValueError("skew_scattering is implemented for zero-range impurities only")
        check_parameters(self)

    def potential_sq(self, q: np.ndarray) -> np.ndarray:
        """``|V(q)|²`` for wave vectors ``q`` ``(P, d)``."""
        q = np.asarray(q, float)
        s2 = self.strength ** 2
        if self.potential == "zero-range":
            return np.full(len(q), s2)
        q2 = np.einsum("pi,pi->p", q, q)
        if self.potential == "gaussian":
            return s2 * np.exp(-q2 * self.range ** 2)
        dim, qs = q.shape[1], 1.0 / self.range
        if dim == 2:
            return s2 * (2 * math.pi / (np.sqrt(q2) + qs)) ** 2
        if dim == 3:
            return s2 * (4 * math.pi / (q2 + qs * qs)) ** 2
        raise ValueError("screened-coulomb impurities need a 2D or 3D model, got "
                         f"{dim}D")

    def _elastic_pairs(self, states: KStates, pairs: PairBlock, eq: Equilibrium,
                       delta: DeltaFunction, rate: Callable[[np.ndarray, np.ndarray], np.ndarray]
                       ) -> np.ndarray:
        """``rate(r, c) δ(ε_c - ε_r) F(ε_r, ε_c) w_r w_c/(2π)^d`` of the pairs on the energy
        shell, zero elsewhere: the flux of a static transition of rate density ``rate``
        (evaluated on the shell's pairs only)."""
        e = states.energy

        def mismatch(rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
            return e[cc] - e[rr]

        index, r, c, d = energy_shell(states, pairs, delta, mismatch)
        out = np.zeros(len(pairs))
        if len(index):
            out[index] = (rate(r, c) * d * eq.elastic_flux_factor(e[r], e[c])
                          * pair_measure(states, r, c))
        return out

    def pair_flux(self, states: KStates, pairs: PairBlock, eq: Equilibrium,
                  delta: DeltaFunction) -> np.ndarray:
        def rate(r: np.ndarray, c: np.ndarray) -> np.ndarray:
            v2 = (self.strength ** 2 if self.potential == "zero-range"
                  else self.potential_sq(wave_vector_transfer(states, r, c)))
            return 2 * math.pi * self.density * v2 * state_columns(states).overlap_sq(r, c)

        return self._elastic_pairs(states, pairs, eq, delta, rate)

    def tile_flux(self, tile: Tile, delta: DeltaFunction) -> np.ndarray | None:
        d = delta.tile_weights(tile, tile.energy_transfer())
        if d is None:
            return None
        dt = tile.dtype.type
        s2 = self.strength ** 2
        if self.potential == "gaussian":
            d *= np.exp(tile_transfer_sq(tile) * dt(-self.range ** 2))
        elif self.potential == "screened-coulomb":
            dim, qs = tile.context.states.dim, 1.0 / self.range
            if dim == 2:
                v = tile_transfer_norm(tile) + dt(qs)
                s2 *= (2 * math.pi) ** 2
            elif dim == 3:
                v = tile_transfer_sq(tile) + dt(qs * qs)
                s2 *= (4 * math.pi) ** 2
            else:
                return None
            d /= v
            d /= v
        d *= tile_elastic(tile)
        d *= tile_overlap_sq(tile)
        return scale_by_measure(tile, d, 2 * math.pi * self.density * s2)

    # ------------------------------------------------------------------ skew scattering
    def _projector(self, states: KStates, delta: DeltaFunction, memo=None):
        from boltzphlow.scattering.base import Gaussian
        from boltzphlow.scattering.skew import spectral_projector

        if not isinstance(delta, Gaussian):
            raise ValueError("skew scattering needs a Gaussian delta (delta method 'gaussian')")

        def make():
            return spectral_projector(states, delta.width, delta.n_sigma)

        return make() if memo is None else memo(("skew projector", delta), make)

    def _skew_scale(self) -> float:
        return (2 * math.pi) ** 2 * self.density * self.strength ** 3

    def pair_skew_flux(self, states: KStates, pairs: PairBlock, eq: Equilibrium,
                       delta: DeltaFunction) -> np.ndarray:
        """Antisymmetric flux ``Φ^A_{rc}`` of the pairs (:mod:`boltzphlow.scattering.skew`)."""
        from boltzphlow.scattering.skew import pair_skew_overlap

        if not self.skew_scattering:
            return np.zeros(len(pairs))

        def rate(r: np.ndarray, c: np.ndarray) -> np.ndarray:
            projector = self._projector(states, delta)
            return self._skew_scale() * pair_skew_overlap(states, r, c, projector)

        return self._elastic_pairs(states, pairs, eq, delta, rate)

    def tile_skew_flux(self, tile: Tile, delta: DeltaFunction) -> np.ndarray | None:
        """``Φ^A_{rc}`` on a tile (two bands; None otherwise)."""
        from boltzphlow.scattering.skew import tile_skew_overlap

        if not self.skew_scattering:
            return None
        projector = self._projector(tile.context.states, delta, tile.context.memo)
        loop = tile_skew_overlap(tile, projector)
        if loop is None:
            return None
        d = delta.tile_weights(tile, tile.energy_transfer())
        if d is None:
            return None
        d *= tile_elastic(tile)
        d *= loop
        return scale_by_measure(tile, d, self._skew_scale())

    def describe(self) -> str:
        extra = "" if self.range is None else f", range = {self.range:g}"
        skew = ", skew" if self.skew_scattering else ""
        return (f"impurities ({self.potential}, n = {self.density:g}, V = {self.strength:g}"
                f"{extra}{skew})")


@dataclass(frozen=True)
class ConstantRelaxationTime(ScatteringModel):
    """A constant relaxation time: ``I_coll[δf] = -δf/τ`` (does not conserve particles)."""

    tau: float = parameter(1.0, unit="1/energy", doc="relaxation time τ", gt=0)
    name = "constant τ"
    has_pairs = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tau) and self.tau > 0):
            raise ValueError(f"the relaxation time must be finite and > 0, got {self.tau}")

    def sink(self, states: KStates, eq: Equilibrium) -> np.ndarray:
        return states.weight * eq.pauli_weight(states.energy) / self.tau

    def describe(self) -> str:
        return f"constant τ = {self.tau:g}"
