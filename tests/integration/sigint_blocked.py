"""Shared by the integration tests that interrupt a wattlens blocked in a
write (test_generate_signals.sh, test_run_signal_dispositions.sh); no
timing: each step waits for a state the kernel shows in /proc.

sigint_when_blocked(p, r, filled, catch) waits until process p is blocked
in a write (a task's wchan is pipe_write, or its syscall is write) and, when
catch, SIGINT is caught (SigCgt); sends SIGINT; waits until the signal is no
longer pending (handled, or discarded when ignored); then reads the pipe r
to its end. Returns the bytes after the first `filled` (the filler), or
None when p ended before it blocked. A wait that never ends gives up after
about 4 minutes (before ctest's 10-minute timeout) with a message of its
own (SystemExit).

Run as a program, `python3 sigint_blocked.py probe` tells whether this
/proc shows a write blocked on a pipe at all (ptrace_scope 3, gVisor or a
hardened /proc may hide wchan and syscall): exit 0, or exit 77 after a
SKIP line saying why, which the callers take as "skip" (ctest's code)."""
import os
import signal
import subprocess
import sys
import time

WRITE_NR = {"x86_64": 1, "aarch64": 64, "riscv64": 64, "i686": 4, "armv7l": 4}.get(
    os.uname().machine)
SIGINT_BIT = 1 << (signal.SIGINT - 1)
TRIES = 2400  # 0.1 s each: ~4 minutes for a slow (sanitizer) build, less than ctest's 600 s
SKIP = 77  # ctest's SKIP_RETURN_CODE for the scripts


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


def give_up(what, p):
    raise SystemExit(f"sigint_blocked: gave up after {TRIES / 10:g} s waiting until process {p.pid} "
                     f"{what} (blocked in a write: {blocked_in_write(p.pid)}, SigCgt "
                     f"{status_mask(p.pid, 'SigCgt'):#x})")


def sigint_when_blocked(p, r, filled, catch):
    for _ in range(TRIES):
        if p.poll() is not None:
            break
        if blocked_in_write(p.pid) and (not catch or status_mask(p.pid, "SigCgt") & SIGINT_BIT):
            break
        time.sleep(0.1)
    else:
        p.kill()
        give_up("was blocked in a write" + (" with SIGINT caught" if catch else ""), p)
    if p.poll() is not None:
        return None
    p.send_signal(signal.SIGINT)
    for _ in range(TRIES):
        pending = status_mask(p.pid, "SigPnd") | status_mask(p.pid, "ShdPnd")
        if p.poll() is not None or not pending & SIGINT_BIT:
            break
        time.sleep(0.1)
    else:
        p.kill()
        give_up("no longer had SIGINT pending", p)
    data = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
    return data[filled:]


def state(pid):
    """The one-letter state of pid (/proc/PID/stat), "" when unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def probe():
    """0 when /proc shows a write blocked on a full pipe as blocked_in_write
    does, else SKIP after saying why. The writer tells when it starts its
    writes (a byte on a second pipe); from then on it only writes, so once
    it sleeps (state S) it is blocked in a write: no time limit needed."""
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()
    code = (f"import os\nos.write({ready_w}, b'r')\nos.close({ready_w})\n"
            "while True:\n    os.write(1, b'.' * 65536)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=w, pass_fds=(ready_w,))
    os.close(w)
    os.close(ready_w)
    try:
        if os.read(ready_r, 1) != b"r":
            sys.exit(f"sigint_blocked probe: the writer did not start (exit {p.wait()})")
        while state(p.pid) not in ("S", "", "Z", "X"):
            time.sleep(0.05)
        if state(p.pid) in ("Z", "X"):  # "": /proc shows nothing, skipped below
            sys.exit(f"sigint_blocked probe: the writer ended before blocking (exit {p.wait()})")
        if state(p.pid) == "S" and blocked_in_write(p.pid):
            return 0
        print(f"SKIP: /proc does not show a write blocked on a pipe here (wchan and syscall of "
              f"/proc/{p.pid}/task/*: hidden or unreadable): the SIGINT-during-a-blocked-write "
              f"checks cannot tell when to send it")
        return SKIP
    finally:
        p.kill()
        p.wait()
        os.close(r)
        os.close(ready_r)


if __name__ == "__main__":
    if sys.argv[1:] != ["probe"]:
        sys.exit("usage: sigint_blocked.py probe")
    sys.exit(probe())
