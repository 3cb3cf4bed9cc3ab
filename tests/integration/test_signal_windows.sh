#!/usr/bin/env bash
# A stop signal that lands between two steps which must go together leaves
# nothing half done. Each signal is raised at a fixed point by the
# LD_PRELOAD helper raise_in_window (tests/fakes/raise_in_window.c), from
# inside the call that ends the first step, so nothing here depends on timing:
# - `measure` and `run`: right after the run's row (status running) is
#   committed. Their stop handlers are already installed, so the command /
#   the generation is not started, the run is stored as cancelled (never
#   left running, read as incomplete), the report is printed and wattlens
#   exits 128 + the signal. Also right after the row's transaction waited
#   for a lock held past the busy timeout: no row, nothing started, a
#   message, exit 128 + the signal;
# - an output file (export -o FILE, cli/cli_output.c over util/outfile.c):
#   right after the temporary file next to FILE is made, by wl_outfile_open
#   (its probe) and by wl_outfile_stream (the file written). wattlens dies
#   by the signal (its default action) with no temporary file left and an
#   existing FILE as it was.
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}" "${WL_BINARY_DIR:?}"
. "$(dirname "$0")/common.sh"
lib="$WL_BINARY_DIR/libraise_in_window.so"
[ -f "$lib" ] || { bad "no $lib (build the raise_in_window target)"; echo "$pass passed, $fail failed"; exit 1; }
M="$WL_TESTDATA/models/stories260K.gguf"
mkdir -p "$tmp/out"
# an ASan build checks that its runtime is loaded first; the helper is not
# instrumented and only passes calls on
asan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# with_raise VAR=VALUE... -- CMD...: CMD with the helper preloaded
with_raise() {
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  env LD_PRELOAD="$lib" ASAN_OPTIONS="$asan" "${envs[@]}" "$@"
}

# right after the COMMIT of the run's row (wl_store_run_begin); right after
# its BEGIN IMMEDIATE, which waits for another writer's lock
after_row=(WL_RAISE_ARMED_BY="INSERT INTO runs " WL_RAISE_AFTER_EXEC=COMMIT)
after_lock_wait=(WL_RAISE_ARMED_BY="INSERT INTO tokens " WL_RAISE_AFTER_EXEC="BEGIN IMMEDIATE")

# the newest run of database $1 as "status output_tokens exit_status
# stop_signal" (export --format json; the last two from a measure's extra)
last_run() {
  local id
  id=$("$WATTLENS" runs --db "$1" --json 2>/dev/null |
       python3 -c 'import json,sys; r=json.load(sys.stdin)["runs"]; print(r[0]["id"] if r else "")')
  [ -n "$id" ] || { echo none; return; }
  "$WATTLENS" export --db "$1" "$id" --format json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)["run"]
x = r["extra"] or {}
print(r["status"], r.get("output_tokens"), x.get("exit_status"), x.get("stop_signal"))'
}

