"""Import of PythTB models (optional: only if PythTB is installed).

PythTB (https://www.physics.rutgers.edu/pythtb/) stores on-site energies, hoppings
``[t, i, j, R]`` meaning ``<i,0|H|j,R> = t`` (the conjugate added implicitly), the lattice
vectors and the orbital positions in reduced coordinates; its Bloch sums use the same
"atomic" convention ``e^{ik·(R + τ_j - τ_i)}`` as :class:`~boltzphlow.bands.TightBinding`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from boltzphlow.bands.hamiltonian import TightBinding

__all__ = ["from_pythtb"]


def from_pythtb(model: Any) -> TightBinding:
    """Convert a PythTB ``tb_model`` (with ``dim_k == dim_r``) to :class:`TightBinding`.

    Spinful models (``nspin = 2``: 2 x 2 on-site matrices and hopping amplitudes) become
    ``2 N`` orbitals ordered orbital-major, ``(orbital, spin)`` → ``2 orbital + spin`` (PythTB's
    own flattening), each spin at its orbital's position.

    Raises
    ------
    ValueError
        If the model has ``dim_k != dim_r`` or lacks the expected attributes.
    """
    try:
        dim_k, dim_r = int(model._dim_k), int(model._dim_r)
        lat = np.asarray(model._lat, dtype=float)
        orb = np.asarray(model._orb, dtype=float)
        nspin = int(getattr(model, "_nspin", 1))
        onsite = np.asarray(model._site_energies)
        hoppings = list(model._hoppings)
    except AttributeError as exc:
        raise ValueError(f"not a PythTB tb_model: {exc}") from None
    if nspin not in (1, 2):
        raise ValueError(f"PythTB model with nspin = {nspin} is not supported")
    if dim_k != dim_r:
        raise ValueError(f"PythTB model with dim_k={dim_k} != dim_r={dim_r} is not supported")
    n_orb = len(onsite)
    positions = orb.reshape(n_orb, dim_r)
    origin = np.zeros(dim_r, dtype=int)
    hops = []
    if nspin == 1:
        diagonal = onsite.real.astype(float)
        for amp, i, j, *rest in hoppings:
            r = origin if not rest else np.asarray(rest[0], dtype=int)
            hops.append((complex(amp), int(i), int(j), r))
    else:
        blocks = onsite.astype(complex).reshape(n_orb, 2, 2)
        diagonal = np.real(np.diagonal(blocks, axis1=1, axis2=2)).reshape(-1)
        # the spin-off-diagonal on-site terms are hoppings at R = 0 (their conjugate added)
        hops += [(complex(blocks[i, 0, 1]), 2 * i, 2 * i + 1, origin)
                 for i in range(n_orb) if blocks[i, 0, 1] != 0]
        for amp, i, j, *rest in hoppings:
            r = origin if not rest else np.asarray(rest[0], dtype=int)
            a = np.asarray(amp, dtype=complex).reshape(2, 2)
            hops += [(complex(a[s, t]), 2 * int(i) + s, 2 * int(j) + t, r)
                     for s in range(2) for t in range(2) if a[s, t] != 0]
        positions = np.repeat(positions, 2, axis=0)
    return TightBinding.from_hopping_list(lat, diagonal, hops, positions,
                                          name="pythtb" if nspin == 1 else "pythtb-spinful")
