#!/usr/bin/env bash
# Runs every benchmark in the build directory and prints its figures.
set -euo pipefail
build=${1:-build}
for b in "$build"/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b"
done
