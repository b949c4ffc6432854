"""Electrons driven by a pumped phonon mode: transient negative conductivity.

The model of G. Chiriacò, A. J. Millis and I. L. Aleiner, *Negative absolute conductivity in
photoexcited metals* (main text and supplement); see ``docs/photoexcited.md``.

>>> import boltzphlow as bp
>>> m = bp.photoexcited.PhotoexcitedMetal("semi-elliptic", mu=0.0, T=0.003, omega_p=0.53,
...                                       zeta=20.0, points_per_omega=100)
>>> ss = m.steady_state()
"""

from boltzphlow.kinetics.photoexcited.dos import (
    BUILTIN_BANDS,
    DOS_FILE_MAX_BYTES,
    TRANSPORT_MODELS,
    Band,
    as_band,
    cosine_1d,
    linear_ramp,
    p_band,
    read_dos_file,
    semi_elliptic,
    sqrt_edge,
)
from boltzphlow.kinetics.photoexcited.model import (
    PhotoexcitedMetal,
    Pump,
    periodic_limit,
    phonon_temperature,
)

__all__ = ["BUILTIN_BANDS", "DOS_FILE_MAX_BYTES", "TRANSPORT_MODELS", "Band",
           "PhotoexcitedMetal", "Pump", "as_band", "cosine_1d", "linear_ramp",
           "p_band", "periodic_limit", "phonon_temperature", "read_dos_file", "semi_elliptic",
           "sqrt_edge"]
