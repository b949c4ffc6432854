"""Built-in model library (units: ħ = e = 1, lattice constant 1, energies in the hopping unit).

=====================  =======================================================================
``massive_dirac``      2D continuum Dirac model, Eq. 37 of Valet and Raimondi [1] (Eq. 16 of [2])
``haldane``            Haldane's honeycomb Chern insulator (PRL 61, 2015 (1988))
``qi_wu_zhang``        two-band square-lattice Chern insulator (Qi, Wu, Zhang, PRB 74, 085308)
``weyl_lattice``       3D two-band Weyl lattice with two nodes, tunable separation and energy
                       offset (the class of models of Chang and Yang, PRB 91, 115203 (2015))
``rashba_2deg``        2D electron gas with Rashba spin-orbit coupling and a Zeeman gap
``p_band_model``       three-orbital p-band model of [3], supplement §I (fcc, K3C60-like DOS)
=====================  =======================================================================

[1] T. Valet and R. Raimondi, "Semiclassical kinetic theory for systems with non-trivial
    quantum geometry and the expectation value of physical quantities".
[2] C. Xiao, Y. Liu, M. Xie, S. A. Yang and Q. Niu, "Theory of phonon side jump contribution
    in anomalous Hall transport".
[3] G. Chiriacò, A. J. Millis and I. L. Aleiner, "Negative absolute conductivity in
    photoexcited metals".
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations, product

import numpy as np

from boltzphlow.bands.hamiltonian import ContinuumModel, TightBinding
from boltzphlow.parameters import parameter

__all__ = [
    "PAULI",
    "HaldaneParameters",
    "ParabolicParameters",
    "MassiveDiracParameters",
    "PBandParameters",
    "QiWuZhangParameters",
    "Rashba2degParameters",
    "WeylLattice",
    "WeylLatticeParameters",
    "WeylNode",
    "haldane",
    "parabolic_band",
    "massive_dirac",
    "p_band_model",
    "qi_wu_zhang",
    "rashba_2deg",
    "weyl_lattice",
]

#: Identity and Pauli matrices, ``PAULI[0] = 1``, ``PAULI[1:] = σ_x, σ_y, σ_z``.
PAULI = np.array(
    [[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex
)


# --------------------------------------------------------------------------------------------
# Parameters of the built-in models, declared once: the builders below take their defaults
# from these, and the ``geometry`` app derives its config tables from them.  Units: energies
# in the model's energy unit ("energy"), wave vectors in 1/a, angles in radians.


@dataclass(frozen=True)
class MassiveDiracParameters:
    """2D massive Dirac model on the k-box [-k_max, k_max]² (Valet and Raimondi, Eq. 37)."""

    v: float = parameter(1.0, unit="energy·a", doc="Dirac velocity")
    delta: float = parameter(0.1, unit="energy", doc="mass δ (half the gap)")
    k_max: float = parameter(5.0, unit="1/a", gt=0,
                             doc="half-width of the k-box [-k_max, k_max]² (the model is "
                                 "truncated there)")


@dataclass(frozen=True)
class ParabolicParameters:
    """One parabolic band ``ε = k²/2m`` on the k-box [-k_max, k_max]^d (the free-electron
    textbook case of transport: Drude, Hall coefficient, Wiedemann–Franz)."""

    mass: float = parameter(1.0, unit="1/(energy·a²)", gt=0,
                            doc="effective mass m, ε = k²/2m")
    k_max: float = parameter(3.0, unit="1/a", gt=0,
                             doc="half-width of the k-box [-k_max, k_max]^d")


@dataclass(frozen=True)
class HaldaneParameters:
    """Haldane honeycomb model: hoppings t1, t2 e^{±iφ}, sublattice mass ±m."""

    t1: float = parameter(1.0, unit="energy", doc="nearest-neighbour hopping")
    t2: float = parameter(0.15, unit="energy",
                          doc="next-nearest-neighbour hopping amplitude (phase ±φ)")
    phi: float = parameter(np.pi / 2, unit="rad", quantity=True,
                           doc="next-nearest-neighbour phase φ")
    m: float = parameter(0.2, unit="energy",
                         doc="sublattice mass ±m (topological for |m| < 3√3 t2 |sin φ|)")


@dataclass(frozen=True)
class QiWuZhangParameters:
    """Qi-Wu-Zhang square-lattice Chern insulator."""

    m: float = parameter(1.0, unit="energy", doc="mass (Chern insulator for 0 < |m/t| < 2)")
    t: float = parameter(1.0, unit="energy", doc="hopping")


@dataclass(frozen=True)
class WeylLatticeParameters:
    """Two-node Weyl lattice: nodes at (0, 0, ±k0) with energies ±b0."""

    t: float = parameter(1.0, unit="energy", doc="in-plane hopping (nonzero)")
    tz: float = parameter(1.0, unit="energy", doc="out-of-plane hopping (nonzero)")
    m: float = parameter(1.0, unit="energy",
                         doc="mass gapping the other momenta (2|m| > |tz|(1 + |cos k0|))")
    k0: float = parameter(np.pi / 2, unit="rad", quantity=True,
                          doc="nodes at (0, 0, ±k0) in 1/a (given as an angle), 0 < k0 < π")
    b0: float = parameter(0.0, unit="energy",
                          doc="node energies ±b0 (chiral chemical potential)")


@dataclass(frozen=True)
class Rashba2degParameters:
    """Rashba 2DEG with a Zeeman gap on the k-box [-k_max, k_max]²."""

    mass: float = parameter(0.5, unit="1/(energy·a²)", gt=0,
                            doc="effective mass, kinetic energy k²/2m")
    alpha: float = parameter(0.5, unit="energy·a", doc="Rashba coupling")
    zeeman: float = parameter(0.1, unit="energy", doc="out-of-plane Zeeman gap Δ_Z")
    k_max: float = parameter(4.0, unit="1/a", gt=0, doc="half-width of the k-box")


@dataclass(frozen=True)
class PBandParameters:
    """Three-orbital p-band model on the fcc lattice (Chiriacò, Millis and Aleiner, SM §I)."""

    t1: float = parameter(-1.0, unit="energy",
                          doc="hopping of an orbital to the neighbours in the two planes "
                              "containing its axis (-100 meV in Chiriacò et al.)")
    t2: float = parameter(0.3, unit="energy",
                          doc="hopping of an orbital to the neighbours in the plane normal to "
                              "its axis (30 meV in Chiriacò et al.)")
    t3: float = parameter(2.0, unit="energy",
                          doc="interorbital hopping p_x-p_y in the xy plane and cyclic "
                              "(200 meV in Chiriacò et al.)")


def _rotation(angle: float, dim: int = 2) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    r = np.eye(dim)
    r[:2, :2] = [[c, -s], [s, c]]
    return r


def massive_dirac(v: float = MassiveDiracParameters.v, delta: float = MassiveDiracParameters.delta,
                  k_max: float = MassiveDiracParameters.k_max) -> ContinuumModel:
    r"""2D massive Dirac model on the box ``[-k_max, k_max]^2``, Eq. 37 of Valet and Raimondi.

    .. math:: H = v\,(k_x\sigma_x + k_y\sigma_y) + \delta\,\sigma_z

    Its upper band carries the Berry curvature of their Eq. 38,
    ``Ω(k) = -v^2 δ / (2 (v^2 k^2 + δ^2)^{3/2})`` (the lower band the opposite).

    Parameters
    ----------
    v
        Dirac velocity (energy × lattice constant).
    delta
        Mass δ (half the gap).
    k_max
        Half-width of the k-box.
    """
    v, delta = float(v), float(delta)

    def h(k: np.ndarray) -> np.ndarray:
        return (
            v * k[..., 0, None, None] * PAULI[1]
            + v * k[..., 1, None, None] * PAULI[2]
            + delta * PAULI[3]
        )

    def dh(k: np.ndarray) -> np.ndarray:
        out = np.empty(k.shape[:-1] + (2, 2, 2), dtype=complex)
        out[..., 0, :, :] = v * PAULI[1]
        out[..., 1, :, :] = v * PAULI[2]
        return out

    return ContinuumModel(
        h, 2, 2, k_max, velocity=dh, name=f"massive Dirac (v={v:g}, delta={delta:g})"
    )


def parabolic_band(mass: float = ParabolicParameters.mass,
                   k_max: float = ParabolicParameters.k_max, dim: int = 2) -> ContinuumModel:
    r"""One parabolic band ``ε(k) = k²/2m`` in ``dim`` = 1, 2 or 3 dimensions, on the box
    ``[-k_max, k_max]^dim``.

    No Berry curvature, no orbital moment: the reference band of Boltzmann transport (Drude
    ``σ = n e² τ/m``, Hall coefficient ``1/(n e)``, Wiedemann–Franz).

    Parameters
    ----------
    mass
        Effective mass m (``ħ = 1``: 1/(energy × a²)).
    k_max
        Half-width of the k-box.
    dim
        Dimension of k-space.
    """
    mass, dim = float(mass), int(dim)
    if not mass > 0:
        raise ValueError(f"the mass must be > 0, got {mass}")
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim}")

    def h(k: np.ndarray) -> np.ndarray:
        return (0.5 * np.sum(k * k, axis=-1) / mass)[..., None, None].astype(complex)

    def dh(k: np.ndarray) -> np.ndarray:
        return (k / mass)[..., :, None, None].astype(complex)

    return ContinuumModel(h, 1, dim, k_max, velocity=dh,
                          name=f"parabolic band (m={mass:g}, {dim}D)")


def haldane(
    t1: float = HaldaneParameters.t1,
    t2: float = HaldaneParameters.t2,
    phi: float = HaldaneParameters.phi,
    m: float = HaldaneParameters.m,
) -> TightBinding:
    r"""Haldane model on the honeycomb lattice (lattice constant 1).

    Lattice vectors ``a_1 = (1, 0)``, ``a_2 = (1/2, √3/2)``; orbitals A at (1/3, 1/3) and B
    at (2/3, 2/3) (reduced).  Nearest-neighbour hopping ``t1``; next-nearest ``t2 e^{±iφ}``
    (``+φ`` on A along ``a_1, a_2 - a_1, -a_2``, ``-φ`` on B); on-site ``±m``.  Then

    .. math::
        H = 2t_2\cos\phi\sum_i\cos(\mathbf k\cdot\mathbf b_i)
            + \mathbf d_\perp\cdot\boldsymbol\sigma_\perp
            + \Big[m - 2t_2\sin\phi\sum_i\sin(\mathbf k\cdot\mathbf b_i)\Big]\sigma_z.

    The lower band has Chern number ``-sgn(φ)`` (with this module's conventions, see
    :func:`boltzphlow.geometry.chern_number`) for ``|m| < 3√3 |t_2 \sin φ|`` and 0 above.
    Declares the C3 rotations as symmetries.
    """
    a = np.array([[1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    positions = np.array([[1 / 3, 1 / 3], [2 / 3, 2 / 3]])
    hops: list = [(t1, 0, 1, r) for r in ((0, 0), (-1, 0), (0, -1))]
    for r in ((1, 0), (-1, 1), (0, -1)):
        hops.append((t2 * np.exp(1j * phi), 0, 0, r))
        hops.append((t2 * np.exp(-1j * phi), 1, 1, r))
    return TightBinding.from_hopping_list(
        a,
        [m, -m],
        hops,
        positions,
        symmetry=[_rotation(2 * np.pi / 3), _rotation(4 * np.pi / 3)],
        name=f"Haldane (t1={t1:g}, t2={t2:g}, phi={phi:.4g}, m={m:g})",
    )


def qi_wu_zhang(m: float = QiWuZhangParameters.m, t: float = QiWuZhangParameters.t
                ) -> TightBinding:
    r"""Qi-Wu-Zhang model on the square lattice.

    .. math::
        H = t\,[\sin k_x\,\sigma_x + \sin k_y\,\sigma_y + (m/t + \cos k_x + \cos k_y)\,\sigma_z]

    Gapped except at ``m/t ∈ {-2, 0, 2}``; the lower band has a nonzero Chern number for
    ``0 < |m/t| < 2`` (opposite signs on the two sides of 0) and 0 for ``|m/t| > 2``.
    Declares the C4 rotations as symmetries.
    """
    sx, sy, sz = PAULI[1:]
    table = {
        (0, 0): m * sz,
        (1, 0): t * (sx / 2j + sz / 2),
        (-1, 0): t * (-sx / 2j + sz / 2),
        (0, 1): t * (sy / 2j + sz / 2),
        (0, -1): t * (-sy / 2j + sz / 2),
    }
    rots = [_rotation(np.pi / 2 * i) for i in (1, 2, 3)]
    return TightBinding(np.eye(2), table, symmetry=rots, name=f"Qi-Wu-Zhang (m={m:g}, t={t:g})")


@dataclass(frozen=True)
class WeylNode:
    """A Weyl node: position ``k`` (Cartesian), ``chirality`` (±1), node ``energy``.

    The chirality is the Berry flux of the lower band (band 0) through a small sphere
    around the node in units of 2π (:func:`boltzphlow.geometry.berry_flux`), i.e. the sign of
    the determinant of the velocity tensor ``v_ij`` in ``H ≈ E + Σ v_ij q_i σ_j``.
    """

    k: np.ndarray
    chirality: int
    energy: float


class WeylLattice(TightBinding):
    """A :class:`TightBinding` model with a ``nodes`` attribute listing its Weyl nodes."""

    nodes: tuple[WeylNode, ...] = ()


def weyl_lattice(
    t: float = WeylLatticeParameters.t,
    tz: float = WeylLatticeParameters.tz,
    m: float = WeylLatticeParameters.m,
    k0: float = WeylLatticeParameters.k0,
    b0: float = WeylLatticeParameters.b0,
) -> WeylLattice:
    r"""Two-band Weyl semimetal on the simple cubic lattice with exactly two nodes.

    .. math::
        H = t(\sin k_x\sigma_x + \sin k_y\sigma_y)
            + [t_z(\cos k_z - \cos k_0) + m(2 - \cos k_x - \cos k_y)]\sigma_z
            + b_0\,\frac{\sin k_z}{\sin k_0}\,\sigma_0

    Nodes at ``(0, 0, ±k0)`` (separation ``2 k0``) with energies ``±b0`` (the energy offset
    that breaks inversion and gives a chiral chemical potential) and chiralities
    ``∓ sgn(t_z sin k_0)``.  This is the kind of two-band lattice model used by Chang and Yang
    (PRB 91, 115203 (2015)) to show that the equilibrium CME of a complete lattice vanishes.

    Parameters
    ----------
    t, tz
        In-plane and out-of-plane hopping amplitudes.
    m
        Mass term gapping the other time-reversal-invariant momenta; needs
        ``2|m| > |t_z| (1 + |cos k_0|)`` so that only the two nodes exist.
    k0
        Node position along z, ``0 < k0 < π``.
    b0
        Node energy offset (node at ``+k0`` at energy ``+b0``); the cones stay untilted
        (type I) for ``|b0 cot k0| < |t_z| sin k0``.

    Raises
    ------
    ValueError
        If extra nodes would appear or k0 is outside (0, π).
    """
    if not 0 < k0 < np.pi:
        raise ValueError(f"k0 must lie in (0, pi), got {k0}")
    if not 2 * abs(m) > abs(tz) * (1 + abs(np.cos(k0))):
        raise ValueError(
            f"m = {m} too small: need 2|m| > |tz|(1 + |cos k0|) = "
            f"{abs(tz) * (1 + abs(np.cos(k0))):g} "
            "to gap the nodes away from kx = ky = 0"
        )
    if t == 0 or tz == 0:
        raise ValueError("t and tz must be nonzero")
    sx, sy, sz = PAULI[1:]
    one = PAULI[0]
    offset = b0 / np.sin(k0)
    table = {
        (0, 0, 0): (2 * m - tz * np.cos(k0)) * sz,
        (1, 0, 0): t * sx / 2j - m / 2 * sz,
        (-1, 0, 0): -t * sx / 2j - m / 2 * sz,
        (0, 1, 0): t * sy / 2j - m / 2 * sz,
        (0, -1, 0): -t * sy / 2j - m / 2 * sz,
        (0, 0, 1): tz / 2 * sz + offset / 2j * one,
        (0, 0, -1): tz / 2 * sz - offset / 2j * one,
    }
    rots = [_rotation(np.pi / 2 * i, 3) for i in (1, 2, 3)]
    model = WeylLattice(
        np.eye(3),
        table,
        symmetry=rots,
        name=f"Weyl lattice (t={t:g}, tz={tz:g}, m={m:g}, k0={k0:.4g}, b0={b0:g})",
    )
    chi = int(np.sign(t * t * tz * np.sin(k0)))
    model.nodes = (
        WeylNode(k=np.array([0.0, 0.0, k0]), chirality=-chi, energy=float(b0)),
        WeylNode(k=np.array([0.0, 0.0, -k0]), chirality=chi, energy=float(-b0)),
    )
    return model


def rashba_2deg(
    mass: float = Rashba2degParameters.mass,
    alpha: float = Rashba2degParameters.alpha,
    zeeman: float = Rashba2degParameters.zeeman,
    k_max: float = Rashba2degParameters.k_max,
) -> ContinuumModel:
    r"""2D electron gas with Rashba coupling and an out-of-plane Zeeman gap, on a k-box.

    .. math:: H = \frac{k^2}{2m} + \alpha\,(k_x\sigma_y - k_y\sigma_x) + \Delta_Z\,\sigma_z

    Without ``zeeman`` the bands touch at k = 0 and the Berry curvature vanishes elsewhere;
    with it each band carries ``Ω = ∓ α^2 Δ_Z / (2 (α^2 k^2 + Δ_Z^2)^{3/2})``.
    """
    if mass <= 0:
        raise ValueError(f"mass must be positive, got {mass}")
    sx, sy, sz = PAULI[1:]

    def h(k: np.ndarray) -> np.ndarray:
        kx, ky = k[..., 0, None, None], k[..., 1, None, None]
        return (kx**2 + ky**2) / (2 * mass) * PAULI[0] + alpha * (kx * sy - ky * sx) + zeeman * sz

    def dh(k: np.ndarray) -> np.ndarray:
        kx, ky = k[..., 0, None, None], k[..., 1, None, None]
        return np.stack(
            [kx / mass * PAULI[0] + alpha * sy, ky / mass * PAULI[0] - alpha * sx], axis=-3
        )

    return ContinuumModel(
        h,
        2,
        2,
        k_max,
        velocity=dh,
        name=f"Rashba 2DEG (m={mass:g}, alpha={alpha:g}, Zeeman={zeeman:g})",
    )


def _cubic_group() -> list[np.ndarray]:
    """The 48 signed permutation matrices (point group O_h)."""
    ops = []
    for perm in permutations(range(3)):
        for signs in product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            for i, p in enumerate(perm):
                m[i, p] = signs[i]
            ops.append(m)
    return ops


def p_band_model(t1: float = PBandParameters.t1, t2: float = PBandParameters.t2,
                 t3: float = PBandParameters.t3) -> TightBinding:
    r"""Three-orbital (p_x, p_y, p_z) model on the fcc lattice (Chiriacò, Millis, Aleiner, SM §I).

    .. math::
        t_{xx}(\mathbf k) = t_1\cos\tfrac{k_x}{2}\big[\cos\tfrac{k_y}{2} + \cos\tfrac{k_z}{2}\big]
                            + t_2\cos\tfrac{k_y}{2}\cos\tfrac{k_z}{2},\qquad
        t_{xy}(\mathbf k) = t_3\sin\tfrac{k_x}{2}\sin\tfrac{k_y}{2}

    and cyclic permutations: nearest-neighbour hopping on the fcc lattice with cubic lattice
    constant 1 (``a_1 = (0, ½, ½)`` etc.).  The paper uses ``t1 = -100``, ``t2 = 30``,
    ``t3 = 200`` meV to mimic the density of states of K3C60; the defaults are those values
    in units of 100 meV.  Real and inversion symmetric, so its Berry curvature vanishes;
    declares the 48 operations of O_h.
    """
    lattice = 0.5 * np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    inv = np.linalg.inv(lattice)
    table: dict[tuple[int, ...], np.ndarray] = {}
    for plane in ((0, 1), (0, 2), (1, 2)):
        normal = 3 - sum(plane)
        for s1, s2 in product((1, -1), repeat=2):
            delta = np.zeros(3)
            delta[plane[0]], delta[plane[1]] = s1 / 2, s2 / 2
            h = np.zeros((3, 3), dtype=complex)
            for a in range(3):
                h[a, a] = (t2 if a == normal else t1) / 4
            h[plane[0], plane[1]] = h[plane[1], plane[0]] = -t3 * s1 * s2 / 4
            key = tuple(int(x) for x in np.round(delta @ inv))
            table[key] = h
    return TightBinding(
        lattice,
        table,
        symmetry=_cubic_group(),
        name=f"p-band fcc (t1={t1:g}, t2={t2:g}, t3={t3:g})",
    )
