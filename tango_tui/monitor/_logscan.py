"""The forward line count of a log: a sparse checkpoint index, filled in slices.

Knowing line numbers needs every line break before a point to be counted, which for a 1 GB log
means reading the whole file once. That is never done before the first paint: the reader shows
the tail straight away (like ``less +G``) and this count runs in the background, a slice at a
time, and keeps up with appends afterwards.

A checkpoint (a line's 0-based index and its offset) is left every ``stride`` lines, and also at
a line start once ``BYTE_STRIDE`` bytes have gone by without one, so finding the number of a
line (or the line of a number) reads at most ``stride`` lines, or about 1.25 ``BYTE_STRIDE``
plus one line, from the checkpoint before it: also in a log of very long lines (progress bars
redrawn with ``\\r``).
Memory stays small: two 8-byte numbers per checkpoint (~120 KB for 7.3 M lines of 147 bytes).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass, field

__all__ = ["BYTE_STRIDE", "LineCount"]

_SUB = 8192
"""Sub-block size used to home in on a checkpoint's line break with C-speed counting."""
BYTE_STRIDE = 1024 * 1024
"""Bytes after which a line start becomes a checkpoint whatever the lines between."""


@dataclass
class LineCount:
    """How far the forward count got, and the checkpoints it left behind.

    Checkpoint ``k`` says line ``lines_at[k]`` (0-based) starts at ``offsets[k]``; the first is
    ``(0, 0)``. Everything before ``cursor`` has been counted.
    """

    stride: int = 1000
    """Lines between two checkpoints (at most)."""
    cursor: int = 0
    """Bytes counted so far (the count covers ``[0, cursor)``)."""
    newlines: int = 0
    """Line breaks in ``[0, cursor)``."""
    last_start: int = 0
    """Offset of the line after the last counted line break (the last line's start)."""
    lines_at: array[int] = field(default_factory=lambda: array("Q", [0]))
    """0-based index of each checkpoint's line."""
    offsets: array[int] = field(default_factory=lambda: array("Q", [0]))
    """Offset of each checkpoint's line."""

    def feed(self, data: bytes, base: int) -> None:
        """Count the bytes ``data`` found at offset ``base`` (which must equal ``cursor``)."""
        if base != self.cursor:
            raise ValueError(f"feed at {base}, expected {self.cursor}")
        step = max(1, BYTE_STRIDE // 4)  # pieces: a byte checkpoint lands within 1.25 strides
        for lo in range(0, len(data), step):
            self._feed(data, lo, min(len(data), lo + step), base)

    def _feed(self, data: bytes, lo: int, hi: int, base: int) -> None:
        """Count ``data[lo:hi]``: one pass of C-speed counting over sub-blocks; only in a
        sub-block where a stride checkpoint falls are line breaks located one by one
        (``bytes.find``, i.e. ``memchr``)."""
        seen = self.newlines  # line breaks before data[i]
        need = self.lines_at[-1] + self.stride  # line breaks before the next stride checkpoint
        i = lo
        while i < hi:
            stop = min(hi, i + _SUB)
            c = data.count(b"\n", i, stop)
            if seen + c < need:
                seen += c
                i = stop
                continue
            for _ in range(need - seen):  # the checkpoint's line break is in this sub-block
                i = data.find(b"\n", i) + 1
            self.lines_at.append(need)
            self.offsets.append(base + i)
            seen = need
            need += self.stride
        if seen > self.newlines:
            self.last_start = base + data.rfind(b"\n", lo, hi) + 1
        self.newlines = seen
        self.cursor = base + hi
        if self.last_start - self.offsets[-1] >= BYTE_STRIDE:
            # Long lines: leave a checkpoint by bytes (the last line start of this piece).
            self.lines_at.append(self.newlines)
            self.offsets.append(self.last_start)

    @property
    def lines(self) -> int:
        """Lines counted so far, a trailing line without a line break included."""
        return self.newlines + (1 if self.cursor > self.last_start else 0)

    def checkpoint_before(self, offset: int) -> tuple[int, int]:
        """The last checkpoint at or before ``offset``: ``(0-based line index, its offset)``."""
        k = bisect_right(self.offsets, offset) - 1
        return self.lines_at[k], self.offsets[k]

    def checkpoint_of_line(self, index: int) -> tuple[int, int] | None:
        """The last checkpoint at or before 0-based line ``index``, if counted that far."""
        if index > self.newlines:
            return None
        k = bisect_right(self.lines_at, index) - 1
        return self.lines_at[k], self.offsets[k]
