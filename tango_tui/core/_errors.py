"""Exceptions raised by the workspace library.

Every error that concerns a file carries the offending ``path`` and a short ``problem`` so a
caller (or the dashboard) can say exactly what is wrong and where. All of them pickle cleanly,
so they survive the trip back from a worker process.
"""

from __future__ import annotations

import os
from typing import Any


class TangoTuiError(Exception):
    """Base class of every error this package raises on purpose."""


class StepStateError(TangoTuiError):
    """A step is in the wrong state for the requested transition.

    Raised, as in Tango, when starting a RUNNING or COMPLETED step, or finishing or failing a
    step that is not RUNNING.
    """

    def __init__(self, step: Any, step_state: Any, context: str | None = None):
        self.step = getattr(step, "unique_id", step)
        self.step_state = step_state
        self.context = context
        state = getattr(step_state, "value", step_state)
        msg = f"Step '{self.step}' is in unexpected state '{state}'"
        if context:
            msg += f": {context}"
        super().__init__(msg)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.step, self.step_state, self.context))


class WorkspaceError(TangoTuiError):
    """Something is wrong with a file or directory of a workspace.

    Attributes:
        path: The file or directory concerned.
        problem: What is wrong with it, in a few words.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problem))


class RecordError(WorkspaceError):
    """A metadata record is missing, torn, not JSON, of an unknown format or version."""


class RunExistsError(WorkspaceError):
    """``register_run`` was given the name of a run that already exists (Tango wipes it)."""


class InvalidNameError(TangoTuiError, ValueError):
    """A run or step name cannot be stored safely (path separators, ``..``, control characters)."""

    def __init__(self, name: str, problem: str):
        self.name = name
        self.problem = problem
        super().__init__(f"invalid name {name!r}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.problem))


class UnsafePickleError(WorkspaceError):
    """A pickle in a foreign (Tango) workspace asked for something outside the allow-list."""
