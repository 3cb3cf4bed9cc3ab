#!/usr/bin/env bash
# The default thread count is the CPUs wattlens may run on, not the online
# CPUs: under `taskset -c CPU` generate reports 1 thread, and without it as
# many as the affinity mask allows (not nproc, which OMP_NUM_THREADS and
# OMP_THREAD_LIMIT change and wattlens does not read). Skipped without taskset
# (util-linux) or with a single online CPU, where there is nothing to narrow.
set -u
W=${WATTLENS:?}
: "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
M="$WL_TESTDATA/models/stories260K.gguf"
[ -f "$M" ] || skip_no_data "$M"
if ! command -v taskset >/dev/null 2>&1; then
  echo "SKIP: no taskset (util-linux) to narrow the CPUs"
  exit 77
fi
if [ "$(getconf _NPROCESSORS_ONLN)" -lt 2 ]; then
  echo "SKIP: one online CPU: the default cannot be told from the online count"
  exit 77
fi

# threads_of ARGS...: the thread count generate's summary reports
threads_of() {
  "$@" "$W" generate -m "$M" -p Once -n 2 --temp 0 >/dev/null 2>"$tmp/err" || return 1
  sed -n 's/.*, \([0-9][0-9]*\) threads\{0,1\}$/\1/p' "$tmp/err" | tail -n 1
}
# the first CPU this shell may run on (0 unless a cpuset excludes it)
cpu=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*\([0-9][0-9]*\).*/\1/p' /proc/self/status 2>/dev/null)
cpu=${cpu:-0}
one=$(threads_of taskset -c "$cpu")
[ "$one" = 1 ] && ok "taskset -c $cpu: 1 thread" || bad "taskset -c $cpu: '$one' threads: $(cat "$tmp/err")"
want=$(python3 -c 'import os; print(len(os.sched_getaffinity(0)))')
[ "$want" -gt 256 ] && want=256
all=$(threads_of env)
[ "$all" = "$want" ] && ok "no taskset: $all threads, the CPUs allowed" \
  || bad "no taskset: '$all' threads, $want CPUs allowed"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
