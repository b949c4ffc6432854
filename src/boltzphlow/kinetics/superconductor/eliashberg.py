"""Real-frequency Eliashberg equations: Z(ε), φ(ε) and the generalised ρ(ε), ϕ(ε).

M. Li, *Documentation for BoltzPhlow and BTE approach to QP–phonon transport*, §2.4 and §3.1
(Eqs. 166–167, 182–186), at temperature ``T`` with the full thermal factors.  With the Nambu
self-energy ``Σ = ε(1 − Z) τ0 + φ τ1`` of the isotropic Migdal–Eliashberg theory and the
ξ-integrated spectral weights (Eqs. 166–167)

    ρ(ε) = Re[εZ / q],   ϕ(ε) = Re[φ / q],   q = √((εZ)² − φ²),  Im q > 0,

the imaginary parts of the retarded functions are (P. B. Allen and B. Mitrović, "Theory of
superconducting Tc", Solid State Physics 37 (1982), real-axis form; F. Marsiglio,
M. Schossmann and J. P. Carbotte, "Iterative analytic continuation of the electron
self-energy to the real axis", Phys. Rev. B 37, 4965 (1988), the real-axis equations at ``T``)

    Im[εZ](ε) = π ∫_0^∞ dΩ α²F(Ω) { ρ(ε + Ω) [n(Ω) + f(ε + Ω)]
                                    + ρ(ε − Ω) [n(Ω) + 1 − f(ε − Ω)] },          (I-Z)
    Im[φ](ε)  = π ∫_0^∞ dΩ α²F(Ω) { ϕ(ε + Ω) [n(Ω) + f(ε + Ω)]
                                    + ϕ(ε − Ω) [n(Ω) + 1 − f(ε − Ω)] },          (I-φ)

with Bose ``n`` and Fermi ``f``.  This is the first line of Eq. 182 of the seed (the
``ω = −Ω`` branch of ``B(ω) = δ(ω − Ω) − δ(ω + Ω)`` gives the ``ε + Ω`` term, because
``1 + n(−Ω) − f(ε + Ω) = −[n(Ω) + f(ε + Ω)]``); at ``T → 0`` and ``ε > 0`` the ``ε + Ω`` term
vanishes and ``1 − f(ε − Ω) = θ(ε − Ω)``, which is the last line of Eqs. 182–183.

The real parts follow from Kramers–Kronig for the retarded functions ``εZ − ε = −Σ₀`` and
``φ``, analytic in the upper half plane:

    Re[εZ](ε) = ε + (1/π) P∫ dε' (Im[εZ](ε') − c_∞) / (ε' − ε),                     (KK-Z)
    Re[φ](ε)  = (1/π) P∫ dε' Im[φ](ε') / (ε' − ε) + φ_C,                            (KK-φ)

``c_∞ = π ∫ dΩ α²F coth(Ω/2k_BT)`` being the constant that Im[εZ] tends to at large |ε|
(its transform over the whole line is zero).  Im[εZ] is even and Im[φ] odd in ε, so folding
onto ε' > 0 gives Eqs. 184 and 186 (Eq. 184 with ``ε' Im Z = Im[εZ]``).  The Coulomb
pseudopotential adds the real constant

    φ_C = −μ* ∫_0^{ω_c} dε' ϕ(ε') tanh(ε'/2k_BT),

the real-axis form of ``−μ* πT Σ_{|ω_m|<ω_c} φ_m / √(ω_m² Z_m² + φ_m²)``.  All integrals are on a
uniform grid ε_j = (j + ½)h, |ε_j| < ω_c; the phonon convolutions and the principal-value
integrals (exact for the piecewise-linear interpolant) are FFT convolutions.  ``Tc`` is where
the linearised real-axis map loses its gap (:func:`real_axis_tc`); the linearised equations on
the Matsubara axis (Allen and Mitrović) with the same discretised α²F, μ* and ω_c give
:func:`eliashberg_tc`, a few per cent lower at large μ* (the sharp cutoff ω_c acts differently
on the two axes).

>>> import boltzphlow as bp
>>> from boltzphlow.kinetics.superconductor.eliashberg import alpha2F, eliashberg
>>> pb = bp.superconductor.material("Pb")
>>> el = eliashberg(pb, alpha2F=alpha2F("Pb"), T=1.0)        # doctest: +SKIP
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import fft, linalg, optimize

from boltzphlow import stats
from boltzphlow.errors import check_positive
from boltzphlow.kinetics.superconductor.dos import bin_renormalised_weights
from boltzphlow.kinetics.superconductor.gap import BCS_RATIO
from boltzphlow.kinetics.superconductor.materials import Material, material
from boltzphlow.units import K_B

__all__ = ["Alpha2F", "alpha2F", "available_alpha2F", "eliashberg", "eliashberg_tc",
           "hilbert_transform", "kinetic_weights", "real_axis_tc", "strong_coupling_gap_ratio"]

#: Most Matsubara frequencies (below ω_c) in the linearised Tc equation.
MAX_MATSUBARA = 3000

#: Energy units accepted for α²F tables (factor to µeV).
ENERGY_UNITS = {"ueV": 1.0, "µeV": 1.0, "meV": 1e3, "eV": 1e6, "K": K_B, "THz": 4135.667696}


# --------------------------------------------------------------------------- α²F(Ω)

@dataclass(frozen=True, eq=False)
class Alpha2F:
    """Eliashberg spectral function α²F(Ω), tabulated (Ω in µeV, linear interpolation).

    Build with :meth:`einstein`, :meth:`debye`, :meth:`table` or :func:`alpha2F` (shipped data).
    α²F is zero outside the table.

    Attributes
    ----------
    name
        Label.
    omega
        Phonon energies Ω (µeV), increasing, ≥ 0.
    values
        α²F(Ω) (dimensionless), ≥ 0.
    mu_star
        Coulomb pseudopotential that goes with this α²F (``None`` for the models).
    sources
        Where the numbers come from.
    """

    name: str
    omega: np.ndarray
    values: np.ndarray
    mu_star: float | None = None
    sources: str = ""
    _cdf: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        omega = np.asarray(self.omega, dtype=float)
        values = np.asarray(self.values, dtype=float)
        if omega.ndim != 1 or omega.shape != values.shape or omega.size < 2:
            raise ValueError("alpha2F: omega and values must be 1-D arrays of the same length ≥ 2")
        if not (np.all(np.isfinite(omega)) and np.all(np.isfinite(values))):
            raise ValueError("alpha2F: omega and values must be finite")
        if omega[0] < 0 or np.any(np.diff(omega) <= 0):
            raise ValueError("alpha2F: omega must be ≥ 0 and strictly increasing")
        if np.any(values < 0) or not np.any(values > 0):
            raise ValueError("alpha2F: values must be ≥ 0 and not all zero")
        if omega[0] == 0 and values[0] != 0:
            raise ValueError("alpha2F: α²F(0) must be 0 (λ = 2∫α²F/Ω would diverge)")
        if self.mu_star is not None and not 0 <= self.mu_star < 1:
            raise ValueError(f"alpha2F: mu_star must be in [0, 1), got {self.mu_star}")
        object.__setattr__(self, "omega", omega)
        object.__setattr__(self, "values", values)
        cdf = np.concatenate(([0.0], np.cumsum(0.5 * np.diff(omega) * (values[1:] + values[:-1]))))
        object.__setattr__(self, "_cdf", cdf)

    # ---- constructors
    @classmethod
    def einstein(cls, lam: float, omega_E: float, width: float | None = None,
                 n: int = 801) -> Alpha2F:
        """Einstein spectrum: a narrow normalised peak at Ω_E with coupling λ.

        ``α²F(Ω) = (λ/2) Ω g(Ω)/∫g`` with ``g`` a Gaussian of standard deviation ``width``
        (default 2 % of Ω_E), cut at ±5 widths, so that ``2∫α²F/Ω = λ`` exactly.

        Parameters
        ----------
        lam
            Coupling λ > 0.
        omega_E
            Peak energy Ω_E (µeV) > 0.
        width
            Gaussian width (µeV); ``0 < width < Ω_E/5``.
        n
            Table points.
        """
        check_positive("lam", lam)
        check_positive("omega_E", omega_E)
        width = 0.02 * omega_E if width is None else width
        check_positive("width", width)
        if width >= omega_E / 5:
            raise ValueError(f"width: must be below omega_E/5 = {omega_E / 5:g} µeV, got {width}")
        omega = np.linspace(omega_E - 5 * width, omega_E + 5 * width, n)
        shape = omega * np.exp(-0.5 * ((omega - omega_E) / width) ** 2)
        return cls._normalised(f"Einstein(λ={lam:g}, Ω_E={omega_E:g} µeV)", omega, shape, lam)

    @classmethod
    def debye(cls, lam: float, omega_D: float, n: int = 801) -> Alpha2F:
        """Debye spectrum ``α²F = λ (Ω/Ω_D)²`` for Ω ≤ Ω_D (so ``2∫α²F/Ω = λ``).

        Then ``ω_ln = Ω_D e^{−1/2}``.

        Parameters
        ----------
        lam
            Coupling λ > 0.
        omega_D
            Cutoff Ω_D (µeV) > 0.
        n
            Table points.
        """
        check_positive("lam", lam)
        check_positive("omega_D", omega_D)
        omega = np.linspace(0.0, omega_D, n)
        values = lam * (omega / omega_D) ** 2
        omega = np.append(omega, omega_D * (1 + 1e-9))  # a sharp edge for the interpolation
        values = np.append(values, 0.0)
        return cls._normalised(f"Debye(λ={lam:g}, Ω_D={omega_D:g} µeV)", omega, values, lam)

    @classmethod
    def table(cls, omega, values, unit: str = "meV", name: str = "table",
              mu_star: float | None = None, sources: str = "") -> Alpha2F:
        """A user table of α²F(Ω) with Ω in ``unit`` (µeV, meV, eV, K or THz).

        Parameters
        ----------
        omega, values
            Phonon energies and α²F (same length).
        unit
            Unit of ``omega``.
        name, mu_star, sources
            As in :class:`Alpha2F`.
        """
        if unit not in ENERGY_UNITS:
            raise ValueError(f"unit: unknown energy unit {unit!r} (known: "
                             f"{', '.join(ENERGY_UNITS)})")
        return cls(name, np.asarray(omega, dtype=float) * ENERGY_UNITS[unit],
                   np.asarray(values, dtype=float), mu_star, sources)

    @classmethod
    def _normalised(cls, name, omega, shape, lam, **kw) -> Alpha2F:
        raw = cls(name, omega, shape, **kw)
        return cls(name, omega, shape * lam / raw.lam, **kw)

    # ---- moments
    def __call__(self, Omega) -> np.ndarray:
        """α²F at ``Omega`` (µeV), linear interpolation, zero outside the table."""
        return np.interp(Omega, self.omega, self.values, left=0.0, right=0.0)

    @property
    def lam(self) -> float:
        """Coupling ``λ = 2 ∫ dΩ α²F(Ω)/Ω``, exact for the linear interpolant of the table."""
        return 2 * float(np.sum(self._segment_moments()[0]))

    @property
    def omega_ln(self) -> float:
        """Logarithmic average ``ω_ln = exp[(2/λ) ∫ dΩ ln Ω α²F(Ω)/Ω]`` (µeV), exact for the
        linear interpolant of the table."""
        m0, m1 = self._segment_moments()
        return float(np.exp(np.sum(m1) / np.sum(m0)))

    def _segment_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """``∫ y/Ω`` and ``∫ y ln Ω/Ω`` over each table segment, y = y_a + s(Ω − a)."""
        a, b = self.omega[:-1], self.omega[1:]
        ya, yb = self.values[:-1], self.values[1:]
        slope = (yb - ya) / (b - a)
        c = ya - slope * a                       # y = c + slope Ω
        first = a == 0
        la = np.log(np.where(first, 1.0, a))
        lb = np.log(b)
        m0 = np.where(first, 0.0, c * (lb - la)) + slope * (b - a)
        x_log_x = np.where(first, 0.0, a * la - a)
        m1 = (np.where(first, 0.0, c * (lb**2 - la**2) / 2)
              + slope * ((b * lb - b) - x_log_x))
        return m0, m1

    @property
    def omega_max(self) -> float:
        """Largest Ω where α²F > 0 (µeV)."""
        return float(self.omega[np.nonzero(self.values)[0][-1]])

    def bin_weights(self, h: float, n_bins: int) -> np.ndarray:
        """``w_k = ∫ α²F dΩ`` over the bins ``[(k − ½)h, (k + ½)h]``, k = 1..n_bins.

        The weight below h/2 joins bin 1; the weights are then rescaled so that the discrete
        ``2 Σ_k w_k / (k h)`` equals :attr:`lam`.
        """
        edges = (np.arange(n_bins + 1) + 0.5) * h
        cdf = np.interp(edges, self.omega, self._cdf, left=0.0, right=self._cdf[-1])
        w = np.diff(cdf)
        w[0] += cdf[0]
        if not np.any(w > 0):
            raise ValueError(f"alpha2F: no spectral weight on a grid of step {h:g} µeV")
        omega = np.arange(1, n_bins + 1) * h
        return w * self.lam / (2 * np.sum(w / omega))




def available_alpha2F() -> list[str]:
    """Names of the shipped α²F data (``data/eliashberg/<name>.toml``)."""
    folder = resources.files("boltzphlow") / "data" / "eliashberg"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir()
                  if p.name.endswith(".toml"))


def alpha2F(name: str | Path) -> Alpha2F:
    """Shipped α²F by material name (``"Al"``, ``"Pb"``) or a TOML file by path.

    A file gives ``unit`` and either a table (``omega``, ``alpha2F``) or Gaussian ``peaks``
    (``center``, ``width``) whose areas are fixed by the file's ``lambda`` and ``omega_ln``
    (two peaks: a 2×2 linear system), plus optional ``mu_star`` and ``sources``.

    Raises
    ------
    ValueError
        For an unknown name or an unusable file (one line).
    """
    if isinstance(name, str) and name in available_alpha2F():
        text = (resources.files("boltzphlow") / "data" / "eliashberg" / f"{name}.toml").read_text(
            encoding="utf-8")
        label = name
    else:
        path = Path(name)
        if not path.is_file():
            raise ValueError(f"unknown alpha2F {str(name)[:60]!r} (shipped: "
                             f"{', '.join(available_alpha2F())}; or the path of a .toml file)")
        text, label = path.read_text(encoding="utf-8"), path.stem
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"alpha2F {label}: invalid TOML ({exc})") from None
    unit = data.get("unit", "meV")
    if unit not in ENERGY_UNITS:
        raise ValueError(f"alpha2F {label}: unknown unit {unit!r}")
    scale = ENERGY_UNITS[unit]
    kw = {"mu_star": data.get("mu_star"), "sources": data.get("sources", "")}
    if "peaks" in data:
        return _two_peaks(data.get("name", label), data["peaks"], data["lambda"],
                          data["omega_ln"] * scale, scale, **kw)
    if "omega" in data and "alpha2F" in data:
        return Alpha2F.table(data["omega"], data["alpha2F"], unit, data.get("name", label), **kw)
    raise ValueError(f"alpha2F {label}: needs either 'peaks' or 'omega' and 'alpha2F'")


_shipped_alpha2F = alpha2F


def _two_peaks(name, peaks, lam, omega_ln, scale, **kw) -> Alpha2F:
    """Two Gaussian peaks with areas fixed by λ and ω_ln (the first two log moments)."""
    if len(peaks) != 2:
        raise ValueError(f"alpha2F {name}: 'peaks' needs exactly two entries")
    lo = min(p["center"] - 4 * p["width"] for p in peaks) * scale
    hi = max(p["center"] + 4 * p["width"] for p in peaks) * scale
    omega = np.linspace(max(lo, 0.0), hi, 1601)
    shapes = [np.exp(-0.5 * ((omega - p["center"] * scale) / (p["width"] * scale)) ** 2)
              for p in peaks]
    parts = [Alpha2F(name, omega, s) for s in shapes]
    m1 = [p.lam for p in parts]
    m2 = [p.lam * math.log(p.omega_ln) for p in parts]
    areas = np.linalg.solve([m1, m2], [lam, lam * math.log(omega_ln)])
    if np.any(areas <= 0):
        raise ValueError(f"alpha2F {name}: λ and ω_ln cannot be met with these peaks")
    values = areas[0] * shapes[0] + areas[1] * shapes[1]
    return Alpha2F(name, omega, values, **kw)


# --------------------------------------------------------------------------- transforms

def _hilbert_weights(n: int) -> np.ndarray:
    """``w_m = ∫ hat(x − m)/x dx`` (principal value) for m = −(n−1)..(n−1), hat = 1 − |x|.

    ``P∫ g(ω')/(ω' − ω_j) dω' = Σ_k g_k w_{k−j}`` exactly for the piecewise-linear
    interpolant of ``g_k`` on a uniform grid.
    """
    m = np.arange(-(n - 1), n, dtype=float)

    def xlogx(x):
        ax = np.abs(x)
        return np.where(ax > 0, x * np.log(np.where(ax > 0, ax, 1.0)), 0.0)

    return xlogx(m + 1) - 2 * xlogx(m) + xlogx(m - 1)


class _Hilbert:
    """FFT principal-value transform ``(1/π) P∫ g(ω') /(ω' − ω) dω'`` on a uniform grid."""

    def __init__(self, n: int):
        self.n = n
        self.nfft = fft.next_fast_len(3 * n, real=True)
        self.kernel = fft.rfft(_hilbert_weights(n), self.nfft)

    def __call__(self, g: np.ndarray) -> np.ndarray:
        # Σ_k g_k w_{k−j} = −Σ_k g_k w_{j−k}: minus a convolution with w (w is odd).
        y = fft.irfft(fft.rfft(g, self.nfft, axis=-1) * self.kernel, self.nfft, axis=-1)
        return -y[..., self.n - 1: 2 * self.n - 1] / np.pi


