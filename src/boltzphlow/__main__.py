"""``python -m boltzphlow``: the command line (see :mod:`boltzphlow.cli`)."""

import sys

try:
    from boltzphlow.cli import main
except KeyboardInterrupt:  # Ctrl-C before the command line has installed its handlers
    sys.stderr.write("boltzphlow: interrupted\n")
    raise SystemExit(130) from None

raise SystemExit(main())
