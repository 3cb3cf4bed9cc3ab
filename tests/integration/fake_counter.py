#!/usr/bin/env python3
# A fake energy counter that moves like a real one, for the integration
# tests: one process writes FILE every 5 ms (no fork per step, so a loaded
# host does not stall it for the 100 ms after which the sampler rightly
# calls a flat counter stuck, sampler.md), rewriting it in place 20 digits
# wide (no read sees a short file), the value rising by 500 uJ a step.
#
#   fake_counter.py FILE START [STEP...]
#
# It runs the steps in order, then moves until killed:
#   wait:PATH     move until PATH exists
#   move:N        move N steps
#   set:V         the value jumps to V (up or back) and moves on from there
#   garbage:S     write "garbage" (reads fail) and stop writing for S seconds
#   touch:PATH    create PATH (a command waiting for it may go on)
import os
import sys
import time

PERIOD = 0.005
STEP_UJ = 500


def main():
    path, v = sys.argv[1], int(sys.argv[2])
    steps = sys.argv[3:]
    fd = os.open(path, os.O_WRONLY)
    nxt = time.monotonic()

    def tick():
        nonlocal v, nxt
        os.pwrite(fd, b"%020d\n" % v, 0)
        v += STEP_UJ
        nxt += PERIOD
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()  # late: no burst of writes to catch up

    for st in steps:
        op, _, arg = st.partition(":")
        if op == "wait":
            while not os.path.exists(arg):
                tick()
        elif op == "move":
            for _ in range(int(arg)):
                tick()
        elif op == "set":
            v = int(arg)
        elif op == "garbage":
            os.ftruncate(fd, 0)
            os.pwrite(fd, b"garbage\n", 0)
            time.sleep(float(arg))
            nxt = time.monotonic()  # the next write covers "garbage" whole
        elif op == "touch":
            open(arg, "a").close()
        else:
            sys.exit("fake_counter.py: unknown step %r" % st)
    while True:
        tick()


if __name__ == "__main__":
    main()
