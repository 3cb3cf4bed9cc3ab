#!/usr/bin/env bash
# The context `generate` and `run` size for themselves (cli/cli_context.c):
# - without -c it holds the prompt's TOKENS + N (a byte-level vocabulary
#   spends up to 4 tokens on one byte: "A B C D E" is 21 tokens), so -n N
#   gives N tokens, also per sequence of --batch and in `run`; a prompt longer
#   than the training context is a clear error;
# - a prompt that fills the context exactly still gives one token: a model
#   trained for 1 position generates 1 token; counts of 1 are singular;
# - phi3 LongRoPE chooses its factors for the training context without -c,
#   so greedy text for -n 20 is a prefix of that for -n 100; with -c a note
#   says when the long factors are used;
# - -c above the training context is run, with a warning and what the
#   context costs.
set -u
W=${WATTLENS:?}
. "$(dirname "$0")/common.sh"

"$W" model synth -o "$tmp/llama.gguf" >/dev/null 2>&1 || { bad "model synth"; echo "$pass passed, $fail failed"; exit 1; }

# --- tokens, not bytes --------------------------------------------------------------
"$W" generate -m "$tmp/llama.gguf" -p "Hello World" -n 64 --temp 0 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "17 prompt tokens, 64 generated (stop: token limit)" "$tmp/err"; then
  ok "generate: 11 bytes of prompt (17 tokens) + 64 tokens"
else bad "generate -n 64 (rc $rc)"; cat "$tmp/err"; fi
"$W" generate -m "$tmp/llama.gguf" -p "A B C D E" -n 10 --temp 0 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "21 prompt tokens, 10 generated (stop: token limit)" "$tmp/err"; then
  ok "generate: a prompt of more tokens than bytes fits"
else bad "generate 'A B C D E' (rc $rc)"; cat "$tmp/err"; fi
"$W" generate -m "$tmp/llama.gguf" --batch 2 -p "A B C D E" -p "Hi" -n 10 --temp 0 >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && [ "$(grep -c "10 generated, stop: token limit" "$tmp/out")" = 2 ]; then
  ok "generate --batch: every sequence gets its N tokens"
else bad "generate --batch (rc $rc)"; cat "$tmp/out" "$tmp/err"; fi
# -c keeps its meaning: exactly that many positions
"$W" generate -m "$tmp/llama.gguf" -p "A B C D E" -n 10 -c 25 --temp 0 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "5 generated (stop: context full)" "$tmp/err" && grep -q "the context (25 positions) is full" "$tmp/err"; then
  ok "-c 25: 21 prompt tokens leave room for 5"
else bad "-c 25 (rc $rc)"; cat "$tmp/err"; fi
# run, on the built-in model (a byte-level vocabulary too)
export XDG_CACHE_HOME=${WL_BINARY_DIR:-$tmp}/model-cache
"$W" -q run -p "Hellz" -n 10 --baseline 0 --settle 0 --db "$tmp/r.db" --json >"$tmp/run.json" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && python3 -c "
import json,sys; d=json.load(open('$tmp/run.json'))['summary']
assert d['run']['status'] == 'complete', d['run']['status']
assert len(d['output_tokens']) == 10, len(d['output_tokens'])" 2>"$tmp/py"; then
  ok "run: 10 tokens for -n 10"
else bad "run -n 10 (rc $rc)"; cat "$tmp/err" "$tmp/py"; fi
"$W" -q run -p "A B C D E" -n 10 --baseline 0 --settle 0 --db "$tmp/r.db" >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ]; then ok "run: a prompt of more tokens than bytes fits"; else bad "run 'A B C D E' (rc $rc)"; cat "$tmp/err"; fi

# --- the training context bounds the default ----------------------------------------
"$W" model synth --context 16 -o "$tmp/c16.gguf" >/dev/null 2>&1
"$W" generate -m "$tmp/c16.gguf" -p "Hello World" -n 5 --temp 0 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "the prompt (17 tokens) is longer than the model's training context (16 positions); -c N" "$tmp/err"; then
  ok "a prompt longer than the training context: clear error"
else bad "prompt > training context (rc $rc)"; cat "$tmp/err"; fi
"$W" generate -m "$tmp/c16.gguf" -p "Hello" -n 50 --temp 0 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "9 prompt tokens, 8 generated (stop: context full)" "$tmp/err" && grep -q "(16 positions) is full" "$tmp/err"; then
  ok "default context capped at the training context"
