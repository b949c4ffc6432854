"""Electrons coupled to a pumped phonon mode: the kinetic model of G. Chiriacò, A. J. Millis
and I. L. Aleiner, *Negative absolute conductivity in photoexcited metals* (main-text Eqs. 2–9,
supplement Eqs. 44–52).

Units (stored in every result's attributes): energies in units of the bandwidth ``W``
(built-in bands on ``[-1/2, 1/2]``), temperatures in energy units (``k_B = 1``), time in units
of ``1/Γ_eph``, DoS normalised to one state (``∫ D dε = 1``, so ``D_0 = 1/W``), conductivity as
``σ/σ_0`` with ``σ_0 = v_F² τ_tr D_F`` (Fig. 2), i.e. ``σ̃(μ)``; the field as
``ℰ = e E v_F √(τ_tr/Γ_eph) / W`` (so that Eq. 7 reads ``∂_t f = (ℰ²/3)(D_F/D) ∂_ε[s ∂_ε f]``
with ``s = σ̃/σ_0``).

The state is ``f`` on the cells of a uniform grid of step ``h = ω_p / points_per_omega``
(``ω_p`` an exact multiple of ``h``: the ``±ω_p`` shifts are index shifts), plus ``ζ`` when it
evolves and ``E*²`` when the σ < 0 instability is followed.

Resolution: the narrowest feature of every distribution is the thermal step of width ``T`` at
μ (and its replicas at ``μ − jω_p``); it is resolved when ``h ≤ T``, i.e.
``points_per_omega ≥ ω_p/T`` (:attr:`PhotoexcitedMetal.min_points_per_omega`), and σ/σ_0 is
then within 0.01 of its converged value.  Coarser grids run (quick tests use them) but bias
σ/σ_0 by a few hundredths, and by up to 0.26 when the band holds only a few cells; results
store the minimum as ``points_per_omega_min`` and the CLI summary warns below it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import xarray as xr
from scipy import special
from scipy.sparse.csgraph import connected_components

from boltzphlow.errors import SolverError, shorten
from boltzphlow.integrate import SolverStats, get_integrator, integrate, steady_state
from boltzphlow.integrate.base import Counters
from boltzphlow.kinetics.photoexcited import collisions as coll
from boltzphlow.kinetics.photoexcited.dos import TRANSPORT_MODELS, Band, as_band
from boltzphlow.kinetics.photoexcited.parameters import MetalParameters as _P
from boltzphlow.parameters import parameter
from boltzphlow.resources import check_memory
from boltzphlow.stats import bose, fermi

Array = np.ndarray
DosInput = Band | str | Callable[[Array], Array] | tuple[Array, Array]

#: Largest number of energy cells (a bound on the run time; memory is checked separately).
MAX_CELLS = 2_000_000

#: Bytes per energy cell and per coupled pair of cells that building the model and solving
#: for a steady state take (measured peaks with tracemalloc, 400 and 180–1400 B; rounded up).
BYTES_PER_CELL = 400
BYTES_PER_PAIR = 1500

#: Bytes per stored state value of a time evolution (states, f, diagnostics, the checkpoint
#: views: measured 73–190 B per output and cell; rounded up).
BYTES_PER_OUTPUT_VALUE = 200

#: Largest number drift ``max |∫D f(t) dε − ∫D f(0) dε|`` a result may show (every term
#: conserves the number to round-off, ~1e-16 per step; see :meth:`PhotoexcitedMetal.number`).
NUMBER_DRIFT_TOLERANCE = 1e-10


def grid_cells(width: float, omega_p: float, points_per_omega: int) -> int:
    """Cells of step ``h = ω_p/points_per_omega`` that cover a band of ``width`` (units of W)."""
    return int(math.ceil(width / (omega_p / points_per_omega) - 1e-9))


def phonon_shift_range(points_per_omega: int, h: float, delta_omega: float,
                       dispersion: str = "gaussian") -> tuple[int, int]:
    """First and last phonon energy (in grid steps) of the Gaussian band of Eq. 52 (±3 δω,
    positive energies only), or of the three-point stencil of the diffusive limit
    (:func:`diffusive_shifts`); ``(m, m)`` for a dispersionless mode."""
    m = int(points_per_omega)
    if delta_omega <= 0:
        return m, m
    k = math.ceil(3 * delta_omega / h) if dispersion == "gaussian" else \
        math.ceil(delta_omega / h * (1 - 1e-12))
    return max(m - k, 1), m + k


def diffusive_shifts(points_per_omega: int, h: float, delta_omega: float
                     ) -> tuple[Array, Array]:
    r"""Phonon shifts and weights of the diffusive (second-order) limit of supplement Eq. 52.

    Expanding the pair flux ``R(ε, ω)`` of Eq. 52 to second order in ``δ = ω − ω_p`` and
    averaging over a symmetric phonon band (``⟨δ⟩ = 0``, ``⟨δ²⟩ = δω²``) gives
    ``St_el = St_el^(0) + (δω²/2) ∂²_ω St_el(ω)|_{ω_p}`` (docs/photoexcited.md, "Dispersive
    phonons to second order").  ``∂²_ω`` is taken by the central difference of step
    ``Δ = k h`` with ``k = ⌈δω/h⌉`` (the smallest step whose weights are all ≥ 0):
    shifts ``m − k, m, m + k`` with weights ``δω²/(2Δ²), 1 − δω²/Δ², δω²/(2Δ²)``.  The pair
    form keeps the number conserved exactly; the stencil reproduces the operator to
    ``O(Δ² δω²)``, the order of the neglected fourth-moment terms.
    """
    m = int(points_per_omega)
    k = max(math.ceil(delta_omega / h * (1 - 1e-12)), 1)
    r = (delta_omega / (k * h)) ** 2
    return np.array([m - k, m, m + k]), np.array([0.5 * r, 1.0 - r, 0.5 * r])


def eq10_conductivity(band: Band | str, mu: float, omega_p: float, *,
                      transport: str = "constant-v2tau", points: int = 4001) -> float:
    r"""The δ-function estimate of Eq. 10: ``σ/σ_0 ≈ Σ_j s(μ + jω_p) − (1/ω_p)∫ s dε``.

    ``s = σ̃/σ_0``; the sum runs over the ``j`` with ``μ + jω_p`` inside the band.  It takes
    ``−∂_ε f`` of the ω_p-periodic distribution (Eq. 8, T → 0) as unit downward jumps at
    ``μ + jω_p`` plus a uniform rise ``1/ω_p`` (main text, before Eq. 10).

    Parameters
    ----------
    band
        A :class:`~boltzphlow.kinetics.photoexcited.dos.Band` or a built-in name.
    mu, omega_p
        Chemical potential and phonon energy (units of W).
    transport
        τ_tr model, as for :class:`PhotoexcitedMetal`.
    points
        Cells of the midpoint rule for ``∫ s dε`` (cell averages: exact for the built-in
        bands).
    """
    band = as_band(band)
    edges = np.linspace(band.lo, band.hi, int(points) + 1)
    h = edges[1] - edges[0]
    what = {"constant-v2tau": "dos", "constant-tau": "dos*v2", "impurity": "v2",
            "constant-vtau": "dos*v"}[transport]
    s = band.cell_average(edges, what) if band.sigma_tilde is None else \
        band.cell_average(edges, "sigma_tilde")
    centres = 0.5 * (edges[1:] + edges[:-1])
    s_mu = float(np.interp(mu, centres, s))
    j = np.arange(math.floor((band.lo - mu) / omega_p), math.ceil((band.hi - mu) / omega_p) + 1)
    rungs = mu + j * omega_p
    rungs = rungs[(rungs > band.lo) & (rungs < band.hi)]
    return float(np.interp(rungs, centres, s).sum() / s_mu - s.sum() * h / s_mu / omega_p)


def model_memory(n_cells: int, first_shift: int, last_shift: int) -> float:
    """Estimated peak bytes of building a model on ``n_cells`` cells and solving it.

    St_el couples ``n − s`` pairs per shift ``s`` (shifts of at least ``n`` couple none);
    St_in and St_E couple neighbours.
    """
    lo, hi = first_shift, min(last_shift, n_cells - 1)
    shifts = max(hi - lo + 1, 0)
    pairs = shifts * n_cells - (lo + hi) * shifts / 2 + 2 * n_cells
    return BYTES_PER_CELL * n_cells + BYTES_PER_PAIR * pairs


def evolution_memory(n_out: int, state_size: int, runs: int = 1) -> float:
    """Estimated bytes of the states and results of an evolution with ``n_out`` outputs."""
    return BYTES_PER_OUTPUT_VALUE * float(n_out) * (state_size + 16) * runs


def phonon_temperature(omega_p: float, occupation: float) -> float:
    """``T*`` with ``ζ + b = 1/(e^{ω_p/T*} − 1)`` (the temperature of a pumped mode)."""
    if occupation <= 0:
        return 0.0
    if math.isinf(occupation):
        return math.inf
    return omega_p / math.log1p(1.0 / occupation)


@dataclass(frozen=True)
class Pump:
    """Phonon source ``I_p(t)`` of Eq. 3.

    Parameters
    ----------
    kind
        ``"exponential"``: ``I = ζ_0/τ e^{−t/τ}`` for ``t > 0`` (Fig. 3);
        ``"gaussian"``: ``I = ζ_0/(√(2π) τ) e^{−(t−t_0)²/2τ²}``;
        ``"steady"``: ``I = rate``.
    zeta0
        Phonons delivered by a pulse (its time integral).
    tau_pulse
        Pulse duration τ (1/Γ_eph).
    t0
        Centre of a Gaussian pulse.
    rate
        Steady source (phonons per 1/Γ_eph).
    """

    kind: Literal["exponential", "gaussian", "steady"] = parameter(
        "exponential", unit="-", doc="exponential: ζ0/τ e^(−t/τ) for t > 0 (Fig. 3); gaussian: "
        "ζ0/(√(2π) τ) e^(−(t−t0)²/2τ²); steady: the constant `rate`")
    zeta0: float = parameter(10.0, unit="1", ge=0,
                             doc="phonons delivered by a pulse (its time integral)")
    tau_pulse: float = parameter(0.3, unit="1/Γ_eph", gt=0, doc="pulse duration τ")
    t0: float = parameter(1.0, unit="1/Γ_eph", doc="centre of a gaussian pulse")
    rate: float = parameter(0.0, unit="Γ_eph", ge=0,
                            doc="phonons injected per 1/Γ_eph by a steady pump")

    def __post_init__(self) -> None:
        if self.kind not in ("exponential", "gaussian", "steady"):
            raise ValueError(f"unknown pump kind {self.kind!r} "
                             "(exponential, gaussian or steady)")
        if self.kind != "steady" and not (self.zeta0 >= 0 and self.tau_pulse > 0):
            raise ValueError("a pump pulse needs zeta0 >= 0 and tau_pulse > 0")
        if self.kind == "steady" and not self.rate >= 0:
            raise ValueError("a steady pump needs rate >= 0")

    def __call__(self, t: float) -> float:
        """``I_p(t)``."""
        if self.kind == "steady":
            return self.rate
        if self.kind == "exponential":
            return self.zeta0 / self.tau_pulse * math.exp(-t / self.tau_pulse) if t >= 0 else 0.0
        x = (t - self.t0) / self.tau_pulse
        return self.zeta0 / (math.sqrt(2 * math.pi) * self.tau_pulse) * math.exp(-0.5 * x * x)

    def times_to_resolve(self) -> float:
        """Largest first step that resolves the pulse."""
        return 0.05 * self.tau_pulse if self.kind != "steady" else math.inf


class PhotoexcitedMetal:
    r"""Electron distribution ``f(ε, t)`` and pumped phonon occupation ``ζ(t)`` (Eqs. 2–3).

    .. math::
        \partial_t f + \mathrm{St}_E = \mathrm{St}_{in} + \mathrm{St}_{el},\qquad
        \partial_t \zeta = \mathrm{St}_{ph} + I_p(t) - \zeta/\tau_{ph}.

    Parameters
    ----------
    dos
        Band: a callable ``D(ε)`` on ``[-1/2, 1/2]``, a table ``(eps, D)``, a built-in name
        (``"semi-elliptic"``, ``"sqrt-edge"``, ``"linear-ramp"``, ``"cosine-1d"``,
        ``"p-band"``) or a :class:`~boltzphlow.kinetics.photoexcited.dos.Band`.
    mu, T
        Chemical potential and temperature of the initial Fermi–Dirac distribution and of the
        bath of St_in (units of W).  ``filling`` (fraction of the states occupied) may be
        given instead of ``mu``.
    omega_p
        Phonon energy (units of W), an exact multiple of the grid step.
    zeta
        Non-equilibrium phonon occupation: fixed (``fixed_zeta=True``, Figs. 1, 2, 5, 6) or
        its initial value.
    gamma_eph, gamma_in
        Γ_eph (Eq. 4) and Γ_in (Eq. 6) in units of Γ_eph (``gamma_eph`` rescales St_el;
        0 switches it off, e.g. to test St_in alone).
    tau_ph
        Phonon decay time (Eq. 3), ``inf`` for none.
    field
        Applied field ``ℰ`` (Eq. 7; see the module docstring for its unit).
    points_per_omega
        Grid cells per ``ω_p``: ``h = ω_p / points_per_omega``.
    v2, sigma_tilde
        ⟨v²⟩(ε) and σ̃(ε) (callables; a table's v² may be an array).
    transport
        τ_tr model (footnote 19): ``"constant-v2tau"`` (σ̃ ∝ D; default), ``"constant-tau"``
        (σ̃ ∝ D v²), ``"impurity"`` (σ̃ ∝ v²), ``"constant-vtau"`` (σ̃ ∝ D v).
    delta_omega
        Width (standard deviation) of a Gaussian phonon band (Eq. 52); 0 for a dispersionless
        mode.  Must be 0 or between one grid step and ``ω_p/3`` (the band, cut at ±3 δω, then
        holds positive phonon energies only).
    dispersion
        ``"gaussian"``: St_el averaged over the Gaussian band (Eq. 52); ``"diffusive"``: its
        expansion to second order in ``ω − ω_p`` (:func:`diffusive_shifts`), the energy
        diffusion that replaces supplement Eq. 53.
    pump
        :class:`Pump` (needs ``fixed_zeta=False``).
    instability
        Follow the σ < 0 instability with a self-consistent internal field ``E*(t)``:
        ``True`` or ``"constraint"``: ``E*²`` is the smallest field that keeps σ ≥ 0, from
        ``dσ/dt = a·(St(f) + E*² G(f)) = −σ/τ_M`` whenever that needs ``E*² > 0`` (σ = a·f is
        linear in f, G is St_E per unit ℰ²), i.e. σ(t, E*) = 0 as in the paper, with σ
        relaxing to 0 over ``τ_M``; ``"maxwell"``: ``E*²`` is a state variable growing by
        Maxwell's law ``dE*²/dt = (2/τ_M)(−(σ/σ_0) E*² + E_seed²)`` (fluctuations grow at
        ``4π|σ|`` when σ < 0); it overshoots when τ_M is not ≪ 1/Γ_eph.
    tau_maxwell
        ``τ_M`` above (1/Γ_eph): the dielectric relaxation time ``1/(4πσ_0)``, far below
        every kinetic time in a metal; a numerical parameter here.
    field_seed
        ``E_seed`` (thermal field fluctuations that seed the ``"maxwell"`` instability).

    Raises
    ------
    ValueError
        For ω_p ≤ 0, T < 0, a DoS negative somewhere or zero everywhere, μ outside the band
        (or where D = 0), and other inconsistent input; messages name the parameter.
    boltzphlow.errors.ResourceError
        When the grid (``points_per_omega``, ``omega_p``, ``delta_omega``) would not fit in
        memory (a ``ValueError`` too).
    """

    def __init__(self, dos: DosInput, mu: float | None = 0.0, T: float = _P.T,
                 omega_p: float = _P.omega_p, zeta: float = _P.zeta,
                 fixed_zeta: bool = _P.fixed_zeta, gamma_eph: float = _P.gamma_eph,
                 gamma_in: float = _P.gamma_in, tau_ph: float = _P.tau_ph,
                 field: float = _P.field, points_per_omega: int = _P.points_per_omega, *,
                 filling: float | None = None, v2: Any = None,
                 sigma_tilde: Callable[[Array], Array] | None = None,
                 transport: str = _P.transport, delta_omega: float = _P.delta_omega,
                 dispersion: str = _P.dispersion, pump: Pump | None = None,
                 instability: bool | str = _P.instability,
                 tau_maxwell: float = _P.tau_maxwell, field_seed: float = _P.field_seed
                 ) -> None:
        _check_finite(omega_p=omega_p, T=T, zeta=zeta, gamma_eph=gamma_eph,
                      gamma_in=gamma_in, field=field, delta_omega=delta_omega,
                      tau_maxwell=tau_maxwell, field_seed=field_seed)
        if not omega_p > 0:
            raise ValueError(f"omega_p must be > 0, got {omega_p}")
        if not T >= 0:
            raise ValueError(f"the temperature T must be >= 0, got {T}")
        if not zeta >= 0:
            raise ValueError(f"zeta must be >= 0, got {zeta}")
        if not gamma_eph >= 0:
            raise ValueError(f"gamma_eph must be >= 0, got {gamma_eph}")
        if not gamma_in >= 0:
            raise ValueError(f"gamma_in must be >= 0, got {gamma_in}")
        if not (tau_ph > 0):
            raise ValueError(f"tau_ph must be > 0 (inf for no decay), got {tau_ph}")
        if not field >= 0:
            raise ValueError(f"field must be >= 0, got {field}")
        if not delta_omega >= 0:
            raise ValueError(f"delta_omega must be >= 0, got {delta_omega}")
        if delta_omega > omega_p / 3:
            raise ValueError(f"delta_omega = {delta_omega:g} exceeds omega_p/3 = "
                             f"{omega_p / 3:.4g}: the Gaussian phonon band of Eq. 52 (cut at "
                             "3 delta_omega) would reach zero phonon energy")
        if dispersion not in ("gaussian", "diffusive"):
            raise ValueError(f"dispersion must be 'gaussian' or 'diffusive', got "
                             f"{shorten(dispersion)}")
        if not (isinstance(points_per_omega, int | np.integer)
                and not isinstance(points_per_omega, bool) and points_per_omega >= 2):
            raise ValueError(f"points_per_omega must be an integer >= 2, got "
                             f"{shorten(points_per_omega)}")
        if transport not in TRANSPORT_MODELS:
            raise ValueError(f"unknown transport model {transport!r} "
                             f"(one of {', '.join(TRANSPORT_MODELS)})")
        if pump is not None and fixed_zeta:
            raise ValueError("a pump drives zeta(t): set fixed_zeta=False")
        if instability and field > 0:
            raise ValueError("give either an applied field or instability=True, not both")
        if not (tau_maxwell > 0 and field_seed > 0):
            raise ValueError("tau_maxwell and field_seed must be > 0")

        band = as_band(dos, v2=v2, sigma_tilde=sigma_tilde)
        self.band = band
        self.T = float(T)
        self.omega_p = float(omega_p)
        self.zeta = float(zeta)
        self.fixed_zeta = bool(fixed_zeta)
        self.gamma_eph = float(gamma_eph)
        self.gamma_in = float(gamma_in)
        self.tau_ph = float(tau_ph)
        self.field = float(field)
        self.points_per_omega = int(points_per_omega)
        self.transport = transport
        self.delta_omega = float(delta_omega)
        self.dispersion = dispersion
        self.pump = pump
        models = {False: None, True: "constraint", "constraint": "constraint",
                  "maxwell": "maxwell", "none": None}
        if instability not in models:
            raise ValueError(f"instability must be true/false, 'constraint' or 'maxwell', "
                             f"got {instability!r}")
        self.instability_model = models[instability]
        self.instability = self.instability_model is not None
        self._field_state = self.instability_model == "maxwell"
        self.tau_maxwell = float(tau_maxwell)
        self.field_seed = float(field_seed)

        # ---- grid: ω_p = points_per_omega · h exactly
        h = self.omega_p / self.points_per_omega
        n = grid_cells(band.hi - band.lo, self.omega_p, self.points_per_omega)
        if n < 2 or n > MAX_CELLS:
            raise ValueError(f"points_per_omega = {self.points_per_omega} gives {n} energy "
                             f"cells over the band (width {band.hi - band.lo:.4g}): choose it "
                             f"so that 2 <= cells <= {MAX_CELLS}")
        first, last = phonon_shift_range(self.points_per_omega, h, self.delta_omega,
                                         dispersion)
        keys = ["points_per_omega", "omega_p"] + (["delta_omega"] if delta_omega > 0 else [])
        check_memory(model_memory(n, first, last),
                     f"the energy grid ({n} cells, phonon shifts {first}..{last})", keys)
        self.h = h
        self.edges = band.lo + h * np.arange(n + 1)
        self.eps = 0.5 * (self.edges[1:] + self.edges[:-1])
        d = band.cell_average(self.edges, "dos")
        if np.any(d < -1e-12 * d.max()):
            raise ValueError("the density of states is negative somewhere")
        d = np.maximum(d, 0.0)
        total = float(np.sum(d) * h)
        if not total > 0:
            raise ValueError("the density of states is zero everywhere")
        self.dos = d / total  # ∫ D dε = 1
        self.active = self.dos > 0
        self._dos_safe = np.where(self.active, self.dos, 1.0)

        # ---- chemical potential
        if filling is not None:
            if mu not in (None, 0.0):
                raise ValueError("give either mu or filling, not both")
            if not 0 < filling < 1:
                raise ValueError(f"filling must lie in (0, 1), got {filling}")
            mu = self.mu_for_filling(float(filling))
        if mu is None or not np.isfinite(mu):
            raise ValueError("mu must be a finite number (or give filling)")
        if not band.lo < mu < band.hi:
            raise ValueError(f"mu = {mu} lies outside the band [{band.lo}, {band.hi}]")
        self.mu = float(mu)
        self.dos_fermi = float(np.interp(self.mu, self.eps, self.dos))
        if not self.dos_fermi > 0:
            raise ValueError(f"the density of states vanishes at mu = {mu}")

        # ---- transport: s = σ̃/σ_0 at cell interfaces (Eq. 9)
        if band.sigma_tilde is not None:
            s_cell = band.cell_average(self.edges, "sigma_tilde")
        else:
            what = {"constant-v2tau": "dos", "constant-tau": "dos*v2", "impurity": "v2",
                    "constant-vtau": "dos*v"}[transport]
            s_cell = band.cell_average(self.edges, what)
        if np.any(s_cell < 0) or not np.all(np.isfinite(s_cell)):
            raise ValueError("sigma_tilde must be finite and nonnegative")
        s_cell = np.where(self.active, s_cell, 0.0)
        s_mu = float(np.interp(self.mu, self.eps, s_cell))
        if not s_mu > 0:
            raise ValueError("sigma_tilde vanishes at mu: sigma_0 would be zero")
        self.s_cell = s_cell / s_mu
        self.s_interface = 0.5 * (self.s_cell[1:] + self.s_cell[:-1])
        # σ/σ_0 = a · f  with  a_i = s_{i+1/2} − s_{i−1/2}
        self._sigma_weights = np.concatenate([self.s_interface, [0.0]]) - np.concatenate(
            [[0.0], self.s_interface])

        # ---- phonon shifts (Eq. 52 for a dispersive mode)
        m = self.points_per_omega
        if self.delta_omega > 0:
            if self.delta_omega < h:
                raise ValueError(f"delta_omega = {delta_omega} is below the grid step {h:.3g}: "
                                 "raise points_per_omega")
            if dispersion == "diffusive":
                self.shifts, self.shift_weights = diffusive_shifts(m, h, self.delta_omega)
            else:
                k = np.arange(first, last + 1) - m
                w = np.exp(-0.5 * (k * h / self.delta_omega) ** 2)
                self.shifts, self.shift_weights = m + k, w / w.sum()
        else:
            self.shifts, self.shift_weights = np.array([m]), np.array([1.0])
        self.bose_shifts = bose(self.shifts * h, self.T)
        self.b = float(bose(self.omega_p, self.T))

        self._el = coll.phonon_pairs(self.dos, self.shifts, self.shift_weights,
                                     self.gamma_eph, self.bose_shifts)
        self._bath = (coll.bath_pairs(self.dos, h, self.T, self.gamma_in, self.dos_fermi)
                      if self.gamma_in > 0 else None)
        self._field1 = coll.field_pairs(self.dos, h, self.s_interface, self.dos_fermi)
        self._jac_field1, _ = coll.jacobian_f([self._field1], np.zeros(n), self._dos_safe)
        self._jac_bath_cache: tuple[Array, sp.csr_matrix] | None = None
        self.f_initial = np.where(self.active, fermi(self.eps, self.mu, self.T), 0.0)

    # ------------------------------------------------------------------ helpers
    @property
    def n_cells(self) -> int:
        """Number of energy cells."""
        return self.eps.size

    @property
    def min_points_per_omega(self) -> int:
        """Smallest ``points_per_omega`` that resolves the thermal step (``h ≤ T``): 0 at T = 0.

        Measured (semi-elliptic band, μ = 0, ζ = 20, T = 0.003 and 0.02, five ω_p from 0.25 to
        0.8): at ``h = T`` σ/σ_0 is within 0.01 of its value at 1600 cells per ω_p; at
        ``points_per_omega = 3`` it is off by up to 0.26, with the wrong sign at ω_p = 0.8.
        """
        if self.T <= 0:
            return 0
        return int(math.ceil(self.omega_p / self.T * (1 - 1e-12)))

    @property
    def dynamic_zeta(self) -> bool:
        """Whether ζ is part of the state."""
        return not self.fixed_zeta

    def mu_for_filling(self, filling: float) -> float:
        """Chemical potential at which the Fermi function at ``T`` fills ``filling`` states."""
        lo, hi = self.edges[0] - 50 * self.T, self.edges[-1] + 50 * self.T
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if self.number(fermi(self.eps, mid, self.T)) < filling:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def number(self, f: Array) -> float:
        """Electrons per site ``∫ D f dε`` (the grid sum ``Σ h D_i f_i``)."""
        return float(self.h * np.dot(self.dos, f))

    def energy(self, f: Array) -> float:
        """Electron energy ``∫ ε D f dε`` (units of W)."""
        return float(self.h * np.dot(self.dos * self.eps, f))

    def entropy(self, f: Array) -> float:
        """Electron entropy ``−∫ D [f ln f + (1−f) ln(1−f)] dε``."""
        return float(-self.h * np.dot(self.dos, special.xlogy(f, f) + special.xlogy(1 - f, 1 - f)))

    def conductivity(self, f: Array) -> float:
        """``σ/σ_0 = ∫ (σ̃/σ_0)(−∂f/∂ε) dε`` (Eq. 9) as ``Σ s_{i+½} (f_i − f_{i+1})``."""
        return float(np.dot(self._sigma_weights, f))

    def conductivity_density(self, f: Array) -> Array:
        """``(σ̃/σ_0)(−∂f/∂ε)`` at the cell interfaces (integrand of Eq. 9)."""
        return self.s_interface * (f[:-1] - f[1:]) / self.h

    def phonon_temperature(self, zeta: float | None = None) -> float:
        """``T*`` of the mode with occupation ``ζ + b``."""
        return phonon_temperature(self.omega_p, (self.zeta if zeta is None else zeta) + self.b)

    # ------------------------------------------------------------------ the kinetic equations
    def _unpack(self, y: Array) -> tuple[Array, float, float]:
        n = self.n_cells
        f = y[:n]
        zeta = y[n] if self.dynamic_zeta else self.zeta
        x = y[-1] if self._field_state else self.field**2
        return f, float(zeta), float(x)

    def state_size(self) -> int:
        """Length of the state vector ``(f, [ζ], [E*²])``."""
        return self.n_cells + int(self.dynamic_zeta) + int(self._field_state)

    def pack(self, f: Array, zeta: float | None = None, field2: float | None = None) -> Array:
        """State vector from ``f`` (and ``ζ``, ``E*²`` where they are evolved)."""
        parts = [np.asarray(f, float)]
        if self.dynamic_zeta:
            parts.append(np.array([self.zeta if zeta is None else zeta]))
        if self._field_state:
            parts.append(np.array([self.field_seed**2 if field2 is None else field2]))
        return np.concatenate(parts)

    def collision_rates(self, f: Array, zeta: float | None = None, field2: float | None = None
                        ) -> dict[str, Array | float]:
        """The separate terms of Eqs. 2–3 at a state: ``St_el``, ``St_in``, ``St_E`` (as
        ``∂f/∂t`` contributions, i.e. St_E with the sign of the right-hand side) and ``St_ph``.
        """
        zeta = self.zeta if zeta is None else zeta
        x = self.field**2 if field2 is None else field2
        d = self._dos_safe
        st_el = coll.rate_of_change(self._el, f, d, zeta)
        st_in = (coll.rate_of_change([self._bath], f, d) if self._bath is not None
                 else np.zeros_like(f))
        st_e = x * coll.rate_of_change([self._field1], f, d)
        st_ph = self.h * sum(float(np.sum(t.flux(f, zeta))) for t in self._el)
        return {"St_el": st_el, "St_in": st_in, "St_E": st_e, "St_ph": st_ph}

    def internal_field2(self, f: Array, df_without_field: Array) -> float:
        """``E*²`` of the ``"constraint"`` instability at a state (0 when σ needs no help)."""
        a = self._sigma_weights
        gain = float(a @ (self._jac_field1 @ f))  # dσ/dt per unit E²
        if gain <= 0:
            return 0.0
        demand = -(float(a @ df_without_field) + self.conductivity(f) / self.tau_maxwell)
        return max(demand / gain, 0.0)

    def rhs(self, t: float, y: Array) -> Array:
        """``dy/dt`` of Eqs. 2–3 (and of ``E*²``)."""
        f, zeta, x = self._unpack(y)
        d = self._dos_safe
        terms = list(self._el)
        if self._bath is not None:
            terms.append(self._bath)
        df = coll.rate_of_change(terms, f, d, zeta)
        if self.instability_model == "constraint":
            x = self.internal_field2(f, df)
        if x > 0:
            df += x * (self._jac_field1 @ f)
        out = [df]
        if self.dynamic_zeta:
            st_ph = self.h * sum(float(np.sum(term.flux(f, zeta))) for term in self._el)
            source = self.pump(t) if self.pump is not None else 0.0
            out.append(np.array([st_ph + source - zeta / self.tau_ph]))
        if self._field_state:
            sigma = self.conductivity(f)
            out.append(np.array([2.0 / self.tau_maxwell * (-sigma * x + self.field_seed**2)]))
        return np.concatenate(out)

    def jacobian(self, t: float, y: Array) -> sp.csc_matrix:
        """Sparse ``∂(dy/dt)/∂y`` (banded in f: offsets 0, ±1, ±ω_p/h; dense ζ, E*² row/column).

        For the ``"constraint"`` instability the dependence of ``E*²`` on the state (a dense
        rank-one term) is left out: the integrator's Newton iteration converges without it.
        """
        f, zeta, x = self._unpack(y)
        n = self.n_cells
        if self.instability_model == "constraint":
            x = self._constraint_field2(t, y)
        jac_f, dz = coll.jacobian_f(self._el, f, self._dos_safe, zeta)
        if self._bath is not None:
            jac_f = jac_f + self._bath_jacobian(f)
        if x > 0:
            jac_f = jac_f + x * self._jac_field1
        if not (self.dynamic_zeta or self._field_state):
            return jac_f.tocsc()
        blocks: list[list[Any]] = [[jac_f]]
        if self.dynamic_zeta:
            row = np.zeros(n)
            dzz = 0.0
            for term in self._el:
                d_lo, d_hi, d_z = term.flux_derivatives(f, zeta)
                row += np.bincount(term.lo, d_lo, minlength=n)
                row += np.bincount(term.hi, d_hi, minlength=n)
                dzz += float(np.sum(d_z))
            blocks[0].append(sp.csr_matrix(dz[:, None]))
            blocks.append([sp.csr_matrix(self.h * row[None, :]),
                           sp.csr_matrix([[self.h * dzz - 1.0 / self.tau_ph]])])
        if self._field_state:
            g = self._jac_field1 @ f
            blocks[0].append(sp.csr_matrix(g[:, None]))
            if self.dynamic_zeta:
                blocks[1].append(None)
            rate = 2.0 / self.tau_maxwell
            last = [sp.csr_matrix(-rate * x * self._sigma_weights[None, :])]
            if self.dynamic_zeta:
                last.append(None)
            last.append(sp.csr_matrix([[-rate * self.conductivity(f)]]))
            blocks.append(last)
        return sp.bmat(blocks, format="csc")

    def _constraint_field2(self, t: float, y: Array) -> float:
        f, zeta, _ = self._unpack(y)
        terms = list(self._el) + ([self._bath] if self._bath is not None else [])
        return self.internal_field2(f, coll.rate_of_change(terms, f, self._dos_safe, zeta))

    def _bath_jacobian(self, f: Array) -> sp.csr_matrix:
        jac, _ = coll.jacobian_f([self._bath], f, self._dos_safe)
        return jac

    # ------------------------------------------------------------------ steady state
    def steady_state(self, tol: float = 1e-12, max_iter: int = 300, f0: Array | None = None
                     ) -> xr.Dataset:
        """Steady state of Eq. 2 at fixed ζ (or with ζ under a steady pump) by Newton's method.

        :func:`boltzphlow.integrate.steady_state` with the sparse Jacobian (sparse LU):
        pseudo-transient continuation, each iteration an implicit-Euler step
        ``(I/δ − J) Δy = F(y)`` of growing pseudo time δ, so every conserved number (one per
        ladder ``ε + jω_p`` when St_el acts alone, the total number otherwise) is kept
        exactly while the iteration ends as Newton's method; after every step the numbers'
        round-off drift is undone (:meth:`_restore_numbers`) and ``0 ≤ f ≤ 1`` kept.
        Converged when ``max |dy/dt| < tol · r`` with ``r`` the fastest relaxation rate
        (largest diagonal element of the Jacobian at the start), so that ``tol`` bounds the
        relative residual.

        Returns
        -------
        xarray.Dataset
            ``f(eps)``, ``f_T``, ``dos``, ``sigma_tilde``, ``sigma`` (σ/σ_0), ``zeta``,
            ``number``, ``energy``, ``entropy``, ``T_star``; attrs with conventions,
            ``iterations``, ``residual`` and the solver statistics (``solver_*``).

        Raises
        ------
        boltzphlow.errors.SolverError
            If the iteration does not converge (a ``ValueError``).
        """
        if self.instability:
            raise ValueError("instability: the steady state takes a fixed field; use evolve() "
                             "(task = \"evolve\") for E*(t)")
        t0 = time.perf_counter()
        y = self.pack(self.f_initial if f0 is None else f0)
        n = self.n_cells
        components, labels = self._conserved_components()
        number0 = np.bincount(labels, self.h * self.dos * y[:n], minlength=components)
        upper = np.full(y.size, np.inf)
        upper[:n] = 1.0

        def project(yy: Array) -> Array:
            out = yy.copy()
            out[:n] = self._restore_numbers(np.clip(yy[:n], 0.0, 1.0), labels, number0)
            return out

        res = steady_state(self, y, tol=tol, max_iter=max_iter, upper=upper, project=project,
                           y_floor=0.0)
        if not res.success:
            raise SolverError(f"steady state: {res.message}; loosen solver.tol (tol) or "
                              "refine points_per_omega")
        f, zeta, x = self._unpack(res.y)
        ds = self._distribution_dataset(f, zeta)
        ds.attrs.update(task="steady-state", iterations=res.iterations,
                        residual=res.residual, solve_time_s=time.perf_counter() - t0,
                        **res.stats.attrs())
        return ds

    def _conserved_components(self) -> tuple[int, Array]:
        """Sets of cells connected by some collision term: each conserves its number."""
        n = self.n_cells
        terms = list(self._el) + [self._field1] if (self.field > 0) else list(self._el)
        if self._bath is not None:
            terms.append(self._bath)
        rows = np.concatenate([t.lo for t in terms] + [np.arange(n)])
        cols = np.concatenate([t.hi for t in terms] + [np.arange(n)])
        graph = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
        count, labels = connected_components(graph, directed=False)
        return int(count), labels

    def _restore_numbers(self, f: Array, labels: Array, number0: Array) -> Array:
        """Undo the round-off drift of each component's number (the implicit steps amplify
        round-off by up to δ‖J‖): ``f += λ_k f(1−f)`` keeps ``0 ≤ f ≤ 1``."""
        weight = self.h * self.dos
        for _ in range(2):
            number = np.bincount(labels, weight * f, minlength=number0.size)
            room = np.bincount(labels, weight * f * (1 - f), minlength=number0.size)
            lam = np.where(room > 0, (number0 - number) / np.where(room > 0, room, 1.0), 0.0)
            f = np.clip(f + lam[labels] * f * (1 - f), 0.0, 1.0)
        return f

    # ------------------------------------------------------------------ time evolution
    def output_times(self, t_end: float, n_out: int = 101) -> Array:
        """``n_out`` equally spaced output times from 0 to ``t_end``."""
        if not (math.isfinite(t_end) and t_end > 0):
            raise ValueError(f"t_end must be a finite time > 0, got {t_end}")
        if not (isinstance(n_out, int | np.integer) and not isinstance(n_out, bool)
                and n_out >= 2):
            raise ValueError(f"n_out must be an integer >= 2, got {shorten(n_out)}")
        check_memory(evolution_memory(n_out, self.state_size()),
                     f"the time evolution ({n_out} outputs x {self.n_cells} cells)",
                     ["n_out", "points_per_omega"])
        return np.linspace(0.0, float(t_end), int(n_out))

    def evolve(self, t_end: float = 10.0, n_out: int = 101, *, t_out: Array | None = None,
               rtol: float = 1e-6, atol: float = 1e-10, method: str = "bdf",
               resume: xr.Dataset | None = None,
               callback: Callable[[xr.Dataset], None] | None = None,
               progress: Callable[[float, float], None] | None = None) -> xr.Dataset:
        """Integrate Eqs. 2–3 from the equilibrium distribution (or ``resume``) over ``t_out``.

        The model is the :class:`~boltzphlow.integrate.OdeProblem` (``rhs(t, y)``, the sparse
        analytic ``jacobian(t, y)``, :meth:`max_step`) handed to
        :func:`boltzphlow.integrate.integrate` with ``method``, a name of the integrator
        registry (case-insensitive, so the SciPy names ``"BDF"``, ``"Radau"``, ``"LSODA"``
        of older configs still work; default ``"bdf"``).  Each output interval is a segment
        started with the step proposed at the end of the previous one (stored as ``step``, so
        a resumed run repeats an uninterrupted one exactly); the number ``∫ D f`` is a linear
        invariant of every Newton correction, so it is conserved to round-off.

        ``resume`` is a partial result of this model (its first records): the state is read
        back bitwise (``f``, ``zeta`` and ``field_squared``), and every derived quantity is
        computed record by record, so that the resumed result equals an uninterrupted one
        bit for bit.  It must hold this model's energy grid, DoS, initial distribution and
        output times.

        Returns
        -------
        xarray.Dataset
            ``f(t, eps)``, ``zeta(t)``, ``sigma(t)``, ``field(t)`` (E*), ``field_squared(t)``,
            ``omega_E(t)``, ``number(t)``, ``energy(t)``, ``entropy(t)``,
            ``entropy_production(t)``, ``pump(t)``, ``step(t)`` plus ``dos``, ``f_T``,
            ``sigma_tilde`` and ``points_per_omega_min``; the solver's statistics in the
            attributes (``solver_status``, ``solver_nfev``, ``solver_option_rtol``... of
            :meth:`~boltzphlow.integrate.SolverStats.attrs`; summed over a resumed run).

        Raises
        ------
        ValueError
            For bad output times, method or tolerances, or a ``resume`` that belongs to
            another model.
        boltzphlow.errors.SolverError
            When the integrator fails (a ``ValueError``).
        """
        if t_out is None:
            t_out = self.output_times(t_end, n_out)
        else:
            t_out = np.asarray(t_out, float)
            if t_out.ndim != 1 or t_out.size < 2 or not np.all(np.isfinite(t_out)) or np.any(
                    np.diff(t_out) <= 0):
                raise ValueError("output times must be finite and increasing, at least two")
            check_memory(evolution_memory(t_out.size, self.state_size()),
                         f"the time evolution ({t_out.size} outputs x {self.n_cells} cells)",
                         ["n_out", "points_per_omega"])
        try:
            scheme = get_integrator(method)
            settings = scheme.resolve_options(rtol=rtol, atol=atol)
        except ValueError as exc:
            raise ValueError(f"solver.method: {shorten(str(exc), 200)}") from None
        states = np.empty((t_out.size, self.state_size()))
        diagnostics = np.full((t_out.size, len(_DIAGNOSTICS)), np.nan)
        steps = np.full(t_out.size, np.nan)  # integrator step to continue with, per output
        if self.pump is not None and self.pump.kind != "steady":
            steps[0] = self.pump.times_to_resolve()
        start = 0
        if resume is not None:
            done = self.check_resume(resume, t_out)
            for k in range(done):
                states[k] = self._state_from_dataset(resume, k)
                diagnostics[k] = self._diagnostics(t_out[k], states[k])
            if "step" in resume:
                steps[:done] = resume["step"].to_numpy()
            start = done - 1
        else:
            states[0] = self.pack(self.f_initial)
            diagnostics[0] = self._diagnostics(t_out[0], states[0])
        t0 = time.perf_counter()
        counters = Counters()
        if resume is not None:  # the work done before the checkpoint
            for name in ("nfev", "njev", "nlu", "steps", "rejected"):
                setattr(counters, name, int(resume.attrs.get(f"solver_{name}", 0)))

        def on_output(k: int, t: float, y: Array, dt_next: float) -> None:
            j = start + k  # rows 0..j are final: views, not copies
            states[j] = y
            diagnostics[j] = self._diagnostics(t_out[j], y)
            steps[j] = dt_next
            if progress is not None:
                progress(float(t_out[j] - t_out[0]), float(t_out[-1] - t_out[0]))
            if callback is not None:
                partial = SolverStats(scheme.name, True, f"reached t = {t:g}",
                                      nfev=counters.nfev, njev=counters.njev, nlu=counters.nlu,
                                      steps=counters.steps, rejected=counters.rejected,
                                      options=settings)
                ds = self._evolution_dataset(t_out[: j + 1], states[: j + 1],
                                             steps[: j + 1].copy(), diagnostics[: j + 1])
                ds.attrs.update(partial.attrs())
                callback(ds)

        stats = SolverStats(scheme.name, True, "reached the final time", options=settings)
        if start < t_out.size - 1:
            first = None if np.isnan(steps[start]) else float(steps[start])
            res = integrate(self, states[start], t_out[start:], scheme, dt0=first,
                            callback=on_output, counters=counters, **settings)
            if not res.success:
                raise SolverError(f"time integration failed at t = {res.t[-1]:g}: "
                                  f"{shorten(res.reason, 100)}; tighten solver.rtol/solver.atol "
                                  "or try another solver.method")
            stats = res.stats
        ds = self._evolution_dataset(t_out, states, steps, diagnostics)
        ds.attrs.update(stats.attrs(), solve_time_s=time.perf_counter() - t0)
        return ds

    def check_resume(self, resume: xr.Dataset, t_out: Array) -> int:
        """Check that ``resume`` is a partial evolution of this model; return its records.

        Raises
        ------
        ValueError
            One line saying what differs: output times, energy grid, DoS, initial
            distribution, variables or shapes.
        """
        why = "cannot resume from this result: "
        if resume.attrs.get("model", "photoexcited") != "photoexcited":
            raise ValueError(why + f"it holds a {shorten(resume.attrs['model'])} result")
        done = int(resume.sizes.get("t", 0))
        if done < 1:
            raise ValueError(why + "it holds no time records")
        missing = [name for name in ("f", "zeta", "field", "eps") if name not in resume.variables]
        if missing:
            raise ValueError(why + f"it lacks {', '.join(missing)} (a result without "
                             "distributions cannot be continued)")
        times = resume["t"].to_numpy()
        if done > t_out.size or not np.array_equal(times, t_out[:done]):
            raise ValueError(why + f"its {done} output times are not the first of the "
                             f"{t_out.size} from 0 to {t_out[-1]:g} (run.t_end, run.n_out)")
        eps = resume["eps"].to_numpy()
        if eps.shape != self.eps.shape or not np.array_equal(eps, self.eps):
            raise ValueError(why + f"its energy grid ({eps.size} cells) is not the config's "
                             f"({self.n_cells} cells; omega_p, points_per_omega, dos)")
        for name, mine, keys in (("dos", self.dos, "dos, dos_file, p_band"),
                                 ("f_T", self.f_initial, "mu, filling, T")):
            if name in resume and not np.array_equal(resume[name].to_numpy(), mine):
                raise ValueError(why + f"its {name} differs from the config's ({keys})")
        if resume["f"].dims != ("t", "eps") or resume["zeta"].dims != ("t",):
            raise ValueError(why + "its f or zeta has other dimensions than (t, eps) and (t)")
        for name in ("f", "zeta", "field", "field_squared"):
            if name in resume and not np.all(np.isfinite(resume[name].to_numpy())):
                raise ValueError(why + f"its {name} is not finite everywhere")
        return done

    def _diagnostics(self, t: float, y: Array) -> Array:
        """The derived quantities of one record (:data:`_DIAGNOSTICS`), one record at a time so
        that a resumed run reproduces them bitwise."""
        n = self.n_cells
        f, _, x = self._unpack(y)
        if self.instability_model == "constraint":
            x = self._constraint_field2(t, y)
        a = self._sigma_weights
        fdot = self.rhs(t, y)[:n]
        fc = np.clip(f, 1e-300, 1.0)
        gc = np.clip(1.0 - f, 1e-300, 1.0)
        return np.array([
            x,
            float(np.dot(a, f)),
            x * float(np.dot(self._jac_field1 @ f, a)),
            self.number(f),
            self.energy(f),
            self.entropy(f),
            self.h * float(np.sum(self.dos * np.log(gc / fc) * fdot)),
            self.pump(t) if self.pump is not None else 0.0,
        ])

    def max_step(self, ta: float, tb: float) -> float:
        """Largest integrator step inside ``[ta, tb]``: half the pulse duration while a
        gaussian pump pulse (± 5 τ) overlaps the interval, unbounded otherwise."""
        if self.pump is None or self.pump.kind == "steady":
            return math.inf
        if self.pump.kind == "gaussian" and ta - 5 * self.pump.tau_pulse < self.pump.t0 < (
                tb + 5 * self.pump.tau_pulse):
            return self.pump.tau_pulse / 2
        return math.inf

    def _state_from_dataset(self, ds: xr.Dataset, k: int) -> Array:
        f = ds["f"].isel(t=k).to_numpy()
        x = (float(ds["field_squared"][k]) if "field_squared" in ds
             else float(ds["field"][k]) ** 2)  # older results: E*² only to an ulp
        return self.pack(f, float(ds["zeta"][k]), x)[: self.state_size()]

    # ------------------------------------------------------------------ exact solutions
    def ladder_equilibrium(self, zeta: float | None = None, f0: Array | None = None) -> Array:
        """Exact steady state of St_el alone (no St_in, no field): on every ladder
        ``ε + jω_p`` a Fermi function at the phonon temperature ``T*`` (``ζ + b =
        1/(e^{ω_p/T*} − 1)``) holding the ladder's number of ``f0`` (default: ``f_T``).

        Detailed balance of Eq. 4: ``(N+1) f_{ε+ω}(1−f_ε) = N f_ε (1−f_{ε+ω})`` makes the
        odds ``f/(1−f)`` fall by ``N/(N+1) = e^{−ω_p/T*}`` per rung; exact on the grid.
        """
        if self.delta_omega > 0:
            raise ValueError("the ladder solution needs a dispersionless mode")
        f0 = self.f_initial if f0 is None else f0
        t_star = self.phonon_temperature(zeta)
        m = self.points_per_omega
        n = self.n_cells
        rungs = -(-n // m)
        pad = rungs * m - n
        dos = np.concatenate([self.dos, np.zeros(pad)]).reshape(rungs, m)
        eps = np.concatenate([self.eps, self.eps[-1] + self.h * np.arange(1, pad + 1)]
                             ).reshape(rungs, m)
        target = (np.concatenate([f0, np.zeros(pad)]).reshape(rungs, m) * dos).sum(axis=0)
        lo = np.full(m, self.edges[0] - 60 * t_star - 1.0)
        hi = np.full(m, self.edges[-1] + 60 * t_star + 1.0)
        for _ in range(200):  # vectorised bisection over the ladders
            mid = 0.5 * (lo + hi)
            count = (dos * special.expit((mid[None, :] - eps) / t_star)).sum(axis=0)
            low = count < target
            lo = np.where(low, mid, lo)
            hi = np.where(low, hi, mid)
        mu_ladder = 0.5 * (lo + hi)
        f = special.expit((mu_ladder[None, :] - eps) / t_star).ravel()[:n]
        return np.where(self.active, f, 0.0)

    def crossing_field(self, zeta: float, t_relax: float = 10.0, field_max: float = 0.5,
                       xtol: float = 1e-4) -> float:
        """The field ``ℰ*`` at which σ vanishes after ``t_relax`` at fixed ``ζ`` (Fig. 2e).

        The protocol of Fig. 2e (f_T evolved for ``t_relax`` = 10/Γ_eph at fixed ζ with St_in
        and the field ``ℰ``), solved for ``σ(ℰ*) = 0`` by Brent's method; 0 when σ ≥ 0
        without a field.  Along a pulse, ``crossing_field(ζ(t))`` is the quasi-static reading
        of Fig. 3b's ``E*(t)`` (docs/photoexcited.md, "Fig. 3b").

        Raises
        ------
        ValueError
            When σ is still negative at ``field_max``.
        """
        from scipy.optimize import brentq

        kwargs = dict(mu=self.mu, T=self.T, omega_p=self.omega_p, zeta=float(zeta),
                      gamma_eph=self.gamma_eph, gamma_in=self.gamma_in,
                      points_per_omega=self.points_per_omega, transport=self.transport,
                      delta_omega=self.delta_omega, dispersion=self.dispersion)

        def sigma(field: float) -> float:
            model = PhotoexcitedMetal(self.band, field=field, **kwargs)
            return float(model.evolve(t_relax, n_out=2)["sigma"][-1])

        if sigma(0.0) >= 0:
            return 0.0
        if sigma(field_max) < 0:
            raise ValueError(f"sigma is still negative at the field {field_max:g}")
        return float(brentq(sigma, 0.0, field_max, xtol=xtol))

    def periodic_distribution(self, f0: Array | None = None) -> Array:
        """Eq. 8: ``f(ε) = Σ_j D f_T(ε + jω_p) / Σ_j D(ε + jω_p)`` (the ζ → ∞ limit)."""
        f0 = self.f_initial if f0 is None else f0
        m = self.points_per_omega
        n = self.n_cells
        rungs = -(-n // m)
        pad = rungs * m - n
        dos = np.concatenate([self.dos, np.zeros(pad)]).reshape(rungs, m)
        fd = np.concatenate([f0, np.zeros(pad)]).reshape(rungs, m)
        ladder = (dos * fd).sum(axis=0) / np.maximum(dos.sum(axis=0), 1e-300)
        f = np.broadcast_to(ladder, (rungs, m)).ravel()[:n]
        return np.where(self.active, f, 0.0)

    # ------------------------------------------------------------------ results
    def attributes(self) -> dict[str, Any]:
        """Parameters and conventions stored in every result."""
        return {
            "model": "photoexcited",
            "reference": "G. Chiriaco, A. J. Millis, I. L. Aleiner, Negative absolute "
                         "conductivity in photoexcited metals: Eqs. 2-9, 44-55",
            "energy_unit": "W (bandwidth)",
            "time_unit": "1/Gamma_eph",
            "temperature_unit": "W (k_B = 1)",
            "dos_normalisation": "integral D d(eps) = 1, D_0 = 1/W",
            "conductivity_unit": "sigma_0 = v_F^2 tau_tr D_F = sigma_tilde(mu)",
            "field_unit": "e E v_F sqrt(tau_tr/Gamma_eph)/W",
            "band": self.band.name,
            "transport": self.transport,
            "mu": self.mu,
            "T": self.T,
            "omega_p": self.omega_p,
            "zeta_parameter": self.zeta,
            "fixed_zeta": int(self.fixed_zeta),
            "gamma_eph": self.gamma_eph,
            "gamma_in": self.gamma_in,
            "tau_ph": self.tau_ph,
            "applied_field": self.field,
            "instability": self.instability_model or "none",
            "tau_maxwell": self.tau_maxwell,
            "delta_omega": self.delta_omega,
            "dispersion": self.dispersion,
            "points_per_omega": self.points_per_omega,
            "energy_step": self.h,
            "dos_fermi": self.dos_fermi,
            "bose_b": self.b,
            "pump": "none" if self.pump is None else self.pump.kind,
            **({} if self.pump is None else {
                f"pump_{name}": getattr(self.pump, name)
                for name in ("zeta0", "tau_pulse", "t0", "rate")}),
        }

    def _static_variables(self) -> dict[str, Any]:
        return {
            "dos": ("eps", self.dos, {"units": "1/W", "long_name": "density of states D"}),
            "f_T": ("eps", self.f_initial, {"units": "1",
                                            "long_name": "initial Fermi-Dirac distribution"}),
            "sigma_tilde": ("eps", self.s_cell, {"units": "sigma_0/W",
                                                 "long_name": "sigma_tilde/sigma_0"}),
            "points_per_omega_min": ((), self.min_points_per_omega, {
                "units": "1", "long_name": "points_per_omega that resolves the thermal step "
                                           "(h <= T; 0 at T = 0)"}),
        }

    def _coords(self) -> dict[str, Any]:
        return {"eps": ("eps", self.eps, {"units": "W", "long_name": "energy"})}

    def _distribution_dataset(self, f: Array, zeta: float) -> xr.Dataset:
        data = self._static_variables()
        data.update(
            f=("eps", f, {"units": "1", "long_name": "electron distribution f"}),
            sigma=((), self.conductivity(f), {"units": "sigma_0",
                                              "long_name": "conductivity sigma/sigma_0"}),
            zeta=((), zeta, {"units": "1", "long_name": "phonon occupation zeta"}),
            number=((), self.number(f), {"units": "1", "long_name": "electrons per site"}),
            energy=((), self.energy(f), {"units": "W", "long_name": "electron energy"}),
            entropy=((), self.entropy(f), {"units": "1", "long_name": "electron entropy"}),
            T_star=((), self.phonon_temperature(zeta),
                    {"units": "W", "long_name": "phonon temperature T*"}),
        )
        return xr.Dataset(data, coords=self._coords(), attrs=self.attributes())

    def _evolution_dataset(self, t: Array, states: Array, steps: Array | None = None,
                           diagnostics: Array | None = None) -> xr.Dataset:
        n = self.n_cells
        if diagnostics is None:
            diagnostics = np.array([self._diagnostics(tt, s)
                                    for tt, s in zip(t, states, strict=True)])
        d = dict(zip(_DIAGNOSTICS, np.asarray(diagnostics).T, strict=True))
        f = states[:, :n]
        zeta = states[:, n] if self.dynamic_zeta else np.full(t.size, self.zeta)
        data = self._static_variables()
        unit = {"units": "1"}
        field_unit = "e v_F sqrt(tau_tr/Gamma_eph)/W"
        data.update(
            f=(("t", "eps"), f, {**unit, "long_name": "electron distribution f"}),
            zeta=("t", zeta, {**unit, "long_name": "phonon occupation zeta"}),
            sigma=("t", d["sigma"], {"units": "sigma_0",
                                     "long_name": "conductivity sigma/sigma_0"}),
            field=("t", np.sqrt(np.maximum(d["field_squared"], 0.0)),
                   {"units": field_unit, "long_name": "field E (E* with the instability)"}),
            field_squared=("t", d["field_squared"],
                           {"units": f"({field_unit})^2",
                            "long_name": "E^2 (the evolved state E*^2 with instability = "
                                         "maxwell)"}),
            omega_E=("t", d["omega_E"], {"units": "sigma_0 Gamma_eph",
                                         "long_name": "omega_E = E*^2 d(sigma)/dt per E^2"}),
            number=("t", d["number"], {**unit, "long_name": "electrons per site"}),
            energy=("t", d["energy"], {"units": "W", "long_name": "electron energy"}),
            entropy=("t", d["entropy"], {**unit, "long_name": "electron entropy"}),
            entropy_production=("t", d["entropy_production"],
                                {"units": "Gamma_eph",
                                 "long_name": "electron entropy rate dS/dt"}),
            pump=("t", d["pump"], {"units": "Gamma_eph", "long_name": "phonon source I_p"}),
        )
        if steps is not None:
            data["step"] = ("t", steps, {"units": "1/Gamma_eph",
                                         "long_name": "integrator step size at this output"})
        coords = self._coords()
        coords["t"] = ("t", np.asarray(t, float), {"units": "1/Gamma_eph", "long_name": "time"})
        attrs = self.attributes()
        attrs["task"] = "evolve"
        return xr.Dataset(data, coords=coords, attrs=attrs)


#: Columns of :meth:`PhotoexcitedMetal._diagnostics`.
_DIAGNOSTICS = ("field_squared", "sigma", "omega_E", "number", "energy", "entropy",
                "entropy_production", "pump")


def periodic_limit(dos: DosInput, mu: float | None = 0.0, T: float = 0.003,
                   omega_p: float = 0.5, points_per_omega: int = 400, *,
                   filling: float | None = None, transport: str = "constant-v2tau",
                   v2: Any = None, sigma_tilde: Callable[[Array], Array] | None = None
                   ) -> xr.Dataset:
    """The ζ → ∞ periodic distribution of Eq. 8 and its conductivity (Eq. 9).

    Returns
    -------
    xarray.Dataset
        ``f(eps)`` (Eq. 8), ``f_T``, ``dos``, ``sigma_tilde`` and ``sigma`` (σ/σ_0).
    """
    model = PhotoexcitedMetal(dos, mu=mu, T=T, omega_p=omega_p, zeta=0.0,
                              points_per_omega=points_per_omega, filling=filling,
                              transport=transport, v2=v2, sigma_tilde=sigma_tilde)
    f = model.periodic_distribution()
    ds = model._distribution_dataset(f, math.inf)
    ds = ds.drop_vars(["zeta", "T_star"])
    ds.attrs["task"] = "periodic-limit"
    return ds


def _check_finite(**values: float) -> None:
    for name, value in values.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        if math.isnan(v):
            raise ValueError(f"{name} must be a number, got nan")
