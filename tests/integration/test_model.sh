#!/usr/bin/env bash
# `wattlens model info|synth|quantize` end to end: the must-show facts of
# stories260K, JSON keys, the tensor table, synth -> info -> quantize -> info,
# and clear failures (missing file, hostile file, bad options).
set -u
W="${WATTLENS:?}"
D="${WL_TESTDATA:?}"
S="${WL_SOURCE_DIR:?}"
# tmp, the exit trap and sanitizer reports; ok/bad are this file's (ok is quiet)
. "$(dirname "$0")/common.sh"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect_grep NAME FILE PATTERN: fixed-string match
expect_grep() { if grep -qF -- "$3" "$2"; then ok; else bad "$1: '$3' not in output:"; head -50 "$2"; fi; }

M="$D/models/stories260K.gguf"
if [ -f "$M" ]; then
  "$W" model info "$M" > "$tmp/info.txt" 2> "$tmp/info.err"; rc=$?
  [ $rc = 0 ] && ok || bad "info exit $rc"
  expect_grep info "$tmp/info.txt" "architecture      llama"
  expect_grep info "$tmp/info.txt" "layers            5"
  expect_grep info "$tmp/info.txt" "hidden size       64"
  expect_grep info "$tmp/info.txt" "FFN size          172"
  expect_grep info "$tmp/info.txt" "GQA (8 heads, 4 KV heads, head dim 8)"
  expect_grep info "$tmp/info.txt" "vocab size        512"
  expect_grep info "$tmp/info.txt" "precision         all F32"
  expect_grep info "$tmp/info.txt" "parameters        292800"
  [ -s "$tmp/info.err" ] && bad "info wrote to stderr: $(cat "$tmp/info.err")" || ok

  "$W" model info "$M" --json > "$tmp/info.json"; rc=$?
  [ $rc = 0 ] && ok || bad "info --json exit $rc"
  for kv in '"architecture": "llama"' '"n_layers": 5' '"n_heads": 8' '"n_kv_heads": 4' \
            '"vocab_size": 512' '"attention": "GQA"' '"n_params": 292800' \
            '"hidden_size": 64' '"intermediate_size": 172' '"precision": "all F32"' \
            '"kv_bytes_per_token": 640'; do
    expect_grep json "$tmp/info.json" "$kv"
  done
  "$W" model info "$M" --tensors > "$tmp/t.txt"
  n=$(grep -c '^blk\.\|^token_embd\|^output' "$tmp/t.txt")
  [ "$n" = 48 ] && ok || bad "--tensors listed $n tensors, expected 48"
  expect_grep tensors "$tmp/t.txt" "blk.0.attn_k.weight                  F32    64 x 32"
  "$W" model info "$M" --tensors --json > "$tmp/t.json"
  expect_grep tensors-json "$tmp/t.json" '"name": "blk.4.ffn_down.weight"'

  "$W" model info "$M" --metadata > "$tmp/m.txt"
  expect_grep metadata "$tmp/m.txt" "tokenizer.ggml.tokens                        ARRAY    [STRING x 512]"
  expect_grep metadata "$tmp/m.txt" "llama.attention.head_count_kv                UINT32   4"
  "$W" model info "$M" --metadata --json > "$tmp/m.json"
  expect_grep metadata-json "$tmp/m.json" '"llama.block_count": 5'
  expect_grep metadata-json "$tmp/m.json" '"general.architecture": "llama"'

  # quantize the real model, then read it back
  "$W" model quantize "$M" "$tmp/q8.gguf" --type q8_0 > "$tmp/q.txt"; rc=$?
  [ $rc = 0 ] && ok || bad "quantize exit $rc"
  expect_grep quantize "$tmp/q.txt" "32 of 37 weight matrices in Q8_0, 5 in the fallback F16 because their rows (172 values)"
  "$W" model info "$tmp/q8.gguf" --json > "$tmp/q.json"
  expect_grep q-json "$tmp/q.json" '"n_params": 292800'
  expect_grep q-json "$tmp/q.json" '"Q8_0": {'
else
  echo "skip: $M not found"
fi

# synth with a byte-level vocabulary, deterministic
"$W" model synth --layers 2 --dim 256 --ffn 512 --heads 8 --kv-heads 1 --vocab 400 \
  --type q4_k --seed 3 -o "$tmp/s1.gguf" > "$tmp/s.txt"; rc=$?
