r"""The ``matrix_bte`` job: conductivity with interband coherences and kinetic corrections.

A config names a band model (``hamiltonian``, its parameters in a table of that name, as in
the ``bte`` job), a k-mesh, μ (or ``fermi_energy`` above the conduction-band bottom) and T,
the scattering (``[scattering.impurities]``, ``[scattering.optical_phonons]``,
``[scattering.acoustic_phonons]``; ``born_rate`` rescales the impurity density to a fixed
Fermi-layer rate), the Gaussian δ (``[delta]``) and the solver (``[solver]``).  At its one
point :class:`~boltzphlow.kinetics.matrix_bte.MatrixBTE` solves the linearised matrix
Boltzmann equation of E. Trukhan and N. H. Protik, "Interband and kinetic corrections to the
electronic Boltzmann transport equation" (Eqs. 44–53) for the band-matrix δf with the
config's switches (``coherence``, ``kinetic_corrections``, ``offdiagonal_self_energy``), and
the current of Eqs. 55–58 split into populations and coherences (Eq. 56).

With ``decompose = true`` (the default) it also solves the variants that remove one
ingredient each (dimension ``variant``): ``no_kinetic``, ``diagonal_self_energy``,
``populations_only`` (the band-diagonal BTE) and ``linewidth_only`` (coherences damped at
(Γ_n + Γ_n')/2, the Wigner-transport model); the derived scalars are the coherence share
σ_xx^coh/σ_xx and the kinetic-correction share (σ_xx − σ_xx(no kinetic))/σ_xx.  With
``compare_sidejump = true`` (2D, two or more bands) :class:`~boltzphlow.kinetics.bte.
LinearBTE` on the same states, δ and scattering gives the intrinsic conductivity and the two
side-jump terms of Eq. 8 of C. Xiao, Y. Liu, M. Xie, S. A. Yang, Q. Niu, "Theory of phonon
side jump contribution in anomalous Hall transport", so that σ_yx^coh − intrinsic is set
against the side-jump velocity term σ^sj(1) (the anomalous-distribution term σ^sj(2) is
outside the matrix BTE's weak-field theory).  Units: ħ = e = k_B = 1, σ in e²/h (2D).

The solves run in order; a partial result is checkpointed after each, and ``--resume``
continues from it.  A solve that misses its tolerance flags the result (``check_failed``).
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from boltzphlow.apps.matrix_bte.config import MatrixBteConfig
from boltzphlow.apps.matrix_bte.run import run, summary
from boltzphlow.jobs import Job

__all__ = ["JOB", "MatrixBteConfig", "plot", "run", "summary"]


def plot(ds: xr.Dataset, out_dir: Path, stem: str) -> list[Path]:
    """Figures of a result or a sweep, ``<stem>_<kind>.png`` (see :mod:`.plots`)."""
    from boltzphlow.apps.matrix_bte.plots import plot_all

    return plot_all(ds, Path(out_dir), stem)


JOB = Job(
    name="matrix_bte",
    config_model=MatrixBteConfig,
    run=run,
    plot=plot,
    summary=summary,
    description="conductivity from the matrix BTE (Trukhan & Protik): interband coherences, "
                "kinetic corrections, off-diagonal self-energies, each switched off in turn; "
                "σ_yx^coh against intrinsic + side jump",
    resumable=True,
)
