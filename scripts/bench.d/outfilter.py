#!/usr/bin/env python3
"""The log-throughput baseline: DevStack's tools/outfilter.py, written for this suite from
docs/devstack.md §7 (the -o path that stack.sh uses for its log file).

For each line of stdin: drop it if it contains `set +o` or `xtrace` anywhere; unless it
already starts with a `YYYY-MM-DD HH:MM:SS?mmm |` stamp, prefix the current UTC time
truncated to milliseconds as `YYYY-MM-DD HH:MM:SS.mmm | `; with -o, append it to FILE as
UTF-8 and flush (the file is opened unbuffered, as outfilter opens it); with -v, also write
it to stdout and flush (-b: stdout unstamped). A final partial line passes through at EOF.
"""

import argparse
import datetime
import re
import sys

IGNORE_LINES = re.compile(r"(set \+o|xtrace)")
HAS_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}.\d{3} \|")


def main():
    parser = argparse.ArgumentParser(description="Filter and timestamp a log stream")
    parser.add_argument("-o", "--outfile", default=None, help="append the log to FILE")
    parser.add_argument("-v", "--verbose", action="store_true", help="echo to stdout")
    parser.add_argument("-b", "--no-timestamp", action="store_true",
                        help="stdout lines without the stamp")
    opts = parser.parse_args()

    outfile = open(opts.outfile, "ab", 0) if opts.outfile else None
    try:
        for line in iter(sys.stdin.readline, ""):
            if IGNORE_LINES.search(line):
                continue
            if HAS_DATE.search(line) is None:
                now = datetime.datetime.now(datetime.timezone.utc)
                ts_line = "%s | %s" % (now.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], line)
            else:
                ts_line = line
            if opts.verbose:
                sys.stdout.write(line if opts.no_timestamp else ts_line)
                sys.stdout.flush()
            if outfile:
                outfile.write(ts_line.encode("utf-8"))
                outfile.flush()
    except KeyboardInterrupt:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
