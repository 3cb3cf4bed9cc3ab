#!/usr/bin/env bash
# ctest-labels: timing (writes a fake sensor while `run` takes its idle baseline)
# Sensor gaps (a counter that resets: its energy between two reads is not
# counted) are stored with the run and reported wherever the run is shown:
# - measure: the command itself moves a fake powercap counter back, so the
#   reset falls between two reads inside the command's window; the live
#   report, `show`, `show --json` (sensor_gaps) and `export` (extra.gaps)
#   all have it, with the same line;
# - run: the counter moves back while `run` takes its idle baseline; the
#   run's own report and `show` print the line, `show --json` has the gap.
# Old: only the live `measure` report said so; the stored run read as a
# plain measured energy.
set -u
W=${WATTLENS:?}
D=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"
export WATTLENS_DB="$tmp/runs.db"
# one fake package counter (common.sh points every other backend at nothing)
e=$(fake_zone intel-rapl:0 package-0 5000000) || { echo "FAIL: no fake powercap zone"; exit 1; }
line_re='sensor gaps: 1 ([0-9.]* s in all; the energy in them is NOT counted, the package figures are low by it)'

# --- measure ------------------------------------------------------------------------
# The counter moves every ~5 ms, as a real one does (one flat for 100 ms is
# not measuring: a gap of its own, sampler.md), and goes back once. One
# driver process moves it from before the sampler opens, rewriting it in
# place (no fork per step: a loaded host does not stall it that long); the
# command tells it when to move back and waits for it to be done.
fake_counter "$e" 5000000 "wait:$tmp/go" move:60 set:1000000 move:60 "touch:$tmp/done" || exit 1
fpid=$fc_pid
"$W" measure -i 10 -- sh -c "touch '$tmp/go'; while [ ! -e '$tmp/done' ]; do sleep 0.01; done" \
  >"$tmp/m.txt" 2>"$tmp/m.err"; rc=$?
kill $fpid; wait $fpid 2>/dev/null
id=$(sed -n 's/.*saved as run \([0-9a-f-]*\).*/\1/p' "$tmp/m.err")
if [ $rc = 0 ] && [ ${#id} = 36 ]; then ok "measure stored $id"; else bad "measure (rc $rc)"; cat "$tmp/m.err"; fi
live=$(grep -o "$line_re" "$tmp/m.txt")
if [ -n "$live" ]; then ok "measure reports the gap"; else bad "measure: no gap line"; cat "$tmp/m.txt"; fi
"$W" show "$id" >"$tmp/show.txt" 2>&1
if [ -n "$live" ] && grep -qF "  $live" "$tmp/show.txt"; then ok "show prints the line measure printed"
else bad "show: no gap line (measure said: $live)"; head -12 "$tmp/show.txt"; fi
"$W" show "$id" --json >"$tmp/show.json" 2>&1
if python3 - "$tmp/show.json" "$live" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
g = j["sensor_gaps"]
assert g is not None, "no sensor_gaps"
assert g["n_gaps"] == 1 and g["n_energy_not_counted"] == 1, g
assert g["text"] == sys.argv[2], (g["text"], sys.argv[2])
x = g["gaps"][0]
assert x["counter_fell"] and x["energy_counted"] is False, x
assert x["sensor"] == "rapl-powercap" and x["domains"] == ["package"], x
# in the command's window (stored times count from the sampler's origin)
assert 0 <= x["start_ms"] <= x["end_ms"], x
PY
then ok "show --json has the gap"; else bad "show --json: $(head -c 400 "$tmp/show.json")"; fi
"$W" export "$id" --format json >"$tmp/exp.json" 2>&1
if python3 - "$tmp/exp.json" <<'PY'
import json, sys
x = json.load(open(sys.argv[1]))["run"]["extra"]
assert x["n_gaps"] == 1 and len(x["gaps"]) == 1 and x["gaps"][0]["counter_fell"], x
PY
then ok "export carries the gap in extra"; else bad "export: $(head -c 400 "$tmp/exp.json")"; fi

# --- run ----------------------------------------------------------------------------
model=$D/models/stories260K.gguf
if have_data "$model" "run part"; then
  # the counter moves every ~5 ms through the run (one driver process), as
  # a real one, and goes back when told ($tmp/back)
  fake_counter "$e" 5000000 "wait:$tmp/back" set:1000000 || exit 1
  mpid=$fc_pid
  "$W" run -m "$model" -n 8 -t 1 --temp 0 --depth off --baseline 3 --settle 0 \
    >"$tmp/r.txt" 2>"$tmp/r.err" &
  pid=$!
  # the sampler has read the counter once the baseline begins: move it back then
  for _ in $(seq 1 600); do
    grep -q "settling" "$tmp/r.err" 2>/dev/null && break
    sleep 0.05
  done
  # half a second into the 3 s baseline: the sampler thread has read the
  # counter at its old value even on a slow start
  sleep 0.5
  touch "$tmp/back"
  # inconclusive only when the write came after the baseline (a host stalled
  # through the whole 3 s baseline): decided from the run's progress, never
  # from what the sampler under test says about the counter
  late=0
  grep -q "prefill and decode" "$tmp/r.err" && late=1
  wait $pid; rc=$?
  kill $mpid; wait $mpid 2>/dev/null
  rid=$(sed -n 's/^Run \([0-9a-f-]\{36\}\)  (.*/\1/p' "$tmp/r.txt" | head -1)
  if [ $rc = 0 ] && [ -n "$rid" ]; then ok "run stored $rid"; else bad "run (rc $rc)"; cat "$tmp/r.err"; fi
  if [ $late = 1 ]; then
    echo "SKIP: the counter was moved back after the baseline (inconclusive)"
  else
    # the stored gap first (not the wording of a log line), then the text
    "$W" show "$rid" --json >"$tmp/rshow.json" 2>&1
    if python3 - "$tmp/rshow.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["sensor_gaps"]
assert g is not None and g["n_gaps"] == 1, g
assert g["gaps"][0]["counter_fell"] and g["gaps"][0]["sensor"] == "rapl-powercap", g
PY
    then ok "show --json of the run has the gap"; else bad "show --json of the run: $(head -c 400 "$tmp/rshow.json")"; fi
    rline=$(grep -o "sensor gaps: 1 (.*)" "$tmp/r.txt")
    if [ -n "$rline" ]; then ok "run reports the gap"; else bad "run: no gap line"; head -14 "$tmp/r.txt"; fi
    "$W" show "$rid" >"$tmp/rshow.txt" 2>&1
    if [ -n "$rline" ] && grep -qF "  $rline" "$tmp/rshow.txt"; then ok "show prints the run's line"
    else bad "show of the run: no gap line"; head -12 "$tmp/rshow.txt"; fi
  fi
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
