#!/usr/bin/env bash
# ctest-labels: timing (the sampler calls a counter stuck after 100 ms of flat reads; the command runs 0.3 s)
# A stuck RAPL package counter next to a second counter sensor (an amdgpu
# hwmon energy1_input): a mark's time is the middle of both sensors' reads,
# so the stuck gap, which ends at RAPL's own read, ends a little before the
# window's end mark. measure must still call package not measured (n/a,
# method null), store it so, and agree with run's rule (the sampler's
# wl_sampler_stuck_over over the window). Old: measure printed and stored
# "0.000 J measured (energy counter)" for package.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
export WATTLENS_DB="$tmp/runs.db"
fake_zone intel-rapl:0 package-0 5000000 >/dev/null || { echo "FAIL: no fake powercap zone"; exit 1; }
h="$tmp/sys/class/hwmon/hwmon0"
mkdir -p "$h" && echo amdgpu >"$h/name" && echo 1000000 >"$h/energy1_input"
"$W" measure --no-store -i 10 -- sleep 0.3 >"$tmp/m.txt" 2>"$tmp/m.err"
if grep -q "package-0: its energy counter did not change once" "$tmp/m.err"; then ok "measure warns"
else bad "no stuck warning: $(cat "$tmp/m.err")"; fi
if grep -qE "^  package +n/a .*none: not measured \(sensor gap\)" "$tmp/m.txt" \
   && ! grep -E "^  package " "$tmp/m.txt" | grep -q "measured (energy counter)"; then
  ok "measure: package n/a, not measured"
else bad "measure row: $(cat "$tmp/m.txt")"; fi
"$W" measure --no-store --json -i 10 -- sleep 0.3 >"$tmp/m.json" 2>/dev/null
if python3 -c '
import json, sys
d = {x["domain"]: x for x in json.load(open(sys.argv[1]))["domains"]}
p = d["package"]
assert p["energy_lost"] is True and p["method"] is None and p["measured"] is False, p
assert "gpu" in d and d["gpu"]["energy_lost"] is False, d.get("gpu")
' "$tmp/m.json"; then ok "measure --json: package method null, measured false; gpu measured"
else bad "measure --json: $(head -c 900 "$tmp/m.json")"; fi
"$W" measure -i 10 -- sleep 0.3 >/dev/null 2>"$tmp/ms.err"
mid=$(sed -n 's/.*saved as run \([0-9a-f-]*\).*/\1/p' "$tmp/ms.err")
if [ -n "$mid" ] && python3 - "$WATTLENS_DB" "$mid" <<'PY'
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
(rid, e, extra), = c.execute("select id, energy_j, extra from runs").fetchall()
d = c.execute("select energy_j from run_domains where run_id = ? and domain = 'package'",
              (rid,)).fetchone()
assert d == (None,), ("package energy", d)
assert json.loads(extra)["energy_unknown"]["not_measuring"] == ["package"], extra
PY
then ok "stored measure run: package NULL, not_measuring"
else bad "stored measure run $mid: $(cat "$tmp/ms.err")"; fi
"$W" show "$mid" >"$tmp/ms.txt" 2>&1
if grep -qE "^  package +none \(stuck\) +n/a" "$tmp/ms.txt"; then ok "show: package none (stuck)"
else bad "show of $mid: $(head -30 "$tmp/ms.txt")"; fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