else bad "cap at training context (rc $rc)"; cat "$tmp/err"; fi

# --- a context of one position ------------------------------------------------------
"$W" model synth --context 1 -o "$tmp/c1.gguf" >/dev/null 2>&1
"$W" generate -m "$tmp/c1.gguf" -n 1 --temp 0 >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "1 prompt token, 1 generated (stop: token limit)" "$tmp/err" && [ -s "$tmp/out" ]; then
  ok "context length 1: one token"
else bad "context 1 (rc $rc)"; cat "$tmp/err"; fi
"$W" generate -m "$tmp/c1.gguf" -n 3 --temp 0 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "1 generated (stop: context full)" "$tmp/err" && grep -q "the context (1 position) is full" "$tmp/err"; then
  ok "context length 1, -n 3: one token, then context full (singular)"
else bad "context 1 -n 3 (rc $rc)"; cat "$tmp/err"; fi
"$W" generate -m "$tmp/llama.gguf" -c 1 -p "Hi" -n 1 --temp 0 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "the prompt (6 tokens) does not fit in the context (1 position): use -c 6 or more$" "$tmp/err"; then
  ok "-c 1 with a longer prompt: clear error (singular)"
else bad "-c 1 longer prompt (rc $rc)"; cat "$tmp/err"; fi
"$W" generate -m "$tmp/llama.gguf" --batch 2 -n 2 --temp 0 >"$tmp/out" 2>/dev/null
if grep -q "^--- sequence 0 (1 prompt token, 2 generated" "$tmp/out"; then ok "--batch: '1 prompt token'"; else bad "--batch wording"; cat "$tmp/out"; fi

# --- phi3 LongRoPE: the text does not depend on -n ------------------------------------
"$W" model synth --arch phi3 --context 2048 --dim 128 --heads 4 --ffn 256 -o "$tmp/phi3.gguf" >/dev/null 2>&1
"$W" generate -m "$tmp/phi3.gguf" -p Hello -n 20 --temp 0 >"$tmp/p20" 2>/dev/null
"$W" generate -m "$tmp/phi3.gguf" -p Hello -n 100 --temp 0 >"$tmp/p100" 2>/dev/null
# the -n 20 text may end in an incomplete character, flushed as U+FFFD
python3 - "$tmp/p20" "$tmp/p100" <<'PY' 2>"$tmp/py"; rc=$?
import sys
a = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
if a.endswith(b"\xef\xbf\xbd"):
    a = a[:-3]
assert len(a) > 0 and b.startswith(a), (a[:16], b[:16])
PY
if [ $rc = 0 ]; then ok "phi3: greedy -n 20 is a prefix of -n 100"; else bad "phi3 -n 20 vs -n 100"; cat "$tmp/py"; fi
"$W" generate -m "$tmp/phi3.gguf" -p Hello -n 5 -c 200 --temp 0 >/dev/null 2>"$tmp/err"
"$W" generate -m "$tmp/phi3.gguf" -p Hello -n 5 -c 60 --temp 0 >/dev/null 2>"$tmp/err2"
if grep -q "note: -c 200 is above the model's original context (64 positions), so the model uses its long RoPE factors" "$tmp/err" \
  && ! grep -q "RoPE" "$tmp/err2"; then
  ok "phi3: -c says when the long factors are used"
else bad "phi3 -c note"; cat "$tmp/err" "$tmp/err2"; fi

# --- -c above the training context ----------------------------------------------------
"$W" generate -m "$tmp/c16.gguf" -n 5 -c 500 --temp 0 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && grep -q "warning: -c 500 is more than the model's training context (16 positions)" "$tmp/err" \
  && grep -Eq "the context takes [0-9.]+ (KiB|MiB|GiB) \(KV cache [0-9.]+ (KiB|MiB|GiB)\)" "$tmp/err"; then
  ok "-c above the training context: warning and cost"
else bad "-c 500 on a 16-position model (rc $rc)"; cat "$tmp/err"; fi
# (the exit status too: a crash prints nothing to err and would pass)
"$W" generate -m "$tmp/c16.gguf" -n 5 -c 16 --temp 0 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && ! grep -q "warning" "$tmp/err"; then ok "-c at the training context: no warning"; else bad "-c 16 warned (rc $rc)"; cat "$tmp/err"; fi
"$W" -q generate -m "$tmp/c16.gguf" -n 5 -c 500 --temp 0 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/err" ]; then ok "-q: no warning"; else bad "-q printed (rc $rc)"; cat "$tmp/err"; fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
