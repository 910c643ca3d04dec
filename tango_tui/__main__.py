"""``python -m tango_tui``: the same as the ``tango-tui`` command."""

from .cli import main

raise SystemExit(main())
