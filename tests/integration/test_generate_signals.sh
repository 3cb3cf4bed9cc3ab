#!/usr/bin/env bash
# `wattlens generate` and SIGINT while its stdout is blocked, and an ignored
# SIGINT (no timing: each step waits for a state the kernel shows in /proc):
# - Ctrl-C while a write of the text is blocked on a full pipe (`| less`,
#   which ignores the Ctrl-C and has not read yet) stops the generation with
#   exit status 130 and "stop: cancelled" once the pipe is read, not with
#   "writing the output: Interrupted system call" and exit 1; the text so far
#   arrives whole (a prefix of the uninterrupted text). --batch too, while its
#   texts are printed: all of them arrive, exit 130.
# - SIGINT ignored on entry (a background job of a script) stays ignored:
#   the generation runs to its end (exit 0, the uninterrupted text).
# Skipped (exit 77) where /proc does not show a blocked write (ptrace_scope
# 3, gVisor, a hardened /proc): sigint_blocked.py probe says so at once,
# rather than every wait running into ctest's timeout; its waits give up
# with a message of their own before that timeout.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"

# --- sigint_blocked.py itself --------------------------------------------------------------
# its probe, where /proc shows nothing (an empty one in a mount namespace): skip, at once
if [ "$(id -u)" = 0 ]; then ns=(unshare -m); else ns=(unshare -rm); fi
if "${ns[@]}" sh -c 'mount -t tmpfs none /proc' 2>/dev/null; then
  "${ns[@]}" sh -c 'mount -t tmpfs none /proc && exec python3 "$1/sigint_blocked.py" probe' sh "$WL_IT_DIR" \
    >"$tmp/probe.out" 2>&1; rc=$?
  [ $rc = 77 ] && grep -q "^SKIP: /proc does not show a write blocked on a pipe here" "$tmp/probe.out" \
    && ok "probe without /proc: skip (77), saying why" || bad "probe without /proc: exit $rc: $(cat "$tmp/probe.out")"
else
  echo "SKIP: no mount namespace, or /proc cannot be mounted over in one (the probe without /proc is not checked)"
fi
# a wait that never ends gives up, saying what it waited for (here: a sleep never writes)
python3 - >"$tmp/giveup.out" 2>&1 <<'PY'; rc=$?
import os, subprocess, sys
sys.path.insert(0, os.environ["WL_IT_DIR"])
import sigint_blocked
sigint_blocked.TRIES = 3
r, w = os.pipe()
p = subprocess.Popen(["sleep", "60"], stdout=w)
os.close(w)
sigint_blocked.sigint_when_blocked(p, r, 0, True)
PY
[ $rc = 1 ] && grep -q "^sigint_blocked: gave up after 0.3 s waiting until process [0-9]* was blocked in a write with SIGINT caught" \
  "$tmp/giveup.out" && ok "a wait that never ends gives up with its own message" \
  || bad "never blocked: exit $rc: $(cat "$tmp/giveup.out")"
python3 "$WL_IT_DIR/sigint_blocked.py" probe; rc=$?
if [ $rc = 77 ]; then echo "$pass passed, $fail failed"; [ "$fail" = 0 ] && exit 77; exit 1; fi
[ $rc = 0 ] || { bad "sigint_blocked.py probe: exit $rc"; echo "$pass passed, $fail failed"; exit 1; }

# --- the generation --------------------------------------------------------------------------

"$W" model synth --layers 1 --dim 32 --ffn 64 --heads 4 --vocab 300 --context 4096 --seed 3 \
  -o "$tmp/m.gguf" >/dev/null 2>"$tmp/err" || { echo "FAIL: synth: $(cat "$tmp/err")"; exit 1; }
GEN=(generate -m "$tmp/m.gguf" -p Once -t 1 --temp 0)