[ $rc = 0 ] && ok || bad "synth exit $rc"
"$W" model synth --layers 2 --dim 256 --ffn 512 --heads 8 --kv-heads 1 --vocab 400 \
  --type q4_k --seed 3 -o "$tmp/s2.gguf" > /dev/null
cmp -s "$tmp/s1.gguf" "$tmp/s2.gguf" && ok || bad "synth is not deterministic"
"$W" model info "$tmp/s1.gguf" --json > "$tmp/s.json"
for kv in '"n_layers": 2' '"attention": "MQA"' '"vocab_size": 400' '"Q4_K": {' '"n_kv_heads": 1'; do
  expect_grep synth-json "$tmp/s.json" "$kv"
done
if [ -f "$D/vocab/ggml-vocab-llama-spm.gguf" ]; then
  "$W" model synth --vocab-from "$D/vocab/ggml-vocab-llama-spm.gguf" --layers 1 --dim 32 \
    --ffn 64 --heads 4 -o "$tmp/v.gguf" > /dev/null && ok || bad "synth --vocab-from"
  "$W" model info "$tmp/v.gguf" --json > "$tmp/v.json"
  expect_grep vocab-from "$tmp/v.json" '"vocab_size": 32000'
  expect_grep vocab-from "$tmp/v.json" '"attention": "MHA"'
