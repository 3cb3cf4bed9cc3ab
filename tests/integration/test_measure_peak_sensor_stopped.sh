#!/usr/bin/env bash
# ctest-labels: timing (a fake powermetrics exits 0.4 s into a 1.5 s command)
# A sensor that stops early (powermetrics exits; its reads fail to the end:
# an open gap) leaves too little data for a peak over its power window
# although the command lasted longer than that window. measure says the
# sensor stopped and when, not "the command was shorter than one power
# window" (old: that, for a 1.5 s command and a 1000 ms window).
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
skip_no_data "${WL_TESTDATA:-}/powermetrics/powermetrics-output-m1.xml"
# one capture whose sample lasted 100 ms: a 1000 ms power window
sed 's#<key>elapsed_ns</key><integer>[0-9]*#<key>elapsed_ns</key><integer>100000000#' \
  "$WL_TESTDATA/powermetrics/powermetrics-output-m1.xml" >"$tmp/m1fast.xml"
grep -q '<integer>100000000' "$tmp/m1fast.xml" || { echo "FAIL: no elapsed_ns in the capture"; exit 1; }
pm="$tmp/powermetrics"
{
  echo '#!/bin/sh'
  echo 'i=0; while [ $i -lt 8 ]; do i=$((i + 1));'
  echo "  cat '$tmp/m1fast.xml'; printf '\\0'; sleep 0.05"
  echo 'done'
} >"$pm"
chmod +x "$pm"
mkdir -p "$tmp/mac/dev" "$tmp/mac/proc"
WATTLENS_POWERMETRICS="$pm" WATTLENS_DEV_ROOT="$tmp/mac/dev" WATTLENS_PROC_ROOT="$tmp/mac/proc" \
  "$W" measure --no-store -- sleep 1.5 >"$tmp/m.txt" 2>&1
grep -q "sensor gap .*\.\. end" "$tmp/m.txt" && ok "the stopped sensor's gap is open" ||
  bad "no open gap: $(cat "$tmp/m.txt")"
grep -q "shorter than one power window" "$tmp/m.txt" &&
  bad "a 1.5 s command called shorter than its 1000 ms window: $(cat "$tmp/m.txt")" || ok "not called short"
tr '\n' ' ' <"$tmp/m.txt" | grep -Eq "peak '-' \(package[^)]*\): the sensor stopped at 0\.[0-9]+ s \(its reads failed to the +end\): too little data for a peak over its 1000 ms power window" &&
  ok "the note says the sensor stopped and when" || bad "no stopped-sensor note: $(cat "$tmp/m.txt")"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
