"""Apps: the one place where a physics model meets configs, files, plots and the command line.

One module (or subpackage) per job, each defining a :class:`boltzphlow.jobs.Job` named ``JOB``:

* a config schema derived from the model's own parameter definitions
  (:func:`boltzphlow.schema.config_model` over :func:`boltzphlow.parameters.parameter` fields),
  so names, defaults, units and meanings are written once; ``boltzphlow keys MODEL`` prints them;
* ``run(config, context) -> xarray.Dataset``: builds the model, solves, returns the result;
* ``plot(ds, out_dir, stem) -> list[Path]`` and ``summary(ds) -> str``.

A job is registered in the entry-point group ``boltzphlow.jobs`` of its package
(``superconductor = "boltzphlow.apps.superconductor:JOB"``), so the command line never changes
when a model arrives and another package can add one (``docs/extending.md``).  Apps are
imported only when their job is used: nothing here imports them.

Physics packages never import from here (a test reads the imports).
"""
