"""Transport in space for the QP–phonon model: finite-volume grids (slab, sphere) and the
diffusive and ballistic transport steps, one per species, acting on all energy bins at once
(M. Li, *Documentation for BoltzPhlow and BTE approach to QP–phonon transport*, Eqs. 31, 38,
52–56 and the spherical problem at the end of §2.4).

>>> from boltzphlow.kinetics.superconductor.spatial import Slab, Diffusion
>>> op = Diffusion(Slab(10.0, 50), weight=1.0, diffusivity=[[1.0, 2.0]])
>>> op.step(op.weight * 0 + 1.0, dt=0.1).outflow.shape
(2, 2)
"""

from boltzphlow.kinetics.superconductor.spatial.geometry import Geometry, Slab, Sphere
from boltzphlow.kinetics.superconductor.spatial.model import (
    BoundaryInjection,
    PointPhoton,
    SpatialQPPhononModel,
    SpatialState,
    thermal_temperature,
)
from boltzphlow.kinetics.superconductor.spatial.transport import (
    Diffusion,
    Streaming,
    TransportStep,
    Wall,
    qp_bin_velocity,
    qp_group_velocity,
)

__all__ = ["BoundaryInjection", "Diffusion", "Geometry", "PointPhoton", "Slab",
           "SpatialQPPhononModel", "SpatialState", "Sphere", "Streaming", "TransportStep", "Wall",
           "qp_bin_velocity", "qp_group_velocity", "thermal_temperature"]
