"""The ``geometry`` job: Bloch bands and quantum geometry from the command line.

A config chooses a model by name (``hamiltonian = "haldane"``; its parameters in a table of the
same name), a k-mesh, and one or more tasks, each a table:

=====================  ======================================================================
``[ahc]``              intrinsic anomalous Hall conductivity σ(μ) at temperature T (Eq. 35)
``[chern]``            Chern numbers of chosen bands (link variables; a plane for 3D models)
``[curvature_map]``    Berry curvature of one band on a rectangle of a k-plane
``[bands]``            band energies along a k-path (named points or explicit coordinates)
``[cme]``              chiral-magnetic coefficient per band and total vs μ (Eq. 36; 3D)
``[chiral_anomaly]``   Berry flux through the Fermi surface and the anomaly coefficient (Eq. 33)
=====================  ======================================================================

Equation numbers are those of T. Valet and R. Raimondi, "Semiclassical kinetic theory for
systems with non-trivial quantum geometry and the expectation value of physical quantities".

Units (the conventions of :mod:`boltzphlow.bands`): ħ = e = 1, lattice constant 1.  Wave vectors
in 1/a; energies (μ, T, band energies, model parameters) in the model's energy unit (the hopping
``t`` of the built-in models, eV for Wannier90 files; ``energy_unit`` relabels it); angles as
numbers in radians or strings with a unit (``"pi/2"``, ``"90 deg"``).  Results: σ in e²/h (2D) or
e²/(h·a) (3D); CME coefficient α (j = αB) in e²/h² × energy; chiral-anomaly coefficient in
e³/h²; Berry curvature in a²; Chern numbers and Berry fluxes (in units of 2π) dimensionless.
Wannier90 ``_tb.dat`` files carry lattice vectors in Å, so their lengths are in Å.

The app is split by what each part does: :mod:`.config` (the schema: the model tables derived
from :data:`boltzphlow.bands.MODEL_KINDS`, the task tables), :mod:`.plan` (the model, every
check and every size), :mod:`.tasks` (one function per task, each a Dataset), :mod:`.run`
(checkpoints and resume), :mod:`.summary` and :mod:`.plots`.

Before the first progress report, :func:`run` checks everything a config asks for (band
indices, k-paths, μ ranges), that every k-mesh resolves the model
(:mod:`boltzphlow.geometry.resolution`: refused below the minimum, which the message gives) and
that the memory the tasks need fits (:func:`boltzphlow.resources.check_memory`).  Pictures
that are too coarse to show what they are asked (a curvature map whose pixels are wider than
the curvature peak, a band path that steps over it, a μ grid that steps over a gap) are drawn
all the same, with a :class:`ResolutionWarning` that gives the minimum.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from boltzphlow.apps.geometry.config import GeometryConfig
from boltzphlow.apps.geometry.plan import ResolutionWarning, build_hamiltonian
from boltzphlow.apps.geometry.run import run
from boltzphlow.apps.geometry.summary import summary
from boltzphlow.bands import high_symmetry_points
from boltzphlow.jobs import Job

__all__ = ["JOB", "GeometryConfig", "ResolutionWarning", "build_hamiltonian",
           "high_symmetry_points", "plot", "run", "summary"]


def plot(ds: xr.Dataset, out_dir: Path, stem: str) -> list[Path]:
    """Figures of a result or a sweep, ``<stem>_<kind>.png`` (see :mod:`.plots`)."""
    from boltzphlow.apps.geometry.plots import plot_all

    return plot_all(ds, Path(out_dir), stem)


JOB = Job(
    name="geometry",
    config_model=GeometryConfig,
    run=run,
    plot=plot,
    summary=summary,
    description="Bloch bands and quantum geometry: AHC, Chern numbers, Berry curvature, CME "
                "(Valet and Raimondi)",
    resumable=True,
)
