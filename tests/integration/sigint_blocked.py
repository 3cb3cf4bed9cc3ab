"""Shared by the integration tests that interrupt a wattlens blocked in a
write (test_generate_signals.sh, test_run_signal_dispositions.sh); no
timing: each step waits for a state the kernel shows in /proc.

sigint_when_blocked(p, r, filled, catch) waits until process p is blocked
in a write (a task's wchan is pipe_write, or its syscall is write) and, when
catch, SIGINT is caught (SigCgt); sends SIGINT; waits until the signal is no
longer pending (handled, or discarded when ignored); then reads the pipe r
to its end. Returns the bytes after the first `filled` (the filler), or
None when p ended before it blocked."""
import os
import signal
import time

WRITE_NR = {"x86_64": 1, "aarch64": 64, "riscv64": 64, "i686": 4, "armv7l": 4}.get(
    os.uname().machine)
SIGINT_BIT = 1 << (signal.SIGINT - 1)
TRIES = 6000  # 0.1 s each: up to ~10 minutes for a slow (sanitizer) build


def status_mask(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def blocked_in_write(pid):
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/wchan") as f:
                if f.read().endswith("pipe_write"):
                    return True
            with open(f"/proc/{pid}/task/{t}/syscall") as f:
                if WRITE_NR is not None and f.read().split()[0] == str(WRITE_NR):
                    return True
        except (OSError, IndexError):
            pass
    return False


def sigint_when_blocked(p, r, filled, catch):
    for _ in range(TRIES):
        if p.poll() is not None:
            break
        if blocked_in_write(p.pid) and (not catch or status_mask(p.pid, "SigCgt") & SIGINT_BIT):
            break
        time.sleep(0.1)
    if p.poll() is not None:
        return None
    p.send_signal(signal.SIGINT)
    for _ in range(TRIES):
        pending = status_mask(p.pid, "SigPnd") | status_mask(p.pid, "ShdPnd")
        if p.poll() is not None or not pending & SIGINT_BIT:
            break
        time.sleep(0.1)
    data = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
    return data[filled:]
