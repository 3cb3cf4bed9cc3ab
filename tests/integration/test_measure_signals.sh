#!/usr/bin/env bash
# ctest-labels: timing (sends signals to commands under way; see Makefile)
# `wattlens measure` stopped by a signal: SIGTERM, SIGHUP and a SIGINT sent to
# wattlens alone are passed on to the command, which is waited for (never
# left running); the run is stored as cancelled with the command's own exit,
# the report is printed and wattlens exits 128 + the signal. During the idle
# baseline the command is not started at all. A terminal's Ctrl-C reaches the
# command by itself and is left to it (a complete run, as under time(1)).
set -u
: "${WATTLENS:?}"
. "$(dirname "$0")/common.sh"
# pgrep finds the measured command's processes (without it the waits would
# time out and the "no orphan" checks pass without looking)
need_tool pgrep procps
db="$tmp/runs.db"

# wait_child PID NAME: waits (up to ~30 s) until process PID has a child
# called NAME (the command, once exec'd)
wait_child() {
  for _ in $(seq 1 600); do
    pgrep -P "$1" -x "$2" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}

# the newest run of $db as "status exit_status signal stop_signal" (its extra)
last_run() {
  local id
  id=$("$WATTLENS" runs --db "$db" --json 2>/dev/null |
       python3 -c 'import json,sys; r=json.load(sys.stdin)["runs"]; print(r[0]["id"] if r else "")')
  [ -n "$id" ] || { echo none; return; }
  "$WATTLENS" export --db "$db" "$id" --format json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)["run"]
x = r["extra"] or {}
print(r["status"], x.get("exit_status"), x.get("signal"), x.get("stop_signal"))'
}

# --- SIGTERM while the command runs: passed on, waited for, stored, reported ------------------
"$WATTLENS" measure --db "$db" --json -- sleep 7.3$$ >"$tmp/term.json" 2>"$tmp/term.err" &
pid=$!
wait_child $pid sleep || bad "SIGTERM: the command never started"
kill -TERM $pid
wait $pid; rc=$?
[ $rc = 143 ] && ok "SIGTERM: exit 143" || bad "SIGTERM: exit $rc: $(cat "$tmp/term.err")"
pgrep -f "^sleep 7.3$$\$" >/dev/null && { bad "SIGTERM: the command was left running"; kill $(pgrep -f "^sleep 7.3$$\$"); } \
  || ok "SIGTERM: the command is not left running"
python3 - "$tmp/term.json" <<'PY' && ok "SIGTERM: JSON report" || bad "SIGTERM: JSON report: $(cat "$tmp/term.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["run_id"], j
assert j["started"] is True and j["stop_signal"] == 15 and j["stop_signal_name"] == "SIGTERM", j
assert j["exit_status"] == 143 and j["signal"] == 15 and j["signal_name"] == "SIGTERM", j
assert 0 < j["duration_s"] < 7, j["duration_s"]
assert j["domains"][0]["energy_j"] > 0, j["domains"]
PY
[ "$(last_run)" = "cancelled 143 15 15" ] && ok "SIGTERM: stored as cancelled with the command's status" \
  || bad "SIGTERM: stored $(last_run)"
"$WATTLENS" show --db "$db" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/term.json")" \
  >"$tmp/term.show" 2>&1
grep -q "(cancelled, measure)" "$tmp/term.show" && grep -q "^  exit       killed by signal 15 (SIGTERM)" "$tmp/term.show" \
  && grep -q "^  stopped    wattlens got SIGTERM and passed it on to the command" "$tmp/term.show" \
  && ok "SIGTERM: show says so" || bad "SIGTERM: show: $(cat "$tmp/term.show")"

# --- timeout(1) sends SIGTERM to wattlens: the same, with text output ---------------------------
# (its expiry brought on by SIGALRM, timeout's own timer signal, once the
# command runs: a fixed expiry could come before a slow build started it)
timeout 60 "$WATTLENS" measure --db "$db" -- sleep 9.1$$ >"$tmp/to.out" 2>"$tmp/to.err" &
tpid=$!
for _ in $(seq 1 600); do wpid=$(pgrep -P $tpid) && break; sleep 0.05; done
wait_child "$wpid" sleep || bad "timeout: the command never started"
kill -ALRM $tpid
wait $tpid
rc=$?
[ $rc = 124 ] && ok "timeout: timeout's own 124" || bad "timeout: exit $rc"
grep -q "stopped .*SIGTERM" "$tmp/to.out" && grep -q "killed by SIGTERM" "$tmp/to.out" \
  && ok "timeout: the report is printed" || bad "timeout: report: $(cat "$tmp/to.out" "$tmp/to.err")"
