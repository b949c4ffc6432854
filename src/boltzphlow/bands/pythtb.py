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
    """Convert a spinless PythTB ``tb_model`` (with ``dim_k == dim_r``) to :class:`TightBinding`.

    Raises
    ------
    ValueError
        If the model is spinful, has ``dim_k != dim_r`` or lacks the expected attributes.
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
    if nspin != 1:
        raise ValueError("only spinless PythTB models are supported")
    if dim_k != dim_r:
        raise ValueError(f"PythTB model with dim_k={dim_k} != dim_r={dim_r} is not supported")
    hops = []
    for amp, i, j, *rest in hoppings:
        r = np.zeros(dim_r, dtype=int) if not rest else np.asarray(rest[0], dtype=int)
        hops.append((complex(amp), int(i), int(j), r))
    return TightBinding.from_hopping_list(
        lat, onsite.real.astype(float), hops, orb.reshape(len(onsite), dim_r), name="pythtb"
    )
