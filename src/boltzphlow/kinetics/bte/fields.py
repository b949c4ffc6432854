r"""Field terms of the linearised Boltzmann equation: the Lorentz force and the Berry-phase
corrections of the kinetic equation of T. Valet and R. Raimondi, "Semiclassical kinetic theory
for systems with non-trivial quantum geometry and the expectation value of physical
quantities" (Eqs. 12, 29–30, 34–35).

Conventions
-----------
Units ħ = e = k_B = 1, carrier charge ``e = +1``.  ``Ω_s`` is the Berry curvature of
:class:`~boltzphlow.kspace.KStates` (an axial vector; ``(0, 0, Ω_xy)`` in 2D) and ``m_s`` its
orbital moment.  With the seed's signs (its Eq. 29 with ``e = +1``; the same signs as
:mod:`boltzphlow.observables.semiclassical` and :func:`~boltzphlow.observables.anomalous_hall`)
the phase-space factor and the equations of motion of a state in the fields ``E`` and ``B`` are

.. math::

    D = 1 - \mathbf B\cdot\boldsymbol\Omega,\qquad
    \bar ε = ε - \mathbf m\cdot\mathbf B,\qquad \tilde{\mathbf v} = ∂_{\mathbf k}\bar ε,

    D\,\dot{\mathbf r} = \tilde{\mathbf v} - \mathbf E\times\boldsymbol\Omega
        - (\tilde{\mathbf v}\cdot\boldsymbol\Omega)\,\mathbf B,\qquad
    D\,\dot{\mathbf k} = \mathbf E + \tilde{\mathbf v}\times\mathbf B
        - (\mathbf E\cdot\mathbf B)\,\boldsymbol\Omega,

which are Eq. 29a/b multiplied by ``D`` (exact; the seed's Eq. 29 is their expansion to first
order).  Note the sign of ``D``: ``1 + B·Ω`` belongs to the opposite sign of Ω (or of the
charge); with the curvature of :mod:`boltzphlow.kspace` the intrinsic Hall conductivity
``-∫ f Ω`` (Eq. 35) and the chiral magnetic current ``-∫ f (v·Ω) B`` (Eq. 34) fix it.

The linearised equation in the variables of :mod:`boltzphlow.scattering.base`
-----------------------------------------------------------------------------
The phase-space density of states is ``D d^dk/(2π)^d``, so the steady, uniform Boltzmann
equation (Eq. 30 with a collision integral) reads ``k̇·∂_k f = I[f]`` with the collision
integral of the D-weighted measure.  Multiply by ``w D`` (``w`` the k-space weight of the
mesh point) and write ``f = f^0(ε̄) + f^0(1-f^0) φ`` (``f^0`` at ``ε̄``: the equilibrium in
``B``, since ``ṽ×B·∂_k f^0(ε̄) = 0``).  To first order in ``E``:

* the collision term ``w D I[δf] = -(L φ)`` is the operator of
  :class:`~boltzphlow.scattering.CollisionOperator` built on states of weight ``D w`` and
  energy ``ε̄`` (every pair flux carries ``D_s w_s D_{s'} w_{s'}``; the sink of a constant τ
  ``D w f^0(1-f^0)/τ``);
* the drive, from ``D k̇·∂_k f^0 = [E - (E·B)Ω]·ṽ ∂f^0/∂ε̄`` with
  ``-∂f^0/∂ε = f^0(1-f^0)/T``, is

  .. math:: b_j = w\, f^0(1-f^0)\, [\hat e_j - (\hat e_j\cdot\mathbf B)\boldsymbol\Omega]
            \cdot\tilde{\mathbf v}\,/\,T;

* the Lorentz term ``w (ṽ×B)·∂_k δf`` moves to the left: ``(L + K_B) φ = b``.

The Lorentz operator
--------------------
``g u`` with ``g = f^0(1-f^0)``, ``u = ṽ×B`` is a curl: ``g ∇ε̄×B = -T ∇f^0×B
= ∇×A`` with ``A = -T f^0(ε̄) B``.  Hence ``K_B φ = w g u·∇φ`` is divergence-free transport
and, in reduced mesh coordinates (unit step along axis a is the Cartesian ``Δk_a``,
``w = |det Δk|``), ``w (g u)^a = sgn(det Δk) ε^{abc} ∂_b A_c`` with ``A_c = A·Δk_c``.  On the
mesh the face flux ``F_{s,a}`` between the states s and s+a is this discrete curl, ``A_c`` taken
on the dual edges as the mean of ``A_c`` over the four mesh points around them; a discrete curl
has exactly zero discrete divergence, and

.. math:: (K_B φ)_s = \sum_a \tfrac12\,[F_{s,a} φ_{s+a} - F_{s-a,a} φ_{s-a}]

is the central difference in flux form: exactly skew-symmetric (``K_B(-B) = K_Bᵀ``, so with a
symmetric ``L`` Onsager's ``σ_ij(B) = σ_ji(-B)`` holds to round-off where ``L`` and ``b`` do
not depend on B, i.e. without the Berry terms) and ``K_B 1 = 0`` (particle conservation).  At the
edge of the energy window (or of a continuum box) a mesh neighbour is not held: the face to it
is left out (its ``φ`` is unknown) and every dual edge among whose four points one is not held
takes the limit of ``f^0`` beyond that edge (1 below μ, 0 above, decided from the held points
alone, hence the same for every state sharing the dual edge).  Then the left-out faces carry
zero flux and the held ones remain a discrete curl, so ``K_B 1 = 0`` holds to round-off on the
states held, and the left null vector of ``L + K_B`` on each conserving set is the constant, as
the pinned solves of :class:`~boltzphlow.kinetics.bte.LinearBTE` assume (a leak of
``K_B 1`` at the edge leaves the drive out of the range of ``L + K_B``).  The change from the
true ``f^0`` there is ``≤ e^{-n_kT}``, the size of the window's own truncation.
The mesh must resolve ``f^0``: the truncation error is
``O((v h / T)^2)`` with ``v h`` the energy step between neighbours (second order, checked in
the tests).

The current and the intrinsic term
----------------------------------
``j = Σ_s w D ṙ f /(2π)^d`` (Eq. 34 with the D-weighted measure): the deviation carries
``w f^0(1-f^0) φ [ṽ - (ṽ·Ω)B]``, i.e. :meth:`FieldTerms.current_velocity`
``(ṽ - (ṽ·Ω)B)/D`` against the occupation ``D w f^0(1-f^0)`` of the field states; the
equilibrium ``f^0(ε̄)`` carries ``-E×Ω``: ``σ_ij = -ε_ijl Σ_sea w f^0(ε̄) Ω_l /(2π)^d``, the
intrinsic anomalous Hall conductivity of Eq. 35 (:meth:`FieldTerms.intrinsic_conductivity`;
summed over the whole Fermi sea of the model, not the window).

2D models take ``B`` along z only (their curvature is ``Ω_xy``); 1D models no field.  Signs:
with the carrier charge +1 the ordinary Hall coefficient is ``R_H = ρ_yx/B_z = +1/n``
(``σ_xy > 0`` for ``B_z > 0``); for electrons of charge -e flip the sign of B (and of R_H).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.kspace.fermi import FERMI_CUTOFF
from boltzphlow.kspace.states import EnergyWindow, KStates
from boltzphlow.resources import check_memory
from boltzphlow.scattering.base import Equilibrium

__all__ = ["FieldTerms", "cartesian_steps", "mesh_gradient"]

#: The Levi-Civita symbol ε_abc.
_LEVI_CIVITA = np.zeros((3, 3, 3))
for _a, _b, _c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
    _LEVI_CIVITA[_a, _b, _c], _LEVI_CIVITA[_a, _c, _b] = 1.0, -1.0


def _axial3(components: np.ndarray, dim: int) -> np.ndarray:
    """Curvature-like components ``(S, C)`` as 3-vectors ``(S, 3)`` (2D: ``(0, 0, Ω_xy)``)."""
    s = len(components)
    if dim == 3:
        return np.asarray(components, float)
    out = np.zeros((s, 3))
    if dim == 2 and components.shape[1]:
        out[:, 2] = components[:, 0]
    return out


def _field_vector(magnetic_field: Any, dim: int) -> np.ndarray:
    """``B`` as a checked 3-vector (None: zero)."""
    if magnetic_field is None:
        return np.zeros(3)
    b = np.asarray(magnetic_field, dtype=float).reshape(-1)
    if b.shape != (3,) or not np.all(np.isfinite(b)):
        raise ValueError(f"magnetic_field must be three finite numbers (Bx, By, Bz), got "
                         f"{np.asarray(magnetic_field).tolist()}")
    if dim == 1 and np.any(b):
        raise ValueError("a 1D model takes no magnetic field")
    if dim == 2 and np.any(b[:2]):
        raise ValueError(f"a 2D model takes a magnetic field along z only, got B = {b.tolist()}")
    return b


def _mesh_index(states: KStates) -> np.ndarray:
    """Integer mesh indices ``(d, S)`` of the states' k-points."""
    if states.mesh is None or states.reduced:
        raise ValueError("the field terms need the states of a full mesh (not "
                         "symmetry-reduced)")
    return np.array(np.unravel_index(states.k_index, states.mesh.shape))


