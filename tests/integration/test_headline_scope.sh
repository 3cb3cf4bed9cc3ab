#!/usr/bin/env bash
# The headline energy (energy_scope, energy_j: what J/token, cost and the
# runs list use) of `measure` on fake sysfs trees, end to end through the
# sensors, the sampler and the store, shown by `show --json`:
#  - a laptop: RAPL package and psys, and a discrete GPU (amdgpu, no vddnb).
#    psys is what the platform's power delivery feeds, the dGPU included:
#    the headline is package+gpu, psys stays in the domain table (old:
#    psys+gpu, the dGPU counted twice).
# The energy counters move by a known step during the command (rewritten in
# place: `>` would empty the file first, and a sample in between would read
# nothing); the GPU reads a constant power. The headline's value is checked
# against the stored domains', which are exact counter deltas.
set -u
: "${WATTLENS:?}"
. "$(dirname "$0")/common.sh"
export WATTLENS_DB="$tmp/unused-default.db" # never the user's
export WATTLENS_NVML_LIB=/nonexistent       # no real GPU library, whatever the host has

# zone DIR NAME: a powercap zone whose counter starts at 1 J
zone() {
  local z="$sys/class/powercap/$1"
  mkdir -p "$z"
  echo "$2" >"$z/name"
  echo 262143328850 >"$z/max_energy_range_uj"
  printf '%20d\n' 1000000 >"$z/energy_uj"
}
# hwmon N NAME POWER_UW [in1]: an hwmon device with a constant power1_input
hwmon() {
  local h="$sys/class/hwmon/hwmon$1"
  mkdir -p "$h"
  echo "$2" >"$h/name"
  echo "$3" >"$h/power1_input"
  [ "${4:-}" = in1 ] && echo 900 >"$h/in1_input"
  return 0
}
# measure_show DB CMD: the run's `show --json` on stdout
measure_show() {
  WATTLENS_SYSFS_ROOT="$sys" "$WATTLENS" -q measure --db "$1" -- sh -c "$2" >/dev/null 2>"$tmp/err" ||
    echo "measure failed: $(cat "$tmp/err")" >&2
  local id
  id=$("$WATTLENS" runs --db "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
  "$WATTLENS" show --db "$1" "$id" --json
}
# the check of one run: scope, that the headline is the sum of exactly
# those domains, and each domain's expected energy or power
check=$(
  cat <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
want_scope = sys.argv[2]
want_j = json.loads(sys.argv[3])  # domain -> exact energy (J) of a counter
want_w = json.loads(sys.argv[4])  # domain -> constant power (W)
t = j["totals"]
d = {x["domain"]: x for x in j["domains"]}
assert t["energy_scope"] == want_scope, (t["energy_scope"], want_scope)
for k, v in want_j.items():
    assert abs(d[k]["energy_j"] - v) < 1e-6, (k, d[k], v)
for k, v in want_w.items():
    assert abs(d[k]["avg_power_w"] - v) < 1e-3 * v, (k, d[k], v)
got = t["energy_j"]
want = sum(d[k]["energy_j"] for k in want_scope.split("+"))
assert abs(got - want) < 1e-6, ("headline", got, "want", want, "domains", d)
print("energy %.3f J, scope %s" % (got, t["energy_scope"]))
PY
)

# ---- a laptop: package 3 J, psys 9 J during the command, dGPU 20 W ----
sys="$tmp/lap/sys"
zone intel-rapl:0 package-0
zone intel-rapl:1 psys
hwmon 0 amdgpu 20000000
pc="$sys/class/powercap"
measure_show "$tmp/lap.db" "sleep 0.4; printf '%20d' 4000000 1<>'$pc/intel-rapl:0/energy_uj';
  printf '%20d' 10000000 1<>'$pc/intel-rapl:1/energy_uj'; sleep 0.4" >"$tmp/lap.json"
python3 -c "$check" "$tmp/lap.json" package+gpu '{"package": 3.0, "psys": 9.0}' '{"gpu": 20.0}' &&
  ok "laptop: package+gpu, psys never added to the dGPU" ||
  bad "laptop headline (see above)"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
