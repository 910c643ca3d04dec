"""``python -m tango_tui.demo DIR``: run the example pipeline into DIR in the foreground."""

import sys

from .pipeline import main

raise SystemExit(main(sys.argv[1:]))
