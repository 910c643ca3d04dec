"""What the log pane's "go to" bar accepts: ``N``, ``+N``/``-N``, ``N%``, ``$``/``end``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["GoTo", "parse_goto"]

HINT = "N: line N, +N/-N: down/up N lines, N%: that far into the file, $: the end"

_NUMBER = re.compile(r"([+-]?)(\d[\d,_]*)")
_PERCENT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*%")


@dataclass(frozen=True)
class GoTo:
    """Where to go."""

    kind: Literal["line", "relative", "fraction", "end"]
    """``line``: 1-based line ``value``; ``relative``: ``value`` lines from the top line;
    ``fraction``: ``value`` (0.0-1.0) of the file's bytes; ``end``: the last line."""
    value: float = 0
    """The number, as the kind says."""


def parse_goto(text: str) -> GoTo:
    """Read what was typed in the go-to bar; ``ValueError`` naming the input if it is not a place.

    >>> parse_goto("1,200")
    GoTo(kind='line', value=1200)
    >>> parse_goto("-20"), parse_goto("50%"), parse_goto("$")
    (GoTo(kind='relative', value=-20), GoTo(kind='fraction', value=0.5), GoTo(kind='end', value=0))
    """
    typed = text.strip().lower()
    if typed in ("$", "end"):
        return GoTo("end")
    percent = _PERCENT.fullmatch(typed)
    if percent:
        value = float(percent.group(1))
        if value > 100:
            raise ValueError(f"{text.strip()!r}: a percentage goes up to 100%")
        return GoTo("fraction", value / 100)
    number = _NUMBER.fullmatch(typed)
    if number:
        value = int(number.group(2).replace(",", "").replace("_", ""))
        if number.group(1):
            return GoTo("relative", value if number.group(1) == "+" else -value)
        return GoTo("line", max(1, value))
    raise ValueError(f"{text.strip()!r} is not a place to go to ({HINT})")