[ "$(last_run)" = "cancelled 143 15 15" ] && ok "timeout: stored as cancelled" || bad "timeout: stored $(last_run)"
pgrep -f "^sleep 9.1$$\$" >/dev/null && bad "timeout: the command was left running" || ok "timeout: no orphan"

# --- a signal to wattlens's whole group reaches the command once -------------------------------
# (without a terminal in whose foreground wattlens runs, the command has a
# group of its own: timeout's kill of its group, or kill -TERM -PGID, reaches
# wattlens alone, and wattlens passes it on once)
sigcount="${WL_BINARY_DIR:-}/sigcount"
if [ -x "$sigcount" ]; then
  # a SIGTERM to timeout(1) does what its expiry does (to the child, then to
  # its own group), sent once the command can count it
  timeout 60 "$WATTLENS" measure --no-store -- "$sigcount" >"$tmp/cnt1.out" 2>&1 &
  tpid=$!
  for _ in $(seq 1 600); do wpid=$(pgrep -P $tpid) && break; sleep 0.05; done
  wait_child "$wpid" sigcount && wait_catches "$(pgrep -P "$wpid" -x sigcount)" 15 \
    || bad "timeout: the command never started"
  kill -TERM $tpid
  wait $tpid
  grep -q "^TERM 1 other 0$" "$tmp/cnt1.out" && ok "timeout: the command got SIGTERM once" \
    || bad "timeout: the command got: $(grep "^TERM" "$tmp/cnt1.out")"
  setsid "$WATTLENS" measure --no-store -- "$sigcount" >"$tmp/cnt2.out" 2>&1 &
  pid=$!
  wait_child $pid sigcount && wait_catches "$(pgrep -P $pid -x sigcount)" 15 \
    || bad "group kill: the command never started"
  kill -TERM -- -$pid
  wait $pid; rc=$?
  [ $rc = 143 ] && ok "group kill: exit 143" || bad "group kill: exit $rc"
  grep -q "^TERM 1 other 0$" "$tmp/cnt2.out" && ok "group kill: the command got SIGTERM once" \
    || bad "group kill: the command got: $(grep "^TERM" "$tmp/cnt2.out")"
  # a repeat soon after (timeout's group kill, late on a loaded machine) is
  # the same stop: passed on once
  "$WATTLENS" measure --no-store -- "$sigcount" >"$tmp/cnt4.out" 2>&1 &
  pid=$!
  wait_child $pid sigcount && wait_catches "$(pgrep -P $pid -x sigcount)" 15 \
    || bad "repeat: the command never started"
  kill -TERM $pid
  sleep 0.3
  kill -TERM $pid
  wait $pid
  grep -q "^TERM 1 other 0$" "$tmp/cnt4.out" && ok "repeat within a second: the command got SIGTERM once" \
    || bad "repeat within a second: the command got: $(grep "^TERM" "$tmp/cnt4.out")"
  # its own children too: the command's group gets it
  setsid "$WATTLENS" measure --no-store -- sh -c '"$1" & wait' sh "$sigcount" >"$tmp/cnt3.out" 2>&1 &
  pid=$!
  wait_child $pid sh && shpid=$(pgrep -P $pid -x sh) && wait_child "$shpid" sigcount \
    && wait_catches "$(pgrep -P "$shpid" -x sigcount)" 15 \
    || bad "group kill: the command's child never started"
  kill -TERM -- -$pid
  wait $pid
  # sh ends at once; its child prints its count 0.5 s after the signal
  for _ in $(seq 1 100); do grep -q "^TERM" "$tmp/cnt3.out" && break; sleep 0.05; done
  grep -q "^TERM 1 " "$tmp/cnt3.out" && ok "group kill: the command's child got SIGTERM once" \
    || bad "group kill: the command's child got: $(grep "^TERM" "$tmp/cnt3.out")"
else
  # always built (cmake/extra/measure.cmake): missing means the wiring broke
  bad "no $sigcount (build the sigcount target)"
fi

