#!/usr/bin/env bash
# `wattlens sensors` prints a channel's resolution in J from 1 J up (Sapphire
# Rapids' psys counts in 1 J units): it printed "1e+03 mJ". A static fake
# powercap tree of a Sapphire Rapids (family 6 model 0x8F) with a psys zone.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"

R=$tmp/spr
mkdir -p "$R/sys/class/powercap" "$R/sys/devices/system/cpu/cpu0/topology"
echo "cpu:type:x86,ven0000fam0006mod008F:feature:,0000" >"$R/sys/devices/system/cpu/modalias"
echo 0 >"$R/sys/devices/system/cpu/cpu0/topology/physical_package_id"
zone() {
  local d=$R/sys/class/powercap/$1
  mkdir -p "$d"
  echo "$2" >"$d/name"
  echo 1000000 >"$d/energy_uj"
  echo 262143328850 >"$d/max_energy_range_uj"
}
zone intel-rapl:0 package-0
zone intel-rapl:1 psys

WATTLENS_SYSFS_ROOT=$R/sys "$W" sensors >"$tmp/out" 2>"$tmp/err"; rc=$?
line=$(grep -E '^ +psys +psys ' "$tmp/out")
if [ $rc = 0 ] && echo "$line" | grep -qE 'counter\) +1 J( |$)'; then
  ok "psys resolution 1 J"
else
  bad "psys resolution (rc $rc): '$line'"
  cat "$tmp/out" "$tmp/err"
fi
if grep -q 'e+' "$tmp/out"; then bad "a resolution in e+ notation: $(grep 'e+' "$tmp/out")"; else ok "no e+ notation"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
