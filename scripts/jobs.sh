#!/bin/sh
# Prints how many jobs make runs at once (the Makefile's JOBS): the CPUs
# this process may run on (nproc: its affinity mask), cut to the CPU quota
# of its cgroup, ceil(quota / period) and at least 1. A container given 2
# CPUs' time on a 64-CPU host has 64 CPUs in its mask: 64 compilers would
# share 2 CPUs' time (and their memory). The quotas read are cgroup v2's
# cpu.max ("QUOTA PERIOD", or "max QUOTA": none) and v1's
# cpu.cfs_quota_us / cpu.cfs_period_us (-1: none), of the process's cgroup
# and of every cgroup above it (a container's limit may sit on a parent):
# the tightest counts. OMP_NUM_THREADS and OMP_THREAD_LIMIT, which nproc
# obeys, are for OpenMP programs, not make: they are left out.
# WL_CGROUP_ROOT (default /sys/fs/cgroup) and WL_PROC_CGROUP (default
# /proc/self/cgroup) let a test point it at a fake tree.
root=${WL_CGROUP_ROOT:-/sys/fs/cgroup}
self=${WL_PROC_CGROUP:-/proc/self/cgroup}

n=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null) ||
  n=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || n=
case $n in '' | *[!0-9]*) n=2 ;; esac
[ "$n" -ge 1 ] || n=1
jobs=$n

# quota QUOTA PERIOD: jobs becomes ceil(QUOTA / PERIOD) when that is fewer
# (a QUOTA of "max" or -1, or anything but two whole numbers: no limit)
quota() {
  case $1$2 in '' | *[!0-9]*) return 0 ;; esac
  [ "$2" -gt 0 ] || return 0
  c=$((($1 + $2 - 1) / $2))
  [ "$c" -ge 1 ] || c=1
  [ "$c" -lt "$jobs" ] && jobs=$c
  return 0
}

# walk TOP DIR: DIR and every directory above it up to TOP (both included),
# each read by read_limit
walk() {
  d=${2%/}
  while :; do
    read_limit "$d"
    [ "$d" = "${1%/}" ] || [ -z "$d" ] && break
    case $d in "${1%/}"/*) d=${d%/*} ;; *) break ;; esac
  done
}

# cgroup v2: the line "0::PATH"; v1: "N:CONTROLLERS:PATH" with cpu among
# CONTROLLERS, mounted at ROOT/cpu (also named cpu,cpuacct)
if [ -r "$self" ]; then
  v2=$(sed -n 's/^0:://p' "$self" | head -n 1)
  if [ -n "$v2" ]; then
    read_limit() {
      [ -r "$1/cpu.max" ] && read -r q p <"$1/cpu.max" && quota "$q" "$p"
      return 0
    }
    walk "$root" "$root$v2"
  fi
  v1=$(sed -n 's/^[0-9]*:\(.*,\)\{0,1\}cpu\(,.*\)\{0,1\}:\(.*\)$/\3/p' "$self" | head -n 1)
  if [ -n "$v1" ] && [ -d "$root/cpu" ]; then
    read_limit() {
      if [ -r "$1/cpu.cfs_quota_us" ] && [ -r "$1/cpu.cfs_period_us" ]; then
        read -r q <"$1/cpu.cfs_quota_us" && read -r p <"$1/cpu.cfs_period_us" && quota "$q" "$p"
      fi
      return 0
    }
    walk "$root/cpu" "$root/cpu$v1"
  fi
fi
echo "$jobs"
