"""Transport steps in space for QP and phonon occupations: diffusion and ballistic streaming.

Physics from M. Li, *Documentation for BoltzPhlow and BTE approach to QP–phonon transport*:
the streaming terms ``v·∇f`` (QPs, Eq. 31) and ``v_p·∇n`` (phonons, Eq. 38), written in the
conservative form of Eq. 52, ``∂_t f + ∇·(u f) = I{f}``, whose phase-space divergences
(Eqs. 54–56) cancel for a gap ``Δ(x)`` that depends on space; and the spherical ``(r, ε, θ)``
problem at the end of §2.4 (streaming ``v_F cos θ ∂_r f``, boundary conditions after Eq. 181).
Collisions are not here: a model alternates these steps with its 0-D collision step (Strang
splitting).

Both operators act on a density ``w f``: ``f`` an occupation on ``(cells[, angles], energies)``
and ``w ≥ 0`` a per-cell, per-energy state weight (QPs: the bin's states ``N_i(Δ(x))`` per
4N0, µeV; phonons: the mode weights ``P_J``).  Units: lengths µm, times ns, speeds µm/ns,
diffusivities µm²/ns.  The number inside is ``Σ_cells V w f̄`` (``f̄`` the angle average) per
energy bin and :class:`TransportStep` ``outflow`` is in the same units, per wall and energy
bin: multiply by ``E`` and 4N0 for energies.  Inside plus outflow is conserved to round-off.

Finite volumes, two-point fluxes at faces.  A face between two cells of which one has ``w = 0``
(a QP bin below the local gap) carries no flux: diffusing QPs stop there and streaming QPs are
reflected (Andreev reflection).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dpttrf, dpttrs

from boltzphlow.errors import SolverError, check_positive
from boltzphlow.kinetics.superconductor.dos import bin_states
from boltzphlow.kinetics.superconductor.spatial.geometry import Geometry

__all__ = ["Diffusion", "Streaming", "TransportStep", "Wall", "qp_bin_velocity",
           "qp_group_velocity"]

#: Boundary kinds of a wall.
WALL_KINDS = ("reflecting", "absorbing", "escape")
#: TR-BDF2 stage fraction γ = 2 − √2: both implicit stages then share one matrix.
GAMMA = 2.0 - math.sqrt(2.0)
#: Implicit weight of both TR-BDF2 stages, γ/2 = (1 − γ)/(2 − γ) = 1 − 1/√2.
TRBDF2_WEIGHT = 1.0 - 1.0 / math.sqrt(2.0)
#: Factorisations kept per operator (keyed on dt).
CACHE_SIZE = 4


def qp_group_velocity(energy: np.ndarray | float, delta: np.ndarray | float,
                      fermi_velocity: float) -> np.ndarray:
    """QP group velocity ``v = v_F ξ/E = v_F √(1 − Δ²/E²)`` (Eq. 54), 0 at and below the gap.

    Parameters
    ----------
    energy
        QP energies ``E`` (µeV), e.g. the bin centres, shape ``(energies,)``.
    delta
        Gap (µeV): a scalar or per cell, shape ``(cells, 1)``.
    fermi_velocity
        ``v_F`` (µm/ns).

    Returns
    -------
    ndarray
        ``v`` (µm/ns), the broadcast shape of ``energy`` and ``delta``.
    """
    vF = check_positive("fermi_velocity", fermi_velocity, "µm/ns")
    E = np.asarray(energy, dtype=float)
    D = np.asarray(delta, dtype=float)
    ratio = np.divide(D, E, out=np.ones(np.broadcast_shapes(E.shape, D.shape)), where=E > 0)
    return vF * np.sqrt(np.clip(1.0 - ratio * ratio, 0.0, None))


def qp_bin_velocity(edges: np.ndarray, delta: np.ndarray | float,
                    fermi_velocity: float) -> np.ndarray:
    """State-averaged group velocity of each QP bin, ``v̄_i = (1/N_i) ∫_bin ρ v dE``.

    With ``ρ = E/ξ`` (Eq. 34) and ``v = v_F ξ/E`` (Eq. 54), ``ρ v = v_F`` above the gap, so
    ``N_i v̄_i = v_F |bin ∩ (Δ, ∞)|`` whatever ``Δ`` is: the finite-volume form of the
    phase-space conservation of Eqs. 54–56.  Used as the streaming ``speed`` with the weight
    ``N_i(Δ(x))``, the product ``w v`` is exactly the same in every cell where a bin lies above
    the gap, so a uniform ``f(E)`` streams without change.

    Parameters
    ----------
    edges
        QP bin edges (µeV), shape ``(energies + 1,)``.
    delta
        Gap (µeV): a scalar or per cell, shape ``(cells, 1)``.
    fermi_velocity
        ``v_F`` (µm/ns).

    Returns
    -------
    ndarray
        ``v̄`` (µm/ns), shape ``(energies,)`` or ``(cells, energies)``; 0 for bins below the gap.
    """
    vF = check_positive("fermi_velocity", fermi_velocity, "µm/ns")
    e = np.asarray(edges, dtype=float)
    D = np.asarray(delta, dtype=float)
    lo, hi = e[:-1], e[1:]
    states = bin_states(e, D)
    above = np.clip(hi - np.maximum(lo, D), 0.0, None)
    return vF * np.divide(above, states, out=np.zeros_like(states), where=states > 0)


@dataclass(frozen=True)
class Wall:
    """Boundary condition at an open end or surface.

    Parameters
    ----------
    kind
        ``"reflecting"`` (specular, ``μ → −μ``; no diffusive flux), ``"absorbing"`` (no
        incoming flux: everything reaching the wall leaves) or ``"escape"`` (a fraction
        ``transmission`` of what reaches the wall leaves, e.g. into a substrate by acoustic
        mismatch; the rest is reflected specularly).
    transmission
        Escape probability in (0, 1] for ``"escape"``: a scalar or an array broadcastable to
        ``(energies,)`` (diffusion) or ``(angles, energies)`` (streaming, rows in the order of
        :attr:`Streaming.mu`, each used for the directions leaving through this wall).
    """

    kind: str = "reflecting"
    transmission: float | np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in WALL_KINDS:
            raise ValueError(f"boundary: must be one of {', '.join(WALL_KINDS)}, got "
                             f"{self.kind!r}")
        if self.kind == "escape":
            if self.transmission is None:
                raise ValueError("transmission: needed for an 'escape' boundary")
            t = np.asarray(self.transmission, dtype=float)
            if not np.all(np.isfinite(t)) or np.any(t <= 0) or np.any(t > 1):
                raise ValueError("transmission: must lie in (0, 1]")

    def probability(self) -> np.ndarray:
        """Transmission probability (0 reflecting, 1 absorbing), as an array."""
        if self.kind == "reflecting":
            return np.zeros(())
        if self.kind == "absorbing":
            return np.ones(())
        return np.asarray(self.transmission, dtype=float)


def _walls(geometry: Geometry, boundary: object,
           transmission: float | np.ndarray | None) -> tuple[Wall, ...]:
    """One :class:`Wall` per open boundary of ``geometry`` from a string, a :class:`Wall` or
    (slab only) a pair of them, lower end first."""

    def one(spec: object) -> Wall:
        if isinstance(spec, Wall):
            return spec
        if isinstance(spec, str):
            return Wall(spec, transmission if spec == "escape" else None)
        raise ValueError(f"boundary: must be a kind name or a Wall, got {type(spec).__name__}")

    if not isinstance(geometry, Geometry):
        raise ValueError(f"geometry: must be a Slab or a Sphere, got {type(geometry).__name__}")
    if isinstance(boundary, str | Wall):
        return tuple(one(boundary) for _ in geometry.walls)
    if isinstance(boundary, Sequence) and len(boundary) == len(geometry.walls):
        return tuple(one(b) for b in boundary)
    raise ValueError(f"boundary: must be one kind or one per wall {geometry.walls}")


def _field(name: str, value: object, cells: int) -> np.ndarray:
    """A non-negative finite array broadcast against ``(cells, 1)``."""
    a = np.asarray(value, dtype=float)
    if a.ndim > 2 or not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name}: must be finite, ≥ 0 and broadcastable to (cells, energies)")
    try:
        return np.broadcast_to(a, np.broadcast_shapes(a.shape, (cells, 1)))
    except ValueError:
        raise ValueError(f"{name}: shape {a.shape} does not broadcast to ({cells}, energies)"
                         ) from None


def _broadcast_all(cells: int, **fields: object) -> tuple[int, dict[str, np.ndarray]]:
    arrays = {k: _field(k, v, cells) for k, v in fields.items() if v is not None}
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        raise ValueError(f"{', '.join(arrays)}: energy axes do not match") from None
    return shape[1], {k: np.ascontiguousarray(np.broadcast_to(a, shape))
                      for k, a in arrays.items()}


def _check_state(f: object, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(f, dtype=float)
    if a.shape != shape:
        raise ValueError(f"f: must have shape {shape}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("f: must be finite")
    return a


@dataclass(frozen=True)
class TransportStep:
    """Result of one transport step.

    Attributes
    ----------
    f
        Occupation after the step, the shape of the input.
    outflow
        Number that left through each wall during the step, shape ``(walls, energies)``, in
        the units of ``Σ V w f̄`` (multiply by the bin energies and 4N0 for energy).
    substeps
        Explicit sub-steps taken (1 for the implicit diffusion).
    fallback
        Energy bins whose TR-BDF2 result had a negative entry and were blended with
        backward Euler to stay positive (diffusion only; see :class:`Diffusion`).
    inflow
        Number that came in through each escape wall from the outside occupation ``bath``
        during the step, shape ``(walls, energies)`` (zero without a bath).  Inside plus
        ``outflow`` minus ``inflow`` is conserved to round-off.
    """

    f: np.ndarray
    outflow: np.ndarray
    substeps: int = 1
    fallback: int = 0
    inflow: np.ndarray | None = None


def _bath(bath: object, energies: int) -> np.ndarray | None:
    """The outside occupation seen through escape walls, shape ``(energies,)`` (or None)."""
    if bath is None:
        return None
    b = np.asarray(bath, dtype=float)
    if b.ndim > 1 or not np.all(np.isfinite(b)) or np.any(b < 0):
        raise ValueError("bath: must be a finite occupation ≥ 0 per energy")
    try:
        return np.broadcast_to(b, (energies,)).copy()
    except ValueError:
        raise ValueError(f"bath: shape {b.shape} does not broadcast to ({energies},) energies"
                         ) from None


def _escape_coefficient(t: np.ndarray) -> np.ndarray:
    """Marshak escape velocity per unit speed, ``t/(2(2 − t))`` (see :class:`Diffusion`)."""
    return t / (2.0 * (2.0 - t))


class Diffusion:
    """Diffusive transport ``∂_t(w f) = (1/V) ∇·(w D ∇f)`` per energy bin.

    The flux is driven by the gradient of the occupation ``f``, not of the density ``w f``, so
    a uniform ``f`` gives no flux also where ``w`` varies (a thermal state stays put).  It is
    the diffusive limit of the streaming of Eqs. 31/38 of M. Li, *Documentation for BoltzPhlow
    and BTE approach to QP–phonon transport*, in the conservative form of Eq. 52.

    Parameters
    ----------
    geometry
        A :class:`~.geometry.Slab` or :class:`~.geometry.Sphere`.
    weight
        State weight ``w ≥ 0`` per cell and energy, broadcastable to ``(cells, energies)``.
    diffusivity
        ``D ≥ 0`` (µm²/ns), broadcastable to ``(cells, energies)``.
    boundary
        ``"reflecting"`` (zero flux), ``"absorbing"``, ``"escape"`` or a :class:`Wall`; for
        the slab also a pair (``x = 0`` first).
    speed
        Speed ``v`` (µm/ns), broadcastable to ``(cells, energies)``; needed by absorbing and
        escape walls.
    transmission
        Escape probability for walls given as the string ``"escape"`` (broadcastable to
        ``(energies,)``; for an angle-dependent ``t(μ)`` pass its hemispheric average
        ``2∫₀¹ t μ dμ``).
    bath
        Occupation of the outside beyond the ``"escape"`` walls (e.g. the Bose distribution
        of a substrate at ``T_bath``), broadcastable to ``(energies,)``; default none (nothing
        comes back).  Its particles come in with the same transmission (reciprocity): the
        wall flux is ``G (f_cell − f_bath)``, so ``f = f_bath`` everywhere is stationary.

    Notes
    -----
    *Space.*  Cell-centred finite volumes; the face flux is ``A K (f_j − f_i)`` with the
    transmissibility ``K = 1/(d_i/(wD)_i + d_j/(wD)_j)`` (``d`` centre-to-face distances): the
    harmonic mean of ``w D``, zero when either side has ``w D = 0``.  Second order in space.

    *Walls.*  Marshak's condition with a reflection coefficient ``1 − t``: with the half-range
    currents ``J± = w v f/4 ∓ (w D/2) ∂_n f`` (outward ``+``, ``∂_n`` the outward normal
    derivative) and ``J₋ = (1 − t) J₊`` at the wall, the net outflux per area is ``J = κ w
    f_wall`` with ``κ = v t/(2(2 − t))`` (``v/2`` for an absorbing wall: no incoming current;
    ``t v/4`` for small ``t``: the ballistic outflux of an isotropic ``f``).  Eliminating
    ``f_wall`` with the half cell of width ``d``, ``J = w f_cell/(d/D + 1/κ)``: the
    extrapolated boundary of the §2.4 problem at ``r = R`` (extrapolation length
    ``D/κ = 2D/v`` for an absorbing wall).  ``v`` is the wall cell's ``speed``.

    *Time.*  TR-BDF2 with ``γ = 2 − √2`` (L-stable, second order): a trapezoidal stage to
    ``t + γ dt`` and a BDF2 stage, both with the matrix ``M + (1 − 1/√2) dt L`` (``M = V w``),
    symmetric positive definite and tridiagonal: one ``LDLᵀ`` (LAPACK ``pttrf``) of all energy
    bins at once (energy-major blocks; no loop over cells or energies), cached per ``dt``.  Both
    stages conserve ``Σ V w f`` plus the wall outflow exactly; in floating point the solve
    conserves to ``ε dt‖L‖/‖M‖``, so each stage's solution is rescaled per energy bin (by a
    relative amount of that size) to conserve to round-off.

    *Positivity.*  TR-BDF2 is positive when ``dt`` is not too large for the steepest features
    (the trapezoidal right-hand side ``(M − (1 − 1/√2) dt L) f`` stays ≥ 0); no second-order
    linear scheme is positive for every ``dt``.  For every ``dt`` positivity is kept by a
    limiter: in an energy bin whose TR-BDF2 result has a negative entry, the result is blended
    with backward Euler's (an M-matrix: positive, conservative, first order),
    ``θ f_TR + (1 − θ) f_BE`` with the largest ``θ ∈ [0, 1]`` that keeps every entry ≥ 0; the
    blend conserves as both parts do, and stays second order where the undershoot is tiny.
    :attr:`TransportStep.fallback` counts the bins limited.  In the splitting regime (smooth
    ``f``, ``dt`` up to a few ``h²/D``) the limiter is not triggered (tested).
    """

    def __init__(self, geometry: Geometry, weight: object, diffusivity: object,
                 boundary: object = "reflecting", *, speed: object = None,
                 transmission: float | np.ndarray | None = None,
                 bath: object = None) -> None:
        walls = _walls(geometry, boundary, transmission)
        C = geometry.cells
        E, arrays = _broadcast_all(C, weight=weight, diffusivity=diffusivity, speed=speed)
        f_bath = _bath(bath, E)
        if any(w.kind != "reflecting" for w in walls) and speed is None:
            raise ValueError("speed: needed for an absorbing or escape boundary (Marshak "
                             "condition)")
        self.geometry, self.walls, self.n_energies = geometry, walls, E
        self.weight = arrays["weight"]
        wD = self.weight * arrays["diffusivity"]
        self.mass = geometry.volumes[:, None] * self.weight
        self._empty = self.mass <= 0
        x, e = geometry.centres, geometry.edges
        d_lo, d_hi = (e[1:-1] - x[:-1])[:, None], (x[1:] - e[1:-1])[:, None]
        both = (wD[:-1] > 0) & (wD[1:] > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            res = np.where(both, d_lo / np.where(both, wD[:-1], 1.0)
                           + d_hi / np.where(both, wD[1:], 1.0), 1.0)
        self.transmissibility = np.where(both, geometry.areas[1:-1, None] / res, 0.0)
        # wall conductances: (cell index, conductance per energy)
        self._sinks: list[tuple[int, np.ndarray]] = []
        for name, wall in zip(geometry.walls, walls, strict=True):
            cell = 0 if name == "lower" else C - 1
            face = 0 if name == "lower" else C
            t = wall.probability()
            try:
                t = np.broadcast_to(t, (E,))
            except ValueError:
                raise ValueError(f"transmission: shape {t.shape} does not broadcast to "
                                 f"({E},) energies") from None
            if wall.kind == "reflecting":
                G = np.zeros(E)
            else:
                kappa = arrays["speed"][cell] * _escape_coefficient(t)
                w_c, wD_c = self.weight[cell], wD[cell]
                d = abs(e[face] - x[cell])
                ok = (wD_c > 0) & (kappa > 0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    G = np.where(ok, geometry.areas[face]
                                 / np.where(ok, d / np.where(ok, wD_c, 1.0)
                                            + 1.0 / np.where(ok, w_c * kappa, 1.0), 1.0), 0.0)
            self._sinks.append((cell, G))
        # constant inflow rates per wall (escape walls with a bath only)
        self._inflow = np.stack([G * f_bath if (f_bath is not None and w.kind == "escape")
                                 else np.zeros(E) for (_, G), w in zip(self._sinks, walls,
                                                                       strict=True)]
                                ) if walls else np.zeros((0, E))
        self._source = np.zeros((E, C))  # energy-major: the inflow rate into each cell
        for (cell, _), q in zip(self._sinks, self._inflow, strict=True):
            self._source[:, cell] += q
        self._has_source = bool(np.any(self._inflow > 0))
        self._cache: dict[tuple[str, float], tuple[np.ndarray, ...]] = {}
        # energy-major copies: every energy bin is one contiguous block of the solves
        self._m = np.ascontiguousarray(self.mass.T)
        self._K = np.ascontiguousarray(self.transmissibility.T)
        self._void = self._m <= 0
        self._any_void = bool(self._void.any())

    def number(self, f: np.ndarray) -> np.ndarray:
        """Number inside, ``Σ V w f`` per energy bin, shape ``(energies,)``."""
        return np.einsum("ce,ce->e", self.mass, f)

    # internal arrays are energy-major, (energies, cells)
    def _count(self, u: np.ndarray) -> np.ndarray:
        return np.einsum("ec,ec->e", self._m, u)

    def _sink(self, u: np.ndarray) -> np.ndarray:
        if not self._sinks:
            return np.zeros((0, self.n_energies))
        return np.stack([G * u[:, cell] for cell, G in self._sinks])

    def _apply(self, u: np.ndarray) -> np.ndarray:
        """``L u``: net outflow rate per cell, flux form (exactly 0 for uniform u, reflecting)."""
        flux = np.diff(u, axis=1)
        flux *= self._K
        Lu = np.empty_like(u)
        Lu[:, 0] = 0.0
        Lu[:, 1:] = flux
        Lu[:, :-1] -= flux
        for cell, G in self._sinks:
            Lu[:, cell] += G * u[:, cell]
        return Lu

    def _factor(self, kind: str, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """``LDLᵀ`` of the symmetric positive definite tridiagonal ``M + c dt L`` (all energy
        bins in one system of blocks), cached per ``(kind, dt)``."""
        key = (kind, dt)
        if key in self._cache:
            return self._cache[key]
        c = dt * (TRBDF2_WEIGHT if kind == "trbdf2" else 1.0)
        diag = np.zeros_like(self._m)
        diag[:, :-1] += self._K
        diag[:, 1:] += self._K
        for cell, G in self._sinks:
            diag[:, cell] += G
        d = np.where(self._void, 1.0, self._m + c * diag).ravel()
        off = np.zeros_like(self._m)
        off[:, :-1] = -c * self._K
        d, e, info = dpttrf(d, off.ravel()[:-1])
        if info != 0:
            raise SolverError(f"diffusion: tridiagonal factorisation failed (info {info}); "
                              "check weight and diffusivity")
        if len(self._cache) >= CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (d, e)
        return d, e

    def _solve(self, factors: tuple[np.ndarray, np.ndarray], rhs: np.ndarray) -> np.ndarray:
        x, _ = dpttrs(*factors, rhs.ravel())
        return x.reshape(rhs.shape)

    def _conserve(self, x: np.ndarray, target: np.ndarray, c: float) -> np.ndarray:
        """Scale each energy bin of a solution of ``(M + c L) x = b`` so that ``Σ M x + c Σ
        sinks(x)`` equals ``target`` (the exact sum of ``b``): the linear solve conserves only
        to ``ε c‖L‖/‖M‖``, the rescaling (a relative change of that size) to round-off."""
        total = self._count(x) + c * self._sink(x).sum(axis=0)
        scale = np.divide(target, total, out=np.ones_like(total), where=total != 0)
        return x * scale[:, None]

    def step(self, f: np.ndarray, dt: float) -> TransportStep:
        """Advance ``f`` (shape ``(cells, energies)``) by ``dt`` (ns): TR-BDF2, one solve per
        stage for all energies, with the positivity limiter of the class notes."""
        dt = check_positive("dt", dt, "ns")
        u = np.ascontiguousarray(_check_state(f, self.mass.shape).T)
        m = self._m
        factors = self._factor("trbdf2", dt)
        a = TRBDF2_WEIGHT * dt
        c1 = 1.0 / (GAMMA * (2.0 - GAMMA))
        c2 = (1.0 - GAMMA) ** 2 / (GAMMA * (2.0 - GAMMA))
        inside = self._count(u)
        q = self._inflow.sum(axis=0)  # inflow rate per energy (constant in time)
        src = self._has_source
        target = inside - a * self._sink(u).sum(axis=0) + 2 * a * q
        rhs = m * u - a * self._apply(u)
        if src:
            rhs += (2 * a) * self._source
        u_mid = self._conserve(self._solve(factors, rhs), target, a)
        target = c1 * self._count(u_mid) - c2 * inside + a * q
        rhs = m * (c1 * u_mid - c2 * u)
        if src:
            rhs += a * self._source
        u_new = self._conserve(self._solve(factors, rhs), target, a)
        if self._any_void:
            u_new = np.where(self._void, u, u_new)
        outflow = c1 * a * (self._sink(u) + self._sink(u_mid)) + a * self._sink(u_new)
        negative = np.any(u_new < 0, axis=1)
        n_bad = int(np.count_nonzero(negative))
        if n_bad:
            rhs = m * u + dt * self._source if src else m * u
            u_be = self._conserve(self._solve(self._factor("euler", dt), rhs), inside + dt * q,
                                  dt)
            u_be = np.where(self._void, u, u_be)
            sink_be = self._sink(u_be)[:, negative]
            u_be, u_tr = u_be[negative], u_new[negative]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(u_tr < 0, u_be / np.where(u_tr < 0, u_be - u_tr, 1.0), 1.0)
            theta = np.clip(ratio.min(axis=1), 0.0, 1.0)
            u_new[negative] = np.maximum(theta[:, None] * u_tr
                                         + (1 - theta[:, None]) * u_be, 0.0)
            outflow[:, negative] = theta * outflow[:, negative] + (1 - theta) * dt * sink_be
        # the inflow of both stages sums to dt q exactly (2 c1 a + a = dt), also for the blend
        return TransportStep(np.ascontiguousarray(u_new.T), outflow, 1, n_bad,
                             dt * self._inflow)


def _minmod(a: np.ndarray, b: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    """``minmod(a, b)`` into ``out``: the one of smaller magnitude if both have the same sign,
    else 0; as the median of ``(a, 0, b)``, ``min(max(a, min(b, 0)), max(b, 0))``."""
    np.minimum(b, 0.0, out=tmp)
    np.maximum(a, tmp, out=out)
    np.maximum(b, 0.0, out=tmp)
    np.minimum(out, tmp, out=out)


def _view(buffer: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The first ``prod(shape)`` elements of a flat work buffer, as an array of ``shape``."""
    return buffer[: math.prod(shape)].reshape(shape)