def cartesian_steps(states: KStates) -> np.ndarray:
    """The Cartesian displacement ``Δk_a`` of one mesh step along each reduced axis, as the
    rows of a ``(d, d)`` matrix.

    Found from the states themselves: their wave vectors are linear in the reduced coordinates
    ``f`` (lattice: ``k = f B``, B the reciprocal vectors) or in ``wrap(f)`` (continuum box:
    ``k = 2 k_max wrap(f)``), fitted by least squares and checked to round-off.

    Raises
    ------
    ValueError
        If the states do not span the mesh axes or do not lie on a linear mesh.
    """
    index = _mesh_index(states).T
    mesh = states.mesh
    shape = np.asarray(mesh.shape, dtype=float)
    f = (index + np.asarray(mesh.shift)) / shape
    coords = f if states.periodic else np.mod(f + 0.5, 1.0) - 0.5
    basis, _res, rank, _sv = np.linalg.lstsq(coords, states.k, rcond=None)
    scale = 1.0 + float(np.abs(states.k).max(initial=0.0))
    if rank < states.dim or np.abs(coords @ basis - states.k).max() > 1e-8 * scale:
        raise ValueError("the states do not span a regular k-mesh along every axis: the field "
                         "terms need a window with states along each mesh direction")
    return basis / shape[:, None]


