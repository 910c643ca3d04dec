"""The workspace library: Tango's Workspace API with a safe, watchable on-disk format.

This package never imports textual or watchdog (``tests/test_import_boundaries.py`` checks).
"""

from ._errors import (
    InvalidNameError,
    RecordError,
    RunExistsError,
    StepStateError,
    TangoTuiError,
    UnsafePickleError,
    WorkspaceError,
)
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
from ._workspace import RunSort, StepInfoSort, Workspace

__all__ = [
    "EnvironmentMetadata",
    "GitMetadata",
    "InvalidNameError",
    "Owner",
    "PlatformMetadata",
    "Progress",
    "RecordError",
    "Run",
    "RunExistsError",
    "RunSort",
    "RunStatus",
    "RunStep",
    "StepInfo",
    "StepInfoSort",
    "StepReason",
    "StepState",
    "StepStateError",
    "TangoTuiError",
    "UnsafePickleError",
    "Workspace",
    "WorkspaceError",
]