# blocked.py catch|ignore OUT ERR -- CMD...: runs CMD with stdout a pipe that
# is already full (so its first write blocks), waits until CMD is blocked in
# that write (a task's wchan is pipe_write, or its syscall is write), sends
# SIGINT, waits until the signal is no longer pending (handled, or discarded
# when ignored), then reads the pipe to its end into OUT (the filler bytes
# dropped). Prints CMD's exit status, or "never-blocked" when it ended
# before it blocked. catch: also waits until SIGINT is caught (SigCgt).
cat >"$tmp/blocked.py" <<'PY'
import errno, fcntl, os, signal, subprocess, sys, time
sys.path.insert(0, os.environ["WL_IT_DIR"])
import sigint_blocked
mode, out_path, err_path, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5:]
r, w = os.pipe()
flags = fcntl.fcntl(w, fcntl.F_GETFL)
fcntl.fcntl(w, fcntl.F_SETFL, flags | os.O_NONBLOCK)
filled = 0
for chunk in (4096, 1):
    try:
        while True:
            filled += os.write(w, b"." * chunk)
    except BlockingIOError:
        pass
fcntl.fcntl(w, fcntl.F_SETFL, flags)
# catch: SIGINT at its default for CMD to catch, even when it was ignored here on entry
sigint = signal.SIG_IGN if mode == "ignore" else signal.SIG_DFL
pre = lambda: signal.signal(signal.SIGINT, sigint)
with open(err_path, "wb") as err:
    p = subprocess.Popen(cmd, stdout=w, stderr=err, preexec_fn=pre)
os.close(w)

data = sigint_blocked.sigint_when_blocked(p, r, filled, mode == "catch")
if data is None:
    print("never-blocked")
    sys.exit(0)
with open(out_path, "wb") as f:
    f.write(data)
print(p.wait())
PY

blocked() { python3 "$tmp/blocked.py" "$@"; }

"$W" "${GEN[@]}" -n 400 >"$tmp/ref.txt" 2>"$tmp/err" && [ -s "$tmp/ref.txt" ] \
  || { echo "FAIL: reference generation: $(cat "$tmp/err")"; exit 1; }
"$W" "${GEN[@]}" -n 50 --batch 2 >"$tmp/refb.txt" 2>"$tmp/err" \
  || { echo "FAIL: reference batch: $(cat "$tmp/err")"; exit 1; }
is_prefix() { [ "$(head -c "$(wc -c <"$1")" "$2" | cmp - "$1" >/dev/null && echo y)" = y ]; }

# --- Ctrl-C while a write is blocked -----------------------------------------------------
rc=$(blocked catch "$tmp/out.txt" "$tmp/err" -- "$W" "${GEN[@]}" -n 400)
if [ "$rc" = 130 ] && grep -q "stop: cancelled" "$tmp/err" && ! grep -q "Interrupted" "$tmp/err" \
  && [ -s "$tmp/out.txt" ] && is_prefix "$tmp/out.txt" "$tmp/ref.txt"; then
  ok "SIGINT during a blocked write: exit 130, stop: cancelled, the text so far whole"
else
  bad "SIGINT during a blocked write (rc $rc, $(wc -c <"$tmp/out.txt") bytes): $(cat "$tmp/err")"
fi
rc=$(blocked catch "$tmp/out.txt" "$tmp/err" -- "$W" "${GEN[@]}" -n 50 --batch 2)
if [ "$rc" = 130 ] && ! grep -q "Interrupted" "$tmp/err" && cmp -s "$tmp/out.txt" "$tmp/refb.txt"; then
  ok "--batch: SIGINT while the texts are printed: exit 130, every text printed"
else
  bad "--batch: SIGINT while printing (rc $rc): $(cat "$tmp/err")"
fi

# --- SIGINT ignored on entry ---------------------------------------------------------------
rc=$(blocked ignore "$tmp/out.txt" "$tmp/err" -- "$W" "${GEN[@]}" -n 400)
if [ "$rc" = 0 ] && grep -q "stop: token limit" "$tmp/err" && cmp -s "$tmp/out.txt" "$tmp/ref.txt"; then
  ok "SIGINT ignored on entry stays ignored: the whole text, exit 0"
else
  bad "ignored SIGINT (rc $rc): $(cat "$tmp/err")"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
