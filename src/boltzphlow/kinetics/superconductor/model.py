"""The 0-D quasiparticle–phonon model of a BCS superconductor (seed 003 §1.1, §2.1–2.2).

Units: energies µeV, times ns, temperatures K, volumes µm³.  Distributions: QP occupation
``f`` on the bins of an :class:`~boltzphlow.grids.energy.EnergyGrid`, phonon occupation ``n``
on ``ω_J = J h``.  Energies and densities are per unit volume (µeV/µm³, 1/µm³).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import xarray as xr
from scipy import optimize, special

from boltzphlow.grids.energy import EnergyGrid
from boltzphlow.integrate import integrate, steady_state
from boltzphlow.kinetics.superconductor import gap as gapmod
from boltzphlow.kinetics.superconductor.collisions import (
    CollisionOperator,
    Rates,
    phonon_mode_weights,
)
from boltzphlow.kinetics.superconductor.dos import bin_states, xi_of_energy
from boltzphlow.kinetics.superconductor.materials import Material
from boltzphlow.kinetics.superconductor.materials import material as load_material
from boltzphlow.kinetics.superconductor.sources import Injection, PhotonHit, packet_weights
from boltzphlow.units import K_B


def fermi(energy: np.ndarray, T: float) -> np.ndarray:
    """Fermi–Dirac occupation ``1/(e^{E/k_BT} + 1)`` (0 at T = 0)."""
    if T == 0:
        return np.zeros_like(np.asarray(energy, float))
    return special.expit(-np.asarray(energy, float) / (K_B * T))  # accurate for E ≫ k_BT


def bose(omega: np.ndarray, T: float) -> np.ndarray:
    """Bose–Einstein occupation ``1/(e^{ω/k_BT} − 1)`` (0 at T = 0)."""
    if T == 0:
        return np.zeros_like(np.asarray(omega, float))
    x = np.asarray(omega) / (K_B * T)
    with np.errstate(over="ignore"):
        return 1.0 / np.expm1(np.minimum(x, 700.0))


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
    """

    model: QPPhononModel
    delta: float
    op: CollisionOperator = field(init=False)
    gap_updates: int = 0

    def __post_init__(self) -> None:
        m = self.model
        self.op = m.collision_operator(self.delta)
        self.nq, self.nph = m.grid.n_qp, m.grid.n_phonon
        self.n_bath = bose(m.omega, m.T_bath)
        self.inv_tau = 0.0 if m.escape_time is None else 1.0 / m.escape_time
        self.source = m.injection_rate(self.op.N)
        self.escape_weight = self.op.P * m.omega * self.inv_tau  # (P_J ω_J / τ_esc)
        self.bath_inflow = float(self.escape_weight @ self.n_bath)

    def split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y[:self.nq], y[self.nq:self.nq + self.nph]

    def _assemble(self, r: Rates, n: np.ndarray) -> np.ndarray:
        return np.concatenate([r.f + self.source, r.n - self.inv_tau * (n - self.n_bath),
                               [float(self.escape_weight @ n), self.bath_inflow]])

    def rhs_and_loss(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, n = self.split(y)
        r = self.op.rates(f, n, terms=True)
        return self._assemble(r, n), np.concatenate([r.loss_f, r.loss_n + self.inv_tau,
                                                     [0.0, 0.0]])

    def rhs(self, y: np.ndarray) -> np.ndarray:
        f, n = self.split(y)
        return self._assemble(self.op.rates(f, n, terms=False), n)

    def jacobian(self, y: np.ndarray) -> np.ndarray:
        f, n = self.split(y)
        core = self.op.jacobian(f, n)
        jac = np.zeros((y.size, y.size))
        k = self.nq + self.nph
        jac[:k, :k] = core
        if self.inv_tau:
            idx = np.arange(self.nq, k)
            jac[idx, idx] -= self.inv_tau
            jac[k, self.nq:k] = self.escape_weight
        return jac

    def after_step(self, y: np.ndarray) -> np.ndarray:
        """Self-consistent gap: re-solve the gap equation and carry f(ξ) to the new bins."""
        if self.model.gap_mode != "self-consistent":
            return y
        f = y[:self.nq]
        new_delta, f_new = self.model.update_gap(self.delta, f)
        if new_delta != self.delta:
            self.delta = new_delta
            self.op = self.model.collision_operator(new_delta)
            self.source = self.model.injection_rate(self.op.N)
            self.gap_updates += 1
        out = y.copy()
        out[:self.nq] = f_new
        return out


class QPPhononModel:
    """Coupled QP and phonon kinetics of a BCS superconductor, seed 003 Eqs. 33–40.

    Parameters
    ----------
    material
        A :class:`Material` or a built-in name (``"Al"``).
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
        Largest phonon energy (µeV).
    dynes
        Dynes broadening Γ of the DOS (µeV), fixed gap only.
    photon
        Optional :class:`PhotonHit` included by :meth:`initial_state`.
    injection
        Optional continuous :class:`Injection`.
    """

    def __init__(self, material: Material | str, T_bath: float, energy_step: float = 1.0,
                 E_max: float = 2000.0, *, gap: Literal["fixed", "self-consistent"] = "fixed",
                 delta: float | None = None, escape_time: float | None = None,
                 omega_max: float | None = None, dynes: float = 0.0,
                 photon: PhotonHit | None = None, injection: Injection | None = None) -> None:
        mat = load_material(material) if isinstance(material, str) else material
        if not isinstance(mat, Material):
            raise ValueError("material must be a Material or the name of a built-in one")
        if not (np.isfinite(T_bath) and T_bath >= 0):
            raise ValueError(f"T_bath must be a temperature ≥ 0 K, got {T_bath}")
        if gap not in ("fixed", "self-consistent"):
            raise ValueError(f"gap must be 'fixed' or 'self-consistent', got {gap!r}")
        if escape_time is not None and not escape_time > 0:
            raise ValueError(f"escape_time must be positive (ns) or None, got {escape_time}")
        if not dynes >= 0:
            raise ValueError(f"Dynes broadening must be ≥ 0, got {dynes}")
        if dynes > 0 and gap != "fixed":
            raise ValueError("Dynes broadening is supported with a fixed gap only")
        self.material = mat
        self.T_bath = float(T_bath)
        self.gap_mode = gap
        self.escape_time = None if escape_time is None else float(escape_time)
        self.dynes = float(dynes)
        if delta is None:
            if gap == "fixed" and T_bath >= mat.Tc:
                raise ValueError(f"T_bath = {T_bath} K is not below Tc = {mat.Tc} K of "
                                 f"{mat.name}: a fixed gap needs a superconductor")
            delta = gapmod.bcs_gap(T_bath, mat.delta0, mat.debye_energy)
            if delta <= 0:
                raise ValueError(f"the BCS gap vanishes at T_bath = {T_bath} K "
                                 f"(BCS Tc of {mat.name} with Δ0 = {mat.delta0} µeV)")
        elif not delta > 0:
            raise ValueError(f"the gap must be positive, got {delta} µeV")
        self.delta = float(delta)
        if not (energy_step > 0 and E_max > 0):
            raise ValueError("energy_step and E_max must be positive (µeV)")
        for name, src in (("photon", photon), ("injection", injection)):
            if src is not None and src.epsilon0 + 3 * src.width > E_max:
                raise ValueError(f"the {name} packet at {src.epsilon0:g} ± {src.width:g} µeV "
                                 f"lies above the energy range E_max = {E_max:g} µeV: "
                                 f"raise E_max to at least {src.epsilon0 + 3 * src.width:g}")
            if src is not None and src.epsilon0 < self.delta:
                raise ValueError(f"the {name} energy ε0 = {src.epsilon0:g} µeV is below the "
                                 f"gap Δ = {self.delta:g} µeV")
        e_min = 0.8 * self.delta if gap == "self-consistent" else (
            0.5 * self.delta if dynes > 0 else None)
        self.grid = EnergyGrid.for_gap(self.delta, energy_step, E_max, omega_max, e_min)
        self.photon = photon
        self.injection = injection

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
        return CollisionOperator(self.grid, d, mat.tau0, mat.tau_pb, mat.kTc, mat.delta0,
                                 dynes=self.dynes)

    @property
    def phonon_weights(self) -> np.ndarray:
        """Phonon modes per ``4 N0`` on each ``ω_J`` (µeV), independent of the gap."""
        mat = self.material
        return phonon_mode_weights(self.grid, mat.tau0, mat.tau_pb, mat.kTc, mat.delta0)

    def states(self, delta: float | None = None) -> np.ndarray:
        """States per bin ``N_i`` (µeV; times 4N0 per volume) at gap ``delta``."""
        d = self.delta if delta is None else float(delta)
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
        return State(f=fermi(self.E, T), n=bose(self.omega, T), delta=delta)

    def photon_deposit(self, state: State, photon: PhotonHit) -> State:
        """``state`` plus the QPs of an absorbed photon (energy exact on the grid)."""
        N = self.states(state.delta)
        w = packet_weights(self.E, N, photon.epsilon0, photon.width)
        energy = photon.energy / photon.volume / (4 * self.N0)  # µeV² per 4N0
        qps = energy / float(w @ self.E)
        df = np.divide(qps * w, N, out=np.zeros_like(w), where=N > 0)
        f = state.f + df
        if np.any(f > 1):
            raise ValueError("the photon energy per volume is too large: the occupation would "
                             "exceed 1 (increase the volume or the packet width)")
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
        op = self.collision_operator(self._delta_of(s))
        if method == "fft":
            return op.rates(s.f, s.n)
        if method == "direct":
            return op.rates_direct(s.f, s.n)
        raise ValueError(f"method must be 'fft' or 'direct', got {method!r}")

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

        tq = solve(lambda T: float(N @ fermi(self.E, T)), nqp)
        tp = solve(lambda T: float((P * self.omega) @ bose(self.omega, T)), eph)
        return tq, tp

    # ------------------------------------------------------------------ dynamics
    def problem(self, delta: float | None = None) -> _Problem:
        """The ODE ``d(f, n)/dt`` handed to the integrators (holds the current gap)."""
        return _Problem(self, self.delta if delta is None else float(delta))

    def output_times(self, t_end: float, n_out: int = 101, spacing: str = "log",
                     t_first: float | None = None) -> np.ndarray:
        """Output times: 0 then ``n_out − 1`` times up to ``t_end`` (log or linear spaced)."""
        if not t_end > 0:
            raise ValueError(f"t_end must be positive (ns), got {t_end}")
        if n_out < 2:
            raise ValueError("need at least two output times")
        if spacing == "linear":
            return np.linspace(0.0, t_end, n_out)
        if spacing != "log":
            raise ValueError(f"spacing must be 'log' or 'linear', got {spacing!r}")
        t0 = t_first if t_first is not None else t_end * 1e-4
        return np.concatenate([[0.0], np.geomspace(t0, t_end, n_out - 1)])

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
            Integrator name (``"bdf"``, ``"rosenbrock"``, ``"relaxation"``, ``"rk45"``,
            ``"dop853"``) or class; ``options`` go to it (``rtol``, ``atol``, ``dt``,
            ``order``...; ``dt0`` is the first step of adaptive schemes).
        t_out, n_out, spacing
            Output times (default :meth:`output_times`).
        resume
            A partial result of the same run: continue from its last record.
        callback
            Called with the partial Dataset after every output time (checkpointing).
        progress
            Called with ``(outputs done, outputs in all)`` after every output time.

        Returns
        -------
        xarray.Dataset
            ``f(t, E)``, ``n(t, omega)``, ``delta(t)``, ``qp_density(t)``, ``qp_energy(t)``,
            ``phonon_energy(t)``, ``energy_injected(t)``, ``energy_escaped(t)``,
            ``T_qp(t)``, ``T_phonon(t)`` and more, with units.
        """
        times = self.output_times(t_end, n_out, spacing) if t_out is None else np.asarray(t_out)
        started = time.perf_counter()
        records: list[dict[str, Any]] = []
        dt0 = options.pop("dt0", None)
        if resume is not None:
            k0 = int(resume.sizes["t"]) - 1
            if k0 >= times.size or not np.allclose(resume.t.values, times[:k0 + 1]):
                raise ValueError("the result to resume does not match this run's output times")
            records = _records_from_dataset(resume)
            last = records[-1]
            s = State(f=last["f"], n=last["n"], delta=last["delta"])
            acc = [last["bath_outflow"] / (4 * self.N0), last["bath_inflow"] / (4 * self.N0)]
            dt0 = float(last["step_size"])
        else:
            k0 = 0
            s = self.initial_state() if s0 is None else s0
            self._check_state(s)
            acc = [0.0, 0.0]
        problem = self.problem(self._delta_of(s))
        if resume is None:
            if self.gap_mode == "self-consistent":
                # the gap follows the QPs within ħ/Δ: start from the self-consistent gap of s
                y = problem.after_step(np.concatenate([s.f, s.n, acc]))
                s = State(f=y[:self.grid.n_qp], n=s.n, delta=problem.delta)
            records.append(self._record(0.0, s, problem, dt0 or 0.0, acc))

        def on_output(k: int, t: float, y: np.ndarray, dt_next: float) -> None:
            f, n = problem.split(y)
            st = State(f=f, n=n, delta=problem.delta)
            records.append(self._record(t, st, problem, dt_next, y[-2:]))
            if callback is not None:
                callback(self._dataset(records, started, method, options, complete=False))
            if progress is not None:
                progress(k + k0, times.size - 1)

        if k0 < times.size - 1:
            res = integrate(problem, np.concatenate([s.f, s.n, acc]), times[k0:], method,
                            dt0=dt0 or None, callback=on_output, **options)
            if not res.success:
                raise RuntimeError(f"time integration failed: {res.message}")
        return self._dataset(records, started, method, options, complete=True)

    def steady_state(self, s0: State | None = None, *, tol: float = 1e-10,
                     max_iter: int = 200) -> xr.Dataset:
        """Steady state under the continuous drive, by Newton with pseudo-transient continuation.

        Needs phonon escape (``escape_time``): a closed driven system has no steady state.
        ``s0`` is the starting point (default the thermal state at ``T_bath``).
        """
        if self.escape_time is None:
            raise ValueError("a steady state under drive needs phonon escape: set escape_time")
        if self.gap_mode != "fixed":
            raise ValueError("steady states are computed with a fixed gap")
        started = time.perf_counter()
        s = self.thermal(self.T_bath) if s0 is None else s0
        y0 = np.concatenate([s.f, s.n, [1.0, 1.0]])
        problem = self.problem()
        active = np.concatenate([problem.op.active, np.ones(self.grid.n_phonon, bool),
                                 [False, False]])
        res = steady_state(problem, y0, active, tol=tol, max_iter=max_iter,
                           diagonal_from=self.grid.n_qp)
        if not res.success:
            raise RuntimeError(f"steady state not found: {res.message}")
        f, n = problem.split(res.y)
        rec = self._record(0.0, State(f=f, n=n, delta=self.delta), problem, 0.0, [0.0, 0.0])
        ds = self._dataset([rec], started, "newton-ptc", {"tol": tol}, complete=True)
        ds = ds.isel(t=0, drop=True)
        ds.attrs.update(iterations=res.iterations, residual=res.residual)
        ds["injected_power"] = ((), 0.0 if self.injection is None else self.injection.power,
                                {"units": "ueV/(ns*um^3)", "long_name": "injected power"})
        return ds

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
        injected = 0.0 if self.injection is None else self.injection.power * t
        tq, tp = self.effective_temperatures(s)
        return {"t": t, "f": s.f.copy(), "n": s.n.copy(), "delta": d,
                "qp_density": scale * op.qp_number(s.f), "qp_energy": qp_e,
                "phonon_energy": ph_e, "electron_energy": u, "escape_power": esc_power,
                "energy_injected": injected, "bath_outflow": out_e, "bath_inflow": in_e,
                "energy_escaped": out_e - in_e, "T_qp": tq, "T_phonon": tp,
                "step_size": dt_next}

    def _dataset(self, records: list[dict[str, Any]], started: float, method: Any,
                 options: dict[str, Any], complete: bool) -> xr.Dataset:
        return _records_to_dataset(self, records, time.perf_counter() - started, method,
                                   options, complete)


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
    "energy_injected": (("t",), "ueV/um^3", "energy injected by the continuous source"),
    "bath_outflow": (("t",), "ueV/um^3", "energy carried to the bath by escaping phonons"),
    "bath_inflow": (("t",), "ueV/um^3", "energy received from the bath by phonons"),
    "energy_escaped": (("t",), "ueV/um^3", "net energy escaped to the bath (time integral)"),
    "T_qp": (("t",), "K", "quasiparticle effective temperature (from the density)"),
    "T_phonon": (("t",), "K", "phonon effective temperature (from the energy)"),
    "step_size": (("t",), "ns", "integrator step size to continue with"),
}


def _records_to_dataset(model: QPPhononModel, records: list[dict[str, Any]], wall: float,
                        method: Any, options: dict[str, Any], complete: bool) -> xr.Dataset:
    data = {}
    for name, (dims, units, long_name) in _VARS.items():
        values = np.array([r[name] for r in records])
        data[name] = (dims, values, {"units": units, "long_name": long_name})
    coords = {
        "t": ("t", np.array([r["t"] for r in records]), {"units": "ns", "long_name": "time"}),
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
        method=str(getattr(method, "name", method)), integrator_options=repr(options),
        compute_time_s=wall, complete=int(complete))
    return ds


def _records_from_dataset(ds: xr.Dataset) -> list[dict[str, Any]]:
    recs = []
    for k in range(ds.sizes["t"]):
        rec = {name: ds[name].values[k] for name in _VARS}
        rec["t"] = float(ds.t.values[k])
        recs.append(rec)
    return recs
