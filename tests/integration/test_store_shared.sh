#!/usr/bin/env bash
# ctest-labels: timing (writes into a database while a run records into it; see Makefile)
# One database, several writers: while a `run` records (its idle baseline,
# then its generation), a `measure` into the same database gets the write
# lock and stores its run, and `rm` of the live run is refused by name
# ("still being recorded (inference, process N ...)"), not "locked". Before,
# the run held the lock through its settle and baseline, and during the
# generation took it again microseconds after each commit, so both failed
# after 2 s with "the database is locked by another process".
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
M="$WL_TESTDATA/models/stories260K.gguf"
[ -f "$M" ] || skip_no_data "$M"
db="$tmp/shared.db"
set -m # the run in its own process group: SIGINT reaches only it

# The id of the run recorded into $db while it is still running ("" until its row exists).
live_id() {
  python3 - "$db" <<'PY' 2>/dev/null
import sqlite3, sys
try:
    c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=1)
    r = c.execute("select uuid from runs where status = 'running' and kind = 'inference'").fetchone()
    print(r[0] if r else "")
except Exception:
    print("")
PY
}

# try_writers PHASE PID: a measure into $db stores its run (up to 3 tries: a
# try that waited 2 s for a gap between the run's batches and found none
# fails), and rm of the live run is refused naming the process PID.
try_writers() {
  local phase=$1 pid=$2 id rc got=0
  id=$(live_id)
  [ -n "$id" ] || { bad "$phase: no live run in the database"; return; }
  for _ in 1 2 3; do
    "$WATTLENS" measure --db "$db" -- true >/dev/null 2>"$tmp/m.err" && { got=1; break; }
  done
  [ $got = 1 ] && ok "$phase: measure stores its run next to the recording run" \
    || bad "$phase: measure failed 3 times: $(cat "$tmp/m.err")"
  "$WATTLENS" rm --db "$db" "$id" >/dev/null 2>"$tmp/rm.err"; rc=$?
  [ $rc = 1 ] && grep -q "still being recorded (inference, process $pid " "$tmp/rm.err" \
    && ok "$phase: rm of the live run is refused by name" \
    || bad "$phase: rm exit $rc: $(cat "$tmp/rm.err")"
  [ "$(live_id)" = "$id" ] && ok "$phase: the live run is still there" || bad "$phase: the live run went"
}

# stop_run PID: SIGINT, then it ends cancelled (130).
stop_run() {
  local rc
  kill -INT "$1"
  wait "$1"; rc=$?
  [ $rc = 130 ] && ok "$2: the run stops on SIGINT (130)" || bad "$2: the run exit $rc: $(tail -3 "$tmp/run.err")"
}

# --- during the idle baseline ---------------------------------------------------------------
"$WATTLENS" run --db "$db" -m "$M" -n 4 -t 1 --settle 0 --baseline 120 >/dev/null 2>"$tmp/run.err" &
pid=$!
for _ in $(seq 1 600); do
  grep -q "measuring idle power" "$tmp/run.err" 2>/dev/null && [ -n "$(live_id)" ] && break
  sleep 0.1
done
grep -q "measuring idle power" "$tmp/run.err" || bad "baseline: the run never reached its baseline"
sleep 0.5 # well inside the 120 s baseline
try_writers baseline "$pid"
stop_run "$pid" baseline

# --- during the generation ------------------------------------------------------------------
"$WATTLENS" run --db "$db" -m "$M" -n 100000 -c 100000 -t 1 --settle 0 --baseline 0 --depth off \
  >/dev/null 2>"$tmp/run.err" &
pid=$!
# its rows are being committed
wait_mid_decode "$tmp/run.err" "$db" 1 "$pid" || { bad "generation: the run never reached mid-decode"; cat "$tmp/run.err"; }
try_writers generation "$pid"
stop_run "$pid" generation

n=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; r=json.load(sys.stdin)["runs"]; print(sum(x["kind"] == "measure" for x in r), sum(x["status"] == "cancelled" for x in r))')
[ "$n" = "2 2" ] && ok "2 measures stored, both runs cancelled" || bad "measures / cancelled runs: $n"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
