"""Quasiparticle–phonon collision integrals on a commensurate grid: Eqs. 33–40 of M. Li,
*Documentation for BoltzPhlow and BTE approach to QP–phonon transport*.

Every process is defined once as a transition rate between discrete states and both the QP
and the phonon equations are read off it, so that energy (Eq. 6–10 bookkeeping, prefactors
tied by Eq. 7) is conserved and detailed balance holds to round-off.  Per ``4 N0`` and per
unit volume, with ``N_i`` the states in QP bin ``i`` (see :mod:`.dos`), ``c = 1/(τ0 (k_BTc)³)``
and the coherence factors ``K^∓(E, E') = 1 ∓ Δ²/(E E')`` (Eq. 33 without the ρ):

* phonon emission ``u → l + ω_J`` (``u = l + J``) and its inverse, absorption::

      Φ^sc_{lJ} = c ω_J² N_l N_u K⁻_{lu} [f_u (1 − f_l)(1 + n_J) − f_l (1 − f_u) n_J]

* recombination ``i + k → ω_J`` (``J = s + i + k``) and its inverse, pair breaking::

      Φ^r_{ik} = c ω_J² N_i N_k K⁺_{ik} [f_i f_k (1 + n_J) − (1 − f_i)(1 − f_k) n_J]

and ``N_i ∂_t f_i = Σ_J Φ^sc_{iJ} − Σ_J Φ^sc_{i−J,J} − Σ_k Φ^r_{ik}`` (Eqs. 35–37),
``P_J ∂_t n_J = Σ_l Φ^sc_{lJ} + ½ Σ_{i+k=J−s} Φ^r_{ik}`` (Eqs. 39–40) with the phonon mode
weight ``P_J = (π τ0^φ Δ0 c / 2) ω_J² h`` that Eq. 7 implies.  The QP equation reproduces
the ``1/(τ0 Tc³)`` prefactor of Eqs. 35–37 and the phonon one the ``2/(π Δ0 τ0^φ)`` and
``1/(π Δ0 τ0^φ)`` prefactors of Eqs. 39–40.

Because ``K^∓ = Σ_p λ_p κ^p_i κ^p_k`` with ``κ¹ = 1``, ``κ² = Δ/E`` is separable, each sum is
a correlation or convolution (§2.2, Eqs. 41–45), evaluated with real FFTs in O(N log N).
:meth:`CollisionOperator.rates_direct` is the obvious O(N²) quadrature of the same sums,
kept as the reference for tests.  The rates are quadratic in ``(f, n)``;
:meth:`CollisionOperator.linearize` applies their Jacobian matrix-free by the product rule on
the same correlations (exact, O(N log N) per product), which the steady-state Newton–Krylov
iteration uses instead of the O(N²) dense :meth:`CollisionOperator.jacobian`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from scipy import fft as sfft

from boltzphlow.grids.energy import EnergyGrid
from boltzphlow.kinetics.superconductor.dos import bin_pair_amplitude, bin_states
from boltzphlow.resources import check_memory

#: Peak of :meth:`CollisionOperator.jacobian`, in dense float64 ``n × n`` arrays (measured 4.4).
JACOBIAN_MATRICES = 5
#: Transition-list arrays of :meth:`CollisionOperator.rates_direct`, in ``n_qp (n_qp + M)``.
DIRECT_ARRAYS = 12

TERMS = ("scattering", "recombination", "pair_breaking")


@dataclass
class TermRates:
    """Rates of one process: ``f`` on the QP bins and ``n`` on the phonon energies (1/ns)."""

    f: np.ndarray
    n: np.ndarray


@dataclass
class Rates:
    """Collision rates ``∂_t f`` and ``∂_t n`` (1/ns), total and per process.

    Attributes
    ----------
    f, n
        Total rates on the QP bins and phonon energies.
    terms
        ``"scattering"`` (emission minus absorption), ``"recombination"`` and
        ``"pair_breaking"``, each a :class:`TermRates`.
    loss_f, loss_n
        Nonnegative loss coefficients γ with ``rate + γ·y ≥ 0`` for physical ``y``
        (the out-scattering frequencies; used by the time-relaxation scheme and as the scale
        of the gross flux).
    """

    f: np.ndarray
    n: np.ndarray
    terms: dict[str, TermRates] = field(default_factory=dict)
    loss_f: np.ndarray | None = None
    loss_n: np.ndarray | None = None


def phonon_mode_weights(grid: EnergyGrid, tau0: float, tau_pb: float, kTc: float,
                        delta0: float) -> np.ndarray:
    """Phonon modes per ``4 N0`` on each ``ω_J`` (µeV): ``P_J = (π τ0^φ Δ0 c / 2) ω_J² h``.

    The Debye density of modes ``9 N_ion ω²/Ω_D³`` of Eq. 10 expressed through Eq. 7, with
    ``c = 1/(τ0 (k_B Tc)³)``; ``Σ P_J ω_J n_J`` is the phonon energy per ``4 N0``.
    """
    w = grid.omega
    return 0.5 * math.pi * tau_pb * delta0 / (tau0 * kTc**3) * w * w * grid.step


class CollisionOperator:
    """Collision integrals for a fixed gap Δ on an :class:`~boltzphlow.grids.energy.EnergyGrid`.

    Parameters
    ----------
    grid
        The energy grid.
    delta
        Gap (µeV) used in the DOS and coherence factors; an array ``(cells,)`` for a gap per
        cell (see *Cells*).
    tau0, tau_pb
        Characteristic times τ0 and τ0^φ (ns) of Kaplan et al.
    kTc
        ``k_B Tc`` (µeV) in the prefactor ``1/(τ0 (k_B Tc)³)``.
    delta0
        Zero-temperature gap (µeV) in the phonon prefactor ``2/(π Δ0 τ0^φ)``.
    dynes
        Dynes broadening (µeV) of the DOS and of the coherence factors (``ρρ' ∓ ϕϕ'`` bin by
        bin, :func:`.dos.bin_pair_amplitude`); 0 for the sharp BCS DOS and ``1 ∓ Δ²/(EE')``.
    states
        Optional states per bin: the weight ``N_i`` of ``∂_t f_i`` (the left-hand side) and of
        the bookkeeping sums, overriding the DOS (used for the self-consistent gap, where
        bins straddling the gap edge are partly filled, and for the renormalised left-hand
        side of the Eliashberg kinetics, Eq. 170).
    spectral
        Optional ``(2, n_qp)`` bin integrals ``(∫ρ, ∫ϕ)`` of the generalised spectral weights
        (Eqs. 166–167) in the coherence factors ``ρρ' ∓ ϕϕ'`` (Eq. 177) in place of the BCS
        ones; ``states`` defaults to ``∫ρ``.

    Cells
    -----
    With ``states (cells, n_qp)``, ``spectral (cells, 2, n_qp)`` or ``delta (cells,)`` the
    operator evaluates every cell of a spatial model at once on the one commensurate grid:
    the pair identity ``E_i + E_k = ω_{s+i+k}`` holds on the lattice whatever the local gap,
    and a bin straddling a cell's gap edge is partly filled (its states).  States are then
    ``f (cells, n_qp)``, ``n (cells, n_phonon)``; the real FFTs run along the last axis of
    the whole batch, the tilt β is one per cell, and :meth:`rates`, :meth:`linearize`
    (``apply``, ``diagonal``) and the bookkeeping sums return per-cell arrays.  Only the
    exact emission phase-space sums are set up per cell (once).  The dense
    :meth:`jacobian` and :meth:`rates_direct` are unbatched only.  Each cell's results
    equal those of the unbatched operator with that cell's weights.

    Notes
    -----
    Every flux is ``c ω² (R⁰_a R⁰_b ∓ R¹_a R¹_b) × [occupations]`` with the pair amplitudes
    ``R⁰ = ∫ρ``, ``R¹ = ∫ϕ`` per bin, and ``N_i ∂_t f_i`` is the sum of the fluxes of bin ``i``
    (the rates use ``κ = R/N``).  Energy ``Σ N E f + Σ P ω n`` is conserved and Fermi/Bose
    states are stationary for any ``R`` and ``N``: both follow from the pair fluxes alone.
    """

    def __init__(self, grid: EnergyGrid, delta: float | np.ndarray, tau0: float,
                 tau_pb: float, kTc: float, delta0: float, dynes: float = 0.0,
                 states: np.ndarray | None = None, spectral: np.ndarray | None = None) -> None:
        self.grid = grid
        self.c = 1.0 / (tau0 * kTc**3)
        h = grid.step
        self.g_ph = 2.0 / (math.pi * tau_pb * delta0 * h)
        E = grid.energies
        nq = grid.n_qp
        d_arr = np.asarray(delta, dtype=float)
        st_arr = None if states is None else np.asarray(states, dtype=float)
        sp_arr = None if spectral is None else np.array(spectral, dtype=float)
        cells = _batch_size(grid, d_arr, st_arr, sp_arr)
        #: Number of cells evaluated at once (``None``: the unbatched operator).
        self.cells = cells
        if cells is None:
            self.delta = float(delta)
        else:
            if d_arr.ndim == 1 and dynes > 0 and states is None and spectral is None:
                raise ValueError("dynes: a gap per cell is supported without broadening only")
            self.delta = np.broadcast_to(d_arr, (cells,)).copy() if d_arr.ndim else float(d_arr)
        dcol = np.asarray(self.delta)[..., None]  # the gap against the bins
        if sp_arr is not None:
            R = sp_arr
            want = (2, nq) if cells is None else (cells, 2, nq)
            if R.shape != want and R.shape != (2, nq):
                raise ValueError(f"spectral: expected shape {want}, got {R.shape}")
            if cells is not None:
                R = np.broadcast_to(R, (cells, 2, nq)).copy()
            self.N = R[..., 0, :].copy() if st_arr is None else st_arr
        else:
            if st_arr is not None:
                self.N = st_arr
            elif cells is not None and np.ndim(self.delta):
                self.N = np.stack([bin_states(grid.edges, d, dynes) for d in self.delta])
            else:
                self.N = bin_states(grid.edges, float(np.max(self.delta)), dynes)
            if cells is not None:
                self.N = np.broadcast_to(self.N, (cells, nq)).copy()
            if st_arr is None:
                # the coherence factors ρρ' ∓ ϕϕ' (Eq. 177) integrated over the bins like the
                # DOS: R¹ = ∫_bin ϕ (≤ ∫_bin ρ, :mod:`.dos`; ϕ = ρΔ/E without broadening),
                # exact at the gap edge where Δ/E at the bin centre would be O(h) off
                if cells is not None and np.ndim(self.delta):
                    pair = np.stack([bin_pair_amplitude(grid.edges, d, dynes)
                                     for d in self.delta])
                else:
                    pair = np.broadcast_to(bin_pair_amplitude(
                        grid.edges, float(np.max(self.delta)), dynes), self.N.shape)
            else:
                # κ² = Δ/E with E ≥ Δ: a bin straddling a moving gap edge keeps 0 ≤ K⁻ ≤ 1
                pair = self.N * dcol / np.maximum(E, dcol)
            R = np.stack([self.N, pair], axis=-2)
        if cells is not None and self.N.shape != (cells, nq):
            raise ValueError(f"states: expected shape ({cells}, {nq}), got {self.N.shape}")
        self.active = self.N > 0
        self.R = np.where(self.active[..., None, :], R, 0.0)  # ([cells,] 2, n_qp)
        self.kappa = np.divide(self.R, self.N[..., None, :], out=np.zeros_like(self.R),
                               where=self.active[..., None, :])
        w = grid.omega
        self.W = np.concatenate([[0.0], self.c * w * w])  # index J = 0..M
        self.omega_full = np.concatenate([[0.0], w])
        self.P = phonon_mode_weights(grid, tau0, tau_pb, kTc, delta0)
        self.s = grid.pair_offset
        nq, M = grid.n_qp, grid.n_phonon
        self.L = sfft.next_fast_len(max(nq + M + 2, 2 * nq + 1), real=True)
        # the batched transforms run their rows on every core (rows are independent: the
        # same numbers as one worker)
        workers = -1 if cells is not None else None
        self._rfft = partial(sfft.rfft, workers=workers)
        self._irfft = partial(sfft.irfft, workers=workers)
        self.Rh = sfft.rfft(self.R, self.L, axis=-1)
        # spontaneous-emission phase space Σ_J W_J R_{k−J}, exact (positive direct sums) and
        # cached: by FFT its round-off, set by ω_max³, would swamp the gap-edge fluxes
        rows = self.R.reshape(-1, nq)  # one exact direct sum per row (per cell at set-up)
        self.emission_space = np.stack([np.convolve(self.W, r)[:nq] for r in rows]
                                       ).reshape(self.R.shape)
        self.Wh = sfft.rfft(self.W, self.L)
        self.Wph = sfft.rfft(self._shift(self.W), self.L)
        self.lam = np.array([1.0, -1.0])[:, None]  # K⁻ = κ¹κ¹ − κ²κ²; K⁺ uses +1 for both
        self.n_evaluations = 0

    # ------------------------------------------------------------------ helpers
    def _shift(self, arr: np.ndarray) -> np.ndarray:
        """Phonon array re-indexed by ``m = J − s`` (recombination), zero-length if s > M."""
        return arr[..., self.s:] if self.s < arr.shape[-1] else np.zeros(arr.shape[:-1] + (1,))

    def _phonon_full(self, n: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros(n.shape[:-1] + (1,)), n], axis=-1)

    def _check_batch(self, f: np.ndarray, n: np.ndarray) -> None:
        if self.cells is not None and (np.shape(f) != (self.cells, self.grid.n_qp)
                                       or np.shape(n) != (self.cells, self.grid.n_phonon)):
            raise ValueError(f"f, n: expected shapes ({self.cells}, {self.grid.n_qp}) and "
                             f"({self.cells}, {self.grid.n_phonon}), got {np.shape(f)} and "
                             f"{np.shape(n)}")

    # ------------------------------------------------------------------ FFT rates
    def tilt(self, f: np.ndarray, n: np.ndarray) -> float:
        """Exponential tilt β (1/µeV) under which ``f e^{βE}`` and ``n e^{βω}`` do not grow.

        For a thermal state it is ``1/k_BT``; for a state with a hot packet above a cold edge
        it is 0 (no tilt).  Capped so that ``e^{βE}`` cannot overflow.  Batched: one tilt per
        cell, shape ``(cells, 1)``.
        """
        if self.cells is not None:
            return self._tilt_cells(f, n)
        act = self.active & (f > 0)
        if act.sum() < 2 or not np.any(n > 0):
            return 0.0
        E = self.grid.energies[act]
        lf = np.log(f[act])
        beta_f = np.min((lf[0] - lf[1:]) / (E[1:] - E[0]))
        w = self.grid.omega[n > 0]
        ln = np.log(n[n > 0])
        beta_n = np.min((ln[0] - ln[1:]) / (w[1:] - w[0])) if w.size > 1 else 0.0
        cap = 600.0 / max(self.grid.e_max, self.grid.omega[-1])
        return float(max(0.0, min(beta_f, beta_n, cap)))

    def _tilt_cells(self, f: np.ndarray, n: np.ndarray) -> np.ndarray:
        """:meth:`tilt` of every cell at once, shape ``(cells, 1)``."""
        cap = 600.0 / max(self.grid.e_max, self.grid.omega[-1])

        def slope(x: np.ndarray, mask: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, ...]:
            with np.errstate(divide="ignore", invalid="ignore"):
                lx = np.log(np.where(mask, x, 1.0))
            first = np.argmax(mask, axis=-1)
            rows = np.arange(x.shape[0])
            later = mask & (np.arange(x.shape[-1]) > first[:, None])
            e0 = e[first][:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(later, (lx[rows, first][:, None] - lx)
                                 / np.where(later, e - e0, 1.0), np.inf)
            return ratio.min(axis=-1), mask.sum(axis=-1)

        beta_f, n_f = slope(f, self.active & (f > 0), self.grid.energies)
        beta_n, n_n = slope(n, n > 0, self.grid.omega)
        beta_n = np.where(n_n > 1, beta_n, 0.0)
        beta = np.clip(np.minimum(np.minimum(beta_f, beta_n), cap), 0.0, None)
        return np.where((n_f >= 2) & (n_n > 0), beta, 0.0)[:, None]

    def rates(self, f: np.ndarray, n: np.ndarray, terms: bool = True,
              tilt: float | None = None) -> Rates:
        """Collision rates by FFT correlations (O(N log N)), §2.2 of Li's documentation.

        Sums whose terms decay exponentially with energy are evaluated on exponentially
        tilted arrays (``A e^{βE}``, ``W n e^{βω}``...) and un-tilted afterwards.  Because
        every index relation is an exact energy identity (``E_{i+J} = E_i + ω_J``,
        ``E_i + E_k = ω_{s+i+k}``) this is exact algebra for any β; it makes the FFT round-off
        relative to the local flux instead of the largest one, so near-thermal states at
        k_BT ≪ Δ keep detailed balance at round-off level.

        Parameters
        ----------
        f
            QP occupation on the bins (length ``n_qp``).
        n
            Phonon occupation on ``ω_J`` (length ``n_phonon``).
        terms
            Also return the per-process rates and loss coefficients.
        tilt
            The tilt β (1/µeV); default :meth:`tilt` of the state.  Must be the same for
            every evaluation inside one time step of the polynomial-based schemes.
        """
        self.n_evaluations += 1
        self._check_batch(f, n)
        beta = self.tilt(f, n) if tilt is None else _beta(tilt)
        return self._sums(_Spectra.of(self, f, n, beta)).rates(terms)

    def linearize(self, f: np.ndarray, n: np.ndarray, tilt: float | None = None
                  ) -> Linearization:
        """The Jacobian of :meth:`rates` at ``(f, n)``, applied matrix-free.

        The rates are quadratic in ``(f, n)`` (the cubic terms of emission minus absorption
        and of recombination minus pair breaking cancel), so the directional derivative is
        the product rule applied to each FFT correlation: O(N log N) per product, exact, with
        the spectra of the state computed once (see :class:`Linearization`).
        """
        self.n_evaluations += 1
        self._check_batch(f, n)
        beta = self.tilt(f, n) if tilt is None else _beta(tilt)
        return Linearization(self, self._sums(_Spectra.of(self, f, n, beta)))

    def _sums(self, sp_: _Spectra) -> _Sums:
        """The collision sums of Eqs. 35–40 from the spectra of a state."""
        nq, M, L = self.grid.n_qp, self.grid.n_phonon, self.L
        irfft = self._irfft
        kap, lam = self.kappa, self.lam
        At, Bt, Ah, Bh = sp_.At, sp_.Bt, sp_.Ah, sp_.Bh
        # --- QP side of emission/absorption (Eq. 35)
        x = _rows  # a per-state spectrum against the two rows (κ¹, κ²) of A and B
        sc_gain_f = (lam * kap * irfft(x(np.conj(sp_.WWt)) * At + x(sp_.Wnt) * At, L)[..., :nq]
                     ).sum(-2) * sp_.dn_e
        # Σ_J (W+Wn)_J B_{k−J} = [exact Σ W R] − Σ W A + Σ Wn B
        sc_loss_f = (lam * kap * (self.emission_space + irfft(
            x(np.conj(sp_.Wnh)) * Bh + x(sp_.Wnh) * Bh - self.Wh * Ah, L)[..., :nq])).sum(-2)
        # --- QP side of recombination (Eq. 36) and pair breaking (Eq. 37)
        r_loss_f = (kap * irfft(np.conj(Ah) * x(sp_.WWph), L)[..., :nq]).sum(-2)
        pb_gain_f = (kap * irfft(np.conj(Bt) * x(sp_.Wnpt), L)[..., :nq]).sum(-2) * sp_.dn_e
        # --- phonon side (Eqs. 39-40); index J = 1..M
        emit = irfft((lam * np.conj(Bt) * At).sum(-2), L)[..., 1:M + 1] * sp_.dn_w[..., 1:]
        absorb = irfft((lam * np.conj(Ah) * Bh).sum(-2), L)[..., 1:M + 1]
        recomb_src = self._pairs(irfft((At * At).sum(-2), L)) * sp_.dn_w[..., 1:]
        pb_src = self._pairs(irfft((Bh * Bh).sum(-2), L))
        return _Sums(self, sp_, sc_gain_f, sc_loss_f, r_loss_f, pb_gain_f, emit, absorb,
                     recomb_src, pb_src)

    def _pairs(self, conv: np.ndarray) -> np.ndarray:
        """``conv[J − s]`` on ``J = 1..M`` (zero for ``J < s``): pair sums ``Σ_{i+k=J−s}``."""
        m = np.arange(1, self.grid.n_phonon + 1) - self.s
        return np.where(m >= 0, conv[..., np.clip(m, 0, None)], 0.0)

    # ------------------------------------------------------------------ reference
    def _pair_tables(self):
        """Index tables of all scattering (l, u, J) and recombination (i, k, J) transitions."""
        nq, M = self.grid.n_qp, self.grid.n_phonon
        l_idx, u_idx = np.triu_indices(nq, k=1)
        J = u_idx - l_idx
        keep = J <= M
        l_idx, u_idx, J = l_idx[keep], u_idx[keep], J[keep]
        i_idx, k_idx = np.meshgrid(np.arange(nq), np.arange(nq), indexing="ij")
        i_idx, k_idx = i_idx.ravel(), k_idx.ravel()
        Jr = self.s + i_idx + k_idx
        keep = Jr <= M
        return (l_idx, u_idx, J), (i_idx[keep], k_idx[keep], Jr[keep])

    def _coherence(self, a: np.ndarray, b: np.ndarray, sign: float) -> np.ndarray:
        """Pair factor ``R⁰_a R⁰_b ± R¹_a R¹_b`` (``N_a N_b (1 ± Δ²/E_aE_b)`` for BCS)."""
        R = self.R
        return R[0][a] * R[0][b] + sign * R[1][a] * R[1][b]

    def rates_direct(self, f: np.ndarray, n: np.ndarray) -> Rates:
        """Same rates by direct summation over every transition (O(N²); reference only)."""
        self._unbatched("rates_direct")
        nq, M = self.grid.n_qp, self.grid.n_phonon
        check_memory(8.0 * DIRECT_ARRAYS * nq * (nq + M), f"the direct quadrature ({nq} QP "
                     f"bins, {M} phonon energies: O(N²) transition lists)")
        (l, u, J), (i, k, Jr) = self._pair_tables()
        N, W, P = self.N, self.W, self.P
        inv_n = np.divide(1.0, N, out=np.zeros_like(N), where=self.active)
        nJ = n[J - 1]
        G = W[J] * self._coherence(l, u, -1.0)
        emission = G * f[u] * (1 - f[l]) * (1 + nJ)
        absorption = G * f[l] * (1 - f[u]) * nJ
        phi = emission - absorption
        sc_f = (np.bincount(l, phi, nq) - np.bincount(u, phi, nq)) * inv_n
        sc_n = np.bincount(J - 1, phi, M) / P
        nr = n[Jr - 1]
        H = W[Jr] * self._coherence(i, k, +1.0)
        rec = H * f[i] * f[k] * (1 + nr)
        pbk = H * (1 - f[i]) * (1 - f[k]) * nr
        r_f = -np.bincount(i, rec, nq) * inv_n
        pb_f = np.bincount(i, pbk, nq) * inv_n
        r_n = 0.5 * np.bincount(Jr - 1, rec, M) / P
        pb_n = -0.5 * np.bincount(Jr - 1, pbk, M) / P
        out = Rates(f=sc_f + r_f + pb_f, n=sc_n + r_n + pb_n)
        out.terms = {"scattering": TermRates(sc_f, sc_n),
                     "recombination": TermRates(r_f, r_n),
                     "pair_breaking": TermRates(pb_f, pb_n)}
        return out

    # ------------------------------------------------------------------ Jacobian
    def jacobian(self, f: np.ndarray, n: np.ndarray, extra: int = 0) -> np.ndarray:
        """Dense analytic Jacobian ∂(ḟ, ṅ)/∂(f, n) of the collision rates (no escape term).

        ``extra`` zero rows and columns are appended (room for a caller's further unknowns
        without a second dense copy).

        Built from the transition derivatives in O(N²) vectorised work without gathers:
        scattering is handled on (lower bin l, phonon J) arrays, whose upper-bin factors are
        sliding-window views ``x[l + J]``; the (l, u = l + J) and (u, J) layouts the Jacobian
        needs are written through skewed strided views.  Recombination works on (i, k)
        matrices skewed to (i, m = i + k), ``J = s + m``.
        """
        self._unbatched("the dense jacobian (use linearize for cells)")
        nq, M = self.grid.n_qp, self.grid.n_phonon
        N, W, P, s = self.N, self.W, self.P, self.s
        inv_n = np.divide(1.0, N, out=np.zeros_like(N), where=self.active)
        R0, R1 = self.R
        size = nq + M
        check_memory(8.0 * (size + extra) ** 2 * JACOBIAN_MATRICES,
                      f"the dense Jacobian ({size + extra} x {size + extra})")
        full = np.zeros((size + extra, size + extra))
        jac = full[:size, :size]
        jff = jac[:nq, :nq]

        def upper(x: np.ndarray) -> np.ndarray:
            """View ``U[l, J] = x[l + J]`` (J = 1..M), zero beyond the grid."""
            pad = np.concatenate([x, np.zeros(M + 1)])
            return sliding_window_view(pad, M + 1)[:nq, 1:]

        def skew_write(target_rows: int, values: np.ndarray) -> np.ndarray:
            """Matrix Z (rows × rows+M+1) with Z[r, r + J] = values[r, J-1] (J = 1..M)."""
            z = np.zeros((target_rows, target_rows + M + 1))
            st = z.strides
            view = as_strided(z, shape=(target_rows, M + 1), strides=(st[0] + st[1], st[1]))
            view[:, 1:] = values
            return z

        # --- scattering on (l, J): u = l + J
        fu = upper(f)
        fl = f[:, None]
        nJ = n[None, :]
        G = W[1:] * (R0[:, None] * upper(R0) - R1[:, None] * upper(R1))
        d_fu = G * ((1 - fl) * (1 + nJ) + fl * nJ)   # ∂Φ/∂f_u
        d_fl = -G * (fu * (1 + nJ) + (1 - fu) * nJ)   # ∂Φ/∂f_l
        d_n = G * (fu - fl)                            # ∂Φ/∂n_J
        # ḟ_l = Σ_J Φ/N_l ; ḟ_u = −Σ Φ/N_u ; ṅ_J = Σ_l Φ/P_J
        jff += skew_write(nq, d_fu)[:, :nq] * inv_n[:, None]
        jff -= (skew_write(nq, d_fl)[:, :nq] * inv_n[None, :]).T
        ii = np.arange(nq)
        u_sum = skew_write(nq, d_fu).sum(0)[:nq]        # Σ_l d_fu[l, u − l]
        jff[ii, ii] += d_fl.sum(1) * inv_n - u_sum * inv_n
        jac[:nq, nq:] += d_n * inv_n[:, None]
        # row u, column J: −d_n[u − J, J]/N_u, and ∂ṅ_J/∂f_u = d_fu[u − J, J]/P_J
        jac[:nq, nq:] -= _down(d_n, nq) * inv_n[:, None]
        jac[nq:, :nq] += ((_down(d_fu, nq) + d_fl) / P[None, :]).T
        k = np.arange(nq, size)
        jac[k, k] += d_n.sum(0) / P
        # --- recombination / pair breaking on (i, k): J = s + i + k
        kk = np.arange(nq)
        Jh = s + kk[:, None] + kk[None, :]
        validr = Jh <= M
        Wfull = np.concatenate([W, np.zeros(2 * nq + s + 1)])
        nfull = np.concatenate([[0.0], n, np.zeros(2 * nq + s + 1)])
        Wh = Wfull[Jh] * validr
        nh = nfull[Jh]
        H = Wh * (np.outer(R0, R0) + np.outer(R1, R1))
        fi, fk = f[:, None], f[None, :]
        e_i = H * (fk * (1 + nh) + (1 - fk) * nh)  # ∂Φ_ik/∂f_i ; ∂Φ_ik/∂f_k = e_i[k, i]
        e_n = H * (fi * fk - (1 - fi) * (1 - fk))  # ∂Φ_ik/∂n_J
        jff[ii, ii] -= e_i.sum(1) * inv_n
        jff -= e_i.T * inv_n[:, None]
        # skew (i, k) → (i, m = i + k); J − 1 = s + m − 1 is the phonon column
        en_m = _skew_pairs(e_n)
        ei_m = _skew_pairs(e_i)
        lo, hi = max(0, 1 - s), min(2 * nq - 1, M + 1 - s)  # m range with 1 ≤ J ≤ M
        if hi > lo:
            cols = slice(nq + s + lo - 1, nq + s + hi - 1)
            Pm = P[s + lo - 1:s + hi - 1]
            jac[:nq, cols] -= en_m[:, lo:hi] * inv_n[:, None]
            jac[cols, :nq] += (ei_m[:, lo:hi] / Pm[None, :]).T
            dg = np.arange(nq + s + lo - 1, nq + s + hi - 1)
            jac[dg, dg] += 0.5 * en_m[:, lo:hi].sum(0) / Pm
        jac[:nq][~self.active] = 0.0
        return full

    def _unbatched(self, what: str) -> None:
        if self.cells is not None:
            raise ValueError(f"{what}: not available for an operator over cells")

    # ------------------------------------------------------------------ bookkeeping
    # (batched: one value per cell)
    def qp_energy(self, f: np.ndarray) -> float | np.ndarray:
        """QP energy per ``4 N0`` (µeV²): ``Σ N_i E_i f_i`` (Eq. 9 on the grid)."""
        if self.cells is not None:
            return np.einsum("ce,ce->c", self.N, self.grid.energies * f)
        return float(self.N @ (self.grid.energies * f))

    def phonon_energy(self, n: np.ndarray) -> float | np.ndarray:
        """Phonon energy per ``4 N0`` (µeV²): ``Σ P_J ω_J n_J`` (Eq. 10 with Eq. 7)."""
        if self.cells is not None:
            return (self.grid.omega * n) @ self.P
        return float(self.P @ (self.grid.omega * n))

    def qp_number(self, f: np.ndarray) -> float | np.ndarray:
        """QP number per ``4 N0`` (µeV): ``Σ N_i f_i``."""
        if self.cells is not None:
            return np.einsum("ce,ce->c", self.N, f)
        return float(self.N @ f)


def _batch_size(grid: EnergyGrid, delta: np.ndarray, states: np.ndarray | None,
                spectral: np.ndarray | None) -> int | None:
    """Cells of a batched operator from the shapes of its weights (``None``: unbatched)."""
    sizes = set()
    if delta.ndim == 1:
        sizes.add(delta.size)
    elif delta.ndim > 1:
        raise ValueError(f"delta: a scalar or one gap per cell, got shape {delta.shape}")
    if states is not None and states.ndim == 2:
        sizes.add(states.shape[0])
    if spectral is not None and spectral.ndim == 3:
        sizes.add(spectral.shape[0])
    if len(sizes) > 1:
        raise ValueError(f"delta, states, spectral: cell counts differ ({sorted(sizes)})")
    return sizes.pop() if sizes else None


def _beta(tilt: float | np.ndarray) -> float | np.ndarray:
    """A tilt given by the caller: a float, or one per cell as a ``(cells, 1)`` column."""
    t = np.asarray(tilt, dtype=float)
    return float(t) if t.ndim == 0 else t.reshape(-1, 1)


def _rows(x: np.ndarray) -> np.ndarray:
    """A spectrum of the state ``([cells,] L)`` against the rows ``([cells,] 2, L)``."""
    return x[..., None, :]


@dataclass
class _Spectra:
    """Real FFTs (length ``L``) of the arrays the collision sums correlate, at one state.

    ``A = R f`` and ``B = R (1 − f)`` (rows κ¹ = 1, κ² = Δ/E), ``Wn = W n``; the ``h``
    spectra are plain, the ``t`` ones tilted by ``e^{±βE}`` (:meth:`CollisionOperator.rates`),
    ``p`` ones re-indexed by ``m = J − s`` (recombination).
    """

    f: np.ndarray
    n: np.ndarray
    beta: float | np.ndarray
    up_e: np.ndarray
    dn_e: np.ndarray
    up_w: np.ndarray
    dn_w: np.ndarray
    Ah: np.ndarray
    Bh: np.ndarray
    At: np.ndarray
    Bt: np.ndarray
    Wnh: np.ndarray
    WWph: np.ndarray
    WWt: np.ndarray
    Wnt: np.ndarray
    Wnpt: np.ndarray

    @classmethod
    def of(cls, op: CollisionOperator, f: np.ndarray, n: np.ndarray,
           beta: float | np.ndarray) -> _Spectra:
        rfft, L = op._rfft, op.L
        E, w = op.grid.energies, op.omega_full
        up_e, dn_e = np.exp(beta * E), np.exp(-beta * E)
        up_w, dn_w = np.exp(beta * w), np.exp(-beta * w)
        A = op.R * _rows(f)
        Ah = rfft(A, L, axis=-1)
        Bh = op.Rh - Ah
        Wn = op.W * op._phonon_full(n)
        Wnh = rfft(Wn, L)
        Wnph = rfft(op._shift(Wn), L)
        WWph = op.Wph + Wnph
        if np.any(beta > 0):  # tilted spectra of the exponentially decaying factors
            At = rfft(A * _rows(up_e), L, axis=-1)
            Bt = rfft((op.R - A) * _rows(dn_e), L, axis=-1)
            WWt = rfft((op.W + Wn) * dn_w, L)
            Wnt = rfft(Wn * up_w, L)
            Wnpt = rfft(op._shift(Wn * up_w), L)
        else:
            At, Bt, WWt, Wnt, Wnpt = Ah, Bh, op.Wh + Wnh, Wnh, Wnph
        return cls(f, n, beta, up_e, dn_e, up_w, dn_w, Ah, Bh, At, Bt, Wnh, WWph, WWt, Wnt,
                   Wnpt)


@dataclass
class _Sums:
    """The collision sums at one state (Eqs. 35–40 before the occupation factors)."""

    op: CollisionOperator
    spectra: _Spectra
    sc_gain_f: np.ndarray
    sc_loss_f: np.ndarray
    r_loss_f: np.ndarray
    pb_gain_f: np.ndarray
    emit: np.ndarray
    absorb: np.ndarray
    recomb_src: np.ndarray
    pb_src: np.ndarray

    def rates(self, terms: bool) -> Rates:
        """The rates of :meth:`CollisionOperator.rates`."""
        f, n = self.spectra.f, self.spectra.n
        act, g = self.op.active, self.op.g_ph
        sc_f = np.where(act, (1 - f) * self.sc_gain_f - f * self.sc_loss_f, 0.0)
        r_f = np.where(act, -f * self.r_loss_f, 0.0)
        pb_f = np.where(act, (1 - f) * self.pb_gain_f, 0.0)
        sc_n = g * ((1 + n) * self.emit - n * self.absorb)
        r_n = 0.5 * g * (1 + n) * self.recomb_src
        pb_n = -0.5 * g * n * self.pb_src
        out = Rates(f=sc_f + r_f + pb_f, n=sc_n + r_n + pb_n)
        if terms:
            out.terms = {"scattering": TermRates(sc_f, sc_n),
                         "recombination": TermRates(r_f, r_n),
                         "pair_breaking": TermRates(pb_f, pb_n)}
            # rate_f = gain − f·(sc_gain + sc_loss + r_loss + pb_gain), every bracket ≥ 0
            out.loss_f = np.where(act, np.clip(self.sc_gain_f + self.sc_loss_f + self.r_loss_f
                                               + self.pb_gain_f, 0, None), 0.0)
            out.loss_n = (g * np.clip(self.absorb - self.emit, 0, None)
                          + 0.5 * g * np.clip(self.pb_src, 0, None))
        return out


class Linearization:
    """Jacobian ``∂(ḟ, ṅ)/∂(f, n)`` of the collision rates at one state, matrix-free.

    Made by :meth:`CollisionOperator.linearize`.  The rates are quadratic in ``(f, n)``, every
    collision sum a correlation of two arrays of the state (§2.2 of Li's documentation), so
    a directional derivative is each correlation with one factor replaced by its derivative
    (product rule): O(N log N), exact to round-off, linear in the direction by construction
    (a finite difference of the rates is exact too but costs two evaluations and loses the
    digits of components much smaller than the largest).  The spectra of the state are
    computed once and reused by every :meth:`apply`.  The tilt β of the state is kept: the
    directions it is accurate for are those that decay no slower than the state itself
    (``|df| ≲ f``, ``|dn| ≲ n`` up to a constant), as Newton corrections scaled by the state
    do.

    Attributes
    ----------
    rates
        The collision rates at the state (:class:`Rates`, with terms and loss coefficients).
    """

    def __init__(self, op: CollisionOperator, sums: _Sums) -> None:
        self.op = op
        self.sums = sums
        self.rates = sums.rates(terms=True)
        self.evaluations = 0
        s, lam = sums.spectra, op.lam
        # factors of the state in the product rule, formed once for every apply()
        self._gain_a = lam * _rows(np.conj(s.WWt) + s.Wnt)     # × d(A e^{βE})
        self._loss_a = -lam * _rows(2 * s.Wnh.real + op.Wh)     # × dA (dB = −dA)
        self._tilted = bool(np.any(s.beta > 0))
        self._lam_At = lam * s.At
        self._lam_Bh = lam * s.Bh
        self._qp_out = sums.sc_gain_f + sums.pb_gain_f + sums.sc_loss_f + sums.r_loss_f
        self._phonon_diagonal = op.g_ph * (sums.emit - sums.absorb
                                           + 0.5 * (sums.recomb_src - sums.pb_src))

    def apply(self, df: np.ndarray | None, dn: np.ndarray | None, want_f: bool = True,
              want_n: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(J_ff df + J_fn dn, J_nf df + J_nn dn)``: the rates' change along ``(df, dn)``.

        ``None`` stands for a zero ``df`` or ``dn`` (its transforms are skipped), and an
        output not wanted (``want_f``, ``want_n``) is returned as ``None`` without being
        computed.  ``J_nn`` is diagonal (a phonon meets other phonons only through the QPs),
        so the phonon output of ``dn`` alone costs no transform.
        """
        self.evaluations += 1
        op, sm = self.op, self.sums
        s = sm.spectra
        rfft, irfft, L = op._rfft, op._irfft, op.L
        nq, M = op.grid.n_qp, op.grid.n_phonon
        kap = op.kappa
        f, n = s.f, s.n
        gain = loss = None  # spectra of the QP gain (× (1 − f)) and loss (× f) sums
        d_f = d_n = None
        # the transforms of each input and of each output group run as one batched call
        x = _rows
        tilted = self._tilted
        if df is not None:
            dA = op.R * x(df)
            if tilted:
                dAh, dAt, dBt = np.split(rfft(np.concatenate([dA, dA * x(s.up_e),
                                                              -dA * x(s.dn_e)], axis=-2), L,
                                              axis=-1), 3, axis=-2)
            else:
                dAh = rfft(dA, L, axis=-1)
                dAt, dBt = dAh, -dAh
            if want_f:
                gain = self._gain_a * dAt + np.conj(dBt) * x(s.Wnpt)
                loss = self._loss_a * dAh + np.conj(dAh) * x(s.WWph)
            if want_n:
                At, Bt, Ah, Bh = s.At, s.Bt, s.Ah, s.Bh
                lam = op.lam
                phon = irfft(np.stack([(lam * (np.conj(dBt) * At + np.conj(Bt) * dAt)).sum(-2),
                                       (lam * (np.conj(dAh) * Bh - np.conj(Ah) * dAh)).sum(-2),
                                       (2 * At * dAt).sum(-2), (-2 * Bh * dAh).sum(-2)]), L)
                d_emit = phon[0][..., 1:M + 1] * s.dn_w[..., 1:]
                d_recomb = op._pairs(phon[2]) * s.dn_w[..., 1:]
                d_n = op.g_ph * ((1 + n) * (d_emit + 0.5 * d_recomb)
                                 - n * (phon[1][..., 1:M + 1] + 0.5 * op._pairs(phon[3])))
        if dn is not None:
            if want_f:
                dWn = op.W * op._phonon_full(dn)
                rows = np.zeros((5 if tilted else 2,) + dWn.shape)
                rows[0] = dWn
                tail = dWn[..., op.s:]
                rows[1, ..., :tail.shape[-1]] = tail
                if tilted:
                    up = dWn * s.up_w
                    rows[2] = dWn * s.dn_w
                    rows[3] = up
                    rows[4, ..., :tail.shape[-1]] = up[..., op.s:]
                    dWnh, dWWph, dWWt, dWnt, dWnpt = rfft(rows, L, axis=-1)
                else:
                    dWnh, dWWph = rfft(rows, L, axis=-1)
                    dWWt, dWnt, dWnpt = dWnh, dWnh, dWWph
                g_n = self._lam_At * x(np.conj(dWWt) + dWnt) + np.conj(s.Bt) * x(dWnpt)
                l_n = self._lam_Bh * x(2 * dWnh.real) + np.conj(s.Ah) * x(dWWph)
                gain = g_n if gain is None else gain + g_n
                loss = l_n if loss is None else loss + l_n
            if want_n:
                diag = dn * self._phonon_diagonal
                d_n = diag if d_n is None else d_n + diag
        if want_f:
            d_f = np.zeros(f.shape)
            if gain is not None:
                sums = irfft(np.concatenate([gain, loss], axis=-2), L)[..., :nq]
                d_f = ((1 - f) * s.dn_e * (kap * sums[..., :2, :]).sum(-2)
                       - f * (kap * sums[..., 2:, :]).sum(-2))
            if df is not None:
                d_f = d_f - df * self._qp_out
            d_f = np.where(op.active, d_f, 0.0)
        if want_n and d_n is None:
            d_n = np.zeros(n.shape)
        return d_f, d_n

    def diagonal(self) -> tuple[np.ndarray, np.ndarray]:
        """The diagonal of the Jacobian: ``∂ḟ_k/∂f_k`` and ``∂ṅ_J/∂n_J``.

        The out-scattering sums of bin ``k`` do not involve ``f_k`` except through the pair
        ``(k, k)`` of recombination and pair breaking, whose phonon sits at ``m = 2k``.
        """
        op, sm = self.op, self.sums
        f = sm.spectra.f
        n = sm.spectra.n
        n_full = np.concatenate([op._phonon_full(n), np.zeros(n.shape[:-1]
                                                               + (2 * op.grid.n_qp,))], axis=-1)
        k2 = 2 * np.arange(op.grid.n_qp) + op.s
        W_pair = np.concatenate([op.W, np.zeros(2 * op.grid.n_qp + op.s + 1)])[k2]
        n_pair = n_full[..., k2]
        self_pair = (op.kappa * op.R).sum(-2) * W_pair  # Σ_p κ_p R_p W_{s+2k}
        d_f = -(sm.sc_gain_f + sm.sc_loss_f + sm.r_loss_f + sm.pb_gain_f) \
            - f * self_pair * (1 + n_pair) - (1 - f) * self_pair * n_pair
        d_f = np.where(op.active, d_f, 0.0)
        g = op.g_ph
        d_n = g * (sm.emit - sm.absorb + 0.5 * (sm.recomb_src - sm.pb_src))
        return d_f, d_n


def _down(x: np.ndarray, nq: int) -> np.ndarray:
    """``D[u, J] = x[u − J, J]`` for an (l, J) array ``x`` (J = 1..M), zero where u < J."""
    M = x.shape[1]
    pad = np.zeros((M + nq, M))
    pad[M:] = x
    st = pad.strides
    # element (u, j) at pad[M + u − (j + 1), j]: row stride st0, column stride st1 − st0
    view = as_strided(pad[M - 1:], shape=(nq, M), strides=(st[0], st[1] - st[0]))
    return view.copy()


def _skew_pairs(x: np.ndarray) -> np.ndarray:
    """``Y[i, m] = x[i, m − i]`` for a square (i, k) array, m = 0..2n−2 (zero elsewhere)."""
    n = x.shape[0]
    z = np.zeros((n, 2 * n))
    st = z.strides
    as_strided(z, shape=(n, n), strides=(st[0] + st[1], st[1]))[:] = x
    return z[:, :2 * n - 1]