def hilbert_transform(values: np.ndarray) -> np.ndarray:
    """``(1/π) P∫ g(ω')/(ω' − ω_j) dω'`` of samples on a uniform grid (any spacing).

    Exact for the piecewise-linear interpolant of ``values`` (zero outside), so the error
    for a smooth ``g`` is O(h²) plus the truncation of the grid.  For a retarded function
    χ analytic in the upper half plane and vanishing at infinity, ``Re χ = H[Im χ]`` and
    ``Im χ = −H[Re χ]`` (Kramers–Kronig).

    Parameters
    ----------
    values
        Samples on the grid (last axis).
    """
    values = np.asarray(values, dtype=float)
    return _Hilbert(values.shape[-1])(values)


# --------------------------------------------------------------------------- solver

@dataclass
class _Grid:
    """Uniform real-frequency grid and the precomputed FFT kernels of (I-Z), (I-φ)."""

    h: float
    eps: np.ndarray           # (2M,) ε_j = (j + ½) h
    omega: np.ndarray         # (K,) Ω_k = k h
    weights: np.ndarray       # (K,) α²F bin weights
    n_bose: np.ndarray        # (K,)
    fermi: np.ndarray         # (2M + 2K,) f on the padded grid
    nfft: int
    kernel_a: np.ndarray      # rfft of the kernel on the signal (ρ or ϕ)
    kernel_b: np.ndarray      # rfft of the kernel on the signal × f
    c_inf: float
    hilbert: _Hilbert


