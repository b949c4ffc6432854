"""Node search, smooth partition and node-centred quadrature (boltzphlow.geometry.nodes)."""

from __future__ import annotations

import numpy as np
import pytest

import boltzphlow.bands as bands
import boltzphlow.geometry as geo
import boltzphlow.observables as tr
from boltzphlow.bands.models import PAULI
from boltzphlow.geometry.nodes import (
    minimal_displacement,
    node_bump,
    node_quadrature,
    node_radii,
    smooth_step,
)


@pytest.mark.parametrize(("k0", "b0"), [(np.pi / 2, 0.3), (np.pi / 2, 0.0), (1.0, 0.3),
                                        (2.2, -0.2)])
def test_find_nodes_recovers_the_weyl_lattice_nodes(k0, b0):
    """Positions to 1e-8 (measured 1e-14), chirality and energy of the model's two nodes."""
    w = bands.weyl_lattice(k0=k0, b0=b0)
    found = geo.find_nodes(w)
    assert len(found) == 2
    for node in w.nodes:
        match = min(found, key=lambda n: np.linalg.norm(n.k - node.k))
        np.testing.assert_allclose(match.k, node.k, atol=1e-8)
        assert match.chirality == node.chirality
        assert match.energy == pytest.approx(node.energy, abs=1e-8)
        assert match.flux == pytest.approx(node.chirality, abs=1e-6)
        assert match.band == 0


def nodal_line_model() -> bands.TightBinding:
    """``H = (2 - cos kx - cos ky - 0.5) σ_x + sin kz σ_z``: rings of touchings at kz = 0, π."""
    sx, sz = PAULI[1], PAULI[3]
    table = {(0, 0, 0): 1.5 * sx, (1, 0, 0): -0.5 * sx, (-1, 0, 0): -0.5 * sx,
             (0, 1, 0): -0.5 * sx, (0, -1, 0): -0.5 * sx,
             (0, 0, 1): sz / 2j, (0, 0, -1): -sz / 2j}
    return bands.TightBinding(np.eye(3), table)


def test_lines_of_touchings_and_gapped_models_have_no_nodes():
    """Nodal rings fail the isolation check; a gapped model has no touching at all."""
    assert geo.find_nodes(nodal_line_model()) == ()
    gapped = bands.weyl_lattice(b0=0.2)
    sz = PAULI[3]
    table = {tuple(r): m for r, m in zip(gapped.R, gapped.h_R, strict=True)}
    table[(0, 0, 0)] = table[(0, 0, 0)] + 5.0 * sz  # a large mass gaps the nodes out
    assert geo.find_nodes(bands.TightBinding(np.eye(3), table)) == ()


def test_smooth_step_and_bump():
    s = np.linspace(-0.5, 1.5, 2001)
    step = smooth_step(s)
    assert step.min() == 0.0 and step.max() == pytest.approx(1.0, abs=1e-14)
    assert np.all(np.diff(step) >= -1e-15)
    np.testing.assert_allclose(smooth_step(np.array([0.25, 0.5, 0.75])),
                               [1 - smooth_step(np.array(0.75)), 0.5, 1 - smooth_step(
                                   np.array(0.25))], atol=1e-14)  # S(s) + S(1 - s) = 1
    # C^7 at both ends: S(s) ~ s^8 near 0
    assert smooth_step(np.array(1e-2)) < 1e-2**8 * 7000
    np.testing.assert_allclose(node_bump(s), 1.0 - step)


def test_node_quadrature_integrates_polynomials_exactly():
    """∫_{|q|<R} d³q |q|^{2j} = 4π R^{2j+3}/(2j+3) and ∫ q_z² = 4π R⁵/15, to round-off."""
    centre, radius = np.array([0.3, -0.2, 1.0]), 0.7
    k, w, s = node_quadrature(centre, radius, 16)
    q = k - centre
    r2 = (q**2).sum(-1)
    for j in range(4):
        assert (w * r2**j).sum() == pytest.approx(4 * np.pi * radius ** (2 * j + 3)
                                                  / (2 * j + 3), rel=1e-13)
    assert (w * q[:, 2] ** 2).sum() == pytest.approx(4 * np.pi * radius**5 / 15, rel=1e-13)
    np.testing.assert_allclose(s, np.sqrt(r2) / radius, atol=1e-14)
    # symmetric under q -> -q (the band total of the chiral integrals relies on it)
    mirrored = np.sort(np.round(-q, 12).view([("", float)] * 3), axis=0)
    np.testing.assert_array_equal(mirrored, np.sort(np.round(q, 12).view([("", float)] * 3),
                                                    axis=0))
    with pytest.raises(ValueError, match="even"):
        node_quadrature(centre, radius, 7)


def test_minimal_displacement_and_radii_use_periodic_images():
    w = bands.weyl_lattice(k0=2.8)  # nodes at kz = ±2.8: 0.68 apart through the zone boundary
    found = geo.find_nodes(w)
    d = minimal_displacement(w, found[0].k[None], found[1].k)[0]
    assert np.linalg.norm(d) == pytest.approx(2 * np.pi - 5.6, abs=1e-8)
    np.testing.assert_allclose(node_radii(w, found), 0.45 * (2 * np.pi - 5.6), atol=1e-8)


def test_node_options_are_checked():
    w = bands.weyl_lattice(b0=0.3)
    with pytest.raises(ValueError, match="nodes must be"):
        tr.chiral_anomaly(w, 0.0, 0.1, (8, 8, 8), nodes="all")
    with pytest.raises(ValueError, match="use_symmetry"):
        tr.chiral_anomaly(w, 0.0, 0.1, (8, 8, 8), use_symmetry=True)
    plain = tr.chiral_anomaly(w, 0.0, 0.1, (8, 8, 8), nodes=None)
    assert plain.nodes == () and plain.per_node.shape == (0,)
