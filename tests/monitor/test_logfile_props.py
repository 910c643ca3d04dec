"""LogFile against a naive whole-file reader, on random files (hypothesis).

Each file is checked twice: with the real block sizes, and with tiny ones so that line breaks,
multibyte characters, ``\\r\\n`` pairs and "long" lines all fall across block and chunk edges.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tango_tui.monitor import _lognumbers, _logread, _logscan, _logsearch, logfile
from tango_tui.monitor._logtext import cut_utf8, display_text
from tango_tui.monitor.logfile import LogFile

PIECES = [
    b"a",
    b"b",
    b"Z",
    b" ",
    b"\t",
    b"\r",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"\xf0\x9f\x99\x82",
    b"\xff",
    b"\xe2\x82",
    b"\x1b[31m",
    b"\x00",
    b"err",
    b"ERROR",
]

line_bytes = st.lists(st.sampled_from(PIECES), max_size=30).map(b"".join)
files = st.tuples(
    st.lists(line_bytes, max_size=40),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),  # trailing line break
).map(lambda t: t[1].join(t[0]) + (t[1] if t[2] and t[0] else b""))


@contextlib.contextmanager
def block_sizes(small: bool) -> Iterator[int]:
    """Shrink every block/chunk size so edges fall everywhere; yields the display limit."""
    if not small:
        yield _logread.DISPLAY_LIMIT
        return
    with contextlib.ExitStack() as stack:
        for target, name, value in [
            (_logread, "BLOCK", 16),
            (_logread, "BIG_BLOCK", 40),
            (_logread, "DISPLAY_LIMIT", 20),
            (_logsearch, "CHUNK", 24),
            (_logsearch, "_OVERLAP", 8),
            (_lognumbers, "SCAN_CHUNK", 7),
            (_logscan, "_SUB", 5),
            (_logscan, "BYTE_STRIDE", 11),
        ]:
            stack.enter_context(mock.patch.object(target, name, value))
        yield 20


def naive(data: bytes, limit: int) -> list[tuple[int, int, str, bool, bytes]]:
    """(offset, end, display text, complete, raw) per line, the obvious way."""
    out = []
    pos = 0
    while pos < len(data):
        j = data.find(b"\n", pos)
        end = j + 1 if j >= 0 else len(data)
        body = data[pos:end]
        content = body[:-1] if j >= 0 else body
        if len(content) > limit:
            text = (
                display_text(cut_utf8(content, limit))
                + f" …[line cut: {len(content):,} bytes in all]"
            )
        else:
            text = display_text(content[:-1] if content.endswith(b"\r") else content)
        out.append((pos, end, text, j >= 0, body))
        pos = end
    return out


def as_tuples(lines: list[logfile.Line]) -> list[tuple[int, int, str, bool]]:
    return [(ln.offset, ln.end, ln.text, ln.complete) for ln in lines]


def expected(ref: list[tuple[int, int, str, bool, bytes]]) -> list[tuple[int, int, str, bool]]:
    return [r[:4] for r in ref]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("props")


@pytest.mark.parametrize("small", [False, True], ids=["real-blocks", "tiny-blocks"])
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=files, pick=st.randoms(use_true_random=False))
def test_reader_matches_naive(workdir: Path, small: bool, data: bytes, pick) -> None:
    path = workdir / "random.log"
    path.write_bytes(data)
    with block_sizes(small) as limit, LogFile(path, checkpoint_every=3) as log:
        ref = naive(data, limit)
        n = len(ref)
        assert log.size == len(data)
        assert as_tuples(log.lines_after(0, n + 5)) == expected(ref)
        k = pick.randint(0, n + 1)
        assert as_tuples(log.tail(k)) == expected(ref[max(0, n - k) :] if k else [])
        # Walking line by line both ways visits the same lines.
        walk, pos = [], 0
        while nxt := log.lines_after(pos, 1):
            walk.append(nxt[0])
            pos = nxt[0].end
        assert as_tuples(walk) == expected(ref)
        if n:
            i = pick.randrange(n)
            assert as_tuples(log.lines_before(ref[i][0], 3)) == expected(ref[max(0, i - 3) : i])
            byte = pick.randrange(len(data))
            holder = next(r for r in ref if r[0] <= byte < r[1])
            line = log.line_at(byte)
            assert line is not None and (line.offset, line.end) == holder[:2]
        assert log.line_at(len(data)) is None
        # The forward count: line count, line numbers, "go to line".
        assert log.line_count is None or not data
        assert log.scan(max_bytes=1) in (True, False)
        assert log.scan() is True
        assert log.line_count == n
        for number, r in enumerate(ref, start=1):
            assert log.line_number_of(r[0]) == number
            assert log.line_number_of(pick.randrange(r[0], r[1])) == number
            assert log.offset_of_line(number) == r[0]
        assert log.offset_of_line(n + 1) is None
        # Moving by a number of lines without the count ("+N"/"-N"), clamped at both ends.
        if n:
            i, k = pick.randrange(n), pick.randint(-n - 1, n + 1)
            assert log.skip(ref[i][0], k) == ref[max(0, min(n - 1, i + k))][0]


def search_ref(ref, pattern: re.Pattern[str], start: int, backwards: bool) -> int | None:
    hits = [r[0] for r in ref if pattern.search(r[4].decode("utf-8", "replace"))]
    if backwards:
        before = [h for h in hits if h < start]
        return before[-1] if before else None
    after = [h for h in hits if h >= start]
    return after[0] if after else None


@pytest.mark.parametrize("small", [False, True], ids=["real-blocks", "tiny-blocks"])
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=files,
    needle=st.sampled_from(["a", "ab", "err", "ERROR", "é", "€z", "b a", "zz", "^a", "b$"]),
    case_sensitive=st.booleans(),
    backwards=st.booleans(),
    pick=st.randoms(use_true_random=False),
)
def test_search_matches_naive(
    workdir: Path,
    small: bool,
    data: bytes,
    needle: str,
    case_sensitive: bool,
    backwards: bool,
    pick,
) -> None:
    path = workdir / "search.log"
    path.write_bytes(data)
    regex = needle.startswith("^") or needle.endswith("$")
    if regex and small and any(len(line) > 20 for line in data.split(b"\n")):
        # Documented limit: inside a line longer than a search chunk, ^ and $ may match at the
        # edges of the chunk windows.
        return
    with block_sizes(small) as limit, LogFile(path) as log:
        ref = naive(data, limit)
        starts = [r[0] for r in ref] + [len(data)]
        start = pick.choice(starts)
        flags = re.MULTILINE | (0 if case_sensitive else re.IGNORECASE)
        compiled = re.compile(needle if regex else re.escape(needle), flags)
        want = search_ref(ref, compiled, start, backwards)
        got = log.search(
            needle, start, backwards=backwards, regex=regex, case_sensitive=case_sensitive
        )
        assert (got.offset if got else None) == want
        # Counting the matching lines ("match k of m"), capped at `limit`.
        hits = [r[0] for r in ref if compiled.search(r[4].decode("utf-8", "replace"))]
        cap = pick.randint(1, len(hits) + 2)
        found: list[int] = []
        covered = log.count_matches(
            needle, start, limit=cap, found=found, regex=regex, case_sensitive=case_sensitive
        )
        after = [h for h in hits if h >= start]
        assert found == after[:cap]
        assert covered == len(data) or (len(found) == cap and covered > found[-1])
