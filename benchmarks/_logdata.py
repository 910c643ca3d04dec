"""Log files for the dashboard benchmarks: a big one made fast, and a paced appender."""

from __future__ import annotations

import os
from pathlib import Path

LINE = (
    "2026-11-29 07:{m:02d}:{s:02d},{ms:03d} INFO  seq={seq:08d} train.loop epoch={e} "
    "batch={b:05d} loss={loss:.6f} lr=3.0e-04 grad_norm={g:.3f} tokens/s={t:5d} ok\n"
)
"""About 147 bytes, like the issue's 1 GB / 7.3 M-line reference log."""

LAST = "2026-11-29 08:00:00,000 INFO  LAST-LINE-OF-THE-LOG {marker} the end of the big log\n"


def make_big_log(path: Path, size: int, marker: str) -> int:
    """Write a log of about ``size`` bytes whose final line carries ``marker``; return lines.

    A 10,000-line block is formatted once and written repeatedly (the content of the middle does
    not matter to a viewer that indexes line breaks; the size and the line length do).
    """
    block_lines = [
        LINE.format(
            m=i // 600 % 60,
            s=i // 10 % 60,
            ms=i % 1000,
            seq=i,
            e=i // 1000,
            b=i % 100_000,
            loss=1 / (i + 1),
            g=(i % 97) / 10,
            t=10_000 + i % 50_000,
        )
        for i in range(10_000)
    ]
    block = "".join(block_lines).encode()
    lines = 0
    with open(path, "wb") as f:
        written = 0
        while written + len(block) < size:
            f.write(block)
            written += len(block)
            lines += len(block_lines)
        f.write(LAST.format(marker=marker).encode())
        lines += 1
        f.flush()
        os.fsync(f.fileno())
    return lines
