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
skip_no_data "$M"
db="$tmp/runs.db"
long=(-m "$M" -n 30000 -c 30000 -t 1 --temp 0 --baseline 0 --settle 0 --db "$db")

# --- SIGTERM mid-decode -------------------------------------------------------------------
"$WATTLENS" run "${long[@]}" >/dev/null 2>"$tmp/term.err" &
pid=$!
wait_mid_decode "$tmp/term.err" "$db" 2 "$pid" || { bad "SIGTERM: the run never reached mid-decode"; cat "$tmp/term.err"; }
kill -TERM $pid
wait $pid; rc=$?
[ $rc = 143 ] && ok "SIGTERM: exit 143" || { bad "SIGTERM exit $rc"; cat "$tmp/term.err"; }
st=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["status"])')
[ "$st" = cancelled ] && ok "SIGTERM: stored as cancelled" || bad "SIGTERM: status $st"
# the note names the stored run, so a report cut short by a second signal still leaves its id
tid=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
grep -q "stored as cancelled with [0-9]* generated tokens\{0,1\}: $tid\$" "$tmp/term.err" \
  && ok "SIGTERM: the note names the run id" || { bad "SIGTERM: no run id in the note"; cat "$tmp/term.err"; }

# --- SIGINT during the baseline and the settle: they end at once ---------------------------
for phase in "--baseline 60 --settle 0" "--baseline 0 --settle 60"; do
  # (a background job of a script starts with SIGINT ignored, which run leaves ignored)
  # shellcheck disable=SC2086
  env --default-signal=INT "$WATTLENS" run -m "$M" -n 4 -t 1 $phase --db "$db" >/dev/null 2>"$tmp/b.err" &
  pid=$!
  for _ in $(seq 1 300); do grep -q "settling" "$tmp/b.err" 2>/dev/null && break; sleep 0.1; done
  # into the baseline by one stored sample at least (the summary's "cut
  # short" needs one; they are stored once a second): polled, not slept for
  case $phase in --baseline\ 60*)
    wait_running_rows "$db" 1 power_samples "t.phase = 'baseline'" "$pid" \
      || { bad "SIGINT during ($phase): no baseline sample was stored (see the wait line above)"; cat "$tmp/b.err"; } ;;
  esac
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

# Those two recorded nothing: no figures (n/a, not 0), sorted with the runs
# without any, and the true reason there is no dynamic energy
"$WATTLENS" runs --db "$db" --json --limit 2 >"$tmp/c.json"
read -r sid bid < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"]; print(r[0]["id"], r[1]["id"])' "$tmp/c.json")
"$WATTLENS" show --db "$db" "$bid" >"$tmp/cb.txt" 2>&1
"$WATTLENS" show --db "$db" "$bid" --json >"$tmp/cb.json" 2>&1
"$WATTLENS" show --db "$db" "$sid" >"$tmp/cs.txt" 2>&1
python3 - "$tmp/c.json" "$tmp/cb.txt" "$tmp/cb.json" "$tmp/cs.txt" <<'PY' && ok "cancelled before generating: n/a figures, the true baseline reason" || { bad "cancelled before generating"; cat "$tmp/cb.txt" "$tmp/cs.txt"; }
import json, re, sys
runs = json.load(open(sys.argv[1]))["runs"]
for r in runs:
    assert r["status"] == "cancelled" and r["energy_j"] is None and r["duration_ms"] is None, r
t, j, ts = open(sys.argv[2]).read(), json.load(open(sys.argv[3])), open(sys.argv[4]).read()
assert "  energy     n/a  (nothing recorded: the run stopped before its generation began)" in t
assert re.search(r"\n  duration   n/a ", t) and re.search(r"\n  cost +n/a ", t), t
assert re.search(r"\n  EDP \(energy x delay\) +n/a\n", t), t
assert " 0.000 J" not in t and " 0.00 ms" not in t and " 0 USD" not in t, t
assert re.search(r"\n  peak power +n/a\n", t), t
assert re.search(r"\n  dynamic energy +n/a \(the run stopped during its idle baseline\)\n", t), t
assert "no idle baseline was taken" not in t
tot = j["totals"]
assert tot["nothing_recorded"] is True and tot["baseline_status"] == "cut_short", tot
assert tot["energy_j"] is None and all(d["energy_j"] is None for d in j["domains"]), j["domains"]
# the settle was cancelled with --baseline 0: no baseline was taken, truly
assert re.search(r"\n  dynamic energy +n/a \(no idle baseline was taken\)\n", ts), ts
PY
"$WATTLENS" runs --db "$db" >"$tmp/c-runs.txt"
"$WATTLENS" runs --db "$db" --sort energy --json >"$tmp/c-sorted.json"
python3 - "$tmp/c-runs.txt" "$tmp/c-sorted.json" "$sid" "$bid" <<'PY' && ok "runs: n/a for runs that recorded nothing, sorted last by energy" || { bad "runs of runs that recorded nothing"; cat "$tmp/c-runs.txt"; }
import json, re, sys
t = open(sys.argv[1]).read()
for i in sys.argv[3:5]:
    line = [l for l in t.split("\n") if l.startswith(i[:8])][0]
    assert re.search(r" +n/a +n/a +n/a +0/0 ", line), line
ids = [r["id"] for r in json.load(open(sys.argv[2]))["runs"]]
assert ids[-2:] == [sys.argv[3], sys.argv[4]] or ids[-2:] == [sys.argv[4], sys.argv[3]], ids
PY

