"""Append lines to a log at a steady rate (a separate process, like a training job).

Usage: python log_appender.py PATH RATE SECONDS [batch|line]
Every 10 ms it appends RATE/100 lines: in one write (``batch``, the default), or one write per
line (``line``: what a line-buffered logger does, one file event per line); each line carries
its sequence number and
the ``time.monotonic()`` of its write (system-wide on Linux), so a reader can compute the lag of
the newest line it shows. Prints {"lines": N, "rate": achieved lines/s} at the end.
"""

import json
import sys
import time

path, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
per_line = len(sys.argv) > 4 and sys.argv[4] == "line"
per_tick = max(1, rate // 100)
seq = 0
with open(path, "a", buffering=1 << 20) as f:
    start = time.monotonic()
    tick = 0
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        lines = []
        for _ in range(per_tick):
            lines.append(
                f"2026-11-29 08:00:00,000 INFO  seq={seq:08d} t={now:.6f} follow "
                f"epoch=9 batch={seq % 100000:05d} loss=0.123456 lr=3.0e-04 ok\n"
            )
            seq += 1
        if per_line:
            for line in lines:
                f.write(line)
                f.flush()
        else:
            f.write("".join(lines))
            f.flush()
        tick += 1
        # Pace against the start time, not the previous tick, so the rate does not drift.
        delay = start + tick * 0.01 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    elapsed = time.monotonic() - start
print(json.dumps({"lines": seq, "rate": seq / elapsed}))
