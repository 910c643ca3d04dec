"""tango-tui: a workspace library with AI2 Tango's Workspace API, and a live terminal dashboard.

The public API is re-exported here; everything else lives in private modules.
"""

from .core import *
from .core import __all__ as _core_all

__version__ = "0.1.0"

# Built from the core's list so the two cannot drift (static checkers see the star import).
__all__ = [*_core_all, "__version__"]  # noqa: PLE0604
