"""Benchmarks for tango-tui, side by side with ai2-tango 1.3.2 and toolong 1.5.

Run them with ``./dev bench`` (or ``python -m benchmarks [--quick]``). They print figures and
write JSON to ``benchmarks/results/``; they are not tests and assert nothing about time.

Layout:
    ``_harness.py``     reference virtualenvs, fresh-process workers, statistics, the table
    ``bench_library.py``  the workspace library, ours vs ai2-tango (A/B, one process per sample)
    ``bench_dashboard.py``  the dashboard through the real app (headless), ours vs toolong
    ``workers/``        small standalone scripts run by each side's own interpreter
"""
