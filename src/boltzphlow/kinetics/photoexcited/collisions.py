r"""Collision terms of the photoexcited metal in one conservative *pair* form.

Main-text Eqs. 4–7 (= supplement Eqs. 44–48) of G. Chiriacò, A. J. Millis and I. L. Aleiner,
*Negative absolute conductivity in photoexcited metals*.  Every term moves electrons between
two energy cells ``lo < hi`` of the grid (cell width ``h``, cell-averaged DoS ``D_i``) with a
net downward flux per pair

.. math::
    R_p = c_p\,\big[\alpha_p f_{hi}(1 - f_{lo}) - \beta_p f_{lo}(1 - f_{hi})\big],
    \qquad D_{lo}\,\dot f_{lo} \mathrel{+}= R_p,\quad D_{hi}\,\dot f_{hi} \mathrel{-}= R_p,

so that ``Σ_i h D_i f_i`` is conserved to round-off by construction.

* **St_el** (Eq. 4/44): pairs ``(i, i+m)`` with ``ω_p = m h``; ``c = Γ_eph w D_i D_{i+m}/D_0``,
  ``α = N + 1``, ``β = N``, ``N = ζ + b(ω)``.  Indeed ``N(f_hi − f_lo) + f_hi(1 − f_lo) =
  (N+1) f_hi (1 − f_lo) − N f_lo (1 − f_hi)``.  Dispersive phonons (Eq. 52): several shifts
  ``m_k`` with weights ``w_k`` (Σ w_k = 1).  The phonon gain St_ph (Eq. 5) is ``Σ_p h R_p``,
  so ``ε``-energy plus ``ω_p ζ`` is conserved (exactly for one shift).
* **St_in** (Eqs. 6/45): neighbour pairs ``(i, i+1)``: the paper's own derivation of Eq. 45
  (Eq. 44 with ``ω_p → δε = h``, ``ζ = 0``) kept at finite ``h``: ``c = Γ_in D_i D_{i+1}/(D_F h)``,
  ``α = 1/(1 − e^{−h/T})``, ``β = 1/(e^{h/T} − 1)``.  Its flux tends to ``D²[T ∂f + f(1 − f)]``
  as ``h → 0`` and vanishes *exactly* for a Fermi function at the bath temperature, at any h.
* **St_E** (Eq. 7): neighbour pairs, ``α = β``:  ``c = ℰ² D_F s_{i+½}/(3h²)`` with
  ``s = σ̃/σ_0`` at the cell interface: the conservative flux ``s ∂f``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class PairTerm:
    """Pairs of cells and their coefficients (see the module docstring).

    ``alpha``/``beta`` are arrays (or scalars broadcast over pairs).  ``zeta_weight`` marks a
    phonon term: ``α = α0 + ζ``, ``β = β0 + ζ`` with ``ζ`` supplied at evaluation.
    """

    lo: np.ndarray
    hi: np.ndarray
    c: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    zeta_dependent: bool = False

    def flux(self, f: np.ndarray, zeta: float = 0.0) -> np.ndarray:
        """Net downward flux ``R_p`` of every pair."""
        fl, fh = f[self.lo], f[self.hi]
        a, b = self.alpha, self.beta
        if self.zeta_dependent:
            a, b = a + zeta, b + zeta
        return self.c * (a * fh * (1.0 - fl) - b * fl * (1.0 - fh))

    def flux_derivatives(self, f: np.ndarray, zeta: float = 0.0
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``∂R/∂f_lo``, ``∂R/∂f_hi`` and ``∂R/∂ζ`` of every pair."""
        fl, fh = f[self.lo], f[self.hi]
        a, b = self.alpha, self.beta
        if self.zeta_dependent:
            a, b = a + zeta, b + zeta
        d_lo = -self.c * (a * fh + b * (1.0 - fh))
        d_hi = self.c * (a * (1.0 - fl) + b * fl)
        d_zeta = self.c * (fh - fl) if self.zeta_dependent else np.zeros_like(fl)
        return d_lo, d_hi, d_zeta

    def scaled(self, factor: float) -> PairTerm:
        """The same term with ``c`` multiplied by ``factor``."""
        return PairTerm(self.lo, self.hi, self.c * factor, self.alpha, self.beta,
                        self.zeta_dependent)


def rate_of_change(terms: list[PairTerm], f: np.ndarray, dos: np.ndarray, zeta: float = 0.0
                   ) -> np.ndarray:
    """``∂f/∂t = (1/D_i) Σ_p (±R_p)`` summed over the given terms (vectorised)."""
    out = np.zeros_like(f)
    for term in terms:
        r = term.flux(f, zeta)
        out += np.bincount(term.lo, r, minlength=f.size)
        out -= np.bincount(term.hi, r, minlength=f.size)
    return out / dos


