"""The 0-D quasiparticle–phonon model of a BCS superconductor.

Physics from M. Li, *Documentation for BoltzPhlow and BTE approach to QP–phonon transport*
(§1.1, §2.1–2.2; collision integrals Eqs. 33–40, energy bookkeeping Eqs. 6–10), after
Chang & Scalapino and Kaplan et al.

Units: energies µeV, times ns, temperatures K, volumes µm³.  Distributions: QP occupation
``f`` on the bins of an :class:`~boltzphlow.grids.energy.EnergyGrid`, phonon occupation ``n``
on ``ω_J = J h``.  Energies and densities are per unit volume (µeV/µm³, 1/µm³).

Input checks.  Every parameter that cannot give a meaningful run is refused before anything
large is allocated or computed, with a :class:`ParameterError` (a ``ValueError``) whose
``parameter`` names it; memory estimates refuse grids, dense Jacobians and output records
that would not fit (:class:`~boltzphlow.errors.ResourceError`).  The names in messages are the
model's own (``energy_step``) unless a caller maps them to its own keys with
:func:`parameter_names` (the config job says ``grid.energy_step``).

Energy bookkeeping.  Every integrator conserves the linear invariant
``E_qp + E_ph + E_escaped − E_injected − E_gap`` exactly in exact arithmetic (the collisions
conserve ``Σ N_i E_i f_i + Σ P_J ω_J n_J``; escape and injection are integrated into the
accumulated energies; ``E_gap`` collects the QP energy changes of the self-consistent gap
updates).  Its drift is therefore round-off, and a result is flagged
(``attrs["check_failed"]``) when the drift exceeds the accuracy the integrator was asked for,
``rtol · E_scale + atol · Σ|w|`` (``E_scale`` the largest sum of the magnitudes of the terms,
``w`` the invariant's weights), i.e. when round-off, not the tolerance, decides the answer.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import xarray as xr
from scipy import optimize

from boltzphlow import stats
from boltzphlow.errors import InputError, SolverError
from boltzphlow.grids.energy import EnergyGrid, GridError, ceil_sig, floor_sig
from boltzphlow.integrate import SolverStats, get_integrator, integrate, steady_state
from boltzphlow.integrate.base import Counters
from boltzphlow.integrate.linear import BlockOperator
from boltzphlow.kinetics.superconductor import gap as gapmod
from boltzphlow.kinetics.superconductor.collisions import (
    DIRECT_ARRAYS,
    JACOBIAN_MATRICES,
    CollisionOperator,
    Linearization,
    Rates,
    phonon_mode_weights,
)
from boltzphlow.kinetics.superconductor.dos import bin_states, xi_of_energy
from boltzphlow.kinetics.superconductor.eliashberg import Alpha2F, eliashberg, kinetic_weights
from boltzphlow.kinetics.superconductor.materials import Material
from boltzphlow.kinetics.superconductor.materials import material as load_material
from boltzphlow.kinetics.superconductor.parameters import FilmParameters, GridParameters
from boltzphlow.kinetics.superconductor.sources import Injection, PhotonHit, packet_weights
from boltzphlow.resources import check_memory
from boltzphlow.units import K_B

#: Machine epsilon of float64.
EPS = float(np.finfo(float).eps)

#: Default first output time after 0 with log spacing (ns), unless ``t_end/1e4`` is earlier.
DEFAULT_T_FIRST = 0.01
#: Peak working memory of the FFT rates, in float64 arrays of the FFT length (measured 36).
FFT_ARRAYS = 64
#: Dense ``n × n`` arrays the steady-state Newton iteration holds besides the Jacobian.
STEADY_MATRICES = 2
#: Largest steady-state system (QP bins + phonon energies) solved with the dense Jacobian;
#: above it Newton–Krylov is the faster (measured on one core: dense 0.11 s against 0.18 s at
#: 218 unknowns, equal near 260, Krylov 2.3× faster at 427 and 60× at 3420).
STEADY_DENSE_MAX = 250
#: Length-N float arrays (N = QP bins + phonon energies) the Newton–Krylov steady state holds
#: at its peak: GMRES basis, the state's spectra, a product's transforms (measured 141 at
#: 16384 QP bins with tracemalloc).
KRYLOV_VECTORS = 160

_NAMES: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "superconductor_parameter_names", default=None)


@contextmanager
def parameter_names(names: Mapping[str, str]) -> Iterator[None]:
    """Within the block, messages name the model's parameters by ``names`` (e.g.
    ``{"energy_step": "grid.energy_step"}``) and :class:`ParameterError` carries them."""
    token = _NAMES.set(dict(names))
    try:
        yield
    finally:
        _NAMES.reset(token)


def _p(name: str) -> str:
    """The display name of model parameter ``name`` (see :func:`parameter_names`)."""
    return (_NAMES.get() or {}).get(name, name)


class ParameterError(ValueError):
    """A model parameter that cannot give a meaningful run.

    ``parameter`` is its name (mapped by :func:`parameter_names`), ``reason`` says why and
    what would work; ``str()`` is ``"<parameter>: <reason>"``, one line.
    """

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = _p(parameter)
        self.reason = " ".join(reason.split())
        super().__init__(f"{self.parameter}: {self.reason}")


def _finite(value: Any) -> bool:
    """A real, finite number (not a bool)."""
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool | np.bool_) and math.isfinite(value))


@dataclass
class State:
    """Distributions on a model's grids: ``f`` on ``m.E`` and ``n`` on ``m.omega``.

    ``delta`` is the gap the state belongs to (µeV); ``None`` means the model's initial gap.
    """

    f: np.ndarray
    n: np.ndarray
    delta: float | None = None

    def __post_init__(self) -> None:
        self.f = np.asarray(self.f, dtype=float)
        self.n = np.asarray(self.n, dtype=float)


@dataclass
class _Problem:
    """The ODE the integrators see; holds the current gap (solver state).

    ``y = (f, n, e_out, e_in)``: the two last components accumulate the energy (per 4N0)
    carried to the bath by escaping phonons and received from it, so that the escaped energy
    is integrated with the same accuracy as the distributions (both rates are ≥ 0).
    ``gap_work`` accumulates the QP energy (per 4N0, bin-centre energies) gained at the
    self-consistent gap updates: the energy exchanged with the condensate.  The rates do not
    depend on time (``autonomous``); ``t`` is taken for the integrators' contract.
    """

    autonomous = True
    model: QPPhononModel
    delta: float
    op: CollisionOperator = field(init=False)
    gap_updates: int = 0
    gap_work: float = 0.0

    def __post_init__(self) -> None:
        m = self.model
        self.op = m.collision_operator(self.delta)
        self.nq, self.nph = m.grid.n_qp, m.grid.n_phonon
        self.n_bath = stats.bose(m.omega, K_B * m.T_bath)
        self.inv_tau = 0.0 if m.escape_time is None else 1.0 / m.escape_time
        self.source = m.injection_rate(self.op.N)
        self.escape_weight = self.op.P * m.omega * self.inv_tau  # (P_J ω_J / τ_esc)
        self.bath_inflow = float(self.escape_weight @ self.n_bath)

    def split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y[:self.nq], y[self.nq:self.nq + self.nph]

    def _assemble(self, r: Rates, n: np.ndarray) -> np.ndarray:
        return np.concatenate([r.f + self.source, r.n - self.inv_tau * (n - self.n_bath),
                               [float(self.escape_weight @ n), self.bath_inflow]])

    def rhs_and_loss(self, t: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``d(f, n, e_out, e_in)/dt`` and the loss frequencies of each component."""
        f, n = self.split(y)
        r = self.op.rates(f, n, terms=True)
        return self._assemble(r, n), np.concatenate([r.loss_f, r.loss_n + self.inv_tau,
                                                     [0.0, 0.0]])

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """``d(f, n, e_out, e_in)/dt``."""
        f, n = self.split(y)
        return self._assemble(self.op.rates(f, n, terms=False), n)

    def jacobian(self, t: float, y: np.ndarray) -> np.ndarray:
        """Dense ``∂(dy/dt)/∂y``."""
        f, n = self.split(y)
        jac = self.op.jacobian(f, n, extra=y.size - self.nq - self.nph)
        k = self.nq + self.nph
        if self.inv_tau:
            idx = np.arange(self.nq, k)
            jac[idx, idx] -= self.inv_tau
            jac[k, self.nq:k] = self.escape_weight
        return jac

    def linearization(self, y: np.ndarray) -> Linearization:
        """The collision rates' Jacobian at ``y``, matrix-free (kept for the last state)."""
        f, n = self.split(y)
        cached = getattr(self, "_linearized", None)
        if (cached is None or cached[0] is not self.op or not np.array_equal(cached[1], f)
                or not np.array_equal(cached[2], n)):
            cached = (self.op, f.copy(), n.copy(), self.op.linearize(f, n))
            self._linearized = cached
        return cached[3]

    def jacobian_operator(self, t: float, y: np.ndarray) -> BlockOperator:
        """Matrix-free ``∂(dy/dt)/∂y``, exact (:meth:`CollisionOperator.linearize`): O(N log N)
        per product and O(N) memory, where the dense Jacobian takes O(N²) of both.  Split
        into the QP part and the rest (phonons, whose block is diagonal, and the two energy
        accumulators), each block column applicable alone."""
        lin = self.linearization(y)
        nq, nph = self.nq, self.nph

        def apply(top: np.ndarray | None, bottom: np.ndarray | None, want_top: bool,
                  want_bottom: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
            dn = None if bottom is None else bottom[:nph]
            d_f, d_n = lin.apply(top, dn, want_top, want_bottom)
            if want_bottom:
                esc = 0.0
                if dn is not None:
                    d_n = d_n - self.inv_tau * dn
                    esc = float(self.escape_weight @ dn)
                d_n = np.concatenate([d_n, [esc, 0.0]])
            return d_f, d_n

        return BlockOperator(y.size, nq, apply)

    def jacobian_diagonal(self, t: float, y: np.ndarray) -> np.ndarray:
        """The diagonal of ``∂(dy/dt)/∂y`` (exact, O(N log N))."""
        d_f, d_n = self.linearization(y).diagonal()
        return np.concatenate([d_f, d_n - self.inv_tau, [0.0, 0.0]])

    def energy_weights(self) -> np.ndarray:
        """Weights ``w`` of the conserved energy ``wᵀy`` (per 4N0) at the current gap."""
        m = self.model
        return np.concatenate([self.op.N * m.E, self.op.P * m.omega, [1.0, -1.0]])

    def after_step(self, t: float, y: np.ndarray) -> np.ndarray:
        """Self-consistent gap: re-solve the gap equation and carry f(ξ) to the new bins
        (after every accepted step of every scheme); ``y`` itself for a fixed gap."""
        if self.model.gap_mode != "self-consistent":
            return y
        f = y[:self.nq]
        new_delta, f_new = self.model.update_gap(self.delta, f)
        if new_delta != self.delta:
            before = self.op.qp_energy(f)
            self.delta = new_delta
            self.op = self.model.collision_operator(new_delta)
            self.source = self.model.injection_rate(self.op.N)
            self.gap_updates += 1
            self.gap_work += self.op.qp_energy(f_new) - before
        out = y.copy()
        out[:self.nq] = f_new
        return out


class QPPhononModel:
    """Coupled QP and phonon kinetics of a BCS superconductor (Li, Eqs. 33–40).

    Parameters
    ----------
    material
        A :class:`Material`, a built-in name (``"Al"``) or the path of a material file.
    T_bath
        Bath temperature (K): the phonon escape target and the default initial state.
    energy_step
        Largest acceptable energy step (µeV); the step used divides 2Δ exactly.
    E_max
        Upper end of the QP energy range (µeV); phonons reach ``omega_max`` (default E_max).
    gap
        ``"fixed"`` (Δ = ``delta``, default BCS Δ(T_bath)) or ``"self-consistent"`` (the
        nonequilibrium gap equation re-solved after every step).
    delta
        Fixed gap (µeV); default the BCS gap at ``T_bath``.
    escape_time
        Phonon escape time to the bath (ns); ``None`` for a closed system.
    omega_max
        Largest phonon energy (µeV); at least the pair energy ``2Δ + h`` of the lowest bins.
    dynes
        Dynes broadening Γ of the DOS (µeV), fixed gap only.
    renormalisation
        ``"none"`` (BCS) or ``"eliashberg"``: the real-frequency Eliashberg solution at
        ``T_bath`` (:func:`.eliashberg.eliashberg`) renormalises the kinetics (Li, Eqs. 170 and
        177–179): ``∂_t f`` is weighted by ``ρ (Z₁ + ε Z₁') − ϕ φ₁'`` and the coherence factors
        are ``ρρ' ∓ ϕϕ'`` with the generalised ρ, ϕ of Eqs. 166–167.  The gap is fixed at the
        Eliashberg gap edge.  See *Notes*.
    alpha2F
        α²F for the Eliashberg option: an :class:`~.eliashberg.Alpha2F`, a shipped name or a
        file path (default the material's shipped α²F).
    eliashberg_result
        A precomputed :func:`.eliashberg.eliashberg` result at ``T_bath`` to use instead of
        solving the Eliashberg equations here (Al needs 32768 frequencies, ~25 s).
    photon
        Optional :class:`PhotonHit` included by :meth:`initial_state`.
    injection
        Optional continuous :class:`Injection`.

    Raises
    ------
    ParameterError
        For a parameter that cannot give a meaningful run (the message names it and says
        what would work): ``T_bath`` at or above Tc with a fixed BCS gap, an ``energy_step``
        too coarse for the gap, a source packet outside the grid or below the gap...
    ResourceError
        When the grid's working memory would not fit (``energy_step``, ``E_max``,
        ``omega_max``).
    InputError
        For a material file that cannot be used.

    Notes
    -----
    With ``renormalisation="eliashberg"`` the material's ``τ0`` and ``N0`` keep their meaning:
    Kaplan et al.'s ``τ0 = Z₁(0) ħ/(2π b (k_BTc)³)`` contains the normal-state renormalisation
    ``Z₁(0) = 1 + λ``, and ``N0`` from the Sommerfeld coefficient is the dressed DOS
    ``N_band (1 + λ)``.  The states per bin (the weight of ``∂_t f``, of the QP number and of
    the QP energy) are therefore ``∫_bin [ρ (Z₁ + ε Z₁') − ϕ φ₁'] dε / (1 + λ)``, and the
    collision kernel ``ω²/(τ0 (k_BTc)³)`` is unchanged.  Where ``Z`` and ``Δ = φ/Z`` do not
    depend on energy (weak coupling, ``λ → 0`` at fixed Tc) the weight is the BCS ``∫ρ``
    and the model is the BCS one.  Where the weight turns negative (above ``Δ + Ω`` of the
    main α²F peak at strong coupling, where ``Z₁`` falls steeply and quasiparticles are not
    well defined) Eq. 170 does not give a kinetic equation: the model refuses ``E_max``
    reaching there.
    """

    def __init__(self, material: Material | str, T_bath: float,
                 energy_step: float = GridParameters.energy_step,
                 E_max: float = GridParameters.E_max, *,
                 gap: Literal["fixed", "self-consistent"] = FilmParameters.gap,
                 delta: float | None = None, escape_time: float | None = None,
                 omega_max: float | None = None, dynes: float = FilmParameters.dynes,
                 renormalisation: Literal["none", "eliashberg"] = FilmParameters.renormalisation,
                 alpha2F: Alpha2F | str | None = FilmParameters.alpha2F,
                 eliashberg_result: xr.Dataset | None = None,
                 photon: PhotonHit | None = None, injection: Injection | None = None) -> None:
        if isinstance(material, Material):
            mat = material
        elif isinstance(material, str):
            try:
                mat = load_material(material)
            except InputError:
                raise
            except ValueError as exc:
                raise ParameterError("material", str(exc)) from None
        else:
            raise ParameterError("material", "must be a Material, the name of a built-in one "
                                             "or the path of a .toml file")
        if not _finite(T_bath) or T_bath < 0:
            raise ParameterError("T_bath", f"must be a temperature ≥ 0 K, got {T_bath}")
        if gap not in ("fixed", "self-consistent"):
            raise ParameterError("gap", f"must be 'fixed' or 'self-consistent', got {gap!r}")
        if escape_time is not None and not (_finite(escape_time) and escape_time > 0):
            raise ParameterError("escape_time", f"must be a positive time (ns) or None, got "
                                                f"{escape_time}")
        if not (_finite(dynes) and dynes >= 0):
            raise ParameterError("dynes", f"Dynes broadening must be ≥ 0 µeV, got {dynes}")
        if dynes > 0 and gap != "fixed":
            raise ParameterError("dynes", "Dynes broadening is supported with a fixed gap only")
        if renormalisation not in ("none", "eliashberg"):
            raise ParameterError("renormalisation", f"must be 'none' or 'eliashberg', got "
                                                    f"{renormalisation!r}")
        self.material = mat
        self.T_bath = float(T_bath)
        self.gap_mode = gap
        self.escape_time = None if escape_time is None else float(escape_time)
        self.dynes = float(dynes)
        if renormalisation == "none" and (alpha2F is not None or eliashberg_result is not None):
            raise ParameterError("alpha2F" if alpha2F is not None else "eliashberg_result",
                                 "is used only with renormalisation = 'eliashberg'")
        self.renormalisation = renormalisation
        self.eliashberg: xr.Dataset | None = None
        self._renormalised: np.ndarray | None = None
        if renormalisation == "eliashberg":
            delta = self._solve_eliashberg(gap, delta, alpha2F, eliashberg_result)
        if delta is None:
            if gap == "fixed" and T_bath >= mat.Tc:
                raise ParameterError("T_bath", f"{T_bath:g} K is not below Tc = {mat.Tc:g} K of "
                                               f"{mat.name}: a fixed BCS gap needs a "
                                               f"superconductor (lower {_p('T_bath')} or give "
                                               f"{_p('delta')})")
            delta = gapmod.bcs_gap(T_bath, mat.delta0, mat.debye_energy)
            if delta <= 0:
                tc = gapmod.bcs_critical_temperature(mat.delta0, mat.debye_energy)
                raise ParameterError("T_bath", f"{T_bath:g} K is not below the BCS Tc = "
                                               f"{floor_sig(tc):g} K of {mat.name} (Δ0 = "
                                               f"{mat.delta0:g} µeV): the gap vanishes")
        elif not (_finite(delta) and delta > 0):
            raise ParameterError("delta", f"the gap must be positive (µeV), got {delta}")
        self.delta = float(delta)
        if not (_finite(energy_step) and energy_step > 0):
            raise ParameterError("energy_step", f"must be positive (µeV), got {energy_step}")
        if not (_finite(E_max) and E_max > 0):
            raise ParameterError("E_max", f"must be positive (µeV), got {E_max}")
        if omega_max is not None and not (_finite(omega_max) and omega_max > 0):
            raise ParameterError("omega_max", f"must be positive (µeV), got {omega_max}")
        e_min = 0.8 * self.delta if gap == "self-consistent" else (
            0.5 * self.delta if dynes > 0 else None)
        names = {"step": "energy_step", "e_max": "E_max", "omega_max": "omega_max",
                 "delta": "delta"}
        try:
            probe = EnergyGrid.for_gap(self.delta, energy_step, 4 * self.delta, None, e_min)
            pair = probe.pair_offset * probe.step  # E_0 + E_0: the lowest recombination phonon
            two_bins = (probe.first + 1.5) * probe.step
            w_max = E_max if omega_max is None else omega_max
            if E_max < two_bins or (omega_max is None and E_max < pair):
                least = max(two_bins, pair if omega_max is None else 0.0)
                raise GridError("e_max", f"{E_max:g} µeV leaves no room above the gap Δ = "
                                         f"{self.delta:.5g} µeV"
                                         f"{'' if E_max < two_bins else ' for pair phonons'}: "
                                         f"use at least {ceil_sig(least):g} µeV")
            if omega_max is not None and omega_max > E_max + self.delta:
                raise GridError("omega_max", f"{omega_max:g} µeV is above E_max + Δ = "
                                             f"{E_max + self.delta:.6g} µeV: a phonon above it "
                                             f"would break pairs into only part of its channels "
                                             f"(QPs above E_max are not on the grid); use at "
                                             f"most {floor_sig(E_max + self.delta):g} µeV or "
                                             f"raise E_max to {ceil_sig(omega_max - self.delta):g}"
                                             f" µeV")
            if w_max < pair:
                raise GridError("omega_max", f"{w_max:g} µeV is below the energy {pair:.6g} µeV "
                                             f"of two QPs at the gap edge: no phonon could take "
                                             f"up a recombination or break a pair; use at least "
                                             f"{ceil_sig(pair):g} µeV")
            self.grid = EnergyGrid.for_gap(self.delta, energy_step, E_max, omega_max, e_min)
        except GridError as exc:
            raise ParameterError(names.get(exc.parameter, exc.parameter), exc.reason) from None
        g = self.grid
        if self.eliashberg is not None:
            self._renormalised = self._renormalised_bins()
        check_memory(8.0 * FFT_ARRAYS * (2 * g.n_qp + g.n_phonon + 2),
                     f"the collision rates on {g.n_qp} QP bins and {g.n_phonon} phonon energies",
                     [_p("energy_step"), _p("E_max")]
                     + ([_p("omega_max")] if omega_max is not None else []))
        self.photon = photon
        self.injection = injection
        for name, src in (("photon", photon), ("injection", injection)):
            if src is not None:
                self._check_source(name, src)
        if photon is not None:
            self.photon_deposit(self.thermal(self.T_bath), photon)  # raises if f would pass 1

    def _solve_eliashberg(self, gap: str, delta: float | None, alpha2F: Alpha2F | str | None,
                          result: xr.Dataset | None) -> float:
        """Solve (or take) the Eliashberg equations at ``T_bath``; return the gap edge (µeV)."""
        for name, bad, why in (("gap", gap != "fixed", "a fixed gap (the Eliashberg gap edge)"),
                               ("delta", delta is not None, "the Eliashberg gap edge as the "
                                                            "gap: leave delta unset"),
                               ("dynes", self.dynes > 0, "no Dynes broadening (Z and φ have "
                                                         "their own imaginary parts)")):
            if bad:
                raise ParameterError(name, f"renormalisation = 'eliashberg' needs {why}")
        if result is None:
            try:
                result = eliashberg(self.material, alpha2F=alpha2F, T=self.T_bath,
                                    compute_tc=False)
            except (ValueError, OSError) as exc:
                raise ParameterError("alpha2F", str(exc)) from None
        elif not math.isclose(float(result.attrs.get("T", math.nan)), self.T_bath,
                              rel_tol=1e-9, abs_tol=1e-12):
            raise ParameterError("eliashberg_result", f"solved at T = {result.attrs.get('T')} "
                                                      f"K, not at T_bath = {self.T_bath:g} K")
        edge = float(result.attrs["delta0"])
        if not edge > 0:
            raise ParameterError("T_bath", f"{self.T_bath:g} K is above the Eliashberg Tc of "
                                           f"{self.material.name} with α²F "
                                           f"{result.attrs.get('alpha2F')}: no gap")
        self.eliashberg = result
        return edge

    def _renormalised_bins(self) -> np.ndarray:
        """``(∫ρ, ∫ϕ, states)`` per bin for the Eliashberg option (class *Notes*)."""
        el, g = self.eliashberg, self.grid
        try:
            weights = kinetic_weights(el, g.edges)
        except ValueError as exc:
            raise ParameterError("E_max", str(exc)) from None
        weights[2] /= 1.0 + float(el.attrs["lam"])
        bad = np.nonzero(weights[2] <= 0)[0]
        if bad.size:
            top = float(g.edges[bad[0]])
            raise ParameterError("E_max", f"the renormalised weight of ∂f/∂t, ρ(Z₁ + εZ₁') − "
                                          f"ϕφ₁', is ≤ 0 from {top:.6g} µeV on (quasiparticles "
                                          f"are not well defined there): use E_max ≤ "
                                          f"{floor_sig(top - g.step):g} µeV")
        return weights

    def _check_source(self, name: str, src: PhotonHit | Injection) -> None:
        """Refuse a source packet below the gap, beyond the grid or between its bins."""
        top = src.epsilon0 + 3 * src.width
        if src.epsilon0 < self.delta:
            raise ParameterError(f"{name}.epsilon0", f"{src.epsilon0:g} µeV is below the gap "
                                                     f"Δ = {self.delta:.5g} µeV: no QP states")
        if top > self.grid.e_max:
            raise ParameterError(f"{name}.epsilon0", f"the packet at {src.epsilon0:g} ± "
                                                     f"{src.width:g} µeV (three widths) reaches "
                                                     f"above {_p('E_max')} = "
                                                     f"{self.grid.e_max:.6g} µeV: raise "
                                                     f"{_p('E_max')} to at least "
                                                     f"{ceil_sig(top + self.grid.step):g} µeV")
        try:
            packet_weights(self.E, self.states(), src.epsilon0, src.width)
        except ValueError:
            raise ParameterError(f"{name}.width", f"{src.width:g} µeV is too narrow for the "
                                                  f"energy step {self.grid.step:.4g} µeV: the "
                                                  f"packet holds no bin; use at least "
                                                  f"{ceil_sig(self.grid.step):g} µeV") from None

    # ------------------------------------------------------------------ grids and basics
    @property
    def E(self) -> np.ndarray:
        """QP bin centres (µeV)."""
        return self.grid.energies

    @property
    def omega(self) -> np.ndarray:
        """Phonon energies (µeV)."""
        return self.grid.omega

    @property
    def N0(self) -> float:
        """Single-spin DOS at E_F, 1/(µeV µm³); ``4 N0`` converts per-4N0 sums to per volume."""
        return self.material.N0

    def collision_operator(self, delta: float | None = None) -> CollisionOperator:
        """The :class:`CollisionOperator` at gap ``delta`` (default the model's)."""
        d = self.delta if delta is None else float(delta)
        mat = self.material
        r = self._renormalised
        return CollisionOperator(self.grid, d, mat.tau0, mat.tau_pb, mat.kTc, mat.delta0,
                                 dynes=self.dynes, states=None if r is None else r[2],
                                 spectral=None if r is None else r[:2])

    @property
    def phonon_weights(self) -> np.ndarray:
        """Phonon modes per ``4 N0`` on each ``ω_J`` (µeV), independent of the gap."""
        mat = self.material
        return phonon_mode_weights(self.grid, mat.tau0, mat.tau_pb, mat.kTc, mat.delta0)

    def states(self, delta: float | None = None) -> np.ndarray:
        """States per bin ``N_i`` (µeV; times 4N0 per volume) at gap ``delta``: the weight of
        ``∂_t f_i``, of the QP number and energy (renormalised with the Eliashberg option)."""
        d = self.delta if delta is None else float(delta)
        if self._renormalised is not None:
            return self._renormalised[2].copy()
        return bin_states(self.grid.edges, d, self.dynes)

    def injection_rate(self, states: np.ndarray) -> np.ndarray:
        """``∂_t f`` of the continuous injection (1/ns) on bins with ``states``."""
        if self.injection is None or self.injection.power == 0:
            return np.zeros(self.grid.n_qp)
        inj = self.injection
        w = packet_weights(self.E, states, inj.epsilon0, inj.width)
        qp_rate = inj.power / (4 * self.N0) / float(w @ self.E)  # QPs per ns per 4N0 volume
        return np.divide(qp_rate * w, states, out=np.zeros_like(w), where=states > 0)

    # ------------------------------------------------------------------ states
    def thermal(self, T: float) -> State:
        """Thermal state at temperature ``T`` (K), with the matching BCS gap Δ(T).

        With a fixed gap the state lives at the model's gap (the collision integrals of any
        gap vanish on Fermi/Bose distributions on this grid); with a self-consistent gap its
        ``delta`` is the BCS Δ(T).
        """
        if not (np.isfinite(T) and T >= 0):
            raise ValueError(f"temperature must be ≥ 0 K, got {T}")
        delta = self.delta
        if self.gap_mode == "self-consistent":
            delta = gapmod.bcs_gap(T, self.material.delta0, self.material.debye_energy)
            if delta <= 0:
                raise ValueError(f"T = {T} K is above the BCS Tc: no superconducting state")
        return State(f=stats.fermi(self.E, 0.0, K_B * T), n=stats.bose(self.omega, K_B * T),
                     delta=delta)

    def photon_deposit(self, state: State, photon: PhotonHit) -> State:
        """``state`` plus the QPs of an absorbed photon (energy exact on the grid)."""
        N = self.states(state.delta)
        w = packet_weights(self.E, N, photon.epsilon0, photon.width)
        energy = photon.energy / photon.volume / (4 * self.N0)  # µeV² per 4N0
        qps = energy / float(w @ self.E)
        df = np.divide(qps * w, N, out=np.zeros_like(w), where=N > 0)
        f = state.f + df
        if np.any(f > 1):
            raise ParameterError("photon.energy", f"{photon.energy:g} µeV in {photon.volume:g} "
                                                  f"µm³ is too much: the QP occupation of the "
                                                  f"packet would exceed 1 (raise {_p('volume')} "
                                                  f"or {_p('photon.width')})")
        return State(f=f, n=state.n.copy(), delta=state.delta)

    def initial_state(self, T: float | None = None) -> State:
        """Thermal state at ``T`` (default ``T_bath``) plus the model's photon, if any."""
        s = self.thermal(self.T_bath if T is None else T)
        return self.photon_deposit(s, self.photon) if self.photon else s

    def _check_state(self, s: State) -> None:
        if s.f.shape != (self.grid.n_qp,) or s.n.shape != (self.grid.n_phonon,):
            raise ValueError(f"state shapes {s.f.shape}, {s.n.shape} do not match the grids "
                             f"({self.grid.n_qp},), ({self.grid.n_phonon},)")
        if np.any(~np.isfinite(s.f)) or np.any(~np.isfinite(s.n)):
            raise ValueError("state contains non-finite values")

    def _delta_of(self, s: State) -> float:
        return self.delta if (s.delta is None or self.gap_mode == "fixed") else float(s.delta)

    # ------------------------------------------------------------------ physics
    def rates(self, s: State, method: Literal["fft", "direct"] = "fft") -> Rates:
        """Collision rates (1/ns) of state ``s``: FFT (default) or direct quadrature."""
        self._check_state(s)
        if method not in ("fft", "direct"):
            raise ValueError(f"method must be 'fft' or 'direct', got {method!r}")
        nq, M = self.grid.n_qp, self.grid.n_phonon
        if method == "direct":  # before building anything
            check_memory(8.0 * DIRECT_ARRAYS * nq * (nq + M), f"the direct quadrature ({nq} QP "
                         f"bins, {M} phonon energies: O(N²) transition lists)",
                         [_p("energy_step"), _p("E_max")])
        op = self.collision_operator(self._delta_of(s))
        return op.rates(s.f, s.n) if method == "fft" else op.rates_direct(s.f, s.n)

    def energy(self, s: State) -> tuple[float, float]:
        """QP energy (Eq. 9) and phonon energy (Eq. 10) per volume, both in µeV/µm³."""
        qp = float(self.states(self._delta_of(s)) @ (self.E * s.f))
        return 4 * self.N0 * qp, 4 * self.N0 * float(self.phonon_weights @ (self.omega * s.n))

    def qp_density(self, s: State) -> float:
        """QP density (1/µm³), both spins and branches."""
        return 4 * self.N0 * float(self.states(self._delta_of(s)) @ s.f)

    def electron_energy(self, s: State) -> float:
        """Mean-field electronic energy U relative to the normal ground state (µeV/µm³).

        ``U = E_qp + C(Δ)`` (:mod:`.gap`) for Δ the self-consistent gap of ``f``, with the QP
        energy of the states each bin holds, ``E_qp = 4 N0 Σ_i f_i ∫_bin E dξ``: its change at
        fixed ``f(ξ)`` is exactly the gap-equation integral, which ``C'(Δ)`` cancels.  (The
        collisions conserve the same sum with the bin-centre energies; the two differ by
        O(h²/E) per bin, O(h) in the bins at the gap edge.)
        """
        d = self._delta_of(s)
        xi = xi_of_energy(self.grid.edges, d)
        per_bin = gapmod.bin_xi_integrals(xi[:-1], xi[1:], d)["e"]
        c = gapmod.condensate_energy(d, self.material.delta0, self.material.debye_energy)
        return 4 * self.N0 * (c + float(per_bin @ s.f))

    def update_gap(self, delta: float, f: np.ndarray) -> tuple[float, np.ndarray]:
        """Self-consistent gap for ``f`` (bins at gap ``delta``) and ``f`` carried to its bins.

        The occupation is attached to the normal-state energy ξ (a state keeps its momentum
        when Δ changes), so the QPs of each old ξ-interval are carried to the bins of a trial
        gap by overlap (QP number conserved exactly), and the gap equation (G) is solved for
        that carried occupation on those bins: the result is self-consistent on the grid, so
        a second update without collisions changes nothing.
        """
        mat = self.material
        edges = self.grid.edges
        xi_old = xi_of_energy(edges, delta)
        cum = np.concatenate([[0.0], np.cumsum(np.diff(xi_old) * f)])

        def carried(d: float) -> tuple[np.ndarray, np.ndarray]:
            xi = xi_of_energy(edges, d)
            counts = np.diff(np.interp(xi, xi_old, cum))
            width = np.diff(xi)
            return np.divide(counts, width, out=np.zeros_like(f), where=width > 0), xi

        def integral(d: float) -> float:
            fd, xi = carried(d)
            return float(fd @ (np.arcsinh(xi[1:] / d) - np.arcsinh(xi[:-1] / d)))

        new = gapmod.solve_gap(integral, mat.delta0, mat.debye_energy, delta)
        if new == delta:
            return delta, f
        return new, carried(new)[0]

    def effective_temperatures(self, s: State) -> tuple[float, float]:
        """QP temperature (thermal QP density equal to this one) and phonon temperature
        (thermal phonon energy on the grid equal to this one), in K."""
        N = self.states(self._delta_of(s))
        P = self.phonon_weights
        nqp = float(N @ s.f)
        eph = float((P * self.omega) @ s.n)

        def solve(fun: Callable[[float], float], target: float) -> float:
            if not target > 0:
                return 0.0
            g = lambda lt: math.log(max(fun(math.exp(lt)), 1e-300)) - math.log(target)  # noqa: E731
            try:
                return math.exp(optimize.brentq(g, math.log(1e-4), math.log(1e3), xtol=1e-12))
            except ValueError:
                return float("nan")

        tq = solve(lambda T: float(N @ stats.fermi(self.E, 0.0, K_B * T)), nqp)
        tp = solve(lambda T: float((P * self.omega) @ stats.bose(self.omega, K_B * T)), eph)
        return tq, tp

    # ------------------------------------------------------------------ dynamics
    def problem(self, delta: float | None = None) -> _Problem:
        """The ODE ``d(f, n)/dt`` handed to the integrators (holds the current gap)."""
        return _Problem(self, self.delta if delta is None else float(delta))

    def output_times(self, t_end: float, n_out: int = 101, spacing: str = "log",
                     t_first: float | None = None) -> np.ndarray:
        """Output times: 0 then ``n_out − 1`` times up to ``t_end`` (log or linear spaced).

        With log spacing the first time after 0 is ``t_first``, by default
        :data:`DEFAULT_T_FIRST` (10 ps, where a photon's QP cascade is under way) or
        ``t_end/1e4`` when that is earlier; the API and the config job share this default.

        The memory of the output records (``n_out`` states) is checked before anything is
        allocated.
        """
        if not (_finite(t_end) and t_end > 0):
            raise ParameterError("t_end", f"must be a positive time (ns), got {t_end}")
        if isinstance(n_out, bool) or not isinstance(n_out, int | np.integer) or n_out < 2:
            raise ParameterError("n_out", f"need a whole number of at least two output times, "
                                          f"got {n_out!r}")
        self.check_output_memory(int(n_out))
        if spacing == "linear":
            return np.linspace(0.0, t_end, n_out)
        if spacing != "log":
            raise ParameterError("spacing", f"must be 'log' or 'linear', got {spacing!r}")
        t0 = t_first if t_first is not None else min(DEFAULT_T_FIRST, t_end * 1e-4)
        if not (_finite(t0) and 0 < t0 < t_end):
            raise ParameterError("t_first", f"must lie between 0 and {_p('t_end')} = {t_end:g} "
                                            f"ns, got {t0:g} ns")
        return np.concatenate([[0.0], np.geomspace(t0, t_end, n_out - 1)])

    # ------------------------------------------------------------------ resources
    def check_output_memory(self, n_out: int) -> None:
        """Refuse output records of ``n_out`` states that would not fit in memory."""
        per_row = self.grid.n_qp + self.grid.n_phonon + len(_VARS) + 1
        check_memory(8.0 * 2 * n_out * per_row,  # the records and the result written from them
                     f"the output records ({n_out} times x {per_row} values)",
                     [_p("n_out"), _p("energy_step"), _p("E_max")])

    def check_dense_memory(self, matrices: int, what: str) -> None:
        """Refuse dense ``n × n`` work (the Jacobian plus ``matrices`` more) that would not fit."""
        size = self.grid.n_qp + self.grid.n_phonon + 2
        check_memory(8.0 * size**2 * (JACOBIAN_MATRICES + matrices),
                     f"{what} ({size} x {size} dense matrices)",
                     [_p("energy_step"), _p("E_max")]
                     + ([_p("omega_max")] if self.grid.n_phonon * self.grid.step
                        > self.grid.e_max + self.grid.step else []))

    def _check_escape_resolvable(self, s0: State, duration: float, rtol: float) -> None:
        """Refuse an escape time so short that round-off must swamp the energy bookkeeping.

        Phonons escape at rate ``1/τ`` and bath phonons come back at the same rate: over a
        run of length ``T`` the bath returns ``E_bath T/τ`` (``E_bath`` the thermal phonon
        energy at ``T_bath``, exactly known) while the net escaped energy stays of the order
        of the energy ``E_0`` in the film.  The net is the difference of the two gross flows,
        so its round-off is at least ``ε E_bath T/τ``; when that exceeds ``rtol E_0`` no
        integrator can keep the bookkeeping to the requested accuracy (measured: the drift is
        1-3 ``ε E_bath T/(τ E_0)``, e.g. 0.72 at τ = 1e-15 ns over 1e4 ns), so such an
        escape time is refused; the value suggested instead is ten times the bound, where the
        measured drift stays below ``rtol``.
        """
        if self.escape_time is None or self.T_bath == 0 or duration <= 0:
            return
        weights = self.phonon_weights * self.omega
        e_bath = float(weights @ stats.bose(self.omega, K_B * self.T_bath))
        power = 0.0 if self.injection is None else self.injection.power / (4 * self.N0)
        e_qp = float(self.states(self._delta_of(s0)) @ (self.E * s0.f))
        e_scale = e_qp + float(weights @ s0.n) + power * duration
        shortest = EPS * e_bath * duration / (rtol * e_scale)
        returned = e_bath * duration / self.escape_time / e_scale
        if self.escape_time < shortest:
            raise ParameterError("escape_time", f"{self.escape_time:g} ns is too short to "
                                                f"account for the energy: over {duration:g} ns "
                                                f"the bath sends back {returned:.2g} times the "
                                                f"film's energy, and the net escaped "
                                                f"energy is lost to round-off beyond "
                                                f"{_p('rtol')} = {rtol:g}; use at least "
                                                f"{ceil_sig(10 * shortest, 2):g} ns (or a "
                                                f"shorter {_p('t_end')})")

    # ------------------------------------------------------------------ dynamics
    def evolve(self, s0: State | None = None, t_end: float = 1000.0, *,
               method: str = "bdf", t_out: np.ndarray | None = None, n_out: int = 101,
               spacing: str = "log", resume: xr.Dataset | None = None,
               callback: Callable[[xr.Dataset], None] | None = None,
               progress: Callable[[float, float], None] | None = None,
               **options: Any) -> xr.Dataset:
        """Evolve the distributions in time and record the observables at output times.

        Parameters
        ----------
        s0
            Initial state (default :meth:`initial_state`).
        t_end
            Final time (ns).
        method
            A name of the integrator registry (:data:`boltzphlow.integrate.INTEGRATORS`:
            ``"bdf"``, ``"rosenbrock"``, ``"relaxation"``, ``"rk45"``, ``"dop853"``,
            ``"radau"``, ``"lsoda"`` and any registered later; case-insensitive) or an
            integrator class; ``options`` go to it (``rtol``, ``atol``, ``dt`` and the options
            it declares, e.g. ``order``; ``dt0`` is the first step of adaptive schemes,
            default a thousandth of the first output interval).  With a self-consistent gap
            every scheme updates the gap after every accepted step, so the answer does not
            depend on the output times.
        t_out, n_out, spacing
            Output times (default :meth:`output_times`).
        resume
            A partial result of the same run: continue from its last record.  Its grids,
            output times and shapes must be those of this run (``ValueError`` otherwise).
        callback
            Called with the partial Dataset after every output time (checkpointing).
        progress
            Called with ``(outputs done, outputs in all)`` after every output time.

        Returns
        -------
        xarray.Dataset
            ``f(t, E)``, ``n(t, omega)``, ``delta(t)``, ``qp_density(t)``, ``qp_energy(t)``,
            ``phonon_energy(t)``, ``energy_injected(t)``, ``energy_escaped(t)``,
            ``T_qp(t)``, ``T_phonon(t)`` and more, with units.  ``attrs`` carry the energy
            bookkeeping (``bookkeeping_drift``, ``bookkeeping_tolerance``, relative to the
            energy scale) and ``check_failed`` when the drift exceeds the tolerance (module
            docstring), and the solver's statistics (``solver_status``, ``solver_nfev``,
            ``solver_steps``, ``solver_option_rtol``... of
            :meth:`~boltzphlow.integrate.SolverStats.attrs`; summed over a resumed run).

        Raises
        ------
        ParameterError, ResourceError
            Before anything is computed, for inputs that cannot work.
        SolverError
            When the integrator cannot continue (the message says what to change).
        """
        if t_out is None:
            times = self.output_times(t_end, n_out, spacing)
        else:
            times = np.asarray(t_out, dtype=float)
            if times.ndim != 1 or times.size < 2 or not np.all(np.isfinite(times)) or np.any(
                    np.diff(times) <= 0):
                raise ParameterError("t_out", "output times must be an increasing sequence of "
                                              "at least two finite times")
            self.check_output_memory(times.size)
        try:
            scheme = get_integrator(method)
        except ValueError as exc:
            raise ParameterError("method", str(exc)) from None
        dt0 = options.pop("dt0", None)
        try:
            settings = scheme.resolve_options(**options)
        except ValueError as exc:
            raise ParameterError("method", str(exc)) from None
        if scheme.uses_jacobian:
            self.check_dense_memory(scheme.dense_matrices,
                                    f"the {scheme.name} integrator's dense Jacobian")
        rtol = float(settings["rtol"])
        atol = float(settings["atol"])
        started = time.perf_counter()
        records = _Records(self, times.size)
        counters = Counters()
        if resume is not None:
            records.load(resume, times)
            k0 = records.count - 1
            last = records.last()
            s = State(f=last["f"], n=last["n"], delta=last["delta"])
            acc = [last["bath_outflow"] / (4 * self.N0), last["bath_inflow"] / (4 * self.N0)]
            dt0 = float(last["step_size"])
            gap_work = last["gap_exchange"] / (4 * self.N0)
            for name in ("nfev", "njev", "nlu", "steps", "rejected"):  # work done before
                setattr(counters, name, int(resume.attrs.get(f"solver_{name}", 0)))
        else:
            k0 = 0
            s = self.initial_state() if s0 is None else s0
            self._check_state(s)
            acc = [0.0, 0.0]
            gap_work = 0.0
            if dt0 is None and settings["dt"] is None:
                dt0 = 1e-3 * float(times[1] - times[0])
        self._check_escape_resolvable(s, float(times[-1] - times[k0]), rtol)
        problem = self.problem(self._delta_of(s))
        problem.gap_work = gap_work
        if resume is None:
            if self.gap_mode == "self-consistent":
                # the gap follows the QPs within ħ/Δ: start from the self-consistent gap of s
                y = problem.after_step(float(times[0]), np.concatenate([s.f, s.n, acc]))
                s = State(f=y[:self.grid.n_qp], n=s.n, delta=problem.delta)
            records.add(self._record(float(times[0]), s, problem, dt0 or 0.0, acc))

        def on_output(k: int, t: float, y: np.ndarray, dt_next: float) -> None:
            f, n = problem.split(y)
            st = State(f=f, n=n, delta=problem.delta)
            records.add(self._record(t, st, problem, dt_next, y[-2:]))
            if callback is not None:
                partial = SolverStats(scheme.name, True, f"reached t = {t:g} ns",
                                      nfev=counters.nfev, njev=counters.njev, nlu=counters.nlu,
                                      steps=counters.steps, rejected=counters.rejected,
                                      options=settings)
                callback(records.dataset(time.perf_counter() - started, scheme.name, settings,
                                         complete=False, stats=partial))
            if progress is not None:
                progress(k + k0, times.size - 1)

        stats = SolverStats(scheme.name, True, "reached the final time", options=settings)
        if k0 < times.size - 1:
            res = integrate(problem, np.concatenate([s.f, s.n, acc]), times[k0:], scheme,
                            dt0=dt0 or None, callback=on_output, counters=counters, **options)
            if not res.success:
                raise SolverError(_integration_advice(scheme, res.message))
            stats = res.stats
        ds = records.dataset(time.perf_counter() - started, scheme.name, settings,
                             complete=True, stats=stats)
        ds.attrs.update(self._bookkeeping(ds, problem, rtol, atol))
        return ds

    def steady_state(self, s0: State | None = None, *, tol: float = 1e-10,
                     max_iter: int = 200,
                     linear: Literal["auto", "dense", "krylov"] = "auto") -> xr.Dataset:
        """Steady state under the continuous drive, by Newton with pseudo-transient continuation.

        Needs phonon escape (``escape_time``): a closed driven system has no steady state.
        ``s0`` is the starting point (default the thermal state at ``T_bath``).  The power
        balance (injected = escaping) is checked against the bound the convergence test
        implies, ``tol · Σ w_i (γ_i y_i + φ)`` (every component's residual below ``tol`` of its
        gross flux, ``w`` the energy weights); ``attrs["check_failed"]`` when it fails.

        The Newton steps (:func:`boltzphlow.integrate.steady_state`) solve their linear
        systems with the dense Jacobian (LU on the QP block after eliminating the phonons,
        whose block is diagonal) on small grids, and matrix-free by GMRES on larger ones
        (``linear="auto"``: dense up to :data:`STEADY_DENSE_MAX` unknowns, where it is the
        faster): the Jacobian–vector products are the exact directional derivatives of the
        FFT rates (:meth:`CollisionOperator.linearize`), preconditioned by the exact Jacobian
        diagonal, so time and memory grow as N log N and N instead of N³ and N².

        Raises
        ------
        ParameterError
            Without escape, with a self-consistent gap, or an unknown ``linear``.
        ResourceError
            When the dense Jacobian (``linear="dense"``) would not fit in memory.
        SolverError
            When the Newton iteration does not converge.
        """
        if self.escape_time is None:
            raise ParameterError("escape_time", "a steady state under drive needs phonon "
                                                "escape: set it")
        if self.gap_mode != "fixed":
            raise ParameterError("gap", "steady states are computed with a fixed gap")
        if not (_finite(tol) and 0 < tol < 1):
            raise ParameterError("tol", f"must lie between 0 and 1, got {tol}")
        if linear not in ("auto", "dense", "krylov"):
            raise ParameterError("linear", f"must be 'auto', 'dense' or 'krylov', got "
                                           f"{linear!r}")
        size = self.grid.n_qp + self.grid.n_phonon
        if linear == "auto":
            linear = "dense" if size <= STEADY_DENSE_MAX else "krylov"
        if linear == "dense":
            self.check_dense_memory(STEADY_MATRICES, "the steady-state Newton iteration")
        else:
            check_memory(8.0 * (size + 2) * KRYLOV_VECTORS,
                         f"the steady-state Newton–Krylov iteration ({size + 2} unknowns)",
                         [_p("energy_step"), _p("E_max")])
        started = time.perf_counter()
        s = self.thermal(self.T_bath) if s0 is None else s0
        self._check_state(s)
        y0 = np.concatenate([s.f, s.n, [1.0, 1.0]])
        problem = self.problem()
        active = np.concatenate([problem.op.active, np.ones(self.grid.n_phonon, bool),
                                 [False, False]])
        res = steady_state(problem, y0, active, tol=tol, max_iter=max_iter, linear=linear,
                           jacobian=(problem.jacobian if linear == "dense"
                                     else problem.jacobian_operator),
                           diagonal_from=self.grid.n_qp)
        if not res.success:
            raise SolverError(f"steady state not found: {res.message}; try a larger "
                              f"{_p('tol')}, a coarser {_p('energy_step')}, or follow the "
                              f"evolution to it (task 'evolve' with a long {_p('t_end')})")
        f, n = problem.split(res.y)
        records = _Records(self, 1)
        records.add(self._record(0.0, State(f=f, n=n, delta=self.delta), problem, 0.0,
                                 [0.0, 0.0]))
        ds = records.dataset(time.perf_counter() - started, "newton-ptc", {"tol": tol},
                             complete=True, stats=res.stats)
        ds = ds.isel(t=0, drop=True)
        ds.attrs.update(iterations=res.iterations, residual=res.residual)
        ds["injected_power"] = ((), 0.0 if self.injection is None else self.injection.power,
                                {"units": "ueV/(ns*um^3)", "long_name": "injected power"})
        ds.attrs.update(self._power_balance(ds, problem, res.y, tol, active))
        return ds

    # ------------------------------------------------------------------ checks of results
    def _bookkeeping(self, ds: xr.Dataset, problem: _Problem, rtol: float,
                     atol: float) -> dict[str, Any]:
        """Drift of the conserved energy against the tolerance the solver was asked for."""
        qp, ph = ds.qp_energy.values, ds.phonon_energy.values
        esc, inj = ds.energy_escaped.values, ds.energy_injected.values
        gx = ds.gap_exchange.values
        total = qp + ph + esc - inj - gx
        scale = float(np.max(np.abs(qp) + np.abs(ph) + np.abs(esc) + np.abs(inj) + np.abs(gx)))
        scale = scale if scale > 0 else 1.0
        weights = 4 * self.N0 * float(np.abs(problem.energy_weights()).sum())
        tolerance = rtol * scale + atol * weights
        drift = float(np.max(np.abs(total - total[0]))) if np.all(np.isfinite(total)) \
            else float("inf")
        out: dict[str, Any] = {"bookkeeping_drift": drift / scale,
                               "bookkeeping_tolerance": tolerance / scale,
                               "bookkeeping_scale": scale}
        if not drift <= tolerance:
            out["check_failed"] = (f"energy bookkeeping drift {drift / scale:.2e} of the energy "
                                   f"scale {scale:.4g} µeV/µm³ exceeds the tolerance "
                                   f"{tolerance / scale:.2e} set by rtol = {rtol:g} and "
                                   f"atol = {atol:g}")
        return out

    def _power_balance(self, ds: xr.Dataset, problem: _Problem, y: np.ndarray, tol: float,
                       active: np.ndarray) -> dict[str, Any]:
        """Injected against escaping power of a steady state, against the Newton bound."""
        _, loss = problem.rhs_and_loss(0.0, y)
        w = np.abs(problem.energy_weights())[active]
        gross = (loss * y)[active]
        floor = 1e-8 * float(np.max(gross)) if gross.size else 0.0
        bound = 4 * self.N0 * max(tol, 64 * EPS) * float(w @ (gross + floor))
        imbalance = abs(float(ds.injected_power) - float(ds.escape_power))
        out: dict[str, Any] = {"power_imbalance": imbalance, "power_imbalance_bound": bound}
        if not imbalance <= bound:
            out["check_failed"] = (f"power balance: injected and escaping power differ by "
                                   f"{imbalance:.3g} µeV/(ns µm³), more than the "
                                   f"{bound:.3g} that tol = {tol:g} allows")
        return out

    # ------------------------------------------------------------------ results
    def _record(self, t: float, s: State, problem: _Problem, dt_next: float,
                accumulators: Any) -> dict[str, Any]:
        d = self._delta_of(s)
        op = problem.op if abs(problem.delta - d) < 1e-15 else self.collision_operator(d)
        scale = 4 * self.N0
        qp_e = scale * op.qp_energy(s.f)
        ph_e = scale * op.phonon_energy(s.n)
        u = self.electron_energy(s) if self.gap_mode == "self-consistent" else qp_e
        out_e, in_e = (scale * float(a) for a in accumulators)
        esc_power = scale * float(problem.escape_weight @ (s.n - problem.n_bath))
        # Eq. 6, P = 4N0 ∫ dE I_qp-φ(E) E ρ(E): on the grid the phonon energy the collisions
        # make, Σ P_J ω_J ṅ_J = −Σ N_i E_i ḟ_i (they conserve the sum)
        power = scale * op.phonon_energy(op.rates(s.f, s.n, terms=False).n)
        injected = 0.0 if self.injection is None else self.injection.power * t
        tq, tp = self.effective_temperatures(s)
        return {"t": t, "f": s.f, "n": s.n, "delta": d,
                "qp_density": scale * op.qp_number(s.f), "qp_energy": qp_e,
                "phonon_energy": ph_e, "electron_energy": u, "escape_power": esc_power,
                "qp_phonon_power": power,
                "energy_injected": injected, "bath_outflow": out_e, "bath_inflow": in_e,
                "energy_escaped": out_e - in_e, "gap_exchange": scale * problem.gap_work,
                "T_qp": tq, "T_phonon": tp, "step_size": dt_next}


def _integration_advice(scheme: Any, message: str) -> str:
    """One line: which integrator failed where, and what to change."""
    if scheme.adaptive:
        hint = (f"try a smaller {_p('rtol')} or another {_p('method')} ('bdf' or 'rosenbrock' "
                f"for stiff runs, 'relaxation' for positivity)")
    else:
        hint = f"try a smaller {_p('dt')}, a lower {_p('order')} or the 'bdf' {_p('method')}"
    return f"time integration ({scheme.name}) failed, {message}; {hint}"


_VARS = {
    "f": (("t", "E"), "1", "quasiparticle occupation f(E)"),
    "n": (("t", "omega"), "1", "phonon occupation n(omega)"),
    "delta": (("t",), "ueV", "superconducting gap"),
    "qp_density": (("t",), "um^-3", "quasiparticle density"),
    "qp_energy": (("t",), "ueV/um^3", "quasiparticle energy (Eq. 9)"),
    "phonon_energy": (("t",), "ueV/um^3", "phonon energy above zero (Eq. 10)"),
    "electron_energy": (("t",), "ueV/um^3",
                        "electronic energy incl. condensation energy (equals qp_energy for a "
                        "fixed gap)"),
    "escape_power": (("t",), "ueV/(ns*um^3)", "phonon power escaping to the bath"),
    "qp_phonon_power": (("t",), "ueV/(ns*um^3)",
                        "power the quasiparticles give the phonons by the collisions (Eq. 6)"),
    "energy_injected": (("t",), "ueV/um^3", "energy injected by the continuous source"),
    "bath_outflow": (("t",), "ueV/um^3", "energy carried to the bath by escaping phonons"),
    "bath_inflow": (("t",), "ueV/um^3", "energy received from the bath by phonons"),
    "energy_escaped": (("t",), "ueV/um^3", "net energy escaped to the bath (time integral)"),
    "gap_exchange": (("t",), "ueV/um^3",
                     "QP energy gained at the self-consistent gap updates (exchanged with the "
                     "condensate; 0 for a fixed gap)"),
    "T_qp": (("t",), "K", "quasiparticle effective temperature (from the density)"),
    "T_phonon": (("t",), "K", "phonon effective temperature (from the energy)"),
    "step_size": (("t",), "ns", "integrator step size to continue with"),
}


class _Records:
    """Output records in arrays allocated once; datasets of the records so far are views.

    A row is written once and never changed, so a Dataset handed to a checkpoint stays valid
    while later rows are filled, and no record is copied per output (O(n_out) work, not
    O(n_out²)).
    """

    def __init__(self, model: QPPhononModel, rows: int) -> None:
        self.model = model
        self.count = 0
        sizes = {"t": rows, "E": model.grid.n_qp, "omega": model.grid.n_phonon}
        self.t = np.empty(rows)
        self.data = {name: np.empty([sizes[d] for d in dims]) for name, (dims, _, _)
                     in _VARS.items()}

    def add(self, rec: Mapping[str, Any]) -> None:
        k = self.count
        self.t[k] = rec["t"]
        for name, array in self.data.items():
            array[k] = rec[name]
        self.count += 1

    def last(self) -> dict[str, Any]:
        k = self.count - 1
        return {name: array[k] for name, array in self.data.items()} | {"t": self.t[k]}

    def load(self, ds: xr.Dataset, times: np.ndarray) -> None:
        """Fill the rows from a partial result, after checking that it belongs to this run."""
        _check_resume(self.model, ds, times)
        k = int(ds.sizes["t"])
        self.t[:k] = ds.t.values
        for name, array in self.data.items():
            array[:k] = ds[name].values
        self.count = k

    def dataset(self, wall: float, method: Any, options: Mapping[str, Any],
                complete: bool, stats: SolverStats | None = None) -> xr.Dataset:
        """The records so far; the solver's statistics as attributes (``stats``, or the
        method and options alone)."""
        model, k = self.model, self.count
        if stats is None:
            stats = SolverStats(str(getattr(method, "name", method)), True, "",
                                options=dict(options))
        data = {name: (dims, self.data[name][:k], {"units": units, "long_name": long_name})
                for name, (dims, units, long_name) in _VARS.items()}
        coords = {
            "t": ("t", self.t[:k], {"units": "ns", "long_name": "time"}),
            "E": ("E", model.E, {"units": "ueV", "long_name": "quasiparticle energy"}),
            "omega": ("omega", model.omega, {"units": "ueV", "long_name": "phonon energy"}),
        }
        ds = xr.Dataset(data, coords=coords)
        ds["states"] = ("E", model.states(), {"units": "ueV", "long_name":
                                              "states per bin per 4 N0 (bin-integrated DOS)"})
        mat = model.material
        ds.attrs.update(
            model="superconductor", material=mat.name, Tc_K=mat.Tc, delta0_ueV=mat.delta0,
            tau0_ns=mat.tau0, tau_pb_ns=mat.tau_pb, N0_per_ueV_um3=mat.N0,
            debye_energy_ueV=mat.debye_energy, T_bath_K=model.T_bath, gap_mode=model.gap_mode,
            energy_step_ueV=model.grid.step, escape_time_ns=model.escape_time or 0.0,
            renormalisation=model.renormalisation,
            **stats.attrs(), compute_time_s=wall, complete=int(complete))
        if model.eliashberg is not None:
            el = model.eliashberg.attrs
            ds.attrs.update(alpha2F=str(el.get("alpha2F", "")), lambda_eph=float(el["lam"]),
                            mu_star=float(el["mu_star"]), delta_ueV=model.delta)
        return ds


def _check_resume(model: QPPhononModel, ds: xr.Dataset, times: np.ndarray) -> None:
    """Refuse, in one line, resume data that do not belong to this run."""
    what = "the result to resume"
    found = ds.attrs.get("model", "superconductor")
    if found != "superconductor":
        raise ValueError(f"{what} holds a {found!r} result, not a superconductor run")
    missing = [name for name in (*_VARS, "t", "E", "omega") if name not in ds.variables]
    if missing:
        raise ValueError(f"{what} lacks {', '.join(missing[:5])}"
                         f"{' ...' if len(missing) > 5 else ''}: not a superconductor "
                         "evolution of this version")
    for name, (dims, _, _) in _VARS.items():
        if tuple(ds[name].dims) != dims:
            raise ValueError(f"{what}: {name} has dimensions {tuple(ds[name].dims)}, "
                             f"expected {dims}")
    for name, ours, unit in (("E", model.E, "QP bins"), ("omega", model.omega,
                                                           "phonon energies")):
        theirs = np.asarray(ds[name].values, dtype=float)
        if theirs.shape != ours.shape:
            raise ValueError(f"{what} has {theirs.size} {unit}, this config gives {ours.size}: "
                             "it belongs to another grid")
        if not np.allclose(theirs, ours, rtol=1e-12, atol=0.0):
            raise ValueError(f"{what} has another {name} grid than this config (step "
                             f"{_step(theirs):.6g} vs {model.grid.step:.6g} µeV, first "
                             f"{theirs[0]:.6g} vs {ours[0]:.6g} µeV)")
    k = int(ds.sizes["t"])
    if k < 1:
        raise ValueError(f"{what} holds no record")
    if k > times.size:
        raise ValueError(f"{what} has {k} output times, this config {times.size}")
    if not np.allclose(ds.t.values, times[:k], rtol=1e-12, atol=0.0):
        raise ValueError(f"{what} has other output times than this config (run.t_end, "
                         "run.n_out, run.spacing or run.t_first differ)")
    for key, ours in (("gap_mode", model.gap_mode),
                      ("renormalisation", model.renormalisation)):
        if ds.attrs.get(key, ours) != ours:
            raise ValueError(f"{what} was computed with {key.removesuffix('_mode')} "
                             f"{ds.attrs[key]!r}, this config says {ours!r}")
    last = {name: np.asarray(ds[name].values[k - 1], dtype=float) for name in _VARS}
    if not all(np.all(np.isfinite(v)) for v in last.values()) or not last["step_size"] >= 0:
        raise ValueError(f"{what} has non-finite values in its last record "
                         f"(t = {float(ds.t.values[k - 1]):g} ns)")


def _step(values: np.ndarray) -> float:
    return float(values[1] - values[0]) if values.size > 1 else float("nan")
