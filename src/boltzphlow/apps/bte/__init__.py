r"""The ``bte`` job: electron transport on k-meshes from the linearised Boltzmann equation.

A config names a band model (``hamiltonian = "massive_dirac"``, its parameters in a table of
that name, as in the ``geometry`` job), a k-mesh, μ and T, the scattering mechanisms (tables
``[scattering.impurities]``, ``[scattering.acoustic_phonons]``, ``[scattering.optical_phonons]``,
``[scattering.constant_tau]``, derived from the models of :mod:`boltzphlow.scattering`), the
energy δ (``[delta]``), the solver (``[solver]``) and one task:

=========================  ===================================================================
``conductivity``           σ_ij at one T and field ``magnetic_field``
``resistivity_vs_T``       ρ(T) over the list ``T`` (Bloch–Grüneisen temperature marked)
``magnetoconductivity``    σ_ij(B) for the fields ``[magnetoconductivity] B`` along ``direction``
=========================  ===================================================================

At each point :class:`~boltzphlow.kinetics.bte.LinearBTE` builds the states in the window
around μ, the collision operator (Eq. 2 of C. Xiao, Y. Liu, M. Xie, S. A. Yang, Q. Niu, "Theory
of phonon side jump contribution in anomalous Hall transport") and the field terms of the
kinetic equation of T. Valet and R. Raimondi, "Semiclassical kinetic theory for systems with
non-trivial quantum geometry" (Eqs. 29–30), and solves it for a unit electric field along each
axis.  Units: ħ = e = k_B = 1, lattice constant 1; σ in e²/h (2D) or e²/(h·a) (3D), B in
ħ/(e a²).

With ``anomalous_hall = true`` (the default) each point at B = 0 also carries the anomalous
Hall decomposition: the intrinsic part and the side jump of every scattering mechanism, with
the two terms of Eq. 8 of Xiao et al. (the side-jump velocity of Eqs. 7/12, with the Pauli
factor of phonons, and the anomalous distribution of Eqs. 4/11 solved with the same collision
operator), as tensors and as the Hall components ``sigma_ah_*`` = σ_yx = j_y/E_x; NaN at the
points where it does not apply (B ≠ 0, ``berry = false``; :mod:`.run`); zero-range
impurities with ``skew_scattering = true`` add the skew scattering of the third Born order.

The points are solved in order; a partial result is checkpointed after each, and ``--resume``
continues from it.  A solve that misses its tolerance flags the result (``check_failed``).
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from boltzphlow.apps.bte.config import BteConfig
from boltzphlow.apps.bte.run import run, summary
from boltzphlow.jobs import Job

__all__ = ["JOB", "BteConfig", "plot", "run", "summary"]


def plot(ds: xr.Dataset, out_dir: Path, stem: str) -> list[Path]:
    """Figures of a result or a sweep, ``<stem>_<kind>.png`` (see :mod:`.plots`)."""
    from boltzphlow.apps.bte.plots import plot_all

    return plot_all(ds, Path(out_dir), stem)


JOB = Job(
    name="bte",
    config_model=BteConfig,
    run=run,
    plot=plot,
    summary=summary,
    description="electron transport on k-meshes: σ, ρ(T), σ_ij(B) from the linearised BTE "
                "with impurity and phonon scattering and the Berry-phase terms; the anomalous "
                "Hall effect (intrinsic, side jump, skew scattering)",
    resumable=True,
)
