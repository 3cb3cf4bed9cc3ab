#!/usr/bin/env bash
# ctest-labels: timing (the measured command moves fake counters while `measure` samples)
# measure prints the headline total the stored run has (`runs`, `show`: the
# widest domains that do not overlap, here package+dram, core being part of
# package) with its scope and method, and --json has energy_j,
# energy_scope and energy_method; the stored run's energy is that same
# figure. Old: only the domain rows (package, core, dram), no total.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"
pk=$(fake_zone intel-rapl:0 package-0 1000000) || { echo "FAIL: no fake zone"; exit 1; }
co=$(fake_zone intel-rapl:0:0 core 1000000) || { echo "FAIL: no fake zone"; exit 1; }
dr=$(fake_zone intel-rapl:0:1 dram 1000000) || { echo "FAIL: no fake zone"; exit 1; }
mover="i=0; while [ \$i -lt 60 ]; do printf '%020d\n' \$((1000000 + i * 20000)) 1<>'$pk'; \
printf '%020d\n' \$((1000000 + i * 10000)) 1<>'$co'; printf '%020d\n' \$((1000000 + i * 5000)) 1<>'$dr'; \
i=\$((i + 1)); sleep 0.005; done"
"$W" measure --no-store -i 10 -- sh -c "$mover" >"$tmp/m.txt" 2>&1
for z in "$pk" "$co" "$dr"; do printf '%020d\n' 1000000 1<>"$z"; done
WATTLENS_DB="$tmp/t.db" "$W" measure --json -i 10 -- sh -c "$mover" >"$tmp/m.json" 2>/dev/null
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/m.json")
WATTLENS_DB="$tmp/t.db" "$W" show "$id" --json >"$tmp/s.json" 2>/dev/null
python3 - "$tmp/m.txt" "$tmp/m.json" "$tmp/s.json" >"$tmp/py.txt" 2>&1 <<'PY'
import json, re, sys
t = open(sys.argv[1]).read()
m = re.search(r"^  total energy +([0-9.]+) J \(package\+dram\), measured \(energy counter\)$", t, re.M)
assert m, t
rows = {k: float(v) for k, v in re.findall(r"^  (package|core|dram) +([0-9.]+) ", t, re.M)}
assert abs(float(m.group(1)) - (rows["package"] + rows["dram"])) < 0.002, (m.group(1), rows)
j = json.load(open(sys.argv[2]))
d = {x["domain"]: x["energy_j"] for x in j["domains"]}
assert j["energy_scope"] == "package+dram" and j["energy_method"] == "counter", j
assert abs(j["energy_j"] - (d["package"] + d["dram"])) < 1e-9, (j["energy_j"], d)
s = json.load(open(sys.argv[3]))
tot = s["totals"]["energy_j"]
assert abs(tot - j["energy_j"]) < 1e-6, (tot, j["energy_j"])
PY
if [ $? = 0 ]; then ok "the total, its scope and method, as the stored run has it"
else bad "measure's total: $(cat "$tmp/py.txt")"; fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
