#!/usr/bin/env bash
# `model synth --json` and `model quantize --json` print their 'wrote' line as
# JSON (old: "unknown option '--json'"); `help model SUB` is `model SUB
# --help` (old: "help takes one command"); `model info` of a file without
# tensors has no bits per weight: n/a, JSON null (old: 0.00 and 0.0).
set -u
W=${WATTLENS:?}
D=${WL_TESTDATA:?}
. "$(dirname "$0")/common.sh"
cd "$tmp" || exit 1

# synth --json: the shape, the matrices by type and why some fell back
"$W" model synth --layers 1 --dim 32 --ffn 64 --heads 4 --vocab 300 --type q4_k --seed 3 \
  -o s.gguf --json >s.json 2>s.err; rc=$?
if [ $rc = 0 ] && [ -s s.gguf ] && python3 - s.json <<'PY'; then ok "synth --json"; else bad "synth --json (rc $rc): $(cat s.json s.err)"; fi
import json, sys
j = json.load(open(sys.argv[1]))
assert j["output"] == "s.gguf", j
assert j["type"] == "Q4_K" and j["architecture"] == "llama", j
assert j["layers"] == 1 and j["dim"] == 32 and j["ffn"] == 64 and j["seed"] == 3, j
assert j["heads"] == 4 and j["kv_heads"] == 4, j
n = j["weight_matrices"]
assert n > 0 and sum(j["matrices_by_type"].values()) == n, j
assert j["matrices_by_type"]["Q4_K"] == 0, j
fb = j["fallback"]
assert fb["block_values"] == 256 and fb["row_min"] <= fb["row_max"], j
assert "not a multiple of Q4_K's 256-value blocks" in fb["reason"], j
assert j["bytes_in"] is None and j["bytes_out"] > 0, j
PY
# quantize --json of it: input, its architecture, every matrix in F16, no fallback
"$W" model quantize s.gguf q.gguf --type f16 -t 1 --json >q.json 2>q.err; rc=$?
if [ $rc = 0 ] && [ -s q.gguf ] && python3 - q.json <<'PY'; then ok "quantize --json"; else bad "quantize --json (rc $rc): $(cat q.json q.err)"; fi
import json, sys
j = json.load(open(sys.argv[1]))
assert j["input"] == "s.gguf" and j["output"] == "q.gguf", j
assert j["type"] == "F16" and j["architecture"] == "llama", j
assert j["matrices_by_type"] == {"F16": j["weight_matrices"]}, j
assert j["fallback"] is None, j
assert j["other_tensors"] >= 0 and j["bytes_in"] > 0 and j["bytes_out"] > 0, j
PY
# the text line is not printed with --json
grep -q "^wrote" q.json s.json && bad "--json also printed the 'wrote' line" || ok "no 'wrote' line with --json"
# the model on stdout leaves no room for the JSON
"$W" model synth --layers 1 --dim 32 --ffn 64 --heads 4 --vocab 300 -o - --json >out 2>err; rc=$?
[ $rc = 2 ] && grep -q "^wattlens model synth: --json prints to stdout" err && [ ! -s out ] \
  && ok "synth -o - --json refused" || bad "synth -o - --json (rc $rc): $(cat err)"

# help model SUB
"$W" help model synth >h1 2>h1.err; rc=$?
"$W" model synth --help >h2
[ $rc = 0 ] && [ -s h1 ] && cmp -s h1 h2 && ok "help model synth" || bad "help model synth (rc $rc): $(cat h1.err)"
"$W" help model quantize >h1 2>&1; rc=$?
[ $rc = 0 ] && grep -q "^Usage: wattlens model" h1 && ok "help model quantize" || bad "help model quantize (rc $rc): $(cat h1)"
"$W" help model bogus >/dev/null 2>err; rc=$?
[ $rc = 2 ] && grep -q "unknown subcommand 'bogus'" err && ok "help model bogus: exit 2" || bad "help model bogus (rc $rc): $(cat err)"
"$W" help model synth extra >/dev/null 2>err; rc=$?
[ $rc = 2 ] && grep -q "unexpected argument 'extra'" err && ok "help model synth extra: exit 2" \
  || bad "help model synth extra (rc $rc): $(cat err)"
"$W" help runs extra >/dev/null 2>err; rc=$?
[ $rc = 2 ] && grep -q "help takes one command: unexpected argument 'extra'" err \
  && ok "help runs extra: exit 2" || bad "help runs extra (rc $rc): $(cat err)"

# a file without tensors: bits per weight is not known
V="$D/vocab/ggml-vocab-gpt-2.gguf"
if have_data "$V" "the gpt-2 vocabulary"; then
  "$W" model info "$V" >i.txt 2>/dev/null
  grep -q "^tensor data       0 bytes in 0 tensors, n/a bits per weight$" i.txt \
    && ok "info: n/a bits per weight" || bad "info: $(grep 'tensor data' i.txt)"
  "$W" model info "$V" --json >i.json 2>/dev/null
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["n_tensors"] == 0 and j["bits_per_weight"] is None, j' i.json \
    && ok "info --json: bits_per_weight null" || bad "info --json: $(grep bits i.json)"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
