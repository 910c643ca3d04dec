"""Trivial steps for tango-tui (a module, so worker processes of run_steps can import them)."""

from tango_tui import Step


class BenchAdd(Step):
    """Returns ``x + 1``; ``x`` may be another step's result. ``salt`` makes ids unique."""

    DETERMINISTIC = True
    CACHEABLE = True

    def run(self, x: int, salt: str = "") -> int:  # type: ignore[override]
        return x + 1