# --- SIGHUP to a command that handles it: its own exit status is kept --------------------------
"$WATTLENS" measure --db "$db" -- sh -c 'trap "exit 3" HUP; : '"hup$$"'; while :; do sleep 0.05; done' \
  >"$tmp/hup.out" 2>&1 &
pid=$!
wait_child $pid sh && wait_catches "$(pgrep -P $pid -x sh)" 1 || bad "SIGHUP: the command never started"
kill -HUP $pid
wait $pid; rc=$?
[ $rc = 129 ] && ok "SIGHUP: exit 129" || bad "SIGHUP: exit $rc: $(cat "$tmp/hup.out")"
[ "$(last_run)" = "cancelled 3 None 1" ] && ok "SIGHUP: stored as cancelled, exit status 3" \
  || bad "SIGHUP: stored $(last_run)"
left=$(pgrep -f "^sh -c trap \"exit 3\" HUP; : hup$$;")
[ -z "$left" ] && ok "SIGHUP: no orphan" || { bad "SIGHUP: the command was left running"; kill $left; }

# --- a command that ignores the signal is measured until it ends by itself ---------------------
"$WATTLENS" measure --db "$db" --json -- sh -c 'trap "" TERM; sleep 1.0'"$$"'; exit 4' >"$tmp/ign.json" 2>&1 &
pid=$!
# once sh runs its sleep, the trap is set
for _ in $(seq 1 600); do pgrep -f "^sleep 1.0$$\$" >/dev/null && break; sleep 0.05; done
kill -TERM $pid
wait $pid; rc=$?
[ $rc = 143 ] && ok "ignored SIGTERM: exit 143" || bad "ignored SIGTERM: exit $rc"
python3 - "$tmp/ign.json" <<'PY' && ok "ignored SIGTERM: measured to the command's end" || bad "ignored SIGTERM: $(cat "$tmp/ign.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["exit_status"] == 4 and j["stop_signal"] == 15, j
assert j["duration_s"] >= 0.95, j["duration_s"]
PY

# --- SIGINT sent to wattlens alone is passed on ------------------------------------------------
# (a background job of a script starts with SIGINT ignored, and an ignored
# signal stays ignored: env gives it back its default)
if env --default-signal=INT true 2>/dev/null; then
  env --default-signal=INT "$WATTLENS" measure --db "$db" -- sleep 7.4$$ >/dev/null 2>&1 &
  pid=$!
  wait_child $pid sleep || bad "SIGINT: the command never started"
  kill -INT $pid
  wait $pid; rc=$?
  [ $rc = 130 ] && ok "SIGINT to wattlens: exit 130" || bad "SIGINT to wattlens: exit $rc"
  [ "$(last_run)" = "cancelled 130 2 2" ] && ok "SIGINT to wattlens: passed on, stored as cancelled" \
    || bad "SIGINT to wattlens: stored $(last_run)"
  pgrep -f "^sleep 7.4$$\$" >/dev/null && bad "SIGINT: the command was left running" || ok "SIGINT: no orphan"
else
  echo "SKIP: env --default-signal unsupported (SIGINT to wattlens checks skipped)"
fi

# --- a terminal's Ctrl-C: the command gets it itself; a complete run, as before -----------------
python3 - "$WATTLENS" "$db" >"$tmp/tty.out" 2>&1 <<'PY'
import os, pty, select, signal, sys, time
pid, fd = pty.fork()
if pid == 0:
    # a SIGINT ignored on entry would stay ignored (the ^C lost): the default, as a shell gives
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execv(sys.argv[1], [sys.argv[1], "measure", "--db", sys.argv[2], "--", "sleep", "7.57"])
def children():
    out = os.popen("pgrep -P %d -x sleep" % pid).read()
    return out.strip()
for _ in range(600):
    if children():
        break
    time.sleep(0.05)
os.write(fd, b"\x03")
while True:
    r, _, _ = select.select([fd], [], [], 30)
    if not r:
        break
    try:
        if not os.read(fd, 4096):
            break
    except OSError:
        break
_, st = os.waitpid(pid, 0)
print("rc", os.waitstatus_to_exitcode(st))
PY
grep -q "^rc 130" "$tmp/tty.out" && ok "terminal ^C: exit 130" || bad "terminal ^C: $(cat "$tmp/tty.out")"
[ "$(last_run)" = "complete 130 2 None" ] && ok "terminal ^C: a complete run, killed by SIGINT" \
  || bad "terminal ^C: stored $(last_run)"

