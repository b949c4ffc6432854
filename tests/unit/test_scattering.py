"""Scattering models and the collision operator (boltzphlow.scattering).

The fast, blocked assembly is compared with a slow reference that writes the golden rule of
every *directed* transition directly (a double loop over a few dozen states), which also
checks detailed balance: the reference computes ``W_{b←a}`` with ``N`` (absorption) and
``W_{a←b}`` with ``N + 1`` (emission) independently, and the fast operator stores one number
per unordered pair.  Agreement is to round-off: each flux is a product of ~20 factors
evaluated in a different order (``x/(e^x - 1)`` from per-state Boltzmann factors
``E_c/E_r - 1`` above ``x = 1e-3`` in the operator, relative error ``≲ 3e-16/x ≤ 3e-13``;
``T(f - f')/Δ`` here, good to ``1e-16 T/Δ ≤ 1e-13`` since the energy differences of the
states are either below ``1e-6 T`` (symmetric points: the limit is used) or above ``1e-3 T``,
which the test asserts) — hence an absolute tolerance of ``1e-11`` of the largest flux.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import boltzphlow as bp
from boltzphlow.errors import ResourceError
from boltzphlow.kspace.states import EnergyWindow, KStates
from boltzphlow.scattering import (
    AcousticPhonons,
    AdaptiveGaussian,
    CollisionOperator,
    ConstantRelaxationTime,
    Equilibrium,
    Gaussian,
    Impurities,
    OpticalPhonons,
    wave_vector_transfer,
)

RTOL = 1e-11

#: Agreement of the float32 assembly (the default) with the reference, relative to each
#: flux: the energies are cast relative to μ (|ε - μ| ≤ 0.4 here: error ≤ 2⁻²⁵ · 0.5 =
#: 1.5e-8 each, 3e-8 in ε_c - ε_r), which moves a Gaussian of width σ = 0.1 at |u| ≤ 4
#: by ``u δu ≤ 4 · 3e-7 = 1.2e-6`` relative; k (|k| ≤ 4: 2.4e-7 each) moves ``|q|`` by
#: 5e-7 absolute, ``e^{-q² r²}`` by ``2 q r² δq ≤ 3e-6`` and ``1/(q + q_s)²`` by
#: ``2 δq/q_s ≤ 1.5e-6``; the ~10 other factors are each good to a few ulps (6e-8).  Hence
#: 1e-5 relative, and ``1e-7`` of the largest flux absolute for pairs at the cut of the
#: Gaussian, whose weight (``e^{-8}`` of the peak) may be kept by one evaluation only.
RTOL32, ATOL32 = 1e-5, 1e-7


@pytest.fixture(scope="module")
def dirac() -> KStates:
    """About 60 states of the upper massive-Dirac band around ε = 2 (mesh 20×20 on k_max 4)."""
    d = bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=4.0)
    return KStates.build(d, (20, 20), EnergyWindow(1.6, 2.4), eigenvectors=True)


@pytest.fixture(scope="module")
def lattice() -> KStates:
    """States of the Qi–Wu–Zhang lattice (the pocket straddles the zone edge)."""
    h = bp.bands.qi_wu_zhang(m=-1.0)
    return KStates.build(h, (12, 12), EnergyWindow(0.6, 1.4), eigenvectors=True)


# --------------------------------------------------------------------------- the reference
def _fermi(e: float, eq: Equilibrium) -> float:
    return 1.0 / (math.exp((e - eq.mu) / eq.T) + 1.0)


def _gauss(x: float, sigma: float, n_sigma: float) -> float:
    if abs(x) > n_sigma * sigma:
        return 0.0
    return math.exp(-0.5 * (x / sigma) ** 2) / (math.sqrt(2 * math.pi) * sigma)


def _delta(delta, states: KStates, a: int, b: int, x: float) -> float:
    """δ of the directed pair (a → b) with argument x, written out."""
    if isinstance(delta, Gaussian):
        return _gauss(x, delta.width, delta.n_sigma)
    dk = math.sqrt(states.weight.min())
    vmax = np.linalg.norm(states.velocity, axis=1).max()
    floor = 0.1 * delta.scale * dk * vmax
    va, vb = states.velocity[a], states.velocity[b]
    sigma = max(delta.scale * dk * math.sqrt((va @ va + vb @ vb) / 2), floor)
    return _gauss(x, sigma, delta.n_sigma)


def _q(states: KStates, a: int, b: int) -> np.ndarray:
    q = states.k[b] - states.k[a]
    if states.periodic:  # square lattice, B = 2π 1
        q = q - 2 * math.pi * np.round(q / (2 * math.pi))
    return q


def _divided_difference(ea: float, eb: float, eq: Equilibrium) -> float:
    """``T (f_a - f_b)/(ε_b - ε_a)`` (``f(1 - f)`` in the limit)."""
    if abs(eb - ea) < 1e-6 * eq.T:
        f = _fermi(0.5 * (ea + eb), eq)
        return f * (1 - f)
    return eq.T * (_fermi(ea, eq) - _fermi(eb, eq)) / (eb - ea)


def _reference_flux(model, states: KStates, eq: Equilibrium, delta) -> np.ndarray:
    """``Φ_ab = w_a w_b f_a (1 - f_b) W_{b←a}/(2π)^d`` of every ordered pair, by the golden
    rule (elastic models: the symmetric divided difference in place of ``f_a(1 - f_b)``)."""
    s, d = len(states), states.dim
    e, u, w = states.energy, states.eigenvectors, states.weight
    out = np.zeros((s, s))
    for a in range(s):
        for b in range(s):
            if a == b:
                continue
            overlap = abs(np.vdot(u[b], u[a])) ** 2
            measure = w[a] * w[b] / (2 * math.pi) ** d
            q = np.linalg.norm(_q(states, a, b))
            de = e[b] - e[a]
            fa, fb = _fermi(e[a], eq), _fermi(e[b], eq)
            if isinstance(model, Impurities):
                v2 = model.strength ** 2
                if model.potential == "gaussian":
                    v2 *= math.exp(-(q * model.range) ** 2)
                elif model.potential == "screened-coulomb":
                    v2 = (2 * math.pi * model.strength / (q + 1 / model.range)) ** 2
                rate = 2 * math.pi * model.density * v2 * overlap * _delta(delta, states, a, b,
                                                                              de)
                out[a, b] = measure * _divided_difference(e[a], e[b], eq) * rate
                continue
            if isinstance(model, AcousticPhonons) and model.elastic:
                y = model.sound_velocity * q / eq.T
                h = 1.0 if y == 0 else y * y * math.exp(y) / math.expm1(y) ** 2
                rate = (2 * math.pi * overlap * model.coupling ** 2 * eq.T * h
                        * _delta(delta, states, a, b, de))
                out[a, b] = measure * _divided_difference(e[a], e[b], eq) * rate
                continue
            # inelastic: a absorbs (ε_b > ε_a) or emits (ε_b < ε_a) a phonon of energy |Δ|
            gap = abs(de)
            if isinstance(model, AcousticPhonons):
                omega = model.sound_velocity * q
                g2_times_n = (0.5 * model.coupling ** 2 * eq.T if gap == 0 else
                              0.5 * model.coupling ** 2 * gap / math.expm1(gap / eq.T))
            else:
                omega = model.energy
                g2 = model.coupling ** 2
                if model.form == "froehlich":
                    g2 /= q + model.screening
                g2_times_n = (g2 * eq.T / omega if gap == 0 else
                              g2 * gap / omega / math.expm1(gap / eq.T))
            if de < 0:  # emission: N + 1 = N e^{|Δ|/T}
                g2_times_n *= math.exp(gap / eq.T)
            shell = (_delta(delta, states, a, b, gap - omega)
                     + _delta(delta, states, a, b, -gap - omega))
            if isinstance(model, AcousticPhonons) and model.debye_wavevector is not None:
                shell *= q <= model.debye_wavevector * (1 + 1e-12)  # ties (|q| = q_D) kept
            out[a, b] = measure * fa * (1 - fb) * 2 * math.pi * g2_times_n * overlap * shell
    return out


MODELS = [
    Impurities(density=0.7, strength=0.3),
    Impurities(density=0.7, potential="gaussian", strength=0.3, range=0.8),
    Impurities(density=0.7, potential="screened-coulomb", strength=0.2, range=1.5),
    AcousticPhonons(sound_velocity=0.05, coupling=1.2),
    AcousticPhonons(sound_velocity=0.05, coupling=1.2, debye_wavevector=2.0),
    AcousticPhonons(sound_velocity=0.05, coupling=1.2, elastic=True),
    OpticalPhonons(energy=0.15, coupling=0.8),
    OpticalPhonons(energy=0.15, coupling=0.8, form="froehlich", screening=0.5),
]
DELTAS = [Gaussian(width=0.1), AdaptiveGaussian()]


@pytest.mark.parametrize("delta", DELTAS, ids=lambda d: d.name)
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.describe())
def test_fast_assembly_equals_the_golden_rule_written_out(dirac, model, delta):
    """Both triangles of Φ (detailed balance of the directed rates) equal the reference:
    to round-off in float64, to :data:`RTOL32` in float32 (the default)."""
    eq = Equilibrium(mu=2.0, T=0.1)
    gaps = np.abs(np.subtract.outer(dirac.energy, dirac.energy)) / eq.T
    assert not np.any((gaps > 1e-6) & (gaps < 1e-3))
    ref = _reference_flux(model, dirac, eq, delta)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(ref, ref.T, rtol=0, atol=RTOL * scale)  # detailed balance
    op = CollisionOperator(dirac, [model], eq, delta, dtype=np.float64)
    assert scale > 0 and op.n_pairs > 100
    np.testing.assert_allclose(op.flux.toarray(), ref, rtol=0, atol=RTOL * scale)
    single = CollisionOperator(dirac, [model], eq, delta)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single.flux.toarray(), ref, rtol=RTOL32, atol=ATOL32 * scale)


def test_lattice_transfers_fold_to_the_nearest_image(lattice):
    """On a lattice q is the shortest transfer (|q_i| ≤ π for B = 2π 1); the reference
    with the folded q agrees with the assembly."""
    s = len(lattice)
    rows, cols = np.triu_indices(s, 1)
    q = wave_vector_transfer(lattice, rows, cols)
    assert np.abs(q).max() <= math.pi + 1e-12
    assert np.abs(lattice.k[cols] - lattice.k[rows]).max() > 4  # unfolded would be long
    eq = Equilibrium(mu=1.0, T=0.1)
    model, delta = AcousticPhonons(sound_velocity=0.05, coupling=1.0), Gaussian(width=0.1)
    ref = _reference_flux(model, lattice, eq, delta)
    fast = CollisionOperator(lattice, [model], eq, delta, dtype=np.float64).flux.toarray()
    np.testing.assert_allclose(fast, ref, rtol=0, atol=RTOL * np.abs(ref).max())
    single = CollisionOperator(lattice, [model], eq, delta).flux.toarray()
    np.testing.assert_allclose(single, ref, rtol=RTOL32, atol=ATOL32 * np.abs(ref).max())


# --------------------------------------------------------------------------- structure
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.describe())
def test_particle_conservation_and_symmetry(dirac, model):
    """``Φ = Φᵀ`` exactly (one number per pair) and ``L 1 = 0`` to round-off of the row sums
    (about 1e-16 × number of partners × largest out-flux)."""
    op = CollisionOperator(dirac, [model], Equilibrium(2.0, 0.1), Gaussian(width=0.1))
    flux = op.flux
    assert abs(flux - flux.T).max() == 0
    assert np.all(flux.data > 0)
    assert np.abs(op.matvec(np.ones(len(dirac)))).max() <= 1e-13 * op.out_flux.max()
    lmat = op.matrix()
    x = np.random.default_rng(1).normal(size=(len(dirac), 2))
    np.testing.assert_allclose(op.matvec(x), lmat @ x, rtol=1e-13,
                               atol=1e-13 * np.abs(lmat @ x).max())
    assert np.linalg.eigvalsh(lmat.toarray()).min() >= -1e-13 * op.out_flux.max()  # PSD


@pytest.mark.parametrize("workers", [1, 2])
def test_matvec_in_blocks_of_the_float32_triangle(dirac, monkeypatch, workers):
    """The product with the float32 triangle, converted to float64 a block of rows at a time
    (blocks of 50 pairs here: about 30 blocks), equals the float64 product with the same
    stored values ``(diag(Φ1) - Φ) x`` (values exact in float64; only the order of the sums
    differs: 1e-13 of the largest term), for one and for several right-hand sides."""
    import boltzphlow.scattering.base as base

    monkeypatch.setattr(base, "MATVEC_PAIRS", 50)
    op = CollisionOperator(dirac, [AcousticPhonons(sound_velocity=0.05, coupling=1.0)],
                           Equilibrium(2.0, 0.1),
                           Gaussian(width=0.1), workers=workers)
    assert op.flux.dtype == np.float32 and len(op._matvec_blocks()) > 10
    x = np.random.default_rng(2).normal(size=(len(dirac), 3))
    ref = op.out_flux[:, None] * x - op.flux.astype(np.float64) @ x
    scale = np.abs(op.out_flux).max() * np.abs(x).max()
    np.testing.assert_allclose(op.matvec(x), ref, rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(op.matvec(x[:, 1]), ref[:, 1], rtol=0, atol=1e-13 * scale)


def test_relaxation_time_sink_and_rates_by_mechanism(dirac):
    """``L 1 = Γ = w f(1-f)/τ``; the rates of the mechanisms add up; a float32 flux keeps
    ``L 1 = Γ`` to float64 round-off (the out-fluxes are summed from the rounded values)."""
    eq = Equilibrium(2.0, 0.1)
    models = [Impurities(strength=0.3), ConstantRelaxationTime(tau=4.0)]
    for dtype in (np.float64, np.float32):
        op = CollisionOperator(dirac, models, eq, Gaussian(width=0.1), keep_parts=True,
                               dtype=dtype)
        gamma = dirac.weight * eq.pauli_weight(dirac.energy) / 4.0
        np.testing.assert_allclose(op.sink, gamma, rtol=1e-15)
        np.testing.assert_allclose(op.matvec(np.ones(len(dirac))), gamma, rtol=1e-12)
        rates = op.rates_by_mechanism()
        np.testing.assert_allclose(sum(rates.values()), op.scattering_rate(), rtol=1e-14)
        np.testing.assert_allclose(rates["constant τ = 4"], 0.25, rtol=1e-14)
        parts = op.parts
        total = sum(p[0] for p in parts.values())
        assert abs(total - op.flux).max() <= 1e-15 * op.flux.max()


@pytest.mark.parametrize("model", [m for m in MODELS if isinstance(m, Impurities)
                                   or getattr(m, "elastic", False)],
                         ids=lambda m: m.describe())
def test_elastic_models_conserve_energy_to_the_delta_width(dirac, model):
    """Every stored pair of an elastic model lies within the δ cutoff (4σ) in energy."""
    delta = Gaussian(width=0.05)
    op = CollisionOperator(dirac, [model], Equilibrium(2.0, 0.1), delta)
    rows, cols = op.flux.nonzero()
    gap = np.abs(dirac.energy[rows] - dirac.energy[cols])
    assert len(gap) and gap.max() <= delta.cutoff(dirac) * (1 + 1e-12)


def test_occupation_factors_are_stable_and_satisfy_the_identities():
    """``f(1-f')N(Δ)Δ/T`` = ``f'(1-f)(N+1)Δ/T`` (absorption = emission flux); the divided
    difference equals ``T(f - f')/(ε' - ε)``; both tend to ``f(1-f)`` as Δ → 0."""
    eq = Equilibrium(0.3, 0.07)
    lo = np.array([0.1, 0.25, 0.3, 0.31, 0.5])
    hi = lo + np.array([0.2, 0.01, 1e-9, 0.0, 2.0])
    f, g = eq.fermi(lo), eq.fermi(hi)
    x = (hi - lo) / eq.T
    n = 1 / np.expm1(np.where(x > 0, x, 1.0))
    absorb = eq.absorption_factor(lo, hi)
    np.testing.assert_allclose(absorb, eq.absorption_factor(hi, lo), rtol=0)
    sel = x > 0
    np.testing.assert_allclose(absorb[sel], (f * (1 - g) * n * x)[sel], rtol=1e-13)
    np.testing.assert_allclose(absorb[sel], (g * (1 - f) * (n + 1) * x)[sel], rtol=1e-12)
    np.testing.assert_allclose(absorb[~sel], (f * (1 - f))[~sel], rtol=1e-15)
    dd = eq.elastic_flux_factor(lo, hi)
    big = x > 1e-3
    np.testing.assert_allclose(dd[big], eq.T * (f - g)[big] / (hi - lo)[big], rtol=1e-12)
    np.testing.assert_allclose(dd[2], eq.pauli_weight(lo[2]), rtol=1e-8)  # x = 1.4e-8


def test_estimate_and_memory_refusal(dirac, monkeypatch):
    """The pair estimate (candidates × surviving fraction of a 20000-pair sample) is within
    5 binomial standard deviations of the count; a limit below it is refused before the
    assembly, with the estimate and the mesh in the message."""
    d = bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=4.0)
    states = KStates.build(d, (60, 60), EnergyWindow(1.7, 2.3), eigenvectors=True)
    eq, model = Equilibrium(2.0, 0.1), AcousticPhonons(sound_velocity=0.05, coupling=1.0)
    op = CollisionOperator(states, [model], eq, Gaussian(width=0.05))
    p = op.n_pairs / op.candidate_pairs
    assert op.candidate_pairs > 20000
    sd = math.sqrt(p * (1 - p) / 20000)
    assert abs(op.estimated_pairs / op.candidate_pairs - p) <= 5 * sd + 1 / 20000
    monkeypatch.setenv("BOLTZPHLOW_MEMORY_LIMIT", str(4 * op.n_pairs))
    with pytest.raises(ResourceError, match=r"60x60 mesh.*estimate.*change mesh"):
        CollisionOperator(states, [model], eq, Gaussian(width=0.05))


# --------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("make, match", [
    (lambda: Impurities(potential="gaussian", strength=1.0), "range"),
    (lambda: Impurities(potential="screened-coulomb"), "range"),
    (lambda: Impurities(potential="yukawa"), "unknown impurity potential"),
    (lambda: Impurities(density=-1.0), "density"),
    (lambda: AcousticPhonons(coupling=1.0), "sound_velocity"),
    (lambda: AcousticPhonons(sound_velocity=0.01), "coupling"),
    (lambda: AcousticPhonons(sound_velocity=-0.01, coupling=1.0), "sound_velocity"),
    (lambda: OpticalPhonons(coupling=1.0), "energy"),
    (lambda: OpticalPhonons(energy=0.1, coupling=1.0, form="froehlich"), "screening"),
    (lambda: AdaptiveGaussian(scale=0.0), "scale"),
    (lambda: Gaussian(width=0.0), "width"),
])
def test_bad_parameters_raise_one_line_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_model_parameters_are_declared_for_the_config():
    from boltzphlow.parameters import parameters_of

    assert list(parameters_of(Impurities)) == ["density", "potential", "strength", "range",
                                               "skew_scattering"]
    acoustic = parameters_of(AcousticPhonons)
    assert list(acoustic)[:2] == ["sound_velocity", "coupling"]
    assert acoustic["sound_velocity"].unit == "energy*L"
    assert "energy" in parameters_of(OpticalPhonons)


def test_adaptive_width_follows_the_velocities(dirac):
    """``σ_rc = a Δk √((v_r² + v_c²)/2)`` with Δk the mesh spacing (0.4 here)."""
    delta = AdaptiveGaussian(scale=1.0)
    rows, cols = np.array([0, 1]), np.array([2, 3])
    v2 = (np.sum(dirac.velocity[rows] ** 2, 1) + np.sum(dirac.velocity[cols] ** 2, 1)) / 2
    np.testing.assert_allclose(delta.width(dirac, rows, cols), 0.4 * np.sqrt(v2), rtol=1e-12)
    vmax = np.linalg.norm(dirac.velocity, axis=1).max()
    assert delta.cutoff(dirac) == pytest.approx(4 * 0.4 * vmax, rel=1e-12)


def test_threads_and_blocks_do_not_change_the_operator(dirac):
    """Blocks evaluated in threads and kept in order: the same CSR arrays, bit for bit,
    whatever the number of workers or the block size."""
    eq, model = Equilibrium(2.0, 0.1), AcousticPhonons(sound_velocity=0.05, coupling=1.0)
    serial = CollisionOperator(dirac, [model], eq, Gaussian(width=0.1), workers=1)
    threaded = CollisionOperator(dirac, [model], eq, Gaussian(width=0.1), workers=2,
                                 block_pairs=97)
    assert serial.n_pairs == threaded.n_pairs > 0
    assert np.array_equal(serial.flux.toarray(), threaded.flux.toarray())
    np.testing.assert_allclose(serial.out_flux, threaded.out_flux, rtol=1e-14)
    with pytest.raises(ValueError, match="float64 or float32"):
        CollisionOperator(dirac, [model], eq, Gaussian(width=0.1), dtype=np.int32)


@pytest.mark.slow
@pytest.mark.parametrize("model", [AcousticPhonons(sound_velocity=0.05, coupling=1.0),
                                   Impurities(density=1.0, strength=0.3)],
                         ids=lambda m: m.name)
def test_float32_operator_gives_the_float64_conductivity(model):
    """σ of the float32 operator (the default) equals that of the float64 one to < 1e-6
    relative (the criterion for the default): each float32 flux is good to ≲ 1e-5 at
    worst and a few 1e-7 typically (:data:`RTOL32`), with signs that vary from pair to
    pair, and σ averages ~6·10⁵ of them (3e-8 and 5e-8 observed); both solves to a
    relative residual of 1e-11."""
    h = bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=2.5)
    sigma = {}
    for dtype in (np.float64, np.float32):
        bte = bp.transport.LinearBTE(h, mesh=(40, 40), mu=2.0, T=0.05, scattering=[model],
                                     delta=AdaptiveGaussian(), berry=False, dtype=dtype)
        assert bte.operator.dtype == dtype and bte.operator.n_pairs > 10**4
        sigma[dtype] = bte.solve("krylov", rtol=1e-11, thermal=False).sigma
    np.testing.assert_allclose(sigma[np.float32], sigma[np.float64], rtol=1e-6,
                               atol=1e-6 * abs(sigma[np.float64][0, 0]))


class _PairsOnly(AcousticPhonons):
    """The same phonons through the pair-by-pair fallback of the tile assembly."""

    def tile_flux(self, tile, delta):
        return None


def test_tile_path_equals_the_pair_by_pair_path(dirac):
    """The dense-tile evaluation and the fallback (``pair_flux`` on the candidates of each
    tile) store the same pairs and fluxes (float64: to round-off, 1e-12)."""
    eq, delta = Equilibrium(2.0, 0.1), AdaptiveGaussian()
    tiles = CollisionOperator(dirac, [AcousticPhonons(sound_velocity=0.05, coupling=1.0)], eq,
                              delta, dtype=np.float64, block_pairs=300)
    pairs = CollisionOperator(dirac, [_PairsOnly(sound_velocity=0.05, coupling=1.0)], eq,
                              delta, dtype=np.float64, block_pairs=300)
    assert tiles.n_pairs == pairs.n_pairs > 100
    scale = tiles.flux.max()
    np.testing.assert_allclose(tiles.flux.toarray(), pairs.flux.toarray(), rtol=0,
                               atol=1e-12 * scale)
    np.testing.assert_allclose(tiles.out_flux, pairs.out_flux, rtol=1e-12)


def test_tiles_cover_every_candidate_within_the_area_bound():
    """Row blocks of sorted states: every candidate (r < c < stop_r) lies in exactly one
    tile, and a tile of more than one row has at most ``block_pairs`` entries even where
    the number of partners jumps (a gap in energy: few partners, then thousands)."""
    from boltzphlow.scattering.base import _row_blocks

    energy = np.r_[np.arange(500.0), 500.5 + 1e-3 * np.arange(4000)]  # sparse, then dense
    s = len(energy)
    stop = np.searchsorted(energy, energy + 2.0, side="right")
    partners = stop - np.arange(s) - 1
    assert partners[100] == 2 and partners[499] > 400 and partners[500] == 2000  # the jump
    covered = np.zeros(s, dtype=int)
    for start, end in _row_blocks(stop, 1000):
        assert end - start == 1 or (end - start) * (stop[end - 1] - start - 1) <= 1000
        covered[start:end] += 1
    assert np.all(covered[stop > np.arange(s) + 1] == 1)


class _ImpuritiesPairsOnly(Impurities):
    """Impurities through the pair-by-pair fallback of the tile assembly."""

    def tile_flux(self, tile, delta):
        return None


def test_tile_overlaps_of_three_bands_equal_the_pair_path():
    """Three-band p-orbital lattice (``|⟨u_c|u_r⟩|²`` by one complex matrix product per tile,
    not the two-band Bloch-vector form; folded lattice transfers in 3D): the tile path
    equals the pair-by-pair path to round-off in float64 (1e-12) and to the float32
    tolerance :data:`RTOL32` in float32."""
    h = bp.bands.p_band_model()
    states = KStates.build(h, (6, 6, 6), EnergyWindow(-0.5, 0.5), eigenvectors=True)
    assert states.eigenvectors.shape[1] == 3 and len(states) > 50
    eq, delta = Equilibrium(0.0, 0.1), Gaussian(width=0.1)
    kw = dict(density=1.0, potential="screened-coulomb", strength=0.3, range=1.0)
    ref = CollisionOperator(states, [_ImpuritiesPairsOnly(**kw)], eq, delta,
                            dtype=np.float64, block_pairs=500).flux.toarray()
    scale = np.abs(ref).max()
    assert scale > 0
    for dtype, rtol, atol in ((np.float64, 1e-12, 1e-12), (np.float32, RTOL32, ATOL32)):
        fast = CollisionOperator(states, [Impurities(**kw)], eq, delta, dtype=dtype,
                                 block_pairs=500).flux.toarray()
        np.testing.assert_allclose(fast, ref, rtol=rtol, atol=atol * scale)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labelings split the states into the same sets."""
    pairs = np.unique(np.stack([a, b]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


@pytest.mark.parametrize("inter", [0.0, 0.2])
def test_connected_sets_equal_the_graph_components_of_the_flux(inter):
    """``connected_sets`` (a spanning guess merged by one pass over the pairs) splits the
    states exactly as the graph components of the full flux: one set per Weyl node when no
    impurity scatters between the nodes, one set (per connected energy shell) otherwise."""
    from scipy.sparse.csgraph import connected_components

    from boltzphlow.scattering.nodes import NodeImpurities

    h = bp.bands.weyl_lattice()
    states = KStates.build(h, (14, 14, 14), (-0.35, 0.35), eigenvectors=True,
                           orbital_moment=False)
    imp = NodeImpurities.of(h, intra_strength=1.0, inter_strength=inter, density=1.0)
    op = bp.scattering.CollisionOperator(states, [imp], Equilibrium(0.0, 0.05),
                                         bp.scattering.Gaussian(width=0.05))
    reference = connected_components(op.flux, directed=False)[1]
    labels = op.connected_sets()
    assert _same_partition(labels, reference)
    if inter == 0.0:
        assert len(np.unique(labels)) >= 2


def test_operator_threads_follow_the_blas_limit_of_a_sweep_task():
    """A sweep running one task per core limits BLAS to one thread per task; the operator's own
    threads follow that limit (two threads per task on two cores would oversubscribe them)."""
    from boltzphlow.resources import blas_threads, compute_threads

    states = KStates.build(bp.bands.massive_dirac(v=1.0, delta=1.0, k_max=4.0), (24, 24),
                           EnergyWindow.around(2.0, 0.2), curvature=False,
                           orbital_moment=False, eigenvectors=True)
    imp = bp.scattering.Impurities(density=1.0, strength=0.3)
    with blas_threads(1):
        op = bp.scattering.CollisionOperator(states, [imp], Equilibrium(2.0, 0.2),
                                             bp.scattering.Gaussian(width=0.2))
    assert op.workers == 1 and compute_threads(1) == 1
