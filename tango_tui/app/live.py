"""A thin adapter between the monitor's watcher thread and the Textual app.

The watcher calls :meth:`ChangeInbox.deliver` on its own thread. That method only records the
change under a lock and posts a :class:`~tango_tui.app.messages.WorkspaceChanged` message, which
never blocks (calling back into the app synchronously from a watchdog handler can deadlock with
``observer.stop()``). The app drains the inbox on its event loop.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from textual.message_pump import MessagePump

from .messages import Changes, WorkspaceChanged

log = logging.getLogger(__name__)


class ChangeInbox:
    """Accumulates watcher batches between two refreshes of the screen."""

    def __init__(self, target: MessagePump) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._pending = Changes()

    def deliver(self, batch: Any) -> None:
        """Record a ``ChangeBatch`` (any object with runs/steps/files/rescan) and wake the app.

        Called on the watcher thread.
        """
        change = Changes(
            runs=set(getattr(batch, "runs", ()) or ()),
            steps=set(getattr(batch, "steps", ()) or ()),
            files={Path(p) for p in (getattr(batch, "files", ()) or ())},
            rescan=bool(getattr(batch, "rescan", False)),
            all_steps=bool(getattr(batch, "all_steps", False)),
        )
        with self._lock:
            self._pending.merge(change)
        self._target.post_message(WorkspaceChanged())

    def drain(self) -> Changes:
        """Take everything recorded so far (called on the event loop)."""
        with self._lock:
            pending, self._pending = self._pending, Changes()
        return pending
