"""BoltzPhlow: Boltzmann transport beyond the textbook.

Nonequilibrium kinetics with full nonlinear collision integrals, and quantum corrections to
transport.  Physics families live in subpackages (``boltzphlow.superconductor`` ...); the
command line is ``boltzphlow`` (see ``boltzphlow --help``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("boltzphlow")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from boltzphlow import bands, geometry, integrate, transport  # noqa: E402
from boltzphlow.kinetics import photoexcited as photoexcited  # noqa: E402
from boltzphlow.kinetics import superconductor  # noqa: E402
from boltzphlow.sweep import sweep as sweep  # noqa: E402

__all__ = ["__version__", "bands", "geometry", "integrate", "photoexcited", "superconductor",
           "sweep", "transport"]
