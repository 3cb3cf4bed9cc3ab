#!/usr/bin/env bash
# How many jobs make runs at once (JOBS, from scripts/jobs.sh): the CPUs it
# may run on (nproc), cut to its cgroup's CPU quota, ceil(quota / period),
# at least 1: cgroup v2's cpu.max and v1's cfs quota, of its cgroup and
# the cgroups above it, the tightest. It used to be nproc alone: a
# container given 2 CPUs' time on a 64-CPU host ran 64 compilers. A fake
# cgroup tree (WL_CGROUP_ROOT, WL_PROC_CGROUP) and a stand-in nproc that
# says 8 CPUs (or OMP_NUM_THREADS, which nproc obeys and make should not)
# make every case the same on any machine.
set -u
: "${WL_SOURCE_DIR:?}"
. "$(dirname "$0")/common.sh"
need_tool make make
JOBS_SH=$WL_SOURCE_DIR/scripts/jobs.sh

mkdir -p "$tmp/bin"
printf '#!/bin/sh\necho "${OMP_NUM_THREADS:-8}"\n' >"$tmp/bin/nproc"
chmod +x "$tmp/bin/nproc"
need_stubs "$tmp/bin" nproc

cg=$tmp/cg
# tree V2PATH V1PATH: a fresh fake tree; the process in cgroup V2PATH (v2)
# and V1PATH under the v1 cpu controller (empty: no such line)
tree() {
  rm -rf "$cg"
  mkdir -p "$cg/root$1" "$cg/root/cpu$2"
  { echo "0::$1"; [ -n "$2" ] && echo "4:cpu,cpuacct:$2"; echo "3:cpuset:/"; } >"$cg/self"
}
jobs() { env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT "$@" WL_CGROUP_ROOT="$cg/root" WL_PROC_CGROUP="$cg/self" PATH="$tmp/bin:$PATH" sh "$JOBS_SH"; }
# want N WHAT [VAR=VALUE...]: jobs.sh prints N
want() {
  local n=$1 what=$2 got
  shift 2
  got=$(jobs "$@")
  if [ "$got" = "$n" ]; then ok "$what: $n"; else bad "$what: $got jobs, want $n"; fi
}

tree /user.slice/a ""
want 8 "no quota anywhere"
echo "max 100000" >"$cg/root/user.slice/a/cpu.max"
want 8 "cpu.max max"
for q in "200000 100000:2" "150000 100000:2" "50000 100000:1" "1000 100000:1" "1600000 100000:8" "400000 50000:8"; do
  echo "${q%:*}" >"$cg/root/user.slice/a/cpu.max"
  want "${q#*:}" "cpu.max ${q%:*}"
done
# a quota on a cgroup above (a container's), none on its own
echo "max 100000" >"$cg/root/user.slice/a/cpu.max"
echo "300000 100000" >"$cg/root/user.slice/cpu.max"
want 3 "a parent's cpu.max 300000 100000, its own max"
# both: the tighter
echo "100000 100000" >"$cg/root/user.slice/a/cpu.max"
want 1 "its own 100000 100000 under a parent's 300000 100000"
# at the root of a cgroup namespace (a container sees its cgroup as /)
tree / ""
echo "250000 100000" >"$cg/root/cpu.max"
want 3 "cgroup / with cpu.max 250000 100000"
echo "garbage" >"$cg/root/cpu.max"
want 8 "an unreadable cpu.max: no limit"
# cgroup v1: the cpu controller's cfs quota (-1: none)
tree / /docker/x
echo 250000 >"$cg/root/cpu/docker/x/cpu.cfs_quota_us"
echo 100000 >"$cg/root/cpu/docker/x/cpu.cfs_period_us"
want 3 "v1 cfs quota 250000 over 100000"
echo -1 >"$cg/root/cpu/docker/x/cpu.cfs_quota_us"
want 8 "v1 cfs quota -1"
# OMP_NUM_THREADS is OpenMP's: not make's job count
tree / ""
want 8 "OMP_NUM_THREADS=64 left out" OMP_NUM_THREADS=64

# the Makefile builds and tests with that many jobs (commands `make -n`
# prints: nothing is built or run); a JOBS the caller gives wins
tree / ""
echo "100000 100000" >"$cg/root/cpu.max"
mk() {
  env -u MAKEFLAGS -u MAKELEVEL -u JOBS WL_CGROUP_ROOT="$cg/root" WL_PROC_CGROUP="$cg/self" \
    PATH="$tmp/bin:$PATH" make -n -C "$WL_SOURCE_DIR" BUILD="$tmp/b" "$@" 2>&1
}
out=$(mk build)
if grep -q "cmake --build $tmp/b -j 1\$" <<<"$out"; then ok "make build: -j 1 under a 1-CPU quota"
else bad "make build under a 1-CPU quota: $out"; fi
out=$(mk check)
if grep -q "ctest --output-on-failure -j 1 -LE timing" <<<"$out"; then ok "make check: ctest -j 1 under a 1-CPU quota"
else bad "make check under a 1-CPU quota: $out"; fi
out=$(mk JOBS=5 build)
if grep -q "cmake --build $tmp/b -j 5\$" <<<"$out"; then ok "make JOBS=5: 5"
else bad "make JOBS=5 build: $out"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
