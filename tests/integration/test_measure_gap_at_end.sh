#!/usr/bin/env bash
# ctest-labels: timing (a fake counter is broken for good while `measure` samples)
# An energy counter whose reads fail until the end (a zone gone for good,
# powermetrics that exited) takes its gap in at no later read: its energy
# from the gap's start to the end is not counted. The gap lines of measure
# and show, and the stored gap (energy_counted false, lost_domains), say so,
# as the domain's n/a row does. Old: "1 failed read of energy counters,
# which kept counting", energy_counted true and lost_domains [].
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
export WATTLENS_DB="$tmp/runs.db"
pk=$(fake_zone intel-rapl:0 package-0 5000000) || { echo "FAIL: no fake powercap zone"; exit 1; }
dr=$(fake_zone intel-rapl:0:0 dram 5000000) || { echo "FAIL: no fake dram zone"; exit 1; }
# both move every ~5 ms as real counters do (a flat one is a stuck gap of
# its own), each from one process (fake_counter: no fork per step that a
# loaded host could stall past 100 ms); dram's file reads "garbage" after
# ~0.3 s and for the rest of the command
fake_counter "$pk" 5000000 || exit 1
pk_pid=$fc_pid
fake_counter "$dr" 5000000 move:60 garbage:60 || { kill "$pk_pid"; exit 1; }
dr_pid=$fc_pid
"$W" measure -i 10 -- sleep 0.7 >"$tmp/m.txt" 2>"$tmp/m.err"
kill "$pk_pid" "$dr_pid" 2>/dev/null
wait "$pk_pid" "$dr_pid" 2>/dev/null
id=$(sed -n 's/.*saved as run \([0-9a-f-]*\).*/\1/p' "$tmp/m.err")
if [ ${#id} = 36 ]; then ok "measure stored $id"; else bad "measure: $(cat "$tmp/m.err")"; fi
if grep -q "sensor gaps: 1 (.*NOT counted.*dram" "$tmp/m.txt" && ! grep -q "kept counting" "$tmp/m.txt"
then ok "measure's gap line: NOT counted"
else bad "measure's gap line: $(grep -i 'gap' "$tmp/m.txt")"; fi
"$W" show "$id" >"$tmp/s.txt" 2>&1
if grep -q "sensor gaps: 1 (.*NOT counted.*dram" "$tmp/s.txt" && ! grep -q "kept counting" "$tmp/s.txt"
then ok "show's gap line: NOT counted"
else bad "show's gap line: $(grep -i 'gap' "$tmp/s.txt")"; fi
# the dram row is n/a in both (its energy is unknown from the gap on), so the
# gap line calls its figures n/a, not "low by it", and its method is none
# (old: "the dram figures are low by it" beside the n/a row, measure's
# method "measured (energy counter)")
for f in m s; do
  if tr '\n' ' ' <"$tmp/$f.txt" | grep -q "dram figures are n/a" \
    && ! tr '\n' ' ' <"$tmp/$f.txt" | grep -q "dram figures are low"
  then ok "$f: the dram figures are n/a"
  else bad "$f: $(grep -i "gap" "$tmp/$f.txt")"; fi
done
if grep -E "^  dram +n/a" "$tmp/m.txt" | grep -q "none: not measured"
then ok "measure's dram row: n/a, no method"
else bad "measure's dram row: $(grep -E '^  dram' "$tmp/m.txt")"; fi
"$W" show "$id" --json >"$tmp/s.json" 2>/dev/null
if python3 - "$tmp/s.json" >"$tmp/py.txt" 2>&1 <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
def find(o):
    if isinstance(o, dict):
        if "gaps" in o and isinstance(o["gaps"], list) and o["gaps"] and "energy_counted" in o["gaps"][0]:
            return o["gaps"]
        for v in o.values():
            r = find(v)
            if r is not None:
                return r
    elif isinstance(o, list):
        for v in o:
            r = find(v)
            if r is not None:
                return r
g = find(j)
assert g and len(g) == 1, g
g = g[0]
assert g["end_ms"] is None and g["energy_counted"] is False and g["lost_domains"] == ["dram"], g
PY
then ok "show --json: the open gap's energy is not counted, dram lost"
else bad "show --json: $(cat "$tmp/py.txt")"; fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