class Streaming:
    """Ballistic streaming of a density ``w f`` along a direction cosine ``μ = cos θ``.

    Slab: ``∂_t(w f) + ∂_x(w v μ f) = 0``; sphere: ``∂_t(w f) + (1/r²)∂_r(r² w v μ f) +
    (1/r)∂_μ((1 − μ²) w v f) = 0``, the conservative form (Eq. 52) of ``v cos θ ∂_r f −
    v (sin θ/r) ∂_θ f`` of the spherical problem at the end of §2.4 of M. Li, *Documentation
    for BoltzPhlow and BTE approach to QP–phonon transport*.  No scattering: the isotropic
    collisions act on the angle average :meth:`angle_average`.

    Parameters
    ----------
    geometry
        A :class:`~.geometry.Slab` (``μ`` along ``x``) or :class:`~.geometry.Sphere` (``μ``
        along ``r``).
    n_angles
        Even number of Gauss–Legendre directions ``μ_k`` (weights :attr:`angle_weights`,
        summing to 1, so ``f̄ = Σ_k a_k f_k``).
    weight
        State weight ``w ≥ 0``, broadcastable to ``(cells, energies)``.
    speed
        ``v ≥ 0`` (µm/ns), broadcastable to ``(cells, energies)``: :func:`qp_bin_velocity` for
        QPs, the sound velocity for phonons.
    boundary, transmission
        As for :class:`Diffusion`; ``transmission`` broadcastable to ``(angles, energies)``.
    bath
        Occupation of the outside beyond the ``"escape"`` walls, broadcastable to
        ``(energies,)`` (default none): it comes in isotropically through each escape wall with
        the transmission of the mirrored outgoing direction (reciprocity), so an isotropic
        ``f = f_bath`` is stationary.
    scheme
        ``"muscl"`` (minmod-limited linear reconstruction in ``x``/``r`` and ``μ``, SSP-RK2)
        or ``"upwind"`` (first order, forward Euler).
    cfl
        Fraction (≤ 1) of the positivity limit used for the sub-steps.

    Notes
    -----
    *Faces.*  The flux leaving a cell through a face in direction ``μ_k`` is ``A (w v)_up |μ|
    f_face``.  Of it the part ``G = min((w v)_i, (w v)_j)`` passes to the neighbour and the rest
    is reflected into ``−μ_k`` in the same cell.  For QPs with :func:`qp_bin_velocity`,
    ``w v = v_F |bin ∩ (Δ, ∞)|``: equal on both sides of a face where the bin lies above both
    gaps (a uniform ``f(E)`` stays uniform, the phase-space conservation of Eqs. 54–56), zero in
    a cell where the bin is below the gap (Andreev reflection, nothing enters that cell).  At a
    wall the passing part is the transmission ``t`` (0 reflecting, 1 absorbing).

    *Angles (sphere).*  The ``μ`` cells have edges at the cumulative weights; the angular flux
    from ``μ_k`` to ``μ_{k+1}`` is ``(ΔA_i/2) (w v)_i α_{k+1/2} f_{k+1/2}`` with Morel and
    Montry's coefficients ``α_{k+1/2} = α_{k−1/2} − 2 a_k μ_k``, ``α_{1/2} = α_{K+1/2} = 0``
    (the discrete ``(1 − μ²)/2``): zero at ``μ = ±1``, so the number is conserved exactly, and
    they balance the area difference ``ΔA_i = A_{i+1/2} − A_{i−1/2}`` of a shell, so a uniform
    isotropic ``f`` stays uniform (flat-flux preservation).  ``α ≥ 0``: the flow in ``μ`` is
    always towards ``+1``, upwind is ``k``.

    *Memory.*  Besides the coefficients (≈ 7 arrays of ``cells × angles × energies``), 5 work
    buffers of that size are kept between calls (about 65 MB at 200 × 8 × 1024).

    *Time.*  Forward Euler (upwind) or Heun/SSP-RK2 (MUSCL).  A forward-Euler step is positive
    when no cell sends out more than it holds, ``dt Σ_out ≤ V w a`` with the limited face values
    bounded by ``c f`` (``c = 1 + half-width/neighbour distance``, 1.5 on a uniform grid); the
    sub-step is ``cfl`` times that limit and a call to :meth:`step` takes as many equal
    sub-steps as needed.
    """

    def __init__(self, geometry: Geometry, n_angles: int, weight: object, speed: object,
                 boundary: object = "reflecting", *,
                 transmission: float | np.ndarray | None = None, scheme: str = "muscl",
                 cfl: float = 0.9, bath: object = None) -> None:
        walls = _walls(geometry, boundary, transmission)
        if (isinstance(n_angles, bool) or not isinstance(n_angles, int | np.integer)
                or n_angles < 2 or n_angles % 2):
            raise ValueError(f"n_angles: must be an even integer ≥ 2, got {n_angles!r}")
        if scheme not in ("muscl", "upwind"):
            raise ValueError(f"scheme: must be 'muscl' or 'upwind', got {scheme!r}")
        cfl = check_positive("cfl", cfl)
        if cfl > 1:
            raise ValueError(f"cfl: must be ≤ 1, got {cfl:g}")
        g = geometry
        C, K, h = g.cells, int(n_angles), int(n_angles) // 2
        E, arrays = _broadcast_all(C, weight=weight, speed=speed)
        self.geometry, self.walls, self.scheme, self.n_energies = g, walls, scheme, E
        self.n_angles = K
        mu, wts = np.polynomial.legendre.leggauss(K)
        mu = 0.5 * (mu - mu[::-1])          # exactly antisymmetric
        a = 0.25 * (wts + wts[::-1])        # exactly symmetric, Σ a = 1
        self.mu, self.angle_weights = mu, a
        mu_edges = np.concatenate([[-1.0], -1.0 + np.cumsum(2 * a)])
        mu_edges[-1], mu_edges[h] = 1.0, 0.0
        alpha = np.concatenate([[0.0], -np.cumsum(2 * a * mu)])
        alpha = 0.5 * (alpha + alpha[::-1])
        alpha[0] = alpha[-1] = 0.0
        self.alpha = alpha
        self.weight = arrays["weight"]
        wv = self.weight * arrays["speed"]
        valid = self.weight > 0
        self._valid = valid[:, None, :]
        V = g.volumes
        inv = np.divide(1.0, V[:, None] * self.weight, out=np.zeros((C, E)), where=valid)
        self._invm = inv[:, None, :] / a[None, :, None]
        # transmitted / reflected coefficients: up faces (μ > 0) and low faces (μ < 0)
        G = np.minimum(wv[:-1], wv[1:])                               # (C-1, E)
        pass_up, pass_lo = np.zeros((C, h, E)), np.zeros((C, h, E))
        pass_up[:-1] = G[:, None, :]
        pass_lo[1:] = G[:, None, :]
        for name, wall in zip(g.walls, walls, strict=True):
            try:
                t = np.broadcast_to(wall.probability(), (K, E))
            except ValueError:
                raise ValueError(f"transmission: shape {np.shape(wall.transmission)} does not "
                                 f"broadcast to ({K}, {E}) (angles, energies)") from None
            if name == "lower":
                pass_lo[0] = t[:h] * wv[0]
            else:
                pass_up[-1] = t[h:] * wv[-1]
        refl_up = wv[:, None, :] - pass_up
        refl_lo = wv[:, None, :] - pass_lo
        up = (g.areas[1:, None] * mu[None, h:] * a[None, h:])[:, :, None]
        lo = (g.areas[:-1, None] * -mu[None, :h] * a[None, :h])[:, :, None]
        self._cT_up, self._cR_up = up * pass_up, up * np.clip(refl_up, 0.0, None)
        self._cT_lo, self._cR_lo = lo * pass_lo, lo * np.clip(refl_lo, 0.0, None)
        # the outflow of a (cell, direction) is T + R (negated); reflections only where R > 0
        # constant inflow from the bath through escape walls, into the mirrored directions
        f_bath = _bath(bath, E)
        self._bath_in: list[tuple[int, slice, np.ndarray]] = []
        inflow = np.zeros((len(walls), E))
        for i, (name, wall) in enumerate(zip(g.walls, walls, strict=True)):
            if f_bath is None or wall.kind != "escape":
                continue
            lower = name == "lower"
            rate = ((self._cT_lo[0] if lower else self._cT_up[-1]) * f_bath)[::-1]
            self._bath_in.append((0 if lower else C - 1, slice(h, None) if lower
                                  else slice(None, h), rate))
            inflow[i] = rate.sum(axis=0)
        self._inflow_rate = inflow
        self._nO_up = -(self._cT_up + self._cR_up)
        self._nO_lo = -(self._cT_lo + self._cR_lo)
        self._refl_up = self._span(self._cR_up)
        self._refl_lo = self._span(self._cR_lo)
        self._any_void = not bool(valid.all())
        self._void_mask = (valid[:-2] & valid[2:])[:, None, :].astype(float)
        self._ws: dict[str, np.ndarray] = {}
        dA = np.diff(g.areas)
        self._angular = bool(np.any(dA != 0))
        self._cQ = (0.5 * dA[:, None, None] * alpha[None, 1:-1, None]) * wv[:, None, :]
        # reconstruction geometry and bounds of face values
        x, e = g.centres, g.edges
        self._x_up, self._x_lo = (e[1:] - x)[:, None, None], (x - e[:-1])[:, None, None]
        self._inv_dx = (1.0 / np.diff(x))[:, None, None]
        self._mu_up = (mu_edges[1:-1] - mu[:-1])[None, :, None]
        self._inv_dmu = (1.0 / np.diff(mu))[None, :, None]
        c_up, c_lo, c_mu = np.ones(C), np.ones(C), np.ones(K - 1)
        if scheme == "muscl" and C > 2:
            c_up[1:-1] = 1 + (e[2:-1] - x[1:-1]) / (x[1:-1] - x[:-2])
            c_lo[1:-1] = 1 + (x[1:-1] - e[1:-2]) / (x[2:] - x[1:-1])
        if scheme == "muscl" and K > 2:
            c_mu[1:] = 1 + (mu_edges[2:-1] - mu[1:-1]) / (mu[1:-1] - mu[:-2])
        out = (c_up[:, None, None] * (self._cT_up + self._cR_up),
               c_lo[:, None, None] * (self._cT_lo + self._cR_lo))
        rate = np.concatenate([out[1], out[0]], axis=1)
        if self._angular:
            rate[:, :-1] += c_mu[None, :, None] * self._cQ
        worst = float(np.max(rate * self._invm)) if rate.size else 0.0
        #: Largest sub-step (ns) the positivity limit allows (``inf`` without motion).
        self.max_substep = cfl / worst if worst > 0 else math.inf

    def angle_average(self, f: np.ndarray) -> np.ndarray:
        """``f̄ = Σ_k a_k f_k``, shape ``(cells, energies)``."""
        return np.einsum("cke,k->ce", f, self.angle_weights)

    def isotropic(self, f_bar: np.ndarray) -> np.ndarray:
        """The isotropic occupation ``(cells, angles, energies)`` of ``f̄`` ``(cells,
        energies)``."""
        f_bar = np.asarray(f_bar, dtype=float)
        return np.repeat(f_bar[:, None, :], self.n_angles, axis=1)

    def number(self, f: np.ndarray) -> np.ndarray:
        """Number inside, ``Σ V w f̄`` per energy bin, shape ``(energies,)``."""
        return np.einsum("c,ce,ce->e", self.geometry.volumes, self.weight,
                         self.angle_average(f))

    @staticmethod
    def _span(coefficients: np.ndarray) -> slice | None:
        """The range of cells with a non-zero reflection coefficient (None if none)."""
        cells = np.flatnonzero(coefficients.any(axis=(1, 2)))
        return slice(int(cells[0]), int(cells[-1]) + 1) if cells.size else None

    def _work(self, name: str) -> np.ndarray:
        """A flat work buffer of ``cells × angles × energies`` (allocated once: fresh large
        arrays would cost page faults on every sub-step)."""
        if name not in self._ws:
            self._ws[name] = np.zeros(self.geometry.cells * self.n_angles * self.n_energies)
        return self._ws[name]

    def _faces(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Face values: upper faces in space for ``μ > 0``, lower ones for ``μ < 0``, upper
        faces in ``μ`` (minmod-limited linear reconstruction, or the cell values)."""
        C, K, E = f.shape
        h = K // 2
        if self.scheme == "upwind":
            return f[:, h:], f[:, :h], f[:, :-1]
        s = _view(self._work("slope"), (C, K, E))       # shared with g below
        s[0] = s[-1] = 0.0                               # end cells: first order
        if C > 2:
            d = _view(self._work("diff"), (C - 1, K, E))
            np.subtract(f[1:], f[:-1], out=d)
            d *= self._inv_dx
            _minmod(d[:-1], d[1:], s[1:-1], _view(self._work("tmp"), (C - 2, K, E)))
            if self._any_void:    # no slope across a cell without states
                s[1:-1] *= self._void_mask
        faces = _view(self._work("faces"), (2, C, h, E))
        up, lo = faces[0], faces[1]
        np.multiply(s[:, h:], self._x_up, out=up)
        up += f[:, h:]
        np.multiply(s[:, :h], self._x_lo, out=lo)
        np.subtract(f[:, :h], lo, out=lo)
        if not (self._angular and K > 2):
            return up, lo, f[:, :-1]
        g = _view(self._work("slope"), (C, K - 1, E))   # the spatial slopes are used up
        d = _view(self._work("diff"), (C, K - 1, E))
        np.subtract(f[:, 1:], f[:, :-1], out=d)
        d *= self._inv_dmu
        g[:, 0] = 0.0
        _minmod(d[:, :-1], d[:, 1:], g[:, 1:], _view(self._work("tmp"), (C, K - 2, E)))
        g *= self._mu_up
        g += f[:, :-1]
        return up, lo, g

    def _rate(self, f: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Rate of change of ``V w a f`` per (cell, angle, energy) into ``out``; returns the
        outflow rate per wall."""
        C, K, E = f.shape
        h = K // 2
        up, lo, g = self._faces(f)
        np.multiply(self._nO_up, up, out=out[:, h:])
        np.multiply(self._nO_lo, lo, out=out[:, :h])
        if C > 1:
            T = _view(self._work("flux"), (C - 1, h, E))
            np.multiply(self._cT_up[:-1], up[:-1], out=T)
            out[1:, h:] += T
            np.multiply(self._cT_lo[1:], lo[1:], out=T)
            out[:-1, :h] += T
        for span, cR, face, into in ((self._refl_up, self._cR_up, up, slice(None, h)),
                                     (self._refl_lo, self._cR_lo, lo, slice(h, None))):
            if span is not None:
                n = span.stop - span.start
                R = _view(self._work("flux"), (n, h, E))
                np.multiply(cR[span], face[span], out=R)
                out[span, into] += R[:, ::-1]
        if self._angular:
            Q = _view(self._work("flux"), (C, K - 1, E))
            np.multiply(self._cQ, g, out=Q)
            out[:, :-1] -= Q
            out[:, 1:] += Q
        for cell, into, rate in self._bath_in:
            out[cell, into] += rate
        outs = [np.einsum("ke,ke->e", self._cT_lo[0], lo[0]) if name == "lower"
                else np.einsum("ke,ke->e", self._cT_up[-1], up[-1])
                for name in self.geometry.walls]
        return np.array(outs)

    def step(self, f: np.ndarray, dt: float) -> TransportStep:
        """Advance ``f`` (shape ``(cells, angles, energies)``) by ``dt`` (ns) in equal
        sub-steps within the positivity limit; :attr:`TransportStep.substeps` says how many."""
        dt = check_positive("dt", dt, "ns")
        f = _check_state(f, (self.geometry.cells, self.n_angles, self.n_energies)).copy()
        n = max(1, math.ceil(dt / self.max_substep * (1 - 1e-12)))
        h = dt / n
        step_over_mass = h * self._invm
        outflow = np.zeros((len(self.walls), self.n_energies))
        r0, r1 = np.empty_like(f), np.empty_like(f)
        f1 = np.empty_like(f) if self.scheme == "muscl" else f
        for _ in range(n):
            o0 = self._rate(f, r0)
            r0 *= step_over_mass
            if self.scheme == "upwind":
                f += r0
                outflow += h * o0
                continue
            np.add(f, r0, out=f1)                  # forward Euler to f1
            o1 = self._rate(f1, r1)
            r1 *= step_over_mass
            f1 += r1                               # forward Euler from f1
            f += f1
            f *= 0.5                               # Heun: the mean (SSP-RK2)
            outflow += 0.5 * h * (o0 + o1)
        return TransportStep(f, outflow, n, 0, dt * self._inflow_rate)
