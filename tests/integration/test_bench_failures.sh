#!/usr/bin/env bash
# A bench whose measuring fails says why on stderr and exits 1, and leaves
# nothing behind in TMPDIR; each case fails early or on a tiny model:
# - bench_profile on stories260K with the store's writes failing (file size
#   limit 0): the recorder's configurations cannot open their store; each
#   failure names its step and the store's error, exit 1 (it printed
#   "generation failed" on stdout, dropped the reason and exited 0);
# - bench_tokenizer with a vocabulary that is there and does not load:
#   exit 1 before measuring anything (it was "skipped", exit 0);
# - bench_store with its database's writes failing (2 MiB file size limit),
#   and bench_sampler with its fake tree's (limit 0): exit 1, and their
#   temporary directory is removed (only the success path removed it).
# The limits are set with SIGXFSZ ignored (a write past it fails with EFBIG);
# output goes through a pipe, which the limit does not cover.
# Skips (and says so) what the build or the test data lacks.
set -u
B=${WL_BINARY_DIR:?}
T=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"

# limited BLOCKS CMD...: CMD under a file size limit of BLOCKS (512 bytes);
# stdout in $tmp/out, stderr in $tmp/err, exit status in rc
limited() {
  local blocks=$1
  shift
  rc=$( (
    trap '' XFSZ
    ulimit -f "$blocks"
    "$@" 2>&1 1>&3 | sed 's/^/E /'
    echo "rc ${PIPESTATUS[0]}"
  ) 3>&1 | tee "$tmp/all" | sed -n 's/^rc //p')
  grep -v '^rc \|^E ' "$tmp/all" >"$tmp/out"
  sed -n 's/^E //p' "$tmp/all" >"$tmp/err"
}

if [ ! -x "$B/bench_profile" ]; then
  echo "SKIP: bench_profile absent (not built)"
elif have_data "$T/models/stories260K.gguf" "bench_profile with a failing store"; then
  mkdir "$tmp/pt"
  limited 0 env TMPDIR="$tmp/pt" WL_BENCH_BIG=0 WL_BENCH_WALL=0 WL_BENCH_REPS=1 \
    timeout 120 "$B/bench_profile"
  n_store=$(grep -c "^bench_profile: stories260K: .*: opening the store .*bench.db: ." "$tmp/err")
  if [ "$rc" = 1 ] && [ "$n_store" -ge 4 ] \
    && grep -q "stories260K: .* generation(s) failed" "$tmp/err" \
    && grep -q "a model asked for was not measured" "$tmp/err" && [ -z "$(ls -A "$tmp/pt")" ]; then
    ok "bench_profile, store writes failing: each failure's step and reason said, exit 1"
  else
    bad "bench_profile, store writes failing (rc $rc, $n_store store errors): $(cat "$tmp/out" "$tmp/err") $(ls -A "$tmp/pt")"
  fi
fi

if [ -x "$B/bench_tokenizer" ]; then
  mkdir "$tmp/vocab"
  echo "not a gguf" >"$tmp/vocab/ggml-vocab-gpt-2.gguf"
  WL_BENCH_VOCAB_DIR="$tmp/vocab" timeout 300 "$B/bench_tokenizer" >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 1 ] && grep -qF "bench_tokenizer: $tmp/vocab/ggml-vocab-gpt-2.gguf: cannot load it: " "$tmp/err" \
    && ! grep -q "MB/s" "$tmp/out"; then
    ok "bench_tokenizer, a vocabulary that does not load: said, exit 1, nothing measured"
  else
    bad "bench_tokenizer, a vocabulary that does not load (rc $rc): $(head -5 "$tmp/out") $(cat "$tmp/err")"
  fi
else
  echo "SKIP: bench_tokenizer absent (not built)"
fi

if [ -x "$B/bench_store" ]; then
  mkdir "$tmp/st"
  limited 4096 env TMPDIR="$tmp/st" timeout 120 "$B/bench_store"
  if [ "$rc" = 1 ] && grep -q "^bench_store: " "$tmp/err" && [ -z "$(ls -A "$tmp/st")" ]; then
    ok "bench_store, database writes failing: said, exit 1, its directory removed"
  else
    bad "bench_store, database writes failing (rc $rc): $(cat "$tmp/out" "$tmp/err"); left: $(ls -AR "$tmp/st")"
  fi
else
  echo "SKIP: bench_store absent (not built)"
fi

if [ -x "$B/bench_sampler" ]; then
  mkdir "$tmp/sa"
  limited 0 env TMPDIR="$tmp/sa" timeout 60 "$B/bench_sampler" 0.05
  if [ "$rc" = 1 ] && grep -q "^bench_sampler: " "$tmp/err" && [ -z "$(ls -A "$tmp/sa")" ]; then
    ok "bench_sampler, fake tree writes failing: said, exit 1, its directory removed"
  else
    bad "bench_sampler, fake tree writes failing (rc $rc): $(cat "$tmp/out" "$tmp/err"); left: $(ls -AR "$tmp/sa")"
  fi
else
  echo "SKIP: bench_sampler absent (not built)"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