# --- a terminal's Ctrl-C during the idle baseline: a stop (the held child got it too) -----------
# (python ignores SIGPIPE and its children inherit that: wattlens gets the
# default back, so a write to the dead held child would kill it; SIGINT
# too, which may have been ignored on entry)
python3 - "$WATTLENS" "$db" >"$tmp/ttyb.out" 2>&1 <<'PY'
import os, pty, select, signal, sys, time
pid, fd = pty.fork()
if pid == 0:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execv(sys.argv[1], [sys.argv[1], "measure", "--db", sys.argv[2], "--baseline", "60", "--",
                           "sh", "-c", "echo RAN"])
def catches_sigint():
    # wattlens's SIGINT handler is in place (its SigCgt mask), however slow the build starts;
    # not python's own, which the child has until its exec
    try:
        if os.readlink("/proc/%d/exe" % pid) == os.readlink("/proc/self/exe"):
            return 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return int(line.split()[1], 16) & (1 << (signal.SIGINT - 1))
    except OSError:
        pass
    return 0
for _ in range(1200):
    if catches_sigint():
        break
    time.sleep(0.05)
time.sleep(0.3)
os.write(fd, b"\x03")
t0 = time.monotonic()
out = b""
while True:
    r, _, _ = select.select([fd], [], [], 30)
    if not r:
        break
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
_, st = os.waitpid(pid, 0)
print("after %.2f s" % (time.monotonic() - t0))
print("rc", os.waitstatus_to_exitcode(st))
sys.stdout.write(out.decode(errors="replace"))
PY
grep -q "^rc 130" "$tmp/ttyb.out" && ok "terminal ^C in the baseline: exit 130" \
  || bad "terminal ^C in the baseline: $(cat "$tmp/ttyb.out")"
# (at once: in far less than the 60 s baseline, however slow the build ends)
python3 -c 'import sys; t = float(open(sys.argv[1]).readline().split()[1]); sys.exit(t >= 20)' "$tmp/ttyb.out" \
  && ok "terminal ^C in the baseline: ends it at once" || bad "terminal ^C in the baseline: $(head -1 "$tmp/ttyb.out")"
grep -q "^RAN" "$tmp/ttyb.out" && bad "terminal ^C in the baseline: the command ran" \
  || ok "terminal ^C in the baseline: the command was not started"
grep -q "not started .*SIGINT" "$tmp/ttyb.out" && ok "terminal ^C in the baseline: the report says so" \
  || bad "terminal ^C in the baseline: report: $(cat "$tmp/ttyb.out")"
[ "$(last_run)" = "cancelled None None 2" ] && ok "terminal ^C in the baseline: stored as cancelled, not started" \
  || bad "terminal ^C in the baseline: stored $(last_run)"

# --- during the idle baseline: it ends at once and the command never starts ---------------------
"$WATTLENS" measure --db "$db" --baseline 60 -- touch "$tmp/ran" >"$tmp/base.out" 2>&1 &
pid=$!
# the held child (a fork of wattlens) exists once the stop handlers are in place
for _ in $(seq 1 600); do pgrep -P $pid >/dev/null && break; sleep 0.05; done
sleep 0.3
kill -TERM $pid
for _ in $(seq 1 200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
  bad "baseline: SIGTERM did not stop it within 20 s"
  kill -KILL $pid
  wait $pid
else
  wait $pid; rc=$?
  [ $rc = 143 ] && ok "baseline: exit 143" || bad "baseline: exit $rc: $(cat "$tmp/base.out")"
fi
[ ! -e "$tmp/ran" ] && ok "baseline: the command was not started" || bad "baseline: the command ran"
grep -q "not started" "$tmp/base.out" && ok "baseline: the report says so" || bad "baseline: $(cat "$tmp/base.out")"
[ "$(last_run)" = "cancelled None None 15" ] && ok "baseline: stored as cancelled, not started" \
  || bad "baseline: stored $(last_run)"
"$WATTLENS" show --db "$db" "$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')" \
  >"$tmp/base.show" 2>&1
grep -q "^  exit       not started: wattlens got SIGTERM before the command started" "$tmp/base.show" \
  && ok "baseline: show says so" || bad "baseline: show: $(cat "$tmp/base.show")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
