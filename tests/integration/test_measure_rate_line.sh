#!/usr/bin/env bash
# measure's samples line gives its rates in three figures: `-i 60000` asks
# for 0.0167 samples/s and one sample has no rate of its own (old: "samples 1
# at 0.0/s (requested 0.0/s)", a wrong figure twice); `-i 1`'s 1000/s is
# whole, not "1e+03/s".
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
"$W" measure --no-store -i 60000 -- true >"$tmp/slow.txt" 2>&1
if grep -q "^  samples         [01] (requested 0\.0167/s)" "$tmp/slow.txt"; then
  ok "-i 60000: requested 0.0167/s, no rate from one sample"
else bad "-i 60000: $(grep samples "$tmp/slow.txt" || cat "$tmp/slow.txt")"; fi
if grep -q "0\.0/s" "$tmp/slow.txt"; then bad "a rate printed as 0.0/s: $(cat "$tmp/slow.txt")"
else ok "no 0.0/s"; fi
"$W" measure --no-store -i 1 -- sleep 0.1 >"$tmp/fast.txt" 2>&1
if grep -Eq "^  samples         [0-9]+ at [0-9.]+/s \(requested 1000/s\)" "$tmp/fast.txt"; then
  ok "-i 1: requested 1000/s"
else bad "-i 1: $(grep samples "$tmp/fast.txt" || cat "$tmp/fast.txt")"; fi
# --json: one sample has no rate and an unjudged rate is neither ok nor not
# (old: "achieved_hz": 0.0 and "rate_ok": true, while the stored run had null)
"$W" measure --no-store --json -i 60000 -- true >"$tmp/slow.json" 2>/dev/null
if python3 - "$tmp/slow.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["sampling"]
assert s["samples"] < 2, s
assert s["achieved_hz"] is None, s
assert s["rate_judged"] is False, s
assert s["rate_ok"] is None, s
PY
then ok "--json: achieved_hz and rate_ok null for an unjudged rate"
else bad "--json: $(cat "$tmp/slow.json")"; fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
