#!/usr/bin/env bash
# The benchmark binaries' command lines (none is run as a benchmark here):
# - -h / --help prints "usage: NAME ..." on stdout and exits 0 at once;
# - an argument a bench does not take is an error on stderr, exit 2, again
#   without running it (each call is under a 20 s timeout: a bench that
#   started measuring instead would fail this test, not hang it).
# Skips (and says so) when the build has no benches (WL_BUILD_BENCH=OFF).
set -u
B=${WL_BINARY_DIR:?}
. "$(dirname "$0")/common.sh"

found=0
for b in "$B"/bench_*; do
  [ -x "$b" ] && [ -f "$b" ] || continue
  found=1
  name=$(basename "$b")
  for h in -h --help; do
    timeout 20 "$b" "$h" >"$tmp/out" 2>"$tmp/err"; rc=$?
    if [ $rc = 0 ] && head -1 "$tmp/out" | grep -q "^usage: $name" && [ ! -s "$tmp/err" ]; then
      ok "$name $h"
    else
      bad "$name $h: exit $rc, $(head -3 "$tmp/out" "$tmp/err")"
    fi
  done
  timeout 20 "$b" --no-such-option >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] && grep -q "no-such-option" "$tmp/err" && grep -q "^usage: $name" "$tmp/err" \
    && [ ! -s "$tmp/out" ]; then
    ok "$name rejects an unknown option"
  else
    bad "$name --no-such-option: exit $rc, $(head -3 "$tmp/out" "$tmp/err")"
  fi
done
if [ $found = 0 ]; then
  echo "SKIP: no bench_* binaries in $B (built with WL_BUILD_BENCH=OFF?)"
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