fi
# a copied vocabulary tokenizes as its source, whatever --arch: general.name
# (the Phi-3 rules key on it) is the source's, never the synth description
for pair in "phi-3:llama:<|user|> Hi<|end|> there" "phi-3:phi3:<|user|> Hi<|end|> there" \
  "llama-spm:phi3:Hi</s> there <s> x" "llama-spm:llama:Hi</s> there <s> x"; do
  voc=${pair%%:*} rest=${pair#*:} arch=${rest%%:*} text=${rest#*:}
  have_data "$D/vocab/ggml-vocab-$voc.gguf" "vocab $voc" || continue
  "$W" model synth --arch "$arch" --vocab-from "$D/vocab/ggml-vocab-$voc.gguf" --layers 1 \
    --dim 64 --heads 8 -o "$tmp/vt.gguf" > /dev/null 2> "$tmp/e"; rc=$?
  [ $rc = 0 ] || bad "synth --arch $arch --vocab-from $voc exit $rc: $(cat "$tmp/e")"
  want=$("$W" tokenize -m "$D/vocab/ggml-vocab-$voc.gguf" -p "$text" --special --ids)
  got=$("$W" tokenize -m "$tmp/vt.gguf" -p "$text" --special --ids)
  [ -n "$want" ] && [ "$got" = "$want" ] && ok \
    || bad "synth --arch $arch --vocab-from $voc tokenizes '$text' as [$got], its source as [$want]"
done
# the generated vocabulary tokenizes the same for every family
for arch in llama phi3; do
  "$W" model synth --arch "$arch" --layers 1 --dim 64 --heads 8 --vocab 300 \
    -o "$tmp/vb-$arch.gguf" > /dev/null || bad "synth --arch $arch --vocab 300"
done
want=$("$W" tokenize -m "$tmp/vb-llama.gguf" -p "a</s> b" --special --ids)
got=$("$W" tokenize -m "$tmp/vb-phi3.gguf" -p "a</s> b" --special --ids)
[ -n "$want" ] && [ "$got" = "$want" ] && ok \
  || bad "the generated vocabulary: phi3 gives [$got], llama [$want]"

# failures say what and where
"$W" model info "$tmp/missing.gguf" > /dev/null 2> "$tmp/e1"; rc=$?
[ $rc = 1 ] && ok || bad "missing file exit $rc"
expect_grep missing "$tmp/e1" "missing.gguf"
"$W" model info "$S/tests/fuzz/corpus/fuzz_gguf/hostile-huge-array-count.gguf" > /dev/null 2> "$tmp/e2"; rc=$?
[ $rc = 1 ] && ok || bad "hostile file exit $rc"
expect_grep hostile "$tmp/e2" "at byte 37 claims"
"$W" model info --bogus x > /dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok || bad "bad option exit $rc"
"$W" model synth --heads 7 -o "$tmp/x.gguf" > /dev/null 2> "$tmp/e3"; rc=$?
[ $rc = 2 ] && ok || bad "synth bad shape exit $rc"
expect_grep synth-shape "$tmp/e3" "not a multiple of 7 heads"
[ ! -e "$tmp/x.gguf" ] && ok || bad "failed synth left a file"
"$W" model quantize "$tmp/s1.gguf" "$tmp/y.gguf" --type q5_k > /dev/null 2> "$tmp/e4"; rc=$?
[ $rc = 2 ] && ok || bad "quantize to q5_k exit $rc"
expect_grep quant-type "$tmp/e4" "cannot write Q5_K weights"
# every error of a subcommand names it, as its option errors do (these said
# "wattlens model: 'model synth' needs -o OUT.gguf")
# expect_sub_usage NAME WANT-FIRST-LINE ARGS...: exit 2, stderr's first line WANT,
# then "Try 'wattlens model SUB --help'."
expect_sub_usage() {
  local name=$1 want=$2 sub=$4
  shift 2
  "$W" "$@" > /dev/null 2> "$tmp/eu"; rc=$?
  if [ $rc = 2 ] && [ "$(sed -n 1p "$tmp/eu")" = "$want" ] &&
    [ "$(sed -n 2p "$tmp/eu")" = "Try 'wattlens model $sub --help'." ]; then ok
  else bad "$name (rc $rc): $(cat "$tmp/eu")"; fi
}
expect_sub_usage "info without FILE" "wattlens model info: give exactly one FILE" model info
expect_sub_usage "info with two FILEs" "wattlens model info: give exactly one FILE" \
  model info "$tmp/s1.gguf" "$tmp/s2.gguf"
expect_sub_usage "synth without -o" "wattlens model synth: -o OUT.gguf is required" model synth
expect_sub_usage "synth bad shape" \
  "wattlens model synth: dim 64 is not a multiple of 7 heads" model synth --heads 7 -o "$tmp/x.gguf"
expect_sub_usage "quantize without OUT" "wattlens model quantize: give IN and OUT" \
  model quantize "$tmp/s1.gguf" --type q8_0
expect_sub_usage "quantize without --type" "wattlens model quantize: --type is required" \
  model quantize "$tmp/s1.gguf" "$tmp/y.gguf"
expect_sub_usage "quantize --type q5_k" \
  "wattlens model quantize: cannot write Q5_K weights (--type): use f32 f16 bf16 q8_0 q4_0 q4_k or q6_k" \
  model quantize "$tmp/s1.gguf" "$tmp/y.gguf" --type q5_k
"$W" model quantize "$tmp/missing.gguf" "$tmp/y.gguf" --type q8_0 > /dev/null 2> "$tmp/e5"; rc=$?
[ $rc = 1 ] && grep -q "^wattlens model quantize: .*missing.gguf" "$tmp/e5" && ok \
  || bad "quantize a missing file (rc $rc): $(cat "$tmp/e5")"
"$W" model --help > "$tmp/h.txt"; rc=$?
[ $rc = 0 ] && ok || bad "help exit $rc"
expect_grep help "$tmp/h.txt" "Examples:"
# each subcommand has its own page, which help model SUB shows too (old: all
# four were one page); model --help lists the subcommands
for sub in info synth quantize; do
  "$W" model $sub --help > "$tmp/h_$sub.txt"; rc=$?
  "$W" help model $sub > "$tmp/hh_$sub.txt" 2>&1
  if [ $rc = 0 ] && grep -q "^Usage: wattlens model $sub " "$tmp/h_$sub.txt" \
     && [ "$(grep -c '^Usage:\|^       wattlens' "$tmp/h_$sub.txt")" = 1 ] \
     && grep -q "^Examples:" "$tmp/h_$sub.txt" && cmp -s "$tmp/h_$sub.txt" "$tmp/hh_$sub.txt" \
     && ! cmp -s "$tmp/h_$sub.txt" "$tmp/h.txt"; then ok
  else bad "model $sub --help (rc $rc): $(head -3 "$tmp/h_$sub.txt")"; fi
  examples=$(grep '^  wattlens model ' "$tmp/h_$sub.txt" | grep -vc "^  wattlens model $sub ")
  [ "$examples" = 0 ] && ok || bad "model $sub --help shows another subcommand's example"
  grep -q "^  $sub  " "$tmp/h.txt" && ok || bad "model --help does not list $sub"
done
grep -q -- "--metadata" "$tmp/h_info.txt" && ! grep -q -- "--metadata" "$tmp/h_synth.txt" \
  && grep -q -- "--arch A" "$tmp/h_synth.txt" && ! grep -q -- "--arch" "$tmp/h_quantize.txt" \
  && grep -q -- "--threads" "$tmp/h_quantize.txt" && ! grep -q -- "--threads" "$tmp/h_info.txt" \
  && ok || bad "the subcommands' pages hold other subcommands' options"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
