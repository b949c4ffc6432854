"""Quasiparticle–phonon kinetics of a BCS superconductor (0-D and in a slab or a sphere), its
thermal properties and the real-frequency Eliashberg equations (M. Li, *Documentation for
BoltzPhlow and BTE approach to QP–phonon transport*, §1.1, §1.2, §2.1–2.4, §3.1).

>>> import boltzphlow as bp
>>> al = bp.superconductor.material("Al")
>>> m = bp.superconductor.QPPhononModel(al, T_bath=0.1, energy_step=2.0, E_max=1500.0)
"""

from boltzphlow.kinetics.superconductor.collisions import CollisionOperator, Rates, TermRates
from boltzphlow.kinetics.superconductor.eliashberg import (
    Alpha2F,
    alpha2F,
    available_alpha2F,
    eliashberg,
    eliashberg_tc,
    real_axis_tc,
)
from boltzphlow.kinetics.superconductor.gap import (
    BCS_RATIO,
    bcs_critical_temperature,
    bcs_gap,
)
from boltzphlow.kinetics.superconductor.materials import Material, available_materials, material
from boltzphlow.kinetics.superconductor.model import (
    ParameterError,
    QPPhononModel,
    State,
)
from boltzphlow.kinetics.superconductor.sources import Injection, PhotonHit
from boltzphlow.kinetics.superconductor.spatial import (
    BoundaryInjection,
    PointPhoton,
    SpatialQPPhononModel,
)
from boltzphlow.kinetics.superconductor.thermal import (
    critical_temperature,
    equilibrium_gap,
    heat_capacity,
    heat_capacity_ratio,
    kirchhoff_transform,
    relaxation_time_conductivity_ratio,
    thermal_conductivity,
    thermal_conductivity_ratio,
    thermal_diffusivity,
    thermal_properties,
)

__all__ = ["BCS_RATIO", "Alpha2F", "BoundaryInjection", "CollisionOperator", "Injection",
           "Material", "ParameterError", "PhotonHit", "PointPhoton", "QPPhononModel", "Rates",
           "SpatialQPPhononModel", "State", "TermRates",
           "alpha2F", "available_alpha2F", "available_materials", "bcs_critical_temperature",
           "bcs_gap", "critical_temperature", "eliashberg", "eliashberg_tc", "equilibrium_gap",
           "heat_capacity", "heat_capacity_ratio", "kirchhoff_transform", "material",
           "real_axis_tc", "relaxation_time_conductivity_ratio", "thermal_conductivity",
           "thermal_conductivity_ratio", "thermal_diffusivity", "thermal_properties"]