def _make_grid(a2f: Alpha2F, kT: float, cutoff: float, n_points: int) -> _Grid:
    M = n_points
    h = cutoff / M
    K = int(math.ceil(a2f.omega_max / h)) + 1
    if K >= M:
        raise ValueError(f"n_points: {n_points} points up to {cutoff:g} µeV do not cover "
                         f"α²F up to {a2f.omega_max:g} µeV with room; raise the cutoff")
    eps = (np.arange(-M, M) + 0.5) * h
    omega = np.arange(1, K + 1) * h
    w = a2f.bin_weights(h, K)
    n_bose = stats.bose(omega, kT)
    padded = (np.arange(-M - K, M + K) + 0.5) * h
    fermi = stats.fermi(padded, 0.0, kT)   # ε = (j + ½)h never sits on μ = 0
    # out_j = Σ_m c_m S_{j+m}: m = +k carries the ε + Ω terms, m = −k the ε − Ω terms.
    c_a = np.zeros(2 * K + 1)       # on S = ρ: w n (both signs) + w (ε − Ω branch)
    c_b = np.zeros(2 * K + 1)       # on S f: w (ε + Ω) − w (ε − Ω)
    c_a[K + 1:] = w * n_bose
    c_a[:K] = (w * (n_bose + 1))[::-1]
    c_b[K + 1:] = w
    c_b[:K] = -w[::-1]
    nfft = fft.next_fast_len(2 * M + 4 * K + 1, real=True)
    kernel_a = fft.rfft(c_a[::-1], nfft)
    kernel_b = fft.rfft(c_b[::-1], nfft)
    c_inf = math.pi * float(np.sum(w * (2 * n_bose + 1)))
    return _Grid(h, eps, omega, w, n_bose, fermi, nfft, kernel_a, kernel_b, c_inf, _Hilbert(2 * M))


