#!/usr/bin/env python3
"""latency.py COUNT - read phase-log's console on stdin and time each latency mark.

The latency hook writes `BENCH-LATENCY <n> <EPOCHREALTIME>` lines; for each one that
appears here, print (stdout) the milliseconds between the hook's stamp and the moment the
line was read. Reads to the end of input, so the pipeline ends normally; exits 1 when it
did not see exactly COUNT marks (a dropped or mangled line is a failure, not a fast run).
"""

import re
import sys
import time

MARK = re.compile(rb"BENCH-LATENCY (\d+) (\d+)[.,](\d+)")


def main():
    want = int(sys.argv[1])
    seen = 0
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        now = time.time()
        if not line:
            break
        match = MARK.search(line)
        if match is None:
            continue
        stamp = float(match.group(2) + b"." + match.group(3))
        print("%.3f" % ((now - stamp) * 1000.0))
        seen += 1
    if seen != want:
        sys.stderr.write("latency.py: saw %d latency marks, expected %d\n" % (seen, want))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
