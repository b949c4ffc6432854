"""Parameters of the photoexcited metal and of the p-band model, with units and meanings.

The one place where these parameters are named and given a unit, a default and a meaning
(G. Chiriacò, A. J. Millis and I. L. Aleiner, *Negative absolute conductivity in photoexcited
metals*: main-text Eqs. 2–9, supplement Eqs. 44–54 and §I); the app derives its config from
them (:func:`boltzphlow.schema.config_model`) and hands their values to
:class:`~boltzphlow.kinetics.photoexcited.model.PhotoexcitedMetal` and
:func:`~boltzphlow.kinetics.photoexcited.dos.p_band`.

Units are the model's: energies and temperatures in the bandwidth W (``k_B = 1``), times in
1/Γ_eph, the field in ``e v_F √(τ_tr/Γ_eph)/W``.  The ranges of the physical parameters are
checked (and named) by the model when it is built, not here, so that a sweep records a point
with a bad value as a failed point instead of refusing the whole grid; only the grid sizes
carry bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from boltzphlow.parameters import parameter

__all__ = ["MetalParameters", "PBandParameters"]

#: The unit of the field ℰ (Eq. 7 in the model's units).
FIELD_UNIT = "e v_F √(τ_tr/Γ_eph)/W"


@dataclass(frozen=True)
class MetalParameters:
    """The metal, its pumped phonon mode, the collision terms and the energy grid."""

    transport: Literal["constant-v2tau", "constant-tau", "impurity", "constant-vtau"] = \
        parameter("constant-v2tau", unit="-",
                  doc="τ_tr model (footnote 19): σ̃ ∝ D (constant-v2tau), D v² (constant-tau), "
                      "v² (impurity, τ_tr ∝ 1/D), D v (constant-vtau)")
    mu: float | None = parameter(
        None, unit="W", doc="chemical potential of f_T (0 when neither mu nor filling is given)")
    filling: float | None = parameter(
        None, unit="1", doc="fraction of the band's states filled by f_T; sets mu (then mu may "
                            "only be 0)")
    T: float = parameter(0.003, unit="W",
                         doc="temperature of f_T and of the bath of St_in (k_B = 1)")
    omega_p: float = parameter(0.5, unit="W", doc="energy of the pumped phonon mode")
    zeta: float = parameter(20.0, unit="1",
                            doc="non-equilibrium phonon occupation ζ: fixed, or its initial "
                                "value with fixed_zeta = false")
    fixed_zeta: bool = parameter(True, unit="-",
                                 doc="keep ζ fixed (Figs. 1, 2) or evolve it by Eq. 3")
    gamma_eph: float = parameter(1.0, unit="Γ_eph",
                                 doc="electron–phonon rate Γ_eph of St_el (Eq. 4); 0 switches "
                                     "St_el off")
    gamma_in: float = parameter(0.0, unit="Γ_eph", doc="inelastic rate Γ_in of St_in (Eq. 6)")
    tau_ph: float = parameter(math.inf, unit="1/Γ_eph", allow_inf=True,
                              doc="phonon decay time of Eq. 3 (inf: none)")
    field: float = parameter(0.0, unit=FIELD_UNIT, doc="applied dc field ℰ of St_E (Eq. 7)")
    points_per_omega: int = parameter(
        400, unit="1", ge=2,
        doc="energy cells per ω_p (step h = ω_p/points_per_omega; h <= T, i.e. "
            "points_per_omega >= ω_p/T, resolves the thermal step)")
    delta_omega: float = parameter(
        0.0, unit="W", doc="standard deviation of a Gaussian phonon band (supplement Eq. 52); 0 "
                           "or between h and ω_p/3")
    dispersion: Literal["gaussian", "diffusive"] = parameter(
        "gaussian", unit="-",
        doc="with delta_omega > 0: gaussian (St_el averaged over the Gaussian band, supplement "
            "Eq. 52) or diffusive (its expansion to second order in ω − ω_p, the energy "
            "diffusion of docs/photoexcited.md)")
    instability: bool | Literal["constraint", "maxwell"] = parameter(
        False, unit="-",
        doc="follow the σ < 0 instability with an internal field E*(t) (task = evolve): true "
            "or constraint (smallest E*² keeping σ >= 0), maxwell (E*² by Maxwell's law)")
    tau_maxwell: float = parameter(0.02, unit="1/Γ_eph",
                                   doc="dielectric relaxation time τ_M of the instability")
    field_seed: float = parameter(1e-4, unit=FIELD_UNIT,
                                  doc="seed field E_seed of the maxwell instability")


@dataclass(frozen=True)
class PBandParameters:
    """Hoppings and k-mesh of the three-orbital p-band model (supplement §I; ``dos =
    "p-band"``)."""

    t1: float = parameter(-1.0, unit="100 meV", doc="hopping t1 (−100 meV in the paper)")
    t2: float = parameter(0.3, unit="100 meV", doc="hopping t2 (30 meV)")
    t3: float = parameter(2.0, unit="100 meV", doc="hopping t3 (200 meV)")
    mesh: int = parameter(40, unit="1", ge=4, le=200,
                          doc="k-points per axis of the Monkhorst–Pack mesh (mesh³ in all)")
    bins: int = parameter(200, unit="1", ge=8, le=5000,
                          doc="histogram bins of D(ε) and ⟨v²⟩(ε) over the band")
