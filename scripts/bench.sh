#!/usr/bin/env bash
# Runs every benchmark in the build directory and prints its figures. A bench
# that fails (some exit 1 by design, e.g. bench_sampling when a draw differs
# from the reference) does not stop the others: each failure is said where it
# happens and again at the end, and the exit status is then 1.
set -uo pipefail
# A build without benches (WL_BUILD_BENCH=OFF) is a failure too: `make
# bench` must not pass having measured nothing.
build=${1:-build}
failed=()
ran=0
for b in "$build"/bench_*; do
  [ -f "$b" ] && [ -x "$b" ] || continue
  ran=$((ran + 1))
  name=$(basename "$b")
  echo "== $name"
  "$b"
  rc=$?
  if [ $rc != 0 ]; then
    echo "== $name failed (exit $rc)"
    failed+=("$name (exit $rc)")
  fi
done
if [ $ran = 0 ]; then
  echo "== no bench_* programs in $build: nothing measured (configured with WL_BUILD_BENCH=OFF?)" >&2
  exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "== ${#failed[@]} bench(es) failed: ${failed[*]}" >&2
  exit 1
fi