# --- SIGKILL: the flushed part is shown, labelled an estimate -------------------------------
"$WATTLENS" run "${long[@]}" >/dev/null 2>"$tmp/kill.err" &
pid=$!
wait_mid_decode "$tmp/kill.err" "$db" 2 "$pid" || { bad "SIGKILL: the run never reached mid-decode"; cat "$tmp/kill.err"; }
# a flush with sections stored (the token rows alone do not say one was)
wait_running_rows "$db" 1 sections 1 "$pid" || bad "SIGKILL: no section was stored (see the wait line above)"
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
grep "^${kid:0:8} .*incomplete" "$tmp/k-runs.txt" | grep -q "J~\*" && grep -q "^\* partial" "$tmp/k-runs.txt" \
  && ok "killed run: runs table marks its figures partial" || { bad "killed run: runs table"; cat "$tmp/k-runs.txt"; }
grep -Fq "Its J/TOKEN counts only the" "$tmp/k-runs.txt" \
  && grep -Fq "output tokens saved with both their sections and their rows, so it can differ from" "$tmp/k-runs.txt" \
  && grep -Fq "ENERGY / TOKENS ('wattlens show ID' says how many were left out)." "$tmp/k-runs.txt" \
  && ok "killed run: the runs note says what its J/TOKEN covers" || { bad "killed run: runs note"; cat "$tmp/k-runs.txt"; }

# --- SIGKILL after an idle baseline: dynamic energy from its stored baseline samples ---------
"$WATTLENS" run -m "$M" -n 30000 -c 30000 -t 1 --temp 0 --baseline 0.3 --settle 0 --db "$db" \
  >/dev/null 2>"$tmp/kb.err" &
pid=$!
wait_mid_decode "$tmp/kb.err" "$db" 2 "$pid" || { bad "SIGKILL after a baseline: the run never reached mid-decode"; cat "$tmp/kb.err"; }
wait_running_rows "$db" 1 sections 1 "$pid" || bad "SIGKILL after a baseline: no section was stored (see the wait line above)"
kill -KILL $pid
wait $pid 2>/dev/null
kbid=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
"$WATTLENS" show --db "$db" "$kbid" >"$tmp/kb.txt" 2>&1
"$WATTLENS" show --db "$db" "$kbid" --json >"$tmp/kb.json" 2>&1
"$WATTLENS" export "$kbid" --db "$db" -f json >"$tmp/kb.export.json" 2>&1
python3 - "$tmp/kb.txt" "$tmp/kb.json" "$tmp/kb.export.json" <<'PY' && ok "killed run after its baseline: dynamic energy from the baseline samples" || { bad "killed run's baseline"; cat "$tmp/kb.txt"; }
import json, re, sys
t, j = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
run = json.load(open(sys.argv[3]))["run"]
tot = j["totals"]
assert tot["partial"] is True and tot["baseline_status"] == "baseline_samples", tot
b = [s for s in run["samples"] if s["phase"] == "baseline"]
assert len(b) >= 2, len(b)
w = (b[-1]["package_energy_j"] - b[0]["package_energy_j"]) / ((b[-1]["t_ms"] - b[0]["t_ms"]) / 1000)
assert abs(tot["baseline_power_w"] - w) <= 1e-6 * w, (tot, w)
assert 9 < w < 13, w  # the model's 10 W idle, and a little sampling
dyn = tot["energy_j"] - w * tot["duration_ms"] / 1000
assert abs(tot["dynamic_energy_j"] - dyn) <= 1e-6 * tot["energy_j"], (tot, dyn)
assert re.search(r"\n  dynamic energy +[0-9.]+ m?J \(baseline [0-9.]+ W, from the baseline samples "
                 r"this unfinished run saved\)\n", t), t
PY

# --- SIGKILL before the first flush: nothing to price, said as n/a ---------------------------
"$WATTLENS" run "${long[@]}" >/dev/null 2>"$tmp/early.err" &
pid=$!
for _ in $(seq 1 300); do grep -q "prefill and decode" "$tmp/early.err" 2>/dev/null && break; sleep 0.05; done
kill -KILL $pid
wait $pid 2>/dev/null
eid=$("$WATTLENS" runs --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
"$WATTLENS" show --db "$db" "$eid" >"$tmp/e.txt" 2>&1; rc=$?
# the killed run's own row (not the previous run's), shown, as incomplete:
# else "no nan" below would pass on a failed or empty `show`
[ $rc = 0 ] && [ -n "$eid" ] && [ "$eid" != "$kbid" ] && grep -q "incomplete" "$tmp/e.txt" \
  && ok "early-killed run: shown as incomplete" \
  || { bad "early-killed run: show $eid (rc $rc; the previous run $kbid)"; head -5 "$tmp/e.txt"; }
grep -qw "nan" "$tmp/e.txt" && bad "early-killed run: 'nan' in show" || ok "early-killed run: no nan"
# with no energy stored (the usual case here) cost and CO2 must say n/a;
# if a flush did land first, the energy is a positive number
if grep -q "^  energy     n/a" "$tmp/e.txt"; then
  grep -Eq "^  cost +n/a" "$tmp/e.txt" && grep -Eq "^  CO2 +n/a" "$tmp/e.txt" \
    && ok "early-killed run: cost and CO2 n/a" || { bad "early-killed run: cost/CO2"; cat "$tmp/e.txt"; }
else
  echo "SKIP: early-killed run: a flush landed first (cost and CO2 n/a not checked)"
  grep -Eq "^  energy     [0-9]+(\.[0-9]+)? [kmun]?J" "$tmp/e.txt" \
    && ! grep -Eq "^  energy     0(\.0+)? " "$tmp/e.txt" \
    && ok "early-killed run: a positive energy" || { bad "early-killed run: energy"; cat "$tmp/e.txt"; }
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
