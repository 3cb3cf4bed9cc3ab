#!/usr/bin/env bash
# ctest-labels: timing (a fake sensor file is broken while `measure` samples)
# measure's line per sensor gap says "NOT counted" exactly when the summary
# line after it does (the gap's lost_mask): a failed read of a power-only
# channel (hwmon power1_input) loses the energy over the gap. Old: the
# per-gap line decided from counter_fell and printed a plain
# "sensor gap A s .. recovered (error)" right above a summary line saying
# the energy in it is NOT counted.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
h="$tmp/sys/class/hwmon/hwmon0" # in the empty sysfs common.sh points wattlens at
mkdir -p "$h"
echo amdgpu >"$h/name"; echo PPT >"$h/power1_label"; echo 20000000 >"$h/power1_input"
"$W" measure --no-store -i 10 -- sh -c "sleep 0.4; echo garbage >'$h/power1_input'; sleep 0.3; \
  echo 20000000 >'$h/power1_input'; sleep 0.4" >"$tmp/m.txt" 2>&1
if grep -q "sensor gaps: 1 (.*NOT counted" "$tmp/m.txt"; then ok "the summary line: NOT counted"
else bad "no summary line saying NOT counted: $(cat "$tmp/m.txt")"; fi
if grep -q "^  sensor gap  .*: its energy\$" "$tmp/m.txt" &&
   grep -q "^                  in between is NOT counted" "$tmp/m.txt"; then
  ok "the gap's own line: NOT counted"
else bad "the gap's own line does not say NOT counted: $(grep -A1 '^  sensor gap  ' "$tmp/m.txt")"; fi
if grep -q "^  sensor gap .*recovered" "$tmp/m.txt"; then bad "a lost gap printed as plain recovered"
else ok "no plain recovered line"; fi

# A counter's reads fail for 2 s and its range wraps in 1 s at 1 kW: the
# failed reads are one gap and the discontinuity the next good read finds
# (how many times it wrapped is unknown) another over the same time. Each
# line gives its end time, and the time in all is their union's length.
# Old: the failed reads' line said ".. recovered" with no end, and the line
# summed the two (4.0 s of gaps in a 2.8 s command).
e=$(fake_zone intel-rapl:0 package-0 5000000) || { echo "FAIL: no fake powercap zone"; exit 1; }
echo 1000000000 >"${e%/*}/max_energy_range_uj"
"$W" measure --no-store -i 10 -- sh -c "sleep 0.3; echo garbage >'$e'; sleep 2; \
  printf '%020d\n' 9000000 >'$e'; sleep 0.5" >"$tmp/w.txt" 2>&1
if python3 - "$tmp/w.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
spans = [(float(a), float(b)) for a, b in
         re.findall(r"^  sensor gap +([0-9.]+) s \.\. ([0-9.]+) s ", t, re.M)]
lines = re.findall(r"^  sensor gap .*", t, re.M)
assert len(lines) == 2 and len(spans) == 2, ("each gap's line has its end time", lines)
assert "wrap" in t, "no ambiguous-wrap gap"
m = re.search(r"sensor gaps: 2 \(([0-9.]+) s in all", t)
assert m, "no summary line"
spans.sort()
union, (a, b) = 0.0, spans[0]
for c, d in spans[1:]:
    if c > b:
        union += b - a; a, b = c, d
    else:
        b = max(b, d)
union += b - a
# the printed times are rounded to 1 ms
assert abs(float(m.group(1)) - union) < 0.005, (m.group(1), union, spans)
PY
then ok "overlapping gaps: each line has its end, the time in all is their union"
else bad "overlapping gaps: $(cat "$tmp/w.txt")"; fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
