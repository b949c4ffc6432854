"""Thermal transport and heat capacity of a BCS superconductor (M. Li, *Documentation for
BoltzPhlow and BTE approach to QP–phonon transport*, §1.2, Eqs. 11–29).

Conventions: ``N0`` is the single-spin DOS at the Fermi level (as in :class:`Material`), the
quasiparticle (QP) energy is ``E = √(ξ² + Δ²)``, and a sum over states per volume is
``Σ_{kσ} = 2 N0 ∫_{−∞}^{∞} dξ = 4 N0 ∫_0^∞ dξ`` (two spins, two branches ξ ≷ 0).

Impurity-limited thermal conductivity (J. Bardeen, G. Rickayzen and L. Tewordt, "Theory of the
thermal conductivity of superconductors", Phys. Rev. 113, 982 (1959); Li Eqs. 15–23).  The
coherence factor of Eq. 17 summed over the two branches at equal energy gives the out-scattering
rate ``1/τ_s = (|ξ|/E)/τ_n`` (Eq. 19); with the group velocity ``v = (|ξ|/E) v_F`` the mean free
path ``ℓ = v τ_s = v_F τ_n`` is the normal one.  The heat current of Eqs. 20–22 is then

    κ_s = (1/T) Σ_{kσ} E² v_x² τ_s (−∂f/∂E) = (4 N0 v_F ℓ / 3T) ∫_Δ^∞ dE E² (−∂f/∂E),   (23')

i.e. Eq. 23 holds with ``4 N0`` for a single-spin ``N0`` (``2 N0`` if ``N0`` counts both spins):
for Δ → 0 (23') gives ``κ_n = (π²/3) k_B² T (2N0) v_F ℓ/3``, the Wiedemann–Franz value.  By parts,

    κ_s/κ_n = (6/π²) [y²/(1 + e^y) + 2y ln(1 + e^{−y}) − 2 Li₂(−e^{−y})],   y = Δ/k_BT,

BRT's closed form (Li₂ the dilogarithm, :func:`scipy.special.spence`).

Heat capacity (Li Eqs. 24–27; M. Tinkham, *Introduction to Superconductivity*, Eq. 3.53).
From the entropy of Eq. 25, ``T dS/dT`` with ``E`` depending on T through Δ(T):

    C_s = (4 N0 / T) ∫_0^∞ dξ (−∂f/∂E) [E² − (T/2) dΔ²/dT],                          (26')

which is Eq. 26 (``½β dΔ²/dβ = −(T/2) dΔ²/dT`` by Eq. 27).  ``dΔ²/dT`` is the implicit derivative
of the gap equation of :mod:`.gap`,

    dΔ²/dT = −(4/T) ∫_0^{Ω_D} dξ (−∂f/∂E) / ∫_0^{Ω_D} dξ [tanh(E/2k_BT)/E³ − 2(−∂f/∂E)/E²],

finite at Tc (``−(8π²/7ζ(3)) k_B² Tc``), which gives the jump ``ΔC/C_n = 12/(7ζ(3)) = 1.426``.
The normal state has ``C_n = γ T``, ``γ = (2π²/3) N0 k_B²``.

The relaxation-time form (Eq. 28) takes the QP *decay* time: the diagonal of the linearised
collision operator of the kinetic model (phonon scattering and recombination, Kaplan et al.,
Eqs. 35–37, :class:`.CollisionOperator`) at the thermal state, plus the impurity rate
``(ξ/E)/τ_n``; see :func:`relaxation_time_conductivity_ratio`.

Units: temperatures K, energies µeV, times ns, lengths µm; heat capacities J/(K m³), thermal
conductivities W/(m K), Kirchhoff potentials W/m, diffusion constants µm²/ns (10⁻³ m²/s).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import xarray as xr
from scipy import optimize
from scipy.special import expit, spence

from boltzphlow import stats
from boltzphlow.errors import check_positive
from boltzphlow.grids.energy import EnergyGrid
from boltzphlow.kinetics.superconductor.collisions import CollisionOperator
from boltzphlow.kinetics.superconductor.gap import (
    BCS_RATIO,
    bcs_critical_temperature,
    bcs_gap,
    gap_integrals,
    gauss_legendre_unit,
)
from boltzphlow.kinetics.superconductor.materials import Material
from boltzphlow.kinetics.superconductor.materials import material as load_material
from boltzphlow.parameters import check_parameters, parameter
from boltzphlow.units import K_B

__all__ = ["GAP_MODELS", "ThermalParameters", "critical_temperature", "equilibrium_gap",
           "gap_slope", "heat_capacity", "heat_capacity_ratio", "kirchhoff_transform",
           "normal_thermal_conductivity", "phonon_diffusion_constant",
           "quasiparticle_decay_rate", "quasiparticle_diffusion_constant",
           "relaxation_time_conductivity_ratio", "sommerfeld_coefficient", "thermal_conductivity",
           "thermal_conductivity_ratio", "thermal_diffusivity", "thermal_properties",
           "thermal_table"]

#: Gap models, each a solution of the gap equation of :func:`.gap.bcs_gap`: ``"bcs"`` (default)
#: the weak-coupling BCS gap of the material's Tc (Δ0 fixed by Tc and the Debye cutoff:
#: Δ0/k_BTc = 1.764 for Ω_D ≫ k_BTc; the thermal properties are then BCS's universal functions
#: of T/Tc, e.g. BRT's κ_s/κ_n table); ``"material"`` the material's Δ0 and Debye cutoff, as
#: the kinetic model uses them (it closes at the BCS Tc of that equation: 1.1842 K for Al's
#: Δ0 = 180 µeV, against the tabulated 1.19 K); ``"alpha"`` the material's gap as a function
#: of T/Tc scaled to close at the material's Tc with the material's Δ0 (the α-model of
#: H. Padamsee, J. E. Neighbor and C. A. Shiffman, J. Low Temp. Phys. 12, 387 (1973)).
GAP_MODELS = ("bcs", "material", "alpha")

#: µeV/(K µm³) → J/(K m³).
HEAT_CAPACITY_SI = 1.602176634e-7
#: µeV/(K µm ns) → W/(m K).
CONDUCTIVITY_SI = 1.602176634e-10
#: ``ζ(3)``.
ZETA3 = 1.2020569031595942

#: Gauss–Legendre nodes per temperature interval of the Kirchhoff transform.
_N_T = 8
#: Breakpoints of the Kirchhoff quadrature from 0 to Tc (besides the temperatures asked).
_N_KIRCHHOFF = 33


def _material(material: Material | str) -> Material:
    if isinstance(material, Material):
        return material
    if isinstance(material, str):
        return load_material(material)
    raise ValueError("material: must be a Material or the name of a built-in one")


def _temperatures(T: float | np.ndarray) -> np.ndarray:
    arr = np.asarray(T, dtype=float)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"T: temperatures must be positive and finite (K), got "
                         f"{np.array2string(arr.ravel()[:4], precision=4)}")
    return arr


def _shape(result: np.ndarray, T: float | np.ndarray) -> float | np.ndarray:
    return float(result) if np.ndim(T) == 0 else result


def _check_gap_model(gap: str) -> None:
    if gap not in GAP_MODELS:
        raise ValueError(f"gap: must be one of {', '.join(GAP_MODELS)}, got {gap!r}")


@lru_cache(maxsize=64)
def _delta0_of_tc(tc: float, debye_energy: float) -> float:
    """Δ0 (µeV) whose gap equation closes at ``tc`` (K) with the cutoff ``debye_energy``."""
    guess = BCS_RATIO * K_B * tc
    return float(optimize.brentq(lambda d: bcs_critical_temperature(d, debye_energy) - tc,
                                 0.9 * guess, 1.1 * guess, xtol=1e-13 * guess, rtol=1e-15))


def _gap_parameters(mat: Material, gap: str) -> tuple[float, float, float]:
    """``(Δ0, time scale, Tc)`` of the gap model: the gap equation with ``Δ0`` (and the
    material's Debye cutoff) solved at ``T · scale``, closing at ``Tc`` (:data:`GAP_MODELS`)."""
    _check_gap_model(gap)
    if gap == "bcs":
        return _delta0_of_tc(mat.Tc, mat.debye_energy), 1.0, mat.Tc
    tc_equation = bcs_critical_temperature(mat.delta0, mat.debye_energy)
    if gap == "alpha":
        return mat.delta0, tc_equation / mat.Tc, mat.Tc
    return mat.delta0, 1.0, tc_equation


def critical_temperature(material: Material | str, gap: str = "bcs") -> float:
    """Temperature (K) at which the gap of the model ``gap`` closes: the material's Tc for
    ``"bcs"`` and ``"alpha"``, the BCS Tc of the gap equation with the material's Δ0 and Debye
    cutoff for ``"material"`` (:func:`.gap.bcs_critical_temperature`; Al: 1.1842 K for Δ0 =
    180 µeV, against the tabulated 1.19 K)."""
    return _gap_parameters(_material(material), gap)[2]


def equilibrium_gap(material: Material | str, T: float | np.ndarray,
                    gap: str = "bcs") -> float | np.ndarray:
    """Equilibrium gap Δ(T) (µeV) of the gap model ``gap`` (see :data:`GAP_MODELS`): the gap
    equation of :func:`.gap.bcs_gap` (vectorised over temperatures) with the model's Δ0, at
    ``T · Tc_BCS/Tc`` for ``"alpha"`` (Padamsee, Neighbor and Shiffman, 1973)."""
    mat = _material(material)
    delta0, scale, _ = _gap_parameters(mat, gap)
    temps = _temperatures(T)
    out = bcs_gap(scale * temps.ravel(), delta0, mat.debye_energy)
    return _shape(np.asarray(out).reshape(temps.shape), T)


def _gap_state(mat: Material, temps: np.ndarray, gap: str) -> dict[str, np.ndarray]:
    """Δ, dΔ²/dT (µeV²/K) and the integrals at the actual temperature, flat arrays."""
    flat = temps.ravel()
    delta0, scale, _ = _gap_parameters(mat, gap)
    kt_gap = K_B * scale * flat
    delta = np.asarray(bcs_gap(scale * flat, delta0, mat.debye_energy))
    sc = delta > 0
    slope = np.zeros_like(flat)
    if sc.any():  # implicit derivative at the gap-equation temperature, times its scale
        q = gap_integrals(delta[sc] / kt_gap[sc], mat.debye_energy / kt_gap[sc])
        slope[sc] = -scale * 4.0 * K_B * kt_gap[sc] * q["I0"] / q["Dx"]
    kT = K_B * flat
    I0 = np.full_like(flat, 0.5)
    I2 = np.full_like(flat, math.pi**2 / 6)
    if sc.any():
        q = gap_integrals(delta[sc] / kT[sc], mat.debye_energy / kT[sc])
        I0[sc], I2[sc] = q["I0"], q["I2"]
    return {"delta": delta, "slope": slope, "I0": I0, "I2": I2, "kT": kT}


def gap_slope(material: Material | str, T: float | np.ndarray,
              gap: str = "bcs") -> float | np.ndarray:
    """``dΔ²/dT`` (µeV²/K) of the equilibrium gap, from the implicit derivative of the gap
    equation (module docstring); 0 above Tc, ``−(8π²/7ζ(3)) k_B² Tc`` just below it."""
    _check_gap_model(gap)
    mat = _material(material)
    temps = _temperatures(T)
    return _shape(_gap_state(mat, temps, gap)["slope"].reshape(temps.shape), T)


# ------------------------------------------------------------------------- heat capacity
def sommerfeld_coefficient(material: Material | str) -> float:
    """``γ = (2π²/3) N0 k_B²`` in J/(K² m³): ``C_n = γ T`` (two spins, single-spin N0)."""
    mat = _material(material)
    return 2.0 * math.pi**2 / 3.0 * mat.N0 * K_B**2 * HEAT_CAPACITY_SI


def heat_capacity(material: Material | str, T: float | np.ndarray,
                  gap: str = "bcs") -> float | np.ndarray:
    """Electronic heat capacity per volume, J/(K m³), with the gap term (Eq. 26').

    ``C_s = (4N0/T) ∫_0^∞ dξ (−∂f/∂E)[E² − (T/2) dΔ²/dT]`` below Tc and ``γ T`` above it (the
    same expression at Δ = 0).  Low-T limit: ``C_s ≈ 2√(2π) N0 k_B Δ0 (Δ0/k_BT)^{3/2}
    e^{−Δ0/k_BT} (1 + 11 k_BT/(8Δ0) + …)``.

    Parameters
    ----------
    material
        A :class:`Material` or a built-in name.
    T
        Temperatures (K), scalar or array, > 0.
    gap
        Gap model, :data:`GAP_MODELS`.
    """
    _check_gap_model(gap)
    mat = _material(material)
    temps = _temperatures(T)
    st = _gap_state(mat, temps, gap)
    flat = temps.ravel()
    c = (4.0 * mat.N0 / flat) * (st["kT"] ** 2 * st["I2"] - 0.5 * flat * st["slope"] * st["I0"])
    return _shape((c * HEAT_CAPACITY_SI).reshape(temps.shape), T)


def heat_capacity_ratio(material: Material | str, T: float | np.ndarray,
                        gap: str = "bcs") -> float | np.ndarray:
    """``C_s/C_n`` with ``C_n = γT`` at the same temperature (2.426 just below the BCS Tc)."""
    c = np.asarray(heat_capacity(material, T, gap))
    ratio = c / (sommerfeld_coefficient(material) * np.asarray(T, dtype=float))
    return _shape(ratio, T)


# ------------------------------------------------------------------ thermal conductivity
def _brt_ratio(y: np.ndarray) -> np.ndarray:
    """BRT's κ_s/κ_n at ``y = Δ/k_BT ≥ 0`` (module docstring; 1 at y = 0, → 0 for y → ∞)."""
    y = np.asarray(y, dtype=float)
    ey = np.exp(-y)
    first = y**2 * expit(-y)
    return 6.0 / math.pi**2 * (first + 2.0 * y * np.log1p(ey) + 2.0 * _minus_dilog_minus(ey))


def _minus_dilog_minus(x: np.ndarray) -> np.ndarray:
    """``−Li₂(−x)`` for 0 ≤ x ≤ 1: :func:`scipy.special.spence` (``Li₂(z) = spence(1 − z)``)
    for x > 1/4, where it is accurate to 1e-15; below, where ``spence(1 + x)`` loses digits
    to the rounding of 1 + x, the series ``Σ (−1)^{k+1} x^k/k²`` (30 terms, 4^−30 = 1e-18)."""
    k = np.arange(1, 31)
    small = np.minimum(x, 0.25)
    series = ((-1.0) ** (k + 1) * small[..., None] ** k / k**2).sum(-1)
    return np.where(x > 0.25, -spence(1.0 + np.maximum(x, 0.25)), series)


def thermal_conductivity_ratio(material: Material | str, T: float | np.ndarray,
                               gap: str = "bcs") -> float | np.ndarray:
    """κ_s/κ_n of Eq. 23 (impurity scattering, BRT 1959), T in K (scalar or array).

    Depends on T only through ``y = Δ(T)/k_BT``: at T/Tc = 0.3, 0.5, 0.7, 0.9 (Tc where the gap
    closes, :func:`critical_temperature`) it is 0.0829, 0.4083, 0.7350, 0.9523, BRT's table;
    1 above Tc.
    """
    _check_gap_model(gap)
    mat = _material(material)
    temps = _temperatures(T)
    delta = np.asarray(equilibrium_gap(mat, temps, gap))
    return _shape(_brt_ratio(delta / (K_B * temps)), T)


def normal_thermal_conductivity(material: Material | str, T: float | np.ndarray,
                                mean_free_path: float, fermi_velocity: float
                                ) -> float | np.ndarray:
    """Wiedemann–Franz ``κ_n = (π²/3) k_B² T (2N0) v_F ℓ/3`` in W/(m K).

    ``mean_free_path`` ℓ in µm, ``fermi_velocity`` v_F in µm/ns (1 µm/ns = 1000 m/s).  With a
    material's N0 from the Sommerfeld γ (mass-enhanced by 1 + λ) give the renormalised v_F, so
    that ``N0 v_F`` is the band value.
    """
    mat = _material(material)
    check_positive("mean_free_path", mean_free_path, "µm")
    check_positive("fermi_velocity", fermi_velocity, "µm/ns")
    temps = _temperatures(T)
    k = 2.0 * math.pi**2 / 9.0 * mat.N0 * K_B**2 * temps * fermi_velocity * mean_free_path
    return _shape(k * CONDUCTIVITY_SI, T)


def thermal_conductivity(material: Material | str, T: float | np.ndarray, *,
                         mean_free_path: float, fermi_velocity: float,
                         gap: str = "bcs") -> float | np.ndarray:
    """κ_es of Eq. 23 (with 4N0, single-spin N0) in W/(m K): κ_n × κ_s/κ_n.

    The materials carry no Fermi velocity: give it (µm/ns), with ℓ in µm.
    """
    kn = np.asarray(normal_thermal_conductivity(material, T, mean_free_path, fermi_velocity))
    return _shape(kn * np.asarray(thermal_conductivity_ratio(material, T, gap)), T)




def thermal_diffusivity(material: Material | str, T: float | np.ndarray, *,
                        mean_free_path: float, fermi_velocity: float,
                        gap: str = "bcs") -> float | np.ndarray:
    """Electronic thermal diffusivity ``D = κ/C`` (µm²/ns) of the Kirchhoff-transformed heat
    equation ``∂Φ/∂t = D(T) ∇²Φ``, ``Φ = ∫ κ dT`` (end of Li §1.2).

    ``D_n = v_F ℓ/3`` in the normal state; below Tc
    ``D_s/D_n = (κ_s/κ_n)/(C_s/C_n)`` < 1 (→ √(2k_BT/πΔ0) for T → 0): κ lacks the DOS factor
    ρ(E) = E/ξ that C has, so the diffusivity is *not* constant in the superconductor, unlike
    Li's remark after Eq. 24 (which holds for the normal metal).
    """
    check_positive("mean_free_path", mean_free_path, "µm")
    check_positive("fermi_velocity", fermi_velocity, "µm/ns")
    ratio = (np.asarray(thermal_conductivity_ratio(material, T, gap))
             / np.asarray(heat_capacity_ratio(material, T, gap)))
    return _shape(fermi_velocity * mean_free_path / 3.0 * ratio, T)


def kirchhoff_transform(material: Material | str, T: float | np.ndarray, *,
                        mean_free_path: float, fermi_velocity: float, T_ref: float = 0.0,
                        gap: str = "bcs") -> float | np.ndarray:
    """Kirchhoff potential ``Φ(T) = ∫_{T_ref}^{T} κ(T') dT'`` in W/m (end of Li §1.2).

    It turns ``C ∂_t T = ∇·(κ∇T)`` into ``∂_t Φ = D(T) ∇²Φ`` with ``D = κ/C``
    (:func:`thermal_diffusivity`).  Gauss–Legendre quadrature, 8 nodes on each interval between
    the temperatures asked, T_ref, Tc and 32 equal steps below Tc (Tc is a breakpoint:
    ``κ_s/κ_n − 1 ∝ (Tc − T)^{3/2}`` there); measured accuracy 1e-10 against adaptive quad.
    """
    mat = _material(material)
    temps = _temperatures(T)
    if not (isinstance(T_ref, int | float) and math.isfinite(T_ref) and T_ref >= 0):
        raise ValueError(f"T_ref: must be a temperature ≥ 0 K, got {T_ref!r}")
    tc = critical_temperature(mat, gap)
    a = float(normal_thermal_conductivity(mat, 1.0, mean_free_path, fermi_velocity))  # κ_n/T
    flat = temps.ravel()
    # breakpoints: the temperatures, T_ref, Tc and a uniform net below Tc; Gauss–Legendre on
    # every interval, summed cumulatively
    points = np.unique(np.concatenate([flat, [T_ref, tc], np.linspace(0.0, tc, _N_KIRCHHOFF)]))
    lo, hi = points[:-1], points[1:]
    s, w = gauss_legendre_unit(_N_T)
    nodes = lo[:, None] + (hi - lo)[:, None] * s
    ratio = np.ones_like(nodes)
    below = nodes < tc
    if below.any():
        ratio[below] = np.asarray(thermal_conductivity_ratio(mat, nodes[below], gap))
    pieces = (hi - lo) * (w * a * nodes * ratio).sum(-1)
    primitive = np.concatenate([[0.0], np.cumsum(pieces)])
    out = primitive[np.searchsorted(points, flat)] - primitive[np.searchsorted(points, T_ref)]
    return _shape(out.reshape(temps.shape), T)


# ------------------------------------------------------------- diffusion constants
def quasiparticle_diffusion_constant(material: Material | str, E: float | np.ndarray,
                                     T: float, *, mean_free_path: float,
                                     fermi_velocity: float, gap: str = "bcs"
                                     ) -> float | np.ndarray:
    """``D_qp(E) = v_g(E) ℓ/3`` (µm²/ns), ``v_g = v_F √(1 − Δ²/E²)``, 0 below the gap.

    The impurity mean free path ``ℓ = v_g τ_s = v_F τ_n`` is energy independent (Eq. 19), so
    the QPs are diffusive wherever the normal electrons are; it needs v_F (µm/ns) and ℓ (µm).
    """
    check_positive("mean_free_path", mean_free_path, "µm")
    check_positive("fermi_velocity", fermi_velocity, "µm/ns")
    delta = float(equilibrium_gap(material, float(_temperatures(T)), gap))
    e = np.asarray(E, dtype=float)
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ValueError("E: QP energies must be finite and ≥ 0 (µeV)")
    vg = fermi_velocity * np.sqrt(np.clip(1.0 - (delta / np.maximum(e, 1e-300)) ** 2, 0, None))
    return _shape(vg * mean_free_path / 3.0, E)


def phonon_diffusion_constant(material: Material | str, omega: float | np.ndarray, T: float,
                              *, sound_velocity: float, mean_free_path: float | None = None,
                              points_per_kT: int = 16, gap: str = "bcs"
                              ) -> float | np.ndarray:
    """Phonon diffusion constant ``D_ph = c_s ℓ_ph/3`` (µm²/ns).

    With ``mean_free_path`` (µm) it is that constant; without it ℓ_ph is the decay length
    ``c_s/Γ_ph(Ω)`` of the kinetic model: Γ_ph the diagonal of the linearised phonon collision
    rates (pair breaking above 2Δ, absorption by thermal QPs; Li Eqs. 39–40) at the thermal
    state at T.  The materials carry no sound velocity: give ``sound_velocity`` c_s (µm/ns;
    Al 6.42 µm/ns longitudinal).  Infinite where nothing decays (Ω below 2Δ at low T).
    """
    check_positive("sound_velocity", sound_velocity, "µm/ns")
    w = np.asarray(omega, dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("omega: phonon energies must be positive and finite (µeV)")
    if mean_free_path is not None:
        check_positive("mean_free_path", mean_free_path, "µm")
        return _shape(np.full(w.shape, sound_velocity * mean_free_path / 3.0), omega)
    mat = _material(material)
    op, f, n = _thermal_operator(mat, float(_temperatures(T)), points_per_kT, gap,
                                 omega_max=float(w.max()))
    decay = -op.linearize(f, n).diagonal()[1]
    rate = np.interp(w, op.grid.omega, decay)
    with np.errstate(divide="ignore"):
        D = np.where(rate > 0, sound_velocity**2 / (3.0 * rate), np.inf)
    return _shape(D, omega)


# ------------------------------------------------------- relaxation-time form (Eq. 28)
def _thermal_operator(mat: Material, T: float, points_per_kT: int, gap: str,
                      omega_max: float | None = None
                      ) -> tuple[CollisionOperator, np.ndarray, np.ndarray]:
    """The collision operator at Δ(T) on a grid of ``points_per_kT`` bins per k_BT (at least
    8 per 2Δ) reaching Δ + 40 k_BT (and ``omega_max``), and the thermal f, n on it."""
    if not (isinstance(points_per_kT, int) and 4 <= points_per_kT <= 256):
        raise ValueError(f"points_per_kT: must be an integer in 4..256, got {points_per_kT!r}")
    delta = float(equilibrium_gap(mat, T, gap))
    kT = K_B * T
    if delta < kT / 32:
        raise ValueError(f"T: {T:g} K is at or too close to Tc (Δ = {delta:.3g} µeV < k_BT/32): "
                         "the QP grid would need more than 10⁴ bins")
    # QP bins reach Δ + 40 k_BT and the largest phonon asked (pair breaking of ω needs
    # QPs up to ω − Δ); phonons reach the QP range
    e_max = max(delta + 40.0 * kT, 0.0 if omega_max is None else omega_max)
    w_max = e_max
    grid = EnergyGrid.for_gap(delta, min(kT / points_per_kT, delta / 4), e_max,
                              omega_max=w_max * 1.0001)
    op = CollisionOperator(grid, delta, mat.tau0, mat.tau_pb, mat.kTc, mat.delta0)
    return op, stats.fermi(grid.energies, 0.0, kT), stats.bose(grid.omega, kT)


def quasiparticle_decay_rate(material: Material | str, T: float, *, points_per_kT: int = 16,
                             gap: str = "bcs") -> tuple[np.ndarray, np.ndarray]:
    """QP decay rate Γ(E) (1/ns) by phonons at the thermal state at T, and the energies (µeV).

    Γ is the diagonal of the linearised collision integrals of Li Eqs. 35–37 (scattering,
    recombination and their inverses): ``Γ = (1/τ_s + 1/τ_r)/(1 − f)`` with Kaplan's
    out-scattering and recombination rates (S. B. Kaplan et al., Phys. Rev. B 14, 4854 (1976)),
    the rate at which a deviation δf(E) decays when everything else is thermal.

    Returns
    -------
    (E, Γ)
        Bin centres (µeV) and rates (1/ns).
    """
    mat = _material(material)
    op, f, n = _thermal_operator(mat, float(_temperatures(T)), points_per_kT, gap)
    return op.grid.energies, op.rates(f, n, terms=True).loss_f


def relaxation_time_conductivity_ratio(material: Material | str, T: float | np.ndarray,
                                       impurity_time: float, *, phonons: bool = True,
                                       points_per_kT: int = 16, gap: str = "bcs"
                                       ) -> float | np.ndarray:
    """κ_RT/κ_n of the relaxation-time form (Eq. 28) with the QP decay time.

    ``κ_RT = (4N0 v_F²/3T) ∫_0^∞ dξ ξ² τ(E) (−∂f/∂E)`` with ``1/τ = (ξ/E)/τ_n + Γ(E)``
    (impurities, Eq. 19, and the phonon decay rate of :func:`quasiparticle_decay_rate`),
    divided by the impurity-limited normal ``κ_n = (4N0 v_F² τ_n/3T)(π²/6)(k_BT)²``.  With
    ``phonons=False`` (or Γτ_n → 0) it is BRT's κ_s/κ_n; phonon decay lowers it where
    ``Γ τ_n`` is not small: near the gap edge, where the impurity rate vanishes as ξ/E, and
    toward Tc, where Γ grows as T³.

    On the grid, bin i carries ``w_i = ∫_bin ξE dE`` and the impurity rate averaged with the
    weight E² (``(w_i/∫_bin E² dE)/τ_n``), so that the impurity-only sum is
    ``τ_n Σ ∫_bin E² dE (−∂f/∂E)(E_i)``: a midpoint rule, error O((h/k_BT)²).

    Parameters
    ----------
    impurity_time
        Normal-state impurity time τ_n = ℓ/v_F (ns).
    phonons
        Include the phonon decay rate (the kinetic model's collision integrals).
    points_per_kT
        QP bins per k_BT (the step is also at most Δ/4).
    """
    check_positive("impurity_time", impurity_time, "ns")
    mat = _material(material)
    temps = _temperatures(T)
    out = np.empty(temps.size)
    for k, temp in enumerate(temps.ravel()):  # one collision operator per temperature
        op, f, n = _thermal_operator(mat, float(temp), points_per_kT, gap)
        kT = K_B * temp
        lo, hi = op.grid.edges[:-1], op.grid.edges[1:]
        xi_lo = np.sqrt(np.clip(lo**2 - op.delta**2, 0, None))
        xi_hi = np.sqrt(np.clip(hi**2 - op.delta**2, 0, None))
        w = (xi_hi**3 - xi_lo**3) / 3.0
        e2 = (hi**3 - lo**3) / 3.0
        rate = w / e2 / impurity_time
        if phonons:
            rate = rate + op.rates(f, n, terms=True).loss_f
        mdf = stats.minus_dfermi(op.grid.energies, 0.0, kT)
        tau = np.divide(1.0, rate, out=np.zeros_like(rate), where=rate > 0)
        out[k] = float(np.sum(w * tau * mdf)) / (impurity_time * math.pi**2 / 6 * kT**2)
    return _shape(out.reshape(temps.shape), T)


# ------------------------------------------------------------------------- the table
def thermal_properties(material: Material | str, T: np.ndarray, *, gap: str = "bcs",
                       mean_free_path: float | None = None,
                       fermi_velocity: float | None = None) -> xr.Dataset:
    """Table of the thermal properties at the temperatures ``T`` (K), a Dataset with units.

    Always: Δ(T), κ_s/κ_n (BRT), C_s, C_n, C_s/C_n, D_s/D_n.  With ``mean_free_path`` (µm)
    and ``fermi_velocity`` (µm/ns): κ (W/(m K)), D (µm²/ns) and the Kirchhoff potential
    Φ = ∫_0^T κ dT' (W/m).
    """
    _check_gap_model(gap)
    mat = _material(material)
    temps = _temperatures(T)
    if temps.ndim != 1:
        raise ValueError("T: a one-dimensional array of temperatures")
    st = _gap_state(mat, temps, gap)
    kT = st["kT"]
    gamma = sommerfeld_coefficient(mat)
    c_s = (4.0 * mat.N0 / temps) * (kT**2 * st["I2"] - 0.5 * temps * st["slope"] * st["I0"])
    c_s = c_s * HEAT_CAPACITY_SI
    c_n = gamma * temps
    kappa_ratio = _brt_ratio(st["delta"] / kT)
    tc = critical_temperature(mat, gap)

    def var(values: np.ndarray, units: str, long_name: str) -> tuple:
        return ("T", values, {"units": units, "long_name": long_name})

    data = {
        "delta": var(st["delta"], "ueV", "gap Δ(T)"),
        "kappa_ratio": var(kappa_ratio, "1", "κ_s/κ_n (BRT, impurity scattering)"),
        "heat_capacity": var(c_s, "J/(K m^3)", "electronic heat capacity C_s"),
        "heat_capacity_normal": var(c_n, "J/(K m^3)", "normal-state heat capacity γT"),
        "heat_capacity_ratio": var(c_s / c_n, "1", "C_s/C_n"),
        "diffusivity_ratio": var(kappa_ratio / (c_s / c_n), "1", "D_s/D_n = κ_s C_n/(κ_n C_s)"),
    }
    if (mean_free_path is None) != (fermi_velocity is None):
        raise ValueError("mean_free_path and fermi_velocity: give both or neither")
    if mean_free_path is not None:
        kappa = np.asarray(thermal_conductivity(mat, temps, mean_free_path=mean_free_path,
                                                fermi_velocity=fermi_velocity, gap=gap))
        data["kappa"] = var(kappa, "W/(m K)", "thermal conductivity κ (Eq. 23)")
        data["diffusivity"] = var(kappa / c_s * 1e3, "um^2/ns", "thermal diffusivity κ/C")
        data["kirchhoff"] = var(np.asarray(kirchhoff_transform(
            mat, temps, mean_free_path=mean_free_path, fermi_velocity=fermi_velocity, gap=gap)),
            "W/m", "Kirchhoff potential ∫_0^T κ dT'")
    return xr.Dataset(
        data, coords={"T": ("T", temps, {"units": "K", "long_name": "temperature"}),
                      "t": ("T", temps / tc, {"units": "1", "long_name": "T/Tc"})},
        attrs={"material": mat.name, "gap_model": gap, "Tc_K": tc,
               "sommerfeld_J_per_K2_m3": gamma})


@dataclass(frozen=True)
class ThermalParameters:
    """A table of thermal properties: material, gap model, temperatures, transport data."""

    material: str = parameter(
        "Al", unit="-", doc="built-in material (Al, In, Nb, Pb, Sn, Ta) or the path of a "
                            "material TOML file")
    gap: Literal["bcs", "material", "alpha"] = parameter(
        "bcs", unit="-", doc="gap model: bcs (weak-coupling BCS gap closing at the material's "
                             "Tc), material (the material's Δ0 and Debye cutoff, as the "
                             "kinetic model) or alpha (the material's Δ0, closing at its Tc)")
    T_min: float | None = parameter(None, unit="K", quantity=True, gt=0,
                                    doc="lowest temperature (none: 0.1 Tc)")
    T_max: float | None = parameter(None, unit="K", quantity=True, gt=0,
                                    doc="highest temperature (none: 1.5 Tc)")
    n_T: int = parameter(100, unit="1", ge=2, le=100_000,
                         doc="number of temperatures, equally spaced from T_min to T_max")
    mean_free_path: float | None = parameter(
        None, unit="um", quantity=True, gt=0,
        doc="impurity mean free path ℓ (with fermi_velocity: κ, D, Φ and the relaxation-time "
            "κ)")
    fermi_velocity: float | None = parameter(
        None, unit="um/ns", quantity=True, gt=0,
        doc="Fermi velocity v_F (1 µm/ns = 1000 m/s; the materials carry none)")
    points_per_kT: int = parameter(16, unit="1", ge=4, le=256,
                                   doc="QP bins per k_BT of the relaxation-time κ's grid")

    def __post_init__(self) -> None:
        check_parameters(self)
        if (self.mean_free_path is None) != (self.fermi_velocity is None):
            raise ValueError("mean_free_path: give it with fermi_velocity, or neither")

    def temperatures(self, mat: Material) -> np.ndarray:
        """The temperatures of the table (K)."""
        tc = critical_temperature(mat, self.gap)
        lo = 0.1 * tc if self.T_min is None else self.T_min
        hi = 1.5 * tc if self.T_max is None else self.T_max
        if not hi > lo:
            raise ValueError(f"T_max: {hi:g} K must exceed T_min = {lo:g} K")
        return np.linspace(lo, hi, self.n_T)


def thermal_table(params: ThermalParameters,
                  progress: Callable[[float, float], None] | None = None) -> xr.Dataset:
    """The table of :func:`thermal_properties` for ``params``, and with ℓ and v_F the
    relaxation-time κ (Eq. 28, :func:`relaxation_time_conductivity_ratio` with τ_n = ℓ/v_F)
    where the grid allows it (Δ ≥ k_BT/32, NaN closer to Tc and above it)."""
    mat = _material(params.material)
    temps = params.temperatures(mat)
    ds = thermal_properties(mat, temps, gap=params.gap, mean_free_path=params.mean_free_path,
                            fermi_velocity=params.fermi_velocity)
    if params.mean_free_path is not None:
        tau_n = params.mean_free_path / params.fermi_velocity
        ratio = np.full(temps.size, np.nan)
        ok = np.flatnonzero(ds["delta"].values >= K_B * temps / 32)
        for count, k in enumerate(ok):
            ratio[k] = relaxation_time_conductivity_ratio(
                mat, float(temps[k]), tau_n, points_per_kT=params.points_per_kT, gap=params.gap)
            if progress is not None:
                progress(count + 1, ok.size)
        kn = np.asarray(normal_thermal_conductivity(mat, temps, params.mean_free_path,
                                                    params.fermi_velocity))
        ds["kappa_rt_ratio"] = ("T", ratio, {
            "units": "1", "long_name": "κ_RT/κ_n (Eq. 28, impurity + phonon decay time)"})
        ds["kappa_rt"] = ("T", kn * ratio, {
            "units": "W/(m K)", "long_name": "relaxation-time κ (impurity + phonon decay)"})
        ds.attrs["impurity_time_ns"] = tau_n
    ds.attrs["Tc_material_K"] = mat.Tc
    return ds
