"""The Textual dashboard: ``make_app(path)`` builds the app the CLI runs and the tests drive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App


def _real_watcher(root: Path, callback: Any, poll_interval: float | None) -> Any:
    from tango_tui.monitor.watcher import WorkspaceWatcher

    return WorkspaceWatcher(root, callback, poll_interval=poll_interval)


def _root_of(path: str) -> Path:
    if path.startswith("local://"):
        path = path[len("local://") :]
    elif path.startswith("file://"):
        path = path[len("file://") :]
    return Path(path).expanduser().resolve()


def make_app(
    path: str,
    *,
    poll_interval: float | None = None,
    theme: str | None = None,
    source: Any = None,
    watcher_factory: Any = None,
) -> App[None]:
    """Build the dashboard on the workspace at ``path`` (a directory or ``local://`` URL).

    Args:
        path: The workspace; it may be empty or not exist yet (the app waits for runs).
        poll_interval: Poll the file system every this many seconds instead of inotify (NFS).
        theme: A Textual theme name (``textual-dark``, ``nord``, ``gruvbox``...).
        source: A ``WorkspaceSource`` to use instead of ``open_source(path)``.
        watcher_factory: ``factory(root, callback, poll_interval)`` building the watcher.

    Raises:
        WorkspaceError: If ``path`` is clearly not a workspace (``NotAWorkspaceError``).
        ValueError: If ``theme`` is not a known theme.
    """
    from .app import TangoTuiApp

    if source is None:
        from tango_tui.monitor.source import open_source

        source = open_source(path)
    root = Path(getattr(source, "root", None) or _root_of(path))
    app = TangoTuiApp(
        source,
        root,
        watcher_factory=watcher_factory or _real_watcher,
        poll_interval=poll_interval,
    )
    if theme is not None:
        if theme not in app.available_themes:
            known = ", ".join(sorted(app.available_themes))
            raise ValueError(f"unknown theme {theme!r}; known themes: {known}")
        app.theme = theme
    return app


__all__ = ["make_app"]
