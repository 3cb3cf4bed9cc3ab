#!/usr/bin/env bash
# ctest-labels: timing (sends signals to runs under way; see Makefile)
# `wattlens run` stops cleanly on SIGTERM as on SIGINT (exit 128 + signal,
# stored as cancelled), also during the settle and the idle baseline; a run
# killed outright (SIGKILL) is shown from what it flushed, its energy still
# labelled as the CPU-time model's estimate on this sensorless setup, and
# listed by `runs` with the same partial figures as `show` gives.
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
M="$WL_TESTDATA/models/stories260K.gguf"
db="$tmp/runs.db"
mkdir -p "$tmp/sys" "$tmp/dev"
export WATTLENS_DB="$tmp/unused.db" WATTLENS_SYSFS_ROOT="$tmp/sys" WATTLENS_DEV_ROOT="$tmp/dev" \
       WATTLENS_NVML_LIB="$tmp/no-libnvidia-ml.so.1" WATTLENS_POWERMETRICS="$tmp/no-powermetrics"
long=(-m "$M" -n 30000 -c 30000 -t 1 --temp 0 --baseline 0 --settle 0 --db "$db")

# --- SIGTERM mid-decode -------------------------------------------------------------------
"$WATTLENS" run "${long[@]}" >/dev/null 2>"$tmp/term.err" &
pid=$!
wait_mid_decode "$tmp/term.err" "$db" 2
kill -TERM $pid
wait $pid; rc=$?
[ $rc = 143 ] && ok "SIGTERM: exit 143" || { bad "SIGTERM exit $rc"; cat "$tmp/term.err"; }
st=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["status"])')
[ "$st" = cancelled ] && ok "SIGTERM: stored as cancelled" || bad "SIGTERM: status $st"

# --- SIGINT during the baseline and the settle: they end at once ---------------------------
for phase in "--baseline 60 --settle 0" "--baseline 0 --settle 60"; do
  # shellcheck disable=SC2086
  "$WATTLENS" run -m "$M" -n 4 -t 1 $phase --db "$db" >/dev/null 2>"$tmp/b.err" &
  pid=$!
  for _ in $(seq 1 300); do grep -q "settling" "$tmp/b.err" 2>/dev/null && break; sleep 0.1; done
  kill -INT $pid
  # a baseline that ignored the signal would run its 60 s; 20 s is plenty for a
  # loaded machine to end at once
  for _ in $(seq 1 200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  if kill -0 $pid 2>/dev/null; then
    bad "SIGINT during ($phase) did not stop the run within 20 s"
    kill -KILL $pid
    wait $pid
  else
    wait $pid; rc=$?
    [ $rc = 130 ] && ok "SIGINT during ($phase): exit 130" || bad "SIGINT during ($phase): exit $rc"
  fi
done

# --- SIGKILL: the flushed part is shown, labelled an estimate -------------------------------
"$WATTLENS" run "${long[@]}" >/dev/null 2>"$tmp/kill.err" &
pid=$!
wait_mid_decode "$tmp/kill.err" "$db" 2
sleep 1.5 # past one flush interval (1 s) with sections stored
kill -KILL $pid
wait $pid 2>/dev/null
kid=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
"$WATTLENS" show --db "$db" "$kid" >"$tmp/k.txt" 2>&1
"$WATTLENS" show --db "$db" "$kid" --json >"$tmp/k.json" 2>/dev/null
grep -q "incomplete" "$tmp/k.txt" && ok "killed run: incomplete" || bad "killed run status: $(head -3 "$tmp/k.txt")"
grep -q "estimated (model)" "$tmp/k.txt" && grep -q "ESTIMATED" "$tmp/k.txt" \
  && ok "killed run: energy labelled an estimate" || { bad "killed run: no estimate label"; cat "$tmp/k.txt"; }
python3 - "$tmp/k.json" <<'PY' && ok "killed run JSON: method from its phases" || bad "killed run JSON method"
import json, sys
s = json.load(open(sys.argv[1]))
t = s["totals"]
assert t["energy_from_phases"] is True, t
assert t["energy_method"] == "model_estimate", t
PY
# runs lists the killed run with what it saved, as show sums it, marked partial
"$WATTLENS" runs --db "$db" --json >"$tmp/k-runs.json" 2>/dev/null
python3 - "$tmp/k-runs.json" "$tmp/k.json" <<'PY' && ok "killed run: runs --json agrees with show, partial" || bad "killed run: runs --json figures"
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
s = json.load(open(sys.argv[2]))
assert r["status"] == "incomplete" and r["partial"] is True, r
assert s["totals"]["partial"] is True, s["totals"]
assert abs(r["energy_j"] - s["totals"]["energy_j"]) <= 1e-9 * s["totals"]["energy_j"], (r, s["totals"])
assert abs(r["duration_ms"] - s["totals"]["duration_ms"]) <= 1e-6, (r, s["totals"])
assert r["energy_method"] == s["totals"]["energy_method"] == "model_estimate", r
assert r["output_tokens"] == s["efficiency"]["output_tokens"] > 0, (r, s["efficiency"])
assert r["input_tokens"] == s["efficiency"]["input_tokens"] > 0, (r, s["efficiency"])
assert abs(r["j_per_token"] - s["efficiency"]["j_per_token"]) <= 1e-9 * r["j_per_token"], r
PY
"$WATTLENS" runs --db "$db" >"$tmp/k-runs.txt" 2>&1
grep "^${kid:0:8} .*incomplete" "$tmp/k-runs.txt" | grep -q "J\*" && grep -q "^\* partial" "$tmp/k-runs.txt" \
  && ok "killed run: runs table marks its figures partial" || { bad "killed run: runs table"; cat "$tmp/k-runs.txt"; }

# --- SIGKILL before the first flush: nothing to price, said as n/a ---------------------------
"$WATTLENS" run "${long[@]}" >/dev/null 2>"$tmp/early.err" &
pid=$!
for _ in $(seq 1 300); do grep -q "prefill and decode" "$tmp/early.err" 2>/dev/null && break; sleep 0.05; done
kill -KILL $pid
wait $pid 2>/dev/null
eid=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
"$WATTLENS" show --db "$db" "$eid" >"$tmp/e.txt" 2>&1
grep -qw "nan" "$tmp/e.txt" && bad "early-killed run: 'nan' in show" || ok "early-killed run: no nan"
# with no energy stored (the usual case here) cost and CO2 must say n/a;
# if a flush did land first, they are numbers and this check does not apply
if grep -q "^  energy     n/a" "$tmp/e.txt"; then
  grep -Eq "^  cost +n/a" "$tmp/e.txt" && grep -Eq "^  CO2 +n/a" "$tmp/e.txt" \
    && ok "early-killed run: cost and CO2 n/a" || { bad "early-killed run: cost/CO2"; cat "$tmp/e.txt"; }
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
