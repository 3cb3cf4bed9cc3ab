#!/usr/bin/env bash
# What the benchmarks print, on settings small enough for a test (none of
# them is run at its real size, and no figure is checked: the machine is
# shared and noisy; only what a figure means, and how it is labelled):
# - bench_profile (stories260K only, one repetition, no wall-clock pass)
#   gives CPU time per decode step, with the one-token generation
#   (tokenizing, prefill, first token) taken off, for all six depths.
# Skips (and says so) what the build or the test data lacks.
set -u
B=${WL_BINARY_DIR:?}
T=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"

# --- bench_profile: CPU per decode step, not per generated token -------------------------
if [ -x "$B/bench_profile" ] && [ -f "$T/models/stories260K.gguf" ]; then
  WL_BENCH_BIG=0 WL_BENCH_WALL=0 WL_BENCH_REPS=1 timeout 120 "$B/bench_profile" >"$tmp/prof" 2>"$tmp/err"
  rc=$?
  # the table's six rows: a depth, then engine and process us/step as numbers
  rows=$(grep -cE '^  (no recorder|off|module|deep|deep\+activations|deep, empty hook) +[0-9]+\.[0-9] ' "$tmp/prof")
  if [ $rc = 0 ] && grep -q "CPU time per decode step" "$tmp/prof" \
    && grep -qF "(cpu(128 tokens) - cpu(1 token)) / 127 decode steps" "$tmp/prof" \
    && grep -q "engine us/step .* process us/step" "$tmp/prof" && [ "$rows" -ge 1 ]; then
    ok "bench_profile: CPU per decode step, the one-token generation taken off ($rows of 6 rows positive)"
  else
    bad "bench_profile (rc $rc): $(cat "$tmp/prof" "$tmp/err")"
  fi
else
  echo "SKIP: bench_profile or stories260K absent"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
