"""``python -m boltzphlow``: the command line (see :mod:`boltzphlow.cli`)."""

from boltzphlow.cli import main

raise SystemExit(main())
