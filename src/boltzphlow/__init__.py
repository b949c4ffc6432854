"""BoltzPhlow: Boltzmann transport beyond the textbook.

Nonequilibrium kinetics with full nonlinear collision integrals, and quantum corrections to
transport.  Physics families live in subpackages (``boltzphlow.superconductor`` ...); the
command line is ``boltzphlow`` (see ``boltzphlow --help``).

The subpackages are imported on first use (``bp.superconductor``, ``bp.sweep(...)``), so that
``import boltzphlow`` is instant and the command line handles Ctrl-C before any heavy import.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["__version__", "bands", "geometry", "integrate", "kspace", "observables",
           "photoexcited", "scattering", "stats", "superconductor", "sweep", "transport"]

#: Public subpackages and the modules they are (imported on first use).
_SUBPACKAGES = {
    "bands": "boltzphlow.bands",
    "geometry": "boltzphlow.geometry",
    "integrate": "boltzphlow.integrate",
    "kspace": "boltzphlow.kspace",
    "observables": "boltzphlow.observables",
    "stats": "boltzphlow.stats",
    "photoexcited": "boltzphlow.kinetics.photoexcited",
    "superconductor": "boltzphlow.kinetics.superconductor",
    "scattering": "boltzphlow.scattering",
    "transport": "boltzphlow.kinetics.bte",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("boltzphlow")
        except PackageNotFoundError:  # running from a source tree without installation
            value = "0.0.0+unknown"
    elif name in _SUBPACKAGES:
        value = importlib.import_module(_SUBPACKAGES[name])
    else:
        raise AttributeError(f"module 'boltzphlow' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``bp.sweep`` is the function :func:`boltzphlow.sweep.sweep`, also once the module
    ``boltzphlow.sweep`` is imported (the import system then tries to bind the module here)."""

    @property
    def sweep(self) -> Any:
        from boltzphlow.sweep import sweep

        return sweep

    @sweep.setter
    def sweep(self, value: Any) -> None:
        pass  # the submodule stays in sys.modules["boltzphlow.sweep"]


sys.modules[__name__].__class__ = _Package