# --- measure: a stop right after its row is made, before the command ------------------------
# A signal ignored on entry stays ignored (nohup, a background job of a
# script ignores SIGINT): not tried then.
ignored() {
  local mask
  mask=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status 2>/dev/null)
  [ -n "$mask" ] && (( (16#$mask >> ($1 - 1)) & 1 ))
}
for sig in TERM HUP INT; do
  n=$(kill -l $sig)
  if ignored "$n"; then
    echo "skip: SIG$sig is ignored here"
    continue
  fi
  db="$tmp/measure-$sig.db"
  rm -f "$tmp/ran"
  with_raise "${after_row[@]}" WL_RAISE_SIGNAL="$n" -- \
    "$WATTLENS" measure --db "$db" --json -- sh -c ": >'$tmp/ran'" >"$tmp/m.json" 2>"$tmp/m.err"
  rc=$?
  [ $rc = $((128 + n)) ] && ok "measure, SIG$sig after its row: exit $rc" \
    || bad "measure, SIG$sig after its row: exit $rc: $(cat "$tmp/m.err")"
  [ ! -e "$tmp/ran" ] && ok "measure, SIG$sig after its row: the command is not started" \
    || bad "measure, SIG$sig after its row: the command ran"
  python3 - "$tmp/m.json" "$n" <<'PY' && ok "measure, SIG$sig after its row: the report says so" \
    || bad "measure, SIG$sig after its row: report: $(cat "$tmp/m.json" "$tmp/m.err")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["run_id"], j
assert j["started"] is False and j["stop_signal"] == int(sys.argv[2]), j
assert j["exit_status"] is None, j
PY
  got=$(last_run "$db")
  [ "$got" = "cancelled None None $n" ] && ok "measure, SIG$sig after its row: stored as cancelled" \
    || bad "measure, SIG$sig after its row: stored '$got', not 'cancelled None None $n'"
done

# --- run: a stop right after its row is made, before the generation -------------------------
db="$tmp/run.db"
with_raise "${after_row[@]}" -- \
  "$WATTLENS" run -m "$M" -n 8 -t 1 --settle 0 --baseline 0 --db "$db" --json \
  >"$tmp/r.json" 2>"$tmp/r.err"
rc=$?
[ $rc = 143 ] && ok "run, SIGTERM after its row: exit 143" \
  || bad "run, SIGTERM after its row: exit $rc: $(cat "$tmp/r.err")"
python3 - "$tmp/r.json" <<'PY' && ok "run, SIGTERM after its row: nothing generated, reported cancelled" \
  || bad "run, SIGTERM after its row: report: $(cat "$tmp/r.json" "$tmp/r.err")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["run_id"] and j["status"] == "cancelled", j
assert j["stop_reason"] == "cancelled" and j["sequences"][0]["output_tokens"] == 0, j
PY
got=$(last_run "$db")
[ "$got" = "cancelled 0 None None" ] && ok "run, SIGTERM after its row: stored as cancelled" \
  || bad "run, SIGTERM after its row: stored '$got', not 'cancelled 0 None None'"

# --- measure and run: a stop while the run's row waits for a locked database ----------------
# The row cannot be made (another writer holds the lock past the 2 s busy
# timeout): the command / the generation is not started, as without the
# stop, and wattlens says why and exits 128 + the signal.
db="$tmp/locked.db"
"$WATTLENS" measure --db "$db" -- true >/dev/null 2>&1 || bad "measure: a database to lock"
python3 - "$db" >"$tmp/lock" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(300)
PY
lpid=$!
for _ in $(seq 1 600); do grep -q locked "$tmp/lock" && break; sleep 0.05; done
grep -q locked "$tmp/lock" || bad "the database could not be locked"
rm -f "$tmp/ran"
with_raise "${after_lock_wait[@]}" -- \
  "$WATTLENS" measure --db "$db" -- sh -c ": >'$tmp/ran'" >/dev/null 2>"$tmp/ml.err"
rc=$?
[ $rc = 143 ] && grep -q "the command was not run" "$tmp/ml.err" && [ ! -e "$tmp/ran" ] \
  && ok "measure, SIGTERM while its row waits for the lock: not run, says why, exit 143" \
  || bad "measure, SIGTERM while its row waits for the lock: exit $rc: $(cat "$tmp/ml.err")"
with_raise "${after_lock_wait[@]}" -- \
  "$WATTLENS" run -m "$M" -n 8 -t 1 --settle 0 --baseline 0 --db "$db" >"$tmp/rl.out" 2>"$tmp/rl.err"
rc=$?
[ $rc = 143 ] && grep -q "cannot store the run" "$tmp/rl.err" && ! grep -q "prefill and decode" "$tmp/rl.err" \
  && ok "run, SIGTERM while its row waits for the lock: nothing generated, says why, exit 143" \
  || bad "run, SIGTERM while its row waits for the lock: exit $rc: $(cat "$tmp/rl.err")"
kill "$lpid"
{ wait "$lpid"; } 2>/dev/null
got=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
[ "$got" = 1 ] && ok "a stop while the row waited for the lock: no row made" \
  || bad "a stop while the row waited for the lock: $got runs, not 1"

# --- an output file: a stop right after its temporary file is made ---------------------------
db="$tmp/export.db"
"$WATTLENS" measure --db "$db" -- true >/dev/null 2>&1 || bad "measure: a run to export"
id=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
no_temp_left() { ! ls -a "$tmp/out" | grep -q '\.tmp\.'; }
for k in 1 2; do
  what=$([ $k = 1 ] && echo "the probe at open" || echo "the file written")
  for old in new existing; do
    out="$tmp/out/report-$k-$old.json"
    rm -f "$out"
    [ $old = existing ] && echo old >"$out"
    with_raise WL_RAISE_AFTER_TMP="$k:$out" -- \
      "$WATTLENS" export --db "$db" "$id" -f json -o "$out" 2>"$tmp/e.err"
    rc=$?
    [ $rc = 143 ] && ok "export -o ($old file), SIGTERM after $what: ended by it" \
      || bad "export -o ($old file), SIGTERM after $what: exit $rc (the signal did not land?): $(cat "$tmp/e.err")"
    no_temp_left && ok "export -o ($old file), SIGTERM after $what: no temporary file left" \
      || bad "export -o ($old file), SIGTERM after $what: left $(ls -a "$tmp/out" | grep '\.tmp\.')"
    if [ $old = existing ]; then
      [ "$(cat "$out")" = old ] && ok "export -o ($old file), SIGTERM after $what: the file is as it was" \
        || bad "export -o ($old file), SIGTERM after $what: the file changed"
    else
      [ ! -e "$out" ] && ok "export -o ($old file), SIGTERM after $what: no file made" \
        || bad "export -o ($old file), SIGTERM after $what: $out exists"
    fi
    rm -f "$tmp"/out/*
  done
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
