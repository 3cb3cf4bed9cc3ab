#!/usr/bin/env bash
# The headline energy (energy_scope, energy_j: what J/token, cost and the
# runs list use) of `measure` on fake sysfs trees, end to end through the
# sensors, the sampler and the store, shown by `show --json`:
#  - a laptop: RAPL package and psys, and a discrete GPU (amdgpu, no vddnb).
#    psys is what the platform's power delivery feeds, the dGPU included:
#    the headline is package+gpu, psys stays in the domain table (old:
#    psys+gpu, the dGPU counted twice);
#  - an AMD APU (amdgpu with vddnb: the socket, CPU included) next to RAPL
#    and a discrete GPU, NVIDIA's (a fake NVML) or an amdgpu card: the
#    headline is gpu+soc, the package inside the socket left out (old: soc
#    alone, the dGPU dropped from every total);
#  - Apple silicon (a fake powermetrics streaming the real captures):
#    combined (soc) alone, its cpu, gpu and ane being parts of it.
# The energy counters move by a known step during the command (rewritten in
# place: `>` would empty the file first, and a sample in between would read
# nothing); the GPU reads a constant power. The headline's value is checked
# against the stored domains', which are exact counter deltas.
set -u
: "${WATTLENS:?}"
. "$(dirname "$0")/common.sh"
# (common.sh: never the user's database, no real GPU library)

# zone DIR NAME: a powercap zone under $sys whose counter starts at 1 J
zone() { fake_zone "$1" "$2" 1000000 "$sys" >/dev/null; }
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
# `sensors` says so (old: "never summed with them" while it was summed with the GPU)
WATTLENS_SYSFS_ROOT="$sys" "$WATTLENS" sensors >"$tmp/lap.txt" 2>&1
grep -q "psys .*(contains the packages, and maybe a laptop's GPU: never summed with either)" \
  "$tmp/lap.txt" && ok "sensors: psys is never summed" || bad "sensors on psys: $(grep psys "$tmp/lap.txt")"

# ---- an AMD APU at 25 W, the package 3 J inside it, and a dGPU ----
sys="$tmp/apu/sys"
zone intel-rapl:0 package-0
hwmon 0 amdgpu 25000000 in1
pc="$sys/class/powercap"
bump="sleep 0.4; printf '%20d' 4000000 1<>'$pc/intel-rapl:0/energy_uj'; sleep 0.4"
fake_nvml="${WL_BINARY_DIR:-}/libfake_nvml.so"
if [ -f "$fake_nvml" ]; then
  # one fake NVIDIA GPU drawing 50 W (its energy counter)
  WATTLENS_NVML_LIB="$fake_nvml" FAKE_NVML_GPUS=1 measure_show "$tmp/apu.db" "$bump" >"$tmp/apu.json"
  python3 -c "$check" "$tmp/apu.json" gpu+soc '{"package": 3.0}' '{"soc": 25.0, "gpu": 50.0}' &&
    ok "APU + NVIDIA dGPU: the socket and the dGPU" ||
    bad "APU + NVIDIA dGPU headline (see above)"
else
  bad "fake NVML library not built at $fake_nvml"
fi
# a discrete amdgpu card (no vddnb) at 80 W
hwmon 1 amdgpu 80000000
printf '%20d\n' 1000000 >"$pc/intel-rapl:0/energy_uj"
measure_show "$tmp/apu2.db" "$bump" >"$tmp/apu2.json"
python3 -c "$check" "$tmp/apu2.json" gpu+soc '{"package": 3.0}' '{"soc": 25.0, "gpu": 80.0}' &&
  ok "APU + amdgpu dGPU: the socket and the dGPU" ||
  bad "APU + amdgpu dGPU headline (see above)"
WATTLENS_SYSFS_ROOT="$sys" "$WATTLENS" sensors --json >"$tmp/apu2s.json" 2>/dev/null
python3 - "$tmp/apu2s.json" <<'PY' && ok "sensors: the APU's dGPU is no part" || bad "sensors --json on APU + dGPU (see above)"
import json, sys
j = json.load(open(sys.argv[1]))
ch = [c for x in j["backends"] if x["backend"] == "hwmon" for c in x["channels"]]
gpu = [c for c in ch if c["domain"] == "gpu"]
soc = [c for c in ch if c["domain"] == "soc"]
assert gpu and soc, ch
# the soc holds the CPU, not this GPU (Apple's gpu is part_of_another_domain)
assert not any(c["part_of_another_domain"] for c in gpu + soc), ch
assert all(c["contains_other_domains"] for c in soc), ch
PY

# ---- Apple silicon: the real powermetrics captures, over and over ----
if have_data "${WL_TESTDATA:-}/powermetrics/powermetrics-output-m1.xml" "the Apple case"; then
  sys="$tmp/mac/sys"
  mkdir -p "$sys"
  pm="$tmp/powermetrics"
  {
    echo '#!/bin/sh'
    echo "d='$WL_TESTDATA/powermetrics'"
    # 40 rounds (6 s): bounded, should wattlens fail to stop it
    echo 'i=0; while [ $i -lt 40 ]; do i=$((i + 1)); for f in m1 m1-2 m2ultra; do'
    echo '  cat "$d/powermetrics-output-$f.xml"; printf "\0"; sleep 0.05'
    echo 'done; done'
  } >"$pm"
  chmod +x "$pm"
  WATTLENS_POWERMETRICS="$pm" WATTLENS_DEV_ROOT="$tmp/mac/dev" WATTLENS_PROC_ROOT="$tmp/mac/proc" \
    measure_show "$tmp/mac.db" "sleep 1" >"$tmp/mac.json"
  WATTLENS_POWERMETRICS="$pm" WATTLENS_DEV_ROOT="$tmp/mac/dev" WATTLENS_PROC_ROOT="$tmp/mac/proc" \
    WATTLENS_SYSFS_ROOT="$sys" "$WATTLENS" sensors --json >"$tmp/macs.json" 2>/dev/null
  python3 - "$tmp/macs.json" <<'PY' && ok "sensors: Apple's cpu, gpu, ane" || bad "sensors --json on Apple (see above)"
import json, sys
j = json.load(open(sys.argv[1]))
b = {x["backend"]: x for x in j["backends"]}
ch = {c["name"]: c for c in b["powermetrics"]["channels"]}
# parts of combined, not of the package
assert not any(c["part_of_package"] for c in ch.values()), ch
assert ch["combined"]["contains_other_domains"], ch
# ... which JSON tells: an Apple gpu is inside combined (an APU's dGPU is not)
assert all(ch[n]["part_of_another_domain"] for n in ("cpu", "gpu", "ane") if n in ch), ch
assert ch["gpu"]["part_of_another_domain"], ch
assert not ch["combined"]["part_of_another_domain"], ch
PY
  python3 -c "$check" "$tmp/mac.json" soc '{}' '{}' &&
    python3 - "$tmp/mac.json" <<'PY' && ok "Apple: combined alone" || bad "Apple headline (see above)"
import json, sys
j = json.load(open(sys.argv[1]))
d = {x["domain"]: x for x in j["domains"]}
# the captures' GPU draws (72607 mJ in one): adding it would show
assert d["gpu"]["energy_j"] > 1 and d["package"]["energy_j"] > 0, d
assert abs(d["soc"]["energy_j"] - d["package"]["energy_j"] - d["gpu"]["energy_j"]
           - d["ane"]["energy_j"]) < 1e-6 * d["soc"]["energy_j"], d
PY
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
