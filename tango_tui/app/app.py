"""The dashboard application: owns the workspace source and the watcher, hosts the screens."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from .live import ChangeInbox
from .messages import Changes, WorkspaceChanged
from .screens.base import LiveScreen
from .screens.help import HelpScreen
from .screens.runs import RunsScreen

log = logging.getLogger(__name__)


class TangoTuiApp(App[None]):
    """A live view of one workspace: runs, a run's steps, a step's record and logs.

    Args:
        source: The monitor's ``WorkspaceSource`` (read-only access to the workspace).
        root: The workspace directory (watched, and used to resolve relative log paths).
        watcher_factory: Builds the watcher: ``factory(root, callback, poll_interval)``.
        poll_interval: Poll every this many seconds instead of using inotify (NFS).
        reconcile_interval: Reload the visible screen this often even without events, so a
            missed event is harmless (``None`` turns it off).
    """

    CSS_PATH = "tango_tui.tcss"
    TITLE = "tango-tui"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="Leave the dashboard"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="Every key binding"),
    ]

    def __init__(
        self,
        source: Any,
        root: Path,
        *,
        watcher_factory: Callable[..., Any] | None = None,
        poll_interval: float | None = None,
        reconcile_interval: float | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        """The workspace source every screen reads through (never writes)."""
        self.root = root
        """The workspace directory."""
        self.poll_interval = poll_interval
        self.sub_title = str(root)
        self._watcher_factory = watcher_factory
        self._reconcile_interval = reconcile_interval
        self._inbox = ChangeInbox(self)
        self.watcher: Any = None
        """The running watcher, once mounted (None if it could not start)."""
        self.watch_error: str | None = None
        """Why live updates are off, if the watcher failed to start."""

    def on_mount(self) -> None:
        if self._watcher_factory is not None:
            try:
                self.watcher = self._watcher_factory(
                    self.root, self._inbox.deliver, self.poll_interval
                )
                self.watcher.start()
            except Exception as e:  # noqa: BLE001 (shown in place; the app keeps running)  # the view still works without live updates
                log.warning("watcher failed to start on %s: %s", self.root, e)
                self.watch_error = f"live updates off: {e}"
                self.watcher = None
                self.notify(self.watch_error, severity="warning", timeout=10)
        if self._reconcile_interval:
            self.set_interval(self._reconcile_interval, self._reconcile)
        self.push_screen(RunsScreen())

    async def on_unmount(self) -> None:
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            # watchdog holds its lock while our handler runs: stopping it from the event
            # loop thread could deadlock, so stop it in a thread.
            await asyncio.to_thread(watcher.stop)

    def _reconcile(self) -> None:
        self._inbox.deliver(Changes(rescan=True))

    def on_workspace_changed(self, _: WorkspaceChanged) -> None:
        changes = self._inbox.drain()
        if not changes:
            return
        active = self.screen
        for screen in self.screen_stack:
            if isinstance(screen, LiveScreen):
                screen.workspace_changed(changes, active=screen is active)

    # Watcher helpers for the screens (they tolerate a missing or failing watcher).

    def watch_steps(self, uids: Iterable[str]) -> None:
        """Ask the watcher to also watch these steps' cache directories."""
        if self.watcher is not None:
            try:
                self.watcher.watch_steps(set(uids))
            except Exception as e:  # noqa: BLE001 (shown in place; the app keeps running)
                log.warning("cannot watch steps: %s", e)

    def watch_file(self, path: Path) -> None:
        """Ask the watcher to report changes to ``path`` (a log)."""
        if self.watcher is not None:
            try:
                self.watcher.watch_file(path)
            except Exception as e:  # noqa: BLE001 (shown in place; the app keeps running)
                log.warning("cannot watch %s: %s", path, e)

    def unwatch_file(self, path: Path) -> None:
        """Stop reporting changes to ``path``."""
        if self.watcher is not None:
            try:
                self.watcher.unwatch_file(path)
            except Exception as e:  # noqa: BLE001 (shown in place; the app keeps running)
                log.warning("cannot unwatch %s: %s", path, e)

    def action_help(self) -> None:
        """Show every binding of the current screen and the app."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))
