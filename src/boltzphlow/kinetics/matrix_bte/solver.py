r"""The linearised, steady-state matrix BTE for static impurities and phonons (issue 11).

E. Trukhan and N. H. Protik, "Interband and kinetic corrections to the electronic Boltzmann
transport equation" (below TP; equations TP 44–58) derive a kinetic equation for the
band-matrix Wigner function ``δh_p`` (N×N at each k-point, in the eigenbasis of ``H⁰_p``).
Here it is written for ``δf = -δh/2`` (TP use the Keldysh function ``h = 1 - 2f``, charge
``-e``; the package's carrier charge is +1, so the force is ``+E``), for a unit field along
axis c (units ħ = e = k_B = 1):

.. math:: i(ε_n - ε_{n'})\, δf_{nn'} + D_{nn'} + K[δf]_{nn'} = C[δf]_{nn'}

* the drive (TP 44, with the interband part of ``∂_p f^0(H⁰_p)`` taken in the orbital basis,
  Daleckii–Krein): ``D_nn = f^0'(ε_n) v^c_nn``, ``D_nn' = (f^0_n - f^0_n') v^c_nn'/(ε_n -
  ε_n')``, gauge covariant (no Berry connection);
* in- and out-scattering (TP 50, 52) with band-non-diagonal self-energies, and the kinetic
  corrections (TP 45, 48) — their Kramers–Kronig partners — as one Born–Markov-type kernel.
  With ``T_nijn' = Σ_models n_imp |V(q)|² O_ni O*_{n'j}`` (``O_ij = ⟨u_ip|u_jp'⟩``,
  ``q = p' - p``, measure ``w_p'/(2π)^d``) and ``ζ_ab = π δ(ε_a - ε'_b) - i P/(ε_a - ε'_b)``::

      C - K = Σ_p' { ½ T_nijn' (ζ_ni + ζ_nj + ζ*_n'i + ζ*_n'j) δf'_ij
                     - ½ G_nji (ζ*_ij + ζ*_n'j) δf_in' - ½ δf_ni G_ijn' (ζ_nj + ζ_ij) }

  (``G_nji = T_njji``; each coherence ``δf_ij`` lies half on the shell ``ε_i``, half on
  ``ε_j``: the quasiparticle Ansatz TP 25).  δ is a Gaussian of width σ and the principal
  value its Kramers–Kronig partner ``P_σ(x) = √2 D(x/√2σ)/σ`` (D the Dawson function), so
  ``πδ_σ - iP_σ`` is the boundary value of one analytic function.  Each δ that multiplies a
  δf of state s carries the package's symmetric divided difference ``F`` of the Fermi
  function over ``f^0_s(1 - f^0_s)`` (detailed balance with a broadened δ), so that with
  coherences, kinetic corrections and off-diagonal self-energies off the equation *is*
  :class:`~boltzphlow.kinetics.bte.LinearBTE`'s for ``δf = f^0(1 - f^0) φ`` (TP App. K).

Equilibrium phonons (``method="pairwise"``; derivation Eq. K) add shells λ = ± (emission,
absorption) per model: the δ and principal value at ``ε_p - ε_p' - λω_q``, the principal
values weighted by the in-factor ``Ψ_+ = N + f^0``, ``Ψ_- = N + 1 - f^0`` of the state at p
and the out-factor ``Φ_+ = N + 1 - f^0'``, ``Φ_- = N + f^0'`` of the state at p' (the
thermal factors of the δ part are those of TP Eqs. 51, 53); the δ part carries the package's
symmetric pair factor ``(T/ω_q) A(ε, ε')`` (A the absorption factor) over the Pauli factor
of the state it multiplies, so that the diagonal limit is ``LinearBTE``'s and the μ shift is
annihilated exactly.  The kernels of all models add (Matthiessen at the level of the
operator).

The out-scattering and the first kinetic correction act locally through the equilibrium
table ``Q_nia(p) = Σ_{p'j} G_nji ζ*_aj``; the in-scattering and the second kinetic correction
are a sum over k-point pairs.  For any ``V(q)`` (``method="pairwise"``) it reaches every
pair (the principal value does): ``K² N⁴`` per product, kept between products as one dense
kernel ``M[(p, n, m), (p', i, j)]`` when its ``16 (K N²)²`` bytes fit in :data:`CACHE_BYTES`
(a product is then one matrix-vector product), else as tiles of the overlaps and shell
weights (``48 K² N²`` bytes), else recomputed tile by tile in bounded memory.
For zero-range impurities and constant-coupling optical phonons (``method="energy"``, the
default for them) ``V`` (``g``) is constant and both sums factorise in the orbital basis,
e.g. ``Z_nm(p) = Σ_AB u*_An(p) u_Bm(p) S_AB(ε_n(p))``
with ``S(e) = Σ_{q,i} w' X(e, ε_i(q)) C^(q,i)``, ``C^(q,i) = u_i (δf u†)_i + (u δf)_i u_i†``,
``X = π δ_σ F/p - i P_σ``: a sum over source *energies* of orbital matrices, one per
shell (:class:`EnergyShell`: elastic, or ``ε - ε' = ±ω_0`` with the phonon's thermal weights
on the source or the target).  The δ part and the principal value within
``max(n_sigma, NEAR_CUT) σ`` of the shell are summed pairwise over energy-sorted states
(exact); the far principal value through a grid of step
:data:`PV_GRID_STEP` σ (linear deposit, FFT convolution with ``P_σ``, linear interpolation;
the near pairs carry the difference between ``P_σ`` and what the grid applies to them), so
no k-point pair outside the δ shell is visited.  The unknowns are the real and
imaginary parts of the upper triangle of the Hermitian ``δf``; the operator conserves
``Σ_p w_p Tr δf`` and is singular along the (coherence-dressed) shift of μ: the drive is
projected on its range and ``Σ_p w_p Tr δf = 0`` is imposed by a rank-one lift, as in
``LinearBTE``; restarted GMRES (:func:`boltzphlow.integrate.linear.gmres`), right-preconditioned
block by block: the coherences by ``[i(ε_n - ε_n') + (Γ_n + Γ_n')/2]^{-1}`` (``Γ_n`` the
out-scattering rate; exact for the linewidth-only model's coherences), the populations by
``1/Γ_n`` or, on the pairwise path when the in-scattering is not kept as a dense kernel, by
the band-diagonal BTE (its sparse δ-shell operator, assembled in the same pass over the pairs
and solved by conjugate gradients to 1e-13): forward-peaked scattering, where in- and
out-scattering nearly cancel, then needs 3–4× fewer GMRES iterations (Gaussian V(q) of range 2:
28 → 8), which pays where a product recomputes or streams the pair tiles; with a dense kernel
a product is one matrix-vector product, cheaper than the inner CG; for isotropic zero-range
impurities the band-diagonal BTE saves nothing (13 iterations either way, measured).

Populations outside ``μ ± n_kT T`` (and those without an on-shell partner) are frozen
(``δf_nn = 0``), as in ``LinearBTE``; coherences are solved for at every k-point that holds a
band in the window, and the k-points with no band in it (the deep Fermi sea of a lattice
model) keep their clean coherences ``δf_nn' = i D_nn'/(ε_n - ε_n')`` (their intrinsic
current, added to σ; collisions change them by ``O(Γ/Δε)``, and their feedback on the window
is left out).  The current is ``j_i = Σ_p w_p/(2π)^d Tr(v^i_p δf_p)`` (TP 55–56), split into
the population (band-diagonal) and coherence (off-diagonal) parts; σ in e²/h.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft as sp_fft
import scipy.sparse.linalg as spla
from scipy.special import dawsn

from boltzphlow import stats
from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.grids.kmesh import KMesh
from boltzphlow.integrate.linear import cg, gmres
from boltzphlow.kinetics.bte.linear import (
    E2_OVER_H,
    MIN_THERMAL_STATES,
    scalar_attrs,
    thermal_states,
)
from boltzphlow.kspace.states import EnergyWindow, band_chunks
from boltzphlow.resources import check_memory
from boltzphlow.scattering.base import DeltaFunction, Equilibrium, Gaussian, gaussian_weights
from boltzphlow.scattering.models import Impurities
from boltzphlow.scattering.phonons import AcousticPhonons, OpticalPhonons, thermal_factor

__all__ = ["CACHE_BYTES", "NEAR_CACHE_BYTES", "NEAR_CUT", "POPULATION_BLOCK_BYTES", "PV_GRID_STEP",
           "TILE_ELEMENTS",
           "MatrixBTE", "MatrixBTEResult"]

#: Pair-band elements ``B × K × N²`` of one tile (about 16 MB a complex temporary).
TILE_ELEMENTS = 1 << 20

#: The pairwise in-scattering is kept between operator products when it takes at most this:
#: as a dense kernel (16 bytes a (k-point, band, band) pair: 2 bands, 4096 k-points: 4 GiB) or
#: else as tiles of overlaps and shell weights (48 bytes a pair-band element); beyond, each
#: product recomputes the tiles.
CACHE_BYTES = 4 << 30

#: Step of the energy grid of the far principal value (energy path), in units of the δ
#: width σ.  Linear deposit and interpolation smooth ``P_σ`` by O(h² P''): an error O(h²)
#: (``P_σ = 1/x + σ²/x³ + …`` beyond the near zone: only algebraically close to 1/x, so the
#: grid carries ``P_σ`` itself).  Measured against the all-pairs sum (massive Dirac, zero-range
#: n = 0.5, 20², T = σ = 0.15 / 12², 0.3): σ moves by 3.7e-8 / 3.9e-8 relative at h = σ/32,
#: 6.8e-10 / 5.5e-10 at σ/256, 3.7e-11 / 3.8e-11 at σ/1024; QWZ (16², μ = 1.2, T = 0.25):
#: 7.9e-8 at σ/64, 4.5e-9 at σ/256, 2.9e-10 at σ/1024.  The grid is applied by FFT
#: (O(G log G), G ≈ energy range / h: 5·10⁴ points for the 10⁴-k-point Dirac benchmark).
PV_GRID_STEP = 1.0 / 1024.0

#: The band-diagonal preconditioner's δ-shell pairs (24 bytes a pair while assembled) may take
#: at most this; beyond, the populations fall back to the local preconditioner ``1/Γ_n``.
POPULATION_BLOCK_BYTES = 2 << 30

#: Least half-width (units of σ) of the pairwise near zone of the energy path.
NEAR_CUT = 4.0

#: The near-zone blocks of the energy path (16 bytes a pair) are kept between operator
#: products when they take at most this (and fit in memory); beyond, each product recomputes
#: them (``exp``, ``dawsn`` per pair: several times slower).
NEAR_CACHE_BYTES = 4 << 30

_AXES = ("x", "y", "z")


# --------------------------------------------------------------------------- energy path
@dataclass(eq=False)
class EnergyShell:
    r"""One shell of the energy path: transitions ``s → t`` with ``ε_t - ε_s = λω`` (``sign``
    λ = +1: a phonon absorbed, -1: emitted, 0: elastic), pair weight ``W`` (``Σ n s²`` of
    zero-range impurities, ``g²`` of a constant-coupling optical mode of energy ``phonon``);
    filled by :meth:`MatrixBTE._energy_setup`: the Toeplitz kernel of its far principal
    value (``P_σ(m h - λω)`` and its FFT), its near-zone blocks and their cache."""

    weight: float
    phonon: float
    sign: int
    kernel: tuple[Any, ...] = ()
    blocks: list[tuple[int, int, int, int]] = field(default_factory=list)
    near: list[tuple[Any, ...]] | None = None

    @property
    def shift(self) -> float:
        """``λω``: the energy the transition takes up."""
        return self.sign * self.phonon


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class MatrixBTEResult:
    r"""The solution of a :class:`MatrixBTE` (units ħ = e = k_B = 1, carrier charge +1).

    Attributes
    ----------
    sigma, sigma_population, sigma_coherence
        Conductivity ``σ_ij`` ``(d, d)`` in e²/h (current along i, unit field along j) and its
        band-diagonal (population) and off-diagonal (coherence) parts (TP Eq. 56).
    sigma_outside_window
        The part of ``sigma_coherence`` from the clean coherences of the k-points with no
        band in the window ``(d, d)`` (the intrinsic conductivity of that part of the Fermi
        sea; zero where the window holds the whole mesh).
    delta_h
        ``δh_p`` ``(K, N, N, d)`` complex, Hermitian in ``(n, m)``: the seed's Wigner-function
        deviation ``δh = -2 δf`` (TP use ``h = 1 - 2f``) for a unit field along each axis,
        in the eigenbasis of each k-point (phases of :attr:`eigenvectors`).
    k, weight, energy, eigenvectors
        The k-points (``(K, d)``, 1/L), their k-space weights ``(K,)`` (L⁻ᵈ), energies
        ``(K, N)`` and eigenvectors ``(K, N_orb, N)``.
    converged, iterations, residual
        Whether GMRES met its tolerance for every drive, the most iterations of one drive and
        the largest relative residual of the pinned system.
    info
        Statistics (k-points, unknowns, frozen populations, times, switches).
    """

    sigma: np.ndarray
    sigma_population: np.ndarray
    sigma_coherence: np.ndarray
    sigma_outside_window: np.ndarray
    delta_h: np.ndarray
    k: np.ndarray
    weight: np.ndarray
    energy: np.ndarray
    eigenvectors: np.ndarray
    converged: bool
    iterations: int
    residual: float
    mu: float
    T: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def delta_f(self) -> np.ndarray:
        """``δf = -δh/2`` ``(K, N, N, d)``: the deviation of the density matrix."""
        return -0.5 * self.delta_h

    @property
    def dataset(self) -> Any:
        """The result as an :class:`xarray.Dataset` (``units`` and ``long_name`` on every
        variable; ``delta_h`` split into real and imaginary parts)."""
        import xarray as xr

        d = self.sigma.shape[0]
        ij = ("i", "j")
        var: dict[str, Any] = {}

        def put(name: str, dims: tuple[str, ...], value: Any, units: str, long: str) -> None:
            var[name] = xr.Variable(dims, np.asarray(value, float),
                                    attrs={"units": units, "long_name": long})

        put("sigma", ij, self.sigma, "e^2/h", "conductivity (populations + coherences)")
        put("sigma_population", ij, self.sigma_population, "e^2/h",
            "conductivity of the band-diagonal part of delta f")
        put("sigma_coherence", ij, self.sigma_coherence, "e^2/h",
            "conductivity of the band-off-diagonal part of delta f")
        put("sigma_outside_window", ij, self.sigma_outside_window, "e^2/h",
            "clean coherences of the k-points outside the window (in sigma_coherence)")
        put("k", ("kpoint", "j"), self.k, "1/L", "wave vector")
        put("weight", ("kpoint",), self.weight, "L^-d", "k-space weight")
        put("energy", ("kpoint", "band"), self.energy, "energy", "band energy")
        dims = ("kpoint", "band", "band2", "j")
        put("delta_h_real", dims, self.delta_h.real, "1/(e L)",
            "real part of delta h = -2 delta f per unit electric field along j")
        put("delta_h_imag", dims, self.delta_h.imag, "1/(e L)",
            "imaginary part of delta h = -2 delta f per unit electric field along j")
        coords = {
            "i": xr.Variable(("i",), list(_AXES[:d]), attrs={"units": "1",
                                                             "long_name": "current axis"}),
            "j": xr.Variable(("j",), list(_AXES[:d]), attrs={"units": "1",
                                                             "long_name": "drive axis"}),
        }
        attrs = {"converged": int(self.converged), "iterations": int(self.iterations),
                 "residual": float(self.residual), "mu": float(self.mu), "T": float(self.T),
                 **scalar_attrs(self.info)}
        return xr.Dataset(var, coords=coords, attrs=attrs)


# --------------------------------------------------------------------------- the equation
class MatrixBTE:
    r"""The linearised matrix BTE of Trukhan and Protik (TP Eqs. 44, 45, 48, 50, 52, 55–58)
    for static Born impurities and equilibrium phonons, B = 0 (module docstring).

    Parameters
    ----------
    hamiltonian
        A :mod:`boltzphlow.bands` model with two or more bands (one band works too: it is the
        standard BTE).
    mesh
        Mesh sizes or a :class:`~boltzphlow.grids.kmesh.KMesh`.
    mu, T
        Chemical potential and temperature (energy units, ``T > 0``).
    scattering
        :class:`~boltzphlow.scattering.Impurities` models (zero-range, Gaussian or screened
        Coulomb ``V(q)``; no skew scattering), :class:`~boltzphlow.scattering.OpticalPhonons`
        (constant or Fröhlich coupling) and :class:`~boltzphlow.scattering.AcousticPhonons`
        (inelastic, or quasi-elastic: an elastic kernel ``λ²T x²N(N+1)``, Eq. B3), at least
        one; their kernels add.
    coherence
        Solve for the band-off-diagonal ``δf`` (off: populations only).
    kinetic_corrections
        Include the kinetic corrections (TP Eqs. 45, 48: the principal-value parts).
    offdiagonal_self_energy
        Keep the band-non-diagonal self-energies (``T_nijn'`` with ``n ≠ n'``, ``G_nji`` with
        ``n ≠ i``); off, only their band-diagonal part.
    linewidth_only
        The Wigner-transport comparison model: populations by the band-diagonal BTE,
        coherences driven by ``D`` and damped at ``(Γ_n + Γ_n')/2`` only (overrides the three
        switches above, except that coherences are on).
    delta
        δ approximation: a :class:`~boltzphlow.scattering.Gaussian` (default width ``T``).
    n_kT
        Half-width of the energy window in units of T: k-points with a band in ``μ ± n_kT T``
        are kept (all their bands); populations outside it are frozen.
    min_thermal_states
        Fewest effective thermal states the window must hold (as ``LinearBTE``).
    method
        ``"auto"`` (default): ``"energy"`` when every model is zero-range impurities or a
        constant-coupling optical mode, else ``"pairwise"``.  ``"pairwise"``: the
        in-scattering, the kinetic corrections and the table ``Q`` summed over all k-point
        pairs (``K² N⁴``; any ``V(q)``, ``g(q)``, ``ω_q``).  ``"energy"`` (those models
        only): ``V`` constant, so the pair sums factorise in the orbital basis
        into sums over source states of orbital matrices; the δ part and the near principal
        value (``|ε - ε'| ≤ max(n_sigma, NEAR_CUT) σ``) are summed pairwise over
        energy-sorted states, the far principal value through an energy grid of step
        ``PV_GRID_STEP σ`` (``O(K N_o²)`` per product).
    preconditioner
        Of the populations: ``"band-diagonal"`` (the band-diagonal BTE, solved by conjugate
        gradients; its sparse operator costs 12 bytes a δ-shell pair; pairwise path only) or
        ``"local"`` (``1/Γ_n``).  ``"auto"`` (default): band-diagonal on the pairwise path
        when the in-scattering does not fit as a dense kernel in :data:`CACHE_BYTES`, else
        local.

    Raises
    ------
    ValueError
        Bad temperature, window, δ, or scattering model; no state in the window; a mesh that
        does not resolve the thermal layer; a pair table that would not fit in memory.
    """

    def __init__(self, hamiltonian: Hamiltonian, mesh: KMesh | Sequence[int], mu: float,
                 T: float, scattering: Sequence[Any], *, coherence: bool = True,
                 kinetic_corrections: bool = True, offdiagonal_self_energy: bool = True,
                 linewidth_only: bool = False, delta: DeltaFunction | None = None,
                 n_kT: float = 20.0, min_thermal_states: float = MIN_THERMAL_STATES,
                 method: str = "auto", preconditioner: str = "auto") -> None:
        t = float(T)
        if not math.isfinite(t) or t <= 0:
            raise ValueError(f"T must be finite and > 0, got {T}")
        if not math.isfinite(float(mu)):
            raise ValueError(f"mu must be finite, got {mu}")
        if not (math.isfinite(float(n_kT)) and n_kT > 0):
            raise ValueError(f"n_kT must be finite and > 0, got {n_kT}")
        self.scattering = tuple(scattering)
        if not self.scattering:
            raise ValueError("scattering: give at least one scattering model")
        for m in self.scattering:
            if isinstance(m, (OpticalPhonons, AcousticPhonons)):
                continue
            if not isinstance(m, Impurities):
                raise ValueError(f"MatrixBTE handles impurities and optical/acoustic phonons "
                                 f"only, got {type(m).__name__}")
            if m.skew_scattering:
                raise ValueError("MatrixBTE: skew_scattering impurities are not supported")
        self.delta = delta if delta is not None else Gaussian(width=t)
        if not isinstance(self.delta, Gaussian):
            raise ValueError(f"MatrixBTE needs a Gaussian delta (its principal value is the "
                             f"Dawson function), got {type(self.delta).__name__}")
        # V constant: zero-range impurities and constant-coupling optical phonons
        zero_range = all((isinstance(m, Impurities) and m.potential == "zero-range")
                         or (isinstance(m, OpticalPhonons) and m.form == "constant")
                         for m in self.scattering)
        if method not in ("auto", "pairwise", "energy"):
            raise ValueError(f"method must be 'auto', 'pairwise' or 'energy', got {method!r}")
        if method == "energy" and not zero_range:
            raise ValueError("method='energy' needs zero-range impurities and constant-coupling "
                             "optical phonons (V(q) and g(q) constant)")
        if method == "energy" or (method == "auto" and zero_range):
            self.method = "energy"
        else:  # any V(q) and every phonon model
            self.method = "pairwise"
        if preconditioner not in ("auto", "band-diagonal", "local"):
            raise ValueError(f"preconditioner must be 'auto', 'band-diagonal' or 'local', got "
                             f"{preconditioner!r}")
        if preconditioner == "band-diagonal" and self.method != "pairwise":
            raise ValueError("preconditioner='band-diagonal' needs the pairwise method (the "
                             "energy path does not assemble the population block)")
        # "auto" is settled with the pair tables (:meth:`_pair_tables`)
        self.preconditioner = preconditioner if self.method == "pairwise" else "local"
        self.eq = Equilibrium(mu=float(mu), T=t)
        self.hamiltonian = hamiltonian
        self.linewidth_only = bool(linewidth_only)
        self.coherence = bool(coherence) or self.linewidth_only
        self.kinetic = bool(kinetic_corrections) and not self.linewidth_only
        self.offdiagonal = bool(offdiagonal_self_energy) and not self.linewidth_only
        self.n_kT = float(n_kT)
        self.window = EnergyWindow.around(mu, t, n_kT=n_kT)
        self._build_states(mesh)
        if not self.n_k:
            raise ValueError(f"mu = {mu:g}: no state lies in the energy window "
                             f"[{self.window.lower:g}, {self.window.upper:g}] (mu ± {n_kT:g} T)")
        inside = (self.energy >= self.window.lower) & (self.energy <= self.window.upper)
        n_eff = thermal_states((self.weight[:, None] * self.pw)[inside])
        if n_eff < min_thermal_states:
            raise ValueError(f"the mesh does not resolve the thermal layer at T = {t:g}: it "
                             f"holds {n_eff:.3g} effective states (need >= "
                             f"{min_thermal_states:g}); refine the mesh or raise T")
        self.thermal_states = n_eff
        self._tiles: list[tuple[Any, ...]] | None = None
        self._shells: list[EnergyShell] = []
        self._precompute()

    # ------------------------------------------------------------------ states
    def _build_states(self, mesh: KMesh | Sequence[int]) -> None:
        """All N bands at every k-point holding a band in the window (built once); the clean
        coherences of the k-points outside it (:meth:`clean_coherence_current`) summed on
        the way."""
        h = self.hamiltonian
        self.dim = h.dim
        n = h.n_bands
        parts = []
        self.sigma_outside = np.zeros((h.dim, h.dim))
        for p in band_chunks(h, mesh, curvature=False, eigenvectors=True,
                             velocity_matrices=True):
            keep = self.window.contains(p.energy).any(axis=1)
            out = ~keep
            if out.any():
                self.sigma_outside += self.clean_coherence_current(
                    p.weight[out], p.energy[out], p.velocity_matrices[out])
            if keep.any():
                parts.append((p.k[keep], p.weight[keep], p.energy[keep],
                              p.eigenvectors[keep], p.velocity_matrices[keep],
                              p.k_index[keep]))
        if parts:
            self.k, self.weight, self.energy, self.u, self.v, k_index = (
                np.concatenate(column) for column in zip(*parts, strict=True))
        else:
            self.k = np.zeros((0, self.dim))
            self.weight = np.zeros(0)
            self.energy = np.zeros((0, n))
            self.u = np.zeros((0, n, n), complex)
            self.v = np.zeros((0, self.dim, n, n), complex)
            k_index = np.zeros(0, np.int64)
        self.n_k, self.n_bands = self.energy.shape
        self.f0 = self.eq.fermi(self.energy)
        self.h0 = self.eq.hole(self.energy)     # 1 - f^0 without cancellation
        self.pw = self.f0 * self.h0
        # reduced coordinates of a lattice model: q folded to the nearest image
        self._reduced = self._basis = None
        km = h.mesh(mesh)
        if h.periodic and self.n_k:
            idx = np.array(np.unravel_index(k_index, km.shape)).T
            f = (idx + np.asarray(km.shift)) / np.asarray(km.shape, float)
            basis, *_ = np.linalg.lstsq(f, self.k, rcond=None)
            if np.abs(f @ basis - self.k).max() <= 1e-9 * (np.abs(self.k).max() + 1e-300):
                self._reduced, self._basis = f, basis

    def _transfer(self, rows: slice) -> np.ndarray:
        """``q = k_q - k_p`` ``(B, K, d)`` for the k-points ``rows`` against all."""
        if self._basis is None:
            return self.k[None, :, :] - self.k[rows, None, :]
        df = self._reduced[None, :, :] - self._reduced[rows, None, :]
        df -= np.round(df)
        return df @ self._basis

    def _block_rows(self) -> int:
        return max(1, TILE_ELEMENTS // max(1, self.n_k * self.n_bands ** 2))

    def _row_blocks(self) -> Iterator[slice]:
        b = self._block_rows()
        for start in range(0, self.n_k, b):
            yield slice(start, min(start + b, self.n_k))

    # ------------------------------------------------------------------ pair tiles
    def _pair_tile(self, rows: slice) -> dict[str, np.ndarray]:
        r"""The kernel of the k-points ``rows`` against all, summed over the models and their
        shells λ (derivation Eq. K): overlaps ``O`` ``(B, K, N, N)`` and, ``(B, K, N, N)``
        with the pair weight ``W = |g_q|² w'/(2π)^d`` (``n|V(q)|²`` for impurities) folded in,
        the δ parts over the Pauli factor of the state at p' (``Rq``) and at p (``Rp``) and
        the principal values weighted by the in-factor ``Ψ_λ`` of the state at p (``Pin``)
        and by the out-factor ``Φ_λ`` of the state at p' (``Pout``).

        Shell λ = ± (phonon absorbed / emitted on the way p' → p): argument
        ``ε_p - ε_p' - λω_q``, ``Ψ_+ = N + f^0``, ``Ψ_- = N + 1 - f^0`` (at p),
        ``Φ_+ = N + 1 - f^0'``, ``Φ_- = N + f^0'`` (at p').  The δ part carries the package's
        symmetric pair factor (``(T/ω_q) A(ε, ε')``, A the absorption factor; impurities and
        quasi-elastic acoustic phonons: the divided difference F), exact detailed balance."""
        e, sig, eq = self.energy, self.delta.width, self.eq
        t = eq.T
        x = e[rows, None, :, None] - e[None, :, None, :]
        ea = np.broadcast_to(e[rows, None, :, None], x.shape)
        eb = np.broadcast_to(e[None, :, None, :], x.shape)
        f_p = self.f0[rows, None, :, None]
        f_q = self.f0[None, :, None, :]
        h_p = self.h0[rows, None, :, None]
        h_q = self.h0[None, :, None, :]
        q = self._transfer(rows)
        flat = q.reshape(-1, self.dim)
        qn = np.sqrt(np.einsum("bqi,bqi->bq", q, q))
        meas = self.weight[None, :] / (2 * math.pi) ** self.dim
        shape = x.shape
        flux = np.zeros(shape)
        p_in = np.zeros(shape)
        p_out = np.zeros(shape)
        elastic_w = np.zeros(qn.shape)
        for m in self.scattering:
            if isinstance(m, Impurities):
                elastic_w += m.density * np.asarray(m.potential_sq(flat), float).reshape(qn.shape)
                continue
            if isinstance(m, AcousticPhonons):
                cut = (np.ones(qn.shape) if m.debye_wavevector is None
                       else (qn <= m._debye_bound(np.float64)).astype(float))
                if m.elastic:  # quasi-elastic: an elastic kernel λ²T x²N(N+1)
                    elastic_w += m.coupling ** 2 * t * thermal_factor(
                        m.sound_velocity * qn / t) * cut
                    continue
                omega = m.sound_velocity * qn
                w = 0.5 * m.coupling ** 2 * omega * cut      # |g_q|²
                # |g_q|² N(ω_q), finite at q = 0
                wn = 0.5 * m.coupling ** 2 * t * stats.planck_ratio(omega / t) * cut
                w_over = 0.5 * m.coupling ** 2 * t * cut     # |g_q|² T/ω_q
            else:  # optical
                omega = np.full(qn.shape, float(m.energy))
                w = np.asarray(m.coupling_sq(flat), float).reshape(qn.shape)
                nq = float(stats.bose(m.energy, t))
                wn = w * nq
                w_over = w * (t / m.energy)
            w, wn, w_over = (a[:, :, None, None] * meas[:, :, None, None]
                             for a in (w, wn, w_over))
            om = omega[:, :, None, None]
            absorb = eq.absorption_factor(ea, eb)
            for lam in (1.0, -1.0):
                xl = x - lam * om
                flux += w_over * absorb * gaussian_weights(xl, sig, self.delta.n_sigma)
                pv = self._pv(xl)
                psi = f_p if lam > 0 else h_p
                phi = h_q if lam > 0 else f_q
                p_in += (wn + w * psi) * pv
                p_out += (wn + w * phi) * pv
        if np.any(elastic_w):
            we = (elastic_w * meas)[:, :, None, None]
            g = gaussian_weights(x, sig, self.delta.n_sigma) * eq.elastic_flux_factor(ea, eb)
            flux += we * g
            pv = self._pv(x)
            p_in += we * pv
            p_out += we * pv
        pw = self.pw
        with np.errstate(divide="ignore", invalid="ignore"):
            rq = np.where(pw[None, :, None, :] > 0, flux / pw[None, :, None, :], 0.0)
            rp = np.where(pw[rows, None, :, None] > 0, flux / pw[rows, None, :, None], 0.0)
        o = np.einsum("pan,qai->pqni", np.conj(self.u[rows]), self.u)
        return {"O": o, "Rq": rq, "Rp": rp, "Pin": p_in, "Pout": p_out}

    def _precompute(self) -> None:
        """The local tables (one pass over all pairs): ``Q_nia = Σ_{p'j} G_nji ζ*_aj`` split
        into its δ part (``π Rp``) and principal-value part, and the out-scattering rates
        ``Γ_n = 2 Re Q^δ_nnn``; the in-scattering tiles when they fit in :data:`CACHE_BYTES`."""
        k, n = self.n_k, self.n_bands
        if self.method == "energy":
            q_delta, q_pv = self._energy_tables()
            self._tiles = self._coupling = self._kernel = None
        else:
            q_delta, q_pv = self._pair_tables()
        self.gamma = 2.0 * np.einsum("pnnn->pn", q_delta).real
        self._q = q_delta + (1j * q_pv if self.kinetic else 0.0)
        # frozen populations: outside the window or without an on-shell partner
        top = self.gamma.max(initial=0.0)
        frozen = (self.energy < self.window.lower) | (self.energy > self.window.upper)
        frozen |= self.gamma <= 1e-10 * top if top > 0 else True
        self.frozen = frozen
        active = np.ones((k, n, n), bool)
        if not self.coherence:
            active &= np.eye(n, dtype=bool)[None]
        idx = np.arange(n)
        active[:, idx, idx] &= ~frozen
        self._active_matrix = active
        iu = np.triu_indices(n, 1)
        self._iu = iu
        self._active = np.concatenate([active[:, idx, idx], active[:, iu[0], iu[1]],
                                       active[:, iu[0], iu[1]]], axis=1).reshape(-1)
        self._inner_iterations = 0
        self._population_solve = self._band_diagonal_solver()

    def _pair_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The δ and principal-value parts of ``Q`` by the pairwise tiles (any ``V(q)``)."""
        k, n = self.n_k, self.n_bands
        check_memory(16.0 * k * n ** 3 * 3 + 20 * 16.0 * min(k, self._block_rows()) * k * n * n,
                     f"the matrix BTE tables ({k} k-points, {n} bands)", ["mesh", "n_kT"])
        # the in-scattering kept between products: as one dense kernel (16 K² N⁴ bytes; a
        # product is one matrix-vector product) when it fits, else as tiles (48 K² N² bytes)
        dense = 16.0 * (k * n * n) ** 2 <= CACHE_BYTES
        cache = dense or 48.0 * k * k * n * n <= CACHE_BYTES
        if dense:
            check_memory(16.0 * (k * n * n) ** 2, f"the matrix BTE in-scattering kernel ({k} "
                         f"k-points, {n} bands)", ["mesh", "n_kT"])
            self._kernel = np.empty((k * n * n, k * n * n), complex)
        else:
            self._kernel = None
        q_delta = np.zeros((k, n, n, n), complex)
        q_pv = np.zeros((k, n, n, n), complex)
        tiles = []
        coupling: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if self.preconditioner == "auto":   # a dense kernel's product is cheaper than CG
            self.preconditioner = "local" if dense else "band-diagonal"
        band_diagonal = self.preconditioner == "band-diagonal"
        for rows in self._row_blocks():
            t = self._pair_tile(rows)
            o = t["O"]
            if band_diagonal:
                coupling.append(self._population_coupling(rows, o, t["Rq"]))
                if sum(c[2].size for c in coupling) * 24.0 > POPULATION_BLOCK_BYTES:
                    band_diagonal, coupling = False, []   # too many δ-shell pairs: local
                    self.preconditioner = "local"
            g = o[:, :, :, None, :] * np.conj(o)[:, :, None, :, :]
            # g[b, q, n, i, j] = O_nj O*_ij  (G_nji with the pair weight in Rp, Pout)
            if not self.offdiagonal:
                g = g * np.eye(n)[None, None, :, :, None]
            q_delta[rows] = math.pi * np.einsum("bqnij,bqaj->bnia", g, t["Rp"], optimize=True)
            q_pv[rows] = np.einsum("bqnij,bqaj->bnia", g, t["Pout"], optimize=True)
            if cache:
                x = math.pi * t["Rq"] - (1j * t["Pin"] if self.kinetic else 0.0)
                if dense:
                    self._kernel_rows(rows, o, x)
                else:
                    tiles.append((rows, o, o * x, x))
        self._tiles = tiles if cache and not dense else None
        self._coupling = coupling if band_diagonal else None
        return q_delta, q_pv

    def _kernel_rows(self, rows: slice, o: np.ndarray, x: np.ndarray) -> None:
        r"""Rows ``rows`` of the dense in-scattering kernel ``M``: ``Z_nm(p) = Σ_{p'ij}
        M[(p, n, m), (p', i, j)] δf_ij(p')`` with ``M = O_ni O*_mj (X_ni + X_nj)`` — the
        two terms of ``Z = [(O∘X) δf' + (O δf')∘X] O†`` (:meth:`_collisions`), filled in
        sub-blocks of :data:`TILE_ELEMENTS` elements."""
        k, n = self.n_k, self.n_bands
        step = max(1, TILE_ELEMENTS // max(1, k * n ** 4))
        oc = np.conj(o)
        for b0 in range(0, o.shape[0], step):
            sl = slice(b0, min(b0 + step, o.shape[0]))
            os_, xs, ocs = o[sl], x[sl], oc[sl]
            m = np.einsum("bqni,bqmj->bnmqij", os_ * xs, ocs, optimize=True)
            m += np.einsum("bqni,bqnj,bqmj->bnmqij", os_, xs, ocs, optimize=True)
            r0 = (rows.start + b0) * n * n
            self._kernel[r0:r0 + m.shape[0] * n * n] = m.reshape(-1, k * n * n)

    def _population_coupling(self, rows: slice, o: np.ndarray,
                             rq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""The population → population in-scattering of the tile ``rows`` in the symmetric
        form ``W_ts = 2π |O_nj|² Rq p_s`` (state ``t = (p, n)``, ``s = (p', j)``; ``Rq p_s`` is
        the symmetric pair flux): the off-diagonal part of the band-diagonal BTE, whose
        operator is ``S = diag(Γ p) - W`` (:meth:`_band_diagonal_solver`), as COO triplets
        of its nonzero entries."""
        n = self.n_bands
        w = (2.0 * math.pi) * (np.abs(o) ** 2 * rq) * self.pw[None, :, None, :]
        b, q, i, j = np.nonzero(w)
        return ((rows.start + b) * n + i, q * n + j, w[b, q, i, j])

    def _band_diagonal_solver(self) -> Any:
        r"""The band-diagonal BTE as a preconditioner of the populations: ``S φ = r`` with
        ``S = diag(Γ p) - W`` (``δf = p φ``; in this limit the matrix BTE is the standard
        BTE, TP App. K), symmetric positive semi-definite, its null vector (the μ shift)
        lifted, solved by Jacobi-scaled conjugate gradients to ``rtol = 1e-13``.  Returns the
        map ``r ↦ δf`` on the active populations (None without the pairwise tables)."""
        if not self._coupling:
            return None
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        act = ~self.frozen.reshape(-1)
        m = act.size
        rows = np.concatenate([c[0] for c in self._coupling])
        cols = np.concatenate([c[1] for c in self._coupling])
        vals = np.concatenate([c[2] for c in self._coupling])
        self._coupling = None
        pw = self.pw.reshape(-1)
        s = (sp.diags(self.gamma.reshape(-1) * pw)
             - sp.csr_matrix((vals, (rows, cols)), shape=(m, m)))
        s = s.tocsr()[act][:, act]
        diag = s.diagonal()
        jac = np.sqrt(np.where(diag > 0, diag, 1.0))
        s_hat = (sp.diags(1.0 / jac) @ s @ sp.diags(1.0 / jac)).tocsr()
        # one null vector (φ constant) per set of populations the band-diagonal BTE conserves
        # separately (e.g. two bands that no δ shell joins): lifted, as in LinearBTE
        n_sets, label = connected_components(s_hat, directed=False)
        null = sp.csr_matrix((jac, (np.arange(jac.size), label)), shape=(jac.size, n_sets))
        norms = np.sqrt(np.asarray(null.multiply(null).sum(axis=0)).ravel())
        null = (null @ sp.diags(1.0 / norms)).tocsr()
        null_t = null.T.tocsr()
        p_act = pw[act]

        def solve(r: np.ndarray) -> np.ndarray:
            out = cg(lambda x: s_hat @ x + null @ (null_t @ x), r / jac, rtol=1e-13,
                     maxiter=10 * s_hat.shape[0])
            self._inner_iterations += out.iterations
            return p_act * (out.x / jac)

        return solve

    def _tile_iter(self) -> Iterator[tuple[slice, np.ndarray, np.ndarray, np.ndarray]]:
        """``(rows, O, O∘X, X)`` of every tile, ``X = πRq - iPin`` (pair weights included;
        cached or made)."""
        if self._kernel is not None:
            return
        if self._tiles is not None:
            yield from self._tiles
            return
        for rows in self._row_blocks():
            t = self._pair_tile(rows)
            x = math.pi * t["Rq"] - (1j * t["Pin"] if self.kinetic else 0.0)
            yield rows, t["O"], t["O"] * x, x

    # ------------------------------------------------------------------ energy path
    def _pv(self, x: np.ndarray) -> np.ndarray:
        """The principal value ``P_σ(x) = √2 D(x/√2σ)/σ`` (D the Dawson function)."""
        sig = self.delta.width
        return (math.sqrt(2.0) / sig) * dawsn(np.asarray(x, float) * (1.0 / (math.sqrt(2.0)
                                                                              * sig)))

    def _energy_shells(self) -> list[EnergyShell]:
        """The shells of the energy path: one elastic shell for all zero-range impurities
        (``W = Σ n s²``), two (absorption λ = +1, emission λ = -1) per constant-coupling optical
        phonon mode (``W = g²``)."""
        shells = []
        v2 = sum(m.density * m.strength ** 2 for m in self.scattering
                 if isinstance(m, Impurities))
        if v2:
            shells.append(EnergyShell(weight=v2, phonon=0.0, sign=0))
        for m in self.scattering:
            if isinstance(m, OpticalPhonons):
                shells += [EnergyShell(weight=m.coupling ** 2, phonon=float(m.energy), sign=s)
                           for s in (1, -1)]
        return shells

    def _energy_setup(self) -> None:
        """States sorted by energy, source measures ``w'/(2π)^d``, the far-PV energy grid
        (step ``h = PV_GRID_STEP σ``, linear hats), and per shell its Toeplitz kernel and the
        blocks of its near zone."""
        n = self.n_bands
        sig = self.delta.width
        e = self.energy.reshape(-1)
        m = e.size
        order = np.argsort(e, kind="stable")
        es = e[order]
        self._ws = np.repeat(self.weight / (2 * math.pi) ** self.dim, n)
        self._order = order
        self._shells = self._energy_shells()
        # far principal value: grid, hat indices and, per shell, the Toeplitz kernel
        # P_σ(E_g - E_g' - λω)
        h = PV_GRID_STEP * sig
        lo = es[0] - h
        n_grid = int(math.floor((es[-1] - lo) / h)) + 3
        n_fft = sp_fft.next_fast_len(3 * n_grid, real=True)
        check_memory(8.0 * n_fft * (2 * len(self._shells) + max(8, 2 * self.u.shape[1] ** 2)),
                     f"the principal-value energy grid ({n_grid} points)", ["T", "delta"])
        pos = (e - lo) / h
        ig = np.floor(pos).astype(np.int64)
        self._grid = (ig, pos - ig, n_grid)
        self._kern_off = n_grid + 1
        cut = max(self.delta.n_sigma, NEAR_CUT) * sig
        self._cut = cut
        width = np.searchsorted(es, es + cut, "right") - np.searchsorted(es, es - cut, "left")
        # B sorted targets span B states: B ≲ (typical near width)/4 keeps the block's slack
        # beyond the cut small; B × width ≤ TILE_ELEMENTS bounds the temporaries
        b = min(TILE_ELEMENTS // max(1, int(width.max(initial=1))), int(np.median(width)) // 4)
        b = int(min(m, max(8, b)))
        total = 0
        for shell in self._shells:
            kern = self._pv(np.arange(-n_grid - 1, n_grid + 2) * h - shell.shift)
            # the Toeplitz product Σ_g' P_σ((g - g')h - λω) ρ_g' as a convolution by FFT
            shell.kernel = (kern, sp_fft.rfft(kern[2:2 * n_grid + 1], n_fft), n_fft)
            # near zone: sorted targets against the contiguous run of sources within the cut
            # of ε_t - λω
            blocks = []
            for t0 in range(0, m, b):
                t1 = min(m, t0 + b)
                s0 = int(np.searchsorted(es, es[t0] - shell.shift - cut, "left"))
                s1 = int(np.searchsorted(es, es[t1 - 1] - shell.shift + cut, "right"))
                if s1 > s0:
                    blocks.append((t0, t1, s0, s1))
                    total += (t1 - t0) * (s1 - s0)
            shell.blocks = blocks
        self._near_pairs = total
        self._near_cached = 16.0 * total <= NEAR_CACHE_BYTES

    def _near_block(self, shell: EnergyShell, t0: int, t1: int, s0: int,
                    s1: int) -> tuple[np.ndarray, np.ndarray]:
        """For sorted targets ``t0:t1`` and sources ``s0:s1`` of a shell: the symmetric δ
        weight ``g = W δ_σ(x) A(ε, ε')`` (``x = ε - ε' - λω``; ``A`` the divided difference
        ``F`` of an elastic shell, ``(T/ω)`` times the absorption factor of a phonon shell) and
        the near correction ``P_σ(x) - P_grid`` (the principal value minus what the grid
        applies to this pair), both ``(B, R)``."""
        order = self._order
        tt, ss = order[t0:t1], order[s0:s1]
        e = self.energy.reshape(-1)
        et, es = e[tt][:, None], e[ss][None, :]
        x = et - es - shell.shift
        g = gaussian_weights(x, self.delta.width, self.delta.n_sigma)
        ea, eb = np.broadcast_to(et, x.shape), np.broadcast_to(es, x.shape)
        if shell.sign == 0:
            g *= shell.weight * self.eq.elastic_flux_factor(ea, eb)
        else:
            g *= (shell.weight * self.eq.T / shell.phonon) * self.eq.absorption_factor(ea, eb)
        if not self.kinetic:
            return g, np.zeros((0, 0))
        ig, a, _ = self._grid
        it, at = ig[tt][:, None], a[tt][:, None]
        is_, as_ = ig[ss][None, :], a[ss][None, :]
        kern, off = shell.kernel[0], self._kern_off
        d0 = it - is_ + off
        p_grid = ((1 - at) * (1 - as_) + at * as_) * kern[d0]
        p_grid += (1 - at) * as_ * kern[d0 - 1]
        p_grid += at * (1 - as_) * kern[d0 + 1]
        return g, self._pv(x) - p_grid

    def _near_iter(self, shell: EnergyShell) -> Iterator[tuple[int, int, int, int, np.ndarray,
                                                               np.ndarray]]:
        """``(t0, t1, s0, s1, g, correction)`` of every near block of a shell (cached or
        made)."""
        if shell.near is not None:
            yield from shell.near
            return
        for t0, t1, s0, s1 in shell.blocks:
            yield (t0, t1, s0, s1, *self._near_block(shell, t0, t1, s0, s1))

    def _thermal_weight(self, shell: EnergyShell, side: str) -> np.ndarray:
        r"""The principal-value weight of a shell per state ``(M,)``: ``W (N + Φ_λ(f^0))`` of
        the source (``side="source"``; ``Φ_+ = 1 - f^0``, ``Φ_- = f^0``) or ``W (N +
        Ψ_λ(f^0))`` of the target (``"target"``; ``Ψ_+ = f^0``, ``Ψ_- = 1 - f^0``); ``W`` for
        an elastic shell."""
        f = self.f0.reshape(-1)
        if shell.sign == 0:
            return np.full(f.shape, shell.weight)
        nq = float(stats.bose(shell.phonon, self.eq.T))
        upper = (shell.sign > 0) == (side == "source")   # 1 - f^0 or f^0
        return shell.weight * (nq + (self.h0.reshape(-1) if upper else f))

    def _energy_sum(self, c: np.ndarray, delta_scale: np.ndarray, *, pv_side: str,
                    target_scale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        r"""Energy sums over source states at every target state, summed over the shells.

        Parameters
        ----------
        c
            Orbital matrices of the sources ``(M, L)`` complex, rows in the flat state order
            (``p * N + n``), source measures ``w'/(2π)^d`` included.
        delta_scale
            ``d_s`` ``(M,)``: multiplies the source in the δ part.
        pv_side
            Where the thermal weight of the principal value sits: ``"source"`` (the table
            ``Q``) or ``"target"`` (the in-scattering) (:meth:`_thermal_weight`).
        target_scale
            ``(M,)``: multiplies the δ part per target (optional).

        Returns
        -------
        s_delta, s_pv
            ``π Σ_λ Σ_s g^λ_ts d_s c_s`` (times ``target_scale``) and ``Σ_λ Σ_s P_σ(ε_t -
            ε_s - λω) w^λ c_s`` ``(M, L)`` (``w^λ`` the thermal weight of the source or the
            target), ``g^λ`` the symmetric δ weight of :meth:`_near_block`; ``s_pv`` is zero
            with the kinetic corrections off.
        """
        m, ncol = c.shape
        order = self._order
        cd = np.ascontiguousarray((c * delta_scale[:, None])[order])
        cdr = cd.view(float)
        s_delta = np.zeros((m, ncol), complex)
        s_pv = np.zeros((m, ncol), complex)
        sdr = s_delta.view(float)
        ig, a, n_grid = self._grid
        for shell in self._shells:
            weight = self._thermal_weight(shell, pv_side) if self.kinetic else None
            cw = c * weight[:, None] if pv_side == "source" and self.kinetic else c
            csr = np.ascontiguousarray(cw[order]).view(float)
            part = np.zeros((m, ncol), complex)
            pr = part.view(float)
            for t0, t1, s0, s1, g, corr in self._near_iter(shell):
                tt = order[t0:t1]
                sdr[tt] += g @ cdr[s0:s1]
                if self.kinetic:
                    pr[tt] += corr @ csr[s0:s1]
            if not self.kinetic:
                continue
            cr = cw.view(float)
            rho = np.empty((n_grid, cr.shape[1]))
            for j in range(cr.shape[1]):
                rho[:, j] = (np.bincount(ig, weights=(1 - a) * cr[:, j], minlength=n_grid)
                             + np.bincount(ig + 1, weights=a * cr[:, j], minlength=n_grid))
            _, kf, n_fft = shell.kernel
            conv = sp_fft.irfft(kf[:, None] * sp_fft.rfft(rho, n_fft, axis=0), n_fft, axis=0)
            far = conv[n_grid - 1:2 * n_grid - 1]
            pr += (1 - a)[:, None] * far[ig] + a[:, None] * far[ig + 1]
            if pv_side == "target":
                part *= weight[:, None]
            s_pv += part
        s_delta *= math.pi
        if target_scale is not None:
            s_delta *= target_scale[:, None]
        return s_delta, s_pv

    def _energy_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """``Q`` (δ and principal-value parts) on the energy path:
        ``Q_nia(p) = Σ_AB u*_An(p) u_Bi(p) R_AB(ε_a(p))`` with ``R`` the energy sums of the
        orbital projectors ``u_s u_s†`` of the sources (thermal weights of the principal value
        on the source)."""
        k, n = self.n_k, self.n_bands
        self._energy_setup()
        m = k * n
        no = self.u.shape[1]
        check_memory(16.0 * self._near_pairs * (1 if self._near_cached else 0)
                     + 3 * 8.0 * TILE_ELEMENTS + 16.0 * m * no * no * 6
                     + 16.0 * k * n ** 3 * 3,
                     f"the energy-path matrix BTE tables ({k} k-points, {n} bands, "
                     f"{self._near_pairs} near pairs)", ["mesh", "n_kT", "T"])
        for shell in self._shells:
            shell.near = ([(t0, t1, s0, s1, *self._near_block(shell, t0, t1, s0, s1))
                           for t0, t1, s0, s1 in shell.blocks] if self._near_cached else None)
        u = self.u
        proj = np.einsum("pas,pbs->psab", u, np.conj(u)).reshape(m, no * no)
        proj *= self._ws[:, None]
        pw = self.pw.reshape(-1)
        with np.errstate(divide="ignore"):
            inv = np.where(pw > 0, 1.0 / np.where(pw > 0, pw, 1.0), 0.0)
        r_delta, r_pv = self._energy_sum(proj, np.ones(m), pv_side="source", target_scale=inv)
        r_delta = r_delta.reshape(k, n, no, no)
        r_pv = r_pv.reshape(k, n, no, no)
        q_delta = np.einsum("pAn,paAB,pBi->pnia", np.conj(u), r_delta, u, optimize=True)
        q_pv = np.einsum("pAn,paAB,pBi->pnia", np.conj(u), r_pv, u, optimize=True)
        if not self.offdiagonal:
            eye = np.eye(n)[None, :, :, None]
            q_delta, q_pv = q_delta * eye, q_pv * eye
        return q_delta, q_pv

    def _energy_in(self, df: np.ndarray) -> np.ndarray:
        """``Z`` of :meth:`_collisions` on the energy path: ``Z_nm(p) = Σ_AB u*_An
        u_Bm S_AB(ε_n(p))``, ``S`` the energy sums of the source matrices ``C^(q,i) =
        u_i (δf u†)_i + (u δf)_i u_i†`` (δ part over ``f^0(1 - f^0)`` of the source)."""
        k, n = self.n_k, self.n_bands
        u = self.u
        no = u.shape[1]
        y = df @ np.conj(np.swapaxes(u, 1, 2))          # (K, N, No): (δf u†)_ib
        w = u @ df                                       # (K, No, N): (u δf)_aj
        c = (np.einsum("pai,pib->piab", u, y) + np.einsum("paj,pbj->pjab", w, np.conj(u)))
        c = c.reshape(k * n, no * no) * self._ws[:, None]
        pw = self.pw.reshape(-1)
        with np.errstate(divide="ignore"):
            inv = np.where(pw > 0, 1.0 / np.where(pw > 0, pw, 1.0), 0.0)
        s_delta, s_pv = self._energy_sum(c, inv, pv_side="target")
        s = s_delta - 1j * s_pv if self.kinetic else s_delta
        s = s.reshape(k, n, no, no)
        return np.einsum("pAn,pnAB,pBm->pnm", np.conj(u), s, u, optimize=True)

    # ------------------------------------------------------------------ operator
    def apply(self, df: np.ndarray) -> np.ndarray:
        """The operator ``i[ε, δf] + K[δf] - C[δf]`` on a Hermitian ``δf`` ``(K, N, N)``."""
        n = self.n_bands
        e = self.energy
        free = 1j * (e[:, :, None] - e[:, None, :]) * df
        if self.linewidth_only:
            diag = np.zeros_like(df)
            idx = np.arange(n)
            diag[:, idx, idx] = df[:, idx, idx]
            c = self._collisions(diag)
            cd = np.zeros_like(df)
            cd[:, idx, idx] = c[:, idx, idx]
            lw = 0.5 * (self.gamma[:, :, None] + self.gamma[:, None, :]) * (1 - np.eye(n))
            return free - cd + lw * df
        return free - self._collisions(df)

    def _collisions(self, df: np.ndarray) -> np.ndarray:
        """``C[δf] - K[δf]`` (in, out and both kinetic corrections).  In-scattering with the
        second kinetic correction (TP Eqs. 48, 50): ``½ Σ_p' T (Z + Z†)`` with
        ``Z = [(O∘X) δf' + (O δf')∘X] O†``."""
        if self.method == "energy":
            z = self._energy_in(df)
        else:
            z = np.zeros(df.shape, complex)
            if self._kernel is not None:
                z = (self._kernel @ df.reshape(-1)).reshape(df.shape)
            for rows, o, ox, x in self._tile_iter():
                zz = (ox @ df[None] + (o @ df[None]) * x) @ np.conj(np.swapaxes(o, -1, -2))
                z[rows] = zz.sum(axis=1)
        cin = 0.5 * (z + np.conj(np.swapaxes(z, 1, 2)))
        if not self.offdiagonal:
            idx = np.arange(self.n_bands)
            d = cin[:, idx, idx].copy()
            cin = np.zeros_like(cin)
            cin[:, idx, idx] = d
        # out-scattering + first kinetic correction: out1 = Σ_i A_nim δf_im, out = out1 + out1†
        q = self._q
        qii = np.einsum("pnii->pni", q)
        a = -0.5 * (qii[:, :, :, None] + q)          # a[p, n, i, m]
        out1 = np.einsum("pnim,pim->pnm", a, df)
        return cin + out1 + np.conj(np.swapaxes(out1, 1, 2))

    def drive(self, energy: np.ndarray | None = None,
              velocity: np.ndarray | None = None) -> np.ndarray:
        """``D`` ``(K, N, N, d)`` for a unit field along each axis (TP Eq. 44 with the
        interband part of ``∂_p f^0(H⁰)``): ``f^0'(ε_n) v_nn`` on the diagonal,
        ``(f^0_n - f^0_n') v_nn'/(ε_n - ε_n')`` off it (degenerate pairs: the mean ``f^0'``);
        of the solver's k-points, or of the energies ``(K, N)`` and velocity matrices
        ``(K, d, N, N)`` given."""
        e = self.energy if energy is None else energy
        v = self.v if velocity is None else velocity
        t = self.eq.T
        f = self.eq.fermi(e)
        de = e[:, :, None] - e[:, None, :]
        dfe = f[:, :, None] - f[:, None, :]
        fp = -self.eq.pauli_weight(e) / t
        small = np.abs(de) <= 1e-12 * (1.0 + np.abs(e).max(initial=0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(small, 0.5 * (fp[:, :, None] + fp[:, None, :]),
                             dfe / np.where(small, 1.0, de))
        return np.moveaxis(ratio[:, None] * v, 1, -1)

    def clean_coherence_current(self, weight: np.ndarray, energy: np.ndarray,
                                velocity: np.ndarray) -> np.ndarray:
        r"""σ ``(d, d)`` (e²/h) of the clean-limit coherences of the k-points given: the
        off-diagonal rows without collisions, ``i(ε_n - ε_n') δf_nn' + D_nn' = 0``, give
        ``δf_nn' = i D_nn'/(ε_n - ε_n')``, whose current is the intrinsic (Berry-curvature)
        conductivity of those k-points (TP Eqs. 44, 56).  The solver adds it for the
        k-points outside the window, where the collisions change it by ``O(Γ/Δε)``."""
        d = self.drive(energy, velocity)
        gap = energy[:, :, None] - energy[:, None, :]
        off = np.abs(gap) > 1e-12 * (1.0 + np.abs(energy).max(initial=0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            df = np.where(off[..., None], 1j * d / np.where(off, gap, 1.0)[..., None], 0.0)
        return self._current(weight, velocity, df)

    # ------------------------------------------------------------------ packing
    def _pack(self, h: np.ndarray) -> np.ndarray:
        idx = np.arange(self.n_bands)
        i0, i1 = self._iu
        up = h[:, i0, i1]
        return np.concatenate([h[:, idx, idx].real, up.real, up.imag], axis=1).reshape(-1)

    def _unpack(self, x: np.ndarray) -> np.ndarray:
        k, n = self.n_k, self.n_bands
        x = x.reshape(k, n * n)
        i0, i1 = self._iu
        m = len(i0)
        h = np.zeros((k, n, n), complex)
        idx = np.arange(n)
        h[:, idx, idx] = x[:, :n]
        up = x[:, n:n + m] + 1j * x[:, n + m:]
        h[:, i0, i1] = up
        h[:, i1, i0] = np.conj(up)
        return h

    # ------------------------------------------------------------------ solve
    def solve(self, *, rtol: float = 1e-10, maxiter: int = 2000,
              restart: int = 60) -> MatrixBTEResult:
        """Solve for a unit electric field along every axis.

        Parameters
        ----------
        rtol
            Relative residual asked of GMRES (true residual, right-preconditioned).
        maxiter
            Most GMRES iterations per drive.
        restart
            Krylov subspace size between restarts.
        """
        if not (math.isfinite(rtol) and rtol > 0):
            raise ValueError(f"rtol must be finite and > 0, got {rtol}")
        if maxiter < 1 or restart < 1:
            raise ValueError(f"maxiter and restart must be >= 1, got {maxiter}, {restart}")
        start = time.perf_counter()
        k, n, d = self.n_k, self.n_bands, self.dim
        act = self._active
        full = np.zeros(k * n * n)

        def lift_vector() -> np.ndarray:
            y = np.zeros((k, n * n))
            y[:, :n] = self.weight[:, None]
            return y.reshape(-1)[act]

        y = lift_vector()
        y_hat = y / np.linalg.norm(y) if np.any(y) else y
        pw = np.zeros((k, n * n))
        pw[:, :n] = self.pw
        pw = pw.reshape(-1)[act]
        gpos = self.gamma[self.gamma > 0]
        scale = float(np.median(gpos)) if gpos.size else 1.0
        gam = np.where(self.gamma > 0, self.gamma, scale)
        pre = 1j * (self.energy[:, :, None] - self.energy[:, None, :]) + 0.5 * (
            gam[:, :, None] + gam[:, None, :])

        def a_packed(x: np.ndarray) -> np.ndarray:
            full[:] = 0.0
            full[act] = x
            r = self._pack(self.apply(self._unpack(full)))[act]
            return r + scale * y_hat * (y_hat @ x)

        population = np.zeros((k, n * n), bool)
        population[:, :n] = True
        population = population.reshape(-1)[act]
        self._inner_iterations = 0

        def m_packed(x: np.ndarray) -> np.ndarray:
            full[:] = 0.0
            full[act] = x
            out = self._pack(self._unpack(full) / pre)[act]
            if self._population_solve is not None:
                out[population] = self._population_solve(x[population])
            return out

        size = int(act.sum())
        op = spla.LinearOperator((size, size), matvec=a_packed, dtype=float)
        prec = spla.LinearOperator((size, size), matvec=m_packed, dtype=float)
        drive = self.drive()
        sol = np.zeros((k, n, n, d), complex)
        iters, conv, residual, removed = 0, True, 0.0, 0.0
        for c in range(d):
            b = -self._pack(drive[..., c])[act]
            norm_b = np.linalg.norm(b)
            if norm_b == 0:
                continue
            # the part of the drive outside the range (a particle source, Σ w Tr b ≠ 0 on a
            # continuum box) is removed along the μ shift, as in LinearBTE
            if pw @ y > 0:
                b_range = b - pw * ((y @ b) / (pw @ y))
                removed = max(removed, float(np.linalg.norm(b - b_range) / norm_b))
                b = b_range
            out = gmres(op, b, prec, rtol=rtol, restart=min(restart, size),
                        max_restarts=max(1, maxiter // min(restart, size)))
            x = out.x
            r = np.linalg.norm(b - a_packed(x)) / max(np.linalg.norm(b), 1e-300)
            residual = max(residual, float(r))
            iters, conv = max(iters, out.iterations), conv and out.converged
            full[:] = 0.0
            full[act] = x
            sol[..., c] = self._unpack(full)
        sigma, pop, coh = self.conductivity(sol)
        info = {"n_kpoints": k, "n_bands": n, "unknowns": size,
                "frozen_populations": int(self.frozen.sum()),
                "thermal_states": float(self.thermal_states),
                "drive_out_of_range": removed, "solve_time_s": time.perf_counter() - start,
                "coherence": self.coherence, "kinetic_corrections": self.kinetic,
                "offdiagonal_self_energy": self.offdiagonal,
                "linewidth_only": self.linewidth_only,
                "tiles_cached": (self._tiles is not None
                                 or any(sh.near is not None for sh in self._shells)
                                 or self._kernel is not None),
                "dense_kernel": self._kernel is not None,
                "method": self.method, "preconditioner": self.preconditioner,
                "inner_iterations": int(self._inner_iterations)}
        return MatrixBTEResult(
            sigma=sigma, sigma_population=pop, sigma_coherence=coh,
            sigma_outside_window=self.sigma_outside.copy(), delta_h=-2.0 * sol,
            k=self.k, weight=self.weight, energy=self.energy, eigenvectors=self.u,
            converged=bool(conv and residual <= 10 * rtol), iterations=iters,
            residual=residual, mu=self.eq.mu, T=self.eq.T, info=info)

    def conductivity(self, df: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(σ, σ_population, σ_coherence)`` (e²/h, ``(d, d)``) of ``δf`` ``(K, N, N, d)``:
        ``σ_ic = Σ_p w_p/(2π)^d Tr(v^i_p δf^c_p)`` (TP Eqs. 55–56), with the clean coherences
        of the k-points outside the window (:attr:`sigma_outside`) in σ and σ_coherence."""
        tot = self._current(self.weight, self.v, df) + self.sigma_outside
        idx = np.arange(self.n_bands)
        diag = np.zeros_like(df)
        diag[:, idx, idx] = df[:, idx, idx]
        pop = self._current(self.weight, self.v, diag)
        return tot, pop, tot - pop

    def _current(self, weight: np.ndarray, velocity: np.ndarray,
                 df: np.ndarray) -> np.ndarray:
        """``σ_ic = Σ_p w_p/(2π)^d Tr(v^i_p δf^c_p)`` in e²/h."""
        scale = 1.0 / ((2 * math.pi) ** self.dim * E2_OVER_H)
        return scale * np.einsum("p,pimn,pnmc->ic", weight, velocity, df).real