def jacobian_f(terms: list[PairTerm], f: np.ndarray, dos: np.ndarray, zeta: float = 0.0
               ) -> tuple[sp.csr_matrix, np.ndarray]:
    """Sparse ``∂(∂f/∂t)/∂f`` and the dense column ``∂(∂f/∂t)/∂ζ``."""
    n = f.size
    rows, cols, vals = [], [], []
    dz = np.zeros(n)
    for term in terms:
        d_lo, d_hi, d_zeta = term.flux_derivatives(f, zeta)
        lo, hi = term.lo, term.hi
        rows += [lo, lo, hi, hi]
        cols += [lo, hi, lo, hi]
        vals += [d_lo, d_hi, -d_lo, -d_hi]
        if term.zeta_dependent:
            dz += np.bincount(lo, d_zeta, minlength=n) - np.bincount(hi, d_zeta, minlength=n)
    if rows:
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        v = np.concatenate(vals) / dos[r]
    else:
        r = c = np.zeros(0, int)
        v = np.zeros(0)
    jac = sp.csr_matrix((v, (r, c)), shape=(n, n))
    return jac, dz / dos


def phonon_pairs(dos: np.ndarray, shifts: np.ndarray, weights: np.ndarray, gamma_eph: float,
                 bose_occupations: np.ndarray) -> list[PairTerm]:
    """St_el (Eq. 4; Eq. 52 for several shifts) as pair terms; ``ζ`` enters at evaluation.

    Parameters
    ----------
    dos
        Cell-averaged DoS ``D_i`` (units 1/W, ``Σ h D_i = 1`` so ``D_0 = 1``).
    shifts, weights
        Phonon energies in grid steps ``m_k`` and their weights ``w_k`` (Σ w = 1).
    gamma_eph
        Γ_eph (sets the time unit).
    bose_occupations
        Thermal ``b(m_k h)`` for each shift.
    """
    n = dos.size
    terms = []
    for m, w, b in zip(shifts, weights, bose_occupations, strict=True):
        m = int(m)
        if m <= 0 or m >= n:
            continue
        lo = np.arange(n - m)
        hi = lo + m
        c = gamma_eph * w * dos[lo] * dos[hi]
        keep = c > 0
        terms.append(PairTerm(lo[keep], hi[keep], c[keep], np.full(keep.sum(), b + 1.0),
                              np.full(keep.sum(), b), zeta_dependent=True))
    return terms


def bath_pairs(dos: np.ndarray, h: float, T: float, gamma_in: float, dos_fermi: float
               ) -> PairTerm:
    """St_in (Eqs. 6, 45) with exact detailed balance at the bath temperature ``T``."""
    lo = np.arange(dos.size - 1)
    hi = lo + 1
    c = gamma_in * dos[lo] * dos[hi] / (dos_fermi * h)
    if T > 0:
        x = h / T
        alpha = 1.0 / -np.expm1(-x)
        beta = 1.0 / np.expm1(x) if x < 700 else 0.0
    else:
        alpha, beta = 1.0, 0.0
    keep = c > 0
    return PairTerm(lo[keep], hi[keep], c[keep], np.full(keep.sum(), alpha),
                    np.full(keep.sum(), beta))


def field_pairs(dos: np.ndarray, h: float, s_interface: np.ndarray, dos_fermi: float
                ) -> PairTerm:
    """St_E (Eq. 7) per unit ``ℰ²``: ``c = D_F s_{i+½}/(3h²)``, ``α = β = 1``.

    ``s_interface[i]`` is ``σ̃/σ_0`` between cells ``i`` and ``i+1``.
    """
    lo = np.arange(dos.size - 1)
    hi = lo + 1
    c = dos_fermi * s_interface / (3.0 * h * h)
    keep = (c > 0) & (dos[lo] > 0) & (dos[hi] > 0)
    ones = np.ones(keep.sum())
    return PairTerm(lo[keep], hi[keep], c[keep], ones, ones)


def reference_st_el(f: np.ndarray, dos: np.ndarray, m: int, occupation: float,
                    gamma_eph: float = 1.0) -> np.ndarray:
    """Slow, obvious St_el of Eq. 4 with ``D_0 = 1`` (loops over cells; tests only)."""
    n = f.size
    out = np.zeros(n)
    N = occupation
    for i in range(n):
        total = 0.0
        if i - m >= 0:
            total += dos[i - m] * (N * (f[i - m] - f[i]) - f[i] * (1 - f[i - m]))
        if i + m < n:
            total += dos[i + m] * (N * (f[i + m] - f[i]) + f[i + m] * (1 - f[i]))
        out[i] = gamma_eph * total
    return out
