"""The workspace library: Tango's Workspace API with a safe, watchable on-disk format.

This package never imports textual or watchdog (``tests/test_import_boundaries.py`` checks).
"""

from ._cache import MemoryStepCache, StepCache
from ._errors import (
    InvalidNameError,
    RecordError,
    RunExistsError,
    StepStateError,
    TangoTuiError,
    UnsafePickleError,
    WorkspaceError,
)
from ._executor import run_steps
from ._local import LocalWorkspace
from ._local_cache import LocalStepCache
from ._logs import file_handler
from ._memory import MemoryWorkspace
from ._model import (
    EnvironmentMetadata,
    GitMetadata,
    Owner,
    PlatformMetadata,
    Progress,
    Run,
    RunStatus,
    RunStep,
    StepInfo,
    StepReason,
    StepState,
)
from ._step import Step
from ._workspace import RunSort, StepInfoSort, Workspace

__all__ = [
    "EnvironmentMetadata",
    "GitMetadata",
    "InvalidNameError",
    "LocalStepCache",
    "LocalWorkspace",
    "MemoryStepCache",
    "MemoryWorkspace",
    "Owner",
    "PlatformMetadata",
    "Progress",
    "RecordError",
    "Run",
    "RunExistsError",
    "RunSort",
    "RunStatus",
    "RunStep",
    "Step",
    "StepCache",
    "StepInfo",
    "StepInfoSort",
    "StepReason",
    "StepState",
    "StepStateError",
    "TangoTuiError",
    "UnsafePickleError",
    "Workspace",
    "WorkspaceError",
    "file_handler",
    "run_steps",
]
