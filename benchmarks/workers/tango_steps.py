"""Trivial steps for ai2-tango 1.3.2 (importable by `tango run -i tango_steps` subprocesses)."""

from tango import Step


@Step.register("bench_add")
class BenchAdd(Step):
    """Returns ``x + 1``; ``x`` may be another step's result. ``salt`` makes ids unique."""

    DETERMINISTIC = True
    CACHEABLE = True

    def run(self, x: int, salt: str = "") -> int:  # type: ignore[override]
        return x + 1
