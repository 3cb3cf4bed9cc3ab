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

echo "$pass passed, $fail failed"
[ $fail = 0 ]