def _spectral(eps: np.ndarray, eps_z: np.ndarray, phi: np.ndarray, h: float,
              eta: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell averages of ρ = Re[εZ/q] and ϕ = Re[φ/q] (Eqs. 166–167) over [ε − h/2, ε + h/2].

    With Z and φ held at their cell values, ``q = √((εZ)² − φ²)`` (Im q ≥ 0, the retarded
    branch; ε → ε + iη) gives the antiderivatives ``∫ εZ/q dε = q/Z`` and
    ``∫ φ/q dε = (φ/Z) ln(εZ + q)``: the averages integrate the gap-edge singularity exactly,
    where point samples of a 1/√(ε − Δ) peak would bias every convolution by O(√(h/Δ)).
    """
    z = eps_z / eps

    def q_of(e):
        q = np.sqrt((z * e) ** 2 - phi * phi)
        return np.where(q.imag < 0, -q, q)

    lo = eps - 0.5 * h + 1j * eta
    hi = eps + 0.5 * h + 1j * eta
    q_lo, q_hi = q_of(lo), q_of(hi)
    rho = ((q_hi - q_lo) / z).real / h
    varphi = (phi / z * np.log((z * hi + q_hi) / (z * lo + q_lo))).real / h
    return rho, varphi


def _imaginary_parts(grid: _Grid, rho: np.ndarray, varphi: np.ndarray) -> np.ndarray:
    """Im[εZ] and Im[φ] on the grid from (I-Z), (I-φ); ρ → 1, ϕ → 0 beyond the grid."""
    M2 = rho.size
    K = grid.omega.size
    signals = np.zeros((4, M2 + 2 * K))
    signals[0, :K] = signals[0, K + M2:] = 1.0
    signals[0, K:K + M2] = rho
    signals[1] = signals[0] * grid.fermi
    signals[2, K:K + M2] = varphi
    signals[3] = signals[2] * grid.fermi
    spec = fft.rfft(signals, grid.nfft, axis=-1)
    out = np.stack([spec[0] * grid.kernel_a + spec[1] * grid.kernel_b,
                    spec[2] * grid.kernel_a + spec[3] * grid.kernel_b])
    y = fft.irfft(out, grid.nfft, axis=-1)
    return math.pi * y[:, 2 * K: 2 * K + M2]


def _coulomb(grid: _Grid, varphi: np.ndarray, kT: float, mu_star: float) -> float:
    """``φ_C = −μ* ∫_0^{ω_c} ϕ tanh(ε/2k_BT) dε`` (midpoint rule on the ε > 0 half)."""
    M = grid.eps.size // 2
    e = grid.eps[M:]
    th = np.ones_like(e) if kT == 0 else np.tanh(e / (2 * kT))
    return -mu_star * grid.h * float(np.sum(varphi[M:] * th))


def _gap_edge(eps: np.ndarray, delta: np.ndarray) -> float:
    """Smallest ε > 0 with Re Δ(ε) = ε (linear interpolation); 0 when there is none."""
    pos = eps > 0
    e, d = eps[pos], delta.real[pos]
    g = d - e
    idx = np.nonzero((g[:-1] > 0) & (g[1:] <= 0))[0]
    if idx.size == 0 or d[0] <= 0:
        return 0.0
    i = idx[0]
    return float(e[i] + (e[i + 1] - e[i]) * g[i] / (g[i] - g[i + 1]))


def eliashberg_tc(alpha2F: Alpha2F, mu_star: float, cutoff: float | None = None,
                  n_points: int = 4096, weights: tuple[float, np.ndarray] | None = None) -> float:
    """Critical temperature (K) from the linearised Eliashberg equations (Matsubara axis).

    At Tc the gap equation linearises to ``Δ_n Z_n = πT Σ_{|ω_m|<ω_c} [λ(ω_n − ω_m) − μ*]
    Δ_m/|ω_m|`` with the normal-state ``ω_n Z_n = ω_n + πT[λ(0) + 2 Σ_{l=1}^{n} λ(2πTl)]`` and
    ``λ(ν) = ∫ 2Ω α²F(Ω)/(Ω² + ν²) dΩ`` (P. B. Allen and B. Mitrović, "Theory of
    superconducting Tc", the linearised isotropic equations).  Tc is where the largest
    eigenvalue of the symmetrised kernel crosses 1 (Brent on ln T).  α²F enters through the
    same bin weights as the real-axis solver.

    Parameters
    ----------
    alpha2F
        Spectral function.
    mu_star
        Coulomb pseudopotential μ* (for the cutoff ω_c).
    cutoff
        ω_c (µeV); default 10 × the largest phonon energy.
    n_points
        Grid points of the real-axis solver whose α²F discretisation is used.
    weights
        ``(h, w_k)`` bin weights to use instead.

    Returns
    -------
    float
        Tc in K (0 when there is none above ``ω_c / (2π k_B MAX_MATSUBARA)``).
    """
    cutoff = 10 * alpha2F.omega_max if cutoff is None else cutoff
    if weights is None:
        h = cutoff / n_points
        w = alpha2F.bin_weights(h, int(math.ceil(alpha2F.omega_max / h)) + 1)
    else:
        h, w = weights
    omega = np.arange(1, w.size + 1) * h

    def lam_of(nu):
        return (2 * w * omega / (omega**2 + nu[..., None] ** 2)).sum(-1)

    def top_eigenvalue(kT: float) -> float:
        n_max = max(int(cutoff / (2 * math.pi * kT) - 0.5) + 1, 2)
        wn = math.pi * kT * (2 * np.arange(n_max) + 1)
        lam_l = lam_of(2 * math.pi * kT * np.arange(2 * n_max))
        wz = wn + math.pi * kT * (lam_l[0] + 2 * np.concatenate(([0.0],
                                                                 np.cumsum(lam_l[1:n_max]))))
        n = np.arange(n_max)
        a = lam_l[np.abs(n[:, None] - n[None, :])] + lam_l[n[:, None] + n[None, :] + 1] \
            - 2 * mu_star
        s = math.pi * kT * a / np.sqrt(np.outer(wz, wz))
        return float(linalg.eigh(s, eigvals_only=True, subset_by_index=[n_max - 1, n_max - 1])[0])

    def g(log_kt):
        return math.log(top_eigenvalue(math.exp(log_kt)))

    w_ln = alpha2F.omega_ln
    # Matsubara matrices grow as ω_c/(2πk_BT): search no lower than MAX_MATSUBARA frequencies.
    lo = math.log(cutoff / (2 * math.pi * MAX_MATSUBARA))
    hi = math.log(0.5 * w_ln)
    mid = min(max(math.log(_allen_dynes(alpha2F.lam, w_ln, mu_star)), lo + 0.3), hi - 0.3)
    a, b = mid - 0.3, mid + 0.3
    while g(a) > 0 and b < hi:
        a, b = b, b + 0.5
    while g(a) <= 0:
        if a <= lo:
            return 0.0
        a, b = max(a - 0.5, lo), a
    log_kt = optimize.brentq(g, a, min(b, hi), xtol=1e-9, rtol=1e-9)
    return math.exp(log_kt) / K_B


def real_axis_tc(alpha2F: Alpha2F, mu_star: float, cutoff: float | None = None,
                 n_points: int = 4096, tc_guess: float | None = None) -> float:
    """Critical temperature (K) where the real-axis iteration loses its gap.

    Linearising (I-φ), (KK-φ) and φ_C in φ about the normal state (ρ = 1, εZ_n from (I-Z),
    (KK-Z) with ϕ = 0, which needs no iteration) gives a real-linear map φ → L_T φ with
    ``ϕ = Re[φ/(εZ_n)]``; Tc is where its eigenvalue of largest real part (ARPACK) crosses 1
    (Brent on T).  With μ* the sharp cutoff at ω_c acts differently on the real and the
    imaginary axis, so this Tc exceeds :func:`eliashberg_tc` by a few per cent at large μ*·ln;
    it is the Tc of the equations that :func:`eliashberg` solves.

    Parameters
    ----------
    alpha2F, mu_star, cutoff, n_points
        As in :func:`eliashberg`.
    tc_guess
        Starting bracket (K); default :func:`eliashberg_tc`.
    """
    from scipy.sparse.linalg import LinearOperator, eigs

    cutoff = 10 * alpha2F.omega_max if cutoff is None else float(cutoff)
    if tc_guess is None:
        tc_guess = eliashberg_tc(alpha2F, mu_star, cutoff, n_points)
    if tc_guess <= 0:
        return 0.0
    M = n_points

    def top(T: float) -> float:
        kT = K_B * T
        grid = _make_grid(alpha2F, kT, cutoff, n_points)
        eps = grid.eps
        im_z = _imaginary_parts(grid, np.ones(2 * M), np.zeros(2 * M))[0]
        ez = eps + grid.hilbert(im_z - grid.c_inf) + 1j * im_z

        def matvec(v):
            phi = v[:2 * M] + 1j * v[2 * M:]
            varphi = (phi / ez).real
            im = _imaginary_parts(grid, np.ones(2 * M), varphi)[1]
            re = grid.hilbert(im) + _coulomb(grid, varphi, kT, mu_star)
            return np.concatenate([re, im])

        op = LinearOperator((4 * M, 4 * M), matvec=matvec, dtype=float)
        v0 = np.concatenate([np.ones(2 * M), np.zeros(2 * M)])
        val = eigs(op, k=1, which="LR", v0=v0, tol=1e-8, return_eigenvectors=False)
        return float(val[0].real)

    a, b = 0.9 * tc_guess, 1.1 * tc_guess
    while top(a) < 1:
        a, b = 0.8 * a, a
    while top(b) > 1:
        a, b = b, 1.2 * b
    return float(optimize.brentq(lambda t: top(t) - 1, a, b, xtol=1e-6 * tc_guess))


def _allen_dynes(lam: float, w_ln: float, mu_star: float) -> float:
    """McMillan–Allen–Dynes estimate of k_B Tc (µeV), a starting bracket only."""
    den = lam - mu_star * (1 + 0.62 * lam)
    if den <= 0:
        return 1e-4 * w_ln
    return w_ln / 1.2 * math.exp(-1.04 * (1 + lam) / den)


def strong_coupling_gap_ratio(tc_over_wln: float) -> float:
    """``2Δ0/k_BTc = 3.53 [1 + 12.5 (Tc/ω_ln)² ln(ω_ln/2Tc)]`` (B. Mitrović, H. G. Zarate and
    J. P. Carbotte, Phys. Rev. B 29, 184 (1984); F. Marsiglio and J. P. Carbotte, Phys. Rev. B
    33, 6141 (1986)); stated accurate to about 5 % for Tc/ω_ln ≲ 0.25."""
    x = tc_over_wln
    return 2 * BCS_RATIO * (1 + 12.5 * x * x * math.log(1 / (2 * x)))


def eliashberg(material_: Material | str, alpha2F: Alpha2F | str | None = None, T: float = 0.0,
               mu_star: float | None = None, n_points: int | None = None,
               cutoff: float | None = None,
               broadening: float | None = None, mixing: float = 0.3, tol: float = 1e-8,
               max_iter: int = 2000, compute_tc: bool = True) -> xr.Dataset:
    """Solve the real-frequency Eliashberg equations at temperature ``T``.

    Iterates (I-Z), (I-φ) and (KK-Z), (KK-φ) (module docstring) from a BCS-like start
    ``Z = 1 + λ``, ``φ = Z Δ0 √(1 − (T/Tc)³)`` (material's Δ0, Tc; at least 0.05 Z Δ0) with
    linear mixing to self-consistency.

    Parameters
    ----------
    material_
        :class:`Material` or a built-in name: its Δ0 and Tc set the BCS start (units µeV).
    alpha2F
        :class:`Alpha2F`, a shipped name, or ``None`` for the material's shipped data.
    T
        Temperature (K), ≥ 0.
    mu_star
        Coulomb pseudopotential; default the one shipped with ``alpha2F``.
    n_points
        Grid points for 0 < ε < ω_c (the grid has 2 n_points, ε_j = (j + ½)h, h = ω_c/n_points);
        default 4096, or the power of two that makes h ≤ Δ0/8 when 4096 does not (Al:
        32768).  An explicit value with h > Δ0/8 is a ``ValueError``.
    cutoff
        ω_c (µeV), the grid edge and the μ* cutoff; default 10 × the largest phonon energy.
    broadening
        η (µeV) added to εZ in ρ, ϕ (regularises the gap-edge singularity at ``T → 0``);
        default max(h/10, Δ0/500): the bin averages of ρ, ϕ need no more than h/10, and the
        strong-coupling structure at Δ + Ω (Pb) keeps a slow oscillating mode in the
        iteration below η ≈ Δ0/700.  η acts as pair breaking: Δ shifts by ≈ −η.
    mixing
        Fraction of the new iterate mixed in each step (0, 1].
    tol
        Converged when the largest change of εZ and φ is below ``tol`` × max(max|φ|, Δ0 of
        the material); above Tc φ decays geometrically to zero, slowly just above Tc.
    max_iter
        Iteration limit (``ValueError`` beyond).
    compute_tc
        Also compute Tc: :func:`real_axis_tc` (where these equations lose the gap) and
        :func:`eliashberg_tc` (the linearised Matsubara equations, the usual μ* convention).

    Returns
    -------
    xarray.Dataset
        On ``eps`` > 0 (µeV): ``Z_real``, ``Z_imag``, ``phi_real``, ``phi_imag``,
        ``delta_real``, ``delta_imag`` (Δ = φ/Z), ``rho`` (Eq. 166; also as ``dos``),
        ``varphi`` (Eq. 167), ρ and ϕ as averages over the bin [ε − h/2, ε + h/2].
        Attributes: ``Tc`` (K, real axis), ``Tc_matsubara`` (K), ``delta0`` (gap edge, µeV),
        ``lam``, ``omega_ln`` (µeV), ``mu_star``, ``T``, ``cutoff``, ``iterations``,
        ``convergence`` (last relative change), ``broadening``.
    """
    mat = material(material_) if isinstance(material_, str) else material_
    if not isinstance(mat, Material):
        raise ValueError("material: give a Material or a built-in material name")
    a2f = (_shipped_alpha2F(mat.name) if alpha2F is None
           else _shipped_alpha2F(alpha2F) if isinstance(alpha2F, str) else alpha2F)
    if mu_star is None:
        if a2f.mu_star is None:
            raise ValueError(f"mu_star: no default shipped with {a2f.name}; give mu_star")
        mu_star = a2f.mu_star
    if not 0 <= mu_star < 1:
        raise ValueError(f"mu_star: must be in [0, 1), got {mu_star}")
    if not (math.isfinite(T) and T >= 0):
        raise ValueError(f"T: must be ≥ 0 K, got {T}")
    cutoff = 10 * a2f.omega_max if cutoff is None else float(cutoff)
    if n_points is None:
        n_points = max(4096, 1 << int(math.ceil(math.log2(8 * cutoff / mat.delta0))))
    if not (isinstance(n_points, int) and n_points >= 64):
        raise ValueError(f"n_points: must be an integer ≥ 64, got {n_points!r}")
    if not 0 < mixing <= 1:
        raise ValueError(f"mixing: must be in (0, 1], got {mixing}")
    h = cutoff / n_points
    if h > mat.delta0 / 8:
        raise ValueError(f"n_points: step {h:.3g} µeV exceeds delta0/8 = {mat.delta0 / 8:.3g} "
                         f"µeV; use n_points ≥ {int(math.ceil(8 * cutoff / mat.delta0))}")
    eta = max(0.1 * h, mat.delta0 / 500) if broadening is None else float(broadening)
    kT = K_B * T
    grid = _make_grid(a2f, kT, cutoff, n_points)
    eps = grid.eps
    lam = a2f.lam

    # BCS-like start from the material's Δ0 and Tc
    t = T / mat.Tc
    delta_start = mat.delta0 * math.sqrt(max(1 - t**3, 0.0)) if t < 1 else 0.0
    z0 = 1 + lam
    eps_z = z0 * eps + 0j
    phi = np.full(eps.shape, z0 * max(delta_start, 0.05 * mat.delta0), dtype=complex)
    change, it = math.inf, 0
    for it in range(1, max_iter + 1):  # noqa: B007
        rho, varphi = _spectral(eps, eps_z, phi, h, eta)
        im = _imaginary_parts(grid, rho, varphi)
        re = grid.hilbert(np.stack([im[0] - grid.c_inf, im[1]]))
        new_ez = eps + re[0] + 1j * im[0]
        new_phi = re[1] + _coulomb(grid, varphi, kT, mu_star) + 1j * im[1]
        scale = max(float(np.abs(phi).max()), mat.delta0)
        change = max(float(np.abs(new_ez - eps_z).max()),
                     float(np.abs(new_phi - phi).max())) / scale
        eps_z = (1 - mixing) * eps_z + mixing * new_ez
        phi = (1 - mixing) * phi + mixing * new_phi
        if change < tol:
            break
    else:
        raise ValueError(f"eliashberg: no convergence in {max_iter} iterations (last relative "
                         f"change {change:.2e}); lower mixing or raise max_iter")
    rho, varphi = _spectral(eps, eps_z, phi, h, eta)
    Z = eps_z / eps
    delta = phi / Z
    M = n_points
    tc_matsubara = (eliashberg_tc(a2f, mu_star, cutoff, weights=(grid.h, grid.weights))
                    if compute_tc else float("nan"))
    tc = (real_axis_tc(a2f, mu_star, cutoff, n_points, tc_guess=tc_matsubara)
          if compute_tc else float("nan"))
    coords = {"eps": ("eps", eps[M:], {"units": "ueV", "long_name": "energy ε"})}

    def var(x, long_name, units="1"):
        return ("eps", np.ascontiguousarray(x[M:]), {"long_name": long_name, "units": units})

    ds = xr.Dataset(
        {"Z_real": var(Z.real, "Re Z"), "Z_imag": var(Z.imag, "Im Z"),
         "phi_real": var(phi.real, "Re φ", "ueV"), "phi_imag": var(phi.imag, "Im φ", "ueV"),
         "delta_real": var(delta.real, "Re Δ = Re φ/Z", "ueV"),
         "delta_imag": var(delta.imag, "Im Δ", "ueV"),
         "rho": var(rho, "ρ = Re[εZ/√((εZ)² − φ²)] (Eq. 166)"),
         "dos": var(rho, "generalised DOS ρ (Eq. 166)"),
         "varphi": var(varphi, "ϕ = Re[φ/√((εZ)² − φ²)] (Eq. 167)")},
        coords=coords,
        attrs={"Tc": tc, "Tc_matsubara": tc_matsubara, "delta0": _gap_edge(eps, delta), "lam": lam,
               "omega_ln": a2f.omega_ln, "mu_star": mu_star, "T": T, "cutoff": cutoff,
               "iterations": it, "convergence": change, "broadening": eta,
               "alpha2F": a2f.name, "material": mat.name})
    return ds


def kinetic_weights(el: xr.Dataset, edges: np.ndarray) -> np.ndarray:
    """The renormalised weights of the kinetic equation on the bins ``edges`` (µeV).

    ``Z`` and ``φ`` of an :func:`eliashberg` result are interpolated (linearly) to the bin
    centres, their real parts' slopes taken on the Eliashberg grid, and
    :func:`.dos.bin_renormalised_weights` integrates ``ρ``, ``ϕ`` (Eqs. 166–167) and the
    left-hand-side factor ``ρ (Z₁ + ε Z₁') − ϕ φ₁'`` (Eq. 170) over each bin.

    Returns
    -------
    numpy.ndarray
        ``(3, n)``: ``∫ρ``, ``∫ϕ`` and ``∫[ρ (Z₁ + ε Z₁') − ϕ φ₁']`` per bin (µeV).

    Raises
    ------
    ValueError
        When the bins reach beyond the Eliashberg grid.
    """
    edges = np.asarray(edges, dtype=float)
    eps = np.asarray(el["eps"].values, dtype=float)
    if edges[-1] > eps[-1] or edges[0] < 0:
        raise ValueError(f"the bins up to {edges[-1]:.6g} µeV reach beyond the Eliashberg grid "
                         f"(ε ≤ {eps[-1]:.6g} µeV)")
    centres = 0.5 * (edges[1:] + edges[:-1])

    def at(values: np.ndarray) -> np.ndarray:
        return np.interp(centres, eps, values)

    z_re, phi_re = el["Z_real"].values, el["phi_real"].values
    Z = at(z_re) + 1j * at(el["Z_imag"].values)
    phi = at(phi_re) + 1j * at(el["phi_imag"].values)
    return bin_renormalised_weights(edges, Z, phi, at(np.gradient(z_re, eps)),
                                    at(np.gradient(phi_re, eps)))
