"""Turning the raw bytes of one log line into text that is safe to put on a terminal.

Kept apart from the reader so the widget (or a headless printer) can use the same rules on bytes
it got elsewhere. The rules, in order:

1. A line longer than ``limit`` bytes is cut at a UTF-8 character boundary (the caller appends a
   marker); the byte offsets of the line are unaffected.
2. The bytes are decoded as UTF-8 with ``errors="replace"`` (a bad byte becomes U+FFFD).
3. ANSI escape sequences (colours, cursor moves, OSC titles/links) are removed: Tango's logs are
   plain text, and a stray cursor move must not scribble over the dashboard.
4. A carriage return inside a line (progress bars redraw with ``\\r``) keeps what a terminal
   would end up showing: the last non-empty segment.
5. Remaining control characters (C0 except tab, DEL, C1) become visible symbols (U+2400 block,
   or U+FFFD for C1), so they take one cell and do nothing. Tabs are kept for the widget.
"""

from __future__ import annotations

import re

__all__ = ["cut_utf8", "display_text"]

_ANSI = re.compile(
    r"\x1b(?:"
    r"\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement, erase
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, hyperlinks
    r"|[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS/SOS/PM/APC strings
    r"|[@-Z\\-_]"  # other two-byte escapes
    r")?"  # a lone ESC at the end of a line is dropped too
)

_SAFE = {code: 0x2400 + code for code in range(32) if code != 9}
_SAFE[0x7F] = 0x2421  # SYMBOL FOR DELETE
_SAFE.update({code: 0xFFFD for code in range(0x80, 0xA0)})


def cut_utf8(raw: bytes, limit: int) -> bytes:
    """Return at most ``limit`` bytes of ``raw``, not ending inside a UTF-8 character."""
    if len(raw) <= limit:
        return raw
    cut = raw[:limit]
    # Walk back over continuation bytes (10xxxxxx) to the lead byte of the last character; if
    # that character needs more bytes than are left, drop it whole.
    back = 1
    while back <= min(4, len(cut)) and cut[-back] & 0xC0 == 0x80:
        back += 1
    if back > len(cut):
        return cut
    lead = cut[-back]
    need = (
        2 if lead & 0xE0 == 0xC0 else 3 if lead & 0xF0 == 0xE0 else 4 if lead & 0xF8 == 0xF0 else 1
    )
    return cut[:-back] if need > back else cut


def display_text(raw: bytes) -> str:
    """Decode one line (without its line break) into text safe to display.

    Args:
        raw: The line's bytes, without the trailing ``\\n`` / ``\\r\\n``.

    Returns:
        The text, with ANSI sequences removed and control characters made visible.
    """
    text = raw.decode("utf-8", "replace")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\r" in text:
        segments = [segment for segment in text.split("\r") if segment]
        text = segments[-1] if segments else ""
    return text.translate(_SAFE)