def mesh_gradient(states: KStates, values: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``∂g/∂k`` ``(S, d)`` of a quantity ``g`` ``(S,)`` of the states, by central differences
    along the reduced axes (one-sided where one neighbour is missing, zero where both are),
    turned Cartesian with the mesh steps (``∂_a g = Δk_a·∇g``).  Error ``O(h²)`` inside."""
    values = np.asarray(values, float)
    deriv = np.zeros((len(states), states.dim))
    for axis in range(states.dim):
        up, down = states.neighbours(axis, 1), states.neighbours(axis, -1)
        has_up, has_down = up >= 0, down >= 0
        vu, vd = values[np.where(has_up, up, 0)], values[np.where(has_down, down, 0)]
        deriv[:, axis] = np.where(has_up & has_down, 0.5 * (vu - vd),
                                  np.where(has_up, vu - values,
                                           np.where(has_down, values - vd, 0.0)))
    return deriv @ np.linalg.inv(steps).T


@dataclass(frozen=True, eq=False)
class FieldTerms:
    """The field-dependent pieces of the linearised BTE (see the module docstring).

    Build with :meth:`build`.

    Attributes
    ----------
    states
        The states in the field: energies ``ε̄ = ε - m·B``, velocities ``ṽ = ∂ε̄/∂k``,
        weights ``D w`` (what the collision operator is built on).
    bare
        The states as built (``ε``, ``v``, ``w``).
    magnetic_field
        ``B`` (3-vector; along z for 2D models, zero in 1D).
    berry
        Whether the Berry-phase terms are on.
    curvature
        ``Ω`` as 3-vectors ``(S, 3)`` (zero with the Berry terms off).
    phase_space_factor
        ``D = 1 - B·Ω`` ``(S,)``.
    steps
        ``Δk_a`` (rows, ``(d, d)``) when a field is on, else None.
    hamiltonian
        The model, for the Fermi-sea sum of the intrinsic term (None: only the states held).
    """

    states: KStates
    bare: KStates
    magnetic_field: np.ndarray
    berry: bool
    curvature: np.ndarray
    phase_space_factor: np.ndarray
    steps: np.ndarray | None = None
    hamiltonian: Hamiltonian | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, states: KStates, magnetic_field: Any = None, berry: bool = True, *,
              hamiltonian: Hamiltonian | None = None) -> FieldTerms:
        """The field terms of ``states`` in the field ``B`` (None: zero).

        Parameters
        ----------
        states
            States built with the curvature when ``berry`` (and the orbital moment when also
            ``B ≠ 0``), on a full (not symmetry-reduced) mesh when ``B ≠ 0``.
        magnetic_field
            ``(Bx, By, Bz)`` (2D: ``(0, 0, Bz)``; 1D: zero) or None.
        berry
            Include the phase-space factor, the anomalous velocity and the orbital moment.
        hamiltonian
            The model the states come from: the intrinsic (Fermi-sea) term sums over its whole
            mesh.  Without it that term is summed over the states held (the window only).

        Raises
        ------
        ValueError
            For a field a model of that dimension cannot take, states missing the curvature or
            the orbital moment the Berry terms need, or a field so strong that
            ``D = 1 - B·Ω ≤ 0`` somewhere (beyond the semiclassical theory).
        """
        d = states.dim
        b = _field_vector(magnetic_field, d)
        berry = bool(berry)
        field_on = bool(np.any(b))
        use_berry = berry and d >= 2
        if use_berry and states.berry_curvature.shape[1] == 0:
            raise ValueError("the Berry terms need the Berry curvature: build the states with "
                             "curvature=True (or pass berry=False)")
        curvature = (_axial3(states.berry_curvature, d) if use_berry
                     else np.zeros((len(states), 3)))
        steps = cartesian_steps(states) if field_on else None
        energy, velocity = states.energy, states.velocity
        if field_on and use_berry:
            if states.orbital_moment is None:
                raise ValueError("the Berry terms in a magnetic field need the orbital moment: "
                                 "build the states with orbital_moment=True")
            zeeman = _axial3(states.orbital_moment, d) @ b  # m·B
            energy = energy - zeeman
            velocity = velocity - mesh_gradient(states, zeeman, steps)
        phase = 1.0 - curvature @ b
        if len(phase) and phase.min() <= 0:
            raise ValueError(f"the magnetic field is too strong for the semiclassical theory: "
                             f"1 - B·Ω reaches {phase.min():.3g} <= 0 (|B| = "
                             f"{np.linalg.norm(b):g})")
        in_field = states
        if field_on and use_berry:
            in_field = dataclasses.replace(states, energy=energy, velocity=velocity,
                                           weight=states.weight * phase)
        return cls(states=in_field, bare=states, magnetic_field=b, berry=berry,
                   curvature=curvature, phase_space_factor=phase, steps=steps,
                   hamiltonian=hamiltonian)

    # ------------------------------------------------------------------ the equation
    def _anomaly_velocity(self) -> np.ndarray:
        """``ṽ·Ω`` ``(S,)`` (zero in 2D, where Ω is normal to the plane of ṽ)."""
        v = self.states.velocity
        return (v * self.curvature[:, : v.shape[1]]).sum(axis=1)

    def drive(self, eq: Equilibrium) -> np.ndarray:
        r"""Right-hand sides ``(S, d)`` for a unit field along each axis j:
        ``b_j = w f^0(1-f^0) [ṽ_j - B_j (ṽ·Ω)] / T`` (``f^0`` at ``ε̄``; module docstring).

        The ``B_j (ṽ·Ω)`` part is the chiral-anomaly pumping ``-(E·B) Ω·ṽ ∂f^0/∂ε``."""
        s = self.states
        occ = self.bare.weight * eq.pauli_weight(s.energy) / eq.T
        v = s.velocity - np.outer(self._anomaly_velocity(), self.magnetic_field[: s.dim])
        return occ[:, None] * v

    def lorentz(self, eq: Equilibrium) -> sp.csr_matrix | None:
        r"""The Lorentz-force operator ``K_B`` ``(S, S)`` added to ``L`` (None at zero field).

        ``K_B φ = w f^0(1-f^0) (ṽ×B)·∂_k φ`` in the divergence-free flux form of the module
        docstring: exactly skew-symmetric, ``K_B 1 = 0``, at most ``2 d S`` nonzeros."""
        b = self.magnetic_field
        if not np.any(b):
            return None
        key = ("lorentz", eq.mu, eq.T)
        if key not in self._cache:
            self._cache[key] = self._lorentz(eq, b)
        return self._cache[key].copy()

    def _lorentz(self, eq: Equilibrium, b: np.ndarray) -> sp.csr_matrix:
        s = self.states
        n, d = len(s), s.dim
        check_memory(2 * d * n * 40, f"the Lorentz operator of {n} states", ["mesh"])
        f0 = eq.fermi(s.energy)
        steps3 = np.eye(3)
        steps3[:d, :d] = self.steps
        orientation = float(np.sign(np.linalg.det(steps3)))
        a_cov = -eq.T * (steps3 @ b)  # A_c = a_cov[c] f0: A = -T f0 B along Δk_c
        _mesh_index(s)  # refuses symmetry-reduced states
        occupation: dict[tuple[int, ...], np.ndarray] = {}

        def f_at(offset: np.ndarray) -> np.ndarray:
            """``f^0`` of the mesh point ``s + offset`` of every state (NaN where not held)."""
            key = tuple(int(o) for o in offset)
            if key not in occupation:
                if not any(key):
                    occupation[key] = f0
                else:
                    rows = s.neighbours(offset=key)
                    occupation[key] = np.where(rows >= 0, f0[np.maximum(rows, 0)], np.nan)
            return occupation[key]

        def dual_edge(*offsets: np.ndarray) -> np.ndarray:
            """``f^0`` on the dual edge among four mesh points: their mean; where one is not
            held, the limit of ``f^0`` beyond that window edge (1 below μ, 0 above), chosen
            from the held points alone, so that every state sharing the edge sees the same
            value."""
            corners = np.stack([f_at(o) for o in offsets])
            missing = np.isnan(corners)
            held = np.where(missing, 0.0, corners)
            count = np.maximum((~missing).sum(axis=0), 1)
            edge = (held.sum(axis=0) / count > 0.5).astype(float)
            return np.where(missing.any(axis=0), edge, held.sum(axis=0) / 4)

        unit = np.eye(d, dtype=int)
        zero = np.zeros(d, dtype=int)
        rows_out, cols_out, vals_out = [], [], []
        for a in range(d):
            flux = np.zeros(n)
            for bb in range(d):
                if bb == a:
                    continue
                ea, eb = unit[a], unit[bb]
                upper = dual_edge(zero, ea, eb, ea + eb)
                lower = dual_edge(-eb, ea - eb, zero, ea)
                for c in range(3):
                    coeff = _LEVI_CIVITA[a, bb, c] * a_cov[c]
                    if coeff:
                        flux += coeff * (upper - lower)
            flux *= orientation
            partner = s.neighbours(a, 1)
            held = np.nonzero(partner >= 0)[0]
            rows_out += [held, partner[held]]
            cols_out += [partner[held], held]
            vals_out += [0.5 * flux[held], -0.5 * flux[held]]
        return sp.csr_matrix((np.concatenate(vals_out),
                              (np.concatenate(rows_out), np.concatenate(cols_out))),
                             shape=(n, n))

    # ------------------------------------------------------------------ the current
    def current_velocity(self) -> np.ndarray:
        """Velocity ``(S, d)`` carrying the current of ``δf`` against the occupation
        ``D w f^0(1-f^0)`` of :attr:`states`: ``(ṽ - (ṽ·Ω)B) / D`` (the chiral-magnetic term
        of Eq. 34; ``ṽ`` without field or Berry terms)."""
        s = self.states
        v = s.velocity - np.outer(self._anomaly_velocity(), self.magnetic_field[: s.dim])
        return v / self.phase_space_factor[:, None]

    def intrinsic_conductivity(self, eq: Equilibrium) -> np.ndarray:
        r"""Conductivity of the equilibrium occupation (anomalous velocity), ``(d, d)``, in
        e²/ħ per spin; zero with the Berry terms off or in 1D.

        ``σ_ij = -ε_ijl Σ_n ∫ d^dk/(2π)^d f^0(ε̄_n) Ω^n_l`` (Eq. 35 of Valet and Raimondi, with
        ``ε̄`` in the field), over the whole mesh of :attr:`hamiltonian` (states up to
        ``μ + 40 T`` at zero field; every state in a field, whose orbital moment shifts
        energies), or over the states held when no Hamiltonian was given."""
        d = self.states.dim
        if not self.berry or d < 2:
            return np.zeros((d, d))
        key = ("intrinsic", eq.mu, eq.T)
        if key not in self._cache:
            b = self.magnetic_field
            field_on = bool(np.any(b))
            sea = np.zeros(3)
            if self.hamiltonian is None:
                w = self.states.weight / self.phase_space_factor
                sea = (w * eq.fermi(self.states.energy)) @ self.curvature
            else:
                window = EnergyWindow() if field_on else EnergyWindow(
                    -np.inf, eq.mu + FERMI_CUTOFF * eq.T)
                for part in KStates.chunks(self.hamiltonian, self.bare.mesh, window,
                                           orbital_moment=field_on):
                    energy = part.energy
                    if field_on:
                        energy = energy - _axial3(part.orbital_moment, d) @ b
                    sea += (part.weight * eq.fermi(energy)) @ _axial3(part.berry_curvature, d)
            sigma = -np.einsum("ijl,l->ij", _LEVI_CIVITA, sea)[:d, :d]
            self._cache[key] = sigma / self.measure(d)
        return self._cache[key].copy()

    @staticmethod
    def measure(dim: int) -> float:
        """``(2π)^d``, the k-space volume per state density."""
        return (2 * math.pi) ** dim
