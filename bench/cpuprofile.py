"""`python bench/cpuprofile.py OUT ARGS...`: run `leadsync ARGS...` under cProfile timed by the
process's CPU clock, so waiting on the network (the emulator's work, latency) is not counted."""

from __future__ import annotations

import cProfile
import sys
import time


def main() -> None:
    out = sys.argv[1]
    sys.argv = ["leadsync", *sys.argv[2:]]
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        from leadsync import cli

        cli.main()
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
