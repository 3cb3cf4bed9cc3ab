#!/usr/bin/env bash
# ctest-labels: timing (the sampler calls a counter stuck after 100 ms of flat reads; the idle baseline gives it that time)
# A RAPL package counter that never changes (a VM's frozen counter) is no
# measurement: `run` stores no 0 J labelled "measured (energy counter)".
# The run's total, every section and token row, and package's energy,
# power, peak and baseline are unknown (NULL, n/a); runs.extra
# energy_unknown names package as not measuring; `show` says so in the
# energy line, a NOTE and the domain table's METHOD ("none (stuck)", --json
# method null, not_measuring true) next to the stored sensor gap; and
# `measure` labels its n/a row so too (method null, measured false).
# Old: the run stored 0 J measured for all of them.
set -u
W=${WATTLENS:?}
D=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"
export WATTLENS_DB="$tmp/runs.db"
fake_zone intel-rapl:0 package-0 5000000 >/dev/null || { echo "FAIL: no fake powercap zone"; exit 1; }
model=$D/models/stories260K.gguf
skip_no_data "$model"
"$W" run -m "$model" -n 6 -t 1 --temp 0 --depth module --baseline 0.3 --settle 0 -p "Once" \
  >"$tmp/r.txt" 2>"$tmp/r.err"
rc=$?
id=$(sed -n 's/^Run \([0-9a-f-]*\) stored in.*/\1/p' "$tmp/r.txt")
if [ $rc = 0 ] && [ -n "$id" ]; then ok "run stored $id"; else bad "run (rc $rc)"; cat "$tmp/r.err"; fi
if grep -q "package-0: its energy counter did not change once" "$tmp/r.err"; then ok "run warns"
else bad "no stuck warning: $(cat "$tmp/r.err")"; fi
python3 - "$WATTLENS_DB" >"$tmp/db.txt" 2>&1 <<'PY'
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
(rid, e, extra), = c.execute("select id, energy_j, extra from runs").fetchall()
assert e is None, ("run energy", e)
d = c.execute("select energy_j, avg_power_w, peak_power_w, baseline_power_w from run_domains "
              "where run_id = ? and domain = 'package'", (rid,)).fetchone()
assert d == (None, None, None, None), ("package figures", d)
n, ne = c.execute("select count(*), count(energy_j) from tokens where run_id = ?", (rid,)).fetchone()
assert n > 0 and ne == 0, ("tokens with energy", n, ne)
n, ne, np = c.execute("select count(*), count(energy_j), count(package_j) from sections "
                      "where run_id = ?", (rid,)).fetchone()
assert n > 0 and ne == 0 and np == 0, ("sections with energy", n, ne, np)
n, ne = c.execute("select count(*), count(power_w) from tokens where run_id = ? and is_input = 0",
                  (rid,)).fetchone()
assert ne == 0, ("output tokens with a power", n, ne)
x = json.loads(extra)
u = x["energy_unknown"]
assert u["not_measuring"] == ["package"] and u["not_measuring_token_rows"] > 0, u
assert any("did not change once (it updates about every 1 ms)" in g["why"] for g in x["gaps"]), x["gaps"]
PY
if [ $? = 0 ]; then ok "the stored run has no package figure, no 0 J"; else bad "stored run: $(cat "$tmp/db.txt")"; fi
if [ -n "$id" ]; then
  "$W" show "$id" >"$tmp/s.txt" 2>&1
  "$W" show "$id" --json >"$tmp/s.json" 2>&1
  if grep -q "^  energy     n/a  (unknown: an energy counter was not measuring" "$tmp/s.txt" \
     && grep -q "NOTE: the energy counter of package was not measuring" "$tmp/s.txt" \
     && grep -qE "^  package +none \(stuck\) +n/a" "$tmp/s.txt" \
     && grep -q "sensor gaps: 1 " "$tmp/s.txt"; then ok "show: n/a, why, no method"
  else bad "show: $(head -30 "$tmp/s.txt")"; fi
  if python3 - "$tmp/s.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
s = j.get("summary", j)
def find(o, key):
    if isinstance(o, dict):
        if key in o: return o[key]
        for v in o.values():
            r = find(v, key)
            if r is not None: return r
    if isinstance(o, list):
        for v in o:
            r = find(v, key)
            if r is not None: return r
doms = find(j, "domains")
pk = [d for d in doms if isinstance(d, dict) and d.get("domain") == "package" and "not_measuring" in d]
assert pk and pk[0]["method"] is None and pk[0]["not_measuring"] is True and pk[0]["energy_j"] is None, pk
PY
  then ok "show --json: package method null, not_measuring"; else bad "show --json: $(head -c 600 "$tmp/s.json")"; fi
fi
# measure: the stuck package's row names no method of a measurement
"$W" measure --no-store -i 10 -- sleep 0.3 >"$tmp/m.txt" 2>/dev/null
"$W" measure --no-store --json -i 10 -- sleep 0.3 >"$tmp/m.json" 2>/dev/null
if grep -qE "^  package +n/a .*none: not measured \(sensor gap\)" "$tmp/m.txt" \
   && ! grep -E "^  package " "$tmp/m.txt" | grep -q "measured (energy counter)"; then
  ok "measure: the n/a row's method"
else bad "measure row: $(cat "$tmp/m.txt")"; fi
if python3 -c '
import json, sys
d = {x["domain"]: x for x in json.load(open(sys.argv[1]))["domains"]}["package"]
assert d["energy_lost"] is True and d["method"] is None and d["measured"] is False, d
' "$tmp/m.json"; then ok "measure --json: method null, measured false"
else bad "measure --json: $(head -c 600 "$tmp/m.json")"; fi
# a stored measure run of it: show names no method for package either
"$W" measure -i 10 -- sleep 0.3 >/dev/null 2>"$tmp/ms.err"
mid=$(sed -n 's/.*saved as run \([0-9a-f-]*\).*/\1/p' "$tmp/ms.err")
"$W" show "$mid" >"$tmp/ms.txt" 2>&1
if [ -n "$mid" ] && grep -qE "^  package +none \(stuck\) +n/a +n/a +n/a +n/a +n/a" "$tmp/ms.txt"; then
  ok "show of a measure run: package n/a, none (stuck)"
else bad "show of the measure run $mid: $(cat "$tmp/ms.err" "$tmp/ms.txt" | head -30)"; fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
