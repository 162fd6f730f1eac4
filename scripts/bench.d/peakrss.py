#!/usr/bin/env python3
"""peakrss.py OUT COMMAND [ARG...] - run COMMAND on this stdin and stdout, and write its
peak resident set size in KiB to OUT.

The figure is VmHWM of COMMAND's own process (not its children's), read from
/proc/PID/status every few milliseconds until it exits: the high-water mark only grows, so
the last reading is the peak up to a few ms before exit. (wait4's ru_maxrss would be no
better here: it counts the children COMMAND waited for, and the memory of this Python
process from before the exec.) Exits with COMMAND's status (128+N when a signal ended it).
"""

import os
import subprocess
import sys
import time


def hwm_kib(pid):
    try:
        with open("/proc/%d/status" % pid, "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def main():
    out, command = sys.argv[1], sys.argv[2:]
    child = subprocess.Popen(command)
    # Let the command own the pipe ends alone, so its peers see EOF and EPIPE as they
    # would without this wrapper.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    peak = 0
    while True:
        reading = hwm_kib(child.pid)
        if reading is not None:
            peak = max(peak, reading)
        pid, status = os.waitpid(child.pid, os.WNOHANG)
        if pid == child.pid:
            break
        time.sleep(0.005)
    with open(out, "w") as f:
        f.write("%d\n" % peak)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
