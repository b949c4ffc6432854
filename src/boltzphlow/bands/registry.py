"""The registry of model kinds: what an app needs to know about each Hamiltonian of the library.

Each :class:`ModelKind` holds the model's parameter dataclass (its parameters declared once,
with unit, default, meaning and bounds: :func:`boltzphlow.parameters.parameter`), its builder,
its dimension, whether it is a lattice (a Brillouin zone) or a continuum model (a k-box), its
high-symmetry points and its default band path.  The ``geometry`` app derives its config
tables, its checks and its band paths from :data:`MODEL_KINDS`; a new model of
:mod:`boltzphlow.bands` becomes available there by one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.bands.models import (
    HaldaneParameters,
    MassiveDiracParameters,
    ParabolicParameters,
    PBandParameters,
    QiWuZhangParameters,
    Rashba2degParameters,
    WeylLatticeParameters,
    haldane,
    massive_dirac,
    p_band_model,
    parabolic_band,
    qi_wu_zhang,
    rashba_2deg,
    weyl_lattice,
)
from boltzphlow.bands.paths import FCC, HEXAGONAL, SIMPLE_CUBIC, SQUARE, box_points

__all__ = ["MODEL_KINDS", "ModelKind", "high_symmetry_points"]


def _fixed(points: Mapping[str, tuple[float, ...]]) -> Callable[[Any], dict[str, np.ndarray]]:
    """The points of a lattice whose zone does not depend on the parameters."""
    return lambda params: {name: np.asarray(k, dtype=float) for name, k in points.items()}


def _box(params: Any) -> dict[str, np.ndarray]:
    """Points of a continuum k-box: in units of k_max without parameters."""
    return box_points() if params is None else box_points(params.k_max)


def _parabolic_2d(mass: float = ParabolicParameters.mass,
                  k_max: float = ParabolicParameters.k_max) -> Hamiltonian:
    """The 2D :func:`~boltzphlow.bands.models.parabolic_band` (configs name the 2D band)."""
    return parabolic_band(mass=mass, k_max=k_max, dim=2)


def _weyl(params: Any) -> dict[str, np.ndarray]:
    """Simple cubic points and the Weyl nodes W1, W2 at (0, 0, ±k0)."""
    k0 = WeylLatticeParameters.k0 if params is None else params.k0
    points = _fixed(SIMPLE_CUBIC)(params)
    points["W1"], points["W2"] = np.array([0, 0, k0]), np.array([0, 0, -k0])
    return points


@dataclass(frozen=True)
class ModelKind:
    """A model of the library as apps see it.

    Attributes
    ----------
    name
        Name of the model in a config (``hamiltonian = "haldane"``).
    dim
        Spatial dimension.
    lattice
        True for a lattice model (k on the Brillouin zone), False for a continuum model on a
        k-box.
    parameters
        Dataclass of the model's parameters (:func:`~boltzphlow.parameters.parameter` fields),
        or ``None`` for a model read from a file (the app states that input).
    build
        ``build(**parameters)``: the model (``None`` with ``parameters``).
    points
        ``points(params)``: named high-symmetry points, Cartesian (1/a); ``params`` an
        instance of ``parameters`` (or anything with its attributes), or ``None`` for the
        defaults (continuum boxes then in units of k_max).
    default_path
        Corner points of the default band path (fewer than two: a path must be given).
    """

    name: str
    dim: int
    lattice: bool
    parameters: type | None
    build: Callable[..., Hamiltonian] | None
    points: Callable[[Any], dict[str, np.ndarray]]
    default_path: tuple[str, ...]

    def model(self, params: Any) -> Hamiltonian:
        """The model with the parameters ``params`` (an instance of :attr:`parameters`).

        Raises
        ------
        ValueError
            For parameters the model refuses.
        """
        if self.build is None:
            raise ValueError(f"the {self.name} model is read from a file, not built")
        return self.build(**asdict(params))


#: The model kinds, by config name, in the order the configs list them.
MODEL_KINDS: Mapping[str, ModelKind] = {kind.name: kind for kind in (
    ModelKind("haldane", 2, True, HaldaneParameters, haldane, _fixed(HEXAGONAL),
              ("G", "K", "M", "K'", "G")),
    ModelKind("qi_wu_zhang", 2, True, QiWuZhangParameters, qi_wu_zhang, _fixed(SQUARE),
              ("G", "X", "M", "G")),
    ModelKind("massive_dirac", 2, False, MassiveDiracParameters, massive_dirac, _box,
              ("X", "G", "M")),
    ModelKind("weyl_lattice", 3, True, WeylLatticeParameters, weyl_lattice, _weyl,
              ("G", "X", "M", "G", "W1", "Z", "R")),
    ModelKind("rashba_2deg", 2, False, Rashba2degParameters, rashba_2deg, _box,
              ("X", "G", "M")),
    ModelKind("parabolic", 2, False, ParabolicParameters, _parabolic_2d, _box,
              ("X", "G", "M")),
    ModelKind("p_band", 3, True, PBandParameters, p_band_model, _fixed(FCC),
              ("G", "X", "W", "L", "G", "K")),
    ModelKind("wannier90", 3, True, None, None, _fixed({"G": (0.0, 0.0, 0.0)}), ("G",)),
)}


def high_symmetry_points(name: str, params: Any = None) -> dict[str, np.ndarray]:
    """Named k-points of a model kind, Cartesian (1/a).

    Parameters
    ----------
    name
        A key of :data:`MODEL_KINDS`.
    params
        The model's parameters (scale the continuum box points by ``k_max`` and put the Weyl
        nodes W1, W2 at ``(0, 0, ±k0)``); ``None``: the defaults, box points in units of k_max.

    Returns
    -------
    dict
        ``G`` (Γ) and the model's other points: Haldane (hexagonal) K, K', M; Qi-Wu-Zhang
        (square) X, Y, M; continuum boxes X = (k_max, 0), Y, M = (k_max, k_max); Weyl lattice
        (cubic) X, Y, Z, M, R and the nodes W1, W2; p-band (fcc) X, L, W, K, U; Wannier90
        files only G.
    """
    return MODEL_KINDS[name].points(params)
