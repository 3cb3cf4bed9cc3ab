#!/usr/bin/env bash
# The CPU-time model's settings travel with every estimate, end to end:
# - `run` stores the sensors it used in its provenance ("sensors", as
#   `measure` does): the model's idle and per-core watts (here changed with
#   WATTLENS_MODEL_IDLE_W) and whose CPU time it counted (this process);
#   `run --json`, `show --json` and `export` carry it;
# - `show` prints it as a `sensors` line under the energy, for a `run` and a
#   `measure` run (the command's process tree) alike;
# - `sensors` says whose CPU time each command counts, in text and JSON
#   (its own probe follows the whole system, so its source line says that).
set -u
W=${WATTLENS:?}
D=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"
M=$D/models/stories260K.gguf
skip_no_data "$M"
db=$tmp/runs.db

# --- run: stored and shown -----------------------------------------------------------------
WATTLENS_MODEL_IDLE_W=50 "$W" -q run -m "$M" -n 2 -t 1 --baseline 0 --settle 0 --db "$db" \
  --json >"$tmp/run.json" 2>"$tmp/err"; rc=$?
[ $rc = 0 ] && ok "run with WATTLENS_MODEL_IDLE_W=50" || bad "run: exit $rc, $(cat "$tmp/err")"
python3 - "$tmp/run.json" <<'PY' && ok "run --json: the model's watts and scope in the provenance" \
  || bad "run --json provenance (see above)"
import json, sys
p = json.load(open(sys.argv[1]))["provenance"]
s = p.get("sensors", "")
assert s.startswith("cpu-model (model: 50.00 W idle + 7.50 W per busy core; CPU time of this process"), p
PY
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/run.json")
"$W" show --db "$db" "$id" >"$tmp/show.txt" 2>"$tmp/err"
grep -q '^  sensors    cpu-model (model: 50.00 W idle + 7.50 W per busy core; CPU time of this process' \
  "$tmp/show.txt" && ok "show: a sensors line with the model's watts and scope" \
  || bad "show: no sensors line: $(head -10 "$tmp/show.txt") $(cat "$tmp/err")"
"$W" show --db "$db" --json "$id" >"$tmp/show.json" 2>"$tmp/err"
"$W" export --db "$db" "$id" -f json >"$tmp/exp.json" 2>>"$tmp/err"
python3 - "$tmp/show.json" "$tmp/exp.json" <<'PY' && ok "show --json and export keep them" \
  || bad "show --json / export (see above) $(cat "$tmp/err")"
import json, sys
want = "model: 50.00 W idle + 7.50 W per busy core; CPU time of this process"
assert want in json.load(open(sys.argv[1]))["provenance"]["sensors"]
assert want in json.load(open(sys.argv[2]))["run"]["sensor_provenance"]["sensors"]
PY

# --- measure: its command's tree, shown the same way ---------------------------------------
"$W" -q measure --db "$db" --baseline 0 --json -o "$tmp/m.json" -- true 2>"$tmp/err"; rc=$?
mid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/m.json" 2>/dev/null)
[ $rc = 0 ] && [ -n "$mid" ] && ok "measure saved a run" || bad "measure: exit $rc, $(cat "$tmp/err")"
"$W" show --db "$db" "$mid" >"$tmp/mshow.txt" 2>"$tmp/err"
grep -Eq '^  sensors    cpu-model \(model: 10.00 W idle \+ 7.50 W per busy core; CPU time of process [0-9]+ and its descendants' \
  "$tmp/mshow.txt" && ok "show of a measure run: the command's tree" \
  || bad "show (measure): $(head -10 "$tmp/mshow.txt") $(cat "$tmp/err")"

# --- sensors: whose CPU time each command counts --------------------------------------------
"$W" sensors >"$tmp/sensors.txt" 2>"$tmp/err"
grep -q "^        run  *wattlens's own process (all its threads, no descendants)$" "$tmp/sensors.txt" \
  && grep -q '^        measure  *the command and its descendants$' "$tmp/sensors.txt" \
  && grep -q '^        measure --model-system  *the whole system$' "$tmp/sensors.txt" \
  && ok "sensors: whose CPU time run, measure and --model-system count" \
  || bad "sensors text: $(cat "$tmp/sensors.txt" "$tmp/err")"
"$W" sensors --json >"$tmp/sensors.json" 2>"$tmp/err"
python3 - "$tmp/sensors.json" <<'PY' && ok "sensors --json: cpu_time_by_command" || bad "sensors --json (see above)"
import json, sys
b = [b for b in json.load(open(sys.argv[1]))["backends"] if b["backend"] == "cpu-model"][0]
c = b["cpu_time_by_command"]
assert list(c) == ["run", "measure", "measure --model-system"], c
assert c["run"].startswith("wattlens's own process"), c
PY
"$W" run --help | tr '\n' ' ' | grep -q "The model counts this process's CPU time (all its threads) at WATTLENS_MODEL_IDLE_W" \
  && ok "run --help says whose CPU time and which watts" || bad "run --help: no word on the model's scope"
"$W" sensors --help | grep -q '`run` counts its' && ok "sensors --help says whose CPU time" \
  || bad "sensors --help: no CPU-time scope"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
