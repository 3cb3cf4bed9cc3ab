#!/usr/bin/env bash
# `wattlens run` and the dispositions of its stop signals (no timing: each
# step waits for a state the kernel shows in /proc):
# - a SIGINT ignored on entry (a background job of a script, nohup) stays
#   ignored, as `measure` leaves it: with the stop handlers in place (SIGTERM
#   caught) SIGINT is still ignored, a kill -INT does not stop the settle,
#   and SIGTERM then does (exit 143, stored as cancelled);
# - SIGINT while a note on stderr is blocked on a full pipe (`2>&1 | less`
#   not reading) lets the write finish once the pipe is read (SA_RESTART):
#   the note arrives whole, not lost to "Interrupted system call", and the
#   run stops (exit 130). Skipped where /proc does not show a blocked write
#   (sigint_blocked.py probe: ptrace_scope 3, gVisor, a hardened /proc).
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
M="$WL_TESTDATA/models/stories260K.gguf"
db="$tmp/runs.db"
# a settle that only a stop signal ends
settle=(run -m "$M" -n 4 -t 1 --settle 600 --baseline 0 --db "$db")

# mask_has PID FIELD SIGNUM: the SigIgn/SigCgt/SigPnd/ShdPnd mask of PID has SIGNUM
mask_has() {
  local mask
  mask=$(sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null)
  [ -n "$mask" ] && (( (16#$mask >> ($3 - 1)) & 1 ))
}

# --- SIGINT ignored on entry ----------------------------------------------------------------
(trap '' INT; exec "$WATTLENS" "${settle[@]}") >/dev/null 2>"$tmp/ign.err" &
pid=$!
if ! wait_catches $pid 15; then
  bad "run never caught SIGTERM: $(cat "$tmp/ign.err")"
else
  if mask_has $pid SigIgn 2 && ! mask_has $pid SigCgt 2; then
    ok "SIGINT ignored on entry stays ignored (SIGTERM caught)"
  else
    bad "SIGINT ignored on entry is caught by run"
  fi
  kill -INT $pid
  # an ignored signal is dropped when sent; a caught one is handled (not pending)
  for _ in $(seq 1 600); do
    mask_has $pid SigPnd 2 || mask_has $pid ShdPnd 2 || break
    sleep 0.1
  done
  if mask_has $pid SigCgt 15; then
    ok "kill -INT of a run ignoring SIGINT: the settle goes on"
  else
    bad "kill -INT of a run ignoring SIGINT: it stopped"
  fi
  kill -TERM $pid
fi
wait $pid; rc=$?
[ $rc = 143 ] && grep -q "stored as cancelled" "$tmp/ign.err" \
  && ok "then SIGTERM stops it: exit 143, stored as cancelled" \
  || bad "SIGTERM after an ignored SIGINT: exit $rc: $(cat "$tmp/ign.err")"

# --- SIGINT while a note on stderr is blocked -----------------------------------------------
# blocked_note.py ROOM ERR -- CMD...: runs CMD with stderr a pipe with ROOM
# bytes free (its first note, the "loading" line, fits; the next blocks),
# waits until CMD is blocked in a write with SIGINT caught (SigCgt), sends
# SIGINT, waits until it is no longer pending, then reads the pipe to its
# end into ERR (the filler dropped). Prints CMD's exit status, or
# "never-blocked" when it ended before it blocked.
cat >"$tmp/blocked_note.py" <<'PY'
import fcntl, os, signal, subprocess, sys, time
sys.path.insert(0, os.environ["WL_IT_DIR"])
import sigint_blocked
room, err_path, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[4:]
PAGE = 4096
r, w = os.pipe()
flags = fcntl.fcntl(w, fcntl.F_GETFL)
fcntl.fcntl(w, fcntl.F_SETFL, flags | os.O_NONBLOCK)
filled = 0
try:
    while True:  # whole pages: every slot of the pipe full
        filled += os.write(w, b"." * PAGE)
except BlockingIOError:
    pass
# one slot free again, then a page with ROOM bytes left, which the first
# note fills by merging into it
assert len(os.read(r, PAGE)) == PAGE
filled -= PAGE
filled += os.write(w, b"." * (PAGE - room))
fcntl.fcntl(w, fcntl.F_SETFL, flags)
with open(os.devnull, "wb") as null:
    p = subprocess.Popen(cmd, stdout=null, stderr=w)
os.close(w)

data = sigint_blocked.sigint_when_blocked(p, r, filled, True)
if data is None:
    print("never-blocked")
    sys.exit(0)
with open(err_path, "wb") as f:
    f.write(data)
print(p.wait())
PY
loading="wattlens run: loading $M"
room=$(( ${#loading} + 1 ))
python3 "$WL_IT_DIR/sigint_blocked.py" probe; rc=$?
if [ $rc = 77 ]; then
  : # (the probe said SKIP and why)
elif [ $rc != 0 ]; then
  bad "sigint_blocked.py probe: exit $rc"
else
  rc=$(env --default-signal=INT python3 "$tmp/blocked_note.py" "$room" "$tmp/blk.err" -- \
    "$WATTLENS" "${settle[@]}")
  if [ "$rc" = 130 ] && head -1 "$tmp/blk.err" | grep -qxF "$loading" \
    && grep -qx "wattlens run: settling 600.0 s, then measuring idle power for 0.0 s" "$tmp/blk.err" \
    && ! grep -q "Interrupted" "$tmp/blk.err"; then
    ok "SIGINT during a blocked note: the note whole, then exit 130"
  else
    bad "SIGINT during a blocked note (rc $rc): $(cat "$tmp/blk.err")"
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
