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
kept as the reference for tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from scipy import fft as sfft

from boltzphlow.grids.energy import EnergyGrid
from boltzphlow.kinetics.superconductor.dos import bin_states
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
        Gap (µeV) used in the DOS and coherence factors.
    tau0, tau_pb
        Characteristic times τ0 and τ0^φ (ns) of Kaplan et al.
    kTc
        ``k_B Tc`` (µeV) in the prefactor ``1/(τ0 (k_B Tc)³)``.
    delta0
        Zero-temperature gap (µeV) in the phonon prefactor ``2/(π Δ0 τ0^φ)``.
    dynes
        Dynes broadening (µeV) of the DOS; 0 for the sharp BCS DOS.
    states
        Optional states per bin overriding the DOS (used for the self-consistent gap, where
        bins straddling the gap edge are partly filled).
    """

    def __init__(self, grid: EnergyGrid, delta: float, tau0: float, tau_pb: float, kTc: float,
                 delta0: float, dynes: float = 0.0, states: np.ndarray | None = None) -> None:
        self.grid = grid
        self.delta = float(delta)
        self.c = 1.0 / (tau0 * kTc**3)
        h = grid.step
        self.g_ph = 2.0 / (math.pi * tau_pb * delta0 * h)
        E = grid.energies
        self.N = bin_states(grid.edges, delta, dynes) if states is None else np.asarray(states)
        self.active = self.N > 0
        # κ² = Δ/E with E ≥ Δ: a bin straddling a moving gap edge keeps 0 ≤ K⁻ ≤ 1
        self.kappa = np.stack([np.ones_like(E), self.delta / np.maximum(E, self.delta)])
        self.R = self.kappa * self.N  # (2, n_qp)
        w = grid.omega
        self.W = np.concatenate([[0.0], self.c * w * w])  # index J = 0..M
        self.omega_full = np.concatenate([[0.0], w])
        self.P = phonon_mode_weights(grid, tau0, tau_pb, kTc, delta0)
        self.s = grid.pair_offset
        nq, M = grid.n_qp, grid.n_phonon
        self.L = sfft.next_fast_len(max(nq + M + 2, 2 * nq + 1), real=True)
        self.Rh = sfft.rfft(self.R, self.L, axis=-1)
        # spontaneous-emission phase space Σ_J W_J R_{k−J}, exact (positive direct sums) and
        # cached: by FFT its round-off, set by ω_max³, would swamp the gap-edge fluxes
        self.emission_space = np.stack([np.convolve(self.W, r)[:grid.n_qp] for r in self.R])
        self.Wh = sfft.rfft(self.W, self.L)
        self.Wph = sfft.rfft(self._shift(self.W), self.L)
        self.lam = np.array([1.0, -1.0])[:, None]  # K⁻ = κ¹κ¹ − κ²κ²; K⁺ uses +1 for both
        self.n_evaluations = 0

    # ------------------------------------------------------------------ helpers
    def _shift(self, arr: np.ndarray) -> np.ndarray:
        """Phonon array re-indexed by ``m = J − s`` (recombination), zero-length if s > M."""
        return arr[self.s:] if self.s < arr.size else np.zeros(1)

    def _phonon_full(self, n: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], n])

    # ------------------------------------------------------------------ FFT rates
    def tilt(self, f: np.ndarray, n: np.ndarray) -> float:
        """Exponential tilt β (1/µeV) under which ``f e^{βE}`` and ``n e^{βω}`` do not grow.

        For a thermal state it is ``1/k_BT``; for a state with a hot packet above a cold edge
        it is 0 (no tilt).  Capped so that ``e^{βE}`` cannot overflow.
        """
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
        nq, M, L = self.grid.n_qp, self.grid.n_phonon, self.L
        irfft, rfft = sfft.irfft, sfft.rfft
        beta = self.tilt(f, n) if tilt is None else float(tilt)
        E, w = self.grid.energies, self.omega_full
        up_e, dn_e = np.exp(beta * E), np.exp(-beta * E)
        up_w, dn_w = np.exp(beta * w), np.exp(-beta * w)
        A = self.R * f
        Ah = rfft(A, L, axis=-1)
        Bh = self.Rh - Ah
        nfull = self._phonon_full(n)
        Wn = self.W * nfull
        Wnh = rfft(Wn, L)
        Wnph = rfft(self._shift(Wn), L)
        WWh = self.Wh + Wnh
        WWph = self.Wph + Wnph
        kap, lam = self.kappa, self.lam
        if beta > 0:  # tilted spectra of the exponentially decaying factors
            At = rfft(A * up_e, L, axis=-1)
            Bt = rfft((self.R - A) * dn_e, L, axis=-1)
            WWt = rfft((self.W + Wn) * dn_w, L)
            Wnt = rfft(Wn * up_w, L)
            Wnpt = rfft(self._shift(Wn * up_w), L)
        else:
            At, Bt, WWt, Wnt, Wnpt = Ah, Bh, WWh, Wnh, Wnph

        # --- QP side of emission/absorption (Eq. 35)
        sc_gain_f = (lam * kap * irfft(np.conj(WWt) * At + Wnt * At, L)[:, :nq]).sum(0) * dn_e
        # Σ_J (W+Wn)_J B_{k−J} = [exact Σ W R] − Σ W A + Σ Wn B
        sc_loss_f = (lam * kap * (self.emission_space + irfft(
            np.conj(Wnh) * Bh + Wnh * Bh - self.Wh * Ah, L)[:, :nq])).sum(0)
        # --- QP side of recombination (Eq. 36) and pair breaking (Eq. 37)
        r_loss_f = (kap * irfft(np.conj(Ah) * WWph, L)[:, :nq]).sum(0)
        pb_gain_f = (kap * irfft(np.conj(Bt) * Wnpt, L)[:, :nq]).sum(0) * dn_e
        # --- phonon side (Eqs. 39-40); index J = 1..M
        emit = irfft((lam * np.conj(Bt) * At).sum(0), L)[1:M + 1] * dn_w[1:]
        absorb = irfft((lam * np.conj(Ah) * Bh).sum(0), L)[1:M + 1]
        pairs_ff = irfft((At * At).sum(0), L)
        pairs_bb = irfft((Bh * Bh).sum(0), L)
        m = np.arange(1, M + 1) - self.s
        ok = m >= 0
        recomb_src = np.where(ok, pairs_ff[np.clip(m, 0, None)], 0.0) * dn_w[1:]
        pb_src = np.where(ok, pairs_bb[np.clip(m, 0, None)], 0.0)

        act = self.active
        sc_f = np.where(act, (1 - f) * sc_gain_f - f * sc_loss_f, 0.0)
        r_f = np.where(act, -f * r_loss_f, 0.0)
        pb_f = np.where(act, (1 - f) * pb_gain_f, 0.0)
        g = self.g_ph
        sc_n = g * ((1 + n) * emit - n * absorb)
        r_n = 0.5 * g * (1 + n) * recomb_src
        pb_n = -0.5 * g * n * pb_src
        out = Rates(f=sc_f + r_f + pb_f, n=sc_n + r_n + pb_n)
        if terms:
            out.terms = {"scattering": TermRates(sc_f, sc_n),
                         "recombination": TermRates(r_f, r_n),
                         "pair_breaking": TermRates(pb_f, pb_n)}
            # rate_f = gain − f·(sc_gain + sc_loss + r_loss + pb_gain), every bracket ≥ 0
            out.loss_f = np.where(act, np.clip(sc_gain_f + sc_loss_f + r_loss_f + pb_gain_f,
                                               0, None), 0.0)
            out.loss_n = g * np.clip(absorb - emit, 0, None) + 0.5 * g * np.clip(pb_src, 0, None)
        return out

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
        return 1.0 + sign * self.kappa[1][a] * self.kappa[1][b]

    def rates_direct(self, f: np.ndarray, n: np.ndarray) -> Rates:
        """Same rates by direct summation over every transition (O(N²); reference only)."""
        nq, M = self.grid.n_qp, self.grid.n_phonon
        check_memory(8.0 * DIRECT_ARRAYS * nq * (nq + M), f"the direct quadrature ({nq} QP "
                     f"bins, {M} phonon energies: O(N²) transition lists)")
        (l, u, J), (i, k, Jr) = self._pair_tables()
        N, W, P = self.N, self.W, self.P
        inv_n = np.divide(1.0, N, out=np.zeros_like(N), where=self.active)
        nJ = n[J - 1]
        G = W[J] * N[l] * N[u] * self._coherence(l, u, -1.0)
        emission = G * f[u] * (1 - f[l]) * (1 + nJ)
        absorption = G * f[l] * (1 - f[u]) * nJ
        phi = emission - absorption
        sc_f = (np.bincount(l, phi, nq) - np.bincount(u, phi, nq)) * inv_n
        sc_n = np.bincount(J - 1, phi, M) / P
        nr = n[Jr - 1]
        H = W[Jr] * N[i] * N[k] * self._coherence(i, k, +1.0)
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
        nq, M = self.grid.n_qp, self.grid.n_phonon
        N, W, P, s = self.N, self.W, self.P, self.s
        inv_n = np.divide(1.0, N, out=np.zeros_like(N), where=self.active)
        kap2 = self.kappa[1]
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
        fu, Nu, ku = upper(f), upper(N), upper(kap2)
        fl = f[:, None]
        nJ = n[None, :]
        G = (W[1:] * N[:, None]) * Nu * (1.0 - kap2[:, None] * ku)
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
        H = Wh * np.outer(N, N) * (1.0 + np.outer(kap2, kap2))
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

    # ------------------------------------------------------------------ bookkeeping
    def qp_energy(self, f: np.ndarray) -> float:
        """QP energy per ``4 N0`` (µeV²): ``Σ N_i E_i f_i`` (Eq. 9 on the grid)."""
        return float(self.N @ (self.grid.energies * f))

    def phonon_energy(self, n: np.ndarray) -> float:
        """Phonon energy per ``4 N0`` (µeV²): ``Σ P_J ω_J n_J`` (Eq. 10 with Eq. 7)."""
        return float(self.P @ (self.grid.omega * n))

    def qp_number(self, f: np.ndarray) -> float:
        """QP number per ``4 N0`` (µeV): ``Σ N_i f_i``."""
        return float(self.N @ f)


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
