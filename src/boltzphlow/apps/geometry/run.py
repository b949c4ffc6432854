"""Run a ``geometry`` config: build the model, plan, run the tasks with checkpoints, resume."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from boltzphlow import bands as bands_lib
from boltzphlow.apps.geometry.config import TASKS, GeometryConfig
from boltzphlow.apps.geometry.plan import Plan, build_hamiltonian, make_plan, model_attrs
from boltzphlow.apps.geometry.tasks import TASK_FUNCTIONS, units_of, weyl_nodes
from boltzphlow.bands.hamiltonian import Hamiltonian
from boltzphlow.errors import ResourceError, SolverError, shorten
from boltzphlow.jobs import RunContext, check_resumable, resume_refusal

__all__ = ["run"]


def _expected(cfg: GeometryConfig, h: Hamiltonian, plan: Plan) -> dict[str, list[tuple]]:
    """Per task: ``(variable, dims, shape)`` and ``(coordinate, values)`` a result must have."""
    n = h.n_bands
    out: dict[str, list[tuple]] = {}
    if cfg.chern is not None:
        chosen = list(range(n)) if cfg.chern.bands is None else cfg.chern.bands
        out["chern"] = [("chern_number", ("chern_band",), (len(chosen),)),
                        ("chern_band", np.asarray(chosen))]
    if cfg.ahc is not None:
        mu = plan.mu["ahc"]
        out["ahc"] = [("ahc", ("mu",), mu.shape), ("mu", mu)]
    if cfg.curvature_map is not None:
        _, _, _, names, k1, k2 = plan.curvature_map
        out["curvature_map"] = [("berry_curvature", (names[1], names[0]), (len(k2), len(k1))),
                                (names[0], k1), (names[1], k2)]
    if cfg.bands is not None:
        _, ticks, distance, _ = plan.path
        out["bands"] = [("band_energy", ("path", "band"), (len(distance), n)),
                        ("path_distance", distance)]
    for task, prefix, coord in (("cme", "cme_per_band", "cme_mu"),
                                ("chiral_anomaly", "chiral_anomaly_per_band", "anomaly_mu")):
        if getattr(cfg, task) is not None:
            mu = plan.mu[task]
            out[task] = [(prefix, (coord, "band"), (mu.size, n)), (coord, mu)]
    return out


def _resume_from(previous: xr.Dataset | None, attrs: dict[str, Any], tasks: list[str],
                 expected: dict[str, list[tuple]]) -> tuple[list[str], xr.Dataset]:
    """The finished tasks of a partial result, after checking that it belongs to the config.

    Raises
    ------
    InputError
        ``"--resume: ..."`` when the file holds another model, other model parameters, other
        tasks, or variables whose dimensions, shapes or coordinates differ from the config's.
    """
    if previous is None:
        return [], xr.Dataset()

    check_resumable(previous, "geometry")
    stored = previous.attrs
    for key in ("hamiltonian", "parameters", "n_bands", "dim"):
        if str(stored.get(key)) != str(attrs[key]):
            raise resume_refusal(f"attribute {key} is {shorten(stored.get(key))}, the config "
                                 f"gives {shorten(attrs[key])}")
    done = str(stored.get("tasks_done", "")).split()
    if done != tasks[:len(done)]:
        raise resume_refusal(f"finished tasks {shorten(done)} are not a start of {tasks}")
    for task in done:
        for item in expected[task]:
            if len(item) == 3:
                name, dims, shape = item
                if name not in previous.data_vars:
                    raise resume_refusal(f"variable {name} of task {task} is missing")
                var = previous[name]
                if var.dims != dims or var.shape != shape:
                    raise resume_refusal(f"{name} has dimensions {var.dims} {var.shape}, the "
                                         f"config gives {dims} {shape}")
            else:
                name, values = item
                if name not in previous.coords or not np.array_equal(
                        np.asarray(previous[name].values), values):
                    raise resume_refusal(f"coordinate {name} differs from the config's")
    return done, xr.Dataset(previous.data_vars, coords=previous.coords)


def run(cfg: GeometryConfig, context: RunContext) -> xr.Dataset:
    """Build the model, check the config against it and run its tasks, checkpointing after each.

    Every check (:func:`make_plan`; on resume, :func:`_resume_from`) comes before the first
    ``context.progress`` call.  On resume, the tasks recorded in the partial result's
    ``tasks_done`` attribute are taken from it and the others computed.
    """
    h = build_hamiltonian(cfg)
    plan = make_plan(cfg, h)
    units = units_of(cfg, h)
    tasks = [task for task in TASKS if getattr(cfg, task) is not None]
    attrs = {
        "model": "geometry",
        **model_attrs(cfg, h),
        "lattice_model": int(h.periodic),
        "mesh": list(cfg.mesh),
        "tasks": " ".join(tasks),
        "energy_unit": units["energy"],
        "length_unit": units["length"],
        "conventions": ("hbar = e = 1, lattice constant 1; k in 1/" + units["length"]
                        + ", energies in " + units["energy"] + "; sigma in " + units["sigma"]
                        + "; CME alpha in " + units["cme"] + "; chiral anomaly in e^3/h^2"),
    }
    if plan.warnings:
        attrs["resolution_warnings"] = " | ".join(plan.warnings)
    done, ds = _resume_from(context.resume_from, attrs, tasks, _expected(cfg, h, plan))
    if isinstance(h, bands_lib.WeylLattice) and "weyl_node_chirality" not in ds:
        ds.update(weyl_nodes(h, units))
    context.progress(len(done), len(tasks))
    for task in tasks:
        if task in done:
            continue
        ds = ds.copy()  # the checkpointed Dataset is left as it was
        try:
            ds.update(TASK_FUNCTIONS[task](cfg, h, units, plan))
        except ResourceError as exc:  # an allocation inside a library call, e.g. refinement
            raise ResourceError(f"{task}: {exc}") from None
        except ValueError as exc:  # a numerical method failed on this model: name the task
            raise SolverError(f"{task}: {exc}") from None
        done.append(task)
        ds.attrs = {**attrs, "tasks_done": " ".join(done)}
        context.progress(len(done), len(tasks))
        if len(done) < len(tasks):
            context.checkpoint(ds.copy())
    ds.attrs = {**attrs, "tasks_done": " ".join(done)}
    return ds


