#!/usr/bin/env bash
# ctest-labels: timing (the measured command moves a fake counter while `measure` samples)
# An energy counter moves in steps; a command spanning fewer than 10 of its
# update periods gets a few whole steps (a 1.5 s command on a once-a-second
# counter read 20 J or 40 J for 30 J). measure says so: --json
# exact_counter_window false, below_resolution true, update_period_ms and
# energy_step_j given; the text names the domain under "below resolution"
# with its period and step. A command spanning many periods keeps
# exact_counter_window true and no such note. Old: exact_counter_window
# true for both, no period, no step, no note.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
pk=$(fake_zone intel-rapl:0 package-0 1000000) || { echo "FAIL: no fake powercap zone"; exit 1; }
# mover STEPS PAUSE: the command moves package 20 mJ every PAUSE seconds
mover() {
  echo "i=0; while [ \$i -lt $1 ]; do printf '%020d\n' \$((1000000 + i * 20000)) 1<>'$pk'; \
i=\$((i + 1)); sleep $2; done"
}
# coarse: a step every 0.25 s over 1 s (period ~250 ms: 10 periods are 2.5 s)
"$W" measure --no-store -i 10 -- sh -c "$(mover 5 0.25)" >"$tmp/c.txt" 2>"$tmp/c.err"
printf '%020d\n' 1000000 1<>"$pk"
"$W" measure --no-store --json -i 10 -- sh -c "$(mover 5 0.25)" >"$tmp/c.json" 2>/dev/null
printf '%020d\n' 1000000 1<>"$pk"
# fine: a step every ~5 ms over ~0.8 s (10 periods are ~60 ms)
"$W" measure --no-store --json -i 10 -- sh -c "$(mover 150 0.005)" >"$tmp/f.json" 2>/dev/null
check() {
  python3 - "$1" "$tmp/c.txt" "$tmp/c.json" "$tmp/f.json" >"$tmp/py.txt" 2>&1 <<'PY'
import json, re, sys
what, t = sys.argv[1], open(sys.argv[2]).read()
c = {x["domain"]: x for x in json.load(open(sys.argv[3]))["domains"]}["package"]
f = {x["domain"]: x for x in json.load(open(sys.argv[4]))["domains"]}["package"]
if what == "json":
    assert c["energy_j"] is not None and c["energy_j"] > 0, c
    assert c.get("exact_counter_window") is False, c
    assert c.get("below_resolution") is True, c
    p = c.get("update_period_ms")
    assert p is not None and 100 < p < 600, c
    s = c.get("energy_step_j")
    assert s is not None and s > 0, c
elif what == "fine":
    assert f.get("exact_counter_window") is True, f
    assert f.get("below_resolution") is False, f
    assert f.get("update_period_ms") is not None and f["update_period_ms"] < 50, f
elif what == "text":
    m = re.search(r"^  below resolution: the command \([0-9.]+ s\) spans fewer than 10 update "
                  r"periods of\n.*\n    package  updated every ([0-9.]+) ms: one step is about "
                  r"([0-9.]+) J", t, re.M)
    assert m and 100 < float(m.group(1)) < 600 and float(m.group(2)) > 0, t
PY
}
if check json; then ok "--json: a coarse counter's window is below resolution, with its period and step"
else bad "coarse --json: $(cat "$tmp/py.txt")"; fi
if check fine; then ok "--json: a fine counter's window stays exact"
else bad "fine --json: $(cat "$tmp/py.txt")"; fi
if check text; then ok "the text names package below resolution with its period and step"
else bad "coarse text: $(cat "$tmp/py.txt")"; fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
