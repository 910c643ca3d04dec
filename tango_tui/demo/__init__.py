"""The bundled example pipeline behind ``tango-tui demo``.

:mod:`.pipeline` defines the steps (real :class:`tango_tui.Step` subclasses) and runs them with
``run_steps(..., parallelism=2)``; :mod:`.launch` starts it in a detached background process and
opens the dashboard on its workspace. ``TANGO_TUI_DEMO_SPEED`` (default 1) divides every sleep, so
tests can run the whole pipeline in a second or two.
"""
