"""Read-only access to workspaces written by the original ai2-tango 1.x (without Tango installed).

``TangoWorkspace(dir)`` (registered as ``tango1``, so ``Workspace.from_url("tango1:///path")``)
reads Tango's LocalWorkspace layout and returns tango-tui's model. Step records, which Tango keeps
as pickles, are decoded by a restricted unpickler that builds plain data only and refuses
everything else (:class:`~tango_tui.core.UnsafePickleError`). Nothing is ever written, locked or
created in the workspace.
"""

from ._convert import Tango1StepInfo
from ._db import Problem, Snapshot, StepInfoTable
from ._detect import is_tango1_workspace
from ._locks import is_network_fs, lock_held_per_proc_locks, open_for_writing_by_some_process
from ._logs import LogRecordHead, RunLogScanner, RunLogState, lines_for_step, parse_head
from ._progress import parse_bar, progress_from_log
from ._unpickle import ALLOWED_GLOBALS, StandIn, restricted_loads
from ._workspace import TangoWorkspace

__all__ = [
    "ALLOWED_GLOBALS",
    "LogRecordHead",
    "Problem",
    "RunLogScanner",
    "RunLogState",
    "Snapshot",
    "StandIn",
    "StepInfoTable",
    "Tango1StepInfo",
    "TangoWorkspace",
    "is_network_fs",
    "is_tango1_workspace",
    "lines_for_step",
    "lock_held_per_proc_locks",
    "open_for_writing_by_some_process",
    "parse_bar",
    "parse_head",
    "progress_from_log",
    "restricted_loads",
]
